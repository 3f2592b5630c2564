//! The lake: events as Hive-partitioned, ZSTD Parquet on object storage.
//!
//! ```text
//! <root>/events/dt=YYYY-MM-DD/hour=HH/<shard>-<first seq>-<last seq>.parquet
//! <root>/dead-letter/dt=YYYY-MM-DD/<shard>-<first seq>-<last seq>.jsonl
//! <root>/_checkpoints/<source>/<shard>.json
//! ```
//!
//! File names derive from the input range, so writing the same records again
//! overwrites the same files: a replay never duplicates. Each file is put
//! whole (S3 PUT; a temporary file renamed into place on a local disk), so no
//! reader ever sees half of one. DuckDB, pyarrow, Athena and Spark read the
//! layout as it is (`hive_partitioning`).

mod compact;
pub mod consume;
pub mod decode;
pub mod kpl;
mod parquet_file;
pub mod risk_tables;
pub mod source;
pub mod sources;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

pub use compact::CompactedHour;
pub use decode::{DeadLetter, Decoded, SourceRecord, decode};
pub use parquet_file::{encode_parquet, writer_properties};

use crate::event::Event;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake location {location:?}: {message}")]
    Location { location: String, message: String },
    #[error("lake storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("cannot encode Parquet: {0}")]
    Encode(String),
    #[error("checkpoint {path} is unreadable: {message}")]
    Checkpoint { path: String, message: String },
}

/// The lake root on some object store.
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    root: StorePath,
    location: String,
    /// The root as a URL for query engines: `file:///abs/dir` or `s3://bucket/prefix`.
    url: String,
    /// Whether query engines must be handed `store` (S3) or use their own
    /// file-system store (local).
    remote: bool,
}

/// One Parquet (or dead-letter) file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: String,
    pub rows: usize,
    pub bytes: usize,
}

/// What writing one input range did.
#[derive(Debug, Default, Clone)]
pub struct WriteReport {
    pub records: usize,
    pub events: usize,
    pub dead_letters: usize,
    pub files: Vec<WrittenFile>,
    pub dead_letter_file: Option<WrittenFile>,
}

impl WriteReport {
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|f| f.bytes).sum::<usize>() + self.dead_letter_file.as_ref().map_or(0, |f| f.bytes)
    }
}

/// A write that stopped part-way.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct WriteFailure {
    pub error: LakeError,
    /// Index (into the input) of the first record not known to be written:
    /// every record before it is in a committed file or dead letter.
    pub first_unwritten: usize,
    /// The files that were committed before the failure.
    pub written: WriteReport,
}

/// Where a stream consumer has got to in one shard. Moves only forward, and
/// only after the files covering it are committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub last_sequence: String,
    /// A range that was being written when the consumer stopped: it is
    /// re-read and rewritten exactly (same names) before anything newer.
    pub pending: Option<(String, String)>,
}

impl Lake {
    /// `s3://bucket/prefix` (credentials, region and endpoint from the
    /// standard AWS variables, path-style addressing) or a local directory.
    pub fn open(location: &str) -> Result<Lake, LakeError> {
        let err = |message: String| LakeError::Location { location: location.into(), message };
        if let Some(s3) = crate::aws::S3Location::parse(location).map_err(|m| err(m.into()))? {
            let store = s3.store().map_err(|e| err(e.to_string()))?;
            return Ok(Lake {
                store: Arc::new(store),
                root: StorePath::from(s3.prefix.as_str()),
                location: location.into(),
                url: s3.url(),
                remote: true,
            });
        }
        Self::local(std::path::Path::new(location))
    }

    /// A directory on the local file system (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Lake, LakeError> {
        let err = |message: String| LakeError::Location { location: dir.display().to_string(), message };
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let abs = dir.canonicalize().map_err(|e| err(e.to_string()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&abs).map_err(|e| err(e.to_string()))?;
        Ok(Lake {
            store: Arc::new(store),
            root: StorePath::from(""),
            location: dir.display().to_string(),
            url: format!("file://{}", abs.display()),
            remote: false,
        })
    }

    /// A lake on any object store (tests use the in-memory one).
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: &str, location: &str) -> Lake {
        let url = format!("memory:///{prefix}");
        Lake { store, root: StorePath::from(prefix), location: location.into(), url, remote: true }
    }

    /// The URL of `rel` under the root, with a trailing `/` (a directory),
    /// for query engines.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}/{}/", self.url, rel.trim_matches('/'))
    }

    /// The store a query engine must use for [`Lake::url_of`] URLs, with the
    /// URL it is registered under; `None` for the local file system, which
    /// engines read themselves.
    pub fn store_for_engines(&self) -> Option<(String, Arc<dyn ObjectStore>)> {
        if !self.remote {
            return None;
        }
        // Register at scheme://authority; paths carry the prefix.
        let end = self.url.find("://").map(|i| i + 3).unwrap_or(0);
        let authority_end = self.url[end..].find('/').map_or(self.url.len(), |i| end + i);
        Some((self.url[..authority_end].to_string(), self.store.clone()))
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn path(&self, rel: &str) -> StorePath {
        if self.root.as_ref().is_empty() {
            StorePath::from(rel)
        } else {
            StorePath::from(format!("{}/{rel}", self.root))
        }
    }

    /// Decodes `records` (one contiguous range of one shard) and writes the
    /// events, partitioned by event hour, and the dead letters. On failure it
    /// tells the first input record not known to be written, so a caller can
    /// retry from there (the Lambda partial-batch response).
    pub async fn write(&self, records: &[SourceRecord]) -> Result<WriteReport, WriteFailure> {
        let Some((first, last)) = records.first().zip(records.last()) else {
            return Ok(WriteReport::default());
        };
        let name = file_stem(&first.shard_id, &first.sequence, &last.sequence);
        let decoded = decode(records);
        let mut report = WriteReport {
            records: records.len(),
            events: decoded.events.len(),
            dead_letters: decoded.dead_letters.len(),
            ..Default::default()
        };
        let partitions: Vec<_> = partition_by_hour(decoded.events).into_iter().collect();
        // Unwritten from partition `i` on: the smallest record index there.
        let first_unwritten = |from: usize| {
            partitions[from..]
                .iter()
                .flat_map(|(_, evs)| evs.iter().map(|(i, _)| *i))
                .chain(decoded.dead_letters.iter().map(|(i, _)| *i))
                .min()
                .unwrap_or(0)
        };
        for (n, ((date, hour), events)) in partitions.iter().enumerate() {
            let mut events: Vec<&Event> = events.iter().map(|(_, e)| e).collect();
            // Time order inside a file makes min/max statistics prune well.
            events.sort_by_key(|e| e.time);
            let rel = format!("{}/{name}.parquet", partition_dir(date, *hour));
            let put = async {
                let bytes = encode_parquet(&events)?;
                let len = bytes.len();
                self.store.put(&self.path(&rel), PutPayload::from(bytes)).await?;
                Ok::<usize, LakeError>(len)
            };
            match put.await {
                Ok(len) => report.files.push(WrittenFile { path: rel, rows: events.len(), bytes: len }),
                Err(error) => return Err(WriteFailure { error, first_unwritten: first_unwritten(n), written: report }),
            }
        }
        if let Some((_, first_dead)) = decoded.dead_letters.first() {
            let mut body = String::new();
            for (_, d) in &decoded.dead_letters {
                body.push_str(&d.to_line());
                body.push('\n');
            }
            let rel = format!("dead-letter/dt={}/{name}.jsonl", first_dead.arrival.format("%Y-%m-%d"));
            let len = body.len();
            if let Err(e) = self.store.put(&self.path(&rel), PutPayload::from(body.into_bytes())).await {
                let first_unwritten = first_unwritten(partitions.len());
                return Err(WriteFailure { error: e.into(), first_unwritten, written: report });
            }
            report.dead_letter_file = Some(WrittenFile { path: rel, rows: decoded.dead_letters.len(), bytes: len });
        }
        Ok(report)
    }

    fn checkpoint_path(&self, source: &str, shard: &str) -> StorePath {
        self.path(&format!("_checkpoints/{}/{}.json", sanitize(source), sanitize(shard)))
    }

    pub async fn checkpoint(&self, source: &str, shard: &str) -> Result<Option<Checkpoint>, LakeError> {
        let path = self.checkpoint_path(source, shard);
        match self.store.get(&path).await {
            Ok(got) => {
                let bytes = got.bytes().await?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| LakeError::Checkpoint { path: path.to_string(), message: e.to_string() })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn save_checkpoint(&self, source: &str, shard: &str, checkpoint: &Checkpoint) -> Result<(), LakeError> {
        let body = serde_json::to_vec(checkpoint).expect("checkpoint serialises");
        self.store.put(&self.checkpoint_path(source, shard), PutPayload::from(body)).await?;
        Ok(())
    }

    /// Puts one whole object at `rel` (a PUT on S3; a temporary file renamed
    /// into place locally), replacing what was there.
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), LakeError> {
        self.store.put(&self.path(rel), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The start of the newest `events/dt=…/hour=…` partition, read from
    /// the directory names (two listings, whatever the lake's size).
    pub async fn newest_hour(&self) -> Result<Option<DateTime<Utc>>, LakeError> {
        let newest = |listing: object_store::ListResult, key: &str| {
            let prefix = format!("{key}=");
            listing
                .common_prefixes
                .iter()
                .filter_map(|p| p.filename().and_then(|f| f.strip_prefix(&prefix)).map(str::to_string))
                .max()
        };
        let Some(dt) = newest(self.store.list_with_delimiter(Some(&self.path("events"))).await?, "dt") else {
            return Ok(None);
        };
        let day = self.store.list_with_delimiter(Some(&self.path(&format!("events/dt={dt}")))).await?;
        let hour = newest(day, "hour").unwrap_or_else(|| "00".into());
        let start = chrono::NaiveDateTime::parse_from_str(&format!("{dt}T{hour}:00"), "%Y-%m-%dT%H:%M").ok();
        Ok(start.map(|t| t.and_utc()))
    }

    /// Every Parquet file under `events/`, sorted.
    pub async fn event_files(&self) -> Result<Vec<String>, LakeError> {
        self.list("events").await.map(|v| v.into_iter().filter(|p| p.ends_with(".parquet")).collect())
    }

    /// The Parquet files of one day's events (`events/dt=YYYY-MM-DD/`) with
    /// their sizes, sorted.
    pub async fn day_event_files(&self, day: chrono::NaiveDate) -> Result<Vec<(String, u64)>, LakeError> {
        let listed = self.list_sized(&format!("events/dt={}", day.format("%Y-%m-%d"))).await?;
        Ok(listed.into_iter().filter(|(p, _)| p.ends_with(".parquet")).collect())
    }

    /// Every object under `rel`, relative to the lake root, sorted.
    pub async fn list(&self, rel: &str) -> Result<Vec<String>, LakeError> {
        Ok(self.list_sized(rel).await?.into_iter().map(|(path, _)| path).collect())
    }

    /// Every object under `rel` with its size in bytes, relative to the
    /// lake root, sorted.
    pub async fn list_sized(&self, rel: &str) -> Result<Vec<(String, u64)>, LakeError> {
        use futures::StreamExt;
        let prefix = self.path(rel);
        let mut stream = self.store.list(Some(&prefix));
        let mut out = Vec::new();
        let root = self.root.to_string();
        while let Some(meta) = stream.next().await {
            let meta = meta?;
            let p = meta.location.to_string();
            let rel = if root.is_empty() { p } else { p.strip_prefix(&format!("{root}/")).unwrap_or(&p).to_string() };
            out.push((rel, meta.size));
        }
        out.sort();
        Ok(out)
    }
}

/// `<shard>-<first>-<last>`, safe as a file name on every store.
pub fn file_stem(shard: &str, first: &str, last: &str) -> String {
    format!("{}-{}-{}", sanitize(shard), sanitize(first), sanitize(last))
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn partition_by_hour(events: Vec<(usize, Event)>) -> BTreeMap<(String, u32), Vec<(usize, Event)>> {
    let mut out: BTreeMap<(String, u32), Vec<(usize, Event)>> = BTreeMap::new();
    for (i, e) in events {
        out.entry(partition_of(e.time)).or_default().push((i, e));
    }
    out
}

fn partition_of(t: DateTime<Utc>) -> (String, u32) {
    (format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()), t.hour())
}

/// The directory of one hour's events: `events/dt=YYYY-MM-DD/hour=HH`, the
/// layout the Glue table's partition projection renders (infra/template.yaml,
/// checked against this through infra/generated/events-schema.json).
pub fn partition_dir(date: &str, hour: u32) -> String {
    format!("events/dt={date}/hour={hour:02}")
}

/// The start of the hour an event file's partition holds, from its path
/// (`events/dt=YYYY-MM-DD/hour=HH/…`).
pub fn partition_hour(path: &str) -> Option<DateTime<Utc>> {
    let dt = path.split("/dt=").nth(1)?.get(..10)?;
    let hour = path.split("/hour=").nth(1)?.get(..2)?;
    let date = chrono::NaiveDate::parse_from_str(dt, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(hour.parse().ok()?, 0, 0)?.and_utc())
}

/// Compares sequence numbers: decimal strings of any length (Kinesis
/// sequence numbers exceed 64 bits).
pub fn sequence_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
