//! Compaction: many small files of one partition hour become one.
//!
//! The Lambda path writes a file per batch per hour; readers prefer few large
//! files. For each hour directory with more than one file, the events are
//! read, de-duplicated by `event_id` (so a replayed or retried range counts
//! once), sorted by time, written as one file named after the set of files
//! it replaces, and only then are those files deleted. Running it again, or
//! after a crash between the write and the deletes, converges on one file
//! per hour holding each event once; in that window a reader can see an
//! event twice, which is why readers that must be exact count
//! `DISTINCT event_id`. Compact hours the writers have finished with.

use std::collections::HashSet;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::PutPayload;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use super::{Lake, LakeError, encode_parquet};
use crate::event::{self, Event};

/// What compacting one hour did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactedHour {
    pub hour_dir: String,
    pub files_in: usize,
    pub rows_in: usize,
    pub rows_out: usize,
    pub file_out: String,
}

impl Lake {
    /// Compacts `events/dt=<date>/` (every hour, or just `hour`).
    pub async fn compact(&self, date: &str, hour: Option<u32>) -> Result<Vec<CompactedHour>, LakeError> {
        let prefix = match hour {
            Some(h) => super::partition_dir(date, h),
            None => format!("events/dt={date}"),
        };
        let files: Vec<String> = self.list(&prefix).await?.into_iter().filter(|p| p.ends_with(".parquet")).collect();
        let mut by_hour: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for f in files {
            let dir = f.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_string());
            by_hour.entry(dir).or_default().push(f);
        }
        let mut out = Vec::new();
        for (dir, inputs) in by_hour {
            if inputs.len() < 2 {
                continue;
            }
            let mut seen = HashSet::new();
            let mut events: Vec<Event> = Vec::new();
            let mut rows_in = 0;
            for f in &inputs {
                for e in self.read_events(f).await? {
                    rows_in += 1;
                    if seen.insert(e.event_id.clone()) {
                        events.push(e);
                    }
                }
            }
            events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.event_id.cmp(&b.event_id)));
            let name = {
                let mut h = Sha256::new();
                for f in &inputs {
                    h.update(f.as_bytes());
                    h.update(b"\n");
                }
                format!("{dir}/compacted-{}.parquet", &hex::encode(h.finalize())[..16])
            };
            let refs: Vec<&Event> = events.iter().collect();
            self.store.put(&self.path(&name), PutPayload::from(encode_parquet(&refs)?)).await?;
            for f in inputs.iter().filter(|f| **f != name) {
                self.store.delete(&self.path(f)).await?;
            }
            out.push(CompactedHour {
                hour_dir: dir,
                files_in: inputs.len(),
                rows_in,
                rows_out: events.len(),
                file_out: name,
            });
        }
        Ok(out)
    }

    /// The earliest event `time` (µs since the epoch) in one Parquet file of
    /// the lake, from its footer's statistics; `None` when it has none.
    pub async fn earliest_time(&self, rel: &str) -> Result<Option<i64>, LakeError> {
        use parquet::file::statistics::Statistics;
        let bytes: Bytes = self.store.get(&self.path(rel)).await?.bytes().await?;
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes)
            .map_err(|e| LakeError::Encode(format!("{rel}: {e}")))?;
        let columns = meta.file_metadata().schema_descr().columns();
        let Some(time) = columns.iter().position(|c| c.path().string() == "time") else { return Ok(None) };
        let mut earliest: Option<i64> = None;
        for group in meta.row_groups() {
            match group.column(time).statistics() {
                Some(Statistics::Int64(s)) => match s.min_opt() {
                    Some(&min) => earliest = Some(earliest.map_or(min, |e| e.min(min))),
                    None if group.num_rows() > 0 => return Ok(None),
                    None => {}
                },
                _ => return Ok(None),
            }
        }
        Ok(earliest)
    }

    /// Reads one Parquet file of the lake back into events.
    pub async fn read_events(&self, rel: &str) -> Result<Vec<Event>, LakeError> {
        let bytes: Bytes = self.store.get(&self.path(rel)).await?.bytes().await?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .map_err(|e| LakeError::Encode(format!("{rel}: {e}")))?;
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| LakeError::Encode(format!("{rel}: {e}")))?;
            out.extend(event::from_record_batch(&batch).map_err(|e| LakeError::Encode(format!("{rel}: {e}")))?);
        }
        Ok(out)
    }
}
