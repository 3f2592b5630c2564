//! `authtrail simulate`: a labelled replay file of a simulated user pool
//! with attacks in it (see `functions::simulate`).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use functions::simulate::{SimConfig, SimGeo, simulate};
use pipeline::config::Config;
use pipeline::geo::extract::{city_networks, parse_cities};
use pipeline::geo::{AnonymousIpDb, AsnDb, DbIpCity, Enricher};

/// The GeoIP extract (tests/data/geoip-extract), compiled in: real networks
/// in each simulated city, so any DB-IP database places them there.
pub const EXTRACT_CITY: &[u8] = include_bytes!("../../tests/data/geoip-extract/extract-city.mmdb");
pub const EXTRACT_ASN: &[u8] = include_bytes!("../../tests/data/geoip-extract/extract-asn.mmdb");
pub const EXTRACT_ANONYMOUS: &[u8] = include_bytes!("../../tests/data/geoip-extract/extract-anonymous.mmdb");
pub const EXTRACT_CITIES: &str = include_str!("../../tests/data/geoip-extract/cities.toml");

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the replay file (JSON lines with a `label` each).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    users: usize,
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day (RFC 3339 date-time, UTC); default 2026-03-02T00:00:00Z.
    #[arg(long, default_value = "2026-03-02T00:00:00Z")]
    start: String,
    #[arg(long, default_value = "eu-west-1_SimPool01")]
    user_pool_id: String,
}

/// The configured GeoIP databases, with the embedded extract standing in
/// for those that are not configured.
pub fn extract_enricher(config: &Config) -> anyhow::Result<Enricher> {
    let mut e = functions::setup::enricher(config)?;
    if e.geo.is_none() {
        e.geo = Some(Box::new(DbIpCity::from_static("embedded GeoIP extract (city)", EXTRACT_CITY)?));
    }
    if e.asn.is_none() {
        e.asn = Some(AsnDb::from_static("embedded GeoIP extract (ASN)", EXTRACT_ASN)?);
    }
    if e.anonymous.is_none() {
        e.anonymous = Some(AnonymousIpDb::from_static("embedded GeoIP extract (hosting, VPN)", EXTRACT_ANONYMOUS)?);
    }
    Ok(e)
}

/// The simulator's geography: the extract's networks, anonymizers flagged.
pub fn sim_geo() -> anyhow::Result<SimGeo> {
    let cities = parse_cities(EXTRACT_CITIES).map_err(|e| anyhow::anyhow!("embedded cities.toml: {e}"))?;
    let networks = city_networks(EXTRACT_CITY)?;
    let anonymous = AnonymousIpDb::from_static("embedded extract-anonymous.mmdb", EXTRACT_ANONYMOUS)?;
    Ok(SimGeo::new(cities, networks, |n| anonymous.lookup(n.host(1)).ok().flatten().is_some_and(|a| a.is_anonymous)))
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    if args.users == 0 || args.days == 0 {
        anyhow::bail!("--users and --days must be at least 1");
    }
    let secret = config.context_secrets(|name| std::env::var(name).ok()).into_iter().next().with_context(|| {
        format!(
            "no context secret: set {} (authtrail replay verifies the simulated sign-ins with the same secret)",
            config.context.secret_env
        )
    })?;
    let start = chrono::DateTime::parse_from_rfc3339(&args.start)
        .with_context(|| format!("--start {:?} is not RFC 3339", args.start))?
        .to_utc();
    let cfg = SimConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        start,
        user_pool_id: args.user_pool_id,
        client_id: "5imu1at3dc1i3nt1d0000000aa".into(),
        secret,
    };
    let started = Instant::now();
    let file = std::fs::File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let summary = simulate(&cfg, &sim_geo()?, &mut out)?;
    out.flush()?;
    println!(
        "simulated {} users over {} days (seed {}): {} lines ({} pre-auth, {} post-auth, {} backend failure reports) \
         in {:.1} s → {}",
        cfg.users,
        cfg.days,
        cfg.seed,
        summary.lines,
        summary.pre_auth,
        summary.post_auth,
        summary.backend_failures,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    for (kind, n) in &summary.by_kind {
        println!("  {n:>8}  {kind}");
    }
    Ok(ExitCode::SUCCESS)
}
