//! Stream records → validated events, and dead letters for everything else.
//! A bad record never blocks the good ones around it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::kpl;
use crate::event::Event;
use crate::stream::json_or_base64;

/// A record as read from a stream, before decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    pub shard_id: String,
    /// Kinesis sequence number, or the local stream's sequence as a string.
    pub sequence: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    pub arrival: DateTime<Utc>,
}

/// A record that did not become an event, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub shard_id: String,
    pub sequence: String,
    /// Position inside a KPL aggregate.
    pub sub_sequence: Option<u32>,
    pub partition_key: String,
    pub reason: String,
    pub data: Vec<u8>,
    pub arrival: DateTime<Utc>,
}

#[derive(Serialize)]
struct DeadLetterLine<'a> {
    shard_id: &'a str,
    sequence_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_sequence: Option<u32>,
    partition_key: &'a str,
    reason: &'a str,
    arrival: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    /// The raw bytes when they are not single-line JSON (not UTF-8, truncated …).
    #[serde(skip_serializing_if = "Option::is_none")]
    data_b64: Option<String>,
}

/// The JSON-lines form of a dead letter, as read back by [`DeadLetter::from_line`].
#[derive(Debug, Deserialize)]
pub struct DeadLetterRecord {
    pub shard_id: String,
    pub sequence_number: String,
    pub sub_sequence: Option<u32>,
    pub partition_key: String,
    pub reason: String,
    pub arrival: String,
    pub data: Option<Box<RawValue>>,
    pub data_b64: Option<String>,
}

impl DeadLetter {
    /// One JSON line (no newline).
    pub fn to_line(&self) -> String {
        let (data, data_b64) = json_or_base64(&self.data);
        // Raw JSON is only embedded when it is a complete value; a truncated
        // record (the usual dead letter) is kept as base64, byte for byte.
        let line = DeadLetterLine {
            shard_id: &self.shard_id,
            sequence_number: &self.sequence,
            sub_sequence: self.sub_sequence,
            partition_key: &self.partition_key,
            reason: &self.reason,
            arrival: self.arrival.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            data,
            data_b64,
        };
        serde_json::to_string(&line).expect("dead letter serialises")
    }

    pub fn from_line(line: &str) -> Result<DeadLetterRecord, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// What a batch of records became. Each event and dead letter carries the
/// index of the input record it came from.
#[derive(Debug, Default)]
pub struct Decoded {
    pub events: Vec<(usize, Event)>,
    pub dead_letters: Vec<(usize, DeadLetter)>,
}

/// Decodes every record: KPL aggregates are split, each payload parsed and
/// validated as an [`Event`]; failures become dead letters.
pub fn decode(records: &[SourceRecord]) -> Decoded {
    let mut out = Decoded { events: Vec::with_capacity(records.len()), dead_letters: Vec::new() };
    for (index, r) in records.iter().enumerate() {
        let dead = |sub_sequence, partition_key: &str, data: &[u8], reason: String| DeadLetter {
            shard_id: r.shard_id.clone(),
            sequence: r.sequence.clone(),
            sub_sequence,
            partition_key: partition_key.to_string(),
            reason,
            data: data.to_vec(),
            arrival: r.arrival,
        };
        if kpl::is_aggregated(&r.data) {
            match kpl::deaggregate(&r.data) {
                Ok(subs) => {
                    for (i, sub) in subs.iter().enumerate() {
                        match Event::from_json(&sub.data) {
                            Ok(e) => out.events.push((index, e)),
                            Err(err) => {
                                let reason = err.to_string();
                                out.dead_letters
                                    .push((index, dead(Some(i as u32), &sub.partition_key, &sub.data, reason)))
                            }
                        }
                    }
                }
                Err(err) => out.dead_letters.push((index, dead(None, &r.partition_key, &r.data, err.to_string()))),
            }
            continue;
        }
        match Event::from_json(&r.data) {
            Ok(e) => out.events.push((index, e)),
            Err(err) => out.dead_letters.push((index, dead(None, &r.partition_key, &r.data, err.to_string()))),
        }
    }
    out
}
