//! Every SQL schema of cpor, and the machine-readable export contract.
//!
//! This crate owns the DDL: no other crate writes `CREATE TABLE`. It also owns
//! the snapshot's identity (application id and schema version) and the one
//! function that opens a published snapshot for reading, so the ETL's
//! administrators' commands and the website refuse the same unknown files.
//! The courts' export contract (`contract/export-format.toml`) is parsed here
//! so headers, court names and scope rules exist in one place.

pub mod contract;

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

pub use contract::{contract, Contract, Court, FileKindSpec};

/// `PRAGMA application_id` of every cpor snapshot ("CPOR" in ASCII).
pub const SNAPSHOT_APPLICATION_ID: i32 = 0x4350_4F52;

/// Version of the snapshot schema this build writes and reads.
pub const SNAPSHOT_SCHEMA_VERSION: i32 = 1;

/// Snapshot tables, created before the bulk load.
pub const SNAPSHOT_TABLES: &str = include_str!("../snapshot/v1-tables.sql");

/// Snapshot indexes, created after the bulk load.
pub const SNAPSHOT_INDEXES: &str = include_str!("../snapshot/v1-indexes.sql");

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
    #[error("{path}: snapshot schema version {found}, this build knows only version {known}")]
    UnknownVersion {
        path: String,
        found: i32,
        known: i32,
    },
}

/// Opens a published snapshot read-only and checks that this build knows its
/// schema. Published snapshots are immutable, so readers never write.
pub fn open_snapshot_readonly(path: &Path) -> Result<Connection, OpenError> {
    let shown = path.display().to_string();
    let sqlite = |source| OpenError::Sqlite {
        path: shown.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
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
    if version != SNAPSHOT_SCHEMA_VERSION {
        return Err(OpenError::UnknownVersion {
            path: shown,
            found: version,
            known: SNAPSHOT_SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(dir: &Path, app_id: i32, version: i32) -> std::path::PathBuf {
        let path = dir.join(format!("s-{app_id}-{version}.sqlite"));
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SNAPSHOT_TABLES).unwrap();
        conn.execute_batch(SNAPSHOT_INDEXES).unwrap();
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
