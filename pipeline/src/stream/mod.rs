//! The event stream: where triggers put events and the lake writer reads them.
//!
//! [`EventSink`] is the seam the handlers are generic over
//! ([`sink`]). Two implementations: [`KinesisSink`] for AWS
//! ([`crate::kinesis`]) and [`LocalStream`], append-only segment files under
//! `./data/stream/`, the embedded default. A record that no sink accepted in
//! time is written as a [`spill_line`] so it can be recovered from the logs;
//! nothing is dropped silently. The poller reads both back through
//! [`crate::lake::sources`].

mod local;
pub mod sink;
mod spill;

pub use crate::kinesis::{EntryOutcome, KinesisSink, PutRecordsApi, SdkPutRecords, kinesis_client};
pub use local::{LocalStream, LocalStreamError, StoredRecord, read_shard, read_shard_limited, shard_ids, stream_id};
pub use sink::{Delivered, EmitResults, EventSink, Record};
pub(crate) use spill::json_or_base64;
pub use spill::{SPILL_TAG, parse_spill_line, spill_line};

/// The sink chosen by configuration.
pub enum AnySink {
    Local(LocalStream),
    Kinesis(KinesisSink<SdkPutRecords>),
}

impl EventSink for AnySink {
    async fn emit(&self, records: &[Record]) -> EmitResults {
        match self {
            AnySink::Local(s) => s.emit(records).await,
            AnySink::Kinesis(s) => s.emit(records).await,
        }
    }
    fn describe(&self) -> String {
        match self {
            AnySink::Local(s) => s.describe(),
            AnySink::Kinesis(s) => s.describe(),
        }
    }
}
