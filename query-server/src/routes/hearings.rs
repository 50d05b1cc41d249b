//! Hearings on the website: the case page's list of hearings to come (with
//! a calendar file each, by UID, so calendar apps update rather than
//! duplicate), 我的庭期 (`/hearings`: those of every case the reader may
//! query, by day, selected as the API's `/api/v1/hearings`, `upcoming`),
//! the account's hearing reminders on or off, and its private calendar
//! feed.
//!
//! The feed, `GET /calendar/<token>.ics`, is for calendar apps (Google
//! Calendar, Outlook, Apple Calendar subscribe to a URL and fetch it every
//! few hours, without cookies): the URL's 256-bit random token is the only
//! credential, and only its SHA-256 is stored (`store::hearings`). It is
//! shown once, when made on the account page (POST with the session's
//! anti-forgery token); renewing replaces it, revoking ends it. Any token
//! that is not an account's current one answers the site's one 404. A
//! known feed may be fetched at most `FEED_PER_HOUR` times an hour from
//! anywhere (calendar services fetch every subscriber's feed from a few
//! addresses of their own), and a client address may present unknown
//! tokens as often, across every server process
//! (`throttle::Throttle::feed`, `FeedFetch`; 429 with Retry-After after
//! that): guessing is hopeless, and the limit keeps a leaked or looping
//! subscription from costing much. The feed is stamped with its
//! snapshot's time (`Snap::built`), so it stays the same until the next
//! snapshot, and has an ETag: a fetch that names it gets 304.
//! The feed lists every hearing of the account's queryable cases, past
//! ones too while the case is queryable (a calendar that drops an event
//! from a feed deletes it), each as it now stands: moved and cancelled
//! ones as cancelled events of their UID.
//!
//! A prosecutor (single sign-on) has the same: the account page's forms
//! post to the same paths with the prosecutor's session and its token, the
//! feed's token is theirs (`store::hearings::Holder`), and the feed lists
//! the hearings of the queryable cases assigned to their MOJ account in
//! the live snapshot, read on every fetch: an assignment that ends ends
//! its hearings in the feed with the next snapshot. Their reminders are
//! off until turned on, and only with an address the provider verified.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use warp::http::StatusCode;

use schemas::calendar::{Calendar, Method};
use schemas::date::{compact, days_ahead, roc, roc_weekday, taipei};
use schemas::hearing::State;
use store::hearings::{self as store_hearings, FeedOwner, Holder};

use super::cases::{case_path, page_asked, parse_case};
use super::guard::Form;
use crate::app::App;
use crate::failure::{Answer, Failure, Limit};
use crate::http::{clear_cookie, set_cookie, Req, Resp};
use crate::ics;
use crate::live::{HearingRow, Snap, UpcomingHearing};
use crate::prosecutors::{browser_prosecutor, prosecutor_form, Viewer};
use crate::throttle::FeedFetch;

/// Fetches of one feed in an hour, and of unknown tokens from one client
/// address.
pub const FEED_PER_HOUR: usize = 60;
/// How long a calendar app (or a proxy of the user's) may reuse a feed.
const FEED_CACHE: &str = "private, max-age=900";

fn live(app: &App) -> Result<Arc<Snap>, Failure> {
    app.live.get().ok_or(Failure::Unavailable(None))
}

/// Now, Asia/Taipei: the reader's day and time, from which the pages
/// count hearings to come and a case's days left.
pub fn taipei_now() -> NaiveDateTime {
    Utc::now().with_timezone(&taipei()).naive_local()
}

/// The first moment a feed lists hearings from: `server.feed_past_days`
/// (30) before today's start in Taipei. Not back to the case's start: a
/// lawyer's feed of 2,000 cases was 5.2 MB, 88% of it past, and Google
/// Calendar is reported to drop what a subscription has past about 1 MB,
/// the hearings to come among it (a review of heavy use, the forty-sixth
/// session). A month keeps the recent ones a calendar shows around today.
fn feed_from(app: &App) -> NaiveDateTime {
    (taipei_now().date() - chrono::Duration::days(app.cfg.server.feed_past_days))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
}

/// `GET /calendar/<token>.ics`
pub fn feed(app: &App, req: &Req, file: &str) -> Answer {
    // A token that cannot be looked up is not "no such feed": a calendar
    // app told 404 may drop the subscription.
    let owner = match file.strip_suffix(".ics") {
        Some(token) => store_hearings::feed_owner(&app.accounts.lock().expect("accounts"), token)
            .map_err(|e| {
            tracing::error!("a calendar feed's token: {e}");
            Failure::Unavailable(None)
        })?,
        None => None,
    };
    // Counted in the accounts database, so the limit holds across every
    // server process on the data directory: a feed by itself, anything
    // else by the client address (`FeedFetch`). A token is 256 random
    // bits; the limit keeps a looping subscription cheap, not guessing out.
    let fetch = match &owner {
        Some(FeedOwner::Applicant { id, .. }) => FeedFetch::Known {
            prosecutor: false,
            account: *id,
        },
        Some(FeedOwner::Prosecutor { id, .. }) => FeedFetch::Known {
            prosecutor: true,
            account: *id,
        },
        None => FeedFetch::Unknown(req.ip),
    };
    if let Some(wait) = app
        .throttle
        .feed(fetch, FEED_PER_HOUR, crate::throttle::now_ms())
    {
        return Err(Failure::Throttled(wait, Limit::Feed));
    }
    let snap = live(app)?;
    let (holder, hearings) = match owner.ok_or(Failure::NotFound)? {
        FeedOwner::Applicant { id, email } => (
            Holder::Applicant(id),
            snap.upcoming_hearings_for(&email, feed_from(app))?,
        ),
        FeedOwner::Prosecutor { id, account } => (
            Holder::Prosecutor(id),
            snap.upcoming_hearings_for_prosecutor(&account, feed_from(app))?,
        ),
    };
    let events = hearings
        .iter()
        .map(|u| {
            let title = u.case.title();
            let mut e = ics::hearing_event(&title, &u.court_name, &u.hearing);
            e.url = Some(format!("{}{}", app.cfg.mail.site_url, case_path(&u.case)));
            e
        })
        .collect();
    let body = Calendar {
        method: Method::Publish,
        name: Some("案件庭期".into()),
        // (RFC 5546 3.2.1 wants one on PUBLISH: the service, as its mail
        // and the hearings' own files name it)
        organizer: Some(app.cfg.mail.organizer()),
        attendee: None,
        events,
    }
    .write(snap.built);
    // The account page tells its owner that a calendar reads the feed.
    let day = taipei_now().date().format("%Y-%m-%d").to_string();
    if let Err(e) =
        store_hearings::feed_fetched(&app.accounts.lock().expect("accounts"), holder, &day)
    {
        tracing::warn!("a calendar feed's last fetch: {e}");
    }
    // The same snapshot gives the same feed: a calendar app that names
    // it (If-None-Match) is told it is unchanged, without the body. (Sent
    // compressed to one that asks: `encoding`.)
    let mut r = Resp::new(
        StatusCode::OK,
        "text/calendar; charset=utf-8",
        body.into_bytes(),
    );
    r.header("content-disposition", "inline; filename=\"cpor.ics\"");
    Ok(crate::encoding::revalidated(req, r, FEED_CACHE))
}

/// The current row of each hearing of a case (the greatest SEQUENCE of its
/// UID), in time order.
pub fn current(rows: &[HearingRow]) -> Vec<&HearingRow> {
    let mut by_uid: HashMap<&str, &HearingRow> = HashMap::new();
    for h in rows {
        let e = by_uid.entry(&h.uid).or_insert(h);
        if h.sequence > e.sequence {
            *e = h;
        }
    }
    let mut out: Vec<&HearingRow> = by_uid.into_values().collect();
    out.sort_by(|a, b| (a.at, &a.uid).cmp(&(b.at, &b.uid)));
    out
}

/// A hearing as the case page lists it.
pub struct HearingItem {
    /// `115/12/01`
    pub day: String,
    /// `10:30`
    pub time: String,
    pub kind: String,
    pub courtroom: String,
    /// Empty, or `（已改期）`, `（已取消）`, `（可能已變更）`.
    pub note: String,
    pub ics: String,
    /// Its calendar file adds it (`METHOD:REQUEST`), or, moved or
    /// cancelled, takes it out (`METHOD:CANCEL`): what the link says.
    pub takes_place: bool,
}

/// The case page's hearings: those to come (from `today`, Taipei), as
/// they now stand.
pub fn items(case: &schemas::CaseRef, rows: &[HearingRow], today: NaiveDate) -> Vec<HearingItem> {
    current(rows)
        .into_iter()
        .filter(|h| h.at.date() >= today)
        .map(|h| HearingItem {
            day: roc(h.at.date()),
            time: crate::pages::hh_mm(h.at.time()),
            kind: h.kind.clone(),
            courtroom: h.courtroom.clone().unwrap_or_default(),
            note: state_note(h.state),
            ics: ics_path(case, &h.uid),
            takes_place: h.state.takes_place(),
        })
        .collect()
}

/// What a hearing's row says of its state beside it: nothing while it is
/// scheduled, else `（已改期）`, `（已取消）`, `（可能已變更）`.
fn state_note(state: State) -> String {
    match state {
        State::Scheduled => String::new(),
        other => format!("（{}）", other.label()),
    }
}

/// A hearing's calendar file on the site, by its UID (`case_hearing`):
/// what the case page and 我的庭期 link. (A UID is hex digits and
/// `@cpor`: a path segment as it is.)
pub fn ics_path(case: &schemas::CaseRef, uid: &str) -> String {
    format!("{}/hearings/{uid}.ics", case_path(case))
}

/// A day of 我的庭期, its hearings in time order.
pub struct HearingDay {
    /// `115/12/10（四）`
    pub day: String,
    /// How far ahead of the reader's day: 今天, 明天, 後天, `15 天後`.
    pub ahead: String,
    /// Its heading's id: `d-20261210`.
    pub id: String,
    /// Begun on the page before: its heading says （續前頁）.
    pub continued: bool,
    pub hearings: Vec<DayHearing>,
}

/// A hearing as 我的庭期 lists it.
pub struct DayHearing {
    /// `10:30`
    pub time: String,
    /// Its courtroom, or a dash.
    pub courtroom: String,
    pub kind: String,
    /// Empty, or `（可能已變更）`.
    pub note: String,
    /// Its case, as the case's page is headed (court, category, number),
    /// and that page.
    pub title: String,
    pub url: String,
    /// Its calendar file (`ics_path`).
    pub ics: String,
    /// How many other hearings of the reader's are at the same time: each
    /// says so, as the day's reminder does.
    pub clash: usize,
}

/// `rows` (in time order) from the `skip`-th, `take` of them, by day, for a
/// reader on `today` (Asia/Taipei); each hearing's `clash` counts the
/// hearings of all `rows` at its time, a page's own or not.
pub fn agenda(
    rows: &[UpcomingHearing],
    today: NaiveDate,
    skip: usize,
    take: usize,
) -> Vec<HearingDay> {
    let mut at: HashMap<NaiveDateTime, usize> = HashMap::new();
    for u in rows {
        *at.entry(u.hearing.at).or_default() += 1;
    }
    let mut days: Vec<HearingDay> = Vec::new();
    for u in rows.iter().skip(skip).take(take) {
        let h = &u.hearing;
        let date = h.at.date();
        let id = format!("d-{}", compact(date));
        if days.last().is_none_or(|d| d.id != id) {
            let continued = days.is_empty()
                && skip > 0
                && rows
                    .get(skip - 1)
                    .is_some_and(|p| p.hearing.at.date() == date);
            days.push(HearingDay {
                day: roc_weekday(date),
                ahead: days_ahead((date - today).num_days()),
                id,
                continued,
                hearings: Vec::new(),
            });
        }
        let day = days.last_mut().expect("a day for each hearing");
        day.hearings.push(DayHearing {
            time: crate::pages::hh_mm(h.at.time()),
            courtroom: h
                .courtroom
                .as_deref()
                .map_or_else(|| "—".to_string(), schemas::text::clean),
            kind: h.kind.clone(),
            note: state_note(h.state),
            title: crate::pages::title_of(&u.court_name, &u.case),
            url: case_path(&u.case),
            ics: ics_path(&u.case, &h.uid),
            clash: at[&h.at] - 1,
        });
    }
    days
}

/// `GET /hearings`, 我的庭期: the hearings to come of every case the
/// reader may query, an applicant's or a prosecutor's (`Viewer`), as the
/// API's list selects them (`upcoming`), but only those that take place,
/// a page of them (`server.cases_per_page`, as the list of cases) by day.
pub fn page(app: &App, v: &Viewer, req: &Req) -> Answer {
    // (one reading of the clock: the day selected is the day shown)
    let today = taipei_now().date();
    let (_, mut rows) = upcoming(app, v, today)?;
    // The API lists a cancelled hearing, or one moved to a day not known
    // yet, with its state, for an app to show as it will; a list of where
    // to be leaves them out (its case page still says 已取消), as calendars
    // and reminders do (`takes_place`). One that may have changed stays,
    // and says so.
    rows.retain(|u| u.hearing.state.takes_place());
    let per_page = app.cfg.server.cases_per_page;
    let (page_n, pages) = page_asked(req, rows.len(), per_page);
    let skip = (page_n - 1) * per_page;
    let mut carried: Vec<String> = rows
        .iter()
        .skip(skip)
        .take(per_page)
        .filter(|u| u.carried_over)
        .map(|u| crate::pages::court_carried_over(&u.court_name, u.as_of))
        .collect();
    carried.sort();
    carried.dedup();
    let page = crate::pages::Hearings {
        c: v.ctx(app, "我的庭期"),
        days: agenda(&rows, today, skip, per_page),
        carried,
        total: rows.len(),
        page: page_n,
        pages,
    };
    crate::pages::html(StatusCode::OK, &page)
}

/// `GET /cases/{key}/hearings/{uid}.ics`: one hearing of a case the user
/// follows, as it now stands (METHOD:CANCEL once moved or cancelled), its
/// SEQUENCE kept above what the mail sent of it (the outbox's floor; one
/// lifted above it is recorded as the mail's is).
pub fn case_hearing(app: &App, v: &Viewer, segments: &[String], file: &str) -> Answer {
    let uid = file.strip_suffix(".ics").ok_or(Failure::NotFound)?;
    let case = parse_case(segments).ok_or(Failure::NotFound)?;
    let snap = live(app)?;
    let row = v.case(&snap, &case)?.ok_or(Failure::NotFound)?;
    let rows = snap.hearings_of(&row)?;
    let title = format!("{} {}", row.court_name, row.case.key);
    let mut current = ics::current(&rows, uid).ok_or(Failure::NotFound)?.clone();
    // Above what the mail sent of it, and recorded if lifted above that
    // (`mail::outbox::serve_sequence`): a file that cannot be lifted is not
    // served lower, where a calendar that took the mail's would ignore it.
    let content = ics::content(&current);
    let floor = mail::outbox::floor_of_uid(&app.calendar_floors.0.lock().expect("floors"), uid)
        .map_err(Failure::unavailable)?;
    let read = mail::outbox::lifted(floor.as_ref(), current.sequence, content);
    current.sequence = match read.above_floor {
        false => read.sequence,
        true => mail::outbox::serve_sequence(
            &mut app.calendar_floors.1.lock().expect("floors"),
            uid,
            current.sequence,
            content,
            schemas::date::datetime_to_int(current.at),
        )
        .map_err(Failure::unavailable)?,
    };
    let organizer = Some(app.cfg.mail.organizer());
    // Its event links back to the case, as the mail's and the feed's do.
    let url = Some(format!("{}{}", app.cfg.mail.site_url, case_path(&row.case)));
    let body = ics::hearing_calendar(
        &title,
        &row.court_name,
        &current,
        organizer,
        url,
        Utc::now(),
    );
    let at = current.at.format("%Y%m%d-%H%M").to_string();
    let mut r = Resp::new(
        StatusCode::OK,
        "text/calendar; charset=utf-8",
        body.into_bytes(),
    );
    r.header(
        "content-disposition",
        &format!("attachment; filename=\"hearing-{at}.ics\""),
    );
    Ok(r)
}

/// What the account page shows about hearings.
pub struct AccountHearings {
    pub reminders: bool,
    /// Whether reminders can be sent at all: a prosecutor's need the
    /// address the provider verified (an applicant always has one).
    pub addressed: bool,
    /// When the feed was made (ROC date), if there is one.
    pub feed_since: Option<String>,
    /// The day a calendar last fetched it (ROC date), if any has.
    pub feed_used: Option<String>,
    /// The feed's URL, only right after it was made.
    pub feed_url: Option<String>,
    /// When reminders go (`庭期前 7 天及前 1 天`), empty if none are sent
    /// (`mail.reminder_days = []`: no switch is offered).
    pub reminder_days: String,
    /// From when the feed lists hearings (`server.feed_past_days`), as the
    /// page says it: `自 30 天前起`, or `自今天起`.
    pub feed_from: String,
}

pub fn account_hearings(
    app: &App,
    holder: Holder,
    addressed: bool,
    feed_url: Option<String>,
) -> Result<AccountHearings, Failure> {
    // Read, or 503: a page showing "no feed" for one that could not be
    // read had its owner void the URL their calendar reads.
    let conn = app.accounts.lock().expect("accounts");
    let reminders = store_hearings::reminders_on(&conn, holder).map_err(Failure::unavailable)?;
    let feed = store_hearings::feed_status(&conn, holder).map_err(Failure::unavailable)?;
    let feed_since = feed
        .as_ref()
        .and_then(|f| chrono::DateTime::parse_from_rfc3339(&f.created_at).ok())
        .map(|t| roc(t.with_timezone(&taipei()).date_naive()));
    let feed_used = feed
        .and_then(|f| f.last_used)
        .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .map(roc);
    Ok(AccountHearings {
        reminders,
        addressed,
        feed_since,
        feed_used,
        feed_url,
        reminder_days: crate::pages::reminder_days_words(&app.cfg.mail.reminder_days),
        feed_from: match app.cfg.server.feed_past_days {
            0 => "自今天起".into(),
            d => format!("自 {d} 天前起"),
        },
    })
}

/// Who posts the account page's forms shared by both (hearings, mail): a
/// prosecutor's session or an applicant's, with the form, which must
/// repeat that session's anti-forgery token.
pub(crate) fn account_form(app: &App, req: &Req) -> Result<(Holder, Form), Failure> {
    if browser_prosecutor(app, req)?.is_some() {
        let (p, form) = prosecutor_form(app, req)?;
        return Ok((Holder::Prosecutor(p.prosecutor_id), form));
    }
    let (s, form) = super::guard::session_form(app, req)?;
    Ok((Holder::Applicant(s.account_id), form))
}

/// `POST /account/reminders` (`on` = 1 or 0). A prosecutor's stay off
/// without a verified address.
pub fn reminders(app: &App, req: &Req) -> Answer {
    let (holder, form) = account_form(app, req)?;
    let want = form.get("on").is_some_and(|v| v == "1");
    let on = store_hearings::set_reminders(&app.accounts.lock().expect("accounts"), holder, want)
        .map_err(Failure::not_saved(crate::failure::SETTING_NOT_CHANGED))?;
    Ok(Resp::redirect(if on {
        "/account?m=reminders-on"
    } else {
        "/account?m=reminders-off"
    }))
}

/// The cookie that takes a feed URL just made from the POST that made it
/// to the account page that shows it, once (post/redirect/get: the page
/// that showed it was the POST's answer, and reloading it made another URL
/// and stopped the one just copied into a calendar). It holds the token:
/// HttpOnly, SameSite=Lax, and over HTTPS Secure and `__Host-`; it lasts
/// two minutes and the page that reads it clears it.
const JUST_MADE: &str = "feed";
const JUST_MADE_SECONDS: u64 = 120;

/// For the account page of `holder`: the feed URL this browser just made,
/// if it brings one that is still the holder's feed, and the `set-cookie`
/// that clears the cookie (if there was one).
fn just_made(app: &App, req: &Req, holder: Holder) -> (Option<String>, Option<String>) {
    let name = app.cookie_name(JUST_MADE);
    let Some(token) = req.cookie(&name) else {
        return (None, None);
    };
    let clear = clear_cookie(&name, app.https);
    let owner = store_hearings::feed_owner(&app.accounts.lock().expect("accounts"), token)
        .unwrap_or_else(|e| {
            tracing::error!("a calendar feed's token: {e}");
            None
        });
    let url = owner
        .filter(|o| o.holder() == holder)
        .map(|_| format!("{}/calendar/{token}.ics", app.cfg.mail.site_url));
    (url, Some(clear))
}

/// The account page's notice for `m` (`?m=`): `feed-made` says a new URL
/// was made only on the page that shows it; reloaded (the URL shown once
/// already), it says the URL copied keeps working instead, so that whoever
/// looks for it does not make another and stop that one.
fn account_notice(m: Option<&str>, feed_url: &Option<String>) -> Option<&'static str> {
    match m {
        Some("feed-made") if feed_url.is_none() => {
            Some("訂閱網址只顯示一次；已複製的網址仍然有效，不必重新建立。")
        }
        _ => m.and_then(crate::pages::notice),
    }
}

/// `GET /account` of `holder` (an applicant's or a prosecutor's), drawn
/// by `page` with the notice `?m=` asks for (`account_notice`) and the feed
/// URL this browser just made (`just_made`), whose cookie it clears.
pub fn account_get(
    app: &App,
    req: &Req,
    holder: Holder,
    page: impl FnOnce(Option<&'static str>, Option<String>) -> Answer,
) -> Answer {
    let (feed_url, clear) = just_made(app, req, holder);
    let query = req.query_map();
    let notice = account_notice(query.get("m").map(String::as_str), &feed_url);
    let mut r = page(notice, feed_url)?;
    if let Some(clear) = clear {
        r.header("set-cookie", &clear);
    }
    Ok(r)
}

/// `POST /account/feed` (`action` = renew or revoke). A new URL is shown
/// once, by the page the POST redirects to (`just_made`): it is not
/// stored.
pub fn feed_post(app: &App, req: &Req) -> Answer {
    let (holder, form) = account_form(app, req)?;
    match form.get("action").map(String::as_str) {
        Some("renew") => {
            let token = store_hearings::renew_feed(
                &app.accounts.lock().expect("accounts"),
                holder,
                Utc::now(),
            )
            .map_err(Failure::not_saved(crate::failure::FEED_NOT_CHANGED))?;
            let mut r = Resp::redirect("/account?m=feed-made");
            r.header(
                "set-cookie",
                &set_cookie(
                    &app.cookie_name(JUST_MADE),
                    &token,
                    app.https,
                    Some(JUST_MADE_SECONDS),
                ),
            );
            Ok(r)
        }
        Some("revoke") => {
            store_hearings::revoke_feed(&app.accounts.lock().expect("accounts"), holder)
                .map_err(Failure::not_saved(crate::failure::FEED_NOT_CHANGED))?;
            Ok(Resp::redirect("/account?m=feed-revoked"))
        }
        _ => Err(Failure::BadRequest {
            code: "bad_request",
            message: "不明的操作。",
        }),
    }
}

/// The hearings of a viewer's cases from the start of `today` (Taipei)
/// on, for the API and 我的庭期 (`page`) alike: an address's, or a
/// prosecutor's (the cases assigned to them). Today's stay all day, as on
/// the case page (`items`): one under way is where its reader should be
/// (the review of the fifty-fourth session's change: from the minute it
/// began it left the list).
pub fn upcoming(
    app: &App,
    v: &Viewer,
    today: NaiveDate,
) -> Result<(Arc<Snap>, Vec<UpcomingHearing>), Failure> {
    let snap = live(app)?;
    let from = today.and_time(chrono::NaiveTime::MIN);
    let rows = match v {
        Viewer::Applicant(s) => snap.upcoming_hearings_for(&s.email, from)?,
        Viewer::Prosecutor(p) => snap.upcoming_hearings_for_prosecutor(&p.account, from)?,
    };
    Ok((snap, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{CaseKey, CaseRef};

    fn upcoming(number: u32, at: &str, kind: &str, state: State) -> UpcomingHearing {
        let case = CaseRef {
            court: "TPD".into(),
            key: CaseKey {
                category: "民事".into(),
                year: 115,
                word: "訴".into(),
                number,
            },
        };
        UpcomingHearing {
            hearing: HearingRow {
                seq: 1,
                posted: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                uid: format!("{number:016x}@cpor"),
                sequence: 0,
                at: NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").unwrap(),
                courtroom: (number != 3).then(|| "第一法庭".into()),
                kind: kind.into(),
                state,
                by: None,
            },
            case,
            court_name: "臺灣臺北地方法院".into(),
            as_of: None,
            carried_over: false,
        }
    }

    /// 我的庭期 by day, each day how far ahead of the reader's, and two
    /// hearings at one time each saying so, counted over the whole list:
    /// the one a page shows without the other too.
    #[test]
    fn hearings_to_come_are_listed_by_day_and_two_at_one_time_say_so() {
        let rows = [
            upcoming(1, "2026-11-25 14:00", "勘驗", State::Scheduled),
            upcoming(2, "2026-12-10 10:00", "言詞辯論", State::Scheduled),
            upcoming(3, "2026-12-10 10:00", "宣判", State::Uncertain),
            upcoming(4, "2026-12-10 14:30", "調解", State::Scheduled),
        ];
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let days = agenda(&rows, today, 0, 10);
        let said: Vec<(&str, &str, &str)> = days
            .iter()
            .map(|d| (d.id.as_str(), d.day.as_str(), d.ahead.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                ("d-20261125", "115/11/25（三）", "今天"),
                ("d-20261210", "115/12/10（四）", "15 天後")
            ]
        );
        let lines: Vec<(&str, &str, &str, usize)> = days
            .iter()
            .flat_map(|d| &d.hearings)
            .map(|h| {
                (
                    h.time.as_str(),
                    h.courtroom.as_str(),
                    h.note.as_str(),
                    h.clash,
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("14:00", "第一法庭", "", 0),
                ("10:00", "第一法庭", "", 1),
                ("10:00", "—", "（可能已變更）", 1),
                ("14:30", "第一法庭", "", 0),
            ]
        );
        let h = &days[0].hearings[0];
        assert_eq!(h.title, "臺灣臺北地方法院 民事 115年度訴字第1號");
        assert_eq!(h.url, "/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E8%A8%B4/1");
        assert_eq!(
            h.ics,
            format!("{}/hearings/{}.ics", h.url, rows[0].hearing.uid)
        );
        // A page of the last two: the clash still counted, and its day,
        // begun on the page before, says it goes on.
        assert!(!days.iter().any(|d| d.continued));
        let page = agenda(&rows, today, 2, 2);
        assert_eq!(page.len(), 1);
        assert!(page[0].continued);
        let clash: Vec<usize> = page[0].hearings.iter().map(|h| h.clash).collect();
        assert_eq!(clash, [1, 0]);
    }
}
