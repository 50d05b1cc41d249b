//! From a diff to outbox items: who gets which mail tonight.
//!
//! - A new grant: an activation link when the address has no activated
//!   account, else an approval notice. A new grant clears a bounce flag.
//! - News on cases an address already followed: one digest per address,
//!   not on a first load, not after an unsubscribe, held by the flood guard.
//!   An address that turned digests off but keeps reminders (an
//!   applicant's, or a prosecutor's who never opted in to the digest)
//!   gets, as its digest, its cases' hearings' changes, and nothing else
//!   ([`told`]): its calendar holds hearings from our mail.
//! - A followed case about to stop being queryable: one warning per
//!   (address, case, last day): a last day the court moves is warned of
//!   again, the same one never twice (`Known::warned`).
//!
//! A night is read → plan → render → write. `plan` is a pure function of the
//! diff and what the databases already hold (`Known`); the accounts step
//! clears flags and commits each activation's account and token before its
//! mail is queued (a crash in between leaves an unsent token that expires,
//! and the re-run, finding no mail, makes a new one); messages are rendered
//! in parallel, a chunk at a time, while the queueing thread writes the
//! chunk before (a national night is about 80,000 messages and 480 MB); the
//! night's items, warnings and hold go into the outbox in one transaction,
//! which also ends the night's pending record.
//! The outbox key (night, address, kind) makes every step idempotent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::announced::Announced;
use super::diff::{CaseNews, Changes, Expiring, Granted};
use super::floors::{holds, Before, Files};
use super::retell::Retold;
use super::NotifyError;
use mail::outbox::{Floor, Kind, NewItem, Outbox, Packed, PendingNight, SnapshotId, State};
use mail::render::{self, CaseView, RenderError, View};
use mail::{window_opening, MailSettings};
use schemas::date::{compact, roc, roc_taipei, to_int};
use schemas::CaseRef;
use store::layout::SnapshotFile;
use store::secret::{self, Mailing};

/// What a night's queueing did, for the report and the summary.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct QueueSummary {
    pub activation: u64,
    pub approval: u64,
    pub digest: u64,
    pub expiry: u64,
    /// Of `expiry`: warnings queued behind tonight's activation or
    /// approval to the same address, which says their cases' last day:
    /// sent only if that mail is not (`Event::Covered`).
    pub expiry_behind: u64,
    /// Items already in the outbox from an earlier run of this night.
    pub already_queued: u64,
    /// The night's digests a rollback held, superseded by this run's.
    pub superseded: u64,
    /// Earlier nights' digests the flood guard held and no one released,
    /// given up as this night's mail is queued: (night, how many).
    pub given_up: Vec<(String, u64)>,
    /// The same of digests a rollback held (`Outbox::give_up_held_before`).
    pub given_up_rolled_back: Vec<(String, u64)>,
    /// Of `activation` and `approval`: mail of its own to an address the
    /// night's grant mail of other runs reaches, for the grants that mail
    /// does not name ([`Known::not_named`]).
    pub not_named: u64,
    /// Activations and approvals not queued: another night's grant mail
    /// names every grant they would ([`Known::told_elsewhere`]).
    pub told_elsewhere: u64,
    /// Digests not queued because the address unsubscribed.
    pub unsubscribed: u64,
    /// Digests queued to addresses that turned digests off but keep
    /// reminders: only their cases' hearings' changes (counted in
    /// `digest` too).
    pub for_reminders: u64,
    /// Items kept but not sent: the address is flagged (it bounced).
    pub suppressed: u64,
    /// Digests were held by the flood guard (see `held_reason`).
    pub held: bool,
    pub held_reason: Option<String>,
    /// Why no digests were considered at all (first load, older night).
    pub no_digests: Option<String>,
    pub followed_cases: u64,
    pub cases_with_news: u64,
    /// Addresses the mail library refused to write to.
    pub invalid_addresses: Vec<String>,
    /// Earlier nights' activations, approvals and expiry warnings not sent
    /// yet, withheld tonight: each names a case tonight's snapshot no
    /// longer grants its address (`super::retell`).
    pub withheld: u64,
    /// Cases such mail named that are still granted, told again in
    /// tonight's activations, approvals and expiry warnings.
    pub told_again: u64,
}

impl QueueSummary {
    /// One more item of `kind` queued.
    fn count(&mut self, kind: Kind) {
        match kind {
            Kind::Activation => self.activation += 1,
            Kind::Approval => self.approval += 1,
            Kind::Digest => self.digest += 1,
            Kind::Expiry => self.expiry += 1,
            Kind::Reminder | Kind::Reset | Kind::Changed => {}
        }
    }
}

/// The night being queued.
#[derive(Debug, Clone, Copy)]
pub struct Night {
    pub date: NaiveDate,
    /// There was no previous snapshot.
    pub first_load: bool,
    /// The new snapshot is older than the previous one (an import with
    /// --force of an old night): its differences are history, not news.
    pub older: bool,
    /// A re-run of the night: the build of the new snapshot, compared with
    /// an earlier build of the same night, so what it finds is only what
    /// that build lacked (a court's corrected files). Its digests and
    /// expiry warnings are queued beside the night's earlier ones, under
    /// their own reference ([`Night::reference`]), not taken for them.
    pub rerun: Option<u32>,
    /// Not a re-run, the night's digests held by a rollback: the build
    /// that imports it again, compared with what people were last told.
    /// Its digests supersede the held ones
    /// (`NightQueue::supersede_held_by_rollback`), under the build's own
    /// reference, and the held ones are not the night's mail.
    pub superseding: Option<u32>,
}

impl Night {
    /// The outbox reference of the night's items (`outbox::NightQueue`):
    /// empty, or the re-run's (or superseding) build (`build-2`).
    pub fn reference(&self) -> String {
        mail::outbox::build_reference(self.rerun.or(self.superseding))
    }
}

/// The flood guard: hold the digests when news touches more than `share`
/// of all followed cases, and at least `min_cases` are followed.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    pub share: f64,
    pub min_cases: u64,
}

/// An address's account, as a new grant needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Activated,
    /// Created (by an earlier grant) but never activated.
    NotActivated(i64),
}

/// What the databases already hold that the plan depends on.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// (address, kind, reference) already queued for the night.
    pub queued: BTreeSet<(String, Kind, String)>,
    /// The accounts of the addresses with new grants (absent: none).
    pub accounts: BTreeMap<String, Account>,
    /// Flagged addresses, before tonight's grants clear any.
    pub flagged: BTreeSet<String>,
    /// Addresses whose grants tonight are only earlier grant mail told
    /// again (`super::retell::Retold::only_again`): they clear no flag.
    pub told_again_only: BTreeSet<String>,
    /// Addresses that turned digests off.
    pub unsubscribed: BTreeSet<String>,
    /// Of those, the ones that turned reminders off too (what [`Tell`]
    /// asks of an address with digests on does not depend on it).
    pub reminders_off: BTreeSet<String>,
    /// Reminders go to no one (`mail.reminder_days` empty): no address
    /// keeps them, whatever its switch says.
    pub no_reminders: bool,
    /// Expiry warnings given, and the day each (address, case) was
    /// warned of last.
    pub warned: mail::outbox::Warned,
    /// The night's digests are held by the flood guard, not yet released.
    pub night_held: bool,
    /// Addresses a digest of the night reaches or may still reach (queued
    /// in any state but suppressed or failed).
    pub reached: BTreeSet<String>,
    /// Of the addresses with news or expiring cases, those whose account
    /// has no password yet: their mail says how to activate it.
    pub not_activated: BTreeSet<String>,
    /// The night's activations, approvals and expiry warnings, of every
    /// build, by address (of those with new grants or expiring cases
    /// tonight): what a run whose key the night's mail holds must not tell
    /// again ([`Known::not_named`], [`Known::not_warned`]).
    pub night_grants: BTreeMap<String, NightGrants>,
    /// The highest `more-N` the night has used, by address
    /// ([`Known::more_reference`]).
    pub more_used: BTreeMap<String, u32>,
    /// Of the addresses granted tonight, the cases an activation or
    /// approval of another night after the one compared with told them of,
    /// sent or still to go (`Outbox::grants_told_after`): a night rolled
    /// back past, whose grants the comparison finds new again. Not mailed
    /// again.
    pub told_elsewhere: BTreeMap<String, BTreeSet<String>>,
}

/// The night's grant mail to an address ([`Known::night_grants`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NightGrants {
    /// Each one's kind, reference, and the cases it names (`None`: queued
    /// before outbox migration 14, which did not record them).
    pub mail: Vec<(Kind, String, Option<BTreeSet<String>>)>,
}

impl Known {
    /// Of `granted`, the grants to `email` that none of the night's
    /// activations and approvals names, and the reference of mail of their
    /// own: for a run the night's grant mail already reaches under its
    /// reference (a run that is not a re-run takes every build's for its
    /// own: compared with an older snapshot than the night's earlier
    /// build, it finds again what that build's mail named, and what the
    /// build lacked too; a re-run, only its own reference's, there only if
    /// its build's number was used before a rollback). `None` if each is
    /// named, or if mail from before outbox migration 14 names no cases
    /// (taken, as before, to have told them all).
    fn not_named<'g>(
        &self,
        email: &str,
        granted: &'g [Granted],
    ) -> Option<(Vec<&'g Granted>, String)> {
        let named = self.named(email, true)?;
        let rest: Vec<&Granted> = granted
            .iter()
            .filter(|g| !named.contains(&g.case.id()))
            .collect();
        (!rest.is_empty()).then(|| (rest, self.more_reference(email)))
    }

    /// The cases the night's activations and approvals (`grants`), or its
    /// expiry warnings, to `email` name (none, if all of it was withheld
    /// by a run of this night: `read_known`); `None` if mail from before
    /// outbox migration 14 names no cases.
    fn named(&self, email: &str, grants: bool) -> Option<BTreeSet<&String>> {
        let mut named = BTreeSet::new();
        for (kind, _, cases) in self.night_grants.get(email).map_or(&[][..], |n| &n.mail) {
            if kind.is_grant() == grants {
                named.extend(cases.as_ref()?);
            }
        }
        Some(named)
    }

    /// Of the expiry warnings `fresh` to `email` (not warned of yet, as
    /// `expiry_warned` records), those none of the night's warnings names:
    /// one the night's warning of another run names, its last day moved
    /// since, is not warned of twice. Every one, if mail from before
    /// outbox migration 14 names no cases.
    fn not_warned<'x>(&self, email: &str, fresh: Vec<&'x Expiring>) -> Vec<&'x Expiring> {
        let Some(named) = self.named(email, false) else {
            return Vec::new();
        };
        fresh
            .into_iter()
            .filter(|x| !named.contains(&x.case.id()))
            .collect()
    }

    /// The reference of mail of its own to `email` not used yet
    /// (`mail::outbox::more_reference`): one past the highest the night
    /// has used for the address, of any kind, withheld or not. A grant
    /// mail and an expiry warning of the same run share it (their kinds
    /// differ).
    fn more_reference(&self, email: &str) -> String {
        mail::outbox::more_reference(self.more_used.get(email).copied().unwrap_or(0) + 1)
    }
}

/// One mail to render and queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Job<'a> {
    pub email: &'a str,
    pub kind: Kind,
    /// Queued, held (flood guard) or suppressed (a flagged address).
    pub state: State,
    pub about: About<'a>,
    /// An activation's link, and until when it works (ROC): made by the
    /// accounts step.
    pub activation: Option<(String, String)>,
    /// A re-run's digest to an address that has a digest of the night
    /// from an earlier build: it says that one did not list this.
    pub after_earlier: bool,
    /// A digest to an address that turned digests off but keeps
    /// reminders ([`told`]).
    pub for_reminders: bool,
    /// A grant mail's own reference, beside the night's grant mail of its
    /// other builds ([`Known::not_named`]); `None`: the run's.
    pub reference: Option<String>,
    /// A digest or expiry warning to an address whose account has no
    /// password yet ([`Known::not_activated`]).
    pub not_activated: bool,
    /// An expiry warning whose cases tonight's activation or approval
    /// (this kind, same address, this run) lists, each with its last day
    /// shown: queued behind that mail (`NewItem::behind`), sent only if it
    /// is not.
    pub behind: Option<Kind>,
}

/// The cases a mail is about.
#[derive(Debug, Clone, PartialEq)]
pub enum About<'a> {
    Grants(Vec<&'a Granted>),
    News(&'a [CaseNews]),
    Expiring(Vec<&'a Expiring>),
}

/// Tonight's mail, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'a> {
    /// In (kind, address) order, one per (kind, address).
    pub jobs: Vec<Job<'a>>,
    /// Addresses whose bounce flag tonight's grants clear.
    pub unflag: Vec<&'a str>,
    /// Expiry warnings to record: (address, case key, last day).
    pub warn: Vec<(String, String, i64)>,
    /// The summary so far: everything but what was written.
    pub summary: QueueSummary,
}

impl About<'_> {
    /// The cases a grant's mail names, which the outbox records
    /// (`NewItem::case_keys`): empty for a digest.
    fn grant_case_keys(&self) -> Vec<String> {
        match self {
            About::Grants(granted) => granted.iter().map(|g| g.case.id()).collect(),
            About::Expiring(expiring) => expiring.iter().map(|x| x.case.id()).collect(),
            About::News(_) => Vec::new(),
        }
    }

    fn views(&self) -> Vec<CaseView> {
        match self {
            // (the cases that end soon first: the mail stands for their
            // expiry warning, and says their last day where it is seen)
            About::Grants(granted) => granted
                .iter()
                .filter(|g| g.last_day.is_some())
                .chain(granted.iter().filter(|g| g.last_day.is_none()))
                .map(|g| {
                    let mut v = CaseView::new(&g.case);
                    v.division = g.division.clone();
                    v.role = Some(g.role.clone());
                    v.last_day = g.last_day.map(roc);
                    g.entries
                        .iter()
                        .fold(v, |v, e| v.entry(e.posted, &e.text, None))
                })
                .collect(),
            About::News(news) => news
                .iter()
                .map(|n| {
                    let mut v = n.entries.iter().fold(CaseView::new(&n.case), |v, e| {
                        v.entry(
                            e.entry.posted,
                            &e.entry.text,
                            e.was.as_ref().map(|w| (w.posted, w.text.as_str())),
                        )
                    });
                    v.hearings = n.corrections.iter().map(|c| c.line()).collect();
                    v.division = n.division.clone();
                    v.listed = n.listed;
                    v.last_day = n.last_day.map(roc);
                    v
                })
                .collect(),
            About::Expiring(expiring) => expiring
                .iter()
                .map(|x| {
                    let mut v = CaseView::new(&x.case);
                    v.division = x.division.clone();
                    v.last_day = Some(roc(x.last_day));
                    v.ended = x.ended;
                    v
                })
                .collect(),
        }
    }
}

/// What an address is told of a case of its news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tell {
    /// Its news, in the digest.
    All,
    /// Only its hearings' changes: with digests off but reminders on, the
    /// address's calendar may hold hearings from its reminders (or from its
    /// digests while they were on), and a cancellation, a move or a
    /// withdrawn entry would otherwise stay unseen there until a next
    /// reminder, which a cancelled hearing never gets. Whether it took the
    /// hearing is not asked (a calendar ignores a CANCEL of an event it
    /// never had).
    Calendar,
    /// Nothing: digests and reminders off.
    Nothing,
}

impl Tell {
    /// What `email` is told of `news`: the widest of its reasons to follow
    /// the case, with its own switches.
    pub fn of(news: &CaseNews, email: &str, known: &Known) -> Tell {
        let f = news.follow;
        let digests = !known.unsubscribed.contains(email);
        let reminders = !known.no_reminders && !known.reminders_off.contains(email);
        if f.prosecutor_digest || (f.grant && digests) {
            Tell::All
        } else if (f.prosecutor_calendar && !known.no_reminders) || (f.grant && reminders) {
            Tell::Calendar
        } else {
            Tell::Nothing
        }
    }
}

/// An address's news as it is told, when some of it is not told whole
/// ([`told`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Told {
    pub news: Vec<CaseNews>,
    /// None of it is a digest's ([`Tell::All`]): the mail says it is only
    /// about the hearings' changes, and its unsubscribe link is the
    /// reminders'.
    pub for_reminders: bool,
}

/// Whether a hearing as it now stands has changed since it was first
/// announced: moved or cancelled, or its SEQUENCE raised (a new time,
/// courtroom, kind or state; or sent above what calendars held).
fn changed(h: &super::reminders::Standing) -> bool {
    !h.state.takes_place() || h.sequence > 0
}

/// What each address whose news is not all told whole ([`Tell`]) is told
/// tonight: its cases told whole as they are; of a case told only its
/// hearings' changes ([`Tell::Calendar`]), if a news entry announces a
/// hearing that changed ([`changed`]; `announced`: the hearings each entry
/// schedules, moves or cancels, as they now stand, each attached as a
/// calendar file) into a file the previous snapshot did not have
/// (`before`: the snapshot the night's mail compares with, its files of a
/// case, `super::floors::Before`; a file lifted above its floor is not
/// one it had), or a correction without news (`super::corrected`) is to
/// tell: the corrections and the case's entries that announce hearings
/// (so a hearing withdrawn and posted again under another 序號 comes with
/// its new date); else nothing of it. A hearing newly scheduled alone,
/// news that is not about hearings, and an entry revised on a later night
/// than the change it announced (its file as the previous snapshot had
/// it), are not told. When `before` cannot say (`None`), every change is
/// told. Pure but for `before`, asked once per case, only of a case
/// with a changed hearing announced to such an address.
pub fn told(
    changes: &Changes,
    announced: &Announced,
    known: &Known,
    before: &mut dyn FnMut(&CaseRef) -> Option<Files>,
) -> BTreeMap<String, Told> {
    let mut asked: BTreeMap<String, Option<Files>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (email, news) in &changes.news {
        let tells: Vec<Tell> = news.iter().map(|n| Tell::of(n, email, known)).collect();
        if tells.iter().all(|t| *t == Tell::All) {
            continue;
        }
        let mut told = Vec::new();
        for (n, tell) in news.iter().zip(&tells) {
            match tell {
                Tell::All => told.push(n.clone()),
                Tell::Nothing => {}
                Tell::Calendar => {
                    let id = n.case.id();
                    let hearings =
                        |e: &super::diff::NewsEntry| announced.get(&(id.clone(), e.entry.seq));
                    let candidates: Vec<&super::reminders::Standing> = n
                        .entries
                        .iter()
                        .filter_map(hearings)
                        .flatten()
                        .filter(|h| changed(h))
                        .collect();
                    let changes = !candidates.is_empty() && {
                        let files = asked.entry(id.clone()).or_insert_with(|| before(&n.case));
                        match files {
                            Some(files) => candidates.iter().any(|h| !holds(files, h)),
                            None => true,
                        }
                    };
                    if changes || !n.corrections.is_empty() {
                        told.push(CaseNews {
                            entries: n
                                .entries
                                .iter()
                                .filter(|e| hearings(e).is_some())
                                .cloned()
                                .collect(),
                            ..n.clone()
                        });
                    }
                }
            }
        }
        let for_reminders = !tells.contains(&Tell::All);
        out.insert(
            email.clone(),
            Told {
                news: told,
                for_reminders,
            },
        );
    }
    out
}

/// Decides tonight's mail from the diff and what is known. Pure.
/// `told`: what the addresses whose news is not all told whole are told
/// ([`told`]).
pub fn plan<'a>(
    changes: &'a Changes,
    told: &'a BTreeMap<String, Told>,
    known: &Known,
    night: Night,
    flood: Flood,
) -> Plan<'a> {
    let mut summary = QueueSummary {
        followed_cases: changes.followed_cases,
        cases_with_news: changes.cases_with_news,
        ..QueueSummary::default()
    };
    let mut plan = Plan {
        jobs: Vec::new(),
        unflag: Vec::new(),
        warn: Vec::new(),
        summary: QueueSummary::default(),
    };
    if night.older {
        summary.no_digests =
            Some("the night is older than the snapshot it replaced: nothing is new".into());
        plan.summary = summary;
        return plan;
    }
    // What the night already has. A re-run's news and expiry warnings
    // are its own (only what the night's earlier build lacked): skipped
    // only if this run's reference has them. Any other run's are the
    // night's, once, whichever run queued them (a run compared with an
    // earlier night after a rollback finds a re-run's news again).
    let rerun = night.rerun.is_some();
    let reference = night.reference();
    // (by address: a rediff of a national night has some 10^5 addresses
    // with news and grants, and as many items queued)
    let mut by_address: BTreeMap<&str, Vec<(Kind, &str)>> = BTreeMap::new();
    for (e, k, r) in &known.queued {
        by_address
            .entry(e.as_str())
            .or_default()
            .push((*k, r.as_str()));
    }
    let queued = |email: &str, kind: Kind, any_run: bool| {
        by_address.get(email).is_some_and(|items| {
            items
                .iter()
                .any(|(k, r)| *k == kind && (any_run || *r == reference))
        })
    };
    let has = |email: &str, kind: Kind| queued(email, kind, !rerun);
    // Grant mail: once a night; a re-run's grants (what the night's
    // earlier build lacked) get their own: an approval, or an activation
    // with a link of its own. An earlier link of the night does not cover
    // them: it stays valid beside the new one until either is used (which
    // spends both), and its mail does not list them.
    let grant_queued = |email: &str| has(email, Kind::Activation) || has(email, Kind::Approval);
    // A new grant clears the address's flag, so only mail to addresses
    // still flagged after tonight's grants is suppressed (never a grant's).
    // A grant only told again is no new grant (no clerk acted).
    let newly_granted = |email: &str| {
        changes.new_grants.contains_key(email) && !known.told_again_only.contains(email)
    };
    let flagged = |email: &str| known.flagged.contains(email) && !newly_granted(email);
    let state = |email: &str, kind: Kind, otherwise: State| {
        if !kind.is_grant() && flagged(email) {
            State::Suppressed
        } else {
            otherwise
        }
    };

    // Tonight's activations and approvals, by address: their kind, and
    // the cases each shows with the last day.
    let mut ending_shown: BTreeMap<&str, (Kind, Vec<&Granted>)> = BTreeMap::new();
    for (email, granted) in &changes.new_grants {
        if newly_granted(email) {
            plan.unflag.push(email);
        }
        // (a run that is not a re-run, or one whose reference the night's
        // grant mail has already, another run's, tells in mail of its own
        // the grants that mail did not name: `Known::not_named`)
        let (granted, reference) = if !grant_queued(email) {
            (granted.iter().collect::<Vec<_>>(), None)
        } else if let Some((rest, reference)) = known.not_named(email, granted) {
            summary.not_named += 1;
            (rest, Some(reference))
        } else {
            summary.already_queued += 1;
            continue;
        };
        // (grants another night's mail told: a night rolled back past,
        // which tonight's comparison finds again; mail of that night still
        // to go goes once the live snapshot grants them)
        let granted: Vec<&Granted> = match known.told_elsewhere.get(email.as_str()) {
            Some(told) => granted
                .into_iter()
                .filter(|g| !told.contains(&g.case.id()))
                .collect(),
            None => granted,
        };
        if granted.is_empty() {
            summary.told_elsewhere += 1;
            continue;
        }
        let kind = match known.accounts.get(email) {
            Some(Account::Activated) => Kind::Approval,
            _ => Kind::Activation,
        };
        // The cases it shows with their last day: all of them that end
        // soon, unless the list is too long to show them all
        // (`mail::render::MAX_LISTED`; ending cases are listed first).
        let ending: Vec<&Granted> = granted
            .iter()
            .copied()
            .filter(|g| g.last_day.is_some())
            .collect();
        if !ending.is_empty() && ending.len() <= mail::render::MAX_LISTED {
            ending_shown.insert(email.as_str(), (kind, ending));
        }
        plan.jobs.push(Job {
            email,
            kind,
            state: State::Queued,
            about: About::Grants(granted),
            activation: None,
            after_earlier: false,
            for_reminders: false,
            reference,
            not_activated: false,
            behind: None,
        });
    }

    if night.first_load {
        summary.no_digests = Some("first load: no previous snapshot to compare with".into());
    } else {
        let share = if changes.followed_cases == 0 {
            0.0
        } else {
            changes.cases_with_news as f64 / changes.followed_cases as f64
        };
        if rerun && known.night_held {
            summary.held = true;
            summary.held_reason = Some(format!(
                "the night's digests are held: this re-run's are held with them until `cpor-etl outbox release {}`",
                compact(night.date)
            ));
        } else if share > flood.share && changes.followed_cases >= flood.min_cases {
            summary.held = true;
            summary.held_reason = Some(format!(
                "news on {} of {} followed cases ({:.1}%), more than {:.0}%: digests held until \
                 `cpor-etl outbox release {}`; decide before the next night's import (compared with \
                 this night, its mail leaves these never to go)",
                changes.cases_with_news,
                changes.followed_cases,
                share * 100.0,
                flood.share * 100.0,
                compact(night.date)
            ));
        }
        let digest_state = if summary.held {
            State::Held
        } else {
            State::Queued
        };
        for (email, news) in &changes.news {
            if has(email, Kind::Digest) {
                summary.already_queued += 1;
                continue;
            }
            let (news, reminders_only) = match told.get(email) {
                Some(t) if t.news.is_empty() => {
                    // (an unsubscribe only if its own switch held back a
                    // case granted to it)
                    let held_back = news
                        .iter()
                        .any(|n| n.follow.grant && Tell::of(n, email, known) != Tell::All);
                    summary.unsubscribed += u64::from(held_back);
                    continue;
                }
                Some(t) => {
                    summary.for_reminders += u64::from(t.for_reminders);
                    (&t.news, t.for_reminders)
                }
                // (all of it told whole)
                None => (news, false),
            };
            plan.jobs.push(Job {
                email,
                kind: Kind::Digest,
                state: state(email, Kind::Digest, digest_state),
                about: About::News(news),
                activation: None,
                // (the night's digest from an earlier build, this run's own
                // having skipped the address above, that reaches it: not
                // one suppressed or failed)
                after_earlier: rerun && known.reached.contains(email.as_str()),
                for_reminders: reminders_only,
                reference: None,
                not_activated: known.not_activated.contains(email.as_str()),
                behind: None,
            });
        }
    }

    // Expiry warnings, once per (address, case, last day), and again of a
    // day moved back to after another was warned of (a typo corrected).
    for (email, expiring) in &changes.expiring {
        let fresh: Vec<&Expiring> = expiring
            .iter()
            .filter(|x| !known.warned.told(email, &x.case.id(), to_int(x.last_day)))
            .collect();
        // (the night has a warning to the address under this run's
        // reference already, another run's: what it warned of is recorded
        // as warned; the rest, or what a warning withheld tonight warned
        // of, in a warning of its own, as grants are told)
        let reference = has(email, Kind::Expiry).then(|| known.more_reference(email));
        let fresh = if reference.is_some() {
            known.not_warned(email, fresh)
        } else {
            fresh
        };
        if fresh.is_empty() {
            summary.already_queued += u64::from(reference.is_some());
            continue;
        }
        plan.warn.extend(
            fresh
                .iter()
                .map(|x| (email.clone(), x.case.id(), to_int(x.last_day))),
        );
        // Tonight's grant mail that says each of these cases' last day
        // stands for the warning if it goes out: the warning waits behind
        // it (two mails the same morning about one case otherwise). It
        // goes if that mail is withheld or fails; one case the grant mail
        // does not show keeps the warning whole and on its own.
        let behind = ending_shown.get(email.as_str()).and_then(|(kind, shown)| {
            fresh
                .iter()
                .all(|x| {
                    shown
                        .iter()
                        .any(|g| g.case == x.case && g.last_day == Some(x.last_day))
                })
                .then_some(*kind)
        });
        plan.jobs.push(Job {
            email,
            kind: Kind::Expiry,
            state: state(email, Kind::Expiry, State::Queued),
            about: About::Expiring(fresh),
            activation: None,
            after_earlier: false,
            for_reminders: false,
            reference,
            not_activated: known.not_activated.contains(email.as_str()),
            behind,
        });
    }

    // The order of the night's items is fixed: by kind, then address.
    plan.jobs
        .sort_by(|a, b| (a.kind, a.email).cmp(&(b.kind, b.email)));
    plan.summary = summary;
    plan
}

/// What the night's digests attach as calendar files: the hearings their
/// news announces (corrections without news ride in the news itself), and
/// the SEQUENCE floors those files set (`super::floors`), recorded with
/// them.
#[derive(Debug, Clone, Copy)]
pub struct Calendars<'a> {
    pub announced: &'a Announced,
    /// The snapshot the night's mail compares with (none on a first load):
    /// whether a hearing's change was told already ([`told`]), if its
    /// files were told (`Outbox::told`).
    pub before: Option<&'a SnapshotFile>,
    /// Tonight's snapshot, recorded with the night's mail as told against
    /// `before` (`NightQueue::told`).
    pub tonight: &'a SnapshotFile,
    pub floors: &'a [Floor],
}

/// Queues tonight's mail: read what is known, plan, commit the accounts,
/// render, write the outbox; the night's pending record (`done`) ends in
/// the outbox's transaction, and so does the withholding of the earlier
/// grant mail `retold` tells again (`super::retell`).
#[allow(clippy::too_many_arguments)]
pub fn queue(
    data_dir: &Path,
    cfg: &MailSettings,
    night: Night,
    changes: &Changes,
    retold: &Retold,
    calendars: Calendars<'_>,
    done: Option<&PendingNight>,
    now: DateTime<Utc>,
) -> Result<QueueSummary, NotifyError> {
    if night.older {
        // History, not news: never told (`told_snapshots`), so a chain
        // breaks there, or does not start after it.
        let mut outbox = Outbox::open(data_dir)?;
        outbox.never_told(&calendars.tonight.name())?;
        if done.is_some() {
            outbox
                .begin_night(night.date, &night.reference(), now)?
                .commit(done)?;
        }
        return Ok(history(changes, night, cfg));
    }
    let key = secret::load_or_create_key(data_dir).map_err(NotifyError::Key)?;
    planned(
        data_dir,
        cfg,
        night,
        changes,
        retold,
        &calendars,
        |mut planned, mut plan| {
            // (a flag still to write, older than tonight's grant, must not
            // land after the grant clears it)
            planned.outbox.drop_flags_to_write(&plan.unflag)?;
            commit_accounts(&mut planned.accounts, &mut plan, &planned.known, cfg, now)?;
            write(
                &mut planned.outbox,
                cfg,
                night,
                plan,
                &key,
                calendars,
                &planned.ids,
                retold,
                done,
                now,
            )
        },
    )
}

/// What [`queue`] would queue, as its summary says it, with nothing
/// written: the same reading of what is known and the same plan, stopped
/// before the accounts and the outbox are touched (`cpor-etl outbox rediff
/// --dry-run`, `forget --dry-run`).
pub fn preview(
    data_dir: &Path,
    cfg: &MailSettings,
    night: Night,
    changes: &Changes,
    retold: &Retold,
    calendars: &Calendars<'_>,
) -> Result<QueueSummary, NotifyError> {
    if night.older {
        return Ok(history(changes, night, cfg));
    }
    planned(
        data_dir,
        cfg,
        night,
        changes,
        retold,
        calendars,
        |_, plan| {
            // Counted as `write` counts what it queues (less an address the
            // mail library would refuse, found only when rendered).
            let mut summary = plan.summary;
            // (whether a warning may wait behind its grant mail, as if
            // queued now: `write` decides it by each item's time)
            let opening = window_opening(Utc::now(), cfg.window.start, cfg.window.end);
            let may_wait = mail::outbox::may_wait_behind(opening, cfg.window.end);
            for job in &plan.jobs {
                summary.count(job.kind);
                summary.suppressed += u64::from(job.state == State::Suppressed);
                summary.expiry_behind += u64::from(job.behind.is_some() && may_wait);
            }
            // Those a `send` withheld already are not withheld again.
            summary.withheld = retold.withheld.iter().filter(|(m, _)| !m.withheld).count() as u64;
            Ok(summary)
        },
    )
}

/// The summary of an older night's mail: history, nothing queued.
fn history(changes: &Changes, night: Night, cfg: &MailSettings) -> QueueSummary {
    let none = BTreeMap::new();
    plan(changes, &none, &Known::default(), night, flood(cfg)).summary
}

/// `Known::told_elsewhere`: of the addresses granted tonight, the cases an
/// activation or approval of a night after `base` (not tonight's; of any
/// night without one: `outbox rediff --from none`) names and told, or
/// will: one that went or may have, or one still to go whose every case
/// tonight's snapshot grants its address (`send` withholds any other).
/// Not one withheld tonight (`retell` tells its cases still granted
/// again).
fn told_elsewhere(
    outbox: &Outbox,
    base: Option<&SnapshotFile>,
    tonight: &SnapshotFile,
    changes: &Changes,
    retold: &Retold,
) -> Result<BTreeMap<String, BTreeSet<String>>, NotifyError> {
    let after = base.map(|b| compact(b.date)).unwrap_or_default();
    let mail = outbox.grants_told_after(&after, &compact(tonight.date), |e| {
        changes.new_grants.contains_key(e)
    })?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if mail.is_empty() {
        return Ok(out);
    }
    let withheld: BTreeSet<i64> = retold.withheld.iter().map(|(m, _)| m.id).collect();
    let snapshot = crate::snapshot::read::Snapshot::open(tonight)?;
    for m in mail.into_iter().filter(|m| !withheld.contains(&m.id)) {
        if m.still_to_go {
            let mut all = true;
            for id in &m.case_keys {
                let granted = match CaseRef::parse_id(id) {
                    Some(case) => snapshot.grants_case(&m.email, &case)?,
                    None => false,
                };
                all &= granted;
            }
            if !all {
                continue;
            }
        }
        out.entry(m.email).or_default().extend(m.case_keys);
    }
    Ok(out)
}

/// What tonight's plan was made from, read but not yet written.
struct Read {
    accounts: rusqlite::Connection,
    outbox: Outbox,
    known: Known,
    ids: Ids,
}

/// Reads what is known (accounts, the outbox, the calendars told), plans
/// tonight's mail, and hands both to `then`; writes nothing itself.
fn planned<R>(
    data_dir: &Path,
    cfg: &MailSettings,
    night: Night,
    changes: &Changes,
    retold: &Retold,
    calendars: &Calendars<'_>,
    then: impl FnOnce(Read, Plan<'_>) -> Result<R, NotifyError>,
) -> Result<R, NotifyError> {
    let accounts = store::accounts::open(data_dir)?;
    let outbox = Outbox::open(data_dir)?;
    let mut known = read_known(&accounts, &outbox, night.date, changes)?;
    known.told_again_only = retold.only_again.clone();
    // (the mail-links review of the fifty-third session: with reminders
    // off for everyone, an address with digests off was still told its
    // hearings' changes under 庭期提醒)
    known.no_reminders = cfg.reminder_days.is_empty();
    // (compared with no snapshot, `outbox rediff --from none`: every
    // night's grant mail counts, night 1's activations still queued above
    // all, which went with the rediff's: two links in one run, the admin
    // review of the fifty-second session)
    known.told_elsewhere = told_elsewhere(
        &outbox,
        calendars.before,
        calendars.tonight,
        changes,
        retold,
    )?;
    // Earlier mail withheld tonight told nothing: its expiry warnings are
    // given again, and it is no grant mail of the night. Only what it
    // recorded itself (its night's, under its reference) is given again:
    // another night's or build's warning of the case, of a last day moved
    // since, still stands (it may be waiting too).
    let mut reopened = BTreeSet::new();
    for (m, _) in retold
        .withheld
        .iter()
        .filter(|(m, _)| m.kind == Kind::Expiry)
    {
        for (case, last_day) in outbox.warned_by(&m.night, &m.reference, &m.email)? {
            if retold.warns_again(&m.email, &case) {
                reopened.insert((m.email.clone(), case, last_day));
            }
        }
    }
    known.warned.reopen(&reopened);
    let tonight = compact(night.date);
    let own = night.reference();
    for (m, _) in retold.withheld.iter().filter(|(m, _)| m.night == tonight) {
        // (unless it holds the key this run's own would take: the night's
        // mail of another run under the same reference, after a rollback
        // or compared with another snapshot; the run tells its cases in
        // mail of its own, below)
        if !m.withheld && m.reference != own {
            known
                .queued
                .remove(&(m.email.clone(), m.kind, m.reference.clone()));
        }
        // Nor does the night's grant mail whose cases are told tonight,
        // withheld now or by a `send` before (`super::retell`): what it
        // named is told again, so it names nothing a run may leave out
        // (`Known::not_named`). One whose cases another night's mail told
        // already (`told_by`), which tonight tells none of, names them.
        if m.told_by.is_some() {
            continue;
        }
        if let Some(grants) = known.night_grants.get_mut(&m.email) {
            grants
                .mail
                .retain(|(kind, reference, _)| !(*kind == m.kind && *reference == m.reference));
        }
    }
    // A change the previous snapshot brought is taken as told only if its
    // files were (`Outbox::told`: its night's mail and every night's
    // before it queued, their digests not held); else it is told again.
    let id = |file| known_as(file).map_err(|e| NotifyError::damaged(calendars.tonight, e));
    let ids = Ids {
        tonight: id(calendars.tonight)?,
        base: calendars.before.map(id).transpose()?,
    };
    let told_before = match (calendars.before, &ids.base) {
        (Some(f), Some(base)) => {
            let told = outbox.told(base)?;
            if !told {
                tracing::info!(
                    "the calendar files of {} are not known to be told (a night before it was not mailed, or is held: docs/HEARINGS.md); addresses that keep only reminders are told every change tonight's news announces",
                    base.name
                );
            }
            told.then_some(f)
        }
        _ => None,
    };
    let mut before = Before::new(told_before);
    let told = told(changes, calendars.announced, &known, &mut |case| {
        before.files(case)
    });
    tracing::debug!(
        "{} cases' hearings looked up in the previous snapshot for addresses told only their changes ({:?})",
        before.asked,
        before.spent
    );
    let mut plan = plan(changes, &told, &known, night, flood(cfg));
    let warned_again = plan
        .warn
        .iter()
        .filter(|(e, c, _)| retold.warns_again(e, c))
        .count() as u64;
    plan.summary.told_again = retold.grants_again + warned_again;
    then(
        Read {
            accounts,
            outbox,
            known,
            ids,
        },
        plan,
    )
}

/// Tonight's snapshot and the one its mail compares with, as
/// `told_snapshots` knows them ([`known_as`]).
struct Ids {
    tonight: SnapshotId,
    base: Option<SnapshotId>,
}

/// How `told_snapshots` knows `file`: its name and recorded SHA-256 (a
/// name comes back once every build of its date is gone).
fn known_as(file: &SnapshotFile) -> Result<SnapshotId, store::layout::Damaged> {
    Ok(SnapshotId {
        name: file.name(),
        sha256: file.recorded_checksum()?,
    })
}

/// The calendar files of a digest to `email`, each on its case of `cases`
/// (the digest's, in `news` order; attached while the case is listed in
/// full, `View::trim`): one per hearing to come that its entries announce
/// (REQUEST, or CANCEL once it no longer takes place at that time), and
/// one per hearing the court corrected without news (`super::corrected`);
/// and whether one of them changes a hearing already announced (moved,
/// cancelled, its SEQUENCE raised). Marks each case with what its news
/// does to its hearings, for the order a cut list keeps.
fn digest_calendars(
    news: &[CaseNews],
    cases: &mut [render::CaseView],
    announced: &Announced,
    email: &str,
    cfg: &MailSettings,
    now: DateTime<Utc>,
) -> bool {
    let mut uids = BTreeSet::new();
    let mut changed = false;
    for (n, view) in news.iter().zip(cases.iter_mut()) {
        for e in &n.entries {
            for h in announced
                .get(&(n.case.id(), e.entry.seq))
                .into_iter()
                .flatten()
            {
                if !uids.insert(h.uid.clone()) {
                    continue;
                }
                let changes = h.sequence > 0 || !h.state.takes_place();
                changed |= changes;
                view.hearing_news = view.hearing_news.min(match changes {
                    true => render::HearingNews::Changed,
                    false => render::HearingNews::Announced,
                });
                view.calendars.push(h.calendar(&n.case, email, cfg, now));
            }
        }
        // Hearings the court corrected without news.
        for c in &n.corrections {
            if uids.insert(c.hearing.uid.clone()) {
                changed = true;
                view.calendars
                    .push(c.hearing.calendar(&n.case, email, cfg, now));
            }
        }
    }
    changed
}

fn flood(cfg: &MailSettings) -> Flood {
    Flood {
        share: cfg.flood_share,
        min_cases: cfg.flood_min_cases,
    }
}

/// What the plan needs from the accounts and the outbox.
fn read_known(
    accounts: &Connection,
    outbox: &Outbox,
    night: NaiveDate,
    changes: &Changes,
) -> Result<Known, NotifyError> {
    // Digests off, and of those, reminders off too: one pass over the
    // accounts (a national table is about a million rows).
    let (mut unsubscribed, mut reminders_off) = (BTreeSet::new(), BTreeSet::new());
    let mut stmt = accounts.prepare("SELECT email, reminders FROM accounts WHERE digests = 0")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let email: String = r.get(0)?;
        if !r.get::<_, bool>(1)? {
            reminders_off.insert(email.clone());
        }
        unsubscribed.insert(email);
    }
    drop(rows);
    drop(stmt);
    // Digests held by a rollback, or superseded after one, are no mail of
    // the night's.
    let mut queued = outbox.queued_for(night)?;
    for (email, reference) in outbox.untold_digests(night)? {
        queued.remove(&(email, Kind::Digest, reference));
    }
    let mut known = Known {
        queued,
        accounts: BTreeMap::new(),
        flagged: store::accounts::flagged_set(accounts)?,
        told_again_only: BTreeSet::new(),
        unsubscribed,
        reminders_off,
        no_reminders: false,
        warned: outbox.warned(
            changes
                .expiring
                .iter()
                .flat_map(|(e, xs)| xs.iter().map(move |x| (e.as_str(), x.case.id()))),
        )?,
        night_held: outbox.held(night)?,
        reached: outbox.digests_reaching(night)?,
        not_activated: store::accounts::not_activated(
            accounts,
            changes
                .news
                .keys()
                .chain(changes.expiring.keys())
                .map(String::as_str),
        )?,
        night_grants: BTreeMap::new(),
        more_used: BTreeMap::new(),
        told_elsewhere: BTreeMap::new(),
    };
    let tonight = compact(night);
    let wanted = |e: &str| changes.new_grants.contains_key(e) || changes.expiring.contains_key(e);
    for mail in outbox.night_grant_mail(night, wanted)? {
        // (mail a run of this night withheld names nothing: what it kept,
        // that run's mail names; what it named that was revoked is told,
        // should it be granted again. Mail another night withheld names
        // what it did; mail `send` withheld, its cases still to tell
        // (`untold`), too, unless this run tells them: `planned`)
        if mail.withheld
            && mail
                .told_by
                .as_deref()
                .is_some_and(|t| mail::outbox::teller(t).0 == tonight)
        {
            continue;
        }
        let cases = mail.case_keys.map(|c| c.into_iter().collect());
        known
            .night_grants
            .entry(mail.email)
            .or_default()
            .mail
            .push((mail.kind, mail.reference, cases));
    }
    // (one pass over what the night has: a rediff of a national night
    // meets some 10^5 addresses with its grant mail)
    for (email, _, reference) in &known.queued {
        if let Some(n) = mail::outbox::more_number(reference) {
            let used = known.more_used.entry(email.clone()).or_default();
            *used = (*used).max(n);
        }
    }
    let mut find =
        accounts.prepare("SELECT id, password_hash IS NOT NULL FROM accounts WHERE email = ?1")?;
    for email in changes.new_grants.keys() {
        let found: Option<(i64, bool)> = find
            .query_row([email], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        // Granted tonight with no account or none activated: its activation
        // goes out tonight, and its other mail says to use it.
        if !found.is_some_and(|(_, activated)| activated) {
            known.not_activated.insert(email.clone());
        }
        if let Some((id, activated)) = found {
            known.accounts.insert(
                email.clone(),
                if activated {
                    Account::Activated
                } else {
                    Account::NotActivated(id)
                },
            );
        }
    }
    Ok(known)
}

/// The accounts step, one transaction: tonight's grants clear flags; each
/// activation gets its account (created if need be) and a new token, and
/// its job the link.
fn commit_accounts(
    accounts: &mut Connection,
    plan: &mut Plan,
    known: &Known,
    cfg: &MailSettings,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let site = cfg.site_url.as_str();
    let now_text = now.to_rfc3339();
    let tx = accounts.transaction()?;
    for email in &plan.unflag {
        store::accounts::unflag(&tx, email)?;
    }
    let token_error = |e| match e {
        store::accounts::TokenError::Sqlite(e) => NotifyError::from(e),
        store::accounts::TokenError::Randomness(e) => NotifyError::Token(e),
    };
    let until_at = cfg.activation_until(now);
    let until = roc_taipei(until_at);
    {
        let mut new_token = store::accounts::token_maker(
            &tx,
            store::accounts::Purpose::Activate,
            until_at - now,
            now,
        )
        .map_err(token_error)?;
        for job in plan.jobs.iter_mut().filter(|j| j.kind == Kind::Activation) {
            let id = match known.accounts.get(job.email) {
                Some(Account::NotActivated(id)) => *id,
                _ => store::accounts::create_or_get(&tx, job.email, &now_text)?,
            };
            let token = new_token(id).map_err(token_error)?;
            job.activation = Some((format!("{site}/activate?token={token}"), until.clone()));
        }
    }
    tx.commit()?;
    Ok(())
}

/// Renders the plan's jobs in parallel, a chunk at a time, while this
/// thread writes the chunk before; the night commits at once.
#[allow(clippy::too_many_arguments)]
fn write(
    outbox: &mut Outbox,
    cfg: &MailSettings,
    night: Night,
    plan: Plan,
    key: &[u8],
    calendars: Calendars<'_>,
    ids: &Ids,
    retold: &Retold,
    done: Option<&PendingNight>,
    now: DateTime<Utc>,
) -> Result<QueueSummary, NotifyError> {
    let Plan {
        jobs,
        warn,
        mut summary,
        ..
    } = plan;
    let (reference, rerun, superseding) =
        (night.reference(), night.rerun, night.superseding.is_some());
    // Tonight's grant mail and expiry warnings, by address and whether a
    // warning: their reference (a grant mail of its own's, beside the
    // night's of other builds) and the cases they name.
    let tellers: BTreeMap<(&str, bool), (String, BTreeSet<String>)> = jobs
        .iter()
        .filter(|j| j.kind.is_grant() || j.kind == Kind::Expiry)
        .map(|j| {
            let reference = j.reference.clone().unwrap_or_else(|| reference.clone());
            let cases = j.about.grant_case_keys().into_iter().collect();
            ((j.email, j.kind == Kind::Expiry), (reference, cases))
        })
        .collect();
    // The reference of tonight's grant mail (`warning` false) or expiry
    // warning to an address: a warning queued behind its address's grant
    // mail names that mail by it, and each `expiry_warned` row the warning
    // that gives it.
    let reference_of = |email: &str, warning: bool| {
        tellers
            .get(&(email, warning))
            .map_or(&reference, |(r, _)| r)
            .clone()
    };
    let night = night.date;
    let from = &cfg.from;
    let site = cfg.site_url.as_str();
    let date = SystemTime::from(now);
    let message_ids = mail::MessageIds::new(key);
    let render_one = |job: Job| -> Result<(NewItem, State, String), (String, RenderError)> {
        let mut view = View {
            subject: String::new(),
            email: job.email.to_string(),
            cases: job.about.views(),
            site: site.to_string(),
            link: format!("{site}/login"),
            expires: String::new(),
            night: roc(night),
            unsubscribe: mail::unsubscribe_url(
                site,
                key,
                if job.for_reminders {
                    Mailing::Reminders
                } else {
                    Mailing::Digests
                },
                job.email,
            ),
            more: 0,
            rerun: rerun.is_some(),
            after_earlier: job.after_earlier,
            for_reminders: job.for_reminders,
            hearings: Vec::new(),
            calendars: 0,
            index: Vec::new(),
            calendars_left_out: 0,
            cut_changes: Vec::new(),
            entries_left_out: false,
            not_activated: job.not_activated,
            hearings_changed: false,
            maintenance: cfg.maintenance.said(),
        };
        if let Some((link, expires)) = job.activation {
            view.link = link;
            view.expires = expires;
        }
        view.hearings_changed = match &job.about {
            About::News(news) => digest_calendars(
                news,
                &mut view.cases,
                calendars.announced,
                job.email,
                cfg,
                now,
            ),
            _ => false,
        };
        let keep_entries = !job.kind.is_grant() || view.cases.len() <= render::ENTRIES_UP_TO;
        view.finish(job.kind, keep_entries);
        let mut calendars = view.take_calendars();
        super::reminders::distinct_names(&mut calendars);
        let reference = job.reference.clone().unwrap_or_else(|| reference.clone());
        let id = message_ids.id(night, job.email, job.kind, &reference, from);
        let case_keys = job.about.grant_case_keys();
        let behind = job.behind.map(|kind| {
            let grant_mail = reference_of(job.email, false);
            message_ids.id(night, job.email, kind, &grant_mail, from)
        });
        match render::render_with(job.kind, &view, from, &id, date, &calendars) {
            Ok(r) => Ok((
                NewItem {
                    cases: view.cases.len(),
                    case_keys,
                    behind,
                    email: job.email.to_string(),
                    kind: job.kind,
                    message_id: id,
                    subject: r.subject,
                    message: Packed::new(job.kind, &r.message),
                },
                job.state,
                reference,
            )),
            Err(e) => Err((job.email.to_string(), e)),
        }
    };

    let opening = window_opening(now, cfg.window.start, cfg.window.end);
    let n = jobs.len().max(1) as i64;
    let spread = cfg.spread.num_seconds();
    let tx = outbox.begin_night(night, &reference, now)?;
    if superseding {
        summary.superseded = tx.supersede_held_by_rollback(&ids.tonight.name)?;
    }
    let base = ids.base.as_ref().map(|b| b.name.as_str());
    for (held, n, rolled_back) in tx.give_up_held_before(base)? {
        match rolled_back {
            true => summary.given_up_rolled_back.push((held, n)),
            false => summary.given_up.push((held, n)),
        }
    }
    super::render_while_writing(jobs.into_iter(), render_one, |rendered| {
        for (i, rendered) in rendered.enumerate() {
            let (mut item, state, item_reference) = match rendered {
                Ok(r) => r,
                Err((email, e)) => {
                    summary.invalid_addresses.push(format!("{email}: {e}"));
                    continue;
                }
            };
            if state == State::Suppressed {
                summary.suppressed += 1;
            }
            let not_before = opening + Duration::seconds(spread * i as i64 / n);
            if item.behind.is_some() && !mail::outbox::may_wait_behind(not_before, cfg.window.end) {
                // (too late in the day to wait: on its own)
                item.behind = None;
            }
            if tx.add_under(&item, state, not_before, &item_reference)? {
                summary.count(item.kind);
                summary.expiry_behind += u64::from(item.behind.is_some());
            }
        }
        Ok::<(), NotifyError>(())
    })?;
    for (email, case, day) in &warn {
        tx.warned(email, case, *day, &reference_of(email, true))?;
    }
    // Earlier grant mail that names a case no longer granted: withheld
    // with the mail that tells what is still granted (`super::retell`).
    // Each records the night whose mail told what of it was still granted,
    // if anything (`told_by`): tonight's mail to the address, of the kind
    // that tells them, that names any of them, else the run's reference.
    for (mail, why) in &retold.withheld {
        let teller = tellers
            .get(&(mail.email.as_str(), mail.kind == Kind::Expiry))
            .filter(|(_, cases)| mail.case_keys.iter().any(|c| cases.contains(c)))
            .map_or(reference.as_str(), |(r, _)| r.as_str());
        if tx.withhold_told_in(mail, why, teller)? {
            summary.withheld += u64::from(!mail.withheld);
        }
    }
    if let Some(reason) = &summary.held_reason {
        tx.hold(reason)?;
    }
    // The SEQUENCE floors its calendar files set (`super::floors`).
    tx.raise_floors(calendars.floors, night)?;
    // Its files told, against the snapshot it was compared with.
    tx.told(&ids.tonight, ids.base.as_ref())?;
    tx.commit(done)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryData;
    use proptest::prelude::*;
    use schemas::CaseKey;

    const EMAILS: [&str; 4] = ["a@x.tw", "b@x.tw", "c@x.tw", "d@x.tw"];

    fn case(n: u32) -> CaseRef {
        CaseRef {
            court: "TPD".into(),
            key: CaseKey {
                category: "民事".into(),
                year: 115,
                word: "訴".into(),
                number: n,
            },
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    /// A news entry of 2026-12-01.
    fn news_entry(seq: u32, text: &str) -> super::super::diff::NewsEntry {
        super::super::diff::NewsEntry {
            entry: EntryData {
                seq,
                posted: day(1),
                text: text.into(),
                modified: day(1).and_hms_opt(9, 0, 0).unwrap(),
            },
            was: None,
        }
    }

    /// An ordinary night after the first, and the flood guard of 30%.
    fn ordinary_night() -> (Night, Flood) {
        let night = Night {
            date: day(2),
            first_load: false,
            older: false,
            rerun: None,
            superseding: None,
        };
        let flood = Flood {
            share: 0.3,
            min_cases: 100,
        };
        (night, flood)
    }

    /// One address's part in a night: grants, news, expiring cases (by
    /// number), what is already queued, its account, flag, unsubscribe and
    /// the expiry warnings it had.
    #[derive(Debug, Clone)]
    struct Who {
        grants: Vec<u32>,
        news: Vec<u32>,
        expiring: Vec<u32>,
        queued: Vec<Kind>,
        /// The night's digest queued for it never reaches it (suppressed,
        /// or failed).
        digest_lost: bool,
        account: Option<Account>,
        flagged: bool,
        unsubscribed: bool,
        /// A hearing of its news changed.
        calendar: bool,
        warned: Vec<u32>,
        /// Its grants are only earlier grant mail told again, none new.
        again_only: bool,
        /// The cases the night's grant mail queued for it names (if
        /// `queued` has an activation or approval).
        named: Vec<u32>,
    }

    fn who() -> impl Strategy<Value = Who> {
        let cases = || prop::collection::vec(1u32..5, 0..3);
        let kinds = prop::collection::vec(
            prop_oneof![
                Just(Kind::Activation),
                Just(Kind::Approval),
                Just(Kind::Digest),
                Just(Kind::Expiry)
            ],
            0..3,
        );
        let account = prop_oneof![
            Just(None),
            Just(Some(Account::Activated)),
            Just(Some(Account::NotActivated(7)))
        ];
        (
            cases(),
            cases(),
            cases(),
            kinds,
            account,
            any::<bool>(),
            any::<bool>(),
            cases(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            cases(),
        )
            .prop_map(
                |(
                    grants,
                    news,
                    expiring,
                    queued,
                    account,
                    flagged,
                    unsubscribed,
                    warned,
                    digest_lost,
                    calendar,
                    again_only,
                    named,
                )| Who {
                    grants,
                    news,
                    expiring,
                    queued,
                    digest_lost,
                    account,
                    flagged,
                    unsubscribed,
                    calendar,
                    warned,
                    again_only,
                    named,
                },
            )
    }

    /// A job as the model says it: (kind, address, state, whether a
    /// re-run's digest says the night's earlier digest did not list it,
    /// whether it is one to an address that keeps only reminders, the
    /// grant mail an expiry warning waits behind).
    type Want<'a> = (Kind, &'a str, State, bool, bool, Option<Kind>);

    /// The night's changes, what is known, and what addresses that keep
    /// only reminders are told (`for_reminders`).
    type Built = (Changes, Known, BTreeMap<String, Told>);

    fn build(people: &[Who], followed: u64, with_news: u64) -> Built {
        let mut changes = Changes {
            followed_cases: followed,
            cases_with_news: with_news.min(followed),
            ..Changes::default()
        };
        let mut known = Known::default();
        let mut told = BTreeMap::new();
        let entry = |n: u32| EntryData {
            seq: n,
            posted: day(1),
            text: format!("事項{n}"),
            modified: day(1).and_hms_opt(9, 0, 0).unwrap(),
        };
        for (w, email) in people.iter().zip(EMAILS) {
            let e = email.to_string();
            if !w.grants.is_empty() {
                changes.new_grants.insert(
                    e.clone(),
                    w.grants
                        .iter()
                        .map(|&n| Granted {
                            case: case(n),
                            division: None,
                            role: "原告".into(),
                            entries: vec![entry(n)],
                            // (as the diff gives it: a grant of a case
                            // ending soon is expiring too)
                            last_day: w.expiring.contains(&n).then(|| day(n)),
                        })
                        .collect(),
                );
            }
            if !w.news.is_empty() {
                changes.news.insert(
                    e.clone(),
                    w.news
                        .iter()
                        .map(|&n| {
                            CaseNews::of(
                                case(n),
                                vec![super::super::diff::NewsEntry {
                                    entry: entry(n),
                                    was: None,
                                }],
                            )
                        })
                        .collect(),
                );
            }
            if !w.expiring.is_empty() {
                changes.expiring.insert(
                    e.clone(),
                    w.expiring
                        .iter()
                        .map(|&n| Expiring {
                            case: case(n),
                            division: None,
                            status: "上訴".into(),
                            last_day: day(n),
                            ended: None,
                        })
                        .collect(),
                );
            }
            // Queued by the night's first run (no reference).
            for k in &w.queued {
                known.queued.insert((e.clone(), *k, String::new()));
                if k.is_grant() && !w.grants.is_empty() {
                    let named = w.named.iter().map(|&n| case(n).id()).collect();
                    let grants = known.night_grants.entry(e.clone()).or_default();
                    grants.mail.push((*k, String::new(), Some(named)));
                }
            }
            if w.queued.contains(&Kind::Digest) && !w.digest_lost {
                known.reached.insert(e.clone());
            }
            if let Some(a) = w.account {
                known.accounts.insert(e.clone(), a);
            }
            if w.flagged {
                known.flagged.insert(e.clone());
            }
            if w.again_only && !w.grants.is_empty() {
                known.told_again_only.insert(e.clone());
            }
            if w.unsubscribed {
                known.unsubscribed.insert(e.clone());
            }
            // Digests off: told only its first case (a hearing of it
            // changed), or nothing.
            if let (true, Some(news)) = (w.unsubscribed, changes.news.get(&e)) {
                let news = if w.calendar {
                    news[..1].to_vec()
                } else {
                    Vec::new()
                };
                told.insert(
                    e.clone(),
                    Told {
                        news,
                        for_reminders: true,
                    },
                );
            }
            for &n in &w.warned {
                known
                    .warned
                    .order
                    .entry((e.clone(), case(n).id()))
                    .or_default()
                    .push(to_int(day(n)));
            }
        }
        (changes, known, told)
    }

    proptest! {
        /// The plan against a literal model, address by address.
        #[test]
        fn the_plan_is_the_rules_address_by_address(
            people in prop::collection::vec(who(), 4),
            followed in 0u64..300,
            with_news in 0u64..300,
            first_load in any::<bool>(),
            older in any::<bool>(),
            rerun in any::<bool>(),
            by_rerun in any::<bool>(),
            held_before in any::<bool>(),
        ) {
            let (changes, mut known, told) = build(&people, followed, with_news);
            // A re-run compares with the night's earlier build: never a
            // first load or an older night.
            let rerun = rerun && !first_load && !older;
            let night = Night {
                date: day(1),
                first_load,
                older,
                rerun: rerun.then_some(2),
                superseding: None,
            };
            // What is queued was queued by the night's first run, or by a
            // re-run of build 2: this very re-run done again, or for any
            // other run (one compared with an earlier night after a
            // rollback), an earlier re-run.
            if by_rerun {
                known.queued = known
                    .queued
                    .into_iter()
                    .map(|(e, k, _)| (e, k, "build-2".to_string()))
                    .collect();
            }
            known.night_held = held_before;
            let flood = Flood { share: 0.3, min_cases: 100 };
            let got = plan(&changes, &told, &known, night, flood);

            let with_news = changes.cases_with_news;
            let held = !older && !first_load && ((rerun && held_before) || (followed >= 100
                && with_news as f64 / followed as f64 > 0.3));
            let mut want: Vec<Want> = Vec::new();
            // A grant mail's cases and own reference, by address.
            let mut grants_of: BTreeMap<&str, (Vec<u32>, Option<String>)> = BTreeMap::new();
            // The addresses whose expiry warning is one of its own.
            let mut warnings_own: BTreeSet<&str> = BTreeSet::new();
            let mut not_named = 0;
            let mut already = 0;
            let mut unsubscribed = 0;
            let mut for_reminders = 0;
            let mut warn = Vec::new();
            if !older {
                for (w, email) in people.iter().zip(EMAILS) {
                    // News and expiry: a re-run's are its own; any other
                    // run's are the night's, whichever run queued them.
                    let queued = |k: Kind| w.queued.contains(&k) && (!rerun || by_rerun);
                    // Grants: once a night, and a re-run's get their own
                    // mail (an approval, or an activation with its link).
                    let grant_done = queued(Kind::Activation) || queued(Kind::Approval);
                    // A grant tonight clears the flag; one only told again
                    // does not.
                    let flagged = w.flagged && (w.grants.is_empty() || w.again_only);
                    // A run whose grant mail the night has already (any
                    // run's but a re-run's own, or its own reference's)
                    // tells in mail of its own the grants the night's
                    // grant mail does not name.
                    let rest: Vec<u32> = if grant_done {
                        w.grants.iter().copied().filter(|n| !w.named.contains(n)).collect()
                    } else {
                        w.grants.clone()
                    };
                    let own = grant_done && !rest.is_empty();
                    not_named += u64::from(own);
                    // Tonight's grant mail, which shows the last day of
                    // each of its cases that ends soon.
                    let mut grant_mail = None;
                    if !w.grants.is_empty() {
                        if grant_done && !own {
                            already += 1;
                        } else if w.account == Some(Account::Activated) {
                            grant_mail = Some(Kind::Approval);
                        } else {
                            grant_mail = Some(Kind::Activation);
                        }
                    }
                    if let Some(kind) = grant_mail {
                        want.push((kind, email, State::Queued, false, false, None));
                        grants_of.insert(email, (rest.clone(), own.then(|| "more-1".to_string())));
                    }
                    if !w.news.is_empty() && !first_load {
                        if queued(Kind::Digest) {
                            already += 1;
                        } else if w.unsubscribed && !w.calendar {
                            unsubscribed += 1;
                        } else {
                            // Digests off: only its hearings' changes, as
                            // a digest.
                            for_reminders += u64::from(w.unsubscribed);
                            let state = if flagged {
                                State::Suppressed
                            } else if held {
                                State::Held
                            } else {
                                State::Queued
                            };
                            // Said only to an address that the night's
                            // digest from an earlier build reaches (not
                            // one suppressed or failed: second review).
                            let after_earlier = rerun
                                && !by_rerun
                                && w.queued.contains(&Kind::Digest)
                                && !w.digest_lost;
                            want.push((Kind::Digest, email, state, after_earlier, w.unsubscribed, None));
                        }
                    }
                    if !w.expiring.is_empty() {
                        // Once per (address, case, last day): what the
                        // night's warning under this run's reference did
                        // not warn of, in a warning of its own.
                        let fresh: Vec<u32> = w
                            .expiring
                            .iter()
                            .copied()
                            .filter(|n| !w.warned.contains(n))
                            .collect();
                        if queued(Kind::Expiry) && fresh.is_empty() {
                            already += 1;
                        } else {
                            if queued(Kind::Expiry) {
                                warnings_own.insert(email);
                            }
                            if !fresh.is_empty() {
                                let state = if flagged { State::Suppressed } else { State::Queued };
                                // Behind tonight's grant mail if it lists
                                // every case the warning names.
                                let behind = grant_mail
                                    .filter(|_| fresh.iter().all(|n| rest.contains(n)));
                                want.push((Kind::Expiry, email, state, false, false, behind));
                                for n in fresh {
                                    warn.push((email.to_string(), case(n).id(), to_int(day(n))));
                                }
                            }
                        }
                    }
                }
            }
            want.sort();
            let jobs: Vec<Want> = got
                .jobs
                .iter()
                .map(|j| (j.kind, j.email, j.state, j.after_earlier, j.for_reminders, j.behind))
                .collect();
            for j in &got.jobs {
                if let (true, About::News(news)) = (j.for_reminders, &j.about) {
                    prop_assert_eq!(*news, &told[j.email].news[..], "only what it is told");
                }
            }
            prop_assert_eq!(jobs, want, "jobs in (kind, address) order");
            for j in &got.jobs {
                let (cases, reference) = match &j.about {
                    About::Grants(granted) => (
                        granted.iter().map(|g| g.case.key.number).collect(),
                        j.reference.clone(),
                    ),
                    About::Expiring(_) => {
                        let own = warnings_own.contains(j.email).then(|| "more-1".to_string());
                        prop_assert_eq!(&j.reference, &own);
                        continue;
                    }
                    About::News(_) => {
                        prop_assert_eq!(&j.reference, &None);
                        continue;
                    }
                };
                prop_assert_eq!(&(cases, reference), &grants_of[j.email], "{}", j.email);
            }
            prop_assert_eq!(got.summary.not_named, not_named);
            prop_assert_eq!(got.summary.already_queued, already);
            prop_assert_eq!(got.summary.unsubscribed, unsubscribed);
            prop_assert_eq!(got.summary.for_reminders, for_reminders);
            prop_assert_eq!(got.summary.held, held);
            let mut got_warn = got.warn.clone();
            got_warn.sort();
            warn.sort();
            prop_assert_eq!(got_warn, warn);
            let unflag: Vec<&str> = if older {
                Vec::new()
            } else {
                changes
                    .new_grants
                    .keys()
                    .filter(|e| !known.told_again_only.contains(*e))
                    .map(String::as_str)
                    .collect()
            };
            prop_assert_eq!(got.unflag, unflag);
            for j in &got.jobs {
                prop_assert!(j.activation.is_none(), "links are made after the plan");
                let reference = j.reference.clone().unwrap_or_else(|| night.reference());
                prop_assert!(!known.queued.contains(&(j.email.to_string(), j.kind, reference)));
            }
        }
    }

    /// What each address is told, by why it follows each case and its
    /// switches: with digests off and reminders on, of a case whose
    /// hearing changed (a news entry announces it moved, cancelled or
    /// revised; or a correction) the corrections and the entries that
    /// announce hearings, nothing of a case whose news schedules a hearing
    /// or is not about hearings; with both off, nothing; a prosecutor's
    /// case the address keeps only reminders of, the same, beside its own
    /// news told whole; an opted-in prosecutor's case whole, whatever the
    /// address's own switches; an address whose news is all told whole is
    /// not in the map.
    #[test]
    fn what_each_address_is_told_by_why_it_follows_the_case() {
        use super::super::corrected::Correction;
        use super::super::diff::Follow;
        use super::super::reminders::Standing;
        use schemas::hearing::State as HearingState;
        let standing = |uid: &str, state: HearingState, sequence: u32| Standing {
            uid: uid.into(),
            sequence,
            at: day(20).and_hms_opt(10, 0, 0).unwrap(),
            courtroom: None,
            kind: "言詞辯論".into(),
            state,
            court_name: "臺灣臺北地方法院".into(),
            moved_from: None,
        };
        let entry = news_entry;
        // Case 1: an entry cancels a hearing, one schedules another, one
        // is other news.
        let one = CaseNews::of(
            case(1),
            vec![
                entry(6, "言詞辯論期日取消"),
                entry(5, "117/03/10 10:00第一法庭調解"),
                entry(4, "收狀"),
            ],
        );
        // Case 2: a correction without news.
        let correction = Correction {
            hearing: standing("h-2", HearingState::Cancelled, 1),
            withdrawn: true,
            above_snapshot: true,
            was: None,
        };
        let two = CaseNews {
            corrected: Some((2, 2)),
            corrections: vec![correction],
            ..CaseNews::of(case(2), Vec::new())
        };
        // Case 3: a hearing scheduled, and other news: nothing changed.
        let three = CaseNews::of(
            case(3),
            vec![entry(8, "117/04/01 10:00第三法庭調解"), entry(7, "收狀")],
        );
        let mut announced = Announced::new();
        announced.insert(
            (case(1).id(), 6),
            vec![standing("h-1", HearingState::Cancelled, 1)],
        );
        announced.insert(
            (case(1).id(), 5),
            vec![standing("h-1b", HearingState::Scheduled, 0)],
        );
        announced.insert(
            (case(3).id(), 8),
            vec![standing("h-3", HearingState::Scheduled, 0)],
        );
        let as_ = |n: &CaseNews, follow: Follow| CaseNews {
            follow,
            ..n.clone()
        };
        let mut changes = Changes::default();
        let grants = vec![one.clone(), two.clone(), three.clone()];
        for e in &EMAILS[..3] {
            changes.news.insert(e.to_string(), grants.clone());
        }
        changes.news.insert(
            EMAILS[3].into(),
            vec![
                as_(&one, Follow::PROSECUTOR_CALENDAR),
                as_(&two, Follow::PROSECUTOR_DIGEST),
                three.clone(),
            ],
        );
        let mut known = Known::default();
        // a: digests off. b: digests and reminders off. c: digests on.
        // d: digests off, reminders off; a prosecutor who keeps only
        // reminders of case 1, and one who opted in to case 2's digest.
        known.unsubscribed.insert(EMAILS[0].into());
        known.unsubscribed.insert(EMAILS[1].into());
        known.reminders_off.insert(EMAILS[1].into());
        known.unsubscribed.insert(EMAILS[3].into());
        known.reminders_off.insert(EMAILS[3].into());

        // The previous snapshot had none of these files.
        let mut nothing_before = |_: &CaseRef| Some(Files::new());
        let told = told(&changes, &announced, &known, &mut nothing_before);
        assert_eq!(
            told.keys().collect::<Vec<_>>(),
            [EMAILS[0], EMAILS[1], EMAILS[3]]
        );
        let hearing_entries = CaseNews {
            entries: one.entries[..2].to_vec(),
            ..one.clone()
        };
        let a = &told[EMAILS[0]];
        assert!(a.for_reminders);
        assert_eq!(a.news, [hearing_entries.clone(), two.clone()]);
        assert_eq!(told[EMAILS[1]].news, []);
        let d = &told[EMAILS[3]];
        assert!(!d.for_reminders);
        assert_eq!(
            d.news,
            [
                as_(&hearing_entries, Follow::PROSECUTOR_CALENDAR),
                as_(&two, Follow::PROSECUTOR_DIGEST),
            ]
        );
        // The same prosecutor's case granted to the address too: the
        // widest reason, whatever the address's own switches.
        changes.news.get_mut(EMAILS[3]).unwrap()[0].follow =
            Follow::PROSECUTOR_CALENDAR.and(Follow::GRANT);
        let told = super::told(&changes, &announced, &known, &mut nothing_before);
        assert_eq!(
            told[EMAILS[3]].news[0],
            as_(
                &hearing_entries,
                Follow::PROSECUTOR_CALENDAR.and(Follow::GRANT)
            )
        );
    }

    /// Noticed in the eighteenth session: an address told only its
    /// hearings' changes was told again of a change it had been told of
    /// when the court revised, on a later night, the entry that made it
    /// (news) without touching the hearing. It is told a changed hearing
    /// only in a file the snapshot the night's mail compares with did not
    /// have: another SEQUENCE (a change since, or a file lifted above its
    /// floor) or the same saying something else; and every change when
    /// that snapshot cannot say. Each case is looked up once, however
    /// many addresses follow it, and only if it has a change to tell.
    #[test]
    fn a_change_the_previous_snapshot_had_already_is_not_told_again() {
        use super::super::floors::floor_of;
        use super::super::reminders::Standing;
        use schemas::hearing::State as HearingState;
        let standing = |uid: &str, state: HearingState, sequence: u32| Standing {
            uid: uid.into(),
            sequence,
            at: day(20).and_hms_opt(10, 0, 0).unwrap(),
            courtroom: Some("第一法庭".into()),
            kind: "言詞辯論".into(),
            state,
            court_name: "臺灣臺北地方法院".into(),
            moved_from: None,
        };
        let moved = standing("h-1", HearingState::Moved, 1);
        let cancelled = standing("h-2", HearingState::Cancelled, 2);
        let lifted = standing("h-3", HearingState::Scheduled, 3);
        let unknown = standing("h-4", HearingState::Cancelled, 1);
        let mut announced = Announced::new();
        let mut news = Vec::new();
        for (n, h) in [(1, &moved), (2, &cancelled), (3, &lifted), (4, &unknown)] {
            announced.insert((case(n).id(), 9), vec![h.clone()]);
            news.push(CaseNews::of(case(n), vec![news_entry(9, "改期")]));
        }
        // Case 5: a hearing newly scheduled, not asked about.
        announced.insert(
            (case(5).id(), 9),
            vec![standing("h-5", HearingState::Scheduled, 0)],
        );
        news.push(CaseNews::of(
            case(5),
            vec![news_entry(9, "117/03/10 10:00")],
        ));
        // Case 6: the same SEQUENCE saying something else.
        let other = standing("h-6", HearingState::Moved, 1);
        announced.insert((case(6).id(), 9), vec![other.clone()]);
        news.push(CaseNews::of(case(6), vec![news_entry(9, "改期")]));
        let mut changes = Changes::default();
        changes.news.insert(EMAILS[0].into(), news.clone());
        changes.news.insert(EMAILS[1].into(), news.clone());
        let mut known = Known::default();
        known.unsubscribed.insert(EMAILS[0].into());
        known.unsubscribed.insert(EMAILS[1].into());
        let file = |h: &Standing| (h.sequence, floor_of(h).content);
        let mut asked = Vec::new();
        let mut before = |c: &CaseRef| {
            asked.push(c.clone());
            let mut files = Files::new();
            match c.key.number {
                // The move, as the previous snapshot had it: told then.
                1 => {
                    files.insert(moved.uid.clone(), file(&moved));
                }
                // Cancelled since: the previous snapshot had it at 1,
                // taking place.
                2 => {
                    let was = standing("h-2", HearingState::Scheduled, 1);
                    files.insert(was.uid.clone(), file(&was));
                }
                // The same content, lifted tonight above a floor.
                3 => {
                    files.insert(lifted.uid.clone(), (2, floor_of(&lifted).content));
                }
                6 => {
                    let was = standing("h-6", HearingState::Scheduled, 1);
                    files.insert(was.uid.clone(), file(&was));
                }
                _ => return None,
            }
            Some(files)
        };
        let told = told(&changes, &announced, &known, &mut before);
        for email in &EMAILS[..2] {
            let cases: Vec<u32> = told[*email]
                .news
                .iter()
                .map(|n| n.case.key.number)
                .collect();
            assert_eq!(cases, [2, 3, 4, 6], "{email}");
        }
        let asked: Vec<u32> = asked.iter().map(|c| c.key.number).collect();
        assert_eq!(asked, [1, 2, 3, 4, 6]);
    }

    /// Review finding (2026-12-03): an address whose applicant account
    /// turned digests off and whose prosecutor's account opted in to the
    /// digest gets the prosecutor's cases' news whole, whether or not one
    /// of its own granted cases has news the same night.
    #[test]
    fn an_opted_in_prosecutors_digest_does_not_depend_on_the_addresss_own_news() {
        use super::super::diff::Follow;
        let entry = news_entry(5, "收狀");
        let prosecutors = CaseNews {
            follow: Follow::PROSECUTOR_DIGEST,
            ..CaseNews::of(case(2), vec![entry.clone()])
        };
        let own = CaseNews::of(case(1), vec![entry]);
        let mut known = Known::default();
        known.unsubscribed.insert(EMAILS[0].into());
        let (night, flood) = ordinary_night();
        let digests = |news: Vec<CaseNews>| {
            let mut changes = Changes::default();
            changes.news.insert(EMAILS[0].into(), news);
            let told = told(&changes, &Announced::new(), &known, &mut |_| None);
            let p = plan(&changes, &told, &known, night, flood);
            let cases: Vec<Vec<CaseRef>> = p
                .jobs
                .iter()
                .filter_map(|j| match &j.about {
                    About::News(n) => Some(n.iter().map(|n| n.case.clone()).collect()),
                    _ => None,
                })
                .collect();
            cases
        };
        assert_eq!(digests(vec![own, prosecutors.clone()]), vec![vec![case(2)]]);
        assert_eq!(digests(vec![prosecutors]), vec![vec![case(2)]]);
    }

    /// Review finding (2026-12-03): an address whose only news is a case
    /// of a prosecutor who keeps only reminders, with nothing to tell, is
    /// not counted as unsubscribed: its own switch held nothing back.
    #[test]
    fn a_reminders_only_prosecutors_case_with_nothing_to_tell_is_not_an_unsubscribe() {
        use super::super::diff::Follow;
        let n = CaseNews {
            follow: Follow::PROSECUTOR_CALENDAR,
            ..CaseNews::of(case(1), vec![news_entry(5, "收狀")])
        };
        let (night, flood) = ordinary_night();
        let mut changes = Changes::default();
        changes.news.insert(EMAILS[0].into(), vec![n.clone()]);
        changes.news.insert(EMAILS[1].into(), vec![n]);
        let mut known = Known::default();
        known.unsubscribed.insert(EMAILS[0].into());
        let told = told(&changes, &Announced::new(), &known, &mut |_| None);
        let p = plan(&changes, &told, &known, night, flood);
        assert!(p.jobs.is_empty(), "{:?}", p.jobs);
        assert_eq!(p.summary.for_reminders, 0);
        assert_eq!(p.summary.unsubscribed, 0, "counted as unsubscribed");
    }
}
