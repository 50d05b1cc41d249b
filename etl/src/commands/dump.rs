//! `cpor-etl dump [--date]`: every case of a snapshot as JSON lines, ordered
//! by court, category, year, word and number (the order of case ids).
//! `case` and `dump` show a case the same way: `CaseJson` and its hearings
//! (`WithHearings`).

use std::io::{BufWriter, Write};

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use super::{as_of_by_court, open_snapshot, CaseJson};
use crate::model::{CaseData, HearingData};
use schemas::date::{roc, roc_minute};
use store::layout::Store;

/// A case as administrators see it, with its hearings.
#[derive(Debug, Serialize)]
pub struct WithHearings<'a> {
    #[serde(flatten)]
    pub case: CaseJson<'a>,
    pub hearings: Vec<HearingJson>,
}

/// A hearing as administrators see it: when, where, what, how it stands,
/// the entry that schedules it and the one that changed it.
#[derive(Debug, Serialize)]
pub struct HearingJson {
    pub seq: u32,
    pub posted: String,
    pub at: String,
    pub courtroom: Option<String>,
    pub kind: &'static str,
    pub state: &'static str,
    pub by: Option<ByJson>,
    pub uid: String,
    pub sequence: u32,
}

#[derive(Debug, Serialize)]
pub struct ByJson {
    pub seq: u32,
    pub posted: String,
}

impl<'a> WithHearings<'a> {
    pub fn new(court: &'a str, as_of: NaiveDate, c: &'a CaseData) -> WithHearings<'a> {
        WithHearings {
            case: CaseJson::new(court, as_of, c),
            hearings: c
                .hearings
                .decode()
                .into_iter()
                .map(|h| HearingJson::new(court, c, h))
                .collect(),
        }
    }
}

impl HearingJson {
    fn new(court: &str, c: &CaseData, h: HearingData) -> HearingJson {
        HearingJson {
            seq: h.seq,
            posted: roc(h.posted),
            at: roc_minute(h.at),
            uid: h.uid(court, &c.key),
            courtroom: h.courtroom,
            kind: h.kind,
            state: h.state.as_str(),
            by: h.by.map(|(seq, posted)| ByJson {
                seq,
                posted: roc(posted),
            }),
            sequence: h.sequence,
        }
    }
}

pub fn run(store: &Store, date: Option<&str>) -> Result<i32> {
    let snapshot = open_snapshot(store, date)?;
    let as_of = as_of_by_court(&snapshot)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut io_error = None;
    if let Some((lo, hi)) = snapshot.id_range()? {
        snapshot.for_each_case(lo, hi, |court, case| {
            let line = serde_json::to_string(&WithHearings::new(court, as_of[court], &case))
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
