//! The cases a grant's mail names (outbox migration 14). An activation,
//! approval or expiry warning not sent when a later snapshot no longer
//! grants its address one of them is withheld, and the cases still
//! granted are told again by the next night's mail, once: whether the
//! night's mail finds it first, or `cpor-etl send` at its claim.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mail::outbox::{
    self, Event, Fate, GrantMail, Kind, NewItem, Outbox, Packed, RetryWhich, Scope, State,
};

/// Damage to a database file as a disk does it.
#[path = "../../tests/support/disk.rs"]
mod disk;

const X: &str = "TPD|民事|115|訴|1";
const Y: &str = "TPD|民事|115|訴|2";

fn night(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn item(email: &str, kind: Kind, cases: &[&str]) -> NewItem {
    NewItem {
        email: email.into(),
        kind,
        message_id: format!("<{email}.{}@x>", kind.as_str()),
        subject: "s".into(),
        message: Packed::plain(b"Subject: s\r\n\r\nbody\r\n".to_vec()),
        cases: cases.len(),
        case_keys: cases.iter().map(|c| c.to_string()).collect(),
        behind: None,
    }
}

/// An outbox in a temporary directory with night 1 (2026-11-23) queued:
/// `items`, queued at its midnight (UTC), which it gives.
fn night_1(items: &[NewItem]) -> (tempfile::TempDir, Outbox, DateTime<Utc>) {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let n1 = ob.begin_night(night(23), "", now).unwrap();
    for new in items {
        assert!(n1.add(new, State::Queued, now).unwrap());
    }
    n1.commit(None).unwrap();
    (dir, ob, now)
}

fn emails(mail: &[GrantMail]) -> Vec<(&str, bool)> {
    mail.iter()
        .map(|m| (m.email.as_str(), m.withheld))
        .collect()
}

#[test]
fn grant_mail_withheld_at_a_claim_is_told_by_the_next_nights_mail_once() {
    let (dir, mut ob, now) = night_1(&[
        item("a@example.com", Kind::Activation, &[X, Y]),
        item("b@example.com", Kind::Digest, &[]),
        item("c@example.com", Kind::Expiry, &[Y]),
    ]);

    // A night checks the grant mail of nights up to it, of every build of
    // it (none is the run's own: a night's mail under the run's reference
    // is another run's), to the addresses whose grants are gone; a digest
    // names no grant.
    let all = ["a@example.com", "b@example.com", "c@example.com"];
    assert_eq!(
        emails(
            &ob.grant_mail_to_check(night(23), ["a@example.com"])
                .unwrap()
        ),
        [("a@example.com", false)]
    );
    assert_eq!(
        emails(
            &ob.grant_mail_to_check(night(24), ["c@example.com"])
                .unwrap()
        ),
        [("c@example.com", false)]
    );
    let later = ob.grant_mail_to_check(night(24), all).unwrap();
    assert_eq!(
        emails(&later),
        [("a@example.com", false), ("c@example.com", false)]
    );
    assert_eq!(later[0].case_keys, [X, Y]);
    assert_eq!(later[1].kind, Kind::Expiry);
    assert_eq!(
        emails(&ob.grant_mail_to_check(night(23), all).unwrap()),
        [("a@example.com", false), ("c@example.com", false)]
    );

    // `send` withholds a@'s at its claim (the live snapshot, night 24's,
    // went live before that night's mail was queued); c@'s goes out.
    let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
    let due = sender.due(Scope::Nightly, now, true).unwrap();
    let claimed = sender
        .claim(&due, now, |i| {
            assert_eq!(i.case_keys.is_empty(), i.kind == Kind::Digest, "{i:?}");
            Some(if i.email == "a@example.com" {
                Event::Ungranted
            } else {
                Event::Claim
            })
        })
        .unwrap();
    assert_eq!(claimed.suppressed.len(), 1);
    assert_eq!(claimed.items.len(), 2);
    let shown = sender.show(later[0].id).unwrap().unwrap();
    assert!(
        shown
            .fields
            .iter()
            .any(|(n, v)| *n == "last error" && v.as_str() == outbox::UNGRANTED_WHY),
        "{:?}",
        shown.fields
    );

    // Its cases wait for the next night's mail, whoever's grants are gone
    // then; the one being sent is no longer listed.
    let left = ob.grant_mail_to_check(night(24), []).unwrap();
    assert_eq!(ob.grant_mail_to_check(night(24), all).unwrap(), left);
    assert_eq!(emails(&left), [("a@example.com", true)]);
    assert_eq!(left[0].case_keys, [X, Y]);

    // Night 24's mail tells them, in its transaction: a crash before the
    // commit leaves them to tell.
    let n2 = ob.begin_night(night(24), "", now).unwrap();
    assert!(n2.withhold(&left[0], "told").unwrap());
    drop(n2);
    assert_eq!(ob.grant_mail_to_check(night(24), []).unwrap(), left);
    let n2 = ob.begin_night(night(24), "", now).unwrap();
    assert!(n2.withhold(&left[0], "told").unwrap());
    n2.commit(None).unwrap();
    // Once: no later night tells them again, and the item keeps send's
    // reason and its state.
    assert!(ob.grant_mail_to_check(night(25), all).unwrap().is_empty());
    let shown = ob.show(left[0].id).unwrap().unwrap();
    let field = |name: &str| {
        shown
            .fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("state").as_deref(), Some("suppressed"));
    assert_eq!(field("last error").as_deref(), Some(outbox::UNGRANTED_WHY));
    // It says which night's mail told them (`outbox retry` follows it).
    assert!(
        field("told by").is_some_and(|v| v.starts_with("the night of 20261124's mail")),
        "{:?}",
        shown.fields
    );
    // `outbox retry` does not queue it again: it would show the case, and
    // tell twice what night 24 told.
    assert!(ob.withheld(left[0].id).unwrap());
    assert!(ob
        .retry(RetryWhich::Item(left[0].id), &|_, _: &str, _| None, false)
        .unwrap()
        .emails
        .is_empty());
    assert!(ob.grant_mail_to_check(night(25), all).unwrap().is_empty());
}

#[test]
fn grant_mail_a_night_withholds_is_suppressed_with_its_reason_unless_it_went_out() {
    let (dir, mut ob, now) = night_1(&[
        item("a@example.com", Kind::Approval, &[X]),
        item("b@example.com", Kind::Approval, &[Y]),
    ]);
    let earlier = ob
        .grant_mail_to_check(night(24), ["a@example.com", "b@example.com"])
        .unwrap();

    // b@'s is sent by a `send` running beside the import, after the import
    // read it: withholding it then changes nothing.
    let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
    let claimed = sender
        .claim(&[earlier[1].id], now, |_| Some(Event::Claim))
        .unwrap();
    let n2 = ob.begin_night(night(24), "", now).unwrap();
    assert!(n2.withhold(&earlier[0], "X is no longer granted").unwrap());
    assert!(
        !n2.withhold(&earlier[1], "Y is no longer granted").unwrap(),
        "an item being sent is not withheld"
    );
    n2.commit(None).unwrap();
    assert_eq!(claimed.items.len(), 1);
    let shown = ob.show(earlier[0].id).unwrap().unwrap();
    assert!(
        shown
            .fields
            .iter()
            .any(|(n, v)| *n == "state" && v == "suppressed"),
        "{:?}",
        shown.fields
    );
    assert!(shown
        .fields
        .iter()
        .any(|(n, v)| *n == "last error" && v == "X is no longer granted"));
    // (b@'s, being sent, is not listed: if it fails for now, `send` checks
    // it against the live snapshot, and so does the next night whose grants
    // of b@ change.)
    assert!(ob
        .grant_mail_to_check(night(25), ["a@example.com", "b@example.com"])
        .unwrap()
        .is_empty());
}

/// A `send` running beside the import withholds the item after the night
/// read it, and before the night's mail commits (the review of the
/// twenty-ninth session): the night's mail tells its cases, so the next
/// night does not tell them again.
#[test]
fn grant_mail_send_withholds_while_the_night_is_queued_is_told_once() {
    let (dir, mut ob, now) = night_1(&[item("a@example.com", Kind::Activation, &[X, Y])]);
    let read = ob
        .grant_mail_to_check(night(24), ["a@example.com"])
        .unwrap();
    assert!(!read[0].withheld);
    let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
    let due = sender.due(Scope::Nightly, now, true).unwrap();
    let claimed = sender.claim(&due, now, |_| Some(Event::Ungranted)).unwrap();
    assert_eq!(claimed.suppressed.len(), 1);
    let n2 = ob.begin_night(night(24), "", now).unwrap();
    assert!(n2.withhold(&read[0], "X is no longer granted").unwrap());
    n2.commit(None).unwrap();
    assert!(ob
        .grant_mail_to_check(night(25), ["a@example.com"])
        .unwrap()
        .is_empty());
}

/// The narrow race of the thirty-first session's review (its finding 3):
/// a `send` claims the item just after the night's mail looked it up. The
/// night tells its cases still granted but cannot withhold what the
/// sender holds; the sender withholds it as it hands it over (a recall),
/// or gives it back and withholds it at a later claim. Either way the
/// cases were left for the next night too, and told twice. The night's
/// mail now records on the held item that it told them (`told_by`).
#[test]
fn grant_mail_claimed_after_the_night_looked_it_up_is_told_once() {
    for recall in [true, false] {
        let (dir, mut ob, now) = night_1(&[item("a@example.com", Kind::Activation, &[X, Y])]);
        let read = ob
            .grant_mail_to_check(night(24), ["a@example.com"])
            .unwrap();
        assert_eq!(read[0].told_by, None);
        let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
        let claimed = sender
            .claim(&[read[0].id], now, |_| Some(Event::Claim))
            .unwrap();
        assert_eq!(claimed.items.len(), 1);
        let n2 = ob.begin_night(night(24), "build-2", now).unwrap();
        assert!(
            !n2.withhold(&read[0], "X is no longer granted").unwrap(),
            "an item being sent is not withheld"
        );
        n2.commit(None).unwrap();
        let shown = ob.show(read[0].id).unwrap().unwrap();
        assert!(
            shown
                .fields
                .iter()
                .any(|(n, v)| *n == "told by"
                    && v.starts_with("the night of 20261124 build-2's mail")),
            "{:?}",
            shown.fields
        );
        if recall {
            assert!(sender.recall(&claimed.items[0], now).unwrap());
        } else {
            // Given back (the new snapshot could not tell), a later night
            // whose grants of a@ change withholds it and tells nothing of
            // it again.
            assert_eq!(sender.withdraw(&claimed.items).unwrap(), 1);
            let again = ob
                .grant_mail_to_check(night(25), ["a@example.com"])
                .unwrap();
            assert_eq!(again[0].told_by.as_deref(), Some("20261124 build-2"));
            // Or the next `send` withholds it at its claim.
            let due = sender.due(Scope::Nightly, now, true).unwrap();
            let claimed = sender.claim(&due, now, |_| Some(Event::Ungranted)).unwrap();
            assert_eq!(claimed.suppressed.len(), 1);
        }
        assert_eq!(ob.state_of(read[0].id).unwrap(), Some(State::Suppressed));
        // Nothing of it is left for the next night to tell.
        assert!(
            ob.grant_mail_to_check(night(25), ["a@example.com"])
                .unwrap()
                .is_empty(),
            "recall: {recall}"
        );
    }
}

/// The id of the mail of night `night` (YYYYMMDD) to `email` of `kind`.
fn id_of(ob: &Outbox, night: &str, email: &str, kind: Kind) -> i64 {
    ob.list(Some(night), None)
        .unwrap()
        .into_iter()
        .find(|l| l.email == email && l.kind == kind)
        .unwrap_or_else(|| panic!("no {} of {night} to {email}", kind.as_str()))
        .id
}

/// Claims every item due as `event` says (its first), recording for each
/// claimed the outcome it says (its second).
fn send_all(ob: &mut Outbox, now: DateTime<Utc>, event: impl Fn(&outbox::Item) -> (Event, Event)) {
    let due = ob.due(Scope::Nightly, now, true).unwrap();
    let claimed = ob.claim(&due, now, |i| Some(event(i).0)).unwrap();
    for i in &claimed.items {
        let outcome = event(i).1;
        let error = (outcome != Event::Accepted).then(|| format!("{outcome:?}"));
        let recorded = outbox::Recorded {
            id: i.id,
            event: outcome,
            error,
            next_try: None,
            unknown_outcome: outcome == Event::Uncertain,
        };
        ob.record(&recorded, now).unwrap();
    }
    ob.settle(Scope::Nightly).unwrap();
}

/// Night 23 queues grant mail naming X and Y to each address; night 24
/// (a re-run, build 2) looks it up and finds X no longer granted, but a
/// sender claims it first (`refused` says which addresses' mail it fails;
/// the others' it suppresses, their addresses flagged): night 24 cannot
/// withhold it, and tells Y in mail of its own, `told_by` recording so.
/// Gives the outbox, its sender, the time, and the night-23 item of each
/// address.
fn told_by_night_24(
    refused: &[&str],
    others: &[&str],
    kinds: &[(&str, Kind)],
) -> (tempfile::TempDir, Outbox, Outbox, DateTime<Utc>, Vec<i64>) {
    let items: Vec<NewItem> = kinds.iter().map(|(e, k)| item(e, *k, &[X, Y])).collect();
    let (dir, mut ob, now) = night_1(&items);
    let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
    let emails: Vec<&str> = kinds.iter().map(|(e, _)| *e).collect();
    let read = ob.grant_mail_to_check(night(24), emails).unwrap();
    assert_eq!(read.len(), kinds.len());
    let due = sender.due(Scope::Nightly, now, true).unwrap();
    let claimed = sender
        .claim(&due, now, |i| {
            Some(if refused.contains(&i.email.as_str()) {
                Event::Claim
            } else {
                assert!(others.contains(&i.email.as_str()));
                Event::Suppress
            })
        })
        .unwrap();
    for i in &claimed.items {
        let recorded = outbox::Recorded {
            id: i.id,
            event: Event::Refused,
            error: Some("550 no such user".to_string()),
            next_try: None,
            unknown_outcome: false,
        };
        sender.record(&recorded, now).unwrap();
    }
    sender.settle(Scope::Nightly).unwrap();
    let n2 = ob.begin_night(night(24), "build-2", now).unwrap();
    for mail in &read {
        assert!(!n2.withhold(mail, "X is no longer granted").unwrap());
    }
    n2.commit(None).unwrap();
    let ids = read.iter().map(|m| m.id).collect();
    (dir, ob, sender, now, ids)
}

/// What `retry` did with each mail it met: (id, fate, the item whose
/// cases it told).
fn fates(retried: &outbox::Retried) -> Vec<(i64, Fate, i64)> {
    retried
        .tellers
        .iter()
        .map(|t| (t.id, t.fate, t.of))
        .collect()
}

/// An activation, approval or expiry warning whose cases a later night's
/// mail told (`told_by`) is not queued again by `outbox retry`: `send`
/// would withhold it. The mail that told its cases is queued again in its
/// place if it surely did not go (failed, or suppressed for the address's
/// flag, no attempt of it having perhaps reached a relay), and that mail's teller in turn if a
/// later night told its cases (withheld by that night, or not); not one
/// that went or may still go, nor a warning a grant mail that went stood
/// for, nor mail of another kind.
#[test]
fn retrying_a_grant_mail_queues_the_mail_that_told_its_cases_if_it_did_not_go() {
    const A: &str = "a@example.com"; // flagged; its teller withheld by night 25, whose own is suppressed
    const C: &str = "c@example.com"; // a warning; its teller queued suppressed
    const D: &str = "d@example.com"; // refused; its teller unknown
    const E: &str = "e@example.com"; // a warning, refused; its teller covered
    const F: &str = "f@example.com"; // refused; its teller suppressed
    let (_dir, mut ob, mut sender, now, firsts) = told_by_night_24(
        &[D, E, F],
        &[A, C],
        &[
            (A, Kind::Activation),
            (C, Kind::Expiry),
            (D, Kind::Activation),
            (E, Kind::Expiry),
            (F, Kind::Approval),
        ],
    );
    let [a_23, c_23, _d_23, e_23, _f_23] = firsts[..] else {
        unreachable!()
    };
    // (a later night's message ids are its own)
    let made = std::cell::Cell::new(0);
    let item = |email, kind, cases: &[&str]| {
        let mut new = item(email, kind, cases);
        made.set(made.get() + 1);
        new.message_id = format!("<{}.{email}.{}@x>", made.get(), kind.as_str());
        new
    };
    // Night 24's first build's approval to A (V), which tells nothing of
    // night 23's mail: another reference.
    let n1b = ob.begin_night(night(24), "", now).unwrap();
    assert!(n1b
        .add(&item(A, Kind::Approval, &["V"]), State::Queued, now)
        .unwrap());
    n1b.commit(None).unwrap();
    // Night 24's own mail, which tells Y; W, granted tonight, with A's.
    let approval_e = item(E, Kind::Approval, &[Y]);
    let mut warning_e = item(E, Kind::Expiry, &[Y]);
    warning_e.behind = Some(approval_e.message_id.clone());
    let n2 = ob.begin_night(night(24), "build-2", now).unwrap();
    for (new, state) in [
        (item(A, Kind::Activation, &[Y, "W"]), State::Queued),
        (item(A, Kind::Digest, &[]), State::Queued),
        (item(C, Kind::Expiry, &[Y]), State::Suppressed),
        (item(C, Kind::Approval, &[Y]), State::Queued),
        (item(D, Kind::Approval, &[Y]), State::Queued),
        (approval_e, State::Queued),
        (warning_e, State::Queued),
        (item(F, Kind::Approval, &[Y]), State::Queued),
    ] {
        assert!(n2.add(&new, state, now).unwrap());
    }
    n2.commit(None).unwrap();
    let of_24 = |ob: &Outbox, email: &str, kind: Kind| id_of(ob, "20261124", email, kind);
    let a_24 = of_24(&ob, A, Kind::Activation);

    // Night 25, before any send, finds W no longer granted: it withholds
    // A's night-24 activation and tells Y in an approval of A's own,
    // beside the night's grant mail from another build (`more-1`).
    // (its approval of V, from another build, is looked up too, and kept)
    let read_25: Vec<GrantMail> = ob
        .grant_mail_to_check(night(25), [A])
        .unwrap()
        .into_iter()
        .filter(|m| m.id == a_24)
        .collect();
    assert_eq!(read_25.len(), 1);
    let n3 = ob.begin_night(night(25), "", now).unwrap();
    assert!(n3
        .withhold_told_in(&read_25[0], "W is no longer granted", "more-1")
        .unwrap());
    assert!(n3
        .add_under(&item(A, Kind::Approval, &[Y]), State::Queued, now, "more-1")
        .unwrap());
    n3.commit(None).unwrap();
    let a_25 = id_of(&ob, "20261125", A, Kind::Approval);
    // The sender: A's, C's and F's mail suppressed (flagged), D's perhaps
    // taken (unknown), E's approval sent and its warning covered.
    for _ in 0..2 {
        send_all(&mut sender, now, |i| {
            if [A, C, F].contains(&i.email.as_str()) {
                (Event::Suppress, Event::Suppress)
            } else if i.email == D {
                (Event::Claim, Event::Uncertain)
            } else {
                (Event::Claim, Event::Accepted)
            }
        });
    }
    let state = |ob: &Outbox, id| ob.state_of(id).unwrap().unwrap();
    assert_eq!(state(&ob, of_24(&ob, E, Kind::Approval)), State::Sent);
    assert_eq!(state(&ob, of_24(&ob, D, Kind::Approval)), State::Unknown);

    // A's night-23 activation is not queued again; night 24's, withheld,
    // leads to night 25's approval, which is queued again. Not the digest.
    let retried = ob
        .retry(RetryWhich::Item(a_23), &|_, _: &str, _| None, false)
        .unwrap();
    assert_eq!(retried.asked, 0);
    assert_eq!(retried.told, [(a_23, "20261124 build-2".to_string())]);
    assert_eq!(retried.emails, [A]);
    assert_eq!(
        fates(&retried),
        [
            (a_24, Fate::ToldLater, a_23),
            (a_25, Fate::QueuedAgain, a_24)
        ]
    );
    let teller = &retried.tellers[1];
    assert_eq!(
        (
            teller.kind,
            teller.was,
            teller.night.as_str(),
            teller.reference.as_str()
        ),
        (Kind::Approval, State::Suppressed, "20261125", "more-1")
    );
    assert_eq!(state(&ob, a_23), State::Suppressed);
    assert_eq!(state(&ob, a_24), State::Suppressed);
    assert_eq!(state(&ob, a_25), State::Queued);
    assert_eq!(state(&ob, of_24(&ob, A, Kind::Digest)), State::Suppressed);
    // C's warning: night 24's warning, queued suppressed (C flagged), is
    // queued again; not its approval.
    let retried = ob
        .retry(RetryWhich::Item(c_23), &|_, _: &str, _| None, false)
        .unwrap();
    let c_24 = of_24(&ob, C, Kind::Expiry);
    assert_eq!(fates(&retried), [(c_24, Fate::QueuedAgain, c_23)]);
    assert_eq!(state(&ob, of_24(&ob, C, Kind::Approval)), State::Suppressed);
    // E's warning: night 24's, covered by the approval that went (which
    // said its cases' last day), is not; nor is that approval.
    let retried = ob
        .retry(RetryWhich::Item(e_23), &|_, _: &str, _| None, false)
        .unwrap();
    let e_24 = of_24(&ob, E, Kind::Expiry);
    assert_eq!(fates(&retried), [(e_24, Fate::Covered, e_23)]);
    assert!(retried.emails.is_empty());
    // Every failed item: D's, E's and F's night-23 mail, none queued again;
    // F's teller in its place, not D's, which may still go.
    let none = std::collections::BTreeSet::new();
    let retried = ob
        .retry(
            RetryWhich::Failed {
                flagged: &|| Ok(none.clone()),
            },
            &|_, _: &str, _| None,
            false,
        )
        .unwrap();
    assert_eq!(retried.asked, 0);
    assert_eq!(retried.told.len(), 3);
    let (d_24, f_24) = (of_24(&ob, D, Kind::Approval), of_24(&ob, F, Kind::Approval));
    let mut got = fates(&retried);
    got.sort_by_key(|f| f.0);
    let mut want = vec![
        (d_24, Fate::MayStillGo, firsts[2]),
        (e_24, Fate::Covered, e_23),
        (f_24, Fate::QueuedAgain, firsts[4]),
    ];
    want.sort_by_key(|f| f.0);
    assert_eq!(got, want);
    assert_eq!(retried.emails, [F]);
    assert_eq!(state(&ob, d_24), State::Unknown);
}

/// Mail that told an item's cases and may have gone (an attempt's outcome
/// unknown), went, was withheld by `send`
/// (its cases left for the next night), may still go, or cannot be read is
/// not queued again by `outbox retry` of that item; and an item with no
/// `told_by` is queued again as it always was.
#[test]
fn retrying_a_grant_mail_leaves_the_mail_that_told_its_cases_if_it_may_have_gone() {
    const G: &str = "g@example.com"; // its teller refused after an unknown attempt
    const H: &str = "h@example.com"; // its teller sent
    const I: &str = "i@example.com"; // its teller withheld by send
    const J: &str = "j@example.com"; // its teller's stored message damaged
    const K: &str = "k@example.com"; // its teller retrying
    const L: &str = "l@example.com"; // refused with no told_by
    let all = [G, H, I, J, K];
    let kinds: Vec<(&str, Kind)> = all.iter().map(|e| (*e, Kind::Approval)).collect();
    let (dir, mut ob, mut sender, now, firsts) = told_by_night_24(&all, &[], &kinds);
    let n2 = ob.begin_night(night(24), "build-2", now).unwrap();
    for email in all {
        let mut new = item(email, Kind::Approval, &[Y]);
        new.message_id = format!("<24.{email}@x>");
        // (stored as it is sent: damage makes it unreadable)
        // (each its own bytes, so that damage finds its row alone)
        let text = format!("Subject: s\r\n\r\n{email}\r\n");
        new.message = Packed::new(Kind::Approval, text.as_bytes());
        assert!(n2.add(&new, State::Queued, now).unwrap());
    }
    n2.commit(None).unwrap();
    let tellers: Vec<i64> = all
        .iter()
        .map(|e| id_of(&ob, "20261124", e, Kind::Approval))
        .collect();
    // L's approval, refused, told by no night.
    let n3 = ob.begin_night(night(25), "", now).unwrap();
    assert!(n3
        .add(&item(L, Kind::Approval, &[X]), State::Queued, now)
        .unwrap());
    n3.commit(None).unwrap();
    disk::damage_stored_message(&dir.path().join("outbox.sqlite"), tellers[3], |_| 0, 4);
    send_all(&mut sender, now, |i| match i.email.as_str() {
        G => (Event::Claim, Event::Uncertain),
        H => (Event::Claim, Event::Accepted),
        I => (Event::Ungranted, Event::Ungranted),
        K => (Event::Claim, Event::Deferred),
        _ => (Event::Claim, Event::Refused),
    });
    send_all(&mut sender, now, |i| match i.email.as_str() {
        G => (Event::Claim, Event::Refused),
        _ => (Event::Claim, Event::Deferred),
    });
    let state = |ob: &Outbox, id| ob.state_of(id).unwrap().unwrap();
    assert_eq!(
        tellers.iter().map(|id| state(&ob, *id)).collect::<Vec<_>>(),
        [
            State::Failed,
            State::Sent,
            State::Suppressed,
            State::Failed,
            State::Retrying
        ]
    );
    let fates_wanted = [
        Fate::MayHaveGone,
        Fate::Went,
        Fate::Withheld,
        Fate::Unreadable,
        Fate::MayStillGo,
    ];
    for ((first, teller), fate) in firsts.iter().zip(&tellers).zip(fates_wanted) {
        let retried = ob
            .retry(RetryWhich::Item(*first), &|_, _: &str, _| None, false)
            .unwrap();
        assert_eq!(fates(&retried), [(*teller, fate, *first)]);
        assert_eq!((retried.asked, retried.emails.len()), (0, 0));
        assert_eq!(state(&ob, *first), State::Failed);
    }
    let l_25 = id_of(&ob, "20261125", L, Kind::Approval);
    let retried = ob
        .retry(RetryWhich::Item(l_25), &|_, _: &str, _| None, false)
        .unwrap();
    assert_eq!(
        (retried.asked, retried.emails.as_slice()),
        (1, [L.to_string()].as_slice())
    );
    assert_eq!(state(&ob, l_25), State::Queued);
    for (id, was) in tellers.iter().zip([
        State::Failed,
        State::Sent,
        State::Suppressed,
        State::Failed,
        State::Retrying,
    ]) {
        assert_eq!(state(&ob, *id), was);
    }
}

/// Whether mail that told an item's cases surely did not go is judged over
/// its whole life, not by its attempts since its last `outbox retry`
/// (which resets them), nor by its attempts alone: mail that may have
/// reached a relay at any attempt (its outcome unknown, or the sender
/// killed while sending it) is not queued again unasked, which might tell
/// its cases twice, however it ended since; mail every attempt of which
/// was refused or put off by the relay surely did not go, and is.
#[test]
fn retrying_a_grant_mail_leaves_a_teller_that_may_have_gone_before_it_was_queued_again() {
    const M: &str = "m@example.com"; // unknown, queued again, then suppressed
    const N: &str = "n@example.com"; // refused, queued again, then suppressed
    const O: &str = "o@example.com"; // put off (4xx), queued again, then suppressed
    const P: &str = "p@example.com"; // unknown, queued again, then refused
    const Q: &str = "q@example.com"; // its sender killed, queued again, then suppressed
    const R: &str = "r@example.com"; // given up at its one attempt, its outcome unknown
    let all = [M, N, O, P, Q, R];
    let kinds = all.map(|e| (e, Kind::Approval));
    let (_dir, mut ob, mut sender, now, firsts) = told_by_night_24(&all, &[], &kinds);
    let n2 = ob.begin_night(night(24), "build-2", now).unwrap();
    for email in all {
        let mut new = item(email, Kind::Approval, &[Y]);
        new.message_id = format!("<24.{email}@x>");
        assert!(n2.add(&new, State::Queued, now).unwrap());
    }
    n2.commit(None).unwrap();
    let tellers = all.map(|e| id_of(&ob, "20261124", e, Kind::Approval));
    // Q's attempt is left sending by a sender that dies; the next run
    // finds it so.
    let due = sender.due(Scope::Nightly, now, true).unwrap();
    let claimed = sender.claim(&due, now, |_| Some(Event::Claim)).unwrap();
    for i in &claimed.items {
        let (event, unknown_outcome) = match i.email.as_str() {
            M | P => (Event::Uncertain, true),
            O => (Event::Deferred, false),
            Q => continue,
            R => (Event::Expired, true),
            _ => (Event::Refused, false),
        };
        let recorded = outbox::Recorded {
            id: i.id,
            event,
            error: Some(format!("{event:?}")),
            next_try: None,
            unknown_outcome,
        };
        sender.record(&recorded, now).unwrap();
    }
    assert_eq!(sender.recover(Scope::Nightly).unwrap().unknown, 1);
    let state = |ob: &Outbox, id| ob.state_of(id).unwrap().unwrap();
    assert_eq!(
        tellers.map(|id| state(&ob, id)),
        [
            State::Unknown,
            State::Failed,
            State::Retrying,
            State::Unknown,
            State::Unknown,
            State::Failed
        ]
    );
    // An administrator queues all but R again; P's is refused at its one
    // attempt, the others' addresses are flagged before they go.
    for id in &tellers[..5] {
        assert_eq!(
            ob.retry(RetryWhich::Item(*id), &|_, _: &str, _| None, false)
                .unwrap()
                .asked,
            1
        );
    }
    send_all(&mut sender, now, |i| match i.email.as_str() {
        P => (Event::Claim, Event::Refused),
        _ => (Event::Suppress, Event::Suppress),
    });
    assert_eq!(
        tellers.map(|id| state(&ob, id)),
        [
            State::Suppressed,
            State::Suppressed,
            State::Suppressed,
            State::Failed,
            State::Suppressed,
            State::Failed
        ]
    );
    // The addresses found good again, the night-23 approvals are retried:
    // M's, P's, Q's and R's tellers may have gone; N's and O's did not.
    let fates_wanted = [
        Fate::MayHaveGone,
        Fate::QueuedAgain,
        Fate::QueuedAgain,
        Fate::MayHaveGone,
        Fate::MayHaveGone,
        Fate::MayHaveGone,
    ];
    for ((first, teller), fate) in firsts.iter().zip(tellers).zip(fates_wanted) {
        let was = state(&ob, teller);
        let retried = ob
            .retry(RetryWhich::Item(*first), &|_, _: &str, _| None, false)
            .unwrap();
        assert_eq!(fates(&retried), [(teller, fate, *first)], "{teller}");
        if fate == Fate::QueuedAgain {
            assert_eq!(state(&ob, teller), State::Queued);
            assert_eq!(retried.emails.len(), 1);
        } else {
            assert_eq!(state(&ob, teller), was);
            assert!(retried.emails.is_empty());
        }
    }
    // `outbox show` says so, of M's; not of N's.
    let attempts = |id| {
        let shown = ob.show(id).unwrap().unwrap();
        shown
            .fields
            .iter()
            .find(|f| f.0 == "attempts")
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        attempts(tellers[0]),
        "0; an attempt may have reached a relay"
    );
    assert_eq!(attempts(tellers[1]), "0");
}

/// `outbox retry` follows each item once: a `told_by` that leads back to
/// an item met before (here the item itself: a night's run that told
/// nothing of its own night's mail under the same reference) ends the
/// chain; it does not go round for ever, holding the outbox's write lock.
#[test]
fn retrying_follows_each_mail_once() {
    const A: &str = "a@example.com";
    let (dir, mut ob, now) = night_1(&[item(A, Kind::Approval, &[X, Y])]);
    let first = ob.grant_mail_to_check(night(23), [A]).unwrap();
    let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
    send_all(&mut sender, now, |_| (Event::Claim, Event::Refused));
    let n = ob.begin_night(night(23), "build-2", now).unwrap();
    assert!(!n
        .withhold_told_in(&first[0], "X is no longer granted", "")
        .unwrap());
    n.commit(None).unwrap();
    let id = first[0].id;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let retried = ob
            .retry(RetryWhich::Item(id), &|_, _: &str, _| None, false)
            .unwrap();
        tx.send(retried).unwrap();
    });
    let retried = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("retry ends");
    assert_eq!(retried.told, [(id, "20261123".to_string())]);
    assert!(retried.tellers.is_empty() && retried.emails.is_empty());
}
