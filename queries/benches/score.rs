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

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use pipeline::lake::Lake;
use pipeline::risk::Scoring;
use queries::LakeSession;
use queries::catalog::query;
use queries::score::{ScoreParams, score};

#[path = "../tests/it/duckdb.rs"]
mod duckdb;
mod generated;

use generated::end;

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
        { "view": "sign_ins", "sql": sql("sign_ins"), "params": [us(now - Duration::days(rules.horizon_days.into())), us(now), window, pending, { "text": "" }, { "int": 3 }] },
        { "sql": sql("user_profile"), "params": [{ "int": rules.last_successes }] },
        { "view": "sign_ins", "sql": sql("sign_ins"), "params": [us(now - Duration::days(1)), us(now), window, pending, { "text": "" }, { "int": 3 }] },
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
    let (n, runs) = generated::size();
    let lake_dir = generated::lake(n);
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
