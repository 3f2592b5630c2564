//! `authtrail consume`: the stream into the Parquet lake.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use pipeline::config::{Config, StreamKind};
use pipeline::kinesis::KinesisSource;
use pipeline::lake::Lake;
use pipeline::lake::consume::{Consumer, Summary};
use pipeline::lake::sources::{AnySource, LocalSource};

#[derive(clap::Args)]
pub struct Args {
    /// Keep polling for new records instead of exiting when drained.
    #[arg(long)]
    follow: bool,
    /// Lake location (`s3://bucket/prefix` or a directory); default from configuration.
    #[arg(long)]
    lake: Option<String>,
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let location = args.lake.unwrap_or_else(|| config.lake_location());
    let lake = Lake::open(&location)?;
    let (source, from) = match config.stream.kind {
        StreamKind::Local => {
            (AnySource::Local(LocalSource { dir: config.stream_dir() }), config.stream_dir().display().to_string())
        }
        StreamKind::Kinesis => {
            let stream = config.stream.kinesis_stream.clone().unwrap_or_default();
            let client = pipeline::stream::kinesis_client().await;
            (AnySource::Kinesis(KinesisSource::new(client, &stream)), format!("Kinesis stream {stream}"))
        }
    };
    let consumer = Consumer { source, lake, batch_records: config.lake.batch_records };
    let terminal = std::io::stderr().is_terminal();
    let show = |s: &Summary| {
        if terminal {
            eprint!(
                "\r  {} records → {} events, {} dead letters, {} files, {:.1} MB   ",
                s.records,
                s.events,
                s.dead_letters,
                s.files,
                s.bytes as f64 / 1e6
            );
        }
    };
    // `metrics.sink` (default off here): `cloudwatch` publishes the lake
    // writer's metrics from a poller outside Lambda.
    let metrics = functions::setup::metrics_sink(&config, pipeline::config::MetricsSinkKind::Off).await;
    let record = |s: &Summary, failed: bool| {
        let m = functions::lake_writer::writer_metrics(
            s.records,
            s.events,
            s.dead_letters,
            s.files,
            usize::from(failed),
            s.duration,
        );
        metrics.record(pipeline::metrics::component::LAKE_WRITER, chrono::Utc::now().timestamp_millis(), &m);
    };
    let mut total = Summary::default();
    // One Ctrl-C listener for the whole run, so a signal during a drain is
    // not lost. Stopping mid-batch is safe: the pending range is redone.
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let s = tokio::select! {
            s = consumer.drain(show) => s,
            _ = &mut stop => break,
        };
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                record(&Summary::default(), true);
                metrics.close(Duration::from_secs(5)).await;
                return Err(e.into());
            }
        };
        record(&s, false);
        total.records += s.records;
        total.events += s.events;
        total.dead_letters += s.dead_letters;
        total.files += s.files;
        total.bytes += s.bytes;
        total.batches += s.batches;
        total.duration += s.duration;
        if !args.follow {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(config.lake.poll_secs)) => {}
            _ = &mut stop => break,
        }
    }
    metrics.close(Duration::from_secs(5)).await;
    if terminal {
        eprintln!();
    }
    println!(
        "consumed {} records from {} into {}: {} events, {} dead letters, {} files, {} bytes, {:.2} s",
        total.records,
        from,
        location,
        total.events,
        total.dead_letters,
        total.files,
        total.bytes,
        total.duration.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
