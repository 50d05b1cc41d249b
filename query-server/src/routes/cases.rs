//! The case pages: the list of a user's cases, one case with its latest
//! three entries (and the old address of an entry's calendar file, which
//! leads to its hearing's). Also a case's address: `/cases/TPD/民事/113/訴/100` (snapshot
//! ids change from night to night; the key does not), built and parsed
//! here for the pages and the API alike. A case that is not the user's
//! answers exactly as one that does not exist.

use std::sync::Arc;

use chrono::NaiveDate;
use warp::http::StatusCode;

use schemas::{CaseKey, CaseRef};

use crate::app::App;
use crate::changes::{Search, Sort};
use crate::failure::{Answer, Failure};
use crate::http::{Req, Resp};
use crate::live::{CaseRow, HearingRow, Snap};
use crate::pages;
use crate::prosecutors::Viewer;

/// A case's path, percent-encoded: `/cases/TPD/%E6%B0%91%E4%BA%8B/113/…`,
/// the one address the mail links to.
pub use mail::case_path;

/// A case from the five decoded segments after `/cases`; year and number
/// by the contract's rule, as the import reads them (`CaseKey::parse_year`:
/// ASCII digits, leading zeros taken, no sign, never 0, the contract's
/// number of digits).
pub fn parse_case(segments: &[String]) -> Option<CaseRef> {
    let [court, category, year, word, number] = segments else {
        return None;
    };
    Some(CaseRef {
        court: court.clone(),
        key: CaseKey {
            category: category.clone(),
            year: CaseKey::parse_year(year).ok()?,
            word: word.clone(),
            number: CaseKey::parse_number(number).ok()?,
        },
    })
}

/// Where a request that names a case under another address than its one
/// is sent for good (308): a year or number written with leading zeros,
/// as the courts' files write them (`/cases/TPD/民事/0113/訴/100`, the
/// architecture review of the fifty-third session: a second address of
/// the case, a page of its own to a history and a cache). `at` is how
/// many segments come before `cases` (0 for the pages, 2 for `/api/v1`);
/// what follows the key and the query are kept. Asked of the path alone,
/// before any reader is, so it says nothing of whose the case is. None for
/// the case's own address and for a path that names no case.
pub fn elsewhere(req: &Req, segments: &[String], at: usize) -> Option<String> {
    let key = segments.get(at + 1..at + 6)?;
    // (asked of every request for a case: only a leading zero writes a
    // year or number otherwise, which two bytes tell, before any parsing;
    // a key that then reads is never its own address, `0` alone reading
    // as none)
    if !key[2].starts_with('0') && !key[4].starts_with('0') {
        return None;
    }
    let case = parse_case(key)?;
    // The raw segments before and after the key, as the client sent them.
    let raw: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let mut to: String = raw[..at].iter().map(|s| format!("/{s}")).collect();
    to.push_str(&case_path(&case));
    raw[at + 6..].iter().for_each(|s| to.extend(["/", s]));
    if !req.query.is_empty() {
        to.extend(["?", &req.query]);
    }
    // (a Location header is ASCII, as every redirect's: `ascii_path`)
    Some(crate::http::ascii_path(&to))
}

/// The live snapshot, or unavailable until one is published.
fn live(app: &App) -> Result<Arc<Snap>, Failure> {
    app.live.get().ok_or(Failure::Unavailable(None))
}

/// The reader's cases in the order the query's `sort` asks for, and that
/// order: the list page's and the API's alike. With `q`, those it finds
/// ([`changes::Search`]), and the search.
pub fn listed(
    snap: &Snap,
    v: &Viewer,
    req: &Req,
) -> Result<(Vec<CaseRow>, Sort, Option<Search>), Failure> {
    let mut rows = v.cases(snap)?;
    let query = req.query_map();
    let sort = Sort::parse(query.get("sort").map(String::as_str));
    let search = query.get("q").and_then(|q| Search::new(q));
    if let Some(s) = &search {
        rows.retain(|r| s.finds(r));
    }
    sort.apply(&mut rows);
    Ok((rows, sort, search))
}

/// The page of a long list the query asks for (`?page=`, from 1), and
/// how many pages `total` items make, `per_page` a page
/// (`server.cases_per_page`): past the last, the last; none or not a
/// number, the first. The list of cases and 我的庭期 alike.
pub fn page_asked(req: &Req, total: usize, per_page: usize) -> (usize, usize) {
    let pages = total.div_ceil(per_page).max(1);
    let page = req
        .query_map()
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    (page, pages)
}

pub fn list(app: &App, v: &Viewer, req: &Req) -> Answer {
    let snap = live(app)?;
    let (rows, sort, search) = listed(&snap, v, req)?;
    let per_page = app.cfg.server.cases_per_page;
    let (page_n, pages) = page_asked(req, rows.len(), per_page);
    let total = rows.len();
    let rows: Vec<CaseRow> = rows
        .into_iter()
        .skip((page_n - 1) * per_page)
        .take(per_page)
        .collect();
    let gone = if rows.is_empty() && search.is_none() {
        v.gone(&snap)?
            .iter()
            .map(pages::GoneItem::from_row)
            .collect()
    } else {
        Vec::new()
    };
    // The reader's day, as the case page counts its deadline from.
    let today = super::hearings::taipei_now().date();
    let mut carried: Vec<String> = rows.iter().filter_map(pages::carried_note).collect();
    carried.dedup();
    let q = search.as_ref().map_or("", Search::as_typed);
    let page = pages::Cases {
        c: v.ctx(app, "我的案件"),
        cases: rows
            .iter()
            .map(|r| pages::CaseItem::from_row(r, today))
            .collect(),
        carried,
        gone,
        gone_rule: pages::GONE_RULE,
        sort: sort.as_str(),
        q: q.to_string(),
        q_param: match q {
            "" => String::new(),
            q => format!(
                "&q={}",
                percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
            ),
        },
        total,
        page: page_n,
        pages,
        empty: match v {
            Viewer::Applicant(_) => pages::NO_CASE_YET,
            Viewer::Prosecutor(_) => pages::NO_CASE_ASSIGNED,
        },
    };
    pages::html(StatusCode::OK, &page)
}

pub fn page(app: &App, v: &Viewer, segments: &[String]) -> Answer {
    let case = parse_case(segments).ok_or(Failure::NotFound)?;
    let snap = live(app)?;
    let Some(row) = v.case(&snap, &case)? else {
        // One of the reader's that left the queryable range: said so,
        // not "no such case, or not yours".
        let gone = v.gone_case(&snap, &case)?.ok_or(Failure::NotFound)?;
        let g = pages::GoneItem::from_row(&gone);
        let page = pages::Message {
            c: v.ctx(app, "已不再提供查詢的案件"),
            heading: "這個案件已不再提供查詢",
            text: format!("{}：{}。{}", g.title, g.why, pages::GONE_RULE),
            links: vec![("/cases", "回到我的案件")],
        };
        return pages::html(StatusCode::GONE, &page);
    };
    // One reader's day for the hearings to come and the days left.
    let today = super::hearings::taipei_now().date();
    let hearings = super::hearings::items(&case, &snap.hearings_of(&row)?, today);
    v.viewed(app, &case);
    let k = pages::CaseDetail::from_row(&row, today);
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
    let entry = row
        .entries
        .get(n.wrapping_sub(1))
        .ok_or(Failure::NotFound)?;
    let rows = snap.hearings_of(&row)?;
    let uid = hearing_of_entry(&rows, entry.posted, &entry.text).ok_or(Failure::NotFound)?;
    // (A UID is hex digits and `@cpor`: a path segment as it is, as the
    // case page links it.)
    Ok(Resp::redirect(&format!(
        "{}/hearings/{uid}.ics",
        case_path(&row.case)
    )))
}

/// The UID of the hearing an entry (posted on `posted`, saying `text`)
/// dates, from its case's records: the record it made (posted that day,
/// for the time, kind and courtroom it names; an entry's 序號 is not on
/// the case's row), else the one hearing it restates (rule 2: the same
/// time and kind, its courtroom or none, no record of its own). None if it
/// dates no hearing, cancels one, or could be either of two.
pub fn hearing_of_entry<'r>(
    rows: &'r [HearingRow],
    posted: NaiveDate,
    text: &str,
) -> Option<&'r str> {
    let slot = schemas::hearing::scheduled_slot(text)?;
    let names = |h: &&HearingRow| {
        h.at == slot.at
            && h.kind == slot.kind
            && slot
                .courtroom
                .as_deref()
                .is_none_or(|c| h.courtroom.as_deref() == Some(c))
    };
    if let Some(made) = rows.iter().filter(names).find(|h| h.posted == posted) {
        return Some(&made.uid);
    }
    let mut uids = rows.iter().filter(names).map(|h| h.uid.as_str());
    let first = uids.next()?;
    uids.all(|u| u == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};
    use schemas::hearing::State;

    fn segments(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    fn row(seq: u32, posted: u32, uid: &str, at: &str, room: &str, kind: &str) -> HearingRow {
        HearingRow {
            seq,
            posted: NaiveDate::from_ymd_opt(2026, 11, posted).unwrap(),
            uid: uid.into(),
            sequence: 0,
            at: NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").unwrap(),
            courtroom: Some(room.into()),
            kind: kind.into(),
            state: State::Scheduled,
            by: None,
        }
    }

    /// The finding (second review): the record an entry dated was found by
    /// its day of posting and the time it names alone, so of two entries
    /// posted the same day for the same time (a courtroom corrected, rule
    /// 4: both kept), the second led to the first's hearing; and an entry
    /// that restates a hearing (rule 2: no record of its own) led nowhere.
    #[test]
    fn an_entry_leads_to_the_hearing_it_dates() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let mut first = row(5, 20, "a@cpor", "2026-12-10 10:00", "第一法庭", "言詞辯論");
        first.state = State::Uncertain;
        let rows = [
            first,
            row(6, 20, "b@cpor", "2026-12-10 10:00", "第二法庭", "言詞辯論"),
            row(7, 21, "c@cpor", "2026-12-11 09:30", "第三法庭", "準備程序"),
        ];
        let of = |posted: u32, text: &str| hearing_of_entry(&rows, day(posted), text);
        assert_eq!(of(20, "115/12/10 10:00第一法庭言詞辯論"), Some("a@cpor"));
        assert_eq!(of(20, "115/12/10 10:00第二法庭言詞辯論"), Some("b@cpor"));
        // Restated on a later day: the hearing it restates.
        assert_eq!(of(22, "115/12/11 09:30第三法庭準備程序"), Some("c@cpor"));
        // Another kind at a time of the list, or a time of none: nothing.
        assert_eq!(of(22, "115/12/11 09:30第三法庭宣判"), None);
        assert_eq!(of(22, "115/12/12 09:30第三法庭準備程序"), None);
        // A cancellation dates nothing.
        assert_eq!(of(22, "115/12/11 09:30第三法庭準備程序庭期取消"), None);
        // Restated without its courtroom, when two of its kind share the
        // time: not sure which, so nothing.
        assert_eq!(of(22, "115/12/10 10:00言詞辯論"), None);
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
            // (the API review of the forty-fourth session, its 13: a sign
            // was taken, one case reachable under more URLs)
            &["TPD", "民事", "+113", "訴", "100"],
            &["TPD", "民事", "113", "訴", "+100"],
            &["TPD", "民事", "113", "訴", ""],
        ] {
            assert!(parse_case(&segments(bad)).is_none(), "{bad:?}");
        }
    }
}
