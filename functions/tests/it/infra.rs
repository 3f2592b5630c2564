//! The environment `infra/template.yaml` gives the functions is a
//! configuration they accept: a key the code does not know, or a value it
//! rejects, would fail every cold start of the deployed stack.

use std::path::PathBuf;

use pipeline::config::{Config, StreamKind};

fn template() -> String {
    let dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    std::fs::read_to_string(dir.join("../infra/template.yaml")).unwrap()
}

/// `AUTHTRAIL…: value` lines of the template (Globals and every function),
/// with intrinsics (`!Ref`, `!Sub`, `!If`) replaced by a value of the shape
/// they resolve to.
fn variables(template: &str) -> Vec<(String, String)> {
    template
        .lines()
        .filter_map(|line| {
            let (key, value) = line.trim().split_once(": ")?;
            key.starts_with("AUTHTRAIL").then(|| (key.to_string(), value.trim().to_string()))
        })
        .map(|(key, value)| {
            let value = if !value.starts_with('!') {
                value
            } else if key.ends_with("_LOCATION") {
                "s3://authtrail-prod-lake/snapshots".into()
            } else if key.ends_with("_ARN") {
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:authtrail/prod/context-secret-AbCdEf".into()
            } else if key.ends_with("__MODE") {
                "audit".into()
            } else {
                "authtrail-prod-value".into()
            };
            (key, value)
        })
        .collect()
}

#[test]
fn the_stacks_environment_is_a_valid_configuration_and_policy() {
    let vars = variables(&template());
    for key in [
        "AUTHTRAIL__STREAM__KIND",
        "AUTHTRAIL__STREAM__KINESIS_STREAM",
        "AUTHTRAIL__RISK__SNAPSHOT_LOCATION",
        "AUTHTRAIL__CONTEXT__SECRET_ARN",
        "AUTHTRAIL__LAKE__LOCATION",
        "AUTHTRAIL__METRICS__NAMESPACE",
        "AUTHTRAIL_POLICY__MODE",
        "AUTHTRAIL__GEOIP__CITY",
    ] {
        assert!(vars.iter().any(|(k, _)| k == key), "{key} is not in the template");
    }
    let config = Config::load(None, vars.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.stream.kind, StreamKind::Kinesis);
    assert!(config.context.secret_arn.is_some());
    assert_eq!(config.metrics.sink, None, "Lambda's default, EMF");
    let policy = pipeline::risk::Policy::load(None, vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.policy.mode, pipeline::risk::Mode::Audit);
}

#[test]
fn an_unknown_key_in_the_template_would_fail() {
    // The check above can fail: a key the code does not know is an error.
    let mut vars = variables(&template());
    vars.push(("AUTHTRAIL__STREAM__KINESIS_STRAEM".into(), "x".into()));
    let err = Config::load(None, vars).unwrap_err().to_string();
    assert!(err.contains("kinesis_straem"), "{err}");
}
