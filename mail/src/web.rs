//! The website's own mail: a password reset link, and the notice that a
//! password was changed. The website queues them in the same outbox as the
//! nightly mail (so they share its durability, retries and Message-IDs) and
//! delivers them at once with `send::send_scope(.., Scope::Website, ..)`.
//!
//! Several can go to one address in a day, so each has its own reference in
//! the outbox key (night = the Taipei day, address, kind, ref).

use std::time::SystemTime;

use askama::Template;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use schemas::date::{compact, roc, taipei};
use store::secret::random_bytes;

use crate::config::MailSettings;
use crate::render::{message, templates, View};

/// The website's kinds of mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebMail {
    /// A link to set a new password; `link` and `expires` (a time of day).
    Reset,
    /// The password was changed; `link` is the forgot-password page.
    Changed,
}

impl WebMail {
    pub fn as_str(self) -> &'static str {
        match self {
            WebMail::Reset => "reset",
            WebMail::Changed => "changed",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            WebMail::Reset => "【案件進度查詢】重設密碼連結",
            WebMail::Changed => "【案件進度查詢】您的密碼已變更",
        }
    }
}

templates! {
    ResetText = "mail/reset.txt";
    ResetHtml = "mail/reset.html";
    ChangedText = "mail/changed.txt";
    ChangedHtml = "mail/changed.html";
}

/// The text and HTML bodies of a website mail.
pub fn bodies(kind: WebMail, view: &View) -> Result<(String, String), askama::Error> {
    Ok(match kind {
        WebMail::Reset => (ResetText(view).render()?, ResetHtml(view).render()?),
        WebMail::Changed => (ChangedText(view).render()?, ChangedHtml(view).render()?),
    })
}

/// The view of a website mail to `email`: `link` is what the mail is
/// about, `when` the Taipei time it names (until when the link works, or
/// when the password changed), as `115/11/24 14:05`.
pub fn view(kind: WebMail, email: &str, link: &str, when: DateTime<Utc>) -> View {
    let local = when.with_timezone(&taipei());
    let shown = format!("{} {}", roc(local.date_naive()), local.format("%H:%M"));
    View {
        subject: kind.subject().to_string(),
        email: email.to_string(),
        cases: Vec::new(),
        link: link.to_string(),
        expires: shown.clone(),
        night: shown,
        unsubscribe: String::new(),
        more: 0,
    }
}

/// Renders a website mail and queues it for delivery now. Returns the
/// item's Message-ID.
pub fn queue(
    outbox: &Connection,
    cfg: &MailSettings,
    kind: WebMail,
    view: &View,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let from = &cfg.from;
    let reference = schemas::hex(&random_bytes::<8>().map_err(|e| e.to_string())?);
    let day = compact(now.with_timezone(&taipei()).date_naive());
    let message_id = format!(
        "<{day}.{}.{reference}@{}>",
        kind.as_str(),
        from.email.domain()
    );
    let (text, html) = bodies(kind, view).map_err(|e| format!("template: {e}"))?;
    let message = message(
        view,
        text,
        html,
        from,
        &message_id,
        SystemTime::from(now),
        false,
    )?;
    let now_text = now.to_rfc3339();
    outbox
        .execute(
            "INSERT INTO items (night, email, kind, state, message_id, subject, message, cases,
             queued_at, not_before, ref) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, 0, ?7, ?7, ?8)",
            params![
                day,
                view.email,
                kind.as_str(),
                message_id,
                view.subject,
                message,
                now_text,
                reference
            ],
        )
        .map_err(|e| e.to_string())?;
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
        ] {
            let v = view(kind, "wang.ming@example.com", link, when);
            let (text, html) = bodies(kind, &v).unwrap();
            assert!(text.contains("115/11/24 14:35"), "{text}");
            assert!(text.contains(link), "{text}");
            for (ext, got) in [("txt", text), ("html", html)] {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../tests/golden/mail/{}.{ext}", kind.as_str()));
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
