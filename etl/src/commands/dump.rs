//! `cpor-etl dump [--date]`: every case of a snapshot as JSON lines, ordered
//! by court, category, year, word and number (the order of case ids).

use std::io::{BufWriter, Write};

use anyhow::Result;

use super::{as_of_by_court, open_snapshot, CaseJson};
use store::layout::Store;

pub fn run(store: &Store, date: Option<&str>) -> Result<i32> {
    let snapshot = open_snapshot(store, date)?;
    let as_of = as_of_by_court(&snapshot)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut io_error = None;
    if let Some((lo, hi)) = snapshot.id_range()? {
        snapshot.for_each_case(lo, hi, |court, case| {
            let line = serde_json::to_string(&CaseJson::new(court, as_of[court], &case))
                .expect("plain data serializes");
            if io_error.is_none() {
                if let Err(e) = writeln!(out, "{line}") {
                    io_error = Some(e);
                }
            }
            Ok(())
        })?;
    }
    if let Some(e) = io_error {
        // A closed pipe (`dump | head`) is not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
        return Ok(0);
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
