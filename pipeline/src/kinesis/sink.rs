//! Kinesis emission with a hard time budget.
//!
//! A sign-in waits on this, and Cognito denies sign-ins whose trigger takes
//! more than 5 s. So the sink does its own retrying inside one total budget
//! (default 300 ms): PutRecords, keep only the entries Kinesis rejected,
//! back off with full jitter, try again while time remains. The SDK's own
//! retries are off so they cannot overrun the budget. Whatever is still
//! undelivered when time runs out is reported per record, for the caller to
//! spill.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::stream::sink::{Delivered, EmitResults, EventSink, Record};

/// PutRecords accepts at most 500 entries and 5 MiB per call.
const MAX_ENTRIES: usize = 500;
const MAX_BYTES: usize = 5 << 20;

/// The per-entry answer of one PutRecords call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Ok(Delivered),
    /// e.g. `ProvisionedThroughputExceededException`, `InternalFailure`.
    Failed {
        code: String,
        message: String,
    },
}

/// The seam over PutRecords: the SDK in production, a fault injector in tests.
pub trait PutRecordsApi: Send + Sync {
    /// One call; `Err` means the whole call failed (network, throttling of
    /// the call itself …). The outcome list matches `entries` in order.
    fn put_records(&self, entries: &[&Record]) -> impl Future<Output = Result<Vec<EntryOutcome>, String>> + Send;
    fn stream(&self) -> &str;
}

/// PutRecords through `aws-sdk-kinesis`. `stream` is a name or an ARN.
pub struct SdkPutRecords {
    client: aws_sdk_kinesis::Client,
    stream: String,
}

impl SdkPutRecords {
    pub fn new(client: aws_sdk_kinesis::Client, stream: impl Into<String>) -> Self {
        SdkPutRecords { client, stream: stream.into() }
    }
}

impl PutRecordsApi for SdkPutRecords {
    async fn put_records(&self, entries: &[&Record]) -> Result<Vec<EntryOutcome>, String> {
        let mut req = self.client.put_records();
        req =
            if self.stream.starts_with("arn:") { req.stream_arn(&self.stream) } else { req.stream_name(&self.stream) };
        for r in entries {
            let entry = PutRecordsRequestEntry::builder()
                .partition_key(&r.partition_key)
                .data(Blob::new(r.data.clone()))
                .build()
                .map_err(|e| e.to_string())?;
            req = req.records(entry);
        }
        let out = req
            .send()
            .await
            .map_err(|e| format!("PutRecords failed: {}", aws_sdk_kinesis::error::DisplayErrorContext(e)))?;
        let results = out.records();
        if results.len() != entries.len() {
            return Err(format!("PutRecords answered {} entries for {}", results.len(), entries.len()));
        }
        Ok(results
            .iter()
            .map(|e| match (e.shard_id(), e.sequence_number(), e.error_code()) {
                (Some(shard), Some(seq), None) => {
                    EntryOutcome::Ok(Delivered { shard_id: shard.to_string(), sequence_number: seq.to_string() })
                }
                (_, _, code) => EntryOutcome::Failed {
                    code: code.unwrap_or("Unknown").to_string(),
                    message: e.error_message().unwrap_or("").to_string(),
                },
            })
            .collect())
    }

    fn stream(&self) -> &str {
        &self.stream
    }
}

/// Kinesis sink: budgeted, partial-failure-aware PutRecords.
pub struct KinesisSink<A: PutRecordsApi = SdkPutRecords> {
    api: A,
    budget: Duration,
    base_backoff: Duration,
}

impl<A: PutRecordsApi> KinesisSink<A> {
    pub fn new(api: A, budget: Duration) -> Self {
        KinesisSink { api, budget, base_backoff: Duration::from_millis(10) }
    }

    pub fn api(&self) -> &A {
        &self.api
    }

    /// Splits records into PutRecords-sized chunks (by index).
    fn chunks(records: &[Record], pending: &[usize]) -> Vec<Vec<usize>> {
        let mut chunks = Vec::new();
        let mut current = Vec::new();
        let mut bytes = 0;
        for &i in pending {
            let size = records[i].data.len() + records[i].partition_key.len();
            if !current.is_empty() && (current.len() == MAX_ENTRIES || bytes + size > MAX_BYTES) {
                chunks.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(i);
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        chunks
    }
}

impl<A: PutRecordsApi> EventSink for KinesisSink<A> {
    async fn emit(&self, records: &[Record]) -> EmitResults {
        let start = Instant::now();
        let mut results: EmitResults = vec![Err("not attempted".to_string()); records.len()];
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut attempt: u32 = 0;
        while !pending.is_empty() {
            if start.elapsed() >= self.budget {
                break;
            }
            let mut still = Vec::new();
            for chunk in Self::chunks(records, &pending) {
                let Some(remaining) = self.budget.checked_sub(start.elapsed()).filter(|d| !d.is_zero()) else {
                    still.extend(chunk);
                    continue;
                };
                let entries: Vec<&Record> = chunk.iter().map(|&i| &records[i]).collect();
                match tokio::time::timeout(remaining, self.api.put_records(&entries)).await {
                    Ok(Ok(outcomes)) => {
                        for (&i, outcome) in chunk.iter().zip(outcomes) {
                            match outcome {
                                EntryOutcome::Ok(d) => results[i] = Ok(d),
                                EntryOutcome::Failed { code, message } => {
                                    results[i] = Err(format!("{code}: {message}"));
                                    still.push(i);
                                }
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        for &i in &chunk {
                            results[i] = Err(e.clone());
                        }
                        still.extend(chunk);
                    }
                    Err(_) => {
                        for &i in &chunk {
                            results[i] = Err(format!("no answer within the {} ms budget", self.budget.as_millis()));
                        }
                        still.extend(chunk);
                    }
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            // Full jitter: sleep a random time up to base·2^attempt, within budget.
            let cap = self.base_backoff.saturating_mul(1 << attempt.min(6));
            let sleep = cap.mul_f64(fastrand::f64()).min(self.budget.saturating_sub(start.elapsed()));
            tokio::time::sleep(sleep).await;
            attempt += 1;
        }
        for i in pending {
            if let Err(e) = &mut results[i] {
                *e = format!("undelivered after {attempt} retries in {} ms: {e}", start.elapsed().as_millis());
            }
        }
        results
    }

    fn describe(&self) -> String {
        format!("Kinesis stream {} (budget {} ms)", self.api.stream(), self.budget.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Rejects entries whose data starts with `fail` on their first `n` tries.
    struct Flaky {
        failures_left: Mutex<std::collections::HashMap<Vec<u8>, u32>>,
        calls: Mutex<Vec<Vec<Vec<u8>>>>,
        n: u32,
    }

    impl PutRecordsApi for Flaky {
        async fn put_records(&self, entries: &[&Record]) -> Result<Vec<EntryOutcome>, String> {
            self.calls.lock().unwrap().push(entries.iter().map(|r| r.data.clone()).collect());
            let mut left = self.failures_left.lock().unwrap();
            Ok(entries
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let tries = left.entry(r.data.clone()).or_insert(0);
                    if r.data.starts_with(b"fail") && *tries < self.n {
                        *tries += 1;
                        EntryOutcome::Failed {
                            code: "ProvisionedThroughputExceededException".into(),
                            message: "slow down".into(),
                        }
                    } else {
                        EntryOutcome::Ok(Delivered { shard_id: "shardId-0".into(), sequence_number: i.to_string() })
                    }
                })
                .collect())
        }
        fn stream(&self) -> &str {
            "test"
        }
    }

    fn recs(items: &[&str]) -> Vec<Record> {
        items.iter().map(|d| Record { partition_key: "k".into(), data: d.as_bytes().to_vec() }).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retries_only_failed_entries() {
        let sink = KinesisSink::new(
            Flaky { failures_left: Default::default(), calls: Default::default(), n: 2 },
            Duration::from_millis(300),
        );
        let out = sink.emit(&recs(&["ok1", "fail1", "ok2", "fail2"])).await;
        assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
        let calls = sink.api().calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].len(), 4);
        assert_eq!(calls[1], vec![b"fail1".to_vec(), b"fail2".to_vec()]);
        assert_eq!(calls[2], vec![b"fail1".to_vec(), b"fail2".to_vec()]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn budget_exhaustion_reports_undelivered() {
        let sink = KinesisSink::new(
            Flaky { failures_left: Default::default(), calls: Default::default(), n: u32::MAX },
            Duration::from_millis(50),
        );
        let out = sink.emit(&recs(&["ok", "fail-forever"])).await;
        assert!(out[0].is_ok());
        let err = out[1].as_ref().unwrap_err();
        assert!(err.contains("undelivered") && err.contains("ProvisionedThroughputExceeded"), "{err}");
    }

    #[test]
    fn chunks_respect_entry_and_byte_limits() {
        let many: Vec<Record> =
            (0..1200).map(|i| Record { partition_key: "k".into(), data: vec![b'x'; 10 + i % 3] }).collect();
        let idx: Vec<usize> = (0..many.len()).collect();
        let chunks = KinesisSink::<SdkPutRecords>::chunks(&many, &idx);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![500, 500, 200]);
        let big: Vec<Record> = (0..6).map(|_| Record { partition_key: "k".into(), data: vec![0; 1 << 20] }).collect();
        let idx: Vec<usize> = (0..6).collect();
        let chunks = KinesisSink::<SdkPutRecords>::chunks(&big, &idx);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 2]);
    }
}
