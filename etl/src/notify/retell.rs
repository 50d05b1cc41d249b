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
//! snapshot's night not queued yet) is only told here.

use std::collections::BTreeSet;

use mail::outbox::{GrantMail, Kind, Outbox};
use schemas::CaseRef;
use store::layout::SnapshotFile;

use super::diff::{expires_soon, Changes, Granted};
use super::queue::Night;
use super::NotifyError;
use crate::snapshot::read::Snapshot;

/// What tonight's mail does about earlier grant mail.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Retold {
    /// The items withheld tonight (or, withheld by `send`, told now), and
    /// why, for the item's record.
    pub withheld: Vec<(GrantMail, String)>,
    /// (address, case id) whose expiry warning is given again tonight.
    pub warn_again: BTreeSet<(String, String)>,
    /// Grants told again in tonight's activations and approvals.
    pub grants_again: u64,
}

/// Finds the earlier grant mail (`Outbox::grant_mail_to_check`) that
/// names a grant gone tonight (`Changes::ungranted`: what the previous
/// snapshot granted and `to` does not), or that `send` withheld, and adds
/// the cases it names that `to` still grants to `changes`: to the
/// address's new grants (out of its news: the grant mail lists their latest
/// entries), or, for an expiry warning, to what is warned again
/// ([`Retold::warn_again`]). Mail of a night before the previous snapshot's
/// was checked by that snapshot's night, so tonight's diff is all there is
/// to check against; a case told again is looked up in `to` all the same.
pub fn find(
    outbox: &Outbox,
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
    let snapshot = Snapshot::open(to).map_err(NotifyError::Retell)?;
    for mail in earlier {
        let (kept, gone): (Vec<&String>, Vec<&String>) = if mail.withheld {
            let granted = snapshot
                .cases_granted(&mail.email)
                .map_err(NotifyError::Retell)?;
            mail.case_keys.iter().partition(|c| granted.contains(*c))
        } else {
            let gone: BTreeSet<String> = changes
                .ungranted
                .get(&mail.email)
                .map(|cases| cases.iter().map(CaseRef::id).collect())
                .unwrap_or_default();
            let (gone, kept) = mail.case_keys.iter().partition(|c| gone.contains(*c));
            (kept, gone)
        };
        if gone.is_empty() && !mail.withheld {
            continue;
        }
        for id in &kept {
            match mail.kind {
                Kind::Expiry => {
                    retold
                        .warn_again
                        .insert((mail.email.clone(), id.to_string()));
                }
                _ => {
                    retold.grants_again +=
                        u64::from(grant_again(&snapshot, night, &mail.email, id, changes)?);
                }
            }
        }
        let why = why(&gone, kept.len(), night);
        retold.withheld.push((mail, why));
    }
    Ok(retold)
}

/// Adds case `id`, granted to `email` in `snapshot`, to the address's new
/// grants tonight, unless they list it already; the case's news leaves the
/// address's digest (the grant mail lists its latest entries). Returns
/// whether it was added.
fn grant_again(
    snapshot: &Snapshot,
    night: &Night,
    email: &str,
    id: &str,
    changes: &mut Changes,
) -> Result<bool, NotifyError> {
    let Some(case) = CaseRef::parse_id(id) else {
        return Ok(false);
    };
    if changes
        .new_grants
        .get(email)
        .is_some_and(|grants| grants.iter().any(|g| g.case == case))
    {
        return Ok(false);
    }
    let Some((_, data)) = snapshot
        .find_case(&case.court, &case.key)
        .map_err(NotifyError::Retell)?
    else {
        return Ok(false);
    };
    let Some(grant) = data.grants.iter().find(|g| g.email == email) else {
        return Ok(false);
    };
    let grants = changes.new_grants.entry(email.to_string()).or_default();
    grants.push(Granted {
        case: case.clone(),
        role: grant.role.clone(),
        entries: data.entries.clone(),
        last_day: expires_soon(&data, night.date),
    });
    if let Some(news) = changes.news.get_mut(email) {
        news.retain(|n| n.case != case);
        if news.is_empty() {
            changes.news.remove(email);
        }
    }
    Ok(true)
}

/// The withheld item's record: which cases are no longer granted, and what
/// becomes of the rest.
fn why(gone: &[&String], kept: usize, night: &Night) -> String {
    let titles: Vec<String> = gone
        .iter()
        .map(|id| CaseRef::parse_id(id).map_or_else(|| id.to_string(), |c| c.title()))
        .collect();
    let night = schemas::date::compact(night.date);
    let rest = if kept == 0 {
        "it names no case still granted".to_string()
    } else {
        format!(
            "the night of {night}'s mail tells again what is still granted ({kept} of its cases)"
        )
    };
    if titles.is_empty() {
        format!("withheld by `cpor-etl send`; {rest}")
    } else {
        format!(
            "{} no longer granted to this address in the night of {night}; not sent: {rest}",
            titles.join(", ")
        )
    }
}
