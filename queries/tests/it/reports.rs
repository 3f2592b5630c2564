//! Every report of the catalogue on a hand-built lake whose answers are
//! known: asserted results, DuckDB agreeing on the same Parquet, parameters
//! that cannot inject SQL, and a one-day report reading one day's files.

use chrono::{DateTime, Duration, TimeZone, Utc};
use datafusion::physical_plan::displayable;
use pipeline::event::Event;
use pipeline::risk::snapshot::SnapshotData;
use pipeline::risk::{Risk, Scoring, UserProfile};
use queries::LakeSession;
use queries::catalog::Param;
use queries::reports;
use serde_json::{Value, json};

use super::lake_with;
use super::scoring::{LONDON, Place, duckdb, ev, rows};

const SYDNEY: Option<Place> = Some(("AU", "Sydney", -33.8688, 151.2093));
const MOSCOW: Option<Place> = Some(("RU", "Moscow", 55.7558, 37.6173));
const AMSTERDAM: Option<Place> = Some(("NL", "Amsterdam", 52.3676, 4.9041));
const STUFFER: &str = "203.0.113.9";
const SPRAYER: &str = "198.51.100.7";

fn at(day: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, h, m, s).unwrap()
}

/// The period every report runs over: 8 April to 10 April noon.
fn since() -> DateTime<Utc> {
    at(8, 0, 0, 0)
}
fn until() -> DateTime<Utc> {
    at(10, 12, 0, 0)
}

fn with(mut e: Event, asn: Option<(i64, &str)>, client: &str) -> Event {
    e.asn = asn.map(|a| a.0);
    e.as_org = asn.map(|a| a.1.to_string());
    e.client_id = Some(client.into());
    e
}

fn decided(mut e: Event, action: &str, level: &str, score: i32, reasons: &[&str]) -> Event {
    e.decision_action = Some(action.into());
    e.decision_level = Some(level.into());
    e.decision_score = Some(score);
    e.decision_reasons = reasons.iter().map(|r| r.to_string()).collect();
    e
}

/// The story the reports must tell:
/// - alice signs in from London on 5 April (history) and on 9 April, then
///   from Sydney 30 minutes later on a new phone (rated high, allowed: audit);
/// - bob mistypes (a failure, with the backend's failure report), then signs
///   in on his first device (rated medium);
/// - a stuffing bot tries twelve users once each from one Moscow IP, the
///   last four denied; a sprayer tries three users four times each;
/// - carol signs in through another app client with an unsigned context on
///   10 April; one of alice's attempts arrives twice (a re-delivered batch).
fn story() -> Vec<Event> {
    let bt = Some((2856, "British Telecommunications PLC"));
    let web = "web";
    let mut e = vec![
        with(ev("h1", "auth.attempt", at(5, 10, 0, 0), "alice", Some("81.2.69.142"), LONDON, Some("laptop")), bt, web),
        with(ev("h1s", "auth.success", at(5, 10, 0, 20), "alice", None, None, None), None, web),
        with(ev("a1", "auth.attempt", at(9, 8, 0, 0), "alice", Some("81.2.69.142"), LONDON, Some("laptop")), bt, web),
        with(ev("a1s", "auth.success", at(9, 8, 0, 20), "alice", None, None, None), None, web),
        decided(
            with(
                ev("a2", "auth.attempt", at(9, 8, 30, 0), "alice", Some("1.120.0.7"), SYDNEY, Some("phone-x")),
                Some((1221, "Telstra")),
                web,
            ),
            "allow",
            "high",
            85,
            &["new_country:AU", "impossible_travel:16990km"],
        ),
        with(ev("a2s", "auth.success", at(9, 8, 30, 20), "alice", None, None, None), None, web),
        with(ev("b1", "auth.attempt", at(9, 9, 0, 0), "bob", Some("81.2.69.160"), LONDON, Some("laptop-b")), bt, web),
        with(ev("b1f", "auth.failure", at(9, 9, 0, 5), "bob", Some("81.2.69.160"), LONDON, Some("laptop-b")), bt, web),
        decided(
            with(
                ev("b2", "auth.attempt", at(9, 9, 1, 0), "bob", Some("81.2.69.160"), LONDON, Some("laptop-b")),
                bt,
                web,
            ),
            "allow",
            "medium",
            40,
            &["new_device"],
        ),
        with(ev("b2s", "auth.success", at(9, 9, 1, 10), "bob", None, None, None), None, web),
    ];
    // The copy of a1 (same event id).
    e.push(e[2].clone());
    for i in 1..=12u32 {
        let t = at(9, 10, 0, 0) + Duration::seconds(10 * i64::from(i));
        let bot = with(
            ev(
                &format!("st{i:02}"),
                "auth.attempt",
                t,
                &format!("u{i:02}"),
                Some(STUFFER),
                MOSCOW,
                Some(&format!("bot-{i}")),
            ),
            Some((64500, "Bad Net")),
            web,
        );
        e.push(if i > 8 {
            decided(bot, "deny", "high", 90, &["ip_risk:90(credential_stuffing:12_users_15m)"])
        } else {
            bot
        });
    }
    for (u, user) in ["s1", "s2", "s3"].iter().enumerate() {
        for k in 0..4 {
            let t = at(9, 11, 0, 0) + Duration::minutes(10 * k) + Duration::seconds(u as i64);
            e.push(with(
                ev(&format!("sp{u}{k}"), "auth.attempt", t, user, Some(SPRAYER), AMSTERDAM, Some("sprayer")),
                Some((64501, "Spray Host")),
                web,
            ));
        }
    }
    let mut c1 = with(
        ev("c1", "auth.attempt", at(10, 9, 0, 0), "carol", Some("192.0.2.10"), None, Some("tablet")),
        None,
        "web-2",
    );
    c1.ip_verified = false;
    c1.context_status = pipeline::event::ContextStatus::Unsigned;
    e.push(c1);
    e.push(with(ev("c1s", "auth.success", at(10, 9, 0, 15), "carol", None, None, None), None, "web-2"));
    e
}

/// The scorer's latest run as the risk tables hold it.
fn risk() -> SnapshotData {
    let user = |risk, reasons: &[&str]| UserProfile {
        risk,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        login_count: 3,
        known_countries: vec!["GB".into()],
        known_devices: vec!["laptop".into()],
        ..Default::default()
    };
    let r = |score, reason: &str| Risk { score, reasons: vec![reason.into()] };
    SnapshotData {
        version: "v1".into(),
        built: until(),
        users: vec![
            ("pool/alice".into(), user(40, &["blocked_attempts:1_1d"])),
            ("pool/bob".into(), user(0, &[])),
            ("pool/u09".into(), user(70, &["failures_from_ips:5_1d"])),
        ],
        ips: vec![
            (STUFFER.parse().unwrap(), r(90, "credential_stuffing:12_users_15m")),
            (SPRAYER.parse().unwrap(), r(80, "password_spraying:10_users_1d")),
            ("81.2.69.142".parse().unwrap(), r(0, "none")),
        ],
        asns: vec![(64500, r(90, "credential_stuffing:12_users_15m"))],
    }
}

struct Fixture {
    tmp: tempfile::TempDir,
    session: LakeSession,
}

async fn fixture() -> Fixture {
    let (tmp, lake) = lake_with(&story()).await;
    pipeline::lake::risk_tables::write(&lake, &risk()).await.unwrap();
    let session = LakeSession::open(&lake).await.unwrap();
    Fixture { tmp, session }
}

impl Fixture {
    /// The report's values: the period, then `given` (as typed on the command line).
    fn values(&self, name: &str, given: &[(&str, &str)]) -> Vec<(String, Param)> {
        let q = reports::report(name).unwrap();
        let mut all: Vec<(String, String)> = [("since", since()), ("until", until())]
            .into_iter()
            .filter(|(n, _)| q.params.iter().any(|p| p.name == *n))
            .map(|(n, t)| (n.to_string(), t.to_rfc3339()))
            .collect();
        all.extend(given.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        reports::values(&q, &all, until()).unwrap()
    }

    async fn run(&self, name: &str, given: &[(&str, &str)]) -> Vec<Vec<Value>> {
        self.run_at(name, given, pipeline::risk::Level::High).await
    }

    /// As [`Fixture::run`] under a policy denying at `deny_level`.
    async fn run_at(&self, name: &str, given: &[(&str, &str)], deny_level: pipeline::risk::Level) -> Vec<Vec<Value>> {
        let q = reports::report(name).unwrap();
        let df = reports::dataframe(&self.session, &q, &self.values(name, given), &Scoring::default(), deny_level)
            .await
            .unwrap();
        rows(&df.collect().await.unwrap())
    }
}

fn us(t: DateTime<Utc>) -> Value {
    json!(t.timestamp_micros())
}

#[tokio::test]
async fn every_report_answers_the_story() {
    let f = fixture().await;

    // bucket, tries, successes, failures, denied, high_risk, blocked, users, ips
    let hourly = f.run("sign_ins_over_time", &[]).await;
    let tries: Vec<(Value, Value)> = hourly.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(
        tries,
        [(9, 8, 2), (9, 9, 2), (9, 10, 12), (9, 11, 12), (10, 9, 1)].map(|(d, h, n)| (us(at(d, h, 0, 0)), json!(n)))
    );
    let daily = f.run("sign_ins_over_time", &[("bucket", "day")]).await;
    assert_eq!(
        daily,
        [
            vec![us(at(9, 0, 0, 0)), json!(28), json!(3), json!(21), json!(4), json!(5), json!(5), json!(17), json!(5)],
            vec![us(at(10, 0, 0, 0)), json!(1), json!(1), json!(0), json!(0), json!(0), json!(0), json!(1), json!(1)],
        ]
    );

    // country, tries, failures, denied, high_risk, blocked, users, ips, failure_ratio, failure_share
    let countries = f.run("failures_by_country", &[]).await;
    let head: Vec<Vec<Value>> = countries.iter().map(|r| [&r[..5], &r[6..8]].concat()).collect();
    let blocked: Vec<&Value> = countries.iter().map(|r| &r[5]).collect();
    assert_eq!(blocked, [&json!(0), &json!(4), &json!(0), &json!(1), &json!(0)], "denied or high, once each");
    assert_eq!(
        head,
        [
            vec![json!("NL"), json!(12), json!(12), json!(0), json!(0), json!(3), json!(1)],
            vec![json!("RU"), json!(12), json!(8), json!(4), json!(4), json!(12), json!(1)],
            vec![json!("GB"), json!(3), json!(1), json!(0), json!(0), json!(2), json!(2)],
            vec![json!("AU"), json!(1), json!(0), json!(0), json!(1), json!(1), json!(1)],
            vec![Value::Null, json!(1), json!(0), json!(0), json!(0), json!(1), json!(1)],
        ]
    );
    assert_eq!(countries[0][9], json!(0.571), "NL has 12 of the 21 failures");
    assert_eq!(f.run("failures_by_country", &[("limit", "2")]).await.len(), 2);
    // "blocked" follows the policy's deny level, not a hard-coded 'high':
    // denying from medium up blocks at least as much, and here more.
    let at_medium = f.run_at("failures_by_country", &[], pipeline::risk::Level::Medium).await;
    let total = |rows: &[Vec<Value>]| rows.iter().map(|r| r[5].as_i64().unwrap()).sum::<i64>();
    assert_eq!(total(&countries), 5);
    assert!(total(&at_medium) > total(&countries), "{} blocked at medium", total(&at_medium));
    for (m, h) in at_medium.iter().zip(&countries) {
        assert!(m[5].as_i64() >= h[5].as_i64(), "{m:?} / {h:?}");
    }

    let asns = f.run("failures_by_asn", &[]).await;
    assert_eq!(asns[0][..2], [json!(64501), json!("Spray Host")], "{asns:?}");
    assert_eq!(asns[1][..2], [json!(64500), json!("Bad Net")], "{asns:?}");

    // time, pool, user, …, score, level, action, outcome, reasons: newest first.
    let blocked = f.run("blocked_attempts", &[]).await;
    let who: Vec<&str> = blocked.iter().map(|r| r[2].as_str().unwrap()).collect();
    assert_eq!(who, ["u12", "u11", "u10", "u09", "alice"]);
    let alice = blocked.last().unwrap();
    assert_eq!(alice[alice.len() - 2], json!("success"), "audit mode let the high-risk sign-in through");
    assert_eq!(alice[alice.len() - 1], json!("new_country:AU, impossible_travel:16990km"));
    assert_eq!(blocked[0][16], json!("denied"));
    let medium = f.run("blocked_attempts", &[("min_level", "medium")]).await;
    assert_eq!(medium.len(), 6, "bob's medium-risk sign-in joins");

    let users = f.run("riskiest_users", &[]).await;
    let users: Vec<(Value, Value)> = users.iter().map(|r| (r[1].clone(), r[2].clone())).collect();
    assert_eq!(users, [(json!("u09"), json!(70)), (json!("alice"), json!(40))]);
    let ips = f.run("riskiest_ips", &[]).await;
    assert_eq!(ips.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), [json!(STUFFER), json!(SPRAYER)]);
    let networks = f.run("riskiest_networks", &[]).await;
    assert_eq!(networks.len(), 1);
    assert_eq!(networks[0][..2], [json!(64500), json!(90)]);
    // score_range, users, ips: every band listed.
    let bands = f.run("risk_distribution", &[]).await;
    assert_eq!(bands.len(), 10);
    let non_empty: Vec<&Vec<Value>> = bands.iter().filter(|r| r[1] != json!(0) || r[2] != json!(0)).collect();
    assert_eq!(
        non_empty,
        [
            &vec![json!("40-49"), json!(1), json!(0)],
            &vec![json!("70-79"), json!(1), json!(0)],
            &vec![json!("80-89"), json!(0), json!(1)],
            &vec![json!("90-100"), json!(0), json!(1)],
        ]
    );

    // kind, source, asn, as_org, users, light_users, light_failed_users, tries, failures, denied, …
    let stuffing = f.run("stuffing_candidates", &[]).await;
    let heads: Vec<Vec<Value>> = stuffing.iter().map(|r| r[..10].to_vec()).collect();
    assert_eq!(
        heads,
        [
            vec![
                json!("asn"),
                json!("64500"),
                json!(64500),
                json!("Bad Net"),
                json!(12),
                json!(12),
                json!(8),
                json!(12),
                json!(8),
                json!(4)
            ],
            vec![
                json!("ip"),
                json!(STUFFER),
                json!(64500),
                json!("Bad Net"),
                json!(12),
                json!(12),
                json!(8),
                json!(12),
                json!(8),
                json!(4)
            ],
        ]
    );
    // The sprayer tried only three users: a candidate at min_users 3, not at the default.
    assert!(f.run("spraying_candidates", &[]).await.is_empty());
    let spraying = f.run("spraying_candidates", &[("min_users", "3")]).await;
    assert_eq!(spraying.len(), 1);
    // source_ip, country, asn, as_org, users, heavy_users, tries, failures, denied, failure_ratio, max_user_tries
    assert_eq!(
        spraying[0][..11],
        [
            json!(SPRAYER),
            json!("NL"),
            json!(64501),
            json!("Spray Host"),
            json!(3),
            json!(3),
            json!(12),
            json!(12),
            json!(0),
            json!(1.0),
            json!(4)
        ]
    );

    // London → Sydney in 30 minutes.
    let travel = f.run("impossible_travel", &[]).await;
    assert_eq!(travel.len(), 1, "{travel:?}");
    let t = &travel[0];
    assert_eq!(
        t[..10],
        [
            json!("pool"),
            json!("alice"),
            us(at(9, 8, 0, 0)),
            us(at(9, 8, 30, 0)),
            json!("81.2.69.142"),
            json!("1.120.0.7"),
            json!("GB"),
            json!("London"),
            json!("AU"),
            json!("Sydney")
        ]
    );
    let km = t[10].as_f64().unwrap();
    assert!((16_950.0..17_000.0).contains(&km), "{km}");
    assert_eq!(t[11], json!(0.5));
    assert!((t[12].as_f64().unwrap() - 2.0 * km).abs() <= 1.0, "{t:?}");
    assert!(f.run("impossible_travel", &[("max_speed_kmh", "40000")]).await.is_empty());

    // user, kind, value: bob's first device and country; alice's phone and Australia (London was known).
    let new = f.run("new_devices_and_countries", &[]).await;
    let firsts: Vec<(Value, Value, Value, Value)> =
        new.iter().map(|r| (r[1].clone(), r[2].clone(), r[3].clone(), r[7].clone())).collect();
    assert_eq!(
        firsts,
        [
            (json!("bob"), json!("country"), json!("GB"), json!(0)),
            (json!("bob"), json!("device"), json!("laptop-b"), json!(0)),
            (json!("alice"), json!("country"), json!("AU"), json!(1)),
            (json!("alice"), json!("device"), json!("phone-x"), json!(1)),
        ]
    );

    // Alice's trail: the copy of a1 once; the history day outside the period.
    let trail = f.run("user_audit_trail", &[("username", "alice")]).await;
    let steps: Vec<(Value, Value)> = trail.iter().map(|r| (r[3].clone(), r[4].clone())).collect();
    assert_eq!(
        steps,
        [
            (json!("auth.attempt"), json!("success")),
            (json!("auth.success"), Value::Null),
            (json!("auth.attempt"), json!("success")),
            (json!("auth.success"), Value::Null),
        ]
    );
    let bob = f.run("user_audit_trail", &[("username", "bob")]).await;
    let kinds: Vec<Value> = bob.iter().map(|r| r[3].clone()).collect();
    assert_eq!(kinds, ["auth.attempt", "auth.failure", "auth.attempt", "auth.success"].map(|k| json!(k)));
    assert_eq!(bob[0][4], json!("failure"));

    // client_id, tries, successes, failures, denied, high_risk, users, ips
    let clients = f.run("sign_ins_per_client", &[]).await;
    let clients: Vec<Vec<Value>> = clients.iter().map(|r| r[..8].to_vec()).collect();
    assert_eq!(
        clients,
        [
            vec![json!("web"), json!(28), json!(3), json!(21), json!(4), json!(5), json!(17), json!(5)],
            vec![json!("web-2"), json!(1), json!(1), json!(0), json!(0), json!(0), json!(1), json!(1)],
        ]
    );

    // context_status, client_id, events, attempts, failure_reports, users, ips
    let unverified = f.run("unverified_context", &[]).await;
    assert_eq!(unverified.len(), 1);
    assert_eq!(
        unverified[0][..7],
        [json!("unsigned"), json!("web-2"), json!(1), json!(1), json!(0), json!(1), json!(1)]
    );
}

#[tokio::test]
async fn duckdb_agrees_on_the_same_parquet() {
    let f = fixture().await;
    let (since, until) = (since(), until());
    let sign_ins = queries::catalog::query("sign_ins").unwrap();
    let window = |s: i64| json!({ "interval_us": s * 1_000_000 });
    let sign_ins_step = json!({
        "view": "sign_ins", "sql": sign_ins.sql,
        "params": [{ "ts": since.timestamp_micros() }, { "ts": until.timestamp_micros() }, window(300), window(60), { "text": "" }, { "int": 3 }],
    });
    let cases: [(&str, &[(&str, &str)]); 8] = [
        ("sign_ins_over_time", &[("bucket", "hour")]),
        ("failures_by_country", &[]),
        ("blocked_attempts", &[("min_level", "medium")]),
        ("stuffing_candidates", &[]),
        ("impossible_travel", &[]),
        ("user_audit_trail", &[("username", "bob")]),
        ("new_devices_and_countries", &[]),
        ("riskiest_users", &[]),
    ];
    let mut steps = vec![sign_ins_step];
    let mut ours = Vec::new();
    for (name, given) in cases {
        let params: Vec<Value> = f
            .values(name, given)
            .into_iter()
            .map(|(_, v)| match v {
                Param::Timestamp(t) => json!({ "ts": t.timestamp_micros() }),
                Param::Bigint(n) => json!({ "int": n }),
                Param::Double(x) => json!({ "float": x }),
                Param::Text(s) => json!({ "text": s }),
                Param::Interval(d) => json!({ "interval_us": d.num_microseconds() }),
            })
            .collect();
        steps.push(json!({ "sql": reports::report(name).unwrap().sql, "params": params }));
        ours.push((name, f.run(name, given).await));
    }
    let theirs = duckdb(&f.tmp.path().join("lake"), &Value::Array(steps));
    assert_eq!(theirs.len(), ours.len());
    for ((name, a), b) in ours.iter().zip(&theirs) {
        assert!(!a.is_empty(), "{name}: nothing to compare");
        assert_eq!(a, b, "{name}: DataFusion and DuckDB differ");
    }
}

#[tokio::test]
async fn parameters_cannot_inject_sql() {
    let f = fixture().await;
    for attempt in ["' OR 1=1 --", "alice' OR '1'='1", "alice'; DROP TABLE events; --", "\"alice\"", "alice;"] {
        let rows = f.run("user_audit_trail", &[("username", attempt)]).await;
        assert!(rows.is_empty(), "{attempt:?} matched {} rows", rows.len());
    }
    // A text parameter with listed values takes those alone.
    let q = reports::report("blocked_attempts").unwrap();
    let e = reports::values(&q, &[("min_level".into(), "high' OR '1'='1".into())], until()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query blocked_attempts: parameter min_level: \"high' OR '1'='1\" is not one of high, medium"
    );
    // Nothing was dropped or changed by the attempts: the lake reads as before.
    let n = f.session.sql("SELECT count(*) FROM events").await.unwrap();
    assert_eq!(rows_count(&n), story().len() as i64);
    // A number that is not one is refused before anything runs, naming the parameter.
    let q = reports::report("failures_by_country").unwrap();
    let e = reports::values(&q, &[("limit".into(), "1; DROP TABLE events".into())], until()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query failures_by_country: parameter limit: \"1; DROP TABLE events\" is not a whole number"
    );
    // Ad-hoc SQL runs one read-only statement.
    for sql in [
        "DROP TABLE events",
        "SELECT 1; DROP TABLE events",
        "CREATE TABLE x AS SELECT 1",
        "SET datafusion.execution.batch_size = 1",
    ] {
        assert!(f.session.read_only(sql).await.is_err(), "{sql} ran");
    }
    assert_eq!(rows_count(&f.session.sql("SELECT count(*) FROM events").await.unwrap()), story().len() as i64);
}

fn rows_count(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> i64 {
    rows(batches)[0][0].as_i64().unwrap()
}

/// A report reads the partitions its period needs and no others: whole
/// days for one over events (pruned by `dt`), the hours from one success
/// window before the period for one through `sign_ins` (by `dt` and `hour`).
/// The lake has an event in every hour, so each boundary is a file that a
/// wrong pruning would read or miss.
#[tokio::test]
async fn a_report_reads_its_periods_partitions_only() {
    let start = Utc.with_ymd_and_hms(2026, 4, 8, 0, 30, 0).unwrap();
    let hourly: Vec<Event> = (0..96)
        .map(|h| {
            ev(&format!("h{h}"), "auth.attempt", start + Duration::hours(h), "ann", Some("81.2.69.142"), LONDON, None)
        })
        .collect();
    let (_tmp, lake) = lake_with(&hourly).await;
    let session = LakeSession::open(&lake).await.unwrap();
    let all = lake.event_files().await.unwrap();
    assert_eq!(all.len(), 96, "a file an hour for four days: {all:?}");
    // `events/dt=2026-04-09/hour=07/…` as `2026-04-09/07`.
    let partition = |p: &str| format!("{}/{}", &p[10..20], &p[26..28]);
    // Whole days, and a period ending mid-day, which reads its last day too;
    // the first and last partitions each report reads, inclusive.
    for (name, from, to, first, last) in [
        ("unverified_context", "2026-04-09", "2026-04-10", "2026-04-09/00", "2026-04-09/23"),
        ("unverified_context", "2026-04-10", "2026-04-11", "2026-04-10/00", "2026-04-10/23"),
        ("unverified_context", "2026-04-09T06:00", "2026-04-10T08:00", "2026-04-09/00", "2026-04-10/23"),
        ("failures_by_country", "2026-04-09", "2026-04-10", "2026-04-08/23", "2026-04-09/23"),
        ("failures_by_country", "2026-04-10", "2026-04-11", "2026-04-09/23", "2026-04-10/23"),
        ("failures_by_country", "2026-04-09T06:00", "2026-04-10T08:00", "2026-04-09/05", "2026-04-10/07"),
    ] {
        let q = reports::report(name).unwrap();
        let given = [("since".to_string(), from.to_string()), ("until".to_string(), to.to_string())];
        let values = reports::values(&q, &given, until()).unwrap();
        let df =
            reports::dataframe(&session, &q, &values, &Scoring::default(), pipeline::risk::Level::High).await.unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        let read: Vec<&String> = all.iter().filter(|p| shown.contains(p.as_str())).collect();
        let expected: Vec<&String> =
            all.iter().filter(|p| (first.to_string()..=last.to_string()).contains(&partition(p))).collect();
        assert!(!expected.is_empty() && expected.len() < all.len(), "{name} from {from}: a test that can fail");
        assert_eq!(read, expected, "{name} from {from} to {to} reads {first} to {last}:\n{shown}");
    }
}

/// docs/reports.md's catalogue table is generated from the reports' headers
/// and kept current by this test (`AUTHTRAIL_BLESS=1` rewrites it).
#[test]
fn catalogue_doc_is_current() {
    let path = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
        .join("../docs/reports.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- generated: authtrail report docs -->\n", "<!-- end generated -->");
    let a = text.find(start).expect("the generated block's start marker") + start.len();
    let b = text[a..].find(end).expect("the generated block's end marker") + a;
    let expected = queries::reports::markdown();
    if std::env::var_os("AUTHTRAIL_BLESS").is_some() {
        std::fs::write(&path, format!("{}{expected}{}", &text[..a], &text[b..])).unwrap();
        return;
    }
    assert!(
        text[a..b] == expected,
        "{} is out of date with queries/reports/*.sql: run AUTHTRAIL_BLESS=1 cargo test -p authtrail-queries --test it catalogue_doc",
        path.display()
    );
    for q in queries::reports::all() {
        assert!(text[a..b].contains(&format!("| `{}` |", q.name)), "{}", q.name);
    }
}
