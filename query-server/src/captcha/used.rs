//! Single use: the set of captcha nonces already answered, each kept until
//! its captcha expires (after that the expiry alone refuses it).
//!
//! Behind a trait: the server keeps it in the accounts database
//! (`SqliteUsedSet`), shared by every process on the data directory, since
//! in memory a captcha answered on one process could be answered once
//! more on another; `MemoryUsedSet` is the bounded in-memory set, for one
//! process alone.

use std::collections::BTreeSet;
use std::sync::Mutex;

use rusqlite::Connection;

use super::token::NONCE;

/// A captcha's use the used set could not record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrecorded;

/// Where used captchas are recorded.
pub trait UsedSet: Send + Sync {
    /// Records `nonce` (of a captcha valid until `expires`, ms since 1970)
    /// as used. True the first time; false when it was used before; never
    /// true twice for one nonce before `expires`, whatever else the set
    /// must drop to stay bounded. `Unrecorded` when the use could not be
    /// recorded (the server's failure: the captcha is not answerable now,
    /// and nobody answered it wrong).
    fn spend(&self, nonce: &[u8; NONCE], expires: u64, now: u64) -> Result<bool, Unrecorded>;

    /// Forgets what has expired by `now` (ms since 1970).
    fn sweep(&self, now: u64);
}

/// The used set in memory, bounded in entries.
///
/// Full (more answered captchas within one lifetime than `capacity`), it
/// forgets the sixteenth of its entries that expire first and from then on
/// treats every captcha expiring no later than the last one forgotten as
/// expired (the `floor`). So a forgotten nonce can never be answered again;
/// under a flood the lifetime of captchas shrinks, the oldest unanswered
/// ones first, instead of anyone's captcha being evicted while new ones
/// keep working.
pub struct MemoryUsedSet {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    /// (expires, the nonce's first 64 bits), in order of expiry. Two live
    /// captchas with the same expiry to the millisecond and the same 64
    /// bits of nonce are as likely as guessing a 64-bit key, and would
    /// only make the second one wrong.
    used: BTreeSet<(u64, u64)>,
    /// Captchas expiring at or before this count as expired.
    floor: u64,
}

/// 37 bytes an entry (measured): at most about 40 MB. Filling it within
/// one five-minute lifetime takes 3,500 answered captchas a second, from
/// (at the default creation limit) some 15,000 client addresses; and then
/// captchas only live shorter.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

impl MemoryUsedSet {
    pub fn new(capacity: usize) -> MemoryUsedSet {
        MemoryUsedSet {
            inner: Mutex::new(Inner {
                used: BTreeSet::new(),
                floor: 0,
            }),
            capacity: capacity.max(16),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().expect("used set").used.len()
    }
}

impl Default for MemoryUsedSet {
    fn default() -> Self {
        MemoryUsedSet::new(DEFAULT_CAPACITY)
    }
}

impl UsedSet for MemoryUsedSet {
    fn spend(&self, nonce: &[u8; NONCE], expires: u64, now: u64) -> Result<bool, Unrecorded> {
        let mut g = self.inner.lock().expect("used set");
        if expires <= now || expires <= g.floor {
            return Ok(false);
        }
        let key = (
            expires,
            u64::from_be_bytes(nonce[..8].try_into().expect("8 bytes")),
        );
        if g.used.contains(&key) {
            return Ok(false);
        }
        if g.used.len() >= self.capacity {
            prune(&mut g.used, now);
        }
        if g.used.len() >= self.capacity {
            for _ in 0..self.capacity / 16 {
                let (e, _) = g.used.pop_first().expect("full");
                g.floor = g.floor.max(e);
            }
            // Forgotten entries may share the floor's millisecond with
            // kept ones: those count as expired too, so drop them.
            let floor = g.floor;
            while g.used.first().is_some_and(|(e, _)| *e <= floor) {
                g.used.pop_first();
            }
            tracing::warn!(
                "captcha used set full ({} entries): captchas expiring before {} refused",
                self.capacity,
                floor
            );
            if expires <= floor {
                return Ok(false);
            }
        }
        g.used.insert(key);
        Ok(true)
    }

    fn sweep(&self, now: u64) {
        prune(&mut self.inner.lock().expect("used set").used, now);
    }
}

/// The used set in the accounts database (`captchas_used`, accounts
/// migration 6): one row per answered captcha until it expires, whichever
/// process answered it. Its size is bounded by the creation limit per
/// client address times the addresses, over one captcha lifetime; rows
/// are small (16-byte nonce, expiry).
pub struct SqliteUsedSet {
    conn: Mutex<Connection>,
}

impl SqliteUsedSet {
    /// On its own connection to the accounts database (commits without an
    /// fsync: a power failure forgets at most the last answers, of
    /// captchas that then expire within minutes).
    pub fn new(conn: Connection) -> rusqlite::Result<SqliteUsedSet> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(SqliteUsedSet {
            conn: Mutex::new(conn),
        })
    }
}

impl UsedSet for SqliteUsedSet {
    fn spend(&self, nonce: &[u8; NONCE], expires: u64, now: u64) -> Result<bool, Unrecorded> {
        let conn = self.conn.lock().expect("used set");
        store::accounts::shared::spend_captcha(&conn, nonce, expires as i64, now as i64).map_err(
            |e| {
                // Not recorded: not answerable (never true twice).
                tracing::error!("captcha used set: {e}");
                Unrecorded
            },
        )
    }

    fn sweep(&self, now: u64) {
        let conn = self.conn.lock().expect("used set");
        if let Err(e) = store::accounts::shared::sweep_captchas(&conn, now as i64) {
            tracing::error!("captcha used set: sweeping: {e}");
        }
    }
}

fn prune(used: &mut BTreeSet<(u64, u64)>, now: u64) {
    while used.first().is_some_and(|(e, _)| *e <= now) {
        used.pop_first();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonce(n: u32) -> [u8; NONCE] {
        let mut b = [0u8; NONCE];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b
    }

    #[test]
    fn a_nonce_is_spent_once_across_processes_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let open = || SqliteUsedSet::new(store::accounts::open(dir.path()).unwrap()).unwrap();
        let (one, two) = (open(), open());
        assert_eq!(one.spend(&nonce(1), 1_000, 0), Ok(true));
        assert_eq!(
            two.spend(&nonce(1), 1_000, 500),
            Ok(false),
            "spent on the other"
        );
        assert_eq!(one.spend(&nonce(1), 1_000, 500), Ok(false));
        assert_eq!(two.spend(&nonce(2), 1_000, 500), Ok(true));
        assert_eq!(two.spend(&nonce(3), 1_000, 1_000), Ok(false), "expired");
        one.sweep(1_000);
        assert_eq!(one.spend(&nonce(4), 2_000, 1_000), Ok(true));
    }

    #[test]
    fn a_nonce_is_spent_once_until_it_expires() {
        let set = MemoryUsedSet::new(100);
        assert_eq!(set.spend(&nonce(1), 1_000, 0), Ok(true));
        assert_eq!(set.spend(&nonce(1), 1_000, 500), Ok(false));
        assert_eq!(set.spend(&nonce(2), 1_000, 500), Ok(true));
        // Expired: refused, and swept.
        assert_eq!(set.spend(&nonce(3), 1_000, 1_000), Ok(false));
        set.sweep(1_000);
        assert_eq!(set.len(), 0);
    }

    /// Issue 12, item 1, in the used set's terms: a flood of answered
    /// captchas must neither let a used one count again nor stop new ones.
    #[test]
    fn a_full_set_never_forgets_a_used_captcha_that_could_still_count() {
        let set = MemoryUsedSet::new(64);
        // A victim's captcha, answered early in the flood.
        assert_eq!(set.spend(&nonce(0), 10_000, 0), Ok(true));
        // The flood: 1,000 answered captchas, expiring later and later.
        for n in 1..1_000u32 {
            assert_eq!(set.spend(&nonce(n), 10_000 + u64::from(n), 1), Ok(true));
            assert!(set.len() <= 64);
        }
        // Every one of them, forgotten or not, is refused a second time.
        for n in 0..1_000u32 {
            assert_eq!(
                set.spend(&nonce(n), 10_000 + u64::from(n), 2),
                Ok(false),
                "{n}"
            );
        }
        // A captcha issued after the flood (later expiry) still works.
        assert_eq!(set.spend(&nonce(5_000), 20_000, 2), Ok(true));
    }
}
