//! Cases back after their last day had passed.
//!
//! A snapshot keeps no grants of a case past its last day, so a case that
//! comes back (a wrong status date corrected the next night, a case sent
//! back by a higher court) has grants the snapshot compared with lacks: to
//! the diff, new grants. No clerk acted. Mailed as grants, they told readers
//! just told the case had stopped that a clerk had approved them, sent an
//! activation link anew, and cleared a bounce flag (the life review of the
//! forty-seventh session). A grant of a case the snapshot compared with had
//! past its last day (`ended::ended_before`), to an address told of a last
//! day of the case now past (a warning, or the notice that it had stopped:
//! `expiry_warned`, suppressed ones too), is such a return: it leaves the
//! night's new grants for the address's news, listed as back with its
//! latest entries (`Listed::Back`), which its digest tells as any news (not
//! to a flagged address, nor one that turned digests off). A grant to an
//! address never told of the case's end, or of a case the snapshot compared
//! with had queryable (revoked, then granted again by a clerk), stays a
//! grant.

use chrono::NaiveDate;
use mail::outbox::Outbox;
use mail::render::Listed;
use store::layout::SnapshotFile;

use super::diff::{CaseNews, Changes, NewsEntry};
use super::ended::ended_before;
use super::NotifyError;
use crate::snapshot::read::Snapshot;

/// Moves tonight's new grants of cases back after their last day, to
/// addresses told of that day, into their news. Returns how many.
pub fn find(
    outbox: &Outbox,
    from: &SnapshotFile,
    night: NaiveDate,
    changes: &mut Changes,
) -> Result<usize, NotifyError> {
    let tonight = schemas::date::to_int(night);
    // (opened for the first grant to an address told of a past last day)
    let mut before: Option<Snapshot> = None;
    let mut moved = 0;
    let emails: Vec<String> = changes.new_grants.keys().cloned().collect();
    for email in emails {
        let granted = changes.new_grants.remove(&email).unwrap_or_default();
        let mut still = Vec::with_capacity(granted.len());
        let mut came = false;
        for g in granted {
            if !outbox.told_of_last_day_before(&email, &g.case.id(), tonight)? {
                still.push(g);
                continue;
            }
            let then = match &mut before {
                Some(s) => s,
                None => before.insert(Snapshot::open(from)?),
            };
            let stopped = then
                .case_state(&g.case.court, &g.case.key)?
                .is_some_and(|s| ended_before(&s, from.date).is_some());
            if !stopped {
                still.push(g);
                continue;
            }
            moved += 1;
            let entries = g
                .entries
                .into_iter()
                .map(|entry| NewsEntry { entry, was: None })
                .collect();
            let news = changes.news.entry(email.clone()).or_default();
            // (once: the address may hear of it as a prosecutor's too)
            if !news.iter().any(|n| n.case == g.case) {
                came = true;
                news.push(CaseNews {
                    division: g.division,
                    listed: Listed::Back,
                    ..CaseNews::of(g.case, entries)
                });
            }
        }
        // (in case order, as the diff gives news: sorted once, if any came)
        if came {
            if let Some(news) = changes.news.get_mut(&email) {
                news.sort_by(|a, b| a.case.cmp(&b.case));
            }
        }
        if !still.is_empty() {
            changes.new_grants.insert(email, still);
        }
    }
    Ok(moved)
}
