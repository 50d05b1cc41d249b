//! Old snapshots for tests: a snapshot this build published, made what an
//! earlier build would have published from the same night, so that the
//! import's and the website's tests can check they still read it. Shared
//! by both test crates (`#[path]`).

/// Makes a snapshot of this build's version (6, with version 5's tables) what a build of version 4
/// would have published from the same night: the lists and digests as rows
/// of `hearings` and `extracted` (version 4's tables) instead of chunks.
pub fn as_version_4(conn: &rusqlite::Connection) {
    use schemas::hearing_store::{Cursor, Layout};
    assert_eq!(Layout::read(conn).unwrap(), Layout::Chunks);
    let digests = Layout::Chunks.digests(conn, 1, i64::MAX).unwrap();
    let mut lists = Vec::new();
    {
        let sql = Layout::Chunks.range_sql().unwrap();
        let mut stmt = conn.prepare(&sql).unwrap();
        let mut cursor = Cursor::new(
            Layout::Chunks,
            stmt.query([1, i64::MAX]).unwrap(),
            1,
            i64::MAX,
        );
        while let Some((id, list)) = cursor.next_list().unwrap() {
            lists.push((id, list.to_vec()));
        }
    }
    assert!(!lists.is_empty() && !digests.is_empty());
    conn.execute_batch(
        "CREATE TABLE hearings (
             case_id INTEGER PRIMARY KEY REFERENCES cases (id),
             list    BLOB    NOT NULL CHECK (length(list) > 0));
         CREATE TABLE extracted (
             case_id INTEGER PRIMARY KEY REFERENCES cases (id),
             digest  INTEGER NOT NULL);
         DROP TABLE hearing_chunks;",
    )
    .unwrap();
    for (id, list) in lists {
        conn.execute(
            "INSERT INTO hearings VALUES (?1, ?2)",
            rusqlite::params![id, list],
        )
        .unwrap();
    }
    for (id, digest) in digests {
        conn.execute(
            "INSERT INTO extracted VALUES (?1, ?2)",
            rusqlite::params![id, digest as i64],
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE meta SET value = '4' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 4).unwrap();
    conn.execute_batch("VACUUM").unwrap();
}

/// Publishes a copy of the live snapshot of the data directory `data`,
/// changed by `edit`, as the next snapshot of the same night (written
/// first in `scratch`, a directory of the same file system).
pub fn republish_live(
    data: &std::path::Path,
    scratch: &std::path::Path,
    edit: impl FnOnce(&rusqlite::Connection),
) {
    let store = store::layout::Store::new(data);
    let live = store.live().unwrap().unwrap();
    let temp = scratch.join("edited.sqlite");
    std::fs::copy(&live.path, &temp).unwrap();
    writable(&temp);
    edit(&rusqlite::Connection::open(&temp).unwrap());
    store
        .publish(store::layout::Store::seal(&temp).unwrap(), live.date)
        .unwrap();
}

/// Makes a file (a copy of a read-only published snapshot) writable.
pub fn writable(path: &std::path::Path) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
}
