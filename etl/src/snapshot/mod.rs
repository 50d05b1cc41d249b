//! Snapshots: how one is built (`write`) and how one is read back
//! (`read`). Where they live and how they are published is the data
//! directory's (`store::layout`).

pub mod read;
pub mod write;
