//! PutMetricData for the processes that run outside Lambda (`authtrail
//! consume --follow`, a scheduled `authtrail score` on a server or in a
//! container), where an EMF line on stdout reaches no metric. Lambda
//! functions keep EMF: no network call on the sign-in path.
//!
//! Recording never waits: values go into a bounded queue that a background
//! task drains, batched within the API's limits ([`MAX_DATUMS_PER_REQUEST`]
//! per request), with the SDK's standard retries. A full queue drops the
//! value and a failed request loses its batch: both are counted (see
//! [`PublisherStats`]) and logged, and neither ever fails the work the
//! metrics describe.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metric;
use crate::metrics::{DIMENSION, Unit};

/// PutMetricData takes at most 1,000 datums a request (and 1 MB; a datum
/// here is well under 200 bytes).
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;

/// Values waiting to be sent, at most; more are dropped (and counted).
pub const QUEUE_CAPACITY: usize = 10_000;

/// How often the queue is sent when it does not fill a request first.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// The longest one PutMetricData call may take, retries included: a hung
/// call must not hold the sender (and so the queue) for longer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// CloudWatch refuses values older than two weeks (and a whole request with
/// them): such values are dropped here, counted.
const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000 - 60_000;

/// What the publisher did; [`Publisher::shutdown`] returns it.
#[derive(Debug, Default)]
pub struct PublisherStats {
    /// Values sent and accepted.
    pub published: AtomicU64,
    /// Values lost to a request that failed after its retries.
    pub failed: AtomicU64,
    /// Values dropped because the queue was full.
    pub dropped: AtomicU64,
    pub requests: AtomicU64,
    /// Values queued or being sent: what a shutdown that ran out of time
    /// counts as failed.
    pending: AtomicU64,
}

enum Message {
    Datum(MetricDatum),
    Flush(oneshot::Sender<()>),
}

/// Sends metrics to CloudWatch in the background.
pub struct Publisher {
    queue: mpsc::Sender<Message>,
    stats: Arc<PublisherStats>,
    task: tokio::task::JoinHandle<()>,
}

/// A CloudWatch client from the standard AWS configuration (the endpoint
/// from `AWS_ENDPOINT_URL_CLOUDWATCH` in tests) with standard retries.
pub async fn client() -> aws_sdk_cloudwatch::Client {
    let timeouts =
        aws_sdk_cloudwatch::config::timeout::TimeoutConfig::builder().operation_timeout(REQUEST_TIMEOUT).build();
    let conf =
        aws_sdk_cloudwatch::config::Builder::from(&crate::aws::load_config().await).timeout_config(timeouts).build();
    aws_sdk_cloudwatch::Client::from_conf(conf)
}

impl Publisher {
    /// Starts the background sender (on the current tokio runtime).
    pub fn start(client: aws_sdk_cloudwatch::Client, namespace: &str) -> Publisher {
        Publisher::with_limits(client, namespace, QUEUE_CAPACITY, FLUSH_EVERY)
    }

    pub fn with_limits(
        client: aws_sdk_cloudwatch::Client,
        namespace: &str,
        capacity: usize,
        every: Duration,
    ) -> Publisher {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(PublisherStats::default());
        let task = tokio::spawn(run(client, namespace.to_string(), rx, Arc::clone(&stats), every));
        Publisher { queue, stats, task }
    }

    /// Queues `metrics` for `component` (the `Function` dimension) at
    /// `timestamp_ms`; never waits.
    pub fn record(&self, component: &str, timestamp_ms: i64, metrics: &[Metric]) {
        let too_old = timestamp_ms < chrono::Utc::now().timestamp_millis() - MAX_AGE_MS;
        for m in metrics {
            // CloudWatch rejects the whole request for one of these.
            if too_old || !m.value.is_finite() {
                self.drop_value("metric value not publishable (not finite, or older than two weeks)");
                continue;
            }
            let datum = MetricDatum::builder()
                .metric_name(m.name())
                .unit(unit(m.def.unit))
                .value(m.value)
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_millis(timestamp_ms))
                .dimensions(Dimension::builder().name(DIMENSION).value(component).build())
                .build();
            self.stats.pending.fetch_add(1, Ordering::Relaxed);
            if self.queue.try_send(Message::Datum(datum)).is_err() {
                self.stats.pending.fetch_sub(1, Ordering::Relaxed);
                self.drop_value("metrics queue full");
            }
        }
    }

    fn drop_value(&self, why: &str) {
        let dropped = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped.is_power_of_two() {
            tracing::warn!(dropped, why, "CloudWatch values dropped");
        }
    }

    /// Sends what is queued now and waits for it, at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let (tx, rx) = oneshot::channel();
        let sent = tokio::time::timeout(timeout, async {
            if self.queue.send(Message::Flush(tx)).await.is_ok() {
                let _ = rx.await;
            }
        })
        .await;
        if sent.is_err() {
            tracing::warn!(?timeout, "metrics not flushed in time");
        }
    }

    /// Flushes (at most `timeout`) and stops the sender. Values still
    /// unsent then are counted as failed.
    pub async fn shutdown(self, timeout: Duration) -> Arc<PublisherStats> {
        self.flush(timeout).await;
        drop(self.queue);
        if tokio::time::timeout(Duration::from_millis(100), self.task).await.is_err() {
            let unsent = self.stats.pending.swap(0, Ordering::Relaxed);
            self.stats.failed.fetch_add(unsent, Ordering::Relaxed);
        }
        self.stats
    }
}

fn unit(unit: Unit) -> StandardUnit {
    match unit {
        Unit::Count => StandardUnit::Count,
        Unit::Microseconds => StandardUnit::Microseconds,
        Unit::Seconds => StandardUnit::Seconds,
    }
}

async fn run(
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
    mut rx: mpsc::Receiver<Message>,
    stats: Arc<PublisherStats>,
    every: Duration,
) {
    let mut batch: Vec<MetricDatum> = Vec::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Datum(d)) => {
                    batch.push(d);
                    if batch.len() >= MAX_DATUMS_PER_REQUEST {
                        send(&client, &namespace, &mut batch, &stats).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    send(&client, &namespace, &mut batch, &stats).await;
                    let _ = done.send(());
                }
                None => {
                    send(&client, &namespace, &mut batch, &stats).await;
                    return;
                }
            },
            _ = tick.tick() => send(&client, &namespace, &mut batch, &stats).await,
        }
    }
}

async fn send(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    batch: &mut Vec<MetricDatum>,
    stats: &PublisherStats,
) {
    while !batch.is_empty() {
        let chunk: Vec<MetricDatum> = batch.drain(..batch.len().min(MAX_DATUMS_PER_REQUEST)).collect();
        let n = chunk.len() as u64;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let sent = client.put_metric_data().namespace(namespace).set_metric_data(Some(chunk)).send().await;
        stats.pending.fetch_sub(n, Ordering::Relaxed);
        match sent {
            Ok(_) => {
                stats.published.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                let failed = stats.failed.fetch_add(n, Ordering::Relaxed) + n;
                tracing::error!(values = n, failed_total = failed, error = %DisplayErrorContext(&e), "PutMetricData failed");
            }
        }
    }
}
