//! HTML view models: what each page template shows, already in the words
//! and ROC dates people read. Built from snapshot rows by hand (see
//! `CaseDetail::from_row`), never the rows themselves.

use askama::Template;
use warp::http::StatusCode;

use schemas::date::roc;
use schemas::text::clean;

use crate::failure::Answer;
use crate::http::Resp;
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
    /// What went wrong that no one field is to blame for (too many
    /// attempts, a busy server): said in the error summary.
    pub error: Option<String>,
    /// What is wrong with each field, in the form's order: listed in the
    /// error summary (each a link to its field) and said beside the field.
    pub errors: Vec<FieldError>,
    /// What the page says of the settings (the window, how long a
    /// captcha, a link and a session last), made once per process.
    pub words: std::sync::Arc<Words>,
    /// The session's absolute end, `server.session_max_seconds` after its
    /// sign-in, which no use extends: the page warns before it too. The
    /// seconds from this page to the end (0 when no one is signed in), and
    /// its time (`21:04`, Asia/Taipei).
    pub ends_in: u64,
    pub ends_at: String,
    /// The seconds from this page to the nightly maintenance window, when
    /// the site pauses, and to its end (0 when there is none): a signed-in
    /// page warns before it, and says when it began.
    pub closes_in: u64,
    pub opens_in: u64,
    /// The session's page tag (`routes::page_tag`): what the page's script
    /// keys its notes by and names to `/account/alive`; empty when no one
    /// is signed in.
    pub session_tag: String,
    /// The notice takes the focus as the page opens (it says what a button
    /// just did: a screen reader reads it, and Tab goes on from there),
    /// unless something else on the page should: a new calendar URL's
    /// field, or the error summary.
    pub focus_elsewhere: bool,
}

/// What every page says of the settings, in words, made once as the
/// server starts: a case page made them anew on every request (about
/// 3,300 instructions of a case page's 180,000 once the session's ends
/// were said too; `scripts/bench-api-instructions --page`).
#[derive(Debug, Clone)]
pub struct Words {
    /// The maintenance window, `00:30 至 03:00`, and when it begins
    /// (`00:30`); both empty when there is none.
    pub maintenance: String,
    pub closes_at: String,
    /// How long a captcha works, as the captcha's hint says it (`5 分鐘`:
    /// `server.captcha_seconds`).
    pub captcha_for: String,
    /// How long a password link works (`30 分鐘`: `server.reset_link_seconds`).
    pub link_for: String,
    /// How long a signed-in page's session lasts idle
    /// (`server.session_idle_seconds`): the page warns before it ends
    /// (`static/signed-in.js`), and says so in words (`30 分鐘`).
    pub idle_seconds: u64,
    pub idle_for: String,
    /// A session's absolute end after its sign-in
    /// (`server.session_max_seconds`), and in words (`12 小時`).
    pub max_seconds: u64,
    pub max_for: String,
}

impl Words {
    pub fn new(server: &crate::config::ServerSettings) -> Words {
        let seconds = |d: chrono::Duration| d.num_seconds().max(0) as u64;
        let words = crate::failure::wait_words;
        let window = &server.maintenance;
        Words {
            maintenance: window.said(),
            closes_at: match window.is_none() {
                true => String::new(),
                false => hh_mm(window.start),
            },
            captcha_for: words(server.captcha_ttl.as_secs()),
            link_for: words(seconds(server.reset_link)),
            idle_seconds: seconds(server.session_idle),
            idle_for: words(seconds(server.session_idle)),
            max_seconds: seconds(server.session_max),
            max_for: words(seconds(server.session_max)),
        }
    }
}

/// `21:04` (chrono's `format` parses its pattern on every call).
pub fn hh_mm(t: chrono::NaiveTime) -> String {
    use chrono::Timelike;
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `mail.reminder_days` as the account page says it: `庭期前 7 天及前 1 天`;
/// empty when no reminders are sent.
pub fn reminder_days_words(days: &[u32]) -> String {
    let said: Vec<String> = days.iter().map(|d| format!("前 {d} 天")).collect();
    match said.as_slice() {
        [] => String::new(),
        [one] => format!("庭期{one}"),
        [rest @ .., last] => format!("庭期{}及{last}", rest.join("、")),
    }
}

/// What went wrong with a form: a field's (by its id), or no one field's.
pub enum Problem {
    Field(&'static str, String),
    General(String),
}

/// A field's error: the field's id and what to do about it.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl Ctx {
    /// Whether the page shows errors (its title then starts with 錯誤：,
    /// and the error summary takes the focus).
    pub fn failed(&self) -> bool {
        self.error.is_some() || !self.errors.is_empty()
    }

    /// The error of the field `id`, if it has one.
    pub fn field_error(&self, id: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == id)
            .map(|e| e.message.as_str())
    }

    /// Adds what went wrong to the page.
    pub fn add(&mut self, p: Problem) {
        match p {
            Problem::General(m) => self.error = Some(m),
            Problem::Field(field, message) => self.errors.push(FieldError { field, message }),
        }
    }

    /// The `aria-describedby` of the field `id`: its hints (`hints`, ids
    /// separated by spaces, may be empty) and its error message, if any.
    pub fn described(&self, id: &str, hints: &str) -> String {
        let mut ids: Vec<String> = hints.split_whitespace().map(str::to_string).collect();
        if self.field_error(id).is_some() {
            ids.push(format!("{id}-error"));
        }
        ids.join(" ")
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    pub c: Ctx,
    /// Empty: this address has fetched too many (the page says when to
    /// come back).
    pub captcha_id: String,
    pub email: String,
    /// Where to go after logging in (a safe local path), or empty.
    pub next: String,
    /// `[sso]` is configured: the prosecutors' sign-in shows.
    pub sso: bool,
}

impl Login {
    /// The prosecutors' sign-in, coming back to `next` as an applicant's
    /// login does.
    pub fn sso_href(&self) -> String {
        if self.next.is_empty() {
            "/sso/login".into()
        } else {
            format!("/sso/login?return_to={}", mail::url_encode(&self.next))
        }
    }
}

#[derive(Template)]
#[template(path = "cases.html")]
pub struct Cases {
    pub c: Ctx,
    pub cases: Vec<CaseItem>,
    /// The courts whose data tonight is an earlier night's, as the page
    /// says it (`carried_note`), once each.
    pub carried: Vec<String>,
    /// With no case to show: the account's cases that are no longer
    /// queryable, and since when.
    pub gone: Vec<GoneItem>,
    /// [`GONE_RULE`], said with them.
    pub gone_rule: &'static str,
    /// How the list is ordered (`case`, `recent`, `ending`).
    pub sort: &'static str,
    /// The search, as typed (empty: none), and as a query parameter to
    /// keep in the page's links (`&q=…`, or nothing).
    pub q: String,
    pub q_param: String,
    /// How many cases the list has (found by the search, if any), and which
    /// page of how many this is.
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// What an empty list says, in the reader's terms (an applicant's
    /// cases come with a clerk's approval, a prosecutor's with the export).
    pub empty: &'static str,
}

/// An empty list, to an applicant: true also to one whose grant a clerk
/// revoked, or whose cases ran their course (why is not said: the address
/// may be someone else's), and to one granted a case the service does not
/// cover (a 少年 case, a 最高法院 one), which never shows.
pub const NO_CASE_YET: &str = "目前沒有您可以查詢的案件。法院核准您的聲請後，案件會在次日出現在這裡，並以電子郵件通知您；先前核准的案件如未出現，可能已停止提供查詢，或核准已經撤銷，請洽承辦股。本服務提供事實審法院的民事（含家事）、刑事（不含少年）及行政訴訟案件查詢。";
/// An empty list, to a prosecutor.
pub const NO_CASE_ASSIGNED: &str = "目前沒有以您的法務部帳號承辦、可以查詢的案件。法院的資料列您為承辦檢察官後，案件會在次日出現在這裡。";

/// Why a case leaves the queryable range, as the pages say it.
pub const GONE_RULE: &str = "案件送上訴、抗告、執行或歸檔逾二個月後，即不再提供查詢。";

/// A case of the account's that has left the list.
pub struct GoneItem {
    pub title: String,
    /// Why and since when: `上訴 115/09/23，查詢期限至 115/11/23`.
    pub why: String,
}

impl GoneItem {
    pub fn from_row(r: &CaseRow) -> GoneItem {
        let status = clean(&r.status);
        let why = match (r.status_date, last_day(r)) {
            (Some(d), Some(last)) => format!("{status} {}，查詢期限至 {} 止", roc(d), roc(last)),
            _ => format!("{status}，已不在查詢範圍"),
        };
        GoneItem {
            title: case_title(r),
            why,
        }
    }
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
    /// The court's data is an earlier night's: the day it is of, which the
    /// list says beside the latest entry's date (`（該院資料至 115/11/23）`).
    pub carried: Option<String>,
    /// The last day the case can be queried, if its status counts down.
    pub last_day: Option<String>,
    /// Near or past it, counted from the reader's day: `還有 3 天`.
    pub countdown: Option<String>,
    /// The day of the latest change when it is an entry revised after its
    /// day (`（115/12/07 異動）` beside the latest entry's date).
    pub revised: Option<String>,
}

impl CaseItem {
    /// The case as the list shows it to a reader on `today` (Asia/Taipei).
    pub fn from_row(r: &CaseRow, today: chrono::NaiveDate) -> CaseItem {
        let last = last_day(r);
        CaseItem {
            court_name: clean(&r.court_name),
            category: r.case.key.category.clone(),
            number_text: clean(&r.case.key.number_text()),
            division: division(&r.division),
            status: clean(&r.status),
            latest: r.entries.first().map_or("—".into(), |e| roc(e.posted)),
            url: case_path(&r.case),
            carried: carried_as_of(r),
            last_day: last.map(roc),
            countdown: last
                .and_then(|last| Countdown::of(last, today))
                .map(Countdown::short),
            revised: crate::changes::revised_on(r).map(roc),
        }
    }
}

/// 股別 as people say it: 忠 and 忠股 alike are 忠股; none is a dash.
pub fn division(d: &str) -> String {
    schemas::text::division(d).unwrap_or_else(|| "—".into())
}

/// A case's title as heading, `<title>` and lists say it: court, category
/// and number (`臺灣臺北地方法院 民事 115年度訴字第100號`); two courts' cases
/// of the same number are told apart.
pub fn case_title(r: &CaseRow) -> String {
    title_of(&r.court_name, &r.case)
}

/// [`case_title`] of `case`, whose court is named `court_name`.
pub fn title_of(court_name: &str, case: &schemas::CaseRef) -> String {
    format!(
        "{} {} {}",
        clean(court_name),
        case.key.category,
        clean(&case.key.number_text())
    )
}

/// For a court whose data in the live snapshot is an earlier night's, the
/// service saying so in words true on whatever day they are read:
/// `臺灣花蓮地方法院 115/11/23 之後的資料尚未更新，以下為該日之資料`.
pub fn carried_note(r: &CaseRow) -> Option<String> {
    r.carried_over
        .then(|| court_carried_over(&r.court_name, r.as_of))
}

/// [`carried_note`] of the court `court_name`, its data of `as_of`.
pub fn court_carried_over(court_name: &str, as_of: Option<chrono::NaiveDate>) -> String {
    format!(
        "{} {} 之後的資料尚未更新，以下為該日之資料",
        clean(court_name),
        as_of_day(as_of)
    )
}

/// The day a carried-over court's data is of (ROC), if it is carried over.
fn carried_as_of(r: &CaseRow) -> Option<String> {
    r.carried_over.then(|| as_of_day(r.as_of))
}

/// A carried-over court's data day as pages say it (ROC), `—` if unknown.
fn as_of_day(as_of: Option<chrono::NaiveDate>) -> String {
    as_of.map_or("—".into(), roc)
}

/// The last day a case can be queried: for a status that starts the
/// contract's countdown (上訴, 抗告, 移送執行, 歸檔), its date plus the
/// contract's calendar months (what the import's `within_cutoff` keeps).
pub fn last_day(r: &CaseRow) -> Option<chrono::NaiveDate> {
    let c = schemas::contract::contract();
    let d = r.status_date?;
    c.status_has_cutoff(r.status.trim())
        .then(|| schemas::date::last_queryable_day(d, c.scope.cutoff_months))
}

/// The days before the last day within which the case page warns and the
/// list marks the day.
pub const DEADLINE_NOTICE_DAYS: i64 = 14;

/// How near a case's last queryable day is to the reader's `today`
/// (Asia/Taipei), once within [`DEADLINE_NOTICE_DAYS`]: what the case
/// page's notice and the list's mark both say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Countdown {
    Past,
    Today,
    Left(i64),
}

impl Countdown {
    pub fn of(last: chrono::NaiveDate, today: chrono::NaiveDate) -> Option<Countdown> {
        let left = (last - today).num_days();
        (left <= DEADLINE_NOTICE_DAYS).then_some(match left {
            ..0 => Countdown::Past,
            0 => Countdown::Today,
            left => Countdown::Left(left),
        })
    }

    /// As the list says it beside the day: `還有 3 天`.
    pub fn short(self) -> String {
        match self {
            Countdown::Past => "已過".into(),
            Countdown::Today => "今天是最後一天".into(),
            Countdown::Left(n) => format!("還有 {n} 天"),
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

impl Case {
    /// What the page says of 〓 if it shows one, as mail does.
    pub fn geta_note(&self) -> Option<&'static str> {
        let hearings = self
            .hearings
            .iter()
            .flat_map(|h| [h.kind.as_str(), h.courtroom.as_str(), h.note.as_str()]);
        let entries = self.k.entries.iter().map(|e| e.text.as_str());
        let k = &self.k;
        schemas::text::geta_note(
            [&k.title, &k.number_text, &k.division, &k.status]
                .into_iter()
                .map(String::as_str)
                .chain(hearings)
                .chain(entries),
        )
    }
}

/// 我的庭期: the hearings to come of the reader's cases, a page of them,
/// by day.
#[derive(Template)]
#[template(path = "hearings.html")]
pub struct Hearings {
    pub c: Ctx,
    pub days: Vec<crate::routes::hearings::HearingDay>,
    /// The courts whose data tonight is an earlier night's, among the
    /// hearings' ([`court_carried_over`]), once each.
    pub carried: Vec<String>,
    /// How many hearings are to come, and which page of how many this is.
    pub total: usize,
    pub page: usize,
    pub pages: usize,
}

impl Hearings {
    /// What the page says of 〓 if it shows one, as the case page does.
    pub fn geta_note(&self) -> Option<&'static str> {
        schemas::text::geta_note(self.days.iter().flat_map(|d| &d.hearings).flat_map(|h| {
            [
                h.title.as_str(),
                h.courtroom.as_str(),
                h.kind.as_str(),
                h.note.as_str(),
            ]
        }))
    }
}

pub struct CaseDetail {
    /// Court, category and number: the heading and the title.
    pub title: String,
    pub court_name: String,
    pub category: String,
    pub number_text: String,
    pub division: String,
    pub status: String,
    pub as_of: String,
    /// The court's data is an earlier night's: what the page says.
    pub carried: Option<String>,
    /// The last day the case can be queried, if its status counts down.
    pub last_day: Option<String>,
    /// In the last days before it: the notice.
    pub deadline: Option<String>,
    pub entries: Vec<EntryItem>,
}

pub struct EntryItem {
    pub posted: String,
    pub text: String,
}

impl CaseDetail {
    /// The case as its page shows it to a reader on `today` (Asia/Taipei).
    pub fn from_row(r: &CaseRow, today: chrono::NaiveDate) -> CaseDetail {
        let last = last_day(r);
        // Counted from the reader's day, as the hearings to come are: a
        // night's snapshot is read the next day and after, until the next
        // import, so a case can still be shown past its last day (the
        // contract counts to the batch's date); it then says so.
        let deadline = last.and_then(|last| {
            Countdown::of(last, today).map(|c| match c {
                Countdown::Past => format!(
                    "本案查詢期限（{}）已過，下次資料更新後即不再提供查詢。",
                    roc(last)
                ),
                c => format!(
                    "本案查詢期限將至：{} 之後即不再提供查詢（{}）。",
                    roc(last),
                    c.short()
                ),
            })
        });
        CaseDetail {
            title: case_title(r),
            court_name: clean(&r.court_name),
            category: r.case.key.category.clone(),
            number_text: clean(&r.case.key.number_text()),
            division: division(&r.division),
            status: clean(&r.status),
            as_of: r.as_of.map_or("—".into(), roc),
            carried: carried_note(r),
            last_day: last.map(roc),
            deadline,
            entries: r
                .entries
                .iter()
                .map(|e| EntryItem {
                    posted: roc(e.posted),
                    text: clean(&e.text),
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
    /// Mail to the address stopped after a bounce, if it is.
    pub bounced: Option<Bounced>,
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
        SessionItem::new(s.kind, (s.created, s.last_seen), &s.hash == current)
    }

    /// A prosecutor's, as an applicant's.
    pub fn from_prosecutor(
        s: &crate::prosecutors::sessions::ProsecutorSession,
        current: &[u8; 32],
    ) -> SessionItem {
        SessionItem::new(s.kind, (s.created, s.last_seen), &s.hash == current)
    }

    fn new(
        kind: crate::sessions::Kind,
        (created, last_seen): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
        current: bool,
    ) -> SessionItem {
        let when = schemas::date::roc_taipei;
        SessionItem {
            kind: match kind {
                crate::sessions::Kind::Browser => "瀏覽器",
                crate::sessions::Kind::Api => "App",
            },
            created: when(created),
            last_seen: when(last_seen),
            current,
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub c: Ctx,
    pub heading: &'static str,
    pub text: String,
    /// Where to go from here (href, words), each a paragraph of its own.
    pub links: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
pub struct Unsubscribe {
    pub c: Ctx,
    pub valid: bool,
    pub email: String,
    pub action: String,
    /// What it stops: 案件進度通知 or 庭期提醒.
    pub what: &'static str,
}

/// An address whose mail is stopped: its mail server said it is bad
/// (`flagged_addresses`). The account page says when and why, and offers
/// to turn its mail on again.
pub struct Bounced {
    pub email: String,
    /// When, in Taipei (`115/11/24 07:02`).
    pub at: String,
    /// The mail server's words.
    pub why: String,
}

impl Bounced {
    /// `email`'s flag, if it has one.
    pub fn of(conn: &rusqlite::Connection, email: &str) -> rusqlite::Result<Option<Bounced>> {
        Ok(
            store::accounts::flag_of(conn, email)?.map(|(at, why)| Bounced {
                email: email.to_string(),
                at: chrono::DateTime::parse_from_rfc3339(&at)
                    .map(|t| schemas::date::roc_taipei(t.with_timezone(&chrono::Utc)))
                    .unwrap_or(at),
                why: schemas::text::clean(&why),
            }),
        )
    }
}

/// Notices a redirect can ask for (`?m=`): fixed texts, never echoed input.
pub fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "activated" => "帳號已啟用，請以剛設定的密碼登入。",
        "reset" => "密碼已重設，其他裝置上的登入都已登出，行事曆訂閱網址（如有）也已停止使用。請以新密碼登入；需要時可在帳號設定建立新的訂閱網址。",
        "logout" => "您已登出。",
        "expired" => "您已閒置過久或登入已逾時，請重新登入。",
        "changed" => "密碼已變更，其他裝置上的登入都已登出。行事曆訂閱網址（如有）不變；若擔心外流，請在下方「行事曆訂閱」建立新網址。",
        "digests-on" => "已開啟案件進度通知。",
        "digests-off" => "已關閉案件進度通知。",
        "mail-resumed" => "已恢復寄信到這個信箱。若信件再被退回，會再次暫停。",
        "reminders-on" => "已開啟庭期提醒。",
        "reminders-off" => "已關閉庭期提醒。",
        "feed-made" => "已建立新的行事曆訂閱網址；舊網址（如有）已停止使用。",
        "feed-revoked" => "行事曆訂閱網址已停止使用。",
        "sessions-ended" => "其他裝置上的登入都已登出。",
        _ => return None,
    })
}
