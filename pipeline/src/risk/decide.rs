//! The decision: signals → weighted 0–100 score → level → action, with the
//! reasons a security engineer reads. Unverified context may raise the score
//! and never lowers it: the allow list needs a verified IP, and a forged
//! "home" location cannot hide the unverified-context weight.

use std::net::IpAddr;

use chrono::{DateTime, Timelike, Utc};

use super::policy::{CompiledPolicy, Level, Mode};
use super::{FailMode, RiskSource, SnapshotState};
use crate::geo::AnonymousIp;

/// What the trigger knows about one sign-in attempt.
#[derive(Debug, Clone, Default)]
pub struct Attempt<'a> {
    pub user_pool_id: &'a str,
    pub username: &'a str,
    pub time: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    pub ip_verified: bool,
    /// Why the context is unverified (`context_status`), when it is.
    pub unverified_because: Option<&'a str>,
    pub country: Option<&'a str>,
    pub city: Option<&'a str>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_radius_km: Option<i32>,
    pub asn: Option<u32>,
    pub anonymous: Option<&'a AnonymousIp>,
    pub device_key: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `allow` or `deny`.
    pub action: &'static str,
    pub score: u8,
    pub level: Level,
    pub reasons: Vec<String>,
    pub snapshot_version: Option<String>,
    /// Successful sign-ins known for the user.
    pub login_count: Option<i64>,
}

/// Great-circle distance (haversine, mean Earth radius 6 371 km).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

struct Score {
    points: u32,
    reasons: Vec<String>,
}

impl Score {
    fn add(&mut self, weight: u32, reason: String) {
        if weight > 0 {
            self.points += weight;
            self.reasons.push(reason);
        }
    }
}

pub fn decide(p: &CompiledPolicy, risk: &dyn RiskSource, a: &Attempt<'_>) -> Decision {
    // Every lookup below reads the same snapshot version, even if a newer
    // one is swapped in meanwhile.
    let pinned = risk.pinned();
    let risk: &dyn RiskSource = pinned.as_deref().unwrap_or(risk);
    let w = &p.policy.weights;
    let mut s = Score { points: 0, reasons: Vec::new() };
    let finish = |s: Score, snapshot_version: Option<String>, login_count: Option<i64>| {
        let score = s.points.min(100) as u8;
        let level = if score >= p.policy.levels.high {
            Level::High
        } else if score >= p.policy.levels.medium {
            Level::Medium
        } else {
            Level::Low
        };
        let deny = p.policy.mode == Mode::Enforce && level >= p.policy.deny_level;
        Decision {
            action: if deny { "deny" } else { "allow" },
            score,
            level,
            reasons: s.reasons,
            snapshot_version,
            login_count,
        }
    };

    // Hard lists first.
    if let Some(ip) = a.ip {
        if p.ip_deny.iter().any(|c| c.contains(ip)) {
            s.add(100, "ip_denylisted".into());
            return finish(s, None, None);
        }
        if a.ip_verified && p.ip_allow.iter().any(|c| c.contains(ip)) {
            s.reasons.push("ip_allowlisted".into());
            return finish(s, None, None);
        }
    }
    if let Some(c) = a.country {
        if p.country_deny.contains(c) {
            s.add(100, format!("country_denied:{c}"));
            return finish(s, None, None);
        }
        if !p.country_allow.is_empty() && !p.country_allow.contains(c) {
            s.add(w.country_not_allowed.into(), format!("country_not_allowed:{c}"));
        }
    }
    if let Some(why) = a.unverified_because {
        s.add(w.unverified_context.into(), format!("unverified_context:{why}"));
    }
    // The anonymizer flags that are set, with their weights.
    let anonymizer: Vec<(u8, &str)> = a
        .anonymous
        .map(|anon| {
            [
                (anon.is_tor_exit_node, w.tor, "tor_exit_node"),
                (anon.is_public_proxy, w.public_proxy, "public_proxy"),
                (anon.is_residential_proxy, w.residential_proxy, "residential_proxy"),
                (anon.is_anonymous_vpn, w.anonymous_vpn, "anonymous_vpn"),
                (anon.is_hosting_provider, w.hosting, "hosting_provider"),
            ]
        })
        .into_iter()
        .flatten()
        .filter_map(|(on, weight, name)| on.then_some((weight, name)))
        .collect();
    // They describe one fact (the address is not the person's own line; a
    // VPN exit is usually on a hosting network too): the strongest counts,
    // every one is named.
    if let Some(strongest) = anonymizer.iter().map(|f| f.0).max() {
        s.add(strongest.into(), anonymizer.iter().map(|f| f.1).collect::<Vec<_>>().join("+"));
    }

    // What the snapshot knows.
    let state = risk.state(a.time, p.policy.snapshot.max_age_secs);
    let (usable, version) = match &state {
        SnapshotState::Fresh { version } => (true, Some(version.clone())),
        SnapshotState::Stale { version, age_secs } => {
            s.reasons.push(format!("snapshot_stale:{age_secs}s"));
            (false, Some(version.clone()))
        }
        SnapshotState::Missing => {
            s.reasons.push("snapshot_missing".into());
            (false, None)
        }
        SnapshotState::Corrupt(why) => {
            s.reasons.push(format!("snapshot_corrupt:{why}"));
            (false, None)
        }
    };
    if !usable && p.policy.snapshot.fail_mode == FailMode::Closed {
        s.add(100, "snapshot_fail_closed".into());
        return finish(s, version, None);
    }
    let mut login_count = None;
    if usable {
        if let Some(r) = a.ip.and_then(|ip| risk.ip(ip)) {
            let points = (f32::from(r.score) * w.ip_risk_factor).round() as u32;
            s.add(points, format!("ip_risk:{}({})", r.score, r.reasons.join(",")));
        }
        if let Some(r) = a.asn.and_then(|asn| risk.asn(asn)) {
            let points = (f32::from(r.score) * w.asn_risk_factor).round() as u32;
            s.add(points, format!("asn_risk:{}({})", r.score, r.reasons.join(",")));
        }
        if let Some(u) = risk.user(a.user_pool_id, a.username) {
            login_count = Some(u.login_count);
            let points = (f32::from(u.risk) * w.user_risk_factor).round() as u32;
            s.add(points, format!("user_risk:{}({})", u.risk, u.reasons.join(",")));
            if let Some(c) = a.country
                && !u.known_countries.is_empty()
                && !u.known_countries.iter().any(|k| k == c)
            {
                s.add(w.new_country.into(), format!("new_country:{c}"));
            }
            if let Some(c) = a.city
                && !u.known_cities.is_empty()
                && !u.known_cities.iter().any(|k| k == c)
            {
                s.add(w.new_city.into(), format!("new_city:{c}"));
            }
            if let Some(d) = a.device_key
                && !u.known_devices.is_empty()
                && !u.known_devices.iter().any(|k| k == d)
            {
                s.add(w.new_device.into(), "new_device".into());
            }
            let hour = a.time.hour();
            if u.login_count >= i64::from(w.unusual_hour_min_logins)
                && u.usual_hours != 0
                && u.usual_hours & (1 << hour) == 0
            {
                s.add(w.unusual_hour.into(), format!("unusual_hour:{hour:02}"));
            }
            let anonymized = !anonymizer.is_empty();
            let same_country =
                u.last_success.as_ref().and_then(|l| l.country.as_deref()).is_some_and(|c| a.country == Some(c));
            // An attempt older than the last success (late or replayed data)
            // says nothing about travel.
            if let (Some(last), Some(lat), Some(lon)) = (&u.last_success, a.latitude, a.longitude)
                && !(anonymized && p.policy.travel.ignore_anonymizers)
                && !(same_country && p.policy.travel.across_countries_only)
                && a.time >= last.time
            {
                let radius = f64::from(a.accuracy_radius_km.unwrap_or(0)) + last.accuracy_radius_km;
                let km = (distance_km(last.latitude, last.longitude, lat, lon) - radius).max(0.0);
                // At least a minute, so two sign-ins at once are not infinitely fast.
                let hours = ((a.time - last.time).num_seconds().max(60) as f64) / 3600.0;
                let speed = km / hours;
                if km >= p.policy.travel.min_distance_km && speed > p.policy.travel.max_speed_kmh {
                    s.add(
                        w.impossible_travel.into(),
                        format!("impossible_travel:{km:.0}km_in_{:.0}min({speed:.0}km/h)", hours * 60.0),
                    );
                }
            }
        }
    }
    finish(s, version, login_count)
}
