//! `cpor-etl case <COURT> <CATEGORY> <CASE_NUMBER> [--date]`: one case of
//! a snapshot as JSON, with its hearings. The case number is taken as
//! people write it (115年度訴字第100號) or as its year, word and number
//! (115 訴 100, with or without 年度, 字 and 第…號). Year and number are
//! matched as integers, so `0113` finds 113.

use anyhow::{anyhow, bail, Result};

use super::dump::WithHearings;
use super::{as_of_by_court, open_snapshot, print, EXIT_NOT_FOUND};
use crate::kinds::CaseKey;
use store::layout::Store;

pub struct Args {
    pub court: String,
    pub category: String,
    /// One value (written out) or three (year, word, number).
    pub number: Vec<String>,
    pub date: Option<String>,
}

/// How a case number can be given, for the message when it cannot be read.
const FORMS: &str = "write it as 115年度訴字第100號, or as its year, word and number: 115 訴 100";

/// The year, word and number of a case number as given.
fn parts(given: &[String]) -> Result<(String, String, String)> {
    let given: Vec<&str> = given.iter().map(|g| g.trim()).collect();
    match given[..] {
        [year, word, number] => {
            let year = year.strip_suffix("年度").unwrap_or(year);
            // 字 ends every 字別 as written out (訴字), never the word itself.
            let word = word
                .strip_suffix('字')
                .filter(|w| !w.is_empty())
                .unwrap_or(word);
            let number = number.strip_prefix('第').unwrap_or(number);
            let number = number.strip_suffix('號').unwrap_or(number);
            Ok((year.into(), word.into(), number.into()))
        }
        [whole] => {
            let read = whole.split_once("年度").and_then(|(year, rest)| {
                let (word, number) = rest.rsplit_once("字第")?;
                let number = number.strip_suffix('號')?;
                (!word.is_empty()).then(|| (year.into(), word.into(), number.into()))
            });
            read.ok_or_else(|| anyhow!("`{whole}` is not a case number: {FORMS}"))
        }
        _ => bail!(
            "a case number is one value or three, not {}: {FORMS}",
            given.len()
        ),
    }
}

pub fn run(store: &Store, args: &Args) -> Result<i32> {
    let (year, word, number) = parts(&args.number)?;
    // The contract's rule, as the import reads a case's key.
    let year = CaseKey::parse_year(&year).map_err(|e| anyhow!("the year: {e}; {FORMS}"))?;
    let number = CaseKey::parse_number(&number).map_err(|e| anyhow!("the number: {e}; {FORMS}"))?;
    let key = CaseKey {
        category: args.category.trim().to_string(),
        year,
        word,
        number,
    };
    // (a court's code the contract lists, made upper case: `court_arg`)
    let court = args.court.clone();
    // What can never be stored is said so, not answered "no case".
    let contract = schemas::contract();
    if !contract.court(&court).is_some_and(|c| c.fact_finding) {
        bail!("court {court}: not one of the fact-finding courts the service keeps")
    }
    if !contract.category_in_scope(&key.category) {
        bail!(
            "category `{}`: the service keeps {} cases only",
            key.category,
            contract.scope.categories.join("、")
        );
    }
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
