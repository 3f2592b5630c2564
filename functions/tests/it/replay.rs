//! The backtest on a scripted scenario: recorded Cognito events through the
//! real handlers, local stream, lake writer and scorer.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, TimeZone, Utc};
use functions::Settings;
use functions::replay::{DecisionLine, ReplaySetup, ReplaySummary, Replayer};
use pipeline::context::{ContextVerifier, SignInContext};
use pipeline::geo::mmdb_writer::{MmdbWriter, Value};
use pipeline::geo::{Enricher, open_city};
use pipeline::risk::{CompiledPolicy, Policy};
use queries::datafusion::arrow::array::AsArray;
use serde_json::json;

const SECRET: &[u8] = b"replay-secret";
const POOL: &str = "eu-west-2_Replay1";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

const LONDON: &str = "81.2.69.142";
const SYDNEY: &str = "1.128.0.10";
const NEW_YORK: &str = "24.0.0.10";
const BOTNET: &str = "198.51.100.7";

/// A DB-IP-layout city database that knows the scenario's four networks.
fn enricher(dir: &Path) -> Enricher {
    let mut w = MmdbWriter::new("city ipv4", 4).description("en", "replay scenario");
    for (net, prefix, city, cc, lat, lon) in [
        ("81.2.69.0", 24, "London", "GB", 51.5142f32, -0.0931f32),
        ("1.128.0.0", 16, "Sydney", "AU", -33.8688, 151.2093),
        ("24.0.0.0", 16, "New York", "US", 40.7128, -74.0060),
        ("198.51.100.0", 24, "Amsterdam", "NL", 52.3676, 4.9041),
    ] {
        let record = Value::map([
            ("city", Value::str(city)),
            ("country_code", Value::str(cc)),
            ("latitude", Value::Float(lat)),
            ("longitude", Value::Float(lon)),
            ("postcode", Value::str("")),
            ("state1", Value::str("")),
            ("state2", Value::str("")),
            ("timezone", Value::str("")),
        ]);
        w.insert(net.parse::<IpAddr>().unwrap(), prefix, record).unwrap();
    }
    let path = dir.join("city.mmdb");
    w.write_to(&path).unwrap();
    Enricher { geo: Some(open_city(&path, None).unwrap()), asn: None, anonymous: None }
}

fn envelope(user: &str, source: &str, request: serde_json::Value) -> serde_json::Value {
    json!({
        "version": "1", "region": "eu-west-2", "userPoolId": POOL, "userName": user,
        "callerContext": { "awsSdkVersion": "aws-sdk-js-3.700.0", "clientId": "replayclient" },
        "triggerSource": source, "request": request, "response": {}
    })
}

struct Script {
    lines: Vec<String>,
}

impl Script {
    fn push(&mut self, at: DateTime<Utc>, event: serde_json::Value, label: &str) {
        let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
        self.lines.push(json!({ "receivedAt": at, "event": event, "label": label }).to_string());
    }

    /// A pre-auth event with a signed context, and the post-auth one if it succeeds.
    fn sign_in(&mut self, at: DateTime<Utc>, user: &str, ip: &str, ua: &str, device: &str, ok: bool, label: &str) {
        let ctx = SignInContext {
            ip: ip.into(),
            user_agent: ua.into(),
            device: device.into(),
            nonce: format!("{user}-{}", at.timestamp_millis()),
            issued_at: at.timestamp(),
        };
        let request = json!({
            "userAttributes": { "sub": format!("sub-{user}"), "email": format!("{user}@example.com") },
            "validationData": ctx.sign(user, SECRET),
        });
        self.push(at, envelope(user, "PreAuthentication_Authentication", request), label);
        if ok {
            let request = json!({ "userAttributes": { "sub": format!("sub-{user}") }, "newDeviceUsed": false });
            self.push(
                at + Duration::milliseconds(400),
                envelope(user, "PostAuthentication_Authentication", request),
                label,
            );
        }
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 58, 0).unwrap()
}

/// Alice in London, then Sydney 40 minutes later on a new device; Bob in
/// London, then New York nine hours later; one IP trying 50 users once each.
fn scenario() -> Script {
    let mut s = Script { lines: Vec::new() };
    let t0 = t0();
    // History: both sign in from home every day for a week.
    for day in (1..=7).rev() {
        let at = t0 - Duration::days(day);
        s.sign_in(at, "alice", LONDON, FIREFOX, "alice-laptop", true, "benign");
        s.sign_in(at + Duration::minutes(3), "bob", LONDON, CHROME, "bob-desk", true, "benign");
    }
    s.sign_in(t0, "alice", LONDON, FIREFOX, "alice-laptop", true, "benign");
    s.sign_in(t0 + Duration::minutes(40), "alice", SYDNEY, CHROME, "unknown-phone", true, "takeover:1");
    s.sign_in(t0 + Duration::minutes(1), "bob", LONDON, CHROME, "bob-desk", true, "benign");
    s.sign_in(t0 + Duration::hours(9), "bob", NEW_YORK, CHROME, "bob-desk", true, "benign:traveller");
    // Credential stuffing: 50 users once each, one every 12 s, none succeed.
    let start = t0 + Duration::hours(1) + Duration::minutes(2);
    for i in 0..50 {
        let at = start + Duration::seconds(12 * i);
        s.sign_in(at, &format!("victim-{i:02}"), BOTNET, "python-requests/2.32", "", false, "stuffing:1");
    }
    s
}

async fn replay(dir: &Path, lines: &[String], policy: CompiledPolicy) -> (ReplaySummary, Vec<DecisionLine>) {
    std::fs::create_dir_all(dir).unwrap();
    let input = dir.join("input.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let work = dir.join(format!("work-{:?}", policy.policy.mode));
    let replayer = Replayer::open(
        &work,
        ReplaySetup {
            enricher: Arc::new(enricher(dir)),
            verifier: ContextVerifier::new(vec![SECRET.to_vec()], 300),
            policy: Arc::new(policy),
            settings: Settings::default(),
            stream_shards: 2,
            batch_records: 10_000,
            score_every: Duration::minutes(5),
        },
    )
    .unwrap();
    let mut out = Vec::new();
    let summary = replayer.run(&input, &mut out, |_, _| {}).await.unwrap();
    let decisions =
        out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    (summary, decisions)
}

fn enforce() -> CompiledPolicy {
    Policy::load(None, [("AUTHTRAIL_POLICY__MODE".to_string(), "enforce".to_string())]).unwrap()
}

fn find<'a>(d: &'a [DecisionLine], user: &str, at: DateTime<Utc>) -> &'a DecisionLine {
    d.iter().find(|x| x.user.as_deref() == Some(user) && x.received_at == at).unwrap()
}

#[tokio::test]
async fn enforce_blocks_impossible_travel_and_stuffing_but_not_the_traveller() {
    let tmp = tempfile::tempdir().unwrap();
    let script = scenario();
    let (summary, d) = replay(tmp.path(), &script.lines, enforce()).await;
    assert_eq!(summary.pre_auth, 7 * 2 + 4 + 50);
    assert_eq!(summary.post_auth, 7 * 2 + 4);
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    assert_eq!(d.len(), summary.pre_auth);

    // Alice at home is allowed; from Sydney 40 minutes later she is not.
    assert_eq!(find(&d, "alice", t0()).action, "allow");
    let sydney = find(&d, "alice", t0() + Duration::minutes(40));
    assert_eq!((sydney.action.as_str(), sydney.level.as_deref()), ("deny", Some("high")), "{sydney:?}");
    assert!(sydney.reasons.iter().any(|r| r.starts_with("impossible_travel:")), "{sydney:?}");
    assert!(sydney.reasons.iter().any(|r| r == "new_country:AU"), "{sydney:?}");

    // Bob flies to New York: a new country, but 5 570 km in 9 hours is a flight.
    let ny = find(&d, "bob", t0() + Duration::hours(9));
    assert_eq!(ny.action, "allow", "{ny:?}");
    assert!(!ny.reasons.iter().any(|r| r.starts_with("impossible_travel")), "{ny:?}");

    // The stuffing IP: allowed until the scorer has seen it, denied after.
    let stuffing: Vec<&DecisionLine> =
        d.iter().filter(|x| x.user.as_deref().is_some_and(|u| u.starts_with("victim-"))).collect();
    assert_eq!(stuffing.len(), 50);
    let first_deny = stuffing.iter().position(|x| x.action == "deny").expect("the stuffing IP is blocked");
    // Attempts every 12 s from 11:00; the scorer at 11:05 sees the 25 before
    // it (all resolved failures but the last 60 s, which are pending): the
    // 26th attempt, the first after 11:05, is the first denied.
    assert_eq!(first_deny, 25, "{:?}", stuffing[first_deny]);
    assert!(stuffing[first_deny..].iter().all(|x| x.action == "deny"), "once scored, every later attempt is denied");
    let scored_at = stuffing[first_deny].received_at.duration_trunc(Duration::minutes(5)).unwrap();
    assert!(stuffing[..first_deny].iter().all(|x| x.received_at < scored_at));
    assert!(
        stuffing[first_deny].reasons.iter().any(|r| r.starts_with("ip_risk:90(credential_stuffing")),
        "{:?}",
        stuffing[first_deny]
    );
    // Everyone else in the scenario signed in.
    let other_denies: Vec<_> = d
        .iter()
        .filter(|x| x.action == "deny" && !x.user.as_deref().unwrap().starts_with("victim-"))
        .map(|x| (x.user.clone(), x.received_at))
        .collect();
    assert_eq!(other_denies, vec![(Some("alice".to_string()), t0() + Duration::minutes(40))]);

    // The lake's risk tables (for reports) are the last run's: the replay writes
    // them at its end, from that run (its runs no longer write them).
    let last_run = summary.last.unwrap().duration_trunc(Duration::minutes(5)).unwrap();
    let lake = pipeline::lake::Lake::local(&tmp.path().join("work-Enforce/lake")).unwrap();
    let session = queries::LakeSession::open(&lake).await.unwrap();
    let tables = session.sql("SELECT DISTINCT snapshot_version FROM user_risk").await.unwrap();
    let versions: Vec<String> = tables
        .iter()
        .flat_map(|b| {
            b.column(0).as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(versions, [last_run.format("%Y%m%dT%H%M%S%.6fZ").to_string()]);
}

#[tokio::test]
async fn audit_mode_records_the_same_levels_and_allows_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let script = scenario();
    let (_, enforced) = replay(tmp.path(), &script.lines, enforce()).await;
    let (summary, audited) = replay(tmp.path(), &script.lines, CompiledPolicy::default()).await;
    assert_eq!(summary.denied, 0);
    assert!(audited.iter().all(|x| x.action == "allow"));
    let enforced_denials = enforced.iter().filter(|x| x.action == "deny").count();
    assert_eq!(summary.would_deny, enforced_denials, "audit counts what enforce would deny");
    let levels = |d: &[DecisionLine]| d.iter().map(|x| (x.line, x.level.clone(), x.score)).collect::<Vec<_>>();
    assert_eq!(levels(&audited), levels(&enforced));
    assert!(audited.iter().any(|x| x.level.as_deref() == Some("high")));
}

#[tokio::test]
async fn lines_are_replayed_in_time_order_and_bad_lines_are_rejected_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = scenario().lines;
    lines.reverse();
    lines.insert(3, "{not json".into());
    lines.insert(5, json!({ "receivedAt": "yesterday", "event": {} }).to_string());
    lines.insert(
        7,
        json!({ "receivedAt": "2026-03-02T10:00:00Z", "event": { "triggerSource": "CustomMessage_SignUp" } })
            .to_string(),
    );
    lines.insert(9, String::new());
    let (summary, d) = replay(tmp.path(), &lines, enforce()).await;
    let rejected: Vec<(usize, &str)> = summary.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert_eq!(rejected[0].0, 4);
    assert!(rejected[0].1.starts_with("not a replay line"), "{rejected:?}");
    assert!(rejected[1].1.contains("receivedAt \"yesterday\" is not RFC 3339"), "{rejected:?}");
    assert!(rejected[2].1.contains("CustomMessage_SignUp"), "{rejected:?}");
    // Reversed input, same decisions as in order (time order restored).
    let (_, in_order) = replay(&tmp.path().join("again"), &scenario().lines, enforce()).await;
    let key = |d: &[DecisionLine]| {
        let mut v: Vec<_> = d.iter().map(|x| (x.received_at, x.user.clone(), x.action.clone(), x.score)).collect();
        v.sort();
        v
    };
    assert_eq!(key(&d), key(&in_order));
    assert!(d.windows(2).all(|w| w[0].received_at <= w[1].received_at));
}
