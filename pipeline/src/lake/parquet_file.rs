//! Events → one Parquet file (ZSTD, row groups sized for analytics).

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::LakeError;
use crate::event::{self, Event};

/// Up to a million rows per row group: few, large groups for scans, while
/// min/max statistics still let engines skip what a query does not need.
const ROW_GROUP_ROWS: usize = 1 << 20;

pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid ZSTD level")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("authtrail {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Encodes `events` with the one event schema.
pub fn encode_parquet(events: &[&Event]) -> Result<Vec<u8>, LakeError> {
    let batch = event::to_record_batch(events).map_err(|e| LakeError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(events.len() * 64 + 4096);
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(writer_properties()))
        .map_err(|e| LakeError::Encode(e.to_string()))?;
    writer.write(&batch).map_err(|e| LakeError::Encode(e.to_string()))?;
    writer.close().map_err(|e| LakeError::Encode(e.to_string()))?;
    Ok(out)
}
