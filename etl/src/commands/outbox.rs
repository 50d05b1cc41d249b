//! `cpor-etl outbox list|show|release|retry`: what the outbox holds and
//! what administrators may do with it (through `mail::outbox`, which owns
//! its tables).

use anyhow::{bail, Result};

use crate::config::Config;
use mail::outbox::{Outbox, RetryWhich};

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
    let mut outbox = Outbox::open(&config.data_dir)?;
    match action {
        Action::List { night, state } => {
            let items = outbox.list(night.as_deref(), state.as_deref())?;
            println!(
                "{:>6} {:<8} {:<10} {:<10} {:>3} {:<25} {:<32} subject",
                "id", "night", "kind", "state", "try", "next", "address"
            );
            for i in items {
                println!(
                    "{:>6} {:<8} {:<10} {:<10} {:>3} {:<25} {:<32} {}",
                    i.id,
                    i.night,
                    i.kind.as_str(),
                    i.state.as_str(),
                    i.attempts,
                    i.next,
                    i.email,
                    i.subject
                );
            }
            let counts = outbox.counts_by_state(night.as_deref())?;
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
            let Some(shown) = outbox.show(id)? else {
                eprintln!("cpor-etl: no outbox item {id}");
                return Ok(crate::commands::EXIT_NOT_FOUND);
            };
            for (name, value) in shown.fields {
                println!("{name:>11}: {value}");
            }
            println!();
            print!("{}", String::from_utf8_lossy(&shown.message));
            Ok(0)
        }
        Action::Release { night } => {
            let n = outbox.release(&night, chrono::Utc::now())?;
            println!("released {n} held digests of night {night}; `cpor-etl send` delivers them");
            Ok(0)
        }
        Action::Retry { id, failed } => {
            let (which, what) = match (id, failed) {
                (Some(id), _) => (RetryWhich::Item(id), "item"),
                (None, true) => (RetryWhich::Failed, "failed items"),
                (None, false) => bail!("say which: an item id, or --failed"),
            };
            let emails = outbox.retry(which)?;
            // Retrying by hand is a decision to write to the address again.
            let accounts = store::accounts::open(&config.data_dir)?;
            for email in &emails {
                accounts.execute("DELETE FROM flagged_addresses WHERE email = ?1", [email])?;
            }
            let n = emails.len();
            println!("queued {n} {what} again");
            Ok(if n == 0 {
                crate::commands::EXIT_NOT_FOUND
            } else {
                0
            })
        }
    }
}
