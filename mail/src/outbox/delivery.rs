//! The sender's operations: recover what a dead run left *sending*, list
//! what is due, claim it (each item *sending* or *suppressed*), record how
//! each attempt ended (at once, durably, in the small `outcomes` table) and
//! settle the recorded outcomes onto their items (a batch at a time). Each
//! update names the states its event may leave (`state::sql_sources`), and
//! one that finds its item elsewhere is an error, never a silent change.
//!
//! Several senders may share one outbox (every `cpor-server` process runs a
//! website mailer): a claim is an IMMEDIATE transaction that takes only
//! items still claimable, and writes a lease (`lease_until`, outbox
//! migration 6). `recover_expired` (the website's) turns into *unknown*
//! only the *sending* items whose lease ran out, never those another live
//! process is delivering; `recover` (the nightly sender's, alone under
//! send.lock) all of its scope's at once.

use chrono::{DateTime, Utc};
use rusqlite::{named_params, params, OptionalExtension, TransactionBehavior};

use super::state::{next, sources, sql_list, sql_sources, target, Event, State};
use super::{parse_kind, parse_state, scope_sql, Outbox, OutboxError, Result, Scope};
use crate::kind::Kind;

/// One item to deliver, as claimed.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub night: String,
    pub email: String,
    pub kind: Kind,
    /// Its state when it was claimed (queued, retrying or unknown).
    pub state: State,
    pub message_id: String,
    /// Its key's reference: the website's own per message, a re-run's
    /// build (`build-2`) for the nightly kinds, else empty.
    pub reference: String,
    pub message: Vec<u8>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When it was first tried (this attempt, if it is the first).
    pub first_try_at: DateTime<Utc>,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// The cases an activation, approval or expiry warning names (empty
    /// for other kinds, and for one queued before outbox migration 14).
    pub case_keys: Vec<String>,
}

/// Why `send` withheld an item ([`Event::Ungranted`] at a claim,
/// [`Event::Recalled`] before handing it over).
pub const UNGRANTED_WHY: &str = "the live snapshot no longer grants this address a case it names \
     (revoked, or past its cutoff, since it was queued); not sent: the next night's mail tells \
     again any case it names that is still granted";

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again later: a 4xx reply, a connection lost.
    Transient(String),
    /// Try again later: the relay could not be reached or would not take a
    /// session (connecting, TLS, authentication). Nothing about the
    /// recipient: never a reason to flag an address.
    Unreachable(String),
    /// Do not try again: a 5xx reply that says the address or its mailbox
    /// is bad (the address is flagged).
    Permanent(String),
    /// Do not try again: a 5xx reply for another reason (the relay's or
    /// the receiver's policy, the content). Nothing says the address is
    /// bad: never a reason to flag it.
    Rejected(String),
    /// Do not try again: a 5xx reply that says this message cannot go to
    /// the recipient's mailbox as it is (full, 5.2.2; too big, 5.2.3; a
    /// list not expanded, 5.2.4). Neither the address bad (no flag) nor
    /// the relay refusing (not a reason to call the relay down).
    Undeliverable(String),
    /// The data was sent but no answer came: it may have been delivered.
    Unknown(String),
}

/// How an attempt on a *sending* item ended, to record: `event` is
/// `Accepted`, `Deferred`, `Uncertain`, `Refused` or `Expired`; `next_try`
/// when to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub id: i64,
    pub event: Event,
    pub error: Option<String>,
    pub next_try: Option<DateTime<Utc>>,
    /// No answer came to the message's data: the relay may have taken it
    /// (`Uncertain`, or `Expired` when the last outcome was unknown).
    pub unknown_outcome: bool,
}

/// What a claim gave.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Now *sending*, in the order asked.
    pub items: Vec<Item>,
    /// Not sent: their addresses are flagged.
    pub suppressed: Vec<Item>,
    /// Now *failed*: their stored messages cannot be read.
    pub unreadable: Vec<Unreadable>,
    /// Now *failed*: reminders past their day (`Event::Outdated`).
    pub outdated: Vec<Item>,
    /// Now *suppressed*, by id: expiry warnings whose activation or
    /// approval, which they were queued behind, was sent (`Event::Covered`).
    pub covered: Vec<i64>,
    /// Now *suppressed*, by id: digests and reminders whose address turned
    /// that mailing off since they were queued (`Event::Unsubscribed`).
    pub unsubscribed: Vec<i64>,
    /// Not claimed, left as they were: the plan could not decide (a grant
    /// mail whose cases cannot be checked). Due again in the next run.
    pub left: Vec<Item>,
    /// Not claimable when their turn came, by id: another sender took them,
    /// or an expiry warning's grant mail was claimed before it in this
    /// claim (it waits for that mail's outcome: a later pass may take it).
    pub skipped: Vec<i64>,
}

/// An item whose stored message could not be read when it was claimed:
/// failed (`Event::Unreadable`), never sent. What an operator is told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    pub id: i64,
    pub night: String,
    pub email: String,
    pub kind: String,
    /// Why (its `last_error` adds that it was not sent).
    pub reason: String,
}

/// Where docs/OPERATIONS.md says what to do about an unreadable message.
pub const UNREADABLE_HELP: &str = "docs/OPERATIONS.md, \"A message the outbox cannot read\"";

impl Unreadable {
    /// What an operator is told: which item, whose, why, and where to look.
    pub fn notice(&self) -> String {
        format!(
            "outbox item {} ({} of night {} to {}) is NOT sent: {}; see `cpor-etl outbox show {}` \
             and {UNREADABLE_HELP}",
            self.id, self.kind, self.night, self.email, self.reason, self.id
        )
    }
}

/// Why an item's stored message cannot be read, as `outbox show` says it
/// (and, with what became of the item, its `last_error`).
///
/// Any error of `unpack` is damage: its frame fails its checksum or does
/// not decode, or it names a coding or a dictionary this build lacks, which
/// only damage can make, since a new coding or dictionary comes with an
/// outbox migration that older builds refuse (as migration 8 did).
pub(crate) fn unreadable_reason(e: &OutboxError) -> String {
    let why = match e {
        OutboxError::Unreadable { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    format!("the stored message cannot be read ({why})")
}

const INTERRUPTED: &str =
    "interrupted while sending (a crash or kill); tried again with the same Message-ID";

/// The states in which an item may still go out: what a re-run's item,
/// or an expiry warning queued behind a grant's mail, waits on.
const MAY_STILL_GO: [State; 5] = [
    State::Queued,
    State::Held,
    State::Sending,
    State::Retrying,
    State::Unknown,
];

/// The states in which an address's earlier digest holds its later ones
/// back ([`Outbox::due`]): those of [`MAY_STILL_GO`] but held (a held
/// night's digests go only if released, and a later night gives them up).
const DIGEST_BEFORE: [State; 4] = [
    State::Queued,
    State::Sending,
    State::Retrying,
    State::Unknown,
];

/// An expiry warning queued behind its night's activation or approval
/// (`behind`, outbox migration 15) while that mail may still go out: not
/// due, and not claimed ([`Event::Covered`] once it was sent). It waits
/// while that mail is with a relay, and otherwise for [`behind_for`] at
/// most after its own time (`not_before`; the named parameter `:cutoff`
/// is now less that, and the queries that use it name all their
/// parameters, so none can share its slot by position): a
/// grant mail its recipient's server keeps refusing for now, or a relay
/// down for hours, then lets it go on its own (two mails, rather than a
/// last day told late, or, past that day, never).
fn waits_behind() -> String {
    format!(
        "(items.behind IS NOT NULL AND EXISTS (
         SELECT 1 FROM items g WHERE g.message_id = items.behind AND (g.state = '{}'
         OR (g.state IN {} AND items.not_before > :cutoff))))",
        State::Sending.as_str(),
        sql_list(&MAY_STILL_GO)
    )
}

/// How long an expiry warning waits behind a grant mail that may still
/// go out but is not with a relay ([`waits_behind`]): long enough for a
/// night's mail, spread over 20 minutes, and a short outage of the relay;
/// short enough that a warning of a case whose last day is that very day
/// still comes that morning.
pub fn behind_for() -> chrono::Duration {
    chrono::Duration::hours(2)
}

/// Whether an expiry warning due from `not_before` may be queued behind a
/// grant's mail: only if its [`behind_for`] ends a quarter of an hour or
/// more before that day's send window closes (at `window_end`, Asia/Taipei),
/// so that a `send` (every five minutes, deploy/cpor-send.timer) still
/// takes it that day. Later (a night imported, or re-run, in the evening),
/// a grant mail deferred by its recipient's server would hold the warning
/// over the closed window to the next morning, past a last day that is
/// that very day; it is queued on its own instead, as before outbox
/// migration 15.
pub fn may_wait_behind(not_before: DateTime<Utc>, window_end: chrono::NaiveTime) -> bool {
    let day = not_before
        .with_timezone(&schemas::date::taipei())
        .date_naive();
    let last_sends = chrono::Duration::minutes(15);
    not_before + behind_for() + last_sends <= schemas::date::taipei_at(day, window_end)
}

/// Why an item was not sent ([`Event::Suppress`]): its address is
/// flagged.
pub(crate) const FLAGGED_WHY: &str = "address flagged";

/// Why a digest or reminder was not sent (`Event::Unsubscribed`).
pub const UNSUBSCRIBED_WHY: &str =
    "its address turned this mail off (unsubscribed) after it was queued; not sent";

/// Why a warning was not sent ([`Event::Covered`]), after the id of the
/// mail it was queued behind.
const COVERED_WHY: &str = "was sent and says each of its cases' last day and what that day \
     means: this expiry warning was not sent (two mails the same morning about one case)";

/// What a data directory's mail used, recorded with when it was first and
/// last (`relays`, outbox migration 13; `site_urls`, 23): a run without its
/// configuration is told from them.
#[derive(Debug, Clone, Copy)]
enum Used {
    Relays,
    SiteUrls,
}

impl Used {
    /// Its table and the column of what was used.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Used::Relays => ("relays", "relay"),
            Used::SiteUrls => ("site_urls", "site_url"),
        }
    }
}

/// How long a claim holds: longer than one message can take with every
/// RFC 5321 timeout run out (5 min for the greeting and each command, 2 for
/// DATA, 10 for its end: 32 min), so a live claimer is never overtaken:
/// it claims no more than its connections take at once (`send`'s website
/// passes), and the lease runs from the claim as the clock has it, not
/// from when its run began. Only a claimer that died makes its items wait
/// this long.
pub fn lease() -> chrono::Duration {
    chrono::Duration::minutes(60)
}

impl Outbox {
    /// Records that this run delivers through `relay` (host:port).
    pub fn note_relay(&self, relay: &str, now: DateTime<Utc>) -> Result<()> {
        self.note_used(Used::Relays, relay, now)
    }

    /// Records that mail is made here with the site address `site`
    /// (outbox migration 23).
    pub fn note_site(&self, site: &str, now: DateTime<Utc>) -> Result<()> {
        self.note_used(Used::SiteUrls, site, now)
    }

    /// The site address this data directory's mail was made with last
    /// (other than `but`), and when (in Taipei), if any.
    pub fn last_site(&self, but: &str) -> Result<Option<(String, String)>> {
        self.last_used(Used::SiteUrls, but)
    }

    /// The relay this data directory's mail went through last, and when
    /// (outbox migration 13; in Taipei, as an administrator reads it), if
    /// any.
    pub fn last_relay(&self) -> Result<Option<(String, String)>> {
        self.last_used(Used::Relays, "")
    }

    fn note_used(&self, used: Used, value: &str, now: DateTime<Utc>) -> Result<()> {
        let (table, column) = used.names();
        self.conn.execute(
            &format!(
                "INSERT INTO {table} ({column}, first_at, last_at) VALUES (?1, ?2, ?2)
                 ON CONFLICT ({column}) DO UPDATE SET last_at = excluded.last_at"
            ),
            params![value, now.to_rfc3339()],
        )?;
        Ok(())
    }

    fn last_used(&self, used: Used, but: &str) -> Result<Option<(String, String)>> {
        let (table, column) = used.names();
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {column}, last_at FROM {table} WHERE {column} <> ?1
                     ORDER BY last_at DESC LIMIT 1"
                ),
                [but],
                |r| Ok((r.get(0)?, super::admin::shown_time(r.get(1)?))),
            )
            .optional()?)
    }

    /// After a run that died: the items it claimed in order
    /// ([`Outbox::claim_for`]) that it cannot have handed to a relay are
    /// given back as they were (queued, or unknown if they were, the
    /// attempt uncounted: `Event::Withdrawn`, `Event::WithdrawnUnknown`);
    /// then the outcomes it recorded are settled (`settle`); then the items
    /// it left *sending* with no outcome become *unknown* (the relay may
    /// have accepted them: the outbox's trigger marks them
    /// `may_have_gone`, outbox migration 19) and are due at once.
    /// Only `scope`'s.
    ///
    /// Which it cannot have taken: see [`untaken`].
    pub fn recover(&mut self, scope: Scope) -> Result<Recovered> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let untaken = untaken(&tx, scope)?;
        let given_back = give_back(&tx, untaken)?;
        if scope == Scope::Nightly {
            tx.execute("DELETE FROM claims", [])?;
        }
        settle(&tx, scope)?;
        let n = tx.execute(
            &format!(
                "UPDATE items SET state = ?1, last_error = ?2 WHERE state IN {} AND {}",
                sql_sources(Event::Interrupted),
                scope_sql(scope)
            ),
            params![target(Event::Interrupted).as_str(), INTERRUPTED],
        )?;
        tx.commit()?;
        Ok(Recovered {
            unknown: n as u64,
            given_back,
        })
    }

    /// As `recover`, for a sender that shares the outbox with others (the
    /// website's mailers, one per server process): only the items whose
    /// lease has run out by `now` (or that have none) become unknown.
    pub fn recover_expired(&mut self, scope: Scope, now: DateTime<Utc>) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        settle(&tx, scope)?;
        let n = tx.execute(
            &format!(
                "UPDATE items SET state = ?1, last_error = ?2
                 WHERE state IN {} AND {} AND (lease_until IS NULL OR lease_until <= ?3)",
                sql_sources(Event::Interrupted),
                scope_sql(scope)
            ),
            params![
                target(Event::Interrupted).as_str(),
                INTERRUPTED,
                now.to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// The ids of `scope`'s items that may be claimed at `now`, oldest
    /// due first. `now_flag` (`send --now`): also those whose `not_before`
    /// (the spread of a night's mail) or `next_try_at` (the wait before a
    /// retry) is still ahead: after a relay's outage, its mail goes at once.
    ///
    /// A re-run's item (`ref` `build-N`: what the night's earlier build
    /// lacked) waits while the same address's item of the same kind from
    /// an earlier build of the night may still go out ([`MAY_STILL_GO`]):
    /// its reader gets the correction after the notice it corrects, not
    /// before. One that was sent, failed or suppressed holds nothing.
    /// So does an expiry warning queued behind its night's activation or
    /// approval ([`waits_behind`]): it is sent only if that mail is not.
    /// Such warnings come after everything else due: one due with its
    /// grant mail (after two hours, or after an outage) is claimed after
    /// that mail, and so waits for its outcome (`Claimed::skipped`).
    ///
    /// A digest waits while its address's digest queued before it may
    /// still go out (not held: [`DIGEST_BEFORE`]): after an outage, an
    /// older one has backed off longer, and went after the newer (the
    /// operator's runbook review of the forty-ninth session). A digest or
    /// a reminder waits while its address's activation or approval queued
    /// before it is queued, not tried yet, and due within [`behind_for`],
    /// for [`behind_for`] at most after its own time: a first night's reminder came before the
    /// activation it tells the reader to open (the mail review of the
    /// same session). A run's next pass sends it.
    pub fn due(&self, scope: Scope, now: DateTime<Utc>, now_flag: bool) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id FROM items WHERE state IN {} AND {}
             AND (:now_flag OR not_before <= :now)
             AND (:now_flag OR next_try_at IS NULL OR next_try_at <= :now)
             AND (ref NOT LIKE 'build-%' OR NOT EXISTS (
                 SELECT 1 FROM items e WHERE e.night = items.night AND e.email = items.email
                 AND e.kind = items.kind AND e.id < items.id AND e.state IN {}))
             AND (items.kind NOT IN ('{digest}', '{reminder}') OR items.not_before <= :cutoff
                 OR NOT EXISTS (
                 SELECT 1 FROM items g INDEXED BY items_grant_mail
                 WHERE g.email = items.email AND g.case_keys IS NOT NULL
                 AND g.state IN ('queued', 'retrying', 'unknown') AND g.state = '{queued}'
                 AND g.kind IN ('{activation}', '{approval}') AND g.id < items.id
                 AND g.not_before <= :horizon))
             AND NOT {}
             ORDER BY behind IS NOT NULL, coalesce(next_try_at, not_before), id",
            sql_sources(Event::Claim),
            scope_sql(scope),
            sql_list(&MAY_STILL_GO),
            waits_behind(),
            digest = Kind::Digest.as_str(),
            reminder = Kind::Reminder.as_str(),
            activation = Kind::Activation.as_str(),
            approval = Kind::Approval.as_str(),
            queued = State::Queued.as_str(),
        ))?;
        let cutoff = (now - behind_for()).to_rfc3339();
        let horizon = (now + behind_for()).to_rfc3339();
        let rows = stmt.query_map(
            named_params! {
                ":now_flag": now_flag,
                ":now": now.to_rfc3339(),
                ":cutoff": cutoff,
                ":horizon": horizon,
            },
            |r| r.get(0),
        )?;
        let due: Vec<i64> = rows.collect::<Result<_, _>>()?;
        if scope == Scope::Website {
            return Ok(due);
        }
        // A digest not its address's first that may still go waits: the
        // digests not sent, by address, a pass over those not sent (an
        // index of them by address cost each night's queueing more than
        // this costs a run: callgrind, BENCHMARKS.md).
        let mut first_of = std::collections::HashMap::new();
        let mut later = std::collections::HashMap::new();
        {
            let mut digests = self.conn.prepare(&format!(
                "SELECT id, email FROM items WHERE state IN {} AND kind = ?1 AND {} ORDER BY id",
                sql_list(&DIGEST_BEFORE),
                scope_sql(scope)
            ))?;
            for row in digests.query_map([Kind::Digest.as_str()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })? {
                let (id, email) = row?;
                match first_of.get(&email) {
                    Some(&first) => {
                        later.insert(id, first);
                    }
                    None => {
                        first_of.insert(email, id);
                    }
                }
            }
        }
        // Its earlier digest, not yet due (its next try after an outage
        // hours off), goes in its place when a later one's time has come:
        // the morning's news does not wait for the afternoon. Only one
        // that could be claimed now but for its time (not `--now`: then
        // time holds nothing back), and once for each later one's time:
        // tried since (`tried_at`), it failed again and keeps its own next
        // try, or every run would try it while the later one stays due,
        // its backoff ignored (the review of the fiftieth session's
        // change). (later, first) for each later digest due.
        let ahead: Vec<(i64, i64)> = due
            .iter()
            .filter_map(|id| later.get(id).map(|first| (*id, *first)))
            .collect();
        let on_time: std::collections::HashSet<i64> = due.iter().copied().collect();
        let forward: std::collections::HashSet<i64> =
            if now_flag || ahead.iter().all(|(_, first)| on_time.contains(first)) {
                std::collections::HashSet::new()
            } else {
                let any_time: std::collections::HashSet<i64> = stmt
                    .query_map(
                        named_params! {
                            ":now_flag": true,
                            ":now": now.to_rfc3339(),
                            ":cutoff": cutoff,
                            ":horizon": horizon,
                        },
                        |r| r.get(0),
                    )?
                    .collect::<Result<_, _>>()?;
                // (when it was tried is read only for one that would go)
                let mut forward = std::collections::HashSet::new();
                for (id, first) in ahead {
                    if !on_time.contains(&first)
                        && any_time.contains(&first)
                        && !forward.contains(&first)
                        && !self.tried_since_due(first, id)?
                    {
                        forward.insert(first);
                    }
                }
                forward
            };
        let mut brought = std::collections::HashSet::new();
        Ok(due
            .into_iter()
            .filter_map(|id| match later.get(&id) {
                None => Some(id),
                Some(first) if forward.contains(first) && brought.insert(*first) => Some(*first),
                Some(_) => None,
            })
            .collect())
    }

    /// Whether item `first` was claimed (`tried_at`, outbox migration 24)
    /// at or after item `later`'s time came (its next try, or its
    /// `not_before`): an earlier digest brought forward for `later` once
    /// already.
    fn tried_since_due(&self, first: i64, later: i64) -> Result<bool> {
        let (tried, time): (Option<String>, String) = self.conn.query_row(
            "SELECT (SELECT tried_at FROM items WHERE id = ?1),
                    (SELECT coalesce(next_try_at, not_before) FROM items WHERE id = ?2)",
            params![first, later],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc));
        Ok(match (tried.as_deref().map(parse), parse(&time)) {
            (Some(Ok(tried)), Ok(time)) => tried >= time,
            _ => false,
        })
    }

    /// Claims items in one commit: each is loaded and `plan` says whether
    /// it is sent (`Event::Claim`: *sending*, one more attempt, leased until
    /// `now + lease()`) or not (`Event::Suppress`, `Event::Ungranted`,
    /// `Event::Outdated`); `None` leaves it as it is, untouched, in
    /// `Claimed::left` (the plan cannot tell yet). An item whose stored
    /// message cannot be read fails on its own (`Event::Unreadable`, the
    /// reason in `last_error`) and the claim goes on: one damaged row never
    /// holds up the others. An expiry warning whose activation or approval,
    /// which it was queued behind, was sent is not sent
    /// (`Event::Covered`, in `Claimed::covered`), whatever the plan. Items
    /// no longer claimable (another sender took them; a warning behind a
    /// mail that may still go out) are skipped.
    ///
    /// Records no hand-over order: after a crash, every item it took
    /// becomes *unknown* (`recover`). A nightly sender claims with
    /// [`Outbox::claim_for`].
    pub fn claim(
        &mut self,
        ids: &[i64],
        now: DateTime<Utc>,
        plan: impl FnMut(&Item) -> Option<Event>,
    ) -> Result<Claimed> {
        self.claim_for(ids, now, None, plan)
    }

    /// As [`Outbox::claim`], for a sender that hands `Claimed::items` over
    /// in their order over `connections` connections, each taking its next
    /// item only once its last one's outcome is recorded or the item has
    /// left *sending* (`send`'s `deliver_all`): a nightly sender, one at a
    /// time, each batch settled before it claims the next. The claim
    /// records that order in `claims` (outbox migration 20), in place of
    /// the last claim's, so that `recover` can give back, as they were, the
    /// items a dead sender cannot have taken. `None`: as `claim`.
    pub fn claim_for(
        &mut self,
        ids: &[i64],
        now: DateTime<Utc>,
        connections: Option<usize>,
        mut plan: impl FnMut(&Item) -> Option<Event>,
    ) -> Result<Claimed> {
        let now_text = now.to_rfc3339();
        // From now as the clock has it: a run's `now` is when it began.
        let lease_text = (now.max(Utc::now()) + lease()).to_rfc3339();
        let cutoff = (now - behind_for()).to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut claimed = Claimed::default();
        {
            let mut load = tx.prepare(&format!(
                "SELECT id, night, email, kind, state, message_id, message, attempts, first_try_at,
                 coding, queued_at, ref, case_keys,
                 (SELECT g.id FROM items g WHERE g.message_id = items.behind AND g.state = 'sent')
                 FROM items WHERE id = :id AND state IN {} AND NOT {}",
                sql_sources(Event::Claim),
                waits_behind()
            ))?;
            let mut mark = tx.prepare(&format!(
                "UPDATE items SET state = ?2, attempts = attempts + 1,
                 first_try_at = coalesce(first_try_at, ?3), lease_until = ?4, tried_at = ?3
                 WHERE id = ?1 AND state IN {}",
                sql_sources(Event::Claim)
            ))?;
            // Not sent: the state, the reason, and no next try.
            let not_sent = |event| {
                tx.prepare(&format!(
                    "UPDATE items SET state = ?2, last_error = ?3, next_try_at = NULL
                     WHERE id = ?1 AND state IN {}",
                    sql_sources(event)
                ))
            };
            let mut suppress = not_sent(Event::Suppress)?;
            let mut unsubscribe = not_sent(Event::Unsubscribed)?;
            let mut cover = not_sent(Event::Covered)?;
            // (its cases are left for the next night's mail to tell those
            // still granted, unless a night's mail told them while a
            // sender held it: `NightQueue::withhold`)
            let mut ungrant = tx.prepare(&super::withhold_sql(
                Event::Ungranted,
                super::UNTOLD_BY_SEND,
            ))?;
            let mut fail = not_sent(Event::Unreadable)?;
            let mut outdate = not_sent(Event::Outdated)?;
            for &id in ids {
                let row = load
                    .query_row(named_params! {":id": id, ":cutoff": cutoff}, |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, Vec<u8>>(6)?,
                            r.get::<_, i64>(7)?,
                            r.get::<_, Option<String>>(8)?,
                            r.get::<_, String>(9)?,
                            r.get::<_, String>(10)?,
                            r.get::<_, String>(11)?,
                            r.get::<_, Option<String>>(12)?,
                            r.get::<_, Option<i64>>(13)?,
                        ))
                    })
                    .optional()?;
                let Some((
                    id,
                    night,
                    email,
                    kind,
                    state,
                    message_id,
                    stored,
                    attempts,
                    first,
                    coding,
                    queued_at,
                    reference,
                    case_keys,
                    covered_by,
                )) = row
                else {
                    claimed.skipped.push(id);
                    continue;
                };
                if let Some(grant) = covered_by {
                    let suppressed = target(Event::Covered).as_str();
                    let why = format!("its activation or approval, item {grant}, {COVERED_WHY}");
                    if cover.execute(params![id, suppressed, why])? == 1 {
                        claimed.covered.push(id);
                    }
                    continue;
                }
                let message = match super::packed::unpack_to_send(id, &coding, stored) {
                    Ok(message) => message,
                    Err(e) => {
                        let reason = unreadable_reason(&e);
                        let failed = target(Event::Unreadable).as_str();
                        let last_error = format!("{reason}; it was not sent");
                        if fail.execute(params![id, failed, last_error])? == 1 {
                            claimed.unreadable.push(Unreadable {
                                id,
                                night,
                                email,
                                kind,
                                reason,
                            });
                        }
                        continue;
                    }
                };
                let mut item = Item {
                    id,
                    night,
                    email,
                    kind: parse_kind(id, &kind)?,
                    state: parse_state(id, &state)?,
                    message_id,
                    reference,
                    message,
                    attempts,
                    first_try_at: first
                        .as_deref()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map_or(now, |t| t.with_timezone(&Utc)),
                    queued_at: DateTime::parse_from_rfc3339(&queued_at)
                        .map_err(|_| OutboxError::Unknown {
                            id,
                            what: "time of queueing",
                            value: queued_at.clone(),
                        })?
                        .with_timezone(&Utc),
                    case_keys: super::case_keys_of(case_keys),
                };
                let Some(event) = plan(&item) else {
                    claimed.left.push(item);
                    continue;
                };
                match event {
                    Event::Claim => {
                        let n = mark.execute(params![
                            id,
                            target(Event::Claim).as_str(),
                            now_text,
                            lease_text
                        ])?;
                        if n == 1 {
                            item.attempts += 1;
                            claimed.items.push(item);
                        }
                    }
                    Event::Suppress => {
                        let suppressed = target(Event::Suppress).as_str();
                        if suppress.execute(params![id, suppressed, FLAGGED_WHY])? == 1 {
                            claimed.suppressed.push(item);
                        }
                    }
                    Event::Unsubscribed => {
                        let suppressed = target(Event::Unsubscribed).as_str();
                        if unsubscribe.execute(params![id, suppressed, UNSUBSCRIBED_WHY])? == 1 {
                            claimed.unsubscribed.push(id);
                        }
                    }
                    Event::Ungranted => {
                        let suppressed = target(Event::Ungranted).as_str();
                        let why = UNGRANTED_WHY;
                        if ungrant.execute(params![id, suppressed, why, now_text])? == 1 {
                            claimed.suppressed.push(item);
                        }
                    }
                    Event::Outdated => {
                        let failed = target(Event::Outdated).as_str();
                        let why = format!(
                            "a reminder of {} not sent in time (by the end of that day's send window; queued after it by `send --today`, by the end of the day it was queued); it was not sent late",
                            item.night
                        );
                        if outdate.execute(params![id, failed, why])? == 1 {
                            claimed.outdated.push(item);
                        }
                    }
                    other => {
                        return Err(OutboxError::Illegal {
                            id,
                            event: other,
                            found: "a claim".into(),
                        })
                    }
                }
            }
        }
        // The order the connections take them in, for `recover`, in place
        // of the last claim's: that batch is settled (a nightly sender's
        // batches go one after another, and `recover` comes first). A
        // nightly claim without an order removes it (`recover` then gives
        // nothing back, as before).
        let nightly = claimed
            .items
            .iter()
            .any(|i| i.kind.scope() == Scope::Nightly);
        if connections.is_some() || nightly {
            tx.execute("DELETE FROM claims", [])?;
        }
        if let Some(k) = connections {
            if !claimed.items.is_empty() {
                let order: String = claimed
                    .items
                    .iter()
                    .map(|i| format!("{} {}\n", i.id, i.state.as_str()))
                    .collect();
                tx.execute(
                    "INSERT INTO claims (connections, boot, at, items) VALUES (?1, ?2, ?3, ?4)",
                    params![k as i64, boot_id(), now_text, order],
                )?;
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Gives back claimed items that were never handed over (the sender was
    /// asked to stop, or an error ended its run; a grant mail it could not
    /// check as it was to hand it over): each goes back, in one commit, as if this claim had not
    /// happened: queued (`Event::Withdrawn`), or unknown if it was unknown
    /// when claimed (`Event::WithdrawnUnknown`: its earlier attempt may
    /// have been delivered); its attempt uncounted, its first try
    /// forgotten if this was to be it, its lease gone. Only items still
    /// *sending* with no recorded outcome. Returns how many.
    pub fn withdraw(&mut self, items: &[Item]) -> Result<u64> {
        if items.is_empty() {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = give_back(&tx, items.iter().map(|i| (i.id, i.state == State::Unknown)))?;
        tx.commit()?;
        Ok(n)
    }

    /// Withholds a claimed grant mail before it is handed to a relay: a
    /// snapshot published since the claim no longer grants its address a
    /// case it names (`Event::Recalled`). Like a withhold at a claim, its
    /// cases are left for the next night's mail to tell those still
    /// granted (unless that night, having looked it up just before the
    /// claim, told them already: `told_by`), and its attempt is not counted
    /// (nothing was tried). One
    /// commit; false if the item is no longer *sending* with no outcome.
    pub fn recall(&self, item: &Item, now: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(&super::withhold_sql(Event::Recalled, super::UNTOLD_BY_SEND))?
            .execute(params![
                item.id,
                target(Event::Recalled).as_str(),
                UNGRANTED_WHY,
                now.to_rfc3339()
            ])?;
        Ok(changed == 1)
    }

    /// Records how an attempt on a *sending* item ended, durably (one
    /// small commit): the item keeps *sending* until `settle` moves the
    /// outcome onto it.
    pub fn record(&self, outcome: &Recorded, now: DateTime<Utc>) -> Result<()> {
        self.record_flagging(outcome, None, now)
    }

    /// As [`Outbox::record`], and `flag` (`(address, reason)`, a 5xx) is
    /// recorded as an address to flag in the same commit
    /// (`flags_to_write`), for the caller to write to the
    /// accounts database ([`Outbox::write_flags`]).
    pub fn record_flagging(
        &self,
        outcome: &Recorded,
        flag: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Recorded {
            id,
            event,
            ref error,
            next_try,
            unknown_outcome,
        } = *outcome;
        // (no answer to the data: given up, or tried again as unknown)
        let consistent = match event {
            Event::Uncertain => unknown_outcome,
            Event::Expired => true,
            _ => !unknown_outcome,
        };
        if !consistent {
            return Err(OutboxError::UnknownOutcome {
                id,
                event,
                unknown: unknown_outcome,
            });
        }
        let is_outcome = matches!(
            event,
            Event::Accepted | Event::Deferred | Event::Uncertain | Event::Refused | Event::Expired
        );
        let from = sources(event);
        // (one statement, its own commit, unless there is a flag to keep
        // with it)
        let tx = match flag {
            Some(_) => Some(self.conn.unchecked_transaction()?),
            None => None,
        };
        let added = match (is_outcome, from.as_slice()) {
            (true, [from]) => self.conn.prepare_cached(RECORD)?.execute(params![
                id,
                target(event).as_str(),
                error,
                next_try.map(|t| t.to_rfc3339()),
                now.to_rfc3339(),
                from.as_str(),
                unknown_outcome
            ])?,
            _ => 0,
        };
        if added == 1 {
            if let (Some(tx), Some((email, reason))) = (tx, flag) {
                to_flag(&tx, email, Some(reason), now)?;
                tx.commit()?;
            }
            return Ok(());
        }
        let found: Option<String> = self
            .conn
            .query_row("SELECT state FROM items WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Err(OutboxError::Illegal {
            id,
            event,
            found: found.unwrap_or_else(|| "no such item".into()),
        })
    }

    /// Moves the recorded outcomes of `scope`'s items onto them, in one
    /// transaction. Returns how many.
    pub fn settle(&mut self, scope: Scope) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = settle(&tx, scope)?;
        tx.commit()?;
        Ok(n)
    }
}

/// Records `email`'s flag to write, for `reason` (`None`: to clear it), in
/// the caller's commit (`flags_to_write`, outbox migration 21).
pub(super) fn to_flag(
    conn: &rusqlite::Connection,
    email: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO flags_to_write (email, reason, at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![email, reason, now.to_rfc3339()])?;
    Ok(())
}

/// Before `email`'s owner clears its flag in the accounts database (its
/// mail turned on again on the account page): the flags still to write for
/// it are dropped, so that one written later does not flag it again. One
/// statement, under the outbox's write lock: a [`Outbox::write_flags`] under
/// way finishes first (and its flag is then cleared after it). On the
/// website's own outbox connection, waiting at most `wait`.
pub fn drop_flag_to_write(
    conn: &rusqlite::Connection,
    email: &str,
    wait: std::time::Duration,
) -> Result<()> {
    conn.busy_timeout(wait)?;
    let dropped = conn.execute("DELETE FROM flags_to_write WHERE email = ?1", [email]);
    conn.busy_timeout(schemas::BUSY_TIMEOUT)?;
    dropped?;
    Ok(())
}

impl Outbox {
    /// Before a night's grants clear these addresses' flags in the
    /// accounts database (a clerk corrected the address): the flags still
    /// to write for them are dropped, so an older one written later does
    /// not flag the address again. Under the outbox's write lock, after any
    /// [`Outbox::write_flags`] under way.
    pub fn drop_flags_to_write(&mut self, emails: &[&str]) -> Result<()> {
        if emails.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for email in emails {
            tx.execute(
                "DELETE FROM flags_to_write WHERE email = ?1 AND reason IS NOT NULL",
                [email],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Whose flags [`Outbox::write_flags`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsOf<'a> {
    /// Every row: the nightly sender and `bounces`, which report them.
    All,
    /// One address's: what the caller recorded itself.
    Address(&'a str),
}

impl Outbox {
    /// Writes the flags recorded to write ([`Outbox::record_flagging`],
    /// [`Outbox::bounced`], [`Outbox::retry`], `flags_to_write`) of `of`
    /// with `write` (to the accounts database), each removed once written,
    /// all under the outbox's write lock: no other process's row can change
    /// between being read and being written, and no two processes write one
    /// row (so a stale flag never lands after a newer clear, nor the other
    /// way round). Nothing may hold an accounts transaction while it waits
    /// for the outbox. Returns the rows written.
    pub fn write_flags<E: From<OutboxError>>(
        &mut self,
        of: FlagsOf<'_>,
        mut write: impl FnMut(&FlagToWrite) -> std::result::Result<(), E>,
    ) -> std::result::Result<Vec<FlagToWrite>, E> {
        // ?1: the address, or NULL for every row.
        let address = match of {
            FlagsOf::All => None,
            FlagsOf::Address(email) => Some(email),
        };
        let sql = |e: rusqlite::Error| E::from(OutboxError::from(e));
        // (none: the common case, without the write lock)
        let any: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM flags_to_write WHERE ?1 IS NULL OR email = ?1)",
            )
            .and_then(|mut st| st.query_row([address], |r| r.get(0)))
            .map_err(sql)?;
        if !any {
            return Ok(Vec::new());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let rows: Vec<FlagToWrite> = tx
            .prepare(
                "SELECT email, reason FROM flags_to_write WHERE ?1 IS NULL OR email = ?1
                 ORDER BY at, email",
            )
            .and_then(|mut st| {
                st.query_map([address], |r| {
                    Ok(FlagToWrite {
                        email: r.get(0)?,
                        reason: r.get(1)?,
                    })
                })?
                .collect()
            })
            .map_err(sql)?;
        for row in &rows {
            write(row)?;
            tx.execute("DELETE FROM flags_to_write WHERE email = ?1", [&row.email])
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(rows)
    }
}

/// An address's flag to write to the accounts database
/// ([`Outbox::write_flags`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagToWrite {
    pub email: String,
    /// Why it is flagged; `None`: its flag is to be cleared.
    pub reason: Option<String>,
}

/// An outcome, kept until settled: only for an item still in its event's
/// one source state (`sending`), bound as ?6.
const RECORD: &str =
    "INSERT INTO outcomes (item_id, state, last_error, next_try_at, at, unknown_outcome)
     SELECT id, ?2, ?3, ?4, ?5, ?7 FROM items WHERE id = ?1 AND state = ?6";

/// A recorded outcome: item id, state, last error, next try, when, and
/// whether it was unknown.
type OutcomeRow = (i64, String, Option<String>, Option<String>, String, bool);

/// The items of `scope` a dead sender left *sending* that it cannot have
/// handed to a relay, each `(id, was unknown)`.
///
/// Its connections take a claim's items in their order ([`Outbox::claim_for`]),
/// each its next only once its last has a sign: an outcome recorded, or
/// left *sending* (recalled, given back). So the taken ones are a prefix
/// of the order, and every taken one without a sign holds a connection. Past
/// the last item with a sign (`L`), the `k` connections less those held by
/// unsigned items before it (`held`) may have taken `k − held` more; an
/// item placed after `L + k − held` was not taken. Nightly only: the claim is
/// the one row of `claims` (outbox migration 20), made since this machine
/// started (`claims.boot`): a sender's commits survive its kill, not a
/// power failure (`open_for_sending`), whose lost outcomes would hide
/// items that went.
fn untaken(tx: &rusqlite::Transaction<'_>, scope: Scope) -> Result<Vec<(i64, bool)>> {
    let Some(boot) = boot_id().filter(|_| scope == Scope::Nightly) else {
        return Ok(Vec::new());
    };
    let claims: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT connections, items FROM claims WHERE boot = ?1")?;
        let rows = stmt.query_map([boot], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut unsigned = tx.prepare(
        "SELECT state = 'sending' AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.item_id = ?1)
         FROM items WHERE id = ?1",
    )?;
    let mut untaken = Vec::new();
    for (k, order) in claims {
        // (place, id, was unknown, no sign yet)
        let mut rows = Vec::new();
        for (pos, line) in order.lines().enumerate() {
            let mut words = line.split(' ');
            let (Some(Ok(id)), Some(from)) = (words.next().map(str::parse::<i64>), words.next())
            else {
                // (a row this code did not write: nothing is given back
                // by it, every item left sending becomes unknown)
                rows.clear();
                break;
            };
            let open = unsigned
                .query_row([id], |r| r.get::<_, bool>(0))
                .optional()?;
            rows.push((
                pos as i64,
                id,
                from == State::Unknown.as_str(),
                open == Some(true),
            ));
        }
        let last = rows
            .iter()
            .filter(|r| !r.3)
            .map(|r| r.0)
            .max()
            .unwrap_or(-1);
        let held = rows.iter().filter(|r| r.3 && r.0 < last).count() as i64;
        untaken.extend(
            rows.iter()
                .filter(|r| r.3 && r.0 > last + k - held)
                .map(|r| (r.1, r.2)),
        );
    }
    Ok(untaken)
}

/// This machine's boot (Linux's `boot_id`), once per process; `None`
/// where there is none to read.
fn boot_id() -> Option<&'static str> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .as_deref()
}

/// Gives back claimed items no relay saw, each `(id, was unknown)`: queued
/// (`Event::Withdrawn`), or unknown (`Event::WithdrawnUnknown`), the
/// attempt uncounted. Only items still *sending* with no recorded outcome.
/// Returns how many.
fn give_back(
    conn: &rusqlite::Connection,
    items: impl IntoIterator<Item = (i64, bool)>,
) -> Result<u64> {
    let statement = |event| {
        conn.prepare(&format!(
            "UPDATE items SET state = ?2, {}
             WHERE id = ?1 AND state IN {} AND {}",
            super::UNCLAIMED,
            sql_sources(event),
            super::NO_OUTCOME
        ))
    };
    let mut queued = statement(Event::Withdrawn)?;
    let mut unknown = statement(Event::WithdrawnUnknown)?;
    let mut n = 0;
    for (id, was_unknown) in items {
        let (stmt, event) = if was_unknown {
            (&mut unknown, Event::WithdrawnUnknown)
        } else {
            (&mut queued, Event::Withdrawn)
        };
        n += stmt.execute(params![id, target(event).as_str()])? as u64;
    }
    Ok(n)
}

/// What `recover` did: items made *unknown*, and items given back as they
/// were (their claim says no relay can have seen them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    pub unknown: u64,
    pub given_back: u64,
}

fn settle(conn: &rusqlite::Connection, scope: Scope) -> Result<u64> {
    // outcomes first (CROSS JOIN keeps that order): it is small, items is
    // not, and each outcome finds its item by id.
    let rows: Vec<OutcomeRow> = {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT o.item_id, o.state, o.last_error, o.next_try_at, o.at, o.unknown_outcome
             FROM outcomes AS o CROSS JOIN items AS i ON i.id = o.item_id WHERE i.{}",
            scope_sql(scope)
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut apply = conn.prepare_cached(
        "UPDATE items SET state = ?2, last_error = ?3, next_try_at = ?4,
         sent_at = CASE WHEN ?2 = ?6 THEN ?5 ELSE sent_at END,
         may_have_gone = may_have_gone OR ?8
         WHERE id = ?1 AND state = ?7",
    )?;
    let mut forget = conn.prepare_cached("DELETE FROM outcomes WHERE item_id = ?1")?;
    let mut n = 0;
    for (id, state, error, next_try, at, unknown) in rows {
        let state = parse_state(id, &state)?;
        // Only an outcome's state, and only onto an item still sending.
        let legal = [
            Event::Accepted,
            Event::Deferred,
            Event::Uncertain,
            Event::Refused,
            Event::Expired,
        ]
        .into_iter()
        .any(|e| next(State::Sending, e) == Some(state));
        if legal {
            n += apply.execute(params![
                id,
                state.as_str(),
                error,
                next_try,
                at,
                State::Sent.as_str(),
                State::Sending.as_str(),
                unknown
            ])? as u64;
        }
        forget.execute([id])?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thirty-seventh session's last reading: writers read the flags to
    /// write, wrote them to the accounts database, then removed them; a
    /// reader held up between (the accounts database busy) wrote a stale
    /// flag after another process had recorded and written a newer clear
    /// (an `outbox retry`), and the retried mail was suppressed. Now each
    /// row is read, written and removed under the outbox's write lock: a
    /// newer row waits for it, and then stays, to be written in turn.
    #[test]
    fn a_flag_is_written_under_the_outboxs_write_lock_so_a_newer_one_comes_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path()).unwrap();
        let now = Utc::now();
        to_flag(&ob.conn, "e@example.com", Some("550 no such user"), now).unwrap();
        let other = rusqlite::Connection::open(dir.path().join(super::super::OUTBOX_DB)).unwrap();
        other
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
        let mut written = Vec::new();
        let rows = ob
            .write_flags(FlagsOf::All, |row| {
                written.push(row.clone());
                // A retry's clear, recorded meanwhile by another process:
                // it must wait for this write.
                let clear = to_flag(&other, "e@example.com", None, now);
                assert!(clear.is_err(), "recorded while a flag was being written");
                Ok::<_, OutboxError>(())
            })
            .unwrap();
        assert_eq!(rows, written);
        assert_eq!(rows[0].reason.as_deref(), Some("550 no such user"));
        // Recorded after it, the clear is written after it.
        to_flag(&other, "e@example.com", None, now).unwrap();
        let rows = ob
            .write_flags(FlagsOf::All, |_| Ok::<_, OutboxError>(()))
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].reason, None);
        // One address's, or none to write: no write lock taken.
        to_flag(&other, "f@example.com", Some("550"), now).unwrap();
        let of_e = ob
            .write_flags(FlagsOf::Address("e@example.com"), |_| {
                Ok::<_, OutboxError>(())
            })
            .unwrap();
        assert!(of_e.is_empty());
        let of_f = ob
            .write_flags(FlagsOf::Address("f@example.com"), |_| {
                Ok::<_, OutboxError>(())
            })
            .unwrap();
        assert_eq!(of_f.len(), 1);
    }

    /// A night's grant clears an address's flag (the clerk corrected it):
    /// an older flag still to write for it is dropped first, so it cannot
    /// flag the address again once written; a clear, and other addresses'
    /// flags, stay.
    #[test]
    fn a_grant_drops_the_older_flags_still_to_write_of_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path()).unwrap();
        let now = Utc::now();
        to_flag(&ob.conn, "e@example.com", Some("550"), now).unwrap();
        to_flag(&ob.conn, "f@example.com", Some("550"), now).unwrap();
        to_flag(&ob.conn, "g@example.com", None, now).unwrap();
        ob.drop_flags_to_write(&["e@example.com", "g@example.com"])
            .unwrap();
        let left = ob
            .write_flags(FlagsOf::All, |_| Ok::<_, OutboxError>(()))
            .unwrap();
        let left: Vec<(&str, Option<&str>)> = left
            .iter()
            .map(|r| (r.email.as_str(), r.reason.as_deref()))
            .collect();
        assert_eq!(
            left,
            [("f@example.com", Some("550")), ("g@example.com", None)]
        );
    }

    /// An outcome is unknown (no answer to the data) exactly when it is
    /// `Uncertain`, or `Expired` after such an attempt: anything else is
    /// refused, saying so, and records nothing; the item stays sending.
    #[test]
    fn an_outcome_is_recorded_as_unknown_only_when_it_can_be() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path()).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let night = ob.begin_night(now.date_naive(), "", now).unwrap();
        let new = crate::outbox::NewItem {
            email: "a@example.com".into(),
            kind: Kind::Digest,
            message_id: "<a@x>".into(),
            subject: "s".into(),
            message: crate::outbox::Packed::plain(b"Subject: s\r\n\r\nbody\r\n".to_vec()),
            cases: 0,
            case_keys: Vec::new(),
            behind: None,
        };
        assert!(night.add(&new, State::Queued, now).unwrap());
        night.commit(None).unwrap();
        let due = ob.due(Scope::Nightly, now, true).unwrap();
        let id = ob.claim(&due, now, |_| Some(Event::Claim)).unwrap().items[0].id;
        let recorded = |event, unknown_outcome| Recorded {
            id,
            event,
            error: None,
            next_try: None,
            unknown_outcome,
        };
        for (event, unknown) in [
            (Event::Accepted, true),
            (Event::Deferred, true),
            (Event::Refused, true),
            (Event::Uncertain, false),
        ] {
            let e = ob.record(&recorded(event, unknown), now).unwrap_err();
            assert!(
                matches!(e, OutboxError::UnknownOutcome { .. }),
                "{event:?}: {e}"
            );
            assert!(e.to_string().contains(&format!("{event:?}")), "{e}");
        }
        assert_eq!(ob.settle(Scope::Nightly).unwrap(), 0);
        assert_eq!(ob.state_of(id).unwrap(), Some(State::Sending));
        ob.record(&recorded(Event::Expired, true), now).unwrap();
        assert_eq!(ob.settle(Scope::Nightly).unwrap(), 1);
        assert_eq!(ob.state_of(id).unwrap(), Some(State::Failed));
        let marked: bool = ob
            .conn
            .query_row("SELECT may_have_gone FROM items WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(
            marked,
            "given up after no answer to its data: it may have gone"
        );
    }

    /// A warning may wait behind its grant mail only if its two hours end
    /// a quarter of an hour before that day's send window closes (the
    /// third review: a wait ending at 21:00 sharp left no `send` to take
    /// the warning that day): one due at 18:45 Taipei may, one due a
    /// minute later goes on its own, and one due the next morning at 07:00
    /// may again.
    #[test]
    fn a_warning_waits_behind_its_grant_mail_only_within_the_days_window() {
        let end = chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap();
        let utc = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert!(may_wait_behind(utc("2026-11-24T10:45:00Z"), end));
        assert!(!may_wait_behind(utc("2026-11-24T10:46:00Z"), end));
        assert!(!may_wait_behind(utc("2026-11-24T11:00:00Z"), end));
        assert!(!may_wait_behind(utc("2026-11-24T15:30:00Z"), end));
        assert!(may_wait_behind(utc("2026-11-24T23:00:00Z"), end));
    }
}
