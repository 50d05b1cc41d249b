//! Why a request failed, and how that is answered. Every handler returns
//! an `Answer`; a `Failure` is rendered here: by the API's dispatcher as
//! JSON `{error, message}` with the codes `openapi.yaml` lists, by the
//! website's as an HTML page in the site's layout, and, for a request no
//! route took, by its path (`/api/…` or not). A cause (a query that
//! failed, a template that did not render) is logged here, never shown.

use std::error::Error as StdError;

use warp::http::{Method, StatusCode};

use crate::api;
use crate::app::App;
use crate::http::{Req, Resp};
use crate::pages;
use crate::routes::{ctx, window};

/// What went wrong underneath: logged, never shown.
pub type Cause = Box<dyn StdError + Send + Sync>;

/// A handler's answer: a response, or a failure to render by route.
pub type Answer = Result<Resp, Failure>;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No such page, or a case that is not the user's: the same answer.
    #[error("not found")]
    NotFound,
    /// An API route that does not take the request's method: the methods
    /// it takes (the `Allow` header). The website answers it as
    /// `NotFound`.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// The nightly maintenance window, with the seconds until it ends.
    #[error("maintenance window, {0} s left")]
    Maintenance(u64),
    /// No snapshot is live (`None`), or reading a database failed.
    #[error("unavailable")]
    Unavailable(Option<Cause>),
    /// A change the accounts database could not record (a full disk, a
    /// lock): 503, and what did not change, in words (`SESSIONS_NOT_ENDED`, …),
    /// not "the case data cannot be read".
    #[error("not saved")]
    NotSaved(Cause, &'static str),
    /// A form that does not repeat its anti-forgery token.
    #[error("form without its anti-forgery token")]
    Forbidden,
    /// Not signed in: a page sends the browser to the login page, the API
    /// asks for a bearer token.
    #[error("not signed in")]
    Unauthorised,
    /// An API request that cannot be taken as it is: code and message.
    #[error("bad request: {code}")]
    BadRequest {
        code: &'static str,
        message: &'static str,
    },
    /// A wrong address or password (the same for both).
    #[error("bad credentials")]
    BadCredentials,
    /// Refused for a while (429): the seconds to wait, and which limit.
    #[error("throttled for {0} s")]
    Throttled(u64, Limit),
    /// A fault of the server's own (a template, the system's randomness).
    #[error("internal: {0}")]
    Internal(Cause),
}

impl Failure {
    /// A database could not be read: the site is unavailable for now.
    pub fn unavailable(cause: impl Into<Cause>) -> Failure {
        Failure::Unavailable(Some(cause.into()))
    }

    /// A change could not be recorded: `words` says what did not change.
    pub fn not_saved<E: Into<Cause>>(words: &'static str) -> impl FnOnce(E) -> Failure {
        move |e| Failure::NotSaved(e.into(), words)
    }
}

/// What a change the database could not record left as it was: the other
/// devices' sessions.
pub const SESSIONS_NOT_ENDED: &str =
    "系統暫時無法登出其他裝置，其他裝置仍在登入狀態。請稍後再試一次。";
/// A calendar feed's URL.
pub const FEED_NOT_CHANGED: &str = "系統暫時無法變更訂閱網址，原訂閱網址仍然有效。請稍後再試一次。";
/// A setting (digests, reminders).
pub const SETTING_NOT_CHANGED: &str = "系統暫時無法儲存設定，設定維持原樣。請稍後再試一次。";
/// An unsubscribe link's mailing.
pub const STILL_SUBSCRIBED: &str =
    "系統暫時無法取消通知，通知仍會寄出。請稍後再以信中的連結再試一次。";

impl From<crate::live::Error> for Failure {
    fn from(e: crate::live::Error) -> Failure {
        Failure::unavailable(e)
    }
}

impl From<askama::Error> for Failure {
    fn from(e: askama::Error) -> Failure {
        Failure::Internal(Box::new(e))
    }
}

/// The only I/O a handler does itself is drawing random bytes (tokens,
/// captchas); without randomness the server cannot go on safely.
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Internal(Box::new(e))
    }
}

const INTERNAL: &str = "系統發生錯誤，請稍後再試。";

/// Retry-After (seconds) of a 503 for no data yet or a database fault,
/// page and API alike.
pub const UNAVAILABLE_RETRY: &str = "60";
const UNAVAILABLE_PAGE: &str = "系統暫時無法讀取案件資料，請稍後再試。";

/// A wait as people read it: seconds under a minute, else minutes rounded
/// up (from an hour, hours and minutes), so that nobody is told a time
/// before which they would still be refused. Retry-After stays in seconds.
pub fn wait_words(secs: u64) -> String {
    if secs < 60 {
        return format!("{secs} 秒");
    }
    let minutes = secs.div_ceil(60);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} 分鐘"),
        (h, 0) => format!("{h} 小時"),
        (h, m) => format!("{h} 小時 {m} 分鐘"),
    }
}

/// Too many failed attempts (logins, a password's reset): what to do.
pub fn too_many_attempts(wait: u64) -> String {
    format!("嘗試次數過多，請於 {}後再試。", wait_words(wait))
}

/// The hashing threads are full: a login (nothing attempted, nothing
/// counted) is to be sent again.
pub fn too_busy(wait: u64) -> String {
    format!("目前登入的人數過多，請於 {}後再試。", wait_words(wait))
}

/// What a 429 refused, so that it says so: a client told "too many
/// attempts" when it attempted nothing looks for a fault of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed attempts (logins, a link's password): the throttle's.
    Attempts,
    /// Captchas fetched from one address.
    Captchas,
    /// The password-hashing threads are full: nothing was attempted.
    Busy,
    /// A calendar feed read too often.
    Feed,
    /// Single sign-on answers from one client address, each of which asks
    /// the Ministry's provider, past their limit.
    SignOns,
}

impl Limit {
    /// The page's title, and what to do.
    fn words(self, wait: u64) -> (&'static str, String) {
        let when = wait_words(wait);
        match self {
            Limit::Attempts => ("嘗試次數過多", too_many_attempts(wait)),
            Limit::Captchas => (
                "驗證碼索取次數過多",
                format!("驗證碼索取次數過多，請於 {when}後再試。"),
            ),
            Limit::Busy => ("目前使用人數過多", too_busy(wait)),
            Limit::Feed => (
                "行事曆讀取次數過多",
                format!("行事曆讀取次數過多，請於 {when}後再試。"),
            ),
            Limit::SignOns => (
                "登入次數過多",
                format!("從您的網路位址以法務部單一登入的次數過多，請於 {when}後再試。"),
            ),
        }
    }
}

/// A page's words: title, heading, text, and a link to go on.
struct Words {
    title: &'static str,
    heading: &'static str,
    text: String,
    link: Option<(&'static str, &'static str)>,
}

/// A request's path as a log line names it: a calendar feed's token (its
/// only credential) left out, of any path the router takes to the feed
/// (its first segment, decoded, empty ones skipped, as `Req::segments`).
fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    let first = path.split('/').find(|s| !s.is_empty());
    if first.is_some_and(|s| crate::http::percent_decode(s.as_bytes()) == "calendar") {
        "/calendar/<token>.ics".into()
    } else {
        path.into()
    }
}

impl Failure {
    /// The answer to a request no route took (or taken before routing):
    /// JSON under `/api/`, else a page.
    pub fn render(self, app: &App, req: &Req) -> Resp {
        if crate::http::is_api(&req.path) {
            self.json(app, req)
        } else {
            self.page(app, req)
        }
    }

    /// Logs the cause, if there is one; only the log sees it.
    fn log(&self, req: &Req) {
        if let Failure::Unavailable(Some(cause))
        | Failure::Internal(cause)
        | Failure::NotSaved(cause, _) = self
        {
            tracing::error!("{} {}: {cause}", req.method, logged_path(&req.path));
        }
    }

    /// As the API answers: JSON `{error, message}`. The route name is a
    /// default the dispatcher may replace.
    pub fn json(self, app: &App, req: &Req) -> Resp {
        self.log(req);
        // Unauthorised with a token that names no session (any more): the
        // app's user logs in again (RFC 6750's invalid_token).
        let ended = req.bearer().is_some();
        let (status, error, message) = match &self {
            Failure::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "找不到這個案件或資源。".into(),
            ),
            Failure::MethodNotAllowed(allow) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("這個網址只接受 {allow} 請求。"),
            ),
            Failure::Maintenance(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "maintenance",
                format!(
                    "每日 {} 整理資料，{} 恢復服務。",
                    window(app),
                    app.maintenance.end.format("%H:%M")
                ),
            ),
            Failure::NotSaved(_, words) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                (*words).into(),
            ),
            Failure::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "暫時無法提供服務。".into(),
            ),
            Failure::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "這個請求不是從本網站送出。".into(),
            ),
            Failure::Unauthorised if ended => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "登入已逾時或已登出，請重新登入。".into(),
            ),
            Failure::Unauthorised => (
                StatusCode::UNAUTHORIZED,
                "unauthorised",
                "請先登入。".into(),
            ),
            Failure::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, *code, (*message).into())
            }
            Failure::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "帳號或密碼不正確。".into(),
            ),
            Failure::Throttled(wait, limit) => (
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                limit.words(*wait).1,
            ),
            Failure::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                INTERNAL.into(),
            ),
        };
        let mut r = Resp::json(status, &api::Error { error, message });
        match self {
            Failure::NotFound => r = r.route("/api/v1 not found"),
            Failure::MethodNotAllowed(allow) => {
                r.header("allow", &allow);
                r = r.route("/api/v1 not found");
            }
            Failure::Maintenance(left) => {
                r.header("retry-after", &left.to_string());
                r = r.route("maintenance");
            }
            Failure::Unauthorised if ended => {
                r.header("www-authenticate", "Bearer error=\"invalid_token\"");
            }
            // (A wrong password too: RFC 9110 asks every 401 to name its
            // scheme, and some HTTP stacks refuse one that does not.)
            Failure::Unauthorised | Failure::BadCredentials => {
                r.header("www-authenticate", "Bearer");
            }
            Failure::Unavailable(_) | Failure::NotSaved(..) => {
                r.header("retry-after", UNAVAILABLE_RETRY);
            }
            Failure::Throttled(wait, _) => {
                r.header("retry-after", &wait.to_string());
            }
            _ => {}
        }
        r
    }

    /// As the website answers: a page in the site's layout (or, signed
    /// out, the login page). The route name is a default the dispatcher
    /// may replace.
    pub fn page(self, app: &App, req: &Req) -> Resp {
        self.log(req);
        let (status, words) = match &self {
            Failure::Unauthorised => {
                // A form posted from a signed-in page, or a session cookie
                // the server no longer knows: the session has ended.
                let ended = req.method == Method::POST
                    || req.cookie(&app.cookie_name("sid")).is_some();
                // A page asked for while signed out (a case's address from
                // a mail or a bookmark) is where the login goes next.
                // (with its query only the lists', which `safe_next` knows:
                // the cases' order, search and page, 我的庭期's page)
                let listed = req.path == "/cases" || req.path == "/hearings";
                let asked = match listed && !req.query.is_empty() {
                    true => format!("{}?{}", req.path, req.query),
                    false => req.path.clone(),
                };
                let next = (req.method == Method::GET)
                    .then(|| {
                        crate::routes::accounts::safe_next(&asked)
                            .or_else(|| crate::routes::accounts::safe_next(&req.path))
                    })
                    .flatten()
                    // The list is where a login goes anyway.
                    .filter(|p| p != "/cases")
                    .map(|p| format!("next={}", crate::http::encode(&p)));
                let to = match (ended, next) {
                    (true, Some(n)) => format!("/login?m=expired&{n}"),
                    (true, None) => "/login?m=expired".to_string(),
                    (false, Some(n)) => format!("/login?{n}"),
                    (false, None) => "/login".to_string(),
                };
                return Resp::redirect(&to);
            }
            Failure::NotFound | Failure::MethodNotAllowed(_) => (
                StatusCode::NOT_FOUND,
                Words {
                    title: "找不到頁面",
                    heading: "找不到這個頁面",
                    text: "您要找的頁面或案件不存在，或您沒有查詢它的權限。".into(),
                    link: Some(("/cases", "回我的案件")),
                },
            ),
            Failure::Maintenance(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Words {
                    title: "資料整理中",
                    heading: "資料整理中，暫停服務",
                    text: format!(
                        "本系統每日 {} 整理法院資料，將於 {}（臺北時間）恢復服務。造成不便，敬請見諒。",
                        window(app),
                        app.maintenance.end.format("%H:%M")
                    ),
                    link: None,
                },
            ),
            Failure::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Words {
                    title: "暫時無法提供服務",
                    heading: "暫時無法提供服務",
                    text: UNAVAILABLE_PAGE.into(),
                    link: None,
                },
            ),
            Failure::NotSaved(_, words) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Words {
                    title: "錯誤：變更未完成",
                    heading: "變更未完成",
                    text: (*words).into(),
                    link: Some(("/account", "回帳號設定")),
                },
            ),
            Failure::Forbidden => (
                StatusCode::FORBIDDEN,
                Words {
                    title: "表單已失效",
                    heading: "表單已失效",
                    text: "這個表單已過期或不是從本網站送出。請回到上一頁重新整理後再試一次。"
                        .into(),
                    link: Some(("/login", "回登入頁")),
                },
            ),
            Failure::BadRequest { message, .. } => (
                StatusCode::BAD_REQUEST,
                Words {
                    title: "無法處理的請求",
                    heading: "無法處理的請求",
                    text: (*message).into(),
                    link: None,
                },
            ),
            Failure::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                Words {
                    title: "登入失敗",
                    heading: "帳號或密碼不正確",
                    text: "帳號或密碼不正確。".into(),
                    link: Some(("/login", "回登入頁")),
                },
            ),
            Failure::Throttled(wait, limit) => {
                let (title, text) = limit.words(*wait);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    Words {
                        title,
                        heading: title,
                        text,
                        link: None,
                    },
                )
            }
            Failure::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Words {
                    title: "系統發生錯誤",
                    heading: "系統發生錯誤",
                    text: INTERNAL.into(),
                    link: None,
                },
            ),
        };
        // Who is signed in shows in the header; not during maintenance (the
        // accounts are not looked at) nor after an internal fault.
        let viewer = match self {
            Failure::Maintenance(_) | Failure::Internal(_) => None,
            // (A session that cannot be read: the page says so alone.)
            _ => crate::prosecutors::browser_viewer(app, req).ok().flatten(),
        };
        let page = pages::Message {
            c: match &viewer {
                Some(v) => v.ctx(app, words.title),
                None => ctx(app, words.title, None, String::new()),
            },
            heading: words.heading,
            text: words.text,
            links: words.link.into_iter().collect(),
        };
        let mut r = match askama::Template::render(&page) {
            Ok(html) => Resp::html(status, html),
            Err(e) => {
                tracing::error!(
                    "{} {}: the failure page: {e}",
                    req.method,
                    logged_path(&req.path)
                );
                Resp::text(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL.into())
            }
        };
        match self {
            Failure::NotFound => r = r.route("not found"),
            Failure::Forbidden => r = r.route("csrf"),
            Failure::Maintenance(left) => {
                r.header("retry-after", &left.to_string());
                r = r.route("maintenance");
            }
            Failure::Unavailable(_) | Failure::NotSaved(..) => {
                r.header("retry-after", UNAVAILABLE_RETRY);
            }
            Failure::Throttled(wait, _) => {
                r.header("retry-after", &wait.to_string());
            }
            _ => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use warp::http::HeaderMap;

    use super::*;
    use crate::config::Config;

    #[test]
    fn a_wait_is_told_in_seconds_minutes_or_hours_never_shorter_than_it_is() {
        let told = |s| wait_words(s);
        assert_eq!(told(0), "0 秒");
        assert_eq!(told(59), "59 秒");
        assert_eq!(told(60), "1 分鐘");
        assert_eq!(told(61), "2 分鐘");
        assert_eq!(told(3533), "59 分鐘");
        assert_eq!(told(3600), "1 小時");
        assert_eq!(told(3601), "1 小時 1 分鐘");
        assert_eq!(told(7200 + 45 * 60), "2 小時 45 分鐘");
        // Never less than the wait: a person trying again when told is not
        // refused again.
        for secs in [1, 59, 60, 119, 120, 121, 3540, 3599, 3661, 86_399] {
            let said = told(secs);
            let n: Vec<u64> = said.split(' ').filter_map(|w| w.parse().ok()).collect();
            let back = match n.as_slice() {
                [v] if said.ends_with('秒') => *v,
                [v] if said.ends_with("分鐘") => v * 60,
                [v] => v * 3600,
                [h, m] => h * 3600 + m * 60,
                _ => panic!("{said}"),
            };
            assert!(back >= secs && back < secs + 60, "{secs} s told as {said}");
        }
    }

    fn app() -> (tempfile::TempDir, Arc<App>) {
        let dir = tempfile::tempdir().unwrap();
        let mut layers = settings::Layers::from_parts(None, Box::new(|_| None)).unwrap();
        layers.flag("data_dir", "--data-dir", dir.path().display().to_string());
        let app = App::open(Config::load(&layers).unwrap()).unwrap();
        (dir, app)
    }

    /// A calendar feed's path holds its token, the feed's only
    /// credential: a failure's log line names the route, not the token
    /// (found by review: anyone who reads the logs could read the feed).
    #[test]
    fn a_failures_log_line_does_not_hold_a_feed_token() {
        let token = "ab".repeat(32);
        let path = format!("/calendar/{token}.ics");
        let logged = logged_path(&path);
        assert!(!logged.contains(&token), "{logged}");
        assert_eq!(logged, "/calendar/<token>.ics");
        // Every path the router takes to the feed (it merges slashes and
        // decodes each segment), found by review.
        for routed in [
            format!("//calendar/{token}.ics"),
            format!("/%63alendar/{token}.ics"),
            format!("/calendar//{token}.ics"),
        ] {
            assert_eq!(logged_path(&routed), "/calendar/<token>.ics", "{routed}");
        }
        assert_eq!(logged_path("/cases/TPD/x"), "/cases/TPD/x");
    }

    fn req(method: Method, path: &str, cookie: Option<&str>) -> Req {
        let mut headers = HeaderMap::new();
        if let Some(c) = cookie {
            headers.insert("cookie", c.parse().unwrap());
        }
        Req {
            method,
            path: path.into(),
            query: String::new(),
            headers,
            ip: [127, 0, 0, 1].into(),
            body: Vec::new(),
        }
    }

    fn header<'r>(r: &'r Resp, name: &str) -> Option<&'r str> {
        r.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A failure, its status, its API code, and a header both forms carry.
    type Expected = (
        fn() -> Failure,
        u16,
        &'static str,
        Option<(&'static str, &'static str)>,
    );

    #[test]
    fn each_failure_has_its_status_and_code_on_pages_and_in_json() {
        let (_dir, app) = app();
        let get = |path: &str| req(Method::GET, path, None);
        let cases: [Expected; 8] = [
            (|| Failure::NotFound, 404, "not_found", None),
            (
                || Failure::Maintenance(42),
                503,
                "maintenance",
                Some(("retry-after", "42")),
            ),
            (|| Failure::Unavailable(None), 503, "unavailable", None),
            (|| Failure::Forbidden, 403, "forbidden", None),
            (
                || Failure::BadRequest {
                    code: "bad_captcha",
                    message: "驗證碼不正確",
                },
                400,
                "bad_captcha",
                None,
            ),
            (|| Failure::BadCredentials, 401, "bad_credentials", None),
            (
                || Failure::Throttled(7, Limit::Attempts),
                429,
                "throttled",
                Some(("retry-after", "7")),
            ),
            (|| Failure::Internal("x".into()), 500, "internal", None),
        ];
        for (failure, status, code, extra) in cases {
            let json = failure().json(&app, &get("/api/v1/cases"));
            assert_eq!(json.status.as_u16(), status, "{code}");
            let body: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
            assert_eq!(body["error"], code);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            let page = failure().page(&app, &get("/cases"));
            assert_eq!(page.status.as_u16(), status, "{code}");
            assert_eq!(
                header(&page, "content-type"),
                Some("text/html; charset=utf-8")
            );
            if let Some((name, value)) = extra {
                assert_eq!(header(&json, name), Some(value), "{code}");
                assert_eq!(header(&page, name), Some(value), "{code}");
            }
        }
        // A page that cannot read the data asks to come back in a minute.
        let page = Failure::Unavailable(None).page(&app, &get("/cases"));
        assert_eq!(header(&page, "retry-after"), Some("60"));
        // Not found: judged by the path when no route took the request.
        let r = Failure::NotFound.render(&app, &get("/api/v2/x"));
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(r.route, "/api/v1 not found");
        let r = Failure::NotFound.render(&app, &get("/nowhere"));
        assert_eq!(r.route, "not found");
        assert_eq!(Failure::Forbidden.page(&app, &get("/login")).route, "csrf");
    }

    #[test]
    fn signed_out_is_the_login_page_or_a_bearer_challenge() {
        let (_dir, app) = app();
        let to = |r: Req| {
            let resp = Failure::Unauthorised.page(&app, &r);
            assert_eq!(resp.status, StatusCode::SEE_OTHER);
            header(&resp, "location").unwrap().to_string()
        };
        assert_eq!(to(req(Method::GET, "/cases", None)), "/login");
        assert_eq!(
            to(req(Method::GET, "/cases", Some("sid=gone"))),
            "/login?m=expired"
        );
        assert_eq!(
            to(req(Method::POST, "/account/digests", None)),
            "/login?m=expired"
        );
        let api = Failure::Unauthorised.json(&app, &req(Method::GET, "/api/v1/cases", None));
        assert_eq!(api.status, StatusCode::UNAUTHORIZED);
        assert_eq!(header(&api, "www-authenticate"), Some("Bearer"));
    }

    #[test]
    fn an_internal_cause_is_logged_never_shown() {
        let (_dir, app) = app();
        let secret = "no such table: grants (in /srv/cpor/data)";
        for path in ["/cases", "/api/v1/cases"] {
            let r = Failure::Internal(secret.into()).render(&app, &req(Method::GET, path, None));
            assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
            let body = String::from_utf8(r.body).unwrap();
            assert!(body.contains("系統發生錯誤"), "{body}");
            assert!(!body.contains("no such table"), "{body}");
            let r = Failure::unavailable(secret).render(&app, &req(Method::GET, path, None));
            let body = String::from_utf8(r.body).unwrap();
            assert!(!body.contains("no such table"), "{body}");
        }
    }
}
