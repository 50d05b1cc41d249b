//! Building a snapshot file: tables from `schemas`, a bulk load in key order
//! inside one transaction, indexes after the load, then verification.
//!
//! The file is a private temp file until published, so durability settings
//! are off while loading (no journal, no syncs); the publish step fsyncs it
//! before anyone can see it.

use std::path::Path;

use chrono::NaiveDate;
use rusqlite::{params, Connection};
use schemas::{
    SNAPSHOT_APPLICATION_ID, SNAPSHOT_INDEXES, SNAPSHOT_SCHEMA_VERSION, SNAPSHOT_TABLES,
};

use crate::date::compact;
use crate::failpoint::pause;
use crate::model::CourtData;

/// Row counts of a snapshot's tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub courts: u64,
    pub cases: u64,
    pub entries: u64,
    pub grants: u64,
    pub prosecutors: u64,
}

impl Counts {
    /// What the snapshot must hold once `courts` are written.
    pub fn expected(courts: &[CourtData]) -> Counts {
        let mut c = Counts {
            courts: courts.len() as u64,
            ..Counts::default()
        };
        for case in courts.iter().flat_map(|c| &c.cases) {
            c.cases += 1;
            c.entries += case.entries.len() as u64;
            c.grants += case.grants.len() as u64;
            c.prosecutors += case.prosecutors.len() as u64;
        }
        c
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("verification failed: {0}")]
    Verify(String),
}

/// Writes `courts` (sorted by code, each with cases sorted by key) into a
/// new snapshot at `path`, then verifies it. `progress` is told each case.
pub fn build(
    path: &Path,
    batch_date: NaiveDate,
    courts: &[CourtData],
    progress: &dyn Fn(u64),
) -> Result<Counts, WriteError> {
    let started = std::time::Instant::now();
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -262144;",
    )?;
    conn.pragma_update(None, "application_id", SNAPSHOT_APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", SNAPSHOT_SCHEMA_VERSION)?;
    conn.execute_batch(SNAPSHOT_TABLES)?;

    let tx = conn.transaction()?;
    {
        let mut meta = tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
        meta.execute(params!["batch_date", compact(batch_date)])?;
        meta.execute(params![
            "schema_version",
            SNAPSHOT_SCHEMA_VERSION.to_string()
        ])?;
        let mut court_stmt = tx.prepare(
            "INSERT INTO courts (code, name, as_of, carried_over, carry_reason) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut case_stmt = tx.prepare(
            "INSERT INTO cases (id, court, category, year, word, number, division, status, status_date, queryable)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut entry_stmt = tx.prepare(
            "INSERT INTO entries (case_id, rank, seq, posted, text, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut grant_stmt = tx.prepare(
            "INSERT INTO grants (case_id, email, role, approved) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut prosecutor_stmt =
            tx.prepare("INSERT INTO prosecutors (case_id, account) VALUES (?1, ?2)")?;

        let mut id: i64 = 0;
        for court in courts {
            court_stmt.execute(params![
                court.code,
                court.name,
                court.as_of.to_string(),
                court.carry_reason.is_some(),
                court.carry_reason
            ])?;
            for case in &court.cases {
                id += 1;
                case_stmt.execute(params![
                    id,
                    court.code,
                    case.key.category,
                    case.key.year,
                    case.key.word,
                    case.key.number,
                    case.division,
                    case.status,
                    case.status_date.map(|d| d.to_string()),
                    case.queryable
                ])?;
                for (rank, e) in case.entries.iter().enumerate() {
                    entry_stmt.execute(params![
                        id,
                        rank as i64 + 1,
                        e.seq,
                        e.posted.to_string(),
                        e.text,
                        e.modified.format("%Y-%m-%d %H:%M:%S").to_string()
                    ])?;
                }
                for g in &case.grants {
                    grant_stmt.execute(params![id, g.email, g.role, g.approved.to_string()])?;
                }
                for p in &case.prosecutors {
                    prosecutor_stmt.execute(params![id, p])?;
                }
                if id % 4096 == 0 {
                    progress(4096);
                }
            }
        }
        progress(id as u64 % 4096);
    }
    pause("before-commit");
    tx.commit()?;
    let t = std::time::Instant::now();
    tracing::debug!("rows inserted in {:?}", started.elapsed());
    conn.execute_batch(SNAPSHOT_INDEXES)?;
    tracing::debug!("indexes in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    conn.execute_batch("ANALYZE")?;
    tracing::debug!("analyze in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    verify(&conn, Counts::expected(courts))?;
    tracing::debug!("verify in {:?}", t.elapsed());
    conn.close().map_err(|(_, e)| e)?;
    Ok(Counts::expected(courts))
}

/// Checks the file before it may be published: SQLite's own integrity and
/// foreign-key checks, and that every table holds what was meant for it.
pub fn verify(conn: &Connection, expected: Counts) -> Result<(), WriteError> {
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if integrity != "ok" {
        return Err(WriteError::Verify(format!("integrity_check: {integrity}")));
    }
    let fk_violations: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?;
    if fk_violations != 0 {
        return Err(WriteError::Verify(format!(
            "{fk_violations} foreign key violations"
        )));
    }
    let count = |table: &str| -> Result<u64, rusqlite::Error> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
    };
    let found = Counts {
        courts: count("courts")?,
        cases: count("cases")?,
        entries: count("entries")?,
        grants: count("grants")?,
        prosecutors: count("prosecutors")?,
    };
    if found != expected {
        return Err(WriteError::Verify(format!(
            "table counts {found:?}, expected {expected:?}"
        )));
    }
    Ok(())
}
