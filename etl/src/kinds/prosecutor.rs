//! `<COURT>_prosecutor.csv` (optional): prosecutors' MOJ single sign-on
//! accounts assigned to cases.

use schemas::contract;

use super::scan::Record;
use super::FieldError;

pub fn parse(r: &Record<'_>) -> Result<String, FieldError> {
    let account = r.fields[5];
    let max = contract().limits.prosecutor_account_chars;
    if !contract().is_prosecutor_account(account) {
        return Err(FieldError::at(
            5,
            format!(
                "account `{account}` must be 1 to {max} ASCII letters, digits, `.`, `_` or `-`"
            ),
        ));
    }
    Ok(account.to_string())
}
