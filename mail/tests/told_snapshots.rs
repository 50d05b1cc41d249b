//! Which snapshots' calendar files the night's digests told
//! (`NightQueue::told`, `Outbox::told`): an address told only its
//! hearings' changes is not told a change again when a later night
//! re-announces it, but only if the snapshot that brought it had its
//! digests queued and not held (etl `notify::queue::told`; review finding,
//! 2026-12-03).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mail::outbox::Outbox;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 19, 0, 0).unwrap()
}

fn night(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

#[test]
fn a_snapshot_is_told_once_its_nights_digests_are_queued_and_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    // Never queued (its mail waits, or was forgotten): not told.
    assert!(!ob.told("20261124-1.sqlite").unwrap());

    // Queued in a transaction that did not commit (killed): not told.
    {
        let tx = ob.begin_night(night(24), "", now()).unwrap();
        tx.told("20261124-1.sqlite").unwrap();
    }
    assert!(!ob.told("20261124-1.sqlite").unwrap());

    // Queued, its digests held by the flood guard: not told until released.
    let tx = ob.begin_night(night(24), "", now()).unwrap();
    tx.hold("news on 40% of followed cases").unwrap();
    tx.told("20261124-1.sqlite").unwrap();
    tx.commit(None).unwrap();
    assert!(!ob.told("20261124-1.sqlite").unwrap());
    ob.release("20261124", now()).unwrap();
    assert!(ob.told("20261124-1.sqlite").unwrap());

    // A re-run's build of the night, held again: neither build is told.
    let tx = ob.begin_night(night(24), "build-2", now()).unwrap();
    tx.hold("news on 40% of followed cases").unwrap();
    tx.told("20261124-2.sqlite").unwrap();
    tx.commit(None).unwrap();
    assert!(!ob.told("20261124-1.sqlite").unwrap());
    assert!(!ob.told("20261124-2.sqlite").unwrap());

    // Another night's snapshot is its own.
    let tx = ob.begin_night(night(25), "", now()).unwrap();
    tx.commit(None).unwrap();
    assert!(!ob.told("20261125-1.sqlite").unwrap());
}
