//! Integration tests of `cpor-server`: real binary, real SQLite files, HTTP
//! over loopback, and a headless Chromium for the browser test.

mod abuse;
mod api;
mod asvs;
mod browser;
mod captcha;
mod deploy;
mod flood;
mod hardening;
mod hearing_page;
mod hearings;
mod openapi;
mod sample;
mod scale;
mod sso;
mod util;

/// A binary's wall clock set with libfaketime, shared with the import's tests.
#[path = "../support/clock.rs"]
mod clock;
/// The tests' Python and check_ics.py, shared with the import's tests.
#[path = "../support/python.rs"]
mod python;
/// Old snapshot versions, shared with the other test crate.
#[path = "../support/snapshots.rs"]
mod snapshots;
mod web;
