//! Where metrics go: CloudWatch Embedded Metric Format lines (the login
//! path and every Lambda function: no network call; CloudWatch Logs turns
//! each line into metrics), PutMetricData ([`crate::cloudwatch`], for
//! processes outside Lambda), or nowhere. What the metrics are is
//! [`crate::metrics`]'s. Dimensions are the component only: never a user
//! or an IP.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::cloudwatch::Publisher;
use crate::metrics::DIMENSION;
pub use crate::metrics::Metric;

/// Builds one EMF line (JSON, no trailing newline).
pub fn emf_line(namespace: &str, function: &str, timestamp_ms: i64, metrics: &[Metric]) -> String {
    let definitions: Vec<Value> = metrics.iter().map(|m| json!({"Name": m.name(), "Unit": m.unit()})).collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert(DIMENSION.into(), Value::from(function));
    for m in metrics {
        root.insert(m.name().into(), json!(m.value));
    }
    Value::Object(root).to_string()
}

/// Where a component's metrics go (`metrics.sink`).
pub enum MetricsSink {
    /// EMF lines in the metric namespace.
    Emf {
        namespace: String,
        out: LineOut,
    },
    /// PutMetricData in the background.
    CloudWatch(Publisher),
    Off,
}

impl MetricsSink {
    /// Records `metrics` of `component` (the `Function` dimension) at
    /// `timestamp_ms`; never waits on the network.
    pub fn record(&self, component: &str, timestamp_ms: i64, metrics: &[Metric]) {
        match self {
            MetricsSink::Emf { namespace, out } => out.write(emf_line(namespace, component, timestamp_ms, metrics)),
            MetricsSink::CloudWatch(publisher) => publisher.record(component, timestamp_ms, metrics),
            MetricsSink::Off => {}
        }
    }

    /// The EMF lines kept in memory (tests), else none.
    pub fn lines(&self) -> Vec<String> {
        match self {
            MetricsSink::Emf { out, .. } => out.lines(),
            _ => Vec::new(),
        }
    }

    /// Sends what a CloudWatch sink holds, at most `timeout`; stops it.
    pub async fn close(self, timeout: std::time::Duration) {
        if let MetricsSink::CloudWatch(publisher) = self {
            let stats = publisher.shutdown(timeout).await;
            let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            let (failed, dropped) = (load(&stats.failed), load(&stats.dropped));
            if failed + dropped > 0 {
                tracing::warn!(
                    failed,
                    dropped,
                    published = load(&stats.published),
                    "some CloudWatch metric values were lost"
                );
            }
        }
    }
}

/// Where lines go: EMF metric lines and spill lines.
#[derive(Debug, Default)]
pub enum LineOut {
    /// Standard output: what Lambda ships to CloudWatch Logs.
    Stdout,
    /// Dropped (the CLI, unless asked).
    #[default]
    Discard,
    /// Kept in memory (tests, the demo's summary).
    Memory(Mutex<Vec<String>>),
}

impl LineOut {
    pub fn memory() -> Self {
        LineOut::Memory(Mutex::new(Vec::new()))
    }

    pub fn write(&self, line: String) {
        match self {
            LineOut::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
            LineOut::Discard => {}
            LineOut::Memory(lines) => lines.lock().unwrap_or_else(|e| e.into_inner()).push(line),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        match self {
            LineOut::Memory(lines) => lines.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    #[test]
    fn emf_line_declares_every_metric_and_its_value() {
        let line = emf_line(
            "authtrail",
            "pre-auth",
            1_700_000_000_000,
            &[Metric::count(&metrics::INVOCATIONS, 1), Metric::new(&metrics::HANDLER_LATENCY, 12.5)],
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "authtrail");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "Function");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"], "Microseconds");
        assert_eq!(v["Invocations"], 1.0);
        assert_eq!(v["HandlerLatency"], 12.5);
        assert_eq!(v["Function"], "pre-auth");
        assert!(!line.contains('\n'));
    }
}
