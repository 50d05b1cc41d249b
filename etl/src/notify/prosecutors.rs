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
//! tonight ends the digest about that case tonight. A case assigned to
//! the prosecutor tonight, and not in the snapshot compared with, is in the
//! digest too, said to be newly theirs, with its latest entries as they
//! stand (`CaseNews::listed`), as an approval lists a newly granted
//! case's; a re-run tells only what its earlier build lacked, so once. The
//! few opted-in
//! prosecutors are read through `store::accounts`; their news joins
//! `Changes::news` under their address (merged with the address's own, one
//! digest per address and night, a case once), and from there the plan
//! treats it like anyone's: not on a first load, never after an
//! unsubscribe (which turns the opt-in off too), suppressed for a flagged
//! address, held by the flood guard. A prosecutor who keeps reminders but
//! not the digest has the news worked out too, marked
//! `Follow::prosecutor_calendar`: the queue tells them only their cases'
//! hearings' changes (`queue::told`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rusqlite::Connection;

use super::diff::{self, CaseNews, Changes, Follow};
use super::reminders::{Candidate, OnDay};
use super::NotifyError;
use crate::snapshot::read::{ReadError, Snapshot};
use mail::render::Listed;
use schemas::CaseRef;
use store::layout::SnapshotFile;

/// A queryable case assigned to a prosecutor in a snapshot: its id there,
/// its name and its court's name.
struct Assigned {
    id: i64,
    case: CaseRef,
    court_name: String,
    /// Its 股別 as the court wrote it.
    division: String,
}

/// The columns [`Assigned::from_row`] reads, in its order.
const ASSIGNED_COLUMNS: &str =
    "c.id, c.court, co.name, c.category, c.year, c.word, c.number, c.division";

impl Assigned {
    /// A row that starts with [`ASSIGNED_COLUMNS`].
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Assigned> {
        Ok(Assigned {
            id: r.get(0)?,
            case: CaseRef::from_row(r, 1, 3)?,
            court_name: r.get(2)?,
            division: r.get(7)?,
        })
    }
}

/// The queryable cases assigned to `account` in a snapshot.
fn assigned(conn: &Connection, account: &str) -> Result<Vec<Assigned>, ReadError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {ASSIGNED_COLUMNS}
         FROM prosecutors p JOIN cases c ON c.id = p.case_id
         JOIN courts co ON co.code = c.court
         WHERE p.account = ?1 AND c.queryable = 1
         ORDER BY c.court, c.category, c.year, c.word, c.number"
    ))?;
    let rows = st.query_map([account], Assigned::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The prosecutors of the case `case_id`, if it is queryable, each with
/// the case as [`assigned`] gives it.
fn assigned_to(conn: &Connection, case_id: i64) -> Result<Vec<(String, Assigned)>, ReadError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {ASSIGNED_COLUMNS}, p.account
         FROM cases c JOIN prosecutors p ON p.case_id = c.id
         JOIN courts co ON co.code = c.court
         WHERE c.id = ?1 AND c.queryable = 1"
    ))?;
    let rows = st.query_map([case_id], |r| Ok((r.get(8)?, Assigned::from_row(r)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds the prosecutors' news between `from` and `to` to `changes.news`:
/// of those who opted in to the digest (`Follow::prosecutor_digest`), and
/// of those who keep reminders but not the digest
/// (`Follow::prosecutor_calendar`: the queue tells them only their cases'
/// hearings' changes). Whether their calendar holds a hearing of ours is
/// not asked, as it is not of an applicant: it may have taken it from a
/// reminder, or from a digest before the digest was turned off. A case is
/// in an address's news once, with every reason the address has to hear
/// of it. Returns how many prosecutors have news tonight.
pub fn add_news(
    data_dir: &Path,
    from: &SnapshotFile,
    to: &SnapshotFile,
    changes: &mut Changes,
) -> Result<usize, NotifyError> {
    let accounts = store::accounts::open(data_dir)?;
    let digests = store::accounts::prosecutors::digest_recipients(&accounts)?;
    let reminders = store::accounts::prosecutors::reminder_recipients(&accounts)?;
    drop(accounts);
    let with_digest: BTreeSet<&str> = digests.iter().map(|(a, _)| a.as_str()).collect();
    let recipients: Vec<(&str, &str, Follow)> = digests
        .iter()
        .map(|(a, e)| (a.as_str(), e.as_str(), Follow::PROSECUTOR_DIGEST))
        .chain(
            reminders
                .iter()
                .filter(|(account, _)| !with_digest.contains(account.as_str()))
                .map(|(a, e)| (a.as_str(), e.as_str(), Follow::PROSECUTOR_CALENDAR)),
        )
        .collect();
    if recipients.is_empty() {
        return Ok(0);
    }
    let (old, new) = (Snapshot::open(from)?, Snapshot::open(to)?);
    // Case by case, not prosecutor by prosecutor: each snapshot's
    // assignments of the recipients by one pass over its `prosecutors`
    // (every account's cases one query at a time, and each case looked up
    // by key in both snapshots for each of its prosecutors, took 34 s for
    // the generated national batch's 86,727 accounts: BENCHMARKS.md), then
    // each such case's row read once by id in each, in id order.
    let mut of_account: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (account, _, _)) in recipients.iter().enumerate() {
        of_account.entry(account).or_default().push(i);
    }
    let by_case = |snapshot: &Snapshot| -> Result<BTreeMap<i64, Vec<usize>>, ReadError> {
        let mut out: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (id, account) in snapshot.assignments(|a| of_account.contains_key(a))? {
            out.entry(id)
                .or_default()
                .extend(&of_account[account.as_str()]);
        }
        Ok(out)
    };
    let (then_assigned, now_assigned) = (by_case(&old)?, by_case(&new)?);
    // Tonight's queryable cases of theirs, by case.
    // (with its last day, if it ends soon)
    #[allow(clippy::type_complexity)]
    let mut tonight: HashMap<
        CaseRef,
        (
            i64,
            Vec<crate::model::EntryData>,
            &[usize],
            String,
            Option<chrono::NaiveDate>,
        ),
    > = HashMap::with_capacity(now_assigned.len());
    // A case left out of tonight's files is kept only for the next night's
    // comparison: no news of it tonight; and one left out of the older
    // snapshot's night is of that version's date (`diff::news`).
    let (left_out_now, left_out_then) = (new.left_out()?, old.left_out()?);
    for (id, who) in &now_assigned {
        if left_out_now.contains_key(id) {
            continue;
        }
        if let Some((court, case)) = new.case_at(*id)? {
            if case.queryable {
                let last_day = diff::expires_soon(&case, to.date);
                let at = CaseRef {
                    court,
                    key: case.key,
                };
                // (its 股別 as the court wrote it: said only of a case with news)
                tonight.insert(
                    at,
                    (*id, case.entries, who.as_slice(), case.division, last_day),
                );
            }
        }
    }
    let corrected = diff::Corrected::between(from, to, &new)?;
    // Each court's export date in the older snapshot (`diff::news`).
    let as_of: HashMap<String, chrono::NaiveDate> = old
        .courts()?
        .into_iter()
        .map(|c| (c.code, c.as_of))
        .collect();
    let mut news: Vec<Vec<CaseNews>> = vec![Vec::new(); recipients.len()];
    // Who had each of tonight's cases then (queryable or not).
    let mut had: HashMap<CaseRef, &[usize]> = HashMap::with_capacity(tonight.len());
    for (then_id, who_then) in &then_assigned {
        let Some((court, then)) = old.case_at(*then_id)? else {
            continue;
        };
        let case = CaseRef {
            court,
            key: then.key,
        };
        if tonight.contains_key(&case) {
            had.insert(case.clone(), who_then);
        }
        if !then.queryable {
            continue;
        }
        let Some((now_id, now, who_now, division, last_day)) = tonight.get(&case) else {
            continue;
        };
        // Assigned to them in both snapshots.
        let both: Vec<usize> = who_then
            .iter()
            .filter(|i| who_now.contains(i))
            .copied()
            .collect();
        if both.is_empty() {
            continue;
        }
        let since = left_out_then
            .get(then_id)
            .or(as_of.get(&case.court))
            .copied();
        let entries = diff::news(&then.entries, now, since);
        let corrected = corrected.names(*now_id).then_some((*then_id, *now_id));
        if entries.is_empty() && corrected.is_none() {
            continue;
        }
        let division = schemas::text::division(division);
        for i in both {
            news[i].push(CaseNews {
                corrected,
                division: division.clone(),
                follow: recipients[i].2,
                last_day: *last_day,
                ..CaseNews::of(case.clone(), entries.clone())
            });
        }
    }
    // A case assigned tonight to a prosecutor who opted in to the digest,
    // and not to them then: it is newly theirs, told with its latest
    // entries as they stand (as an approval lists a newly granted case's),
    // the digest saying so. Not to one who keeps only reminders: their
    // reminders carry its hearings when they come.
    // Only where the snapshot compared with can say who had the case: not
    // of one it had past its last day (no prosecutors are kept of it), nor
    // of a court with no assignments there (its optional prosecutor file
    // did not come): told so, every case of the court was "newly theirs".
    let mut court_known: HashMap<&str, bool> = HashMap::new();
    for (case, (_, now, who_now, division, last_day)) in &tonight {
        let before = had.get(case).copied().unwrap_or_default();
        let newly: Vec<usize> = who_now
            .iter()
            .filter(|i| recipients[**i].2 == Follow::PROSECUTOR_DIGEST && !before.contains(i))
            .copied()
            .collect();
        if newly.is_empty() {
            continue;
        }
        if !had.contains_key(case) {
            if old
                .case_state(&case.court, &case.key)?
                .is_some_and(|s| !s.queryable)
            {
                continue;
            }
            let known = match court_known.get(case.court.as_str()) {
                Some(known) => *known,
                None => {
                    let known = old.court_has_assignments(&case.court)?;
                    court_known.insert(&case.court, known);
                    known
                }
            };
            if !known {
                continue;
            }
        }
        let entries: Vec<diff::NewsEntry> = now
            .iter()
            .map(|e| diff::NewsEntry {
                entry: e.clone(),
                was: None,
            })
            .collect();
        let division = schemas::text::division(division);
        for i in newly {
            news[i].push(CaseNews {
                division: division.clone(),
                follow: recipients[i].2,
                listed: Listed::Assigned,
                last_day: *last_day,
                ..CaseNews::of(case.clone(), entries.clone())
            });
        }
    }
    let mut with_news = 0;
    for ((_, email, follow), news) in recipients.iter().zip(news) {
        if news.is_empty() {
            continue;
        }
        with_news += 1;
        let all = changes.news.entry(email.to_string()).or_default();
        for n in news {
            // The same snapshots' news: the case once, with every reason
            // the address has to hear of it.
            match all.iter_mut().find(|a| a.case == n.case) {
                // (a case the address follows as a party too is told as
                // its news, not as newly assigned)
                Some(a) => {
                    a.follow = a.follow.and(*follow);
                    a.last_day = a.last_day.or(n.last_day);
                }
                None => all.push(n),
            }
        }
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
    due: &BTreeMap<i64, Vec<OnDay>>,
) -> Result<Vec<Candidate>, ReadError> {
    // Whichever side is smaller is looked up one by one: each prosecutor's
    // cases (the usual case: far fewer prosecutors turn reminders on than a
    // national day has hearings due, 38,628 on the benchmark's day), or
    // each due case's prosecutors (the national benchmark turns on all
    // 85,611 of its generated accounts, whose look-ups one by one took
    // 1.2 s).
    let by = if recipients.len() <= due.len() {
        By::Prosecutor
    } else {
        By::Case
    };
    candidates_by(conn, recipients, due, by)
}

/// Which side [`reminder_candidates`] looks up one by one.
#[derive(Debug, Clone, Copy)]
enum By {
    Prosecutor,
    Case,
}

/// [`reminder_candidates`], looking up `by` the side given: the same
/// candidates in the same order either way (by recipient, then case).
fn candidates_by(
    conn: &Connection,
    recipients: &[(String, String)],
    due: &BTreeMap<i64, Vec<OnDay>>,
    by: By,
) -> Result<Vec<Candidate>, ReadError> {
    if due.is_empty() || recipients.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(usize, Assigned)> = Vec::new();
    match by {
        By::Prosecutor => {
            for (i, (account, _)) in recipients.iter().enumerate() {
                found.extend(
                    assigned(conn, account)?
                        .into_iter()
                        .filter(|a| due.contains_key(&a.id))
                        .map(|a| (i, a)),
                );
            }
        }
        By::Case => {
            let index: BTreeMap<&str, usize> = recipients
                .iter()
                .enumerate()
                .map(|(i, (account, _))| (account.as_str(), i))
                .collect();
            for &case_id in due.keys() {
                for (account, a) in assigned_to(conn, case_id)? {
                    if let Some(&i) = index.get(account.as_str()) {
                        found.push((i, a));
                    }
                }
            }
            found.sort_by(|x, y| (x.0, &x.1.case).cmp(&(y.0, &y.1.case)));
        }
    }
    Ok(found
        .iter()
        .flat_map(|(i, a)| {
            due[&a.id].iter().map(|h| {
                Candidate::of(&recipients[*i].1, &a.case, &a.court_name, h).in_division(&a.division)
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HearingData;
    use chrono::NaiveDate;
    use schemas::hearing::State;
    use schemas::hearing_list::Origin;

    fn hearing(seq: u32, day: u32) -> OnDay {
        let date = NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        let hearing = HearingData {
            seq,
            posted: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            origin: Origin {
                kind: "言詞辯論",
                seq,
                part: 0,
            },
            sequence: 0,
            at: date.and_hms_opt(10, 0, 0).unwrap(),
            courtroom: Some("第一法庭".into()),
            kind: "言詞辯論",
            state: State::Scheduled,
            by: None,
        };
        OnDay {
            hearing,
            moved_from: None,
        }
    }

    /// Both ways of looking up a day's prosecutors give the same
    /// candidates in the same order: a queryable, due case once for each
    /// of its prosecutors who turned reminders on, none for a case past
    /// the cutoff, one not due, or a prosecutor without reminders.
    #[test]
    fn looking_up_by_prosecutor_or_by_case_finds_the_same_reminders() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(schemas::SNAPSHOT_TABLES).unwrap();
        conn.execute_batch(
            "INSERT INTO courts VALUES ('TPD', '臺灣臺北地方法院', 0, 0, NULL),
                                       ('KSD', '臺灣高雄地方法院', 0, 0, NULL);
             INSERT INTO cases (id, court, category, year, word, number, division, status, status_date, queryable)
             VALUES (1, 'KSD', '刑事', 115, '訴', 7, '', '', NULL, 1),
                    (2, 'TPD', '刑事', 114, '訴', 30, '', '', NULL, 1),
                    (3, 'TPD', '刑事', 115, '訴', 2, '', '', NULL, 1),
                    (4, 'TPD', '刑事', 115, '訴', 10, '', '', NULL, 1),
                    (5, 'TPD', '刑事', 115, '訴', 11, '', '', NULL, 0),
                    (6, 'TPD', '民事', 115, '訴', 1, '', '', NULL, 1);
             INSERT INTO prosecutors VALUES
                 (1, 'chen'), (1, 'lin'), (2, 'lin'), (3, 'lin'), (4, 'chen'),
                 (4, 'wang'), (5, 'chen'), (6, 'lin'), (6, 'off');",
        )
        .unwrap();
        let due: BTreeMap<i64, Vec<OnDay>> = [
            (1, vec![hearing(3, 1)]),
            (2, vec![hearing(4, 1), hearing(9, 7)]),
            (4, vec![hearing(2, 7)]),
            (5, vec![hearing(1, 1)]),
            (6, vec![hearing(5, 7)]),
        ]
        .into();
        let recipients: Vec<(String, String)> = ["chen", "lin", "wang"]
            .iter()
            .map(|a| (a.to_string(), format!("{a}@mail.moj.gov.tw")))
            .collect();
        let by_prosecutor = candidates_by(&conn, &recipients, &due, By::Prosecutor).unwrap();
        let by_case = candidates_by(&conn, &recipients, &due, By::Case).unwrap();
        assert_eq!(by_prosecutor, by_case);
        let seen: Vec<(&str, String)> = by_case
            .iter()
            .map(|c| (c.email.as_str(), c.case.id()))
            .collect();
        assert_eq!(
            seen,
            [
                ("chen@mail.moj.gov.tw", "KSD|刑事|115|訴|7"),
                ("chen@mail.moj.gov.tw", "TPD|刑事|115|訴|10"),
                ("lin@mail.moj.gov.tw", "KSD|刑事|115|訴|7"),
                ("lin@mail.moj.gov.tw", "TPD|刑事|114|訴|30"),
                ("lin@mail.moj.gov.tw", "TPD|刑事|114|訴|30"),
                ("lin@mail.moj.gov.tw", "TPD|民事|115|訴|1"),
                ("wang@mail.moj.gov.tw", "TPD|刑事|115|訴|10"),
            ]
            .map(|(e, c)| (e, c.to_string()))
        );
        // Whichever way it picks (here by prosecutor: three against five).
        assert_eq!(
            reminder_candidates(&conn, &recipients, &due).unwrap(),
            by_case
        );
    }
}
