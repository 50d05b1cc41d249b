//! `cpor-etl case <COURT> <CATEGORY> <YEAR> <WORD> <NUMBER> [--date]`: one
//! case of a snapshot as JSON, with its hearings. Year and number are
//! matched as integers, so `0113` finds 113.

use anyhow::{anyhow, Result};

use super::dump::WithHearings;
use super::{as_of_by_court, open_snapshot, print, EXIT_NOT_FOUND};
use crate::kinds::{parse_int, CaseKey};
use store::layout::Store;

pub struct Args {
    pub court: String,
    pub category: String,
    pub year: String,
    pub word: String,
    pub number: String,
    pub date: Option<String>,
}

pub fn run(store: &Store, args: &Args) -> Result<i32> {
    let year = parse_int(args.year.trim(), 3).map_err(|e| anyhow!("YEAR: {e}"))?;
    let number = parse_int(args.number.trim(), 7).map_err(|e| anyhow!("NUMBER: {e}"))?;
    let key = CaseKey {
        category: args.category.trim().to_string(),
        year,
        word: args.word.trim().to_string(),
        number,
    };
    let court = args.court.trim().to_ascii_uppercase();
    let snapshot = open_snapshot(store, args.date.as_deref())?;
    let Some((court, case)) = snapshot.find_case(&court, &key)? else {
        eprintln!(
            "cpor-etl: no case {court} {key} in snapshot {}",
            snapshot.file.name()
        );
        return Ok(EXIT_NOT_FOUND);
    };
    let as_of = as_of_by_court(&snapshot)?[&court];
    print(&format!(
        "{}\n",
        serde_json::to_string_pretty(&WithHearings::new(&court, as_of, &case))?
    ))?;
    Ok(0)
}
