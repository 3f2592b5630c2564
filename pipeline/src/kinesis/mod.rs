//! Everything that speaks to Kinesis: the triggers' sink (PutRecords inside
//! a time budget, [`sink`]) and the poller's source (ListShards,
//! GetShardIterator, GetRecords, [`source`]), and their client.

mod sink;
mod source;

pub use sink::{EntryOutcome, KinesisSink, PutRecordsApi, SdkPutRecords};
pub use source::KinesisSource;

/// A Kinesis client from the standard AWS configuration (environment,
/// profile, role), with endpoints from `AWS_ENDPOINT_URL(_KINESIS)`, rustls
/// on ring, and SDK retries off (the sink retries within its budget).
pub async fn kinesis_client() -> aws_sdk_kinesis::Client {
    let shared = crate::aws::load_config().await;
    let conf = aws_sdk_kinesis::config::Builder::from(&shared)
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesis::Client::from_conf(conf)
}
