//! `authtrail invoke`: one raw Cognito event through the real handler.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;
use functions::Trigger;
use pipeline::clock::{FixedClock, SystemClock};
use pipeline::config::Config;
use pipeline::telemetry::LineOut;

#[derive(Clone, Copy, ValueEnum)]
pub enum Which {
    PreAuth,
    PostAuth,
}

#[derive(clap::Args)]
pub struct Args {
    /// Which trigger handler to run.
    trigger: Which,
    /// The raw trigger event (JSON); `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Pretend it is this time (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Also print the EMF metrics line.
    #[arg(long)]
    metrics: bool,
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let raw = match args.file.as_deref() {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
    };
    let config = Config::from_env(config_path)?;
    let trigger = match args.trigger {
        Which::PreAuth => Trigger::PreAuth,
        Which::PostAuth => Trigger::PostAuth,
    };
    let metrics = if args.metrics { LineOut::Stdout } else { LineOut::Discard };
    let code = match args.at {
        Some(at) => {
            let t =
                chrono::DateTime::parse_from_rfc3339(&at).with_context(|| format!("--at {at:?} is not RFC 3339"))?;
            let h =
                functions::setup::handler(&config, trigger, FixedClock::at(t.into()), metrics, LineOut::Stdout).await?;
            report(h.handle(trigger, &raw).await)
        }
        None => {
            let h = functions::setup::handler(&config, trigger, SystemClock, metrics, LineOut::Stdout).await?;
            report(h.handle(trigger, &raw).await)
        }
    };
    Ok(code)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read standard input")?;
    Ok(s)
}

fn report(outcome: Result<functions::Outcome, functions::handler::MalformedEvent>) -> ExitCode {
    match outcome {
        Ok(o) => {
            println!("{}", serde_json::to_string_pretty(&o.event).expect("event serialises"));
            match &o.delivery {
                Ok(d) => eprintln!("emitted to {} at sequence {}", d.shard_id, d.sequence_number),
                Err(e) => eprintln!("not delivered, spilled to stdout: {e}"),
            }
            if o.deny {
                eprintln!("decision: deny (Cognito would show: {:?})", functions::DENIAL_MESSAGE);
                ExitCode::from(1)
            } else {
                eprintln!("decision: allow");
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("malformed event, denied: {e}");
            ExitCode::from(1)
        }
    }
}
