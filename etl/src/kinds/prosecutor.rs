//! `<COURT>_prosecutor.csv` (optional): prosecutors' MOJ single sign-on
//! accounts assigned to cases.

use schemas::contract;

use super::scan::Record;

/// 刑事: the only category the prosecutor file may name.
const CRIMINAL: &str = "刑事";
use super::FieldError;

pub fn parse(r: &Record<'_>) -> Result<String, FieldError> {
    // The file is of prosecutors assigned to criminal cases (the
    // contract): a row naming another kind of case in scope would show it
    // to a prosecutor. (One out of scope, 少年 say, goes with its case,
    // uncounted, as every row of such a case does.)
    let category = r.key.category.as_str();
    if category != CRIMINAL && contract().category_in_scope(category) {
        return Err(FieldError::at(
            1,
            format!(
                "a prosecutor is assigned to {CRIMINAL} cases only (the contract's prosecutor file), \
                 not to a {} case",
                r.key.category
            ),
        ));
    }
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
