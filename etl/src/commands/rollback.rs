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
    Ok(0)
}
