//! Throttling of failed attempts, per account and per client address.
//!
//! Per account (keyed by the address typed, whether or not an account has
//! it, so a 429 says nothing about existence): after `slow_after` failures
//! in the last hour each attempt must wait 2^(n − slow_after) seconds
//! (at most 15 minutes) after the previous failure; after
//! `max_per_hour` failures every attempt is refused until the hour has
//! passed. Per client address (`http::client_key`: an IPv6 /64 is one):
//! `ip_per_hour` failures an hour. Refusals are 429 with Retry-After.
//! Counters live in memory: one server process per data dir.
//!
//! Memory is bounded whoever types what: a typed address is kept as 16
//! bytes of its SHA-256, not as typed (up to 16 KB, the largest form), and
//! each map holds at most `MAX_KEYS` keys. A full map first drops what the
//! hour has expired, then the tenth of its keys quiet the longest, so
//! filling it takes more failures than the per-address limits allow from
//! a few hundred clients, and what it forgets is the oldest news.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::http::client_key;

const HOUR: Duration = Duration::from_secs(3600);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Keys each map may hold.
pub const MAX_KEYS: usize = 100_000;

/// A typed address, as the maps keep it.
type Address = [u8; 16];

fn address(typed: &str) -> Address {
    let mut a = [0u8; 16];
    a.copy_from_slice(&Sha256::digest(typed.as_bytes())[..16]);
    a
}

/// What "forgot password" counts: links per address, requests per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Forgot {
    Address(Address),
    Client(IpAddr),
}

/// Failure times in the last hour by key, at most `MAX_KEYS` keys and
/// `per_key` times a key.
struct Counters<K> {
    map: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Copy> Counters<K> {
    fn new() -> Counters<K> {
        Counters {
            map: HashMap::new(),
        }
    }

    /// The key's failures in the hour before `now`.
    fn recent(&mut self, key: &K, now: Instant) -> Option<&VecDeque<Instant>> {
        let q = self.map.get_mut(key)?;
        prune(q, now);
        Some(q)
    }

    fn record(&mut self, key: K, now: Instant, per_key: usize) {
        if !self.map.contains_key(&key) && self.map.len() >= MAX_KEYS {
            self.make_room(now);
        }
        let q = self.map.entry(key).or_default();
        q.push_back(now);
        while q.len() > per_key.max(1) {
            q.pop_front();
        }
    }

    /// Drops what the hour expired; if that is not enough, the tenth of
    /// the keys whose last failure is oldest.
    fn make_room(&mut self, now: Instant) {
        self.sweep(now);
        if self.map.len() < MAX_KEYS {
            return;
        }
        let mut last: Vec<(Instant, K)> = self
            .map
            .iter()
            .filter_map(|(k, q)| Some((*q.back()?, *k)))
            .collect();
        let tenth = (last.len() / 10).max(1);
        last.select_nth_unstable_by_key(tenth - 1, |(t, _)| *t);
        for (_, k) in &last[..tenth] {
            self.map.remove(k);
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.map.retain(|_, q| {
            prune(q, now);
            !q.is_empty()
        });
    }

    fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

pub struct Throttle {
    accounts: Mutex<Counters<Address>>,
    ips: Mutex<Counters<IpAddr>>,
    max_per_hour: usize,
    slow_after: usize,
    ip_per_hour: usize,
    /// "Forgot password" requests, by address and by client: links mailed.
    forgot: Mutex<Counters<Forgot>>,
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
            accounts: Mutex::new(Counters::new()),
            ips: Mutex::new(Counters::new()),
            max_per_hour: max_per_hour as usize,
            slow_after: slow_after as usize,
            ip_per_hour: ip_per_hour as usize,
            forgot: Mutex::new(Counters::new()),
        }
    }

    /// `Some(seconds to wait)` when the client address has failed too
    /// often (a made-up link, before it is looked up).
    pub fn check_ip(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut ips = self.ips.lock().expect("throttle");
        let q = ips.recent(&client_key(ip), now)?;
        (q.len() >= self.ip_per_hour).then(|| wait_until(q[q.len() - self.ip_per_hour] + HOUR, now))
    }

    /// `Some(seconds to wait)` when an attempt must be refused now.
    pub fn check(&self, account: &str, ip: IpAddr, now: Instant) -> Option<u64> {
        if let Some(wait) = self.check_ip(ip, now) {
            return Some(wait);
        }
        let mut accounts = self.accounts.lock().expect("throttle");
        let q = accounts.recent(&address(account), now)?;
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
            .record(client_key(ip), now, self.ip_per_hour);
        if let Some(a) = account {
            self.accounts
                .lock()
                .expect("throttle")
                .record(address(a), now, self.max_per_hour);
        }
    }

    /// Whether a "forgot password" request must mail nothing (too many).
    pub fn forgot_check(&self, email: &str, ip: IpAddr, now: Instant) -> bool {
        let mut m = self.forgot.lock().expect("throttle");
        let mut full =
            |key: Forgot, limit: usize| m.recent(&key, now).is_some_and(|q| q.len() >= limit);
        full(Forgot::Address(address(email)), FORGOT_PER_ADDRESS)
            || full(Forgot::Client(client_key(ip)), FORGOT_PER_IP)
    }

    pub fn forgot_record(&self, email: &str, ip: IpAddr, now: Instant) {
        let mut m = self.forgot.lock().expect("throttle");
        m.record(Forgot::Address(address(email)), now, FORGOT_PER_ADDRESS);
        m.record(Forgot::Client(client_key(ip)), now, FORGOT_PER_IP);
    }

    /// Forgets an account's failures (after a successful login).
    pub fn succeeded(&self, account: &str) {
        self.accounts
            .lock()
            .expect("throttle")
            .remove(&address(account));
    }

    /// Drops counters older than an hour (called now and then).
    pub fn sweep(&self, now: Instant) {
        self.accounts.lock().expect("throttle").sweep(now);
        self.ips.lock().expect("throttle").sweep(now);
        self.forgot.lock().expect("throttle").sweep(now);
    }

    /// What the maps hold: entries, and the bytes of their keys.
    pub fn footprint(&self) -> (usize, usize) {
        let a = self.accounts.lock().expect("throttle").len();
        let i = self.ips.lock().expect("throttle").len();
        let f = self.forgot.lock().expect("throttle").len();
        (
            a + i + f,
            a * std::mem::size_of::<Address>()
                + i * std::mem::size_of::<IpAddr>()
                + f * std::mem::size_of::<Forgot>(),
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
        // Many client addresses (IPv6 makes them cheap: a /64 each), each
        // under its own limit, each typing new addresses.
        for i in 0..(MAX_KEYS as u32 + 10_000) {
            let ip = IpAddr::from([0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 1]);
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
    fn a_full_map_forgets_the_longest_quiet_first() {
        let t = Throttle::new(100, 10, 300);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        // The one to keep failed most recently before the map filled.
        for i in 0..MAX_KEYS {
            t.failed(Some(&format!("u{i}@b.tw")), ip, start);
        }
        for _ in 0..11 {
            t.failed(Some("target@b.tw"), ip, start + Duration::from_secs(1));
        }
        for i in 0..1000 {
            t.failed(
                Some(&format!("new{i}@b.tw")),
                ip,
                start + Duration::from_secs(2),
            );
        }
        assert!(t.footprint().0 <= MAX_KEYS + 2);
        assert!(
            t.check("target@b.tw", ip, start + Duration::from_secs(2))
                .is_some(),
            "the recent failures are kept"
        );
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
        // An IPv6 client is its /64.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for i in 0..5 {
            t.failed(None, v6(&format!("2001:db8:1:2::{i}")), now);
        }
        assert!(t.check_ip(v6("2001:db8:1:2:ffff::9"), now).is_some());
        assert!(t.check_ip(v6("2001:db8:1:3::1"), now).is_none());
    }
}
