//! What an account says about hearings: reminders on or off, and its
//! private calendar feed, of which only the token's SHA-256 is kept. An
//! applicant's account (`schemas/accounts/0005_hearings.sql`: on unless
//! turned off) or a prosecutor's (`0008_prosecutor_feeds.sql`: off until
//! turned on, and only with a verified address). (Its own file, beside
//! `accounts`, so the hearings feature stays in one place.)

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::secret;

/// Whose reminders and feed: an applicant's account or a prosecutor's
/// (single sign-on), by row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Applicant(i64),
    Prosecutor(i64),
}

impl Holder {
    /// (account table, feed table, the feed table's account column, id).
    fn tables(self) -> (&'static str, &'static str, &'static str, i64) {
        match self {
            Holder::Applicant(id) => ("accounts", "calendar_feeds", "account_id", id),
            Holder::Prosecutor(id) => (
                "prosecutor_accounts",
                "prosecutor_calendar_feeds",
                "prosecutor_id",
                id,
            ),
        }
    }
}

/// Whose feed a token opens: the applicant's address, or the prosecutor's
/// MOJ account, which is what their hearings are found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOwner {
    Applicant { id: i64, email: String },
    Prosecutor { id: i64, account: String },
}

impl FeedOwner {
    /// The account whose feed it is.
    pub fn holder(&self) -> Holder {
        match self {
            FeedOwner::Applicant { id, .. } => Holder::Applicant(*id),
            FeedOwner::Prosecutor { id, .. } => Holder::Prosecutor(*id),
        }
    }
}

/// Whether a holder gets hearing reminders. An unknown applicant account:
/// yes (the default); an unknown prosecutor: no.
pub fn reminders_on(conn: &Connection, holder: Holder) -> rusqlite::Result<bool> {
    let (table, _, _, id) = holder.tables();
    let on = conn
        .query_row(
            &format!("SELECT reminders FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?;
    Ok(match on {
        Some(v) => v == 1,
        None => matches!(holder, Holder::Applicant(_)),
    })
}

/// Turns reminders on or off. A prosecutor's turn on only with a verified
/// address (as the digest). Returns whether they are on afterwards.
pub fn set_reminders(conn: &Connection, holder: Holder, on: bool) -> rusqlite::Result<bool> {
    match holder {
        Holder::Applicant(id) => conn.execute(
            "UPDATE accounts SET reminders = ?2 WHERE id = ?1",
            params![id, on as i64],
        )?,
        Holder::Prosecutor(id) => {
            use crate::accounts::prosecutors::{set_mailing, Mailing};
            return set_mailing(conn, id, Mailing::Reminders, on);
        }
    };
    reminders_on(conn, holder)
}

/// The addresses whose applicant accounts turned reminders off.
pub fn reminders_off(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT email FROM accounts WHERE reminders = 0")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Reminders' one-click unsubscribe (RFC 8058): off for every account,
/// applicant's or prosecutor's, with the address. Returns whether any was
/// on.
pub fn stop_reminders(conn: &Connection, email: &str, granted: bool) -> rusqlite::Result<bool> {
    crate::accounts::known_for_unsubscribe(conn, email, granted)?;
    let applicants = conn.execute(
        "UPDATE accounts SET reminders = 0 WHERE email = ?1 AND reminders = 1",
        [email],
    )?;
    let prosecutors = conn.execute(
        "UPDATE prosecutor_accounts SET reminders = 0 WHERE email = ?1 AND reminders = 1",
        [email],
    )?;
    Ok(applicants + prosecutors > 0)
}

/// A holder's feed as its account page tells of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The Taipei day a calendar last fetched it (YYYY-MM-DD), if any has.
    pub last_used: Option<String>,
}

/// A holder's feed, if it has one.
pub fn feed_status(conn: &Connection, holder: Holder) -> rusqlite::Result<Option<FeedStatus>> {
    let (_, feeds, column, id) = holder.tables();
    conn.query_row(
        &format!("SELECT created_at, last_used FROM {feeds} WHERE {column} = ?1"),
        [id],
        |r| {
            Ok(FeedStatus {
                created_at: r.get(0)?,
                last_used: r.get(1)?,
            })
        },
    )
    .optional()
}

/// A calendar fetched the holder's feed on `day` (Taipei, YYYY-MM-DD):
/// written once a day at most (the row changes only when the day does).
pub fn feed_fetched(conn: &Connection, holder: Holder, day: &str) -> rusqlite::Result<()> {
    let (_, feeds, column, id) = holder.tables();
    conn.execute(
        &format!(
            "UPDATE {feeds} SET last_used = ?2
             WHERE {column} = ?1 AND (last_used IS NULL OR last_used <> ?2)"
        ),
        params![id, day],
    )?;
    Ok(())
}

/// A new feed token for a holder, replacing its old one (which stops
/// working at once). Returns the token; only its hash is stored.
pub fn renew_feed(
    conn: &Connection,
    holder: Holder,
    now: DateTime<Utc>,
) -> Result<String, FeedError> {
    let (_, feeds, column, id) = holder.tables();
    let (token, hash) = secret::new_token().map_err(FeedError::Random)?;
    conn.execute(
        &format!("INSERT OR REPLACE INTO {feeds} ({column}, hash, created_at) VALUES (?1, ?2, ?3)"),
        params![id, hash, now.to_rfc3339()],
    )?;
    Ok(token)
}

/// Ends a holder's feed. Returns whether it had one.
pub fn revoke_feed(conn: &Connection, holder: Holder) -> rusqlite::Result<bool> {
    let (_, feeds, column, id) = holder.tables();
    Ok(conn.execute(&format!("DELETE FROM {feeds} WHERE {column} = ?1"), [id])? > 0)
}

/// Whose feed a token is, if anyone's. The token is looked up by its hash
/// (an index lookup on a random 256-bit value: nothing to learn from the
/// time it takes), among applicants' feeds and prosecutors'.
pub fn feed_owner(conn: &Connection, token: &str) -> rusqlite::Result<Option<FeedOwner>> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = secret::token_hash(&token.to_ascii_lowercase());
    let applicant = conn
        .prepare_cached(
            "SELECT a.id, a.email FROM calendar_feeds f JOIN accounts a ON a.id = f.account_id
             WHERE f.hash = ?1",
        )?
        .query_row([&hash], |r| {
            Ok(FeedOwner::Applicant {
                id: r.get(0)?,
                email: r.get(1)?,
            })
        })
        .optional()?;
    if applicant.is_some() {
        return Ok(applicant);
    }
    conn.prepare_cached(
        "SELECT p.id, p.account FROM prosecutor_calendar_feeds f
         JOIN prosecutor_accounts p ON p.id = f.prosecutor_id WHERE f.hash = ?1",
    )?
    .query_row([&hash], |r| {
        Ok(FeedOwner::Prosecutor {
            id: r.get(0)?,
            account: r.get(1)?,
        })
    })
    .optional()
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("random token: {0}")]
    Random(#[source] std::io::Error),
    #[error("accounts: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_is_found_by_its_token_only_until_renewed_or_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::accounts::open(dir.path()).unwrap();
        conn.execute(
            "INSERT INTO accounts (email, created_at) VALUES ('a@example.com', 'x')",
            [],
        )
        .unwrap();
        let id = conn.last_insert_rowid();
        let a = Holder::Applicant(id);
        assert!(reminders_on(&conn, a).unwrap());
        assert!(!set_reminders(&conn, a, false).unwrap());
        assert!(!reminders_on(&conn, a).unwrap());
        assert_eq!(
            reminders_off(&conn).unwrap(),
            BTreeSet::from(["a@example.com".to_string()])
        );
        let owner = Some(FeedOwner::Applicant {
            id,
            email: "a@example.com".into(),
        });
        let now = Utc::now();
        let first = renew_feed(&conn, a, now).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(feed_owner(&conn, &first).unwrap(), owner);
        let stored: Vec<u8> = conn
            .query_row("SELECT hash FROM calendar_feeds", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, first.as_bytes(), "only the hash is stored");
        let second = renew_feed(&conn, a, now).unwrap();
        assert_ne!(first, second);
        assert_eq!(feed_owner(&conn, &first).unwrap(), None);
        assert!(feed_owner(&conn, &second).unwrap().is_some());
        assert!(revoke_feed(&conn, a).unwrap());
        assert_eq!(feed_owner(&conn, &second).unwrap(), None);
        assert_eq!(feed_owner(&conn, "not a token").unwrap(), None);
    }

    #[test]
    fn a_prosecutors_feed_and_reminders_are_their_own_and_reminders_need_an_address() {
        use crate::accounts::prosecutors::{sign_in, Address, Subjects, Via};
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::accounts::open(dir.path()).unwrap();
        let now = Utc::now();
        let p = sign_in(
            &mut conn,
            "tsai.mh",
            "tsai.mh",
            Address::NotVouched,
            (Via::Web, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        let holder = Holder::Prosecutor(p.id);
        assert!(!reminders_on(&conn, holder).unwrap(), "off by default");
        assert!(!set_reminders(&conn, holder, true).unwrap(), "no address");
        let p = sign_in(
            &mut conn,
            "tsai.mh",
            "tsai.mh",
            Address::Verified("a@example.com"),
            (Via::Web, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        assert!(set_reminders(&conn, holder, true).unwrap());
        // An applicant's account with the same id is another holder.
        conn.execute(
            "INSERT INTO accounts (id, email, created_at) VALUES (?1, 'a@example.com', 'x')",
            [p.id],
        )
        .unwrap();
        let token = renew_feed(&conn, holder, now).unwrap();
        assert_eq!(
            feed_owner(&conn, &token).unwrap(),
            Some(FeedOwner::Prosecutor {
                id: p.id,
                account: "tsai.mh".into()
            })
        );
        assert_eq!(feed_status(&conn, Holder::Applicant(p.id)).unwrap(), None);
        // Fetched: the day is kept, once a day; a new token starts unfetched.
        let fetched = |conn: &Connection| feed_status(conn, holder).unwrap().unwrap().last_used;
        assert_eq!(fetched(&conn), None);
        feed_fetched(&conn, holder, "2026-12-03").unwrap();
        feed_fetched(&conn, holder, "2026-12-03").unwrap();
        assert_eq!(fetched(&conn).as_deref(), Some("2026-12-03"));
        feed_fetched(&conn, Holder::Applicant(p.id), "2026-12-04").unwrap();
        assert_eq!(fetched(&conn).as_deref(), Some("2026-12-03"), "another's");
        let token = renew_feed(&conn, holder, now).unwrap();
        assert_eq!(fetched(&conn), None);
        // The reminders' one-click unsubscribe: off for both accounts.
        assert!(stop_reminders(&conn, "a@example.com", true).unwrap());
        assert!(!reminders_on(&conn, holder).unwrap());
        assert!(!reminders_on(&conn, Holder::Applicant(p.id)).unwrap());
        assert!(!stop_reminders(&conn, "a@example.com", true).unwrap());
        // A sign-in without a verified address turns them off.
        assert!(set_reminders(&conn, holder, true).unwrap());
        sign_in(
            &mut conn,
            "tsai.mh",
            "tsai.mh",
            Address::NotVouched,
            (Via::App, Subjects::Public),
            now,
        )
        .unwrap()
        .unwrap();
        assert!(!reminders_on(&conn, holder).unwrap());
        assert!(revoke_feed(&conn, holder).unwrap());
        assert_eq!(feed_owner(&conn, &token).unwrap(), None);
    }
}
