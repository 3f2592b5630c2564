//! `authtrail compact`: merge a partition's small files into one per hour.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use pipeline::config::Config;
use pipeline::lake::Lake;

#[derive(clap::Args)]
pub struct Args {
    /// The partition date, YYYY-MM-DD.
    #[arg(long)]
    dt: String,
    /// Only this hour (0-23).
    #[arg(long)]
    hour: Option<u32>,
    /// Lake location (`s3://bucket/prefix` or a directory); default from configuration.
    #[arg(long)]
    lake: Option<String>,
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    chrono::NaiveDate::parse_from_str(&args.dt, "%Y-%m-%d")
        .with_context(|| format!("--dt {:?} is not YYYY-MM-DD", args.dt))?;
    if args.hour.is_some_and(|h| h > 23) {
        anyhow::bail!("--hour must be 0-23");
    }
    let config = Config::from_env(config_path)?;
    let lake = Lake::open(&args.lake.unwrap_or_else(|| config.lake_location()))?;
    let done = lake.compact(&args.dt, args.hour).await?;
    if done.is_empty() {
        println!(
            "nothing to compact in dt={}{}",
            args.dt,
            args.hour.map(|h| format!(" hour={h:02}")).unwrap_or_default()
        );
    }
    for h in done {
        println!(
            "{}: {} files, {} rows → {} ({} rows{})",
            h.hour_dir,
            h.files_in,
            h.rows_in,
            h.file_out,
            h.rows_out,
            if h.rows_in > h.rows_out {
                format!(", {} duplicates dropped", h.rows_in - h.rows_out)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
