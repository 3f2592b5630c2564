//! Where risk snapshots are published and read: a local directory (a shared
//! file system such as EFS in Lambda) or `s3://bucket/prefix`.
//!
//! On S3 the layout is the directory's: `<prefix>/snapshot-<version>.bin`,
//! then `<prefix>/CURRENT` naming it. The snapshot object is put first and the
//! pointer after it; a PUT is atomic, so a reader sees the old pointer or the
//! new one, and the object it names is complete. A reader downloads the named
//! object into a local cache directory (temporary name, then rename) and maps
//! it from there with [`Snapshot::open`], so lookups never touch the network.
//!
//! Reading S3, what is published decides the state as it does for a
//! directory: no pointer (or no bucket) is `Missing`; a pointer naming an
//! absent object, or an object that does not open, is `Corrupt`. A failure to
//! *reach* the store (network, throttling, the cold-start time limit) changes
//! nothing: the snapshot in use stays in use, ageing into `Stale`, and the
//! failure is counted; with none in use yet the state is `Corrupt(reason)`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload};

use super::snapshot::{LiveSnapshot, Loaded, SnapshotData, SnapshotError, write_snapshot};
use crate::aws::S3Location;

/// A local directory or an S3 prefix; parsed from `s3://bucket/prefix` or a
/// path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum SnapshotLocation {
    Local(PathBuf),
    S3(S3Location),
}

impl TryFrom<String> for SnapshotLocation {
    type Error = String;

    fn try_from(location: String) -> Result<Self, String> {
        match S3Location::parse(&location) {
            Ok(Some(s3)) => Ok(SnapshotLocation::S3(s3)),
            Err(why) => Err(format!("{location:?}: {why} (expected s3://bucket/prefix)")),
            Ok(None) if location.contains("://") => {
                Err(format!("{location:?}: only s3://bucket/prefix or a local directory is supported"))
            }
            Ok(None) if location.is_empty() => Err("is empty".into()),
            Ok(None) => Ok(SnapshotLocation::Local(location.into())),
        }
    }
}

impl std::fmt::Display for SnapshotLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotLocation::Local(dir) => write!(f, "{}", dir.display()),
            SnapshotLocation::S3(s3) => f.write_str(&s3.url()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("snapshot location {location}: {source}")]
    Store { location: String, source: object_store::Error },
    #[error("snapshot staging directory {path}: {source}")]
    Staging { path: PathBuf, source: std::io::Error },
}

/// Publishes `data` at `location`; returns where the snapshot now lives (a
/// file path or an `s3://` URL).
pub async fn publish_snapshot(location: &SnapshotLocation, data: &SnapshotData) -> Result<String, LocationError> {
    let s3 = match location {
        SnapshotLocation::Local(dir) => return Ok(write_snapshot(dir, data)?.display().to_string()),
        SnapshotLocation::S3(s3) => s3,
    };
    let store_err = |source| LocationError::Store { location: s3.url(), source };
    let store = s3.store().map_err(store_err)?;
    // Encoded by the file writer into a private staging directory, so the
    // object is byte for byte what a local reader would map.
    let staging = Staging::create()?;
    let file = write_snapshot(&staging.0, data)?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let bytes = std::fs::read(&file).map_err(|source| LocationError::Staging { path: file.clone(), source })?;
    store.put(&s3.path(&name), PutPayload::from(bytes)).await.map_err(store_err)?;
    // Only now does the pointer name it.
    store.put(&s3.path("CURRENT"), PutPayload::from(name.clone().into_bytes())).await.map_err(store_err)?;
    Ok(format!("{}/{name}", s3.url()))
}

/// A unique temporary directory, removed on drop.
struct Staging(PathBuf);

impl Staging {
    fn create() -> Result<Staging, LocationError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "authtrail-publish-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).map_err(|source| LocationError::Staging { path: path.clone(), source })?;
        Ok(Staging(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The S3 side of a [`LiveSnapshot`].
pub(super) struct S3Source {
    store: Arc<dyn ObjectStore>,
    location: S3Location,
    /// ETag of the `CURRENT` whose snapshot is in use: a conditional GET
    /// makes an unchanged pointer a cheap 304.
    etag: std::sync::Mutex<Option<String>>,
    failures: AtomicU64,
    /// One refresh at a time: they share the cache directory.
    refreshing: tokio::sync::Mutex<()>,
}

/// What one refresh step learnt, short of success.
enum Fetch {
    /// Nothing is published: no pointer, or no bucket.
    Unpublished,
    /// What is published is unusable.
    Bad(String),
    /// The store could not be read; try again later. The reason is short
    /// (it becomes a decision reason on every attempt); the detail is logged.
    Unreachable { reason: String, detail: String },
}

impl Fetch {
    fn unreachable(path: &object_store::path::Path, detail: impl std::fmt::Display) -> Fetch {
        Fetch::Unreachable { reason: format!("cannot read {path} from the snapshot store"), detail: detail.to_string() }
    }
}

impl LiveSnapshot {
    /// Opens the snapshot published at `location`. A local directory is
    /// [`LiveSnapshot::open`]. For S3 it downloads the current snapshot into
    /// `cache_dir`, waiting at most `cold_start` (the trigger must answer
    /// within 5 s, cold start included); what it could not load is a state,
    /// and [`LiveSnapshot::refresh`] tries again. Errors only when no S3
    /// client can be built for the location.
    pub async fn open_location(
        location: &SnapshotLocation,
        cache_dir: &Path,
        cold_start: Duration,
    ) -> Result<LiveSnapshot, LocationError> {
        let s3 = match location {
            SnapshotLocation::Local(dir) => return Ok(LiveSnapshot::open(dir)),
            SnapshotLocation::S3(s3) => s3,
        };
        let store = s3.store().map_err(|source| LocationError::Store { location: s3.url(), source })?;
        let source = S3Source {
            store: Arc::new(store),
            location: s3.clone(),
            etag: Default::default(),
            failures: AtomicU64::new(0),
            refreshing: Default::default(),
        };
        let live = LiveSnapshot::unloaded(cache_dir, Some(source));
        if tokio::time::timeout(cold_start, live.refresh()).await.is_err() {
            let reason = format!("snapshot store did not answer within {} ms", cold_start.as_millis());
            live.unreachable(reason, "cold start");
        }
        Ok(live)
    }

    /// Checks for a newly published snapshot and swaps it in; returns whether
    /// a newly published one was loaded (or found unusable). A reader holding
    /// the old one keeps it.
    /// For S3 only the pointer is read unless it names a new object; the
    /// network is never touched by a lookup.
    pub async fn refresh(&self) -> bool {
        let Some(s3) = &self.remote else {
            // A small file read and a map: not worth a blocking thread.
            return self.reload();
        };
        let _one = s3.refreshing.lock().await;
        match self.refresh_s3(s3).await {
            Ok(changed) => changed,
            Err(Fetch::Unpublished) => {
                *s3.etag.lock().unwrap_or_else(|e| e.into_inner()) = None;
                self.set(Loaded::Missing);
                false
            }
            Err(Fetch::Bad(why)) => {
                self.set(Loaded::Corrupt(why));
                true
            }
            Err(Fetch::Unreachable { reason, detail }) => {
                self.unreachable(reason, &detail);
                false
            }
        }
    }

    /// Failed reads of the snapshot store since start (S3 only).
    pub fn refresh_failures(&self) -> u64 {
        self.remote.as_ref().map_or(0, |s3| s3.failures.load(Ordering::Relaxed))
    }

    async fn refresh_s3(&self, s3: &S3Source) -> Result<bool, Fetch> {
        let etag = s3.etag.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (name, etag) = match s3.pointer(etag).await? {
            Some(pointer) => pointer,
            None => return Ok(false), // unchanged since the snapshot in use
        };
        let changed = self.in_use().as_deref() != Some(name.as_str());
        if changed {
            s3.download(&name, self.dir()).await?;
            self.load(&name);
            // Remembered even when it did not open: an unchanged bad pointer
            // is then a 304, not a download on every refresh.
            *s3.etag.lock().unwrap_or_else(|e| e.into_inner()) = etag;
            if self.in_use().as_deref() != Some(name.as_str()) {
                return Ok(true); // it did not open: the state says why
            }
            prune(self.dir(), &name);
            return Ok(true);
        }
        *s3.etag.lock().unwrap_or_else(|e| e.into_inner()) = etag;
        Ok(false)
    }

    fn unreachable(&self, reason: String, detail: &str) {
        let n = self.remote.as_ref().map_or(0, |s3| s3.failures.fetch_add(1, Ordering::Relaxed) + 1);
        tracing::warn!(failures = n, %reason, detail, "risk snapshot refresh failed; keeping the snapshot in use");
        if self.in_use().is_none() {
            self.set(Loaded::Corrupt(reason));
        }
    }
}

impl S3Source {
    /// The name `CURRENT` holds and its ETag; `None` when it still has the
    /// ETag given.
    async fn pointer(&self, etag: Option<String>) -> Result<Option<(String, Option<String>)>, Fetch> {
        let path = self.location.path("CURRENT");
        let got = match self.store.get_opts(&path, GetOptions { if_none_match: etag, ..Default::default() }).await {
            Ok(got) => got,
            Err(object_store::Error::NotModified { .. }) => return Ok(None),
            Err(object_store::Error::NotFound { .. }) => return Err(Fetch::Unpublished),
            Err(e) => return Err(Fetch::unreachable(&path, e)),
        };
        let etag = got.meta.e_tag.clone();
        let bytes = got.bytes().await.map_err(|e| Fetch::unreachable(&path, e))?;
        let name = std::str::from_utf8(&bytes).unwrap_or_default().trim();
        // It becomes a local file name: nothing that could leave the cache.
        let plain = name.starts_with("snapshot-")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && name.len() <= 255;
        if !plain {
            return Err(Fetch::Bad(format!("{path} does not name a snapshot file")));
        }
        Ok(Some((name.to_string(), etag)))
    }

    /// Downloads `name` to `<dir>/name`, complete or not at all.
    async fn download(&self, name: &str, dir: &Path) -> Result<(), Fetch> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let path = self.location.path(name);
        let got = match self.store.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Fetch::Bad(format!("CURRENT names {path}, which is not in the store")));
            }
            Err(e) => return Err(Fetch::unreachable(&path, e)),
        };
        // Per process: several processes on one host may share the cache.
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let write = async {
            tokio::fs::create_dir_all(dir).await?;
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut body = got.into_stream();
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk?).await?;
            }
            // No fsync: a cache that a restart may lose; the file is
            // validated when opened anyway.
            file.flush().await?;
            tokio::fs::rename(&tmp, dir.join(name)).await
        };
        write.await.map_err(|e: std::io::Error| {
            let _ = std::fs::remove_file(&tmp);
            Fetch::unreachable(&path, e)
        })
    }
}

/// Removes downloaded snapshots other than `keep`, and leftover temporary
/// files. A reader still holding an older one keeps a valid map: unlinking
/// a mapped file frees it only when the map goes.
fn prune(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    // Another process sharing the cache may be downloading or about to open
    // a recent file: only old ones go.
    let old = |e: &std::fs::DirEntry| {
        let age = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        age.is_some_and(|a| a > std::time::Duration::from_secs(600))
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = (name.starts_with("snapshot-") && name.ends_with(".bin"))
            || (name.starts_with(".snapshot-") && name.ends_with(".tmp"));
        if ours && name != keep && old(&entry) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
