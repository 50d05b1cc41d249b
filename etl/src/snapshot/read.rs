//! Reading a published snapshot back into the model: for carrying a court
//! over to tonight's snapshot, and for the administrators' `case` and `dump`.
//! Snapshots are opened read-only through `schemas`, which refuses files of
//! an unknown schema version.
//!
//! The e-mail diff reads a narrower projection instead (`DiffScan`): only
//! the columns it compares (a grant's role is looked up when it is needed),
//! one case at a time into buffers reused from case to case, so two national
//! snapshots are compared without an allocation per row.

use std::cmp::Ordering;
use std::iter::Peekable;

use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, OptionalExtension, Row, Rows, Statement};

use crate::kinds::CaseKey;
use crate::model::{CaseData, CourtData, EntryData, GrantData};
use schemas::date::{datetime_from_int, from_int};
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
        },
    ))
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
        Ok(Snapshot {
            conn,
            file: file.clone(),
        })
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

    /// One case by key, with its court's as-of date.
    pub fn find_case(
        &self,
        court: &str,
        key: &CaseKey,
    ) -> Result<Option<(String, CaseData)>, ReadError> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM cases WHERE court = ?1 AND category = ?2 AND year = ?3 AND word = ?4 AND number = ?5",
                params![court, key.category, key.year, key.word, key.number],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(None) };
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
    /// with its entries, grants and prosecutors. Streams: three ordered scans
    /// merged by case id, so a national dump does not load everything.
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
        for row in cases.query_map([lo, hi], case_row)? {
            let (id, court, mut case) = row?;
            case.grants = rows_of(&mut grants, id)?;
            case.prosecutors = rows_of(&mut prosecutors, id)?;
            f(&court, case)?;
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
    /// consecutive: ids follow the key, which starts with the court).
    pub fn court_id_range(&self, code: &str) -> Result<Option<(i64, i64)>, ReadError> {
        let (lo, hi): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT min(id), max(id) FROM cases WHERE court = ?1",
            [code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(lo.zip(hi))
    }

    /// The statements of the e-mail diff's projection (see `DiffScan`).
    pub fn diff_scan(&self) -> Result<DiffScan<'_>, ReadError> {
        Ok(DiffScan {
            cases: self.conn.prepare(
                "SELECT id, queryable, category, year, word, number, status, status_date,
                    seq1, posted1, text1, modified1, seq2, posted2, text2, modified2,
                    seq3, posted3, text3, modified3
                 FROM cases WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
            )?,
            grants: self.conn.prepare(
                "SELECT case_id, email FROM grants
                 WHERE case_id BETWEEN ?1 AND ?2 ORDER BY case_id, email",
            )?,
            role: self
                .conn
                .prepare("SELECT role FROM grants WHERE case_id = ?1 AND email = ?2")?,
        })
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

/// A case as the e-mail diff reads it, from a `CaseCursor`: only a case
/// that is queryable and has grants (any other is, to the diff, as good as
/// absent), with its key, status, latest three entries and the addresses of
/// its grants. Texts stay bytes and dates integers, as stored, until the diff
/// copies a value out (`key`, `RawEntry::to_entry`, ...); the buffers are
/// reused from one case to the next.
#[derive(Debug, Default)]
pub struct DiffCase {
    pub id: i64,
    category: Vec<u8>,
    year: u32,
    word: Vec<u8>,
    number: u32,
    status: Vec<u8>,
    status_date: Option<i64>,
    /// `entries[..n_entries]` are this case's; the rest are spare buffers.
    entries: Vec<RawEntry>,
    n_entries: usize,
    grants: Vec<Vec<u8>>,
    n_grants: usize,
}

/// An entry as stored: 登載日期 YYYYMMDD, 異動時間 YYYYMMDDHHMMSS, text bytes.
/// Integer dates compare as the dates do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub seq: u32,
    pub posted: i64,
    pub text: Vec<u8>,
    pub modified: i64,
}

/// Text bytes read by a `DiffScan`, checked as UTF-8 when they are used.
pub fn utf8(bytes: &[u8]) -> Result<&str, ReadError> {
    std::str::from_utf8(bytes).map_err(|e| ReadError::Malformed(format!("text: {e}")))
}

impl RawEntry {
    pub fn to_entry(&self) -> Result<EntryData, ReadError> {
        Ok(EntryData {
            seq: self.seq,
            posted: date(self.posted)?,
            text: utf8(&self.text)?.to_string(),
            modified: datetime(self.modified)?,
        })
    }
}

impl DiffCase {
    /// At most three, newest first.
    pub fn entries(&self) -> &[RawEntry] {
        &self.entries[..self.n_entries]
    }

    /// The addresses of its grants, sorted, never empty.
    pub fn emails(&self) -> &[Vec<u8>] {
        &self.grants[..self.n_grants]
    }

    /// The order of `CaseKey` (text compares as its UTF-8 bytes do).
    pub fn cmp_key(&self, other: &DiffCase) -> Ordering {
        (&self.category, self.year, &self.word, self.number).cmp(&(
            &other.category,
            other.year,
            &other.word,
            other.number,
        ))
    }

    pub fn key(&self) -> Result<CaseKey, ReadError> {
        Ok(CaseKey {
            category: utf8(&self.category)?.to_string(),
            year: self.year,
            word: utf8(&self.word)?.to_string(),
            number: self.number,
        })
    }

    /// Read only from a `DiffScan` of tonight's snapshot.
    pub fn status(&self) -> Result<&str, ReadError> {
        utf8(&self.status)
    }

    pub fn status_date(&self) -> Result<Option<NaiveDate>, ReadError> {
        Ok(self.status_date.map(date).transpose()?)
    }
}

/// The e-mail diff's prepared statements on one snapshot: cases and grants,
/// each in case id order, and a grant's role.
pub struct DiffScan<'c> {
    cases: Statement<'c>,
    grants: Statement<'c>,
    role: Statement<'c>,
}

impl<'c> DiffScan<'c> {
    /// The cases with id in `lo..=hi`, in id order (which is key order).
    /// `status`: read each case's status too (the previous snapshot's is
    /// not needed).
    pub fn cases(
        &mut self,
        lo: i64,
        hi: i64,
        status: bool,
    ) -> Result<CaseCursor<'_, 'c>, ReadError> {
        let DiffScan {
            cases,
            grants,
            role,
        } = self;
        Ok(CaseCursor {
            cases: cases.query([lo, hi])?,
            grants: grants.query([lo, hi])?,
            role,
            status,
            ahead: None,
            ahead_email: Vec::new(),
            grants_done: false,
            case: DiffCase::default(),
        })
    }
}

/// Two ordered scans (cases, grants) merged by case id, one case at a time.
pub struct CaseCursor<'s, 'c> {
    cases: Rows<'s>,
    grants: Rows<'s>,
    role: &'s mut Statement<'c>,
    status: bool,
    /// The case id of a grant row already read: it belongs to a later case.
    ahead: Option<i64>,
    ahead_email: Vec<u8>,
    grants_done: bool,
    /// The current case, after `advance` returned true.
    pub case: DiffCase,
}

/// A column as bytes, borrowed from the row (a text's UTF-8 is checked when
/// it is copied out).
fn bytes_ref<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    let value = r.get_ref(i)?;
    match value {
        rusqlite::types::ValueRef::Text(b) => Ok(b),
        _ => Err(rusqlite::Error::InvalidColumnType(
            i,
            String::new(),
            value.data_type(),
        )),
    }
}

fn set(buf: &mut Vec<u8>, s: &[u8]) {
    buf.clear();
    buf.extend_from_slice(s);
}

impl<'c> CaseCursor<'_, 'c> {
    /// Moves to the next case that is queryable and has grants; false at
    /// the end.
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        loop {
            let Some(r) = self.cases.next()? else {
                return Ok(false);
            };
            let case = &mut self.case;
            case.id = r.get(0)?;
            let queryable: bool = r.get(1)?;
            // This case's grants; a grant of no listed case is an error.
            let id = case.id;
            case.n_grants = 0;
            loop {
                if let Some(ahead) = self.ahead {
                    match ahead.cmp(&id) {
                        Ordering::Less => {
                            return Err(ReadError::Malformed(format!(
                                "row for case id {ahead}, which has no case"
                            )))
                        }
                        Ordering::Greater => break,
                        Ordering::Equal => {
                            if case.grants.len() == case.n_grants {
                                case.grants.push(Vec::new());
                            }
                            std::mem::swap(&mut case.grants[case.n_grants], &mut self.ahead_email);
                            case.n_grants += 1;
                            self.ahead = None;
                        }
                    }
                }
                if self.grants_done {
                    break;
                }
                match self.grants.next()? {
                    None => self.grants_done = true,
                    Some(g) => {
                        self.ahead = Some(g.get(0)?);
                        set(&mut self.ahead_email, bytes_ref(g, 1)?);
                    }
                }
            }
            if !queryable || case.n_grants == 0 {
                continue;
            }
            set(&mut case.category, bytes_ref(r, 2)?);
            case.year = r.get(3)?;
            set(&mut case.word, bytes_ref(r, 4)?);
            case.number = r.get(5)?;
            if self.status {
                set(&mut case.status, bytes_ref(r, 6)?);
                case.status_date = r.get(7)?;
            }
            case.n_entries = 0;
            for slot in 0..3 {
                let at = 8 + slot * 4;
                let Some(seq) = r.get::<_, Option<u32>>(at)? else {
                    break;
                };
                if case.entries.len() == slot {
                    case.entries.push(RawEntry::default());
                }
                let e = &mut case.entries[slot];
                e.seq = seq;
                e.posted = r.get(at + 1)?;
                set(&mut e.text, bytes_ref(r, at + 2)?);
                e.modified = r.get(at + 3)?;
                case.n_entries = slot + 1;
            }
            return Ok(true);
        }
    }

    /// The current case, and the roles of its grants.
    pub fn current(&mut self) -> (&DiffCase, Roles<'_, 'c>) {
        let roles = Roles {
            stmt: self.role,
            case_id: self.case.id,
        };
        (&self.case, roles)
    }
}

/// The roles of one case's grants, looked up one at a time: the diff needs
/// only the roles of new grants.
pub struct Roles<'a, 'c> {
    stmt: &'a mut Statement<'c>,
    case_id: i64,
}

impl Roles<'_, '_> {
    pub fn of(&mut self, email: &[u8]) -> Result<String, ReadError> {
        let email = utf8(email)?;
        Ok(self
            .stmt
            .query_row(params![self.case_id, email], |r| r.get(0))?)
    }
}
