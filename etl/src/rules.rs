//! The contract's rules, as pure functions: which version of an entry stands,
//! which entries are a case's latest three, and whether a case is queryable.
//! The court stage applies them; the property tests check them against a
//! naive model.

use chrono::NaiveDate;
use schemas::contract;

use crate::kinds::progress::Version;
use schemas::date::last_queryable_day;

/// Collapses the versions of one case's entries to the standing ones.
///
/// `rows` are the case's valid progress rows in file order. The version with
/// the latest 異動時間 wins; on a tie the later row in the file wins. On
/// return `rows` holds one standing version per 序號 (withdrawn ones
/// included: the caller counts and drops them); the result is how many rows
/// lost to another version.
pub fn collapse_versions<T>(rows: &mut Vec<T>, version: impl Fn(&T) -> &Version) -> u64 {
    let before = rows.len();
    // Reversed, a stable sort puts the later row first among equal times;
    // the first of each 序號 is then the winner.
    rows.reverse();
    rows.sort_by_key(|r| (version(r).seq, std::cmp::Reverse(version(r).modified)));
    rows.dedup_by_key(|r| version(r).seq);
    (before - rows.len()) as u64
}

/// The latest three existing entries: the greatest (登載日期, 序號), newest
/// first. Withdrawn entries do not exist. `T` carries a version and whatever
/// else the caller needs (where its text is).
pub fn latest_three<T>(entries: &mut Vec<T>, version: impl Fn(&T) -> &Version) {
    existing_newest_first(entries, version);
    entries.truncate(3);
}

/// Every existing entry, newest first by (登載日期, 序號): the latest three
/// are its first three, and the hearings are read from all of it, oldest
/// first.
pub fn existing_newest_first<T>(entries: &mut Vec<T>, version: impl Fn(&T) -> &Version) {
    entries.retain(|e| !version(e).withdrawn);
    entries.sort_unstable_by_key(|e| std::cmp::Reverse((version(e).posted, version(e).seq)));
}

/// Why a case is or is not queryable tonight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Queryable,
    /// Court is not a fact-finding court, or not in the contract's list.
    CourtOutOfScope,
    /// Category such as 少年 or 非訟.
    CategoryOutOfScope,
    /// Sent up, sent to execution or archived more than two months ago.
    PastCutoff,
}

/// Whether a case with this status is still queryable on `batch_date`: a
/// cutoff status stops it once `cutoff_months` calendar months have passed
/// since its status date.
pub fn within_cutoff(status: &str, status_date: Option<NaiveDate>, batch_date: NaiveDate) -> bool {
    let c = contract();
    match status_date {
        Some(d) if c.status_has_cutoff(status) => {
            batch_date <= last_queryable_day(d, c.scope.cutoff_months)
        }
        _ => true,
    }
}

/// The scope of a case of `court` in `category` on `batch_date`.
pub fn scope(
    court: &str,
    category: &str,
    status: &str,
    status_date: Option<NaiveDate>,
    batch_date: NaiveDate,
) -> Scope {
    let c = contract();
    if !c.court(court).is_some_and(|c| c.fact_finding) {
        Scope::CourtOutOfScope
    } else if !c.category_in_scope(category) {
        Scope::CategoryOutOfScope
    } else if !within_cutoff(status, status_date, batch_date) {
        Scope::PastCutoff
    } else {
        Scope::Queryable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::progress::TextRef;
    use chrono::NaiveDateTime;
    use proptest::prelude::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(u64::from(n))
    }

    fn at(n: u32) -> NaiveDateTime {
        day(0).and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::minutes(i64::from(n))
    }

    /// A version; `text` is an id standing for its text.
    fn row(seq: u32, posted: u32, modified: u32, withdrawn: bool, text: u32) -> Version {
        Version {
            seq,
            posted: day(posted),
            modified: at(modified),
            withdrawn,
            text: TextRef {
                start: text,
                len: 0,
            },
        }
    }

    fn standing(mut rows: Vec<Version>) -> Vec<(u32, u32)> {
        let total = rows.len();
        let collapsed = collapse_versions(&mut rows, |v| v);
        assert_eq!(collapsed as usize + rows.len(), total);
        latest_three(&mut rows, |v| v);
        rows.into_iter().map(|e| (e.seq, e.text.start)).collect()
    }

    #[test]
    fn latest_version_wins_and_ties_go_to_the_later_row() {
        let (late, early_but_later_in_file, tie_first, tie_second) = (10, 11, 12, 13);
        let got = standing(vec![
            row(1, 1, 5, false, late),
            row(1, 1, 3, false, early_but_later_in_file),
            row(2, 2, 4, false, tie_first),
            row(2, 2, 4, false, tie_second),
        ]);
        assert_eq!(got, vec![(2, tie_second), (1, late)]);
    }

    #[test]
    fn withdrawal_removes_the_entry_and_a_later_version_restores_it() {
        let got = standing(vec![
            row(1, 1, 1, false, 1),
            row(1, 1, 2, true, 2),
            row(2, 2, 1, false, 3),
            row(2, 2, 2, true, 4),
            row(2, 2, 3, false, 5),
        ]);
        assert_eq!(got, vec![(2, 5)]);
    }

    #[test]
    fn latest_three_orders_by_posted_then_seq() {
        let got = standing(vec![
            row(1, 10, 0, false, 1),
            row(2, 5, 0, false, 2),
            row(3, 10, 0, false, 3),
            row(4, 1, 0, false, 4),
            row(5, 7, 0, false, 5),
        ]);
        let seqs: Vec<u32> = got.iter().map(|e| e.0).collect();
        assert_eq!(seqs, vec![3, 1, 5]);
    }

    #[test]
    fn cutoff_is_two_calendar_months_inclusive() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let s = Some(d(2024, 3, 31));
        assert!(within_cutoff("上訴", s, d(2024, 5, 31)));
        assert!(!within_cutoff("上訴", s, d(2024, 6, 1)));
        assert!(within_cutoff("歸檔", Some(d(2024, 12, 31)), d(2025, 2, 28)));
        assert!(!within_cutoff("歸檔", Some(d(2024, 12, 31)), d(2025, 3, 1)));
        // 已終結 and 審理中 never expire.
        assert!(within_cutoff("已終結", Some(d(2000, 1, 1)), d(2024, 6, 1)));
        assert!(within_cutoff("審理中", None, d(2024, 6, 1)));
        for status in ["上訴", "抗告", "移送執行", "歸檔"] {
            assert!(!within_cutoff(status, s, d(2024, 6, 1)), "{status}");
        }
    }

    #[test]
    fn scope_rules() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(scope("TPD", "刑事", "審理中", None, d), Scope::Queryable);
        assert_eq!(
            scope("TPS", "刑事", "審理中", None, d),
            Scope::CourtOutOfScope
        );
        assert_eq!(
            scope("XYZ", "刑事", "審理中", None, d),
            Scope::CourtOutOfScope
        );
        assert_eq!(
            scope("TPD", "少年", "審理中", None, d),
            Scope::CategoryOutOfScope
        );
        let old = NaiveDate::from_ymd_opt(2026, 9, 23);
        assert_eq!(scope("TPD", "民事", "上訴", old, d), Scope::PastCutoff);
    }

    /// The contract read literally, with no cleverness: for each 序號 take
    /// the versions in file order, keep the last one with the greatest
    /// 異動時間; drop withdrawn; sort everything; take three.
    fn model(rows: &[Version]) -> Vec<(u32, u32)> {
        let mut seqs: Vec<u32> = rows.iter().map(|r| r.seq).collect();
        seqs.sort();
        seqs.dedup();
        let mut entries = Vec::new();
        for seq in seqs {
            let versions: Vec<&Version> = rows.iter().filter(|r| r.seq == seq).collect();
            let latest = versions.iter().map(|r| r.modified).max().unwrap();
            let winner = versions
                .iter()
                .rev()
                .find(|r| r.modified == latest)
                .unwrap();
            if !winner.withdrawn {
                entries.push((winner.posted, winner.seq, winner.text.start));
            }
        }
        entries.sort();
        entries.reverse();
        entries
            .into_iter()
            .take(3)
            .map(|(_, s, t)| (s, t))
            .collect()
    }

    proptest! {
        #[test]
        fn standing_entries_match_the_model(
            raw in prop::collection::vec((1u32..8, 0u32..6, 0u32..4, prop::bool::weighted(0.2)), 0..40)
        ) {
            let rows: Vec<Version> = raw
                .iter()
                .enumerate()
                .map(|(i, &(seq, posted, modified, w))| row(seq, posted, modified, w, i as u32))
                .collect();
            prop_assert_eq!(standing(rows.clone()), model(&rows));
        }

        #[test]
        fn cutoff_matches_month_arithmetic(y in 2000i32..2100, m in 1u32..=12, d in 1u32..=31, later in 0u32..120) {
            prop_assume!(NaiveDate::from_ymd_opt(y, m, d).is_some());
            let start = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let batch = start + chrono::Days::new(u64::from(later));
            // Model: the same day number two months on, or that month's last day.
            let (ty, tm) = if m > 10 { (y + 1, m - 10) } else { (y, m + 2) };
            let last = (28..=d.max(28)).rev().find_map(|dd| NaiveDate::from_ymd_opt(ty, tm, dd.min(d))).unwrap();
            prop_assert_eq!(within_cutoff("上訴", Some(start), batch), batch <= last);
        }
    }
}
