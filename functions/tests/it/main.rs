//! functions integration tests: one test binary, one module per area.

mod evaluate;
mod handlers;
mod infra;
mod lake_writer;
mod lambda;
mod replay;
mod risk_scorer;
mod simulate;
