//! queries integration tests: DataFusion over a lake written by the lake writer.

use chrono::{Duration, TimeZone, Utc};
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

async fn lake_with(events: &[Event]) -> (tempfile::TempDir, Lake) {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(&tmp.path().join("lake")).unwrap();
    let records: Vec<SourceRecord> = events
        .iter()
        .enumerate()
        .map(|(i, e)| SourceRecord {
            shard_id: "shard-0000".into(),
            sequence: i.to_string(),
            partition_key: e.user_key(),
            data: e.to_json(),
            arrival: Utc::now(),
        })
        .collect();
    lake.write(&records).await.unwrap();
    (tmp, lake)
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

    // Checkpoints live next to the lake on S3 too.
    let cp = pipeline::lake::Checkpoint { last_sequence: "42".into(), pending: None };
    lake.save_checkpoint("kinesis-x", "shardId-000000000000", &cp).await.unwrap();
    assert_eq!(lake.checkpoint("kinesis-x", "shardId-000000000000").await.unwrap(), Some(cp));
}

mod scoring {
    use super::*;
    use pipeline::risk::RiskSource;
    use pipeline::risk::snapshot::{Snapshot, write_snapshot};
    use queries::score::{ScoreParams, score};

    fn ev(
        id: &str,
        kind: &str,
        t: chrono::DateTime<Utc>,
        user: &str,
        ip: Option<&str>,
        place: Option<(&str, &str, f64, f64)>,
        device: Option<&str>,
    ) -> Event {
        let mut v = serde_json::json!({
            "schema_version": 1, "event_id": id, "event_type": kind,
            "time": t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "user_pool_id": "pool", "username": user, "ip_verified": ip.is_some(),
            "context_status": if ip.is_some() { "verified" } else { "missing" },
            "source_ip": ip, "device_key": device, "decision_reasons": [], "notes": [],
        });
        if let Some((cc, city, lat, lon)) = place {
            v["geo_country"] = cc.into();
            v["geo_city"] = city.into();
            v["geo_latitude"] = lat.into();
            v["geo_longitude"] = lon.into();
            v["geo_accuracy_radius_km"] = 10.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[tokio::test]
    async fn profiles_and_ip_risk_from_the_lake_become_a_snapshot() {
        let now = Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap();
        let london = Some(("GB", "London", 51.5142, -0.0931));
        let mut events = Vec::new();
        // Alice: three sign-ins from London on her laptop, each followed by a success.
        for (i, days) in [9, 5, 1].into_iter().enumerate() {
            let t = now - Duration::days(days);
            events.push(ev(&format!("a{i}"), "auth.attempt", t, "alice", Some("81.2.69.142"), london, Some("laptop")));
            events.push(ev(&format!("s{i}"), "auth.success", t + Duration::seconds(20), "alice", None, None, None));
        }
        // A failed attempt from Stockholm (no success follows): not a known place.
        events.push(ev(
            "af",
            "auth.attempt",
            now - Duration::hours(2),
            "alice",
            Some("89.160.20.112"),
            Some(("SE", "Linköping", 58.4, 15.6)),
            Some("other"),
        ));
        // A success that comes too late (10 minutes) does not make its attempt succeed.
        events.push(ev(
            "bl",
            "auth.attempt",
            now - Duration::hours(3),
            "bob",
            Some("81.2.69.143"),
            london,
            Some("desk"),
        ));
        events.push(ev(
            "bs",
            "auth.success",
            now - Duration::hours(3) + Duration::minutes(10),
            "bob",
            None,
            None,
            None,
        ));
        // Window edges: a success exactly 5 minutes after its attempt counts
        // (carol); an attempt exactly at the scoring time is outside (dan).
        let t = now - Duration::hours(4);
        events.push(ev("cl", "auth.attempt", t, "carol", Some("81.2.69.140"), london, Some("tablet")));
        events.push(ev("cs", "auth.success", t + Duration::minutes(5), "carol", None, None, None));
        events.push(ev("dl", "auth.attempt", now, "dan", Some("81.2.69.141"), london, Some("pc")));
        events.push(ev("ds", "auth.success", now, "dan", None, None, None));
        // Credential stuffing: one IP, 20 users, one failing attempt each, within the last day.
        // All from one network: the ASN is scored as well.
        for u in 0..20 {
            let mut e = ev(
                &format!("x{u}"),
                "auth.attempt",
                now - Duration::minutes(30 + u),
                &format!("victim{u}"),
                Some("203.0.113.9"),
                None,
                None,
            );
            e.asn = Some(64500);
            events.push(e);
        }
        let (_tmp, lake) = lake_with(&events).await;
        let session = LakeSession::open(&lake).await.unwrap();
        let (data, report) = score(&session, &ScoreParams::at(now), "t1").await.unwrap();
        assert_eq!(report.rows_in, events.len() as i64 - 2, "the two events at the scoring time are outside");
        let users: Vec<&str> = data.users.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(users, vec!["pool/alice", "pool/carol"], "bob's success came too late, dan's is outside");
        let (key, alice) = &data.users[0];
        assert_eq!(key, "pool/alice");
        assert_eq!(
            (alice.known_countries.clone(), alice.known_cities.clone(), alice.known_devices.clone()),
            (vec!["GB".to_string()], vec!["London".to_string()], vec!["laptop".to_string()])
        );
        assert_eq!(alice.login_count, 3);
        let last = alice.last_success.as_ref().unwrap();
        assert_eq!(last.time, now - Duration::days(1));
        assert_eq!((last.latitude, last.accuracy_radius_km), (51.5142, 10.0));

        assert_eq!(report.risky_ips, 1);
        let (ip, risk) = &data.ips[0];
        assert_eq!(ip.to_string(), "203.0.113.9");
        assert_eq!(risk.score, 90);
        assert!(risk.reasons.iter().any(|r| r == "credential_stuffing:20_users"), "{:?}", risk.reasons);

        assert_eq!(data.asns.len(), 1);
        assert_eq!((data.asns[0].0, data.asns[0].1.score), (64500, 90));

        // Published and read back as the trigger would.
        let dir = tempfile::tempdir().unwrap();
        write_snapshot(dir.path(), &data).unwrap();
        let snap = Snapshot::open_current(dir.path()).unwrap();
        assert_eq!(snap.user("pool", "alice").unwrap().login_count, 3);
        assert_eq!(snap.ip("203.0.113.9".parse().unwrap()).unwrap().score, 90);
        assert!(snap.ip("81.2.69.142".parse().unwrap()).is_none());
        assert_eq!(snap.asn(64500).unwrap().score, 90);
    }
}
