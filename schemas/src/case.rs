//! The contract's case key: court + category + year + word + number. Year and
//! number are integers, so leading zeros in the export do not matter. The
//! import, the mail and the website all name a case with these two types.

use std::fmt;

/// A case key within one court: category, year, word, number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseKey {
    pub category: String,
    pub year: u32,
    pub word: String,
    pub number: u32,
}

impl CaseKey {
    /// A key's year as the courts write it (`113`, `0113`), by the
    /// contract's rule ([`key_number`]). (Inlined: the import reads one a
    /// row.)
    #[inline]
    pub fn parse_year(text: &str) -> Result<u32, String> {
        key_number(text, crate::contract().limits.year_digits)
    }

    /// A key's number (`100`, `0000100`), by the contract's rule.
    #[inline]
    pub fn parse_number(text: &str) -> Result<u32, String> {
        key_number(text, crate::contract().limits.number_digits)
    }

    /// `113年度訴字第100號`
    pub fn number_text(&self) -> String {
        format!("{}年度{}字第{}號", self.year, self.word, self.number)
    }
}

impl fmt::Display for CaseKey {
    /// `刑事 113年度訴字第100號`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}年度{}字第{}號",
            self.category, self.year, self.word, self.number
        )
    }
}

/// The one rule a case key's year and number are read by, wherever a key
/// is read: the import's rows, the website's and the API's addresses, the
/// outbox's case ids, the administrator's `case`. Read otherwise in one
/// place, a key had a second address (`/cases/TPD/民事/0113/訴/100`, the
/// architecture review of the fifty-third session).
#[inline]
fn key_number(text: &str, max_digits: usize) -> Result<u32, String> {
    debug_assert!(max_digits <= 9);
    positive_decimal(text, max_digits).map(|n| n as u32)
}

/// A positive decimal of ASCII digits, at most `max_digits` (≤ 18) of them
/// not counting leading zeros, which are taken (`0113`, as the courts'
/// files write a year): no sign, no space, never 0.
pub fn positive_decimal(text: &str, max_digits: usize) -> Result<u64, String> {
    debug_assert!(max_digits <= 18);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a number"));
    }
    let significant = text.trim_start_matches('0');
    if significant.is_empty() {
        return Err(format!("`{text}` must be positive"));
    }
    if significant.len() > max_digits {
        return Err(format!("`{text}` has more than {max_digits} digits"));
    }
    Ok(significant
        .parse()
        .expect("at most 18 ASCII digits fit in u64"))
}

/// A case anywhere: its court and its key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseRef {
    pub court: String,
    pub key: CaseKey,
}

impl CaseRef {
    /// `TPD|民事|113|訴|100`: a stable text key (outbox, case views).
    pub fn id(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.court, self.key.category, self.key.year, self.key.word, self.key.number
        )
    }

    /// The case [`CaseRef::id`] wrote; `None` for anything else.
    pub fn parse_id(id: &str) -> Option<CaseRef> {
        let mut parts = id.split('|');
        let mut next = || parts.next().filter(|p| !p.is_empty());
        let case = CaseRef {
            court: next()?.to_string(),
            key: CaseKey {
                category: next()?.to_string(),
                year: CaseKey::parse_year(next()?).ok()?,
                word: next()?.to_string(),
                number: CaseKey::parse_number(next()?).ok()?,
            },
        };
        parts.next().is_none().then_some(case)
    }

    /// `臺灣臺北地方法院 民事 115年度訴字第100號`: the court's name when the
    /// contract knows its code.
    pub fn title(&self) -> String {
        let court = crate::contract()
            .court(&self.court)
            .map_or(self.court.as_str(), |c| c.name.as_str());
        format!("{court} {}", self.key)
    }

    /// A case named by a query's row: the court in column `court`, then
    /// category, year, word and number in the four columns from `category`
    /// (`c.category, c.year, c.word, c.number`).
    pub fn from_row(r: &rusqlite::Row, court: usize, category: usize) -> rusqlite::Result<CaseRef> {
        Ok(CaseRef {
            court: r.get(court)?,
            key: CaseKey {
                category: r.get(category)?,
                year: r.get(category + 1)?,
                word: r.get(category + 2)?,
                number: r.get(category + 3)?,
            },
        })
    }
}

/// `meta.cases_carried_over` of a snapshot: the cases left out of their
/// court's files that night (a rejected row, or listed twice) whose rows
/// are the version the snapshot before had, kept for the next night's
/// comparison only (never shown, never reminded of), each with the export
/// date of that version's data (YYYYMMDD): `id:date`, comma-separated,
/// ascending by id. A snapshot without the row keeps none.
pub const CARRIED_CASES_KEY: &str = "cases_carried_over";

/// The value of [`CARRIED_CASES_KEY`] for `cases` (case id, export date),
/// ascending by id.
pub fn write_carried_cases(cases: &[(i64, chrono::NaiveDate)]) -> String {
    cases
        .iter()
        .map(|(id, as_of)| format!("{id}:{}", crate::date::to_int(*as_of)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The cases a snapshot carries over alone ([`CARRIED_CASES_KEY`]), by id,
/// with the export date of their data; none if the file has no such row.
/// A value that does not read is a conversion error.
pub fn carried_cases(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<std::collections::BTreeMap<i64, chrono::NaiveDate>> {
    meta_pairs(conn, CARRIED_CASES_KEY, "id:YYYYMMDD", |id, day| {
        Some((id, crate::date::from_int(day)?))
    })
    .map(|pairs| pairs.into_iter().collect())
}

/// `meta` row: a snapshot's grants counted by the day a clerk approved
/// them, `YYYYMMDD:count`, comma-separated, ascending by day. `cpor-etl
/// import` records them for `cpor-server stats` once the night is
/// published (accounts' `daily_grants`, kept when the grants leave later
/// snapshots). A snapshot without the row (built before it) keeps none.
pub const GRANTS_BY_DAY_KEY: &str = "grants_by_day";

/// The value of [`GRANTS_BY_DAY_KEY`] for `days` (approval day, grants).
pub fn write_grants_by_day(days: &std::collections::BTreeMap<chrono::NaiveDate, u64>) -> String {
    days.iter()
        .map(|(day, n)| format!("{}:{n}", crate::date::to_int(*day)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A snapshot's grants by approval day ([`GRANTS_BY_DAY_KEY`]); none if
/// the file has no such row.
pub fn grants_by_day(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<Vec<(chrono::NaiveDate, u64)>> {
    meta_pairs(conn, GRANTS_BY_DAY_KEY, "YYYYMMDD:count", |day, n| {
        Some((crate::date::from_int(day)?, u64::try_from(n).ok()?))
    })
}

/// A `meta` row of `a:b` pairs of integers, comma-separated, each as
/// `read` takes it; one it does not take is a conversion error that says
/// the `form`.
fn meta_pairs<T>(
    conn: &rusqlite::Connection,
    key: &str,
    form: &str,
    read: impl Fn(i64, i64) -> Option<T>,
) -> rusqlite::Result<Vec<T>> {
    let value = crate::meta_value(conn, key)?;
    let bad = |item: &str| crate::bad_meta(key, format_args!("`{item}` is not {form}"));
    let mut out = Vec::new();
    for item in value
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|i| !i.is_empty())
    {
        let (a, b) = item.split_once(':').ok_or_else(|| bad(item))?;
        let (a, b) = (a.parse::<i64>(), b.parse::<i64>());
        let pair = match (a, b) {
            (Ok(a), Ok(b)) => read(a, b),
            _ => None,
        };
        out.push(pair.ok_or_else(|| bad(item))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_written_out_as_people_read_them() {
        let c = CaseRef {
            court: "TPD".into(),
            key: CaseKey {
                category: "民事".into(),
                year: 115,
                word: "訴".into(),
                number: 100,
            },
        };
        assert_eq!(c.title(), "臺灣臺北地方法院 民事 115年度訴字第100號");
        assert_eq!(c.key.number_text(), "115年度訴字第100號");
        assert_eq!(c.id(), "TPD|民事|115|訴|100");
        assert_eq!(CaseRef::parse_id(&c.id()), Some(c));
        for not_one in [
            "",
            "TPD|民事|115|訴",
            "TPD|民事|115|訴|100|1",
            "TPD|民事|x|訴|100",
            "TPD||115|訴|100",
            // Read by the import's rule, as everywhere: no sign, not 0,
            // the contract's digits.
            "TPD|民事|+115|訴|100",
            "TPD|民事|115|訴|0",
            "TPD|民事|1150|訴|100",
        ] {
            assert_eq!(CaseRef::parse_id(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn carried_cases_read_back_as_written() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .unwrap();
        assert!(carried_cases(&conn).unwrap().is_empty(), "no row: none");
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let cases = [(3, day(23)), (17, day(21))];
        conn.execute(
            "INSERT INTO meta VALUES (?1, ?2)",
            [CARRIED_CASES_KEY, &write_carried_cases(&cases)],
        )
        .unwrap();
        assert_eq!(
            carried_cases(&conn)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            cases.to_vec()
        );
        conn.execute(
            "UPDATE meta SET value = '3:20261123,x' WHERE key = ?1",
            [CARRIED_CASES_KEY],
        )
        .unwrap();
        let e = carried_cases(&conn).unwrap_err().to_string();
        assert!(e.contains("`x`"), "{e}");
    }

    #[test]
    fn grants_by_day_read_back_as_written() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .unwrap();
        assert!(grants_by_day(&conn).unwrap().is_empty(), "no row: none");
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let days: std::collections::BTreeMap<_, _> = [(day(21), 2), (day(3), 40)].into();
        conn.execute(
            "INSERT INTO meta VALUES (?1, ?2)",
            [GRANTS_BY_DAY_KEY, &write_grants_by_day(&days)],
        )
        .unwrap();
        assert_eq!(
            grants_by_day(&conn).unwrap(),
            days.into_iter().collect::<Vec<_>>()
        );
        conn.execute(
            "UPDATE meta SET value = '20261103:-1' WHERE key = ?1",
            [GRANTS_BY_DAY_KEY],
        )
        .unwrap();
        let e = grants_by_day(&conn).unwrap_err().to_string();
        assert!(e.contains("YYYYMMDD:count"), "{e}");
    }
}
