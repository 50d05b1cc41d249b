//! Hearings over the sample nights: the night after the upgrade to snapshot
//! version 3, which reads and carries over a version 1 or 2 snapshot
//! (hearings derived from the entries it stores); and every
//! hearing as a calendar file that a real calendar library reads
//! (`tests/support/check_ics.py`, Python's icalendar, installed by
//! `scripts/setup-test-deps`).

use std::collections::BTreeMap;
use std::fs;

use chrono::{NaiveDate, TimeZone, Utc};
use etl::model::{CaseData, HearingData};
use etl::snapshot::read::Snapshot;
use schemas::calendar::{Calendar, Hearing, Method, Organizer, Status};
use schemas::hearing::State;
use schemas::{CaseRef, SNAPSHOT_SCHEMA_VERSION};
use store::layout::Store;

use crate::python::{check_ics, run_check_ics};
use crate::util::{repo_root, sample, Env};

/// Every case of the live snapshot, with its court, and the snapshot's
/// schema version.
fn live_cases(env: &Env) -> (i32, Vec<(String, CaseData)>) {
    let store = Store::new(env.data());
    let snap = Snapshot::open(&store.live().unwrap().unwrap()).unwrap();
    let mut out = Vec::new();
    if let Some((lo, hi)) = snap.id_range().unwrap() {
        snap.for_each_case(lo, hi, |court, case| {
            out.push((court.to_string(), case));
            Ok(())
        })
        .unwrap();
    }
    (snap.version, out)
}

/// A hearing as a dump shows it: (序號, when, state, sequence, UID).
type Row = (u64, String, String, u64, String);

/// A dump's cases: the 序號 of each one's latest three entries, and its
/// hearings.
fn hearings_by_case(dump: &str) -> BTreeMap<String, (Vec<u64>, Vec<Row>)> {
    dump.lines()
        .map(|l| {
            let c: serde_json::Value = serde_json::from_str(l).unwrap();
            let key = format!(
                "{} {} {} {} {}",
                c["court"], c["category"], c["year"], c["word"], c["number"]
            );
            let latest = c["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap())
                .collect();
            let rows = c["hearings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h["seq"].as_u64().unwrap(),
                        h["at"].as_str().unwrap().to_string(),
                        h["state"].as_str().unwrap().to_string(),
                        h["sequence"].as_u64().unwrap(),
                        h["uid"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (key, (latest, rows))
        })
        .collect()
}

/// A review of the runbook (the forty-fifth session): the night after a
/// build that raises the hearing rules works out every case's hearings
/// again, and the corrections it finds may trip the flood guard; the
/// runbook said "the release notes say so", but nothing did, and the
/// import was silent, so an operator told "leave them held if the news is
/// not real" could drop real calendar corrections. The import says it.
#[test]
fn a_night_after_the_hearing_rules_changed_says_so() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    env.republish_live(|c| {
        c.execute_batch("UPDATE meta SET value = '3' WHERE key = 'hearing_rules'")
            .unwrap()
    });
    let run = env.import(&sample("20261124"), &[]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!(
            "hearing rules 3 → {}: every case's hearings are worked out again",
            etl::hearings::RULES
        )),
        "{said}"
    );
    // Not on a night under the same rules.
    let run = env.import(&env.copy_night_as("20261124", "20261125"), &[]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(!said.contains("hearing rules"), "{said}");
}

#[test]
fn the_night_after_the_upgrade_reads_and_carries_over_a_version_1_snapshot() {
    upgrade_from(1);
}

/// Version 2 stored a row per hearing; its rows are not read (a stale row
/// here would show), its hearings are derived like version 1's.
#[test]
fn the_night_after_the_upgrade_reads_and_carries_over_a_version_2_snapshot() {
    upgrade_from(2);
}

/// Version 4 kept the lists and digests as rows of their own (`hearings`,
/// `extracted`): read as they are (every hearing, not only those of the
/// latest three entries, as versions 1 and 2 give), a court carried over
/// from it keeps them, and the night after gives the golden dump.
#[test]
fn the_night_after_the_upgrade_reads_and_carries_over_a_version_4_snapshot() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let v5 = env.dump("20261123");
    env.republish_live(crate::snapshots::as_version_4);
    assert_eq!(live_cases(&env).0, 4);
    assert!(
        env.dump("20261123") == v5,
        "a version 4 snapshot reads otherwise than the version 5 it was made from"
    );
    night_2_gives_the_golden_dump(&env, 4);
}

/// Version 5 had version 6's tables, and hearing rules 6, which left an
/// entry's second hearing of a kind unread: read as it is, and the night
/// after works every case out again and gives the golden dump.
#[test]
fn the_night_after_the_upgrade_reads_and_carries_over_a_version_5_snapshot() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let v6 = env.dump("20261123");
    env.republish_live(|conn| {
        conn.execute_batch(
            "UPDATE meta SET value = '5' WHERE key = 'schema_version';
             UPDATE meta SET value = '6' WHERE key = 'hearing_rules'",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
    });
    assert_eq!(live_cases(&env).0, 5);
    assert!(
        env.dump("20261123") == v6,
        "a version 5 snapshot reads otherwise than the version 6 it was made from"
    );
    night_2_gives_the_golden_dump(&env, 5);
}

fn upgrade_from(version: i32) {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    assert_eq!(live_cases(&env).0, SNAPSHOT_SCHEMA_VERSION);
    let v2 = env.dump("20261123");

    // Night 1 as a build of `version` would have published it (without
    // the hearings of entries older than the latest three).
    env.republish_live(|conn| {
        conn.execute_batch("DROP TABLE hearing_chunks").unwrap();
        if version == 2 {
            conn.execute_batch(
                "CREATE TABLE hearings (case_id INTEGER, seq INTEGER, uid TEXT);
                 INSERT INTO hearings SELECT id, 99, 'stale@cpor' FROM cases",
            )
            .unwrap();
        }
        conn.pragma_update(None, "user_version", version).unwrap();
        conn.execute_batch("VACUUM").unwrap();
    });
    assert_eq!(env.current(), "20261123-2.sqlite");
    assert_eq!(live_cases(&env).0, version);

    // Read back, each case's hearings are those its latest three entries
    // (all an older snapshot stores) give: the records of version 3 whose
    // entry is among them, the same in every respect.
    let (full, old) = (
        hearings_by_case(&v2),
        hearings_by_case(&env.dump("20261123")),
    );
    assert_eq!(
        full.keys().collect::<Vec<_>>(),
        old.keys().collect::<Vec<_>>()
    );
    let mut fewer = 0;
    for (case, (latest, rows)) in &full {
        let kept: Vec<Row> = rows
            .iter()
            .filter(|h| latest.contains(&h.0))
            .cloned()
            .collect();
        fewer += rows.len() - kept.len();
        assert_eq!(old[case], (latest.clone(), kept), "{case}");
    }
    // 民事 115 重訴 77's 準備程序 and 刑事 115 交易 45's are older than the
    // latest three.
    assert_eq!(fewer, 2);

    // Night 2 over it: HLD, absent, is carried over from the older version with the
    // hearing its entries give. The result is what night 2 always gives.
    night_2_gives_the_golden_dump(&env, version);
}

/// Night 2 over the live snapshot of `env`, of an older `version`: HLD,
/// absent, is carried over from it, and the result is what night 2 always
/// gives, in this build's version.
fn night_2_gives_the_golden_dump(env: &Env, version: i32) {
    let second = env.import(&sample("20261124"), &[]);
    assert_eq!(second.code, 3, "{}{}", second.stdout, second.stderr);
    assert_eq!(live_cases(env).0, SNAPSHOT_SCHEMA_VERSION);
    let want = fs::read_to_string(repo_root().join("tests/golden/dump-20261124.jsonl")).unwrap();
    assert!(
        env.dump("20261124") == want,
        "night 2 over version {version} differs from the golden dump"
    );
}

/// A hearing's current event: its row with the greatest sequence.
fn heads(hearings: &[HearingData]) -> Vec<&HearingData> {
    let mut by_uid: BTreeMap<_, &HearingData> = BTreeMap::new();
    for h in hearings {
        let e = by_uid.entry(h.origin).or_insert(h);
        if h.sequence > e.sequence {
            *e = h;
        }
    }
    by_uid.into_values().collect()
}

#[test]
fn every_hearing_is_a_calendar_file_a_real_calendar_library_reads() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    env.import(&sample("20261124"), &[]);
    let dir = env.dir.path().join("ics");
    fs::create_dir_all(&dir).unwrap();
    let stamp = Utc.with_ymd_and_hms(2026, 11, 24, 1, 2, 3).unwrap();
    let organizer = Organizer {
        name: "案件進度線上查詢服務".into(),
        email: "noreply@example.org".into(),
    };
    let mut files = Vec::new();
    let mut want = Vec::new();
    let mut feed = Vec::new();
    for (court, case) in live_cases(&env).1 {
        let case_ref = CaseRef {
            court: court.clone(),
            key: case.key.clone(),
        };
        let title = case_ref.title();
        let court_name = schemas::contract().court(&court).unwrap().name.clone();
        for h in heads(&case.hearings.decode()) {
            let uid = h.uid(&court, &case.key);
            let event = Hearing {
                uid: &uid,
                sequence: h.sequence,
                at: h.at,
                courtroom: h.courtroom.as_deref(),
                kind: h.kind,
                state: h.state,
                case_title: &title,
                court_name: &court_name,
            }
            .event();
            // A hearing that no longer takes place at that time is
            // cancelled; any other is published (tentative if uncertain).
            let method = match h.state {
                State::Moved | State::Cancelled => Method::Cancel,
                State::Scheduled | State::Uncertain => Method::Publish,
            };
            let status = match method {
                Method::Cancel => "CANCELLED",
                _ if event.status == Status::Tentative => "TENTATIVE",
                _ => "CONFIRMED",
            };
            want.push(format!(
                "{} {} {} {status}",
                uid,
                h.sequence,
                match method {
                    Method::Cancel => "CANCEL",
                    _ => "PUBLISH",
                }
            ));
            let path = dir.join(format!("{uid}.ics"));
            let cal = Calendar {
                method,
                name: None,
                organizer: Some(organizer.clone()),
                attendee: None,
                events: vec![event.clone()],
            };
            fs::write(&path, cal.write(stamp)).unwrap();
            files.push(path);
            feed.push(event);
        }
    }
    // All of them in one calendar, as a feed lists them.
    let n = feed.len();
    let path = dir.join("feed.ics");
    let cal = Calendar {
        method: Method::Publish,
        name: Some("案件庭期".into()),
        organizer: Some(organizer.clone()),
        attendee: None,
        events: feed,
    };
    fs::write(&path, cal.write(stamp)).unwrap();
    files.push(path);

    let events = check_ics(&files);
    assert_eq!(events.len(), files.len() - 1 + n);
    let mut got: Vec<String> = events
        .iter()
        .filter(|e| !e["file"].as_str().unwrap().ends_with("feed.ics"))
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["uid"].as_str().unwrap(),
                e["sequence"],
                e["method"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // The sample's moved hearing (民事 115 重訴 77: 115/12/03 → 115/12/01),
    // its cancelled one (民事 115 簡 33's 調解) and the revised 宣判 (刑事 115
    // 訴 100: 115/11/30 on night 1, 115/12/15 now), as a library reads them.
    let find = |start: &str| {
        events
            .iter()
            .find(|e| e["start"] == start && !e["file"].as_str().unwrap().ends_with("feed.ics"))
            .unwrap_or_else(|| panic!("no event at {start}: {events:#?}"))
    };
    let moved = find("2026-12-01T10:30:00+08:00");
    assert_eq!(
        (moved["sequence"].as_u64(), moved["method"].as_str()),
        (Some(1), Some("PUBLISH"))
    );
    let cancelled = find("2026-11-27T14:00:00+08:00");
    assert_eq!(
        (cancelled["sequence"].as_u64(), cancelled["status"].as_str()),
        (Some(1), Some("CANCELLED"))
    );
    assert_eq!(find("2026-12-15T10:00:00+08:00")["sequence"], 1);
    assert_eq!(find("2026-11-25T14:00:00+08:00")["sequence"], 0);
}

#[test]
fn the_calendar_checker_refuses_what_calendar_apps_would_misread() {
    let dir = tempfile::tempdir().unwrap();
    let good = Calendar {
        method: Method::Publish,
        name: None,
        organizer: Some(Organizer {
            name: "案件進度查詢".into(),
            email: "noreply@cpor.example".into(),
        }),
        attendee: None,
        events: vec![Hearing {
            uid: "x@cpor",
            sequence: 0,
            at: NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(9, 30, 0)
                .unwrap(),
            courtroom: None,
            kind: "開庭",
            state: State::Scheduled,
            case_title: "臺灣臺北地方法院 民事 115年度訴字第100號",
            court_name: "臺灣臺北地方法院",
        }
        .event()],
    }
    .write(Utc::now());
    let broken = [
        ("no-uid", good.replace("UID:x@cpor\r\n", "")),
        ("no-dtstamp", {
            let at = good.find("DTSTAMP:").unwrap();
            let end = at + good[at..].find("\r\n").unwrap() + 2;
            format!("{}{}", &good[..at], &good[end..])
        }),
        (
            "floating",
            good.replace("DTSTART;TZID=Asia/Taipei:", "DTSTART:"),
        ),
        ("no-method", good.replace("METHOD:PUBLISH\r\n", "")),
        // RFC 5546 3.2.1: a PUBLISH names its organizer (the feed had none)
        ("publish-without-organizer", {
            let at = good.find("ORGANIZER").unwrap();
            let end = at + good[at..].find("\r\n").unwrap() + 2;
            format!("{}{}", &good[..at], &good[end..])
        }),
        ("lf", good.replace("\r\n", "\n")),
    ];
    let mut paths = Vec::new();
    for (name, text) in &broken {
        let path = dir.path().join(format!("{name}.ics"));
        fs::write(&path, text).unwrap();
        paths.push(path);
    }
    for path in &paths {
        let out = run_check_ics(&[path]);
        assert!(!out.status.success(), "{} passed", path.display());
    }
    let path = dir.path().join("good.ics");
    fs::write(&path, &good).unwrap();
    check_ics(&[&path]);
}

/// The hearings of one case of a dump, as JSON.
pub fn case_hearings(dump: &str, court: &str, word: &str, number: u64) -> Vec<serde_json::Value> {
    dump.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|c| c["court"] == court && c["word"] == word && c["number"] == number)
        .unwrap_or_else(|| panic!("no case {court} {word} {number} in the dump"))["hearings"]
        .as_array()
        .unwrap()
        .clone()
}

/// A hearing's row with the greatest sequence: the event as calendars get
/// it tonight.
fn head_of<'a>(rows: &'a [serde_json::Value], uid: &str) -> &'a serde_json::Value {
    rows.iter()
        .filter(|h| h["uid"] == uid)
        .max_by_key(|h| h["sequence"].as_u64().unwrap())
        .unwrap_or_else(|| panic!("no hearing {uid} in {rows:?}"))
}

/// Night 2's corrections to 民事 115 重訴 77 (sample night 1): 序號 7, the
/// move of 序號 5's 言詞辯論 from 115/12/03 to 115/12/01, withdrawn; 序號
/// 8's 勘驗 on 115/11/25 revised to 準備程序.
pub const CORRECTIONS: [&str; 2] = [
    "TPD,民事,115,重訴,77,7,115/11/20,115/12/01 10:30第十二法庭言詞辯論（改期）,115/11/24 18:00:00,Y",
    "TPD,民事,115,重訴,77,8,115/11/21,115/11/25 14:00第十二法庭準備程序,115/11/24 18:05:00,N",
];

/// Two sessions of one kind set in one entry (`…審理；…審理`): each is a
/// hearing of its own in the snapshot, with a UID of its own, so each has
/// its calendar file and its reminders (rules version 7; the second was
/// left unread). The case's other hearings keep their UIDs.
#[test]
fn two_sessions_of_one_kind_set_in_one_entry_are_two_hearings() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let before = case_hearings(&env.live_dump(), "TPD", "重訴", 77);
    let night = env.copy_night("20261124");
    crate::util::append_rows(
        &night,
        "TPD_progress.csv",
        &["TPD,民事,115,重訴,77,9,115/11/24,115/12/15 09:30第十二法庭審理；115/12/22 09:30第十二法庭審理,115/11/24 18:10:00,N"],
    );
    let run = env.import(&night, &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let after = case_hearings(&env.live_dump(), "TPD", "重訴", 77);
    let set: Vec<_> = after.iter().filter(|h| h["seq"] == 9).collect();
    let said: Vec<(String, String, String)> = set
        .iter()
        .map(|h| {
            (
                h["at"].as_str().unwrap().to_string(),
                h["kind"].as_str().unwrap().to_string(),
                h["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("115/12/15 09:30".into(), "審理".into(), "scheduled".into()),
            ("115/12/22 09:30".into(), "審理".into(), "scheduled".into()),
        ],
        "{after:?}"
    );
    assert_ne!(set[0]["uid"], set[1]["uid"]);
    for h in &before {
        assert!(
            after.iter().any(|a| a["uid"] == h["uid"]),
            "a hearing of the night before lost its UID: {h}"
        );
    }
}

/// A correction a court makes to what calendars already hold updates them
/// instead of being ignored or making a second event. 民事 115 重訴 77
/// (sample night 1): 序號 5's 言詞辯論 on 115/12/03 moved by 序號 7 to
/// 115/12/01 (SEQUENCE 1), and 序號 8's 勘驗 on 115/11/25. Night 2's
/// export withdraws 序號 7 (刪除 = Y) and revises 序號 8 to 準備程序.
///
/// - The hearing stands on 115/12/03 again. Calendars that took the move
///   hold SEQUENCE 1, and an app ignores an update with a lower SEQUENCE
///   than it holds (RFC 5546 §2.1.5): tonight's must be higher, or their
///   owners keep the withdrawn date.
/// - The revised 勘驗 is the same hearing (the same entry): the same UID
///   with a higher SEQUENCE, or calendars show both.
/// - A hearing nothing changed keeps its SEQUENCE.
#[test]
fn a_correction_by_the_court_updates_calendars_instead_of_being_ignored_or_doubled() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let before = case_hearings(&env.live_dump(), "TPD", "重訴", 77);
    let uid_of = |seq: u64| -> String {
        let row = before.iter().find(|h| h["seq"] == seq).unwrap();
        row["uid"].as_str().unwrap().to_string()
    };
    let (argued, inspected, prepared) = (uid_of(5), uid_of(8), uid_of(2));
    assert_eq!(head_of(&before, &argued)["sequence"], 1);
    assert_eq!(head_of(&before, &argued)["at"], "115/12/01 10:30");

    let night = env.copy_night("20261124");
    crate::util::append_rows(&night, "TPD_progress.csv", &CORRECTIONS);
    let run = env.import(&night, &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let after = case_hearings(&env.live_dump(), "TPD", "重訴", 77);

    let back = head_of(&after, &argued);
    assert_eq!(back["at"], "115/12/03 10:30", "{after:?}");
    assert_eq!(back["state"], "scheduled");
    assert!(
        back["sequence"].as_u64().unwrap() > 1,
        "the move withdrawn, the hearing's SEQUENCE fell back to {} (calendars hold 1)",
        back["sequence"]
    );

    let revised: Vec<_> = after.iter().filter(|h| h["seq"] == 8).collect();
    assert_eq!(revised.len(), 1, "{after:?}");
    assert_eq!(revised[0]["kind"], "準備程序");
    assert_eq!(
        revised[0]["uid"], inspected,
        "the revised entry's hearing has a new UID: calendars would show it twice"
    );
    assert!(revised[0]["sequence"].as_u64().unwrap() > 0);

    assert_eq!(head_of(&after, &prepared), head_of(&before, &prepared));
    // The report counts them for the operator.
    let report = env.report("20261124");
    let stats = &crate::util::court(&report, "TPD")["stats"];
    assert_eq!(stats["hearings_carried_on"], 2, "{stats}");
}
