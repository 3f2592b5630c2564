//! The scoring SQL on generated Parquet: asserted results at the window
//! edges, and the same SQL run by DuckDB on the same files.

use chrono::{DateTime, Duration, TimeZone, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use pipeline::event::Event;
use pipeline::risk::RiskSource;
use pipeline::risk::snapshot::{Snapshot, SnapshotData, write_snapshot};
use pipeline::risk::{Risk, UserProfile};
use queries::LakeSession;
use queries::catalog::{Param, query};
use queries::score::{Held, ScoreParams, score, score_held};
use serde_json::{Value, json};
use std::net::IpAddr;

use super::{lake_with, records};

pub(super) type Place = (&'static str, &'static str, f64, f64);
pub(super) const LONDON: Option<Place> = Some(("GB", "London", 51.5142, -0.0931));

pub(super) fn ev(
    id: &str,
    kind: &str,
    t: DateTime<Utc>,
    user: &str,
    ip: Option<&str>,
    place: Option<Place>,
    device: Option<&str>,
) -> Event {
    let mut v = json!({
        "schema_version": 1, "event_id": id, "event_type": kind,
        "time": t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "user_pool_id": "pool", "username": user, "ip_verified": ip.is_some(),
        "context_status": if ip.is_some() { "verified" } else { "missing" },
        "source_ip": ip, "device_key": device, "decision_reasons": [], "notes": [],
    });
    if let Some((cc, city, lat, lon)) = place {
        v["geo_country"] = cc.into();
        v["geo_city"] = city.into();
        v["geo_latitude"] = lat.into();
        v["geo_longitude"] = lon.into();
        v["geo_accuracy_radius_km"] = 10.into();
    }
    serde_json::from_value(v).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn profiles_user_and_source_risk_from_the_lake_become_a_snapshot() {
    let now = now();
    let mut events = Vec::new();
    // Alice: three sign-ins from London on her laptop at 08:00 UTC.
    for (i, days) in [9, 5, 1].into_iter().enumerate() {
        let t = now - Duration::days(days) - Duration::hours(4);
        events.push(ev(&format!("a{i}"), "auth.attempt", t, "alice", Some("81.2.69.142"), LONDON, Some("laptop")));
        events.push(ev(&format!("s{i}"), "auth.success", t + Duration::seconds(20), "alice", None, None, None));
    }
    // A failed attempt from Linköping (no success follows): not a known place.
    let linkoping = Some(("SE", "Linköping", 58.4, 15.6));
    let t = now - Duration::hours(2);
    events.push(ev("af", "auth.attempt", t, "alice", Some("89.160.20.112"), linkoping, Some("other")));
    // A success that comes too late (10 minutes) does not make its attempt succeed.
    let t = now - Duration::hours(3);
    events.push(ev("bl", "auth.attempt", t, "bob", Some("81.2.69.143"), LONDON, Some("desk")));
    events.push(ev("bs", "auth.success", t + Duration::minutes(10), "bob", None, None, None));
    // Window edges: a success exactly 5 minutes after its attempt counts
    // (carol); an attempt exactly at the scoring time is outside (dan).
    let t = now - Duration::hours(4);
    events.push(ev("cl", "auth.attempt", t, "carol", Some("81.2.69.140"), LONDON, Some("tablet")));
    events.push(ev("cs", "auth.success", t + Duration::minutes(5), "carol", None, None, None));
    events.push(ev("dl", "auth.attempt", now, "dan", Some("81.2.69.141"), LONDON, Some("pc")));
    events.push(ev("ds", "auth.success", now, "dan", None, None, None));
    // Erin mistypes, then gets it right: one failure, one success.
    let t = now - Duration::hours(5);
    events.push(ev("e1", "auth.attempt", t, "erin", Some("81.2.69.144"), LONDON, Some("mac")));
    events.push(ev("e2", "auth.attempt", t + Duration::seconds(30), "erin", Some("81.2.69.144"), LONDON, Some("mac")));
    events.push(ev("e3", "auth.success", t + Duration::seconds(31), "erin", None, None, None));
    // Frank's account: 10 failures in the day, the backend reporting each;
    // an auth.failure right after its attempt is the same failure.
    for i in 0..10 {
        let t = now - Duration::hours(6) + Duration::minutes(i);
        events.push(ev(&format!("f{i}"), "auth.attempt", t, "frank", Some("192.0.2.50"), None, None));
        events.push(ev(
            &format!("ff{i}"),
            "auth.failure",
            t + Duration::seconds(1),
            "frank",
            Some("192.0.2.50"),
            None,
            None,
        ));
    }
    // Credential stuffing from 203.0.113.9 (AS64500): 16 users, once each,
    // between 15 minutes ago (inside, the edge is inclusive) and now; one more
    // user 16 minutes ago (outside the 15-minute window, inside the hour).
    for u in 0..17 {
        let t =
            if u == 16 { now - Duration::minutes(16) } else { now - Duration::minutes(15) + Duration::seconds(50 * u) };
        let mut e = ev(&format!("x{u}"), "auth.attempt", t, &format!("victim{u}"), Some("203.0.113.9"), None, None);
        e.asn = Some(64500);
        events.push(e);
    }
    // Unknown usernames: the backend's auth.failure is the only record (no
    // PreAuthentication for users that do not exist), counted as failed tries.
    for u in 0..30 {
        let t = now - Duration::minutes(50) + Duration::minutes(u);
        events.push(ev(&format!("g{u}"), "auth.failure", t, &format!("ghost{u}"), Some("198.51.100.77"), None, None));
    }
    // Grace was denied by the trigger once.
    let mut denied = ev("gr", "auth.attempt", now - Duration::hours(1), "grace", Some("81.2.69.145"), LONDON, None);
    denied.decision_action = Some("deny".into());
    events.push(denied);

    let (_tmp, lake) = lake_with(&events).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let (data, report) = score(&session, &ScoreParams::at(now), "t1").await.unwrap();
    assert_eq!(report.rows_in, events.len() as i64 - 2, "the two events at the scoring time are outside");

    let user = |name: &str| data.users.iter().find(|(k, _)| k == &format!("pool/{name}")).map(|(_, u)| u);
    let with_profile: Vec<&str> =
        data.users.iter().filter(|(_, u)| u.login_count > 0).map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        with_profile,
        vec!["pool/alice", "pool/carol", "pool/erin"],
        "bob's success came too late, dan's is outside"
    );
    let alice = user("alice").unwrap();
    assert_eq!(
        (alice.known_countries.clone(), alice.known_cities.clone(), alice.known_devices.clone()),
        (vec!["GB".to_string()], vec!["London".to_string()], vec!["laptop".to_string()])
    );
    assert_eq!((alice.login_count, alice.usual_hours), (3, 1 << 8));
    let last = alice.last_success.as_ref().unwrap();
    assert_eq!(last.time, now - Duration::days(1) - Duration::hours(4));
    assert_eq!((last.latitude, last.accuracy_radius_km), (51.5142, 10.0));
    assert_eq!(user("erin").unwrap().login_count, 1, "the typo is not a sign-in");

    // User risk: frank's ten failures (each reported twice) count ten times.
    let frank = user("frank").unwrap();
    assert_eq!((frank.risk, frank.reasons.clone()), (60, vec!["failed_sign_ins:10_1d".to_string()]));
    let grace = user("grace").unwrap();
    assert_eq!((grace.risk, grace.reasons.clone()), (40, vec!["blocked_attempts:1_1d".to_string()]));
    assert_eq!(user("erin").unwrap().risk, 0, "one typo is no risk");

    // Sources.
    let ip = |s: &str| data.ips.iter().find(|(a, _)| a.to_string() == s).map(|(_, r)| r.clone());
    let stuffing = ip("203.0.113.9").unwrap();
    assert_eq!(stuffing.score, 90);
    assert_eq!(
        stuffing.reasons,
        vec!["credential_stuffing:16_users_15m".to_string()],
        "the 17th is outside 15 minutes"
    );
    let ghosts = ip("198.51.100.77").unwrap();
    assert_eq!(
        (ghosts.score, ghosts.reasons.clone()),
        (90, vec!["credential_stuffing:30_users_1h".to_string(), "failure_ratio:100%_1h".to_string()])
    );
    assert!(ip("81.2.69.142").is_none());
    assert_eq!(data.asns.len(), 1);
    assert_eq!((data.asns[0].0, data.asns[0].1.score), (64500, 90));

    // Published and read back as the trigger would.
    let dir = tempfile::tempdir().unwrap();
    write_snapshot(dir.path(), &data).unwrap();
    let snap = Snapshot::open_current(dir.path()).unwrap();
    assert_eq!(snap.user("pool", "alice").unwrap().login_count, 3);
    assert_eq!(snap.user("pool", "frank").unwrap().risk, 60);
    assert_eq!(snap.ip("203.0.113.9".parse().unwrap()).unwrap().score, 90);
    assert_eq!(snap.asn(64500).unwrap().score, 90);
}

/// A generated pool: 300 users, 12 IPs shared among them, a day of sign-ins
/// with typos, backend-reported failures and bursts from a few IPs.
fn generated(now: DateTime<Utc>) -> Vec<Event> {
    let mut rng = fastrand::Rng::with_seed(7);
    let ips: Vec<String> = (0..12).map(|i| format!("198.51.100.{}", 10 + i)).collect();
    let places =
        [("GB", "London", 51.5142, -0.0931), ("SE", "Linköping", 58.4, 15.6), ("US", "Milton", 47.25, -122.31)];
    let mut events = Vec::new();
    for n in 0..4_000 {
        let user = format!("u{:03}", rng.usize(0..300));
        let t = now - Duration::seconds(rng.i64(1..36 * 3600));
        let ip = &ips[rng.usize(0..ips.len())];
        let (cc, city, lat, lon) = places[rng.usize(0..places.len())];
        let place = Some((cc, city, lat, lon));
        let device = format!("d{}", rng.u8(0..3));
        let mut e = ev(&format!("n{n:05}a"), "auth.attempt", t, &user, Some(ip.as_str()), place, Some(device.as_str()));
        e.asn = Some(64500 + rng.i64(0..3));
        if rng.u8(0..20) == 0 {
            e.decision_action = Some("deny".into());
        }
        if rng.u8(0..15) == 0 {
            e.ip_verified = false;
        }
        events.push(e);
        match rng.u8(0..10) {
            0..=5 => events.push(ev(
                &format!("n{n:05}s"),
                "auth.success",
                t + Duration::seconds(rng.i64(1..400)),
                &user,
                None,
                None,
                None,
            )),
            6 => events.push(ev(
                &format!("n{n:05}f"),
                "auth.failure",
                t + Duration::seconds(1),
                &user,
                Some(ip.as_str()),
                None,
                None,
            )),
            7 => events.push(ev(
                &format!("n{n:05}g"),
                "auth.failure",
                t,
                &format!("ghost{n}"),
                Some(ip.as_str()),
                None,
                None,
            )),
            _ => {}
        }
    }
    events
}

/// Result rows as JSON: lists sorted (set semantics), timestamps as µs.
pub(super) fn rows(batches: &[RecordBatch]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<ArrayRef> = b.columns().to_vec();
        for r in 0..b.num_rows() {
            out.push(cols.iter().map(|c| cell(c, r)).collect());
        }
    }
    out
}

fn cell(c: &ArrayRef, r: usize) -> Value {
    if c.is_null(r) {
        return Value::Null;
    }
    match c.data_type() {
        DataType::List(_) => {
            let items = cast(&c.as_list::<i32>().value(r), &DataType::Utf8).unwrap();
            let s = items.as_string::<i32>();
            let mut v: Vec<String> = (0..s.len()).map(|i| s.value(i).to_string()).collect();
            v.sort();
            json!(v)
        }
        DataType::Boolean => json!(c.as_boolean().value(r)),
        DataType::Float32 | DataType::Float64 => {
            json!(
                cast(c, &DataType::Float64)
                    .unwrap()
                    .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                    .value(r)
            )
        }
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            json!(cast(c, &DataType::Utf8).unwrap().as_string::<i32>().value(r))
        }
        _ => {
            json!(cast(c, &DataType::Int64).unwrap().as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(r))
        }
    }
}

pub(super) fn duckdb(lake_dir: &std::path::Path, steps: &Value) -> Vec<Vec<Vec<Value>>> {
    let python = std::env::var("AUTHTRAIL_TEST_PYTHON")
        .expect("AUTHTRAIL_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs DuckDB");
    let out = super::duckdb::run(&python, lake_dir, steps, 1, true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn duckdb_computes_the_same_features_from_the_same_parquet() {
    let now = now();
    let events = generated(now);
    let (tmp, lake) = lake_with(&events).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let us = |t: DateTime<Utc>| json!({ "ts": t.timestamp_micros() });
    let window = Duration::minutes(5);

    // The scorer's steps: sign_ins over a horizon, the profile; sign_ins over
    // the day, user and source risk. Compared with sign_ins itself too.
    let mut steps = Vec::new();
    let mut ours = Vec::new();
    for (since, then) in
        [(now - Duration::days(2), vec!["user_profile"]), (now - Duration::days(1), vec!["user_risk", "source_risk"])]
    {
        let sign_ins = query("sign_ins").unwrap();
        let pending = Duration::seconds(60);
        let params = [
            ("since", Param::Timestamp(since)),
            ("until", Param::Timestamp(now)),
            ("success_window", Param::Interval(window)),
            ("pending_window", Param::Interval(pending)),
            ("only_user", Param::Text(String::new())),
            ("deny_rank", Param::Bigint(3)),
        ];
        session.register_query("sign_ins", &sign_ins, &params).await.unwrap();
        let intervals =
            [json!({ "interval_us": window.num_microseconds() }), json!({ "interval_us": pending.num_microseconds() })];
        let params = json!([us(since), us(now), intervals[0], intervals[1], { "text": "" }, { "int": 3 }]);
        steps.push(json!({ "view": "sign_ins", "sql": sign_ins.sql, "params": params }));
        let all = "SELECT * FROM sign_ins ORDER BY event_id";
        steps.push(json!({ "sql": all, "params": [] }));
        ours.push(rows(&session.sql(all).await.unwrap()));
        for name in then {
            let q = query(name).unwrap();
            let (params, json_params): (Vec<(&str, Param)>, Vec<Value>) = match name {
                "user_profile" => (vec![("last_n", Param::Bigint(5))], vec![json!({ "int": 5 })]),
                "source_risk" => (
                    vec![
                        ("since_15m", Param::Timestamp(now - Duration::minutes(15))),
                        ("since_1h", Param::Timestamp(now - Duration::hours(1))),
                    ],
                    vec![us(now - Duration::minutes(15)), us(now - Duration::hours(1))],
                ),
                _ => (vec![], vec![]),
            };
            ours.push(rows(&session.query(&q, &params).await.unwrap()));
            steps.push(json!({ "sql": q.sql, "params": json_params }));
        }
    }
    let theirs = duckdb(&tmp.path().join("lake"), &Value::Array(steps));
    let names = ["sign_ins (2 days)", "user_profile", "sign_ins (1 day)", "user_risk", "source_risk"];
    assert_eq!(theirs.len(), names.len());
    for ((name, a), b) in names.iter().zip(&ours).zip(&theirs) {
        assert!(a.len() > 10, "{name}: {} rows is too few to compare", a.len());
        assert_eq!(a.len(), b.len(), "{name}: row counts differ");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x, y, "{name}: row {i} differs");
        }
    }
    // The generated data exercises what the features count.
    let source_risk = &ours[4];
    assert!(source_risk.iter().any(|r| r[0] == "asn") && source_risk.iter().any(|r| r[0] == "ip"));
    assert!(ours[3].iter().any(|r| r[4].as_i64() > Some(0)), "some users were blocked");
}

#[tokio::test]
async fn copies_denials_forged_ips_and_pending_tries_do_not_make_risk() {
    let now = now();
    let mut events = Vec::new();
    // An office NAT: 16 users sign in once each in the last 15 minutes, and
    // the stream delivered every event twice (a retried batch).
    for u in 0..16 {
        let t = now - Duration::minutes(14) + Duration::seconds(40 * u);
        let user = format!("staff{u}");
        let a = ev(&format!("o{u}"), "auth.attempt", t, &user, Some("192.0.2.10"), LONDON, Some("pc"));
        let s = ev(&format!("os{u}"), "auth.success", t + Duration::seconds(1), &user, None, None, None);
        events.extend([a.clone(), a, s.clone(), s]);
    }
    // 20 attempts the trigger denied, from one IP: not failures, no IP risk.
    for u in 0..20 {
        let mut e = ev(
            &format!("d{u}"),
            "auth.attempt",
            now - Duration::minutes(10),
            &format!("den{u}"),
            Some("192.0.2.20"),
            None,
            None,
        );
        e.decision_action = Some("deny".into());
        events.push(e);
    }
    // 20 failing attempts whose unsigned context names someone else's IP.
    for u in 0..20 {
        let mut e = ev(
            &format!("f{u}"),
            "auth.attempt",
            now - Duration::minutes(9),
            &format!("forged{u}"),
            Some("192.0.2.30"),
            None,
            None,
        );
        e.ip_verified = false;
        events.push(e);
    }
    // An attempt 30 s ago with nothing after it yet is pending; 2 minutes ago, failed.
    events.push(ev("p1", "auth.attempt", now - Duration::seconds(30), "late", Some("192.0.2.40"), None, None));
    events.push(ev("p2", "auth.attempt", now - Duration::minutes(2), "later", Some("192.0.2.40"), None, None));
    // Neighbours of another user are no neighbours (`sign_ins` orders the
    // whole period): a success of the same name in another pool, or of the
    // next name, does not make an attempt succeed, and a failure report
    // right after another user's attempt is a failed try of its own.
    let at = now - Duration::minutes(4);
    events.push(ev("n1", "auth.attempt", at, "nb1", Some("192.0.2.50"), None, None));
    let mut other_pool = ev("n1s", "auth.success", at + Duration::seconds(1), "nb1", None, None, None);
    other_pool.user_pool_id = "pool2".into();
    events.push(other_pool);
    events.push(ev("n2", "auth.attempt", at, "nb2", Some("192.0.2.51"), None, None));
    events.push(ev("n3s", "auth.success", at + Duration::seconds(1), "nb3", None, None, None));
    events.push(ev("n4", "auth.attempt", at, "nb4", Some("192.0.2.52"), None, None));
    events.push(ev("n5f", "auth.failure", at + Duration::seconds(1), "nb5", Some("192.0.2.52"), None, None));
    let (tmp, lake) = lake_with(&events).await;
    // A partition outside the scoring horizon that cannot be read: pruning
    // by `dt` means it is never opened.
    let old = tmp.path().join("lake/events/dt=2020-01-01/hour=00");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("junk.parquet"), b"not parquet").unwrap();

    let session = LakeSession::open(&lake).await.unwrap();
    let (data, report) = score(&session, &ScoreParams::at(now), "t2").await.unwrap();
    assert_eq!(report.rows_in, events.len() as i64, "copies are in the lake; the scorer counts them once below");
    assert!(data.ips.is_empty(), "no source is risky: {:?}", data.ips);
    let staff = data.users.iter().find(|(k, _)| k == "pool/staff3").unwrap();
    assert_eq!((staff.1.login_count, staff.1.risk), (1, 0));
    let denied = data.users.iter().find(|(k, _)| k == "pool/den3").unwrap();
    assert_eq!(denied.1.reasons, vec!["blocked_attempts:1_1d".to_string()]);
    // The day's sign_ins are still registered: read the outcomes.
    let outcomes = session
        .sql("SELECT username, outcome, count(*) AS n FROM sign_ins WHERE username IN ('late', 'later', 'staff3', 'den3', 'nb1', 'nb2', 'nb4', 'nb5') GROUP BY username, outcome ORDER BY username")
        .await
        .unwrap();
    let got = rows(&outcomes);
    assert_eq!(
        got,
        vec![
            vec![json!("den3"), json!("denied"), json!(1)],
            vec![json!("late"), json!("pending"), json!(1)],
            vec![json!("later"), json!("failure"), json!(1)],
            vec![json!("nb1"), json!("failure"), json!(1)],
            vec![json!("nb2"), json!("failure"), json!(1)],
            vec![json!("nb4"), json!("failure"), json!(1)],
            vec![json!("nb5"), json!("failure"), json!(1)],
            vec![json!("staff3"), json!("success"), json!(1)],
        ]
    );
    // Without the `dt` predicate the junk partition would fail the query.
    let unpruned = session.sql("SELECT count(*) FROM events").await;
    assert!(unpruned.is_err(), "the junk file is read when nothing prunes it");
}

/// A profile learns from verified successes only when they were not
/// anonymized (for the last place) and not decided at or above the deny
/// level; held profiles take the day's successes in at the next run.
#[tokio::test]
async fn held_profiles_merge_the_day_and_untrusted_sign_ins_teach_nothing() {
    let now = now();
    let paris = Some(("FR", "Paris", 48.85, 2.35));
    let sydney = Some(("AU", "Sydney", -33.87, 151.21));
    let success = |id: &str, t: DateTime<Utc>, place, device: &str, level: Option<&str>, anon: bool| {
        let mut a = ev(&format!("{id}a"), "auth.attempt", t, "alice", Some("81.2.69.142"), place, Some(device));
        a.decision_level = level.map(str::to_string);
        a.anon_any = Some(anon);
        vec![a, ev(&format!("{id}s"), "auth.success", t + Duration::seconds(5), "alice", None, None, None)]
    };
    // Three days ago from London on the laptop: the profile as held.
    let mut events = success("old", now - Duration::days(3), LONDON, "laptop", Some("low"), false);
    let (_tmp, lake) = lake_with(&events).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let held = queries::score::profiles(&session, &ScoreParams::at(now - Duration::hours(2))).await.unwrap();
    assert_eq!(held.users["pool/alice"].known_devices, ["laptop"]);

    // Since then: a success through a VPN in Paris on the phone, and an
    // attacker's success from Sydney that the trigger rated high (audit mode let it in).
    events.extend(success("vpn", now - Duration::hours(1), paris, "phone", Some("medium"), true));
    events.extend(success("evil", now - Duration::minutes(30), sydney, "attacker", Some("high"), false));
    let (_tmp2, lake) = lake_with(&events).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let mut held = Held { profiles: Some(held), day: None };
    let (data, _) = score_held(&session, &ScoreParams::at(now), &mut held, "v").await.unwrap();
    let alice = &data.users.iter().find(|(k, _)| k == "pool/alice").unwrap().1;
    assert_eq!(alice.known_devices, ["laptop", "phone"], "the day's success merged in; the attacker's is not learnt");
    assert_eq!(alice.known_countries, ["FR", "GB"]);
    let last = alice.last_success.as_ref().unwrap();
    assert_eq!(last.country.as_deref(), Some("GB"), "the VPN's place is no last place; the denied-level one is none");
    // Scoring from scratch gives the same profile.
    let (fresh, _) = score(&session, &ScoreParams::at(now), "v").await.unwrap();
    let again = &fresh.users.iter().find(|(k, _)| k == "pool/alice").unwrap().1;
    assert_eq!(
        (&again.known_devices, &again.known_countries, again.last_success.as_ref().map(|l| l.time)),
        (&alice.known_devices, &alice.known_countries, Some(last.time))
    );
}

/// A try still undecided when the held profiles were computed (its success
/// came just after) is learnt once it has succeeded: the recent sign-ins a
/// run merges start that far before the profiles' time.
#[tokio::test]
async fn a_try_pending_when_the_profiles_were_read_is_learnt_when_it_succeeds() {
    let now = now();
    let read_at = now - Duration::hours(2);
    let paris = Some(("FR", "Paris", 48.85, 2.35));
    let events = vec![
        ev("homea", "auth.attempt", now - Duration::days(3), "bob", Some("81.2.69.142"), LONDON, Some("laptop")),
        ev("homes", "auth.success", now - Duration::days(3) + Duration::seconds(5), "bob", None, None, None),
        ev("tripa", "auth.attempt", read_at - Duration::seconds(30), "bob", Some("81.2.69.143"), paris, Some("phone")),
        ev("trips", "auth.success", read_at + Duration::seconds(10), "bob", None, None, None),
    ];
    let (_tmp, lake) = lake_with(&events).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let profiles = queries::score::profiles(&session, &ScoreParams::at(read_at)).await.unwrap();
    assert_eq!(profiles.users["pool/bob"].known_devices, ["laptop"], "the Paris try is pending then");
    let mut held = Held { profiles: Some(profiles), day: None };
    let (data, _) = score_held(&session, &ScoreParams::at(now), &mut held, "v").await.unwrap();
    let bob = &data.users.iter().find(|(k, _)| k == "pool/bob").unwrap().1;
    assert_eq!(bob.known_devices, ["laptop", "phone"]);
    assert_eq!(bob.last_success.as_ref().and_then(|l| l.country.as_deref()), Some("FR"));
}

/// What a snapshot says, for comparing two runs.
fn verdicts(data: &SnapshotData) -> (&[(String, UserProfile)], &[(IpAddr, Risk)], &[(u32, Risk)]) {
    (&data.users, &data.ips, &data.asns)
}

/// A scorer that runs every 15 minutes and holds the day's settled
/// sign-ins between runs scores exactly as one that reads the whole day at
/// every run, across the hours where the held rows take over and through
/// a re-read of the profiles.
#[tokio::test]
async fn runs_holding_the_settled_day_score_like_runs_reading_it_whole() {
    let now = now();
    let events = generated(now);
    let (_tmp, lake) = lake_with(&events).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let (mut holding, mut reading) = (Held::default(), Held::default());
    let mut risky = 0;
    for step in 0..=32 {
        let p = ScoreParams::at(now - Duration::hours(8) + Duration::minutes(15 * step));
        let (held, _) = score_held(&session, &p, &mut holding, "v").await.unwrap();
        reading.day = None;
        let (whole, _) = score_held(&session, &p, &mut reading, "v").await.unwrap();
        assert_eq!(verdicts(&held), verdicts(&whole), "run at {}", p.now);
        risky += held.ips.len() + held.users.iter().filter(|(_, u)| u.risk > 0).count();
    }
    assert!(risky > 0, "the generated pool makes risk for the comparison to cover");
}

/// An event that reaches the lake after the run that held its hour counts
/// at the next run (the day is read whole once); a lake writer a few
/// minutes behind, whose file holds nothing held rows depend on, does not
/// make the day be read whole.
#[tokio::test]
async fn a_late_event_counts_at_the_next_run() {
    let now = now();
    let (_tmp, lake) = lake_with(&generated(now)).await;
    let mut held = Held::default();
    let mut run = async |at: DateTime<Utc>| {
        score_held(&LakeSession::open(&lake).await.unwrap(), &ScoreParams::at(at), &mut held, "v").await.unwrap()
    };
    assert!(run(now).await.1.read_day_whole, "nothing held yet");
    let (_, report) = run(now + Duration::minutes(15)).await;
    assert!(!report.read_day_whole, "an unchanged lake: only the last hour or so is read");
    // Twelve failed tries on one account two hours ago (in the held hours),
    // reaching the lake only now, as a file of their own.
    let late: Vec<Event> = (0..12)
        .map(|n| {
            let t = now - Duration::hours(2) + Duration::minutes(n);
            ev(&format!("late{n}"), "auth.attempt", t, "late", Some("203.0.113.9"), LONDON, Some("x"))
        })
        .collect();
    lake.write(&records(&late, "shard-0001")).await.unwrap();
    let risk_of_late = |data: &SnapshotData| data.users.iter().find(|(k, _)| k == "pool/late").map(|(_, u)| u.risk);
    let (data, report) = run(now + Duration::minutes(30)).await;
    assert!(report.read_day_whole, "a new file in a held hour: the day is read whole");
    assert_eq!(risk_of_late(&data), Some(60));
    // A lake writer a few minutes behind: a new file in the hour the held
    // rows' success window reaches (they end at 11:25, the window at 11:30),
    // but of events after it, on which no held row depends.
    let e = ev("behind", "auth.attempt", now - Duration::minutes(20), "behind", Some("203.0.113.10"), LONDON, None);
    lake.write(&records(&[e], "shard-0002")).await.unwrap();
    let (data, report) = run(now + Duration::minutes(45)).await;
    assert!(!report.read_day_whole, "and held again from then on, the writer's late-ish file read with the tail");
    assert_eq!(risk_of_late(&data), Some(60));
}
