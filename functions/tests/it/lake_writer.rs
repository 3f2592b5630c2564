//! The lake-writer Lambda handler on a Kinesis batch in AWS's documented shape.

use aws_lambda_events::event::kinesis::KinesisEvent;
use pipeline::lake::Lake;
use pipeline::telemetry::{LineOut, MetricsSink};

use super::handlers::root;

fn batch() -> KinesisEvent {
    let text = std::fs::read_to_string(root().join("tests/fixtures/kinesis/lake_writer_batch.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn bad_records_are_dead_letters_not_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    let metrics = MetricsSink::Emf { namespace: "authtrail".into(), out: LineOut::memory() };
    let response = functions::lake_writer::handle(&lake, batch(), &metrics).await;
    assert!(response.batch_item_failures.is_empty());
    let files = lake.event_files().await.unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].starts_with("events/dt=2026-03-01/hour=22/shardId-000000000006-"), "{files:?}");
    let dead = lake.list("dead-letter").await.unwrap();
    assert_eq!(dead.len(), 1);
    let lines = std::fs::read_to_string(tmp.path().join(&dead[0])).unwrap();
    assert_eq!(lines.lines().count(), 2, "the truncated and the non-UTF-8 record");
    let m: serde_json::Value = serde_json::from_str(&metrics.lines()[0]).unwrap();
    assert_eq!(
        (m["Events"].as_f64(), m["DeadLetters"].as_f64(), m["WriteFailures"].as_f64()),
        (Some(3.0), Some(2.0), Some(0.0))
    );
    // Exactly the catalogue's lake-writer metrics.
    let c = pipeline::metrics::component::LAKE_WRITER;
    assert_eq!(super::handlers::emitted(&metrics.lines())[c], super::handlers::catalogued(c));
}

#[tokio::test]
async fn a_failed_write_reports_its_first_unwritten_record() {
    let tmp = tempfile::tempdir().unwrap();
    // A file where the 23:00 partition directory must go: that write fails.
    std::fs::create_dir_all(tmp.path().join("events/dt=2026-03-01")).unwrap();
    std::fs::write(tmp.path().join("events/dt=2026-03-01/hour=23"), b"in the way").unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    let event = batch();
    let sequences: Vec<String> = event.records.iter().map(|r| r.kinesis.sequence_number.clone()).collect();
    let response = functions::lake_writer::handle(&lake, event, &MetricsSink::Off).await;
    // Record 0 (22:00) is committed; record 1 (23:00) is the first not written.
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier.as_deref(), Some(sequences[1].as_str()));
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], sequences[1].as_str());
    assert_eq!(lake.event_files().await.unwrap().len(), 1, "the 22:00 file is committed");
}
