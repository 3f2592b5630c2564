//! authtrail's core, free of any command line or Lambda runtime: the event
//! schema, the sign-in context contract, enrichment, the stream, telemetry
//! and configuration. DataFusion lives above this crate, in `queries`.

pub mod aws;
pub mod clock;
pub mod cloudwatch;
pub mod config;
pub mod context;
pub mod device;
pub mod event;
pub mod geo;
pub mod kinesis;
pub mod lake;
pub mod layered;
pub mod metrics;
pub mod risk;
pub mod secrets;
pub mod stream;
pub mod telemetry;
