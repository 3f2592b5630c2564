//! The risk-scorer Lambda handler on a lake written by the lake writer.

use chrono::{Duration, TimeZone, Utc};
use pipeline::lake::{Lake, SourceRecord};
use pipeline::risk::RiskSource;
use pipeline::risk::snapshot::Snapshot;
use pipeline::telemetry::LineOut;
use queries::score::ScoreParams;

#[tokio::test]
async fn scores_the_lake_publishes_a_snapshot_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(&tmp.path().join("lake")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 9, 0, 0).unwrap();
    // 16 users each tried once from one IP in the last 10 minutes; none succeeded.
    let records: Vec<SourceRecord> = (0..16)
        .map(|i| {
            let t = now - Duration::minutes(10) + Duration::seconds(i);
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
    let snapshots = tmp.path().join("snapshots");
    let metrics = LineOut::memory();
    let report =
        functions::risk_scorer::handle(&lake, &snapshots, &ScoreParams::at(now), &metrics, "authtrail").await.unwrap();
    assert_eq!((report.rows_in, report.ips, report.risky_ips), (16, 1, 1));
    let snap = Snapshot::open_current(&snapshots).unwrap();
    assert_eq!(snap.ip("198.51.100.23".parse().unwrap()).unwrap().score, 90);
    let m: serde_json::Value = serde_json::from_str(&metrics.lines()[0]).unwrap();
    assert_eq!(
        (m["Function"].as_str(), m["EventsIn"].as_f64(), m["RiskyIps"].as_f64()),
        (Some("risk-scorer"), Some(16.0), Some(1.0))
    );
}
