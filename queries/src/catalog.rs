//! SQL files with their headers: one statement per file, headed by
//!
//! ```sql
//! -- name: ip_risk
//! -- description: what it computes (continued on lines that start "--   ")
//! -- param: $1 since TIMESTAMP  what the parameter means
//! ```
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
    pub description: String,
}

/// One SQL file: its header and its statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub name: String,
    pub description: String,
    /// `$1`, `$2`, … in order.
    pub params: Vec<ParamSpec>,
    pub sql: String,
}

impl Query {
    pub fn parse(file: &str, text: &str) -> Result<Query, CatalogError> {
        let bad = |message: String| CatalogError::Header { file: file.to_string(), message };
        let (mut name, mut description, mut params) = (None, String::new(), Vec::new());
        let mut in_description = false;
        for line in text.lines().take_while(|l| l.starts_with("--")) {
            if let Some(v) = line.strip_prefix("-- name:") {
                name = Some(v.trim().to_string());
                in_description = false;
            } else if let Some(v) = line.strip_prefix("-- description:") {
                description = v.trim().to_string();
                in_description = true;
            } else if let Some(v) = line.strip_prefix("-- param:") {
                in_description = false;
                let mut words = v.split_whitespace();
                let (pos, pname, ty) = (words.next(), words.next(), words.next());
                let (Some(pos), Some(pname), Some(ty)) = (pos, pname, ty) else {
                    return Err(bad(format!("param line {line:?}: expected `$n name TYPE description`")));
                };
                if pos != format!("${}", params.len() + 1) {
                    return Err(bad(format!("param {pname}: expected ${}, found {pos}", params.len() + 1)));
                }
                let ty = ParamType::parse(ty).ok_or_else(|| bad(format!("param {pname}: unknown type {ty}")))?;
                let description = words.collect::<Vec<_>>().join(" ");
                params.push(ParamSpec { name: pname.to_string(), ty, description });
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
        Ok(Query { name, description, params, sql: text.to_string() })
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
            ParamSpec { name: "since".into(), ty: ParamType::Timestamp, description: "start".into() }
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
        assert_eq!(query("sign_ins").unwrap().params.len(), 4);
    }
}
