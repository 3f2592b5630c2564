//! DuckDB running catalogue SQL over the same lake: the second engine of the
//! scoring tests and of the scorer benchmark (`#[path]`-included there).
//!
//! A step is `{"sql", "params": [{"ts": µs} | {"interval_us": n} | {"int": n} | {"text": s} | {"float": x}], "view"?}`:
//! with `view`, its result becomes a temporary table of that name (as the
//! scorer registers `sign_ins`); without, its rows are the output.

use std::path::Path;
use std::process::{Command, Output};

const SCRIPT: &str = r#"
import duckdb, datetime, json, os, resource, sys, time
lake, steps, runs, show = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "rows"
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
def param(p):
    if "ts" in p: return epoch + datetime.timedelta(microseconds=p["ts"])
    if "interval_us" in p: return datetime.timedelta(microseconds=p["interval_us"])
    if "text" in p: return p["text"]
    if "float" in p: return p["float"]
    return p["int"]
def cell(v):
    if isinstance(v, list): return sorted(str(x) for x in v if x is not None)
    if isinstance(v, datetime.datetime): return (v - epoch) // datetime.timedelta(microseconds=1)
    return v
for _ in range(runs):
    started = time.perf_counter()
    # No progress bar: it prints to stdout, which carries the results.
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""CREATE VIEW events AS SELECT * FROM read_parquet('{lake}/events/**/*.parquet',
        hive_partitioning = true, hive_types = {{'dt': VARCHAR, 'hour': VARCHAR}})""")
    for table in ("user_risk", "ip_risk", "asn_risk"):
        if os.path.isdir(f"{lake}/risk/{table}"):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/risk/{table}/*.parquet')")
    rows = 0
    for step in steps:
        params = [param(p) for p in step["params"]]
        if step.get("view"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {step['view']} AS " + step["sql"], params)
            continue
        result = con.execute(step["sql"], params).fetchall()
        rows += len(result)
        if show:
            print(json.dumps([[cell(v) for v in row] for row in result]))
    con.close()
    if not show:
        print(f"run {time.perf_counter() - started:.3f} s: {rows} rows")
if not show:
    print(f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
"#;

/// What the steps print: each result's rows as JSON (`rows`), or the time of
/// each of `runs` runs and the peak memory (`time`).
pub fn run(python: &str, lake_dir: &Path, steps: &serde_json::Value, runs: usize, rows: bool) -> Output {
    let mode = if rows { "rows" } else { "time" };
    Command::new(python)
        .args(["-c", SCRIPT, lake_dir.to_str().expect("a UTF-8 path"), &steps.to_string(), &runs.to_string(), mode])
        .output()
        .expect("python runs")
}
