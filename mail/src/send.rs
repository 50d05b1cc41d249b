//! Delivery of the outbox: `cpor-etl send`.
//!
//! An item is marked *sending* (committed) before its SMTP transaction
//! starts and *sent* only after the server accepted it; a run that dies in
//! between leaves *sending*, which the next run turns into *unknown* and
//! retries once with the same Message-ID. So nothing is lost, and a
//! duplicate appears only if the server had accepted the message before the
//! crash. Items are marked in batches, so a run costs two commits per batch,
//! not per message.
//!
//! Outcomes: accepted → sent. A 4xx reply or no connection → retrying, after
//! an exponential backoff with jitter, until `retry_hours` after the first
//! attempt → failed. A 5xx reply → failed, and the address is flagged: later
//! mail to it is suppressed until a clerk grants it a case again. A timeout
//! after the data was sent → unknown, retried once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lettre::address::Address;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use rusqlite::{params, Connection};
use serde::Serialize;

use schemas::date::taipei;
use store::secret::random_bytes;

use crate::config::{MailSettings, Relay, Security};
use crate::outbox::addresses;

/// One item to deliver.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub night: String,
    pub email: String,
    pub kind: String,
    pub state: String,
    pub message_id: String,
    pub message: Vec<u8>,
    pub attempts: i64,
    pub first_try_at: Option<String>,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again later: a 4xx reply, no connection.
    Transient(String),
    /// Do not try again: a 5xx reply.
    Permanent(String),
    /// The data was sent but no answer came: it may have been delivered.
    Unknown(String),
}

/// Where messages go.
pub trait Transport: Send {
    fn deliver(&mut self, item: &Item) -> Outcome;
}

/// The laptop default: each message as an .eml file under
/// `<data>/mail/<night>/`, named by kind and address.
pub struct EmlDir {
    pub root: PathBuf,
}

impl Transport for EmlDir {
    fn deliver(&mut self, item: &Item) -> Outcome {
        let dir = self.root.join(&item.night);
        let safe: String = item
            .email
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@.-_+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // The website's kinds can go to one address several times a day:
        // their files carry the message's own reference.
        let name = match item.message_id.split('.').nth(2) {
            Some(r) if matches!(item.kind.as_str(), "reset" | "changed") => {
                format!("{}-{safe}-{}", item.kind, r.split('@').next().unwrap_or(r))
            }
            _ => format!("{}-{safe}", item.kind),
        };
        let path = dir.join(format!("{name}.eml"));
        let tmp = dir.join(format!(".{name}.eml.tmp"));
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(&dir)?;
            fs::write(&tmp, &item.message)?;
            fs::rename(&tmp, &path)
        };
        match write() {
            Ok(()) => Outcome::Sent,
            Err(e) => Outcome::Transient(format!("{}: {e}", path.display())),
        }
    }
}

/// An SMTP relay, one connection kept open across messages.
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    timeout: StdDuration,
    from: Address,
    conn: Option<SmtpConnection>,
}

impl Smtp {
    pub fn new(relay: &Relay, from: &Mailbox) -> Smtp {
        Smtp {
            host: relay.host.clone(),
            port: relay.port,
            security: relay.security,
            credentials: relay
                .login
                .as_ref()
                .map(|(user, password)| Credentials::new(user.clone(), password.clone())),
            timeout: relay.timeout,
            from: from.email.clone(),
            conn: None,
        }
    }

    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let hello = ClientId::default();
        let tls = TlsParameters::new(self.host.clone())?;
        let wrapped = (self.security == Security::Tls).then_some(&tls);
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &hello,
            wrapped,
            None,
        )?;
        if self.security == Security::StartTls {
            conn.starttls(&tls, &hello)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)?;
        }
        Ok(conn)
    }

    fn attempt(&mut self, item: &Item) -> Result<(), (bool, lettre::transport::smtp::Error)> {
        if self.conn.as_mut().is_none_or(|c| c.has_broken()) {
            self.conn = Some(self.connect().map_err(|e| (false, e))?);
        }
        let conn = self.conn.as_mut().expect("connected");
        let to: Address = item
            .email
            .parse()
            .expect("addresses are checked when queued");
        conn.command(Mail::new(Some(self.from.clone()), vec![]))
            .map_err(|e| (false, e))?;
        conn.command(Rcpt::new(to, vec![]))
            .map_err(|e| (false, e))?;
        conn.command(Data).map_err(|e| (false, e))?;
        // From here on the server may have the message. It goes out in one
        // write with its terminator: lettre's `message` writes the
        // terminator separately, and that small second write waits for the
        // server's delayed ACK (Nagle), about 40 ms a message.
        match std::str::from_utf8(&item.message) {
            Ok(text) => conn
                .command(DataBody(dot_stuffed(text)))
                .map_err(|e| (true, e))?,
            Err(_) => conn.message(&item.message).map_err(|e| (true, e))?,
        };
        Ok(())
    }
}

/// A message body with SMTP transparency applied and the terminator, sent
/// as one "command".
struct DataBody(String);

impl std::fmt::Display for DataBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5321 transparency: a `.` starting a line is doubled; then the
/// terminating `CRLF.CRLF` (as lettre's own encoder does).
fn dot_stuffed(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    if message.starts_with('.') {
        out.push('.');
    }
    out.push_str(&message.replace("\r\n.", "\r\n.."));
    out.push_str("\r\n.\r\n");
    out
}

impl Transport for Smtp {
    fn deliver(&mut self, item: &Item) -> Outcome {
        if let Err(e) = item.email.parse::<Address>() {
            return Outcome::Permanent(format!("address `{}`: {e}", item.email));
        }
        match self.attempt(item) {
            Ok(()) => {
                store::failpoint::pause("send-after-accept");
                Outcome::Sent
            }
            Err((in_data, e)) => {
                // Start clean for the next message.
                if let Some(mut c) = self.conn.take() {
                    c.abort();
                }
                let what = e.to_string();
                if e.is_permanent() {
                    Outcome::Permanent(what)
                } else if in_data
                    && (e.is_timeout() || e.is_client() || e.to_string().contains("timed out"))
                {
                    Outcome::Unknown(what)
                } else if in_data && !e.is_transient() {
                    // The connection went away mid-transaction: delivered or not, nobody knows.
                    Outcome::Unknown(what)
                } else {
                    Outcome::Transient(what)
                }
            }
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = c.quit();
        }
    }
}

/// What one `send` run did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SendSummary {
    pub due: u64,
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    pub unknown: u64,
    pub suppressed: u64,
    /// Items a crash had left in `sending`, now unknown.
    pub recovered: u64,
    pub outside_window: bool,
    /// Addresses flagged by this run (a 5xx reply), with the reason.
    pub flagged: Vec<(String, String)>,
}

/// Which items a sender delivers. The nightly mail is `cpor-etl send`'s,
/// within the send window; the website's own mail (reset links, "password
/// changed") is the website's, at once: a reset link that works for 30
/// minutes cannot wait for 07:00. Each sender only ever touches its own
/// kinds, so the two never deliver (or recover) one another's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Nightly,
    Website,
}

impl Scope {
    /// The SQL condition on `kind` that selects this scope's items.
    fn kinds(self) -> &'static str {
        match self {
            Scope::Nightly => "kind IN ('activation', 'approval', 'digest', 'expiry')",
            Scope::Website => "kind IN ('reset', 'changed')",
        }
    }
}

/// Delivers every due nightly item once. `now_flag`: ignore the send window
/// and the spread of the night's mail.
pub fn send(
    data_dir: &Path,
    cfg: &MailSettings,
    now_flag: bool,
    now: DateTime<Utc>,
) -> Result<SendSummary, String> {
    send_scope(data_dir, cfg, Scope::Nightly, now_flag, now)
}

/// Delivers every due item of `scope` once.
pub fn send_scope(
    data_dir: &Path,
    cfg: &MailSettings,
    scope: Scope,
    now_flag: bool,
    now: DateTime<Utc>,
) -> Result<SendSummary, String> {
    let from = &cfg.from;
    let mut outbox = crate::outbox::open(data_dir).map_err(|e| e.to_string())?;
    let accounts = store::accounts::open(data_dir).map_err(|e| e.to_string())?;
    let sql = |e: rusqlite::Error| e.to_string();
    let recovered = outbox
        .execute(
            &format!(
                "UPDATE items SET state = 'unknown',
                 last_error = 'interrupted while sending (a crash or kill); retried once with the same Message-ID'
                 WHERE state = 'sending' AND {}",
                scope.kinds()
            ),
            [],
        )
        .map_err(sql)? as u64;
    let mut summary = SendSummary {
        recovered,
        ..SendSummary::default()
    };

    if !now_flag
        && scope == Scope::Nightly
        && !cfg.window.contains(now.with_timezone(&taipei()).time())
    {
        summary.outside_window = true;
        return Ok(summary);
    }
    let now_text = now.to_rfc3339();
    let due: Vec<i64> = {
        let mut stmt = outbox
            .prepare(&format!(
                "SELECT id FROM items WHERE state IN ('queued', 'retrying', 'unknown') AND {}
                 AND (?1 OR not_before <= ?2) AND (next_try_at IS NULL OR next_try_at <= ?2)
                 ORDER BY coalesce(next_try_at, not_before), id",
                scope.kinds()
            ))
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![now_flag, now_text], |r| r.get(0))
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)?
    };
    summary.due = due.len() as u64;
    if due.is_empty() {
        return Ok(summary);
    }

    let workers = cfg.relay.as_ref().map_or(1, |r| r.connections);
    let mut transports: Vec<Box<dyn Transport>> = Vec::new();
    for _ in 0..workers {
        transports.push(match &cfg.relay {
            None => Box::new(EmlDir {
                root: data_dir.join("mail"),
            }),
            Some(relay) => Box::new(Smtp::new(relay, from)),
        });
    }

    let mut flagged = addresses(&accounts, "SELECT email FROM flagged_addresses")?;
    for batch in due.chunks(256) {
        // Load and mark the batch `sending` in one commit.
        let tx = outbox.transaction().map_err(sql)?;
        let mut items = Vec::with_capacity(batch.len());
        {
            let mut load = tx
                .prepare(
                    "SELECT id, night, email, kind, state, message_id, message, attempts, first_try_at
                     FROM items WHERE id = ?1",
                )
                .map_err(sql)?;
            let mut mark = tx
                .prepare(
                    "UPDATE items SET state = 'sending', attempts = attempts + 1,
                     first_try_at = coalesce(first_try_at, ?2) WHERE id = ?1",
                )
                .map_err(sql)?;
            let mut suppress = tx
                .prepare("UPDATE items SET state = 'suppressed', last_error = 'address flagged' WHERE id = ?1")
                .map_err(sql)?;
            for id in batch {
                let item = load
                    .query_row([id], |r| {
                        Ok(Item {
                            id: r.get(0)?,
                            night: r.get(1)?,
                            email: r.get(2)?,
                            kind: r.get(3)?,
                            state: r.get(4)?,
                            message_id: r.get(5)?,
                            message: r.get(6)?,
                            attempts: r.get(7)?,
                            first_try_at: r.get(8)?,
                        })
                    })
                    .map_err(sql)?;
                if flagged.contains(&item.email) {
                    suppress.execute([id]).map_err(sql)?;
                    summary.suppressed += 1;
                    continue;
                }
                mark.execute(params![id, now_text]).map_err(sql)?;
                items.push(item);
            }
        }
        tx.commit().map_err(sql)?;
        store::failpoint::pause("send-after-mark");

        let outcomes = deliver_all(&mut transports, items);

        let tx = outbox.transaction().map_err(sql)?;
        let mut newly_flagged = Vec::new();
        for (item, outcome) in outcomes {
            let first = item
                .first_try_at
                .clone()
                .unwrap_or_else(|| now_text.clone());
            let first = DateTime::parse_from_rfc3339(&first).map_or(now, |t| t.with_timezone(&Utc));
            let attempts = item.attempts + 1;
            let (state, error, next): (&str, Option<String>, Option<String>) = match outcome {
                Outcome::Sent => ("sent", None, None),
                Outcome::Transient(e) if now - first >= cfg.retry_for => (
                    "failed",
                    Some(format!(
                        "gave up after {attempts} attempts over {} hours: {e}",
                        cfg.retry_for.num_hours()
                    )),
                    None,
                ),
                Outcome::Transient(e) => (
                    "retrying",
                    Some(e),
                    Some(backoff(cfg, attempts, now).to_rfc3339()),
                ),
                Outcome::Permanent(e) => {
                    newly_flagged.push((item.email.clone(), e.clone()));
                    ("failed", Some(e), None)
                }
                Outcome::Unknown(e) if item.state == "unknown" => {
                    ("failed", Some(format!("outcome unknown twice: {e}")), None)
                }
                Outcome::Unknown(e) => {
                    ("unknown", Some(e), Some(backoff(cfg, 1, now).to_rfc3339()))
                }
            };
            match state {
                "sent" => summary.sent += 1,
                "retrying" => summary.retrying += 1,
                "failed" => summary.failed += 1,
                _ => summary.unknown += 1,
            }
            tx.execute(
                "UPDATE items SET state = ?2, last_error = ?3, next_try_at = ?4,
                 sent_at = CASE WHEN ?2 = 'sent' THEN ?5 ELSE sent_at END WHERE id = ?1",
                params![item.id, state, error, next, now_text],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        for (email, reason) in newly_flagged {
            accounts
                .execute(
                    "INSERT OR REPLACE INTO flagged_addresses (email, flagged_at, reason) VALUES (?1, ?2, ?3)",
                    params![email, now_text, reason],
                )
                .map_err(sql)?;
            flagged.insert(email.clone());
            summary.flagged.push((email, reason));
        }
    }
    Ok(summary)
}

/// Sends items over the transports (one thread each), returning every
/// item with its outcome. One slow or failing address holds up one
/// connection, never the others.
fn deliver_all(transports: &mut [Box<dyn Transport>], items: Vec<Item>) -> Vec<(Item, Outcome)> {
    if transports.len() == 1 {
        let t = &mut transports[0];
        return items
            .into_iter()
            .map(|i| {
                let o = t.deliver(&i);
                (i, o)
            })
            .collect();
    }
    let (work_tx, work_rx) = mpsc::channel::<Item>();
    let work_rx = std::sync::Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel();
    for item in items {
        work_tx.send(item).expect("receiver alive");
    }
    drop(work_tx);
    std::thread::scope(|scope| {
        for t in transports.iter_mut() {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || loop {
                let next = work_rx.lock().expect("work queue").recv();
                let Ok(item) = next else { break };
                let outcome = t.deliver(&item);
                if done_tx.send((item, outcome)).is_err() {
                    break;
                }
            });
        }
    });
    drop(done_tx);
    let mut out: Vec<(Item, Outcome)> = done_rx.into_iter().collect();
    out.sort_by_key(|(i, _)| i.id);
    out
}

/// When to try again after `attempts` attempts: base × 2^(attempts−1),
/// at most six hours, ±20% jitter.
fn backoff(cfg: &MailSettings, attempts: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    let base = cfg.retry_base.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 20) as i32);
    let capped = base.min(6.0 * 3600.0);
    let r = random_bytes::<2>().map_or(0x8000, u16::from_le_bytes);
    let jitter = 0.8 + 0.4 * (f64::from(r) / f64::from(u16::MAX));
    now + Duration::milliseconds((capped * jitter * 1000.0) as i64)
}

/// Flagged addresses with the courts whose grants name them, for the
/// courts to correct.
pub fn flagged_addresses(
    accounts: &Connection,
) -> Result<BTreeMap<String, (String, String)>, String> {
    let mut stmt = accounts
        .prepare("SELECT email, flagged_at, reason FROM flagged_addresses ORDER BY email")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        assert_eq!(dot_stuffed("a\r\n.b\r\n..c"), "a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuffed(".x"), "..x\r\n.\r\n");
        assert_eq!(dot_stuffed("no dots.\r\n"), "no dots.\r\n\r\n.\r\n");
    }
}
