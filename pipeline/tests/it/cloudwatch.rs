//! PutMetricData through the real `aws-sdk-cloudwatch` client (RPC v2 CBOR)
//! to moto on 127.0.0.1, behind the harness's CBOR front
//! (`scripts/cloudwatch-cbor-front.py`, started by `scripts/test`), and the
//! data points read back through the same client.

use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use pipeline::cloudwatch::{Publisher, PublisherStats};
use pipeline::metrics::{self as m, Metric};

/// (published, failed, dropped).
fn counts(stats: &PublisherStats) -> (u64, u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (stats.published.load(Relaxed), stats.failed.load(Relaxed), stats.dropped.load(Relaxed))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH")
        .expect("AWS_ENDPOINT_URL_CLOUDWATCH is not set: run the suite with ./scripts/test, which starts the front")
}

async fn client() -> aws_sdk_cloudwatch::Client {
    let _ = endpoint();
    pipeline::cloudwatch::client().await
}

async fn sum(client: &aws_sdk_cloudwatch::Client, namespace: &str, metric: &str, component: &str) -> (f64, f64) {
    // A window around now that the values' millisecond timestamps fall in.
    let now = chrono::Utc::now().timestamp();
    let (start, end) = (now - 3600, now + 300);
    let (start, end) = (DateTime::from_secs(start), DateTime::from_secs(end));
    let out = client
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(Dimension::builder().name(m::DIMENSION).value(component).build())
        .start_time(start)
        .end_time(end)
        .period(86400)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .unwrap();
    let points = out.datapoints();
    (points.iter().filter_map(|p| p.sum()).sum(), points.iter().filter_map(|p| p.sample_count()).sum())
}

#[tokio::test]
async fn published_metrics_are_read_back() {
    let client = client().await;
    let namespace = format!("authtrail-test/{}", std::process::id());
    let publisher = Publisher::start(client.clone(), &namespace);
    let t = chrono::Utc::now().timestamp_millis();
    for records in [40, 2] {
        publisher.record(
            m::component::LAKE_WRITER,
            t,
            &[Metric::count(&m::RECORDS, records), Metric::count(&m::DEAD_LETTERS, 1)],
        );
    }
    publisher.record(m::component::RISK_SCORER, t, &[Metric::new(&m::SCORING_TIME, 1.5)]);
    let stats = publisher.shutdown(Duration::from_secs(10)).await;
    assert_eq!(counts(&stats), (5, 0, 0));

    assert_eq!(sum(&client, &namespace, "Records", m::component::LAKE_WRITER).await, (42.0, 2.0));
    assert_eq!(sum(&client, &namespace, "DeadLetters", m::component::LAKE_WRITER).await, (2.0, 2.0));
    assert_eq!(sum(&client, &namespace, "ScoringTime", m::component::RISK_SCORER).await, (1.5, 1.0));
    // The dimension is part of the metric: nothing under another component.
    assert_eq!(sum(&client, &namespace, "Records", m::component::RISK_SCORER).await, (0.0, 0.0));
}

#[tokio::test]
async fn a_large_run_is_split_within_the_request_limit() {
    let client = client().await;
    let namespace = format!("authtrail-test-batch/{}", std::process::id());
    let publisher = Publisher::start(client.clone(), &namespace);
    let t = chrono::Utc::now().timestamp_millis();
    for _ in 0..2500 {
        publisher.record(m::component::LAKE_WRITER, t, &[Metric::count(&m::EVENTS, 1)]);
    }
    let stats = publisher.shutdown(Duration::from_secs(30)).await;
    assert_eq!(counts(&stats), (2500, 0, 0));
    assert!(stats.requests.load(std::sync::atomic::Ordering::Relaxed) >= 3, "1,000 values a request at most");
    assert_eq!(sum(&client, &namespace, "Events", m::component::LAKE_WRITER).await, (2500.0, 2500.0));
}

#[tokio::test]
async fn an_unreachable_endpoint_counts_failures_and_never_blocks() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = aws_sdk_cloudwatch::config::Builder::from(&pipeline::aws::load_config().await)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    let publisher = Publisher::with_limits(
        aws_sdk_cloudwatch::Client::from_conf(conf),
        "authtrail-test",
        4,
        Duration::from_secs(3600),
    );
    let started = std::time::Instant::now();
    for _ in 0..50 {
        publisher.record(
            m::component::RISK_SCORER,
            chrono::Utc::now().timestamp_millis(),
            &[Metric::count(&m::RISKY_IPS, 1)],
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1), "recording waited on the network");
    let stats = publisher.shutdown(Duration::from_secs(20)).await;
    // The test's runtime is single-threaded: the sender runs only once the
    // test awaits, so the queue of 4 takes 4 and drops 46; the 4 fail.
    assert_eq!(counts(&stats), (0, 4, 46));
}

#[tokio::test]
async fn unpublishable_values_are_dropped_not_sent() {
    // NaN, infinity and a value older than two weeks would fail a whole
    // request at CloudWatch: they are dropped and counted, the rest is sent.
    let client = client().await;
    let namespace = format!("authtrail-test-unpublishable/{}", std::process::id());
    let publisher = Publisher::start(client.clone(), &namespace);
    let now = chrono::Utc::now().timestamp_millis();
    publisher.record(m::component::RISK_SCORER, now, &[Metric::new(&m::SCORING_TIME, f64::NAN)]);
    publisher.record(m::component::RISK_SCORER, now, &[Metric::new(&m::SCORING_TIME, f64::INFINITY)]);
    publisher.record(m::component::RISK_SCORER, now - 15 * 86_400_000, &[Metric::count(&m::RISKY_IPS, 1)]);
    publisher.record(m::component::RISK_SCORER, now, &[Metric::count(&m::RISKY_IPS, 3)]);
    let stats = publisher.shutdown(Duration::from_secs(10)).await;
    assert_eq!(counts(&stats), (1, 0, 3));
    assert_eq!(sum(&client, &namespace, "RiskyIps", m::component::RISK_SCORER).await, (3.0, 1.0));
}
