use chrono::{Duration, SecondsFormat, TimeZone, Utc};
use pipeline::context::SignInContext;
use serde_json::json;

use super::{authtrail, stderr, stdout};

/// An address the embedded GeoIP extract places in `city`, on an ordinary
/// (not a hosting or VPN) network.
fn address_in(city: &str) -> String {
    let data = super::root().join("tests/data/geoip-extract");
    let bytes = std::fs::read(data.join("extract-city.mmdb")).unwrap();
    let anonymous = pipeline::geo::AnonymousIpDb::open(&data.join("extract-anonymous.mmdb")).unwrap();
    let networks = pipeline::geo::extract::city_networks(&bytes).unwrap();
    let ordinary = networks.iter().filter(|n| n.city == city).find(|n| anonymous.lookup(n.host(7)).unwrap().is_none());
    ordinary.unwrap().host(7).to_string()
}

/// Alice signs in from London, then from Sydney 30 minutes later; a line
/// of garbage in between.
fn replay_file() -> String {
    let t0 = Utc.with_ymd_and_hms(2026, 2, 3, 8, 1, 0).unwrap();
    let line = |at: chrono::DateTime<Utc>, source: &str, request: serde_json::Value| {
        let event = json!({
            "version": "1", "region": "eu-west-1", "userPoolId": "eu-west-1_Cli", "userName": "alice",
            "callerContext": { "awsSdkVersion": "aws-sdk-js-3.700.0", "clientId": "c1" },
            "triggerSource": source, "request": request, "response": {}
        });
        json!({ "receivedAt": at.to_rfc3339_opts(SecondsFormat::Secs, true), "event": event, "label": "benign" })
            .to_string()
    };
    let pre = |at: chrono::DateTime<Utc>, ip: &str, device: &str| {
        let ctx = SignInContext {
            ip: ip.into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
            device: device.into(),
            nonce: format!("n{}", at.timestamp()),
            issued_at: at.timestamp(),
        };
        let request =
            json!({ "userAttributes": { "sub": "s-alice" }, "validationData": ctx.sign("alice", b"cli-secret") });
        line(at, "PreAuthentication_Authentication", request)
    };
    let post = |at| line(at, "PostAuthentication_Authentication", json!({ "userAttributes": { "sub": "s-alice" } }));
    let later = t0 + Duration::minutes(30);
    let (london, sydney) = (address_in("London"), address_in("Sydney"));
    [pre(t0, &london, "laptop"), post(t0 + Duration::seconds(1)), "garbage".into(), pre(later, &sydney, "phone")]
        .join("\n")
}

#[test]
fn replay_writes_decisions_and_rejects_with_line_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("signins.jsonl"), replay_file()).unwrap();
    let env = [("AUTHTRAIL_CONTEXT_SECRET", "cli-secret"), ("AUTHTRAIL_POLICY__MODE", "enforce")];
    let out = authtrail(tmp.path(), &["replay", "signins.jsonl", "--decisions", "out.jsonl"], &env);
    assert_eq!(out.status.code(), Some(1), "a rejected line exits 1: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("replayed 3 of 4 lines (2 pre-auth, 1 post-auth)"), "{}", stdout(&out));
    let decisions: Vec<serde_json::Value> = std::fs::read_to_string(tmp.path().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), 2);
    assert_eq!((decisions[0]["line"].as_u64(), decisions[0]["action"].as_str()), (Some(1), Some("allow")));
    assert_eq!(
        (decisions[1]["line"].as_u64(), decisions[1]["action"].as_str()),
        (Some(4), Some("deny")),
        "{decisions:?}"
    );
    assert!(
        decisions[1]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("impossible_travel:"))
    );
    let rejected = std::fs::read_to_string(tmp.path().join("out.rejected.jsonl")).unwrap();
    assert!(rejected.starts_with("{\"line\":3,\"reason\":\"not a replay line"), "{rejected}");

    // The same file under an audit policy file: recorded, not denied.
    std::fs::write(tmp.path().join("audit.toml"), "version = \"audit-1\"\nmode = \"audit\"\n").unwrap();
    let env = [("AUTHTRAIL_CONTEXT_SECRET", "cli-secret")];
    let out =
        authtrail(tmp.path(), &["replay", "signins.jsonl", "--decisions", "a.jsonl", "--policy", "audit.toml"], &env);
    assert_eq!(out.status.code(), Some(1));
    let audit = std::fs::read_to_string(tmp.path().join("a.jsonl")).unwrap();
    assert_eq!(audit.matches("\"action\":\"allow\"").count(), 2, "{audit}");
    assert!(audit.contains("\"level\":\"high\""), "{audit}");

    let bad =
        authtrail(tmp.path(), &["replay", "signins.jsonl", "--decisions", "b.jsonl", "--score-every", "5x"], &env);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("the unit must be s, m, h or d"), "{}", stderr(&bad));
}
