//! The nightly import over the sample nights: what it publishes, its exit
//! codes, re-runs, thread counts, the lock, and refusals.

use std::fs;

use crate::util::{court, golden, sample, Env, Run};

fn rejects_listing(report: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in report["courts"].as_array().unwrap() {
        for r in c["rejects"].as_array().unwrap() {
            out.push_str(&format!(
                "{}:{} [{}] {}\n",
                r["file"].as_str().unwrap(),
                r["line"],
                r["field"].as_str().unwrap_or("-"),
                r["reason"].as_str().unwrap()
            ));
        }
    }
    out
}

/// The privacy review of the forty-seventh session: the data directory
/// and everything in it came out readable by every local user (mode 0755,
/// files 0644): the accounts' password hashes, every party's address and
/// cases, and the outbox's unused reset links, which a local user could
/// read and use. A data directory the programs make is their user's alone
/// (0700), whatever the umask.
#[test]
fn the_data_directory_the_import_makes_is_its_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    assert!(!env.data().exists());
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let mode = fs::metadata(env.data()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
}

#[test]
fn two_sample_nights_publish_what_the_contract_says() {
    let env = Env::new();
    let first = env.import(&sample("20261123"), &[]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("published (exit 0)"),
        "{}",
        first.stdout
    );
    let second = env.import(&sample("20261124"), &[]);
    // HLD is absent on night 2: carried over, so exit 3.
    assert_eq!(second.code, 3, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("HLD   CARRIED OVER"),
        "{}",
        second.stdout
    );

    // Checked row for row against sample-data/README.md, which was worked
    // out by hand from the contract.
    golden("dump-20261123.jsonl", &env.dump("20261123"));
    golden("dump-20261124.jsonl", &env.dump("20261124"));
    golden(
        "rejects-20261123.txt",
        &rejects_listing(&env.report("20261123")),
    );
    golden(
        "rejects-20261124.txt",
        &rejects_listing(&env.report("20261124")),
    );
}

#[test]
fn report_counts_what_each_court_brought() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    env.import(&sample("20261124"), &[]);
    let r = env.report("20261124");
    assert_eq!(r["outcome"], "published_with_carry_over");
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["previous"], "20261123-1.sqlite");
    let tpd = &court(&r, "TPD")["stats"];
    assert_eq!(tpd["rows_read"], 105);
    assert_eq!(tpd["rejected"], 9);
    assert_eq!(tpd["udc_mapped"], 4);
    assert_eq!(tpd["versions_collapsed"], 8);
    assert_eq!(tpd["withdrawn"], 2);
    assert_eq!(tpd["udc_unmapped"], 3);
    assert_eq!(tpd["udc_unmapped_codes"]["FEFE"], 1);
    assert_eq!(tpd["cases_out_of_scope_category"], 1);
    assert_eq!(tpd["files"]["progress"]["encoding"], "cp950");
    assert_eq!(
        court(&r, "PCD")["stats"]["files"]["case"]["encoding"],
        "utf8"
    );
    assert_eq!(court(&r, "PCD")["stats"]["udc_unmapped_codes"]["U+E000"], 1);
    assert_eq!(court(&r, "TPS")["status"], "out_of_scope");
    let hld = court(&r, "HLD");
    assert_eq!(hld["status"], "carried_over");
    assert_eq!(hld["as_of"], "115/11/23");
    assert_eq!(hld["reasons"][0], "absent from batch 20261124");
    // 刑事 114 易 15 (上訴 115/09/23) crosses the cutoff on a carried-over night.
    assert_eq!(hld["carried"]["expired_tonight"], 1);
    let stages: Vec<&str> = r["timings_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    for stage in [
        "plan",
        "courts: read, decode, rules, write",
        "indexes",
        "verify",
        "publish",
    ] {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    assert!(court(&r, "TPD")["parse_ms"].is_u64());
}

#[test]
fn rerun_and_thread_count_give_identical_snapshots() {
    let one = Env::new();
    assert_eq!(one.import(&sample("20261123"), &["--threads", "1"]).code, 0);
    let first = fs::read(one.data().join("snapshots/20261123-1.sqlite")).unwrap();
    assert_eq!(one.import(&sample("20261123"), &["--threads", "1"]).code, 0);
    assert_eq!(one.current(), "20261123-2.sqlite");
    let rerun = fs::read(one.data().join("snapshots/20261123-2.sqlite")).unwrap();
    assert!(first == rerun, "a re-run must give the same bytes");
    // The admin walk (session 27): the re-run's report replaced the first
    // run's, the only record of what that build published and mailed. The
    // night's report is the latest run's; each earlier one is kept beside.
    let report = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(one.data().join("reports").join(name)).unwrap()).unwrap()
    };
    assert_eq!(report("20261123.json")["snapshot"], "20261123-2.sqlite");
    assert_eq!(report("20261123.1.json")["snapshot"], "20261123-1.sqlite");

    let many = Env::new();
    assert_eq!(
        many.import(&sample("20261123"), &["--threads", "8"]).code,
        0
    );
    let parallel = fs::read(many.data().join("snapshots/20261123-1.sqlite")).unwrap();
    assert!(
        first == parallel,
        "one thread and eight must give the same bytes"
    );
}

#[test]
fn a_published_snapshot_is_read_only_and_never_rewritten() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    let path = env.data().join("snapshots/20261123-1.sqlite");
    let before = fs::read(&path).unwrap();
    assert!(fs::metadata(&path).unwrap().permissions().readonly());
    assert_eq!(env.import(&sample("20261124"), &[]).code, 3);
    assert!(
        fs::read(&path).unwrap() == before,
        "the next night must not touch it"
    );
    assert_eq!(env.current(), "20261124-1.sqlite");
}

#[test]
fn an_older_batch_is_refused_unless_forced() {
    let env = Env::new();
    env.import(&sample("20261124"), &[]);
    let run = env.import(&sample("20261123"), &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("older than the live snapshot 20261124-1.sqlite"),
        "{}",
        run.stderr
    );
    assert_eq!(env.current(), "20261124-1.sqlite");
    assert!(
        run.stderr
            .contains("--force imports it anyway, without mailing its news"),
        "{}",
        run.stderr
    );
    let forced = env.import(&sample("20261123"), &["--force"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert_eq!(env.current(), "20261123-1.sqlite");
}

/// The admin walk (F12): night 2 published under a later date by mistake,
/// the real night is refused as older. The refusal said only `--force`,
/// which imports it without mailing its news. It now names the way that
/// puts things right: roll back to the night before, then import.
#[test]
fn an_older_batch_refused_names_the_rollback_that_lets_it_in() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let misdated = env.copy_night("20261124");
    let misdated = {
        let to = misdated.with_file_name("20261125");
        fs::rename(&misdated, &to).unwrap();
        to
    };
    assert_eq!(env.import(&misdated, &[]).code, 3);
    let run = env.import(&sample("20261124"), &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "If 20261125-1.sqlite was published by mistake, `cpor-etl rollback 20261123`, then import this batch again"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(env.current(), "20261125-1.sqlite", "nothing changed");
    assert_eq!(env.etl(&["rollback", "20261123"]).code, 0);
    let run = env.import(&sample("20261124"), &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(env.current(), "20261124-1.sqlite");
}

/// A batch is named by its export date in Taipei (the contract), and
/// imported after it is exported: one dated after today is a mistake (a
/// typo in its name, the transfer host's clock). Published, it would count
/// every case's last queryable day from that date, and every real night
/// after it would be refused as older. It is refused, touching nothing,
/// unless forced. (The admin walk, F12: tomorrow's used to be accepted, a
/// day's grace for a court's clock; a batch misdated by one day was
/// published, and the real night refused.)
#[test]
fn a_batch_dated_after_today_is_refused_unless_forced() {
    let env = Env::new();
    // 01:00 on 2026-11-25 in Taipei, the hour the nightly job runs.
    let at = "2026-11-24 17:00:00";
    let import = |night: &str, extra: &[&str]| -> Run {
        let batch = env.copy_night("20261124");
        let renamed = batch.with_file_name(night);
        fs::rename(&batch, &renamed).unwrap();
        let run: Run = env
            .command_at(at)
            .arg("import")
            .arg(&renamed)
            .args(extra)
            .output()
            .unwrap()
            .into();
        fs::remove_dir_all(&renamed).unwrap();
        run
    };
    let run = import("20281124", &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "batch 20281124 is dated after today (20261125 in Taipei): a batch is named by its export date; nothing imported (check the batch's name; --force imports it anyway)"
        ),
        "{}",
        run.stderr
    );
    assert!(!env.data().exists(), "nothing may be touched");
    let run = import("20261126", &[]);
    assert_eq!(run.code, 1, "tomorrow's: {}{}", run.stdout, run.stderr);
    assert!(!env.data().exists(), "nothing may be touched");
    let run = import("20261125", &[]);
    assert!(
        run.code == 0 || run.code == 3,
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(env.current(), "20261125-1.sqlite");
    let run = import("20281124", &["--force"]);
    assert!(
        run.code == 0 || run.code == 3,
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(env.current(), "20281124-1.sqlite");
}

#[test]
fn an_incomplete_batch_changes_nothing() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    fs::remove_file(batch.join("MANIFEST.csv")).unwrap();
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no MANIFEST.csv yet, the batch is still arriving"),
        "{}",
        run.stderr
    );
    assert!(
        !env.data().exists(),
        "the data directory must not even be created"
    );
}

#[test]
fn a_batch_directory_must_be_named_by_its_date() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    let renamed = batch.with_file_name("tonight");
    fs::rename(&batch, &renamed).unwrap();
    let run = env.import(&renamed, &[]);
    // A mistake in the command, exit 1 as scripts/nightly's for the same
    // mistake; exit 2 is "wait for the transfer" (the admin walk, F14).
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("must be its export date, YYYYMMDD"),
        "{}",
        run.stderr
    );
    assert!(!env.data().exists());

    // A batch's file given for the batch: it exists, and is not "no such
    // directory".
    let run = env.import(&renamed.join("MANIFEST.csv"), &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("MANIFEST.csv is a file: give the batch's directory, e.g. inbox/20261124"),
        "{}",
        run.stderr
    );

    // The admin review of the fifty-second session (its m12): `import .`
    // from inside a batch was refused for its name. `.` and `..` name the
    // directory they stand for, checked by its own name.
    let inside = env.copy_night("20261123");
    for (cwd, arg) in [(renamed.clone(), "."), (inside.join("sub"), "..")] {
        fs::create_dir_all(&cwd).unwrap();
        let run: Run = env
            .command()
            .current_dir(&cwd)
            .args(["import", arg])
            .output()
            .unwrap()
            .into();
        if cwd == renamed {
            assert_eq!(run.code, 1, "{}", run.stderr);
            assert!(
                run.stderr
                    .contains("tonight: the batch directory's name must be"),
                "{}",
                run.stderr
            );
        } else {
            assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
            assert_eq!(
                env.report("20261123")["batch_dir"],
                inside.canonicalize().unwrap().display().to_string()
            );
        }
    }
}

/// Another run holding the import lock is waited for, as long as
/// `import.lock_wait_seconds` says, then the import gives up, saying why.
#[test]
fn a_second_import_waits_as_long_as_it_is_told_then_says_why() {
    let env = Env::new();
    fs::create_dir_all(env.data()).unwrap();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.data().join("import.lock"))
        .unwrap();
    lock.lock().unwrap();
    let started = std::time::Instant::now();
    let run: Run = env
        .command()
        .env("CPOR_IMPORT_LOCK_WAIT_SECONDS", "1")
        .arg("import")
        .arg(sample("20261123"))
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 5);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(
        run.stderr.contains("waiting for the import lock")
            && run
                .stderr
                .contains("another cpor-etl run holds the import lock"),
        "{}",
        run.stderr
    );
    assert!(!env.data().join("CURRENT").exists());
    drop(lock);
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
}

#[test]
fn retention_keeps_the_last_n_nights() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    env.import(&sample("20261124"), &["--keep", "1"]);
    let mut kept: Vec<String> = fs::read_dir(env.data().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    // Each snapshot with the checksum recorded when it was published; the
    // removed night's checksum goes with it.
    assert_eq!(kept, vec!["20261124-1.sqlite", "20261124-1.sqlite.sha256"]);
}

#[test]
fn the_data_directory_comes_from_the_environment_or_the_config_file() {
    let env = Env::new();
    let from_env = env.dir.path().join("from-env");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cpor-etl"));
    cmd.env("CPOR_DATA_DIR", &from_env)
        .arg("import")
        .arg(sample("20261123"));
    assert_eq!(cmd.output().unwrap().status.code(), Some(0));
    assert!(from_env.join("CURRENT").is_file());

    let config = env.dir.path().join("cpor.toml");
    fs::write(
        &config,
        "data_dir = \"from-file\"\n[import]\nkeep_snapshots = 2\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cpor-etl"));
    cmd.env_remove("CPOR_DATA_DIR")
        .current_dir(env.dir.path())
        .arg("import")
        .arg(sample("20261123"));
    assert_eq!(cmd.output().unwrap().status.code(), Some(0));
    assert!(env.dir.path().join("from-file/CURRENT").is_file());
}

/// `import --check`: an administrator given a court's corrected files
/// checks them before re-running the night. Everything an import checks
/// and says, with its exit code, and nothing changed: nothing published,
/// no mail queued (not even an earlier night's left unqueued), the report
/// written beside the night's as `<night>.check.json`.
#[test]
fn import_check_says_what_the_night_would_do_and_changes_nothing() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let outbox_before = env.etl(&["outbox", "list"]).stdout;
    let run = env.import(&sample("20261124"), &["--check"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with(
            "cpor-etl import 20261124 --check: would publish, with courts not imported tonight (exit 3)\n"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("HLD   CARRIED OVER"), "{}", run.stdout);
    assert!(run.stdout.contains("rejected rows: 9"), "{}", run.stdout);
    assert!(run.stdout.contains("20261124.check.json"), "{}", run.stdout);
    assert_eq!(env.current(), "20261123-1.sqlite");
    let snapshots: Vec<String> = fs::read_dir(env.data().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("20261123-1."))
        .collect();
    assert!(snapshots.is_empty(), "{snapshots:?}");
    assert!(!env.data().join("reports/20261124.json").exists());
    let report = env.report("20261124.check");
    assert_eq!(report["check"], true, "{report}");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(env.etl(&["outbox", "list"]).stdout, outbox_before);

    // One that would publish nothing says so, exit 2.
    let batch = env.copy_night("20261124");
    fs::write(batch.join("MANIFEST.csv"), "name,count,hash\r\n").unwrap();
    assert_eq!(env.import(&batch, &["--check"]).code, 2);

    // A data directory that does not exist is a mistyped path: a check
    // does not make one.
    let other = env.dir.path().join("typo");
    let run: Run = std::process::Command::new(env!("CARGO_BIN_EXE_cpor-etl"))
        .env("CPOR_LOG", "warn")
        .arg("--data-dir")
        .arg(&other)
        .arg("import")
        .arg(sample("20261124"))
        .arg("--check")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(!other.exists());

    // The night itself, after: as if no check had been.
    let run = env.import(&sample("20261124"), &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(env.current(), "20261124-1.sqlite");
    assert!(run.stdout.contains("mail queued:"), "{}", run.stdout);
}

/// A review of the admin side (2026-12-06): an import run with its
/// configuration forgotten (`CPOR_CONFIG` unset by a typo, another shell)
/// made `./data` and published a first load there, exit 0, while the site
/// read another directory, with nothing to tell. The night's warnings say
/// the directory is new and the built-in default.
#[test]
fn an_import_into_a_new_default_data_directory_says_so() {
    let cwd = tempfile::tempdir().unwrap();
    let run = |night: &str| -> Run {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cpor-etl"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CPOR_")) {
            cmd.env_remove(k);
        }
        cmd.current_dir(cwd.path())
            .args(["import", sample(night).to_str().unwrap()])
            .output()
            .unwrap()
            .into()
    };
    let first = run("20261123");
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("is new, and the built-in default")
            && first.stdout.contains("CPOR_CONFIG"),
        "{}",
        first.stdout
    );
    assert!(cwd.path().join("data/CURRENT").exists());
    let second = run("20261124");
    assert!(
        matches!(second.code, 0 | 3),
        "{}{}",
        second.stdout,
        second.stderr
    );
    assert!(!second.stdout.contains("is new"), "{}", second.stdout);
}

/// The upgrade review of the fifty-fourth session (serious): the first
/// releases recorded no checksum beside a snapshot, and every later build
/// refused a snapshot without one. After an upgrade from them the site
/// served nothing and the next night published nothing ("HLD cannot be
/// carried over: no other kept snapshot verifies"), and none of the
/// remedies the error named worked. Their snapshots (schema version 1,
/// `tests/fixtures/release-20261124`) are checked whole by SQLite instead,
/// and their checksums recorded: listed as sound, carried over from and
/// compared with.
#[test]
fn an_installation_of_the_first_release_upgrades_and_imports_its_next_night() {
    let env = Env::as_of("2026-11-25");
    let snapshots = env.data().join("snapshots");
    fs::create_dir_all(&snapshots).unwrap();
    let fixtures = crate::util::repo_root().join("tests/fixtures/release-20261124");
    for name in ["20261123-1.sqlite", "20261124-1.sqlite"] {
        fs::copy(fixtures.join(name), snapshots.join(name)).unwrap();
        assert!(!snapshots.join(format!("{name}.sha256")).exists());
    }
    fs::write(env.data().join("CURRENT"), "20261124-1.sqlite\n").unwrap();
    let listed = env.etl(&["snapshots"]);
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    assert!(!listed.stdout.contains("DAMAGED"), "{}", listed.stdout);
    for name in ["20261123-1.sqlite", "20261124-1.sqlite"] {
        let line = fs::read_to_string(snapshots.join(format!("{name}.sha256"))).unwrap();
        assert!(line.ends_with(&format!("  {name}\n")), "{line}");
    }
    let night = env.copy_night_as("20261124", "20261125");
    let run = env.import(&night, &[]);
    // HLD, absent that night, is carried over from the first release's.
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("HLD   CARRIED OVER"), "{}", run.stdout);
    assert_eq!(env.current(), "20261125-1.sqlite");
}
