//! The scorer's latest output as Parquet tables in the lake, for reports:
//!
//! ```text
//! risk/user_risk/latest.parquet   a row per user profile
//! risk/ip_risk/latest.parquet     a row per scored IP
//! risk/asn_risk/latest.parquet    a row per scored network
//! ```
//!
//! Each run replaces the three files whole (a PUT, or a rename locally), so a
//! reader sees one run's table or the next one's; the snapshot file stays
//! what the trigger reads (it keeps hashes, not user names).

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;

use super::{Lake, LakeError, writer_properties};
use crate::risk::Risk;
use crate::risk::snapshot::SnapshotData;

/// The three tables, each under `risk/<name>/`.
pub const TABLES: [&str; 3] = ["user_risk", "ip_risk", "asn_risk"];

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn strings() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// The Arrow schema of table `name` (one of [`TABLES`]).
pub fn schema(name: &str) -> SchemaRef {
    let mut fields = vec![Field::new("scored_at", ts(), false), Field::new("snapshot_version", DataType::Utf8, false)];
    match name {
        "user_risk" => fields.extend([
            Field::new("user_pool_id", DataType::Utf8, false),
            Field::new("username", DataType::Utf8, false),
            Field::new("risk", DataType::Int32, false),
            Field::new("reasons", strings(), false),
            Field::new("login_count", DataType::Int64, false),
            Field::new("known_countries", strings(), false),
            Field::new("known_devices", DataType::Int64, false),
            Field::new("last_success_time", ts(), true),
            Field::new("last_success_country", DataType::Utf8, true),
        ]),
        "ip_risk" => fields.extend([
            Field::new("ip", DataType::Utf8, false),
            Field::new("score", DataType::Int32, false),
            Field::new("reasons", strings(), false),
        ]),
        "asn_risk" => fields.extend([
            Field::new("asn", DataType::Int64, false),
            Field::new("score", DataType::Int32, false),
            Field::new("reasons", strings(), false),
        ]),
        other => panic!("no risk table named {other}"),
    }
    Arc::new(Schema::new(fields))
}

fn push_strings(b: &mut ListBuilder<StringBuilder>, list: &[String]) {
    for s in list {
        b.values().append_value(s);
    }
    b.append(true);
}

/// Columns every table starts with, `rows` long.
fn run_columns(data: &SnapshotData, rows: usize) -> Vec<ArrayRef> {
    let mut at = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
    let mut version = StringBuilder::new();
    for _ in 0..rows {
        at.append_value(data.built.timestamp_micros());
        version.append_value(&data.version);
    }
    vec![Arc::new(at.finish()), Arc::new(version.finish())]
}

/// The three tables of one scorer run, in [`TABLES`] order.
pub fn batches(data: &SnapshotData) -> [RecordBatch; 3] {
    let n = data.users.len();
    let (mut pool, mut username, mut risk) = (StringBuilder::new(), StringBuilder::new(), Int32Builder::new());
    let (mut reasons, mut countries) = (ListBuilder::new(StringBuilder::new()), ListBuilder::new(StringBuilder::new()));
    let (mut logins, mut devices) = (Int64Builder::new(), Int64Builder::new());
    let mut last_time = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut last_country = StringBuilder::new();
    for (key, p) in &data.users {
        // `pool/username`: pool ids contain no `/`.
        let (pool_id, user) = key.split_once('/').unwrap_or(("", key));
        pool.append_value(pool_id);
        username.append_value(user);
        risk.append_value(i32::from(p.risk));
        push_strings(&mut reasons, &p.reasons);
        logins.append_value(p.login_count);
        push_strings(&mut countries, &p.known_countries);
        devices.append_value(p.known_devices.len() as i64);
        last_time.append_option(p.last_success.as_ref().map(|l| l.time.timestamp_micros()));
        last_country.append_option(p.last_success.as_ref().and_then(|l| l.country.as_deref()));
    }
    let mut columns = run_columns(data, n);
    columns.extend([
        Arc::new(pool.finish()) as ArrayRef,
        Arc::new(username.finish()),
        Arc::new(risk.finish()),
        Arc::new(reasons.finish()),
        Arc::new(logins.finish()),
        Arc::new(countries.finish()),
        Arc::new(devices.finish()),
        Arc::new(last_time.finish()),
        Arc::new(last_country.finish()),
    ]);
    let users = RecordBatch::try_new(schema("user_risk"), columns).expect("columns match the user_risk schema");
    let ips = keyed_batch("ip_risk", data, &data.ips, |ips| {
        let mut b = StringBuilder::new();
        ips.iter().for_each(|(ip, _)| b.append_value(ip.to_string()));
        Arc::new(b.finish())
    });
    let asns = keyed_batch("asn_risk", data, &data.asns, |asns| {
        let mut b = Int64Builder::new();
        asns.iter().for_each(|(asn, _)| b.append_value(i64::from(*asn)));
        Arc::new(b.finish())
    });
    [users, ips, asns]
}

/// A risk table: the run's columns, the key column `keys` builds, score, reasons.
fn keyed_batch<K>(
    name: &str,
    data: &SnapshotData,
    rows: &[(K, Risk)],
    keys: impl FnOnce(&[(K, Risk)]) -> ArrayRef,
) -> RecordBatch {
    let mut score = Int32Builder::new();
    let mut reasons = ListBuilder::new(StringBuilder::new());
    for (_, r) in rows {
        score.append_value(i32::from(r.score));
        push_strings(&mut reasons, &r.reasons);
    }
    let mut columns = run_columns(data, rows.len());
    columns.extend([keys(rows), Arc::new(score.finish()), Arc::new(reasons.finish())]);
    RecordBatch::try_new(schema(name), columns).expect("columns match the risk table schema")
}

fn encode(batch: &RecordBatch) -> Result<Vec<u8>, LakeError> {
    let err = |e: parquet::errors::ParquetError| LakeError::Encode(e.to_string());
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(writer_properties())).map_err(err)?;
    writer.write(batch).map_err(err)?;
    writer.close().map_err(err)?;
    Ok(out)
}

/// Replaces `risk/<table>/latest.parquet` for each table with this run's.
pub async fn write(lake: &Lake, data: &SnapshotData) -> Result<(), LakeError> {
    for (name, batch) in TABLES.iter().zip(batches(data)) {
        lake.put(&format!("risk/{name}/latest.parquet"), encode(&batch)?).await?;
    }
    Ok(())
}
