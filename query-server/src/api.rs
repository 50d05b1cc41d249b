//! The JSON API for phone apps, `/api/v1` (described in
//! `query-server/openapi.yaml`). The same rules as the pages: a captcha
//! and throttling at login, the same authorisation, the same 404 for a
//! case that does not exist and one not granted. Sessions are bearer
//! tokens (no cookies, so no CSRF); bodies are API types, converted by
//! hand from snapshot rows.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use warp::http::{Method, StatusCode};

use schemas::date::roc;
use schemas::text::clean;

use crate::app::App;
use crate::auth::{self, Login};
use crate::http::{Req, Resp};
use crate::live::{CaseKey, CaseRow};
use crate::routes::OPENAPI;
use crate::sessions::{Kind, Session};
use store::accounts::Record;

#[derive(Serialize)]
pub struct Error {
    pub error: &'static str,
    pub message: String,
}

fn error(status: StatusCode, code: &'static str, message: &str) -> Resp {
    Resp::json(
        status,
        &Error {
            error: code,
            message: message.to_string(),
        },
    )
}

pub fn not_found() -> Resp {
    error(StatusCode::NOT_FOUND, "not_found", "找不到這個案件或資源。").route("/api/v1 not found")
}

#[derive(Serialize)]
struct Captcha {
    id: String,
    image_url: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    captcha_id: String,
    captcha: String,
}

#[derive(Serialize)]
struct SessionBody {
    token: String,
    token_type: &'static str,
    idle_timeout: i64,
    expires_at: String,
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
    division: String,
    status: String,
    latest_entry_date: Option<String>,
    url: String,
}

#[derive(Serialize)]
struct CaseList {
    snapshot_date: String,
    cases: Vec<CaseSummary>,
}

#[derive(Serialize)]
struct Entry {
    posted: String,
    posted_iso: String,
    text: String,
}

#[derive(Serialize)]
struct CaseBody {
    #[serde(flatten)]
    summary: CaseSummary,
    /// The export date of the court's data (carried-over courts differ).
    as_of: Option<String>,
    carried_over: bool,
    entries: Vec<Entry>,
}

fn summary(r: &CaseRow) -> CaseSummary {
    CaseSummary {
        court: r.key.court.clone(),
        court_name: clean(&r.court_name),
        category: r.key.category.clone(),
        year: r.key.year,
        word: clean(&r.key.word),
        number: r.key.number,
        number_text: clean(&r.key.number_text()),
        division: clean(&r.division),
        status: clean(&r.status),
        latest_entry_date: r.entries.first().map(|(d, _)| roc(*d)),
        url: format!("/api/v1{}", r.key.path()),
    }
}

fn session(app: &App, req: &Req) -> Option<Session> {
    let (s, persist) = app.sessions.get(req.bearer()?, Kind::Api)?;
    if persist {
        app.record(Record::Seen {
            hash: s.hash,
            at: s.last_seen,
        });
    }
    Some(s)
}

fn unauthorised() -> Resp {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "unauthorised",
        "請先登入（Bearer token）。",
    );
    r.header("www-authenticate", "Bearer");
    r
}

pub async fn route(app: &Arc<App>, req: &Req, s: &[&str], seg: &[String]) -> Resp {
    let m = &req.method;
    match s {
        ["openapi.yaml"] if m == Method::GET => {
            Resp::new(StatusCode::OK, "application/yaml", OPENAPI.into())
                .route("/api/v1/openapi.yaml")
        }
        ["captcha"] if m == Method::POST => {
            let id = app.captchas.create();
            Resp::json(
                StatusCode::CREATED,
                &Captcha {
                    image_url: format!("/captcha/{id}.png"),
                    id,
                    expires_in: app.cfg.server.captcha_ttl.as_secs(),
                },
            )
            .route("/api/v1/captcha")
        }
        ["session"] if m == Method::POST => login(app, req).await.route("/api/v1/session"),
        ["session"] if m == Method::DELETE => if let Some(s) = session(app, req) {
            let _ = app
                .sessions
                .end(&app.accounts.lock().expect("accounts"), &s.hash);
            Resp::new(StatusCode::NO_CONTENT, "application/json", Vec::new())
        } else {
            unauthorised()
        }
        .route("/api/v1/session"),
        ["cases"] if m == Method::GET => cases(app, req).route("/api/v1/cases"),
        ["cases", _, _, _, _, _] if m == Method::GET => {
            case(app, req, &seg[1..]).route("/api/v1/cases/{key}")
        }
        _ => not_found(),
    }
}

async fn login(app: &Arc<App>, req: &Req) -> Resp {
    let Some(body) = req.json::<LoginBody>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "需要 JSON：email、password、captcha_id、captcha。",
        );
    };
    match auth::login(
        app,
        req.ip,
        &body.email,
        body.password,
        &body.captcha_id,
        &body.captcha,
        Kind::Api,
    )
    .await
    {
        Login::Ok { id, session } => Resp::json(
            StatusCode::CREATED,
            &SessionBody {
                token: id,
                token_type: "Bearer",
                idle_timeout: app.sessions.idle.num_seconds(),
                expires_at: (session.created + app.sessions.max).to_rfc3339(),
            },
        ),
        Login::BadCaptcha => error(
            StatusCode::BAD_REQUEST,
            "bad_captcha",
            "驗證碼不正確或已過期，請取得新的驗證碼。",
        ),
        Login::BadCredentials => error(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "帳號或密碼不正確。",
        ),
        Login::Throttled(wait) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                &format!("嘗試次數過多，請於 {wait} 秒後再試。"),
            );
            r.header("retry-after", &wait.to_string());
            r
        }
    }
}

fn cases(app: &App, req: &Req) -> Resp {
    let Some(s) = session(app, req) else {
        return unauthorised();
    };
    let Some(live) = app.live.get() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "暫時無法提供服務。",
        );
    };
    match live.cases_of(&s.email) {
        Ok(rows) => Resp::json(
            StatusCode::OK,
            &CaseList {
                snapshot_date: roc(live.date),
                cases: rows.iter().map(summary).collect(),
            },
        ),
        Err(e) => {
            tracing::error!("api cases: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "暫時無法提供服務。",
            )
        }
    }
}

fn case(app: &App, req: &Req, key: &[String]) -> Resp {
    let Some(s) = session(app, req) else {
        return unauthorised();
    };
    let Some(key) = CaseKey::from_segments(key) else {
        return not_found();
    };
    let Some(live) = app.live.get() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "暫時無法提供服務。",
        );
    };
    match live.case_of(&s.email, &key) {
        Ok(Some(r)) => {
            app.record(Record::View {
                account_id: s.account_id,
                case: key.id(),
                at: Utc::now(),
            });
            Resp::json(
                StatusCode::OK,
                &CaseBody {
                    summary: summary(&r),
                    as_of: r.as_of.map(roc),
                    carried_over: r.carried_over,
                    entries: r
                        .entries
                        .iter()
                        .map(|(d, t)| Entry {
                            posted: roc(*d),
                            posted_iso: d.format("%Y-%m-%d").to_string(),
                            text: clean(t),
                        })
                        .collect(),
                },
            )
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!("api case: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "暫時無法提供服務。",
            )
        }
    }
}
