//! The risk-scorer Lambda handler on a lake written by the lake writer,
//! publishing to a directory and to S3 (moto).

use chrono::{DateTime, Duration, TimeZone, Utc};
use pipeline::aws::S3Location;
use pipeline::lake::{Lake, SourceRecord};
use pipeline::risk::RiskSource;
use pipeline::risk::location::SnapshotLocation;
use pipeline::risk::snapshot::{LiveSnapshot, Snapshot};
use pipeline::telemetry::{LineOut, MetricsSink};
use queries::score::ScoreParams;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 2, 9, 0, 0).unwrap()
}

/// A local lake where 16 users each tried once from one IP in the last 10
/// minutes; none succeeded.
async fn stuffed_lake(dir: &std::path::Path) -> Lake {
    let lake = Lake::local(&dir.join("lake")).unwrap();
    let records: Vec<SourceRecord> = (0..16)
        .map(|i| {
            let t = now() - Duration::minutes(10) + Duration::seconds(i);
            let json = serde_json::json!({
                "schema_version": 1, "event_id": format!("e{i}"), "event_type": "auth.attempt",
                "time": t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), "user_pool_id": "p",
                "username": format!("u{i}"), "ip_verified": true, "context_status": "verified",
                "source_ip": "198.51.100.23", "decision_reasons": [], "notes": [],
            });
            SourceRecord {
                shard_id: "s".into(),
                sequence: i.to_string(),
                partition_key: "k".into(),
                data: json.to_string().into_bytes(),
                arrival: t,
            }
        })
        .collect();
    lake.write(&records).await.unwrap();
    lake
}

#[tokio::test]
async fn scores_the_lake_publishes_a_snapshot_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = stuffed_lake(tmp.path()).await;
    let snapshots = tmp.path().join("snapshots");
    let metrics = MetricsSink::Emf { namespace: "authtrail".into(), out: LineOut::memory() };
    let at = SnapshotLocation::Local(snapshots.clone());
    let mut held = Default::default();
    let run = functions::risk_scorer::handle(&lake, &at, &ScoreParams::at(now()), &mut held, &metrics).await.unwrap();
    let report = run.report;
    assert_eq!((report.rows_in, report.ips, report.risky_ips), (16, 1, 1));
    let snap = Snapshot::open_current(&snapshots).unwrap();
    assert_eq!(snap.ip("198.51.100.23".parse().unwrap()).unwrap().score, 90);
    let m: serde_json::Value = serde_json::from_str(&metrics.lines()[0]).unwrap();
    assert_eq!(
        (m["Function"].as_str(), m["EventsIn"].as_f64(), m["RiskyIps"].as_f64()),
        (Some("risk-scorer"), Some(16.0), Some(1.0))
    );
    let c = pipeline::metrics::component::RISK_SCORER;
    assert_eq!(super::handlers::emitted(&metrics.lines())[c], super::handlers::catalogued(c));
    // A warm container's next run holds the day's settled rows: the day is not read whole.
    let later = ScoreParams::at(now() + Duration::minutes(15));
    functions::risk_scorer::handle(&lake, &at, &later, &mut held, &metrics).await.unwrap();
    let whole: Vec<Option<f64>> = metrics
        .lines()
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["DayReadWhole"].as_f64())
        .collect();
    assert_eq!(whole, [Some(1.0), Some(0.0)]);
}

#[tokio::test]
async fn publishes_to_s3_where_the_trigger_loads_it() {
    let bucket = std::env::var("AUTHTRAIL_TEST_S3_BUCKET")
        .expect("AUTHTRAIL_TEST_S3_BUCKET is not set: run the suite with ./scripts/test, which starts moto");
    let tmp = tempfile::tempdir().unwrap();
    let lake = stuffed_lake(tmp.path()).await;
    let at = SnapshotLocation::S3(S3Location { bucket, prefix: format!("scorer-{}/snapshots", std::process::id()) });
    functions::risk_scorer::handle(&lake, &at, &ScoreParams::at(now()), &mut Default::default(), &MetricsSink::Off)
        .await
        .unwrap();
    let cache = tmp.path().join("cache");
    let live = LiveSnapshot::open_location(&at, &cache, std::time::Duration::from_secs(4)).await.unwrap();
    assert_eq!(
        live.state(now(), 60),
        pipeline::risk::SnapshotState::Fresh { version: "20260502T090000.000000Z".into() }
    );
    assert_eq!(live.ip("198.51.100.23".parse().unwrap()).unwrap().score, 90);
    assert!(cache.join("snapshot-20260502T090000.000000Z.bin").exists());
}
