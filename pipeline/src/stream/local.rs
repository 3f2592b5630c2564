//! The local stream: the embedded default when there is no Kinesis.
//!
//! Layout: `<dir>/shard-NNNN/<first sequence, 20 digits>.jsonl`. Each line is
//! one record, `{"seq":N,"ts":"…","pk":"…","data":<event>}` (or `data_b64`
//! for bytes that are not single-line JSON), so `jq` reads it as it is.
//! Lines are appended whole with one write; a line cut short by a crash has
//! no newline and is dropped (and truncated away on the next open), so
//! readers only ever see complete records. Sequence numbers rise by one per
//! shard and are never reused. One process writes a stream at a time: it
//! holds an exclusive lock file per shard.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::sink::{Delivered, EmitResults, EventSink, Record};
use super::spill::json_or_base64;

/// Segments roll over past this size so old ones can be removed whole, and
/// so a reader resuming at a sequence skips whole segments before it: it
/// reads at most a segment it has partly consumed (1 MiB, about 700
/// events; at 8 MiB the replay's lake writer spent 5 % of the demo
/// re-reading them).
const SEGMENT_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LocalStreamError {
    #[error("local stream {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("local stream {path} is in use by another process")]
    Locked { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LocalStreamError + '_ {
    move |source| LocalStreamError::Io { path: path.to_path_buf(), source }
}

struct Shard {
    dir: PathBuf,
    _lock: File,
    file: File,
    segment_len: u64,
    next_seq: u64,
}

pub struct LocalStream {
    dir: PathBuf,
    id: String,
    shards: Vec<Mutex<Shard>>,
    fsync: bool,
}

#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    ts: &'a str,
    pk: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_b64: Option<String>,
}

#[derive(Deserialize)]
struct LineIn {
    seq: u64,
    ts: String,
    pk: String,
    data: Option<Box<RawValue>>,
    data_b64: Option<String>,
}

/// A record read back from the local stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub shard_id: String,
    pub sequence: u64,
    /// Arrival time, RFC 3339.
    pub arrived: String,
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl LocalStream {
    /// Opens (creating if needed) a stream of `shards` shards under `dir`.
    pub fn open(dir: &Path, shards: u32, fsync: bool) -> Result<Self, LocalStreamError> {
        let shards = shards.max(1);
        let id = stream_id(dir, true)?;
        let mut out = Vec::with_capacity(shards as usize);
        for i in 0..shards {
            out.push(Mutex::new(Shard::open(&dir.join(shard_name(i)))?));
        }
        Ok(LocalStream { dir: dir.to_path_buf(), id, shards: out, fsync })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This stream's identity (see [`stream_id`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn shard_for(&self, partition_key: &str) -> usize {
        // Like Kinesis: a hash of the partition key picks the shard, so one
        // user's events stay in order on one shard.
        let h = Sha256::digest(partition_key.as_bytes());
        let v = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
        (v % self.shards.len() as u64) as usize
    }

    fn append(&self, record: &Record) -> Result<Delivered, LocalStreamError> {
        let idx = self.shard_for(&record.partition_key);
        let mut shard = self.shards[idx].lock().unwrap_or_else(|e| e.into_inner());
        let seq = shard.next_seq;
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let (data, data_b64) = json_or_base64(&record.data);
        let mut line = serde_json::to_vec(&LineOut { seq, ts: &ts, pk: &record.partition_key, data, data_b64 })
            .expect("line serialises");
        line.push(b'\n');
        if shard.segment_len >= SEGMENT_BYTES {
            shard.roll(seq)?;
        }
        let path = shard.dir.clone();
        if let Err(e) = shard.file.write_all(&line) {
            // Cut off whatever part of the line reached the file, so the
            // next append starts on a clean line.
            let _ = shard.file.set_len(shard.segment_len);
            return Err(io_err(&path)(e));
        }
        if self.fsync {
            shard.file.sync_data().map_err(io_err(&path))?;
        }
        shard.segment_len += line.len() as u64;
        shard.next_seq = seq + 1;
        Ok(Delivered { shard_id: shard_name(idx as u32), sequence_number: seq.to_string() })
    }
}

impl EventSink for LocalStream {
    async fn emit(&self, records: &[Record]) -> EmitResults {
        records.iter().map(|r| self.append(r).map_err(|e| e.to_string())).collect()
    }

    fn describe(&self) -> String {
        format!("local stream {} ({} shards)", self.dir.display(), self.shards.len())
    }
}

/// A stream directory's identity, written once when it is created: a stream
/// deleted and created again restarts its sequence numbers, and its identity
/// keeps the lake from mistaking the new records for old ones.
pub fn stream_id(dir: &Path, create: bool) -> Result<String, LocalStreamError> {
    let path = dir.join("STREAM_ID");
    match fs::read_to_string(&path) {
        Ok(id) => Ok(id.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            let id = format!("{:08x}", fastrand::u32(..));
            // create_new: two processes racing to create agree on the winner.
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => f.write_all(id.as_bytes()).map(|_| id).map_err(io_err(&path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    fs::read_to_string(&path).map(|s| s.trim().to_string()).map_err(io_err(&path))
                }
                Err(e) => Err(io_err(&path)(e)),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

fn shard_name(i: u32) -> String {
    format!("shard-{i:04}")
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.jsonl")
}

/// The names of the entries of `dir`; none when it does not exist yet.
fn entry_names(dir: &Path) -> Result<Vec<String>, LocalStreamError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    entries.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()).map_err(io_err(dir))).collect()
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LocalStreamError> {
    let mut out: Vec<(u64, PathBuf)> = entry_names(dir)?
        .into_iter()
        .filter_map(|n| Some((n.strip_suffix(".jsonl")?.parse::<u64>().ok()?, dir.join(&n))))
        .collect();
    out.sort();
    Ok(out)
}

impl Shard {
    fn open(dir: &Path) -> Result<Shard, LocalStreamError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join("LOCK");
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(LocalStreamError::Locked { path: dir.to_path_buf() }),
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let (path, next_seq, valid_len) = match segments(dir)?.pop() {
            Some((first, path)) => {
                let (last, valid_len) = scan_tail(&path)?;
                (path, last.map_or(first, |l| l + 1), valid_len)
            }
            None => (dir.join(segment_name(0)), 0, 0),
        };
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        // Drop a torn final line left by a crash so the next append starts clean.
        if file.metadata().map_err(io_err(&path))?.len() > valid_len {
            file.set_len(valid_len).map_err(io_err(&path))?;
        }
        Ok(Shard { dir: dir.to_path_buf(), _lock: lock, file, segment_len: valid_len, next_seq })
    }

    fn roll(&mut self, first_seq: u64) -> Result<(), LocalStreamError> {
        let path = self.dir.join(segment_name(first_seq));
        self.file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        self.segment_len = 0;
        Ok(())
    }
}

/// The last complete record's sequence and the byte length of complete lines.
fn scan_tail(path: &Path) -> Result<(Option<u64>, u64), LocalStreamError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    file.read_to_end(&mut bytes).map_err(io_err(path))?;
    // Walk back to the last line that is a whole record: anything after it
    // (a torn write) was never acknowledged and is cut away on open.
    let mut end = bytes.len();
    while end > 0 {
        let line_end = match bytes[..end].iter().rposition(|&b| b == b'\n') {
            Some(i) => i,
            None => break,
        };
        let start = bytes[..line_end].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if let Ok(l) = serde_json::from_slice::<LineIn>(&bytes[start..line_end]) {
            return Ok((Some(l.seq), line_end as u64 + 1));
        }
        end = start;
    }
    Ok((None, 0))
}

/// The shard ids present under a stream directory.
pub fn shard_ids(dir: &Path) -> Result<Vec<String>, LocalStreamError> {
    let mut out: Vec<String> = entry_names(dir)?.into_iter().filter(|n| n.starts_with("shard-")).collect();
    out.sort();
    Ok(out)
}

/// The sequence number at the start of a line as [`LineOut`] writes it.
fn leading_seq(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(br#"{"seq":"#)?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Reads a shard's complete records with sequence ≥ `from`. Lines that are not
/// records (torn tails) are skipped; they were never acknowledged.
pub fn read_shard(dir: &Path, shard_id: &str, from: u64) -> Result<Vec<StoredRecord>, LocalStreamError> {
    read_shard_limited(dir, shard_id, from, usize::MAX)
}

/// [`read_shard`], stopping after `max` records.
pub fn read_shard_limited(
    dir: &Path,
    shard_id: &str,
    from: u64,
    max: usize,
) -> Result<Vec<StoredRecord>, LocalStreamError> {
    let shard_dir = dir.join(shard_id);
    let segs = segments(&shard_dir)?;
    let mut out = Vec::new();
    for (i, (first, path)) in segs.iter().enumerate() {
        // Skip segments that end before `from`.
        if segs.get(i + 1).is_some_and(|(next_first, _)| *next_first <= from) {
            continue;
        }
        let _ = first;
        let reader = BufReader::new(File::open(path).map_err(io_err(path))?);
        for line in reader.split(b'\n') {
            let line = line.map_err(io_err(path))?;
            // Lines start `{"seq":N,`: records before `from` are passed over unparsed.
            if leading_seq(&line).is_some_and(|seq| seq < from) {
                continue;
            }
            let Ok(l) = serde_json::from_slice::<LineIn>(&line) else { continue };
            if l.seq < from {
                continue;
            }
            let data = match (l.data, l.data_b64) {
                (Some(raw), _) => raw.get().as_bytes().to_vec(),
                (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default(),
                (None, None) => Vec::new(),
            };
            out.push(StoredRecord {
                shard_id: shard_id.to_string(),
                sequence: l.seq,
                arrived: l.ts,
                partition_key: l.pk,
                data,
            });
            if out.len() >= max {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pk: &str, data: &[u8]) -> Record {
        Record { partition_key: pk.into(), data: data.to_vec() }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn the_leading_sequence_is_read_from_written_lines_only() {
        let line = serde_json::to_vec(&LineOut { seq: 1234, ts: "t", pk: "k", data: None, data_b64: None }).unwrap();
        assert_eq!(leading_seq(&line), Some(1234));
        for other in [&br#"{"ts":"t","seq":5}"#[..], br#"{"seq":"5"}"#, br#"{"seq":5"#, b"", b"garbage"] {
            assert_eq!(leading_seq(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn appends_reads_back_and_continues_sequences_after_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let (out_shard, before_on_shard);
        let inputs = vec![rec("p/alice", br#"{"n":1}"#), rec("p/bob", &[0xff, 0xfe]), rec("p/alice", br#"{"n":2}"#)];
        {
            let s = LocalStream::open(tmp.path(), 2, false).unwrap();
            let out = block_on(s.emit(&inputs));
            assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
            // Same key, same shard, rising sequence.
            let (a, c) = (out[0].as_ref().unwrap(), out[2].as_ref().unwrap());
            out_shard = a.shard_id.clone();
            before_on_shard = out.iter().filter(|r| r.as_ref().unwrap().shard_id == a.shard_id).count();
            assert_eq!(a.shard_id, c.shard_id);
            assert!(c.sequence_number.parse::<u64>().unwrap() > a.sequence_number.parse::<u64>().unwrap());
            // A second writer is refused while the first holds the stream.
            assert!(matches!(LocalStream::open(tmp.path(), 2, false), Err(LocalStreamError::Locked { .. })));
        }
        let alice_shard = out_shard.clone();
        let before_on_shard = before_on_shard;
        let s = LocalStream::open(tmp.path(), 2, false).unwrap();
        let again = block_on(s.emit(&[rec("p/alice", br#"{"n":3}"#)]));
        let mut all: Vec<StoredRecord> =
            shard_ids(tmp.path()).unwrap().iter().flat_map(|id| read_shard(tmp.path(), id, 0).unwrap()).collect();
        assert_eq!(all.len(), 4);
        all.sort_by_key(|r| (r.shard_id.clone(), r.sequence));
        let alice: Vec<&[u8]> =
            all.iter().filter(|r| r.partition_key == "p/alice").map(|r| r.data.as_slice()).collect();
        assert_eq!(alice, vec![&br#"{"n":1}"#[..], br#"{"n":2}"#, br#"{"n":3}"#]);
        assert!(all.iter().any(|r| r.data == [0xff, 0xfe]));
        // Sequences continue after reopening: never reused.
        assert_eq!(again[0].as_ref().unwrap().shard_id, alice_shard);
        assert_eq!(again[0].as_ref().unwrap().sequence_number, before_on_shard.to_string());
    }

    #[test]
    fn a_complete_but_corrupt_last_line_does_not_reset_sequences() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let s = LocalStream::open(tmp.path(), 1, false).unwrap();
            block_on(s.emit(&[rec("k", b"{}"), rec("k", b"[1]"), rec("k", b"[2]")]));
        }
        let seg = tmp.path().join("shard-0000").join(segment_name(0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"seq\":3,\"garbage\n").unwrap();
        drop(f);
        let s = LocalStream::open(tmp.path(), 1, false).unwrap();
        let out = block_on(s.emit(&[rec("k", b"\"next\"")]));
        assert_eq!(out[0].as_ref().unwrap().sequence_number, "3", "continues after the last whole record");
        let back = read_shard(tmp.path(), "shard-0000", 0).unwrap();
        assert_eq!(back.iter().map(|r| r.sequence).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn torn_tail_is_ignored_and_truncated() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let s = LocalStream::open(tmp.path(), 1, false).unwrap();
            block_on(s.emit(&[rec("k", b"{}"), rec("k", b"[1]")]));
        }
        let seg = tmp.path().join("shard-0000").join(segment_name(0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(br#"{"seq":2,"ts":"x","pk":"k","da"#).unwrap();
        drop(f);
        assert_eq!(read_shard(tmp.path(), "shard-0000", 0).unwrap().len(), 2);
        let s = LocalStream::open(tmp.path(), 1, false).unwrap();
        let out = block_on(s.emit(&[rec("k", b"\"after\"")]));
        assert_eq!(out[0].as_ref().unwrap().sequence_number, "2");
        let back = read_shard(tmp.path(), "shard-0000", 1).unwrap();
        assert_eq!(
            back.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
            vec![b"[1]".to_vec(), b"\"after\"".to_vec()]
        );
    }
}
