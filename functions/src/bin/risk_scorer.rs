#![recursion_limit = "256"]
//! Scheduled risk scorer: the lake → a published risk snapshot.

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::config::Config;
use pipeline::lake::Lake;
use pipeline::risk::Policy;
use pipeline::telemetry::MetricsSink;
use queries::score::{Held, ScoreParams};
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config: &'static Config = Box::leak(Box::new(Config::from_env(None)?));
    let lake: &'static Lake = Box::leak(Box::new(Lake::open(&config.lake_location())?));
    // The policy's [scoring] section: the same file the pre-auth trigger reads.
    let policy: &'static Policy = Box::leak(Box::new(functions::setup::policy(config)?.policy));
    let metrics: &'static MetricsSink = Box::leak(Box::new(MetricsSink::Emf {
        namespace: config.metrics.namespace.clone(),
        out: functions::setup::trigger_metrics(config),
    }));
    // Profiles and the day's settled sign-ins, kept while the container stays warm.
    let held: &'static Mutex<Held> = Box::leak(Box::new(Mutex::new(Held::default())));
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let run = functions::risk_scorer::handle(
            lake,
            &config.snapshot_location(),
            &ScoreParams::for_policy(chrono::Utc::now(), policy),
            &mut *held.lock().await,
            metrics,
        )
        .await?;
        Ok::<_, lambda_runtime::Error>(serde_json::json!({
            "events_in": run.report.rows_in, "users": run.report.users, "ips": run.report.ips,
            "seconds": run.report.seconds, "snapshot": run.published,
        }))
    }))
    .await
}
