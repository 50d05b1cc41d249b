//! Earlier grant mail that tonight's grants no longer bear out.
//!
//! An activation, approval or expiry warning lists cases granted to its
//! address. One not sent by the time a later night is queued (the relay
//! was down; two nights imported before a send; a court's files re-run
//! before the morning) may name a case that night no longer grants the
//! address: a clerk's grant to the wrong person, withdrawn, or a case past
//! its cutoff. Sent, it would show that case and its entries to someone no
//! longer allowed to see it; withheld whole, it would lose the cases the
//! address keeps (its activation link with them).
//!
//! So the night's mail withholds it and tells the cases still granted
//! again: an activation's or approval's as if granted tonight (the
//! address's activation or approval of the night lists them, with a new
//! link if it has no password yet), an expiry warning's by warning again.
//! The outbox records the withholding in the transaction that queues what
//! tells them (`NightQueue::withhold`), so a crash or a re-run neither
//! loses nor doubles it. One `cpor-etl send` withheld first (the live
//! snapshot's night not queued yet, or a snapshot published while `send`
//! held it) is only told here; one whose cases an earlier night told while
//! a sender held it (`told_by`) is not told again. No other mail counts
//! on a withheld activation's link: a re-run's new grants get a link of
//! their own (`queue::plan`), so only the cases it named are told.

use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use mail::outbox::{GrantMail, Kind, Outbox};
use mail::render::Ended;
use schemas::CaseRef;
use store::layout::SnapshotFile;

use super::diff::{expires_soon, Changes, Expiring, Granted};
use super::ended::ended_before;
use super::queue::Night;
use super::NotifyError;
use crate::snapshot::read::{ReadError, Snapshot};

/// What tonight's mail does about earlier grant mail.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Retold {
    /// The items withheld tonight (or, withheld by `send`, told now), and
    /// why, for the item's record.
    pub withheld: Vec<(GrantMail, String)>,
    /// The cases (ids) whose expiry warning is given again tonight, by
    /// address ([`Retold::warns_again`]).
    pub warn_again: BTreeMap<String, BTreeSet<String>>,
    /// Grants told again in tonight's activations and approvals.
    pub grants_again: u64,
    /// The addresses whose grants tonight are only told again, none new:
    /// no clerk acted, so no bounce flag is cleared (`queue::Known`).
    pub only_again: BTreeSet<String>,
}

impl Retold {
    /// Whether `email`'s expiry warning of case `case` (its id) is given
    /// again tonight.
    pub fn warns_again(&self, email: &str, case: &str) -> bool {
        self.warn_again
            .get(email)
            .is_some_and(|cases| cases.contains(case))
    }
}

/// Finds the earlier grant mail (`Outbox::grant_mail_to_check`) that
/// names a grant gone tonight (`Changes::ungranted`: what the previous
/// snapshot granted and `to` does not), or that `send` withheld, and adds
/// the cases it names that `to` still grants to `changes`: to the
/// address's new grants (out of its news: the grant mail lists their latest
/// entries), or, for an expiry warning, to what is warned again
/// ([`Retold::warn_again`]). Mail of a night before the previous snapshot's
/// was checked by that snapshot's night, so tonight's diff is what is left
/// to check against; where no night checked it (a night forgotten, lost,
/// or compared with an older snapshot), `send` does, against the live
/// snapshot. A case told again is looked up in `to` all the same.
pub fn find(
    outbox: &Outbox,
    to: &SnapshotFile,
    night: &Night,
    changes: &mut Changes,
) -> Result<Retold, NotifyError> {
    let mut retold = Retold::default();
    let earlier =
        outbox.grant_mail_to_check(night.date, changes.ungranted.keys().map(String::as_str))?;
    if earlier.is_empty() {
        return Ok(retold);
    }
    let snapshot = Snapshot::open(to).map_err(NotifyError::Retell)?;
    // The cases to tell again as granted, by address.
    let mut again: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stopped: Vec<(String, String, NaiveDate)> = Vec::new();
    // (the cases of grant mail withheld tonight, by address: never told
    // as granted by it)
    let mut grant_unsent: BTreeSet<(String, String)> = BTreeSet::new();
    for mail in earlier {
        let (kept, gone): (Vec<String>, Vec<String>) = if mail.withheld {
            let granted: BTreeSet<String> = snapshot
                .granted_to(&mail.email)
                .map_err(NotifyError::Retell)?
                .into_iter()
                .map(|(court, data, _)| {
                    CaseRef {
                        court,
                        key: data.key,
                    }
                    .id()
                })
                .collect();
            mail.case_keys
                .iter()
                .cloned()
                .partition(|c| granted.contains(c))
        } else {
            let gone: BTreeSet<String> = changes
                .ungranted
                .get(&mail.email)
                .map(|cases| cases.iter().map(CaseRef::id).collect())
                .unwrap_or_default();
            let (gone, kept) = mail
                .case_keys
                .iter()
                .cloned()
                .partition(|c| gone.contains(c));
            (kept, gone)
        };
        if gone.is_empty() && !mail.withheld {
            continue;
        }
        if mail.kind != Kind::Expiry {
            for id in &mail.case_keys {
                grant_unsent.insert((mail.email.clone(), id.clone()));
            }
        }
        // (an expiry mail's cases, for those it named as stopped already:
        // looked up below)
        if mail.kind == Kind::Expiry && mail.told_by.is_none() {
            if let Some(queued) = schemas::date::parse_batch_date(&mail.night) {
                for id in &mail.case_keys {
                    stopped.push((mail.email.clone(), id.clone(), queued));
                }
            }
        }
        let kept = if mail.told_by.is_some() {
            // (an earlier night's mail told them but could not withhold
            // it: a sender held it and gave it back, or failed it and
            // `outbox retry` queued it again; withheld, told no more)
            Vec::new()
        } else {
            kept
        };
        // (an expiry warning's cases are warned of again; the others'
        // are granted again)
        let to = if mail.kind == Kind::Expiry {
            &mut retold.warn_again
        } else {
            &mut again
        };
        let kept_count = kept.len();
        to.entry(mail.email.clone()).or_default().extend(kept);
        // (one `send` withheld keeps the reason it gave)
        let why = if mail.withheld {
            String::new()
        } else {
            why(&gone, kept_count, mail.told_by.as_deref(), night)
        };
        retold.withheld.push((mail, why));
    }
    // A withheld expiry mail's case that had stopped already when it was
    // queued (its status posted too late: `super::ended`) is granted
    // neither tonight nor the night before, and is in none of tonight's
    // warnings: it is told as stopped again here, or never (the time review
    // of the forty-seventh session: counted "told again", told nothing).
    // One that has run its course since (its warning waited unsent across
    // its last day, the relay down) is told it has stopped, or never: its
    // warning is withheld for naming it (left alone by the forty-seventh);
    // but not to an address whose grant mail of it is withheld tonight
    // too, which was never told it had the case.
    for (email, id, queued) in stopped {
        let Some(case) = CaseRef::parse_id(&id) else {
            continue;
        };
        let warned = changes.expiring.get(&email);
        if warned.is_some_and(|x| x.iter().any(|x| x.case == case)) {
            continue;
        }
        let Some(state) = snapshot
            .case_state(&case.court, &case.key)
            .map_err(NotifyError::Retell)?
        else {
            continue;
        };
        // (stopped before the mail's night: the mail said so; before
        // tonight: the mail was to warn of it)
        let ended = match ended_before(&state, queued) {
            // (posted late, unless a warning of that day was given in
            // time: then the mail withheld told it stopped for its
            // warning's sake, and so does this one)
            Some(day) => {
                let in_time = outbox
                    .warned_in_time(&email, &id, schemas::date::to_int(day))
                    .map_err(NotifyError::from)?;
                Some((
                    day,
                    if in_time {
                        Ended::WarningLate
                    } else {
                        Ended::PostedLate
                    },
                ))
            }
            None if grant_unsent.contains(&(email.clone(), id.clone())) => None,
            None => ended_before(&state, night.date).map(|day| (day, Ended::WarningLate)),
        };
        if let Some((last_day, why)) = ended {
            changes
                .expiring
                .entry(email.clone())
                .or_default()
                .push(Expiring {
                    division: schemas::text::division(&state.division),
                    status: state.status,
                    last_day,
                    ended: Some(why),
                    case,
                });
            retold.warn_again.entry(email).or_default().insert(id);
        }
    }
    drop(snapshot);
    for (email, mut granted) in granted_again(to, night, again)? {
        if granted.is_empty() {
            // (nothing of it is granted tonight: no grant mail)
            continue;
        }
        retold.grants_again += granted.len() as u64;
        if !changes.new_grants.contains_key(&email) {
            retold.only_again.insert(email.clone());
        }
        let cases: BTreeSet<&CaseRef> = granted.iter().map(|g| &g.case).collect();
        if let Some(news) = changes.news.get_mut(&email) {
            news.retain(|n| !cases.contains(&n.case));
            if news.is_empty() {
                changes.news.remove(&email);
            }
        }
        let grants = changes.new_grants.entry(email).or_default();
        grants.retain(|g| !cases.contains(&g.case));
        grants.append(&mut granted);
        grants.sort_by(|a, b| a.case.cmp(&b.case));
    }
    Ok(retold)
}

/// The cases to tell again as granted (`again`: by address, their ids) as
/// `to` grants them: for each address, those of its grants tonight that
/// `again` names, read on every core (an address's grants at once, in case
/// order; a lawyer's few thousand in an outage night's mail: measured in
/// docs/BENCHMARKS.md). A case `to` does not grant the address is left
/// out.
fn granted_again(
    to: &SnapshotFile,
    night: &Night,
    again: BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<(String, Vec<Granted>)>, NotifyError> {
    let again: Vec<(String, BTreeSet<String>)> = again.into_iter().collect();
    let next = AtomicUsize::new(0);
    let worker = || -> Result<Vec<(String, Vec<Granted>)>, ReadError> {
        let snapshot = Snapshot::open(to)?;
        // (an address's cases are spread over the file: mapped, not read
        // page by page)
        snapshot
            .conn()
            .pragma_update(None, "mmap_size", 1i64 << 40)?;
        let mut done = Vec::new();
        while let Some((email, ids)) = again.get(next.fetch_add(1, Ordering::Relaxed)) {
            let mut granted = Vec::new();
            for (court, data, role) in snapshot.granted_to(email)? {
                let case = CaseRef {
                    court,
                    key: data.key.clone(),
                };
                if ids.contains(&case.id()) {
                    granted.push(Granted {
                        last_day: expires_soon(&data, night.date),
                        division: schemas::text::division(&data.division),
                        case,
                        role,
                        entries: data.entries,
                    });
                }
            }
            done.push((email.clone(), granted));
        }
        Ok(done)
    };
    let parts = super::on_every_core(again.len(), "retell", worker);
    let mut out = Vec::with_capacity(again.len());
    for part in parts {
        out.extend(part.map_err(NotifyError::Retell)?);
    }
    Ok(out)
}

/// The record of an item withheld tonight: which cases (`gone`, at least
/// one) are no longer granted, and what becomes of the rest: told again
/// tonight, or told already by the night's mail `told_by`.
fn why(gone: &[String], kept: usize, told_by: Option<&str>, night: &Night) -> String {
    let titles: Vec<String> = gone
        .iter()
        .map(|id| CaseRef::parse_id(id).map_or_else(|| id.to_string(), |c| c.title()))
        .collect();
    let night = schemas::date::compact(night.date);
    let rest = if let Some(told_by) = told_by {
        format!("the night of {told_by}'s mail told again what was still granted")
    } else if kept == 0 {
        "it names no case still granted".to_string()
    } else {
        format!(
            "the night of {night}'s mail tells again what is still granted ({kept} of its cases)"
        )
    };
    format!(
        "{} no longer granted to this address in the night of {night}; not sent: {rest}",
        titles.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::diff::tests::{court_of, granted_case, tonight, write};
    use chrono::{TimeZone, Utc};
    use mail::outbox::{Event, NewItem, Packed, Scope, State};

    const CASES: [&str; 3] = [
        "TPD|民事|115|訴|1",
        "TPD|民事|115|訴|2",
        "TPD|民事|115|訴|3",
    ];

    /// The review of db3e40b (its F5): an earlier approval naming cases 1
    /// to 3, whose cases still granted a night's mail told while a sender
    /// held it (`told_by`), was given back unsent; tonight revokes case 3
    /// of it too. Tonight withholds it and tells nothing of it again; had
    /// no night told them, tonight would tell cases 1 and 2.
    #[test]
    fn a_mail_whose_cases_a_night_told_while_a_sender_held_it_is_withheld_and_told_no_more() {
        for told in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let email = "a@example.com";
            let to = write(
                dir.path(),
                "new.sqlite",
                &[court_of(
                    "TPD",
                    vec![
                        granted_case(1, &["a"]),
                        granted_case(2, &["a"]),
                        granted_case(3, &[]),
                    ],
                )],
            );
            let mut outbox = Outbox::open(dir.path()).unwrap();
            let now = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
            let earlier = tonight() - chrono::Days::new(2);
            let n = outbox.begin_night(earlier, "", now).unwrap();
            let item = NewItem {
                email: email.into(),
                kind: Kind::Approval,
                message_id: "<a.approval@x>".into(),
                subject: "s".into(),
                message: Packed::plain(b"Subject: s\r\n\r\nbody\r\n".to_vec()),
                cases: 3,
                case_keys: CASES.iter().map(|c| c.to_string()).collect(),
                behind: None,
            };
            assert!(n.add(&item, State::Queued, now).unwrap());
            n.commit(None).unwrap();
            if told {
                // Looked up by the night between, claimed by a sender, told
                // by that night's mail, and given back by the sender.
                let between = earlier + chrono::Days::new(1);
                let read = outbox.grant_mail_to_check(between, [email]).unwrap();
                let mut sender = Outbox::open_for_sending(dir.path()).unwrap();
                let due = sender.due(Scope::Nightly, now, true).unwrap();
                let claimed = sender.claim(&due, now, |_| Some(Event::Claim)).unwrap();
                let n = outbox.begin_night(between, "", now).unwrap();
                assert!(!n.withhold(&read[0], "case 4 revoked").unwrap());
                n.commit(None).unwrap();
                assert_eq!(sender.withdraw(&claimed.items).unwrap(), 1);
            }
            let mut changes = Changes::default();
            changes.ungranted.insert(
                email.into(),
                BTreeSet::from([CaseRef::parse_id(CASES[2]).unwrap()]),
            );
            let night = Night {
                date: tonight(),
                first_load: false,
                older: false,
                rerun: None,
                superseding: None,
            };
            let retold = find(&outbox, &to, &night, &mut changes).unwrap();
            assert_eq!(retold.withheld.len(), 1, "told: {told}");
            let told_again: Vec<String> = changes
                .new_grants
                .get(email)
                .map(|g| g.iter().map(|g| g.case.id()).collect())
                .unwrap_or_default();
            if told {
                assert_eq!(retold.grants_again, 0);
                assert!(told_again.is_empty(), "{told_again:?}");
                assert!(
                    retold.withheld[0]
                        .1
                        .contains("the night of 20261123's mail told again"),
                    "{}",
                    retold.withheld[0].1
                );
            } else {
                assert_eq!(retold.grants_again, 2);
                assert_eq!(told_again, CASES[..2]);
            }
        }
    }
}
