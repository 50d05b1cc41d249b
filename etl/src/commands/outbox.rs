//! `cpor-etl outbox list|show|release|retry`: what the outbox holds and
//! what administrators may do with it.

use anyhow::{anyhow, bail, Result};
use rusqlite::{params, OptionalExtension};

use crate::config::Config;
use mail::outbox::counts_by_state;

pub enum Action {
    List {
        night: Option<String>,
        state: Option<String>,
    },
    Show {
        id: i64,
    },
    Release {
        night: String,
    },
    Retry {
        id: Option<i64>,
        failed: bool,
    },
}

pub fn run(config: &Config, action: Action) -> Result<i32> {
    let outbox = mail::outbox::open(&config.data_dir)?;
    match action {
        Action::List { night, state } => {
            let mut stmt = outbox.prepare(
                "SELECT id, night, kind, state, email, attempts, coalesce(next_try_at, not_before), subject
                 FROM items WHERE (?1 IS NULL OR night = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id",
            )?;
            let rows = stmt.query_map(params![night, state], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?;
            println!(
                "{:>6} {:<8} {:<10} {:<10} {:>3} {:<25} {:<32} subject",
                "id", "night", "kind", "state", "try", "next", "address"
            );
            for row in rows {
                let (id, night, kind, state, email, attempts, next, subject) = row?;
                println!("{id:>6} {night:<8} {kind:<10} {state:<10} {attempts:>3} {next:<25} {email:<32} {subject}");
            }
            let counts = counts_by_state(&outbox, night.as_deref()).map_err(|e| anyhow!(e))?;
            let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
            println!(
                "total: {}",
                if counts.is_empty() {
                    "empty".into()
                } else {
                    counts.join(", ")
                }
            );
            Ok(0)
        }
        Action::Show { id } => {
            let row = outbox
                .query_row(
                    "SELECT night, kind, state, email, message_id, attempts, queued_at, not_before,
                     first_try_at, next_try_at, sent_at, last_error, message FROM items WHERE id = ?1",
                    [id],
                    |r| {
                        let text = |i| r.get::<_, Option<String>>(i).map(|v| v.unwrap_or_else(|| "-".into()));
                        Ok((
                            [
                                ("night", text(0)?),
                                ("kind", text(1)?),
                                ("state", text(2)?),
                                ("address", text(3)?),
                                ("message-id", text(4)?),
                                ("attempts", r.get::<_, i64>(5)?.to_string()),
                                ("queued", text(6)?),
                                ("not before", text(7)?),
                                ("first try", text(8)?),
                                ("next try", text(9)?),
                                ("sent", text(10)?),
                                ("last error", text(11)?),
                            ],
                            r.get::<_, Vec<u8>>(12)?,
                        ))
                    },
                )
                .optional()?;
            let Some((fields, message)) = row else {
                eprintln!("cpor-etl: no outbox item {id}");
                return Ok(crate::commands::EXIT_NOT_FOUND);
            };
            for (name, value) in fields {
                println!("{name:>11}: {value}");
            }
            println!();
            print!("{}", String::from_utf8_lossy(&message));
            Ok(0)
        }
        Action::Release { night } => {
            let n = outbox.execute(
                "UPDATE items SET state = 'queued' WHERE night = ?1 AND state = 'held'",
                [&night],
            )?;
            outbox.execute(
                "UPDATE held_nights SET released_at = ?2 WHERE night = ?1 AND released_at IS NULL",
                params![night, chrono::Utc::now().to_rfc3339()],
            )?;
            println!("released {n} held digests of night {night}; `cpor-etl send` delivers them");
            Ok(0)
        }
        Action::Retry { id, failed } => {
            let (sql, what) = match (id, failed) {
                (Some(_), _) => (
                    "id = ?1 AND state IN ('failed', 'unknown', 'retrying', 'suppressed')",
                    "item",
                ),
                (None, true) => ("?1 IS NULL AND state = 'failed'", "failed items"),
                (None, false) => bail!("say which: an item id, or --failed"),
            };
            let emails: Vec<String> = {
                let mut stmt = outbox.prepare(&format!("SELECT email FROM items WHERE {sql}"))?;
                let rows = stmt.query_map([id], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let n = outbox.execute(
                &format!(
                    "UPDATE items SET state = 'queued', attempts = 0, first_try_at = NULL, next_try_at = NULL
                     WHERE {sql}"
                ),
                [id],
            )?;
            // Retrying by hand is a decision to write to the address again.
            let accounts = store::accounts::open(&config.data_dir)?;
            for email in &emails {
                accounts.execute("DELETE FROM flagged_addresses WHERE email = ?1", [email])?;
            }
            println!("queued {n} {what} again");
            Ok(if n == 0 {
                crate::commands::EXIT_NOT_FOUND
            } else {
                0
            })
        }
    }
}
