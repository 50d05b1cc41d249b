//! Which snapshots' calendar files the nights' mail told
//! (`NightQueue::told`, `Outbox::told`): an address told only its
//! hearings' changes is not told a change again when a later night
//! re-announces it, but only if the snapshot that brought it, and every
//! night before it back to the chain's start, had its mail queued and its
//! digests not held (etl `notify::queue::told`; review findings,
//! 2026-12-03).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mail::outbox::{Outbox, SnapshotId};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 19, 0, 0).unwrap()
}

fn night(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

/// Snapshot build `build` of 2026-11-`day`, with content `content` (its
/// SHA-256 stands in as 64 hex digits of it).
fn snap(day: u32, build: u32) -> SnapshotId {
    snap_with(day, build, 0)
}

fn snap_with(day: u32, build: u32, content: u32) -> SnapshotId {
    SnapshotId {
        name: format!("202611{day:02}-{build}.sqlite"),
        sha256: format!("{content:064x}"),
    }
}

fn told(ob: &Outbox, s: &SnapshotId) -> bool {
    ob.told(s).unwrap()
}

/// Queues the mail of `s`'s night (a re-run's reference for a build
/// above 1), compared with `base`, held if `held`.
fn queue(ob: &mut Outbox, s: &SnapshotId, base: Option<&SnapshotId>, held: bool) {
    let (day, build): (u32, u32) = (
        s.name[6..8].parse().unwrap(),
        s.name[9..10].parse().unwrap(),
    );
    let reference = if build == 1 {
        String::new()
    } else {
        format!("build-{build}")
    };
    let tx = ob.begin_night(night(day), &reference, now()).unwrap();
    if held {
        tx.hold("news on 40% of followed cases").unwrap();
    }
    tx.told(s, base).unwrap();
    tx.commit(None).unwrap();
}

#[test]
fn a_snapshot_is_told_when_every_night_back_to_the_first_was_queued_and_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let (s23, s24, s25, s26) = (snap(23, 1), snap(24, 1), snap(25, 1), snap(26, 1));
    // Never queued: not told.
    assert!(!told(&ob, &s23));

    // Queued in a transaction that did not commit (killed): not told.
    {
        let tx = ob.begin_night(night(23), "", now()).unwrap();
        tx.told(&s23, None).unwrap();
    }
    assert!(!told(&ob, &s23));

    // The first night starts the chain; each next one carries it.
    queue(&mut ob, &s23, None, false);
    assert!(told(&ob, &s23));
    queue(&mut ob, &s24, Some(&s23), false);
    assert!(told(&ob, &s24));

    // Held by the flood guard: it and every night after it are not told
    // until it is released.
    queue(&mut ob, &s25, Some(&s24), true);
    queue(&mut ob, &s26, Some(&s25), false);
    assert!(!told(&ob, &s25));
    assert!(!told(&ob, &s26));
    ob.release("20261125", now()).unwrap();
    assert!(told(&ob, &s25));
    assert!(told(&ob, &s26));

    // A re-run's build, compared with the night's first, held again:
    // neither build of the night is told until it is released.
    let s26b = snap(26, 2);
    queue(&mut ob, &s26b, Some(&s26), true);
    assert!(!told(&ob, &s26));
    assert!(!told(&ob, &s26b));
    ob.release("20261126", now()).unwrap();
    assert!(told(&ob, &s26b));

    // A night whose mail was never queued (forgotten): the nights after
    // it are not told, for good.
    let (s27, s28, s29) = (snap(27, 1), snap(28, 1), snap(29, 1));
    queue(&mut ob, &s28, Some(&s27), false);
    queue(&mut ob, &s29, Some(&s28), false);
    assert!(!told(&ob, &s28));
    assert!(!told(&ob, &s29));

    // Compared with nothing after the start (`rediff --from none`): not
    // told, nor what follows.
    let (s30, s31) = (snap(30, 1), snap_with(1, 1, 0));
    queue(&mut ob, &s30, None, false);
    queue(&mut ob, &s31, Some(&s30), false);
    assert!(!told(&ob, &s30));
    assert!(!told(&ob, &s31));

    // A name that comes back with other content (every build of its date
    // gone, the night imported again) is another snapshot: its mail not
    // queued, it is not told, nor a night compared with it.
    let s24_again = snap_with(24, 1, 7);
    assert!(!told(&ob, &s24_again));
    let s22 = snap(22, 1);
    queue(&mut ob, &s22, Some(&s24_again), false);
    assert!(!told(&ob, &s22));
    assert!(told(&ob, &s24), "the first 20261124-1.sqlite is still told");
}

/// The chain starts only where nothing before it may be untold: the first
/// row, written while no other night waits for its mail and none is held
/// (third review finding: on an upgraded outbox, a first night compared
/// with a night still waiting vouched for it).
#[test]
fn the_chain_starts_only_when_no_other_night_waits_or_is_held() {
    let (s24, s25, s26) = (snap(24, 1), snap(25, 1), snap(26, 1));

    // Another night waits for its mail: no start, and it stays so.
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    ob.record_pending(None, &s24.name, now()).unwrap();
    queue(&mut ob, &s25, Some(&s24), false);
    assert!(!told(&ob, &s25));
    queue(&mut ob, &s26, Some(&s25), false);
    assert!(!told(&ob, &s26));

    // Another night's digests are held.
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let tx = ob.begin_night(night(24), "", now()).unwrap();
    tx.hold("news on 40% of followed cases").unwrap();
    tx.commit(None).unwrap();
    queue(&mut ob, &s25, Some(&s24), false);
    assert!(!told(&ob, &s25));

    // Tonight's own pending record and hold do not count against it.
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    ob.record_pending(Some(&s24.name), &s25.name, now())
        .unwrap();
    queue(&mut ob, &s25, Some(&s24), true);
    assert!(!told(&ob, &s25), "held");
    ob.release("20261125", now()).unwrap();
    assert!(told(&ob, &s25));
}

/// Fourth review finding: on an upgraded outbox (no row yet), a night
/// given up (`outbox forget`, dropped as lost or with mail off) or
/// compared with nothing (`outbox rediff --from none`) left no trace, so
/// the next night started the chain and vouched for its unmailed news.
/// Each leaves a row now, and no chain starts after it; a night that was
/// never published leaves none.
#[test]
fn a_night_given_up_before_the_chain_starts_keeps_it_from_starting() {
    let (s24, s25) = (snap(24, 1), snap(25, 1));
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        ob.record_pending(Some("20261123-1.sqlite"), &s24.name, now())
            .unwrap();
        (dir, ob)
    };

    let (_dir, mut ob) = fresh();
    assert!(ob.forget_pending(&s24.name).unwrap());
    queue(&mut ob, &s25, Some(&s24), false);
    assert!(!told(&ob, &s25), "forgotten");

    let (_dir, mut ob) = fresh();
    assert!(ob.compare_pending_with(&s24.name, None).unwrap());
    queue(&mut ob, &s24, None, false);
    assert!(!told(&ob, &s24), "compared with nothing");
    queue(&mut ob, &s25, Some(&s24), false);
    assert!(!told(&ob, &s25), "compared with nothing");

    let (_dir, mut ob) = fresh();
    let pending = ob.pending().unwrap().remove(0);
    ob.drop_pending(&pending, true).unwrap();
    queue(&mut ob, &s25, Some(&s24), false);
    assert!(!told(&ob, &s25), "dropped, its mail lost");

    // Never published: nothing to tell, the chain starts.
    let (_dir, mut ob) = fresh();
    let pending = ob.pending().unwrap().remove(0);
    ob.drop_pending(&pending, false).unwrap();
    queue(&mut ob, &s25, Some(&snap(23, 1)), false);
    assert!(told(&ob, &s25));
}
