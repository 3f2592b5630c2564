//! The Lambda side: what each thin `main` calls.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use pipeline::clock::SystemClock;
use pipeline::config::Config;
use pipeline::telemetry::LineOut;
use serde_json::value::RawValue;

use crate::handler::Trigger;
use crate::setup;

/// Configures from the environment, then serves `trigger` until Lambda stops us.
pub async fn run(trigger: Trigger) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(None)?;
    let metrics = setup::lambda_lines(&config);
    let handler = Arc::new(setup::handler(&config, trigger, SystemClock, metrics, LineOut::Stdout).await?);
    tracing::info!(function = trigger.function_name(), sink = %pipeline::stream::EventSink::describe(&handler.sink), "ready");
    // Pick up newly published risk snapshots without blocking a sign-in:
    // lookups only ever read the snapshot already mapped.
    if trigger == Trigger::PreAuth {
        let live = Arc::clone(&handler.risk);
        let every = std::time::Duration::from_secs(config.risk.refresh_secs.max(1));
        tokio::spawn(async move {
            loop {
                // Until a snapshot is loaded (a cold start that ran out of
                // time, say), try again soon rather than a full period later.
                let wait = if live.snapshot().is_some() { every } else { every.min(std::time::Duration::from_secs(2)) };
                tokio::time::sleep(wait).await;
                live.refresh().await;
            }
        });
    }
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Box<RawValue>>| {
        let handler = Arc::clone(&handler);
        async move {
            handler
                .respond(trigger, ev.payload)
                .await
                .map_err(|message| Diagnostic { error_type: "SignInDenied".into(), error_message: message.into() })
        }
    }))
    .await
}
