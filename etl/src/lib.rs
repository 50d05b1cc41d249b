//! cpor-etl: the nightly import of the courts' export into published SQLite
//! snapshots, and the administrators' commands around it.
//!
//! Data flows one way: `batch` (manifest, files) → `kinds` (bytes to typed
//! rows, through `decode`) → `court` (the contract's `rules`, and the
//! `hearings` the entries schedule) → `import`
//! (carry-over, `snapshot::write`, `store::layout` seal and publish) →
//! `report`.

pub mod batch;
pub mod commands;
pub mod config;
pub mod court;
pub mod decode;
pub mod hearings;
pub mod import;
pub mod kinds;
pub mod model;
pub mod notify;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod stop;
pub mod ui;
