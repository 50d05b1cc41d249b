//! Throttling of failed attempts, per account and per client IP.
//!
//! Per account (keyed by the address typed, whether or not an account has
//! it, so a 429 says nothing about existence): after `slow_after` failures
//! in the last hour each attempt must wait 2^(n − slow_after) seconds
//! (at most 15 minutes) after the previous failure; after
//! `max_per_hour` failures every attempt is refused until the hour has
//! passed. Per IP: `ip_per_hour` failures an hour. Refusals are 429 with
//! Retry-After. Counters live in memory: one server process per data dir.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

pub struct Throttle {
    accounts: Mutex<HashMap<String, VecDeque<Instant>>>,
    ips: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    max_per_hour: usize,
    slow_after: usize,
    ip_per_hour: usize,
    /// "Forgot password" requests, by address and by IP: links mailed.
    forgot: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Links mailed per address per hour, and requests per IP per hour: past
/// these, "forgot password" still answers the same but mails nothing.
pub const FORGOT_PER_ADDRESS: usize = 5;
pub const FORGOT_PER_IP: usize = 30;

fn prune(q: &mut VecDeque<Instant>, now: Instant) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= HOUR) {
        q.pop_front();
    }
}

impl Throttle {
    pub fn new(max_per_hour: u64, slow_after: u64, ip_per_hour: u64) -> Throttle {
        Throttle {
            accounts: Mutex::new(HashMap::new()),
            ips: Mutex::new(HashMap::new()),
            max_per_hour: max_per_hour as usize,
            slow_after: slow_after as usize,
            ip_per_hour: ip_per_hour as usize,
            forgot: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when the client address has failed too
    /// often (a made-up link, before it is looked up).
    pub fn check_ip(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut ips = self.ips.lock().expect("throttle");
        let q = ips.get_mut(&ip)?;
        prune(q, now);
        (q.len() >= self.ip_per_hour).then(|| wait_until(q[q.len() - self.ip_per_hour] + HOUR, now))
    }

    /// `Some(seconds to wait)` when an attempt must be refused now.
    pub fn check(&self, account: &str, ip: IpAddr, now: Instant) -> Option<u64> {
        if let Some(wait) = self.check_ip(ip, now) {
            return Some(wait);
        }
        let mut accounts = self.accounts.lock().expect("throttle");
        let q = accounts.get_mut(account)?;
        prune(q, now);
        let n = q.len();
        if n >= self.max_per_hour {
            return Some(wait_until(q[n - self.max_per_hour] + HOUR, now));
        }
        // With `slow_after = 0` the first failure already slows; before
        // any failure there is nothing to wait for.
        if let (true, Some(&last)) = (n >= self.slow_after, q.back()) {
            let exp = (n - self.slow_after).min(16) as u32;
            let delay = Duration::from_secs(1u64 << exp).min(MAX_DELAY);
            if now < last + delay {
                return Some(wait_until(last + delay, now));
            }
        }
        None
    }

    /// Records a failed attempt (wrong password, wrong captcha, a link
    /// that opens nothing).
    pub fn failed(&self, account: Option<&str>, ip: IpAddr, now: Instant) {
        self.ips
            .lock()
            .expect("throttle")
            .entry(ip)
            .or_default()
            .push_back(now);
        if let Some(a) = account {
            self.accounts
                .lock()
                .expect("throttle")
                .entry(a.to_string())
                .or_default()
                .push_back(now);
        }
    }

    /// Whether a "forgot password" request must mail nothing (too many).
    pub fn forgot_check(&self, email: &str, ip: IpAddr, now: Instant) -> bool {
        let mut m = self.forgot.lock().expect("throttle");
        let mut full = |key: String, limit: usize| {
            m.get_mut(&key).is_some_and(|q| {
                prune(q, now);
                q.len() >= limit
            })
        };
        full(format!("a:{email}"), FORGOT_PER_ADDRESS) || full(format!("i:{ip}"), FORGOT_PER_IP)
    }

    pub fn forgot_record(&self, email: &str, ip: IpAddr, now: Instant) {
        let mut m = self.forgot.lock().expect("throttle");
        m.entry(format!("a:{email}")).or_default().push_back(now);
        m.entry(format!("i:{ip}")).or_default().push_back(now);
    }

    /// Forgets an account's failures (after a successful login).
    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().expect("throttle").remove(account);
    }

    /// Drops counters older than an hour (called now and then).
    pub fn sweep(&self, now: Instant) {
        for map in [&self.accounts, &self.forgot] {
            map.lock().expect("throttle").retain(|_, q| {
                prune(q, now);
                !q.is_empty()
            });
        }
        self.ips.lock().expect("throttle").retain(|_, q| {
            prune(q, now);
            !q.is_empty()
        });
    }
}

impl Throttle {
    /// What the maps hold: entries, and the bytes of their keys.
    pub fn footprint(&self) -> (usize, usize) {
        let a = self.accounts.lock().expect("throttle");
        let f = self.forgot.lock().expect("throttle");
        let i = self.ips.lock().expect("throttle");
        (
            a.len() + f.len() + i.len(),
            a.keys().chain(f.keys()).map(String::len).sum::<usize>()
                + i.len() * std::mem::size_of::<IpAddr>(),
        )
    }
}

fn wait_until(t: Instant, now: Instant) -> u64 {
    t.saturating_duration_since(now).as_secs().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_ten_failures_and_stop_at_a_hundred() {
        let t = Throttle::new(100, 10, 100_000);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let start = Instant::now();
        for i in 0..10 {
            assert_eq!(t.check("a@b.tw", ip, start), None, "attempt {i}");
            t.failed(Some("a@b.tw"), ip, start);
        }
        // The 11th attempt right away waits 1 s; after it, it may go.
        assert_eq!(t.check("a@b.tw", ip, start), Some(1));
        assert_eq!(t.check("a@b.tw", ip, start + Duration::from_secs(1)), None);
        // Another address is not affected.
        assert_eq!(t.check("c@d.tw", ip, start), None);
        let mut now = start;
        for _ in 10..100 {
            now += MAX_DELAY.min(Duration::from_secs(30));
            t.failed(Some("a@b.tw"), ip, now);
        }
        // 100 failures in the hour: refused until the first leaves the hour.
        let wait = t.check("a@b.tw", ip, now).expect("refused");
        assert!(wait > 0);
        assert_eq!(t.check("a@b.tw", ip, start + HOUR + MAX_DELAY * 2), None);
    }

    #[test]
    fn with_slow_after_zero_an_hour_old_failure_does_not_break_logins() {
        // The failure leaves the hour; its account's (empty) queue stays
        // until the sweep. Reading its last failure used to panic here,
        // poisoning the lock: every later login failed.
        let t = Throttle::new(100, 0, 1000);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let start = Instant::now();
        t.failed(Some("a@b.tw"), ip, start);
        assert_eq!(t.check("a@b.tw", ip, start), Some(2));
        let later = start + HOUR + Duration::from_secs(1);
        assert_eq!(t.check("a@b.tw", ip, later), None);
        assert_eq!(t.check("a@b.tw", ip, later), None);
    }

    /// The finding: the maps kept every typed address (up to 16 KB, the
    /// largest form) for an hour, with no cap across client addresses, so
    /// anyone with enough addresses could grow the server's memory at
    /// will. Keys are bounded in size and the maps in entries.
    #[test]
    fn addresses_typed_by_anyone_take_bounded_memory() {
        let t = Throttle::new(100, 10, 300);
        let now = Instant::now();
        let huge = "x".repeat(16 * 1024);
        for i in 0..64u32 {
            let ip = IpAddr::from([10, 0, 0, i as u8]);
            let email = format!("{i}{huge}@example.com");
            t.failed(Some(&email), ip, now);
            t.forgot_record(&email, ip, now);
        }
        let (entries, bytes) = t.footprint();
        assert!(
            bytes <= entries * 64,
            "{bytes} bytes of keys in {entries} entries"
        );
        // Many client addresses (IPv6 makes them cheap), each under its
        // own limit, each typing new addresses.
        for i in 0..250_000u32 {
            let ip = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16]);
            let email = format!("u{i}@example.com");
            t.failed(Some(&email), ip, now);
            t.forgot_record(&email, ip, now);
        }
        let (entries, bytes) = t.footprint();
        // Three maps (accounts, client addresses, "forgot password"), each
        // of at most 100,000 keys.
        assert!(entries <= 300_000, "{entries} entries");
        assert!(bytes <= entries * 64, "{bytes} bytes of keys");
    }

    #[test]
    fn an_ip_is_limited_across_accounts() {
        let t = Throttle::new(100, 10, 5);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        for i in 0..5 {
            t.failed(Some(&format!("u{i}@b.tw")), ip, now);
        }
        assert!(t.check("new@b.tw", ip, now).is_some());
        assert!(t
            .check("new@b.tw", "10.0.0.2".parse().unwrap(), now)
            .is_none());
    }
}
