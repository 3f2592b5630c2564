//! Spill lines: a record no sink took in time, written to the log whole
//! with the reason, so it can be recovered; nothing is dropped silently.

use base64::Engine;
use serde::Serialize;
use serde_json::value::RawValue;

use super::sink::Record;

/// The tag that marks a spill line in logs.
pub const SPILL_TAG: &str = "authtrail_spill";

#[derive(Serialize)]
struct Spill<'a> {
    authtrail_spill: u8,
    reason: &'a str,
    partition_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_b64: Option<String>,
}

/// One JSON line (no newline) holding an undelivered record: `data` is the
/// event itself when it is single-line JSON, otherwise `data_b64`.
pub fn spill_line(record: &Record, reason: &str) -> String {
    let (data, data_b64) = json_or_base64(&record.data);
    let spill = Spill { authtrail_spill: 1, reason, partition_key: &record.partition_key, data, data_b64 };
    serde_json::to_string(&spill).expect("spill serialises")
}

/// Embeds bytes as raw JSON when they are valid single-line JSON, else base64.
pub(crate) fn json_or_base64(bytes: &[u8]) -> (Option<&RawValue>, Option<String>) {
    match std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.contains('\n'))
        .and_then(|s| serde_json::from_str::<&RawValue>(s).ok())
    {
        Some(raw) => (Some(raw), None),
        None => (None, Some(base64::engine::general_purpose::STANDARD.encode(bytes))),
    }
}

/// Recovers the record from a spill line; `None` for any other line.
pub fn parse_spill_line(line: &str) -> Option<Record> {
    #[derive(serde::Deserialize)]
    struct Owned {
        authtrail_spill: u8,
        partition_key: String,
        data: Option<Box<RawValue>>,
        data_b64: Option<String>,
    }
    let s: Owned = serde_json::from_str(line).ok()?;
    if s.authtrail_spill != 1 {
        return None;
    }
    let data = match (s.data, s.data_b64) {
        (Some(raw), _) => raw.get().as_bytes().to_vec(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).ok()?,
        (None, None) => return None,
    };
    Some(Record { partition_key: s.partition_key, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spill_lines_round_trip_json_and_binary() {
        for data in [br#"{"a":1,"b":"x"}"#.to_vec(), vec![0xff, 0x00, 0x10], b"{\n\"a\":1}".to_vec()] {
            let r = Record { partition_key: "pool/alice".into(), data };
            let line = spill_line(&r, "budget exhausted");
            assert!(!line.contains('\n'));
            assert!(line.contains(SPILL_TAG));
            assert_eq!(parse_spill_line(&line), Some(r));
        }
        assert_eq!(parse_spill_line(r#"{"level":"INFO"}"#), None);
    }
}
