//! authtrail's Lambda functions as library code: the Cognito trigger
//! handlers (generic over sink and clock, so Lambda, the CLI and tests run the
//! same code), their wiring from configuration, and the Lambda entry points.

pub mod cognito;
pub mod evaluate;
pub mod handler;
pub mod lake_writer;
pub mod lambda;
pub mod replay;
pub mod risk_scorer;
pub mod setup;
pub mod simulate;

/// jemalloc for every binary that links this crate (the CLI, the four
/// Lambda functions, their tests and the trigger benchmark): under glibc's
/// allocator about a fifth of a scorer run went to malloc and free. The
/// `jemalloc` feature (on by default) turns it off.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub use handler::{DENIAL_MESSAGE, Handler, Outcome, Settings, Trigger};
