//! Pages everyone can use, measured in the real browser. axe-core (npm
//! `axe-core`, the exact version of tests/support/axe/package-lock.json,
//! installed by scripts/setup-test-deps) is injected into every page and
//! state at phone (390×844) and desktop (1366×900) size and must find no
//! violation of WCAG 2.2 A or AA nor of its best practices (tags wcag2a,
//! wcag2aa, wcag21a, wcag21aa, wcag22aa, best-practice: 2.2 adds, among
//! others, targets of at least 24 by 24 pixels or spaced as far; the best
//! practices a main landmark, every part of the page in a landmark, and
//! headings in order). Before the walk, a page broken on purpose shows that
//! those rules run;
//! every page's screenshot is saved as target/screenshots/a11y/<page>-<size>.png.
//! The login → case → logout path is walked with the keyboard only, with a
//! visible focus on everything Tab reaches. The forms' errors are the
//! GOV.UK pattern: a summary that takes the focus and links to each field,
//! the message beside its field, `aria-invalid`, `aria-describedby`, a
//! title starting 錯誤：, and what was typed kept.

use super::*;
use crate::util::Client;

/// What axe-core checks: WCAG 2.0, 2.1 and 2.2, levels A and AA, and
/// axe's best practices.
const TAGS: [&str; 6] = [
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

/// The accounts the walk signs in as, activated first: a case list with
/// one case (WANG), with many (a lawyer, one case on its last day), with
/// only a carried-over court's case, with only cases that are no longer
/// queryable, and with none at all (its only grant revoked on night 2).
const LAWYER: &str = "lawyer.chen@example.com";
const CARRIED: &str = "lee.hua@example.net";
const GONE: &str = "wu.jh@example.com";
const NONE: &str = "lin.shufen@example.com";

const PLENTY_OF_CAPTCHAS: &[(&str, &str)] = &[
    ("CPOR_SERVER_CAPTCHA_BURST", "1000"),
    ("CPOR_SERVER_CAPTCHA_PER_MINUTE", "1000"),
];

fn axe_source() -> String {
    let path = repo_root().join("tests/support/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The browser test needs axe-core: run scripts/setup-test-deps \
             (npm ci in tests/support/axe).",
            path.display()
        )
    })
}

/// Every page's violations and screenshots, gathered as the walk goes:
/// the test fails at the end listing all of them, not only the first.
pub(super) struct Audit {
    axe: String,
    shots: PathBuf,
    violations: Vec<String>,
    pages: usize,
}

impl Audit {
    pub(super) fn new() -> Audit {
        let shots = repo_root().join("target").join("screenshots").join("a11y");
        Audit {
            axe: axe_source(),
            shots,
            violations: Vec::new(),
            pages: 0,
        }
    }

    /// Shows that the rules this audit relies on run: on the page the
    /// browser shows, two buttons 10 pixels square side by side (WCAG
    /// 2.2's target size) and a heading that skips two levels (a best
    /// practice) must each be found, then are taken away again.
    pub(super) fn proves_its_rules_run(&self, b: &Browser) {
        b.script(
            // (Styled through the DOM: the site's CSP refuses style
            // attributes written in markup.)
            "const d = document.createElement('div');
             d.id = 'broken-on-purpose';
             d.appendChild(document.createElement('h5')).textContent = 'x';
             for (const t of ['a', 'b']) {
                 const b = d.appendChild(document.createElement('button'));
                 b.textContent = t;
                 Object.assign(b.style, {width: '10px', height: '10px', padding: '0',
                     margin: '0', minWidth: '0', minHeight: '0', border: '0', fontSize: '6px'});
             }
             document.querySelector('main').append(d);",
            json!([]),
        );
        let ids: Vec<String> = self
            .run(b)
            .iter()
            .map(|v| v["id"].as_str().unwrap_or("?").to_string())
            .collect();
        b.script(
            "document.getElementById('broken-on-purpose').remove();",
            json!([]),
        );
        for rule in ["target-size", "heading-order"] {
            assert!(
                ids.iter().any(|i| i == rule),
                "axe-core did not find the page's {rule} fault: {ids:?}"
            );
        }
    }

    /// axe-core's violations on what the browser shows now.
    fn run(&self, b: &Browser) -> Vec<Value> {
        b.script(&format!("{}\nreturn typeof axe;", self.axe), json!([]));
        let found = b.script_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {
                 runOnly: {type: 'tag', values: arguments[0]},
                 resultTypes: ['violations'],
             }).then(r => done(r.violations.map(v => ({
                 id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary),
             })))).catch(e => done({error: String(e)}));",
            json!([TAGS]),
        );
        found
            .as_array()
            .unwrap_or_else(|| panic!("axe-core failed on {}: {found}", b.path()))
            .clone()
    }

    /// Runs axe-core on what the browser shows now, records its
    /// violations, and saves the screenshot `<name>-<size>.png`.
    pub(super) fn check(&mut self, b: &Browser, name: &str) {
        for v in &self.run(b) {
            self.violations.push(format!(
                "{name} at {} ({}): {} [{}] {}\n    {}",
                b.screen.name,
                b.path(),
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                v["nodes"]
                    .as_array()
                    .map(|n| n
                        .iter()
                        .map(|n| n.as_str().unwrap_or("?").replace('\n', " "))
                        .collect::<Vec<_>>()
                        .join("\n    "))
                    .unwrap_or_default()
            ));
        }
        screenshot(b, &self.shots, name);
        self.pages += 1;
    }

    /// Fails, listing every violation found, if there was any.
    pub(super) fn assert_none(&self) {
        eprintln!(
            "axe-core checked {} pages and states; screenshots in {}",
            self.pages,
            self.shots.display()
        );
        assert!(
            self.violations.is_empty(),
            "{} violations of WCAG 2.2 AA or axe's best practices:\n{}",
            self.violations.len(),
            self.violations.join("\n")
        );
    }
}

#[test]
fn every_page_and_state_passes_axe_core_at_wcag_2_2_aa_and_best_practice_on_a_phone_and_a_desktop()
{
    let _busy = crate::util::busy();
    // GONE's and NONE's accounts made while their cases were open (no
    // account is made for an address no live grant names).
    let data = Data::sample_activated(&[GONE, NONE]);
    // The walk fetches some forty captchas in a few minutes, from one address.
    // The morning after night 2: the sample's hearings are to come, so the
    // case page has its hearings table whatever day the test runs.
    let server = Server::start_at(&data, crate::util::SAMPLE_MORNING, PLENTY_OF_CAPTCHAS);
    let mut c = Client::new(&server);
    for who in [WANG, LAWYER, CARRIED] {
        let r = c.activate(&data, who, PASSWORD);
        assert_eq!(r.status, 303, "activating {who}: {}", r.body);
    }
    // The maintenance page comes from a second server, in its window now
    // (09:00 by the same clock: a server whose clock said otherwise would
    // clear the other's sessions as expired, sharing their database).
    let closed = Server::start_at(
        &data,
        crate::util::SAMPLE_MORNING,
        &[
            PLENTY_OF_CAPTCHAS[0],
            PLENTY_OF_CAPTCHAS[1],
            ("CPOR_SERVER_MAINTENANCE_START", "08:59"),
            ("CPOR_SERVER_MAINTENANCE_END", "09:30"),
        ],
    );
    let mut audit = Audit::new();
    for screen in [PHONE, DESKTOP] {
        let b = Browser::start(screen);
        walk(&b, &data, &server, &closed, &mut audit);
    }
    audit.assert_none();
}

/// Every page and state, at the browser's size.
fn walk(b: &Browser, data: &Data, server: &Server, closed: &Server, audit: &mut Audit) {
    let base = &server.base;

    // The login page, empty; first broken on purpose, to show the rules run.
    b.go(&format!("{base}/login"));
    b.wait_path("/login");
    audit.proves_its_rules_run(b);
    audit.check(b, "login");
    // Traditional Chinese as written in Taiwan: a screen reader given only
    // zh-Hant may read it with a Cantonese voice.
    assert_eq!(
        b.script("return document.documentElement.lang", json!([])),
        json!("zh-Hant-TW")
    );

    // Sent empty: the site's own messages, one per field (no browser
    // bubble: the form is `novalidate`).
    b.click_button("登入");
    expect_errors(b, &["email", "password", "captcha"]);
    audit.check(b, "login-error-empty");

    // A wrong password: the address stays.
    fill_login(b, WANG, "not the password at all");
    b.click_button("登入");
    expect_errors(b, &["email"]);
    assert_eq!(b.value("#email"), WANG, "the address is kept");
    audit.check(b, "login-error-credentials");

    // A wrong captcha.
    fill_login(b, WANG, PASSWORD);
    b.type_into("#captcha", "000000");
    b.click_button("登入");
    expect_errors(b, &["captcha"]);
    assert_eq!(b.value("#email"), WANG, "the address is kept");
    audit.check(b, "login-error-captcha");

    // A captcha that is not six digits.
    fill_login(b, WANG, PASSWORD);
    b.type_into("#captcha", "12a");
    b.click_button("登入");
    expect_errors(b, &["captcha"]);

    // A new captcha keeps the address typed.
    b.type_into("#email", LAWYER);
    let before = b.value("input[name=captcha_id]");
    b.click_button("換一張驗證碼");
    b.wait("a new captcha", || {
        b.find_all("input[name=captcha_id]")
            .first()
            .is_some_and(|_| b.value("input[name=captcha_id]") != before)
    });
    assert_eq!(b.value("#email"), LAWYER, "a new captcha erased the form");
    assert!(b.find_all(".error-summary").is_empty(), "{}", b.source());

    // Forgot password: empty, its errors, the address kept.
    b.go(&format!("{base}/forgot"));
    b.wait_path("/forgot");
    audit.check(b, "forgot");
    b.click_button("寄送連結");
    expect_errors(b, &["email", "captcha"]);
    audit.check(b, "forgot-error-empty");
    b.type_into("#email", LAWYER);
    b.type_into("#captcha", "000000");
    b.click_button("寄送連結");
    expect_errors(b, &["captcha"]);
    assert_eq!(b.value("#email"), LAWYER, "the address is kept");
    audit.check(b, "forgot-error-captcha");
    // Sent: the page that says a link is on its way, and the reset form the
    // link opens (not sent: the password stays). Each walk asks for
    // another account's, each address's links being limited.
    let who = if b.screen.name == "phone" {
        CARRIED
    } else {
        GONE
    };
    let before = data.mails("reset", who);
    b.type_into("#email", who);
    b.type_into("#captcha", CAPTCHA);
    b.click_button("寄送連結");
    b.wait("the page saying the link is sent", || {
        b.find_all(".error-summary").is_empty() && b.find_all("#email").is_empty()
    });
    audit.check(b, "forgot-sent");
    crate::util::eventually("the reset mail", || data.mails("reset", who) > before);
    b.go(&format!("{base}{}", data.link("reset", who)));
    b.find("#password");
    audit.check(b, "reset");

    // A form whose anti-forgery token is not the browser's: the page that
    // says the form expired.
    b.go(&format!("{base}/login"));
    b.wait_path("/login");
    fill_login(b, WANG, PASSWORD);
    b.script(
        "document.querySelector('input[name=csrf]').value = 'not-the-token';",
        json!([]),
    );
    b.click_button("登入");
    b.wait("the form-expired page", || {
        main_text(b).contains("這個表單已過期")
    });
    audit.check(b, "403-form-expired");

    // Activation (a link not used yet): the form, then its errors; the
    // password rules are said before the password fields.
    let link = data.link("activation", "huang.zhiwei@example.net");
    b.go(&format!("{base}{link}"));
    b.find("#password");
    let rule_first = b.script(
        "const r = document.getElementById('rule'), p = document.getElementById('password');
         return !!(r.compareDocumentPosition(p) & Node.DOCUMENT_POSITION_FOLLOWING)",
        json!([]),
    );
    assert_eq!(rule_first, json!(true), "the rules come before the field");
    audit.check(b, "activate");
    b.type_into("#password", "short");
    b.type_into("#confirm", "short");
    b.click_button("設定密碼");
    expect_errors(b, &["password"]);
    assert!(
        b.text(&b.find("#password-error")).contains("12 個字元"),
        "the site's own message: {}",
        b.source()
    );
    audit.check(b, "activate-error-short");
    b.type_into("#password", NEW_PASSWORD);
    b.type_into("#confirm", "a different passphrase, then");
    b.click_button("設定密碼");
    expect_errors(b, &["confirm"]);
    audit.check(b, "activate-error-mismatch");

    // Reset with a link that is not valid.
    b.go(&format!("{base}/reset?token=not-a-token"));
    b.wait_path("/reset?token=not-a-token");
    audit.check(b, "reset-invalid");

    // Not found.
    b.go(&format!("{base}/no-such-page"));
    b.wait_path("/no-such-page");
    audit.check(b, "404");

    // The case list, full; a case on its last day; a case; the account.
    b.go(&format!("{base}/login"));
    sign_in(b, LAWYER, PASSWORD);
    audit.check(b, "cases");
    // Searched (the search box, and the pages' links, with it), and a
    // search that finds none.
    for (q, name) in [("%E8%A8%B4", "cases-search"), ("zzz", "cases-search-none")] {
        b.go(&format!("{base}/cases?q={q}"));
        b.wait_path(&format!("/cases?q={q}"));
        audit.check(b, name);
    }
    // 我的庭期, from the header: the lawyer's hearings to come, a table a
    // day under its heading.
    b.click(&b.find("header nav a[href=\"/hearings\"]"));
    b.wait_path("/hearings");
    assert_eq!(
        b.find_all("main h2").len(),
        b.find_all("table.agenda").len(),
        "{}",
        b.source()
    );
    assert!(
        b.find_all("table.agenda a.ics").len() >= 4,
        "{}",
        b.source()
    );
    audit.check(b, "hearings");
    let last_day = "/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E8%A8%B4/212";
    b.go(&format!("{base}{last_day}"));
    b.wait_path(last_day);
    let deadline = b.text(&b.find(".deadline"));
    assert!(deadline.contains("115/11/24"), "{deadline}");
    audit.check(b, "case-last-day");
    sign_out(b);
    audit.check(b, "login-signed-out");

    sign_in(b, WANG, PASSWORD);
    let case = "/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E8%A8%B4/100";
    b.go(&format!("{base}{case}"));
    b.wait_path(case);
    // 115/12/10's 言詞辯論, with its calendar file.
    assert_eq!(
        b.find_all("table.hearings a.ics").len(),
        1,
        "{}",
        b.source()
    );
    audit.check(b, "case");
    // Mail to the address stopped after a bounce: said, and turned on
    // again from the page.
    let accounts = rusqlite::Connection::open(data.path().join("accounts.sqlite")).unwrap();
    store::accounts::flag(
        &accounts,
        WANG,
        "550 5.2.1 mailbox disabled",
        chrono::Utc::now(),
    )
    .unwrap();
    b.go(&format!("{base}/account"));
    b.wait_path("/account");
    b.find("#bounced");
    audit.check(b, "account-bounced");
    b.click(&b.find("#bounced button"));
    b.wait_path("/account?m=mail-resumed");
    assert!(b.find_all("#bounced").is_empty(), "{}", b.source());
    audit.check(b, "account");
    // The password's rules as the reset form says them, the one refused
    // for being common included.
    assert!(
        b.source().contains("太常見的密碼無法使用"),
        "{}",
        b.source()
    );
    // The calendar feed's address, shown once as it is made (on the second
    // walk, made anew).
    b.click(&b.find("form[action=\"/account/feed\"] button"));
    b.wait_path("/account?m=feed-made");
    let url = b.value("#feed-url");
    assert!(
        url.contains("/calendar/") && url.ends_with(".ics"),
        "{url}\n{}",
        b.source()
    );
    // Readable, and whole on a phone (a review of the pages, 2026-12-06:
    // the box had no style, the browser's small default: about 100
    // characters in a short box, and iOS zooms in on text under 16 px).
    let fits = b.script(
        "const e = document.querySelector('#feed-url');
         return [e.clientWidth, parseFloat(getComputedStyle(e).fontSize),
                 document.documentElement.clientWidth];",
        json!([]),
    );
    let (width, font, viewport) = (
        fits[0].as_f64().unwrap(),
        fits[1].as_f64().unwrap(),
        fits[2].as_f64().unwrap(),
    );
    assert!(
        font >= 16.0 && width >= (viewport - 96.0).min(400.0),
        "the feed's URL box: {width} px wide, {font} px text, on a {viewport} px page ({})",
        b.screen.name
    );
    audit.check(b, "account-feed-url");
    b.type_into("#current", "not the password at all");
    b.type_into("#password", NEW_PASSWORD);
    b.type_into("#confirm", NEW_PASSWORD);
    b.click_button("變更密碼");
    expect_errors(b, &["current"]);
    audit.check(b, "account-error");
    // Progress mail and reminders off, said so; then on again (the first
    // walk's unsubscribe, below, left this walk's reminders off).
    let toggle = |form: &str, to: &str| {
        let button = b.find(&format!("form[action=\"/account/{form}\"] button"));
        if b.text(&button)
            .starts_with(if to == "off" { "關閉" } else { "開啟" })
        {
            b.click(&button);
            b.wait_path(&format!("/account?m={form}-{to}"));
        }
    };
    toggle("digests", "off");
    toggle("reminders", "off");
    assert!(
        b.source().contains("開啟進度通知") && b.source().contains("開啟庭期提醒"),
        "{}",
        b.source()
    );
    audit.check(b, "account-mail-off");
    toggle("digests", "on");
    toggle("reminders", "on");
    sign_out(b);

    // A court whose data did not arrive tonight: said on the list and
    // the case, as the service speaking.
    sign_in(b, CARRIED, PASSWORD);
    let note = b.text(&b.find("p.carried"));
    assert_eq!(
        note,
        "臺灣花蓮地方法院 115/11/23 之後的資料尚未更新，以下為該日之資料"
    );
    audit.check(b, "cases-carried-over");
    b.click(&b.find("table.list a"));
    b.find("p.carried");
    assert_eq!(b.text(&b.find("p.carried")), note);
    audit.check(b, "case-carried-over");
    sign_out(b);

    // Empty lists that explain themselves.
    sign_in(b, GONE, PASSWORD);
    let gone = b.text(&b.find("ul.gone"));
    assert!(
        gone.contains("臺灣臺北地方法院 民事 114年度訴字第523號") && gone.contains("115/11/23"),
        "{gone}"
    );
    audit.check(b, "cases-empty-gone");
    // The case itself, past its last day: the page that says so (410).
    let gone_case = "/cases/TPD/%E6%B0%91%E4%BA%8B/114/%E8%A8%B4/523";
    b.go(&format!("{base}{gone_case}"));
    b.wait_path(gone_case);
    assert!(
        b.text(&b.find("main")).contains("不再提供查詢"),
        "{}",
        b.source()
    );
    audit.check(b, "case-gone");
    sign_out(b);
    sign_in(b, NONE, PASSWORD);
    assert!(b.find_all("ul.gone").is_empty(), "{}", b.source());
    assert!(
        b.text(&b.find("p.empty"))
            .contains("目前沒有您可以查詢的案件"),
        "{}",
        b.source()
    );
    audit.check(b, "cases-empty-none");
    b.go(&format!("{base}/hearings"));
    b.wait_path("/hearings");
    assert!(
        b.text(&b.find("p.empty")).contains("目前沒有排定的庭期"),
        "{}",
        b.source()
    );
    audit.check(b, "hearings-empty");
    sign_out(b);

    // The unsubscribe page a reminder's link opens (7 days before WANG's
    // 115/12/10 hearing), and what its button says.
    data.remind("2026-12-03");
    let text = crate::util::mail_text(&data.newest("reminder", WANG));
    b.go(&format!("{base}{}", crate::util::unsubscribe_link(&text)));
    b.find("main form button");
    audit.check(b, "unsubscribe");
    b.click(&b.find("main form button"));
    b.wait("the unsubscribe's answer", || {
        main_text(b).contains("已取消庭期提醒")
    });
    audit.check(b, "unsubscribe-done");

    // The maintenance page, styled, saying when the service is back.
    b.go(&format!("{}/login", closed.base));
    b.find("h1");
    let rules = b.script(
        "return Array.from(document.styleSheets).reduce((n, s) => n + s.cssRules.length, 0)",
        json!([]),
    );
    assert!(
        rules.as_u64().is_some_and(|n| n > 10),
        "the stylesheet is served during maintenance: {rules}"
    );
    assert!(
        b.text(&b.find("main")).contains("恢復服務"),
        "{}",
        b.source()
    );
    audit.check(b, "maintenance");
}

/// The GOV.UK error pattern, with errors on exactly `fields` (ids).
fn expect_errors(b: &Browser, fields: &[&str]) {
    b.find(".error-summary");
    b.wait("the error summary to take the focus", || {
        b.script(
            "return document.activeElement && document.activeElement.id",
            json!([]),
        ) == json!("error-summary")
    });
    let title = b.script("return document.title", json!([]));
    assert!(
        title.as_str().is_some_and(|t| t.starts_with("錯誤：")),
        "{title}"
    );
    let links: Vec<String> = b
        .find_all(".error-summary a")
        .iter()
        .map(|a| b.attribute(a, "href"))
        .map(|h| h.rsplit('#').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(links, fields, "the summary's links: {}", b.source());
    let invalid: Vec<String> = b
        .find_all("[aria-invalid=true]")
        .iter()
        .map(|f| b.attribute(f, "id"))
        .collect();
    assert_eq!(invalid, fields, "aria-invalid: {}", b.source());
    for f in fields {
        let field = b.find(&format!("#{f}"));
        let described = b.attribute(&field, "aria-describedby");
        assert!(
            described
                .split_whitespace()
                .any(|d| d == format!("{f}-error")),
            "#{f} aria-describedby={described:?}"
        );
        let message = b.text(&b.find(&format!("#{f}-error")));
        assert!(message.starts_with("錯誤："), "{message}");
    }
    // A summary link takes the focus to its field.
    let first = b.find(".error-summary a");
    b.click(&first);
    b.wait("the field to take the focus", || {
        b.script("return document.activeElement.id", json!([])) == json!(fields[0])
    });
}

/// The page's `main` as text, or nothing while a page loads (an element
/// found on the page before would be stale).
fn main_text(b: &Browser) -> String {
    b.script(
        "const m = document.querySelector('main'); return m ? m.textContent : ''",
        json!([]),
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

fn sign_out(b: &Browser) {
    b.click_button("登出");
    b.wait_path("/login?m=logout");
}

#[test]
fn the_keyboard_alone_signs_in_opens_a_case_and_signs_out_with_a_visible_focus() {
    let _busy = crate::util::busy();
    let data = Data::sample();
    let server = Server::start(&data, PLENTY_OF_CAPTCHAS);
    let mut c = Client::new(&server);
    let r = c.activate(&data, WANG, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    for screen in [DESKTOP, PHONE] {
        let b = Browser::start(screen);
        b.go(&format!("{}/login", server.base));
        b.wait_path("/login");
        b.find(".captcha img");

        // The first Tab reaches the skip link, and the audio captcha is on
        // the way to the captcha field, named for screen readers.
        b.tab_to("a.skip");
        let audio = b.tab_to(".captcha-audio a");
        assert_eq!(b.text(&audio), "聽語音驗證碼（國語，另開新視窗）");
        let player = b.find(".captcha-audio audio");
        assert_eq!(b.attribute(&player, "aria-label"), "語音驗證碼（國語）");
        let href = b.attribute(&audio, "href");
        let url = if href.starts_with("http") {
            href
        } else {
            format!("{}{href}", server.base)
        };
        let sound = ureq::get(&url).call().unwrap();
        assert_eq!(sound.content_type(), "audio/wav");

        // From the top again: address, password, captcha, Enter.
        b.go(&format!("{}/login", server.base));
        b.wait_path("/login");
        b.tab_to("#email");
        b.keys(WANG);
        b.tab_to("#password");
        b.keys(PASSWORD);
        b.tab_to("#captcha");
        b.keys(CAPTCHA);
        b.keys("\u{E007}");
        b.wait_path("/cases");

        // The case, by Tab and Enter.
        b.tab_to("table.list a");
        b.keys("\u{E007}");
        b.find(".entries");
        assert!(b.path().starts_with("/cases/TPD/"), "{}", b.path());

        // Sign out: Tab to the button, Enter.
        b.tab_to("nav button");
        b.keys("\u{E007}");
        b.wait_path("/login?m=logout");
    }
}

impl Browser {
    /// Runs a script that answers through its last argument, a callback.
    fn script_async(&self, js: &str, args: Value) -> Value {
        self.must(
            "POST",
            "/execute/async",
            Some(json!({ "script": js, "args": args })),
        )
    }

    fn attribute(&self, el: &El, name: &str) -> String {
        let v = self.must("GET", &format!("/element/{}/attribute/{name}", el.0), None);
        v.as_str().unwrap_or_default().to_string()
    }

    /// A field's current value.
    fn value(&self, css: &str) -> String {
        self.find(css);
        // In one script: a page that reloads meanwhile gives no stale element.
        let v = self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.value : null",
            json!([css]),
        );
        v.as_str().unwrap_or_default().to_string()
    }

    /// Presses and releases each key of `text` (WebDriver key codes such as
    /// U+E004 Tab and U+E007 Enter included), on whatever has the focus.
    fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|k| {
                [
                    json!({"type": "keyDown", "value": k.to_string()}),
                    json!({"type": "keyUp", "value": k.to_string()}),
                ]
            })
            .collect();
        self.must(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Presses Tab until the element `css` has the focus (at most 60
    /// times), checking that every element Tab reaches on the way shows
    /// where the focus is: an outline of 2 px or more.
    fn tab_to(&self, css: &str) -> El {
        for _ in 0..60 {
            self.keys("\u{E004}");
            let (matches, what, outline) = {
                let v = self.script(
                    // The ring, 2 px at least, and 3:1 against what it is
                    // drawn on (WCAG 1.4.11; it sits outside the element,
                    // on the nearest background behind it).
                    "const e = document.activeElement;
                     if (!e || e === document.body) return [false, 'body', 'n/a'];
                     const s = getComputedStyle(e);
                     const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
                     const lum = ([r, g, b]) => {
                       const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
                       return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
                     };
                     let p = e.parentElement, bg = [255, 255, 255];
                     for (; p; p = p.parentElement) {
                       const c = rgb(getComputedStyle(p).backgroundColor);
                       if (c.length >= 3 && (c.length < 4 || c[3] > 0)) { bg = c; break; }
                     }
                     const [a, b] = [lum(rgb(s.outlineColor)), lum(bg)];
                     const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                     const seen = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && ratio >= 3;
                     return [e.matches(arguments[0]), e.outerHTML.slice(0, 120),
                             seen ? 'ok' : s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor
                               + ' on rgb(' + bg.join(',') + '), contrast ' + ratio.toFixed(2)];",
                    json!([css]),
                );
                (
                    v[0] == json!(true),
                    v[1].as_str().unwrap_or("?").to_string(),
                    v[2].as_str().unwrap_or("?").to_string(),
                )
            };
            if what != "body" {
                assert_eq!(
                    outline,
                    "ok",
                    "no visible focus on {what} at {} ({})",
                    self.path(),
                    self.screen.name
                );
            }
            if matches {
                return self.find(css);
            }
        }
        panic!("Tab never reached {css} on {}", self.path());
    }
}

/// 王 activated and signed in, in a phone's browser, on the account page
/// of a server started with `env`.
fn wang_on_the_account_page(env: &[(&str, &str)]) -> (Data, Server, Browser) {
    wang_on_the_account_page_at(None, env)
}

/// `wang_on_the_account_page`, the server's clock starting at `utc` if
/// given (libfaketime).
fn wang_on_the_account_page_at(utc: Option<&str>, env: &[(&str, &str)]) -> (Data, Server, Browser) {
    let data = Data::sample();
    let server = match utc {
        Some(utc) => Server::start_at(&data, utc, env),
        None => Server::start(&data, env),
    };
    let mut c = Client::new(&server);
    let r = c.activate(&data, WANG, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    let b = Browser::start(PHONE);
    b.go(&format!("{}/login", server.base));
    sign_in(&b, WANG, PASSWORD);
    b.go(&format!("{}/account", server.base));
    b.wait_path("/account");
    (data, server, b)
}

/// Polls `f` for up to `secs` seconds (longer than `WAIT`: a session's
/// idle time).
fn wait_long(b: &Browser, what: &str, secs: u64, f: impl Fn(&Browser) -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if f(b) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} within {secs} s, on {}", b.path());
}

/// Whether the element `css` is on the page and shown.
fn shown(b: &Browser, css: &str) -> bool {
    b.script(
        "const e = document.querySelector(arguments[0]); return !!e && !e.hidden",
        json!([css]),
    ) == json!(true)
}

/// The accessibility review of the fiftieth session (WCAG 2.2.1 Timing
/// Adjustable, level A): a session idle for `server.session_idle_seconds`
/// (30 minutes) ended with no warning, and a form sent after it (a half-
/// typed password change) was lost. A signed-in page now warns before the
/// end, in a dialog that takes the focus, and one press keeps the session;
/// left alone, the page says the session ended and links to the login,
/// which comes back to the page.
#[test]
fn a_signed_in_page_warns_before_the_idle_timeout_and_one_press_keeps_the_session() {
    let _busy = crate::util::busy();
    let (_data, server, b) =
        wang_on_the_account_page(&[("CPOR_SERVER_SESSION_IDLE_SECONDS", "12")]);
    let loaded = Instant::now();
    assert!(!shown(&b, "#idle-warning"), "warned at once");
    wait_long(&b, "the idle warning", 12, |b| shown(b, "#idle-warning"));
    assert!(loaded.elapsed() < Duration::from_secs(12));
    let dialog = b.find("#idle-warning");
    assert_eq!(b.attribute(&dialog, "role"), "alertdialog");
    assert!(b.text(&dialog).contains("繼續使用"), "{}", b.text(&dialog));
    assert_eq!(
        b.script("return document.activeElement.id", json!([])),
        json!("idle-stay"),
        "the warning's button has the focus"
    );
    // A proxy's 502 (the server restarting) says nothing of the session:
    // the warning stays, to press again, and says no end (the review of
    // the session's change: it said the session ended).
    b.script(
        "window.realFetch = window.fetch;
         window.fetch = () => Promise.resolve(new Response(null, { status: 502 }));",
        json!([]),
    );
    b.keys("\u{E007}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(shown(&b, "#idle-warning") && !shown(&b, "#idle-ended"));
    b.script("window.fetch = window.realFetch;", json!([]));
    b.keys("\u{E007}");
    wait_long(&b, "the warning to close", 5, |b| {
        !shown(b, "#idle-warning")
    });
    // Past the first deadline: still signed in.
    let past = Duration::from_secs(14);
    if let Some(rest) = past.checked_sub(loaded.elapsed()) {
        std::thread::sleep(rest);
    }
    b.go(&format!("{}/account", server.base));
    b.wait_path("/account");

    // Left alone: the page says the session ended; its link signs in and
    // comes back here.
    wait_long(&b, "the session-ended notice", 16, |b| {
        shown(b, "#idle-ended")
    });
    ended_and_says_so(&b, &server, "#idle-ended");
}

/// Whether the focus is in the element `css`.
fn focus_within(b: &Browser, css: &str) -> bool {
    b.script(
        "return document.activeElement.closest(arguments[0]) !== null",
        json!([css]),
    ) == json!(true)
}

/// The page's last word, `notice` (`#idle-ended`, `#max-ended`), shown:
/// the focus is in it, its link signs in and comes back to the account
/// page, and the session has ended on the server too.
fn ended_and_says_so(b: &Browser, server: &Server, notice: &str) {
    let link = b.find(&format!("{notice} a"));
    assert!(
        b.attribute(&link, "href").contains("next=%2Faccount"),
        "{}",
        b.attribute(&link, "href")
    );
    assert!(focus_within(b, notice), "the focus is not in {notice}");
    b.go(&format!("{}/account", server.base));
    assert!(b.path().starts_with("/login"), "{}", b.path());
}

/// The review of the fiftieth session's change (WCAG 2.2.1): a session
/// ends `server.session_max_seconds` (12 hours) after its sign-in, however
/// it is used, and that end came without a word, a form sent after it
/// lost. A signed-in page now warns before it (five minutes, or a quarter
/// of a shorter limit), saying when and that it cannot be extended, in a
/// dialog that takes the focus and 知道了 puts away; when it comes, the
/// page says the session ended, and its link signs in and comes back.
#[test]
fn a_signed_in_page_warns_before_the_sessions_absolute_end_and_says_when_it_came() {
    let _busy = crate::util::busy();
    let set_up = Instant::now();
    // A long idle time: the absolute end (40 s, warned of 10 s before)
    // comes first.
    let (_data, server, b) = wang_on_the_account_page(&[
        ("CPOR_SERVER_SESSION_MAX_SECONDS", "40"),
        ("CPOR_SERVER_SESSION_IDLE_SECONDS", "600"),
    ]);
    // (the sign-in came after `set_up`: a slow set-up leaves less time)
    if set_up.elapsed() < Duration::from_secs(25) {
        assert!(!shown(&b, "#max-warning"), "warned at once");
    }
    wait_long(&b, "the warning of the session's end", 45, |b| {
        shown(b, "#max-warning")
    });
    assert!(
        !shown(&b, "#idle-warning") && !shown(&b, "#max-ended"),
        "warned after the end"
    );
    let dialog = b.find("#max-warning");
    assert_eq!(b.attribute(&dialog, "role"), "alertdialog");
    let text = b.text(&dialog);
    assert!(
        text.contains("最長可使用 40 秒") && text.contains("無法延長"),
        "{text}"
    );
    assert_eq!(
        b.script("return document.activeElement.id", json!([])),
        json!("max-ok"),
        "the warning's button has the focus"
    );
    b.keys("\u{E007}");
    wait_long(&b, "the warning to close", 5, |b| !shown(b, "#max-warning"));
    // The end: said, with a link that signs in and comes back.
    wait_long(&b, "the session-ended notice", 20, |b| {
        shown(b, "#max-ended")
    });
    assert!(!shown(&b, "#idle-ended"));
    let notice = b.find("#max-ended");
    assert!(
        b.text(&notice).contains("您已登入 40 秒"),
        "{}",
        b.text(&notice)
    );
    ended_and_says_so(&b, &server, "#max-ended");
}

/// The same review: the site pauses every night (the maintenance window,
/// 00:30 to 03:00), and a form sent after the pause began is lost. A
/// signed-in page warns five minutes before, and says when the site has
/// paused. (The server's clock starts at 00:29:35 in Taipei.)
#[test]
fn a_signed_in_page_warns_before_the_nightly_pause_and_says_when_it_began() {
    let _busy = crate::util::busy();
    let started = Instant::now();
    let (_data, server, b) = wang_on_the_account_page_at(
        Some("2026-11-25 16:29:35"),
        &[
            ("CPOR_SERVER_MAINTENANCE_START", "00:30"),
            ("CPOR_SERVER_MAINTENANCE_END", "03:00"),
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the machine was too slow to sign in before the window"
    );
    // Less than five minutes before: warned as the page opens.
    wait_long(&b, "the warning of the pause", 5, |b| {
        shown(b, "#closing-warning")
    });
    let dialog = b.find("#closing-warning");
    assert_eq!(b.attribute(&dialog, "role"), "alertdialog");
    assert!(
        b.text(&dialog).contains("每日 00:30 至 03:00 整理資料"),
        "{}",
        b.text(&dialog)
    );
    assert_eq!(
        b.script("return document.activeElement.id", json!([])),
        json!("closing-ok")
    );
    b.keys("\u{E007}");
    wait_long(&b, "the warning to close", 5, |b| {
        !shown(b, "#closing-warning")
    });
    wait_long(&b, "the paused notice", 30, |b| shown(b, "#closed"));
    let link = b.find("#closed a");
    assert!(
        b.attribute(&link, "href").ends_with("/account"),
        "{}",
        b.attribute(&link, "href")
    );
    assert!(focus_within(&b, "#closed"));
    // The site has paused indeed.
    b.go(&format!("{}/account", server.base));
    let body = b.script("return document.body.innerText", json!([]));
    assert!(
        body.as_str().unwrap_or_default().contains("03:00"),
        "{body}"
    );
}

/// The idle warning counts the session's every tab: a person reading the
/// list in a second tab keeps the session alive, and the first tab, left
/// open on the account page, must not warn that it is ending (nor say it
/// ended) while it is not; it warns when the session's last use, in
/// either tab, is nearly the idle time ago.
#[test]
fn a_page_left_open_does_not_warn_while_another_tab_of_the_session_is_in_use() {
    let _busy = crate::util::busy();
    let (_data, server, b) =
        wang_on_the_account_page(&[("CPOR_SERVER_SESSION_IDLE_SECONDS", "12")]);
    let loaded = Instant::now();
    let first = b.must("GET", "/window", None);
    // Five seconds on, the list in a second tab (the session's idle time
    // starts again on the server).
    std::thread::sleep(Duration::from_secs(5));
    let second = b.must("POST", "/window/new", Some(json!({ "type": "tab" })));
    b.must(
        "POST",
        "/window",
        Some(json!({ "handle": second["handle"] })),
    );
    b.go(&format!("{}/cases", server.base));
    b.wait_path("/cases");
    let used = Instant::now();
    b.must("POST", "/window", Some(json!({ "handle": first })));
    // The first tab alone would warn 9 s after it loaded (12 s less 3).
    let quiet = Duration::from_millis(10_500);
    while loaded.elapsed() < quiet {
        assert!(
            !shown(&b, "#idle-warning") && !shown(&b, "#idle-ended"),
            "warned {:?} after the page loaded, {:?} after the other tab was used",
            loaded.elapsed(),
            used.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        used.elapsed() < Duration::from_secs(9),
        "the machine was too slow to tell"
    );
    // Nearly the idle time after the second tab's page, it warns.
    wait_long(&b, "the idle warning after the other tab's use", 12, |b| {
        shown(b, "#idle-warning")
    });
    assert!(
        used.elapsed() >= Duration::from_secs(8),
        "{:?}",
        used.elapsed()
    );
}

/// The accessibility review of the fiftieth session (WCAG 4.1.3 and
/// 2.4.3): after a button of the account page, the page came back with
/// its confirmation already on it, which screen readers do not read, and
/// the focus at the top; a new calendar URL, shown once, was a screen
/// further down, where a blind reader might never find it. The
/// confirmation now takes the focus, and a new URL's field does.
#[test]
fn after_an_account_pages_button_the_focus_is_on_what_it_did() {
    let _busy = crate::util::busy();
    let (_data, _server, b) = wang_on_the_account_page(&[]);
    // In forced colours (Windows' high contrast) a button keeps its shape
    // only by its border, drawn in the system's colour: one without (the
    // same review) read as a line of text. Every button has one.
    let borderless = b.script(
        "return [...document.querySelectorAll('button')]
           .filter(e => { const s = getComputedStyle(e);
                          return s.borderTopStyle === 'none' || parseFloat(s.borderTopWidth) < 1; })
           .map(e => e.textContent)",
        json!([]),
    );
    assert_eq!(borderless, json!([]), "buttons without a border");
    let focused = |b: &Browser| -> (String, String) {
        let v = b.script(
            "const e = document.activeElement; return [e.id || e.className, e.textContent || e.value]",
            json!([]),
        );
        (
            v[0].as_str().unwrap_or_default().to_string(),
            v[1].as_str().unwrap_or_default().to_string(),
        )
    };
    b.click_button("建立訂閱網址");
    b.wait_path("/account?m=feed-made");
    let (id, value) = focused(&b);
    assert_eq!(id, "feed-url");
    assert!(value.contains("/calendar/"), "{value}");
    b.click_button("停止訂閱網址");
    b.wait_path("/account?m=feed-revoked");
    let (class, text) = focused(&b);
    assert_eq!(class, "notice");
    assert_eq!(text, "行事曆訂閱網址已停止使用。");
}

/// The password meter shows the strength at each key, but a screen reader
/// is told it once typing pauses, not at every key (the fortieth session's
/// pages review: the live region spoke at each character, one
/// 「密碼強度：太短」 after another over what the person typed).
#[test]
fn the_password_meter_speaks_once_typing_pauses_not_at_each_key() {
    let _busy = crate::util::busy();
    let data = Data::sample();
    let server = Server::start(&data, &[]);
    let b = Browser::start(DESKTOP);
    let link = data.link("activation", "huang.zhiwei@example.net");
    b.go(&format!("{}{link}", server.base));
    b.find("#password");
    // Every text a live region is given, as a screen reader hears it.
    b.script(
        "window.said = [];
         new MutationObserver(records => {
             for (const r of records) {
                 const t = r.target.nodeType === 1 ? r.target : r.target.parentElement;
                 const live = t && t.closest('[aria-live]');
                 if (live) { window.said.push(live.textContent); }
             }
         }).observe(document.body, {subtree: true, childList: true, characterData: true});",
        json!([]),
    );
    b.type_into("#password", "correct horse battery staple");
    // The meter shows it at once.
    assert_eq!(b.text(&b.find("#password-strength")), "密碼強度：很強");
    let said = |b: &Browser| -> Vec<String> {
        serde_json::from_value(b.script("return window.said", json!([]))).unwrap()
    };
    b.wait("the strength said once typing paused", || {
        said(&b).last().is_some_and(|s| s == "密碼強度：很強")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let heard = said(&b);
    assert!(
        heard.len() <= 2 && heard.iter().all(|s| !s.is_empty()),
        "28 keys, said {} times: {heard:?}",
        heard.len()
    );
    // Focused again, the field is described by the meter (its strength
    // read with it), which no longer speaks by itself.
    let meter = b.find("#password-strength");
    assert_eq!(b.attribute(&meter, "aria-live"), "");
    assert!(b
        .attribute(&b.find("#password"), "aria-describedby")
        .split_whitespace()
        .any(|d| d == "password-strength"));
}

/// The review of the website of 2026-12-07 (its 1): signing out in one tab
/// left the site's other tabs showing the cases, with no word; and when a
/// page did say its session ended, the cases and the address stayed on
/// screen under the notice, for whoever sat down next. A page of the
/// session hears of the sign-out at once and hides what it showed; and a
/// page whose session another person's sign-in in the same browser ended
/// hides as it is shown again.
#[test]
fn a_page_left_open_hides_the_cases_when_its_session_ends_in_another_tab() {
    let _busy = crate::util::busy();
    let (_data, server, b) = wang_on_the_account_page(&[]);
    let hidden = |b: &Browser| -> bool {
        b.script(
            "return ['main', 'header .who'].every(s =>
                 getComputedStyle(document.querySelector(s)).visibility === 'hidden')",
            json!([]),
        ) == json!(true)
    };
    let tab = |b: &Browser, handle: &Value| {
        b.must("POST", "/window", Some(json!({ "handle": handle })));
    };
    // Signed out in a second tab.
    b.go(&format!("{}/cases", server.base));
    b.wait_path("/cases");
    assert!(!hidden(&b) && !shown(&b, "#signed-out"));
    let first = b.must("GET", "/window", None);
    let second = b.must("POST", "/window/new", Some(json!({ "type": "tab" })))["handle"].clone();
    tab(&b, &second);
    b.go(&format!("{}/account", server.base));
    b.wait_path("/account");
    b.click_button("登出");
    b.wait_path("/login?m=logout");
    tab(&b, &first);
    b.wait("the first tab to say the session ended", || {
        shown(&b, "#signed-out")
    });
    assert!(hidden(&b), "the cases still shown: {}", b.source());
    let link = b.attribute(&b.find("#signed-out a"), "href");
    assert!(link.contains("/login?m=expired&next=%2Fcases"), "{link}");

    // Signed in again; then, from another device, 登出其他所有裝置 ends
    // this browser's session: the page hides as it is shown again.
    b.go(&format!("{}/login", server.base));
    sign_in(&b, WANG, PASSWORD);
    b.go(&format!("{}/cases", server.base));
    b.wait_path("/cases");
    assert!(!hidden(&b) && !shown(&b, "#signed-out"));
    let mut elsewhere = Client::new(&server);
    assert_eq!(
        elsewhere.login(WANG, PASSWORD).header("location"),
        Some("/cases")
    );
    let csrf = elsewhere.csrf();
    assert_eq!(
        elsewhere
            .post("/account/sessions", &[("csrf", &csrf)])
            .status,
        303
    );
    tab(&b, &second);
    // (shown again ten seconds at least after the load: the page asks at
    // most so often)
    std::thread::sleep(Duration::from_secs(10));
    tab(&b, &first);
    b.wait("the page to hide as it is shown again", || {
        shown(&b, "#signed-out")
    });
    assert!(hidden(&b), "WANG's cases still shown: {}", b.source());
}
