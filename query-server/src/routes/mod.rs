//! Every request goes through `handle`: the maintenance window, one match
//! over (method, path) that dispatches to an area, compression (what may
//! be compressed, `encoding`), security headers, no caching of personal
//! pages, visits and metrics all sit here, so a new route cannot forget
//! them. A handler returns an `Answer`; a `Failure` is
//! rendered by `failure` (a page here, JSON under `/api/`) and then named
//! for the metrics like any other answer.
//!
//! The areas: `accounts` (signing in and out, the account page, "forgot
//! password"), `links` (the pages mailed links open: activation, reset,
//! unsubscribe), `cases` (the list, a case, its calendar files),
//! `hearings` (我的庭期, a hearing's calendar file, reminders, the feed),
//! `operations` (health, metrics, the stylesheet, captcha pictures and sounds); `guard`
//! is who is asking (the browser's session, the anti-forgery tokens). The
//! JSON API is `api`.

pub mod accounts;
pub mod cases;
pub mod guard;
pub mod hearings;
pub mod links;
pub mod operations;

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use warp::http::{Method, StatusCode};

use schemas::date::taipei;
use store::accounts::{Purpose, Record};

use crate::api;
use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::{Req, Resp};
use crate::pages::Ctx;
use crate::prosecutors::{self, with_viewer};
use crate::sessions::Session;
use guard::with_session;

pub async fn handle(app: Arc<App>, req: Req) -> Resp {
    let started = Instant::now();
    let mut resp = if let Some(left) = in_maintenance(&app, Utc::now()) {
        if req.path == "/healthz" {
            operations::healthz(&app)
        } else if req.path == "/metrics" && reads_only(&req) && metrics_for(&app, &req) {
            // (measured through the night, not a nightly gap in the scrape)
            operations::metrics(&app)
        } else if req.path == "/static/site.css" && reads_only(&req) {
            // The maintenance page is styled like every other.
            operations::stylesheet()
        } else if signs_out(&req) && guard::same_origin(&app, &req) {
            // (only the accounts database's sessions, which the night's
            // import does not hold: on a shared computer at 00:40, 登出
            // said 資料整理中 and left the session alive; the security
            // review of 2026-12-07)
            route(&app, &req).await
        } else if unsubscribes(&req) {
            // (the accounts database and a read of the live snapshot: a
            // mail client's one-click POST is sent once, and a 503 left
            // the digests coming to a reader told they had stopped; the
            // mail-links review of the fifty-third session. From any
            // origin: `origin_allowed`)
            route(&app, &req).await
        } else {
            Failure::Maintenance(left).render(&app, &req)
        }
    } else if !origin_allowed(&app, &req) {
        // Another site's page posting here: refused whatever its tokens.
        Failure::Forbidden.render(&app, &req)
    } else {
        route(&app, &req).await
    };
    // (the API's, the feed's, the stylesheet's and scripts': never a page)
    crate::encoding::compress(&req, &mut resp);
    secure(&mut resp, app.https, &form_action(&app));
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

/// Whether `/metrics` answers the request's address
/// (`server.metrics_allow`); to the rest it is an unknown page.
fn metrics_for(app: &App, req: &Req) -> bool {
    app.cfg.server.metrics_allow.contains(req.ip)
}

/// Signing out, from a page (an applicant's or a prosecutor's) or an app:
/// answered in the maintenance window too.
fn signs_out(req: &Req) -> bool {
    match req.method {
        Method::POST => req.path == "/logout" || req.path == "/sso/logout",
        Method::DELETE => req.path == "/api/v1/session",
        _ => false,
    }
}

/// A mailed unsubscribe link's page and its POST (the page's button, a
/// mail client's RFC 8058 one-click): answered in the maintenance window
/// too.
fn unsubscribes(req: &Req) -> bool {
    req.path == "/unsubscribe" && (reads_only(req) || req.method == Method::POST)
}

/// Whether a request may come from where its `Origin` says: one that
/// changes nothing, a mailed unsubscribe link's POST, from anywhere; any
/// other, only from the site's own pages (`guard::same_origin`). The
/// unsubscribe's authority is the link's HMAC alone, which whoever posts
/// must hold, and its POST does the same however often it comes; a mail
/// client's one-click (RFC 8058) posted from a web mail's page or a
/// sandboxed frame names that origin, or `null` (the mail-links review of
/// the fifty-third session: refused 403, the mail kept coming).
fn origin_allowed(app: &App, req: &Req) -> bool {
    reads_only(req) || unsubscribes(req) || guard::same_origin(app, req)
}

/// GET and HEAD change nothing (what `Origin` is not checked for).
pub(crate) fn reads_only(req: &Req) -> bool {
    req.method == Method::GET || req.method == Method::HEAD
}

/// Dispatch. An arm that names its route after `answer` names failures
/// too; the others leave a failure its own name (`csrf`, `not found`).
async fn route(app: &Arc<App>, req: &Req) -> Resp {
    let seg = req.segments();
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    let answer = |a: Answer| a.unwrap_or_else(|f| f.page(app, req));
    // A case's one address (`cases::elsewhere`), the pages' and the API's.
    let key_at = match s.as_slice() {
        ["cases", ..] => Some((0, "/cases/{key}")),
        ["api", "v1", "cases", ..] => Some((2, "/api/v1/cases/{key}")),
        _ => None,
    };
    if let Some((to, route)) = key_at
        .filter(|_| get)
        .and_then(|(at, route)| Some((cases::elsewhere(req, &seg, at)?, route)))
    {
        return Resp::moved(&to).route(route);
    }
    match (s.as_slice(), get, post) {
        (["healthz"], true, _) => operations::healthz(app),
        (["metrics"], true, _) if metrics_for(app, req) => operations::metrics(app),
        (["static", "site.css"], true, _) => operations::stylesheet(),
        (["static", "password.js"], true, _) => operations::script(operations::PASSWORD_JS),
        (["static", "signed-in.js"], true, _) => operations::script(operations::SIGNED_IN_JS),
        (["captcha", file], true, _) => operations::captcha(app, file).route("/captcha"),
        ([], true, _) => answer(accounts::home(app, req)).route("/"),
        (["login"], true, _) => answer(accounts::login_page(app, req)),
        (["login"], _, true) => answer(accounts::login_post(app, req).await),
        (["logout"], _, true) if is_prosecutors(app, req) => {
            answer(prosecutors::web::logout(app, req))
        }
        (["logout"], _, true) => answer(accounts::logout(app, req)),
        (["sso", rest @ ..], _, _) => prosecutors::web::route(app, req, rest).await,
        (["cases"], true, _) => {
            answer(with_viewer(app, req, |v| cases::list(app, &v, req))).route("/cases")
        }
        (["hearings"], true, _) => {
            answer(with_viewer(app, req, |v| hearings::page(app, &v, req))).route("/hearings")
        }
        (["cases", k @ ..], true, _) if k.len() == 5 => {
            answer(with_viewer(app, req, |v| cases::page(app, &v, &seg[1..]))).route("/cases/{key}")
        }
        (["cases", k @ .., "hearing", file], true, _) if k.len() == 5 => {
            answer(with_viewer(app, req, |v| {
                cases::hearing(app, &v, &seg[1..6], file)
            }))
            .route("/cases/{key}/hearing")
        }
        (["cases", k @ .., "hearings", file], true, _) if k.len() == 5 => {
            answer(with_viewer(app, req, |v| {
                hearings::case_hearing(app, &v, &seg[1..6], file)
            }))
            .route("/cases/{key}/hearings")
        }
        (["calendar", file], true, _) => answer(hearings::feed(app, req, file)).route("/calendar"),
        // What a signed-in page's "繼續使用" asks, and the page as it is
        // shown again (its session's idle time starts again, as with any
        // page): 204 while the session the page names (`?s=`, its
        // `page_tag`) lives and is the browser's; else as with no session.
        (["account", "alive"], true, _) => {
            answer(with_viewer(app, req, |v| match req.query_map().get("s") {
                Some(s) if s != v.page_tag() => Err(Failure::Unauthorised),
                _ => Ok(Resp::no_content()),
            }))
            .route("/account/alive")
        }
        (["account", "mail"], _, true) => {
            answer(accounts::mail_resume(app, req)).route("/account/mail")
        }
        (["account", "reminders"], _, true) => {
            answer(hearings::reminders(app, req)).route("/account/reminders")
        }
        (["account", "feed"], _, true) => {
            answer(hearings::feed_post(app, req)).route("/account/feed")
        }
        (["activate"], true, _) => answer(links::form(app, req, Purpose::Activate)),
        (["activate"], _, true) => answer(links::post(app, req, Purpose::Activate).await),
        (["reset"], true, _) => answer(links::form(app, req, Purpose::Reset)),
        (["reset"], _, true) => answer(links::post(app, req, Purpose::Reset).await),
        (["forgot"], true, _) => answer(accounts::forgot_page(app, req)),
        (["forgot"], _, true) => answer(accounts::forgot_post(app, req)),
        (["account"], true, _) if is_prosecutors(app, req) => {
            answer(prosecutors::with_prosecutor(app, req, |p| {
                prosecutors::web::account(app, req, &p)
            }))
            .route("/account")
        }
        (["account"], true, _) => {
            answer(with_session(app, req, |s| accounts::account(app, req, &s))).route("/account")
        }
        (["account", "password"], _, true) => {
            answer(accounts::change_password(app, req).await).route("/account/password")
        }
        (["account", "sessions"], _, true) => {
            answer(accounts::end_other_sessions(app, req)).route("/account/sessions")
        }
        (["account", "digests"], _, true) => {
            answer(accounts::digests(app, req)).route("/account/digests")
        }
        (["unsubscribe"], true, _) => answer(links::unsubscribe_page(app, req)),
        (["unsubscribe"], _, true) => {
            answer(links::unsubscribe_post(app, req)).route("/unsubscribe")
        }
        (["api", "v1", rest @ ..], _, _) => api::route(app, req, rest, &seg[2..]).await,
        _ => Failure::NotFound.render(app, req),
    }
}

/// Whether `now` is in the nightly maintenance window; if so, the seconds
/// until it ends.
pub fn in_maintenance(app: &App, now: chrono::DateTime<Utc>) -> Option<u64> {
    app.maintenance
        .seconds_left(now.with_timezone(&taipei()).time())
}

/// Whether a request is a prosecutor's browser's, to route: a session of
/// theirs, or one that cannot be read now (their route answers 503; taken
/// for an applicant's, 登出 said signed out with the session alive).
fn is_prosecutors(app: &App, req: &Req) -> bool {
    !matches!(prosecutors::browser_prosecutor(app, req), Ok(None))
}

/// The maintenance window as pages say it (`Maintenance::said`).
pub fn window(app: &App) -> String {
    app.words.maintenance.clone()
}

/// Where the site's forms may end: here, and with single sign-on also at
/// the provider (a prosecutor's "登出" posts here and is redirected to its
/// logout; CSP's form-action covers redirects).
pub fn form_action(app: &App) -> String {
    match &app.sso {
        Some(sso) => format!("'self' {}", sso.origin()),
        None => "'self'".to_string(),
    }
}

/// Headers every answer carries, whoever makes it (the routes, what the
/// server refuses before them, a connection over the limits; those two
/// pass `'self'` as `form_action`, having no forms). The site's own
/// stylesheet, script, pictures and the captcha's sound only (and the
/// script's own request, `/account/alive`). Personal
/// pages are never cached; the referrer never leaves the site (activation
/// and reset links carry tokens); over https, browsers are told to keep to
/// https for a year (a first visit typed without it cannot be taken over
/// after that).
pub fn security_headers(https: bool, form_action: &str) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (
            "content-security-policy",
            format!("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"),
        ),
        ("x-content-type-options", "nosniff".into()),
        ("x-frame-options", "DENY".into()),
        // Not `no-referrer`: with it, browsers send `Origin: null` on the
        // site's own form posts, and the origin check could not tell them
        // from another site's. The referrer still never leaves the site.
        ("referrer-policy", "same-origin".into()),
    ];
    if https {
        h.push(("strict-transport-security", "max-age=31536000".into()));
    }
    h
}

/// Adds `security_headers`, and `cache-control: no-store` unless the
/// answer says otherwise.
pub fn secure(r: &mut Resp, https: bool, form_action: &str) {
    for (name, value) in security_headers(https, form_action) {
        r.header(name, &value);
    }
    if !r.headers.contains_key("cache-control") {
        r.header("cache-control", "no-store");
    }
}

/// What the base layout needs: the title, who is signed in, and the
/// page's anti-forgery token (the session's, else `csrf`).
pub fn ctx(app: &App, title: &str, session: Option<&Session>, csrf: String) -> Ctx {
    let mut c = Ctx {
        title: title.to_string(),
        user: session.map(|s| s.email.clone()),
        csrf: session.map_or(csrf, |s| s.csrf.clone()),
        notice: None,
        error: None,
        errors: Vec::new(),
        words: app.words.clone(),
        focus_elsewhere: false,
        ends_in: 0,
        ends_at: String::new(),
        closes_in: 0,
        opens_in: 0,
        session_tag: String::new(),
    };
    if let Some(s) = session {
        signed_in_since(&mut c, app, s.created, &s.tag);
    }
    c
}

/// A session's page tag: what a signed-in page's script keys what it
/// notes in the browser by (`localStorage`: when the session last reached
/// the server, a sign-out), and names to `/account/alive`, which answers
/// 204 only to the session it names. So the pages of one person's session
/// neither count another's use of the browser as theirs nor are kept
/// alive by it (a review of the website, 2026-12-07: once a second person
/// signed in, every page they opened moved the first's idle end on, and
/// the first's cases stayed on screen in a tab left open). 8 bytes of a
/// hash of the session's own hash: it says nothing of the session's token.
pub fn page_tag(session_hash: &[u8; 32]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cpor page tag\0");
    h.update(session_hash);
    schemas::hex(&h.finalize()[..8])
}

/// What a signed-in page needs to warn before its session's absolute end
/// (`server.session_max_seconds` after `created`) and before the nightly
/// maintenance window (`static/signed-in.js`), an applicant's session or
/// a prosecutor's, whose page tag is `tag` (`page_tag`).
pub fn signed_in_since(c: &mut Ctx, app: &App, created: chrono::DateTime<Utc>, tag: &str) {
    c.session_tag = tag.to_string();
    let now = Utc::now();
    let end = created + app.cfg.server.session_max;
    // (rounded up: the page says the session ended once it has)
    c.ends_in = ((end - now).num_milliseconds().max(1) as u64).div_ceil(1000);
    c.ends_at = crate::pages::hh_mm(end.with_timezone(&taipei()).time());
    let window = &app.maintenance;
    let t = now.with_timezone(&taipei()).time();
    if let Some(to_start) = window.seconds_to_start(t) {
        // (counted from the whole second `t` is in: less the fraction, so
        // that the page does not say the site paused after it did)
        use chrono::Timelike;
        c.closes_in = match t.nanosecond() {
            0 => to_start,
            _ => to_start.saturating_sub(1).max(1),
        };
        c.opens_in = c.closes_in + window.length();
    }
}

/// A form's field, or empty.
fn field(form: &guard::Form, name: &str) -> String {
    form.get(name).cloned().unwrap_or_default()
}
