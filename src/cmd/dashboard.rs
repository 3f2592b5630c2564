//! `authtrail dashboard`: runs the dashboard's reports over the lake and
//! writes the page `queries::dashboard` draws.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use pipeline::config::Config;
use queries::LakeSession;
use queries::catalog::Param;
use queries::dashboard::{Data, Rows, render};
use queries::reports;

use super::report::LakeArg;

#[derive(clap::Args)]
pub struct Args {
    /// Start of the period: RFC 3339, YYYY-MM-DD[THH:MM], now, or -7d / -24h (default -7d).
    #[arg(long, default_value = "-7d", allow_hyphen_values = true)]
    since: String,
    /// End of the period (exclusive), in the same forms (default now).
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    until: String,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    lake: LakeArg,
}

struct Context<'a> {
    session: &'a LakeSession,
    now: DateTime<Utc>,
    period: Vec<(String, String)>,
    policy: &'a pipeline::risk::Policy,
}

impl Context<'_> {
    /// Runs report `name` with the dashboard's period (when it has one) and `extra`.
    async fn report(&self, name: &str, extra: &[(&str, String)]) -> anyhow::Result<Rows> {
        let q = reports::report(name)?;
        let mut given: Vec<(String, String)> =
            self.period.iter().filter(|(k, _)| q.params.iter().any(|p| p.name == *k)).cloned().collect();
        given.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let values = reports::values(&q, &given, self.now)?;
        let run = async {
            reports::dataframe(self.session, &q, &values, &self.policy.scoring, self.policy.deny_level)
                .await?
                .collect()
                .await
                .map_err(Into::into)
        };
        let batches: Result<_, queries::QueryError> = run.await;
        Ok(Rows { batches: batches.with_context(|| format!("report {name}"))? })
    }
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let lake = args.lake.open(&config)?;
    let now = reports::now_for(&lake).await;
    let parse = |flag: &str, v: &str| match Param::parse(queries::catalog::ParamType::Timestamp, v, now) {
        Ok(Param::Timestamp(t)) => Ok(t),
        Ok(_) => unreachable!("a TIMESTAMP parses to a timestamp"),
        Err(e) => Err(anyhow::anyhow!("--{flag}: {e}")),
    };
    let (since, until) = (parse("since", &args.since)?, parse("until", &args.until)?);
    anyhow::ensure!(since < until, "--since {} is not before --until {}", since.to_rfc3339(), until.to_rfc3339());
    let policy = functions::setup::policy_with(&config, None)?.policy;
    // The request was right: a failure now is the lake's or the disk's (exit 1).
    let data = match write(&lake, since, until, &policy, &args.out).await {
        Ok(data) => data,
        Err(e) => {
            eprintln!("error: dashboard: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "dashboard {} ({} to {}, {} time buckets, {} countries, {} risky users, {} risky IPs, {} travel incidents)",
        args.out.display(),
        since.to_rfc3339(),
        until.to_rfc3339(),
        data.over_time.len(),
        data.by_country.len(),
        data.users.len(),
        data.ips.len(),
        data.travel.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs the dashboard's reports over `lake` for [since, until) and writes
/// the page to `out`; returns what it showed.
pub async fn write(
    lake: &pipeline::lake::Lake,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    policy: &pipeline::risk::Policy,
    out: &Path,
) -> anyhow::Result<Data> {
    let session = LakeSession::open(lake).await?;
    let cx = Context {
        session: &session,
        now: until,
        period: vec![("since".into(), since.to_rfc3339()), ("until".into(), until.to_rfc3339())],
        policy,
    };
    let spinner = super::progress::Spinner::start("building the dashboard".into());
    // Hours up to two weeks (336 points), days beyond.
    let bucket = if until - since > chrono::Duration::days(14) { "day" } else { "hour" };
    let data = Data {
        over_time: cx.report("sign_ins_over_time", &[("bucket", bucket.into())]).await?,
        bucket,
        by_country: cx.report("failures_by_country", &[("limit", "15".into())]).await?,
        distribution: cx.report("risk_distribution", &[]).await?,
        users: cx.report("riskiest_users", &[("limit", "10".into())]).await?,
        ips: cx.report("riskiest_ips", &[("limit", "10".into())]).await?,
        travel: cx.report("impossible_travel", &[("limit", "10".into())]).await?,
    };
    drop(spinner);
    let html = render(&data, since, until, Utc::now(), lake.location());
    std::fs::write(out, html).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    Ok(data)
}
