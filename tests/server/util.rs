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

pub const CAPTCHA: &str = "123456";
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
    pub fn sample() -> Data {
        let d = Data::empty();
        d.import("20261123");
        d.import("20261124");
        d.send();
        d
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

    pub fn import(&self, night: &str) {
        let opts = ImportOptions {
            batch_dir: repo_root().join("sample-data").join(night),
            force: true,
        };
        import::run(&self.config(), &opts, 2).expect("sample night imports");
    }

    /// Delivers the nightly mail as .eml files.
    pub fn send(&self) {
        mail::send::send(&self.path(), &self.config().mail, true, chrono::Utc::now())
            .expect("send");
    }

    /// The link (path and query) in the newest mail of `kind` to `email`.
    pub fn link(&self, kind: &str, email: &str) -> String {
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
        let text = mail_text(&std::fs::read(newest).unwrap());
        let start = text
            .find("http://localhost:8080/")
            .unwrap_or_else(|| panic!("no link in {}:\n{text}", newest.display()));
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        link.trim_start_matches("http://localhost:8080").to_string()
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
        let log = data
            .dir
            .path()
            .join(format!("server-{}.log", rand_suffix()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpor-server"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CPOR_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("--data-dir")
            .arg(data.path())
            .arg("--listen")
            .arg("127.0.0.1:0")
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

    /// Logs in through the login page (fixed captcha).
    pub fn login(&mut self, email: &str, password: &str) -> Resp {
        let page = self.get("/login");
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

    /// The CSRF token of a signed-in page's forms.
    pub fn csrf(&mut self) -> String {
        self.get("/account").field("csrf")
    }
}

pub fn enc(s: &str) -> String {
    mail::url_encode(s)
}

/// Waits until `f` holds (the server works in the background: mail,
/// snapshot polling).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}
