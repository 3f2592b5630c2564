//! The traffic simulator: deterministic, real-shaped, every campaign there.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use functions::simulate::{SimConfig, SimGeo, simulate};
use functions::{Handler, Trigger};
use pipeline::clock::FixedClock;
use pipeline::context::ContextVerifier;
use pipeline::event::ContextStatus;
use pipeline::geo::extract::{city_networks, parse_cities};
use pipeline::geo::{AnonymousIpDb, AsnDb, Enricher, open_city};
use pipeline::telemetry::LineOut;

use super::handlers::root;

fn extract(name: &str) -> std::path::PathBuf {
    root().join("tests/data/geoip-extract").join(name)
}

fn geo() -> SimGeo {
    let cities = parse_cities(&std::fs::read_to_string(extract("cities.toml")).unwrap()).unwrap();
    let networks = city_networks(&std::fs::read(extract("extract-city.mmdb")).unwrap()).unwrap();
    let anonymous = AnonymousIpDb::open(&extract("extract-anonymous.mmdb")).unwrap();
    SimGeo::new(cities, networks, |n| anonymous.lookup(n.host(1)).unwrap().is_some_and(|a| a.is_anonymous))
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        users: 400,
        days: 4,
        seed,
        start: Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
        user_pool_id: "eu-west-1_SimTest1".into(),
        client_id: "simclient".into(),
        secret: b"sim-secret".to_vec(),
    }
}

fn run(seed: u64) -> (Vec<u8>, functions::simulate::SimSummary) {
    let mut out = Vec::new();
    let summary = simulate(&config(seed), &geo(), &mut out).unwrap();
    (out, summary)
}

#[test]
fn the_same_seed_gives_the_same_file() {
    let (a, _) = run(11);
    let (b, _) = run(11);
    let (c, _) = run(12);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn every_line_is_a_real_shaped_trigger_event_placed_where_the_simulator_meant() {
    let (out, summary) = run(5);
    let enricher = Enricher {
        geo: Some(open_city(&extract("extract-city.mmdb"), None).unwrap()),
        asn: Some(AsnDb::open(&extract("extract-asn.mmdb")).unwrap()),
        anonymous: Some(AnonymousIpDb::open(&extract("extract-anonymous.mmdb")).unwrap()),
    };
    let h = Handler {
        enricher: Arc::new(enricher),
        verifier: ContextVerifier::new(vec![b"sim-secret".to_vec()], 300),
        sink: pipeline::stream::LocalStream::open(&tempfile::tempdir().unwrap().keep(), 1, false).unwrap(),
        clock: Arc::new(FixedClock::default()),
        risk: pipeline::risk::NoSnapshot,
        policy: Arc::new(pipeline::risk::CompiledPolicy::default()),
        settings: functions::Settings::default(),
        metrics: LineOut::Discard,
        spill: LineOut::Discard,
    };
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut last = None;
    let (mut pre, mut post, mut failed) = (0, 0, 0);
    let mut attempted: std::collections::HashMap<String, String> = Default::default();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(v["receivedAt"].as_str().unwrap()).unwrap().to_utc();
        assert!(last.is_none_or(|l| l <= at), "time order");
        last = Some(at);
        let label = v["label"].as_str().unwrap().to_string();
        let event = v["event"].to_string();
        let source = v["event"]["triggerSource"].as_str().unwrap();
        let user = v["event"]["userName"].as_str().unwrap().to_string();
        if source == "PreAuthentication_Authentication" {
            pre += 1;
            *kinds.entry(label.split(':').next().unwrap().to_string()).or_default() += 1;
            let e = h.build_event(Trigger::PreAuth, &event, at).unwrap();
            assert_eq!(e.context_status, ContextStatus::Verified, "{label}: {:?}", e.notes);
            assert!(
                e.geo_city.is_some() && e.asn.is_some(),
                "{label}: {} is placed and has an ASN",
                e.source_ip.unwrap()
            );
            attempted.insert(user, label);
        } else if source == functions::handler::BACKEND_FAILURE_SOURCE {
            failed += 1;
            // The backend reports a failure of the attempt just before, with its context.
            assert_eq!(attempted.get(&user), Some(&label), "{user}");
            let e = h.build_event(Trigger::PreAuth, &event, at).unwrap();
            assert_eq!(e.event_type, pipeline::event::EventType::Failure);
            assert_eq!(e.context_status, ContextStatus::Verified, "{label}: {:?}", e.notes);
            assert!(e.decision_action.is_none(), "a failure report is not decided");
        } else {
            post += 1;
            assert_eq!(source, "PostAuthentication_Authentication");
            // A success follows an attempt of the same user, same campaign.
            assert_eq!(attempted.get(&user), Some(&label), "{user}");
            h.build_event(Trigger::PostAuth, &event, at).unwrap();
        }
    }
    assert_eq!((pre, post, failed), (summary.pre_auth, summary.post_auth, summary.backend_failures));
    assert!(post < pre, "failed attempts have no post-authentication event");
    assert_eq!(pre, post + failed, "every attempt either succeeds or the backend reports its failure");
    for kind in [
        "benign",
        "credential_stuffing",
        "password_spraying",
        "brute_force",
        "takeover_travel",
        "takeover_slow",
        "anonymizer",
    ] {
        assert!(kinds.get(kind).copied().unwrap_or(0) > 0, "{kind} missing: {kinds:?}");
    }
    assert_eq!(kinds["brute_force"], 120);
    assert_eq!(kinds["password_spraying"], 3 * 40, "three rounds over a tenth of the users");
    // Every campaign ends inside the period: none is cut short.
    assert_eq!(kinds["takeover_travel"], 5);
    assert_eq!(kinds["takeover_slow"], 5);
}
