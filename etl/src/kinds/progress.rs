//! `<COURT>_progress.csv`: versions of progress entries (進行事項). Rows with
//! the same case and 序號 are versions of one entry; the rules module decides
//! which one stands.

use chrono::{NaiveDate, NaiveDateTime};
use schemas::contract;

use super::{date_field, parse_int, FieldError, Record};
use crate::date::parse_roc_datetime;

/// One valid row of the progress file: a version of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRow {
    pub seq: u32,
    pub posted: NaiveDate,
    pub text: String,
    pub modified: NaiveDateTime,
    pub withdrawn: bool,
}

pub fn parse(r: &Record<'_>) -> Result<ProgressRow, FieldError> {
    let f = r.fields;
    let seq = parse_int(&f[5], 9).map_err(|e| FieldError::at(5, e))?;
    let posted = date_field(f, 6)?;
    let max = contract().limits.text_chars;
    let chars = f[7].chars().count();
    if chars > max {
        return Err(FieldError::at(
            7,
            format!("text has {chars} characters, more than {max}"),
        ));
    }
    let modified = parse_roc_datetime(&f[8]).map_err(|e| FieldError::at(8, e))?;
    let withdrawn = match f[9].as_str() {
        "Y" => true,
        "N" | "" => false,
        other => return Err(FieldError::at(9, format!("`{other}` is not Y, N or empty"))),
    };
    Ok(ProgressRow {
        seq,
        posted,
        text: f[7].clone(),
        modified,
        withdrawn,
    })
}
