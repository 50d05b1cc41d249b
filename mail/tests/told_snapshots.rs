//! Which snapshots' calendar files the nights' mail told
//! (`NightQueue::told`, `Outbox::told`): an address told only its
//! hearings' changes is not told a change again when a later night
//! re-announces it, but only if the snapshot that brought it, and every
//! night before it back to the chain's start, had its mail queued and its
//! digests not held (etl `notify::queue::told`; review findings,
//! 2026-12-03).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mail::outbox::Outbox;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 19, 0, 0).unwrap()
}

fn night(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

fn name(day: u32, build: u32) -> String {
    format!("202611{day:02}-{build}.sqlite")
}

/// Queues night `day`'s mail (build `build`), compared with `base`, held
/// if `held`.
fn queue(ob: &mut Outbox, day: u32, build: u32, base: Option<&str>, held: bool) {
    let reference = if build == 1 {
        String::new()
    } else {
        format!("build-{build}")
    };
    let tx = ob.begin_night(night(day), &reference, now()).unwrap();
    if held {
        tx.hold("news on 40% of followed cases").unwrap();
    }
    tx.told(&name(day, build), base).unwrap();
    tx.commit(None).unwrap();
}

#[test]
fn a_snapshot_is_told_when_every_night_back_to_the_first_was_queued_and_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let told = |ob: &Outbox, day, build| ob.told(&name(day, build)).unwrap();
    // Never queued: not told.
    assert!(!told(&ob, 23, 1));

    // Queued in a transaction that did not commit (killed): not told.
    {
        let tx = ob.begin_night(night(23), "", now()).unwrap();
        tx.told(&name(23, 1), None).unwrap();
    }
    assert!(!told(&ob, 23, 1));

    // The first night starts the chain; each next one carries it.
    queue(&mut ob, 23, 1, None, false);
    assert!(told(&ob, 23, 1));
    queue(&mut ob, 24, 1, Some(&name(23, 1)), false);
    assert!(told(&ob, 24, 1));

    // Held by the flood guard: it and every night after it are not told
    // until it is released.
    queue(&mut ob, 25, 1, Some(&name(24, 1)), true);
    queue(&mut ob, 26, 1, Some(&name(25, 1)), false);
    assert!(!told(&ob, 25, 1));
    assert!(!told(&ob, 26, 1));
    ob.release("20261125", now()).unwrap();
    assert!(told(&ob, 25, 1));
    assert!(told(&ob, 26, 1));

    // A re-run's build, compared with the night's first, held again:
    // neither build of the night, nor a night after, is told.
    queue(&mut ob, 26, 2, Some(&name(26, 1)), true);
    assert!(!told(&ob, 26, 1));
    assert!(!told(&ob, 26, 2));
    ob.release("20261126", now()).unwrap();
    assert!(told(&ob, 26, 2));

    // A night whose mail was never queued (forgotten): the nights after
    // it are not told, for good.
    queue(&mut ob, 28, 1, Some(&name(27, 1)), false);
    queue(&mut ob, 29, 1, Some(&name(28, 1)), false);
    assert!(!told(&ob, 28, 1));
    assert!(!told(&ob, 29, 1));

    // Compared with nothing after the first (`rediff --from none`): not
    // told, nor what follows.
    queue(&mut ob, 30, 1, None, false);
    assert!(!told(&ob, 30, 1));

    // An older night forced in under a name that had a row: it goes.
    assert!(told(&ob, 24, 1));
    let tx = ob.begin_night(night(24), "", now()).unwrap();
    tx.untold(&name(24, 1)).unwrap();
    tx.commit(None).unwrap();
    assert!(!told(&ob, 24, 1));
    assert!(!told(&ob, 26, 2), "told through a night that no longer is");
}
