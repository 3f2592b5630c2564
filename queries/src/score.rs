//! The risk scorer: the SQL in `queries/sql/` over the lake, turned into a
//! risk snapshot for the pre-auth trigger.

use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use datafusion::common::ScalarValue;
use pipeline::risk::snapshot::SnapshotData;
use pipeline::risk::{LastSuccess, Risk, UserProfile};

use crate::{LakeSession, QueryError};

/// One statement per file, its header says what it computes.
pub const USER_PROFILE_SQL: &str = include_str!("../sql/user_profile.sql");
pub const IP_RISK_SQL: &str = include_str!("../sql/ip_risk.sql");
pub const ASN_RISK_SQL: &str = include_str!("../sql/asn_risk.sql");

/// The scorer's knobs. Defaults and where they come from are in the README.
#[derive(Debug, Clone)]
pub struct ScoreParams {
    pub now: DateTime<Utc>,
    /// History for user profiles (known places and devices).
    pub horizon: Duration,
    /// Window for per-IP counts.
    pub ip_window: Duration,
    /// An attempt succeeded when a success of the same user follows within this.
    pub success_window: Duration,
    /// Credential stuffing: at least this many users with ≤ 2 attempts each from one IP.
    pub stuffing_users: i64,
    /// Brute force: at least this many failed attempts from one IP.
    pub brute_force_failures: i64,
}

impl ScoreParams {
    pub fn at(now: DateTime<Utc>) -> Self {
        ScoreParams {
            now,
            horizon: Duration::days(90),
            ip_window: Duration::days(1),
            success_window: Duration::minutes(5),
            stuffing_users: 15,
            brute_force_failures: 100,
        }
    }
}

/// What a scoring run did.
#[derive(Debug, Clone, Default)]
pub struct ScoreReport {
    pub rows_in: i64,
    pub users: usize,
    pub ips: usize,
    pub risky_ips: usize,
    pub risky_asns: usize,
    pub seconds: f64,
}

fn ts(t: DateTime<Utc>) -> ScalarValue {
    ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
}

async fn run(session: &LakeSession, sql: &str, params: Vec<ScalarValue>) -> Result<Vec<RecordBatch>, QueryError> {
    Ok(session.context().sql(sql).await?.with_param_values(params)?.collect().await?)
}

fn strings(col: &dyn Array, row: usize) -> Vec<String> {
    if col.is_null(row) {
        return Vec::new();
    }
    let list = col.as_list::<i32>().value(row);
    let values = list.as_string::<i32>();
    let mut out: Vec<String> =
        (0..values.len()).filter(|&i| !values.is_null(i)).map(|i| values.value(i).to_string()).collect();
    out.sort();
    out
}

/// The snapshot's risk for one IP from its counts, with the reasons.
pub fn ip_score(p: &ScoreParams, attempts: i64, failures: i64, light_users: i64) -> Risk {
    let mut score = 0u8;
    let mut reasons = Vec::new();
    if light_users >= p.stuffing_users && failures * 2 >= attempts {
        score = score.max(90);
        reasons.push(format!("credential_stuffing:{light_users}_users"));
    }
    if failures >= p.brute_force_failures {
        score = score.max(80);
        reasons.push(format!("failed_sign_ins:{failures}"));
    }
    if attempts >= 20 && failures * 10 >= attempts * 8 {
        score = score.max(50);
        reasons.push(format!("failure_ratio:{}%", failures * 100 / attempts.max(1)));
    }
    Risk { score, reasons }
}

/// Runs the scoring SQL and builds the snapshot (not yet written).
pub async fn score(
    session: &LakeSession,
    p: &ScoreParams,
    version: &str,
) -> Result<(SnapshotData, ScoreReport), QueryError> {
    let started = Instant::now();
    let window_us_value = p.success_window.num_microseconds().unwrap_or(i64::MAX);
    let window_us = ScalarValue::Int64(Some(window_us_value));
    let rows_in = session
        .context()
        .sql("SELECT count(*) FROM events WHERE time >= $1 AND time < $2")
        .await?
        .with_param_values(vec![ts(p.now - p.horizon), ts(p.now)])?
        .collect()
        .await?;
    let rows_in = rows_in.first().map_or(0, |b| b.column(0).as_primitive::<Int64Type>().value(0));

    let mut data = SnapshotData { version: version.to_string(), built: p.now, ..Default::default() };
    for b in run(session, USER_PROFILE_SQL, vec![ts(p.now - p.horizon), ts(p.now), window_us.clone()]).await? {
        let pool = b.column(0).as_string::<i32>();
        let user = b.column(1).as_string::<i32>();
        let logins = b.column(5).as_primitive::<Int64Type>();
        let last_us = b.column(6).as_primitive::<Int64Type>();
        let lat = b.column(7).as_primitive::<Float64Type>();
        let lon = b.column(8).as_primitive::<Float64Type>();
        let radius = b.column(9).as_primitive::<Int32Type>();
        let country = b.column(10).as_string::<i32>();
        for r in 0..b.num_rows() {
            let last_success = (!last_us.is_null(r)).then(|| LastSuccess {
                time: DateTime::from_timestamp_micros(last_us.value(r)).unwrap_or(p.now),
                latitude: lat.value(r),
                longitude: lon.value(r),
                accuracy_radius_km: if radius.is_null(r) { 0.0 } else { f64::from(radius.value(r)) },
                country: (!country.is_null(r)).then(|| country.value(r).to_string()),
            });
            let profile = UserProfile {
                known_countries: strings(b.column(2), r),
                known_cities: strings(b.column(3), r),
                known_devices: strings(b.column(4), r),
                last_success,
                login_count: logins.value(r),
                risk: 0,
                reasons: Vec::new(),
            };
            data.users.push((pipeline::event::user_key(pool.value(r), user.value(r)), profile));
        }
    }
    let (mut scored, mut risky) = (0, 0);
    for b in run(session, IP_RISK_SQL, vec![ts(p.now - p.ip_window), ts(p.now), window_us]).await? {
        let ip = b.column(0).as_string::<i32>();
        let [attempts, failures, light] = [1, 3, 4].map(|c| b.column(c).as_primitive::<Int64Type>());
        for r in 0..b.num_rows() {
            scored += 1;
            let Ok(addr) = ip.value(r).parse::<IpAddr>() else { continue };
            let risk = ip_score(p, attempts.value(r), failures.value(r), light.value(r));
            if risk.score > 0 {
                risky += 1;
                data.ips.push((addr, risk));
            }
        }
    }
    for b in
        run(session, ASN_RISK_SQL, vec![ts(p.now - p.ip_window), ts(p.now), ScalarValue::Int64(Some(window_us_value))])
            .await?
    {
        let asn = b.column(0).as_primitive::<Int64Type>();
        let [attempts, failures, light] = [1, 3, 4].map(|c| b.column(c).as_primitive::<Int64Type>());
        for r in 0..b.num_rows() {
            let Ok(number) = u32::try_from(asn.value(r)) else { continue };
            let risk = ip_score(p, attempts.value(r), failures.value(r), light.value(r));
            if risk.score > 0 {
                data.asns.push((number, risk));
            }
        }
    }
    let report = ScoreReport {
        rows_in,
        users: data.users.len(),
        ips: scored,
        risky_ips: risky,
        risky_asns: data.asns.len(),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((data, report))
}
