//! `authtrail report`, `authtrail sql` and `authtrail dashboard` on the lake
//! of a small demo run: output formats read back by other engines, exit
//! codes, and the dashboard opened in a real (headless) browser.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use super::{authtrail, stderr, stdout};

/// A demo's working directory (its lake is `data/demo/replay/lake`), made
/// once for every test here.
fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = authtrail(&dir, &["demo", "--users", "200", "--days", "3", "--score-every", "2h"], &[]);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        dir
    })
}

const LAKE: &str = "data/demo/replay/lake";

fn run(args: &[&str]) -> std::process::Output {
    authtrail(demo_dir(), args, &[])
}

fn json_rows(args: &[&str]) -> Vec<Value> {
    let out = run(&[args, &["--lake", LAKE, "--format", "json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn reports_are_listed_shown_and_run_in_every_format() {
    let list = stdout(&run(&["report", "list"]));
    for name in
        ["sign_ins_over_time", "failures_by_country", "impossible_travel", "user_audit_trail", "unverified_context"]
    {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{list}");
    }
    let show = stdout(&run(&["report", "show", "stuffing_candidates"]));
    assert!(show.contains("min_users        BIGINT    = 10"), "{show}");
    assert!(show.contains("\nSQL:\nWITH tries AS ("), "{show}");

    // The demo's three days, per day: every simulated sign-in try is counted once.
    let days = json_rows(&[
        "report",
        "run",
        "sign_ins_over_time",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-05",
        "-p",
        "bucket=day",
    ]);
    assert_eq!(days.len(), 3, "{days:?}");
    let tries: i64 = days.iter().map(|d| d["tries"].as_i64().unwrap()).sum();
    // A try is an attempt, or a failure report without one: at least every attempt.
    let sql = "SELECT count(DISTINCT event_id) AS n FROM events WHERE event_type = 'auth.attempt' \
               AND time >= '2026-03-02T00:00:00Z' AND time < '2026-03-05T00:00:00Z'";
    let attempts = json_rows(&["sql", sql])[0]["n"].as_i64().unwrap();
    assert!(attempts > 300 && tries >= attempts, "{tries} tries, {attempts} attempts");

    // The same report as a table, CSV, JSON and Parquet (read back by DuckDB) agree.
    let args = ["report", "run", "failures_by_country", "--since", "2026-03-02", "-p", "limit=8", "--lake", LAKE];
    let table = stdout(&run(&[&args[..], &["--format", "table"]].concat()));
    assert!(table.starts_with("country  tries  failures"), "{table}");
    assert!(table.ends_with("(8 rows)\n"), "{table}");
    let csv = stdout(&run(&[&args[..], &["--format", "csv"]].concat()));
    assert_eq!(
        csv.lines().next(),
        Some("country,tries,failures,denied,high_risk,blocked,users,ips,failure_ratio,failure_share")
    );
    assert_eq!(csv.lines().count(), 9);
    let json = json_rows(&args[..7]);
    assert_eq!(json.len(), 8);
    let first_csv: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first_csv[0], json[0]["country"].as_str().unwrap());
    assert_eq!(first_csv[2], json[0]["failures"].to_string());
    let parquet = demo_dir().join("countries.parquet");
    let out = run(&[&args[..], &["--format", "parquet", "--out", parquet.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let python = std::env::var("AUTHTRAIL_TEST_PYTHON")
        .expect("AUTHTRAIL_TEST_PYTHON is not set: run the suite with ./scripts/test, which installs DuckDB");
    let duck = Command::new(python)
        .args(["-c", "import duckdb, sys; duckdb.sql('SET enable_progress_bar = false'); print(duckdb.sql(f\"SELECT count(*), sum(failures), first(country ORDER BY failures DESC) FROM '{sys.argv[1]}'\").fetchone())", parquet.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(duck.status.success(), "{}", String::from_utf8_lossy(&duck.stderr));
    let failures: i64 = json.iter().map(|r| r["failures"].as_i64().unwrap()).sum();
    let expected = format!("(8, {failures}, '{}')\n", json[0]["country"].as_str().unwrap());
    assert_eq!(String::from_utf8_lossy(&duck.stdout), expected);
}

#[test]
fn sql_reads_the_lake_tables_and_standard_input() {
    let tables = json_rows(&[
        "sql",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    ]);
    let names: Vec<&str> = tables.iter().map(|t| t["table_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["asn_risk", "decisions", "events", "ip_risk", "user_risk"]);
    // The scorer's last run wrote the risk tables.
    let risky = json_rows(&["sql", "SELECT count(*) AS n FROM user_risk"]);
    assert!(risky[0]["n"].as_i64().unwrap() > 100, "{risky:?}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_authtrail"))
        .current_dir(demo_dir())
        .args(["sql", "-", "--lake", LAKE, "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT decision_level, count(*) AS n FROM decisions GROUP BY 1 ORDER BY 1")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("decision_level,n"));
    assert!(text.lines().any(|l| l.starts_with("low,")), "{text}");
    // CSV has no lists: a list column is written as its text.
    let reasons = run(&[
        "sql",
        "SELECT decision_reasons FROM decisions WHERE cardinality(decision_reasons) > 1 LIMIT 1",
        "--lake",
        LAKE,
        "--format",
        "csv",
    ]);
    assert!(reasons.status.success(), "{}", stderr(&reasons));
    let line = stdout(&reasons).lines().nth(1).unwrap_or_default().to_string();
    assert!(line.starts_with("\"[") && line.contains(", "), "{line}");
}

#[test]
fn exit_codes_tell_a_wrong_request_from_a_failed_run() {
    let wrong: [(&[&str], &str); 10] = [
        (&["report", "run", "no_such_report"], "no report named \"no_such_report\""),
        (
            &["report", "run", "failures_by_country", "-p", "limit=many"],
            "parameter limit: \"many\" is not a whole number",
        ),
        (
            &["report", "run", "failures_by_country", "-p", "colour=red"],
            "parameter colour: unknown; this report takes since, until, limit",
        ),
        (
            &["report", "run", "failures_by_country", "--since", "last tuesday"],
            "parameter since: \"last tuesday\" is not a time",
        ),
        (&["report", "run", "riskiest_users", "--since", "-1d"], "riskiest_users has no period"),
        (
            &["report", "run", "sign_ins_over_time", "-p", "bucket=week"],
            "parameter bucket: \"week\" is not one of hour, day",
        ),
        (&["report", "run", "user_audit_trail"], "parameter username: no value given and no default"),
        (&["report", "run", "failures_by_country", "--since", "-1d", "--until", "-2d"], "the period is empty"),
        (&["sql", "SELECT * FROM nowhere"], "nowhere"),
        (&["sql", "DROP TABLE events"], "DDL not supported"),
    ];
    for (args, message) in wrong {
        let out = run(&[args, &["--lake", LAKE]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} printed a result");
    }
    // A lake with a broken file: the request is right, reading fails.
    let broken = tempfile::tempdir().unwrap();
    let part = broken.path().join("events/dt=2026-03-02/hour=00");
    std::fs::create_dir_all(&part).unwrap();
    std::fs::write(part.join("broken.parquet"), b"not parquet at all").unwrap();
    let lake = broken.path().to_str().unwrap();
    let out = authtrail(demo_dir(), &["sql", "SELECT count(*) FROM events", "--lake", lake], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: query: "), "{}", stderr(&out));
    let html = broken.path().join("dashboard.html");
    let out = authtrail(demo_dir(), &["dashboard", "--lake", lake, "--out", html.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: dashboard: report sign_ins_over_time: "), "{}", stderr(&out));
    assert!(!html.exists());
    // A failed run leaves an existing --out file as it was.
    let kept = broken.path().join("kept.csv");
    std::fs::write(&kept, "earlier result\n").unwrap();
    let args =
        ["sql", "SELECT count(*) FROM events", "--lake", lake, "--format", "csv", "--out", kept.to_str().unwrap()];
    assert_eq!(authtrail(demo_dir(), &args, &[]).status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "earlier result\n");
    // An empty result is a success.
    let none = run(&["report", "run", "user_audit_trail", "-p", "username=nobody", "--lake", LAKE, "--format", "csv"]);
    assert_eq!(none.status.code(), Some(0), "{}", stderr(&none));
    assert_eq!(stdout(&none).lines().count(), 1, "the header alone");
}

#[test]
fn the_dashboard_renders_in_a_real_browser() {
    let html = demo_dir().join("dashboard.html");
    let out = run(&["dashboard", "--lake", LAKE, "--out", html.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        text.contains("Data from <b>2026-02-26 00:00 UTC</b> to <b>2026-03-05 00:00 UTC</b>"),
        "the lake's last week"
    );
    assert!(text.contains(" · generated 20"));
    // Self-contained: nothing is fetched to view it.
    for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!text.contains(remote), "the dashboard loads {remote}…");
    }

    let chromium = std::env::var("AUTHTRAIL_TEST_CHROMIUM").expect(
        "AUTHTRAIL_TEST_CHROMIUM is not set: run the suite with ./scripts/test, which installs Debian's chromium",
    );
    let url = format!("file://{}", html.display());
    let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"];
    let dom = Command::new(&chromium)
        .args(headless)
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom", &url])
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let body = dom_text.split("<body").nth(1).and_then(|b| b.split('>').next()).unwrap_or_default();
    assert!(body.contains("data-charts=\"3\""), "three charts: <body{body}>");
    assert!(body.contains("data-rendered=\"3\""), "every chart drew its marks: <body{body}>");
    assert!(body.contains("data-errors=\"\""), "no script or console errors: <body{body}>");
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(!log.lines().any(|l| l.contains(":CONSOLE") && l.contains("rror")), "console errors:\n{log}");
    for table in ["Riskiest users now", "Riskiest IPs now", "Recent impossible travel"] {
        assert!(dom_text.contains(table), "{table} missing");
    }

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    let shot = Command::new(&chromium)
        .args(headless)
        .args(["--window-size=1100,2400", &format!("--screenshot={}", png.display()), &url])
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000, "a screenshot of {} bytes", bytes.len());
    eprintln!("dashboard screenshot: {}", png.display());
}
