//! A message as its reader reads it, for an administrator's terminal
//! (`cpor-etl outbox show`): the headers people look at, decoded (RFC
//! 2047), the text part decoded, and each attachment named with its type
//! and size. The message as sent is the `--raw` view.

use std::fmt::Write;

use mail_parser::{Addr, Address, MessageParser, MimeHeaders};

/// The readable view, or `None` if the bytes are not a message at all.
pub fn readable(message: &[u8]) -> Option<String> {
    let m = MessageParser::new().parse(message)?;
    let mut out = String::new();
    let addr = |a: Option<&Address>| -> String {
        a.map(|a| a.iter().map(one).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let _ = writeln!(out, "From: {}", addr(m.from()));
    let _ = writeln!(out, "To: {}", addr(m.to()));
    let _ = writeln!(out, "Subject: {}", m.subject().unwrap_or(""));
    // In Taipei, as the rest of `outbox show` gives times.
    if let Some(date) = m
        .date()
        .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0))
    {
        let taipei = date.with_timezone(&schemas::date::taipei());
        let _ = writeln!(out, "Date: {}", taipei.format("%Y-%m-%d %H:%M:%S (Taipei)"));
    }
    for name in ["Message-ID", "List-Unsubscribe"] {
        if let Some(v) = m.header_raw(name) {
            let _ = writeln!(out, "{name}: {}", v.trim());
        }
    }
    out.push('\n');
    match m.body_text(0) {
        Some(text) => out.push_str(&text.replace("\r\n", "\n")),
        None => out.push_str("(no text part)\n"),
    }
    for (i, a) in m.attachments().enumerate() {
        if i == 0 {
            out.push('\n');
        }
        let kind = a
            .content_type()
            .map_or("application/octet-stream".to_string(), |t| {
                let mut s = format!("{}/{}", t.ctype(), t.subtype().unwrap_or(""));
                if let Some(method) = t.attribute("method") {
                    let _ = write!(s, "; method={method}");
                }
                s
            });
        let _ = writeln!(
            out,
            "attachment: {} ({kind}, {} bytes)",
            a.attachment_name().unwrap_or("(no name)"),
            a.contents().len()
        );
    }
    Some(out)
}

/// `name <address>`, or the address alone.
fn one(a: &Addr) -> String {
    match (a.name(), a.address()) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (None, Some(e)) => e.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => String::new(),
    }
}
