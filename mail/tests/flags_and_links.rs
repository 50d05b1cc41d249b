//! What the forty-fifth session added to flags and retries, through the
//! outbox's own API: a flag still to write that an owner turning mail on again (the
//! account page: 恢復寄信) drops, and the website's password links that a
//! retry of every failed item leaves.

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use mail::outbox::{
    Event, FlagsOf, Kind, NewItem, Outbox, Packed, Recorded, RetryWhich, Scope, State,
};

fn digest(email: &str) -> NewItem {
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

/// Claims `scope`'s due items and records `event` for each.
fn tried(ob: &mut Outbox, scope: Scope, event: Event, now: chrono::DateTime<Utc>) -> Vec<i64> {
    let ids = ob.due(scope, now, true).unwrap();
    let claimed = ob.claim(&ids, now, |_| Some(Event::Claim)).unwrap();
    for it in &claimed.items {
        let rec = Recorded {
            id: it.id,
            event,
            error: Some("550 5.7.1 refused".into()),
            next_try: None,
            unknown_outcome: false,
        };
        ob.record(&rec, now).unwrap();
    }
    ob.settle(scope).unwrap();
    ids
}

/// A delivery report recorded a flag to write for an address (a `bounces`
/// run stopped before writing it to the accounts database); its owner
/// turns its mail on again: the flag still to write is dropped, so no
/// later run flags the address again.
#[test]
fn an_owners_resume_drops_the_flag_still_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap();
    let night = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let q = ob.begin_night(night, "", now).unwrap();
    assert!(q.add(&digest("a@example.com"), State::Queued, now).unwrap());
    q.commit(None).unwrap();
    let ids = tried(&mut ob, Scope::Nightly, Event::Accepted, now);
    let later = now + Duration::hours(1);
    ob.bounced(ids[0], "5.1.1 user unknown", true, &[1; 16], later, later)
        .unwrap();
    let conn = mail::outbox::open(dir.path()).unwrap();
    mail::outbox::drop_flag_to_write(&conn, "a@example.com", std::time::Duration::from_secs(1))
        .unwrap();
    let written = ob
        .write_flags::<mail::outbox::OutboxError>(FlagsOf::All, |_| Ok(()))
        .unwrap();
    assert!(written.is_empty(), "{written:?}");
}

/// The website's password link, failed: a retry of every failed item
/// leaves it (good for minutes, it would arrive dead), one by its id
/// queues it again; a dry run changes nothing.
#[test]
fn a_retry_of_every_failed_item_leaves_the_websites_password_links() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(dir.path()).unwrap();
    let conn = mail::outbox::open(dir.path()).unwrap();
    let cfg = mail::MailSettings::default();
    let now = Utc::now();
    let view = mail::web::view(
        &cfg,
        mail::web::WebMail::Reset,
        "reset.me@example.com",
        "http://localhost:8080/reset?token=00",
        now,
    );
    mail::web::queue(&conn, &cfg, mail::web::WebMail::Reset, &view, now).unwrap();
    let ids = tried(&mut ob, Scope::Website, Event::Refused, now);
    assert_eq!(ob.state_of(ids[0]).unwrap(), Some(State::Failed));
    let none = BTreeSet::new();
    let never = |_: Kind, _: &str, _| None;
    let all = ob
        .retry(
            RetryWhich::Failed {
                flagged: &|| Ok(none.clone()),
            },
            &never,
            false,
        )
        .unwrap();
    assert_eq!(
        all.password_links,
        [(ids[0], "reset.me@example.com".into())]
    );
    assert!(all.emails.is_empty());
    let dry = ob.retry(RetryWhich::Item(ids[0]), &never, true).unwrap();
    assert_eq!(dry.asked, 1);
    assert_eq!(ob.state_of(ids[0]).unwrap(), Some(State::Failed));
    let one = ob.retry(RetryWhich::Item(ids[0]), &never, false).unwrap();
    assert_eq!(one.asked, 1);
    assert_eq!(ob.state_of(ids[0]).unwrap(), Some(State::Queued));
}
