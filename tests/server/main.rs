//! Integration tests of `cpor-server`: real binary, real SQLite files, HTTP
//! over loopback, and a headless Chromium for the browser test.

mod browser;
mod hearings;
mod util;
mod web;
