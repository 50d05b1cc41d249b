//! What changed between two snapshots, for e-mail: new grants, news on the
//! cases an address already followed, followed cases about to stop being
//! queryable, and grants gone (revoked, or their case no longer queryable).
//!
//! Both snapshots list cases in key order, and a court's cases are
//! consecutive, so the diff is a merge join, court by court: worker threads
//! (one per core) take courts in turn, each reading the court's cases and
//! grants from both snapshots in step on its own read-only connections. Only
//! the columns the diff needs are read, into buffers reused from one case to
//! the next (`snapshot::read::diffscan`), texts as bytes and dates as the
//! stored integers; a value is converted only when it goes into the result.
//! The courts' results are appended in code order, so the outcome is the same
//! as one pass over the whole key order (the tests compare it with such a
//! pass over the model, the diff as first written). Memory stays flat at
//! national size.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};

use chrono::NaiveDate;
use schemas::contract;

use crate::model::{CaseData, EntryData};
use crate::snapshot::read::diffscan::{utf8, CaseCursor, DiffCase, RawEntry, Roles};
use crate::snapshot::read::{ReadError, Snapshot};
use mail::render::{Ended, Listed};
use schemas::date::last_queryable_day;
use store::layout::SnapshotFile;

pub use schemas::CaseRef;

/// An entry worth telling someone about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsEntry {
    pub entry: EntryData,
    /// The same 序號 as it was shown before, when it was shown with another
    /// text or date (revised): the digest says what it said.
    pub was: Option<EntryData>,
}

/// News on one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNews {
    pub case: CaseRef,
    /// Its 股別 as people say it (`忠股`), if the court gives one.
    pub division: Option<String>,
    /// Newest first.
    pub entries: Vec<NewsEntry>,
    /// The case's hearing list tonight corrects what calendars took from
    /// the previous snapshot's in a way its entries do not tell of
    /// (`meta.hearings_corrected`): the case's ids in the previous snapshot
    /// and tonight's, for `super::corrected` to compare its two lists.
    pub corrected: Option<(i64, i64)>,
    /// What that comparison found to tell, as the case's digest does.
    pub corrections: Vec<super::corrected::Correction>,
    /// Why the address hears of the case.
    pub follow: Follow,
    /// Why the digest lists it: its news; or, with its latest entries as
    /// they stand (`entries`, as an approval lists a newly granted case's),
    /// a case assigned tonight to a prosecutor of the address who opted in
    /// to the digest and not in the snapshot compared with
    /// (`super::prosecutors::add_news`), or one back after its last day had
    /// passed, granted to an address told it had stopped
    /// (`super::back::find`).
    pub listed: Listed,
    /// Its last queryable day, when that is within the expiry notice
    /// period, told to a prosecutor (`super::prosecutors::add_news`): the
    /// expiry warnings go to the addresses granted a case, and a
    /// prosecutor's digest told a case archived without it (the mail
    /// review of the forty-ninth session).
    pub last_day: Option<NaiveDate>,
}

/// Why an address hears of a case's news, every reason it has: what it
/// is told of it is the queue's to decide (`queue::Tell`), from the widest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Follow {
    /// The case is granted to the address: its digest tells the news, or,
    /// with digests off and reminders on, only its hearings' changes.
    pub grant: bool,
    /// The case is assigned to a prosecutor of the address who opted in to
    /// the digest.
    pub prosecutor_digest: bool,
    /// The case is assigned to a prosecutor of the address who keeps
    /// reminders but not the digest: only its hearings' changes.
    pub prosecutor_calendar: bool,
}

impl Follow {
    pub const GRANT: Follow = Follow {
        grant: true,
        prosecutor_digest: false,
        prosecutor_calendar: false,
    };
    pub const PROSECUTOR_DIGEST: Follow = Follow {
        grant: false,
        prosecutor_digest: true,
        prosecutor_calendar: false,
    };
    pub const PROSECUTOR_CALENDAR: Follow = Follow {
        grant: false,
        prosecutor_digest: false,
        prosecutor_calendar: true,
    };

    /// Both reasons.
    pub fn and(self, other: Follow) -> Follow {
        Follow {
            grant: self.grant || other.grant,
            prosecutor_digest: self.prosecutor_digest || other.prosecutor_digest,
            prosecutor_calendar: self.prosecutor_calendar || other.prosecutor_calendar,
        }
    }
}

impl CaseNews {
    /// News of entries alone.
    pub fn of(case: CaseRef, entries: Vec<NewsEntry>) -> CaseNews {
        CaseNews {
            case,
            division: None,
            entries,
            corrected: None,
            corrections: Vec::new(),
            follow: Follow::GRANT,
            listed: Listed::News,
            last_day: None,
        }
    }
}

/// A granted case, as an activation or approval mail lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub case: CaseRef,
    /// Its 股別 as people say it (`忠股`), if the court gives one.
    pub division: Option<String>,
    pub role: String,
    /// Its latest entries tonight, newest first.
    pub entries: Vec<EntryData>,
    /// Its last queryable day, when that is within the expiry notice
    /// period: the first mail the address reads says so, not only the
    /// expiry warning beside it.
    pub last_day: Option<NaiveDate>,
}

/// A followed case that will stop being queryable soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    pub case: CaseRef,
    /// Its 股別 as people say it (`忠股`), if the court gives one.
    pub division: Option<String>,
    pub status: String,
    pub last_day: NaiveDate,
    /// Past its last day already, the night it is told of, and why it
    /// was not told before: a status the court posted more than the cutoff
    /// after its date (`super::ended`), or a warning not delivered before
    /// the last day (`super::retell`).
    pub ended: Option<Ended>,
}

/// Everything the mail stage needs from one diff, per address.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub new_grants: BTreeMap<String, Vec<Granted>>,
    pub news: BTreeMap<String, Vec<CaseNews>>,
    pub expiring: BTreeMap<String, Vec<Expiring>>,
    /// Cases that someone followed in both snapshots.
    pub followed_cases: u64,
    /// Of those, cases with news; and, once `corrected::find` has found
    /// what they have to tell, those with hearings corrected without news:
    /// a court's export that withdraws entries wholesale trips the flood
    /// guard as one of wholesale news does.
    pub cases_with_news: u64,
    /// Followed cases marked corrected with no news (their ids in both
    /// snapshots): counted in `cases_with_news` by `corrected::find` if
    /// they have something to tell.
    pub corrected_only: BTreeSet<(i64, i64)>,
    /// Grants of the previous snapshot that tonight's does not have: the
    /// clerk revoked them, or their case is past its cutoff or gone. Mail
    /// not sent yet that names one is withheld (`super::retell`).
    pub ungranted: BTreeMap<String, BTreeSet<CaseRef>>,
}

impl Changes {
    /// Appends the changes of cases that come after all of these.
    fn append(&mut self, later: Changes) {
        fn join<T>(to: &mut BTreeMap<String, Vec<T>>, from: BTreeMap<String, Vec<T>>) {
            for (email, mut items) in from {
                to.entry(email).or_default().append(&mut items);
            }
        }
        join(&mut self.new_grants, later.new_grants);
        join(&mut self.news, later.news);
        join(&mut self.expiring, later.expiring);
        self.followed_cases += later.followed_cases;
        self.cases_with_news += later.cases_with_news;
        self.corrected_only.extend(later.corrected_only);
        for (email, cases) in later.ungranted {
            self.ungranted.entry(email).or_default().extend(cases);
        }
    }
}

/// Which of tonight's latest three entries are news against the previous
/// latest three: an entry not shown before, or shown with another text or
/// date (revised). An entry that only moved up into a full set of three
/// because a newer one was withdrawn ranks below everything shown before: it
/// is not news, unless it was written since the previous snapshot's export
/// of the court (`since`, its export date: `written_after`), an entry
/// posted late (補登) that tonight's withdrawal let in.
pub fn news(prev: &[EntryData], new: &[EntryData], since: Option<NaiveDate>) -> Vec<NewsEntry> {
    news_at(prev, new, since.map(schemas::date::to_int))
        .into_iter()
        .map(|(i, was)| NewsEntry {
            entry: new[i].clone(),
            was: was.map(|j| prev[j].clone()),
        })
        .collect()
}

/// What the latest-three rule (`news_at`) reads of an entry, parsed or as
/// stored: one rule for both.
trait Shown {
    fn seq(&self) -> u32;
    /// 登載日期 as YYYYMMDD (integer dates order as the dates do).
    fn posted(&self) -> i64;
    /// 異動時間 as YYYYMMDDHHMMSS.
    fn modified(&self) -> i64;
    /// The same entry (序號) reads as it did: its text and date.
    fn reads_as(&self, before: &Self) -> bool;
}

impl Shown for EntryData {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn posted(&self) -> i64 {
        schemas::date::to_int(self.posted)
    }
    fn modified(&self) -> i64 {
        schemas::date::datetime_to_int(self.modified)
    }
    fn reads_as(&self, before: &Self) -> bool {
        self.posted == before.posted && same_text(self.text.as_bytes(), before.text.as_bytes())
    }
}

/// Whether an entry's text reads as it did, but for user-defined
/// characters one side reads as 〓: a batch without its `EUDC.csv`
/// (optional, and not in the manifest), or one whose map gained a code,
/// reads the same entry so; that is no revision of the court's (it was
/// told as one, and told back the next night). Equal bytes first: an
/// unchanged entry costs a comparison.
fn same_text(now: &[u8], before: &[u8]) -> bool {
    use schemas::text::GETA;
    if now == before {
        return true;
    }
    let (Ok(now), Ok(before)) = (std::str::from_utf8(now), std::str::from_utf8(before)) else {
        return false;
    };
    if !now.contains(GETA) && !before.contains(GETA) {
        return false;
    }
    now.chars().count() == before.chars().count()
        && now
            .chars()
            .zip(before.chars())
            .all(|(a, b)| a == b || a == GETA || b == GETA)
}

impl Shown for RawEntry {
    fn seq(&self) -> u32 {
        self.seq
    }
    fn posted(&self) -> i64 {
        self.posted
    }
    fn modified(&self) -> i64 {
        self.modified
    }
    fn reads_as(&self, before: &Self) -> bool {
        self.posted == before.posted && same_text(&self.text, &before.text)
    }
}

/// Whether an entry's 異動時間 (`modified`, YYYYMMDDHHMMSS) falls on or
/// after the day `since` (YYYYMMDD), a batch's export date: a batch is
/// exported early on its day (the import runs at 00:30) and holds what was
/// written the days before, so what was written on that day came after
/// it. (Exported later in the day, an old entry written that day before
/// the export would count as news once: never one lost.)
fn written_after(modified: i64, since: Option<i64>) -> bool {
    since.is_some_and(|day| modified / 1_000_000 >= day)
}

/// Days before the last queryable day when a follower is warned.
pub const EXPIRY_NOTICE_DAYS: i64 = 14;

/// The last queryable day of a case that will stop being queryable within
/// the notice period after `tonight`, if it will.
pub fn expires_soon(case: &CaseData, tonight: NaiveDate) -> Option<NaiveDate> {
    last_day_if_soon(case.queryable, &case.status, case.status_date, tonight)
}

/// `expires_soon` on the parts of a case it looks at.
fn last_day_if_soon(
    queryable: bool,
    status: &str,
    status_date: Option<NaiveDate>,
    tonight: NaiveDate,
) -> Option<NaiveDate> {
    if !queryable {
        return None;
    }
    let last = last_day(status, status_date)?;
    let days = (last - tonight).num_days();
    (0..=EXPIRY_NOTICE_DAYS).contains(&days).then_some(last)
}

/// The last queryable day a case's status gives it: two calendar months
/// (the contract's cutoff) after its date, for a status that counts down
/// (上訴, 抗告, 移送執行, 歸檔); `None` for any other.
pub fn last_day(status: &str, status_date: Option<NaiveDate>) -> Option<NaiveDate> {
    let c = contract();
    let date = status_date?;
    c.status_has_cutoff(status)
        .then(|| last_queryable_day(date, c.scope.cutoff_months))
}

/// Compares `new` with `prev` (`None` on a first load: every grant is new).
pub fn diff(
    prev: Option<&SnapshotFile>,
    new: &SnapshotFile,
    tonight: NaiveDate,
) -> Result<Changes, ReadError> {
    let tonight_file = Snapshot::open(new)?;
    let prev_file = prev.map(Snapshot::open).transpose()?;
    let mut courts: Vec<String> = tonight_file.courts()?.into_iter().map(|c| c.code).collect();
    // Cases left out of a night, whose previous version a snapshot keeps
    // for the next night's comparison only: tonight's change nothing (not
    // a grant gone, not news); the previous snapshot's are compared with
    // as of their own data's date.
    let left_out = LeftOut {
        tonight: tonight_file.left_out()?.into_keys().collect(),
        before: match &prev_file {
            Some(p) => p
                .left_out()?
                .into_iter()
                .map(|(id, d)| (id, schemas::date::to_int(d)))
                .collect(),
            None => BTreeMap::new(),
        },
    };
    let left_out = &left_out;
    // Courts only the previous snapshot has: their grants are gone tonight.
    // The export date of each court's data there: entries written since are
    // tonight's (`news`).
    let mut as_of: BTreeMap<String, i64> = BTreeMap::new();
    if let Some(p) = &prev_file {
        for c in p.courts()? {
            as_of.insert(c.code.clone(), schemas::date::to_int(c.as_of));
            if !courts.contains(&c.code) {
                courts.push(c.code);
            }
        }
    }
    let since = |code: &str| as_of.get(code).copied();
    // The cases whose hearings correct what calendars took (none on a
    // first load: no calendar took anything). They were worked out against
    // the snapshot the import carried on from; when that was not the live
    // one it replaced (damaged: a stand-in, or none; the snapshot says so)
    // and the mail compares with another (the live one restored), every
    // followed case is compared. (`outbox rediff --from` another takes the
    // marks as they are: docs/HEARINGS.md.)
    let corrected = match prev {
        Some(prev) => Corrected::between(prev, new, &tonight_file)?,
        None => Corrected::These(Vec::new()),
    };
    if let (Corrected::All, Some(prev)) = (&corrected, prev) {
        tracing::info!(
            "{} was not carried on from {}, which its mail is compared with: every followed \
             case's hearings are compared",
            new.name(),
            prev.name()
        );
    }
    drop((tonight_file, prev_file));
    let corrected = &corrected;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || -> Result<Vec<(usize, Changes)>, ReadError> {
        let result = (|| {
            let new = Snapshot::open(new)?;
            let prev = prev.map(Snapshot::open).transpose()?;
            let mut new_scan = new.diff_scan()?;
            let mut prev_scan = prev.as_ref().map(Snapshot::diff_scan).transpose()?;
            let mut done = Vec::new();
            while !failed.load(AtomicOrdering::Relaxed) {
                let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                let Some(code) = courts.get(i) else { break };
                let before = match (&prev, &mut prev_scan) {
                    (Some(p), Some(scan)) => match p.court_id_range(code)? {
                        Some((lo, hi)) => Some(scan.cases(lo, hi, false)?),
                        None => None,
                    },
                    _ => None,
                };
                let tonight_cases = match new.court_id_range(code)? {
                    Some((lo, hi)) => Some(new_scan.cases(lo, hi, true)?),
                    None if before.is_some() => None,
                    None => continue,
                };
                done.push((
                    i,
                    diff_court(
                        code,
                        before,
                        tonight_cases,
                        tonight,
                        since(code),
                        corrected,
                        left_out,
                    )?,
                ));
            }
            Ok(done)
        })();
        if result.is_err() {
            failed.store(true, AtomicOrdering::Relaxed);
        }
        result
    };
    let results: Vec<Result<Vec<(usize, Changes)>, ReadError>> =
        super::on_every_core(courts.len(), "diff", worker);
    let mut parts = Vec::with_capacity(courts.len());
    for r in results {
        parts.extend(r?);
    }
    parts.sort_by_key(|(i, _)| *i);
    let mut changes = Changes::default();
    for (_, part) in parts {
        changes.append(part);
    }
    Ok(changes)
}

/// The cases whose hearing lists are compared for corrections without
/// news (`super::corrected`): of the grants' here, of the prosecutors'
/// in `super::prosecutors`.
pub(super) enum Corrected {
    /// Tonight's ids the import marked (`meta.hearings_corrected`), ascending.
    These(Vec<i64>),
    /// Every case: the import carried on from another snapshot than the
    /// mail compares with.
    All,
}

impl Corrected {
    /// Those of `new` (open as `tonight`) when its mail compares it with
    /// `prev`: the cases the import marked, worked out against the
    /// snapshot it carried on from; when that was not the live one it
    /// replaced (damaged: a stand-in, or none; the snapshot says so) and
    /// the mail compares with another (the live one restored), every
    /// followed case. (`outbox rediff --from` another takes the marks as
    /// they are: docs/HEARINGS.md.)
    pub(super) fn between(
        prev: &SnapshotFile,
        new: &SnapshotFile,
        tonight: &Snapshot,
    ) -> Result<Corrected, ReadError> {
        Ok(match tonight.hearings_corrected_from()? {
            Some(from) if from != prev.name() => {
                tracing::debug!(
                    "{} was carried on from {}, its mail is compared with {}",
                    new.name(),
                    if from.is_empty() {
                        "no snapshot"
                    } else {
                        &from
                    },
                    prev.name()
                );
                Corrected::All
            }
            _ => Corrected::These(tonight.hearings_corrected()?),
        })
    }

    pub(super) fn names(&self, id: i64) -> bool {
        match self {
            Corrected::These(ids) => ids.binary_search(&id).is_ok(),
            Corrected::All => true,
        }
    }
}

/// The cases left out of a night (`meta.cases_carried_over`): tonight's,
/// by id; the previous snapshot's, by id, with their data's export date
/// (YYYYMMDD).
struct LeftOut {
    tonight: BTreeSet<i64>,
    before: BTreeMap<i64, i64>,
}

/// The previous snapshot's cases of one court, followed in step with
/// tonight's; `None` once they are all behind (or there were none).
struct Before<'s, 'c> {
    cursor: Option<CaseCursor<'s, 'c>>,
    /// The current case was found for one of tonight's (`find`): the
    /// comparison accounts for its grants.
    matched: bool,
}

impl<'s, 'c> Before<'s, 'c> {
    fn new(cursor: Option<CaseCursor<'s, 'c>>) -> Result<Before<'s, 'c>, ReadError> {
        let mut before = Before {
            cursor,
            matched: false,
        };
        before.step()?;
        Ok(before)
    }

    fn step(&mut self) -> Result<(), ReadError> {
        self.matched = false;
        if let Some(c) = &mut self.cursor {
            if !c.advance()? {
                self.cursor = None;
            }
        }
        Ok(())
    }

    /// Steps past the current case: one no case tonight matched is gone
    /// tonight, and so are its grants.
    fn pass(&mut self, court: &str, changes: &mut Changes) -> Result<(), ReadError> {
        if let (Some(c), false) = (&self.cursor, self.matched) {
            ungranted(changes, court, &c.case, &[])?;
        }
        self.step()
    }

    /// The previous version of `case` (`None`: the rest of the court), if
    /// there was one (queryable, with grants): passes the previous cases
    /// that are gone tonight.
    fn find(
        &mut self,
        case: Option<&DiffCase>,
        court: &str,
        changes: &mut Changes,
    ) -> Result<Option<&DiffCase>, ReadError> {
        while self
            .cursor
            .as_ref()
            .is_some_and(|c| case.is_none_or(|case| c.case.cmp_key(case) == Ordering::Less))
        {
            self.pass(court, changes)?;
        }
        let Some(case) = case else {
            return Ok(None);
        };
        let found = self
            .cursor
            .as_ref()
            .map(|c| &c.case)
            .filter(|p| p.cmp_key(case) == Ordering::Equal);
        self.matched = found.is_some();
        Ok(found)
    }
}

/// Records the grants of `before` (a case of the previous snapshot) whose
/// address `kept` (tonight's grants of the case) does not list.
fn ungranted(
    changes: &mut Changes,
    court: &str,
    before: &DiffCase,
    kept: &[Vec<u8>],
) -> Result<(), ReadError> {
    let mut case = None;
    for email in before.emails().iter().filter(|e| !kept.contains(e)) {
        if case.is_none() {
            case = Some(CaseRef {
                court: court.to_string(),
                key: before.key()?,
            });
        }
        changes
            .ungranted
            .entry(utf8(email)?.to_string())
            .or_default()
            .insert(case.clone().expect("set above"));
    }
    Ok(())
}

/// The merge join of one court's cases: tonight's against the previous
/// snapshot's. Both cursors yield only queryable cases with grants: a case
/// that is not, before, changes nothing (no one followed it), and tonight
/// concerns no one.
/// `since`: the previous snapshot's export date of the court (YYYYMMDD).
/// A case left out tonight changes nothing: it is there only for the next
/// night to compare with (its grants are not gone, it has no news).
#[allow(clippy::too_many_arguments)]
fn diff_court(
    court: &str,
    before: Option<CaseCursor<'_, '_>>,
    cases: Option<CaseCursor<'_, '_>>,
    tonight: NaiveDate,
    since: Option<i64>,
    corrected: &Corrected,
    left_out: &LeftOut,
) -> Result<Changes, ReadError> {
    let mut changes = Changes::default();
    let mut before = Before::new(before)?;
    if let Some(mut cases) = cases {
        while cases.advance()? {
            let (case, mut roles) = cases.current();
            let prev = before.find(Some(case), court, &mut changes)?;
            if left_out.tonight.contains(&case.id) {
                continue;
            }
            // A version kept from a night it was left out of is of its own
            // data's date.
            let since = prev
                .and_then(|p| left_out.before.get(&p.id).copied())
                .or(since);
            if let Some(prev) = prev {
                ungranted(&mut changes, court, prev, case.emails())?;
            }
            let corrected = prev
                .filter(|_| corrected.names(case.id))
                .map(|p| (p.id, case.id));
            compare(
                &mut changes,
                court,
                prev,
                case,
                &mut roles,
                tonight,
                since,
                corrected,
            )?;
        }
    }
    before.find(None, court, &mut changes)?;
    Ok(changes)
}

/// `news` by index: each of tonight's entries that is news, and if it was
/// revised, the index of what it was before (`since`: YYYYMMDD).
fn news_at<E: Shown>(prev: &[E], new: &[E], since: Option<i64>) -> Vec<(usize, Option<usize>)> {
    let floor = (prev.len() >= 3)
        .then(|| prev.iter().map(|e| (e.posted(), e.seq())).min())
        .flatten();
    new.iter()
        .enumerate()
        .filter_map(
            |(i, e)| match prev.iter().position(|p| p.seq() == e.seq()) {
                Some(j) if e.reads_as(&prev[j]) => None,
                Some(j) => Some((i, Some(j))),
                None if floor.is_some_and(|f| (e.posted(), e.seq()) < f)
                    && !written_after(e.modified(), since) =>
                {
                    None
                }
                None => Some((i, None)),
            },
        )
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn compare(
    changes: &mut Changes,
    court: &str,
    before: Option<&DiffCase>,
    case: &DiffCase,
    roles: &mut Roles<'_, '_>,
    tonight: NaiveDate,
    since: Option<i64>,
    corrected: Option<(i64, i64)>,
) -> Result<(), ReadError> {
    let case_ref = CaseRef {
        court: court.to_string(),
        key: case.key()?,
    };
    let news_here: Vec<NewsEntry> = match before {
        Some(b) => news_at(b.entries(), case.entries(), since)
            .into_iter()
            .map(|(i, was)| {
                Ok(NewsEntry {
                    entry: case.entries()[i].to_entry()?,
                    was: was.map(|j| b.entries()[j].to_entry()).transpose()?,
                })
            })
            .collect::<Result<_, ReadError>>()?,
        None => Vec::new(),
    };
    let status = case.status()?;
    let expires = last_day_if_soon(true, status, case.status_date()?, tonight);
    // Worked out only for a case with something to tell.
    let division = || case.division().map(schemas::text::division);
    let mut entries = None;
    let mut followed = false;
    for email in case.emails() {
        let address = || utf8(email).map(str::to_string);
        // Both lists are sorted by address, and short.
        if before.is_some_and(|b| b.emails().contains(email)) {
            followed = true;
            if !news_here.is_empty() || corrected.is_some() {
                changes.news.entry(address()?).or_default().push(CaseNews {
                    corrected,
                    division: division()?,
                    ..CaseNews::of(case_ref.clone(), news_here.clone())
                });
            }
        } else {
            if entries.is_none() {
                entries = Some(
                    case.entries()
                        .iter()
                        .map(RawEntry::to_entry)
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            changes
                .new_grants
                .entry(address()?)
                .or_default()
                .push(Granted {
                    case: case_ref.clone(),
                    division: division()?,
                    role: roles.of(email)?,
                    entries: entries.clone().unwrap_or_default(),
                    last_day: expires,
                });
        }
        if let Some(last_day) = expires {
            changes
                .expiring
                .entry(address()?)
                .or_default()
                .push(Expiring {
                    case: case_ref.clone(),
                    division: division()?,
                    status: status.to_string(),
                    last_day,
                    ended: None,
                });
        }
    }
    if followed {
        changes.followed_cases += 1;
        changes.cases_with_news += u64::from(!news_here.is_empty());
        if let (true, Some(ids)) = (news_here.is_empty(), corrected) {
            changes.corrected_only.insert(ids);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use schemas::CaseKey;
    use std::collections::BTreeSet;
    use std::sync::mpsc;

    use crate::model::{CourtData, GrantData};
    use crate::snapshot::write::Builder;

    #[test]
    fn a_text_read_without_a_user_defined_characters_map_reads_as_it_did() {
        let same = |a: &str, b: &str| super::same_text(a.as_bytes(), b.as_bytes());
        assert!(same("通知證人林堃到庭", "通知證人林堃到庭"));
        assert!(same("通知證人林〓到庭", "通知證人林堃到庭"));
        assert!(same("宣判：〓魚貨款", "宣判：𩸽魚貨款"), "beyond the BMP");
        assert!(same("陳〓明", "陳〓明"));
        assert!(
            !same("通知證人林〓到庭", "通知證人林堃出庭"),
            "another word too"
        );
        assert!(
            !same("通知證人林〓到庭", "通知證人林堃堃到庭"),
            "another length"
        );
        assert!(
            !same("通知證人林森到庭", "通知證人林堃到庭"),
            "no 〓: a revision"
        );
    }

    /// The diff as it was first written, kept as the reference for the fast
    /// path: both snapshots read whole into the model, two reader threads,
    /// one merge join over (court, key).
    mod reference {
        use super::*;

        type Item = Result<(String, CaseData), ReadError>;

        fn stream(file: &SnapshotFile, tx: mpsc::SyncSender<Item>) {
            let snapshot = match Snapshot::open(file) {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let result = snapshot.id_range().and_then(|range| match range {
                Some((lo, hi)) => snapshot.for_each_case(lo, hi, |court, case| {
                    let _ = tx.send(Ok((court.to_string(), case)));
                    Ok(())
                }),
                None => Ok(()),
            });
            if let Err(e) = result {
                let _ = tx.send(Err(e));
            }
        }

        pub fn diff(
            prev: Option<&SnapshotFile>,
            new: &SnapshotFile,
            tonight: NaiveDate,
        ) -> Result<Changes, ReadError> {
            let mut changes = Changes::default();
            let as_of: BTreeMap<String, NaiveDate> = match prev {
                Some(p) => Snapshot::open(p)?
                    .courts()?
                    .into_iter()
                    .map(|c| (c.code, c.as_of))
                    .collect(),
                None => BTreeMap::new(),
            };
            std::thread::scope(|scope| {
                let (new_tx, new_rx) = mpsc::sync_channel::<Item>(4096);
                scope.spawn(move || stream(new, new_tx));
                let prev_rx = prev.map(|p| {
                    let (tx, rx) = mpsc::sync_channel::<Item>(4096);
                    scope.spawn(move || stream(p, tx));
                    rx
                });
                let next_prev = || prev_rx.as_ref().and_then(|rx| rx.recv().ok()).transpose();
                let mut prev_case = next_prev()?;
                for item in new_rx.iter() {
                    let (court, case) = item?;
                    let here = (court.as_str(), &case.key);
                    while prev_case
                        .as_ref()
                        .is_some_and(|(c, p)| (c.as_str(), &p.key) < here)
                    {
                        let (c, p) = prev_case.as_ref().unwrap();
                        gone(&mut changes, c, p, None);
                        prev_case = next_prev()?;
                    }
                    let matched = prev_case
                        .as_ref()
                        .is_some_and(|(c, p)| (c.as_str(), &p.key) == here);
                    let before = prev_case
                        .as_ref()
                        .filter(|_| matched)
                        .map(|(_, p)| p)
                        .filter(|p| p.queryable);
                    if let Some(before) = before {
                        gone(&mut changes, &court, before, Some(&case));
                    }
                    let since = as_of.get(&court).copied();
                    compare(&mut changes, &court, before, &case, tonight, since);
                    if matched {
                        prev_case = next_prev()?;
                    }
                }
                while let Some((c, p)) = &prev_case {
                    gone(&mut changes, c, p, None);
                    prev_case = next_prev()?;
                }
                Ok(changes)
            })
        }

        /// The grants of `before` that `case` (tonight's, if any) has not,
        /// queryable.
        fn gone(changes: &mut Changes, court: &str, before: &CaseData, case: Option<&CaseData>) {
            if !before.queryable {
                return;
            }
            for g in &before.grants {
                let kept = case
                    .is_some_and(|c| c.queryable && c.grants.iter().any(|k| k.email == g.email));
                if !kept {
                    changes
                        .ungranted
                        .entry(g.email.clone())
                        .or_default()
                        .insert(CaseRef {
                            court: court.to_string(),
                            key: before.key.clone(),
                        });
                }
            }
        }

        fn compare(
            changes: &mut Changes,
            court: &str,
            before: Option<&CaseData>,
            case: &CaseData,
            tonight: NaiveDate,
            since: Option<NaiveDate>,
        ) {
            if !case.queryable || case.grants.is_empty() {
                return;
            }
            let case_ref = || CaseRef {
                court: court.to_string(),
                key: case.key.clone(),
            };
            let followers: BTreeSet<&str> = before
                .map(|b| b.grants.iter().map(|g| g.email.as_str()).collect())
                .unwrap_or_default();
            let news_here = before
                .map(|b| news(&b.entries, &case.entries, since))
                .unwrap_or_default();
            let mut followed = false;
            for g in &case.grants {
                if followers.contains(g.email.as_str()) {
                    followed = true;
                    if !news_here.is_empty() {
                        changes
                            .news
                            .entry(g.email.clone())
                            .or_default()
                            .push(CaseNews {
                                division: schemas::text::division(&case.division),
                                ..CaseNews::of(case_ref(), news_here.clone())
                            });
                    }
                } else {
                    changes
                        .new_grants
                        .entry(g.email.clone())
                        .or_default()
                        .push(Granted {
                            case: case_ref(),
                            division: schemas::text::division(&case.division),
                            role: g.role.clone(),
                            entries: case.entries.clone(),
                            last_day: expires_soon(case, tonight),
                        });
                }
                if let Some(last_day) = expires_soon(case, tonight) {
                    changes
                        .expiring
                        .entry(g.email.clone())
                        .or_default()
                        .push(Expiring {
                            case: case_ref(),
                            division: schemas::text::division(&case.division),
                            status: case.status.clone(),
                            last_day,
                            ended: None,
                        });
                }
            }
            if followed {
                changes.followed_cases += 1;
                changes.cases_with_news += u64::from(!news_here.is_empty());
            }
        }
    }

    pub(crate) fn tonight() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    /// A small random case: keys, texts, dates and addresses are drawn from
    /// small sets, so two nights share cases, entries and followers often.
    fn arb_case() -> impl Strategy<Value = CaseData> {
        let key =
            (0usize..2, 112u32..114, 0usize..2, 1u32..6).prop_map(|(c, year, w, number)| CaseKey {
                category: ["刑事", "民事"][c].into(),
                year,
                word: ["易", "訴"][w].into(),
                number,
            });
        let entries = prop::collection::btree_map(1u32..7, (0u32..8, 0usize..3, 0u32..2), 0..4);
        let grants = prop::collection::btree_map(0usize..4, 0usize..2, 0..4);
        let status = (0usize..4, prop::option::of(-70i64..-40));
        let division = 0usize..4;
        (
            key,
            prop::bool::weighted(0.8),
            entries,
            grants,
            status,
            division,
        )
            .prop_map(
                |(key, queryable, entries, grants, (status, days), division)| {
                    let tonight = tonight();
                    let mut entries: Vec<EntryData> = entries
                        .into_iter()
                        .map(|(seq, (day, text, minute))| {
                            let posted = tonight - chrono::Days::new(u64::from(day));
                            EntryData {
                                seq,
                                posted,
                                text: ["開庭", "宣判", "宣判（改期）"][text].into(),
                                modified: posted.and_hms_opt(9, minute, 0).unwrap(),
                            }
                        })
                        .collect();
                    entries.sort_by_key(|e| std::cmp::Reverse((e.posted, e.seq)));
                    entries.truncate(3);
                    let mut case = CaseData {
                        key,
                        division: ["", "忠", "孝股", "股"][division].into(),
                        status: ["上訴", "歸檔", "審理中", "終結"][status].into(),
                        status_date: days.map(|d| tonight + chrono::Duration::days(d)),
                        queryable: true,
                        entries,
                        grants: grants
                            .into_iter()
                            .map(|(who, role)| GrantData {
                                email: format!("{}@example.com", ["a", "b", "c", "d"][who]),
                                role: ["原告", "被告"][role].into(),
                                approved: tonight,
                            })
                            .collect(),
                        prosecutors: vec![],
                        hearings: Default::default(),
                        extracted: None,
                        hearings_corrected: false,
                        as_of: None,
                    };
                    if !queryable {
                        case.expire();
                    }
                    case
                },
            )
    }

    /// Two nights: three courts, each in either night or both; a case in
    /// either night, or in both: as it was, with other entries, or drawn
    /// again (from the same small sets, with the same key).
    fn arb_nights() -> impl Strategy<Value = (Vec<CourtData>, Vec<CourtData>)> {
        let case = (arb_case(), arb_case(), 0u8..5);
        let court = (0u8..4, prop::collection::vec(case, 0..16));
        prop::collection::vec(court, 3).prop_map(|courts| {
            let (mut prev, mut new) = (Vec::new(), Vec::new());
            for (c, (court_in, cases)) in courts.into_iter().enumerate() {
                let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
                for (a, mut b, how) in cases {
                    b.key = a.key.clone();
                    if how == 3 && a.queryable && b.queryable {
                        b.grants = a.grants.clone();
                    }
                    if how != 1 {
                        before.insert(a.key.clone(), a.clone());
                    }
                    match how {
                        0 => {}
                        1 | 2 => drop(after.insert(a.key.clone(), a)),
                        _ => drop(after.insert(b.key.clone(), b)),
                    }
                }
                let court = |cases: BTreeMap<CaseKey, CaseData>| CourtData {
                    code: ["CHD", "PCD", "TPD"][c].into(),
                    name: "法院".into(),
                    as_of: tonight(),
                    carry_reason: None,
                    cases: cases.into_values().collect(),
                };
                if court_in != 1 {
                    prev.push(court(before));
                }
                if court_in != 0 {
                    new.push(court(after));
                }
            }
            (prev, new)
        })
    }

    pub(crate) fn write(dir: &std::path::Path, name: &str, courts: &[CourtData]) -> SnapshotFile {
        let path = dir.join(name);
        let mut b = Builder::create(&path, tonight()).unwrap();
        for c in courts {
            b.add_court(c).unwrap();
        }
        b.finish(&path, 1).unwrap();
        SnapshotFile {
            date: tonight(),
            build: 1,
            path,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The court-by-court diff on the projection finds exactly what the
        /// reference finds, in the same order, on a first load and after.
        #[test]
        fn the_diff_matches_the_reference((prev, new) in arb_nights()) {
            let dir = tempfile::tempdir().unwrap();
            let prev = write(dir.path(), "prev.sqlite", &prev);
            let new = write(dir.path(), "new.sqlite", &new);
            let fast = diff(Some(&prev), &new, tonight()).unwrap();
            prop_assert_eq!(&fast, &reference::diff(Some(&prev), &new, tonight()).unwrap());
            prop_assert_eq!(
                diff(None, &new, tonight()).unwrap(),
                reference::diff(None, &new, tonight()).unwrap()
            );
        }
    }

    fn e(seq: u32, day: u32, text: &str) -> EntryData {
        let posted =
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(u64::from(day));
        EntryData {
            seq,
            posted,
            text: text.into(),
            modified: posted.and_hms_opt(9, 0, 0).unwrap(),
        }
    }

    fn seqs(news: &[NewsEntry]) -> Vec<(u32, bool)> {
        news.iter()
            .map(|n| (n.entry.seq, n.was.is_some()))
            .collect()
    }

    #[test]
    fn a_new_top_entry_is_news() {
        let prev = [e(3, 30, "c"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(4, 40, "d"), e(3, 30, "c"), e(2, 20, "b")];
        assert_eq!(seqs(&news(&prev, &new, None)), vec![(4, false)]);
    }

    /// 民事 115年度訴字第`number`號, pending, granted to `who@example.com`
    /// for each of `grants`.
    pub(crate) fn granted_case(number: u32, grants: &[&str]) -> CaseData {
        CaseData {
            key: CaseKey {
                category: "民事".into(),
                year: 115,
                word: "訴".into(),
                number,
            },
            division: "股".into(),
            status: "審理中".into(),
            status_date: None,
            queryable: true,
            entries: vec![e(1, 10, "分案")],
            grants: grants
                .iter()
                .map(|who| GrantData {
                    email: format!("{who}@example.com"),
                    role: "原告".into(),
                    approved: tonight(),
                })
                .collect(),
            prosecutors: vec![],
            hearings: Default::default(),
            extracted: None,
            hearings_corrected: false,
            as_of: None,
        }
    }

    pub(crate) fn court_of(code: &str, cases: Vec<CaseData>) -> CourtData {
        CourtData {
            code: code.into(),
            name: code.into(),
            as_of: tonight(),
            carry_reason: None,
            cases,
        }
    }

    /// The grants gone tonight, whichever way: revoked from a case that
    /// stays, with the case past its cutoff, with the case gone, and with
    /// its whole court; a grant kept is not listed.
    #[test]
    fn grants_gone_tonight_are_listed_by_address() {
        let past_cutoff = CaseData {
            queryable: false,
            grants: Vec::new(),
            ..granted_case(2, &[])
        };
        let dir = tempfile::tempdir().unwrap();
        let prev = write(
            dir.path(),
            "prev.sqlite",
            &[
                court_of("KSD", vec![granted_case(9, &["d"])]),
                court_of(
                    "TPD",
                    vec![
                        granted_case(1, &["a", "b"]),
                        granted_case(2, &["a"]),
                        granted_case(3, &["c"]),
                    ],
                ),
            ],
        );
        let new = write(
            dir.path(),
            "new.sqlite",
            &[court_of(
                "TPD",
                vec![
                    granted_case(1, &["a"]),
                    past_cutoff,
                    granted_case(4, &["c"]),
                ],
            )],
        );
        let changes = diff(Some(&prev), &new, tonight()).unwrap();
        let gone: Vec<(&str, Vec<String>)> = changes
            .ungranted
            .iter()
            .map(|(email, cases)| (email.as_str(), cases.iter().map(CaseRef::id).collect()))
            .collect();
        assert_eq!(
            gone,
            [
                ("a@example.com", vec!["TPD|民事|115|訴|2".to_string()]),
                ("b@example.com", vec!["TPD|民事|115|訴|1".to_string()]),
                ("c@example.com", vec!["TPD|民事|115|訴|3".to_string()]),
                ("d@example.com", vec!["KSD|民事|115|訴|9".to_string()]),
            ]
        );
        assert!(diff(None, &new, tonight()).unwrap().ungranted.is_empty());
    }

    /// A case whose hearings the import marked corrected (a withdrawn
    /// entry: `meta.hearings_corrected`) is news with no entry, with its
    /// ids in both snapshots, to the addresses that followed it in both;
    /// a new grant is an approval as ever, and a first load has nothing to
    /// correct. It counts for the flood guard once something is found to
    /// tell.
    #[test]
    fn a_case_whose_hearings_were_corrected_is_told_to_who_followed_it() {
        let case = |number: u32, grants: &[&str], corrected: bool| CaseData {
            hearings_corrected: corrected,
            ..granted_case(number, grants)
        };
        let court = |cases: Vec<CaseData>| vec![court_of("TPD", cases)];
        let dir = tempfile::tempdir().unwrap();
        let prev = write(
            dir.path(),
            "prev.sqlite",
            &court(vec![case(5, &["a"], false), case(7, &["a"], false)]),
        );
        // A case before them tonight: their ids move up by one.
        let new = write(
            dir.path(),
            "new.sqlite",
            &court(vec![
                case(1, &["c"], true),
                case(5, &["a", "b"], true),
                case(7, &["a"], false),
            ]),
        );
        let changes = diff(Some(&prev), &new, tonight()).unwrap();
        let told: Vec<_> = changes.news["a@example.com"]
            .iter()
            .map(|n| (n.case.key.number, n.entries.len(), n.corrected))
            .collect();
        assert_eq!(told, [(5u32, 0usize, Some((1i64, 2i64)))]);
        assert_eq!(changes.news.len(), 1, "{:?}", changes.news);
        assert!(changes.new_grants.contains_key("b@example.com"));
        assert!(changes.new_grants.contains_key("c@example.com"));
        // Counted for the flood guard once it is known to tell something.
        assert_eq!((changes.followed_cases, changes.cases_with_news), (2, 0));
        assert_eq!(changes.corrected_only, BTreeSet::from([(1, 2)]));
        let first = diff(None, &new, tonight()).unwrap();
        assert!(first.news.is_empty() && first.cases_with_news == 0);
    }

    #[test]
    fn an_entry_surfacing_after_a_withdrawal_is_not_news() {
        // 3 was withdrawn; 0 (older than everything shown) moves up.
        let prev = [e(3, 30, "c"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(2, 20, "b"), e(1, 10, "a"), e(0, 5, "old")];
        assert!(news(&prev, &new, None).is_empty());
    }

    /// A review of the diff (2026-12-05): an entry posted late (dated
    /// before the three shown) let in by tonight's withdrawal was taken for
    /// an old one moving up. Written after the previous export, it is news.
    #[test]
    fn a_late_posting_let_in_by_a_withdrawal_is_news_when_written_since() {
        let prev = [e(3, 30, "c"), e(2, 20, "b"), e(1, 10, "a")];
        let since = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
        // Written on the export's day (a batch is exported early on its
        // day, and holds what was written the days before) or after.
        for (day, hour) in [(since, 14), (since.succ_opt().unwrap(), 8)] {
            let mut late = e(4, 5, "117/03/10 10:00第一法庭言詞辯論");
            late.modified = day.and_hms_opt(hour, 0, 0).unwrap();
            let new = [e(2, 20, "b"), e(1, 10, "a"), late];
            assert_eq!(seqs(&news(&prev, &new, Some(since))), vec![(4, false)]);
        }
        // Written before: an old one moving up.
        let old = [e(2, 20, "b"), e(1, 10, "a"), e(0, 5, "old")];
        assert!(news(&prev, &old, Some(since)).is_empty());
        let mut day_before = e(4, 5, "x");
        day_before.modified = since.pred_opt().unwrap().and_hms_opt(23, 0, 0).unwrap();
        let new = [e(2, 20, "b"), e(1, 10, "a"), day_before];
        assert!(news(&prev, &new, Some(since)).is_empty());
    }

    #[test]
    fn a_late_posting_into_a_short_list_is_news() {
        // Fewer than three were shown: nothing can have surfaced.
        let prev = [e(2, 20, "b")];
        let new = [e(2, 20, "b"), e(3, 10, "late")];
        assert_eq!(seqs(&news(&prev, &new, None)), vec![(3, false)]);
    }

    #[test]
    fn a_revised_text_is_news_marked_revised() {
        let prev = [e(3, 30, "宣判"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(3, 30, "宣判（改期）"), e(2, 20, "b"), e(1, 10, "a")];
        assert_eq!(seqs(&news(&prev, &new, None)), vec![(3, true)]);
        // What it said before goes with it, for the digest to show.
        let was = news(&prev, &new, None).remove(0).was.unwrap();
        assert_eq!((was.posted, was.text.as_str()), (prev[0].posted, "宣判"));
    }

    #[test]
    fn a_revised_date_is_news_with_the_date_it_had() {
        let prev = [e(3, 30, "宣判"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(3, 31, "宣判"), e(2, 20, "b"), e(1, 10, "a")];
        let n = news(&prev, &new, None).remove(0);
        assert_eq!(n.entry.posted, new[0].posted);
        assert_eq!(n.was.unwrap().posted, prev[0].posted);
    }

    proptest! {
        /// Whatever the two lists, news is a subset of tonight's entries,
        /// and never an unchanged entry shown before.
        #[test]
        fn news_is_only_new_or_changed(
            prev in prop::collection::btree_map(1u32..10, (0u32..20, 0u8..2), 0..4),
            new in prop::collection::btree_map(1u32..10, (0u32..20, 0u8..2), 0..4),
        ) {
            let list = |m: &std::collections::BTreeMap<u32, (u32, u8)>| -> Vec<EntryData> {
                let mut v: Vec<EntryData> = m.iter().map(|(&s, &(d, t))| e(s, d, &t.to_string())).collect();
                v.sort_by_key(|x| std::cmp::Reverse((x.posted, x.seq)));
                v
            };
            let (prev, new) = (list(&prev), list(&new));
            for n in news(&prev, &new, None) {
                prop_assert!(new.contains(&n.entry));
                prop_assert!(!prev.contains(&n.entry));
            }
            // Nothing changed, nothing new.
            prop_assert!(news(&new, &new, None).is_empty());
        }
    }
}
