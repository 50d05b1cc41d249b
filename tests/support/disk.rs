//! Damage as a disk does it: bytes of an SQLite file changed behind
//! SQLite's back, never through SQL (only the outbox's own module writes
//! its tables: `mail/tests/one_owner.rs`). Shared by the test crates
//! (`#[path]`).

use std::fs;
use std::path::Path;

/// Flips `len` bytes of `stored` (a value of a row, read beforehand) where
/// it lies in the database file at `db`, from `at` bytes into it. The
/// file's WAL is checkpointed into it first; no connection may be open to
/// it while the bytes change (a connection's page cache would not see
/// them), so callers close theirs and open them again after. Every copy is
/// flipped (a page SQLite freed may still hold an old one: harmless either
/// way); panics unless `stored` lies in the file whole (on one page), so a
/// value only one row holds is damaged where that row is.
pub fn flip_stored_bytes(db: &Path, stored: &[u8], at: usize, len: usize) {
    assert!(at + len <= stored.len(), "{at}+{len} > {}", stored.len());
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            assert_eq!(r.get::<_, i64>(0)?, 0, "the checkpoint was not blocked");
            Ok(())
        })
        .unwrap();
    let mut file = fs::read(db).unwrap();
    let found: Vec<usize> = file
        .windows(stored.len())
        .enumerate()
        .filter(|(_, w)| *w == stored)
        .map(|(i, _)| i)
        .collect();
    assert!(
        !found.is_empty(),
        "the stored value lies in the file, whole"
    );
    for start in found {
        for b in &mut file[start + at..start + at + len] {
            *b ^= 0xFF;
        }
    }
    fs::write(db, file).unwrap();
}
