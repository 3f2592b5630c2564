//! The report catalogue: `queries/reports/*.sql`, one report per file with
//! the catalogue header (name, description, typed parameters with defaults),
//! compiled into the binary.
//!
//! A report with `since` and `until` parameters may read `sign_ins` (the one
//! definition of a failure, `queries/sql/sign_ins.sql`): it is registered as
//! a view over that period before the report runs. Every other table is the
//! lake's (see [`LakeSession::open`]).

use chrono::{DateTime, Duration, Utc};
use datafusion::dataframe::DataFrame;
use pipeline::lake::Lake;
use pipeline::risk::{Level, Scoring};

use crate::catalog::{CatalogError, Param, Query, query};
use crate::{LakeSession, QueryError};

/// The report files compiled into the binary (a test checks that every file
/// in `queries/reports/` is listed).
pub const EMBEDDED: &[(&str, &str)] = &[
    ("sign_ins_over_time.sql", include_str!("../reports/sign_ins_over_time.sql")),
    ("failures_by_country.sql", include_str!("../reports/failures_by_country.sql")),
    ("failures_by_asn.sql", include_str!("../reports/failures_by_asn.sql")),
    ("blocked_attempts.sql", include_str!("../reports/blocked_attempts.sql")),
    ("riskiest_users.sql", include_str!("../reports/riskiest_users.sql")),
    ("riskiest_ips.sql", include_str!("../reports/riskiest_ips.sql")),
    ("riskiest_networks.sql", include_str!("../reports/riskiest_networks.sql")),
    ("risk_distribution.sql", include_str!("../reports/risk_distribution.sql")),
    ("stuffing_candidates.sql", include_str!("../reports/stuffing_candidates.sql")),
    ("spraying_candidates.sql", include_str!("../reports/spraying_candidates.sql")),
    ("impossible_travel.sql", include_str!("../reports/impossible_travel.sql")),
    ("new_devices_and_countries.sql", include_str!("../reports/new_devices_and_countries.sql")),
    ("user_audit_trail.sql", include_str!("../reports/user_audit_trail.sql")),
    ("sign_ins_per_client.sql", include_str!("../reports/sign_ins_per_client.sql")),
    ("unverified_context.sql", include_str!("../reports/unverified_context.sql")),
];

/// Every report, in catalogue order.
pub fn all() -> Vec<Query> {
    EMBEDDED.iter().map(|(file, text)| Query::parse(file, text).expect("embedded reports parse (tested)")).collect()
}

/// The catalogue as Markdown, from the reports' own headers: the generated
/// part of `docs/reports.md` (`authtrail report docs` prints it; a test
/// checks the file holds exactly this).
pub fn markdown() -> String {
    let mut out = String::from("| report | answers | parameters (defaults) |\n|---|---|---|\n");
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for q in all() {
        let params: Vec<String> = q
            .params
            .iter()
            .map(|p| {
                let default = p.default.as_deref().map_or_else(|| " (required)".to_string(), |d| format!(" = `{d}`"));
                format!("`{}`{default}: {}", p.name, cell(&p.description))
            })
            .collect();
        let portability = q.portability.as_deref().map(|p| format!(" *Athena/Trino:* {}", cell(p))).unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {}{portability} | {} |\n",
            q.name,
            cell(&q.description),
            if params.is_empty() { "—".to_string() } else { params.join("; ") }
        ));
    }
    out
}

/// The report named `name`.
pub fn report(name: &str) -> Result<Query, CatalogError> {
    all().into_iter().find(|q| q.name == name).ok_or_else(|| CatalogError::Unknown(name.to_string()))
}

/// The values to run `q` with: those given by name (as text, parsed with the
/// declared type), else each parameter's default. Relative times (`now`,
/// `-7d`) count back from `now`.
pub fn values(q: &Query, given: &[(String, String)], now: DateTime<Utc>) -> Result<Vec<(String, Param)>, CatalogError> {
    let err =
        |param: &str, message: String| CatalogError::Param { query: q.name.clone(), param: param.to_string(), message };
    for (name, _) in given {
        if !q.params.iter().any(|p| p.name == *name) {
            let known: Vec<&str> = q.params.iter().map(|p| p.name.as_str()).collect();
            let takes = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(err(name, format!("unknown; this report takes {takes}")));
        }
    }
    q.params
        .iter()
        .map(|spec| {
            let text = match given.iter().rev().find(|(n, _)| *n == spec.name) {
                Some((_, v)) => v.as_str(),
                None => {
                    spec.default.as_deref().ok_or_else(|| err(&spec.name, "no value given and no default".into()))?
                }
            };
            let value = spec.parse(text, now).map_err(|m| err(&spec.name, m))?;
            Ok((spec.name.clone(), value))
        })
        .collect()
}

/// The period a report covers, when it has one.
pub fn period(values: &[(String, Param)]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = |name: &str| {
        values.iter().find_map(|(n, v)| match v {
            Param::Timestamp(t) if n == name => Some(*t),
            _ => None,
        })
    };
    Some((at("since")?, at("until")?))
}

/// What "now" means for relative times: the wall clock, or the end of the
/// lake's newest hour when that is earlier, so that a replayed or idle
/// lake's reports show its last days rather than nothing.
pub async fn now_for(lake: &Lake) -> DateTime<Utc> {
    let wall = Utc::now();
    match lake.newest_hour().await {
        Ok(Some(hour)) => wall.min(hour + Duration::hours(1)),
        _ => wall,
    }
}

/// `q` with `values`, ready to run: `sign_ins` is registered over the
/// report's period first, with the policy's windows (`rules`) and deny
/// level (what `blocked` counts).
pub async fn dataframe(
    session: &LakeSession,
    q: &Query,
    values: &[(String, Param)],
    rules: &Scoring,
    deny_level: Level,
) -> Result<DataFrame, QueryError> {
    if let Some((since, until)) = period(values) {
        // A report about one user (`username`) needs that user's tries alone.
        let only_user = values.iter().find_map(|(n, v)| match v {
            Param::Text(u) if n == "username" => Some(u.clone()),
            _ => None,
        });
        let sign_ins = crate::score::sign_ins_params(rules, deny_level, since, until, only_user);
        session.register_query("sign_ins", &query("sign_ins")?, &sign_ins).await?;
    }
    let named: Vec<(&str, Param)> = values.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    session.dataframe(q, &named).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ParamType;
    use chrono::TimeZone;

    #[test]
    fn every_report_file_is_embedded_and_has_a_full_header() {
        let dir =
            std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()) + "/reports";
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".sql"))
            .collect();
        files.sort();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(f, _)| f.to_string()).collect();
        embedded.sort();
        assert_eq!(files, embedded, "every file in queries/reports/ is listed in EMBEDDED");
        for (file, text) in EMBEDDED {
            let q = Query::parse(file, text).unwrap();
            assert_eq!(format!("{}.sql", q.name), *file);
            assert!(q.description.len() > 80, "{file}: describe what it answers");
            for p in &q.params {
                assert!(!p.description.is_empty(), "{file}: {} has no description", p.name);
                assert!(p.default.is_some() || p.name == "username", "{file}: {} has no default", p.name);
            }
            // A period is `since` and `until`, both times, or neither.
            let ty = |n: &str| q.params.iter().find(|p| p.name == n).map(|p| p.ty);
            match (ty("since"), ty("until")) {
                (Some(ParamType::Timestamp), Some(ParamType::Timestamp)) | (None, None) => {}
                other => panic!("{file}: since/until {other:?}"),
            }
            // Reading events over a period means pruning its date partitions.
            if ty("since").is_some() && q.sql.contains("FROM events") {
                assert!(q.sql.contains("dt >= CAST(CAST($1"), "{file}: no partition filter");
                assert!(q.sql.contains("AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)"), "{file}: no partition filter");
            }
        }
    }

    #[test]
    fn values_come_from_the_caller_else_the_defaults_relative_to_now() {
        let q = report("failures_by_country").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap();
        let v = values(&q, &[("limit".into(), "5".into())], now).unwrap();
        assert_eq!(v[0], ("since".into(), Param::Timestamp(now - Duration::days(7))));
        assert_eq!(v[1], ("until".into(), Param::Timestamp(now)));
        assert_eq!(v[2], ("limit".into(), Param::Bigint(5)));
        assert_eq!(period(&v), Some((now - Duration::days(7), now)));

        let e = values(&q, &[("limit".into(), "five".into())], now).unwrap_err().to_string();
        assert_eq!(e, "query failures_by_country: parameter limit: \"five\" is not a whole number");
        let e = values(&q, &[("country".into(), "GB".into())], now).unwrap_err().to_string();
        assert_eq!(e, "query failures_by_country: parameter country: unknown; this report takes since, until, limit");
        let e = values(&q, &[("since".into(), "yesterday".into())], now).unwrap_err().to_string();
        assert!(e.starts_with("query failures_by_country: parameter since: \"yesterday\" is not a time"), "{e}");
        let trail = report("user_audit_trail").unwrap();
        let given = [("username".to_string(), "alice".to_string()), ("since".into(), "2026-04-01".into())];
        let v = values(&trail, &given, now).unwrap();
        assert!(v.contains(&("username".into(), Param::Text("alice".into()))));
        assert!(v.contains(&("since".into(), Param::Timestamp(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()))));
    }
}
