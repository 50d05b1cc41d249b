//! E-mail from the import: what changed between two snapshots (`diff`) and
//! what to tell whom (`queue`, into the durable outbox of the `mail` crate,
//! which renders and delivers it).
//!
//! A night's mail is queued by the run that published it or, if that run
//! died or its queueing failed, by the next `import` or `send`, first thing.
//! Before publishing, an import records its night (the snapshot it will
//! publish and the one it replaces) in the outbox's `pending_nights`, after
//! finishing every night still pending there; the transaction that queues a
//! night's items ends its record, so finishing a night twice is harmless and
//! a night is never half queued.

pub mod announced;
pub mod back;
pub mod corrected;
pub mod diff;
pub mod ended;
pub mod floors;
pub mod prosecutors;
pub mod queue;
pub mod reminders;
pub mod retell;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use crate::snapshot::read::ReadError;
use mail::outbox::{Outbox, OutboxError, PendingNight};
use mail::MailSettings;
use store::layout::{SnapshotFile, Store};

/// Messages rendered at a time, in parallel, while the chunk before is
/// written.
const RENDER_CHUNK: usize = 1024;

/// Runs `worker` on a thread per core, no more threads than `jobs` (the
/// workers take the jobs in turn, from a counter they share), and gives
/// each thread's result: the diff's courts, `retell`'s addresses. `what`
/// names the workers if one panics.
pub(crate) fn on_every_core<R: Send>(
    jobs: usize,
    what: &str,
    worker: impl Fn() -> R + Sync,
) -> Vec<R> {
    let threads = rayon::current_num_threads().clamp(1, jobs.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(&worker)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a {what} worker panicked"))
            })
            .collect()
    })
}

/// Renders `jobs` a chunk ([`RENDER_CHUNK`]) at a time on the rayon pool
/// while the calling thread writes what is rendered, in order (`write`):
/// rendering and writing overlap, and only a few chunks are in memory at
/// once. If `write` returns before the end (an error), rendering stops
/// after the chunk it is on. The items end only when every job is
/// rendered: a renderer that panics makes the next item panic too, so a
/// `write` that commits what it was given (a day's reminders) never
/// commits a part as the whole. The night's mail (`queue`) and a day's
/// reminders (`reminders`) are queued through it, each in one outbox
/// transaction open around it.
pub(crate) fn render_while_writing<J, T, R>(
    jobs: impl Iterator<Item = J> + Send,
    render: impl Fn(J) -> T + Sync,
    write: impl FnOnce(&mut dyn Iterator<Item = T>) -> R,
) -> R
where
    J: Send,
    T: Send,
{
    use rayon::prelude::*;
    std::thread::scope(|scope| {
        // A chunk, or the end (`None`): a channel closed without it is a
        // renderer that died.
        let (chunks_tx, chunks) = std::sync::mpsc::sync_channel::<Option<Vec<T>>>(2);
        let render = &render;
        scope.spawn(move || {
            let mut jobs = jobs;
            loop {
                let chunk: Vec<J> = jobs.by_ref().take(RENDER_CHUNK).collect();
                if chunk.is_empty() {
                    let _ = chunks_tx.send(None);
                    break;
                }
                let rendered = chunk.into_par_iter().map(render).collect();
                if chunks_tx.send(Some(rendered)).is_err() {
                    break; // the writer is done
                }
            }
        });
        let mut rendered = std::iter::from_fn(|| match chunks.recv() {
            Ok(chunk) => chunk,
            Err(_) => panic!("rendering the mail stopped before its end"),
        })
        .flatten();
        let written = write(&mut rendered);
        // Ends the renderer's next send before the scope waits for it.
        drop(rendered);
        drop(chunks);
        written
    })
}

/// Why a night's mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("diff: {0}")]
    Diff(#[from] ReadError),
    #[error("the hearings tonight's news announces: {0}")]
    Announced(#[source] ReadError),
    #[error("the hearings the court corrected without news: {0}")]
    Corrected(#[source] ReadError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Open(#[from] schemas::MigrateError),
    #[error(transparent)]
    Snapshot(#[from] schemas::OpenError),
    #[error("accounts: {0}")]
    Accounts(#[from] rusqlite::Error),
    /// Tonight's snapshot could not say which cases earlier grant mail
    /// not sent yet may still name (`retell`).
    #[error("the grants of earlier mail not sent yet, in tonight's snapshot: {0}")]
    Retell(#[source] ReadError),
    /// The live snapshot's hearings of the reminders' days, or the people
    /// of their cases, could not be read.
    #[error("the hearings of {days} in the live snapshot: {source}")]
    Due {
        days: String,
        #[source]
        source: ReadError,
    },
    #[error("secret key: {0}")]
    Key(#[source] std::io::Error),
    #[error("activation token: {0}")]
    Token(#[source] std::io::Error),
    #[error("data directory: {0}")]
    Data(#[source] std::io::Error),
    #[error("{path}: {source}")]
    Pending {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A snapshot the diff needs fails its checksum: the night (YYYYMMDD)
    /// waits until an operator restores it or names another one to
    /// compare with.
    #[error(
        "{source}. The night's mail waits: {restore}; or compare \
         with another kept snapshot: `cpor-etl outbox rediff {night} --from <kept snapshot>` \
         (each by date; news since then may repeat), or give the night up: `cpor-etl outbox forget {night}`",
        restore = store::layout::RESTORE
    )]
    Damaged {
        night: String,
        #[source]
        source: store::layout::Damaged,
    },
    /// The live snapshot fails its checksum when the day's reminders are
    /// looked up in it: they wait until it is whole or replaced.
    #[error("{0}. The day's reminders wait until the live snapshot is whole: {restore}; or replace it: {replace}", restore = store::layout::RESTORE, replace = store::layout::REPLACE_DAMAGED)]
    LiveDamaged(#[source] store::layout::Damaged),
    /// A re-run of a night whose earlier build's mail is still pending.
    #[error("{0}")]
    Waits(String),
}

/// Compares `to` with `from` (the snapshot it replaced; `None` on a first
/// load) and queues the night's mail, ending the night's pending record in
/// the same transaction. For the import that has just published `to`:
/// publishing hashed it moments ago, so only `from` is checked, and not
/// even that when `from_verified` (the import checked it before carrying
/// courts over from it). Anything else checks both ([`queue_night`]).
pub fn notify(
    store: &Store,
    cfg: &MailSettings,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    from_verified: bool,
    now: DateTime<Utc>,
) -> Result<queue::QueueSummary, NotifyError> {
    let outbox = Outbox::open(&store.root)?;
    let pending = outbox.pending_for(&to.name())?;
    if let Some(from) = from.filter(|f| is_rerun(f, to)) {
        if outbox.pending_for(&from.name())?.is_some() {
            return Err(NotifyError::Waits(waits_for(&from.name())));
        }
    }
    let check = if from_verified { None } else { from };
    queue_checked(store, cfg, check, from, to, pending.as_ref(), now)
}

/// Whether `to` re-runs the night of `from`: a later build of the same
/// night, compared with the earlier one. Its mail is what the earlier
/// build's lacked, queued as the night's next (`queue::Night::rerun`).
fn is_rerun(from: &SnapshotFile, to: &SnapshotFile) -> bool {
    from.date == to.date && from.build < to.build
}

/// Why a re-run's mail is not queued while the earlier build's is not: the
/// night's mail first, then what the re-run adds (queued the other way
/// round, the night's mail took the re-run's for its own, and the night's
/// news was lost).
fn waits_for(earlier: &str) -> String {
    format!(
        "it re-runs the night of {earlier}, whose own mail is not queued yet; it is queued right \
         after that, by the same import or send"
    )
}

fn queue_night(
    store: &Store,
    cfg: &MailSettings,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    pending: Option<&PendingNight>,
    now: DateTime<Utc>,
) -> Result<queue::QueueSummary, NotifyError> {
    // A damaged file would tell people of news that is not there, or miss
    // news that is: both snapshots are checked first.
    queue_checked(
        store,
        cfg,
        from.into_iter().chain([to]),
        from,
        to,
        pending,
        now,
    )
}

/// [`queue_night`], checking `check` first ([`verify_all`]).
fn queue_checked<'a>(
    store: &Store,
    cfg: &MailSettings,
    check: impl IntoIterator<Item = &'a SnapshotFile>,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    pending: Option<&PendingNight>,
    now: DateTime<Utc>,
) -> Result<queue::QueueSummary, NotifyError> {
    verify_all(store, check).map_err(|source| NotifyError::damaged(to, source))?;
    compared(store, from, to, now, |night, changes, retold, calendars| {
        let started = std::time::Instant::now();
        let summary = queue::queue(
            &store.root,
            cfg,
            night,
            changes,
            retold,
            calendars,
            pending,
            now,
        );
        tracing::debug!("queueing in {:?}", started.elapsed());
        summary
    })
}

/// What the mail of `to` compared with `from` (`None`: as a first load)
/// would be if it were queued now, as the import's summary says it;
/// nothing is written (`cpor-etl outbox rediff --dry-run`, `forget
/// --dry-run`). The caller has verified both snapshots ([`verify_all`]);
/// [`outlook`] says what else the next catch-up would do.
pub fn preview(
    store: &Store,
    cfg: &MailSettings,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    now: DateTime<Utc>,
) -> Result<queue::QueueSummary, NotifyError> {
    compared(store, from, to, now, |night, changes, retold, calendars| {
        queue::preview(&store.root, cfg, night, changes, retold, &calendars)
    })
}

/// Checks each snapshot against its recorded checksum, each in its own
/// thread (a national snapshot is about 0.5 GB to hash); the first that
/// fails, in the order given, is the error.
pub fn verify_all<'a>(
    store: &Store,
    check: impl IntoIterator<Item = &'a SnapshotFile>,
) -> Result<(), store::layout::Damaged> {
    verify_each(store, check).into_iter().collect()
}

impl NotifyError {
    /// `source`, a snapshot night `to`'s mail needs, is damaged: the
    /// advice names that night.
    pub fn damaged(to: &SnapshotFile, source: store::layout::Damaged) -> NotifyError {
        NotifyError::Damaged {
            night: schemas::date::compact(to.date),
            source,
        }
    }
}

/// [`verify_all`]'s checks, each file's outcome in the order given.
pub fn verify_each<'a>(
    store: &Store,
    check: impl IntoIterator<Item = &'a SnapshotFile>,
) -> Vec<Result<(), store::layout::Damaged>> {
    let check: Vec<&SnapshotFile> = check.into_iter().collect();
    std::thread::scope(|s| {
        let checks: Vec<_> = check
            .iter()
            .map(|file| s.spawn(|| store.verify(file)))
            .collect();
        checks
            .into_iter()
            .map(|c| c.join().expect("a checksum thread panicked"))
            .collect()
    })
}

/// Compares `to` with `from` and works out everything the night's mail is
/// made of (its news, the earlier grant mail it withholds and tells again,
/// the hearings it announces or corrects, the calendar files' floors),
/// then hands it to `then`, which queues it or previews it. Reads only.
fn compared<R>(
    store: &Store,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    now: DateTime<Utc>,
    then: impl FnOnce(
        queue::Night,
        &diff::Changes,
        &retell::Retold,
        queue::Calendars<'_>,
    ) -> Result<R, NotifyError>,
) -> Result<R, NotifyError> {
    let data_dir: &Path = &store.root;
    let started = std::time::Instant::now();
    let mut changes = diff::diff(from, to, to.date)?;
    // Opted-in prosecutors' news on their cases (single sign-on accounts).
    if let Some(from) = from.filter(|f| to.date >= f.date) {
        prosecutors::add_news(&store.root, from, to, &mut changes)?;
        // Cases past their last day the night their status came: told.
        ended::find(from, to, &mut changes)?;
        // Cases back after their last day: no clerk's grant, told as back.
        if !changes.new_grants.is_empty() {
            let back = back::find(&Outbox::open(data_dir)?, from, to.date, &mut changes)?;
            tracing::debug!("{back} grants of cases back after their last day");
        }
    }
    tracing::debug!(
        "diff in {:?}: {} addresses with new grants, {} with news, {} with expiring cases",
        started.elapsed(),
        changes.new_grants.len(),
        changes.news.len(),
        changes.expiring.len()
    );
    let rerun = from.filter(|f| is_rerun(f, to)).map(|_| to.build);
    // The night imported again after a rollback held its digests.
    let superseding = (rerun.is_none()
        && data_dir.join(mail::outbox::OUTBOX_DB).exists()
        && !Outbox::open(data_dir)?.untold_digests(to.date)?.is_empty())
    .then_some(to.build);
    let night = queue::Night {
        date: to.date,
        first_load: from.is_none(),
        older: from.is_some_and(|f| to.date < f.date),
        rerun,
        superseding,
    };
    // Earlier grant mail not sent yet that names a case tonight does not
    // grant its address: withheld, and the cases still granted told again
    // (before the hearings: a case told again as a grant leaves the
    // address's news).
    let started = std::time::Instant::now();
    let retold = if night.older {
        retell::Retold::default()
    } else {
        retell::find(&Outbox::open(data_dir)?, to, &night, &mut changes)?
    };
    store::failpoint::pause("after-retell");
    tracing::debug!(
        "{} earlier grant mails withheld, {} grants told again ({:?})",
        retold.withheld.len(),
        retold.grants_again,
        started.elapsed()
    );
    // Hearings that tonight's news announces: its digests attach them.
    let started = std::time::Instant::now();
    let taipei_now = now.with_timezone(&schemas::date::taipei()).naive_local();
    let mut announced =
        announced::announced(&to.path, &changes, taipei_now).map_err(NotifyError::Announced)?;
    tracing::debug!(
        "{} news entries announce hearings ({:?})",
        announced.len(),
        started.elapsed()
    );
    // Hearings the court corrected without news (a withdrawn entry): the
    // digests of the cases' followers tell of them. Taken out of the news
    // of a case that has nothing to tell after all.
    let mut found = corrected::Found::default();
    if let Some(from) = from {
        let started = std::time::Instant::now();
        found = corrected::find(from, to, &mut changes, &mut announced, taipei_now)
            .map_err(NotifyError::Corrected)?;
        tracing::debug!(
            "{} hearing corrections told without news ({:?})",
            found.told,
            started.elapsed()
        );
    }
    // Calendar files sent above what calendars hold (`floors`).
    let floors = Outbox::open(data_dir)?.floors()?;
    let raised = floors::lift_night(&floors, &mut announced, &mut changes, found.floors);
    let calendars = queue::Calendars {
        announced: &announced,
        before: from,
        tonight: to,
        floors: &raised,
    };
    then(night, &changes, &retold, calendars)
}

/// What the mail of a night replacing `live` is compared with: `live`, or,
/// after a rollback, the newest snapshot whose night's mail was queued
/// (`Outbox::queued_snapshots`), if it is newer than `live`, not of a
/// night after `night` (the one being imported: a re-run of the night
/// rolled back to is still compared with its earlier build), and still
/// kept with the checksum it had then. People were told that night's news
/// and grants: compared with the older snapshot rolled back to, the next
/// night mailed them again, word for word (the admin walk, session 27).
pub fn mail_base(
    store: &Store,
    live: Option<&SnapshotFile>,
    night: NaiveDate,
) -> Result<Option<SnapshotFile>, NotifyError> {
    let Some(live) = live else {
        return Ok(None);
    };
    if !store.root.join(mail::outbox::OUTBOX_DB).exists() {
        return Ok(Some(live.clone()));
    }
    let mut told: Vec<SnapshotFile> = Outbox::open(&store.root)?
        .queued_snapshots()?
        .into_iter()
        .filter_map(|id| {
            let file = store.by_name(&id.name)?;
            (file.recorded_checksum().ok()? == id.sha256).then_some(file)
        })
        .filter(|f| (f.date, f.build) > (live.date, live.build) && f.date <= night)
        .collect();
    told.sort_by_key(|f| std::cmp::Reverse((f.date, f.build)));
    // A damaged one (a reason to roll back) is passed over: the night's
    // mail would wait for it. Checked only after a rollback.
    let newest = told.into_iter().find(|f| store.verify(f).is_ok());
    Ok(Some(newest.unwrap_or_else(|| live.clone())))
}

/// Before publishing `next`, which replaces `live`: finishes the mail of
/// every earlier night still pending (`catch_up`), then records `next`'s
/// night as pending, durably. Call with the import lock held. If the run
/// dies after this, the next import or send queues the night's mail.
pub fn before_publish(
    store: &Store,
    cfg: &MailSettings,
    live: Option<&SnapshotFile>,
    next: &SnapshotFile,
    now: DateTime<Utc>,
) -> Result<Vec<CaughtUp>, NotifyError> {
    let caught_up = catch_up(store, cfg, now)?;
    if cfg.enabled {
        let from = live.map(SnapshotFile::name);
        Outbox::open(&store.root)?.record_pending(from.as_deref(), &next.name(), now)?;
    }
    Ok(caught_up)
}

/// Once `published` is live: marks its pending night published, so that
/// its mail is queued when it can be, whatever goes live after it. A run
/// that dies before this is covered by the next catch-up, which finds the
/// night live.
pub fn after_publish(store: &Store, cfg: &MailSettings, published: &SnapshotFile) {
    if !cfg.enabled {
        return;
    }
    let marked = Outbox::open(&store.root).and_then(|o| o.mark_published(&published.name()));
    if let Err(e) = marked {
        tracing::warn!(
            "could not mark {} published in the outbox ({e}); the next import or send does",
            published.name()
        );
    }
}

/// What `catch_up` did with a pending night.
#[derive(Debug)]
pub struct CaughtUp {
    pub night: PendingNight,
    pub outcome: Finished,
}

#[derive(Debug)]
pub enum Finished {
    /// Its mail is queued now.
    Queued(Box<queue::QueueSummary>),
    /// Its snapshot never went live (the run died before `CURRENT` named
    /// it): there is nothing to tell.
    NeverPublished,
    /// Mail is off (`mail.enabled = false`): nothing is queued, and the
    /// night waits for a run with mail on (or `outbox forget`).
    MailOff,
    /// A snapshot the diff needs is gone: the night's mail cannot be made.
    Lost(String),
    /// Queueing failed (a damaged snapshot, a full disk): the night stays
    /// pending, and the next import or send tries again. Other nights, and
    /// the delivery of what is queued, go on.
    Failed(String),
}

/// Finishes the mail of every night an earlier run recorded but did not
/// queue (it died, or its queueing failed), in the order recorded: a night
/// whose snapshot was published gets exactly the mail an uninterrupted run
/// would have queued (the outbox key makes a second try harmless); one
/// whose snapshot never went live is dropped. With mail off, every night
/// waits. Call with the import lock
/// held.
pub fn catch_up(
    store: &Store,
    cfg: &MailSettings,
    now: DateTime<Utc>,
) -> Result<Vec<CaughtUp>, NotifyError> {
    adopt_pending_file(store, now)?;
    let outbox = Outbox::open(&store.root)?;
    let pending = outbox.pending()?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let live = store.live().map_err(NotifyError::Data)?;
    let published = published(&pending, live.as_ref().map(SnapshotFile::name).as_deref());
    // Known now, kept: whatever goes live later, these nights' mail is
    // still queued when it can be.
    for night in pending.iter().filter(|p| !p.published) {
        if cfg.enabled && published.contains(&night.seq) {
            outbox.mark_published(&night.to)?;
        }
    }
    // Nights left pending by this pass: a re-run compared with one of
    // them waits for it.
    let mut unfinished: BTreeSet<String> = BTreeSet::new();
    let mut done = Vec::new();
    for night in pending {
        let from = night.from.as_deref().map(|f| (f, store.by_name(f)));
        let outcome = match (store.by_name(&night.to), from) {
            _ if !cfg.enabled => {
                // Queued by the first run with mail on: mail off is a
                // setting (one stray environment variable on the timer),
                // not a decision to give a night's mail up (`forget`).
                tracing::warn!(
                    "the mail of snapshot {} waits: mail is off (mail.enabled = false); the first \
                     send or import with mail on queues it (`cpor-etl outbox forget {}` gives it up)",
                    night.to,
                    night.to
                );
                done.push(CaughtUp {
                    night,
                    outcome: Finished::MailOff,
                });
                continue;
            }
            _ if !published.contains(&night.seq) => Finished::NeverPublished,
            (None, _) => Finished::Lost(format!("{} is gone", night.to)),
            (Some(_), Some((name, None))) => Finished::Lost(format!(
                "{name}, the snapshot it replaced, is gone: what changed cannot be told"
            )),
            (Some(to), Some((name, Some(from))))
                if unfinished.contains(name) && is_rerun(&from, &to) =>
            {
                unfinished.insert(night.to.clone());
                let why = waits_for(name);
                tracing::error!("the mail of snapshot {} is NOT queued: {why}", night.to);
                done.push(CaughtUp {
                    night,
                    outcome: Finished::Failed(why),
                });
                continue;
            }
            (Some(to), from) => {
                let from = from.and_then(|(_, f)| f);
                tracing::warn!(
                    "finishing the mail of an interrupted run: {} → {}",
                    from.as_ref()
                        .map_or("(first load)".into(), SnapshotFile::name),
                    to.name()
                );
                store::failpoint::pause("catch-up-before-queue");
                let outcome = match queue_night(store, cfg, from.as_ref(), &to, Some(&night), now) {
                    Ok(summary) => Finished::Queued(Box::new(summary)),
                    Err(e) => {
                        unfinished.insert(night.to.clone());
                        tracing::error!(
                            "the mail of snapshot {} is NOT queued: {e}; the night stays pending",
                            night.to
                        );
                        Finished::Failed(e.to_string())
                    }
                };
                done.push(CaughtUp { night, outcome });
                continue;
            }
        };
        match &outcome {
            Finished::Lost(why) => tracing::error!(
                "the mail of snapshot {} cannot be queued: {why}; its night is dropped",
                night.to
            ),
            _ => tracing::warn!(
                "dropping the pending mail of snapshot {}: it was never published",
                night.to
            ),
        }
        // A published night's mail given up: its news was never told.
        outbox.drop_pending(&night, published.contains(&night.seq))?;
        done.push(CaughtUp { night, outcome });
    }
    Ok(done)
}

/// What the next catch-up (`send`, or the next import) would do with the
/// pending night `to`, compared with `from` (the comparison previewed),
/// other than queue its mail as [`preview`] says: leave it waiting (mail off), drop it (never
/// published), hold it back (a re-run whose earlier build's mail waits),
/// or queue other nights first. Empty when it would simply queue it. For
/// the dry runs of `outbox rediff` and `forget`.
pub fn outlook(
    store: &Store,
    cfg: &MailSettings,
    to: &SnapshotFile,
    from: Option<&SnapshotFile>,
) -> Result<Vec<String>, NotifyError> {
    let outbox = Outbox::open(&store.root)?;
    let pending = outbox.pending()?;
    let to_name = to.name();
    let Some(night) = pending.iter().find(|p| p.to == to_name) else {
        return Ok(Vec::new());
    };
    if !cfg.enabled {
        return Ok(vec![
            "mail is off (mail.enabled = false): the night's mail waits for a `send` with mail on"
                .into(),
        ]);
    }
    let live = store.live().map_err(NotifyError::Data)?;
    if !published(&pending, live.as_ref().map(SnapshotFile::name).as_deref()).contains(&night.seq) {
        return Ok(vec![format!(
            "{to_name} is not known to have been published (an import may be publishing it now): if \
             it never was, the next `send` drops its mail instead"
        )]);
    }
    let mut said = Vec::new();
    let earlier: Vec<&str> = pending
        .iter()
        .filter(|p| p.seq < night.seq)
        .map(|p| p.to.as_str())
        .collect();
    if let Some(from) = from {
        let name = from.name();
        if is_rerun(from, to) && earlier.contains(&name.as_str()) {
            said.push(format!(
                "its mail waits: {}; the figures take none of that build's mail as queued (its \
                 activation links and digests may count here twice)",
                waits_for(&name)
            ));
        }
    }
    if !earlier.is_empty() {
        said.push(format!(
            "{} earlier night(s) wait too ({}) and are queued first: what their mail tells (an \
             expiry warning, an earlier grant mail withheld) is counted here as if it were not",
            earlier.len(),
            earlier.join(", ")
        ));
    }
    Ok(said)
}

/// Which pending nights' snapshots were published: those marked so (the
/// import marks its night once its snapshot is live), the live one, and,
/// going back, each one a published night replaced (a run publishes only
/// after it tried every earlier night, so later records replace earlier
/// ones in order). The chain alone is not enough: a night whose mail
/// waits leaves it once a later night's mail is queued (its record ends).
fn published(pending: &[PendingNight], live: Option<&str>) -> BTreeSet<i64> {
    let mut out: BTreeSet<i64> = pending
        .iter()
        .filter(|p| p.published)
        .map(|p| p.seq)
        .collect();
    let mut wanted = live.map(str::to_string);
    for p in pending.iter().rev() {
        if wanted.as_deref() == Some(p.to.as_str()) {
            out.insert(p.seq);
            wanted = p.from.clone();
        }
    }
    out
}

/// The snapshots that pending nights still need to be diffed: retention
/// must keep them.
pub fn snapshots_needed(store: &Store) -> Result<BTreeSet<String>, NotifyError> {
    Ok(Outbox::open(&store.root)?
        .pending()?
        .into_iter()
        .flat_map(|p| [Some(p.to), p.from])
        .flatten()
        .collect())
}

/// The file earlier versions recorded a pending night in (`<from>` or `-`,
/// then `<to>`, a line each).
const PENDING_FILE: &str = "notify.pending";

/// Moves a pending night recorded by an earlier version into the outbox,
/// and removes that file and the temp files its writes could leave.
fn adopt_pending_file(store: &Store, now: DateTime<Utc>) -> Result<(), NotifyError> {
    let path = store.root.join(PENDING_FILE);
    let io = |source| NotifyError::Pending {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut lines = text.lines();
            let (from, to) = (lines.next().unwrap_or("-"), lines.next().unwrap_or(""));
            if !to.is_empty() {
                let outbox = Outbox::open(&store.root)?;
                if outbox.pending_for(to)?.is_none() {
                    outbox.record_pending((from != "-").then_some(from), to, now)?;
                }
            }
            std::fs::remove_file(&path).map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let prefix = format!(".{PENDING_FILE}.tmp-");
    if let Ok(entries) = std::fs::read_dir(&store.root) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_file(entry.path()).map_err(io)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(seq: i64, from: Option<&str>, to: &str) -> PendingNight {
        PendingNight {
            seq,
            from: from.map(str::to_string),
            to: to.into(),
            published: false,
        }
    }

    #[test]
    fn a_pending_night_is_published_if_live_or_replaced_by_a_published_one() {
        let chain = [
            p(1, Some("a"), "b"),
            p(2, Some("b"), "c"),
            p(3, Some("c"), "d"),
        ];
        // d never went live: c is live, and so were b and, before, a.
        assert_eq!(published(&chain, Some("c")), BTreeSet::from([1, 2]));
        assert_eq!(published(&chain, Some("d")), BTreeSet::from([1, 2, 3]));
        // Killed before CURRENT named b; the re-run's build is b2.
        let rerun = [p(1, Some("a"), "b"), p(2, Some("a"), "b2")];
        assert_eq!(published(&rerun, Some("b2")), BTreeSet::from([2]));
        assert_eq!(published(&rerun, Some("a")), BTreeSet::new());
        assert_eq!(
            published(&[p(1, None, "a")], Some("a")),
            BTreeSet::from([1])
        );
        assert_eq!(published(&[p(1, None, "a")], None), BTreeSet::new());
        // b's mail waits (a damaged a) while c is published and its mail
        // queued (its record gone): only the mark says b went live.
        let waiting = [p(1, Some("a"), "b")];
        assert_eq!(published(&waiting, Some("c")), BTreeSet::new());
        let marked = [PendingNight {
            published: true,
            ..waiting[0].clone()
        }];
        assert_eq!(published(&marked, Some("c")), BTreeSet::from([1]));
    }

    #[test]
    fn retention_keeps_both_snapshots_of_a_pending_night_and_an_old_pending_file_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.create_dirs().unwrap();
        std::fs::write(
            dir.path().join(PENDING_FILE),
            "20261123-1.sqlite\n20261124-1.sqlite\n",
        )
        .unwrap();
        let tmp = dir.path().join(format!(".{PENDING_FILE}.tmp-4242"));
        std::fs::write(&tmp, "x").unwrap();
        let now = Utc::now();
        adopt_pending_file(&store, now).unwrap();
        assert!(!dir.path().join(PENDING_FILE).exists());
        assert!(!tmp.exists(), "the temp file an old write left is removed");
        Outbox::open(dir.path())
            .unwrap()
            .record_pending(None, "20261125-1.sqlite", now)
            .unwrap();
        assert_eq!(
            snapshots_needed(&store).unwrap(),
            BTreeSet::from([
                "20261123-1.sqlite".to_string(),
                "20261124-1.sqlite".to_string(),
                "20261125-1.sqlite".to_string()
            ])
        );
    }

    /// What is rendered reaches the writer in order, across chunks.
    #[test]
    fn rendered_items_reach_the_writer_in_order_across_chunks() {
        let n = RENDER_CHUNK * 2 + 7;
        let got: Vec<usize> = render_while_writing(0..n, |i| i * 2, |items| items.collect());
        assert_eq!(got, (0..n).map(|i| i * 2).collect::<Vec<_>>());
    }

    /// A writer that stops early (an error) ends the rendering: the call
    /// returns instead of waiting on a full channel.
    #[test]
    fn a_writer_that_stops_early_ends_the_rendering() {
        let rendered = std::sync::atomic::AtomicUsize::new(0);
        let first: Vec<usize> = render_while_writing(
            0..RENDER_CHUNK * 50,
            |i| {
                rendered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i
            },
            |items| items.take(3).collect(),
        );
        assert_eq!(first, [0, 1, 2]);
        // The chunk taken from, at most two waiting, one being rendered.
        assert!(rendered.into_inner() <= RENDER_CHUNK * 4);
    }

    /// A renderer that panics never looks to the writer like the end of
    /// the jobs: the writer (which commits what it was given, as a day's
    /// reminders do) never gets to its commit.
    #[test]
    fn a_renderer_that_panics_never_looks_like_the_end() {
        let committed = std::sync::atomic::AtomicBool::new(false);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render_while_writing(
                0..RENDER_CHUNK * 3,
                |i| {
                    assert!(i != RENDER_CHUNK + 5, "a template failed");
                    i
                },
                |items| {
                    let n = items.count();
                    committed.store(true, std::sync::atomic::Ordering::Relaxed);
                    n
                },
            )
        }));
        assert!(run.is_err(), "the panic is not swallowed");
        assert!(!committed.into_inner(), "a part was committed as the whole");
    }
}
