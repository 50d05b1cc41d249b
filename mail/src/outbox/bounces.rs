//! Delivery reports that come back after the relay accepted a message
//! (`cpor-etl bounces`): finding the item a report is about, and marking it
//! failed (`Event::Bounced`).

use rusqlite::{params, OptionalExtension};

use super::state::{sql_sources, target, Event, State};
use super::{parse_kind, parse_state, Outbox, Result};
use crate::kind::Kind;

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
    /// is failed, with the report's words. Returns whether it changed (an
    /// item already failed, or never sent, stays as it is).
    pub fn bounced(&self, id: i64, reason: &str) -> Result<bool> {
        Ok(self.conn.execute(
            &format!(
                "UPDATE items SET state = ?2, last_error = ?3, next_try_at = NULL
                 WHERE id = ?1 AND state IN {}",
                sql_sources(Event::Bounced)
            ),
            params![id, target(Event::Bounced).as_str(), reason],
        )? > 0)
    }
}
