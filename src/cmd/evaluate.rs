//! `authtrail evaluate LABELS DECISIONS`: how well the decisions of a replay
//! caught the simulator's attacks, and how many honest users they blocked.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use functions::evaluate::{evaluate, table};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The simulator's replay file (a `label` per line).
    labels: PathBuf,
    /// `authtrail replay --decisions` output for that file.
    decisions: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(_config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let open =
        |p: &Path| std::fs::File::open(p).map(BufReader::new).with_context(|| format!("cannot read {}", p.display()));
    let e = evaluate(open(&args.labels)?, open(&args.decisions)?)?;
    match args.format {
        Format::Table => print!("{}", table(&e)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&e)?),
    }
    Ok(ExitCode::SUCCESS)
}
