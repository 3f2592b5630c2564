//! `authtrail consume` killed with SIGKILL at random points over a stream of
//! 100 000 events, restarted each time: afterwards every event is in the
//! lake exactly once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pipeline::stream::{EventSink, LocalStream, Record};

const EVENTS: usize = 100_000;

fn record(i: usize) -> Record {
    let t = chrono::DateTime::from_timestamp(1_775_000_000 + (i as i64) * 7, (i % 1000) as u32 * 1000).unwrap();
    let json = serde_json::json!({
        "schema_version": 1, "event_id": format!("{i:032x}"), "event_type": "auth.attempt",
        "time": t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), "user_pool_id": "eu-west-1_Pool",
        "username": format!("user-{}", i % 997), "ip_verified": true, "context_status": "verified",
        "source_ip": format!("10.{}.{}.{}", i % 200, (i / 200) % 250, i % 250), "geo_country": "GB",
        "decision_action": "allow", "decision_score": 0, "decision_reasons": [], "notes": [],
    });
    Record { partition_key: format!("eu-west-1_Pool/user-{}", i % 997), data: json.to_string().into_bytes() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_killed_at_random_points_keeps_every_event_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let stream = LocalStream::open(&tmp.path().join("data/stream"), 2, false).unwrap();
        for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(10_000) {
            let records: Vec<Record> = chunk.iter().map(|&i| record(i)).collect();
            assert!(stream.emit(&records).await.iter().all(|r| r.is_ok()));
        }
    }
    let seed =
        std::env::var("AUTHTRAIL_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test seed {seed} (AUTHTRAIL_CRASH_SEED reproduces it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let consume = || {
        Command::new(env!("CARGO_BIN_EXE_authtrail"))
            .current_dir(tmp.path())
            .args(["consume"])
            .env("AUTHTRAIL__LAKE__BATCH_RECORDS", "3000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut kills = 0;
    let started = Instant::now();
    while kills < 6 && started.elapsed() < Duration::from_secs(120) {
        let mut child = consume();
        std::thread::sleep(Duration::from_millis(rng.u64(30..600)));
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill: nothing left to interrupt
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    assert!(kills >= 2, "the consumer finished before it could be killed twice; make the stream bigger");
    let status = consume().wait().unwrap();
    assert!(status.success());

    let python = std::env::var("AUTHTRAIL_TEST_PYTHON").expect("AUTHTRAIL_TEST_PYTHON is not set: run ./scripts/test");
    let lake = tmp.path().join("data/lake");
    let out = Command::new(python)
        .args(["-c", "import duckdb,sys; duckdb.sql('SET enable_progress_bar = false'); print(*duckdb.sql(f\"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{sys.argv[1]}/events/**/*.parquet')\").fetchone())", lake.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let counts = String::from_utf8(out.stdout).unwrap();
    assert_eq!(counts.trim(), format!("{EVENTS} {EVENTS}"), "after {kills} SIGKILLs (seed {seed})");
}
