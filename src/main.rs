//! `authtrail`: the operator's command line.

#![recursion_limit = "256"]

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "authtrail", version, about = "Cognito sign-in audit trail, SQL over it, and adaptive blocking")]
struct Cli {
    /// Configuration file (default: $AUTHTRAIL_CONFIG, else ./authtrail.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline on one machine: a simulated pool with attacks, replayed through the
    /// triggers, stream, lake and scorer, and how well it caught them.
    Demo(cmd::demo::Args),
    /// Nine scripted, real-shaped sign-ins through both triggers into the local stream, explained.
    Tour(cmd::tour::Args),
    /// Merge the small files of a lake partition into one file per hour.
    Compact(cmd::compact::Args),
    /// Write the stream into the Parquet lake (drain and exit, or --follow).
    Consume(cmd::consume::Args),
    /// Run a trigger handler on one raw Cognito event and print the emitted event.
    Invoke(cmd::invoke::Args),
    /// Score users and IPs from the lake and publish the risk snapshot.
    Score(cmd::score::Args),
    /// Backtest a policy: recorded trigger events through the real triggers, lake and scorer.
    Replay(cmd::replay::Args),
    /// Write a labelled replay file of a simulated user pool with attacks in it.
    Simulate(cmd::simulate::Args),
    /// Detection quality: a simulator's labels joined to a replay's decisions.
    Evaluate(cmd::evaluate::Args),
    /// The signed sign-in context an app backend passes as ClientMetadata.
    #[command(subcommand)]
    Context(cmd::context::Command),
    /// The report catalogue over the lake: list, show, run.
    #[command(subcommand)]
    Report(cmd::report::Command),
    /// One read-only SQL query over the lake's tables (events, decisions, user_risk, ip_risk, asn_risk).
    Sql(cmd::report::SqlArgs),
    /// A self-contained HTML dashboard of the lake: sign-ins, failures, blocks, risk.
    Dashboard(cmd::dashboard::Args),
    /// GeoIP databases: install DB-IP Lite City, look up an address.
    #[command(subcommand)]
    Geoip(cmd::geoip::Command),
}

fn main() -> ExitCode {
    // A closed pipe (`authtrail … | head`) ends the process quietly, as for
    // other Unix tools, instead of panicking in `println!`.
    // SAFETY: called first thing, before any thread exists; restores the default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // The tour feeds a malformed event on purpose; its log line would only confuse.
    let default_filter = if matches!(cli.command, Command::Tour(_)) { "off" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => cmd::demo::run(cli.config.as_deref(), args).await,
            Command::Tour(args) => cmd::tour::run(cli.config.as_deref(), args).await,
            Command::Compact(args) => cmd::compact::run(cli.config.as_deref(), args).await,
            Command::Consume(args) => cmd::consume::run(cli.config.as_deref(), args).await,
            Command::Invoke(args) => cmd::invoke::run(cli.config.as_deref(), args).await,
            Command::Context(c) => cmd::context::run(c),
            Command::Score(args) => cmd::score::run(cli.config.as_deref(), args).await,
            Command::Replay(args) => cmd::replay::run(cli.config.as_deref(), args).await,
            Command::Simulate(args) => cmd::simulate::run(cli.config.as_deref(), args).await,
            Command::Evaluate(args) => cmd::evaluate::run(cli.config.as_deref(), args),
            Command::Geoip(c) => cmd::geoip::run(cli.config.as_deref(), c).await,
            Command::Report(c) => cmd::report::run(cli.config.as_deref(), c).await,
            Command::Sql(args) => cmd::report::run_sql(cli.config.as_deref(), args).await,
            Command::Dashboard(args) => cmd::dashboard::run(cli.config.as_deref(), args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
