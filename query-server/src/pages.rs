//! HTML view models: what each page template shows, already in the words
//! and ROC dates people read. Built from snapshot rows by hand (see
//! `CaseDetail::from_row`), never the rows themselves.

use askama::Template;
use warp::http::StatusCode;

use schemas::date::roc;
use schemas::text::clean;

use crate::failure::Answer;
use crate::http::Resp;
use crate::ics;
use crate::live::CaseRow;
use crate::routes::cases::case_path;

/// A page as an answer; a template that does not render is the server's
/// fault (`Failure::Internal`), never a panic.
pub fn html(status: StatusCode, page: &impl Template) -> Answer {
    Ok(Resp::html(status, page.render()?))
}

/// What the base layout needs.
pub struct Ctx {
    pub title: String,
    /// The signed-in address, for the header.
    pub user: Option<String>,
    /// The anti-forgery token for this page's forms.
    pub csrf: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    /// `00:30 至 03:00`
    pub maintenance: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    pub c: Ctx,
    /// Empty: this address has fetched too many (the page says when to
    /// come back).
    pub captcha_id: String,
    pub email: String,
    /// `[sso]` is configured: the prosecutors' sign-in shows.
    pub sso: bool,
}

#[derive(Template)]
#[template(path = "cases.html")]
pub struct Cases {
    pub c: Ctx,
    pub cases: Vec<CaseItem>,
}

pub struct CaseItem {
    pub court_name: String,
    pub category: String,
    pub number_text: String,
    pub division: String,
    pub status: String,
    /// The latest entry's date, or a dash.
    pub latest: String,
    pub url: String,
}

impl CaseItem {
    pub fn from_row(r: &CaseRow) -> CaseItem {
        CaseItem {
            court_name: clean(&r.court_name),
            category: r.case.key.category.clone(),
            number_text: clean(&r.case.key.number_text()),
            division: clean(&r.division),
            status: clean(&r.status),
            latest: r.entries.first().map_or("—".into(), |(d, _)| roc(*d)),
            url: case_path(&r.case),
        }
    }
}

#[derive(Template)]
#[template(path = "case.html")]
pub struct Case {
    pub c: Ctx,
    pub k: CaseDetail,
    /// Hearings to come, as they now stand.
    pub hearings: Vec<crate::routes::hearings::HearingItem>,
}

pub struct CaseDetail {
    pub court_name: String,
    pub category: String,
    pub number_text: String,
    pub division: String,
    pub status: String,
    pub as_of: String,
    pub carried_over: bool,
    pub entries: Vec<EntryItem>,
}

pub struct EntryItem {
    pub posted: String,
    pub text: String,
    /// A calendar file for an entry that schedules a hearing.
    pub ics: Option<String>,
}

impl CaseDetail {
    pub fn from_row(r: &CaseRow) -> CaseDetail {
        CaseDetail {
            court_name: clean(&r.court_name),
            category: r.case.key.category.clone(),
            number_text: clean(&r.case.key.number_text()),
            division: clean(&r.division),
            status: clean(&r.status),
            as_of: r.as_of.map_or("—".into(), roc),
            carried_over: r.carried_over,
            entries: r
                .entries
                .iter()
                .enumerate()
                .map(|(i, (posted, text))| EntryItem {
                    posted: roc(*posted),
                    text: clean(text),
                    // Only a hearing still to come (on or after the
                    // court's data date) is worth a calendar entry.
                    ics: ics::hearing(text)
                        .filter(|(when, _)| r.as_of.is_none_or(|d| when.date() >= d))
                        .map(|_| format!("{}/hearing/{}.ics", case_path(&r.case), i + 1)),
                })
                .collect(),
        }
    }
}

/// Activation and reset: set a password through a link.
#[derive(Template)]
#[template(path = "password_form.html")]
pub struct PasswordForm {
    pub c: Ctx,
    pub heading: &'static str,
    pub action: &'static str,
    pub valid: bool,
    pub token: String,
    pub email: Option<String>,
    /// After a refused password: how strong it looked.
    pub strength: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct Forgot {
    pub c: Ctx,
    pub sent: bool,
    /// Empty: sent, or this address has fetched too many captchas.
    pub captcha_id: String,
    /// As typed, when the form comes back.
    pub email: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct Account {
    pub c: Ctx,
    pub email: String,
    pub digests: bool,
    /// Hearing reminders and the calendar feed.
    pub h: crate::routes::hearings::AccountHearings,
    pub sessions: Vec<SessionItem>,
    /// After a refused new password: how strong it looked.
    pub strength: Option<&'static str>,
}

/// One signed-in device on the account page.
pub struct SessionItem {
    /// 瀏覽器 or App.
    pub kind: &'static str,
    /// When it signed in and when it was last used, Taipei time.
    pub created: String,
    pub last_seen: String,
    /// The browser looking at the page.
    pub current: bool,
}

impl SessionItem {
    pub fn from_session(s: &crate::sessions::Session, current: &[u8; 32]) -> SessionItem {
        let when = |t: chrono::DateTime<chrono::Utc>| {
            let t = t.with_timezone(&schemas::date::taipei());
            format!("{} {}", roc(t.date_naive()), t.format("%H:%M"))
        };
        SessionItem {
            kind: match s.kind {
                crate::sessions::Kind::Browser => "瀏覽器",
                crate::sessions::Kind::Api => "App",
            },
            created: when(s.created),
            last_seen: when(s.last_seen),
            current: &s.hash == current,
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub c: Ctx,
    pub heading: &'static str,
    pub text: String,
    pub link: Option<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
pub struct Unsubscribe {
    pub c: Ctx,
    pub valid: bool,
    pub email: String,
    pub action: String,
}

/// Notices a redirect can ask for (`?m=`): fixed texts, never echoed input.
pub fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "activated" => "帳號已啟用，請以剛設定的密碼登入。",
        "reset" => "密碼已重設，其他裝置上的登入都已登出。請以新密碼登入。",
        "logout" => "您已登出。",
        "expired" => "您已閒置過久或登入已逾時，請重新登入。",
        "changed" => "密碼已變更，其他裝置上的登入都已登出。",
        "digests-on" => "已開啟案件進度通知。",
        "digests-off" => "已關閉案件進度通知。",
        "reminders-on" => "已開啟庭期提醒。",
        "reminders-off" => "已關閉庭期提醒。",
        "feed-revoked" => "行事曆訂閱網址已停止使用。",
        "sessions-ended" => "其他裝置上的登入都已登出。",
        _ => return None,
    })
}
