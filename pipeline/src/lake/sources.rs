//! The poller's sources: the local stream and Kinesis, and the one chosen by
//! configuration.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::SourceRecord;
use super::source::{ConsumeError, Page, ShardInfo, StreamSource};
use crate::kinesis::KinesisSource;
use crate::stream::{StoredRecord, read_shard_limited, shard_ids, stream_id};

/// The local stream under `./data/stream` as a source. Its shards never close.
pub struct LocalSource {
    pub dir: PathBuf,
}

impl LocalSource {
    /// The stream's identity: it names the checkpoints and prefixes the shard
    /// in lake file names, so a recreated stream (sequences from 0 again)
    /// neither skips records nor overwrites the old stream's files.
    fn id(&self) -> String {
        stream_id(&self.dir, false).unwrap_or_default()
    }

    fn to_source(&self, id: &str, r: StoredRecord) -> SourceRecord {
        let arrival = DateTime::parse_from_rfc3339(&r.arrived).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        SourceRecord {
            shard_id: if id.is_empty() { r.shard_id } else { format!("{id}-{}", r.shard_id) },
            sequence: r.sequence.to_string(),
            partition_key: r.partition_key,
            data: r.data,
            arrival,
        }
    }

    fn parse(seq: &str) -> Result<u64, ConsumeError> {
        seq.parse().map_err(|_| ConsumeError::Source(format!("{seq:?} is not a local stream sequence number")))
    }
}

impl StreamSource for LocalSource {
    fn name(&self) -> String {
        match self.id() {
            id if id.is_empty() => "local".into(),
            id => format!("local-{id}"),
        }
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, ConsumeError> {
        let ids = shard_ids(&self.dir).map_err(|e| ConsumeError::Source(e.to_string()))?;
        Ok(ids.into_iter().map(|id| ShardInfo { id, parents: Vec::new() }).collect())
    }

    async fn read(&self, shard: &str, after: Option<&str>, max: usize) -> Result<Page, ConsumeError> {
        let from = after.map(Self::parse).transpose()?.map_or(0, |a| a + 1);
        let records =
            read_shard_limited(&self.dir, shard, from, max).map_err(|e| ConsumeError::Source(e.to_string()))?;
        let id = self.id();
        Ok(Page { records: records.into_iter().map(|r| self.to_source(&id, r)).collect(), end_of_shard: false })
    }

    async fn read_range(&self, shard: &str, first: &str, last: &str) -> Result<Vec<SourceRecord>, ConsumeError> {
        let (first, last) = (Self::parse(first)?, Self::parse(last)?);
        let count = usize::try_from(last.saturating_sub(first) + 1).unwrap_or(usize::MAX);
        let records =
            read_shard_limited(&self.dir, shard, first, count).map_err(|e| ConsumeError::Source(e.to_string()))?;
        let id = self.id();
        Ok(records.into_iter().filter(|r| r.sequence <= last).map(|r| self.to_source(&id, r)).collect())
    }
}

/// The source chosen by configuration.
pub enum AnySource {
    Local(LocalSource),
    Kinesis(KinesisSource),
}

impl StreamSource for AnySource {
    fn name(&self) -> String {
        match self {
            AnySource::Local(s) => s.name(),
            AnySource::Kinesis(s) => s.name(),
        }
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, ConsumeError> {
        match self {
            AnySource::Local(s) => s.shards().await,
            AnySource::Kinesis(s) => s.shards().await,
        }
    }

    async fn read(&self, shard: &str, after: Option<&str>, max: usize) -> Result<Page, ConsumeError> {
        match self {
            AnySource::Local(s) => s.read(shard, after, max).await,
            AnySource::Kinesis(s) => s.read(shard, after, max).await,
        }
    }

    async fn read_range(&self, shard: &str, first: &str, last: &str) -> Result<Vec<SourceRecord>, ConsumeError> {
        match self {
            AnySource::Local(s) => s.read_range(shard, first, last).await,
            AnySource::Kinesis(s) => s.read_range(shard, first, last).await,
        }
    }
}
