//! The trigger handlers on real-shaped Cognito events (tests/fixtures/cognito).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use functions::{DENIAL_MESSAGE, Handler, Settings, Trigger};
use pipeline::clock::FixedClock;
use pipeline::config::FailMode;
use pipeline::context::ContextVerifier;
use pipeline::event::{ContextStatus, Event, EventType};
use pipeline::geo::{AnonymousIpDb, AsnDb, Enricher, MaxMindCity};
use pipeline::stream::{Delivered, EmitResults, EventSink, Record, parse_spill_line};
use pipeline::telemetry::LineOut;
use serde_json::value::RawValue;

// Cargo's value at run time first: a build cache shared by clones keeps
// binaries built in another clone, whose compile-time path may be gone.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures/cognito").join(name)).unwrap()
}

fn enricher() -> Enricher {
    let db = |n: &str| root().join("tests/data/maxmind").join(n);
    Enricher {
        geo: Some(Box::new(MaxMindCity::open(&db("GeoIP2-City-Test.mmdb")).unwrap())),
        asn: Some(AsnDb::open(&db("GeoLite2-ASN-Test.mmdb")).unwrap()),
        anonymous: Some(AnonymousIpDb::open(&db("GeoIP2-Anonymous-IP-Test.mmdb")).unwrap()),
    }
}

/// Keeps what it is given, or refuses everything.
#[derive(Default)]
struct MemorySink {
    records: Mutex<Vec<Record>>,
    refuse: bool,
}

impl EventSink for MemorySink {
    async fn emit(&self, records: &[Record]) -> EmitResults {
        if self.refuse {
            return records.iter().map(|_| Err("stream unavailable".to_string())).collect();
        }
        let mut kept = self.records.lock().unwrap();
        records
            .iter()
            .map(|r| {
                kept.push(r.clone());
                Ok(Delivered { shard_id: "shard-0000".into(), sequence_number: (kept.len() - 1).to_string() })
            })
            .collect()
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn handler_with(sink: MemorySink, fail_mode: FailMode, now: i64) -> Handler<MemorySink, Arc<FixedClock>> {
    Handler {
        enricher: Arc::new(enricher()),
        verifier: ContextVerifier::new(vec![b"fixture-secret".to_vec()], 300),
        sink,
        clock: Arc::new(FixedClock::at(at(now))),
        risk: pipeline::risk::NoSnapshot,
        policy: Arc::new(pipeline::risk::CompiledPolicy::default()),
        settings: Settings { fail_mode, metrics_namespace: "authtrail".into() },
        metrics: LineOut::memory(),
        spill: LineOut::memory(),
    }
}

fn handler(now: i64) -> Handler<MemorySink, Arc<FixedClock>> {
    handler_with(MemorySink::default(), FailMode::Open, now)
}

async fn run(h: &Handler<MemorySink, Arc<FixedClock>>, trigger: Trigger, name: &str) -> Event {
    h.handle(trigger, &fixture(name)).await.expect("fixture is usable").event
}

#[tokio::test]
async fn documented_pre_auth_is_an_unverified_allowed_attempt() {
    let h = handler(1_763_802_000);
    let e = run(&h, Trigger::PreAuth, "pre_auth_documented.json").await;
    assert_eq!(e.event_type, EventType::Attempt);
    assert_eq!(e.user_pool_id, "us-west-2_EXAMPLE");
    assert_eq!(e.username, "testuser");
    assert_eq!(e.user_sub.as_deref(), Some("4f4e5c1a-7c1e-4f4e-9d43-2f0c3e5b7a91"));
    assert_eq!(e.client_id.as_deref(), Some("1example23456789"));
    assert_eq!(e.region.as_deref(), Some("us-west-2"));
    assert_eq!(e.trigger_source.as_deref(), Some("PreAuthentication_Authentication"));
    assert_eq!(e.context_status, ContextStatus::Missing);
    assert!(!e.ip_verified);
    assert_eq!(e.source_ip, None);
    assert_eq!(e.geo_country, None);
    // Audit mode, no snapshot yet: recorded, allowed, with the reasons.
    assert_eq!(
        (e.decision_action.as_deref(), e.decision_score, e.decision_level.as_deref()),
        (Some("allow"), Some(15), Some("low"))
    );
    assert_eq!(e.decision_reasons, vec!["unverified_context:missing".to_string(), "snapshot_missing".to_string()]);
    assert_eq!(e.policy_version.as_deref(), Some("default-1"));
    assert!(e.notes.iter().any(|n| n.contains("no authtrail context")), "{:?}", e.notes);
    assert_eq!(e.time, at(1_763_802_000));
}

#[tokio::test]
async fn signed_context_through_an_email_alias_is_verified_and_enriched() {
    let h = handler(1_763_802_005);
    let e = run(&h, Trigger::PreAuth, "pre_auth_signed_email_alias.json").await;
    assert_eq!(e.context_status, ContextStatus::Verified, "{:?}", e.notes);
    assert!(e.ip_verified);
    assert_eq!(e.username, "9c1e7a52-3b1d-4e0b-a7f2-5d6c8e9f0a1b");
    assert_eq!(e.source_ip.as_deref(), Some("81.2.69.142"));
    assert_eq!((e.geo_city.as_deref(), e.geo_country.as_deref()), (Some("London"), Some("GB")));
    assert_eq!(e.geo_accuracy_radius_km, Some(10));
    assert_eq!(e.geo_time_zone.as_deref(), Some("Europe/London"));
    assert_eq!(e.device_browser.as_deref(), Some("Safari"));
    assert_eq!(e.device_os.as_deref(), Some("Mac OSX"));
    assert_eq!(e.device_type.as_deref(), Some("pc"));
    assert_eq!(e.device_key.as_deref(), Some("mac-41f2"));
    assert_eq!(e.user_not_found, Some(false));
    // The MaxMind test data lists 81.2.69.142 as every kind of anonymizer.
    assert_eq!((e.anon_any, e.anon_tor), (Some(true), Some(true)));
    assert!(e.notes.is_empty(), "{:?}", e.notes);
}

#[tokio::test]
async fn cognito_retries_of_the_same_sign_in_share_the_event_id() {
    let first = handler(1_763_802_005);
    let retry = handler(1_763_802_009);
    let a = run(&first, Trigger::PreAuth, "pre_auth_signed_email_alias.json").await;
    let b = run(&retry, Trigger::PreAuth, "pre_auth_signed_email_alias.json").await;
    assert_eq!(a.event_id, b.event_id);
    assert_ne!(a.time, b.time);
    // Without a nonce there is nothing to tie retries together: distinct ids.
    let c = run(&first, Trigger::PreAuth, "pre_auth_documented.json").await;
    let d = run(&retry, Trigger::PreAuth, "pre_auth_documented.json").await;
    assert_ne!(c.event_id, d.event_id);
}

#[tokio::test]
async fn an_unsigned_nonce_cannot_merge_attempts_into_one_event() {
    // A client guessing passwords sends the same nonce every time.
    let mut raw: serde_json::Value = serde_json::from_str(&fixture("pre_auth_user_not_found_unsigned.json")).unwrap();
    raw["request"]["validationData"]["authtrail:nonce"] = "same-every-time".into();
    let raw = raw.to_string();
    let a = handler(1_763_802_000).handle(Trigger::PreAuth, &raw).await.unwrap().event;
    let b = handler(1_763_802_001).handle(Trigger::PreAuth, &raw).await.unwrap().event;
    assert_eq!(a.context_status, ContextStatus::Unsigned);
    assert_ne!(a.event_id, b.event_id);
}

#[tokio::test]
async fn an_enforced_policy_denies_generically_and_still_records_the_attempt() {
    let mut h = handler(1_763_802_005);
    let mut policy = pipeline::risk::Policy::default();
    policy.mode = pipeline::risk::Mode::Enforce;
    policy.lists.ip_deny = vec!["81.2.69.0/24".into()];
    h.policy = Arc::new(policy.compile(&Default::default()).unwrap());
    let raw = fixture("pre_auth_signed_email_alias.json");
    let err = h.respond(Trigger::PreAuth, RawValue::from_string(raw).unwrap()).await.unwrap_err();
    assert_eq!(err, DENIAL_MESSAGE, "the user sees nothing of the reasons");
    let records = h.sink.records.lock().unwrap();
    let e = Event::from_json(&records[0].data).unwrap();
    assert_eq!((e.decision_action.as_deref(), e.decision_level.as_deref()), (Some("deny"), Some("high")));
    assert_eq!(e.decision_reasons, vec!["ip_denylisted".to_string()]);
    let m: serde_json::Value = serde_json::from_str(&h.metrics.lines()[0]).unwrap();
    assert_eq!((m["Denied"].as_f64(), m["RiskHigh"].as_f64()), (Some(1.0), Some(1.0)));
}

#[tokio::test]
async fn stale_context_is_kept_but_unverified() {
    let h = handler(1_763_802_000 + 301);
    let e = run(&h, Trigger::PreAuth, "pre_auth_signed_email_alias.json").await;
    assert_eq!(e.context_status, ContextStatus::Stale);
    assert!(!e.ip_verified);
    assert_eq!(e.source_ip.as_deref(), Some("81.2.69.142"), "fields are kept, marked unverified");
    assert!(e.notes.iter().any(|n| n.contains("older")), "{:?}", e.notes);
}

#[tokio::test]
async fn user_not_found_with_unsigned_context() {
    let h = handler(1_763_802_000);
    let e = run(&h, Trigger::PreAuth, "pre_auth_user_not_found_unsigned.json").await;
    assert_eq!(e.user_not_found, Some(true));
    assert_eq!(e.context_status, ContextStatus::Unsigned);
    assert!(!e.ip_verified);
    assert_eq!(e.source_ip.as_deref(), Some("1.2.0.1"));
    assert_eq!((e.anon_any, e.anon_vpn, e.anon_tor), (Some(true), Some(true), Some(false)));
    assert_eq!(e.user_agent.as_deref(), Some("python-requests/2.32.3"));
    assert_eq!(e.user_sub, None);
}

#[tokio::test]
async fn wrong_types_are_noted_not_fatal() {
    let h = handler(1_763_802_070);
    let e = run(&h, Trigger::PreAuth, "pre_auth_wrong_types.json").await;
    for expected in [
        "version has the wrong type",
        "callerContext has the wrong type",
        "request.userNotFound has the wrong type",
        "request.userAttributes.custom:tier is not a string",
        "request.validationData.attempt is not a string",
    ] {
        assert!(e.notes.iter().any(|n| n == expected), "missing note {expected:?} in {:?}", e.notes);
    }
    assert_eq!(e.user_not_found, None);
    assert_eq!(e.client_id, None);
    // The signed context still verifies; the mapped address is canonical IPv4.
    assert_eq!(e.context_status, ContextStatus::Verified);
    assert_eq!(e.source_ip.as_deref(), Some("89.160.20.112"));
    assert_eq!(e.geo_city.as_deref(), Some("Linköping"));
    assert_eq!(e.asn, Some(29518));
}

#[tokio::test]
async fn documented_post_auth_is_a_success_with_new_device() {
    let h = handler(1_763_802_000);
    let e = run(&h, Trigger::PostAuth, "post_auth_documented.json").await;
    assert_eq!(e.event_type, EventType::Success);
    assert_eq!(e.new_device, Some(true));
    assert_eq!(e.context_status, ContextStatus::Missing);
    // Missing context is normal after authentication: no note for it.
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    assert_eq!((e.decision_action, e.decision_score, e.decision_level), (None, None, None));
}

#[tokio::test]
async fn minimal_post_auth_still_emits() {
    let h = handler(1_763_802_000);
    let e = run(&h, Trigger::PostAuth, "post_auth_minimal.json").await;
    assert_eq!(e.username, "bob");
    assert_eq!(e.new_device, None);
    assert_eq!(e.trigger_source, None);
    assert_eq!(e.client_id.as_deref(), Some("3n4b5urk1ft4fl3mg5e62d9ado"));
    assert_eq!(h.sink.records.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn mismatched_trigger_source_is_noted() {
    let h = handler(1_763_802_000);
    let e = run(&h, Trigger::PostAuth, "pre_auth_documented.json").await;
    assert!(
        e.notes.iter().any(|n| n.contains("PreAuthentication_Authentication sent to the post-auth")),
        "{:?}",
        e.notes
    );
}

#[tokio::test]
async fn emitted_record_is_the_event_keyed_by_user() {
    let h = handler(1_763_802_005);
    let outcome = h.handle(Trigger::PreAuth, &fixture("pre_auth_signed_email_alias.json")).await.unwrap();
    let records = h.sink.records.lock().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].partition_key, "eu-west-1_Ab12Cd34E/9c1e7a52-3b1d-4e0b-a7f2-5d6c8e9f0a1b");
    assert_eq!(Event::from_json(&records[0].data).unwrap(), outcome.event);
    assert_eq!(outcome.delivery.unwrap().sequence_number, "0");
}

#[tokio::test]
async fn response_is_the_received_event_byte_for_byte() {
    let h = handler(1_763_802_005);
    let raw = fixture("pre_auth_signed_email_alias.json");
    let response = h.respond(Trigger::PreAuth, RawValue::from_string(raw.clone()).unwrap()).await.unwrap();
    assert_eq!(response.get(), raw);
    assert!(response.get().contains("someFutureTopLevelField"));
}

#[tokio::test]
async fn unusable_events_are_denied_generically_and_spilled() {
    let h = handler(1_763_802_000);
    let raw = fixture("pre_auth_no_username.json");
    let err = h.handle(Trigger::PreAuth, &raw).await.unwrap_err();
    assert!(err.to_string().contains("userName"));
    assert_eq!(
        h.respond(Trigger::PreAuth, RawValue::from_string(raw.clone()).unwrap()).await.unwrap_err(),
        DENIAL_MESSAGE
    );
    assert!(h.handle(Trigger::PreAuth, "not json at all").await.is_err());
    assert!(h.handle(Trigger::PreAuth, "[]").await.is_err());
    // Nothing lost: the raw event is in a spill line with the reason.
    let spills = h.spill.lines();
    let recovered = parse_spill_line(&spills[0]).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&recovered.data).unwrap(),
        serde_json::from_str::<serde_json::Value>(&raw).unwrap()
    );
    assert!(spills[0].contains("no usable userName"));
    assert!(h.sink.records.lock().unwrap().is_empty());
    let metrics: serde_json::Value = serde_json::from_str(&h.metrics.lines()[0]).unwrap();
    assert_eq!(metrics["MalformedEvents"], 1.0);
}

#[tokio::test]
async fn a_failing_stream_spills_and_fails_open_by_default() {
    let h = handler_with(MemorySink { refuse: true, ..Default::default() }, FailMode::Open, 1_763_802_005);
    let raw = fixture("pre_auth_signed_email_alias.json");
    let response = h.respond(Trigger::PreAuth, RawValue::from_string(raw.clone()).unwrap()).await;
    assert_eq!(response.unwrap().get(), raw, "sign-in proceeds");
    let spills = h.spill.lines();
    assert_eq!(spills.len(), 1);
    assert!(spills[0].contains("stream unavailable"));
    let event = Event::from_json(&parse_spill_line(&spills[0]).unwrap().data).unwrap();
    assert_eq!(event.source_ip.as_deref(), Some("81.2.69.142"));
    let metrics: serde_json::Value = serde_json::from_str(&h.metrics.lines()[0]).unwrap();
    assert_eq!((metrics["Spilled"].as_f64(), metrics["Emitted"].as_f64()), (Some(1.0), Some(0.0)));
}

#[tokio::test]
async fn a_failing_stream_denies_when_fail_closed() {
    let h = handler_with(MemorySink { refuse: true, ..Default::default() }, FailMode::Closed, 1_763_802_005);
    let raw = fixture("pre_auth_signed_email_alias.json");
    let err = h.respond(Trigger::PreAuth, RawValue::from_string(raw).unwrap()).await.unwrap_err();
    assert_eq!(err, DENIAL_MESSAGE);
    assert_eq!(h.spill.lines().len(), 1, "the event is still kept");
}

#[tokio::test]
async fn one_metrics_line_per_invocation_without_user_or_ip() {
    let h = handler(1_763_802_005);
    run(&h, Trigger::PreAuth, "pre_auth_signed_email_alias.json").await;
    run(&h, Trigger::PostAuth, "post_auth_documented.json").await;
    let lines = h.metrics.lines();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert!(!line.contains("81.2.69.142") && !line.contains("alice") && !line.contains("testuser"), "{line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["Invocations"], 1.0);
        assert!(v["HandlerLatency"].as_f64().unwrap() > 0.0);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Function"]]));
    }
    let pre: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!((pre["Function"].as_str(), pre["ContextUnverified"].as_f64()), (Some("pre-auth"), Some(0.0)));
}

#[tokio::test]
async fn a_published_snapshot_drives_the_decision_and_its_age_is_a_metric() {
    use pipeline::risk::snapshot::{LiveSnapshot, SnapshotData, write_snapshot};
    use pipeline::risk::{LastSuccess, UserProfile};
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's user last signed in from Sydney ten minutes before.
    let profile = UserProfile {
        known_countries: vec!["AU".into()],
        known_cities: vec!["Sydney".into()],
        known_devices: vec!["old-laptop".into()],
        last_success: Some(LastSuccess {
            time: at(1_763_802_005 - 600),
            latitude: -33.8688,
            longitude: 151.2093,
            accuracy_radius_km: 10.0,
            country: Some("AU".into()),
        }),
        login_count: 57,
        usual_hours: 0,
        risk: 0,
        reasons: vec![],
    };
    let data = SnapshotData {
        version: "snap-1".into(),
        built: at(1_763_802_005 - 120),
        users: vec![("eu-west-1_Ab12Cd34E/9c1e7a52-3b1d-4e0b-a7f2-5d6c8e9f0a1b".into(), profile)],
        ..Default::default()
    };
    write_snapshot(tmp.path(), &data).unwrap();
    let base = handler(1_763_802_005);
    let h = Handler {
        enricher: base.enricher.clone(),
        verifier: base.verifier.clone(),
        sink: MemorySink::default(),
        clock: base.clock.clone(),
        risk: Arc::new(LiveSnapshot::open(tmp.path())),
        // The MaxMind test data lists 81.2.69.142 as a hosting range too,
        // which the default policy leaves out of travel checks.
        policy: {
            let mut p = pipeline::risk::Policy::default();
            p.travel.ignore_anonymizers = false;
            Arc::new(p.compile(&Default::default()).unwrap())
        },
        settings: Settings::default(),
        metrics: LineOut::memory(),
        spill: LineOut::memory(),
    };
    let e = h.handle(Trigger::PreAuth, &fixture("pre_auth_signed_email_alias.json")).await.unwrap().event;
    assert_eq!(e.snapshot_version.as_deref(), Some("snap-1"));
    assert_eq!(e.login_count, Some(57));
    assert_eq!(e.decision_level.as_deref(), Some("high"), "{:?}", e.decision_reasons);
    for r in ["new_country:GB", "new_city:London", "new_device"] {
        assert!(e.decision_reasons.iter().any(|x| x == r), "{r} in {:?}", e.decision_reasons);
    }
    assert!(e.decision_reasons.iter().any(|x| x.starts_with("impossible_travel:")), "{:?}", e.decision_reasons);
    assert_eq!(e.decision_action.as_deref(), Some("allow"), "audit mode");
    let m: serde_json::Value = serde_json::from_str(&h.metrics.lines()[0]).unwrap();
    assert_eq!(m["SnapshotAge"], 120.0);
}

/// The metric names each component's EMF lines declare, by `Function`.
pub fn emitted(lines: &[String]) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let names = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
        let entry = out.entry(v["Function"].as_str().unwrap().to_string()).or_default();
        entry.extend(names.iter().map(|m| m["Name"].as_str().unwrap().to_string()));
    }
    out
}

/// The catalogue's metrics of `component`, by name.
pub fn catalogued(component: &str) -> std::collections::BTreeSet<String> {
    pipeline::metrics::emitted_by(component).map(|m| m.name.to_string()).collect()
}

#[tokio::test]
async fn each_trigger_emits_exactly_its_catalogued_metrics() {
    // Every path: a decided attempt (with a snapshot, for its age), a
    // success, a backend failure report, and unusable events.
    let now = 1_763_802_005;
    let risk = pipeline::risk::MemoryRisk { version: "v1".into(), built: at(now - 60), ..Default::default() };
    let h = Handler {
        enricher: Arc::new(enricher()),
        verifier: ContextVerifier::new(vec![b"fixture-secret".to_vec()], 300),
        sink: MemorySink::default(),
        clock: Arc::new(FixedClock::at(at(now))),
        risk,
        policy: Arc::new(pipeline::risk::CompiledPolicy::default()),
        settings: Settings { fail_mode: FailMode::Open, metrics_namespace: "authtrail".into() },
        metrics: LineOut::memory(),
        spill: LineOut::memory(),
    };
    h.handle(Trigger::PreAuth, &fixture("pre_auth_signed_email_alias.json")).await.unwrap();
    h.handle(Trigger::PostAuth, &fixture("post_auth_documented.json")).await.unwrap();
    let mut failure: serde_json::Value = serde_json::from_str(&fixture("pre_auth_documented.json")).unwrap();
    failure["triggerSource"] = functions::handler::BACKEND_FAILURE_SOURCE.into();
    h.handle(Trigger::PreAuth, &failure.to_string()).await.unwrap();
    h.handle(Trigger::PreAuth, "not json").await.unwrap_err();
    h.handle(Trigger::PostAuth, "[]").await.unwrap_err();
    let found = emitted(&h.metrics.lines());
    use pipeline::metrics::component::{POST_AUTH, PRE_AUTH};
    // The failure report is counted by the function that ran, pre-auth.
    assert_eq!(found.keys().collect::<Vec<_>>(), [POST_AUTH, PRE_AUTH]);
    for component in [PRE_AUTH, POST_AUTH] {
        assert_eq!(found.get(component), Some(&catalogued(component)), "{component}");
    }
}
