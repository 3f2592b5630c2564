//! Kinesis as a source for the poller: ListShards (with lineage),
//! GetShardIterator, GetRecords, with bounded jittered backoff on throttling,
//! fresh iterators when one expires, and tolerance of empty polls.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::ShardIteratorType;

use crate::lake::source::{ConsumeError, Page, ShardInfo, StreamSource};
use crate::lake::{SourceRecord, sequence_cmp};

/// GetRecords returns at most 10 000 records per call.
const MAX_PER_CALL: usize = 10_000;
/// Throttled or failing calls are retried this often in a row before giving up.
const MAX_RETRIES: u32 = 8;
/// GetRecords allows 5 calls per second per shard: pace consecutive calls.
const GET_RECORDS_INTERVAL: Duration = Duration::from_millis(200);

pub struct KinesisSource {
    client: Client,
    stream: String,
}

impl KinesisSource {
    /// `stream` is a stream name (ARNs: use the name part).
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        let stream: String = stream.into();
        let stream = stream.rsplit_once("stream/").map_or(stream.clone(), |(_, name)| name.to_string());
        KinesisSource { client, stream }
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        seq: Option<&str>,
    ) -> Result<Option<String>, ConsumeError> {
        retry("GetShardIterator", || {
            let mut req = self
                .client
                .get_shard_iterator()
                .stream_name(&self.stream)
                .shard_id(shard)
                .shard_iterator_type(kind.clone());
            if let Some(s) = seq {
                req = req.starting_sequence_number(s);
            }
            req.send()
        })
        .await
        .map(|out| out.shard_iterator().map(str::to_string))
    }

    /// Reads from `start` (iterator kind + sequence) until `max` records, the
    /// current end of an open shard, the end of a closed shard, or (with
    /// `until`) past that sequence.
    async fn read_from(
        &self,
        shard: &str,
        after: Option<&str>,
        max: usize,
        until: Option<&str>,
        start_at: Option<&str>,
    ) -> Result<Page, ConsumeError> {
        let (kind, seq) = match (start_at, after) {
            (Some(s), _) => (ShardIteratorType::AtSequenceNumber, Some(s)),
            (None, Some(a)) => (ShardIteratorType::AfterSequenceNumber, Some(a)),
            (None, None) => (ShardIteratorType::TrimHorizon, None),
        };
        let mut iterator = self.iterator(shard, kind.clone(), seq).await?;
        let mut page = Page::default();
        let mut throttles = 0;
        let mut last_call: Option<std::time::Instant> = None;
        while let Some(it) = iterator.take() {
            if let Some(wait) = last_call.map(|t| GET_RECORDS_INTERVAL.saturating_sub(t.elapsed())) {
                tokio::time::sleep(wait).await;
            }
            last_call = Some(std::time::Instant::now());
            let limit = (max - page.records.len()).min(MAX_PER_CALL) as i32;
            let got = match self.client.get_records().shard_iterator(&it).limit(limit).send().await {
                Ok(got) => {
                    throttles = 0;
                    got
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_expired_iterator_exception()) => {
                    // Start again after the last record we hold, or where
                    // this read started when it holds none yet.
                    iterator = match page.records.last() {
                        Some(last) => {
                            self.iterator(shard, ShardIteratorType::AfterSequenceNumber, Some(&last.sequence)).await?
                        }
                        None => self.iterator(shard, kind.clone(), seq).await?,
                    };
                    continue;
                }
                Err(e) if throttled(&e) && throttles < MAX_RETRIES => {
                    backoff(throttles).await;
                    throttles += 1;
                    iterator = Some(it);
                    continue;
                }
                Err(e) => {
                    return Err(ConsumeError::Source(format!("GetRecords on {shard}: {}", DisplayErrorContext(e))));
                }
            };
            let caught_up = got.records().is_empty() && got.millis_behind_latest().unwrap_or(0) == 0;
            for r in got.records() {
                if until.is_some_and(|u| sequence_cmp(r.sequence_number(), u).is_gt()) {
                    return Ok(page);
                }
                page.records.push(SourceRecord {
                    shard_id: shard.to_string(),
                    sequence: r.sequence_number().to_string(),
                    partition_key: r.partition_key().unwrap_or_default().to_string(),
                    data: r.data().as_ref().to_vec(),
                    arrival: r
                        .approximate_arrival_timestamp()
                        .and_then(|t| chrono::DateTime::from_timestamp_millis(t.to_millis().ok()?))
                        .unwrap_or_else(chrono::Utc::now),
                });
            }
            match got.next_shard_iterator() {
                // A closed shard ends with no next iterator.
                None => page.end_of_shard = true,
                Some(next) if !caught_up && page.records.len() < max => iterator = Some(next.to_string()),
                Some(_) => {}
            }
        }
        Ok(page)
    }
}

fn throttled<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_))
        || e.code().is_some_and(|c| c.contains("Throughput") || c.contains("LimitExceeded") || c.contains("Throttl"))
}

/// Full jitter over 100 ms · 2^attempt, capped at 5 s.
async fn backoff(attempt: u32) {
    let cap = Duration::from_millis(100).saturating_mul(1 << attempt.min(6)).min(Duration::from_secs(5));
    tokio::time::sleep(cap.mul_f64(fastrand::f64())).await;
}

/// Retries throttled calls with backoff, a bounded number of times.
async fn retry<T, E, R, F, Fut>(what: &str, mut call: F) -> Result<T, ConsumeError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if throttled(&e) && attempt < MAX_RETRIES => {
                backoff(attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(ConsumeError::Source(format!("{what}: {}", DisplayErrorContext(e)))),
        }
    }
}

impl StreamSource for KinesisSource {
    fn name(&self) -> String {
        format!("kinesis-{}", self.stream)
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, ConsumeError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = retry("ListShards", || {
                let req = self.client.list_shards();
                match &token {
                    Some(t) => req.next_token(t).send(),
                    None => req.stream_name(&self.stream).send(),
                }
            })
            .await?;
            for s in page.shards() {
                let parents = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                    .into_iter()
                    .flatten()
                    .map(str::to_string)
                    .collect();
                out.push(ShardInfo { id: s.shard_id().to_string(), parents });
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(out),
            }
        }
    }

    async fn read(&self, shard: &str, after: Option<&str>, max: usize) -> Result<Page, ConsumeError> {
        self.read_from(shard, after, max, None, None).await
    }

    async fn read_range(&self, shard: &str, first: &str, last: &str) -> Result<Vec<SourceRecord>, ConsumeError> {
        let mut out = Vec::new();
        let mut start = Some(first.to_string());
        let mut after: Option<String> = None;
        loop {
            let page =
                self.read_from(shard, after.as_deref(), MAX_PER_CALL, Some(last), start.take().as_deref()).await?;
            let done = page.records.is_empty()
                || page.end_of_shard
                || page.records.last().is_some_and(|r| sequence_cmp(&r.sequence, last).is_ge());
            after = page.records.last().map(|r| r.sequence.clone());
            out.extend(page.records);
            if done {
                return Ok(out);
            }
        }
    }
}
