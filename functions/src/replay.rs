//! The backtest: recorded Cognito trigger events run in time order through
//! the real handlers, with the clock set to when each was received, into a
//! local stream and lake; the scorer re-runs every `score_every` of event
//! time and the trigger reloads its snapshot, exactly as in production.
//!
//! Input is JSON lines `{"receivedAt": RFC 3339, "event": <raw trigger event>}`
//! (other keys, such as a simulator's `label`, are ignored). Output is one
//! decision line per PreAuthentication event. A line that cannot be used is
//! rejected with its line number and reason, never dropped silently.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, DurationRound, Timelike, Utc};
use pipeline::clock::FixedClock;
use pipeline::context::ContextVerifier;
use pipeline::geo::Enricher;
use pipeline::lake::Lake;
use pipeline::lake::consume::Consumer;
use pipeline::lake::sources::LocalSource;
use pipeline::risk::location::SnapshotLocation;
use pipeline::risk::snapshot::{LiveSnapshot, SnapshotData};
use pipeline::risk::{CompiledPolicy, Level};
use pipeline::stream::LocalStream;
use pipeline::telemetry::LineOut;
use queries::score::{Held, ScoreParams};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::handler::{Handler, Settings, Trigger};
use crate::risk_scorer;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("replay file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("lake writer: {0}")]
    Consume(#[from] pipeline::lake::source::ConsumeError),
    #[error(transparent)]
    Lake(#[from] pipeline::lake::LakeError),
    #[error("replay stream: {0}")]
    Stream(#[from] pipeline::stream::LocalStreamError),
    #[error("scorer: {0}")]
    Scorer(#[from] risk_scorer::ScorerError),
}

/// One input line, indexed by where it is in the file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    received_at: DateTime<Utc>,
    line: usize,
    offset: u64,
    len: usize,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "receivedAt")]
    received_at: &'a str,
    #[serde(borrow)]
    event: &'a RawValue,
}

#[derive(Deserialize)]
struct TriggerSource<'a> {
    #[serde(rename = "triggerSource", borrow)]
    trigger_source: Option<&'a str>,
}

/// A line that was not replayed, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejected {
    pub line: usize,
    pub reason: String,
}

/// What the trigger decided for one PreAuthentication event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionLine {
    pub line: usize,
    #[serde(rename = "receivedAt")]
    pub received_at: DateTime<Utc>,
    pub user_pool_id: Option<String>,
    pub user: Option<String>,
    pub event_id: Option<String>,
    pub action: String,
    pub score: Option<i32>,
    pub level: Option<String>,
    pub reasons: Vec<String>,
    /// At or above the policy's deny level: denied in enforce mode, and what
    /// audit mode would have denied.
    #[serde(default)]
    pub would_deny: bool,
}

/// The highest risk the scorer gave one user or IP during a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    pub key: String,
    pub score: u8,
    pub reasons: Vec<String>,
    /// The scoring time that first gave this score.
    pub at: DateTime<Utc>,
}

/// Peak risks of every user and IP the scorer ever scored above zero.
#[derive(Debug, Clone, Default)]
pub struct Peaks {
    users: HashMap<String, Peak>,
    ips: HashMap<String, Peak>,
}

impl Peaks {
    fn observe(&mut self, data: &SnapshotData, at: DateTime<Utc>) {
        fn keep(map: &mut HashMap<String, Peak>, key: String, score: u8, reasons: &[String], at: DateTime<Utc>) {
            if score > 0 && map.get(&key).is_none_or(|p| score > p.score) {
                map.insert(key.clone(), Peak { key, score, reasons: reasons.to_vec(), at });
            }
        }
        for (user, profile) in &data.users {
            keep(&mut self.users, user.clone(), profile.risk, &profile.reasons, at);
        }
        for (ip, risk) in &data.ips {
            keep(&mut self.ips, ip.to_string(), risk.score, &risk.reasons, at);
        }
    }

    fn top(map: &HashMap<String, Peak>, n: usize) -> Vec<Peak> {
        let mut all: Vec<&Peak> = map.values().collect();
        all.sort_by(|a, b| b.score.cmp(&a.score).then(a.at.cmp(&b.at)).then(a.key.cmp(&b.key)));
        all.into_iter().take(n).cloned().collect()
    }

    /// The `n` riskiest users (`pool/username`), highest first.
    pub fn users(&self, n: usize) -> Vec<Peak> {
        Self::top(&self.users, n)
    }

    /// The `n` riskiest IPs, highest first.
    pub fn ips(&self, n: usize) -> Vec<Peak> {
        Self::top(&self.ips, n)
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub lines: usize,
    pub pre_auth: usize,
    pub post_auth: usize,
    /// The app backend's failure reports.
    pub backend_failures: usize,
    pub denied: usize,
    /// Attempts at or above the policy's deny level: what enforce mode
    /// denies, also counted in audit mode.
    pub would_deny: usize,
    pub rejected: Vec<Rejected>,
    pub scorer_runs: usize,
    pub scoring_seconds: f64,
    /// The scorer's peak risk per user and IP over the replay.
    pub peaks: Peaks,
    pub seconds: f64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

/// What a replay runs with, besides its input.
pub struct ReplaySetup {
    pub enricher: Arc<Enricher>,
    pub verifier: ContextVerifier,
    pub policy: Arc<CompiledPolicy>,
    pub settings: Settings,
    pub stream_shards: u32,
    pub batch_records: usize,
    /// The scorer runs at every multiple of this in event time.
    pub score_every: Duration,
}

/// The real trigger handler over a local stream, lake and snapshot
/// directory, all under one work directory.
pub struct Replayer {
    pub handler: Handler<LocalStream, Arc<FixedClock>, Arc<LiveSnapshot>>,
    pub consumer: Consumer<LocalSource>,
    pub snapshots: SnapshotLocation,
    pub score_every: Duration,
    /// What the scorer keeps between runs.
    held: tokio::sync::Mutex<Held>,
}

impl Replayer {
    /// `work` holds `stream/`, `lake/` and `snapshots/`; it should be empty.
    pub fn open(work: &Path, setup: ReplaySetup) -> Result<Replayer, ReplayError> {
        let stream_dir = work.join("stream");
        let snapshot_dir = work.join("snapshots");
        let lake = Lake::open(&work.join("lake").to_string_lossy())?;
        let handler = Handler {
            enricher: setup.enricher,
            verifier: setup.verifier,
            sink: LocalStream::open(&stream_dir, setup.stream_shards, false)?,
            clock: Arc::new(FixedClock::default()),
            risk: Arc::new(LiveSnapshot::open(&snapshot_dir)),
            policy: setup.policy,
            settings: setup.settings,
            metrics: LineOut::Discard,
            spill: LineOut::memory(),
        };
        Ok(Replayer {
            handler,
            consumer: Consumer { source: LocalSource { dir: stream_dir }, lake, batch_records: setup.batch_records },
            snapshots: SnapshotLocation::Local(snapshot_dir),
            score_every: setup.score_every,
            held: Default::default(),
        })
    }
}

/// Reads the file once to index its lines by `receivedAt` (stable: equal
/// times keep file order). Lines are re-read by offset when replayed, so
/// a month of sign-ins need not fit in memory.
fn index(path: &Path) -> Result<(Vec<Entry>, Vec<Rejected>, usize), ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let (mut entries, mut rejected) = (Vec::new(), Vec::new());
    let (mut buf, mut offset, mut line) = (Vec::new(), 0u64, 0usize);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = trim_line(&buf);
        if !text.is_empty() {
            match parse_line(text) {
                Ok((received_at, ..)) => entries.push(Entry { received_at, line, offset, len: n }),
                Err(reason) => rejected.push(Rejected { line, reason }),
            }
        }
        offset += n as u64;
    }
    entries.sort_by_key(|e| e.received_at);
    Ok((entries, rejected, line))
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let end = buf.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &buf[..end]
}

fn parse_line(text: &[u8]) -> Result<(DateTime<Utc>, Trigger, &RawValue), String> {
    let l: Line = serde_json::from_slice(text).map_err(|e| format!("not a replay line: {e}"))?;
    let at = DateTime::parse_from_rfc3339(l.received_at)
        .map_err(|e| format!("receivedAt {:?} is not RFC 3339: {e}", l.received_at))?
        .to_utc();
    let source: TriggerSource =
        serde_json::from_str(l.event.get()).map_err(|e| format!("event is not a JSON object: {e}"))?;
    let trigger = match source.trigger_source {
        Some(s) => Trigger::from_source(s).ok_or_else(|| {
            format!("triggerSource {s:?} is neither pre- nor post-authentication nor a backend failure report")
        })?,
        None => return Err("event has no triggerSource".into()),
    };
    Ok((at, trigger, l.event))
}

impl Replayer {
    /// The lake brought up to `at` and scored as of then; the trigger
    /// reloads the snapshot. Returns what the run scored.
    async fn rescore(
        &self,
        at: DateTime<Utc>,
        compacted_to: &mut Option<DateTime<Utc>>,
        summary: &mut ReplaySummary,
    ) -> Result<SnapshotData, ReplayError> {
        let started = Instant::now();
        self.consumer.drain(|_| {}).await?;
        let drained = Instant::now();
        self.compact_finished_hours(at, compacted_to).await?;
        let compacted = Instant::now();
        let params = ScoreParams::for_policy(at, &self.handler.policy.policy);
        let run =
            risk_scorer::score_and_publish(&self.consumer.lake, &self.snapshots, &params, &mut *self.held.lock().await)
                .await?;
        self.handler.risk.reload();
        let ms = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1000.0;
        tracing::debug!(
            at = %at,
            drain_ms = ms(started, drained),
            compact_ms = ms(drained, compacted),
            score_ms = run.report.seconds * 1000.0,
            publish_ms = ms(compacted, Instant::now()) - run.report.seconds * 1000.0,
            "replay scorer run"
        );
        summary.peaks.observe(&run.data, at);
        summary.scorer_runs += 1;
        summary.scoring_seconds += run.report.seconds;
        Ok(run.data)
    }

    /// Merges the files of every hour before `at` (the writer has finished
    /// with them: event time is the replay clock) as a production compaction
    /// job would; the scorer then opens a file per hour instead of one per
    /// drain per shard, which dominates its cost over a long replay.
    async fn compact_finished_hours(
        &self,
        at: DateTime<Utc>,
        compacted_to: &mut Option<DateTime<Utc>>,
    ) -> Result<(), ReplayError> {
        let Ok(current_hour) = at.duration_trunc(Duration::hours(1)) else { return Ok(()) };
        let mut hour = compacted_to.unwrap_or(current_hour);
        while hour < current_hour {
            let date = hour.format("%Y-%m-%d").to_string();
            self.consumer.lake.compact(&date, Some(hour.hour())).await?;
            hour += Duration::hours(1);
        }
        *compacted_to = Some(current_hour);
        Ok(())
    }

    /// Replays `path`, writing a decision line per PreAuthentication event
    /// to `decisions`. `progress` sees (lines done, lines in all).
    pub async fn run(
        &self,
        path: &Path,
        decisions: &mut impl Write,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ReplaySummary, ReplayError> {
        let started = Instant::now();
        let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
        let (entries, rejected, lines) = index(path)?;
        let mut summary = ReplaySummary { lines, rejected, ..Default::default() };
        summary.first = entries.first().map(|e| e.received_at);
        summary.last = entries.last().map(|e| e.received_at);
        let file = File::open(path).map_err(io)?;
        let mut buf = Vec::new();
        let mut scored_at: Option<DateTime<Utc>> = None;
        // The last run's scores, written as the lake's risk tables at the end
        // (for reports; nothing in the replay reads them).
        let mut last_scored = None;
        // The first hour that may still hold more than one file.
        let mut compacted_to = entries.first().and_then(|e| e.received_at.duration_trunc(Duration::hours(1)).ok());
        for (done, e) in entries.iter().enumerate() {
            // The snapshot production would hold now: the one the scorer
            // built at the last multiple of the interval from the lake then.
            let boundary = e.received_at.duration_trunc(self.score_every).unwrap_or(e.received_at);
            if scored_at != Some(boundary) {
                last_scored = Some(self.rescore(boundary, &mut compacted_to, &mut summary).await?);
                scored_at = Some(boundary);
            }
            buf.resize(e.len, 0);
            file.read_exact_at(&mut buf, e.offset).map_err(io)?;
            // Indexed lines parsed once already; a file changed under us is rejected.
            let (trigger, raw) = match parse_line(trim_line(&buf)) {
                Ok((_, trigger, raw)) => (trigger, raw),
                Err(reason) => {
                    summary
                        .rejected
                        .push(Rejected { line: e.line, reason: format!("changed during the replay: {reason}") });
                    continue;
                }
            };
            self.handler.clock.set(e.received_at);
            let outcome = self.handler.handle(trigger, raw.get()).await;
            match trigger {
                Trigger::PostAuth => summary.post_auth += 1,
                Trigger::PreAuth => summary.pre_auth += 1,
                Trigger::BackendFailure => summary.backend_failures += 1,
            }
            if trigger == Trigger::PreAuth {
                let deny_level = self.handler.policy.policy.deny_level;
                let d = match &outcome {
                    Ok(o) => DecisionLine {
                        line: e.line,
                        received_at: e.received_at,
                        user_pool_id: Some(o.event.user_pool_id.clone()),
                        user: Some(o.event.username.clone()),
                        event_id: Some(o.event.event_id.clone()),
                        action: if o.deny { "deny" } else { "allow" }.into(),
                        score: o.event.decision_score,
                        level: o.event.decision_level.clone(),
                        reasons: o.event.decision_reasons.clone(),
                        would_deny: o.deny
                            || o.event
                                .decision_level
                                .as_deref()
                                .and_then(Level::parse)
                                .is_some_and(|l| l >= deny_level),
                    },
                    // The trigger denies an unusable event; say why.
                    Err(err) => DecisionLine {
                        line: e.line,
                        received_at: e.received_at,
                        user_pool_id: None,
                        user: None,
                        event_id: None,
                        action: "deny".into(),
                        score: None,
                        level: None,
                        reasons: vec![format!("malformed_event:{err}")],
                        would_deny: true,
                    },
                };
                summary.denied += usize::from(d.action == "deny");
                summary.would_deny += usize::from(d.would_deny);
                serde_json::to_writer(&mut *decisions, &d).map_err(|e| io(e.into()))?;
                decisions.write_all(b"\n").map_err(io)?;
            }
            progress(done + 1, entries.len());
        }
        decisions.flush().map_err(io)?;
        // Leave the lake complete, a file per hour, for reports over the backtest.
        self.consumer.drain(|_| {}).await?;
        if let Some(last) = summary.last {
            self.compact_finished_hours(last + Duration::hours(1), &mut compacted_to).await?;
        }
        if let Some(data) = &last_scored {
            risk_scorer::write_risk_tables(&self.consumer.lake, data).await;
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}
