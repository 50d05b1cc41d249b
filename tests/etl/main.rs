//! Integration tests of `cpor-etl`: the real binary over temp directories,
//! the sample nights and corrupted copies of them.

mod admin;
mod crash;
mod faults;
mod generated;
mod hearings;
mod import;
mod mail;
mod util;

/// A binary's wall clock set with libfaketime, shared with the server's tests.
#[path = "../support/clock.rs"]
mod clock;
/// Damage to a database file as a disk does it.
#[path = "../support/disk.rs"]
mod disk;
/// The tests' Python and check_ics.py, shared with the server's tests.
#[path = "../support/python.rs"]
mod python;
/// Old snapshot versions, shared with the other test crate.
#[path = "../support/snapshots.rs"]
mod snapshots;
