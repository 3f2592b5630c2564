//! Adaptive blocking at decision time: the policy, what the risk snapshot
//! knows about users and IPs ([`RiskSource`]), and the decision itself.
//!
//! The scorer (DataFusion SQL over the lake) and the snapshot file format
//! produce a [`RiskSource`]; until they exist, [`MemoryRisk`] holds profiles
//! in memory (tests, replays) and [`NoSnapshot`] knows nothing.

mod decide;
pub mod location;
pub mod policy;
pub mod snapshot;

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

pub use decide::{Attempt, Decision, decide, distance_km};
pub use policy::{CompiledPolicy, Level, Mode, Policy, Scoring};

/// What happens when something a sign-in depends on fails: the event's
/// delivery (`stream.fail_mode`) or the risk snapshot (the policy's
/// `[snapshot] fail_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Let the sign-in proceed (a delivery failure spills the event to the log).
    #[default]
    Open,
    /// Deny it (the event is still spilled; a snapshot failure adds 100 points).
    Closed,
}

/// The last successful sign-in of a user, for impossible travel.
#[derive(Debug, Clone, PartialEq)]
pub struct LastSuccess {
    pub time: DateTime<Utc>,
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_radius_km: f64,
    pub country: Option<String>,
}

/// What the snapshot knows about one user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserProfile {
    pub known_countries: Vec<String>,
    pub known_cities: Vec<String>,
    pub known_devices: Vec<String>,
    pub last_success: Option<LastSuccess>,
    pub login_count: i64,
    /// Bit h set: the user signed in successfully in UTC hour h (0–23)
    /// among the recent sign-ins the scorer considers.
    pub usual_hours: u32,
    /// 0–100 from the scorer, with its reasons.
    pub risk: u8,
    pub reasons: Vec<String>,
}

/// A 0–100 score for an IP or an ASN, with the reasons behind it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Risk {
    pub score: u8,
    pub reasons: Vec<String>,
}

/// Whether the snapshot can be trusted right now.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotState {
    Fresh { version: String },
    Stale { version: String, age_secs: u64 },
    Missing,
    Corrupt(String),
}

/// The risk snapshot as the decision sees it.
pub trait RiskSource: Send + Sync {
    fn state(&self, now: DateTime<Utc>, max_age_secs: u64) -> SnapshotState;
    fn user(&self, user_pool_id: &str, username: &str) -> Option<UserProfile>;
    fn ip(&self, ip: IpAddr) -> Option<Risk>;
    fn asn(&self, asn: u32) -> Option<Risk>;
    /// Seconds since the snapshot in use was built (for the metrics line).
    fn age_secs(&self, _now: DateTime<Utc>) -> Option<u64> {
        None
    }
    /// One version to read for a whole decision, when this source can swap
    /// versions between lookups (a snapshot reloaded in the background).
    fn pinned(&self) -> Option<std::sync::Arc<dyn RiskSource>> {
        None
    }
}

impl<T: RiskSource + ?Sized> RiskSource for std::sync::Arc<T> {
    fn state(&self, now: DateTime<Utc>, max_age_secs: u64) -> SnapshotState {
        (**self).state(now, max_age_secs)
    }
    fn user(&self, user_pool_id: &str, username: &str) -> Option<UserProfile> {
        (**self).user(user_pool_id, username)
    }
    fn ip(&self, ip: IpAddr) -> Option<Risk> {
        (**self).ip(ip)
    }
    fn asn(&self, asn: u32) -> Option<Risk> {
        (**self).asn(asn)
    }
    fn age_secs(&self, now: DateTime<Utc>) -> Option<u64> {
        (**self).age_secs(now)
    }
    fn pinned(&self) -> Option<std::sync::Arc<dyn RiskSource>> {
        (**self).pinned()
    }
}

/// No snapshot at all.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSnapshot;

impl RiskSource for NoSnapshot {
    fn state(&self, _: DateTime<Utc>, _: u64) -> SnapshotState {
        SnapshotState::Missing
    }
    fn user(&self, _: &str, _: &str) -> Option<UserProfile> {
        None
    }
    fn ip(&self, _: IpAddr) -> Option<Risk> {
        None
    }
    fn asn(&self, _: u32) -> Option<Risk> {
        None
    }
}

/// Profiles held in memory, published at `built`.
#[derive(Debug, Clone, Default)]
pub struct MemoryRisk {
    pub version: String,
    pub built: DateTime<Utc>,
    pub users: HashMap<String, UserProfile>,
    pub ips: HashMap<IpAddr, Risk>,
    pub asns: HashMap<u32, Risk>,
}

impl MemoryRisk {
    pub fn key(user_pool_id: &str, username: &str) -> String {
        crate::event::user_key(user_pool_id, username)
    }
}

impl RiskSource for MemoryRisk {
    fn state(&self, now: DateTime<Utc>, max_age_secs: u64) -> SnapshotState {
        let age = (now - self.built).num_seconds().max(0) as u64;
        if age > max_age_secs {
            SnapshotState::Stale { version: self.version.clone(), age_secs: age }
        } else {
            SnapshotState::Fresh { version: self.version.clone() }
        }
    }
    fn user(&self, user_pool_id: &str, username: &str) -> Option<UserProfile> {
        self.users.get(&Self::key(user_pool_id, username)).cloned()
    }
    fn ip(&self, ip: IpAddr) -> Option<Risk> {
        self.ips.get(&ip.to_canonical()).cloned()
    }
    fn asn(&self, asn: u32) -> Option<Risk> {
        self.asns.get(&asn).cloned()
    }
    fn age_secs(&self, now: DateTime<Utc>) -> Option<u64> {
        Some((now - self.built).num_seconds().max(0) as u64)
    }
}
