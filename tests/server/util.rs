//! The harness: a data directory built from the sample nights with the
//! ETL's own library (import, then mail written as .eml files), the real
//! `cpor-server` binary on a free loopback port, and an HTTP client that
//! keeps cookies by hand (so tests can look at every Set-Cookie).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use etl::config::Config;
use etl::import::{self, ImportOptions};

/// `program` without the developer's `CPOR_` variables: it runs with only
/// what the test sets.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CPOR_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Taipei's wall clock `from_now`, as `HH:MM`: the ends of a maintenance
/// window around the test's minute.
pub fn taipei_clock(from_now: chrono::Duration) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8) + from_now)
        .format("%H:%M")
        .to_string()
}

pub const CAPTCHA: &str = "123456";
/// The morning after the sample's night 2, 09:00 Asia/Taipei (in UTC, for
/// [`Server::start_at`]): the sample's hearings (115/11/25 to 115/12/15)
/// are still to come, whatever day a test runs.
pub const SAMPLE_MORNING: &str = "2026-11-25 01:00:00";
pub const PASSWORD: &str = "correct horse battery";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A data directory with both sample nights imported and their mail
/// written as .eml files.
pub struct Data {
    pub dir: tempfile::TempDir,
}

impl Data {
    /// Both sample nights, each night's mail delivered the morning after
    /// it (night 1's activation to an address whose cases night 2 takes
    /// past their cutoff went out before; mail still waiting then would be
    /// withheld).
    pub fn sample() -> Data {
        let d = Data::empty();
        d.import("20261123");
        d.send();
        d.import("20261124");
        d.send();
        d
    }

    /// Both sample nights, with `emails` activated (password [`PASSWORD`])
    /// through their night-1 activation links between the two, while
    /// night 1's grants still named them: accounts that outlive their
    /// cases (an activation link opens no account for an address no live
    /// grant names).
    pub fn sample_activated(emails: &[&str]) -> Data {
        let d = Data::empty();
        d.import("20261123");
        d.send();
        {
            let server = Server::start(&d, &[]);
            for email in emails {
                let r = Client::new(&server).activate(&d, email, PASSWORD);
                assert_eq!(r.status, 303, "{email}: {}", r.body);
            }
        }
        d.import("20261124");
        d.send();
        d
    }

    /// A generated night of `cases` cases (`scripts/generator`, the
    /// national shape: a few lawyers on many cases), imported, its mail
    /// written; and the address granted the most queryable cases.
    pub fn generated(cases: u64) -> (Data, String) {
        let d = Data::empty();
        let out = d.dir.path().join("generated");
        let nights = generator::generate(
            &out,
            &generator::Params {
                seed: 1,
                cases,
                first_night: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                nights: 1,
                courts: Vec::new(),
                news_share: 0.05,
            },
        )
        .unwrap();
        d.import_dir(&nights[0]);
        d.send();
        let name = std::fs::read_to_string(d.path().join("CURRENT")).unwrap();
        let busiest: String =
            rusqlite::Connection::open(d.path().join("snapshots").join(name.trim()))
                .unwrap()
                .query_row(
                    "SELECT g.email FROM grants g JOIN cases c ON c.id = g.case_id
                 WHERE c.queryable = 1 GROUP BY g.email ORDER BY count(*) DESC, g.email LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
        (d, busiest)
    }

    pub fn empty() -> Data {
        Data {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Hearing reminders off: they depend on the clock (the sample's
    /// hearings are in late 2026), and no test here counts on them.
    pub fn config(&self) -> Config {
        let mut c = Config::with_data_dir(self.path());
        c.mail.reminder_days = Vec::new();
        c
    }

    /// Imports a sample night with the ETL's library, in this process.
    ///
    /// The import lock is an flock, held by an open file description. A
    /// server (or provider, or browser) that another test thread spawns
    /// meanwhile is forked with a copy of every descriptor, and keeps that
    /// description (and so the lock) until it execs, which closes it
    /// (O_CLOEXEC): the next import of this directory could find
    /// `import.lock` "held by pid <ours>" for that moment, and failed
    /// (sso::without_an_issuer_nothing_of_single_sign_on_shows, now and then
    /// in full runs). A lock held by our own pid is that window: wait for
    /// it, a bounded number of times.
    pub fn import(&self, night: &str) {
        self.import_dir(&repo_root().join("sample-data").join(night));
    }

    /// Imports the sample night `night` with one of its CSV files' rows
    /// (read as UTF-8 where they are ASCII) kept only where `keep` says, the
    /// manifest counting and hashing what is left.
    pub fn import_without(&self, night: &str, file: &str, keep: impl Fn(&str) -> bool) {
        self.import_rows(night, file, |r| {
            keep(&String::from_utf8_lossy(r)).then(|| r.to_vec())
        });
    }

    /// Imports the sample night `night` with each `(from, to)` of
    /// `changes` written so in the one row of its CSV file `file` that
    /// holds `from`, the manifest hashing the file so changed. Each ASCII
    /// below `@` (digits, `/`, `:`, a space: a date and a time), which no
    /// Big5 character's bytes hold.
    pub fn import_changed(&self, night: &str, file: &str, changes: &[(&str, &str)]) {
        let plain = |s: &str| s.bytes().all(|b| b < b'@');
        let found: Vec<std::cell::Cell<usize>> = changes
            .iter()
            .map(|(from, to)| {
                assert!(plain(from) && plain(to), "{from:?} → {to:?}");
                std::cell::Cell::new(0)
            })
            .collect();
        self.import_rows(night, file, |r| {
            let mut row = r.to_vec();
            for ((from, to), found) in changes.iter().zip(&found) {
                let Some(at) = row.windows(from.len()).position(|w| w == from.as_bytes()) else {
                    continue;
                };
                found.set(found.get() + 1);
                row = [&row[..at], to.as_bytes(), &row[at + from.len()..]].concat();
            }
            Some(row)
        });
        for ((from, _), found) in changes.iter().zip(&found) {
            assert_eq!(found.get(), 1, "rows of {night}/{file} holding {from:?}");
        }
    }

    /// Imports the sample night `night` with each line of its CSV file
    /// `file` after the header as `edit` gives it (`None`: left out, a
    /// record of one line), the manifest counting and hashing what is left.
    fn import_rows(&self, night: &str, file: &str, edit: impl Fn(&[u8]) -> Option<Vec<u8>>) {
        use sha2::Digest as _;
        let dir = self.dir.path().join("edited").join(night);
        std::fs::create_dir_all(&dir).unwrap();
        let from = repo_root().join("sample-data").join(night);
        for e in std::fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let text = std::fs::read(dir.join(file)).unwrap();
        let rows: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .map(|r| r.strip_suffix(b"\r").unwrap_or(r))
            .filter(|r| !r.is_empty())
            .collect();
        let kept: Vec<Vec<u8>> = std::iter::once(rows[0].to_vec())
            .chain(rows[1..].iter().filter_map(|r| edit(r)))
            .collect();
        // (a record may span lines, a quoted field's line break: the
        // manifest's count less the lines left out, each a record)
        let dropped = rows.len() - kept.len();
        let bytes: Vec<u8> = kept
            .iter()
            .flat_map(|r| [r, &b"\r\n"[..]].concat())
            .collect();
        std::fs::write(dir.join(file), &bytes).unwrap();
        let sha: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let manifest = std::fs::read_to_string(dir.join("MANIFEST.csv")).unwrap();
        let manifest: String = manifest
            .split_inclusive("\r\n")
            .map(|l| match l.strip_prefix(&format!("{file},")) {
                Some(rest) => {
                    let count: usize = rest.split(',').next().unwrap().parse().unwrap();
                    format!("{file},{},{sha}\r\n", count - dropped)
                }
                None => l.to_string(),
            })
            .collect();
        std::fs::write(dir.join("MANIFEST.csv"), manifest).unwrap();
        self.import_dir(&dir);
    }

    /// Imports the batch in `batch_dir`.
    pub fn import_dir(&self, batch_dir: &Path) {
        let opts = ImportOptions {
            batch_dir: batch_dir.to_path_buf(),
            force: true,
            accept_shrink: Default::default(),
            publish_without: Default::default(),
            progress: Default::default(),
            check: false,
        };
        let ours = format!("(pid {}, lock", std::process::id());
        for _ in 0..200 {
            match import::run(&self.config(), &opts, 2) {
                Ok(_) => return,
                Err(e) if format!("{e:#}").contains(&ours) => {
                    std::thread::sleep(Duration::from_millis(25))
                }
                Err(e) => panic!("sample night imports: {e:#}"),
            }
        }
        panic!("import.lock still held by this test process after 5 s");
    }

    /// Delivers the nightly mail as .eml files.
    pub fn send(&self) {
        self.send_with(&self.config().mail);
    }

    /// The same with settings of its own (a reminder day's: with no
    /// reminder days, no address keeps reminders, and none is sent).
    pub fn send_with(&self, cfg: &mail::MailSettings) {
        let never = std::sync::atomic::AtomicBool::new(false);
        mail::send::send(
            &self.path(),
            cfg,
            true,
            chrono::Utc::now(),
            &never,
            &|_: &mail::outbox::Item| mail::send::Granted::Yes,
        )
        .expect("send");
    }

    /// Queues the hearing reminders of a Taipei day, 7 and 1 days before,
    /// as `cpor-etl send --force --today DAY` does (as if at that day's
    /// window opening), and delivers them.
    pub fn remind(&self, day: &str) {
        let mut cfg = self.config().mail;
        cfg.reminder_days = vec![7, 1];
        let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        etl::notify::reminders::queue_due(
            &store::layout::Store::new(self.path()),
            &cfg,
            chrono::Utc::now(),
            Some((day, true)),
            false,
        )
        .expect("reminders");
        self.send_with(&cfg);
    }

    /// The newest message of `kind` to `email`, as it was delivered.
    pub fn newest(&self, kind: &str, email: &str) -> Vec<u8> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for night in std::fs::read_dir(self.path().join("mail")).unwrap() {
            for f in std::fs::read_dir(night.unwrap().path()).unwrap() {
                let p = f.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with(&format!("{kind}-{email}")) && name.ends_with(".eml") {
                    files.push((p.metadata().unwrap().modified().unwrap(), p));
                }
            }
        }
        files.sort();
        let (_, newest) = files
            .last()
            .unwrap_or_else(|| panic!("no {kind} mail to {email}"));
        std::fs::read(newest).unwrap()
    }

    /// The link (path and query) in the newest mail of `kind` to `email`.
    pub fn link(&self, kind: &str, email: &str) -> String {
        let text = mail_text(&self.newest(kind, email));
        // The mail's own link, not the links to each case it lists nor to
        // the list (a long activation mail's 「另有 N 件」).
        text.match_indices("http://localhost:8080/")
            .map(|(start, _)| {
                text[start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect::<String>()
            })
            .map(|l| l.trim_start_matches("http://localhost:8080").to_string())
            .find(|l| !l.starts_with("/cases"))
            .unwrap_or_else(|| panic!("no link in the {kind} mail to {email}:\n{text}"))
    }

    /// Mail files of `kind` to `email`, across nights.
    pub fn mails(&self, kind: &str, email: &str) -> usize {
        let Ok(nights) = std::fs::read_dir(self.path().join("mail")) else {
            return 0;
        };
        nights
            .flat_map(|n| std::fs::read_dir(n.unwrap().path()).unwrap())
            .filter(|f| {
                let n = f
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .into_owned();
                n.starts_with(&format!("{kind}-{email}")) && n.ends_with(".eml")
            })
            .count()
    }
}

/// The one-click unsubscribe link (path and query) a mail's text gives.
pub fn unsubscribe_link(text: &str) -> String {
    let start = text
        .find("/unsubscribe?")
        .unwrap_or_else(|| panic!("no unsubscribe link:\n{text}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// The text part of a message (base64 or plain), decoded.
pub fn mail_text(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let Some(part) = text.split("Content-Type: text/plain").nth(1) else {
        return text.into_owned();
    };
    let body = part.split("\r\n\r\n").nth(1).unwrap_or("");
    let body = body.split("\r\n--").next().unwrap_or("");
    if part.starts_with("; charset=utf-8\r\nContent-Transfer-Encoding: base64") {
        String::from_utf8_lossy(&base64(&body.replace("\r\n", ""))).into_owned()
    } else {
        body.to_string()
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The server, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `cpor-server` on the data directory with a fixed captcha and
    /// the given extra environment (`CPOR_SERVER_…`).
    pub fn start(data: &Data, env: &[(&str, &str)]) -> Server {
        Server::try_start(data, env).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(data: &Data, env: &[(&str, &str)]) -> Result<Server, String> {
        Server::try_start_on(data, "127.0.0.1:0", env)
    }

    /// Starts `cpor-server` listening on `listen` (with SO_REUSEPORT, an
    /// address another process already serves).
    pub fn start_on(data: &Data, listen: &str, env: &[(&str, &str)]) -> Server {
        Server::try_start_on(data, listen, env).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start_on(data: &Data, listen: &str, env: &[(&str, &str)]) -> Result<Server, String> {
        Server::try_start_with(data, listen, env, None)
    }

    /// Starts `cpor-server` with its clock set to `utc` (`YYYY-MM-DD
    /// HH:MM:SS`, running on from there; Debian's libfaketime): what a page
    /// shows of the sample's hearings, which are in late 2026, depends on
    /// the day.
    pub fn start_at(data: &Data, utc: &str, env: &[(&str, &str)]) -> Server {
        Server::try_start_with(data, "127.0.0.1:0", env, Some(utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_with(
        data: &Data,
        listen: &str,
        env: &[(&str, &str)],
        at: Option<&str>,
    ) -> Result<Server, String> {
        let log = data
            .dir
            .path()
            .join(format!("server-{}.log", rand_suffix()));
        let mut cmd = clean_command(env!("CARGO_BIN_EXE_cpor-server"));
        if let Some(utc) = at {
            crate::clock::set(&mut cmd, &format!("@{utc}"));
        }
        cmd.arg("--data-dir")
            .arg(data.path())
            .arg("--listen")
            .arg(listen)
            .env("CPOR_SERVER_FIXED_CAPTCHA", CAPTCHA)
            // Never in the maintenance window unless a test asks.
            .env("CPOR_SERVER_MAINTENANCE_START", "00:00")
            .env("CPOR_SERVER_MAINTENANCE_END", "00:00")
            .env("CPOR_SERVER_SNAPSHOT_POLL_MS", "100")
            .env("CPOR_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.wait();
            return Err(format!(
                "server did not start: {line}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        };
        Ok(Server {
            base: base.to_string(),
            child,
            log,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the process a signal (`TERM`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {}", self.pid());
    }

    /// The process's exit status, once it has exited within `within`.
    pub fn exited_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn rand_suffix() -> String {
    schemas::hex(&store::secret::random_bytes::<4>().unwrap())
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of a hidden form field.
    pub fn field(&self, name: &str) -> String {
        let pat = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&pat)
            .unwrap_or_else(|| panic!("no field {name} in:\n{}", self.body))
            + pat.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }

    /// An attribute of a signed-in page's script tag (`<script
    /// src="/static/signed-in.js" data-idle="1800" …>`); None when the page
    /// has no such tag, or the tag no such attribute.
    pub fn signed_in_script(&self, attribute: &str) -> Option<String> {
        let start = self.body.find("<script src=\"/static/signed-in.js\"")?;
        let tag = &self.body[start..start + self.body[start..].find('>')?];
        let pat = format!(" {attribute}=\"");
        let at = tag.find(&pat)? + pat.len();
        Some(tag[at..].split('"').next()?.to_string())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A browser-like client: keeps cookies, never follows redirects.
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(server: &Server) -> Client {
        Client {
            base: server.base.clone(),
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            cookies: BTreeMap::new(),
        }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        auth: Option<&str>,
    ) -> Resp {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.set("cookie", &c.join("; "));
        }
        if let Some(t) = auth {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some((ct, b)) => req.set("content-type", ct).send_bytes(&b),
            None => req.call(),
        };
        let r = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = r.status();
        let headers: Vec<(String, String)> = r
            .headers_names()
            .iter()
            .flat_map(|n| {
                r.all(n)
                    .into_iter()
                    .map(|v| (n.clone(), v.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes).unwrap();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None, None)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.send(
            "POST",
            path,
            Some((
                "application/x-www-form-urlencoded",
                body.join("&").into_bytes(),
            )),
            None,
        )
    }

    pub fn api(
        &mut self,
        method: &str,
        path: &str,
        json: Option<serde_json::Value>,
        token: Option<&str>,
    ) -> Resp {
        let body = json.map(|j| ("application/json", serde_json::to_vec(&j).unwrap()));
        let saved = std::mem::take(&mut self.cookies);
        let r = self.send(method, path, body, token);
        self.cookies = saved;
        r
    }

    /// Activates an account through the link of its activation mail.
    pub fn activate(&mut self, data: &Data, email: &str, password: &str) -> Resp {
        let link = data.link("activation", email);
        let form = self.get(&link);
        assert_eq!(form.status, 200, "{}", form.body);
        let token = form.field("token");
        let csrf = form.field("csrf");
        self.post(
            "/activate",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", password),
                ("confirm", password),
            ],
        )
    }

    /// The login page, even when signed in (a signed-in browser is sent on
    /// from /login to its cases): fetched without the session cookie, which
    /// a login then replaces.
    pub fn login_page(&mut self) -> Resp {
        let sid = self.cookies.remove("sid");
        let page = self.get("/login");
        if let Some(sid) = sid {
            self.cookies.insert("sid".into(), sid);
        }
        page
    }

    /// Logs in over the API as an app does: a captcha (fixed answer), then
    /// `POST /api/v1/session`.
    pub fn api_login(&mut self, email: &str, password: &str) -> Resp {
        let captcha = self.api("POST", "/api/v1/captcha", None, None).json();
        self.api(
            "POST",
            "/api/v1/session",
            Some(serde_json::json!({"email": email, "password": password,
                "captcha_id": captcha["id"], "captcha": CAPTCHA})),
            None,
        )
    }

    /// The bearer token of a login over the API (which must succeed).
    pub fn api_token(&mut self, email: &str, password: &str) -> String {
        let session = self.api_login(email, password);
        assert_eq!(session.status, 201, "{}", session.body);
        session.json()["token"].as_str().unwrap().to_string()
    }

    /// Logs in through the login page (fixed captcha).
    pub fn login(&mut self, email: &str, password: &str) -> Resp {
        self.timed_login(email, password).0
    }

    /// Logs in through the login page (fixed captcha): the answer, and how
    /// long the POST took (the page before it not counted).
    pub fn timed_login(&mut self, email: &str, password: &str) -> (Resp, Duration) {
        let page = self.login_page();
        let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
        let started = std::time::Instant::now();
        let r = self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("captcha_id", &id),
                ("captcha", CAPTCHA),
                ("email", email),
                ("password", password),
            ],
        );
        (r, started.elapsed())
    }

    /// Posts the account page's password change (`csrf`: the page's token).
    pub fn change_password(&mut self, csrf: &str, current: &str, new: &str) -> Resp {
        self.post(
            "/account/password",
            &[
                ("csrf", csrf),
                ("current", current),
                ("password", new),
                ("confirm", new),
            ],
        )
    }

    /// The CSRF token of a signed-in page's forms.
    pub fn csrf(&mut self) -> String {
        self.get("/account").field("csrf")
    }
}

/// A link token for `email`'s account made straight in the accounts
/// database, as the night's mail step or the link mailer makes one (valid
/// for an hour).
pub fn mint_token(data: &Data, email: &str, purpose: store::accounts::Purpose) -> String {
    let db = rusqlite::Connection::open(data.path().join("accounts.sqlite")).unwrap();
    let id: i64 = db
        .query_row("SELECT id FROM accounts WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap();
    store::accounts::new_token(
        &db,
        id,
        purpose,
        chrono::Duration::hours(1),
        chrono::Utc::now(),
    )
    .unwrap()
}

pub fn enc(s: &str) -> String {
    mail::url_encode(s)
}

/// Asks for a password link for `email` through the /forgot form (the
/// tests' fixed captcha).
/// A fresh browser signs in as `email` with `password` and lands on its
/// cases.
#[track_caller]
pub fn signs_in(server: &Server, email: &str, password: &str) {
    let r = Client::new(server).login(email, password);
    assert_eq!(r.header("location"), Some("/cases"), "{}", r.body);
}

pub fn ask_forgot(c: &mut Client, email: &str) -> Resp {
    let page = c.get("/forgot");
    let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
    c.post(
        "/forgot",
        &[
            ("csrf", &csrf),
            ("captcha_id", &id),
            ("captcha", CAPTCHA),
            ("email", email),
        ],
    )
}

/// Resets `email`'s password to `new` the way its owner would: asks on
/// /forgot, waits for the mail, opens its link and posts the form.
pub fn reset_password(c: &mut Client, data: &Data, email: &str, new: &str) -> Resp {
    let before = data.mails("reset", email);
    assert_eq!(ask_forgot(c, email).status, 200);
    eventually("the reset mail", || data.mails("reset", email) > before);
    let form = c.get(&data.link("reset", email));
    assert_eq!(form.status, 200, "{}", form.body);
    let (csrf, token) = (form.field("csrf"), form.field("token"));
    c.post(
        "/reset",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", new),
            ("confirm", new),
        ],
    )
}

/// Waits until `f` holds (the server works in the background: mail,
/// snapshot polling).
/// What `cpor-server stats` prints for `data` (it must succeed).
pub fn stats(data: &Data) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cpor-server"))
        .arg("--data-dir")
        .arg(data.path())
        .arg("stats")
        .env_remove("CPOR_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    text
}

pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// What `start` starts, on ports it chooses free (`free_port`): a port is
/// chosen before the process binds it, so another may take it in between
/// (`start` says so with an error naming "Address already in use"); then
/// other ports, up to three tries. Any other error fails the test.
pub fn on_free_ports<T>(what: &str, mut start: impl FnMut() -> Result<T, String>) -> T {
    for tries in 1.. {
        match start() {
            Ok(started) => return started,
            Err(e) if tries < 3 && e.contains("Address already in use") => {
                eprintln!("{what}: a port was taken; again on others\n{e}");
            }
            Err(e) => panic!("{what} did not start: {e}"),
        }
    }
    unreachable!()
}

/// A free port on 127.0.0.1 (bound and let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server's socket address (from `http://127.0.0.1:PORT`).
pub fn server_addr(server: &Server) -> std::net::SocketAddr {
    server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address")
}

/// A TCP connection to the server from a chosen loopback source address
/// (127.0.0.2, 127.0.0.3, …): per-address limits see each as another
/// client. Reads time out after 20 s, so a test never hangs.
pub fn connect_from(server: &Server, source: &str) -> std::io::Result<std::net::TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let local: std::net::SocketAddr = format!("{source}:0").parse().expect("an IPv4 address");
    socket.bind(&local.into())?;
    socket.connect_timeout(&server_addr(server).into(), Duration::from_secs(10))?;
    let stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads one HTTP/1.1 response from a stream (headers, then a body of
/// `content-length` bytes, or to the end of the stream without one).
pub fn read_response(stream: &mut impl std::io::Read) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not a response: {head}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut bytes = Vec::new();
    match length {
        Some(n) => {
            bytes.resize(n, 0);
            stream.read_exact(&mut bytes)?;
        }
        None => {
            stream.read_to_end(&mut bytes)?;
        }
    }
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    })
}

/// One request on a new connection from `source`, with `Connection: close`.
pub fn request_from(
    server: &Server,
    source: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    use std::io::Write;
    let mut s = connect_from(server, source)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
        server_addr(server)
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
    {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    read_response(&mut s)
}

/// A form body, encoded.
pub fn form_body(form: &[(&str, &str)]) -> Vec<u8> {
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A browser-like client from a chosen loopback source address: each
/// request on its own connection, cookies kept.
pub struct Source<'s> {
    pub server: &'s Server,
    pub source: String,
    pub cookies: BTreeMap<String, String>,
    /// Headers sent with every request (say, `x-forwarded-for`).
    pub headers: Vec<(String, String)>,
}

impl<'s> Source<'s> {
    pub fn new(server: &'s Server, source: &str) -> Source<'s> {
        Source {
            server,
            source: source.to_string(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    pub fn send(&mut self, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Resp {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let cookie = cookie.join("; ");
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        if method == "POST" {
            headers.push(("content-type", "application/x-www-form-urlencoded"));
        }
        let r = request_from(self.server, &self.source, method, path, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {path} from {}: {e}", self.source));
        for c in r.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        r
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, &[], &[])
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send("POST", path, &[], &form_body(form))
    }

    /// Logs in through the login page (fixed captcha).
    pub fn login(&mut self, email: &str, password: &str) -> Resp {
        // A signed-in browser is sent on from /login to its cases: the form
        // is fetched without the session, which the login then replaces.
        let sid = self.cookies.remove("sid");
        let page = self.get("/login");
        if let Some(sid) = sid {
            self.cookies.insert("sid".into(), sid);
        }
        let (csrf, id) = (page.field("csrf"), page.field("captcha_id"));
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("captcha_id", &id),
                ("captcha", CAPTCHA),
                ("email", email),
                ("password", password),
            ],
        )
    }
}

/// The server's resident memory, in bytes (`VmRSS` of /proc/<pid>/status).
pub fn rss(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// The median of some durations.
pub fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t[t.len() / 2]
}

/// Taken by the tests that time the server and by those that load it on
/// purpose, so that they run one at a time: on two cores, one test's flood
/// (a thousand hashes) is another's noise (a login median during a flood
/// of its own).
pub fn measuring() -> std::sync::RwLockWriteGuard<'static, ()> {
    // A test that failed while holding it still passes the turn on.
    TURN.write().unwrap_or_else(|e| e.into_inner())
}

/// Taken by the tests that keep the cores busy without measuring anything
/// (a headless Chromium): they run beside each other, never during a
/// measurement (a login median under a flood was 2.3× with the browser
/// tests beside it, 0.7–1.2× alone).
pub fn busy() -> std::sync::RwLockReadGuard<'static, ()> {
    TURN.read().unwrap_or_else(|e| e.into_inner())
}

static TURN: std::sync::RwLock<()> = std::sync::RwLock::new(());
