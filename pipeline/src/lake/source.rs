//! The source seam of the poller ([`super::consume`]): what it reads a
//! stream through. Implemented by the local stream and Kinesis
//! ([`super::sources`]).

use std::future::Future;

use super::{LakeError, SourceRecord, WriteFailure};

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Write(#[from] WriteFailure),
    #[error("stream source: {0}")]
    Source(String),
}

/// A shard and the shards it was split or merged from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: String,
    pub parents: Vec<String>,
}

/// One read from a shard.
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<SourceRecord>,
    /// The shard is closed and everything in it has been returned.
    pub end_of_shard: bool,
}

/// Where the consumer reads from: the local stream or Kinesis.
pub trait StreamSource: Send + Sync {
    /// Names the checkpoints, so two streams never share them.
    fn name(&self) -> String;
    fn shards(&self) -> impl Future<Output = Result<Vec<ShardInfo>, ConsumeError>> + Send;
    /// Up to `max` records after sequence `after` (from the start if `None`).
    fn read(
        &self,
        shard: &str,
        after: Option<&str>,
        max: usize,
    ) -> impl Future<Output = Result<Page, ConsumeError>> + Send;
    /// Exactly the records from `first` to `last`, inclusive.
    fn read_range(
        &self,
        shard: &str,
        first: &str,
        last: &str,
    ) -> impl Future<Output = Result<Vec<SourceRecord>, ConsumeError>> + Send;
}
