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
//! held it) is only told here. Such an activation to an address that has
//! never activated carried its link, which the night's later builds may
//! have counted on for their new grants ("a link already out covers
//! them"): every case the address is granted is told, with a new link.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use mail::outbox::{GrantMail, Kind, Outbox};
use schemas::CaseRef;
use store::layout::SnapshotFile;

use super::diff::{expires_soon, Changes, Granted};
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
    /// Every address with grants told again: a re-run mails them even if
    /// the night's first build sent the address an activation link.
    pub again_to: BTreeSet<String>,
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
    accounts: &rusqlite::Connection,
    to: &SnapshotFile,
    night: &Night,
    changes: &mut Changes,
) -> Result<Retold, NotifyError> {
    let mut retold = Retold::default();
    let earlier = outbox.grant_mail_to_check(
        night.date,
        &night.reference(),
        changes.ungranted.keys().map(String::as_str),
    )?;
    if earlier.is_empty() {
        return Ok(retold);
    }
    // Addresses whose withheld activation carried their only link.
    let linkless = store::accounts::not_activated(
        accounts,
        earlier
            .iter()
            .filter(|m| m.withheld && m.kind == Kind::Activation)
            .map(|m| m.email.as_str()),
    )?;
    let snapshot = Snapshot::open(to).map_err(NotifyError::Retell)?;
    // The cases to tell again as granted, by address.
    let mut again: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
            let (kept, gone) = mail
                .case_keys
                .iter()
                .cloned()
                .partition(|c| granted.contains(c));
            if mail.kind == Kind::Activation && linkless.contains(&mail.email) {
                (granted.into_iter().collect(), gone)
            } else {
                (kept, gone)
            }
        } else {
            let gone: BTreeSet<String> = changes
                .ungranted
                .get(&mail.email)
                .map(|cases| cases.iter().map(CaseRef::id).collect())
                .unwrap_or_default();
            let (gone, kept): (Vec<String>, Vec<String>) = mail
                .case_keys
                .iter()
                .cloned()
                .partition(|c| gone.contains(c));
            // (an earlier night's mail told them while a sender held it,
            // which gave it back unsent: withheld, told no more)
            (
                if mail.told_by.is_some() {
                    Vec::new()
                } else {
                    kept
                },
                gone,
            )
        };
        if gone.is_empty() && !mail.withheld {
            continue;
        }
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
        retold.again_to.insert(email.clone());
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
