//! Hearings as calendar files. An entry such as
//! `113/08/10 10:00第一法庭言詞辯論` schedules a hearing: its date and time
//! (Asia/Taipei) and what follows become one iCalendar event (RFC 5545).
//! The end is not known; the event lasts an hour and says so.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sha2::{Digest, Sha256};

use schemas::date::roc;

/// The hearing an entry schedules: when, and the rest of the text. Entries
/// are free text, so the date is read more loosely than the export's
/// (`schemas::date::parse_roc_date` wants two-digit months and days): a
/// clerk's `113/8/10 9:30` is a hearing too.
pub fn hearing(text: &str) -> Option<(NaiveDateTime, String)> {
    let t = text.trim_start();
    let (date, rest) = t.split_once(|c: char| c.is_whitespace() || c == '\u{3000}')?;
    let mut parts = date.split('/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(2..=3).contains(&y.len()) {
        return None;
    }
    let day = NaiveDate::from_ymd_opt(
        y.parse::<i32>().ok()? + 1911,
        m.parse().ok()?,
        d.parse().ok()?,
    )?;
    let rest = rest.trim_start();
    let colon = rest.find(':')?;
    let (h, after) = rest.split_at(colon);
    let mins: String = after[1..].chars().take(2).collect();
    if h.is_empty() || h.len() > 2 || mins.len() != 2 {
        return None;
    }
    let time = NaiveTime::from_hms_opt(h.parse().ok()?, mins.parse().ok()?, 0)?;
    let what = after[1 + mins.len()..].trim().to_string();
    Some((day.and_time(time), what))
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// An iCalendar file with the hearing. `title`: the case, as people read it.
pub fn calendar(
    title: &str,
    court: &str,
    when: NaiveDateTime,
    what: &str,
    now: DateTime<Utc>,
) -> String {
    let end = when + chrono::Duration::hours(1);
    let fmt = |t: NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
    let uid = schemas::hex(&Sha256::digest(format!("{title}|{when}|{what}").as_bytes())[..12]);
    let summary = if what.is_empty() {
        "開庭".to_string()
    } else {
        what.to_string()
    };
    let at = format!("{} {}", roc(when.date()), when.format("%H:%M"));
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//cpor//案件進度線上查詢服務//ZH-TW".into(),
        "CALSCALE:GREGORIAN".into(),
        "BEGIN:VTIMEZONE".into(),
        "TZID:Asia/Taipei".into(),
        "BEGIN:STANDARD".into(),
        "DTSTART:19700101T000000".into(),
        "TZOFFSETFROM:+0800".into(),
        "TZOFFSETTO:+0800".into(),
        "TZNAME:CST".into(),
        "END:STANDARD".into(),
        "END:VTIMEZONE".into(),
        "BEGIN:VEVENT".into(),
        format!("UID:{uid}@cpor"),
        format!("DTSTAMP:{}", now.format("%Y%m%dT%H%M%SZ")),
        format!("DTSTART;TZID=Asia/Taipei:{}", fmt(when)),
        format!("DTEND;TZID=Asia/Taipei:{}", fmt(end)),
        format!("SUMMARY:{}", escape(&format!("{summary}（{title}）"))),
        format!("LOCATION:{}", escape(court)),
        format!(
            "DESCRIPTION:{}",
            escape(&format!(
                "{title}\n{at} {what}\n結束時間未知，以一小時估計。庭期以法院傳票或通知書為準。"
            ))
        ),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ];
    let mut out = String::new();
    for l in lines {
        out.push_str(&fold(&l));
        out.push_str("\r\n");
    }
    out
}

/// RFC 5545 line folding at 75 octets, never inside a UTF-8 character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in line.chars() {
        if len + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hearings_are_found_in_entries() {
        let (when, what) = hearing("113/08/10 10:00第一法庭言詞辯論").unwrap();
        assert_eq!(when.to_string(), "2024-08-10 10:00:00");
        assert_eq!(what, "第一法庭言詞辯論");
        let (when, _) = hearing("115/12/01 9:30 第3法庭準備程序").unwrap();
        assert_eq!(when.to_string(), "2026-12-01 09:30:00");
        assert!(hearing("準備程序").is_none());
        assert!(hearing("函查 113/08/10").is_none());
        assert!(hearing("113/02/30 10:00 不存在的日子").is_none());
    }

    #[test]
    fn single_digit_months_and_days_are_hearings_too() {
        let (when, what) = hearing("113/8/1 9:30 第3法庭").unwrap();
        assert_eq!(when.to_string(), "2024-08-01 09:30:00");
        assert_eq!(what, "第3法庭");
    }

    #[test]
    fn the_calendar_is_in_taipei_time_and_folded() {
        let (when, what) = hearing("113/08/10 10:00第一法庭言詞辯論").unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ics = calendar(
            "臺灣臺北地方法院 民事 113年度訴字第100號",
            "臺灣臺北地方法院",
            when,
            &what,
            now,
        );
        assert!(ics.contains("DTSTART;TZID=Asia/Taipei:20240810T100000\r\n"));
        assert!(ics.contains("DTEND;TZID=Asia/Taipei:20240810T110000\r\n"));
        assert!(ics.lines().all(|l| l.len() <= 75), "{ics}");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
    }
}
