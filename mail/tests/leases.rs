//! Issue 15: every `cpor-server` process runs a website mailer on the same
//! outbox. A claim is exclusive and leased: another sender neither claims
//! the item again nor takes it for abandoned while the lease holds, so a
//! website mail goes out once whichever process queued it.

use chrono::{Duration, Utc};
use mail::outbox::{self, Event, Kind, NewItem, Outbox, Packed, Scope, State};

fn queue(dir: &std::path::Path, n: usize) {
    let conn = outbox::open(dir).unwrap();
    let now = Utc::now();
    for i in 0..n {
        let item = NewItem {
            email: format!("u{i}@example.com"),
            kind: Kind::Reset,
            message_id: format!("<lease.{i}@x>"),
            subject: "s".into(),
            message: Packed::plain(b"m".to_vec()),
            cases: 0,
            case_keys: Vec::new(),
            behind: None,
        };
        outbox::queue_website(&conn, &item, now.date_naive(), &i.to_string(), now).unwrap();
    }
}

fn states(dir: &std::path::Path) -> Vec<String> {
    let conn = outbox::open(dir).unwrap();
    let mut st = conn.prepare("SELECT state FROM items ORDER BY id").unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_claimed_website_mail_is_neither_claimed_again_nor_recovered_while_leased() {
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), 3);
    let (mut a, mut b) = (
        Outbox::open_for_sending(dir.path()).unwrap(),
        Outbox::open_for_sending(dir.path()).unwrap(),
    );
    let now = Utc::now();
    // Both list the same due items; A claims first.
    let due_a = a.due(Scope::Website, now, true).unwrap();
    let due_b = b.due(Scope::Website, now, true).unwrap();
    assert_eq!(due_a, due_b);
    let got_a = a.claim(&due_a, now, |_| Some(Event::Claim)).unwrap();
    assert_eq!(got_a.items.len(), 3);
    let got_b = b.claim(&due_b, now, |_| Some(Event::Claim)).unwrap();
    assert!(got_b.items.is_empty(), "claimed twice");
    // B's mailer wakes while A delivers: nothing is taken for abandoned.
    assert_eq!(
        b.recover_expired(Scope::Website, now + Duration::minutes(5))
            .unwrap(),
        0
    );
    assert_eq!(states(dir.path()), ["sending"; 3]);
    // The nightly sender's recovery (alone under send.lock) is another
    // scope's: it leaves them too.
    assert_eq!(b.recover(Scope::Nightly).unwrap(), Default::default());
    // A died: once its lease has run out, B recovers and sends them again.
    let later = now + outbox::lease() + Duration::seconds(1);
    assert_eq!(b.recover_expired(Scope::Website, later).unwrap(), 3);
    assert_eq!(states(dir.path()), ["unknown"; 3]);
    let again = b.claim(&b.due(Scope::Website, later, true).unwrap(), later, |_| {
        Some(Event::Claim)
    });
    assert_eq!(again.unwrap().items.len(), 3);
    assert_eq!(State::parse(&states(dir.path())[0]), Some(State::Sending));
}
