//! Hearing reminders by e-mail, `mail.reminder_days` (7 and 1) days before
//! each hearing of a followed case, and the calendar files that mail
//! carries (reminders, and digests that announce a hearing).
//!
//! **Who queues them.** `cpor-etl send`, every run, before delivering
//! ([`queue_due`]), from the live snapshot: the nightly job runs `send`
//! right after the import (`scripts/nightly`), so they are queued from the
//! night's snapshot before the window opens; a day without an import gets
//! them from the first `send` of the day all the same. The work is done
//! once per (day, live snapshot) (`reminder_runs`): a later `send` that
//! finds it done costs one query. Not the import: a national day is about
//! 20,000 reminders, seconds of rendering that the night's critical path
//! (the maintenance window) need not carry (docs/BENCHMARKS.md).
//!
//! **Which day.** Reminders queued at `now` are those of the Taipei day on
//! which the send window next opens ([`reminder_day`]): an import at 01:30
//! queues the day's reminders for 07:00; a run after the window closed is
//! about tomorrow's.
//!
//! **Which snapshot.** The night's: a day's reminders wait for the batch
//! dated that day (the night's import, scripts/nightly) until the window
//! opens ([`waits_for_the_night`]). A `send` after the window closed finds
//! today's snapshot live, whose hearings the night's batch may still move
//! or cancel, and a queued reminder is not taken back: it says it waits,
//! and the `send` after the import works them out. A day without an import
//! gets them at the window's opening from whatever is live. `--today`
//! (an operator's day) never waits. A reminder of day D with lead L is about hearings on
//! day D + L (Taipei calendar days), so "1 day before" a hearing at 00:30
//! on the 1st is sent during the day of the 31st (or 30th): month ends and
//! midnight need no special case.
//!
//! **Who hears of a hearing** ([`followed`]): the addresses granted its
//! case, unless their account turned reminders off, and the prosecutors
//! its case is assigned to who turned them on, at the address the MOJ
//! single sign-on last vouched for (`super::prosecutors`). An address that
//! is both gets one message a day about both: each switch is about its own
//! account's cases.
//!
//! **The rules** ([`plan`], pure, property-tested): the hearing is as it
//! now stands (its UID's row with the greatest SEQUENCE), `scheduled` or
//! `uncertain` (said so in the mail), never moved or cancelled; it starts
//! after the moment the reminder may go out (never a past one); the
//! address has no reminder that day yet;
//! (address, UID, start, lead) was never reminded (`reminded`, written in
//! the same transaction as the item: so never twice, even after a crash).
//! A hearing moved to another day is reminded again for its new date. One
//! message per address per day, covering all its hearings due that day,
//! each with its calendar file (METHOD:REQUEST, one UID each, RFC 5546),
//! and a one-click unsubscribe (RFC 8058) that turns reminders off for
//! every account with the address, an applicant's or a prosecutor's.
//! A flagged address's reminder is kept but suppressed, as digests are.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::NotifyError;
use mail::config::Window;
use mail::outbox::{Kind, NewItem, NewReminder, Outbox, Packed, Reminded, State};
use mail::render::{self, CalendarFile, HearingView, View};
use mail::{unsubscribe_url, url_encode, window_opening, MailSettings};
use schemas::calendar::{Calendar, Hearing, Method};
use schemas::date::{
    datetime_to_int, days_ahead, roc, roc_weekday, taipei, taipei_at, taipei_date, to_int,
};
use schemas::hearing::State as HearingState;
use schemas::hearing_list::{self, Hearing as HearingData};
use schemas::hearing_store::{Cursor, Layout};
use schemas::CaseRef;
use store::layout::{SnapshotFile, Store};
use store::secret::Mailing;

use crate::snapshot::read::{ReadError, Snapshot};

/// A hearing as mail shows it: as it now stands (the row of its UID with
/// the greatest SEQUENCE), with its calendar UID and its court's name. What
/// a reminder is about, and what a digest's entry announces
/// (`super::announced`); each becomes a calendar file ([`Standing::calendar`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub uid: String,
    pub sequence: u32,
    /// Asia/Taipei local time.
    pub at: NaiveDateTime,
    pub courtroom: Option<String>,
    pub kind: String,
    pub state: HearingState,
    pub court_name: String,
    /// When it was, before a later entry moved it here (a reminder says
    /// so); `None` if never moved, or not looked up.
    pub moved_from: Option<NaiveDateTime>,
}

impl Standing {
    /// A hearing of `case`, in the court `court_name`.
    pub fn of(case: &CaseRef, court_name: &str, h: &HearingData) -> Standing {
        Standing {
            uid: h.uid(&case.court, &case.key),
            sequence: h.sequence,
            at: h.at,
            courtroom: h.courtroom.clone(),
            kind: h.kind.to_string(),
            state: h.state,
            court_name: court_name.to_string(),
            moved_from: None,
        }
    }

    /// Where, as mail says it: the court and the courtroom, if named.
    pub fn place(&self) -> String {
        match &self.courtroom {
            Some(room) => format!("{} {room}", self.court_name),
            None => self.court_name.clone(),
        }
    }

    /// The calendar file mailed to `email` for this hearing of `case`:
    /// METHOD:REQUEST (organizer: the sender; attendee: the address, no
    /// reply asked) while it takes place, METHOD:CANCEL once moved or
    /// cancelled; one UID (RFC 5546).
    pub fn calendar(
        &self,
        case: &CaseRef,
        email: &str,
        cfg: &MailSettings,
        now: DateTime<Utc>,
    ) -> CalendarFile {
        let title = case.title();
        let mut event = Hearing {
            uid: &self.uid,
            sequence: self.sequence,
            at: self.at,
            courtroom: self.courtroom.as_deref(),
            kind: &self.kind,
            state: self.state,
            case_title: &title,
            court_name: &self.court_name,
        }
        .event();
        event.url = Some(case_url(cfg.site_url.as_str(), case));
        let method = match self.state {
            HearingState::Moved | HearingState::Cancelled => Method::Cancel,
            HearingState::Scheduled | HearingState::Uncertain => Method::Request,
        };
        let text = Calendar {
            method,
            name: None,
            organizer: Some(cfg.organizer()),
            attendee: Some(email.to_string()),
            events: vec![event],
        }
        .write(now);
        CalendarFile {
            filename: format!("hearing-{}.ics", self.at.format("%Y%m%d-%H%M")),
            method: method.as_str(),
            text,
        }
    }
}

/// A hearing of a case an address follows (granted) or a prosecutor's
/// address is assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub email: String,
    pub case: CaseRef,
    /// The case's 股別 as people say it (`忠股`), if the court gives one.
    pub division: Option<String>,
    pub hearing: Standing,
}

impl Candidate {
    /// A hearing due of `case` (in the court `court_name`) for `email`.
    pub fn of(email: &str, case: &CaseRef, court_name: &str, d: &OnDay) -> Candidate {
        Candidate {
            email: email.to_string(),
            case: case.clone(),
            division: None,
            hearing: Standing {
                moved_from: d.moved_from,
                ..Standing::of(case, court_name, &d.hearing)
            },
        }
    }

    /// The same, of a case in the division the court wrote (`忠`, `忠股`).
    pub fn in_division(self, written: &str) -> Candidate {
        Candidate {
            division: schemas::text::division(written),
            ..self
        }
    }
}

/// A hearing on a reminder day ([`due_on`]), as it now stands, and when it
/// was before the last entry that moved it, if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDay {
    pub hearing: HearingData,
    pub moved_from: Option<NaiveDateTime>,
}

impl OnDay {
    /// `h`, a current row of `list`, and the date of its row a later entry
    /// moved it from (the same hearing's latest *moved* row at another
    /// time).
    pub fn of(h: &HearingData, list: &[HearingData]) -> OnDay {
        let moved_from = list
            .iter()
            .filter(|o| {
                o.origin == h.origin
                    && o.state == HearingState::Moved
                    && o.sequence < h.sequence
                    && o.at != h.at
            })
            .max_by_key(|o| o.sequence)
            .map(|o| o.at);
        OnDay {
            hearing: h.clone(),
            moved_from,
        }
    }
}

/// Whether a hearing row, as it now stands, may be reminded on one of
/// `days`: it takes place then (scheduled, or uncertain).
pub fn remindable(h: &HearingData, days: &[NaiveDate]) -> bool {
    h.state.takes_place() && days.contains(&h.at.date())
}

/// One address's reminder: its hearings (with their lead) in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<'a> {
    pub email: &'a str,
    pub hearings: Vec<(&'a Candidate, u32)>,
}

/// What the accounts and the outbox already say.
#[derive(Debug, Default, Clone)]
pub struct Known {
    pub reminded: BTreeSet<Reminded>,
    /// Addresses that have their reminder of the day already.
    pub today: BTreeSet<String>,
}

/// What a day's reminders did, for the report and the output.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ReminderSummary {
    /// The Taipei day, YYYY-MM-DD.
    pub day: String,
    /// Reminder messages queued, and hearings in them.
    pub reminders: u64,
    pub hearings: u64,
    /// Addresses that had their reminder of the day already.
    pub already: u64,
    pub suppressed: u64,
    /// Why nothing was worked out (no live snapshot, reminders off, done).
    pub skipped: Option<String>,
    /// An operator's catch-up of a day done already (`send --today`),
    /// after its window: the day's reminders queued for that window and
    /// not sent, and whether they go now (on that day) or cannot (after
    /// it: their words are about that day).
    pub unsent: Option<(u64, bool)>,
    /// The day's reminders wait for the night's import ([`waits_for_the_night`]):
    /// the live snapshot's name.
    pub waiting: Option<String>,
    pub invalid_addresses: Vec<String>,
}

/// Whether `day`'s reminders wait, at `now`, for a snapshot of the night
/// before `day`: the live one is of an earlier batch (`live_batch`, its
/// export date), and the send window has not opened on `day` yet. The
/// night's import (scripts/nightly, in the maintenance window, imports the
/// batch dated that day) may move or cancel the hearings today's snapshot
/// has on `day + lead`, and a queued reminder is not taken back, so a
/// `send` after the window closed (the timer's, every five minutes) leaves
/// tomorrow's reminders to the `send` after that import. A day without an
/// import still gets them: at the window's opening they are worked out
/// from the live snapshot, whatever its date. Pure.
pub fn waits_for_the_night(
    day: NaiveDate,
    live_batch: NaiveDate,
    now: DateTime<Utc>,
    window: Window,
) -> bool {
    live_batch < day && now < taipei_at(day, window.start)
}

/// The Taipei day whose reminders are queued at `now`: the day the send
/// window next opens (today while it is open or before it opens).
pub fn reminder_day(now: DateTime<Utc>, window: Window) -> NaiveDate {
    taipei_date(window_opening(now, window.start, window.end))
}

/// When `day`'s reminders may first go out: the window's opening that day,
/// or `now` if later (a run inside the window).
pub fn send_from(day: NaiveDate, now: DateTime<Utc>, window: Window) -> DateTime<Utc> {
    taipei_at(day, window.start).max(now)
}

/// Over how long `day`'s reminders are spread from `from` (`mail.spread`,
/// so that the relay is not handed a day's reminders at once): the whole
/// spread if it ends a spread's length before the window closes, so that
/// the `send` runs to come have time to send the last; else none, and the
/// run that queues them sends them all (a reminder not sent by the
/// window's end is failed, never sent late). Pure.
pub fn spread_within(
    day: NaiveDate,
    from: DateTime<Utc>,
    window: Window,
    spread: Duration,
) -> Duration {
    if from + spread + spread <= taipei_at(day, window.end) {
        spread
    } else {
        Duration::zero()
    }
}

/// Decides `day`'s reminders. `from`: the Taipei time they may first go out
/// (a hearing must start after it). Pure.
pub fn plan<'a>(
    day: NaiveDate,
    from: NaiveDateTime,
    leads: &[u32],
    candidates: &'a [Candidate],
    known: &Known,
) -> Vec<Due<'a>> {
    let mut by_address: BTreeMap<&str, Vec<(&Candidate, u32)>> = BTreeMap::new();
    for c in candidates {
        let h = &c.hearing;
        let lead = (h.at.date() - day).num_days();
        let Ok(lead) = u32::try_from(lead) else {
            continue;
        };
        if !leads.contains(&lead)
            || h.at <= from
            || !h.state.takes_place()
            || known.today.contains(&c.email)
            || known.reminded.contains(&(
                c.email.clone(),
                h.uid.clone(),
                datetime_to_int(h.at),
                lead,
            ))
        {
            continue;
        }
        by_address.entry(&c.email).or_default().push((c, lead));
    }
    by_address
        .into_iter()
        .map(|(email, mut hearings)| {
            // By time, case and UID; a hearing once.
            let order =
                |(c, _): &(&Candidate, u32)| (c.hearing.at, c.case.id(), c.hearing.uid.clone());
            hearings.sort_by_cached_key(order);
            hearings.dedup_by(|a, b| {
                (a.0.hearing.at, &a.0.hearing.uid) == (b.0.hearing.at, &b.0.hearing.uid)
            });
            Due { email, hearings }
        })
        .collect()
}

/// Who hears of the day's hearings: those of `granted` (from the grants)
/// whose address did not turn reminders off on its account, and all of
/// `assigned` (prosecutors who turned them on). An address that is both
/// keeps both: `plan` makes them one message, a hearing in it once.
pub fn followed(
    granted: Vec<Candidate>,
    off: &BTreeSet<String>,
    assigned: Vec<Candidate>,
) -> Vec<Candidate> {
    granted
        .into_iter()
        .filter(|c| !off.contains(&c.email))
        .chain(assigned)
        .collect()
}

/// The hearings, as they now stand and only while they take place
/// ([`remindable`]), on the given Taipei days, by case id: one pass over
/// every case's hearing list of a snapshot (none before version 3), which
/// decodes only the lists with a hearing on those days. The
/// grants' [`candidates`] and the prosecutors'
/// (`prosecutors::reminder_candidates`) are the people of these cases.
pub fn due_on(
    conn: &Connection,
    days: &[NaiveDate],
) -> rusqlite::Result<BTreeMap<i64, Vec<OnDay>>> {
    let mut due = BTreeMap::new();
    let layout = Layout::read(conn)?;
    let Some(sql) = layout.range_sql().filter(|_| !days.is_empty()) else {
        return Ok(due);
    };
    // Cases left out of the night are kept only for the next night's
    // comparison: none of their hearings is reminded of from there.
    let left_out = schemas::case::carried_cases(conn)?;
    let mut stmt = conn.prepare(&sql)?;
    let mut lists = Cursor::new(layout, stmt.query([1, i64::MAX])?, 1, i64::MAX);
    let bad = |e: hearing_list::PackError| e.sql(1);
    let wanted = hearing_list::Days::new(days);
    while let Some((case_id, list)) = lists.next_list()? {
        if left_out.contains_key(&case_id) {
            continue;
        }
        // Most lists have no hearing on these days: looked at, not decoded.
        if !hearing_list::on_days(list, &wanted).map_err(bad)? {
            continue;
        }
        let list = hearing_list::decode(list).map_err(bad)?;
        let on_days: Vec<OnDay> = hearing_list::current(&list)
            .filter(|h| remindable(h, days))
            .map(|h| OnDay::of(h, &list))
            .collect();
        if !on_days.is_empty() {
            due.insert(case_id, on_days);
        }
    }
    Ok(due)
}

/// The hearings `due` (by [`due_on`]) of followed, queryable cases: one
/// candidate per granted address and hearing.
pub fn candidates(
    conn: &Connection,
    due: &BTreeMap<i64, Vec<OnDay>>,
) -> rusqlite::Result<Vec<Candidate>> {
    let mut followers = conn.prepare(
        "SELECT g.email, c.court, co.name, c.category, c.year, c.word, c.number, c.division
         FROM cases c
         JOIN courts co ON co.code = c.court
         JOIN grants g ON g.case_id = c.id
         WHERE c.id = ?1 AND c.queryable = 1",
    )?;
    let mut out = Vec::new();
    for (case_id, hearings) in due {
        let rows = followers.query_map([case_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                CaseRef::from_row(r, 1, 3)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        for row in rows {
            let (email, case, court_name, division) = row?;
            out.extend(
                hearings
                    .iter()
                    .map(|h| Candidate::of(&email, &case, &court_name, h).in_division(&division)),
            );
        }
    }
    Ok(out)
}

/// The hearings on `days` of the snapshot `live`, one [`Candidate`] per
/// address that hears of it ([`followed`]), the flagged addresses, and
/// each court's data date.
fn hearings_followed(
    store: &Store,
    live: &SnapshotFile,
    days: &[NaiveDate],
) -> Result<Followed, NotifyError> {
    // What goes wrong in the snapshot is said of it, not of the accounts.
    let in_snapshot = |source: ReadError| NotifyError::Due {
        days: days
            .iter()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect::<Vec<_>>()
            .join(", "),
        source,
    };
    let snapshot = Snapshot::open(live).map_err(|e| match e {
        ReadError::Open(e) => NotifyError::Snapshot(e),
        e => in_snapshot(e),
    })?;
    let conn = snapshot.conn();
    let due = due_on(conn, days).map_err(|e| in_snapshot(e.into()))?;
    let granted = candidates(conn, &due).map_err(|e| in_snapshot(e.into()))?;
    let accounts = store::accounts::open(&store.root)?;
    let off = store::hearings::reminders_off(&accounts)?;
    let prosecutors = store::accounts::prosecutors::reminder_recipients(&accounts)?;
    let flagged = store::accounts::flagged_set(&accounts)?;
    let assigned =
        super::prosecutors::reminder_candidates(conn, &prosecutors, &due).map_err(in_snapshot)?;
    // Each court's data date: the night's, or for a court carried over,
    // the night its data came from.
    let as_of = snapshot
        .courts()
        .map_err(in_snapshot)?
        .into_iter()
        .map(|c| (c.code, c.as_of))
        .collect();
    Ok((followed(granted, &off, assigned), flagged, as_of))
}

/// The hearings to remind of, the flagged addresses, and each court's
/// data date.
type Followed = (
    Vec<Candidate>,
    BTreeSet<String>,
    BTreeMap<String, NaiveDate>,
);

/// A case's page on the website.
pub fn case_url(site: &str, case: &CaseRef) -> String {
    format!(
        "{site}/cases/{}/{}/{}/{}/{}",
        url_encode(&case.court),
        url_encode(&case.key.category),
        case.key.year,
        url_encode(&case.key.word),
        case.key.number
    )
}

/// `115/12/01（二）10:30`
pub fn when(at: NaiveDateTime) -> String {
    format!("{}{}", roc_weekday(at.date()), at.format("%H:%M"))
}

/// Queues the reminders due at `now` from the live snapshot, unless that
/// day was done from that snapshot already. With `day` (`cpor-etl send
/// --today`), those of that Taipei day as if it were that day's window
/// opening: an operator's catch-up of a missed day, and the sample data's
/// (`scripts/run-sample`); the outbox keys still keep every reminder once.
/// `verified`: the caller has just checked the live snapshot against its
/// checksum (the import, which built it and diffed it): a second check of a
/// national snapshot costs about half a second of a core, which otherwise
/// runs beside the lookup of the day's hearings.
pub fn queue_due(
    store: &Store,
    cfg: &MailSettings,
    now: DateTime<Utc>,
    day: Option<(NaiveDate, bool)>,
    verified: bool,
) -> Result<ReminderSummary, NotifyError> {
    let simulated = day.is_some();
    let as_if = day.is_some_and(|(_, forced)| forced);
    let day = day.map_or_else(|| reminder_day(now, cfg.window), |(d, _)| d);
    let mut summary = ReminderSummary {
        day: day.format("%Y-%m-%d").to_string(),
        ..ReminderSummary::default()
    };
    if !cfg.enabled || cfg.reminder_days.is_empty() {
        summary.skipped = Some("reminders are off (mail.enabled, mail.reminder_days)".into());
        return Ok(summary);
    }
    let Some(live) = store.live().map_err(NotifyError::Data)? else {
        summary.skipped = Some("no live snapshot yet".into());
        return Ok(summary);
    };
    let name = live.name();
    // An operator's day (`--today`) is worked out at once, from what is live.
    if !simulated && waits_for_the_night(day, live.date, now, cfg.window) {
        summary.waiting = Some(name);
        return Ok(summary);
    }
    let mut outbox = Outbox::open(&store.root)?;
    // An operator's catch-up after the day's window: the reminders queued
    // for it and not sent, whatever snapshot they were worked out from (a
    // night re-run since works the day out again, and finds their
    // addresses reminded).
    let end = schemas::date::taipei_at(day, cfg.window.end);
    if simulated && !as_if && now >= end {
        let today = schemas::date::taipei_date(now) == day;
        let n = outbox.unsent_reminders(day, end, today.then_some(now))?;
        summary.unsent = (n > 0).then_some((n, today));
    }
    if outbox.reminders_done(day, &name)? {
        summary.skipped = Some(format!("done already from {name}"));
        return Ok(summary);
    }
    // A hearing must start after the reminders may go out: after now, but
    // for a day worked out as if it were that day (`--force`).
    let from = send_from(
        day,
        if as_if { DateTime::<Utc>::MIN_UTC } else { now },
        cfg.window,
    );
    let from_local = from.with_timezone(&taipei()).naive_local();
    // What "明天" and "7 天後" count from: the day they go out.
    let told_on = from_local.date();
    let days: Vec<NaiveDate> = cfg
        .reminder_days
        .iter()
        .map(|l| day + Duration::days(i64::from(*l)))
        .collect();
    let started = std::time::Instant::now();
    // The snapshot's checksum is checked while its hearings are looked up,
    // each reading the whole file on a core of its own (a national
    // snapshot: about half a second each). Nothing is queued unless it
    // matches, and a damaged file is reported as such even when the
    // lookup failed on it first.
    let (mut found, flagged, as_of) = std::thread::scope(|scope| {
        let check = (!verified).then(|| scope.spawn(|| store.verify(&live)));
        let found = hearings_followed(store, &live, &days);
        if let Some(check) = check {
            check
                .join()
                .expect("checking a snapshot does not panic")
                .map_err(NotifyError::LiveDamaged)?;
        }
        found
    })?;
    tracing::debug!(
        "reminders of {day}: {} hearings of followed cases on {days:?} ({:?})",
        found.len(),
        started.elapsed()
    );
    let started = std::time::Instant::now();
    // Calendar files sent above what calendars hold (`super::floors`),
    // each UID once.
    let floors = outbox.floors()?;
    let mut raised: BTreeMap<String, mail::outbox::Floor> = BTreeMap::new();
    for c in &mut found {
        if let Some(f) = super::floors::lift(&floors, &mut c.hearing) {
            raised.insert(f.uid.clone(), f);
        }
    }
    let raised: Vec<mail::outbox::Floor> = raised.into_values().collect();
    let known = Known {
        reminded: outbox.reminded_since(to_int(day) * 1_000_000)?,
        today: outbox.reminded_on(day)?,
    };
    let key = store::secret::load_or_create_key(&store.root).map_err(NotifyError::Key)?;
    let ids = mail::MessageIds::new(&key);
    let due = plan(day, from_local, &cfg.reminder_days, &found, &known);
    // Whose account has no password yet: their reminder says how to
    // activate it (one look-up per address reminded, not per hearing
    // followed: a national day's candidates are many more).
    let not_activated = store::accounts::not_activated(
        &store::accounts::open(&store.root)?,
        due.iter().map(|d| d.email),
    )?;
    summary.already = found
        .iter()
        .filter(|c| known.today.contains(&c.email))
        .map(|c| &c.email)
        .collect::<BTreeSet<_>>()
        .len() as u64;

    let site = cfg.site_url.as_str();
    let date = SystemTime::from(now);
    let n = due.len().max(1) as i64;
    let spread = spread_within(day, from, cfg.window, cfg.spread).num_seconds();
    let render_one = |(i, d): (usize, &Due)| -> Result<NewReminder, String> {
        let mut view = View {
            subject: String::new(),
            email: d.email.to_string(),
            cases: d
                .hearings
                .iter()
                .map(|(c, _)| render::CaseView {
                    division: c.division.clone(),
                    ..render::CaseView::new(&c.case)
                })
                .collect(),
            site: site.to_string(),
            link: format!("{site}/cases"),
            expires: String::new(),
            // The data the reminders come from: the live snapshot's night.
            night: roc(live.date),
            unsubscribe: unsubscribe_url(site, &key, Mailing::Reminders, d.email),
            more: 0,
            rerun: false,
            after_earlier: false,
            for_reminders: false,
            hearings: d
                .hearings
                .iter()
                .map(|(c, _)| HearingView {
                    when: when(c.hearing.at),
                    lead: days_ahead((c.hearing.at.date() - told_on).num_days()),
                    kind: c.hearing.kind.clone(),
                    case_title: render::clean(&c.case.title()),
                    division: c.division.clone(),
                    case_link: match site {
                        "" => String::new(),
                        site => format!("{site}{}", mail::case_path(&c.case)),
                    },
                    place: c.hearing.place(),
                    uncertain: c.hearing.state == HearingState::Uncertain,
                    moved_from: c.hearing.moved_from.map(when),
                    carried_over: as_of
                        .get(&c.case.court)
                        .filter(|d| **d < live.date)
                        .map(|d| (c.hearing.court_name.clone(), roc(*d))),
                })
                .collect(),
            calendars: d.hearings.len(),
            index: Vec::new(),
            calendars_left_out: 0,
            cut_changes: Vec::new(),
            entries_left_out: false,
            not_activated: not_activated.contains(d.email),
            hearings_changed: false,
            maintenance: cfg.maintenance.said(),
        };
        // One case with two hearings is one case.
        let mut titles = BTreeSet::new();
        view.cases.retain(|c| titles.insert(c.title.clone()));
        view.subject = Kind::Reminder.subject(&view.cases);
        let mut files: Vec<CalendarFile> = d
            .hearings
            .iter()
            .map(|(c, _)| c.hearing.calendar(&c.case, d.email, cfg, now))
            .collect();
        distinct_names(&mut files);
        let id = ids.id(day, d.email, Kind::Reminder, "", &cfg.from);
        let r = render::render_with(Kind::Reminder, &view, &cfg.from, &id, date, &files)
            .map_err(|e| format!("{}: {e}", d.email))?;
        Ok(NewReminder {
            item: NewItem {
                email: d.email.to_string(),
                kind: Kind::Reminder,
                message_id: id,
                subject: r.subject,
                message: Packed::new(Kind::Reminder, &r.message),
                cases: view.cases.len(),
                case_keys: Vec::new(),
                behind: None,
            },
            state: if flagged.contains(d.email) {
                State::Suppressed
            } else {
                State::Queued
            },
            not_before: from + Duration::seconds(spread * i as i64 / n),
            hearings: d
                .hearings
                .iter()
                .map(|(c, lead)| (c.hearing.uid.clone(), datetime_to_int(c.hearing.at), *lead))
                .collect(),
        })
    };
    // Rendered a chunk at a time while the chunk before is inserted, all
    // in the one transaction of `queue_reminders`.
    let done = super::render_while_writing(due.iter().enumerate(), render_one, |rendered| {
        let items = rendered.filter_map(|r| match r {
            Ok(item) => {
                summary.hearings += item.hearings.len() as u64;
                if item.state == State::Suppressed {
                    summary.suppressed += 1;
                }
                Some(item)
            }
            Err(e) => {
                summary.invalid_addresses.push(e);
                None
            }
        });
        outbox.queue_reminders(day, &name, items, &raised, now)
    })?;
    tracing::debug!(
        "{} reminders rendered and queued ({:?})",
        due.len(),
        started.elapsed()
    );
    summary.reminders = done.added;
    summary.already += done.already;
    Ok(summary)
}

/// Two files of one mail never share a name (two hearings at one time).
pub fn distinct_names(files: &mut [CalendarFile]) {
    let mut seen = BTreeSet::new();
    for f in files.iter_mut() {
        let mut name = f.filename.clone();
        let mut k = 2;
        while !seen.insert(name.clone()) {
            name = f.filename.replace(".ics", &format!("-{k}.ics"));
            k += 1;
        }
        f.filename = name;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveTime, TimeZone};
    use proptest::prelude::*;
    use schemas::CaseKey;

    /// A reminder of a moved hearing says when it was before: the date of
    /// the same hearing's last *moved* row (moved twice: the second-last
    /// date, the one its follower was last told), never another
    /// hearing's, and nothing when only its courtroom changed.
    #[test]
    fn a_moved_hearing_is_reminded_with_the_date_it_was_moved_from() {
        let row = |origin: u32, sequence: u32, day: u32, state: HearingState| HearingData {
            seq: origin + sequence,
            posted: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            origin: hearing_list::Origin {
                kind: "言詞辯論",
                seq: origin,
                part: 0,
            },
            sequence,
            at: NaiveDate::from_ymd_opt(2026, 12, day)
                .unwrap()
                .and_hms_opt(10, 30, 0)
                .unwrap(),
            courtroom: None,
            kind: "言詞辯論",
            state,
            by: None,
        };
        let list = vec![
            row(5, 0, 3, HearingState::Moved),
            row(5, 1, 5, HearingState::Moved),
            row(5, 2, 8, HearingState::Scheduled),
            row(9, 0, 1, HearingState::Moved),
            row(9, 1, 12, HearingState::Scheduled),
            // 12's courtroom corrected: the same time, one up.
            row(12, 0, 20, HearingState::Moved),
            row(12, 1, 20, HearingState::Scheduled),
            row(14, 0, 22, HearingState::Scheduled),
        ];
        let from = |i: usize| {
            OnDay::of(&list[i], &list)
                .moved_from
                .map(|at| at.date().day())
        };
        assert_eq!(from(2), Some(5));
        assert_eq!(from(4), Some(1));
        assert_eq!(from(6), None);
        assert_eq!(from(7), None);
    }

    fn window() -> Window {
        Window {
            start: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        }
    }

    const EMAILS: [&str; 3] = ["a@x.tw", "b@x.tw", "c@x.tw"];

    /// Spread only when the spread ends a spread before the window closes:
    /// the last reminder is then due by 20:40 at the latest (window 07:00
    /// to 21:00, 20 minutes), and the runs to come send it in time.
    #[test]
    fn reminders_are_spread_only_where_the_window_leaves_room() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let at = |h, m| taipei_at(day, NaiveTime::from_hms_opt(h, m, 0).unwrap());
        let spread = Duration::minutes(20);
        for (from, want) in [
            (at(7, 0), 20),
            (at(12, 0), 20),
            (at(20, 20), 20),
            (at(20, 21), 0),
            (at(20, 55), 0),
            (at(20, 59), 0),
        ] {
            assert_eq!(
                spread_within(day, from, window(), spread),
                Duration::minutes(want),
                "{from}"
            );
            assert!(from + spread_within(day, from, window(), spread) <= at(21, 0));
        }
    }

    /// A reminder given: UID, start, lead.
    type Given = (String, NaiveDateTime, u32);
    const STATES: [HearingState; 4] = [
        HearingState::Scheduled,
        HearingState::Moved,
        HearingState::Cancelled,
        HearingState::Uncertain,
    ];

    /// Days around month ends (Jan 31, Feb 28/29, Apr 30, Dec 31 and the
    /// days next to them), 2026 to 2028.
    fn base_day() -> impl Strategy<Value = NaiveDate> {
        (
            2026i32..=2028,
            prop::sample::select(vec![(1, 31), (2, 28), (2, 29), (4, 30), (12, 31), (6, 15)]),
            -8i64..=8,
        )
            .prop_map(|(y, (m, d), off)| {
                let d = NaiveDate::from_ymd_opt(y, m, d)
                    .unwrap_or_else(|| NaiveDate::from_ymd_opt(y, m, 28).unwrap());
                d + Duration::days(off)
            })
    }

    /// Times of day around midnight and the window's edges.
    fn time_of_day() -> impl Strategy<Value = NaiveTime> {
        prop_oneof![
            prop::sample::select(vec![
                (0, 0, 0),
                (0, 0, 1),
                (6, 59, 59),
                (7, 0, 0),
                (20, 59, 59),
                (21, 0, 0),
                (23, 59, 59)
            ])
            .prop_map(|(h, m, s)| NaiveTime::from_hms_opt(h, m, s).unwrap()),
            (0u32..24, 0u32..60).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap()),
        ]
    }

    fn candidate() -> impl Strategy<Value = (usize, u8, i64, NaiveTime, usize, bool)> {
        // address, hearing number, day offset from the base day, time,
        // state, whether the address has it as a prosecutor (else granted)
        (
            0usize..3,
            0u8..6,
            -2i64..=10,
            time_of_day(),
            0usize..4,
            any::<bool>(),
        )
    }

    fn case() -> CaseRef {
        CaseRef {
            court: "TPD".into(),
            key: CaseKey {
                category: "民事".into(),
                year: 115,
                word: "訴".into(),
                number: 1,
            },
        }
    }

    proptest! {
        /// Reminders over two weeks of sends, in Asia/Taipei: each run at a
        /// random time of a day queues that run's reminder day; a hearing
        /// is reminded exactly once per lead, on the Taipei day `lead` days
        /// before its own, inside the window and before it starts, only
        /// while scheduled or uncertain and the account wants reminders
        /// (an applicant's unless turned off; a prosecutor's, assigned
        /// hearings, only turned on); at most one message per address and
        /// day, whether its hearings are granted, assigned or both.
        #[test]
        fn reminders_come_once_per_lead_on_the_right_taipei_day(
            base in base_day(),
            raw in prop::collection::vec(candidate(), 0..12),
            runs in prop::collection::vec((0i64..14, time_of_day()), 1..30),
            off_flags in prop::collection::vec(any::<bool>(), 3),
        ) {
            let leads = [7u32, 1];
            let w = window();
            let mut off = BTreeSet::new();
            for (i, o) in off_flags.iter().enumerate() {
                if *o {
                    off.insert(EMAILS[i].to_string());
                }
            }
            // One row per hearing and address, as the snapshot's current
            // rows are: the UID names the hearing, `n` its case.
            let rows: Vec<(Candidate, bool)> = raw
                .iter()
                .enumerate()
                .map(|(i, &(who, n, day, t, state, prosecutor))| {
                    let c = Candidate {
                        email: EMAILS[who].into(),
                        case: case(),
                        division: None,
                        hearing: Standing {
                            uid: format!("{i}.{n}@cpor"),
                            sequence: 0,
                            at: (base + Duration::days(day)).and_time(t),
                            courtroom: None,
                            kind: "言詞辯論".into(),
                            state: STATES[state],
                            court_name: "臺灣臺北地方法院".into(),
                            moved_from: None,
                        },                    };
                    (c, prosecutor)
                })
                .collect();
            let of = |prosecutor: bool| -> Vec<Candidate> {
                rows.iter()
                    .filter(|(_, p)| *p == prosecutor)
                    .map(|(c, _)| c.clone())
                    .collect()
            };
            let candidates = followed(of(false), &off, of(true));
            let mut known = Known::default();
            let mut runs = runs;
            runs.sort();
            // (address, day) → hearings (uid, at, lead) reminded that day
            let mut sent: BTreeMap<(String, NaiveDate), Vec<Given>> = BTreeMap::new();
            // The first run of each reminder day, and when it may send.
            let mut first: BTreeMap<NaiveDate, NaiveDateTime> = BTreeMap::new();
            for (d, t) in runs {
                let local = (base + Duration::days(d)).and_time(t);
                let now = taipei().from_local_datetime(&local).unwrap().with_timezone(&Utc);
                let day = reminder_day(now, w);
                // The day is the window's next opening.
                if t < w.end {
                    prop_assert_eq!(day, local.date());
                } else {
                    prop_assert_eq!(day, local.date() + Duration::days(1));
                }
                let from = send_from(day, now, w);
                let from_local = from.with_timezone(&taipei()).naive_local();
                prop_assert_eq!(from_local.date(), day);
                prop_assert!(w.contains(from_local.time()));
                first.entry(day).or_insert(from_local);
                known.today = sent
                    .keys()
                    .filter(|(_, d)| *d == day)
                    .map(|(e, _)| e.clone())
                    .collect();
                let due = plan(day, from_local, &leads, &candidates, &known);
                let mut seen = BTreeSet::new();
                for d in &due {
                    prop_assert!(seen.insert(d.email), "one message per address");
                    prop_assert!(!d.hearings.is_empty());
                    for (c, lead) in &d.hearings {
                        prop_assert_eq!(c.hearing.at.date() - day, Duration::days(i64::from(*lead)));
                        prop_assert!(leads.contains(lead));
                        prop_assert!(c.hearing.at > from_local, "never a past hearing");
                        prop_assert!(matches!(
                            c.hearing.state,
                            HearingState::Scheduled | HearingState::Uncertain
                        ));
                        known.reminded.insert((
                            c.email.clone(),
                            c.hearing.uid.clone(),
                            datetime_to_int(c.hearing.at),
                            *lead,
                        ));
                    }
                    let key = (d.email.to_string(), day);
                    prop_assert!(!sent.contains_key(&key), "one message a day");
                    sent.insert(
                        key,
                        d.hearings.iter().map(|(c, l)| (c.hearing.uid.clone(), c.hearing.at, *l)).collect(),
                    );
                }
            }
            // Never twice for the same hearing and lead.
            let mut all = BTreeSet::new();
            for ((email, _), hs) in &sent {
                for (uid, at, lead) in hs {
                    prop_assert!(all.insert((email.clone(), uid.clone(), *at, *lead)));
                }
            }
            // And every hearing that should be, is: the first run of the
            // day `lead` days before it, if that run sends before it starts.
            for (c, prosecutor) in &rows {
                let wanted = c.hearing.state.takes_place()
                    && (*prosecutor || !off.contains(&c.email));
                for lead in leads {
                    let day = c.hearing.at.date() - Duration::days(i64::from(lead));
                    let due = wanted && first.get(&day).is_some_and(|from| c.hearing.at > *from);
                    let got = all.contains(&(c.email.clone(), c.hearing.uid.clone(), c.hearing.at, lead));
                    prop_assert_eq!(got, due, "{:?} lead {}", c, lead);
                }
            }
        }
    }

    /// An address granted a case and, as a prosecutor, assigned it hears
    /// of its hearing once; its applicant account's "off" does not stop
    /// what its prosecutor's account turned on.
    #[test]
    fn an_address_granted_and_assigned_a_case_hears_of_its_hearing_once() {
        let at = NaiveDateTime::parse_from_str("2027-03-08 10:00", "%Y-%m-%d %H:%M").unwrap();
        let c = |uid: &str| Candidate {
            email: "a@x.tw".into(),
            case: case(),
            division: None,
            hearing: Standing {
                uid: uid.into(),
                sequence: 0,
                at,
                courtroom: None,
                kind: "宣判".into(),
                state: HearingState::Scheduled,
                court_name: "臺灣臺北地方法院".into(),
                moved_from: None,
            },
        };
        let day = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        let from = day.and_hms_opt(7, 0, 0).unwrap();
        let both = followed(
            vec![c("1@cpor"), c("2@cpor")],
            &BTreeSet::new(),
            vec![c("1@cpor")],
        );
        let due = plan(day, from, &[7, 1], &both, &Known::default());
        assert_eq!(due.len(), 1);
        let uids: Vec<&str> = due[0]
            .hearings
            .iter()
            .map(|(c, _)| c.hearing.uid.as_str())
            .collect();
        assert_eq!(uids, ["1@cpor", "2@cpor"]);
        let off = BTreeSet::from(["a@x.tw".to_string()]);
        let assigned_only = followed(vec![c("1@cpor"), c("2@cpor")], &off, vec![c("1@cpor")]);
        let due = plan(day, from, &[7, 1], &assigned_only, &Known::default());
        let uids: Vec<&str> = due[0]
            .hearings
            .iter()
            .map(|(c, _)| c.hearing.uid.as_str())
            .collect();
        assert_eq!(uids, ["1@cpor"]);
    }

    /// The night's batch is awaited from the window's close until its
    /// opening the next day, and only while the live snapshot is older;
    /// at the opening, whatever is live is used.
    #[test]
    fn a_days_reminders_wait_for_its_nights_batch_until_the_window_opens() {
        let w = window();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let local = |s: &str| {
            let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
            taipei_at(t.date(), t.time())
        };
        // (Taipei now, live batch, whether the reminder day's wait)
        let cases = [
            // The timer after the window closed: tomorrow's, not from today's batch.
            ("2027-02-27 21:05:00", "2027-02-27", true),
            ("2027-02-27 23:59:59", "2027-02-27", true),
            ("2027-02-28 00:05:00", "2027-02-27", true),
            // The night's import published batch Feb 28: at once.
            ("2027-02-28 01:40:00", "2027-02-28", false),
            // No import yet a second before the opening; at it, from what is live.
            ("2027-02-28 06:59:59", "2027-02-27", true),
            ("2027-02-28 07:00:00", "2027-02-27", false),
            ("2027-02-28 12:00:00", "2027-02-20", false),
            // Inside the window the day is today's, its batch awaited no more.
            ("2027-02-28 20:59:59", "2027-02-27", false),
        ];
        for (now, live, waits) in cases {
            let now = local(now);
            let day = reminder_day(now, w);
            assert_eq!(
                waits_for_the_night(day, d(live), now, w),
                waits,
                "at {now} (reminders of {day}), live batch {live}"
            );
        }
    }

    #[test]
    fn around_midnight_and_a_month_end() {
        let w = window();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let c = |s: &str, state| Candidate {
            email: "a@x.tw".into(),
            case: case(),
            division: None,
            hearing: Standing {
                uid: format!("{s}@cpor"),
                sequence: 0,
                at: at(s),
                courtroom: None,
                kind: "宣判".into(),
                state,
                court_name: "臺灣臺北地方法院".into(),
                moved_from: None,
            },
        };
        let candidates = vec![
            c("2027-03-01 00:00", HearingState::Scheduled),
            c("2027-03-07 23:59", HearingState::Scheduled),
            c("2027-03-01 09:00", HearingState::Cancelled),
            c("2027-03-01 10:00", HearingState::Moved),
            c("2027-03-02 00:00", HearingState::Scheduled),
        ];
        // 22:30 Taipei on Feb 27 (14:30 UTC): the window is closed; the
        // next opening is Feb 28 07:00, and its reminders are for Mar 1
        // (1 day) and Mar 7 (7 days), whatever the UTC date says.
        let now = DateTime::parse_from_rfc3339("2027-02-27T14:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = reminder_day(now, w);
        assert_eq!(day, NaiveDate::from_ymd_opt(2027, 2, 28).unwrap());
        let from = send_from(day, now, w)
            .with_timezone(&taipei())
            .naive_local();
        assert_eq!(from, at("2027-02-28 07:00"));
        let due = plan(day, from, &[7, 1], &candidates, &Known::default());
        assert_eq!(due.len(), 1);
        let got: Vec<(&str, u32)> = due[0]
            .hearings
            .iter()
            .map(|(c, l)| (c.hearing.uid.as_str(), *l))
            .collect();
        assert_eq!(
            got,
            [("2027-03-01 00:00@cpor", 1), ("2027-03-07 23:59@cpor", 7)]
        );
        assert_eq!(when(at("2027-03-01 00:00")), "116/03/01（一）00:00");
    }
}
