#![recursion_limit = "256"]
//! The risk scorer over a generated lake, and DuckDB running the same SQL
//! on the same Parquet files in the same run: wall time (median of runs)
//! and peak memory (each engine in its own process), and the ratio.
//!
//!   cargo bench -p authtrail-queries --bench score            # 10 M events
//!   AUTHTRAIL_BENCH_EVENTS=1000000 cargo bench -p authtrail-queries --bench score
//!
//! The lake is generated once per size under `$AUTHTRAIL_BENCH_DIR` (default
//! the system temp dir) and reused. DuckDB runs from `$AUTHTRAIL_BENCH_PYTHON`
//! (default: the test script's virtualenv). Under `cargo test --benches` it
//! runs once on 5 000 events, as a smoke test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pipeline::event::Event;
use pipeline::lake::{Lake, encode_parquet};
use pipeline::risk::Scoring;
use queries::LakeSession;
use queries::catalog::query;
use queries::score::{ScoreParams, score};

#[path = "../tests/it/duckdb.rs"]
mod duckdb;

const DAYS: i64 = 30;

fn end() -> DateTime<Utc> {
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

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// In a child process: score `runs` times, print seconds per run and peak RSS.
fn child(lake_dir: &Path, runs: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let lake = Lake::local(lake_dir).unwrap();
        for _ in 0..runs {
            let started = Instant::now();
            let session = LakeSession::open(&lake).await.unwrap();
            let (data, report) = score(&session, &ScoreParams::at(end()), "bench").await.unwrap();
            println!(
                "run {:.3} s: {} events in, {} users, {} IPs ({} risky), {} risky networks",
                started.elapsed().as_secs_f64(),
                report.rows_in,
                data.users.len(),
                report.ips,
                report.risky_ips,
                report.risky_asns
            );
        }
    });
    println!("peak {:.1}", peak_rss_mb());
}

/// The scorer's steps, as `score` runs them, for DuckDB.
fn duckdb_steps(rules: &Scoring) -> serde_json::Value {
    let now = end();
    let us = |t: DateTime<Utc>| serde_json::json!({ "ts": t.timestamp_micros() });
    let window = serde_json::json!({ "interval_us": i64::from(rules.success_window_secs) * 1_000_000 });
    let pending = serde_json::json!({ "interval_us": i64::from(rules.pending_secs) * 1_000_000 });
    let sql = |name: &str| query(name).unwrap().sql;
    serde_json::json!([
        { "view": "sign_ins", "sql": sql("sign_ins"), "params": [us(now - Duration::days(rules.horizon_days.into())), us(now), window, pending] },
        { "sql": sql("user_profile"), "params": [{ "int": rules.last_successes }, { "int": 3 }] },
        { "view": "sign_ins", "sql": sql("sign_ins"), "params": [us(now - Duration::days(1)), us(now), window, pending] },
        { "sql": sql("user_risk"), "params": [] },
        { "sql": sql("source_risk"), "params": [us(now - Duration::minutes(15)), us(now - Duration::hours(1))] },
    ])
}

/// (median seconds, peak MB) from a child's output.
fn parse(engine: &str, out: std::process::Output) -> (f64, f64) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{engine} failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    let mut runs: Vec<f64> =
        text.lines().filter_map(|l| l.strip_prefix("run ")?.split_once(" s")?.0.parse().ok()).collect();
    let first = text.lines().find(|l| l.starts_with("run ")).unwrap_or("");
    println!("  {engine:<10} {first}");
    runs.sort_by(f64::total_cmp);
    let peak = text.lines().find_map(|l| l.strip_prefix("peak ")?.parse().ok()).unwrap_or(0.0);
    (runs[runs.len() / 2], peak)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(Path::new(&args[i + 1]), args[i + 2].parse().unwrap());
    }
    let bench = args.iter().any(|a| a == "--bench");
    let n: usize = if bench {
        std::env::var("AUTHTRAIL_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
    } else {
        5_000
    };
    let runs = if bench { 5 } else { 1 };
    let root = std::env::var_os("AUTHTRAIL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let lake_dir = root.join(format!("authtrail-score-bench-v1-{n}"));
    if !lake_dir.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&lake_dir);
        let started = Instant::now();
        generate(&lake_dir, n);
        std::fs::write(lake_dir.join(".complete"), b"").unwrap();
        println!(
            "generated {n} events over {DAYS} days in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            lake_dir.display()
        );
    }
    println!("scoring {n} events ({runs} runs each, median):");
    let me = std::env::current_exe().unwrap();
    let ours = parse(
        "datafusion",
        Command::new(me).args(["--child", lake_dir.to_str().unwrap(), &runs.to_string()]).output().unwrap(),
    );
    let python = std::env::var("AUTHTRAIL_BENCH_PYTHON")
        .ok()
        .or_else(|| std::env::var("AUTHTRAIL_TEST_PYTHON").ok())
        .unwrap_or_else(|| {
            format!("{}/.cache/authtrail/python-env-3/bin/python", std::env::var("HOME").unwrap_or_default())
        });
    let steps = duckdb_steps(&Scoring::default());
    let theirs = parse("duckdb", duckdb::run(&python, &lake_dir, &steps, runs, false));
    println!(
        "datafusion {:.3} s, peak {:.0} MB | duckdb {:.3} s, peak {:.0} MB | time ratio datafusion/duckdb {:.2}, memory ratio {:.2}",
        ours.0,
        ours.1,
        theirs.0,
        theirs.1,
        ours.0 / theirs.0,
        ours.1 / theirs.1.max(1.0)
    );
}
