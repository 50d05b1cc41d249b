//! What changed between two snapshots, for e-mail: new grants, news on the
//! cases an address already followed, and followed cases about to stop
//! being queryable.
//!
//! Both snapshots list cases in key order, so two reader threads stream them
//! and the diff is a merge join: memory stays flat at national size.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;

use chrono::NaiveDate;
use schemas::contract;

use crate::date::last_queryable_day;
use crate::kinds::CaseKey;
use crate::model::{CaseData, EntryData};
use crate::snapshot::read::{ReadError, Snapshot};
use crate::snapshot::store::SnapshotFile;

/// A case as mail names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CaseRef {
    pub court: String,
    pub key: CaseKey,
}

impl CaseRef {
    /// `TPD|民事|113|訴|100`: a stable text key.
    pub fn id(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.court, self.key.category, self.key.year, self.key.word, self.key.number
        )
    }
}

/// An entry worth telling someone about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsEntry {
    pub entry: EntryData,
    /// The same 序號 was shown before with another text or date.
    pub revised: bool,
}

/// News on one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNews {
    pub case: CaseRef,
    /// Newest first.
    pub entries: Vec<NewsEntry>,
}

/// A granted case, as an activation or approval mail lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub case: CaseRef,
    pub role: String,
    /// Its latest entries tonight, newest first.
    pub entries: Vec<EntryData>,
}

/// A followed case that will stop being queryable soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    pub case: CaseRef,
    pub status: String,
    pub last_day: NaiveDate,
}

/// Everything the mail stage needs from one diff, per address.
#[derive(Debug, Default)]
pub struct Changes {
    pub new_grants: BTreeMap<String, Vec<Granted>>,
    pub news: BTreeMap<String, Vec<CaseNews>>,
    pub expiring: BTreeMap<String, Vec<Expiring>>,
    /// Cases that someone followed in both snapshots.
    pub followed_cases: u64,
    /// Of those, cases with news.
    pub cases_with_news: u64,
}

/// Which of tonight's latest three entries are news against the previous
/// latest three: an entry not shown before, or shown with another text or
/// date (revised). An entry that only moved up into a full set of three
/// because a newer one was withdrawn ranks below everything shown before: it
/// is not news.
pub fn news(prev: &[EntryData], new: &[EntryData]) -> Vec<NewsEntry> {
    let floor = (prev.len() >= 3)
        .then(|| prev.iter().map(|e| (e.posted, e.seq)).min())
        .flatten();
    new.iter()
        .filter_map(|e| match prev.iter().find(|p| p.seq == e.seq) {
            Some(p) if p.text == e.text && p.posted == e.posted => None,
            Some(_) => Some(NewsEntry {
                entry: e.clone(),
                revised: true,
            }),
            None if floor.is_some_and(|f| (e.posted, e.seq) < f) => None,
            None => Some(NewsEntry {
                entry: e.clone(),
                revised: false,
            }),
        })
        .collect()
}

/// Days before the last queryable day when a follower is warned.
pub const EXPIRY_NOTICE_DAYS: i64 = 14;

/// The last queryable day of a case that will stop being queryable within
/// the notice period after `tonight`, if it will.
pub fn expires_soon(case: &CaseData, tonight: NaiveDate) -> Option<NaiveDate> {
    let c = contract();
    let date = case.status_date?;
    if !case.queryable || !c.status_has_cutoff(&case.status) {
        return None;
    }
    let last = last_queryable_day(date, c.scope.cutoff_months);
    let days = (last - tonight).num_days();
    (0..=EXPIRY_NOTICE_DAYS).contains(&days).then_some(last)
}

type Item = Result<(String, CaseData), ReadError>;

/// Streams every case of a snapshot through a bounded channel (on its own
/// read-only connection: connections stay in one thread).
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
            // The merge stopped early (an error): nothing more to do.
            let _ = tx.send(Ok((court.to_string(), case)));
            Ok(())
        }),
        None => Ok(()),
    });
    if let Err(e) = result {
        let _ = tx.send(Err(e));
    }
}

/// Compares `new` with `prev` (`None` on a first load: every grant is new).
pub fn diff(
    prev: Option<&SnapshotFile>,
    new: &SnapshotFile,
    tonight: NaiveDate,
) -> Result<Changes, ReadError> {
    let mut changes = Changes::default();
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
            // Skip previous cases that are gone tonight.
            while prev_case
                .as_ref()
                .is_some_and(|(c, p)| (c.as_str(), &p.key) < here)
            {
                prev_case = next_prev()?;
            }
            let before = prev_case
                .as_ref()
                .filter(|(c, p)| (c.as_str(), &p.key) == here)
                .map(|(_, p)| p)
                .filter(|p| p.queryable);
            compare(&mut changes, &court, before, &case, tonight);
        }
        Ok(changes)
    })
}

fn compare(
    changes: &mut Changes,
    court: &str,
    before: Option<&CaseData>,
    case: &CaseData,
    tonight: NaiveDate,
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
        .map(|b| news(&b.entries, &case.entries))
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
                        case: case_ref(),
                        entries: news_here.clone(),
                    });
            }
        } else {
            changes
                .new_grants
                .entry(g.email.clone())
                .or_default()
                .push(Granted {
                    case: case_ref(),
                    role: g.role.clone(),
                    entries: case.entries.clone(),
                });
        }
        if let Some(last_day) = expires_soon(case, tonight) {
            changes
                .expiring
                .entry(g.email.clone())
                .or_default()
                .push(Expiring {
                    case: case_ref(),
                    status: case.status.clone(),
                    last_day,
                });
        }
    }
    if followed {
        changes.followed_cases += 1;
        changes.cases_with_news += u64::from(!news_here.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        news.iter().map(|n| (n.entry.seq, n.revised)).collect()
    }

    #[test]
    fn a_new_top_entry_is_news() {
        let prev = [e(3, 30, "c"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(4, 40, "d"), e(3, 30, "c"), e(2, 20, "b")];
        assert_eq!(seqs(&news(&prev, &new)), vec![(4, false)]);
    }

    #[test]
    fn an_entry_surfacing_after_a_withdrawal_is_not_news() {
        // 3 was withdrawn; 0 (older than everything shown) moves up.
        let prev = [e(3, 30, "c"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(2, 20, "b"), e(1, 10, "a"), e(0, 5, "old")];
        assert!(news(&prev, &new).is_empty());
    }

    #[test]
    fn a_late_posting_into_a_short_list_is_news() {
        // Fewer than three were shown: nothing can have surfaced.
        let prev = [e(2, 20, "b")];
        let new = [e(2, 20, "b"), e(3, 10, "late")];
        assert_eq!(seqs(&news(&prev, &new)), vec![(3, false)]);
    }

    #[test]
    fn a_revised_text_is_news_marked_revised() {
        let prev = [e(3, 30, "宣判"), e(2, 20, "b"), e(1, 10, "a")];
        let new = [e(3, 30, "宣判（改期）"), e(2, 20, "b"), e(1, 10, "a")];
        assert_eq!(seqs(&news(&prev, &new)), vec![(3, true)]);
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
            for n in news(&prev, &new) {
                prop_assert!(new.contains(&n.entry));
                prop_assert!(!prev.contains(&n.entry));
            }
            // Nothing changed, nothing new.
            prop_assert!(news(&new, &new).is_empty());
        }
    }
}
