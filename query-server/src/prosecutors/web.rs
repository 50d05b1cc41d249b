//! The prosecutors' web sign-in and pages: `/sso/login` starts the code
//! flow, `/sso/callback` finishes it, `/sso/logout` signs out here and, when
//! the provider advertises an `end_session_endpoint`, there too;
//! `/sso/digests` is the digest opt-in of the prosecutor's account page,
//! which also has their hearing reminders and calendar feed
//! (`routes::hearings`, the same forms as an applicant's).
//!
//! Every refusal — whatever `Sso::finish` refuses (issuer, audience,
//! signature, expiry, nonce, state, replay, claims) and an account the live
//! snapshot's `prosecutors` does not name — is a page in words, with the
//! refusal's status, and no session; the flow cookie is cleared whatever
//! the outcome. A sign-in ends any session the browser had and makes a new
//! id. The callback goes on only to a path of this site
//! (`sso::safe_return_path`, applied when the flow was sealed and again
//! when it is opened).

use std::sync::Arc;

use warp::http::StatusCode;

use store::accounts::prosecutors::{self as store_p, Via};
use store::hearings::Holder;

use super::{browser_prosecutor, end, prosecutor_ctx, prosecutor_form, ProsecutorSession};
use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::{clear_cookie, set_cookie, Req, Resp};
use crate::pages::{self, Problem};
use crate::routes::accounts::NOT_SIGNED_OUT;
use crate::routes::ctx;
use crate::routes::guard::{same, signed_out, unavailable};
use crate::routes::hearings::{account_hearings, AccountHearings};
use crate::sessions::{CreateError, Kind};
use crate::sso::{safe_return_path, Callback, Identity, SsoError, FLOW_COOKIE, FLOW_SECONDS};

/// `/sso/…`; a 404 for everything when single sign-on is off.
pub async fn route(app: &Arc<App>, req: &Req, rest: &[&str]) -> Resp {
    let answer = |a: Answer| a.unwrap_or_else(|f| f.page(app, req));
    if app.sso.is_none() {
        return Failure::NotFound.render(app, req);
    }
    let get = req.method == warp::http::Method::GET || req.method == warp::http::Method::HEAD;
    let post = req.method == warp::http::Method::POST;
    match (rest, get, post) {
        (["login"], true, _) => answer(login(app, req).await).route("/sso/login"),
        (["callback"], true, _) => answer(callback(app, req).await).route("/sso/callback"),
        (["logout"], _, true) => answer(logout(app, req)).route("/sso/logout"),
        (["digests"], _, true) => answer(digests(app, req)).route("/sso/digests"),
        (["sessions"], _, true) => answer(end_other_sessions(app, req)).route("/sso/sessions"),
        _ => Failure::NotFound.render(app, req),
    }
}

/// `GET /sso/login?return_to=/cases`: to the provider, with the flow
/// cookie; with `prompt=login` (offered after a refused account), the
/// provider is asked to ask who is signing in, not to reuse its session.
async fn login(app: &Arc<App>, req: &Req) -> Answer {
    let sso = Arc::clone(app.sso.as_ref().ok_or(Failure::NotFound)?);
    if let Some(there) = sso.login_elsewhere(req.header("host"), &req.query) {
        return Ok(Resp::redirect(there.as_str()));
    }
    let query = req.query_map();
    let return_to = query
        .get("return_to")
        .cloned()
        .unwrap_or_else(|| "/cases".into());
    let ask = query.get("prompt").is_some_and(|p| p == "login");
    let begun = tokio::task::spawn_blocking(move || {
        if ask {
            sso.begin_asking_who(&return_to)
        } else {
            sso.begin(&return_to)
        }
    })
    .await
    .map_err(|e| Failure::Internal(Box::new(e)))?;
    match begun {
        Ok(b) => {
            let mut r = Resp::redirect(b.redirect.as_str());
            r.header(
                "set-cookie",
                &set_cookie(
                    &app.cookie_name(FLOW_COOKIE),
                    &b.flow_cookie,
                    app.https,
                    Some(FLOW_SECONDS as u64),
                ),
            );
            Ok(r)
        }
        Err(e) => refusal(app, req, &e),
    }
}

/// `GET /sso/callback?code&state&iss`: the provider's answer.
async fn callback(app: &Arc<App>, req: &Req) -> Answer {
    let sso = Arc::clone(app.sso.as_ref().ok_or(Failure::NotFound)?);
    let flow = req
        .cookie(&app.cookie_name(FLOW_COOKIE))
        .map(str::to_string);
    let query = Callback::from_query(&req.query);
    if query.code.is_some() {
        sso.may_exchange(req.ip)
            .map_err(|wait| Failure::Throttled(wait, crate::failure::Limit::SignOns))?;
    }
    let finished = tokio::task::spawn_blocking(move || sso.finish(&query, flow.as_deref()))
        .await
        .map_err(|e| Failure::Internal(Box::new(e)))?;
    let mut r = match finished {
        Ok(sign_in) => match start_session(app, req, &sign_in.identity, Kind::Browser, Via::Web)? {
            Ok((id, _)) => {
                let mut r = Resp::redirect(&safe_return_path(&sign_in.return_to));
                r.header(
                    "set-cookie",
                    &set_cookie(&app.cookie_name("sid"), &id, app.https, None),
                );
                r
            }
            Err(e) => refusal(app, req, &e)?,
        },
        Err(e) => {
            // A refusal of the identity the provider vouched for (its
            // claims): someone else is at this browser, as in
            // `start_session`.
            if e.about_the_account() {
                super::end_browser_sessions(app, req);
            }
            refusal(app, req, &e)?
        }
    };
    // The flow is over whatever happened: its cookie goes.
    r.header(
        "set-cookie",
        &clear_cookie(&app.cookie_name(FLOW_COOKIE), app.https),
    );
    Ok(r)
}

/// The address a sign-in gives. The website's sign-in asks for the
/// configured scopes, so an address not given there is one the provider no
/// longer vouches for; an app chooses its own scopes, and one that was
/// given none changes nothing (a review of prosecutors' use, the
/// forty-sixth session: it forgot the address and turned off the mail the
/// prosecutor had turned on on the website).
fn identity_address(identity: &Identity, via: Via) -> store_p::Address<'_> {
    match (&identity.email_verified, identity.email_given, via) {
        (Some(e), ..) => store_p::Address::Verified(e),
        (None, false, Via::App) => store_p::Address::NotGiven,
        (None, ..) => store_p::Address::NotVouched,
    }
}

/// Signs a verified identity in, if the live snapshot names its account:
/// records the sign-in and starts a session with a new id. For the browser
/// (`Kind::Browser`), any session it had ends first, refused or not.
pub fn start_session(
    app: &App,
    req: &Req,
    identity: &Identity,
    kind: Kind,
    via: Via,
) -> Result<Result<(String, ProsecutorSession), SsoError>, Failure> {
    let snap = app.live.get().ok_or(Failure::Unavailable(None))?;
    if kind == Kind::Browser {
        // First, whatever cpor then makes of the identity the provider
        // vouched for.
        super::end_browser_sessions(app, req);
    }
    if !snap.knows_prosecutor(&identity.account)? {
        return Ok(Err(SsoError::UnknownAccount(identity.account.clone())));
    }
    let mut conn = app.accounts.lock().expect("accounts");
    let p = match store_p::sign_in(
        &mut conn,
        &identity.account,
        &identity.subject,
        identity_address(identity, via),
        (
            via,
            app.sso
                .as_ref()
                .ok_or(Failure::NotFound)?
                .settings()
                .subjects,
        ),
        chrono::Utc::now(),
    )
    .map_err(Failure::unavailable)?
    {
        Ok(p) => p,
        Err(store_p::OtherSubject(stored)) => {
            return Ok(Err(SsoError::SubjectChanged {
                account: identity.account.clone(),
                stored,
                now: identity.subject.clone(),
            }))
        }
    };
    let created = app
        .prosecutors
        .create(
            &conn,
            p.id,
            &p.account,
            kind,
            (kind == Kind::Browser).then_some(identity.id_token.as_str()),
        )
        .map_err(|e| match e {
            // (the database's fault, passing: try again)
            CreateError::Sqlite(e) => Failure::unavailable(e),
            e @ CreateError::Randomness(_) => Failure::Internal(Box::new(e)),
        })?;
    tracing::info!(
        "sso: prosecutor {} signed in ({})",
        p.account,
        match via {
            Via::Web => "web",
            Via::App => "app",
        }
    );
    Ok(Ok(created))
}

/// The refusal page: what went wrong in words, the refusal's status, no
/// session. The detail goes to the log only.
fn refusal(app: &App, req: &Req, e: &SsoError) -> Answer {
    // Escaped: a refusal can quote the callback's query (its
    // `error_description`, `iss`), which must not write lines of its own.
    tracing::warn!(
        "sso: sign-in refused ({}) from {}: {}",
        e.kind(),
        req.ip,
        e.to_string().escape_debug()
    );
    // Titled as what happened, as the other refusal pages.
    let page = pages::Message {
        c: ctx(app, "無法以法務部單一登入登入", None, String::new()),
        heading: "無法以法務部單一登入登入",
        text: e.user_message().to_string(),
        links: if e.about_the_account() {
            // The provider would sign the same account in again from its
            // own session: it is asked to ask who is signing in.
            vec![
                ("/sso/login?prompt=login", "以其他法務部帳號登入"),
                ("/login", "回到登入頁"),
            ]
        } else {
            vec![("/login", "回到登入頁")]
        },
    };
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = pages::html(status, &page)?;
    r.header("x-cpor-sso-refusal", e.kind());
    Ok(r)
}

/// `POST /sso/logout` (and `/logout` for a prosecutor): ends the session,
/// then, when the provider advertises it, its own logout.
pub fn logout(app: &App, req: &Req) -> Answer {
    let mut to = "/login?m=logout".to_string();
    let Some(p) = browser_prosecutor(app, req)? else {
        // An applicant's session sent here is signed out as at `/logout`,
        // its token checked: it cleared the cookie, said 登出, and ended
        // nothing (the security review of 2026-12-07).
        return crate::routes::accounts::logout(app, req).map(|r| r.route("/sso/logout"));
    };
    let form = req.form();
    if !form.get("csrf").is_some_and(|c| same(c, &p.csrf)) {
        return Err(Failure::Forbidden);
    }
    if !end(app, &p) {
        // Still signed in here: not on to the provider's logout.
        let problem = Problem::General(NOT_SIGNED_OUT.into());
        return account_page(app, &p, None, Some(problem), None).map(unavailable);
    }
    if let Some(url) = app
        .sso
        .as_ref()
        .and_then(|sso| sso.logout_url(p.id_token.as_deref()))
    {
        to = url.to_string();
    }
    Ok(signed_out(app, &to).route("/sso/logout"))
}

/// `/account` for a prosecutor: the account, the verified address, the
/// digest, hearing reminders and the calendar feed. No password: the
/// provider keeps it.
pub fn account(app: &App, req: &Req, p: &ProsecutorSession) -> Answer {
    let holder = Holder::Prosecutor(p.prosecutor_id);
    crate::routes::hearings::account_get(app, req, holder, |notice, feed_url| {
        account_page(app, p, notice, None, feed_url)
    })
}

/// The prosecutor's account page, with what went wrong if anything;
/// `feed_url`: a calendar feed URL just made, shown once.
pub fn account_page(
    app: &App,
    p: &ProsecutorSession,
    notice: Option<&'static str>,
    problem: Option<Problem>,
    feed_url: Option<String>,
) -> Answer {
    let row = store_p::by_id(&app.accounts.lock().expect("accounts"), p.prosecutor_id)
        .map_err(Failure::unavailable)?
        .ok_or(Failure::Unauthorised)?;
    let mut c = prosecutor_ctx(app, "帳號設定", p);
    c.notice = notice;
    c.focus_elsewhere = feed_url.is_some();
    if let Some(problem) = problem {
        c.add(problem);
    }
    let h = account_hearings(
        app,
        Holder::Prosecutor(p.prosecutor_id),
        row.email.is_some(),
        feed_url,
    )?;
    let sessions = app
        .prosecutors
        .of(p.prosecutor_id)
        .map_err(Failure::unavailable)?
        .iter()
        .map(|other| pages::SessionItem::from_prosecutor(other, &p.hash))
        .collect();
    let bounced = match &row.email {
        Some(email) => pages::Bounced::of(&app.accounts.lock().expect("accounts"), email)
            .map_err(Failure::unavailable)?,
        None => None,
    };
    let page = ProsecutorAccount {
        c,
        account: row.account,
        bounced,
        email: row.email,
        digests: row.digests,
        h,
        sessions,
    };
    pages::html(StatusCode::OK, &page)
}

#[derive(askama::Template)]
#[template(path = "prosecutor_account.html")]
struct ProsecutorAccount {
    c: pages::Ctx,
    account: String,
    email: Option<String>,
    digests: bool,
    /// Mail to the verified address stopped after a bounce, if it is.
    bounced: Option<pages::Bounced>,
    h: AccountHearings,
    /// Its browsers' and apps' sessions.
    sessions: Vec<pages::SessionItem>,
}

/// `POST /sso/sessions`: ends the prosecutor's other sessions, browsers'
/// and apps' (a lost phone's bearer token, a shared computer left signed
/// in), as an applicant's `/account/sessions` does.
fn end_other_sessions(app: &App, req: &Req) -> Answer {
    let (p, _) = prosecutor_form(app, req)?;
    let n = app
        .prosecutors
        .end_all_of(
            &app.accounts.lock().expect("accounts"),
            p.prosecutor_id,
            &p.hash,
        )
        .map_err(Failure::not_saved(crate::failure::SESSIONS_NOT_ENDED))?;
    tracing::info!("{n} other sessions of a prosecutor ended from the account page");
    Ok(Resp::redirect("/account?m=sessions-ended"))
}

/// `POST /sso/digests`: the opt-in (only with a verified address).
fn digests(app: &App, req: &Req) -> Answer {
    let (p, form) = prosecutor_form(app, req)?;
    let want = form.get("on").is_some_and(|v| v == "1");
    let on = store_p::set_digests(
        &app.accounts.lock().expect("accounts"),
        p.prosecutor_id,
        want,
    )
    .map_err(Failure::unavailable)?;
    Ok(Resp::redirect(if on {
        "/account?m=digests-on"
    } else {
        "/account?m=digests-off"
    }))
}
