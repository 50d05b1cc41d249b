//! `cpor-etl rollback <YYYYMMDD>`: point `CURRENT` at a kept snapshot (its
//! newest build). Takes the import lock, so it never races an import.

use anyhow::{anyhow, Result};

use crate::import::exit;
use crate::snapshot::read::Snapshot;
use schemas::date::{compact, parse_batch_date};
use store::layout::{LockError, Store};

pub fn run(store: &Store, date: &str) -> Result<i32> {
    let date = parse_batch_date(date).ok_or_else(|| anyhow!("`{date}` is not YYYYMMDD"))?;
    let _lock = match store.lock() {
        Ok(l) => l,
        Err(e @ LockError::Held { .. }) => {
            eprintln!("cpor-etl: {e}");
            return Ok(exit::LOCKED);
        }
        Err(e) => return Err(e.into()),
    };
    let target = store.find(date)?.ok_or_else(|| {
        anyhow!(
            "no kept snapshot of {} (see `cpor-etl snapshots`)",
            compact(date)
        )
    })?;
    // Refuse a damaged file, and one the server could not open either.
    store.verify(&target)?;
    Snapshot::open(&target)?;
    let before = store.live()?.map(|f| f.name());
    store.point_current(&target)?;
    println!(
        "CURRENT now names {} (was {})",
        target.name(),
        before.as_deref().unwrap_or("nothing")
    );
    for night in still_to_mail(store)? {
        println!(
            "note: the mail of {night}, which was live, is not queued yet: the next import or send \
             queues it; if its news must not go out, `cpor-etl outbox forget {night}`"
        );
    }
    Ok(0)
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
