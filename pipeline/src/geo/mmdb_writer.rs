//! A small writer for the MaxMind DB (.mmdb) format, version 2.0
//! (<https://maxmind.github.io/MaxMind-DB/>).
//!
//! Built for tests and small demo extracts: the whole tree lives in memory,
//! values are deduplicated by their encoded bytes, and the output is
//! byte-for-byte deterministic (fixed build epoch, insertion-ordered data).
//! IPv4 networks in an IPv6 database live under `::/96` only; no
//! `::ffff:0:0/96` or `2002::/16` aliases are written.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// A value in the data section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Double(f64),
    Float(f32),
    Uint16(u16),
    Uint32(u32),
    Uint64(u64),
    Int32(i32),
    Bool(bool),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

impl Value {
    /// A map keeping the given entry order (order is part of the encoding).
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }
}

#[derive(Debug)]
pub enum WriteError {
    PrefixTooLong { prefix: u8, max: u8 },
    Ipv6InIpv4Database,
    TooLarge,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::PrefixTooLong { prefix, max } => {
                write!(f, "prefix length {prefix} exceeds the maximum of {max}")
            }
            WriteError::Ipv6InIpv4Database => f.write_str("IPv6 network inserted into an IPv4 database"),
            WriteError::TooLarge => f.write_str("value or database too large for the MaxMind DB format"),
        }
    }
}

impl std::error::Error for WriteError {}

/// One search-tree record while building: nothing, a data entry, or a child node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rec {
    Empty,
    Data(usize),
    Node(usize),
}

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

pub struct MmdbWriter {
    database_type: String,
    ip_version: u16,
    languages: Vec<String>,
    description: Vec<(String, String)>,
    build_epoch: u64,
    /// Smallest record size to use; only raised by tests to cover 28/32-bit nodes.
    min_record_size: u16,
    root: Rec,
    nodes: Vec<[Rec; 2]>,
    /// Encoded values, in first-insert order; `index` maps bytes back to the slot.
    data: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
}

impl MmdbWriter {
    /// ip_version 4 or 6; the record size (24/28/32) is chosen from the final size.
    pub fn new(database_type: &str, ip_version: u16) -> Self {
        assert!(ip_version == 4 || ip_version == 6, "ip_version must be 4 or 6");
        MmdbWriter {
            database_type: database_type.to_string(),
            ip_version,
            languages: Vec::new(),
            description: Vec::new(),
            build_epoch: 0,
            min_record_size: 24,
            root: Rec::Empty,
            nodes: Vec::new(),
            data: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds (or replaces) the metadata description for `lang`.
    pub fn description(mut self, lang: &str, text: &str) -> Self {
        self.description.retain(|(l, _)| l != lang);
        self.description.push((lang.to_string(), text.to_string()));
        self
    }

    /// Locale codes for the metadata `languages` array (empty by default).
    pub fn languages(mut self, langs: &[&str]) -> Self {
        self.languages = langs.iter().map(|l| l.to_string()).collect();
        self
    }

    /// Build timestamp stored in the metadata; defaults to 0 so output is reproducible.
    pub fn build_epoch(mut self, epoch: u64) -> Self {
        self.build_epoch = epoch;
        self
    }

    /// Insert `value` for network/prefix_len. An IPv4 network in an IPv6 database
    /// goes to ::a.b.c.d/(96+len). A later network replaces earlier data only
    /// inside itself: more specific ones carve a hole, less specific ones cover all.
    pub fn insert(&mut self, network: IpAddr, prefix_len: u8, value: Value) -> Result<(), WriteError> {
        let max = if network.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(WriteError::PrefixTooLong { prefix: prefix_len, max });
        }
        // Key bits are left-aligned in a u128 so one walk serves both tree depths.
        let (key, depth) = match (network, self.ip_version) {
            (IpAddr::V4(v4), 4) => ((u32::from(v4) as u128) << 96, prefix_len),
            (IpAddr::V4(v4), _) => (u32::from(v4) as u128, 96 + prefix_len),
            (IpAddr::V6(_), 4) => return Err(WriteError::Ipv6InIpv4Database),
            (IpAddr::V6(v6), _) => (u128::from(v6), prefix_len),
        };
        let leaf = Rec::Data(self.intern(value)?);
        if depth == 0 {
            self.root = leaf;
            return Ok(());
        }
        let mut node = self.descend(None, 0);
        for i in 0..depth {
            let bit = ((key >> (127 - i)) & 1) as usize;
            if i + 1 == depth {
                // Replacing the record drops any more specific subtree below it.
                self.nodes[node][bit] = leaf;
            } else {
                node = self.descend(Some(node), bit);
            }
        }
        Ok(())
    }

    /// Returns the node under `parent[bit]` (or the root), splitting a leaf into
    /// a node whose halves both inherit it, so the rest of a wider network keeps its value.
    fn descend(&mut self, parent: Option<usize>, bit: usize) -> usize {
        let rec = match parent {
            Some(p) => self.nodes[p][bit],
            None => self.root,
        };
        if let Rec::Node(n) = rec {
            return n;
        }
        self.nodes.push([rec, rec]);
        let n = Rec::Node(self.nodes.len() - 1);
        match parent {
            Some(p) => self.nodes[p][bit] = n,
            None => self.root = n,
        }
        self.nodes.len() - 1
    }

    fn intern(&mut self, value: Value) -> Result<usize, WriteError> {
        let mut bytes = Vec::new();
        encode(&value, &mut bytes)?;
        let next = self.data.len();
        let slot = *self.index.entry(bytes.clone()).or_insert(next);
        if slot == next {
            self.data.push(bytes);
        }
        Ok(slot)
    }

    /// Copies reachable nodes into `out` in post-order, collapsing nodes whose
    /// halves are the same leaf (so overrides with equal data leave no extra nodes).
    fn compact(&self, rec: Rec, out: &mut Vec<[Rec; 2]>) -> Rec {
        let Rec::Node(n) = rec else { return rec };
        let left = self.compact(self.nodes[n][0], out);
        let right = self.compact(self.nodes[n][1], out);
        if left == right && !matches!(left, Rec::Node(_)) {
            return left;
        }
        out.push([left, right]);
        Rec::Node(out.len() - 1)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, WriteError> {
        let mut tree = Vec::new();
        let root = self.compact(self.root, &mut tree);
        if !matches!(root, Rec::Node(_)) {
            tree.push([root, root]); // node 0 must exist even for a single leaf
        }
        // Post-order puts the root last; numbering in reverse makes it node 0.
        let node_count = tree.len();
        let number = |i: usize| node_count - 1 - i;

        // Lay out only values still referenced, in insertion order.
        let mut offsets: Vec<Option<usize>> = vec![None; self.data.len()];
        for rec in tree.iter().flatten() {
            if let Rec::Data(d) = *rec {
                offsets[d] = Some(0);
            }
        }
        let mut data_section = Vec::new();
        for (slot, bytes) in self.data.iter().enumerate() {
            if offsets[slot].is_some() {
                offsets[slot] = Some(data_section.len());
                data_section.extend_from_slice(bytes);
            }
        }

        // Smallest standard record size that can address every pointer.
        let max_record = (node_count + 16 + data_section.len()) as u64;
        let record_size = [24u16, 28, 32]
            .into_iter()
            .find(|&bits| bits >= self.min_record_size && max_record < 1 << bits)
            .ok_or(WriteError::TooLarge)?;
        let record = |rec: Rec| -> u32 {
            match rec {
                Rec::Empty => node_count as u32, // "no data" marker
                Rec::Node(i) => number(i) as u32,
                Rec::Data(d) => (node_count + 16 + offsets[d].expect("laid out")) as u32,
            }
        };

        let mut out = Vec::with_capacity(node_count * 8 + 16 + data_section.len() + 256);
        for [l, r] in tree.iter().rev().map(|n| n.map(record)) {
            let (l, r) = (l.to_be_bytes(), r.to_be_bytes());
            out.extend(match record_size {
                24 => [&l[1..], &r[1..]].concat(),
                // 28-bit records share the middle byte: the top nibble of each.
                28 => [&l[1..], &[l[0] << 4 | r[0]], &r[1..]].concat(),
                _ => [l, r].concat(),
            });
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data_section);
        out.extend_from_slice(METADATA_MARKER);

        let node_count = u32::try_from(node_count).map_err(|_| WriteError::TooLarge)?;
        let description = self.description.iter().map(|(l, t)| (l.clone(), Value::str(t)));
        let metadata = Value::map([
            ("binary_format_major_version", Value::Uint16(2)),
            ("binary_format_minor_version", Value::Uint16(0)),
            ("build_epoch", Value::Uint64(self.build_epoch)),
            ("database_type", Value::str(&self.database_type)),
            ("description", Value::map(description)),
            ("ip_version", Value::Uint16(self.ip_version)),
            ("languages", Value::Array(self.languages.iter().map(Value::str).collect())),
            ("node_count", Value::Uint32(node_count)),
            ("record_size", Value::Uint16(record_size)),
        ]);
        encode(&metadata, &mut out)?;
        Ok(out)
    }

    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        let bytes = self.to_bytes().map_err(std::io::Error::other)?;
        std::fs::write(path, bytes)
    }
}

/// Writes a control byte (plus extended-type and size bytes) for `type_num` and `size`.
fn control(type_num: u8, size: usize, out: &mut Vec<u8>) -> Result<(), WriteError> {
    let (bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        65_821..=16_843_036 => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
        _ => return Err(WriteError::TooLarge),
    };
    if type_num <= 7 {
        out.push(type_num << 5 | bits);
    } else {
        // Extended types: type 0 in the control byte, the real type minus 7 next.
        out.push(bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

/// Unsigned integers use the fewest big-endian bytes (zero needs none).
fn encode_uint(type_num: u8, v: u64, out: &mut Vec<u8>) -> Result<(), WriteError> {
    let bytes = v.to_be_bytes();
    let skip = (v.leading_zeros() / 8) as usize;
    control(type_num, 8 - skip, out)?;
    out.extend_from_slice(&bytes[skip..]);
    Ok(())
}

fn encode(value: &Value, out: &mut Vec<u8>) -> Result<(), WriteError> {
    match value {
        Value::String(s) => {
            control(2, s.len(), out)?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Double(d) => {
            control(3, 8, out)?;
            out.extend_from_slice(&d.to_be_bytes());
        }
        Value::Float(f) => {
            control(15, 4, out)?;
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Uint16(v) => encode_uint(5, u64::from(*v), out)?,
        Value::Uint32(v) => encode_uint(6, u64::from(*v), out)?,
        Value::Uint64(v) => encode_uint(9, *v, out)?,
        // Negative int32 must use all 4 bytes so the sign bit is present.
        Value::Int32(v) if *v < 0 => {
            control(8, 4, out)?;
            out.extend_from_slice(&v.to_be_bytes());
        }
        Value::Int32(v) => encode_uint(8, *v as u64, out)?,
        Value::Bool(b) => control(14, usize::from(*b), out)?,
        Value::Map(entries) => {
            control(7, entries.len(), out)?;
            for (k, v) in entries {
                encode(&Value::str(k.as_str()), out)?;
                encode(v, out)?;
            }
        }
        Value::Array(items) => {
            control(11, items.len(), out)?;
            for v in items {
                encode(v, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb::{Reader, geoip2};
    use serde::Deserialize;

    /// The DB-IP City Lite record layout.
    #[derive(Debug, Deserialize, PartialEq)]
    struct DbIp {
        city: String,
        country_code: String,
        latitude: f32,
        longitude: f32,
        postcode: String,
        state1: String,
        state2: String,
        timezone: String,
    }

    fn dbip(city: &str, cc: &str, lat: f32, lon: f32) -> Value {
        Value::map([
            ("city", Value::str(city)),
            ("country_code", Value::str(cc)),
            ("latitude", Value::Float(lat)),
            ("longitude", Value::Float(lon)),
            ("postcode", Value::str("")),
            ("state1", Value::str("State")),
            ("state2", Value::str("")),
            ("timezone", Value::str("Europe/Berlin")),
        ])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn put(w: &mut MmdbWriter, net: &str, len: u8, value: Value) {
        w.insert(ip(net), len, value).unwrap();
    }

    fn network(r: &Reader<Vec<u8>>, addr: &str) -> String {
        r.lookup(ip(addr)).unwrap().network().unwrap().to_string()
    }

    /// Builds, verifies and opens the database.
    fn open(w: &MmdbWriter) -> Reader<Vec<u8>> {
        let r = Reader::from_source(w.to_bytes().unwrap()).unwrap();
        r.verify().unwrap();
        r
    }

    fn get<'a, T: Deserialize<'a>>(r: &'a Reader<Vec<u8>>, addr: &str) -> Option<T> {
        r.lookup(ip(addr)).unwrap().decode().unwrap()
    }

    fn city_of(r: &Reader<Vec<u8>>, addr: &str) -> Option<String> {
        get::<DbIp>(r, addr).map(|d| d.city)
    }

    fn writer(ip_version: u16) -> MmdbWriter {
        MmdbWriter::new("Test-DB", ip_version).description("en", "test")
    }

    #[test]
    fn ipv4_dbip_layout_round_trips() {
        let mut w = MmdbWriter::new("DBIP-City-Lite", 4).description("en", "lite").build_epoch(42);
        let berlin = dbip("Berlin", "DE", 52.52, 13.405);
        put(&mut w, "1.2.3.0", 24, berlin.clone());
        put(&mut w, "8.8.8.0", 24, dbip("Mountain View", "US", 37.386, -122.08));
        put(&mut w, "10.0.0.0", 8, berlin);
        let r = open(&w);
        let m = r.metadata();
        assert_eq!((m.ip_version, m.record_size, m.build_epoch), (4, 24, 42));
        assert_eq!((m.database_type.as_str(), m.description["en"].as_str()), ("DBIP-City-Lite", "lite"));
        assert!(m.languages.is_empty());
        let d: DbIp = get(&r, "8.8.8.8").unwrap();
        assert_eq!((d.country_code.as_str(), d.latitude, d.longitude), ("US", 37.386, -122.08));
        assert_eq!((d.state1.as_str(), d.timezone.as_str()), ("State", "Europe/Berlin"));
        assert_eq!(network(&r, "8.8.8.8"), "8.8.8.0/24");
        assert_eq!(city_of(&r, "10.20.30.40").as_deref(), Some("Berlin"));
        // Equal values share one data entry.
        let offset = |a: &str| r.lookup(ip(a)).unwrap().offset();
        assert_eq!(offset("1.2.3.4"), offset("10.0.0.1"));
    }

    #[test]
    fn ipv6_db_holds_ipv4_and_ipv6_networks() {
        let mut w = writer(6).languages(&["en"]);
        let city = |name: &str, lat: f64| {
            let names = Value::map([("names", Value::map([("en", Value::str(name))]))]);
            let location = Value::map([("latitude", Value::Double(lat)), ("time_zone", Value::str("Europe/Berlin"))]);
            let country = Value::map([("iso_code", Value::str("DE"))]);
            Value::map([("city", names), ("country", country), ("location", location)])
        };
        put(&mut w, "81.2.69.0", 24, city("Hamburg", 53.55));
        put(&mut w, "2a02:8100::", 32, city("Munich", 48.13));
        let r = open(&w);
        assert_eq!((r.metadata().ip_version, r.metadata().languages.clone()), (6, vec!["en".into()]));
        let c: geoip2::City = get(&r, "81.2.69.160").unwrap();
        assert_eq!((c.city.names.english, c.location.latitude), (Some("Hamburg"), Some(53.55)));
        assert_eq!(c.country.iso_code, Some("DE"));
        assert_eq!(network(&r, "81.2.69.1"), "81.2.69.0/24");
        let c: geoip2::City = get(&r, "2a02:8100::1").unwrap();
        assert_eq!(c.city.names.english, Some("Munich"));
        for addr in ["81.2.70.1", "2a02:8101::1", "::1"] {
            assert!(!r.lookup(ip(addr)).unwrap().has_data(), "{addr}");
        }
    }

    #[test]
    fn later_networks_override_only_inside_themselves() {
        let mut w = writer(4);
        put(&mut w, "10.0.0.0", 8, dbip("Wide", "DE", 1.0, 1.0));
        put(&mut w, "10.1.0.0", 16, dbip("Narrow", "DE", 2.0, 2.0));
        let r = open(&w);
        assert_eq!(city_of(&r, "10.1.2.3").as_deref(), Some("Narrow"));
        assert_eq!(city_of(&r, "10.2.0.1").as_deref(), Some("Wide"));
        assert_eq!(city_of(&r, "10.255.255.255").as_deref(), Some("Wide"));
        // A wider network inserted later replaces everything inside it.
        put(&mut w, "10.0.0.0", 8, dbip("Wider", "DE", 3.0, 3.0));
        let r = open(&w);
        assert_eq!(city_of(&r, "10.1.2.3").as_deref(), Some("Wider"));
        assert_eq!(r.metadata().node_count, 8); // the /16 subtree is gone
        assert!(w.to_bytes().unwrap().windows(6).all(|b| b != b"Narrow"));
    }

    #[test]
    fn not_found_has_no_data() {
        let mut w = writer(4);
        put(&mut w, "192.0.2.0", 24, Value::str("x"));
        let r = open(&w);
        let miss = r.lookup(ip("198.51.100.1")).unwrap();
        assert!(!miss.has_data());
        assert_eq!(miss.decode::<String>().unwrap(), None);
        let empty = open(&writer(6));
        assert_eq!(empty.metadata().node_count, 1);
        assert!(!empty.lookup(ip("2001:db8::1")).unwrap().has_data());
    }

    #[test]
    fn output_is_deterministic_and_deduplicated() {
        let build = || {
            let mut w = writer(6).description("de", "Test");
            for i in 0..50u8 {
                let town = if i % 2 == 0 { "EvenTown" } else { "OddTown" };
                put(&mut w, &format!("{i}.0.0.0"), 8, dbip(town, "DE", 1.5, 2.5));
                put(&mut w, &format!("2001:db8:{i:x}::"), 48, Value::Uint32(i.into()));
            }
            w.to_bytes().unwrap()
        };
        let bytes = build();
        assert_eq!(bytes, build());
        assert_eq!(bytes.windows(8).filter(|b| b == b"EvenTown").count(), 1);
        Reader::from_source(bytes).unwrap().verify().unwrap();
    }

    #[test]
    fn larger_record_sizes_round_trip() {
        for bits in [28, 32] {
            let mut w = writer(6);
            w.min_record_size = bits;
            put(&mut w, "1.2.3.0", 24, dbip("Berlin", "DE", 1.0, 2.0));
            put(&mut w, "2001:db8::", 32, dbip("Paris", "FR", 3.0, 4.0));
            let r = open(&w);
            assert_eq!(r.metadata().record_size, bits);
            assert_eq!(city_of(&r, "1.2.3.4").as_deref(), Some("Berlin"));
            assert_eq!(city_of(&r, "2001:db8::1").as_deref(), Some("Paris"));
            assert!(!r.lookup(ip("1.2.4.1")).unwrap().has_data());
        }
    }

    #[test]
    fn encodes_every_value_type_and_size_class() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct All(f64, u16, u32, u64, i32, i32, bool, bool, Vec<String>, String, String, String);
        let (s29, s300, s70k) = ("a".repeat(29), "b".repeat(300), "c".repeat(70_000));
        let value = Value::Array(vec![
            Value::Double(-1.25),
            Value::Uint16(0),
            Value::Uint32(70_000),
            Value::Uint64(u64::MAX),
            Value::Int32(-5),
            Value::Int32(300),
            Value::Bool(true),
            Value::Bool(false),
            Value::Array(vec![Value::str("x"), Value::str("y")]),
            Value::str(&s29),
            Value::str(&s300),
            Value::str(&s70k),
        ]);
        let mut w = writer(4);
        put(&mut w, "0.0.0.0", 0, value);
        let all: All = get(&open(&w), "203.0.113.9").unwrap();
        let xy = vec!["x".to_string(), "y".to_string()];
        assert_eq!(all, All(-1.25, 0, 70_000, u64::MAX, -5, 300, true, false, xy, s29, s300, s70k));
    }

    #[test]
    fn rejects_bad_networks_and_writes_files() {
        let (mut w4, mut w6) = (writer(4), writer(6));
        let too_long = |e| matches!(e, Err(WriteError::PrefixTooLong { .. }));
        assert!(too_long(w4.insert(ip("1.0.0.0"), 33, Value::Bool(true))));
        assert!(too_long(w6.insert(ip("::"), 129, Value::Bool(true))));
        let err = w4.insert(ip("::1"), 128, Value::Bool(true));
        assert!(matches!(err, Err(WriteError::Ipv6InIpv4Database)));
        put(&mut w4, "1.0.0.0", 8, Value::Bool(true));
        let path = std::env::temp_dir().join(format!("mmdb_writer_{}.mmdb", std::process::id()));
        w4.write_to(&path).unwrap();
        let r = Reader::open_readfile(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(get::<bool>(&r, "1.2.3.4"), Some(true));
    }
}
