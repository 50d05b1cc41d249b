//! The headless Chromium test: Debian's `chromium`, driven over plain
//! WebDriver HTTP through Debian's `chromedriver` (both installed by
//! scripts/setup-test-deps), with a phone's screen. A person takes the
//! activation link from the mail the notification stage wrote, sets a
//! password, logs in through the captcha, opens a case and reads its three
//! entries, changes the password, logs out and logs in again with the new
//! one. Every page it passes must fit the phone's width; the login page,
//! the list of cases, the case (`case-phone.png`) and the account page are
//! saved as phone-sized screenshots in target/screenshots/.
//!
//! The WebDriver client is the few commands this needs, over `ureq`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use etl::kinds::CaseKey;
use etl::snapshot::read::Snapshot;
use store::Store;

use crate::util::{enc, free_port, repo_root, Data, Server, CAPTCHA, PASSWORD, SAMPLE_MORNING};

const WANG: &str = "wang.ming@example.com";
const NEW_PASSWORD: &str = "a brand new passphrase, please";
/// CSS pixels and device pixel ratio of the emulated phone.
const PHONE: Screen = Screen {
    name: "phone",
    width: 390,
    height: 844,
    ratio: 3,
    mobile: true,
};
/// The narrowest screen WCAG 2.1's reflow (1.4.10) asks a page to fit
/// without sideways scrolling: 320 CSS pixels.
const SMALL_PHONE: Screen = Screen {
    name: "small-phone",
    width: 320,
    height: 640,
    ratio: 2,
    mobile: true,
};
/// A laptop's browser window.
const DESKTOP: Screen = Screen {
    name: "desktop",
    width: 1366,
    height: 900,
    ratio: 1,
    mobile: false,
};

/// The size the browser emulates.
#[derive(Clone, Copy, Debug)]
struct Screen {
    /// In screenshot names: `case-phone.png`.
    name: &'static str,
    width: u32,
    height: u32,
    ratio: u32,
    mobile: bool,
}
/// How long to wait for an element, a page or the driver.
const WAIT: Duration = Duration::from_secs(10);
/// What the browser showed when the test failed, in target/screenshots/.
const FAILURE_SHOT: &str = "failure-phone.png";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The prosecutors' single sign-on in the same browser harness.
#[path = "browser_sso.rs"]
mod sso;

/// WCAG 2.2 AA and best practices measured with axe-core on every page and state, at both
/// sizes; the keyboard-only path; the GOV.UK-style errors.
#[path = "browser_a11y.rs"]
mod a11y;

#[test]
fn in_chromium_on_a_phone_one_activates_signs_in_reads_a_case_and_changes_the_password() {
    let _busy = crate::util::busy();
    let shots = repo_root().join("target").join("screenshots");
    // Only this run's failure, if any, is left to look at.
    let _ = std::fs::remove_file(shots.join(FAILURE_SHOT));
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let b = Browser::start(PHONE);
    let base = &server.base;

    // The activation link, from the mail the notification stage wrote.
    let link = data.link("activation", WANG);
    assert!(link.starts_with("/activate?token="), "{link}");
    b.go(&format!("{base}{link}"));
    let heading = b.text(&b.find("h1"));
    assert!(heading.starts_with("啟用帳號"), "{heading}");
    assert!(b.text(&b.find("main")).contains(WANG));
    b.type_into("#password", PASSWORD);
    // As it is typed, the page says how strong the password looks
    // (ASVS 2.1.8), and it can be shown to check it (2.1.12).
    b.wait("the strength meter", || {
        b.find_all("#password-strength")
            .first()
            .is_some_and(|m| b.text(m).starts_with("密碼強度："))
    });
    let kind = |b: &Browser| b.script("return document.querySelector('#password').type", json!([]));
    assert_eq!(kind(&b), json!("password"));
    b.click(&b.find("#password-show"));
    assert_eq!(kind(&b), json!("text"), "shown");
    b.click(&b.find("#password-show"));
    assert_eq!(kind(&b), json!("password"), "hidden again");
    b.type_into("#confirm", PASSWORD);
    b.click_button("設定密碼");
    b.wait_path("/login?m=activated");
    assert_eq!(
        b.text(&b.find("p.notice")),
        "帳號已啟用，請以剛設定的密碼登入。"
    );
    // The address is filled in: only the password and the captcha are
    // left to type.
    assert_eq!(
        b.script("return document.querySelector('#email').value", json!([])),
        json!(WANG)
    );

    // The login page's captcha is a real image the browser draws.
    phone_screenshot(&b, &shots, "login");
    sign_in(&b, WANG, PASSWORD);

    // The list of cases links to the case; the person follows it.
    let (court, key) = (
        "TPD",
        CaseKey {
            category: "民事".into(),
            year: 115,
            word: "訴".into(),
            number: 100,
        },
    );
    let path = format!(
        "/cases/{court}/{}/{}/{}/{}",
        enc(&key.category),
        key.year,
        enc(&key.word),
        key.number
    );
    phone_screenshot(&b, &shots, "cases");
    b.click(&b.find(&format!("a[href=\"{path}\"]")));
    b.wait_path(&path);
    let number = format!(
        "臺灣臺北地方法院 {} {}年度{}字第{}號",
        key.category, key.year, key.word, key.number
    );
    assert_eq!(b.text(&b.find("h1")), number);

    // Exactly the three entries of the live snapshot, newest first, as the
    // browser shows them.
    let want = snapshot_entries(&data, court, &key);
    assert_eq!(want.len(), 3, "the sample case has three entries: {want:?}");

    let shown: Vec<(String, String)> = b
        .find_all("table.entries tbody tr")
        .iter()
        .map(|row| {
            // The date is the row's header (`th scope=row`), the text a cell.
            let cells = b.find_all_in(row, "th, td");
            assert_eq!(cells.len(), 2, "{}", b.source());
            // An entry has no calendar file of its own: the hearings
            // table has each hearing's, by its UID.
            assert!(
                b.find_all_in(&cells[1], "a.ics").is_empty(),
                "{}",
                b.source()
            );
            (b.text(&cells[0]), squash(&b.text(&cells[1])))
        })
        .collect();
    assert_eq!(shown, want);

    // It reads well on a phone.
    let shot = phone_screenshot(&b, &shots, "case");
    eprintln!("screenshot: {}", shot.display());

    // Changing the password keeps this browser signed in.
    b.click(&b.find("header a[href=\"/account\"]"));
    b.wait_path("/account");
    phone_screenshot(&b, &shots, "account");
    b.type_into("#current", PASSWORD);
    b.type_into("#password", NEW_PASSWORD);
    b.type_into("#confirm", NEW_PASSWORD);
    b.click_button("變更密碼");
    // Answered in place (POST /account/password) or redirected to /account.
    b.wait("the answer to the password change", || {
        b.path().starts_with("/account")
            && !(b.find_all("p.notice").is_empty() && b.find_all(".error-summary").is_empty())
    });
    assert_eq!(
        b.text(&b.find("p.notice")),
        query_server::pages::notice("changed").unwrap(),
        "{}",
        b.source()
    );
    assert!(b.find_all(".error-summary").is_empty(), "{}", b.source());

    // Logging out ends the session: the case is no longer shown.
    b.click_button("登出");
    b.wait_path("/login?m=logout");
    assert_eq!(b.text(&b.find("p.notice")), "您已登出。");
    b.go(&format!("{base}{path}"));
    b.wait_path(&format!("/login?next={}", enc(&path)));

    // The old password no longer works; the new one does.
    fill_login(&b, WANG, PASSWORD);
    b.click_button("登入");
    b.wait("the login page to refuse the old password", || {
        b.path() == "/login" && !b.find_all(".error-summary").is_empty()
    });
    // Logging in from there returns to the case.
    fill_login(&b, WANG, NEW_PASSWORD);
    b.click_button("登入");
    b.wait_path(&path);
    assert_eq!(b.text(&b.find("h1")), number);
}

/// On a shared computer (a court's kiosk, a law office's), the next person
/// must not see the last one's cases by pressing Back after they signed
/// out: Chromium's back/forward cache kept the signed-in list and restored
/// it as it was, though every signed-in page is `no-store` and the session
/// is gone (the prosecutors' walk found it; their pages carry the same
/// script, `sso::signing_out_ends_the_session_and_goes_to_the_providers_logout`).
#[test]
fn in_chromium_the_back_button_after_signing_out_shows_no_case() {
    let _busy = crate::util::busy();
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let mut c = crate::util::Client::new(&server);
    assert_eq!(c.activate(&data, WANG, PASSWORD).status, 303);
    let b = Browser::start(PHONE);
    b.go(&format!("{}/login", server.base));
    sign_in(&b, WANG, PASSWORD);
    let number = b.text(&b.find("table.list tbody th[data-label=\"案號\"] a"));
    b.click_button("登出");
    b.wait_path("/login?m=logout");
    b.back();
    assert_signed_out_page(&b, &number);
}

/// A review of the server (2026-12-05, its 3): a hearing's state note
/// (（已改期）, （已取消）, （可能已變更）) was kept on one line with its kind,
/// so on phones 360 to 390 pixels wide the case page scrolled sideways
/// (404 px) and its 加入行事曆 column went off screen: on the hearings a
/// person most needs to read. The sample's cancelled 調解 (PCD 簡 33), the
/// morning after night 2, 320 pixels wide (WCAG's reflow), and the pages
/// on the way there, and 我的庭期.
#[test]
fn in_chromium_a_cancelled_hearing_fits_a_small_phone() {
    const FISHMONGER: &str = "fishmonger@example.net";
    let _busy = crate::util::busy();
    let shots = repo_root().join("target").join("screenshots");
    let data = Data::sample();
    let server = Server::start_at(&data, SAMPLE_MORNING, &[]);
    let mut c = crate::util::Client::new(&server);
    assert_eq!(c.activate(&data, FISHMONGER, PASSWORD).status, 303);
    let b = Browser::start(SMALL_PHONE);
    b.go(&format!("{}/login", server.base));
    screenshot(&b, &shots, "login");
    sign_in(&b, FISHMONGER, PASSWORD);
    screenshot(&b, &shots, "cases");
    b.go(&format!("{}/account", server.base));
    b.wait_path("/account");
    screenshot(&b, &shots, "account");
    let path = format!("/cases/PCD/{}/115/{}/33", enc("民事"), enc("簡"));
    b.go(&format!("{}{path}", server.base));
    b.wait_path(&path);
    let hearings = b.text(&b.find("table.hearings"));
    assert!(hearings.contains("（已取消）"), "{hearings}");
    // An entry of two lines (the contract allows line breaks in 登載事項)
    // shows two, as the mail does.
    let key = CaseKey {
        category: "民事".into(),
        year: 115,
        word: "簡".into(),
        number: 33,
    };
    let want = snapshot_entries(&data, "PCD", &key);
    assert!(
        want.iter().any(|(_, text)| text.contains('\n')),
        "the sample case has an entry of two lines: {want:?}"
    );
    let shown: Vec<(String, String)> = b
        .find_all("table.entries tbody tr")
        .iter()
        .map(|row| {
            let cells = b.find_all_in(row, "th, td");
            (b.text(&cells[0]), squash(&b.text(&cells[1])))
        })
        .collect();
    assert_eq!(shown, want);
    screenshot(&b, &shots, "case-cancelled-hearing");
    // 我的庭期 at 320 pixels too: the hearing to come, a card with labels;
    // the cancelled one not among them.
    b.go(&format!("{}/hearings", server.base));
    b.wait_path("/hearings");
    let agenda = b.text(&b.find("table.agenda"));
    assert!(
        agenda.contains("09:30") && !agenda.contains("調解"),
        "{agenda}"
    );
    screenshot(&b, &shots, "hearings");
}

/// After Back from the signed-out page: the page asks to log in, and shows
/// neither the case `number` nor anyone's name.
fn assert_signed_out_page(b: &Browser, number: &str) {
    b.wait("Back to land on the login page", || {
        let path = b.path();
        (path == "/login" || path.starts_with("/login?next="))
            && b.script("return document.readyState", json!([])) == json!("complete")
    });
    let shown = b.text(&b.find("body"));
    assert!(!shown.contains(number), "{shown}");
    assert!(b.find_all("header .who").is_empty(), "{shown}");
}

/// Logs in through the login page and lands on the list of cases.
fn sign_in(b: &Browser, email: &str, password: &str) {
    fill_login(b, email, password);
    b.click_button("登入");
    b.wait_path("/cases");
    assert_eq!(b.text(&b.find("header .who")), email);
}

/// Fills the login form, after checking that its captcha image loaded.
fn fill_login(b: &Browser, email: &str, password: &str) {
    b.find(".captcha img");
    b.wait("the captcha image to load", || {
        b.script(
            "const i = document.querySelector('.captcha img');
             return i.complete && i.naturalWidth > 0",
            json!([]),
        ) == json!(true)
    });
    b.type_into("#email", email);
    b.type_into("#password", password);
    b.type_into("#captcha", CAPTCHA);
}

/// Checks that the page fits the phone's width (no sideways scrolling) and
/// saves what the phone shows as `shots/<name>-phone.png`.
fn phone_screenshot(b: &Browser, shots: &Path, name: &str) -> PathBuf {
    screenshot(b, shots, name)
}

/// Checks that the page fits the browser's width (no sideways scrolling)
/// and saves what it shows as `shots/<name>-<screen>.png`.
fn screenshot(b: &Browser, shots: &Path, name: &str) -> PathBuf {
    let screen = b.screen;
    let widths = b.script(
        "const d = document.documentElement;
         return [window.innerWidth, d.scrollWidth <= d.clientWidth]",
        json!([]),
    );
    assert_eq!(
        widths,
        json!([screen.width, true]),
        "{} scrolls sideways {}px wide (or the window is not that wide)",
        b.path(),
        screen.width
    );
    let png = b.screenshot();
    assert_eq!(
        png_size(&png),
        (screen.width * screen.ratio, screen.height * screen.ratio),
        "a {}-sized screenshot of {}",
        screen.name,
        b.path()
    );
    std::fs::create_dir_all(shots).unwrap();
    let shot = shots.join(format!("{name}-{}.png", screen.name));
    std::fs::write(&shot, &png).unwrap();
    shot
}

/// The case's entries in the live snapshot, as the page should show them:
/// ROC date and text, newest first.
fn snapshot_entries(data: &Data, court: &str, key: &CaseKey) -> Vec<(String, String)> {
    let file = Store::new(data.path())
        .live()
        .unwrap()
        .expect("a live snapshot");
    let (_, case) = Snapshot::open(&file)
        .unwrap()
        .find_case(court, key)
        .unwrap()
        .unwrap_or_else(|| panic!("no case {court} {key} in {}", file.name()));
    case.entries
        .iter()
        .map(|e| {
            (
                schemas::date::roc(e.posted),
                squash(&schemas::text::clean(&e.text)),
            )
        })
        .collect()
}

/// Runs of white space within a line as one space, trimmed, and the
/// text's own line breaks kept: how the page shows an entry. (A review of
/// hostile data, the forty-sixth session: the page ran an entry's lines
/// together, 「115/05/20 09:30第三法庭準備程序 請被告攜帶…」, where the
/// contract allows line breaks in 登載事項 and the mail keeps them.)
fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Width and height of a PNG.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// Standard base64 (what WebDriver's screenshots are), never panicking.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | val(*c) << (18 - 6 * i));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// A program on the PATH, else a failure that says how to install it.
fn program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: the browser test needs Debian's chromium and \
                 chromium-driver. Run scripts/setup-test-deps (it installs them with apt-get)."
            )
        })
}

/// chromedriver on a loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
    /// Chromium's profile and the driver's log.
    dir: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port (another, if that one was taken
    /// meanwhile) and waits until it is ready.
    fn start(agent: &ureq::Agent) -> Driver {
        let chromedriver = program("chromedriver");
        let mut tries = 0;
        loop {
            match Driver::try_start(agent, &chromedriver) {
                Ok(driver) => return driver,
                Err(e) if tries < 2 => {
                    eprintln!("{e}; again on another port");
                    tries += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn try_start(agent: &ureq::Agent, chromedriver: &Path) -> Result<Driver, String> {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            dir,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = agent
                .get(&format!("{}/status", driver.url))
                .call()
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                return Ok(driver);
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                return Err(format!(
                    "chromedriver exited ({status}):\n{}",
                    driver.log_text()
                ));
            }
            if Instant::now() > deadline {
                panic!(
                    "chromedriver not ready on port {port} after {WAIT:?}:\n{}",
                    driver.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// An element reference.
struct El(String);

/// A browser session; ended (and Chromium closed) when dropped, after a
/// screenshot, the page's address and the driver's log if the test is
/// failing.
struct Browser {
    agent: ureq::Agent,
    session: String,
    screen: Screen,
    // Dropped after the session has ended.
    driver: Driver,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let shot = repo_root()
                .join("target")
                .join("screenshots")
                .join(FAILURE_SHOT.replace("phone", self.screen.name));
            if let Ok(v) = self.cmd("GET", "/screenshot", None) {
                let _ = std::fs::create_dir_all(shot.parent().unwrap());
                let _ = std::fs::write(&shot, base64_decode(v.as_str().unwrap_or("")));
                eprintln!("browser screenshot at failure: {}", shot.display());
            }
            if let Ok(url) = self.cmd("GET", "/url", None) {
                eprintln!("browser at {url}");
            }
            eprintln!("chromedriver log (end):\n{}", self.driver.log_text());
        }
        let _ = self.cmd("DELETE", "", None);
    }
}

impl Browser {
    fn start(screen: Screen) -> Browser {
        let chromium = program("chromium");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let driver = Driver::start(&agent);
        let profile = driver.dir.path().join("profile");
        let (w, h, ratio, mobile) = (screen.width, screen.height, screen.ratio, screen.mobile);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--lang=zh-TW",
                    format!("--window-size={w},{h}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
                "mobileEmulation": {
                    "deviceMetrics": {"width": w, "height": h, "pixelRatio": ratio, "mobile": mobile, "touch": mobile},
                },
            },
        }}});
        let url = format!("{}/session", driver.url);
        let answer = match agent.post(&url).send_json(caps) {
            Ok(r) => r.into_json::<Value>().unwrap(),
            Err(ureq::Error::Status(_, r)) => panic!(
                "chromedriver could not start {}: {}\n{}",
                chromium.display(),
                r.into_string().unwrap_or_default(),
                driver.log_text()
            ),
            Err(e) => panic!("POST {url}: {e}"),
        };
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {answer}"))
            .to_string();
        Browser {
            agent,
            session,
            screen,
            driver,
        }
    }

    /// A WebDriver command of this session: its `value`, or the error.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.driver.url, self.session);
        let req = self.agent.request(method, &url);
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let (ok, resp) = match result {
            Ok(r) => (true, r),
            Err(ureq::Error::Status(_, r)) => (false, r),
            Err(e) => return Err(format!("{method} {path}: {e}")),
        };
        let v: Value = resp
            .into_json()
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(format!(
                "{method} {path}: {}: {}",
                v["value"]["error"].as_str().unwrap_or("?"),
                v["value"]["message"].as_str().unwrap_or("?")
            ))
        }
    }

    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.cmd(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn go(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    /// The browser's Back button.
    fn back(&self) {
        self.must("POST", "/back", Some(json!({})));
    }

    /// The browser's Forward button.
    fn forward(&self) {
        self.must("POST", "/forward", Some(json!({})));
    }

    /// The path and query of the current page.
    fn path(&self) -> String {
        let url = self.must("GET", "/url", None);
        let url = url.as_str().unwrap_or_default();
        url.split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_else(|| url.to_string())
    }

    /// Polls `f` until it holds, for up to WAIT.
    fn wait(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !f() {
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; at {}:\n{}",
                    self.path(),
                    self.source()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the browser shows the page at `path` (and query), loaded.
    fn wait_path(&self, path: &str) {
        self.wait(&format!("the page {path}"), || {
            self.path() == path
                && self.script("return document.readyState", json!([])) == json!("complete")
        });
    }

    fn elements(&self, from: Option<&El>, using: &str, value: &str) -> Vec<El> {
        let path = match from {
            Some(el) => format!("/element/{}/elements", el.0),
            None => "/elements".to_string(),
        };
        let found = self.must(
            "POST",
            &path,
            Some(json!({ "using": using, "value": value })),
        );
        found
            .as_array()
            .unwrap_or_else(|| panic!("elements: {found}"))
            .iter()
            .map(|e| El(e[ELEMENT].as_str().expect("element id").to_string()))
            .collect()
    }

    /// The first element `using` finds, waiting for it to appear.
    fn find_by(&self, using: &str, value: &str) -> El {
        let mut found = None;
        self.wait(&format!("an element {value}"), || {
            found = self.elements(None, using, value).into_iter().next();
            found.is_some()
        });
        found.expect("found")
    }

    fn find(&self, css: &str) -> El {
        self.find_by("css selector", css)
    }

    /// Every element matching `css` now (no waiting).
    fn find_all(&self, css: &str) -> Vec<El> {
        self.elements(None, "css selector", css)
    }

    fn find_all_in(&self, el: &El, css: &str) -> Vec<El> {
        self.elements(Some(el), "css selector", css)
    }

    fn text(&self, el: &El) -> String {
        let v = self.must("GET", &format!("/element/{}/text", el.0), None);
        v.as_str().unwrap_or_default().trim().to_string()
    }

    fn click(&self, el: &El) {
        self.must("POST", &format!("/element/{}/click", el.0), Some(json!({})));
    }

    /// Clicks the button that reads `label`, as a person would.
    fn click_button(&self, label: &str) {
        let el = self.find_by("xpath", &format!("//button[normalize-space()='{label}']"));
        self.click(&el);
    }

    /// Types into the field `css`, emptied first (the login page keeps the
    /// address after a failed attempt).
    fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.must("POST", &format!("/element/{}/clear", el.0), Some(json!({})));
        self.must(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    fn script(&self, js: &str, args: Value) -> Value {
        self.must(
            "POST",
            "/execute/sync",
            Some(json!({ "script": js, "args": args })),
        )
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| e)
    }

    /// The viewport as a PNG.
    fn screenshot(&self) -> Vec<u8> {
        let v = self.must("GET", "/screenshot", None);
        base64_decode(v.as_str().expect("base64 screenshot"))
    }
}
