//! Sign-ins through the real handlers → local stream → lake, read back by
//! DataFusion and by DuckDB: same rows, same values.

use std::collections::BTreeMap;

use pipeline::event::Event;
use pipeline::lake::Lake;
use pipeline::stream::{read_shard, shard_ids};
use queries::datafusion::arrow::array::{Array, AsArray};

use super::{authtrail, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tour_events_reach_the_lake_and_read_back_in_two_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let out = authtrail(tmp.path(), &["tour"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The lake writer runs twice (before the scorer, and at the end): 9 + 5.
    let text = stdout(&out);
    assert!(text.contains("lake writer: 9 records → lake"), "{text}");
    assert!(text.contains("lake writer: 5 new records → 5 events, 0 dead letters"), "{text}");
    let again = authtrail(tmp.path(), &["consume"], &[]);
    assert!(stdout(&again).starts_with("consumed 0 records"), "{}", stdout(&again));

    let dir = tmp.path().join("data/stream");
    let mut stream: BTreeMap<String, Event> = BTreeMap::new();
    for s in shard_ids(&dir).unwrap() {
        for r in read_shard(&dir, &s, 0).unwrap() {
            let e = Event::from_json(&r.data).unwrap();
            stream.insert(e.event_id.clone(), e);
        }
    }

    // DataFusion, through the queries crate's session.
    let lake = Lake::open(tmp.path().join("data/lake").to_str().unwrap()).unwrap();
    let session = queries::LakeSession::open(&lake).await.unwrap();
    let batches = session
        .sql("SELECT event_id, username, geo_city, context_status, ip_verified, asn FROM events ORDER BY event_id")
        .await
        .unwrap();
    let mut n = 0;
    for b in &batches {
        for r in 0..b.num_rows() {
            let id = b.column(0).as_string::<i32>().value(r);
            let e = &stream[id];
            assert_eq!(b.column(1).as_string::<i32>().value(r), e.username);
            let city = b.column(2).as_string::<i32>();
            assert_eq!((!city.is_null(r)).then(|| city.value(r).to_string()), e.geo_city);
            assert_eq!(b.column(3).as_string::<i32>().value(r), e.context_status.as_str());
            assert_eq!(b.column(4).as_boolean().value(r), e.ip_verified);
            n += 1;
        }
    }
    assert_eq!(n, stream.len());

    // DuckDB, which no code of ours wrote.
    let python = std::env::var("AUTHTRAIL_TEST_PYTHON").expect("AUTHTRAIL_TEST_PYTHON is not set: run ./scripts/test");
    let script = "import duckdb,sys,json\nduckdb.sql('SET enable_progress_bar = false')\nfor r in duckdb.sql(f\"SELECT event_id, username, geo_city, epoch_us(time) FROM read_parquet('{sys.argv[1]}/events/**/*.parquet') ORDER BY event_id\").fetchall(): print(json.dumps(r))";
    let lake_dir = tmp.path().join("data/lake");
    let out = std::process::Command::new(python).args(["-c", script, lake_dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), stream.len());
    for row in rows {
        let e = &stream[row[0].as_str().unwrap()];
        assert_eq!(row, serde_json::json!([e.event_id, e.username, e.geo_city, e.time.timestamp_micros()]));
    }
}
