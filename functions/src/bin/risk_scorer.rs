#![recursion_limit = "256"]
//! Scheduled risk scorer: the lake → a published risk snapshot.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::config::Config;
use pipeline::lake::Lake;
use pipeline::risk::Policy;
use pipeline::telemetry::MetricsSink;
use queries::score::{Held, ScoreParams};
use tokio::sync::Mutex;

/// What a warm container keeps between scheduled runs.
struct Scorer {
    config: Config,
    lake: Lake,
    /// The policy's [scoring] section: the same file the pre-auth trigger reads.
    policy: Policy,
    metrics: MetricsSink,
    /// Profiles and the day's settled sign-ins.
    held: Mutex<Held>,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(None)?;
    let scorer = Arc::new(Scorer {
        lake: Lake::open(&config.lake_location())?,
        policy: functions::setup::policy(&config)?.policy,
        metrics: functions::setup::lambda_metrics(&config),
        held: Mutex::new(Held::default()),
        config,
    });
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let s = Arc::clone(&scorer);
        async move {
            let run = functions::risk_scorer::handle(
                &s.lake,
                &s.config.snapshot_location(),
                &ScoreParams::for_policy(chrono::Utc::now(), &s.policy),
                &mut *s.held.lock().await,
                &s.metrics,
            )
            .await?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "events_in": run.report.rows_in, "users": run.report.users, "ips": run.report.ips,
                "seconds": run.report.seconds, "snapshot": run.published,
            }))
        }
    }))
    .await
}
