//! The administrators' commands, one module each: `case`, `dump`,
//! `snapshots`, `rollback`, `send`, `outbox`, `bounces`. Each takes the configuration
//! (or the data directory) and its own arguments and returns the process
//! exit code.

/// `println!` for a command's output: a reader gone away (`cpor-etl
/// outbox list | head -1`) is not worth a panic (Rust's `println!` panics
/// on a closed pipe); what the command does is done all the same.
/// What it prints is [`shown`]: court text drives no terminal.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stdout(), "{}", $crate::commands::shown(&text));
    }};
}

/// `eprintln!` as `say!` writes standard output: standard error's reader
/// gone (`2>&1 | head`), what is said is lost and the command ends with
/// its own code (std's panics: exit 101, a code in no table; the admin
/// review of the fifty-second session). Defined before the modules, it is
/// the one they use; `cpor-etl`'s `main` imports it.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `print!` likewise ([`say`]).
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = write!(std::io::stdout(), "{}", $crate::commands::shown(&text));
    }};
}

pub mod bounces;
pub mod case;
pub mod dump;
pub mod forget;
pub mod outbox;
pub mod rollback;
pub mod send;
pub mod snapshots;

use std::collections::HashMap;

use anyhow::{anyhow, Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use crate::model::CaseData;
use crate::snapshot::read::Snapshot;
use schemas::date::{compact, parse_batch_date, roc};
use store::layout::Store;

/// `s` after a count other than one, in what the commands print.
pub fn plural<N: TryInto<u64>>(n: N) -> &'static str {
    match n.try_into() {
        Ok(1) => "",
        _ => "s",
    }
}

/// Exit code when the case asked for is not in the snapshot.
pub const EXIT_NOT_FOUND: i32 = 4;

/// A command's lock as taken: `None` when another run holds it, said on
/// standard error (exit [`crate::import::exit::LOCKED`], nothing changed).
/// The import lock (`Store::lock`) is taken by every command that changes
/// what an import or a catch-up works from: `rollback`, and `outbox
/// forget` and `rediff`, which change a night whose mail a running
/// catch-up may be queueing; `send` takes its own (`Store::send_lock`).
pub fn take(
    lock: Result<store::layout::Lock, store::layout::LockError>,
) -> Result<Option<store::layout::Lock>> {
    match lock {
        Ok(lock) => Ok(Some(lock)),
        Err(e @ store::layout::LockError::Held { .. }) => {
            eprintln!("cpor-etl: {e}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes to standard output; a reader that went away (`| head`) is not an
/// error worth a message or a panic.
pub fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out
        .write_all(shown(text).as_bytes())
        .and_then(|()| out.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `text` as a terminal may be given it: a control character (a court's
/// field may hold `ESC [ 2 J`, which clears the screen, or `ESC [ 1 A`,
/// which climbs over a line already printed) is written as its escape,
/// `\u{1b}`; line feeds, tabs and a CR before a line feed (a raw
/// message's line ends) stay as they are.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    // Copied only from the first character written as its escape.
    let mut out: Option<String> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let kept = !c.is_control() || c == '\n' || c == '\t' || (c == '\r' && next == Some('\n'));
        match (&mut out, kept) {
            (Some(out), true) => out.push(c),
            (None, true) => {}
            (out, false) => out
                .get_or_insert_with(|| text[..at].to_string())
                .extend(c.escape_unicode()),
        }
    }
    out.map_or(std::borrow::Cow::Borrowed(text), std::borrow::Cow::Owned)
}

/// Opens the live snapshot, or the newest kept build of `date`, after
/// checking its content against the checksum recorded when it was
/// published: nothing is printed from a damaged file.
pub fn open_snapshot(store: &Store, date: Option<&str>) -> Result<Snapshot> {
    let file = match date {
        Some(d) => {
            let date: NaiveDate =
                parse_batch_date(d).ok_or_else(|| anyhow!("--date `{d}` is not YYYYMMDD"))?;
            store.find(date)?.ok_or_else(|| {
                anyhow!(
                    "no kept snapshot of {} in {}",
                    compact(date),
                    store.snapshots_dir().display()
                )
            })?
        }
        None => store.live()?.ok_or_else(|| {
            anyhow!(
                "no live snapshot in {} (run `cpor-etl import <BATCH_DIR>` first)",
                store.root.display()
            )
        })?,
    };
    store.verify(&file).map_err(|e| {
        // A kept snapshot that is not live: the site is not affected, and
        // importing its night again (`REPLACE_DAMAGED`'s advice for the
        // live one) would put that older night live.
        let live = store.live().ok().flatten().filter(|l| l.path != file.path);
        match live {
            Some(live) => anyhow!(
                "{e}. The live site is not affected (it serves {}); to read this night again, {}",
                live.name(),
                store::layout::RESTORE
            ),
            None => anyhow!("{e}. {}", store::layout::REPLACE_DAMAGED),
        }
    })?;
    Snapshot::open(&file).with_context(|| format!("opening {}", file.path.display()))
}

/// A case as administrators see it (`case` and `dump`).
#[derive(Debug, Serialize)]
pub struct CaseJson<'a> {
    pub court: &'a str,
    pub category: &'a str,
    pub year: u32,
    pub word: &'a str,
    pub number: u32,
    pub division: &'a str,
    pub status: &'a str,
    pub status_date: Option<String>,
    pub queryable: bool,
    pub as_of: String,
    /// Left out of its court's files that night: the version kept from the
    /// snapshot before (`as_of` its data's date), for the next night's
    /// comparison only, not shown on the site; said only when so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left_out: bool,
    pub entries: Vec<EntryJson<'a>>,
    pub grants: Vec<GrantJson<'a>>,
    pub prosecutors: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct EntryJson<'a> {
    pub seq: u32,
    pub posted: String,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct GrantJson<'a> {
    pub email: &'a str,
    pub role: &'a str,
    pub approved: String,
}

impl<'a> CaseJson<'a> {
    pub fn new(court: &'a str, as_of: NaiveDate, c: &'a CaseData) -> CaseJson<'a> {
        CaseJson {
            court,
            category: &c.key.category,
            year: c.key.year,
            word: &c.key.word,
            number: c.key.number,
            division: &c.division,
            status: &c.status,
            status_date: c.status_date.map(roc),
            queryable: c.queryable,
            as_of: roc(c.as_of.unwrap_or(as_of)),
            left_out: c.as_of.is_some(),
            entries: c
                .entries
                .iter()
                .map(|e| EntryJson {
                    seq: e.seq,
                    posted: roc(e.posted),
                    text: &e.text,
                })
                .collect(),
            grants: c
                .grants
                .iter()
                .map(|g| GrantJson {
                    email: &g.email,
                    role: &g.role,
                    approved: roc(g.approved),
                })
                .collect(),
            prosecutors: &c.prosecutors,
        }
    }
}

/// Each court's as-of date.
pub fn as_of_by_court(snapshot: &Snapshot) -> Result<HashMap<String, NaiveDate>> {
    Ok(snapshot
        .courts()?
        .into_iter()
        .map(|c| (c.code, c.as_of))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::shown;
    use std::borrow::Cow;

    #[test]
    fn a_control_character_is_shown_as_its_escape_and_line_ends_stay() {
        assert!(matches!(shown("民事\t115\r\n訴\n"), Cow::Borrowed(_)));
        assert_eq!(
            shown("a\r\nb\u{1b}[2J\rc\u{9b}"),
            "a\r\nb\\u{1b}[2J\\u{d}c\\u{9b}"
        );
        assert_eq!(shown("\u{1b}"), "\\u{1b}");
    }
}
