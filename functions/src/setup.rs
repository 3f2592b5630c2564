//! Builds handlers from configuration: shared by the Lambda binaries and the CLI.

use std::sync::Arc;

use pipeline::clock::Clock;
use pipeline::cloudwatch::Publisher;
use pipeline::config::{Config, MetricsSinkKind, StreamKind};
use pipeline::context::ContextVerifier;
use pipeline::geo::{AnonymousIpDb, AsnDb, Enricher, GeoError, open_city};
use pipeline::risk::snapshot::LiveSnapshot;
use pipeline::risk::{CompiledPolicy, Policy};
use pipeline::stream::{AnySink, KinesisSink, LocalStream, SdkPutRecords, kinesis_client};
use pipeline::telemetry::{LineOut, MetricsSink};

use crate::handler::{Handler, Settings, Trigger};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] pipeline::config::ConfigError),
    #[error(transparent)]
    Geo(#[from] GeoError),
    #[error(transparent)]
    Stream(#[from] pipeline::stream::LocalStreamError),
    #[error(transparent)]
    Snapshot(#[from] pipeline::risk::location::LocationError),
    #[error(transparent)]
    Secret(#[from] pipeline::secrets::SecretError),
}

/// Opens the configured GeoIP databases; absent ones are simply not used.
pub fn enricher(config: &Config) -> Result<Enricher, GeoError> {
    let geo = match config.city_paths() {
        Some((v4, v6)) => Some(open_city(&v4, v6.as_deref())?),
        None => None,
    };
    let asn = config.geoip.asn.as_deref().map(AsnDb::open).transpose()?;
    let anonymous = config.geoip.anonymous_ip.as_deref().map(AnonymousIpDb::open).transpose()?;
    Ok(Enricher { geo, asn, anonymous })
}

/// The context verifier with its keys: from Secrets Manager when
/// `context.secret_arn` is set (a deployed trigger), else from the
/// environment variables the configuration names.
pub async fn verifier(config: &Config) -> Result<ContextVerifier, SetupError> {
    let keys = match &config.context.secret_arn {
        Some(secret) => {
            let timeout = std::time::Duration::from_millis(config.context.secret_load_timeout_ms);
            pipeline::secrets::context_secrets(&pipeline::secrets::client().await, secret, timeout).await?
        }
        None => config.context_secrets(|name| std::env::var(name).ok()),
    };
    Ok(ContextVerifier::new(keys, config.context.max_age_secs))
}

/// The configured sink: the local stream or Kinesis.
pub async fn sink(config: &Config) -> Result<AnySink, SetupError> {
    Ok(match config.stream.kind {
        StreamKind::Local => AnySink::Local(LocalStream::open(
            &config.stream_dir(),
            config.stream.local_shards,
            config.stream.local_fsync,
        )?),
        StreamKind::Kinesis => {
            let stream = config.stream.kinesis_stream.clone().unwrap_or_default();
            AnySink::Kinesis(KinesisSink::new(SdkPutRecords::new(kinesis_client().await, stream), config.budget()))
        }
    })
}

/// The blocking policy: the configured file (or the built-in default) with
/// `AUTHTRAIL_POLICY__…` overrides from the environment.
pub fn policy(config: &Config) -> Result<CompiledPolicy, pipeline::config::ConfigError> {
    policy_with(config, None)
}

/// The policy from `file` when given (a command's `--policy`), else as [`policy`].
pub fn policy_with(
    config: &Config,
    file: Option<&std::path::Path>,
) -> Result<CompiledPolicy, pipeline::config::ConfigError> {
    Policy::load(file.or(config.risk.policy_file.as_deref()), std::env::vars())
}

/// The configured risk snapshot, loaded (from S3: downloaded into the cache
/// directory, within `risk.snapshot_load_timeout_ms`).
pub async fn risk(config: &Config) -> Result<LiveSnapshot, SetupError> {
    let location = config.snapshot_location();
    Ok(LiveSnapshot::open_location(&location, &config.snapshot_cache_dir(), config.snapshot_load_timeout()).await?)
}

/// The configured metrics sink (`metrics.sink`, else `default`): EMF lines
/// on stdout, PutMetricData in the background, or none.
pub async fn metrics_sink(config: &Config, default: MetricsSinkKind) -> MetricsSink {
    let namespace = config.metrics.namespace.clone();
    match config.metrics.sink.unwrap_or(default) {
        MetricsSinkKind::Emf => MetricsSink::Emf { namespace, out: LineOut::Stdout },
        MetricsSinkKind::Cloudwatch => {
            MetricsSink::CloudWatch(Publisher::start(pipeline::cloudwatch::client().await, &namespace))
        }
        MetricsSinkKind::Off => MetricsSink::Off,
    }
}

/// Where a Lambda function's EMF lines go: stdout unless `metrics.sink` is
/// `off`. Lambda functions never make a network call for metrics (on the
/// sign-in path least of all), so `cloudwatch` means EMF there too.
pub fn lambda_lines(config: &Config) -> LineOut {
    match config.metrics.sink {
        Some(MetricsSinkKind::Off) => LineOut::Discard,
        _ => LineOut::Stdout,
    }
}

/// The lake writer's and the scorer's metrics in Lambda: [`lambda_lines`]
/// in the configured namespace.
pub fn lambda_metrics(config: &Config) -> MetricsSink {
    MetricsSink::Emf { namespace: config.metrics.namespace.clone(), out: lambda_lines(config) }
}

pub fn settings(config: &Config) -> Settings {
    Settings { fail_mode: config.stream.fail_mode, metrics_namespace: config.metrics.namespace.clone() }
}

/// A handler for `trigger` wired from configuration. Only pre-auth decides,
/// so only pre-auth loads the risk snapshot.
pub async fn handler<C: Clock>(
    config: &Config,
    trigger: Trigger,
    clock: C,
    metrics: LineOut,
    spill: LineOut,
) -> Result<Handler<AnySink, C, Arc<LiveSnapshot>>, SetupError> {
    // The snapshot and the context secret load at once: each has its own
    // time limit, and a cold start waits for the longer, not their sum.
    let risk = async {
        match trigger {
            Trigger::PreAuth => risk(config).await,
            Trigger::PostAuth | Trigger::BackendFailure => Ok(LiveSnapshot::none()),
        }
    };
    let (risk, verifier) = tokio::join!(risk, verifier(config));
    let (risk, verifier) = (risk?, verifier?);
    Ok(Handler {
        enricher: Arc::new(enricher(config)?),
        verifier,
        sink: sink(config).await?,
        clock,
        risk: Arc::new(risk),
        policy: Arc::new(policy(config)?),
        settings: settings(config),
        metrics,
        spill,
    })
}
