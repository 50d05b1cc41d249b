//! The JSON API for phone apps, `/api/v1` (described in
//! `query-server/openapi.yaml`). The same rules as the pages: a captcha
//! and throttling at login, the same authorisation, the same 404 for a
//! case that does not exist and one not granted. Sessions are bearer
//! tokens (no cookies, so no CSRF); bodies are API types, converted by
//! hand from snapshot rows.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::http::{Method, StatusCode};

use schemas::date::{roc, roc_minute};
use schemas::text::clean;

use crate::app::App;
use crate::auth::{self, Login};
use crate::captcha::Binding;
use crate::changes;
use crate::encoding::{revalidated, REVALIDATE};
use crate::failure::{Answer, Failure, Limit};
use crate::http::{Req, Resp};
use crate::live::{CaseRow, EntryRow};
use crate::prosecutors::{self, Viewer};
use crate::routes::cases::{case_path, parse_case};
use crate::sessions::{Kind, Session};
use store::accounts::Record;

/// The API's description, served at `/api/v1/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../openapi.yaml");

/// Every error body: a stable code for programs, a message for people.
#[derive(Serialize)]
pub struct Error {
    pub error: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Captcha {
    id: String,
    image_url: String,
    /// The same six digits read aloud in Mandarin (WAV).
    audio_url: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    captcha_id: String,
    captcha: String,
    /// The device token the app's last login got (`crate::device`).
    #[serde(default)]
    device: Option<String>,
}

#[derive(Serialize)]
struct SessionBody {
    token: String,
    token_type: &'static str,
    idle_timeout: i64,
    expires_at: String,
    /// The app's device token, to send with its next login: what a
    /// browser's device cookie is (an app keeps no cookies).
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_expires_at: Option<String>,
}

#[derive(Serialize)]
struct CaseSummary {
    court: String,
    court_name: String,
    category: String,
    year: i64,
    word: String,
    number: i64,
    number_text: String,
    /// The division's name alone (`忠`, however the court wrote it).
    division: String,
    status: String,
    latest_entry_date: Option<String>,
    /// The day of the case's latest change (ROC): an entry's 異動時間 (an
    /// older entry rewritten shows here, not in `latest_entry_date`) or
    /// its status's date, whichever is later; what `?sort=recent` orders by.
    latest_change: Option<String>,
    /// The same, `YYYY-MM-DD`.
    latest_change_iso: Option<String>,
    /// The last day the case can be queried (ROC), when its status counts
    /// down (上訴, 抗告, 移送執行, 歸檔): what the pages call 查詢期限.
    last_queryable_date: Option<String>,
    /// The same, `YYYY-MM-DD`, to compare with today.
    last_queryable_date_iso: Option<String>,
    /// The export date of the court's data (carried-over courts differ).
    as_of: Option<String>,
    /// Its court's files did not come usable tonight: yesterday's data.
    carried_over: bool,
    url: String,
}

#[derive(Serialize)]
struct CaseList {
    snapshot_date: String,
    cases: Vec<CaseSummary>,
    /// With no case to show, the address's cases that left the queryable
    /// range, and since when (as the page says them); else empty.
    gone: Vec<GoneCase>,
}

/// A case of the address's that is no longer queryable.
#[derive(Serialize)]
struct GoneCase {
    court: String,
    court_name: String,
    category: String,
    /// Its key, as a case summary's: with `url`, an app asks for it by
    /// its path (the 410) without reading `number_text`.
    year: u32,
    word: String,
    number: u32,
    number_text: String,
    status: String,
    status_date: Option<String>,
    /// The last day it could be queried (ROC), when its status counted
    /// down.
    last_queryable_date: Option<String>,
    url: String,
}

impl GoneCase {
    fn from_row(r: &CaseRow) -> GoneCase {
        GoneCase {
            court: r.case.court.clone(),
            court_name: clean(&r.court_name),
            category: r.case.key.category.clone(),
            year: r.case.key.year,
            word: clean(&r.case.key.word),
            number: r.case.key.number,
            number_text: clean(&r.case.key.number_text()),
            status: clean(&r.status),
            status_date: r.status_date.map(roc),
            last_queryable_date: crate::pages::last_day(r).map(roc),
            url: format!("/api/v1{}", case_path(&r.case)),
        }
    }
}

/// A case of the reader's asked for that is no longer queryable (410).
#[derive(Serialize)]
struct Gone {
    error: &'static str,
    message: String,
    case: GoneCase,
}

#[derive(Serialize)]
struct Entry {
    posted: String,
    posted_iso: String,
    text: String,
    /// The day it was last changed (ROC), when after its own day: a
    /// clerk rewrote it (or wrote it late), as the website's 異動 says.
    revised: Option<String>,
    /// The same, `YYYY-MM-DD`.
    revised_iso: Option<String>,
}

impl Entry {
    fn from_row(e: &EntryRow) -> Entry {
        let revised = changes::entry_revised(e);
        Entry {
            posted: roc(e.posted),
            posted_iso: iso(e.posted),
            text: clean(&e.text),
            revised: revised.map(roc),
            revised_iso: revised.map(iso),
        }
    }
}

/// A day as `YYYY-MM-DD`, the ISO twin of a ROC date.
fn iso(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[derive(Serialize)]
struct CaseBody {
    #[serde(flatten)]
    summary: CaseSummary,
    entries: Vec<Entry>,
    /// Every hearing of the case as it now stands (past ones too).
    hearings: Vec<HearingBody>,
}

/// A hearing, as it now stands. `starts`: ISO 8601 with the +08:00 offset.
#[derive(Serialize)]
struct HearingBody {
    uid: String,
    sequence: u32,
    starts: String,
    /// `115/12/01 10:30`
    starts_roc: String,
    courtroom: Option<String>,
    kind: String,
    /// scheduled, moved, cancelled, uncertain (openapi.yaml says what
    /// each is, and what the case page shows for it).
    state: &'static str,
    /// The website's calendar file of this hearing (a browser's session;
    /// what v1 always said).
    ics_url: String,
    /// The same file for the app, with its bearer token.
    calendar_url: String,
}

#[derive(Serialize)]
struct UpcomingBody {
    #[serde(flatten)]
    hearing: HearingBody,
    /// The case, as the case list names it (115年度訴字第100號 alone is
    /// the same for 民事 and 刑事).
    court: String,
    court_name: String,
    category: String,
    year: u32,
    word: String,
    number: u32,
    number_text: String,
    case_url: String,
    /// The export date of the court's data, as the case's `as_of`.
    as_of: Option<String>,
    /// The court's data did not arrive: this is what it last said.
    carried_over: bool,
}

#[derive(Serialize)]
struct HearingList {
    snapshot_date: String,
    /// Said with every list of hearings: the summons governs.
    notice: &'static str,
    hearings: Vec<UpcomingBody>,
}

fn hearing_body(case: &schemas::CaseRef, h: &crate::live::HearingRow) -> HearingBody {
    HearingBody {
        uid: h.uid.clone(),
        sequence: h.sequence,
        starts: format!("{}+08:00", h.at.format("%Y-%m-%dT%H:%M:%S")),
        starts_roc: roc_minute(h.at),
        courtroom: h.courtroom.as_deref().map(clean),
        kind: h.kind.clone(),
        state: h.state.as_str(),
        ics_url: format!("{}/hearings/{}.ics", case_path(case), h.uid),
        calendar_url: format!("/api/v1{}/hearings/{}.ics", case_path(case), h.uid),
    }
}

fn summary(r: &CaseRow) -> CaseSummary {
    let (case, key) = (&r.case, &r.case.key);
    CaseSummary {
        court: case.court.clone(),
        court_name: clean(&r.court_name),
        category: key.category.clone(),
        year: key.year.into(),
        word: clean(&key.word),
        number: key.number.into(),
        number_text: clean(&key.number_text()),
        division: schemas::text::division_name(&r.division),
        status: clean(&r.status),
        latest_entry_date: r.entries.first().map(|e| roc(e.posted)),
        latest_change: changes::latest_change_day(r).map(roc),
        latest_change_iso: changes::latest_change_day(r).map(iso),
        last_queryable_date: crate::pages::last_day(r).map(roc),
        last_queryable_date_iso: crate::pages::last_day(r).map(iso),
        as_of: r.as_of.map(roc),
        carried_over: r.carried_over,
        url: format!("/api/v1{}", case_path(case)),
    }
}

/// The session a bearer token names, or 401.
fn session(app: &App, req: &Req) -> Result<Session, Failure> {
    let token = req.bearer().ok_or(Failure::Unauthorised)?;
    let (s, persist) = app
        .sessions
        .get(token, Kind::Api)
        .map_err(Failure::unavailable)?
        .ok_or(Failure::Unauthorised)?;
    if persist {
        app.record(Record::Seen {
            hash: s.hash,
            at: s.last_seen,
        });
    }
    Ok(s)
}

/// What a request to the API asks for.
#[derive(Clone, Copy)]
enum Op {
    Spec,
    Captcha,
    Login,
    Logout,
    Nonce,
    Token,
    Cases,
    Hearings,
    Case,
    CaseHearing,
}

/// A method an operation is asked for with; `Read` is GET or HEAD (HEAD
/// answered as GET, hyper sending no body, as the website does).
#[derive(Clone, Copy, PartialEq)]
enum Verb {
    Read,
    Post,
    Delete,
}

impl Verb {
    fn of(req: &Req) -> Option<Verb> {
        match req.method {
            Method::GET | Method::HEAD => Some(Verb::Read),
            Method::POST => Some(Verb::Post),
            Method::DELETE => Some(Verb::Delete),
            _ => None,
        }
    }

    fn allow(self) -> &'static str {
        match self {
            Verb::Read => "GET, HEAD",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }
}

/// The API's paths, each with its route name and what each method does
/// there: the one table of both dispatch and a 405's `Allow`
/// (`openapi::a_method_a_route_does_not_take_is_405_with_the_methods_it_takes`
/// holds it to openapi.yaml's operations).
fn path(s: &[&str]) -> Option<(&'static str, &'static [(Verb, Op)])> {
    use Verb::*;
    Some(match s {
        ["openapi.yaml"] => ("/api/v1/openapi.yaml", &[(Read, Op::Spec)]),
        ["captcha"] => ("/api/v1/captcha", &[(Post, Op::Captcha)]),
        ["session"] => (
            "/api/v1/session",
            &[(Post, Op::Login), (Delete, Op::Logout)],
        ),
        ["sso", "nonce"] => ("/api/v1/sso/nonce", &[(Post, Op::Nonce)]),
        ["sso", "token"] => ("/api/v1/sso/token", &[(Post, Op::Token)]),
        ["cases"] => ("/api/v1/cases", &[(Read, Op::Cases)]),
        ["hearings"] => ("/api/v1/hearings", &[(Read, Op::Hearings)]),
        ["cases", _, _, _, _, _] => ("/api/v1/cases/{key}", &[(Read, Op::Case)]),
        ["cases", _, _, _, _, _, "hearings", _] => {
            ("/api/v1/cases/{key}/hearings", &[(Read, Op::CaseHearing)])
        }
        _ => return None,
    })
}

/// Dispatch within `/api/v1`; every answer of a route carries its name,
/// failures too. A path not in `path` is 404, a method its path does not
/// take 405 with the methods it does.
pub async fn route(app: &Arc<App>, req: &Req, s: &[&str], seg: &[String]) -> Resp {
    let Some((name, ops)) = path(s) else {
        return Failure::NotFound.json(app, req);
    };
    let verb = Verb::of(req);
    let Some(&(_, op)) = ops.iter().find(|(v, _)| Some(*v) == verb) else {
        let allow: Vec<&str> = ops.iter().map(|(v, _)| v.allow()).collect();
        return Failure::MethodNotAllowed(allow.join(", ")).json(app, req);
    };
    let answer = match op {
        Op::Spec => {
            return Resp::new(StatusCode::OK, "application/yaml", OPENAPI.into()).route(name)
        }
        Op::Captcha => captcha(app, req),
        Op::Login => login(app, req).await,
        Op::Logout => logout(app, req),
        Op::Nonce => prosecutors::api::nonce(app),
        Op::Token => prosecutors::api::token(app, req).await,
        Op::Cases => cases(app, req),
        Op::Hearings => hearings(app, req),
        Op::Case => case(app, req, &seg[1..]),
        Op::CaseHearing => viewer(app, req)
            .and_then(|v| crate::routes::hearings::case_hearing(app, &v, &seg[1..6], &seg[7])),
    };
    answer.unwrap_or_else(|f| f.json(app, req)).route(name)
}

/// A captcha bound to the client's address (an app has no pre-login
/// cookie), within the address's creation limit.
fn captcha(app: &App, req: &Req) -> Answer {
    let c = app
        .captchas
        .issue(Binding::Api(req.ip), req.ip)
        .map_err(|l| Failure::Throttled(l.retry_after, Limit::Captchas))?;
    Ok(Resp::json(
        StatusCode::CREATED,
        &Captcha {
            image_url: format!("/captcha/{}.png", c.id),
            audio_url: format!("/captcha/{}.wav", c.id),
            id: c.id,
            expires_in: c.expires_in,
        },
    ))
}

async fn login(app: &Arc<App>, req: &Req) -> Answer {
    let body = req.json::<LoginBody>().ok_or(Failure::BadRequest {
        code: "bad_request",
        message: "需要 JSON：email、password、captcha_id、captcha。",
    })?;
    match auth::login(
        app,
        req.ip,
        &body.email,
        body.password,
        auth::Answered {
            id: &body.captcha_id,
            typed: &body.captcha,
            binding: Binding::Api(req.ip),
        },
        Kind::Api,
        body.device.as_deref(),
    )
    .await
    {
        Login::Ok {
            id,
            session,
            device,
        } => Ok(Resp::json(
            StatusCode::CREATED,
            &SessionBody {
                token: id,
                token_type: "Bearer",
                idle_timeout: app.sessions.idle.num_seconds(),
                expires_at: (session.created + app.sessions.max).to_rfc3339(),
                device_expires_at: device.is_some().then(|| {
                    let age =
                        chrono::Duration::seconds(app.cfg.server.device_cookie.as_secs() as i64);
                    (session.created + age).to_rfc3339()
                }),
                device,
            },
        )),
        Login::BadCaptcha => Err(Failure::BadRequest {
            code: "bad_captcha",
            message: "驗證碼不正確或已過期，請取得新的驗證碼。",
        }),
        Login::BadCredentials => Err(Failure::BadCredentials),
        Login::Throttled(wait) => Err(Failure::Throttled(wait, Limit::Attempts)),
        Login::Busy(wait) => Err(Failure::Throttled(wait, Limit::Busy)),
        Login::Unavailable => Err(Failure::Unavailable(None)),
    }
}

fn logout(app: &App, req: &Req) -> Answer {
    // A sign-out the database did not take leaves the token working: 503,
    // to try again.
    if let Some(p) = prosecutors::api_prosecutor(app, req)? {
        return match prosecutors::end(app, &p) {
            true => Ok(Resp::no_content()),
            false => Err(Failure::Unavailable(None)),
        };
    }
    let s = session(app, req)?;
    app.sessions
        .end(&app.accounts.lock().expect("accounts"), &s.hash)
        .map_err(Failure::unavailable)?;
    Ok(Resp::no_content())
}

/// Who a bearer token names: a prosecutor's API session or an applicant's.
fn viewer(app: &App, req: &Req) -> Result<Viewer, Failure> {
    match prosecutors::api_prosecutor(app, req)? {
        Some(p) => Ok(Viewer::Prosecutor(p)),
        None => session(app, req).map(Viewer::Applicant),
    }
}

fn cases(app: &App, req: &Req) -> Answer {
    let v = viewer(app, req)?;
    let live = app.live.get().ok_or(Failure::Unavailable(None))?;
    // In the order `?sort=` asks for, found by `?q=`, as the page's list
    // (all of them: an app pages as it likes).
    let (rows, _, search) = crate::routes::cases::listed(&live, &v, req)?;
    // As the page: with none to show, those that left, so that an app can
    // say why the list is empty (not for a search that found none).
    let gone = if rows.is_empty() && search.is_none() {
        v.gone(&live)?.iter().map(GoneCase::from_row).collect()
    } else {
        Vec::new()
    };
    let list = Resp::json(
        StatusCode::OK,
        &CaseList {
            snapshot_date: roc(live.date),
            cases: rows.iter().map(summary).collect(),
            gone,
        },
    );
    Ok(revalidated(req, list, REVALIDATE))
}

fn case(app: &App, req: &Req, segments: &[String]) -> Answer {
    let v = viewer(app, req)?;
    let case = parse_case(segments).ok_or(Failure::NotFound)?;
    let live = app.live.get().ok_or(Failure::Unavailable(None))?;
    let Some(r) = v.case(&live, &case)? else {
        // One of the reader's that left the queryable range, as the page
        // says it.
        let gone = v.gone_case(&live, &case)?.ok_or(Failure::NotFound)?;
        return Ok(Resp::json(
            StatusCode::GONE,
            &Gone {
                error: "gone",
                message: format!("這個案件已不再提供查詢。{}", crate::pages::GONE_RULE),
                case: GoneCase::from_row(&gone),
            },
        ));
    };
    let rows = live.hearings_of(&r)?;
    let hearings = crate::routes::hearings::current(&rows)
        .into_iter()
        .map(|h| hearing_body(&case, h))
        .collect();
    v.viewed(app, &case);
    let body = Resp::json(
        StatusCode::OK,
        &CaseBody {
            summary: summary(&r),
            entries: r.entries.iter().map(Entry::from_row).collect(),
            hearings,
        },
    );
    Ok(revalidated(req, body, REVALIDATE))
}

/// `GET /api/v1/hearings`: the hearings of the user's cases from today
/// (Taipei) on, in time order, as they now stand (cancelled and moved ones
/// say so).
fn hearings(app: &App, req: &Req) -> Answer {
    let v = viewer(app, req)?;
    let today = crate::routes::hearings::taipei_now().date();
    let (live, rows) = crate::routes::hearings::upcoming(app, &v, today)?;
    let list = Resp::json(
        StatusCode::OK,
        &HearingList {
            snapshot_date: roc(live.date),
            notice: schemas::calendar::NOTICE,
            hearings: rows
                .iter()
                .map(|u| UpcomingBody {
                    hearing: hearing_body(&u.case, &u.hearing),
                    court: u.case.court.clone(),
                    court_name: clean(&u.court_name),
                    category: u.case.key.category.clone(),
                    year: u.case.key.year,
                    word: clean(&u.case.key.word),
                    number: u.case.key.number,
                    number_text: clean(&u.case.key.number_text()),
                    case_url: format!("/api/v1{}", case_path(&u.case)),
                    as_of: u.as_of.map(roc),
                    carried_over: u.carried_over,
                })
                .collect(),
        },
    );
    Ok(revalidated(req, list, REVALIDATE))
}
