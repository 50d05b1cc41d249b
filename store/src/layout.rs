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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::failpoint::pause;
use schemas::date::{compact, parse_batch_date};

const CURRENT: &str = "CURRENT";
const CURRENT_TMP: &str = "CURRENT.tmp";

/// `CURRENT`'s identity at a moment ([`Store::current_stamp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentStamp {
    inode: (u64, u64),
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}
const BUILDING: &str = ".building-";
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

/// Held while a run changes the live snapshot or the nights whose mail
/// waits (import, rollback, `send`'s catch-up, `outbox forget` and
/// `rediff`); released on drop or process death.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it: wait for it (exit 5).
    #[error("another cpor-etl run holds the {what} lock ({holder}; {path}); nothing changed")]
    Held {
        what: &'static str,
        holder: String,
        path: PathBuf,
    },
    /// The lock file cannot be made or locked at all (a read-only data
    /// directory, a full disk, a permission): an error, not a wait.
    #[error("{path}: cannot take the {what} lock: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What to do when a snapshot to be read or put live is damaged; the
/// message of [`Damaged`] says only what is wrong, since what to do
/// depends on what the file was wanted for (for a night's comparison, its
/// mail's remedies: `etl::notify`).
pub const REPLACE_DAMAGED: &str = "Roll back to another kept snapshot (`cpor-etl snapshots`, \
     `cpor-etl rollback <date>`), or re-import its night's batch with `cpor-etl import --force`";

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

    /// Writes a new report into `reports_dir` and returns its path:
    /// `<kind>-<UTC second>.json`, or for a second run within the same
    /// second, or at the same time, `<kind>-<second>_2.json`, and so on,
    /// named to sort after the first. The report is written whole and
    /// made durable under a temporary name, then linked under the first
    /// free name (a hard link is refused where a name is taken): nobody
    /// reading the directory ever sees a report empty or half-written, and
    /// a run killed at any moment leaves at most its temporary file, which
    /// [`Store::clean_stale`] removes. The reports directory must exist.
    pub fn write_new_report(
        &self,
        kind: &str,
        now: chrono::DateTime<chrono::Utc>,
        bytes: &[u8],
    ) -> io::Result<PathBuf> {
        let dir = self.reports_dir();
        let stamp = now.format("%Y%m%dT%H%M%SZ");
        let tmp = durable_temp(&dir, &format!("{kind}-{stamp}.json"), bytes)?;
        let linked = link_first_free(&tmp, |n| match n {
            1 => dir.join(format!("{kind}-{stamp}.json")),
            n => dir.join(format!("{kind}-{stamp}_{n}.json")),
        });
        fs::remove_file(&tmp)?;
        let path = linked?;
        sync_dir(&dir)?;
        Ok(path)
    }

    /// Removes the reports of `kind` ([`Store::write_new_report`]'s
    /// `<kind>-<UTC second>[_n].json`) written before `before`, by the time
    /// in their names (a copy's file time says nothing); returns how many.
    /// Any other file is left.
    pub fn prune_reports(
        &self,
        kind: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> io::Result<usize> {
        let prefix = format!("{kind}-");
        let mut removed = 0;
        for entry in fs::read_dir(self.reports_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stamp) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".json"))
                .map(|rest| rest.split('_').next().unwrap_or(rest))
            else {
                continue;
            };
            let Ok(at) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ") else {
                continue;
            };
            if at.and_utc() < before {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Before a night's report `<night>.json` is written again (a re-run):
    /// keeps the one there under the first free `<night>.<n>.json`, linked,
    /// so that every run's record stays; `<night>.json` is the latest.
    pub fn keep_earlier_report(path: &Path) -> io::Result<Option<PathBuf>> {
        let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else {
            return Ok(None);
        };
        if !path.exists() {
            return Ok(None);
        }
        let stem = stem.to_string_lossy();
        let kept = link_first_free(path, |n| dir.join(format!("{stem}.{n}.json")))?;
        sync_dir(dir)?;
        Ok(Some(kept))
    }

    /// Creates the directories a writer needs.
    pub fn create_dirs(&self) -> io::Result<()> {
        fs::create_dir_all(self.snapshots_dir())?;
        fs::create_dir_all(self.reports_dir())
    }

    /// Takes the import lock, or says who holds it.
    pub fn lock(&self) -> Result<Lock, LockError> {
        self.lock_named("import.lock", "import")
    }

    /// Takes the import lock, waiting up to `wait` for a run that holds
    /// it (a `send` catching up a night, an administrator's command), and
    /// telling `waiting` whom it waits for, once: the nightly import and
    /// the 5-minute `send` start at the same moment. Held still after
    /// `wait`: [`LockError::Held`].
    pub fn lock_waiting(
        &self,
        wait: std::time::Duration,
        waiting: impl FnOnce(&str),
    ) -> Result<Lock, LockError> {
        let deadline = std::time::Instant::now() + wait;
        let mut waiting = Some(waiting);
        loop {
            match self.lock() {
                Err(LockError::Held { holder, .. }) if std::time::Instant::now() < deadline => {
                    if let Some(say) = waiting.take() {
                        say(&holder);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                taken => return taken,
            }
        }
    }

    /// Takes the lock of `send`.
    pub fn send_lock(&self) -> Result<Lock, LockError> {
        self.lock_named("send.lock", "send")
    }

    fn lock_named(&self, name: &str, what: &'static str) -> Result<Lock, LockError> {
        let path = self.root.join(name);
        let io = |source| LockError::Io {
            what,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).ok();
                // Who holds it, for the one who waits: the pid and the
                // command (`cpor-etl send --now`).
                let command: Vec<String> = std::env::args().collect();
                let _ = writeln!(file, "pid {}: {}", std::process::id(), command.join(" "));
                Ok(Lock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => Err(LockError::Held {
                what,
                holder: fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                path,
            }),
            Err(fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// Removes what a killed run left behind. Call with the lock held:
    /// half-built snapshots, a half-written `CURRENT`, checksums whose
    /// snapshot was never published, and the temp files of
    /// `write_atomically` (`.<name>.tmp-<pid>`) whose process is gone.
    pub fn clean_stale(&self) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let tmp = self.root.join(CURRENT_TMP);
        if tmp.exists() {
            fs::remove_file(&tmp)?;
            removed.push(tmp);
        }
        let snapshots = self.snapshots_dir();
        for dir in [self.root.clone(), snapshots.clone(), self.reports_dir()] {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let stale = (dir == snapshots && name.starts_with(BUILDING))
                    || (dir == snapshots
                        && name.ends_with(CHECKSUM)
                        && !dir.join(name.trim_end_matches(CHECKSUM)).exists())
                    || temp_of_a_dead_process(&name);
                if stale {
                    fs::remove_file(entry.path())?;
                    removed.push(entry.path());
                }
            }
        }
        Ok(removed)
    }

    /// Where to build tonight's snapshot.
    pub fn temp_path(&self, date: NaiveDate) -> PathBuf {
        self.snapshots_dir().join(format!(
            "{BUILDING}{}-{}{SUFFIX}",
            compact(date),
            std::process::id()
        ))
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
                io::Error::other(format!(
                    "CURRENT names `{name}`, which is not a kept snapshot"
                ))
            })
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

    /// The name the next snapshot of `date` will get (call with the lock
    /// held): one build more than any kept.
    pub fn next_file(&self, date: NaiveDate) -> io::Result<SnapshotFile> {
        let build = self
            .kept()?
            .iter()
            .filter(|f| f.date == date)
            .map(|f| f.build)
            .max()
            .unwrap_or(0)
            + 1;
        let mut file = SnapshotFile {
            date,
            build,
            path: PathBuf::new(),
        };
        file.path = self.snapshots_dir().join(file.name());
        Ok(file)
    }

    /// A snapshot by its file name, if kept.
    pub fn by_name(&self, name: &str) -> Option<SnapshotFile> {
        SnapshotFile::parse(&self.snapshots_dir(), name).filter(|f| f.path.is_file())
    }

    /// Checks a published snapshot's content against the checksum recorded
    /// when it was published. Call before using it for anything.
    pub fn verify(&self, file: &SnapshotFile) -> Result<(), Damaged> {
        let recorded = file.recorded_checksum()?;
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

    /// Seals a built snapshot: makes its bytes durable, makes it read-only
    /// and computes its checksum. The builder's connection must be closed:
    /// from here on nothing writes the file, so an import seals it while
    /// it verifies it (reading only), both cores busy, instead of after.
    pub fn seal(temp: &Path) -> io::Result<Sealed> {
        let file = File::open(temp)?;
        file.sync_all()?;
        let mut perms = file.metadata()?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(temp, perms)?;
        drop(file);
        Ok(Sealed {
            path: temp.to_path_buf(),
            sum: sha256_file(temp)?,
        })
    }

    /// Publishes a sealed and verified snapshot: records its checksum,
    /// gives it its final name, and points `CURRENT` at it.
    pub fn publish(&self, sealed: Sealed, date: NaiveDate) -> io::Result<SnapshotFile> {
        let Sealed { path: temp, sum } = sealed;
        let target = self.next_file(date)?;
        // The checksum is on disk before the snapshot has its name: every
        // published snapshot has one.
        Store::write_atomically(
            &target.checksum_path(),
            format!("{sum}  {}\n", target.name()).as_bytes(),
        )?;
        pause("before-snapshot-rename");
        fs::rename(&temp, &target.path)?;
        sync_dir(&self.snapshots_dir())?;
        pause("before-current-write");
        self.point_current(&target)?;
        Ok(target)
    }

    /// Replaces `CURRENT` atomically so it names `file`.
    pub fn point_current(&self, file: &SnapshotFile) -> io::Result<()> {
        let tmp = self.root.join(CURRENT_TMP);
        {
            let mut f = File::create(&tmp)?;
            writeln!(f, "{}", file.name())?;
            f.sync_all()?;
        }
        pause("before-current-rename");
        fs::rename(&tmp, self.root.join(CURRENT))?;
        pause("before-dir-fsync");
        sync_dir(&self.root)
    }

    /// Keeps the newest build of the latest `keep` dates, the live one
    /// whatever its date, and the snapshots named in `also_keep` (the mail
    /// of a night still to be queued needs them). Returns what was removed.
    pub fn retain(&self, keep: usize, also_keep: &[String]) -> io::Result<Vec<SnapshotFile>> {
        let live = self.live()?;
        let kept = self.kept()?;
        let mut dates: Vec<NaiveDate> = kept.iter().map(|f| f.date).collect();
        dates.dedup();
        let keep_dates = &dates[dates.len().saturating_sub(keep.max(1))..];
        let mut removed = Vec::new();
        for f in &kept {
            let newest_of_its_date = kept
                .iter()
                .filter(|g| g.date == f.date)
                .all(|g| g.build <= f.build);
            let wanted = keep_dates.contains(&f.date) && newest_of_its_date;
            if !wanted && live.as_ref() != Some(f) && !also_keep.contains(&f.name()) {
                fs::remove_file(&f.path)?;
                match fs::remove_file(f.checksum_path()) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                removed.push(f.clone());
                pause("after-first-removal");
            }
        }
        if !removed.is_empty() {
            sync_dir(&self.snapshots_dir())?;
        }
        Ok(removed)
    }

    /// Writes a file atomically (temp, fsync, rename, fsync directory).
    pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = durable_temp(dir, &name, bytes)?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    }
}

/// Writes `bytes` to `.<name>.tmp-<pid>` in `dir` and makes it durable:
/// the temporary file that `write_atomically` renames and
/// `write_new_report` links into place, and that `clean_stale` removes
/// when its process died first.
fn durable_temp(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(tmp)
}

/// A built snapshot made durable and read-only, with its checksum: what
/// `Store::publish` takes (`Store::seal` makes one).
#[derive(Debug)]
pub struct Sealed {
    path: PathBuf,
    sum: String,
}

impl Sealed {
    /// Removes the sealed file, never published (`import --check`).
    pub fn discard(self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn checksum_path(snapshot: &Path) -> PathBuf {
    let mut p = snapshot.as_os_str().to_owned();
    p.push(CHECKSUM);
    PathBuf::from(p)
}

/// Links `file` under the first of the names `name(1)`, `name(2)`, … that
/// is free (a hard link is refused where a name is taken, so two writers
/// never take the same name); the name taken.
fn link_first_free(file: &Path, name: impl Fn(u32) -> PathBuf) -> io::Result<PathBuf> {
    (1u32..)
        .map(name)
        .find_map(|path| match fs::hard_link(file, &path) {
            Ok(()) => Some(Ok(path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => None,
            Err(e) => Some(Err(e)),
        })
        .expect("u32 names run out")
}

/// Lower-case hex SHA-256 of a file's bytes (SHA-NI where the CPU has it:
/// a national snapshot of ~360 MB in about a quarter of a second).
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

/// `.<name>.tmp-<pid>` of `write_atomically`, left by a process no longer
/// running (a live one may be writing it right now).
fn temp_of_a_dead_process(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix('.')
        .and_then(|n| n.rsplit_once(".tmp-"))
        .and_then(|(_, pid)| pid.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
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
