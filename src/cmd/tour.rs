//! `authtrail tour`: nine scripted, real-shaped Cognito sign-ins through both triggers into
//! the local stream, with no AWS and no network.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use functions::{Handler, Trigger};
use pipeline::clock::FixedClock;
use pipeline::config::Config;
use pipeline::context::{ContextVerifier, SignInContext};
use pipeline::geo::{AsnDb, Enricher, MaxMindCity};
use pipeline::lake::Lake;
use pipeline::lake::consume::Consumer;
use pipeline::lake::sources::LocalSource;
use pipeline::risk::location::SnapshotLocation;
use pipeline::stream::{EventSink, LocalStream, read_shard, shard_ids};
use pipeline::telemetry::LineOut;
use queries::score::ScoreParams;
use serde_json::{Value, json};

/// MaxMind's own test databases (Apache-2.0 / MIT), compiled in so the tour
/// needs nothing on disk. They know a handful of networks, which the tour's
/// sign-ins use. (Their Anonymous-IP test data lists the London address as
/// every kind of anonymizer, so the tour leaves that database out.)
const CITY_TEST: &[u8] = include_bytes!("../../tests/data/maxmind/GeoIP2-City-Test.mmdb");
const ASN_TEST: &[u8] = include_bytes!("../../tests/data/maxmind/GeoLite2-ASN-Test.mmdb");

/// The tour backend's signing secret; a real deployment sets its own.
const DEMO_SECRET: &[u8] = b"authtrail-demo-secret";
const POOL: &str = "eu-west-1_DemoPool1";
const CLIENT: &str = "3n4b5urk1ft4fl3mg5e62d9ado";

/// Minutes into the tour's hour when the scorer runs (between the first
/// sign-ins and the suspicious ones).
const SCORER_RUNS_AT: i64 = 15;

const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const CHROME_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
const CURL: &str = "curl/8.5.0";

#[derive(clap::Args)]
pub struct Args {
    /// Remove the local stream, lake and risk snapshots first.
    #[arg(long)]
    fresh: bool,
    /// Print every emitted event as JSON too.
    #[arg(long)]
    verbose: bool,
}

/// How the app backend (or an attacker) filled ClientMetadata.
enum Ctx {
    Signed { ip: &'static str, ua: &'static str, device: &'static str },
    Unsigned { ip: &'static str, ua: &'static str },
    Tampered { ip: &'static str, ua: &'static str, claimed_ip: &'static str },
    Absent,
}

struct SignIn {
    minute: i64,
    user: &'static str,
    email: &'static str,
    ctx: Ctx,
    succeeds: bool,
    new_device: Option<bool>,
    story: &'static str,
}

fn sign_ins() -> Vec<SignIn> {
    use Ctx::*;
    let s = |minute, user, email, ctx, succeeds, new_device, story| SignIn {
        minute,
        user,
        email,
        ctx,
        succeeds,
        new_device,
        story,
    };
    vec![
        s(
            0,
            "alice",
            "alice@example.com",
            Signed { ip: "81.2.69.142", ua: FIREFOX_LINUX, device: "laptop-7f3a" },
            true,
            Some(false),
            "alice at home in London",
        ),
        s(
            4,
            "bob",
            "bob@example.se",
            Signed { ip: "89.160.20.112", ua: SAFARI_IPHONE, device: "iphone-19c2" },
            true,
            Some(true),
            "bob on a new iPhone in Linköping, MFA",
        ),
        s(
            9,
            "carol",
            "carol@example.com",
            Signed { ip: "216.160.83.56", ua: CHROME_WINDOWS, device: "desk-0042" },
            true,
            None,
            "carol in Milton, WA",
        ),
        s(
            12,
            "dave",
            "dave@example.com",
            Signed { ip: "2.125.160.216", ua: CHROME_WINDOWS, device: "desk-1111" },
            false,
            None,
            "dave mistypes his password (no success follows)",
        ),
        s(
            13,
            "dave",
            "dave@example.com",
            Signed { ip: "2.125.160.216", ua: CHROME_WINDOWS, device: "desk-1111" },
            true,
            Some(false),
            "dave again, right this time",
        ),
        s(
            21,
            "alice",
            "alice@example.com",
            Signed { ip: "175.16.199.1", ua: CHROME_ANDROID, device: "android-x1" },
            true,
            Some(true),
            "alice 21 minutes later from Changchun on a new phone",
        ),
        s(
            30,
            "erin",
            "erin@example.com",
            Unsigned { ip: "1.2.0.1", ua: CURL },
            false,
            None,
            "unsigned context, a script",
        ),
        s(
            31,
            "frank",
            "frank@example.com",
            Tampered { ip: "214.0.1.1", ua: CHROME_WINDOWS, claimed_ip: "81.2.69.142" },
            false,
            None,
            "context tampered after signing",
        ),
        s(35, "ghost", "", Absent, false, None, "a user that does not exist (PreventUserExistenceErrors)"),
    ]
}

fn attributes(user: &str, email: &str) -> Value {
    if email.is_empty() {
        return json!({});
    }
    json!({
        "sub": format!("{:08x}-7c1e-4f4e-9d43-{:012x}", fxhash(user) as u32, fxhash(email) & 0xffff_ffff_ffff),
        "email_verified": "true",
        "cognito:user_status": "CONFIRMED",
        "email": email,
    })
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The common envelope of Cognito trigger events, as AWS documents it.
fn envelope(user: &str, trigger_source: &str, request: Value) -> Value {
    json!({
        "version": "1",
        "region": "eu-west-1",
        "userPoolId": POOL,
        "userName": user,
        "callerContext": { "awsSdkVersion": "aws-sdk-js-3.700.0", "clientId": CLIENT },
        "triggerSource": trigger_source,
        "request": request,
        "response": {}
    })
}

fn pre_auth_event(si: &SignIn, at: DateTime<Utc>) -> Value {
    let ts = at.timestamp();
    let nonce = format!("{:016x}", fxhash(&format!("{}{}", si.user, si.minute)));
    let validation = match &si.ctx {
        Ctx::Signed { ip, ua, device } => {
            let ctx = SignInContext {
                ip: ip.to_string(),
                user_agent: ua.to_string(),
                device: device.to_string(),
                nonce,
                issued_at: ts,
            };
            json!(ctx.sign(si.user, DEMO_SECRET))
        }
        Ctx::Unsigned { ip, ua } => json!({ "authtrail:ip": ip, "authtrail:ua": ua }),
        Ctx::Tampered { ip, ua, claimed_ip } => {
            let ctx = SignInContext {
                ip: ip.to_string(),
                user_agent: ua.to_string(),
                device: String::new(),
                nonce,
                issued_at: ts,
            };
            let mut map = ctx.sign(si.user, DEMO_SECRET);
            map.insert(pipeline::context::KEY_IP.into(), claimed_ip.to_string());
            json!(map)
        }
        Ctx::Absent => json!({}),
    };
    let mut request = json!({ "userAttributes": attributes(si.user, si.email), "validationData": validation });
    if si.email.is_empty() {
        request["userNotFound"] = json!(true);
    }
    envelope(si.user, "PreAuthentication_Authentication", request)
}

fn post_auth_event(si: &SignIn, at: DateTime<Utc>) -> Value {
    let mut request = json!({ "userAttributes": attributes(si.user, si.email) });
    // Apps that finish sign-in with RespondToAuthChallenge (MFA, custom
    // auth) can pass the signed context there too; bob's app does.
    if let (true, Ctx::Signed { ip, ua, device }) = (si.user == "bob", &si.ctx) {
        let nonce = format!("{:016x}-mfa", fxhash(&format!("{}{}", si.user, si.minute)));
        let ctx = SignInContext {
            ip: ip.to_string(),
            user_agent: ua.to_string(),
            device: device.to_string(),
            nonce,
            issued_at: at.timestamp(),
        };
        request["clientMetadata"] = json!(ctx.sign(si.user, DEMO_SECRET));
    }
    if let Some(new) = si.new_device {
        request["newDeviceUsed"] = json!(new);
    }
    envelope(si.user, "PostAuthentication_Authentication", request)
}

/// The tour's enrichment: installed DB-IP when present, else the embedded
/// MaxMind test databases.
fn tour_enricher(config: &Config) -> anyhow::Result<Enricher> {
    let mut enricher = functions::setup::enricher(config)?;
    if enricher.geo.is_none() {
        enricher.geo = Some(Box::new(MaxMindCity::from_static("embedded GeoIP2-City-Test.mmdb", CITY_TEST)?));
    }
    if enricher.asn.is_none() {
        enricher.asn = Some(AsnDb::from_static("embedded GeoLite2-ASN-Test.mmdb", ASN_TEST)?);
    }
    Ok(enricher)
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(config_path)?;
    let stream_dir = config.stream_dir();
    if args.fresh {
        // Local snapshots only: an S3 location is left as it is.
        let snapshots = match config.snapshot_location() {
            SnapshotLocation::Local(dir) => Some(dir),
            SnapshotLocation::S3(_) => None,
        };
        for dir in [Some(stream_dir.clone()), Some(config.lake_location().into()), snapshots].into_iter().flatten() {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
            }
        }
    }
    let start = Utc::now() - Duration::hours(1);
    let handler = Handler {
        enricher: Arc::new(tour_enricher(&config)?),
        verifier: ContextVerifier::new(vec![DEMO_SECRET.to_vec()], config.context.max_age_secs),
        sink: LocalStream::open(&stream_dir, config.stream.local_shards, config.stream.local_fsync)?,
        clock: FixedClock::at(start),
        // The snapshot a previous run's scorer published, if any.
        risk: functions::setup::risk(&config).await?,
        policy: Arc::new(functions::setup::policy(&config)?),
        settings: functions::setup::settings(&config),
        metrics: LineOut::memory(),
        spill: LineOut::memory(),
    };
    println!("authtrail tour: Cognito sign-ins → PreAuthentication / PostAuthentication triggers → local stream\n");
    for line in handler.enricher.describe() {
        println!("  {line}");
    }
    println!("  stream: {}\n", handler.sink.describe());
    println!(
        "{:<5} {:<13} {:<6} {:<15} {:<13} {:<24} {:<9} {:<22} {:<12} {}",
        "time", "event", "user", "ip", "context", "place", "asn", "device", "decision", "story"
    );

    let policy = handler.policy.policy.clone();
    let location = config.lake_location();
    let consumer = Consumer {
        source: LocalSource { dir: stream_dir.clone() },
        lake: Lake::open(&location)?,
        batch_records: config.lake.batch_records,
    };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut emitted = 0usize;
    let mut scored = false;
    for si in sign_ins() {
        // As in production, the scorer runs every few minutes: once the
        // first sign-ins are in the lake, it publishes a snapshot, and the
        // trigger decides what follows with it.
        if si.minute >= SCORER_RUNS_AT && !scored {
            scored = true;
            let s = consumer.drain(|_| {}).await?;
            let at = start + Duration::minutes(SCORER_RUNS_AT);
            println!(
                "----- {}  lake writer: {} records → lake; scorer as of {}:",
                at.format("%H:%M"),
                s.records,
                at.format("%H:%M")
            );
            print!("      ");
            super::score::publish(&consumer.lake, &config, ScoreParams::for_policy(at, &policy)).await?;
            handler.risk.refresh().await;
        }
        let at = start + Duration::minutes(si.minute);
        handler.clock.set(at);
        let mut runs = vec![(Trigger::PreAuth, pre_auth_event(&si, at))];
        if si.succeeds {
            runs.push((Trigger::PostAuth, post_auth_event(&si, at)));
        }
        for (i, (trigger, raw)) in runs.into_iter().enumerate() {
            if i > 0 {
                handler.clock.set(at + Duration::milliseconds(350));
            }
            let outcome = handler.handle(trigger, &raw.to_string()).await;
            let o = match outcome {
                Ok(o) => o,
                Err(e) => {
                    println!("malformed: {e}");
                    continue;
                }
            };
            let e = &o.event;
            emitted += usize::from(o.delivery.is_ok());
            *counts.entry(format!("{} / {}", e.event_type.as_str(), e.context_status.as_str())).or_default() += 1;
            let place = match (&e.geo_city, &e.geo_country) {
                (Some(city), Some(c)) => format!("{city}, {c}"),
                (None, Some(c)) => c.clone(),
                _ => "-".into(),
            };
            let device = match (&e.device_browser, &e.device_os) {
                (Some(b), Some(os)) => format!("{b} / {os}"),
                (Some(b), None) => b.clone(),
                _ => e.device_type.clone().unwrap_or_else(|| "-".into()),
            };
            let story = if i == 0 { si.story } else { "" };
            let decision = match (&e.decision_level, e.decision_score) {
                (Some(level), Some(score)) => format!("{level} {score}"),
                _ => "-".into(),
            };
            println!(
                "{:<5} {:<13} {:<6} {:<15} {:<13} {:<24} {:<9} {:<22} {:<12} {}",
                e.time.format("%H:%M"),
                e.event_type.as_str(),
                e.username,
                e.source_ip.as_deref().unwrap_or("-"),
                e.context_status.as_str(),
                truncate(&place, 24),
                e.asn.map_or("-".into(), |a| format!("AS{a}")),
                truncate(&device, 22),
                decision,
                story,
            );
            if e.decision_level.as_deref().is_some_and(|l| l != "low") {
                println!("      ↳ {}: {}", e.decision_action.as_deref().unwrap_or("-"), e.decision_reasons.join(", "));
            }
            if args.verbose {
                println!("{}", serde_json::to_string_pretty(e)?);
            }
        }
    }
    let malformed = json!({ "version": "1", "triggerSource": "PreAuthentication_Authentication", "userPoolId": POOL, "request": {} });
    handler.clock.set(start + Duration::minutes(40));
    let denied = handler.handle(Trigger::PreAuth, &malformed.to_string()).await.is_err();

    println!("\nevents by type / context:");
    for (k, v) in &counts {
        println!("  {v:>3}  {k}");
    }
    println!(
        "  {:>3}  malformed trigger event (no userName): {}, kept as a spill line",
        1,
        if denied { "denied" } else { "allowed?!" }
    );
    println!(
        "\nemitted {emitted} events; {} metric lines; {} spill lines",
        handler.metrics.lines().len(),
        handler.spill.lines().len()
    );
    let mut total = 0;
    for shard in shard_ids(&stream_dir)? {
        let n = read_shard(&stream_dir, &shard, 0)?.len();
        total += n;
        println!("  {}/{shard}: {n} records", stream_dir.display());
    }
    println!("  ({total} records in the stream in all, across runs)");

    // The stream's next stop: the Parquet lake.
    drop(handler);
    let s = consumer.drain(|_| {}).await?;
    println!(
        "\nlake writer: {} new records → {} events, {} dead letters, {} Parquet files ({} bytes) in {location}",
        s.records, s.events, s.dead_letters, s.files, s.bytes
    );

    // Score everything, for the next run's trigger.
    super::score::publish(&consumer.lake, &config, ScoreParams::for_policy(Utc::now(), &policy)).await?;

    // And SQL over the history, with DataFusion.
    let sql = "SELECT event_type, context_status, count(*) AS events, count(DISTINCT username) AS users \
               FROM events GROUP BY event_type, context_status ORDER BY event_type, context_status";
    let session = queries::LakeSession::open(&consumer.lake).await?;
    let table = queries::datafusion::arrow::util::pretty::pretty_format_batches(&session.sql(sql).await?)?;
    println!("\n{sql}\n{table}");
    println!(
        "\nlook inside:  jq -c '.data | {{event_type, username, geo_city, context_status}}' {}/shard-*/*.jsonl",
        stream_dir.display()
    );
    println!(
        "query:        duckdb -c \"SELECT event_type, username, geo_city FROM read_parquet('{location}/events/**/*.parquet', hive_partitioning=true)\""
    );
    println!("one lookup:   authtrail geoip lookup 81.2.69.142");
    Ok(ExitCode::SUCCESS)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}
