//! Sessions: who is signed in. The accounts database keeps each session
//! (by the SHA-256 of its id) and is the truth, shared by every server
//! process on the data directory: a session made on one process works on
//! every other at once, and one ended anywhere is refused everywhere
//! within `FRESH`. Each process keeps the sessions it served lately in
//! memory, each entry read again from the database when it is older than
//! `FRESH` (500 ms), so a busy session costs at most two indexed reads a
//! second per process; `last_seen_at` is written back lazily (at most once
//! a minute) through the background writer, and idleness is judged on the
//! newer of the database's and this process's.
//!
//! Ids are 256 random bits. A session ends `idle` after its last request
//! and `max` after login; a new id is issued at every login; a password
//! change or reset ends every other session of the account.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LockResult, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use store::secret::random_bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A browser, by cookie; its forms carry `csrf`.
    Browser,
    /// An app, by bearer token.
    Api,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Browser => "browser",
            Kind::Api => "api",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub hash: [u8; 32],
    /// Its page tag (`routes::page_tag`), worked out as it is read, not
    /// for each page (about 5,000 instructions of a case page's 180,000).
    pub tag: String,
    pub account_id: i64,
    pub email: String,
    pub kind: Kind,
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    persisted_seen: DateTime<Utc>,
}

pub struct Sessions {
    /// Sessions served lately, each with when it was last read from the
    /// database.
    live: Live<Session>,
    /// A connection of its own to the accounts database, for those reads.
    reader: Mutex<Connection>,
    pub idle: Duration,
    pub max: Duration,
}

/// How long a session read from the database is taken as it was: the
/// bound on how late a process learns that another ended a session
/// (tests/server/scale.rs holds it to 1 s).
pub const FRESH: std::time::Duration = std::time::Duration::from_millis(500);

pub fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("no randomness for a session id: {0}")]
    Randomness(std::io::Error),
}

/// How often a session's `last_seen_at` is written back at most.
const PERSIST_EVERY: i64 = 60;

/// What the in-process cache needs of a session, applicant's or
/// prosecutor's.
pub(crate) trait Cached: Clone {
    fn kind(&self) -> Kind;
    fn created(&self) -> DateTime<Utc>;
    fn last_seen(&self) -> DateTime<Utc>;
    /// `last_seen` and `persisted_seen`.
    fn seen(&mut self) -> (&mut DateTime<Utc>, &mut DateTime<Utc>);
}

impl Cached for Session {
    fn kind(&self) -> Kind {
        self.kind
    }
    fn created(&self) -> DateTime<Utc> {
        self.created
    }
    fn last_seen(&self) -> DateTime<Utc> {
        self.last_seen
    }
    fn seen(&mut self) -> (&mut DateTime<Utc>, &mut DateTime<Utc>) {
        (&mut self.last_seen, &mut self.persisted_seen)
    }
}

/// Whether `id` has the form of a session id: `prefix` and 64 hex digits
/// (an applicant's ids have no prefix, a prosecutor's `p-`). A request
/// looks only in its id's own store, and a cookie or token of another form
/// costs no database read.
pub(crate) fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sessions served lately, by hash, with when each was read from the
/// database.
type Map<S> = HashMap<[u8; 32], (S, Instant)>;

/// A store's sessions in memory, and how often it went to the database.
pub(crate) struct Live<S> {
    map: Mutex<Map<S>>,
    /// Reads from the database (`cpor_session_reads_total`).
    reads: AtomicU64,
}

impl<S> Live<S> {
    pub(crate) fn new() -> Live<S> {
        Live {
            map: Mutex::new(HashMap::new()),
            reads: AtomicU64::new(0),
        }
    }

    pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, Map<S>>> {
        self.map.lock()
    }

    /// How many times a session was read from the database.
    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// Of the sessions with these hashes (read by `read`), the live ones,
/// oldest first, each last used when the database or this process last
/// saw it: an account page's list, applicant's or prosecutor's.
pub(crate) fn listed<S: Cached>(
    live: &Live<S>,
    hashes: Vec<Vec<u8>>,
    read: impl Fn(&[u8; 32]) -> rusqlite::Result<Option<S>>,
    (idle, max): (Duration, Duration),
) -> rusqlite::Result<Vec<S>> {
    let now = Utc::now();
    let mut all = Vec::new();
    for h in hashes {
        let Ok(h) = <[u8; 32]>::try_from(h) else {
            continue;
        };
        if let Some(mut s) = read(&h)? {
            if let Some((mine, _)) = live.lock().expect("sessions").get(&h) {
                let seen = mine.last_seen();
                let last = s.seen().0;
                *last = (*last).max(seen);
            }
            if now - s.last_seen() < idle && now - s.created() < max {
                all.push(s);
            }
        }
    }
    all.sort_by_key(|s| s.created());
    Ok(all)
}

/// The session of hash `h` and this kind if it is live (within the `idle`
/// and `max` lifetimes), touched; the second value is set when its
/// `last_seen_at` should be written back. `read` gives the stored one; it
/// is called unless this process read it within `FRESH`, so a session
/// ended by any process is refused here within `FRESH`. A database that
/// cannot be read is an error (logged), not a session ended: the caller
/// answers 503, and the session works again once it reads (an app told its
/// token had ended would throw it away and make its user log in again).
pub(crate) fn get_cached<S: Cached>(
    live: &Live<S>,
    h: [u8; 32],
    kind: Kind,
    (idle, max): (Duration, Duration),
    read: impl FnOnce() -> rusqlite::Result<Option<S>>,
) -> rusqlite::Result<Option<(S, bool)>> {
    let fresh = live
        .lock()
        .expect("sessions")
        .get(&h)
        .is_some_and(|(_, read)| read.elapsed() < FRESH);
    if !fresh {
        live.reads.fetch_add(1, Ordering::Relaxed);
        let stored = read().inspect_err(|e| tracing::error!("reading a session: {e}"))?;
        let mut live = live.lock().expect("sessions");
        match stored {
            None => {
                live.remove(&h);
                return Ok(None);
            }
            Some(mut s) => {
                if let Some((mine, _)) = live.get_mut(&h) {
                    // This process may have seen it later than the
                    // database says.
                    let (mine_seen, mine_persisted) = mine.seen();
                    let (seen, persisted) = s.seen();
                    *seen = (*seen).max(*mine_seen);
                    *persisted = (*persisted).max(*mine_persisted);
                }
                live.insert(h, (s, Instant::now()));
            }
        }
    }
    let now = Utc::now();
    let mut live = live.lock().expect("sessions");
    let Some((s, _)) = live.get_mut(&h) else {
        return Ok(None);
    };
    if s.kind() != kind {
        return Ok(None);
    }
    let created = s.created();
    let (seen, persisted) = s.seen();
    if now - *seen >= idle || now - created >= max {
        live.remove(&h);
        return Ok(None);
    }
    *seen = now;
    let persist = (now - *persisted).num_seconds() >= PERSIST_EVERY;
    if persist {
        *persisted = now;
    }
    Ok(Some((s.clone(), persist)))
}

impl Sessions {
    /// Sessions in the accounts database: `conn` deletes the expired
    /// ones now, `reader` (a connection of their own) reads them later.
    pub fn load(
        conn: &Connection,
        reader: Connection,
        idle: Duration,
        max: Duration,
    ) -> rusqlite::Result<Sessions> {
        let now = Utc::now();
        conn.execute(
            "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
            params![(now - idle).to_rfc3339(), (now - max).to_rfc3339()],
        )?;
        Ok(Sessions {
            live: Live::new(),
            reader: Mutex::new(reader),
            idle,
            max,
        })
    }

    /// The session stored under `h`, if any.
    fn read(&self, h: &[u8; 32]) -> rusqlite::Result<Option<Session>> {
        let conn = self.reader.lock().expect("sessions");
        let now = Utc::now();
        let max = self.max;
        let found = conn
            .prepare_cached(
                "SELECT s.account_id, a.email, s.kind, s.csrf, s.created_at, s.last_seen_at
             FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.hash = ?1",
            )?
            .query_row([&h[..]], |r| {
                let kind: String = r.get(2)?;
                let t = |s: String| {
                    DateTime::parse_from_rfc3339(&s).map_or(now - max, |t| t.with_timezone(&Utc))
                };
                let last_seen = t(r.get(5)?);
                Ok(Session {
                    hash: *h,
                    tag: crate::routes::page_tag(h),
                    account_id: r.get(0)?,
                    email: r.get(1)?,
                    kind: if kind == "api" {
                        Kind::Api
                    } else {
                        Kind::Browser
                    },
                    csrf: r.get(3)?,
                    created: t(r.get(4)?),
                    last_seen,
                    persisted_seen: last_seen,
                })
            })
            .optional();
        found
    }

    /// Starts a session: returns its id (for the cookie or bearer token).
    pub fn create(
        &self,
        conn: &Connection,
        account_id: i64,
        email: &str,
        kind: Kind,
    ) -> Result<(String, Session), CreateError> {
        let id = schemas::hex(&random_bytes::<32>().map_err(CreateError::Randomness)?);
        let csrf = schemas::hex(&random_bytes::<16>().map_err(CreateError::Randomness)?);
        let now = Utc::now();
        let hash = hash(&id);
        let s = Session {
            hash,
            tag: crate::routes::page_tag(&hash),
            account_id,
            email: email.to_string(),
            kind,
            csrf,
            created: now,
            last_seen: now,
            persisted_seen: now,
        };
        conn.execute(
            "INSERT INTO sessions (hash, account_id, kind, csrf, created_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![
                &s.hash[..],
                account_id,
                kind.as_str(),
                s.csrf,
                now.to_rfc3339()
            ],
        )?;
        self.live
            .lock()
            .expect("sessions")
            .insert(s.hash, (s.clone(), Instant::now()));
        Ok((id, s))
    }

    /// The live session with this id and kind, touched. The second value
    /// is set when `last_seen_at` should be written back. Read from the
    /// database unless this process read it within `FRESH`; a database
    /// that cannot be read is an error (`get_cached`).
    pub fn get(&self, id: &str, kind: Kind) -> rusqlite::Result<Option<(Session, bool)>> {
        if !is_id(id, "") {
            return Ok(None);
        }
        let h = hash(id);
        get_cached(&self.live, h, kind, (self.idle, self.max), || self.read(&h))
    }

    /// Forgets a session this process made whose commit failed: it is in
    /// no database.
    pub fn forget(&self, h: &[u8; 32]) {
        self.live.lock().expect("sessions").remove(h);
    }

    /// Ends one session.
    pub fn end(&self, conn: &Connection, h: &[u8; 32]) -> rusqlite::Result<()> {
        self.forget(h);
        conn.execute("DELETE FROM sessions WHERE hash = ?1", [&h[..]])?;
        Ok(())
    }

    /// Whether the session with this hash is in the database (read in a
    /// transaction that writes on what it finds).
    pub fn lives(&self, conn: &Connection, h: &[u8; 32]) -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE hash = ?1)",
            [&h[..]],
            |r| r.get(0),
        )
    }

    /// Ends every session of an account but `keep` (after a password
    /// change, the session that changed it stays).
    pub fn end_all_of(
        &self,
        conn: &Connection,
        account_id: i64,
        keep: Option<&[u8; 32]>,
    ) -> rusqlite::Result<usize> {
        self.live
            .lock()
            .expect("sessions")
            .retain(|h, (s, _)| s.account_id != account_id || Some(h) == keep);
        let keep: &[u8] = keep.map_or(&[], |k| &k[..]);
        conn.execute(
            "DELETE FROM sessions WHERE account_id = ?1 AND hash != ?2",
            params![account_id, keep],
        )
    }

    /// Forgets expired sessions (database), and what this process read
    /// longer ago than `FRESH` (it would be read again anyway).
    pub fn sweep(&self, conn: &Connection) -> rusqlite::Result<()> {
        let now = Utc::now();
        self.live
            .lock()
            .expect("sessions")
            .retain(|_, (_, read)| read.elapsed() < FRESH);
        conn.execute(
            "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
            params![
                (now - self.idle).to_rfc3339(),
                (now - self.max).to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// The live sessions of an account, oldest first (from the database:
    /// every process's).
    pub fn of(&self, account_id: i64) -> rusqlite::Result<Vec<Session>> {
        let hashes: Vec<Vec<u8>> = {
            let conn = self.reader.lock().expect("sessions");
            let mut st = conn.prepare_cached("SELECT hash FROM sessions WHERE account_id = ?1")?;
            let rows = st.query_map([account_id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        listed(&self.live, hashes, |h| self.read(h), (self.idle, self.max))
    }

    /// Sessions this process holds in memory.
    pub fn cached(&self) -> usize {
        self.live.lock().expect("sessions").len()
    }

    /// How many times a request's session was read from the database.
    pub fn reads(&self) -> u64 {
        self.live.reads()
    }
}
