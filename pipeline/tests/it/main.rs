//! pipeline integration tests: one test binary, one module per area.

mod enrichment;
mod kinesis;
mod lake;
mod risk;
mod snapshot_s3;

use std::path::PathBuf;

pub fn maxmind(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/maxmind").join(name)
}
