//! The lake writer: Parquet that other engines read as it is, dead letters,
//! idempotent names, and the checkpointed consumer over the local stream.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, TimeZone, Timelike, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline::event::{self, ContextStatus, Event, EventType, SCHEMA_VERSION};
use pipeline::lake::consume::Consumer;
use pipeline::lake::kpl::{self, SubRecord};
use pipeline::lake::sources::LocalSource;
use pipeline::lake::{Checkpoint, DeadLetter, Lake, SourceRecord};
use pipeline::stream::{EventSink, LocalStream, Record};

/// An event with every field set (or not, by `i`), spread over hours and days.
pub fn event(i: usize) -> Event {
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap()
        + Duration::minutes(37 * i as i64)
        + Duration::microseconds(i as i64);
    let some = i % 3 != 0;
    let s = |v: &str| some.then(|| format!("{v}-{i}"));
    Event {
        schema_version: SCHEMA_VERSION,
        event_id: format!("{:032x}", i * 7919),
        event_type: [EventType::Attempt, EventType::Success, EventType::Failure][i % 3],
        time: t,
        trigger_source: s("PreAuthentication_Authentication"),
        region: Some("eu-west-1".into()),
        user_pool_id: "eu-west-1_Pool".into(),
        client_id: s("client"),
        username: format!("user-{}", i % 11),
        user_sub: s("sub"),
        user_not_found: some.then_some(i % 2 == 0),
        source_ip: Some(format!("81.2.{}.{}", i % 250, i % 200)),
        ip_verified: i % 2 == 0,
        context_status: if i % 2 == 0 { ContextStatus::Verified } else { ContextStatus::BadSignature },
        geo_country: s("GB"),
        geo_subdivision: s("England"),
        geo_city: Some(if i % 4 == 0 { "Linköping".to_string() } else { format!("City \"{i}\"") }),
        geo_latitude: some.then_some(51.5142 + i as f64 / 1000.0),
        geo_longitude: some.then_some(-0.0931 - i as f64 / 1000.0),
        geo_accuracy_radius_km: some.then_some((i % 500) as i32),
        geo_time_zone: s("Europe/London"),
        asn: some.then_some(1221 + i as i64),
        as_org: s("Telstra Pty Ltd"),
        anon_any: some.then_some(i % 5 == 0),
        anon_vpn: some.then_some(false),
        anon_hosting: None,
        anon_public_proxy: some.then_some(true),
        anon_residential_proxy: None,
        anon_tor: some.then_some(i % 7 == 0),
        user_agent: s("Mozilla/5.0"),
        device_browser: s("Firefox"),
        device_browser_version: s("140.0"),
        device_os: s("Linux"),
        device_os_version: None,
        device_type: s("pc"),
        device_key: s("dev"),
        new_device: some.then_some(i % 2 == 1),
        login_count: some.then_some(i as i64 * 3),
        decision_action: (i % 3 == 0).then(|| "allow".into()),
        decision_score: (i % 3 == 0).then_some((i % 101) as i32),
        decision_level: (i % 3 == 0).then(|| "low".into()),
        decision_reasons: (0..i % 3).map(|k| format!("reason {k}")).collect(),
        policy_version: (i % 3 == 0).then(|| "none".into()),
        snapshot_version: None,
        notes: if i % 5 == 0 { vec!["a note, with \"quotes\"".into()] } else { vec![] },
    }
}

fn source(shard: &str, seq: usize, data: Vec<u8>) -> SourceRecord {
    SourceRecord {
        shard_id: shard.into(),
        sequence: format!("{:020}", seq),
        partition_key: format!("eu-west-1_Pool/user-{}", seq % 11),
        data,
        arrival: Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap(),
    }
}

/// Every event in the lake, read back with the parquet crate.
async fn read_lake(lake: &Lake, root: &std::path::Path) -> Vec<Event> {
    let mut out = Vec::new();
    for f in lake.event_files().await.unwrap() {
        let file = std::fs::File::open(root.join(&f)).unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap() {
            out.extend(event::from_record_batch(&batch.unwrap()).unwrap());
        }
    }
    out.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    out
}

#[tokio::test]
async fn every_column_round_trips_and_duckdb_reads_the_same_values() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    let mut events: Vec<Event> = (0..300).map(event).collect();
    let records: Vec<SourceRecord> =
        events.iter().enumerate().map(|(i, e)| source("shardId-000000000001", i, e.to_json())).collect();
    let report = lake.write(&records).await.unwrap();
    assert_eq!((report.records, report.events, report.dead_letters), (300, 300, 0));
    // 300 events, 37 minutes apart: one file per event hour.
    let hours: BTreeSet<_> = events.iter().map(|e| e.time.format("%Y-%m-%d/%H").to_string()).collect();
    assert_eq!(report.files.len(), hours.len());
    for f in &report.files {
        assert!(f.path.starts_with("events/dt=2026-03-") && f.path.contains("/hour="), "{}", f.path);
        assert!(
            f.path.ends_with("/shardId-000000000001-00000000000000000000-00000000000000000299.parquet"),
            "{}",
            f.path
        );
    }

    events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let back = read_lake(&lake, tmp.path()).await;
    assert_eq!(back.len(), events.len());
    for (got, want) in back.iter().zip(&events) {
        // Name the differing columns rather than print two whole events.
        let (g, w) = (serde_json::to_value(got).unwrap(), serde_json::to_value(want).unwrap());
        let diff: Vec<String> = w
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| g.get(k.as_str()) != Some(v))
            .map(|(k, v)| format!("{k}: wrote {v}, read {}", g[k.as_str()]))
            .collect();
        assert!(diff.is_empty(), "event {}: {diff:?}", want.event_id);
    }

    // A second engine, written by nobody here: DuckDB over the Hive layout.
    let python = std::env::var("AUTHTRAIL_TEST_PYTHON")
        .expect("AUTHTRAIL_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs DuckDB");
    let script = r#"
import duckdb, json, sys
# No progress bar: it prints to stdout (a slow query on a busy machine).
duckdb.sql("SET enable_progress_bar = false")
rows = duckdb.sql(f"""
  SELECT event_id, epoch_us(time) AS time_us, event_type, username, schema_version, ip_verified, context_status,
         geo_city, geo_latitude, geo_accuracy_radius_km, asn, login_count, anon_tor, new_device,
         decision_score, decision_reasons, notes, dt::VARCHAR AS dt, hour
  FROM read_parquet('{sys.argv[1]}/events/**/*.parquet', hive_partitioning = true)
  ORDER BY event_id""").fetchall()
for r in rows:
    print(json.dumps(r))
"#;
    let out = std::process::Command::new(python).args(["-c", script, tmp.path().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), events.len());
    for (row, e) in rows.iter().zip(&events) {
        let expected = serde_json::json!([
            e.event_id,
            e.time.timestamp_micros(),
            e.event_type.as_str(),
            e.username,
            e.schema_version,
            e.ip_verified,
            e.context_status.as_str(),
            e.geo_city,
            e.geo_latitude,
            e.geo_accuracy_radius_km,
            e.asn,
            e.login_count,
            e.anon_tor,
            e.new_device,
            e.decision_score,
            e.decision_reasons,
            e.notes,
            e.time.format("%Y-%m-%d").to_string(),
            e.time.format("%H").to_string(),
        ]);
        assert_eq!(row, &expected);
    }
}

#[tokio::test]
async fn bad_records_become_dead_letters_and_good_ones_still_land() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    let good = |i| event(i).to_json();
    let mut wrong_type: serde_json::Value = serde_json::from_slice(&good(1)).unwrap();
    wrong_type["ip_verified"] = "yes".into();
    let mut future: serde_json::Value = serde_json::from_slice(&good(2)).unwrap();
    future["schema_version"] = 2.into();
    let truncated = good(3)[..40].to_vec();
    let mut empty_user: serde_json::Value = serde_json::from_slice(&good(4)).unwrap();
    empty_user["username"] = "".into();
    let mut bad_kpl = kpl::aggregate(&[SubRecord { partition_key: "k".into(), data: good(5) }]);
    let n = bad_kpl.len();
    bad_kpl[n - 1] ^= 0x55;
    let kpl_mixed = kpl::aggregate(&[
        SubRecord { partition_key: "a".into(), data: good(6) },
        SubRecord { partition_key: "b".into(), data: b"{not json".to_vec() },
        SubRecord { partition_key: "c".into(), data: good(7) },
    ]);
    let payloads = vec![
        good(0),
        truncated.clone(),
        wrong_type.to_string().into_bytes(),
        future.to_string().into_bytes(),
        vec![0xff, 0xfe, 0x00, 0x9f],
        empty_user.to_string().into_bytes(),
        bad_kpl,
        kpl_mixed,
        good(8),
    ];
    let records: Vec<SourceRecord> =
        payloads.into_iter().enumerate().map(|(i, d)| source("shard-0000", i, d)).collect();
    let report = lake.write(&records).await.unwrap();
    assert_eq!((report.records, report.events, report.dead_letters), (9, 4, 7));
    let ids: BTreeSet<String> = read_lake(&lake, tmp.path()).await.into_iter().map(|e| e.event_id).collect();
    let expected: BTreeSet<String> = [0, 6, 7, 8].map(|i| event(i).event_id).into_iter().collect();
    assert_eq!(ids, expected);

    let dead = report.dead_letter_file.unwrap();
    assert_eq!(dead.path, "dead-letter/dt=2026-03-02/shard-0000-00000000000000000000-00000000000000000008.jsonl");
    let text = std::fs::read_to_string(tmp.path().join(&dead.path)).unwrap();
    let lines: Vec<_> = text.lines().map(|l| DeadLetter::from_line(l).unwrap()).collect();
    let reasons: Vec<(&str, &str)> = lines.iter().map(|l| (l.sequence_number.as_str(), l.reason.as_str())).collect();
    let expect = [
        ("00000000000000000001", "not a valid event: EOF"),
        ("00000000000000000002", "invalid type: string \"yes\", expected a boolean"),
        ("00000000000000000003", "unknown schema_version Some(2)"),
        ("00000000000000000004", "not a valid event"),
        ("00000000000000000005", "username is empty"),
        ("00000000000000000006", "checksum does not match"),
        ("00000000000000000007", "not a valid event"),
    ];
    for ((seq, reason), (want_seq, want)) in reasons.iter().zip(expect) {
        assert_eq!(*seq, want_seq);
        assert!(reason.contains(want), "record {seq}: {reason:?} lacks {want:?}");
    }
    // Nothing lost: the bytes are kept, base64 where they are not JSON.
    use base64::Engine;
    let b64 = |l: &pipeline::lake::decode::DeadLetterRecord| {
        base64::engine::general_purpose::STANDARD.decode(l.data_b64.as_ref().unwrap()).unwrap()
    };
    assert_eq!(b64(&lines[0]), truncated);
    assert_eq!(b64(&lines[3]), vec![0xff, 0xfe, 0x00, 0x9f]);
    assert_eq!(lines[6].sub_sequence, Some(1));
    assert_eq!(lines[6].partition_key, "b");
}

#[tokio::test]
async fn writing_the_same_range_again_overwrites_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    let records: Vec<SourceRecord> = (0..50).map(|i| source("shard-0001", i, event(i).to_json())).collect();
    let first = lake.write(&records).await.unwrap();
    let bytes: Vec<Vec<u8>> = first.files.iter().map(|f| std::fs::read(tmp.path().join(&f.path)).unwrap()).collect();
    let second = lake.write(&records).await.unwrap();
    assert_eq!(first.files, second.files);
    assert_eq!(lake.event_files().await.unwrap().len(), first.files.len());
    for (f, b) in second.files.iter().zip(bytes) {
        assert_eq!(std::fs::read(tmp.path().join(&f.path)).unwrap(), b, "byte-identical rewrite");
    }
    assert_eq!(read_lake(&lake, tmp.path()).await.len(), 50);
}

#[tokio::test]
async fn consumer_drains_the_local_stream_once_and_recovers_a_pending_range() {
    let tmp = tempfile::tempdir().unwrap();
    let stream_dir = tmp.path().join("stream");
    let lake_dir = tmp.path().join("lake");
    let stream = LocalStream::open(&stream_dir, 2, false).unwrap();
    let records = |range: std::ops::Range<usize>| -> Vec<Record> {
        range.map(|i| event(i)).map(|e| Record { partition_key: e.user_key(), data: e.to_json() }).collect()
    };
    assert!(stream.emit(&records(0..500)).await.iter().all(|r| r.is_ok()));
    let lake = Lake::local(&lake_dir).unwrap();
    let consumer = Consumer { source: LocalSource { dir: stream_dir.clone() }, lake: lake.clone(), batch_records: 120 };
    let mut updates = 0;
    let s = consumer.drain(|_| updates += 1).await.unwrap();
    assert_eq!((s.records, s.events, s.dead_letters), (500, 500, 0));
    assert!(s.batches >= 5 && updates == s.batches, "{s:?}");
    assert_eq!(consumer.drain(|_| {}).await.unwrap().records, 0, "nothing new, nothing written");

    // A consumer that died after writing a range but before committing it.
    assert!(stream.emit(&records(500..700)).await.iter().all(|r| r.is_ok()));
    let shard = "shard-0000";
    let source = format!("local-{}", pipeline::stream::stream_id(&stream_dir, false).unwrap());
    let cp = lake.checkpoint(&source, shard).await.unwrap().unwrap();
    let next: usize = cp.last_sequence.parse::<usize>().unwrap() + 1;
    let page = pipeline::stream::read_shard_limited(&stream_dir, shard, next as u64, 30).unwrap();
    let (first, last) = (page[0].sequence.to_string(), page.last().unwrap().sequence.to_string());
    let partial: Vec<SourceRecord> = page
        .into_iter()
        .map(|r| SourceRecord {
            // As the consumer names them: the stream id, then the shard.
            shard_id: format!("{}-{}", source.trim_start_matches("local-"), r.shard_id),
            sequence: r.sequence.to_string(),
            partition_key: r.partition_key,
            data: r.data,
            arrival: Utc::now(),
        })
        .collect();
    lake.write(&partial).await.unwrap();
    lake.save_checkpoint(
        &source,
        shard,
        &Checkpoint { last_sequence: cp.last_sequence.clone(), pending: Some((first, last)) },
    )
    .await
    .unwrap();

    let s = consumer.drain(|_| {}).await.unwrap();
    // The 30 pending records are rewritten under the same names, then the
    // other 170 new records follow: 200 read, none twice in the lake.
    assert_eq!(s.records, 200);
    let all = read_lake(&lake, &lake_dir).await;
    assert_eq!(all.len(), 700, "every event exactly once");
    let ids: BTreeSet<&str> = all.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 700);
}

#[tokio::test]
async fn compaction_merges_an_hour_into_one_file_and_converges_after_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    // Events 0..40 are 37 minutes apart; write them as many small ranges,
    // one range twice (a retry under another name: duplicates).
    let all: Vec<SourceRecord> = (0..40).map(|i| source("shard-0000", i, event(i).to_json())).collect();
    for chunk in all.chunks(4) {
        lake.write(chunk).await.unwrap();
    }
    lake.write(&all[2..6]).await.unwrap();
    let date = event(0).time.format("%Y-%m-%d").to_string();
    let before = lake.event_files().await.unwrap().into_iter().filter(|f| f.contains(&date)).count();
    let unique_that_day = (0..40).filter(|&i| event(i).time.format("%Y-%m-%d").to_string() == date).count();

    let done = lake.compact(&date, None).await.unwrap();
    assert!(!done.is_empty());
    let after: Vec<String> = lake.event_files().await.unwrap().into_iter().filter(|f| f.contains(&date)).collect();
    assert!(after.len() < before, "{before} files → {after:?}");
    // Hours written by several ranges now hold one compacted file; an hour
    // that only ever had one file keeps it.
    let hours: BTreeSet<&str> = after.iter().map(|f| f.rsplit_once('/').unwrap().0).collect();
    assert_eq!(hours.len(), after.len(), "one file per hour");
    assert_eq!(after.iter().filter(|f| f.contains("/compacted-")).count(), done.len());
    let mut rows = 0;
    let mut ids = BTreeSet::new();
    for f in &after {
        for e in lake.read_events(f).await.unwrap() {
            rows += 1;
            ids.insert(e.event_id);
        }
    }
    assert_eq!((rows, ids.len()), (unique_that_day, unique_that_day), "duplicates dropped, nothing lost");

    // Idempotent: nothing left to do.
    assert!(lake.compact(&date, None).await.unwrap().is_empty());
    // A crash after the compacted write but before the deletes leaves the
    // old files beside it: the next run folds them in, each event once.
    lake.write(&all[0..4]).await.unwrap();
    lake.compact(&date, None).await.unwrap();
    let files: Vec<String> = lake.event_files().await.unwrap().into_iter().filter(|f| f.contains(&date)).collect();
    let mut rows = 0;
    for f in &files {
        rows += lake.read_events(f).await.unwrap().len();
    }
    assert_eq!(rows, unique_that_day);
}

#[tokio::test]
async fn the_newest_hour_is_read_from_the_partition_names() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    assert_eq!(lake.newest_hour().await.unwrap(), None, "an empty lake has no newest hour");
    let records: Vec<SourceRecord> = (0..50).map(|i| source("shard-0001", i, event(i).to_json())).collect();
    lake.write(&records).await.unwrap();
    let newest = (0..50).map(|i| event(i).time).max().unwrap();
    let hour = Utc.with_ymd_and_hms(newest.year(), newest.month(), newest.day(), newest.hour(), 0, 0).unwrap();
    assert_eq!(lake.newest_hour().await.unwrap(), Some(hour));
}
