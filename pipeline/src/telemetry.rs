//! CloudWatch Embedded Metric Format lines: metrics from the login path
//! without a network call. CloudWatch Logs turns each line into metrics.
//! Dimensions are the function name only: never a user or an IP.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// One metric value with its CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub value: f64,
}

impl Metric {
    pub fn count(name: &'static str, value: u64) -> Self {
        Metric { name, unit: "Count", value: value as f64 }
    }
    pub fn micros(name: &'static str, value: f64) -> Self {
        Metric { name, unit: "Microseconds", value }
    }
    pub fn seconds(name: &'static str, value: f64) -> Self {
        Metric { name, unit: "Seconds", value }
    }
}

/// Builds one EMF line (JSON, no trailing newline).
pub fn emf_line(namespace: &str, function: &str, timestamp_ms: i64, metrics: &[Metric]) -> String {
    let definitions: Vec<Value> = metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Function"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("Function".into(), Value::from(function));
    for m in metrics {
        root.insert(m.name.into(), json!(m.value));
    }
    Value::Object(root).to_string()
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

    #[test]
    fn emf_line_declares_every_metric_and_its_value() {
        let line = emf_line(
            "authtrail",
            "pre-auth",
            1_700_000_000_000,
            &[Metric::count("Invocations", 1), Metric::micros("HandlerLatency", 12.5)],
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
