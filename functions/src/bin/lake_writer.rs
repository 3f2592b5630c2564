#![recursion_limit = "256"]
//! Kinesis event-source mapping → Parquet lake (partial-batch responses).

use lambda_runtime::{LambdaEvent, service_fn};
use pipeline::config::Config;
use pipeline::lake::Lake;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(None)?;
    let lake = Lake::open(&config.lake_location())?;
    let metrics = functions::setup::lambda_metrics(&config);
    let writer = std::sync::Arc::new((lake, metrics));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<aws_lambda_events::event::kinesis::KinesisEvent>| {
        let writer = std::sync::Arc::clone(&writer);
        async move {
            let (lake, metrics) = &*writer;
            Ok::<_, lambda_runtime::Error>(functions::lake_writer::handle(lake, ev.payload, metrics).await)
        }
    }))
    .await
}
