//! `authtrail score`: the risk SQL over the lake → a published risk snapshot.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use pipeline::config::Config;
use pipeline::lake::Lake;
use queries::score::ScoreParams;

#[derive(clap::Args)]
pub struct Args {
    /// Score as of this time (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Lake location (`s3://bucket/prefix` or a directory); default from configuration.
    #[arg(long)]
    lake: Option<String>,
    /// Policy file whose `[scoring]` section sets the rules; default `risk.policy_file`.
    #[arg(long)]
    policy: Option<std::path::PathBuf>,
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let now = match &args.now {
        Some(t) => {
            chrono::DateTime::parse_from_rfc3339(t).with_context(|| format!("--now {t:?} is not RFC 3339"))?.to_utc()
        }
        None => chrono::Utc::now(),
    };
    let location = args.lake.unwrap_or_else(|| config.lake_location());
    let lake = Lake::open(&location)?;
    let policy = functions::setup::policy_with(&config, args.policy.as_deref())?.policy;
    let published = publish(&lake, &config, ScoreParams::for_policy(now, &policy)).await?;
    println!("published {published}");
    Ok(ExitCode::SUCCESS)
}

/// Scores the lake as of `params.now` and publishes the snapshot at the
/// configured location; prints what it did and returns where the snapshot now is.
pub async fn publish(lake: &Lake, config: &Config, params: ScoreParams) -> anyhow::Result<String> {
    // `metrics.sink` (default off here): `cloudwatch` for a scorer run on
    // a schedule outside Lambda.
    let metrics = functions::setup::metrics_sink(config, pipeline::config::MetricsSinkKind::Off).await;
    let run =
        functions::risk_scorer::handle(lake, &config.snapshot_location(), &params, &mut Default::default(), &metrics)
            .await;
    metrics.close(std::time::Duration::from_secs(5)).await;
    let run = run?;
    let r = &run.report;
    println!(
        "scorer: {} events in → {} users, {} IPs scored ({} risky), {} risky networks, {} risky users, {:.2} s; snapshot {}",
        r.rows_in, r.users, r.ips, r.risky_ips, r.risky_asns, r.risky_users, r.seconds, run.version
    );
    Ok(run.published)
}
