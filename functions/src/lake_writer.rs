//! The lake writer as a Lambda function behind a Kinesis event-source
//! mapping: decode the batch, write it to the lake, and answer with a
//! partial-batch response. Bad records go to dead letters, not to failures;
//! only a failed *write* is reported, from its first unwritten record, so
//! Lambda retries from there (enable `ReportBatchItemFailures`).

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use pipeline::lake::{Lake, SourceRecord, WriteReport};
use pipeline::metrics as m;
use pipeline::telemetry::{Metric, MetricsSink};

/// Groups the batch by shard (an event-source mapping sends one shard per
/// batch, but nothing here depends on it), in arrival order.
fn by_shard(event: KinesisEvent) -> Vec<(String, Vec<SourceRecord>)> {
    let mut out: Vec<(String, Vec<SourceRecord>)> = Vec::new();
    for r in event.records {
        // eventID is "<shard id>:<sequence number>".
        let shard = r.event_id.as_deref().and_then(|id| id.split(':').next()).unwrap_or("unknown-shard").to_string();
        let record = SourceRecord {
            shard_id: shard.clone(),
            sequence: r.kinesis.sequence_number,
            partition_key: r.kinesis.partition_key,
            data: r.kinesis.data.0,
            arrival: r.kinesis.approximate_arrival_timestamp.0,
        };
        match out.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, records)) => records.push(record),
            None => out.push((shard, vec![record])),
        }
    }
    out
}

/// Writes one batch; the response lists the first unwritten record per shard.
pub async fn handle(lake: &Lake, event: KinesisEvent, metrics: &MetricsSink) -> KinesisEventResponse {
    let started = std::time::Instant::now();
    let mut response = KinesisEventResponse::default();
    let mut total = WriteReport::default();
    for (shard, records) in by_shard(event) {
        match lake.write(&records).await {
            Ok(report) => {
                total.records += report.records;
                total.events += report.events;
                total.dead_letters += report.dead_letters;
                total.files.extend(report.files);
            }
            Err(failure) => {
                let sequence = records[failure.first_unwritten].sequence.clone();
                tracing::error!(shard = %shard, sequence = %sequence, error = %failure.error, "lake write failed; Lambda will retry from this record");
                total.files.extend(failure.written.files);
                let mut item = KinesisBatchItemFailure::default();
                item.item_identifier = Some(sequence);
                response.batch_item_failures.push(item);
            }
        }
    }
    let failures = response.batch_item_failures.len();
    let files = total.files.len();
    metrics.record(
        m::component::LAKE_WRITER,
        chrono::Utc::now().timestamp_millis(),
        &writer_metrics(total.records, total.events, total.dead_letters, files, failures, started.elapsed()),
    );
    response
}

/// The lake writer's metrics for one batch (here) or one drain (`authtrail
/// consume`, outside Lambda).
pub fn writer_metrics(
    records: usize,
    events: usize,
    dead_letters: usize,
    files: usize,
    failures: usize,
    elapsed: std::time::Duration,
) -> [Metric; 6] {
    [
        Metric::count(&m::RECORDS, records as u64),
        Metric::count(&m::EVENTS, events as u64),
        Metric::count(&m::DEAD_LETTERS, dead_letters as u64),
        Metric::count(&m::FILES_WRITTEN, files as u64),
        Metric::count(&m::WRITE_FAILURES, failures as u64),
        Metric::new(&m::HANDLER_LATENCY, elapsed.as_secs_f64() * 1e6),
    ]
}
