//! The live snapshot's hearing lists of one court, for a night's court
//! worker (`court::Earlier`): most cases' entries did not change since, and
//! copying their lists costs a fraction of reading their entries again
//! (docs/BENCHMARKS.md, "Hearings").
//!
//! The digests of the court's cases are read at once into a map (a
//! digest names the case's key and entries, so it finds the case by
//! itself); its lists in one forward scan by case id, which rises with the
//! key, as tonight's cases are asked. A case whose entries changed is
//! worked out again, and carried on from its list here
//! (`hearings::carry_on`), found by its key: the same scan. A snapshot
//! whose lists were worked out by other rules (`meta.hearing_rules`)
//! lends no list to copy, only lists to carry on from, as does one of
//! version 3 (no digests); one before version 3 (no lists) gives nothing,
//! nor does one that cannot be read, after a warning: every case is then worked out from its entries alone, which
//! is slower, and what calendars were sent is not carried on that night.

use crate::kinds::CaseKey;
use rusqlite::{OptionalExtension, Statement};
use rustc_hash::FxHashMap;
use schemas::hearing_list::{self, Hearing};
use schemas::hearing_store::{Cursor, Layout};
use store::layout::SnapshotFile;

use super::{ReadError, Snapshot};
use crate::court::Earlier;
use crate::hearings::RULES;
use crate::model::HearingList;

/// A live snapshot whose lists tonight's rules may copy, with the court's
/// digests and its range of case ids.
struct Opened {
    snapshot: Snapshot,
    layout: Layout,
    /// Digest → case id: empty if tonight's rules may not copy the
    /// lists.
    ids: FxHashMap<u64, i64>,
    range: (i64, i64),
}

/// Opens `file` for the lists of court `code`, if it has the court and
/// lists.
fn open(file: &SnapshotFile, code: &str) -> Result<Option<Opened>, ReadError> {
    let snapshot = Snapshot::open(file)?;
    let layout = Layout::of(snapshot.version);
    if !layout.has_lists() {
        return Ok(None);
    }
    let rules = schemas::meta_value(&snapshot.conn, "hearing_rules")?;
    let Some(range) = snapshot.court_id_range(code)? else {
        return Ok(None);
    };
    let mut ids = FxHashMap::default();
    let mut shared = Vec::new();
    let copied = if rules == Some(RULES.to_string()) {
        layout.digests(&snapshot.conn, range.0, range.1)?
    } else {
        Vec::new()
    };
    for (id, digest) in copied {
        if ids.insert(digest, id).is_some() {
            shared.push(digest);
        }
    }
    // Two cases with one digest (a collision): neither is copied.
    for d in shared {
        ids.remove(&d);
    }
    Ok(Some(Opened {
        snapshot,
        layout,
        ids,
        range,
    }))
}

/// Runs `f` with the lists of court `code` in `file` (the live snapshot,
/// if there is one), if they can be copied by tonight's rules; with `None`
/// otherwise.
pub fn with_earlier<R>(
    file: Option<&SnapshotFile>,
    code: &str,
    f: impl FnOnce(Option<&mut dyn Earlier>) -> R,
) -> R {
    let Some(file) = file else {
        return f(None);
    };
    // Anything that stops the lists being read: said, and every case of
    // the court worked out.
    let unread = |e: &dyn std::fmt::Display| {
        tracing::warn!(
            "court {code}: the hearing lists of {} cannot be read ({e}); every case's are worked out",
            file.name()
        );
    };
    let Opened {
        snapshot,
        layout,
        ids,
        range,
    } = match open(file, code) {
        Ok(Some(opened)) => opened,
        Ok(None) => return f(None),
        Err(e) => {
            unread(&e);
            return f(None);
        }
    };
    let sql = layout.range_sql().expect("a layout with lists has a range");
    let mut stmt = match snapshot.conn.prepare(&sql) {
        Ok(stmt) => stmt,
        Err(e) => {
            unread(&e);
            return f(None);
        }
    };
    let mut by_key = match snapshot.conn.prepare(
        "SELECT id FROM cases \
         WHERE court = ?1 AND category = ?2 AND year = ?3 AND word = ?4 AND number = ?5",
    ) {
        Ok(stmt) => stmt,
        Err(e) => {
            unread(&e);
            return f(None);
        }
    };
    let lists = match stmt.query([range.0, range.1]) {
        Ok(rows) => rows,
        Err(e) => {
            unread(&e);
            return f(None);
        }
    };
    let mut earlier = Lists {
        court: code,
        by_key: &mut by_key,
        ids,
        lists: Cursor::new(layout, lists, range.0, range.1),
        at: None,
        bytes: Vec::new(),
        done: false,
        last: i64::MIN,
        failed: None,
    };
    let out = f(Some(&mut earlier));
    if let Some(e) = earlier.failed {
        tracing::warn!(
            "court {code}: reading the hearing lists of {} stopped ({e}); the cases after were worked out",
            file.name()
        );
    }
    out
}

/// A court's lists, scanned forward as tonight's cases ask for them.
struct Lists<'s, 'k> {
    court: &'s str,
    /// A case's id by its key.
    by_key: &'k mut Statement<'s>,
    /// Digest → case id in the live snapshot.
    ids: FxHashMap<u64, i64>,
    lists: Cursor<'s>,
    /// The case id of the list the scan stands on, its bytes in `bytes`.
    at: Option<i64>,
    bytes: Vec<u8>,
    done: bool,
    /// The last case id asked for: they must rise, or the scan has passed.
    last: i64,
    failed: Option<String>,
}

impl Lists<'_, '_> {
    /// Moves the scan to the first list of a case `id` or later; only the
    /// list it stops on is copied.
    fn seek(&mut self, id: i64) -> rusqlite::Result<()> {
        while !self.done && self.at.is_none_or(|at| at < id) {
            match self.lists.next_list()? {
                Some((at, list)) => {
                    self.at = Some(at);
                    if at >= id {
                        self.bytes = list.to_vec();
                    }
                }
                None => {
                    self.done = true;
                    self.at = None;
                }
            }
        }
        Ok(())
    }

    /// The bytes of case `id`'s list (empty: it had none), if the scan can
    /// still reach it; each list is asked for once (the ids rise), so its
    /// bytes are handed over, not copied.
    fn take(&mut self, id: i64) -> Option<Vec<u8>> {
        if self.failed.is_some() || id <= self.last {
            // Not in the order the scan goes (a key order other than the
            // live snapshot's): worked out instead.
            return None;
        }
        self.last = id;
        if let Err(e) = self.seek(id) {
            self.failed = Some(e.to_string());
            return None;
        }
        if self.at != Some(id) {
            // No row: the case had no hearings.
            return Some(Vec::new());
        }
        Some(std::mem::take(&mut self.bytes))
    }

    fn fail(&mut self, id: i64, e: impl std::fmt::Display) {
        self.failed = Some(format!("case {id}: hearing list: {e}"));
    }
}

impl Earlier for Lists<'_, '_> {
    fn list(&mut self, digest: u64) -> Option<(HearingList, u32)> {
        let id = *self.ids.get(&digest)?;
        let bytes = self.take(id)?;
        if bytes.is_empty() {
            return Some((HearingList::default(), 0));
        }
        match HearingList::from_stored(bytes) {
            Ok(found) => Some(found),
            Err(e) => {
                self.fail(id, e);
                None
            }
        }
    }

    fn previous(&mut self, key: &CaseKey) -> Option<Vec<Hearing>> {
        if self.failed.is_some() {
            return None;
        }
        let id = self
            .by_key
            .query_row(
                rusqlite::params![self.court, key.category, key.year, key.word, key.number],
                |r| r.get::<_, i64>(0),
            )
            .optional();
        let id = match id {
            Ok(id) => id?,
            Err(e) => {
                self.failed = Some(e.to_string());
                return None;
            }
        };
        let bytes = self.take(id)?;
        if bytes.is_empty() {
            return None;
        }
        match hearing_list::decode(&bytes) {
            Ok(list) => Some(list),
            Err(e) => {
                self.fail(id, e);
                None
            }
        }
    }
}
