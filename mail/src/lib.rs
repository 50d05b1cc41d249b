//! E-mail: the kinds of mail (`kind`: nightly and website, each with its
//! sender, subject and templates), how they read (`render`, the templates in
//! `mail/templates/mail/`; the website's views in `web`), the durable outbox
//! that holds every message from the moment it is queued and is the only
//! code that writes it (`outbox`, with its state machine), and delivery over
//! SMTP or as .eml files (`send`).
//!
//! This crate knows nothing of the courts' export format: the nightly import
//! (`etl`) decides who gets which mail and hands it here; the website
//! (`query-server`) queues its own kinds here too.

pub mod bounce;
pub mod config;
pub mod kind;
pub mod outbox;
pub mod render;
pub mod send;
pub mod verp;
pub mod web;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use sha2::Sha256;

use schemas::date::{compact, taipei, taipei_at};

pub use config::MailSettings;
pub use kind::{Kind, Scope};
/// An e-mail address as lettre checks it (a VERP address decoded,
/// `verp::decode`): callers need not depend on lettre, which is `mail`'s.
pub use lettre::Address;

/// Whether mail can be addressed to `address` as cpor sends it, and if not
/// why: an address lettre takes, all in ASCII (cpor's mail goes without
/// SMTPUTF8, RFC 6531: an address with `。` typed by a Chinese input
/// method, or a zero-width space pasted in, could be queued and never
/// sent). The nightly import asks it of every address a grant names, so
/// the common form is decided without lettre's parse.
pub fn mailable(address: &str) -> Result<(), String> {
    if plainly_mailable(address.as_bytes()) {
        return Ok(());
    }
    if let Some(c) = address.chars().find(|c| !c.is_ascii()) {
        let shown = c.escape_unicode();
        return Err(format!(
            "it holds `{c}` ({shown}), which is not ASCII: mail is sent to ASCII addresses only"
        ));
    }
    address
        .parse::<Address>()
        .map(|_| ())
        .map_err(|e| format!("it is not an address mail can be sent to ({e})"))
}

/// The common form, which lettre always takes: letters, digits and `._+-`
/// before one `@`, dot-separated atoms, and a host name of at least two
/// labels of letters, digits and inner hyphens, each 1 to 63 long. One
/// pass over the bytes: the import asks it of every grant's address.
fn plainly_mailable(a: &[u8]) -> bool {
    if a.len() > 254 {
        return false;
    }
    let mut at = false;
    // The byte before; a `.` at the start (and after `@`), so that an atom
    // or a label may not be empty.
    let mut prev = b'.';
    let (mut label, mut dots) = (0usize, 0u32);
    for (i, &b) in a.iter().enumerate() {
        match b {
            b'@' => {
                if at || prev == b'.' || i > 64 {
                    return false;
                }
                at = true;
                prev = b'.';
                continue;
            }
            b'.' => {
                if prev == b'.' || (at && prev == b'-') {
                    return false;
                }
                if at {
                    dots += 1;
                    label = 0;
                }
            }
            b'-' if at && prev == b'.' => return false,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => {
                if at {
                    label += 1;
                    if label > 63 {
                        return false;
                    }
                }
            }
            b'_' | b'+' if !at => {}
            _ => return false,
        }
        prev = b;
    }
    at && prev != b'.' && prev != b'-' && dots > 0
}

/// The Message-ID of an outbox item: derived from its key (night, address,
/// kind and reference, which is empty but for a night's re-run,
/// `outbox::NightQueue`), so a retry can be recognised; the address is
/// not shown but keyed-hashed, with the rest of the key, with the data
/// directory's secret `key` (a plain hash could be computed for a guessed
/// address, and would tie every message to one address wherever its
/// Message-ID travels; the address's alone let one Message-ID seen give
/// the next, to forge a delivery report with). Keyed once for a night's
/// many messages (the key's own two hash blocks are not worked out again
/// for each).
#[derive(Clone)]
pub struct MessageIds {
    keyed: Hmac<Sha256>,
}

impl MessageIds {
    pub fn new(key: &[u8]) -> MessageIds {
        let mut keyed = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        keyed.update(b"message-id\0");
        MessageIds { keyed }
    }

    /// The Message-ID of the item of this key.
    pub fn id(
        &self,
        night: NaiveDate,
        email: &str,
        kind: Kind,
        reference: &str,
        from: &Mailbox,
    ) -> String {
        let night = compact(night);
        let mut mac = self.keyed.clone();
        // The whole key: each message's hash its own, so that one
        // Message-ID seen (a forwarded digest) tells nothing of the next
        // (a forged delivery report naming it would flag the address).
        for part in [
            night.as_bytes(),
            kind.as_str().as_bytes(),
            reference.as_bytes(),
        ] {
            mac.update(part);
            mac.update(b"\0");
        }
        mac.update(email.as_bytes());
        let hash = schemas::hex(&mac.finalize().into_bytes()[..10]);
        let reference = if reference.is_empty() {
            String::new()
        } else {
            format!("{reference}.")
        };
        format!(
            "<{night}.{}.{reference}{hash}@{}>",
            kind.as_str(),
            from.email.domain()
        )
    }
}

/// When mail queued at `now` may go out: the next opening of the send
/// window (Asia/Taipei), or now if the window is open.
pub fn window_opening(now: DateTime<Utc>, start: NaiveTime, end: NaiveTime) -> DateTime<Utc> {
    let local = now.with_timezone(&taipei());
    let today = local.date_naive();
    let time = local.time();
    if time < start {
        taipei_at(today, start)
    } else if time < end {
        now
    } else {
        taipei_at(today + Duration::days(1), start)
    }
}

/// The characters a URL query value keeps as they are: RFC 3986's
/// unreserved set.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query value or path segment.
pub fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// A case's page on the site, after its address, percent-encoded:
/// `/cases/TPD/%E6%B0%91%E4%BA%8B/115/%E8%A8%B4/100` (snapshot ids change
/// from night to night; the key does not). The mail's links and the
/// website's routes (`query_server::routes::cases`) are the same address.
pub fn case_path(case: &schemas::CaseRef) -> String {
    format!(
        "/cases/{}/{}/{}/{}/{}",
        url_encode(&case.court),
        url_encode(&case.key.category),
        case.key.year,
        url_encode(&case.key.word),
        case.key.number
    )
}

/// The one-click unsubscribe link (RFC 8058) of a mailing to an address:
/// `/unsubscribe?email=…&token=…` for digests (as they always were), with
/// `&list=reminders` for hearing reminders.
pub fn unsubscribe_url(
    site: &str,
    key: &[u8],
    mailing: store::secret::Mailing,
    email: &str,
) -> String {
    let token = store::secret::unsubscribe_token(key, mailing, email);
    let list = match mailing {
        store::secret::Mailing::Digests => String::new(),
        other => format!("&list={}", other.as_str()),
    };
    format!(
        "{site}/unsubscribe?email={}&token={token}{list}",
        url_encode(email)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The shortcut never takes an address lettre would refuse.
        #[test]
        fn the_common_form_is_one_lettre_takes(a in "[a-zA-Z0-9._+@-]{1,12}(\\.[a-zA-Z0-9_-]{0,5}){0,2}") {
            if plainly_mailable(a.as_bytes()) {
                proptest::prop_assert!(a.parse::<Address>().is_ok(), "{}", a);
            }
        }
    }

    #[test]
    fn an_address_no_mail_can_reach_is_refused_with_its_reason() {
        for ok in [
            "wang.ming@example.com",
            "a+b@x.example.tw",
            "lawyer_chen@law-firm.com.tw",
        ] {
            assert!(plainly_mailable(ok.as_bytes()), "{ok}");
            assert_eq!(mailable(ok), Ok(()));
        }
        // Not the common form, but an address.
        assert_eq!(mailable("o'brien@example.com"), Ok(()));
        assert_eq!(mailable("x@[127.0.0.1]"), Ok(()));
        let why = |a: &str| mailable(a).unwrap_err();
        assert!(why("chen@example。com").contains("`。` (\\u{3002}), which is not ASCII"));
        assert!(why("chen\u{200b}@example.com").contains("\\u{200b}"));
        assert!(why("王小明@例子.台灣").contains("not ASCII"));
        for bad in [
            "lee..x@example.com",
            "x.@example.com",
            "x@example..com",
            "x@example.com.",
            "x@-a.com",
            "(x)y@example.com",
            "x@example.com;",
        ] {
            assert!(!plainly_mailable(bad.as_bytes()), "{bad}");
            assert!(
                why(bad).contains("not an address mail can be sent to"),
                "{bad}"
            );
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_window_is_in_taipei_time() {
        let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let (start, end) = (t("07:00"), t("21:00"));
        // 02:00 Taipei (18:00 UTC the day before): today's 07:00 Taipei.
        assert_eq!(
            window_opening(utc("2026-11-23T18:00:00Z"), start, end),
            utc("2026-11-23T23:00:00Z")
        );
        // 10:00 Taipei: now.
        assert_eq!(
            window_opening(utc("2026-11-24T02:00:00Z"), start, end),
            utc("2026-11-24T02:00:00Z")
        );
        // 22:00 Taipei: tomorrow's 07:00.
        assert_eq!(
            window_opening(utc("2026-11-24T14:00:00Z"), start, end),
            utc("2026-11-24T23:00:00Z")
        );
    }

    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(
            url_encode("wang.ming+x@example.com"),
            "wang.ming%2Bx%40example.com"
        );
        assert_eq!(url_encode("民事"), "%E6%B0%91%E4%BA%8B");
        assert_eq!(url_encode("a-b_c.d~e f"), "a-b_c.d~e%20f");
    }

    /// The mail walk (session 27): the address's hash was its plain
    /// SHA-256, which anyone can compute for an address they guess and
    /// which links every message to one address across the Message-IDs
    /// that travel on in replies and forwards. It is keyed with the data
    /// directory's secret.
    #[test]
    fn message_ids_are_stable_and_hide_the_address() {
        let from: Mailbox = "x <noreply@cpor.example>".parse().unwrap();
        let night = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let key = b"the data directory's secret key";
        let id = |email, kind, reference, key: &[u8]| {
            MessageIds::new(key).id(night, email, kind, reference, &from)
        };
        let a = id("a@example.com", Kind::Digest, "", key);
        assert_eq!(a, id("a@example.com", Kind::Digest, "", key));
        assert_ne!(a, id("a@example.com", Kind::Expiry, "", key));
        // A re-run's mail of the night: its own.
        let rerun = id("a@example.com", Kind::Digest, "build-2", key);
        assert_ne!(a, rerun);
        assert!(rerun.contains(".digest.build-2."), "{rerun}");
        assert!(
            a.starts_with("<20261124.digest.") && a.ends_with("@cpor.example>"),
            "{a}"
        );
        assert!(!a.contains("example.com."));
        use sha2::Digest;
        let plain = schemas::hex(&Sha256::digest(b"a@example.com")[..10]);
        assert!(!a.contains(&plain), "{a}");
        assert_ne!(a, id("a@example.com", Kind::Digest, "", b"another key"));
        // A review of delivery and bounces (the forty-fifth session): the
        // hash was the address's alone, the same in every message to it, so
        // anyone who had seen one (a forwarded digest) could write the
        // Message-ID of the next night's and forge a delivery report that
        // flagged the address, its mail stopped. Each message's is its own.
        let hash = |id: &str| id.rsplit('.').nth(1).unwrap().to_string();
        let night_after = MessageIds::new(key).id(
            night.succ_opt().unwrap(),
            "a@example.com",
            Kind::Digest,
            "",
            &from,
        );
        for other in [
            night_after,
            id("a@example.com", Kind::Expiry, "", key),
            rerun.clone(),
        ] {
            assert_ne!(hash(&a), hash(&other), "{a} {other}");
        }
    }
}
