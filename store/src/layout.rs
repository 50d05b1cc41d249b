//! The data directory and the publish protocol.
//!
//! ```text
//! <data>/CURRENT                      name of the live snapshot, one line
//! <data>/snapshots/20261124-1.sqlite  published snapshots, read-only files
//! <data>/snapshots/.building-*        a build in progress (stale after a crash)
//! <data>/reports/20261124.json        one report per import run
//! <data>/snapshots/20261124-1.sqlite.sha256  its checksum, as sha256sum writes it
//! <data>/import.lock                  held by the one running import
//! ```
//!
//! Publishing: the snapshot is built in a temp file, sealed (fsynced, made
//! read-only, its SHA-256 computed: `Store::seal`), then its SHA-256 is
//! recorded beside it (`<name>.sha256`, fsynced), renamed to its final name,
//! and the directory fsynced; then `CURRENT` is replaced the same way (temp
//! file, fsync, rename, fsync directory). A crash at any moment leaves
//! `CURRENT` naming either the old snapshot or the new one, both complete. A
//! re-run of the same night gets a new build number, so a published file is
//! never replaced or modified.
//!
//! Every use of a published snapshot (carry-over, the mail's diff, rollback,
//! `dump`, serving) first checks its content against the recorded checksum
//! (`Store::verify`): SQLite's own checks pass on a file whose text was
//! silently changed, and a damaged snapshot must never be carried into the
//! next night or shown to anyone. `sha256sum -c <name>.sha256` checks the
//! same by hand.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use schemas::date::{compact, parse_batch_date};

#[cfg(feature = "writer")]
mod write;
#[cfg(feature = "writer")]
pub use write::{Lock, LockError, Sealed};

const CURRENT: &str = "CURRENT";

/// `CURRENT`'s identity at a moment ([`Store::current_stamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentStamp {
    inode: (u64, u64),
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}
const SUFFIX: &str = ".sqlite";
const CHECKSUM: &str = ".sha256";

/// A published snapshot file: `<date>-<build>.sqlite`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotFile {
    pub date: NaiveDate,
    pub build: u32,
    pub path: PathBuf,
}

impl SnapshotFile {
    pub fn name(&self) -> String {
        format!("{}-{}{SUFFIX}", compact(self.date), self.build)
    }

    /// Where its checksum is recorded: `<file>.sha256`.
    pub fn checksum_path(&self) -> PathBuf {
        checksum_path(&self.path)
    }

    /// The SHA-256 recorded when it was published (lower-case hex), or
    /// why there is none.
    pub fn recorded_checksum(&self) -> Result<String, Damaged> {
        let checksum = self.checksum_path();
        fs::read_to_string(&checksum)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                text.split_whitespace()
                    .next()
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_ascii_lowercase)
                    .ok_or_else(|| "not a SHA-256 line".to_string())
            })
            .map_err(|reason| Damaged::NoChecksum {
                file: self.path.clone(),
                checksum,
                reason,
            })
    }

    fn parse(dir: &Path, name: &str) -> Option<SnapshotFile> {
        let stem = name.strip_suffix(SUFFIX)?;
        let (date, build) = stem.split_once('-')?;
        Some(SnapshotFile {
            date: parse_batch_date(date)?,
            build: build.parse().ok().filter(|b| *b > 0)?,
            path: dir.join(name),
        })
    }
}

/// The data directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

/// What to do when a snapshot to be read or put live is damaged; the
/// message of [`Damaged`] says only what is wrong, since what to do
/// depends on what the file was wanted for (for a night's comparison, its
/// mail's remedies: `etl::notify`).
pub const REPLACE_DAMAGED: &str = "Restore it from a backup (check the copy against the checksum \
     beside it, then rename it into place: docs/OPERATIONS.md, \"Restoring a snapshot from \
     backup\"), roll back to another kept snapshot (`cpor-etl snapshots`, `cpor-etl rollback \
     <date>`), or import its night's batch again (`cpor-etl import <batch>`; `--force` only for \
     a night older than the live one)";

/// What restoring a damaged snapshot means (each message that asks for it
/// says this): a copy checked against the recorded checksum, renamed into
/// place, never written into the file, which a running `send` or import
/// may have mapped.
pub const RESTORE: &str = "restore the file from a backup (check it against the checksum beside \
     it, then rename it into place: docs/OPERATIONS.md, \"Restoring a snapshot from backup\")";

/// Why a published snapshot must not be used.
#[derive(Debug, thiserror::Error)]
pub enum Damaged {
    #[error(
        "{file}: no checksum recorded ({checksum} is missing or unreadable: {reason}); \
         it cannot be trusted"
    )]
    NoChecksum {
        file: PathBuf,
        checksum: PathBuf,
        reason: String,
    },
    #[error(
        "{file} is DAMAGED: its content's SHA-256 is {found}, but {recorded} was recorded when it \
         was published; do not use it, and check the disk"
    )]
    Mismatch {
        file: PathBuf,
        recorded: String,
        found: String,
    },
    #[error("{file}: cannot be read to check it: {source}")]
    Unreadable {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// The live snapshot, if any.
    pub fn live(&self) -> io::Result<Option<SnapshotFile>> {
        let name = match fs::read_to_string(self.root.join(CURRENT)) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        SnapshotFile::parse(&self.snapshots_dir(), &name)
            .filter(|f| f.path.is_file())
            .map(Some)
            .ok_or_else(|| {
                // (what to do said here, where every command meets it: each
                // said only this, and none of the commands it named worked;
                // the admin review of the fifty-second session)
                io::Error::other(format!(
                    "CURRENT names `{name}`, which is not a kept snapshot (missing from {}: \
                     deleted or moved?). Restore it from backup under that name (check the copy \
                     against {name}.sha256 beside it, then rename it into place: \
                     docs/OPERATIONS.md, \"Restoring a snapshot from backup\"), or `cpor-etl \
                     rollback <date>` to a kept one (`cpor-etl snapshots` lists them)",
                    self.snapshots_dir().display()
                ))
            })
    }

    /// The name `CURRENT` holds, whether or not that file is kept; `None`
    /// without a `CURRENT`.
    pub fn current_name(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(self.root.join(CURRENT)) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What `CURRENT` is now, from one `stat` (no read): whether it was
    /// replaced since an earlier stamp, cheaply enough to ask before each
    /// message `cpor-etl send` hands over. A publish or rollback replaces
    /// the file (a new inode, written at a later time), so a stamp
    /// unchanged means [`Self::live`] names the same snapshot. `None`:
    /// there is no `CURRENT`.
    pub fn current_stamp(&self) -> io::Result<Option<CurrentStamp>> {
        use std::os::unix::fs::MetadataExt;
        match fs::metadata(self.root.join(CURRENT)) {
            Ok(m) => Ok(Some(CurrentStamp {
                inode: (m.dev(), m.ino()),
                size: m.size(),
                modified: (m.mtime(), m.mtime_nsec()),
                changed: (m.ctime(), m.ctime_nsec()),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every published snapshot, oldest first.
    pub fn kept(&self) -> io::Result<Vec<SnapshotFile>> {
        let dir = self.snapshots_dir();
        let mut out = Vec::new();
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let name = entry?.file_name();
                    if let Some(f) = SnapshotFile::parse(&dir, &name.to_string_lossy()) {
                        out.push(f);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        out.sort();
        Ok(out)
    }

    /// The newest build of `date`.
    pub fn find(&self, date: NaiveDate) -> io::Result<Option<SnapshotFile>> {
        Ok(self.kept()?.into_iter().rfind(|f| f.date == date))
    }

    /// A snapshot by its file name, if kept.
    pub fn by_name(&self, name: &str) -> Option<SnapshotFile> {
        SnapshotFile::parse(&self.snapshots_dir(), name).filter(|f| f.path.is_file())
    }

    /// Checks a published snapshot's content against the checksum recorded
    /// when it was published. Call before using it for anything. One of
    /// the first releases', which recorded none, is checked whole by
    /// SQLite instead ([`Store::first_release`]).
    pub fn verify(&self, file: &SnapshotFile) -> Result<(), Damaged> {
        let recorded = match file.recorded_checksum() {
            Ok(recorded) => recorded,
            Err(none @ Damaged::NoChecksum { .. }) => return self.first_release(file, none),
            Err(other) => return Err(other),
        };
        let found = sha256_file(&file.path).map_err(|source| Damaged::Unreadable {
            file: file.path.clone(),
            source,
        })?;
        if found != recorded {
            return Err(Damaged::Mismatch {
                file: file.path.clone(),
                recorded,
                found,
            });
        }
        Ok(())
    }
}

/// The snapshot schema version the releases before checksums wrote (they
/// were recorded from 2026-11-30, a few hours before version 2).
const BEFORE_CHECKSUMS: i32 = 1;

impl Store {
    /// A snapshot with no checksum file (`none`, the error to give
    /// otherwise) that one of the first releases published: version 1,
    /// which wrote none. An upgraded installation's snapshots are all such
    /// (the upgrade review of the fifty-fourth session: refused, the site
    /// served nothing and the next night published nothing). SQLite's full
    /// check (`PRAGMA integrity_check`, every page and index) stands for
    /// the checksum, once: `cpor-etl` (the writer) then records it beside
    /// the file, as publishing does; `cpor-server`, which never writes
    /// there, checks it whole when it loads it. A file whose checksum is
    /// unreadable rather than missing, or of a later version, is refused.
    fn first_release(&self, file: &SnapshotFile, none: Damaged) -> Result<(), Damaged> {
        let missing = matches!(fs::metadata(file.checksum_path()), Err(e) if e.kind() == io::ErrorKind::NotFound);
        let conn = match schemas::open_snapshot_readonly(&file.path) {
            Ok(conn) if missing => conn,
            _ => return Err(none),
        };
        if !matches!(schemas::snapshot_version(&conn), Ok(BEFORE_CHECKSUMS)) {
            return Err(none);
        }
        let verdict: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| vec![e.to_string()]);
        drop(conn);
        if verdict != ["ok"] {
            let Damaged::NoChecksum {
                file,
                checksum,
                reason,
            } = none
            else {
                return Err(none);
            };
            return Err(Damaged::NoChecksum {
                file,
                checksum,
                reason: format!(
                    "{reason}; a first release's snapshot, which recorded none, and SQLite's \
                     check of it fails: {}",
                    verdict.join("; ")
                ),
            });
        }
        #[cfg(feature = "writer")]
        {
            // (recorded once; a copy that cannot be written is checked whole
            // again next time)
            if let Ok(sum) = sha256_file(&file.path) {
                let line = format!("{sum}  {}\n", file.name());
                let _ = Store::write_atomically(&file.checksum_path(), line.as_bytes());
            }
        }
        Ok(())
    }
}

fn checksum_path(snapshot: &Path) -> PathBuf {
    let mut p = snapshot.as_os_str().to_owned();
    p.push(CHECKSUM);
    PathBuf::from(p)
}

/// Lower-case hex SHA-256 of a file's bytes (SHA-NI where the CPU has it:
/// a national snapshot of ~360 MB in about a quarter of a second).
/// Makes the data directory `dir` (and any parent missing) readable by
/// this user alone, mode 0700, if it does not exist yet: what is in it
/// (password hashes, every party's address and cases, unused reset links)
/// is no other local user's, whatever the umask. One that exists is left
/// as it is (the runbook has it made so).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(schemas::hex(&hasher.finalize()))
}

#[cfg(all(test, feature = "writer"))]
mod tests {
    use super::write::CURRENT_TMP;
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_batch_date(s).unwrap()
    }

    fn fake_publish(store: &Store, date: &str) -> SnapshotFile {
        let date = d(date);
        let tmp = store.temp_path(date);
        fs::write(&tmp, b"x").unwrap();
        store.publish(Store::seal(&tmp).unwrap(), date).unwrap()
    }

    #[test]
    fn publish_names_builds_and_points_current() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        assert_eq!(store.live().unwrap(), None);
        let a = fake_publish(&store, "20261123");
        assert_eq!(a.name(), "20261123-1.sqlite");
        let b = fake_publish(&store, "20261123");
        assert_eq!(b.name(), "20261123-2.sqlite");
        assert_eq!(store.live().unwrap(), Some(b.clone()));
        assert!(fs::metadata(&b.path).unwrap().permissions().readonly());
        assert_eq!(
            fs::read_to_string(dir.path().join("CURRENT")).unwrap(),
            "20261123-2.sqlite\n"
        );
    }

    /// `send` asks before each grant mail it hands over whether a
    /// snapshot was published since it last looked: a publish and a
    /// rollback each change the stamp; asking does not.
    #[test]
    fn currents_stamp_changes_with_each_publish_and_rollback_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        assert_eq!(store.current_stamp().unwrap(), None);
        let a = fake_publish(&store, "20261123");
        let first = store.current_stamp().unwrap().expect("a stamp");
        assert_eq!(store.current_stamp().unwrap(), Some(first));
        store.live().unwrap();
        assert_eq!(store.current_stamp().unwrap(), Some(first));
        fake_publish(&store, "20261123");
        let second = store.current_stamp().unwrap().expect("a stamp");
        assert_ne!(first, second);
        store.point_current(&a).unwrap();
        let rolled_back = store.current_stamp().unwrap().expect("a stamp");
        assert_ne!(rolled_back, second);
        assert_ne!(rolled_back, first, "the same name, written again");
    }

    #[test]
    fn retention_keeps_newest_dates_and_the_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        for day in ["20261120", "20261121", "20261122", "20261122", "20261123"] {
            fake_publish(&store, day);
        }
        // Roll back to the oldest: it must survive retention.
        let oldest = store.find(d("20261120")).unwrap().unwrap();
        store.point_current(&oldest).unwrap();
        let removed: Vec<String> = store
            .retain(2, &[])
            .unwrap()
            .iter()
            .map(SnapshotFile::name)
            .collect();
        assert_eq!(removed, vec!["20261121-1.sqlite", "20261122-1.sqlite"]);
        let left: Vec<String> = store
            .kept()
            .unwrap()
            .iter()
            .map(SnapshotFile::name)
            .collect();
        assert_eq!(
            left,
            vec![
                "20261120-1.sqlite",
                "20261122-2.sqlite",
                "20261123-1.sqlite"
            ]
        );
    }

    #[test]
    fn stale_temps_are_cleaned_and_a_second_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        fs::write(store.temp_path(d("20261124")), b"half").unwrap();
        fs::write(dir.path().join(CURRENT_TMP), b"x").unwrap();
        let _held = store.lock().unwrap();
        let err = store.lock().unwrap_err();
        assert!(matches!(err, LockError::Held { .. }));
        let said = err.to_string();
        assert!(
            said.contains("another cpor-etl run holds the import lock"),
            "{said}"
        );
        // The one refused is told who holds it.
        assert!(
            said.contains(&format!("(pid {}: ", std::process::id())),
            "{said}"
        );
        assert_eq!(store.clean_stale().unwrap().len(), 2);
        assert!(store.kept().unwrap().is_empty());
    }

    /// Sealing makes the built file read-only and takes its checksum from
    /// the bytes as they are then; publishing records exactly that.
    #[test]
    fn sealing_makes_the_file_read_only_and_publishing_records_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        let tmp = store.temp_path(d("20261124"));
        let bytes = "案件進度 115/12/10".repeat(1000);
        fs::write(&tmp, &bytes).unwrap();
        let sealed = Store::seal(&tmp).unwrap();
        assert!(fs::metadata(&tmp).unwrap().permissions().readonly());
        let f = store.publish(sealed, d("20261124")).unwrap();
        assert!(!tmp.exists());
        assert_eq!(
            fs::read_to_string(f.checksum_path()).unwrap(),
            format!(
                "{}  20261124-1.sqlite\n",
                schemas::hex(&Sha256::digest(bytes.as_bytes()))
            )
        );
        assert!(fs::metadata(&f.path).unwrap().permissions().readonly());
    }

    /// A snapshot whose text was changed by one character (SQLite's own
    /// checks pass) is refused; so is one with no checksum.
    #[test]
    fn a_silently_changed_snapshot_fails_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        let tmp = store.temp_path(d("20261124"));
        fs::write(&tmp, "法院 請求 entries".as_bytes()).unwrap();
        let f = store
            .publish(Store::seal(&tmp).unwrap(), d("20261124"))
            .unwrap();
        store.verify(&f).unwrap();
        let line = fs::read_to_string(f.checksum_path()).unwrap();
        assert!(
            line.ends_with("  20261124-1.sqlite\n"),
            "sha256sum's format: {line}"
        );
        // 請 → 講: same length, same structure.
        let mut perms = fs::metadata(&f.path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&f.path, perms).unwrap();
        fs::write(&f.path, "法院 講求 entries".as_bytes()).unwrap();
        let err = store.verify(&f).unwrap_err();
        assert!(matches!(err, Damaged::Mismatch { .. }), "{err}");
        assert!(err.to_string().contains("DAMAGED"), "{err}");
        fs::remove_file(f.checksum_path()).unwrap();
        assert!(matches!(
            store.verify(&f).unwrap_err(),
            Damaged::NoChecksum { .. }
        ));
    }

    /// The upgrade review of the fifty-fourth session (serious): the first
    /// releases (schema version 1, before 2026-11-30) recorded no checksum,
    /// and a build that refuses a snapshot without one refused all of
    /// theirs after an upgrade: the site answered 503 and the next night
    /// published nothing, with no remedy that worked. A snapshot of that
    /// version with no checksum file is such a release's: SQLite's full
    /// check of it stands for the checksum, which `cpor-etl` (the writer)
    /// then records, as `sha256sum` would. A later version's with none is
    /// refused as before, and so is an old one that fails SQLite's check.
    #[test]
    fn a_first_release_snapshot_without_a_checksum_is_checked_whole_instead() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        let made = |name: &str, version: i32| {
            let f = SnapshotFile::parse(&store.snapshots_dir(), name).unwrap();
            let conn = rusqlite::Connection::open(&f.path).unwrap();
            conn.pragma_update(None, "application_id", schemas::SNAPSHOT_APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
            conn.execute_batch(
                "CREATE TABLE cases (id INTEGER PRIMARY KEY, text TEXT);
                 INSERT INTO cases (text) VALUES ('法院 請求 entries');",
            )
            .unwrap();
            drop(conn);
            f
        };
        let old = made("20261124-1.sqlite", 1);
        store.verify(&old).unwrap();
        assert_eq!(
            fs::read_to_string(old.checksum_path()).unwrap(),
            format!("{}  20261124-1.sqlite\n", sha256_file(&old.path).unwrap()),
            "recorded by the writer, as publishing records it"
        );
        store.verify(&old).unwrap();
        let newer = made("20261125-1.sqlite", schemas::SNAPSHOT_SCHEMA_VERSION);
        assert!(matches!(
            store.verify(&newer).unwrap_err(),
            Damaged::NoChecksum { .. }
        ));
        assert!(!newer.checksum_path().exists());
        // An old one SQLite finds damaged: refused, nothing recorded.
        let bad = made("20261123-1.sqlite", 1);
        let mut bytes = fs::read(&bad.path).unwrap();
        let at = bytes.len() - 4096 + 8;
        bytes[at..at + 4].copy_from_slice(&[0xff; 4]);
        fs::write(&bad.path, bytes).unwrap();
        let err = store.verify(&bad).unwrap_err();
        assert!(matches!(err, Damaged::NoChecksum { .. }), "{err}");
        assert!(err.to_string().contains("SQLite"), "{err}");
        assert!(!bad.checksum_path().exists());
    }

    #[test]
    fn retention_removes_checksums_with_their_snapshots_and_keeps_what_mail_needs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        for day in ["20261121", "20261122", "20261123"] {
            fake_publish(&store, day);
        }
        let removed = store.retain(1, &["20261121-1.sqlite".to_string()]).unwrap();
        let names: Vec<String> = removed.iter().map(SnapshotFile::name).collect();
        assert_eq!(names, vec!["20261122-1.sqlite"]);
        assert!(!removed[0].checksum_path().exists());
        assert!(store
            .find(d("20261121"))
            .unwrap()
            .unwrap()
            .checksum_path()
            .exists());
    }

    /// Temp files of killed runs are removed; a running process's are not.
    #[test]
    fn temp_files_of_dead_processes_and_orphan_checksums_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        let dead = 4_000_000; // above Linux's pid_max
        let stale = [
            dir.path().join(format!(".secret.key.tmp-{dead}")),
            dir.path().join(format!(".notify.pending.tmp-{dead}")),
            store
                .reports_dir()
                .join(format!(".20261124.json.tmp-{dead}")),
            store.snapshots_dir().join("20261124-9.sqlite.sha256"),
        ];
        let alive = store
            .reports_dir()
            .join(format!(".send.json.tmp-{}", std::process::id()));
        for p in stale.iter().chain([&alive]) {
            fs::write(p, b"x").unwrap();
        }
        let published = fake_publish(&store, "20261123");
        let removed = store.clean_stale().unwrap();
        for p in &stale {
            assert!(removed.contains(p) && !p.exists(), "{}", p.display());
        }
        assert!(alive.exists(), "a running process's temp file stays");
        assert!(published.checksum_path().exists());
    }

    /// A data directory that cannot be written is an error with the OS's
    /// reason, not "another run holds the lock".
    #[test]
    fn an_unwritable_directory_is_not_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("does-not-exist"));
        let err = store.lock().unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert!(err.to_string().contains("No such file"), "{err}");
    }
}
