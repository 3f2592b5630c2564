//! `authtrail report list | show NAME | run NAME` and `authtrail sql`: the
//! report catalogue and ad-hoc SQL over the lake.
//!
//! Exit codes: 0 the query ran (an empty result included); 1 it could not
//! run or finish (the lake unreachable, a failure while reading); 2 the
//! request is wrong (an unknown report, a bad parameter, SQL that does not
//! parse or plan, a statement that is not a query).

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use pipeline::config::Config;
use pipeline::lake::Lake;
use queries::LakeSession;
use queries::catalog::Query;
use queries::datafusion::dataframe::DataFrame;
use queries::reports;

use super::output::OutputArgs;
use super::progress::Spinner;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Every report, with what it answers.
    List,
    /// One report: its description, parameters with their defaults, and SQL.
    Show { name: String },
    /// The catalogue as Markdown (the generated table of docs/reports.md).
    Docs,
    /// Run a report over the lake.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct LakeArg {
    /// Lake location (`s3://bucket/prefix` or a directory); default from configuration.
    #[arg(long)]
    pub lake: Option<String>,
}

impl LakeArg {
    pub fn open(&self, config: &Config) -> anyhow::Result<Lake> {
        let location = self.lake.clone().unwrap_or_else(|| config.lake_location());
        Ok(Lake::open(&location)?)
    }
}

#[derive(clap::Args)]
pub struct RunArgs {
    name: String,
    /// A parameter, `name=value` (repeatable); `authtrail report show NAME` lists them.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Start of the period: RFC 3339, YYYY-MM-DD[THH:MM], now, or -7d / -24h.
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// End of the period (exclusive), in the same forms.
    #[arg(long, allow_hyphen_values = true)]
    until: Option<String>,
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Args)]
pub struct SqlArgs {
    /// One SQL query, or `-` to read it from standard input.
    query: String,
    #[command(flatten)]
    lake: LakeArg,
    #[command(flatten)]
    output: OutputArgs,
}

pub async fn run(config_path: Option<&Path>, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List => {
            let reports = reports::all();
            let width = reports.iter().map(|q| q.name.len()).max().unwrap_or(0);
            let line_width = super::output::stdout_width().unwrap_or(usize::MAX);
            for q in &reports {
                let line = format!("{:<width$}  {}", q.name, first_sentence(&q.description));
                println!("{}", queries::table::cut(&line, line_width));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Docs => {
            print!("{}", reports::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name } => {
            print!("{}", show(&reports::report(&name).map_err(unknown)?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_report(config_path, args).await,
    }
}

fn unknown(e: queries::catalog::CatalogError) -> anyhow::Error {
    match e {
        queries::catalog::CatalogError::Unknown(name) => {
            anyhow::anyhow!("no report named {name:?}; `authtrail report list` shows them")
        }
        other => other.into(),
    }
}

/// Up to the first full stop followed by a capital ("e.g. the" goes on).
fn first_sentence(text: &str) -> &str {
    let end = text.match_indices(". ").find(|(i, _)| text[i + 2..].starts_with(|c: char| c.is_uppercase()));
    end.map_or(text, |(i, _)| &text[..=i])
}

/// What `report show` prints.
fn show(q: &Query) -> String {
    let mut out = format!("{}\n\n{}\n", q.name, q.description);
    if let Some(p) = &q.portability {
        out += &format!("\nportability: {p}\n");
    }
    if !q.params.is_empty() {
        out += "\nparameters (--param NAME=VALUE):\n";
        for p in &q.params {
            let default = p.default.as_deref().map(|d| format!(" = {d}")).unwrap_or_default();
            out += &format!("  {:<16} {:<9}{default:<8}  {}\n", p.name, p.ty.as_str(), p.description);
        }
    }
    let body: Vec<&str> = q.sql.lines().skip_while(|l| l.starts_with("--")).collect();
    out + "\nSQL:\n" + &body.join("\n") + "\n"
}

async fn run_report(config_path: Option<&Path>, args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let q = reports::report(&args.name).map_err(unknown)?;
    let mut given = Vec::new();
    for p in &args.params {
        let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?}: expected NAME=VALUE"))?;
        given.push((k.trim().to_string(), v.to_string()));
    }
    for (flag, value) in [("since", &args.since), ("until", &args.until)] {
        if let Some(v) = value {
            anyhow::ensure!(
                q.params.iter().any(|p| p.name == flag),
                "report {} has no period: --{flag} does not apply",
                q.name
            );
            given.push((flag.to_string(), v.clone()));
        }
    }
    args.output.check()?;
    let lake = args.lake.open(&config)?;
    let values = reports::values(&q, &given, reports::now_for(&lake).await)?;
    if let Some((since, until)) = reports::period(&values) {
        anyhow::ensure!(since < until, "the period is empty: since {since} is not before until {until}");
    }
    let policy = functions::setup::policy_with(&config, None)?.policy;
    let session = LakeSession::open(&lake).await?;
    let df = match reports::dataframe(&session, &q, &values, &policy.scoring, policy.deny_level).await {
        Ok(df) => df,
        Err(e) => return Ok(failed(&format!("report {}", q.name), &e)),
    };
    if let Some((since, until)) = reports::period(&values) {
        let t = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC");
        eprintln!("{} from {} to {} (exclusive), lake {}", q.name, t(since), t(until), lake.location());
    }
    collect_and_write(df, &q.name, &args.output).await
}

pub async fn run_sql(config_path: Option<&Path>, args: SqlArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let text = if args.query == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("cannot read the query from standard input")?;
        s
    } else {
        args.query.clone()
    };
    args.output.check()?;
    let lake = args.lake.open(&config)?;
    let session = LakeSession::open(&lake).await?;
    // A query that does not parse or plan is the caller's to fix: exit 2.
    let df = session.read_only(&text).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    collect_and_write(df, "query", &args.output).await
}

/// Exit 1 with the error, for a query that could not run.
fn failed(what: &str, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {what}: {e}");
    ExitCode::from(1)
}

async fn collect_and_write(df: DataFrame, what: &str, output: &OutputArgs) -> anyhow::Result<ExitCode> {
    let schema = df.schema().inner().clone();
    let spinner = Spinner::start(format!("running {what}"));
    let batches = df.collect().await;
    drop(spinner);
    let batches = match batches {
        Ok(b) => b,
        Err(e) => return Ok(failed(what, &e)),
    };
    if let Err(e) = output.write(schema, &batches) {
        return Ok(failed(what, &format!("{e:#}")));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_prints_parameters_with_defaults_and_the_sql_without_its_header() {
        let q = Query::parse(
            "q.sql",
            "-- name: q\n-- description: First, e.g. this. Second.\n-- param: $1 limit BIGINT = 20  how many rows\nSELECT $1",
        )
        .unwrap();
        let text = show(&q);
        let line = text.lines().find(|l| l.trim_start().starts_with("limit")).expect("a parameter line");
        assert_eq!(line.split_whitespace().collect::<Vec<_>>(), ["limit", "BIGINT", "=", "20", "how", "many", "rows"]);
        assert!(text.ends_with("\nSQL:\nSELECT $1\n"), "{text}");
        assert_eq!(first_sentence(&q.description), "First, e.g. this.");
    }
}
