//! Imports of generated batches (national shape, small size): the output
//! does not depend on the thread count or on how files are chunked, and a
//! second night imports over the first.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{court, Env};

fn generate(dir: &Path, cases: u64) -> Vec<PathBuf> {
    generator::generate(
        dir,
        &generator::Params {
            seed: 11,
            cases,
            first_night: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            nights: 2,
            courts: Vec::new(),
            news_share: 0.05,
        },
    )
    .unwrap()
}

/// Imports both nights with these settings; returns the two snapshots' bytes.
fn import_both(env: &Env, nights: &[PathBuf], threads: &str, chunk_bytes: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for night in nights {
        let mut cmd = env.command();
        cmd.env("CPOR_IMPORT_CHUNK_BYTES", chunk_bytes)
            .arg("import")
            .arg(night)
            .args(["--threads", threads]);
        let run: crate::util::Run = cmd.output().unwrap().into();
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let name = env.current();
        out.push(fs::read(env.data().join("snapshots").join(name)).unwrap());
    }
    out
}

#[test]
fn threads_and_chunks_never_change_the_snapshot() {
    let gen = tempfile::tempdir().unwrap();
    let nights = generate(gen.path(), 6000);
    // The biggest progress file must be split for this test to mean anything.
    let biggest = fs::read_dir(&nights[0])
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap();
    assert!(
        biggest > 64 * 1024 * 8,
        "files too small to chunk: {biggest}"
    );

    let one = Env::new();
    let single = import_both(&one, &nights, "1", "1000000000");
    let many = Env::new();
    let chunked = import_both(&many, &nights, "4", "65536");
    for (night, (a, b)) in single.iter().zip(&chunked).enumerate() {
        assert!(
            a == b,
            "night {} differs between 1 thread unchunked and 4 threads in 64 KiB chunks",
            night + 1
        );
    }
    assert_eq!(one.live_dump(), many.live_dump());

    let report = many.report("20261124");
    assert_eq!(report["outcome"], "published");
    let tpd = &court(&report, "TPD")["stats"];
    assert!(tpd["versions_collapsed"].as_u64().unwrap() > 0);
    assert!(tpd["withdrawn"].as_u64().unwrap() > 0);
    assert_eq!(
        court(&report, "PCD")["stats"]["files"]["progress"]["encoding"],
        "utf8"
    );
    assert_eq!(court(&report, "TPS")["status"], "out_of_scope");
}

/// Per court of a night's report: (court, hearings, uncertain, lists
/// copied from the live snapshot).
fn hearing_stats(env: &Env, date: &str) -> Vec<(String, u64, u64, u64)> {
    env.report(date)["courts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "imported")
        .map(|c| {
            let s = &c["stats"];
            (
                c["court"].as_str().unwrap().to_string(),
                s["hearings"].as_u64().unwrap(),
                s["hearings_uncertain"].as_u64().unwrap(),
                s["hearing_lists_reused"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The live snapshot's digests, by case key.
fn digests(env: &Env) -> Vec<(String, String, i64, String, i64, u64)> {
    let store = store::layout::Store::new(env.data());
    let live = store.live().unwrap().unwrap();
    let conn = rusqlite::Connection::open(&live.path).unwrap();
    let layout = schemas::hearing_store::Layout::read(&conn).unwrap();
    let mut key = conn
        .prepare("SELECT court, category, year, word, number FROM cases WHERE id = ?1")
        .unwrap();
    layout
        .digests(&conn, 1, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(id, digest)| {
            key.query_row([id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    digest,
                ))
            })
            .unwrap()
        })
        .collect()
}

/// Night 2's PCD_progress.csv (UTF-8) with the first row of a `queryable`
/// 民事 case that announces a hearing (`115/10/24 15:30第十五法庭訊問`) dated 115/12/30
/// instead: the same length, the same entry otherwise, which only reading
/// its text again shows. Gives the case's key as the dump names it, and
/// the text.
fn move_a_hearing(night: &Path, queryable: impl Fn(&str) -> bool) -> (String, String) {
    let path = night.join("PCD_progress.csv");
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let announces = |t: &str| {
        let b = t.as_bytes();
        b.len() > 16 && b[3] == b'/' && b[6] == b'/' && b[9] == b' ' && t[10..15].contains(':')
    };
    let at = lines
        .iter()
        .position(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f.len() == 10
                && f[1] == "民事"
                && announces(f[7])
                && !f[7].starts_with("115/12/30")
                && queryable(&format!("{} {} {} {}", f[1], f[2], f[3], f[4]))
        })
        .unwrap();
    let fields: Vec<&str> = lines[at].trim_end().split(',').collect();
    let moved = format!("115/12/30{}", &fields[7][9..]);
    assert_eq!(moved.len(), fields[7].len());
    let key = format!("{} {} {} {}", fields[1], fields[2], fields[3], fields[4]);
    let mut changed: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    changed[7] = moved.clone();
    lines[at] = changed.join(",") + "\r\n";
    fs::write(&path, lines.concat()).unwrap();
    crate::util::rehash(night, "PCD_progress.csv");
    (key, moved)
}

/// A case's line of a dump, by its key (`民事 115 訴 1`).
fn dumped_opt<'a>(dump: &'a str, court: &str, key: &str) -> Option<&'a str> {
    let parts: Vec<&str> = key.split(' ').collect();
    dump.lines().find(|l| {
        let c: serde_json::Value = serde_json::from_str(l).unwrap();
        c["court"] == court
            && c["category"] == parts[0]
            && c["year"] == parts[1].parse::<u64>().unwrap()
            && c["word"] == parts[2]
            && c["number"] == parts[3].parse::<u64>().unwrap()
    })
}

/// The live snapshot's hearing lists of every queryable case, by
/// `court category year word number`.
fn hearing_lists(env: &Env) -> std::collections::BTreeMap<String, Vec<etl::model::HearingData>> {
    let store = store::layout::Store::new(env.data());
    let live = store.live().unwrap().unwrap();
    let snapshot = etl::snapshot::read::Snapshot::open(&live).unwrap();
    let (lo, hi) = snapshot.id_range().unwrap().unwrap();
    let mut out = std::collections::BTreeMap::new();
    snapshot
        .for_each_case(lo, hi, |court, case| {
            if case.queryable {
                let k = &case.key;
                let name = format!("{court} {} {} {} {}", k.category, k.year, k.word, k.number);
                out.insert(name, case.hearings.decode());
            }
            Ok(())
        })
        .unwrap();
    out
}

/// A dump without its hearings (each case's line without `hearings`).
fn without_hearings(dump: &str) -> String {
    dump.lines()
        .map(|l| {
            let mut c: serde_json::Value = serde_json::from_str(l).unwrap();
            c.as_object_mut().unwrap().remove("hearings");
            c.to_string() + "\n"
        })
        .collect()
}

fn dumped<'a>(dump: &'a str, court: &str, key: &str) -> &'a str {
    dumped_opt(dump, court, key).unwrap_or_else(|| panic!("{court} {key} not in the dump"))
}

/// A night copies the hearing lists of the cases whose entries did not
/// change from the live snapshot and works out the rest (issue 14's
/// benchmark): what it publishes is exactly what a first load of the same
/// batch gives, carried on from the live snapshot's lists (each case's by
/// `etl::hearings::carry_on`, which keeps what calendars were sent: a
/// hearing that changed is sent with a higher SEQUENCE than they hold),
/// whatever the live snapshot was. Here over night 1 as published, over
/// one whose lists were worked out by other rules (nothing copied, every
/// case carried on), over one of version 4 (lists and digests as rows of
/// their own, which it copies from as from chunks) and over one of version
/// 3 (no digests: nothing copied, every case carried on); one entry of one
/// case changed in night 2 (`move_a_hearing`), whose hearing the first
/// load gives with SEQUENCE 0, a night over night 1 with 1.
#[test]
fn a_night_over_the_last_gives_the_hearings_a_first_load_gives() {
    let gen = tempfile::tempdir().unwrap();
    let nights = generate(gen.path(), 3000);
    let scratch = Env::new();
    assert_eq!(scratch.import(&nights[0], &[]).code, 0);
    let night1 = scratch.dump("20261123");
    let night1_lists = hearing_lists(&scratch);
    let (key, moved) = move_a_hearing(&nights[1], |key| {
        dumped_opt(&night1, "PCD", key).is_some_and(|l| l.contains("\"queryable\":true"))
    });

    let first = Env::new();
    let run = first.import(&nights[1], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let want = first.dump("20261124");
    let want_stats = hearing_stats(&first, "20261124");
    assert!(want_stats.iter().all(|s| s.3 == 0), "{want_stats:?}");
    assert!(want_stats.iter().map(|s| s.1).sum::<u64>() > 1000);
    let want_digests = digests(&first);
    assert!(!want_digests.is_empty());
    let line = dumped(&want, "PCD", &key);
    assert!(line.contains("\"at\":\"115/12/30"), "{moved}: {line}");
    // What a night over night 1 gives: the first load's lists carried on
    // from night 1's.
    let first_lists = hearing_lists(&first);
    let mut want_lists = first_lists.clone();
    for (case, list) in &mut want_lists {
        if let Some(before) = night1_lists.get(case) {
            etl::hearings::carry_on(before, list);
        }
    }
    let carried: Vec<&String> = want_lists
        .iter()
        .filter(|(case, list)| first_lists[*case] != **list)
        .map(|(case, _)| case)
        .collect();
    let moved_case = format!("PCD {key}");
    assert!(carried.contains(&&moved_case), "{carried:?}");
    let want = without_hearings(&want);

    // How the live snapshot of night 1 is made before night 2 imports over it.
    // Whether night 2 may copy its lists.
    type Edit = fn(&rusqlite::Connection);
    let edits: [(&str, Option<Edit>, bool); 4] = [
        ("as published", None, true),
        (
            "worked out by other rules",
            Some(|c| {
                c.execute_batch("UPDATE meta SET value = '0' WHERE key = 'hearing_rules'")
                    .unwrap()
            }),
            false,
        ),
        // Lists and digests as rows: what the build before chunks published.
        ("of version 4", Some(crate::snapshots::as_version_4), true),
        (
            "of version 3",
            Some(|c| {
                crate::snapshots::as_version_4(c);
                c.execute_batch("DROP TABLE extracted").unwrap();
                c.pragma_update(None, "user_version", 3).unwrap();
            }),
            false,
        ),
    ];
    for (what, edit, copies) in edits {
        let env = Env::new();
        let run = env.import(&nights[0], &[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let before = env.dump("20261123");
        if let Some(edit) = edit {
            env.republish_live(edit);
        }
        let run = env.import(&nights[1], &[]);
        assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        let got = env.dump("20261124");
        assert_ne!(
            dumped(&before, "PCD", &key),
            dumped(&got, "PCD", &key),
            "{what}"
        );
        assert!(
            without_hearings(&got) == want,
            "{what}: night 2 over night 1 differs from a first load of night 2"
        );
        let got_lists = hearing_lists(&env);
        let differs = want_lists
            .iter()
            .find(|(case, list)| got_lists.get(*case) != Some(list));
        assert_eq!(
            differs, None,
            "{what}: a case whose hearings are not the first load's carried on from night 1's"
        );
        assert_eq!(got_lists.len(), want_lists.len(), "{what}");
        // And what that means, checked without carry_on: no hearing of
        // night 1 comes back with a lower SEQUENCE, nor with the same one
        // if it changed.
        let mut compared = 0;
        for (case, before) in &night1_lists {
            let Some(after) = got_lists.get(case) else {
                continue;
            };
            for was in schemas::hearing_list::current(before) {
                let Some(is) =
                    schemas::hearing_list::current(after).find(|h| h.origin == was.origin)
                else {
                    continue;
                };
                let same = (was.at, &was.courtroom, was.kind, was.state)
                    == (is.at, &is.courtroom, is.kind, is.state);
                assert!(
                    is.sequence >= was.sequence + u32::from(!same),
                    "{what}: {case}: {is:?} after {was:?}"
                );
                compared += 1;
            }
        }
        assert!(compared > 1000, "{what}: {compared} hearings compared");
        let got_digests = digests(&env);
        assert_eq!(got_digests, want_digests, "{what}");
        let stats = hearing_stats(&env, "20261124");
        let strip = |s: &[(String, u64, u64, u64)]| -> Vec<(String, u64, u64)> {
            s.iter().map(|(c, h, u, _)| (c.clone(), *h, *u)).collect()
        };
        assert_eq!(strip(&stats), strip(&want_stats), "{what}");
        let reused: u64 = stats.iter().map(|s| s.3).sum();
        let cases = got_digests.len() as u64;
        if copies {
            // Most cases did not change; some did.
            assert!(
                reused > cases / 2 && reused < cases,
                "{what}: {reused} of {cases} copied"
            );
        } else {
            assert_eq!(reused, 0, "{what}");
        }
    }
}

/// Night 2's digests attach the hearings its news announces, looked up in
/// runs of cases on threads of their own: how the cases are split changes
/// nothing.
#[test]
fn the_hearings_a_nights_news_announces_do_not_depend_on_the_split() {
    let gen = tempfile::tempdir().unwrap();
    let nights = generate(gen.path(), 3000);
    let env = Env::new();
    import_both(&env, &nights, "2", "1000000000");
    let store = store::layout::Store::new(env.data());
    let kept = store.kept().unwrap();
    // Oldest first.
    let [night1, night2] = &kept[..] else {
        panic!("two snapshots: {kept:?}");
    };
    let changes = etl::notify::diff::diff(Some(night1), night2, night2.date).unwrap();
    let since = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let announced = |runs| {
        etl::notify::announced::announced_in_runs(&night2.path, &changes, since, runs).unwrap()
    };
    let whole = announced(1);
    let cases: std::collections::BTreeSet<&str> = whole.keys().map(|(id, _)| id.as_str()).collect();
    assert!(cases.len() > 10, "{} cases announce hearings", cases.len());
    for runs in [2, 3, 7, 10_000] {
        let split = announced(runs);
        let differs = whole
            .iter()
            .find(|(key, want)| split.get(*key) != Some(*want))
            .map(|(key, _)| key)
            .or_else(|| split.keys().find(|key| !whole.contains_key(*key)));
        assert_eq!(
            differs, None,
            "split into {runs} runs: the first entry that differs"
        );
    }
}

/// Every court's id range in `env`'s live snapshot against `min`/`max`.
fn court_ranges_are_min_and_max(env: &Env) {
    let store = store::layout::Store::new(env.data());
    let live = store.live().unwrap().expect("a live snapshot");
    let snapshot = etl::snapshot::read::Snapshot::open(&live).unwrap();
    let courts = snapshot.courts().unwrap();
    assert!(courts.len() > 2, "{} courts", courts.len());
    let conn = rusqlite::Connection::open(&live.path).unwrap();
    for court in courts {
        let scanned: (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT min(id), max(id) FROM cases WHERE court = ?1",
                [&court.code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            snapshot.court_id_range(&court.code).unwrap(),
            scanned.0.zip(scanned.1),
            "court {}",
            court.code
        );
    }
}

/// A court's id range, as the diff, the carried courts and the copied
/// hearing lists ask for it, is its least and greatest case id: read at
/// the ends of the key's index, it relies on ids rising with the key,
/// which this checks on a generated night of every court, and on the
/// sample's second night, which carries a court (HLD) over from the first.
#[test]
fn a_courts_id_range_is_its_least_and_greatest_case_id() {
    let gen = tempfile::tempdir().unwrap();
    let nights = generate(gen.path(), 3000);
    let env = Env::new();
    assert_eq!(env.import(&nights[0], &[]).code, 0);
    court_ranges_are_min_and_max(&env);

    let sample = Env::new();
    for night in ["20261123", "20261124"] {
        let run = sample.import(&crate::util::sample(night), &[]);
        assert!(matches!(run.code, 0 | 3), "{}{}", run.stdout, run.stderr);
    }
    let report = sample.report("20261124");
    assert_eq!(crate::util::court(&report, "HLD")["status"], "carried_over");
    court_ranges_are_min_and_max(&sample);
}
