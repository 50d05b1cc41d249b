//! Sessions: who is signed in. The accounts database keeps each session
//! (by the SHA-256 of its id) so a restart signs nobody out; this module
//! keeps them in memory too, so checking one costs no database read, and
//! writes `last_seen_at` back lazily through the background writer.
//!
//! Ids are 256 random bits. A session ends `idle` after its last request
//! and `max` after login; a new id is issued at every login; a password
//! change or reset ends every other session of the account.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection};
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
    pub account_id: i64,
    pub email: String,
    pub kind: Kind,
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    persisted_seen: DateTime<Utc>,
}

pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
    pub idle: Duration,
    pub max: Duration,
}

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

impl Sessions {
    /// Loads the sessions still alive from the accounts database.
    pub fn load(conn: &Connection, idle: Duration, max: Duration) -> rusqlite::Result<Sessions> {
        let now = Utc::now();
        let mut st = conn.prepare(
            "SELECT s.hash, s.account_id, a.email, s.kind, s.csrf, s.created_at, s.last_seen_at
             FROM sessions s JOIN accounts a ON a.id = s.account_id",
        )?;
        let rows = st.query_map([], |r| {
            let hash: Vec<u8> = r.get(0)?;
            let kind: String = r.get(3)?;
            let t = |s: String| {
                DateTime::parse_from_rfc3339(&s).map_or(now - max, |t| t.with_timezone(&Utc))
            };
            let last_seen = t(r.get(6)?);
            Ok(Session {
                hash: hash.try_into().unwrap_or([0; 32]),
                account_id: r.get(1)?,
                email: r.get(2)?,
                kind: if kind == "api" {
                    Kind::Api
                } else {
                    Kind::Browser
                },
                csrf: r.get(4)?,
                created: t(r.get(5)?),
                last_seen,
                persisted_seen: last_seen,
            })
        })?;
        let mut live = HashMap::new();
        for s in rows {
            let s = s?;
            if now - s.last_seen < idle && now - s.created < max {
                live.insert(s.hash, s);
            }
        }
        conn.execute(
            "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
            params![(now - idle).to_rfc3339(), (now - max).to_rfc3339()],
        )?;
        Ok(Sessions {
            live: Mutex::new(live),
            idle,
            max,
        })
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
        let s = Session {
            hash: hash(&id),
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
            .insert(s.hash, s.clone());
        Ok((id, s))
    }

    /// The live session with this id and kind, touched. The second value
    /// is set when `last_seen_at` should be written back.
    pub fn get(&self, id: &str, kind: Kind) -> Option<(Session, bool)> {
        let h = hash(id);
        let now = Utc::now();
        let mut live = self.live.lock().expect("sessions");
        let s = live.get_mut(&h)?;
        if s.kind != kind {
            return None;
        }
        if now - s.last_seen >= self.idle || now - s.created >= self.max {
            live.remove(&h);
            return None;
        }
        s.last_seen = now;
        let persist = (now - s.persisted_seen).num_seconds() >= PERSIST_EVERY;
        if persist {
            s.persisted_seen = now;
        }
        Some((s.clone(), persist))
    }

    /// Ends one session.
    pub fn end(&self, conn: &Connection, h: &[u8; 32]) -> rusqlite::Result<()> {
        self.live.lock().expect("sessions").remove(h);
        conn.execute("DELETE FROM sessions WHERE hash = ?1", [&h[..]])?;
        Ok(())
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
            .retain(|h, s| s.account_id != account_id || Some(h) == keep);
        let keep: &[u8] = keep.map_or(&[], |k| &k[..]);
        conn.execute(
            "DELETE FROM sessions WHERE account_id = ?1 AND hash != ?2",
            params![account_id, keep],
        )
    }

    /// Forgets expired sessions (memory and database).
    pub fn sweep(&self, conn: &Connection) -> rusqlite::Result<()> {
        let now = Utc::now();
        self.live
            .lock()
            .expect("sessions")
            .retain(|_, s| now - s.last_seen < self.idle && now - s.created < self.max);
        conn.execute(
            "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
            params![
                (now - self.idle).to_rfc3339(),
                (now - self.max).to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// The live sessions of an account, oldest first.
    pub fn of(&self, account_id: i64) -> Vec<Session> {
        let now = Utc::now();
        let mut all: Vec<Session> = self
            .live
            .lock()
            .expect("sessions")
            .values()
            .filter(|s| s.account_id == account_id)
            .filter(|s| now - s.last_seen < self.idle && now - s.created < self.max)
            .cloned()
            .collect();
        all.sort_by_key(|s| s.created);
        all
    }

    pub fn count(&self) -> usize {
        self.live.lock().expect("sessions").len()
    }
}
