//! The sign-in event: the one definition of what authtrail records.
//!
//! [`Event`] is the single source of truth. Its serde form is the JSON carried
//! on the stream; its Arrow schema ([`arrow_fields`]) is traced from the same
//! type by `serde_arrow`, so the lake can never drift from the stream. Columns
//! are flat (`geo_country`, not `geo.country`) so that reports stay portable
//! across DataFusion, DuckDB, Athena and Trino, and every integer is signed
//! because Athena has no unsigned types.

use std::sync::OnceLock;

use arrow_schema::FieldRef;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Version of the event layout below. Bump it on any incompatible change;
/// readers dead-letter versions they do not know.
pub const SCHEMA_VERSION: i32 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A PreAuthentication trigger fired: a sign-in was attempted (and decided).
    Attempt,
    /// A PostAuthentication trigger fired: the sign-in succeeded.
    Success,
    /// The app backend reported a failed sign-in (wrong password …).
    Failure,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Attempt => "auth.attempt",
            EventType::Success => "auth.success",
            EventType::Failure => "auth.failure",
        }
    }
}

/// Outcome of verifying the app-supplied sign-in context (see `context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextStatus {
    /// Signed by the app backend with a configured secret, fresh.
    Verified,
    /// No context keys at all (e.g. a client calling Cognito directly).
    Missing,
    /// Context present but carries no signature.
    Unsigned,
    /// Signature valid but issued too long ago (or in the future).
    Stale,
    /// Signature does not match the fields: tampered or wrong secret.
    BadSignature,
    /// Context present but unusable (bad timestamp, bad IP …).
    Malformed,
    /// Context is signed but this deployment has no secret to check it with.
    NoSecret,
}

impl ContextStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContextStatus::Verified => "verified",
            ContextStatus::Missing => "missing",
            ContextStatus::Unsigned => "unsigned",
            ContextStatus::Stale => "stale",
            ContextStatus::BadSignature => "bad_signature",
            ContextStatus::Malformed => "malformed",
            ContextStatus::NoSecret => "no_secret",
        }
    }
}

/// Serde as plain strings (`"auth.attempt"`), so that JSON and Arrow both
/// see a string column rather than an enum.
macro_rules! string_enum {
    ($ty:ty, [$($variant:ident),+]) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(d)?;
                $(if s == <$ty>::$variant.as_str() { return Ok(<$ty>::$variant); })+
                Err(serde::de::Error::custom(format_args!("unknown {} {s:?}", stringify!($ty))))
            }
        }
    };
}

string_enum!(EventType, [Attempt, Success, Failure]);
string_enum!(ContextStatus, [Verified, Missing, Unsigned, Stale, BadSignature, Malformed, NoSecret]);

/// One sign-in event, schema version 1. Absent knowledge is `None`, never a
/// sentinel value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub schema_version: i32,
    /// Deterministic: the same Cognito sign-in retried yields the same id.
    pub event_id: String,
    pub event_type: EventType,
    /// UTC, microsecond precision; RFC 3339 in JSON, timestamp[us, UTC] in Arrow.
    #[serde(with = "rfc3339_micros")]
    pub time: DateTime<Utc>,
    /// Cognito `triggerSource`, e.g. `PreAuthentication_Authentication`.
    pub trigger_source: Option<String>,
    pub region: Option<String>,
    pub user_pool_id: String,
    pub client_id: Option<String>,
    pub username: String,
    pub user_sub: Option<String>,
    /// Pre-auth `userNotFound` (only with PreventUserExistenceErrors).
    pub user_not_found: Option<bool>,

    pub source_ip: Option<String>,
    /// True only when the app backend signed the context and it checked out.
    pub ip_verified: bool,
    pub context_status: ContextStatus,

    pub geo_country: Option<String>,
    pub geo_subdivision: Option<String>,
    pub geo_city: Option<String>,
    pub geo_latitude: Option<f64>,
    pub geo_longitude: Option<f64>,
    pub geo_accuracy_radius_km: Option<i32>,
    pub geo_time_zone: Option<String>,

    pub asn: Option<i64>,
    pub as_org: Option<String>,
    pub anon_any: Option<bool>,
    pub anon_vpn: Option<bool>,
    pub anon_hosting: Option<bool>,
    pub anon_public_proxy: Option<bool>,
    pub anon_residential_proxy: Option<bool>,
    pub anon_tor: Option<bool>,

    pub user_agent: Option<String>,
    pub device_browser: Option<String>,
    pub device_browser_version: Option<String>,
    pub device_os: Option<String>,
    pub device_os_version: Option<String>,
    /// pc, smartphone, mobilephone, appliance, crawler.
    pub device_type: Option<String>,
    /// Cognito remembered-device key, or the app's own device id.
    pub device_key: Option<String>,
    /// Post-auth `newDeviceUsed` (present only with remembered devices).
    pub new_device: Option<bool>,
    /// Successful sign-ins of this user known at emission time (from the risk
    /// snapshot once it exists).
    pub login_count: Option<i64>,

    /// Decision block, attempts only.
    pub decision_action: Option<String>,
    pub decision_score: Option<i32>,
    pub decision_level: Option<String>,
    pub decision_reasons: Vec<String>,
    pub policy_version: Option<String>,
    pub snapshot_version: Option<String>,

    /// Things authtrail noticed while building the event: unverified context,
    /// fields of the wrong type, lookups that failed. Never secrets.
    pub notes: Vec<String>,
}

impl Event {
    /// The stream partition key: all events of one user land on one shard, in order.
    pub fn user_key(&self) -> String {
        user_key(&self.user_pool_id, &self.username)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).expect("event serialises to JSON")
    }

    /// Parses and validates a stream record, rejecting versions this build
    /// does not know. One parse on the happy path; a failure is parsed again
    /// only to tell an unknown version from a broken record.
    pub fn from_json(bytes: &[u8]) -> Result<Event, EventDecodeError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<i32>,
        }
        let version = |bytes| serde_json::from_slice::<Version>(bytes).ok().map(|v| v.schema_version);
        match serde_json::from_slice::<Event>(bytes) {
            Ok(e) if e.schema_version != SCHEMA_VERSION => {
                Err(EventDecodeError::UnknownVersion(Some(e.schema_version)))
            }
            Ok(e) => e.validate().map(|()| e),
            Err(err) => match version(bytes) {
                Some(v) if v != Some(SCHEMA_VERSION) => Err(EventDecodeError::UnknownVersion(v)),
                _ => Err(EventDecodeError::Json(err)),
            },
        }
    }

    /// The invariants serde cannot express.
    pub fn validate(&self) -> Result<(), EventDecodeError> {
        for (name, value) in
            [("event_id", &self.event_id), ("user_pool_id", &self.user_pool_id), ("username", &self.username)]
        {
            if value.is_empty() {
                return Err(EventDecodeError::Invalid(format!("{name} is empty")));
            }
        }
        if self.decision_score.is_some_and(|s| !(0..=100).contains(&s)) {
            return Err(EventDecodeError::Invalid("decision_score is outside 0..=100".into()));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error("not a valid event: {0}")]
    Json(serde_json::Error),
    #[error("unknown schema_version {0:?} (this build reads {SCHEMA_VERSION})")]
    UnknownVersion(Option<i32>),
    #[error("invalid event: {0}")]
    Invalid(String),
}

/// `pool/username`; both halves are Cognito identifiers without `/`.
pub fn user_key(user_pool_id: &str, username: &str) -> String {
    let mut key = String::with_capacity(user_pool_id.len() + 1 + username.len());
    key.push_str(user_pool_id);
    key.push('/');
    key.push_str(username);
    key
}

/// Derives the event id from the inputs that stay stable when Cognito retries
/// the same trigger invocation. With the app's nonce the id is the same for
/// every retry; without one nothing in the event identifies the sign-in, so
/// the time joins the inputs and retries stay distinct records rather than
/// risk merging two real sign-ins into one.
pub fn event_id(
    event_type: EventType,
    user_pool_id: &str,
    username: &str,
    nonce: Option<&str>,
    time: DateTime<Utc>,
) -> String {
    let mut h = Sha256::new();
    for part in [event_type.as_str(), user_pool_id, username] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part.as_bytes());
    }
    match nonce {
        Some(n) => {
            h.update(b"n");
            h.update(n.as_bytes());
        }
        None => {
            h.update(b"t");
            h.update(time.timestamp_micros().to_be_bytes());
        }
    }
    hex::encode(&h.finalize()[..16])
}

/// The Arrow fields of [`Event`], traced by serde from [`schema_sample`]: an
/// `Event` value with every optional field set, which the compiler keeps
/// complete. (Tracing from the type alone cannot see through the RFC 3339
/// time format.)
pub fn arrow_fields() -> &'static [FieldRef] {
    static FIELDS: OnceLock<Vec<FieldRef>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        use serde_arrow::schema::{SchemaLike, TracingOptions};
        // Plain Utf8 / List: what every Parquet reader expects.
        let options = TracingOptions::default()
            .strings_as_large_utf8(false)
            .sequence_as_large_list(false)
            .overwrite(
                "time",
                serde_json::json!({
                    "name": "time",
                    "data_type": "Timestamp(Microsecond, Some(\"UTC\"))",
                }),
            )
            .expect("valid overwrite");
        Vec::<FieldRef>::from_samples(&[schema_sample()], options).expect("Event traces to an Arrow schema")
    })
}

/// An event with every `Option` set and every list non-empty, so that
/// tracing sees the type of each field. A field left `None` here would trace
/// as Null; a test guards against that.
fn schema_sample() -> Event {
    let s = || Some(String::new());
    Event {
        schema_version: SCHEMA_VERSION,
        event_id: String::new(),
        event_type: EventType::Attempt,
        time: micros_to_time(0),
        trigger_source: s(),
        region: s(),
        user_pool_id: String::new(),
        client_id: s(),
        username: String::new(),
        user_sub: s(),
        user_not_found: Some(false),
        source_ip: s(),
        ip_verified: false,
        context_status: ContextStatus::Missing,
        geo_country: s(),
        geo_subdivision: s(),
        geo_city: s(),
        geo_latitude: Some(0.0),
        geo_longitude: Some(0.0),
        geo_accuracy_radius_km: Some(0),
        geo_time_zone: s(),
        asn: Some(0),
        as_org: s(),
        anon_any: Some(false),
        anon_vpn: Some(false),
        anon_hosting: Some(false),
        anon_public_proxy: Some(false),
        anon_residential_proxy: Some(false),
        anon_tor: Some(false),
        user_agent: s(),
        device_browser: s(),
        device_browser_version: s(),
        device_os: s(),
        device_os_version: s(),
        device_type: s(),
        device_key: s(),
        new_device: Some(false),
        login_count: Some(0),
        decision_action: s(),
        decision_score: Some(0),
        decision_level: s(),
        decision_reasons: vec![String::new()],
        policy_version: s(),
        snapshot_version: s(),
        notes: vec![String::new()],
    }
}

/// The Arrow schema of [`Event`].
pub fn arrow_schema() -> arrow_schema::Schema {
    arrow_schema::Schema::new(arrow_fields().to_vec())
}

/// Converts events to one Arrow record batch with [`arrow_schema`].
/// Takes events or references to them.
pub fn to_record_batch<E: std::borrow::Borrow<Event> + Serialize>(
    events: &[E],
) -> Result<arrow_array::RecordBatch, serde_arrow::Error> {
    serde_arrow::to_record_batch(arrow_fields(), &events)
}

/// Reads events back from a record batch with [`arrow_schema`].
pub fn from_record_batch(batch: &arrow_array::RecordBatch) -> Result<Vec<Event>, serde_arrow::Error> {
    serde_arrow::from_record_batch(batch)
}

/// Microseconds since the Unix epoch as a UTC time (clamped to the epoch when
/// out of range, which no clock produces).
pub fn micros_to_time(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// RFC 3339 with exactly six fractional digits, `Z` suffix.
pub mod rfc3339_micros {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Event {
        Event {
            schema_version: SCHEMA_VERSION,
            event_id: "0123".into(),
            event_type: EventType::Attempt,
            time: micros_to_time(1_763_800_000_123_456),
            trigger_source: Some("PreAuthentication_Authentication".into()),
            region: Some("eu-west-1".into()),
            user_pool_id: "eu-west-1_AbC".into(),
            client_id: Some("client".into()),
            username: "alice".into(),
            user_sub: None,
            user_not_found: Some(false),
            source_ip: Some("81.2.69.142".into()),
            ip_verified: true,
            context_status: ContextStatus::Verified,
            geo_country: Some("GB".into()),
            geo_subdivision: None,
            geo_city: Some("London".into()),
            geo_latitude: Some(51.5142),
            geo_longitude: Some(-0.0931),
            geo_accuracy_radius_km: Some(10),
            geo_time_zone: Some("Europe/London".into()),
            asn: Some(1221),
            as_org: None,
            anon_any: None,
            anon_vpn: Some(true),
            anon_hosting: None,
            anon_public_proxy: None,
            anon_residential_proxy: None,
            anon_tor: None,
            user_agent: Some("Mozilla/5.0".into()),
            device_browser: None,
            device_browser_version: None,
            device_os: None,
            device_os_version: None,
            device_type: Some("pc".into()),
            device_key: None,
            new_device: None,
            login_count: Some(3),
            decision_action: Some("allow".into()),
            decision_score: Some(0),
            decision_level: Some("low".into()),
            decision_reasons: vec!["a".into(), "b".into()],
            policy_version: None,
            snapshot_version: None,
            notes: vec![],
        }
    }

    #[test]
    fn json_round_trip_keeps_microseconds() {
        let e = sample();
        let json = e.to_json();
        let text = std::str::from_utf8(&json).unwrap();
        assert!(text.contains("\"time\":\"2025-11-22T08:26:40.123456Z\""), "{text}");
        assert!(text.contains("\"event_type\":\"auth.attempt\""));
        assert_eq!(Event::from_json(&json).unwrap(), e);
    }

    #[test]
    fn unknown_version_is_rejected_with_the_version() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        v["schema_version"] = 7.into();
        let err = Event::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, EventDecodeError::UnknownVersion(Some(7))), "{err}");
    }

    #[test]
    fn arrow_schema_is_traced_from_the_type() {
        use arrow_schema::{DataType, TimeUnit};
        let schema = arrow_schema();
        let time = schema.field_with_name("time").unwrap();
        assert_eq!(time.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
        assert_eq!(schema.field_with_name("event_type").unwrap().data_type(), &DataType::Utf8);
        assert_eq!(schema.field_with_name("geo_latitude").unwrap().data_type(), &DataType::Float64);
        assert!(schema.field_with_name("geo_latitude").unwrap().is_nullable());
        assert!(!schema.field_with_name("username").unwrap().is_nullable());
        assert!(matches!(schema.field_with_name("decision_reasons").unwrap().data_type(), DataType::List(_)));
        for f in schema.fields() {
            assert_ne!(f.data_type(), &DataType::Null, "{} traced as Null: set it in schema_sample()", f.name());
        }
        // Every JSON key is a column and vice versa.
        let v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), schema.fields().len());
        for k in keys {
            assert!(schema.field_with_name(k).is_ok(), "column {k} missing");
        }
    }

    #[test]
    fn arrow_round_trip() {
        let mut b = sample();
        b.event_type = EventType::Success;
        b.decision_action = None;
        b.decision_reasons = vec![];
        b.time = micros_to_time(1);
        let events = vec![sample(), b];
        let batch = to_record_batch(&events).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(from_record_batch(&batch).unwrap(), events);
    }

    #[test]
    fn event_id_is_stable_with_nonce_and_distinct_without() {
        let t1 = micros_to_time(1);
        let t2 = micros_to_time(2);
        let a = event_id(EventType::Attempt, "p", "u", Some("n1"), t1);
        assert_eq!(a, event_id(EventType::Attempt, "p", "u", Some("n1"), t2));
        assert_ne!(a, event_id(EventType::Success, "p", "u", Some("n1"), t1));
        assert_ne!(a, event_id(EventType::Attempt, "p", "u", Some("n2"), t1));
        // Field boundaries matter: ("ab","c") is not ("a","bc").
        assert_ne!(
            event_id(EventType::Attempt, "ab", "c", None, t1),
            event_id(EventType::Attempt, "a", "bc", None, t1)
        );
        assert_ne!(event_id(EventType::Attempt, "p", "u", None, t1), event_id(EventType::Attempt, "p", "u", None, t2));
        assert_eq!(a.len(), 32);
    }
}
