//! `authtrail demo`: the whole pipeline on one machine, with figures. A
//! simulated user pool with attacks in it (`authtrail simulate`) runs through
//! the real triggers, local stream, lake writer and scorer (`authtrail
//! replay`), and the decisions are held against the simulator's labels
//! (`authtrail evaluate`). No AWS, no network, nothing installed.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use functions::evaluate::{evaluate, table};
use functions::replay::Peak;
use functions::simulate::{SimConfig, simulate};
use pipeline::config::Config;
use pipeline::context::ContextVerifier;

use super::progress::Bar;
use super::simulate::{extract_enricher, sim_geo};

/// The demo backend's signing secret; a real deployment sets its own.
const DEMO_SECRET: &[u8] = b"authtrail-demo-secret";
const POOL: &str = "eu-west-1_DemoPool1";
const CLIENT: &str = "3n4b5urk1ft4fl3mg5e62d9ado";
const START: &str = "2026-03-02T00:00:00Z";
/// Marks `<data_dir>/demo` as the demo's own, so that it may be emptied.
const MARKER: &str = ".authtrail-demo";

#[derive(clap::Args)]
pub struct Args {
    /// Simulated users.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Simulated days (a slow takeover needs at least 4).
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The scorer re-runs every this much simulated time, as its schedule does in production
    /// (more often catches campaigns sooner and takes longer).
    #[arg(long, default_value = "15m", value_parser = super::replay::parse_duration)]
    score_every: chrono::Duration,
    /// Policy file (TOML); default: `risk.policy_file` from configuration, else the built-in policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Delete the demo's directory (`<data_dir>/demo`) first, the simulated pool included.
    #[arg(long)]
    fresh: bool,
}

fn prepare(dir: &Path, fresh: bool) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            anyhow::bail!("{} is not empty and was not made by authtrail demo; move it away", dir.display());
        }
        if fresh {
            std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by authtrail demo; `authtrail demo --fresh` empties it\n")?;
    Ok(())
}

/// Lines in a file, counting as `BufRead` does.
struct CountLines<W> {
    inner: W,
    lines: usize,
    bar: Bar,
}

impl<W: Write> Write for CountLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        self.bar.set(self.lines);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn simulate_stage(args: &Args, file: &Path) -> anyhow::Result<()> {
    let cfg = SimConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        start: chrono::DateTime::parse_from_rfc3339(START)?.to_utc(),
        user_pool_id: POOL.into(),
        client_id: CLIENT.into(),
        secret: DEMO_SECRET.to_vec(),
    };
    let out = std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?;
    // About five lines per user and day; the bar is a guide, not a promise.
    let bar = Bar::new("simulate", args.users * args.days as usize * 5 / 2);
    let mut out = CountLines { inner: BufWriter::with_capacity(1 << 20, out), lines: 0, bar };
    let summary = simulate(&cfg, &sim_geo()?, &mut out)?;
    out.flush()?;
    let attacks: usize = summary.by_kind.iter().filter(|(k, _)| !k.starts_with("benign")).map(|(_, n)| n).sum();
    out.bar.finish(&format!(
        "{} users × {} days: {} lines ({} pre-auth, {} post-auth, {} backend failure reports; {} attack attempts)",
        args.users, args.days, summary.lines, summary.pre_auth, summary.post_auth, summary.backend_failures, attacks
    ));
    Ok(())
}

fn print_peaks(what: &str, peaks: &[Peak]) {
    println!("\nriskiest {what} (the scorer's highest score for each during the replay):");
    if peaks.is_empty() {
        println!("  none scored above 0");
    }
    for p in peaks {
        println!("  {:>3}  {:<34} {}  {}", p.score, p.key, p.at.format("%Y-%m-%d %H:%M"), p.reasons.join(", "));
    }
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    if args.users == 0 || args.days == 0 {
        anyhow::bail!("--users and --days must be at least 1");
    }
    let dir = config.data_dir.join("demo");
    prepare(&dir, args.fresh)?;
    let (simulated, decisions, work) = (dir.join("simulated.jsonl"), dir.join("decisions.jsonl"), dir.join("replay"));
    let policy = functions::setup::policy_with(&config, args.policy.as_deref())?;
    let policy_for_reports = policy.policy.clone();
    println!(
        "authtrail demo: a simulated pool with attacks → PreAuthentication / PostAuthentication triggers → \
         local stream → lake writer → scorer every {} min → decisions, evaluated\n",
        args.score_every.num_minutes()
    );
    let enricher = extract_enricher(&config)?;
    for line in enricher.describe() {
        println!("  {line}");
    }
    println!(
        "  policy: {} ({:?} mode, deny at {})\n",
        policy.policy.version,
        policy.policy.mode,
        policy.policy.deny_level.as_str()
    );

    simulate_stage(&args, &simulated)?;

    let verifier = ContextVerifier::new(vec![DEMO_SECRET.to_vec()], config.context.max_age_secs);
    let replayer = super::replay::open_replayer(&config, &work, enricher, verifier, policy, args.score_every)?;
    let mut out = BufWriter::new(
        std::fs::File::create(&decisions).with_context(|| format!("cannot create {}", decisions.display()))?,
    );
    let mut bar = Bar::new("replay", 0);
    let summary = replayer
        .run(&simulated, &mut out, |done, all| {
            bar.set_total(all);
            bar.set(done);
        })
        .await?;
    drop(out);
    let lake_dir = work.join("lake");
    let files = replayer.consumer.lake.event_files().await?.len();
    bar.finish(&format!(
        "{} events through the triggers: {} attempts decided, {} at or above the deny level",
        summary.pre_auth + summary.post_auth + summary.backend_failures,
        summary.pre_auth,
        summary.would_deny
    ));
    println!(
        "  {:<9} {} Parquet files (one per hour); scorer ran {} times, {:.1} s in all ({:.0} ms a run)",
        "lake",
        files,
        summary.scorer_runs,
        summary.scoring_seconds,
        summary.scoring_seconds * 1000.0 / summary.scorer_runs.max(1) as f64
    );
    if !summary.rejected.is_empty() || !replayer.handler.spill.lines().is_empty() {
        anyhow::bail!(
            "{} lines rejected and {} events spilled: the simulator and the triggers disagree (a bug)",
            summary.rejected.len(),
            replayer.handler.spill.lines().len()
        );
    }

    let open =
        |p: &Path| std::fs::File::open(p).map(BufReader::new).with_context(|| format!("cannot read {}", p.display()));
    let evaluation = evaluate(open(&simulated)?, open(&decisions)?)?;
    std::fs::write(dir.join("evaluation.json"), serde_json::to_vec_pretty(&evaluation)?)?;
    println!("\nhow well the policy caught the simulated attacks (blocked = denied, or would be in audit mode):\n");
    print!("{}", table(&evaluation));

    print_peaks("users", &summary.peaks.users(5));
    print_peaks("IPs", &summary.peaks.ips(5));

    let lake = pipeline::lake::Lake::local(&lake_dir)?;
    let until = queries::reports::now_for(&lake).await;
    let since = until - chrono::Duration::days(args.days.into());
    let dashboard = dir.join("dashboard.html");
    super::dashboard::write(&lake, since, until, &policy_for_reports, &dashboard).await?;

    println!("\nwhere things are:");
    println!("  Parquet lake   {}  (events/dt=…/hour=…/*.parquet)", lake_dir.display());
    println!("  decisions      {}", decisions.display());
    println!("  evaluation     {}", dir.join("evaluation.json").display());
    println!(
        "  simulated pool {}  (replay it: authtrail replay {} --decisions …)",
        simulated.display(),
        simulated.display()
    );
    println!("  risk snapshots {}", work.join("snapshots").display());
    println!("  dashboard      {}  (open it in a browser)", dashboard.display());
    println!("\nask the lake (authtrail report list shows every report):");
    let l = lake_dir.display();
    println!("  authtrail report run failures_by_country --lake {l}");
    println!("  authtrail report run impossible_travel --lake {l}");
    println!("  authtrail sql \"SELECT geo_country, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC\" --lake {l}");
    Ok(ExitCode::SUCCESS)
}
