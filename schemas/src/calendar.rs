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

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

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
    /// `X-WR-CALNAME`, the name a subscribed feed shows. A calendar with a
    /// name is a feed: it also says how often to fetch it again
    /// (`REFRESH-INTERVAL`, RFC 7986, and Outlook's `X-PUBLISHED-TTL`: an
    /// hour, within the feed's throttle; the many-cases review of the
    /// fifty-third session found neither).
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
            "{} {:02}:{:02}",
            crate::date::roc(self.at.date()),
            self.at.hour(),
            self.at.minute()
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
    ///
    /// Written into one buffer, each content line into one reused line
    /// buffer and folded from it: a day's reminders and a night's digests
    /// write tens of thousands of these (docs/BENCHMARKS.md).
    pub fn write(&self, stamp: DateTime<Utc>) -> String {
        let mut out = String::with_capacity(HEAD.len() + ZONE.len() + 900 * self.events.len());
        let mut l = String::with_capacity(256);
        // One content line: `l` cleared, written by `f`, folded into `out`.
        fn line(out: &mut String, l: &mut String, f: impl FnOnce(&mut String)) {
            l.clear();
            f(l);
            fold_into(out, l);
        }
        out.push_str(HEAD);
        line(&mut out, &mut l, |l| {
            l.push_str("METHOD:");
            l.push_str(self.method.as_str());
        });
        if let Some(name) = &self.name {
            line(&mut out, &mut l, |l| {
                l.push_str("X-WR-CALNAME:");
                escape_into(l, name);
            });
            out.push_str("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\nX-PUBLISHED-TTL:PT1H\r\n");
        }
        out.push_str(ZONE);
        let mut dtstamp = String::new();
        basic_time(&mut dtstamp, stamp.naive_utc());
        dtstamp.push('Z');
        for e in &self.events {
            let status = match self.method {
                Method::Cancel => Status::Cancelled,
                Method::Publish | Method::Request => e.status,
            };
            line(&mut out, &mut l, |l| l.push_str("BEGIN:VEVENT"));
            line(&mut out, &mut l, |l| {
                l.push_str("UID:");
                escape_into(l, &e.uid);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("DTSTAMP:");
                l.push_str(&dtstamp);
            });
            line(&mut out, &mut l, |l| {
                let _ = write!(l, "SEQUENCE:{}", e.sequence);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("DTSTART;TZID=");
                l.push_str(TZID);
                l.push(':');
                basic_time(l, e.start);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("DTEND;TZID=");
                l.push_str(TZID);
                l.push(':');
                basic_time(l, e.end);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("SUMMARY:");
                escape_into(l, &e.summary);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("LOCATION:");
                escape_into(l, &e.location);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("DESCRIPTION:");
                if !e.description.is_empty() {
                    // Escaped as the description, a line break and the
                    // notice would be as one text: a CR at its end and
                    // that break are one break.
                    escape_into(
                        l,
                        e.description.strip_suffix('\r').unwrap_or(&e.description),
                    );
                    l.push_str("\\n");
                }
                escape_into(l, NOTICE);
            });
            line(&mut out, &mut l, |l| {
                l.push_str("STATUS:");
                l.push_str(status.as_str());
            });
            line(&mut out, &mut l, |l| l.push_str("TRANSP:OPAQUE"));
            if let Some(o) = &self.organizer {
                line(&mut out, &mut l, |l| {
                    l.push_str("ORGANIZER;CN=\"");
                    param_into(l, &o.name);
                    l.push_str("\":mailto:");
                    mailto_into(l, &o.email);
                });
            }
            if let Some(a) = &self.attendee {
                line(&mut out, &mut l, |l| {
                    l.push_str(
                        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:",
                    );
                    mailto_into(l, a);
                });
            }
            if let Some(url) = &e.url {
                line(&mut out, &mut l, |l| {
                    l.push_str("URL:");
                    l.push_str(url);
                });
            }
            line(&mut out, &mut l, |l| l.push_str("END:VEVENT"));
        }
        line(&mut out, &mut l, |l| l.push_str("END:VCALENDAR"));
        out
    }
}

/// The lines every calendar starts with, each shorter than the fold.
const HEAD: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cpor//案件進度線上查詢服務//ZH-TW\r\nCALSCALE:GREGORIAN\r\n";

/// The time zone every event is in: +08:00 all year.
const ZONE: &str = "X-WR-TIMEZONE:Asia/Taipei\r\nBEGIN:VTIMEZONE\r\nTZID:Asia/Taipei\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0800\r\nTZOFFSETTO:+0800\r\nTZNAME:CST\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// RFC 5545's basic DATE-TIME form, `20261201T093000`, as chrono's
/// `%Y%m%dT%H%M%S` writes it (which it does for years it cannot write in
/// four digits, and for a leap second).
fn basic_time(out: &mut String, t: NaiveDateTime) {
    if (0..=9999).contains(&t.year()) && t.nanosecond() < 1_000_000_000 {
        let _ = write!(
            out,
            "{:04}{:02}{:02}T{:02}{:02}{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
    } else {
        let _ = write!(out, "{}", t.format("%Y%m%dT%H%M%S"));
    }
}

/// RFC 5545 TEXT: backslash, semicolon and comma escaped, a line break as
/// `\n`; other control characters (not allowed in TEXT) dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// [`escape`], appended to `out`. Text with none of the bytes that may
/// need it (ASCII controls, `\`, `;`, `,`, DEL, and 0xC2, which leads the
/// C1 controls) is appended as it is.
fn escape_into(out: &mut String, s: &str) {
    if !s
        .bytes()
        .any(|b| b < 0x20 || matches!(b, b'\\' | b';' | b',' | 0x7f | 0xc2))
    {
        out.push_str(s);
        return;
    }
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
}

/// What a `mailto:` URI's address may hold as it is (RFC 6068 §2:
/// unreserved and some-delims, and `@`); the rest, `%`, `?`, `#`, `/`,
/// `=` among them, is percent-encoded, or the URI names another address.
const MAILTO_KEEPS: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b':')
    .remove(b'@');

/// Appends `address` as a `mailto:` URI's (after `mailto:`).
fn mailto_into(out: &mut String, address: &str) {
    out.extend(percent_encoding::utf8_percent_encode(address, MAILTO_KEEPS));
}

/// A quoted parameter value: no double quotes or control characters.
fn param_into(out: &mut String, s: &str) {
    out.extend(s.chars().filter(|c| *c != '"' && !c.is_control()));
}

/// Appends one content line folded at 75 octets (RFC 5545 §3.1), never
/// inside a UTF-8 character, with CRLF: as many whole characters as fit on
/// each line (75 octets, 74 after the space that starts a continuation).
fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut room = 75;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = 74;
    }
    out.push_str(rest);
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

    /// A mailed calendar, byte for byte: the lines calendar apps read
    /// (RFC 5545, RFC 5546's REQUEST), text escaped, long lines folded
    /// between characters at 75 octets (74 after a continuation's space),
    /// CRLF, an hour past midnight into the next year.
    #[test]
    fn a_mailed_calendar_is_written_byte_for_byte() {
        let mut e = Hearing {
            uid: "0123456789abcdef@cpor",
            sequence: 3,
            at: NaiveDateTime::parse_from_str("2026-12-31 23:30", "%Y-%m-%d %H:%M").unwrap(),
            courtroom: Some("第十五法庭;B,1"),
            kind: "準備程序",
            state: State::Uncertain,
            case_title: "臺灣臺北地方法院 民事 115年度重訴字第1234號",
            court_name: "臺灣臺北地方法院",
        }
        .event();
        e.url = Some("https://cpor.example/cases/TPD/%E6%B0%91/115/%E9%87%8D%E8%A8%B4/1234".into());
        let cal = Calendar {
            method: Method::Request,
            name: Some("王律師的庭期".into()),
            organizer: Some(Organizer {
                name: "案件進度查詢".into(),
                email: "noreply@cpor.example".into(),
            }),
            attendee: Some("lawyer.wang@example.com.tw".into()),
            events: vec![e],
        };
        let want = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//cpor//案件進度線上查詢服務//ZH-TW",
            "CALSCALE:GREGORIAN",
            "METHOD:REQUEST",
            "X-WR-CALNAME:王律師的庭期",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
            "X-WR-TIMEZONE:Asia/Taipei",
            "BEGIN:VTIMEZONE",
            "TZID:Asia/Taipei",
            "BEGIN:STANDARD",
            "DTSTART:19700101T000000",
            "TZOFFSETFROM:+0800",
            "TZOFFSETTO:+0800",
            "TZNAME:CST",
            "END:STANDARD",
            "END:VTIMEZONE",
            "BEGIN:VEVENT",
            "UID:0123456789abcdef@cpor",
            "DTSTAMP:20261124T000000Z",
            "SEQUENCE:3",
            "DTSTART;TZID=Asia/Taipei:20261231T233000",
            "DTEND;TZID=Asia/Taipei:20270101T003000",
            "SUMMARY:準備程序（可能已變更）（臺灣臺北地方法院 民事",
            "  115年度重訴字第1234號）",
            "LOCATION:臺灣臺北地方法院 第十五法庭\\;B\\,1",
            "DESCRIPTION:臺灣臺北地方法院 民事 115年度重訴字第1234號\\n1",
            " 15/12/31 23:30 第十五法庭\\;B\\,1準備程序（可能已變更）\\n結",
            " 束時間未知，以一小時估計。\\n庭期以法院傳票或通知書",
            " 為準。",
            "STATUS:TENTATIVE",
            "TRANSP:OPAQUE",
            "ORGANIZER;CN=\"案件進度查詢\":mailto:noreply@cpor.example",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=",
            " FALSE:mailto:lawyer.wang@example.com.tw",
            "URL:https://cpor.example/cases/TPD/%E6%B0%91/115/%E9%87%8D%E8%A8%B4/1234",
            "END:VEVENT",
            "END:VCALENDAR",
        ];
        assert_eq!(cal.write(stamp()), want.join("\r\n") + "\r\n");
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

    /// A review of hostile data (the forty-sixth session): the address in
    /// `mailto:` went as written, so `a?x=1@…` read as the address `a` with
    /// a header, `a%41@…` as `aA@…`, and `a#b@…` as `a` with a fragment
    /// (RFC 6068): a calendar app could not tie the invitation to its
    /// reader. What a `mailto:` may not hold as it is, is percent-encoded.
    #[test]
    fn an_address_in_mailto_is_percent_encoded_as_rfc_6068_asks() {
        for (address, written) in [
            ("a@example.com", "a@example.com"),
            ("o'brien+law@example.com", "o'brien+law@example.com"),
            ("a?x=1@example.com", "a%3Fx%3D1@example.com"),
            ("a%41@example.com", "a%2541@example.com"),
            ("a#b@example.com", "a%23b@example.com"),
            ("a/b@example.com", "a%2Fb@example.com"),
        ] {
            let cal = Calendar {
                method: Method::Request,
                name: None,
                organizer: Some(Organizer {
                    name: "案件進度線上查詢".into(),
                    email: address.into(),
                }),
                attendee: Some(address.into()),
                events: vec![hearing(State::Scheduled)],
            };
            let lines = unfold(&cal.write(stamp()));
            let mailto = format!(":mailto:{written}");
            for property in ["ORGANIZER;", "ATTENDEE;"] {
                assert!(
                    lines
                        .iter()
                        .any(|l| l.starts_with(property) && l.ends_with(&mailto)),
                    "{address}: {lines:?}"
                );
            }
        }
    }

    #[test]
    fn states_become_statuses_and_say_so() {
        let e = hearing(State::Uncertain);
        assert_eq!(e.status, Status::Tentative);
        assert!(e.summary.starts_with("言詞辯論（可能已變更）"));
        assert_eq!(hearing(State::Moved).status, Status::Cancelled);
        assert_eq!(hearing(State::Cancelled).status, Status::Cancelled);
    }

    /// A description's own line ends and the break before the notice are
    /// one text: a CR at its end and that break make one line break.
    #[test]
    fn a_description_ending_in_a_carriage_return_has_one_break_before_the_notice() {
        let description = |text: &str| {
            let mut e = hearing(State::Scheduled);
            e.description = text.into();
            let cal = Calendar {
                method: Method::Publish,
                name: None,
                organizer: None,
                attendee: None,
                events: vec![e],
            };
            unfold(&cal.write(stamp()))
                .into_iter()
                .find(|l| l.starts_with("DESCRIPTION:"))
                .unwrap()
        };
        assert_eq!(description("a\r"), description("a"));
        assert_eq!(description("a\r\r"), description("a\n"));
        assert_eq!(description("a"), format!("DESCRIPTION:a\\n{NOTICE}"));
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
