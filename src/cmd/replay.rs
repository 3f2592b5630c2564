//! `authtrail replay`: the backtest. "What would this policy have blocked
//! last month?"

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use functions::replay::{ReplaySetup, Replayer};
use pipeline::config::Config;
use pipeline::context::ContextVerifier;
use pipeline::geo::Enricher;
use pipeline::risk::CompiledPolicy;

#[derive(clap::Args)]
pub struct Args {
    /// JSON lines `{"receivedAt": RFC 3339, "event": <raw Cognito trigger event>}`.
    file: PathBuf,
    /// Policy file (TOML); default: `risk.policy_file` from configuration, else the built-in policy.
    /// `AUTHTRAIL_POLICY__…` variables override it either way.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Where to write one JSON line per PreAuthentication event.
    #[arg(long)]
    decisions: PathBuf,
    /// Re-run the scorer every this much event time (`300s`, `5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    score_every: chrono::Duration,
    /// Work directory for the replay's stream, lake and snapshots (emptied first);
    /// default `<data_dir>/replay`.
    #[arg(long)]
    work: Option<PathBuf>,
}

/// `90s`, `5m`, `2h`, `1d` (`queries::catalog::parse_duration`), more than
/// 0 and at most a year.
pub fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    let d = queries::catalog::parse_duration(s.trim())
        .ok_or_else(|| format!("{s:?}: expected a whole number and a unit; the unit must be s, m, h or d (e.g. 5m)"))?;
    if d > chrono::Duration::zero() && d <= chrono::Duration::days(366) {
        Ok(d)
    } else {
        Err(format!("{s:?}: must be more than 0 and at most a year"))
    }
}

/// The replay's own directory: emptied only when an earlier replay made it
/// (its marker is there), so a mistyped `--work` never deletes a lake.
const WORK_MARKER: &str = ".authtrail-replay";

fn prepare_work(work: &Path) -> anyhow::Result<()> {
    if work.exists() {
        let empty = std::fs::read_dir(work)?.next().is_none();
        if !empty && !work.join(WORK_MARKER).exists() {
            anyhow::bail!(
                "{} is not empty and was not made by authtrail replay; choose another --work directory",
                work.display()
            );
        }
        std::fs::remove_dir_all(work).with_context(|| format!("cannot empty {}", work.display()))?;
    }
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    std::fs::write(work.join(WORK_MARKER), "made by authtrail replay; emptied by the next one\n")?;
    Ok(())
}

/// A replayer over `work` (emptied first, see [`prepare_work`]) with the
/// stream and lake settings from configuration.
pub fn open_replayer(
    config: &Config,
    work: &Path,
    enricher: Enricher,
    verifier: ContextVerifier,
    policy: CompiledPolicy,
    score_every: chrono::Duration,
) -> anyhow::Result<Replayer> {
    prepare_work(work)?;
    Ok(Replayer::open(
        work,
        ReplaySetup {
            enricher: Arc::new(enricher),
            verifier,
            policy: Arc::new(policy),
            settings: functions::setup::settings(config),
            stream_shards: config.stream.local_shards,
            batch_records: config.lake.batch_records,
            score_every,
        },
    )?)
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let policy = functions::setup::policy_with(&config, args.policy.as_deref())?;
    let work = args.work.unwrap_or_else(|| config.data_dir.join("replay"));
    let enricher = super::simulate::extract_enricher(&config)?;
    if config.city_paths().is_none() {
        eprintln!(
            "warning: no GeoIP database is configured or installed; using the embedded extract, which knows a \
             few networks in the simulator's cities (other addresses get no place, so place signals cannot \
             fire for them). Run `authtrail geoip install` or set geoip.city."
        );
    }
    for line in enricher.describe() {
        println!("  {line}");
    }
    let verifier = functions::setup::verifier(&config).await?;
    let replayer = open_replayer(&config, &work, enricher, verifier, policy, args.score_every)?;
    let out = std::fs::File::create(&args.decisions)
        .with_context(|| format!("cannot create {}", args.decisions.display()))?;
    let mut out = BufWriter::new(out);
    let terminal = std::io::stderr().is_terminal();
    let summary = replayer
        .run(&args.file, &mut out, |done, all| {
            if terminal && (done % 1000 == 0 || done == all) {
                eprint!("\r  replayed {done}/{all} events");
            }
        })
        .await?;
    if terminal {
        eprintln!();
    }

    let policy = &replayer.handler.policy.policy;
    println!(
        "replayed {} of {} lines ({} pre-auth, {} post-auth) from {} to {} with policy {} ({:?} mode)",
        summary.pre_auth + summary.post_auth,
        summary.lines,
        summary.pre_auth,
        summary.post_auth,
        summary.first.map_or("-".into(), |t| t.to_rfc3339()),
        summary.last.map_or("-".into(), |t| t.to_rfc3339()),
        policy.version,
        policy.mode,
    );
    println!(
        "  {} denied, {} at or above the deny level ({}); scorer ran {} times ({:.1} s); {:.1} s in all",
        summary.denied,
        summary.would_deny,
        policy.deny_level.as_str(),
        summary.scorer_runs,
        summary.scoring_seconds,
        summary.seconds
    );
    println!("  decisions: {}", args.decisions.display());
    println!("  stream, lake and snapshots: {}", work.display());
    let spilled = replayer.handler.spill.lines();
    if !summary.rejected.is_empty() || !spilled.is_empty() {
        let path = args.decisions.with_extension("rejected.jsonl");
        let mut f = BufWriter::new(std::fs::File::create(&path)?);
        for r in &summary.rejected {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
        }
        for line in &spilled {
            writeln!(f, "{line}")?;
        }
        f.flush()?;
        eprintln!(
            "warning: {} lines rejected and {} events spilled; each is in {} with the reason",
            summary.rejected.len(),
            spilled.len(),
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
