//! A small GeoIP extract from full databases: a few real networks in each of
//! a list of cities, with their ASN, and hosting / VPN networks flagged, as
//! three MMDB files the enricher reads like any other. The demo and the
//! traffic simulator use it so they need no download; it is rebuilt from
//! DB-IP Lite City and the ip-location-db ASN list by
//! `scripts/geoip-extract`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;

use super::city::FlatCity;
use super::mmdb_writer::{MmdbWriter, Value};

/// One city of the extract (`tests/data/geoip-extract/cities.toml`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CitySpec {
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The names the city database uses for it (default: `name`).
    #[serde(default)]
    pub db_names: Vec<String>,
    /// IANA time zone (DB-IP Lite has none); written into the extract.
    pub time_zone: String,
    /// Its standard offset from UTC in hours (no daylight saving).
    pub utc_offset: f32,
    /// Rough share of a simulated pool's users.
    pub weight: u32,
}

#[derive(Debug, Deserialize)]
struct CityList {
    city: Vec<CitySpec>,
}

/// Parses a `cities.toml`.
pub fn parse_cities(text: &str) -> Result<Vec<CitySpec>, String> {
    let list: CityList = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(list.city)
}

/// Networks of big cloud providers: sign-ins from them are automation or
/// people on a self-hosted VPN (`is_hosting_provider`).
pub const HOSTING_ASNS: &[u32] = &[16509, 8075, 396982, 16276, 24940, 14061, 20473, 63949, 51167];
/// Networks operated by consumer VPN services (Mullvad, Proton, NordVPN's
/// PacketHub): flagged `is_anonymous_vpn`. By owner, not by observation.
pub const VPN_ASNS: &[u32] = &[39351, 62371, 209103, 136787, 207137];

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("cannot write the extract: {0}")]
    Write(String),
}

/// The three databases, as bytes.
pub struct Extract {
    pub city: Vec<u8>,
    pub asn: Vec<u8>,
    pub anonymous: Vec<u8>,
    /// One line per city: how many networks were taken and from how many ASNs.
    pub report: Vec<String>,
}

/// `ip_start,ip_end,asn,org` rows (IPv4), sorted by start.
struct AsnRanges(Vec<(u32, u32, u32, String)>);

impl AsnRanges {
    fn load(path: &Path) -> Result<AsnRanges, ExtractError> {
        let bad = |message: String| ExtractError::Input { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut parts = line.splitn(4, ',');
            let (Some(a), Some(b), Some(asn), Some(org)) = (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad(format!("line {}: expected ip_start,ip_end,asn,org", n + 1)));
            };
            let (Ok(a), Ok(b), Ok(asn)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>(), asn.parse::<u32>()) else {
                return Err(bad(format!("line {}: not an IPv4 range with an AS number", n + 1)));
            };
            // CSV quoting: "…" around the field, "" for a quote inside it.
            let org = org
                .strip_prefix('"')
                .and_then(|o| o.strip_suffix('"'))
                .map_or(org.to_string(), |o| o.replace("\"\"", "\""));
            rows.push((u32::from(a), u32::from(b), asn, org));
        }
        rows.sort_by_key(|r| r.0);
        Ok(AsnRanges(rows))
    }

    /// The AS announcing all of `first..=last`, if one range covers it.
    fn covering(&self, first: u32, last: u32) -> Option<(u32, &str)> {
        let i = self.0.partition_point(|r| r.0 <= first).checked_sub(1)?;
        let (_, end, asn, org) = &self.0[i];
        // No other (nested) range may start inside the network.
        let alone = self.0.get(i + 1).is_none_or(|next| next.0 > last);
        (last <= *end && alone).then_some((*asn, org.as_str()))
    }
}

struct Picked {
    network: IpAddr,
    prefix: u8,
    city: usize,
    state: String,
    latitude: f32,
    longitude: f32,
    asn: (u32, String),
}

/// Builds the extract: per city up to `per_city` ordinary networks (at most
/// three from one ASN, so several providers appear) plus up to `per_city / 4`
/// hosting and VPN networks each, all /16 to /24 and announced whole by one AS.
pub fn extract(city_db: &Path, asn_csv: &Path, cities: &[CitySpec], per_city: usize) -> Result<Extract, ExtractError> {
    let input = |path: &Path, e: &dyn std::fmt::Display| ExtractError::Input {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let asns = AsnRanges::load(asn_csv)?;
    let reader = Reader::open_readfile(city_db).map_err(|e| input(city_db, &e))?;
    let mut by_name: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, c) in cities.iter().enumerate() {
        let names: Vec<&str> =
            if c.db_names.is_empty() { vec![c.name.as_str()] } else { c.db_names.iter().map(String::as_str).collect() };
        for n in names {
            by_name.insert((n, c.country.as_str()), i);
        }
    }
    // Per city: ordinary, hosting and VPN counts, and networks per ASN.
    let mut taken: Vec<[usize; 3]> = vec![[0; 3]; cities.len()];
    let mut per_asn: HashMap<(usize, u32), usize> = HashMap::new();
    let mut picked = Vec::new();
    let networks = reader.networks(WithinOptions::default().skip_empty_values()).map_err(|e| input(city_db, &e))?;
    for item in networks {
        let item = item.map_err(|e| input(city_db, &e))?;
        let network = item.network().map_err(|e| input(city_db, &e))?;
        let (IpAddr::V4(start), prefix) = (network.ip(), network.prefix()) else { continue };
        if !(16..=24).contains(&prefix) {
            continue;
        }
        let Some(r) = item.decode::<FlatCity>().map_err(|e| input(city_db, &e))? else { continue };
        let (Some(name), Some(cc), Some(lat), Some(lon)) = (r.city, r.country_code, r.latitude, r.longitude) else {
            continue;
        };
        let Some(&city) = by_name.get(&(name, cc)) else { continue };
        // Only networks one AS announces whole: every address of a picked
        // network then has its city and its ASN.
        let first = u32::from(start);
        let last = first | (u32::MAX >> prefix);
        let Some(asn) = asns.covering(first, last) else { continue };
        let kind = match asn.0 {
            n if HOSTING_ASNS.contains(&n) => 1,
            n if VPN_ASNS.contains(&n) => 2,
            _ => 0,
        };
        let limit = if kind == 0 { per_city } else { (per_city / 4).max(1) };
        let from_asn = per_asn.entry((city, asn.0)).or_default();
        if taken[city][kind] >= limit || *from_asn >= 3 {
            continue;
        }
        *from_asn += 1;
        taken[city][kind] += 1;
        picked.push(Picked {
            network: IpAddr::V4(start),
            prefix,
            city,
            state: r.state1.unwrap_or("").to_string(),
            latitude: lat,
            longitude: lon,
            asn: (asn.0, asn.1.to_string()),
        });
    }

    // The inputs' build date, so the extract says how old its data is.
    let epoch = reader.metadata().build_epoch;
    let mut city_db_out = MmdbWriter::new("city ipv4", 4)
        .build_epoch(epoch)
        .description("en", "authtrail GeoIP extract: IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0");
    let mut asn_out = MmdbWriter::new("authtrail-extract-ASN", 4)
        .build_epoch(epoch)
        .description("en", "authtrail ASN extract: ip-location-db asn (RouteViews, NRO, DB-IP), CC BY 4.0");
    let mut anon_out = MmdbWriter::new("authtrail-extract-Anonymous-IP", 4)
        .build_epoch(epoch)
        .description("en", "authtrail hosting / VPN flags by network owner (ip-location-db asn), CC BY 4.0");
    let write = |e: super::mmdb_writer::WriteError| ExtractError::Write(e.to_string());
    for p in &picked {
        let c = &cities[p.city];
        let record = Value::map([
            ("city", Value::str(&c.name)),
            ("country_code", Value::str(&c.country)),
            ("latitude", Value::Float(p.latitude)),
            ("longitude", Value::Float(p.longitude)),
            ("postcode", Value::str("")),
            ("state1", Value::str(&p.state)),
            ("state2", Value::str("")),
            ("timezone", Value::str(&c.time_zone)),
        ]);
        city_db_out.insert(p.network, p.prefix, record).map_err(write)?;
        let (n, org) = &p.asn;
        let record = Value::map([
            ("autonomous_system_number", Value::Uint32(*n)),
            ("autonomous_system_organization", Value::str(org)),
        ]);
        asn_out.insert(p.network, p.prefix, record).map_err(write)?;
        let (hosting, vpn) = (HOSTING_ASNS.contains(n), VPN_ASNS.contains(n));
        if hosting || vpn {
            let record = Value::map([
                ("is_anonymous", Value::Bool(true)),
                ("is_anonymous_vpn", Value::Bool(vpn)),
                ("is_hosting_provider", Value::Bool(hosting)),
            ]);
            anon_out.insert(p.network, p.prefix, record).map_err(write)?;
        }
    }
    let mut by_city: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (i, c) in cities.iter().enumerate() {
        let [n, hosting, vpn] = taken[i];
        by_city.insert(&c.name, (n, hosting, vpn));
    }
    let report =
        by_city.iter().map(|(city, (n, h, v))| format!("{city}: {n} networks, {h} hosting, {v} VPN")).collect();
    Ok(Extract {
        city: city_db_out.to_bytes().map_err(write)?,
        asn: asn_out.to_bytes().map_err(write)?,
        anonymous: anon_out.to_bytes().map_err(write)?,
        report,
    })
}

/// One network of a city database, for picking addresses in a city.
#[derive(Debug, Clone, PartialEq)]
pub struct CityNetwork {
    pub network: Ipv4Addr,
    pub prefix: u8,
    pub city: String,
    pub country: String,
}

impl CityNetwork {
    /// The `n`-th address of the network (wrapping inside it).
    pub fn host(&self, n: u32) -> IpAddr {
        let size = 1u64 << (32 - u32::from(self.prefix));
        IpAddr::V4(Ipv4Addr::from(u32::from(self.network) + (u64::from(n) % size) as u32))
    }
}

/// Every IPv4 network of a (small) DB-IP-layout city database with its city.
pub fn city_networks(bytes: &[u8]) -> Result<Vec<CityNetwork>, ExtractError> {
    let bad = |e: &dyn std::fmt::Display| ExtractError::Input { path: "city database".into(), message: e.to_string() };
    let reader = Reader::from_source(bytes).map_err(|e| bad(&e))?;
    let mut out = Vec::new();
    for item in reader.networks(WithinOptions::default().skip_empty_values()).map_err(|e| bad(&e))? {
        let item = item.map_err(|e| bad(&e))?;
        let network = item.network().map_err(|e| bad(&e))?;
        let IpAddr::V4(start) = network.ip() else { continue };
        if let Some(FlatCity { city: Some(city), country_code: Some(cc), .. }) =
            item.decode::<FlatCity>().map_err(|e| bad(&e))?
        {
            out.push(CityNetwork { network: start, prefix: network.prefix(), city: city.into(), country: cc.into() });
        }
    }
    Ok(out)
}
