//! The cases a grant's mail names (outbox migration 14). An activation,
//! approval or expiry warning not sent when a later snapshot no longer
//! grants its address one of them is withheld, and the cases still
//! granted are told again by the next night's mail, once: whether the
//! night's mail finds it first, or `cpor-etl send` at its claim.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mail::outbox::{
    self, Event, GrantMail, Kind, NewItem, Outbox, Packed, RetryWhich, Scope, State,
};

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

    // A night checks the grant mail of nights before it to the addresses
    // whose grants are gone, and a re-run that of the night's other builds;
    // a digest names no grant.
    let all = ["a@example.com", "b@example.com", "c@example.com"];
    assert!(ob
        .grant_mail_to_check(night(23), "", all)
        .unwrap()
        .is_empty());
    assert_eq!(
        emails(
            &ob.grant_mail_to_check(night(24), "", ["c@example.com"])
                .unwrap()
        ),
        [("c@example.com", false)]
    );
    let later = ob.grant_mail_to_check(night(24), "", all).unwrap();
    assert_eq!(
        emails(&later),
        [("a@example.com", false), ("c@example.com", false)]
    );
    assert_eq!(later[0].case_keys, [X, Y]);
    assert_eq!(later[1].kind, Kind::Expiry);
    assert_eq!(
        emails(&ob.grant_mail_to_check(night(23), "build-2", all).unwrap()),
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
    let left = ob.grant_mail_to_check(night(24), "", []).unwrap();
    assert_eq!(ob.grant_mail_to_check(night(24), "", all).unwrap(), left);
    assert_eq!(emails(&left), [("a@example.com", true)]);
    assert_eq!(left[0].case_keys, [X, Y]);

    // Night 24's mail tells them, in its transaction: a crash before the
    // commit leaves them to tell.
    let n2 = ob.begin_night(night(24), "", now).unwrap();
    assert!(n2.withhold(&left[0], "told").unwrap());
    drop(n2);
    assert_eq!(ob.grant_mail_to_check(night(24), "", []).unwrap(), left);
    let n2 = ob.begin_night(night(24), "", now).unwrap();
    assert!(n2.withhold(&left[0], "told").unwrap());
    n2.commit(None).unwrap();
    // Once: no later night tells them again, and the item keeps send's
    // reason and its state.
    assert!(ob
        .grant_mail_to_check(night(25), "", all)
        .unwrap()
        .is_empty());
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
    // `outbox retry` does not queue it again: it would show the case, and
    // tell twice what night 24 told.
    assert!(ob.withheld(left[0].id).unwrap());
    assert!(ob
        .retry(RetryWhich::Item(left[0].id))
        .unwrap()
        .emails
        .is_empty());
    assert!(ob
        .grant_mail_to_check(night(25), "", all)
        .unwrap()
        .is_empty());
}

#[test]
fn grant_mail_a_night_withholds_is_suppressed_with_its_reason_unless_it_went_out() {
    let (dir, mut ob, now) = night_1(&[
        item("a@example.com", Kind::Approval, &[X]),
        item("b@example.com", Kind::Approval, &[Y]),
    ]);
    let earlier = ob
        .grant_mail_to_check(night(24), "", ["a@example.com", "b@example.com"])
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
        .grant_mail_to_check(night(25), "", ["a@example.com", "b@example.com"])
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
        .grant_mail_to_check(night(24), "", ["a@example.com"])
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
        .grant_mail_to_check(night(25), "", ["a@example.com"])
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
            .grant_mail_to_check(night(24), "", ["a@example.com"])
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
                .grant_mail_to_check(night(25), "", ["a@example.com"])
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
            ob.grant_mail_to_check(night(25), "", ["a@example.com"])
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
        };
        ob.record(&recorded, now).unwrap();
    }
    ob.settle(Scope::Nightly).unwrap();
}

/// An activation, approval or expiry warning whose cases a later night's
/// mail told, that night unable to withhold it (`told_by`), is withheld by
/// the `send` that next meets it, and tells nothing again. `outbox retry`
/// of it queues again the mail that told them, if that mail did not go
/// (failed, or suppressed for the address's flag), and that mail's own
/// teller in turn; not one that went or may still go, nor a warning a grant
/// mail that went stood for, nor mail of another kind.
#[test]
fn retrying_a_grant_mail_queues_the_mail_that_told_its_cases_if_it_did_not_go() {
    const A: &str = "a@example.com"; // suppressed, flagged; its teller too, and that one's
    const C: &str = "c@example.com"; // a warning; its teller queued suppressed
    const D: &str = "d@example.com"; // refused; its teller sent
    const E: &str = "e@example.com"; // a warning, refused; its teller covered
    const F: &str = "f@example.com"; // refused; its teller suppressed
    let (dir, mut ob, now) = night_1(&[
        item(A, Kind::Activation, &[X, Y]),
        item(C, Kind::Expiry, &[X, Y]),
        item(D, Kind::Activation, &[X, Y]),
        item(E, Kind::Expiry, &[X, Y]),
        item(F, Kind::Approval, &[X, Y]),
    ]);
    let all = [A, C, D, E, F];
    let mut sender = Outbox::open_for_sending(dir.path()).unwrap();

    // Night 24's re-run looks them up; a sender claims them just after:
    // A's and C's addresses flagged, the others refused.
    let read = ob.grant_mail_to_check(night(24), "build-2", all).unwrap();
    assert_eq!(read.len(), 5);
    let due = sender.due(Scope::Nightly, now, true).unwrap();
    let claimed = sender
        .claim(&due, now, |i| {
            Some(if [A, C].contains(&i.email.as_str()) {
                Event::Suppress
            } else {
                Event::Claim
            })
        })
        .unwrap();
    for i in &claimed.items {
        let recorded = outbox::Recorded {
            id: i.id,
            event: Event::Refused,
            error: Some("550 no such user".to_string()),
            next_try: None,
        };
        sender.record(&recorded, now).unwrap();
    }
    sender.settle(Scope::Nightly).unwrap();
    // The re-run tells what is still granted (Y), and cannot withhold
    // any: each records that it told them.
    // (a later night's message ids are its own)
    let made = std::cell::Cell::new(0);
    let item = |email, kind, cases: &[&str]| {
        let mut new = item(email, kind, cases);
        made.set(made.get() + 1);
        new.message_id = format!("<{}.{email}.{}@x>", made.get(), kind.as_str());
        new
    };
    let n2 = ob.begin_night(night(24), "build-2", now).unwrap();
    for mail in &read {
        assert!(!n2.withhold(mail, "X is no longer granted").unwrap());
    }
    let approval_e = item(E, Kind::Approval, &[Y]);
    let mut warning_e = item(E, Kind::Expiry, &[Y]);
    warning_e.behind = Some(approval_e.message_id.clone());
    for (new, state) in [
        (item(A, Kind::Activation, &[Y]), State::Queued),
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
    let (a_24, f_24) = (
        of_24(&ob, A, Kind::Activation),
        of_24(&ob, F, Kind::Approval),
    );

    // Night 25 looks A's night-24 activation up, still queued; a sender
    // suppresses it (flagged) as the rest of night 24's mail goes: A's
    // digest and C's approval suppressed too, D's approval perhaps taken
    // (unknown), E's sent and its warning covered, F's approval
    // suppressed (F flagged by its refusal).
    let read_25 = ob.grant_mail_to_check(night(25), "", [A]).unwrap();
    assert_eq!(read_25.iter().map(|m| m.id).collect::<Vec<_>>(), [a_24]);
    send_all(&mut sender, now, |i| {
        if [A, C, F].contains(&i.email.as_str()) {
            (Event::Suppress, Event::Suppress)
        } else if i.email == D {
            (Event::Claim, Event::Uncertain)
        } else {
            (Event::Claim, Event::Accepted)
        }
    });
    // (night 25 tells its cases in an approval of A's own, beside the
    // night's grant mail from another build: `more-1`)
    let n3 = ob.begin_night(night(25), "", now).unwrap();
    assert!(!n3
        .withhold_told_in(&read_25[0], "X is no longer granted", "more-1")
        .unwrap());
    assert!(n3
        .add_under(&item(A, Kind::Approval, &[Y]), State::Queued, now, "more-1")
        .unwrap());
    n3.commit(None).unwrap();
    // (A's flagged; D's, claimed again, perhaps taken again)
    send_all(&mut sender, now, |i| {
        if i.email == A {
            (Event::Suppress, Event::Suppress)
        } else {
            (Event::Claim, Event::Uncertain)
        }
    });
    let a_25 = id_of(&ob, "20261125", A, Kind::Approval);
    let state = |ob: &Outbox, id| ob.state_of(id).unwrap().unwrap();
    let covered = ob.show(of_24(&ob, E, Kind::Expiry)).unwrap().unwrap();
    assert!(
        covered
            .fields
            .iter()
            .any(|(n, v)| *n == "last error" && v.contains("this expiry warning was not sent")),
        "{:?}",
        covered.fields
    );
    assert_eq!(state(&ob, of_24(&ob, D, Kind::Approval)), State::Unknown);

    // A's night-23 activation brings night 24's activation, and night 25's
    // approval that told that one's cases in turn; not the digest.
    let a_23 = id_of(&ob, "20261123", A, Kind::Activation);
    let retried = ob.retry(RetryWhich::Item(a_23)).unwrap();
    assert_eq!(retried.emails, [A]);
    let tellers: Vec<(i64, Kind, State, &str, &str, i64)> = retried
        .tellers
        .iter()
        .map(|t| {
            (
                t.id,
                t.kind,
                t.was,
                t.night.as_str(),
                t.reference.as_str(),
                t.of,
            )
        })
        .collect();
    assert_eq!(
        tellers,
        [
            (
                a_24,
                Kind::Activation,
                State::Suppressed,
                "20261124",
                "build-2",
                a_23
            ),
            (
                a_25,
                Kind::Approval,
                State::Suppressed,
                "20261125",
                "more-1",
                a_24
            ),
        ]
    );
    for id in [a_23, a_24, a_25] {
        assert_eq!(state(&ob, id), State::Queued);
    }
    assert_eq!(state(&ob, of_24(&ob, A, Kind::Digest)), State::Suppressed);
    // C's warning brings night 24's warning, queued suppressed (C flagged),
    // not its approval.
    let c_23 = id_of(&ob, "20261123", C, Kind::Expiry);
    let retried = ob.retry(RetryWhich::Item(c_23)).unwrap();
    let c_24 = of_24(&ob, C, Kind::Expiry);
    assert_eq!(
        retried
            .tellers
            .iter()
            .map(|t| (t.id, t.of))
            .collect::<Vec<_>>(),
        [(c_24, c_23)]
    );
    // E's warning's teller, covered by the approval that went (which
    // showed its cases' last day), is not queued again; nor the approval.
    let e_23 = id_of(&ob, "20261123", E, Kind::Expiry);
    let retried = ob.retry(RetryWhich::Item(e_23)).unwrap();
    assert_eq!(retried.emails, [E]);
    assert_eq!(retried.tellers, []);
    // Every failed item: D's and F's night-23 mail; F's teller with it,
    // not D's, which the relay may have taken.
    let retried = ob.retry(RetryWhich::Failed).unwrap();
    assert_eq!(retried.emails, [D, F]);
    assert_eq!(
        retried
            .tellers
            .iter()
            .map(|t| (t.id, t.was))
            .collect::<Vec<_>>(),
        [(f_24, State::Suppressed)]
    );
    assert_eq!(state(&ob, of_24(&ob, D, Kind::Approval)), State::Unknown);
}
