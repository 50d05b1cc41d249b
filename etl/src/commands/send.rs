//! `cpor-etl send [--now]`: deliver the outbox items that are due, once
//! each; write a send report listing the addresses flagged for the courts.

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::import::exit;
use crate::stop::Stop;
use mail::send::{self, GrantCheck, Granted};

use crate::notify::{catch_up, Finished};
use crate::snapshot::read::{ReadError, Snapshot};
use store::layout::{SnapshotFile, Store};

#[derive(Serialize)]
struct SendReport<'a> {
    at: String,
    summary: &'a send::SendSummary,
    /// Why the grant mail counted in `summary.unchecked` could not be
    /// checked against the live snapshot, when some could not.
    unchecked_because: Option<String>,
    /// Every flagged address (mail to it is suppressed), with the courts
    /// whose grants name it, for the courts to correct.
    flagged_addresses: Vec<Flagged>,
}

#[derive(Serialize)]
struct Flagged {
    email: String,
    flagged_at: String,
    reason: String,
    courts: Vec<String>,
}

pub fn run(
    config: &Config,
    now_flag: bool,
    today: Option<chrono::NaiveDate>,
    force: bool,
) -> Result<i32> {
    if let Some(day) = today.filter(|_| !force) {
        let real = schemas::date::taipei_date(chrono::Utc::now());
        if day != real && day != real - chrono::Duration::days(1) {
            anyhow::bail!(
                "--today {day}: today is {real} (Asia/Taipei); only today's or yesterday's \
                 reminders can be caught up: another day's would tell real people of \
                 hearings as if it were that day (\"7 天後\" of one two days away, and \
                 hearings already held). Days missed are not caught up; their hearings \
                 are in the calendar feeds and the next reminders"
            );
        }
    }
    let stop = Stop::install()?;
    // Said at once: the messages the relay has now can take up to the
    // SMTP timeouts to finish, and a silent wait invites the second signal
    // that abandons them.
    stop.on_signal(|name, _| {
        eprintln!(
            "cpor-etl: {name}: stopping: finishing the messages the relay has now, \
             starting none (a second signal stops at once; the next run sends those again)"
        );
    });
    let store = Store::new(&config.data_dir);
    store.create_dirs()?;
    let Some(_lock) = crate::commands::take(store.send_lock())? else {
        return Ok(exit::LOCKED);
    };
    // Before anything is queued or marked: a run without its configuration
    // (the site address, the relay) makes and sends nothing.
    mail::send::check_configured(&config.data_dir, &config.mail, true, chrono::Utc::now())?;
    // An import that died after publishing left its mail unqueued: finish
    // it, unless an import is running right now (it will).
    // A night that cannot be queued (a damaged snapshot, a full disk) is
    // reported and stays pending; it never holds up what is already queued.
    let mut unfinished = 0;
    if let Ok(_import) = store.lock() {
        match catch_up(&store, &config.mail, chrono::Utc::now()) {
            Ok(nights) => {
                for night in nights {
                    match night.outcome {
                        // (an import that stopped before queueing it, a
                        // damaged snapshot restored, a night rediffed)
                        Finished::Queued(m) => {
                            say!(
                                "queued the waiting mail of night {}: {} items",
                                night.night.to,
                                m.activation + m.approval + m.digest + m.expiry
                            );
                            for line in crate::report::given_up(&m) {
                                say!("  {line}");
                            }
                        }
                        Finished::Failed(why) => {
                            unfinished += 1;
                            eprintln!(
                                "cpor-etl: the mail of snapshot {} is NOT queued: {why}",
                                night.night.to
                            );
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => {
                unfinished += 1;
                eprintln!("cpor-etl: the mail of earlier nights could not be checked: {e}");
            }
        }
    }
    // The day's hearing reminders, from the live snapshot: once per day and
    // live snapshot, a no-op after (etl::notify::reminders).
    match crate::notify::reminders::queue_due(
        &store,
        &config.mail,
        chrono::Utc::now(),
        today.map(|day| (day, force)),
        false,
    ) {
        Ok(crate::notify::reminders::ReminderSummary {
            day,
            waiting: Some(live),
            ..
        }) => say!(
            "reminders for {day}: waiting for the night's import (the live snapshot is {live}); \
             if none comes, they are worked out from the live snapshot when the send window opens"
        ),
        Ok(crate::notify::reminders::ReminderSummary {
            day,
            unsent: Some((n, now)),
            skipped,
            reminders,
            ..
        }) => {
            if now {
                say!(
                    "reminders for {day}: {n} queued for its window and not sent go now \
                     (this catch-up takes them, to go today)"
                );
            } else {
                say!(
                    "reminders for {day}: {n} queued for its window and not sent cannot go now: \
                     their words are about {day} (明天, 7 天後), so they are failed as too late, \
                     not sent; their hearings are in the calendar feeds"
                );
            }
            if skipped.is_none() && reminders > 0 {
                say!("reminders for {day}: {reminders} more queued");
            }
        }
        Ok(r) if r.skipped.is_none() => say!(
            "reminders for {}: {} queued ({} hearings), {} addresses had theirs already",
            r.day,
            r.reminders,
            r.hearings,
            r.already
        ),
        Ok(_) => {}
        Err(e) => {
            unfinished += 1;
            eprintln!("cpor-etl: the hearing reminders could not be queued: {e}");
        }
    }
    let now = chrono::Utc::now();
    let ungranted = NoLongerGranted::new(&store);
    if now_flag || config.mail.window.is_open_at(now) {
        ungranted.prepare(&config.data_dir)?;
    }
    let summary = send::send(
        &config.data_dir,
        &config.mail,
        now_flag,
        now,
        &stop.flag,
        &ungranted,
    )?;
    if summary.recovered > 0 {
        say!(
            "{} items a crash left while sending are retried, same Message-ID",
            summary.recovered
        );
    }
    if summary.recovered_unsent > 0 {
        say!(
            "{} items a crash left claimed that no connection had taken are given back as they were",
            summary.recovered_unsent
        );
    }
    if summary.outside_window {
        say!(
            "outside the send window ({} Asia/Taipei); nothing sent (use --now to send anyway)",
            config.mail.window
        );
        return Ok(if unfinished > 0 { exit::ERROR } else { 0 });
    }
    let target = match &config.mail.relay {
        None => format!(
            "as .eml files under {}",
            config.data_dir.join("mail").display()
        ),
        Some(relay) => format!("to {}:{}", relay.host, relay.port),
    };
    let unchecked = match summary.unchecked {
        0 => String::new(),
        n => format!(", {n} wait for the live snapshot"),
    };
    let waiting = match summary.waiting_for_cases {
        0 => String::new(),
        n => format!(", {n} wait for a case left out of the live snapshot"),
    };
    say!(
        "cpor-etl send: {} due; {} sent {target}, {} to retry, {} unknown, {} failed, {} suppressed{unchecked}{waiting}",
        summary.due, summary.sent, summary.retrying, summary.unknown, summary.failed, summary.suppressed
    );
    say!("  outbox now: {}", summary.states_line());
    if summary.recalled > 0 {
        say!(
            "  {} activation, approval or expiry mails withheld as they were handed over: a snapshot \
             published during this run no longer grants a case they name (the next night's mail \
             tells what of them is still granted)",
            summary.recalled
        );
    }
    if summary.waiting_for_cases > 0 {
        say!(
            "  {} activation, approval or expiry mails wait: a case each names is left out of the \
             live snapshot (a row of it rejected: see its night's warnings); each goes with the \
             first night that has its cases again, or is withheld if that night no longer grants one",
            summary.waiting_for_cases
        );
    }
    if summary.unsubscribed > 0 {
        say!(
            "  {} not sent: their address turned that mail off since it was queued (digests or \
             reminders, by the one-click link or on the account page)",
            summary.unsubscribed
        );
    }
    if summary.covered > 0 {
        say!(
            "  {} expiry warnings not sent: the activation or approval sent before each says its \
             cases' last day (one mail, not two, the morning a grant ends soon)",
            summary.covered
        );
    }
    // Why what was not delivered waits (a relay down: one reason for all);
    // what the relay refused for another reason than a bad address
    // (failed, no one flagged: its words say what to fix).
    let given_up = format!(
        "given up after {} hours (failed: `cpor-etl outbox retry --failed` sends them again)",
        config.mail.retry_for.num_hours()
    );
    for (what, reasons, state) in [
        ("not delivered", &summary.not_delivered, "retrying"),
        (given_up.as_str(), &summary.given_up, "failed"),
        ("refused (no one flagged)", &summary.refused, "failed"),
        (
            "refused by the recipient's mailbox (failed, no one flagged)",
            &summary.undeliverable,
            "failed",
        ),
    ] {
        let mut reasons: Vec<(&String, &u64)> = reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, n) in reasons.iter().take(3) {
            say!("  {what}: {n} × {reason}");
        }
        if reasons.len() > 3 {
            say!(
                "  {what}: {} more reasons (`cpor-etl outbox list --state {state}`)",
                reasons.len() - 3
            );
        }
    }
    if summary.silent_relay {
        say!(
            "  {}the relay did not answer (above), so no more messages were started; what is due \
             waits as it was (`cpor-etl send --now` once the relay answers)",
            match summary.not_tried {
                0 => String::new(),
                n => format!("{n} messages not tried: "),
            }
        );
    }
    let stopped = stop.received().filter(|_| summary.stopped);
    if let Some((name, _)) = stopped {
        say!(
            "  stopped by {name}: the messages with the relay were finished and recorded; \
             {} claimed items not yet started are given back as they were (queued, or unknown if they \
             were), and the rest waits, for the next run",
            summary.withdrawn
        );
    }
    if summary.window_closed {
        say!(
            "  the send window closed at {} while sending: {} left for its next opening (started no more; \
             {} claimed given back as they were; a reminder then past its day is failed, not sent late)",
            config.mail.window.end.format("%H:%M"),
            summary.still_due,
            summary.left_for_window
        );
    } else if summary.left_for_window > 0 {
        let n = summary.left_for_window;
        say!(
            "  {n} {} given back as {} about to go: {} day's send window ended while this run was \
             sending (the next run fails {} as too late)",
            if n == 1 { "reminder" } else { "reminders" },
            if n == 1 { "it was" } else { "they were" },
            if n == 1 { "its" } else { "their" },
            if n == 1 { "it" } else { "them" },
        );
    }
    if summary.outdated > 0 {
        let n = summary.outdated;
        say!(
            "  {n} {} too late: their day's send window ended before they could go, so they are failed, \
             not sent late (counted in failed; `cpor-etl outbox` lists them)",
            if n == 1 { "reminder" } else { "reminders" }
        );
    }
    for (email, reason) in &summary.flagged {
        say!("  flagged {email}: {reason}");
    }
    for item in &summary.unreadable {
        eprintln!("cpor-etl: {}", item.notice());
    }
    if !summary.unreadable.is_empty() {
        eprintln!(
            "cpor-etl: {} message(s) could not be read and are failed (see above); the rest is as counted above",
            summary.unreadable.len()
        );
    }
    let unchecked = (summary.unchecked > 0).then(|| {
        let why = ungranted.why().unwrap_or(Unusable::Unreadable(String::new()));
        let n = summary.unchecked;
        let (mails, wait) = if n == 1 { ("mail", "waits") } else { ("mails", "wait") };
        eprintln!(
            "cpor-etl: {n} activation, approval or expiry {mails} {wait}: the live snapshot cannot be used \
             to check that the cases they name are still granted ({}); none of them is sent (one could \
             show a case to someone no longer allowed to see it), and the first `cpor-etl send` that can \
             use it sends or withholds them. {}",
            why.reason(),
            why.advice()
        );
        why.reason().to_string()
    });

    let accounts = store::accounts::open(&config.data_dir)?;
    let courts_of = courts_by_address(ungranted.into_snapshot());
    let flagged_addresses = store::accounts::flagged_addresses(&accounts)?
        .into_iter()
        .map(|(email, (flagged_at, reason))| Flagged {
            courts: courts_of(&email),
            email,
            flagged_at,
            reason,
        })
        .collect();
    let report = SendReport {
        at: now.to_rfc3339(),
        summary: &summary,
        unchecked_because: unchecked.clone(),
        flagged_addresses,
    };
    let path = store.write_new_report("send", now, &serde_json::to_vec_pretty(&report)?)?;
    say!("  report: {}", path.display());
    // Reports name flagged addresses: kept for `mail.keep_reports_days`.
    for kind in ["send", "bounces"] {
        if let Err(e) = store.prune_reports(kind, now - config.mail.keep_reports) {
            tracing::warn!("removing old {kind} reports: {e}");
        }
    }
    if let Some((_, status)) = stopped {
        return Ok(status);
    }
    if unfinished > 0 {
        eprintln!(
            "cpor-etl: what was queued is delivered, but {unfinished} night(s) of mail or day(s) of reminders still wait (see above; docs/OPERATIONS.md)"
        );
    }
    let failed = unfinished > 0 || !summary.unreadable.is_empty() || unchecked.is_some();
    let refused: u64 = summary.refused.values().sum();
    // (what waits for a case left out of the snapshot was not tried)
    let tried = summary.due.saturating_sub(summary.waiting_for_cases);
    let relay_down = tried > 0 && summary.sent == 0 && (summary.unreachable > 0 || refused > 0);
    if failed {
        return Ok(exit::ERROR);
    }
    if summary.silent_relay {
        // Whatever went before: the rest of the night's mail was not tried.
        eprintln!(
            "cpor-etl: the relay stopped answering; {} sent before that, the rest waits \
             (`cpor-etl send --now` once the relay answers)",
            summary.sent
        );
        return Ok(exit::NOT_DELIVERED);
    }
    if relay_down {
        // A good run's exit would hide an outage from cron and monitoring.
        let waiting = summary.unreachable - summary.given_up_unreachable;
        if waiting > 0 {
            eprintln!(
                "cpor-etl: none of the {} messages due could be delivered; {waiting} wait to be \
                 retried (`cpor-etl send --now` once the relay is back)",
                tried
            );
        }
        if summary.given_up_unreachable > 0 {
            eprintln!(
                "cpor-etl: none of the {} messages due could be delivered; {} were given up, \
                 failed after {} hours of tries (see above): `cpor-etl outbox retry --failed` \
                 once the relay is back, then `cpor-etl send --now`",
                tried,
                summary.given_up_unreachable,
                config.mail.retry_for.num_hours()
            );
        }
        if refused > 0 {
            eprintln!(
                "cpor-etl: none of the {} messages due was delivered: the relay refused {refused} \
                 for a reason that does not say the address is bad (see `refused` above); they \
                 are failed, no one flagged: fix what the relay names, then `cpor-etl outbox \
                 retry --failed`",
                tried
            );
        }
        return Ok(exit::NOT_DELIVERED);
    }
    Ok(0)
}

/// Whether an activation, approval or expiry warning names a case the
/// live snapshot does not grant its address (a later night or build
/// revoked it, or the case passed its cutoff; or, after a rollback, it was
/// granted only by the night rolled back): that mail is not sent
/// (`mail::send::plan_claim`). One indexed look-up in the live snapshot per
/// case it names, up to the first not granted. The live snapshot's own
/// mail (its night and build) is not looked up: it was made from that
/// snapshot; it is only asked whether a case it names is left out of it
/// (`Live::names_left_out`, [`Granted::Later`], as every grant mail is).
/// Just before it hands a grant mail over, `send` asks whether
/// `CURRENT` was replaced since the claim (one `stat`): an import beside
/// the run may have published a snapshot, or a rollback gone back; the
/// mail is then asked again of the snapshot live now
/// ([`GrantCheck::before_delivery`]), since a re-run correcting a wrong
/// grant cannot withhold mail `send` holds. Mail of a newer night or build
/// than the snapshot read makes the claim read `CURRENT` again (then it
/// is that snapshot's own). The snapshot is checked against its checksum
/// before the first look-up (a privacy decision is not taken on a damaged
/// file), and before the claims when the outbox holds mail to check
/// ([`Self::prepare`]: not while a claim holds the outbox). When it cannot
/// be trusted or read (there is none, it is damaged, a look-up fails), the
/// mail cannot be told: it waits, unsent, and `send` says why
/// ([`NoLongerGranted::why`]).
struct NoLongerGranted<'a> {
    store: &'a Store,
    live: std::sync::Mutex<Live>,
    /// Why a look-up could not tell (the first reason), once one could not.
    why: std::sync::Mutex<Option<Unusable>>,
    /// The mail a claim let go, not yet handed over: by outbox id, the
    /// [`Live::generation`] that said so.
    claimed: std::sync::Mutex<std::collections::HashMap<i64, u64>>,
}

/// The live snapshot as `send` last read `CURRENT`.
struct Live {
    /// `CURRENT`'s stamp, taken before it was read.
    stamp: std::io::Result<Option<store::layout::CurrentStamp>>,
    /// Counts the live snapshots this run has seen, from 0.
    generation: u64,
    /// Its night (YYYYMMDD) and build: its own mail is not looked up.
    own: Option<(String, u32)>,
    /// The file, or why there is none.
    file: Result<SnapshotFile, Unusable>,
    /// Verified and opened at the first look-up, or why it cannot be.
    opened: Option<Result<Snapshot, Unusable>>,
    /// The cases it leaves out ([`Snapshot::left_out_ids`]), read at the
    /// first look-up, or why they cannot be.
    left_out: Option<Result<std::collections::HashSet<String>, Unusable>>,
}

impl Live {
    fn read(store: &Store) -> Live {
        let stamp = store.current_stamp();
        let file = match store.live() {
            Ok(Some(f)) => Ok(f),
            Ok(None) => Err(Unusable::Missing("there is no live snapshot".into())),
            // (`CURRENT` names a file not kept)
            Err(e) if e.kind() == std::io::ErrorKind::Other => {
                Err(Unusable::Missing(format!("the live snapshot: {e}")))
            }
            Err(e) => Err(Unusable::Unreadable(format!("the live snapshot: {e}"))),
        };
        Live {
            stamp,
            generation: 0,
            own: file
                .as_ref()
                .ok()
                .map(|f| (schemas::date::compact(f.date), f.build)),
            file,
            opened: None,
            left_out: None,
        }
    }

    /// Reads `CURRENT` again if it was replaced since (or could not be
    /// stat'ed): a snapshot published or rolled back to meanwhile is the
    /// one asked from now on, its generation the next.
    fn refresh(&mut self, store: &Store) {
        let stamp = store.current_stamp();
        let same = matches!((&stamp, &self.stamp), (Ok(now), Ok(then)) if now == then);
        if same {
            return;
        }
        let now = Live::read(store);
        if now.own == self.own && now.file.is_ok() == self.file.is_ok() {
            self.stamp = now.stamp;
            return;
        }
        *self = Live {
            generation: self.generation + 1,
            ..now
        };
    }

    /// Whether grant mail naming `case_keys` waits for the night that has
    /// one of them again: read once, from the snapshot opened for the
    /// look-ups if it was, else from the file opened just for this (its
    /// own mail is not otherwise looked up, and the file not verified for
    /// it; a damaged file fails the look-ups of the rest).
    fn names_left_out(&mut self, case_keys: &[String]) -> Result<bool, Unusable> {
        let (file, opened) = (&self.file, &self.opened);
        let left_out = self.left_out.get_or_insert_with(|| {
            let file = file.as_ref().map_err(Clone::clone)?;
            let unreadable =
                |e: ReadError| Unusable::Unreadable(format!("{}: {e}", file.path.display()));
            match opened {
                Some(Ok(snapshot)) => snapshot.left_out_ids(),
                _ => Snapshot::open(file).and_then(|s| s.left_out_ids()),
            }
            .map_err(unreadable)
        });
        match left_out {
            Ok(ids) => Ok(!ids.is_empty() && case_keys.iter().any(|k| ids.contains(k))),
            Err(why) => Err(why.clone()),
        }
    }

    /// Its night and build, to compare with an item's.
    fn key(&self) -> Option<(&str, u32)> {
        self.own
            .as_ref()
            .map(|(night, build)| (night.as_str(), *build))
    }

    /// The snapshot, verified and opened once.
    fn snapshot(&mut self, store: &Store) -> &Result<Snapshot, Unusable> {
        let file = &self.file;
        self.opened.get_or_insert_with(|| {
            let file = file.as_ref().map_err(Clone::clone)?;
            store.verify(file).map_err(|e| match e {
                store::layout::Damaged::Unreadable { .. }
                | store::layout::Damaged::NoChecksum { .. } => Unusable::Unreadable(e.to_string()),
                store::layout::Damaged::Mismatch { .. } => Unusable::Damaged(e.to_string()),
            })?;
            let unreadable =
                |e: ReadError| Unusable::Unreadable(format!("{}: {e}", file.path.display()));
            let snapshot = Snapshot::open(file).map_err(unreadable)?;
            // Mapped, not read page by page: an outage morning looks up
            // every case an earlier night's grant mail names (1.55M on a
            // national first load), each look-up's pages a system call
            // each otherwise (measured: about 9 s for the check mapped, 17
            // s not; BENCHMARKS, "The grant check on an outage morning").
            // Verified just now, so a damaged page (a SIGBUS when mapped)
            // is unlikely.
            snapshot
                .conn()
                .pragma_update(None, "mmap_size", 1i64 << 40)
                .map_err(|e| unreadable(e.into()))?;
            Ok(snapshot)
        })
    }
}

/// Why the live snapshot cannot tell what is granted, and so what to do.
#[derive(Debug, Clone)]
enum Unusable {
    /// `CURRENT` names none, or a file that is not kept.
    Missing(String),
    /// It fails its checksum.
    Damaged(String),
    /// It cannot be opened or read.
    Unreadable(String),
}

impl Unusable {
    fn reason(&self) -> &str {
        match self {
            Unusable::Missing(why) | Unusable::Damaged(why) | Unusable::Unreadable(why) => why,
        }
    }

    /// What an operator does about it.
    fn advice(&self) -> String {
        match self {
            Unusable::Damaged(_) => format!(
                "Either {}; or: {}",
                store::layout::RESTORE,
                store::layout::REPLACE_DAMAGED
            ),
            Unusable::Missing(_) => "See `cpor-etl snapshots`: roll back to a kept snapshot \
                 (`cpor-etl rollback <date>`) or import the night again"
                .into(),
            Unusable::Unreadable(_) => "Check the disk and `cpor-etl snapshots` (which verifies \
                 the live snapshot); the next `cpor-etl send` tries again"
                .into(),
        }
    }
}

impl<'a> NoLongerGranted<'a> {
    fn new(store: &'a Store) -> NoLongerGranted<'a> {
        NoLongerGranted {
            store,
            live: std::sync::Mutex::new(Live::read(store)),
            why: std::sync::Mutex::new(None),
            claimed: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Verifies and opens the live snapshot now, before any claim, if the
    /// outbox holds grant mail other than its own to check: the checksum
    /// reads the whole file (about 1.3 s for a national one), and inside a
    /// claim it would hold the outbox's write lock that long. Lazily at the
    /// first look-up otherwise (mail queued meanwhile).
    fn prepare(&self, data_dir: &std::path::Path) -> Result<()> {
        let mut live = self.live.lock().expect("live");
        let (night, build) = live.own.clone().unwrap_or_default();
        let reference = mail::outbox::build_reference((build > 1).then_some(build));
        if mail::outbox::Outbox::open(data_dir)?.has_grant_mail_besides(&night, &reference)? {
            let _ = live.snapshot(self.store);
        }
        Ok(())
    }

    /// The live snapshot, for the send report's look-ups of courts: the one
    /// it asked, or else opened (not verified) only to name courts.
    fn into_snapshot(self) -> Option<Snapshot> {
        let live = self.live.into_inner().unwrap_or_else(|e| e.into_inner());
        match live.opened {
            Some(Ok(s)) => Some(s),
            _ => open_live(self.store),
        }
    }

    /// Why some grant mail could not be checked, if any could not.
    fn why(&self) -> Option<Unusable> {
        self.why.lock().expect("reason").clone()
    }

    /// Whether the cases `item` names are still granted to its address
    /// in the snapshot `live` (one queued before outbox migration 14 names
    /// none: whether its address has a grant left). A night's mail
    /// withholds such earlier mail when it is queued (`notify::retell`);
    /// this catches what `send` meets first (a night or build live before
    /// its mail is queued; a rollback; a publish while `send` holds it),
    /// and leaves its cases to the next night's mail to tell.
    fn ask(&self, live: &mut Live, item: &mail::outbox::Item) -> Granted {
        let cannot_tell = |why: Unusable| {
            self.why.lock().expect("reason").get_or_insert(why);
            Granted::CannotTell
        };
        // Named while it is left out (the night's own mail may tell it
        // again, from a withheld mail: `notify::retell`), a case is
        // granted by rows the clerk may have changed, and not shown.
        let later = |live: &mut Live| match live.names_left_out(&item.case_keys) {
            Ok(true) => Granted::Later,
            Ok(false) => Granted::Yes,
            Err(why) => cannot_tell(why),
        };
        if built(item).is_some_and(|built| live.key() == Some(built)) {
            return later(live);
        }
        let snapshot = match live.snapshot(self.store) {
            Ok(snapshot) => snapshot,
            Err(why) => return cannot_tell(why.clone()),
        };
        let failed =
            |e: ReadError| Unusable::Unreadable(format!("{}: {e}", snapshot.file.path.display()));
        if item.case_keys.is_empty() {
            return match snapshot.grants_any(&item.email) {
                Ok(true) => Granted::Yes,
                Ok(false) => Granted::No,
                Err(e) => cannot_tell(failed(e)),
            };
        }
        // A case not granted withholds the mail, whatever could not be
        // read of the others.
        let mut unread = None;
        for id in &item.case_keys {
            let Some(case) = schemas::CaseRef::parse_id(id) else {
                return Granted::No;
            };
            match snapshot.grants_case(&item.email, &case) {
                Ok(true) => {}
                // An expiry mail's case that had ended before its night
                // (`notify::ended`): no later snapshot grants it, and the
                // mail is about that.
                Ok(false) if item.kind == mail::Kind::Expiry => {
                    match ended(snapshot, &case, &item.night) {
                        Ok(true) => {}
                        Ok(false) => return Granted::No,
                        Err(e) => unread = unread.or(Some(failed(e))),
                    }
                }
                Ok(false) => return Granted::No,
                Err(e) => unread = unread.or(Some(failed(e))),
            }
        }
        match unread {
            Some(why) => cannot_tell(why),
            None => later(live),
        }
    }
}

/// Whether `case` had ended in `snapshot` before the night `night`
/// (YYYYMMDD) of the mail that names it (`notify::ended::ended_before`).
fn ended(snapshot: &Snapshot, case: &schemas::CaseRef, night: &str) -> Result<bool, ReadError> {
    let Some(night) = schemas::date::parse_batch_date(night) else {
        return Ok(false);
    };
    Ok(snapshot
        .case_state(&case.court, &case.key)?
        .is_some_and(|s| crate::notify::ended::ended_before(&s, night).is_some()))
}

impl GrantCheck for NoLongerGranted<'_> {
    /// Asked of the snapshot last read, or, for mail of a newer night or
    /// build than that one (an import beside the run may have published
    /// it), of the one `CURRENT` names now: a publish the claim does not
    /// see is seen before delivery, which is exact.
    fn at_claim(&self, item: &mail::outbox::Item) -> Granted {
        let mut live = self.live.lock().expect("live");
        // (a grant mail of its own, its build not known, may be newer)
        if live
            .key()
            .is_none_or(|own| built(item).is_none_or(|built| built > own))
        {
            live.refresh(self.store);
        }
        let granted = self.ask(&mut live, item);
        if granted == Granted::Yes {
            self.claimed
                .lock()
                .expect("claimed")
                .insert(item.id, live.generation);
        }
        granted
    }

    /// Yes at once if `CURRENT` is as it was when the claim said so (one
    /// `stat`); else asked again of the snapshot live now.
    fn before_delivery(&self, item: &mail::outbox::Item) -> Granted {
        let mut live = self.live.lock().expect("live");
        live.refresh(self.store);
        let claimed = self.claimed.lock().expect("claimed").remove(&item.id);
        if claimed == Some(live.generation) {
            return Granted::Yes;
        }
        self.ask(&mut live, item)
    }
}

/// The night and build whose mail `item` is, to compare with
/// [`Live::key`]; `None` for mail whose build is not known (a grant mail
/// of its own, `more-N`: checked whatever is live).
fn built(item: &mail::outbox::Item) -> Option<(&str, u32)> {
    let build = mail::outbox::reference_build(&item.reference)?;
    Some((item.night.as_str(), build))
}

/// The live snapshot, opened (not verified) to name the courts of flagged
/// addresses in `send`'s and `bounces`' reports; `None` when there is none
/// or it cannot be opened (then no court is named).
pub(crate) fn open_live(store: &Store) -> Option<Snapshot> {
    store
        .live()
        .ok()
        .flatten()
        .and_then(|f| Snapshot::open(&f).ok())
}

/// The courts whose grants in `snapshot` (the live one) name an address.
pub(crate) fn courts_by_address(snapshot: Option<Snapshot>) -> impl Fn(&str) -> Vec<String> {
    move |email| {
        snapshot
            .as_ref()
            .map(|s| s.courts_of_address(email).unwrap_or_default())
            .unwrap_or_default()
    }
}
