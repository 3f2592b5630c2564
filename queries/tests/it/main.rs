//! queries integration tests: DataFusion over a lake written by the lake writer.

mod duckdb;
mod reports;
mod scoring;

use chrono::{Duration, TimeZone, Timelike, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use pipeline::event::Event;
use pipeline::lake::{Lake, SourceRecord};
use queries::LakeSession;

/// Events over three days, two users, from JSON (the stream's form).
fn events(n: usize) -> Vec<Event> {
    let start = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let time = start + Duration::minutes(53 * i as i64);
            let json = serde_json::json!({
                "schema_version": 1, "event_id": format!("e{i:05}"),
                "event_type": if i % 4 == 0 { "auth.success" } else { "auth.attempt" },
                "time": time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "user_pool_id": "p", "username": format!("u{}", i % 2), "ip_verified": i % 3 == 0,
                "context_status": "verified", "geo_country": if i % 5 == 0 { "SE" } else { "GB" },
                "geo_latitude": 51.5 + i as f64 / 100.0, "asn": 1000 + i as i64,
                "decision_reasons": if i % 2 == 0 { vec!["new_country"] } else { vec![] },
                "notes": [],
            });
            serde_json::from_value(json).unwrap()
        })
        .collect()
}

pub async fn lake_with(events: &[Event]) -> (tempfile::TempDir, Lake) {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(&tmp.path().join("lake")).unwrap();
    lake.write(&records(events, "shard-0000")).await.unwrap();
    (tmp, lake)
}

/// `events` as stream records of one shard, numbered from 0 (what the lake
/// writer gets).
pub fn records(events: &[Event], shard: &str) -> Vec<SourceRecord> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| SourceRecord {
            shard_id: shard.into(),
            sequence: i.to_string(),
            partition_key: e.user_key(),
            data: e.to_json(),
            arrival: Utc::now(),
        })
        .collect()
}

fn single_i64(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn datafusion_reads_back_what_the_lake_writer_wrote() {
    let input = events(200);
    let (_tmp, lake) = lake_with(&input).await;
    let session = LakeSession::open(&lake).await.unwrap();

    let total = session.sql("SELECT count(*) FROM events").await.unwrap();
    assert_eq!(single_i64(&total), 200);
    let distinct = session.sql("SELECT count(DISTINCT event_id) FROM events").await.unwrap();
    assert_eq!(single_i64(&distinct), 200);

    // Values of each type, row by row, against what was written.
    let rows = session
        .sql("SELECT event_id, event_type, username, ip_verified, geo_latitude, asn, cardinality(decision_reasons), time, dt, hour \
              FROM events ORDER BY event_id")
        .await
        .unwrap();
    let mut i = 0;
    for b in &rows {
        let id = b.column(0).as_string::<i32>();
        let ty = b.column(1).as_string::<i32>();
        let ip_verified = b.column(3).as_boolean();
        let lat = b.column(4).as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let asn = b.column(5).as_primitive::<Int64Type>();
        let time = b.column(7).as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
        let dt = b.column(8).as_string::<i32>();
        for r in 0..b.num_rows() {
            let e = &input[i];
            assert_eq!(id.value(r), e.event_id);
            assert_eq!(ty.value(r), e.event_type.as_str());
            assert_eq!(ip_verified.value(r), e.ip_verified);
            assert_eq!(Some(lat.value(r)), e.geo_latitude);
            assert_eq!(Some(asn.value(r)), e.asn);
            assert_eq!(time.value(r), e.time.timestamp_micros());
            assert_eq!(dt.value(r), e.time.format("%Y-%m-%d").to_string());
            assert!(!b.column(2).is_null(r));
            i += 1;
        }
    }
    assert_eq!(i, 200);

    // Partition columns filter like any other.
    let day = session.sql("SELECT count(*) FROM events WHERE dt = '2026-04-02'").await.unwrap();
    let expected = input.iter().filter(|e| e.time.format("%Y-%m-%d").to_string() == "2026-04-02").count();
    assert_eq!(single_i64(&day) as usize, expected);
}

#[tokio::test]
async fn the_lake_on_s3_is_written_and_queried_through_object_store() {
    let bucket = std::env::var("AUTHTRAIL_TEST_S3_BUCKET")
        .expect("AUTHTRAIL_TEST_S3_BUCKET is not set: run the suite with ./scripts/test, which starts moto");
    let prefix = format!("lake-{}", std::process::id());
    let lake = Lake::open(&format!("s3://{bucket}/{prefix}")).unwrap();
    let input = events(120);
    let records: Vec<SourceRecord> = input
        .iter()
        .enumerate()
        .map(|(i, e)| SourceRecord {
            shard_id: "shardId-000000000000".into(),
            sequence: format!("{i:056}"),
            partition_key: e.user_key(),
            data: e.to_json(),
            arrival: Utc::now(),
        })
        .collect();
    let report = lake.write(&records).await.unwrap();
    // Written twice: same keys, so still one copy of each event.
    lake.write(&records).await.unwrap();
    let files = lake.event_files().await.unwrap();
    assert_eq!(files.len(), report.files.len());
    assert!(files.iter().all(|f| f.starts_with("events/dt=2026-04-0")), "{files:?}");

    let session = LakeSession::open(&lake).await.unwrap();
    assert_eq!(single_i64(&session.sql("SELECT count(*) FROM events").await.unwrap()), 120);
    let se = session.sql("SELECT count(*) FROM events WHERE geo_country = 'SE'").await.unwrap();
    assert_eq!(single_i64(&se) as usize, input.iter().filter(|e| e.geo_country.as_deref() == Some("SE")).count());

    // Reports run over S3 as over a directory, risk tables included.
    let newest = lake.newest_hour().await.unwrap().unwrap();
    assert_eq!(
        newest,
        input
            .iter()
            .map(|e| e.time)
            .max()
            .unwrap()
            .with_minute(0)
            .unwrap()
            .with_second(0)
            .unwrap()
            .with_nanosecond(0)
            .unwrap()
    );
    let q = queries::reports::report("sign_ins_over_time").unwrap();
    let now = queries::reports::now_for(&lake).await;
    assert_eq!(now, newest + Duration::hours(1));
    let given = [("since".to_string(), "-30d".to_string()), ("bucket".to_string(), "day".to_string())];
    let values = queries::reports::values(&q, &given, now).unwrap();
    let rules = pipeline::risk::Scoring::default();
    let days = queries::reports::dataframe(&session, &q, &values, &rules, pipeline::risk::Level::High)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let tries: i64 =
        days.iter().map(|b| datafusion::arrow::compute::sum(b.column(1).as_primitive::<Int64Type>()).unwrap()).sum();
    let attempts = input.iter().filter(|e| e.event_type == pipeline::event::EventType::Attempt).count();
    assert_eq!(tries as usize, attempts, "every attempt is one try");
    let risk = pipeline::risk::snapshot::SnapshotData {
        version: "v1".into(),
        built: now,
        ips: vec![("203.0.113.9".parse().unwrap(), pipeline::risk::Risk { score: 90, reasons: vec!["x".into()] })],
        ..Default::default()
    };
    pipeline::lake::risk_tables::write(&lake, &risk).await.unwrap();
    let ips = session.sql("SELECT ip, score FROM ip_risk").await.unwrap();
    assert_eq!(ips[0].column(0).as_string::<i32>().value(0), "203.0.113.9");

    // Checkpoints live next to the lake on S3 too.
    let cp = pipeline::lake::Checkpoint { last_sequence: "42".into(), pending: None };
    lake.save_checkpoint("kinesis-x", "shardId-000000000000", &cp).await.unwrap();
    assert_eq!(lake.checkpoint("kinesis-x", "shardId-000000000000").await.unwrap(), Some(cp));
}
