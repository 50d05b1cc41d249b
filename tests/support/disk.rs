//! Damage as a disk does it: bytes of an SQLite file changed behind
//! SQLite's back, never through SQL. It is the one place outside
//! `mail/src/outbox/` that changes the outbox's rows, as a failing disk
//! would: `mail/tests/one_owner.rs` checks that no SQL elsewhere writes
//! them. Shared by the test crates (`#[path]`).

use std::fs;
use std::path::Path;

/// Flips `len` bytes of outbox item `id`'s stored message in the database
/// file `db`, starting `at(length of the message)` bytes into it. The WAL
/// is checkpointed into the file first; no other connection may be open to
/// it meanwhile (its page cache would not see the change), so callers close
/// theirs and open them again after. Every copy of the message's bytes in
/// the file is flipped (a page SQLite freed may still hold an old one); the
/// message read back afterwards must differ, or this panics.
pub fn damage_stored_message(db: &Path, id: i64, at: impl FnOnce(usize) -> usize, len: usize) {
    let read = || -> Vec<u8> {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row("SELECT message FROM items WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let stored = read();
    let at = at(stored.len());
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
        "item {id}'s message lies in the file whole"
    );
    for start in found {
        for b in &mut file[start + at..start + at + len] {
            *b ^= 0xFF;
        }
    }
    fs::write(db, file).unwrap();
    assert_ne!(
        read(),
        stored,
        "item {id}'s message is damaged where it is read"
    );
}
