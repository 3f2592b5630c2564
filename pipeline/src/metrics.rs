//! The metric catalogue: every metric authtrail emits, its unit, its
//! dimension and the components that emit it. Nothing else names a metric:
//! code emits a [`MetricDef`] from here (EMF in Lambda, PutMetricData
//! elsewhere, see [`crate::telemetry`]), and the CloudWatch dashboard and
//! alarms in `infra/template.yaml` are checked against the catalogue's JSON
//! form (`infra/generated/metrics.json`, kept current by a test), so none of
//! them can name a metric that no code emits.
//!
//! Every metric has the one dimension `Function`, whose value is the
//! component: never a user, an IP or anything else an attacker chooses (a
//! dimension value per attacker would be a metric per attacker).

use serde::Serialize;

/// The dimension every authtrail metric carries.
pub const DIMENSION: &str = "Function";

/// A CloudWatch unit (the names PutMetricData and EMF take).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Microseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Microseconds => "Microseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// The components that emit metrics: the value of the `Function` dimension.
/// `consume --follow` is the lake writer and `score` is the risk scorer,
/// outside Lambda: they emit the same metrics under the same name.
pub mod component {
    pub const PRE_AUTH: &str = "pre-auth";
    pub const POST_AUTH: &str = "post-auth";
    pub const LAKE_WRITER: &str = "lake-writer";
    pub const RISK_SCORER: &str = "risk-scorer";
    pub const ALL: [&str; 4] = [PRE_AUTH, POST_AUTH, LAKE_WRITER, RISK_SCORER];
}

use component::{LAKE_WRITER, POST_AUTH, PRE_AUTH, RISK_SCORER};

/// The app backend's failure reports (`authtrail_BackendFailure`) reach
/// the pre-auth function and are counted there.
const TRIGGERS: &[&str] = &[PRE_AUTH, POST_AUTH];

/// One catalogued metric. Only this module defines them.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct MetricDef {
    pub name: &'static str,
    pub unit: Unit,
    /// The components that emit it (values of [`DIMENSION`]).
    pub emitted_by: &'static [&'static str],
    pub description: &'static str,
    #[serde(skip)]
    _private: (),
}

macro_rules! catalogue {
    ($($id:ident = $name:literal, $unit:ident, $by:expr, $doc:literal;)+) => {
        $(
            #[doc = $doc]
            pub const $id: MetricDef =
                MetricDef { name: $name, unit: Unit::$unit, emitted_by: $by, description: $doc, _private: () };
        )+
        /// Every metric, in catalogue order.
        pub const CATALOGUE: &[&MetricDef] = &[$(&$id),+];
    };
}

catalogue! {
    INVOCATIONS = "Invocations", Count, TRIGGERS, "Trigger invocations: attempts and failure reports (pre-auth), successes (post-auth).";
    HANDLER_LATENCY = "HandlerLatency", Microseconds, &[PRE_AUTH, POST_AUTH, LAKE_WRITER], "Time inside the handler, per invocation.";
    EMITTED = "Emitted", Count, TRIGGERS, "Events delivered to the stream.";
    SPILLED = "Spilled", Count, TRIGGERS, "Events the stream did not take in time: written to the log with the reason (lost to the lake until replayed).";
    MALFORMED_EVENTS = "MalformedEvents", Count, TRIGGERS, "Trigger events that could not be parsed: spilled with the reason and denied.";
    CONTEXT_UNVERIFIED = "ContextUnverified", Count, &[PRE_AUTH], "Attempts without a verified signed context (missing, unsigned, stale, bad signature).";
    GEO_MISS = "GeoMiss", Count, TRIGGERS, "Events with a source IP that the GeoIP database does not place.";
    DENIED = "Denied", Count, TRIGGERS, "Sign-ins denied (by the policy, a malformed event or fail-closed delivery).";
    RISK_HIGH = "RiskHigh", Count, TRIGGERS, "Attempts decided at level high (denied in enforce mode).";
    RISK_MEDIUM = "RiskMedium", Count, TRIGGERS, "Attempts decided at level medium.";
    SNAPSHOT_AGE = "SnapshotAge", Seconds, &[PRE_AUTH], "Age of the risk snapshot the decision used.";
    RECORDS = "Records", Count, &[LAKE_WRITER], "Stream records read.";
    EVENTS = "Events", Count, &[LAKE_WRITER], "Events written to the lake.";
    DEAD_LETTERS = "DeadLetters", Count, &[LAKE_WRITER], "Records that did not decode: kept under dead-letter/ with the reason.";
    FILES_WRITTEN = "FilesWritten", Count, &[LAKE_WRITER], "Parquet and dead-letter files written.";
    WRITE_FAILURES = "WriteFailures", Count, &[LAKE_WRITER], "Shard batches whose lake write failed: handed back from the first unwritten record (retried).";
    EVENTS_IN = "EventsIn", Count, &[RISK_SCORER], "Lake rows a scoring run read.";
    USER_PROFILES = "UserProfiles", Count, &[RISK_SCORER], "User profiles in the published snapshot.";
    IPS_SCORED = "IpsScored", Count, &[RISK_SCORER], "IPs scored in the published snapshot.";
    RISKY_IPS = "RiskyIps", Count, &[RISK_SCORER], "IPs at or above the medium level (credential stuffing, spraying).";
    RISKY_NETWORKS = "RiskyNetworks", Count, &[RISK_SCORER], "Networks (ASNs) at or above the medium level.";
    RISKY_USERS = "RiskyUsers", Count, &[RISK_SCORER], "Users at or above the medium level (targeted accounts).";
    DAY_READ_WHOLE = "DayReadWhole", Count, &[RISK_SCORER], "Runs that re-read the day (cold start, profile re-read or late events).";
    SCORING_TIME = "ScoringTime", Seconds, &[RISK_SCORER], "Duration of a scoring run; its sample count is the scorer's heartbeat.";
}

/// One value of a catalogued metric ([`crate::metrics`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub def: &'static MetricDef,
    pub value: f64,
}

impl Metric {
    pub fn new(def: &'static MetricDef, value: f64) -> Self {
        Metric { def, value }
    }
    pub fn count(def: &'static MetricDef, value: u64) -> Self {
        Metric { def, value: value as f64 }
    }
    pub fn name(&self) -> &'static str {
        self.def.name
    }
    pub fn unit(&self) -> &'static str {
        self.def.unit.as_str()
    }
}

/// The metrics `component` emits.
pub fn emitted_by(component: &str) -> impl Iterator<Item = &'static MetricDef> + '_ {
    CATALOGUE.iter().copied().filter(move |m| m.emitted_by.contains(&component))
}

/// The catalogue as the JSON the infra checks read
/// (`infra/generated/metrics.json`).
pub fn catalogue_json() -> String {
    let doc = serde_json::json!({
        "generated_by": "pipeline::metrics (cargo test regenerates this file with AUTHTRAIL_BLESS=1)",
        "dimension": DIMENSION,
        "components": component::ALL,
        "metrics": CATALOGUE,
    });
    serde_json::to_string_pretty(&doc).expect("the catalogue serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_metric_has_an_emitter() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a metric name is catalogued twice");
        for m in CATALOGUE {
            assert!(!m.emitted_by.is_empty(), "{} has no emitter", m.name);
            assert!(m.emitted_by.iter().all(|c| component::ALL.contains(c)), "{}: unknown component", m.name);
        }
        assert!(emitted_by(RISK_SCORER).any(|m| m.name == "ScoringTime"));
        assert!(!emitted_by(PRE_AUTH).any(|m| m.name == "ScoringTime"));
    }
}
