//! When a case changed, as the website and the API both say it: an entry
//! rewritten or written after its day (異動), a case's latest change, and
//! the orders of the list of cases (`?sort=`), 最近異動 among them. One
//! place for both, so that an app is told what a browser is.

use chrono::NaiveDate;

use crate::live::{CaseRow, EntryRow};

/// How the list of cases is ordered (`/cases?sort=`, `/api/v1/cases?sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// By court, category, year, word and number.
    Case,
    /// The latest change first (an entry's 異動時間, or the status's date):
    /// where a digest's 「另有 N 件」 are.
    Recent,
    /// The last day the case can be queried, soonest first; cases with
    /// none after: where an expiry warning's are.
    Ending,
}

impl Sort {
    /// A query's `sort`; anything else is the key order.
    pub fn parse(s: Option<&str>) -> Sort {
        match s {
            Some("recent") => Sort::Recent,
            Some("ending") => Sort::Ending,
            _ => Sort::Case,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Case => "case",
            Sort::Recent => "recent",
            Sort::Ending => "ending",
        }
    }

    /// `rows` (in key order) in this order; stable, so ties keep it.
    pub fn apply(self, rows: &mut [CaseRow]) {
        match self {
            Sort::Case => {}
            Sort::Recent => rows.sort_by_key(|r| std::cmp::Reverse(latest_change(r))),
            Sort::Ending => {
                rows.sort_by_key(|r| crate::pages::last_day(r).unwrap_or(NaiveDate::MAX))
            }
        }
    }
}

/// A search of the list (`/cases?q=`): each of its words is in the case's
/// court (name or code), category, number (`115年度訴字第100號`), 股別 or
/// status. Full-width letters, digits and spaces, as a Chinese input method
/// types them, are the ASCII ones; `115 訴 100` finds 115年度訴字第100號.
#[derive(Debug, Clone)]
pub struct Search {
    typed: String,
    words: Vec<String>,
}

impl Search {
    /// `None` for a search of nothing.
    pub fn new(typed: &str) -> Option<Search> {
        let typed: String = typed.trim().chars().take(100).collect();
        // (an ideographic space splits words as any other: Unicode's)
        let ascii: String = typed
            .chars()
            .map(|c| schemas::text::half_width(c).to_ascii_lowercase())
            .collect();
        let words: Vec<String> = ascii.split_whitespace().map(str::to_string).collect();
        (!words.is_empty()).then_some(Search { typed, words })
    }

    /// As typed (trimmed): what the page's search box shows again.
    pub fn as_typed(&self) -> &str {
        &self.typed
    }

    /// Whether it finds `r`.
    pub fn finds(&self, r: &CaseRow) -> bool {
        let text = format!(
            "{} {} {} {} {} {}",
            schemas::text::clean(&r.court_name),
            r.case.court,
            r.case.key.category,
            schemas::text::clean(&r.case.key.number_text()),
            schemas::text::division(&r.division).unwrap_or_default(),
            schemas::text::clean(&r.status),
        )
        .to_ascii_lowercase();
        self.words.iter().all(|w| text.contains(w.as_str()))
    }
}

/// A case's latest change, as YYYYMMDDHHMMSS: its entries' latest 異動時間
/// or its status's date (at its start), whichever is later; 0 for none.
pub fn latest_change(r: &CaseRow) -> i64 {
    let status = r
        .status_date
        .map_or(0, |d| schemas::date::to_int(d) * 1_000_000);
    r.changed.unwrap_or(0).max(status)
}

/// The day of [`latest_change`], if the case has one.
pub fn latest_change_day(r: &CaseRow) -> Option<NaiveDate> {
    day_of(latest_change(r))
}

/// The day an entry was last changed, when that is after the latest
/// entry's own day: an earlier entry revised (a digest said 「內容更新」)
/// or written late, which the date alone would hide. What the list says
/// beside the latest entry's date (`（115/11/24 異動）`).
pub fn revised_on(r: &CaseRow) -> Option<NaiveDate> {
    after(r.changed?, r.entries.first()?.posted)
}

/// The day `e` was last changed, when that is after its own day: the
/// entry was rewritten (or written late) since it was posted.
pub fn entry_revised(e: &EntryRow) -> Option<NaiveDate> {
    after(e.modified?, e.posted)
}

/// The day of the 異動時間 `modified`, if after `posted`.
fn after(modified: i64, posted: NaiveDate) -> Option<NaiveDate> {
    day_of(modified).filter(|d| *d > posted)
}

/// The day of a YYYYMMDDHHMMSS time.
fn day_of(time: i64) -> Option<NaiveDate> {
    schemas::date::from_int(time / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn entry(posted: u32, modified: Option<i64>) -> EntryRow {
        EntryRow {
            posted: day(posted),
            text: "115/12/15 10:00第三法庭宣判".into(),
            modified,
        }
    }

    #[test]
    fn an_entry_is_revised_only_when_changed_after_its_day() {
        assert_eq!(entry_revised(&entry(20, Some(20261120160000))), None);
        assert_eq!(
            entry_revised(&entry(20, Some(20261124092000))),
            Some(day(24))
        );
        assert_eq!(entry_revised(&entry(20, None)), None);
        // (an 異動時間 before the entry's day is no revision)
        assert_eq!(entry_revised(&entry(20, Some(20261119235959))), None);
    }
}
