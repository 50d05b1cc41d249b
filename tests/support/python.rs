//! The tests' Python (target/test-venv, made by scripts/setup-test-deps:
//! aiosmtpd for the SMTP servers, icalendar for check_ics.py,
//! openapi-spec-validator for check_openapi.py), shared by the
//! etl and server test crates (`#[path]`), which each have `util::repo_root`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::repo_root;

/// The Python with the tests' packages (`CPOR_TEST_PYTHON` overrides it).
pub fn python() -> PathBuf {
    let path = std::env::var_os("CPOR_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-test-deps (scripts/test does) to install \
         aiosmtpd, icalendar and openapi-spec-validator",
        path.display()
    );
    path
}

/// check_ics.py (a real calendar library and RFC 5545's rules) over some
/// calendar files, as it ran.
pub fn run_check_ics(files: &[impl AsRef<Path>]) -> Output {
    Command::new(python())
        .arg(repo_root().join("tests/support/check_ics.py"))
        .args(files.iter().map(AsRef::as_ref))
        .output()
        .unwrap()
}

/// The events of calendar files that check_ics.py accepts, one JSON object
/// each; fails the test if it refuses one.
pub fn check_ics(files: &[impl AsRef<Path>]) -> Vec<serde_json::Value> {
    let out = run_check_ics(files);
    assert!(
        out.status.success(),
        "check_ics.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
