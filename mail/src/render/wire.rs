//! A message as sent, from the message as rendered and kept: every part
//! kept as `8bit` ([`super::encode`]) written as base64, byte for byte as
//! lettre's `Body::new` writes it; the rest as it is. A message with no such
//! part (one queued before outbox migration 9, one already written so) is
//! sent as kept.
//!
//! The parts are found by their MIME structure (mail-parser's offsets), not
//! by searching the text: a court's entry quoted in a body may say anything,
//! `Content-Transfer-Encoding: 8bit` included, and only a part's own header
//! counts. A part ends where its multipart's boundary (40 random characters
//! per message, lettre's) begins, as for any reader of the message.
//!
//! Everything cpor sends is ASCII (RFC 2047 headers, 7bit, quoted-printable
//! or base64 parts), and the sender announces no 8BITMIME: a message that
//! is not ASCII once written is refused ([`wire`]'s error), never sent as
//! it is.

use std::borrow::Cow;

use mail_parser::{MessageParser, PartType};

const MARK: &[u8] = b"Content-Transfer-Encoding: 8bit\r\n";
/// The mark's value, which becomes `base64`.
const VALUE: &[u8] = b"8bit\r\n";

/// The message as sent (see the module): borrowed when nothing is to be
/// written. An error says why it cannot be sent: a byte that is not ASCII
/// outside any part kept as 8bit (a damaged or foreign row, or a change in
/// lettre's or mail-parser's output that the tests missed).
pub fn wire(message: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let out = if find(message, MARK).is_none() {
        Cow::Borrowed(message)
    } else {
        Cow::Owned(written(message)?)
    };
    match out.iter().position(|b| !b.is_ascii()) {
        None => Ok(out),
        Some(at) => Err(format!(
            "byte {at} of the message is not ASCII and is in no part kept as 8bit: \
             it cannot be sent as it is"
        )),
    }
}

/// Every part marked `8bit` in its own header written as base64.
fn written(message: &[u8]) -> Result<Vec<u8>, String> {
    // `parse` gives nothing only for a message with no header at all.
    let Some(parsed) = MessageParser::new().parse(message) else {
        return Ok(message.to_vec());
    };
    let outside = || "a part's offsets lie outside the message".to_string();
    // Each leaf part marked `8bit` in its own header: where the mark's
    // value starts, and its body.
    let mut kept: Vec<(usize, usize, usize)> = Vec::new();
    for p in &parsed.parts {
        if matches!(p.body, PartType::Multipart(_) | PartType::Message(_)) {
            continue;
        }
        let (head, start, end) = (
            p.offset_header as usize,
            p.offset_body as usize,
            p.offset_end as usize,
        );
        let header = message.get(head..start).ok_or_else(outside)?;
        message.get(start..end).ok_or_else(outside)?;
        if let Some(at) = line_at(header, MARK) {
            kept.push((head + at + MARK.len() - VALUE.len(), start, end));
        }
    }
    kept.sort_unstable();
    let grown: usize = kept
        .iter()
        .map(|&(_, s, e)| (e - s).div_ceil(3) * 4 + (e - s).div_ceil(57) * 2)
        .sum();
    let mut out = Vec::with_capacity(message.len() + grown);
    let mut at = 0;
    for (value, start, end) in kept {
        if value < at {
            return Err("two parts overlap".to_string());
        }
        out.extend_from_slice(&message[at..value]);
        out.extend_from_slice(b"base64\r\n");
        out.extend_from_slice(&message[value + VALUE.len()..start]);
        out.extend_from_slice(&super::encode::base64(&message[start..end]));
        at = end;
    }
    out.extend_from_slice(&message[at..]);
    Ok(out)
}

/// Where `line` starts a line of `head` (at its start or after a CRLF).
fn line_at(head: &[u8], line: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find(&head[from..], line) {
        let at = from + i;
        if at == 0 || head[..at].ends_with(b"\r\n") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{message_with, CalendarFile, View};
    use super::*;
    use lettre::message::header::ContentTransferEncoding;
    use lettre::message::{Body, Mailbox};
    use proptest::prelude::*;

    fn view() -> View {
        View {
            subject: "【案件進度查詢】庭期提醒：臺灣臺北地方法院 民事 115年度訴字第100號 即將開庭"
                .into(),
            email: "wang.ming@example.com".into(),
            cases: Vec::new(),
            site: String::new(),
            link: String::new(),
            expires: String::new(),
            night: String::new(),
            unsubscribe: "http://localhost:8080/unsubscribe?x=1".into(),
            more: 0,
            rerun: false,
            after_earlier: false,
            for_reminders: false,
            hearings: Vec::new(),
            calendars: 0,
            index: Vec::new(),
            calendars_left_out: 0,
            cut_changes: Vec::new(),
            entries_left_out: false,
            not_activated: false,
            hearings_changed: false,
            maintenance: settings::Maintenance::default().to_string(),
        }
    }

    /// A message rendered from these bodies and calendar files, as kept
    /// (`outbox::packed`'s tests use it too).
    pub(crate) fn kept(text: &str, html: &str, files: &[String]) -> Vec<u8> {
        let from: Mailbox = "案件進度查詢 <noreply@cpor.localhost>".parse().unwrap();
        let calendars: Vec<CalendarFile> = files
            .iter()
            .enumerate()
            .map(|(i, f)| CalendarFile {
                filename: format!("hearing-{i}.ics"),
                method: "REQUEST",
                text: f.clone(),
            })
            .collect();
        message_with(
            &view(),
            text.to_string(),
            html.to_string(),
            &from,
            "<x@cpor.localhost>",
            std::time::SystemTime::UNIX_EPOCH,
            true,
            &calendars,
        )
        .unwrap()
    }

    /// What lettre itself sends for these bodies: the kept message with
    /// each 8bit part replaced by lettre's `Body::new` of its text (a body
    /// by `Body::new(String)`, a calendar file by `Body::new(bytes)`).
    fn lettres(kept: &[u8], text: &str, html: &str, files: &[String]) -> Vec<u8> {
        let mut m = kept.to_vec();
        let bodies = [text, html]
            .into_iter()
            .map(|t| {
                (
                    Body::new(t.to_string()),
                    t.replace("\r\n", "\n").replace('\n', "\r\n"),
                )
            })
            .chain(
                files
                    .iter()
                    .map(|f| (Body::new(f.as_bytes().to_vec()), f.clone())),
            );
        for (lettre, kept_text) in bodies {
            // Only what lettre sends as base64 is kept otherwise.
            if lettre.encoding() != ContentTransferEncoding::Base64 {
                continue;
            }
            // The part's header's last line, its body, and the boundary
            // line that ends it.
            let from = [
                b"Content-Transfer-Encoding: 8bit\r\n\r\n".as_slice(),
                kept_text.as_bytes(),
                b"\r\n--",
            ]
            .concat();
            let at = find(&m, &from).expect("a body lettre sends as base64 is kept as 8bit");
            let to = [
                b"Content-Transfer-Encoding: base64\r\n\r\n".as_slice(),
                &lettre.into_vec(),
                b"\r\n--",
            ]
            .concat();
            m.splice(at..at + from.len(), to);
        }
        m
    }

    #[test]
    fn a_reminder_is_sent_as_lettre_sends_it() {
        let text = "提醒您，您關注的案件即將開庭：\n115/12/01（二）09:30 言詞辯論\n";
        let html =
            "<p>提醒您，您關注的案件即將開庭：</p>\n<p>地點：臺灣新北地方法院 第三法庭</p>\n";
        let files = vec![
            "BEGIN:VCALENDAR\r\nLOCATION:臺灣新北地方法院 第三法庭\r\nEND:VCALENDAR\r\n"
                .to_string(),
        ];
        let m = kept(text, html, &files);
        assert_eq!(
            m.windows(MARK.len()).filter(|w| *w == MARK).count(),
            3,
            "both bodies and the file are kept as 8bit"
        );
        let sent = wire(&m).unwrap().into_owned();
        assert_eq!(sent, lettres(&m, text, html, &files));
        assert!(sent.is_ascii());
        assert!(
            matches!(wire(&sent), Ok(Cow::Borrowed(s)) if s == sent.as_slice()),
            "what is sent is sent as it is"
        );
    }

    /// A message that would not be ASCII once written is refused, never
    /// handed over to be sent: text outside any part kept as 8bit (a part
    /// marked 7bit that is not, as a damaged or foreign row could be), or
    /// a part kept as 8bit inside an attached message, which is not
    /// written.
    #[test]
    fn a_message_that_cannot_be_sent_as_ascii_is_refused() {
        let m = kept("", "提醒您", &[]);
        let sent = wire(&m).unwrap().into_owned();
        let unmarked = String::from_utf8(m.clone()).unwrap().replace(
            "Content-Transfer-Encoding: 8bit",
            "Content-Transfer-Encoding: 7bit",
        );
        let e = wire(unmarked.as_bytes()).unwrap_err();
        assert!(e.contains("not ASCII"), "{e}");
        let inner = String::from_utf8(m).unwrap();
        let nested = format!(
            "From: a@b.c\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n\
             --zz\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--zz--\r\n"
        );
        assert!(wire(nested.as_bytes()).is_err());
        assert!(sent.is_ascii() && wire(&sent).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any bodies and calendar files, with what might look like MIME
        /// inside them (a header line, a boundary-like line, blank lines):
        /// the message sent is lettre's, byte for byte.
        #[test]
        fn any_message_is_sent_as_lettre_sends_it(
            text in text(),
            html in text(),
            files in prop::collection::vec((text(), any::<bool>()), 0..4),
        ) {
            // Calendar files have CRLF lines; some here keep bare LFs.
            let files: Vec<String> = files
                .into_iter()
                .map(|(f, crlf)| if crlf { f.replace('\n', "\r\n") } else { f })
                .collect();
            let m = kept(&text, &html, &files);
            let sent = wire(&m).unwrap().into_owned();
            prop_assert_eq!(&sent, &lettres(&m, &text, &html, &files));
            prop_assert_eq!(wire(&sent).unwrap().into_owned(), sent);
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                3 => Just("\n".to_string()),
                1 => Just("\n\n".to_string()),
                1 => Just("Content-Transfer-Encoding: 8bit\n".to_string()),
                1 => Just("--".to_string()),
                1 => Just("\r".to_string()),
                1 => Just("\n--=_boundary--\n".to_string()),
                1 => Just(" ".to_string()),
                2 => "[a-z<>=\"/.:;]{1,30}",
                4 => "[宣判開庭準備程序臺灣言詞辯論]{1,20}",
                1 => (1usize..90).prop_map(|n| "x".repeat(n)),
            ],
            0..30,
        )
        .prop_map(|p| p.concat())
    }
}
