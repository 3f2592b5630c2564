#![recursion_limit = "256"]
//! Lake writer throughput on one core: decode JSON stream records into events
//! and encode them as ZSTD Parquet (the work of `authtrail consume` and the
//! lake-writer Lambda per batch), and DuckDB converting the same NDJSON to
//! Parquet in the same run.
//!
//!   cargo bench -p authtrail-pipeline --bench lake
//!
//! DuckDB runs from `$AUTHTRAIL_BENCH_PYTHON` (default: the test script's
//! virtualenv), with one thread and with all threads.

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput};
use pipeline::event::Event;
use pipeline::lake::{SourceRecord, decode, encode_parquet};

const N: usize = 100_000;

/// Realistic attempts: verified context, geo, ASN, device, decision.
fn records() -> Vec<SourceRecord> {
    let start = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap();
    let cities = [
        ("London", "GB", "England", 51.5142, -0.0931),
        ("Linköping", "SE", "Östergötland", 58.4167, 15.6167),
        ("Milton", "US", "Washington", 47.2513, -122.3149),
    ];
    (0..N)
        .map(|i| {
            let (city, cc, sub, lat, lon) = cities[i % cities.len()];
            let time = start + Duration::milliseconds(37 * i as i64);
            let json = serde_json::json!({
                "schema_version": 1, "event_id": format!("{:032x}", (i as u128) * 0x9e37_79b9_7f4a_7c15),
                "event_type": if i % 3 == 0 { "auth.success" } else { "auth.attempt" },
                "time": time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "trigger_source": "PreAuthentication_Authentication", "region": "eu-west-1",
                "user_pool_id": "eu-west-1_Ab12Cd34E", "client_id": "3n4b5urk1ft4fl3mg5e62d9ado",
                "username": format!("user-{:06}", i % 20_000), "user_sub": format!("{:08x}-7c1e-4f4e-9d43-{:012x}", i % 20_000, i % 20_000),
                "user_not_found": false, "source_ip": format!("81.{}.{}.{}", i % 200, (i / 7) % 250, i % 251),
                "ip_verified": true, "context_status": "verified",
                "geo_country": cc, "geo_subdivision": sub, "geo_city": city, "geo_latitude": lat, "geo_longitude": lon,
                "geo_accuracy_radius_km": 20, "geo_time_zone": "Europe/London", "asn": 1221 + (i % 50) as i64, "as_org": "Telstra Pty Ltd",
                "anon_any": false, "anon_vpn": false, "anon_hosting": false, "anon_public_proxy": false,
                "anon_residential_proxy": false, "anon_tor": false,
                "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "device_browser": "Chrome", "device_browser_version": "131.0.0.0", "device_os": "Windows 10", "device_os_version": "NT 10.0",
                "device_type": "pc", "device_key": format!("dev-{}", i % 30_000), "new_device": i % 50 == 0, "login_count": (i % 400) as i64,
                "decision_action": "allow", "decision_score": (i % 30) as i64, "decision_level": "low", "decision_reasons": [],
                "policy_version": "2026-05-01", "snapshot_version": "s-0001", "notes": [],
            });
            SourceRecord {
                shard_id: "shardId-000000000000".into(),
                sequence: i.to_string(),
                partition_key: "k".into(),
                data: json.to_string().into_bytes(),
                arrival: time,
            }
        })
        .collect()
}

fn decode_and_encode(records: &[SourceRecord]) -> usize {
    let decoded = decode(records);
    let events: Vec<&Event> = decoded.events.iter().map(|(_, e)| e).collect();
    encode_parquet(&events).unwrap().len()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let records = records();
    let json_bytes: usize = records.iter().map(|r| r.data.len()).sum();
    let parquet_bytes = decode_and_encode(&records);
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let mut g = c.benchmark_group("lake");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("decode_and_encode_100k", |b| b.iter(|| decode_and_encode(black_box(&records))));
    g.finish();
    c.final_summary();
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    // Medians of our own timed runs, for the side-by-side with DuckDB.
    let ours = median(
        (0..7)
            .map(|_| {
                let t = Instant::now();
                black_box(decode_and_encode(&records));
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "authtrail decode+encode: {N} events in {:.1} ms median = {:.0} events/s on one core; JSON {:.0} B/event → Parquet {:.1} B/event",
        ours * 1e3,
        N as f64 / ours,
        json_bytes as f64 / N as f64,
        parquet_bytes as f64 / N as f64
    );

    let python = std::env::var("AUTHTRAIL_BENCH_PYTHON").unwrap_or_else(|_| {
        format!("{}/.cache/authtrail/python-env-2/bin/python", std::env::var("HOME").unwrap_or_default())
    });
    let dir = tempfile::tempdir().unwrap();
    let ndjson = dir.path().join("events.ndjson");
    let mut body = Vec::with_capacity(json_bytes + N);
    for r in &records {
        body.extend_from_slice(&r.data);
        body.push(b'\n');
    }
    std::fs::write(&ndjson, body).unwrap();
    let script = r#"
import duckdb, sys, time, statistics
src, out = sys.argv[1], sys.argv[2]
for threads in (1, 0):
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads: con.execute(f"SET threads = {threads}")
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        con.execute(f"COPY (SELECT * FROM read_json('{src}', format = 'newline_delimited')) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
        runs.append(time.perf_counter() - t)
    print(threads or con.execute("SELECT current_setting('threads')").fetchone()[0], statistics.median(runs))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, ndjson.to_str().unwrap(), dir.path().join("duck.parquet").to_str().unwrap()])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let mut parts = line.split_whitespace();
                let (threads, secs): (String, f64) =
                    (parts.next().unwrap().into(), parts.next().unwrap().parse().unwrap());
                println!(
                    "DuckDB NDJSON → Parquet with {threads} thread(s): {:.1} ms median = {:.0} events/s; authtrail on one core is {:.2}× its speed",
                    secs * 1e3,
                    N as f64 / secs,
                    secs / ours
                );
            }
        }
        Ok(o) => println!("DuckDB comparison failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => println!("DuckDB comparison skipped: cannot run {python}: {e}"),
    }
}
