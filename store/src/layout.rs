//! The data directory and the publish protocol.
//!
//! ```text
//! <data>/CURRENT                      name of the live snapshot, one line
//! <data>/snapshots/20261124-1.sqlite  published snapshots, read-only files
//! <data>/snapshots/.building-*        a build in progress (stale after a crash)
//! <data>/reports/20261124.json        one report per import run
//! <data>/import.lock                  held by the one running import
//! ```
//!
//! Publishing: the snapshot is built in a temp file, fsynced, renamed to its
//! final name, and the directory fsynced; then `CURRENT` is replaced the same
//! way (temp file, fsync, rename, fsync directory). A crash at any moment
//! leaves `CURRENT` naming either the old snapshot or the new one, both
//! complete. A re-run of the same night gets a new build number, so a
//! published file is never replaced or modified.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::failpoint::pause;
use schemas::date::{compact, parse_batch_date};

const CURRENT: &str = "CURRENT";
const CURRENT_TMP: &str = "CURRENT.tmp";
const BUILDING: &str = ".building-";
const SUFFIX: &str = ".sqlite";

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

/// Held while an import or rollback runs; released on drop or process death.
#[derive(Debug)]
pub struct Lock {
    _file: File,
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

    /// Creates the directories a writer needs.
    pub fn create_dirs(&self) -> io::Result<()> {
        fs::create_dir_all(self.snapshots_dir())?;
        fs::create_dir_all(self.reports_dir())
    }

    /// Takes the import lock, or says who holds it.
    pub fn lock(&self) -> Result<Lock, String> {
        self.lock_named("import.lock", "import or rollback")
    }

    /// Takes the lock of `send`.
    pub fn send_lock(&self) -> Result<Lock, String> {
        self.lock_named("send.lock", "send")
    }

    fn lock_named(&self, name: &str, what: &str) -> Result<Lock, String> {
        let path = self.root.join(name);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).ok();
                let _ = writeln!(file, "pid {}", std::process::id());
                Ok(Lock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                Err(format!(
                    "another cpor-etl {what} is running ({}, lock {}); nothing changed",
                    holder.trim(),
                    path.display()
                ))
            }
            Err(fs::TryLockError::Error(e)) => Err(format!("{}: cannot lock: {e}", path.display())),
        }
    }

    /// Removes what a killed run left behind. Call with the lock held.
    pub fn clean_stale(&self) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let tmp = self.root.join(CURRENT_TMP);
        if tmp.exists() {
            fs::remove_file(&tmp)?;
            removed.push(tmp);
        }
        if let Ok(entries) = fs::read_dir(self.snapshots_dir()) {
            for entry in entries {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(BUILDING) {
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

    /// Publishes a built and verified snapshot: makes it durable and
    /// read-only, gives it its final name, and points `CURRENT` at it.
    pub fn publish(&self, temp: &Path, date: NaiveDate) -> io::Result<SnapshotFile> {
        let file = File::open(temp)?;
        file.sync_all()?;
        let mut perms = file.metadata()?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(temp, perms)?;
        drop(file);
        pause("before-snapshot-rename");
        let target = self.next_file(date)?;
        fs::rename(temp, &target.path)?;
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

    /// Keeps the newest build of the latest `keep` dates, and the live one
    /// whatever its date. Returns what was removed.
    pub fn retain(&self, keep: usize) -> io::Result<Vec<SnapshotFile>> {
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
            if !wanted && live.as_ref() != Some(f) {
                fs::remove_file(&f.path)?;
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
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
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
        store.publish(&tmp, date).unwrap()
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
            .retain(2)
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
        assert!(err.contains("another cpor-etl import"), "{err}");
        assert_eq!(store.clean_stale().unwrap().len(), 2);
        assert!(store.kept().unwrap().is_empty());
    }
}
