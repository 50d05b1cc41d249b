//! The case pages: the list of a user's cases, one case with its latest
//! three entries (and the old address of an entry's calendar file, which
//! leads to its hearing's). Also a case's address: `/cases/TPD/民事/113/訴/100` (snapshot
//! ids change from night to night; the key does not), built and parsed
//! here for the pages and the API alike. A case that is not the user's
//! answers exactly as one that does not exist.

use std::sync::Arc;

use warp::http::StatusCode;

use schemas::{CaseKey, CaseRef};

use crate::app::App;
use crate::failure::{Answer, Failure};
use crate::http::{encode, Resp};
use crate::ics;
use crate::live::Snap;
use crate::pages;
use crate::prosecutors::Viewer;

/// A case's path, percent-encoded: `/cases/TPD/%E6%B0%91%E4%BA%8B/113/…`.
pub fn case_path(case: &CaseRef) -> String {
    format!(
        "/cases/{}/{}/{}/{}/{}",
        encode(&case.court),
        encode(&case.key.category),
        case.key.year,
        encode(&case.key.word),
        case.key.number
    )
}

/// A case from the five decoded segments after `/cases`; year and number
/// may carry leading zeros, and are never 0.
pub fn parse_case(segments: &[String]) -> Option<CaseRef> {
    let [court, category, year, word, number] = segments else {
        return None;
    };
    Some(CaseRef {
        court: court.clone(),
        key: CaseKey {
            category: category.clone(),
            year: year.parse().ok().filter(|y| *y > 0)?,
            word: word.clone(),
            number: number.parse().ok().filter(|n| *n > 0)?,
        },
    })
}

/// The live snapshot, or unavailable until one is published.
fn live(app: &App) -> Result<Arc<Snap>, Failure> {
    app.live.get().ok_or(Failure::Unavailable(None))
}

pub fn list(app: &App, v: &Viewer) -> Answer {
    let snap = live(app)?;
    let rows = v.cases(&snap)?;
    let gone = if rows.is_empty() {
        v.gone(&snap)?
            .iter()
            .map(pages::GoneItem::from_row)
            .collect()
    } else {
        Vec::new()
    };
    let mut carried: Vec<String> = rows.iter().filter_map(pages::carried_note).collect();
    carried.dedup();
    let page = pages::Cases {
        c: v.ctx(app, "我的案件"),
        cases: rows.iter().map(pages::CaseItem::from_row).collect(),
        carried,
        gone,
    };
    pages::html(StatusCode::OK, &page)
}

pub fn page(app: &App, v: &Viewer, segments: &[String]) -> Answer {
    let case = parse_case(segments).ok_or(Failure::NotFound)?;
    let snap = live(app)?;
    let row = v.case(&snap, &case)?.ok_or(Failure::NotFound)?;
    let hearings = super::hearings::items(&case, &snap.hearings_of(&row)?);
    v.viewed(app, &case);
    let k = pages::CaseDetail::from_row(&row);
    let page = pages::Case {
        c: v.ctx(app, &k.title),
        k,
        hearings,
    };
    pages::html(StatusCode::OK, &page)
}

/// `…/hearing/{n}.ics`, the address an entry's calendar link once had
/// (an event of its own, made from the entry: a moved or cancelled hearing
/// stayed confirmed in calendars under it): leads to the calendar file of
/// the hearing the n-th latest entry dates, by its UID, as the hearing now
/// stands (`hearings::case_hearing`); 404 if it dates none.
pub fn hearing(app: &App, v: &Viewer, segments: &[String], file: &str) -> Answer {
    let n: Option<usize> = file.strip_suffix(".ics").and_then(|n| n.parse().ok());
    let (Some(case), Some(n)) = (parse_case(segments), n) else {
        return Err(Failure::NotFound);
    };
    let snap = live(app)?;
    let row = v.case(&snap, &case)?.ok_or(Failure::NotFound)?;
    let (posted, text) = row
        .entries
        .get(n.wrapping_sub(1))
        .ok_or(Failure::NotFound)?;
    let (when, _) = ics::hearing(text).ok_or(Failure::NotFound)?;
    // The record this entry dated: its day of posting and the date it
    // names (an entry's 序號 is not on the case's row).
    let uid = snap
        .hearings_of(&row)?
        .into_iter()
        .find(|h| h.posted == *posted && h.at == when)
        .map(|h| h.uid)
        .ok_or(Failure::NotFound)?;
    // (A UID is hex digits and `@cpor`: a path segment as it is, as the
    // case page links it.)
    Ok(Resp::redirect(&format!(
        "{}/hearings/{uid}.ics",
        case_path(&row.case)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_case_path_parses_back_to_its_case() {
        let case = parse_case(&segments(&["TPD", "民事", "0113", "訴", "100"])).unwrap();
        assert_eq!(case.id(), "TPD|民事|113|訴|100");
        assert_eq!(
            case_path(&case),
            "/cases/TPD/%E6%B0%91%E4%BA%8B/113/%E8%A8%B4/100"
        );
        for bad in [
            &["TPD", "民事", "0", "訴", "100"][..],
            &["TPD", "民事", "113", "訴", "-1"],
            &["TPD", "民事", "113", "訴", "x"],
            &["TPD", "民事", "113", "訴"],
        ] {
            assert!(parse_case(&segments(bad)).is_none(), "{bad:?}");
        }
    }
}
