//! The website's own mail: a password reset link, and the notice that a
//! password was changed. The website queues them in the same outbox as the
//! nightly mail (so they share its durability, retries and Message-IDs) and
//! delivers them at once with `send::send_website`.
//!
//! Several can go to one address in a day, so each has its own reference in
//! the outbox key (night = the Taipei day, address, kind, ref).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use schemas::date::{compact, roc_taipei, taipei_date};
use store::secret::random_bytes;

use crate::config::MailSettings;
use crate::kind::Scope;
use crate::outbox::{self, NewItem, OutboxError};
use crate::render::{message, RenderError, View};

/// The website's kinds of mail: `Kind::Reset` (a link to set a new
/// password) and `Kind::Changed` (the password was changed).
pub use crate::kind::Kind as WebMail;

/// Why a website mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum WebMailError {
    #[error("a {0} mail is not one the website sends")]
    NotWebsite(WebMail),
    #[error("a message reference: {0}")]
    Random(#[source] std::io::Error),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// The text and HTML bodies of a website mail.
pub fn bodies(kind: WebMail, view: &View) -> Result<(String, String), askama::Error> {
    kind.bodies(view)
}

/// The view of a website mail to `email`: `link` is what the mail is
/// about, `when` the Taipei time it names (until when the link works, or
/// when the password changed), as `115/11/24 14:05`; `cfg` says the
/// site's nightly pause.
pub fn view(
    cfg: &MailSettings,
    kind: WebMail,
    email: &str,
    link: &str,
    when: DateTime<Utc>,
) -> View {
    let shown = roc_taipei(when);
    View {
        subject: kind.subject(&[]),
        email: email.to_string(),
        cases: Vec::new(),
        site: String::new(),
        link: link.to_string(),
        expires: shown.clone(),
        night: shown,
        unsubscribe: String::new(),
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
        maintenance: cfg.maintenance.said(),
    }
}

/// The view of the link mailer's mail to an address whose account is not
/// activated: the reset mail's kind (its outbox key and sender), said as
/// what it is, a link to activate the account.
pub fn activation_link_view(
    cfg: &MailSettings,
    email: &str,
    link: &str,
    when: DateTime<Utc>,
) -> View {
    let mut v = view(cfg, WebMail::Reset, email, link, when);
    v.not_activated = true;
    v.subject = format!("{}啟用帳號連結", crate::kind::SUBJECT_PREFIX);
    v
}

/// Renders a website mail and queues it for delivery now. Returns the
/// item's Message-ID.
pub fn queue(
    outbox: &Connection,
    cfg: &MailSettings,
    kind: WebMail,
    view: &View,
    now: DateTime<Utc>,
) -> Result<String, WebMailError> {
    if kind.scope() != Scope::Website {
        return Err(WebMailError::NotWebsite(kind));
    }
    let from = &cfg.from;
    let reference = schemas::hex(&random_bytes::<8>().map_err(WebMailError::Random)?);
    let day = taipei_date(now);
    let message_id = format!(
        "<{}.{}.{reference}@{}>",
        compact(day),
        kind.as_str(),
        from.email.domain()
    );
    let (text, html) = kind.bodies(view).map_err(RenderError::from)?;
    let message = message(
        view,
        text,
        html,
        from,
        &message_id,
        SystemTime::from(now),
        false,
    )?;
    let item = NewItem {
        email: view.email.clone(),
        kind,
        message_id: message_id.clone(),
        subject: view.subject.clone(),
        // As sent, not packed: see `Packed::plain`.
        message: outbox::Packed::plain(message),
        cases: 0,
        case_keys: Vec::new(),
        behind: None,
    };
    outbox::queue_website(outbox, &item, day, &reference, now)?;
    Ok(message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden files of both kinds, like the nightly kinds' (UPDATE_GOLDEN=1
    /// rewrites them).
    #[test]
    fn website_mail_matches_its_golden_files() {
        let when = DateTime::parse_from_rfc3339("2026-11-24T06:35:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for (kind, link) in [
            (
                WebMail::Reset,
                "http://localhost:8080/reset?token=0123456789abcdef",
            ),
            (WebMail::Changed, "http://localhost:8080/forgot"),
            (
                WebMail::Reset,
                "http://localhost:8080/activate?token=0123456789abcdef",
            ),
        ] {
            let cfg = MailSettings::default();
            let v = if link.contains("/activate") {
                activation_link_view(&cfg, "wang.ming@example.com", link, when)
            } else {
                view(&cfg, kind, "wang.ming@example.com", link, when)
            };
            let name = if v.not_activated {
                "reset-activation"
            } else {
                kind.as_str()
            };
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(text.contains("115/11/24 14:35"), "{text}");
            assert!(text.contains(link), "{text}");
            for (ext, got) in [("txt", text), ("html", html)] {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../tests/golden/mail/{name}.{ext}"));
                if std::env::var_os("UPDATE_GOLDEN").is_some() {
                    std::fs::write(&path, &got).unwrap();
                }
                let want = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(got, want, "{} differs from its golden file", path.display());
            }
        }
    }
}
