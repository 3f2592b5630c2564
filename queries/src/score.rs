//! The risk scorer: the SQL in `queries/sql/` over the lake, turned into a
//! risk snapshot for the pre-auth trigger.
//!
//! `sign_ins.sql` decides, once, which tries failed; it is registered as the
//! view `sign_ins` over the profile horizon for `user_profile.sql`, then held
//! in memory over the last day for `user_risk.sql` and `source_risk.sql`
//! (run at once, with `user_profile.sql` over the recent successes). A
//! process that scores again and again ([`Held`]) re-reads only the day's
//! last hour or so: older sign-ins cannot change. The counts come
//! from SQL; the rules that turn counts into 0–100 scores with reasons are
//! here, with their thresholds from the policy's `[scoring]` section.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, SchemaRef};
use datafusion::dataframe::DataFrame;
use pipeline::risk::snapshot::SnapshotData;
use pipeline::risk::{LastSuccess, Level, Policy, Risk, Scoring, UserProfile};

use crate::catalog::{Param, query};
use crate::{LakeSession, QueryError};

/// The scorer's knobs: the scoring time, the policy's `[scoring]` section
/// and its deny level (sign-ins decided at or above it teach no profile).
#[derive(Debug, Clone)]
pub struct ScoreParams {
    pub now: DateTime<Utc>,
    pub rules: Scoring,
    pub deny_level: Level,
}

impl ScoreParams {
    /// The default policy as of `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self::for_policy(now, &Policy::default())
    }

    /// What `policy` says, as of `now`.
    pub fn for_policy(now: DateTime<Utc>, policy: &Policy) -> Self {
        ScoreParams { now, rules: policy.scoring.clone(), deny_level: policy.deny_level }
    }

    /// `user_profile`'s parameters.
    fn profile_params(&self) -> [(&'static str, Param); 1] {
        [("last_n", Param::Bigint(self.rules.last_successes.into()))]
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
    pub risky_users: usize,
    /// Whether the day's sign-ins were read whole from the lake (no held
    /// rows, or events that reached the lake late) rather than its last hour or so.
    pub read_day_whole: bool,
    pub seconds: f64,
}

/// Tries from one source (an IP or a network) in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub tries: i64,
    pub users: i64,
    pub failures: i64,
    /// Users with one or two tries each.
    pub light_users: i64,
    /// Users with three or more tries each.
    pub heavy_users: i64,
}

impl Window {
    fn mostly_failing(&self, percent: i64) -> bool {
        self.tries > 0 && self.failures * 100 >= self.tries * percent
    }
}

/// One source's counts over 15 minutes, an hour and a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounts {
    pub m15: Window,
    pub h1: Window,
    pub d1: Window,
}

/// One user's recent trouble.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounts {
    pub failures_1d: i64,
    pub failure_ips_1d: i64,
    pub blocked_1d: i64,
}

fn risk(rules: impl IntoIterator<Item = (bool, u8, String)>) -> Risk {
    let mut r = Risk::default();
    for (fires, score, reason) in rules {
        if fires {
            r.score = r.score.max(score);
            r.reasons.push(reason);
        }
    }
    r
}

/// The risk of an IP or a network from its counts, with the reasons.
pub fn source_score(s: &Scoring, c: &SourceCounts) -> Risk {
    let at_least = |n: i64, threshold: u32| n >= i64::from(threshold);
    // Credential stuffing in each window; the short window tolerates more
    // successes (a burst), the long ones need a clear failure pattern.
    let stuffing = [
        (&c.m15, s.stuffing_users_15m, 50, "15m"),
        (&c.h1, s.stuffing_users_1h, 80, "1h"),
        (&c.d1, s.stuffing_users_1d, 80, "1d"),
    ]
    .map(|(w, users, failing, name)| {
        let fires = at_least(w.light_users, users) && w.mostly_failing(failing);
        (fires, 90, format!("credential_stuffing:{}_users_{name}", w.light_users))
    });
    risk(stuffing.into_iter().chain([
        (
            at_least(c.d1.heavy_users, s.spraying_users_1d) && c.d1.mostly_failing(80),
            80,
            format!("password_spraying:{}_users_1d", c.d1.heavy_users),
        ),
        (at_least(c.d1.failures, s.source_failures_1d), 80, format!("failed_sign_ins:{}_1d", c.d1.failures)),
        (
            at_least(c.h1.tries, s.failure_ratio_tries_1h) && c.h1.mostly_failing(s.failure_ratio_percent.into()),
            50,
            format!("failure_ratio:{}%_1h", c.h1.failures * 100 / c.h1.tries.max(1)),
        ),
    ]))
}

/// A user's own risk from recent failures and blocks.
pub fn user_score(s: &Scoring, c: &UserCounts) -> Risk {
    risk([
        (
            c.failure_ips_1d >= i64::from(s.user_failure_ips_1d),
            70,
            format!("failures_from_ips:{}_1d", c.failure_ips_1d),
        ),
        (c.failures_1d >= i64::from(s.user_failures_1d), 60, format!("failed_sign_ins:{}_1d", c.failures_1d)),
        (c.blocked_1d > 0, 40, format!("blocked_attempts:{}_1d", c.blocked_1d)),
    ])
}

fn strings(col: &ListArray, row: usize) -> Vec<String> {
    if col.is_null(row) {
        return Vec::new();
    }
    let list = col.value(row);
    let values = list.as_string::<i32>();
    let mut out: Vec<String> =
        (0..values.len()).filter(|&i| !values.is_null(i)).map(|i| values.value(i).to_string()).collect();
    out.sort();
    out
}

fn hour_mask(col: &ListArray, row: usize) -> u32 {
    if col.is_null(row) {
        return 0;
    }
    let list = col.value(row);
    let hours = list.as_primitive::<Int32Type>();
    (0..hours.len())
        .filter(|&i| !hours.is_null(i) && (0..24).contains(&hours.value(i)))
        .fold(0, |m, i| m | 1 << hours.value(i))
}

/// Runs one embedded query with named parameters.
async fn run(session: &LakeSession, name: &str, params: &[(&str, Param)]) -> Result<Vec<RecordBatch>, QueryError> {
    let started = Instant::now();
    let result = session.query(&query(name)?, params).await;
    tracing::debug!(query = name, ms = started.elapsed().as_secs_f64() * 1000.0, "scoring query");
    result
}

/// `sign_ins`' parameters for `[since, until)` with the policy's windows:
/// everyone's tries, or `only_user`'s alone.
pub(crate) fn sign_ins_params(
    rules: &Scoring,
    deny_level: Level,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    only_user: Option<String>,
) -> [(&'static str, Param); 6] {
    let deny_rank = match deny_level {
        Level::Low => 1,
        Level::Medium => 2,
        Level::High => 3,
    };
    [
        ("since", Param::Timestamp(since)),
        ("until", Param::Timestamp(until)),
        ("success_window", Param::Interval(Duration::seconds(rules.success_window_secs.into()))),
        ("pending_window", Param::Interval(Duration::seconds(rules.pending_secs.into()))),
        ("only_user", Param::Text(only_user.unwrap_or_default())),
        ("deny_rank", Param::Bigint(deny_rank)),
    ]
}

/// Registers `sign_ins` over `[since, until)` as a view (read once).
async fn register_sign_ins(
    session: &LakeSession,
    rules: &Scoring,
    deny_level: Level,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), QueryError> {
    let params = sign_ins_params(rules, deny_level, since, until, None);
    session.register_query("sign_ins", &query("sign_ins")?, &params).await
}

/// How old a sign-in must be before a run holds it for the next: past its
/// success window (the pending window is no longer), plus the time its
/// events take to reach the lake (the lake writer's batch window, seconds
/// to minutes; an hour is ample). Later arrivals are counted when the day
/// is next read whole.
fn settle_time(rules: &Scoring) -> Duration {
    Duration::hours(1) + Duration::seconds(rules.success_window_secs.into())
}

/// The day's sign-ins one run leaves to the next: the rows before `before`,
/// which no later event can change (see [`settle_time`]), and the lake's
/// event files (with their sizes) as listed before they were read.
#[derive(Debug, Clone)]
pub struct SettledDay {
    before: DateTime<Utc>,
    batches: Vec<RecordBatch>,
    files: BTreeMap<String, u64>,
}

/// The lake's event files (path → size) of the days `[from, to]` touches.
async fn day_files(
    session: &LakeSession,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<String, u64>, QueryError> {
    let mut files = BTreeMap::new();
    for day in from.date_naive().iter_days().take_while(|d| *d <= to.date_naive()) {
        files.extend(session.lake().day_event_files(day).await?);
    }
    Ok(files)
}

/// Files now in the hours that can change the rows `held` has, that its
/// listing did not have or had at another size: events that reached the
/// lake after they were held. A held try's outcome depends on what follows
/// it within the success window (and a failure report on what precedes
/// it), so the hours looked at reach one window beyond the held rows.
fn late_files<'a>(
    held: &SettledDay,
    listed: &'a BTreeMap<String, u64>,
    day_start: DateTime<Utc>,
    window: Duration,
) -> Vec<&'a str> {
    listed
        .iter()
        .filter(|(path, size)| {
            pipeline::lake::partition_hour(path)
                .is_some_and(|h| h < held.before + window && h + Duration::hours(1) > day_start - window)
                && held.files.get(*path) != Some(*size)
        })
        .map(|(path, _)| path.as_str())
        .collect()
}

/// Those of `files` that hold an event before `until` (by their footers'
/// statistics): a file of a lake writer a few minutes behind, in an hour a
/// held row's success window reaches, is new but holds nothing held rows
/// depend on. A file that cannot be read that way counts as late.
async fn late_among<'a>(session: &LakeSession, files: Vec<&'a str>, until: DateTime<Utc>) -> Vec<&'a str> {
    let mut late = Vec::new();
    for file in files {
        match session.lake().earliest_time(file).await {
            Ok(Some(earliest)) if earliest >= until.timestamp_micros() => {}
            _ => late.push(file),
        }
    }
    late
}

/// The rows of `batches` with a `time` in `[from, to)`.
fn rows_between(
    batches: &[RecordBatch],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RecordBatch>, QueryError> {
    let (from, to) = (from.timestamp_micros(), to.timestamp_micros());
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        let time = int(b, "time")?;
        let keep: BooleanArray = time.iter().map(|t| Some(t.is_some_and(|t| from <= t && t < to))).collect();
        let kept = filter_record_batch(b, &keep).map_err(|e| QueryError::Shape(e.to_string()))?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    Ok(out)
}

/// The day's sign-ins, `[now - 1 day, now)`, for the queries that read
/// them (several do: callers register them as the table `sign_ins`).
struct Day {
    schema: SchemaRef,
    rows: Vec<RecordBatch>,
}

/// Reads the day's sign-ins: the rows `settled` holds are reused, the rest
/// read from the lake, unless files have appeared in the held hours since
/// (events that reached the lake late): then the day is read whole. Returns
/// them, where the read began and what the next run can hold.
async fn read_day(
    session: &LakeSession,
    rules: &Scoring,
    deny_level: Level,
    now: DateTime<Utc>,
    settled: Option<SettledDay>,
) -> Result<(Day, DateTime<Utc>, SettledDay), QueryError> {
    let started = Instant::now();
    let day_start = now - Duration::days(1);
    let cut = (now - settle_time(rules)).max(day_start);
    let window = Duration::seconds(rules.success_window_secs.into());
    // Listed before the read: a file written during it is new to the next
    // run. A listing that fails costs the held rows, not the run.
    let (files, listed) = match day_files(session, day_start - window, now).await {
        Ok(files) => (files, true),
        Err(e) => {
            tracing::warn!(error = %e, "the day's event files could not be listed: the day is read whole");
            (BTreeMap::new(), false)
        }
    };
    let (read_from, mut rows) = match settled {
        // Held rows from a run at or before this one's cut, still in the day.
        Some(s) if listed && s.before <= cut && s.before > day_start => {
            let late = late_among(session, late_files(&s, &files, day_start, window), s.before + window).await;
            if late.is_empty() {
                (s.before, rows_between(&s.batches, day_start, s.before)?)
            } else {
                tracing::info!(
                    files = late.len(),
                    first = late[0],
                    "events reached the lake late: the day is read whole"
                );
                (day_start, Vec::new())
            }
        }
        _ => (day_start, Vec::new()),
    };
    let q = query("sign_ins")?;
    let df = session.dataframe(&q, &sign_ins_params(rules, deny_level, read_from, now, None)).await?;
    let planned = Arc::new(df.schema().as_arrow().clone());
    rows.extend(df.collect().await.map_err(|source| QueryError::InQuery { query: q.name.clone(), source })?);
    // The batches' own schema (nullability as computed), the plan's when there are none.
    let schema = rows.first().map_or(planned, |b| b.schema());
    let next = SettledDay { before: cut, batches: rows_between(&rows, day_start, cut)?, files };
    tracing::debug!(read_from = %read_from, ms = started.elapsed().as_secs_f64() * 1000.0, "day's sign_ins read");
    Ok((Day { schema, rows }, read_from, next))
}

/// Runs a planned query on a task of its own, so that a run's queries use
/// every core: each is small, and mostly the engine's fixed cost (the debug
/// log says how much of it is planning).
async fn spawn_collect(name: &'static str, df: DataFrame) -> Result<Vec<RecordBatch>, QueryError> {
    let result = tokio::spawn(async move {
        let started = Instant::now();
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let planned = started.elapsed();
        let rows = datafusion::physical_plan::collect(plan, task).await;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        tracing::debug!(query = name, plan_ms = ms(planned), run_ms = ms(started.elapsed() - planned), "scoring query");
        rows
    })
    .await
    .map_err(|e| QueryError::Shape(format!("query {name} stopped: {e}")))?;
    result.map_err(|source| QueryError::InQuery { query: name.into(), source })
}

/// A result column by name as `T`, whatever width the engine chose for it.
fn column<T: datafusion::arrow::array::Array + Clone + 'static>(
    b: &RecordBatch,
    name: &str,
    as_type: DataType,
) -> Result<T, QueryError> {
    let shape = |why: String| QueryError::Shape(format!("column {name}: {why}"));
    let col = b.column_by_name(name).ok_or_else(|| shape("missing".into()))?;
    let col = cast(col, &as_type).map_err(|e| shape(e.to_string()))?;
    col.as_any().downcast_ref::<T>().cloned().ok_or_else(|| shape(format!("not {as_type}")))
}

fn text(b: &RecordBatch, name: &str) -> Result<StringArray, QueryError> {
    column(b, name, DataType::Utf8)
}

fn int(b: &RecordBatch, name: &str) -> Result<Int64Array, QueryError> {
    column(b, name, DataType::Int64)
}

/// The five counts of one window, as columns.
fn window_columns(b: &RecordBatch, suffix: &str) -> Result<[Int64Array; 5], QueryError> {
    let at = |what: &str| int(b, &format!("{what}_{suffix}"));
    Ok([at("tries")?, at("users")?, at("failures")?, at("light_users")?, at("heavy_users")?])
}

fn window(c: &[Int64Array; 5], row: usize) -> Window {
    Window {
        tries: c[0].value(row),
        users: c[1].value(row),
        failures: c[2].value(row),
        light_users: c[3].value(row),
        heavy_users: c[4].value(row),
    }
}

/// User profiles over the whole horizon: the expensive part of a run.
#[derive(Debug, Clone)]
pub struct Profiles {
    /// The scoring time they were computed at.
    pub at: DateTime<Utc>,
    /// Events in the horizon then.
    pub rows_in: i64,
    pub users: BTreeMap<String, UserProfile>,
}

/// Reads `user_profile` results into profiles by user key.
fn read_profiles(batches: Vec<RecordBatch>, now: DateTime<Utc>) -> Result<BTreeMap<String, UserProfile>, QueryError> {
    let mut users = BTreeMap::new();
    for b in batches {
        let (pool, user, last_country) = (text(&b, "user_pool_id")?, text(&b, "username")?, text(&b, "last_country")?);
        let logins = int(&b, "logins")?;
        let last_time = int(&b, "last_time")?;
        let lat: Float64Array = column(&b, "last_lat", DataType::Float64)?;
        let lon: Float64Array = column(&b, "last_lon", DataType::Float64)?;
        let radius = int(&b, "last_radius_km")?;
        let string_list = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        let [countries, cities, devices]: [ListArray; 3] = [
            column(&b, "countries", string_list.clone())?,
            column(&b, "cities", string_list.clone())?,
            column(&b, "devices", string_list)?,
        ];
        let hours: ListArray =
            column(&b, "hours", DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))))?;
        for r in 0..b.num_rows() {
            let last_success = (!last_time.is_null(r)).then(|| LastSuccess {
                time: DateTime::from_timestamp_micros(last_time.value(r)).unwrap_or(now),
                latitude: lat.value(r),
                longitude: lon.value(r),
                accuracy_radius_km: if radius.is_null(r) { 0.0 } else { radius.value(r) as f64 },
                country: (!last_country.is_null(r)).then(|| last_country.value(r).to_string()),
            });
            let profile = UserProfile {
                known_countries: strings(&countries, r),
                known_cities: strings(&cities, r),
                known_devices: strings(&devices, r),
                usual_hours: hour_mask(&hours, r),
                last_success,
                login_count: logins.value(r),
                risk: 0,
                reasons: Vec::new(),
            };
            users.insert(pipeline::event::user_key(pool.value(r), user.value(r)), profile);
        }
    }
    Ok(users)
}

/// Profiles as of `p.now` from the whole horizon (`events_in`, then
/// `user_profile` over `sign_ins`).
pub async fn profiles(session: &LakeSession, p: &ScoreParams) -> Result<Profiles, QueryError> {
    let horizon_start = p.now - Duration::days(p.rules.horizon_days.into());
    let counted =
        run(session, "events_in", &[("since", Param::Timestamp(horizon_start)), ("until", Param::Timestamp(p.now))])
            .await?;
    let rows_in = match counted.first() {
        Some(b) if b.num_rows() > 0 => int(b, "events")?.value(0),
        _ => 0,
    };
    // The profile horizon is read once: a view.
    register_sign_ins(session, &p.rules, p.deny_level, horizon_start, p.now).await?;
    let batches = run(session, "user_profile", &p.profile_params()).await?;
    Ok(Profiles { at: p.now, rows_in, users: read_profiles(batches, p.now)? })
}

/// Adds what a user did recently to a profile from earlier: places,
/// devices and hours join the known ones, the later last success wins.
/// Login counts are not added (the recent sign-ins overlap the horizon by
/// the windows an attempt takes to be decided): the larger stays.
fn merge(profile: &mut UserProfile, recent: UserProfile) {
    for (known, new) in [
        (&mut profile.known_countries, recent.known_countries),
        (&mut profile.known_cities, recent.known_cities),
        (&mut profile.known_devices, recent.known_devices),
    ] {
        known.extend(new);
        known.sort();
        known.dedup();
    }
    profile.usual_hours |= recent.usual_hours;
    profile.login_count = profile.login_count.max(recent.login_count);
    if let Some(last) = recent.last_success
        && profile.last_success.as_ref().is_none_or(|l| l.time < last.time)
    {
        profile.last_success = Some(last);
    }
}

/// What a scorer process keeps from one run to the next (a warm Lambda
/// container, a replay): the horizon's profiles and the day's settled
/// sign-ins.
#[derive(Debug, Clone, Default)]
pub struct Held {
    pub profiles: Option<Profiles>,
    pub day: Option<SettledDay>,
}

/// Runs the scoring SQL and builds the snapshot (not yet written).
pub async fn score(
    session: &LakeSession,
    p: &ScoreParams,
    version: &str,
) -> Result<(SnapshotData, ScoreReport), QueryError> {
    score_held(session, p, &mut Held::default(), version).await
}

/// A run that reuses what `held` has from earlier runs and leaves what the
/// next can reuse. The profiles are re-read when missing, from the future
/// or older than `profile_every_secs`, and the day is then read whole (so
/// events that reached the lake late count from then on); otherwise the
/// successes since the profiles were computed are merged into them, so the
/// trigger knows a new device, place or last sign-in within one run, and
/// only the sign-ins not yet settled are read from the lake.
pub async fn score_held(
    session: &LakeSession,
    p: &ScoreParams,
    held: &mut Held,
    version: &str,
) -> Result<(SnapshotData, ScoreReport), QueryError> {
    let started = Instant::now();
    let every = Duration::seconds(p.rules.profile_every_secs.into());
    let horizon = match held.profiles.take() {
        Some(h) if h.at <= p.now && p.now - h.at < every => h,
        _ => {
            held.day = None;
            profiles(session, p).await?
        }
    };
    let rules = &p.rules;
    let rows_in = horizon.rows_in;
    let mut users = horizon.users.clone();
    let (day, read_from, next) = read_day(session, rules, p.deny_level, p.now, held.day.take()).await?;
    held.day = Some(next);
    // What the held profiles have not seen: the sign-ins since they were
    // computed, and before that the windows in which an attempt was still
    // undecided then (its success came later). Planned in turn over their
    // own `sign_ins`, then run at once.
    let recent = if horizon.at < p.now {
        let undecided = Duration::seconds(rules.success_window_secs.max(rules.pending_secs).into());
        let since = horizon.at - undecided;
        session.register_batches("sign_ins", day.schema.clone(), rows_between(&day.rows, since, p.now)?)?;
        Some(session.dataframe(&query("user_profile")?, &p.profile_params()).await?)
    } else {
        None
    };
    session.register_batches("sign_ins", day.schema, day.rows)?;
    let user_risk = session.dataframe(&query("user_risk")?, &[]).await?;
    let source_risk = session
        .dataframe(
            &query("source_risk")?,
            &[
                ("since_15m", Param::Timestamp(p.now - Duration::minutes(15))),
                ("since_1h", Param::Timestamp(p.now - Duration::hours(1))),
            ],
        )
        .await?;
    let (recent, user_risk, sources) = tokio::try_join!(
        async {
            match recent {
                Some(df) => spawn_collect("user_profile", df).await,
                None => Ok(Vec::new()),
            }
        },
        spawn_collect("user_risk", user_risk),
        spawn_collect("source_risk", source_risk),
    )?;
    for (user, profile) in read_profiles(recent, p.now)? {
        merge(users.entry(user).or_default(), profile);
    }
    held.profiles = Some(horizon);
    let mut risky_users = 0;
    for b in user_risk {
        let (pool, user) = (text(&b, "user_pool_id")?, text(&b, "username")?);
        let [failures, failure_ips, blocked] =
            [int(&b, "failures_1d")?, int(&b, "failure_ips_1d")?, int(&b, "blocked_1d")?];
        for r in 0..b.num_rows() {
            let counts = UserCounts {
                failures_1d: failures.value(r),
                failure_ips_1d: failure_ips.value(r),
                blocked_1d: blocked.value(r),
            };
            let risk = user_score(rules, &counts);
            if risk.score > 0 {
                risky_users += 1;
                let profile = users.entry(pipeline::event::user_key(pool.value(r), user.value(r))).or_default();
                profile.risk = risk.score;
                profile.reasons = risk.reasons;
            }
        }
    }

    let mut data = SnapshotData { version: version.to_string(), built: p.now, ..Default::default() };
    let mut ips_scored = 0;
    for b in sources {
        let (kind, source) = (text(&b, "kind")?, text(&b, "source")?);
        let [m15, h1, d1] = [window_columns(&b, "15m")?, window_columns(&b, "1h")?, window_columns(&b, "1d")?];
        for r in 0..b.num_rows() {
            let counts = SourceCounts { m15: window(&m15, r), h1: window(&h1, r), d1: window(&d1, r) };
            let is_ip = kind.value(r) == "ip";
            ips_scored += usize::from(is_ip);
            let risk = source_score(rules, &counts);
            if risk.score == 0 {
                continue;
            }
            if is_ip {
                if let Ok(addr) = source.value(r).parse::<IpAddr>() {
                    data.ips.push((addr, risk));
                }
            } else if let Ok(asn) = source.value(r).parse::<u32>() {
                data.asns.push((asn, risk));
            }
        }
    }
    data.users = users.into_iter().collect();
    let report = ScoreReport {
        rows_in,
        users: data.users.len(),
        ips: ips_scored,
        risky_ips: data.ips.len(),
        risky_asns: data.asns.len(),
        risky_users,
        read_day_whole: read_from <= p.now - Duration::days(1),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((data, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(tries: i64, users: i64, failures: i64, light_users: i64, heavy_users: i64) -> Window {
        Window { tries, users, failures, light_users, heavy_users }
    }

    #[test]
    fn source_rules_fire_at_their_thresholds_and_not_below() {
        let s = Scoring::default();
        let score = |c: SourceCounts| source_score(&s, &c);
        // Stuffing: 15 light users in 15 minutes, half failing, fires; 14 does not.
        let burst = |users| SourceCounts { m15: w(users, users, users / 2 + 1, users, 0), ..Default::default() };
        assert_eq!(score(burst(15)).reasons, vec!["credential_stuffing:15_users_15m".to_string()]);
        assert_eq!(score(burst(14)).score, 0);
        // An office behind one NAT: many users, few tries each, mostly succeeding.
        let office = SourceCounts { d1: w(400, 300, 20, 300, 0), h1: w(60, 50, 3, 50, 0), ..Default::default() };
        assert_eq!(score(office), Risk::default());
        // Spraying: 10 users with three or more tries each in a day, ≥ 80 % failing.
        let spray = SourceCounts { d1: w(40, 10, 36, 0, 10), ..Default::default() };
        assert_eq!(score(spray).reasons, vec!["password_spraying:10_users_1d".to_string()]);
        let mostly_ok = SourceCounts { d1: w(40, 10, 20, 0, 10), ..Default::default() };
        assert_eq!(score(mostly_ok).score, 0);
        // Brute force: 100 failures a day from one source, with a failing hour.
        let brute = SourceCounts { d1: w(120, 1, 100, 0, 1), h1: w(25, 1, 25, 0, 1), ..Default::default() };
        let r = score(brute);
        assert_eq!(
            (r.score, r.reasons),
            (80, vec!["failed_sign_ins:100_1d".to_string(), "failure_ratio:100%_1h".into()])
        );
    }

    #[test]
    fn late_files_are_those_new_or_grown_in_the_hours_that_can_change_held_rows() {
        let at = |d: u32, h: u32, m: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 4, d, h, m, 0).unwrap();
        let file = |d: u32, hour: u32, name: &str| format!("events/dt=2026-04-{d:02}/hour={hour:02}/{name}.parquet");
        // Rows held before 10:58 of a day that starts at 11:30 the day before.
        let held = SettledDay {
            before: at(10, 10, 58),
            batches: Vec::new(),
            files: [(file(10, 9, "a"), 10), (file(10, 10, "b"), 10)].into(),
        };
        let (day_start, window) = (at(9, 11, 30), Duration::minutes(5));
        let late = |listed: &BTreeMap<String, u64>| -> Vec<String> {
            late_files(&held, listed, day_start, window).into_iter().map(String::from).collect()
        };
        let mut listed = held.files.clone();
        assert!(late(&listed).is_empty(), "nothing new");
        // New files in hours no held row depends on: after the cut and its
        // window, before the day and its window.
        listed.insert(file(10, 12, "after"), 5);
        listed.insert(file(9, 10, "before-the-day"), 5);
        assert!(late(&listed).is_empty());
        // A grown file in a held hour; a new one in the hour a held try's
        // success may fall in (11:00 < 10:58 + 5 min); one in the day's first hour.
        listed.insert(file(10, 9, "a"), 11);
        listed.insert(file(10, 11, "in-window"), 5);
        listed.insert(file(9, 11, "first-hour"), 5);
        assert_eq!(late(&listed), [file(9, 11, "first-hour"), file(10, 9, "a"), file(10, 11, "in-window")]);
    }

    #[test]
    fn user_rules() {
        let s = Scoring::default();
        let r = user_score(&s, &UserCounts { failures_1d: 12, failure_ips_1d: 6, blocked_1d: 2 });
        assert_eq!(r.score, 70);
        assert_eq!(r.reasons, ["failures_from_ips:6_1d", "failed_sign_ins:12_1d", "blocked_attempts:2_1d"]);
        assert_eq!(user_score(&s, &UserCounts { failures_1d: 9, failure_ips_1d: 4, blocked_1d: 0 }), Risk::default());
        let at = user_score(&s, &UserCounts { failures_1d: 10, failure_ips_1d: 5, blocked_1d: 0 });
        assert_eq!(at.reasons, ["failures_from_ips:5_1d", "failed_sign_ins:10_1d"]);
    }
}
