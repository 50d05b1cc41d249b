//! Snapshots: where they live and how they are published (`store`), how one
//! is built (`write`), and how one is read back (`read`).

pub mod read;
pub mod store;
pub mod write;
