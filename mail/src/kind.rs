//! The kinds of mail, nightly and website, in one type: how the outbox
//! names each, which sender delivers it (`Scope`), its subject and its
//! text + HTML template pair.

use askama::Template;

use crate::render::{CaseView, Contents, Ended, View};

/// What every subject cpor sends starts with, whatever its kind: the
/// service's name, so that one mail filter finds all of it (the mail walk's
/// F13: activations, digests and reminders had three different prefixes).
pub const SUBJECT_PREFIX: &str = "【案件進度查詢】";

/// The kinds of mail, as the outbox names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A new grant to an address without an activated account: a link to
    /// set a password.
    Activation,
    /// A new grant to an activated account.
    Approval,
    /// News on the cases an address already followed.
    Digest,
    /// A followed case about to stop being queryable.
    Expiry,
    /// Hearings coming in `mail.reminder_days` days (7 and 1): one a day
    /// per address, covering all its hearings due that day, each with its
    /// calendar file. Keyed by the Taipei day it is sent on.
    Reminder,
    /// The website's link to set a new password; `link` and `expires` (a
    /// time of day).
    Reset,
    /// The website's notice that a password was changed; `link` is the
    /// forgot-password page.
    Changed,
}

/// Which items a sender delivers. The nightly mail is `cpor-etl send`'s,
/// within the send window; the website's own mail (reset links, "password
/// changed") is the website's, at once: a reset link that works for 30
/// minutes cannot wait for 07:00. Each sender only ever touches its own
/// kinds, so the two never deliver (or recover) one another's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Nightly,
    Website,
}

impl Scope {
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| k.scope() == self)
    }
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Activation,
        Kind::Approval,
        Kind::Digest,
        Kind::Expiry,
        Kind::Reminder,
        Kind::Reset,
        Kind::Changed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Activation => "activation",
            Kind::Approval => "approval",
            Kind::Digest => "digest",
            Kind::Expiry => "expiry",
            Kind::Reminder => "reminder",
            Kind::Reset => "reset",
            Kind::Changed => "changed",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Who delivers it: `cpor-etl send` (the nightly import's kinds) or the
    /// website.
    pub fn scope(self) -> Scope {
        match self {
            Kind::Activation | Kind::Approval | Kind::Digest | Kind::Expiry | Kind::Reminder => {
                Scope::Nightly
            }
            Kind::Reset | Kind::Changed => Scope::Website,
        }
    }

    /// Whether an address flagged after a bounce goes without it: the
    /// nightly kinds. Not the website's: a reset link is what the person
    /// asked for (the best sign the mailbox works again), and "password
    /// changed" warns them.
    pub fn held_back_by_flag(self) -> bool {
        self.scope() == Scope::Nightly
    }

    /// Whether it tells of a new grant (sent even to a flagged address: the
    /// grant clears the flag).
    pub fn is_grant(self) -> bool {
        matches!(self, Kind::Activation | Kind::Approval)
    }

    /// The subject: the case when there is one, else how many (the
    /// website's kinds have one subject each).
    pub fn subject(self, cases: &[CaseView]) -> String {
        self.subject_with(cases, Slant::News)
    }

    /// The subject, a digest's put as `slant` says: every kind's after
    /// [`SUBJECT_PREFIX`].
    pub fn subject_with(self, cases: &[CaseView], slant: Slant) -> String {
        let one = (cases.len() == 1).then(|| cases[0].title.as_str());
        let n = cases.len();
        // A digest without news (of hearing corrections, a withdrawn entry;
        // of cases newly assigned or back, their latest entries not news)
        // says what it has instead.
        let listed = Contents::of(cases);
        let instead = (self == Kind::Digest && !listed.news)
            .then(|| {
                let corrections = listed.corrections.then_some("庭期更正");
                match (corrections, listed.others()) {
                    (Some(c), Some(o)) => Some(format!("{c}或{o}")),
                    (c, o) => o.or(c.map(String::from)),
                }
            })
            .flatten();
        // (asked only of a grant's mail, the one kind that says it)
        let last_day = || cases.iter().find_map(|c| c.last_day.as_deref());
        let ending = match (self.is_grant().then(last_day).flatten(), one) {
            (None, _) => String::new(),
            (Some(day), Some(_)) => format!("，將於 {day} 後停止查詢"),
            (Some(_), None) => "，含即將停止查詢的案件".into(),
        };
        let what = match (self, one) {
            // To an address that keeps only reminders: its cases'
            // hearings have changed.
            // (tagged as the reminders are: a filter on 庭期提醒 finds it)
            (Kind::Digest, Some(t)) if slant == Slant::ForReminders => {
                format!("庭期提醒：{t} 庭期異動")
            }
            (Kind::Digest, None) if slant == Slant::ForReminders => {
                format!("庭期提醒：您關注的 {n} 件案件庭期異動")
            }
            // No news: what it has instead (a hearing among cases newly
            // assigned or back is no change).
            (Kind::Digest, Some(t)) if instead.is_some() => {
                format!("{t} {}", instead.as_deref().unwrap_or_default())
            }
            // (cases newly assigned to a prosecutor are not "followed")
            (Kind::Digest, None) if instead.as_deref() == Some("新列為您承辦") => {
                format!("{n} 件案件新列為您承辦")
            }
            (Kind::Digest, None) if instead.is_some() => {
                format!(
                    "您關注的 {n} 件案件{}",
                    instead.as_deref().unwrap_or_default()
                )
            }
            // News that moves or cancels a hearing: the change first, since
            // a date a follower has in mind no longer holds.
            (Kind::Digest, Some(t)) if slant == Slant::HearingsChanged => {
                format!("{t} 庭期異動")
            }
            (Kind::Digest, None) if slant == Slant::HearingsChanged => {
                format!("您關注的 {n} 件案件有新進行事項，含庭期異動")
            }
            // A grant's mail that lists a case ending soon stands for that
            // case's expiry warning (`Event::Covered`): its subject says so
            // as the warning's would.
            (Kind::Activation, Some(t)) => format!("請啟用帳號：{t} 已核准查詢{ending}"),
            (Kind::Activation, None) => format!("請啟用帳號：{n} 件案件已核准查詢{ending}"),
            (Kind::Approval, Some(t)) => format!("已核准查詢：{t}{ending}"),
            (Kind::Approval, None) => format!("已核准查詢 {n} 件案件{ending}"),
            (Kind::Digest, Some(t)) => format!("{t} 有新進行事項"),
            (Kind::Digest, None) => format!("您關注的 {n} 件案件有新進行事項"),
            // (a case past its last day when told of: it has stopped)
            (Kind::Expiry, Some(t)) if cases[0].ended.is_some() => format!("{t} 已停止查詢"),
            (Kind::Expiry, Some(t)) => {
                let day = cases[0].last_day.as_deref().unwrap_or("");
                format!("{t} 將於 {day} 後停止查詢")
            }
            (Kind::Expiry, None) if cases.iter().all(|c| c.ended.is_some()) => {
                format!("您關注的 {n} 件案件已停止查詢")
            }
            (Kind::Expiry, None) if cases.iter().any(|c| c.ended.is_some()) => {
                format!("您關注的 {n} 件案件即將或已經停止查詢")
            }
            (Kind::Expiry, None) => format!("您關注的 {n} 件案件即將停止查詢"),
            (Kind::Reminder, Some(t)) => format!("庭期提醒：{t} 即將開庭"),
            (Kind::Reminder, None) => format!("庭期提醒：您關注的 {n} 件案件即將開庭"),
            (Kind::Reset, _) => "重設密碼連結".into(),
            (Kind::Changed, _) => "您的密碼已變更".into(),
        };
        format!("{SUBJECT_PREFIX}{what}")
    }

    /// The text and HTML bodies of a mail of this kind.
    pub fn bodies(self, view: &View) -> Result<(String, String), askama::Error> {
        Ok(match self {
            Kind::Activation => (
                ActivationText(view).render()?,
                ActivationHtml(view).render()?,
            ),
            Kind::Approval => (ApprovalText(view).render()?, ApprovalHtml(view).render()?),
            Kind::Digest => (DigestText(view).render()?, DigestHtml(view).render()?),
            Kind::Expiry => (ExpiryText(view).render()?, ExpiryHtml(view).render()?),
            Kind::Reminder => (ReminderText(view).render()?, ReminderHtml(view).render()?),
            Kind::Reset => (ResetText(view).render()?, ResetHtml(view).render()?),
            Kind::Changed => (ChangedText(view).render()?, ChangedHtml(view).render()?),
        })
    }

    /// Whether its message offers RFC 8058 one-click unsubscribe (of
    /// digests, or of reminders: `View::unsubscribe` is the link).
    pub fn unsubscribe(self) -> bool {
        matches!(self, Kind::Digest | Kind::Reminder)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a digest's subject is put (`Kind::subject_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slant {
    /// Its news.
    News,
    /// Its news moves or cancels a hearing (`View::hearings_changed`).
    HearingsChanged,
    /// To an address that keeps only reminders (`View::for_reminders`).
    ForReminders,
}

/// Declares template structs over a `View`.
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
    ReminderText = "mail/reminder.txt";
    ReminderHtml = "mail/reminder.html";
    ResetText = "mail/reset.txt";
    ResetHtml = "mail/reset.html";
    ChangedText = "mail/changed.txt";
    ChangedHtml = "mail/changed.html";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_and_one_scope() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        let nightly: Vec<Kind> = Scope::Nightly.kinds().collect();
        let website: Vec<Kind> = Scope::Website.kinds().collect();
        assert_eq!(
            nightly,
            [
                Kind::Activation,
                Kind::Approval,
                Kind::Digest,
                Kind::Expiry,
                Kind::Reminder
            ]
        );
        assert_eq!(website, [Kind::Reset, Kind::Changed]);
        assert_eq!(Kind::parse("bounce"), None);
    }

    /// One mail filter on the service's name finds every mail: each kind's
    /// subject, of one case or several, and a digest's every slant, starts
    /// with it, once.
    #[test]
    fn every_subject_starts_with_the_services_name() {
        let case = |n: u32| {
            CaseView::new(&schemas::CaseRef {
                court: "TPD".into(),
                key: schemas::CaseKey {
                    category: "民事".into(),
                    year: 115,
                    word: "訴".into(),
                    number: n,
                },
            })
        };
        for cases in [vec![case(1)], vec![case(1), case(2)]] {
            for kind in Kind::ALL {
                for slant in [Slant::News, Slant::HearingsChanged, Slant::ForReminders] {
                    let subject = kind.subject_with(&cases, slant);
                    assert!(subject.starts_with(SUBJECT_PREFIX), "{subject}");
                    assert_eq!(subject.matches('【').count(), 1, "{subject}");
                    assert!(subject.chars().count() > SUBJECT_PREFIX.chars().count());
                    // What reminders-only addresses get is tagged as
                    // reminders are, and only that.
                    let reminders = kind == Kind::Reminder
                        || (kind == Kind::Digest && slant == Slant::ForReminders);
                    assert_eq!(subject.contains("庭期提醒："), reminders, "{subject}");
                }
            }
        }
    }
}
