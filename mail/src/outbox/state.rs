//! The delivery state machine of an outbox item, written down once.
//!
//! An item is queued in one of `QUEUED_AS`; every later change of state is
//! an `Event`, and `TRANSITIONS` lists every legal (from, event, to). The
//! outbox's SQL is built from this table (an update names the states its
//! event may leave), so no code path can make a change the table does not
//! list; `tests/state_machine.rs` plays random histories against a model.
//!
//! In words: a sender claims a due item (queued, retrying, unknown) and it
//! is *sending*, or, if its address is flagged, *suppressed*, or, if its
//! stored message cannot be read (damage) or it is a reminder past its
//! day's send window, *failed* on its own, the claim going on with the
//! others; an expiry warning queued behind its night's activation or
//! approval (which shows its cases' last days) is not due while that mail
//! is sending, or may still go out within two hours of the warning's
//! time, and once it was sent the warning is *suppressed*.
//! From sending:
//! accepted → sent; a grant mail a snapshot published since its claim no
//! longer grants, found just before it is handed over → suppressed; given
//! back unsent (a stop; or that snapshot cannot tell) → queued, or
//! unknown again if it was unknown when claimed; a
//! temporary failure → retrying, an uncertain outcome (or
//! a run that died) → unknown, both tried again after a backoff until the
//! retry deadline, then failed; a 5xx → failed. A held digest is released to
//! queued; an administrator may queue a failed, unknown, retrying or
//! suppressed item again. Sent is left only for failed, when a delivery
//! report that comes back later says the message bounced.

use std::fmt;

/// Where an outbox item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Waiting for its time (`not_before`).
    Queued,
    /// A digest held by the flood guard, or by a rollback past its night,
    /// until `cpor-etl outbox release`.
    Held,
    /// Handed to a transport; committed before the SMTP transaction starts.
    Sending,
    /// The relay accepted it (or its .eml file was written).
    Sent,
    /// A temporary failure; tried again after a backoff.
    Retrying,
    /// It may or may not have been delivered (no answer after the data, or
    /// a run died while sending); tried again after a backoff, same
    /// Message-ID.
    Unknown,
    /// Refused (5xx), no success before the retry deadline, or its stored
    /// message could not be read.
    Failed,
    /// Not sent: its address is flagged.
    Suppressed,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Queued,
        State::Held,
        State::Sending,
        State::Sent,
        State::Retrying,
        State::Failed,
        State::Unknown,
        State::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Held => "held",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Retrying => "retrying",
            State::Failed => "failed",
            State::Unknown => "unknown",
            State::Suppressed => "suppressed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to an item after it was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A sender takes a due item to deliver it.
    Claim,
    /// A sender finds a due item's address flagged: it is not sent.
    Suppress,
    /// A due activation, approval or expiry warning of an earlier night
    /// names a case its address is no longer granted (revoked, or past its
    /// cutoff, since it was queued): it is not sent (an address a clerk
    /// revoked may have been someone else's). Found by a sender against the
    /// live snapshot, or by a night's mail against its snapshot
    /// (`NightQueue::withhold`), which tells the cases still granted again.
    Ungranted,
    /// A sender finds that the activation or approval a due expiry warning
    /// was queued behind (the same night's, to the same address, showing
    /// each of its cases' last day and what that day means) was sent: the
    /// warning is not sent (two mails the same morning about one case).
    /// One behind a grant mail withheld, failed, or not sent within two
    /// hours of the warning's time is sent as any other; while that mail
    /// is sending, or may still go out within those two hours, the warning
    /// is not due (`Outbox::due`, `outbox::behind_for`).
    Covered,
    /// A sender finds that a due digest's or reminder's address has turned
    /// that mailing off since it was queued (a one-click unsubscribe, the
    /// account page): it is not sent. (The setting was read only when the
    /// next night's mail was queued: a digest queued at 01:00 went at 07:00
    /// after its reader unsubscribed, the mail-links review of the
    /// fifty-third session.)
    Unsubscribed,
    /// A sender finds a due reminder past its day: the send window of the
    /// day it is about ("明天", "7 天後") has ended since it was queued. It
    /// fails, never sent late.
    Outdated,
    /// A sender finds a due item's stored message cannot be read (a damaged
    /// page, a frame that fails its checksum): it cannot be sent as queued,
    /// so it fails on its own, with the reason, and the claim goes on.
    Unreadable,
    /// A sender, just before handing a claimed activation, approval or
    /// expiry warning to a relay, finds that a snapshot published since the
    /// claim no longer grants its address a case it names (a re-run or the
    /// next night went live meanwhile; its mail cannot withhold what a
    /// sender holds): it is not sent, and its cases are left for the next
    /// night's mail to tell those still granted, as at a claim.
    Recalled,
    /// The relay accepted the message.
    Accepted,
    /// A temporary failure (4xx reply, no connection) before the retry
    /// deadline.
    Deferred,
    /// The data was sent but no answer came (a timeout, a dropped
    /// connection), before the retry deadline.
    Uncertain,
    /// A permanent failure (5xx reply).
    Refused,
    /// A temporary or uncertain outcome after the retry deadline.
    Expired,
    /// A run died while the item was sending (found by the next run).
    Interrupted,
    /// A sender gives back a claimed item it did not hand over: asked to
    /// stop (SIGTERM, SIGINT, SIGHUP), one whose turn had not come; or a
    /// grant mail that a snapshot published since its claim cannot check.
    /// It never reached a relay, so it is queued again, the attempt not
    /// counted (one that was `unknown` when claimed: `WithdrawnUnknown`).
    Withdrawn,
    /// The same for an item that was *unknown* when claimed: its earlier
    /// attempt may have been delivered, so it goes back to unknown (its
    /// Message-ID and next try as they were), where `outbox list --state
    /// unknown` shows it and a delivery report for that attempt still
    /// fails it (`Bounced`), the attempt not counted.
    WithdrawnUnknown,
    /// A rollback took the live snapshot back before the item's night,
    /// none of whose digests had gone: its digest waits, held, for an
    /// administrator's release (`Outbox::hold_after_rollback`). Also a
    /// digest that failed: none of the night's reached anyone, and
    /// `outbox retry --failed` would send news the site no longer shows
    /// (the admin review of the fiftieth session).
    Hold,
    /// The night a rollback held is imported again: the new build's
    /// mail, compared with what people were last told, takes the held
    /// digests' place, and they never go (`NightQueue::supersede_held_by_rollback`).
    /// Or a later night's mail is queued, compared with a night whose
    /// digests the flood guard held and no one released, or made against
    /// the night a rollback went back to past a night whose digests it
    /// held: they never go (`NightTx::give_up_held_before`).
    Superseded,
    /// An administrator released a held night.
    Release,
    /// An administrator queued the item again.
    Retry,
    /// A delivery status notification (RFC 3464) reports, after the relay
    /// accepted the message, that it failed for good (`cpor-etl bounces`).
    Bounced,
}

impl Event {
    pub const ALL: [Event; 21] = [
        Event::Claim,
        Event::Suppress,
        Event::Ungranted,
        Event::Covered,
        Event::Unsubscribed,
        Event::Recalled,
        Event::Outdated,
        Event::Unreadable,
        Event::Accepted,
        Event::Deferred,
        Event::Uncertain,
        Event::Refused,
        Event::Expired,
        Event::Interrupted,
        Event::Withdrawn,
        Event::WithdrawnUnknown,
        Event::Hold,
        Event::Superseded,
        Event::Release,
        Event::Retry,
        Event::Bounced,
    ];
}

/// The states an item may be queued in: queued; held (a flood-guarded
/// digest); suppressed (mail other than a grant's to a flagged address).
/// (A digest is held later only by a rollback: `Event::Hold`.)
pub const QUEUED_AS: [State; 3] = [State::Queued, State::Held, State::Suppressed];

use Event as E;
use State as S;

/// Every legal transition: (from, event, to).
pub const TRANSITIONS: &[(State, Event, State)] = &[
    (S::Queued, E::Claim, S::Sending),
    (S::Retrying, E::Claim, S::Sending),
    (S::Unknown, E::Claim, S::Sending),
    (S::Queued, E::Suppress, S::Suppressed),
    (S::Retrying, E::Suppress, S::Suppressed),
    (S::Unknown, E::Suppress, S::Suppressed),
    (S::Queued, E::Ungranted, S::Suppressed),
    (S::Retrying, E::Ungranted, S::Suppressed),
    (S::Unknown, E::Ungranted, S::Suppressed),
    (S::Queued, E::Covered, S::Suppressed),
    (S::Retrying, E::Covered, S::Suppressed),
    (S::Unknown, E::Covered, S::Suppressed),
    (S::Queued, E::Unsubscribed, S::Suppressed),
    (S::Retrying, E::Unsubscribed, S::Suppressed),
    (S::Unknown, E::Unsubscribed, S::Suppressed),
    (S::Queued, E::Outdated, S::Failed),
    (S::Retrying, E::Outdated, S::Failed),
    (S::Unknown, E::Outdated, S::Failed),
    (S::Queued, E::Unreadable, S::Failed),
    (S::Retrying, E::Unreadable, S::Failed),
    (S::Unknown, E::Unreadable, S::Failed),
    (S::Sending, E::Recalled, S::Suppressed),
    (S::Sending, E::Accepted, S::Sent),
    (S::Sending, E::Deferred, S::Retrying),
    (S::Sending, E::Uncertain, S::Unknown),
    (S::Sending, E::Refused, S::Failed),
    (S::Sending, E::Expired, S::Failed),
    (S::Sending, E::Interrupted, S::Unknown),
    (S::Sending, E::Withdrawn, S::Queued),
    (S::Sending, E::WithdrawnUnknown, S::Unknown),
    (S::Queued, E::Hold, S::Held),
    (S::Retrying, E::Hold, S::Held),
    (S::Failed, E::Hold, S::Held),
    (S::Held, E::Superseded, S::Suppressed),
    (S::Held, E::Release, S::Queued),
    (S::Failed, E::Retry, S::Queued),
    (S::Unknown, E::Retry, S::Queued),
    (S::Retrying, E::Retry, S::Queued),
    (S::Suppressed, E::Retry, S::Queued),
    (S::Sent, E::Bounced, S::Failed),
    (S::Unknown, E::Bounced, S::Failed),
];

/// Where `event` takes an item in state `from`, if it may happen there.
pub fn next(from: State, event: Event) -> Option<State> {
    TRANSITIONS
        .iter()
        .find(|(f, e, _)| *f == from && *e == event)
        .map(|(_, _, to)| *to)
}

/// The state every occurrence of `event` leads to (each event has one).
pub fn target(event: Event) -> State {
    TRANSITIONS
        .iter()
        .find(|(_, e, _)| *e == event)
        .map(|(_, _, to)| *to)
        .expect("every event has a transition")
}

/// The states `event` may happen in.
pub fn sources(event: Event) -> Vec<State> {
    TRANSITIONS
        .iter()
        .filter(|(_, e, _)| *e == event)
        .map(|(from, _, _)| *from)
        .collect()
}

/// `('queued', 'retrying')`: the states `event` may happen in, as an SQL
/// list (the names are fixed ASCII words: nothing to escape).
pub(crate) fn sql_sources(event: Event) -> String {
    sql_list(&sources(event))
}

/// A grant mail that told its cases or will: sent, or perhaps (being
/// sent, unknown), or still to go (queued, retrying). What
/// `Outbox::grants_told_after` and a rollback's reopening count as told.
pub(crate) const TOLD_OR_GOING: [State; 5] = [
    State::Sent,
    State::Sending,
    State::Unknown,
    State::Queued,
    State::Retrying,
];

/// `states` as an SQL list: `('queued', 'retrying')`.
pub(crate) fn sql_list(states: &[State]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("({})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_leads_to_one_state_and_the_table_has_no_duplicates() {
        for e in Event::ALL {
            let targets: std::collections::BTreeSet<State> = TRANSITIONS
                .iter()
                .filter(|(_, ev, _)| *ev == e)
                .map(|(_, _, to)| *to)
                .collect();
            assert_eq!(targets.len(), 1, "{e:?}");
            assert_eq!(targets.into_iter().next(), Some(target(e)));
        }
        for (i, (f, e, _)) in TRANSITIONS.iter().enumerate() {
            assert!(
                TRANSITIONS[i + 1..]
                    .iter()
                    .all(|(f2, e2, _)| (f2, e2) != (f, e)),
                "({f:?}, {e:?}) twice"
            );
        }
    }

    #[test]
    fn sent_is_reached_only_from_sending_and_left_only_by_a_bounce() {
        for (from, e, to) in TRANSITIONS {
            if *to == State::Sent {
                assert_eq!((*from, *e), (State::Sending, Event::Accepted));
            }
            if *from == State::Sent {
                assert_eq!(
                    (*e, *to),
                    (Event::Bounced, State::Failed),
                    "{e:?} leaves sent"
                );
            }
        }
    }

    #[test]
    fn every_state_is_reachable_from_a_queued_one() {
        use std::collections::BTreeSet;
        let mut seen: BTreeSet<State> = QUEUED_AS.into_iter().collect();
        loop {
            let more: BTreeSet<State> = TRANSITIONS
                .iter()
                .filter(|(f, _, to)| seen.contains(f) && !seen.contains(to))
                .map(|(_, _, to)| *to)
                .collect();
            if more.is_empty() {
                break;
            }
            seen.extend(more);
        }
        assert_eq!(seen, State::ALL.into_iter().collect());
    }

    #[test]
    fn sql_lists_name_the_table_sources() {
        assert_eq!(
            sql_sources(Event::Claim),
            "('queued', 'retrying', 'unknown')"
        );
        assert_eq!(sql_sources(Event::Accepted), "('sending')");
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
