//! E-mail from the import: what changed between two snapshots (`diff`) and
//! what to tell whom (`queue`, into the durable outbox of the `mail` crate,
//! which renders and delivers it).

pub mod diff;
pub mod queue;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::snapshot::read::ReadError;
use mail::outbox::OutboxError;
use mail::MailSettings;
use store::layout::{SnapshotFile, Store};

/// Why a night's mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("diff: {0}")]
    Diff(#[from] ReadError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Open(#[from] schemas::MigrateError),
    #[error("accounts: {0}")]
    Accounts(#[from] rusqlite::Error),
    #[error("secret key: {0}")]
    Key(#[source] std::io::Error),
    #[error("activation token: {0}")]
    Token(#[source] std::io::Error),
    #[error("{path}: {source}")]
    Pending {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Compares `to` with `from` (the snapshot it replaced; `None` on a first
/// load) and queues the night's mail.
pub fn notify(
    data_dir: &Path,
    cfg: &MailSettings,
    from: Option<&SnapshotFile>,
    to: &SnapshotFile,
    now: DateTime<Utc>,
) -> Result<queue::QueueSummary, NotifyError> {
    let started = std::time::Instant::now();
    let changes = diff::diff(from, to, to.date)?;
    tracing::debug!(
        "diff in {:?}: {} addresses with new grants, {} with news, {} with expiring cases",
        started.elapsed(),
        changes.new_grants.len(),
        changes.news.len(),
        changes.expiring.len()
    );
    let night = queue::Night {
        date: to.date,
        first_load: from.is_none(),
        older: from.is_some_and(|f| to.date < f.date),
    };
    let started = std::time::Instant::now();
    let summary = queue::queue(data_dir, cfg, night, &changes, now);
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
) -> Result<Option<queue::QueueSummary>, NotifyError> {
    let path = store.root.join(PENDING);
    let pending = |source| NotifyError::Pending {
        path: path.display().to_string(),
        source,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(pending(e)),
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
    clear_pending(store).map_err(pending)?;
    Ok(result)
}
