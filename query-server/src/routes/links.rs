//! The pages that mailed links open: activation and reset (set a password
//! through a single-use token) and unsubscribe (RFC 8058, authorised by the
//! link's HMAC; a digest's link stops digests, a reminder's, `list=reminders`,
//! stops hearing reminders, for every account with the address: an
//! applicant's and a prosecutor's alike). A GET only shows a form, so a
//! mail scanner following a link spends nothing; the POST does the work.

use std::sync::Arc;

use chrono::Utc;
use warp::http::StatusCode;

use store::accounts::{self, Account, Purpose};
use store::secret::{self, Mailing};

use super::guard::{anon_csrf, anon_csrf_ok, just_set, with_cookie};
use super::{ctx, field};
use crate::app::App;
use crate::auth::{self, SetPassword};
use crate::failure::{Answer, Failure, Limit};
use crate::http::{Req, Resp};
use crate::pages::{self, Problem};
use crate::password;

/// A link page's path (and route name), and the notice after it.
fn link_page(purpose: Purpose) -> (&'static str, &'static str) {
    match purpose {
        Purpose::Activate => ("/activate", "activated"),
        Purpose::Reset => ("/reset", "reset"),
    }
}

/// A link page's heading: the form's, or, for a link that no longer works,
/// what the page is about (no form under it).
fn heading(purpose: Purpose, valid: bool) -> &'static str {
    match (purpose, valid) {
        (Purpose::Activate, true) => "啟用帳號：設定密碼",
        (Purpose::Activate, false) => "啟用連結已無法使用",
        (Purpose::Reset, true) => "重設密碼",
        (Purpose::Reset, false) => "重設密碼連結已無法使用",
    }
}

/// The account a link's token opens now, if any; a database that cannot be
/// read is the server's failure, never "the link is not valid".
fn token_account(app: &App, token: &str, purpose: Purpose) -> Result<Option<Account>, Failure> {
    let conn = app.accounts.lock().expect("accounts");
    accounts::token_account(&conn, token, purpose, Utc::now()).map_err(|e| {
        tracing::error!("token lookup: {e}");
        Failure::Unavailable(None)
    })
}

/// A link page's context: a link that no longer works says so first
/// (the error summary, the title 錯誤：…), which is what a screen reader
/// reads; the page's text says what to do.
fn link_ctx(app: &App, heading: &'static str, csrf: String, valid: bool) -> pages::Ctx {
    let mut c = ctx(app, heading, None, csrf);
    if !valid {
        c.add(Problem::General("這個連結已無法使用。".into()));
    }
    c
}

pub fn form(app: &App, req: &Req, purpose: Purpose) -> Answer {
    let (csrf, cookie) = anon_csrf(app, req)?;
    let token = req.query_map().get("token").cloned().unwrap_or_default();
    let account = token_account(app, &token, purpose)?;
    if let Some(a) = account
        .as_ref()
        .filter(|a| auth::activates_nothing(app, purpose, a))
    {
        return Ok(with_cookie(no_case(app, &a.email)?, cookie));
    }
    let valid = account.is_some();
    let (heading, (action, _)) = (heading(purpose, valid), link_page(purpose));
    let page = pages::PasswordForm {
        c: link_ctx(app, heading, csrf, valid),
        heading,
        action,
        valid,
        token,
        email: account.map(|a| a.email),
        strength: None,
    };
    // A link that no longer works is no form: 404, titled 錯誤：.
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(with_cookie(pages::html(status, &page)?, cookie).route(action))
}

pub async fn post(app: &Arc<App>, req: &Req, purpose: Purpose) -> Answer {
    let form = req.form();
    if !anon_csrf_ok(app, req, &form) {
        return Err(Failure::Forbidden);
    }
    let token = field(&form, "token");
    let (action, done) = link_page(purpose);
    let outcome = auth::set_password_by_link(
        app,
        req.ip,
        token.clone(),
        purpose,
        field(&form, "password"),
        field(&form, "confirm"),
    )
    .await;
    let refused = matches!(outcome, SetPassword::Refused(_));
    let (valid, errors, status) = match outcome {
        SetPassword::Done {
            email,
            device,
            reset,
        } => {
            // The login page it goes to fills in the address (and says
            // what a reset ended, for an activation link that was one).
            let done = if reset { "reset" } else { done };
            let to = format!("/login?m={done}");
            // A browser signed in (a shared computer: someone else) is
            // signed out, or the login page would send it on to that
            // session's cases, and the notice for this account be lost.
            let signed_in = crate::prosecutors::browser_viewer(app, req).ok().flatten();
            let mut r = match signed_in {
                Some(v) => {
                    v.end(app);
                    super::guard::signed_out(app, &to)
                }
                None => Resp::redirect(&to),
            };
            r.header("set-cookie", &just_set(app, &email));
            super::accounts::set_device_cookie(app, &mut r, device);
            return Ok(r.route(action));
        }
        SetPassword::BadLink => (false, Vec::new(), StatusCode::NOT_FOUND),
        SetPassword::NoCase(email) => return no_case(app, &email),
        SetPassword::Throttled(wait) => return Err(Failure::Throttled(wait, Limit::Attempts)),
        SetPassword::Busy => (
            true,
            vec![Problem::General(
                "系統忙碌，密碼尚未設定。請稍後再送出一次；這個連結仍然有效。".to_string(),
            )],
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        SetPassword::Refused(whys) => (
            true,
            whys.into_iter()
                .map(super::accounts::password_problem)
                .collect(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let email = if valid {
        token_account(app, &token, purpose)
            .ok()
            .flatten()
            .map(|a| a.email)
    } else {
        None
    };
    // Refused: how strong the password looked, on the server's word (the
    // page's script says it while typing, if it runs).
    let strength = refused.then(|| {
        password::strength(&field(&form, "password"), email.as_deref().unwrap_or("")).label()
    });
    let heading = heading(purpose, valid);
    let mut c = link_ctx(app, heading, field(&form, "csrf"), valid);
    for p in errors {
        c.add(p);
    }
    let page = pages::PasswordForm {
        c,
        heading,
        action,
        valid,
        token,
        email,
        strength,
    };
    let mut r = pages::html(status, &page)?.route(action);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.header("retry-after", "10");
    }
    Ok(r)
}

/// An activation link's page for an address no live grant names
/// (`auth::activates_nothing`): no form, and no account made; said kindly,
/// as the list says it to one with no case. The link is not spent: a grant
/// that names the address again before it expires (a revocation undone)
/// makes it work.
fn no_case(app: &App, email: &str) -> Answer {
    let page = pages::Message {
        c: ctx(app, "目前沒有可以查詢的案件", None, String::new()),
        heading: "目前沒有可以查詢的案件",
        text: format!(
            "{email} 目前沒有可以查詢的案件，所以不需要啟用帳號，這個連結也不會建立帳號。\
             先前核准的案件可能已停止提供查詢，或核准已經撤銷，請洽承辦股。\
             法院核准您的聲請後，會以電子郵件通知您。"
        ),
        links: vec![("/", "回首頁")],
    };
    Ok(pages::html(StatusCode::OK, &page)?.route("/activate"))
}

/// Whether the link's HMAC is right, the address it names, and what it
/// stops.
fn unsubscribe_target(app: &App, req: &Req) -> (bool, String, Mailing) {
    let q = req.query_map();
    let email = q.get("email").cloned().unwrap_or_default();
    let token = q.get("token").cloned().unwrap_or_default();
    let Some(mailing) = Mailing::parse(q.get("list").map(String::as_str)) else {
        return (false, email, Mailing::Digests);
    };
    (
        secret::unsubscribe_token_ok(&app.key, mailing, &email, &token),
        email,
        mailing,
    )
}

/// What a mailing is called on the pages.
fn mailing_name(mailing: Mailing) -> &'static str {
    match mailing {
        Mailing::Digests => "案件進度通知",
        Mailing::Reminders => "庭期提醒",
    }
}

pub fn unsubscribe_page(app: &App, req: &Req) -> Answer {
    let (valid, email, mailing) = unsubscribe_target(app, req);
    let action = format!("/unsubscribe?{}", req.query);
    let what = mailing_name(mailing);
    let page = pages::Unsubscribe {
        c: ctx(app, &format!("取消{what}"), None, String::new()),
        valid,
        email,
        action,
        what,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(pages::html(status, &page)?.route("/unsubscribe"))
}

/// One POST stops digests or reminders: a mail client's RFC 8058
/// one-click (body `List-Unsubscribe=One-Click`) or the page's button. The
/// link's HMAC is the authority; no session or CSRF token is involved.
pub fn unsubscribe_post(app: &App, req: &Req) -> Answer {
    let (valid, email, mailing) = unsubscribe_target(app, req);
    if !valid {
        return unsubscribe_page(app, req);
    }
    // (an address no live grant names is not made an account to hold the
    // setting: an address forgotten would be made again)
    let granted = crate::auth::granted(app, &email);
    let conn = app.accounts.lock().expect("accounts");
    let done = match mailing {
        Mailing::Digests => accounts::unsubscribe(&conn, &email, granted),
        Mailing::Reminders => store::hearings::stop_reminders(&conn, &email, granted),
    };
    // (an address whose account has no password yet is told how to get
    // in before it can turn the mail on again)
    let not_activated = done.is_ok()
        && store::accounts::not_activated(&conn, [email.as_str()]).is_ok_and(|n| !n.is_empty());
    drop(conn);
    done.map_err(Failure::not_saved(crate::failure::STILL_SUBSCRIBED))?;
    tracing::info!("{} turned off by unsubscribe link", mailing.as_str());
    let what = mailing_name(mailing);
    let one_click = req
        .form()
        .get("List-Unsubscribe")
        .is_some_and(|v| v == "One-Click");
    if one_click {
        return Ok(Resp::text(StatusCode::OK, format!("已取消{what}。")));
    }
    let heading = match mailing {
        Mailing::Digests => "已取消案件進度通知",
        Mailing::Reminders => "已取消庭期提醒",
    };
    let page = match not_activated {
        false => pages::Message {
            c: ctx(app, "已取消通知", None, String::new()),
            heading,
            text: format!("{email} 將不再收到{what}信。登入後可在「帳號設定」重新開啟。"),
            links: vec![("/login", "登入")],
        },
        true => pages::Message {
            c: ctx(app, "已取消通知", None, String::new()),
            heading,
            text: format!(
                "{email} 將不再收到{what}信。這個信箱的帳號尚未啟用：以法院核准時寄給您的啟用信中的連結\
                 （或在「忘記密碼」頁輸入本信箱取得新的連結）設定密碼並登入後，可在「帳號設定」重新開啟。"
            ),
            links: vec![("/forgot", "取得啟用連結")],
        },
    };
    pages::html(StatusCode::OK, &page)
}
