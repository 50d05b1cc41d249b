//! A hearing's calendar file's SEQUENCE against what calendars took from
//! earlier mail. A snapshot's SEQUENCE of a hearing never falls from one
//! night to the next (`hearings::carry_on`), but it can fall below what was
//! mailed when the snapshot no longer has what calendars took:
//!
//! - a hearing whose withdrawn entry the court restores starts again from
//!   what its entries show, below the CANCEL mailed when it was withdrawn
//!   (`corrected`), since the snapshot it is carried on from has it no more;
//! - after a rollback, the older snapshot's SEQUENCEs are below what the
//!   newer one's mail carried;
//! - a night carried on from a snapshot standing in for a damaged live one
//!   carries the older one's SEQUENCEs: a change is sent one above the
//!   previous snapshot's (`corrected`), and recorded.
//!
//! Calendar apps ignore an update with a lower SEQUENCE than they hold
//! (RFC 5546 §2.1.5). So the outbox keeps a floor per UID where what was
//! mailed is above what a snapshot may say (`mail::outbox::Floor`, outbox
//! migration 11): the CANCEL of a withdrawn hearing, every file sent above
//! its own SEQUENCE, and, at a rollback, every hearing to come the snapshot
//! rolled back from had higher. A file whose own SEQUENCE is not above its
//! UID's floor is sent at the floor if it says what the floor's file said
//! (its [`content`]), else one above, and that is recorded in the
//! transaction that queues it. The website's files of one hearing (the
//! case page's, the API's) are lifted by the same rule
//! (`mail::outbox::lifted`) and recorded when lifted above the floor
//! (`mail::outbox::serve_sequence`); the feed's are the
//! snapshot's as they stand: a subscribed feed is a calendar of its own,
//! replaced whole at each poll.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use mail::outbox::Floor;
use schemas::date::datetime_to_int;
use schemas::hearing_list::{self, Hearing as HearingData};
use schemas::hearing_store::{Cursor, Layout};
use schemas::CaseRef;
use store::layout::SnapshotFile;

use super::announced::Announced;
use super::diff::Changes;
use super::reminders::Standing;
use crate::snapshot::read::{ReadError, Snapshot};

/// The floors recorded, by UID.
pub type Floors = BTreeMap<String, Floor>;

/// What a hearing's calendar file says, as a 64-bit digest (the rule is
/// the outbox's, which keeps the floors).
pub use mail::outbox::calendar_content as content;

fn content_of(h: &Standing) -> u64 {
    content(h.state, h.at, h.courtroom.as_deref(), &h.kind)
}

/// [`content`] of a hearing as a snapshot's list stores it.
fn stored_content(h: &HearingData) -> u64 {
    content(h.state, h.at, h.courtroom.as_deref(), h.kind)
}

/// The floor a file of `h` as it is sets.
pub fn floor_of(h: &Standing) -> Floor {
    Floor {
        uid: h.uid.clone(),
        sequence: h.sequence,
        content: content_of(h),
        starts: datetime_to_int(h.at),
    }
}

/// Raises `h.sequence` to what calendars that took its UID's floor apply:
/// the floor if the file says the same, else one above. Gives the floor to
/// record if it went above its own SEQUENCE and above the floor.
pub fn lift(floors: &Floors, h: &mut Standing) -> Option<Floor> {
    let lifted = mail::outbox::lifted(floors.get(&h.uid), h.sequence, content_of(h));
    h.sequence = lifted.sequence;
    lifted.above_floor.then(|| floor_of(h))
}

/// Lifts every calendar file a night's digests attach (the hearings their
/// news announces, the corrections without news) and gives the floors to
/// record with them: those lifted, and every correction sent above what
/// tonight's snapshot carries (a withdrawn hearing's CANCEL; a change
/// compared with another snapshot than the one carried on from), with the
/// floors `corrected::find` set (`found`), each UID once.
pub fn lift_night(
    floors: &Floors,
    announced: &mut Announced,
    changes: &mut Changes,
    found: Vec<Floor>,
) -> Vec<Floor> {
    let mut set: BTreeMap<String, Floor> = found.into_iter().map(|f| (f.uid.clone(), f)).collect();
    for h in announced.values_mut().flatten() {
        if let Some(f) = lift(floors, h) {
            set.insert(f.uid.clone(), f);
        }
    }
    for c in changes
        .news
        .values_mut()
        .flatten()
        .flat_map(|n| n.corrections.iter_mut())
    {
        let lifted = lift(floors, &mut c.hearing);
        if c.above_snapshot {
            set.insert(c.hearing.uid.clone(), floor_of(&c.hearing));
        } else if let Some(f) = lifted {
            set.insert(f.uid.clone(), f);
        }
    }
    set.into_values().collect()
}

/// The calendar files of one case's hearings as a snapshot has them, each
/// hearing as it stands: (SEQUENCE, [`content`]) by UID.
pub type Files = BTreeMap<String, (u32, u64)>;

/// Whether `h`'s file is one `files` has: the same SEQUENCE saying the
/// same (a calendar that took that file holds it already).
pub fn holds(files: &Files, h: &Standing) -> bool {
    files.get(&h.uid) == Some(&(h.sequence, content_of(h)))
}

/// The snapshot a night's mail compares with, read case by case for the
/// calendar files it had ([`Files`]): opened when first asked, so a night
/// that asks nothing reads nothing.
pub struct Before<'a> {
    file: Option<&'a SnapshotFile>,
    open: Option<Snapshot>,
    /// Cases asked, and the time it took (the debug log says).
    pub asked: usize,
    pub spent: std::time::Duration,
}

impl<'a> Before<'a> {
    pub fn new(file: Option<&'a SnapshotFile>) -> Before<'a> {
        Before {
            file,
            open: None,
            asked: 0,
            spent: std::time::Duration::ZERO,
        }
    }

    /// `case`'s files in the snapshot (none if it did not have the case);
    /// `None` when it cannot say: no snapshot was given (none to compare
    /// with, or its night's digests were not queued or are held:
    /// `queue::queue`), or it cannot be read (warned, and asked no more
    /// that night).
    pub fn files(&mut self, case: &CaseRef) -> Option<Files> {
        let file = self.file?;
        let started = std::time::Instant::now();
        self.asked += 1;
        let files = self.read(file, case);
        self.spent += started.elapsed();
        match files {
            Ok(files) => Some(files),
            Err(e) => {
                tracing::warn!(
                    "the hearings of {} cannot be read ({e}); every hearing's change announced tonight is told",
                    file.name()
                );
                self.file = None;
                None
            }
        }
    }

    fn read(&mut self, file: &SnapshotFile, case: &CaseRef) -> Result<Files, ReadError> {
        let snapshot = match self.open {
            Some(ref snapshot) => snapshot,
            None => self.open.insert(Snapshot::open(file)?),
        };
        let Some(id) = snapshot.case_id(&case.court, &case.key)? else {
            return Ok(Files::new());
        };
        let list = snapshot.hearings_of(id)?;
        Ok(hearing_list::current(&list)
            .map(|h| {
                let file = (h.sequence, stored_content(h));
                (h.uid(&case.court, &case.key), file)
            })
            .collect())
    }
}

/// The floors a rollback from `from` to `to` sets: every hearing still to
/// come at `after` in `from` (as it now stands) whose SEQUENCE is above 0
/// and that `to` has lower, or at the same SEQUENCE saying something else,
/// or not at all: what calendars may hold from `from`'s mail that `to`'s
/// files would fall below.
pub fn after_rollback(
    from: &SnapshotFile,
    to: &SnapshotFile,
    after: NaiveDateTime,
) -> Result<Vec<Floor>, ReadError> {
    let a = schemas::open_snapshot_readonly(&from.path)?;
    let b = Snapshot::open(to)?;
    let la = Layout::read(&a)?;
    let Some(sql) = la.range_sql() else {
        return Ok(Vec::new());
    };
    // `from`'s hearings to come that calendars may hold above 0, by case.
    let mut held: BTreeMap<i64, Vec<HearingData>> = BTreeMap::new();
    {
        let mut stmt = a.prepare(&sql)?;
        let mut lists = Cursor::new(la, stmt.query([1, i64::MAX])?, 1, i64::MAX);
        while let Some((id, list)) = lists.next_list()? {
            let list = hearing_list::decode(list).map_err(|e| e.sql(1))?;
            let to_come: Vec<HearingData> = hearing_list::current(&list)
                .filter(|h| h.at >= after && h.sequence > 0)
                .cloned()
                .collect();
            if !to_come.is_empty() {
                held.insert(id, to_come);
            }
        }
    }
    let mut key_of =
        a.prepare("SELECT court, category, year, word, number FROM cases WHERE id = ?1")?;
    let mut out = Vec::new();
    for (id, hearings) in held {
        let case = key_of.query_row([id], |r| CaseRef::from_row(r, 0, 1))?;
        let theirs = match b.case_id(&case.court, &case.key)? {
            Some(other) => b.hearings_of(other)?,
            None => Vec::new(),
        };
        for h in hearings {
            let c = stored_content(&h);
            let there = hearing_list::current(&theirs).find(|t| t.origin == h.origin);
            let below = match there {
                None => true,
                Some(t) => {
                    t.sequence < h.sequence || (t.sequence == h.sequence && stored_content(t) != c)
                }
            };
            if below {
                out.push(Floor {
                    uid: h.uid(&case.court, &case.key),
                    sequence: h.sequence,
                    content: c,
                    starts: datetime_to_int(h.at),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use schemas::hearing::State as HearingState;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, day)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    }

    fn standing(sequence: u32, day: u32, state: HearingState) -> Standing {
        Standing {
            uid: "u@cpor".into(),
            sequence,
            at: at(day),
            courtroom: Some("第一法庭".into()),
            kind: "言詞辯論".into(),
            state,
            court_name: "臺灣臺北地方法院".into(),
            moved_from: None,
        }
    }

    #[test]
    fn a_file_is_lifted_to_its_floor_or_above_it() {
        let scheduled = HearingState::Scheduled;
        // No floor: as it is.
        let mut h = standing(0, 10, scheduled);
        assert_eq!(lift(&Floors::new(), &mut h), None);
        assert_eq!(h.sequence, 0);
        // The floor: a CANCEL of the 10th at 1.
        let cancel = standing(1, 10, HearingState::Cancelled);
        let floors = Floors::from([("u@cpor".to_string(), floor_of(&cancel))]);
        // Restored (SEQUENCE 0 again): above the CANCEL, and recorded.
        let mut back = standing(0, 10, scheduled);
        let f = lift(&floors, &mut back).unwrap();
        assert_eq!((back.sequence, f.sequence), (2, 2));
        assert_eq!(f.content, content_of(&back));
        // The CANCEL again, from below: at the floor, nothing to record.
        let mut again = standing(0, 10, HearingState::Cancelled);
        assert_eq!(lift(&floors, &mut again), None);
        assert_eq!(again.sequence, 1);
        // Above the floor on its own: as it is.
        let mut later = standing(5, 12, scheduled);
        assert_eq!(lift(&floors, &mut later), None);
        assert_eq!(later.sequence, 5);
        // Every part of what it says counts.
        let base = content_of(&standing(0, 10, scheduled));
        assert_ne!(base, content_of(&standing(0, 11, scheduled)));
        let mut room = standing(0, 10, scheduled);
        room.courtroom = None;
        assert_ne!(base, content_of(&room));
        let mut kind = standing(0, 10, scheduled);
        kind.kind = "準備程序".into();
        assert_ne!(base, content_of(&kind));
        assert_ne!(base, content_of(&standing(0, 10, HearingState::Uncertain)));
    }
}
