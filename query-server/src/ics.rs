//! Hearings as calendar files, written by the shared RFC 5545 writer
//! (`schemas::calendar`: VTIMEZONE Asia/Taipei, folding, escaping, the
//! summons notice).
//!
//! A hearing of the snapshot's lists (`live::HearingRow`) has a UID that
//! stays with the hearing when it is moved and a SEQUENCE that rises when
//! it changes (`hearing_calendar`, `hearing_event`): what the case page's
//! links and the feed give, as the mail does. (An entry's calendar link
//! once made an event of its own from the entry's text, whose UID no
//! update or cancellation reached; its address now leads to its hearing's
//! file, `routes::cases::hearing`, which reads the entry exactly as the
//! import does, `schemas::hearing::scheduled_slot`.) The end of a hearing
//! is not known; the event lasts an hour and says so.

use chrono::{DateTime, Utc};

use crate::live::HearingRow;
use mail::outbox::calendar_content;
use schemas::calendar::{Calendar, Event, Hearing, Method, Organizer};
use schemas::hearing::State;

/// A hearing of the snapshot as an event. `title`: the case as people read
/// it; `court_name`: its court's.
pub fn hearing_event(title: &str, court_name: &str, h: &HearingRow) -> Event {
    Hearing {
        uid: &h.uid,
        sequence: h.sequence,
        at: h.at,
        courtroom: h.courtroom.as_deref(),
        kind: &h.kind,
        state: h.state,
        case_title: title,
        court_name,
    }
    .event()
}

/// One hearing (`uid`) of a case, from the case's rows
/// (`live::Snap::hearings_of`), as it now stands: its row with the greatest
/// sequence. `None`: no such hearing.
pub fn current<'r>(rows: &'r [HearingRow], uid: &str) -> Option<&'r HearingRow> {
    rows.iter()
        .filter(|h| h.uid == uid)
        .max_by_key(|h| h.sequence)
}

/// What a hearing's calendar file says, as the outbox's floors digest it
/// (`mail::outbox::calendar_content`).
pub fn content(h: &HearingRow) -> u64 {
    calendar_content(h.state, h.at, h.courtroom.as_deref(), &h.kind)
}

/// The calendar file of one hearing as it now stands ([`current`], its
/// SEQUENCE as the caller serves it: `routes::hearings::case_hearing`
/// lifts it above what the mail sent), published, or cancelled
/// (`METHOD:CANCEL`) if it no longer takes place at that time.
pub fn hearing_calendar(
    title: &str,
    court_name: &str,
    current: &HearingRow,
    organizer: Option<Organizer>,
    url: Option<String>,
    now: DateTime<Utc>,
) -> String {
    let method = match current.state {
        State::Moved | State::Cancelled => Method::Cancel,
        State::Scheduled | State::Uncertain => Method::Publish,
    };
    Calendar {
        method,
        name: None,
        organizer,
        attendee: None,
        events: vec![Event {
            url,
            ..hearing_event(title, court_name, current)
        }],
    }
    .write(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// What the website reads of an entry (`schemas::hearing::scheduled`).
    /// Entries are free text, so the date is read more loosely than the
    /// export's (`113/8/10 9:30`, full-width digits, `1130810`); a text
    /// that cancels a hearing schedules none.
    use schemas::hearing::scheduled as hearing;

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
        assert!(hearing("115/11/27 14:00調解庭期取消").is_none());
    }

    #[test]
    fn single_digit_months_and_days_are_hearings_too() {
        let (when, what) = hearing("113/8/1 9:30 第3法庭").unwrap();
        assert_eq!(when.to_string(), "2024-08-01 09:30:00");
        assert_eq!(what, "第3法庭");
    }

    #[test]
    fn the_calendar_is_in_taipei_time_and_folded() {
        let rows = [row(5, 0, "2024-08-10 10:00", State::Scheduled)];
        let title = "臺灣臺北地方法院 民事 113年度訴字第100號";
        let ics = file(title, &rows, &rows[0].uid).unwrap();
        assert!(ics.contains("DTSTART;TZID=Asia/Taipei:20240810T100000\r\n"));
        assert!(ics.contains("DTEND;TZID=Asia/Taipei:20240810T110000\r\n"));
        assert!(ics.lines().all(|l| l.len() <= 75), "{ics}");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.contains("BEGIN:VTIMEZONE\r\nTZID:Asia/Taipei\r\n"));
        assert!(ics.contains("METHOD:PUBLISH\r\n"));
    }

    /// The file of `uid` as it now stands, at its own SEQUENCE.
    fn file(title: &str, rows: &[HearingRow], uid: &str) -> Option<String> {
        current(rows, uid)
            .map(|h| hearing_calendar(title, "臺灣臺北地方法院", h, None, None, now()))
    }

    fn row(seq: u32, sequence: u32, when: &str, state: State) -> HearingRow {
        HearingRow {
            seq,
            posted: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            uid: "3dcb6689af23ca89@cpor".into(),
            sequence,
            at: NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M").unwrap(),
            courtroom: Some("第十二法庭".into()),
            kind: "言詞辯論".into(),
            state,
            by: None,
        }
    }

    #[test]
    fn a_moved_hearing_is_one_event_at_its_new_time_with_a_higher_sequence() {
        let rows = [
            row(5, 0, "2026-12-03 10:30", State::Moved),
            row(7, 1, "2026-12-01 10:30", State::Scheduled),
        ];
        let title = "臺灣臺北地方法院 民事 115年度重訴字第77號";
        let ics = file(title, &rows, &rows[0].uid).unwrap();
        let lines = schemas::calendar::unfold(&ics);
        for want in [
            "METHOD:PUBLISH",
            "UID:3dcb6689af23ca89@cpor",
            "SEQUENCE:1",
            "DTSTART;TZID=Asia/Taipei:20261201T103000",
            "LOCATION:臺灣臺北地方法院 第十二法庭",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} missing:\n{ics}");
        }
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1);
        assert!(file(title, &rows, "other@cpor").is_none());
    }

    #[test]
    fn a_cancelled_hearing_is_a_cancel_of_its_uid() {
        let rows = [row(4, 1, "2026-11-27 14:00", State::Cancelled)];
        let ics = file("案", &rows, &rows[0].uid).unwrap();
        assert!(ics.contains("METHOD:CANCEL\r\n"));
        assert!(ics.contains("STATUS:CANCELLED\r\n"));
        assert!(ics.contains("SEQUENCE:1\r\n"));
    }
}
