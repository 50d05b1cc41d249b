//! Rendering e-mail: view models, one text + HTML template pair per kind
//! (askama, `etl/templates/mail/`, sharing a base with header and footer),
//! and the RFC 5322 message around them.
//!
//! Everything people read is Traditional Chinese with ROC dates. The subject
//! names the case when there is one. Private-use code points (user-defined
//! characters nobody mapped) never appear raw: they show as 〓.

use std::time::SystemTime;

use askama::Template;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::diff::CaseRef;
use crate::date::roc;
use crate::decode::GETA;
use crate::model::EntryData;

/// The kinds of mail, as the outbox names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Activation,
    Approval,
    Digest,
    Expiry,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Activation => "activation",
            Kind::Approval => "approval",
            Kind::Digest => "digest",
            Kind::Expiry => "expiry",
        }
    }
}

/// An entry as mail shows it.
#[derive(Debug, Clone)]
pub struct EntryView {
    pub posted: String,
    pub text: String,
    pub revised: bool,
}

/// A case as mail shows it.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// `臺灣臺北地方法院 民事 115年度訴字第100號`
    pub title: String,
    pub role: Option<String>,
    pub last_day: Option<String>,
    pub entries: Vec<EntryView>,
}

impl CaseView {
    pub fn new(case: &CaseRef) -> CaseView {
        let court = schemas::contract()
            .court(&case.court)
            .map_or(case.court.as_str(), |c| c.name.as_str());
        CaseView {
            title: clean(&format!("{court} {}", case.key)),
            role: None,
            last_day: None,
            entries: Vec::new(),
        }
    }

    pub fn entry(mut self, e: &EntryData, revised: bool) -> CaseView {
        self.entries.push(EntryView {
            posted: roc(e.posted),
            text: clean(&e.text),
            revised,
        });
        self
    }
}

/// Private-use code points shown as 〓 (defence in depth: the decoder
/// already maps unmapped user-defined characters so).
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if ('\u{E000}'..='\u{F8FF}').contains(&c) {
                GETA
            } else {
                c
            }
        })
        .collect()
}

/// Everything any template may show.
#[derive(Debug, Clone)]
pub struct View {
    pub subject: String,
    pub email: String,
    pub cases: Vec<CaseView>,
    /// The link the mail is about (activation, login).
    pub link: String,
    /// Until when an activation link works (ROC).
    pub expires: String,
    /// The night the data comes from (ROC).
    pub night: String,
    pub unsubscribe: String,
}

macro_rules! templates {
    ($($name:ident = $path:literal;)*) => {$(
        #[derive(Template)]
        #[template(path = $path)]
        struct $name<'a>(&'a View);

        impl std::ops::Deref for $name<'_> {
            type Target = View;
            fn deref(&self) -> &View {
                self.0
            }
        }
    )*};
}

templates! {
    ActivationText = "mail/activation.txt";
    ActivationHtml = "mail/activation.html";
    ApprovalText = "mail/approval.txt";
    ApprovalHtml = "mail/approval.html";
    DigestText = "mail/digest.txt";
    DigestHtml = "mail/digest.html";
    ExpiryText = "mail/expiry.txt";
    ExpiryHtml = "mail/expiry.html";
}

/// The subject: the case when there is one, else how many.
pub fn subject(kind: Kind, cases: &[CaseView]) -> String {
    let one = (cases.len() == 1).then(|| cases[0].title.as_str());
    let n = cases.len();
    match (kind, one) {
        (Kind::Activation, Some(t)) => format!("【案件進度查詢】請啟用帳號：{t} 已核准查詢"),
        (Kind::Activation, None) => format!("【案件進度查詢】請啟用帳號：{n} 件案件已核准查詢"),
        (Kind::Approval, Some(t)) => format!("【案件進度查詢】已核准查詢：{t}"),
        (Kind::Approval, None) => format!("【案件進度查詢】已核准查詢 {n} 件案件"),
        (Kind::Digest, Some(t)) => format!("【案件進度】{t} 有新進行事項"),
        (Kind::Digest, None) => format!("【案件進度】您關注的 {n} 件案件有新進行事項"),
        (Kind::Expiry, Some(t)) => {
            let day = cases[0].last_day.as_deref().unwrap_or("");
            format!("【案件進度】{t} 將於 {day} 後停止查詢")
        }
        (Kind::Expiry, None) => format!("【案件進度】您關注的 {n} 件案件即將停止查詢"),
    }
}

/// The text and HTML bodies of a mail.
pub fn bodies(kind: Kind, view: &View) -> Result<(String, String), askama::Error> {
    Ok(match kind {
        Kind::Activation => (
            ActivationText(view).render()?,
            ActivationHtml(view).render()?,
        ),
        Kind::Approval => (ApprovalText(view).render()?, ApprovalHtml(view).render()?),
        Kind::Digest => (DigestText(view).render()?, DigestHtml(view).render()?),
        Kind::Expiry => (ExpiryText(view).render()?, ExpiryHtml(view).render()?),
    })
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// RFC 8058: the unsubscribe link works with one POST, no page to click.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// A whole message, ready to store and send as it is.
pub struct Rendered {
    pub subject: String,
    pub message: Vec<u8>,
}

/// Renders one mail into an RFC 5322 message (multipart/alternative, text
/// first), with the given Message-ID and date.
pub fn render(
    kind: Kind,
    view: &View,
    from: &Mailbox,
    message_id: &str,
    date: SystemTime,
) -> Result<Rendered, String> {
    let (text, html) = bodies(kind, view).map_err(|e| format!("template: {e}"))?;
    let to: Mailbox = view
        .email
        .parse()
        .map_err(|e| format!("address `{}`: {e}", view.email))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(view.subject.clone())
        .message_id(Some(message_id.to_string()))
        .date(date);
    if kind == Kind::Digest {
        builder = builder
            .header(ListUnsubscribe(format!("<{}>", view.unsubscribe)))
            .header(ListUnsubscribePost);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("message: {e}"))?;
    Ok(Rendered {
        subject: view.subject.clone(),
        message: message.formatted(),
    })
}
