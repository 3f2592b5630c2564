//! The benchmarks' lake: `n` generated events over 30 days, a Parquet file
//! per hour (shared by the scorer and report benchmarks).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pipeline::event::Event;
use pipeline::lake::encode_parquet;

pub const DAYS: i64 = 30;

/// How many events and runs: 10 M (or `$AUTHTRAIL_BENCH_EVENTS`) and 5 runs
/// under `cargo bench`; 5 000 and one run under `cargo test --benches`, as a
/// smoke test.
pub fn size() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        let n = std::env::var("AUTHTRAIL_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
        (n, 5)
    } else {
        (5_000, 1)
    }
}

/// The lake of `n` events under `$AUTHTRAIL_BENCH_DIR` (default the system
/// temp dir), generated the first time and reused after.
pub fn lake(n: usize) -> PathBuf {
    let root = std::env::var_os("AUTHTRAIL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = root.join(format!("authtrail-score-bench-v1-{n}"));
    if !dir.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let started = Instant::now();
        generate(&dir, n);
        std::fs::write(dir.join(".complete"), b"").unwrap();
        println!(
            "generated {n} events over {DAYS} days in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    dir
}

pub fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn template() -> Event {
    serde_json::from_value(serde_json::json!({
        "schema_version": 1, "event_id": "x", "event_type": "auth.attempt", "time": "2026-05-01T00:00:00Z",
        "trigger_source": "PreAuthentication_Authentication", "region": "eu-west-1",
        "user_pool_id": "eu-west-1_Ab12Cd34E", "client_id": "3n4b5urk1ft4fl3mg5e62d9ado", "username": "u",
        "ip_verified": true, "context_status": "verified", "geo_time_zone": "Europe/London",
        "geo_accuracy_radius_km": 20, "as_org": "Example Networks",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "device_browser": "Chrome", "device_os": "Windows 10", "device_type": "pc",
        "decision_action": "allow", "decision_score": 5, "decision_level": "low", "decision_reasons": [],
        "policy_version": "p1", "snapshot_version": "s1", "notes": [],
    }))
    .unwrap()
}

const CITIES: [(&str, &str, f64, f64); 6] = [
    ("London", "GB", 51.5142, -0.0931),
    ("Paris", "FR", 48.8566, 2.3522),
    ("Berlin", "DE", 52.52, 13.405),
    ("New York", "US", 40.7128, -74.006),
    ("Sydney", "AU", -33.8688, 151.2093),
    ("Tokyo", "JP", 35.6762, 139.6503),
];

/// `n` events over 30 days: users signing in from a home city (attempt +
/// success, some typos), and a stuffing botnet's failed attempts.
fn generate(dir: &Path, n: usize) {
    let users = (n / 50).max(100);
    let per_hour = n / (DAYS as usize * 24);
    let start = end() - Duration::days(DAYS);
    let t = template();
    let mut rng = fastrand::Rng::with_seed(42);
    for h in 0..DAYS * 24 {
        let hour_start = start + Duration::hours(h);
        let mut events = Vec::with_capacity(per_hour + 2);
        while events.len() < per_hour {
            let at = hour_start + Duration::microseconds(rng.i64(0..3_600_000_000));
            let mut e = t.clone();
            e.event_id = format!("{h:04}-{:08x}", events.len());
            e.time = at;
            if rng.u8(0..10) == 0 {
                // Botnet: 2 000 IPs in 40 networks, random usernames, failing.
                e.username = format!("user-{:07}", rng.usize(0..users * 2));
                let bot = rng.u32(0..2000);
                e.source_ip = Some(format!("203.{}.{}.{}", bot % 40, bot / 250, bot % 250));
                e.asn = Some(64_000 + i64::from(bot % 40));
                let (city, cc, lat, lon) = CITIES[rng.usize(0..CITIES.len())];
                (e.geo_city, e.geo_country, e.geo_latitude, e.geo_longitude) =
                    (Some(city.into()), Some(cc.into()), Some(lat), Some(lon));
                e.device_key = None;
                events.push(e);
                continue;
            }
            let u = rng.usize(0..users);
            let (city, cc, lat, lon) = CITIES[u % CITIES.len()];
            e.username = format!("user-{u:07}");
            e.source_ip = Some(format!("81.{}.{}.{}", u % 200, (u / 200) % 250, rng.u8(1..250)));
            e.asn = Some(1000 + (u % 300) as i64);
            (e.geo_city, e.geo_country, e.geo_latitude, e.geo_longitude) =
                (Some(city.into()), Some(cc.into()), Some(lat), Some(lon));
            e.device_key = Some(format!("dev-{u}-{}", rng.u8(0..2)));
            if rng.u8(0..8) == 0 {
                let mut typo = e.clone();
                typo.event_id.push('t');
                events.push(typo);
                e.time += Duration::seconds(20);
            }
            let mut success = t.clone();
            success.event_type = pipeline::event::EventType::Success;
            success.event_id = format!("{}s", e.event_id);
            success.username = e.username.clone();
            success.time = e.time + Duration::milliseconds(400);
            success.decision_action = None;
            events.push(e);
            events.push(success);
        }
        events.sort_by_key(|e| e.time);
        let refs: Vec<&Event> = events.iter().collect();
        let part = dir.join(format!("events/dt={}/hour={}", hour_start.format("%Y-%m-%d"), hour_start.format("%H")));
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("bench.parquet"), encode_parquet(&refs).unwrap()).unwrap();
    }
}
