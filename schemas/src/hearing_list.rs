//! A case's hearings as the snapshot stores them (schema version 3).
//!
//! The snapshot's `hearings` table has one row per case that has any
//! hearing, its `list` column the case's hearings packed one after another
//! (the format below). Version 2 had a row per hearing; a national night
//! has about 3.35 million of them, 1M cases, and inserting, indexing and
//! verifying those rows was most of what hearings added to the import
//! (docs/BENCHMARKS.md, "Hearings"). Every reader wants a case's hearings
//! together anyway: a case page, the feed of an account's cases, the
//! reminders of a day (one pass over every list), a digest's calendar
//! files. So the table holds what the import works out, in the order it
//! works it out, and this module is the one place that writes and reads
//! the packing; `cpor-etl dump` and `cpor-etl case` show it as text.
//!
//! A hearing's calendar UID is not stored: it is derived from the case,
//! the kind and the 序號 of the entry that first announced the hearing (its
//! [`Origin`]), by [`uid`], whenever a calendar needs it.
//!
//! The packing, every integer an unsigned LEB128 varint:
//!
//! ```text
//! list    = FORMAT (one byte, 1) count record*
//! record  = seq posted origin-kind origin-seq sequence day minute kind flags
//!           [second] [courtroom] [by-seq by-day] [origin-part]
//! courtroom = 0 length bytes | n (the list's n-th courtroom so far, from 1)
//! ```
//!
//! `posted` is days from the common era (`num_days_from_ce`); `day` (of the
//! hearing) and `by-day` are days after `posted`, zigzag-encoded (a later
//! entry may be dated earlier); `minute` is the minute of the day, and
//! `second` follows only when the time has seconds. Kinds are places in
//! [`STORED_KINDS`] (one byte). `flags` holds the state (bits 0–1,
//! [`State::ALL`]'s order), whether a courtroom follows (bit 2), whether
//! the entry that changed it follows (bit 3) and whether `second` follows
//! (bit 4), and whether `origin-part` follows (bit 5: an entry's second
//! hearing of a kind, snapshot version 6; a first one's record is as
//! before). A courtroom is UTF-8, written out the first time the list names
//! it and referred to by its place after that (hearings of a case are
//! mostly in one or two rooms). So a record is about 12 bytes, plus a
//! courtroom's. Decoding checks everything and never panics: a list that
//! does not decode is an error naming what is wrong.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use sha2::{Digest, Sha256};

use crate::hearing::State;
use crate::CaseKey;

/// Every kind a hearing can have, as stored (`hearing::KINDS`' stored forms
/// and `hearing::UNNAMED`): a record names one by its place here. Append
/// only: a kind's place is part of the snapshot format.
pub const STORED_KINDS: &[&str] = &[
    "言詞辯論",
    "準備程序",
    "宣判",
    "調解",
    "和解",
    "訊問",
    "審理",
    "勘驗",
    "調查",
    "開庭",
];

/// The packing's version, the first byte of every list.
const FORMAT: u8 = 1;

/// The hearing a row belongs to: the kind and 序號 of the entry that first
/// announced it, and which hearing of that kind the entry announced (0:
/// its first; 1: a second session of the kind set in the same entry,
/// `…審理；…審理`, hearing rules version 7). The same for every date the
/// hearing is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub kind: &'static str,
    pub seq: u32,
    pub part: u8,
}

/// One row of a case's hearings: a hearing an entry schedules, and what
/// later entries did to it (docs/HEARINGS.md). `R` holds the courtroom: a
/// `String` as read back; while a list is worked out, text borrowed from
/// the entries (no copy for each of a night's three million hearings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hearing<R = String> {
    /// The entry that schedules it: 序號 and 登載日期.
    pub seq: u32,
    pub posted: NaiveDate,
    /// The hearing this row is a date of (its calendar UID, [`uid`]).
    pub origin: Origin,
    /// Changes the entries show, up to this row: the calendar SEQUENCE. A
    /// hearing's row with the greatest one is the hearing as it now stands.
    pub sequence: u32,
    /// Asia/Taipei local time.
    pub at: NaiveDateTime,
    /// As written (第一法庭, 家事調解室); `None` when the text names none.
    pub courtroom: Option<R>,
    /// From [`STORED_KINDS`].
    pub kind: &'static str,
    pub state: State,
    /// The later entry (序號, 登載日期) that moved or cancelled it, or made
    /// it uncertain; `None` exactly when scheduled.
    pub by: Option<(u32, NaiveDate)>,
}

impl<R> Hearing<R> {
    /// The same hearing with its courtroom made `f(courtroom)`.
    pub fn map_room<S>(self, f: impl FnOnce(R) -> S) -> Hearing<S> {
        Hearing {
            seq: self.seq,
            posted: self.posted,
            origin: self.origin,
            sequence: self.sequence,
            at: self.at,
            courtroom: self.courtroom.map(f),
            kind: self.kind,
            state: self.state,
            by: self.by,
        }
    }

    /// Its calendar UID, in the case `key` of `court`.
    pub fn uid(&self, court: &str, key: &CaseKey) -> String {
        uid(court, key, self.origin)
    }
}

/// A calendar UID: `<16 hex digits>@cpor`, the first 8 bytes of the SHA-256
/// of `court|category|year|word|number|kind|seq` (the entry that first
/// announced the hearing), `|part` after it for an entry's second hearing
/// of a kind (the first's is as it was before rules version 7, so no
/// calendar's event changes its UID). Stable while that entry exists.
pub fn uid(court: &str, key: &CaseKey, origin: Origin) -> String {
    let Origin { kind, seq, part } = origin;
    use std::fmt::Write;
    // Hashed as it is formatted: no string in between.
    struct Hashing(Sha256);
    impl Write for Hashing {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Hashing(Sha256::new());
    let _ = write!(
        h,
        "{court}|{}|{}|{}|{}|{kind}|{seq}",
        key.category, key.year, key.word, key.number
    );
    if part > 0 {
        let _ = write!(h, "|{part}");
    }
    let digest = h.0.finalize();
    let mut out = String::with_capacity(16 + 5);
    for b in &digest[..8] {
        let _ = write!(out, "{b:02x}");
    }
    out.push_str("@cpor");
    out
}

/// The rows of `list` as the hearings now stand, in `list`'s order: each
/// row no row of the same hearing has a greater `sequence` than (the
/// import gives a hearing's rows distinct ones).
pub fn current<R>(list: &[Hearing<R>]) -> impl Iterator<Item = &Hearing<R>> {
    list.iter().filter(move |h| {
        !list
            .iter()
            .any(|o| o.origin == h.origin && o.sequence > h.sequence)
    })
}

/// The place of a kind in [`STORED_KINDS`].
pub fn kind_code(kind: &str) -> Option<u8> {
    STORED_KINDS
        .iter()
        .position(|k| *k == kind)
        .map(|i| i as u8)
}

/// A kind by its text, as the `&'static str` of [`STORED_KINDS`].
pub fn stored_kind(kind: &str) -> Option<&'static str> {
    STORED_KINDS.iter().copied().find(|k| *k == kind)
}

/// A list that cannot be packed or unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("a hearing's kind `{0}` is not one of the stored kinds")]
    UnknownKind(String),
    #[error("hearing list: unknown format {0}")]
    Format(u8),
    #[error("hearing list: ends inside record {0}")]
    Truncated(usize),
    #[error("hearing list: record {record}: {what}")]
    Bad { record: usize, what: &'static str },
    #[error("hearing list: {0} bytes after the last record")]
    Trailing(usize),
}

impl PackError {
    /// As a conversion error of column `column`, for callers that read
    /// lists with rusqlite.
    pub fn sql(self, column: usize) -> rusqlite::Error {
        crate::blob_error(column, self)
    }
}

fn put(out: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn day(d: NaiveDate) -> u32 {
    // Dates in an export are ROC dates, after the common era began.
    d.num_days_from_ce().max(0) as u32
}

/// Days from `from` to `to`, zigzag-encoded.
fn days_after(from: NaiveDate, to: NaiveDate) -> u32 {
    let d = i64::from(to.num_days_from_ce()) - i64::from(from.num_days_from_ce());
    ((d << 1) ^ (d >> 63)) as u32
}

/// Appends the packing of `list` to `out` (nothing for an empty list: a
/// case without hearings has no row).
pub fn encode<R: AsRef<str>>(list: &[Hearing<R>], out: &mut Vec<u8>) -> Result<(), PackError> {
    if list.is_empty() {
        return Ok(());
    }
    let code = |k: &str| kind_code(k).ok_or_else(|| PackError::UnknownKind(k.to_string()));
    out.push(FORMAT);
    put(out, list.len() as u32);
    let mut rooms: Vec<&str> = Vec::new();
    for h in list {
        put(out, h.seq);
        put(out, day(h.posted));
        out.push(code(h.origin.kind)?);
        put(out, h.origin.seq);
        put(out, h.sequence);
        put(out, days_after(h.posted, h.at.date()));
        let seconds = h.at.time().num_seconds_from_midnight();
        put(out, seconds / 60);
        out.push(code(h.kind)?);
        let state = State::ALL.iter().position(|s| *s == h.state).unwrap_or(0) as u8;
        let flags = state
            | if h.courtroom.is_some() { 4 } else { 0 }
            | if h.by.is_some() { 8 } else { 0 }
            | if seconds % 60 != 0 { 16 } else { 0 }
            | if h.origin.part > 0 { 32 } else { 0 };
        out.push(flags);
        if seconds % 60 != 0 {
            put(out, seconds % 60);
        }
        if let Some(room) = &h.courtroom {
            let room = room.as_ref();
            match rooms.iter().position(|r| *r == room) {
                Some(i) => put(out, i as u32 + 1),
                None => {
                    put(out, 0);
                    put(out, room.len() as u32);
                    out.extend_from_slice(room.as_bytes());
                    rooms.push(room);
                }
            }
        }
        if let Some((seq, posted)) = h.by {
            put(out, seq);
            put(out, days_after(h.posted, posted));
        }
        if h.origin.part > 0 {
            put(out, u32::from(h.origin.part));
        }
    }
    Ok(())
}

/// The days from the common era (`num_days_from_ce`) chrono can hold: a
/// packed day outside them is out of range. Checked against chrono by
/// `the_day_range_is_chronos`.
const FIRST_DAY: i64 = -95_746_129;
const LAST_DAY: i64 = 95_745_399;

/// A record as packed, its numbers checked as [`decode`] checks them but
/// not made into dates and times: what a pass over every list of a
/// snapshot needs (how many, which are uncertain, on which days) costs a
/// few shifts a field instead of a calendar computation.
#[derive(Debug, Clone, Copy)]
struct Raw<'a> {
    seq: u32,
    /// Days from the common era.
    posted: i32,
    origin_kind: &'static str,
    origin_seq: u32,
    origin_part: u8,
    sequence: u32,
    /// Days from the common era.
    day: i32,
    /// Seconds from midnight.
    seconds: u32,
    kind: &'static str,
    state: State,
    room: Option<Room<'a>>,
    by: Option<(u32, i32)>,
}

/// A record's courtroom: written out (the list's next), or the n-th the
/// list named before (from 0, checked to be one it named).
#[derive(Debug, Clone, Copy)]
enum Room<'a> {
    New(&'a str),
    Again(usize),
}

/// Reads a packed list back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    record: usize,
    /// How many courtrooms the list has named so far.
    rooms: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, PackError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(PackError::Truncated(self.record))?;
        self.at += 1;
        Ok(b)
    }

    fn int(&mut self) -> Result<u32, PackError> {
        let mut n: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(n).map_err(|_| self.bad("a number is too large"));
            }
        }
        Err(self.bad("a number is too long"))
    }

    fn bad(&self, what: &'static str) -> PackError {
        PackError::Bad {
            record: self.record,
            what,
        }
    }

    /// A day of the calendar, as days from the common era.
    fn in_range(&self, day: i64) -> Result<i32, PackError> {
        if (FIRST_DAY..=LAST_DAY).contains(&day) {
            Ok(day as i32)
        } else {
            Err(self.bad("a date is out of range"))
        }
    }

    fn date(&mut self) -> Result<i32, PackError> {
        let n = self.int()?;
        self.in_range(i64::from(n))
    }

    /// A date given as days after `from`.
    fn date_after(&mut self, from: i32) -> Result<i32, PackError> {
        let z = i64::from(self.int()?);
        self.in_range(i64::from(from) + ((z >> 1) ^ -(z & 1)))
    }

    fn kind(&mut self) -> Result<&'static str, PackError> {
        let code = self.byte()?;
        STORED_KINDS
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| self.bad("unknown kind"))
    }

    /// A courtroom: written out, or one named before.
    fn room(&mut self) -> Result<Room<'a>, PackError> {
        let n = self.int()? as usize;
        if n > 0 {
            return if n <= self.rooms {
                Ok(Room::Again(n - 1))
            } else {
                Err(self.bad("a courtroom not named before"))
            };
        }
        let len = self.int()? as usize;
        let bytes: &'a [u8] = self.bytes;
        let end = self
            .at
            .checked_add(len)
            .filter(|e| *e <= bytes.len())
            .ok_or(PackError::Truncated(self.record))?;
        let room = std::str::from_utf8(&bytes[self.at..end])
            .map_err(|_| self.bad("a courtroom is not UTF-8"))?;
        self.at = end;
        self.rooms += 1;
        Ok(Room::New(room))
    }

    /// The next record.
    fn record(&mut self) -> Result<Raw<'a>, PackError> {
        let seq = self.int()?;
        let posted = self.date()?;
        let origin_kind = self.kind()?;
        let origin_seq = self.int()?;
        let sequence = self.int()?;
        let day = self.date_after(posted)?;
        let minute = self.int()?;
        let kind = self.kind()?;
        let flags = self.byte()?;
        if flags & !0x3f != 0 {
            return Err(self.bad("unknown flags"));
        }
        let second = if flags & 16 != 0 { self.int()? } else { 0 };
        let seconds = minute
            .checked_mul(60)
            .filter(|_| second < 60)
            .map(|m| u64::from(m) + u64::from(second))
            .filter(|s| *s < 86_400)
            .ok_or_else(|| self.bad("a time of day is out of range"))? as u32;
        let state = State::ALL[usize::from(flags & 3)];
        let room = if flags & 4 != 0 {
            Some(self.room()?)
        } else {
            None
        };
        let by = if flags & 8 != 0 {
            Some((self.int()?, self.date_after(posted)?))
        } else {
            None
        };
        if (state == State::Scheduled) != by.is_none() {
            return Err(self.bad("a changed hearing names no entry, or a scheduled one does"));
        }
        let origin_part = match flags & 32 {
            0 => 0,
            _ => u8::try_from(self.int()?)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| self.bad("a hearing's part is out of range"))?,
        };
        Ok(Raw {
            seq,
            posted,
            origin_kind,
            origin_seq,
            origin_part,
            sequence,
            day,
            seconds,
            kind,
            state,
            room,
            by,
        })
    }
}

/// A day the reader checked to be in chrono's range.
fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).expect("the reader checks a day's range")
}

/// The hearings packed in `bytes` by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Hearing>, PackError> {
    // About 12 bytes a record (from the bytes, not the list's own count,
    // which a damaged list could make anything).
    let mut out = Vec::with_capacity(bytes.len() / 12 + 1);
    let mut rooms: Vec<&str> = Vec::new();
    walk(bytes, |r| {
        let courtroom = r.room.map(|room| match room {
            Room::New(text) => {
                rooms.push(text);
                text.to_string()
            }
            Room::Again(n) => rooms[n].to_string(),
        });
        let time = NaiveTime::from_num_seconds_from_midnight_opt(r.seconds, 0)
            .expect("the reader checks a time's range");
        out.push(Hearing {
            seq: r.seq,
            posted: date_of(r.posted),
            origin: Origin {
                kind: r.origin_kind,
                seq: r.origin_seq,
                part: r.origin_part,
            },
            sequence: r.sequence,
            at: date_of(r.day).and_time(time),
            courtroom,
            kind: r.kind,
            state: r.state,
            by: r.by.map(|(seq, day)| (seq, date_of(day))),
        });
    })?;
    Ok(out)
}

/// How many hearings `bytes` packs, checked as [`decode`] checks but with
/// nothing copied: for verifying a snapshot's lists and carrying them over.
pub fn count(bytes: &[u8]) -> Result<usize, PackError> {
    let mut n = 0;
    walk(bytes, |_| n += 1)?;
    Ok(n)
}

/// How many hearings `bytes` packs, and how many of them are uncertain,
/// checked as [`decode`] checks, nothing copied: for a list a night copies
/// from the live snapshot, whose report counts them as if worked out.
pub fn tally(bytes: &[u8]) -> Result<(usize, usize), PackError> {
    let (mut n, mut uncertain) = (0, 0);
    walk(bytes, |h| {
        n += 1;
        uncertain += usize::from(h.state == State::Uncertain);
    })?;
    Ok((n, uncertain))
}

/// Days of the calendar to look for in lists ([`on_days`]), as the packing
/// counts them.
#[derive(Debug, Clone, Default)]
pub struct Days(Vec<i32>);

impl Days {
    pub fn new(days: &[NaiveDate]) -> Days {
        Days(days.iter().map(|d| d.num_days_from_ce()).collect())
    }
}

/// Whether a hearing packed in `bytes` (any row, whatever its state) takes
/// place on one of `days`: checked as [`decode`] checks, but with nothing
/// kept or copied, so that a pass over every list of a snapshot for the
/// few with a hearing on some days decodes only those.
pub fn on_days(bytes: &[u8], days: &Days) -> Result<bool, PackError> {
    let mut found = false;
    walk(bytes, |h| found |= days.0.contains(&h.day))?;
    Ok(found)
}

/// Reads every record of `bytes` into `each`.
fn walk<'a>(bytes: &'a [u8], mut each: impl FnMut(Raw<'a>)) -> Result<(), PackError> {
    let mut r = Reader {
        bytes,
        at: 0,
        record: 0,
        rooms: 0,
    };
    let format = r.byte()?;
    if format != FORMAT {
        return Err(PackError::Format(format));
    }
    let count = r.int()? as usize;
    for i in 0..count {
        r.record = i;
        each(r.record()?);
    }
    if r.at != bytes.len() {
        return Err(PackError::Trailing(bytes.len() - r.at));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hearing::{KINDS, UNNAMED};
    use proptest::prelude::*;

    #[test]
    fn every_kind_the_reader_gives_can_be_stored() {
        for (_, stored) in KINDS {
            assert!(kind_code(stored).is_some(), "{stored}");
        }
        assert!(kind_code(UNNAMED).is_some());
        // Each kind once: a place names one kind.
        for (i, k) in STORED_KINDS.iter().enumerate() {
            assert_eq!(kind_code(k), Some(i as u8), "{k}");
        }
    }

    fn hearing() -> impl Strategy<Value = Hearing> {
        let kind = proptest::sample::select(STORED_KINDS);
        let date =
            (700_000i32..800_000).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap());
        // Few rooms, so that lists name one again.
        let room = proptest::option::of(proptest::sample::select(vec![
            "第一法庭".to_string(),
            "第十二法庭".to_string(),
            "家事調解室".to_string(),
            String::new(),
            "x".repeat(200),
        ]));
        (
            (
                any::<u32>(),
                date.clone(),
                kind.clone(),
                any::<u32>(),
                any::<u32>(),
                prop_oneof![4 => Just(0u8), 1 => 1u8..=255],
            ),
            (date.clone(), 0u32..86_400, room, kind, 0usize..4),
            (any::<u32>(), date),
        )
            .prop_map(
                |(
                    (seq, posted, okind, oseq, sequence, opart),
                    (day, secs, courtroom, kind, st),
                    by,
                )| {
                    let state = State::ALL[st];
                    Hearing {
                        seq,
                        posted,
                        origin: Origin {
                            kind: okind,
                            seq: oseq,
                            part: opart,
                        },
                        sequence,
                        at: day.and_time(
                            NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap(),
                        ),
                        courtroom,
                        kind,
                        state,
                        by: (state != State::Scheduled).then_some(by),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn a_list_comes_back_as_it_went_in(list in proptest::collection::vec(hearing(), 0..20)) {
            let mut bytes = Vec::new();
            encode(&list, &mut bytes).unwrap();
            if list.is_empty() {
                prop_assert!(bytes.is_empty());
            } else {
                prop_assert_eq!(count(&bytes), Ok(list.len()));
                prop_assert_eq!(decode(&bytes).unwrap(), list.clone());
            }
            // Borrowed courtrooms pack to the same bytes.
            let borrowed: Vec<Hearing<&str>> = list
                .iter()
                .map(|h| {
                    let mut b = h.clone().map_room(|_| "");
                    b.courtroom = h.courtroom.as_deref();
                    b
                })
                .collect();
            let mut again = Vec::new();
            encode(&borrowed, &mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn a_list_is_on_the_days_its_hearings_take_place(
            list in proptest::collection::vec(hearing(), 1..12),
            pick in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
            others in proptest::collection::vec(700_000i32..800_000, 0..3),
        ) {
            let mut bytes = Vec::new();
            encode(&list, &mut bytes).unwrap();
            // Some days of its hearings, some days at random.
            let days: Vec<NaiveDate> = pick
                .iter()
                .map(|i| list[i.index(list.len())].at.date())
                .chain(others.iter().filter_map(|&d| NaiveDate::from_num_days_from_ce_opt(d)))
                .collect();
            let expected = list.iter().any(|h| days.contains(&h.at.date()));
            prop_assert_eq!(on_days(&bytes, &Days::new(&days)), Ok(expected));
        }

        #[test]
        fn damaged_bytes_are_an_error_never_a_panic(
            list in proptest::collection::vec(hearing(), 1..6),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            noise in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = Vec::new();
            encode(&list, &mut bytes).unwrap();
            // Cut short: always an error.
            let short = &bytes[..cut.index(bytes.len())];
            prop_assert!(decode(short).is_err());
            // One byte changed, or noise: an error or some list, no panic.
            let mut changed = bytes.clone();
            let i = flip.index(changed.len());
            changed[i] ^= 0x5a;
            // `on_days`, `count` and `tally` check what `decode` checks,
            // and say the same of what they find wrong.
            for b in [short, &changed[..], &noise[..]] {
                let decoded = decode(b);
                let error = decoded.as_ref().err().cloned();
                prop_assert_eq!(on_days(b, &Days::default()).err(), error.clone());
                prop_assert_eq!(count(b), decoded.as_ref().map(|l| l.len()).map_err(Clone::clone));
                let uncertain = |l: &Vec<Hearing>| {
                    (l.len(), l.iter().filter(|h| h.state == State::Uncertain).count())
                };
                prop_assert_eq!(tally(b), decoded.as_ref().map(uncertain).map_err(Clone::clone));
            }
            // Bytes after the list are refused.
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert_eq!(decode(&longer), Err(PackError::Trailing(1)));
        }
    }

    /// A minute so large that minute × 60 + second passes u32::MAX: the
    /// reader before this one added in u32, which wrapped to a time just
    /// after midnight in a release build (and panicked in a debug one).
    #[test]
    fn a_time_past_the_day_is_refused_even_where_u32_would_wrap() {
        let mut bytes = vec![FORMAT];
        for n in [1, 1, 739_000] {
            put(&mut bytes, n); // count, seq, posted
        }
        bytes.push(0); // origin kind
        put(&mut bytes, 1); // origin seq
        put(&mut bytes, 0); // sequence
        put(&mut bytes, 0); // day: the day posted
        put(&mut bytes, 71_582_788); // minute: × 60 = u32::MAX − 15
        bytes.push(0); // kind
        bytes.push(16); // scheduled, a second follows
        put(&mut bytes, 16);
        let wanted = Err(PackError::Bad {
            record: 0,
            what: "a time of day is out of range",
        });
        assert_eq!(decode(&bytes), wanted.clone().map(|()| Vec::new()));
        assert_eq!(count(&bytes), wanted.clone().map(|()| 0));
        assert_eq!(tally(&bytes), wanted.clone().map(|()| (0, 0)));
        assert_eq!(on_days(&bytes, &Days::default()), wanted.map(|()| false));
    }

    #[test]
    fn the_day_range_is_chronos() {
        let day = |d: i64| NaiveDate::from_num_days_from_ce_opt(i32::try_from(d).unwrap());
        assert_eq!(day(FIRST_DAY), Some(NaiveDate::MIN));
        assert_eq!(day(LAST_DAY), Some(NaiveDate::MAX));
        assert_eq!(day(FIRST_DAY - 1), None);
        assert_eq!(day(LAST_DAY + 1), None);
    }

    #[test]
    fn an_unknown_kind_or_format_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        let mut h: Hearing = Hearing {
            seq: 3,
            posted: day,
            origin: Origin {
                kind: "言詞辯論",
                seq: 3,
                part: 0,
            },
            sequence: 0,
            at: day.and_hms_opt(10, 0, 0).unwrap(),
            courtroom: Some("第一法庭".into()),
            kind: "言詞辯論",
            state: State::Scheduled,
            by: None,
        };
        let mut bytes = Vec::new();
        encode(std::slice::from_ref(&h), &mut bytes).unwrap();
        // An entry's second hearing of a kind: one byte more (bit 5 and
        // the part); a first one's bytes are as before version 6, and a
        // part written as 0 is refused (a first one has none written).
        let mut second = h.clone();
        second.origin.part = 1;
        let mut two = Vec::new();
        encode(std::slice::from_ref(&second), &mut two).unwrap();
        assert_eq!(two.len(), bytes.len() + 1);
        assert_eq!(decode(&two).unwrap(), vec![second]);
        *two.last_mut().unwrap() = 0;
        assert!(decode(&two).is_err());
        bytes[0] = 2;
        assert_eq!(decode(&bytes), Err(PackError::Format(2)));
        h.kind = "散步";
        assert_eq!(
            encode(&[h], &mut Vec::new()),
            Err(PackError::UnknownKind("散步".into()))
        );
    }

    #[test]
    fn the_current_row_of_each_hearing_is_its_greatest_sequence() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        let row = |seq: u32, origin: u32, sequence: u32| Hearing {
            seq,
            posted: day,
            origin: Origin {
                kind: "調解",
                seq: origin,
                part: 0,
            },
            sequence,
            at: day.and_hms_opt(9, 30, 0).unwrap(),
            courtroom: None,
            kind: "調解",
            state: State::Scheduled,
            by: None,
        };
        // Hearing 1 moved twice (rows 1, 4, 6), hearing 2 never.
        let list: [Hearing; 4] = [row(1, 1, 0), row(2, 2, 0), row(4, 1, 1), row(6, 1, 2)];
        let got: Vec<u32> = current(&list).map(|h| h.seq).collect();
        assert_eq!(got, vec![2, 6]);
    }

    fn o(kind: &'static str, seq: u32, part: u8) -> Origin {
        Origin { kind, seq, part }
    }

    fn key() -> CaseKey {
        CaseKey {
            category: "民事".into(),
            year: 115,
            word: "訴".into(),
            number: 100,
        }
    }

    #[test]
    fn uids_follow_the_case_the_kind_and_the_first_entry() {
        let key = key();
        let u = uid("TPD", &key, o("言詞辯論", 5, 0));
        assert_eq!(u, uid("TPD", &key, o("言詞辯論", 5, 0)));
        assert!(u.ends_with("@cpor") && u.len() == 16 + 5, "{u}");
        assert_ne!(u, uid("TPD", &key, o("言詞辯論", 6, 0)));
        assert_ne!(u, uid("TPD", &key, o("準備程序", 5, 0)));
        assert_ne!(u, uid("PCD", &key, o("言詞辯論", 5, 0)));
        // An entry's second hearing of the kind has one of its own; its
        // first keeps the UID it had before rules version 7.
        assert_ne!(u, uid("TPD", &key, o("言詞辯論", 5, 1)));
        assert_ne!(
            uid("TPD", &key, o("言詞辯論", 5, 1)),
            uid("TPD", &key, o("言詞辯論", 5, 2))
        );
    }

    #[test]
    fn a_uid_is_the_same_as_before_the_packing() {
        // The UID version 2 stored for this hearing: calendars that have
        // it keep updating the same event.
        let key = key();
        let u = uid("TPD", &key, o("言詞辯論", 7, 0));
        assert_eq!(u.len(), 21);
        assert!(u.ends_with("@cpor"));
        let mut h = Sha256::new();
        h.update("TPD|民事|115|訴|100|言詞辯論|7".as_bytes());
        assert_eq!(u[..16], crate::hex(&h.finalize()[..8]));
    }
}
