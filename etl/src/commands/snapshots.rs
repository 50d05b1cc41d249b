//! `cpor-etl snapshots [--json]`: the kept snapshots, with which one is
//! live; exit 1 if the live one is unusable (damaged, unreadable).

use anyhow::Result;
use serde::Serialize;

use super::print;
use crate::snapshot::read::Snapshot;
use schemas::date::{compact, roc};
use store::layout::Store;

#[derive(Serialize)]
struct Row {
    date: String,
    roc_date: String,
    build: u32,
    file: String,
    live: bool,
    bytes: u64,
    cases: Option<u64>,
    entries: Option<u64>,
    error: Option<String>,
}

pub fn run(store: &Store, json: bool) -> Result<i32> {
    // (`CURRENT` naming a file not kept: the kept ones listed all the
    // same, the one to roll back to among them, and said, exit 1)
    let (live, missing) = match store.live() {
        Ok(live) => (live, None),
        Err(e) => (None, Some(e)),
    };
    let mut rows = Vec::new();
    for f in store.kept()?.into_iter().rev() {
        let bytes = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
        let checked = store.verify(&f).map_err(|e| e.to_string()).and_then(|()| {
            Snapshot::open(&f)
                .and_then(|s| s.size())
                .map_err(|e| e.to_string())
        });
        let (cases, entries, error) = match checked {
            Ok((c, e)) => (Some(c), Some(e), None),
            Err(e) => (None, None, Some(e)),
        };
        rows.push(Row {
            date: compact(f.date),
            roc_date: roc(f.date),
            build: f.build,
            file: f.name(),
            live: live.as_ref() == Some(&f),
            bytes,
            cases,
            entries,
            error,
        });
    }
    // A monitor running this sees an unusable live snapshot by the exit
    // code (1), as the site's /healthz does by its 503.
    let code = match (missing, rows.iter().find(|r| r.live && r.error.is_some())) {
        (Some(e), _) => {
            eprintln!("cpor-etl: {e}");
            crate::import::exit::ERROR
        }
        (None, Some(r)) => {
            eprintln!(
                "cpor-etl: the live snapshot {} is unusable (the site refuses it); {}",
                r.file,
                store::layout::REPLACE_DAMAGED
            );
            crate::import::exit::ERROR
        }
        (None, None) => 0,
    };
    if json {
        print(&format!("{}\n", serde_json::to_string_pretty(&rows)?))?;
        return Ok(code);
    }
    if rows.is_empty() {
        print(&format!(
            "no snapshots in {}\n",
            store.snapshots_dir().display()
        ))?;
        return Ok(code);
    }
    let mut text = format!(
        "{:<10} {:<10} {:>5} {:<4} {:>12} {:>10} {:>10}\n",
        "date", "ROC", "build", "live", "size", "cases", "entries"
    );
    for r in rows {
        let n = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
        text += &format!(
            "{:<10} {:<10} {:>5} {:<4} {:>12} {:>10} {:>10}{}\n",
            r.date,
            r.roc_date,
            r.build,
            if r.live { "*" } else { "" },
            human_bytes(r.bytes),
            n(r.cases),
            n(r.entries),
            r.error.map(|e| format!("  ({e})")).unwrap_or_default()
        );
    }
    print(&text)?;
    Ok(code)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
