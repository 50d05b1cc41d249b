//! The data directory and what lives in it for longer than one run: the
//! layout and the snapshot publishing protocol (`layout`), the locks, the
//! accounts database (`accounts`), and the directory's secret key and
//! single-use tokens (`secret`). Nothing here knows the export format: the
//! import (`etl`) and the website (`query-server`) both build on it.

pub mod accounts;
pub mod failpoint;
pub mod hearings;
pub mod layout;
pub mod secret;

#[cfg(feature = "writer")]
pub use layout::Lock;
pub use layout::{SnapshotFile, Store};
