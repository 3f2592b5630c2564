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

use std::time::{Duration, Instant};

use super::source::{ConsumeError, ShardInfo, StreamSource};
use super::{Checkpoint, Lake, WriteReport, sequence_cmp};

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
