//! Delivery reports that come back after the relay accepted a message
//! (`cpor-etl bounces`): finding the item a report is about, and marking it
//! failed (`Event::Bounced`), if the report came in the time real ones do
//! ([`REPORTS_COME_WITHIN`]).

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::state::{next, sql_sources, target, Event, State};
use super::{parse_kind, parse_state, Outbox, Result};
use crate::kind::Kind;

/// How long after an item was last handed over a report about it is
/// believed. A relay that took a message and cannot deliver it gives up
/// after about five days (Postfix's `maximal_queue_lifetime`, sendmail's
/// `Timeout.queuereturn`; RFC 5321 4.5.4.1 asks at least four or five),
/// and the report, mail like any other, may wait about as long again to
/// reach the bounce address (our own MX down). A report that comes later
/// is about no attempt a relay was still trying: its VERP address, or the
/// Message-ID it quotes, is known to whoever saw the message (an address
/// it is forwarded to reads its Return-Path), and believing it would let
/// them flag the address at any time.
pub const REPORTS_COME_WITHIN: Duration = Duration::days(10);

/// What a delivery report did to its item ([`Outbox::bounced`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounced {
    /// Failed by it.
    Failed,
    /// Left as it was: failed already.
    AlreadyFailed,
    /// Left as it was: not sent now (queued again, waiting, suppressed):
    /// the report is about an earlier attempt.
    NotSentNow,
    /// Left as it was, the report not recorded: the item is being sent,
    /// so what the report is about is not settled yet; read it again later.
    Sending,
    /// Read before (outbox migration 21): it did what it does then.
    ReadBefore,
    /// Left as it was: the report came more than [`REPORTS_COME_WITHIN`]
    /// after the item was last handed over (`last`), too late to be a
    /// relay's.
    TooOld { last: DateTime<Utc> },
}

/// An item a delivery report may be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub id: i64,
    pub night: String,
    pub email: String,
    pub kind: Kind,
    pub state: State,
    pub message_id: String,
}

impl Outbox {
    /// The item with this id.
    pub fn item(&self, id: i64) -> Result<Option<Reported>> {
        self.reported("id = ?1", id)
    }

    /// The item with this Message-ID (with its angle brackets).
    pub fn item_by_message_id(&self, message_id: &str) -> Result<Option<Reported>> {
        self.reported("message_id = ?1", message_id)
    }

    fn reported(&self, condition: &str, value: impl rusqlite::ToSql) -> Result<Option<Reported>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT id, night, email, kind, state, message_id FROM items WHERE {condition}"
                ),
                [value],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, night, email, kind, state, message_id)) = row else {
            return Ok(None);
        };
        Ok(Some(Reported {
            id,
            night,
            email,
            kind: parse_kind(id, &kind)?,
            state: parse_state(id, &state)?,
            message_id,
        }))
    }

    /// A report says the item failed for good after the relay took it: it
    /// is failed, with the report's words, and (if `flag`: the report says
    /// the address is bad) its address recorded to flag in the same commit
    /// (`flags_to_write`), if it is *sent* or *unknown*, and the report
    /// came (`arrived`) within [`REPORTS_COME_WITHIN`] of the item's last
    /// attempt (its time sent, or the latest it was tried; an item none of
    /// whose times is known is believed, as before they were kept).
    /// The report (`report`: 16 bytes of the SHA-256 of the message as
    /// delivered) is recorded against the item whatever it did, and one
    /// read before changes nothing (outbox migration 21: read again after
    /// an administrator retried the item and it went, it is about the
    /// attempt before); but not while the item is *sending*, whose attempt
    /// the report may be about: read again later, it may apply.
    pub fn bounced(
        &mut self,
        id: i64,
        reason: &str,
        flag: bool,
        report: &[u8; 16],
        arrived: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Bounced> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let read = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM bounce_reports WHERE item_id = ?1 AND report = ?2)",
            params![id, &report[..]],
            |r| r.get::<_, bool>(0),
        )?;
        if read {
            return Ok(Bounced::ReadBefore);
        }
        let item: Option<(String, [Option<String>; 3])> = tx
            .query_row(
                "SELECT state, sent_at, tried_at, first_try_at FROM items WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?])),
            )
            .optional()?;
        // The item's last attempt, when the report came too long after it.
        let too_old = item.and_then(|(state, times)| {
            let last = times
                .iter()
                .flatten()
                .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .max()?;
            let would_fail =
                State::parse(&state).is_some_and(|s| next(s, Event::Bounced).is_some());
            (would_fail && arrived - last > REPORTS_COME_WITHIN).then_some(last)
        });
        let failed_now: Option<String> = match too_old {
            Some(_) => None,
            None => tx
                .query_row(
                    &format!(
                        "UPDATE items SET state = ?2, last_error = ?3, next_try_at = NULL
                         WHERE id = ?1 AND state IN {} RETURNING email",
                        sql_sources(Event::Bounced)
                    ),
                    params![id, target(Event::Bounced).as_str(), reason],
                    |r| r.get(0),
                )
                .optional()?,
        };
        let outcome = match (failed_now, too_old) {
            (_, Some(last)) => Bounced::TooOld { last },
            (Some(email), None) => {
                if flag {
                    super::delivery::to_flag(&tx, &email, Some(reason), now)?;
                }
                Bounced::Failed
            }
            (None, None) => {
                let state: Option<String> = tx
                    .query_row("SELECT state FROM items WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?;
                match state.as_deref().and_then(State::parse) {
                    Some(State::Sending) => return Ok(Bounced::Sending),
                    Some(State::Failed) => Bounced::AlreadyFailed,
                    _ => Bounced::NotSentNow,
                }
            }
        };
        tx.execute(
            "INSERT INTO bounce_reports (item_id, report, at) VALUES (?1, ?2, ?3)",
            params![id, &report[..], now.to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(outcome)
    }
}
