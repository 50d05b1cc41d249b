//! What only a writer of the data directory does (the import and the
//! administrators' commands: `etl`, which turns on the `writer` feature):
//! building, sealing and publishing snapshots, pointing `CURRENT`,
//! retention, the import and send locks, reports. `cpor-server` depends on
//! `store` without it, so that it cannot write a snapshot: a call to any
//! of these does not compile there (ARCHITECTURE.md, "Invariants").

use std::fs::OpenOptions;
use std::io::Write;

use super::*;
use crate::failpoint::pause;

pub(super) const CURRENT_TMP: &str = "CURRENT.tmp";
const BUILDING: &str = ".building-";

impl Store {
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
        super::create_private_dir(&self.root)?;
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
        // (never the checksum of the file `CURRENT` names, missing or not:
        // what a restore from backup is checked against; taken for a run's
        // leftover, it was removed, and the restored file then refused)
        let live = self.current_name()?.map(|n| format!("{n}{CHECKSUM}"));
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
                        && live.as_deref() != Some(name.as_str())
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
