//! The concurrency review of the fiftieth session: transactions of the
//! outbox that read, then write, began without the write lock. In WAL mode
//! SQLite refuses such a transaction's first write at once, without
//! waiting (`SQLITE_BUSY`, or `SQLITE_BUSY_SNAPSHOT` once another process
//! has committed since its first read), so beside a delivering `send` an
//! import published its night and did not queue its mail, a rollback did
//! not hold the digests the running `send` then delivered, and
//! `outbox retry` failed. Every transaction on the outbox now takes the
//! write lock as it begins (`schemas::open_migrated`): another process
//! waits for it, and it never has to upgrade.

use chrono::Utc;
use mail::outbox::Outbox;
use rusqlite::{Connection, TransactionBehavior};

/// Whether another connection can take the outbox's write lock now.
fn writable_from_elsewhere(dir: &std::path::Path) -> bool {
    let conn = Connection::open(dir.join("outbox.sqlite")).unwrap();
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok()
}

#[test]
fn a_nights_queue_holds_the_write_lock_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path()).unwrap();
    assert!(writable_from_elsewhere(dir.path()));
    let night = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let queue = outbox.begin_night(night, "", Utc::now()).unwrap();
    assert!(
        !writable_from_elsewhere(dir.path()),
        "the night's queue began without the write lock"
    );
    drop(queue);
    assert!(writable_from_elsewhere(dir.path()));
}

#[test]
fn any_transaction_on_the_outbox_begins_with_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = mail::outbox::open(dir.path()).unwrap();
    let tx = conn.transaction().unwrap();
    assert!(!writable_from_elsewhere(dir.path()));
    drop(tx);
    // (one that only reads says so: it waits for no writer)
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .unwrap();
    assert!(writable_from_elsewhere(dir.path()));
    drop(tx);
}

/// Opening the outbox with nothing to migrate takes no write lock: a
/// command opened while an import queues a night's mail answers, not
/// waits 10 s to fail "database is locked" (the review's 3).
#[test]
fn opening_an_outbox_with_nothing_to_migrate_waits_for_no_writer() {
    let dir = tempfile::tempdir().unwrap();
    drop(Outbox::open(dir.path()).unwrap());
    let holder = Connection::open(dir.path().join("outbox.sqlite")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let opened = Outbox::open(dir.path());
    assert!(opened.is_ok(), "{:?}", opened.err());
    holder.execute_batch("ROLLBACK;").unwrap();
}
