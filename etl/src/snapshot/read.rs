//! Reading a published snapshot back into the model: for carrying a court
//! over to tonight's snapshot, and for the administrators' `case` and `dump`.
//! Snapshots are opened read-only through `schemas`, which refuses files of
//! an unknown schema version. A snapshot before version 3 (version 1 had no
//! `hearings`; version 2's rows are not read) reads as if it had them:
//! derived from the latest three entries it stores, all it has, by the same
//! rules (`hearings::extract`).
//!
//! The e-mail diff reads a narrower projection instead, in `diffscan`; a
//! night's court workers read the live snapshot's hearing lists to copy
//! those of unchanged cases, in `earlier`.

pub mod diffscan;
mod earlier;

pub use earlier::with_earlier;

use std::iter::Peekable;

use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::hearings;
use crate::kinds::CaseKey;
use crate::model::{CaseData, CourtData, EntryData, GrantData, HearingList};
use schemas::date::{datetime_from_int, from_int};
use schemas::hearing_store;
use store::layout::SnapshotFile;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Open(#[from] schemas::OpenError),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("snapshot holds a malformed value: {0}")]
    Malformed(String),
}

/// An open, read-only snapshot.
pub struct Snapshot {
    conn: Connection,
    pub file: SnapshotFile,
    /// Its schema version (`schemas::SNAPSHOT_READABLE_VERSIONS`).
    pub version: i32,
}

/// A court row of the snapshot.
#[derive(Debug, Clone)]
pub struct CourtRow {
    pub code: String,
    pub name: String,
    pub as_of: NaiveDate,
    pub carry_reason: Option<String>,
}

fn bad_value(what: &str, n: i64) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Integer,
        format!("{n} is not a {what}").into(),
    )
}

fn date(n: i64) -> rusqlite::Result<NaiveDate> {
    from_int(n).ok_or_else(|| bad_value("date (YYYYMMDD)", n))
}

fn datetime(n: i64) -> rusqlite::Result<NaiveDateTime> {
    datetime_from_int(n).ok_or_else(|| bad_value("date-time (YYYYMMDDHHMMSS)", n))
}

const CASE_COLUMNS: &str = "id, court, category, year, word, number, division, status, status_date, queryable,
    seq1, posted1, text1, modified1, seq2, posted2, text2, modified2, seq3, posted3, text3, modified3";

/// A case's state ([`Snapshot::case_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    pub queryable: bool,
    pub status: String,
    pub status_date: Option<NaiveDate>,
    /// Its 股別 as the court wrote it.
    pub division: String,
}

fn case_row(r: &Row<'_>) -> rusqlite::Result<(i64, String, CaseData)> {
    let mut entries = Vec::with_capacity(3);
    for slot in 0..3 {
        let at = 10 + slot * 4;
        let Some(seq) = r.get::<_, Option<u32>>(at)? else {
            break;
        };
        entries.push(EntryData {
            seq,
            posted: date(r.get(at + 1)?)?,
            text: r.get(at + 2)?,
            modified: datetime(r.get(at + 3)?)?,
        });
    }
    Ok((
        r.get(0)?,
        r.get(1)?,
        CaseData {
            key: CaseKey {
                category: r.get(2)?,
                year: r.get(3)?,
                word: r.get(4)?,
                number: r.get(5)?,
            },
            division: r.get(6)?,
            status: r.get(7)?,
            status_date: r.get::<_, Option<i64>>(8)?.map(date).transpose()?,
            queryable: r.get(9)?,
            entries,
            grants: Vec::new(),
            prosecutors: Vec::new(),
            hearings: HearingList::default(),
            extracted: None,
            hearings_corrected: false,
            as_of: None,
        },
    ))
}

/// The hearings of a case of a snapshot before version 3: from the
/// entries it stores.
fn hearings_from_entries(case: &CaseData) -> HearingList {
    if !case.queryable {
        return HearingList::default();
    }
    hearings::Extractor::default()
        .pack(
            case.entries.iter().rev().map(|e| hearings::Entry {
                seq: e.seq,
                posted: e.posted,
                text: &e.text,
            }),
            None,
        )
        .list
}

/// Takes the rows of case `id` from an iterator ordered by case id.
fn rows_of<T>(
    it: &mut Peekable<impl Iterator<Item = rusqlite::Result<(i64, T)>>>,
    id: i64,
) -> Result<Vec<T>, ReadError> {
    let mut out = Vec::new();
    loop {
        match it.peek() {
            Some(Ok((case_id, _))) if *case_id == id => {
                let (_, value) = it.next().expect("peeked")?;
                out.push(value);
            }
            Some(Ok((case_id, _))) if *case_id < id => {
                return Err(ReadError::Malformed(format!(
                    "row for case id {case_id}, which has no case"
                )));
            }
            Some(Err(_)) => {
                it.next().expect("peeked")?;
            }
            _ => return Ok(out),
        }
    }
}

impl Snapshot {
    pub fn open(file: &SnapshotFile) -> Result<Snapshot, ReadError> {
        let conn = schemas::open_snapshot_readonly(&file.path)?;
        let version = schemas::snapshot_version(&conn)?;
        Ok(Snapshot {
            conn,
            file: file.clone(),
            version,
        })
    }

    /// Its read-only connection, for readers of the hearings' packed
    /// lists (`notify::reminders`), which keep their SQL beside them.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn courts(&self) -> Result<Vec<CourtRow>, ReadError> {
        let mut stmt = self
            .conn
            .prepare("SELECT code, name, as_of, carry_reason FROM courts ORDER BY code")?;
        let rows = stmt.query_map([], |r| {
            Ok(CourtRow {
                code: r.get(0)?,
                name: r.get(1)?,
                as_of: date(r.get(2)?)?,
                carry_reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of cases and entries.
    pub fn size(&self) -> Result<(u64, u64), ReadError> {
        let n = |sql: &str| {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        };
        Ok((
            n("SELECT count(*) FROM cases")?,
            n("SELECT count(seq1) + count(seq2) + count(seq3) FROM cases")?,
        ))
    }

    /// The id of the case `key` of `court`, if the snapshot has it.
    pub fn case_id(&self, court: &str, key: &CaseKey) -> Result<Option<i64>, ReadError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM cases WHERE court = ?1 AND category = ?2 AND year = ?3 AND word = ?4 AND number = ?5",
            )?
            .query_row(
                params![court, key.category, key.year, key.word, key.number],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The courts it was published without, each off the site since the
    /// date recorded (`write::LEFT_OFF_KEY`): none in a snapshot from
    /// before they were recorded.
    pub fn left_off(&self) -> Result<std::collections::BTreeMap<String, NaiveDate>, ReadError> {
        let prefix = crate::snapshot::write::LEFT_OFF_KEY;
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?1) = ?2")?;
        let rows = stmt.query_map(params![prefix.len() as i64, prefix], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (key, value) = row?;
            let since = schemas::date::parse_batch_date(&value).ok_or_else(|| {
                ReadError::Malformed(format!("meta {key}: `{value}` is not YYYYMMDD"))
            })?;
            out.insert(key[prefix.len()..].to_string(), since);
        }
        Ok(out)
    }

    /// Of the case `key` of `court`, if the snapshot has it: whether it is
    /// queryable, its status, the status's date and its 股別.
    pub fn case_state(&self, court: &str, key: &CaseKey) -> Result<Option<CaseState>, ReadError> {
        let row: Option<(bool, String, Option<i64>, String)> = self
            .conn
            .prepare_cached(
                "SELECT queryable, status, status_date, division FROM cases
                 WHERE court = ?1 AND category = ?2 AND year = ?3 AND word = ?4 AND number = ?5",
            )?
            .query_row(
                params![court, key.category, key.year, key.word, key.number],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(queryable, status, day, division)| {
            Ok(CaseState {
                queryable,
                status,
                status_date: day.map(date).transpose()?,
                division,
            })
        })
        .transpose()
    }

    /// The hearings of case `id` (none if it has no list).
    pub fn hearings_of(&self, id: i64) -> Result<Vec<crate::model::HearingData>, ReadError> {
        Ok(hearing_store::Layout::of(self.version).hearings_of(&self.conn, id)?)
    }

    /// The cases whose hearing lists correct what calendars took from the
    /// snapshot the import carried on from (`meta.hearings_corrected`),
    /// ascending; none in a file that does not say.
    pub fn hearings_corrected(&self) -> Result<Vec<i64>, ReadError> {
        Ok(schemas::hearing_store::corrected(&self.conn)?)
    }

    /// The snapshot the import carried on from when it marked the cases of
    /// [`Snapshot::hearings_corrected`], when that was not the live one it
    /// replaced (`meta.hearings_corrected_from`: its file name, empty for
    /// none); `None` when it was, or in a file that does not say.
    pub fn hearings_corrected_from(&self) -> Result<Option<String>, ReadError> {
        Ok(schemas::meta_value(&self.conn, "hearings_corrected_from")?)
    }

    /// The cases left out of the night (a rejected row, or listed twice)
    /// whose previous version this snapshot keeps for the next night's
    /// comparison only, by id, with the export date of that version's
    /// data (`meta.cases_carried_over`).
    pub fn left_out(&self) -> Result<std::collections::BTreeMap<i64, NaiveDate>, ReadError> {
        Ok(schemas::case::carried_cases(&self.conn)?)
    }

    /// The cases of [`Snapshot::left_out`], by their text key
    /// ([`schemas::CaseRef::id`], as grant mail names them): one look-up
    /// each (a night leaves out few, usually none).
    pub fn left_out_ids(&self) -> Result<std::collections::HashSet<String>, ReadError> {
        let mut ids = std::collections::HashSet::new();
        for id in self.left_out()?.into_keys() {
            if let Some((court, case)) = self.case_at(id)? {
                ids.insert(
                    schemas::CaseRef {
                        court,
                        key: case.key,
                    }
                    .id(),
                );
            }
        }
        Ok(ids)
    }

    /// One case's row by id, with its court: its key, status and latest
    /// three entries, without its grants, prosecutors or hearings (one
    /// look-up by id on a cached statement: what a diff of the case's
    /// entries needs, `notify::prosecutors`).
    pub fn case_at(&self, id: i64) -> Result<Option<(String, CaseData)>, ReadError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"))?
            .query_row([id], |r| case_row(r).map(|(_, court, case)| (court, case)))
            .optional()?)
    }

    /// Whether any case of `court` has a prosecutor assigned: none, and the
    /// snapshot cannot say who had its cases (the court's prosecutor file
    /// is optional). Stops at the first.
    pub fn court_has_assignments(&self, court: &str) -> Result<bool, ReadError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM cases c JOIN prosecutors p ON p.case_id = c.id
                 WHERE c.court = ?1)",
            )?
            .query_row([court], |r| r.get(0))?)
    }

    /// The prosecutors' assignments (case id, account) whose account
    /// `keep` keeps, in case id order: one pass over the table.
    pub fn assignments(
        &self,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<Vec<(i64, String)>, ReadError> {
        let mut stmt = self
            .conn
            .prepare("SELECT case_id, account FROM prosecutors ORDER BY case_id, account")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let account = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            if keep(account) {
                out.push((r.get(0)?, account.to_string()));
            }
        }
        Ok(out)
    }

    /// One case by key, with its court's as-of date.
    pub fn find_case(
        &self,
        court: &str,
        key: &CaseKey,
    ) -> Result<Option<(String, CaseData)>, ReadError> {
        let Some(id) = self.case_id(court, key)? else {
            return Ok(None);
        };
        let mut found = None;
        self.for_each_case(id, id, |court, case| {
            found = Some((court.to_string(), case));
            Ok(())
        })?;
        Ok(found)
    }

    /// All of one court's data, as it was stored.
    pub fn court_data(&self, code: &str) -> Result<Option<CourtData>, ReadError> {
        let Some(court) = self.courts()?.into_iter().find(|c| c.code == code) else {
            return Ok(None);
        };
        let mut cases = Vec::new();
        if let Some((lo, hi)) = self.court_id_range(code)? {
            self.for_each_case(lo, hi, |_, case| {
                cases.push(case);
                Ok(())
            })?;
        }
        Ok(Some(CourtData {
            code: court.code,
            name: court.name,
            as_of: court.as_of,
            carry_reason: court.carry_reason,
            cases,
        }))
    }

    /// Every case with id in `lo..=hi`, in id order (which is key order),
    /// with its entries, grants, prosecutors and hearings. Streams: ordered
    /// scans merged by case id, so a national dump does not load
    /// everything.
    pub fn for_each_case(
        &self,
        lo: i64,
        hi: i64,
        mut f: impl FnMut(&str, CaseData) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        let mut cases = self.conn.prepare(&format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE id BETWEEN ?1 AND ?2 ORDER BY id"
        ))?;
        let mut grants = self.conn.prepare(
            "SELECT case_id, email, role, approved FROM grants
             WHERE case_id BETWEEN ?1 AND ?2 ORDER BY case_id, email",
        )?;
        let mut prosecutors = self.conn.prepare(
            "SELECT case_id, account FROM prosecutors WHERE case_id BETWEEN ?1 AND ?2 ORDER BY case_id, account",
        )?;
        let mut grants = grants
            .query_map([lo, hi], |r| {
                Ok((
                    r.get(0)?,
                    GrantData {
                        email: r.get(1)?,
                        role: r.get(2)?,
                        approved: date(r.get(3)?)?,
                    },
                ))
            })?
            .peekable();
        let mut prosecutors = prosecutors
            .query_map([lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?
            .peekable();
        // Before version 3 there are no lists: hearings come from the
        // entries.
        let layout = hearing_store::Layout::of(self.version);
        let mut hearing_stmt = match layout.range_sql() {
            Some(sql) => Some(self.conn.prepare(&sql)?),
            None => None,
        };
        let mut hearings = match &mut hearing_stmt {
            Some(stmt) => Some(hearing_store::Cursor::new(
                layout,
                stmt.query([lo, hi])?,
                lo,
                hi,
            )),
            None => None,
        };
        // The next case with a list (the cursor's, copied), ahead of the
        // cases read.
        let mut next_list: Option<(i64, HearingList)> = None;
        let read_list = |stored: &mut hearing_store::Cursor<'_>| -> Result<_, ReadError> {
            Ok(match stored.next_list()? {
                // Copied as it is, checked (not decoded): carrying a court
                // over writes the same bytes again.
                Some((at, bytes)) => Some((
                    at,
                    HearingList::from_bytes(bytes.to_vec()).map_err(|e| {
                        ReadError::Malformed(format!("case {at}: hearing list: {e}"))
                    })?,
                )),
                None => None,
            })
        };
        // Cases left out of the night, kept for the next night's
        // comparison, keep the export date of their data.
        let carried = schemas::case::carried_cases(&self.conn)?;
        let no_case = |at: i64| {
            ReadError::Malformed(format!("hearing list for case id {at}, which has no case"))
        };
        for row in cases.query_map([lo, hi], case_row)? {
            let (id, court, mut case) = row?;
            case.as_of = carried.get(&id).copied();
            case.grants = rows_of(&mut grants, id)?;
            case.prosecutors = rows_of(&mut prosecutors, id)?;
            case.hearings = match hearings.as_mut() {
                Some(stored) => {
                    if next_list.is_none() {
                        next_list = read_list(stored)?;
                    }
                    match next_list.take() {
                        Some((at, _)) if at < id => return Err(no_case(at)),
                        Some((at, list)) if at == id => list,
                        ahead => {
                            next_list = ahead;
                            HearingList::default()
                        }
                    }
                }
                None => hearings_from_entries(&case),
            };
            f(&court, case)?;
        }
        // Past the last case: no list may be left.
        if let Some(stored) = hearings.as_mut() {
            if next_list.is_none() {
                next_list = read_list(stored)?;
            }
            if let Some((at, _)) = next_list {
                return Err(no_case(at));
            }
        }
        Ok(())
    }

    /// The courts whose active grants name an address.
    pub fn courts_of_address(&self, email: &str) -> Result<Vec<String>, ReadError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT c.court FROM grants g JOIN cases c ON c.id = g.case_id WHERE g.email = ?1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([email], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Id range of one court's cases, if it has any (a court's cases are
    /// consecutive: ids follow the key, which starts with the court). So
    /// its least and greatest ids are those of its first and last case in
    /// key order, found at the two ends of the court's part of the key's
    /// index: two lookups, where `min(id)` and `max(id)` read every entry
    /// of the court (a national night asks for every court's range three
    /// or four times: about 1M entries read each time).
    pub fn court_id_range(&self, code: &str) -> Result<Option<(i64, i64)>, ReadError> {
        let (lo, hi): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT (SELECT id FROM cases WHERE court = ?1
                     ORDER BY category, year, word, number LIMIT 1),
                    (SELECT id FROM cases WHERE court = ?1
                     ORDER BY category DESC, year DESC, word DESC, number DESC LIMIT 1)",
            [code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(lo.zip(hi))
    }

    /// A court's cases and active grants (grants are kept for queryable
    /// cases only, as `CourtData` has them): its id range
    /// ([`Self::court_id_range`]) and a count over that range of the
    /// grants' key.
    pub fn court_size(&self, code: &str) -> Result<(u64, u64), ReadError> {
        let Some((lo, hi)) = self.court_id_range(code)? else {
            return Ok((0, 0));
        };
        let grants: i64 = self.conn.query_row(
            "SELECT count(*) FROM grants WHERE case_id BETWEEN ?1 AND ?2",
            [lo, hi],
            |r| r.get(0),
        )?;
        Ok(((hi - lo + 1) as u64, grants as u64))
    }

    /// Whether any case is granted to `email` (grants are kept for
    /// queryable cases only).
    pub fn grants_any(&self, email: &str) -> Result<bool, ReadError> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM grants WHERE email = ?1)")?
            .query_row([email], |r| r.get(0))?)
    }

    /// The cases granted to `email`, each with its court and the grant's
    /// role, in id order: one range of the grants' address index, each
    /// case's row joined (without its grants, prosecutors or hearings).
    pub fn granted_to(&self, email: &str) -> Result<Vec<(String, CaseData, String)>, ReadError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CASE_COLUMNS}, role FROM grants JOIN cases ON cases.id = grants.case_id
             WHERE email = ?1 ORDER BY case_id"
        ))?;
        let rows = stmt.query_map([email], |r| {
            let (_, court, case) = case_row(r)?;
            Ok((court, case, r.get(22)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether `case` is granted to `email`: one look-up of the case's key
    /// and one of the grant.
    pub fn grants_case(&self, email: &str, case: &schemas::CaseRef) -> Result<bool, ReadError> {
        let k = &case.key;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM cases JOIN grants ON grants.case_id = cases.id
                 AND grants.email = ?6 WHERE court = ?1 AND category = ?2 AND year = ?3
                 AND word = ?4 AND number = ?5)",
            )?
            .query_row(
                params![case.court, k.category, k.year, k.word, k.number, email],
                |r| r.get(0),
            )?)
    }

    /// Id range of all cases, if there are any.
    pub fn id_range(&self) -> Result<Option<(i64, i64)>, ReadError> {
        let (lo, hi): (Option<i64>, Option<i64>) =
            self.conn
                .query_row("SELECT min(id), max(id) FROM cases", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok(lo.zip(hi))
    }
}
