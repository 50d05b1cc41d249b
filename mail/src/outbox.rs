//! The outbox database (`<data>/outbox.sqlite`): the durable queue between
//! whoever decides to write to someone (the nightly import, the website) and
//! the mail server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::Connection;

pub const OUTBOX_DB: &str = "outbox.sqlite";

/// Opens the outbox of a data directory, migrating it.
pub fn open(data_dir: &Path) -> Result<Connection, schemas::MigrateError> {
    schemas::open_migrated(&data_dir.join(OUTBOX_DB), schemas::OUTBOX_MIGRATIONS)
}

/// The addresses a query selects (its first column).
pub fn addresses(conn: &Connection, sql: &str) -> Result<BTreeSet<String>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// Counts of items per state, for a summary.
pub fn counts_by_state(
    outbox: &Connection,
    night: Option<&str>,
) -> Result<BTreeMap<String, u64>, String> {
    let mut stmt = outbox
        .prepare("SELECT state, count(*) FROM items WHERE ?1 IS NULL OR night = ?1 GROUP BY state")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([night], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}
