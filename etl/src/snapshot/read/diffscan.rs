//! The e-mail diff's projection of a snapshot (`DiffScan`): only the
//! columns it compares (a grant's role is looked up when it is needed), one
//! case at a time into buffers reused from case to case, so two national
//! snapshots are compared without an allocation per row. It owns the
//! prepared statements, the cursor that merges cases and grants by case id,
//! and the raw case it fills; the diff itself is `notify::diff`'s.

use std::cmp::Ordering;

use chrono::NaiveDate;
use rusqlite::{params, Row, Rows, Statement};

use super::{date, datetime, ReadError, Snapshot};
use crate::kinds::CaseKey;
use crate::model::EntryData;

impl Snapshot {
    /// The statements of the e-mail diff's projection (see `DiffScan`).
    pub fn diff_scan(&self) -> Result<DiffScan<'_>, ReadError> {
        Ok(DiffScan {
            cases: self.conn.prepare(
                "SELECT id, queryable, category, year, word, number, status, status_date,
                    seq1, posted1, text1, modified1, seq2, posted2, text2, modified2,
                    seq3, posted3, text3, modified3, division
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
    division: Vec<u8>,
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

    /// Its 股別 as the court wrote it; read only from a `DiffScan` of
    /// tonight's snapshot, as `status`.
    pub fn division(&self) -> Result<&str, ReadError> {
        utf8(&self.division)
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
    /// `status`: read each case's status and 股別 too (the previous snapshot's are
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
                set(&mut case.division, bytes_ref(r, 20)?);
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
