//! The blocking policy: what each signal weighs, where the levels start, and
//! what happens at each level. A TOML file plus `AUTHTRAIL_POLICY__…`
//! environment overrides, validated at start with errors that name the key.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use super::FailMode;
use crate::layered::{ConfigError, Origins, load_layered};

pub const POLICY_ENV_PREFIX: &str = "AUTHTRAIL_POLICY__";

/// `audit` records the decision and always allows; `enforce` denies at
/// `deny_level` and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Audit,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Low,
    Medium,
    High,
}

impl Level {
    /// The inverse of [`Level::as_str`].
    pub fn parse(s: &str) -> Option<Level> {
        [Level::Low, Level::Medium, Level::High].into_iter().find(|l| l.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Recorded on every decision (`policy_version`).
    pub version: String,
    pub mode: Mode,
    /// In `enforce` mode, attempts at this level or above are denied.
    pub deny_level: Level,
    pub levels: Levels,
    pub weights: Weights,
    pub travel: Travel,
    pub lists: Lists,
    pub snapshot: SnapshotPolicy,
    pub scoring: Scoring,
}

/// Score thresholds (0–100) where the levels start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Levels {
    pub medium: u8,
    pub high: u8,
}

/// Points each signal adds to the 0–100 score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub new_country: u8,
    pub new_city: u8,
    pub new_device: u8,
    pub impossible_travel: u8,
    pub tor: u8,
    pub public_proxy: u8,
    pub residential_proxy: u8,
    pub anonymous_vpn: u8,
    pub hosting: u8,
    /// The context was not verified (missing, unsigned, forged, stale …).
    pub unverified_context: u8,
    /// The country is not on a non-empty allow list.
    pub country_not_allowed: u8,
    /// A UTC hour in which the user has not signed in before (only for users
    /// with at least `unusual_hour_min_logins` sign-ins).
    pub unusual_hour: u8,
    pub unusual_hour_min_logins: u32,
    /// Fractions of the snapshot's 0–100 IP, ASN and user scores added.
    pub ip_risk_factor: f32,
    pub asn_risk_factor: f32,
    pub user_risk_factor: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Travel {
    /// Faster than this between two sign-ins is impossible travel.
    pub max_speed_kmh: f64,
    /// Jumps shorter than this (after both accuracy radii) are never flagged:
    /// GeoIP places the same person a few hundred km apart routinely.
    pub min_distance_km: f64,
    /// Hosting ranges (cloud egress, anycast front ends) and VPN exits say
    /// little about where a person is.
    #[serde(alias = "ignore_hosting")]
    pub ignore_anonymizers: bool,
    /// Only a jump into another country is travel: within one, GeoIP often
    /// places a mobile carrier's or a company's addresses at a far gateway.
    pub across_countries_only: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Lists {
    /// CIDRs always allowed (only when the context is verified: a forged IP
    /// must not buy its way past the rules).
    pub ip_allow: Vec<String>,
    /// CIDRs always denied (verified or not: denying never helps an attacker).
    pub ip_deny: Vec<String>,
    /// ISO country codes; when non-empty, other countries add `country_not_allowed`.
    pub country_allow: Vec<String>,
    /// ISO country codes always denied.
    pub country_deny: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotPolicy {
    /// An older snapshot counts as stale.
    pub max_age_secs: u64,
    /// Missing, stale or corrupt snapshot: decide without it (open) or deny (closed).
    pub fail_mode: FailMode,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: "default-1".into(),
            mode: Mode::Audit,
            deny_level: Level::High,
            levels: Levels::default(),
            weights: Weights::default(),
            travel: Travel::default(),
            lists: Lists::default(),
            snapshot: SnapshotPolicy::default(),
            scoring: Scoring::default(),
        }
    }
}

impl Default for Levels {
    fn default() -> Self {
        Levels { medium: 40, high: 70 }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            // A new country and a new device together reach high (70 with
            // the new city): how a takeover looks. Either alone stays below.
            new_country: 35,
            new_city: 5,
            new_device: 30,
            impossible_travel: 70,
            tor: 60,
            public_proxy: 40,
            residential_proxy: 25,
            anonymous_vpn: 20,
            hosting: 15,
            unverified_context: 15,
            country_not_allowed: 70,
            // Weak alone (people travel, work late): a nudge, never a block.
            unusual_hour: 5,
            unusual_hour_min_logins: 10,
            ip_risk_factor: 1.0,
            // A network is shared by many honest users: a risky one nudges.
            asn_risk_factor: 0.3,
            user_risk_factor: 0.5,
        }
    }
}

impl Default for Travel {
    fn default() -> Self {
        // Common SIEM impossible-travel rules use 900 km/h (a jet's cruise);
        // Okta's velocity default is 805 km/h (500 mph).
        Travel { max_speed_kmh: 900.0, min_distance_km: 500.0, ignore_anonymizers: true, across_countries_only: true }
    }
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy { max_age_secs: 6 * 3600, fail_mode: FailMode::Open }
    }
}

/// What the scorer (DataFusion SQL over the lake) counts and where its
/// rules fire. The scorer reads the same policy file as the trigger.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scoring {
    /// History that user profiles (known places, devices, hours) come from.
    pub horizon_days: u32,
    /// Known places, devices and hours come from this many recent successful sign-ins.
    pub last_successes: u32,
    /// An attempt succeeded when the user's next event is a success this soon after it.
    pub success_window_secs: u32,
    /// An attempt this recent with nothing after it yet is pending, not
    /// failed: its success may still be on its way to the lake.
    pub pending_secs: u32,
    /// A scorer that keeps running (the replay, a warm scorer Lambda)
    /// re-reads the whole horizon for profiles this often; in between, each
    /// run merges the last day's successes into them.
    pub profile_every_secs: u32,
    /// Credential stuffing: users with at most two tries each from one IP or
    /// network in 15 minutes, mostly failing.
    pub stuffing_users_15m: u32,
    /// Slower credential stuffing: the same over an hour and over a day, with
    /// at least 80 % failing.
    pub stuffing_users_1h: u32,
    pub stuffing_users_1d: u32,
    /// Password spraying: users with three or more tries each from one IP or
    /// network in a day, with at least 80 % failing.
    pub spraying_users_1d: u32,
    /// Failed tries from one IP or network in a day.
    pub source_failures_1d: u32,
    /// A high failure ratio: at least this many tries in an hour from one
    /// IP or network, at least `failure_ratio_percent` % failing.
    pub failure_ratio_tries_1h: u32,
    pub failure_ratio_percent: u32,
    /// Failed tries on one account in a day.
    pub user_failures_1d: u32,
    /// IPs the failures on one account came from in a day (a distributed attack on it).
    pub user_failure_ips_1d: u32,
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring {
            horizon_days: 90,
            last_successes: 50,
            success_window_secs: 300,
            pending_secs: 60,
            // Each run merges the last day's successes, so profiles lose
            // nothing between re-reads that are less than a day apart.
            profile_every_secs: 6 * 3600,
            // Elastic's "Potential Credential Stuffing" rule: 15 users with at
            // most 2 attempts each from one source in 15 minutes.
            stuffing_users_15m: 15,
            stuffing_users_1h: 30,
            stuffing_users_1d: 50,
            spraying_users_1d: 10,
            // Auth0's Suspicious IP Throttling: 100 failed sign-ins per IP per day.
            source_failures_1d: 100,
            failure_ratio_tries_1h: 20,
            failure_ratio_percent: 80,
            // Auth0's Brute-force Protection: 10 failed sign-ins on one account.
            user_failures_1d: 10,
            user_failure_ips_1d: 5,
        }
    }
}

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.trim().parse::<IpAddr>().ok()?, p.trim().parse::<u8>().ok()?),
            None => {
                let a = s.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { network: addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A validated policy with its lists parsed for fast lookups.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: Policy,
    pub ip_allow: Vec<Cidr>,
    pub ip_deny: Vec<Cidr>,
    pub country_allow: BTreeSet<String>,
    pub country_deny: BTreeSet<String>,
}

impl Policy {
    /// Loads `path` (if any) with `AUTHTRAIL_POLICY__…` overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<CompiledPolicy, ConfigError> {
        let (policy, origins) = load_layered::<Policy>(path, env, POLICY_ENV_PREFIX)?;
        policy.compile(&origins)
    }

    pub fn compile(self, origins: &Origins) -> Result<CompiledPolicy, ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Key {
            key: format!("policy.{key}"),
            origin: origins.get(key).map(|n| format!(" (from {n})")).unwrap_or_default(),
            message,
        };
        if !(1..=100).contains(&self.levels.medium) || self.levels.medium >= self.levels.high || self.levels.high > 100
        {
            return Err(bad(
                "levels",
                format!("need 1 ≤ medium < high ≤ 100, got {} and {}", self.levels.medium, self.levels.high),
            ));
        }
        let sc = &self.scoring;
        for (key, v) in [
            ("scoring.horizon_days", sc.horizon_days),
            ("scoring.last_successes", sc.last_successes),
            ("scoring.success_window_secs", sc.success_window_secs),
            ("scoring.pending_secs", sc.pending_secs),
            ("scoring.stuffing_users_15m", sc.stuffing_users_15m),
            ("scoring.stuffing_users_1h", sc.stuffing_users_1h),
            ("scoring.stuffing_users_1d", sc.stuffing_users_1d),
            ("scoring.spraying_users_1d", sc.spraying_users_1d),
            ("scoring.source_failures_1d", sc.source_failures_1d),
            ("scoring.failure_ratio_tries_1h", sc.failure_ratio_tries_1h),
            ("scoring.failure_ratio_percent", sc.failure_ratio_percent),
            ("scoring.user_failures_1d", sc.user_failures_1d),
            ("scoring.user_failure_ips_1d", sc.user_failure_ips_1d),
        ] {
            if v == 0 {
                return Err(bad(key, "must be at least 1".into()));
            }
        }
        // Ten years of history is plenty, and keeps date arithmetic in range.
        if sc.horizon_days > 3650 {
            return Err(bad("scoring.horizon_days", format!("{} is more than 3650", sc.horizon_days)));
        }
        if sc.failure_ratio_percent > 100 {
            return Err(bad("scoring.failure_ratio_percent", "is a percentage (1..=100)".into()));
        }
        if sc.pending_secs > sc.success_window_secs {
            return Err(bad("scoring.pending_secs", "must not exceed scoring.success_window_secs".into()));
        }
        if self.travel.max_speed_kmh <= 0.0 || !self.travel.max_speed_kmh.is_finite() {
            return Err(bad("travel.max_speed_kmh", "must be a positive speed".into()));
        }
        for (key, f) in [
            ("weights.ip_risk_factor", self.weights.ip_risk_factor),
            ("weights.asn_risk_factor", self.weights.asn_risk_factor),
            ("weights.user_risk_factor", self.weights.user_risk_factor),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(bad(key, format!("{f} is outside 0..=1")));
            }
        }
        let cidrs = |key: &str, list: &[String]| -> Result<Vec<Cidr>, ConfigError> {
            list.iter()
                .map(|s| Cidr::parse(s).ok_or_else(|| bad(key, format!("{s:?} is not an IP address or CIDR block"))))
                .collect()
        };
        let countries = |key: &str, list: &[String]| -> Result<BTreeSet<String>, ConfigError> {
            list.iter()
                .map(|c| {
                    let c = c.trim().to_ascii_uppercase();
                    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                        Ok(c)
                    } else {
                        Err(bad(key, format!("{c:?} is not an ISO 3166-1 alpha-2 code")))
                    }
                })
                .collect()
        };
        Ok(CompiledPolicy {
            ip_allow: cidrs("lists.ip_allow", &self.lists.ip_allow)?,
            ip_deny: cidrs("lists.ip_deny", &self.lists.ip_deny)?,
            country_allow: countries("lists.country_allow", &self.lists.country_allow)?,
            country_deny: countries("lists.country_deny", &self.lists.country_deny)?,
            policy: self,
        })
    }
}

impl Default for CompiledPolicy {
    fn default() -> Self {
        Policy::default().compile(&Origins::new()).expect("the default policy is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_policy_is_the_built_in_one() {
        let (_dir, path) = crate::layered::doc_example("policy.md");
        let loaded = Policy::load(Some(&path), env(&[])).unwrap_or_else(|e| panic!("docs/policy.md: {e}")).policy;
        let default = Policy::default();
        // Every section as the defaults, but the example's allow list.
        for (name, a, b) in [
            ("mode", format!("{:?}", loaded.mode), format!("{:?}", default.mode)),
            ("deny_level", format!("{:?}", loaded.deny_level), format!("{:?}", default.deny_level)),
            ("levels", format!("{:?}", loaded.levels), format!("{:?}", default.levels)),
            ("weights", format!("{:?}", loaded.weights), format!("{:?}", default.weights)),
            ("travel", format!("{:?}", loaded.travel), format!("{:?}", default.travel)),
            ("snapshot", format!("{:?}", loaded.snapshot), format!("{:?}", default.snapshot)),
            ("scoring", format!("{:?}", loaded.scoring), format!("{:?}", default.scoring)),
        ] {
            assert_eq!(a, b, "docs/policy.md's [{name}] differs from the built-in policy");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn cidrs_match_v4_v6_and_mapped() {
        let c = Cidr::parse("81.2.69.0/24").unwrap();
        assert!(c.contains("81.2.69.142".parse().unwrap()));
        assert!(c.contains("::ffff:81.2.69.1".parse().unwrap()));
        assert!(!c.contains("81.2.70.1".parse().unwrap()));
        assert!(!c.contains("2a02::1".parse().unwrap()));
        let v6 = Cidr::parse("2a02:c7c::/32").unwrap();
        assert!(v6.contains("2a02:c7c:1::1".parse().unwrap()));
        assert!(!v6.contains("2a02:c7d::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/0").unwrap().contains("203.0.113.9".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4").unwrap().contains("1.2.3.4".parse().unwrap()));
        assert!(!Cidr::parse("1.2.3.4").unwrap().contains("1.2.3.5".parse().unwrap()));
        assert_eq!(Cidr::parse("1.2.3.0/33"), None);
        assert_eq!(Cidr::parse("nope/8"), None);
    }

    #[test]
    fn policy_loads_with_overrides_and_names_bad_keys() {
        let p = Policy::load(
            None,
            env(&[("AUTHTRAIL_POLICY__MODE", "enforce"), ("AUTHTRAIL_POLICY__LISTS__IP_DENY", "[\"10.0.0.0/8\"]")]),
        )
        .unwrap();
        assert_eq!(p.policy.mode, Mode::Enforce);
        assert_eq!(p.ip_deny.len(), 1);
        let err = Policy::load(None, env(&[("AUTHTRAIL_POLICY__LISTS__IP_DENY", "[\"10.0.0.0/99\"]")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lists.ip_deny") && err.contains("AUTHTRAIL_POLICY__LISTS__IP_DENY"), "{err}");
        let err = Policy::load(None, env(&[("AUTHTRAIL_POLICY__LEVELS__MEDIUM", "80")])).unwrap_err().to_string();
        assert!(err.contains("policy.levels"), "{err}");
        let err = Policy::load(None, env(&[("AUTHTRAIL_POLICY__WEIGHTS__NEW_CONTRY", "5")])).unwrap_err().to_string();
        assert!(err.contains("new_contry"), "{err}");
        let err = Policy::load(None, env(&[("AUTHTRAIL_POLICY__LISTS__COUNTRY_DENY", "[\"Narnia\"]")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lists.country_deny"), "{err}");
    }
}
