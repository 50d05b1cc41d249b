//! Followed cases that stopped being queryable without a warning: a court
//! that posts a case's status (上訴, 歸檔, ...) more than the cutoff after
//! its date makes the case past its last queryable day the night the
//! status arrives. The expiry warning goes only before the last day
//! (`diff::EXPIRY_NOTICE_DAYS`), so such a case left the site and its
//! followers were never told. Each follower who had it is told once, by
//! an expiry mail that says the case has stopped being queryable
//! (`Expiring::ended`); the plan's record of warnings given (`expiry_warned`,
//! by address, case and last day) keeps one already warned of that last
//! day from being told again, as it keeps every warning to one.

use chrono::NaiveDate;
use store::layout::SnapshotFile;

use mail::render::Ended;

use super::diff::{last_day, Changes, Expiring};
use crate::snapshot::read::{CaseState, ReadError, Snapshot};

/// The last queryable day of a case in `state`, if it had passed before
/// `night`: not queryable, its status one with a cutoff. The rule `find`
/// tells an address by, and `send` checks its mail by: an ended case has
/// no grants in any later snapshot, so its mail is not withheld for that.
pub fn ended_before(state: &CaseState, night: NaiveDate) -> Option<NaiveDate> {
    if state.queryable {
        return None;
    }
    last_day(&state.status, state.status_date).filter(|day| *day < night)
}

/// Adds to `changes.expiring`, for each grant gone tonight (`ungranted`)
/// whose case is in tonight's snapshot past its last queryable day, that
/// day new tonight (`from`, the snapshot compared with, gave the case
/// another status or date: one that ran its course was due its warning
/// before), an ended case to tell its address of. Returns how many.
pub fn find(
    from: &SnapshotFile,
    to: &SnapshotFile,
    changes: &mut Changes,
) -> Result<usize, ReadError> {
    if changes.ungranted.is_empty() {
        return Ok(0);
    }
    let (before, tonight) = (Snapshot::open(from)?, Snapshot::open(to)?);
    let mut told = 0;
    // (by case: an address's grants gone tonight are a few; a case's
    // state and last day are read once)
    let mut states = std::collections::BTreeMap::new();
    for (email, cases) in &changes.ungranted {
        for case in cases {
            if !states.contains_key(case) {
                let ended = match tonight.case_state(&case.court, &case.key)? {
                    Some(s) => match ended_before(&s, to.date) {
                        // (not a last day the night before had too: a case
                        // that ran its course)
                        Some(day)
                            if before
                                .case_state(&case.court, &case.key)?
                                .and_then(|t| last_day(&t.status, t.status_date))
                                != Some(day) =>
                        {
                            Some((s, day))
                        }
                        _ => None,
                    },
                    None => None,
                };
                states.insert(case.clone(), ended);
            }
            let Some(Some((state, last_day))) = states.get(case) else {
                continue;
            };
            let (status, division) = (&state.status, &state.division);
            changes
                .expiring
                .entry(email.clone())
                .or_default()
                .push(Expiring {
                    case: case.clone(),
                    division: schemas::text::division(division),
                    status: status.clone(),
                    last_day: *last_day,
                    ended: Some(Ended::PostedLate),
                });
            told += 1;
        }
    }
    Ok(told)
}
