//! Building a snapshot file: tables from `schemas`, courts appended in code
//! order (cases in key order) inside one transaction, indexes after the
//! load, then verification.
//!
//! The file is a private temp file until published, so durability settings
//! are off while loading (no journal, no syncs); the publish step fsyncs it
//! before anyone can see it.

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;
use rusqlite::{params, Connection};
use schemas::{
    SNAPSHOT_APPLICATION_ID, SNAPSHOT_INDEXES, SNAPSHOT_SCHEMA_VERSION, SNAPSHOT_TABLES,
};

use crate::model::{CourtData, EntryData};
use schemas::date::{compact, datetime_to_int, to_int};
use schemas::{hearing_list, hearing_store};
use store::failpoint::pause;

/// Row counts of a snapshot's tables (entries: non-empty entry slots).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub courts: u64,
    pub cases: u64,
    pub entries: u64,
    pub grants: u64,
    pub prosecutors: u64,
    /// Hearing records, and the cases with any (their lists).
    pub hearings: u64,
    pub hearing_lists: u64,
    /// Digests: the cases whose hearings were worked out (or copied)
    /// tonight.
    pub extracted: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("writing the snapshot to disk: {0}")]
    Flush(std::io::Error),
}

/// How long the last steps took, for the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct FinishTimes {
    pub indexes_ms: u64,
    pub verify_ms: u64,
}

const INSERT_CASE: &str = "INSERT INTO cases (id, court, category, year, word, number, division, status,
     status_date, queryable, seq1, posted1, text1, modified1, seq2, posted2, text2, modified2,
     seq3, posted3, text3, modified3)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)";

/// A row of 64 cases' hearing lists and digests (`schemas::hearing_store`).
const INSERT_CHUNK: &str = "INSERT INTO hearing_chunks (chunk, data) VALUES (?1, ?2)";

fn text(e: Option<&EntryData>) -> Option<&str> {
    e.map(|e| e.text.as_str())
}

/// A snapshot being built. Courts must be added in code order.
pub struct Builder {
    conn: Connection,
    next_id: i64,
    counts: Counts,
    /// The cases' hearing lists and digests, packed 64 cases to a row
    /// (`schemas::hearing_store`); a chunk may span two courts.
    chunks: hearing_store::Builder,
    /// The ids of the cases whose hearings correct what calendars took
    /// from the live snapshot (`CaseData::hearings_corrected`).
    corrected: Vec<i64>,
    /// Its grants by the day a clerk approved them (`meta`
    /// `grants_by_day`, for `cpor-server stats`).
    approved: std::collections::BTreeMap<chrono::NaiveDate, u64>,
    /// The file name of the snapshot its lists were carried on from
    /// (empty: none), which `corrected` is against, when that is not the
    /// live snapshot this one replaces; `None`: not said (it is, or a build
    /// without hearings, or a test's).
    carried_from: Option<String>,
    /// The cases left out of the night, kept for the next night's
    /// comparison only (`CaseData::as_of`): their ids and the
    /// export date of their data.
    carried_cases: Vec<(i64, NaiveDate)>,
    /// Time spent inserting rows, for the report.
    pub insert_ms: u64,
}

/// The prefix of a meta key naming a court published without, off the
/// site since the date its value gives (YYYYMMDD): `court_left_off:HLD`.
pub const LEFT_OFF_KEY: &str = "court_left_off:";

impl Builder {
    /// Creates the file with its schema and opens the load transaction.
    pub fn create(path: &Path, batch_date: NaiveDate) -> Result<Builder, WriteError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA cache_size = -262144;",
        )?;
        conn.pragma_update(None, "application_id", SNAPSHOT_APPLICATION_ID)?;
        conn.pragma_update(None, "user_version", SNAPSHOT_SCHEMA_VERSION)?;
        conn.execute_batch(SNAPSHOT_TABLES)?;
        conn.execute_batch("BEGIN")?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('batch_date', ?1), ('schema_version', ?2),
             ('hearing_rules', ?3)",
            params![
                compact(batch_date),
                SNAPSHOT_SCHEMA_VERSION.to_string(),
                crate::hearings::RULES.to_string()
            ],
        )?;
        Ok(Builder {
            conn,
            next_id: 1,
            counts: Counts::default(),
            chunks: hearing_store::Builder::default(),
            corrected: Vec::new(),
            approved: std::collections::BTreeMap::new(),
            carried_from: None,
            carried_cases: Vec::new(),
            insert_ms: 0,
        })
    }

    /// Appends one court: its row, its cases (already in key order) with
    /// their entries, grants, prosecutors and hearings.
    pub fn add_court(&mut self, court: &CourtData) -> Result<(), WriteError> {
        let started = Instant::now();
        self.insert_court(court)?;
        self.insert_ms += started.elapsed().as_millis() as u64;
        Ok(())
    }

    fn insert_court(&mut self, court: &CourtData) -> Result<(), WriteError> {
        let conn = &self.conn;
        conn.prepare_cached("INSERT INTO courts (code, name, as_of, carried_over, carry_reason) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![
                court.code,
                court.name,
                to_int(court.as_of),
                court.carry_reason.is_some(),
                court.carry_reason
            ])?;
        self.counts.courts += 1;
        let mut case_stmt = conn.prepare_cached(INSERT_CASE)?;
        let mut grant_stmt = conn.prepare_cached(
            "INSERT INTO grants (case_id, email, role, approved) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut prosecutor_stmt =
            conn.prepare_cached("INSERT INTO prosecutors (case_id, account) VALUES (?1, ?2)")?;
        let mut chunk_stmt = conn.prepare_cached(INSERT_CHUNK)?;
        for case in &court.cases {
            let id = self.next_id;
            self.next_id += 1;
            let e = |i: usize| case.entries.get(i);
            let seq = |e: Option<&EntryData>| e.map(|e| e.seq);
            let posted = |e: Option<&EntryData>| e.map(|e| to_int(e.posted));
            let modified = |e: Option<&EntryData>| e.map(|e| datetime_to_int(e.modified));
            case_stmt.execute(params![
                id,
                court.code,
                case.key.category,
                case.key.year,
                case.key.word,
                case.key.number,
                case.division,
                case.status,
                case.status_date.map(to_int),
                case.queryable,
                seq(e(0)),
                posted(e(0)),
                text(e(0)),
                modified(e(0)),
                seq(e(1)),
                posted(e(1)),
                text(e(1)),
                modified(e(1)),
                seq(e(2)),
                posted(e(2)),
                text(e(2)),
                modified(e(2)),
            ])?;
            for g in &case.grants {
                grant_stmt.execute(params![id, g.email, g.role, to_int(g.approved)])?;
                *self.approved.entry(g.approved).or_default() += 1;
            }
            for p in &case.prosecutors {
                prosecutor_stmt.execute(params![id, p])?;
            }
            if let Some((chunk, data)) = self.chunks.push(id, case.hearings.bytes(), case.extracted)
            {
                chunk_stmt.execute(params![chunk, data])?;
            }
            if case.hearings_corrected {
                self.corrected.push(id);
            }
            if let Some(as_of) = case.as_of {
                self.carried_cases.push((id, as_of));
            }
            self.counts.hearing_lists += u64::from(!case.hearings.is_empty());
            self.counts.extracted += u64::from(case.extracted.is_some());
            self.counts.cases += 1;
            self.counts.entries += case.entries.len() as u64;
            self.counts.grants += case.grants.len() as u64;
            self.counts.prosecutors += case.prosecutors.len() as u64;
            self.counts.hearings += case.hearings.len() as u64;
        }
        Ok(())
    }

    /// Records that `code`'s court is off the site, published without
    /// since `since` (`--publish-without`): the nights after say so until
    /// it is imported again ([`LEFT_OFF_KEY`]).
    pub fn left_off(&mut self, code: &str, since: NaiveDate) -> Result<(), WriteError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![format!("{LEFT_OFF_KEY}{code}"), compact(since)],
        )?;
        Ok(())
    }

    /// Names the snapshot the lists were carried on from (its file name;
    /// `None`: none), which the cases marked corrected are against, when
    /// it is not the live one this snapshot replaces. Not said by default:
    /// the mail stage then takes the marks as they are.
    pub fn carried_from(&mut self, name: Option<String>) {
        self.carried_from = Some(name.unwrap_or_default());
    }

    /// Courts added so far.
    pub fn courts(&self) -> u64 {
        self.counts.courts
    }

    /// Commits the load, builds the indexes, closes the file and verifies
    /// it.
    pub fn finish(self, path: &Path, threads: usize) -> Result<(Counts, FinishTimes), WriteError> {
        let (counts, indexes_ms) = self.complete(path, threads)?;
        let started = Instant::now();
        verify(path, counts)?;
        let verify_ms = started.elapsed().as_millis() as u64;
        Ok((
            counts,
            FinishTimes {
                indexes_ms,
                verify_ms,
            },
        ))
    }

    /// Commits the load, builds the indexes and closes the file: what is
    /// left is `verify` (and sealing, which may run beside it). Returns
    /// the counts and how long the indexes took.
    ///
    /// The committed pages go to the disk while the indexes are built (one
    /// core sorting, the disk otherwise idle), so the fsync before publishing
    /// has only the indexes' pages left to write. An error from that early
    /// fsync fails the build: a failed write-back may not be reported twice,
    /// and the later fsync could then succeed over pages that were lost.
    pub fn complete(mut self, path: &Path, threads: usize) -> Result<(Counts, u64), WriteError> {
        if let Some((chunk, data)) = self.chunks.finish() {
            self.conn.execute(INSERT_CHUNK, params![chunk, data])?;
        }
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('hearings_corrected', ?1)",
            [hearing_store::write_ids(&self.corrected)],
        )?;
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            [
                schemas::case::GRANTS_BY_DAY_KEY,
                &schemas::case::write_grants_by_day(&self.approved),
            ],
        )?;
        if let Some(from) = &self.carried_from {
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('hearings_corrected_from', ?1)",
                [from],
            )?;
        }
        if !self.carried_cases.is_empty() {
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                [
                    schemas::case::CARRIED_CASES_KEY,
                    &schemas::case::write_carried_cases(&self.carried_cases),
                ],
            )?;
        }
        pause("before-commit");
        self.conn.execute_batch("COMMIT")?;
        let started = Instant::now();
        let conn = &self.conn;
        let (flushed, indexed) = std::thread::scope(|scope| {
            let flushing = scope.spawn(|| std::fs::File::open(path)?.sync_data());
            let indexed = (|| -> Result<(), rusqlite::Error> {
                // Helper threads for the sorter that builds each index.
                conn.pragma_update(None, "threads", threads.saturating_sub(1) as i64)?;
                conn.execute_batch(SNAPSHOT_INDEXES)?;
                // Statistics for the query planner; a bounded sample is
                // enough for point lookups and keeps this step cheap.
                conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE;")
            })();
            let flushed = flushing
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the early fsync panicked")));
            (flushed, indexed)
        });
        indexed?;
        flushed.map_err(WriteError::Flush)?;
        let indexes_ms = started.elapsed().as_millis() as u64;
        self.conn.close().map_err(|(_, e)| e)?;
        Ok((self.counts, indexes_ms))
    }
}

/// Checks the file before it may be published: SQLite's integrity check of
/// every table and its indexes (tables in parallel, each on its own
/// read-only connection), no free pages (a fresh build has none, and the
/// per-table checks do not account for pages), the foreign keys, and that
/// every table holds what was meant for it.
pub fn verify(path: &Path, expected: Counts) -> Result<(), WriteError> {
    use rayon::prelude::*;
    let open = || -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.pragma_update(None, "mmap_size", 1i64 << 40)?;
        Ok(conn)
    };
    let one =
        |sql: &str| -> Result<i64, rusqlite::Error> { open()?.query_row(sql, [], |r| r.get(0)) };
    // Each check on its own connection, as many at once as there are
    // threads; the biggest first.
    let checks: [&(dyn Fn() -> Result<Option<String>, rusqlite::Error> + Sync); 8] = [
        &|| integrity(&open()?, "grants"),
        &|| integrity(&open()?, "hearing_chunks"),
        // Every chunk reads, its cases are cases, every hearing list
        // decodes, and the lists, the hearings in them and the digests are
        // those written (checked as decoding checks, nothing copied;
        // counted in the same scan).
        &|| hearing_chunks(&open()?, expected),
        &|| integrity(&open()?, "cases"),
        &|| foreign_keys(&open()?, expected.cases),
        &|| {
            // `foreign_keys` counts on `cases` being held to its count here.
            let found = Counts {
                courts: one("SELECT count(*) FROM courts")? as u64,
                cases: one("SELECT count(*) FROM cases")? as u64,
                entries: one("SELECT count(seq1) + count(seq2) + count(seq3) FROM cases")? as u64,
                grants: one("SELECT count(*) FROM grants")? as u64,
                prosecutors: one("SELECT count(*) FROM prosecutors")? as u64,
                // Counted where every chunk is read (`hearing_chunks`).
                hearings: expected.hearings,
                hearing_lists: expected.hearing_lists,
                extracted: expected.extracted,
            };
            Ok((found != expected)
                .then(|| format!("table counts {found:?}, expected {expected:?}")))
        },
        &|| {
            let conn = open()?;
            for table in ["prosecutors", "courts", "meta"] {
                if let Some(problem) = integrity(&conn, table)? {
                    return Ok(Some(problem));
                }
            }
            Ok(None)
        },
        &|| {
            let free = one("PRAGMA freelist_count")?;
            Ok((free != 0).then(|| format!("{free} free pages in a fresh build")))
        },
    ];
    let problems: Vec<String> = checks
        .par_iter()
        .map(|check| check())
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(WriteError::Verify(problems.join("; ")))
    }
}

/// Every foreign key holds (SQLite's check), and the case ids run `1` to
/// `cases` (a build numbers them so; the table counts check holds `cases`
/// rows to the same count, so the ids are exactly those), which
/// [`hearing_chunks`] counts on for the chunks' cases.
fn foreign_keys(conn: &Connection, cases: u64) -> Result<Option<String>, rusqlite::Error> {
    let last = cases as i64;
    let ids: (Option<i64>, Option<i64>) =
        conn.query_row("SELECT min(id), max(id) FROM cases", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    if ids != ((cases > 0).then_some(1), (cases > 0).then_some(last)) {
        let show = |id: Option<i64>| id.map_or("none".to_string(), |id| id.to_string());
        return Ok(Some(format!(
            "foreign keys: case ids run {} to {}, expected 1 to {last}",
            show(ids.0),
            show(ids.1)
        )));
    }
    let n: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    Ok((n != 0).then(|| format!("foreign keys: {n} rows refer to nothing")))
}

/// Every chunk of hearing lists and digests reads, names only cases that
/// are there (ids `1` to `expected.cases`, as [`foreign_keys`] checks),
/// every list decodes, and the lists, their hearings and the digests are
/// as many as were written.
fn hearing_chunks(conn: &Connection, expected: Counts) -> Result<Option<String>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT chunk, data FROM hearing_chunks ORDER BY chunk")?;
    let mut rows = stmt.query([])?;
    let (mut lists, mut found, mut digests) = (0u64, 0u64, 0u64);
    let last = expected.cases as i64;
    while let Some(row) = rows.next()? {
        let key: i64 = row.get(0)?;
        let chunk = match hearing_store::Chunk::parse(row.get_ref(1)?.as_blob()?) {
            Ok(chunk) => chunk,
            Err(e) => return Ok(Some(hearing_store::ChunkOf(key, e).to_string())),
        };
        for (case, list, _) in chunk.cases(key) {
            // Below 1 only past its CHECK (which `integrity_check` reports
            // too); past the last case, a list of a case not there.
            if case < 1 || case > last {
                return Ok(Some(format!(
                    "hearing chunk {key}: case {case}, outside the case ids 1 to {last}"
                )));
            }
            if !list.is_empty() {
                match hearing_list::count(list) {
                    Ok(n) => (lists, found) = (lists + 1, found + n as u64),
                    Err(e) => return Ok(Some(format!("case {case}: {e}"))),
                }
            }
        }
        digests += u64::from(chunk.counts().1);
    }
    Ok(((lists, found, digests)
        != (
            expected.hearing_lists,
            expected.hearings,
            expected.extracted,
        ))
        .then(|| {
            format!(
                "{lists} hearing lists holding {found} hearings and {digests} digests, \
                     expected {} holding {} and {}",
                expected.hearing_lists, expected.hearings, expected.extracted
            )
        }))
}

fn integrity(conn: &Connection, table: &str) -> Result<Option<String>, rusqlite::Error> {
    let result: String = conn.query_row(&format!("PRAGMA integrity_check({table})"), [], |r| {
        r.get(0)
    })?;
    Ok((result != "ok").then(|| format!("integrity_check({table}): {result}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::CaseKey;
    use crate::model::{CaseData, GrantData, HearingData, HearingList};
    use schemas::hearing::State;

    fn court(cases: u32) -> CourtData {
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        CourtData {
            code: "TPD".into(),
            name: "臺灣臺北地方法院".into(),
            as_of: day,
            carry_reason: None,
            cases: (1..=cases)
                .map(|n| CaseData {
                    key: CaseKey {
                        category: "民事".into(),
                        year: 115,
                        word: "訴".into(),
                        number: n,
                    },
                    division: "忠".into(),
                    status: "審理中".into(),
                    status_date: None,
                    queryable: true,
                    entries: vec![EntryData {
                        seq: 1,
                        posted: day,
                        text: "準備程序".repeat(20),
                        modified: day.and_hms_opt(9, 0, 0).unwrap(),
                    }],
                    grants: vec![GrantData {
                        email: format!("p{n}@example.com"),
                        role: "原告".into(),
                        approved: day,
                    }],
                    prosecutors: (n % 10 == 0).then(|| format!("P{n}")).into_iter().collect(),
                    hearings: HearingList::pack(&[HearingData {
                        seq: 1,
                        posted: day,
                        origin: schemas::hearing_list::Origin {
                            kind: "言詞辯論",
                            seq: 1,
                            part: 0,
                        },
                        sequence: 0,
                        at: (day + chrono::Days::new(7)).and_hms_opt(10, 0, 0).unwrap(),
                        courtroom: Some("第一法庭".into()),
                        kind: "言詞辯論",
                        state: State::Scheduled,
                        by: None,
                    }])
                    .unwrap(),
                    // Every other case's digest: a carried case has none.
                    extracted: (n % 2 == 1).then_some(u64::MAX - u64::from(n)),
                    hearings_corrected: false,
                    as_of: None,
                })
                .collect(),
        }
    }

    fn build(path: &Path) -> Counts {
        let mut b = Builder::create(path, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).unwrap();
        b.add_court(&court(3000)).unwrap();
        b.finish(path, 2).unwrap().0
    }

    #[test]
    fn a_built_snapshot_verifies_and_counts_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let counts = build(&path);
        assert_eq!(
            (counts.cases, counts.entries, counts.grants, counts.hearings),
            (3000, 3000, 3000, 3000)
        );
        verify(&path, counts).unwrap();
        let wrong = Counts {
            grants: 2999,
            ..counts
        };
        let err = verify(&path, wrong).unwrap_err().to_string();
        assert!(err.contains("table counts"), "{err}");
        assert_eq!(counts.hearing_lists, 3000);
        let fewer = Counts {
            hearings: 2999,
            ..counts
        };
        let err = verify(&path, fewer).unwrap_err().to_string();
        assert!(
            err.contains(
                "3000 hearing lists holding 3000 hearings and 1500 digests, \
                 expected 3000 holding 2999 and 1500"
            ),
            "{err}"
        );
        let more_lists = Counts {
            hearing_lists: 3001,
            ..counts
        };
        let err = verify(&path, more_lists).unwrap_err().to_string();
        assert!(err.contains("expected 3001 holding 3000"), "{err}");
        // The digests, all 64 bits of them, as written, and the lists.
        assert_eq!(counts.extracted, 1500);
        let conn = Connection::open(&path).unwrap();
        let layout = hearing_store::Layout::read(&conn).unwrap();
        let digests = layout.digests(&conn, 1, 3000).unwrap();
        assert_eq!(digests.len(), 1500);
        assert_eq!(digests[0], (1, u64::MAX - 1));
        assert_eq!(digests[1499], (2999, u64::MAX - 2999));
        for id in [1, 64, 65, 3000] {
            assert_eq!(
                layout.list_of(&conn, id).unwrap(),
                court(3000).cases[0].hearings.bytes()
            );
        }
        assert!(layout.list_of(&conn, 3001).unwrap().is_empty());
        let more = Counts {
            extracted: 1501,
            ..counts
        };
        let err = verify(&path, more).unwrap_err().to_string();
        assert!(
            err.contains("and 1500 digests, expected 3000 holding 3000 and 1501"),
            "{err}"
        );
    }

    #[test]
    fn a_hearing_list_that_does_not_decode_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let counts = build(&path);
        // Chunk 0 again, case 5's list made two bytes that do not decode.
        let conn = Connection::open(&path).unwrap();
        let data: Vec<u8> = conn
            .query_row("SELECT data FROM hearing_chunks WHERE chunk = 0", [], |r| {
                r.get(0)
            })
            .unwrap();
        let chunk = hearing_store::Chunk::parse(&data).unwrap();
        let mut b = hearing_store::Builder::default();
        for slot in chunk.slots() {
            let list = if slot == 4 {
                &[1u8, 1][..]
            } else {
                chunk.list(slot).unwrap_or_default()
            };
            assert!(b
                .push(i64::from(slot) + 1, list, chunk.digest(slot))
                .is_none());
        }
        let (_, damaged) = b.finish().unwrap();
        conn.execute(
            "UPDATE hearing_chunks SET data = ?1 WHERE chunk = 0",
            [damaged],
        )
        .unwrap();
        drop(conn);
        let err = verify(&path, counts).unwrap_err().to_string();
        assert!(
            err.contains("case 5: hearing list: ends inside record 0"),
            "{err}"
        );
    }

    #[test]
    fn a_row_of_a_case_that_is_not_there_fails_verification() {
        // Each table that refers to a case or a court, given a row that
        // refers to none, with the counts as expected: only the foreign
        // keys (and, for the hearing chunks, which have none, the chunks'
        // own check) can tell.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let counts = build(&path);
        let pristine = std::fs::read(&path).unwrap();
        for damage in [
            "UPDATE grants SET case_id = 3001 WHERE case_id = 3000",
            "UPDATE grants SET case_id = 0 WHERE case_id = 1",
            // Between 1 and n but no case's id: an ordinary INTEGER column
            // keeps a REAL, which integrity_check accepts.
            "UPDATE grants SET case_id = 2.5 WHERE case_id = 2",
            "UPDATE prosecutors SET case_id = '10' || 'x' WHERE case_id = 10",
            "UPDATE prosecutors SET case_id = 4000 WHERE case_id = 10",
            // A case moved to another id: the ids are no longer 1..=3000,
            // and its grant points at nothing.
            "UPDATE cases SET id = 3005 WHERE id = 2999",
            "UPDATE cases SET court = 'XXX' WHERE id = 7",
        ] {
            std::fs::write(&path, &pristine).unwrap();
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
            assert_eq!(conn.execute(damage, []).unwrap(), 1, "{damage}");
            drop(conn);
            let err = verify(&path, counts).unwrap_err().to_string();
            assert!(err.contains("foreign key"), "{damage}: {err}");
        }
        // A chunk of hearing lists moved past the last case or before the
        // first (3000 cases fill chunks 0 to 46), or one that does not
        // read.
        for (damage, says) in [
            (
                "UPDATE hearing_chunks SET chunk = 47 WHERE chunk = 46",
                "hearing chunk 47: case 3009, outside the case ids 1 to 3000",
            ),
            (
                "UPDATE hearing_chunks SET data = zeroblob(16) WHERE chunk = 3",
                "hearing chunk 3: it names no list and no digest",
            ),
            // Before the first case, past the table's CHECK.
            (
                "UPDATE hearing_chunks SET chunk = -1 WHERE chunk = 0",
                "hearing chunk -1: case -63, outside the case ids 1 to 3000",
            ),
        ] {
            std::fs::write(&path, &pristine).unwrap();
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA ignore_check_constraints = ON")
                .unwrap();
            assert_eq!(conn.execute(damage, []).unwrap(), 1, "{damage}");
            drop(conn);
            let err = verify(&path, counts).unwrap_err().to_string();
            assert!(err.contains(says), "{damage}: {err}");
        }
        std::fs::write(&path, &pristine).unwrap();
        verify(&path, counts).unwrap();
    }

    #[test]
    fn a_damaged_file_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let counts = build(&path);
        // Zero a page in the middle of the file: b-tree pages of the tables
        // and their indexes live there.
        let mut bytes = std::fs::read(&path).unwrap();
        let page = 4096;
        let middle = bytes.len() / page / 2 * page;
        bytes[middle..middle + page].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let err = verify(&path, counts).unwrap_err().to_string();
        assert!(
            err.contains("integrity_check") || err.contains("malformed"),
            "{err}"
        );
    }
}
