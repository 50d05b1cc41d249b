//! `cpor-etl forget-address <EMAIL>`: delete what cpor keeps of an address
//! no live grant names (a stranger's a clerk mistyped into a grant, since
//! revoked; a party whose cases ended, who asks to be forgotten): its
//! account with its links, sessions, case views and calendar feed, its
//! bounce flag (`store::accounts::forget`), its mail's records and text
//! and the warnings and reminders it was given (`Outbox::forget_address`),
//! and its mail written as `.eml` files. Takes the import lock, so no
//! import grants it and queues its mail meanwhile; refuses an address the
//! live snapshot grants (the next import would make its account again), or
//! the snapshot the next import is compared with after a rollback does.
//! What it cannot reach it says: the reports that name it, and the kept
//! snapshots (read-only) until the import prunes them.

use anyhow::Result;

use crate::commands::{plural, EXIT_NOT_FOUND};
use crate::import::exit;
use crate::snapshot::read::Snapshot;
use store::layout::Store;

pub fn run(store: &Store, typed: &str, dry_run: bool, vacuum: bool) -> Result<i32> {
    // The address as kept now, and as kept before a domain in Chinese was
    // taken to its ASCII form, if that is another (what was kept then is
    // under it: the review of the forty-ninth session's change).
    let forms: Vec<String> = std::iter::once(store::accounts::normalise_email(typed))
        .chain(store::accounts::earlier_form(typed))
        .collect();
    let Some(_lock) = crate::commands::take(store.lock())? else {
        return Ok(exit::LOCKED);
    };
    // The live snapshot, and, after a rollback, the later one the next
    // import is compared with (`notify::mail_base`): a grant it holds is
    // not new to that import, which would queue no activation for an
    // account forgotten meanwhile (the admin review of the fiftieth
    // session).
    let live_file = store.live()?;
    let base = crate::notify::mail_base(store, live_file.as_ref(), chrono::NaiveDate::MAX)?
        .filter(|b| live_file.as_ref().is_some_and(|l| l.path != b.path));
    let mut snapshots = Vec::new();
    if let Some(live) = &live_file {
        snapshots.push((
            "the live snapshot".to_string(),
            "the next import would make its account again",
            Snapshot::open(live)?,
        ));
    }
    if let Some(base) = &base {
        snapshots.push((
            format!("{} (rolled back from)", base.name()),
            "the next import is compared with it, so takes the grant as told and would mail \
             no activation to an account forgotten now",
            Snapshot::open(base)?,
        ));
    }
    for email in &forms {
        for (which, then, snapshot) in &snapshots {
            let granted = snapshot.granted_to(email)?;
            if granted.is_empty() {
                continue;
            }
            let n = granted.len();
            let s = plural(n);
            let courts: std::collections::BTreeSet<&str> =
                granted.iter().map(|(court, _, _)| court.as_str()).collect();
            eprintln!(
                "cpor-etl: {email}: {which} grants it {n} case{s} ({}): {then}; ask the \
                 court's clerk to revoke the grant{s}, and forget it once a night without {} \
                 is imported; nothing deleted",
                courts.into_iter().collect::<Vec<_>>().join(", "),
                if n == 1 { "it" } else { "them" }
            );
            return Ok(exit::ERROR);
        }
    }
    let mut outbox = mail::outbox::Outbox::open(&store.root)?;
    let mut accounts = store::accounts::open(&store.root)?;
    let mut code = EXIT_NOT_FOUND;
    for (i, email) in forms.iter().enumerate() {
        match forget(store, &mut outbox, &mut accounts, email, dry_run)? {
            // (the earlier form is said only if something is kept of it)
            Forgot::Nothing if i > 0 => {}
            Forgot::Nothing => {
                say!("{email}: cpor keeps nothing of it (no account, no mail, no flag)")
            }
            Forgot::Sending => return Ok(exit::LOCKED),
            Forgot::Done => code = 0,
        }
    }
    // (nothing left, and no rebuild asked: said, exit 4; asked, the files
    // are rebuilt all the same: the run before, without --vacuum, says to
    // run again with it, which found nothing to delete and rebuilt nothing)
    if dry_run || (code != 0 && !vacuum) {
        return Ok(code);
    }
    if vacuum {
        // Earlier writes (a state changed, a row deleted before
        // `secure_delete`) can leave copies of the address in a page's free
        // space; rebuilt, the files hold only their rows.
        let started = std::time::Instant::now();
        accounts.execute_batch("VACUUM")?;
        outbox.vacuum()?;
        say!(
            "  both databases rebuilt (VACUUM, {:.1} s): no copy of it is left in their free space",
            started.elapsed().as_secs_f64()
        );
    } else {
        say!(
            "  its rows' bytes are overwritten; copies earlier writes left in free space stay until \
             the files are rebuilt (run again with --vacuum, outside the send window)"
        );
    }
    say!(
        "  not reached: the reports under {} that name it (an import's rejects, kept without \
         end; send and bounce reports, for mail.keep_reports_days), and the kept snapshots \
         that still grant it (read-only, pruned by the import after import.keep_snapshots \
         nights)",
        store.reports_dir().display()
    );
    Ok(0)
}

/// What [`forget`] did of one form of the address.
enum Forgot {
    /// Nothing is kept of it.
    Nothing,
    /// A `send` delivers its mail now: nothing deleted.
    Sending,
    /// Deleted, or, in a dry run, said what would be.
    Done,
}

/// Deletes (or, `dry_run`, counts) what is kept of `email`, and says so.
fn forget(
    store: &Store,
    outbox: &mut mail::outbox::Outbox,
    accounts: &mut rusqlite::Connection,
    email: &str,
    dry_run: bool,
) -> Result<Forgot> {
    // The outbox first: mail to it can go no more, whatever comes after.
    // Each store counts what it keeps and, unless a dry run, deletes it in
    // the same transaction (the outbox not while a `send` delivers to it).
    let mail = outbox.forget_address(email, dry_run)?;
    if mail.sending > 0 {
        eprintln!(
            "cpor-etl: {email}: a `send` is delivering {} of its mail now; run again when it is \
             done; nothing deleted",
            mail.sending
        );
        return Ok(Forgot::Sending);
    }
    let kept = store::accounts::forget(accounts, email, dry_run)?;
    let files: Vec<std::path::PathBuf> = mail
        .items
        .iter()
        .map(|i| {
            mail::send::eml_file(
                &store.root.join("mail"),
                &i.night,
                i.kind,
                email,
                &i.reference,
            )
        })
        .filter(|p| p.exists())
        .collect();
    if kept.is_empty() && mail.items.is_empty() && mail.warned + mail.reminded == 0 {
        return Ok(Forgot::Nothing);
    }
    let what = format!(
        "{} account ({} link{}, {} session{}, {} case view{}, {} calendar feed{}), {} \
         mail{} ({} written as files), {} expiry warning{} and {} hearing reminder{} recorded, \
         {} bounce flag{}{}",
        if kept.account == 0 { "no" } else { "its" },
        kept.tokens,
        plural(kept.tokens),
        kept.sessions,
        plural(kept.sessions),
        kept.case_views,
        plural(kept.case_views),
        kept.feeds,
        plural(kept.feeds),
        mail.items.len(),
        plural(mail.items.len()),
        files.len(),
        mail.warned,
        plural(mail.warned),
        mail.reminded,
        plural(mail.reminded),
        kept.flag,
        plural(kept.flag),
        if kept.prosecutors > 0 {
            format!(
                "; and the address of {} prosecutor's account{} (kept, without it: no digest \
                 or reminders)",
                kept.prosecutors,
                plural(kept.prosecutors)
            )
        } else {
            String::new()
        },
    );
    if dry_run {
        say!("{email}: would delete {what}; nothing changed (--dry-run)");
        return Ok(Forgot::Done);
    }
    for f in &files {
        std::fs::remove_file(f)?;
    }
    say!("{email}: deleted {what}");
    // (what was deleted is out of the files, but older page images of it
    // stay in a log a reader held, an open `sqlite3` or a backup copying,
    // until a later checkpoint empties it)
    let held: Vec<&str> = [
        (mail.log_held, "outbox.sqlite-wal"),
        (kept.log_held, "accounts.sqlite-wal"),
    ]
    .into_iter()
    .filter_map(|(held, log)| held.then_some(log))
    .collect();
    if !held.is_empty() {
        say!(
            "note: {} still hold{} older copies of what was deleted: a reader held the log (an \
             open sqlite3, a backup copying), and it was not waited for, as waiting keeps every \
             writer out; it is emptied once no reader holds it, by the next `forget-address` or daily \
             purge that deletes something, or at once by `sqlite3 <file> 'PRAGMA wal_checkpoint(TRUNCATE)'`",
            held.join(" and "),
            if held.len() == 1 { "s" } else { "" }
        );
    }
    Ok(Forgot::Done)
}
