#![recursion_limit = "256"]
//! Every catalogue report over the generated lake (the scorer benchmark's),
//! with its default parameters as of the lake's end: median, min and max
//! wall time of runs, rows returned; and one report over a single day, to
//! show what partition pruning saves.
//!
//!   cargo bench -p authtrail-queries --bench reports           # 10 M events
//!   AUTHTRAIL_BENCH_EVENTS=1000000 cargo bench -p authtrail-queries --bench reports
//!
//!   AUTHTRAIL_BENCH_REPORTS=impossible_travel,user_audit_trail cargo bench -p authtrail-queries --bench reports
//!
//! Under `cargo test --benches` it runs once on 5 000 events, as a smoke test.

use std::time::Instant;

use chrono::Duration;
use pipeline::lake::Lake;
use pipeline::lake::risk_tables;
use pipeline::risk::Scoring;
use pipeline::risk::snapshot::SnapshotData;
use queries::LakeSession;
use queries::reports;

mod generated;

fn main() {
    let (n, runs) = generated::size();
    let lake_dir = generated::lake(n);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let lake = Lake::local(&lake_dir).unwrap();
        let now = generated::end();
        // The risk tables: a user per ten events' worth, as a scorer would leave them.
        let users = (0..n / 10).map(|u| (format!("pool/user-{u:07}"), Default::default())).collect();
        risk_tables::write(&lake, &SnapshotData { version: "bench".into(), built: now, users, ..Default::default() })
            .await
            .unwrap();
        let session = LakeSession::open(&lake).await.unwrap();
        println!("reports over {n} events (30 days, a file per hour), defaults as of {now}; {runs} runs each:");
        println!("  {:<28} {:>7} {:>9} {:>9} {:>9}", "report", "rows", "median s", "min s", "max s");
        let one_day = [("since".to_string(), (now - Duration::days(1)).to_rfc3339())];
        let cases = reports::all().into_iter().map(|q| (q.name.clone(), q, vec![])).chain(std::iter::once((
            "failures_by_country (1 day)".to_string(),
            reports::report("failures_by_country").unwrap(),
            one_day.to_vec(),
        )));
        // `AUTHTRAIL_BENCH_REPORTS=a,b` runs those reports alone.
        let only: Option<Vec<String>> =
            std::env::var("AUTHTRAIL_BENCH_REPORTS").ok().map(|v| v.split(',').map(str::to_string).collect());
        let cases = cases.filter(|(label, _, _)| only.as_ref().is_none_or(|o| o.contains(label)));
        for (label, q, given) in cases {
            let mut given = given;
            if q.name == "user_audit_trail" {
                given.push(("username".into(), "user-0000042".into()));
            }
            let values = reports::values(&q, &given, now).unwrap();
            let mut times = Vec::new();
            let mut rows = 0;
            for _ in 0..runs {
                let started = Instant::now();
                let df = reports::dataframe(&session, &q, &values, &Scoring::default(), pipeline::risk::Level::High)
                    .await
                    .unwrap();
                rows = df.collect().await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>();
                times.push(started.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  {label:<28} {rows:>7} {:>9.3} {:>9.3} {:>9.3}",
                times[times.len() / 2],
                times[0],
                times[times.len() - 1]
            );
        }
    });
}
