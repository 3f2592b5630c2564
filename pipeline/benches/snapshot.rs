//! The risk snapshot at production size: 1 M users and 1 M IPs. Prints the
//! median time to open (map + header check) a published snapshot, the
//! resident memory after opening and after 100 000 random lookups, and
//! criterion's per-lookup time.
//!
//!   cargo bench -p authtrail-pipeline --bench snapshot

use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use criterion::Criterion;
use pipeline::risk::snapshot::{Snapshot, SnapshotData, write_snapshot};
use pipeline::risk::{LastSuccess, Risk, RiskSource, UserProfile};

/// Production size under `cargo bench`; small when run once as a test.
fn sizes() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") { (1_000_000, 1_000_000) } else { (10_000, 10_000) }
}

fn resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let (users, ips) = sizes();
    let built = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let data = SnapshotData {
            version: "bench".into(),
            built,
            users: (0..users)
                .map(|i| {
                    (
                        format!("eu-west-1_Ab12Cd34E/user-{i:07}"),
                        UserProfile {
                            known_countries: vec!["GB".into(), ["SE", "US", "DE"][i % 3].into()],
                            known_cities: vec!["London".into()],
                            known_devices: vec![format!("dev-{i}"), format!("phone-{i}")],
                            last_success: Some(LastSuccess {
                                time: built,
                                latitude: 51.5,
                                longitude: -0.1,
                                accuracy_radius_km: 20.0,
                                country: Some("GB".into()),
                            }),
                            login_count: (i % 500) as i64,
                            usual_hours: 0x00ff_ff00,
                            risk: (i % 40) as u8,
                            reasons: if i % 10 == 0 { vec!["recent_failures".into()] } else { vec![] },
                        },
                    )
                })
                .collect(),
            ips: (0..ips)
                .map(|i| {
                    (
                        std::net::IpAddr::from((0x0a00_0000u32 + i as u32 * 7).to_be_bytes()),
                        Risk { score: (i % 100) as u8, reasons: vec!["failure_ratio".into()] },
                    )
                })
                .collect(),
            asns: (0..10_000).map(|a| (a, Risk { score: 10, reasons: vec![] })).collect(),
        };
        let t = Instant::now();
        let path = write_snapshot(dir.path(), &data).unwrap();
        println!(
            "wrote {} users, {} IPs: {:.1} MB in {:.2} s",
            users,
            ips,
            std::fs::metadata(&path).unwrap().len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    let before = resident_kb();
    let mut opens: Vec<f64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            black_box(Snapshot::open_current(dir.path()).unwrap());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    opens.sort_by(|a, b| a.total_cmp(b));
    let snap = Snapshot::open_current(dir.path()).unwrap();
    let opened = resident_kb();
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..100_000 {
        black_box(snap.user("eu-west-1_Ab12Cd34E", &format!("user-{:07}", rng.usize(..users))));
        black_box(snap.ip(std::net::IpAddr::from((0x0a00_0000u32 + rng.u32(..ips as u32) * 7).to_be_bytes())));
    }
    let touched = resident_kb();
    println!(
        "open: median {:.3} ms (min {:.3}, max {:.3}, n=21); resident +{:.1} MB after open, +{:.1} MB after 100 000 random user + IP lookups",
        opens[10],
        opens[0],
        opens[20],
        (opened.saturating_sub(before)) as f64 / 1024.0,
        (touched.saturating_sub(before)) as f64 / 1024.0
    );

    let mut c = Criterion::default().configure_from_args();
    let mut i = 0usize;
    c.bench_function("snapshot_user_and_ip_lookup", |b| {
        b.iter(|| {
            i = (i + 7919) % users;
            let u = snap.user("eu-west-1_Ab12Cd34E", &format!("user-{i:07}"));
            let r = snap.ip(std::net::IpAddr::from((0x0a00_0000u32 + i as u32 * 7).to_be_bytes()));
            black_box((u, r))
        })
    });
    c.final_summary();
}
