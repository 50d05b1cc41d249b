//! The sample scripts (`scripts/run-sample`, README) work at any hour: a
//! new user tries them whenever they like, and between 00:30 and 03:00 in
//! Taipei (16:30–19:00 UTC) the website's maintenance window is on.

use std::process::Command;

use crate::python::python;
use crate::util::{repo_root, Client, Data, Server};

const LAWYER: &str = "lawyer.chen@example.com";
const PASSWORD: &str = "sample password 2026";

/// A maintenance window (Asia/Taipei) that holds this minute.
fn window_now() -> (String, String) {
    let taipei = chrono::Utc::now() + chrono::Duration::hours(8);
    let at = |minutes: i64| {
        (taipei + chrono::Duration::minutes(minutes))
            .format("%H:%M")
            .to_string()
    };
    (at(-2), at(5))
}

#[test]
fn sample_activate_works_inside_the_maintenance_window() {
    let data = Data::empty();
    data.import("20261123");
    data.send();
    let (start, end) = window_now();
    let mut cmd = Command::new(python());
    // Only what the test sets: no developer's CPOR_CONFIG or captcha.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CPOR_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg(repo_root().join("scripts/sample-activate"))
        .arg(data.path())
        .args([LAWYER, PASSWORD])
        .env("CPOR_SERVER_BIN", env!("CARGO_BIN_EXE_cpor-server"))
        // As the nightly window does from 00:30 to 03:00 in Taipei.
        .env("CPOR_SERVER_MAINTENANCE_START", &start)
        .env("CPOR_SERVER_MAINTENANCE_END", &end)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains(&format!("activated {LAWYER}")), "{said}");
    // The account is active: its password logs in.
    let server = Server::start(&data, &[]);
    let mut c = Client::new(&server);
    let r = c.login(LAWYER, PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(c.get("/cases").status, 200);
}

#[test]
fn pages_name_the_maintenance_window_only_when_there_is_one() {
    let data = Data::sample();
    // 00:00 to 00:00, as on the sample site (and every test's server).
    let none = Server::start(&data, &[]);
    let page = Client::new(&none).get("/login");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("暫停"), "{}", page.body);
    assert!(!page.body.contains("00:00 至 00:00"), "{}", page.body);
    drop(none);
    // A window that does not hold this minute is said on every page.
    let taipei = chrono::Utc::now() + chrono::Duration::hours(8);
    let at = |hours: i64| {
        (taipei + chrono::Duration::hours(hours))
            .format("%H:%M")
            .to_string()
    };
    let (start, end) = (at(2), at(3));
    let some = Server::start(
        &data,
        &[
            ("CPOR_SERVER_MAINTENANCE_START", &start),
            ("CPOR_SERVER_MAINTENANCE_END", &end),
        ],
    );
    let page = Client::new(&some).get("/login");
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("每日 {start} 至 {end} 重整資料庫，暫停本服務")),
        "{}",
        page.body
    );
}
