//! The outbox database (`<data>/outbox.sqlite`): the durable queue between
//! whoever decides to write to someone (the nightly import, the website) and
//! the mail server, and the only code that writes it.
//!
//! Its tables are `items` (one rendered message each, with its state),
//! `expiry_warned`, `held_nights`, `pending_nights`, `outcomes`, the
//! hearing reminders' `reminded` and `reminder_runs`, the calendar
//! files' SEQUENCE floors, `calendar_floors` (`floors`), and the
//! snapshots whose calendar files were told, `told_snapshots`. Every write to them
//! is an operation here: queue a night (`Outbox::begin_night`, one
//! transaction with the end of the night's pending record), queue a website mail
//! (`queue_website`), claim what is due and record each outcome
//! (`delivery`), release a held night, retry, list, empty the bodies of
//! old sent mail (`admin`). States and kinds are enums; the legal changes
//! of state are the table in `state`.
//! (`mail/tests/one_owner.rs` checks that no other file writes these tables.)

mod admin;
mod bounces;
mod delivery;
mod floors;
mod packed;
mod reminders;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use schemas::date::compact;

pub use self::admin::{
    Fate, Forgot, ForgotItem, Listed, Retried, RetryWhich, Rollback, RolledBack, Shown, Stale,
    Teller, Undone, ROLLED_BACK, SUPERSEDED,
};
pub use self::bounces::{Bounced, Reported, REPORTS_COME_WITHIN};
pub use self::delivery::{
    behind_for, drop_flag_to_write, lease, may_wait_behind, Claimed, FlagToWrite, FlagsOf, Item,
    Outcome, Recorded, Recovered, Unreadable, UNGRANTED_WHY, UNREADABLE_HELP,
};
pub use self::floors::{
    calendar_content, floor_of_uid, lifted, serve_sequence, Floor, Lifted, FLOOR_DAYS,
};
pub use self::packed::{unpack, unpack_kept, Packed, EMPTIED};
pub use self::reminders::{NewReminder, Reminded, RemindersQueued};
pub use self::state::{next, sources, target, Event, State, QUEUED_AS, TRANSITIONS};
pub use crate::kind::{Kind, Scope};

pub const OUTBOX_DB: &str = "outbox.sqlite";

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Open(#[from] schemas::MigrateError),
    #[error("outbox: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("outbox item {id}: {event:?} cannot happen in state {found}")]
    Illegal {
        id: i64,
        event: Event,
        found: String,
    },
    #[error("outbox: a {kind} mail cannot be queued {how}")]
    Misqueued { kind: Kind, how: &'static str },
    /// An outcome recorded as unknown (no answer to the data) must be
    /// `Uncertain` or `Expired`, and an `Uncertain` one unknown.
    #[error(
        "outbox item {id}: an outcome {event:?} {} unknown",
        if *unknown { "cannot be" } else { "must be" }
    )]
    UnknownOutcome {
        id: i64,
        event: Event,
        unknown: bool,
    },
    #[error("outbox item {id}: message unreadable ({reason})")]
    Unreadable { id: i64, reason: String },
    #[error("outbox item {id}: `{value}` is no {what} this build knows")]
    Unknown {
        id: i64,
        what: &'static str,
        value: String,
    },
}

type Result<T, E = OutboxError> = std::result::Result<T, E>;

/// Opens the outbox of a data directory, migrating it: the website's
/// handle, which it passes back to `web::queue`.
pub fn open(data_dir: &Path) -> Result<Connection> {
    Ok(schemas::open_migrated(
        &data_dir.join(OUTBOX_DB),
        schemas::OUTBOX_MIGRATIONS,
    )?)
}

/// The outbox, open.
pub struct Outbox {
    conn: Connection,
}

/// A message to queue, rendered.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub email: String,
    pub kind: Kind,
    pub message_id: String,
    pub subject: String,
    /// Packed where it was rendered ([`Packed::new`]); the website's mail
    /// as sent ([`Packed::plain`]).
    pub message: Packed,
    /// How many cases it reports.
    pub cases: usize,
    /// The cases an activation, approval or expiry warning names
    /// (`CaseRef::id`), so that one a later snapshot no longer grants its
    /// address is withheld ([`Outbox::grant_mail_to_check`]); empty for
    /// the other kinds.
    pub case_keys: Vec<String>,
    /// An expiry warning's: the Message-ID of the night's activation or
    /// approval to the same address that shows each of its cases' last
    /// day. The warning waits for that mail (two hours at most,
    /// `behind_for`) and is not sent if it was (`Event::Covered`). `None`
    /// for every other item, and for a warning whose two hours would end
    /// after its day's send window (`may_wait_behind`).
    pub behind: Option<String>,
}

/// [`Outbox::grant_mail_to_check`]'s queries: through the partial
/// indexes of outbox migration 14, whose conditions they repeat word for
/// word; `INDEXED BY` makes a query that could not use its index an error,
/// not a scan of the table. `?1` the night, `?2` an address.
const GRANT_MAIL_OF: &str = "SELECT id, night, email, kind, state, case_keys, ref, told_by
     FROM items INDEXED BY items_grant_mail
     WHERE email = ?2 AND case_keys IS NOT NULL AND state IN ('queued', 'retrying', 'unknown')
       AND night <= ?1";
const GRANT_MAIL_UNTOLD: &str = "SELECT id, night, email, kind, state, untold, ref, told_by
     FROM items INDEXED BY items_untold
     WHERE untold IS NOT NULL AND night <= ?1";

/// The change of state that withholds a grant mail (`event`: item `?1`
/// not sent becomes `?2`, suppressed, with the reason `?3`, withheld at
/// `?4`), leaving `untold` the cases still to tell: its own when `send`
/// withholds it ([`UNTOLD_BY_SEND`]), none (`NULL`) when a night's mail
/// that tells them does. `Event::Ungranted` takes an item not claimed;
/// `Event::Recalled` one a sender holds with no outcome recorded, its
/// attempt uncounted (nothing was tried), as `Outbox::withdraw` does.
fn withhold_sql(event: Event, untold: &str) -> String {
    let held = if event == Event::Recalled {
        format!(", {UNCLAIMED}")
    } else {
        String::new()
    };
    format!(
        "UPDATE items SET state = ?2, last_error = ?3, next_try_at = NULL, untold = {untold},
         withheld_at = ?4{held}
         WHERE id = ?1 AND state IN {} AND {NO_OUTCOME}",
        state::sql_sources(event)
    )
}

/// What `send` leaves to tell of a grant mail it withholds: the cases it
/// names, for the next night's mail to tell those still granted; none if
/// a night's mail told them already, having looked the mail up just before
/// a sender claimed it (`told_by`, outbox migration 16;
/// `NightQueue::withhold`).
pub(crate) const UNTOLD_BY_SEND: &str = "CASE WHEN told_by IS NULL THEN case_keys END";

/// What undoes a claim of an item never handed over (`Outbox::withdraw`,
/// `Outbox::recall`): its attempt uncounted, its first try forgotten if
/// this was to be it, its lease and its time tried (`tried_at`) gone.
pub(crate) const UNCLAIMED: &str = "attempts = attempts - 1,
     first_try_at = CASE WHEN attempts = 1 THEN NULL ELSE first_try_at END,
     lease_until = NULL, tried_at = NULL";

/// Item `?1` has no recorded outcome waiting to be settled (one that has
/// was handed over: only `settle` moves it on).
pub(crate) const NO_OUTCOME: &str = "NOT EXISTS (SELECT 1 FROM outcomes WHERE item_id = ?1)";

/// Case ids as `items.case_keys` holds them: one per line, NULL for none.
fn case_keys_column(keys: &[String]) -> Option<String> {
    (!keys.is_empty()).then(|| keys.join("\n"))
}

/// `items.ref` of the mail a night's build queues: empty for the night's
/// own mail (its first build's, or a build's not compared with an earlier
/// one), `build-N` for the re-run `rerun` (what it adds to the night).
pub fn build_reference(rerun: Option<u32>) -> String {
    rerun.map_or(String::new(), |b| format!("build-{b}"))
}

/// `items.ref` of the grant mail a run that is not a re-run queues for
/// grants the night's grant mail of its other builds does not name (its
/// `n`th such mail to the address: `more-1`), beside that mail.
pub fn more_reference(n: u32) -> String {
    format!("more-{n}")
}

/// The `n` of a [`more_reference`].
pub fn more_number(reference: &str) -> Option<u32> {
    reference.strip_prefix("more-")?.parse().ok()
}

/// What `items.told_by` says of the mail of night `night` (YYYYMMDD)
/// queued under `reference`: the night, and the build of a re-run's
/// (`20261123 build-2`). [`teller`] reads it back.
fn told_by(night: &str, reference: &str) -> String {
    if reference.is_empty() {
        night.to_string()
    } else {
        format!("{night} {reference}")
    }
}

/// The night and reference of the mail an `items.told_by` names
/// ([`told_by`]): the one reader of its format.
pub fn teller(told_by: &str) -> (&str, &str) {
    told_by.split_once(' ').unwrap_or((told_by, ""))
}

/// The build whose mail an item's `ref` is ([`build_reference`]): 1 for
/// the night's own; `None` for a grant mail of its own
/// ([`more_reference`]), queued by a run compared with another snapshot
/// than the night's earlier build, whichever build it was.
pub fn reference_build(reference: &str) -> Option<u32> {
    if reference.is_empty() {
        return Some(1);
    }
    reference.strip_prefix("build-")?.parse().ok()
}

/// `items.case_keys` (or `untold`) read back.
fn case_keys_of(column: Option<String>) -> Vec<String> {
    column
        .map(|c| c.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// An activation or approval of another night ([`Outbox::grants_told_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToldAfter {
    pub id: i64,
    pub email: String,
    pub case_keys: Vec<String>,
    /// Queued or retrying: it goes only if `send` finds every case it
    /// names granted, else it is withheld.
    pub still_to_go: bool,
}

/// One of a night's activations, approvals and expiry warnings, of any
/// build and in any state ([`Outbox::night_grant_mail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightGrantMail {
    pub email: String,
    pub kind: Kind,
    pub reference: String,
    /// The cases it names; `None` for mail queued before outbox migration
    /// 14, which did not record them.
    pub case_keys: Option<Vec<String>>,
    /// Withheld for naming a case no longer granted (`withheld_at`).
    pub withheld: bool,
    /// The night's mail that told its cases still granted (`told_by`).
    pub told_by: Option<String>,
}

/// An earlier night's activation, approval or expiry warning that tonight's
/// grants must be checked against ([`Outbox::grant_mail_to_check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantMail {
    pub id: i64,
    pub night: String,
    pub email: String,
    pub kind: Kind,
    /// Its key's reference (`NightQueue::reference`).
    pub reference: String,
    /// The cases it names; if `withheld`, those of them still to be told.
    pub case_keys: Vec<String>,
    /// Already withheld by `cpor-etl send` (the live snapshot no longer
    /// granted one of them before this night's mail was queued): only its
    /// cases still granted are to be told.
    pub withheld: bool,
    /// The earlier night's mail (`20261123`, `20261123 build-2`) that told
    /// its cases still granted (`told_by`, outbox migration 16; listed
    /// here only if that night could not withhold it: a sender held it,
    /// or failed it): a night that withholds it tells none of them again.
    pub told_by: Option<String>,
}

/// A night whose mail is not queued yet: the snapshot it is about (`to`)
/// and the one it replaced (`from`; `None` on a first load). Recorded
/// before the snapshot is published; removed in the transaction that
/// queues the night's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNight {
    pub seq: i64,
    pub from: Option<String>,
    pub to: String,
    /// Its snapshot went live (`Outbox::mark_published`); a night not
    /// marked may still have (the run died before it marked it).
    pub published: bool,
}

/// A `pending_nights` row as `PendingNight`: `seq, from_snapshot,
/// to_snapshot, published`.
fn pending_night(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingNight> {
    Ok(PendingNight {
        seq: r.get(0)?,
        from: r.get(1)?,
        to: r.get(2)?,
        published: r.get(3)?,
    })
}

impl Outbox {
    /// Opens the outbox with full syncs: every commit survives a power
    /// failure (a pending night must, before its snapshot is published).
    pub fn open(data_dir: &Path) -> Result<Outbox> {
        Ok(Outbox {
            conn: open(data_dir)?,
        })
    }

    /// Opens the outbox for a sender: WAL with `synchronous = NORMAL`, so a
    /// commit (one per message outcome) survives a process kill without an
    /// fsync; a power failure may lose the last outcomes, which are then
    /// sent again (same Message-ID).
    pub fn open_for_sending(data_dir: &Path) -> Result<Outbox> {
        let conn = open(data_dir)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Outbox { conn })
    }

    /// The addresses a digest of `night` reaches or may still reach: one
    /// queued in any state but suppressed or failed.
    pub fn digests_reaching(&self, night: NaiveDate) -> Result<BTreeSet<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT email FROM items
             WHERE night = ?1 AND kind = ?2 AND state NOT IN (?3, ?4)",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![
                compact(night),
                Kind::Digest.as_str(),
                State::Suppressed.as_str(),
                State::Failed.as_str()
            ],
            |r| r.get::<_, String>(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What is already queued for `night`, by address, kind and reference.
    pub fn queued_for(&self, night: NaiveDate) -> Result<BTreeSet<(String, Kind, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, email, kind, ref FROM items WHERE night = ?1")?;
        let rows = stmt.query_map([compact(night)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = BTreeSet::new();
        for row in rows {
            let (id, email, kind, reference) = row?;
            out.insert((email, parse_kind(id, &kind)?, reference));
        }
        Ok(out)
    }

    /// The (address, reference) of `night`'s digests held by a rollback
    /// (`Outbox::hold_after_rollback`).
    pub fn held_by_rollback(&self, night: NaiveDate) -> Result<BTreeSet<(String, String)>> {
        self.digests_where(
            night,
            "i.state = ?3 AND EXISTS (SELECT 1 FROM held_nights h WHERE h.night = i.night
                 AND h.released_at IS NULL AND h.reason LIKE ?4)",
            (State::Held, format!("{ROLLED_BACK}%")),
        )
    }

    /// The (address, reference) of `night`'s digests that told nothing and
    /// never will: held by a rollback, or superseded by a build imported
    /// after one. A run that imports the night again does not take them for
    /// the night's mail (and queues under a reference of its own).
    pub fn untold_digests(&self, night: NaiveDate) -> Result<BTreeSet<(String, String)>> {
        let mut all = self.held_by_rollback(night)?;
        all.extend(self.digests_where(
            night,
            "i.state = ?3 AND i.last_error LIKE ?4",
            (State::Suppressed, format!("{SUPERSEDED}%")),
        )?);
        Ok(all)
    }

    fn digests_where(
        &self,
        night: NaiveDate,
        condition: &str,
        (state, pattern): (State, String),
    ) -> Result<BTreeSet<(String, String)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT i.email, i.ref FROM items i WHERE i.night = ?1 AND i.kind = ?2 AND {condition}"
        ))?;
        let rows = stmt.query_map(
            params![
                compact(night),
                Kind::Digest.as_str(),
                state.as_str(),
                pattern
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The activations and approvals to the addresses `wanted` takes of a
    /// night after `after` (YYYYMMDD) other than `tonight` that went, may
    /// have, or may still go (sent, sending, unknown; queued, retrying:
    /// `still_to_go`; not failed, suppressed or withheld), with the cases
    /// each names: a night rolled back past, or misdated, whose grants a
    /// night compared with `after` finds again (`notify::queue`,
    /// `Known::told_elsewhere`).
    pub fn grants_told_after(
        &self,
        after: &str,
        tonight: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<ToldAfter>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, email, case_keys, state IN ('{}', '{}') FROM items
             WHERE night > ?1 AND night <> ?2 AND kind IN (?3, ?4) AND withheld_at IS NULL
               AND state IN {}",
            State::Queued.as_str(),
            State::Retrying.as_str(),
            state::sql_list(&state::TOLD_OR_GOING),
        ))?;
        let rows = stmt.query_map(
            params![
                after,
                tonight,
                Kind::Activation.as_str(),
                Kind::Approval.as_str()
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, email, keys, still_to_go) = row?;
            if wanted(&email) {
                out.push(ToldAfter {
                    id,
                    email,
                    case_keys: case_keys_of(keys),
                    still_to_go,
                });
            }
        }
        Ok(out)
    }

    /// `night`'s activations, approvals and expiry warnings to the
    /// addresses `wanted` takes, of every build, in any state (sent,
    /// waiting, failed or withheld), with the cases each names.
    pub fn night_grant_mail(
        &self,
        night: NaiveDate,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<NightGrantMail>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, email, kind, ref, case_keys, withheld_at IS NOT NULL, told_by FROM items
             WHERE night = ?1 AND kind IN (?2, ?3, ?4)",
        )?;
        let rows = stmt.query_map(
            params![
                compact(night),
                Kind::Activation.as_str(),
                Kind::Approval.as_str(),
                Kind::Expiry.as_str()
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, email, kind, reference, case_keys, withheld, told_by) = row?;
            if !wanted(&email) {
                continue;
            }
            out.push(NightGrantMail {
                email,
                kind: parse_kind(id, &kind)?,
                reference,
                case_keys: case_keys.map(|c| case_keys_of(Some(c))),
                withheld,
                told_by,
            });
        }
        Ok(out)
    }

    /// Whether `night`'s digests are held by the flood guard and not
    /// released.
    pub fn held(&self, night: NaiveDate) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM held_nights WHERE night = ?1 AND released_at IS NULL",
                [compact(night)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The expiry warnings night `night` (YYYYMMDD) recorded as given to
    /// `email` in its warning under `reference` (and in any of its
    /// warnings, rows from before outbox migration 18): (case key, last
    /// day). Another build's warning of the night, of a last day its
    /// re-run moved, is not among them.
    pub fn warned_by(
        &self,
        night: &str,
        reference: &str,
        email: &str,
    ) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT case_key, last_day FROM expiry_warned
             WHERE email = ?1 AND night = ?2 AND (ref IS NULL OR ref = ?3)",
        )?;
        let rows = stmt.query_map(params![email, night, reference], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether `email` was told of a last day of the case `case_key` before
    /// `before` (YYYYMMDD): warned the case would stop then, or told it had
    /// stopped (`expiry_warned`, suppressed warnings too). One primary-key
    /// lookup.
    pub fn told_of_last_day_before(
        &self,
        email: &str,
        case_key: &str,
        before: i64,
    ) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM expiry_warned
             WHERE email = ?1 AND case_key = ?2 AND last_day < ?3)",
        )?;
        Ok(stmt.query_row(params![email, case_key, before], |r| r.get(0))?)
    }

    /// Whether an expiry mail to `email` naming the case `case_key` was
    /// queued by a night not after `last_day` (YYYYMMDD): warned in time,
    /// so that a later notice that the case has stopped is told because
    /// that mail was not delivered, not because the court posted late.
    /// (`expiry_warned` keeps the night a last day was told last, not
    /// first.) Looked up among the address's mail.
    pub fn warned_in_time(&self, email: &str, case_key: &str, last_day: i64) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM items
             WHERE email = ?1 AND kind = ?4 AND CAST(night AS INTEGER) <= ?3
             AND instr(char(10) || case_keys || char(10), char(10) || ?2 || char(10)) > 0)",
        )?;
        Ok(stmt.query_row(
            params![email, case_key, last_day, Kind::Expiry.as_str()],
            |r| r.get(0),
        )?)
    }

    /// The expiry warnings given to each (address, case key) of `pairs`:
    /// every last day warned of, and the one warned of last (outbox
    /// migration 22: rows from before it count as older, in night order),
    /// which a day moved back to one warned of before is warned of again
    /// against. Looked up pair by pair (the table holds every warning ever
    /// given; a night asks of the cases about to stop).
    pub fn warned<'p>(&self, pairs: impl IntoIterator<Item = (&'p str, String)>) -> Result<Warned> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT last_day FROM expiry_warned WHERE email = ?1 AND case_key = ?2
             ORDER BY warned_at IS NOT NULL, warned_at, night",
        )?;
        let mut warned = Warned::default();
        for (email, case) in pairs {
            let key = (email.to_string(), case);
            if warned.order.contains_key(&key) {
                continue;
            }
            let days: Vec<i64> = stmt
                .query_map(params![key.0, key.1], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<_>>()?;
            warned.order.insert(key, days);
        }
        Ok(warned)
    }

    /// Whether any activation, approval or expiry warning not sent yet
    /// (queued, retrying, unknown) is of another night or build than
    /// (`night`, `reference`): mail a sender must check against the live
    /// snapshot (`reference`: the live build's, empty for a first build).
    /// Read through the partial index of grant mail not sent yet: on an
    /// ordinary morning a handful of rows, on a first load's morning with
    /// the relay down, its activations (items from before migration 14 are
    /// not in it; a sender checks those all the same, when it meets them).
    pub fn has_grant_mail_besides(&self, night: &str, reference: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM items INDEXED BY items_grant_mail
             WHERE case_keys IS NOT NULL AND state IN ('queued', 'retrying', 'unknown')
               AND NOT (night = ?1 AND ref = ?2))",
            params![night, reference],
            |r| r.get(0),
        )?)
    }

    /// The activations, approvals and expiry warnings of nights up to
    /// `night`, of every build of it, that a night's grants must be checked
    /// against (none of a run's own mail is queued yet as it reads them: a
    /// night's mail of the same reference is another run's, of an earlier
    /// build, or of a build of the night before a rollback): those to `addresses` (a grant of
    /// theirs is gone tonight) not sent yet (queued, retrying, or unknown:
    /// perhaps not delivered), and those `send` withheld whose cases still
    /// granted are not told yet. Each names its cases; items from before
    /// migration 14 do not, and are not listed (`send` still withholds one
    /// whose address has no grant left). In id order; read through two
    /// partial indexes of a handful of rows.
    pub fn grant_mail_to_check<'a>(
        &self,
        night: NaiveDate,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<GrantMail>> {
        let night = compact(night);
        let mut out = Vec::new();
        let mut read = |r: &rusqlite::Row<'_>| -> Result<()> {
            let id: i64 = r.get(0)?;
            let state = parse_state(id, &r.get::<_, String>(4)?)?;
            out.push(GrantMail {
                id,
                night: r.get(1)?,
                email: r.get(2)?,
                kind: parse_kind(id, &r.get::<_, String>(3)?)?,
                reference: r.get(6)?,
                case_keys: case_keys_of(r.get(5)?),
                withheld: !sources(Event::Ungranted).contains(&state),
                told_by: r.get(7)?,
            });
            Ok(())
        };
        let mut of = self.conn.prepare_cached(GRANT_MAIL_OF)?;
        for email in addresses {
            let mut rows = of.query(params![night, email])?;
            while let Some(r) = rows.next()? {
                read(r)?;
            }
        }
        let mut untold = self.conn.prepare_cached(GRANT_MAIL_UNTOLD)?;
        let mut rows = untold.query(params![night])?;
        while let Some(r) = rows.next()? {
            read(r)?;
        }
        out.sort_by_key(|m| m.id);
        out.dedup_by_key(|m| m.id);
        Ok(out)
    }

    /// Starts queueing a night's mail: everything added commits at once,
    /// with the end of the night's pending record, or not at all. Its
    /// items are keyed (night, address, kind, `reference`): `reference` is
    /// empty for what a night's snapshot brings against an earlier night's,
    /// and names the build for what a re-run of the night brings against
    /// the night's earlier build (`NightQueue::reference`).
    pub fn begin_night(
        &mut self,
        night: NaiveDate,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<NightQueue<'_>> {
        Ok(NightQueue {
            tx: self.conn.transaction()?,
            night: compact(night),
            reference: reference.to_string(),
            queued_at: now.to_rfc3339(),
        })
    }
    /// Records, before a snapshot is published, that its night's mail is
    /// still to be queued. Recording the same snapshot again keeps one
    /// record, the latest.
    pub fn record_pending(
        &self,
        from: Option<&str>,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<PendingNight> {
        self.conn.execute(
            "INSERT OR REPLACE INTO pending_nights (to_snapshot, from_snapshot, recorded_at)
             VALUES (?1, ?2, ?3)",
            params![to, from, now.to_rfc3339()],
        )?;
        Ok(PendingNight {
            seq: self.conn.last_insert_rowid(),
            from: from.map(str::to_string),
            to: to.to_string(),
            published: false,
        })
    }

    /// Marks the pending night of snapshot `to` as published: its
    /// snapshot went live, and its mail is queued whenever it can be,
    /// whatever is published after it. Returns whether it was pending.
    pub fn mark_published(&self, to: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE pending_nights SET published = 1 WHERE to_snapshot = ?1 AND published = 0",
            [to],
        )? > 0)
    }

    /// The snapshots whose night's mail was queued (`told_snapshots` rows
    /// with a checksum; not those given up, compared with nothing or
    /// imported with mail off), with their nights' digests not held.
    pub fn queued_snapshots(&self) -> Result<Vec<SnapshotId>> {
        let mut stmt = self.conn.prepare(
            "SELECT t.snapshot, t.sha256 FROM told_snapshots t
             WHERE t.sha256 <> '' AND NOT EXISTS (SELECT 1 FROM held_nights h
                 WHERE h.night = t.night AND h.released_at IS NULL)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SnapshotId {
                name: r.get(0)?,
                sha256: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The nights whose mail is still to be queued, in the order recorded.
    pub fn pending(&self) -> Result<Vec<PendingNight>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, from_snapshot, to_snapshot, published FROM pending_nights ORDER BY seq",
        )?;
        let rows = stmt.query_map([], pending_night)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets a pending night without queueing anything: its snapshot was
    /// never published, or (`untold`) it was and its mail cannot be made
    /// (mail is off, a snapshot it needs is gone), so its calendar files
    /// were never told ([`Outbox::told`] starts no chain after it).
    pub fn drop_pending(&self, pending: &PendingNight, untold: bool) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM pending_nights WHERE seq = ?1", [pending.seq])?;
        if untold {
            self.never_told(&pending.to)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that the published snapshot `to`'s night's news was never
    /// mailed (given up, compared with nothing, imported with mail off or
    /// as an older night): a row no lookup matches (no checksum), which
    /// keeps the chain of [`NightQueue::told`] from starting after it,
    /// since the table is no longer empty. After the chain has started, a
    /// night missing already breaks it.
    pub fn never_told(&self, to: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO told_snapshots
                 (snapshot, sha256, night, base, base_sha256, start, queued_at)
             VALUES (?1, '', '', NULL, NULL, 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            [to],
        )?;
        Ok(())
    }

    /// An operator's decision for a night whose diff cannot be made (the
    /// snapshot it replaced is damaged or gone): compare it with `from`
    /// instead (another kept snapshot; `None`: as a first load). Returns
    /// whether the night was pending.
    pub fn compare_pending_with(&self, to: &str, from: Option<&str>) -> Result<bool> {
        let tx = self.conn.unchecked_transaction()?;
        let pending = tx.execute(
            "UPDATE pending_nights SET from_snapshot = ?2 WHERE to_snapshot = ?1",
            params![to, from],
        )? > 0;
        // As a first load: no digests, its news never mailed.
        if pending && from.is_none() {
            self.never_told(to)?;
        }
        tx.commit()?;
        Ok(pending)
    }

    /// An operator gives a pending night up: its mail is never queued.
    /// Returns whether the night was pending.
    pub fn forget_pending(&self, to: &str) -> Result<bool> {
        let tx = self.conn.unchecked_transaction()?;
        let pending = tx.execute("DELETE FROM pending_nights WHERE to_snapshot = ?1", [to])? > 0;
        if pending {
            self.never_told(to)?;
        }
        tx.commit()?;
        Ok(pending)
    }

    /// Whether `snapshot`'s calendar files were told: its night's mail
    /// was queued ([`NightQueue::told`]) and its digests are not held, and
    /// so, back along the snapshots each night was compared with, for
    /// every night to the one that starts the chain. A night missing on
    /// the way (its mail never queued), or compared with nothing after the
    /// start, says no.
    pub fn told(&self, snapshot: &SnapshotId) -> Result<bool> {
        let mut step = self.conn.prepare_cached(
            "SELECT t.base, t.base_sha256, t.start, EXISTS (SELECT 1 FROM held_nights h
                 WHERE h.night = t.night AND h.released_at IS NULL)
             FROM told_snapshots t WHERE t.snapshot = ?1 AND t.sha256 = ?2",
        )?;
        let rows: i64 = self
            .conn
            .query_row("SELECT count(*) FROM told_snapshots", [], |r| r.get(0))?;
        let mut at = (snapshot.name.clone(), snapshot.sha256.clone());
        // Each night's base was published before it; the count bounds a
        // chain that could loop.
        for _ in 0..=rows {
            let row = step
                .query_row(params![at.0, at.1], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, bool>(3)?,
                    ))
                })
                .optional()?;
            match row {
                None | Some((_, _, _, true)) => return Ok(false),
                Some((_, _, true, false)) => return Ok(true),
                Some((Some(base), Some(sum), false, false)) => at = (base, sum),
                Some((_, _, false, false)) => return Ok(false),
            }
        }
        Ok(false)
    }

    /// The pending night of snapshot `to`, if recorded.
    pub fn pending_for(&self, to: &str) -> Result<Option<PendingNight>> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, from_snapshot, to_snapshot, published FROM pending_nights
                 WHERE to_snapshot = ?1",
                [to],
                pending_night,
            )
            .optional()?)
    }
}

/// A snapshot as `told_snapshots` knows it: its file name and the SHA-256
/// recorded when it was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotId {
    pub name: String,
    pub sha256: String,
}

/// The expiry warnings given ([`Outbox::warned`]).
#[derive(Debug, Default, Clone)]
pub struct Warned {
    /// (address, case key) → the last days warned of (YYYYMMDD), each
    /// once, in the order they were: the last, the day the reader was told
    /// last.
    pub order: BTreeMap<(String, String), Vec<i64>>,
}

impl Warned {
    /// Whether `email` needs no warning of `case`'s `last_day`: it is the
    /// day warned of last (warned of, and no other day of the case since).
    pub fn told(&self, email: &str, case: &str, last_day: i64) -> bool {
        self.order
            .get(&(email.to_string(), case.to_string()))
            .and_then(|days| days.last())
            == Some(&last_day)
    }

    /// Warnings that told nothing after all (withheld): as if never given,
    /// so the day the reader was told last is the one warned of before.
    pub fn reopen(&mut self, reopened: &BTreeSet<(String, String, i64)>) {
        for (email, case, day) in reopened {
            if let Some(days) = self.order.get_mut(&(email.clone(), case.clone())) {
                days.retain(|d| d != day);
            }
        }
    }
}

#[cfg(test)]
mod warned_tests {
    use super::Warned;

    /// Warned of A, then B, then A again is told; a warning withheld (it
    /// told nothing) leaves the day warned of before it the day told last.
    #[test]
    fn a_day_moved_back_is_told_unless_the_move_was_never_told() {
        let key = ("a@x".to_string(), "K".to_string());
        let mut w = Warned::default();
        w.order
            .insert(key.clone(), vec![20261201, 20261205, 20261209]);
        assert!(!w.told("a@x", "K", 20261201));
        assert!(!w.told("a@x", "K", 20261205));
        assert!(w.told("a@x", "K", 20261209));
        w.reopen(&[(key.0.clone(), key.1.clone(), 20261209)].into());
        assert!(w.told("a@x", "K", 20261205));
        assert!(!w.told("a@x", "K", 20261201), "told 12/05 last");
        assert!(!w.told("a@x", "K", 20261209));
    }
}

/// A night's mail being queued: one transaction.
pub struct NightQueue<'a> {
    tx: Transaction<'a>,
    night: String,
    /// The items' `ref`: empty for the night's mail, the build (`build-2`)
    /// for a re-run's, whose news is only what the night's earlier build
    /// lacked, so that it is mailed beside the first run's mail instead of
    /// being taken for it.
    reference: String,
    queued_at: String,
}

impl NightQueue<'_> {
    /// Adds a message in one of the states an item may be queued in.
    /// Returns false if the night already has its (address, kind) under
    /// this queue's reference.
    pub fn add(&self, item: &NewItem, state: State, not_before: DateTime<Utc>) -> Result<bool> {
        self.add_under(item, state, not_before, &self.reference)
    }

    /// The same, under `reference` rather than the queue's: a grant mail
    /// of its own ([`more_reference`]) beside the night's grant mail of
    /// its other builds.
    pub fn add_under(
        &self,
        item: &NewItem,
        state: State,
        not_before: DateTime<Utc>,
        reference: &str,
    ) -> Result<bool> {
        if item.kind.scope() != Scope::Nightly {
            return Err(OutboxError::Misqueued {
                kind: item.kind,
                how: "with a night's mail",
            });
        }
        if !QUEUED_AS.contains(&state) {
            return Err(OutboxError::Misqueued {
                kind: item.kind,
                how: "in that state",
            });
        }
        if item.behind.is_some() && item.kind != Kind::Expiry {
            return Err(OutboxError::Misqueued {
                kind: item.kind,
                how: "behind a grant's mail",
            });
        }
        let added = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO items (night, email, kind, state, message_id, subject, message,
                 coding, cases, queued_at, not_before, ref, case_keys, behind, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                         CASE WHEN ?4 = 'suppressed' THEN ?15 END)",
            )?
            .execute(params![
                self.night,
                item.email,
                item.kind.as_str(),
                state.as_str(),
                item.message_id,
                item.subject,
                item.message.stored(),
                item.message.coding().as_str(),
                item.cases as i64,
                self.queued_at,
                not_before.to_rfc3339(),
                reference,
                case_keys_column(&item.case_keys),
                item.behind,
                // (suppressed as it is queued: why, as a sender says it)
                delivery::FLAGGED_WHY
            ])?;
        Ok(added == 1)
    }

    /// Withholds an earlier activation, approval or expiry warning that
    /// names a case its address is no longer granted (`why` says which;
    /// one `send` withheld keeps the reason it gave),
    /// in the transaction that queues what tells the cases still granted:
    /// one not sent yet is suppressed (the same change of state as
    /// `Event::Ungranted` at a claim); one `send` withheld already has its
    /// `untold` cases marked told. Returns false if neither held any more:
    /// a `send` running beside the import holds it (or sent it, or failed
    /// it). Either way this night's mail tells its cases still granted,
    /// and the item records so (`told_by`): `send`, which withholds one it
    /// holds as it hands it over (`Outbox::recall`: this night no longer
    /// grants a case it names) or at a later claim, leaves nothing for the
    /// next night to tell again ([`UNTOLD_BY_SEND`]), nor does a later
    /// night that withholds it; and `outbox retry` of it follows to the
    /// mail that told them (`Outbox::retry`).
    pub fn withhold(&self, mail: &GrantMail, why: &str) -> Result<bool> {
        self.withhold_told_in(mail, why, &self.reference)
    }

    /// The same, where this night's mail that tells its cases is queued
    /// under `reference` rather than the queue's: a grant mail of its own
    /// ([`more_reference`]), which `told_by` then names, so that `outbox
    /// retry` finds it (`Outbox::retry`).
    pub fn withhold_told_in(&self, mail: &GrantMail, why: &str, reference: &str) -> Result<bool> {
        let mut told = self.tx.prepare_cached(
            "UPDATE items SET untold = NULL WHERE id = ?1 AND untold IS NOT NULL",
        )?;
        let withheld = if mail.withheld {
            told.execute([mail.id])? == 1
        } else {
            let suppressed = self
                .tx
                .prepare_cached(&withhold_sql(Event::Ungranted, "NULL"))?
                .execute(params![
                    mail.id,
                    target(Event::Ungranted).as_str(),
                    why,
                    self.queued_at
                ])?;
            // (a `send` beside the import withheld it after the night read
            // it: its cases, told tonight, are not left for the next night
            // too)
            suppressed == 1 || told.execute([mail.id])? == 1
        };
        // Whatever became of it, this night's mail tells its cases still
        // granted, and the item records so (the first night to tell them
        // is kept): a `send` beside the import that claimed it after the
        // night read it, or failed it (unreadable), and withholds it later,
        // or a night after `outbox retry`, tells them no more; and `outbox
        // retry` of it finds the mail that told them.
        self.tx
            .prepare_cached("UPDATE items SET told_by = coalesce(told_by, ?2) WHERE id = ?1")?
            .execute(params![mail.id, told_by(&self.night, reference)])?;
        Ok(withheld)
    }

    /// Records that `email` was warned that a case stops being queryable
    /// after `last_day` (YYYYMMDD), by this night's warning under
    /// `reference`: a night that warns of it again (its earlier warning
    /// withheld) takes the record over, so that should its own warning be
    /// withheld in turn, the case is warned of again
    /// ([`Outbox::warned_by`]).
    pub fn warned(
        &self,
        email: &str,
        case_key: &str,
        last_day: i64,
        reference: &str,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO expiry_warned (email, case_key, last_day, night, ref, warned_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (email, case_key, last_day)
                 DO UPDATE SET night = excluded.night, ref = excluded.ref,
                               warned_at = excluded.warned_at",
            )?
            .execute(params![
                email,
                case_key,
                last_day,
                self.night,
                reference,
                self.queued_at
            ])?;
        Ok(())
    }

    /// Digests held on an earlier night that no one released, given up as
    /// this night's mail is queued. Held by the flood guard: that mail is
    /// compared with the held night or a later one, and released after it
    /// they would tell older news after newer (`Outbox::told_since_held`).
    /// Held by a rollback: that mail, of a night after the one rolled back
    /// to (but the held one), made against it, tells what of their news is
    /// still true, and released after it they would tell it twice
    /// (`outbox release` refuses them then; `admin::told_over_held`). They
    /// never go: superseded, the reason in `last_error`, no longer counted
    /// held (the operator's runbook review of the forty-ninth session: they
    /// stayed held for good, each `send` counting them, and the night that
    /// gave them up said nothing; a rollback's, the admin review of the
    /// fifty-second). The night held by a rollback imported again is this
    /// night, not an earlier one: its new build supersedes them
    /// ([`NightTx::supersede_held_by_rollback`]). Returns each night given
    /// up, with how many, and whether a rollback held it.
    /// `base`: the snapshot this night's mail is compared with (its file
    /// name), if any.
    pub fn give_up_held_before(&self, base: Option<&str>) -> Result<Vec<(String, u64, bool)>> {
        let nights: Vec<(String, bool)> = {
            let mut stmt = self.tx.prepare(&format!(
                "SELECT night, reason LIKE ?2 FROM held_nights
                 WHERE released_at IS NULL AND {}
                 ORDER BY night",
                admin::told_over_held("?1", "?3", "night", "reason")
            ))?;
            let rows = stmt
                .query_map(params![self.night, format!("{ROLLED_BACK}%"), base], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for (night, rolled_back) in nights {
            let why = if rolled_back {
                "held by a rollback and not released before it, which, compared with the night \
                 rolled back to, told what of their news is still true"
            } else {
                "held by the flood guard and not released before it, which was compared with \
                 this night's news"
            };
            let n = self.tx.execute(
                &format!(
                    "UPDATE items SET state = ?2, last_error = ?3
                     WHERE night = ?1 AND kind = ?4 AND state IN {}",
                    state::sql_sources(Event::Superseded)
                ),
                params![
                    night,
                    target(Event::Superseded).as_str(),
                    format!("{SUPERSEDED}{}: {why}", self.night),
                    Kind::Digest.as_str(),
                ],
            )?;
            if n > 0 {
                out.push((night, n as u64, rolled_back));
            }
        }
        Ok(out)
    }

    /// The night, held by a rollback, is imported again: its held digests
    /// are superseded by this run's (compared with what people were last
    /// told, under its own reference), and never go; the night is no
    /// longer held (unless this run holds it again, after: `hold`).
    /// Returns how many were superseded.
    pub fn supersede_held_by_rollback(&self, by: &str) -> Result<u64> {
        let rolled_back = format!("{ROLLED_BACK}%");
        let n = self.tx.execute(
            &format!(
                "UPDATE items SET state = ?2, last_error = ?3
                 WHERE night = ?1 AND kind = ?4 AND state IN {}
                   AND EXISTS (SELECT 1 FROM held_nights h WHERE h.night = items.night
                               AND h.released_at IS NULL AND h.reason LIKE ?5)",
                state::sql_sources(Event::Superseded)
            ),
            params![
                self.night,
                target(Event::Superseded).as_str(),
                format!("{SUPERSEDED}{by}: the night was rolled back and imported again"),
                Kind::Digest.as_str(),
                rolled_back,
            ],
        )?;
        self.tx.execute(
            "UPDATE held_nights SET released_at = ?2
             WHERE night = ?1 AND released_at IS NULL AND reason LIKE ?3",
            params![self.night, self.queued_at, rolled_back],
        )?;
        // The night's earlier builds' files were never told (their digests
        // never went): no later night is compared with them as told, and
        // the chain of told calendar files does not pass through them. This
        // run's own row is written after (`told`).
        self.tx.execute(
            "UPDATE told_snapshots SET sha256 = '' WHERE night = ?1",
            [&self.night],
        )?;
        Ok(n as u64)
    }

    /// Records that the night's digests are held, and why: a night held
    /// again after a release (a re-run's news trips the guard) is held
    /// again, so that later re-runs' digests wait with these.
    pub fn hold(&self, reason: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO held_nights (night, reason, held_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (night) DO UPDATE SET reason = excluded.reason,
                 held_at = excluded.held_at, released_at = NULL
             WHERE held_nights.released_at IS NOT NULL",
            params![self.night, reason, self.queued_at],
        )?;
        Ok(())
    }

    /// Records that the night's mail, compared with `base` (none: a first
    /// load), is queued with this transaction for `snapshot`, whose
    /// calendar files it told ([`Outbox::told`]); each snapshot is named
    /// with its recorded SHA-256. It starts the chain if it is the first
    /// row, no other night waits for its mail and none is held: the data
    /// directory's first mailed night, or the first night queued after
    /// migration 12, the nights before it taken as told.
    pub fn told(&self, snapshot: &SnapshotId, base: Option<&SnapshotId>) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO told_snapshots
                 (snapshot, sha256, night, base, base_sha256, start, queued_at)
             VALUES (?1, ?2, ?3, ?4, ?5,
                 NOT EXISTS (SELECT 1 FROM told_snapshots)
                 AND NOT EXISTS (SELECT 1 FROM pending_nights WHERE to_snapshot <> ?1)
                 AND NOT EXISTS (SELECT 1 FROM held_nights
                                 WHERE released_at IS NULL AND night <> ?3),
                 ?6)",
            params![
                snapshot.name,
                snapshot.sha256,
                self.night,
                base.map(|b| &b.name),
                base.map(|b| &b.sha256),
                self.queued_at
            ],
        )?;
        Ok(())
    }

    /// Commits the night, and with it the end of its pending record.
    pub fn commit(self, done: Option<&PendingNight>) -> Result<()> {
        if let Some(p) = done {
            self.tx
                .execute("DELETE FROM pending_nights WHERE seq = ?1", [p.seq])?;
        }
        store::failpoint::pause("mail-before-commit");
        self.tx.commit()?;
        Ok(())
    }
}

/// Queues a website mail (`item`, rendered) for delivery now, under the
/// Taipei `day` and its own `reference`.
pub fn queue_website(
    conn: &Connection,
    item: &NewItem,
    day: NaiveDate,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if item.kind.scope() != Scope::Website {
        return Err(OutboxError::Misqueued {
            kind: item.kind,
            how: "by the website",
        });
    }
    if item.message.coding() != packed::Coding::Identity {
        return Err(OutboxError::Misqueued {
            kind: item.kind,
            how: "packed (the website's mail is stored as sent: `Packed::plain`)",
        });
    }
    let now_text = now.to_rfc3339();
    conn.execute(
        "INSERT INTO items (night, email, kind, state, message_id, subject, message, coding,
         cases, queued_at, not_before, ref)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        params![
            compact(day),
            item.email,
            item.kind.as_str(),
            State::Queued.as_str(),
            item.message_id,
            item.subject,
            item.message.stored(),
            item.message.coding().as_str(),
            item.cases as i64,
            now_text,
            reference
        ],
    )?;
    Ok(())
}

fn parse_kind(id: i64, value: &str) -> Result<Kind> {
    Kind::parse(value).ok_or_else(|| OutboxError::Unknown {
        id,
        what: "kind",
        value: value.to_string(),
    })
}

fn parse_state(id: i64, value: &str) -> Result<State> {
    State::parse(value).ok_or_else(|| OutboxError::Unknown {
        id,
        what: "state",
        value: value.to_string(),
    })
}

/// The SQL condition on `kind` that selects a scope's items.
fn scope_sql(scope: Scope) -> String {
    let names: Vec<String> = scope.kinds().map(|k| format!("'{}'", k.as_str())).collect();
    format!("kind IN ({})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A night reads the grant mail to check through the partial indexes,
    /// not the whole table (a national outbox holds millions of sent
    /// items), and the index holds what `send` may still withhold.
    #[test]
    fn the_grant_mail_to_check_is_read_through_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path()).unwrap();
        for (query, index) in [
            (GRANT_MAIL_OF, "items_grant_mail"),
            (GRANT_MAIL_UNTOLD, "items_untold"),
        ] {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap();
            let params = ["20261124", "a@example.com"];
            let params = &params[..stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(plan.iter().any(|p| p.contains(index)), "{plan:?}");
        }
        assert_eq!(
            state::sql_sources(Event::Ungranted),
            "('queued', 'retrying', 'unknown')",
            "the index's states are those `send` withholds from"
        );
    }
}
