//! The test harness: a temp directory with a data dir and an inbox, the real
//! `cpor-etl` binary, and helpers to copy and corrupt sample batches.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub use crate::snapshots::writable;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn sample(night: &str) -> PathBuf {
    repo_root().join("sample-data").join(night)
}

pub struct Env {
    pub dir: tempfile::TempDir,
    /// Whole days the binary's clock is set back (`Env::as_of`).
    days_back: i64,
    /// Seconds the binary's clock is set off (`Env::in_the_morning`).
    seconds_off: i64,
    /// `mail.reminder_days` (`Env::with_reminders`; none by default).
    reminder_days: &'static str,
}

/// What a run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    /// The same env with reminders 7 and 1 days before (`mail.reminder_days
    /// = [7, 1]`): a story that needs addresses to keep reminders (with no
    /// reminder days, no address does: `Known::no_reminders`).
    pub fn with_reminders(mut self) -> Env {
        self.reminder_days = "7,1";
        self
    }

    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            days_back: 0,
            seconds_off: 0,
            reminder_days: "",
        }
    }

    /// An env whose binary's clock reads as today at 00:05 UTC (08:05 in
    /// Taipei, early in the send window) when the env is made, and runs on
    /// from there: for the tests whose story is a night's mail sent that
    /// morning, which would otherwise depend on the time of day they run
    /// (an expiry warning waits behind its grant mail only if its two
    /// hours end within the day's window: `mail::outbox::may_wait_behind`).
    pub fn in_the_morning() -> Env {
        let now = chrono::Utc::now();
        let morning = now.date_naive().and_hms_opt(0, 5, 0).unwrap().and_utc();
        Env {
            seconds_off: (morning - now).num_seconds(),
            ..Env::new()
        }
    }

    /// An env whose binary's clock reads as on `day` (`YYYY-MM-DD`, UTC) at
    /// the present time of day: set back whole days with Debian's
    /// libfaketime, never forward. For tests whose stories date hearings on
    /// fixed days, so that what is still to come stays as it was on `day`.
    pub fn as_of(day: &str) -> Env {
        let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        Env {
            days_back: (chrono::Utc::now().date_naive() - day).num_days().max(0),
            ..Env::new()
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The binary with a clean environment and this env's data directory.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpor-etl"));
        self.set_clock(&mut cmd);
        self.prepared(cmd)
    }

    /// Sets `cmd`'s clock as this env reads it (`as_of`, `in_the_morning`;
    /// the real clock otherwise).
    pub fn set_clock(&self, cmd: &mut Command) {
        // Preloaded into the binary: a test that kills it kills it.
        if self.days_back > 0 {
            crate::clock::set(cmd, &format!("-{}d", self.days_back));
        } else if self.seconds_off != 0 {
            crate::clock::set(cmd, &format!("{:+}s", self.seconds_off));
        }
    }

    /// `command`, with the clock set to `utc` (`2026-11-23 17:40:00`) and
    /// running on from there: Debian's libfaketime (`crate::clock`), which
    /// `scripts/setup-test-deps` installs.
    pub fn command_at(&self, utc: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpor-etl"));
        crate::clock::set(&mut cmd, &format!("@{utc}"));
        self.prepared(cmd)
    }

    /// `command` with SIGHUP, SIGINT and SIGTERM at their defaults,
    /// whatever the test runner was started with (a signal ignored then
    /// stays ignored in `cpor-etl`: etl::stop): for the tests that send
    /// them. Through coreutils' `env --default-signal`.
    pub fn command_with_default_signals(&self) -> Command {
        let inner = self.command();
        let mut cmd = Command::new("env");
        cmd.arg("--default-signal=HUP,INT,TERM")
            .arg(inner.get_program())
            .args(inner.get_args());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn prepared(&self, mut cmd: Command) -> Command {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CPOR_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("CPOR_LOG", "warn").current_dir(self.dir.path());
        // Hearing reminders depend on the clock (the sample's hearings are
        // in late 2026): off unless a test turns them on
        // (tests/etl/mail/reminders.rs).
        cmd.env("CPOR_MAIL_REMINDER_DAYS", self.reminder_days);
        cmd.arg("--data-dir").arg(self.data());
        cmd
    }

    pub fn etl(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    /// `import` of `batch` with settings of the environment (`vars`).
    pub fn import_with(&self, batch: &Path, vars: &[(&str, &str)]) -> Run {
        let mut cmd = self.command();
        cmd.envs(vars.iter().copied()).arg("import").arg(batch);
        cmd.output().unwrap().into()
    }

    pub fn import(&self, batch: &Path, extra: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.arg("import").arg(batch).args(extra);
        cmd.output().unwrap().into()
    }

    /// Copies a sample night into this env's inbox, to be modified.
    pub fn copy_night(&self, night: &str) -> PathBuf {
        self.copy_night_as(night, night)
    }

    /// The sample night `from`, copied as the batch of `night`.
    pub fn copy_night_as(&self, from: &str, night: &str) -> PathBuf {
        let to = self.dir.path().join("inbox").join(night);
        fs::create_dir_all(&to).unwrap();
        for entry in fs::read_dir(sample(from)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        to
    }

    pub fn dump(&self, date: &str) -> String {
        let run = self.etl(&["dump", "--date", date]);
        assert_eq!(run.code, 0, "dump failed: {}", run.stderr);
        run.stdout
    }

    pub fn live_dump(&self) -> String {
        let run = self.etl(&["dump"]);
        assert_eq!(run.code, 0, "dump failed: {}", run.stderr);
        run.stdout
    }

    pub fn report(&self, date: &str) -> serde_json::Value {
        let path = self.data().join("reports").join(format!("{date}.json"));
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap()
    }

    /// Publishes the live snapshot again as `edit` leaves it (a copy made
    /// writable, edited, published as the same night's next build): an
    /// older build's or another build's snapshot, as the next night meets it.
    pub fn republish_live(&self, edit: impl FnOnce(&rusqlite::Connection)) {
        crate::snapshots::republish_live(&self.data(), self.dir.path(), edit);
    }

    pub fn current(&self) -> String {
        fs::read_to_string(self.data().join("CURRENT"))
            .unwrap()
            .trim()
            .to_string()
    }
}

/// The report's entry for one court.
pub fn court<'a>(report: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    report["courts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["court"] == code)
        .unwrap_or_else(|| panic!("no court {code} in report"))
}

/// Rewrites one manifest row (by file name) with `f(rows, sha)`.
pub fn edit_manifest(batch: &Path, file: &str, f: impl Fn(&str, &str) -> Option<String>) {
    let path = batch.join("MANIFEST.csv");
    let text = fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let body = line.trim_end();
        let mut parts = body.splitn(3, ',');
        let (name, rows, sha) = (parts.next().unwrap(), parts.next(), parts.next());
        if name == file {
            if let Some(new) = f(rows.unwrap(), sha.unwrap()) {
                out.push_str(&new);
                out.push_str("\r\n");
            }
        } else {
            out.push_str(line);
        }
    }
    fs::write(path, out).unwrap();
}

/// Makes the manifest agree with a file's bytes again (as an exporter that
/// wrote a bad file would still list it truthfully), keeping `rows`.
pub fn rehash(batch: &Path, file: &str) {
    let sha = sha256_hex(&fs::read(batch.join(file)).unwrap());
    edit_manifest(batch, file, |rows, _| Some(format!("{file},{rows},{sha}")));
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Appends `rows` (UTF-8, without line ends) to a batch's CSV file as the
/// courts write it (CP950, CRLF), and makes the manifest count and hash
/// them.
pub fn append_rows(batch: &Path, file: &str, rows: &[&str]) {
    let encoded: Vec<Vec<u8>> = rows
        .iter()
        .map(|row| {
            let (encoded, _, unmappable) = encoding_rs::BIG5.encode(row);
            assert!(!unmappable, "{row} is not CP950");
            encoded.into_owned()
        })
        .collect();
    append_raw_rows(batch, file, &encoded);
}

/// Appends `rows` (bytes as they are, without line ends; CRLF after each)
/// to a batch's file, and makes the manifest count and hash them.
pub fn append_raw_rows(batch: &Path, file: &str, rows: &[Vec<u8>]) {
    let path = batch.join(file);
    let mut bytes = fs::read(&path).unwrap();
    for row in rows {
        bytes.extend_from_slice(row);
        bytes.extend_from_slice(b"\r\n");
    }
    fs::write(&path, &bytes).unwrap();
    let sha = sha256_hex(&bytes);
    edit_manifest(batch, file, |count, _| {
        let count: usize = count.parse().unwrap();
        Some(format!("{file},{},{sha}", count + rows.len()))
    });
}

/// Writes a one-court batch into `dir`: TPD's cases 民事 115 訴 <n>, each
/// `(n, 案件狀態, 狀態日期)`; progress rows, each `(n, "序號,登載日期,登載事項,
/// 異動時間,刪除")`; grants (原告), each `(n, address)`; as UTF-8 with a BOM,
/// which the contract accepts, with the manifest that counts and hashes
/// them.
pub fn write_tpd_batch(
    dir: &Path,
    cases: &[(u32, &str, &str)],
    progress: &[(u32, String)],
    grants: &[(u32, String)],
) {
    fs::create_dir_all(dir).unwrap();
    let key = |n: u32| format!("TPD,民事,115,訴,{n}");
    let mut files: Vec<(&str, String)> = vec![
        (
            "TPD_case.csv",
            "法院代號,案件類別,年度,字別,案號,股別,案件狀態,狀態日期\r\n".into(),
        ),
        (
            "TPD_progress.csv",
            "法院代號,案件類別,年度,字別,案號,序號,登載日期,登載事項,異動時間,刪除\r\n".into(),
        ),
        (
            "TPD_applicant.csv",
            "法院代號,案件類別,年度,字別,案號,聲請人身分,電子郵件,核准日期,狀態\r\n".into(),
        ),
    ];
    for (n, status, date) in cases {
        files[0].1 += &format!("{},忠,{status},{date}\r\n", key(*n));
    }
    for (n, row) in progress {
        files[1].1 += &format!("{},{row}\r\n", key(*n));
    }
    for (n, email) in grants {
        files[2].1 += &format!("{},原告,{email},115/11/01,核准\r\n", key(*n));
    }
    let mut manifest = String::from("file,rows,sha256\r\n");
    for (name, text) in &files {
        let bytes = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        fs::write(dir.join(name), &bytes).unwrap();
        manifest += &format!(
            "{name},{},{}\r\n",
            text.lines().count() - 1,
            sha256_hex(&bytes)
        );
    }
    fs::write(dir.join("MANIFEST.csv"), manifest).unwrap();
}

/// Replaces the first occurrence of `from` in a file's raw bytes.
pub fn replace_bytes(path: &Path, from: &[u8], to: &[u8]) {
    let bytes = fs::read(path).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:?} not in {}", path.display()));
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&bytes[at + from.len()..]);
    fs::write(path, out).unwrap();
}

/// Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it instead.
pub fn golden(name: &str, got: &str) {
    let path = repo_root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, got).unwrap();
        return;
    }
    let want = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if want != got {
        let mut diff = String::new();
        for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
            if w != g {
                diff.push_str(&format!("line {}:\n  want {w}\n  got  {g}\n", i + 1));
            }
        }
        panic!(
            "{name} differs from the golden file ({} lines wanted, {} got):\n{diff}",
            want.lines().count(),
            got.lines().count()
        );
    }
}

/// Writes of `op` (`INSERT`, `DELETE`) to `table` of the database at `db`
/// fail with `why`, as a full or failing disk's would, until
/// [`Refusing::allow`] (an SQLite trigger).
pub struct Refusing {
    conn: rusqlite::Connection,
}

impl Refusing {
    pub fn writes(db: &Path, op: &str, table: &str, why: &str) -> Refusing {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch(&format!(
            "CREATE TRIGGER test_refusing BEFORE {op} ON {table}
             BEGIN SELECT RAISE(ABORT, '{why}'); END"
        ))
        .unwrap();
        Refusing { conn }
    }

    pub fn allow(self) {
        self.conn
            .execute_batch("DROP TRIGGER test_refusing")
            .unwrap();
    }
}

/// Flips 64 bytes in the middle of a published snapshot, as a failing
/// disk might.
pub fn damage(path: &Path) {
    writable(path);
    let mut bytes = fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xFF;
    }
    fs::write(path, bytes).unwrap();
}

/// Sends `child` the signal numbered `signal` (`kill -N`), as a person or
/// systemd would.
pub fn signal(child: &Child, signal: i32) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Runs `cmd` (a `cpor-etl` command ready to run) until it pauses at
/// `point` (`CPOR_PAUSE_AT`), and SIGKILLs it there.
pub fn kill_at(mut cmd: Command, point: &str) {
    cmd.env("CPOR_PAUSE_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    until_paused(&mut child, point);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Reads `child`'s standard error until it says it paused at `point`
/// (`CPOR_PAUSE_AT`, store::failpoint); panics if it ends first. Returns
/// the reader: kept, the child can write more once it goes on.
pub fn until_paused(child: &mut Child, point: &str) -> BufReader<ChildStderr> {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
    read_until_paused(&mut stderr, point);
    stderr
}

/// Reads a paused child's standard error on until it says it paused at
/// `point`, the next of the points it was given; panics if it ends first.
pub fn read_until_paused(stderr: &mut BufReader<ChildStderr>, point: &str) {
    let want = format!("cpor-etl: paused at {point}");
    let mut line = String::new();
    loop {
        line.clear();
        let n = stderr.read_line(&mut line).expect("stderr");
        assert!(n > 0, "never paused at {point}");
        if line.trim_end() == want {
            return;
        }
    }
}
