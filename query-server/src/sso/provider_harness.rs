//! Tests only: the real OpenID provider of `scripts/oidc-provider/` (panva's
//! oidc-provider on Node.js) started on a free loopback port, and a
//! browser's part of the code flow played over HTTP (ureq, redirects by
//! hand, the provider's cookies kept in a jar): follow the redirects, fill
//! in the provider's login form, stop at our redirect URI.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use openidconnect::url::Url;
use serde_json::Value;

pub const PASSWORD: &str = "cpor-sso-2026";
pub const CLIENT_ID: &str = "cpor";
pub const CLIENT_SECRET: &str = "cpor-sso-test-secret";
pub const APP_CLIENT_ID: &str = "cpor-app";
pub const REDIRECT: &str = "http://127.0.0.1:8080/sso/callback";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/oidc-provider")
}

/// A running provider; killed when dropped (and it exits by itself when
/// this process dies: its stdin closes).
pub struct Op {
    child: Child,
    _stdin: ChildStdin,
    pub issuer: String,
    log: Arc<Mutex<String>>,
}

impl Op {
    pub fn start(args: &[&str]) -> Op {
        let script = dir().join("provider.js");
        if !dir()
            .join("node_modules/oidc-provider/package.json")
            .is_file()
        {
            panic!(
                "the test OpenID provider is not installed ({} has no node_modules/oidc-provider): \
                 run scripts/setup-test-deps",
                dir().display()
            );
        }
        let mut child = Command::new("node")
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-with-stdin"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `node` ({e}): Node.js 20 or later is needed for the SSO tests; run scripts/setup-test-deps")
            });
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        let drain = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let started = std::time::Instant::now();
        let line = rx.recv_timeout(Duration::from_secs(60));
        let ready: Option<Value> = line
            .as_ref()
            .ok()
            .and_then(|l| serde_json::from_str(l).ok());
        let Some(ready) = ready else {
            let _ = child.kill();
            let status = child.wait();
            let _ = drain.join();
            panic!(
                "the test OpenID provider did not start ({line:?} after {:?}, {status:?}); its log:\n{}",
                started.elapsed(),
                log.lock().unwrap()
            )
        };
        Op {
            _stdin: child.stdin.take().unwrap(),
            child,
            issuer: ready["issuer"].as_str().unwrap().to_string(),
            log,
        }
    }

    /// One of the provider's admin operations (see provider.js).
    pub fn admin(&self, op: &str, query: &str) -> Value {
        let url = format!("{}/admin/{op}?{query}", self.issuer);
        match ureq::post(&url).call() {
            Ok(r) => r.into_json().unwrap(),
            Err(e) => panic!("admin {op}: {e}\n{}", self.log()),
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a browser keeps of the provider: its cookies.
pub struct Browser {
    agent: ureq::Agent,
    jar: HashMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<Url>,
    pub body: String,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(20))
                .build(),
            jar: HashMap::new(),
        }
    }
}

impl Browser {
    fn cookies(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, url: &Url, r: Result<ureq::Response, ureq::Error>) -> Page {
        let r = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{url}: {e}"),
        };
        for c in r.all("set-cookie") {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let expired = c.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
                if v.is_empty() || expired {
                    self.jar.remove(k.trim());
                } else {
                    self.jar.insert(k.trim().to_string(), v.to_string());
                }
            }
        }
        let location = r.header("location").map(|l| url.join(l).unwrap());
        Page {
            status: r.status(),
            location,
            body: r.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, url: &Url) -> Page {
        let r = self
            .agent
            .get(url.as_str())
            .set("cookie", &self.cookies())
            .call();
        self.take(url, r)
    }

    pub fn post(&mut self, url: &Url, form: &[(&str, &str)]) -> Page {
        let r = self
            .agent
            .post(url.as_str())
            .set("cookie", &self.cookies())
            .send_form(form);
        self.take(url, r)
    }

    /// Follows `start` through the provider, signing in as `user` when its
    /// login form shows, until a redirect to `redirect` (returned, with the
    /// code or the error in its query). `Err`: the page where it stopped.
    pub fn sign_in(&mut self, start: &Url, user: &str, redirect: &str) -> Result<Url, String> {
        let mut url = start.clone();
        for _ in 0..10 {
            let page = self.get(&url);
            match (page.status, page.location) {
                (300..=399, Some(next)) if next.as_str().starts_with(redirect) => return Ok(next),
                (300..=399, Some(next)) => url = next,
                // The provider's page that posts itself (a real browser
                // runs its script): ending its session of another account
                // before signing this one in (`prompt=login`).
                (200, _) if page.body.contains("document.forms[0].submit()") => {
                    let (action, fields) = self_posting_form(&page.body)
                        .ok_or_else(|| format!("{url}: a form without an action: {}", page.body))?;
                    let action = url.join(&action).map_err(|e| e.to_string())?;
                    let form: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let after = self.post(&action, &form);
                    match after.location {
                        Some(next) if next.as_str().starts_with(redirect) => return Ok(next),
                        Some(next) => url = next,
                        None => return Err(format!("{action}: {}: {}", after.status, after.body)),
                    }
                }
                (200, _) if page.body.contains("id=\"login\"") => {
                    let after = self.post(&url, &[("username", user), ("password", PASSWORD)]);
                    match after.location {
                        Some(next) => url = next,
                        None => return Err(format!("login refused: {}", after.body)),
                    }
                }
                (status, _) => return Err(format!("{url}: {status}: {}", page.body)),
            }
        }
        Err("too many redirects".into())
    }

    /// Goes to the provider's login page and cancels there.
    pub fn cancel(&mut self, start: &Url, redirect: &str) -> Url {
        let page = self.get(start);
        let login = page.location.expect("a redirect to the login page");
        let mut url = login.join(&format!("{}/abort", login.path())).unwrap();
        for _ in 0..10 {
            let page = self.get(&url);
            match page.location {
                Some(next) if next.as_str().starts_with(redirect) => return next,
                Some(next) => url = next,
                None => panic!("{url}: {}: {}", page.status, page.body),
            }
        }
        panic!("too many redirects")
    }
}

/// The action and hidden fields of a page's first form (the provider's
/// own markup: `action="…"`, `<input type="hidden" name="…" value="…"/>`).
fn self_posting_form(body: &str) -> Option<(String, Vec<(String, String)>)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[at..].split('"').next()?.to_string())
    };
    let form = body.split("<form").nth(1)?;
    let action = attr(form.split('>').next()?, "action")?;
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = tag.split('>').next()?;
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect();
    Some((action, fields))
}
