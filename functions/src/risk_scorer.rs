//! The risk scorer as a Lambda function on a schedule (EventBridge): score
//! the lake, publish the snapshot where the pre-auth trigger reads it (S3,
//! object then pointer; or a shared file system such as EFS, mounted by both
//! functions, where rename is atomic), and write one EMF line with what it did.

use pipeline::lake::Lake;
use pipeline::risk::location::{SnapshotLocation, publish_snapshot};
use pipeline::telemetry::{LineOut, Metric, emf_line};
use queries::LakeSession;
use queries::score::{ScoreParams, ScoreReport, score};

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
}

/// One scheduled run (and one `authtrail score`).
pub async fn handle(
    lake: &Lake,
    snapshots: &SnapshotLocation,
    params: &ScoreParams,
    metrics: &LineOut,
    namespace: &str,
) -> Result<ScorerRun, ScorerError> {
    let now = params.now;
    let session = LakeSession::open(lake).await?;
    let version = now.format("%Y%m%dT%H%M%S%.6fZ").to_string();
    let (data, report) = score(&session, params, &version).await?;
    let published = publish_snapshot(snapshots, &data).await?;
    metrics.write(emf_line(
        namespace,
        "risk-scorer",
        now.timestamp_millis(),
        &[
            Metric::count("EventsIn", report.rows_in.max(0) as u64),
            Metric::count("UserProfiles", report.users as u64),
            Metric::count("IpsScored", report.ips as u64),
            Metric::count("RiskyIps", report.risky_ips as u64),
            Metric::count("RiskyNetworks", report.risky_asns as u64),
            Metric::count("RiskyUsers", report.risky_users as u64),
            Metric::seconds("ScoringTime", report.seconds),
        ],
    ));
    tracing::info!(version = %version, at = %published, events = report.rows_in, users = report.users, ips = report.ips, "snapshot published");
    Ok(ScorerRun { report, version, published })
}
