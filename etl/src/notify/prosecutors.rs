//! Prosecutors' mail: the nightly digest (issue 11) and the hearings their
//! reminders are about (issue 14, [`reminder_candidates`]).
//!
//! The digest: a prosecutor who signed in
//! through the MOJ single sign-on with a verified address and opted in on
//! their account page gets the news on the cases assigned to them, in the
//! same digest mail as an address's news on its granted cases.
//!
//! News is what `diff::news` says of a case's latest three entries, for a
//! queryable case assigned to the prosecutor in both snapshots (like an
//! address's news on a case it already followed): an assignment that ends
//! tonight ends the digest about that case tonight. The few opted-in
//! prosecutors are read through `store::accounts`; their news joins
//! `Changes::news` under their address (merged with the address's own, one
//! digest per address and night, a case once), and from there the plan
//! treats it like anyone's: not on a first load, never after an
//! unsubscribe (which turns the opt-in off too), suppressed for a flagged
//! address, held by the flood guard.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::Connection;

use super::diff::{self, CaseNews, Changes};
use super::reminders::Candidate;
use super::NotifyError;
use crate::model::HearingData;
use crate::snapshot::read::{ReadError, Snapshot};
use schemas::CaseRef;
use store::layout::SnapshotFile;

/// A queryable case assigned to a prosecutor in a snapshot: its id there,
/// its name and its court's name.
struct Assigned {
    id: i64,
    case: CaseRef,
    court_name: String,
}

/// The queryable cases assigned to `account` in a snapshot.
fn assigned(conn: &Connection, account: &str) -> Result<Vec<Assigned>, ReadError> {
    let mut st = conn.prepare_cached(
        "SELECT c.id, c.court, co.name, c.category, c.year, c.word, c.number
         FROM prosecutors p JOIN cases c ON c.id = p.case_id
         JOIN courts co ON co.code = c.court
         WHERE p.account = ?1 AND c.queryable = 1
         ORDER BY c.court, c.category, c.year, c.word, c.number",
    )?;
    let rows = st.query_map([account], |r| {
        Ok(Assigned {
            id: r.get(0)?,
            case: CaseRef::from_row(r, 1, 3)?,
            court_name: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds the opted-in prosecutors' news between `from` and `to` to
/// `changes.news`. Returns how many prosecutors have news tonight.
pub fn add_news(
    data_dir: &Path,
    from: &SnapshotFile,
    to: &SnapshotFile,
    changes: &mut Changes,
) -> Result<usize, NotifyError> {
    let accounts = store::accounts::open(data_dir)?;
    let recipients = store::accounts::prosecutors::digest_recipients(&accounts)?;
    drop(accounts);
    if recipients.is_empty() {
        return Ok(0);
    }
    let (old, new) = (Snapshot::open(from)?, Snapshot::open(to)?);
    let (old_conn, new_conn) = (
        schemas::open_snapshot_readonly(&from.path).map_err(ReadError::from)?,
        schemas::open_snapshot_readonly(&to.path).map_err(ReadError::from)?,
    );
    let mut with_news = 0;
    for (account, email) in recipients {
        let before: BTreeSet<CaseRef> = assigned(&old_conn, &account)?
            .into_iter()
            .map(|a| a.case)
            .collect();
        let mut news = Vec::new();
        for Assigned { case, .. } in assigned(&new_conn, &account)? {
            if !before.contains(&case) {
                continue;
            }
            let (Some((_, then)), Some((_, now))) = (
                old.find_case(&case.court, &case.key)?,
                new.find_case(&case.court, &case.key)?,
            ) else {
                continue;
            };
            let entries = diff::news(&then.entries, &now.entries);
            if !entries.is_empty() {
                news.push(CaseNews { case, entries });
            }
        }
        if news.is_empty() {
            continue;
        }
        with_news += 1;
        let all = changes.news.entry(email).or_default();
        let known: BTreeSet<CaseRef> = all.iter().map(|n| n.case.clone()).collect();
        all.extend(news.into_iter().filter(|n| !known.contains(&n.case)));
        all.sort_by(|a, b| a.case.cmp(&b.case));
    }
    Ok(with_news)
}

/// The hearings `due` (`reminders::due_on`: on the reminder days, as they
/// now stand, only while they take place) of the queryable cases assigned
/// to each prosecutor who turned reminders on, under their verified
/// address (`recipients`: (account, address)): for the reminders' plan,
/// beside the grants' candidates.
pub fn reminder_candidates(
    conn: &Connection,
    recipients: &[(String, String)],
    due: &BTreeMap<i64, Vec<HearingData>>,
) -> Result<Vec<Candidate>, NotifyError> {
    let mut out = Vec::new();
    if due.is_empty() {
        return Ok(out);
    }
    for (account, email) in recipients {
        for a in assigned(conn, account)? {
            let Some(hearings) = due.get(&a.id) else {
                continue;
            };
            out.extend(
                hearings
                    .iter()
                    .map(|h| Candidate::of(email, &a.case, &a.court_name, h)),
            );
        }
    }
    Ok(out)
}
