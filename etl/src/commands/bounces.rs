//! `cpor-etl bounces <MAILDIR>`: delivery reports that came back after the
//! relay accepted a message.
//!
//! Most failed deliveries are not refused at RCPT or DATA: the relay takes
//! the message and mails a report (RFC 3464) to the envelope sender days or
//! minutes later. The mailbox that receives them is delivered as a Maildir
//! (any MTA or `fetchmail`/`getmail` can do that); this command reads each
//! new message, finds the outbox item it is about and, for a permanent
//! failure, marks the item failed and flags the address, exactly as a 5xx
//! at DATA would have.
//!
//! Which item: the VERP address the report was sent to
//! (`mail.bounce_address`, `bounces+<id>.<tag>@…`), whose tag only we can
//! make, is authoritative. Without it, the original Message-ID is used, and
//! only if the report's recipient is the item's own address: a report
//! anyone can forge must not be able to silence someone else's mail. With
//! VERP on, a report that came without its tag changes nothing at all.
//!
//! A message is moved from `new/` to `cur/` (flagged seen, `:2,S`) only
//! after what it says is committed, so a killed run is simply run again.
//! The address to flag is recorded in the commit that fails the item,
//! then written to the accounts database (`mail::send::write_flags`): a
//! run stopped between the two leaves it for the next run (or the nightly
//! `send`) to write first, and report. Each report read is recorded
//! against its item with what it did (outbox migration 21; not while the
//! item is being sent, when it stays unread), so reading every report
//! again (`--all`) applies none twice: an item retried by an
//! administrator, and sent since, is not failed again by the report about
//! the attempt before.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use serde::Serialize;

use crate::commands::send::{courts_by_address, open_live};
use crate::config::Config;
use mail::bounce::{self, Bounce, Fate};
use mail::outbox::{Bounced, FlagsOf, Outbox, Reported};
use sha2::{Digest, Sha256};
use store::layout::Store;

/// What became of one recipient's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    /// Permanent failure of one of our items, the address bad: failed and
    /// flagged.
    Flagged,
    /// Not delivered, for a reason that says nothing of the address (a
    /// relay gave up after retrying, a refusal for policy): failed, not
    /// flagged.
    Failed,
    /// Permanent, but the item was already failed (a second report).
    AlreadyFailed,
    /// Read for its item before (`--all`): it did what it does then.
    ReadBefore,
    /// Came more than `REPORTS_COME_WITHIN` (10 days) after its item was
    /// last handed over: no relay was still trying it, and its VERP
    /// address is known to whoever saw the message. Nothing done; listed.
    TooOld,
    /// About mail not sent now (queued again, waiting, suppressed): an
    /// earlier attempt's; nothing changed.
    NotSentNow,
    /// About mail being sent now: left unread, for the next run.
    Sending,
    /// A delay or other news, not a failure.
    NotPermanent,
    /// About one of our items, but another recipient than its address (an
    /// address it forwards to, or one a relay rewrote it to): nothing
    /// done, listed for someone to look at.
    OtherRecipient,
    /// Names no item of ours, or a forged tag, or another recipient.
    Unmatched,
    /// A failure (the address bad or not), about one of our items, but
    /// with VERP on it came to the plain bounce address: matched only by
    /// the Message-ID it quotes, which anyone who saw the message (a
    /// forwarded digest) can quote. Nothing done; listed.
    Unverified,
}

#[derive(Serialize)]
struct Line {
    file: String,
    recipient: String,
    status: Option<String>,
    /// A `Status:` given that is not a status code (`5.7`).
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable_status: Option<String>,
    /// The remote server's words (an old-style bounce's: the reply its
    /// text quotes).
    diagnostic: Option<String>,
    verdict: Verdict,
    item: Option<i64>,
    /// The item's address (the report's recipient may be another).
    to: Option<String>,
    kind: Option<&'static str>,
    night: Option<String>,
    courts: Vec<String>,
    /// A report too old to trust: when it came, and when its message was
    /// last handed over (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    came: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_handed_over: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    at: String,
    maildir: String,
    messages: usize,
    not_reports: usize,
    counts: BTreeMap<&'a str, usize>,
    flagged_by_court: BTreeMap<String, Vec<String>>,
    lines: &'a [Line],
}

pub fn run(config: &Config, maildir: &Path, all: bool) -> Result<i32> {
    let store = Store::new(&config.data_dir);
    let new = maildir.join("new");
    let cur = maildir.join("cur");
    if !new.is_dir() {
        anyhow::bail!(
            "{} is not a Maildir (it has no new/ folder)",
            maildir.display()
        );
    }
    fs::create_dir_all(&cur).with_context(|| format!("creating {}", cur.display()))?;
    let mut files = messages_in(&new)?;
    if all {
        files.extend(messages_in(&cur)?);
    }

    let mut outbox = Outbox::open(&config.data_dir)?;
    let accounts = store::accounts::open(&config.data_dir)?;
    let verp = match &config.mail.bounce_address {
        Some(address) => Some((
            address.clone(),
            store::secret::load_or_create_key(&config.data_dir)?,
        )),
        None => None,
    };
    let courts_of = courts_by_address(open_live(&store));
    let now = Utc::now();

    // Flags another run recorded and had not written (one that stopped
    // between its two commits, or one under way): flagged now, by this run.
    let left = mail::send::write_flags(&mut outbox, &accounts, FlagsOf::All, now)?;
    let mut lines: Vec<Line> = mail::send::flagged(&left)
        .into_iter()
        .map(|(email, reason)| Line {
            file: "(recorded by another run)".into(),
            courts: courts_of(&email),
            recipient: email,
            status: Some(reason),
            unreadable_status: None,
            diagnostic: None,
            verdict: Verdict::Flagged,
            item: None,
            to: None,
            kind: None,
            night: None,
            came: None,
            last_handed_over: None,
        })
        .collect();
    let mut not_reports = 0;
    for path in &files {
        let raw = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let key: [u8; 16] = Sha256::digest(&raw)[..16].try_into().expect("16 bytes");
        // When it came: its file's time, which the MTA set as it delivered
        // it (and the move to cur/ keeps), not when this run reads it.
        let arrived = fs::metadata(path)
            .and_then(|m| m.modified())
            .map_or(now, |t| chrono::DateTime::<Utc>::from(t).min(now));
        let bounces = bounce::parse(&raw);
        if bounces.is_empty() {
            not_reports += 1;
        }
        // (a report about mail being sent stays unread, for the next run)
        let mut keep_unread = false;
        for b in bounces {
            let item = find_item(&outbox, verp.as_ref(), &b)?;
            let mut too_old = None;
            let verdict = match (&item, b.fate()) {
                (None, _) => Verdict::Unmatched,
                (Some(_), Fate::NotFailed) => Verdict::NotPermanent,
                (Some((_, false, _)), _) => Verdict::OtherRecipient,
                // With VERP on, a report its tag does not vouch for changes
                // nothing, whether it would flag the address or only fail
                // the item: anyone who saw the message can quote its
                // Message-ID, a delivered item failed would be sent again
                // by `outbox retry --failed`, and an unknown one would not
                // be retried.
                (Some((_, true, false)), _) if verp.is_some() => Verdict::Unverified,
                (Some((item, true, _)), reported) => {
                    let flag = reported == Fate::BadAddress;
                    match outbox.bounced(item.id, &reason_of(&b), flag, &key, arrived, now)? {
                        Bounced::Failed if flag => {
                            let flag = FlagsOf::Address(&item.email);
                            mail::send::write_flags(&mut outbox, &accounts, flag, now)?;
                            Verdict::Flagged
                        }
                        Bounced::Failed => Verdict::Failed,
                        Bounced::AlreadyFailed => Verdict::AlreadyFailed,
                        Bounced::NotSentNow => Verdict::NotSentNow,
                        Bounced::Sending => {
                            keep_unread = true;
                            Verdict::Sending
                        }
                        Bounced::ReadBefore => Verdict::ReadBefore,
                        Bounced::TooOld { last } => {
                            too_old = Some(last);
                            Verdict::TooOld
                        }
                    }
                }
            };
            let item = item.map(|(i, _, _)| i);
            lines.push(Line {
                file: name.clone(),
                courts: match (&item, verdict) {
                    (Some(i), Verdict::Flagged) => courts_of(&i.email),
                    _ => Vec::new(),
                },
                recipient: b.recipient.clone(),
                status: b.status.clone(),
                unreadable_status: b.unreadable_status.clone(),
                diagnostic: b.diagnostic.clone(),
                verdict,
                item: item.as_ref().map(|i| i.id),
                to: item.as_ref().map(|i| i.email.clone()),
                kind: item.as_ref().map(|i| i.kind.as_str()),
                night: item.map(|i| i.night),
                came: too_old.map(|_| arrived.to_rfc3339()),
                last_handed_over: too_old.map(|last| last.to_rfc3339()),
            });
        }
        // Committed above (each write is its own transaction): only now is
        // the message marked as read.
        if path.parent() == Some(new.as_path()) && !keep_unread {
            let seen = cur.join(format!("{}:2,S", name.split(":2,").next().unwrap_or(&name)));
            fs::rename(path, &seen)
                .with_context(|| format!("moving {} to {}", path.display(), seen.display()))?;
        }
    }

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut flagged_by_court: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &lines {
        *counts.entry(verdict_name(l.verdict)).or_default() += 1;
        if l.verdict == Verdict::Flagged {
            let courts = if l.courts.is_empty() {
                vec!["(none in the live snapshot)".to_string()]
            } else {
                l.courts.clone()
            };
            for c in courts {
                flagged_by_court
                    .entry(c)
                    .or_default()
                    .push(l.recipient.clone());
            }
        }
    }
    let report = Report {
        at: now.to_rfc3339(),
        maildir: maildir.display().to_string(),
        messages: files.len(),
        not_reports,
        counts: counts.clone(),
        flagged_by_court: flagged_by_court.clone(),
        lines: &lines,
    };
    store.create_dirs()?;
    let report_path =
        store.write_new_report("bounces", now, &serde_json::to_vec_pretty(&report)?)?;

    let mut out = format!(
        "cpor-etl bounces: {} message(s) read, {} not a delivery report; {} flagged, {} failed, not flagged, {} already failed, {} not permanent, {} about another address, {} unmatched, {} read before, {} about mail not sent now, {} about mail being sent (left unread), {} not applied (no VERP tag), {} too old to trust\n",
        files.len(),
        not_reports,
        counts.get("flagged").unwrap_or(&0),
        counts.get("failed").unwrap_or(&0),
        counts.get("already_failed").unwrap_or(&0),
        counts.get("not_permanent").unwrap_or(&0),
        counts.get("other_recipient").unwrap_or(&0),
        counts.get("unmatched").unwrap_or(&0),
        counts.get("read_before").unwrap_or(&0),
        counts.get("not_sent_now").unwrap_or(&0),
        counts.get("being_sent").unwrap_or(&0),
        counts.get("unverified").unwrap_or(&0),
        counts.get("too_old").unwrap_or(&0),
    );
    let which = |l: &Line| match (l.item, l.kind, &l.night) {
        (Some(id), Some(kind), Some(night)) => format!("item {id}, {kind} of {night}"),
        _ => "recorded by another run, written by this one".into(),
    };
    for l in lines.iter().filter(|l| l.verdict == Verdict::Flagged) {
        out += &format!("  flagged {} ({}): {}\n", l.recipient, which(l), said(l));
    }
    // Why each failed without flagging, for `outbox retry --failed` once
    // the cause is fixed.
    for l in lines.iter().filter(|l| l.verdict == Verdict::Failed) {
        let words = match (&l.status, &l.diagnostic) {
            (Some(_), Some(d)) => format!(" ({d})"),
            _ => String::new(),
        };
        out += &format!(
            "  failed, not flagged: {} ({}): {}{words}\n",
            l.recipient,
            which(l),
            said(l)
        );
    }
    for l in lines.iter().filter(|l| l.verdict == Verdict::Unverified) {
        out += &format!(
            "  not applied, no VERP tag: {} (item {}, left as it was): {}; the report came to \
             the plain bounce address and names the message only by its Message-ID, which anyone \
             who saw it can quote (a relay that rewrites the envelope sender defeats VERP: then \
             leave mail.bounce_address empty)\n",
            l.recipient,
            l.item.unwrap_or_default(),
            said(l),
        );
    }
    for l in lines.iter().filter(|l| l.verdict == Verdict::TooOld) {
        out += &format!(
            "  too old to trust: {} ({}, left as it was): {}; the report came {} (Taipei), more \
             than {} days after the message was last handed over, {}, when no relay still tries \
             it, and its VERP address is known to whoever saw the message\n",
            l.recipient,
            which(l),
            said(l),
            taipei(&l.came),
            mail::outbox::REPORTS_COME_WITHIN.num_days(),
            taipei(&l.last_handed_over),
        );
    }
    for l in lines
        .iter()
        .filter(|l| l.verdict == Verdict::OtherRecipient)
    {
        out += &format!(
            "  about another address: {} (item {}, to {}): {}; nothing done\n",
            l.recipient,
            l.item.unwrap_or_default(),
            l.to.as_deref().unwrap_or(""),
            said(l),
        );
    }
    for (court, addresses) in &flagged_by_court {
        out += &format!(
            "  {court}: {} address(es) to ask the clerks about\n",
            addresses.len()
        );
    }
    let pruned = prune_read(&cur, std::time::SystemTime::now())?;
    if pruned > 0 {
        out += &format!(
            "  {pruned} read delivery report{} over {} days old deleted from {}\n",
            crate::commands::plural(pruned),
            READ_REPORTS_KEPT.as_secs() / 86_400,
            cur.display()
        );
    }
    out += &format!("  report: {}\n", report_path.display());
    crate::commands::print(&out)?;
    Ok(0)
}

/// How long a delivery report stays in the Maildir once read: a relay
/// returns the whole message in it (a digest's entries, parties' names,
/// links), so no longer than cpor keeps sent mail's text
/// (`server.keep_sent_mail_days`' default).
const READ_REPORTS_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Deletes the reports in `cur` that came over [`READ_REPORTS_KEPT`] ago
/// (by the file's time, which the move from new/ keeps). Returns how many.
fn prune_read(cur: &Path, now: std::time::SystemTime) -> Result<usize> {
    let mut pruned = 0;
    for path in messages_in(cur)? {
        let came = fs::metadata(&path)
            .and_then(|m| m.modified())
            .with_context(|| format!("reading {}", path.display()))?;
        if now
            .duration_since(came)
            .is_ok_and(|age| age > READ_REPORTS_KEPT)
        {
            fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

/// The messages in one Maildir folder, oldest name first (names start with
/// the delivery time).
fn messages_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// The outbox item a report is about, if it can be told for sure: by the
/// VERP address it came to, or by the Message-ID it quotes; whether the
/// recipient it reports on is the item's own address (a report on another,
/// an address the item's forwards to, one of several: the item's own may
/// have had it, is no failure of the item's address); and whether it came
/// by its VERP tag, which only the key makes.
fn find_item(
    outbox: &Outbox,
    verp: Option<&(mail::Address, Vec<u8>)>,
    b: &Bounce,
) -> Result<Option<(Reported, bool, bool)>> {
    let own = |verified| {
        move |item: Reported| {
            let own = item.email.eq_ignore_ascii_case(&b.recipient);
            (item, own, verified)
        }
    };
    if let Some((address, key)) = verp {
        if let Some(id) =
            b.to.iter()
                .find_map(|to| mail::verp::item(address, key, to))
        {
            return Ok(outbox.item(id)?.map(own(true)));
        }
    }
    let Some(message_id) = &b.message_id else {
        return Ok(None);
    };
    Ok(outbox.item_by_message_id(message_id)?.map(own(false)))
}

fn reason_of(b: &Bounce) -> String {
    let status = b
        .status
        .as_deref()
        .unwrap_or("failed, no readable status code");
    let mut reason = format!("bounced later: {status}");
    if let Some(d) = &b.diagnostic {
        reason += &format!(" ({d})");
    }
    reason
}

/// An RFC 3339 time of a line as the summary says it, in Taipei.
fn taipei(t: &Option<String>) -> String {
    t.as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(String::new, |t| {
            t.with_timezone(&schemas::date::taipei())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
}

/// What a report said, for the summary: its status code; without a
/// readable one, the words that decided (or that there were none).
fn said(l: &Line) -> String {
    let none = match &l.unreadable_status {
        Some(given) => format!("Status `{given}` not a status code"),
        None => "no readable status code".into(),
    };
    match (&l.status, &l.diagnostic) {
        (Some(status), _) => status.clone(),
        (None, Some(words)) => format!("{none}, by its words: {words}"),
        (None, None) => format!("{none}, and no words to say why"),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Flagged => "flagged",
        Verdict::Failed => "failed",
        Verdict::AlreadyFailed => "already_failed",
        Verdict::NotPermanent => "not_permanent",
        Verdict::OtherRecipient => "other_recipient",
        Verdict::Unmatched => "unmatched",
        Verdict::ReadBefore => "read_before",
        Verdict::NotSentNow => "not_sent_now",
        Verdict::Sending => "being_sent",
        Verdict::Unverified => "unverified",
        Verdict::TooOld => "too_old",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a report says reaches the terminal with its control characters
    /// escaped, by the printer every command's output goes through
    /// (`commands::print`, `shown`); its words in Chinese as they are.
    #[test]
    fn a_reports_words_cannot_drive_the_terminal() {
        let line = Line {
            file: "1.eml".into(),
            recipient: "a@example.net\u{1b}[2K".into(),
            status: None,
            unreadable_status: Some("\u{1b}[31m5.7".into()),
            diagnostic: Some("550 拒收\r\u{7}".into()),
            verdict: Verdict::Failed,
            item: None,
            to: None,
            kind: None,
            night: None,
            courts: Vec::new(),
            came: None,
            last_handed_over: None,
        };
        let printed = format!("{}: {}", line.recipient, said(&line));
        assert_eq!(
            crate::commands::shown(&printed),
            "a@example.net\\u{1b}[2K: Status `\\u{1b}[31m5.7` not a status code, by its words: \
             550 拒收\\u{d}\\u{7}"
        );
    }
}
