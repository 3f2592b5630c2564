//! SQL files with their headers: one statement per file, headed by
//!
//! ```sql
//! -- name: ip_risk
//! -- description: what it computes (continued on lines that start "--   ")
//! -- portability: (optional) what differs on Athena / Trino
//! -- param: $1 since TIMESTAMP = -7d  what the parameter means
//! ```
//!
//! A parameter's default (`= value`, optional) is written as on the command
//! line (see [`Param::parse`]); a text parameter may list the values it
//! takes (`-- param: $3 bucket TEXT[hour|day] = hour  …`).
//!
//! Parameters are bound as typed values (DataFusion placeholders), never
//! spliced into the SQL text; binding checks each name, type and count.

use chrono::{DateTime, Duration, Utc};
use datafusion::arrow::datatypes::IntervalMonthDayNano;
use datafusion::common::ScalarValue;

/// The SQL files compiled into the binary.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("events_in.sql", include_str!("../sql/events_in.sql")),
    ("sign_ins.sql", include_str!("../sql/sign_ins.sql")),
    ("user_profile.sql", include_str!("../sql/user_profile.sql")),
    ("user_risk.sql", include_str!("../sql/user_risk.sql")),
    ("source_risk.sql", include_str!("../sql/source_risk.sql")),
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CatalogError {
    #[error("{file}: {message}")]
    Header { file: String, message: String },
    #[error("no query named {0:?}")]
    Unknown(String),
    #[error("query {query}: parameter {param}: {message}")]
    Param { query: String, param: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Timestamp,
    Bigint,
    Double,
    Text,
    Interval,
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "TIMESTAMP" => ParamType::Timestamp,
            "BIGINT" => ParamType::Bigint,
            "DOUBLE" => ParamType::Double,
            "TEXT" => ParamType::Text,
            "INTERVAL" => ParamType::Interval,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Timestamp => "TIMESTAMP",
            ParamType::Bigint => "BIGINT",
            ParamType::Double => "DOUBLE",
            ParamType::Text => "TEXT",
            ParamType::Interval => "INTERVAL",
        }
    }
}

/// A typed value for a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Timestamp(DateTime<Utc>),
    Bigint(i64),
    Double(f64),
    Text(String),
    Interval(Duration),
}

impl Param {
    fn param_type(&self) -> ParamType {
        match self {
            Param::Timestamp(_) => ParamType::Timestamp,
            Param::Bigint(_) => ParamType::Bigint,
            Param::Double(_) => ParamType::Double,
            Param::Text(_) => ParamType::Text,
            Param::Interval(_) => ParamType::Interval,
        }
    }

    fn scalar(&self) -> ScalarValue {
        match self {
            Param::Timestamp(t) => ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into())),
            Param::Bigint(n) => ScalarValue::Int64(Some(*n)),
            Param::Double(x) => ScalarValue::Float64(Some(*x)),
            Param::Text(s) => ScalarValue::Utf8(Some(s.clone())),
            Param::Interval(d) => ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
                0,
                0,
                d.num_nanoseconds().unwrap_or(i64::MAX),
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ParamType,
    /// The values a text parameter takes; empty: any.
    pub choices: Vec<String>,
    /// As written in the header, parsed with [`ParamSpec::parse`] when used.
    pub default: Option<String>,
    pub description: String,
}

impl ParamSpec {
    /// A value for this parameter as a person writes it: [`Param::parse`],
    /// then one of the listed choices, and a number not below zero (counts,
    /// limits, thresholds: no report takes a negative one).
    pub fn parse(&self, text: &str, now: DateTime<Utc>) -> Result<Param, String> {
        let value = Param::parse(self.ty, text, now)?;
        match &value {
            Param::Text(t) if !self.choices.is_empty() && !self.choices.contains(t) => {
                Err(format!("{t:?} is not one of {}", self.choices.join(", ")))
            }
            Param::Bigint(n) if *n < 0 => Err(format!("{n} is negative")),
            Param::Double(x) if *x < 0.0 => Err(format!("{x} is negative")),
            _ => Ok(value),
        }
    }
}

impl Param {
    /// A value of type `ty` as a person writes it:
    /// - TIMESTAMP: RFC 3339 (`2026-03-02T08:00:00Z`), a date or date and
    ///   time in UTC (`2026-03-02`, `2026-03-02T08:00`), `now`, or a time
    ///   before now (`-7d`, `-24h`, `-30m`, `-90s`);
    /// - INTERVAL: `90d`, `24h`, `5m`, `60s`;
    /// - BIGINT, DOUBLE: a number; TEXT: the text itself.
    pub fn parse(ty: ParamType, text: &str, now: DateTime<Utc>) -> Result<Param, String> {
        if ty == ParamType::Text {
            // As given: a username with a space is that username.
            return Ok(Param::Text(text.to_string()));
        }
        let text = text.trim();
        match ty {
            ParamType::Text => unreachable!("handled above"),
            ParamType::Bigint => text.parse().map(Param::Bigint).map_err(|_| format!("{text:?} is not a whole number")),
            ParamType::Double => match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Param::Double(x)),
                _ => Err(format!("{text:?} is not a number")),
            },
            ParamType::Interval => parse_duration(text)
                .map(Param::Interval)
                .ok_or_else(|| format!("{text:?} is not a duration like 90d, 24h, 5m or 60s")),
            ParamType::Timestamp => timestamp(text, now).map(Param::Timestamp).ok_or_else(|| {
                format!(
                    "{text:?} is not a time: use RFC 3339, YYYY-MM-DD[THH:MM[:SS]] (UTC), now, or -7d / -24h / -30m"
                )
            }),
        }
    }
}

/// `90d`, `24h`, `5m`, `60s`: a whole number and a unit; at most about 290
/// years (an interval parameter is bound in nanoseconds). The one duration
/// syntax of the command line (`--score-every` too).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (split, _) = text.char_indices().last()?;
    let (n, unit) = (text[..split].parse::<i64>().ok()?, &text[split..]);
    let seconds = match unit {
        "d" => n.checked_mul(86_400)?,
        "h" => n.checked_mul(3_600)?,
        "m" => n.checked_mul(60)?,
        "s" => n,
        _ => return None,
    };
    (0..=i64::MAX / 1_000_000_000).contains(&seconds).then(|| Duration::try_seconds(seconds)).flatten()
}

fn timestamp(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if text == "now" {
        return Some(now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        return now.checked_sub_signed(parse_duration(ago)?);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    use chrono::{NaiveDate, NaiveDateTime};
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// One SQL file: its header and its statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub name: String,
    pub description: String,
    /// What differs on Athena / Trino, when something does.
    pub portability: Option<String>,
    /// `$1`, `$2`, … in order.
    pub params: Vec<ParamSpec>,
    pub sql: String,
}

impl Query {
    pub fn parse(file: &str, text: &str) -> Result<Query, CatalogError> {
        let bad = |message: String| CatalogError::Header { file: file.to_string(), message };
        let (mut name, mut description, mut params, mut portability) = (None, String::new(), Vec::new(), None);
        let mut in_description = false;
        for line in text.lines().take_while(|l| l.starts_with("--")) {
            if let Some(v) = line.strip_prefix("-- name:") {
                name = Some(v.trim().to_string());
                in_description = false;
            } else if let Some(v) = line.strip_prefix("-- description:") {
                description = v.trim().to_string();
                in_description = true;
            } else if let Some(v) = line.strip_prefix("-- portability:") {
                portability = Some(v.trim().to_string());
                in_description = false;
            } else if let Some(v) = line.strip_prefix("-- param:") {
                in_description = false;
                let mut words = v.split_whitespace().peekable();
                let (pos, pname, ty) = (words.next(), words.next(), words.next());
                let (Some(pos), Some(pname), Some(ty)) = (pos, pname, ty) else {
                    return Err(bad(format!("param line {line:?}: expected `$n name TYPE description`")));
                };
                if pos != format!("${}", params.len() + 1) {
                    return Err(bad(format!("param {pname}: expected ${}, found {pos}", params.len() + 1)));
                }
                let (ty, choices) = match ty.strip_suffix(']').and_then(|t| t.split_once('[')) {
                    Some((ty, list)) => (ty, list.split('|').map(str::to_string).collect()),
                    None => (ty, Vec::new()),
                };
                let ty = ParamType::parse(ty).ok_or_else(|| bad(format!("param {pname}: unknown type {ty}")))?;
                if !choices.is_empty() && ty != ParamType::Text {
                    return Err(bad(format!("param {pname}: only TEXT lists its values")));
                }
                let mut spec =
                    ParamSpec { name: pname.to_string(), ty, choices, default: None, description: String::new() };
                if words.next_if_eq(&"=").is_some() {
                    let v = words.next().ok_or_else(|| bad(format!("param {pname}: `=` without a default")))?;
                    let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(v);
                    spec.parse(v, DateTime::UNIX_EPOCH).map_err(|e| bad(format!("param {pname}: default {e}")))?;
                    spec.default = Some(v.to_string());
                }
                spec.description = words.collect::<Vec<_>>().join(" ");
                params.push(spec);
            } else if let Some(v) = line.strip_prefix("--   ")
                && in_description
            {
                description.push(' ');
                description.push_str(v.trim());
            }
        }
        let name = name.ok_or_else(|| bad("no `-- name:` header".into()))?;
        if description.is_empty() {
            return Err(bad("no `-- description:` header".into()));
        }
        // Every declared parameter is used and no undeclared one is.
        for n in 1..=params.len() + 1 {
            let used = uses_placeholder(text, n);
            if n <= params.len() && !used {
                return Err(bad(format!("param ${n} is declared but not used")));
            }
            if n > params.len() && used {
                return Err(bad(format!("${n} is used but not declared")));
            }
        }
        Ok(Query { name, description, portability, params, sql: text.to_string() })
    }

    /// The placeholder values in order, from named values; every parameter
    /// must be given exactly once, with its declared type.
    pub fn bind(&self, values: &[(&str, Param)]) -> Result<Vec<ScalarValue>, CatalogError> {
        let err = |param: &str, message: String| CatalogError::Param {
            query: self.name.clone(),
            param: param.to_string(),
            message,
        };
        for (name, _) in values {
            if !self.params.iter().any(|p| p.name == *name) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(err(name, format!("unknown; this query takes {}", known.join(", "))));
            }
        }
        self.params
            .iter()
            .map(|spec| {
                let value = values.iter().find(|(n, _)| *n == spec.name).map(|(_, v)| v);
                match value {
                    None => Err(err(&spec.name, "no value given".into())),
                    Some(v) if v.param_type() != spec.ty => {
                        Err(err(&spec.name, format!("expects {}, got {}", spec.ty.as_str(), v.param_type().as_str())))
                    }
                    Some(v) => Ok(v.scalar()),
                }
            })
            .collect()
    }
}

/// Whether `$n` occurs in the statement (not as a prefix of `$n0`).
fn uses_placeholder(text: &str, n: usize) -> bool {
    let body: String = text.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n");
    let needle = format!("${n}");
    body.match_indices(&needle).any(|(i, _)| !body[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The embedded query named `name`.
pub fn query(name: &str) -> Result<Query, CatalogError> {
    EMBEDDED
        .iter()
        .map(|(file, text)| Query::parse(file, text))
        .find(|q| q.as_ref().map_or(true, |q| q.name == name))
        .unwrap_or_else(|| Err(CatalogError::Unknown(name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_valid_header_named_after_it() {
        for (file, text) in EMBEDDED {
            let q = Query::parse(file, text).unwrap();
            assert_eq!(format!("{}.sql", q.name), *file);
            assert!(q.description.len() > 40, "{file}: {}", q.description);
            assert!(q.params.iter().all(|p| !p.description.is_empty()), "{file}");
        }
    }

    #[test]
    fn headers_are_checked() {
        let ok = "-- name: q\n-- description: d\n--   more\n-- param: $1 since TIMESTAMP  start\nSELECT $1";
        let q = Query::parse("q.sql", ok).unwrap();
        assert_eq!(q.description, "d more");
        assert_eq!(
            q.params[0],
            ParamSpec {
                name: "since".into(),
                ty: ParamType::Timestamp,
                choices: vec![],
                default: None,
                description: "start".into()
            }
        );
        for (text, expect) in [
            ("-- description: d\nSELECT 1", "no `-- name:`"),
            ("-- name: q\n-- description: d\n-- param: $2 x BIGINT  y\nSELECT $2", "expected $1"),
            ("-- name: q\n-- description: d\n-- param: $1 x BLOB  y\nSELECT $1", "unknown type BLOB"),
            ("-- name: q\n-- description: d\n-- param: $1 x BIGINT  y\nSELECT $10", "declared but not used"),
            ("-- name: q\n-- description: d\nSELECT $1", "$1 is used but not declared"),
        ] {
            let e = Query::parse("q.sql", text).unwrap_err().to_string();
            assert!(e.contains(expect), "{e}");
        }
    }

    #[test]
    fn values_parse_as_people_write_them() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap();
        let at = |y, mo, d, h, mi| Param::Timestamp(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap());
        let ts = |t: &str| Param::parse(ParamType::Timestamp, t, now);
        assert_eq!(ts("now"), Ok(Param::Timestamp(now)));
        assert_eq!(ts("-7d"), Ok(at(2026, 4, 3, 12, 0)));
        assert_eq!(ts("-90m"), Ok(at(2026, 4, 10, 10, 30)));
        assert_eq!(ts("2026-04-01"), Ok(at(2026, 4, 1, 0, 0)));
        assert_eq!(ts("2026-04-01T08:30"), Ok(at(2026, 4, 1, 8, 30)));
        assert_eq!(ts("2026-04-01T08:30:00+02:00"), Ok(at(2026, 4, 1, 6, 30)));
        for bad in ["yesterday", "-7w", "2026-13-01", ""] {
            assert!(ts(bad).unwrap_err().contains("is not a time"), "{bad}");
        }
        let p = |ty, t: &str| Param::parse(ty, t, now);
        assert_eq!(p(ParamType::Interval, "90d"), Ok(Param::Interval(Duration::days(90))));
        assert_eq!(p(ParamType::Interval, "5m"), Ok(Param::Interval(Duration::minutes(5))));
        for bad in ["-5m", "5x", "5é", "д", "", "999999999999d"] {
            assert!(p(ParamType::Interval, bad).is_err(), "{bad}");
        }
        assert!(ts("-7д").is_err(), "a non-ASCII unit is an error, not a panic");
        assert_eq!(p(ParamType::Bigint, "12"), Ok(Param::Bigint(12)));
        assert_eq!(p(ParamType::Bigint, "1.5"), Err("\"1.5\" is not a whole number".into()));
        assert_eq!(p(ParamType::Double, "0.5"), Ok(Param::Double(0.5)));
        assert!(p(ParamType::Double, "NaN").is_err());
        // Text is kept as given: it is bound, never spliced.
        assert_eq!(p(ParamType::Text, "' OR 1=1 --"), Ok(Param::Text("' OR 1=1 --".into())));
        assert_eq!(p(ParamType::Text, " alice "), Ok(Param::Text(" alice ".into())));
    }

    #[test]
    fn defaults_are_read_from_the_header_and_checked() {
        let q = Query::parse(
            "q.sql",
            "-- name: q\n-- description: d\n-- param: $1 n BIGINT = 20  rows\n-- param: $2 u TEXT = 'hour'  unit\nSELECT $1, $2",
        )
        .unwrap();
        assert_eq!(q.params[0].default.as_deref(), Some("20"));
        assert_eq!(q.params[0].description, "rows");
        assert_eq!(q.params[1].default.as_deref(), Some("hour"));
        let listed = Query::parse(
            "q.sql",
            "-- name: q\n-- description: d\n-- param: $1 u TEXT[hour|day] = hour  unit\n-- param: $2 n BIGINT = 1  n\nSELECT $1, $2",
        )
        .unwrap();
        let now = DateTime::UNIX_EPOCH;
        assert_eq!(listed.params[0].choices, ["hour", "day"]);
        assert_eq!(listed.params[0].parse("day", now), Ok(Param::Text("day".into())));
        assert_eq!(listed.params[0].parse("week", now), Err("\"week\" is not one of hour, day".into()));
        assert_eq!(listed.params[1].parse("-1", now), Err("-1 is negative".into()));
        let e = Query::parse("q.sql", "-- name: q\n-- description: d\n-- param: $1 u TEXT[a|b] = c  u\nSELECT $1");
        assert!(e.unwrap_err().to_string().contains("default \"c\" is not one of a, b"));
        let e = Query::parse("q.sql", "-- name: q\n-- description: d\n-- param: $1 n BIGINT = x  rows\nSELECT $1");
        assert!(e.unwrap_err().to_string().contains("param n: default \"x\" is not a whole number"));
    }

    #[test]
    fn binding_checks_names_types_and_completeness() {
        let q = Query::parse(
            "q.sql",
            "-- name: q\n-- description: d\n-- param: $1 n BIGINT  x\n-- param: $2 w INTERVAL  y\nSELECT $1, $2",
        )
        .unwrap();
        let v = q.bind(&[("w", Param::Interval(Duration::minutes(5))), ("n", Param::Bigint(7))]).unwrap();
        assert_eq!(v[0], ScalarValue::Int64(Some(7)));
        assert_eq!(v[1], ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, 300_000_000_000))));
        let e = q.bind(&[("n", Param::Text("7".into())), ("w", Param::Interval(Duration::zero()))]).unwrap_err();
        assert_eq!(e.to_string(), "query q: parameter n: expects BIGINT, got TEXT");
        let e = q.bind(&[("n", Param::Bigint(1))]).unwrap_err();
        assert_eq!(e.to_string(), "query q: parameter w: no value given");
        let e = q.bind(&[("nope", Param::Bigint(1))]).unwrap_err();
        assert!(e.to_string().contains("parameter nope: unknown; this query takes n, w"), "{e}");
        assert_eq!(query("no_such").unwrap_err(), CatalogError::Unknown("no_such".into()));
        assert_eq!(query("sign_ins").unwrap().params.len(), 6);
    }
}
