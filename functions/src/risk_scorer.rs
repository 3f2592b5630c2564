//! The risk scorer as a Lambda function on a schedule (EventBridge): score
//! the lake, publish the snapshot where the pre-auth trigger reads it (S3,
//! object then pointer; or a shared file system such as EFS, mounted by both
//! functions, where rename is atomic), replace the lake's risk tables
//! (`risk/{user,ip,asn}_risk/latest.parquet`, for reports), and write one EMF
//! line with what it did.

use pipeline::lake::Lake;
use pipeline::metrics as m;
use pipeline::risk::location::{SnapshotLocation, publish_snapshot};
use pipeline::risk::snapshot::SnapshotData;
use pipeline::telemetry::{Metric, MetricsSink};
use queries::LakeSession;
use queries::score::{Held, ScoreParams, ScoreReport, score_held};

#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error(transparent)]
    Query(#[from] queries::QueryError),
    #[error(transparent)]
    Snapshot(#[from] pipeline::risk::location::LocationError),
}

/// What one run did and where the snapshot went.
#[derive(Debug, Clone)]
pub struct ScorerRun {
    pub report: ScoreReport,
    pub version: String,
    /// Where the snapshot is now (a path or an `s3://` URL).
    pub published: String,
    /// What it holds.
    pub data: SnapshotData,
}

/// Scores the lake and publishes the snapshot: what the trigger needs. A
/// replay runs this at every scoring time and writes the risk tables once,
/// at its end ([`write_risk_tables`]); `held` is what a process that keeps
/// running carries between runs (see [`score_held`]).
pub async fn score_and_publish(
    lake: &Lake,
    snapshots: &SnapshotLocation,
    params: &ScoreParams,
    held: &mut Held,
) -> Result<ScorerRun, ScorerError> {
    let started = std::time::Instant::now();
    let session = LakeSession::open(lake).await?;
    let version = params.now.format("%Y%m%dT%H%M%S%.6fZ").to_string();
    let (data, mut report) = score_held(&session, params, held, &version).await?;
    report.seconds = started.elapsed().as_secs_f64();
    let published = publish_snapshot(snapshots, &data).await?;
    Ok(ScorerRun { report, version, published, data })
}

/// The run as tables for reports (`risk/*/latest.parquet`). The snapshot is
/// published already: a failure here costs reports their latest scores, not
/// the trigger its snapshot, so it is logged, not fatal.
pub async fn write_risk_tables(lake: &Lake, data: &SnapshotData) {
    if let Err(e) = pipeline::lake::risk_tables::write(lake, data).await {
        tracing::error!(error = %e, "risk tables not written; reports show the previous run's scores");
    }
}

/// One scheduled run (and one `authtrail score`): the snapshot published,
/// the risk tables replaced and the run's metrics written.
pub async fn handle(
    lake: &Lake,
    snapshots: &SnapshotLocation,
    params: &ScoreParams,
    held: &mut Held,
    metrics: &MetricsSink,
) -> Result<ScorerRun, ScorerError> {
    let run = score_and_publish(lake, snapshots, params, held).await?;
    write_risk_tables(lake, &run.data).await;
    let (report, now) = (&run.report, params.now);
    metrics.record(
        m::component::RISK_SCORER,
        now.timestamp_millis(),
        &[
            Metric::count(&m::EVENTS_IN, report.rows_in.max(0) as u64),
            Metric::count(&m::USER_PROFILES, report.users as u64),
            Metric::count(&m::IPS_SCORED, report.ips as u64),
            Metric::count(&m::RISKY_IPS, report.risky_ips as u64),
            Metric::count(&m::RISKY_NETWORKS, report.risky_asns as u64),
            Metric::count(&m::RISKY_USERS, report.risky_users as u64),
            // 1 when the day was read whole: no held rows, or events that reached the lake late.
            Metric::count(&m::DAY_READ_WHOLE, u64::from(report.read_day_whole)),
            Metric::new(&m::SCORING_TIME, report.seconds),
        ],
    );
    tracing::info!(version = %run.version, at = %run.published, events = report.rows_in, users = report.users, ips = report.ips, "snapshot published");
    Ok(run)
}
