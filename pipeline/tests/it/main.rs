//! pipeline integration tests: one test binary, one module per area.

mod cloudwatch;
mod enrichment;
mod generated;
mod kinesis;
mod lake;
mod risk;
mod secrets;
mod snapshot_s3;

use std::path::PathBuf;

// Cargo's value at run time first: a build cache shared by clones keeps
// binaries built in another clone, whose compile-time path may be gone.
pub fn maxmind(name: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../tests/data/maxmind")
        .join(name)
}
