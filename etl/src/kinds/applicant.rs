//! `<COURT>_applicant.csv`: clerks' decisions on online-query applications.
//! Each (case, address) pair is one grant; its last row in the file stands.

use chrono::NaiveDate;

use super::scan::Record;
use super::{date_field, FieldError};

/// One valid row of the applicant file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicantRow {
    pub role: String,
    /// As `store::accounts::normalise_email` keeps it: lower-cased
    /// (addresses are compared case-insensitively), full-width forms read
    /// as ASCII.
    pub email: String,
    pub decided: NaiveDate,
    pub approved: bool,
    /// An address of the contract's form that no mail can reach
    /// (`mail::mailable`): where the row starts in the file, and why. Its
    /// grant stands (the row is the contract's); the import names it for
    /// the clerk (`court::unmailable_listed`).
    pub unmailable: Option<Box<(usize, String)>>,
}

pub fn parse(r: &Record<'_>) -> Result<ApplicantRow, FieldError> {
    let f = r.fields;
    if f[5].is_empty() {
        return Err(FieldError::at(5, "role is empty"));
    }
    // Full-width letters (a Chinese input method's) read as the ASCII
    // they look like, as at the website's login.
    let email = store::accounts::normalise_email(f[6]);
    check_email(&email).map_err(|e| FieldError::at(6, e))?;
    let unmailable = mail::mailable(&email)
        .err()
        .map(|why| Box::new((r.offset(), format!("`{email}`: {why}"))));
    let decided = date_field(f, 7)?;
    let approved = match f[8] {
        "核准" => true,
        "撤銷" => false,
        other => {
            return Err(FieldError::at(
                8,
                format!("decision `{other}` is not 核准 or 撤銷"),
            ))
        }
    };
    Ok(ApplicantRow {
        role: f[5].to_string(),
        email,
        decided,
        approved,
        unmailable,
    })
}

/// The contract's form: one `@` with a non-empty part on each side, no spaces.
pub fn check_email(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_whitespace) {
        return Err(format!("address `{s}` contains a space"));
    }
    match s.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{s}` is not an e-mail address (one @ with text on both sides)"
        )),
    }
}
