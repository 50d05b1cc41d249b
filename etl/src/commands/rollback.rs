//! `cpor-etl rollback <YYYYMMDD>`: point `CURRENT` at a kept snapshot (its
//! newest build). Takes the import lock, so it never races an import.

use anyhow::{anyhow, Result};

use crate::import::exit;
use crate::snapshot::read::Snapshot;
use schemas::date::{compact, parse_batch_date};
use store::layout::{SnapshotFile, Store};

/// The grants the nights after `target` recorded for `cpor-server stats`
/// are forgotten: their snapshots are no longer the service's (a bad
/// export's count stayed counted). A failure is said, not fatal: the
/// rollback stands, and a run again forgets them.
fn forget_later_grants(store: &Store, target: &SnapshotFile) {
    let night = compact(target.date);
    let forgot = store::accounts::open(&store.root)
        .map_err(anyhow::Error::from)
        .and_then(|c| Ok(store::accounts::forget_grants_after(&c, &night)?));
    if let Err(e) = forgot {
        eprintln!(
            "cpor-etl: the grants the nights after {night} recorded for `cpor-server stats` \
             were not forgotten ({e}): run `cpor-etl rollback {night}` again"
        );
    }
}

pub fn run(store: &Store, date: &str) -> Result<i32> {
    let date = parse_batch_date(date).ok_or_else(|| anyhow!("`{date}` is not YYYYMMDD"))?;
    let Some(_lock) = crate::commands::take(store.lock())? else {
        return Ok(exit::LOCKED);
    };
    let target = store.find(date)?.ok_or_else(|| {
        anyhow!(
            "no kept snapshot of {} (see `cpor-etl snapshots`)",
            compact(date)
        )
    })?;
    // Refuse a damaged file, and one the server could not open either.
    store
        .verify(&target)
        .map_err(|e| anyhow!("{e}. {}", store::layout::REPLACE_DAMAGED))?;
    Snapshot::open(&target)?;
    // (`CURRENT` naming a file not kept, deleted or moved: rolled back
    // past, as the message every command gives then says)
    let live = match store.live() {
        Ok(live) => live,
        Err(e) => match store.current_name()? {
            Some(name) => {
                say!("note: CURRENT names {name}, which is missing: rolling back past it");
                None
            }
            None => return Err(e.into()),
        },
    };
    // The later nights' digests are held before `CURRENT` moves: a
    // rollback killed between the two leaves them held, never sent with
    // the news of a snapshot no longer live (run again, it finishes).
    let held = hold_later_digests(store, &target);
    store::failpoint::pause("rollback-after-hold");
    if live.as_ref().is_some_and(|l| l.path == target.path) {
        // (what a rollback whose hold failed, or that was stopped, asks to
        // run again: it holds them now, and says so, not "nothing changed"
        // after its notes of what it held: the admin review of the
        // fifty-second session)
        let did = match &held {
            Ok(Some(h)) => h.rolled.iter().any(|r| r.held > 0) || h.reopened > 0,
            _ => false,
        };
        if !after_hold(store, &target, held) {
            return Ok(exit::ERROR);
        }
        forget_later_grants(store, &target);
        if did {
            say!(
                "{} is live already: CURRENT is unchanged; the notes above say what is held",
                target.name()
            );
        } else {
            say!("{} is live already; nothing changed", target.name());
        }
        return Ok(0);
    }
    let before = live.as_ref().map(|f| f.name());
    if let Some(live) = &live {
        keep_calendars_above(store, live, &target);
    }
    if let Err(e) = store.point_current(&target) {
        if let Ok(Some(held)) = &held {
            let n: u64 = held.rolled.iter().map(|r| r.held).sum();
            if n > 0 {
                eprintln!(
                    "cpor-etl: {n} digest(s) of the nights after {} are held, and {} is still live: \
                     run `cpor-etl rollback {}` again, or release them (`cpor-etl outbox release \
                     <night>`) to keep {}",
                    compact(target.date),
                    before.as_deref().unwrap_or("nothing"),
                    compact(target.date),
                    before.as_deref().unwrap_or("it"),
                );
            }
        }
        return Err(e.into());
    }
    store::failpoint::pause("rollback-after-current");
    say!(
        "CURRENT now names {} (was {})",
        target.name(),
        before.as_deref().unwrap_or("nothing")
    );
    forget_later_grants(store, &target);
    // Each later night's failed digests, not held (said by `after_hold`).
    let failed: std::collections::HashMap<String, u64> = match &held {
        Ok(Some(h)) => h
            .rolled
            .iter()
            .map(|r| (r.night.clone(), r.failed))
            .collect(),
        _ => Default::default(),
    };
    if !after_hold(store, &target, held) {
        return Ok(exit::ERROR);
    }
    // What the next night's mail is compared with (`notify::mail_base`).
    if let Ok(Some(base)) = crate::notify::mail_base(store, Some(&target), chrono::NaiveDate::MAX) {
        if base != target {
            let went = match failed.get(&compact(base.date)).copied().unwrap_or(0) {
                0 => "went out",
                _ => "went out but for its failed digests (above)",
            };
            say!(
                "note: the mail of {} {went}; the next night's mail is compared with it, \
                 not with {}, so its news is not mailed again",
                base.name(),
                target.name()
            );
        }
    }
    for night in still_to_mail(store)? {
        say!(
            "note: the mail of {night}, which was live, is not queued yet: the next import or send \
             queues it; if its news must not go out, `cpor-etl outbox forget {night}`"
        );
    }
    Ok(0)
}

/// What [`hold_later_digests`] did: the outbox it opened, and what it
/// held of each later night.
struct Held {
    outbox: mail::outbox::Outbox,
    rolled: Vec<mail::outbox::RolledBack>,
    /// Grant mail a later night withheld, its cases left to tell again.
    reopened: u64,
}

/// Holds the unsent digests of the nights after `to`'s
/// (`Outbox::hold_after_rollback`): their news came from a snapshot no
/// longer live, which the rollback is about. `None` without an outbox.
fn hold_later_digests(store: &Store, to: &SnapshotFile) -> anyhow::Result<Option<Held>> {
    if !store.root.join(mail::outbox::OUTBOX_DB).exists() {
        return Ok(None);
    }
    let mut outbox = mail::outbox::Outbox::open(&store.root)?;
    let done = outbox.hold_after_rollback(&compact(to.date), chrono::Utc::now())?;
    Ok(Some(Held {
        outbox,
        rolled: done.nights,
        reopened: done.reopened,
    }))
}

/// Once `to` is live: says what the hold did, and releases `to`'s own
/// digests an earlier rollback held (this one undoes it). False if the
/// hold failed (the digests would go at the send window).
fn after_hold(store: &Store, to: &SnapshotFile, held: anyhow::Result<Option<Held>>) -> bool {
    let night = compact(to.date);
    let Held {
        mut outbox,
        rolled,
        reopened,
    } = match held {
        Ok(None) => return true,
        Ok(Some(held)) => held,
        Err(e) => {
            eprintln!(
                "cpor-etl: the digests of the nights after {night} could not be held ({e}): those not \
                 sent yet go out at the send window with news of a snapshot no longer live; stop the \
                 send timer and run `cpor-etl rollback {night}` again"
            );
            return false;
        }
    };
    // Rolled forward to a night an earlier rollback held: undone, its
    // digests go, unless a night's mail queued since told their news.
    let night_held = outbox
        .held_by_rollback(to.date)
        .and_then(|held| Ok((held.len(), outbox.told_since_held(&night)?)));
    match night_held {
        Ok((0, _)) | Err(_) => {}
        Ok((_, Some(later))) => say!(
            "note: the digests of night {night} itself, held by an earlier rollback, stay held: \
             night {later}'s mail, queued since, told what of their news is still true"
        ),
        Ok((_, None)) => match outbox.undo_rollback_hold(&night, chrono::Utc::now()) {
            Ok(mail::outbox::Undone::Released(n)) => say!(
                "note: {n} digest(s) of night {night}, held by the rollback this one undoes, are \
                 released: `cpor-etl send` delivers them"
            ),
            Ok(mail::outbox::Undone::StillHeld(n)) => say!(
                "note: {n} digest{} of night {night} {} held by the flood guard, as before the \
                 rollback this one undoes: `cpor-etl outbox release {night}` sends them",
                crate::commands::plural(n),
                if n == 1 { "stays" } else { "stay" }
            ),
            Err(e) => eprintln!(
                "cpor-etl: the digests of night {night}, held by an earlier rollback, could not be \
                 released ({e}): `cpor-etl outbox release {night}`"
            ),
        },
    }
    if reopened > 0 {
        say!(
            "note: {reopened} activation or approval mail{} withheld by the nights after {night} \
             (each naming a case such a night no longer granted): the next night's mail tells \
             again the cases of {} it still grants that no mail of those nights names",
            crate::commands::plural(reopened),
            if reopened == 1 { "it" } else { "them" }
        );
    }
    // What the next night's mail is compared with, now (`notify::mail_base`).
    let base = crate::notify::mail_base(store, Some(to), chrono::NaiveDate::MAX)
        .ok()
        .flatten();
    for r in rolled {
        let later = &r.night;
        if r.held > 0 {
            let (n, s, is) = match r.held {
                1 => (1, "", "is"),
                n => (n, "s", "are"),
            };
            // (compared with a night after it, whose mail went: its news
            // is told only if released)
            let told_next = base
                .as_ref()
                .is_none_or(|b| compact(b.date).as_str() < later.as_str());
            let then = if told_next {
                "the next night's mail tells what of it is still true (imported again, the night's \
                 new build supersedes them); `cpor-etl outbox release {later}` sends them as they \
                 are, before the next import only (after it, their news would be told twice)"
            } else {
                "the next night's mail is compared with a later night's, so their news is told only \
                 if released: `cpor-etl outbox release {later}`"
            };
            say!(
                "note: {n} digest{s} of night {later}, not sent yet, {is} held: the news came from a \
                 snapshot no longer live; {}",
                then.replace("{later}", later)
            );
        } else {
            // (a failed one goes at no window: only retried, and the next
            // night's mail, compared with this night, does not tell its
            // news again; the admin review of the fiftieth session)
            let waiting = r.not_held - r.failed;
            let mut what = Vec::new();
            if waiting > 0 {
                what.push(format!("{waiting} go at the send window"));
            }
            if r.failed > 0 {
                what.push(format!(
                    "{} failed, which `cpor-etl outbox retry --failed` sends again (to a \
                     flagged address, `outbox retry <id>` only; only so is {} told the night's \
                     news)",
                    r.failed,
                    if r.failed == 1 {
                        "its address"
                    } else {
                        "each address"
                    }
                ));
            }
            say!(
                "note: {} of night {later}'s digests went out (or may have), so its other {} {} \
                 not held: {}; the next night's mail is compared with it",
                r.gone,
                r.not_held,
                if r.not_held == 1 { "is" } else { "are" },
                what.join(", and ")
            );
        }
    }
    true
}

/// Records, before `to` goes live instead of `from`, the SEQUENCE floors
/// of the hearings from `to`'s night on that `from` has higher than `to`
/// (`notify::floors::after_rollback`): what calendars took from `from`'s
/// mail, which `to`'s files must not fall below. A live snapshot that
/// cannot be read (damaged: a reason to roll back) is said so and does not
/// stop the rollback.
fn keep_calendars_above(store: &Store, from: &SnapshotFile, to: &SnapshotFile) {
    // From `to`'s night on: what its files may be mailed for.
    let night = to.date.and_hms_opt(0, 0, 0).expect("midnight");
    let now = chrono::Utc::now()
        .with_timezone(&schemas::date::taipei())
        .naive_local();
    let floors = crate::notify::floors::after_rollback(from, to, night)
        .map_err(anyhow::Error::from)
        .and_then(|floors| {
            let mut outbox = mail::outbox::Outbox::open(&store.root)?;
            outbox.raise_floors(&floors, now.date())?;
            Ok(floors.len())
        });
    match floors {
        Ok(0) => {}
        Ok(n) => say!(
            "note: {n} {} to come stand{} lower in {} than in {}: {} calendar files are \
             sent above what calendars took (docs/HEARINGS.md)",
            if n == 1 { "hearing" } else { "hearings" },
            if n == 1 { "s" } else { "" },
            to.name(),
            from.name(),
            if n == 1 { "its" } else { "their" },
        ),
        Err(e) => eprintln!(
            "cpor-etl: warning: the hearings of {} could not be compared with {}'s ({e}): \
             calendars that took a later SEQUENCE from its mail may ignore the files of {}",
            from.name(),
            to.name(),
            to.name()
        ),
    }
}

/// The snapshots that went live and whose night's mail is still to be
/// queued (`pending_nights`, marked published): rolled back or not, their
/// news is mailed unless an operator gives it up. Nothing if there is no
/// outbox yet.
fn still_to_mail(store: &Store) -> Result<Vec<String>> {
    if !store.root.join(mail::outbox::OUTBOX_DB).exists() {
        return Ok(Vec::new());
    }
    Ok(mail::outbox::Outbox::open(&store.root)?
        .pending()?
        .into_iter()
        .filter(|p| p.published)
        .map(|p| p.to)
        .collect())
}
