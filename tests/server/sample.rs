//! The sample scripts (`scripts/run-sample`, README) work at any hour: a
//! new user tries them whenever they like, and between 00:30 and 03:00 in
//! Taipei (16:30–19:00 UTC) the website's maintenance window is on.

use crate::python::python;
use crate::util::{clean_command, repo_root, taipei_clock, Client, Data, Server};

const LAWYER: &str = "lawyer.chen@example.com";
const PASSWORD: &str = "sample password 2026";

#[test]
fn sample_activate_works_inside_the_maintenance_window() {
    let data = Data::empty();
    data.import("20261123");
    data.send();
    // A maintenance window that holds this minute.
    let (start, end) = (
        taipei_clock(chrono::Duration::minutes(-2)),
        taipei_clock(chrono::Duration::minutes(5)),
    );
    // Only what the test sets: no developer's CPOR_CONFIG or captcha.
    let out = clean_command(python())
        .arg(repo_root().join("scripts/sample-activate"))
        .arg(data.path())
        .args([LAWYER, PASSWORD])
        .env("CPOR_BIN_SERVER", env!("CARGO_BIN_EXE_cpor-server"))
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
    let (start, end) = (
        taipei_clock(chrono::Duration::hours(2)),
        taipei_clock(chrono::Duration::hours(3)),
    );
    let some = Server::start(
        &data,
        &[
            ("CPOR_SERVER_MAINTENANCE_START", &start),
            ("CPOR_SERVER_MAINTENANCE_END", &end),
        ],
    );
    let page = Client::new(&some).get("/login");
    assert_eq!(page.status, 200);
    // What the service covers, as the original said it (the
    // original-service review of the forty-eighth session: a clerk's
    // grant of a 少年 case, or a 最高法院 one, never shows, unexplained).
    assert!(
        page.body
            .contains("事實審法院的民事（含家事）、刑事（不含少年）及行政訴訟案件"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("每日 {start} 至 {end} 重整資料庫，暫停本服務")),
        "{}",
        page.body
    );
}
