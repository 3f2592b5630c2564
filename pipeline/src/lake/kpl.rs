//! De-aggregation of Kinesis Producer Library (KPL) aggregated records, so
//! that producers other than authtrail's triggers can feed the lake.
//!
//! Format (KPL "aggregation format"): the magic bytes `f3 89 9a c2`, a
//! protobuf `AggregatedRecord`, then the 16-byte MD5 of the protobuf bytes.
//!
//! ```text
//! message AggregatedRecord {
//!   repeated string partition_key_table     = 1;
//!   repeated string explicit_hash_key_table = 2;
//!   repeated Record records                 = 3;
//! }
//! message Record {
//!   required uint64 partition_key_index     = 1;
//!   optional uint64 explicit_hash_key_index = 2;
//!   required bytes  data                    = 3;
//!   repeated Tag    tags                    = 4;
//! }
//! ```
//!
//! The few protobuf rules needed are decoded by hand rather than pulling in a
//! protobuf code generator for two messages.

use md5::{Digest, Md5};

pub const MAGIC: [u8; 4] = [0xf3, 0x89, 0x9a, 0xc2];

/// One user record from inside an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubRecord {
    pub partition_key: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KplError {
    #[error("KPL aggregate is too short")]
    TooShort,
    #[error("KPL aggregate checksum does not match (corrupt record)")]
    BadChecksum,
    #[error("KPL aggregate is not valid protobuf: {0}")]
    Protobuf(&'static str),
}

/// Whether `data` carries the KPL magic prefix.
pub fn is_aggregated(data: &[u8]) -> bool {
    data.len() >= MAGIC.len() && data[..MAGIC.len()] == MAGIC
}

/// Splits an aggregated record into its user records.
pub fn deaggregate(data: &[u8]) -> Result<Vec<SubRecord>, KplError> {
    if data.len() < MAGIC.len() + 16 || !is_aggregated(data) {
        return Err(KplError::TooShort);
    }
    let body = &data[MAGIC.len()..data.len() - 16];
    let checksum = &data[data.len() - 16..];
    if Md5::digest(body).as_slice() != checksum {
        return Err(KplError::BadChecksum);
    }
    let mut keys = Vec::new();
    let mut records = Vec::new();
    let mut r = Reader(body);
    while !r.0.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, 2) => {
                keys.push(String::from_utf8(r.bytes()?.to_vec()).map_err(|_| KplError::Protobuf("key is not UTF-8"))?)
            }
            (3, 2) => records.push(r.bytes()?),
            _ => r.skip(wire)?,
        }
    }
    records
        .into_iter()
        .map(|rec| {
            let mut r = Reader(rec);
            let (mut key_index, mut payload) = (None, None);
            while !r.0.is_empty() {
                let (field, wire) = r.key()?;
                match (field, wire) {
                    (1, 0) => key_index = Some(r.varint()?),
                    (3, 2) => payload = Some(r.bytes()?.to_vec()),
                    _ => r.skip(wire)?,
                }
            }
            let index = key_index.ok_or(KplError::Protobuf("record without partition_key_index"))?;
            let partition_key = keys
                .get(usize::try_from(index).map_err(|_| KplError::Protobuf("index overflow"))?)
                .ok_or(KplError::Protobuf("partition_key_index out of range"))?
                .clone();
            Ok(SubRecord { partition_key, data: payload.ok_or(KplError::Protobuf("record without data"))? })
        })
        .collect()
}

/// Builds an aggregated record (tests and tools; authtrail's own producers
/// send one event per record).
pub fn aggregate(records: &[SubRecord]) -> Vec<u8> {
    let mut keys: Vec<&str> = Vec::new();
    let mut body = Vec::new();
    let mut encoded_records = Vec::new();
    for r in records {
        let index = keys.iter().position(|k| *k == r.partition_key).unwrap_or_else(|| {
            keys.push(&r.partition_key);
            keys.len() - 1
        });
        let mut rec = Vec::new();
        put_key(&mut rec, 1, 0);
        put_varint(&mut rec, index as u64);
        put_key(&mut rec, 3, 2);
        put_varint(&mut rec, r.data.len() as u64);
        rec.extend_from_slice(&r.data);
        encoded_records.push(rec);
    }
    for k in &keys {
        put_key(&mut body, 1, 2);
        put_varint(&mut body, k.len() as u64);
        body.extend_from_slice(k.as_bytes());
    }
    for rec in encoded_records {
        put_key(&mut body, 3, 2);
        put_varint(&mut body, rec.len() as u64);
        body.extend_from_slice(&rec);
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&body);
    out.extend_from_slice(&Md5::digest(&body));
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, (field << 3) | wire);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, KplError> {
        let mut v = 0u64;
        for (i, &b) in self.0.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(v);
            }
        }
        Err(KplError::Protobuf("truncated varint"))
    }

    fn key(&mut self) -> Result<(u64, u64), KplError> {
        let k = self.varint()?;
        Ok((k >> 3, k & 7))
    }

    fn bytes(&mut self) -> Result<&'a [u8], KplError> {
        let len = usize::try_from(self.varint()?).map_err(|_| KplError::Protobuf("length overflow"))?;
        if len > self.0.len() {
            return Err(KplError::Protobuf("truncated field"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn skip(&mut self, wire: u64) -> Result<(), KplError> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.advance(8),
            2 => self.bytes().map(drop),
            5 => self.advance(4),
            _ => Err(KplError::Protobuf("unsupported wire type")),
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), KplError> {
        if n > self.0.len() {
            return Err(KplError::Protobuf("truncated field"));
        }
        self.0 = &self.0[n..];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(k: &str, d: &str) -> SubRecord {
        SubRecord { partition_key: k.into(), data: d.as_bytes().to_vec() }
    }

    #[test]
    fn round_trip_with_shared_keys() {
        let input = vec![sub("a", "{\"n\":1}"), sub("b", "{\"n\":2}"), sub("a", "")];
        let agg = aggregate(&input);
        assert!(is_aggregated(&agg));
        assert_eq!(deaggregate(&agg).unwrap(), input);
    }

    #[test]
    fn corrupt_aggregates_are_rejected() {
        let mut agg = aggregate(&[sub("a", "payload")]);
        let mid = agg.len() / 2;
        agg[mid] ^= 0xff;
        assert_eq!(deaggregate(&agg), Err(KplError::BadChecksum));
        assert_eq!(deaggregate(&MAGIC), Err(KplError::TooShort));
        // Valid checksum over a body that is not protobuf.
        let body = [0x0a, 0xff];
        let mut bad = MAGIC.to_vec();
        bad.extend_from_slice(&body);
        bad.extend_from_slice(&Md5::digest(body));
        assert!(matches!(deaggregate(&bad), Err(KplError::Protobuf(_))));
    }
}
