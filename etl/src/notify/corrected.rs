//! The hearings a court corrected without news, for the night's digests:
//! what calendars took from a mail and tonight's news does not tell of. A
//! withdrawn entry leaves no entry to announce its hearing's end; a
//! withdrawn move puts an older entry back; a cancellation or a new date
//! posted late (補登) or revised in place below the latest three is no news
//! either (`diff::news`). The feed follows each at once, but a calendar
//! that took the hearing from a mail would keep it as it was. The import
//! marks the cases whose list differs from the live snapshot's in what a
//! calendar holds (`meta.hearings_corrected`, `hearings::corrections`);
//! here each such case a follower had before and has tonight is compared
//! by the same function, its list in the previous snapshot against
//! tonight's, hearing by hearing:
//!
//! - a hearing that took place as it stood (scheduled, or uncertain) and is
//!   gone: cancelled (METHOD:CANCEL), its SEQUENCE one above what calendars
//!   hold, and the digest says the service no longer has it and that the
//!   summons says whether to attend;
//! - a hearing whose time, courtroom, kind or state changed: as it now
//!   stands (its SEQUENCE is already above the previous one, carried on),
//!   unless the night's news entries announce it (their calendar file
//!   carries it already).
//!
//! Only hearings still to come (either date, for a change) are told of.
//! Derived from the two snapshots alone, so a re-run or a catch-up after a
//! kill finds the same, and the digest's outbox key keeps it to one mail.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use schemas::hearing::State as HearingState;
use schemas::hearing_list::Hearing;
use store::layout::SnapshotFile;

use super::announced::Announced;
use super::diff::{CaseRef, Changes};
use super::reminders::{when, Standing};
use crate::snapshot::read::{ReadError, Snapshot};

/// A hearing a digest tells of as corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// As calendars should now hold it: a withdrawn one cancelled, one
    /// SEQUENCE above the last they were sent.
    pub hearing: Standing,
    /// Its announcing entry was withdrawn (else: changed).
    pub withdrawn: bool,
    /// Sent above the SEQUENCE tonight's snapshot has for it (a withdrawn
    /// one's CANCEL; a change compared with another snapshot than the one
    /// carried on from): recorded as its UID's floor (`super::floors`).
    pub above_snapshot: bool,
    /// A changed one's time and state as calendars held it (`None`: one
    /// withdrawn): what the digest says it was.
    pub was: Option<Was>,
}

/// A hearing's time and state as calendars held it.
pub type Was = (NaiveDateTime, HearingState);

impl Correction {
    /// What the digest says of it: `117/03/10（五）10:00 準備程序
    /// 臺灣臺北地方法院 第十二法庭：本服務已無此庭期資料…`.
    pub fn line(&self) -> String {
        let h = &self.hearing;
        // Said of the service's data, not of the court: a hearing can be
        // gone because its entry was deleted (刪除) or revised, and only the
        // summons says whether it takes place.
        // What it was, when calendars held another time or state: a
        // cancelled or moved hearing back on is said to be (a party told
        // of the cancellation would not go), and a time changed says the
        // one it replaces.
        // (back at the time it was cancelled or moved from; at another
        // time, the change is said as any other, with the time it was)
        let back_on = matches!(
            self.was,
            Some((at, HearingState::Cancelled | HearingState::Moved)) if at == h.at
        ) && h.state == HearingState::Scheduled;
        let earlier = self
            .was
            .filter(|(at, _)| *at != h.at)
            .map(|(at, _)| format!("（原為 {}）", when(at)))
            .unwrap_or_default();
        let scheduled;
        let what = if self.withdrawn {
            "本服務已無此庭期資料（原登載此庭期的進行事項已刪除或更正），附檔會從行事曆移除此行程；是否仍須到庭，請以傳票或通知書為準，或洽承辦股"
        } else {
            match h.state {
                HearingState::Scheduled if back_on => {
                    scheduled = format!(
                        "原登載的{}已撤回或更正，這個庭期恢復於上述時間及地點進行{earlier}，附檔會將此行程加回行事曆；請以傳票或通知書為準",
                        match self.was {
                            Some((_, HearingState::Moved)) => "改期",
                            _ => "取消",
                        }
                    );
                    &scheduled
                }
                HearingState::Scheduled => {
                    scheduled = format!(
                        "庭期資料已更新為上述時間及地點{earlier}，附檔會更新行事曆中的同一個行程"
                    );
                    &scheduled
                }
                HearingState::Uncertain => {
                    "庭期資料已更新，這個庭期可能已變更，請以傳票或通知書為準"
                }
                HearingState::Moved => "庭期資料已更新：這個庭期已改期，新的日期尚未登載",
                HearingState::Cancelled => {
                    "庭期資料已更新：這個庭期已取消，附檔會從行事曆移除此行程；請以傳票或通知書為準"
                }
            }
        };
        format!("{} {} {}：{what}", when(h.at), h.kind, h.place())
    }
}

/// What [`find`] found.
#[derive(Debug, Default)]
pub struct Found {
    /// Corrections told in the digests.
    pub told: usize,
    /// The floors of announced hearings it sent above tonight's snapshot
    /// (`super::floors`), to record with the night's mail.
    pub floors: Vec<mail::outbox::Floor>,
}

/// Finds what each corrected case of `changes.news` has to tell
/// ([`CaseNews::corrected`](super::diff::CaseNews)), comparing its list in
/// `from` with its list in `to`; fills `corrections`, and takes out the
/// news that has neither an entry nor a correction (and an address left
/// with none). `announced`: the hearings tonight's news entries announce,
/// which are not told of again.
pub fn find(
    from: &SnapshotFile,
    to: &SnapshotFile,
    changes: &mut Changes,
    announced: &mut Announced,
    after: NaiveDateTime,
) -> Result<Found, ReadError> {
    let cases: BTreeMap<(i64, i64), &CaseRef> = changes
        .news
        .values()
        .flatten()
        .filter_map(|n| n.corrected.map(|ids| (ids, &n.case)))
        .collect();
    let mut found: BTreeMap<(i64, i64), Vec<Correction>> = BTreeMap::new();
    let mut floors = Vec::new();
    if !cases.is_empty() {
        let (before, tonight) = (Snapshot::open(from)?, Snapshot::open(to)?);
        let court_names: BTreeMap<String, String> = tonight
            .courts()?
            .into_iter()
            .map(|c| (c.code, c.name))
            .collect();
        for (&(then_id, now_id), case) in &cases {
            let then = before.hearings_of(then_id)?;
            let now = tonight.hearings_of(now_id)?;
            let court = court_names.get(&case.court).ok_or_else(|| {
                ReadError::Malformed(format!("court {} of a case has no row", case.court))
            })?;
            // Announced by the night's news on the case: attached already.
            let id = case.id();
            let told: BTreeSet<String> = announced
                .range((id.clone(), 0)..=(id.clone(), u32::MAX))
                .flat_map(|(_, hs)| hs.iter().map(|h| h.uid.clone()))
                .collect();
            let (corrections, announced_too): (Vec<Correction>, Vec<Correction>) =
                compare(&then, &now, after)
                    .into_iter()
                    .map(|(h, withdrawn, above_snapshot, was)| Correction {
                        hearing: Standing::of(case, court, &h),
                        withdrawn,
                        above_snapshot,
                        was,
                    })
                    .partition(|c| !told.contains(&c.hearing.uid));
            // An announced hearing goes at least as high as its correction
            // would have (above what the previous snapshot's mail carried),
            // and that is recorded.
            for c in announced_too.iter().filter(|c| c.above_snapshot) {
                for (_, hs) in announced.range_mut((id.clone(), 0)..=(id.clone(), u32::MAX)) {
                    for h in hs.iter_mut().filter(|h| h.uid == c.hearing.uid) {
                        if c.hearing.sequence > h.sequence {
                            h.sequence = c.hearing.sequence;
                            floors.push(super::floors::floor_of(h));
                        }
                    }
                }
            }
            found.insert((then_id, now_id), corrections);
        }
    }
    // The followed cases marked with no news count for the flood guard if
    // they have something to tell.
    changes.cases_with_news += changes
        .corrected_only
        .iter()
        .filter(|ids| found.get(ids).is_some_and(|c| !c.is_empty()))
        .count() as u64;
    let mut told = 0;
    changes.news.retain(|_, news| {
        for n in news.iter_mut() {
            if let Some(c) = n.corrected.and_then(|ids| found.get(&ids)) {
                n.corrections = c.clone();
                told += c.len();
            }
        }
        news.retain(|n| !n.entries.is_empty() || !n.corrections.is_empty());
        !news.is_empty()
    });
    Ok(Found { told, floors })
}

/// What a case's list tonight (`now`) corrects in its previous one
/// (`then`), as calendars should now hold each hearing, in time order:
/// (hearing, gone, sent above tonight's SEQUENCE for it, a changed one's
/// time and state as calendars held it). Only hearings
/// still to come at `after` (`hearings::corrections`): one gone is
/// cancelled one SEQUENCE above what calendars hold; one changed is sent as
/// it now stands, at least one SEQUENCE above the previous snapshot's.
fn compare(
    then: &[Hearing],
    now: &[Hearing],
    after: NaiveDateTime,
) -> Vec<(Hearing, bool, bool, Option<Was>)> {
    crate::hearings::corrections(then, now, after)
        .into_iter()
        .map(|c| match c {
            crate::hearings::Correction::Gone(was) => {
                let mut gone = was.clone();
                gone.state = HearingState::Cancelled;
                gone.sequence = was.sequence.saturating_add(1);
                (gone, true, true, None)
            }
            // At least one above what the previous snapshot's mail
            // carried: tonight's own is, unless the import carried on from
            // another snapshot (the live one damaged, restored since).
            crate::hearings::Correction::Changed { was, is } => {
                let mut now = is.clone();
                now.sequence = now.sequence.max(was.sequence.saturating_add(1));
                let above = now.sequence > is.sequence;
                (now, false, above, Some((was.at, was.state)))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use schemas::hearing_list::Origin;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn row(
        seq: u32,
        origin: u32,
        sequence: u32,
        when: NaiveDateTime,
        state: HearingState,
    ) -> Hearing {
        Hearing {
            seq,
            posted: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            origin: Origin {
                kind: "言詞辯論",
                seq: origin,
                part: 0,
            },
            sequence,
            at: when,
            courtroom: Some("第一法庭".into()),
            kind: "言詞辯論",
            state,
            by: (state != HearingState::Scheduled)
                .then(|| (seq + 1, NaiveDate::from_ymd_opt(2026, 11, 21).unwrap())),
        }
    }

    #[test]
    fn a_withdrawn_hearing_is_cancelled_one_sequence_up_and_a_quiet_change_sent_as_it_stands() {
        let now_ = at(1, 0);
        let scheduled = HearingState::Scheduled;
        // 5 moved by 7 (SEQUENCE 1); 9 on its own.
        let then = vec![
            row(5, 5, 0, at(10, 10), HearingState::Moved),
            row(7, 5, 1, at(8, 10), scheduled),
            row(9, 9, 0, at(12, 10), scheduled),
        ];
        // The move withdrawn (back on the 10th, carried on to 2), 9's entry
        // withdrawn.
        let now = vec![row(5, 5, 2, at(10, 10), scheduled)];
        let got = compare(&then, &now, now_);
        assert_eq!(
            got,
            [
                (
                    row(5, 5, 2, at(10, 10), scheduled),
                    false,
                    false,
                    Some((at(8, 10), scheduled))
                ),
                (
                    Hearing {
                        state: HearingState::Cancelled,
                        sequence: 1,
                        ..row(9, 9, 0, at(12, 10), scheduled)
                    },
                    true,
                    true,
                    None
                ),
            ]
        );
        // Nothing changed: nothing to say.
        assert!(compare(&then, &then, now_).is_empty());
        // Only what is still to come: after the 11th, only 9's end; after
        // the 13th, nothing.
        assert_eq!(compare(&then, &now, at(11, 0)).len(), 1);
        assert!(compare(&then, &now, at(13, 0)).is_empty());
        // A hearing that had been cancelled and is gone: calendars hold it
        // cancelled already.
        let cancelled = vec![row(9, 9, 1, at(12, 10), HearingState::Cancelled)];
        assert!(compare(&cancelled, &[], now_).is_empty());
        // A SEQUENCE raised alone (the same time, room, kind and state) is
        // not worth a mail.
        let raised = vec![row(9, 9, 3, at(12, 10), scheduled)];
        assert!(compare(&then[2..], &raised, now_).is_empty());
    }

    /// The mail review of the forty-fourth session (its 2): a cancelled
    /// hearing back on (the cancelling entry withdrawn) was told as a plain
    /// update, 「庭期資料已更新為上述時間及地點」, to a party told of the
    /// cancellation, two days before it; and a time changed never said the
    /// time it replaced. Each is said now.
    #[test]
    fn a_hearing_back_on_says_so_and_a_changed_time_says_what_it_was() {
        let case = CaseRef {
            court: "PCD".into(),
            key: schemas::CaseKey {
                category: "民事".into(),
                year: 115,
                word: "簡".into(),
                number: 33,
            },
        };
        let line = |h: &Hearing, was: Option<(NaiveDateTime, HearingState)>| {
            Correction {
                hearing: Standing::of(&case, "臺灣新北地方法院", h),
                withdrawn: false,
                above_snapshot: false,
                was,
            }
            .line()
        };
        let scheduled = HearingState::Scheduled;
        let on = row(5, 5, 2, at(10, 10), scheduled);
        assert_eq!(
            line(&on, Some((at(10, 10), HearingState::Cancelled))),
            "115/12/10（四）10:00 言詞辯論 臺灣新北地方法院 第一法庭：原登載的取消已撤回或更正，這個庭期恢復於上述時間及地點進行，附檔會將此行程加回行事曆；請以傳票或通知書為準"
        );
        assert_eq!(
            line(&on, Some((at(10, 10), HearingState::Moved))),
            "115/12/10（四）10:00 言詞辯論 臺灣新北地方法院 第一法庭：原登載的改期已撤回或更正，這個庭期恢復於上述時間及地點進行，附檔會將此行程加回行事曆；請以傳票或通知書為準"
        );
        // At another time than it was cancelled or moved from: a change as
        // any other, with the time it was (the review of the session's
        // change: "恢復" beside another time said two things).
        assert_eq!(
            line(&on, Some((at(8, 10), HearingState::Moved))),
            "115/12/10（四）10:00 言詞辯論 臺灣新北地方法院 第一法庭：庭期資料已更新為上述時間及地點（原為 115/12/08（二）10:00），附檔會更新行事曆中的同一個行程"
        );
        assert_eq!(
            line(&on, Some((at(8, 10), scheduled))),
            "115/12/10（四）10:00 言詞辯論 臺灣新北地方法院 第一法庭：庭期資料已更新為上述時間及地點（原為 115/12/08（二）10:00），附檔會更新行事曆中的同一個行程"
        );
        // Only its courtroom changed: as before.
        assert_eq!(
            line(&on, Some((at(10, 10), scheduled))),
            "115/12/10（四）10:00 言詞辯論 臺灣新北地方法院 第一法庭：庭期資料已更新為上述時間及地點，附檔會更新行事曆中的同一個行程"
        );
    }
}
