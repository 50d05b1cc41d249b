//! Throttling of failed attempts, per account and per client address.
//!
//! Per account (keyed by the address typed, whether or not an account has
//! it, so a 429 says nothing about existence): after `slow_after` failures
//! in the last hour each attempt must wait 2^(n − slow_after) seconds
//! (at most 15 minutes) after the previous failure; after
//! `max_per_hour` failures every attempt is refused until the hour has
//! passed. Per client address (`http::client_key`: an IPv6 /64 is one):
//! `ip_per_hour` failures an hour. Refusals are 429 with Retry-After.
//!
//! The counters are shared by every server process on the data directory:
//! they are rows of the accounts database (`store::accounts::shared`,
//! accounts migration 6), timed by the wall clock. A login is an
//! `attempt`: the check and the attempt's own event are one IMMEDIATE
//! transaction, so the 100th slot of the hour goes to one attempt, on
//! whichever process, however many run at once; the event is taken back
//! if the attempt turns out not to count (a wrong captcha counts against
//! the client address only; a success clears the account's failures).
//!
//! A login through a device cookie (`device`) is counted against the
//! device alone: at most `device_per_hour` failures, then its logins are
//! strangers' again.
//!
//! Storage is bounded whoever types what: a typed address is kept as 16
//! bytes of its SHA-256, not as typed; each key keeps at most its limit of
//! events; events leave after the hour (swept every minute), and the table
//! holds at most `store::accounts::shared::MAX_EVENTS` rows.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::http::client_key;
use store::accounts::shared::{self, Scope, HOUR_MS};

const MAX_DELAY_MS: i64 = 15 * 60 * 1000;

/// Links mailed per address per hour, and requests per IP per hour: past
/// these, "forgot password" still answers the same but mails nothing.
pub const FORGOT_PER_ADDRESS: usize = 5;
pub const FORGOT_PER_IP: usize = 30;

/// Milliseconds since 1970: the throttle's clock, the same in every
/// process.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A typed address, as the table (and a device cookie) keeps it.
pub fn address(typed: &str) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&Sha256::digest(typed.as_bytes())[..16]);
    a
}

/// A client address as the table keeps it (an IPv6 /64 is one).
fn client(ip: IpAddr) -> Vec<u8> {
    match client_key(ip) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// What a calendar-feed fetch counts against (`Throttle::feed`).
#[derive(Debug, Clone, Copy)]
pub enum FeedFetch {
    /// A token that names a feed: that feed's account (a prosecutor's or
    /// an applicant's, by id), whatever the client. Calendar services fetch
    /// every subscriber's feed from a few addresses of their own; a count
    /// per address would cut all of them off.
    Known { prosecutor: bool, account: i64 },
    /// Any other token: the client address, so junk stays cheap.
    Unknown(IpAddr),
}

pub struct Throttle {
    conn: Mutex<Connection>,
    max_per_hour: usize,
    slow_after: usize,
    ip_per_hour: usize,
    device_per_hour: usize,
}

/// Why an attempt was not counted, and so not to be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Past a limit: seconds to wait.
    Wait(u64),
    /// The count could not be written: the server's failure.
    Unavailable,
}

/// A login under way: its events, counted already.
#[derive(Debug)]
pub struct Attempt {
    account: String,
    /// The account's event (a stranger's attempt) or the device's.
    event: i64,
    /// The client address's event (a stranger's attempt only).
    ip_event: Option<i64>,
    /// The device cookie's nonce (a known device's attempt).
    device: Option<[u8; 16]>,
}

/// Seconds to wait until `t_ms` (at least 1).
fn wait_until(t_ms: i64, now: i64) -> u64 {
    (((t_ms - now).max(0) as u64).div_ceil(1000)).max(1)
}

/// Password changes an account may make an hour through a signed-in
/// session (a reset through a mailed link is never limited by them).
pub const CHANGES_PER_HOUR: usize = 3;

/// Within the transaction that changes `account`'s password: counts the
/// change, committed with it, or the seconds to wait when the account has
/// had its [`CHANGES_PER_HOUR`] (whoever knew the password changed it many
/// times a second, mailing a notice each time).
pub fn count_change(
    conn: &rusqlite::Connection,
    account: &str,
    now: i64,
) -> rusqlite::Result<Result<(), u64>> {
    let key = address(account);
    let q = shared::recent(conn, Scope::PasswordChange, &key, now, CHANGES_PER_HOUR)?;
    if q.len() >= CHANGES_PER_HOUR {
        return Ok(Err(wait_until(q[0] + HOUR_MS, now)));
    }
    shared::add(conn, Scope::PasswordChange, &key, now, CHANGES_PER_HOUR)?;
    Ok(Ok(()))
}

impl Throttle {
    /// Counters in the accounts database behind `conn` (its own
    /// connection: commits here need no fsync, a lost counter after a power
    /// failure costs nothing).
    pub fn new(
        conn: Connection,
        max_per_hour: u64,
        slow_after: u64,
        ip_per_hour: u64,
    ) -> rusqlite::Result<Throttle> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Throttle {
            conn: Mutex::new(conn),
            max_per_hour: max_per_hour.max(1) as usize,
            slow_after: slow_after as usize,
            ip_per_hour: ip_per_hour.max(1) as usize,
            device_per_hour: 5,
        })
    }

    /// Failed logins a device cookie may have in an hour (default 5)
    /// before its logins count as strangers' again.
    pub fn with_device_failures(mut self, per_hour: u64) -> Throttle {
        self.device_per_hour = per_hour.max(1) as usize;
        self
    }

    fn ip_wait(&self, conn: &Connection, ip: IpAddr, now: i64) -> rusqlite::Result<Option<u64>> {
        let q = shared::recent(conn, Scope::Ip, &client(ip), now, self.ip_per_hour)?;
        Ok((q.len() >= self.ip_per_hour).then(|| wait_until(q[0] + HOUR_MS, now)))
    }

    fn account_wait(
        &self,
        conn: &Connection,
        account: &str,
        now: i64,
    ) -> rusqlite::Result<Option<u64>> {
        let q = shared::recent(
            conn,
            Scope::Account,
            &address(account),
            now,
            self.max_per_hour,
        )?;
        let n = q.len();
        if n >= self.max_per_hour {
            return Ok(Some(wait_until(q[n - self.max_per_hour] + HOUR_MS, now)));
        }
        // With `slow_after = 0` the first failure already slows; before
        // any failure there is nothing to wait for.
        if let (true, Some(&last)) = (n >= self.slow_after, q.last()) {
            let exp = (n - self.slow_after).min(16) as u32;
            let delay = (1000i64 << exp).min(MAX_DELAY_MS);
            if now < last + delay {
                return Ok(Some(wait_until(last + delay, now)));
            }
        }
        Ok(None)
    }

    /// `Some(seconds to wait)` when the client address has failed too
    /// often (a made-up link, before it is looked up).
    pub fn check_ip(&self, ip: IpAddr, now: i64) -> Option<u64> {
        let conn = self.conn.lock().expect("throttle");
        self.ip_wait(&conn, ip, now).unwrap_or_else(|e| {
            tracing::error!("throttle: {e}");
            None
        })
    }

    /// `Some(seconds to wait)` when an attempt must be refused now.
    pub fn check(&self, account: &str, ip: IpAddr, now: i64) -> Option<u64> {
        let conn = self.conn.lock().expect("throttle");
        self.ip_wait(&conn, ip, now)
            .and_then(|w| match w {
                Some(w) => Ok(Some(w)),
                None => self.account_wait(&conn, account, now),
            })
            .unwrap_or_else(|e| {
                tracing::error!("throttle: {e}");
                None
            })
    }

    /// A login attempt: refused (`Refused::Wait(seconds)`), or counted at
    /// once as a failure of the account and the client address, in the
    /// same transaction as the check. The attempt then ends with
    /// `captcha_failed`, `succeeded`, or nothing (a failure: it stays
    /// counted). When the database cannot be written the attempt is
    /// refused (`Refused::Unavailable`): a limit that could not be counted
    /// does not hold.
    pub fn attempt(&self, account: &str, ip: IpAddr, now: i64) -> Result<Attempt, Refused> {
        let mut conn = self.conn.lock().expect("throttle");
        let run = |conn: &mut Connection| -> rusqlite::Result<Result<Attempt, u64>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(wait) = self.ip_wait(&tx, ip, now)? {
                return Ok(Err(wait));
            }
            if let Some(wait) = self.account_wait(&tx, account, now)? {
                return Ok(Err(wait));
            }
            let account_event = shared::add(
                &tx,
                Scope::Account,
                &address(account),
                now,
                self.max_per_hour,
            )?;
            let ip_event = shared::add(&tx, Scope::Ip, &client(ip), now, self.ip_per_hour)?;
            tx.commit()?;
            Ok(Ok(Attempt {
                account: account.to_string(),
                event: account_event,
                ip_event: Some(ip_event),
                device: None,
            }))
        };
        match run(&mut conn) {
            Ok(counted) => counted.map_err(Refused::Wait),
            Err(e) => {
                tracing::error!("throttle: counting a login attempt: {e}");
                Err(Refused::Unavailable)
            }
        }
    }

    /// A login through a valid device cookie (`nonce`) for `account`:
    /// counted at once as a failure of the device alone — neither the
    /// account's nor the client address's limits apply, so strangers
    /// failing at an account or from a shared address lock its owner's
    /// known browser out of neither. `None` when the device has failed
    /// `device_per_hour` times in the hour (or the count could not be
    /// written): the login is then a stranger's.
    pub fn device_attempt(&self, account: &str, nonce: [u8; 16], now: i64) -> Option<Attempt> {
        self.known_attempt(account, nonce, now)
            .map_err(|e| tracing::error!("throttle: counting a device's login attempt: {e}"))
            .ok()?
            .ok()
    }

    /// A signed-in session's check of its account's current password (a
    /// password change; `session`: 16 bytes of the session's hash),
    /// counted at once as a failure of that session alone, as a device
    /// cookie's login is: `device_per_hour` an hour, so whoever holds a
    /// session gets a few guesses and cannot fill the known browsers'
    /// hashing lane with them. `Refused::Wait` past it, `Unavailable` when
    /// the count could not be written (a limit that could not be counted
    /// does not hold). The key shares the device cookies' scope: both are
    /// a browser the account knows, and a nonce and a hash are random.
    pub fn session_attempt(
        &self,
        account: &str,
        session: [u8; 16],
        now: i64,
    ) -> Result<Attempt, Refused> {
        match self.known_attempt(account, session, now) {
            Ok(counted) => counted.map_err(Refused::Wait),
            Err(e) => {
                tracing::error!("throttle: counting a password check: {e}");
                Err(Refused::Unavailable)
            }
        }
    }

    fn known_attempt(
        &self,
        account: &str,
        key: [u8; 16],
        now: i64,
    ) -> rusqlite::Result<Result<Attempt, u64>> {
        let mut conn = self.conn.lock().expect("throttle");
        let limit = self.device_per_hour;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let q = shared::recent(&tx, Scope::Device, &key, now, limit)?;
        if q.len() >= limit {
            return Ok(Err(wait_until(q[0] + HOUR_MS, now)));
        }
        let event = shared::add(&tx, Scope::Device, &key, now, limit)?;
        tx.commit()?;
        Ok(Ok(Attempt {
            account: account.to_string(),
            event,
            ip_event: None,
            device: Some(key),
        }))
    }

    /// The attempt's captcha was wrong: a failure of the client address
    /// only (the account's or device's event is taken back).
    pub fn captcha_failed(&self, attempt: Attempt) {
        let conn = self.conn.lock().expect("throttle");
        if let Err(e) = shared::remove(&conn, attempt.event) {
            tracing::error!("throttle: {e}");
        }
    }

    /// The attempt was not checked (the hashing threads were too busy):
    /// it counts against no one.
    pub fn not_checked(&self, attempt: Attempt) {
        let conn = self.conn.lock().expect("throttle");
        let done = shared::remove(&conn, attempt.event).and_then(|()| {
            attempt
                .ip_event
                .map_or(Ok(()), |e| shared::remove(&conn, e))
        });
        if let Err(e) = done {
            tracing::error!("throttle: {e}");
        }
    }

    /// The attempt succeeded: the account's (and the device's) failures
    /// are forgotten, and the attempt is no failure of the client address.
    pub fn succeeded(&self, attempt: Attempt) {
        let conn = self.conn.lock().expect("throttle");
        let mut done = shared::forget(&conn, Scope::Account, &address(&attempt.account));
        if let Some(e) = attempt.ip_event {
            done = done.and_then(|()| shared::remove(&conn, e));
        }
        if let Some(nonce) = attempt.device {
            done = done.and_then(|()| shared::forget(&conn, Scope::Device, &nonce));
        }
        if let Err(e) = done {
            tracing::error!("throttle: {e}");
        }
    }

    /// Records a failed attempt (a wrong captcha, a link that opens
    /// nothing) outside a login.
    pub fn failed(&self, account: Option<&str>, ip: IpAddr, now: i64) {
        let conn = self.conn.lock().expect("throttle");
        let mut done = shared::add(&conn, Scope::Ip, &client(ip), now, self.ip_per_hour).map(drop);
        if let Some(a) = account {
            done = done.and_then(|()| {
                shared::add(&conn, Scope::Account, &address(a), now, self.max_per_hour).map(drop)
            });
        }
        if let Err(e) = done {
            tracing::error!("throttle: {e}");
        }
    }

    /// "Forgot password": whether a link may be mailed to `email` for the
    /// client at `ip` (at most `FORGOT_PER_ADDRESS` an hour per address,
    /// `FORGOT_PER_IP` per client), counting it if so — one transaction,
    /// shared by every process. An error when it could not be counted
    /// (nothing is mailed, and the page must not say a link went).
    pub fn forgot(&self, email: &str, ip: IpAddr, now: i64) -> Result<bool, Refused> {
        let mut conn = self.conn.lock().expect("throttle");
        let (a, c) = (address(email), client(ip));
        let run = |conn: &mut Connection| -> rusqlite::Result<bool> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let full = |scope, key: &[u8], limit: usize| {
                shared::recent(&tx, scope, key, now, limit).map(|q| q.len() >= limit)
            };
            if full(Scope::ForgotAddress, &a, FORGOT_PER_ADDRESS)?
                || full(Scope::ForgotClient, &c, FORGOT_PER_IP)?
            {
                return Ok(false);
            }
            shared::add(&tx, Scope::ForgotAddress, &a, now, FORGOT_PER_ADDRESS)?;
            shared::add(&tx, Scope::ForgotClient, &c, now, FORGOT_PER_IP)?;
            tx.commit()?;
            Ok(true)
        };
        run(&mut conn).map_err(|e| {
            tracing::error!("throttle: forgot password: {e}");
            Refused::Unavailable
        })
    }

    /// A calendar-feed fetch: counted against what `fetch` says, or
    /// refused (`Some(seconds to wait)`) past `per_hour` in the last hour,
    /// in one transaction shared by every process. A database that cannot
    /// be written lets the fetch through (logged): the feed's token is the
    /// credential, the limit only keeps a looping subscription cheap.
    pub fn feed(&self, fetch: FeedFetch, per_hour: usize, now: i64) -> Option<u64> {
        let mut conn = self.conn.lock().expect("throttle");
        let key = match fetch {
            // A kind byte and the id: 9 bytes, never a client address's 4
            // or 16.
            FeedFetch::Known {
                prosecutor,
                account,
            } => [
                &[if prosecutor { b'p' } else { b'a' }][..],
                &account.to_be_bytes(),
            ]
            .concat(),
            FeedFetch::Unknown(ip) => client(ip),
        };
        let run = |conn: &mut Connection| -> rusqlite::Result<Option<u64>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let q = shared::recent(&tx, Scope::Feed, &key, now, per_hour)?;
            if q.len() >= per_hour {
                return Ok(Some(wait_until(q[0] + HOUR_MS, now)));
            }
            shared::add(&tx, Scope::Feed, &key, now, per_hour)?;
            tx.commit()?;
            Ok(None)
        };
        run(&mut conn).unwrap_or_else(|e| {
            tracing::error!("throttle: a calendar feed fetch: {e}");
            None
        })
    }

    /// Drops events older than an hour and expired captchas (called every
    /// minute by the sweeper).
    pub fn sweep(&self, now: i64) {
        let conn = self.conn.lock().expect("throttle");
        if let Err(e) = shared::sweep(&conn, now) {
            tracing::error!("throttle: sweeping: {e}");
        }
    }

    /// Events kept, all keys and processes together.
    pub fn events(&self) -> i64 {
        shared::events(&self.conn.lock().expect("throttle")).unwrap_or(-1)
    }
}

/// The slowest a login may be made to wait between failures.
pub const MAX_DELAY: Duration = Duration::from_millis(MAX_DELAY_MS as u64);

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = HOUR_MS;

    fn throttle(dir: &tempfile::TempDir, max: u64, slow: u64, ip: u64) -> Throttle {
        Throttle::new(store::accounts::open(dir.path()).unwrap(), max, slow, ip).unwrap()
    }

    fn fail(t: &Throttle, account: &str, ip: IpAddr, now: i64) {
        t.attempt(account, ip, now).expect("not refused");
    }

    #[test]
    fn delays_grow_after_ten_failures_and_stop_at_a_hundred() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 100, 10, 100_000);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let start = 100 * HOUR;
        for i in 0..10 {
            assert_eq!(t.check("a@b.tw", ip, start), None, "attempt {i}");
            fail(&t, "a@b.tw", ip, start);
        }
        // The 11th attempt right away waits 1 s; after it, it may go.
        assert_eq!(t.check("a@b.tw", ip, start), Some(1));
        assert_eq!(
            t.attempt("a@b.tw", ip, start).unwrap_err(),
            Refused::Wait(1)
        );
        assert_eq!(t.check("a@b.tw", ip, start + 1000), None);
        // Another address is not affected.
        assert_eq!(t.check("c@d.tw", ip, start), None);
        let mut now = start;
        for _ in 10..100 {
            now += 30_000;
            t.failed(Some("a@b.tw"), ip, now);
        }
        // 100 failures in the hour: refused until the first leaves the hour.
        let wait = t.check("a@b.tw", ip, now).expect("refused");
        assert!(wait > 0);
        assert!(t.attempt("a@b.tw", ip, now + 60_000).is_err());
        assert_eq!(t.check("a@b.tw", ip, start + HOUR + MAX_DELAY_MS * 2), None);
    }

    #[test]
    fn with_slow_after_zero_an_hour_old_failure_does_not_break_logins() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 100, 0, 1000);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let start = 100 * HOUR;
        t.failed(Some("a@b.tw"), ip, start);
        assert_eq!(t.check("a@b.tw", ip, start), Some(2));
        let later = start + HOUR + 1000;
        assert_eq!(t.check("a@b.tw", ip, later), None);
        assert_eq!(t.check("a@b.tw", ip, later), None);
    }

    /// Issue 15: two processes (two connections here, two server
    /// processes in tests/server/scale.rs) count into the same hour.
    #[test]
    fn two_throttles_on_one_data_directory_share_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let (one, two) = (throttle(&d, 10, 100, 1000), throttle(&d, 10, 100, 1000));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = 100 * HOUR;
        let passed = (0..30)
            .filter(|i| {
                let t = if i % 2 == 0 { &one } else { &two };
                t.attempt("a@b.tw", ip, now + i).is_ok()
            })
            .count();
        assert_eq!(passed, 10);
        assert!(one.check("a@b.tw", ip, now + 100).is_some());
        // A success on one clears the account on both.
        let d2 = tempfile::tempdir().unwrap();
        let (one, two) = (throttle(&d2, 10, 1, 1000), throttle(&d2, 10, 1, 1000));
        fail(&one, "x@b.tw", ip, now);
        fail(&two, "x@b.tw", ip, now + 5_000);
        assert!(one.check("x@b.tw", ip, now + 6_000).is_some());
        let a = two.attempt("x@b.tw", ip, now + 10_000).unwrap();
        two.succeeded(a);
        assert_eq!(one.check("x@b.tw", ip, now + 10_001), None);
    }

    #[test]
    fn a_wrong_captcha_counts_against_the_client_only() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 3, 100, 5);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = 100 * HOUR;
        for i in 0..5 {
            let a = t.attempt(&format!("u{i}@b.tw"), ip, now).unwrap();
            t.captcha_failed(a);
        }
        assert!(t.check_ip(ip, now).is_some(), "the client's limit");
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(t.check("u0@b.tw", other, now), None, "no account's");
    }

    /// The finding of issue 12: typed addresses were kept as typed (up to
    /// 16 KB). They are 16 bytes each, and a key keeps at most its limit.
    #[test]
    fn addresses_typed_by_anyone_take_bounded_room() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 100, 10, 300);
        let now = 100 * HOUR;
        let huge = "x".repeat(16 * 1024);
        for i in 0..64u32 {
            let ip = IpAddr::from([10, 0, 0, i as u8]);
            t.failed(Some(&format!("{i}{huge}@example.com")), ip, now);
            t.forgot(&format!("{i}{huge}@example.com"), ip, now)
                .unwrap();
        }
        let conn = store::accounts::open(d.path()).unwrap();
        let longest: i64 = conn
            .query_row("SELECT max(length(key)) FROM throttle_events", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(longest, 16);
        let ip = IpAddr::from([10, 0, 1, 1]);
        for i in 0..400 {
            t.failed(Some("one@example.com"), ip, now + i);
        }
        let per: Vec<i64> = conn
            .prepare("SELECT count(*) FROM throttle_events GROUP BY scope, key ORDER BY 1 DESC")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(per[..2], [300, 100], "ip and account, each at its limit");
        t.sweep(now + HOUR + 1000);
        assert_eq!(t.events(), 0);
    }

    #[test]
    fn a_device_fails_a_few_times_past_every_other_limit_and_no_more() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 2, 100, 2).with_device_failures(3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = 100 * HOUR;
        for _ in 0..2 {
            fail(&t, "a@b.tw", ip, now);
        }
        assert!(t.attempt("a@b.tw", ip, now).is_err(), "strangers: locked");
        let (mine, stolen) = ([1u8; 16], [2u8; 16]);
        for i in 0..3 {
            assert!(t.device_attempt("a@b.tw", stolen, now).is_some(), "{i}");
        }
        assert!(t.device_attempt("a@b.tw", stolen, now).is_none());
        // The owner's own device is another key; its success clears it.
        let a = t.device_attempt("a@b.tw", mine, now).unwrap();
        t.succeeded(a);
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(t.check("a@b.tw", other, now), None, "the account cleared");
        assert!(t.check_ip(ip, now).is_some(), "not the address");
        assert!(t.device_attempt("a@b.tw", stolen, now + HOUR).is_some());
    }

    #[test]
    fn a_session_checks_a_few_current_passwords_an_hour_and_is_told_how_long_to_wait() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 100, 100, 100).with_device_failures(2);
        let now = 100 * HOUR;
        let (guessing, other) = ([7u8; 16], [8u8; 16]);
        for i in 0..2 {
            assert!(
                t.session_attempt("a@b.tw", guessing, now + i).is_ok(),
                "{i}"
            );
        }
        assert_eq!(
            t.session_attempt("a@b.tw", guessing, now + 10).unwrap_err(),
            Refused::Wait(3600)
        );
        assert_eq!(
            t.session_attempt("a@b.tw", guessing, now + HOUR - 1000)
                .unwrap_err(),
            Refused::Wait(1),
            "the first wrong one leaves the hour"
        );
        // Another session has its own; its right one clears the account.
        t.failed(Some("a@b.tw"), "10.0.0.1".parse().unwrap(), now);
        t.succeeded(t.session_attempt("a@b.tw", other, now).unwrap());
        assert_eq!(t.check("a@b.tw", "10.0.0.2".parse().unwrap(), now), None);
        assert!(t
            .session_attempt("a@b.tw", guessing, now + HOUR + 1)
            .is_ok());
    }

    #[test]
    fn an_ip_is_limited_across_accounts() {
        let d = tempfile::tempdir().unwrap();
        let t = throttle(&d, 100, 10, 5);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = 100 * HOUR;
        for i in 0..5 {
            t.failed(Some(&format!("u{i}@b.tw")), ip, now);
        }
        assert!(t.check("new@b.tw", ip, now).is_some());
        assert!(t
            .check("new@b.tw", "10.0.0.2".parse().unwrap(), now)
            .is_none());
        // An IPv6 client is its /64.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for i in 0..5 {
            t.failed(None, v6(&format!("2001:db8:1:2::{i}")), now);
        }
        assert!(t.check_ip(v6("2001:db8:1:2:ffff::9"), now).is_some());
        assert!(t.check_ip(v6("2001:db8:1:3::1"), now).is_none());
    }

    #[test]
    fn a_feed_and_a_client_with_unknown_tokens_may_fetch_sixty_times_an_hour_on_any_process() {
        let d = tempfile::tempdir().unwrap();
        let (one, two) = (throttle(&d, 100, 10, 300), throttle(&d, 100, 10, 300));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let start = 100 * HOUR;
        let unknown = |ip: IpAddr| FeedFetch::Unknown(ip);
        for i in 0..60 {
            let t = if i % 2 == 0 { &one } else { &two };
            assert_eq!(t.feed(unknown(ip), 60, start), None, "fetch {i}");
        }
        let wait = two
            .feed(unknown(ip), 60, start)
            .expect("the 61st is refused");
        assert!(wait > 3500 && wait <= 3600, "{wait}");
        assert_eq!(
            one.feed(unknown("192.0.2.2".parse().unwrap()), 60, start),
            None
        );
        assert_eq!(
            one.feed(unknown(ip), 60, start + HOUR),
            None,
            "an hour later, again"
        );
        // A known feed counts by itself, not by the address it came from.
        let mine = FeedFetch::Known {
            prosecutor: false,
            account: 7,
        };
        for i in 0..60 {
            assert_eq!(one.feed(mine, 60, start), None, "feed fetch {i}");
        }
        assert!(two.feed(mine, 60, start).is_some(), "the feed's 61st");
        let theirs = FeedFetch::Known {
            prosecutor: true,
            account: 7,
        };
        assert_eq!(two.feed(theirs, 60, start), None, "another feed");
    }

    #[test]
    fn forgot_password_mails_five_links_an_address_an_hour() {
        let d = tempfile::tempdir().unwrap();
        let (one, two) = (throttle(&d, 100, 10, 300), throttle(&d, 100, 10, 300));
        let now = 100 * HOUR;
        let sent = (0..10)
            .filter(|i| {
                let ip = IpAddr::from([10, 0, 0, *i as u8]);
                let t = if i % 2 == 0 { &one } else { &two };
                t.forgot("a@b.tw", ip, now + i64::from(*i)).unwrap()
            })
            .count();
        assert_eq!(sent, FORGOT_PER_ADDRESS);
        assert!(one
            .forgot("a@b.tw", IpAddr::from([10, 0, 0, 1]), now + HOUR)
            .unwrap());
    }
}
