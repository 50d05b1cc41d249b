//! Hearing reminders from the sample nights (issue 14): 7 days and 1 day
//! before, one message per address and day with a calendar file per
//! hearing that Python's icalendar reads, never twice for the same hearing
//! and lead, not after a SIGKILL while queueing, not to an account that
//! turned them off; digests attach the hearings they announce. Prosecutors
//! who turned them on get those of the cases assigned to them, at their
//! verified address, in the same one message a day as the address's own.
//!
//! The sample hearings are in November and December 2026, so the reminder
//! day is given (`send --today`), and every other run here has reminders
//! off (`CPOR_MAIL_REMINDER_DAYS` empty, as every test's environment has
//! it; `send_for` sets `7,1`): nothing depends on the clock except where a
//! test says so. The imports queue none (`send` does).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::python::{check_ics, python};
use crate::util::{sample, until_paused, Env, Run};

/// Both sample nights imported, no reminders queued by the imports.
fn sample_env() -> Env {
    sample_imported(Env::command)
}

/// The sample's two nights imported by `command` (the binary, its clock
/// set or not).
fn sample_imported(command: impl Fn(&Env) -> Command) -> Env {
    let env = Env::new();
    for night in ["20261123", "20261124"] {
        let out = command(&env)
            .arg("import")
            .arg(sample(night))
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    }
    env
}

fn send_for(env: &Env, day: &str) -> Run {
    send_with(env, day, "7,1")
}

/// `send` for `day` with the lead days `leads` (`mail.reminder_days`),
/// whatever its exit.
fn run_send(env: &Env, day: &str, leads: &str) -> Run {
    env.command()
        .env("CPOR_MAIL_REMINDER_DAYS", leads)
        .args(["send", "--now", "--force", "--today", day])
        .output()
        .unwrap()
        .into()
}

/// `send` with other lead days (`mail.reminder_days`).
fn send_with(env: &Env, day: &str, leads: &str) -> Run {
    let run = run_send(env, day, leads);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

/// `send` for `day` (7 and 1 days ahead) that must fail.
fn send_failing(env: &Env, day: &str) -> Run {
    let run = run_send(env, day, "7,1");
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
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

/// A reminder's text holds each of `wants`; its calendar files, each
/// METHOD:REQUEST (in MIME and in the file), as check_ics.py reads them:
/// (start, SEQUENCE) in time order.
fn reminder_checked(env: &Env, eml: &Path, wants: &[&str]) -> Vec<(String, u64)> {
    let text = text_of(eml);
    for want in wants {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let dir = env.dir.path().join("ics");
    fs::create_dir_all(&dir).unwrap();
    let files = calendars(eml, &dir);
    assert!(files.iter().all(|(_, m)| m == "REQUEST"), "{files:?}");
    let paths: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    let mut got: Vec<(String, u64)> = check_ics(&paths)
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
    got
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

/// A court's correction reaches the calendars that took the hearing from a
/// reminder: the lawyer of 民事 115 重訴 77 is reminded, after night 2
/// withdrew the move of its 言詞辯論 and revised its 勘驗 to 準備程序
/// (`hearings::CORRECTIONS`), of the 準備程序 under the 勘驗's UID with a
/// higher SEQUENCE, and of the 言詞辯論 back on 115/12/03 with a SEQUENCE
/// above the move's 1: updates a calendar app applies, not a second event
/// or one it ignores.
#[test]
fn a_hearing_the_court_corrected_is_reminded_as_an_update_calendars_apply() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let before = crate::hearings::case_hearings(&env.live_dump(), "TPD", "重訴", 77);
    let uid_of = |seq: u64| {
        let row = before.iter().find(|h| h["seq"] == seq).unwrap();
        row["uid"].as_str().unwrap().to_string()
    };
    let (argued, inspected) = (uid_of(5), uid_of(8));
    let night = env.copy_night("20261124");
    crate::util::append_rows(&night, "TPD_progress.csv", &crate::hearings::CORRECTIONS);
    assert_eq!(env.import(&night, &[]).code, 3);

    let dir = env.dir.path().join("ics");
    fs::create_dir_all(&dir).unwrap();
    for (day, want) in [
        ("2026-11-24", (inspected, "2026-11-25T14:00:00+08:00", 1)),
        ("2026-11-26", (argued, "2026-12-03T10:30:00+08:00", 2)),
    ] {
        send_for(&env, day);
        let eml = env.data().join(format!(
            "mail/{}/reminder-{LAWYER}.eml",
            day.replace('-', "")
        ));
        let files: Vec<PathBuf> = calendars(&eml, &dir).into_iter().map(|(p, _)| p).collect();
        let got: Vec<(String, String, u64)> = check_ics(&files)
            .iter()
            .map(|e| {
                (
                    e["uid"].as_str().unwrap().to_string(),
                    e["start"].as_str().unwrap().to_string(),
                    e["sequence"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, [(want.0, want.1.to_string(), want.2)], "{day}");
        for f in files {
            fs::remove_file(f).unwrap();
        }
    }
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
    let got = reminder_checked(
        &env,
        &eml,
        &[
            "115/11/25（三）14:00（明天）勘驗",
            "115/12/01（二）10:30（7 天後）言詞辯論",
            "以法院寄發的傳票或通知書為準",
            "臺灣臺北地方法院 第十二法庭",
            // Each hearing's case, with its 股別 (whom to ask at the
            // court), a tap away.
            "臺灣臺北地方法院 民事 115年度重訴字第77號（禮股）",
            "/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E9%87%8D%E8%A8%B4/77",
        ],
    );
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

/// A `send` of `day`'s reminders SIGKILLed just before it commits them.
fn killed_while_queueing(env: &Env, day: &str, leads: &str) {
    let mut child = env
        .command()
        .env("CPOR_PAUSE_AT", "reminders-before-commit")
        .env("CPOR_MAIL_REMINDER_DAYS", leads)
        .args(["send", "--now", "--force", "--today", day])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_paused(&mut child, "reminders-before-commit");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_sigkill_while_queueing_reminders_loses_and_doubles_nothing() {
    let env = sample_env();
    killed_while_queueing(&env, "2026-11-24", "7,1");
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

/// A live snapshot whose bytes no longer match the checksum recorded when
/// it was published is not trusted for reminders: `send` queues none,
/// says which file is damaged and fails; once the file is whole again, the
/// day's reminders come, once.
#[test]
fn a_damaged_live_snapshot_gets_no_reminders_until_it_is_whole() {
    let env = sample_env();
    let live = env.data().join("snapshots").join(env.current());
    let whole = fs::read(&live).unwrap();
    crate::util::damage(&live);

    let out = send_failing(&env, "2026-11-24");
    assert!(
        out.stderr
            .contains("the hearing reminders could not be queued")
            && out.stderr.contains("is DAMAGED")
            && out.stderr.contains(&live.display().to_string()),
        "{}",
        out.stderr
    );
    // What to do is about the live snapshot, not a night's mail: the
    // night's remedies (rediff, forget) do nothing for reminders.
    assert!(out.stderr.contains("rollback"), "{}", out.stderr);
    assert!(!out.stderr.contains("rediff"), "{}", out.stderr);
    assert!(
        reminders(&env).is_empty(),
        "no reminder from a damaged snapshot"
    );

    fs::write(&live, &whole).unwrap();
    send_for(&env, "2026-11-24");
    send_for(&env, "2026-11-24");
    let got = reminders(&env);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.values().map(Vec::len).sum::<usize>(), 3);
}

/// Changes the live snapshot with `change` and records its checksum
/// again: the file is whole as far as the checksum can tell, its content
/// is not what the import wrote.
fn edit_live(env: &Env, change: impl FnOnce(&rusqlite::Connection)) {
    let live = env.data().join("snapshots").join(env.current());
    let mut perms = fs::metadata(&live).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&live, perms).unwrap();
    change(&rusqlite::Connection::open(&live).unwrap());
    let hex = crate::util::sha256_hex(&fs::read(&live).unwrap());
    let name = live.file_name().unwrap().to_string_lossy().to_string();
    fs::write(
        env.data().join("snapshots").join(format!("{name}.sha256")),
        format!("{hex}  {name}\n"),
    )
    .unwrap();
}

/// A live snapshot whose checksum holds but whose hearing lists do not
/// read (a bug that wrote them wrong, say) stops the day's reminders with
/// an error that names the hearings and the snapshot, not the accounts
/// database, which has nothing wrong with it.
#[test]
fn a_hearing_list_that_does_not_read_is_named_as_such_not_as_the_accounts() {
    let env = sample_env();
    edit_live(&env, |db| {
        // The first list of the first chunk: its format byte (after the
        // two bitmaps, the digests and the list ends) made unknown.
        let (chunk, mut value): (i64, Vec<u8>) = db
            .query_row(
                "SELECT chunk, data FROM hearing_chunks ORDER BY chunk LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let bits = |at: usize| u64::from_le_bytes(value[at..at + 8].try_into().unwrap());
        let first = 16 + 8 * bits(8).count_ones() as usize + 4 * bits(0).count_ones() as usize;
        assert_eq!(value[first], 1, "a list starts with its format");
        value[first] = 9;
        db.execute(
            "UPDATE hearing_chunks SET data = ?1 WHERE chunk = ?2",
            rusqlite::params![value, chunk],
        )
        .unwrap();
    });

    let out = send_failing(&env, "2026-11-24");
    assert!(
        out.stderr
            .contains("the hearings of 2026-12-01, 2026-11-25")
            && out.stderr.contains("unknown format 9")
            && !out.stderr.contains("accounts:"),
        "{}",
        out.stderr
    );
    assert!(
        reminders(&env).is_empty(),
        "no reminder from lists that do not read"
    );
}

/// The same for the prosecutors' side of the lookup: their assignments
/// in the snapshot that cannot be read are said to be the hearings'
/// (the snapshot's), not the diff's or the accounts'.
#[test]
fn a_prosecutors_assignments_that_do_not_read_are_named_as_the_snapshots() {
    let env = sample_env();
    prosecutor(&env, "A123456789", Some("prosecutor@moj.example"), true);
    edit_live(&env, |db| {
        db.execute_batch("DROP TABLE prosecutors").unwrap();
    });
    let out = send_failing(&env, "2026-11-24");
    assert!(
        out.stderr
            .contains("the hearings of 2026-12-01, 2026-11-25 in the live snapshot")
            && out.stderr.contains("no such table: prosecutors")
            && !out.stderr.contains("diff:")
            && !out.stderr.contains("accounts:"),
        "{}",
        out.stderr
    );
    assert!(reminders(&env).is_empty(), "nothing queued");
}

/// The day the tests whose stories date hearings on fixed days (some in
/// 2028) were last checked against the real clock: their binary's clock is
/// set back to it (`Env::as_of`), so that they say the same after those
/// days (found by `scripts/test-clock-ahead`).
const STORIES_CHECKED: &str = "2026-12-04";

/// The evening of the sample's night 2, 18:00 Asia/Taipei (in UTC, for
/// `Env::command_at`): every hearing of the sample is to come.
const NIGHT_2_EVENING: &str = "2026-11-24 10:00:00";

/// The sample imported with the clock at `utc` (faketime): what a digest
/// attaches depends on it.
fn sample_env_at(utc: &str) -> Env {
    sample_imported(|env| env.command_at(utc))
}

/// Night 2's news for lawyer.chen announces two hearings: 民事 115 訴 100's
/// new `115/12/10 10:00第一法庭言詞辯論` and 刑事 115 訴 100's 宣判, moved
/// to 115/12/15 10:00. Its digest attaches a calendar file for each one
/// still to come when the night is imported: imported on the night
/// (2026-11-24, 18:00 Asia/Taipei), both; imported at 11:00 on 2026-12-10,
/// an hour after the 言詞辯論 began, only the 宣判. (The clock is set, so
/// the test says the same whatever day it runs: it asserted the first by
/// the real clock, and from 2026-12-10 would have failed.)
#[test]
fn a_digest_that_announces_a_hearing_attaches_its_calendar_file() {
    let starts = |utc: &str| -> Vec<String> {
        let env = sample_env_at(utc);
        assert_eq!(env.etl(&["send", "--now"]).code, 0);
        let eml = env
            .data()
            .join("mail/20261124/digest-lawyer.chen@example.com.eml");
        let dir = env.dir.path().join("digest-ics");
        fs::create_dir_all(&dir).unwrap();
        let files = calendars(&eml, &dir);
        // It says what its files are, and that the summons governs; a
        // digest with no hearing news attaches nothing and says neither.
        let note = "附檔的行事曆檔（.ics）可加入您的行事曆";
        let text = text_of(&eml);
        assert!(text.contains(note), "{text}");
        assert!(text.contains("以法院寄發的傳票或通知書為準"), "{text}");
        let other = env
            .data()
            .join("mail/20261124/digest-mother.lin@example.org.eml");
        assert!(calendars(&other, &dir).is_empty());
        let text = text_of(&other);
        assert!(!text.contains(note) && !text.contains(".ics"), "{text}");
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        let events = check_ics(&paths);
        assert!(
            events.iter().all(|e| e["method"] == "REQUEST"),
            "{events:#?}"
        );
        let mut starts: Vec<String> = events
            .iter()
            .map(|e| e["start"].as_str().unwrap().to_string())
            .collect();
        starts.sort();
        starts
    };
    assert_eq!(
        starts(NIGHT_2_EVENING),
        ["2026-12-10T10:00:00+08:00", "2026-12-15T10:00:00+08:00"]
    );
    assert_eq!(starts("2026-12-10 03:00:00"), ["2026-12-15T10:00:00+08:00"]);
}

/// A prosecutor's account as the single sign-on leaves it (accounts
/// migrations 4 and 8): the MOJ account, the address the provider
/// verified (or none), reminders on or off.
fn prosecutor(env: &Env, account: &str, email: Option<&str>, reminders: bool) {
    let db = rusqlite::Connection::open(env.data().join("accounts.sqlite")).unwrap();
    db.execute(
        "INSERT INTO prosecutor_accounts (account, subject, email, reminders, created_at, last_sign_in_at)
         VALUES (?1, ?1, ?2, ?3, '2026-11-20T00:00:00Z', '2026-11-20T00:00:00Z')",
        rusqlite::params![account, email, reminders as i64],
    )
    .unwrap();
}

/// The reminders of addresses at `domain` only.
fn reminders_at(env: &Env, domain: &str) -> BTreeMap<(String, String), Vec<String>> {
    reminders(env)
        .into_iter()
        .filter(|((_, email), _)| email.ends_with(domain))
        .collect()
}

/// The sample's prosecutors' hearings (sample-data/README.md): chen.wm's
/// TPD 刑事 115 訴 100 has its 宣判 on 115/12/15 10:00 (moved there on night
/// 2, SEQUENCE 1); tsai.mh's KSD 刑事 115 訴 100 its 審理 on 115/12/04 09:30.
#[test]
fn a_prosecutor_who_turned_reminders_on_is_reminded_at_the_verified_address_only() {
    let env = sample_env();
    prosecutor(&env, "chen.wm", Some("chen.wm@moj.example"), true);
    prosecutor(&env, "lin_yt-01", Some("lin.yt@moj.example"), false);
    // On, but no verified address (a row the site cannot make, so the
    // reminders' own rule is tested): nothing.
    prosecutor(&env, "tsai.mh", None, true);

    send_for(&env, "2026-11-27");
    assert!(
        reminders_at(&env, "@moj.example").is_empty(),
        "tsai.mh has no address"
    );
    let kao = ("20261127".to_string(), "kao.lawyer@example.com".to_string());
    assert!(reminders(&env).contains_key(&kao), "the grants' own");

    send_for(&env, "2026-12-08");
    let want = BTreeMap::from([(
        ("20261208".to_string(), "chen.wm@moj.example".to_string()),
        vec!["20261215100000 7".to_string()],
    )]);
    assert_eq!(reminders_at(&env, "@moj.example"), want);
    let eml = env
        .data()
        .join("mail/20261208/reminder-chen.wm@moj.example.eml");
    let got = reminder_checked(
        &env,
        &eml,
        &[
            "115/12/15（二）10:00（7 天後）宣判",
            "以法院寄發的傳票或通知書為準",
            "臺灣臺北地方法院 第三法庭",
            "/unsubscribe?email=chen.wm%40moj.example&token=",
        ],
    );
    assert_eq!(got, [("2026-12-15T10:00:00+08:00".to_string(), 1)]);

    // Re-runs add nothing; the 1-day reminder comes on its own day; an
    // address the provider vouches for later is reminded from then on.
    send_for(&env, "2026-12-08");
    assert_eq!(reminders_at(&env, "@moj.example"), want);
    let accounts = rusqlite::Connection::open(env.data().join("accounts.sqlite")).unwrap();
    accounts
        .execute(
            "UPDATE prosecutor_accounts SET email = 'tsai.mh@moj.example' WHERE account = 'tsai.mh'",
            [],
        )
        .unwrap();
    send_for(&env, "2026-12-03");
    send_for(&env, "2026-12-14");
    let got = reminders_at(&env, "@moj.example");
    assert_eq!(
        got[&("20261203".to_string(), "tsai.mh@moj.example".to_string())],
        ["20261204093000 1"]
    );
    assert_eq!(
        got[&("20261214".to_string(), "chen.wm@moj.example".to_string())],
        ["20261215100000 1"]
    );
    assert_eq!(got.len(), 3, "{got:?}");
}

/// lawyer.chen@example.com follows 民事 115 重訴 77 (hearings on 11/25 and
/// 12/01) and is also, here, the address tsai.mh's provider verified
/// (KSD 刑事 115 訴 100, 12/04): one message a day covering all three, after
/// a SIGKILL and re-runs too; the applicant account's "off" stops only the
/// hearings of its grants.
#[test]
fn an_address_that_is_an_applicants_and_a_prosecutors_gets_one_reminder_a_day() {
    let env = sample_env();
    prosecutor(&env, "tsai.mh", Some("lawyer.chen@example.com"), true);
    // Leads 1, 7 and 10 from 11/24: 11/25, 12/01 and 12/04.
    killed_while_queueing(&env, "2026-11-24", "7,1,10");
    assert!(
        reminders(&env).is_empty(),
        "nothing of the killed run stays"
    );
    send_with(&env, "2026-11-24", "7,1,10");
    send_with(&env, "2026-11-24", "7,1,10");
    let lawyer = ("20261124".to_string(), LAWYER.to_string());
    assert_eq!(
        reminders(&env)[&lawyer],
        ["20261125140000 1", "20261201103000 7", "20261204093000 10"]
    );
    let files: Vec<String> = fs::read_dir(env.data().join("mail/20261124"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("reminder-{LAWYER}")))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = text_of(&env.data().join("mail/20261124").join(&files[0]));
    assert!(text.contains("臺灣高雄地方法院 第十四法庭"), "{text}");

    // The applicant turns reminders off: 11/30's 12/01 (lead 1, granted)
    // is not sent; the 12/04 (lead 4, assigned) is.
    let accounts = rusqlite::Connection::open(env.data().join("accounts.sqlite")).unwrap();
    let off = accounts
        .execute(
            "UPDATE accounts SET reminders = 0 WHERE email = ?1",
            [LAWYER],
        )
        .unwrap();
    assert_eq!(off, 1);
    send_with(&env, "2026-11-30", "1,4");
    assert_eq!(
        reminders(&env)[&("20261130".to_string(), LAWYER.to_string())],
        ["20261204093000 4"]
    );
}

const LAWYER: &str = "lawyer.chen@example.com";

/// The Taipei date and time now.
fn taipei_now() -> chrono::NaiveDateTime {
    (chrono::Utc::now() + chrono::Duration::hours(8)).naive_utc()
}

/// A send window that is closed now, and the Taipei day it next opens:
/// 01:00–02:00 from 02:00 on (it opens tomorrow), 03:00–04:00 before
/// (today). Neither edge moves that day while a test runs.
fn closed_window() -> (chrono::NaiveDate, &'static str, &'static str) {
    let now = taipei_now();
    if now.time() >= chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap() {
        (now.date() + chrono::Duration::days(1), "01:00", "02:00")
    } else {
        (now.date(), "03:00", "04:00")
    }
}

/// The sample's second night as a batch named `name`, the lawyer's 勘驗
/// (115/11/25 14:00 in the sample) on `hearing` instead.
fn night_with_hearing(env: &Env, name: &str, hearing: chrono::NaiveDate) -> PathBuf {
    use chrono::Datelike;
    let batch = env.data().with_file_name("batches").join(name);
    fs::create_dir_all(&batch).unwrap();
    for entry in fs::read_dir(sample("20261124")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), batch.join(entry.file_name())).unwrap();
    }
    let roc = format!(
        "{}/{:02}/{:02} 14:00",
        hearing.year() - 1911,
        hearing.month(),
        hearing.day()
    );
    crate::util::replace_bytes(
        &batch.join("TPD_progress.csv"),
        b"115/11/25 14:00",
        roc.as_bytes(),
    );
    crate::util::rehash(&batch, "TPD_progress.csv");
    batch
}

/// `send` as the timer runs it (the real clock, no `--today`), with the
/// send window `start`–`end` and reminders 7 and 1 days ahead.
fn send_on_the_clock(env: &Env, start: &str, end: &str) -> Run {
    let run: Run = env
        .command()
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .env("CPOR_MAIL_WINDOW_START", start)
        .env("CPOR_MAIL_WINDOW_END", end)
        .arg("send")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

/// The reminder of a hearing the night's batch moved is never queued: a
/// `send` after the window closed (the timer's, every five minutes) does
/// not work out tomorrow's reminders from today's snapshot, whose hearings
/// the night's import may still move or cancel; it waits for that import,
/// and the `send` after it queues them from the night's snapshot.
#[test]
fn tomorrows_reminders_wait_for_the_nights_import() {
    let (day, start, end) = closed_window();
    let env = Env::new();
    let today = night_with_hearing(&env, "20261124", day + chrono::Duration::days(1));
    assert!(matches!(env.import(&today, &[]).code, 0 | 3));

    let run = send_on_the_clock(&env, start, end);
    assert!(
        reminders(&env).is_empty(),
        "queued from the snapshot before the night's import: {:?}\n{}",
        reminders(&env),
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "reminders for {day}: waiting for the night's import (the live snapshot is 20261124-1.sqlite)"
        )),
        "{}",
        run.stdout
    );

    // The night's batch moves the hearing three days later: nothing is
    // due on `day` any more.
    let name = day.format("%Y%m%d").to_string();
    let night = night_with_hearing(&env, &name, day + chrono::Duration::days(3));
    // (Forced: `day` may be tomorrow, and a batch is not dated after today.)
    assert!(matches!(env.import(&night, &["--force"]).code, 0 | 3));
    let run = send_on_the_clock(&env, start, end);
    assert!(
        run.stdout.contains(&format!("reminders for {day}: ")),
        "worked out from the night's snapshot: {}",
        run.stdout
    );
    let moved = format!(
        "{}140000 1",
        (day + chrono::Duration::days(1)).format("%Y%m%d")
    );
    let got = reminders(&env);
    assert!(
        got.values().flatten().all(|h| *h != moved),
        "the moved hearing reminded: {got:?}"
    );
}

/// A day without an import still gets its reminders: the first `send`
/// once the window is open works them out from the live snapshot.
#[test]
fn without_a_nights_import_the_window_opening_queues_them_from_the_live_snapshot() {
    // Open all day but the last minute: wait that minute out.
    while taipei_now().time() >= chrono::NaiveTime::from_hms_opt(23, 58, 50).unwrap() {
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    let day = taipei_now().date();
    let env = Env::new();
    let hearing = day + chrono::Duration::days(1);
    let batch = night_with_hearing(&env, "20261124", hearing);
    assert!(matches!(env.import(&batch, &[]).code, 0 | 3));
    let run = send_on_the_clock(&env, "00:00", "23:59");
    assert!(
        run.stdout.contains(&format!("reminders for {day}: ")),
        "{}",
        run.stdout
    );
    let got = reminders(&env);
    let lawyers = got
        .get(&(
            day.format("%Y%m%d").to_string(),
            "lawyer.chen@example.com".to_string(),
        ))
        .unwrap_or_else(|| panic!("no reminder for the lawyer: {got:?}"));
    assert!(
        lawyers.contains(&format!("{}140000 1", hearing.format("%Y%m%d"))),
        "{lawyers:?}"
    );
}

/// A reminder is about its day ("明天", "7 天後"): one that was not sent
/// by the end of that day's send window (the relay was down, the sender
/// stopped) is failed, never sent late, and `send` says so; sent inside
/// it, it goes. The clock is set with `faketime`: the night's `send` at
/// 01:40 on 2026-11-24 (Asia/Taipei) queues the sample's reminders of that
/// day, as in production.
#[test]
fn a_reminder_that_missed_its_days_window_is_failed_not_sent_late() {
    let queue = |env: &Env| {
        queue_sample_day_at(env, "2026-11-23 17:40:00", &["send"]);
    };
    let eml = reminder_files;

    // Inside that day's window (08:00): both go.
    let on_time = sample_env();
    queue(&on_time);
    // (sent with the reminder days they were queued with: with none, no
    // address keeps reminders, and queued ones are not sent)
    let run: Run = on_time
        .command_at("2026-11-24 00:00:00")
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .arg("send")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(eml(&on_time).len(), 2, "{}", run.stdout);

    // A week later (the relay was down): neither goes.
    let env = sample_env();
    queue(&env);
    let late: Run = env
        .command()
        .args(["send", "--now"])
        .output()
        .unwrap()
        .into();
    assert_eq!(late.code, 0, "{}{}", late.stdout, late.stderr);
    assert!(
        late.stdout.contains("2 reminders too late"),
        "{}",
        late.stdout
    );
    assert!(eml(&env).is_empty(), "{:?}", eml(&env));
    let db = rusqlite::Connection::open(env.data().join("outbox.sqlite")).unwrap();
    let states: Vec<(String, String)> = db
        .prepare("SELECT state, last_error FROM items WHERE kind = 'reminder'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(states.len(), 2);
    for (state, why) in &states {
        assert_eq!(state, "failed");
        assert!(why.contains("20261124"), "{why}");
    }

    // The admin review of the forty-fourth session (its 7): `outbox retry
    // --failed`, or by id, queued them again ("queued 2 failed items
    // again"), cleared their addresses' flags, and the next `send` failed
    // them again. They are left as they are, and said.
    let retry = |args: &[&str]| -> Run { env.command().args(args).output().unwrap().into() };
    let all = retry(&["outbox", "retry", "--failed"]);
    assert_eq!(all.code, 4, "{}{}", all.stdout, all.stderr);
    assert!(
        all.stdout
            .contains("2 reminders past their day left as they are"),
        "{}",
        all.stdout
    );
    let id: i64 = db
        .query_row(
            "SELECT min(id) FROM items WHERE kind = 'reminder'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let one = retry(&["outbox", "retry", &id.to_string()]);
    assert_eq!(one.code, 4, "{}{}", one.stdout, one.stderr);
    assert!(
        one.stdout.contains("1 reminder past its day left as it is")
            && one
                .stdout
                .contains(&format!("item {id}: the reminder of 20261124")),
        "{}",
        one.stdout
    );
    let failed: i64 = db
        .query_row(
            "SELECT count(*) FROM items WHERE kind = 'reminder' AND state = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failed, 2);
}

/// The finding (review of the reminders): a day's reminders queued late in
/// its send window (the first `send` of a day whose timer was down until
/// the evening, or a snapshot published then) were spread over the next 20
/// minutes (`mail.spread`), past the window's end, and the ones not due
/// before it were failed as too late the next morning: those hearings got
/// no reminder. Reminders now start spread only when the spread ends a
/// spread's length before the window closes; queued later, they are all
/// due at once, and the same run sends them. (Sample day 2026-11-24, its
/// first `send` at 20:55 Asia/Taipei.)
#[test]
fn reminders_queued_late_in_the_window_go_out_before_it_closes() {
    let env = sample_env();
    let run = queue_sample_day_at(&env, "2026-11-24 12:55:00", &["send"]);
    let sent = reminder_files(&env);
    assert_eq!(sent.len(), 2, "{sent:?}\n{}", run.stdout);
}

/// A review of the outbox (2026-12-06): `send` read the clock once, when
/// it began, so a run slowed by its relay went on past the send window's
/// end, and a reminder handed over after its day's window said 「明天」 of
/// a hearing that was that day (reproduced with a relay taking 12 s a
/// message: reminders went at 02:40 the next morning, marked sent). Each
/// message is now cleared against the time it is handed over: past the
/// window's end, a run starts no more (they wait for the next window, and
/// a reminder there is past its day, failed as too late). Sample day
/// 2026-11-24, `send` at 20:59:50 Asia/Taipei (the window ends at 21:00),
/// one connection to a relay taking 12 s over each message.
#[test]
fn a_send_slowed_past_the_windows_end_hands_over_no_reminder_late() {
    let env = sample_env();
    let mut smtp = super::Smtp::start(&env.dir.path().join("smtp"));
    fs::write(smtp.dir.join("mode"), "slow12").unwrap();
    let run = super::etl_at_with(
        &env,
        &smtp,
        "2026-11-24 12:59:50",
        &["send"],
        &[
            ("CPOR_MAIL_REMINDER_DAYS", "7,1"),
            ("CPOR_MAIL_SMTP_CONNECTIONS", "1"),
            ("CPOR_MAIL_SMTP_TIMEOUT_SECONDS", "30"),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("reminders for 2026-11-24: 2 queued"),
        "{}",
        run.stdout
    );
    assert_eq!(
        smtp.accepted().len(),
        1,
        "handed over after 21:00\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the send window closed at 21:00 while sending: 1 left for"),
        "{}",
        run.stdout
    );
    // The next run, within the next day's window: the one left is past
    // its day.
    let next = super::etl_at(&env, &smtp, "2026-11-25 00:00:00", &["send"]);
    assert!(
        next.stdout.contains("1 reminder too late"),
        "{}",
        next.stdout
    );
    assert_eq!(smtp.accepted().len(), 1);
    smtp.stop();
}

/// `args` run at `utc` (faketime) with reminders 7 and 1 days before, on
/// the sample: it must queue the two reminders of 2026-11-24.
fn queue_sample_day_at(env: &Env, utc: &str, args: &[&str]) -> Run {
    let run: Run = env
        .command_at(utc)
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .args(args)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("reminders for 2026-11-24: 2 queued"),
        "{}",
        run.stdout
    );
    run
}

/// The sample day's reminders written as .eml files (sent without a relay).
fn reminder_files(env: &Env) -> Vec<String> {
    fs::read_dir(env.data().join("mail/20261124"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f.starts_with("reminder-"))
                .collect()
        })
        .unwrap_or_default()
}

/// The same review: `send --today <day>`, an operator's catch-up for a day
/// whose `send` did not run (OPERATIONS, "A missed day"), queued after
/// that day's window was exempt from the never-late rule for good: run
/// without `--now` at 23:00 (Asia/Taipei), its reminders went out at 07:00
/// the next day, their 明天 about a hearing that was today, and a relay
/// down kept them retrying for days. A catch-up now goes out on the day it
/// was run, or not at all; with `--now` it goes at once.
#[test]
fn a_catch_up_is_sent_on_the_day_it_is_run_or_not_at_all() {
    let env = sample_env();
    let run = queue_sample_day_at(
        &env,
        "2026-11-24 15:00:00",
        &["send", "--today", "2026-11-24"],
    );
    assert!(run.stdout.contains("use --now"), "{}", run.stdout);
    let morning: Run = env
        .command_at("2026-11-24 23:05:00")
        .arg("send")
        .output()
        .unwrap()
        .into();
    assert!(
        morning.stdout.contains("2 reminders too late"),
        "{}{}",
        morning.stdout,
        morning.stderr
    );
    assert!(
        reminder_files(&env).is_empty(),
        "{:?}",
        reminder_files(&env)
    );

    let now = sample_env();
    let run = queue_sample_day_at(
        &now,
        "2026-11-24 15:00:00",
        &["send", "--now", "--today", "2026-11-24"],
    );
    let sent = reminder_files(&now);
    assert_eq!(sent.len(), 2, "{sent:?}\n{}", run.stdout);
}

/// The operator's runbook review (the forty-ninth session): the nightly
/// job's `send` queues the day's reminders at 00:31; when no `send` ran in
/// the day's window (the timer stopped), OPERATIONS' catch-up, `send --now
/// --today <day>`, found the day done and failed every one as too late:
/// nothing delivered them. On that day it sends them now, as a catch-up it
/// queued itself; from the next midnight (their 明天 about that day) they
/// are not sent, and it says so.
#[test]
fn a_catch_up_sends_that_days_reminders_the_nightly_job_queued_and_none_sent() {
    // The operator's catch-up of the sample's day, at `at` (UTC).
    let catch_up = |env: &Env, at: &str| -> Run {
        let run: Run = env
            .command_at(at)
            .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
            .args(["send", "--now", "--today", "2026-11-24"])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 0, "{at}: {}{}", run.stdout, run.stderr);
        run
    };
    for (at, sent) in [("2026-11-24 13:10:00", 2), ("2026-11-24 16:10:00", 0)] {
        let env = sample_env();
        queue_sample_day_at(&env, "2026-11-23 16:31:00", &["send"]);
        assert!(reminder_files(&env).is_empty());
        let run = catch_up(&env, at);
        assert_eq!(
            reminder_files(&env).len(),
            sent,
            "{at}: {}{}",
            run.stdout,
            run.stderr
        );
        let said = if sent > 0 {
            "2 queued for its window and not sent go now"
        } else {
            "2 queued for its window and not sent cannot go now"
        };
        assert!(run.stdout.contains(said), "{at}: {}", run.stdout);
    }
    // The review of the session's change: a snapshot published since they
    // were queued (the night re-run at 19:00) worked the day out again,
    // found every address reminded, and the catch-up failed them all.
    let env = sample_env();
    queue_sample_day_at(&env, "2026-11-23 16:31:00", &["send"]);
    let rerun: Run = env
        .command_at("2026-11-24 11:00:00")
        .args(["import", "--force"])
        .arg(crate::util::sample("20261124"))
        .output()
        .unwrap()
        .into();
    assert!(
        [0, 3].contains(&rerun.code),
        "{}{}",
        rerun.stdout,
        rerun.stderr
    );
    let run = catch_up(&env, "2026-11-24 13:10:00");
    assert_eq!(
        reminder_files(&env).len(),
        2,
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout
            .contains("2 queued for its window and not sent go now"),
        "{}",
        run.stdout
    );
}

/// The mail walk (session 27): a reminder of a hearing at 花蓮 (HLD, absent
/// from night 2, its data carried over from 115/11/23) confirmed it like
/// any other, though the court may have moved it since; the website says
/// so of that court's cases. A reminder now gives the data's date, and for
/// a court carried over says how old its data is and that the hearing may
/// have changed.
#[test]
fn a_reminder_says_how_old_a_carried_over_courts_data_is() {
    let env = sample_env();
    send_for(&env, "2026-12-01");
    let dir = env.data().join("mail/20261201");
    let lee = dir.join("reminder-lee.hua@example.net.eml");
    let text = text_of(&lee);
    assert!(text.contains("（115/11/24 資料）"), "{text}");
    assert!(
        text.contains("臺灣花蓮地方法院資料僅更新至 115/11/23，此庭期可能已變更"),
        "{text}"
    );
    // A court imported that night: no such word.
    for e in fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("reminder-") && !name.contains("lee.hua") {
            let text = text_of(&path);
            assert!(!text.contains("資料僅更新至"), "{name}: {text}");
        }
    }
}

/// The admin walk (session 27): `send --today 2026-11-24` typed on
/// 2026-12-05 was taken, and the 07:05 timer then mailed "明天" for a
/// 勘驗 held ten days before and "7 天後" for one held four days before,
/// with calendar invitations for both. A catch-up is for today or
/// yesterday (Asia/Taipei), and never names a hearing that has started;
/// another day needs `--force` (the sample data, `scripts/run-sample`).
#[test]
fn a_catch_up_is_for_today_or_yesterday_and_never_names_a_hearing_held() {
    let env = sample_env();
    // 2026-12-05 00:45 in Taipei.
    for day in ["2026-11-24", "2026-12-03", "2026-12-06"] {
        let run: Run = env
            .command_at("2026-12-04 16:45:00")
            .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
            .args(["send", "--today", day])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 1, "{day}: {}{}", run.stdout, run.stderr);
        for want in [day, "2026-12-05", "only today's or yesterday's"] {
            assert!(run.stderr.contains(want), "{want}: {}", run.stderr);
        }
        // (`--force` is for the sample data; the refusal does not offer it
        // to an operator catching up real people's reminders.)
        assert!(!run.stderr.contains("--force"), "{}", run.stderr);
        assert!(reminders(&env).is_empty(), "{day}: {:?}", reminders(&env));
    }

    // 2026-11-25 15:00 in Taipei, catching up 2026-11-24: the 勘驗 of
    // 14:00 today has been held and is not named; 言詞辯論 on 115/12/01
    // is in 6 days from today, as the mail now says.
    let run: Run = env
        .command_at("2026-11-25 07:00:00")
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .args(["send", "--now", "--today", "2026-11-24"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let sent: Vec<PathBuf> = fs::read_dir(env.data().join("mail/20261124"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("/reminder-"))
        .collect();
    assert!(
        run.stdout
            .contains("reminders for 2026-11-24: 2 queued (2 hearings)"),
        "{}",
        run.stdout
    );
    assert_eq!(sent.len(), 2, "{sent:?}\n{}", run.stdout);
    for eml in &sent {
        let text = text_of(eml);
        assert!(!text.contains("115/11/25"), "{text}");
        assert!(text.contains("（6 天後）"), "{text}");
        // Nobody in the sample activated: each says how.
        assert!(
            text.contains("您的帳號尚未啟用") && text.contains("http://localhost:8080/forgot"),
            "{text}"
        );
        assert!(!text.contains("7 天後") && !text.contains("明天"), "{text}");
    }

    // As if it were that day, for trying the sample: --force.
    let env = sample_env();
    let run: Run = env
        .command_at("2026-12-04 16:45:00")
        .env("CPOR_MAIL_REMINDER_DAYS", "7,1")
        .args(["send", "--now", "--force", "--today", "2026-11-24"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("reminders for 2026-11-24: 2 queued"),
        "{}",
        run.stdout
    );
}

/// A court's correction that is no news still reaches the calendars that
/// took the hearing from a mail, the night it is made: a withdrawn entry
/// leaves no entry to tell of it, and a withdrawn move puts an older entry
/// back, which is no news either. 民事 115 重訴 77 (its lawyer and, for the
/// test, a party who follows only it) gets three entries on night 1: 序號
/// 20's 準備程序 on 117/03/10, 序號 21's 言詞辯論 on 117/04/14 (a later
/// date of the case's 言詞辯論 of 115/12/01, so a date of that hearing,
/// SEQUENCE 2) and 序號 22 moving it to 117/04/21 (SEQUENCE 3). Night 2
/// withdraws 序號 20 and 22 and adds nothing else to the case. Far in the
/// future, so the clock does not decide.
///
/// - The withdrawn 準備程序: METHOD:CANCEL under its UID, SEQUENCE one
///   above what calendars hold, and the digest says the service no longer
///   has it and that the summons says whether to attend.
/// - The 言詞辯論, back on 117/04/14: METHOD:REQUEST under its UID with a
///   SEQUENCE above the move's 3, and the digest says so.
/// - The party, who has nothing else that night, gets a digest of these
///   alone, which says so; the lawyer gets them beside 訴 100's news.
/// - A prosecutor who turned digests on (chen.wm, of 刑事 115 訴 100,
///   whose 序號 30 勘驗 on 117/05/05 night 2 withdraws too) gets its
///   CANCEL, and nothing of the 民事 case.
/// - The report counts the two hearings withdrawn; a re-run of the night
///   mails nothing again.
#[test]
fn a_hearing_the_court_withdraws_quietly_is_updated_by_mail_in_the_calendars_that_took_it() {
    withdrawn_quietly(false);
}

/// The same, night 2's import SIGKILLed once its snapshot is live and
/// before its mail is queued: the next `send` queues the corrections, once.
#[test]
fn a_hearing_withdrawn_quietly_is_mailed_after_the_import_is_killed() {
    withdrawn_quietly(true);
}

fn withdrawn_quietly(killed: bool) {
    const PARTY: &str = "party.wu@example.com";
    let env = Env::as_of(STORIES_CHECKED);
    let announce = [
        "TPD,民事,115,重訴,77,20,115/11/22,117/03/10 10:00第十二法庭準備程序,115/11/22 09:00:00,N",
        "TPD,民事,115,重訴,77,21,115/11/22,117/04/14 14:30第十二法庭言詞辯論,115/11/22 09:01:00,N",
        "TPD,民事,115,重訴,77,22,115/11/22,117/04/21 14:30第十二法庭言詞辯論（改期）,115/11/22 09:02:00,N",
        // And on 刑事 115 訴 100, chen.wm's, whose digests he turned on.
        "TPD,刑事,115,訴,100,30,115/11/22,117/05/05 09:30第三法庭勘驗,115/11/22 09:00:00,N",
    ];
    let grant = ["TPD,民事,115,重訴,77,原告,party.wu@example.com,115/11/01,核准"];
    let one = env.copy_night("20261123");
    crate::util::append_rows(&one, "TPD_progress.csv", &announce);
    crate::util::append_rows(&one, "TPD_applicant.csv", &grant);
    assert_eq!(env.import(&one, &[]).code, 0);
    let before = crate::hearings::case_hearings(&env.live_dump(), "TPD", "重訴", 77);
    let uid_of = |seq: u64| {
        let row = before.iter().find(|h| h["seq"] == seq).unwrap();
        row["uid"].as_str().unwrap().to_string()
    };
    let (prepared, argued) = (uid_of(20), uid_of(21));
    // What calendars hold of each: the SEQUENCE of its latest row.
    let held = |uid: &str| {
        before
            .iter()
            .filter(|h| h["uid"] == uid)
            .map(|h| h["sequence"].as_u64().unwrap())
            .max()
            .unwrap()
    };
    assert_eq!((held(&prepared), held(&argued)), (0, 3), "{before:#?}");
    assert_eq!(uid_of(22), argued, "the move is a date of the same hearing");
    let inspected = crate::hearings::case_hearings(&env.live_dump(), "TPD", "訴", 100)
        .into_iter()
        .find(|h| h["seq"] == 30 && h["kind"] == "勘驗")
        .unwrap()["uid"]
        .as_str()
        .unwrap()
        .to_string();
    rusqlite::Connection::open(env.data().join("accounts.sqlite"))
        .unwrap()
        .execute(
            "INSERT INTO prosecutor_accounts (account, subject, email, digests, created_at, last_sign_in_at)
             VALUES ('chen.wm', 'chen.wm', 'chen.wm@moj.example', 1, '2026-11-20T00:00:00Z', '2026-11-20T00:00:00Z')",
            [],
        )
        .unwrap();

    let two = env.copy_night("20261124");
    crate::util::append_rows(&two, "TPD_progress.csv", &announce);
    crate::util::append_rows(
        &two,
        "TPD_progress.csv",
        &[
            "TPD,民事,115,重訴,77,20,115/11/22,117/03/10 10:00第十二法庭準備程序,115/11/24 18:00:00,Y",
            "TPD,民事,115,重訴,77,22,115/11/22,117/04/21 14:30第十二法庭言詞辯論（改期）,115/11/24 18:01:00,Y",
            "TPD,刑事,115,訴,100,30,115/11/22,117/05/05 09:30第三法庭勘驗,115/11/24 18:02:00,Y",
        ],
    );
    crate::util::append_rows(&two, "TPD_applicant.csv", &grant);
    if killed {
        super::import_killed_after_publishing(&env, &two);
    } else {
        let run = env.import(&two, &[]);
        assert!(matches!(run.code, 0 | 3), "{}{}", run.stdout, run.stderr);
        // The operator sees what went.
        let report = env.report("20261124");
        let stats = &crate::util::court(&report, "TPD")["stats"];
        assert_eq!(stats["hearings_withdrawn"], 2, "{stats}");
    }
    assert_eq!(env.etl(&["send", "--now"]).code, 0);

    let want = vec![
        (
            prepared.clone(),
            "CANCEL".to_string(),
            "2028-03-10T10:00:00+08:00".to_string(),
            1,
        ),
        (
            argued.clone(),
            "REQUEST".to_string(),
            "2028-04-14T14:30:00+08:00".to_string(),
            4,
        ),
    ];
    let corrections = |email: &str| {
        let eml = env.data().join(format!("mail/20261124/digest-{email}.eml"));
        assert!(eml.exists(), "no digest to {email}");
        let mut got: Vec<(String, String, String, u64)> = events(&env, &eml)
            .iter()
            .filter(|e| e["uid"] == prepared.as_str() || e["uid"] == argued.as_str())
            .map(|e| {
                (
                    e["uid"].as_str().unwrap().to_string(),
                    e["method"].as_str().unwrap().to_string(),
                    e["start"].as_str().unwrap().to_string(),
                    e["sequence"].as_u64().unwrap(),
                )
            })
            .collect();
        got.sort_by(|a, b| a.2.cmp(&b.2));
        (text_of(&eml), got)
    };
    for email in [PARTY, LAWYER] {
        let (text, got) = corrections(email);
        assert_eq!(got, want, "{email}");
        for line in [
            "117/03/10（五）10:00 準備程序 臺灣臺北地方法院 第十二法庭：本服務已無此庭期資料",
            "117/04/14（五）14:30 言詞辯論 臺灣臺北地方法院 第十二法庭：庭期資料已更新",
            "以法院寄發的傳票或通知書為準",
        ] {
            assert!(text.contains(line), "{email}: {line} missing:\n{text}");
        }
    }
    // The prosecutor, who turned digests on: his case's withdrawn 勘驗,
    // beside its news; nothing of the 民事 case.
    let eml = env
        .data()
        .join("mail/20261124/digest-chen.wm@moj.example.eml");
    let cancels: Vec<(String, String, u64)> = events(&env, &eml)
        .iter()
        .filter(|e| e["method"] == "CANCEL")
        .map(|e| {
            (
                e["uid"].as_str().unwrap().to_string(),
                e["start"].as_str().unwrap().to_string(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cancels,
        [(inspected, "2028-05-05T09:30:00+08:00".to_string(), 1)]
    );
    let text = text_of(&eml);
    assert!(
        text.contains("117/05/05（五）09:30 勘驗 臺灣臺北地方法院 第三法庭：本服務已無此庭期資料")
            && !text.contains("重訴"),
        "{text}"
    );
    let (party, _) = corrections(PARTY);
    assert!(
        !party.contains("有新的進行事項"),
        "the party's case has no new entry:\n{party}"
    );

    // A re-run of the night finds nothing more to say.
    let digests = |env: &Env| -> i64 {
        rusqlite::Connection::open(env.data().join("outbox.sqlite"))
            .unwrap()
            .query_row(
                "SELECT count(*) FROM items WHERE kind = 'digest' AND email IN (?1, ?2)",
                [PARTY, LAWYER],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(digests(&env), 2);
    let again = env.import(&two, &[]);
    assert!(
        matches!(again.code, 0 | 3),
        "{}{}",
        again.stdout,
        again.stderr
    );
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    assert_eq!(digests(&env), 2, "a re-run mailed a correction again");
}

/// The events of the calendar files of `eml`, as check_ics.py reads them
/// (none if it has none).
fn events(env: &Env, eml: &Path) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir_in(env.dir.path()).unwrap();
    let paths: Vec<PathBuf> = calendars(eml, dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    if paths.is_empty() {
        return Vec::new();
    }
    check_ics(&paths)
}

/// The (METHOD, start, SEQUENCE) of the calendar files of `eml` whose UID
/// is `uid`.
fn files_of(env: &Env, eml: &Path, uid: &str) -> Vec<(String, String, u64)> {
    events(env, eml)
        .iter()
        .filter(|e| e["uid"] == uid)
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["start"].as_str().unwrap().to_string(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A hearing whose withdrawn entry the court restores is sent above the
/// CANCEL calendars applied, or they ignore its return and keep it
/// cancelled (RFC 5546 §2.1.5): its record starts again from what the
/// entries show, SEQUENCE 0, since the snapshot it is carried on from has
/// it no more. The outbox keeps the SEQUENCE it mailed when that was
/// above the snapshot's (a floor per UID). 民事 115 重訴 77's 序號 20
/// (準備程序 on 117/03/10) is withdrawn by night 2's first build (a
/// CANCEL, SEQUENCE 1) and restored by the re-run's corrected files: the
/// re-run's digest brings it back with SEQUENCE 2, and a later reminder
/// of it stays at 2.
#[test]
fn a_hearing_restored_after_its_cancel_was_mailed_is_sent_above_the_cancel() {
    const PARTY: &str = "party.wu@example.com";
    let env = Env::as_of(STORIES_CHECKED);
    let announce =
        "TPD,民事,115,重訴,77,20,115/11/22,117/03/10 10:00第十二法庭準備程序,115/11/22 09:00:00,N";
    let grant = ["TPD,民事,115,重訴,77,原告,party.wu@example.com,115/11/01,核准"];
    let one = env.copy_night("20261123");
    crate::util::append_rows(&one, "TPD_progress.csv", &[announce]);
    crate::util::append_rows(&one, "TPD_applicant.csv", &grant);
    assert_eq!(env.import(&one, &[]).code, 0);
    let uid = crate::hearings::case_hearings(&env.live_dump(), "TPD", "重訴", 77)
        .into_iter()
        .find(|h| h["seq"] == 20)
        .unwrap()["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let withdraw =
        "TPD,民事,115,重訴,77,20,115/11/22,117/03/10 10:00第十二法庭準備程序,115/11/24 18:00:00,Y";
    let two = env.copy_night("20261124");
    crate::util::append_rows(&two, "TPD_progress.csv", &[announce, withdraw]);
    crate::util::append_rows(&two, "TPD_applicant.csv", &grant);
    assert!(matches!(env.import(&two, &[]).code, 0 | 3));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let night = env.data().join("mail/20261124");
    let start = "2028-03-10T10:00:00+08:00".to_string();
    assert_eq!(
        files_of(&env, &night.join(format!("digest-{PARTY}.eml")), &uid),
        [("CANCEL".to_string(), start.clone(), 1)]
    );

    // The court restores it: the re-run's corrected files.
    let restore =
        "TPD,民事,115,重訴,77,20,115/11/22,117/03/10 10:00第十二法庭準備程序,115/11/24 19:00:00,N";
    let corrected = env.dir.path().join("corrected").join("20261124");
    fs::create_dir_all(&corrected).unwrap();
    for f in fs::read_dir(&two).unwrap() {
        let f = f.unwrap();
        fs::copy(f.path(), corrected.join(f.file_name())).unwrap();
    }
    crate::util::append_rows(&corrected, "TPD_progress.csv", &[restore]);
    assert!(matches!(env.import(&corrected, &[]).code, 0 | 3));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    assert_eq!(
        files_of(
            &env,
            &night.join(format!("digest-{PARTY}-build-2.eml")),
            &uid
        ),
        [("REQUEST".to_string(), start.clone(), 2)],
        "the restored hearing is sent below the CANCEL calendars hold"
    );
    // Its reminder 7 days before keeps to what calendars hold.
    send_for(&env, "2028-03-03");
    assert_eq!(
        files_of(
            &env,
            &env.data()
                .join(format!("mail/20280303/reminder-{PARTY}.eml")),
            &uid
        ),
        [("REQUEST".to_string(), start, 2)]
    );
}

/// After a rollback, what is mailed is sent above what calendars took from
/// the snapshot rolled back from, or they ignore it: TPD 刑事 115 訴 100's
/// 宣判, moved by night 2 from 115/11/30 11:00 to 115/12/15 10:00
/// (SEQUENCE 1, mailed in night 2's digest and reminders), is back on
/// 115/11/30 at SEQUENCE 0 in night 1's snapshot. Rolled back to night 1,
/// its reminder the day before says 115/11/30 with SEQUENCE 2: the
/// calendars move it back.
#[test]
fn after_a_rollback_a_reminder_is_sent_above_what_calendars_took() {
    // Imported and rolled back on night 2's evening, when the hearings are
    // to come (the rollback records floors for those only), whatever day
    // the test runs.
    let env = sample_env_at(NIGHT_2_EVENING);
    let before = crate::hearings::case_hearings(&env.live_dump(), "TPD", "訴", 100);
    let moved = before
        .iter()
        .find(|h| h["kind"] == "宣判" && h["at"] == "115/12/15 10:00")
        .unwrap_or_else(|| panic!("{before:#?}"));
    let uid = moved["uid"].as_str().unwrap().to_string();
    assert_eq!(moved["sequence"], 1);
    let run: Run = env
        .command_at(NIGHT_2_EVENING)
        .args(["rollback", "20261123"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("note: 1 hearing to come stands lower in 20261123-1.sqlite than in 20261124-1.sqlite: its calendar files are sent above"),
        "{}",
        run.stdout
    );
    send_for(&env, "2026-11-29");
    let eml = env
        .data()
        .join(format!("mail/20261129/reminder-{LAWYER}.eml"));
    assert_eq!(
        files_of(&env, &eml, &uid),
        [(
            "REQUEST".to_string(),
            "2026-11-30T11:00:00+08:00".to_string(),
            2
        )],
        "the rolled-back date is sent below what calendars hold"
    );
}

/// A one-court TPD night of cases 民事 115 訴 <n>, pending: their progress
/// rows (`序號,登載日期,登載事項,異動時間,刪除`), their grants (原告).
fn one_court_night(
    root: &Path,
    night: &str,
    cases: &[u32],
    progress: &[(u32, &str)],
    grants: &[(u32, &str)],
) -> PathBuf {
    let dir = root.join("nights").join(night);
    let cases: Vec<(u32, &str, &str)> = cases.iter().map(|n| (*n, "審理中", "")).collect();
    let progress: Vec<(u32, String)> = progress.iter().map(|(n, r)| (*n, r.to_string())).collect();
    let grants: Vec<(u32, String)> = grants.iter().map(|(n, e)| (*n, e.to_string())).collect();
    crate::util::write_tpd_batch(&dir, &cases, &progress, &grants);
    dir
}

/// The METHOD and SEQUENCE of each calendar file of `email`'s digest of
/// `night` (YYYYMMDD), with its text; `None` if there is no such digest.
fn digest_files(env: &Env, night: &str, email: &str) -> Option<(String, Vec<(String, u64)>)> {
    let eml = env.data().join(format!("mail/{night}/digest-{email}.eml"));
    if !eml.exists() {
        return None;
    }
    let files = events(env, &eml)
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    Some((text_of(&eml), files))
}

fn imported(run: Run) {
    assert!(matches!(run.code, 0 | 3), "{}{}", run.stdout, run.stderr);
}

/// Review finding (2026-12-03): a cancellation posted late (補登: its 登載
/// 日期 older than the latest three entries, so no news) cancels a hearing
/// a party's calendar took from a digest; the SEQUENCE the entries show is
/// already above the live one, so nothing was carried on or dropped, the
/// case was not marked, and no mail told the calendar. Now any change
/// calendars hold marks the case.
#[test]
fn a_cancellation_posted_late_reaches_the_calendar_that_took_the_hearing() {
    let env = Env::as_of(STORIES_CHECKED);
    let root = env.dir.path();
    let base = [
        (1, "1,115/11/02,分案,115/11/02 09:00:00,N"),
        (
            1,
            "2,115/11/20,117/04/14 14:30第一法庭言詞辯論,115/11/20 09:00:00,N",
        ),
        (1, "3,115/11/21,收原告陳報狀,115/11/21 09:00:00,N"),
        (1, "4,115/11/21,收被告答辯狀,115/11/21 09:01:00,N"),
        (1, "5,115/11/21,收證物,115/11/21 09:02:00,N"),
    ];
    let grants = [(1, "a@example.com")];
    imported(env.import(
        &one_court_night(root, "20261123", &[1], &base, &grants),
        &[],
    ));
    let mut late = base.to_vec();
    late.push((1, "6,115/11/20,言詞辯論期日取消,115/11/24 10:00:00,N"));
    imported(env.import(
        &one_court_night(root, "20261124", &[1], &late, &grants),
        &[],
    ));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let (text, files) = digest_files(&env, "20261124", "a@example.com")
        .expect("no digest tells a@'s calendar that the hearing was cancelled");
    assert_eq!(files, [("CANCEL".to_string(), 1)]);
    assert!(text.contains("117/04/14（五）14:30 言詞辯論"), "{text}");
    assert!(text.contains("庭期有更正"), "{text}");
}

/// Review finding (2026-12-03): the cases marked corrected were worked out
/// against the snapshot the import carried on from; with the live one
/// damaged that is the one standing in, and once the live one is restored
/// the night's mail is compared with it instead: a withdrawal against the
/// restored one was never told. Now, when the mail compares with another
/// snapshot than the import carried on from, every followed case is
/// compared.
#[test]
fn a_withdrawal_is_mailed_after_the_damaged_live_snapshot_is_restored() {
    let env = Env::as_of(STORIES_CHECKED);
    let root = env.dir.path();
    let first = (1, "1,115/11/02,分案,115/11/02 09:00:00,N");
    let announce = (
        1,
        "2,115/11/23,117/04/14 14:30第一法庭言詞辯論,115/11/23 09:00:00,N",
    );
    let withdraw = (
        1,
        "2,115/11/23,117/04/14 14:30第一法庭言詞辯論,115/11/25 09:00:00,Y",
    );
    let grants = [(1, "a@example.com")];
    imported(env.import(
        &one_court_night(root, "20261123", &[1], &[first], &grants),
        &[],
    ));
    imported(env.import(
        &one_court_night(root, "20261124", &[1], &[first, announce], &grants),
        &[],
    ));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let (_, two) = digest_files(&env, "20261124", "a@example.com").unwrap();
    assert_eq!(two, [("REQUEST".to_string(), 0)]);
    // Night 2's file damaged: night 3 carries on from night 1's, its mail
    // waits; the operator restores night 2's file from a backup.
    let live = env.data().join("snapshots/20261124-1.sqlite");
    let backup = fs::read(&live).unwrap();
    crate::util::damage(&live);
    env.import(
        &one_court_night(
            root,
            "20261125",
            &[1],
            &[first, announce, withdraw],
            &grants,
        ),
        &[],
    );
    fs::write(&live, &backup).unwrap();
    let sent = env.etl(&["send", "--now"]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    let (_, three) = digest_files(&env, "20261125", "a@example.com")
        .expect("the hearing night 2 mailed, withdrawn on night 3, is never cancelled by mail");
    assert_eq!(three, [("CANCEL".to_string(), 1)]);
}

/// Review finding (2026-12-03): the flood guard counted every case marked
/// corrected as news before anything was found to tell: two cases whose
/// past hearings' entries were withdrawn (nothing to mail) held the digest
/// of a third case's news. Only cases that have something to tell count.
#[test]
fn a_withdrawal_with_nothing_to_tell_does_not_trip_the_flood_guard() {
    let env = Env::new();
    let root = env.dir.path();
    let mut one: Vec<(u32, &str)> = (1..=4)
        .map(|n| (n, "1,115/09/01,分案,115/09/01 09:00:00,N"))
        .collect();
    for n in 1..=2 {
        one.push((
            n,
            "2,115/09/10,115/10/01 10:00第一法庭言詞辯論,115/09/10 09:00:00,N",
        ));
    }
    let grants = [
        (1, "a@example.com"),
        (2, "b@example.com"),
        (3, "c@example.com"),
        (4, "d@example.com"),
    ];
    let mut two = one.clone();
    for n in 1..=2 {
        two.push((
            n,
            "2,115/09/10,115/10/01 10:00第一法庭言詞辯論,115/11/24 09:00:00,Y",
        ));
    }
    two.push((3, "3,115/11/24,收原告陳報狀,115/11/24 09:00:00,N"));
    let import = |night: &str, rows: &[(u32, &str)]| -> Run {
        env.command()
            .env("CPOR_MAIL_FLOOD_MIN_CASES", "1")
            .arg("import")
            .arg(one_court_night(root, night, &[1, 2, 3, 4], rows, &grants))
            .output()
            .unwrap()
            .into()
    };
    imported(import("20261123", &one));
    let run = import("20261124", &two);
    assert!(!run.stdout.contains("DIGESTS HELD"), "{}", run.stdout);
    imported(run);
    assert_eq!(env.report("20261124")["mail"]["held"], false);
}

/// Review finding (2026-12-03): a damaged live snapshot's stand-in lends
/// lower SEQUENCEs than the live one's mail carried; once the live one is
/// restored, a change compared with it was sent at tonight's own SEQUENCE,
/// below what calendars hold, and ignored. 民事 115 訴 1's 言詞辯論 moves
/// between 第一 and 第二法庭 night after night (SEQUENCE 0, 1, 2, mailed);
/// night 4 (第二 again) carries on from night 2's snapshot, night 3's being
/// damaged, and so holds 1. Its change against the restored night 3 goes
/// out above 2.
#[test]
fn a_change_after_a_stand_in_is_sent_above_what_calendars_took() {
    let env = Env::as_of(STORIES_CHECKED);
    let root = env.dir.path();
    let first = (1, "1,115/11/02,分案,115/11/02 09:00:00,N");
    let versions = [
        "2,115/11/23,117/04/14 14:30第一法庭言詞辯論,115/11/23 09:00:00,N",
        "2,115/11/23,117/04/14 14:30第二法庭言詞辯論,115/11/24 09:00:00,N",
        "2,115/11/23,117/04/14 14:30第一法庭言詞辯論,115/11/25 09:00:00,N",
        "2,115/11/23,117/04/14 14:30第二法庭言詞辯論,115/11/26 09:00:00,N",
    ];
    let grants = [(1, "a@example.com")];
    let mut rows = vec![first];
    imported(env.import(
        &one_court_night(root, "20261122", &[1], &rows, &grants),
        &[],
    ));
    let mut held = 0;
    for (night, v) in ["20261123", "20261124", "20261125"]
        .into_iter()
        .zip(versions)
    {
        rows.push((1, v));
        imported(env.import(&one_court_night(root, night, &[1], &rows, &grants), &[]));
        assert_eq!(env.etl(&["send", "--now"]).code, 0);
        let (_, files) = digest_files(&env, night, "a@example.com").unwrap();
        held = files.iter().map(|(_, s)| *s).max().unwrap();
    }
    assert_eq!(held, 2, "calendars hold 2");
    let live = env.data().join("snapshots/20261125-1.sqlite");
    let backup = fs::read(&live).unwrap();
    crate::util::damage(&live);
    rows.push((1, versions[3]));
    env.import(
        &one_court_night(root, "20261126", &[1], &rows, &grants),
        &[],
    );
    fs::write(&live, &backup).unwrap();
    let sent = env.etl(&["send", "--now"]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    let (_, files) = digest_files(&env, "20261126", "a@example.com").expect("night 4's digest");
    assert_eq!(files, [("REQUEST".to_string(), 3)], "calendars hold 2");
    // Its reminder, from night 4's snapshot (SEQUENCE 1), keeps to 3.
    send_for(&env, "2028-04-07");
    let eml = env.data().join("mail/20280407/reminder-a@example.com.eml");
    let got: Vec<u64> = events(&env, &eml)
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [3]);
}

/// An address that turned digests off but keeps reminders has hearings in
/// its calendar from its reminders (or from its digests while they were
/// on); when one is cancelled by a news entry, or its announcing entry is
/// withdrawn and posted again at another time, the calendar must hear of
/// it, or the party goes to a hearing that is not held. The mail tells
/// only of its cases' hearings that changed, with their calendar files
/// and the case's entries that announce hearings tonight, and its link
/// turns reminders off; a hearing newly scheduled and other news are not
/// told; an address with reminders off as well gets nothing.
#[test]
fn an_address_with_digests_off_and_reminders_on_is_told_when_its_hearings_change() {
    const A: &str = "a@example.com";
    const B: &str = "b@example.com";
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let root = env.dir.path();
    let base = [
        (1, "1,115/11/02,分案,115/11/02 09:00:00,N"),
        (
            1,
            "2,115/11/20,117/03/10 10:00第一法庭言詞辯論,115/11/20 09:00:00,N",
        ),
        (2, "1,115/11/02,分案,115/11/02 09:00:00,N"),
        (
            2,
            "2,115/11/20,117/03/10 14:00第二法庭準備程序,115/11/20 09:00:00,N",
        ),
        (3, "1,115/11/02,分案,115/11/02 09:00:00,N"),
    ];
    let grants = [(1, A), (2, A), (3, A), (1, B)];
    imported(env.import(
        &one_court_night(root, "20261123", &[1, 2, 3], &base, &grants),
        &[],
    ));
    rusqlite::Connection::open(env.data().join("accounts.sqlite"))
        .unwrap()
        .execute_batch(
            "UPDATE accounts SET digests = 0 WHERE email = 'a@example.com';
             UPDATE accounts SET digests = 0, reminders = 0 WHERE email = 'b@example.com';",
        )
        .unwrap();
    let hearings = |case: u64| crate::hearings::case_hearings(&env.live_dump(), "TPD", "訴", case);
    let uid = |case: u64| hearings(case)[0]["uid"].as_str().unwrap().to_string();
    let (argued, prepared) = (uid(1), uid(2));
    // The reminder 7 days before puts both in A's calendar.
    send_for(&env, "2028-03-03");
    let reminder = env.data().join(format!("mail/20280303/reminder-{A}.eml"));
    let mut took: Vec<String> = uids_and_methods(&env, &reminder)
        .into_iter()
        .map(|f| f.0)
        .collect();
    took.sort();
    let mut want = vec![argued.clone(), prepared.clone()];
    want.sort();
    assert_eq!(took, want);

    // Night 2: case 1's hearing cancelled by a news entry; case 2's
    // announcing entry withdrawn and posted again a week later; case 3
    // gets a hearing scheduled and other news.
    let mut two = base.to_vec();
    two.push((1, "3,115/11/24,言詞辯論期日取消,115/11/24 10:00:00,N"));
    two.retain(|r| *r != base[3]);
    two.push((
        2,
        "2,115/11/20,117/03/10 14:00第二法庭準備程序,115/11/24 18:00:00,Y",
    ));
    two.push((
        2,
        "3,115/11/24,117/03/17 14:00第二法庭準備程序,115/11/24 18:01:00,N",
    ));
    two.push((
        3,
        "2,115/11/24,117/05/20 09:30第三法庭調解,115/11/24 09:00:00,N",
    ));
    two.push((3, "3,115/11/24,收原告陳報狀,115/11/24 09:01:00,N"));
    imported(env.import(
        &one_court_night(root, "20261124", &[1, 2, 3], &two, &grants),
        &[],
    ));
    let reposted = hearings(2)
        .into_iter()
        .find(|h| h["at"] == "117/03/17 14:00")
        .unwrap()["uid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.etl(&["send", "--now"]).code, 0);

    let night = env.data().join("mail/20261124");
    let eml = night.join(format!("digest-{A}.eml"));
    assert!(
        eml.exists(),
        "no mail told A's calendar of its hearings' changes: {}",
        env.report("20261124")["mail"]
    );
    let mut files = uids_and_methods(&env, &eml);
    files.sort();
    let mut want = vec![
        (argued, "CANCEL".to_string()),
        (prepared, "CANCEL".to_string()),
        (reposted, "REQUEST".to_string()),
    ];
    want.sort();
    assert_eq!(files, want, "what changed, and the date posted again");
    let text = text_of(&eml);
    for line in [
        "您關注的案件庭期有異動",
        "言詞辯論期日取消",
        "117/03/10（五）14:00 準備程序 臺灣臺北地方法院 第二法庭：本服務已無此庭期資料",
        "117/03/17 14:00第二法庭準備程序",
        "以法院寄發的傳票或通知書為準",
        "這些案件您未訂閱進度通知信，但收取庭期提醒",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(
        !text.contains("115年度訴字第3號") && !text.contains("收原告陳報狀"),
        "A turned digests off: only its hearings' changes\n{text}"
    );
    let raw = fs::read_to_string(&eml).unwrap();
    assert!(
        raw.contains("&list=reminders>"),
        "its one-click unsubscribe is the reminders':\n{raw}"
    );
    assert!(
        !night.join(format!("digest-{B}.eml")).exists(),
        "B turned digests and reminders off"
    );

    // A re-run of the night mails it no second time.
    imported(env.import(
        &one_court_night(root, "20261124", &[1, 2, 3], &two, &grants),
        &[],
    ));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    assert_eq!(digest_items(&env, A), 1);
}

/// Review finding (2026-12-03): a hearing the calendar took from a digest
/// (digests on then), cancelled after the address turned digests off
/// (reminders on) and before any reminder of it, must reach the calendar
/// all the same: what a calendar holds is not only what reminders put
/// there.
#[test]
fn a_hearing_the_calendar_took_from_a_digest_is_cancelled_there_after_digests_went_off() {
    const A: &str = "a@example.com";
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let root = env.dir.path();
    let base = [(1, "1,115/11/02,分案,115/11/02 09:00:00,N")];
    let grants = [(1, A)];
    imported(env.import(
        &one_court_night(root, "20261123", &[1], &base, &grants),
        &[],
    ));
    let mut two = base.to_vec();
    two.push((
        1,
        "2,115/11/24,117/03/10 10:00第一法庭言詞辯論,115/11/24 09:00:00,N",
    ));
    imported(env.import(&one_court_night(root, "20261124", &[1], &two, &grants), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let took = env.data().join(format!("mail/20261124/digest-{A}.eml"));
    let took = uids_and_methods(&env, &took);
    assert_eq!(took.len(), 1);
    assert_eq!(took[0].1, "REQUEST", "the calendar took it");
    digests_off(&env, A);
    let mut three = two.clone();
    three.push((1, "3,115/11/25,言詞辯論期日取消,115/11/25 10:00:00,N"));
    imported(env.import(
        &one_court_night(root, "20261125", &[1], &three, &grants),
        &[],
    ));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    cancelled_by_digest(
        &env,
        "20261125",
        A,
        &took[0].0,
        "the calendar that took the hearing from a digest was not told",
        &env.report("20261125")["mail"],
    );
}

/// A prosecutor who turned reminders on and digests off (the default
/// digest switch) is told the same as an applicant: the 勘驗 on TPD 刑事
/// 115 訴 100 that a reminder put in the calendar, and the 審理, both
/// withdrawn, are cancelled there. And (review finding, 2026-12-03) when
/// the address also has an applicant's account granted the case, with
/// digests and reminders off, the prosecutor's calendar is told all the
/// same: what an address is told of a case is the widest of its reasons.
#[test]
fn a_prosecutor_with_reminders_on_and_digests_off_hears_of_withdrawn_hearings() {
    for granted_too in [false, true] {
        prosecutor_with_reminders_only(granted_too);
    }
}

fn prosecutor_with_reminders_only(granted_too: bool) {
    const P: &str = "chen.wm@moj.example";
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let announce = [
        "TPD,刑事,115,訴,100,30,115/11/22,117/05/05 09:30第三法庭勘驗,115/11/22 09:00:00,N",
        "TPD,刑事,115,訴,100,31,115/11/22,117/06/02 09:30第三法庭審理,115/11/22 09:01:00,N",
    ];
    let grant = ["TPD,刑事,115,訴,100,被告,chen.wm@moj.example,115/11/01,核准"];
    let one = env.copy_night("20261123");
    crate::util::append_rows(&one, "TPD_progress.csv", &announce);
    if granted_too {
        crate::util::append_rows(&one, "TPD_applicant.csv", &grant);
    }
    assert_eq!(env.import(&one, &[]).code, 0);
    prosecutor(&env, "chen.wm", Some(P), true);
    if granted_too {
        rusqlite::Connection::open(env.data().join("accounts.sqlite"))
            .unwrap()
            .execute(
                "UPDATE accounts SET digests = 0, reminders = 0 WHERE email = ?1",
                [P],
            )
            .unwrap();
    }
    let uid_of = |kind: &str| {
        crate::hearings::case_hearings(&env.live_dump(), "TPD", "訴", 100)
            .into_iter()
            .find(|h| h["kind"] == kind && h["at"].as_str().unwrap().starts_with("117/"))
            .unwrap_or_else(|| panic!("no {kind}"))["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (inspected, tried) = (uid_of("勘驗"), uid_of("審理"));
    send_for(&env, "2028-04-28");
    let reminder = env.data().join(format!("mail/20280428/reminder-{P}.eml"));
    let took: Vec<String> = uids_and_methods(&env, &reminder)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(took, std::slice::from_ref(&inspected));

    let two = env.copy_night("20261124");
    crate::util::append_rows(&two, "TPD_progress.csv", &announce);
    crate::util::append_rows(
        &two,
        "TPD_progress.csv",
        &[
            "TPD,刑事,115,訴,100,30,115/11/22,117/05/05 09:30第三法庭勘驗,115/11/24 18:02:00,Y",
            "TPD,刑事,115,訴,100,31,115/11/22,117/06/02 09:30第三法庭審理,115/11/24 18:03:00,Y",
        ],
    );
    if granted_too {
        crate::util::append_rows(&two, "TPD_applicant.csv", &grant);
    }
    imported(env.import(&two, &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let eml = env.data().join(format!("mail/20261124/digest-{P}.eml"));
    assert!(
        eml.exists(),
        "no mail told the prosecutor's calendar (granted too: {granted_too}): {}",
        env.report("20261124")["mail"]
    );
    // (The sample's 宣判 on the case, moved tonight to 115/12/15, is told
    // as well while it is still to come.)
    let mut files: Vec<(String, String)> = uids_and_methods(&env, &eml)
        .into_iter()
        .filter(|f| f.0 == inspected || f.0 == tried)
        .collect();
    files.sort();
    let mut want = vec![
        (inspected, "CANCEL".to_string()),
        (tried, "CANCEL".to_string()),
    ];
    want.sort();
    assert_eq!(files, want);
    let text = text_of(&eml);
    for line in [
        "您關注的案件庭期有異動",
        "117/05/05（五）09:30 勘驗 臺灣臺北地方法院 第三法庭：本服務已無此庭期資料",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(
        !text.contains("您已關閉"),
        "the prosecutor turned nothing off:\n{text}"
    );
    assert!(fs::read_to_string(&eml)
        .unwrap()
        .contains("&list=reminders>"));

    // A re-run of the night mails it no second time.
    imported(env.import(&two, &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    assert_eq!(digest_items(&env, P), 1);
}

/// Noticed in the eighteenth session, reproduced here first: a prosecutor
/// whose calendar took a hearing from their digest, and who then turned
/// the digest off (reminders on) before any reminder went to them, was
/// not told when the hearing was withdrawn: their news was worked out
/// only once a reminder had gone. An applicant in their place is told
/// (`a_hearing_the_calendar_took_from_a_digest_is_cancelled_there_after_digests_went_off`).
#[test]
fn a_prosecutor_whose_calendar_took_a_hearing_from_the_digest_hears_it_withdrawn_after_the_digest_went_off(
) {
    const P: &str = "wu.cl@moj.example";
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let (filed, announced, withdrawn) = (WU_FILED, WU_ANNOUNCED, WU_WITHDRAWN);
    let night = |name: &str, progress: &[&str]| wu_night(&env, name, progress);
    imported(env.import(&night("20261123", &[filed]), &[]));
    prosecutor(&env, "wu.cl", Some(P), true);
    let accounts = rusqlite::Connection::open(env.data().join("accounts.sqlite")).unwrap();
    accounts
        .execute(
            "UPDATE prosecutor_accounts SET digests = 1 WHERE account = 'wu.cl'",
            [],
        )
        .unwrap();

    imported(env.import(&night("20261124", &[filed, announced]), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let took = uids_and_methods(
        &env,
        &env.data().join(format!("mail/20261124/digest-{P}.eml")),
    );
    assert_eq!(took.len(), 1, "{took:?}");
    assert_eq!(
        took[0].1, "REQUEST",
        "the calendar took the 勘驗 from the digest"
    );

    accounts
        .execute(
            "UPDATE prosecutor_accounts SET digests = 0 WHERE account = 'wu.cl'",
            [],
        )
        .unwrap();
    imported(env.import(&night("20261125", &[filed, announced, withdrawn]), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let reminded: i64 = rusqlite::Connection::open(env.data().join("outbox.sqlite"))
        .unwrap()
        .query_row("SELECT count(*) FROM reminded WHERE email = ?1", [P], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(reminded, 0, "no reminder ever went to the prosecutor");
    let eml = cancelled_by_digest(
        &env,
        "20261125",
        P,
        &took[0].0,
        "the prosecutor's calendar was not told of the withdrawn 勘驗",
        &env.report("20261125")["mail"],
    );
    let text = text_of(&eml);
    assert!(text.contains("您關注的案件庭期有異動"), "{text}");
}

/// The review of the forty-seventh session's change (its 2): a case is
/// newly a prosecutor's only if the snapshot compared with could say who
/// had it. wu.cl, who opted in to the digest, was told 「新列為您承辦」 of
///訴 900, theirs all along, the night it came back after its last day (a
/// snapshot keeps no prosecutors of a case past it), and the night after
/// TPD's optional prosecutor file did not come (every case of the court).
#[test]
fn a_prosecutor_is_told_a_case_is_newly_theirs_only_when_it_is() {
    const P: &str = "wu.cl@moj.example";
    let env = Env::as_of(STORIES_CHECKED);
    let status = |batch: &Path, to: &str| {
        let big5 = |s: &str| encoding_rs::BIG5.encode(s).0.into_owned();
        crate::util::replace_bytes(
            &batch.join("TPD_case.csv"),
            &big5("訴,900,孝股,審理中,"),
            &big5(&format!("訴,900,孝股,{to}")),
        );
        crate::util::rehash(batch, "TPD_case.csv");
    };
    wu_with_the_digest(&env);
    let newly = |night: &str| {
        let eml = env.data().join(format!("mail/{night}/digest-{P}.eml"));
        eml.exists() && text_of(&eml).contains("新列為您承辦")
    };
    // Night 2: past its last day (上訴 of 115/09/01, a wrong date); night
    // 3: the date corrected, back.
    let two = wu_night(&env, "20261124", &[WU_FILED]);
    status(&two, "上訴,115/09/01");
    imported(env.import(&two, &[]));
    let three = wu_night(&env, "20261125", &[WU_FILED]);
    status(&three, "上訴,115/10/01");
    imported(env.import(&three, &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    assert!(!newly("20261125"), "訴 900 back: not newly theirs");
    // Night 4: TPD's prosecutor file does not come (it is optional); night
    // 5: it does.
    let four = wu_night(&env, "20261126", &[WU_FILED]);
    fs::remove_file(four.join("TPD_prosecutor.csv")).unwrap();
    crate::util::edit_manifest(&four, "TPD_prosecutor.csv", |_, _| None);
    imported(env.import(&four, &[]));
    imported(env.import(&wu_night(&env, "20261127", &[WU_FILED]), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    assert!(
        !newly("20261127"),
        "the court's file back: nothing newly theirs"
    );
}

/// The mail review of the forty-ninth session: the parties of a case
/// archived (歸檔) were warned it would stop being queryable after its
/// last day; its prosecutor's digest told the 歸檔 and no last day, and
/// the case was gone from their list after it without a word. The digest
/// says the last day of a case of theirs that ends soon, as a grant's
/// mail does.
#[test]
fn a_prosecutors_digest_says_the_last_day_of_a_case_that_ends_soon() {
    const P: &str = "wu.cl@moj.example";
    let env = Env::as_of(STORIES_CHECKED);
    wu_with_the_digest(&env);
    let two = wu_night(
        &env,
        "20261124",
        &[
            WU_FILED,
            "TPD,刑事,115,訴,900,2,115/11/24,歸檔,115/11/24 09:00:00,N",
        ],
    );
    let big5 = |s: &str| encoding_rs::BIG5.encode(s).0.into_owned();
    crate::util::replace_bytes(
        &two.join("TPD_case.csv"),
        &big5("訴,900,孝股,審理中,"),
        &big5("訴,900,孝股,歸檔,115/09/28"),
    );
    crate::util::rehash(&two, "TPD_case.csv");
    imported(env.import(&two, &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let eml = env.data().join(format!("mail/20261124/digest-{P}.eml"));
    let text = text_of(&eml);
    assert!(text.contains("歸檔"), "{text}");
    assert!(text.contains("最後可查詢日：115/11/28"), "{text}");
}

/// Night 20261123 imported with wu.cl's 訴 900 filed, and wu.cl known with
/// the verified address `wu.cl@moj.example`, the digest on (reminders off).
fn wu_with_the_digest(env: &Env) {
    imported(env.import(&wu_night(env, "20261123", &[WU_FILED]), &[]));
    prosecutor(env, "wu.cl", Some("wu.cl@moj.example"), false);
    rusqlite::Connection::open(env.data().join("accounts.sqlite"))
        .unwrap()
        .execute(
            "UPDATE prosecutor_accounts SET digests = 1 WHERE account = 'wu.cl'",
            [],
        )
        .unwrap();
}

/// TPD 刑事 115 訴 900, assigned to the prosecutor wu.cl alone (no grant):
/// filed, a 勘驗 announced on 115/11/24, and that entry withdrawn.
const WU_FILED: &str = "TPD,刑事,115,訴,900,1,115/11/20,分案,115/11/20 09:00:00,N";
const WU_ANNOUNCED: &str =
    "TPD,刑事,115,訴,900,2,115/11/24,117/05/05 09:30第三法庭勘驗,115/11/24 09:00:00,N";
const WU_WITHDRAWN: &str =
    "TPD,刑事,115,訴,900,2,115/11/24,117/05/05 09:30第三法庭勘驗,115/11/25 18:02:00,Y";

/// The batch of night `name` in the inbox: the sample's night (20261124's
/// for any night after it), with wu.cl's case 訴 900 and its `progress`.
fn wu_night(env: &Env, name: &str, progress: &[&str]) -> PathBuf {
    let to = env.dir.path().join("inbox").join(name);
    fs::create_dir_all(&to).unwrap();
    let from = sample(if name == "20261123" { name } else { "20261124" });
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    crate::util::append_rows(&to, "TPD_case.csv", &["TPD,刑事,115,訴,900,孝股,審理中,"]);
    crate::util::append_rows(&to, "TPD_prosecutor.csv", &["TPD,刑事,115,訴,900,wu.cl"]);
    crate::util::append_rows(&to, "TPD_progress.csv", progress);
    to
}

/// Case TPD 刑事 115 訴 1: filed, and its 言詞辯論 scheduled for 117/03/10.
const FILED_1: (u32, &str) = (1, "1,115/11/02,分案,115/11/02 09:00:00,N");
const SCHEDULED_1: (u32, &str) = (
    1,
    "2,115/11/20,117/03/10 10:00第一法庭言詞辯論,115/11/20 09:00:00,N",
);
/// Moved to 117/03/17 (rule 3), and that entry revised with a note on
/// 115/11/25, the hearing untouched.
const MOVED_1: (u32, &str) = (
    1,
    "3,115/11/24,117/03/17 10:00第一法庭言詞辯論,115/11/24 09:00:00,N",
);
const MOVED_1_REVISED: (u32, &str) = (
    1,
    "3,115/11/24,117/03/17 10:00第一法庭言詞辯論，請攜帶身分證明文件,115/11/25 09:00:00,N",
);

/// `email` turns digests off (reminders stay on).
fn digests_off(env: &Env, email: &str) {
    rusqlite::Connection::open(env.data().join("accounts.sqlite"))
        .unwrap()
        .execute("UPDATE accounts SET digests = 0 WHERE email = ?1", [email])
        .unwrap();
}

/// Noticed in the eighteenth session, reproduced here first: an address
/// with digests off and reminders on is told its cases' hearings'
/// changes, but "changed" was read from the hearing as it stands (moved,
/// cancelled, or SEQUENCE above 0), not from what tonight changed. The
/// entry that moved a hearing on an earlier night, revised by the court
/// without touching the hearing (news: a revised entry in the latest
/// three), sent it a second 庭期異動 mail for a change it had been told
/// of, with a calendar file that changes nothing.
#[test]
fn an_entry_that_moved_a_hearing_revised_on_a_later_night_is_not_told_again_as_a_change() {
    const A: &str = "a@example.com";
    const B: &str = "b@example.com";
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let root = env.dir.path();
    let one = vec![FILED_1, SCHEDULED_1];
    let grants = [(1, A), (1, B)];
    imported(env.import(&one_court_night(root, "20261123", &[1], &one, &grants), &[]));
    digests_off(&env, A);
    let uid = crate::hearings::case_hearings(&env.live_dump(), "TPD", "訴", 1)[0]["uid"]
        .as_str()
        .unwrap()
        .to_string();

    // Night 2: moved to 117/03/17 (rule 3): A is told.
    let mut two = one.clone();
    two.push(MOVED_1);
    imported(env.import(&one_court_night(root, "20261124", &[1], &two, &grants), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let moved = env.data().join(format!("mail/20261124/digest-{A}.eml"));
    assert!(moved.exists(), "{}", env.report("20261124")["mail"]);
    assert_eq!(
        uids_and_methods(&env, &moved),
        [(uid.clone(), "REQUEST".to_string())]
    );
    assert!(text_of(&moved).contains("您關注的案件庭期有異動"));

    // Night 3: the court revises the entry that moved it, adding a note:
    // the hearing is as it was, so A, which turned digests off, gets
    // nothing; B's digest has the revised entry, news as any is.
    let mut three = two.clone();
    three.push(MOVED_1_REVISED);
    imported(env.import(
        &one_court_night(root, "20261125", &[1], &three, &grants),
        &[],
    ));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let hearings = crate::hearings::case_hearings(&env.live_dump(), "TPD", "訴", 1);
    assert!(
        hearings.iter().all(|h| h["uid"] == uid.as_str()),
        "the revised entry keeps its hearing: {hearings:?}"
    );
    assert!(
        env.data()
            .join(format!("mail/20261125/digest-{B}.eml"))
            .exists(),
        "the revised entry is news: {}",
        env.report("20261125")["mail"]
    );
    assert!(
        !env.data()
            .join(format!("mail/20261125/digest-{A}.eml"))
            .exists(),
        "A was told of the move on night 2; the revision changes nothing: {}",
        env.report("20261125")["mail"]
    );
    assert_eq!(digest_items(&env, A), 1);
}

/// Review finding (2026-12-03, twentieth session), reproduced here first:
/// a change the snapshot the night's mail compares with already had is
/// taken as told by that snapshot's own digests, but those may not have
/// gone: the night whose import found the live snapshot damaged waits for
/// its mail (and may be forgotten), while the next night is mailed
/// against it. The move night 2 brought reaches the address that keeps
/// only reminders on night 3, when the court revises the entry that made
/// it: night 2's digests were not queued.
#[test]
fn a_change_whose_nights_mail_waits_is_told_when_its_entry_is_revised_the_next_night() {
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let two = moved_while_the_live_snapshot_is_damaged(&env);
    let waiting = env.etl(&["outbox", "pending"]);
    assert!(
        waiting.stdout.contains("20261124-1.sqlite"),
        "{}",
        waiting.stdout
    );

    // Night 3, mailed against night 2: the court revises the move's entry.
    let mut three = two.clone();
    three.push(MOVED_1_REVISED);
    env.import(&night_of_case_1(&env, "20261125", &three), &[]);
    let _ = env.etl(&["send", "--now"]);
    told_the_move(
        &env,
        "20261125",
        "the move night 2 brought, never mailed, is not told",
    );
}

/// Second review finding (2026-12-03, twentieth session), reproduced here
/// first: a night whose mail was never queued (forgotten) leaves its
/// changes untold for good, not only on the night after it: night 3 is
/// mailed against night 2 with no news of the move, and when the court
/// revises the move's entry on night 4, the address that keeps only
/// reminders is told it then.
#[test]
fn a_change_whose_nights_mail_was_forgotten_is_told_when_its_entry_is_revised_later() {
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let two = moved_while_the_live_snapshot_is_damaged(&env);
    let forgot = env.etl(&["outbox", "forget", "20261124-1.sqlite"]);
    assert_eq!(forgot.code, 0, "{}{}", forgot.stdout, forgot.stderr);

    // Night 3: nothing new. Night 4: the move's entry revised.
    imported(env.import(&night_of_case_1(&env, "20261125", &two), &[]));
    let mut four = two.clone();
    four.push(MOVED_1_REVISED);
    imported(env.import(&night_of_case_1(&env, "20261126", &four), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    told_the_move(
        &env,
        "20261126",
        "the move of a forgotten night is never told",
    );
}

/// The address of the tests of a move told to an address that keeps only
/// reminders.
const KEEPS_REMINDERS: &str = "a@example.com";

/// Night `night` of case 1 as `progress`, granted to [`KEEPS_REMINDERS`].
fn night_of_case_1(env: &Env, night: &str, progress: &[(u32, &str)]) -> PathBuf {
    one_court_night(
        env.dir.path(),
        night,
        &[1],
        progress,
        &[(1, KEEPS_REMINDERS)],
    )
}

/// Night 1: case 1's hearing scheduled, [`KEEPS_REMINDERS`] turning
/// digests off; its file then damaged, and night 2, which moves the
/// hearing, published with its mail waiting. Night 2's entries.
fn moved_while_the_live_snapshot_is_damaged(env: &Env) -> Vec<(u32, &'static str)> {
    let one = vec![FILED_1, SCHEDULED_1];
    imported(env.import(&night_of_case_1(env, "20261123", &one), &[]));
    digests_off(env, KEEPS_REMINDERS);
    crate::util::damage(&env.data().join("snapshots/20261123-1.sqlite"));
    let mut two = one.clone();
    two.push(MOVED_1);
    env.import(&night_of_case_1(env, "20261124", &two), &[]);
    assert_eq!(
        fs::read_to_string(env.data().join("CURRENT"))
            .unwrap()
            .trim(),
        "20261124-1.sqlite"
    );
    two
}

/// [`KEEPS_REMINDERS`]'s digest of `night` carries the move: its one
/// calendar file puts the hearing on 117/03/17 (else `why`).
fn told_the_move(env: &Env, night: &str, why: &str) {
    let eml = env
        .data()
        .join(format!("mail/{night}/digest-{KEEPS_REMINDERS}.eml"));
    assert!(eml.exists(), "{why}: {}", env.report(night)["mail"]);
    let events = events(env, &eml);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["method"], "REQUEST");
    assert_eq!(events[0]["start"], "2028-03-17T10:00:00+08:00");
}

/// Fifth review's nit: a night imported with mail off has its news never
/// mailed, so the record of told snapshots must not start after it (an
/// address that keeps only reminders is then told every change again,
/// the safe side). Nights 1 and 2 with mail on start it; night 1 with
/// mail off keeps it from starting.
#[test]
fn a_night_imported_with_mail_off_keeps_the_told_record_from_starting() {
    let told_after = |mail_on_night_1: bool| {
        let env = Env::new();
        let one = vec![FILED_1, SCHEDULED_1];
        let night_1 = night_of_case_1(&env, "20261123", &one);
        let mut import = env.command();
        import.arg("import").arg(&night_1);
        if !mail_on_night_1 {
            import.env("CPOR_MAIL_ENABLED", "false");
        }
        imported(import.output().unwrap().into());
        let mut two = one.clone();
        two.push(MOVED_1);
        imported(env.import(&night_of_case_1(&env, "20261124", &two), &[]));
        let night_2 = env.data().join("snapshots/20261124-1.sqlite");
        let sha256 = fs::read_to_string(night_2.with_extension("sqlite.sha256")).unwrap();
        mail::outbox::Outbox::open(&env.data())
            .unwrap()
            .told(&mail::outbox::SnapshotId {
                name: "20261124-1.sqlite".into(),
                sha256: sha256.split_whitespace().next().unwrap().into(),
            })
            .unwrap()
    };
    assert!(told_after(true), "nights 1 and 2 mailed");
    assert!(!told_after(false), "night 1 imported with mail off");
}

/// The other side of the test above: an address told only its hearings'
/// changes is told of a hearing whose file the snapshot the night's mail
/// compares with had, when calendars took another from a later one. The
/// move night 2 mailed (SEQUENCE 1, 117/03/17) is rolled back; on night
/// 3 the court revises the entry that scheduled the hearing, which stands
/// as night 1 had it (117/03/10, SEQUENCE 0): the file goes above the
/// move's floor, and the address's calendar is moved back.
#[test]
fn after_a_rollback_a_revised_entry_moves_back_the_hearing_the_calendar_took() {
    const A: &str = "a@example.com";
    let env = Env::as_of(STORIES_CHECKED).with_reminders();
    let root = env.dir.path();
    let one = vec![FILED_1, SCHEDULED_1];
    let grants = [(1, A)];
    imported(env.import(&one_court_night(root, "20261123", &[1], &one, &grants), &[]));
    digests_off(&env, A);
    let mut two = one.clone();
    two.push(MOVED_1);
    imported(env.import(&one_court_night(root, "20261124", &[1], &two, &grants), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let (_, files) = digest_files(&env, "20261124", A).expect("the move is told");
    assert_eq!(files, [("REQUEST".to_string(), 1)]);

    let run = env.etl(&["rollback", "20261123"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let mut three = one.clone();
    three.push((
        1,
        "2,115/11/20,117/03/10 10:00第一法庭言詞辯論，請攜帶身分證明文件,115/11/25 09:00:00,N",
    ));
    imported(env.import(
        &one_court_night(root, "20261125", &[1], &three, &grants),
        &[],
    ));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let eml = env.data().join(format!("mail/20261125/digest-{A}.eml"));
    assert!(
        eml.exists(),
        "the calendar keeps the rolled-back move: {}",
        env.report("20261125")["mail"]
    );
    let events = events(&env, &eml);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["method"], "REQUEST");
    assert_eq!(events[0]["sequence"], 2);
    assert_eq!(events[0]["start"], "2028-03-10T10:00:00+08:00");
}

/// Review finding (2026-12-03, nineteenth session), reproduced here first:
/// when the mail compares with another snapshot than the import carried
/// on from (the live one damaged at the import, restored since), every
/// followed case is compared for corrections without news, but a case
/// followed only by a prosecutor was compared only if the import had
/// marked it, against the snapshot it carried on from: the withdrawal of
/// the 勘驗 the prosecutor's digest had announced was never mailed.
#[test]
fn a_prosecutors_withdrawal_is_mailed_after_the_damaged_live_snapshot_is_restored() {
    const P: &str = "wu.cl@moj.example";
    let env = Env::as_of(STORIES_CHECKED);
    wu_with_the_digest(&env);
    imported(env.import(&wu_night(&env, "20261124", &[WU_FILED, WU_ANNOUNCED]), &[]));
    assert_eq!(env.etl(&["send", "--now"]).code, 0);
    let took = uids_and_methods(
        &env,
        &env.data().join(format!("mail/20261124/digest-{P}.eml")),
    );
    assert_eq!(took.len(), 1, "{took:?}");
    // Night 2's file damaged: night 3 carries on from night 1's, its mail
    // waits; the operator restores night 2's file from a backup.
    let live = env.data().join("snapshots/20261124-1.sqlite");
    let backup = fs::read(&live).unwrap();
    crate::util::damage(&live);
    env.import(
        &wu_night(&env, "20261125", &[WU_FILED, WU_ANNOUNCED, WU_WITHDRAWN]),
        &[],
    );
    fs::write(&live, &backup).unwrap();
    let sent = env.etl(&["send", "--now"]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    cancelled_by_digest(
        &env,
        "20261125",
        P,
        &took[0].0,
        "the 勘驗 night 2 mailed, withdrawn on night 3, is never cancelled",
        &sent.stdout,
    );
}

/// The digest of `night` to `email`, which must exist (else `why`, with
/// `context`) and carry exactly one calendar file: the CANCEL of `uid`.
fn cancelled_by_digest(
    env: &Env,
    night: &str,
    email: &str,
    uid: &str,
    why: &str,
    context: &dyn std::fmt::Display,
) -> PathBuf {
    let eml = env.data().join(format!("mail/{night}/digest-{email}.eml"));
    assert!(eml.exists(), "{why}: {context}");
    assert_eq!(
        uids_and_methods(env, &eml),
        [(uid.to_string(), "CANCEL".to_string())]
    );
    eml
}

/// The UID and METHOD of each calendar file of `eml`.
fn uids_and_methods(env: &Env, eml: &Path) -> Vec<(String, String)> {
    events(env, eml)
        .iter()
        .map(|e| {
            (
                e["uid"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// How many digest items the outbox holds for `email`, all nights.
fn digest_items(env: &Env, email: &str) -> i64 {
    rusqlite::Connection::open(env.data().join("outbox.sqlite"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM items WHERE kind = 'digest' AND email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
}

/// A case left out of a night (a rejected row) is kept in the snapshot
/// for the next night's comparison only: no reminder is worked out from
/// it (the contract builds the night from its batch alone; a clerk may
/// have revoked a grant among the rejected rows). The same night with the
/// row right reminds.
#[test]
fn a_case_left_out_of_the_night_is_reminded_of_by_nobody() {
    let reminded = |row_rejected: bool| {
        let env = Env::new();
        let rows = [(
            1,
            "1,115/11/20,115/12/01 10:00第一法庭言詞辯論,115/11/20 09:00:00,N".to_string(),
        )];
        let grants = [(1, "a@example.com".to_string())];
        let n1 = env.dir.path().join("20261123");
        crate::util::write_tpd_batch(&n1, &[(1, "審理中", "")], &rows, &grants);
        let n2 = env.dir.path().join("20261124");
        let status_date = if row_rejected { "115/13/40" } else { "" };
        crate::util::write_tpd_batch(&n2, &[(1, "審理中", status_date)], &rows, &grants);
        for night in [&n1, &n2] {
            let run = env.import(night, &[]);
            assert!(matches!(run.code, 0 | 3), "{}{}", run.stdout, run.stderr);
        }
        send_with(&env, "2026-11-30", "1");
        reminders(&env)
            .keys()
            .any(|(_, email)| email == "a@example.com")
    };
    assert!(reminded(false), "the hearing of 115/12/01, a day before");
    assert!(!reminded(true), "not from a case left out of the night");
}
