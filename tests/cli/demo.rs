//! `authtrail demo` end to end at a small size: simulate → triggers →
//! stream → lake → scorer → evaluation, meeting the detection targets.

use functions::evaluate::{Evaluation, target_misses};
use serde_json::Value;

use super::{authtrail, stderr, stdout};

fn evaluation(dir: &std::path::Path) -> Evaluation {
    let v: Value = serde_json::from_slice(&std::fs::read(dir.join("data/demo/evaluation.json")).unwrap()).unwrap();
    serde_json::from_value(v).unwrap()
}

#[test]
fn demo_runs_end_to_end_meets_the_targets_and_reruns_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["demo", "--users", "1000", "--days", "5", "--score-every", "1h"];
    let out = authtrail(tmp.path(), &args, &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for expected in [
        "simulate  1000 users × 5 days",
        "replay ",
        "Parquet files (one per hour); scorer ran",
        "credential_stuffing",
        "targets: all met",
        "riskiest users",
        "riskiest IPs",
        "data/demo/replay/lake",
        "data/demo/dashboard.html",
        "authtrail report run failures_by_country --lake ./data/demo/replay/lake",
    ] {
        assert!(text.contains(expected), "demo output lacks {expected:?}:\n{text}");
    }
    let e = evaluation(tmp.path());
    assert_eq!(target_misses(&e), Vec::<String>::new(), "{text}");
    assert_eq!(e.undecided, 0);
    let kinds: Vec<&str> = e.attacks.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["anonymizer", "brute_force", "credential_stuffing", "password_spraying", "takeover_slow", "takeover_travel"]
    );
    // The lake is there for reports, a file per hour, and DataFusion reads it.
    let lake = tmp.path().join("data/demo/replay/lake/events");
    let files = walk(&lake).into_iter().filter(|p| p.extension().is_some_and(|x| x == "parquet")).count();
    assert_eq!(files, 5 * 24, "one compacted file per hour of the simulated period");
    assert!(std::fs::read_to_string(tmp.path().join("data/demo/decisions.jsonl")).unwrap().lines().count() > 1000);
    let dashboard = std::fs::read_to_string(tmp.path().join("data/demo/dashboard.html")).unwrap();
    assert!(
        dashboard.contains("Data from <b>2026-03-02 00:00 UTC</b> to <b>2026-03-07 00:00 UTC</b>"),
        "the five simulated days"
    );

    // Again over the same directory, smaller: it replaces the earlier run.
    let small = ["demo", "--users", "60", "--days", "4", "--score-every", "2h"];
    let again = authtrail(tmp.path(), &small, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("simulate  60 users × 4 days"));
    let files: Vec<_> = walk(&lake).into_iter().filter(|p| p.extension().is_some_and(|x| x == "parquet")).collect();
    // 60 users leave some hours empty; none of the earlier run's fifth day is left.
    assert!(!files.is_empty() && files.len() <= 4 * 24, "{}", files.len());
    assert!(!lake.join("dt=2026-03-06").exists(), "the earlier run's lake is gone");
    let fresh = authtrail(tmp.path(), &[&small[..], &["--fresh"]].concat(), &[]);
    assert!(fresh.status.success(), "{}", stderr(&fresh));

    // A directory the demo did not make is left alone.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("data/demo")).unwrap();
    std::fs::write(other.path().join("data/demo/precious.txt"), "mine").unwrap();
    let refused = authtrail(other.path(), &small, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("was not made by authtrail demo"), "{}", stderr(&refused));
    assert!(other.path().join("data/demo/precious.txt").exists());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
