//! The dashboard: catalogue reports drawn as one self-contained HTML file
//! (inline SVG, no script or style from the network, nothing to install to
//! view it). A small inline script only records errors and which charts
//! rendered, for the browser test. `authtrail dashboard` runs the reports.

use std::fmt::Write as _;

use chrono::{DateTime, Timelike, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// One report's result, read by column name.
pub struct Rows {
    pub batches: Vec<RecordBatch>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn numbers(&self, column: &str) -> Vec<f64> {
        let mut out = Vec::new();
        for b in &self.batches {
            let Some(c) = b.column_by_name(column) else { continue };
            let c = cast(c, &DataType::Float64).expect("a numeric column casts to Float64");
            let c = c.as_primitive::<Float64Type>();
            out.extend((0..c.len()).map(|i| if c.is_null(i) { 0.0 } else { c.value(i) }));
        }
        out
    }

    fn texts(&self, column: &str) -> Vec<String> {
        let options = FormatOptions::default().with_null("");
        let mut out = Vec::new();
        for b in &self.batches {
            let Some(c) = b.column_by_name(column) else { continue };
            let f = ArrayFormatter::try_new(c.as_ref(), &options).expect("every column formats");
            out.extend((0..c.len()).map(|i| f.value(i).to_string()));
        }
        out
    }

    /// Microseconds since the epoch of a timestamp column.
    fn times(&self, column: &str) -> Vec<i64> {
        let mut out = Vec::new();
        for b in &self.batches {
            let Some(c) = b.column_by_name(column) else { continue };
            let c = cast(c, &DataType::Int64).expect("a timestamp casts to Int64");
            out.extend(c.as_primitive::<Int64Type>().values().iter().copied());
        }
        out
    }
}

/// What the dashboard shows: the results of its reports.
pub struct Data {
    pub over_time: Rows,
    pub bucket: &'static str,
    pub by_country: Rows,
    pub distribution: Rows,
    pub users: Rows,
    pub ips: Rows,
    pub travel: Rows,
}

// --- HTML ----------------------------------------------------------------

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:0 0 4px}
header p{margin:0;color:#5b6472}
section{margin:28px 0}
h2{font-size:16px;margin:0 0 8px}
figure{margin:0}
figcaption{color:#5b6472;font-size:12px}
svg{display:block;width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#3a4250}
svg .title{font-size:13px;font-weight:600}
.axis{stroke:#8a93a3}
.grid{stroke:#e3e6eb}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e6eb;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#8a93a3;font-style:italic}
";

/// Records script errors and console errors, and on load which charts drew
/// something, in `<body data-…>` where a headless browser's DOM dump shows them.
const CHECK_SCRIPT: &str = "
window.__errors=[];
addEventListener('error',e=>__errors.push(String(e.message)));
const __ce=console.error;console.error=(...a)=>{__errors.push(a.join(' '));__ce.apply(console,a)};
addEventListener('load',()=>{
 const charts=[...document.querySelectorAll('figure.chart')];
 const drawn=charts.filter(f=>{const s=f.querySelector('svg');if(!s)return false;const b=s.getBBox();
  return b.width>0&&b.height>0&&s.querySelectorAll('[data-mark]:not([data-mark=empty])').length>0});
 document.body.dataset.charts=charts.length;
 document.body.dataset.rendered=drawn.length;
 document.body.dataset.errors=__errors.join(' | ');
});
";

const COLORS: [&str; 4] = ["#2f6fdf", "#e0892b", "#c93c3c", "#7b5cc4"];

/// The HTML page.
pub fn render(d: &Data, since: DateTime<Utc>, until: DateTime<Utc>, generated: DateTime<Utc>, lake: &str) -> String {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>authtrail dashboard</title>\
         <style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head><body>\n<header><h1>authtrail: sign-ins</h1>\
         <p>Data from <b>{}</b> to <b>{}</b> (exclusive) · lake <code>{}</code> · generated {}</p></header>\n",
        fmt(since),
        fmt(until),
        esc(lake),
        fmt(generated)
    );

    let (times, series) = filled(
        &d.over_time,
        since,
        until,
        d.bucket,
        &[("tries", COLORS[0]), ("failures", COLORS[1]), ("blocked", COLORS[2])],
    );
    section(
        &mut h,
        "Sign-ins, failures and blocks over time",
        "over_time",
        &line_chart(&times, &series, &format!("tries per {}", d.bucket)),
        &format!(
            "Per {} (UTC). Failures as sign_ins.sql defines them; blocks are attempts the trigger denied or rated high.",
            d.bucket
        ),
    );

    let countries = d.by_country.texts("country");
    let bars = [
        ("failures", COLORS[1], d.by_country.numbers("failures")),
        ("blocked", COLORS[2], d.by_country.numbers("blocked")),
    ];
    section(
        &mut h,
        "Failures and blocks by country",
        "by_country",
        &bar_chart(&countries, &bars, "sign-in tries"),
        "The countries with the most failures in the period (ISO codes; empty: not placed).",
    );

    let buckets = d.distribution.texts("score_range");
    let hist =
        [("users", COLORS[0], d.distribution.numbers("users")), ("IPs", COLORS[3], d.distribution.numbers("ips"))];
    section(
        &mut h,
        "Risk-score distribution",
        "distribution",
        &column_chart(&buckets, &hist, "risk score", "how many"),
        "Scores of the scorer's latest run (risk/*/latest.parquet); users and IPs with a score of 0 are left out.",
    );

    let _ = writeln!(
        h,
        "<section><h2>Riskiest users now</h2>{}</section>",
        html_table(&d.users, &[("username", "user", false), ("risk", "risk", true), ("reasons", "reasons", false),])
    );
    let _ = writeln!(
        h,
        "<section><h2>Riskiest IPs now</h2>{}</section>",
        html_table(&d.ips, &[("ip", "IP", false), ("score", "score", true), ("reasons", "reasons", false),])
    );
    let _ = writeln!(
        h,
        "<section><h2>Recent impossible travel</h2>{}</section>",
        html_table(
            &d.travel,
            &[
                ("username", "user", false),
                ("to_time", "time", false),
                ("from_city", "from", false),
                ("to_city", "to", false),
                ("distance_km", "km", true),
                ("speed_kmh", "km/h", true),
            ]
        )
    );
    h + "</body></html>\n"
}

/// One point per bucket from `since` to `until`, zero where the report has
/// no row (a quiet hour is a zero, not a straight line across it), for the
/// columns named in `series`.
fn filled(
    rows: &Rows,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket: &str,
    series: &[(&'static str, &'static str)],
) -> (Vec<i64>, Vec<(&'static str, &'static str, Vec<f64>)>) {
    if rows.is_empty() {
        // Nothing at all in the period: the chart says so rather than draw a flat line.
        return (Vec::new(), series.iter().map(|(name, color)| (*name, *color, Vec::new())).collect());
    }
    let step = if bucket == "day" { chrono::Duration::days(1) } else { chrono::Duration::hours(1) };
    let start = if bucket == "day" {
        since.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
    } else {
        since.date_naive().and_hms_opt(since.hour(), 0, 0).expect("a valid hour").and_utc()
    };
    let times: Vec<i64> = std::iter::successors(Some(start), |t| Some(*t + step))
        .take_while(|t| *t < until)
        .map(|t| t.timestamp_micros())
        .collect();
    let at = rows.times("bucket");
    let out = series
        .iter()
        .map(|(name, color)| {
            let values = rows.numbers(name);
            let by_time: std::collections::HashMap<i64, f64> = at.iter().copied().zip(values).collect();
            (*name, *color, times.iter().map(|t| by_time.get(t).copied().unwrap_or(0.0)).collect())
        })
        .collect();
    (times, out)
}

fn section(h: &mut String, title: &str, id: &str, svg: &str, caption: &str) {
    let _ = writeln!(
        h,
        "<section><h2>{}</h2><figure class=\"chart\" id=\"{id}\">{svg}<figcaption>{}</figcaption></figure></section>",
        esc(title),
        esc(caption)
    );
}

fn html_table(rows: &Rows, columns: &[(&str, &str, bool)]) -> String {
    if rows.is_empty() {
        return "<p class=\"empty\">none in this period</p>".into();
    }
    let cells: Vec<Vec<String>> = columns.iter().map(|(c, _, _)| rows.texts(c)).collect();
    let mut t = String::from("<table><thead><tr>");
    for (_, label, numeric) in columns {
        let _ = write!(t, "<th{}>{}</th>", if *numeric { " class=\"n\"" } else { "" }, esc(label));
    }
    t += "</tr></thead><tbody>";
    for r in 0..rows.len() {
        t += "<tr>";
        for ((_, _, numeric), col) in columns.iter().zip(&cells) {
            let v = col.get(r).map(String::as_str).unwrap_or("");
            // Whole numbers without the float's `.0`.
            let v = if *numeric { v.strip_suffix(".0").unwrap_or(v) } else { v };
            let _ = write!(t, "<td{}>{}</td>", if *numeric { " class=\"n\"" } else { "" }, esc(v));
        }
        t += "</tr>";
    }
    t + "</tbody></table>"
}

// --- SVG -------------------------------------------------------------------

const W: f64 = 960.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 48.0;

/// A round step giving about five ticks up to `max`, and the axis top.
fn ticks(max: f64) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let step = step.max(1.0);
    (step, (max / step).ceil() * step)
}

fn number(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn svg_open(height: f64) -> String {
    format!("<svg viewBox=\"0 0 {W} {height}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">")
}

fn y_axis(s: &mut String, top: f64, height: f64, y_label: &str) {
    let (step, ymax) = ticks(top);
    let mut v = 0.0;
    while v <= ymax + step / 2.0 {
        let y = TOP + (1.0 - v / ymax) * height;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(v)
        );
        v += step;
    }
    let _ = write!(
        s,
        "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        TOP + height / 2.0,
        esc(y_label)
    );
}

fn legend(s: &mut String, names: &[(&str, &str)]) {
    let mut x = LEFT;
    for (name, color) in names {
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"16\">{}</text>",
            x + 16.0,
            esc(name)
        );
        x += 28.0 + 7.0 * name.len() as f64;
    }
}

fn no_data(s: &mut String, height: f64) {
    let _ = write!(
        s,
        "<text data-mark=\"empty\" class=\"empty\" x=\"{}\" y=\"{:.1}\" text-anchor=\"middle\">no data in this period</text>",
        W / 2.0,
        TOP + height / 2.0
    );
}

/// Lines over time: `times` in µs, one value per time for each series.
fn line_chart(times: &[i64], series: &[(&str, &str, Vec<f64>)], y_label: &str) -> String {
    let height = H - TOP - BOTTOM;
    let mut s = svg_open(H);
    legend(&mut s, &series.iter().map(|(n, c, _)| (*n, *c)).collect::<Vec<_>>());
    let top = series.iter().flat_map(|(_, _, v)| v.iter().copied()).fold(0.0, f64::max);
    y_axis(&mut s, top, height, y_label);
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        W - RIGHT,
        TOP + height,
        TOP + height
    );
    let (Some(&t0), Some(&t1)) = (times.iter().min(), times.iter().max()) else {
        no_data(&mut s, height);
        return s + "</svg>";
    };
    let span = (t1 - t0).max(1) as f64;
    let x = |t: i64| LEFT + (t - t0) as f64 / span * (W - LEFT - RIGHT);
    let (_, ymax) = ticks(top);
    for (name, color, values) in series {
        let points: Vec<String> = times
            .iter()
            .zip(values)
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), TOP + (1.0 - v / ymax) * height))
            .collect();
        let _ = write!(
            s,
            "<polyline data-mark=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"{}\"/>",
            esc(name),
            points.join(" ")
        );
    }
    // Six time labels along the axis.
    for i in 0..=5 {
        let t = t0 + ((t1 - t0) as f64 * f64::from(i) / 5.0) as i64;
        let label = DateTime::from_timestamp_micros(t).map(|t| t.format("%m-%d %H:%M").to_string()).unwrap_or_default();
        let _ =
            write!(s, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>", x(t), TOP + height + 16.0);
    }
    let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time (UTC)</text>", W / 2.0, H - 8.0);
    s + "</svg>"
}

/// Horizontal grouped bars, a row per label.
fn bar_chart(labels: &[String], series: &[(&str, &str, Vec<f64>)], x_label: &str) -> String {
    let row = 22.0;
    let height = (labels.len().max(1) as f64) * row;
    let total = TOP + height + BOTTOM;
    let mut s = svg_open(total);
    legend(&mut s, &series.iter().map(|(n, c, _)| (*n, *c)).collect::<Vec<_>>());
    if labels.is_empty() {
        no_data(&mut s, height);
        return s + "</svg>";
    }
    let top = series.iter().flat_map(|(_, _, v)| v.iter().copied()).fold(0.0, f64::max);
    let (step, xmax) = ticks(top);
    let width = W - LEFT - RIGHT;
    let mut v = 0.0;
    while v <= xmax + step / 2.0 {
        let x = LEFT + v / xmax * width;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            TOP + height,
            TOP + height + 16.0,
            number(v)
        );
        v += step;
    }
    let bar = (row - 6.0) / series.len() as f64;
    for (i, label) in labels.iter().enumerate() {
        let y = TOP + i as f64 * row;
        let shown = if label.is_empty() { "(unknown)" } else { label };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + row / 2.0 + 4.0,
            esc(shown)
        );
        for (k, (name, color, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let _ = write!(
                s,
                "<rect data-mark=\"{}\" x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{color}\"><title>{}: {} {}</title></rect>",
                esc(name),
                y + 3.0 + k as f64 * bar,
                v / xmax * width,
                esc(shown),
                number(v),
                esc(name)
            );
        }
    }
    let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", W / 2.0, total - 8.0, esc(x_label));
    s + "</svg>"
}

/// Vertical grouped columns, one group per label.
fn column_chart(labels: &[String], series: &[(&str, &str, Vec<f64>)], x_label: &str, y_label: &str) -> String {
    let height = H - TOP - BOTTOM;
    let mut s = svg_open(H);
    legend(&mut s, &series.iter().map(|(n, c, _)| (*n, *c)).collect::<Vec<_>>());
    let top = series.iter().flat_map(|(_, _, v)| v.iter().copied()).fold(0.0, f64::max);
    y_axis(&mut s, top, height, y_label);
    if labels.is_empty() {
        no_data(&mut s, height);
        return s + "</svg>";
    }
    let (_, ymax) = ticks(top);
    let group = (W - LEFT - RIGHT) / labels.len() as f64;
    let bar = (group - 8.0) / series.len() as f64;
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + i as f64 * group;
        for (k, (name, color, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let h = v / ymax * height;
            let _ = write!(
                s,
                "<rect data-mark=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}: {} {}</title></rect>",
                esc(name),
                x + 4.0 + k as f64 * bar,
                TOP + height - h,
                esc(label),
                number(v),
                esc(name)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x + group / 2.0,
            TOP + height + 16.0,
            esc(label)
        );
    }
    let _ = write!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", W / 2.0, H - 8.0, esc(x_label));
    s + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_three_charts_its_range_and_when_it_was_made_even_without_data() {
        use chrono::TimeZone;
        let empty = || Rows { batches: vec![] };
        let d = Data {
            over_time: empty(),
            bucket: "hour",
            by_country: empty(),
            distribution: empty(),
            users: empty(),
            ips: empty(),
            travel: empty(),
        };
        let day = |d| Utc.with_ymd_and_hms(2026, 4, d, 0, 0, 0).unwrap();
        let html = render(&d, day(1), day(8), day(9), "s3://bucket/lake");
        assert_eq!(html.matches("<figure class=\"chart\"").count(), 3);
        assert!(html.contains("Data from <b>2026-04-01 00:00 UTC</b> to <b>2026-04-08 00:00 UTC</b>"), "{html}");
        assert!(html.contains("generated 2026-04-09 00:00 UTC"));
        assert_eq!(html.matches("no data in this period").count(), 3);
        assert_eq!(html.matches("none in this period").count(), 3);
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(0.0), (1.0, 1.0));
        assert_eq!(ticks(7.0), (2.0, 8.0));
        assert_eq!(ticks(480.0), (100.0, 500.0));
        assert_eq!(ticks(1234.0), (500.0, 1500.0));
    }

    #[test]
    fn text_is_escaped_in_charts_and_tables() {
        let svg = bar_chart(&["<script>".to_string()], &[("a&b", "#000", vec![3.0])], "x");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"), "{svg}");
        assert!(svg.contains("data-mark=\"a&amp;b\""), "{svg}");
    }

    #[test]
    fn an_empty_chart_says_so_and_still_draws_a_mark() {
        let svg = line_chart(&[], &[("tries", "#000", vec![])], "tries");
        assert!(svg.contains("no data in this period") && svg.contains("data-mark=\"empty\""), "{svg}");
    }
}
