//! A re-run's digest (`build-2`: only what the night's earlier build
//! lacked, saying the earlier notice did not list it) never reaches an
//! address before that address's earlier digest of the night while the
//! earlier one may still go out: the sender takes items by their next try,
//! so a re-run queued while the first digest waited out a relay's
//! temporary failure went first, and its reader got the correction before
//! the notice it corrects (found by review, 2026-12-03).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mail::outbox::{Event, Kind, NewItem, Outbox, Packed, Recorded, Scope, State};

fn digest(email: &str, id: &str) -> NewItem {
    NewItem {
        email: email.into(),
        kind: Kind::Digest,
        message_id: format!("<{id}@x>"),
        subject: "s".into(),
        message: Packed::plain(b"m".to_vec()),
        cases: 1,
        case_keys: Vec::new(),
        behind: None,
    }
}

fn queue(ob: &mut Outbox, night: NaiveDate, reference: &str, emails: &[&str], now: DateTime<Utc>) {
    let tx = ob.begin_night(night, reference, now).unwrap();
    for e in emails {
        assert!(tx
            .add(
                &digest(e, &format!("{night}.{reference}.{e}")),
                State::Queued,
                now
            )
            .unwrap());
    }
    tx.commit(None).unwrap();
}

/// The items a nightly sender may claim at `at`, in id order.
fn due(ob: &Outbox, at: DateTime<Utc>) -> Vec<i64> {
    // As the timer's send takes them (not --now, which waits for neither
    // the spread nor a retry's time).
    let mut ids = ob.due(Scope::Nightly, at, false).unwrap();
    ids.sort_unstable();
    ids
}

/// Claims `id` and records `event` for it, settled.
fn attempt(
    ob: &mut Outbox,
    id: i64,
    event: Event,
    next_try: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    let claimed = ob.claim(&[id], now, |_| Some(Event::Claim)).unwrap();
    assert_eq!(claimed.items.len(), 1);
    ob.record(
        &Recorded {
            id,
            event,
            error: None,
            next_try,
            unknown_outcome: event == Event::Uncertain,
        },
        now,
    )
    .unwrap();
    ob.settle(Scope::Nightly).unwrap();
}

#[test]
fn a_reruns_digest_waits_for_the_same_addresss_earlier_digest_of_the_night() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open_for_sending(dir.path()).unwrap();
    let night = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let now = DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    queue(&mut ob, night, "", &["a@example.com", "c@example.com"], now);
    let (a1, c1) = (1, 2);
    // a@'s first digest meets a temporary failure: tried again in an hour.
    attempt(
        &mut ob,
        a1,
        Event::Deferred,
        Some(now + Duration::hours(1)),
        now,
    );
    // c@'s went out.
    attempt(&mut ob, c1, Event::Accepted, None, now);
    // The re-run: a@, b@ (no earlier digest) and c@.
    let later = now + Duration::minutes(10);
    queue(
        &mut ob,
        night,
        "build-2",
        &["a@example.com", "b@example.com", "c@example.com"],
        later,
    );
    let (a2, b2, c2) = (3, 4, 5);
    assert_eq!(
        due(&ob, later),
        [b2, c2],
        "a@'s re-run digest went before its first"
    );
    // Once the first is sent, the re-run's follows.
    let hour = now + Duration::hours(1);
    assert_eq!(due(&ob, hour), [a1, b2, c2]);
    attempt(&mut ob, a1, Event::Accepted, None, hour);
    assert_eq!(due(&ob, hour), [a2, b2, c2]);
    // A first digest that failed for good does not hold the re-run's.
    queue(&mut ob, night, "build-3", &["a@example.com"], hour);
    let a3 = 6;
    assert!(!due(&ob, hour).contains(&a3));
    attempt(&mut ob, a2, Event::Refused, None, hour);
    assert!(due(&ob, hour).contains(&a3));
}

/// An outbox for sending, nights 1 and 2 (20261123, 20261124), and the
/// evening of night 1 (18:00 UTC).
fn two_nights() -> (tempfile::TempDir, Outbox, [NaiveDate; 2], DateTime<Utc>) {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open_for_sending(dir.path()).unwrap();
    let n1 = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let n2 = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let now = DateTime::parse_from_rfc3339("2026-11-23T18:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    (dir, ob, [n1, n2], now)
}

/// The review of the forty-ninth session's change: after a relay outage
/// a digest waited for its address's earlier digest, and that one for its
/// next try, hours off after backing off all night: the morning's news
/// went in the afternoon. An address's earlier digest now goes as soon as
/// a later one would have gone on its own (`send` without `--now`), the
/// two still in their order; one whose time has come waits for nothing.
#[test]
fn a_digest_due_brings_its_addresss_earlier_digest_forward_in_order() {
    let (_dir, mut ob, [n1, n2], now) = two_nights();
    queue(&mut ob, n1, "", &["a@example.com", "b@example.com"], now);
    let (a1, b1) = (1, 2);
    // The relay was down all night: a@'s digest of night 1 backed off
    // until the afternoon; b@'s went before the outage.
    let afternoon = now + Duration::hours(24);
    attempt(&mut ob, a1, Event::Deferred, Some(afternoon), now);
    attempt(&mut ob, b1, Event::Accepted, None, now);
    // Night 2's digests, due in the morning, the relay back.
    let morning = now + Duration::hours(20);
    queue(
        &mut ob,
        n2,
        "",
        &["a@example.com", "b@example.com"],
        morning,
    );
    let (a2, b2) = (3, 4);
    assert_eq!(
        due(&ob, morning),
        [a1, b2],
        "a@'s digests waited for night 1's next try in the afternoon"
    );
    // In their order: night 2's after night 1's.
    let ids = ob.due(Scope::Nightly, morning, false).unwrap();
    assert!(!ids.contains(&a2));
    attempt(&mut ob, a1, Event::Accepted, None, morning);
    assert_eq!(due(&ob, morning), [a2, b2]);
    // Nothing due of the address: its earlier digest keeps its time.
    queue(&mut ob, n2, "", &["c@example.com"], morning);
    let c = 5;
    attempt(&mut ob, c, Event::Deferred, Some(afternoon), morning);
    assert!(!due(&ob, morning).contains(&c));
}

/// The review of the fiftieth session's change: an earlier digest brought
/// forward that failed again (the relay still down, a mailbox full) was
/// brought forward again by every run while the later one stayed due,
/// every five minutes for up to 72 hours, its backoff ignored. It is
/// brought forward once for each time a later digest's comes: tried since,
/// it keeps its own next try, and the later one waits for it.
#[test]
fn an_earlier_digest_brought_forward_and_failing_again_keeps_its_backoff() {
    let (_dir, mut ob, [n1, n2], now) = two_nights();
    queue(&mut ob, n1, "", &["a@example.com"], now);
    let a1 = 1;
    let afternoon = now + Duration::hours(24);
    attempt(&mut ob, a1, Event::Deferred, Some(afternoon), now);
    let morning = now + Duration::hours(20);
    queue(&mut ob, n2, "", &["a@example.com"], morning);
    // Brought forward, and deferred again: its next try hours off.
    assert_eq!(due(&ob, morning), [a1]);
    let later_still = morning + Duration::hours(6);
    attempt(&mut ob, a1, Event::Deferred, Some(later_still), morning);
    for minutes in [5, 10, 60, 300] {
        let run = morning + Duration::minutes(minutes);
        assert_eq!(
            due(&ob, run),
            Vec::<i64>::new(),
            "{minutes} minutes on: tried again before its time"
        );
    }
    // Its own time come: it goes, then the later one.
    assert_eq!(due(&ob, later_still), [a1]);
}
