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

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use rusqlite::Connection;

use super::diff::{self, CaseNews, Changes};
use super::reminders::Candidate;
use super::NotifyError;
use crate::kinds::CaseKey;
use crate::model::HearingData;
use crate::snapshot::read::{ReadError, Snapshot};
use schemas::hearing::State;
use schemas::CaseRef;
use store::layout::SnapshotFile;

/// The queryable cases assigned to `account` in a snapshot.
fn assigned(conn: &Connection, account: &str) -> Result<Vec<CaseRef>, ReadError> {
    let mut st = conn.prepare_cached(
        "SELECT c.court, c.category, c.year, c.word, c.number
         FROM prosecutors p JOIN cases c ON c.id = p.case_id
         WHERE p.account = ?1 AND c.queryable = 1
         ORDER BY c.court, c.category, c.year, c.word, c.number",
    )?;
    let rows = st.query_map([account], |r| {
        Ok(CaseRef {
            court: r.get(0)?,
            key: CaseKey {
                category: r.get(1)?,
                year: r.get(2)?,
                word: r.get(3)?,
                number: r.get(4)?,
            },
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
        let before: BTreeSet<CaseRef> = assigned(&old_conn, &account)?.into_iter().collect();
        let mut news = Vec::new();
        for case in assigned(&new_conn, &account)? {
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

/// The hearings on the Taipei `days` of the queryable cases assigned to
/// each prosecutor who turned reminders on, under their verified address
/// (`recipients`: (account, address)), as they now stand: for the
/// reminders' plan, beside the grants' candidates. Hearings are read
/// through the snapshot reader (`Snapshot::find_case`), each case once
/// however many recipients it has; a version 1 snapshot has none, as for
/// the grants. Only the current row of a UID counts, and only while
/// scheduled or uncertain: a moved or cancelled hearing is never reminded.
pub fn reminder_candidates(
    live: &SnapshotFile,
    recipients: &[(String, String)],
    days: &[NaiveDate],
) -> Result<Vec<Candidate>, NotifyError> {
    if recipients.is_empty() || days.is_empty() {
        return Ok(Vec::new());
    }
    let snap = Snapshot::open(live)?;
    if snap.version < 2 {
        return Ok(Vec::new());
    }
    let conn = schemas::open_snapshot_readonly(&live.path).map_err(ReadError::from)?;
    let courts: BTreeMap<String, String> = snap
        .courts()?
        .into_iter()
        .map(|c| (c.code, c.name))
        .collect();
    let mut due: BTreeMap<CaseRef, Vec<HearingData>> = BTreeMap::new();
    let mut out = Vec::new();
    for (account, email) in recipients {
        for case in assigned(&conn, account)? {
            let rows = match due.entry(case.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(due_on(&snap, &case, days)?),
            };
            let court_name = courts.get(&case.court).cloned().unwrap_or_default();
            out.extend(rows.iter().map(|h| Candidate {
                email: email.clone(),
                uid: h.uid.clone(),
                sequence: h.sequence,
                at: h.at,
                courtroom: h.courtroom.clone(),
                kind: h.kind.clone(),
                state: h.state,
                case: case.clone(),
                court_name: court_name.clone(),
            }));
        }
    }
    Ok(out)
}

/// A case's hearings on the `days` that may be reminded: as they now
/// stand, scheduled or uncertain.
fn due_on(
    snap: &Snapshot,
    case: &CaseRef,
    days: &[NaiveDate],
) -> Result<Vec<HearingData>, ReadError> {
    let Some((_, data)) = snap.find_case(&case.court, &case.key)? else {
        return Ok(Vec::new());
    };
    Ok(current(data.hearings)
        .into_iter()
        .filter(|h| {
            days.contains(&h.at.date()) && matches!(h.state, State::Scheduled | State::Uncertain)
        })
        .collect())
}

/// Each hearing as it now stands: its UID's row with the greatest
/// SEQUENCE.
fn current(rows: Vec<HearingData>) -> Vec<HearingData> {
    let mut by_uid: BTreeMap<String, HearingData> = BTreeMap::new();
    for h in rows {
        if by_uid
            .get(&h.uid)
            .is_none_or(|kept| kept.sequence < h.sequence)
        {
            by_uid.insert(h.uid.clone(), h);
        }
    }
    by_uid.into_values().collect()
}
