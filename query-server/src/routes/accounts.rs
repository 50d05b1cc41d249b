//! The account pages: the front door, signing in and out, the account page
//! (digests on or off, changing the password, the signed-in devices and
//! "log out everywhere else") and "forgot password". The
//! credential work (argon2, throttling, captchas, mailed links) is
//! `auth`'s; these handlers read the forms, check their anti-forgery
//! tokens and choose what page follows.

use std::sync::Arc;

use warp::http::StatusCode;

use store::accounts;

use super::guard::{
    self, anon_csrf, anon_csrf_ok, browser_session, same, session_form, signed_out, unavailable,
    with_cookie,
};
use super::{ctx, field};
use crate::app::App;
use crate::auth::{self, Change, Login};
use crate::captcha::{Binding, Unrecorded};
use crate::device;
use crate::failure::{too_busy, too_many_attempts, wait_words, Answer, Failure};
use crate::http::{set_cookie, Req, Resp};
use crate::pages::{self, Problem};
use crate::password;
use crate::sessions::Session;

/// `/`: the cases of a signed-in browser, else the login page.
pub fn home(app: &App, req: &Req) -> Answer {
    Ok(match crate::prosecutors::browser_viewer(app, req)? {
        Some(_) => Resp::redirect("/cases"),
        None => Resp::redirect("/login"),
    })
}

/// `/login`; a browser already signed in goes on to its cases (or the
/// page it was sent here from).
pub fn login_page(app: &App, req: &Req) -> Answer {
    let next = next_of(req.query_map().get("next").map(String::as_str));
    if crate::prosecutors::browser_viewer(app, req)?.is_some() {
        return Ok(Resp::redirect(next.as_deref().unwrap_or("/cases")).route("/login"));
    }
    // Just after an activation or reset link: its address, filled in.
    let (email, cleared) = guard::take_just_set(app, req).unzip();
    let page = login_form(app, req, Vec::new(), email.unwrap_or_default(), next, None)?;
    Ok(with_cookie(page, cleared))
}

/// The list of cases in the orders other than its own that mail links to
/// (`changes::Sort`): a login may go on to them.
pub const LIST_ORDERS: [&str; 2] = ["/cases?sort=recent", "/cases?sort=ending"];

/// Where a login may go next: a page of this site's own that needs a
/// login (a case, the list, 我的庭期, the account page), as a path; never
/// another site (`//host`, `\\host`, a scheme), never anything with spaces
/// or control characters.
pub fn safe_next(path: &str) -> Option<String> {
    // The list in an order a mail links to (`changes::Sort`), exactly.
    if LIST_ORDERS.contains(&path) {
        return Some(path.to_string());
    }
    // The list as it was shown: its own parameters only (order, search,
    // page), each percent-encoded (a session that ended on a searched
    // list comes back to it: the accessibility review of the fiftieth
    // session).
    if let Some(query) = path.strip_prefix("/cases?") {
        let ok = path.len() <= 512
            && query.split('&').all(|pair| {
                pair.split_once('=').is_some_and(|(k, v)| {
                    matches!(k, "sort" | "q" | "page")
                        && v.bytes().all(|b| {
                            b.is_ascii_alphanumeric()
                                || matches!(b, b'%' | b'+' | b'-' | b'.' | b'_')
                        })
                })
            });
        return ok.then(|| path.to_string());
    }
    // 我的庭期 as it was shown: a later page of it.
    if let Some(page) = path.strip_prefix("/hearings?page=") {
        let ok = (1..=6).contains(&page.len()) && page.bytes().all(|b| b.is_ascii_digit());
        return ok.then(|| path.to_string());
    }
    // A path alone: no query or fragment, and no dot, slash or backslash
    // percent-encoded, which browsers resolve (`/cases/%2e%2e/…` left
    // /cases/ for any page of the site: the security review of
    // 2026-12-07).
    let lower = path.to_ascii_lowercase();
    let ok = path.len() <= 512
        && (path == "/cases"
            || path.starts_with("/cases/")
            || path == "/hearings"
            || path == "/account")
        && !path.contains("//")
        && !path.contains('\\')
        && !path.contains("..")
        && !path.contains(['?', '#', ';'])
        && !["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
        && path.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| path.to_string())
}

/// A form's or query's `next`, if safe.
fn next_of(next: Option<&str>) -> Option<String> {
    next.and_then(safe_next)
}

/// A captcha for a page form, bound to the browser's pre-login token, or
/// how long this client address must wait for one.
fn page_captcha(app: &App, req: &Req, csrf: &str) -> Result<String, u64> {
    app.captchas
        .issue(Binding::Page(csrf), req.ip)
        .map(|c| c.id)
        .map_err(|l| l.retry_after)
}

/// A form page's status and wait: 429 with Retry-After when the client
/// must wait, for its failures (`wait`) or for a new captcha (`limited`).
fn waiting(mut r: Resp, wait: Option<u64>, limited: Option<u64>) -> Resp {
    if let Some(w) = wait.max(limited) {
        r.status = StatusCode::TOO_MANY_REQUESTS;
        r.header("retry-after", &w.to_string());
    }
    r
}

/// What a page says when this address has fetched too many captchas.
fn captcha_limited(wait: u64) -> String {
    format!(
        "驗證碼索取次數過多，請於 {}後重新整理本頁。",
        wait_words(wait)
    )
}

/// A signed-out form's problems, and, when no captcha could be issued
/// (this address fetched too many), that instead of what was said of the
/// captcha field, which the page then does not have (its error would
/// point at nothing, and ask for digits there is no picture of).
fn add_problems(c: &mut pages::Ctx, problems: Vec<Problem>, captcha: &Result<String, u64>) {
    for p in problems {
        if captcha.is_err() && matches!(p, Problem::Field("captcha", _)) {
            continue;
        }
        c.add(p);
    }
    if let Err(w) = captcha {
        c.add(Problem::General(captcha_limited(*w)));
    }
}

/// The login page: `email` as typed (never the password), what went
/// wrong, where to go after, and a wait if the client must (429).
fn login_form(
    app: &App,
    req: &Req,
    problems: Vec<Problem>,
    email: String,
    next: Option<String>,
    wait: Option<u64>,
) -> Answer {
    let (csrf, cookie) = anon_csrf(app, req)?;
    let captcha = page_captcha(app, req, &csrf);
    let mut c = ctx(app, "登入", None, csrf);
    c.notice = req.query_map().get("m").and_then(|m| pages::notice(m));
    add_problems(&mut c, problems, &captcha);
    let page = pages::Login {
        c,
        captcha_id: captcha.clone().unwrap_or_default(),
        email,
        next: next.unwrap_or_default(),
        sso: app.sso.is_some(),
    };
    let r = with_cookie(pages::html(StatusCode::OK, &page)?, cookie);
    Ok(waiting(r, wait, captcha.err()).route("/login"))
}

const NO_EMAIL: &str = "請輸入帳號（電子郵件信箱）。";
const BAD_CAPTCHA: &str = "驗證碼不正確或已過期，請輸入新圖片中的六位數字。";

/// The captcha field, if it is not six digits (full-width or spaced ones
/// are, `captcha::normalise`): what to say beside it.
fn captcha_missing(form: &guard::Form) -> Option<Problem> {
    let typed = crate::captcha::normalise(&field(form, "captcha"));
    if typed.is_empty() {
        Some(Problem::Field("captcha", "請輸入圖中的六位數字。".into()))
    } else if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        Some(Problem::Field(
            "captcha",
            "驗證碼是六位數字，請再輸入一次。".into(),
        ))
    } else {
        None
    }
}

/// Whether a form's "換一張" (a new captcha) was pressed: the same page
/// again with what was typed, no failure counted.
fn wants_new_captcha(form: &guard::Form) -> bool {
    form.get("action").is_some_and(|a| a == "new-captcha")
}

pub async fn login_post(app: &Arc<App>, req: &Req) -> Answer {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return Err(Failure::Forbidden);
    }
    let email = field(&form, "email");
    let next = next_of(form.get("next").map(String::as_str));
    if wants_new_captcha(&form) {
        return login_form(app, req, Vec::new(), email, next, None);
    }
    // Fields left empty are said beside each, before anything is checked.
    let mut missing = Vec::new();
    if email.trim().is_empty() {
        missing.push(Problem::Field("email", NO_EMAIL.into()));
    }
    if field(&form, "password").is_empty() {
        missing.push(Problem::Field("password", "請輸入密碼。".into()));
    }
    if let Some(p) = captcha_missing(&form) {
        missing.push(p);
    }
    if !missing.is_empty() {
        return login_form(app, req, missing, email, next, None);
    }
    // anon_csrf_ok: the form's token is the browser's signed cookie.
    let csrf = field(&form, "csrf");
    let device_cookie = app.cookie_name(device::COOKIE);
    let problem = match auth::login(
        app,
        req.ip,
        &email,
        field(&form, "password"),
        auth::Answered {
            id: &field(&form, "captcha_id"),
            typed: &field(&form, "captcha"),
            binding: Binding::Page(&csrf),
        },
        crate::sessions::Kind::Browser,
        req.cookie(&device_cookie),
    )
    .await
    {
        Login::Ok { id, device, .. } => {
            // A new id at every login; the old session, if any, of
            // either kind, ends. (Not ended, it idles out: this
            // browser's cookie is replaced.)
            crate::prosecutors::end_browser_sessions(app, req);
            let mut r = Resp::redirect(next.as_deref().unwrap_or("/cases"));
            r.header(
                "set-cookie",
                &set_cookie(&app.cookie_name("sid"), &id, app.https, None),
            );
            set_device_cookie(app, &mut r, device);
            return Ok(r.route("/login"));
        }
        Login::BadCaptcha => Problem::Field("captcha", BAD_CAPTCHA.into()),
        Login::BadCredentials => Problem::Field(
            "email",
            "帳號或密碼不正確。尚未啟用帳號者，請使用核准通知信中的啟用連結。".into(),
        ),
        Login::Throttled(wait) => {
            let p = Problem::General(too_many_attempts(wait));
            return login_form(app, req, vec![p], email, next, Some(wait));
        }
        Login::Busy(wait) => {
            let p = Problem::General(too_busy(wait));
            return login_form(app, req, vec![p], email, next, Some(wait));
        }
        Login::Unavailable => {
            let p = Problem::General(
                "系統暫時無法登入，請稍後再試。這次登入不會被算成密碼錯誤。".into(),
            );
            return Ok(unavailable(login_form(
                app,
                req,
                vec![p],
                email,
                next,
                None,
            )?));
        }
    };
    login_form(app, req, vec![problem], email, next, None)
}

/// Sets the browser's device cookie (`device`), when there is one to set.
pub fn set_device_cookie(app: &App, r: &mut Resp, device: Option<String>) {
    if let Some(d) = device {
        let age = app.cfg.server.device_cookie.as_secs();
        let name = app.cookie_name(device::COOKIE);
        r.header("set-cookie", &set_cookie(&name, &d, app.https, Some(age)));
    }
}

pub fn logout(app: &App, req: &Req) -> Answer {
    let form = req.form();
    if let Some(s) = browser_session(app, req)? {
        if !form.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
            return Err(Failure::Forbidden);
        }
        if !end(app, &s) {
            // The session lives on: still signed in, the cookie kept so
            // that 登出 can be pressed again.
            let p = Problem::General(NOT_SIGNED_OUT.into());
            return account_page(app, &s, None, Some(p), None).map(unavailable);
        }
    }
    Ok(signed_out(app, "/login?m=logout").route("/logout"))
}

/// `POST /account/mail` (`action=resume`): its owner turns on again the
/// mail to an address a bounce flagged (an applicant's, or a prosecutor's
/// verified one): its flags still to write in the outbox are dropped, then
/// its flag cleared, so a flag still to write does not come back after.
pub fn mail_resume(app: &App, req: &Req) -> Answer {
    let (holder, _) = super::hearings::account_form(app, req)?;
    let email = {
        let conn = app.accounts.lock().expect("accounts");
        match holder {
            store::hearings::Holder::Applicant(id) => {
                accounts::by_id(&conn, id).map(|a| a.map(|a| a.email))
            }
            store::hearings::Holder::Prosecutor(id) => {
                store::accounts::prosecutors::by_id(&conn, id).map(|p| p.and_then(|p| p.email))
            }
        }
        .map_err(Failure::unavailable)?
        .ok_or(Failure::NotFound)?
    };
    let not_saved = |e| Failure::NotSaved(e, crate::failure::SETTING_NOT_CHANGED);
    // Only a flagged address's: nothing to write for any other.
    let flagged = store::accounts::flag_of(&app.accounts.lock().expect("accounts"), &email)
        .map_err(Failure::unavailable)?
        .is_some();
    if flagged {
        // Its flags still to write dropped first, then the flag: on the
        // site's own outbox connection, waiting a second at most for an
        // import or `send` writing it (503, to try again).
        mail::outbox::drop_flag_to_write(
            &app.outbox.lock().expect("outbox"),
            &email,
            std::time::Duration::from_secs(1),
        )
        .map_err(|e| not_saved(e.into()))?;
        store::accounts::unflag(&app.accounts.lock().expect("accounts"), &email)
            .map_err(|e| not_saved(e.into()))?;
    }
    Ok(Resp::redirect("/account?m=mail-resumed"))
}

/// A sign-out the database did not take.
pub const NOT_SIGNED_OUT: &str =
    "系統暫時無法登出，您仍在登入狀態。請稍後再按一次「登出」；在公用電腦上，請完成登出再離開。";

/// Ends a session: false (logged) when the database did not take it, and
/// the session lives on.
pub(crate) fn end(app: &App, s: &Session) -> bool {
    let ended = app
        .sessions
        .end(&app.accounts.lock().expect("accounts"), &s.hash);
    ended
        .inspect_err(|e| tracing::error!("ending a session: {e}"))
        .is_ok()
}

/// `/account`, with the notice a redirect asked for.
pub fn account(app: &App, req: &Req, s: &Session) -> Answer {
    let holder = store::hearings::Holder::Applicant(s.account_id);
    super::hearings::account_get(app, req, holder, |notice, feed_url| {
        account_page_with(app, s, notice, None, None, feed_url)
    })
}

/// Where a refused new password's reason belongs: the confirmation, the
/// new password, or (the server could not check) no one field.
pub fn password_problem(why: &'static str) -> Problem {
    if why == auth::MISMATCH {
        Problem::Field("confirm", why.into())
    } else {
        Problem::Field("password", why.into())
    }
}

fn account_page(
    app: &App,
    s: &Session,
    notice: Option<&'static str>,
    problems: impl IntoIterator<Item = Problem>,
    strength: Option<&'static str>,
) -> Answer {
    account_page_with(app, s, notice, problems, strength, None)
}

/// The account page; `feed_url`: a calendar feed URL just made, shown once.
pub fn account_page_with(
    app: &App,
    s: &Session,
    notice: Option<&'static str>,
    problems: impl IntoIterator<Item = Problem>,
    strength: Option<&'static str>,
    feed_url: Option<String>,
) -> Answer {
    let problems: Vec<Problem> = problems.into_iter().collect();
    let (digests, bounced) = {
        let conn = app.accounts.lock().expect("accounts");
        let digests = accounts::by_id(&conn, s.account_id)
            .map_err(Failure::unavailable)?
            .is_none_or(|a| a.digests);
        let bounced = pages::Bounced::of(&conn, &s.email).map_err(Failure::unavailable)?;
        (digests, bounced)
    };
    let mut c = ctx(app, "帳號設定", Some(s), String::new());
    c.notice = notice;
    c.focus_elsewhere = feed_url.is_some();
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    for p in problems {
        c.add(p);
    }
    let page = pages::Account {
        c,
        email: s.email.clone(),
        digests,
        bounced,
        h: super::hearings::account_hearings(
            app,
            store::hearings::Holder::Applicant(s.account_id),
            true,
            feed_url,
        )?,
        sessions: app
            .sessions
            .of(s.account_id)
            .map_err(Failure::unavailable)?
            .iter()
            .map(|other| pages::SessionItem::from_session(other, &s.hash))
            .collect(),
        strength,
    };
    pages::html(status, &page)
}

pub async fn change_password(app: &Arc<App>, req: &Req) -> Answer {
    let (s, form) = session_form(app, req)?;
    let f = |k: &str| field(&form, k);
    match auth::change_password(app, &s, f("current"), f("password"), f("confirm")).await {
        // Post/redirect/get: a reload does not post the form again.
        Change::Done(device) => {
            let mut r = Resp::redirect("/account?m=changed");
            set_device_cookie(app, &mut r, device);
            Ok(r)
        }
        // Everything wrong is said at once, the current password first.
        Change::WrongCurrent(whys) => {
            let strength =
                (!whys.is_empty()).then(|| password::strength(&f("password"), &s.email).label());
            let wrong = Problem::Field("current", "目前的密碼不正確。".into());
            let problems = std::iter::once(wrong).chain(whys.into_iter().map(password_problem));
            account_page(app, &s, None, problems, strength)
        }
        Change::Refused(whys) => {
            let strength = password::strength(&f("password"), &s.email).label();
            let problems = whys.into_iter().map(password_problem);
            account_page(app, &s, None, problems, Some(strength))
        }
        Change::Throttled(wait) => {
            let p = Problem::Field("current", too_many_attempts(wait));
            let page = account_page(app, &s, None, Some(p), None)?;
            Ok(waiting(page, Some(wait), None))
        }
        Change::Busy(wait) => {
            let p = Problem::General(format!(
                "目前變更密碼的人數過多，密碼未變更。請於 {}後再送出一次。",
                wait_words(wait)
            ));
            let page = account_page(app, &s, None, Some(p), None)?;
            Ok(waiting(page, Some(wait), None))
        }
        Change::Unavailable => {
            let p = Problem::General("系統暫時無法變更密碼，密碼未變更。請稍後再試。".into());
            Ok(unavailable(account_page(app, &s, None, Some(p), None)?))
        }
        Change::Moved => {
            let p = Problem::Field(
                "current",
                "密碼剛在別處變更（或重設），這次未變更。請以目前的密碼再試一次。".into(),
            );
            account_page(app, &s, None, Some(p), None)
        }
        Change::TooMany(wait) => {
            let p = Problem::General(format!(
                "這個帳號在一小時內已變更密碼 {} 次，密碼未變更。請於 {}後再試。",
                crate::throttle::CHANGES_PER_HOUR,
                wait_words(wait)
            ));
            let page = account_page(app, &s, None, Some(p), None)?;
            Ok(waiting(page, Some(wait), None))
        }
        // (as any page asked for by a browser no longer signed in)
        Change::SignedOut => Ok(Resp::redirect("/login")),
    }
}

/// "Log out everywhere else": ends every session of the account but this
/// browser's (other browsers, apps).
pub fn end_other_sessions(app: &App, req: &Req) -> Answer {
    let (s, _) = session_form(app, req)?;
    let ended = app.sessions.end_all_of(
        &app.accounts.lock().expect("accounts"),
        s.account_id,
        Some(&s.hash),
    );
    let n = ended.map_err(Failure::not_saved(crate::failure::SESSIONS_NOT_ENDED))?;
    tracing::info!("{n} other sessions ended from the account page");
    Ok(Resp::redirect("/account?m=sessions-ended"))
}

pub fn digests(app: &App, req: &Req) -> Answer {
    let (s, form) = session_form(app, req)?;
    let on = form.get("on").is_some_and(|v| v == "1");
    accounts::set_digests(&app.accounts.lock().expect("accounts"), s.account_id, on)
        .map_err(Failure::not_saved(crate::failure::SETTING_NOT_CHANGED))?;
    Ok(Resp::redirect(if on {
        "/account?m=digests-on"
    } else {
        "/account?m=digests-off"
    }))
}

pub fn forgot_page(app: &App, req: &Req) -> Answer {
    forgot_form(app, req, false, Vec::new(), String::new(), None)
}

fn forgot_form(
    app: &App,
    req: &Req,
    sent: bool,
    problems: Vec<Problem>,
    email: String,
    wait: Option<u64>,
) -> Answer {
    let (csrf, cookie) = anon_csrf(app, req)?;
    // Sent: the page has no form, so no captcha.
    let captcha = if sent {
        Ok(String::new())
    } else {
        page_captcha(app, req, &csrf)
    };
    let mut c = ctx(app, "忘記密碼", None, csrf);
    add_problems(&mut c, problems, &captcha);
    let page = pages::Forgot {
        c,
        sent,
        captcha_id: captcha.clone().unwrap_or_default(),
        email,
    };
    let r = with_cookie(pages::html(StatusCode::OK, &page)?, cookie);
    Ok(waiting(r, wait, captcha.err()).route("/forgot"))
}

pub fn forgot_post(app: &Arc<App>, req: &Req) -> Answer {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return Err(Failure::Forbidden);
    }
    let email = field(&form, "email");
    if wants_new_captcha(&form) {
        return forgot_form(app, req, false, Vec::new(), email, None);
    }
    let mut missing = Vec::new();
    if email.trim().is_empty() {
        missing.push(Problem::Field("email", NO_EMAIL.into()));
    }
    if let Some(p) = captcha_missing(&form) {
        missing.push(p);
    }
    if !missing.is_empty() {
        return forgot_form(app, req, false, missing, email, None);
    }
    if let Some(wait) = app.throttle.check_ip(req.ip, crate::throttle::now_ms()) {
        let p = Problem::General(too_many_attempts(wait));
        return forgot_form(app, req, false, vec![p], email, Some(wait));
    }
    let csrf = field(&form, "csrf");
    let answered = app.captchas.check(
        &field(&form, "captcha_id"),
        &field(&form, "captcha"),
        Binding::Page(&csrf),
    );
    match answered {
        Ok(true) => {}
        Ok(false) => {
            app.throttle.failed(None, req.ip, crate::throttle::now_ms());
            let p = Problem::Field("captcha", BAD_CAPTCHA.into());
            return forgot_form(app, req, false, vec![p], email, None);
        }
        // Not recorded: the server's failure, nobody's wrong answer.
        Err(Unrecorded) => {
            let p = Problem::General("系統暫時無法處理，連結沒有寄出。請稍後再試。".into());
            return forgot_form(app, req, false, vec![p], email, None).map(unavailable);
        }
    }
    // The answer does not wait for the lookup: same page, same time.
    if auth::forgot(app, &email, req.ip).is_err() {
        let p = Problem::General("系統暫時無法處理，連結沒有寄出。請稍後再試。".into());
        return forgot_form(app, req, false, vec![p], email, None).map(unavailable);
    }
    forgot_form(app, req, true, Vec::new(), String::new(), None)
}
