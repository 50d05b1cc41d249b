//! Prosecutors' sessions (`prosecutor_sessions`): as applicants'
//! (`crate::sessions`), kept by the SHA-256 of a 256-bit id in the accounts
//! database, shared by every server process, and for `sessions::FRESH` in
//! this process's memory, with the same idle and total lifetimes
//! (`server.session_idle_seconds`, `server.session_max_seconds`); a new id
//! at every sign-in, `p-` and 64 hex digits, so that a request looks in
//! this store only for an id of this form (`ID_PREFIX`). They are a store
//! of their own so that nothing made for an applicant's session (grants,
//! passwords, the applicants' account page) can ever take a prosecutor's,
//! and the other way round.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::sessions::{get_cached, hash, is_id, listed, Cached, CreateError, Kind, Live, FRESH};
use store::secret::random_bytes;

/// What a prosecutor's session id starts with (then 64 hex digits, as an
/// applicant's): an applicant's requests never look in this store.
pub const ID_PREFIX: &str = "p-";

#[derive(Debug, Clone)]
pub struct ProsecutorSession {
    pub hash: [u8; 32],
    /// Its page tag (`routes::page_tag`), as an applicant's session's.
    pub tag: String,
    pub prosecutor_id: i64,
    /// The MOJ account: the live snapshot's `prosecutors.account`.
    pub account: String,
    pub kind: Kind,
    pub csrf: String,
    /// The sign-in's ID token, for the provider's logout.
    pub id_token: Option<String>,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    persisted_seen: DateTime<Utc>,
}

pub struct ProsecutorSessions {
    /// Sessions served lately, with when each was read from the database.
    live: Live<ProsecutorSession>,
    reader: Mutex<Connection>,
    pub idle: Duration,
    pub max: Duration,
}

impl Cached for ProsecutorSession {
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

impl ProsecutorSessions {
    /// The sessions in the accounts database: `conn` deletes the expired
    /// ones now, `reader` (a connection of their own) reads them later.
    pub fn load(
        conn: &Connection,
        reader: Connection,
        idle: Duration,
        max: Duration,
    ) -> rusqlite::Result<ProsecutorSessions> {
        let store = ProsecutorSessions {
            live: Live::new(),
            reader: Mutex::new(reader),
            idle,
            max,
        };
        store.delete_expired(conn, Utc::now())?;
        Ok(store)
    }

    fn read(&self, h: &[u8; 32]) -> rusqlite::Result<Option<ProsecutorSession>> {
        let conn = self.reader.lock().expect("prosecutor sessions");
        let now = Utc::now();
        let max = self.max;
        let found = conn
            .prepare_cached(
                "SELECT s.prosecutor_id, p.account, s.kind, s.csrf, s.id_token,
                    s.created_at, s.last_seen_at
             FROM prosecutor_sessions s JOIN prosecutor_accounts p ON p.id = s.prosecutor_id
             WHERE s.hash = ?1",
            )?
            .query_row([&h[..]], |r| {
                let kind: String = r.get(2)?;
                let t = |s: String| {
                    DateTime::parse_from_rfc3339(&s).map_or(now - max, |t| t.with_timezone(&Utc))
                };
                let last_seen = t(r.get(6)?);
                Ok(ProsecutorSession {
                    hash: *h,
                    tag: crate::routes::page_tag(h),
                    prosecutor_id: r.get(0)?,
                    account: r.get(1)?,
                    kind: if kind == "api" {
                        Kind::Api
                    } else {
                        Kind::Browser
                    },
                    csrf: r.get(3)?,
                    id_token: r.get(4)?,
                    created: t(r.get(5)?),
                    last_seen,
                    persisted_seen: last_seen,
                })
            })
            .optional();
        found
    }

    fn delete_expired(&self, conn: &Connection, now: DateTime<Utc>) -> rusqlite::Result<()> {
        conn.execute(
            "DELETE FROM prosecutor_sessions WHERE last_seen_at < ?1 OR created_at < ?2",
            params![
                (now - self.idle).to_rfc3339(),
                (now - self.max).to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Starts a session with a new random id (for the cookie or bearer
    /// token).
    pub fn create(
        &self,
        conn: &Connection,
        prosecutor_id: i64,
        account: &str,
        kind: Kind,
        id_token: Option<&str>,
    ) -> Result<(String, ProsecutorSession), CreateError> {
        let id = format!(
            "{ID_PREFIX}{}",
            schemas::hex(&random_bytes::<32>().map_err(CreateError::Randomness)?)
        );
        let csrf = schemas::hex(&random_bytes::<16>().map_err(CreateError::Randomness)?);
        let now = Utc::now();
        let hash = hash(&id);
        let s = ProsecutorSession {
            hash,
            tag: crate::routes::page_tag(&hash),
            prosecutor_id,
            account: account.to_string(),
            kind,
            csrf,
            id_token: id_token.map(str::to_string),
            created: now,
            last_seen: now,
            persisted_seen: now,
        };
        conn.execute(
            "INSERT INTO prosecutor_sessions
                 (hash, prosecutor_id, kind, csrf, id_token, created_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                &s.hash[..],
                prosecutor_id,
                kind.as_str(),
                s.csrf,
                s.id_token,
                now.to_rfc3339()
            ],
        )?;
        self.live
            .lock()
            .expect("prosecutor sessions")
            .insert(s.hash, (s.clone(), Instant::now()));
        Ok((id, s))
    }

    /// The live session with this id and kind, touched; the second value
    /// is set when `last_seen_at` should be written back (as applicants':
    /// `sessions::get_cached`).
    pub fn get(&self, id: &str, kind: Kind) -> rusqlite::Result<Option<(ProsecutorSession, bool)>> {
        if !is_id(id, ID_PREFIX) {
            return Ok(None);
        }
        let h = hash(id);
        get_cached(&self.live, h, kind, (self.idle, self.max), || self.read(&h))
    }

    pub fn end(&self, conn: &Connection, h: &[u8; 32]) -> rusqlite::Result<()> {
        self.live.lock().expect("prosecutor sessions").remove(h);
        conn.execute("DELETE FROM prosecutor_sessions WHERE hash = ?1", [&h[..]])?;
        Ok(())
    }

    /// The prosecutor's live sessions, browsers' and apps', oldest first
    /// (the account page's list), as applicants' (`Sessions::of`).
    pub fn of(&self, prosecutor_id: i64) -> rusqlite::Result<Vec<ProsecutorSession>> {
        let hashes: Vec<Vec<u8>> = {
            let conn = self.reader.lock().expect("prosecutor sessions");
            let mut st = conn
                .prepare_cached("SELECT hash FROM prosecutor_sessions WHERE prosecutor_id = ?1")?;
            let rows = st.query_map([prosecutor_id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        listed(&self.live, hashes, |h| self.read(h), (self.idle, self.max))
    }

    /// Ends every session of the prosecutor's but `keep` (the browser
    /// asking): other browsers and the apps' bearer tokens. Other processes
    /// read a session again within `FRESH`, and find it gone.
    pub fn end_all_of(
        &self,
        conn: &Connection,
        prosecutor_id: i64,
        keep: &[u8; 32],
    ) -> rusqlite::Result<usize> {
        self.live
            .lock()
            .expect("prosecutor sessions")
            .retain(|h, (s, _)| s.prosecutor_id != prosecutor_id || h == keep);
        conn.execute(
            "DELETE FROM prosecutor_sessions WHERE prosecutor_id = ?1 AND hash != ?2",
            params![prosecutor_id, &keep[..]],
        )
    }

    /// Forgets expired sessions (memory and database).
    pub fn sweep(&self, conn: &Connection) -> rusqlite::Result<()> {
        let now = Utc::now();
        self.live
            .lock()
            .expect("prosecutor sessions")
            .retain(|_, (_, read)| read.elapsed() < FRESH);
        self.delete_expired(conn, now)
    }

    pub fn count(&self) -> usize {
        self.live.lock().expect("prosecutor sessions").len()
    }

    /// How many times a request's session was read from the database.
    pub fn reads(&self) -> u64 {
        self.live.reads()
    }
}
