//! A claimed item given back unsent goes back to where it was.
//!
//! - By the sender itself (`Outbox::withdraw`: a `send` asked to stop, an
//!   error that ends its run, or a grant mail a snapshot published since
//!   its claim cannot check). One that was *unknown* (its earlier attempt
//!   may have been delivered) stays unknown: `outbox list --state unknown`
//!   still shows it, and a delivery report that comes back later for that
//!   earlier attempt still fails it (the thirty-first session's "left
//!   alone": it became *queued*, and the bounce was ignored).
//! - After a nightly sender dies, by the next run (`Outbox::recover`,
//!   outbox migration 20): what it claimed but no connection can have
//!   taken. Its connections take a claim's items in order, each its next
//!   only once its last has an outcome recorded or has left *sending*
//!   (recalled, or given back unchecked); so past the last such item, plus
//!   the connections not held by an unfinished item before it, nothing was
//!   taken. Before, every item of the batch became *unknown*, marked "may
//!   have gone" for life (`outbox retry` reports such mail instead of
//!   queueing it), though at most one per connection was with a relay.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mail::outbox::{Event, Item, Kind, NewItem, Outbox, Packed, Recorded, Scope, State};
use proptest::prelude::*;

fn item(email: &str) -> NewItem {
    NewItem {
        email: email.into(),
        kind: Kind::Digest,
        message_id: format!("<{email}.digest@x>"),
        subject: "s".into(),
        message: Packed::plain(b"Subject: s\r\n\r\nbody\r\n".to_vec()),
        cases: 1,
        case_keys: Vec::new(),
        behind: None,
    }
}

#[test]
fn an_unknown_item_given_back_unsent_stays_unknown_and_a_late_bounce_still_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap();
    let night = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let n1 = ob.begin_night(night, "", now).unwrap();
    for email in ["a@example.com", "b@example.com"] {
        assert!(n1.add(&item(email), State::Queued, now).unwrap());
    }
    n1.commit(None).unwrap();
    let ids = ob.due(Scope::Nightly, now, true).unwrap();
    assert_eq!(ids.len(), 2);

    // Both sent; no answer after the data: unknown, tried again later.
    let claimed = ob.claim(&ids, now, |_| Some(Event::Claim)).unwrap();
    assert_eq!(claimed.items.len(), 2);
    let later = now + Duration::minutes(10);
    for it in &claimed.items {
        let rec = Recorded {
            id: it.id,
            event: Event::Uncertain,
            error: Some("timeout after the data".into()),
            next_try: Some(later),
            unknown_outcome: true,
        };
        ob.record(&rec, now).unwrap();
    }
    ob.settle(Scope::Nightly).unwrap();
    let state = |ob: &Outbox, id| ob.state_of(id).unwrap().unwrap();
    assert_eq!(state(&ob, ids[0]), State::Unknown);

    // The next run takes them again, then is asked to stop before either
    // is handed over: both are given back, and stay unknown, their
    // attempt uncounted.
    let again = ob.claim(&ids, later, |_| Some(Event::Claim)).unwrap();
    assert_eq!(again.items.len(), 2);
    assert!(again.items.iter().all(|i| i.state == State::Unknown));
    assert_eq!(ob.withdraw(&again.items).unwrap(), 2);
    for &id in &ids {
        assert_eq!(state(&ob, id), State::Unknown, "item {id}");
    }
    let listed = ob.list(None, Some("unknown")).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|l| l.attempts == 1), "{listed:?}");

    // A delivery report for the first attempt comes back: it failed for
    // good.
    assert_eq!(
        ob.bounced(ids[0], "5.1.1 user unknown", true, &[1; 16], later, later)
            .unwrap(),
        mail::outbox::Bounced::Failed
    );
    assert_eq!(state(&ob, ids[0]), State::Failed);
    // The other is tried again, same Message-ID, when its turn comes.
    assert_eq!(ob.due(Scope::Nightly, later, false).unwrap(), vec![ids[1]]);
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap()
}

/// An outbox with `n` digests of one night, queued; their ids in due order.
fn queued(dir: &std::path::Path, n: usize) -> (Outbox, Vec<i64>) {
    let mut ob = Outbox::open(dir).unwrap();
    let night = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let q = ob.begin_night(night, "", now()).unwrap();
    for i in 0..n {
        assert!(q
            .add(&item(&format!("p{i}@example.com")), State::Queued, now())
            .unwrap());
    }
    q.commit(None).unwrap();
    let ids = ob.due(Scope::Nightly, now(), true).unwrap();
    assert_eq!(ids.len(), n);
    (ob, ids)
}

fn sent(ob: &Outbox, it: &Item) {
    let rec = Recorded {
        id: it.id,
        event: Event::Accepted,
        error: None,
        next_try: None,
        unknown_outcome: false,
    };
    ob.record(&rec, now()).unwrap();
}

/// (state, attempts, may_have_gone) of each item, by id.
fn rows(dir: &std::path::Path, ids: &[i64]) -> Vec<(String, i64, bool)> {
    let db = rusqlite::Connection::open(dir.join("outbox.sqlite")).unwrap();
    ids.iter()
        .map(|id| {
            db.query_row(
                "SELECT state, attempts, may_have_gone FROM items WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn a_crash_gives_back_what_its_connections_cannot_have_taken() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, ids) = queued(dir.path(), 10);
    let claimed = ob
        .claim_for(&ids, now(), Some(2), |_| Some(Event::Claim))
        .unwrap();
    assert_eq!(claimed.items.len(), 10);
    // Two connections: one takes the 1st, the other the 2nd; the 1st is
    // sent, its connection takes the 3rd, sends it, takes the 4th; then
    // the sender dies. The 3rd's outcome says the first three were taken;
    // the 2nd holds one connection, so the other may have taken one more
    // (the 4th): nothing after it was taken.
    sent(&ob, &claimed.items[0]);
    sent(&ob, &claimed.items[2]);
    drop(ob); // the sender dies
    let mut ob = Outbox::open(dir.path()).unwrap();
    let r = ob.recover(Scope::Nightly).unwrap();
    assert_eq!((r.unknown, r.given_back), (2, 6));
    let got = rows(dir.path(), &ids);
    let want = |i: usize| match i {
        0 | 2 => ("sent", 1, false),
        1 | 3 => ("unknown", 1, true),
        _ => ("queued", 0, false),
    };
    for (i, row) in got.iter().enumerate() {
        let (state, attempts, marked) = want(i);
        assert_eq!(row, &(state.to_string(), attempts, marked), "item {i}");
    }
    // The given back are due again, as first tries.
    let due: BTreeSet<i64> = ob
        .due(Scope::Nightly, now(), false)
        .unwrap()
        .into_iter()
        .collect();
    assert!(ids[4..].iter().all(|id| due.contains(id)), "{due:?}");
}

/// A sender's commits survive its kill, not a power failure (it does not
/// fsync each outcome): the last outcomes may be lost, and items that went
/// would look untaken. A claim made before this machine last started is
/// recovered as before: all unknown.
#[test]
fn a_claim_from_before_the_machine_restarted_gives_back_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, ids) = queued(dir.path(), 4);
    ob.claim_for(&ids, now(), Some(1), |_| Some(Event::Claim))
        .unwrap();
    drop(ob);
    let db = rusqlite::Connection::open(dir.path().join("outbox.sqlite")).unwrap();
    db.execute("UPDATE claims SET boot = 'another boot'", [])
        .unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let r = ob.recover(Scope::Nightly).unwrap();
    assert_eq!((r.unknown, r.given_back), (4, 0));
}

/// An item that was *unknown* when claimed (its earlier attempt may have
/// been delivered) goes back to unknown, still marked; a claim that
/// records no order (`claim`) leaves everything to become unknown, as
/// before.
#[test]
fn an_unknown_item_given_back_after_a_crash_stays_unknown_and_an_unordered_claim_gives_back_nothing(
) {
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, ids) = queued(dir.path(), 3);
    // A first run dies with all three claimed without an order.
    ob.claim(&ids, now(), |_| Some(Event::Claim)).unwrap();
    let r = ob.recover(Scope::Nightly).unwrap();
    assert_eq!((r.unknown, r.given_back), (3, 0));
    // The next claims them in order over one connection and dies before
    // any outcome: the first may be with a relay, the others go back to
    // unknown (they were), their second attempt uncounted.
    let claimed = ob
        .claim_for(&ids, now(), Some(1), |_| Some(Event::Claim))
        .unwrap();
    assert_eq!(claimed.items.len(), 3);
    let r = ob.recover(Scope::Nightly).unwrap();
    assert_eq!((r.unknown, r.given_back), (1, 2));
    for row in rows(dir.path(), &ids) {
        assert_eq!(row.0, "unknown");
        assert!(row.2, "marked");
    }
    let attempts: Vec<i64> = rows(dir.path(), &ids).iter().map(|r| r.1).collect();
    assert_eq!(attempts, [2, 1, 1]);
}

/// What each connection does with the item it takes.
#[derive(Debug, Clone, Copy)]
enum Done {
    /// Its outcome is recorded (accepted by the relay).
    Sent,
    /// Withheld before it was handed over (`Outbox::recall`).
    Recalled,
    /// Given back unchecked before it was handed over (`withdraw`).
    Unchecked,
}

fn done() -> impl Strategy<Value = Done> {
    prop_oneof![
        Just(Done::Sent),
        Just(Done::Recalled),
        Just(Done::Unchecked)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any history of `k` connections taking a claim's items in order,
    /// each finishing its item before its next (`steps`: which busy
    /// connection finishes, and how, or a free one takes the next item),
    /// cut by a crash: `recover` gives back only items no connection took,
    /// exactly those placed past the last one finished plus the
    /// connections not held by an unfinished item before it, and makes
    /// every other item still *sending* unknown: at most `k`.
    #[test]
    fn recover_never_gives_back_an_item_a_connection_took(
        k in 1usize..=4,
        n in 1usize..=24,
        steps in proptest::collection::vec((0usize..4, any::<bool>(), done()), 0..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, ids) = queued(dir.path(), n);
        let claimed = ob.claim_for(&ids, now(), Some(k), |_| Some(Event::Claim)).unwrap();
        let items = claimed.items;
        prop_assert_eq!(items.len(), n);
        let mut busy: Vec<Option<usize>> = vec![None; k];
        let mut taken = 0usize;
        let mut finished: BTreeSet<usize> = BTreeSet::new();
        for (c, take, how) in steps {
            let c = c % k;
            match busy[c] {
                None if take && taken < n => {
                    busy[c] = Some(taken);
                    taken += 1;
                }
                Some(pos) if !take => {
                    let it = &items[pos];
                    match how {
                        Done::Sent => sent(&ob, it),
                        Done::Recalled => assert!(ob.recall(it, now()).unwrap()),
                        Done::Unchecked => assert_eq!(ob.withdraw(std::slice::from_ref(it)).unwrap(), 1),
                    }
                    finished.insert(pos);
                    busy[c] = None;
                }
                _ => {}
            }
        }
        drop(ob); // the sender dies
        let mut ob = Outbox::open(dir.path()).unwrap();
        let r = ob.recover(Scope::Nightly).unwrap();
        let last = finished.iter().next_back().map_or(-1, |&p| p as i64);
        let held = (0..n).filter(|&p| (p as i64) < last && !finished.contains(&p)).count() as i64;
        let got = rows(dir.path(), &ids);
        let mut given_back = 0;
        for (pos, it) in items.iter().enumerate() {
            let row = &got[ids.iter().position(|&id| id == it.id).unwrap()];
            if finished.contains(&pos) {
                prop_assert_ne!(row.0.as_str(), "unknown", "item {} finished", pos);
                continue;
            }
            // Safe: what was given back was never taken.
            let given = row.0 == "queued";
            prop_assert!(!given || pos >= taken, "item {} was taken, yet given back", pos);
            // Exact: given back, as it was, past the connections' reach;
            // else unknown and marked.
            let back = pos as i64 > last + k as i64 - held;
            if back {
                prop_assert_eq!(row, &("queued".to_string(), 0, false), "item {}", pos);
                given_back += 1;
            } else {
                prop_assert_eq!(row, &("unknown".to_string(), 1, true), "item {}", pos);
            }
        }
        prop_assert_eq!(r.given_back, given_back);
        prop_assert_eq!(r.unknown as usize, n - finished.len() - given_back as usize);
        prop_assert!(r.unknown as usize <= k, "{} unknown over {} connections", r.unknown, k);
    }
}

/// The claims row stands for the last nightly claim only: one made
/// without an order (`Outbox::claim`) removes it, so a crash after it gives
/// nothing back by the order of an earlier batch (whose items, put off by
/// the relay, it took again: all three may be with relays). A row this
/// code did not write gives nothing back either, and stops nothing.
#[test]
fn only_the_last_nightly_claims_order_gives_anything_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, ids) = queued(dir.path(), 3);
    let claimed = ob
        .claim_for(&ids, now(), Some(1), |_| Some(Event::Claim))
        .unwrap();
    for it in &claimed.items {
        let rec = Recorded {
            id: it.id,
            event: Event::Deferred,
            error: Some("451 busy".into()),
            next_try: Some(now()),
            unknown_outcome: false,
        };
        ob.record(&rec, now()).unwrap();
    }
    ob.settle(Scope::Nightly).unwrap();
    assert_eq!(ob.due(Scope::Nightly, now(), true).unwrap(), ids);
    ob.claim(&ids, now(), |_| Some(Event::Claim)).unwrap();
    let r = ob.recover(Scope::Nightly).unwrap();
    assert_eq!((r.unknown, r.given_back), (3, 0));

    // A row damaged (or written by hand).
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, ids) = queued(dir.path(), 3);
    ob.claim_for(&ids, now(), Some(1), |_| Some(Event::Claim))
        .unwrap();
    let db = rusqlite::Connection::open(dir.path().join("outbox.sqlite")).unwrap();
    db.execute("UPDATE claims SET items = 'not an order'", [])
        .unwrap();
    let r = ob.recover(Scope::Nightly).unwrap();
    assert_eq!((r.unknown, r.given_back), (3, 0));
}
