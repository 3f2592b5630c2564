//! Detection quality: a simulator's labels joined to a replay's decisions by
//! input line. Per attack kind: attempts, blocked, recall over attempts and
//! over attacking IPs (an IP counts as caught once any of its attempts is
//! blocked), and the median time from a campaign's start to its first block;
//! for benign sign-ins: how many were blocked, overall and for travellers,
//! VPN and mobile users.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::replay::DecisionLine;

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("{what} line {line}: {message}")]
    Line { what: &'static str, line: usize, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Deserialize)]
struct LabelLine {
    #[serde(rename = "receivedAt")]
    received_at: DateTime<Utc>,
    label: Option<String>,
    event: LabelEvent,
}

#[derive(Deserialize)]
struct LabelEvent {
    #[serde(rename = "triggerSource")]
    trigger_source: Option<String>,
    request: Option<LabelRequest>,
}

#[derive(Deserialize)]
struct LabelRequest {
    #[serde(rename = "validationData")]
    validation_data: Option<HashMap<String, String>>,
}

/// One attack kind's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttackRow {
    pub kind: String,
    pub campaigns: usize,
    pub attempts: usize,
    pub blocked: usize,
    pub recall: f64,
    pub ips: usize,
    pub ips_blocked: usize,
    pub ip_recall: f64,
    /// Median over campaigns of (first block − campaign start), seconds;
    /// `None` when no campaign was blocked at all.
    pub median_secs_to_first_block: Option<f64>,
}

/// Benign sign-ins of one group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenignRow {
    pub group: String,
    pub sign_ins: usize,
    pub blocked: usize,
    pub false_block_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub attacks: Vec<AttackRow>,
    pub benign: Vec<BenignRow>,
    /// Pre-auth lines with a label but no decision (a replay that stopped short).
    pub undecided: usize,
}

#[derive(Default)]
struct Campaign {
    start: Option<DateTime<Utc>>,
    first_block: Option<DateTime<Utc>>,
    attempts: usize,
    blocked: usize,
    ips: HashSet<String>,
    ips_blocked: HashSet<String>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

/// The JSON lines of `input` with their 1-based physical line numbers
/// (blank lines are skipped but counted, as replay counts them).
fn json_lines<T: serde::de::DeserializeOwned>(
    input: impl BufRead,
    what: &'static str,
) -> impl Iterator<Item = Result<(usize, T), EvaluateError>> {
    input.lines().enumerate().filter_map(move |(i, line)| {
        let parse = |line: String| {
            serde_json::from_str(&line).map(|v| (i + 1, v)).map_err(|e| EvaluateError::Line {
                what,
                line: i + 1,
                message: e.to_string(),
            })
        };
        match line {
            Err(e) => Some(Err(e.into())),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(parse(l)),
        }
    })
}

/// Joins `labels` (the simulator's file) and `decisions` (replay's output).
pub fn evaluate(labels: impl BufRead, decisions: impl BufRead) -> Result<Evaluation, EvaluateError> {
    let mut blocked_lines: HashMap<usize, bool> = HashMap::new();
    for item in json_lines::<DecisionLine>(decisions, "decisions") {
        let (_, d) = item?;
        // What the policy blocks, whether it ran in enforce or audit mode.
        blocked_lines.insert(d.line, d.action == "deny" || d.would_deny);
    }
    let mut campaigns: BTreeMap<String, Campaign> = BTreeMap::new();
    let mut benign: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut undecided = 0;
    for item in json_lines::<LabelLine>(labels, "labels") {
        let (number, l) = item?;
        let is_pre = l.event.trigger_source.as_deref().is_some_and(|s| s.starts_with("PreAuthentication_"));
        let Some(label) = l.label.filter(|_| is_pre) else { continue };
        let Some(&blocked) = blocked_lines.get(&number) else {
            undecided += 1;
            continue;
        };
        if let Some(group) = label.strip_prefix("benign") {
            let groups: &[&'static str] = match group {
                ":traveller" => &["all", "travellers"],
                ":vpn" => &["all", "VPN users"],
                ":mobile" => &["all", "mobile users"],
                _ => &["all"],
            };
            for g in groups {
                let row = benign.entry(g).or_default();
                row.0 += 1;
                row.1 += usize::from(blocked);
            }
            continue;
        }
        let ip = l
            .event
            .request
            .and_then(|r| r.validation_data)
            .and_then(|mut v| v.remove(pipeline::context::KEY_IP))
            .unwrap_or_default();
        let c = campaigns.entry(label).or_default();
        c.start = Some(c.start.map_or(l.received_at, |s| s.min(l.received_at)));
        c.attempts += 1;
        c.ips.insert(ip.clone());
        if blocked {
            c.blocked += 1;
            c.ips_blocked.insert(ip);
            c.first_block = Some(c.first_block.map_or(l.received_at, |f| f.min(l.received_at)));
        }
    }
    let mut by_kind: BTreeMap<String, Vec<&Campaign>> = BTreeMap::new();
    for (label, c) in &campaigns {
        by_kind.entry(label.split(':').next().unwrap_or(label).to_string()).or_default().push(c);
    }
    let attacks = by_kind
        .into_iter()
        .map(|(kind, cs)| {
            let sum = |f: &dyn Fn(&Campaign) -> usize| cs.iter().map(|c| f(c)).sum::<usize>();
            let (attempts, blocked) = (sum(&|c| c.attempts), sum(&|c| c.blocked));
            let (ips, ips_blocked) = (sum(&|c| c.ips.len()), sum(&|c| c.ips_blocked.len()));
            let delays = cs
                .iter()
                .filter_map(|c| Some((c.first_block? - c.start?).num_milliseconds() as f64 / 1000.0))
                .collect();
            AttackRow {
                kind,
                campaigns: cs.len(),
                attempts,
                blocked,
                recall: ratio(blocked, attempts),
                ips,
                ips_blocked,
                ip_recall: ratio(ips_blocked, ips),
                median_secs_to_first_block: median(delays),
            }
        })
        .collect();
    let benign = ["all", "travellers", "VPN users", "mobile users"]
        .iter()
        .filter_map(|g| benign.get(g).map(|&(n, b)| (g, n, b)))
        .map(|(g, n, b)| BenignRow { group: g.to_string(), sign_ins: n, blocked: b, false_block_rate: ratio(b, n) })
        .collect();
    Ok(Evaluation { attacks, benign, undecided })
}

/// The detection targets (issue 5): recall over IPs for the campaigns that
/// spread over IPs, over attempts for takeovers, and at most 0.1 % of honest
/// sign-ins blocked.
pub const TARGETS: &[(&str, Measure, f64)] = &[
    ("credential_stuffing", Measure::IpRecall, 0.95),
    ("password_spraying", Measure::IpRecall, 0.95),
    ("takeover_travel", Measure::Recall, 0.90),
    ("takeover_slow", Measure::Recall, 0.90),
    ("benign", Measure::FalseBlockRate, 0.001),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    Recall,
    IpRecall,
    FalseBlockRate,
}

/// Each target the evaluation misses, said in words; empty when all are met.
/// A kind absent from the evaluation is a miss (it was not measured).
pub fn target_misses(e: &Evaluation) -> Vec<String> {
    TARGETS
        .iter()
        .filter_map(|&(kind, measure, target)| {
            let measured = match measure {
                Measure::FalseBlockRate => e.benign.iter().find(|b| b.group == "all").map(|b| b.false_block_rate),
                Measure::Recall => e.attacks.iter().find(|a| a.kind == kind).map(|a| a.recall),
                Measure::IpRecall => e.attacks.iter().find(|a| a.kind == kind).map(|a| a.ip_recall),
            };
            let (name, met) = match measure {
                Measure::FalseBlockRate => ("false-block rate", measured.is_some_and(|m| m <= target)),
                Measure::Recall => ("recall", measured.is_some_and(|m| m >= target)),
                Measure::IpRecall => ("IP recall", measured.is_some_and(|m| m >= target)),
            };
            let bound = if measure == Measure::FalseBlockRate { "at most" } else { "at least" };
            match measured {
                _ if met => None,
                Some(m) => Some(format!("{kind} {name} {m:.4}, target {bound} {target}")),
                None => Some(format!("{kind} {name} not measured (no such events), target {bound} {target}")),
            }
        })
        .collect()
}

/// The evaluation as a table for people.
pub fn table(e: &Evaluation) -> String {
    let mut out = format!(
        "{:<22} {:>9} {:>9} {:>9} {:>7} {:>7} {:>9} {:>14}\n",
        "attack", "campaigns", "attempts", "blocked", "recall", "IPs", "IP recall", "to first block"
    );
    for a in &e.attacks {
        let delay = a.median_secs_to_first_block.map_or("never".to_string(), |s| format!("{:.0} min", s / 60.0));
        out.push_str(&format!(
            "{:<22} {:>9} {:>9} {:>9} {:>7.3} {:>7} {:>9.3} {:>14}\n",
            a.kind, a.campaigns, a.attempts, a.blocked, a.recall, a.ips, a.ip_recall, delay
        ));
    }
    out.push_str(&format!("\n{:<22} {:>9} {:>9} {:>16}\n", "benign", "sign-ins", "blocked", "false-block rate"));
    for b in &e.benign {
        out.push_str(&format!(
            "{:<22} {:>9} {:>9} {:>15.3}%\n",
            b.group,
            b.sign_ins,
            b.blocked,
            b.false_block_rate * 100.0
        ));
    }
    match target_misses(e).as_slice() {
        [] => out.push_str("\ntargets: all met\n"),
        misses => {
            out.push_str("\ntargets missed:\n");
            for m in misses {
                out.push_str(&format!("  {m}\n"));
            }
        }
    }
    if e.undecided > 0 {
        out.push_str(&format!("\n{} labelled attempts have no decision (did the replay finish?)\n", e.undecided));
    }
    out
}
