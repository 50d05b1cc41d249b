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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension};

use schemas::date::from_int;
use schemas::{CaseKey, CaseRef};

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
    pub schema_version: i32,
    pool: Mutex<Vec<Connection>>,
    /// A query met SQLite's corruption errors: check the file now.
    suspect: AtomicBool,
}

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
            schema_version: schemas::SNAPSHOT_SCHEMA_VERSION,
            pool: Mutex::new(pool),
            suspect: AtomicBool::new(false),
        })
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
        )
    }

    /// The queryable cases `owner_column` = `owner` selects through `from`.
    fn list(&self, from: &str, owner_column: &str, owner: &str) -> Result<Vec<CaseRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM {from} JOIN courts co ON co.code = c.court
                 WHERE {owner_column} = ?1 AND c.queryable = 1
                 ORDER BY c.court, c.category, c.year, c.word, c.number"
            ))?;
            let rows = st.query_map([owner], CaseRow::from_row)?;
            rows.collect()
        })
    }

    /// One case, only if it is queryable and granted to `email`: any other
    /// case is indistinguishable from one that does not exist.
    pub fn case_of(&self, email: &str, case: &CaseRef) -> Result<Option<CaseRow>, Error> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases c
                 JOIN grants g ON g.case_id = c.id AND g.email = ?6
                 JOIN courts co ON co.code = c.court
                 WHERE c.court = ?1 AND c.category = ?2 AND c.year = ?3 AND c.word = ?4
                   AND c.number = ?5 AND c.queryable = 1"
            ))?
            .query_row(
                rusqlite::params![
                    case.court,
                    case.key.category,
                    case.key.year,
                    case.key.word,
                    case.key.number,
                    email
                ],
                CaseRow::from_row,
            )
            .optional()
        })
    }

    /// The queryable cases a prosecutor (MOJ single sign-on account) is
    /// assigned to: the model's room for prosecutors, whose sign-in is a
    /// later issue.
    pub fn cases_of_prosecutor(&self, account: &str) -> Result<Vec<CaseRow>, Error> {
        self.list(
            "prosecutors p JOIN cases c ON c.id = p.case_id",
            "p.account",
            account,
        )
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

const CASE_COLUMNS: &str = "c.court, co.name, c.category, c.year, c.word, c.number, c.division,
    c.status, c.status_date, co.as_of, co.carried_over,
    c.posted1, c.text1, c.posted2, c.text2, c.posted3, c.text3";

/// A case row as the snapshot has it (dates still YYYYMMDD).
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub case: CaseRef,
    pub court_name: String,
    pub division: String,
    pub status: String,
    pub status_date: Option<NaiveDate>,
    pub as_of: Option<NaiveDate>,
    pub carried_over: bool,
    /// The latest three entries, newest first: (posted, text).
    pub entries: Vec<(NaiveDate, String)>,
}

impl CaseRow {
    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<CaseRow> {
        let mut entries = Vec::with_capacity(3);
        for i in 0..3 {
            let posted: Option<i64> = r.get(11 + 2 * i)?;
            let text: Option<String> = r.get(12 + 2 * i)?;
            if let (Some(p), Some(t)) = (posted.and_then(from_int), text) {
                entries.push((p, t));
            }
        }
        Ok(CaseRow {
            case: CaseRef {
                court: r.get(0)?,
                key: CaseKey {
                    category: r.get(2)?,
                    year: r.get(3)?,
                    word: r.get(4)?,
                    number: r.get(5)?,
                },
            },
            court_name: r.get(1)?,
            division: r.get(6)?,
            status: r.get(7)?,
            status_date: r.get::<_, Option<i64>>(8)?.and_then(from_int),
            as_of: r.get::<_, Option<i64>>(9)?.and_then(from_int),
            carried_over: r.get::<_, i64>(10)? == 1,
            entries,
        })
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
            Some(file) => self.store.verify(&file).map_err(|e| e.to_string()),
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
        let path = self.store.snapshots_dir().join(&name);
        let opened = match self.store.by_name(&name) {
            Some(file) => self
                .store
                .verify(&file)
                .map_err(|e| e.to_string())
                .and_then(|()| Snap::open(&path).map_err(|e| e.to_string())),
            None => Snap::open(&path).map_err(|e| e.to_string()),
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
