//! Hearing reminders in the outbox: which (address, hearing, time, lead)
//! were reminded (`reminded`), which snapshot each day's reminders came from
//! (`reminder_runs`), and queueing a day's reminders in one transaction
//! with those records, so a reminder is never queued twice, whatever
//! re-runs or crashes happen.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension};

use super::floors::Floor;
use super::{NewItem, Outbox, OutboxError, Result, Scope, State, QUEUED_AS};
use crate::kind::Kind;
use schemas::date::compact;

/// A reminder given: (address, hearing UID, starts YYYYMMDDHHMMSS, lead
/// in days).
pub type Reminded = (String, String, i64, u32);

/// One reminder to queue: the rendered item, its state, when it may go,
/// and the hearings it covers as (UID, starts, lead).
pub struct NewReminder {
    pub item: NewItem,
    pub state: State,
    pub not_before: DateTime<Utc>,
    pub hearings: Vec<(String, i64, u32)>,
}

/// What queueing a day's reminders did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RemindersQueued {
    pub added: u64,
    /// The address already had its reminder that day.
    pub already: u64,
}

impl Outbox {
    /// The reminders given for hearings starting at or after `from`
    /// (YYYYMMDDHHMMSS).
    pub fn reminded_since(&self, from: i64) -> Result<BTreeSet<Reminded>> {
        let mut stmt = self
            .conn
            .prepare("SELECT email, uid, starts, lead FROM reminded WHERE starts >= ?1")?;
        let rows = stmt.query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The addresses that have their reminder of `day` already.
    pub fn reminded_on(&self, day: NaiveDate) -> Result<BTreeSet<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT email FROM items WHERE night = ?1 AND kind = ?2")?;
        let rows = stmt.query_map(params![compact(day), Kind::Reminder.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `day`'s reminders queued for its send window (before `end`, the
    /// window's end) and not sent: queued, or retrying (no relay took
    /// them). `adopt_at`: an operator's catch-up on that very day (`send
    /// --today`) takes them as its own, queued at that time, so that they
    /// go that day, late, as one it queued itself would
    /// (`send::past_its_day`): the nightly job queues the day's reminders
    /// at 00:31, and when no `send` ran in the window they were failed as
    /// too late (the operator's runbook review of the forty-ninth
    /// session). `None`: only counted. Returns how many.
    pub fn unsent_reminders(
        &self,
        day: NaiveDate,
        end: DateTime<Utc>,
        adopt_at: Option<DateTime<Utc>>,
    ) -> Result<u64> {
        let which = format!(
            "WHERE night = ?1 AND kind = ?2 AND state IN ('{}', '{}') AND queued_at < ?3",
            State::Queued.as_str(),
            State::Retrying.as_str()
        );
        let (night, kind, end) = (compact(day), Kind::Reminder.as_str(), end.to_rfc3339());
        Ok(match adopt_at {
            Some(at) => self.conn.execute(
                &format!("UPDATE items SET queued_at = ?4 {which}"),
                params![night, kind, end, at.to_rfc3339()],
            )? as u64,
            None => self.conn.query_row(
                &format!("SELECT count(*) FROM items {which}"),
                params![night, kind, end],
                |r| r.get::<_, i64>(0),
            )? as u64,
        })
    }

    /// Whether `day`'s reminders were worked out from `snapshot` already.
    pub fn reminders_done(&self, day: NaiveDate, snapshot: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM reminder_runs WHERE day = ?1 AND snapshot = ?2",
                params![compact(day), snapshot],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Queues `day`'s reminders, worked out from `snapshot`, in one
    /// transaction: each item (at most one per address and day: the outbox
    /// key), the hearings it covers, the record that the day was done
    /// from that snapshot, and the SEQUENCE floors its calendar files set
    /// (`floors`). An address that already has its reminder of the
    /// day gets nothing more, and its hearings are not recorded.
    pub fn queue_reminders(
        &mut self,
        day: NaiveDate,
        snapshot: &str,
        reminders: impl IntoIterator<Item = NewReminder>,
        floors: &[Floor],
        now: DateTime<Utc>,
    ) -> Result<RemindersQueued> {
        let night = compact(day);
        let queued_at = now.to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut done = RemindersQueued::default();
        for r in reminders {
            if r.item.kind != Kind::Reminder || r.item.kind.scope() != Scope::Nightly {
                return Err(OutboxError::Misqueued {
                    kind: r.item.kind,
                    how: "as a reminder",
                });
            }
            if !QUEUED_AS.contains(&r.state) || r.state == State::Held {
                return Err(OutboxError::Misqueued {
                    kind: r.item.kind,
                    how: "in that state",
                });
            }
            let added = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO items (night, email, kind, state, message_id, subject,
                     message, coding, cases, queued_at, not_before)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    night,
                    r.item.email,
                    r.item.kind.as_str(),
                    r.state.as_str(),
                    r.item.message_id,
                    r.item.subject,
                    r.item.message.stored(),
                    r.item.message.coding().as_str(),
                    r.item.cases as i64,
                    queued_at,
                    r.not_before.to_rfc3339()
                ])?;
            if added == 0 {
                done.already += 1;
                continue;
            }
            done.added += 1;
            let mut record = tx.prepare_cached(
                "INSERT OR IGNORE INTO reminded (email, uid, starts, lead, day)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (uid, starts, lead) in &r.hearings {
                record.execute(params![r.item.email, uid, starts, lead, night])?;
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO reminder_runs (day, snapshot, at) VALUES (?1, ?2, ?3)",
            params![night, snapshot, queued_at],
        )?;
        super::floors::raise(&tx, floors, day)?;
        store::failpoint::pause("reminders-before-commit");
        tx.commit()?;
        Ok(done)
    }
}
