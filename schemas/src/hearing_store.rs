//! Where a snapshot keeps its cases' hearing lists (`hearing_list`) and
//! the digests of what each case's were worked out from, by version, and
//! the one way every reader gets at them.
//!
//! - Versions 1 and 2: none ([`Layout::None`]; version 2's rows are not
//!   read, see `SNAPSHOT_HEARINGS_VERSION`).
//! - Version 3: a `hearings` row per case with any (`case_id`, `list`).
//! - Version 4: the same, and an `extracted` row per digest.
//! - Version 5: a `hearing_chunks` row per 64 consecutive case ids with
//!   any list or digest ([`CASES_PER_CHUNK`]): the row of chunk `k` holds
//!   those of cases `64k + 1 ..= 64k + 64` in one value, laid out as
//!   follows (integers little-endian):
//!
//!   | bytes | what |
//!   | --- | --- |
//!   | 8 | which of the 64 cases have a list: bit `i` for case `64k + 1 + i` |
//!   | 8 | which have a digest, the same way |
//!   | 8 each | the digests, in case order |
//!   | 4 each | where each list ends, counted from the first list's start, in case order |
//!   | the rest | the lists, one after another (each non-empty) |
//!
//!   Why: a national night has about 705,000 lists and 810,000 digests.
//!   As rows of their own they cost the import's writer about 3.2
//!   CPU-seconds a night to insert, index and verify; as about 13,800
//!   chunks, nothing it measures (`etl/examples/snapshot-bench`,
//!   docs/BENCHMARKS.md, "Hearings", ninth measurement). Every reader
//!   wants a case's list, a court's lists in id order, or all of them. A
//!   case's list is found by its chunk's rowid, as it was by the case's,
//!   but a case page now reads the chunk (6.5 KB on average, two or three
//!   pages) for it: under a microsecond more, measured.

use rusqlite::{Connection, OptionalExtension, Rows};

/// Cases to a chunk (version 5): `1 << CHUNK_SHIFT`.
pub const CASES_PER_CHUNK: i64 = 1 << CHUNK_SHIFT;
const CHUNK_SHIFT: u32 = 6;

/// The chunk holding case `id`'s list and digest: `(id - 1) >> 6`, as
/// the SQL here writes it (a shift rounds down for any id, where SQLite's
/// `/` would round towards zero below 1).
pub fn chunk_of(id: i64) -> i64 {
    (id - 1) >> CHUNK_SHIFT
}

/// Chunk `key`'s case at `slot`.
fn case_of(key: i64, slot: u32) -> i64 {
    first_case(key) + i64::from(slot)
}

/// The first case id of chunk `chunk`.
pub fn first_case(chunk: i64) -> i64 {
    chunk * CASES_PER_CHUNK + 1
}

/// `meta.hearings_corrected`, the ids of the cases whose hearing lists
/// differ from the ones of the snapshot the import carried on from in what
/// a calendar holds (`etl::hearings::corrections`), for the mail stage to
/// tell their followers. Written by every build since the ninth session's change
/// (2026-12-03); a file without it names none. As text: the ids in
/// ascending order, separated by commas (a night names a few hundred).
pub fn write_ids(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}

/// The cases `meta.hearings_corrected` names ([`write_ids`]), ascending;
/// none if the file has no such row. A value that does not read is a
/// conversion error.
pub fn corrected(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let value = crate::meta_value(conn, "hearings_corrected")?;
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut ids = value
        .split(',')
        .map(|id| id.parse::<i64>())
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|e| crate::bad_meta("hearings_corrected", e))?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

const HEADER: usize = 16;

/// A chunk's value that does not hold what the layout says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("{0} bytes, too short for what its header names ({1})")]
    Short(usize, usize),
    #[error("list {0} ends at {1}, not after where it starts ({2})")]
    Ends(u32, usize, usize),
    #[error("list {0} ends at {1}, past the {2} bytes of lists")]
    Past(u32, usize, usize),
    #[error("{0} bytes after the last list")]
    Trailing(usize),
    #[error("it names no list and no digest")]
    Empty,
}

impl ChunkError {
    /// As a conversion error of column `column`, for callers that read
    /// with rusqlite.
    pub fn sql(self, column: usize) -> rusqlite::Error {
        crate::blob_error(column, self)
    }
}

/// A chunk's value, checked and borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    lists: u64,
    digests: u64,
    digest_bytes: &'a [u8],
    ends: &'a [u8],
    area: &'a [u8],
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// How many of the bits below `slot` are set.
fn rank(bits: u64, slot: u32) -> usize {
    (bits & ((1u64 << slot) - 1)).count_ones() as usize
}

/// Whether bit `slot` is set: never for a slot past a chunk's cases.
fn has(bits: u64, slot: u32) -> bool {
    i64::from(slot) < CASES_PER_CHUNK && bits >> slot & 1 == 1
}

impl<'a> Chunk<'a> {
    /// Reads a chunk's value: its header, digests and list bounds checked
    /// (the lists themselves are `hearing_list`'s to check).
    pub fn parse(bytes: &'a [u8]) -> Result<Chunk<'a>, ChunkError> {
        if bytes.len() < HEADER {
            return Err(ChunkError::Short(bytes.len(), HEADER));
        }
        let (lists, digests) = (u64_at(bytes, 0), u64_at(bytes, 8));
        if lists == 0 && digests == 0 {
            return Err(ChunkError::Empty);
        }
        let d = digests.count_ones() as usize * 8;
        let l = lists.count_ones() as usize * 4;
        let start = HEADER + d + l;
        if bytes.len() < start {
            return Err(ChunkError::Short(bytes.len(), start));
        }
        let chunk = Chunk {
            lists,
            digests,
            digest_bytes: &bytes[HEADER..HEADER + d],
            ends: &bytes[HEADER + d..start],
            area: &bytes[start..],
        };
        let mut from = 0;
        for i in 0..l / 4 {
            let end = u32_at(chunk.ends, i * 4);
            if end > chunk.area.len() {
                return Err(ChunkError::Past(i as u32, end, chunk.area.len()));
            }
            if end <= from {
                return Err(ChunkError::Ends(i as u32, end, from));
            }
            from = end;
        }
        if from != chunk.area.len() {
            return Err(ChunkError::Trailing(chunk.area.len() - from));
        }
        Ok(chunk)
    }

    /// The list of the chunk's case `slot` (0 to 63), if it has one.
    pub fn list(&self, slot: u32) -> Option<&'a [u8]> {
        self.list_range(slot).map(|r| &self.area[r])
    }

    /// Where in the lists' bytes the list of `slot` lies.
    fn list_range(&self, slot: u32) -> Option<std::ops::Range<usize>> {
        if !has(self.lists, slot) {
            return None;
        }
        let i = rank(self.lists, slot);
        let from = if i == 0 {
            0
        } else {
            u32_at(self.ends, (i - 1) * 4)
        };
        Some(from..u32_at(self.ends, i * 4))
    }

    /// Where the lists start in the value.
    fn area_start(&self) -> usize {
        HEADER + self.digest_bytes.len() + self.ends.len()
    }

    /// The digest of the chunk's case `slot`, if it has one.
    pub fn digest(&self, slot: u32) -> Option<u64> {
        has(self.digests, slot).then(|| u64_at(self.digest_bytes, rank(self.digests, slot) * 8))
    }

    /// The cases of this chunk, number `key`, with a list or a digest, in
    /// order: each case's id, list (empty if none) and digest.
    pub fn cases(&self, key: i64) -> impl Iterator<Item = (i64, &'a [u8], Option<u64>)> + '_ {
        self.slots().map(move |slot| {
            (
                case_of(key, slot),
                self.list(slot).unwrap_or_default(),
                self.digest(slot),
            )
        })
    }

    /// The slots that have a list or a digest, in order.
    pub fn slots(&self) -> impl Iterator<Item = u32> {
        let mut bits = self.lists | self.digests;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let slot = bits.trailing_zeros();
                bits &= bits - 1;
                slot
            })
        })
    }

    /// How many lists and how many digests it holds.
    pub fn counts(&self) -> (u32, u32) {
        (self.lists.count_ones(), self.digests.count_ones())
    }
}

/// Packs cases' lists and digests into chunks, case ids rising.
#[derive(Debug, Default)]
pub struct Builder {
    chunk: i64,
    /// The last case pushed.
    last: i64,
    lists: u64,
    digests: u64,
    digest_bytes: Vec<u8>,
    ends: Vec<u8>,
    area: Vec<u8>,
}

impl Builder {
    /// Adds case `id`'s list (empty: none) and digest. When `id` is past
    /// the chunk being packed, that chunk is finished first and returned
    /// (its number and value). Ids must rise.
    pub fn push(&mut self, id: i64, list: &[u8], digest: Option<u64>) -> Option<(i64, Vec<u8>)> {
        if list.is_empty() && digest.is_none() {
            return None;
        }
        // A list or digest is found by its place among its chunk's: out
        // of order, it would be another case's.
        assert!(id > self.last && id >= 1, "case ids must rise from 1");
        self.last = id;
        let chunk = chunk_of(id);
        let done = if chunk != self.chunk {
            let done = self.finish();
            self.chunk = chunk;
            done
        } else {
            None
        };
        let slot = (id - first_case(chunk)) as u32;
        if !list.is_empty() {
            self.lists |= 1 << slot;
            self.area.extend_from_slice(list);
            let end = u32::try_from(self.area.len()).expect("a chunk under 4 GiB");
            self.ends.extend_from_slice(&end.to_le_bytes());
        }
        if let Some(d) = digest {
            self.digests |= 1 << slot;
            self.digest_bytes.extend_from_slice(&d.to_le_bytes());
        }
        done
    }

    /// The chunk being packed, if it holds anything; the builder is then
    /// empty.
    pub fn finish(&mut self) -> Option<(i64, Vec<u8>)> {
        if self.lists == 0 && self.digests == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(
            HEADER + self.digest_bytes.len() + self.ends.len() + self.area.len(),
        );
        out.extend_from_slice(&self.lists.to_le_bytes());
        out.extend_from_slice(&self.digests.to_le_bytes());
        out.extend_from_slice(&self.digest_bytes);
        out.extend_from_slice(&self.ends);
        out.extend_from_slice(&self.area);
        self.lists = 0;
        self.digests = 0;
        self.digest_bytes.clear();
        self.ends.clear();
        self.area.clear();
        Some((self.chunk, out))
    }
}

/// Where a snapshot of some version keeps its lists and digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Versions 1 and 2: no lists (derived from the entries where needed).
    None,
    /// Version 3: `hearings`, no digests.
    Rows,
    /// Version 4: `hearings` and `extracted`.
    RowsAndDigests,
    /// Version 5: `hearing_chunks`.
    Chunks,
}

impl Layout {
    /// The layout of snapshot schema version `version`.
    pub fn of(version: i32) -> Layout {
        use crate::{
            SNAPSHOT_CHUNKS_VERSION as CHUNKS, SNAPSHOT_EXTRACTED_VERSION as EXTRACTED,
            SNAPSHOT_HEARINGS_VERSION as HEARINGS,
        };
        match version {
            v if v < HEARINGS => Layout::None,
            v if v < EXTRACTED => Layout::Rows,
            v if v < CHUNKS => Layout::RowsAndDigests,
            _ => Layout::Chunks,
        }
    }

    /// The layout of an open snapshot.
    pub fn read(conn: &Connection) -> rusqlite::Result<Layout> {
        Ok(Layout::of(crate::snapshot_version(conn)?))
    }

    /// Whether it keeps hearing lists at all.
    pub fn has_lists(self) -> bool {
        self != Layout::None
    }

    /// Whether it keeps what each case's list was worked out from.
    pub fn has_digests(self) -> bool {
        matches!(self, Layout::RowsAndDigests | Layout::Chunks)
    }

    /// A join that brings the stored value holding the list of the case
    /// whose id is `case` (an SQL expression) into a query, and the column
    /// that names it; [`Layout::list_in`] finds the list in it. `None` for
    /// a layout without lists.
    pub fn join(self, case: &str) -> Option<(String, &'static str)> {
        match self {
            Layout::None => None,
            Layout::Rows | Layout::RowsAndDigests => {
                Some((format!("JOIN hearings h ON h.case_id = {case}"), "h.list"))
            }
            Layout::Chunks => Some((
                format!("JOIN hearing_chunks h ON h.chunk = ({case} - 1) >> {CHUNK_SHIFT}"),
                "h.data",
            )),
        }
    }

    /// Case `id`'s list in `value`, what [`Layout::join`] brought (empty
    /// if the case has none).
    pub fn list_in(self, value: &[u8], id: i64) -> Result<&[u8], ChunkError> {
        match self {
            Layout::Chunks => {
                let chunk = Chunk::parse(value)?;
                Ok(chunk
                    .list((id - first_case(chunk_of(id))) as u32)
                    .unwrap_or_default())
            }
            _ => Ok(value),
        }
    }

    /// The hearings packed in `bytes`, a case's list: `None` if empty (a
    /// case without one), a conversion error of column `column` if it
    /// does not decode.
    fn decode(
        bytes: &[u8],
        column: usize,
    ) -> rusqlite::Result<Option<Vec<crate::hearing_list::Hearing>>> {
        if bytes.is_empty() {
            return Ok(None);
        }
        crate::hearing_list::decode(bytes)
            .map(Some)
            .map_err(|e| e.sql(column))
    }

    /// Case `id`'s hearings in `value`, what [`Layout::join`] brought in
    /// column `column`: `None` if it has no list. A value or a list that
    /// does not read is a conversion error of the column.
    pub fn hearings_in(
        self,
        value: &[u8],
        id: i64,
        column: usize,
    ) -> rusqlite::Result<Option<Vec<crate::hearing_list::Hearing>>> {
        Layout::decode(self.list_in(value, id).map_err(|e| e.sql(column))?, column)
    }

    /// Case `id`'s hearings (none if it has no list).
    pub fn hearings_of(
        self,
        conn: &Connection,
        id: i64,
    ) -> rusqlite::Result<Vec<crate::hearing_list::Hearing>> {
        Ok(Layout::decode(&self.list_of(conn, id)?, 0)?.unwrap_or_default())
    }

    /// Case `id`'s list, empty if it has none.
    pub fn list_of(self, conn: &Connection, id: i64) -> rusqlite::Result<Vec<u8>> {
        let sql = match self {
            Layout::None => return Ok(Vec::new()),
            Layout::Rows | Layout::RowsAndDigests => "SELECT list FROM hearings WHERE case_id = ?1",
            Layout::Chunks => "SELECT data FROM hearing_chunks WHERE chunk = ?1",
        };
        let key = if self == Layout::Chunks {
            chunk_of(id)
        } else {
            id
        };
        let value = conn
            .prepare_cached(sql)?
            .query_row([key], |r| {
                let v = r.get_ref(0)?.as_blob()?;
                self.list_in(v, id)
                    .map(<[u8]>::to_vec)
                    .map_err(|e| e.sql(0))
            })
            .optional()?;
        Ok(value.unwrap_or_default())
    }

    /// A query for the stored values of the cases with ids from `?1` to
    /// `?2`, in id order, for [`Cursor::new`]; `None` for a layout
    /// without lists.
    pub fn range_sql(self) -> Option<String> {
        match self {
            Layout::None => None,
            Layout::Rows | Layout::RowsAndDigests => Some(
                "SELECT case_id, list FROM hearings WHERE case_id BETWEEN ?1 AND ?2 ORDER BY case_id"
                    .into(),
            ),
            Layout::Chunks => Some(format!(
                "SELECT chunk, data FROM hearing_chunks \
                 WHERE chunk BETWEEN (?1 - 1) >> {CHUNK_SHIFT} AND (?2 - 1) >> {CHUNK_SHIFT} \
                 ORDER BY chunk"
            )),
        }
    }

    /// The digests of the cases with ids `lo` to `hi`, by case id.
    pub fn digests(self, conn: &Connection, lo: i64, hi: i64) -> rusqlite::Result<Vec<(i64, u64)>> {
        let mut out = Vec::new();
        match self {
            Layout::None | Layout::Rows => {}
            Layout::RowsAndDigests => {
                let mut stmt = conn.prepare(
                    "SELECT case_id, digest FROM extracted WHERE case_id BETWEEN ?1 AND ?2 ORDER BY case_id",
                )?;
                let mut rows = stmt.query([lo, hi])?;
                while let Some(row) = rows.next()? {
                    out.push((row.get(0)?, row.get::<_, i64>(1)? as u64));
                }
            }
            Layout::Chunks => {
                // Each chunk read in place, not copied. (SQLite reads a
                // chunk whole for its digests, and the import's copies from
                // the live snapshot then read it again for its lists: a
                // scan of every chunk is 0.05 CPU-s, docs/BENCHMARKS.md.)
                let mut stmt = conn.prepare(&self.range_sql().expect("chunks have a range"))?;
                let mut rows = stmt.query([lo, hi])?;
                while let Some(row) = rows.next()? {
                    let key: i64 = row.get(0)?;
                    let chunk = Chunk::parse(row.get_ref(1)?.as_blob()?)
                        .map_err(|e| ChunkOf(key, e).sql(1))?;
                    out.extend(chunk.cases(key).filter_map(|(id, _, digest)| {
                        digest.filter(|_| (lo..=hi).contains(&id)).map(|d| (id, d))
                    }));
                }
            }
        }
        Ok(out)
    }
}

/// The stored lists of a range of cases, in id order: the rows of
/// [`Layout::range_sql`], one case with a list at a time (a case with
/// only a digest has no hearings; digests are [`Layout::digests`]).
pub struct Cursor<'s> {
    layout: Layout,
    rows: Rows<'s>,
    lo: i64,
    hi: i64,
    /// The value of the row the cursor stands on.
    value: Vec<u8>,
    /// Its cases with a list still to give: each case's id and where its
    /// list lies in `value`.
    cases: Vec<(i64, std::ops::Range<usize>)>,
    next: usize,
}

impl<'s> Cursor<'s> {
    /// Over `rows`, the result of [`Layout::range_sql`] run with `lo` and
    /// `hi`.
    pub fn new(layout: Layout, rows: Rows<'s>, lo: i64, hi: i64) -> Cursor<'s> {
        Cursor {
            layout,
            rows,
            lo,
            hi,
            value: Vec::new(),
            cases: Vec::new(),
            next: 0,
        }
    }

    /// The next case with a list, and its list, or `None` after the last.
    pub fn next_list(&mut self) -> rusqlite::Result<Option<(i64, &[u8])>> {
        while self.next == self.cases.len() {
            let Some(row) = self.rows.next()? else {
                return Ok(None);
            };
            let key: i64 = row.get(0)?;
            self.value.clear();
            self.value.extend_from_slice(row.get_ref(1)?.as_blob()?);
            self.cases.clear();
            self.next = 0;
            if self.layout != Layout::Chunks {
                if !self.value.is_empty() {
                    self.cases.push((key, 0..self.value.len()));
                }
                continue;
            }
            let chunk = Chunk::parse(&self.value).map_err(|e| ChunkOf(key, e).sql(1))?;
            let at = chunk.area_start();
            for slot in chunk.slots() {
                let id = case_of(key, slot);
                if let Some(r) = chunk
                    .list_range(slot)
                    .filter(|_| (self.lo..=self.hi).contains(&id))
                {
                    self.cases.push((id, r.start + at..r.end + at));
                }
            }
        }
        self.next += 1;
        let (id, range) = self.cases[self.next - 1].clone();
        Ok(Some((id, &self.value[range])))
    }
}

/// A chunk's error with its number, as verification and readers report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hearing chunk {0}: {1}")]
pub struct ChunkOf(pub i64, pub ChunkError);

impl ChunkOf {
    fn sql(self, column: usize) -> rusqlite::Error {
        crate::blob_error(column, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A case's id, list and digest.
    type Case = (i64, Vec<u8>, Option<u64>);

    fn pack(cases: &[Case]) -> Vec<(i64, Vec<u8>)> {
        let mut b = Builder::default();
        let mut out: Vec<_> = cases
            .iter()
            .filter_map(|(id, l, d)| b.push(*id, l, *d))
            .collect();
        out.extend(b.finish());
        out
    }

    proptest! {
        /// Whatever cases hold, every chunk gives back each case's list
        /// and digest, and nothing for a case without.
        #[test]
        fn chunks_give_back_what_was_packed(
            cases in proptest::collection::btree_map(
                1i64..400,
                (proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(any::<u64>())),
                0..120,
            )
        ) {
            let cases: Vec<Case> =
                cases.into_iter().map(|(id, (l, d))| (id, l, d)).collect();
            let chunks = pack(&cases);
            let mut seen = Vec::new();
            for (k, value) in &chunks {
                let chunk = Chunk::parse(value).unwrap();
                for slot in 0..64u32 {
                    let id = first_case(*k) + i64::from(slot);
                    let want = cases.iter().find(|c| c.0 == id);
                    let got = (chunk.list(slot), chunk.digest(slot));
                    match want {
                        Some((_, l, d)) if !l.is_empty() || d.is_some() => {
                            prop_assert_eq!(got, ((!l.is_empty()).then_some(l.as_slice()), *d));
                            seen.push(id);
                        }
                        _ => prop_assert_eq!(got, (None, None)),
                    }
                    prop_assert_eq!(Layout::Chunks.list_in(value, id).unwrap(), got.0.unwrap_or_default());
                }
                prop_assert_eq!(
                    chunk.slots().map(|s| first_case(*k) + i64::from(s)).collect::<Vec<_>>(),
                    seen.iter().copied().filter(|id| chunk_of(*id) == *k).collect::<Vec<_>>()
                );
            }
            let kept: Vec<i64> = cases.iter().filter(|c| !c.1.is_empty() || c.2.is_some()).map(|c| c.0).collect();
            prop_assert_eq!(seen, kept);
        }
    }

    #[test]
    fn chunk_numbers_follow_case_ids_in_rust_and_in_sql() {
        assert_eq!((chunk_of(1), chunk_of(64), chunk_of(65)), (0, 0, 1));
        assert_eq!((first_case(0), first_case(1)), (1, 65));
        let conn = Connection::open_in_memory().unwrap();
        for id in [-65, -64, -1, 0, 1, 2, 63, 64, 65, 128, 129, i64::MAX] {
            let sql: i64 = conn
                .query_row(&format!("SELECT ({id} - 1) >> {CHUNK_SHIFT}"), [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(sql, chunk_of(id), "{id}");
        }
        // A slot past a chunk's cases has nothing.
        let value = pack(&[(1, vec![1], Some(2))]).remove(0).1;
        let chunk = Chunk::parse(&value).unwrap();
        assert_eq!(
            (chunk.list(0), chunk.digest(0)),
            (Some(&[1u8][..]), Some(2))
        );
        assert_eq!((chunk.list(64), chunk.digest(64)), (None, None));
        assert_eq!((chunk.list(u32::MAX), chunk.digest(200)), (None, None));
    }

    #[test]
    #[should_panic(expected = "case ids must rise")]
    fn a_case_out_of_order_is_not_packed() {
        let mut b = Builder::default();
        b.push(5, &[1], None);
        b.push(3, &[], Some(1));
    }

    /// A table of chunks for cases 1 to 300: every third case a list, every
    /// second a digest.
    fn stored() -> (Connection, Vec<Case>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE hearing_chunks (chunk INTEGER PRIMARY KEY, data BLOB NOT NULL)",
        )
        .unwrap();
        let cases: Vec<Case> = (1..=300)
            .map(|id: i64| {
                let list = if id % 3 == 0 {
                    vec![id as u8; 3]
                } else {
                    Vec::new()
                };
                (id, list, (id % 2 == 0).then_some(id as u64 * 1000))
            })
            .collect();
        for (k, value) in pack(&cases) {
            conn.execute(
                "INSERT INTO hearing_chunks VALUES (?1, ?2)",
                rusqlite::params![k, value],
            )
            .unwrap();
        }
        (conn, cases)
    }

    #[test]
    fn a_range_of_cases_is_read_whole_wherever_it_starts_and_ends() {
        let (conn, cases) = stored();
        let layout = Layout::Chunks;
        for (lo, hi) in [
            (1, 300),
            (1, 64),
            (64, 65),
            (60, 200),
            (129, 129),
            (250, 1000),
            (301, 400),
        ] {
            let want: Vec<&Case> = cases
                .iter()
                .filter(|c| (lo..=hi).contains(&c.0) && (!c.1.is_empty() || c.2.is_some()))
                .collect();
            let mut stmt = conn.prepare(&layout.range_sql().unwrap()).unwrap();
            let mut lists = Vec::new();
            let mut cursor = Cursor::new(layout, stmt.query([lo, hi]).unwrap(), lo, hi);
            while let Some((id, list)) = cursor.next_list().unwrap() {
                lists.push((id, list.to_vec()));
            }
            let want_lists: Vec<(i64, Vec<u8>)> = want
                .iter()
                .filter(|c| !c.1.is_empty())
                .map(|c| (c.0, c.1.clone()))
                .collect();
            assert_eq!(lists, want_lists, "{lo}..={hi}");
            let digests = layout.digests(&conn, lo, hi).unwrap();
            let want_digests: Vec<(i64, u64)> =
                want.iter().filter_map(|c| c.2.map(|d| (c.0, d))).collect();
            assert_eq!(digests, want_digests, "{lo}..={hi}");
        }
        // One case at a time, and through a join.
        for (id, list, _) in &cases {
            assert_eq!(&layout.list_of(&conn, *id).unwrap(), list, "{id}");
        }
        assert!(layout.list_of(&conn, 301).unwrap().is_empty());
        let (join, column) = layout.join("c.id").unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "WITH c(id) AS (VALUES (3), (4), (192), (193)) SELECT c.id, {column} FROM c {join}"
            ))
            .unwrap();
        let found: Vec<(i64, Vec<u8>)> = stmt
            .query_map([], |r| {
                let id: i64 = r.get(0)?;
                let v = r.get_ref(1)?.as_blob()?;
                Ok((id, layout.list_in(v, id).unwrap().to_vec()))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            found,
            [
                (3, vec![3; 3]),
                (4, vec![]),
                (192, vec![192; 3]),
                (193, vec![])
            ]
        );
    }

    #[test]
    fn a_damaged_chunk_is_refused_saying_how() {
        let value = pack(&[(1, vec![1, 2, 3], Some(7)), (3, vec![4], None)])
            .remove(0)
            .1;
        assert!(Chunk::parse(&value).is_ok());
        assert_eq!(
            Chunk::parse(&value[..10]).unwrap_err(),
            ChunkError::Short(10, 16)
        );
        // One byte short: the last list ends past the value.
        assert_eq!(
            Chunk::parse(&value[..value.len() - 1]).unwrap_err(),
            ChunkError::Past(1, 4, 3)
        );
        let mut longer = value.clone();
        longer.push(0);
        assert_eq!(Chunk::parse(&longer).unwrap_err(), ChunkError::Trailing(1));
        let mut empty_list = value.clone();
        // The first list's end made 0: an empty list.
        empty_list[24..28].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            Chunk::parse(&empty_list).unwrap_err(),
            ChunkError::Ends(0, 0, 0)
        );
        assert_eq!(Chunk::parse(&[0; 16]).unwrap_err(), ChunkError::Empty);
        // A header naming more digests than the value holds.
        let mut more = value;
        more[8] = 0xff;
        assert!(matches!(Chunk::parse(&more), Err(ChunkError::Short(..))));
    }
}
