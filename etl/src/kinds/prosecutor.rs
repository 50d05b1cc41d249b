//! `<COURT>_prosecutor.csv` (optional): prosecutors' MOJ single sign-on
//! accounts assigned to cases.

use schemas::contract;

use super::scan::Record;
use super::FieldError;

pub fn parse(r: &Record<'_>) -> Result<String, FieldError> {
    let account = r.fields[5];
    let max = contract().limits.prosecutor_account_chars;
    let ok_chars = account
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if account.is_empty() || account.len() > max || !ok_chars {
        return Err(FieldError::at(
            5,
            format!(
                "account `{account}` must be 1 to {max} ASCII letters, digits, `.`, `_` or `-`"
            ),
        ));
    }
    Ok(account.to_string())
}
