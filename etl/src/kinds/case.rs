//! `<COURT>_case.csv`: every case of the court, one row each, with its
//! division, status and the date the status began.

use chrono::NaiveDate;
use schemas::contract;

use super::scan::Record;
use super::{date_field, FieldError};

/// One valid row of the case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    pub division: String,
    pub status: String,
    pub status_date: Option<NaiveDate>,
}

pub fn parse(r: &Record<'_>) -> Result<CaseRow, FieldError> {
    let f = r.fields;
    let c = contract();
    if f[5].chars().count() > c.limits.division_chars {
        return Err(FieldError::at(
            5,
            format!(
                "division `{}` is longer than {} characters",
                f[5], c.limits.division_chars
            ),
        ));
    }
    let status = f[6];
    let spec = c.statuses.get(status).ok_or_else(|| {
        let known: Vec<&str> = c.statuses.keys().map(String::as_str).collect();
        FieldError::at(
            6,
            format!("status `{status}` is not one of {}", known.join(", ")),
        )
    })?;
    let status_date = match (spec.dated, f[7].is_empty()) {
        (true, true) => return Err(FieldError::at(7, format!("status {status} needs a date"))),
        (false, false) => {
            return Err(FieldError::at(
                7,
                format!("must be empty for status {status}, found `{}`", f[7]),
            ))
        }
        (true, false) => Some(date_field(f, 7)?),
        (false, true) => None,
    };
    Ok(CaseRow {
        division: f[5].to_string(),
        status: status.to_string(),
        status_date,
    })
}
