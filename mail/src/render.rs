//! Rendering e-mail: view models, one text + HTML template pair per kind
//! (askama, `mail/templates/mail/`, sharing a base with header and footer;
//! each `Kind` knows its pair), and the RFC 5322 message around them (built by lettre; `encode` encodes
//! the bodies byte for byte as lettre would, in a fraction of the time,
//! keeping those lettre would send as base64 as 8bit, which `wire` encodes
//! when the message is sent).
//!
//! Everything people read is Traditional Chinese with ROC dates. The subject
//! names the case when there is one. Private-use code points (user-defined
//! characters nobody mapped) never appear raw: they show as 〓.

use std::time::SystemTime;

use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;

mod encode;
mod parts;
mod readable;
pub(crate) mod wire;

pub use self::parts::{Group, Part, HEADED_FROM};
pub use self::readable::readable;
pub use self::wire::wire;

use chrono::NaiveDate;
use schemas::date::roc;
use schemas::CaseRef;

use self::encode::body;

pub use crate::kind::{Kind, Slant};

/// An entry as mail shows it.
#[derive(Debug, Clone)]
pub struct EntryView {
    pub posted: String,
    /// Its first line; an entry may have more (`more`), which the text
    /// part indents under it and the HTML part breaks with `<br>`.
    pub text: String,
    pub more: Vec<String>,
    /// For an entry the court revised, what it said before, as the digest
    /// words it after 內容更新: `原為：115/11/30 11:00第三法庭宣判`, `原登載日期：
    /// 115/10/27`, or both (`原登載日期 115/10/27，原為：宣判`).
    pub revised: Option<String>,
}

/// A case as mail shows it.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// `臺灣臺北地方法院 民事 115年度訴字第100號`
    pub title: String,
    /// The case's page on the site, from the site's root:
    /// `/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E8%A8%B4/100`.
    pub path: String,
    /// Its 股別 (`忠股`), if the court gives one: whom to ask at the court.
    pub division: Option<String>,
    pub role: Option<String>,
    pub last_day: Option<String>,
    pub entries: Vec<EntryView>,
    /// What a digest says of hearings the court corrected without news
    /// (a withdrawn entry): one line each, `115/12/10（四）10:00 言詞辯論
    /// 臺灣臺北地方法院 第一法庭：本服務已無此庭期資料…`.
    pub hearings: Vec<String>,
    /// What its news entries do to its hearings: a long list keeps first
    /// the cases whose hearings changed, then those with one announced
    /// ([`View::trim`]).
    pub hearing_news: HearingNews,
    /// Past its last day (`last_day`) already when told of, and why it
    /// could not be told before: an expiry mail says it has stopped being
    /// queryable.
    pub ended: Option<Ended>,
    /// Why a digest lists it: its news, or, with its latest entries as
    /// they stand (not news), a case newly assigned to the prosecutor the
    /// digest goes to, or one back after its last day had passed.
    pub listed: Listed,
    /// The calendar files a digest attaches for its news: attached only
    /// while the case is listed in full ([`View::trim`]).
    pub calendars: Vec<CalendarFile>,
}

/// Why a case an expiry mail lists had stopped being queryable before it
/// could be told (its mail says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The court posted its status after its last day had passed: no
    /// warning could go before (`notify::ended`).
    PostedLate,
    /// Its warning was queued in time but not delivered before the last
    /// day (the relay down across it), and was withheld for naming a case
    /// past it (`notify::retell`).
    WarningLate,
}

/// What a digest's cases are listed for, which its heading and subject say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    /// A case listed for its news has entries.
    pub news: bool,
    /// A case has hearings corrected without news (`CaseView::hearings`).
    pub corrections: bool,
    /// A case newly assigned to the prosecutor ([`Listed::Assigned`]).
    pub assigned: bool,
    /// A case back after its last day ([`Listed::Back`]).
    pub back: bool,
}

impl Contents {
    pub fn of(cases: &[CaseView]) -> Contents {
        Contents {
            news: cases
                .iter()
                .any(|c| c.listed == Listed::News && !c.entries.is_empty()),
            corrections: cases.iter().any(|c| !c.hearings.is_empty()),
            assigned: cases.iter().any(|c| c.listed == Listed::Assigned),
            back: cases.iter().any(|c| c.listed == Listed::Back),
        }
    }

    /// The cases listed with their latest entries, not news, as the mail
    /// says them: `新列為您承辦`, `已恢復查詢`, or both (`…或…`).
    pub fn others(&self) -> Option<String> {
        let words: Vec<&str> = [(self.assigned, "新列為您承辦"), (self.back, "已恢復查詢")]
            .into_iter()
            .filter_map(|(has, words)| has.then_some(words))
            .collect();
        (!words.is_empty()).then(|| words.join("或"))
    }
}

/// Why a digest lists a case ([`CaseView::listed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Listed {
    /// Its news.
    #[default]
    News,
    /// Newly assigned to the prosecutor the digest goes to.
    Assigned,
    /// Queryable again after its last day passed (a status or its date
    /// corrected, or the case back from a higher court), to an address told
    /// it had stopped.
    Back,
}

/// What a case's news does to its hearings ([`CaseView::hearing_news`]),
/// in the order a cut list keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum HearingNews {
    /// A hearing moved, cancelled or otherwise changed.
    Changed,
    /// A new hearing announced.
    Announced,
    #[default]
    None,
}

impl CaseView {
    /// What is said beside its title: its 股別 and the address's role in
    /// it, `忠股，身分：原告`; `None` when neither is known.
    pub fn about(&self) -> Option<String> {
        let role = self.role.as_ref().map(|r| format!("身分：{r}"));
        match (&self.division, role) {
            (Some(d), Some(r)) => Some(format!("{d}，{r}")),
            (Some(d), None) => Some(d.clone()),
            (None, r) => r,
        }
    }

    /// What is said of a case listed for another reason than its news
    /// ([`CaseView::listed`]), before its latest entries.
    pub fn listed_as(&self) -> Option<String> {
        let why = match self.listed {
            Listed::News => return None,
            Listed::Assigned => "本案新列為您承辦",
            Listed::Back => "本案已恢復查詢",
        };
        Some(match self.entries.is_empty() {
            true => why.to_string(),
            false => format!("{why}，以下為最近的進行事項："),
        })
    }

    pub fn new(case: &CaseRef) -> CaseView {
        CaseView {
            title: clean(&case.title()),
            path: crate::case_path(case),
            division: None,
            role: None,
            last_day: None,
            entries: Vec::new(),
            hearings: Vec::new(),
            hearing_news: HearingNews::None,
            ended: None,
            listed: Listed::News,
            calendars: Vec::new(),
        }
    }

    /// Whether its news is a ruling (a word of [`RULINGS`] in an entry
    /// that sets no hearing: `定115/12/24 16:00宣判` is a day set, from
    /// which nothing runs yet): a time to appeal or to comply may run from
    /// it, so a cut list keeps it before routine news and hearings
    /// announced.
    pub fn rules(&self) -> bool {
        self.listed == Listed::News
            && self.entries.iter().any(|e| {
                std::iter::once(&e.text).chain(&e.more).any(|t| {
                    RULINGS.iter().any(|w| t.contains(w))
                        && schemas::hearing::scheduled_slot(t).is_none()
                })
            })
    }

    /// What the index of a cut list says beside its title
    /// ([`View::index`]): its latest entry (the first: latest first) on one
    /// line, cut to [`INDEX_TEXT`] characters, else its hearings'
    /// correction, else its last day.
    pub fn brief(&self) -> Option<String> {
        // (a prosecutor's case listed for another reason than news says it)
        let why = match self.listed {
            Listed::News => "",
            Listed::Assigned => "新列為您承辦；",
            Listed::Back => "已恢復查詢；",
        };
        if let Some(e) = self.entries.first() {
            let text: String = std::iter::once(e.text.as_str())
                .chain(e.more.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            let cut = match text.chars().count() > INDEX_TEXT {
                true => text.chars().take(INDEX_TEXT - 1).chain(['…']).collect(),
                false => text,
            };
            return Some(format!("{why}{} 登載：{cut}", e.posted));
        }
        if !self.hearings.is_empty() {
            return Some("庭期更正".into());
        }
        self.last_day.as_ref().map(|d| match self.ended {
            Some(_) => format!("最後可查詢日：{d}（已過）"),
            None => format!("最後可查詢日：{d}"),
        })
    }

    /// An entry; `was`, for one the court revised, is its date and text as
    /// they were shown before.
    pub fn entry(
        mut self,
        posted: NaiveDate,
        text: &str,
        was: Option<(NaiveDate, &str)>,
    ) -> CaseView {
        let revised =
            was.map(
                |(was_posted, was_text)| match (was_posted == posted, was_text == text) {
                    (true, _) => format!("原為：{}", one_line(was_text)),
                    (false, true) => format!("原登載日期：{}", roc(was_posted)),
                    (false, false) => {
                        format!(
                            "原登載日期 {}，原為：{}",
                            roc(was_posted),
                            one_line(was_text)
                        )
                    }
                },
            );
        let text = clean(text);
        let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
        self.entries.push(EntryView {
            posted: roc(posted),
            text: lines.next().unwrap_or_default().to_string(),
            more: lines.map(String::from).collect(),
            revised,
        });
        self
    }
}

pub use schemas::text::clean;

/// An entry's text on one line (what it said before, inside parentheses).
fn one_line(text: &str) -> String {
    clean(text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hearing as a reminder shows it.
#[derive(Debug, Clone)]
pub struct HearingView {
    /// `115/12/01（二）10:30`
    pub when: String,
    /// `明天`, `7 天後`
    pub lead: String,
    pub kind: String,
    /// `臺灣臺北地方法院 民事 115年度訴字第100號`
    pub case_title: String,
    /// The case's 股別 (`忠股`), if the court gives one.
    pub division: Option<String>,
    /// The case's page on the site (empty: the site is not linked).
    pub case_link: String,
    /// The court and the courtroom.
    pub place: String,
    /// A later entry may have moved or cancelled it.
    pub uncertain: bool,
    /// When it was before a later entry moved it (`115/12/03（四）10:30`).
    pub moved_from: Option<String>,
    /// Its court's data is carried over from an earlier night (the court
    /// was absent or unusable since): the court's name and that night (ROC).
    pub carried_over: Option<(String, String)>,
}

/// A calendar file attached to a mail (`hearing-20261201-1030.ics`).
#[derive(Debug, Clone)]
pub struct CalendarFile {
    pub filename: String,
    /// `REQUEST` or `CANCEL`: the MIME type's `method` (RFC 6047 §2.4).
    pub method: &'static str,
    pub text: String,
}

impl CalendarFile {
    /// Whether it changes a hearing a calendar may hold
    /// ([`changes_a_hearing`]).
    pub fn changes(&self) -> bool {
        changes_a_hearing(self.method, &self.text)
    }
}

/// Whether a calendar file of `method` and `text` changes a hearing a
/// calendar may hold: a cancellation (`CANCEL`), or an update (`SEQUENCE`
/// above 0: moved, corrected, back on). A cut list attaches these whatever
/// the cut ([`View::trim`]), and `send` does not hold back a digest that
/// carries one from an address that keeps reminders
/// (`send::unsubscribed`): one rule for both.
pub fn changes_a_hearing(method: &str, text: &str) -> bool {
    method.eq_ignore_ascii_case("CANCEL")
        || text.lines().any(|l| {
            l.strip_prefix("SEQUENCE:")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .is_some_and(|n| n > 0)
        })
}

/// Everything any template may show.
#[derive(Debug, Clone)]
pub struct View {
    pub subject: String,
    pub email: String,
    pub cases: Vec<CaseView>,
    /// The site's address (`mail.site_url`), before each case's path; empty:
    /// the cases are not linked.
    pub site: String,
    /// The link the mail is about (activation, login).
    pub link: String,
    /// Until when an activation link works (ROC).
    pub expires: String,
    /// The night the data comes from (ROC).
    pub night: String,
    /// The one-click unsubscribe link (`mail::unsubscribe_url`): of
    /// digests, or for a reminder, of reminders.
    pub unsubscribe: String,
    /// Cases not listed (a long list is cut: the site has them all).
    pub more: usize,
    /// A digest of a re-run of the night: only what the night's earlier
    /// digest lacked (a court's corrected files), said so.
    pub rerun: bool,
    /// Of a re-run's digest: the address had the night's earlier digest,
    /// which did not list this (not said to an address that had none).
    pub after_earlier: bool,
    /// A digest to an address that turned digests off but keeps reminders:
    /// only its cases' hearings' changes, said so, with the reminders'
    /// unsubscribe link.
    pub for_reminders: bool,
    /// The hearings a reminder is about, in time order.
    pub hearings: Vec<HearingView>,
    /// How many calendar files the mail attaches (a digest that announces
    /// hearings says what they are).
    pub calendars: usize,
    /// The cases a long list names without listing them in full (after
    /// the first [`MAX_LISTED`], up to [`MAX_INDEXED`]), each on a line of
    /// its own ([`CaseView::brief`]); `more` counts those after them.
    pub index: Vec<CaseView>,
    /// The calendar files of a digest's hearings left unattached, their
    /// cases not listed in full ([`View::trim`]): the digest says how many,
    /// and where they are (each case's page, the account's feed). Only
    /// announcements: a file that changes a hearing is attached whatever
    /// the cut (`cut_changes`), up to [`MAX_CUT_CHANGES`].
    pub calendars_left_out: usize,
    /// The calendar files of the cases cut from the list that change a
    /// hearing a calendar may hold ([`CalendarFile::changes`]): attached,
    /// since no later mail tells those changes again.
    pub cut_changes: Vec<CalendarFile>,
    /// `trim` left the cases' entries out (a grant's mail naming more than
    /// `ENTRIES_UP_TO` cases): the mail says so.
    pub entries_left_out: bool,
    /// The address has no password yet (never activated): a digest, an
    /// expiry warning or a reminder says how to activate, and links to
    /// /forgot for a new link, not to a login it cannot pass.
    pub not_activated: bool,
    /// A digest whose news moves or cancels a hearing (a calendar file it
    /// attaches changes one already announced): its subject says 庭期異動.
    pub hearings_changed: bool,
    /// The site's nightly pause as the footer says it, `00:30 至 03:00`
    /// (`Maintenance::said`); empty: the site has none, and
    /// the footer says nothing of it.
    pub maintenance: String,
}

/// At most this many cases are listed in one mail...
pub const MAX_LISTED: usize = 30;
/// ...and after them, at most this many named, a line each ([`View::index`]):
/// a lawyer's digest of a busy night names every case with news (the
/// many-cases review of the fifty-third session).
pub const MAX_INDEXED: usize = 500;
/// What an index line shows of a case's latest entry, in characters.
pub const INDEX_TEXT: usize = 40;
/// At most this many calendar files that change a hearing are attached
/// for the cases a list cuts (a typhoon day's cancellations for a lawyer
/// of hundreds of cases): about 2 KB each, well within what relays take.
pub const MAX_CUT_CHANGES: usize = 1000;
/// Words of an entry that make its news a ruling ([`CaseView::rules`]).
pub const RULINGS: [&str; 3] = ["判決", "裁定", "宣判"];
/// ...and their entries only when an activation or approval names at most
/// this many (a lawyer's first mail can name hundreds of cases).
pub const ENTRIES_UP_TO: usize = 3;

impl View {
    /// Whether a case it lists has entries: a digest of hearing corrections
    /// alone says so instead of telling of new entries.
    pub fn has_entries(&self) -> bool {
        self.cases.iter().any(|c| !c.entries.is_empty())
    }

    /// What a digest says first of what it lists: news, hearings' changes
    /// (to an address that keeps only reminders), corrections alone, and
    /// cases listed with their latest entries, which are not news
    /// ([`CaseView::listed`]).
    pub fn digest_says(&self) -> String {
        if self.for_reminders {
            return "您關注的案件庭期有異動".into();
        }
        let listed = Contents::of(&self.cases);
        let first = match (listed.news, listed.corrections) {
            (true, _) => "您關注的案件有新的進行事項",
            (false, true) => "您關注的案件庭期有更正",
            (false, false) => "",
        };
        match (first, listed.others()) {
            ("", Some(others)) => format!("下列案件{others}"),
            ("", None) => "您關注的案件庭期有更正".into(),
            (first, Some(others)) => format!("{first}，並有案件{others}"),
            (first, None) => first.into(),
        }
    }

    /// How many of the cases it lists are past their last day already
    /// ([`CaseView::ended`]): an expiry mail of them all says they have
    /// stopped being queryable, not that they will.
    pub fn ended(&self) -> usize {
        self.cases.iter().filter(|c| c.ended.is_some()).count()
    }

    /// Whether a case it lists had stopped before it could be told for
    /// `why`: the mail says why it was not told before.
    pub fn ended_as(&self, why: Ended) -> bool {
        self.cases.iter().any(|c| c.ended == Some(why))
    }

    /// Whether a case it lists says its last day (最後可查詢日): an
    /// activation or approval then says what that day means, in the
    /// expiry warning's words, so that the warning queued behind it need
    /// not go once it was sent (`notify::queue`, `Event::Covered`).
    pub fn ending(&self) -> bool {
        self.cases.iter().any(|c| c.last_day.is_some())
    }

    /// What it says of 〓 if it shows one (a character the export's
    /// encoding or its EUDC.csv could not give, as in a rare name), since
    /// it reads as broken data (`schemas::text::GETA_NOTE`).
    pub fn geta_note(&self) -> Option<&'static str> {
        let cases = self.cases.iter().chain(&self.index).flat_map(|c| {
            let entries = c.entries.iter().flat_map(|e| {
                [e.text.as_str()]
                    .into_iter()
                    .chain(e.more.iter().map(String::as_str))
                    .chain(e.revised.as_deref())
            });
            [c.title.as_str()]
                .into_iter()
                .chain(c.division.as_deref())
                .chain(c.role.as_deref())
                .chain(c.hearings.iter().map(String::as_str))
                .chain(entries)
        });
        let hearings = self.hearings.iter().flat_map(|h| {
            [h.kind.as_str(), h.case_title.as_str(), h.place.as_str()]
                .into_iter()
                .chain(h.division.as_deref())
        });
        schemas::text::geta_note(cases.chain(hearings))
    }

    /// How many other hearings a reminder tells of at the same time as
    /// `h` (in another court, or another case): the reminder says so of
    /// each, a clash the reader must resolve with the courts.
    pub fn at_the_same_time(&self, h: &HearingView) -> usize {
        self.hearings.iter().filter(|o| o.when == h.when).count() - 1
    }

    /// Whether a case it lists has hearings the court corrected without
    /// news (`CaseView::hearings`).
    pub fn has_corrections(&self) -> bool {
        self.cases.iter().any(|c| !c.hearings.is_empty())
    }

    /// Its subject as a mail of `kind`: the kind's ([`subject`]), or, for
    /// a digest to an address that keeps only reminders, that its cases'
    /// hearings have changed.
    pub fn subject_as(&self, kind: Kind) -> String {
        let slant = if self.for_reminders {
            Slant::ForReminders
        } else if self.hearings_changed {
            Slant::HearingsChanged
        } else {
            Slant::News
        };
        kind.subject_with(&self.cases, slant)
    }

    /// The subject of a mail of `kind`, then the list cut
    /// ([`View::trim`]): the subject counts every case, not those listed.
    pub fn finish(&mut self, kind: Kind, keep_entries: bool) {
        self.subject = self.subject_as(kind);
        self.trim(keep_entries);
    }

    /// Cuts the list of cases to what a mail should carry. A long list
    /// keeps first the cases whose hearings were corrected without news
    /// (`CaseView::hearings`) or changed by news, then those whose news is
    /// a ruling (`CaseView::rules`), then those whose news announces a
    /// hearing (`CaseView::hearing_news`), the others after them, each part
    /// in its order ([`Part`]: a digest shows them under their headings,
    /// `View::parts`): the list is what says which hearing moved or left the
    /// calendar, and why. (Before, one moved hearing among a hundred cases
    /// of routine news was cut, seen only as an attachment.) The cases
    /// after the first [`MAX_LISTED`] are named in the index, and their
    /// calendar files are not attached (`calendars_left_out`): before, a
    /// lawyer's busy night attached thousands, past what relays take.
    pub fn trim(&mut self, keep_entries: bool) {
        if !keep_entries {
            self.entries_left_out = self.has_entries();
            for c in &mut self.cases {
                c.entries.clear();
            }
        }
        if self.cases.len() > MAX_LISTED {
            // (stable: the order within each part stays; a grant's cases
            // that end soon first, so that up to MAX_LISTED of them each
            // show their last day, which `notify::queue` counts on)
            // (cached: a case's part reads its entries' words, once)
            self.cases.sort_by_cached_key(|c| {
                // (an expiry mail's ended cases before those still to end)
                (Part::of(c), c.ended.is_none(), c.last_day.is_none())
            });
            let mut cut = self.cases.split_off(MAX_LISTED);
            // (a cancellation or a move is attached whatever the cut: no
            // later mail tells it again, the review of the session's change)
            for file in cut
                .iter_mut()
                .flat_map(|c| std::mem::take(&mut c.calendars))
            {
                if file.changes() && self.cut_changes.len() < MAX_CUT_CHANGES {
                    self.cut_changes.push(file);
                } else {
                    self.calendars_left_out += 1;
                }
            }
            self.more = cut.len().saturating_sub(MAX_INDEXED);
            cut.truncate(MAX_INDEXED);
            self.index = cut;
        }
    }

    /// The calendar files to attach, taken from the view: those of the
    /// cases listed in full, and those of the cut ones that change a
    /// hearing; `calendars` counts them.
    pub fn take_calendars(&mut self) -> Vec<CalendarFile> {
        let files: Vec<CalendarFile> = self
            .cases
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.calendars))
            .chain(std::mem::take(&mut self.cut_changes))
            .collect();
        self.calendars = files.len();
        files
    }

    /// Whether a case its index names shows an entry: the index's heading
    /// says so.
    pub fn index_has_entries(&self) -> bool {
        self.index.iter().any(|c| !c.entries.is_empty())
    }
}

/// The subject: the case when there is one, else how many.
pub fn subject(kind: Kind, cases: &[CaseView]) -> String {
    kind.subject(cases)
}

/// The text and HTML bodies of a mail.
pub fn bodies(kind: Kind, view: &View) -> Result<(String, String), askama::Error> {
    kind.bodies(view)
}

/// Why a mail could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("address `{address}`: {reason}")]
    Address { address: String, reason: String },
    #[error("message: {0}")]
    Message(String),
}

/// A header lettre has no type for, as it is written.
fn raw(name: &'static str, value: impl Into<String>) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.into())
}

/// A whole message, as the outbox keeps it: [`wire`] makes it what is
/// sent (its bodies and calendar files that go as base64 are kept as
/// 8bit).
pub struct Rendered {
    pub subject: String,
    pub message: Vec<u8>,
}

/// Renders one mail into an RFC 5322 message (multipart/alternative, text
/// first), with the given Message-ID and date.
pub fn render(
    kind: Kind,
    view: &View,
    from: &Mailbox,
    message_id: &str,
    date: SystemTime,
) -> Result<Rendered, RenderError> {
    render_with(kind, view, from, message_id, date, &[])
}

/// `render`, with calendar files attached (multipart/mixed: the bodies,
/// then each file as `text/calendar; method=…`).
pub fn render_with(
    kind: Kind,
    view: &View,
    from: &Mailbox,
    message_id: &str,
    date: SystemTime,
    calendars: &[CalendarFile],
) -> Result<Rendered, RenderError> {
    let (text, html) = kind.bodies(view)?;
    let message = message_with(
        view,
        text,
        html,
        from,
        message_id,
        date,
        kind.unsubscribe(),
        calendars,
    )?;
    Ok(Rendered {
        subject: view.subject.clone(),
        message,
    })
}

/// The RFC 5322 message around rendered bodies (multipart/alternative, text
/// first), to `view.email` with `view.subject`; `unsubscribe` adds the
/// RFC 8058 List-Unsubscribe headers for `view.unsubscribe`.
pub fn message(
    view: &View,
    text: String,
    html: String,
    from: &Mailbox,
    message_id: &str,
    date: SystemTime,
    unsubscribe: bool,
) -> Result<Vec<u8>, RenderError> {
    message_with(view, text, html, from, message_id, date, unsubscribe, &[])
}

/// `message`, with calendar files attached.
#[allow(clippy::too_many_arguments)]
pub fn message_with(
    view: &View,
    text: String,
    html: String,
    from: &Mailbox,
    message_id: &str,
    date: SystemTime,
    unsubscribe: bool,
    calendars: &[CalendarFile],
) -> Result<Vec<u8>, RenderError> {
    let refused = |reason: String| RenderError::Address {
        address: view.email.clone(),
        reason,
    };
    crate::mailable(&view.email).map_err(refused)?;
    let to: Mailbox = view.email.parse().map_err(|e| refused(format!("{e}")))?;
    // The envelope lettre would derive by parsing the From and To headers
    // back, given: a third of the cost of a message otherwise.
    let envelope = Envelope::new(Some(from.email.clone()), vec![to.email.clone()])
        .map_err(|e| RenderError::Message(e.to_string()))?;
    let mut builder = Message::builder()
        .envelope(envelope)
        .from(from.clone())
        .to(to)
        .subject(view.subject.clone())
        .message_id(Some(message_id.to_string()))
        .date(date)
        // Made by a program (RFC 3834 §5): no out-of-office replies to it,
        // and Exchange's own header for the same. Not `All`, which would
        // also stop the non-delivery reports the bounce mailbox reads.
        .raw_header(raw("Auto-Submitted", "auto-generated"))
        .raw_header(raw("X-Auto-Response-Suppress", "OOF, AutoReply"));
    if unsubscribe {
        builder = builder.raw_header(raw("List-Unsubscribe", format!("<{}>", view.unsubscribe)));
        // RFC 8058 §3.1: one POST unsubscribes, without a page to click;
        // only for an HTTPS URI (over http, the link is a page to open).
        if view.unsubscribe.starts_with("https://") {
            builder =
                builder.raw_header(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"));
        }
    }
    let bodies = MultiPart::alternative_plain_html(body(text), body(html));
    let message = if calendars.is_empty() {
        builder.multipart(bodies)
    } else {
        let mut mixed = MultiPart::mixed().multipart(bodies);
        for c in calendars {
            let content_type = ContentType::parse(&format!(
                "text/calendar; charset=utf-8; method={}",
                c.method
            ))
            .map_err(|e| RenderError::Message(e.to_string()))?;
            mixed = mixed.singlepart(
                Attachment::new(c.filename.clone()).body(encode::attachment(&c.text), content_type),
            );
        }
        builder.multipart(mixed)
    }
    .map_err(|e| RenderError::Message(e.to_string()))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::CaseKey;

    pub(super) fn case(court: &str, category: &str, word: &str, number: u32) -> CaseRef {
        CaseRef {
            court: court.into(),
            key: CaseKey {
                category: category.into(),
                year: 115,
                word: word.into(),
                number,
            },
        }
    }

    /// A day of November 2026.
    pub(super) fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    pub(super) fn view(cases: Vec<CaseView>) -> View {
        View {
            subject: String::new(),
            email: "wang.ming@example.com".into(),
            cases,
            site: "http://localhost:8080".into(),
            link: "http://localhost:8080/login".into(),
            expires: "115/12/08 01:12".into(),
            night: "115/11/24".into(),
            unsubscribe:
                "http://localhost:8080/unsubscribe?email=wang.ming%40example.com&token=ab12".into(),
            more: 0,
            rerun: false,
            after_earlier: false,
            for_reminders: false,
            hearings: Vec::new(),
            calendars: 0,
            index: Vec::new(),
            calendars_left_out: 0,
            cut_changes: Vec::new(),
            entries_left_out: false,
            not_activated: false,
            hearings_changed: false,
            maintenance: settings::Maintenance::default().to_string(),
        }
    }

    /// Compares with tests/golden/mail/<name>; UPDATE_GOLDEN=1 rewrites.
    fn golden(name: &str, got: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/golden/mail")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, got).unwrap();
            return;
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got, want, "{name} differs from its golden file");
    }

    fn check(kind: Kind, v: View) {
        check_as(kind, kind.as_str(), v);
    }

    /// [`check`] against the golden files `name`.txt and `name`.html (the
    /// subject as `View::finish` made it, else of the cases given).
    pub(super) fn check_as(kind: Kind, name: &str, mut v: View) {
        if v.subject.is_empty() {
            v.subject = v.subject_as(kind);
        }
        let (text, html) = bodies(kind, &v).unwrap();
        golden(
            &format!("{name}.txt"),
            &format!("Subject: {}\n\n{text}", v.subject),
        );
        golden(&format!("{name}.html"), &html);
        assert!(!text
            .chars()
            .chain(html.chars())
            .any(|c| ('\u{E000}'..='\u{F8FF}').contains(&c)));
    }

    #[test]
    fn activation() {
        let mut a = CaseView::new(&case("TPD", "民事", "訴", 100))
            .entry(day(24), "115/12/10 10:00第一法庭言詞辯論", None)
            .entry(day(10), "通知兩造到庭\r\n請攜帶身分證明文件", None);
        a.role = Some("原告".into());
        // Whom to ask at the court: its 股別 beside the role; none given, none said.
        a.division = Some("忠股".into());
        let mut b = CaseView::new(&case("PCD", "家事", "家親聲", 45));
        b.role = Some("法定代理人".into());
        let mut v = view(vec![a, b]);
        v.link = "http://localhost:8080/activate?token=0123abcd".into();
        check(Kind::Activation, v);
    }

    /// An activation listing a case that ends soon says its last day and
    /// what that day means, in the expiry warning's words: once it was
    /// sent, the warning queued behind it is not (no expiry mail beside it
    /// the same morning). An approval says it the same way.
    #[test]
    fn a_grant_mail_naming_a_case_that_ends_soon_says_what_its_last_day_means() {
        let mut a = CaseView::new(&case("TPD", "民事", "訴", 100)).entry(day(24), "上訴", None);
        a.role = Some("原告".into());
        a.division = Some("忠股".into());
        a.last_day = Some("115/12/01".into());
        let mut b = CaseView::new(&case("PCD", "家事", "家親聲", 45));
        b.role = Some("法定代理人".into());
        let mut v = view(vec![a, b]);
        v.link = "http://localhost:8080/activate?token=0123abcd".into();
        check_as(Kind::Activation, "activation-ending", v.clone());
        let (text, html) = bodies(Kind::Approval, &v).unwrap();
        for body in [&text, &html] {
            assert!(
                body.contains("最後可查詢日") && body.contains("本服務即不再提供查詢"),
                "{body}"
            );
        }
        // Without one, not a word of it.
        v.cases.remove(0);
        for kind in [Kind::Activation, Kind::Approval] {
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(!text.contains("不再提供查詢") && !html.contains("不再提供查詢"));
        }
    }

    /// The mail walk (session 27): a lawyer's activation naming five cases
    /// showed no entries and did not say why. One that leaves them out
    /// says so; one that shows them does not.
    #[test]
    fn a_grant_mail_that_leaves_the_entries_out_says_so() {
        let cases = |n: u32| {
            (1..=n)
                .map(|i| CaseView::new(&case("TPD", "民事", "訴", i)).entry(day(24), "分案", None))
                .collect::<Vec<_>>()
        };
        for kind in [Kind::Activation, Kind::Approval] {
            let mut v = view(cases(5));
            v.trim(false);
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(!text.contains("分案"), "{text}");
            assert!(
                text.contains("本信未列各案件的進行事項"),
                "{kind:?}: {text}"
            );
            assert!(
                html.contains("本信未列各案件的進行事項"),
                "{kind:?}: {html}"
            );
            let mut v = view(cases(2));
            v.trim(true);
            let (text, _) = bodies(kind, &v).unwrap();
            assert!(
                text.contains("分案") && !text.contains("本信未列"),
                "{text}"
            );
        }
    }

    /// A digest, an expiry warning and a reminder to an address never
    /// activated say how to activate it, and link to /forgot, not to a
    /// login it cannot pass (the mail walk, session 27).
    #[test]
    fn mail_to_an_address_not_activated_says_how_to_activate() {
        for kind in [Kind::Digest, Kind::Expiry, Kind::Reminder] {
            let mut v = view(vec![CaseView::new(&case("TPD", "民事", "訴", 100))]);
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(
                text.contains("登入查看：http://localhost:8080/login"),
                "{text}"
            );
            assert!(!text.contains("/forgot") && !html.contains("/forgot"));
            v.not_activated = true;
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(
                text.contains("您的帳號尚未啟用")
                    && text.contains("\nhttp://localhost:8080/forgot\n")
                    && !text.contains("/login"),
                "{kind:?}: {text}"
            );
            assert!(
                html.contains("href=\"http://localhost:8080/forgot\"") && !html.contains("/login"),
                "{kind:?}: {html}"
            );
        }
    }

    /// The mail walk (session 27): an entry's two dates stood side by side
    /// unlabelled (`115/10/28  115/11/30 11:00第三法庭宣判`), so the date it
    /// was posted could be taken for the hearing's, and in HTML a
    /// presentation table gave a screen reader no headers; an entry's
    /// second line began at the margin, as if the mail itself said it.
    #[test]
    fn an_entry_says_which_date_is_its_posting_and_keeps_its_lines_together() {
        let a = CaseView::new(&case("TPD", "民事", "訴", 100))
            .entry(day(24), "115/12/10 10:00第一法庭言詞辯論", None)
            .entry(day(10), "審理\r\n請被告攜帶身分證明文件到庭", None);
        let v = view(vec![a]);
        let (text, html) = bodies(Kind::Approval, &v).unwrap();
        assert!(
            text.contains("  115/11/24 登載：115/12/10 10:00第一法庭言詞辯論\n"),
            "{text}"
        );
        assert!(
            text.contains("  115/11/10 登載：審理\n    請被告攜帶身分證明文件到庭\n"),
            "{text}"
        );
        assert!(!html.contains("role=\"presentation\""), "{html}");
        assert!(
            html.contains("<th scope=\"col\">登載日期</th><th scope=\"col\">登載事項</th>"),
            "{html}"
        );
        assert!(
            html.contains("審理<br>請被告攜帶身分證明文件到庭"),
            "{html}"
        );
    }

    /// The mail walk (F13): 〓 stood in names unexplained (李〓玲, 陳〓之訴
    /// 駁回), which reads as broken data. A mail that shows one says what
    /// it is; one that shows none does not.
    #[test]
    fn a_mail_that_shows_an_unmapped_character_says_what_it_is() {
        let note = schemas::text::GETA_NOTE;
        let with = view(vec![CaseView::new(&case("TPD", "民事", "訴", 100)).entry(
            day(24),
            "原告陳〓之訴駁回",
            None,
        )]);
        let without = view(vec![CaseView::new(&case("TPD", "民事", "訴", 100)).entry(
            day(24),
            "原告之訴駁回",
            None,
        )]);
        // A 股別 the court's encoding could not give (the review of the
        // thirtieth session: it showed （〓股） unexplained).
        let mut in_division = CaseView::new(&case("TPD", "民事", "訴", 100));
        in_division.division = schemas::text::division("\u{E000}");
        let in_division = view(vec![in_division]);
        for kind in [Kind::Activation, Kind::Approval, Kind::Digest] {
            let (text, html) = bodies(kind, &with).unwrap();
            assert!(text.contains(note) && html.contains(note), "{kind}: {text}");
            let (text, html) = bodies(kind, &in_division).unwrap();
            assert!(
                text.contains("（〓股）") && text.contains(note) && html.contains(note),
                "{kind}: {text}"
            );
            let (text, html) = bodies(kind, &without).unwrap();
            assert!(
                !text.contains(note) && !html.contains(note),
                "{kind}: {text}"
            );
        }
        // In a reminder, the hearing's lines.
        let mut r = view(Vec::new());
        r.hearings.push(HearingView {
            when: "115/12/01（二）10:30".into(),
            lead: "7 天後".into(),
            kind: "言詞辯論".into(),
            case_title: "臺灣臺北地方法院 民事 115年度訴字第100號".into(),
            division: Some("忠股".into()),
            case_link: String::new(),
            place: "臺灣臺北地方法院 第〓法庭".into(),
            uncertain: false,
            moved_from: None,
            carried_over: None,
        });
        let (text, html) = bodies(Kind::Reminder, &r).unwrap();
        assert!(text.contains(note), "{text}");
        let mut only_division = r.clone();
        only_division.hearings[0].place = "臺灣臺北地方法院 第一法庭".into();
        only_division.hearings[0].division = Some("〓股".into());
        let (text_d, _) = bodies(Kind::Reminder, &only_division).unwrap();
        assert!(text_d.contains(note), "{text_d}");
        // The case's 股別 beside it, whom to ask at the court.
        assert!(
            text.contains("  臺灣臺北地方法院 民事 115年度訴字第100號（忠股）\n")
                && html.contains("臺灣臺北地方法院 民事 115年度訴字第100號（忠股）</p>"),
            "{text}{html}"
        );
    }

    /// A day's reminder, in full: the architecture review of the
    /// fifty-third session found it the one kind without a golden file.
    /// Tomorrow's hearing moved there by a later entry, another at the same
    /// time in another court (said of both: the many-cases review of the
    /// session found a lawyer's four hearings at one time unremarked), one 7
    /// days ahead that a later entry may have changed, of a court carried
    /// over.
    #[test]
    fn reminder() {
        let hearing = |when: &str, lead: &str, kind: &str, n: u32| HearingView {
            when: when.into(),
            lead: lead.into(),
            kind: kind.into(),
            case_title: clean(&case("TPD", "民事", "訴", n).title()),
            division: Some("忠股".into()),
            case_link: format!(
                "http://localhost:8080{}",
                crate::case_path(&case("TPD", "民事", "訴", n))
            ),
            place: "臺灣臺北地方法院 第一法庭".into(),
            uncertain: false,
            moved_from: None,
            carried_over: None,
        };
        let mut moved = hearing("115/12/01（二）10:30", "明天", "言詞辯論", 100);
        moved.moved_from = Some("115/11/24（二）10:30".into());
        let mut same_time = hearing("115/12/01（二）10:30", "明天", "調解", 37);
        same_time.place = "臺灣新北地方法院 調解室".into();
        let mut uncertain = hearing("115/12/07（一）14:00", "7 天後", "準備程序", 212);
        uncertain.uncertain = true;
        uncertain.carried_over = Some(("臺灣臺北地方法院".into(), "115/11/23".into()));
        // (its cases, one per hearing's, as `notify::reminders` gives them)
        let mut v = view(
            [100, 37, 212]
                .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)))
                .to_vec(),
        );
        v.link = "http://localhost:8080/cases".into();
        v.unsubscribe = "http://localhost:8080/unsubscribe?email=wang.ming%40example.com&token=ab12&list=reminders".into();
        v.hearings = vec![moved, same_time, uncertain];
        v.calendars = 3;
        assert_eq!(
            v.hearings
                .iter()
                .map(|h| v.at_the_same_time(h))
                .collect::<Vec<_>>(),
            [1, 1, 0]
        );
        check(Kind::Reminder, v);
    }

    #[test]
    fn approval() {
        let mut a = CaseView::new(&case("TPD", "民事", "訴", 1301)).entry(day(24), "分案", None);
        a.role = Some("訴訟代理人".into());
        check(Kind::Approval, view(vec![a]));
    }

    /// A revised entry says what it said before: its text, its date, or
    /// both, whichever changed.
    #[test]
    fn a_revised_entry_says_what_it_was() {
        let was = |posted, text| {
            CaseView::new(&case("TPD", "民事", "訴", 1))
                .entry(day(28), "115/12/15 宣判", Some((posted, text)))
                .entries
                .remove(0)
                .revised
                .unwrap()
        };
        assert_eq!(was(day(28), "115/11/30 宣判"), "原為：115/11/30 宣判");
        assert_eq!(was(day(27), "115/12/15 宣判"), "原登載日期：115/11/27");
        // The old date apart from the old text, which often starts with
        // a date of its own.
        assert_eq!(
            was(day(27), "115/11/30 宣\u{E000}判"),
            "原登載日期 115/11/27，原為：115/11/30 宣〓判"
        );
        let new = CaseView::new(&case("TPD", "民事", "訴", 1)).entry(day(28), "宣判", None);
        assert_eq!(new.entries[0].revised, None);
    }

    #[test]
    fn digest() {
        let mut a = CaseView::new(&case("TPD", "刑事", "訴", 100)).entry(
            day(28),
            "115/12/15 10:00第三法庭宣判(改期)",
            Some((day(28), "115/11/30 11:00第三法庭宣判")),
        );
        a.division = Some("孝股".into());
        // A private-use character (an unmapped user-defined one) shows as 〓,
        // and HTML special characters are escaped in the HTML part.
        let b = CaseView::new(&case("TPD", "民事", "訴", 212)).entry(
            day(24),
            "被告陳\u{E000}明稱<已清償> & 請求駁回",
            None,
        );
        check(Kind::Digest, view(vec![a, b]));
    }

    /// A digest of hearings the court corrected without news (a withdrawn
    /// entry): says so instead of new entries, in its subject too, and
    /// that the summons governs.
    #[test]
    fn digest_of_hearing_corrections() {
        let mut a = CaseView::new(&case("TPD", "民事", "重訴", 77));
        a.hearings = vec![
            "117/03/10（五）10:00 準備程序 臺灣臺北地方法院 第十二法庭：本服務已無此庭期資料（原登載此庭期的進行事項已刪除或更正），附檔會從行事曆移除此行程；是否仍須到庭，請以傳票或通知書為準，或洽承辦股".into(),
            "117/04/14（五）14:30 言詞辯論 臺灣臺北地方法院 第十二法庭：庭期資料已更新為上述時間及地點，附檔會更新行事曆中的同一個行程".into(),
        ];
        check_as(Kind::Digest, "digest-corrections", view(vec![a]));
    }

    /// A digest cut to its first cases keeps those whose hearings were
    /// corrected without news: their calendar files are attached whatever
    /// the cut, and the text is what says why a hearing left the calendar.
    #[test]
    fn a_cut_digest_keeps_the_cases_whose_hearings_were_corrected() {
        let mut cases: Vec<CaseView> = (1..=MAX_LISTED as u32 + 5)
            .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)).entry(day(24), "收狀", None))
            .collect();
        cases[MAX_LISTED + 2].hearings =
            vec!["117/03/10（五）10:00 準備程序：本服務已無此庭期資料".into()];
        let corrected = cases[MAX_LISTED + 2].title.clone();
        let first = cases[0].title.clone();
        let mut v = view(cases);
        v.trim(true);
        assert_eq!(v.cases.len(), MAX_LISTED);
        assert_eq!((v.index.len(), v.more), (5, 0));
        assert!(
            v.cases.iter().any(|c| c.title == corrected),
            "the corrected case was cut"
        );
        assert_eq!(v.cases[0].title, corrected, "first");
        assert_eq!(v.cases[1].title, first, "the others keep their order");
        let (text, _) = bodies(Kind::Digest, &v).unwrap();
        assert!(text.contains("本服務已無此庭期資料"), "{text}");
    }

    /// The mail review of the forty-fourth session (its 1): a digest of 101
    /// cases, a routine entry on 100 of them and a moved hearing on the
    /// last, listed the first 30 and "另有 71 件案件": the moved hearing
    /// was seen only as an attachment. Cases whose news changes a hearing
    /// come first, with the corrected ones, then those that announce one.
    #[test]
    fn a_cut_digest_keeps_the_cases_whose_news_moves_or_announces_a_hearing() {
        let mut cases: Vec<CaseView> = (1..=MAX_LISTED as u32 + 10)
            .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)).entry(day(24), "收狀", None))
            .collect();
        let n = cases.len();
        cases[n - 1].hearing_news = HearingNews::Changed;
        cases[n - 2].hearing_news = HearingNews::Announced;
        cases[n - 3].hearings = vec!["117/03/10（五）10:00 準備程序：本服務已無此庭期資料".into()];
        let titles: Vec<String> = cases.iter().map(|c| c.title.clone()).collect();
        let mut v = view(cases);
        v.trim(true);
        assert_eq!(v.index.len(), 10);
        let kept: Vec<&str> = v.cases.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(
            kept[..4],
            [&titles[n - 3], &titles[n - 1], &titles[n - 2], &titles[0]].map(String::as_str)
        );
    }

    /// The many-cases review of the fifty-third session (its 1 and 2): a cut
    /// digest named only the cases it listed in full and "另有 N 件", a
    /// judgment among them cut behind hearing announcements, and attached
    /// every case's calendar files. A ruling is kept before hearings
    /// announced, every other case is named with its latest entry, and only
    /// the listed cases' calendar files are attached, the rest counted.
    #[test]
    fn a_cut_digest_keeps_rulings_and_names_the_rest_with_their_latest_entry() {
        let file = |n: u32| CalendarFile {
            filename: format!("hearing-{n}.ics"),
            method: "REQUEST",
            text: String::new(),
        };
        let mut cases: Vec<CaseView> = (1..=MAX_LISTED as u32 + 3)
            .map(|n| {
                let mut c = CaseView::new(&case("TPD", "民事", "訴", n))
                    .entry(day(24), "120/06/10 10:00第一法庭準備程序", None)
                    .entry(day(20), "收狀", None);
                c.hearing_news = HearingNews::Announced;
                c.calendars = vec![file(n)];
                c
            })
            .collect();
        let n = cases.len();
        cases[n - 1] = CaseView::new(&case("TPD", "民事", "訴", n as u32)).entry(
            day(24),
            "本院於115年11月20日所為之判決，茲送達判決正本予原告",
            None,
        );
        let ruling = cases[n - 1].title.clone();
        let mut v = view(cases);
        v.finish(Kind::Digest, true);
        assert_eq!(v.cases[0].title, ruling);
        assert_eq!((v.index.len(), v.more), (3, 0));
        assert_eq!(v.calendars_left_out, 3);
        assert!(v.index.iter().all(|c| c.calendars.is_empty()));
        let files = v.take_calendars();
        assert_eq!((files.len(), v.calendars), (MAX_LISTED - 1, MAX_LISTED - 1));
        assert_eq!(
            v.index[0].brief().as_deref(),
            Some("115/11/24 登載：120/06/10 10:00第一法庭準備程序")
        );
        // Its long entry is cut to INDEX_TEXT characters.
        let long =
            CaseView::new(&case("TPD", "民事", "訴", 1)).entry(day(24), &"字".repeat(60), None);
        let brief = long.brief().unwrap();
        assert_eq!(
            brief.chars().count(),
            "115/11/24 登載：".chars().count() + INDEX_TEXT
        );
        assert!(brief.ends_with("字…"), "{brief}");
        // A part some of whose cases went to the index says so: its count
        // read as the part's whole (the review of the change: 29 said, 32
        // with hearings announced).
        let headings: Vec<Option<String>> = v.parts(true).into_iter().map(|g| g.heading).collect();
        assert_eq!(
            headings,
            [
                Some("裁判（1 件）".to_string()),
                Some("庭期通知（列出 29 件，另 3 件見文末）".to_string())
            ]
        );
        check_as(Kind::Digest, "digest-cut", v);
    }

    /// The review of the session's change (its 2): the cut cases' files
    /// that change a hearing are attached all the same; announcements are
    /// counted as left out.
    #[test]
    fn a_cut_list_keeps_the_files_that_change_a_hearing() {
        let file = |method: &'static str, sequence: u32| CalendarFile {
            filename: "hearing.ics".into(),
            method,
            text: format!("BEGIN:VEVENT\r\nSEQUENCE:{sequence}\r\nEND:VEVENT\r\n"),
        };
        let mut cases: Vec<CaseView> = (1..=MAX_LISTED as u32 + 4)
            .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)).entry(day(24), "收狀", None))
            .collect();
        let n = cases.len();
        cases[0].calendars = vec![file("REQUEST", 0)];
        cases[n - 1].calendars = vec![file("CANCEL", 1), file("REQUEST", 0)];
        cases[n - 2].calendars = vec![file("REQUEST", 2)];
        cases[n - 3].calendars = vec![file("REQUEST", 0)];
        let mut v = view(cases);
        v.trim(true);
        assert_eq!((v.cut_changes.len(), v.calendars_left_out), (2, 2));
        let files = v.take_calendars();
        assert_eq!(v.calendars, 3);
        assert_eq!(
            files.iter().map(|f| f.changes()).collect::<Vec<_>>(),
            [false, true, true]
        );
    }

    /// Past [`MAX_INDEXED`] the index stops, and the mail says how many
    /// more there are.
    #[test]
    fn an_index_past_its_limit_says_how_many_more() {
        let cases: Vec<CaseView> = (1..=(MAX_LISTED + MAX_INDEXED) as u32 + 7)
            .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)).entry(day(24), "收狀", None))
            .collect();
        let mut v = view(cases);
        v.finish(Kind::Digest, true);
        assert_eq!(
            (v.cases.len(), v.index.len(), v.more),
            (MAX_LISTED, MAX_INDEXED, 7)
        );
        let (text, html) = bodies(Kind::Digest, &v).unwrap();
        assert_eq!(text.matches("\n□ ").count(), MAX_INDEXED, "{text}");
        // Its heading says these are the first of the rest, which the line
        // after them counts.
        assert!(
            text.contains("\n【其餘 507 件案件中的 500 件（僅列最新進度）】\n\n□ ")
                && text.contains("另有 7 件案件"),
            "{text}"
        );
        assert!(
            html.contains(
                "<h2>其餘 507 件案件中的 500 件（僅列最新進度）</h2>\n<ul class=\"index\">"
            ),
            "{html}"
        );
        assert_eq!(html.matches("<li>").count(), MAX_INDEXED);
    }

    /// An activation cut to its first cases keeps those that end soon, each
    /// with its last day: the expiry warning queued behind it is not sent
    /// once it was (`notify::queue` counts on it, for up to MAX_LISTED of
    /// them).
    #[test]
    fn a_cut_grant_mail_keeps_the_cases_that_end_soon() {
        let mut cases: Vec<CaseView> = (1..=MAX_LISTED as u32 + 5)
            .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)))
            .collect();
        for c in &mut cases[MAX_LISTED..] {
            c.last_day = Some("115/12/01".into());
        }
        let ending: Vec<String> = cases[MAX_LISTED..]
            .iter()
            .map(|c| c.title.clone())
            .collect();
        let mut v = view(cases);
        v.link = "http://localhost:8080/activate?token=0123abcd".into();
        v.trim(false);
        assert_eq!(v.cases.len(), MAX_LISTED);
        for title in &ending {
            assert!(v.cases.iter().any(|c| &c.title == title), "{title} cut");
        }
        let (text, _) = bodies(Kind::Activation, &v).unwrap();
        assert_eq!(text.matches("最後可查詢日：115/12/01").count(), 5, "{text}");
    }

    /// A digest to an address that turned digests off but keeps reminders:
    /// its cases' hearings' changes, said so, in its subject too, with the
    /// reminders' unsubscribe link.
    #[test]
    fn digest_for_an_address_that_keeps_only_reminders() {
        let mut a =
            CaseView::new(&case("TPD", "民事", "訴", 1)).entry(day(24), "言詞辯論期日取消", None);
        // (as `notify::queue` marks a case whose news cancels a hearing)
        a.hearing_news = HearingNews::Changed;
        let mut b = CaseView::new(&case("TPD", "民事", "訴", 2));
        b.hearings = vec![
            "117/03/10（五）14:00 準備程序 臺灣臺北地方法院 第二法庭：本服務已無此庭期資料（原登載此庭期的進行事項已刪除或更正），附檔會從行事曆移除此行程；是否仍須到庭，請以傳票或通知書為準，或洽承辦股".into(),
        ];
        let mut v = view(vec![a, b]);
        v.for_reminders = true;
        v.unsubscribe = "http://localhost:8080/unsubscribe?email=wang.ming%40example.com&token=ab12&list=reminders".into();
        check_as(Kind::Digest, "digest-for-reminders", v);
    }

    #[test]
    fn expiry() {
        let mut a = CaseView::new(&case("TPD", "刑事", "訴", 88));
        a.division = Some("仁股".into());
        a.last_day = Some("115/12/01".into());
        check(Kind::Expiry, view(vec![a]));
    }

    /// A case past its last day when its status came (the mail review of
    /// the forty-fourth session, its 4): said to have stopped, without a
    /// link to a page that is gone, why it could not be said before, and
    /// no word of logging in to see it.
    #[test]
    fn expiry_of_a_case_that_has_ended() {
        let mut a = CaseView::new(&case("TPD", "刑事", "訴", 88));
        a.division = Some("仁股".into());
        a.last_day = Some("115/11/01".into());
        a.ended = Some(Ended::PostedLate);
        check_as(Kind::Expiry, "expiry-ended", view(vec![a.clone()]));
        // With one still to end: both said, each as it is.
        let mut b = CaseView::new(&case("TPD", "刑事", "訴", 89));
        b.last_day = Some("115/12/01".into());
        check_as(Kind::Expiry, "expiry-some-ended", view(vec![a.clone(), b]));
        // One that ran its course while its warning waited unsent: not
        // blamed on the court's posting (left alone by the forty-seventh
        // session); with one posted late beside it, each reason said.
        let mut c = CaseView::new(&case("TPD", "刑事", "訴", 90));
        c.last_day = Some("115/11/20".into());
        c.ended = Some(Ended::WarningLate);
        check_as(Kind::Expiry, "expiry-ended-unsent", view(vec![c.clone()]));
        check_as(Kind::Expiry, "expiry-ended-both", view(vec![a, c]));
        // Cut to 30, its ended cases are kept, first (the review of the
        // session's change: the subject, of every case, said 已經停止
        // while the list cut them).
        let cases: Vec<CaseView> = (1..=MAX_LISTED as u32 + 5)
            .map(|n| {
                let mut c = CaseView::new(&case("TPD", "民事", "訴", n));
                c.last_day = Some("115/12/01".into());
                c.ended = (n > MAX_LISTED as u32).then_some(Ended::PostedLate);
                c
            })
            .collect();
        let mut v = view(cases);
        v.trim(false);
        assert_eq!(v.ended(), 5);
        assert!(v.cases[..5].iter().all(|c| c.ended.is_some()));
    }

    #[test]
    fn a_long_list_is_cut_and_says_how_many_more() {
        // (past the index: `an_index_past_its_limit_says_how_many_more`)
        let cases: Vec<CaseView> = (1..=(MAX_LISTED + MAX_INDEXED) as u32 + 10)
            .map(|n| CaseView::new(&case("TPD", "民事", "訴", n)).entry(day(24), "分案", None))
            .collect();
        let mut v = view(cases);
        v.finish(Kind::Approval, false);
        let (text, html) = bodies(Kind::Approval, &v).unwrap();
        assert_eq!(v.cases.len(), MAX_LISTED);
        assert!(
            text.contains("另有 10 件案件，請登入查看：\n  http://localhost:8080/cases\n")
                && html.contains(
                    "另有 10 件案件，請登入<a href=\"http://localhost:8080/cases\">查看</a>。"
                ),
            "{text}\n{html}"
        );
        // A digest's and a warning's link to the list ordered as they are
        // (a review of heavy use, the forty-sixth session: 「另有 490 件」
        // led to 2,000 cases in key order, tonight's scattered among them).
        for (kind, path, words) in [
            (Kind::Digest, "/cases?sort=recent", "（依最近異動排序）"),
            (Kind::Expiry, "/cases?sort=ending", "（依最後可查詢日排序）"),
        ] {
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(
                text.contains(&format!(
                    "另有 10 件案件，請登入查看{words}：\n  http://localhost:8080{path}\n"
                )),
                "{text}"
            );
            assert!(
                html.contains(&format!(
                    "<a href=\"http://localhost:8080{path}\">查看{words}</a>"
                )),
                "{html}"
            );
        }
        assert!(!text.contains("分案"), "no entries in a long list");
        // The subject counts every case, not the 30 listed (a review of
        // the mail, 2026-12-05: "已核准查詢 30 件案件" for 40).
        assert_eq!(v.subject, "【案件進度查詢】已核准查詢 540 件案件");
    }

    /// A prosecutor's digest that lists a case newly assigned to them says
    /// so, of the case and of the mail, and does not call its entries (the
    /// latest as they stand) news; one of such cases alone says only that.
    #[test]
    fn a_digest_names_a_case_newly_assigned_to_its_prosecutor_as_such() {
        let mut assigned = CaseView::new(&case("TPD", "刑事", "交易", 45))
            .entry(day(6), "115/11/10 10:00第七法庭審理", None)
            .entry(day(2), "準備程序：被告認罪", None);
        assigned.division = Some("B股".into());
        assigned.listed = Listed::Assigned;
        let news = CaseView::new(&case("TPD", "刑事", "訴", 100)).entry(day(24), "收狀", None);
        let v = view(vec![assigned.clone(), news]);
        assert_eq!(
            v.digest_says(),
            "您關注的案件有新的進行事項，並有案件新列為您承辦"
        );
        assert_eq!(
            v.subject_as(Kind::Digest),
            "【案件進度查詢】您關注的 2 件案件有新進行事項"
        );
        check_as(Kind::Digest, "digest-assigned", v);
        let alone = view(vec![assigned.clone()]);
        assert_eq!(alone.digest_says(), "下列案件新列為您承辦");
        assert_eq!(
            alone.subject_as(Kind::Digest),
            "【案件進度查詢】臺灣臺北地方法院 刑事 115年度交易字第45號 新列為您承辦"
        );
        let (text, _) = bodies(Kind::Digest, &alone).unwrap();
        assert!(
            text.contains("下列案件新列為您承辦（115/11/24 資料）：\n"),
            "{text}"
        );
        let two = view(vec![assigned.clone(), assigned.clone()]);
        assert_eq!(
            two.subject_as(Kind::Digest),
            "【案件進度查詢】2 件案件新列為您承辦"
        );
        // A case back after its last day passed, told to a reader told it
        // had stopped: the same, in its words.
        let mut back = CaseView::new(&case("TPD", "民事", "訴", 500)).entry(day(2), "上訴", None);
        back.listed = Listed::Back;
        let alone = view(vec![back.clone()]);
        assert_eq!(alone.digest_says(), "下列案件已恢復查詢");
        assert_eq!(
            alone.subject_as(Kind::Digest),
            "【案件進度查詢】臺灣臺北地方法院 民事 115年度訴字第500號 已恢復查詢"
        );
        let (text, html) = bodies(Kind::Digest, &alone).unwrap();
        assert!(
            text.contains("  本案已恢復查詢，以下為最近的進行事項：\n  115/11/02 登載：上訴"),
            "{text}"
        );
        assert!(
            html.contains("<p>本案已恢復查詢，以下為最近的進行事項：</p>"),
            "{html}"
        );
        let both = view(vec![assigned, back.clone(), back.clone()]);
        assert_eq!(both.digest_says(), "下列案件新列為您承辦或已恢復查詢");
        // Not news (the review of the session's change: 「有新進行事項」).
        assert_eq!(
            both.subject_as(Kind::Digest),
            "【案件進度查詢】您關注的 3 件案件新列為您承辦或已恢復查詢"
        );
        // Beside a case whose hearing was corrected without news: both said
        // (the review: 「下列案件已恢復查詢」 headed the correction too, and
        // the subject said 「有新進行事項，含庭期異動」).
        let mut corrected = CaseView::new(&case("TPD", "民事", "訴", 3));
        corrected.hearings = vec![
            "115/12/20（日）10:00 言詞辯論 臺灣臺北地方法院 第一法庭：本服務已無此庭期資料".into(),
        ];
        let mut mixed = view(vec![back, corrected]);
        mixed.hearings_changed = true;
        assert_eq!(
            mixed.digest_says(),
            "您關注的案件庭期有更正，並有案件已恢復查詢"
        );
        assert_eq!(
            mixed.subject_as(Kind::Digest),
            "【案件進度查詢】您關注的 2 件案件庭期更正或已恢復查詢"
        );
    }

    #[test]
    fn subjects_name_the_case_when_there_is_one() {
        let one = vec![CaseView::new(&case("TPD", "民事", "訴", 100))];
        assert_eq!(
            subject(Kind::Digest, &one),
            "【案件進度查詢】臺灣臺北地方法院 民事 115年度訴字第100號 有新進行事項"
        );
        let two = vec![one[0].clone(), one[0].clone()];
        assert_eq!(
            subject(Kind::Digest, &two),
            "【案件進度查詢】您關注的 2 件案件有新進行事項"
        );
        // A grant's mail listing a case that ends soon says so, as the
        // expiry warning it stands for would (one mail, not two).
        let mut ending = one.clone();
        ending[0].last_day = Some("115/12/01".into());
        assert_eq!(
            subject(Kind::Activation, &ending),
            "【案件進度查詢】請啟用帳號：臺灣臺北地方法院 民事 115年度訴字第100號 已核准查詢，將於 115/12/01 後停止查詢"
        );
        assert_eq!(
            subject(Kind::Approval, &ending),
            "【案件進度查詢】已核准查詢：臺灣臺北地方法院 民事 115年度訴字第100號，將於 115/12/01 後停止查詢"
        );
        let some_ending = vec![ending[0].clone(), one[0].clone()];
        assert_eq!(
            subject(Kind::Approval, &some_ending),
            "【案件進度查詢】已核准查詢 2 件案件，含即將停止查詢的案件"
        );
        assert_eq!(
            subject(Kind::Approval, &one),
            "【案件進度查詢】已核准查詢：臺灣臺北地方法院 民事 115年度訴字第100號"
        );
    }

    #[test]
    fn the_envelope_given_is_the_one_lettre_derives() {
        let from: Mailbox = "案件進度查詢 <noreply@cpor.localhost>".parse().unwrap();
        let to: Mailbox = "wang.ming@example.com".parse().unwrap();
        let message = Message::builder()
            .from(from.clone())
            .to(to.clone())
            .subject("x")
            .body(String::from("x"))
            .unwrap();
        assert_eq!(
            message.envelope(),
            &Envelope::new(Some(from.email), vec![to.email]).unwrap()
        );
    }

    #[test]
    fn every_mail_says_it_is_automatic_and_one_click_needs_https() {
        let from: Mailbox = "案件進度查詢 <noreply@cpor.localhost>".parse().unwrap();
        let head = |kind: Kind, v: &View| {
            let r = render(kind, v, &from, "<x@cpor.localhost>", SystemTime::UNIX_EPOCH).unwrap();
            let m = String::from_utf8_lossy(&r.message).into_owned();
            m.split("\r\n\r\n").next().unwrap().to_string()
        };
        let mut v = view(vec![CaseView::new(&case("TPD", "民事", "訴", 100))]);
        v.subject = subject(Kind::Digest, &v.cases);
        // RFC 3834 §5: out-of-office replies are not sent to it; Exchange
        // reads its own header for the same (not NDRs or delivery reports,
        // which the bounce mailbox needs).
        for kind in [
            Kind::Digest,
            Kind::Approval,
            Kind::Activation,
            Kind::Reminder,
        ] {
            let h = head(kind, &v);
            assert!(
                h.contains("\r\nAuto-Submitted: auto-generated\r\n"),
                "{kind:?}: {h}"
            );
            assert!(
                h.contains("\r\nX-Auto-Response-Suppress: OOF, AutoReply\r\n"),
                "{h}"
            );
        }
        // RFC 8058 §3.1: one-click needs an HTTPS URI; over http the link
        // is still offered, to open as a page.
        let h = head(Kind::Digest, &v);
        assert!(
            h.contains("List-Unsubscribe: <http://localhost:8080/unsubscribe?"),
            "{h}"
        );
        assert!(!h.contains("List-Unsubscribe-Post"), "{h}");
        v.unsubscribe = v.unsubscribe.replace("http://", "https://");
        let h = head(Kind::Digest, &v);
        assert!(
            h.contains("List-Unsubscribe: <https://localhost:8080/unsubscribe?"),
            "{h}"
        );
        assert!(
            h.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{h}"
        );
    }

    #[test]
    fn headers_are_rfc2047_and_digests_offer_one_click_unsubscribe() {
        let mut v = view(vec![CaseView::new(&case("TPD", "民事", "訴", 100))]);
        v.subject = subject(Kind::Digest, &v.cases);
        v.unsubscribe = v.unsubscribe.replace("http://", "https://");
        let from: Mailbox = "案件進度查詢 <noreply@cpor.localhost>".parse().unwrap();
        let r = render(
            Kind::Digest,
            &v,
            &from,
            "<x@cpor.localhost>",
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        let head = String::from_utf8_lossy(&r.message);
        let head = head.split("\r\n\r\n").next().unwrap();
        assert!(head.is_ascii(), "headers must be ASCII (RFC 2047): {head}");
        assert!(head.contains("Subject: =?utf-8?b?"), "{head}");
        assert!(head.contains("Message-ID: <x@cpor.localhost>"));
        assert!(head.contains("List-Unsubscribe: <https://localhost:8080/unsubscribe?"));
        assert!(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        let approval = render(
            Kind::Approval,
            &v,
            &from,
            "<y@cpor.localhost>",
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        assert!(!String::from_utf8_lossy(&approval.message).contains("List-Unsubscribe"));
    }
}
