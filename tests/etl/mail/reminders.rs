//! Hearing reminders from the sample nights (issue 14): 7 days and 1 day
//! before, one message per address and day with a calendar file per
//! hearing that Python's icalendar reads, never twice for the same hearing
//! and lead, not after a SIGKILL while queueing, not to an account that
//! turned them off; digests attach the hearings they announce.
//!
//! The sample hearings are in November and December 2026, so the reminder
//! day is given (`send --today`), and every other run here has reminders
//! off (`CPOR_MAIL_REMINDER_DAYS` empty, as every test's environment has
//! it; `send_for` sets `7,1`): nothing depends on the clock except where a
//! test says so. The imports queue none (`send` does).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::hearings::python;
use crate::util::{repo_root, sample, Env, Run};

/// Both sample nights imported, no reminders queued by the imports.
fn sample_env() -> Env {
    let env = Env::new();
    for night in ["20261123", "20261124"] {
        let out = env
            .command()
            .env("CPOR_MAIL_REMINDER_DAYS", "")
            .arg("import")
            .arg(sample(night))
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    }
    env
}

fn send_for(env: &Env, day: &str) -> Run {
    let out = env
        .command()
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .args(["send", "--now", "--today", day])
        .output()
        .unwrap();
    let run: Run = out.into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

/// Reminder items: (day, address) → hearings recorded for it.
fn reminders(env: &Env) -> BTreeMap<(String, String), Vec<String>> {
    let db = rusqlite::Connection::open(env.data().join("outbox.sqlite")).unwrap();
    let mut out = BTreeMap::new();
    let mut items = db
        .prepare("SELECT night, email FROM items WHERE kind = 'reminder' ORDER BY night, email")
        .unwrap();
    for row in items
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        out.insert(row.unwrap(), Vec::new());
    }
    let mut rows = db
        .prepare("SELECT day, email, starts, lead FROM reminded ORDER BY starts")
        .unwrap();
    for row in rows
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .unwrap()
    {
        let (day, email, starts, lead) = row.unwrap();
        out.get_mut(&(day, email))
            .expect("every reminded hearing has its item")
            .push(format!("{starts} {lead}"));
    }
    out
}

/// The calendar files of a message, written next to it; their paths and
/// MIME methods (read by Python's email package).
fn calendars(eml: &Path, into: &Path) -> Vec<(PathBuf, String)> {
    let script = r#"
import email, pathlib, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
out = pathlib.Path(sys.argv[2])
for i, part in enumerate(msg.walk()):
    if part.get_content_type() == "text/calendar":
        p = out / f"{i}-{part.get_filename()}"
        p.write_bytes(part.get_payload(decode=True))
        print(p, part.get_param("method"))
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .arg(eml)
        .arg(into)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (p, m) = l.rsplit_once(' ').unwrap();
            (PathBuf::from(p), m.to_string())
        })
        .collect()
}

/// check_ics.py's events of some files.
fn check(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let out = Command::new(python())
        .arg(repo_root().join("tests/support/check_ics.py"))
        .args(files)
        .output()
        .unwrap();
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

fn text_of(eml: &Path) -> String {
    let script = r#"
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
for part in msg.walk():
    if part.get_content_type() == "text/plain":
        print(part.get_payload(decode=True).decode())
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .arg(eml)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_sample_reminds_7_days_and_1_day_before_once_with_calendar_files() {
    let env = sample_env();
    assert!(reminders(&env).is_empty(), "the imports queued none");
    let run = send_for(&env, "2026-11-24");
    assert!(
        run.stdout
            .contains("reminders for 2026-11-24: 2 queued (3 hearings)"),
        "{}",
        run.stdout
    );
    let want = BTreeMap::from([
        (
            ("20261124".to_string(), "fishmonger@example.net".to_string()),
            vec!["20261201093000 7".to_string()],
        ),
        (
            (
                "20261124".to_string(),
                "lawyer.chen@example.com".to_string(),
            ),
            vec![
                "20261125140000 1".to_string(),
                "20261201103000 7".to_string(),
            ],
        ),
    ]);
    assert_eq!(reminders(&env), want);

    // The lawyer's message: both hearings, the notice, a file each.
    let eml = env
        .data()
        .join("mail/20261124/reminder-lawyer.chen@example.com.eml");
    let text = text_of(&eml);
    for want in [
        "115/11/25（三）14:00（明天）勘驗",
        "115/12/01（二）10:30（7 天後）言詞辯論",
        "以法院寄發的傳票或通知書為準",
        "臺灣臺北地方法院 第十二法庭",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let dir = env.dir.path().join("ics");
    fs::create_dir_all(&dir).unwrap();
    let files = calendars(&eml, &dir);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|(_, m)| m == "REQUEST"));
    let paths: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    let events = check(&paths);
    let mut got: Vec<(String, u64)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["method"], "REQUEST");
            (
                e["start"].as_str().unwrap().to_string(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    // The moved hearing keeps its UID with SEQUENCE 1.
    assert_eq!(
        got,
        [
            ("2026-11-25T14:00:00+08:00".to_string(), 0),
            ("2026-12-01T10:30:00+08:00".to_string(), 1)
        ]
    );

    // Re-runs queue nothing more, whatever the day's runs.
    let again = send_for(&env, "2026-11-24");
    assert!(
        !again.stdout.contains("reminders for"),
        "done already: {}",
        again.stdout
    );
    assert_eq!(reminders(&env), want);
    // A later import of the same night (same hearings, a new snapshot):
    // the day is worked out again, and finds everyone reminded.
    let out = env
        .command()
        .env("CPOR_MAIL_REMINDER_DAYS", "")
        .args(["import", "--force"])
        .arg(sample("20261124"))
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)));
    let third = send_for(&env, "2026-11-24");
    assert!(
        third.stdout.contains(
            "reminders for 2026-11-24: 0 queued (0 hearings), 2 addresses had theirs already"
        ),
        "{}",
        third.stdout
    );
    assert_eq!(reminders(&env), want);

    // Six days later: the 1-day reminders of 12/01 (a new lead), never the
    // past 11/25 again; the fishmonger turned reminders off meanwhile.
    let accounts = rusqlite::Connection::open(env.data().join("accounts.sqlite")).unwrap();
    assert_eq!(
        accounts
            .execute(
                "UPDATE accounts SET reminders = 0 WHERE email = 'fishmonger@example.net'",
                []
            )
            .unwrap(),
        1
    );
    send_for(&env, "2026-11-30");
    let got = reminders(&env);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[&(
            "20261130".to_string(),
            "lawyer.chen@example.com".to_string()
        )],
        ["20261201103000 1"]
    );
    assert_eq!(
        env.data().join("mail/20261130").read_dir().unwrap().count(),
        1
    );
}

#[test]
fn a_sigkill_while_queueing_reminders_loses_and_doubles_nothing() {
    let env = sample_env();
    let mut child = env
        .command()
        .env("CPOR_PAUSE_AT", "reminders-before-commit")
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .args(["send", "--now", "--today", "2026-11-24"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reached = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l == "cpor-etl: paused at reminders-before-commit");
    assert!(reached, "send never paused before committing the reminders");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reminders(&env).is_empty(),
        "nothing of the killed run stays"
    );
    assert!(!env
        .data()
        .join("mail/20261124")
        .join("reminder-lawyer.chen@example.com.eml")
        .exists());
    send_for(&env, "2026-11-24");
    send_for(&env, "2026-11-24");
    let got = reminders(&env);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.values().map(Vec::len).sum::<usize>(), 3);
    let files: Vec<String> = fs::read_dir(env.data().join("mail/20261124"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("reminder-"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn a_digest_that_announces_a_hearing_attaches_its_calendar_file() {
    let env = sample_env();
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    // Night 2's news on 民事 115 訴 100: `115/12/10 10:00第一法庭言詞辯論`.
    let eml = env
        .data()
        .join("mail/20261124/digest-lawyer.chen@example.com.eml");
    let dir = env.dir.path().join("digest-ics");
    fs::create_dir_all(&dir).unwrap();
    let files = calendars(&eml, &dir);
    // Only hearings still to come are attached: by the clock.
    let before =
        chrono::Utc::now() < chrono::DateTime::parse_from_rfc3339("2026-12-10T02:00:00Z").unwrap();
    if !before {
        assert!(files.is_empty(), "{files:?}");
        return;
    }
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let events = check(&paths);
    assert!(
        events
            .iter()
            .any(|e| e["start"] == "2026-12-10T10:00:00+08:00" && e["method"] == "REQUEST"),
        "{events:#?}"
    );
    // A digest with no hearing news attaches nothing.
    let other = env
        .data()
        .join("mail/20261124/digest-mother.lin@example.org.eml");
    assert!(calendars(&other, &dir).is_empty());
}
