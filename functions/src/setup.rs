//! Builds handlers from configuration: shared by the Lambda binaries and the CLI.

use std::sync::Arc;

use pipeline::clock::Clock;
use pipeline::config::{Config, StreamKind};
use pipeline::context::ContextVerifier;
use pipeline::geo::{AnonymousIpDb, AsnDb, Enricher, GeoError, open_city};
use pipeline::risk::snapshot::LiveSnapshot;
use pipeline::risk::{CompiledPolicy, Policy};
use pipeline::stream::{AnySink, KinesisSink, LocalStream, SdkPutRecords, kinesis_client};
use pipeline::telemetry::LineOut;

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

/// The context verifier with secrets from the process environment.
pub fn verifier(config: &Config) -> ContextVerifier {
    ContextVerifier::new(config.context_secrets(|name| std::env::var(name).ok()), config.context.max_age_secs)
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
    let risk = match trigger {
        Trigger::PreAuth => risk(config).await?,
        Trigger::PostAuth | Trigger::BackendFailure => LiveSnapshot::none(),
    };
    Ok(Handler {
        enricher: Arc::new(enricher(config)?),
        verifier: verifier(config),
        sink: sink(config).await?,
        clock,
        risk: Arc::new(risk),
        policy: Arc::new(policy(config)?),
        settings: settings(config),
        metrics,
        spill,
    })
}
