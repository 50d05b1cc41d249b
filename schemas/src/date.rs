//! ROC (Minguo) dates: parsing both export forms, display, and the
//! two-calendar-month cutoff.
//!
//! Internally every date is a Gregorian `NaiveDate`; the ROC year (Gregorian
//! − 1911) exists only at the edges: in the export files and in what people
//! read (`113/07/02`).

use chrono::{
    DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};

/// Asia/Taipei: UTC+8 all year (no daylight saving since 1979), so no time
/// zone database is needed.
pub fn taipei() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The instant that is `time` on `day` in Asia/Taipei (a fixed offset:
/// every local time is one instant).
pub fn taipei_at(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    taipei()
        .from_local_datetime(&day.and_time(time))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

const ROC_OFFSET: i32 = 1911;

/// The ROC (民國) year of a date: 2026 → 115.
pub fn roc_year(date: NaiveDate) -> i32 {
    date.year() - ROC_OFFSET
}

/// The date of ROC year `year` (民國 115 → 2026), month and day, if it is one.
pub fn from_roc(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year + ROC_OFFSET, month, day)
}

/// Parses a contract date: `yyy/mm/dd` (year of two or three digits, e.g.
/// `113/07/02`, `99/12/01`) or the compact form, the year followed by four
/// digits of month and day (`1130702`, `991201`, `0991201`).
///
/// A national night parses about 16 million of these: a well-formed one
/// is read straight from its bytes ([`quick_date`]), and only one that is
/// not goes through the parser below, which says what is wrong with it.
pub fn parse_roc_date(s: &str) -> Result<NaiveDate, String> {
    match quick_date(s.as_bytes()) {
        Some(date) => Ok(date),
        None => explain_date(s),
    }
}

/// The number `b` spells, if it is nothing but ASCII digits (the callers
/// give one to three, so it cannot overflow).
#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        let d = c.wrapping_sub(b'0');
        (d <= 9).then_some(n * 10 + u32::from(d))
    })
}

/// A contract date read from its bytes, with no allocation: `None` for
/// anything that is not one, exactly where [`explain_date`] gives an error
/// (a property test below holds them to it).
#[inline]
fn quick_date(b: &[u8]) -> Option<NaiveDate> {
    let n = b.len();
    let (y, m, d) = match n {
        // yy/mm/dd, yyy/mm/dd
        8 | 9 if b[n - 3] == b'/' && b[n - 6] == b'/' => {
            (&b[..n - 6], &b[n - 5..n - 3], &b[n - 2..])
        }
        // yymmdd, yyymmdd
        6 | 7 => (&b[..n - 4], &b[n - 4..n - 2], &b[n - 2..]),
        _ => return None,
    };
    let year = digits(y)?;
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32 + ROC_OFFSET, digits(m)?, digits(d)?)
}

/// [`parse_roc_date`] the long way: the date, or what is wrong with it.
fn explain_date(s: &str) -> Result<NaiveDate, String> {
    let (y, m, d) = if let Some((y, rest)) = s.split_once('/') {
        let (m, d) = rest
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a date (yyy/mm/dd)"))?;
        if !(2..=3).contains(&y.len()) || m.len() != 2 || d.len() != 2 {
            return Err(format!("`{s}` is not a date (yyy/mm/dd)"));
        }
        (y, m, d)
    } else {
        if !(6..=7).contains(&s.len()) || !s.is_ascii() {
            return Err(format!("`{s}` is not a date (yyy/mm/dd or yyymmdd)"));
        }
        let split = s.len() - 4;
        (&s[..split], &s[split..split + 2], &s[split + 2..])
    };
    let num = |part: &str| -> Result<u32, String> {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().map_err(|_| format!("`{s}` is not a date"))
        } else {
            Err(format!("`{s}` is not a date"))
        }
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    if y == 0 {
        return Err(format!("`{s}`: ROC year 0 does not exist"));
    }
    NaiveDate::from_ymd_opt(y as i32 + ROC_OFFSET, m, d)
        .ok_or_else(|| format!("`{s}` is not a day of the calendar"))
}

/// Parses a contract date-time: a date, one space, `HH:MM:SS` (24 h).
pub fn parse_roc_datetime(s: &str) -> Result<NaiveDateTime, String> {
    match quick_datetime(s.as_bytes()) {
        Some(at) => Ok(at),
        None => explain_datetime(s),
    }
}

/// A contract date-time read from its bytes, as [`quick_date`] reads a
/// date: `None` exactly where [`explain_datetime`] gives an error.
#[inline]
fn quick_datetime(b: &[u8]) -> Option<NaiveDateTime> {
    let (date, time) = b.split_at_checked(b.len().checked_sub(9)?)?;
    let [b' ', h1, h2, b':', m1, m2, b':', s1, s2] = *time else {
        return None;
    };
    let time = NaiveTime::from_hms_opt(digits(&[h1, h2])?, digits(&[m1, m2])?, digits(&[s1, s2])?)?;
    Some(quick_date(date)?.and_time(time))
}

/// [`parse_roc_datetime`] the long way: the date-time, or what is wrong
/// with it.
fn explain_datetime(s: &str) -> Result<NaiveDateTime, String> {
    let (date, time) = s
        .split_once(' ')
        .ok_or_else(|| format!("`{s}` is not a date-time (yyy/mm/dd HH:MM:SS)"))?;
    let date = explain_date(date)?;
    let bad_time = || format!("`{s}`: `{time}` is not a time (HH:MM:SS)");
    let parts: Vec<&str> = time.split(':').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad_time());
    }
    let n = |i: usize| parts[i].parse::<u32>().map_err(|_| bad_time());
    let time = NaiveTime::from_hms_opt(n(0)?, n(1)?, n(2)?).ok_or_else(bad_time)?;
    Ok(date.and_time(time))
}

/// `113/07/02`: how the courts and the public write a date.
pub fn roc(date: NaiveDate) -> String {
    format!("{}/{:02}/{:02}", roc_year(date), date.month(), date.day())
}

/// `115/12/10（四）`: a day as hearings are told, with its weekday (the
/// mail's reminders and digests, the website's list of hearings).
pub fn roc_weekday(date: NaiveDate) -> String {
    const DAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
    format!(
        "{}（{}）",
        roc(date),
        DAYS[date.weekday().num_days_from_monday() as usize]
    )
}

/// How far ahead a day is, `days` from the reader's (or the mail's) day:
/// 今天, 明天, 後天, `N 天後`.
pub fn days_ahead(days: i64) -> String {
    match days {
        0 => "今天".into(),
        1 => "明天".into(),
        2 => "後天".into(),
        n => format!("{n} 天後"),
    }
}

/// The Taipei date of a moment.
pub fn taipei_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&taipei()).date_naive()
}

/// A time as people read it, to the minute: `115/12/19 00:43`.
pub fn roc_minute(t: NaiveDateTime) -> String {
    format!("{} {}", roc(t.date()), t.format("%H:%M"))
}

/// A moment as people in Taiwan read it: [`roc_minute`] of its Taipei time.
pub fn roc_taipei(t: DateTime<Utc>) -> String {
    roc_minute(t.with_timezone(&taipei()).naive_local())
}

/// The last day a case with a cutoff status that began on `status_date` can
/// still be queried: two calendar months later, a day the later month lacks
/// falling to its last day (113/12/31 → 114/02/28).
pub fn last_queryable_day(status_date: NaiveDate, months: u32) -> NaiveDate {
    status_date
        .checked_add_months(Months::new(months))
        .expect("ROC dates are far from chrono's limits")
}

/// A date as snapshots store it: the integer YYYYMMDD.
pub fn to_int(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

pub fn from_int(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::try_from(n / 10_000).ok()?,
        (n / 100 % 100) as u32,
        (n % 100) as u32,
    )
}

/// A date-time as snapshots store it: the integer YYYYMMDDHHMMSS.
pub fn datetime_to_int(t: NaiveDateTime) -> i64 {
    use chrono::Timelike;
    to_int(t.date()) * 1_000_000
        + i64::from(t.hour()) * 10_000
        + i64::from(t.minute()) * 100
        + i64::from(t.second())
}

pub fn datetime_from_int(n: i64) -> Option<NaiveDateTime> {
    let time = n % 1_000_000;
    from_int(n / 1_000_000)?.and_hms_opt(
        (time / 10_000) as u32,
        (time / 100 % 100) as u32,
        (time % 100) as u32,
    )
}

/// Parses a batch directory name, `YYYYMMDD` (Gregorian).
pub fn parse_batch_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y%m%d").ok()
}

/// Parses a day as an administrator names one on the command line: as
/// batches are named, `YYYYMMDD`, or `YYYY-MM-DD` (Gregorian). Every
/// command that takes a night or a day takes both.
pub fn parse_day_arg(s: &str) -> Option<NaiveDate> {
    parse_batch_date(s).or_else(|| {
        let b = s.as_bytes();
        // (ASCII hyphens at 4 and 7: every slice below is on a char boundary)
        (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
            .then(|| format!("{}{}{}", &s[..4], &s[5..7], &s[8..]))
            .and_then(|c| parse_batch_date(&c))
    })
}

/// `20261124`: how batches and snapshot files are named.
pub fn compact(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_day_is_told_with_its_weekday_and_how_far_ahead_it_is() {
        assert_eq!(roc_weekday(ymd(2026, 12, 10)), "115/12/10（四）");
        assert_eq!(roc_weekday(ymd(2026, 12, 13)), "115/12/13（日）");
        assert_eq!(roc_weekday(ymd(2027, 3, 1)), "116/03/01（一）");
        let said: Vec<String> = [0, 1, 2, 3, 15].into_iter().map(days_ahead).collect();
        assert_eq!(said, ["今天", "明天", "後天", "3 天後", "15 天後"]);
    }

    #[test]
    fn both_forms_and_short_years() {
        let check = |s: &str, want: Option<NaiveDate>| {
            assert_eq!(parse_roc_date(s).ok(), want, "{s}");
        };
        check("113/07/02", Some(ymd(2024, 7, 2)));
        check("99/12/01", Some(ymd(2010, 12, 1)));
        check("099/12/01", Some(ymd(2010, 12, 1)));
        check("1130702", Some(ymd(2024, 7, 2)));
        check("991201", Some(ymd(2010, 12, 1)));
        check("0991201", Some(ymd(2010, 12, 1)));
        check("113/02/30", None);
        check("113/7/02", None);
        check("1130230", None);
        check("113-07-02", None);
        check("11307022", None);
        check("000/01/01", None);
        check("", None);
        check("11３0702", None);
        check("113/02/29", Some(ymd(2024, 2, 29)));
        check("112/02/29", None);
    }

    #[test]
    fn date_times() {
        let got = parse_roc_datetime("113/07/02 09:05:00").unwrap();
        assert_eq!(got, ymd(2024, 7, 2).and_hms_opt(9, 5, 0).unwrap());
        assert!(parse_roc_datetime("1130702 23:59:59").is_ok());
        for bad in [
            "113/07/02 24:00:00",
            "113/07/02 9:05:00",
            "113/07/02",
            "113/07/02  09:05:00",
            "113/07/02 09:05",
        ] {
            assert!(parse_roc_datetime(bad).is_err(), "{bad}");
        }
    }

    /// Dates as the contract writes them, and near misses: years, months
    /// and days in and out of range, of one to four digits, with or
    /// without slashes; and any short string of the characters dates use.
    fn dates() -> impl Strategy<Value = String> {
        let year = prop_oneof![Just(0u32), 1u32..200, 0u32..1200];
        let written = (
            year,
            0u32..14,
            0u32..33,
            1usize..=4,
            1usize..=3,
            any::<bool>(),
        )
            .prop_map(|(y, m, d, yw, mw, slashes)| {
                let sep = if slashes { "/" } else { "" };
                format!("{y:0yw$}{sep}{m:0mw$}{sep}{d:02}")
            });
        prop_oneof![written, "[0-9/ :３a-]{0,11}"]
    }

    fn written_date_times() -> impl Strategy<Value = String> {
        let time = (0u32..26, 0u32..62, 0u32..62, 1usize..=3)
            .prop_map(|(h, m, s, w)| format!("{h:0w$}:{m:02}:{s:02}"));
        let sep = prop_oneof![Just(" "), Just("  "), Just(""), Just("T"), Just("\u{3000}")];
        prop_oneof![
            (dates(), sep, time).prop_map(|(d, sep, t)| format!("{d}{sep}{t}")),
            "[0-9/ :３]{0,20}",
        ]
    }

    proptest! {
        /// The quick way reads exactly the dates the long way accepts, the
        /// same day; what it refuses, the long way explains.
        #[test]
        fn dates_are_read_the_quick_way_exactly_when_the_long_way_accepts(s in dates()) {
            prop_assert_eq!(quick_date(s.as_bytes()), explain_date(&s).ok(), "{}", s);
            prop_assert_eq!(parse_roc_date(&s), explain_date(&s));
        }

        #[test]
        fn date_times_too(s in written_date_times()) {
            prop_assert_eq!(quick_datetime(s.as_bytes()), explain_datetime(&s).ok(), "{}", s);
            prop_assert_eq!(parse_roc_datetime(&s), explain_datetime(&s));
        }
    }

    #[test]
    fn what_is_wrong_is_still_said() {
        assert_eq!(
            parse_roc_date("113/02/30").unwrap_err(),
            "`113/02/30` is not a day of the calendar"
        );
        assert_eq!(
            parse_roc_date("000/01/01").unwrap_err(),
            "`000/01/01`: ROC year 0 does not exist"
        );
        assert_eq!(
            parse_roc_datetime("113/07/02 24:00:00").unwrap_err(),
            "`113/07/02 24:00:00`: `24:00:00` is not a time (HH:MM:SS)"
        );
    }

    #[test]
    fn display_is_roc() {
        assert_eq!(roc(ymd(2024, 7, 2)), "113/07/02");
        assert_eq!(roc(ymd(2010, 12, 1)), "99/12/01");
    }

    #[test]
    fn cutoff_examples_from_the_contract() {
        // 113/03/31: queryable through 113/05/31.
        assert_eq!(last_queryable_day(ymd(2024, 3, 31), 2), ymd(2024, 5, 31));
        // 113/12/31: through 114/02/28, the month lacking the 31st.
        assert_eq!(last_queryable_day(ymd(2024, 12, 31), 2), ymd(2025, 2, 28));
        // Leap year: 112/12/30 → 113/02/29.
        assert_eq!(last_queryable_day(ymd(2023, 12, 30), 2), ymd(2024, 2, 29));
    }

    #[test]
    fn integer_forms_round_trip() {
        let d = ymd(2026, 11, 24);
        assert_eq!(to_int(d), 20261124);
        assert_eq!(from_int(20261124), Some(d));
        assert_eq!(from_int(20261131), None);
        let t = d.and_hms_opt(9, 5, 7).unwrap();
        assert_eq!(datetime_to_int(t), 20261124090507);
        assert_eq!(datetime_from_int(20261124090507), Some(t));
    }

    #[test]
    fn batch_names() {
        assert_eq!(parse_batch_date("20261124"), Some(ymd(2026, 11, 24)));
        assert_eq!(parse_batch_date("20261131"), None);
        assert_eq!(parse_batch_date("2026-11-24"), None);
        assert_eq!(compact(ymd(2026, 11, 24)), "20261124");
    }

    #[test]
    fn a_day_on_the_command_line_either_way() {
        for ok in ["20261124", "2026-11-24"] {
            assert_eq!(parse_day_arg(ok), Some(ymd(2026, 11, 24)), "{ok}");
        }
        for bad in [
            "2026-11-31",
            "2026-1-24",
            "2026/11/24",
            "+2026-11-2",
            "2026-11-2x",
            "２０２6-11-24",
            "2026--11-24",
            "",
        ] {
            assert_eq!(parse_day_arg(bad), None, "{bad}");
        }
    }
}
