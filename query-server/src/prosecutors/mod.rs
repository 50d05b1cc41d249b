//! Prosecutors on the website and the API, signed in through the Ministry
//! of Justice single sign-on (`crate::sso` is the relying party; this is
//! what the site does with a verified identity).
//!
//! - `web`: `/sso/login` (start), `/sso/callback`, `/sso/logout`
//!   (RP-initiated logout when the provider advertises it), the
//!   prosecutor's account page and digest opt-in. Wired only when
//!   `[sso] issuer` is set; otherwise every `/sso/…` path is a 404 and the
//!   login page shows nothing of it.
//! - `api`: the native app's ID-token exchange (RFC 8252),
//!   `/api/v1/sso/nonce` and `/api/v1/sso/token`.
//! - `sessions`: prosecutors' own session store.
//! - `Viewer`: who is looking at the case pages and the API's cases, an
//!   applicant (their grants) or a prosecutor (the live snapshot's
//!   `prosecutors` rows for their account, read on every request: an
//!   assignment that tonight's export ends ends access with the next
//!   snapshot). Anything else answers as a case that does not exist.

pub mod api;
pub mod sessions;
pub mod web;

use chrono::Utc;

use schemas::CaseRef;
use store::accounts::Record;

use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::Req;
use crate::live::{self, CaseRow, Snap};
use crate::pages::Ctx;
use crate::routes::guard::{browser_session, same, Form};
use crate::sessions::{Kind, Session};
pub use sessions::{ProsecutorSession, ProsecutorSessions};

/// Who is asking for cases.
#[derive(Debug, Clone)]
pub enum Viewer {
    Applicant(Session),
    Prosecutor(ProsecutorSession),
}

impl Viewer {
    /// The session's page tag (`routes::page_tag`), an applicant's or a
    /// prosecutor's.
    pub fn page_tag(&self) -> &str {
        match self {
            Viewer::Applicant(s) => &s.tag,
            Viewer::Prosecutor(p) => &p.tag,
        }
    }

    /// Every queryable case this viewer may see, in key order.
    pub fn cases(&self, snap: &Snap) -> Result<Vec<CaseRow>, live::Error> {
        match self {
            Viewer::Applicant(s) => snap.cases_of(&s.email),
            Viewer::Prosecutor(p) => snap.cases_of_prosecutor(&p.account),
        }
    }

    /// The viewer's cases that are no longer queryable (an applicant's
    /// grants; a prosecutor's list has none).
    pub fn gone(&self, snap: &Snap) -> Result<Vec<CaseRow>, live::Error> {
        match self {
            Viewer::Applicant(s) => snap.gone_of(&s.email),
            Viewer::Prosecutor(_) => Ok(Vec::new()),
        }
    }

    /// One of the viewer's cases that is no longer queryable, if `case`
    /// is one (an applicant's grant; a prosecutor's list has none).
    pub fn gone_case(&self, snap: &Snap, case: &CaseRef) -> Result<Option<CaseRow>, live::Error> {
        match self {
            Viewer::Applicant(s) => snap.gone_case_of(&s.email, case),
            Viewer::Prosecutor(_) => Ok(None),
        }
    }

    /// Ends the viewer's session: false (logged) when the database did not
    /// take it.
    pub fn end(&self, app: &App) -> bool {
        match self {
            Viewer::Applicant(s) => crate::routes::accounts::end(app, s),
            Viewer::Prosecutor(p) => end(app, p),
        }
    }

    /// One case, if this viewer may see it.
    pub fn case(&self, snap: &Snap, case: &CaseRef) -> Result<Option<CaseRow>, live::Error> {
        match self {
            Viewer::Applicant(s) => snap.case_of(&s.email, case),
            Viewer::Prosecutor(p) => snap.case_of_prosecutor(&p.account, case),
        }
    }

    /// Records a case view (`case_views` or `prosecutor_case_views`).
    pub fn viewed(&self, app: &App, case: &CaseRef) {
        let (case, at) = (case.id(), Utc::now());
        app.record(match self {
            Viewer::Applicant(s) => Record::View {
                account_id: s.account_id,
                case,
                at,
            },
            Viewer::Prosecutor(p) => Record::ProsecutorView {
                prosecutor_id: p.prosecutor_id,
                case,
                at,
            },
        });
    }

    /// The base layout's context: the header names the viewer.
    pub fn ctx(&self, app: &App, title: &str) -> Ctx {
        match self {
            Viewer::Applicant(s) => crate::routes::ctx(app, title, Some(s), String::new()),
            Viewer::Prosecutor(p) => prosecutor_ctx(app, title, p),
        }
    }
}

/// The layout's context for a prosecutor's page: the applicants' one
/// (`routes::ctx`), the header naming the prosecutor's account.
pub fn prosecutor_ctx(app: &App, title: &str, p: &ProsecutorSession) -> Ctx {
    let mut c = crate::routes::ctx(app, title, None, p.csrf.clone());
    c.user = Some(format!("{}（檢察官）", p.account));
    crate::routes::signed_in_since(&mut c, app, p.created, &p.tag);
    c
}

/// The browser's prosecutor session, if its cookie names one; 503 if the
/// sessions cannot be read.
pub fn browser_prosecutor(app: &App, req: &Req) -> Result<Option<ProsecutorSession>, Failure> {
    match req.cookie(&app.cookie_name("sid")) {
        Some(id) => seen(app, app.prosecutors.get(id, Kind::Browser)),
        None => Ok(None),
    }
}

/// A prosecutor's session as read, its `last_seen_at` written back when
/// due.
fn seen(
    app: &App,
    read: rusqlite::Result<Option<(ProsecutorSession, bool)>>,
) -> Result<Option<ProsecutorSession>, Failure> {
    let Some((s, persist)) = read.map_err(Failure::unavailable)? else {
        return Ok(None);
    };
    if persist {
        app.record(Record::Seen {
            hash: s.hash,
            at: s.last_seen,
        });
    }
    Ok(Some(s))
}

/// The browser's prosecutor session and its form, if the form repeats the
/// session's anti-forgery token.
pub fn prosecutor_form(app: &App, req: &Req) -> Result<(ProsecutorSession, Form), Failure> {
    let p = browser_prosecutor(app, req)?.ok_or(Failure::Unauthorised)?;
    let form = req.form();
    if !form.get("csrf").is_some_and(|c| same(c, &p.csrf)) {
        return Err(Failure::Forbidden);
    }
    Ok((p, form))
}

/// The browser's viewer: a prosecutor's session or an applicant's.
pub fn browser_viewer(app: &App, req: &Req) -> Result<Option<Viewer>, Failure> {
    Ok(match browser_prosecutor(app, req)? {
        Some(p) => Some(Viewer::Prosecutor(p)),
        None => browser_session(app, req)?.map(Viewer::Applicant),
    })
}

/// Ends the session this browser had, an applicant's or a prosecutor's:
/// someone else is signing in at it (a prosecutor through the sign-on,
/// an applicant with a password), and neither a refusal page nor the new
/// cookie must leave the last person's session behind it. (One that
/// cannot be read idles out.) An applicant's login ended only an
/// applicant's (the security review of 2026-12-07).
pub fn end_browser_sessions(app: &App, req: &Req) {
    if let Ok(Some(old)) = browser_prosecutor(app, req) {
        end(app, &old);
    }
    if let Ok(Some(old)) = browser_session(app, req) {
        crate::routes::accounts::end(app, &old);
    }
}

/// Runs `f` for a signed-in browser; anyone else is sent to the login page.
pub fn with_viewer(app: &App, req: &Req, f: impl FnOnce(Viewer) -> Answer) -> Answer {
    match browser_viewer(app, req)? {
        Some(v) => f(v),
        None => Err(Failure::Unauthorised),
    }
}

/// Runs `f` for a browser signed in as a prosecutor.
pub fn with_prosecutor(
    app: &App,
    req: &Req,
    f: impl FnOnce(ProsecutorSession) -> Answer,
) -> Answer {
    match browser_prosecutor(app, req)? {
        Some(p) => f(p),
        None => Err(Failure::Unauthorised),
    }
}

/// The prosecutor an API bearer token names, if any; 503 if the sessions
/// cannot be read.
pub fn api_prosecutor(app: &App, req: &Req) -> Result<Option<ProsecutorSession>, Failure> {
    match req.bearer() {
        Some(token) => seen(app, app.prosecutors.get(token, Kind::Api)),
        None => Ok(None),
    }
}

/// Ends a prosecutor's session: false (logged) when the database did not
/// take it, and the session lives on.
pub fn end(app: &App, p: &ProsecutorSession) -> bool {
    let ended = app
        .prosecutors
        .end(&app.accounts.lock().expect("accounts"), &p.hash);
    ended
        .inspect_err(|e| tracing::error!("ending a prosecutor's session: {e}"))
        .is_ok()
}
