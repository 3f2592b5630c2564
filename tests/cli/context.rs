use super::{authtrail, stderr, stdout};

#[test]
fn signed_context_from_the_cli_verifies_in_the_trigger() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = [("AUTHTRAIL_CONTEXT_SECRET", "cli-secret")];
    let signed = authtrail(
        tmp.path(),
        &[
            "context",
            "sign",
            "--username",
            "carol",
            "--ip",
            "216.160.83.56",
            "--user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
        ],
        &secret,
    );
    assert!(signed.status.success(), "{}", stderr(&signed));
    let metadata: serde_json::Value = serde_json::from_str(&stdout(&signed)).unwrap();
    assert_eq!(metadata["authtrail:ip"], "216.160.83.56");
    assert_eq!(metadata["authtrail:sig"].as_str().unwrap().len(), 64);

    let event = serde_json::json!({
        "version": "1", "region": "us-west-2", "userPoolId": "us-west-2_EXAMPLE", "userName": "carol",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
        "triggerSource": "PreAuthentication_Authentication",
        "request": {"userAttributes": {"sub": "s"}, "validationData": metadata},
        "response": {}
    });
    let path = tmp.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    let geo = super::root().join("tests/data/maxmind/GeoIP2-City-Test.mmdb");
    let env = [secret[0], ("AUTHTRAIL__GEOIP__CITY", geo.to_str().unwrap())];
    let out = authtrail(tmp.path(), &["invoke", "pre-auth", path.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let emitted: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(emitted["context_status"], "verified");
    assert_eq!(emitted["geo_city"], "Milton");
    // The wrong secret: same event, unverified.
    let out = authtrail(
        tmp.path(),
        &["invoke", "pre-auth", path.to_str().unwrap()],
        &[("AUTHTRAIL_CONTEXT_SECRET", "other")],
    );
    let emitted: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(emitted["context_status"], "bad_signature");
}

#[test]
fn signing_without_a_secret_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = authtrail(tmp.path(), &["context", "sign", "--username", "u", "--ip", "1.2.3.4"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("AUTHTRAIL_CONTEXT_SECRET is not set"), "{}", stderr(&out));
    let out = authtrail(
        tmp.path(),
        &["context", "sign", "--username", "u", "--ip", "nope"],
        &[("AUTHTRAIL_CONTEXT_SECRET", "s")],
    );
    assert!(stderr(&out).contains("not an IP address"), "{}", stderr(&out));
}
