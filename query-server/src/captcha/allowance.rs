//! How many captchas one client address may make: a token bucket per
//! address (an IPv6 address counts as its /64), `burst` at once and then
//! `per_minute`.
//!
//! Behind a trait, like the used set: the server keeps the buckets in the
//! accounts database (`SqliteAllowance`), shared by every process on the
//! data directory, since per process N processes behind one proxy gave a
//! client N times the burst; `MemoryAllowance` is one process's alone.
//!
//! A refusal writes nothing, and is remembered in memory until the bucket
//! holds a token again: no process can add tokens to a bucket before time
//! does, so that moment is exact, and a flood from one address is refused
//! without touching the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use rusqlite::Connection;

use crate::http::client_key;
use crate::rate::{Client, Limiter, Rate, RateLimited, MAX_CLIENTS};
use store::accounts::shared::{self, Bucket};

/// Captchas an address may make at once, and refilled per minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_minute: u32,
}

impl Default for RateLimit {
    /// A person reloads the login page and asks for new pictures a few
    /// times; an office behind one address has several people. Twenty at
    /// once and ten a minute after that is room for both, and 100,000
    /// captchas take one address about a week instead of seven seconds.
    fn default() -> Self {
        RateLimit {
            burst: 20,
            per_minute: 10,
        }
    }
}

/// Where the captcha allowance is kept.
pub trait Allowance: Send + Sync {
    /// Takes one captcha from `ip`'s allowance, or says how long to wait.
    fn take(&self, ip: IpAddr) -> Result<(), RateLimited>;

    /// Forgets the buckets that have refilled (call now and then).
    fn sweep(&self);
}

/// One process's allowance, in memory.
pub struct MemoryAllowance(Limiter);

impl MemoryAllowance {
    pub fn new(limit: RateLimit) -> MemoryAllowance {
        MemoryAllowance(Limiter::new(
            Rate::per_minute(limit.burst, limit.per_minute),
            MAX_CLIENTS,
        ))
    }
}

impl Allowance for MemoryAllowance {
    fn take(&self, ip: IpAddr) -> Result<(), RateLimited> {
        self.0.take(ip, Instant::now())
    }

    fn sweep(&self) {
        self.0.sweep(Instant::now());
    }
}

/// The allowance in the accounts database, shared by every process.
pub struct SqliteAllowance {
    conn: Mutex<Connection>,
    bucket: Bucket,
    /// Addresses refused, until when (ms since 1970): no need to ask the
    /// database before then.
    empty: Mutex<HashMap<Client, i64>>,
}

const SCOPE: &str = "captcha";

impl SqliteAllowance {
    /// The allowance on its own connection (commits need no fsync: a lost
    /// bucket after a power failure is a full one).
    pub fn new(conn: Connection, limit: RateLimit) -> rusqlite::Result<SqliteAllowance> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(SqliteAllowance {
            conn: Mutex::new(conn),
            bucket: Bucket {
                burst: f64::from(limit.burst),
                per_ms: f64::from(limit.per_minute) / 60_000.0,
            },
            empty: Mutex::new(HashMap::new()),
        })
    }
}

fn key(ip: IpAddr) -> Vec<u8> {
    match client_key(ip) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

impl Allowance for SqliteAllowance {
    fn take(&self, ip: IpAddr) -> Result<(), RateLimited> {
        let now = crate::throttle::now_ms();
        let client = Client::from(ip);
        let refused = |until: i64| RateLimited {
            retry_after: ((until - now).max(0) as u64).div_ceil(1000).max(1),
        };
        if let Some(&until) = self.empty.lock().expect("allowance").get(&client) {
            if now < until {
                return Err(refused(until));
            }
        }
        let taken = {
            let mut conn = self.conn.lock().expect("allowance");
            shared::take_token(&mut conn, SCOPE, &key(ip), self.bucket, now)
        };
        match taken {
            Ok(Ok(())) => Ok(()),
            Ok(Err(wait)) => {
                let mut empty = self.empty.lock().expect("allowance");
                if empty.len() >= MAX_CLIENTS {
                    // Forgetting a refusal costs one lookup, never a
                    // captcha too many.
                    empty.retain(|_, until| *until > now);
                    if empty.len() >= MAX_CLIENTS {
                        empty.clear();
                    }
                }
                empty.insert(client, now + wait);
                Err(refused(now + wait))
            }
            Err(e) => {
                // A captcha is worth nothing without a throttled login:
                // better one too many than none for anyone.
                tracing::error!("captcha allowance: {e}");
                Ok(())
            }
        }
    }

    fn sweep(&self) {
        let now = crate::throttle::now_ms();
        self.empty
            .lock()
            .expect("allowance")
            .retain(|_, until| *until > now);
        let conn = self.conn.lock().expect("allowance");
        if let Err(e) = shared::sweep_buckets(&conn, SCOPE, self.bucket, now) {
            tracing::error!("captcha allowance: sweeping: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two processes (two connections here; two servers in
    /// tests/server/scale.rs) on one data directory share one allowance.
    #[test]
    fn two_processes_share_one_allowance() {
        let d = tempfile::tempdir().unwrap();
        let limit = RateLimit {
            burst: 4,
            per_minute: 1,
        };
        let open =
            || SqliteAllowance::new(store::accounts::open(d.path()).unwrap(), limit).unwrap();
        let (one, two) = (open(), open());
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let made = (0..20)
            .filter(|i| (if i % 2 == 0 { &one } else { &two }).take(ip).is_ok())
            .count();
        assert_eq!(made, 4);
        let wait = one.take(ip).unwrap_err().retry_after;
        assert!((50..=60).contains(&wait), "{wait}");
        assert!(two.take("203.0.113.10".parse().unwrap()).is_ok());
        one.sweep();
    }
}
