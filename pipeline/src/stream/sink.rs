//! The sink seam: what a trigger hands the stream and what it learns back.

use std::future::Future;

/// One record for the stream: the partition key (the user key) and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub shard_id: String,
    pub sequence_number: String,
}

/// The outcome for each input record, in input order. `Err` holds the reason
/// the record could not be delivered within the sink's limits.
pub type EmitResults = Vec<Result<Delivered, String>>;

/// Something that takes records and tells, per record, what happened.
pub trait EventSink: Send + Sync {
    fn emit(&self, records: &[Record]) -> impl Future<Output = EmitResults> + Send;
    /// A line for humans: which stream, where.
    fn describe(&self) -> String;
}

impl<T: EventSink> EventSink for std::sync::Arc<T> {
    fn emit(&self, records: &[Record]) -> impl Future<Output = EmitResults> + Send {
        (**self).emit(records)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}
