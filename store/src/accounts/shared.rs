//! What every `cpor-server` process on one data directory shares beyond
//! sessions (accounts migrations 6 and 7): throttle events, the captchas
//! already answered, and token buckets (the captcha allowance). The SQL only; the rules (what a count means, how long
//! to wait) are the server's (`query_server::throttle`, `captcha`). The
//! caller makes the transactions: a check and the event it adds must be one
//! IMMEDIATE transaction, so two processes never both pass a limit's last
//! slot.

use rusqlite::{params, Connection};

/// An hour, in milliseconds: what a throttle event counts for.
pub const HOUR_MS: i64 = 3_600_000;

/// Rows `throttle_events` may hold; past it, `sweep` drops the oldest
/// tenth (about 60 bytes a row: some 60 MB at most).
pub const MAX_EVENTS: i64 = 1_000_000;

/// What a throttle event counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The address typed at login (16 bytes of its SHA-256).
    Account,
    /// A client address (an IPv6 /64 is one).
    Ip,
    /// "Forgot password": links asked for an address...
    ForgotAddress,
    /// ...and requests from a client address.
    ForgotClient,
    /// Calendar-feed fetches from a client address.
    Feed,
    /// Failed password checks by a browser the account knows: logins
    /// through a device cookie (16 bytes of its nonce), a signed-in
    /// session's password change (16 bytes of its hash).
    Device,
    /// Password changes through a signed-in session, made (16 bytes of
    /// the SHA-256 of the account's address).
    PasswordChange,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Ip => "ip",
            Scope::ForgotAddress => "forgot_address",
            Scope::ForgotClient => "forgot_client",
            Scope::Feed => "feed",
            Scope::Device => "device",
            Scope::PasswordChange => "password_change",
        }
    }
}

/// The key's events in the hour before `now_ms`, oldest first, at most
/// the newest `limit`.
pub fn recent(
    conn: &Connection,
    scope: Scope,
    key: &[u8],
    now_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<i64>> {
    let mut st = conn.prepare_cached(
        "SELECT at_ms FROM (SELECT at_ms FROM throttle_events
             WHERE scope = ?1 AND key = ?2 AND at_ms > ?3 ORDER BY at_ms DESC LIMIT ?4)
         ORDER BY at_ms",
    )?;
    let rows = st.query_map(
        params![scope.as_str(), key, now_ms - HOUR_MS, limit as i64],
        |r| r.get(0),
    )?;
    rows.collect()
}

/// Adds an event; the key keeps only its newest `keep`. Returns the
/// event's id (to take it back with `remove`).
pub fn add(
    conn: &Connection,
    scope: Scope,
    key: &[u8],
    now_ms: i64,
    keep: usize,
) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO throttle_events (scope, key, at_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![scope.as_str(), key, now_ms])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(
        "DELETE FROM throttle_events WHERE scope = ?1 AND key = ?2 AND id NOT IN
             (SELECT id FROM throttle_events WHERE scope = ?1 AND key = ?2
              ORDER BY at_ms DESC, id DESC LIMIT ?3)",
    )?
    .execute(params![scope.as_str(), key, keep.max(1) as i64])?;
    Ok(id)
}

/// Takes one event back (an attempt that turned out not to count).
pub fn remove(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM throttle_events WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Forgets every event of a key (a successful login clears the account's).
pub fn forget(conn: &Connection, scope: Scope, key: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM throttle_events WHERE scope = ?1 AND key = ?2")?
        .execute(params![scope.as_str(), key])?;
    Ok(())
}

/// Drops events older than an hour; if the events still exceed
/// `MAX_EVENTS`, the oldest tenth. Returns the rows deleted.
pub fn sweep(conn: &Connection, now_ms: i64) -> rusqlite::Result<usize> {
    let n = conn.execute(
        "DELETE FROM throttle_events WHERE at_ms <= ?1",
        [now_ms - HOUR_MS],
    )?;
    Ok(n + drop_oldest_tenth(conn, "throttle_events", MAX_EVENTS)?)
}

/// Past `max` rows, deletes the oldest tenth of `table` (by `at_ms`).
fn drop_oldest_tenth(conn: &Connection, table: &str, max: i64) -> rusqlite::Result<usize> {
    let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    if rows <= max {
        return Ok(0);
    }
    conn.execute(
        &format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} ORDER BY at_ms LIMIT ?1)"
        ),
        [rows / 10],
    )
}

/// How many throttle events are kept (all keys).
pub fn events(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM throttle_events", [], |r| r.get(0))
}

/// Token buckets a table may hold; past it, `sweep_buckets` drops the
/// oldest tenth (a forgotten bucket is a full one: a small gift to a very
/// large attacker, memory bounded).
pub const MAX_BUCKETS: i64 = 200_000;

/// A token bucket: `burst` at once, refilled by `per_ms` a millisecond.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub burst: f64,
    pub per_ms: f64,
}

impl Bucket {
    fn refill(&self, tokens: f64, elapsed_ms: i64) -> f64 {
        (tokens + elapsed_ms.max(0) as f64 * self.per_ms).min(self.burst)
    }
}

/// Takes a token from the bucket (`scope`, `key`) in one IMMEDIATE
/// transaction: `Ok(())`, or `Err(milliseconds until one is there)` with
/// nothing written. A key without a row has a full bucket.
pub fn take_token(
    conn: &mut Connection,
    scope: &str,
    key: &[u8],
    bucket: Bucket,
    now_ms: i64,
) -> rusqlite::Result<Result<(), i64>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<(f64, i64)> = tx
        .prepare_cached("SELECT tokens, at_ms FROM rate_buckets WHERE scope = ?1 AND key = ?2")?
        .query_row(params![scope, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let tokens = match row {
        Some((tokens, at)) => bucket.refill(tokens, now_ms - at),
        None => bucket.burst,
    };
    if tokens < 1.0 {
        let wait = if bucket.per_ms > 0.0 {
            ((1.0 - tokens) / bucket.per_ms).ceil() as i64
        } else {
            HOUR_MS
        };
        return Ok(Err(wait.max(1)));
    }
    tx.prepare_cached(
        "INSERT INTO rate_buckets (scope, key, tokens, at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (scope, key) DO UPDATE SET tokens = excluded.tokens, at_ms = excluded.at_ms",
    )?
    .execute(params![scope, key, tokens - 1.0, now_ms])?;
    tx.commit()?;
    Ok(Ok(()))
}

/// Drops the buckets of `scope` that have refilled by `now_ms` (the same
/// as no row), and past `MAX_BUCKETS` rows the oldest tenth.
pub fn sweep_buckets(
    conn: &Connection,
    scope: &str,
    bucket: Bucket,
    now_ms: i64,
) -> rusqlite::Result<usize> {
    let n = conn.execute(
        "DELETE FROM rate_buckets WHERE scope = ?1 AND tokens + (?2 - at_ms) * ?3 >= ?4",
        params![scope, now_ms, bucket.per_ms, bucket.burst],
    )?;
    Ok(n + drop_oldest_tenth(conn, "rate_buckets", MAX_BUCKETS)?)
}

/// Forgets the captchas expired by `now_ms` (their expiry refuses them).
pub fn sweep_captchas(conn: &Connection, now_ms: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM captchas_used WHERE expires_ms <= ?1", [now_ms])
}

/// Records a captcha's nonce as answered: true the first time, false if
/// any process answered it before (or it has expired).
pub fn spend_captcha(
    conn: &Connection,
    nonce: &[u8],
    expires_ms: i64,
    now_ms: i64,
) -> rusqlite::Result<bool> {
    if expires_ms <= now_ms {
        return Ok(false);
    }
    let added = conn
        .prepare_cached("INSERT OR IGNORE INTO captchas_used (nonce, expires_ms) VALUES (?1, ?2)")?
        .execute(params![nonce, expires_ms])?;
    Ok(added == 1)
}

/// Records a single sign-on flow's seed as finished: true the first time,
/// false if any process finished it before.
pub fn spend_flow(conn: &Connection, seed: &[u8], expires_s: i64) -> rusqlite::Result<bool> {
    let added = conn
        .prepare_cached("INSERT OR IGNORE INTO sso_flows_used (seed, expires_s) VALUES (?1, ?2)")?
        .execute(params![seed, expires_s])?;
    Ok(added == 1)
}

/// Forgets the flows expired by `now_s`.
pub fn sweep_flows(conn: &Connection, now_s: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM sso_flows_used WHERE expires_s < ?1", [now_s])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::accounts::open(dir.path()).unwrap();
        (dir, conn)
    }

    #[test]
    fn events_count_for_an_hour_and_a_key_keeps_its_newest() {
        let (_d, c) = db();
        let t = 10 * HOUR_MS;
        for i in 0..5 {
            add(&c, Scope::Account, b"k", t + i, 3).unwrap();
        }
        add(&c, Scope::Ip, b"k", t, 3).unwrap();
        assert_eq!(
            recent(&c, Scope::Account, b"k", t + 10, 100).unwrap(),
            [t + 2, t + 3, t + 4]
        );
        assert_eq!(
            recent(&c, Scope::Account, b"k", t + 10, 2).unwrap(),
            [t + 3, t + 4]
        );
        assert!(recent(&c, Scope::Account, b"k", t + 2 + HOUR_MS, 100)
            .unwrap()
            .iter()
            .all(|&a| a > t + 2));
        let id = add(&c, Scope::Account, b"other", t, 3).unwrap();
        remove(&c, id).unwrap();
        assert!(recent(&c, Scope::Account, b"other", t, 10)
            .unwrap()
            .is_empty());
        forget(&c, Scope::Account, b"k").unwrap();
        assert!(recent(&c, Scope::Account, b"k", t, 10).unwrap().is_empty());
        assert_eq!(recent(&c, Scope::Ip, b"k", t, 10).unwrap(), [t]);
        assert_eq!(sweep(&c, t + HOUR_MS).unwrap(), 1);
        assert_eq!(events(&c).unwrap(), 0);
    }

    /// However many keys anyone types, the table stays bounded: past its
    /// limit the oldest tenth goes, the newest events stay.
    #[test]
    fn a_full_table_drops_its_oldest_tenth() {
        let (_d, c) = db();
        let t = 10 * HOUR_MS;
        for i in 0..25i64 {
            add(&c, Scope::Ip, &i.to_le_bytes(), t + i, 3).unwrap();
        }
        assert_eq!(drop_oldest_tenth(&c, "throttle_events", 25).unwrap(), 0);
        add(&c, Scope::Ip, b"new", t + 100, 3).unwrap();
        assert_eq!(drop_oldest_tenth(&c, "throttle_events", 25).unwrap(), 2);
        assert_eq!(events(&c).unwrap(), 24);
        for (i, kept) in [(0i64, false), (1, false), (2, true), (24, true)] {
            let left = recent(&c, Scope::Ip, &i.to_le_bytes(), t + 100, 10).unwrap();
            assert_eq!(!left.is_empty(), kept, "event {i}");
        }
        assert_eq!(
            recent(&c, Scope::Ip, b"new", t + 100, 10).unwrap(),
            [t + 100]
        );
    }

    /// Migration 7 rebuilds `throttle_events` for the `device` scope: a
    /// data directory upgraded while counting keeps its counts.
    #[test]
    fn migration_7_keeps_the_throttle_events_and_takes_device_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::accounts::ACCOUNTS_DB);
        let six = &schemas::ACCOUNTS_MIGRATIONS[..6];
        let old = schemas::open_migrated(&path, six).unwrap();
        let t = 10 * HOUR_MS;
        add(&old, Scope::Ip, b"k", t, 10).unwrap();
        add(&old, Scope::Account, b"a", t + 1, 10).unwrap();
        assert!(add(&old, Scope::Device, b"n", t, 10).is_err(), "not yet");
        drop(old);
        let c = crate::accounts::open(dir.path()).unwrap();
        assert_eq!(recent(&c, Scope::Ip, b"k", t + 5, 10).unwrap(), [t]);
        assert_eq!(
            recent(&c, Scope::Account, b"a", t + 5, 10).unwrap(),
            [t + 1]
        );
        add(&c, Scope::Device, b"n", t + 2, 10).unwrap();
        assert_eq!(events(&c).unwrap(), 3);
    }

    #[test]
    fn a_bucket_is_shared_by_every_connection_and_refills() {
        let (d, mut a) = db();
        let mut b = crate::accounts::open(d.path()).unwrap();
        // 3 at once, then one a second.
        let bucket = Bucket {
            burst: 3.0,
            per_ms: 0.001,
        };
        let t = 10 * HOUR_MS;
        let taken = (0..6)
            .filter(|i| {
                let c = if i % 2 == 0 { &mut a } else { &mut b };
                take_token(c, "captcha", b"k", bucket, t).unwrap().is_ok()
            })
            .count();
        assert_eq!(taken, 3);
        assert_eq!(
            take_token(&mut a, "captcha", b"k", bucket, t).unwrap(),
            Err(1000)
        );
        assert_eq!(
            take_token(&mut b, "captcha", b"other", bucket, t).unwrap(),
            Ok(())
        );
        assert_eq!(
            take_token(&mut b, "captcha", b"k", bucket, t + 1000).unwrap(),
            Ok(())
        );
        assert!(take_token(&mut a, "captcha", b"k", bucket, t + 1000)
            .unwrap()
            .is_err());
        // Refilled: the same as no row, swept.
        assert_eq!(sweep_buckets(&a, "captcha", bucket, t + 3000).unwrap(), 1);
        assert_eq!(sweep_buckets(&a, "captcha", bucket, t + 4000).unwrap(), 1);
    }

    #[test]
    fn a_captcha_is_spent_once_on_any_connection() {
        let (d, a) = db();
        let b = crate::accounts::open(d.path()).unwrap();
        assert!(spend_captcha(&a, &[1; 16], 2_000, 1_000).unwrap());
        assert!(!spend_captcha(&b, &[1; 16], 2_000, 1_500).unwrap());
        assert!(
            !spend_captcha(&b, &[2; 16], 2_000, 2_000).unwrap(),
            "expired"
        );
        assert_eq!(sweep_captchas(&a, 2_000).unwrap(), 1);
        let n: i64 = b
            .query_row("SELECT count(*) FROM captchas_used", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
