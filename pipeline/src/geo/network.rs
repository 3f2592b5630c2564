//! Network facts: autonomous system (GeoLite2-ASN layout, also used by the
//! DB-IP ASN Lite files) and anonymizer flags (GeoIP2-Anonymous-IP layout).

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use super::{Db, GeoError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asn {
    pub number: u32,
    pub organization: Option<String>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

pub struct AsnDb {
    db: Db,
}

impl AsnDb {
    fn new(db: Db) -> Result<Self, GeoError> {
        db.expect_type("ASN", |t| t.contains("ASN") || t.eq_ignore_ascii_case("asn"))?;
        db.probe::<AsnRecord<'_>>("ASN")?;
        Ok(AsnDb { db })
    }

    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Self::new(Db::open(path)?)
    }

    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<Self, GeoError> {
        Self::new(Db::from_static(name, bytes)?)
    }

    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Asn>, GeoError> {
        let ip = ip.to_canonical();
        if ip.is_ipv6() && self.db.ip_version() == 4 {
            return Ok(None);
        }
        let r = self.db.reader.lookup(ip)?.decode::<AsnRecord<'_>>()?;
        Ok(r.and_then(|r| {
            Some(Asn {
                number: r.autonomous_system_number?,
                organization: r.autonomous_system_organization.filter(|s| !s.is_empty()).map(str::to_string),
            })
        }))
    }

    pub fn describe(&self) -> String {
        self.db.describe("ASN layout")
    }
}

/// Anonymizer flags; an absent flag in the database means false for a
/// listed network, and the whole value is `None` for an unlisted one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AnonymousIp {
    #[serde(default)]
    pub is_anonymous: bool,
    #[serde(default)]
    pub is_anonymous_vpn: bool,
    #[serde(default)]
    pub is_hosting_provider: bool,
    #[serde(default)]
    pub is_public_proxy: bool,
    #[serde(default)]
    pub is_residential_proxy: bool,
    #[serde(default)]
    pub is_tor_exit_node: bool,
}

pub struct AnonymousIpDb {
    db: Db,
}

impl AnonymousIpDb {
    fn new(db: Db) -> Result<Self, GeoError> {
        db.expect_type("Anonymous-IP", |t| t.contains("Anonymous"))?;
        db.probe::<AnonymousIp>("Anonymous-IP")?;
        Ok(AnonymousIpDb { db })
    }

    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Self::new(Db::open(path)?)
    }

    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<Self, GeoError> {
        Self::new(Db::from_static(name, bytes)?)
    }

    pub fn lookup(&self, ip: IpAddr) -> Result<Option<AnonymousIp>, GeoError> {
        let ip = ip.to_canonical();
        if ip.is_ipv6() && self.db.ip_version() == 4 {
            return Ok(None);
        }
        // Unlisted networks are stored as empty maps: treat them as not listed.
        let r = self.db.reader.lookup(ip)?.decode::<AnonymousIp>()?;
        Ok(r.filter(|a| a != &AnonymousIp::default()))
    }

    pub fn describe(&self) -> String {
        self.db.describe("Anonymous-IP layout")
    }
}
