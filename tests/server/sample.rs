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
    let out = Command::new(python())
        .arg(repo_root().join("scripts/sample-activate"))
        .arg(data.path())
        .args([LAWYER, PASSWORD])
        .env("CPOR_SERVER_BIN", env!("CARGO_BIN_EXE_cpor-server"))
        // As the nightly window would be at 01:00 in Taipei.
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
