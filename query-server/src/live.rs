//! The live snapshot: the file `<data>/CURRENT` names, open read-only, and
//! followed as imports publish new ones.
//!
//! Requests take an `Arc` of the snapshot that is live when they start and
//! keep it to the end, so a swap never fails a request: the old file stays
//! open (even once an import's retention deletes it) until the last request
//! on it is done. A snapshot whose schema this build does not know is
//! refused by `schemas::open_snapshot_readonly`: the server keeps the old
//! one and logs an error on every check until CURRENT changes.
//!
//! Nothing is served from a file that fails its checksum (recorded when it
//! was published, `store::Store::verify`): it is checked before it is
//! opened, the live one again every `snapshot_check`, and at once when a
//! query meets SQLite's "database disk image is malformed". A damaged live
//! snapshot stops being served (pages answer 503, `/healthz` says why)
//! rather than show anyone damaged data.
//!
//! Every snapshot schema version this build reads is served (the live one
//! until the first import after an upgrade): hearings are read through
//! `schemas::hearing_store`, whatever the version, and a version 1 or 2
//! snapshot simply has none to show.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

use schemas::date::from_int;
use schemas::hearing::State;
use schemas::hearing_list;
use schemas::hearing_store::Layout;
use schemas::CaseRef;

/// Why a snapshot could not be opened or read. The text names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Open(schemas::OpenError),
    #[error("{path}: {error}")]
    BatchDateUnreadable {
        path: String,
        error: rusqlite::Error,
    },
    #[error("{path}: batch_date `{value}`")]
    BatchDate { path: String, value: String },
    #[error("{snapshot}: {error}")]
    Query {
        snapshot: String,
        error: rusqlite::Error,
    },
}

// By hand, not `#[from]`: the text already holds the cause, and a source
// would print it twice in a chain.
impl From<schemas::OpenError> for Error {
    fn from(e: schemas::OpenError) -> Error {
        Error::Open(e)
    }
}

/// One open snapshot with a pool of read-only connections.
pub struct Snap {
    /// The file's name, e.g. `20261124-1.sqlite`.
    pub name: String,
    pub path: PathBuf,
    /// The batch date it was built from.
    pub date: NaiveDate,
    /// Its schema version (`schemas::SNAPSHOT_READABLE_VERSIONS`).
    pub schema_version: i32,
    /// When it was built: the file's last write (it is read-only once
    /// sealed), else the start of its batch date. What is made from it
    /// alone, the calendar feed, is stamped with it (DTSTAMP), so that it
    /// stays the same until the next snapshot.
    pub built: DateTime<Utc>,
    /// The cases left out of their court's files that night (a rejected
    /// row), whose previous version the snapshot keeps only for the next
    /// night's comparison (`schemas::case::carried_cases`): never shown.
    /// The contract builds a night's snapshot from its batch alone.
    left_out: BTreeSet<i64>,
    pool: Mutex<Vec<Connection>>,
    /// The kept earlier snapshots, newest first (at most `GONE_LOOKBACK`),
    /// opened the first time a page asks which cases left a list
    /// ([`Snap::gone_of`], [`Snap::gone_case_of`]) and kept with this one:
    /// a request never opens files.
    earlier: std::sync::OnceLock<Mutex<Vec<Connection>>>,
    /// A query met SQLite's corruption errors: check the file now.
    suspect: AtomicBool,
}

/// A case's key as the snapshots' `cases` columns hold it.
type Key = (String, String, i64, String, i64);

/// Whether the newest of `earlier` (newest first) that holds the case `k`
/// as queryable grants it to `email` (a snapshot that cannot be read is
/// passed over; none holding it: no).
fn granted_when_it_left(earlier: &[Connection], k: &Key, email: &str) -> bool {
    let (court, category, year, word, number) = k;
    earlier
        .iter()
        .find_map(|conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM grants g WHERE g.case_id = c.id AND g.email = ?6)
                 FROM cases c
                 WHERE c.court = ?1 AND c.category = ?2 AND c.year = ?3
                   AND c.word = ?4 AND c.number = ?5 AND c.queryable = 1",
            )
            .and_then(|mut st| {
                st.query_row(
                    rusqlite::params![court, category, year, word, number, email],
                    |r| r.get::<_, bool>(0),
                )
            })
            .ok()
        })
        .unwrap_or(false)
}

/// How many kept earlier snapshots an empty list of cases looks through
/// for the cases that left it.
const GONE_LOOKBACK: usize = 7;

/// Connections opened with a snapshot, so a request rarely opens one (and
/// never has to after retention deleted the file).
const POOL: usize = 16;

impl Snap {
    pub fn open(path: &Path) -> Result<Snap, Error> {
        let first = schemas::open_snapshot_readonly(path)?;
        let date: String = first
            .query_row("SELECT value FROM meta WHERE key = 'batch_date'", [], |r| {
                r.get(0)
            })
            .map_err(|error| Error::BatchDateUnreadable {
                path: path.display().to_string(),
                error,
            })?;
        let date = schemas::date::parse_batch_date(&date).ok_or_else(|| Error::BatchDate {
            path: path.display().to_string(),
            value: date,
        })?;
        let query = |error| Error::Query {
            snapshot: path.display().to_string(),
            error,
        };
        let schema_version = schemas::snapshot_version(&first).map_err(query)?;
        let left_out = schemas::case::carried_cases(&first)
            .map_err(query)?
            .into_keys()
            .collect();
        let built = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .unwrap_or_else(|_| date.and_time(chrono::NaiveTime::MIN).and_utc());
        let mut pool = vec![first];
        for _ in 1..POOL {
            pool.push(schemas::open_snapshot_readonly(path)?);
        }
        Ok(Snap {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: path.to_path_buf(),
            date,
            schema_version,
            built,
            left_out,
            pool: Mutex::new(pool),
            earlier: std::sync::OnceLock::new(),
            suspect: AtomicBool::new(false),
        })
    }

    /// The kept earlier snapshots (`Snap::earlier`), opened once.
    fn earlier(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.earlier
            .get_or_init(|| {
                let Some(root) = self.path.parent().and_then(Path::parent) else {
                    return Mutex::new(Vec::new());
                };
                let mut paths: Vec<PathBuf> = store::Store::new(root)
                    .kept()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| f.path)
                    .filter(|p| p.file_name() != self.path.file_name())
                    .collect();
                paths.reverse();
                Mutex::new(
                    paths
                        .iter()
                        .take(GONE_LOOKBACK)
                        .filter_map(|p| schemas::open_snapshot_readonly(p).ok())
                        .collect(),
                )
            })
            .lock()
            .expect("earlier snapshots")
    }

    /// `r`, unless its case was left out of the night (kept only for the
    /// next night's comparison): then none, as if it were not there.
    fn shown(&self, r: CaseRow) -> Option<CaseRow> {
        (!self.left_out.contains(&r.id)).then_some(r)
    }

    /// Runs `f` on a pooled connection.
    pub fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, Error> {
        let conn = self.pool.lock().expect("pool").pop();
        let conn = match conn {
            Some(c) => c,
            None => schemas::open_snapshot_readonly(&self.path)?,
        };
        let out = f(&conn).map_err(|error| {
            if matches!(
                error.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ) {
                self.suspect.store(true, Ordering::Relaxed);
            }
            Error::Query {
                snapshot: self.name.clone(),
                error,
            }
        });
        let mut pool = self.pool.lock().expect("pool");
        if pool.len() < POOL * 4 {
            pool.push(conn);
        }
        out
    }

    /// The queryable cases granted to `email`, in key order.
    pub fn cases_of(&self, email: &str) -> Result<Vec<CaseRow>, Error> {
        self.list(
            "grants g JOIN cases c ON c.id = g.case_id",
            "g.email",
            email,
            true,
        )
    }

    /// The cases of `email` that are no longer queryable (two months past
    /// 上訴, 抗告, 移送執行 or 歸檔): what an empty list of cases names. The
    /// live snapshot keeps no grant of such a case, so the kept earlier
    /// snapshots (newest first, at most `GONE_LOOKBACK`) say which cases
    /// the address had; those the live snapshot holds as not queryable are
    /// the ones that left. A case is named only if the newest of those
    /// snapshots that holds it as queryable grants it to the address: a
    /// grant revoked before the case left (a clerk's mistake, someone
    /// else's case) is not named. A snapshot that cannot be read is passed
    /// over. Only snapshots named as the import names them are read (a
    /// copy put beside them by hand is not), in date and build order; they
    /// are not verified against their checksums (a whole file's SHA-256
    /// each, on a page's request): a damaged one can at worst name a case
    /// as gone, never show its data.
    pub fn gone_of(&self, email: &str) -> Result<Vec<CaseRow>, Error> {
        let earlier = self.earlier();
        let mut keys: Vec<Key> = Vec::new();
        let mut seen = BTreeSet::new();
        for conn in earlier.iter() {
            let found: rusqlite::Result<Vec<Key>> = conn
                .prepare_cached(
                    "SELECT c.court, c.category, c.year, c.word, c.number
                     FROM grants g JOIN cases c ON c.id = g.case_id WHERE g.email = ?1",
                )
                .and_then(|mut st| {
                    st.query_map([email], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect()
                });
            for k in found.unwrap_or_default() {
                if seen.insert(k.clone()) {
                    keys.push(k);
                }
            }
        }
        keys.retain(|k| granted_when_it_left(&earlier, k, email));
        drop(earlier);
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases c JOIN courts co ON co.code = c.court
                 WHERE c.court = ?1 AND c.category = ?2 AND c.year = ?3 AND c.word = ?4
                   AND c.number = ?5 AND c.queryable = 0"
            ))?;
            let mut out = Vec::new();
            for (court, category, year, word, number) in &keys {
                let rows = st.query_map(
                    rusqlite::params![court, category, year, word, number],
                    CaseRow::from_row,
                )?;
                for row in rows {
                    out.push(row?);
                }
            }
            out.sort_by_key(|r: &CaseRow| r.case.id());
            Ok(out)
        })
        .map(|rows| rows.into_iter().filter_map(|r| self.shown(r)).collect())
    }

    /// The cases `owner_column` = `owner` selects through `from`, queryable
    /// or not.
    fn list(
        &self,
        from: &str,
        owner_column: &str,
        owner: &str,
        queryable: bool,
    ) -> Result<Vec<CaseRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM {from} JOIN courts co ON co.code = c.court
                 WHERE {owner_column} = ?1 AND c.queryable = {}
                 ORDER BY c.court, c.category, c.year, c.word, c.number",
                i32::from(queryable)
            ))?;
            let rows = st.query_map([owner], CaseRow::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .map(|rows| rows.into_iter().filter_map(|r| self.shown(r)).collect())
    }

    /// `case`, if it is `email`'s and has left the queryable range: in
    /// the live snapshot, not queryable, and granted to the address by the
    /// newest kept earlier snapshot that holds it queryable, as
    /// [`Snap::gone_of`] names it. A few indexed look-ups on connections
    /// kept open, only for a case the live snapshot holds not queryable:
    /// little to tell by, or to make the server do, for a case not the
    /// reader's. Once no kept snapshot remembers the grant
    /// (`import.keep_snapshots` nights), it is none.
    pub fn gone_case_of(&self, email: &str, case: &CaseRef) -> Result<Option<CaseRow>, Error> {
        let row = self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases c JOIN courts co ON co.code = c.court
                 WHERE c.court = ?1 AND c.category = ?2 AND c.year = ?3 AND c.word = ?4
                   AND c.number = ?5 AND c.queryable = 0"
            ))?
            .query_row(
                rusqlite::params![
                    case.court,
                    case.key.category,
                    case.key.year,
                    case.key.word,
                    case.key.number
                ],
                CaseRow::from_row,
            )
            .optional()
        })?;
        let Some(row) = row.and_then(|r| self.shown(r)) else {
            return Ok(None);
        };
        let key: Key = (
            case.court.clone(),
            case.key.category.clone(),
            i64::from(case.key.year),
            case.key.word.clone(),
            i64::from(case.key.number),
        );
        Ok(granted_when_it_left(&self.earlier(), &key, email).then_some(row))
    }

    /// One case, only if it is queryable and granted to `email`: any other
    /// case is indistinguishable from one that does not exist (but one of
    /// the address's that left the queryable range:
    /// [`Snap::gone_case_of`]).
    pub fn case_of(&self, email: &str, case: &CaseRef) -> Result<Option<CaseRow>, Error> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases c
                 JOIN grants g ON g.case_id = c.id AND g.email = ?6
                 JOIN courts co ON co.code = c.court
                 WHERE {WHERE_KEY}"
            ))?
            .query_row(
                rusqlite::params_from_iter(key_params(case, &email)),
                CaseRow::from_row,
            )
            .optional()
        })
        .map(|row| row.and_then(|r| self.shown(r)))
    }

    /// The queryable cases a prosecutor (MOJ single sign-on account) is
    /// assigned to, in key order: a signed-in prosecutor's list.
    pub fn cases_of_prosecutor(&self, account: &str) -> Result<Vec<CaseRow>, Error> {
        self.list(
            "prosecutors p JOIN cases c ON c.id = p.case_id",
            "p.account",
            account,
            true,
        )
    }

    /// One case, only if it is queryable and assigned to the prosecutor
    /// `account`: any other case is indistinguishable from one that does
    /// not exist (as `case_of` for an address).
    pub fn case_of_prosecutor(
        &self,
        account: &str,
        case: &CaseRef,
    ) -> Result<Option<CaseRow>, Error> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases c
                 JOIN prosecutors p ON p.case_id = c.id AND p.account = ?6
                 JOIN courts co ON co.code = c.court
                 WHERE {WHERE_KEY}"
            ))?
            .query_row(
                rusqlite::params_from_iter(key_params(case, &account)),
                CaseRow::from_row,
            )
            .optional()
        })
        .map(|row| row.and_then(|r| self.shown(r)))
    }

    /// Whether the export names `account` as the prosecutor of any case
    /// (queryable or not): who may sign in through the single sign-on.
    /// A case left out of the night names no one (its assignment may be
    /// among the rows rejected).
    pub fn knows_prosecutor(&self, account: &str) -> Result<bool, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT case_id FROM prosecutors WHERE account = ?1")?;
            let mut rows = st.query([account])?;
            while let Some(r) = rows.next()? {
                if !self.left_out.contains(&r.get::<_, i64>(0)?) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Every hearing of the case `row`, as its entries give them (the
    /// moved and cancelled ones too), by the 序號 of the entry that schedules
    /// each. It does not ask who wants to know: `row` is what the caller's
    /// authorised, queryable-only look-up found (`case_of` for an address,
    /// `case_of_prosecutor` for a prosecutor), as on every case page. Every
    /// case of a version 1 snapshot has none.
    pub fn hearings_of(&self, row: &CaseRow) -> Result<Vec<HearingRow>, Error> {
        let layout = Layout::of(self.schema_version);
        if !layout.has_lists() {
            return Ok(Vec::new());
        }
        self.with(|c| {
            // By the id the case's own query found: one look-up by rowid
            // (the case's, or its chunk's).
            Ok(layout
                .hearings_of(c, row.id)?
                .into_iter()
                .map(|h| HearingRow::new(h, &row.case))
                .collect())
        })
    }

    /// The hearings to come of the queryable cases granted to `email`: each
    /// hearing's current row (the greatest `sequence` of its UID) that
    /// starts at or after `from` (Asia/Taipei), in time order. Cancelled,
    /// moved-without-a-date and uncertain ones are included, marked by
    /// their state: a reminder skips them, a calendar cancels them.
    pub fn upcoming_hearings_for(
        &self,
        email: &str,
        from: NaiveDateTime,
    ) -> Result<Vec<UpcomingHearing>, Error> {
        self.upcoming(
            "grants g JOIN cases c ON c.id = g.case_id",
            "g.email",
            email,
            from,
        )
    }

    /// The same for a prosecutor (MOJ single sign-on account), through the
    /// cases assigned to them.
    pub fn upcoming_hearings_for_prosecutor(
        &self,
        account: &str,
        from: NaiveDateTime,
    ) -> Result<Vec<UpcomingHearing>, Error> {
        self.upcoming(
            "prosecutors p JOIN cases c ON c.id = p.case_id",
            "p.account",
            account,
            from,
        )
    }

    fn upcoming(
        &self,
        from_cases: &str,
        owner_column: &str,
        owner: &str,
        from: NaiveDateTime,
    ) -> Result<Vec<UpcomingHearing>, Error> {
        let layout = Layout::of(self.schema_version);
        let Some((join, list)) = layout.join("c.id") else {
            return Ok(Vec::new());
        };
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {list}, c.court, co.name, c.category, c.year, c.word, c.number, c.id,
                 co.as_of, co.carried_over
                 FROM {from_cases}
                 JOIN courts co ON co.code = c.court
                 {join}
                 WHERE {owner_column} = ?1 AND c.queryable = 1"
            ))?;
            let mut out = Vec::new();
            let mut rows = st.query([owner])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(7)?;
                // (before its list is read)
                if self.left_out.contains(&id) {
                    continue;
                }
                let Some(list) = layout.hearings_in(r.get_ref(0)?.as_blob()?, id, 0)? else {
                    continue;
                };
                let case = CaseRef::from_row(r, 1, 3)?;
                let court_name: String = r.get(2)?;
                let as_of = r.get::<_, Option<i64>>(8)?.and_then(from_int);
                let carried_over = r.get::<_, i64>(9)? == 1;
                for h in hearing_list::current(&list).filter(|h| h.at >= from) {
                    out.push(UpcomingHearing {
                        hearing: HearingRow::new(h.clone(), &case),
                        case: case.clone(),
                        court_name: court_name.clone(),
                        as_of,
                        carried_over,
                    });
                }
            }
            out.sort_by(|a, b| {
                (a.hearing.at, &a.case, a.hearing.seq).cmp(&(b.hearing.at, &b.case, b.hearing.seq))
            });
            Ok(out)
        })
    }

    /// Grants approved per day (YYYYMMDD), for `stats`.
    pub fn grants_per_day(&self) -> Result<Vec<(i64, u64)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT approved, count(*) FROM grants GROUP BY approved ORDER BY approved",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        })
    }
}

/// A queryable case by its key: parameters ?1 to ?5, [`key_params`].
const WHERE_KEY: &str = "c.court = ?1 AND c.category = ?2 AND c.year = ?3 AND c.word = ?4
    AND c.number = ?5 AND c.queryable = 1";

/// The parameters of [`WHERE_KEY`], then `more` as ?6 (who asks).
fn key_params<'a>(
    case: &'a CaseRef,
    more: &'a dyn rusqlite::ToSql,
) -> impl Iterator<Item = &'a dyn rusqlite::ToSql> {
    let key: [&'a dyn rusqlite::ToSql; 5] = [
        &case.court,
        &case.key.category,
        &case.key.year,
        &case.key.word,
        &case.key.number,
    ];
    key.into_iter().chain(std::iter::once(more))
}

const CASE_COLUMNS: &str = "c.court, co.name, c.category, c.year, c.word, c.number, c.division,
    c.status, c.status_date, co.as_of, co.carried_over,
    c.posted1, c.text1, c.posted2, c.text2, c.posted3, c.text3, c.id,
    c.modified1, c.modified2, c.modified3";

/// A case row as the snapshot has it (dates still YYYYMMDD).
#[derive(Debug, Clone)]
pub struct CaseRow {
    /// The snapshot's `cases.id` (this snapshot's only).
    pub id: i64,
    pub case: CaseRef,
    pub court_name: String,
    pub division: String,
    pub status: String,
    pub status_date: Option<NaiveDate>,
    pub as_of: Option<NaiveDate>,
    pub carried_over: bool,
    /// The latest three entries, newest first.
    pub entries: Vec<EntryRow>,
    /// The latest 異動時間 of those entries (YYYYMMDDHHMMSS, Taipei).
    pub changed: Option<i64>,
}

/// One of a case's latest three entries (進行事項).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    /// 登載日期.
    pub posted: NaiveDate,
    pub text: String,
    /// Its standing version's 異動時間 (YYYYMMDDHHMMSS, Taipei): later
    /// than its day when a clerk rewrote it or wrote it late.
    pub modified: Option<i64>,
}

impl CaseRow {
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<CaseRow> {
        // (`None` is below every `Some`: the greatest 異動時間 there is)
        let mut changed = None;
        for i in 18..=20 {
            changed = changed.max(r.get::<_, Option<i64>>(i)?);
        }
        let mut entries = Vec::with_capacity(3);
        for i in 0..3 {
            let posted: Option<i64> = r.get(11 + 2 * i)?;
            let text: Option<String> = r.get(12 + 2 * i)?;
            if let (Some(posted), Some(text)) = (posted.and_then(from_int), text) {
                let modified = r.get(18 + i)?;
                entries.push(EntryRow {
                    posted,
                    text,
                    modified,
                });
            }
        }
        Ok(CaseRow {
            id: r.get(17)?,
            case: CaseRef::from_row(r, 0, 2)?,
            court_name: r.get(1)?,
            division: r.get(6)?,
            status: r.get(7)?,
            status_date: r.get::<_, Option<i64>>(8)?.and_then(from_int),
            as_of: r.get::<_, Option<i64>>(9)?.and_then(from_int),
            carried_over: r.get::<_, i64>(10)? == 1,
            entries,
            changed,
        })
    }
}

/// A hearing as the snapshot has it (a record of its case's `hearings`
/// list, `schemas::hearing_list`; docs/HEARINGS.md): the entry that
/// schedules it, its calendar identity, when and where, and what later
/// entries did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HearingRow {
    /// The entry (序號, 登載日期) that schedules it.
    pub seq: u32,
    pub posted: NaiveDate,
    /// The calendar UID: the same for every date a hearing is moved to.
    pub uid: String,
    /// The calendar SEQUENCE as of this row; a UID's row with the greatest
    /// one is the hearing as it now stands.
    pub sequence: u32,
    /// Asia/Taipei local time.
    pub at: NaiveDateTime,
    pub courtroom: Option<String>,
    pub kind: String,
    pub state: State,
    /// The later entry (序號, 登載日期) that moved or cancelled it, or made it
    /// uncertain.
    pub by: Option<(u32, NaiveDate)>,
}

/// A hearing to come, with its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcomingHearing {
    pub case: CaseRef,
    pub court_name: String,
    pub hearing: HearingRow,
    /// The export date of the court's data, and whether it was carried
    /// over from an earlier night (its data did not arrive): a hearing it
    /// lists may have been moved since.
    pub as_of: Option<NaiveDate>,
    pub carried_over: bool,
}

impl HearingRow {
    /// A record of the list of `case`, with its UID.
    fn new(h: hearing_list::Hearing, case: &CaseRef) -> HearingRow {
        HearingRow {
            uid: h.uid(&case.court, &case.key),
            seq: h.seq,
            posted: h.posted,
            sequence: h.sequence,
            at: h.at,
            courtroom: h.courtroom,
            kind: h.kind.to_string(),
            state: h.state,
            by: h.by,
        }
    }
}

const RETRY_REFUSED: Duration = Duration::from_secs(60);

/// A snapshot CURRENT names that is not served, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub name: String,
    pub reason: String,
    at: Instant,
}

/// The live snapshot, swapped atomically.
pub struct Live {
    store: store::Store,
    current: ArcSwapOption<Snap>,
    /// The last name CURRENT gave that was refused, why, and when: it is
    /// tried (and the refusal logged) again once a minute, not at every poll.
    refused: Mutex<Option<Refused>>,
    /// When the live snapshot's content was last checked.
    checked: Mutex<Instant>,
}

impl Live {
    pub fn new(data_dir: &Path) -> Live {
        Live {
            store: store::Store::new(data_dir),
            current: ArcSwapOption::empty(),
            refused: Mutex::new(None),
            checked: Mutex::new(Instant::now()),
        }
    }

    pub fn get(&self) -> Option<Arc<Snap>> {
        self.current.load_full()
    }

    /// The snapshot CURRENT names, if it is refused (damaged, unknown
    /// schema), and why.
    pub fn refused(&self) -> Option<Refused> {
        self.refused.lock().expect("refused").clone()
    }

    /// Checks the live snapshot's content again if `every` has passed or a
    /// query met corruption; a damaged one stops being served. Returns
    /// whether it was found damaged.
    pub fn recheck(&self, every: Duration) -> bool {
        let Some(snap) = self.get() else {
            return false;
        };
        let suspect = snap.suspect.swap(false, Ordering::Relaxed);
        {
            let mut checked = self.checked.lock().expect("checked");
            if !suspect && checked.elapsed() < every {
                return false;
            }
            *checked = Instant::now();
        }
        let verified = match self.store.by_name(&snap.name) {
            Some(file) => self.store.verify(&file).map_err(damaged),
            None => Err(format!(
                "{} is no longer in {}",
                snap.name,
                self.store.snapshots_dir().display()
            )),
        };
        match verified {
            Ok(()) => false,
            // Retention may have removed a file that is no longer live:
            // only the one CURRENT names matters.
            Err(_) if self.current_name().as_deref() != Some(snap.name.as_str()) => false,
            Err(reason) => {
                tracing::error!("STOPPED serving snapshot {}: {reason}", snap.name);
                self.current.store(None);
                *self.refused.lock().expect("refused") = Some(Refused {
                    name: snap.name.clone(),
                    reason,
                    at: Instant::now(),
                });
                true
            }
        }
    }

    fn current_name(&self) -> Option<String> {
        std::fs::read_to_string(self.store.root.join("CURRENT"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Looks at CURRENT and switches to the snapshot it names, if new and
    /// usable. Returns whether it switched.
    pub fn refresh(&self) -> bool {
        let Some(name) = self.current_name() else {
            return false;
        };
        if self.get().is_some_and(|s| s.name == name) {
            return false;
        }
        if let Some(r) = &*self.refused.lock().expect("refused") {
            if r.name == name && r.at.elapsed() < RETRY_REFUSED {
                return false;
            }
        }
        // Only a name the import writes has a checksum to verify: any
        // other (a copy put in place by hand) is refused, never opened.
        let opened = match self.store.by_name(&name) {
            Some(file) => self
                .store
                .verify(&file)
                .map_err(damaged)
                .and_then(|()| Snap::open(&file.path).map_err(|e| e.to_string())),
            None => Err(format!(
                "`{name}` is not a snapshot the import wrote (`<YYYYMMDD>-<build>.sqlite`, \
                 with its checksum beside it), so it cannot be verified. {}",
                store::layout::REPLACE_DAMAGED
            )),
        };
        match opened {
            Ok(snap) => {
                tracing::info!("serving snapshot {} (batch {})", snap.name, snap.date);
                self.current.store(Some(Arc::new(snap)));
                *self.refused.lock().expect("refused") = None;
                *self.checked.lock().expect("checked") = Instant::now();
                true
            }
            Err(reason) => {
                let still = self.get().map_or("nothing".into(), |s| s.name.clone());
                tracing::error!(
                    "REFUSED snapshot {name} named by CURRENT: {reason}; still serving {still}"
                );
                *self.refused.lock().expect("refused") = Some(Refused {
                    name,
                    reason,
                    at: Instant::now(),
                });
                false
            }
        }
    }
}

/// A damaged snapshot's reason, as `/healthz` and the log give it: what is
/// wrong, and what an operator does about it.
fn damaged(e: store::layout::Damaged) -> String {
    format!("{e}. {}", store::layout::REPLACE_DAMAGED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etl::model::{CaseData, CourtData, GrantData, HearingData, HearingList};
    use etl::snapshot::write::Builder;
    use schemas::CaseKey;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn key() -> CaseKey {
        CaseKey {
            category: "民事".into(),
            year: 115,
            word: "重訴".into(),
            number: 77,
        }
    }

    /// A record of the hearing first announced by entry `origin`.
    fn hearing(seq: u32, origin: u32, sequence: u32, when: &str, state: State) -> HearingData {
        HearingData {
            seq,
            posted: day(),
            origin: hearing_list::Origin {
                kind: "言詞辯論",
                seq: origin,
                part: 0,
            },
            sequence,
            at: at(when),
            courtroom: Some("第十二法庭".into()),
            kind: "言詞辯論",
            state,
            by: (state != State::Scheduled).then(|| (seq + 2, day())),
        }
    }

    /// A snapshot with one case: a hearing moved (two rows of one UID),
    /// one to come, one past, one cancelled.
    fn snapshot(dir: &Path) -> PathBuf {
        snapshot_with(dir, None)
    }

    /// The same, the case left out of the night, its version kept from a
    /// snapshot of `as_of`.
    fn snapshot_with(dir: &Path, as_of: Option<NaiveDate>) -> PathBuf {
        let path = dir.join("20261124-1.sqlite");
        let case = CaseData {
            key: key(),
            division: "禮股".into(),
            status: "審理中".into(),
            status_date: None,
            queryable: true,
            entries: Vec::new(),
            grants: vec![GrantData {
                email: "a@example.com".into(),
                role: "原告".into(),
                approved: day(),
            }],
            prosecutors: vec!["chen.wm".into()],
            hearings: HearingList::pack(&[
                hearing(2, 2, 0, "2026-04-10 10:00", State::Scheduled),
                hearing(5, 5, 0, "2026-12-03 10:30", State::Moved),
                hearing(7, 5, 1, "2026-12-01 10:30", State::Scheduled),
                hearing(8, 8, 0, "2026-11-25 14:00", State::Scheduled),
                hearing(9, 9, 1, "2026-11-27 14:00", State::Cancelled),
            ])
            .unwrap(),
            extracted: None,
            hearings_corrected: false,
            as_of,
        };
        let mut b = Builder::create(&path, day()).unwrap();
        b.add_court(&CourtData {
            code: "TPD".into(),
            name: "臺灣臺北地方法院".into(),
            as_of: day(),
            carry_reason: None,
            cases: vec![case],
        })
        .unwrap();
        b.finish(&path, 1).unwrap();
        path
    }

    fn case() -> CaseRef {
        CaseRef {
            court: "TPD".into(),
            key: key(),
        }
    }

    /// A case left out of its court's files for a night (a rejected row)
    /// keeps its previous version in the snapshot for the next night's
    /// comparison only (`meta.cases_carried_over`): the contract builds a
    /// night from its batch alone, so the site shows it nowhere, by no way
    /// of reading it (a grant a clerk revoked among its rejected rows must
    /// not go on working).
    #[test]
    fn a_case_left_out_of_the_night_is_shown_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let before = day().pred_opt().unwrap();
        let snap = Snap::open(&snapshot_with(dir.path(), Some(before))).unwrap();
        let from = day().and_hms_opt(0, 0, 0).unwrap();
        assert!(snap.case_of("a@example.com", &case()).unwrap().is_none());
        assert!(snap.cases_of("a@example.com").unwrap().is_empty());
        assert!(snap
            .case_of_prosecutor("chen.wm", &case())
            .unwrap()
            .is_none());
        assert!(snap.cases_of_prosecutor("chen.wm").unwrap().is_empty());
        assert!(
            !snap.knows_prosecutor("chen.wm").unwrap(),
            "no one to sign in"
        );
        assert!(snap
            .upcoming_hearings_for("a@example.com", from)
            .unwrap()
            .is_empty());
        assert!(snap
            .upcoming_hearings_for_prosecutor("chen.wm", from)
            .unwrap()
            .is_empty());
        // The same case, not left out: shown.
        let dir = tempfile::tempdir().unwrap();
        let snap = Snap::open(&snapshot(dir.path())).unwrap();
        assert!(snap.case_of("a@example.com", &case()).unwrap().is_some());
        assert!(!snap
            .upcoming_hearings_for("a@example.com", from)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_cases_hearings_and_the_ones_to_come_of_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let snap = Snap::open(&snapshot(dir.path())).unwrap();
        assert_eq!(snap.schema_version, schemas::SNAPSHOT_SCHEMA_VERSION);
        let row = snap.case_of("a@example.com", &case()).unwrap().unwrap();
        let all = snap.hearings_of(&row).unwrap();
        let seqs: Vec<u32> = all.iter().map(|h| h.seq).collect();
        assert_eq!(seqs, [2, 5, 7, 8, 9]);
        // A moved hearing's dates share the UID of the entry that first
        // announced it.
        assert_eq!(all[1].uid, all[2].uid);
        assert_ne!(all[0].uid, all[1].uid);
        assert_eq!(
            all[2].uid,
            hearing_list::uid(
                "TPD",
                &key(),
                hearing_list::Origin {
                    kind: "言詞辯論",
                    seq: 5,
                    part: 0,
                },
            )
        );
        assert_eq!(all[1].state, State::Moved);
        assert_eq!(all[1].by, Some((7, day())));
        assert_eq!(all[2].at, at("2026-12-01 10:30"));

        // From the night of 115/11/24 on: the moved row is not the hearing
        // any more (its UID's row 7 is), the past one is past.
        let from = day().and_hms_opt(0, 0, 0).unwrap();
        let upcoming = snap.upcoming_hearings_for("a@example.com", from).unwrap();
        let got: Vec<(u32, State)> = upcoming
            .iter()
            .map(|u| (u.hearing.seq, u.hearing.state))
            .collect();
        assert_eq!(
            got,
            [
                (8, State::Scheduled),
                (9, State::Cancelled),
                (7, State::Scheduled)
            ]
        );
        assert_eq!(upcoming[0].case, case());
        assert_eq!(upcoming[0].court_name, "臺灣臺北地方法院");
        assert!(snap
            .upcoming_hearings_for("b@example.com", from)
            .unwrap()
            .is_empty());
        assert_eq!(
            snap.upcoming_hearings_for_prosecutor("chen.wm", from)
                .unwrap(),
            upcoming
        );
        let later = at("2026-11-28 00:00");
        assert_eq!(
            snap.upcoming_hearings_for("a@example.com", later)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_version_1_snapshot_is_served_without_hearings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("20261123-1.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schemas::SNAPSHOT_V1_TABLES).unwrap();
        conn.execute_batch(schemas::SNAPSHOT_V1_INDEXES).unwrap();
        conn.execute_batch("INSERT INTO meta VALUES ('batch_date', '20261123')")
            .unwrap();
        conn.pragma_update(None, "application_id", schemas::SNAPSHOT_APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let snap = Snap::open(&path).unwrap();
        assert_eq!(snap.schema_version, 1);
        let row = CaseRow {
            id: 1,
            case: case(),
            court_name: "臺灣臺北地方法院".into(),
            division: String::new(),
            status: String::new(),
            status_date: None,
            as_of: None,
            carried_over: false,
            entries: Vec::new(),
            changed: None,
        };
        assert!(snap.hearings_of(&row).unwrap().is_empty());
        let from = day().and_hms_opt(0, 0, 0).unwrap();
        assert!(snap
            .upcoming_hearings_for("a@example.com", from)
            .unwrap()
            .is_empty());
    }
}
