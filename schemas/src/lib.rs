//! Every SQL schema of cpor, and the machine-readable export contract.
//!
//! This crate owns the DDL: no other crate writes `CREATE TABLE`. It also owns
//! the snapshot's identity (application id and schema version) and the one
//! function that opens a published snapshot for reading, so the ETL's
//! administrators' commands and the website refuse the same unknown files.
//! The courts' export contract (`contract/export-format.toml`) is parsed here
//! so headers, court names and scope rules exist in one place, with the
//! contract's vocabulary every other crate shares: ROC and integer dates
//! (`date`), the case key (`case`), how text reaches people (`text`), what
//! an entry says about hearings (`hearing`), how the snapshot stores a
//! case's hearings (`hearing_list`), and the calendar files that carry them
//! (`calendar`).

pub mod calendar;
pub mod case;
pub mod contract;
pub mod date;
pub mod hearing;
pub mod hearing_list;
pub mod hearing_store;
pub mod text;

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

pub use case::{CaseKey, CaseRef};
pub use contract::{contract, Contract, Court, FileKindSpec};

/// Lower-case hex of bytes (digests, tokens, keys, Message-IDs).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `PRAGMA application_id` of every cpor snapshot ("CPOR" in ASCII).
pub const SNAPSHOT_APPLICATION_ID: i32 = 0x4350_4F52;

/// Version of the snapshot schema this build writes: 2 added `hearings`, a
/// row per hearing; 3 packs a case's hearings into one row
/// (`hearing_list`); 4 adds `extracted`, what each case's hearings were
/// worked out from, so the next night works out only the changed cases;
/// 5 keeps both in `hearing_chunks`, 64 cases to a row (`hearing_store`);
/// 6 has version 5's tables, and a list may name an entry's second
/// hearing of a kind (`hearing_list::Origin::part`, a flag an older
/// build's reader refuses: it refuses the snapshot instead).
pub const SNAPSHOT_SCHEMA_VERSION: i32 = 6;

/// The first version whose `hearings` this build reads. Version 2's table
/// (never in a release) is not read: its hearings are treated as version
/// 1's, derived again from the stored entries when a court is carried over,
/// and none on the website until the next night.
pub const SNAPSHOT_HEARINGS_VERSION: i32 = 3;

/// The first version with digests (`extracted`) and
/// `meta.hearing_rules`.
pub const SNAPSHOT_EXTRACTED_VERSION: i32 = 4;

/// The first version with lists and digests in `hearing_chunks`.
pub const SNAPSHOT_CHUNKS_VERSION: i32 = 5;

/// A value of column `column` that does not read as what it should
/// (a hearing list, a chunk of them), as rusqlite's conversion error.
pub(crate) fn blob_error(
    column: usize,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Blob, Box::new(e))
}

/// Versions this build reads: the one it writes, and versions 1 to 5, so
/// the night after an upgrade still carries courts over from (and compares
/// with) the snapshot before it, and the website serves it until then.
pub const SNAPSHOT_READABLE_VERSIONS: &[i32] = &[1, 2, 3, 4, 5, 6];

/// Snapshot tables, created before the bulk load.
pub const SNAPSHOT_TABLES: &str = include_str!("../snapshot/v5-tables.sql");

/// Snapshot indexes, created after the bulk load (unchanged since version
/// 3).
pub const SNAPSHOT_INDEXES: &str = include_str!("../snapshot/v4-indexes.sql");

/// Version 1's tables and indexes: only for tests that build an old
/// snapshot to read.
pub const SNAPSHOT_V1_TABLES: &str = include_str!("../snapshot/v1-tables.sql");
pub const SNAPSHOT_V1_INDEXES: &str = include_str!("../snapshot/v1-indexes.sql");

/// Version 4's tables (its indexes are [`SNAPSHOT_INDEXES`]): only for
/// tests that build an old snapshot to read.
pub const SNAPSHOT_V4_TABLES: &str = include_str!("../snapshot/v4-tables.sql");

/// One numbered migration of a long-lived database: `schemas/<db>/NNNN_*.sql`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The file's number, `NNNN`.
    pub number: u32,
    pub sql: &'static str,
}

/// A migration by its file name under `schemas/`, numbered by its prefix.
macro_rules! migration {
    ($number:literal, $file:literal) => {
        Migration {
            number: $number,
            sql: include_str!(concat!("../", $file)),
        }
    };
}

/// Migrations of the accounts database, by number (shared with the
/// website). Numbers may have gaps: branches number their migrations apart,
/// and each is applied once whatever order they come in (0007, the
/// `flood` branch's, may come after 0008).
pub const ACCOUNTS_MIGRATIONS: &[Migration] = &[
    migration!(1, "accounts/0001_init.sql"),
    migration!(2, "accounts/0002_website.sql"),
    migration!(3, "accounts/0003_retention.sql"),
    migration!(4, "accounts/0004_prosecutors.sql"),
    migration!(5, "accounts/0005_hearings.sql"),
    migration!(6, "accounts/0006_shared_state.sql"),
    migration!(7, "accounts/0007_devices_and_buckets.sql"),
    migration!(8, "accounts/0008_prosecutor_feeds.sql"),
    migration!(9, "accounts/0009_prosecutor_feed_last_used.sql"),
    migration!(10, "accounts/0010_prosecutor_subjects.sql"),
    migration!(11, "accounts/0011_password_changes.sql"),
    migration!(12, "accounts/0012_prosecutor_daily_counts.sql"),
    migration!(13, "accounts/0013_daily_grants.sql"),
];

/// Migrations of the outbox database, by number.
pub const OUTBOX_MIGRATIONS: &[Migration] = &[
    migration!(1, "outbox/0001_init.sql"),
    migration!(2, "outbox/0002_web_mail.sql"),
    migration!(3, "outbox/0003_pending_nights.sql"),
    migration!(4, "outbox/0004_outcomes.sql"),
    migration!(5, "outbox/0005_reminders.sql"),
    migration!(6, "outbox/0006_leases.sql"),
    migration!(7, "outbox/0007_packed_messages.sql"),
    migration!(8, "outbox/0008_dictionaries.sql"),
    migration!(9, "outbox/0009_kept_8bit.sql"),
    migration!(10, "outbox/0010_published_nights.sql"),
    migration!(11, "outbox/0011_calendar_floors.sql"),
    migration!(12, "outbox/0012_told_snapshots.sql"),
    migration!(13, "outbox/0013_relays.sql"),
    migration!(14, "outbox/0014_grant_cases.sql"),
    migration!(15, "outbox/0015_expiry_behind.sql"),
    migration!(16, "outbox/0016_told_while_held.sql"),
    migration!(17, "outbox/0017_may_have_gone.sql"),
    migration!(18, "outbox/0018_warned_by_build.sql"),
    migration!(19, "outbox/0019_unknown_outcomes.sql"),
    migration!(20, "outbox/0020_claim_order.sql"),
    migration!(21, "outbox/0021_bounce_reports_and_flags.sql"),
    migration!(22, "outbox/0022_warned_at.sql"),
    migration!(23, "outbox/0023_site_urls.sql"),
    migration!(24, "outbox/0024_tried_at.sql"),
];

/// The runner's own record of what it applied: one row per migration
/// number. A file from before this table counted its migrations in
/// `user_version`, applied in order from 1: those are recorded when the
/// table is made.
const MIGRATIONS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY) WITHOUT ROWID";

/// How long a long-lived database's connection waits for another
/// process's write lock before it gives up ([`open_migrated`]).
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens (creating if needed) a long-lived database: WAL with full syncs, so
/// a committed change survives a crash, foreign keys on, a busy timeout for
/// the other process that shares it, and every listed migration applied
/// that the file does not have yet, in number order (one the file lacks
/// below one it has, another branch's merged later, is applied too).
/// `user_version` is the greatest number applied: a build that does not
/// know it (or any number the file records) refuses the file as newer.
///
/// Every transaction on the connection takes the write lock as it begins
/// (`BEGIN IMMEDIATE`), the default `transaction()` and
/// `unchecked_transaction()` too: in WAL mode SQLite refuses a read
/// transaction's first write at once, without waiting, when another
/// process writes meanwhile (a `send` records hundreds of outcomes a
/// second), where a transaction that begins with the lock waits for it
/// (the concurrency review of the fiftieth session: a rollback beside a
/// `send` did not hold its digests, an import did not queue its mail). A
/// transaction that only reads says so
/// (`transaction_with_behavior(Deferred)`). With nothing to migrate (every
/// open but the first after an upgrade) the check is a read, so opening
/// waits for no writer: `outbox pending` answers while an import queues
/// a night's mail.
pub fn open_migrated(path: &Path, migrations: &[Migration]) -> Result<Connection, MigrateError> {
    let shown = path.display().to_string();
    let sqlite = |source| MigrateError::Sqlite {
        path: shown.clone(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(sqlite)?;
    let known = migrations.iter().map(|m| m.number).max().unwrap_or(0);
    let newer = |found: u32| MigrateError::Newer {
        path: shown.clone(),
        found: found as usize,
        known: known as usize,
    };
    // What the file has applied, read as one snapshot (`None`: the
    // runner's table is not there yet); a file newer than this build is
    // refused.
    let applied_of = |conn: &Connection| -> Result<Option<BTreeSet<u32>>, MigrateError> {
        let version = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(sqlite)? as u32;
        if version > known {
            return Err(newer(version));
        }
        let has_table: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'schema_migrations'",
                [],
                |r| r.get(0),
            )
            .map_err(sqlite)?;
        if !has_table {
            return Ok(None);
        }
        let mut applied = BTreeSet::new();
        let mut st = conn
            .prepare("SELECT number FROM schema_migrations")
            .map_err(sqlite)?;
        let rows = st.query_map([], |r| r.get::<_, u32>(0)).map_err(sqlite)?;
        for n in rows {
            applied.insert(n.map_err(sqlite)?);
        }
        if applied.is_empty() {
            applied.extend(1..=version);
        }
        if let Some(unknown) = applied
            .iter()
            .find(|n| !migrations.iter().any(|m| m.number == **n))
        {
            return Err(newer(*unknown));
        }
        Ok(Some(applied))
    };
    let up_to_date = {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
            .map_err(sqlite)?;
        let applied = applied_of(&tx)?;
        let version = tx
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(sqlite)? as u32;
        applied.is_some_and(|a| {
            migrations.iter().all(|m| a.contains(&m.number))
                && a.last().copied().unwrap_or(0) == version
        })
    };
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    if up_to_date {
        return Ok(conn);
    }
    let tx = conn.transaction().map_err(sqlite)?;
    tx.execute_batch(MIGRATIONS_TABLE).map_err(sqlite)?;
    let mut applied = applied_of(&tx)?.unwrap_or_default();
    let mut sorted: Vec<&Migration> = migrations.iter().collect();
    sorted.sort_by_key(|m| m.number);
    for m in sorted {
        if !applied.contains(&m.number) {
            tx.execute_batch(m.sql).map_err(sqlite)?;
            applied.insert(m.number);
        }
    }
    for n in &applied {
        tx.execute(
            "INSERT OR IGNORE INTO schema_migrations (number) VALUES (?1)",
            [n],
        )
        .map_err(sqlite)?;
    }
    let top = applied.last().copied().unwrap_or(0);
    tx.pragma_update(None, "user_version", i64::from(top))
        .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(conn)
}

/// Why a long-lived database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: schema version {found} is newer than this build ({known}); upgrade cpor")]
    Newer {
        path: String,
        found: usize,
        known: usize,
    },
}

/// Why a file could not be opened as a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: cannot open as SQLite: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: not a cpor snapshot (application_id {found:#x})")]
    NotASnapshot { path: String, found: i32 },
    #[error("{path}: snapshot schema version {found}, this build reads versions {known:?}")]
    UnknownVersion {
        path: String,
        found: i32,
        known: &'static [i32],
    },
}

/// Opens a published snapshot read-only and checks that this build knows its
/// schema ([`SNAPSHOT_READABLE_VERSIONS`]; [`snapshot_version`] says which).
/// Published snapshots are immutable, so readers never write.
pub fn open_snapshot_readonly(path: &Path) -> Result<Connection, OpenError> {
    let shown = path.display().to_string();
    let sqlite = |source| OpenError::Sqlite {
        path: shown.clone(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // `immutable=1`: a published snapshot never changes, so SQLite may skip
    // its hot-journal check and file locks on every query (measured: about
    // an eighth of the website's CPU per case page).
    let conn = match path.to_str() {
        Some(p) => {
            let escaped = p
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23");
            Connection::open_with_flags(
                format!("file:{escaped}?immutable=1"),
                flags | OpenFlags::SQLITE_OPEN_URI,
            )
        }
        None => Connection::open_with_flags(path, flags),
    }
    .map_err(sqlite)?;
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sqlite)?;
    if app_id != SNAPSHOT_APPLICATION_ID {
        return Err(OpenError::NotASnapshot {
            path: shown,
            found: app_id,
        });
    }
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)?;
    if !SNAPSHOT_READABLE_VERSIONS.contains(&version) {
        return Err(OpenError::UnknownVersion {
            path: shown,
            found: version,
            known: SNAPSHOT_READABLE_VERSIONS,
        });
    }
    Ok(conn)
}

/// Makes what `conn` deletes from now on overwritten in the file
/// (`secure_delete`), not left in free space for anyone with the file (a
/// backup) to read: for the deletes personal data asks for (retention,
/// `forget-address`). Pair it with [`checkpoint_log`].
pub fn overwrite_deleted(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "secure_delete", true)
}

/// How long [`checkpoint_log`] waits for readers: while it waits, no
/// other process can write the database.
pub const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Moves the write-ahead log into the file and empties it (`TRUNCATE`), so
/// that older page images of deleted rows leave it too: at once unless a
/// reader holds the log (the server's, an administrator's `sqlite3`, a
/// backup copying), else at a later checkpoint. Waits for readers
/// [`CHECKPOINT_WAIT`] at most, not the connection's busy timeout: a
/// `TRUNCATE` checkpoint keeps every writer out while it waits, and with a
/// reader open for minutes it held the server's logins (503) and a `send`'s
/// outcomes (which stopped it part-way) for 10 s at a time (the
/// concurrency review of the fiftieth session). Best effort: returns
/// whether the log was emptied; a log still held is no error.
pub fn checkpoint_log(conn: &Connection) -> bool {
    let _ = conn.busy_timeout(CHECKPOINT_WAIT);
    // (busy, log pages, pages moved): emptied when not busy
    let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    matches!(done, Ok(0))
}

/// The value of a snapshot's `meta` row `key`, if it has one.
pub fn meta_value(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// A `meta` value that does not read as its key's form says: a conversion
/// error naming the key.
pub fn bad_meta(key: &str, why: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("meta.{key}: {why}").into(),
    )
}

/// The schema version of an open snapshot (`PRAGMA user_version`).
pub fn snapshot_version(conn: &Connection) -> rusqlite::Result<i32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The concurrency review of the fiftieth session: with a reader on
    /// the log, the checkpoint waited the connection's 10 s busy timeout,
    /// keeping every writer out. It waits [`CHECKPOINT_WAIT`], says the
    /// log is held, and the connection waits 10 s for writers again.
    #[test]
    fn a_checkpoint_beside_a_reader_waits_a_moment_and_says_the_log_is_held() {
        let dir = tempfile_dir().join("checkpoint");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("outbox.sqlite");
        let conn = open_migrated(&path, OUTBOX_MIGRATIONS).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let started = std::time::Instant::now();
        assert!(!checkpoint_log(&conn), "emptied under a reader");
        assert!(
            started.elapsed() < BUSY_TIMEOUT / 2,
            "waited {:?}",
            started.elapsed()
        );
        let busy_ms: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(busy_ms, BUSY_TIMEOUT.as_millis() as i64);
        reader.execute_batch("COMMIT").unwrap();
        assert!(checkpoint_log(&conn));
        assert_eq!(
            std::fs::metadata(dir.join("outbox.sqlite-wal"))
                .unwrap()
                .len(),
            0
        );
    }

    fn build(dir: &Path, app_id: i32, version: i32) -> std::path::PathBuf {
        let path = dir.join(format!("s-{app_id}-{version}.sqlite"));
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        if version < SNAPSHOT_HEARINGS_VERSION {
            conn.execute_batch(SNAPSHOT_V1_TABLES).unwrap();
            conn.execute_batch(SNAPSHOT_V1_INDEXES).unwrap();
        } else if version < SNAPSHOT_CHUNKS_VERSION {
            conn.execute_batch(SNAPSHOT_V4_TABLES).unwrap();
            conn.execute_batch(SNAPSHOT_INDEXES).unwrap();
        } else {
            conn.execute_batch(SNAPSHOT_TABLES).unwrap();
            conn.execute_batch(SNAPSHOT_INDEXES).unwrap();
        }
        conn.pragma_update(None, "application_id", app_id).unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        path
    }

    #[test]
    fn opens_a_current_snapshot_read_only() {
        let dir = tempfile_dir();
        let path = build(&dir, SNAPSHOT_APPLICATION_ID, SNAPSHOT_SCHEMA_VERSION);
        let conn = open_snapshot_readonly(&path).unwrap();
        let err = conn
            .execute("INSERT INTO meta VALUES ('k', 'v')", [])
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn reads_version_1_and_says_which() {
        let dir = tempfile_dir();
        let old = build(&dir, SNAPSHOT_APPLICATION_ID, 1);
        let conn = open_snapshot_readonly(&old).unwrap();
        assert_eq!(snapshot_version(&conn).unwrap(), 1);
        // Version 2 (a row per hearing, never in a release) is read too:
        // its other tables are version 1's.
        let two = build(&dir, SNAPSHOT_APPLICATION_ID, 2);
        let conn = open_snapshot_readonly(&two).unwrap();
        assert_eq!(snapshot_version(&conn).unwrap(), 2);
        let new = build(&dir, SNAPSHOT_APPLICATION_ID, SNAPSHOT_SCHEMA_VERSION);
        let conn = open_snapshot_readonly(&new).unwrap();
        assert_eq!(snapshot_version(&conn).unwrap(), 6);
        conn.query_row("SELECT count(*) FROM hearing_chunks", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
        // Version 5, whose tables version 6 has.
        let five = build(&dir, SNAPSHOT_APPLICATION_ID, 5);
        let conn = open_snapshot_readonly(&five).unwrap();
        assert_eq!(snapshot_version(&conn).unwrap(), 5);
        // Version 4 (`hearings` and `extracted`) is read too.
        let four = build(&dir, SNAPSHOT_APPLICATION_ID, 4);
        let conn = open_snapshot_readonly(&four).unwrap();
        assert_eq!(snapshot_version(&conn).unwrap(), 4);
        conn.query_row("SELECT count(*) FROM hearings", [], |r| r.get::<_, i64>(0))
            .unwrap();
        conn.query_row("SELECT count(*) FROM extracted", [], |r| r.get::<_, i64>(0))
            .unwrap();
        // Version 3 (no `extracted`) is read too.
        let three = build(&dir, SNAPSHOT_APPLICATION_ID, 3);
        let conn = open_snapshot_readonly(&three).unwrap();
        assert_eq!(snapshot_version(&conn).unwrap(), 3);
        let zero = build(&dir, SNAPSHOT_APPLICATION_ID, 0);
        assert!(matches!(
            open_snapshot_readonly(&zero),
            Err(OpenError::UnknownVersion { found: 0, .. })
        ));
    }

    #[test]
    fn refuses_unknown_version_and_foreign_files() {
        let dir = tempfile_dir();
        let newer = build(&dir, SNAPSHOT_APPLICATION_ID, SNAPSHOT_SCHEMA_VERSION + 1);
        assert!(matches!(
            open_snapshot_readonly(&newer),
            Err(OpenError::UnknownVersion { found, .. }) if found == SNAPSHOT_SCHEMA_VERSION + 1
        ));
        let foreign = build(&dir, 7, SNAPSHOT_SCHEMA_VERSION);
        assert!(matches!(
            open_snapshot_readonly(&foreign),
            Err(OpenError::NotASnapshot { found: 7, .. })
        ));
    }

    #[test]
    fn migrations_apply_once_and_newer_files_are_refused() {
        let dir = tempfile_dir();
        let path = dir.join("accounts.sqlite");
        let _ = std::fs::remove_file(&path);
        let conn = open_migrated(&path, ACCOUNTS_MIGRATIONS).unwrap();
        conn.execute(
            "INSERT INTO accounts (email, created_at) VALUES ('a@example.com', '2026-11-24T00:00:00Z')",
            [],
        )
        .unwrap();
        drop(conn);
        // Reopening applies nothing again and keeps the data.
        let conn = open_migrated(&path, ACCOUNTS_MIGRATIONS).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            open_migrated(&path, ACCOUNTS_MIGRATIONS),
            Err(MigrateError::Newer { found: 99, .. })
        ));
        let outbox = dir.join("outbox.sqlite");
        let _ = std::fs::remove_file(&outbox);
        open_migrated(&outbox, OUTBOX_MIGRATIONS).unwrap();
    }

    fn numbers(conn: &Connection) -> Vec<u32> {
        let mut st = conn
            .prepare("SELECT number FROM schema_migrations ORDER BY number")
            .unwrap();
        let rows = st.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Two branches number their migrations apart (0007, 0008); whichever
    /// is merged and run first, the other is applied when it comes, once.
    #[test]
    fn a_migration_merged_after_a_higher_numbered_one_is_still_applied() {
        let dir = tempfile_dir();
        let path = dir.join("gaps.sqlite");
        let _ = std::fs::remove_file(&path);
        let first = [
            Migration {
                number: 1,
                sql: "CREATE TABLE one (x)",
            },
            Migration {
                number: 3,
                sql: "CREATE TABLE three (x)",
            },
        ];
        let conn = open_migrated(&path, &first).unwrap();
        assert_eq!(numbers(&conn), [1, 3]);
        drop(conn);
        let later = [
            first[0],
            Migration {
                number: 2,
                sql: "CREATE TABLE two (x)",
            },
            first[1],
        ];
        let conn = open_migrated(&path, &later).unwrap();
        assert_eq!(numbers(&conn), [1, 2, 3]);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 3);
        drop(conn);
        // Applied once: a second open runs nothing (CREATE TABLE would fail).
        open_migrated(&path, &later).unwrap();
        // A build that lacks a migration the file has refuses it.
        assert!(matches!(
            open_migrated(&path, &later[..2]),
            Err(MigrateError::Newer { found: 3, .. })
        ));
    }

    /// A file from before the runner recorded numbers (user_version 6,
    /// migrations 1 to 6 applied in order) gets the later ones only.
    #[test]
    fn a_file_counted_by_user_version_gets_only_the_migrations_it_lacks() {
        let dir = tempfile_dir();
        let path = dir.join("old-accounts.sqlite");
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        for m in &ACCOUNTS_MIGRATIONS[..6] {
            conn.execute_batch(m.sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        drop(conn);
        let conn = open_migrated(&path, ACCOUNTS_MIGRATIONS).unwrap();
        let listed: Vec<u32> = ACCOUNTS_MIGRATIONS.iter().map(|m| m.number).collect();
        assert_eq!(numbers(&conn), listed);
        conn.query_row("SELECT count(*) FROM prosecutor_calendar_feeds", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    }

    /// Every migration file is listed, under the number its name gives,
    /// and nothing else is: a merge that renumbers or forgets one fails.
    #[test]
    fn every_migration_file_is_listed_under_its_own_number() {
        for (folder, listed) in [
            ("accounts", ACCOUNTS_MIGRATIONS),
            ("outbox", OUTBOX_MIGRATIONS),
        ] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
            let mut files: Vec<(u32, String)> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|f| f.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    let number = name[..4].parse().unwrap_or_else(|_| panic!("{name}"));
                    (number, std::fs::read_to_string(&p).unwrap())
                })
                .collect();
            files.sort();
            let got: Vec<(u32, String)> = listed
                .iter()
                .map(|m| (m.number, m.sql.to_string()))
                .collect();
            assert_eq!(got, files, "schemas/{folder}");
        }
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cpor-schemas-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
