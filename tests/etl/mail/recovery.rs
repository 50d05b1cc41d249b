//! Crashes and failures around mail: an import that dies after publishing
//! (or whose queueing fails) and the runs that finish its night; `send`
//! killed mid-run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{etl, import, kill_send_at, scenario, send, send_report, state_of, Night, Smtp};
use crate::util::{damage, until_paused, Env, Refusing};

/// The outbox as (night, kind, address), one line per item, sorted.
fn outbox_items(env: &Env) -> Vec<String> {
    let db = rusqlite::Connection::open(env.data().join("outbox.sqlite")).unwrap();
    let mut stmt = db
        .prepare("SELECT night, kind, email FROM items ORDER BY night, kind, email")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Runs an import of `batch` and SIGKILLs it at pause point `point`.
fn kill_import_at(env: &Env, batch: &Path, point: &str) {
    let mut cmd = env.command();
    cmd.arg("import").arg(batch);
    crate::util::kill_at(cmd, point);
}

/// Three nights with news each, a grant on night 2 and 3, and a case
/// expiring within 14 days of night 2.
fn three_nights(root: &Path) -> [PathBuf; 3] {
    let (n1, mut n2) = scenario(&["a@example.com", "b@example.com", "c@example.com"]);
    n2.cases.push((4, "上訴", "115/10/01"));
    n2.entries.push((4, 1, "115/10/01", "上訴".into()));
    n2.grants.push((4, "b@example.com".into()));
    n2.grants.push((1, "d@example.com".into()));
    let mut n3 = Night {
        cases: n2.cases.clone(),
        entries: n2.entries.clone(),
        grants: n2.grants.clone(),
    };
    for n in 1..=3 {
        n3.entries.push((n, 3, "115/11/24", "宣判".into()));
    }
    n3.grants.push((2, "e@example.com".into()));
    [
        n1.write(root, "20261123"),
        n2.write(root, "20261124"),
        n3.write(root, "20261125"),
    ]
}

/// `three_nights`' first imported (its mail not sent), its snapshot then
/// damaged, and the second imported: published, its mail waiting (exit 1).
fn night_2_waits_on_a_damaged_night_1() -> (Env, Smtp) {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let [n1, n2, _] = three_nights(env.dir.path());
    assert_eq!(import(&env, &smtp, &n1).code, 0);
    damage(&env.data().join("snapshots/20261123-1.sqlite"));
    let night2 = etl(&env, &smtp, &["import", n2.to_str().unwrap()]);
    assert_eq!(night2.code, 1, "{}{}", night2.stdout, night2.stderr);
    (env, smtp)
}

/// The outbox of running `nights` one after the other, undisturbed.
fn undisturbed(nights: &[&Path]) -> Vec<String> {
    let env = Env::new();
    for night in nights {
        let run = env.import(night, &[]);
        assert!(
            run.code == 0 || run.code == 3,
            "{}{}",
            run.stdout,
            run.stderr
        );
    }
    outbox_items(&env)
}

const QUEUEING_KILLS: [&str; 2] = ["after-publish", "mail-before-commit"];

#[test]
fn an_import_killed_while_queueing_then_run_again_loses_no_mail() {
    let env = Env::new();
    let [n1, n2, _] = three_nights(env.dir.path());
    let want = undisturbed(&[&n1, &n2]);
    assert!(
        want.iter().any(|l| l.starts_with("20261124 digest")),
        "{want:#?}"
    );
    for point in QUEUEING_KILLS {
        let env = Env::new();
        assert_eq!(env.import(&n1, &[]).code, 0);
        kill_import_at(&env, &n2, point);
        assert_eq!(env.current(), "20261124-1.sqlite", "{point}: published");
        let rerun = env.import(&n2, &[]);
        assert_eq!(rerun.code, 0, "{point}: {}{}", rerun.stdout, rerun.stderr);
        assert_eq!(outbox_items(&env), want, "{point}: the re-run's outbox");
    }
}

#[test]
fn an_import_killed_while_queueing_then_the_next_night_loses_no_mail() {
    let env = Env::new();
    let [n1, n2, n3] = three_nights(env.dir.path());
    let want = undisturbed(&[&n1, &n2, &n3]);
    for point in QUEUEING_KILLS {
        let env = Env::new();
        assert_eq!(env.import(&n1, &[]).code, 0);
        kill_import_at(&env, &n2, point);
        let next = env.import(&n3, &[]);
        assert_eq!(next.code, 0, "{point}: {}{}", next.stdout, next.stderr);
        assert_eq!(outbox_items(&env), want, "{point}: the next night's outbox");
    }
}

#[test]
fn an_import_killed_while_queueing_then_send_loses_no_mail() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let [n1, n2, _] = three_nights(env.dir.path());
    let want = undisturbed(&[&n1, &n2]);
    for point in QUEUEING_KILLS {
        let env = Env::new();
        assert_eq!(env.import(&n1, &[]).code, 0);
        kill_import_at(&env, &n2, point);
        send(&env, &smtp);
        assert_eq!(outbox_items(&env), want, "{point}: after send");
    }
}

#[test]
fn an_import_whose_mail_failed_to_queue_then_the_next_night_loses_no_mail() {
    let env = Env::new();
    let [n1, n2, n3] = three_nights(env.dir.path());
    let want = undisturbed(&[&n1, &n2, &n3]);
    assert_eq!(env.import(&n1, &[]).code, 0);
    // Queueing fails (as on a full disk): the accounts database cannot be
    // opened while night 2 is queued.
    let accounts = env.data().join("accounts.sqlite");
    let aside = env.data().join("accounts.sqlite.aside");
    fs::rename(&accounts, &aside).unwrap();
    fs::create_dir(&accounts).unwrap();
    let failed = env.import(&n2, &[]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("MAIL NOT QUEUED"),
        "{}",
        failed.stdout
    );
    assert_eq!(env.current(), "20261124-1.sqlite");
    fs::remove_dir(&accounts).unwrap();
    fs::rename(&aside, &accounts).unwrap();
    let next = env.import(&n3, &[]);
    assert_eq!(next.code, 0, "{}{}", next.stdout, next.stderr);
    assert_eq!(outbox_items(&env), want);
}

#[test]
fn an_import_killed_before_its_snapshot_went_live_queues_only_the_rerun() {
    let env = Env::new();
    let [n1, n2, _] = three_nights(env.dir.path());
    let want = undisturbed(&[&n1, &n2]);
    let env = Env::new();
    assert_eq!(env.import(&n1, &[]).code, 0);
    kill_import_at(&env, &n2, "before-current-write");
    assert_eq!(env.current(), "20261123-1.sqlite");
    let rerun = env.import(&n2, &[]);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    assert_eq!(outbox_items(&env), want);
}

#[test]
fn send_killed_mid_run_sends_again_at_most_one_message_per_connection() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    // The relay takes a second over each of these; two connections.
    let addresses: Vec<String> = (1..=8).map(|i| format!("slow1@d{i}.example")).collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let (n1, _) = scenario(&refs);
    import(&env, &smtp, &n1.write(env.dir.path(), "20261123"));
    let mut cmd = env.command();
    cmd.env("CPOR_MAIL_SMTP_HOST", "127.0.0.1")
        .env("CPOR_MAIL_SMTP_PORT", smtp.port.to_string())
        .env("CPOR_MAIL_SMTP_CONNECTIONS", "2")
        .args(["send", "--now"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let started = std::time::Instant::now();
    while smtp.transactions() < 3 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the relay never got three messages"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();
    let accepted_before = smtp.transactions();
    send(&env, &smtp);
    let mut duplicates = 0;
    for a in &addresses {
        let copies = smtp.accepted_for(a).len();
        assert!(copies >= 1, "{a} lost");
        duplicates += copies - 1;
    }
    assert!(
        duplicates <= 2,
        "{duplicates} duplicates after a kill with {accepted_before} accepted: \
         at most one per connection (2) may be in flight"
    );
}

#[test]
fn send_killed_after_recording_an_outcome_sends_that_message_never_again() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let (n1, _) = scenario(&["a@example.com"]);
    import(&env, &smtp, &n1.write(env.dir.path(), "20261123"));
    kill_send_at(&env, &smtp, "send-after-record");
    // Recorded, not yet settled onto the item: still `sending`.
    assert_eq!(state_of(&env, &smtp, "a@"), "sending");
    let run = send(&env, &smtp);
    assert!(run.stdout.contains("0 due"), "{}", run.stdout);
    assert_eq!(state_of(&env, &smtp, "a@"), "sent");
    assert_eq!(smtp.accepted_for("a@example.com").len(), 1);
}

/// Night 1's snapshot damaged (64 bytes flipped) before night 2: night 2's
/// mail cannot be worked out, and that used to stop every later `send`
/// from delivering anything. Now the night waits, named, and everything
/// already queued goes out; the operator decides what becomes of the night.
#[test]
fn a_damaged_previous_snapshot_never_blocks_what_is_already_queued() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let [n1, n2, _] = three_nights(env.dir.path());
    assert_eq!(import(&env, &smtp, &n1).code, 0);
    let queued = outbox_items(&env).len();
    assert!(queued >= 3, "night 1 queued its mail");

    damage(&env.data().join("snapshots/20261123-1.sqlite"));

    let night2 = etl(&env, &smtp, &["import", n2.to_str().unwrap()]);
    assert_eq!(night2.code, 1, "{}{}", night2.stdout, night2.stderr);
    assert_eq!(env.current(), "20261124-1.sqlite", "night 2 is published");
    let said = format!("{}{}", night2.stdout, night2.stderr);
    assert!(said.contains("DAMAGED"), "{said}");
    // What to do is about the night's mail: re-importing night 1 with
    // --force, the advice for a damaged live snapshot, would put the older
    // night on the site and leave night 2's mail waiting (an operator's
    // walk followed it).
    assert!(said.contains("outbox rediff"), "{said}");
    assert!(!said.contains("import --force"), "{said}");

    let sent = etl(&env, &smtp, &["send", "--now"]);
    assert_eq!(sent.code, 1, "{}{}", sent.stdout, sent.stderr);
    assert!(sent.stderr.contains("DAMAGED"), "{}", sent.stderr);
    assert!(
        sent.stderr.contains("outbox rediff") && sent.stderr.contains("outbox forget"),
        "says what to do: {}",
        sent.stderr
    );
    assert_eq!(smtp.accepted().len(), queued, "everything queued went out");

    let pending = etl(&env, &smtp, &["outbox", "pending"]);
    assert_eq!(pending.code, 0);
    assert!(
        pending.stdout.contains("20261124-1.sqlite") && pending.stdout.contains("DAMAGED"),
        "{}",
        pending.stdout
    );
    // Comparing with a damaged snapshot is refused; as a first load it goes.
    let refused = etl(
        &env,
        &smtp,
        &[
            "outbox",
            "rediff",
            "20261124-1.sqlite",
            "--from",
            "20261123-1.sqlite",
        ],
    );
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stderr.contains("DAMAGED"), "{}", refused.stderr);
    let rediff = etl(
        &env,
        &smtp,
        &["outbox", "rediff", "20261124-1.sqlite", "--from", "none"],
    );
    assert_eq!(rediff.code, 0, "{}{}", rediff.stdout, rediff.stderr);
    let sent = etl(&env, &smtp, &["send", "--now"]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    assert!(
        outbox_items(&env)
            .iter()
            .any(|l| l.starts_with("20261124 ")),
        "night 2's mail is queued: {:#?}",
        outbox_items(&env)
    );
    assert!(smtp.accepted().len() > queued);
    let none = etl(&env, &smtp, &["outbox", "pending"]);
    assert!(none.stdout.contains("no night waits"), "{}", none.stdout);
}

/// An operator may give a pending night up instead.
#[test]
fn a_pending_night_can_be_given_up() {
    let (env, smtp) = night_2_waits_on_a_damaged_night_1();
    let pending = etl(&env, &smtp, &["outbox", "pending"]);
    assert!(
        pending.stdout.contains("20261124-1.sqlite"),
        "{}",
        pending.stdout
    );
    let unknown = etl(&env, &smtp, &["outbox", "forget", "20991231-1.sqlite"]);
    assert_eq!(unknown.code, 4, "{}", unknown.stderr);
    let forget = etl(&env, &smtp, &["outbox", "forget", "20261124-1.sqlite"]);
    assert_eq!(forget.code, 0, "{}", forget.stderr);
    let sent = etl(&env, &smtp, &["send", "--now"]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    assert!(!outbox_items(&env)
        .iter()
        .any(|l| l.starts_with("20261124 ")));
}

/// An operator gives up a pending night, or compares it with another
/// snapshot, while a `send` (or an import) is queueing that same night's
/// mail. `forget` used to say the night was given up ("its news will not
/// be mailed; tell the courts' clerks") and the run then queued and sent
/// it anyway; a `rediff` was overwritten by the comparison already under
/// way. Both now take the import lock, as `rollback` does: while a run is
/// queueing they change nothing and say so (exit 5), and the night's mail
/// goes out once, as the run made it.
#[test]
fn a_pending_night_is_not_given_up_or_rediffed_while_a_run_queues_it() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let [n1, n2, _] = three_nights(env.dir.path());
    assert_eq!(import(&env, &smtp, &n1).code, 0);
    kill_import_at(&env, &n2, "after-publish");
    assert_eq!(env.current(), "20261124-1.sqlite", "night 2 is published");
    let pending = etl(&env, &smtp, &["outbox", "pending"]);
    assert!(
        pending.stdout.contains("20261124-1.sqlite"),
        "{}",
        pending.stdout
    );

    let resume = env.dir.path().join("resume");
    let mut cmd = env.command();
    cmd.env("CPOR_MAIL_SMTP_HOST", "127.0.0.1")
        .env("CPOR_MAIL_SMTP_PORT", smtp.port.to_string())
        .env("CPOR_PAUSE_AT", "catch-up-before-queue")
        .env("CPOR_PAUSE_RESUME", &resume)
        .args(["send", "--now"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = until_paused(&mut child, "catch-up-before-queue");
    // The send has read the pending night and is about to queue it.
    let forget = etl(&env, &smtp, &["outbox", "forget", "20261124-1.sqlite"]);
    let rediff = etl(
        &env,
        &smtp,
        &["outbox", "rediff", "20261124-1.sqlite", "--from", "none"],
    );
    fs::write(&resume, b"").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut { stderr }, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{rest}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (what, run) in [("forget", &forget), ("rediff", &rediff)] {
        assert_eq!(run.code, 5, "{what}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("holds the import lock (pid ")
                && run.stderr.contains("send --now")
                && run.stderr.contains("nothing changed"),
            "{what}: {}",
            run.stderr
        );
    }
    // The night's mail, compared with night 1 as the run made it, once.
    let items = outbox_items(&env);
    assert!(
        items.iter().any(|l| l.starts_with("20261124 digest ")),
        "{items:#?}"
    );
    let db = rusqlite::Connection::open(env.data().join("outbox.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count(
            "SELECT count(*) FROM told_snapshots \
             WHERE snapshot = '20261124-1.sqlite' AND sha256 = ''"
        ),
        0,
        "night 2 is not recorded as given up"
    );
    // (an expiry warning behind an activation that says its case's last
    // day is not sent once that was: `Event::Covered`)
    let covered = count(
        "SELECT count(*) FROM items WHERE kind = 'expiry' AND state = 'suppressed' \
         AND last_error LIKE 'its activation or approval, item %, was sent%'",
    );
    assert_eq!(
        count("SELECT count(*) FROM items WHERE state <> 'sent'"),
        covered,
        "every item was delivered: {items:#?}"
    );
    assert_eq!(
        smtp.accepted().len(),
        items.len() - covered as usize,
        "each once"
    );
    let none = etl(&env, &smtp, &["outbox", "pending"]);
    assert!(none.stdout.contains("no night waits"), "{}", none.stdout);
    // Once the run is over, they work again (nothing is pending now).
    let forget = etl(&env, &smtp, &["outbox", "forget", "20261124-1.sqlite"]);
    assert_eq!(forget.code, 4, "{}", forget.stderr);
}

/// The disk fills up after night 2 is published, while its mail is being
/// queued (a real, small tmpfs, mounted in a user and mount namespace of
/// its own). The import used to say only that its report could not be
/// written. Now it says the snapshot is published, its mail is not queued
/// and how that recovers; and once there is space, running it again queues
/// exactly the mail an undisturbed run would have.
#[test]
fn a_full_disk_while_queueing_says_what_happened_and_the_rerun_loses_no_mail() {
    let env = Env::new();
    let [n1, n2, _] = three_nights(env.dir.path());
    let want = undisturbed(&[&n1, &n2]);
    assert_eq!(env.import(&n1, &[]).code, 0);
    let out = env.dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let mnt = env.dir.path().join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let script = r#"
set -e
mount -t tmpfs -o size=16m tmpfs "$MNT"
cp -a "$SRC" "$MNT/data"
CPOR_PAUSE_AT=after-publish CPOR_PAUSE_RESUME="$OUT/resume" \
  "$ETL" --data-dir "$MNT/data" import "$N2" >"$OUT/first.out" 2>"$OUT/first.err" &
pid=$!
for i in $(seq 1 1200); do grep -q "paused at after-publish" "$OUT/first.err" && break; sleep 0.05; done
dd if=/dev/zero of="$MNT/filler" bs=1M 2>/dev/null || true
dd if=/dev/zero of="$MNT/filler2" bs=512 2>/dev/null || true
touch "$OUT/resume"
set +e; wait $pid; echo $? >"$OUT/first.code"; set -e
rm -f "$MNT/filler" "$MNT/filler2"
set +e; "$ETL" --data-dir "$MNT/data" import "$N2" >"$OUT/second.out" 2>&1; echo $? >"$OUT/second.code"; set -e
cp -a "$MNT/data" "$OUT/data"
"#;
    let status = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .env("MNT", &mnt)
        .env("SRC", env.data())
        .env("OUT", &out)
        .env("N2", &n2)
        .env("ETL", env!("CARGO_BIN_EXE_cpor-etl"))
        .env("CPOR_LOG", "warn")
        .status()
        .expect("unshare (util-linux) runs");
    assert!(status.success(), "the namespace script failed");
    let read = |name: &str| fs::read_to_string(out.join(name)).unwrap();
    let first = format!("{}{}", read("first.out"), read("first.err"));
    assert_eq!(read("first.code").trim(), "1", "{first}");
    assert!(first.contains("20261124-1.sqlite is published"), "{first}");
    assert!(first.contains("MAIL NOT QUEUED"), "{first}");
    assert!(first.contains("the next import or send"), "{first}");
    assert_eq!(read("second.code").trim(), "0", "{}", read("second.out"));
    let db = rusqlite::Connection::open(out.join("data/outbox.sqlite")).unwrap();
    let mut stmt = db
        .prepare("SELECT night, kind, email FROM items ORDER BY night, kind, email")
        .unwrap();
    let got: Vec<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, want);
}

/// `cpor-etl send` stopped the way people stop it (systemd's SIGTERM,
/// Ctrl-C's SIGINT, a closed terminal's SIGHUP) while a message is with
/// the relay: the message in flight is finished and recorded, the items
/// not yet started go back as they were (queued here), and the run says so.
/// The next run sends the rest: every message exactly once. (Before, the
/// signal killed the process like SIGKILL: the accepted messages were sent
/// again by the next run.)
#[test]
fn send_stopped_by_a_signal_finishes_what_is_in_flight_and_doubles_nothing() {
    for (signal, name) in [(15, "SIGTERM"), (2, "SIGINT"), (1, "SIGHUP")] {
        let env = Env::new();
        let smtp = Smtp::start(&env.dir.path().join("smtp"));
        let addresses: Vec<String> = (1..=12).map(|i| format!("p{i}@d{i}.example")).collect();
        let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let (n1, _) = scenario(&refs);
        import(&env, &smtp, &n1.write(env.dir.path(), "20261123"));
        let resume = env.dir.path().join("resume");
        let mut cmd = env.command_with_default_signals();
        cmd.env("CPOR_MAIL_SMTP_HOST", "127.0.0.1")
            .env("CPOR_MAIL_SMTP_PORT", smtp.port.to_string())
            .env("CPOR_MAIL_SMTP_CONNECTIONS", "2")
            .env("CPOR_PAUSE_AT", "send-after-accept")
            .env("CPOR_PAUSE_RESUME", &resume)
            .args(["send", "--now"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = until_paused(&mut child, "send-after-accept");
        let (lines, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(stderr).map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        // The relay has the message; its outcome is not yet recorded.
        crate::util::signal(&child, signal);
        // The admin walk (session 27): nothing was said until the messages
        // in flight were done (up to twice the SMTP timeouts), which invites
        // the second Ctrl-C that abandons them. It is said at once.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut heard = Vec::new();
        while std::time::Instant::now() < deadline {
            if let Ok(line) = said.recv_timeout(std::time::Duration::from_millis(100)) {
                heard.push(line);
                if heard.last().unwrap().contains("stopping") {
                    break;
                }
            }
        }
        // (Let it go on before judging, so that a failure leaves no
        // process paused.)
        fs::write(&resume, b"").unwrap();
        assert!(
            heard
                .iter()
                .any(|l| l.contains(&format!("{name}: stopping"))),
            "{name}: {heard:?}"
        );
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(128 + signal), "{name}: {stdout}");
        assert!(
            stdout.contains(&format!("stopped by {name}")),
            "{name}: {stdout}"
        );
        let accepted = smtp.transactions();
        assert!(
            (1..=2).contains(&accepted),
            "{name}: {accepted} sent before stopping"
        );
        // Nothing is left sending or unknown: the rest is queued as before.
        let states = etl(&env, &smtp, &["outbox", "list"]).stdout;
        assert!(
            !states.contains(" sending ") && !states.contains(" unknown "),
            "{name}: {states}"
        );
        let run = send(&env, &smtp);
        assert!(
            run.stdout.contains(&format!("{} due", 12 - accepted)),
            "{name}: {}",
            run.stdout
        );
        for a in &addresses {
            assert_eq!(smtp.accepted_for(a).len(), 1, "{name}: {a}");
        }
    }
}

/// One outbox row whose stored message cannot be read (a damaged page, a
/// bad restore) must not stop the rest of the night's mail: it fails on its
/// own, with its reason, and `send` says which item and what to do.
#[test]
fn one_unreadable_message_fails_alone_and_the_rest_is_delivered() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let addresses = ["a@example.com", "b@example.com", "c@example.com"];
    let (n1, _) = scenario(&addresses);
    import(&env, &smtp, &n1.write(env.dir.path(), "20261123"));

    // b's stored message: 8 bytes flipped mid-frame on disk (zstd's
    // checksum, or its frame, refuses it).
    let outbox = env.data().join("outbox.sqlite");
    let id: i64 = rusqlite::Connection::open(&outbox)
        .unwrap()
        .query_row(
            "SELECT id FROM items WHERE email = 'b@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    crate::disk::damage_stored_message(&outbox, id, |n| n / 2, 8);

    let run = etl(&env, &smtp, &["send", "--now"]);
    assert_eq!(
        run.code, 1,
        "an operator is told: {}{}",
        run.stdout, run.stderr
    );
    for ok in ["a@example.com", "c@example.com"] {
        assert_eq!(smtp.accepted_for(ok).len(), 1, "{ok}: {}", run.stderr);
        assert_eq!(state_of(&env, &smtp, ok), "sent");
    }
    assert!(smtp.accepted_for("b@example.com").is_empty());
    assert_eq!(state_of(&env, &smtp, "b@example.com"), "failed");
    assert!(
        run.stderr.contains(&format!("item {id}"))
            && run.stderr.contains("b@example.com")
            && run.stderr.contains(&format!("outbox show {id}")),
        "names the item and what to do: {}",
        run.stderr
    );

    // The send report lists it, counted as failed.
    let report = send_report(&env);
    let listed = &report["summary"]["unreadable"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["email"], "b@example.com");
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["sent"], 2);

    // What an administrator then sees: the item's fields and why.
    let shown = etl(&env, &smtp, &["outbox", "show", &id.to_string()]);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("b@example.com") && shown.stdout.contains("cannot be read"),
        "{}",
        shown.stdout
    );

    // A run after: nothing sent again, nothing more to report.
    let again = send(&env, &smtp);
    assert!(again.stderr.is_empty(), "{}", again.stderr);
    assert_eq!(smtp.accepted().len(), 2);
}

/// `send` whose recording of an outcome fails (here a trigger refuses it,
/// as a full disk or a damaged page would) stops at once. The messages it
/// handed to the relay stay *sending*: they may have gone, and the next run
/// sends them again as unknown. The ones it never started it gives back as
/// they were: no relay saw them, so they are not marked "may have gone"
/// for life (`outbox retry` would report them instead of queueing them),
/// and the next run sends them as first tries (before, they stayed
/// *sending* and became unknown like the rest).
#[test]
fn send_whose_recording_fails_gives_back_what_it_never_started() {
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    let addresses: Vec<String> = (1..=8).map(|i| format!("p{i}@d{i}.example")).collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let (n1, _) = scenario(&refs);
    import(&env, &smtp, &n1.write(env.dir.path(), "20261123"));
    let outbox = env.data().join("outbox.sqlite");
    let db = rusqlite::Connection::open(&outbox).unwrap();
    let refusing = Refusing::writes(&outbox, "INSERT", "outcomes", "database or disk is full");

    let run = etl(&env, &smtp, &["send", "--now"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // It says what it did, and why, once.
    assert!(
        run.stderr.contains("send stopped part-way")
            && run.stderr.contains("given back as they were")
            && run.stderr.matches("database or disk is full").count() == 1,
        "{}",
        run.stderr
    );
    // Each connection delivered one message at most before it stopped.
    let accepted: Vec<String> = refs
        .iter()
        .filter(|a| !smtp.accepted_for(a).is_empty())
        .map(|a| a.to_string())
        .collect();
    assert!((1..=2).contains(&accepted.len()), "{accepted:?}");
    let states = |db: &rusqlite::Connection| -> Vec<(String, String, bool)> {
        let mut stmt = db
            .prepare("SELECT email, state, may_have_gone FROM items ORDER BY email")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for (email, state, _) in states(&db) {
        let want = if accepted.contains(&email) {
            "sending"
        } else {
            "queued"
        };
        assert_eq!(state, want, "{email}");
    }

    // Space again: the next run sends the rest once, and again what may
    // have gone; only that is marked as perhaps delivered.
    refusing.allow();
    send(&env, &smtp);
    for (email, state, may_have_gone) in states(&db) {
        let went_before = accepted.contains(&email);
        assert_eq!(state, "sent", "{email}");
        assert_eq!(may_have_gone, went_before, "{email}");
        let copies = smtp.accepted_for(&email).len();
        assert_eq!(copies, 1 + usize::from(went_before), "{email}");
    }
}

/// The thirty-seventh session's review (its 3): every server process runs
/// a website mailer on the one outbox, and a claim is leased for an hour.
/// A pass claimed up to 256 items at once, each leased from the moment
/// the pass began, then handed them to its connections one by one; a pass
/// longer than the lease (a relay that answers slowly, a backlog after an
/// outage) left the items still waiting in it with their lease run out,
/// and another process took them for abandoned, made them *unknown* ("may
/// have gone", though no relay had seen them) and sent them too: each
/// went twice. Here a pass that began just under an hour ago (`now`) meets
/// a relay that answers each message after 2 s, and a second process's
/// mailer wakes 4 s later. A pass now claims only what its connections
/// take at once, each claim leased from the clock's now.
#[test]
fn two_website_mailers_send_each_mail_once_though_a_pass_outlasts_its_lease() {
    use chrono::Utc;
    use mail::outbox::{self, Kind, NewItem, Packed};
    let env = Env::new();
    let smtp = Smtp::start(&env.dir.path().join("smtp"));
    fs::create_dir_all(env.data()).unwrap();
    {
        let conn = outbox::open(&env.data()).unwrap();
        let now = Utc::now();
        for i in 0..6 {
            let id = format!("<reset.{i}@cpor.example.tw>");
            let message = format!(
                "From: cpor@example.tw\r\nTo: slow2@example.com\r\nSubject: s\r\n\
                 Message-ID: {id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nlink {i}\r\n"
            );
            let item = NewItem {
                email: "slow2@example.com".into(),
                kind: Kind::Reset,
                message_id: id,
                subject: "s".into(),
                message: Packed::plain(message.into_bytes()),
                cases: 0,
                case_keys: Vec::new(),
                behind: None,
            };
            outbox::queue_website(&conn, &item, now.date_naive(), &i.to_string(), now).unwrap();
        }
    }
    let cfg = mail::MailSettings {
        relay: Some(mail::config::Relay {
            host: "127.0.0.1".into(),
            port: smtp.port,
            security: mail::config::Security::None,
            login: None,
            timeouts: mail::config::Timeouts {
                command: std::time::Duration::from_secs(30),
                data: std::time::Duration::from_secs(30),
                data_end: std::time::Duration::from_secs(30),
            },
            connections: 1,
        }),
        ..Default::default()
    };
    let data = env.data();
    let first = {
        let (data, cfg) = (data.clone(), cfg.clone());
        let began = Utc::now() - outbox::lease() + chrono::Duration::seconds(3);
        std::thread::spawn(move || mail::send::send_website(&data, &cfg, began).unwrap())
    };
    // A pass holds no more than its connection takes: nothing of it waits
    // claimed, its lease running, behind a slow delivery.
    let watch = rusqlite::Connection::open(data.join("outbox.sqlite")).unwrap();
    let sending = || -> i64 {
        watch
            .query_row(
                "SELECT count(*) FROM items WHERE state = 'sending'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    for _ in 0..100 {
        if sending() > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(sending(), 1, "claimed at once");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let second = mail::send::send_website(&data, &cfg, Utc::now()).unwrap();
    let first = first.join().unwrap();
    let accepted = smtp.accepted_for("slow2@example.com");
    let mut ids: Vec<&str> = accepted
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Message-ID: ")))
        .collect();
    ids.sort();
    let sent = ids.len();
    ids.dedup();
    assert_eq!(
        (sent, ids.len()),
        (6, 6),
        "each once: {ids:?}\nfirst: {first:?}\nsecond: {second:?}"
    );
    assert_eq!(state_of(&env, &smtp, "slow2@"), ["sent"; 6].join(","));
}

/// The admin review of the fifty-second session (its M3): night 1's
/// activations still queued, night 1's snapshot damaged, night 2 compared
/// with no snapshot (`outbox rediff --from none`): the rediff's
/// activations named the same grants, and both went in one run: two
/// mails with two links to 12 of 13 addresses. A grant another night's
/// activation or approval names (sent, or still to go and granted) is not
/// mailed again here either; the grants no such mail names are.
#[test]
fn a_rediff_as_a_first_load_does_not_mail_again_what_night_1s_activations_name() {
    let (env, smtp) = night_2_waits_on_a_damaged_night_1();
    let rediff = etl(
        &env,
        &smtp,
        &["outbox", "rediff", "20261124-1.sqlite", "--from", "none"],
    );
    assert_eq!(rediff.code, 0, "{}{}", rediff.stdout, rediff.stderr);
    let sent = etl(&env, &smtp, &["send", "--now"]);
    assert_eq!(sent.code, 0, "{}{}", sent.stdout, sent.stderr);
    // Each grant told once, in an activation or approval.
    for (who, case) in [
        ("a@example.com", 1),
        ("b@example.com", 2),
        ("b@example.com", 4),
        ("c@example.com", 3),
        ("d@example.com", 1),
    ] {
        let told: Vec<String> = smtp
            .accepted_for(who)
            .into_iter()
            .filter(|m| {
                m.contains(&format!("115年度訴字第{case}號"))
                    && (m.contains("請啟用帳號") || m.contains("核准"))
            })
            .collect();
        assert_eq!(
            told.len(),
            1,
            "{who}, case {case}:\n{}\n{told:#?}",
            rediff.stdout
        );
    }
}
