//! The courts' export contract in machine-readable form.
//!
//! `contract/export-format.toml` mirrors `shared/court-export-format.md`; this
//! module parses it once and answers the questions the ETL asks of it: the
//! header of each file kind, the courts and which of them are in scope, the
//! categories and statuses and the cutoff rule.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

const SOURCE: &str = include_str!("../contract/export-format.toml");

/// The parsed contract.
#[derive(Debug, Deserialize)]
pub struct Contract {
    pub batch: BatchSpec,
    pub defaults: Defaults,
    pub scope: Scope,
    pub statuses: BTreeMap<String, StatusSpec>,
    pub files: FileKinds,
    pub limits: Limits,
    pub courts: Vec<Court>,
}

#[derive(Debug, Deserialize)]
pub struct BatchSpec {
    pub manifest: String,
    pub manifest_header: Vec<String>,
    pub eudc: String,
    pub eudc_header: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Defaults {
    pub reject_share: f64,
    pub reject_floor: u64,
}

#[derive(Debug, Deserialize)]
pub struct Scope {
    pub categories: Vec<String>,
    pub cutoff_statuses: Vec<String>,
    pub cutoff_months: u32,
}

#[derive(Debug, Deserialize)]
pub struct StatusSpec {
    pub english: String,
    pub dated: bool,
}

#[derive(Debug, Deserialize)]
pub struct FileKinds {
    pub case: FileKindSpec,
    pub progress: FileKindSpec,
    pub applicant: FileKindSpec,
    pub prosecutor: FileKindSpec,
}

#[derive(Debug, Deserialize)]
pub struct FileKindSpec {
    pub suffix: String,
    pub required: bool,
    pub columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Limits {
    pub year_digits: usize,
    pub word_chars: usize,
    pub number_digits: usize,
    pub division_chars: usize,
    pub text_chars: usize,
    pub prosecutor_account_chars: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Court {
    pub code: String,
    pub name: String,
    pub fact_finding: bool,
}

/// The contract, parsed on first use. The file is compiled in, so a parse
/// failure is a build defect; the unit test below catches it before release.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| toml::from_str(SOURCE).expect("contract/export-format.toml is valid"))
}

impl Contract {
    /// The court with this three-letter code, if the contract lists it.
    pub fn court(&self, code: &str) -> Option<&Court> {
        self.courts.iter().find(|c| c.code == code)
    }

    /// Whether rows of this category can ever be queried.
    pub fn category_in_scope(&self, category: &str) -> bool {
        self.scope.categories.iter().any(|c| c == category)
    }

    /// Whether `account` is a 檢察官帳號 as the contract allows it: 1 to
    /// `prosecutor_account_chars` ASCII letters, digits, `.`, `_` or `-`.
    /// The import refuses rows with any other; the website refuses a single
    /// sign-on account claim with any other (it could match no row).
    pub fn is_prosecutor_account(&self, account: &str) -> bool {
        !account.is_empty()
            && account.len() <= self.limits.prosecutor_account_chars
            && account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }

    /// Whether this status starts the two-month countdown.
    pub fn status_has_cutoff(&self, status: &str) -> bool {
        self.scope.cutoff_statuses.iter().any(|s| s == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_the_prose_contract() {
        let c = contract();
        assert_eq!(c.courts.len(), 35);
        assert_eq!(c.courts.iter().filter(|c| !c.fact_finding).count(), 2);
        assert_eq!(c.court("TPD").unwrap().name, "臺灣臺北地方法院");
        assert!(!c.court("TPS").unwrap().fact_finding);
        assert_eq!(c.files.progress.columns.len(), 10);
        assert_eq!(c.files.case.columns[..5], c.files.progress.columns[..5]);
        assert!(c.category_in_scope("家事") && !c.category_in_scope("少年"));
        assert!(c.status_has_cutoff("歸檔") && !c.status_has_cutoff("已終結"));
        assert_eq!(c.statuses.len(), 6);
        assert!(!c.statuses["審理中"].dated);
        let codes: std::collections::BTreeSet<_> = c.courts.iter().map(|c| &c.code).collect();
        assert_eq!(codes.len(), 35, "court codes are unique");
    }
}
