//! The poller: stream → lake, exactly once per record.
//!
//! Per shard, a checkpoint (the last sequence committed to the lake) lives
//! next to the lake and only moves forward. Before writing a range the
//! consumer records it as *pending*; after the files are committed the
//! checkpoint moves to the range's end and the pending mark is cleared. A
//! consumer killed in between finds the pending range on restart and
//! rewrites exactly that range first: same records, same file names, so the
//! files are overwritten, never duplicated. Child shards are read only after
//! their parents are read to the end, keeping each user's events in order.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Checkpoint, Lake, LakeError, SourceRecord, WriteReport, sequence_cmp};
use crate::stream::{read_shard_limited, shard_ids};

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Write(#[from] super::WriteFailure),
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

/// Totals of one consume run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub records: usize,
    pub events: usize,
    pub dead_letters: usize,
    pub files: usize,
    pub bytes: usize,
    pub batches: usize,
    pub duration: Duration,
    /// The shard of the latest batch (progress callbacks see the order).
    pub last_shard: String,
}

impl Summary {
    fn add(&mut self, r: &WriteReport) {
        self.records += r.records;
        self.events += r.events;
        self.dead_letters += r.dead_letters;
        self.files += r.files.len() + usize::from(r.dead_letter_file.is_some());
        self.bytes += r.bytes();
        self.batches += 1;
    }
}

pub struct Consumer<S> {
    pub source: S,
    pub lake: Lake,
    /// Records per Parquet write (per shard).
    pub batch_records: usize,
}

impl<S: StreamSource> Consumer<S> {
    /// Reads every shard to its current end (parents before children),
    /// writing and checkpointing batch by batch. `progress` sees the running
    /// totals after each batch.
    pub async fn drain(&self, mut progress: impl FnMut(&Summary)) -> Result<Summary, ConsumeError> {
        let started = Instant::now();
        let mut summary = Summary::default();
        let shards = self.source.shards().await?;
        let mut done: Vec<String> = Vec::new();
        let mut remaining = shards.clone();
        // Parents first: a shard is ready once no parent of it is still unread.
        while !remaining.is_empty() {
            let ready: Vec<ShardInfo> = remaining
                .iter()
                .filter(|s| s.parents.iter().all(|p| done.contains(p) || !shards.iter().any(|x| &x.id == p)))
                .cloned()
                .collect();
            if ready.is_empty() {
                return Err(ConsumeError::Source("shard lineage has a cycle".into()));
            }
            for shard in ready {
                let closed = self.drain_shard(&shard.id, &mut summary, &mut progress).await?;
                remaining.retain(|s| s.id != shard.id);
                if closed {
                    done.push(shard.id);
                } else {
                    // An open parent: its descendants must wait for a later run.
                    let mut blocked = vec![shard.id.clone()];
                    while let Some(b) = blocked.pop() {
                        let (children, rest): (Vec<ShardInfo>, Vec<ShardInfo>) =
                            remaining.drain(..).partition(|s| s.parents.contains(&b));
                        remaining = rest;
                        blocked.extend(children.into_iter().map(|c| c.id));
                    }
                }
            }
        }
        summary.duration = started.elapsed();
        Ok(summary)
    }

    /// Returns whether the shard is closed and fully read.
    async fn drain_shard(
        &self,
        shard: &str,
        summary: &mut Summary,
        progress: &mut impl FnMut(&Summary),
    ) -> Result<bool, ConsumeError> {
        let source = self.source.name();
        let mut checkpoint = self.lake.checkpoint(&source, shard).await?;
        if let Some(Checkpoint { pending: Some((first, last)), .. }) = &checkpoint {
            // A previous run stopped mid-write: redo exactly that range.
            let records = self.source.read_range(shard, first, last).await?;
            summary.add(&self.lake.write(&records).await?);
            summary.last_shard = shard.to_string();
            let done = Checkpoint { last_sequence: last.clone(), pending: None };
            self.lake.save_checkpoint(&source, shard, &done).await?;
            checkpoint = Some(done);
            progress(summary);
        }
        let mut after = checkpoint.map(|c| c.last_sequence);
        loop {
            let page = self.source.read(shard, after.as_deref(), self.batch_records).await?;
            let Some((first, last)) = page.records.first().zip(page.records.last()) else {
                return Ok(page.end_of_shard);
            };
            let (first, last) = (first.sequence.clone(), last.sequence.clone());
            if after.as_deref().is_some_and(|a| sequence_cmp(&first, a).is_le()) {
                return Err(ConsumeError::Source(format!("shard {shard} went backwards: {first} after {after:?}")));
            }
            let previous = after.clone().unwrap_or_default();
            let pending = Checkpoint { last_sequence: previous, pending: Some((first, last.clone())) };
            self.lake.save_checkpoint(&source, shard, &pending).await?;
            summary.add(&self.lake.write(&page.records).await?);
            summary.last_shard = shard.to_string();
            self.lake
                .save_checkpoint(&source, shard, &Checkpoint { last_sequence: last.clone(), pending: None })
                .await?;
            progress(summary);
            after = Some(last);
            if page.end_of_shard {
                return Ok(true);
            }
        }
    }
}

/// The local stream under `./data/stream` as a source. Its shards never close.
pub struct LocalSource {
    pub dir: PathBuf,
}

impl LocalSource {
    /// The stream's identity: it names the checkpoints and prefixes the shard
    /// in lake file names, so a recreated stream (sequences from 0 again)
    /// neither skips records nor overwrites the old stream's files.
    fn id(&self) -> String {
        crate::stream::stream_id(&self.dir, false).unwrap_or_default()
    }

    fn to_source(&self, id: &str, r: crate::stream::StoredRecord) -> SourceRecord {
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
    Kinesis(super::kinesis_source::KinesisSource),
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
