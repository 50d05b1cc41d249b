//! Calendar files (iCalendar, RFC 5545) that calendar apps update instead of
//! duplicating: pure text, shared by the website (a hearing's `.ics`, later
//! the feed) and the mail (reminders and digests that announce a hearing).
//!
//! What makes an app update an event rather than add a second one is the
//! event's `UID`, which must stay the same for the same hearing, and its
//! `SEQUENCE`, which must rise when the hearing changes (RFC 5546 §2.1.4:
//! with equal sequences, the later `DTSTAMP` wins). Both come from the
//! snapshot's `hearings` table (`etl::hearings` derives them from the
//! entries); this module only writes them. A cancellation is a calendar
//! with `METHOD:CANCEL` and the same UID.
//!
//! Times are Asia/Taipei wall-clock times with `TZID=Asia/Taipei` and a
//! `VTIMEZONE` that says +08:00 all year (no daylight saving since 1979), so
//! no app needs a time zone database of its own to place them. Text is
//! escaped (backslash, semicolon, comma, line breaks) and lines are folded
//! at 75 octets, never inside a UTF-8 character. Every event's description
//! ends with [`NOTICE`]: the summons, not this file, governs.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::hearing::State;

/// Said at the end of every event's description, as the original service
/// said on every page that showed a hearing.
pub const NOTICE: &str = "庭期以法院傳票或通知書為準。";

/// The time zone every event is written in.
pub const TZID: &str = "Asia/Taipei";

/// What the receiving app is asked to do (RFC 5546).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add or update the events (a file downloaded, a subscribed feed).
    Publish,
    /// Add or update the event, sent to an attendee by mail (RFC 6047
    /// iMIP): the organizer and the attendee are named, and no reply is
    /// asked for (`RSVP=FALSE`). One UID per calendar (RFC 5546 §1.4).
    Request,
    /// Remove the events (their UIDs).
    Cancel,
}

impl Method {
    /// As `METHOD` and a MIME type's `method` parameter say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// An event's `STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Tentative,
    Cancelled,
}

impl Status {
    /// A hearing's state as an event's status: a hearing that may have been
    /// changed is tentative; one moved or cancelled does not take place at
    /// that time.
    pub fn of(state: State) -> Status {
        match state {
            State::Scheduled => Status::Confirmed,
            State::Uncertain => Status::Tentative,
            State::Moved | State::Cancelled => Status::Cancelled,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "CONFIRMED",
            Status::Tentative => "TENTATIVE",
            Status::Cancelled => "CANCELLED",
        }
    }
}

/// Who sends the calendar (`ORGANIZER`). RFC 5546 wants one on `PUBLISH`
/// and `CANCEL`; a calendar mailed to people should name the sending
/// address, a file downloaded from the website may go without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer {
    pub name: String,
    pub email: String,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub uid: String,
    pub sequence: u32,
    /// Asia/Taipei local times.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub summary: String,
    pub location: String,
    /// [`NOTICE`] is added at its end.
    pub description: String,
    pub status: Status,
    pub url: Option<String>,
}

/// A calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub method: Method,
    /// `X-WR-CALNAME`, the name a subscribed feed shows.
    pub name: Option<String>,
    pub organizer: Option<Organizer>,
    /// The address a mailed calendar is for (`ATTENDEE`, no reply asked):
    /// RFC 5546 wants one on `REQUEST` and on a mailed `CANCEL`.
    pub attendee: Option<String>,
    pub events: Vec<Event>,
}

/// A hearing as a calendar shows it, from what the snapshot stores.
#[derive(Debug, Clone, Copy)]
pub struct Hearing<'a> {
    pub uid: &'a str,
    pub sequence: u32,
    pub at: NaiveDateTime,
    pub courtroom: Option<&'a str>,
    pub kind: &'a str,
    pub state: State,
    /// `臺灣臺北地方法院 民事 115年度訴字第100號`
    pub case_title: &'a str,
    pub court_name: &'a str,
}

impl Hearing<'_> {
    /// The event: an hour long (the end is not known, and it says so), at
    /// the court and courtroom.
    pub fn event(&self) -> Event {
        let when = format!(
            "{} {}",
            crate::date::roc(self.at.date()),
            self.at.format("%H:%M")
        );
        let room = self.courtroom.unwrap_or("");
        let state = match self.state {
            State::Scheduled => String::new(),
            other => format!("（{}）", other.label()),
        };
        Event {
            uid: self.uid.to_string(),
            sequence: self.sequence,
            start: self.at,
            end: self.at + chrono::Duration::hours(1),
            summary: format!("{}{state}（{}）", self.kind, self.case_title),
            location: match self.courtroom {
                Some(r) => format!("{} {r}", self.court_name),
                None => self.court_name.to_string(),
            },
            description: format!(
                "{}\n{when} {room}{}{state}\n結束時間未知，以一小時估計。",
                self.case_title, self.kind
            ),
            status: Status::of(self.state),
            url: None,
        }
    }
}

impl Calendar {
    /// The file, CRLF line ends, folded. `stamp`: when it is written
    /// (`DTSTAMP`).
    pub fn write(&self, stamp: DateTime<Utc>) -> String {
        let mut out = String::new();
        let mut line = |l: String| {
            fold_into(&mut out, &l);
        };
        line("BEGIN:VCALENDAR".into());
        line("VERSION:2.0".into());
        line("PRODID:-//cpor//案件進度線上查詢服務//ZH-TW".into());
        line("CALSCALE:GREGORIAN".into());
        line(format!("METHOD:{}", self.method.as_str()));
        if let Some(name) = &self.name {
            line(format!("X-WR-CALNAME:{}", escape(name)));
        }
        line(format!("X-WR-TIMEZONE:{TZID}"));
        for l in [
            "BEGIN:VTIMEZONE".to_string(),
            format!("TZID:{TZID}"),
            "BEGIN:STANDARD".into(),
            "DTSTART:19700101T000000".into(),
            "TZOFFSETFROM:+0800".into(),
            "TZOFFSETTO:+0800".into(),
            "TZNAME:CST".into(),
            "END:STANDARD".into(),
            "END:VTIMEZONE".into(),
        ] {
            line(l);
        }
        let local = |t: NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
        for e in &self.events {
            let status = match self.method {
                Method::Cancel => Status::Cancelled,
                Method::Publish | Method::Request => e.status,
            };
            line("BEGIN:VEVENT".into());
            line(format!("UID:{}", escape(&e.uid)));
            line(format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")));
            line(format!("SEQUENCE:{}", e.sequence));
            line(format!("DTSTART;TZID={TZID}:{}", local(e.start)));
            line(format!("DTEND;TZID={TZID}:{}", local(e.end)));
            line(format!("SUMMARY:{}", escape(&e.summary)));
            line(format!("LOCATION:{}", escape(&e.location)));
            let description = if e.description.is_empty() {
                NOTICE.to_string()
            } else {
                format!("{}\n{NOTICE}", e.description)
            };
            line(format!("DESCRIPTION:{}", escape(&description)));
            line(format!("STATUS:{}", status.as_str()));
            line("TRANSP:OPAQUE".into());
            if let Some(o) = &self.organizer {
                line(format!(
                    "ORGANIZER;CN=\"{}\":mailto:{}",
                    param(&o.name),
                    o.email
                ));
            }
            if let Some(a) = &self.attendee {
                line(format!(
                    "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{}",
                    param(a)
                ));
            }
            if let Some(url) = &e.url {
                line(format!("URL:{url}"));
            }
            line("END:VEVENT".into());
        }
        line("END:VCALENDAR".into());
        out
    }
}

/// RFC 5545 TEXT: backslash, semicolon and comma escaped, a line break as
/// `\n`; other control characters (not allowed in TEXT) dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A quoted parameter value: no double quotes or control characters.
fn param(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && !c.is_control()).collect()
}

/// Appends one content line folded at 75 octets (RFC 5545 §3.1), never
/// inside a UTF-8 character, with CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut len = 0;
    for c in line.chars() {
        if len + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// Unfolds a calendar (for tests and checks): content lines without their
/// folding.
pub fn unfold(ics: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in ics.split("\r\n") {
        if let Some(rest) = raw.strip_prefix(' ') {
            if let Some(last) = lines.last_mut() {
                last.push_str(rest);
                continue;
            }
        }
        if !raw.is_empty() {
            lines.push(raw.to_string());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hearing(state: State) -> Event {
        Hearing {
            uid: "0123456789abcdef@cpor",
            sequence: 2,
            at: NaiveDateTime::parse_from_str("2026-12-01 09:30", "%Y-%m-%d %H:%M").unwrap(),
            courtroom: Some("第三法庭"),
            kind: "言詞辯論",
            state,
            case_title: "臺灣新北地方法院 民事 115年度簡字第33號",
            court_name: "臺灣新北地方法院",
        }
        .event()
    }

    #[test]
    fn a_hearing_is_an_hour_in_taipei_with_the_notice() {
        let cal = Calendar {
            method: Method::Publish,
            name: None,
            organizer: None,
            attendee: None,
            events: vec![hearing(State::Scheduled)],
        };
        let ics = cal.write(stamp());
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.lines().all(|l| l.len() <= 75), "{ics}");
        let lines = unfold(&ics);
        for want in [
            "METHOD:PUBLISH",
            "TZID:Asia/Taipei",
            "UID:0123456789abcdef@cpor",
            "SEQUENCE:2",
            "DTSTAMP:20261124T000000Z",
            "DTSTART;TZID=Asia/Taipei:20261201T093000",
            "DTEND;TZID=Asia/Taipei:20261201T103000",
            "LOCATION:臺灣新北地方法院 第三法庭",
            "SUMMARY:言詞辯論（臺灣新北地方法院 民事 115年度簡字第33號）",
            "STATUS:CONFIRMED",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} missing:\n{ics}");
        }
        let description = lines
            .iter()
            .find(|l| l.starts_with("DESCRIPTION:"))
            .unwrap();
        assert!(
            description.ends_with("\\n庭期以法院傳票或通知書為準。"),
            "{description}"
        );
        assert!(description.contains("115/12/01 09:30 第三法庭言詞辯論"));
    }

    #[test]
    fn a_cancellation_keeps_the_uid_and_cancels() {
        let cal = Calendar {
            method: Method::Cancel,
            name: None,
            organizer: Some(Organizer {
                name: "案件進度\"線上\"查詢".into(),
                email: "noreply@example.org".into(),
            }),
            attendee: Some("a@example.com".into()),
            events: vec![hearing(State::Scheduled)],
        };
        let lines = unfold(&cal.write(stamp()));
        assert!(lines.contains(&"METHOD:CANCEL".to_string()));
        assert!(lines.contains(&"STATUS:CANCELLED".to_string()));
        assert!(lines.contains(&"UID:0123456789abcdef@cpor".to_string()));
        assert!(lines
            .contains(&"ORGANIZER;CN=\"案件進度線上查詢\":mailto:noreply@example.org".to_string()));
        assert!(lines.iter().any(|l| l.starts_with("ATTENDEE;")
            && l.contains("RSVP=FALSE")
            && l.ends_with(":mailto:a@example.com")));
    }

    #[test]
    fn states_become_statuses_and_say_so() {
        let e = hearing(State::Uncertain);
        assert_eq!(e.status, Status::Tentative);
        assert!(e.summary.starts_with("言詞辯論（可能已變更）"));
        assert_eq!(hearing(State::Moved).status, Status::Cancelled);
        assert_eq!(hearing(State::Cancelled).status, Status::Cancelled);
    }

    #[test]
    fn text_is_escaped_and_folded_between_characters() {
        assert_eq!(escape("a,b;c\\d\r\ne\nf\u{7}"), "a\\,b\\;c\\\\d\\ne\\nf");
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "言".repeat(40));
        fold_into(&mut out, &long);
        assert!(out.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(unfold(&out), vec![long]);
    }
}
