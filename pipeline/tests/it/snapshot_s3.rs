//! The risk snapshot published to and loaded from S3 (moto, through the real
//! object_store client): cold start, refresh, and every unusable state.

use std::time::Duration;

use chrono::Utc;
use object_store::{ObjectStoreExt, PutPayload};
use pipeline::aws::S3Location;
use pipeline::risk::location::{SnapshotLocation, publish_snapshot};
use pipeline::risk::snapshot::{LiveSnapshot, SnapshotData};
use pipeline::risk::{Risk, RiskSource, SnapshotState, UserProfile};

const WAIT: Duration = Duration::from_secs(4);

/// A prefix of its own in the test bucket (moto, started by `scripts/test`).
fn location(test: &str) -> S3Location {
    let bucket = std::env::var("AUTHTRAIL_TEST_S3_BUCKET")
        .expect("AUTHTRAIL_TEST_S3_BUCKET is not set: run the suite with ./scripts/test, which starts moto");
    S3Location { bucket, prefix: format!("snapshots-{test}-{}", std::process::id()) }
}

fn data(version: &str, logins: i64, ip_score: u8) -> SnapshotData {
    let profile = UserProfile { known_countries: vec!["GB".into()], login_count: logins, ..Default::default() };
    SnapshotData {
        version: version.into(),
        built: Utc::now(),
        users: vec![("pool/alice".into(), profile)],
        ips: vec![("198.51.100.23".parse().unwrap(), Risk { score: ip_score, reasons: vec!["stuffing".into()] })],
        asns: vec![],
    }
}

fn state(live: &LiveSnapshot) -> SnapshotState {
    live.state(Utc::now(), 3600)
}

fn fresh(version: &str) -> SnapshotState {
    SnapshotState::Fresh { version: version.into() }
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn s3_publish_then_cold_start_then_refresh_keeps_old_readers() {
    let s3 = location("refresh");
    let at = SnapshotLocation::S3(s3.clone());
    let published = publish_snapshot(&at, &data("v1", 7, 80)).await.unwrap();
    assert_eq!(published, format!("{}/snapshot-v1.bin", s3.url()));

    let cache = tempfile::tempdir().unwrap();
    let live = LiveSnapshot::open_location(&at, cache.path(), WAIT).await.unwrap();
    assert_eq!(state(&live), fresh("v1"));
    assert_eq!(live.user("pool", "alice").unwrap().login_count, 7);
    assert_eq!(live.ip("198.51.100.23".parse().unwrap()).unwrap().score, 80);
    assert!(!live.refresh().await, "unchanged pointer: nothing downloaded");

    let v1 = live.snapshot().unwrap();
    publish_snapshot(&at, &data("v2", 8, 30)).await.unwrap();
    assert!(live.refresh().await);
    assert_eq!(state(&live), fresh("v2"));
    assert_eq!(live.user("pool", "alice").unwrap().login_count, 8);
    assert_eq!(live.ip("198.51.100.23".parse().unwrap()).unwrap().score, 30);
    // The holder of v1 reads v1, though its file has left the cache.
    assert_eq!((v1.version(), v1.user("pool", "alice").unwrap().login_count), ("v1", 7));
    assert_eq!(v1.ip("198.51.100.23".parse().unwrap()).unwrap().score, 80);
    // v1 stays a while: another process sharing the cache may be opening it.
    assert_eq!(files(cache.path()), vec!["snapshot-v1.bin", "snapshot-v2.bin"]);
    // Once old, it goes with the next refresh that loads a new snapshot.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let v1_file = std::fs::File::options().write(true).open(cache.path().join("snapshot-v1.bin")).unwrap();
    v1_file.set_modified(an_hour_ago).unwrap();
    publish_snapshot(&at, &data("v3", 9, 30)).await.unwrap();
    assert!(live.refresh().await);
    assert_eq!(files(cache.path()), vec!["snapshot-v2.bin", "snapshot-v3.bin"]);
    assert_eq!(live.refresh_failures(), 0);
}

#[tokio::test]
async fn s3_unusable_publications_are_states_not_panics() {
    let s3 = location("unusable");
    let at = SnapshotLocation::S3(s3.clone());
    let store = s3.store().unwrap();
    let put = |name: &'static str, body: &'static [u8]| {
        let store = &store;
        let path = s3.path(name);
        async move { store.put(&path, PutPayload::from_static(body)).await.unwrap() }
    };
    let corrupt = |live: &LiveSnapshot, why: &str| match state(live) {
        SnapshotState::Corrupt(reason) => assert!(reason.contains(why), "{reason:?} should say {why:?}"),
        other => panic!("expected Corrupt({why}), got {other:?}"),
    };

    // A pointer naming an object that is not there.
    put("CURRENT", b"snapshot-gone.bin").await;
    let cache = tempfile::tempdir().unwrap();
    let live = LiveSnapshot::open_location(&at, cache.path(), WAIT).await.unwrap();
    corrupt(&live, "not in the store");
    assert_eq!(live.user("pool", "alice"), None);

    // An object that is not a snapshot.
    put("snapshot-bad.bin", b"ATSNAP02 but not really").await;
    put("CURRENT", b"snapshot-bad.bin").await;
    assert!(live.refresh().await);
    corrupt(&live, "truncated header");
    assert_eq!(live.ip("198.51.100.23".parse().unwrap()), None);

    // A pointer that would leave the cache directory.
    put("CURRENT", b"../../etc/passwd").await;
    live.refresh().await;
    corrupt(&live, "does not name a snapshot file");

    // A good publication recovers; removing the pointer unpublishes.
    publish_snapshot(&at, &data("v3", 1, 10)).await.unwrap();
    assert!(live.refresh().await);
    assert_eq!(state(&live), fresh("v3"));
    store.delete(&s3.path("CURRENT")).await.unwrap();
    live.refresh().await;
    assert_eq!(state(&live), SnapshotState::Missing);
    assert_eq!(live.refresh_failures(), 0, "all of these were answers, not failures to reach the store");
}

#[tokio::test]
async fn s3_missing_prefix_or_bucket_is_missing() {
    let cache = tempfile::tempdir().unwrap();
    let empty = SnapshotLocation::S3(location("never-published"));
    let live = LiveSnapshot::open_location(&empty, cache.path(), WAIT).await.unwrap();
    assert_eq!(state(&live), SnapshotState::Missing);
    let no_bucket = SnapshotLocation::S3(S3Location {
        bucket: format!("authtrail-no-such-bucket-{}", std::process::id()),
        prefix: "snapshots".into(),
    });
    let live = LiveSnapshot::open_location(&no_bucket, cache.path(), WAIT).await.unwrap();
    assert_eq!(state(&live), SnapshotState::Missing);
    assert!(!live.refresh().await);
    assert_eq!(live.refresh_failures(), 0);
}

#[tokio::test]
async fn s3_cold_start_time_limit_is_a_state_and_refresh_recovers() {
    let at = SnapshotLocation::S3(location("cold-start"));
    publish_snapshot(&at, &data("v1", 3, 50)).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let live = LiveSnapshot::open_location(&at, cache.path(), Duration::ZERO).await.unwrap();
    match state(&live) {
        SnapshotState::Corrupt(reason) => assert!(reason.contains("did not answer within 0 ms"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(live.refresh_failures(), 1);
    assert!(live.refresh().await);
    assert_eq!(state(&live), fresh("v1"));
    assert_eq!(live.user("pool", "alice").unwrap().login_count, 3);
}
