//! `cpor-etl outbox list|show|release|retry|pending|rediff|forget`: what the outbox holds and
//! what administrators may do with it (through `mail::outbox`, which owns
//! its tables).

use anyhow::{anyhow, bail, Result};

use crate::config::Config;
use mail::outbox::{Outbox, PendingNight, RetryWhich};
use store::layout::Store;

/// Whether a pending night can be queued as it stands.
fn readiness(store: &Store, p: &PendingNight) -> String {
    let check = |name: &str| match store.by_name(name) {
        None => Err(format!("{name} is gone")),
        Some(f) => store.verify(&f).map_err(|e| format!("DAMAGED: {e}")),
    };
    match check(&p.to).and_then(|()| p.from.as_deref().map_or(Ok(()), check)) {
        Ok(()) => "ready".into(),
        Err(e) => e,
    }
}

pub enum Action {
    List {
        night: Option<String>,
        state: Option<String>,
    },
    Show {
        id: i64,
        raw: bool,
    },
    Release {
        night: String,
    },
    Retry {
        id: Option<i64>,
        failed: bool,
        dry_run: bool,
    },
    Pending,
    Rediff {
        snapshot: String,
        from: String,
        /// Say what the mail would be; change nothing.
        dry_run: bool,
    },
    Forget {
        snapshot: String,
        /// Say what would never be mailed; change nothing.
        dry_run: bool,
    },
}

pub fn run(config: &Config, action: Action) -> Result<i32> {
    let mut outbox = Outbox::open(&config.data_dir)?;
    match action {
        Action::Pending => {
            let pending = outbox.pending()?;
            if pending.is_empty() {
                say!("no night waits: every published night's mail is queued or was given up (`outbox forget`)");
                return Ok(0);
            }
            let store = Store::new(&config.data_dir);
            say!(
                "{:>4} {:<28} {:<28} state",
                "seq",
                "night (snapshot)",
                "compared with"
            );
            for p in &pending {
                say!(
                    "{:>4} {:<28} {:<28} {}",
                    p.seq,
                    p.to,
                    p.from.as_deref().unwrap_or("(none: a first load)"),
                    readiness(&store, p)
                );
            }
            say!("`cpor-etl send` or the next import queues each ready night; see docs/OPERATIONS.md for the others");
            Ok(0)
        }
        Action::Rediff {
            snapshot,
            from,
            dry_run,
        } => {
            let store = Store::new(&config.data_dir);
            // A running import or catch-up may be queueing this night
            // from the comparison it read: refused while one holds the
            // lock (`LOCKED`, to run again after it). A dry run changes
            // nothing and takes no lock (held for a national diff, it would
            // turn the nightly import away).
            let _lock = match dry_run {
                true => None,
                false => match crate::commands::take(store.lock())? {
                    Some(lock) => Some(lock),
                    None => return Ok(crate::import::exit::LOCKED),
                },
            };
            if !dry_run {
                mail::send::check_configured(
                    &config.data_dir,
                    &config.mail,
                    false,
                    chrono::Utc::now(),
                )?;
            }
            let snapshot = pending_named(&outbox, &snapshot)?;
            let from_file = match from.as_str() {
                "none" => None,
                name => {
                    let file = kept_named(&store, name)?;
                    store.verify(&file)?;
                    Some(file)
                }
            };
            // Built after the night (a later night, or a later build of
            // it): its grants are there already and the night's news is
            // undone, so the night's mail would be lost for good.
            if let (Some(f), Some(night)) = (&from_file, store.by_name(&snapshot)) {
                if (f.date, f.build) > (night.date, night.build) {
                    bail!(
                        "night {snapshot} cannot be compared with {}, built after it: its grants \
                         are there already and the night's news is undone, so its activation \
                         links, approval notices and digests would never be mailed; compare it \
                         with a snapshot built before it, or give it up with `cpor-etl outbox \
                         forget`",
                        f.name()
                    );
                }
            }
            let from = from_file.as_ref().map(|f| f.name());
            if from.as_deref() == Some(snapshot.as_str()) {
                bail!(
                    "night {snapshot} cannot be compared with itself: it would find nothing, and \
                     its news and its new grants' activation links would never be mailed; compare \
                     it with the snapshot before it, or give it up with `cpor-etl outbox forget`"
                );
            }
            let from = from.as_deref();
            let Some(pending) = outbox.pending_for(&snapshot)? else {
                return Ok(no_pending_night(&snapshot));
            };
            if dry_run {
                let recorded = pending.from.as_deref().unwrap_or("none");
                let then = format!(
                    "`cpor-etl outbox rediff {snapshot} --from {}` records this comparison; the \
                     next `cpor-etl send` queues and delivers the mail",
                    from.unwrap_or("none")
                );
                let note = (from.unwrap_or("none") != recorded)
                    .then(|| format!("(its mail is recorded to be compared with {recorded})"));
                return preview(
                    config,
                    &store,
                    &snapshot,
                    from_file.as_ref(),
                    true,
                    note.as_deref(),
                    &then,
                );
            }
            outbox.compare_pending_with(&snapshot, from)?;
            say!(
                "night {snapshot} will be compared with {}; `cpor-etl send` queues and delivers its mail",
                from.unwrap_or("nothing (as a first load)")
            );
            Ok(0)
        }
        Action::Forget { snapshot, dry_run } => {
            let store = Store::new(&config.data_dir);
            if dry_run {
                let snapshot = pending_named(&outbox, &snapshot)?;
                let Some(pending) = outbox.pending_for(&snapshot)? else {
                    return Ok(no_pending_night(&snapshot));
                };
                let from = match pending.from.as_deref() {
                    None => None,
                    Some(name) => match store.by_name(name) {
                        Some(file) => Some(file),
                        None => bail!(
                            "what night {snapshot}'s mail would tell cannot be worked out: {name}, the \
                             snapshot it is compared with, is gone. `cpor-etl outbox rediff {snapshot} \
                             --from <kept snapshot> --dry-run` shows what a comparison with another \
                             kept snapshot would mail"
                        ),
                    },
                };
                let then = format!(
                    "`cpor-etl outbox forget {snapshot}` gives all of it up: none of it is ever mailed"
                );
                return preview(config, &store, &snapshot, from.as_ref(), false, None, &then);
            }
            // Not while a run may be queueing the night's mail: it would be
            // sent after being given up.
            let Some(_lock) = crate::commands::take(store.lock())? else {
                return Ok(crate::import::exit::LOCKED);
            };
            let snapshot = pending_named(&outbox, &snapshot)?;
            if !outbox.forget_pending(&snapshot)? {
                return Ok(no_pending_night(&snapshot));
            }
            say!("night {snapshot} given up: its news will not be mailed; tell the courts' clerks");
            Ok(0)
        }
        Action::List { night, state } => {
            if let Some(s) = &state {
                if mail::outbox::State::parse(s).is_none() {
                    let known: Vec<&str> = mail::outbox::State::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect();
                    bail!("no state `{s}`: say one of {}", known.join(", "));
                }
            }
            let items = outbox.list(night.as_deref(), state.as_deref())?;
            say_part!("{}", list_table(&items));
            let counts = outbox.counts_by_state(night.as_deref())?;
            let all = if counts.is_empty() {
                "empty".to_string()
            } else {
                let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
                counts.join(", ")
            };
            // (a list of one state counts itself first: its last line is
            // what a script reads)
            match &state {
                Some(s) => say!("total: {s} {} (every state: {all})", items.len()),
                None => say!("total: {all}"),
            }
            Ok(0)
        }
        Action::Show { id, raw } => {
            let Some(shown) = outbox.show(id)? else {
                eprintln!("cpor-etl: no outbox item {id}");
                return Ok(crate::commands::EXIT_NOT_FOUND);
            };
            for (name, value) in shown.fields {
                say!("{name:>11}: {value}");
            }
            say!();
            match shown.message {
                Err(why) => {
                    say!("({why}: {})", mail::outbox::UNREADABLE_HELP)
                }
                // cpor-server empties sent bodies after server.keep_sent_mail_days.
                Ok(m) if m.is_empty() => {
                    say!("(the message was sent and its body since deleted)")
                }
                Ok(m) => match mail::render::readable(&m).filter(|_| !raw) {
                    Some(shown) => {
                        say_part!("{shown}");
                        say!("\n(as its reader reads it; `--raw` prints the message as sent)");
                    }
                    None => say_part!("{}", String::from_utf8_lossy(&m)),
                },
            }
            Ok(0)
        }
        Action::Release { night } => {
            // Not while an import queues a night: one compared with the
            // night rolled back to would tell the held news as well.
            let store = Store::new(&config.data_dir);
            let Some(_lock) = crate::commands::take(store.lock())? else {
                return Ok(crate::import::exit::LOCKED);
            };
            if let Some(later) = outbox.told_since_held(&night)? {
                if outbox.held_by_a_rollback(&night)? {
                    eprintln!(
                        "cpor-etl: night {night}'s digests were held by a rollback, and night {later}'s mail, \
                         queued since, compared with the night rolled back to, told what of their news is \
                         still true: released, they would tell it twice; nothing released (they never go)"
                    );
                } else {
                    eprintln!(
                        "cpor-etl: night {night}'s digests were held by the flood guard, and night \
                         {later}'s mail, queued since, was compared with night {night}: released, they \
                         would arrive after it with older news (a hearing's date since moved, with its \
                         calendar file); nothing released (they never go; the site shows their news)"
                    );
                }
                return Ok(crate::import::exit::ERROR);
            }
            let n = outbox.release(&night, chrono::Utc::now())?;
            if n == 0 {
                eprintln!(
                    "cpor-etl: no held digests of night {night}; nothing released (see `cpor-etl outbox list --state held`)"
                );
                return Ok(crate::commands::EXIT_NOT_FOUND);
            }
            say!("released {n} held digests of night {night}; `cpor-etl send` delivers them");
            Ok(0)
        }
        Action::Retry {
            id,
            failed,
            dry_run,
        } => {
            let accounts = store::accounts::open(&config.data_dir)?;
            // (Lower-cased, as `RetryWhich::Failed` compares them; read once
            // the retry holds the outbox's write lock.)
            let flagged = || {
                store::accounts::flagged_set(&accounts)
                    .map(|set| set.into_iter().map(|e| e.to_lowercase()).collect())
            };
            let (which, what) = match (id, failed) {
                (Some(id), _) => (RetryWhich::Item(id), "item"),
                (None, true) => (RetryWhich::Failed { flagged: &flagged }, "failed items"),
                (None, false) => bail!("say which: an item id, or --failed"),
            };
            // A reminder past its day, as `send` judges it now; an
            // activation whose link has expired (made as it was queued,
            // `mail.activation_days`).
            let (window, now) = (config.mail.window, chrono::Utc::now());
            let stale = |kind, night: &str, queued_at| match kind {
                mail::Kind::Reminder => mail::send::past_its_day(night, queued_at, window, now)
                    .then_some(mail::outbox::Stale::PastItsDay),
                mail::Kind::Activation => (config.mail.activation_until(queued_at) <= now)
                    .then_some(mail::outbox::Stale::LinkExpired),
                _ => None,
            };
            let retried = outbox.retry(which, &stale, dry_run)?;
            // What is said, done or (a dry run) not.
            let (queued_again, left_as) = match dry_run {
                false => ("queued", "left as"),
                true => ("would queue", "would be left as"),
            };
            store::failpoint::pause("retry-before-flags");
            // Retrying by hand is a decision to write to the address again
            // (the mail queued with an item goes to the same address): the
            // retry recorded its flag's clearing, written here (or, if this
            // fails, by the next `send`).
            for email in retried.emails.iter().filter(|_| !dry_run) {
                let of = mail::outbox::FlagsOf::Address(email);
                mail::send::write_flags(&mut outbox, &accounts, of, chrono::Utc::now())?;
            }
            use crate::commands::plural;
            let it_is = |n: usize| if n == 1 { "it is" } else { "they are" };
            if !retried.flagged.is_empty() {
                let n = retried.flagged.len();
                say!(
                    "{n} failed item{} to a flagged address {left_as} {} (its mail server said the \
                     address is bad; `cpor-etl outbox retry <id>` writes to one again, clearing its flag):",
                    plural(n),
                    it_is(n)
                );
                for (id, email) in &retried.flagged {
                    say!("  item {id}: {email}");
                }
            }
            for id in &retried.emptied {
                say!(
                    "item {id}: {}; tell its reader another way (`cpor-etl outbox show {id}` says who and what)",
                    mail::outbox::EMPTIED
                );
            }
            if !retried.too_late.is_empty() {
                let n = retried.too_late.len();
                say!(
                    "{n} reminder{} past {} day {left_as} {} (sent now, it would speak of a day \
                     gone by as to come; `send` fails a reminder not sent by the end of its day):",
                    plural(n),
                    if n == 1 { "its" } else { "their" },
                    it_is(n)
                );
                for (id, night) in &retried.too_late {
                    say!("  item {id}: the reminder of {night}");
                }
            }
            if !retried.expired_links.is_empty() {
                let n = retried.expired_links.len();
                say!(
                    "{n} activation{} whose link has expired {left_as} {} (sent now, its link \
                     would not work; its reader asks for a new one at {}/forgot, which sends one \
                     while a grant names the address, or gets one with the next grant):",
                    plural(n),
                    it_is(n),
                    config.mail.site_url
                );
                for (id, email) in &retried.expired_links {
                    say!("  item {id}: {email}");
                }
            }
            if !retried.password_links.is_empty() {
                let n = retried.password_links.len();
                say!(
                    "{n} password link{} of the website {left_as} {} (a link works for minutes: \
                     sent now it would most likely arrive dead, and its reader asks again on the \
                     site; `cpor-etl outbox retry <id>` sends one anyway):",
                    plural(n),
                    it_is(n)
                );
                for (id, email) in &retried.password_links {
                    say!("  item {id}: {email}");
                }
            }
            let dry = || {
                if dry_run {
                    say!("(a dry run: nothing changed; without --dry-run it does the above)");
                }
            };
            if retried.emails.is_empty() && retried.told.is_empty() {
                let left_something = !retried.emptied.is_empty()
                    || !retried.too_late.is_empty()
                    || !retried.expired_links.is_empty()
                    || !retried.password_links.is_empty();
                let why = if left_something {
                    "nothing queued again".to_string()
                } else if retried.flagged.is_empty() {
                    nothing_to_retry(&outbox, id)?
                } else {
                    "every failed item is to a flagged address (above); nothing queued again"
                        .to_string()
                };
                // (nothing above to do without --dry-run either: "it does
                // the above" said over nothing, the admin review of the
                // fifty-second session)
                if left_something || !retried.flagged.is_empty() {
                    dry();
                }
                eprintln!("cpor-etl: {why}");
                return Ok(crate::commands::EXIT_NOT_FOUND);
            }
            if retried.asked > 0 {
                let n = retried.asked;
                let what = match what {
                    "item" => "item".to_string(),
                    _ => format!("failed item{}", plural(n)),
                };
                // How many of each kind and night (`2 × digest of night
                // 20261124`): whose mail goes, before it goes.
                let mut each = std::collections::BTreeMap::new();
                for (kind, night) in &retried.queued {
                    *each.entry((night.as_str(), kind.as_str())).or_insert(0) += 1;
                }
                match retried.queued.as_slice() {
                    [_] => say!(
                        "{queued_again} {n} {what} again ({})",
                        by_kind_and_night(&each)[0]
                    ),
                    _ => {
                        say!("{queued_again} {n} {what} again:");
                        for line in by_kind_and_night(&each) {
                            say!("  {line}");
                        }
                    }
                }
            }
            for (id, told_by) in &retried.told {
                let (night, reference) = mail::outbox::teller(told_by);
                say!(
                    "item {id} is not queued again: the night of {}'s mail told its cases still \
                     granted, having found a case it names no longer granted",
                    night_text(night, reference)
                );
            }
            for t in &retried.tellers {
                say!("{}", teller_line(t, dry_run));
            }
            dry();
            if retried.emails.is_empty() {
                eprintln!("cpor-etl: nothing queued again");
                return Ok(crate::commands::EXIT_NOT_FOUND);
            }
            Ok(0)
        }
    }
}

/// Counts of items by night and kind, each as `2 × digest of night
/// 20261124`, in night order.
fn by_kind_and_night(each: &std::collections::BTreeMap<(&str, &str), usize>) -> Vec<String> {
    each.iter()
        .map(|((night, kind), n)| format!("{n} × {kind} of night {night}"))
        .collect()
}

/// A night's mail as people read it, by its night and reference:
/// `20261124`, `20261124 (build-2)`.
fn night_text(night: &str, reference: &str) -> String {
    if reference.is_empty() {
        night.to_string()
    } else {
        format!("{night} ({reference})")
    }
}

/// What `retry` says of mail that told the cases of an item it was asked
/// for (`Outbox::retry`), and what it did with it.
fn teller_line(t: &mail::outbox::Teller, dry_run: bool) -> String {
    use mail::outbox::Fate;
    let night = night_text(&t.night, &t.reference);
    let fate = match t.fate {
        Fate::QueuedAgain if dry_run => "it would be queued again in its place".to_string(),
        Fate::QueuedAgain => "queued again in its place".to_string(),
        Fate::ToldLater => {
            "a night's mail told its cases in turn (followed below, unless it is one met already)"
                .to_string()
        }
        Fate::Went => "it went".to_string(),
        Fate::MayStillGo => "it may still go".to_string(),
        Fate::MayHaveGone => format!(
            "it may have gone (an attempt may have reached a relay, perhaps before it was last \
             queued again), so it is not queued again unasked: `cpor-etl outbox retry {}` if \
             you know it did not",
            t.id
        ),
        Fate::Covered => "an activation or approval that went said its cases' last day".to_string(),
        Fate::Withheld => {
            "withheld in its turn: what of it is still granted, if anything, a night's mail tells"
                .to_string()
        }
        Fate::Unreadable => format!(
            "its stored message cannot be read, so its cases are not told: tell the address \
             (`cpor-etl outbox show {}` lists them)",
            t.id
        ),
    };
    format!(
        "  item {id}, the {kind} of the night of {night} that told item {of}'s cases, was {was}: {fate}",
        id = t.id,
        kind = t.kind.as_str(),
        of = t.of,
        was = t.was.as_str(),
    )
}

/// Why `retry` queued nothing: no such item, an item in a state retrying
/// does not apply to, or no failed item.
fn nothing_to_retry(outbox: &Outbox, id: Option<i64>) -> Result<String> {
    let Some(id) = id else {
        return Ok("no failed items; nothing queued again".into());
    };
    let Some(state) = outbox.state_of(id)? else {
        return Ok(format!("no outbox item {id}"));
    };
    if outbox.withheld(id)? {
        return Ok(format!(
            "item {id} was withheld: it names a case no longer granted to its address \
             (`cpor-etl outbox show {id}`: the night's mail tells again, or will, what of it is \
             still granted); it is not queued again. A grant the court restores is mailed as new \
             with its night"
        ));
    }
    if let Some(by) = outbox.superseded_by(id)? {
        return Ok(format!(
            "item {id} was superseded by the mail of {by}, the night imported again after a \
             rollback: that mail tells the night's news as corrected, and this one, queued \
             again, would tell the night twice; it is not queued again (`cpor-etl outbox list \
             --night {}` shows that mail)",
            by.split('-').next().unwrap_or(&by)
        ));
    }
    let retryable: Vec<&str> = mail::outbox::sources(mail::outbox::Event::Retry)
        .iter()
        .map(|s| s.as_str())
        .collect();
    let (last, rest) = retryable.split_last().expect("some state can be retried");
    Ok(format!(
        "item {id} is {}; only {} or {last} items can be queued again",
        state.as_str(),
        rest.join(", ")
    ))
}

/// `outbox list`'s table: columns as wide as their widest value, the
/// subject last. Only mail still to be tried has a next time; sent,
/// failed and suppressed items show a dash. A re-run's mail of a night
/// shows its build beside the night (`20261124/build-2`).
fn list_table(items: &[mail::outbox::Listed]) -> String {
    use mail::outbox::State;
    let header = [
        "id",
        "night",
        "kind",
        "state",
        "try",
        "next (Taipei)",
        "address",
        "subject",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(String::from)];
    for i in items {
        let waiting = matches!(
            i.state,
            State::Queued | State::Held | State::Retrying | State::Unknown
        );
        let night = if i.reference.is_empty() || i.kind.scope() != mail::Scope::Nightly {
            i.night.clone()
        } else {
            format!("{}/{}", i.night, i.reference)
        };
        rows.push([
            i.id.to_string(),
            night,
            i.kind.as_str().to_string(),
            i.state.as_str().to_string(),
            i.attempts.to_string(),
            // In Taipei, as the nightly window and the send window are said.
            match i.next.filter(|_| waiting) {
                Some(t) => t
                    .with_timezone(&schemas::date::taipei())
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                None => "—".into(),
            },
            i.email.clone(),
            i.subject.clone(),
        ]);
    }
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..7).map(width).collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, w) in widths.iter().enumerate() {
            let cell = &r[c];
            let pad = w - cell.chars().count();
            // Numbers right-aligned, text left.
            if c == 0 || c == 4 {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        line.push_str(&r[7]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A pending night as an administrator names it: its snapshot's file name
/// (`20261124-1.sqlite`), or its date (`20261124`), which names the one
/// pending build of that night. Anything else is passed on as it is, to be
/// answered "no pending night".
fn pending_named(outbox: &Outbox, arg: &str) -> Result<String> {
    let Some(date) = schemas::date::parse_batch_date(arg) else {
        return Ok(arg.to_string());
    };
    let prefix = format!("{}-", schemas::date::compact(date));
    let builds: Vec<String> = outbox
        .pending()?
        .into_iter()
        .map(|p| p.to)
        .filter(|to| to.starts_with(&prefix))
        .collect();
    match builds.as_slice() {
        [] => Ok(arg.to_string()),
        [one] => Ok(one.clone()),
        more => bail!(
            "night {arg} has {} pending builds ({}): name one",
            more.len(),
            more.join(", ")
        ),
    }
}

/// Says what the mail of the pending night `snapshot` would be, compared
/// with `from` (`None`: as a first load), were it queued now; changes
/// nothing. `then`: the command that would do it.
fn preview(
    config: &Config,
    store: &Store,
    snapshot: &str,
    from: Option<&store::layout::SnapshotFile>,
    from_verified: bool,
    note: Option<&str>,
    then: &str,
) -> Result<i32> {
    let Some(to) = store.by_name(snapshot) else {
        bail!("night {snapshot}'s snapshot is gone: it has no mail to queue");
    };
    let cannot = |e: &dyn std::fmt::Display| {
        anyhow!(
            "what night {snapshot}'s mail would be cannot be worked out: {e}. `cpor-etl outbox \
             rediff {snapshot} --from <kept snapshot> --dry-run` shows what a comparison with \
             another kept snapshot would mail"
        )
    };
    // Both at once (each a national snapshot's hash), told apart: no
    // comparison helps while the night's own snapshot is damaged.
    // (told as `notify` tells a damaged snapshot: `NotifyError::Damaged`)
    let mut checked = crate::notify::verify_each(
        store,
        [&to].into_iter().chain(from.filter(|_| !from_verified)),
    )
    .into_iter()
    .map(|c| c.map_err(|e| crate::notify::NotifyError::damaged(&to, e)));
    if let Some(Err(e)) = checked.next() {
        bail!(
            "what night {snapshot}'s mail would be cannot be worked out: {e}. No comparison can \
             tell it while its own snapshot is damaged: {restore}; or give the night up \
             (`cpor-etl outbox forget {snapshot}`)",
            restore = store::layout::RESTORE
        );
    }
    if let Some(Err(e)) = checked.next() {
        return Err(cannot(&e));
    }
    let summary = crate::notify::preview(store, &config.mail, from, &to, chrono::Utc::now())
        .map_err(|e| cannot(&e))?;
    say!(
        "night {snapshot} compared with {}{} (a dry run: nothing is changed):",
        from.map_or("nothing (as a first load)".into(), |f| f.name()),
        note.map_or(String::new(), |n| format!(" {n}"))
    );
    for line in crate::report::mail_lines(&summary, true) {
        say!("  {line}");
    }
    match crate::notify::outlook(store, &config.mail, &to, from) {
        Ok(notes) => {
            for line in notes {
                say!("  note: {line}");
            }
        }
        Err(e) => say!("  note: what the next `send` would do first cannot be told: {e}"),
    }
    say!("{then}");
    Ok(0)
}

/// Says there is no pending night `snapshot`; the exit code.
fn no_pending_night(snapshot: &str) -> i32 {
    eprintln!("cpor-etl: no pending night `{snapshot}` (see `cpor-etl outbox pending`)");
    crate::commands::EXIT_NOT_FOUND
}

/// A kept snapshot as an administrator names it: its file name, or its
/// date (that night's newest build).
fn kept_named(store: &Store, arg: &str) -> Result<store::layout::SnapshotFile> {
    let found = match schemas::date::parse_batch_date(arg) {
        Some(date) => store.find(date)?,
        None => store.by_name(arg),
    };
    found.ok_or_else(|| {
        anyhow!(
            "no kept snapshot `{arg}` in {} (see `cpor-etl snapshots`)",
            store.snapshots_dir().display()
        )
    })
}
