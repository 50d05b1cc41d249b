//! Delivery of the outbox: `cpor-etl send`, and the website's mailer.
//!
//! An item is marked *sending* (committed) before its SMTP transaction
//! starts and *sent* only after the server accepted it; a run that dies in
//! between leaves *sending*, which the next run turns into *unknown* and
//! retries with the same Message-ID. So nothing is lost, and a
//! duplicate appears only if the server had accepted the message before the
//! crash. Items are claimed in batches (one commit). Each outcome is
//! committed before the connection that delivered it takes its next message,
//! as one small row (`outbox::Outbox::record`; WAL with `synchronous =
//! NORMAL`: durable across a kill, no fsync per commit), and a batch's
//! outcomes are settled onto their items in one transaction; a run that
//! dies in between has them settled by the next. So a killed run sends again
//! at most the messages in flight, one per connection. A run asked to stop
//! (`stop`, set by a signal handler) sends nothing again: it starts no new
//! message, records the ones in flight, and gives back the claimed items it
//! had not started (`Outbox::withdraw`).
//!
//! Outcomes: accepted → sent. A 4xx reply or no connection → retrying, after
//! an exponential backoff with jitter, until `retry_hours` after the first
//! attempt → failed. A 5xx reply → failed, and the address is flagged: later
//! mail to it is suppressed until a clerk grants it a case again. No answer
//! after the data was sent (a timeout, a dropped connection) → unknown,
//! retried like a temporary failure, same Message-ID, until the deadline.
//! The timeouts are RFC 5321 §4.5.3.2's (`config::Timeouts`).
//!
//! A run is plan → deliver → write: `plan_claim` (send, suppress, withhold,
//! fail a reminder past its day, or leave a grant mail the live snapshot
//! cannot check) and `decide` (what an outcome makes of the item) are pure
//! but for the caller's look-up of grants; the transports deliver; the
//! outbox (`outbox::Outbox`) records.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lettre::address::Address;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use rusqlite::Connection;
use serde::Serialize;

use schemas::date::{parse_batch_date, taipei_at};
use store::secret::{random_bytes, Mailing};

use crate::config::{MailSettings, Relay, Security, Timeouts, Window};
use crate::outbox::{
    Event, FlagToWrite, FlagsOf, Outbox, OutboxError, Recorded, Recovered, State, Unreadable,
};
use crate::Kind;

pub use crate::kind::Scope;
pub use crate::outbox::{Item, Outcome};

/// Why a run could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Open(#[from] schemas::MigrateError),
    #[error("accounts: {0}")]
    Accounts(#[from] rusqlite::Error),
    #[error("secret key: {0}")]
    Key(#[source] std::io::Error),
    /// No relay configured, in a data directory whose mail went through
    /// one: written to files and marked sent, the mail would be lost.
    #[error(
        "no SMTP relay is configured (mail.smtp_host is empty: no --config, CPOR_CONFIG or \
         ./cpor.toml?), but this data directory's mail went through the relay {relay} (last at \
         {last}): {what}"
    )]
    FilesAfterRelay {
        relay: String,
        last: String,
        what: &'static str,
    },
    /// The built-in site address, in a data directory whose mail was made
    /// with a configured one: its links would lead nowhere.
    #[error(
        "mail.site_url is the built-in {default} (no --config, CPOR_CONFIG or ./cpor.toml?), \
         but this data directory's mail was made with {site} (last at {last}): mail made now \
         would link to no site. Nothing done: give the configuration (CPOR_CONFIG=/etc/cpor/cpor.toml, \
         as the units do, or --config) and run it again"
    )]
    SiteForgotten {
        default: &'static str,
        site: String,
        last: String,
    },
    /// An error ended the run part-way (an outcome or a withhold that could
    /// not be written: a full disk). What a relay was given stays
    /// *sending* (it may have gone: the next run sends it again as
    /// *unknown*); what none was given was handed back as it was, unless
    /// that failed too (`given_back`).
    #[error("send stopped part-way ({})", stopped_note(*not_started, *given_back))]
    Stopped {
        #[source]
        cause: Box<SendError>,
        not_started: usize,
        given_back: bool,
    },
}

fn stopped_note(not_started: usize, given_back: bool) -> String {
    let rest = if given_back {
        format!("{not_started} messages no relay was given are given back as they were")
    } else {
        format!(
            "{not_started} messages no relay was given could not be given back either: the next \
             run recovers them as it does after a kill"
        )
    };
    format!(
        "{rest}; any a relay may have taken without its outcome recorded, one per connection at \
         most, is sent again by the next run, same Message-ID; run `send` again once this is \
         fixed"
    )
}

/// Where messages go.
pub trait Transport: Send {
    /// Delivers `item` if `cleared` lets it go, asked as late as the
    /// transport can before the message is handed over (an SMTP relay:
    /// after the recipient is accepted, just before DATA). `None`: `cleared`
    /// held it back and nothing was handed over (whoever asked has recorded
    /// what became of it).
    fn deliver(&mut self, item: &Item, cleared: &mut dyn FnMut() -> bool) -> Option<Outcome>;

    /// Whether the last delivery found the relay silent: connected, and no
    /// greeting within the timeout (a port that wants TLS from the start
    /// reached without it, a hung relay, a firewall that drops). Another
    /// message would wait as long for nothing: the run starts no more
    /// (`deliver_all`).
    fn silent(&self) -> bool {
        false
    }
}

/// The laptop default: each message as an .eml file under
/// `<data>/mail/<night>/`, named by kind and address.
pub struct EmlDir {
    pub root: PathBuf,
}

impl Transport for EmlDir {
    fn deliver(&mut self, item: &Item, cleared: &mut dyn FnMut() -> bool) -> Option<Outcome> {
        if !cleared() {
            return None;
        }
        let path = eml_file(
            &self.root,
            &item.night,
            item.kind,
            &item.email,
            &item.reference,
        );
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.eml.tmp"));
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(&dir)?;
            fs::write(&tmp, &item.message)?;
            fs::rename(&tmp, &path)
        };
        Some(match write() {
            Ok(()) => Outcome::Sent,
            Err(e) => Outcome::Transient(format!("{}: {e}", path.display())),
        })
    }
}

/// Where [`EmlDir`] writes the mail of `kind` to `email` of `night` (and
/// its `reference`): `<root>/<night>/<kind>-<address>[-<reference>].eml`.
pub fn eml_file(root: &Path, night: &str, kind: Kind, email: &str, reference: &str) -> PathBuf {
    let safe: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // An address with characters a file name cannot hold (`a#b@`,
    // `a/b@`) would share its file with another: its name carries a
    // digest of the address too.
    let safe = if safe == email {
        safe
    } else {
        format!(
            "{safe}-{:08x}",
            xxhash_rust::xxh3::xxh3_64(email.as_bytes()) as u32
        )
    };
    // The website's kinds can go to one address several times a day, and a
    // re-run of a night mails beside the night's first mail: their files
    // carry the item's reference.
    let name = if reference.is_empty() {
        format!("{kind}-{safe}")
    } else {
        format!("{kind}-{safe}-{reference}")
    };
    root.join(night).join(format!("{name}.eml"))
}

/// An SMTP relay, one connection kept open across messages.
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    timeouts: Timeouts,
    from: Address,
    /// VERP: the bounce address and the key of the per-message tags.
    verp: Option<(Address, Vec<u8>)>,
    conn: Option<SmtpConnection>,
    /// The timeout the connection has now (set only when it changes).
    conn_timeout: StdDuration,
    /// The last attempt found the relay silent (`Transport::silent`).
    silent: bool,
}

/// Whether `e` is a timeout: lettre's own, or the socket's read timeout,
/// which Linux reports as `EAGAIN` ("Resource temporarily unavailable",
/// the words an operator read for a relay that said nothing).
fn timed_out(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return true;
            }
        }
        source = s.source();
    }
    e.is_timeout()
}

/// Why an attempt failed: the relay's answer (or its silence), and whether
/// the message data had been sent; or the socket refused a timeout.
enum Failure {
    /// Connecting to the relay, or starting its session.
    Connect(lettre::transport::smtp::Error),
    /// The relay refused the envelope's sender (MAIL FROM): nothing about
    /// the recipient.
    Sender(lettre::transport::smtp::Error),
    Smtp {
        in_data: bool,
        error: lettre::transport::smtp::Error,
    },
    Socket(std::io::Error),
}

fn before_data(error: lettre::transport::smtp::Error) -> Failure {
    Failure::Smtp {
        in_data: false,
        error,
    }
}

impl Smtp {
    pub fn new(relay: &Relay, from: &Mailbox, verp: Option<(Address, Vec<u8>)>) -> Smtp {
        Smtp {
            host: relay.host.clone(),
            port: relay.port,
            security: relay.security,
            credentials: relay
                .login
                .as_ref()
                .map(|(user, password)| Credentials::new(user.clone(), password.clone())),
            timeouts: relay.timeouts,
            from: from.email.clone(),
            verp,
            conn: None,
            conn_timeout: relay.timeouts.command,
            silent: false,
        }
    }

    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let hello = ClientId::default();
        let tls = TlsParameters::new(self.host.clone())?;
        let wrapped = (self.security == Security::Tls).then_some(&tls);
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeouts.command),
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

    /// Gives the connection timeout `t` for what follows.
    fn timeout(&mut self, t: StdDuration) -> Result<(), Failure> {
        if self.conn_timeout != t {
            if let Some(conn) = self.conn.as_mut() {
                conn.set_timeout(Some(t)).map_err(Failure::Socket)?;
            }
            self.conn_timeout = t;
        }
        Ok(())
    }

    /// Hands `item` over; `Ok(false)`: `cleared` held it back just before
    /// DATA, and the transaction was reset.
    fn attempt(&mut self, item: &Item, cleared: &mut dyn FnMut() -> bool) -> Result<bool, Failure> {
        let t = self.timeouts;
        let kept = !self.conn.as_mut().is_none_or(|c| c.has_broken());
        if !kept {
            self.conn = Some(self.connect().map_err(Failure::Connect)?);
            self.conn_timeout = t.command;
        }
        self.timeout(t.command)?;
        let to: Address = item
            .email
            .parse()
            .expect("addresses are checked when queued");
        let sender = match &self.verp {
            Some((bounce, key)) => crate::verp::sender(bounce, key, item.id),
            None => self.from.clone(),
        };
        let mailed = self
            .conn
            .as_mut()
            .expect("connected")
            .command(Mail::new(Some(sender.clone()), vec![]));
        if let Err(e) = mailed {
            // A connection kept from the message before that the relay
            // has ended (421 at MAIL: its limit of messages a connection;
            // or closed while idle): once more on a new one. Nothing of
            // this message has gone.
            if !kept || e.is_permanent() {
                return Err(Failure::Sender(e));
            }
            if let Some(mut old) = self.conn.take() {
                old.abort();
            }
            self.conn = Some(self.connect().map_err(Failure::Connect)?);
            self.conn_timeout = t.command;
            self.timeout(t.command)?;
            self.conn
                .as_mut()
                .expect("connected")
                .command(Mail::new(Some(sender), vec![]))
                .map_err(Failure::Sender)?;
        }
        let conn = self.conn.as_mut().expect("connected");
        conn.command(Rcpt::new(to, vec![])).map_err(before_data)?;
        store::failpoint::pause("send-after-rcpt");
        // Asked here, not before the session: connecting, the envelope and
        // a slow relay can take minutes, in which a snapshot may be
        // published that no longer grants what the message names.
        if !cleared() {
            // (a relay that will not reset is dropped: the next message
            // connects again)
            if conn.command(Rset).is_err() {
                conn.abort();
            }
            return Ok(false);
        }
        self.timeout(t.data)?;
        let conn = self.conn.as_mut().expect("connected");
        conn.command(Data).map_err(before_data)?;
        self.timeout(t.data_end)?;
        let conn = self.conn.as_mut().expect("connected");
        // From here on the server may have the message. It goes out in one
        // write with its terminator: lettre's `message` writes the
        // terminator separately, and that small second write waits for the
        // server's delayed ACK (Nagle), about 40 ms a message.
        let in_data = |error| Failure::Smtp {
            in_data: true,
            error,
        };
        match std::str::from_utf8(&item.message) {
            Ok(text) => conn.command(DataBody(dot_stuffed(text))).map_err(in_data)?,
            Err(_) => conn.message(&item.message).map_err(in_data)?,
        };
        Ok(true)
    }
}

/// A refusal's enhanced code (its first word) and its reply's text, from
/// what lettre writes: "permanent error (550): <the reply's text>". What a
/// 5xx says of the recipient is read from them by the rules delivery
/// reports are read by (`crate::bounce`).
fn reply_of(text: &str) -> (Option<&str>, &str) {
    let reply = text.split_once("): ").map_or("", |(_, r)| r);
    (reply.split_whitespace().next(), reply)
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
    fn silent(&self) -> bool {
        self.silent
    }

    fn deliver(&mut self, item: &Item, cleared: &mut dyn FnMut() -> bool) -> Option<Outcome> {
        self.silent = false;
        if let Err(e) = crate::mailable(&item.email) {
            return Some(Outcome::Permanent(format!("address `{}`: {e}", item.email)));
        }
        Some(match self.attempt(item, cleared) {
            Ok(true) => {
                store::failpoint::pause("send-after-accept");
                Outcome::Sent
            }
            Ok(false) => return None,
            Err(failure) => {
                // Start clean for the next message.
                if let Some(mut c) = self.conn.take() {
                    c.abort();
                }
                let (in_data, e) = match failure {
                    Failure::Smtp { in_data, error } => (in_data, error),
                    Failure::Socket(e) => return Some(Outcome::Transient(format!("socket: {e}"))),
                    Failure::Connect(e) if timed_out(&e) => {
                        self.silent = true;
                        return Some(Outcome::Unreachable(format!(
                            "relay {}:{} did not answer within {} s while the session was set up \
                             (no greeting, or no answer to TLS or the login: a port that wants TLS \
                             from the start needs smtp_security = \"tls\"; or the relay hangs, or \
                             a firewall drops the connection)",
                            self.host,
                            self.port,
                            self.timeouts.command.as_secs()
                        )));
                    }
                    Failure::Connect(e) => {
                        return Some(Outcome::Unreachable(format!(
                            "relay {}:{}: {e}",
                            self.host, self.port
                        )))
                    }
                    // The relay's setting, not the recipient's: tried
                    // again as when it cannot be reached, flagging no one.
                    Failure::Sender(e) if e.is_permanent() => {
                        return Some(Outcome::Unreachable(format!(
                            "relay {}:{} refused the sender: {e}",
                            self.host, self.port
                        )))
                    }
                    Failure::Sender(e) => return Some(Outcome::Transient(e.to_string())),
                };
                let what = if timed_out(&e) {
                    format!(
                        "relay {}:{}: no reply within {} s {}",
                        self.host,
                        self.port,
                        self.conn_timeout.as_secs(),
                        if in_data {
                            "to the message (it may have been delivered)"
                        } else {
                            "before the message was sent"
                        }
                    )
                } else {
                    e.to_string()
                };
                if e.is_permanent() {
                    // (the reply read once, for both questions)
                    let (enhanced, reply) = reply_of(&what);
                    let code = e.status().and_then(|c| c.to_string().parse().ok());
                    let stage = match in_data {
                        true => crate::bounce::Stage::Message,
                        false => crate::bounce::Stage::Recipient,
                    };
                    if crate::bounce::says_the_address_is_bad(enhanced, code, reply, stage) {
                        Outcome::Permanent(what)
                    } else if crate::bounce::about_the_mailbox(enhanced) {
                        Outcome::Undeliverable(what)
                    } else {
                        Outcome::Rejected(what)
                    }
                } else if in_data
                    && (timed_out(&e) || e.is_client() || e.to_string().contains("timed out"))
                {
                    Outcome::Unknown(what)
                } else if in_data && !e.is_transient() {
                    // The connection went away mid-transaction: delivered or not, nobody knows.
                    Outcome::Unknown(what)
                } else {
                    Outcome::Transient(what)
                }
            }
        })
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
    /// Of `suppressed`: activations, approvals and expiry warnings withheld
    /// as they were handed over, a snapshot published during the run no
    /// longer granting a case they name (`Event::Recalled`).
    pub recalled: u64,
    /// Of `suppressed`: expiry warnings not sent because the activation or
    /// approval they were queued behind, which says each of their cases'
    /// last day, was sent (`Event::Covered`).
    pub covered: u64,
    /// Of `suppressed`: digests and reminders whose address turned that
    /// mailing off since they were queued (`Event::Unsubscribed`).
    pub unsubscribed: u64,
    /// Activations, approvals and expiry warnings not sent because the live
    /// snapshot could not tell whether the cases they name are still
    /// granted ([`Granted::CannotTell`]): left as they were at a claim;
    /// given back (as a stop gives back: queued, or unknown if it was) when a snapshot
    /// published during the run could not tell as they were handed over.
    /// Counted in `due`; a later run sends or withholds them.
    pub unchecked: u64,
    /// Activations, approvals and expiry warnings not sent because a case
    /// they name is left out of the live snapshot ([`Granted::Later`]: a
    /// row of it rejected, its previous version kept only to compare the
    /// next night with): left as they were, or given back as they were
    /// when found so just before delivery. Counted in `due`, not in
    /// `unchecked`; the first run after a night that has the case again
    /// sends or withholds them.
    pub waiting_for_cases: u64,
    /// Items a crash had left in `sending`, now unknown.
    pub recovered: u64,
    /// Items a crash had left in `sending` that no relay can have seen
    /// (past what its connections could have taken: `Outbox::recover`),
    /// given back as they were.
    pub recovered_unsent: u64,
    pub outside_window: bool,
    /// The send window closed while this run was sending (the clock is
    /// read as each message is handed over): it started no more, and gave
    /// back as they were the items it had claimed (`left_for_window`, each
    /// for the next window; a reminder is then past its day).
    pub window_closed: bool,
    /// Claimed items given back as they were because the window closed, or
    /// (a reminder) its day's window ended, before they were handed over.
    pub left_for_window: u64,
    /// With the window closed: all that is due and waits for its next
    /// opening, claimed and given back or never claimed.
    pub still_due: u64,
    /// The run was asked to stop (`stop`): what was with a relay was
    /// finished and recorded, and the claimed items whose turn had not come
    /// were given back as they were (`withdrawn`: queued, or unknown if they
    /// were); later batches were not claimed.
    pub stopped: bool,
    pub withdrawn: u64,
    /// A connection found the relay silent (`Transport::silent`): the run
    /// started no more messages, and gave back the `not_tried` it had
    /// claimed as they were; the rest of what is due was not claimed.
    pub silent_relay: bool,
    pub not_tried: u64,
    /// Addresses flagged by this run (a 5xx reply), with the reason.
    pub flagged: Vec<(String, String)>,
    /// Reminders this run found past their day (`Event::Outdated`): failed,
    /// not sent, and counted in `failed`.
    pub outdated: u64,
    /// Items this run found unreadable (their stored message damaged):
    /// failed, not sent, and counted in `failed`; an operator must hear of
    /// each.
    pub unreadable: Vec<Unreadable>,
    /// Attempts that found the relay unreachable (no session): when nothing
    /// was sent and some did, the relay is down (`cpor-etl send` exit 6).
    pub unreachable: u64,
    /// Why items were not delivered this run and wait to be retried
    /// (deferred or unknown): each reason with how many it held back (a
    /// relay down gives one reason for all of them).
    pub not_delivered: BTreeMap<String, u64>,
    /// Why items were given up this run, their `retry_hours` of tries
    /// over (`Event::Expired`: failed, counted in `failed`), each reason
    /// with how many; and how many of them found the relay unreachable
    /// (counted in `unreachable` too). `outbox retry --failed` queues them
    /// again; another `send` does not.
    pub given_up: BTreeMap<String, u64>,
    pub given_up_unreachable: u64,
    /// Why items were refused this run for a reason that does not say the
    /// address is bad (`Outcome::Rejected`: failed, no one flagged), each
    /// reason with how many; when nothing was sent and some were, the run
    /// failed (`cpor-etl send` exit 6).
    pub refused: BTreeMap<String, u64>,
    /// Why items were refused by the recipient's mailbox this run
    /// (`Outcome::Undeliverable`: full, too big; failed, no one flagged,
    /// and no sign of the relay refusing), each reason with how many.
    pub undeliverable: BTreeMap<String, u64>,
    /// After a nightly run: how many of its items are in each state, every
    /// state named (`outbox now:`). Empty after a website mailer's pass,
    /// which reports no counts.
    pub states: BTreeMap<String, u64>,
}

impl SendSummary {
    /// Counts `n` grant mails left for a later run, by why.
    fn waits(&mut self, why: Wait, n: u64) {
        *match why {
            Wait::Unchecked => &mut self.unchecked,
            Wait::ForCase => &mut self.waiting_for_cases,
        } += n;
    }

    /// `0 queued, 2 held, …, 0 suppressed`: every state, in the order of
    /// the state machine.
    pub fn states_line(&self) -> String {
        State::ALL
            .iter()
            .map(|s| format!("{} {s}", self.states.get(s.as_str()).unwrap_or(&0)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Counts every item of the scope by state: a pass over the whole
    /// outbox, rows and bodies (a month of them is kept; no index holds the
    /// kind), so only for the nightly sender's summary, never for the
    /// website's mailer, which passes every 30 s in each server process and
    /// reports no counts (measured on a national outbox of 406 MB: 0.1 s
    /// a pass from the page cache, 0.8 s from disk).
    fn count_states(&mut self, outbox: &Outbox, scope: Scope) -> Result<(), OutboxError> {
        if scope == Scope::Website {
            return Ok(());
        }
        self.states = outbox
            .counts(scope)?
            .into_iter()
            .map(|(s, n)| (s.as_str().to_string(), n))
            .collect();
        Ok(())
    }
}

/// Whether mail may be made and sent here with `cfg`, checked before any
/// is queued or marked: not with the built-in site address where mail was
/// made with a configured one ([`SendError::SiteForgotten`]); a configured
/// one is recorded. `sending`: nor, as `send`, without a relay where mail
/// went through one, unless told to write files
/// ([`SendError::FilesAfterRelay`]). Both are the signs of a run by hand
/// without its configuration (the operator's runbook review of the
/// forty-ninth session: an import so made activation links to
/// `http://localhost:8080`, and a `send` refusing for the relay had
/// queued and marked the day's reminders first).
pub fn check_configured(
    data_dir: &Path,
    cfg: &MailSettings,
    sending: bool,
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    let outbox = Outbox::open(data_dir)?;
    if cfg.site_url.as_str() == crate::config::DEFAULT_SITE_URL {
        if let Some((site, last)) = outbox.last_site(cfg.site_url.as_str())? {
            return Err(SendError::SiteForgotten {
                default: crate::config::DEFAULT_SITE_URL,
                site,
                last,
            });
        }
    } else {
        outbox.note_site(cfg.site_url.as_str(), now)?;
    }
    if sending {
        relay_forgotten(&outbox, cfg, Scope::Nightly)?;
    }
    Ok(())
}

/// [`SendError::FilesAfterRelay`] if `cfg` has no relay (and is not told
/// to write files) where this data directory's mail went through one.
fn relay_forgotten(outbox: &Outbox, cfg: &MailSettings, scope: Scope) -> Result<(), SendError> {
    if cfg.relay.is_some() || cfg.files_after_relay {
        return Ok(());
    }
    match outbox.last_relay()? {
        None => Ok(()),
        Some((relay, last)) => Err(SendError::FilesAfterRelay {
            relay,
            last,
            what: match scope {
                Scope::Nightly => {
                    "nothing sent. Give the relay's settings; or, to write the mail as .eml \
                     files under <data>/mail/ instead, marked sent, run `cpor-etl send \
                     --to-files`"
                }
                Scope::Website => {
                    "the website's mail (password links and notices) waits: give \
                     cpor-server the relay's settings ([mail] in its configuration)"
                }
            },
        }),
    }
}

/// Delivers every due nightly item once. `now_flag`: ignore the send window,
/// the spread of the night's mail and the wait before a retry (an item is
/// still tried once a run). `grants`: whether a due activation, approval
/// or expiry warning names a case its address is no longer granted, so
/// that it is not sent ([`plan_claim`], and again just before it is handed
/// over; asked only of those kinds). `stop`: once set (a signal), no new
/// message is started; those with a relay are finished and recorded.
pub fn send(
    data_dir: &Path,
    cfg: &MailSettings,
    now_flag: bool,
    now: DateTime<Utc>,
    stop: &AtomicBool,
    grants: &dyn GrantCheck,
) -> Result<SendSummary, SendError> {
    send_scope(data_dir, cfg, Scope::Nightly, now_flag, now, stop, grants)
}

/// Delivers every due item of the website's mail (password links and
/// notices) at once: `cpor-server`'s mailer, which is never asked to stop
/// midway and withholds nothing from an address.
pub fn send_website(
    data_dir: &Path,
    cfg: &MailSettings,
    now: DateTime<Utc>,
) -> Result<SendSummary, SendError> {
    send_scope(
        data_dir,
        cfg,
        Scope::Website,
        true,
        now,
        &AtomicBool::new(false),
        &|_: &Item| Granted::Yes,
    )
}

/// Whether the cases a due item names are still granted to its address
/// (`Item::case_keys`; one queued before outbox migration 14 names none:
/// whether its address has a grant left), or cannot be told. The caller
/// knows the live snapshot; asked only of [`GRANT_KINDS`]. A function of
/// the item is one, asked both times.
pub trait GrantCheck: Sync {
    /// Asked of a due item as it is claimed ([`plan_claim`]).
    fn at_claim(&self, item: &Item) -> Granted;
    /// Asked again of a claimed item just before it is handed to a relay,
    /// the claim having said [`Granted::Yes`]: what a snapshot published
    /// since then says (an import beside the run; the night's mail cannot
    /// withhold what a sender holds). `No`: it is withheld
    /// ([`Event::Recalled`]); `CannotTell` or `Later`: given back as it
    /// was ([`Event::Withdrawn`], [`Event::WithdrawnUnknown`]), never sent
    /// unchecked.
    fn before_delivery(&self, item: &Item) -> Granted;
}

impl<F: Fn(&Item) -> Granted + Sync> GrantCheck for F {
    fn at_claim(&self, item: &Item) -> Granted {
        self(item)
    }

    fn before_delivery(&self, item: &Item) -> Granted {
        self(item)
    }
}

/// What the live snapshot says of the cases a due grant mail names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    /// Every one is still granted to its address: the mail goes.
    Yes,
    /// One is not (revoked, past its cutoff): the mail is withheld.
    No,
    /// The snapshot cannot be read to tell: the mail is left as it is, for
    /// a run that can tell (sent unchecked, it could show a case to
    /// someone no longer allowed to see it).
    CannotTell,
    /// None is revoked, but one is left out of the snapshot (a row of it
    /// rejected: the snapshot keeps its previous version, grants and all,
    /// only to compare the next night with, and shows it nowhere): the
    /// mail is left as it is for the night that has the case again, whose
    /// grants decide. Sent now, it would name a case the site does not
    /// show, granted by rows the clerk may have changed.
    Later,
}

/// Why [`plan_claim`] leaves a due item as it is, for a later run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// [`Granted::CannotTell`]: counted `unchecked`.
    Unchecked,
    /// [`Granted::Later`]: counted `waiting_for_cases`.
    ForCase,
}

impl Granted {
    /// Why grant mail so answered is left for a later run, if it is.
    fn wait(self) -> Option<Wait> {
        match self {
            Granted::CannotTell => Some(Wait::Unchecked),
            Granted::Later => Some(Wait::ForCase),
            Granted::Yes | Granted::No => None,
        }
    }
}

/// What to do with a due item at `now`: send it; or not, if its address
/// is flagged (the nightly kinds, `Kind::held_back_by_flag`), or if it is
/// a digest or reminder whose mailing `off` says its address has turned
/// off since ([`unsubscribed`]), or if it is an activation, approval or expiry warning that
/// `grants` says names a case no longer granted; or, if it is a reminder
/// whose day's send window (`window`, Asia/Taipei) ended after it was
/// queued, fail it ([`past_its_day`]). `Err`: leave it as it is, for a
/// later run, and why: a grant mail whose cases cannot be checked, or one
/// naming a case left out of the live snapshot.
pub fn plan_claim(
    item: &Item,
    flagged: &BTreeSet<String>,
    off: &mut dyn FnMut(&str, Mailing) -> bool,
    grants: &dyn GrantCheck,
    window: Window,
    now: DateTime<Utc>,
) -> Result<Event, Wait> {
    Ok(
        if item.kind == Kind::Reminder && past_its_day(&item.night, item.queued_at, window, now) {
            Event::Outdated
        } else if item.kind.held_back_by_flag() && flagged.contains(&item.email) {
            Event::Suppress
        } else if unsubscribed(item, off) {
            Event::Unsubscribed
        } else if GRANT_KINDS.contains(&item.kind) {
            let granted = grants.at_claim(item);
            if let Some(why) = granted.wait() {
                return Err(why);
            }
            if granted == Granted::No {
                Event::Ungranted
            } else {
                Event::Claim
            }
        } else {
            Event::Claim
        },
    )
}

/// Whether a due digest or reminder belongs to a mailing its address has
/// turned off (`off`, asked only of these kinds): a reminder to reminders;
/// a digest to digests, but one that tells only hearing changes to an
/// address that keeps reminders (its unsubscribe link says
/// `list=reminders`: `render::View::for_reminders`) to reminders as well,
/// and so does a digest that changes a hearing ([`changes_a_hearing`]): to
/// an address that turned digests off but keeps reminders, the night's
/// mail would have told that change (`notify::queue::Tell::Calendar`), and
/// no later night tells it again. Other kinds go whatever the switches.
pub fn unsubscribed(item: &Item, off: &mut dyn FnMut(&str, Mailing) -> bool) -> bool {
    match item.kind {
        Kind::Reminder => off(&item.email, Mailing::Reminders),
        Kind::Digest => {
            off(&item.email, Mailing::Digests)
                && (!(for_reminders(&item.message) || changes_a_hearing(&item.message))
                    || off(&item.email, Mailing::Reminders))
        }
        _ => false,
    }
}

/// Whether a digest's message attaches a calendar file that changes a
/// hearing a calendar may hold (`render::changes_a_hearing`: a CANCEL, or
/// a SEQUENCE above 0). Parsed only for a digest whose address turned
/// digests off since it was queued.
pub fn changes_a_hearing(message: &[u8]) -> bool {
    use mail_parser::MimeHeaders;
    let Some(parsed) = mail_parser::MessageParser::default().parse(message) else {
        return false;
    };
    let changes = parsed.attachments().any(|part| {
        let Some(ct) = part.content_type() else {
            return false;
        };
        if !ct.ctype().eq_ignore_ascii_case("text")
            || !ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        {
            return false;
        }
        crate::render::changes_a_hearing(
            ct.attribute("method").unwrap_or_default(),
            &String::from_utf8_lossy(part.contents()),
        )
    });
    changes
}

/// Whether a digest's message is one for an address that keeps only
/// reminders: its List-Unsubscribe link is the reminders'.
fn for_reminders(message: &[u8]) -> bool {
    let needle = format!("&list={}>", Mailing::Reminders.as_str());
    let head = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message, |end| &message[..end]);
    head.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The kinds of mail only an address a grant names is sent: what
/// [`GrantCheck`] withholds.
pub const GRANT_KINDS: [Kind; 3] = [Kind::Activation, Kind::Approval, Kind::Expiry];

/// Whether a reminder of `day` (YYYYMMDD) queued at `queued_at` is past its
/// day at `now`: the send window of that day has ended, and it had not
/// when the reminder was queued. Its text is about that day ("明天", "7
/// 天後"), so after it, it would mislead. One queued after that day's
/// window (an operator's `send --today` catch-up) was meant to go late,
/// but on the day it was queued (Asia/Taipei): from the next midnight
/// there it is past too. A day that does not read as one is not judged
/// (the item goes out). Pure.
pub fn past_its_day(
    day: &str,
    queued_at: DateTime<Utc>,
    window: Window,
    now: DateTime<Utc>,
) -> bool {
    let Some(day) = parse_batch_date(day) else {
        return false;
    };
    let end = taipei_at(day, window.end);
    if queued_at < end {
        return now >= end;
    }
    let queued_on = schemas::date::taipei_date(queued_at);
    let midnight = taipei_at(
        queued_on + chrono::Duration::days(1),
        chrono::NaiveTime::MIN,
    );
    now >= midnight
}

/// What an attempt's outcome makes of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `Accepted`, `Deferred`, `Uncertain`, `Refused` or `Expired`.
    pub event: Event,
    pub error: Option<String>,
    /// When to try again.
    pub next_try: Option<DateTime<Utc>>,
    /// Flag the address, for this reason (a 5xx).
    pub flag: Option<String>,
    /// No answer came to the message's data (`Outcome::Unknown`): the
    /// relay may have taken it, whether it is tried again or given up.
    pub unknown_outcome: bool,
}

impl Decision {
    /// What the outbox records of it, for item `id`: the one way a
    /// decision becomes a recorded outcome.
    pub fn recorded(&self, id: i64) -> Recorded {
        Recorded {
            id,
            event: self.event,
            error: self.error.clone(),
            next_try: self.next_try,
            unknown_outcome: self.unknown_outcome,
        }
    }
}

/// What `outcome` makes of `item` (as claimed: its attempts include this
/// one) at `now`; `jitter` in [0, 1] spreads the backoff.
pub fn decide(
    item: &Item,
    outcome: Outcome,
    cfg: &MailSettings,
    now: DateTime<Utc>,
    jitter: f64,
) -> Decision {
    let unknown_outcome = matches!(outcome, Outcome::Unknown(_));
    let plain = |event, error: Option<String>, next_try| Decision {
        event,
        error,
        next_try,
        flag: None,
        unknown_outcome,
    };
    match outcome {
        Outcome::Sent => plain(Event::Accepted, None, None),
        Outcome::Transient(e) | Outcome::Unreachable(e)
            if now - item.first_try_at >= cfg.retry_for =>
        {
            plain(
                Event::Expired,
                Some(format!(
                    "gave up after {} attempts over {} hours: {e}",
                    item.attempts,
                    cfg.retry_for.num_hours()
                )),
                None,
            )
        }
        Outcome::Transient(e) | Outcome::Unreachable(e) => plain(
            Event::Deferred,
            Some(e),
            Some(backoff(cfg, item.attempts, now, jitter)),
        ),
        Outcome::Permanent(e) => Decision {
            event: Event::Refused,
            error: Some(e.clone()),
            next_try: None,
            flag: Some(e),
            unknown_outcome: false,
        },
        Outcome::Rejected(e) | Outcome::Undeliverable(e) => plain(Event::Refused, Some(e), None),
        Outcome::Unknown(e) if now - item.first_try_at >= cfg.retry_for => plain(
            Event::Expired,
            Some(format!(
                "gave up after {} attempts over {} hours; the last outcome unknown: {e}",
                item.attempts,
                cfg.retry_for.num_hours()
            )),
            None,
        ),
        Outcome::Unknown(e) => plain(
            Event::Uncertain,
            Some(e),
            Some(backoff(cfg, item.attempts, now, jitter)),
        ),
    }
}

impl SendSummary {
    fn count(&mut self, event: Event) {
        match event {
            Event::Accepted => self.sent += 1,
            Event::Deferred => self.retrying += 1,
            Event::Uncertain => self.unknown += 1,
            Event::Refused | Event::Expired | Event::Unreadable => self.failed += 1,
            Event::Outdated => {
                self.failed += 1;
                self.outdated += 1;
            }
            Event::Suppress | Event::Ungranted | Event::Recalled => self.suppressed += 1,
            Event::Covered => {
                self.suppressed += 1;
                self.covered += 1;
            }
            Event::Unsubscribed => {
                self.suppressed += 1;
                self.unsubscribed += 1;
            }
            Event::Claim
            | Event::Interrupted
            | Event::Withdrawn
            | Event::WithdrawnUnknown
            | Event::Hold
            | Event::Superseded
            | Event::Release
            | Event::Retry
            | Event::Bounced => {}
        }
    }
}

/// Delivers every due item of `scope` once, or until `stop` is set.
fn send_scope(
    data_dir: &Path,
    cfg: &MailSettings,
    scope: Scope,
    now_flag: bool,
    now: DateTime<Utc>,
    stop: &AtomicBool,
    grants: &dyn GrantCheck,
) -> Result<SendSummary, SendError> {
    let from = &cfg.from;
    let mut outbox = Outbox::open_for_sending(data_dir)?;
    let accounts = store::accounts::open(data_dir)?;
    // The nightly sender runs alone (send.lock): whatever is sending was
    // left by a dead run. The website's mailers are one per server process:
    // only a lease that ran out says its claimer is gone.
    let recovered = match scope {
        Scope::Nightly => outbox.recover(scope)?,
        Scope::Website => Recovered {
            unknown: outbox.recover_expired(scope, now)?,
            given_back: 0,
        },
    };
    let mut summary = SendSummary {
        recovered: recovered.unknown,
        recovered_unsent: recovered.given_back,
        // Flags a run stopped before it wrote them (named as flagged now):
        // the nightly sender's to write, not the website's mailers', which
        // report nothing.
        flagged: match scope {
            Scope::Nightly => flagged(&write_flags(&mut outbox, &accounts, FlagsOf::All, now)?),
            Scope::Website => Vec::new(),
        },
        ..SendSummary::default()
    };

    if !now_flag && scope == Scope::Nightly && !cfg.window.is_open_at(now) {
        summary.outside_window = true;
        summary.count_states(&outbox, scope)?;
        return Ok(summary);
    }
    let due = outbox.due(scope, now, now_flag)?;
    summary.due = due.len() as u64;
    if due.is_empty() {
        summary.count_states(&outbox, scope)?;
        return Ok(summary);
    }

    relay_forgotten(&outbox, cfg, scope)?;
    let workers = cfg.relay.as_ref().map_or(1, |r| r.connections);
    let verp = match &cfg.bounce_address {
        Some(bounce) => Some((
            bounce.clone(),
            store::secret::load_or_create_key(data_dir).map_err(SendError::Key)?,
        )),
        None => None,
    };
    let mut transports: Vec<Box<dyn Transport>> = Vec::new();
    for _ in 0..workers {
        transports.push(match &cfg.relay {
            None => Box::new(EmlDir {
                root: data_dir.join("mail"),
            }),
            Some(relay) => Box::new(Smtp::new(relay, from, verp.clone())),
        });
    }

    let run = Run {
        flagged: Mutex::new(Reread::new(
            &accounts,
            StdDuration::ZERO,
            store::accounts::flagged_set,
        )?),
        switches: Mutex::new(Reread::new(
            &accounts,
            SWITCHES_FRESH,
            store::accounts::mailings_off,
        )?),
        outbox: Mutex::new(outbox),
        accounts: Mutex::new(accounts),
        summary: Mutex::new(summary),
        cfg,
        began: now,
        started: std::time::Instant::now(),
        window: (!now_flag && scope == Scope::Nightly).then_some(cfg.window),
        closed: AtomicBool::new(false),
    };
    // A re-run's item waits for its address's earlier one (`Outbox::due`):
    // once a pass has sent that, the next pass takes it, a pass per build
    // of the night at most.
    let mut due = due;
    let mut passes = 0;
    let mut tried: BTreeSet<i64> = BTreeSet::new();
    // Skipped by a claim, offered again: counted due once.
    let mut reoffered: BTreeSet<i64> = BTreeSet::new();
    store::failpoint::pause("send-before-claim");
    'passes: loop {
        tried.extend(due.iter().copied());
        // The website's mailers (one per server process) claim only what
        // their connections take at once: an item claimed and left waiting
        // behind slow deliveries could outlast its lease, and another
        // process would take it for abandoned and send it too.
        let per_claim = match scope {
            Scope::Nightly => 256,
            Scope::Website => transports.len().max(1),
        };
        for batch in due.chunks(per_claim) {
            if stop.load(Ordering::SeqCst) {
                lock(&run.summary).stopped = true;
                break 'passes;
            }
            // The clock as this batch is claimed: a run slowed by its relay
            // may have outlived the window, or a reminder's day.
            let now = run.now();
            if run.window_closed_at(now) {
                break 'passes;
            }
            // Flags recorded since (an `outbox retry`'s clearing whose
            // write failed, a website mailer's): written, and taken into
            // this run's set, which its own writes do not refresh.
            if scope == Scope::Nightly {
                let rows = write_flags(
                    &mut lock(&run.outbox),
                    &lock(&run.accounts),
                    FlagsOf::All,
                    now,
                )?;
                apply_flags(&mut lock(&run.flagged).value, &rows);
                lock(&run.summary).flagged.extend(flagged(&rows));
            }
            // Claim the batch (sending, or suppressed) in one commit.
            let (claimed, waiting) =
                {
                    // The flags as they are now, not as the run began: an
                    // import beside it clears an address's flag with a clerk's
                    // new grant, then queues that grant's mail, which a flag
                    // read before would suppress (lost: nothing tells it
                    // again). Every item of this batch was queued after its
                    // address's flag was cleared.
                    let mut flagged = lock(&run.flagged);
                    let flagged = flagged.now(&lock(&run.accounts))?;
                    // The switches as they are now (at most half a minute
                    // old), not as the night's mail was queued: an unsubscribe
                    // since holds.
                    let mut switches = lock(&run.switches);
                    let switches = switches.now(&lock(&run.accounts))?;
                    // In order over the connections: after a crash, what they
                    // cannot have taken goes back as it was (nightly: one
                    // sender at a time, `Outbox::recover`).
                    let connections = (scope == Scope::Nightly).then_some(transports.len());
                    let mut waiting = 0;
                    // (with no reminder days, no address keeps reminders)
                    let mut off = |email: &str, mailing: Mailing| {
                        (mailing == Mailing::Reminders && cfg.reminder_days.is_empty())
                            || switches.get(email).is_some_and(|m| m.off(mailing))
                    };
                    let claimed = lock(&run.outbox).claim_for(batch, now, connections, |item| {
                        match plan_claim(item, flagged, &mut off, grants, cfg.window, now) {
                            Ok(event) => Some(event),
                            Err(Wait::ForCase) => {
                                waiting += 1;
                                None
                            }
                            Err(Wait::Unchecked) => None,
                        }
                    })?;
                    (claimed, waiting)
                };
            // What could not be claimed (an expiry warning whose grant mail
            // this claim took before it) may be taken by a later pass, once
            // that mail's outcome is known.
            for id in &claimed.skipped {
                tried.remove(id);
                reoffered.insert(*id);
            }
            {
                let mut summary = lock(&run.summary);
                summary.suppressed += claimed.suppressed.len() as u64;
                for _ in &claimed.covered {
                    summary.count(Event::Covered);
                }
                for _ in &claimed.unsubscribed {
                    summary.count(Event::Unsubscribed);
                }
                summary.waits(Wait::ForCase, waiting);
                summary.waits(Wait::Unchecked, claimed.left.len() as u64 - waiting);
                for _ in &claimed.outdated {
                    summary.count(Event::Outdated);
                }
                for item in claimed.unreadable {
                    summary.count(Event::Unreadable);
                    summary.unreadable.push(item);
                }
            }
            store::failpoint::pause("send-after-mark");
            let halt = || stop.load(Ordering::SeqCst) || run.closed.load(Ordering::SeqCst);
            let Left {
                unstarted,
                error,
                silent,
            } = deliver_all(
                &mut transports,
                claimed.items,
                &halt,
                &|item| run.cleared(item, grants),
                &|item, outcome| run.record(item, outcome),
            );
            let mut outbox = lock(&run.outbox);
            // No relay saw these (asked to stop, or an error ended the
            // run): given back as they were, they are not taken for mail
            // that may have gone (`recover` would make them unknown, marked
            // so for life). If that fails too, `recover` takes them.
            let given_back = outbox.withdraw(&unstarted);
            if let Some(e) = error {
                return Err(SendError::Stopped {
                    cause: Box::new(e),
                    not_started: unstarted.len(),
                    given_back: given_back.is_ok(),
                });
            }
            let n = given_back?;
            outbox.settle(scope)?;
            if run.closed.load(Ordering::SeqCst) {
                lock(&run.summary).left_for_window += n;
                break 'passes;
            }
            if silent {
                let mut summary = lock(&run.summary);
                summary.silent_relay = true;
                summary.not_tried += n;
                break 'passes;
            }
            if !unstarted.is_empty() {
                let mut summary = lock(&run.summary);
                summary.withdrawn += n;
                summary.stopped = true;
                break 'passes;
            }
        }
        passes += 1;
        // What this pass tried is sent, or waits for a later try: what is due
        // now was held back by it (or queued meanwhile).
        // Not again what this run tried already (a retry comes in a later
        // run).
        let mut next = lock(&run.outbox).due(scope, run.now(), now_flag)?;
        next.retain(|id| !tried.contains(id));
        if next.is_empty() || passes >= MAX_PASSES {
            break;
        }
        lock(&run.summary).due += next.iter().filter(|id| !reoffered.contains(id)).count() as u64;
        due = next;
    }
    let end = run.now();
    let mut summary = run.summary.into_inner().expect("summary");
    let outbox = run.outbox.into_inner().expect("outbox");
    summary.window_closed = run.closed.into_inner();
    if summary.window_closed {
        // All that waits for the next window, claimed or not.
        summary.still_due = outbox.due(scope, end, now_flag)?.len() as u64;
    }
    // A relay that took mail: a run without one must not write files in
    // this data directory from now on.
    if let Some(relay) = cfg.relay.as_ref().filter(|_| summary.sent > 0) {
        outbox.note_relay(&format!("{}:{}", relay.host, relay.port), now)?;
    }
    summary.count_states(&outbox, scope)?;
    Ok(summary)
}

/// Passes over what is due in one run: the first, and one per re-run
/// build of a night whose items waited for the build before.
const MAX_PASSES: usize = 8;

/// A run's shared state: the outbox, where each outcome is committed before
/// the connection that delivered it takes its next message.
struct Run<'a> {
    outbox: Mutex<Outbox>,
    accounts: Mutex<Connection>,
    /// The flagged addresses ([`Reread`]).
    flagged: Mutex<Reread<BTreeSet<String>>>,
    /// Who turned a mailing off ([`Reread`]).
    switches: Mutex<Reread<std::collections::HashMap<String, store::accounts::Mailings>>>,
    summary: Mutex<SendSummary>,
    cfg: &'a MailSettings,
    /// The time the run was given as its start, and the moment it began:
    /// [`Run::now`] runs on from there.
    began: DateTime<Utc>,
    started: std::time::Instant,
    /// The send window, if this run keeps to it (a nightly run without
    /// `--now`).
    window: Option<crate::config::Window>,
    /// Set once the window has closed: nothing more is handed over.
    closed: AtomicBool,
}

impl Run<'_> {
    /// The time now, as the run's given start plus the time since (a test
    /// gives a start, and the run's clock runs on from it).
    fn now(&self) -> DateTime<Utc> {
        self.began
            + chrono::Duration::from_std(self.started.elapsed()).unwrap_or(chrono::Duration::zero())
    }

    /// Whether the window this run keeps to is closed at `now`; once it
    /// is, it stays so for the run (`closed`).
    fn window_closed_at(&self, now: DateTime<Utc>) -> bool {
        if self.closed.load(Ordering::SeqCst) {
            return true;
        }
        let closed = self.window.is_some_and(|w| !w.is_open_at(now));
        if closed {
            self.closed.store(true, Ordering::SeqCst);
        }
        closed
    }

    /// Whether a claimed item may be handed to a relay now: any but a
    /// grant mail; a grant mail if `grants` still says so
    /// ([`GrantCheck::before_delivery`]). One it no longer does is
    /// withheld; one it cannot tell, or one naming a case left out of the
    /// snapshot, is given back as it was (never sent unchecked), counted
    /// as at a claim.
    fn cleared(&self, item: &Item, grants: &dyn GrantCheck) -> Result<bool, SendError> {
        // As it is handed over, not as it was claimed: a slow relay can
        // hold a claimed batch past the window's end, or past a reminder's
        // day, whose 「明天」 would then mislead. Given back as it was: the
        // next window sends it, or finds a reminder too late.
        let now = self.now();
        let late = item.kind == Kind::Reminder
            && past_its_day(&item.night, item.queued_at, self.cfg.window, now);
        if self.window_closed_at(now) || late {
            let n = lock(&self.outbox).withdraw(std::slice::from_ref(item))?;
            lock(&self.summary).left_for_window += n;
            return Ok(false);
        }
        if !GRANT_KINDS.contains(&item.kind) {
            return Ok(true);
        }
        let granted = grants.before_delivery(item);
        match granted {
            Granted::Yes => Ok(true),
            Granted::No => {
                if lock(&self.outbox).recall(item, now)? {
                    let mut summary = lock(&self.summary);
                    summary.count(Event::Recalled);
                    summary.recalled += 1;
                }
                Ok(false)
            }
            Granted::CannotTell | Granted::Later => {
                let n = lock(&self.outbox).withdraw(std::slice::from_ref(item))?;
                if let Some(why) = granted.wait() {
                    lock(&self.summary).waits(why, n);
                }
                Ok(false)
            }
        }
    }

    /// Decides what an outcome makes of an item and records it.
    fn record(&self, item: &Item, outcome: Outcome) -> Result<(), SendError> {
        let unreachable = matches!(outcome, Outcome::Unreachable(_));
        let (refused, undeliverable, tried_again) = match &outcome {
            Outcome::Rejected(e) => (Some(e.clone()), None, None),
            Outcome::Undeliverable(e) => (None, Some(e.clone()), None),
            Outcome::Transient(e) | Outcome::Unreachable(e) | Outcome::Unknown(e) => {
                (None, None, Some(e.clone()))
            }
            _ => (None, None, None),
        };
        let now = self.now();
        let d = decide(item, outcome, self.cfg, now, jitter());
        let recorded = d.recorded(item.id);
        // The address to flag goes in the outcome's commit, then to the
        // accounts database (`write_flags`): a stop between the two leaves
        // it for the next run to write.
        let flag = d.flag.as_deref().map(|r| (item.email.as_str(), r));
        lock(&self.outbox).record_flagging(&recorded, flag, now)?;
        store::failpoint::pause("send-after-record");
        if d.flag.is_some() {
            let rows = write_flags(
                &mut lock(&self.outbox),
                &lock(&self.accounts),
                FlagsOf::Address(&item.email),
                now,
            )?;
            apply_flags(&mut lock(&self.flagged).value, &rows);
        }
        let mut summary = lock(&self.summary);
        summary.count(d.event);
        summary.unreachable += u64::from(unreachable);
        if let (Event::Deferred | Event::Uncertain, Some(e)) = (d.event, &recorded.error) {
            *summary.not_delivered.entry(e.clone()).or_default() += 1;
        }
        if let (Event::Expired, Some(e)) = (d.event, tried_again) {
            *summary.given_up.entry(e).or_default() += 1;
            summary.given_up_unreachable += u64::from(unreachable);
        }
        if let Some(e) = refused {
            *summary.refused.entry(e).or_default() += 1;
        }
        if let Some(e) = undeliverable {
            *summary.undeliverable.entry(e).or_default() += 1;
        }
        if let Some(reason) = d.flag {
            summary.flagged.push((item.email.clone(), reason));
        }
        Ok(())
    }
}

/// Writes the flags the outbox holds to write (a 5xx's, a delivery
/// report's, an `outbox retry`'s clearing, each recorded in the commit of
/// what decided it; or what a run stopped between that commit and this one
/// left) of `of` to the accounts database, under the outbox's write lock
/// ([`Outbox::write_flags`]). Returns the rows written. Shared by `send`,
/// `cpor-etl bounces` and `cpor-etl outbox retry`.
pub fn write_flags(
    outbox: &mut Outbox,
    accounts: &Connection,
    of: FlagsOf<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<FlagToWrite>, SendError> {
    outbox.write_flags(of, |flag| {
        match &flag.reason {
            Some(reason) => store::accounts::flag(accounts, &flag.email, reason, now)?,
            None => store::accounts::unflag(accounts, &flag.email)?,
        }
        Ok::<_, SendError>(())
    })
}

/// Of written flags, the addresses flagged, with why.
pub fn flagged(rows: &[FlagToWrite]) -> Vec<(String, String)> {
    rows.iter()
        .filter_map(|r| r.reason.clone().map(|why| (r.email.clone(), why)))
        .collect()
}

/// What a run reads from the accounts database, read again once another
/// connection has changed it (`PRAGMA data_version`; this run's own writes
/// do not change it) and `min_age` has passed since the last read: the
/// flagged addresses at once (`min_age` zero; this run's own flags are
/// added as it writes them, [`apply_flags`]); who turned a mailing off
/// (`store::accounts::mailings_off`) at most every [`SWITCHES_FRESH`], one
/// pass over the accounts, where a look-up for each digest claimed, inside
/// the claim, made a national send about 4 % slower (BENCHMARKS, "Before
/// and after the fifty-third session").
struct Reread<T> {
    version: i64,
    read_at: std::time::Instant,
    min_age: StdDuration,
    read: fn(&Connection) -> rusqlite::Result<T>,
    value: T,
}

impl<T> Reread<T> {
    fn new(
        conn: &Connection,
        min_age: StdDuration,
        read: fn(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Reread<T>> {
        Ok(Reread {
            version: data_version(conn)?,
            read_at: std::time::Instant::now(),
            min_age,
            read,
            value: read(conn)?,
        })
    }

    fn now(&mut self, conn: &Connection) -> rusqlite::Result<&T> {
        if self.read_at.elapsed() >= self.min_age && data_version(conn)? != self.version {
            *self = Reread::new(conn, self.min_age, self.read)?;
        }
        Ok(&self.value)
    }
}

/// This run's own flag writes, onto the flagged addresses it holds (they
/// do not change `data_version`).
fn apply_flags(flagged: &mut BTreeSet<String>, rows: &[FlagToWrite]) {
    for row in rows {
        match row.reason {
            Some(_) => flagged.insert(row.email.clone()),
            None => flagged.remove(&row.email),
        };
    }
}

/// How old who turned a mailing off may be when the accounts database has
/// changed (a website writes it at every sign-in): an unsubscribe holds
/// for mail claimed half a minute after it.
const SWITCHES_FRESH: StdDuration = StdDuration::from_secs(30);

fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "data_version", |r| r.get(0))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("a sender thread panicked")
}

/// A random number in [0, 1] for the backoff's jitter.
fn jitter() -> f64 {
    let r = random_bytes::<2>().map_or(0x8000, u16::from_le_bytes);
    f64::from(r) / f64::from(u16::MAX)
}

/// Sends items over the transports (one thread each), each once `cleared`
/// lets it go (just before it is handed over; an item it holds back it has
/// dealt with); `done` records each
/// outcome before the thread takes its next item, so at most one message
/// per connection is delivered but not recorded at any moment. One slow or
/// failing address holds up one connection, never the others. Stops at the
/// first error `cleared` or `done` returns; once `stop` is set, or after
/// that error, no thread starts another message.
fn deliver_all(
    transports: &mut [Box<dyn Transport>],
    items: Vec<Item>,
    stop: &(dyn Fn() -> bool + Sync),
    cleared: &(dyn Fn(&Item) -> Result<bool, SendError> + Sync),
    done: &(dyn Fn(&Item, Outcome) -> Result<(), SendError> + Sync),
) -> Left {
    // One item over one transport: `cleared` asked when the transport is
    // about to hand it over; an error it meets ends the run, as `done`'s.
    // Returns that error, if one came, with the item if no relay saw it
    // (`cleared`'s error), not if it was handed over (`done`'s: its
    // outcome unrecorded, it may have gone).
    // A relay found silent on one connection: no connection starts
    // another message (each would wait the greeting timeout for nothing).
    let silent = AtomicBool::new(false);
    let stop = || stop() || silent.load(Ordering::SeqCst);
    let one = |t: &mut Box<dyn Transport>, item: Item| -> Option<(SendError, Option<Item>)> {
        let mut failed = None;
        let outcome = t.deliver(&item, &mut || {
            cleared(&item).unwrap_or_else(|e| {
                failed = Some(e);
                false
            })
        });
        if t.silent() {
            silent.store(true, Ordering::SeqCst);
        }
        match (failed, outcome) {
            (Some(e), _) => Some((e, Some(item))),
            (None, Some(outcome)) => done(&item, outcome).err().map(|e| (e, None)),
            (None, None) => None,
        }
    };
    if transports.len() == 1 {
        let t = &mut transports[0];
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            if stop() {
                return Left::stopped(std::iter::once(item).chain(items).collect())
                    .silent(silent.load(Ordering::SeqCst));
            }
            if let Some((e, back)) = one(t, item) {
                return Left {
                    unstarted: back.into_iter().chain(items).collect(),
                    error: Some(e),
                    silent: false,
                };
            }
        }
        return Left::stopped(Vec::new()).silent(silent.load(Ordering::SeqCst));
    }
    let (work_tx, work_rx) = mpsc::channel::<Item>();
    let work_rx = Mutex::new(work_rx);
    for item in items {
        work_tx.send(item).expect("receiver alive");
    }
    drop(work_tx);
    let failed: Mutex<Left> = Mutex::new(Left::stopped(Vec::new()));
    std::thread::scope(|scope| {
        for t in transports.iter_mut() {
            let (work_rx, failed, one, stop) = (&work_rx, &failed, &one, &stop);
            scope.spawn(move || loop {
                if lock(failed).error.is_some() || stop() {
                    break;
                }
                let next = lock(work_rx).recv();
                let Ok(item) = next else { break };
                if let Some((e, back)) = one(t, item) {
                    let mut failed = lock(failed);
                    failed.error.get_or_insert(e);
                    failed.unstarted.extend(back);
                    break;
                }
            });
        }
    });
    let mut left = failed.into_inner().expect("failed");
    left.unstarted
        .extend(work_rx.into_inner().expect("work").try_iter());
    left.silent(silent.load(Ordering::SeqCst))
}

/// What `deliver_all` did not finish: the items no relay saw (never
/// started, or held back by an error of `cleared`), to be given back; and
/// the error that ended it, if one did (else it was asked to stop, or
/// `unstarted` is empty).
struct Left {
    unstarted: Vec<Item>,
    error: Option<SendError>,
    /// A connection found the relay silent (`Transport::silent`): the run
    /// started no more messages.
    silent: bool,
}

impl Left {
    fn stopped(unstarted: Vec<Item>) -> Left {
        Left {
            unstarted,
            error: None,
            silent: false,
        }
    }

    fn silent(self, silent: bool) -> Left {
        Left { silent, ..self }
    }
}

/// When to try again after `attempts` attempts: base × 2^(attempts−1),
/// at most six hours, ±20% jitter (`jitter` 0 → −20%, 1 → +20%).
fn backoff(cfg: &MailSettings, attempts: i64, now: DateTime<Utc>, jitter: f64) -> DateTime<Utc> {
    let base = cfg.retry_base.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 20) as i32);
    let capped = base.min(6.0 * 3600.0);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    now + Duration::milliseconds((capped * factor * 1000.0) as i64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A claimed digest as `decide` and the transports see it (the
    /// outbox's tests use it too).
    pub(crate) fn item(state: State, attempts: i64, first_try_at: DateTime<Utc>) -> Item {
        Item {
            id: 1,
            night: "20261123".into(),
            email: "a@example.com".into(),
            kind: crate::Kind::Digest,
            state,
            message_id: "<x@y>".into(),
            reference: String::new(),
            message: Vec::new(),
            attempts,
            first_try_at,
            queued_at: first_try_at,
            case_keys: Vec::new(),
        }
    }

    /// Which switch holds a due item back (the mail-links review of the
    /// fifty-third session): a reminder's, a digest's, and for a digest to
    /// an address that keeps only reminders (its link `list=reminders`)
    /// both; grant mail goes whatever they say.
    #[test]
    fn an_unsubscribe_since_queueing_holds_back_the_mailing_it_turned_off() {
        let t = Utc::now();
        let mail = |kind, list: &str| {
            let mut i = item(State::Queued, 0, t);
            i.kind = kind;
            i.message = format!(
                "To: a@example.com\r\nList-Unsubscribe: <http://x/unsubscribe?email=a&token=1{list}>\r\n\r\nbody &list=reminders>"
            )
            .into_bytes();
            i
        };
        let digest = mail(Kind::Digest, "");
        let for_reminders = mail(Kind::Digest, "&list=reminders");
        let reminder = mail(Kind::Reminder, "&list=reminders");
        let activation = mail(Kind::Activation, "");
        // A digest that cancels a hearing (the review of the session's
        // change): to an address that keeps reminders it goes.
        let with_ics = |method: &str, sequence: u32| {
            let mut i = item(State::Queued, 0, t);
            i.message = format!(
                "To: a@example.com\r\nList-Unsubscribe: <http://x/unsubscribe?email=a&token=1>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n消息\r\n\
                 --b\r\nContent-Type: text/calendar; method={method}; charset=utf-8\r\n\
                 Content-Disposition: attachment; filename=\"h.ics\"\r\n\r\n\
                 BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\nSEQUENCE:{sequence}\r\n\
                 END:VEVENT\r\nEND:VCALENDAR\r\n--b--\r\n"
            )
            .into_bytes();
            i
        };
        let cancelling = with_ics("CANCEL", 1);
        assert!(changes_a_hearing(&cancelling.message));
        assert!(changes_a_hearing(&with_ics("REQUEST", 2).message));
        assert!(!changes_a_hearing(&with_ics("REQUEST", 0).message));
        assert!(!changes_a_hearing(&digest.message));
        for (digests_off, reminders_off, want) in [
            (false, false, [false, false, false, false, false]),
            (true, false, [true, false, false, false, false]),
            (false, true, [false, false, true, false, false]),
            (true, true, [true, true, true, false, true]),
        ] {
            let mut off = |email: &str, m: Mailing| {
                assert_eq!(email, "a@example.com");
                match m {
                    Mailing::Digests => digests_off,
                    Mailing::Reminders => reminders_off,
                }
            };
            let got = [&digest, &for_reminders, &reminder, &activation, &cancelling]
                .map(|i| unsubscribed(i, &mut off));
            assert_eq!(
                got, want,
                "digests off {digests_off}, reminders off {reminders_off}"
            );
        }
    }

    /// An error of `cleared` (a recall that could not be written) ends the
    /// run like one of `done`: the item it held back comes back with those
    /// never started, to be given back; every other item was handed over
    /// and recorded, and no file was written for one that came back. Over
    /// one connection and over two.
    #[test]
    fn an_error_gives_back_the_item_it_held_and_those_never_started() {
        for connections in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let mut transports: Vec<Box<dyn Transport>> = (0..connections)
                .map(|_| {
                    Box::new(EmlDir {
                        root: dir.path().to_path_buf(),
                    }) as Box<dyn Transport>
                })
                .collect();
            let now = Utc::now();
            let items: Vec<Item> = (1..=6)
                .map(|id| {
                    let mut it = item(State::Queued, 0, now);
                    it.id = id;
                    it.email = format!("p{id}@example.com");
                    it
                })
                .collect();
            let recorded = Mutex::new(Vec::new());
            let left = deliver_all(
                &mut transports,
                items,
                &|| false,
                &|it| match it.id {
                    3 => Err(SendError::Key(std::io::Error::other("disk full"))),
                    _ => Ok(true),
                },
                &|it, outcome| {
                    assert_eq!(outcome, Outcome::Sent);
                    lock(&recorded).push(it.id);
                    Ok(())
                },
            );
            assert!(
                matches!(&left.error, Some(SendError::Key(e)) if e.to_string() == "disk full"),
                "{connections}"
            );
            let mut back: Vec<i64> = left.unstarted.iter().map(|it| it.id).collect();
            back.sort();
            let mut sent = recorded.into_inner().unwrap();
            sent.sort();
            assert!(back.contains(&3), "{connections}: {back:?}");
            if connections == 1 {
                assert_eq!(
                    (sent.as_slice(), back.as_slice()),
                    (&[1, 2][..], &[3, 4, 5, 6][..])
                );
            }
            let mut all: Vec<i64> = sent.iter().chain(&back).copied().collect();
            all.sort();
            assert_eq!(all, [1, 2, 3, 4, 5, 6], "{connections}: each once");
            let written = |id: i64| {
                dir.path()
                    .join("20261123")
                    .join(format!("digest-p{id}@example.com.eml"))
                    .exists()
            };
            for id in 1..=6 {
                assert_eq!(written(id), sent.contains(&id), "{connections}: {id}");
            }
        }
    }

    /// Without a relay, each item is a file of its own: a re-run's digest
    /// of the night beside the night's first, a website mail by its
    /// reference; nothing overwrites another.
    #[test]
    fn eml_files_of_one_address_and_night_do_not_overwrite_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut eml = EmlDir {
            root: dir.path().to_path_buf(),
        };
        let now = Utc::now();
        for (kind, reference, body) in [
            (crate::Kind::Digest, "", "first"),
            (crate::Kind::Digest, "build-2", "second"),
            (crate::Kind::Reset, "0a1b2c3d", "reset"),
        ] {
            let mut it = item(State::Queued, 1, now);
            it.kind = kind;
            it.reference = reference.into();
            it.message = body.as_bytes().to_vec();
            assert_eq!(eml.deliver(&it, &mut || true), Some(Outcome::Sent));
        }
        let night = dir.path().join("20261123");
        let mut names: Vec<String> = fs::read_dir(&night)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "digest-a@example.com-build-2.eml",
                "digest-a@example.com.eml",
                "reset-a@example.com-0a1b2c3d.eml"
            ]
        );
        assert_eq!(
            fs::read(night.join("digest-a@example.com.eml")).unwrap(),
            b"first"
        );
    }

    /// A review of hostile data (the forty-sixth session): two addresses
    /// that differ only in characters a file name cannot hold as they are
    /// (`a#b@…`, `a/b@…`) had one file: the second overwrote the first,
    /// both counted sent. Such an address's file also carries a digest of
    /// the address.
    #[test]
    fn eml_files_of_addresses_a_file_name_cannot_tell_apart_are_two() {
        let dir = tempfile::tempdir().unwrap();
        let mut eml = EmlDir {
            root: dir.path().to_path_buf(),
        };
        for email in ["a#b@example.com", "a/b@example.com", "a_b@example.com"] {
            let mut it = item(State::Queued, 1, Utc::now());
            it.email = email.into();
            it.message = email.as_bytes().to_vec();
            assert_eq!(eml.deliver(&it, &mut || true), Some(Outcome::Sent));
        }
        let night = dir.path().join("20261123");
        let mut bodies: Vec<String> = fs::read_dir(&night)
            .unwrap()
            .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        bodies.sort();
        assert_eq!(
            bodies,
            ["a#b@example.com", "a/b@example.com", "a_b@example.com"]
        );
        // An address a file name holds as it is keeps its plain name.
        assert!(night.join("digest-a_b@example.com.eml").exists());
    }

    /// A reminder of a day is past it from the end of that day's send
    /// window (Asia/Taipei), unless it was queued after that end (an
    /// operator's catch-up); other kinds never are.
    #[test]
    fn a_reminder_is_past_its_day_from_the_end_of_that_days_window() {
        let w = Window {
            start: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            end: chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        };
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Queued at 01:40 Taipei on the 24th; its window ends 21:00 there,
        // 13:00 UTC.
        let queued = at("2026-11-23T17:40:00Z");
        assert!(!past_its_day(
            "20261124",
            queued,
            w,
            at("2026-11-24T12:59:59Z")
        ));
        assert!(past_its_day(
            "20261124",
            queued,
            w,
            at("2026-11-24T13:00:00Z")
        ));
        assert!(past_its_day(
            "20261124",
            queued,
            w,
            at("2026-12-02T01:00:00Z")
        ));
        // Queued after that window: meant to go late, but only on the
        // (Asia/Taipei) day it was queued (an operator's catch-up, 08:00
        // on 12/02 there): after it, its 明天 would name the wrong day
        // (review: a relay down kept such a reminder retrying for days).
        let catch_up = at("2026-12-02T00:00:00Z");
        assert!(!past_its_day(
            "20261124",
            catch_up,
            w,
            at("2026-12-02T01:00:00Z")
        ));
        assert!(!past_its_day(
            "20261124",
            catch_up,
            w,
            at("2026-12-02T15:59:59Z")
        ));
        assert!(past_its_day(
            "20261124",
            catch_up,
            w,
            at("2026-12-02T16:00:00Z")
        ));
        assert!(past_its_day(
            "20261124",
            catch_up,
            w,
            at("2026-12-05T01:00:00Z")
        ));
        assert!(!past_its_day(
            "not a day",
            queued,
            w,
            at("2026-12-02T01:00:00Z")
        ));
        let mut late = item(State::Retrying, 3, queued);
        late.night = "20261124".into();
        let none = BTreeSet::new();
        let now = at("2026-11-25T00:00:00Z");
        let yes = |_: &Item| Granted::Yes;
        assert_eq!(
            plan_claim(&late, &none, &mut |_, _| false, &yes, w, now),
            Ok(Event::Claim),
            "a digest"
        );
        // An address no longer granted: its digest goes (a prosecutor's
        // address has no grant), its grant kinds do not; when the live
        // snapshot cannot tell, its digest goes and its grant kinds wait.
        let email = late.email.clone();
        let ungranted = move |i: &Item| {
            if i.email == email {
                Granted::No
            } else {
                Granted::Yes
            }
        };
        let cannot_tell = |_: &Item| Granted::CannotTell;
        let later = |_: &Item| Granted::Later;
        for check in [&ungranted as &dyn GrantCheck, &cannot_tell, &later] {
            assert_eq!(
                plan_claim(&late, &none, &mut |_, _| false, check, w, now),
                Ok(Event::Claim)
            );
        }
        for kind in GRANT_KINDS {
            late.kind = kind;
            assert_eq!(
                plan_claim(&late, &none, &mut |_, _| false, &ungranted, w, now),
                Ok(Event::Ungranted),
                "{kind:?}"
            );
            assert_eq!(
                plan_claim(&late, &none, &mut |_, _| false, &cannot_tell, w, now),
                Err(Wait::Unchecked)
            );
            assert_eq!(
                plan_claim(&late, &none, &mut |_, _| false, &later, w, now),
                Err(Wait::ForCase)
            );
            let flagged = BTreeSet::from([late.email.clone()]);
            for check in [&cannot_tell as &dyn GrantCheck, &later] {
                assert_eq!(
                    plan_claim(&late, &flagged, &mut |_, _| false, check, w, now),
                    Ok(Event::Suppress),
                    "a flagged address's mail is suppressed, checked or not"
                );
            }
        }
        late.kind = crate::Kind::Reminder;
        assert_eq!(
            plan_claim(&late, &none, &mut |_, _| false, &yes, w, now),
            Ok(Event::Outdated)
        );
        let flagged = BTreeSet::from([late.email.clone()]);
        assert_eq!(
            plan_claim(&late, &flagged, &mut |_, _| false, &yes, w, now),
            Ok(Event::Outdated),
            "past before flagged"
        );
    }

    proptest! {
        /// What an outcome makes of an item: sent only when accepted; a 5xx
        /// fails and flags; a temporary or unknown outcome is tried again
        /// after base × 2^(attempts−1) (at most 6 h) ± 20%, until the
        /// deadline, then fails; every decision is a transition from
        /// sending in the table, and says whether the outcome was unknown.
        #[test]
        fn decide_follows_the_retry_policy(
            outcome in 0u8..7,
            attempts in 1i64..40,
            hours_since_first in 0i64..100,
            jitter in 0.0f64..=1.0,
            was_unknown in any::<bool>(),
        ) {
            let cfg = MailSettings::default();
            let now = DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z").unwrap().with_timezone(&Utc);
            let first = now - Duration::hours(hours_since_first);
            let state = if was_unknown { State::Unknown } else { State::Retrying };
            let outcome = match outcome {
                0 => Outcome::Sent,
                1 => Outcome::Transient("451".into()),
                2 => Outcome::Permanent("550".into()),
                3 => Outcome::Unreachable("relay: connection refused".into()),
                4 => Outcome::Rejected("554 5.7.1 relay access denied".into()),
                5 => Outcome::Undeliverable("552 5.2.2 mailbox full".into()),
                _ => Outcome::Unknown("timed out".into()),
            };
            let d = decide(&item(state, attempts, first), outcome.clone(), &cfg, now, jitter);
            prop_assert!(crate::outbox::next(State::Sending, d.event).is_some());
            // The relay may have taken it exactly when no answer came to
            // its data, given up on or not (`outbox retry` trusts this).
            prop_assert_eq!(d.unknown_outcome, matches!(outcome, Outcome::Unknown(_)));
            let recorded = d.recorded(7);
            prop_assert_eq!(
                (recorded.id, recorded.event, recorded.unknown_outcome),
                (7, d.event, d.unknown_outcome)
            );
            let past = now - first >= cfg.retry_for;
            match outcome {
                Outcome::Sent => prop_assert_eq!(
                    (d.event, d.error, d.next_try, d.flag),
                    (Event::Accepted, None, None, None)
                ),
                Outcome::Permanent(_) => {
                    prop_assert_eq!(d.event, Event::Refused);
                    prop_assert!(d.flag.is_some() && d.next_try.is_none());
                }
                Outcome::Rejected(_) | Outcome::Undeliverable(_) => {
                    prop_assert_eq!(d.event, Event::Refused);
                    prop_assert!(d.flag.is_none() && d.next_try.is_none());
                }
                Outcome::Transient(_) | Outcome::Unreachable(_) | Outcome::Unknown(_) if past => {
                    prop_assert_eq!(d.event, Event::Expired);
                    prop_assert!(d.next_try.is_none() && d.flag.is_none());
                    prop_assert!(d.error.unwrap().starts_with("gave up after"));
                }
                Outcome::Transient(_) | Outcome::Unreachable(_) | Outcome::Unknown(_) => {
                    let want = if !matches!(outcome, Outcome::Unknown(_)) {
                        Event::Deferred
                    } else {
                        Event::Uncertain
                    };
                    prop_assert_eq!(d.event, want);
                    let base = cfg.retry_base.as_secs_f64()
                        * 2f64.powi((attempts - 1).clamp(0, 20) as i32);
                    let wait = (d.next_try.unwrap() - now).num_milliseconds() as f64 / 1000.0;
                    let capped = base.min(6.0 * 3600.0);
                    prop_assert!(wait >= capped * 0.8 - 0.001 && wait <= capped * 1.2 + 0.001, "{}", wait);
                    prop_assert!(d.flag.is_none());
                }
            }
        }
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        assert_eq!(dot_stuffed("a\r\n.b\r\n..c"), "a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuffed(".x"), "..x\r\n.\r\n");
        assert_eq!(dot_stuffed("no dots.\r\n"), "no dots.\r\n\r\n.\r\n");
    }
}
