//! The account pages: the front door, signing in and out, the account page
//! (digests on or off, changing the password) and "forgot password". The
//! credential work (argon2, throttling, captchas, mailed links) is
//! `auth`'s; these handlers read the forms, check their anti-forgery
//! tokens and choose what page follows.

use std::sync::Arc;
use std::time::Instant;

use warp::http::StatusCode;

use store::accounts;

use super::guard::{anon_csrf, anon_csrf_ok, browser_session, same, session_form, with_cookie};
use super::{ctx, field};
use crate::app::App;
use crate::auth::{self, Change, Login};
use crate::failure::{Answer, Failure};
use crate::http::{set_cookie, Req, Resp};
use crate::pages;
use crate::sessions::Session;

/// `/`: the cases of a signed-in browser, else the login page.
pub fn home(app: &App, req: &Req) -> Resp {
    match browser_session(app, req) {
        Some(_) => Resp::redirect("/cases"),
        None => Resp::redirect("/login"),
    }
    .route("/")
}

pub fn login_page(app: &App, req: &Req) -> Answer {
    login_form(app, req, None, String::new(), StatusCode::OK)
}

fn login_form(
    app: &App,
    req: &Req,
    error: Option<String>,
    email: String,
    status: StatusCode,
) -> Answer {
    let (csrf, cookie) = anon_csrf(app, req)?;
    let mut c = ctx(app, "登入", None, csrf);
    c.notice = req.query_map().get("m").and_then(|m| pages::notice(m));
    c.error = error;
    let page = pages::Login {
        c,
        captcha_id: app.captchas.create()?,
        email,
    };
    Ok(with_cookie(pages::html(status, &page)?, cookie).route("/login"))
}

pub async fn login_post(app: &Arc<App>, req: &Req) -> Answer {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return Err(Failure::Forbidden);
    }
    let email = field(&form, "email");
    let error = match auth::login(
        app,
        req.ip,
        &email,
        field(&form, "password"),
        &field(&form, "captcha_id"),
        &field(&form, "captcha"),
        crate::sessions::Kind::Browser,
    )
    .await
    {
        Login::Ok { id, .. } => {
            // A new id at every login; the old session, if any, ends.
            if let Some(old) = browser_session(app, req) {
                end(app, &old);
            }
            let mut r = Resp::redirect("/cases");
            r.header(
                "set-cookie",
                &set_cookie(&app.cookie_name("sid"), &id, app.https, None),
            );
            return Ok(r.route("/login"));
        }
        Login::BadCaptcha => "驗證碼不正確或已過期，請輸入新的驗證碼。".to_string(),
        Login::BadCredentials => {
            "帳號或密碼不正確。尚未啟用帳號者，請使用核准通知信中的啟用連結。".to_string()
        }
        Login::Throttled(wait) => {
            let mut r = login_form(
                app,
                req,
                Some(format!("嘗試次數過多，請於 {wait} 秒後再試。")),
                email,
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            r.header("retry-after", &wait.to_string());
            return Ok(r);
        }
    };
    login_form(app, req, Some(error), email, StatusCode::OK)
}

pub fn logout(app: &App, req: &Req) -> Answer {
    let form = req.form();
    let name = app.cookie_name("sid");
    if let Some(s) = browser_session(app, req) {
        if !form.get("csrf").is_some_and(|c| same(c, &s.csrf)) {
            return Err(Failure::Forbidden);
        }
        end(app, &s);
    }
    let mut r = Resp::redirect("/login?m=logout");
    r.header("set-cookie", &set_cookie(&name, "", app.https, Some(0)));
    Ok(r.route("/logout"))
}

/// Ends a session; the browser is signed out whether or not the database
/// took it (the session is gone from memory either way).
fn end(app: &App, s: &Session) {
    let ended = app
        .sessions
        .end(&app.accounts.lock().expect("accounts"), &s.hash);
    if let Err(e) = ended {
        tracing::error!("ending a session: {e}");
    }
}

/// `/account`, with the notice a redirect asked for.
pub fn account(app: &App, req: &Req, s: &Session) -> Answer {
    let notice = req.query_map().get("m").and_then(|m| pages::notice(m));
    account_page(app, s, notice, None)
}

fn account_page(
    app: &App,
    s: &Session,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Answer {
    account_page_with(app, s, notice, error, None)
}

/// The account page; `feed_url`: a calendar feed URL just made, shown once.
pub fn account_page_with(
    app: &App,
    s: &Session,
    notice: Option<&'static str>,
    error: Option<String>,
    feed_url: Option<String>,
) -> Answer {
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
        h: super::hearings::account_hearings(app, s.account_id, feed_url),
    };
    pages::html(status, &page)
}

pub async fn change_password(app: &Arc<App>, req: &Req) -> Answer {
    let (s, form) = session_form(app, req)?;
    let f = |k: &str| field(&form, k);
    match auth::change_password(app, &s, f("current"), f("password"), f("confirm")).await {
        // Post/redirect/get: a reload does not post the form again.
        Change::Done => Ok(Resp::redirect("/account?m=changed")),
        Change::WrongCurrent => account_page(app, &s, None, Some("目前的密碼不正確。".into())),
        Change::Refused(why) => account_page(app, &s, None, Some(why.into())),
    }
}

pub fn digests(app: &App, req: &Req) -> Answer {
    let (s, form) = session_form(app, req)?;
    let on = form.get("on").is_some_and(|v| v == "1");
    let done = accounts::set_digests(&app.accounts.lock().expect("accounts"), s.account_id, on);
    if let Err(e) = done {
        tracing::error!("digests: {e}");
    }
    Ok(Resp::redirect(if on {
        "/account?m=digests-on"
    } else {
        "/account?m=digests-off"
    }))
}

pub fn forgot_page(app: &App, req: &Req) -> Answer {
    forgot_form(app, req, false, None)
}

fn forgot_form(app: &App, req: &Req, sent: bool, error: Option<String>) -> Answer {
    let (csrf, cookie) = anon_csrf(app, req)?;
    let mut c = ctx(app, "忘記密碼", None, csrf);
    c.error = error;
    let page = pages::Forgot {
        c,
        sent,
        captcha_id: if sent {
            String::new()
        } else {
            app.captchas.create()?
        },
    };
    Ok(with_cookie(pages::html(StatusCode::OK, &page)?, cookie).route("/forgot"))
}

pub fn forgot_post(app: &Arc<App>, req: &Req) -> Answer {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return Err(Failure::Forbidden);
    }
    if let Some(wait) = app.throttle.check("", req.ip, Instant::now()) {
        let mut r = forgot_form(
            app,
            req,
            false,
            Some(format!("嘗試次數過多，請於 {wait} 秒後再試。")),
        )?;
        r.status = StatusCode::TOO_MANY_REQUESTS;
        r.header("retry-after", &wait.to_string());
        return Ok(r);
    }
    if !app
        .captchas
        .take(&field(&form, "captcha_id"), &field(&form, "captcha"))
    {
        app.throttle.failed(None, req.ip, Instant::now());
        return forgot_form(
            app,
            req,
            false,
            Some("驗證碼不正確或已過期，請輸入新的驗證碼。".into()),
        );
    }
    // The answer does not wait for the lookup: same page, same time.
    auth::forgot(Arc::clone(app), field(&form, "email"), req.ip);
    forgot_form(app, req, true, None)
}
