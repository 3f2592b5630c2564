//! The risk snapshot file: built whole by the scorer, published by an atomic
//! pointer, memory-mapped by the pre-auth trigger and read without copying.
//!
//! ```text
//! header   "ATSNAP02", built_us i64, version (u16 len + bytes),
//!          n_users u32, n_ips u32, n_asns u32, blob_len u32          (little endian)
//! (a user payload starts with a second 64-bit hash of the user key, not the
//! key itself; coordinates are f32; identical payloads are stored once)
//! users    n_users × (key_hash u64, offset u32, len u32)   sorted by key_hash
//! ips      n_ips   × (ip u128 (IPv4 mapped), score u8, pad 3, offset u32, len u32, pad 4)  sorted by ip
//! asns     n_asns  × (asn u32, score u8, pad 3, offset u32, len u32)                      sorted by asn
//! blob     payloads: a user's profile, an IP's or ASN's reasons
//! ```
//!
//! Lookups are binary searches over the fixed-size tables; only the pages
//! touched are read, so loading is a map and a header check whatever the
//! size. Every offset is bounds-checked on use: a corrupt file yields
//! "corrupt", never a panic. `<dir>/CURRENT` names the published file; a
//! new snapshot is written under its own name, then CURRENT is replaced by
//! rename, so a reader sees one version or the other, never a mix.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{LastSuccess, Risk, RiskSource, SnapshotState, UserProfile};

/// Bumped whenever the layout changes: an older reader calls a newer file
/// corrupt, so this reader still reads the layout before (layout 1: no
/// `usual_hours`) and a rollout in either order keeps working.
const MAGIC: &[u8; 8] = b"ATSNAP02";
const MAGIC_V1: &[u8; 8] = b"ATSNAP01";
const USER_ENTRY: usize = 16;
const IP_ENTRY: usize = 32;
const ASN_ENTRY: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("snapshot {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: &'static str },
}

/// FNV-1a: stable across builds and platforms, cheap on short keys.
fn key_hash(key: &str) -> u64 {
    fnv(0xcbf2_9ce4_8422_2325, key)
}

/// A second, independent hash kept in the payload instead of the key: the
/// pair (64 + 64 bits) tells users apart without storing their names.
fn check_hash(key: &str) -> u64 {
    fnv(0x6c62_272e_07bb_0142, key).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15
}

fn fnv(seed: u64, key: &str) -> u64 {
    key.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn ip_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

// --- writing ------------------------------------------------------------

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
}

fn put_strs(out: &mut Vec<u8>, list: &[String]) {
    out.extend_from_slice(&(list.len().min(u16::MAX as usize) as u16).to_le_bytes());
    for s in list.iter().take(u16::MAX as usize) {
        put_str(out, s);
    }
}

fn encode_user(key: &str, u: &UserProfile) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&check_hash(key).to_le_bytes());
    b.extend_from_slice(&u.login_count.to_le_bytes());
    b.extend_from_slice(&u.usual_hours.to_le_bytes());
    b.push(u.risk);
    match &u.last_success {
        Some(l) => {
            b.push(1);
            b.extend_from_slice(&l.time.timestamp_micros().to_le_bytes());
            // f32 keeps GeoIP coordinates to about a metre: plenty here.
            for v in [l.latitude, l.longitude, l.accuracy_radius_km] {
                b.extend_from_slice(&(v as f32).to_le_bytes());
            }
            put_str(&mut b, l.country.as_deref().unwrap_or(""));
        }
        None => b.push(0),
    }
    for list in [&u.known_countries, &u.known_cities, &u.known_devices, &u.reasons] {
        put_strs(&mut b, list);
    }
    b
}

/// Everything a snapshot holds, for [`write_snapshot`].
#[derive(Debug, Default, Clone)]
pub struct SnapshotData {
    pub version: String,
    pub built: DateTime<Utc>,
    /// (user key `pool/username`, profile)
    pub users: Vec<(String, UserProfile)>,
    pub ips: Vec<(IpAddr, Risk)>,
    pub asns: Vec<(u32, Risk)>,
}

/// Writes the snapshot as `<dir>/snapshot-<version>.bin` and publishes it by
/// replacing `<dir>/CURRENT` atomically. Returns the file's path.
pub fn write_snapshot(dir: &Path, data: &SnapshotData) -> Result<PathBuf, SnapshotError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SnapshotError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // Identical payloads (reason lists above all) are stored once.
    let mut blob = Vec::new();
    let mut interned: std::collections::HashMap<Vec<u8>, (u32, u32)> = std::collections::HashMap::new();
    let mut store = |payload: Vec<u8>| {
        *interned.entry(payload).or_insert_with_key(|p| {
            let at = (blob.len() as u32, p.len() as u32);
            blob.extend_from_slice(p);
            at
        })
    };
    let mut users: Vec<(u64, u32, u32)> = data
        .users
        .iter()
        .map(|(key, u)| {
            let (o, l) = store(encode_user(key, u));
            (key_hash(key), o, l)
        })
        .collect();
    users.sort_by_key(|u| u.0);
    let mut reasons = |r: &Risk| {
        let mut b = Vec::new();
        put_strs(&mut b, &r.reasons);
        store(b)
    };
    let mut ips: Vec<(u128, u8, u32, u32)> = data
        .ips
        .iter()
        .map(|(ip, r)| {
            let (o, l) = reasons(r);
            (ip_key(*ip), r.score, o, l)
        })
        .collect();
    ips.sort_by_key(|i| i.0);
    let mut asns: Vec<(u32, u8, u32, u32)> = data
        .asns
        .iter()
        .map(|(asn, r)| {
            let (o, l) = reasons(r);
            (*asn, r.score, o, l)
        })
        .collect();
    asns.sort_by_key(|a| a.0);

    let mut out = Vec::with_capacity(64 + users.len() * USER_ENTRY + ips.len() * IP_ENTRY + blob.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&data.built.timestamp_micros().to_le_bytes());
    put_str(&mut out, &data.version);
    for n in [users.len(), ips.len(), asns.len(), blob.len()] {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    for (h, o, l) in users {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&o.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
    }
    for (ip, score, o, l) in ips {
        out.extend_from_slice(&ip.to_le_bytes());
        out.extend_from_slice(&[score, 0, 0, 0]);
        out.extend_from_slice(&o.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
    }
    for (asn, score, o, l) in asns {
        out.extend_from_slice(&asn.to_le_bytes());
        out.extend_from_slice(&[score, 0, 0, 0]);
        out.extend_from_slice(&o.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
    }
    drop(interned);
    out.extend_from_slice(&blob);

    let name: String = format!("snapshot-{}.bin", data.version)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&out).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    let previous = std::fs::read_to_string(dir.join("CURRENT")).ok();
    let current_tmp = dir.join(".CURRENT.tmp");
    std::fs::write(&current_tmp, &name).map_err(io(&current_tmp))?;
    std::fs::rename(&current_tmp, dir.join("CURRENT")).map_err(io(dir))?;
    prune(dir, &[name.as_str(), previous.as_deref().unwrap_or_default().trim()]);
    Ok(path)
}

/// Deletes the snapshots older than the two newest. The one `CURRENT` named
/// until now stays, for a reader that has just read the pointer; readers of
/// older ones have them mapped already, and a mapping outlives the file's
/// name. Best effort: a file that cannot be deleted now is deleted next time.
fn prune(dir: &Path, keep: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snapshot-") && name.ends_with(".bin") && !keep.contains(&name.as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

// --- reading ------------------------------------------------------------

/// A published snapshot, memory-mapped.
pub struct Snapshot {
    map: memmap2::Mmap,
    /// 1 or 2 (the magic's last digit).
    layout: u8,
    version: String,
    built: DateTime<Utc>,
    users: (usize, usize),
    ips: (usize, usize),
    asns: (usize, usize),
    blob: (usize, usize),
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn f32(&mut self) -> Option<f64> {
        self.take(4).map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u16()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.u16()? as usize;
        (0..n).map(|_| self.str().map(str::to_string)).collect()
    }
}

impl Snapshot {
    /// Opens the snapshot `<dir>/CURRENT` names.
    pub fn open_current(dir: &Path) -> Result<Snapshot, SnapshotError> {
        let current = dir.join("CURRENT");
        let name =
            std::fs::read_to_string(&current).map_err(|source| SnapshotError::Io { path: current.clone(), source })?;
        Snapshot::open(&dir.join(name.trim()))
    }

    pub fn open(path: &Path) -> Result<Snapshot, SnapshotError> {
        let file = std::fs::File::open(path).map_err(|source| SnapshotError::Io { path: path.into(), source })?;
        // SAFETY: snapshot files are written whole under a new name and never
        // modified after publication.
        let map =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|source| SnapshotError::Io { path: path.into(), source })?;
        let corrupt = |reason| SnapshotError::Corrupt { path: path.into(), reason };
        let mut c = Cursor(&map);
        let layout = match c.take(8) {
            Some(m) if m == MAGIC.as_slice() => 2,
            Some(m) if m == MAGIC_V1.as_slice() => 1,
            _ => return Err(corrupt("not an authtrail snapshot (bad magic)")),
        };
        let built = c.i64().ok_or(corrupt("truncated header"))?;
        let version = c.str().ok_or(corrupt("truncated header"))?.to_string();
        let mut counts = [0usize; 4];
        for n in &mut counts {
            *n = c.u32().ok_or(corrupt("truncated header"))? as usize;
        }
        let mut at = map.len() - c.0.len();
        let mut section = |n: usize, size: usize| {
            let range = (at, at + n * size);
            at = range.1;
            range
        };
        let users = section(counts[0], USER_ENTRY);
        let ips = section(counts[1], IP_ENTRY);
        let asns = section(counts[2], ASN_ENTRY);
        let blob = section(counts[3], 1);
        if blob.1 != map.len() {
            return Err(corrupt("section sizes do not add up to the file size"));
        }
        let built = DateTime::from_timestamp_micros(built).ok_or(corrupt("bad build time"))?;
        Ok(Snapshot { map, layout, version, built, users, ips, asns, blob })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn built(&self) -> DateTime<Utc> {
        self.built
    }

    pub fn len(&self) -> (usize, usize, usize) {
        (
            (self.users.1 - self.users.0) / USER_ENTRY,
            (self.ips.1 - self.ips.0) / IP_ENTRY,
            (self.asns.1 - self.asns.0) / ASN_ENTRY,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0, 0)
    }

    fn blob(&self, offset: u32, len: u32) -> Option<&[u8]> {
        let blob = &self.map[self.blob.0..self.blob.1];
        blob.get(offset as usize..(offset as usize).checked_add(len as usize)?)
    }

    /// Binary search over a table of fixed-size entries by a key read from each.
    fn search<K: Ord>(
        &self,
        (start, end): (usize, usize),
        size: usize,
        key: K,
        read: impl Fn(&[u8]) -> K,
    ) -> Option<&[u8]> {
        let table = &self.map[start..end];
        let (mut lo, mut hi) = (0, table.len() / size);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let entry = &table[mid * size..(mid + 1) * size];
            match read(entry).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(entry),
            }
        }
        None
    }

    fn decode_user(&self, key: &str, offset: u32, len: u32) -> Option<UserProfile> {
        let mut c = Cursor(self.blob(offset, len)?);
        if c.u64()? != check_hash(key) {
            return None; // a collision of the table hash with another user
        }
        let login_count = c.i64()?;
        let usual_hours = if self.layout >= 2 { c.u32()? } else { 0 };
        let risk = c.u8()?;
        let last_success = match c.u8()? {
            1 => {
                let time = DateTime::from_timestamp_micros(c.i64()?)?;
                let (latitude, longitude, accuracy_radius_km) = (c.f32()?, c.f32()?, c.f32()?);
                let country = Some(c.str()?).filter(|s| !s.is_empty()).map(str::to_string);
                Some(LastSuccess { time, latitude, longitude, accuracy_radius_km, country })
            }
            _ => None,
        };
        Some(UserProfile {
            known_countries: c.strs()?,
            known_cities: c.strs()?,
            known_devices: c.strs()?,
            reasons: c.strs()?,
            last_success,
            login_count,
            usual_hours,
            risk,
        })
    }

    fn risk_at(&self, score: u8, offset: u32, len: u32) -> Option<Risk> {
        Some(Risk { score, reasons: Cursor(self.blob(offset, len)?).strs()? })
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

impl RiskSource for Snapshot {
    fn state(&self, now: DateTime<Utc>, max_age_secs: u64) -> SnapshotState {
        let age = (now - self.built).num_seconds().max(0) as u64;
        if age > max_age_secs {
            SnapshotState::Stale { version: self.version.clone(), age_secs: age }
        } else {
            SnapshotState::Fresh { version: self.version.clone() }
        }
    }

    fn user(&self, user_pool_id: &str, username: &str) -> Option<UserProfile> {
        let key = crate::event::user_key(user_pool_id, username);
        let e =
            self.search(self.users, USER_ENTRY, key_hash(&key), |e| u64::from_le_bytes(e[..8].try_into().expect("8")))?;
        self.decode_user(&key, le_u32(&e[8..]), le_u32(&e[12..]))
    }

    fn ip(&self, ip: IpAddr) -> Option<Risk> {
        let e =
            self.search(self.ips, IP_ENTRY, ip_key(ip), |e| u128::from_le_bytes(e[..16].try_into().expect("16")))?;
        self.risk_at(e[16], le_u32(&e[20..]), le_u32(&e[24..]))
    }

    fn asn(&self, asn: u32) -> Option<Risk> {
        let e = self.search(self.asns, ASN_ENTRY, asn, le_u32)?;
        self.risk_at(e[4], le_u32(&e[8..]), le_u32(&e[12..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn data() -> SnapshotData {
        let built = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let profile = |n: i64| UserProfile {
            known_countries: vec!["GB".into(), "SE".into()],
            known_cities: vec!["London".into()],
            known_devices: vec![format!("dev-{n}")],
            last_success: (n % 2 == 0).then(|| LastSuccess {
                time: built,
                latitude: 51.5,
                longitude: -0.125,
                accuracy_radius_km: 10.0,
                country: Some("GB".into()),
            }),
            login_count: n,
            usual_hours: (n as u32 * 7919) & 0x00ff_ffff,
            risk: (n % 100) as u8,
            reasons: vec!["failures".into()],
        };
        SnapshotData {
            version: "v42".into(),
            built,
            users: (0..500).map(|n| (format!("pool/user-{n}"), profile(n))).collect(),
            ips: vec![
                ("81.2.69.142".parse().unwrap(), Risk { score: 80, reasons: vec!["stuffing".into()] }),
                ("2a02::1".parse().unwrap(), Risk { score: 20, reasons: vec![] }),
            ],
            asns: vec![(1221, Risk { score: 30, reasons: vec!["spraying".into(), "tor".into()] })],
        }
    }

    #[test]
    fn round_trip_and_atomic_publication() {
        let tmp = tempfile::tempdir().unwrap();
        let d = data();
        write_snapshot(tmp.path(), &d).unwrap();
        let s = Snapshot::open_current(tmp.path()).unwrap();
        assert_eq!((s.version(), s.len()), ("v42", (500, 2, 1)));
        for (key, profile) in &d.users {
            let (pool, user) = key.split_once('/').unwrap();
            assert_eq!(s.user(pool, user).as_ref(), Some(profile), "{key}");
        }
        assert_eq!(s.user("pool", "nobody"), None);
        assert_eq!(s.ip("::ffff:81.2.69.142".parse().unwrap()).unwrap().score, 80);
        assert_eq!(s.ip("2a02::1".parse().unwrap()).unwrap().score, 20);
        assert_eq!(s.ip("8.8.8.8".parse().unwrap()), None);
        assert_eq!(s.asn(1221).unwrap().reasons, vec!["spraying".to_string(), "tor".to_string()]);
        assert_eq!(s.asn(1), None);

        // A newer version replaces CURRENT; the open reader keeps its version.
        let mut newer = d.clone();
        newer.version = "v43".into();
        newer.users.truncate(1);
        write_snapshot(tmp.path(), &newer).unwrap();
        assert_eq!(s.version(), "v42");
        assert_eq!(s.user("pool", "user-499").unwrap().login_count, 499);
        assert_eq!(Snapshot::open_current(tmp.path()).unwrap().len().0, 1);

        // Older ones are deleted; the two newest stay; an open reader still reads its own.
        for v in ["v44", "v45"] {
            newer.version = v.into();
            write_snapshot(tmp.path(), &newer).unwrap();
        }
        let mut files: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["CURRENT", "snapshot-v44.bin", "snapshot-v45.bin"]);
        assert_eq!(s.user("pool", "user-499").unwrap().login_count, 499, "a mapping outlives the file's name");
    }

    #[test]
    fn the_previous_layout_is_still_read() {
        // Layout 1 is layout 2 without the 4 bytes of hours after the login
        // count: rebuild a one-user file that way.
        let tmp = tempfile::tempdir().unwrap();
        let d = SnapshotData { users: data().users[3..4].to_vec(), ..data() };
        let d = SnapshotData { ips: vec![], asns: vec![], ..d };
        let mut v1 = std::fs::read(write_snapshot(tmp.path(), &d).unwrap()).unwrap();
        let header = 8 + 8 + 2 + d.version.len() + 16;
        v1[..8].copy_from_slice(MAGIC_V1);
        let shrink = |b: &mut Vec<u8>, at: usize| {
            let n = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) - 4;
            b[at..at + 4].copy_from_slice(&n.to_le_bytes());
        };
        shrink(&mut v1, header - 4); // blob length
        shrink(&mut v1, header + 12); // the user's payload length
        let hours = header + USER_ENTRY + 16;
        v1.drain(hours..hours + 4);
        let p = tmp.path().join("v1.bin");
        std::fs::write(&p, &v1).unwrap();
        let s = Snapshot::open(&p).unwrap();
        let (key, want) = &d.users[0];
        let (pool, user) = key.split_once('/').unwrap();
        assert_eq!(s.user(pool, user), Some(UserProfile { usual_hours: 0, ..want.clone() }));
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_snapshot(tmp.path(), &data()).unwrap();
        let good = std::fs::read(&path).unwrap();
        for (name, bytes) in [
            ("magic", {
                let mut b = good.clone();
                b[0] = b'X';
                b
            }),
            ("truncated", good[..good.len() - 7].to_vec()),
            ("header only", good[..20].to_vec()),
        ] {
            let p = tmp.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            assert!(matches!(Snapshot::open(&p), Err(SnapshotError::Corrupt { .. })), "{name}");
        }
        // Garbage inside the blob: lookups fail softly.
        let mut b = good.clone();
        let n = b.len();
        for x in &mut b[n - 200..] {
            *x = 0xff;
        }
        let p = tmp.path().join("scrambled");
        std::fs::write(&p, b).unwrap();
        let s = Snapshot::open(&p).unwrap();
        for n in 0..500 {
            let _ = s.user("pool", &format!("user-{n}"));
        }
        let _ = s.asn(1221);
        assert!(Snapshot::open_current(&tmp.path().join("missing")).is_err());
    }
}

/// The published snapshot of a directory, reloadable while in use: the
/// pre-auth trigger opens it at start and [`LiveSnapshot::refresh`]es it in
/// the background. A missing or corrupt snapshot is a state, not an error, so
/// the decision can apply its fail mode. An S3 location (see
/// [`LiveSnapshot::open_location`]) downloads into a local cache directory
/// and maps the file from there.
pub struct LiveSnapshot {
    /// The snapshot directory, or for S3 the local download cache.
    dir: PathBuf,
    pub(super) remote: Option<super::location::S3Source>,
    current: std::sync::RwLock<Loaded>,
}

pub(super) enum Loaded {
    Ready(std::sync::Arc<Snapshot>, String),
    Missing,
    Corrupt(String),
}

impl LiveSnapshot {
    pub fn open(dir: &Path) -> LiveSnapshot {
        let live = LiveSnapshot::unloaded(dir, None);
        live.reload();
        live
    }

    /// No snapshot, and nowhere to look for one: for a function that never
    /// decides (post-auth), so it neither loads nor refreshes anything.
    pub fn none() -> LiveSnapshot {
        LiveSnapshot::unloaded(Path::new(""), None)
    }

    pub(super) fn unloaded(dir: &Path, remote: Option<super::location::S3Source>) -> LiveSnapshot {
        LiveSnapshot { dir: dir.to_path_buf(), remote, current: std::sync::RwLock::new(Loaded::Missing) }
    }

    /// Re-reads `CURRENT`; swaps in a newly published snapshot. Returns
    /// whether the version changed. A reader holding the old one keeps it.
    /// Only for a local directory: an S3 location refreshes with
    /// [`LiveSnapshot::refresh`], which works for both.
    pub fn reload(&self) -> bool {
        if self.dir.as_os_str().is_empty() {
            return false; // LiveSnapshot::none()
        }
        if self.remote.is_some() {
            return false;
        }
        let current = self.dir.join("CURRENT");
        let name = match std::fs::read_to_string(&current) {
            Ok(n) => n.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.set(Loaded::Missing);
                return false;
            }
            Err(e) => {
                self.set(Loaded::Corrupt(e.to_string()));
                return false;
            }
        };
        self.load(&name)
    }

    /// Opens `<dir>/<name>` unless it is the one in use; returns whether it
    /// was (re)opened.
    pub(super) fn load(&self, name: &str) -> bool {
        if self.in_use().as_deref() == Some(name) {
            return false;
        }
        let next = match Snapshot::open(&self.dir.join(name)) {
            Ok(s) => Loaded::Ready(std::sync::Arc::new(s), name.to_string()),
            Err(SnapshotError::Corrupt { reason, .. }) => Loaded::Corrupt(reason.to_string()),
            Err(e) => Loaded::Corrupt(e.to_string()),
        };
        self.set(next);
        true
    }

    pub(super) fn set(&self, next: Loaded) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// The file name of the snapshot in use, if one is.
    pub(super) fn in_use(&self) -> Option<String> {
        match &*self.current.read().unwrap_or_else(|e| e.into_inner()) {
            Loaded::Ready(_, name) => Some(name.clone()),
            _ => None,
        }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The snapshot in use, for a reader that wants one version across
    /// several lookups; it stays valid after a newer one is swapped in.
    pub fn snapshot(&self) -> Option<std::sync::Arc<Snapshot>> {
        match &*self.current.read().unwrap_or_else(|e| e.into_inner()) {
            Loaded::Ready(s, _) => Some(std::sync::Arc::clone(s)),
            _ => None,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Snapshot) -> Option<T>) -> Option<T> {
        f(&*self.snapshot()?)
    }
}

impl RiskSource for LiveSnapshot {
    fn state(&self, now: DateTime<Utc>, max_age_secs: u64) -> SnapshotState {
        match &*self.current.read().unwrap_or_else(|e| e.into_inner()) {
            Loaded::Ready(s, _) => s.state(now, max_age_secs),
            Loaded::Missing => SnapshotState::Missing,
            Loaded::Corrupt(why) => SnapshotState::Corrupt(why.clone()),
        }
    }
    fn user(&self, user_pool_id: &str, username: &str) -> Option<UserProfile> {
        self.with(|s| s.user(user_pool_id, username))
    }
    fn ip(&self, ip: IpAddr) -> Option<Risk> {
        self.with(|s| s.ip(ip))
    }
    fn asn(&self, asn: u32) -> Option<Risk> {
        self.with(|s| s.asn(asn))
    }
    fn age_secs(&self, now: DateTime<Utc>) -> Option<u64> {
        self.with(|s| Some((now - s.built()).num_seconds().max(0) as u64))
    }
    fn pinned(&self) -> Option<std::sync::Arc<dyn RiskSource>> {
        self.snapshot().map(|s| s as std::sync::Arc<dyn RiskSource>)
    }
}

#[cfg(test)]
mod live_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn missing_then_published_then_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let live = LiveSnapshot::open(tmp.path());
        assert_eq!(live.state(now, 60), SnapshotState::Missing);
        let data = SnapshotData { version: "v1".into(), built: now, ..Default::default() };
        write_snapshot(tmp.path(), &data).unwrap();
        assert!(live.reload());
        assert!(!live.reload(), "unchanged CURRENT: nothing to do");
        assert_eq!(live.state(now, 60), SnapshotState::Fresh { version: "v1".into() });
        assert_eq!(live.age_secs(now + chrono::Duration::seconds(90)), Some(90));
        std::fs::write(tmp.path().join("snapshot-v2.bin"), b"ATSNAP02 but not really").unwrap();
        std::fs::write(tmp.path().join("CURRENT"), "snapshot-v2.bin").unwrap();
        assert!(live.reload());
        assert!(matches!(live.state(now, 60), SnapshotState::Corrupt(_)));
        assert_eq!(live.user("p", "u"), None);
    }
}
