//! E-mail: what changed between two snapshots (`diff`), what to tell whom
//! (`queue`, into the durable outbox), how it reads (`render`), and its
//! delivery (`send`).

pub mod diff;
pub mod queue;

use std::path::Path;

use chrono::{DateTime, Utc};

use mail::MailSettings;
use store::layout::{SnapshotFile, Store};

/// Compares `to` with `from` (the snapshot it replaced; `None` on a first
/// load) and queues the night's mail.
pub fn notify(
    data_dir: &Path,
    cfg: &MailSettings,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    now: DateTime<Utc>,
) -> Result<queue::QueueSummary, String> {
    let started = std::time::Instant::now();
    let changes = diff::diff(from, to, to.date).map_err(|e| format!("diff: {e}"))?;
    tracing::debug!(
        "diff in {:?}: {} addresses with new grants, {} with news, {} with expiring cases",
        started.elapsed(),
        changes.new_grants.len(),
        changes.news.len(),
        changes.expiring.len()
    );
    let older = from.is_some_and(|f| to.date < f.date);
    let started = std::time::Instant::now();
    let summary = queue::queue(data_dir, cfg, to.date, &changes, from.is_none(), older, now);
    tracing::debug!("queueing in {:?}", started.elapsed());
    summary
}

const PENDING: &str = "notify.pending";

/// Records, before a publish, which diff the new snapshot will need: if the
/// run dies after publishing, the next run finishes the mail.
pub fn write_pending(
    store: &Store,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
) -> std::io::Result<()> {
    let text = format!(
        "{}\n{}\n",
        from.map_or("-".to_string(), SnapshotFile::name),
        to.name()
    );
    Store::write_atomically(&store.root.join(PENDING), text.as_bytes())
}

pub fn clear_pending(store: &Store) -> std::io::Result<()> {
    match std::fs::remove_file(store.root.join(PENDING)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Finishes the mail of a run that published but died before queueing it.
/// Call with the import lock held. Returns what it queued, if anything.
pub fn catch_up(
    store: &Store,
    cfg: &MailSettings,
    now: DateTime<Utc>,
) -> Result<Option<queue::QueueSummary>, String> {
    let path = store.root.join(PENDING);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut lines = text.lines();
    let (from, to) = (lines.next().unwrap_or("-"), lines.next().unwrap_or(""));
    let result = match store.by_name(to) {
        // Never published: nothing to tell.
        None => None,
        Some(to) => {
            let from = store.by_name(from);
            tracing::warn!(
                "finishing the mail of an interrupted run: {} → {}",
                from.as_ref()
                    .map_or("(first load)".into(), SnapshotFile::name),
                to.name()
            );
            Some(notify(&store.root, cfg, from.as_ref(), &to, now)?)
        }
    };
    clear_pending(store).map_err(|e| e.to_string())?;
    Ok(result)
}
