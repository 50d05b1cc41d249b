//! Prosecutors who signed in through the MOJ single sign-on
//! (`prosecutor_accounts`, accounts migration 4): who they are, the verified
//! address the provider last gave, their opt-in to the nightly digest, and
//! their sign-ins (for `cpor-server stats`). They have no password and no
//! tokens: none of the applicants' functions above applies to them, and
//! none of these to an applicant. What a prosecutor may see is not stored
//! here: it is the live snapshot's `prosecutors` rows for the account.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// A prosecutor's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prosecutor {
    pub id: i64,
    /// The MOJ account (檢察官帳號).
    pub account: String,
    /// The verified address of the last sign-in, if any.
    pub email: Option<String>,
    pub digests: bool,
    /// Hearing reminders (off until turned on; only with an address).
    pub reminders: bool,
}

/// Web (the code flow) or app (the native ID-token exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Web,
    App,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Web => "web",
            Via::App => "app",
        }
    }
}

/// The provider's subject type for cpor's two clients (OpenID Connect Core
/// 8): `Public`, one `sub` per person whichever client asks (the default:
/// an account stays with the subject it first signed in with, through
/// either client); `Pairwise`, one per person and client, so the website's
/// and the app's are bound apart, and the first sign-in through the other
/// client binds its own (`sso.pairwise_subjects`: trust in that first
/// sign-in rests on `sso.required_claims`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subjects {
    Public,
    Pairwise,
}

/// What a sign-in says of the prosecutor's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address<'a> {
    /// The provider vouches for it (`email`, with `email_verified` true).
    Verified(&'a str),
    /// The provider does not vouch for an address (none, or one it says
    /// is not verified): it is forgotten, and the digest and reminders
    /// turned off, since they can no longer go anywhere verified.
    NotVouched,
    /// The sign-in was given no address at all: an app that did not ask
    /// for the `email` scope, or did not send the access token a provider
    /// giving it only at userinfo needs. The address and the mail stay as
    /// the last sign-in that was given one left them.
    NotGiven,
}

/// A sign-in by another subject (the provider's `sub`) than the one the
/// account first signed in with (through the same client, if subjects are
/// pairwise): the stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSubject(pub String);

/// Records a sign-in: the account's row (made on the first), the address
/// as the sign-in gives it (`Address`), and a row for the statistics. One
/// transaction. The subject the account first signed in with stands
/// (through this client, if `subjects` are pairwise): another (an identity
/// the provider gives the same account claim) changes nothing and is
/// `OtherSubject`.
pub fn sign_in(
    conn: &mut Connection,
    account: &str,
    subject: &str,
    address: Address<'_>,
    (via, subjects): (Via, Subjects),
    now: DateTime<Utc>,
) -> rusqlite::Result<Result<Prosecutor, OtherSubject>> {
    let (email, given) = match address {
        Address::Verified(e) => (Some(crate::accounts::normalise_email(e)), true),
        Address::NotVouched => (None, true),
        Address::NotGiven => (None, false),
    };
    let now = now.to_rfc3339();
    let tx = conn.transaction()?;
    // Each client's own (accounts migration 10).
    let bound = match via {
        Via::Web => "web_subject",
        Via::App => "app_subject",
    };
    let (web, app): (Option<String>, Option<String>) = tx
        .query_row(
            "SELECT web_subject, app_subject FROM prosecutor_accounts WHERE account = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or_default();
    let stored = match (subjects, via) {
        (Subjects::Pairwise, Via::Web) => web,
        (Subjects::Pairwise, Via::App) => app,
        // Either client's binding speaks for the person.
        (Subjects::Public, _) => [web, app].into_iter().flatten().find(|s| s != subject),
    };
    if let Some(stored) = stored.filter(|s| s != subject) {
        return Ok(Err(OtherSubject(stored)));
    }
    tx.execute(
        &format!(
            "INSERT INTO prosecutor_accounts (account, subject, {bound}, email, created_at,
                 last_sign_in_at)
             VALUES (?1, ?2, ?2, ?3, ?4, ?4)
             ON CONFLICT (account) DO UPDATE SET subject = ?2, {bound} = ?2,
                 last_sign_in_at = ?4,
                 email = CASE WHEN ?5 THEN ?3 ELSE email END,
                 digests = CASE WHEN ?5 AND ?3 IS NULL THEN 0 ELSE digests END,
                 reminders = CASE WHEN ?5 AND ?3 IS NULL THEN 0 ELSE reminders END"
        ),
        params![account, subject, email, now, given],
    )?;
    let p = one(&tx, "account = ?1", account)?.expect("just written");
    tx.execute(
        "INSERT INTO prosecutor_sign_ins (prosecutor_id, kind, at) VALUES (?1, ?2, ?3)",
        params![p.id, via.as_str(), now],
    )?;
    tx.commit()?;
    Ok(Ok(p))
}

pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Prosecutor>> {
    one(conn, "id = ?1", id)
}

fn one(
    conn: &Connection,
    condition: &str,
    value: impl rusqlite::ToSql,
) -> rusqlite::Result<Option<Prosecutor>> {
    conn.prepare_cached(&format!(
        "SELECT id, account, email, digests, reminders FROM prosecutor_accounts WHERE {condition}"
    ))?
    .query_row([value], |r| {
        Ok(Prosecutor {
            id: r.get(0)?,
            account: r.get(1)?,
            email: r.get(2)?,
            digests: r.get::<_, i64>(3)? == 1,
            reminders: r.get::<_, i64>(4)? == 1,
        })
    })
    .optional()
}

/// A prosecutor's two mailings, each off until turned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mailing {
    Digests,
    Reminders,
}

impl Mailing {
    fn column(self) -> &'static str {
        match self {
            Mailing::Digests => "digests",
            Mailing::Reminders => "reminders",
        }
    }
}

/// Turns a mailing on or off: the one rule of a prosecutor's switches
/// (with `sign_in`'s, which turns both off when the provider no
/// longer gives a verified address): on only with a verified address.
/// Returns whether it is on afterwards.
pub fn set_mailing(
    conn: &Connection,
    id: i64,
    mailing: Mailing,
    on: bool,
) -> rusqlite::Result<bool> {
    let column = mailing.column();
    conn.execute(
        &format!(
            "UPDATE prosecutor_accounts SET {column} = (?2 AND email IS NOT NULL) WHERE id = ?1"
        ),
        params![id, on as i64],
    )?;
    Ok(by_id(conn, id)?.is_some_and(|p| match mailing {
        Mailing::Digests => p.digests,
        Mailing::Reminders => p.reminders,
    }))
}

/// Turns the digest on or off ([`set_mailing`]).
pub fn set_digests(conn: &Connection, id: i64, on: bool) -> rusqlite::Result<bool> {
    set_mailing(conn, id, Mailing::Digests, on)
}

/// Who gets tonight's digest of news on their cases: (account, address)
/// Purges prosecutors' case views and sign-ins of Asia/Taipei days before
/// `before_day` (YYYY-MM-DD), day by day, each day's counts kept in
/// `daily_prosecutor_activity` (what `cpor-server stats` reports), as
/// `super::purge_case_views` does applicants' views. Returns how many rows
/// went.
pub fn purge_activity(conn: &mut Connection, before_day: &str) -> rusqlite::Result<usize> {
    super::purge_day_by_day(
        conn,
        "SELECT day FROM (
             SELECT date(at, '+8 hours') AS day FROM prosecutor_case_views
             UNION SELECT date(at, '+8 hours') FROM prosecutor_sign_ins)
         WHERE day < ?1 ORDER BY 1",
        before_day,
        |tx, day| {
            tx.execute(
                "INSERT INTO daily_prosecutor_activity (day, sign_ins, views)
                 SELECT ?1,
                     (SELECT count(*) FROM prosecutor_sign_ins WHERE date(at, '+8 hours') = ?1),
                     (SELECT count(*) FROM prosecutor_case_views WHERE date(at, '+8 hours') = ?1)
                 ON CONFLICT (day) DO UPDATE
                 SET sign_ins = sign_ins + excluded.sign_ins, views = views + excluded.views",
                [day],
            )?;
            let mut deleted = 0;
            for table in ["prosecutor_case_views", "prosecutor_sign_ins"] {
                deleted += tx.execute(
                    &format!("DELETE FROM {table} WHERE date(at, '+8 hours') = ?1"),
                    [day],
                )?;
            }
            Ok(deleted)
        },
    )
}

/// of every prosecutor who opted in with a verified address, by account.
pub fn digest_recipients(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    opted_in(conn, Mailing::Digests)
}

/// Who gets hearing reminders: (account, address) of every prosecutor who
/// turned them on with a verified address, by account.
pub fn reminder_recipients(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    opted_in(conn, Mailing::Reminders)
}

fn opted_in(conn: &Connection, mailing: Mailing) -> rusqlite::Result<Vec<(String, String)>> {
    let column = mailing.column();
    let mut st = conn.prepare(&format!(
        "SELECT account, email FROM prosecutor_accounts
         WHERE {column} = 1 AND email IS NOT NULL ORDER BY account"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::accounts::open(dir.path()).unwrap();
        (dir, conn)
    }

    /// `accounts::mailings_off`: a mailing is off for an address only when
    /// it has an account and none of its accounts has it on (an address
    /// with none gets its grants' mail, as before any account).
    #[test]
    fn a_mailing_is_off_only_when_every_account_of_the_address_has_it_off() {
        use crate::accounts::mailings_off;
        use crate::secret::Mailing::{Digests, Reminders};
        let (_d, c) = db();
        let off = |email: &str| {
            let all = mailings_off(&c).unwrap();
            all.get(email)
                .map_or((false, false), |m| (m.off(Digests), m.off(Reminders)))
        };
        assert_eq!(off("nobody@example.com"), (false, false));
        crate::accounts::create_or_get(&c, "a@example.com", "x").unwrap();
        assert_eq!(off("a@example.com"), (false, false));
        c.execute(
            "UPDATE accounts SET digests = 0 WHERE email = 'a@example.com'",
            [],
        )
        .unwrap();
        assert_eq!(off("a@example.com"), (true, false));
        // A prosecutor's account of the same address with digests on.
        c.execute(
            "INSERT INTO prosecutor_accounts (account, subject, email, digests, reminders, created_at, last_sign_in_at)
             VALUES ('chen.wm', 's', 'a@example.com', 1, 0, 'x', 'x'),
                    ('wu.cl', 't', 'p@example.com', 0, 1, 'x', 'x')",
            [],
        )
        .unwrap();
        assert_eq!(off("a@example.com"), (false, false));
        assert_eq!(off("p@example.com"), (true, false));
    }

    #[test]
    fn a_digest_needs_a_verified_address_and_ends_without_one() {
        let (_d, mut c) = db();
        let now = Utc::now();
        let p = sign_in(
            &mut c,
            "chen.wm",
            "chen.wm",
            Address::NotVouched,
            (Via::Web, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        assert!(
            !set_digests(&c, p.id, true).unwrap(),
            "no address: stays off"
        );
        let p = sign_in(
            &mut c,
            "chen.wm",
            "chen.wm",
            Address::Verified("Chen@MOJ.example"),
            (Via::Web, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.email.as_deref(), Some("chen@moj.example"));
        assert!(set_digests(&c, p.id, true).unwrap());
        assert_eq!(
            digest_recipients(&c).unwrap(),
            [("chen.wm".to_string(), "chen@moj.example".to_string())]
        );
        // Unsubscribing by address (the digest's link) turns it off.
        assert!(crate::accounts::unsubscribe(&c, "chen@moj.example", true).unwrap());
        assert!(digest_recipients(&c).unwrap().is_empty());
        assert!(set_digests(&c, p.id, true).unwrap());
        // A sign-in given no address (an app that did not ask for it)
        // leaves the address and the digest as they were.
        let p = sign_in(
            &mut c,
            "chen.wm",
            "chen.wm",
            Address::NotGiven,
            (Via::App, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (p.email.as_deref(), p.digests),
            (Some("chen@moj.example"), true)
        );
        // A later sign-in without a verified address forgets it.
        let p = sign_in(
            &mut c,
            "chen.wm",
            "chen.wm",
            Address::NotVouched,
            (Via::App, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        assert_eq!((p.email, p.digests), (None, false));
        assert!(digest_recipients(&c).unwrap().is_empty());
        let n: i64 = c
            .query_row("SELECT count(*) FROM prosecutor_sign_ins", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 4);
    }

    /// Another subject naming the account (an identity the provider gives
    /// the same account claim) changes nothing and is refused.
    #[test]
    fn an_account_stays_with_the_subject_it_first_signed_in_with() {
        let (_d, mut c) = db();
        let now = Utc::now();
        let mail = Address::Verified("chen@moj.example");
        let p = sign_in(
            &mut c,
            "chen.wm",
            "sub-1",
            mail,
            (Via::Web, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        let other = sign_in(
            &mut c,
            "chen.wm",
            "sub-2",
            Address::NotVouched,
            (Via::Web, Subjects::Public),
            now,
        )
        .unwrap();
        assert_eq!(other, Err(OtherSubject("sub-1".into())));
        assert_eq!(
            by_id(&c, p.id).unwrap().unwrap().email.as_deref(),
            Some("chen@moj.example")
        );
        let n: i64 = c
            .query_row("SELECT count(*) FROM prosecutor_sign_ins", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "no sign-in recorded");
    }

    /// The review of the session's change: the website and the app are two
    /// clients of the provider, which may give one person a subject per
    /// client (pairwise subjects); bound to one subject for both, whichever
    /// signed in first locked the other out. Each client's subject is bound
    /// on its own.
    #[test]
    fn with_pairwise_subjects_the_website_and_the_app_each_keep_their_own() {
        let (_d, mut c) = db();
        let now = Utc::now();
        let web = sign_in(
            &mut c,
            "chen.wm",
            "web-1",
            Address::NotVouched,
            (Via::Web, Subjects::Pairwise),
            now,
        )
        .unwrap();
        let app = sign_in(
            &mut c,
            "chen.wm",
            "app-1",
            Address::NotVouched,
            (Via::App, Subjects::Pairwise),
            now,
        )
        .unwrap();
        assert_eq!(app.map(|p| p.id), web.map(|p| p.id), "one account");
        assert!(sign_in(
            &mut c,
            "chen.wm",
            "web-1",
            Address::NotVouched,
            (Via::Web, Subjects::Pairwise),
            now
        )
        .unwrap()
        .is_ok());
        assert!(sign_in(
            &mut c,
            "chen.wm",
            "app-1",
            Address::NotVouched,
            (Via::App, Subjects::Pairwise),
            now
        )
        .unwrap()
        .is_ok());
        let other = sign_in(
            &mut c,
            "chen.wm",
            "web-1",
            Address::NotVouched,
            (Via::App, Subjects::Pairwise),
            now,
        )
        .unwrap();
        assert_eq!(other, Err(OtherSubject("app-1".into())));
    }

    /// A review of the sign-on (2026-12-06): bound per client, an identity
    /// given the account claim took over an account through the client the
    /// prosecutor had not used yet. With public subjects (the default) the
    /// first binding speaks for both clients.
    #[test]
    fn with_public_subjects_either_clients_binding_stands_for_both() {
        let (_d, mut c) = db();
        let now = Utc::now();
        let public = |via| (via, Subjects::Public);
        let mail = Address::Verified("chen@moj.example");
        let p = sign_in(&mut c, "chen.wm", "sub-1", mail, public(Via::Web), now)
            .unwrap()
            .unwrap();
        for via in [Via::App, Via::Web] {
            let other = sign_in(
                &mut c,
                "chen.wm",
                "sub-2",
                Address::NotVouched,
                public(via),
                now,
            )
            .unwrap();
            assert_eq!(other, Err(OtherSubject("sub-1".into())), "{via:?}");
        }
        assert_eq!(
            by_id(&c, p.id).unwrap().unwrap().email.as_deref(),
            Some("chen@moj.example")
        );
        assert!(
            sign_in(&mut c, "chen.wm", "sub-1", mail, public(Via::App), now)
                .unwrap()
                .is_ok()
        );
        // Bound through the app first, the same.
        sign_in(
            &mut c,
            "lin.yc",
            "sub-3",
            Address::NotGiven,
            public(Via::App),
            now,
        )
        .unwrap()
        .unwrap();
        let other = sign_in(
            &mut c,
            "lin.yc",
            "sub-4",
            Address::NotVouched,
            public(Via::Web),
            now,
        )
        .unwrap();
        assert_eq!(other, Err(OtherSubject("sub-3".into())));
    }
}
