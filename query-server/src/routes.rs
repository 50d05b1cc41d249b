//! Every request goes through `handle`: one match over (method, path), so
//! the rules that hold for every route (the maintenance window, security
//! headers, no caching of personal pages, metrics) sit in one place and a
//! new route cannot forget them. Pages are here; the JSON API is `api`.

use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use chrono::{NaiveTime, Timelike, Utc};
use warp::http::{Method, StatusCode};

use schemas::date::taipei;
use store::secret;

use crate::api;
use crate::app::App;
use crate::auth::{self, Change, Login, SetPassword};
use crate::http::{set_cookie, Req, Resp};
use crate::ics;
use crate::live::CaseKey;
use crate::pages::{self, Ctx};
use crate::sessions::{Kind, Session};
use store::accounts::{self, Purpose, Record};

const CSS: &str = include_str!("../static/site.css");
pub const OPENAPI: &str = include_str!("../openapi.yaml");

pub async fn handle(app: Arc<App>, req: Req) -> Resp {
    let started = Instant::now();
    let mut resp = if let Some(left) = in_maintenance(&app, Utc::now()) {
        if req.path == "/healthz" {
            healthz(&app)
        } else {
            maintenance(&app, &req, left)
        }
    } else {
        route(&app, &req).await
    };
    secure(&mut resp, &req);
    if req.method == Method::GET
        && resp.status == StatusCode::OK
        && resp
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
    {
        let day = Utc::now()
            .with_timezone(&taipei())
            .format("%Y-%m-%d")
            .to_string();
        app.record(Record::Visit { day });
    }
    app.metrics
        .request(resp.route, resp.status.as_u16(), started.elapsed());
    resp
}

async fn route(app: &Arc<App>, req: &Req) -> Resp {
    let seg = req.segments();
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    match (s.as_slice(), get, post) {
        (["healthz"], true, _) => healthz(app),
        (["metrics"], true, _) => metrics(app),
        (["static", "site.css"], true, _) => {
            let mut r = Resp::new(StatusCode::OK, "text/css; charset=utf-8", CSS.into());
            r.header("cache-control", "public, max-age=3600");
            r.route("/static")
        }
        (["captcha", file], true, _) => captcha_png(app, file),
        ([], true, _) => match browser_session(app, req) {
            Some(_) => Resp::redirect("/cases"),
            None => Resp::redirect("/login"),
        }
        .route("/"),
        (["login"], true, _) => login_page(app, req, None, String::new(), StatusCode::OK),
        (["login"], _, true) => login_post(app, req).await,
        (["logout"], _, true) => logout(app, req),
        (["cases"], true, _) => {
            with_session(app, req, |s| cases_page(app, req, &s)).route("/cases")
        }
        (["cases", k @ ..], true, _) if k.len() == 5 => {
            with_session(app, req, |s| case_page(app, req, &s, &seg[1..])).route("/cases/{key}")
        }
        (["cases", k @ .., "hearing", file], true, _) if k.len() == 5 => {
            with_session(app, req, |s| hearing_ics(app, req, &s, &seg[1..6], file))
                .route("/cases/{key}/hearing")
        }
        (["activate"], true, _) => link_form(app, req, Purpose::Activate),
        (["activate"], _, true) => link_post(app, req, Purpose::Activate).await,
        (["reset"], true, _) => link_form(app, req, Purpose::Reset),
        (["reset"], _, true) => link_post(app, req, Purpose::Reset).await,
        (["forgot"], true, _) => forgot_page(app, req, false, None),
        (["forgot"], _, true) => forgot_post(app, req),
        (["account"], true, _) => {
            let notice = req.query_map().get("m").and_then(|m| pages::notice(m));
            with_session(app, req, |s| account_page(app, req, &s, notice, None)).route("/account")
        }
        (["account", "password"], _, true) => change_password(app, req).await,
        (["account", "digests"], _, true) => digests(app, req),
        (["unsubscribe"], true, _) => unsubscribe_page(app, req),
        (["unsubscribe"], _, true) => unsubscribe_post(app, req),
        (["api", "v1", rest @ ..], _, _) => api::route(app, req, rest, &seg[2..]).await,
        _ => not_found(app, req),
    }
}

/// Whether `now` is in the nightly maintenance window; if so, the seconds
/// until it ends.
pub fn in_maintenance(app: &App, now: chrono::DateTime<Utc>) -> Option<u64> {
    let (start, end) = (app.maintenance.start, app.maintenance.end);
    let t = now.with_timezone(&taipei()).time();
    let inside = if start <= end {
        t >= start && t < end
    } else {
        t >= start || t < end
    };
    if !inside {
        return None;
    }
    let secs = |t: NaiveTime| t.num_seconds_from_midnight() as i64;
    let left = (secs(end) - secs(t)).rem_euclid(24 * 3600);
    Some(left.max(1) as u64)
}

fn maintenance(app: &App, req: &Req, left: u64) -> Resp {
    let end = app.maintenance.end.format("%H:%M");
    let mut r = if req.path.starts_with("/api/") {
        Resp::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &api::Error {
                error: "maintenance",
                message: format!("每日 {} 整理資料，{end} 恢復服務。", window(app)),
            },
        )
    } else {
        let page = pages::Message {
            c: ctx(app, "資料整理中", None, String::new()),
            heading: "資料整理中，暫停服務",
            text: format!(
                "本系統每日 {} 整理法院資料，將於 {end}（臺北時間）恢復服務。造成不便，敬請見諒。",
                window(app)
            ),
            link: None,
        };
        Resp::html(
            StatusCode::SERVICE_UNAVAILABLE,
            page.render().expect("template"),
        )
    };
    r.header("retry-after", &left.to_string());
    r.route("maintenance")
}

fn window(app: &App) -> String {
    app.maintenance.to_string()
}

/// Headers every answer carries. Personal pages are never cached; the
/// referrer never leaves (activation and reset links carry tokens).
fn secure(r: &mut Resp, _req: &Req) {
    r.header(
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    r.header("x-content-type-options", "nosniff");
    r.header("x-frame-options", "DENY");
    r.header("referrer-policy", "no-referrer");
    if !r.headers.contains_key("cache-control") {
        r.header("cache-control", "no-store");
    }
}

pub fn ctx(app: &App, title: &str, session: Option<&Session>, csrf: String) -> Ctx {
    Ctx {
        title: title.to_string(),
        user: session.map(|s| s.email.clone()),
        csrf: session.map_or(csrf, |s| s.csrf.clone()),
        notice: None,
        error: None,
        maintenance: window(app),
    }
}

fn healthz(app: &App) -> Resp {
    let live = app.live.get();
    let body = serde_json::json!({
        "status": if live.is_some() { "ok" } else { "no snapshot" },
        "snapshot": live.as_ref().map(|s| s.name.clone()),
        "snapshot_date": live.as_ref().map(|s| s.date.format("%Y-%m-%d").to_string()),
        "schema_version": live.as_ref().map(|s| s.schema_version),
    });
    let status = if live.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Resp::json(status, &body).route("/healthz")
}

fn metrics(app: &App) -> Resp {
    let live = app.live.get();
    let snap = live
        .as_ref()
        .map(|s| (schemas::date::to_int(s.date), s.name.as_str()));
    Resp::new(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        app.metrics.render(snap).into_bytes(),
    )
    .route("/metrics")
}

fn captcha_png(app: &App, file: &str) -> Resp {
    let id = file.strip_suffix(".png").unwrap_or("");
    match app.captchas.digits(id) {
        Some(d) => Resp::new(StatusCode::OK, "image/png", crate::captcha::png(&d)),
        None => Resp::text(
            StatusCode::NOT_FOUND,
            "驗證碼已過期，請重新整理頁面。".into(),
        ),
    }
    .route("/captcha")
}

pub fn not_found(app: &App, req: &Req) -> Resp {
    if req.path.starts_with("/api/") {
        return api::not_found();
    }
    let session = browser_session(app, req);
    let page = pages::Message {
        c: ctx(app, "找不到頁面", session.as_ref(), String::new()),
        heading: "找不到這個頁面",
        text: "您要找的頁面或案件不存在，或您沒有查詢它的權限。".into(),
        link: Some(("/cases", "回我的案件")),
    };
    Resp::html(StatusCode::NOT_FOUND, page.render().expect("template")).route("not found")
}

// ---------- sessions, CSRF ----------

/// The browser's session, if its cookie names a live one.
pub fn browser_session(app: &App, req: &Req) -> Option<Session> {
    let id = req.cookie(&app.cookie_name("sid"))?;
    let (s, persist) = app.sessions.get(id, Kind::Browser)?;
    if persist {
        app.record(Record::Seen {
            hash: s.hash,
            at: s.last_seen,
        });
    }
    Some(s)
}

/// Runs `f` for a signed-in browser, else sends it to the login page.
fn with_session(app: &App, req: &Req, f: impl FnOnce(Session) -> Resp) -> Resp {
    match browser_session(app, req) {
        Some(s) => f(s),
        None => {
            let m = if req.cookie(&app.cookie_name("sid")).is_some() {
                "?m=expired"
            } else {
                ""
            };
            Resp::redirect(&format!("/login{m}"))
        }
    }
}

/// The pre-login anti-forgery token: the `csrf` cookie (set when missing),
/// which each form must repeat.
fn anon_csrf(app: &App, req: &Req, resp_cookies: &mut Vec<String>) -> String {
    let name = app.cookie_name("csrf");
    match req.cookie(&name) {
        Some(v) if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => v.to_string(),
        _ => {
            let v = schemas::hex(&secret::random_bytes::<16>().expect("randomness"));
            resp_cookies.push(set_cookie(&name, &v, app.https, None));
            v
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A form POST before login must repeat the `csrf` cookie.
fn anon_csrf_ok(app: &App, req: &Req, form: &std::collections::HashMap<String, String>) -> bool {
    match (req.cookie(&app.cookie_name("csrf")), form.get("csrf")) {
        (Some(c), Some(f)) => !c.is_empty() && same(c, f),
        _ => false,
    }
}

fn forbidden(app: &App, req: &Req) -> Resp {
    let session = browser_session(app, req);
    let page = pages::Message {
        c: ctx(app, "表單已失效", session.as_ref(), String::new()),
        heading: "表單已失效",
        text: "這個表單已過期或不是從本網站送出。請回到上一頁重新整理後再試一次。".into(),
        link: Some(("/login", "回登入頁")),
    };
    Resp::html(StatusCode::FORBIDDEN, page.render().expect("template")).route("csrf")
}

fn with_cookies(mut r: Resp, cookies: Vec<String>) -> Resp {
    for c in cookies {
        r.header("set-cookie", &c);
    }
    r
}

// ---------- login, logout ----------

fn login_page(
    app: &App,
    req: &Req,
    error: Option<String>,
    email: String,
    status: StatusCode,
) -> Resp {
    let mut cookies = Vec::new();
    let csrf = anon_csrf(app, req, &mut cookies);
    let mut c = ctx(app, "登入", None, csrf);
    c.notice = req.query_map().get("m").and_then(|m| pages::notice(m));
    c.error = error;
    let page = pages::Login {
        c,
        captcha_id: app.captchas.create(),
        email,
    };
    with_cookies(
        Resp::html(status, page.render().expect("template")),
        cookies,
    )
    .route("/login")
}

async fn login_post(app: &Arc<App>, req: &Req) -> Resp {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return forbidden(app, req);
    }
    let f = |k: &str| form.get(k).cloned().unwrap_or_default();
    let email = f("email");
    match auth::login(
        app,
        req.ip,
        &email,
        f("password"),
        &f("captcha_id"),
        &f("captcha"),
        Kind::Browser,
    )
    .await
    {
        Login::Ok { id, .. } => {
            // A new id at every login; the old session, if any, ends.
            if let Some(old) = browser_session(app, req) {
                let _ = app
                    .sessions
                    .end(&app.accounts.lock().expect("accounts"), &old.hash);
            }
            let mut r = Resp::redirect("/cases");
            r.header(
                "set-cookie",
                &set_cookie(&app.cookie_name("sid"), &id, app.https, None),
            );
            r.route("/login")
        }
        Login::BadCaptcha => login_page(
            app,
            req,
            Some("驗證碼不正確或已過期，請輸入新的驗證碼。".into()),
            email,
            StatusCode::OK,
        ),
        Login::BadCredentials => login_page(
            app,
            req,
            Some("帳號或密碼不正確。尚未啟用帳號者，請使用核准通知信中的啟用連結。".into()),
            email,
            StatusCode::OK,
        ),
        Login::Throttled(wait) => {
            let mut r = login_page(
                app,
                req,
                Some(format!("嘗試次數過多，請於 {wait} 秒後再試。")),
                email,
                StatusCode::TOO_MANY_REQUESTS,
            );
            r.header("retry-after", &wait.to_string());
            r
        }
    }
}

fn logout(app: &App, req: &Req) -> Resp {
    let form = req.form();
    let name = app.cookie_name("sid");
    if let Some(s) = browser_session(app, req) {
        if !form.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
            return forbidden(app, req);
        }
        let _ = app
            .sessions
            .end(&app.accounts.lock().expect("accounts"), &s.hash);
    }
    let mut r = Resp::redirect("/login?m=logout");
    r.header("set-cookie", &set_cookie(&name, "", app.https, Some(0)));
    r.route("/logout")
}

// ---------- cases ----------

fn cases_page(app: &App, _req: &Req, s: &Session) -> Resp {
    let Some(live) = app.live.get() else {
        return unavailable(app, Some(s));
    };
    match live.cases_of(&s.email) {
        Ok(rows) => {
            let page = pages::Cases {
                c: ctx(app, "我的案件", Some(s), String::new()),
                cases: rows.iter().map(pages::CaseItem::from_row).collect(),
            };
            Resp::html(StatusCode::OK, page.render().expect("template"))
        }
        Err(e) => {
            tracing::error!("cases of an account: {e}");
            unavailable(app, Some(s))
        }
    }
}

fn case_page(app: &App, req: &Req, s: &Session, key: &[String]) -> Resp {
    let Some(key) = CaseKey::from_segments(key) else {
        return not_found(app, req);
    };
    let Some(live) = app.live.get() else {
        return unavailable(app, Some(s));
    };
    match live.case_of(&s.email, &key) {
        Ok(Some(row)) => {
            app.record(Record::View {
                account_id: s.account_id,
                case: key.id(),
                at: Utc::now(),
            });
            let k = pages::CaseDetail::from_row(&row);
            let page = pages::Case {
                c: ctx(app, &k.number_text.clone(), Some(s), String::new()),
                k,
            };
            Resp::html(StatusCode::OK, page.render().expect("template"))
        }
        Ok(None) => not_found(app, req),
        Err(e) => {
            tracing::error!("a case: {e}");
            unavailable(app, Some(s))
        }
    }
}

fn hearing_ics(app: &App, req: &Req, s: &Session, key: &[String], file: &str) -> Resp {
    let n: Option<usize> = file.strip_suffix(".ics").and_then(|n| n.parse().ok());
    let (Some(key), Some(n)) = (CaseKey::from_segments(key), n) else {
        return not_found(app, req);
    };
    let Some(live) = app.live.get() else {
        return unavailable(app, Some(s));
    };
    let row = live.case_of(&s.email, &key).ok().flatten();
    let entry = row
        .as_ref()
        .and_then(|r| r.entries.get(n.wrapping_sub(1)))
        .and_then(|(_, text)| ics::hearing(text));
    match (row, entry) {
        (Some(row), Some((when, what))) => {
            let title = format!(
                "{} {} {}",
                row.court_name,
                row.key.category,
                row.key.number_text()
            );
            let body = ics::calendar(&title, &row.court_name, when, &what, Utc::now());
            let mut r = Resp::new(
                StatusCode::OK,
                "text/calendar; charset=utf-8",
                body.into_bytes(),
            );
            r.header(
                "content-disposition",
                &format!(
                    "attachment; filename=\"hearing-{}.ics\"",
                    when.format("%Y%m%d-%H%M")
                ),
            );
            r
        }
        _ => not_found(app, req),
    }
}

fn unavailable(app: &App, s: Option<&Session>) -> Resp {
    let page = pages::Message {
        c: ctx(app, "暫時無法提供服務", s, String::new()),
        heading: "暫時無法提供服務",
        text: "系統暫時無法讀取案件資料，請稍後再試。".into(),
        link: None,
    };
    let mut r = Resp::html(
        StatusCode::SERVICE_UNAVAILABLE,
        page.render().expect("template"),
    );
    r.header("retry-after", "60");
    r
}

// ---------- activation, reset, forgot ----------

fn link_form(app: &App, req: &Req, purpose: Purpose) -> Resp {
    let mut cookies = Vec::new();
    let csrf = anon_csrf(app, req, &mut cookies);
    let token = req.query_map().get("token").cloned().unwrap_or_default();
    // Only shows the form: a mail scanner following the link spends nothing.
    let account = {
        let conn = app.accounts.lock().expect("accounts");
        accounts::token_account(&conn, &token, purpose, Utc::now())
            .ok()
            .flatten()
    };
    let (heading, action, _) = link_page(purpose);
    let page = pages::PasswordForm {
        c: ctx(app, heading, None, csrf),
        heading,
        action,
        valid: account.is_some(),
        token,
        email: account.map(|a| a.email),
    };
    with_cookies(
        Resp::html(StatusCode::OK, page.render().expect("template")),
        cookies,
    )
    .route(action)
}

/// A link page's heading, its path (and route name), and the notice after it.
fn link_page(purpose: Purpose) -> (&'static str, &'static str, &'static str) {
    match purpose {
        Purpose::Activate => ("啟用帳號：設定密碼", "/activate", "activated"),
        Purpose::Reset => ("重設密碼", "/reset", "reset"),
    }
}

async fn link_post(app: &Arc<App>, req: &Req, purpose: Purpose) -> Resp {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return forbidden(app, req);
    }
    let f = |k: &str| form.get(k).cloned().unwrap_or_default();
    let token = f("token");
    let (heading, action, done) = link_page(purpose);
    let outcome =
        auth::set_password_by_link(app, token.clone(), purpose, f("password"), f("confirm")).await;
    let (valid, error, status) = match outcome {
        SetPassword::Done => return Resp::redirect(&format!("/login?m={done}")).route(action),
        SetPassword::BadLink => (false, None, StatusCode::OK),
        SetPassword::Refused(why) => (
            true,
            Some(why.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let email = if valid {
        let conn = app.accounts.lock().expect("accounts");
        accounts::token_account(&conn, &token, purpose, Utc::now())
            .ok()
            .flatten()
            .map(|a| a.email)
    } else {
        None
    };
    let mut c = ctx(app, heading, None, f("csrf"));
    c.error = error;
    let page = pages::PasswordForm {
        c,
        heading,
        action,
        valid,
        token,
        email,
    };
    Resp::html(status, page.render().expect("template")).route(action)
}

fn forgot_page(app: &App, req: &Req, sent: bool, error: Option<String>) -> Resp {
    let mut cookies = Vec::new();
    let csrf = anon_csrf(app, req, &mut cookies);
    let mut c = ctx(app, "忘記密碼", None, csrf);
    c.error = error;
    let page = pages::Forgot {
        c,
        sent,
        captcha_id: if sent {
            String::new()
        } else {
            app.captchas.create()
        },
    };
    with_cookies(
        Resp::html(StatusCode::OK, page.render().expect("template")),
        cookies,
    )
    .route("/forgot")
}

fn forgot_post(app: &Arc<App>, req: &Req) -> Resp {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return forbidden(app, req);
    }
    let f = |k: &str| form.get(k).cloned().unwrap_or_default();
    if let Some(wait) = app.throttle.check("", req.ip, Instant::now()) {
        let mut r = forgot_page(
            app,
            req,
            false,
            Some(format!("嘗試次數過多，請於 {wait} 秒後再試。")),
        );
        r.status = StatusCode::TOO_MANY_REQUESTS;
        r.header("retry-after", &wait.to_string());
        return r;
    }
    if !app.captchas.take(&f("captcha_id"), &f("captcha")) {
        app.throttle.failed(None, req.ip, Instant::now());
        return forgot_page(
            app,
            req,
            false,
            Some("驗證碼不正確或已過期，請輸入新的驗證碼。".into()),
        );
    }
    // The answer does not wait for the lookup: same page, same time.
    auth::forgot(Arc::clone(app), f("email"), req.ip);
    forgot_page(app, req, true, None)
}

// ---------- account ----------

fn account_page(
    app: &App,
    _req: &Req,
    s: &Session,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Resp {
    let digests = {
        let conn = app.accounts.lock().expect("accounts");
        accounts::by_id(&conn, s.account_id)
            .ok()
            .flatten()
            .is_none_or(|a| a.digests)
    };
    let mut c = ctx(app, "帳號設定", Some(s), String::new());
    c.notice = notice;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    c.error = error;
    let page = pages::Account {
        c,
        email: s.email.clone(),
        digests,
    };
    Resp::html(status, page.render().expect("template"))
}

/// The signed-in browser's session, if the form repeats its CSRF token.
type Form = std::collections::HashMap<String, String>;

fn session_form(app: &App, req: &Req) -> Result<(Session, Form), Box<Resp>> {
    let Some(s) = browser_session(app, req) else {
        return Err(Box::new(Resp::redirect("/login?m=expired")));
    };
    let form = req.form();
    if !form.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
        return Err(Box::new(forbidden(app, req)));
    }
    Ok((s, form))
}

async fn change_password(app: &Arc<App>, req: &Req) -> Resp {
    let (s, form) = match session_form(app, req) {
        Ok(x) => x,
        Err(r) => return (*r).route("/account/password"),
    };
    let f = |k: &str| form.get(k).cloned().unwrap_or_default();
    match auth::change_password(app, &s, f("current"), f("password"), f("confirm")).await {
        // Post/redirect/get: a reload does not post the form again.
        Change::Done => Resp::redirect("/account?m=changed"),
        Change::WrongCurrent => account_page(app, req, &s, None, Some("目前的密碼不正確。".into())),
        Change::Refused(why) => account_page(app, req, &s, None, Some(why.into())),
    }
    .route("/account/password")
}

fn digests(app: &App, req: &Req) -> Resp {
    let (s, form) = match session_form(app, req) {
        Ok(x) => x,
        Err(r) => return (*r).route("/account/digests"),
    };
    let on = form.get("on").is_some_and(|v| v == "1");
    let done = accounts::set_digests(&app.accounts.lock().expect("accounts"), s.account_id, on);
    if let Err(e) = done {
        tracing::error!("digests: {e}");
    }
    Resp::redirect(if on {
        "/account?m=digests-on"
    } else {
        "/account?m=digests-off"
    })
    .route("/account/digests")
}

// ---------- unsubscribe (RFC 8058) ----------

fn unsubscribe_target(app: &App, req: &Req) -> (bool, String) {
    let q = req.query_map();
    let email = q.get("email").cloned().unwrap_or_default();
    let token = q.get("token").cloned().unwrap_or_default();
    (
        secret::unsubscribe_token_ok(&app.key, &email, &token),
        email,
    )
}

fn unsubscribe_page(app: &App, req: &Req) -> Resp {
    let (valid, email) = unsubscribe_target(app, req);
    let action = format!("/unsubscribe?{}", req.query);
    let page = pages::Unsubscribe {
        c: ctx(app, "取消案件進度通知", None, String::new()),
        valid,
        email,
        action,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Resp::html(status, page.render().expect("template")).route("/unsubscribe")
}

/// One POST stops digests: a mail client's RFC 8058 one-click (body
/// `List-Unsubscribe=One-Click`) or the page's button. The link's HMAC is
/// the authority; no session or CSRF token is involved.
fn unsubscribe_post(app: &App, req: &Req) -> Resp {
    let (valid, email) = unsubscribe_target(app, req);
    if !valid {
        return unsubscribe_page(app, req);
    }
    if let Err(e) = accounts::unsubscribe(&app.accounts.lock().expect("accounts"), &email) {
        tracing::error!("unsubscribe: {e}");
        return unavailable(app, None).route("/unsubscribe");
    }
    tracing::info!("digests turned off by unsubscribe link");
    let one_click = req
        .form()
        .get("List-Unsubscribe")
        .is_some_and(|v| v == "One-Click");
    if one_click {
        return Resp::text(StatusCode::OK, "已取消案件進度通知。".into()).route("/unsubscribe");
    }
    let page = pages::Message {
        c: ctx(app, "已取消通知", None, String::new()),
        heading: "已取消案件進度通知",
        text: format!("{email} 將不再收到案件新進度的通知信。登入後可在「帳號設定」重新開啟。"),
        link: Some(("/login", "登入")),
    };
    Resp::html(StatusCode::OK, page.render().expect("template")).route("/unsubscribe")
}
