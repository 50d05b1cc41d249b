//! Bounces that arrive later: delivery status notifications (RFC 3464).
//!
//! A relay that accepted a message may still fail to deliver it; it then
//! mails a DSN to the envelope sender. Most arrive so, not as a refusal at
//! RCPT or DATA. `parse` reads one message and gives, for every recipient it
//! reports on, the address, the action and the enhanced status code, and
//! what ties it back to our outbox: the original Message-ID (from the
//! returned message or its headers, or Gmail's `X-Original-Message-ID`) and
//! the VERP tag of the address the DSN was sent to. A `failed` action fails
//! the message, and flags its address when it says the address is bad
//! ([`says_the_address_is_bad`]); a `delayed` one (4.x.x) is news, not a
//! bounce.
//!
//! MIME is mail-parser's job; the `message/delivery-status` body, a series
//! of header blocks (one per message, then one per recipient), is read here.
//! Older MTAs that send no DSN (Exim before 4.90, some appliances) still say
//! `X-Failed-Recipients:`; those are failures without a Status, as is a
//! report whose Status is missing or cannot be read (`5.7`, `permanent`).
//! Such a report gets the mildest verdict its words support: it is read by
//! the reply it quotes (the Diagnostic-Code, or the old bounce's text about
//! the recipient) through the same rule, and flags only when that says the
//! address is bad; without words, it fails the message alone.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// What happened to one recipient, as the DSN says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    Relayed,
    Expanded,
}

/// One recipient's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The address that failed, lower-cased.
    pub recipient: String,
    pub action: Action,
    /// The enhanced status code (`5.1.1`), if given and readable.
    pub status: Option<String>,
    /// A `Status:` given but not readable (`5.7`, `permanent`), as it
    /// was written (at most 40 characters), for the summary to quote.
    pub unreadable_status: Option<String>,
    /// The remote server's words (`smtp; 550 5.1.1 user unknown`); in an
    /// old-style bounce, its text about the recipient from the reply it
    /// quotes on (`550 5.1.1 User unknown`).
    pub diagnostic: Option<String>,
    /// The Message-ID of the message that bounced, with its angle brackets.
    pub message_id: Option<String>,
    /// The address the DSN was sent to (our envelope sender), lower-cased,
    /// where the DSN says it (VERP: `bounces+<tag>@domain`).
    pub to: Vec<String>,
}

/// What a report says of the message it reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delayed, delivered, relayed: news, not a failure.
    NotFailed,
    /// Not delivered, for a reason that says nothing of the address: a
    /// relay gave up after retrying (`failed` with the last 4.x.x), a
    /// refusal for policy or content (5.7.1); or a report without a
    /// readable Status whose words do not say the address is bad, or say
    /// nothing.
    Failed,
    /// Not delivered because the address or its mailbox is bad: it should
    /// get no more mail ([`says_the_address_is_bad`]).
    BadAddress,
}

impl Bounce {
    pub fn fate(&self) -> Fate {
        if self.action != Action::Failed {
            return Fate::NotFailed;
        }
        // The remote server's reply: `smtp; 550 5.1.1 …`.
        let words = self.diagnostic.as_deref().unwrap_or_default();
        let reply = smtp_reply(words);
        let code = reply.map(|r| r.code);
        let bad = match self.status.as_deref() {
            Some(status) => {
                status.starts_with('5')
                    && says_the_address_is_bad(Some(status), code, words, Stage::Report)
            }
            // No Status, or none that can be read, or an old MTA's
            // X-Failed-Recipients: only the words can say the address is
            // bad, with the enhanced code that follows their reply; a
            // permanent failure is no reason to flag by itself (a refusal
            // as spam is one).
            None => match reply {
                Some(r) => says_the_address_is_bad(r.enhanced, code, words, Stage::Report),
                // Words with no reply code at all, as an old MTA says its
                // own failure (Exim's `Unknown user`, `Unrouteable
                // address`): they flag when they name an unknown mailbox
                // or a domain mail cannot be routed to, not the relay's
                // own refusal (`… (Sender verify failed)`).
                None => {
                    names_an_unknown_mailbox(words)
                        || (outside_addresses(words).contains("unrouteable address")
                            && !speaks_of_the_relay_besides_routing(words))
                }
            },
        };
        if bad {
            Fate::BadAddress
        } else {
            Fate::Failed
        }
    }
}

/// An enhanced status code (RFC 3463, `5.1.1`): class, subject, detail.
fn enhanced_code(code: &str) -> Option<(u16, u16, u16)> {
    let mut parts = code.split('.').map(str::parse::<u16>);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(class)), Some(Ok(subject)), Some(Ok(detail)), None) => {
            Some((class, subject, detail))
        }
        _ => None,
    }
}

/// An SMTP reply quoted in a report's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reply<'a> {
    /// Where in the words it starts.
    at: usize,
    /// `550`.
    code: u16,
    /// The enhanced code that follows it (`550 5.1.1`, `550-5.1.1`).
    enhanced: Option<&'a str>,
}

/// The first SMTP reply (4xx or 5xx) in a report's words: `smtp; 550 5.1.1
/// …`, `host mx.example.net said: 550-5.1.1 …`, `[192.0.2.45]: 550 User
/// unknown`. A word of three digits alone, or followed by a hyphen (a
/// reply of several lines).
fn smtp_reply(words: &str) -> Option<Reply<'_>> {
    let mut tokens = tokens(words).peekable();
    while let Some((at, token)) = tokens.next() {
        let (digits, rest) = token.split_at(token.len().min(3));
        let is_code = digits.len() == 3
            && digits.bytes().all(|b| b.is_ascii_digit())
            && matches!(digits.as_bytes(), [b'4' | b'5', b'0'..=b'5', _])
            && (rest.is_empty() || rest.starts_with('-'));
        if !is_code {
            continue;
        }
        let after = match rest.strip_prefix('-') {
            Some(after) if !after.is_empty() => Some(after),
            _ => tokens.peek().map(|(_, t)| *t),
        };
        return Some(Reply {
            at,
            code: digits.parse().ok()?,
            enhanced: after.filter(|e| enhanced_code(e).is_some()),
        });
    }
    None
}

/// The words of a text with where each starts (split at white space and
/// at `;`, which ends a diagnostic's type: `smtp;550 …`).
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let apart = |c: char| c.is_whitespace() || c == ';';
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + text[from..].find(|c: char| !apart(c))?;
        let end = text[start..].find(apart).map_or(text.len(), |e| start + e);
        from = end;
        Some((start, &text[start..end]))
    })
}

/// What an old-style bounce's text (`X-Failed-Recipients`, no DSN) says of
/// one of its failed recipients: the reply it quotes (`550 5.1.1 User
/// unknown`) and its words to the end of the recipient's paragraph (a blank
/// line, or a line naming another failed recipient, ends it), on one line;
/// with no reply quoted, the paragraph's words.
/// A text that does not name the recipient is read whole only when it
/// names no one else (one recipient failed), since another's reply is no
/// word about this one; none found, none given.
fn quoted_reply(text: &str, recipient: &str, failed: &[String]) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let about = match lower.find(recipient) {
        Some(at) => {
            let start = lower[..at].rfind('\n').map_or(0, |i| i + 1);
            let mut end = start;
            for (i, line) in text[start..].split_inclusive('\n').enumerate() {
                let l = line.trim().trim_start_matches('<').to_ascii_lowercase();
                let another = failed
                    .iter()
                    .any(|f| f != recipient && l.starts_with(f.as_str()));
                if i > 0 && (l.is_empty() || another) {
                    break;
                }
                end += line.len();
            }
            &text[start..end]
        }
        None if failed.len() == 1 => text,
        None => return None,
    };
    let one_line = about.split_whitespace().collect::<Vec<_>>().join(" ");
    // (no reply quoted: its words, as an old MTA says its own failure,
    // `Unknown user`, for `Bounce::fate` to read)
    Some(match smtp_reply(&one_line) {
        Some(reply) => one_line[reply.at..].to_string(),
        None => one_line,
    })
}

/// Where a refusal was met: at RCPT (about the recipient, unless it says
/// otherwise), after DATA (about the message, unless it says otherwise),
/// or in a delivery report (which does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Recipient,
    Message,
    Report,
}

/// Whether a permanent failure (a 5xx reply, or a report's 5.x.x) says the
/// recipient's address or mailbox is bad, so that the address is flagged:
/// by its enhanced status code (RFC 3463) 5.1.x (but 5.1.7 and 5.1.8, the
/// sender's) or 5.2.0 and 5.2.1 (not a full mailbox, 5.2.2, nor a message
/// too big, 5.2.3); when that says nothing (none, or 5.0.0), by the
/// code qmail writes in brackets at the end of its words (`(#5.7.1)`), or
/// else by the reply code, 550, 551 or 553: at RCPT unless its words
/// (`words`: the reply's text, or a report's diagnostic) speak of the
/// relay's own refusal and not of an unknown user ([`speaks_of_the_relay`]:
/// `550 relay not permitted`, `Sender verify failed`; a relay sending no
/// enhanced codes that will not relay would flag a night's addresses);
/// after DATA or in a report only if they name an unknown mailbox
/// ([`names_an_unknown_mailbox`]: `550 Administrative prohibition`, Exim
/// refusing a message as spam, is about the message).
/// Any other
/// (5.7.1 relay access denied or policy, 5.6.x content, 5.3.x and 5.4.x
/// the systems') says nothing of the address. One rule for refusals at
/// sending and for reports.
pub fn says_the_address_is_bad(
    enhanced: Option<&str>,
    reply: Option<u16>,
    words: &str,
    stage: Stage,
) -> bool {
    let permanent = |code: &str| {
        enhanced_code(code)
            .and_then(|(class, subject, detail)| (class == 5).then_some((subject, detail)))
    };
    let mut code = enhanced.and_then(permanent);
    if matches!(code, None | Some((0, 0))) {
        code = bracketed_code(words).and_then(permanent).or(code);
    }
    match code {
        Some((1, detail)) => !matches!(detail, 7 | 8),
        // The mailbox disabled (5.2.1), or its status undefined; not full
        // (5.2.2: space may be freed), a message too big (5.2.3) or a list
        // that could not be expanded (5.2.4): that message fails, the
        // address is not bad.
        Some((2, detail)) => matches!(detail, 0 | 1),
        Some((0, 0)) | None => {
            matches!(reply, Some(550 | 551 | 553))
                && match stage {
                    Stage::Recipient => !speaks_of_the_relay(words),
                    // (a refusal of the message, the recipient taken: a
                    // filter's, a policy's, unless it says otherwise)
                    Stage::Message | Stage::Report => names_an_unknown_mailbox(words),
                }
        }
        Some(_) => false,
    }
}

/// Whether a permanent failure's enhanced code (`5.2.2`) says this message
/// cannot go to the recipient's mailbox as it is (full, too big, a list
/// not expanded: 5.2.2 to 5.2.4), which fails that message alone: neither
/// the address bad nor the relay refusing.
pub fn about_the_mailbox(enhanced: Option<&str>) -> bool {
    matches!(enhanced.and_then(enhanced_code), Some((5, 2, 2..=4)))
}

/// qmail's enhanced code, in brackets at the end of its words: `553 sorry,
/// that domain isn't in my list of allowed rcpthosts (#5.7.1)` → `5.7.1`.
fn bracketed_code(words: &str) -> Option<&str> {
    let (_, after) = words.rsplit_once("(#")?;
    after.split_once(')').map(|(code, _)| code)
}

/// Whether a bare refusal's words, addresses (`<…>`) left out, speak of
/// the relay's own refusal (relaying, authentication, verifying cpor's
/// sender, a block list) and not of the recipient: `550 relay not
/// permitted`, `550 Authentication required`, Exim's `550 Unrouteable
/// address … Sender verify failed`, `550 rejected because 192.0.2.1 is in a
/// black list`. Words that say the user or mailbox is unknown win (Postfix
/// without enhanced codes: `550 <x>: Recipient address rejected: User
/// unknown in relay recipient table`).
fn speaks_of_the_relay(words: &str) -> bool {
    let outside = outside_addresses(words);
    let has = |phrases: &[&str]| phrases.iter().any(|p| outside.contains(p));
    if has(UNKNOWN_MAILBOX) {
        return false;
    }
    // Whole words, so that a host name (`relay1.example`) is no reason.
    let relay_words = outside
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| matches!(w, "relay" | "relaying" | "relayed" | "relays"));
    relay_words
        || has(&[
            "authenticat",
            "sender verify",
            "sender verification",
            "black list",
            "blacklist",
            "block list",
            "blocklist",
            "dnsbl",
        ])
}

/// Words that say the recipient's mailbox is unknown or bad.
const UNKNOWN_MAILBOX: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "mailbox unavailable",
    "mailbox not found",
    "mailbox name not allowed",
    "no mailbox",
    "unknown recipient",
    "recipient unknown",
    "does not exist",
];

/// Whether words that say an address is unrouteable also speak of the
/// relay's own checks (Exim's `Unrouteable address (Sender verify
/// failed)`: cpor's sender, not the recipient).
fn speaks_of_the_relay_besides_routing(words: &str) -> bool {
    outside_addresses(words).contains("sender verify")
}

/// Whether a refusal's words, addresses left out, name an unknown or bad
/// mailbox (`User unknown`, `No such user here`).
fn names_an_unknown_mailbox(words: &str) -> bool {
    let outside = outside_addresses(words);
    UNKNOWN_MAILBOX.iter().any(|p| outside.contains(p))
}

/// A refusal's words, lower-cased, without the addresses in `<…>` (an
/// address that holds a word is no reason).
fn outside_addresses(words: &str) -> String {
    let mut outside = String::with_capacity(words.len());
    let mut depth = 0u32;
    for ch in words.chars() {
        match ch {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => outside.extend(ch.to_lowercase()),
            _ => {}
        }
    }
    outside
}

/// Reads one message. An auto-reply or any message that is not a delivery
/// report gives no bounce at all.
pub fn parse(raw: &[u8]) -> Vec<Bounce> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut to: Vec<String> = ["Delivered-To", "X-Original-To", "Envelope-To", "To"]
        .iter()
        .flat_map(|name| message.header_values(*name))
        .flat_map(|v| {
            v.as_address()
                .map(|a| {
                    a.iter()
                        .filter_map(|a| a.address())
                        .map(str::to_lowercase)
                        .collect::<Vec<_>>()
                })
                .or_else(|| v.as_text().map(|t| vec![clean_address(t)]))
                .unwrap_or_default()
        })
        .filter(|a| !a.is_empty())
        .collect();
    to.sort();
    to.dedup();

    let mut status_text: Option<String> = None;
    let mut original_id: Option<String> = None;
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let (kind, sub) = (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
        );
        match (kind.as_str(), sub.as_str(), &part.body) {
            ("message", "delivery-status" | "global-delivery-status", body) => {
                status_text = Some(match body {
                    PartType::Text(t) => t.to_string(),
                    _ => String::from_utf8_lossy(part.contents()).into_owned(),
                });
            }
            ("message", "rfc822" | "global", PartType::Message(m)) => {
                original_id = original_id.or(m.message_id().map(|id| format!("<{id}>")));
            }
            ("text", "rfc822-headers", _) | ("message", "rfc822-headers", _) => {
                let text = String::from_utf8_lossy(part.contents()).into_owned();
                original_id = original_id.or(field(&text, "Message-ID").map(|v| v.to_string()));
            }
            _ => {}
        }
    }

    let Some(status_text) = status_text else {
        // No DSN: an old-style bounce may still name its recipients, and
        // its text what the remote server said of each.
        let failed: Vec<String> = message
            .header_values("X-Failed-Recipients")
            .filter_map(|v| v.as_text())
            .flat_map(|t| t.split(','))
            .map(clean_address)
            .filter(|a| a.contains('@'))
            .collect();
        let text = plain_text(&message);
        return failed
            .iter()
            .map(|recipient| Bounce {
                recipient: recipient.clone(),
                action: Action::Failed,
                status: None,
                unreadable_status: None,
                diagnostic: quoted_reply(&text, recipient, &failed),
                message_id: original_id.clone(),
                to: to.clone(),
            })
            .collect();
    };

    let blocks = blocks(&status_text);
    let per_message = blocks.first().cloned().unwrap_or_default();
    // The per-message block comes first; a report without one starts with
    // a recipient's (which names its recipient and action), and that one
    // is read too.
    let skip = usize::from(
        lookup(&per_message, "Final-Recipient").is_none()
            && lookup(&per_message, "Action").is_none(),
    );
    // Gmail and others name the original in the per-message block.
    let id_from_report = ["X-Original-Message-ID", "Original-Message-ID"]
        .iter()
        .find_map(|name| lookup(&per_message, name))
        .map(|v| v.trim().to_string());
    let message_id = original_id.or(id_from_report).map(|id| {
        let id = id.trim();
        if id.starts_with('<') {
            id.to_string()
        } else {
            format!("<{id}>")
        }
    });
    blocks
        .iter()
        .skip(skip)
        .filter_map(|fields| {
            let recipient = lookup(fields, "Final-Recipient")
                .or_else(|| lookup(fields, "Original-Recipient"))
                .map(address_field)?;
            let action = match lookup(fields, "Action")?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "failed" => Action::Failed,
                "delayed" => Action::Delayed,
                "delivered" => Action::Delivered,
                "relayed" => Action::Relayed,
                "expanded" => Action::Expanded,
                _ => return None,
            };
            // (one that cannot be read, `5.7`, is none: its words decide)
            let given = lookup(fields, "Status").map(str::trim);
            let status = given.and_then(|s| {
                let code = s.split_whitespace().next()?;
                enhanced_code(code).map(|_| code.to_string())
            });
            let unreadable_status = given
                .filter(|s| status.is_none() && !s.is_empty())
                .map(|s| s.chars().take(40).collect());
            Some(Bounce {
                recipient,
                action,
                status,
                unreadable_status,
                diagnostic: lookup(fields, "Diagnostic-Code").map(|d| d.trim().to_string()),
                message_id: message_id.clone(),
                to: to.clone(),
            })
        })
        .collect()
}

/// The plain text a message tells its reader in (an old-style bounce's
/// explanation), its parts apart by a blank line; not a returned message's.
fn plain_text(message: &mail_parser::Message) -> String {
    let mut text = String::new();
    for part in &message.parts {
        let plain = part.content_type().is_none_or(|ct| {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        });
        if let (true, PartType::Text(t)) = (plain, &part.body) {
            text.push_str(t);
            text.push_str("\n\n");
        }
    }
    text
}

/// The header blocks of a `message/delivery-status` body: fields separated
/// by blank lines, continuation lines folded back in.
fn blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !block.is_empty() {
                out.push(std::mem::take(&mut block));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = block.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if !block.is_empty() {
        out.push(block);
    }
    out
}

fn lookup<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A header field's value in a block of raw headers (unfolded).
fn field<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `rfc822; User@Example.com` → `user@example.com`.
fn address_field(value: &str) -> String {
    let v = value.split_once(';').map_or(value, |(_, a)| a);
    clean_address(v)
}

fn clean_address(v: &str) -> String {
    v.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Vec<Bounce> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/support/dsn")
            .join(name);
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse(&raw)
    }

    /// One check per MTA's format: who failed, how, and which of our
    /// messages it was.
    fn check(name: &str, recipient: &str, status: &str, to: &str) {
        let got = sample(name);
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        let b = &got[0];
        assert_eq!(b.recipient, recipient, "{name}");
        assert_eq!(b.status.as_deref(), Some(status), "{name}");
        assert_eq!(b.fate(), Fate::BadAddress, "{name}");
        assert_eq!(
            b.message_id.as_deref(),
            Some("<20261124.digest.0f3a9c1b2d4e5f607182@cpor.example.tw>"),
            "{name}"
        );
        assert!(b.to.iter().any(|t| t == to), "{name}: {:?}", b.to);
        assert!(
            b.diagnostic.as_deref().is_some_and(|d| d.contains("550")),
            "{name}"
        );
    }

    /// Which refusals flag the address: the enhanced code first; without
    /// one, qmail's bracketed code; without that, 550, 551 or 553 unless
    /// the words speak of relaying or authentication.
    #[test]
    fn a_refusal_flags_the_address_only_when_it_says_the_address_is_bad() {
        let cases: [(Option<&str>, u16, &str, bool); 20] = [
            (Some("5.1.1"), 550, "5.1.1 no such mailbox", true),
            (Some("5.2.1"), 550, "5.2.1 The email account that you tried to reach is disabled", true),
            // A review of the outbox (2026-12-06): a full mailbox, or one
            // message too big, flagged the address, and every later mail to
            // it (reminders too) was suppressed until a clerk's new grant:
            // the message fails, the address stays.
            (Some("5.2.2"), 552, "5.2.2 The email account that you tried to reach is over quota", false),
            (Some("5.2.3"), 552, "5.2.3 message length exceeds administrative limit", false),
            (Some("5.2.4"), 550, "5.2.4 mailing list expansion problem", false),
            (Some("5.1.8"), 553, "5.1.8 bad sender domain", false),
            (Some("5.7.1"), 550, "5.7.1 Relaying denied", false),
            (None, 550, "<a@example.com>... User unknown", true),
            (None, 553, "mailbox name not allowed", true),
            (Some("5.0.0"), 550, "5.0.0 no such user", true),
            (None, 550, "relay not permitted", false),
            (None, 550, "Authentication required", false),
            (
                None,
                553,
                "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
                false,
            ),
            (
                None,
                550,
                "sorry, no mailbox here by that name. (#5.1.1)",
                true,
            ),
            // An address that holds the word is no reason.
            (None, 550, "<relay@example.com>: User unknown", true),
            // Exim verifying cpor's sender; a block list: the relay's.
            (None, 550, "Unrouteable address (Sender verify failed)", false),
            (None, 550, "rejected because 192.0.2.1 is in a black list at zen.example", false),
            // Postfix without enhanced codes: the user is unknown, whatever
            // table it looked in; a host named relay1 is no reason.
            (None, 550, "<x@example.com>: Recipient address rejected: User unknown in relay recipient table", true),
            (None, 550, "mailbox on relay1.example.net does not exist", true),
            (None, 550, "no route via relay1.example.net", true),
        ];
        for (enhanced, reply, words, bad) in cases {
            assert_eq!(
                says_the_address_is_bad(enhanced, Some(reply), words, Stage::Recipient),
                bad,
                "{reply} {words}"
            );
        }
        assert!(!says_the_address_is_bad(
            None,
            Some(554),
            "no",
            Stage::Recipient
        ));
        // A review of delivery and bounces (the forty-fifth session): a bare
        // refusal of the message (after DATA, or in a report: 5.0.0) is
        // about the message unless its words name an unknown mailbox. Exim
        // without enhanced codes refusing a digest as spam flagged the
        // address, its later mail suppressed and the clerks told it was bad.
        for stage in [Stage::Message, Stage::Report] {
            for (enhanced, reply, words, bad) in [
                (None, 550, "Administrative prohibition", false),
                (
                    None,
                    550,
                    "This message was classified as SPAM and may not be delivered",
                    false,
                ),
                (
                    Some("5.0.0"),
                    550,
                    "smtp; 550 Message rejected as spam by Content Filtering",
                    false,
                ),
                (None, 553, "mailbox name not allowed", true),
                (None, 550, "<a@example.com>... User unknown", true),
                (Some("5.0.0"), 550, "smtp; 550 No such user here", true),
                (Some("5.1.1"), 550, "5.1.1 no such mailbox", true),
                (
                    None,
                    550,
                    "sorry, no mailbox here by that name. (#5.1.1)",
                    true,
                ),
            ] {
                assert_eq!(
                    says_the_address_is_bad(enhanced, Some(reply), words, stage),
                    bad,
                    "{stage:?}: {reply} {words}"
                );
            }
        }
        for (code, mailbox) in [
            ("5.2.2", true),
            ("5.2.3", true),
            ("5.2.4", true),
            ("5.2.1", false),
            ("5.7.1", false),
            ("4.2.2", false),
        ] {
            assert_eq!(about_the_mailbox(Some(code)), mailbox, "{code}");
        }
    }

    #[test]
    fn postfix() {
        check(
            "postfix.eml",
            "nobody@example.net",
            "5.1.1",
            "bounces+1042.6b1f0c2ad93e4a57@cpor.example.tw",
        );
    }

    #[test]
    fn exim() {
        check(
            "exim.eml",
            "gone@lawfirm.example.com",
            "5.0.0",
            "bounces+1043.0d9f3a1c6e2b7f48@cpor.example.tw",
        );
    }

    #[test]
    fn microsoft_365() {
        check(
            "microsoft365.eml",
            "chen@contoso.example.com",
            "5.1.10",
            "bounces+1044.9a8b7c6d5e4f3021@cpor.example.tw",
        );
    }

    #[test]
    fn gmail() {
        check(
            "gmail.eml",
            "wang.xiaoming.typo@gmail.com",
            "5.1.1",
            "bounces+1045.1122334455667788@cpor.example.tw",
        );
    }

    /// A review of the mail (2026-12-05): the first block was always taken
    /// for the per-message one, so a report without it lost its only
    /// recipient ("not a delivery report").
    #[test]
    fn a_report_without_its_per_message_block_still_names_its_recipient() {
        let raw = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/support/dsn/postfix.eml"),
        )
        .unwrap();
        let start = raw.find("Reporting-MTA:").unwrap();
        let end = raw.find("Final-Recipient:").unwrap();
        let without = format!("{}{}", &raw[..start], &raw[end..]);
        let got = parse(without.as_bytes());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].recipient, "nobody@example.net");
        assert_eq!(got[0].fate(), Fate::BadAddress);
    }

    /// The delivery-report review of the fifty-third session (its 1): a
    /// report whose Status could not be read (`5.7`, `permanent`) or was
    /// missing, and an old-style bounce (`X-Failed-Recipients` and a text),
    /// flagged its address whatever its words said: a digest refused as
    /// spam, or a full mailbox, stopped every later mail to the address
    /// and told the clerks it was bad. Such a report is read by its words
    /// (the Diagnostic-Code, or the reply the text quotes), by the one rule
    /// (`says_the_address_is_bad`); words that do not say the address is
    /// bad, or none, fail the message alone.
    #[test]
    fn a_report_without_a_readable_status_is_read_by_its_words() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/dsn");
        let postfix = std::fs::read_to_string(dir.join("postfix.eml")).unwrap();
        let (start, end) = (
            postfix.find("Status: 5.1.1").unwrap(),
            postfix.find("virtual mailbox table\r\n\r\n").unwrap() + "virtual mailbox table".len(),
        );
        let spam = "smtp; 550 5.7.1 Message rejected as spam by Content Filtering";
        for (fields, fate) in [
            (format!("Status: 5.7\r\nDiagnostic-Code: {spam}"), Fate::Failed),
            (
                "Status: permanent\r\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full".into(),
                Fate::Failed,
            ),
            (format!("Diagnostic-Code: {spam}"), Fate::Failed),
            ("Status: permanent".into(), Fate::Failed),
            (
                "Status: 5.1\r\nDiagnostic-Code: X-Postfix; delivery to mailbox failed".into(),
                Fate::Failed,
            ),
            (
                "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address\r\n    rejected: User unknown".into(),
                Fate::BadAddress,
            ),
            (
                "Status: 5.7\r\nDiagnostic-Code: smtp; 550 No such user here".into(),
                Fate::BadAddress,
            ),
            (
                "Status: 5\r\nDiagnostic-Code: smtp; host mx1.example.net said: 550-5.1.1 The email account that you tried to reach does not exist".into(),
                Fate::BadAddress,
            ),
        ] {
            let raw = format!("{}{fields}{}", &postfix[..start], &postfix[end..]);
            let got = parse(raw.as_bytes());
            assert_eq!(got.len(), 1, "{fields}: {got:?}");
            assert_eq!(got[0].status, None, "{fields}");
            assert_eq!(got[0].fate(), fate, "{fields}");
        }

        let legacy = std::fs::read_to_string(dir.join("exim-legacy.eml")).unwrap();
        let reply = "550 5.1.1 User unknown";
        assert!(legacy.contains(reply));
        for (said, fate) in [
            ("550 Message rejected as spam", Fate::Failed),
            ("550 5.7.1 Message rejected as spam", Fate::Failed),
            ("552 5.2.2 Mailbox full", Fate::Failed),
            ("retry timeout exceeded", Fate::Failed),
            (reply, Fate::BadAddress),
            ("550 No such user here", Fate::BadAddress),
            (
                "550-5.1.1 The email account that you tried to reach does not exist",
                Fate::BadAddress,
            ),
            // Words with no reply code at all, as Exim's own failures say
            // them (the review of the session's change: before, every
            // old-style bounce flagged; after the fix above, none of these).
            ("Unknown user", Fate::BadAddress),
            ("No Such User Here", Fate::BadAddress),
            ("Unrouteable address", Fate::BadAddress),
            ("Message rejected as spam", Fate::Failed),
            ("Unrouteable address (Sender verify failed)", Fate::Failed),
        ] {
            let got = parse(legacy.replace(reply, said).as_bytes());
            assert_eq!(got.len(), 1, "{said}: {got:?}");
            assert_eq!(got[0].fate(), fate, "{said}");
        }

        // Two recipients in one old-style bounce: each is read by its own
        // words, not the first reply in the text.
        let two = legacy
            .replace(
                "X-Failed-Recipients: old@lawfirm.example.com",
                "X-Failed-Recipients: spam@example.net, old@lawfirm.example.com",
            )
            .replace(
                "failed:\r\n\r\n",
                "failed:\r\n\r\n  spam@example.net\r\n    SMTP error from remote mail server after end of data:\r\n    host mx.example.net [192.0.2.46]: 550 Message rejected as spam\r\n\r\n",
            );
        let got = parse(two.as_bytes());
        let fates: Vec<(&str, Fate)> = got
            .iter()
            .map(|b| (b.recipient.as_str(), b.fate()))
            .collect();
        assert_eq!(
            fates,
            [
                ("spam@example.net", Fate::Failed),
                ("old@lawfirm.example.com", Fate::BadAddress)
            ],
            "{got:?}"
        );
    }

    #[test]
    fn a_delay_is_not_a_bounce() {
        let got = sample("postfix-delayed.eml");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, Action::Delayed);
        assert_eq!(got[0].status.as_deref(), Some("4.4.1"));
        assert_eq!(got[0].fate(), Fate::NotFailed);
    }

    #[test]
    fn an_old_exim_bounce_without_a_report_still_names_its_recipient() {
        let got = sample("exim-legacy.eml");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].recipient, "old@lawfirm.example.com");
        assert_eq!(got[0].fate(), Fate::BadAddress);
        assert_eq!(
            got[0].message_id.as_deref(),
            Some("<20261124.approval.aa55aa55aa55aa55aa55@cpor.example.tw>")
        );
    }

    #[test]
    fn an_auto_reply_is_ignored() {
        assert!(sample("auto-reply.eml").is_empty());
        assert!(parse(b"not a message at all").is_empty());
    }
}
