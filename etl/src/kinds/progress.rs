//! `<COURT>_progress.csv`: versions of progress entries (進行事項). Rows with
//! the same case and 序號 are versions of one entry; the rules module decides
//! which one stands.
//!
//! There are millions of rows and most versions lose or fall out of the
//! latest three, so a row's text goes into its chunk's arena (one `String`)
//! instead of an allocation of its own.

use chrono::{NaiveDate, NaiveDateTime};
use schemas::contract;

use super::scan::Record;
use super::{date_field, parse_seq, FieldError};
use schemas::date::parse_roc_datetime;

/// Where a text lies in its chunk's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRef {
    pub start: u32,
    pub len: u32,
}

impl TextRef {
    pub fn get(self, arena: &str) -> &str {
        &arena[self.start as usize..(self.start + self.len) as usize]
    }
}

/// One valid row of the progress file: a version of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub seq: u32,
    pub posted: NaiveDate,
    pub modified: NaiveDateTime,
    pub withdrawn: bool,
    pub text: TextRef,
}

pub fn parse(r: &Record<'_>, arena: &mut String) -> Result<Version, FieldError> {
    let f = r.fields;
    let seq = parse_seq(f[5]).map_err(|e| FieldError::at(5, e))?;
    let posted = date_field(f, 6)?;
    let max = contract().limits.text_chars;
    let text = f[7];
    // Counting characters is only needed when the bytes could be too many.
    if text.len() > max {
        let chars = text.chars().count();
        if chars > max {
            return Err(FieldError::at(
                7,
                format!("text has {chars} characters, more than {max}"),
            ));
        }
    }
    let modified = parse_roc_datetime(f[8]).map_err(|e| FieldError::at(8, e))?;
    let withdrawn = match f[9] {
        "Y" => true,
        "N" | "" => false,
        other => return Err(FieldError::at(9, format!("`{other}` is not Y, N or empty"))),
    };
    let start = arena.len() as u32;
    arena.push_str(text);
    Ok(Version {
        seq,
        posted,
        modified,
        withdrawn,
        text: TextRef {
            start,
            len: text.len() as u32,
        },
    })
}
