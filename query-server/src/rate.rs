//! Token buckets per client address (an IPv6 address counts as its /64,
//! what one subscriber gets), in a bounded map, in one process's memory:
//! the accept loop's new connections and the requests per address
//! (`server`), and the captcha allowance of a process alone
//! (`captcha::MemoryAllowance`; the server shares its allowance through the
//! accounts database instead).
//!
//! A bucket that has refilled is the same as no bucket, so those go first
//! when the map is full. Full of draining buckets (that many addresses
//! asking at once), it forgets the half with the most tokens left: those
//! addresses get a fresh burst, a small gift to a very large attacker, but
//! memory stays bounded and no address is ever refused for lack of room.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// So many at once, then refilled at this rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

impl Rate {
    pub fn per_minute(burst: u32, per_minute: u32) -> Rate {
        Rate {
            burst: f64::from(burst),
            per_second: f64::from(per_minute) / 60.0,
        }
    }

    /// Tokens in a bucket that held `tokens` `elapsed` seconds ago.
    pub fn refill(&self, tokens: f64, elapsed: f64) -> f64 {
        (tokens + elapsed.max(0.0) * self.per_second).min(self.burst)
    }

    /// Seconds until a bucket holding `tokens` (< 1) holds one (at least 1).
    pub fn wait(&self, tokens: f64) -> u64 {
        let wait = if self.per_second > 0.0 {
            ((1.0 - tokens) / self.per_second).ceil() as u64
        } else {
            3600
        };
        wait.max(1)
    }
}

/// Refused: try again after this many seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after: u64,
}

/// Addresses tracked at most (about 50 bytes each).
pub const MAX_CLIENTS: usize = 100_000;

pub struct Limiter {
    rate: Rate,
    max_clients: usize,
    buckets: Mutex<HashMap<Client, Bucket>>,
    start: Instant,
}

/// An IPv4 address, or the first 64 bits of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    V4(u32),
    V6(u64),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(a) => Client::V4(a.into()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.into()),
                None => Client::V6((u128::from(a) >> 64) as u64),
            },
        }
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds since the limiter started.
    at: f64,
}

impl Limiter {
    pub fn new(rate: Rate, max_clients: usize) -> Limiter {
        Limiter {
            rate,
            max_clients: max_clients.max(2),
            buckets: Mutex::new(HashMap::new()),
            start: Instant::now(),
        }
    }

    fn refilled(&self, b: &Bucket, now: f64) -> f64 {
        self.rate.refill(b.tokens, now - b.at)
    }

    /// Takes one token from `ip`'s bucket, or says how long to wait.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), RateLimited> {
        let now = now.saturating_duration_since(self.start).as_secs_f64();
        let client = Client::from(ip);
        let mut map = self.buckets.lock().expect("rate limiter");
        if !map.contains_key(&client) && map.len() >= self.max_clients {
            self.make_room(&mut map, now);
        }
        let b = map.entry(client).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let tokens = self.refilled(b, now);
        if tokens >= 1.0 {
            *b = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            return Ok(());
        }
        *b = Bucket { tokens, at: now };
        Err(RateLimited {
            retry_after: self.rate.wait(tokens),
        })
    }

    fn make_room(&self, map: &mut HashMap<Client, Bucket>, now: f64) {
        map.retain(|_, b| self.refilled(b, now) < self.rate.burst);
        if map.len() < self.max_clients {
            return;
        }
        let mut by_tokens: Vec<(f64, Client)> = map
            .iter()
            .map(|(c, b)| (self.refilled(b, now), *c))
            .collect();
        let half = by_tokens.len() / 2;
        by_tokens.select_nth_unstable_by(half, |a, b| b.0.total_cmp(&a.0));
        for (_, c) in &by_tokens[..half] {
            map.remove(c);
        }
    }

    /// Drops the buckets that have refilled (called now and then).
    pub fn sweep(&self, now: Instant) {
        let now = now.saturating_duration_since(self.start).as_secs_f64();
        self.buckets
            .lock()
            .expect("rate limiter")
            .retain(|_, b| self.refilled(b, now) < self.rate.burst);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().expect("rate limiter").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_burst_then_its_rate() {
        let l = Limiter::new(Rate::per_minute(3, 6), 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(ip("10.0.0.1"), t0), Ok(()));
        }
        assert_eq!(
            l.take(ip("10.0.0.1"), t0),
            Err(RateLimited { retry_after: 10 })
        );
        // Another address is not affected; nor is another /64.
        assert_eq!(l.take(ip("10.0.0.2"), t0), Ok(()));
        for _ in 0..3 {
            assert_eq!(l.take(ip("2001:db8:0:1::1"), t0), Ok(()));
        }
        assert!(l.take(ip("2001:db8:0:1::ffff"), t0).is_err(), "same /64");
        assert!(l.take(ip("::ffff:10.0.0.1"), t0).is_err(), "mapped v4");
        assert_eq!(l.take(ip("2001:db8:0:2::1"), t0), Ok(()));
        // Six a minute: one more after ten seconds, not two.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(l.take(ip("10.0.0.1"), t1), Ok(()));
        assert!(l.take(ip("10.0.0.1"), t1).is_err());
        // Refilled after a while: swept, and a full burst again.
        let t2 = t1 + Duration::from_secs(60);
        l.sweep(t2);
        assert_eq!(l.tracked(), 0);
        for _ in 0..3 {
            assert_eq!(l.take(ip("10.0.0.1"), t2), Ok(()));
        }
    }

    /// Issue 12, item 1: one client made 100,000 captchas in 7 s.
    #[test]
    fn one_address_cannot_make_a_hundred_thousand_captchas() {
        let l = Limiter::new(Rate::per_minute(20, 10), MAX_CLIENTS);
        let t0 = Instant::now();
        let made = (0..100_000)
            .filter(|i| {
                let now = t0 + Duration::from_micros(70 * i);
                l.take(ip("203.0.113.9"), now).is_ok()
            })
            .count();
        // The burst, and ten a minute over the seven seconds.
        assert_eq!(made, 21);
    }

    #[test]
    fn the_map_stays_bounded_and_keeps_the_drained_addresses() {
        let l = Limiter::new(Rate::per_minute(2, 1), 10);
        let t0 = Instant::now();
        // A drained address...
        for _ in 0..2 {
            l.take(ip("10.9.9.9"), t0).unwrap();
        }
        // ...then many others that each take one.
        for i in 0..1_000u32 {
            let _ = l.take(IpAddr::V4((0x0a00_0000 + i).into()), t0);
            assert!(l.tracked() <= 10);
        }
        // Forgotten first are the fullest buckets: the drained one stays.
        assert!(l.take(ip("10.9.9.9"), t0).is_err());
    }
}
