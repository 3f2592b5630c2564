//! The files `infra/` checks read instead of building Rust: the metric
//! catalogue and the lake's column list, generated from their one owner in
//! code. A test fails when a file is out of date; `AUTHTRAIL_BLESS=1 cargo
//! test -p authtrail-pipeline --test it generated` rewrites them.

use std::path::PathBuf;

fn infra(name: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../infra/generated")
        .join(name)
}

fn check(name: &str, expected: &str) {
    let path = infra(name);
    if std::env::var_os("AUTHTRAIL_BLESS").is_some() {
        std::fs::write(&path, expected).unwrap();
        return;
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "{} is out of date with the code: run AUTHTRAIL_BLESS=1 cargo test -p authtrail-pipeline --test it generated",
        path.display()
    );
}

#[test]
fn metric_catalogue_file_is_current() {
    check("metrics.json", &pipeline::metrics::catalogue_json());
}

#[test]
fn events_schema_file_is_current() {
    let columns: Vec<_> = pipeline::event::arrow_schema()
        .fields()
        .iter()
        .map(|f| serde_json::json!({"name": f.name(), "arrow_type": f.data_type().to_string(), "nullable": f.is_nullable()}))
        .collect();
    let doc = serde_json::json!({
        "generated_by": "pipeline::event::arrow_schema (cargo test regenerates this file with AUTHTRAIL_BLESS=1)",
        "columns": columns,
        "partition_example": {"date": "2026-04-01", "hour": 7, "dir": pipeline::lake::partition_dir("2026-04-01", 7)},
    });
    check("events-schema.json", &(serde_json::to_string_pretty(&doc).unwrap() + "\n"));
}
