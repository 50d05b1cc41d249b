//! The hearings a night's news announces: what its digests attach as
//! calendar files (`super::queue`), one per hearing an entry schedules,
//! moves or cancels, as the hearing now stands. Looked up in the night's
//! snapshot between the diff and the queueing, a case once however many
//! addresses follow it, on every core.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use rusqlite::OptionalExtension;
use schemas::hearing_list;
use schemas::hearing_store::Layout;
use schemas::CaseRef;

use super::diff::Changes;
use super::reminders::Standing;
use crate::snapshot::read::ReadError;

/// The hearings news entries announce, by (case id, 序號).
pub type Announced = BTreeMap<(String, u32), Vec<Standing>>;

/// The hearings to come that tonight's news entries announce, by (case id,
/// 序號): what a digest attaches as calendar files. Only entries that say
/// something about hearings (`schemas::hearing::read`) are looked up: the
/// hearings each schedules or changes, as they now stand, if they start at
/// or after `from`.
///
/// A case followed by several addresses is in the news of each: its
/// entries are read once, and its list is looked up once, the cases in key
/// order, which is the snapshot's (its pages are read in turn, not at
/// random: a national night's 33,000 entries took about 1 s at random).
/// The cases are split into as many runs of consecutive keys as rayon has
/// threads (the machine's cores, unless `RAYON_NUM_THREADS` says
/// otherwise), each read and looked up on a thread and connection of its
/// own: nothing else runs between the diff and the queueing.
pub fn announced(
    snapshot: &std::path::Path,
    changes: &Changes,
    from: NaiveDateTime,
) -> Result<Announced, ReadError> {
    announced_in_runs(snapshot, changes, from, rayon::current_num_threads())
}

/// [`announced`], the cases split into at most `runs` runs (a test checks
/// that the split changes nothing).
pub fn announced_in_runs(
    snapshot: &std::path::Path,
    changes: &Changes,
    from: NaiveDateTime,
    runs: usize,
) -> Result<Announced, ReadError> {
    // Each case's news entries, by 序號, each once (a case's entry of one
    // 序號 is the same in every follower's news: one snapshot's).
    let mut cases: BTreeMap<&CaseRef, BTreeMap<u32, &str>> = BTreeMap::new();
    for news in changes.news.values().flatten() {
        let seqs = cases.entry(&news.case).or_default();
        for e in &news.entries {
            seqs.entry(e.entry.seq).or_insert(e.entry.text.as_str());
        }
    }
    let cases: Vec<(&CaseRef, BTreeMap<u32, &str>)> = cases.into_iter().collect();
    let run = cases.len().div_ceil(runs.max(1)).max(1);
    std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .chunks(run)
            .map(|cases| scope.spawn(move || announced_in(snapshot, cases, from)))
            .collect();
        // Every run ends before an error is given (as the diff's workers).
        let found: Vec<Result<Announced, ReadError>> = runs
            .into_iter()
            .map(|run| run.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        let mut out = BTreeMap::new();
        for run in found {
            out.extend(run?);
        }
        Ok(out)
    })
}

/// [`announced`] for one run of cases in key order, on a connection of its
/// own.
fn announced_in(
    snapshot: &std::path::Path,
    cases: &[(&CaseRef, BTreeMap<u32, &str>)],
    from: NaiveDateTime,
) -> Result<Announced, ReadError> {
    let mut out = BTreeMap::new();
    let conn = schemas::open_snapshot_readonly(snapshot)?;
    let layout = Layout::read(&conn)?;
    let Some((join, list)) = layout.join("c.id") else {
        return Ok(out);
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {list}, co.name, c.id
         FROM cases c
         JOIN courts co ON co.code = c.court
         {join}
         WHERE c.court = ?1 AND c.category = ?2 AND c.year = ?3 AND c.word = ?4
           AND c.number = ?5 AND c.queryable = 1"
    ))?;
    for (case, texts) in cases {
        // The entries that speak of hearings.
        let seqs: Vec<u32> = texts
            .iter()
            .filter(|(_, text)| schemas::hearing::read(text).is_some())
            .map(|(&seq, _)| seq)
            .collect();
        if seqs.is_empty() {
            continue;
        }
        let k = &case.key;
        let found = stmt
            .query_row(
                rusqlite::params![case.court, k.category, k.year, k.word, k.number],
                |r| {
                    Ok(
                        match layout.hearings_in(r.get_ref(0)?.as_blob()?, r.get(2)?, 0)? {
                            Some(list) => Some((list, r.get::<_, String>(1)?)),
                            None => None,
                        },
                    )
                },
            )
            .optional()?
            .flatten();
        let Some((list, court_name)) = found else {
            continue;
        };
        let id = case.id();
        for seq in seqs {
            // The hearings this entry schedules or changes.
            let origins: BTreeSet<hearing_list::Origin> = list
                .iter()
                .filter(|h| h.seq == seq || h.by.is_some_and(|b| b.0 == seq))
                .map(|h| h.origin)
                .collect();
            let mut found: Vec<Standing> = hearing_list::current(&list)
                .filter(|h| origins.contains(&h.origin) && h.at >= from)
                .map(|h| Standing::of(case, &court_name, h))
                .collect();
            found.sort_by(|a, b| (a.at, &a.uid).cmp(&(b.at, &b.uid)));
            found.dedup();
            if !found.is_empty() {
                out.insert((id.clone(), seq), found);
            }
        }
    }
    Ok(out)
}
