//! What administrators see and do (`cpor-etl outbox`): list, show, count,
//! release a held night, queue items again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::delivery::FLAGGED_WHY;
use super::state::{sql_sources, target, Event, State};
use super::{parse_kind, parse_state, scope_sql, Outbox, Result, Scope};
use crate::kind::Kind;

/// An item as `outbox list` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: i64,
    pub night: String,
    /// Its key's reference: a re-run's build (`build-2`) for the nightly
    /// kinds, the message's own for the website's, else empty.
    pub reference: String,
    pub kind: Kind,
    pub state: State,
    pub email: String,
    pub attempts: i64,
    /// When it is tried next (or was first due); `None` only for a time
    /// the outbox cannot read.
    pub next: Option<DateTime<Utc>>,
    pub subject: String,
}

/// An item as `outbox show` shows it: named fields ("-" when empty; times
/// in Taipei, as the nightly window and the send window are said, and as
/// the message's own Date is shown), then the whole message, or why its
/// stored message cannot be read.
#[derive(Debug, Clone)]
pub struct Shown {
    pub fields: Vec<(&'static str, String)>,
    pub message: std::result::Result<Vec<u8>, String>,
}

/// How `show` gives a time: to the second, the zone said.
const SHOWN_TIME: &str = "%Y-%m-%d %H:%M:%S (Taipei)";

/// A time the outbox keeps as an administrator reads it: in Taipei, to the
/// second (`SHOWN_TIME`); as it is if it is not one.
pub(super) fn shown_time(text: String) -> String {
    stored_time(&text).map_or(text, |t| {
        t.with_timezone(&schemas::date::taipei())
            .format(SHOWN_TIME)
            .to_string()
    })
}

/// A time as the outbox keeps it (RFC 3339, UTC), if it is one.
fn stored_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Which items `retry` queues again.
#[derive(Clone, Copy)]
pub enum RetryWhich<'a> {
    /// One item, if it is failed, unknown, retrying or suppressed: a
    /// decision to write to its address again, which clears its flag.
    Item(i64),
    /// Every failed item but those to flagged addresses: a retry in bulk
    /// follows a fault of the relay's or of policy, not a decision about
    /// addresses whose mail server said they are bad. `flagged` reads the
    /// accounts database's (lower-cased); it is read once the retry holds
    /// the outbox's write lock, and the flags a `send` recorded and has not
    /// written there yet (`flags_to_write`) count too, so a `send` that
    /// flags an address and fails its mail meanwhile is never undone (the
    /// concurrency review of the fiftieth session: read before, it missed
    /// such a flag, and the retry queued the mail and cleared the flag).
    Failed {
        flagged: &'a dyn Fn() -> rusqlite::Result<BTreeSet<String>>,
    },
}

/// What `retry` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retried {
    /// How many of the items asked for were queued again.
    pub asked: usize,
    /// The address of each item queued again, asked for or in its place
    /// (one per item).
    pub emails: Vec<String>,
    /// The kind and night of each item asked for that is queued again
    /// (what `retry` says of them, by kind and night).
    pub queued: Vec<(Kind, String)>,
    /// The items asked for that are not queued again, as a later night's
    /// mail told their cases (`told_by`, which this gives): their ids.
    pub told: Vec<(i64, String)>,
    /// The mail that told their cases, and what became of each.
    pub tellers: Vec<Teller>,
    /// Failed items left as they are, their address flagged (`--failed`):
    /// id and address.
    pub flagged: Vec<(i64, String)>,
    /// Items left as they are because their text was deleted after they
    /// were sent (`purge_sent_bodies`; a report read since failed them):
    /// sent again, they would go empty.
    pub emptied: Vec<i64>,
    /// Reminders left as they are because their day is past (`stale`):
    /// queued again, they would be failed again, never sent.
    pub too_late: Vec<(i64, String)>,
    /// Activations left as they are because their link has expired
    /// (`stale`): id and address.
    pub expired_links: Vec<(i64, String)>,
    /// The website's password links left by a retry of every failed item:
    /// id and address (a link good for minutes, sent days later, would
    /// arrive dead; retried by id, one goes).
    pub password_links: Vec<(i64, String)>,
}

/// Whether an item is stale, by its kind, night (YYYYMMDD) and when it was
/// queued (`Outbox::retry`).
pub type StaleJudge<'a> = dyn Fn(Kind, &str, DateTime<Utc>) -> Option<Stale> + 'a;

/// Why `retry` leaves an item as it is: queued again, it would say what is
/// no longer so (`Outbox::retry`'s `stale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// A reminder past its day.
    PastItsDay,
    /// An activation whose link has expired.
    LinkExpired,
}

/// How a night held by a rollback says so (`held_nights.reason`), the
/// night rolled back to after it.
pub const ROLLED_BACK: &str = "rolled back to ";

/// After `ROLLED_BACK` and its night, in a night the flood guard held
/// before the rollback: the guard's reason follows.
const HELD_BEFORE: &str = "; held before it: ";

/// The flood guard's reason a night was held for, if the guard held it
/// (`reason`: the night's `held_nights.reason`, perhaps a rollback's over
/// the guard's).
fn guard_reason(reason: &str) -> Option<&str> {
    match reason.starts_with(ROLLED_BACK) {
        true => guard_under_rollback(reason),
        false => Some(reason),
    }
}

/// The flood guard's reason under a rollback's hold, if the guard held the
/// night before the rollback did.
fn guard_under_rollback(reason: &str) -> Option<&str> {
    let rolled = reason.strip_prefix(ROLLED_BACK)?;
    rolled.split_once(HELD_BEFORE).map(|(_, guard)| guard)
}

/// What undoing a rollback's hold did ([`Outbox::undo_rollback_hold`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// The night's held digests were released: this many.
    Released(u64),
    /// The flood guard held them before the rollback: held by it again,
    /// this many.
    StillHeld(u64),
}

/// How a digest superseded by a build imported after a rollback says so
/// (`items.last_error`), the snapshot whose mail superseded it after.
pub const SUPERSEDED: &str = "superseded by the mail of ";

/// An activation or approval a night after `night` withheld (it named a
/// case that night no longer granted its address), telling its cases
/// still granted in mail of its own: the cases no activation or approval
/// of a night after `night` names, sent or still to go, are left to tell
/// again (`untold`), as `send` leaves those of one it withholds
/// (`UNTOLD_BY_SEND`), for the next night's mail to tell those it still
/// grants (`retell`). Those nights' grants are no longer the service's;
/// left told, a case the withholding night no longer granted, granted
/// again, was never told (the admin review of the fifty-second session: a
/// night published by mistake, rolled back and imported right). What a
/// later night's mail told is told (a case granted again the night after
/// the one that withheld it: counted only that night's own mail, it was
/// mailed twice; the review of the change). Expiry warnings are left as
/// they are: the grant mail that tells a case again says its last day.
/// Returns how many items. One pass over the outbox, which a rollback can
/// afford.
fn reopen_withheld_after(tx: &rusqlite::Transaction<'_>, night: &str) -> Result<u64> {
    let (activation, approval) = (Kind::Activation.as_str(), Kind::Approval.as_str());
    let withheld: Vec<(i64, String, Option<String>)> = {
        let mut stmt = tx.prepare(
            "SELECT id, email, case_keys FROM items
             WHERE told_by IS NOT NULL AND substr(told_by, 1, 8) > ?1
               AND withheld_at IS NOT NULL AND untold IS NULL AND case_keys IS NOT NULL
               AND kind IN (?2, ?3)",
        )?;
        let rows = stmt.query_map(params![night, activation, approval], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    // (what went or may have, and what is still to go: a later night's
    // that `send` withholds in its turn leaves its cases untold itself)
    let mut told_later = tx.prepare(&format!(
        "SELECT case_keys FROM items
         WHERE email = ?1 AND night > ?2 AND kind IN (?3, ?4) AND case_keys IS NOT NULL
           AND state IN {}",
        super::state::sql_list(&super::state::TOLD_OR_GOING)
    ))?;
    // (its reason says so: it named the withholding night's mail as the
    // one that told its cases)
    let mut reopen = tx.prepare(
        "UPDATE items SET untold = ?2, told_by = NULL,
             last_error = coalesce(last_error || '; ', '') || ?3
         WHERE id = ?1",
    )?;
    let undone = format!(
        "a rollback to {night} undid the nights after it: the next night's mail tells its cases \
         still granted that no later night's mail names"
    );
    let mut n = 0;
    for (id, email, keys) in withheld {
        let mut told = BTreeSet::new();
        let mut rows = told_later.query(params![email, night, activation, approval])?;
        while let Some(r) = rows.next()? {
            told.extend(super::case_keys_of(r.get(0)?));
        }
        let untold: Vec<String> = super::case_keys_of(keys)
            .into_iter()
            .filter(|c| !told.contains(c))
            .collect();
        if !untold.is_empty() {
            n += reopen.execute(params![id, untold.join("\n"), undone])? as u64;
        }
    }
    Ok(n)
}

/// Whether the mail of night `tonight`, compared with snapshot `base`
/// (its file name; NULL: with none) and queued after `held`'s digests
/// were held for `reason`, makes them untellable (released, they would
/// tell news twice, or older news after newer): an SQL condition on the
/// four expressions given. Held by the flood guard: a later night's mail,
/// compared with the held night or after it. Held by a rollback to a
/// night (`ROLLED_BACK` and the night): the mail of a night after that
/// one, but the held night itself, compared with that night or an earlier
/// one: it tells what of the held news is still true (a later night as a
/// rule, an earlier one when the held night was published under a later
/// date by mistake). Not the night rolled back to imported again, nor an
/// earlier night's (they told nothing of it), nor one compared with a
/// night after the one rolled back to (one with no news, whose mail held
/// nothing, and has the held night's changes: it told none of them). The
/// reviews of the fifty-second session's change. The one rule of
/// `NightTx::give_up_held_before` and `told_since_held`.
pub(crate) fn told_over_held(tonight: &str, base: &str, held: &str, reason: &str) -> String {
    format!(
        "(CASE WHEN {reason} LIKE '{ROLLED_BACK}%' \
         THEN {tonight} <> {held} AND {tonight} > substr({reason}, {start}, 8) \
              AND coalesce(substr({base}, 1, 8), '') <= substr({reason}, {start}, 8) \
         ELSE {tonight} > {held} END)",
        start = ROLLED_BACK.len() + 1
    )
}

/// What [`Outbox::hold_after_rollback`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// By later night with digests not yet sent.
    pub nights: Vec<RolledBack>,
    /// Activations and approvals a later night had withheld, whose cases
    /// the next night's mail now tells, those still granted that no later
    /// night's mail names.
    pub reopened: u64,
}

/// A night after the one a rollback went back to, with digests not yet
/// sent ([`Outbox::hold_after_rollback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    pub night: String,
    /// Its digests now held (none of them had gone).
    pub held: u64,
    /// Its digests left queued, retrying or failed, since `gone` of them
    /// went or may have.
    pub not_held: u64,
    pub gone: u64,
    /// Of `not_held`, those that failed: they go at no send window, only
    /// when retried (`outbox retry --failed`).
    pub failed: u64,
}

/// Mail that told the cases of an item `retry` was asked for (or of such
/// mail, in turn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teller {
    pub id: i64,
    pub kind: Kind,
    /// The state it was in.
    pub was: State,
    pub fate: Fate,
    /// Its night (YYYYMMDD) and reference (a re-run's build, its own
    /// grant mail's `more-N`, or empty).
    pub night: String,
    pub reference: String,
    /// The item whose cases it told.
    pub of: i64,
}

/// What `retry` does with mail that told an item's cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It surely did not go: queued again.
    QueuedAgain,
    /// A later night's mail told its cases in turn (`told_by`), as that
    /// night found a case it names no longer granted: followed.
    ToldLater,
    /// Sent.
    Went,
    /// Queued, held, sending, retrying, or unknown: it may still go.
    MayStillGo,
    /// Failed, or suppressed for a flag, after an attempt that may have
    /// reached a relay (its outcome unknown, or its sender killed while
    /// sending it), at any time in its life, before a retry too: not
    /// queued again unasked, which might tell its cases twice.
    MayHaveGone,
    /// An expiry warning not sent because the grant mail it waited behind
    /// went, saying its cases' last day.
    Covered,
    /// Withheld before it was sent, its cases left for the next night's
    /// mail to tell (`untold`), none of them still granted (a night told
    /// nothing of it), or told by a night's mail of a version that did not
    /// record which.
    Withheld,
    /// Its stored message cannot be read: queued again it would fail
    /// again. Its cases are not told.
    Unreadable,
}

/// A row of the mail that told an item's cases.
struct TellerRow {
    id: i64,
    kind: String,
    state: String,
    /// An attempt may have reached a relay, at any time in its life
    /// (`may_have_gone`, outbox migrations 17 and 19).
    may_have_gone: bool,
    told_by: Option<String>,
    withheld: bool,
    last_error: Option<String>,
    message: Vec<u8>,
    coding: String,
}

/// What becomes of mail that told an item's cases ([`Fate`]).
fn teller_fate(row: &TellerRow, was: State) -> Fate {
    if was == State::Sent {
        return Fate::Went;
    }
    if row.told_by.is_some() {
        return Fate::ToldLater;
    }
    if row.withheld {
        return Fate::Withheld;
    }
    let flagged = row.last_error.as_deref().is_none_or(|e| e == FLAGGED_WHY);
    match was {
        State::Suppressed if !flagged => return Fate::Covered,
        State::Suppressed | State::Failed => {}
        _ => return Fate::MayStillGo,
    }
    if row.may_have_gone {
        return Fate::MayHaveGone;
    }
    if super::packed::unpack_to_send(row.id, &row.coding, row.message.clone()).is_err() {
        return Fate::Unreadable;
    }
    Fate::QueuedAgain
}

/// An item `retry` was asked for, or mail it follows.
struct Asked {
    id: i64,
    kind: Kind,
    email: String,
    told_by: Option<String>,
    /// Its text was deleted after it was sent.
    emptied: bool,
    night: String,
    queued_at: String,
}

/// What [`Outbox::forget_address`] found (and, unless a dry run or
/// `sending`, deleted).
#[derive(Debug, Clone, Default)]
pub struct Forgot {
    /// The items to the address: where `send` wrote each as a file.
    pub items: Vec<ForgotItem>,
    /// Expiry warnings and hearing reminders recorded as given to it.
    pub warned: u64,
    pub reminded: u64,
    /// Items a `send` is delivering now: nothing was deleted.
    pub sending: u64,
    /// Deleted, but the write-ahead log could not be emptied (a reader
    /// held it): older page images of the rows stay in `outbox.sqlite-wal`
    /// until a later checkpoint empties it (`schemas::checkpoint_log`).
    pub log_held: bool,
}

/// An item of [`Forgot`]: its night, kind and reference (`send::eml_file`).
#[derive(Debug, Clone)]
pub struct ForgotItem {
    pub night: String,
    pub kind: Kind,
    pub reference: String,
}

impl Outbox {
    /// Items, oldest first, of a night and in a state if given (a state no
    /// item can be in selects nothing).
    pub fn list(&self, night: Option<&str>, state: Option<&str>) -> Result<Vec<Listed>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, night, kind, state, email, attempts, coalesce(next_try_at, not_before), subject,
             ref FROM items WHERE (?1 IS NULL OR night = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id",
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
                r.get::<_, String>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, night, kind, state, email, attempts, next, subject, reference) = row?;
            out.push(Listed {
                id,
                night,
                reference,
                kind: parse_kind(id, &kind)?,
                state: parse_state(id, &state)?,
                email,
                attempts,
                next: stored_time(&next),
                subject,
            });
        }
        Ok(out)
    }

    /// Deletes everything the outbox keeps of mail to `email` (an address
    /// to forget, `cpor-etl forget-address`): its items, text and record
    /// (what they name of their cases too), and the expiry warnings and
    /// hearing reminders it was given; `dry_run`: counts only. Deletes
    /// nothing while a `send` is delivering to it (`Forgot::sending`).
    pub fn forget_address(&mut self, email: &str, dry_run: bool) -> Result<Forgot> {
        schemas::overwrite_deleted(&self.conn)?;
        // The write lock first, as the accounts' side takes it: a read that
        // then writes fails at once ("database is locked", not waited for)
        // when a website mailer or the sweeper wrote meanwhile (scripts/test
        // caught it, one run in three, beside a server starting).
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut items = Vec::new();
        let mut sending = 0;
        {
            let mut st =
                tx.prepare("SELECT id, night, kind, ref, state FROM items WHERE email = ?1")?;
            let mut rows = st.query([email])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let kind: String = r.get(2)?;
                let state: String = r.get(4)?;
                if parse_state(id, &state)? == State::Sending {
                    sending += 1;
                }
                items.push(ForgotItem {
                    night: r.get(1)?,
                    kind: parse_kind(id, &kind)?,
                    reference: r.get(3)?,
                });
            }
        }
        let count = |sql: &str| -> Result<u64> {
            Ok(tx.query_row(sql, [email], |r| r.get::<_, i64>(0))? as u64)
        };
        let warned = count("SELECT count(*) FROM expiry_warned WHERE email = ?1")?;
        let reminded = count("SELECT count(*) FROM reminded WHERE email = ?1")?;
        let mut forgot = Forgot {
            items,
            warned,
            reminded,
            sending,
            log_held: false,
        };
        if dry_run || sending > 0 {
            return Ok(forgot);
        }
        for sql in [
            "DELETE FROM bounce_reports WHERE item_id IN (SELECT id FROM items WHERE email = ?1)",
            "DELETE FROM items WHERE email = ?1",
            "DELETE FROM expiry_warned WHERE email = ?1",
            "DELETE FROM reminded WHERE email = ?1",
            "DELETE FROM flags_to_write WHERE email = ?1",
        ] {
            tx.execute(sql, [email])?;
        }
        tx.commit()?;
        forgot.log_held = !schemas::checkpoint_log(&self.conn);
        Ok(forgot)
    }

    /// Rebuilds the file (VACUUM): no deleted bytes left in free space
    /// (`cpor-etl forget-address --vacuum`). Holds the database meanwhile.
    pub fn vacuum(&self) -> Result<()> {
        self.conn.execute_batch("VACUUM")?;
        Ok(())
    }

    /// Empties the bodies of mail sent before `before`, and of mail queued
    /// before it that never went (failed, suppressed): activation and
    /// reset links are in them, and parties' names; once delivered the
    /// outbox has no use for them, and a retry of mail that old would tell
    /// old news (a flagged address's digests, suppressed night after
    /// night, piled up for ever). The item stays (who, what kind, when,
    /// the outcome), so `list` and `show` still account for it; mail
    /// still to go, and newer, keeps its body for retries. Returns how
    /// many were emptied.
    pub fn purge_sent_bodies(&self, before: DateTime<Utc>) -> Result<u64> {
        // (where the long-run review of the forty-eighth session decoded
        // whole activation mail from emptied items)
        schemas::overwrite_deleted(&self.conn)?;
        // sent_at and queued_at are to_rfc3339 of a UTC time, as `before`
        // is written: the same form, so the text order is the time order.
        let before = before.to_rfc3339();
        let sent = self.conn.execute(
            "UPDATE items SET message = X'', coding = 'identity' WHERE state = ?1 AND sent_at < ?2 AND length(message) > 0",
            params![State::Sent.as_str(), before],
        )?;
        let never = self.conn.execute(
            "UPDATE items SET message = X'', coding = 'identity' WHERE state IN (?1, ?2) AND queued_at < ?3 AND length(message) > 0",
            params![State::Failed.as_str(), State::Suppressed.as_str(), before],
        )?;
        if sent + never > 0 {
            schemas::checkpoint_log(&self.conn);
        }
        Ok((sent + never) as u64)
    }

    /// An item's state, if there is such an item (without reading its
    /// message, as `show` does).
    pub fn state_of(&self, id: i64) -> Result<Option<State>> {
        let state: Option<String> = self
            .conn
            .query_row("SELECT state FROM items WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        state.map(|s| parse_state(id, &s)).transpose()
    }

    /// One item, whole.
    pub fn show(&self, id: i64) -> Result<Option<Shown>> {
        let found = self
            .conn
            .query_row(
                "SELECT night, kind, state, email, message_id, attempts, queued_at, not_before,
                 first_try_at, next_try_at, sent_at, last_error, message, coding, case_keys,
                 untold, behind,
                 (SELECT g.id || ' (' || g.state || ')' FROM items g WHERE g.message_id = items.behind),
                 told_by, may_have_gone
                 FROM items WHERE id = ?1",
                [id],
                |r| {
                    let text = |i| {
                        r.get::<_, Option<String>>(i)
                            .map(|v| v.unwrap_or_else(|| "-".into()))
                    };
                    let time = |i| {
                        r.get::<_, Option<String>>(i)
                            .map(|v| v.map_or_else(|| "-".into(), shown_time))
                    };
                    let fields = vec![
                        ("night", text(0)?),
                        ("kind", text(1)?),
                        ("state", text(2)?),
                        ("address", text(3)?),
                        ("message-id", text(4)?),
                        ("attempts", {
                            let attempts = r.get::<_, i64>(5)?.to_string();
                            // (outbox migrations 17 and 19)
                            if r.get(19)? {
                                format!(
                                    "{attempts}; an attempt may have reached a relay"
                                )
                            } else {
                                attempts
                            }
                        }),
                        ("queued", time(6)?),
                        ("not before", time(7)?),
                        ("first try", time(8)?),
                        ("next try", time(9)?),
                        ("sent", time(10)?),
                        ("last error", text(11)?),
                        // A grant's mail: the cases it names, and those a
                        // night's mail is still to tell if `send` withheld it.
                        ("cases", titles(r.get(14)?)),
                        ("to tell", {
                            let untold = titles(r.get(15)?);
                            if untold == "-" {
                                untold
                            } else {
                                format!(
                                    "{untold} (the next night's mail tells those still granted)"
                                )
                            }
                        }),
                        // A grant's mail whose cases still granted a
                        // night's mail told but could not withhold it
                        // (outbox migration 16).
                        ("told by", {
                            let told_by: Option<String> = r.get(18)?;
                            told_by.map_or_else(
                                || "-".into(),
                                |night| {
                                    format!(
                                        "the night of {night}'s mail, which told again what \
                                         of it was still granted"
                                    )
                                },
                            )
                        }),
                        // An expiry warning queued behind its night's
                        // activation or approval (outbox migration 15).
                        ("behind", {
                            let behind: Option<String> = r.get(16)?;
                            let grant: Option<String> = r.get(17)?;
                            match (behind, grant) {
                                (None, _) => "-".into(),
                                (Some(_), Some(grant)) => format!(
                                    "item {grant}, the activation or approval that shows its \
                                     cases' last day (docs/OPERATIONS.md, \"A grant that ends \
                                     soon\")"
                                ),
                                (Some(id), None) => format!("{id}, not in the outbox"),
                            }
                        }),
                    ];
                    Ok((fields, r.get::<_, Vec<u8>>(12)?, r.get::<_, String>(13)?))
                },
            )
            .optional()?;
        let Some((mut fields, stored, coding)) = found else {
            return Ok(None);
        };
        fields.push(("stored", format!("{} bytes, {coding}", stored.len())));
        let message = super::packed::unpack(id, &coding, stored)
            .map_err(|e| super::delivery::unreadable_reason(&e));
        Ok(Some(Shown { fields, message }))
    }

    /// How many items are in each state (only states some item is in), of
    /// one night if given.
    pub fn counts_by_state(&self, night: Option<&str>) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self.conn.prepare(
            "SELECT state, count(*) FROM items WHERE ?1 IS NULL OR night = ?1 GROUP BY state",
        )?;
        let rows = stmt.query_map([night], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many of `scope`'s items are in each state, every state named.
    pub fn counts(&self, scope: Scope) -> Result<Vec<(State, u64)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT state, count(*) FROM items WHERE {} GROUP BY state",
            scope_sql(scope)
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        let found: BTreeMap<String, u64> = rows.collect::<Result<_, _>>()?;
        Ok(State::ALL
            .into_iter()
            .map(|s| (s, found.get(s.as_str()).copied().unwrap_or(0)))
            .collect())
    }

    /// After a rollback to `night` (YYYYMMDD): holds the digests of each
    /// later night none of whose digests has gone or may have (sent,
    /// sending, unknown, or failed after an attempt that may have reached
    /// a relay), those that failed too (the relay refused them, or 72
    /// hours passed: none reached anyone), and records the night as held, so that the next night's
    /// mail is compared with the night rolled back to and tells what of
    /// the held news is still true (`queued_snapshots` passes a held night
    /// over). A night some of whose digests went is left as it is: its
    /// news was told, and the next night is compared with it. Returns, by
    /// later night with digests not yet sent, what was done.
    pub fn hold_after_rollback(&mut self, night: &str, now: DateTime<Utc>) -> Result<Rollback> {
        let tx = self.conn.transaction()?;
        let digest = Kind::Digest.as_str();
        let found: Vec<(String, u64, u64, u64, u64)> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT night,
                     sum(state IN {}),
                     sum(state IN ('{}', '{}', '{}') OR may_have_gone),
                     sum(state = '{}'),
                     sum(state = '{}')
                 FROM items WHERE kind = ?1 AND night > ?2 GROUP BY night ORDER BY night",
                sql_sources(Event::Hold),
                State::Sent.as_str(),
                State::Sending.as_str(),
                State::Unknown.as_str(),
                State::Held.as_str(),
                State::Failed.as_str(),
            ))?;
            let rows = stmt.query_map(params![digest, night], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        // (a test writes the outbox from another process here)
        store::failpoint::pause("hold-after-read");
        let mut out = Vec::new();
        // (digests the flood guard held count as waiting: the night is
        // then held by the rollback, so that importing it again supersedes
        // them too)
        for (later, waiting, gone, held_already, failed) in found {
            if waiting + held_already == 0 {
                continue;
            }
            let held = if gone == 0 {
                let n = tx.execute(
                    &format!(
                        "UPDATE items SET state = ?3 WHERE night = ?1 AND kind = ?2 AND state IN {}",
                        sql_sources(Event::Hold)
                    ),
                    params![later, digest, target(Event::Hold).as_str()],
                )?;
                // A night the flood guard held keeps that reason after
                // the rollback's, for the roll forward that undoes it.
                let before: Option<String> = tx
                    .query_row(
                        "SELECT reason FROM held_nights WHERE night = ?1 AND released_at IS NULL",
                        [&later],
                        |r| r.get(0),
                    )
                    .optional()?;
                let guard = before.as_deref().and_then(guard_reason);
                let reason = match guard {
                    Some(guard) => format!("{ROLLED_BACK}{night}{HELD_BEFORE}{guard}"),
                    None => format!("{ROLLED_BACK}{night}"),
                };
                // (the guard's hold keeps its date: a night queued since
                // then was compared with the held one, and the held
                // digests must never go after it, `told_since_held`)
                tx.execute(
                    "INSERT INTO held_nights (night, reason, held_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (night) DO UPDATE SET reason = excluded.reason,
                         held_at = CASE WHEN ?4 THEN held_nights.held_at ELSE excluded.held_at END,
                         released_at = NULL",
                    params![later, reason, now.to_rfc3339(), guard.is_some()],
                )?;
                n as u64 + held_already
            } else {
                0
            };
            out.push(RolledBack {
                night: later,
                held,
                not_held: if held == 0 { waiting } else { 0 },
                gone,
                failed: if held == 0 { failed } else { 0 },
            });
        }
        let reopened = reopen_withheld_after(&tx, night)?;
        tx.commit()?;
        Ok(Rollback {
            nights: out,
            reopened: reopened as u64,
        })
    }

    /// Of a night whose digests are held: the first night whose mail,
    /// queued since they were held, makes them untellable
    /// (`told_over_held`), if any. Released, they would go after it.
    /// Held by a rollback, that mail, compared with the night rolled back
    /// to, told what of the held news is still true: they would tell it
    /// twice. Held by the flood guard, that mail was
    /// compared with the held night: they would tell older news after
    /// newer (a hearing's date since moved, with its calendar file).
    pub fn told_since_held(&self, night: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT min(t.night) FROM told_snapshots t JOIN held_nights h
                     WHERE h.night = ?1 AND h.released_at IS NULL
                       AND {} AND t.sha256 <> '' AND t.queued_at >= h.held_at",
                    told_over_held("t.night", "t.base", "h.night", "h.reason")
                ),
                params![night],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Whether `night`'s digests are held by a rollback (not only by the
    /// flood guard).
    pub fn held_by_a_rollback(&self, night: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM held_nights
                            WHERE night = ?1 AND released_at IS NULL AND reason LIKE ?2)",
            params![night, format!("{ROLLED_BACK}%")],
            |r| r.get(0),
        )?)
    }

    /// Undoes a rollback's hold of `night`'s digests (a roll forward to
    /// it): released, or, if the flood guard held them before the
    /// rollback, held by the guard again, for an administrator to review.
    pub fn undo_rollback_hold(&mut self, night: &str, now: DateTime<Utc>) -> Result<Undone> {
        let reason: Option<String> = self
            .conn
            .query_row(
                "SELECT reason FROM held_nights WHERE night = ?1 AND released_at IS NULL",
                [night],
                |r| r.get(0),
            )
            .optional()?;
        match reason.as_deref().and_then(guard_under_rollback) {
            Some(guard) => {
                let tx = self.conn.transaction()?;
                tx.execute(
                    "UPDATE held_nights SET reason = ?2 WHERE night = ?1 AND released_at IS NULL",
                    params![night, guard],
                )?;
                let held: i64 = tx.query_row(
                    "SELECT count(*) FROM items WHERE night = ?1 AND kind = ?2 AND state = ?3",
                    params![night, Kind::Digest.as_str(), State::Held.as_str()],
                    |r| r.get(0),
                )?;
                tx.commit()?;
                Ok(Undone::StillHeld(held as u64))
            }
            None => Ok(Undone::Released(self.release(night, now)?)),
        }
    }

    /// Releases a night's held digests: they are queued, as new (no
    /// attempts, no first try), as a retry queues an item: a digest a
    /// rollback held after it had failed or waited (`Failed → Held`) kept
    /// its first try, days old, and the first deferral after its release
    /// gave it up as past its hours of tries (the review of the fiftieth
    /// session's change). Returns how many.
    pub fn release(&mut self, night: &str, now: DateTime<Utc>) -> Result<u64> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            &format!(
                "UPDATE items SET state = ?2, attempts = 0, first_try_at = NULL,
                     next_try_at = NULL, tried_at = NULL
                 WHERE night = ?1 AND state IN {}",
                sql_sources(Event::Release)
            ),
            params![night, target(Event::Release).as_str()],
        )?;
        tx.execute(
            "UPDATE held_nights SET released_at = ?2 WHERE night = ?1 AND released_at IS NULL",
            params![night, now.to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Queues items again, as new: no attempts, no first try. Returns the
    /// addresses of the items queued again, and the mail met following
    /// the items whose cases a later night's mail told
    /// ([`Retried::tellers`]).
    ///
    /// An activation, approval or expiry warning whose cases a later
    /// night's mail told (`told_by`: the night found a case it names no
    /// longer granted) is not queued again: `send` would withhold it, or,
    /// were the case granted again since (a rollback, or a grant the court
    /// restored), send what that night's mail told already. That mail is
    /// queued again in its place if it surely did not go: suppressed for
    /// the address's flag, or failed, and no attempt of its life may have
    /// reached a relay (none had an unknown outcome or was left sending by
    /// a sender that died: `may_have_gone`, set as outcomes are recorded
    /// and kept through retries), and still readable. Retried
    /// alone, the first would have been withheld, and its cases never
    /// told. If that mail's cases were told by a later night's mail in
    /// turn, that one is followed the same way. Mail that went, may still
    /// go, may have gone (an attempt's outcome unknown, or its sender
    /// killed while sending it) or cannot be read is left, and said.
    ///
    /// An item that `stale` says is stale (of its kind, night, and when it
    /// was queued) is left as it is, and said: a reminder past its day
    /// (`send::past_its_day` in the send window: `send` would fail it
    /// again), an activation whose link has expired. Retrying every failed
    /// item leaves the website's password links too.
    ///
    /// `dry_run`: all of it worked out, and nothing changed.
    pub fn retry(
        &mut self,
        which: RetryWhich<'_>,
        stale: &StaleJudge<'_>,
        dry_run: bool,
    ) -> Result<Retried> {
        let bulk = matches!(which, RetryWhich::Failed { .. });
        let (filter, id, read_flagged) = match which {
            // (not one withheld for naming a case no longer granted:
            // `withheld_at`, outbox migration 14; nor a digest superseded
            // by its night's new build, whose mail told the night)
            RetryWhich::Item(id) => (
                format!(
                    "id = ?1 AND withheld_at IS NULL
                     AND NOT (state = '{}' AND coalesce(last_error, '') LIKE '{SUPERSEDED}%')",
                    State::Suppressed.as_str()
                ),
                Some(id),
                None,
            ),
            RetryWhich::Failed { flagged } => (
                format!("?1 IS NULL AND state = '{}'", State::Failed.as_str()),
                None,
                Some(flagged),
            ),
        };
        let condition = format!("{filter} AND state IN {}", sql_sources(Event::Retry));
        let tx = self.conn.transaction()?;
        // (under the write lock: a `send` settles no more failures
        // meanwhile, and one settled before wrote its flag first, to the
        // accounts database or, still to write, here)
        let flagged: BTreeSet<String> = match read_flagged {
            None => BTreeSet::new(),
            Some(read) => {
                let mut flagged = read()?;
                let mut stmt =
                    tx.prepare("SELECT lower(email) FROM flags_to_write WHERE reason IS NOT NULL")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                for email in rows {
                    flagged.insert(email?);
                }
                flagged
            }
        };
        let mut retried = Retried::default();
        {
            let mut requeue = tx.prepare(&format!(
                "UPDATE items SET state = '{}', attempts = 0, first_try_at = NULL, next_try_at = NULL
                 WHERE id = ?1 AND state IN {}",
                target(Event::Retry).as_str(),
                sql_sources(Event::Retry)
            ))?;
            let asked: Vec<Asked> = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT id, email, kind, told_by, length(message) = 0, night, queued_at
                     FROM items WHERE {condition} ORDER BY id"
                ))?;
                let rows = stmt.query_map([id], |r| {
                    Ok((
                        (r.get(0)?, r.get(1)?, r.get::<_, String>(2)?),
                        (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                    ))
                })?;
                rows.map(|row| {
                    let ((id, email, kind), (told_by, emptied, night, queued_at)) = row?;
                    Ok(Asked {
                        id,
                        kind: parse_kind(id, &kind)?,
                        email,
                        told_by,
                        emptied,
                        night,
                        queued_at,
                    })
                })
                .collect::<Result<_>>()?
            };
            let mut to_follow = Vec::new();
            for item in asked {
                if item.emptied {
                    retried.emptied.push(item.id);
                    continue;
                }
                if flagged.contains(&item.email.to_lowercase()) {
                    retried.flagged.push((item.id, item.email));
                    continue;
                }
                if bulk && item.kind == Kind::Reset {
                    retried.password_links.push((item.id, item.email));
                    continue;
                }
                // (a time that does not read is not judged, as `send` does
                // not judge a day that does not read)
                let queued =
                    DateTime::parse_from_rfc3339(&item.queued_at).map(|t| t.with_timezone(&Utc));
                match queued.ok().and_then(|at| stale(item.kind, &item.night, at)) {
                    Some(Stale::PastItsDay) => {
                        retried.too_late.push((item.id, item.night));
                        continue;
                    }
                    Some(Stale::LinkExpired) => {
                        retried.expired_links.push((item.id, item.email));
                        continue;
                    }
                    None => {}
                }
                if let Some(told_by) = &item.told_by {
                    retried.told.push((item.id, told_by.clone()));
                    to_follow.push(item);
                } else if requeue.execute([item.id])? == 1 {
                    retried.asked += 1;
                    retried.emails.push(item.email);
                    retried.queued.push((item.kind, item.night));
                }
            }
            // The mail that told an item's cases: of the night (and build)
            // `told_by` names, to the same address, of the kind that tells
            // them (a grant's, or a warning's).
            let mut tellers = tx.prepare(
                "SELECT id, kind, state, may_have_gone, told_by, withheld_at IS NOT NULL,
                        last_error, message, coding
                 FROM items
                 WHERE night = ?1 AND ref = ?2 AND email = ?3 AND kind IN (?4, ?5)
                 ORDER BY id",
            )?;
            // (each item once: a chain that came back to an item met
            // before, or to the item itself, ends there)
            let mut met: BTreeSet<i64> = to_follow.iter().map(|a: &Asked| a.id).collect();
            while let Some(item) = to_follow.pop() {
                let Some(told_by) = &item.told_by else {
                    continue;
                };
                let (night, reference) = super::teller(told_by);
                let kinds = if item.kind == Kind::Expiry {
                    [Kind::Expiry, Kind::Expiry]
                } else {
                    [Kind::Activation, Kind::Approval]
                };
                let found: Vec<TellerRow> = tellers
                    .query_map(
                        params![
                            night,
                            reference,
                            item.email,
                            kinds[0].as_str(),
                            kinds[1].as_str()
                        ],
                        |r| {
                            Ok(TellerRow {
                                id: r.get(0)?,
                                kind: r.get(1)?,
                                state: r.get(2)?,
                                may_have_gone: r.get(3)?,
                                told_by: r.get(4)?,
                                withheld: r.get(5)?,
                                last_error: r.get(6)?,
                                message: r.get(7)?,
                                coding: r.get(8)?,
                            })
                        },
                    )?
                    .collect::<std::result::Result<_, _>>()?;
                for row in found {
                    if !met.insert(row.id) {
                        continue;
                    }
                    let (id, kind) = (row.id, parse_kind(row.id, &row.kind)?);
                    let was = parse_state(id, &row.state)?;
                    let fate = teller_fate(&row, was);
                    if fate == Fate::QueuedAgain && requeue.execute([id])? != 1 {
                        continue;
                    }
                    if fate == Fate::QueuedAgain {
                        retried.emails.push(item.email.clone());
                    }
                    if fate == Fate::ToldLater {
                        to_follow.push(Asked {
                            id,
                            kind,
                            email: item.email.clone(),
                            told_by: row.told_by.clone(),
                            emptied: false,
                            // (a grant's or a warning's: never judged late)
                            night: night.to_string(),
                            queued_at: String::new(),
                        });
                    }
                    retried.tellers.push(Teller {
                        id,
                        kind,
                        was,
                        fate,
                        night: night.to_string(),
                        reference: reference.to_string(),
                        of: item.id,
                    });
                }
            }
            // Retrying by hand is a decision to write to the address again:
            // its flag is cleared, recorded in this commit for the caller
            // to write (`flags_to_write`), so a failure there leaves it to
            // the next run rather than the mail suppressed.
            let now = chrono::Utc::now();
            let emails: BTreeSet<&String> = retried.emails.iter().collect();
            for email in emails {
                super::delivery::to_flag(&tx, email, None, now)?;
            }
        }
        if !dry_run {
            tx.commit()?;
        }
        Ok(retried)
    }

    /// Which mail superseded item `id`, if a build of its night imported
    /// after a rollback did (`SUPERSEDED`): that snapshot's name.
    pub fn superseded_by(&self, id: i64) -> Result<Option<String>> {
        let error: Option<String> = self
            .conn
            .query_row(
                "SELECT last_error FROM items WHERE id = ?1 AND state = ?2",
                rusqlite::params![id, State::Suppressed.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(error.and_then(|e| {
            let by = e.strip_prefix(SUPERSEDED)?;
            Some(by.split(':').next().unwrap_or(by).to_string())
        }))
    }

    /// Whether item `id` was withheld for naming a case its address is no
    /// longer granted (which `retry` does not queue again).
    pub fn withheld(&self, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT withheld_at IS NOT NULL FROM items WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }
}

/// The cases of `items.case_keys` (or `untold`) as people read them, "-"
/// for none.
fn titles(column: Option<String>) -> String {
    let keys = super::case_keys_of(column);
    if keys.is_empty() {
        return "-".into();
    }
    keys.iter()
        .map(|k| schemas::CaseRef::parse_id(k).map_or_else(|| k.clone(), |c| c.title()))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::outbox::{NewItem, Packed};

    /// The review of the session's change (2026-12-06): mail `retry`
    /// follows (`told_by`) whose text was deleted after it was sent, and
    /// which a late report failed, was "queued again in its place" (its
    /// address's flag cleared): `send` then failed it as unreadable. Such
    /// mail cannot be sent again, as the item asked for cannot.
    #[test]
    fn a_teller_whose_text_was_deleted_is_not_queued_again() {
        let row = |message: Vec<u8>| TellerRow {
            id: 9,
            kind: Kind::Approval.as_str().into(),
            state: State::Failed.as_str().into(),
            may_have_gone: false,
            told_by: None,
            withheld: false,
            last_error: Some("5.1.1 a late report".into()),
            message,
            coding: "identity".into(),
        };
        assert_eq!(
            teller_fate(&row(Vec::new()), State::Failed),
            Fate::Unreadable
        );
        assert_eq!(
            teller_fate(&row(b"Subject: x\r\n\r\nx\r\n".to_vec()), State::Failed),
            Fate::QueuedAgain
        );
    }

    /// An outbox from before migration 19 keeps what its items' attempts
    /// and last error can say of whether one may have reached a relay,
    /// erring towards "may have" (which `retry` only reports): unknown or
    /// sending, more than one attempt (sent ones too: a bounce may fail
    /// them later), one that was neither failed, put off (retrying, or
    /// given back queued) nor accepted, or one given up with its outcome
    /// unknown (as `send` words it). And a build from before it, still
    /// running, that makes an item unknown marks it all the same.
    #[test]
    fn an_outbox_from_before_migration_19_takes_may_have_gone_from_the_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::OUTBOX_DB);
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let given_up = |outcome| {
            let item =
                crate::send::tests::item(State::Retrying, 1, now - chrono::Duration::days(30));
            let cfg = crate::MailSettings::default();
            let d = crate::send::decide(&item, outcome, &cfg, now, 0.5);
            assert_eq!(d.event, Event::Expired);
            d.error
        };
        let unknown = given_up(crate::outbox::Outcome::Unknown("timed out".into()));
        let put_off = given_up(crate::outbox::Outcome::Transient("451 busy".into()));
        let rows = [
            ("queued", 0, None, false),
            ("queued", 1, None, false),
            ("queued", 2, None, true),
            ("sending", 1, None, true),
            ("unknown", 1, None, true),
            ("retrying", 1, None, false),
            ("retrying", 2, None, true),
            ("failed", 0, None, false),
            ("failed", 1, Some("550 no such user".to_string()), false),
            ("failed", 1, put_off, false),
            ("failed", 1, unknown, true),
            ("failed", 2, None, true),
            ("suppressed", 0, None, false),
            ("suppressed", 1, None, true),
            ("sent", 1, None, false),
            ("sent", 2, None, true),
        ];
        {
            let conn = schemas::open_migrated(&path, &schemas::OUTBOX_MIGRATIONS[..18]).unwrap();
            for (i, (state, attempts, error, _)) in rows.iter().enumerate() {
                conn.execute(
                    "INSERT INTO items (night, email, kind, state, message_id, subject, message,
                     cases, queued_at, not_before, ref, attempts, last_error)
                     VALUES ('20261130', ?1, 'approval', ?2, ?3, 's', x'00', 0,
                     '2026-11-30T00:00:00+00:00', '2026-11-30T00:00:00+00:00', '', ?4, ?5)",
                    params![
                        format!("{i}@example.com"),
                        state,
                        format!("<{i}@x>"),
                        attempts,
                        error
                    ],
                )
                .unwrap();
            }
        }
        let ob = Outbox::open(dir.path()).unwrap();
        let marked = |ob: &Outbox| -> Vec<bool> {
            ob.conn
                .prepare("SELECT may_have_gone FROM items ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap()
        };
        let want: Vec<bool> = rows.iter().map(|r| r.3).collect();
        assert_eq!(marked(&ob), want);
        // An older build's sender, which knows no marker, recovers a
        // sending item as unknown, and one it had put off.
        ob.conn
            .execute("UPDATE items SET state = 'unknown' WHERE id IN (2, 6)", [])
            .unwrap();
        let mut want = want;
        want[1] = true;
        want[5] = true;
        assert_eq!(marked(&ob), want);
    }

    /// `show` gives every time it has in Taipei, and `list` the next one
    /// as a time: a time the outbox adds is never printed in UTC by an
    /// administrator's command that matched its label.
    #[test]
    fn show_gives_every_time_in_taipei_and_list_the_next_one_as_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path()).unwrap();
        // 16:30 UTC on 11/30 is 00:30 on 12/01 in Taipei.
        let queued = Utc.with_ymd_and_hms(2026, 11, 30, 16, 30, 5).unwrap();
        let due = Utc.with_ymd_and_hms(2026, 11, 30, 22, 0, 0).unwrap();
        let night = ob.begin_night(queued.date_naive(), "", queued).unwrap();
        let item = NewItem {
            email: "lawyer@example.com".into(),
            kind: Kind::Digest,
            message_id: "<1@example.com>".into(),
            subject: "s".into(),
            message: Packed::plain(b"Subject: s\r\n\r\nbody\r\n".to_vec()),
            cases: 1,
            case_keys: Vec::new(),
            behind: None,
        };
        assert!(night.add(&item, State::Queued, due).unwrap());
        night.commit(None).unwrap();
        let shown = ob.show(1).unwrap().unwrap();
        let field = |name: &str| {
            let found = shown.fields.iter().find(|(n, _)| *n == name);
            found.unwrap_or_else(|| panic!("no {name}")).1.clone()
        };
        assert_eq!(field("not before"), "2026-12-01 06:00:00 (Taipei)");
        assert!(
            field("queued").ends_with(" (Taipei)"),
            "{}",
            field("queued")
        );
        assert_eq!(field("sent"), "-");
        for (name, value) in &shown.fields {
            assert!(
                DateTime::parse_from_rfc3339(value).is_err(),
                "{name}: {value} is a stored time, not shown in Taipei"
            );
        }
        let listed = ob.list(None, None).unwrap();
        assert_eq!(listed[0].next, Some(due));
    }
}
