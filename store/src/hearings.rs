//! What an account says about hearings (`schemas/accounts/0005_hearings.sql`):
//! reminders on or off, and its private calendar feed, of which only the
//! token's SHA-256 is kept. (Its own file, beside `accounts`, so the
//! hearings feature stays in one place.)

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::secret;

/// Whether an account gets hearing reminders (an unknown account: yes).
pub fn reminders_on(conn: &Connection, account_id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT reminders FROM accounts WHERE id = ?1",
            [account_id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_none_or(|v| v == 1))
}

pub fn set_reminders(conn: &Connection, account_id: i64, on: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET reminders = ?2 WHERE id = ?1",
        params![account_id, on as i64],
    )?;
    Ok(())
}

/// The addresses that turned reminders off.
pub fn reminders_off(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT email FROM accounts WHERE reminders = 0")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// When an account's feed was made, if it has one.
pub fn feed_created(conn: &Connection, account_id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT created_at FROM calendar_feeds WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    )
    .optional()
}

/// A new feed token for an account, replacing its old one (which stops
/// working at once). Returns the token; only its hash is stored.
pub fn renew_feed(
    conn: &Connection,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<String, FeedError> {
    let (token, hash) = secret::new_token().map_err(FeedError::Random)?;
    conn.execute(
        "INSERT OR REPLACE INTO calendar_feeds (account_id, hash, created_at) VALUES (?1, ?2, ?3)",
        params![account_id, hash, now.to_rfc3339()],
    )?;
    Ok(token)
}

/// Ends an account's feed. Returns whether it had one.
pub fn revoke_feed(conn: &Connection, account_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM calendar_feeds WHERE account_id = ?1",
        [account_id],
    )? > 0)
}

/// The account (id, address) a feed token belongs to, if any. The token
/// is looked up by its hash (an index lookup on a random 256-bit value:
/// nothing to learn from the time it takes).
pub fn feed_owner(conn: &Connection, token: &str) -> rusqlite::Result<Option<(i64, String)>> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    conn.prepare_cached(
        "SELECT a.id, a.email FROM calendar_feeds f JOIN accounts a ON a.id = f.account_id
         WHERE f.hash = ?1",
    )?
    .query_row([secret::token_hash(&token.to_ascii_lowercase())], |r| {
        Ok((r.get(0)?, r.get(1)?))
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
        assert!(reminders_on(&conn, id).unwrap());
        set_reminders(&conn, id, false).unwrap();
        assert!(!reminders_on(&conn, id).unwrap());
        assert_eq!(
            reminders_off(&conn).unwrap(),
            BTreeSet::from(["a@example.com".to_string()])
        );
        let now = Utc::now();
        let first = renew_feed(&conn, id, now).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(
            feed_owner(&conn, &first).unwrap(),
            Some((id, "a@example.com".into()))
        );
        let stored: Vec<u8> = conn
            .query_row("SELECT hash FROM calendar_feeds", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, first.as_bytes(), "only the hash is stored");
        let second = renew_feed(&conn, id, now).unwrap();
        assert_ne!(first, second);
        assert_eq!(feed_owner(&conn, &first).unwrap(), None);
        assert!(feed_owner(&conn, &second).unwrap().is_some());
        assert!(revoke_feed(&conn, id).unwrap());
        assert_eq!(feed_owner(&conn, &second).unwrap(), None);
        assert_eq!(feed_owner(&conn, "not a token").unwrap(), None);
    }
}
