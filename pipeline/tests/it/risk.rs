//! The decision engine: each signal, the lists, snapshot fail modes, audit vs
//! enforce, and a forged context that tries to lower risk.

use chrono::{Duration, TimeZone, Utc};
use pipeline::config::{FailMode, Origins};
use pipeline::geo::AnonymousIp;
use pipeline::risk::{
    Attempt, CompiledPolicy, LastSuccess, Level, MemoryRisk, Mode, NoSnapshot, Policy, Risk, UserProfile, decide,
    distance_km,
};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn policy(edit: impl FnOnce(&mut Policy)) -> CompiledPolicy {
    let mut p = Policy::default();
    edit(&mut p);
    p.compile(&Origins::new()).unwrap()
}

/// Alice: a London regular on one laptop, last seen 40 minutes ago.
fn snapshot() -> MemoryRisk {
    let mut r = MemoryRisk { version: "snap-7".into(), built: now() - Duration::minutes(10), ..Default::default() };
    r.users.insert(
        MemoryRisk::key("pool", "alice"),
        UserProfile {
            known_countries: vec!["GB".into()],
            known_cities: vec!["London".into()],
            known_devices: vec!["laptop".into()],
            last_success: Some(LastSuccess {
                time: now() - Duration::minutes(40),
                latitude: 51.5142,
                longitude: -0.0931,
                accuracy_radius_km: 10.0,
                country: Some("GB".into()),
            }),
            login_count: 120,
            usual_hours: 0x0000_ff00,
            risk: 0,
            reasons: vec![],
        },
    );
    r.ips.insert("203.0.113.7".parse().unwrap(), Risk { score: 80, reasons: vec!["credential_stuffing".into()] });
    r.asns.insert(64500, Risk { score: 40, reasons: vec!["failure_ratio".into()] });
    r
}

/// Alice at home, verified: nothing to say.
fn home() -> Attempt<'static> {
    Attempt {
        user_pool_id: "pool",
        username: "alice",
        time: now(),
        ip: Some("81.2.69.142".parse().unwrap()),
        ip_verified: true,
        unverified_because: None,
        country: Some("GB"),
        city: Some("London"),
        latitude: Some(51.5142),
        longitude: Some(-0.0931),
        accuracy_radius_km: Some(10),
        asn: Some(1221),
        anonymous: None,
        device_key: Some("laptop"),
    }
}

#[test]
fn a_usual_sign_in_is_low_and_allowed() {
    let d = decide(&CompiledPolicy::default(), &snapshot(), &home());
    assert_eq!((d.action, d.score, d.level), ("allow", 0, Level::Low));
    assert!(d.reasons.is_empty(), "{:?}", d.reasons);
    assert_eq!(d.snapshot_version.as_deref(), Some("snap-7"));
    assert_eq!(d.login_count, Some(120));
}

#[test]
fn sydney_forty_minutes_after_london_is_impossible_travel_and_denied_in_enforce() {
    let sydney = Attempt {
        ip: Some("1.128.0.1".parse().unwrap()),
        country: Some("AU"),
        city: Some("Sydney"),
        latitude: Some(-33.8688),
        longitude: Some(151.2093),
        accuracy_radius_km: Some(20),
        device_key: Some("new-phone"),
        ..home()
    };
    let audit = decide(&CompiledPolicy::default(), &snapshot(), &sydney);
    assert_eq!(audit.action, "allow", "audit mode records but allows");
    assert_eq!(audit.level, Level::High);
    for r in ["new_country:AU", "new_city:Sydney", "new_device"] {
        assert!(audit.reasons.iter().any(|x| x == r), "{r} in {:?}", audit.reasons);
    }
    assert!(audit.reasons.iter().any(|x| x.starts_with("impossible_travel:169")), "{:?}", audit.reasons);
    let enforce = decide(&policy(|p| p.mode = Mode::Enforce), &snapshot(), &sydney);
    assert_eq!((enforce.action, enforce.score), ("deny", 100));
}

#[test]
fn a_plausible_flight_is_not_impossible_travel() {
    // London → Stockholm (1 430 km) four hours later: 360 km/h.
    let mut r = snapshot();
    r.users.get_mut("pool/alice").unwrap().last_success.as_mut().unwrap().time = now() - Duration::hours(4);
    let stockholm = Attempt {
        country: Some("SE"),
        city: Some("Stockholm"),
        latitude: Some(59.3327),
        longitude: Some(18.0656),
        ..home()
    };
    let d = decide(&policy(|p| p.mode = Mode::Enforce), &r, &stockholm);
    assert!(!d.reasons.iter().any(|x| x.starts_with("impossible_travel")), "{:?}", d.reasons);
    assert_eq!(d.action, "allow");
    assert!(d.reasons.contains(&"new_country:SE".to_string()));
}

#[test]
fn short_hops_and_hosting_ranges_never_count_as_travel() {
    // Reading is 60 km from London: GeoIP noise, even a minute later.
    let reading = Attempt { city: Some("Reading"), latitude: Some(51.4543), longitude: Some(-0.9781), ..home() };
    let d = decide(&CompiledPolicy::default(), &snapshot(), &reading);
    assert!(!d.reasons.iter().any(|x| x.starts_with("impossible_travel")), "{:?}", d.reasons);
    let hosting = AnonymousIp { is_hosting_provider: true, ..Default::default() };
    let cloud = Attempt { latitude: Some(-33.8688), longitude: Some(151.2093), anonymous: Some(&hosting), ..home() };
    let d = decide(&CompiledPolicy::default(), &snapshot(), &cloud);
    assert!(!d.reasons.iter().any(|x| x.starts_with("impossible_travel")), "{:?}", d.reasons);
    assert!(d.reasons.contains(&"hosting_provider".to_string()));
}

#[test]
fn an_attempt_older_than_the_last_success_is_not_travel() {
    let sydney_before =
        Attempt { time: now() - Duration::hours(2), latitude: Some(-33.8688), longitude: Some(151.2093), ..home() };
    let d = decide(&CompiledPolicy::default(), &snapshot(), &sydney_before);
    assert!(!d.reasons.iter().any(|x| x.starts_with("impossible_travel")), "{:?}", d.reasons);
}

#[test]
fn ip_asn_and_anonymizer_signals_add_up() {
    let tor = AnonymousIp { is_anonymous: true, is_tor_exit_node: true, ..Default::default() };
    let a = Attempt { ip: Some("203.0.113.7".parse().unwrap()), asn: Some(64500), anonymous: Some(&tor), ..home() };
    let d = decide(&CompiledPolicy::default(), &snapshot(), &a);
    assert!(d.reasons.iter().any(|r| r == "ip_risk:80(credential_stuffing)"), "{:?}", d.reasons);
    assert!(d.reasons.iter().any(|r| r == "asn_risk:40(failure_ratio)"), "{:?}", d.reasons);
    assert!(d.reasons.contains(&"tor_exit_node".to_string()));
    assert_eq!((d.score, d.level), (100, Level::High));
}

#[test]
fn lists_deny_and_allow() {
    let p = policy(|p| {
        p.mode = Mode::Enforce;
        p.lists.ip_deny = vec!["81.2.69.0/24".into()];
    });
    let d = decide(&p, &snapshot(), &home());
    assert_eq!((d.action, d.reasons.clone()), ("deny", vec!["ip_denylisted".to_string()]));
    let p = policy(|p| {
        p.mode = Mode::Enforce;
        p.lists.country_deny = vec!["gb".into()];
    });
    assert_eq!(decide(&p, &snapshot(), &home()).action, "deny");
    let p = policy(|p| p.lists.country_allow = vec!["SE".into()]);
    let d = decide(&p, &snapshot(), &home());
    assert!(d.reasons.contains(&"country_not_allowed:GB".to_string()) && d.level == Level::High, "{d:?}");
    let p = policy(|p| p.lists.ip_allow = vec!["203.0.113.0/24".into()]);
    let risky = Attempt { ip: Some("203.0.113.7".parse().unwrap()), ..home() };
    let d = decide(&p, &snapshot(), &risky);
    assert_eq!((d.score, d.reasons.clone()), (0, vec!["ip_allowlisted".to_string()]));
}

#[test]
fn a_forged_context_cannot_lower_risk() {
    // An attacker forges an unsigned context claiming Alice's home IP, which
    // is also allow-listed: no allow-list bypass, and the unverified weight
    // is added on top of everything else.
    let p = policy(|p| p.lists.ip_allow = vec!["81.2.69.0/24".into()]);
    let forged =
        Attempt { ip_verified: false, unverified_because: Some("unsigned"), device_key: Some("attacker"), ..home() };
    let d = decide(&p, &snapshot(), &forged);
    assert!(!d.reasons.contains(&"ip_allowlisted".to_string()), "{:?}", d.reasons);
    assert!(d.reasons.contains(&"unverified_context:unsigned".to_string()));
    assert!(d.reasons.contains(&"new_device".to_string()));
    // The same claim, verified, is what the allow list is for.
    let honest = decide(&p, &snapshot(), &Attempt { device_key: Some("attacker"), ..home() });
    assert_eq!(honest.reasons, vec!["ip_allowlisted".to_string()]);
    assert!(d.score > honest.score);
    let verified_unlisted =
        decide(&CompiledPolicy::default(), &snapshot(), &Attempt { device_key: Some("attacker"), ..home() });
    assert!(d.score > verified_unlisted.score, "{} vs {}", d.score, verified_unlisted.score);
}

#[test]
fn snapshot_missing_stale_fail_open_or_closed() {
    let d = decide(&CompiledPolicy::default(), &NoSnapshot, &home());
    assert_eq!((d.action, d.reasons.clone()), ("allow", vec!["snapshot_missing".to_string()]));
    let mut stale = snapshot();
    stale.built = now() - Duration::days(2);
    let d = decide(&CompiledPolicy::default(), &stale, &home());
    assert!(d.reasons.iter().any(|r| r.starts_with("snapshot_stale:")), "{:?}", d.reasons);
    assert_eq!(d.login_count, None, "a stale snapshot is not used");
    let closed = policy(|p| {
        p.mode = Mode::Enforce;
        p.snapshot.fail_mode = FailMode::Closed;
    });
    let d = decide(&closed, &NoSnapshot, &home());
    assert_eq!(d.action, "deny");
    assert!(d.reasons.contains(&"snapshot_fail_closed".to_string()));
    // Audit mode never denies, even fail-closed.
    let audit_closed = policy(|p| p.snapshot.fail_mode = FailMode::Closed);
    assert_eq!(decide(&audit_closed, &NoSnapshot, &home()).action, "allow");
}

#[test]
fn an_hour_the_user_never_signs_in_adds_a_little() {
    let at_three = Attempt { time: Utc.with_ymd_and_hms(2026, 6, 1, 3, 0, 0).unwrap(), ..home() };
    let mut r = snapshot();
    r.built = at_three.time - Duration::minutes(1);
    let d = decide(&policy(|_| {}), &r, &at_three);
    assert_eq!((d.score, d.reasons.clone()), (5, vec!["unusual_hour:03".to_string()]));
    // Too little history to know the user's hours: nothing.
    r.users.values_mut().for_each(|u| u.login_count = 9);
    assert!(decide(&policy(|_| {}), &r, &at_three).reasons.is_empty());
}

#[test]
fn great_circle_distances() {
    let london_sydney = distance_km(51.5074, -0.1278, -33.8688, 151.2093);
    assert!((london_sydney - 16_990.0).abs() < 30.0, "{london_sydney}");
    assert!(distance_km(10.0, 10.0, 10.0, 10.0).abs() < 1e-9);
}
