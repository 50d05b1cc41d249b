//! A claimed item given back unsent (`Outbox::withdraw`: a `send` asked to
//! stop, or a grant mail a snapshot published since its claim cannot
//! check) goes back to where it was. One that was *unknown* (its earlier
//! attempt may have been delivered) stays unknown: `outbox list --state
//! unknown` still shows it, and a delivery report that comes back later
//! for that earlier attempt still fails it (the thirty-first session's
//! "left alone": it became *queued*, and the bounce was ignored).

use chrono::{Duration, TimeZone, Utc};
use mail::outbox::{Event, Kind, NewItem, Outbox, Packed, Recorded, Scope, State};

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
    assert!(ob.bounced(ids[0], "5.1.1 user unknown").unwrap());
    assert_eq!(state(&ob, ids[0]), State::Failed);
    // The other is tried again, same Message-ID, when its turn comes.
    assert_eq!(ob.due(Scope::Nightly, later, false).unwrap(), vec![ids[1]]);
}
