//! The export's file kinds: one module per kind (its typed row and how a
//! record becomes one), what they share (the five key columns, integers and
//! dates), and what a bad record becomes: a [`Reject`] naming file, line,
//! field and reason, from a kind's [`FieldError`].
//!
//! Parsing never fails as a whole for a bad row: the record is rejected and
//! the scan goes on (`scan`, the loop every kind shares). Only a wrong header
//! makes a whole file unusable.

pub mod applicant;
pub mod case;
pub mod progress;
pub mod prosecutor;
pub mod scan;

use std::fmt;

use schemas::{contract, FileKindSpec};
use serde::Serialize;

/// The kinds of data file a court sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Case,
    Progress,
    Applicant,
    Prosecutor,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [
        FileKind::Case,
        FileKind::Progress,
        FileKind::Applicant,
        FileKind::Prosecutor,
    ];

    pub fn spec(self) -> &'static FileKindSpec {
        let files = &contract().files;
        match self {
            FileKind::Case => &files.case,
            FileKind::Progress => &files.progress,
            FileKind::Applicant => &files.applicant,
            FileKind::Prosecutor => &files.prosecutor,
        }
    }

    /// `TPD_progress.csv` → (`TPD`, Progress). The court code is three
    /// capital ASCII letters.
    pub fn from_file_name(name: &str) -> Option<(String, FileKind)> {
        FileKind::ALL.into_iter().find_map(|kind| {
            let court = name.strip_suffix(kind.spec().suffix.as_str())?;
            let ok = court.len() == 3 && court.bytes().all(|b| b.is_ascii_uppercase());
            ok.then(|| (court.to_string(), kind))
        })
    }

    pub fn file_name(self, court: &str) -> String {
        format!("{court}{}", self.spec().suffix)
    }
}

pub use schemas::CaseKey;

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub file: String,
    /// Line where the record starts (the header is line 1).
    pub line: u64,
    /// The column's header name; `None` when the record as a whole is wrong.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// What a kind's parser says about a bad record: which column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub column: Option<usize>,
    pub reason: String,
}

impl FieldError {
    pub fn at(column: usize, reason: impl Into<String>) -> FieldError {
        FieldError {
            column: Some(column),
            reason: reason.into(),
        }
    }
}

/// Checks the five key columns every file starts with.
fn parse_key(court: &str, f: &[String; 5]) -> Result<CaseKey, FieldError> {
    let limits = &contract().limits;
    if f[0] != court {
        return Err(FieldError::at(
            0,
            format!("court `{}` differs from the file's prefix `{court}`", f[0]),
        ));
    }
    if f[1].is_empty() {
        return Err(FieldError::at(1, "category is empty"));
    }
    let year = CaseKey::parse_year(&f[2]).map_err(|r| FieldError::at(2, r))?;
    let words = f[3].chars().count();
    if words == 0 || words > limits.word_chars {
        return Err(FieldError::at(
            3,
            format!(
                "word `{}` must be 1 to {} characters",
                f[3], limits.word_chars
            ),
        ));
    }
    // Every user-defined code with no mapping reads as 〓, whichever it
    // is: two cases' words would be one key, and one case's rows and
    // grants would go to the other.
    if f[3].contains(crate::decode::GETA) {
        return Err(FieldError::at(
            3,
            format!(
                "word `{}` holds 〓, as a user-defined code with no mapping in EUDC.csv reads: it could \
                 be another case's word",
                f[3]
            ),
        ));
    }
    let number = CaseKey::parse_number(&f[4]).map_err(|r| FieldError::at(4, r))?;
    Ok(CaseKey {
        category: f[1].clone(),
        year,
        word: f[3].clone(),
        number,
    })
}

/// A positive integer of ASCII digits, at most `max_digits` of them not
/// counting leading zeros.
/// 序號: a positive integer (the contract sets no number of digits), as
/// large as cpor keeps one (`u32`).
pub fn parse_seq(s: &str) -> Result<u32, String> {
    let n = schemas::case::positive_decimal(s, 10)?;
    u32::try_from(n).map_err(|_| {
        format!(
            "`{s}` is larger than {}, the largest 序號 cpor keeps",
            u32::MAX
        )
    })
}

/// Parses a date column, naming the column on failure.
pub fn date_field(fields: &[&str], column: usize) -> Result<chrono::NaiveDate, FieldError> {
    schemas::date::parse_roc_date(fields[column]).map_err(|r| FieldError::at(column, r))
}

#[cfg(test)]
mod tests;
