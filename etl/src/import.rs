//! `cpor-etl import`: one nightly batch in, one published snapshot out.
//!
//! `run` calls the stages in order, each a function below: open the data
//! directory (the batch is complete, the lock, stale files, the live
//! snapshot) → plan the batch (manifest against the directory, EUDC.csv) →
//! the court pipeline (per court, in parallel: read and hash, decode and
//! apply the rules; meanwhile the writer appends every court in code order,
//! tonight's or carried over from the live snapshot) → build the snapshot in
//! a temp file and verify it → publish → mail → retention → report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use indicatif::ProgressBar;
use rayon::ThreadPool;
use schemas::contract;

use crate::batch::{self, BatchError, BatchPlan, CourtPlan};
use crate::config::{Config, ImportConfig};
use crate::court::{self, import_court, too_many_rejects, CourtImport, CourtStats};
use crate::decode::{load_eudc, Decoder};
use crate::kinds::CaseKey;
use crate::model::CourtData;
use crate::report::{CarriedStats, CourtReport, CourtStatus, Outcome, Report, Timing};
use crate::rules::within_cutoff;
use crate::snapshot::read::{self, Snapshot};
use crate::snapshot::write::{Builder, Counts};
use crate::ui::Ui;
use mail::MailSettings;
use schemas::date::{compact, roc};
use store::failpoint::pause;
use store::layout::{Lock, Sealed, SnapshotFile, Store};

/// Exit codes of `cpor-etl import` (also in `--help` and the README).
pub mod exit {
    pub const PUBLISHED: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const NOT_PUBLISHED: i32 = 2;
    pub const CARRIED_OVER: i32 = 3;
    pub const LOCKED: i32 = 5;
    /// `import`: published, but the flood guard held the night's digests:
    /// release them or leave them, before the next night's import gives
    /// them up (docs/OPERATIONS.md, "Held digests").
    pub const DIGESTS_HELD: i32 = 7;
    /// `send`: mail was due and none of it could be delivered (the relay
    /// unreachable or refusing): it waits to be retried.
    pub const NOT_DELIVERED: i32 = 6;
}

/// How far a run has come, for whoever must say so when it is stopped
/// (`cpor-etl import` on SIGTERM). Publishing holds the lock: a stop waits
/// for it, so that what it says holds.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Stage>>);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stage {
    #[default]
    Building,
    /// The snapshot published, by name; its mail not queued yet.
    Published(String),
    /// Published, and its mail queued (or mail is off: none to queue).
    Queued(String),
}

impl Progress {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Stage> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub batch_dir: PathBuf,
    pub force: bool,
    /// Courts imported whatever they lost since the night before
    /// (`--accept-shrink`).
    pub accept_shrink: BTreeSet<String>,
    /// Courts the night may be published without when they can be neither
    /// imported nor carried over (`--publish-without`).
    pub publish_without: BTreeSet<String>,
    /// Where the run says how far it has come.
    pub progress: Progress,
    /// Check only (`--check`): everything up to publishing, then the
    /// snapshot discarded; no mail queued, not even an earlier night's.
    pub check: bool,
}

/// Why an import stopped before publishing, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Locked(#[from] store::layout::LockError),
    #[error("batch {batch} is older than the live snapshot {live}; nothing imported. {way_back}--force imports it anyway, without mailing its news")]
    Older {
        batch: String,
        live: String,
        /// The rollback that lets the batch in, if the live night was
        /// published by mistake (misdated), with a separator; or nothing.
        way_back: String,
    },
    #[error("batch {batch} is dated after today ({today} in Taipei): a batch is named by its export date; nothing imported (check the batch's name; --force imports it anyway)")]
    Future { batch: String, today: String },
    /// The import waited for the lock, and the run it waited for
    /// published this very night: nothing to do (exit 0).
    #[error("night {night} was published by the run this one waited for ({holder}): {live} is live; nothing imported again (run the import again to publish another build of the night)")]
    PublishedMeanwhile {
        night: String,
        holder: String,
        live: String,
    },
    /// Mail would be made without the configuration that made it before
    /// (`mail::send::check_configured`): nothing published.
    #[error("nothing imported: {0}")]
    Unconfigured(#[source] mail::send::SendError),
    #[error("{0}")]
    Internal(String),
}

impl ImportError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ImportError::Batch(BatchError::Incomplete(_) | BatchError::BadManifest { .. }) => {
                exit::NOT_PUBLISHED
            }
            ImportError::Locked(store::layout::LockError::Held { .. }) => exit::LOCKED,
            ImportError::PublishedMeanwhile { .. } => exit::PUBLISHED,
            ImportError::Locked(store::layout::LockError::Io { .. }) => exit::ERROR,
            ImportError::Batch(
                BatchError::Io { .. }
                | BatchError::NoDirectory(_)
                | BatchError::NotADirectory(_)
                | BatchError::BadName(_),
            )
            | ImportError::Older { .. }
            | ImportError::Future { .. }
            | ImportError::Unconfigured(_)
            | ImportError::Internal(_) => exit::ERROR,
        }
    }
}

fn internal(context: &str) -> impl Fn(&dyn std::fmt::Display) -> ImportError + '_ {
    move |e| ImportError::Internal(format!("{context}: {e}"))
}

/// What a finished run gives back: the report (already written) and where.
pub struct ImportRun {
    pub report: Report,
    pub report_path: PathBuf,
}

/// Per-court result of tonight's files.
struct Tonight {
    import: Option<CourtImport>,
    /// Why the court cannot be imported tonight (empty: it can).
    reasons: Vec<String>,
    /// Time spent reading, decoding and applying the rules.
    ms: u64,
}

struct Stopwatch {
    last: Instant,
    timings: Vec<Timing>,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            last: Instant::now(),
            timings: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.timings.push(Timing {
            stage,
            ms: (now - self.last).as_millis() as u64,
        });
        self.last = now;
    }

    /// Stages timed by someone else, which end now.
    fn laps_ending_now(&mut self, laps: [(&'static str, u64); 2]) {
        self.timings
            .extend(laps.map(|(stage, ms)| Timing { stage, ms }));
        self.last = Instant::now();
    }
}

/// What every court of the night shares: the settings, the batch's date,
/// its decoder and the pool the parsing runs in.
struct Night<'a> {
    config: &'a Config,
    date: NaiveDate,
    decoder: &'a Decoder,
    pool: &'a ThreadPool,
    threads: usize,
    /// The snapshot whose hearing lists unchanged cases copy (the one
    /// courts are carried over from: checked against its checksum).
    earlier: Option<SnapshotFile>,
    /// Courts imported however much they shrank (`--accept-shrink`).
    accept_shrink: &'a BTreeSet<String>,
    /// Courts the night is published without if it must
    /// (`--publish-without`).
    publish_without: &'a BTreeSet<String>,
}

pub fn run(
    config: &Config,
    opts: &ImportOptions,
    threads: usize,
) -> Result<ImportRun, ImportError> {
    let started_at = chrono::Utc::now();
    let mut clock = Stopwatch::start();
    // Nothing is touched until the batch is known to be complete.
    let date = batch::check_complete(&opts.batch_dir)?;
    not_after_today(date, started_at, opts.force)?;
    let store = Store::new(&config.data_dir);
    let wait = Duration::from_secs(config.import.lock_wait_seconds);
    // A data directory made from the built-in default: a run with its
    // configuration forgotten publishes a first load where no site reads.
    let made_by_default = config.data_dir_source == settings::Source::Default
        && !config.data_dir.join("snapshots").exists();
    let (_lock, live, waited_for) = open_store(&store, date, opts.force, wait)?;
    // Waited for an import, and this very night is live now (cron and the
    // systemd timer both installed, a run by hand at 00:30): published by
    // it, while this one waited or just before (an import holds the lock
    // through its mail after publishing): not again.
    if let (Some(holder), Some(live)) = (waited_for, &live) {
        let an_import = holder.split_whitespace().any(|w| w == "import");
        if an_import && live.date == date && !opts.check {
            return Err(ImportError::PublishedMeanwhile {
                night: compact(date),
                holder,
                live: live.name(),
            });
        }
    }

    // The night's mail is made with the configuration's site address:
    // not with the built-in one where a configured one made it before (a
    // re-run by hand without `CPOR_CONFIG`).
    if !opts.check && config.mail.enabled {
        mail::send::check_configured(&config.data_dir, &config.mail, false, started_at)
            .map_err(ImportError::Unconfigured)?;
    }
    let ui = Ui::new();
    let mut report = new_report(opts, date, started_at, live.as_ref(), threads);
    if made_by_default {
        report.warnings.push(format!(
            "the data directory {} is new, and the built-in default: no configuration file, \
             CPOR_DATA_DIR or --data-dir named one; if the site reads another, set CPOR_CONFIG \
             (or --config) and import there",
            config.data_dir.display()
        ));
    }
    let report_path = store.reports_dir().join(format!(
        "{}{}.json",
        compact(date),
        if opts.check { ".check" } else { "" }
    ));
    if !opts.check {
        finish_earlier_mail(&store, config, &mut report);
    }

    let (plan, decoder) = match plan_batch(&opts.batch_dir, &mut report) {
        Err(ImportError::Batch(e)) => {
            report.message = Some(e.to_string());
            finish(&mut report, clock, &report_path)?;
            return Err(e.into());
        }
        planned => planned?,
    };
    clock.lap("plan");

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| internal("thread pool")(&e))?;
    let temp = store.temp_path(date);
    let mut builder =
        Builder::create(&temp, date).map_err(|e| internal("creating the snapshot")(&e))?;
    let mut night = Night {
        config,
        date,
        decoder: &decoder,
        pool: &pool,
        threads,
        // The courts are parsed while the live snapshot is checked against
        // its checksum (about 0.4 s of a core for a national one), copying
        // hearing lists from it on the bet that it is whole; the writer
        // settles the bet before it writes anything (`Previous::settle`).
        earlier: live.clone().filter(|_| crate::hearings::EXTRACTED),
        accept_shrink: &opts.accept_shrink,
        publish_without: &opts.publish_without,
    };
    let mut previous = Previous::Unchecked(live.as_ref());
    let written = loop {
        match run_courts(
            &night,
            &plan,
            previous,
            &store,
            &mut builder,
            &mut report.warnings,
            &ui,
        ) {
            // The live snapshot is damaged: the lists come from the one
            // standing in for it, or from nowhere, and the courts are parsed
            // again (nothing was written).
            // (A second pass cannot lose: its lists come from the snapshot
            // just settled on.)
            Ok(Courts::Settled(checked)) => {
                night.earlier = checked.earlier();
                previous = Previous::Checked(checked);
            }
            Ok(Courts::Written {
                courts,
                live_verified,
                stranded,
            }) => {
                // What the cases marked corrected are against (the mail
                // compares every case if it compares with another).
                // Said only when that is not the live snapshot this one
                // replaces (damaged, and another stood in, or none), so
                // that a re-run of a batch gives the same bytes.
                let earlier = night.earlier.as_ref().map(SnapshotFile::name);
                if crate::hearings::EXTRACTED
                    && live.is_some()
                    && earlier != live.as_ref().map(SnapshotFile::name)
                {
                    builder.carried_from(earlier);
                }
                break Ok((courts, live_verified, stranded));
            }
            Err(e) => break Err(e),
        }
    };
    // The live snapshot's checksum held just now (or there is none).
    let (live_verified, stranded) = match written {
        Ok((courts, live_verified, stranded)) => {
            report.courts = courts;
            (live_verified, stranded)
        }
        Err(e) => {
            drop(builder);
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    clock.lap("courts: read, decode, rules, write");
    tracing::debug!("inserting rows took {} ms", builder.insert_ms);
    pause("after-parse");

    let imported = report
        .courts
        .iter()
        .any(|c| c.status == CourtStatus::Imported);
    // With none imported, every court is carried over from the live
    // snapshot, the scope applied with tonight's date (the contract): not
    // publishing that left a case past its two months open to its grant
    // holders for as long as the batches stayed unusable. With nothing to
    // carry over, nothing is published.
    if !imported && live.is_some() {
        report.warnings.push(format!(
            "no court of batch {} could be imported: every court's data is carried over from the \
             live snapshot, the scope rules applied with tonight's date (the contract); \
             ask the courts to re-export, and re-run the night when the files are in",
            compact(date)
        ));
    }
    let refused = if !imported && live.is_none() {
        Some(format!(
            "no court of batch {} could be imported, and there is no earlier snapshot to carry \
             its courts over from",
            compact(date)
        ))
    } else if !stranded.is_empty() {
        Some(stranded_message(&stranded, date, live.as_ref()))
    } else {
        None
    };
    if let Some(message) = refused {
        drop(builder);
        let _ = std::fs::remove_file(&temp);
        report.message = Some(message);
        finish(&mut report, clock, &report_path)?;
        return Ok(ImportRun {
            report,
            report_path,
        });
    }

    let (counts, sealed) = build(builder, &temp, &pool, threads, &mut clock)?;
    if opts.check {
        sealed
            .discard()
            .map_err(|e| internal("removing the checked snapshot")(&e))?;
        conclude(&mut report, None, counts);
        finish(&mut report, clock, &report_path)?;
        return Ok(ImportRun {
            report,
            report_path,
        });
    }
    // What the night's mail is compared with: the snapshot it replaces,
    // or after a rollback the one whose news people were last told.
    let base = if config.mail.enabled {
        crate::notify::mail_base(&store, live.as_ref(), date)
            .map_err(|e| internal("pending mail")(&e))?
    } else {
        live.clone()
    };
    if let (Some(b), Some(l)) = (&base, &live) {
        if b != l {
            report.warnings.push(format!(
                "mail compared with {}, the newest snapshot whose night's mail was queued, \
                 not with the live {} (rolled back to): its news is not mailed again",
                b.name(),
                l.name()
            ));
        }
    }
    pause("before-publish");
    let published = {
        let mut stage = opts.progress.lock();
        let published = publish(&store, &config.mail, base.as_ref(), sealed, date)?;
        *stage = Stage::Published(published.name());
        published
    };
    clock.lap("publish");
    pause("after-publish");
    let queued = if config.mail.enabled {
        crate::notify::notify(
            &store,
            &config.mail,
            base.as_ref(),
            &published,
            live_verified && base == live,
            chrono::Utc::now(),
        )
    } else {
        // Its news never mailed: no chain of told snapshots starts after
        // it (docs/HEARINGS.md).
        if let Err(e) = mail::outbox::Outbox::open(&config.data_dir)
            .and_then(|o| o.never_told(&published.name()))
        {
            tracing::warn!(
                "mail is off, and the outbox could not record that {} was not mailed: {e}",
                published.name()
            );
        }
        Ok(crate::notify::queue::QueueSummary {
            no_digests: Some("mail is disabled (mail.enabled = false): nothing queued".into()),
            ..Default::default()
        })
    };
    match queued {
        Ok(mail) => {
            report.mail = Some(mail);
            *opts.progress.lock() = Stage::Queued(published.name());
        }
        Err(e) => {
            report.mail_error = Some(format!(
                "snapshot {} is published, but its mail was not queued: {e}; the next import or send finishes it",
                published.name()
            ));
        }
    }
    clock.lap("diff and queue mail");
    // The night is published: from here on, nothing may hide that. A
    // failure (a full disk, say) becomes part of the summary, not instead
    // of it.
    if let Err(e) = retain(&store, config.import.keep_snapshots as usize) {
        report
            .warnings
            .insert(0, format!("no old snapshot was removed this time: {e}"));
    }
    clock.lap("retention");
    if let Err(e) = record_grants_approved(&store, &published) {
        report.warnings.push(format!(
            "the grants approved per day were not recorded for `cpor-server stats` \
             (the next night records them): {e}"
        ));
    }

    conclude(&mut report, Some(&published), counts);
    if let Err(e) = finish(&mut report, clock, &report_path) {
        report
            .warnings
            .insert(0, format!("{e}: this summary is all there is of the run"));
        report.exit_code = exit::ERROR;
    }
    Ok(ImportRun {
        report,
        report_path,
    })
}

/// Why a night that would have published without some courts, the live
/// snapshot damaged and nothing to carry them over from, publishes nothing,
/// and the ways out. Their cases and grants would leave the site, and come
/// back as new the night they are imported again: every grant's mail sent
/// a second time.
fn stranded_message(courts: &[String], date: NaiveDate, live: Option<&SnapshotFile>) -> String {
    let flags: Vec<String> = courts
        .iter()
        .map(|c| format!("--publish-without {c}"))
        .collect();
    format!(
        "{}: neither imported nor carried over (not usable from batch {}, and the live \
         snapshot {} is DAMAGED, with nothing to carry them over from: see each court's row); \
         nothing is published, and the site keeps refusing the damaged snapshot. Either {} and \
         import again; or, to publish the night now, import with {}: those courts' cases and \
         grants leave the site until they are imported again, and their grants are then mailed as new (the night's own mail waits, \
         as after any damaged night, for `outbox rediff` or `forget`)",
        courts.join(", "),
        compact(date),
        live.map_or_else(|| "-".to_string(), SnapshotFile::name),
        store::layout::RESTORE,
        flags.join(" "),
    )
}

/// A batch is named by its export date in Taipei and imported after it
/// is exported, so one dated after today is a mistake (a typo, a wrong
/// clock): its date would count every case's last queryable day, and every
/// real night after it would be refused as older. Refused unless forced,
/// before anything is touched.
fn not_after_today(
    date: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
    force: bool,
) -> Result<(), ImportError> {
    let today = schemas::date::taipei_date(now);
    if date > today && !force {
        return Err(ImportError::Future {
            batch: compact(date),
            today: compact(today),
        });
    }
    Ok(())
}

/// Opens the data directory for a run: its folders, the lock (held until
/// the run ends; another run holding it is waited for up to `wait`, and
/// named in the third value), files an interrupted run left, and the live
/// snapshot, which a batch may not be older than unless forced.
fn open_store(
    store: &Store,
    date: NaiveDate,
    force: bool,
    wait: Duration,
) -> Result<(Lock, Option<SnapshotFile>, Option<String>), ImportError> {
    store
        .create_dirs()
        .map_err(|e| internal("data directory")(&e))?;
    let mut waited_for = None;
    let lock = store
        .lock_waiting(wait, |holder| {
            tracing::warn!(
                "waiting for the import lock, held by another run ({holder}), up to {} s",
                wait.as_secs()
            );
            waited_for = Some(holder.to_string());
        })
        .map_err(ImportError::Locked)?;
    pause("after-lock");
    for stale in store
        .clean_stale()
        .map_err(|e| internal("cleaning stale files")(&e))?
    {
        tracing::warn!("removed {} left by an interrupted run", stale.display());
    }
    let live = store.live().map_err(|e| internal("reading CURRENT")(&e))?;
    if let Some(live) = &live {
        if date < live.date && !force {
            // The night a misdated live one would be rolled back to.
            let before = store
                .kept()
                .map_err(|e| internal("listing snapshots")(&e))?
                .into_iter()
                .filter(|f| f.date < date)
                .max_by_key(|f| (f.date, f.build));
            return Err(ImportError::Older {
                batch: compact(date),
                live: live.name(),
                way_back: match before {
                    Some(f) => format!(
                        "If {} was published by mistake, `cpor-etl rollback {}`, then import this batch again \
                         (what {0}'s mail told is told again); ",
                        live.name(),
                        compact(f.date)
                    ),
                    None => String::new(),
                },
            });
        }
    }
    Ok((lock, live, waited_for))
}

/// The report as it stands before anything is imported: nothing published.
fn new_report(
    opts: &ImportOptions,
    date: NaiveDate,
    started_at: chrono::DateTime<chrono::Utc>,
    live: Option<&SnapshotFile>,
    threads: usize,
) -> Report {
    Report {
        check: opts.check,
        batch: compact(date),
        batch_dir: opts.batch_dir.display().to_string(),
        started_at: started_at.to_rfc3339(),
        finished_at: String::new(),
        outcome: Outcome::NotPublished,
        exit_code: exit::NOT_PUBLISHED,
        message: None,
        snapshot: None,
        counts: None,
        previous: live.map(|l| l.name()),
        threads,
        courts: Vec::new(),
        eudc_mappings: 0,
        mail: None,
        mail_error: None,
        // A build made to measure what hearings cost says so wherever the
        // night is reported: its snapshots have none.
        warnings: if crate::hearings::EXTRACTED {
            Vec::new()
        } else {
            vec!["this build works out no hearings (built without the `hearings` feature, to measure what they cost): the snapshot has none".to_string()]
        },
        timings_ms: Vec::new(),
    }
}

/// Plans the batch (the manifest against the directory, court by court)
/// and reads its EUDC.csv; what is only worth a warning goes into the
/// report. `ImportError::Batch`: the batch cannot be planned at all.
fn plan_batch(dir: &Path, report: &mut Report) -> Result<(BatchPlan, Decoder), ImportError> {
    let plan = batch::plan(dir)?;
    report.warnings.extend(plan.warnings.iter().cloned());
    let (eudc, eudc_errors) =
        load_eudc(&dir.join(&contract().batch.eudc)).map_err(|e| internal("EUDC.csv")(&e))?;
    report.eudc_mappings = eudc.len();
    for e in eudc_errors {
        report
            .warnings
            .push(format!("EUDC.csv:{}: {}", e.line, e.reason));
    }
    Ok((plan, Decoder::new(eudc)))
}

/// The snapshot the courts that do not come usable tonight are carried
/// over from: the live one, once its content matches the checksum recorded
/// when it was published. A damaged live snapshot is never carried from (its
/// changed text would pass into tonight's snapshot without a word): the
/// newest older kept snapshot that verifies stands in, and the report says so.
struct Checked {
    /// `None`: nothing to carry from (a first load, or only damaged files).
    snapshot: Option<Snapshot>,
    courts: BTreeSet<String>,
    /// The courts of a damaged live snapshot that nothing stands in for, and
    /// its name: reported as not carried over, and why.
    lost: BTreeSet<String>,
    damaged: Option<String>,
    /// The kept snapshot standing in for a damaged live one, if any.
    standing_in: Option<String>,
    /// The courts it was published without (`--publish-without`), each
    /// off the site since then, until one is imported again.
    left_off: BTreeMap<String, NaiveDate>,
}

/// The courts a published snapshot has, as the report of the run that
/// published it says (imported or carried over): for a live snapshot too
/// damaged to read them from. `None`: no report of it can be read.
fn courts_in_report(store: &Store, snapshot: &SnapshotFile) -> Option<BTreeSet<String>> {
    let night = compact(snapshot.date);
    let reports = std::fs::read_dir(store.reports_dir()).ok()?;
    for entry in reports.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&format!("{night}.")) || name.ends_with(".check.json") {
            continue;
        }
        let Some(report) = std::fs::read(entry.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        else {
            continue;
        };
        if report["snapshot"].as_str() != Some(snapshot.name().as_str()) {
            continue;
        }
        let courts = report["courts"].as_array()?;
        return Some(
            courts
                .iter()
                .filter(|c| matches!(c["status"].as_str(), Some("imported" | "carried_over")))
                .filter_map(|c| c["court"].as_str().map(String::from))
                .collect(),
        );
    }
    None
}

/// The previous snapshot as the court pipeline gets it: the live one not
/// checked yet (its courts parsed on the bet that it is whole), or checked.
enum Previous<'a> {
    Unchecked(Option<&'a SnapshotFile>),
    Checked(Box<Checked>),
}

/// Whether the courts were parsed with the hearing lists of the snapshot
/// that turned out to be the previous one.
enum Bet {
    Won(Checked),
    Lost(Checked),
}

impl Previous<'_> {
    /// Checks the live snapshot, unless it was, and settles the bet that
    /// the courts' lists came from `earlier`.
    fn settle(
        self,
        store: &Store,
        warnings: &mut Vec<String>,
        earlier: Option<&SnapshotFile>,
    ) -> Result<Bet, ImportError> {
        let checked = match self {
            Previous::Unchecked(live) => Checked::open(store, live, warnings)?,
            Previous::Checked(checked) => *checked,
        };
        Ok(if checked.earlier().as_ref() == earlier {
            Bet::Won(checked)
        } else {
            Bet::Lost(checked)
        })
    }
}

/// What the court pipeline gives: every court written, or the bet on the
/// live snapshot lost and what stands in for it, for a second pass.
enum Courts {
    Written {
        courts: Vec<CourtReport>,
        live_verified: bool,
        /// Courts neither imported nor carried over, which the night may
        /// not be published without (`stranded_message`).
        stranded: Vec<String>,
    },
    Settled(Box<Checked>),
}

impl Checked {
    /// The snapshot whose hearing lists unchanged cases copy.
    fn earlier(&self) -> Option<SnapshotFile> {
        self.snapshot
            .as_ref()
            .filter(|_| crate::hearings::EXTRACTED)
            .map(|s| s.file.clone())
    }

    fn open(
        store: &Store,
        live: Option<&SnapshotFile>,
        warnings: &mut Vec<String>,
    ) -> Result<Checked, ImportError> {
        let mut previous = Checked {
            snapshot: None,
            courts: BTreeSet::new(),
            lost: BTreeSet::new(),
            damaged: None,
            standing_in: None,
            left_off: BTreeMap::new(),
        };
        let Some(live) = live else {
            return Ok(previous);
        };
        let file = match store.verify(live) {
            Ok(()) => live.clone(),
            Err(damaged) => {
                tracing::error!("{damaged}");
                warnings.push(damaged.to_string());
                previous.damaged = Some(live.name());
                // Only the court codes are read from the damaged file, to
                // say which courts could not be carried over; from the
                // night's report if the file cannot give them.
                previous.lost = match Snapshot::open(live).and_then(|s| s.courts()) {
                    Ok(cs) => cs.into_iter().map(|c| c.code).collect(),
                    Err(e) => courts_in_report(store, live).unwrap_or_else(|| {
                        warnings.push(format!(
                            "the courts of the damaged {} cannot be read ({e}), nor its import \
                             report's: a court it had that is absent or unusable tonight is \
                             published without",
                            live.name()
                        ));
                        BTreeSet::new()
                    }),
                };
                let kept = store
                    .kept()
                    .map_err(|e| internal("listing snapshots")(&e))?;
                let standing_in = kept
                    .into_iter()
                    .rev()
                    .filter(|f| f != live && f.date <= live.date)
                    .find(|f| store.verify(f).is_ok());
                match standing_in {
                    Some(f) => {
                        previous.standing_in = Some(f.name());
                        warnings.push(format!(
                            "courts not usable tonight are carried over from {} instead of the damaged {}",
                            f.name(),
                            live.name()
                        ));
                        f
                    }
                    None => {
                        warnings.push(format!(
                            "no other kept snapshot verifies: courts not usable tonight cannot be carried over from the damaged {}",
                            live.name()
                        ));
                        return Ok(previous);
                    }
                }
            }
        };
        let snapshot =
            Snapshot::open(&file).map_err(|e| internal("opening the live snapshot")(&e))?;
        previous.courts = snapshot
            .courts()
            .map_err(|e| internal("reading the live snapshot")(&e))?
            .into_iter()
            .map(|c| c.code)
            .collect();
        previous.lost.retain(|c| !previous.courts.contains(c));
        previous.left_off = snapshot
            .left_off()
            .map_err(|e| internal("reading the live snapshot")(&e))?;
        previous
            .left_off
            .retain(|c, _| !previous.courts.contains(c));
        // A build that raised the hearing rules: said, with what it may do
        // to the flood guard (OPERATIONS, "Held digests").
        let rules = schemas::meta_value(snapshot.conn(), "hearing_rules")
            .map_err(|e| internal("reading the live snapshot")(&e))?;
        let now = crate::hearings::RULES.to_string();
        if let Some(was) = rules.filter(|r| crate::hearings::EXTRACTED && *r != now) {
            let said = format!(
                "hearing rules {was} → {now}: every case's hearings are worked out again, and \
                 where tonight's rules read one otherwise its followers' calendars are corrected \
                 (news, which counts toward the flood guard; docs/HEARINGS.md says what changed)"
            );
            if !warnings.contains(&said) {
                warnings.push(said);
            }
        }
        previous.snapshot = Some(snapshot);
        Ok(previous)
    }
}

/// The court pipeline. Tonight's courts are parsed by `threads` workers, in
/// code order, while this thread writes each court into the snapshot as soon
/// as it and every court before it are done. A court that did not come, or
/// came unusable, is carried over from the previous snapshot at its place in
/// the order. Gives the report of every court, in code order.
///
/// An unchecked live snapshot is checked here, while the workers parse on
/// the bet that it is whole, before anything is written: if it is not, the
/// bet is lost (`Courts::Settled`, what stands in for it) and the caller
/// runs the pipeline again with the lists of the snapshot standing in.
fn run_courts(
    night: &Night<'_>,
    plan: &BatchPlan,
    previous: Previous<'_>,
    store: &Store,
    builder: &mut Builder,
    warnings: &mut Vec<String>,
    ui: &Ui,
) -> Result<Courts, ImportError> {
    let courts: Vec<(&String, &CourtPlan)> = plan.courts.iter().collect();
    let total_bytes: u64 = courts.iter().map(|(_, p)| plan_bytes(p)).sum();
    let read_bar = ui.bytes_bar("read", total_bytes);
    let write_bar = ui.count_bar("write", courts.len() as u64, "courts");
    // Measured on the national batch: 4 courts per worker keeps both cores
    // busy; a wider window only adds memory.
    let gate = Gate::new(night.threads * 4);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Tonight)>();
    let written = std::thread::scope(|scope| {
        // Court workers are plain threads, not rayon jobs: they block on the
        // gate, and a rayon thread waiting inside one court's chunks could
        // otherwise steal a worker loop, block in it, and never finish the
        // court the writer waits for. Only the parse itself, which never
        // blocks, runs in the pool.
        for _ in 0..night.threads {
            let tx = tx.clone();
            let (next, gate, courts, read_bar) = (&next, &gate, &courts, &read_bar);
            scope.spawn(move || parse_courts(night, courts, next, gate, read_bar, &tx));
        }
        drop(tx);
        let result = match previous.settle(store, warnings, night.earlier.as_ref()) {
            Err(e) => Err(e),
            Ok(Bet::Lost(checked)) => Ok(Courts::Settled(Box::new(checked))),
            Ok(Bet::Won(checked)) => {
                let carried = checked
                    .courts
                    .iter()
                    .chain(&checked.lost)
                    .chain(checked.left_off.keys());
                let order: BTreeSet<&String> = plan.courts.keys().chain(carried).collect();
                write_bar.set_length(order.len() as u64);
                let mut writer = Writer {
                    courts: &courts,
                    rx: &rx,
                    gate: &gate,
                    pending: BTreeMap::new(),
                    consumed: 0,
                    previous: &checked,
                    night,
                    builder,
                    bar: &write_bar,
                    accepted: Vec::new(),
                    stranded: Vec::new(),
                    shrink_accepted: BTreeSet::new(),
                };
                let written = writer.write_all(&order);
                warnings.append(&mut writer.accepted);
                written.map(|courts| Courts::Written {
                    courts,
                    live_verified: checked.damaged.is_none(),
                    stranded: writer.stranded,
                })
            }
        };
        // Whatever happened, let the workers go.
        gate.abort();
        drop(rx);
        result
    });
    read_bar.finish_and_clear();
    write_bar.finish_and_clear();
    written
}

/// A parse worker: takes tonight's courts in turn, as far ahead of the
/// writer as the gate lets it, parses each in the pool and sends it to the
/// writer.
fn parse_courts(
    night: &Night<'_>,
    courts: &[(&String, &CourtPlan)],
    next: &AtomicUsize,
    gate: &Gate,
    bar: &ProgressBar,
    tx: &mpsc::Sender<(usize, Tonight)>,
) {
    loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= courts.len() || !gate.wait_for(i) {
            break;
        }
        let (code, court_plan) = courts[i];
        let t = night.pool.install(|| import_one(night, code, court_plan));
        bar.inc(plan_bytes(court_plan));
        if tx.send((i, t)).is_err() {
            break;
        }
    }
}

fn plan_bytes(plan: &CourtPlan) -> u64 {
    plan.files
        .values()
        .filter_map(|(p, _)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Lets parse workers run at most `window` courts ahead of the writer, so
/// finished courts waiting to be written cannot pile up in memory.
struct Gate {
    state: Mutex<(usize, bool)>,
    moved: Condvar,
    window: usize,
}

impl Gate {
    fn new(window: usize) -> Gate {
        Gate {
            state: Mutex::new((0, false)),
            moved: Condvar::new(),
            window,
        }
    }

    /// Waits until court `i` may be parsed; false once the import gave up.
    fn wait_for(&self, i: usize) -> bool {
        let mut state = self.state.lock().expect("gate lock");
        while i >= state.0 + self.window && !state.1 {
            state = self.moved.wait(state).expect("gate lock");
        }
        !state.1
    }

    /// The writer has consumed courts before `done`.
    fn advance(&self, done: usize) {
        self.state.lock().expect("gate lock").0 = done;
        self.moved.notify_all();
    }

    fn abort(&self) {
        self.state.lock().expect("gate lock").1 = true;
        self.moved.notify_all();
    }
}

/// The writer's side of the pipeline: every court in code order, tonight's
/// if usable, else the previous snapshot's with tonight's cutoff.
struct Writer<'a, 'b> {
    /// Tonight's courts, in the order the workers take them.
    courts: &'a [(&'a String, &'a CourtPlan)],
    rx: &'a mpsc::Receiver<(usize, Tonight)>,
    gate: &'a Gate,
    /// Courts parsed before their turn, by their place in `courts`.
    pending: BTreeMap<usize, Tonight>,
    /// How many of `courts` the writer has taken (the gate's position).
    consumed: usize,
    previous: &'a Checked,
    night: &'a Night<'a>,
    builder: &'b mut Builder,
    bar: &'a ProgressBar,
    /// What `--accept-shrink` and `--publish-without` let in, and the
    /// cases kept from the previous snapshot: the night's warnings.
    accepted: Vec<String>,
    /// Courts neither imported nor carried over, and not let go by
    /// `--publish-without`.
    stranded: Vec<String>,
    /// Courts `--accept-shrink` let in.
    shrink_accepted: BTreeSet<String>,
}

impl Writer<'_, '_> {
    /// Writes the courts of `order`, and reports on each.
    fn write_all(&mut self, order: &BTreeSet<&String>) -> Result<Vec<CourtReport>, ImportError> {
        let mut reports: Vec<CourtReport> = Vec::new();
        for &code in order {
            self.bar.inc(1);
            reports.push(self.write_court(code)?);
        }
        for code in self.night.publish_without {
            let status = reports.iter().find(|r| &r.court == code).map(|r| r.status);
            let was = match status {
                Some(CourtStatus::Imported) => "was imported",
                Some(CourtStatus::CarriedOver) => "was carried over",
                Some(CourtStatus::OutOfScope) => "is out of scope",
                // Published without it, as asked (`write_court`); or no
                // longer named, as asked.
                Some(CourtStatus::Unusable)
                    if self.previous.lost.contains(code)
                        || self.previous.left_off.contains_key(code) =>
                {
                    continue
                }
                Some(CourtStatus::Unusable) => "had nothing on the site to lose",
                None => "is neither in the batch nor in the live snapshot",
            };
            self.accepted.push(format!(
                "--publish-without {code}: not needed, {code} {was}"
            ));
        }
        for code in self.night.accept_shrink {
            let status = reports.iter().find(|r| &r.court == code).map(|r| r.status);
            let was = match status {
                _ if self.shrink_accepted.contains(code) => continue,
                Some(CourtStatus::Imported) => "did not shrink",
                Some(CourtStatus::CarriedOver | CourtStatus::Unusable) => {
                    "could not be imported for another reason"
                }
                Some(CourtStatus::OutOfScope) => "is out of scope",
                None => "is neither in the batch nor in the live snapshot",
            };
            self.accepted
                .push(format!("--accept-shrink {code}: not needed, {code} {was}"));
        }
        Ok(reports)
    }

    /// One court: tonight's files if they came, else (or if they were
    /// unusable) what the previous snapshot holds.
    fn write_court(&mut self, code: &String) -> Result<CourtReport, ImportError> {
        let contract_court = contract().court(code);
        let in_scope = contract_court.is_some_and(|c| c.fact_finding);
        let mut r = CourtReport {
            court: code.clone(),
            name: contract_court.map(|c| c.name.clone()),
            status: CourtStatus::Unusable,
            reasons: Vec::new(),
            as_of: None,
            parse_ms: None,
            stats: None,
            rejects: Vec::new(),
            rejects_not_listed: 0,
            unmailable: Vec::new(),
            carried: None,
        };
        if let Some(i) = self.courts.iter().position(|(c, _)| *c == code) {
            let tonight = self.receive(i, code)?;
            self.write_tonight(&mut r, tonight, in_scope)?;
        }
        if matches!(r.status, CourtStatus::Unusable) {
            if self.previous.courts.contains(code) {
                self.carry_over(&mut r, self.previous)?;
            } else if let (Some(damaged), true) =
                (&self.previous.damaged, self.previous.lost.contains(code))
            {
                let mut reason = format!(
                    "not usable from batch {}, and not carried over: the previous snapshot {damaged} is DAMAGED, {}",
                    compact(self.night.date),
                    match &self.previous.standing_in {
                        Some(s) => format!("and {s}, standing in for it, does not have {code}"),
                        None => "and no other kept snapshot verifies".to_string(),
                    }
                );
                if self.night.publish_without.contains(code) {
                    reason += &format!("; published without {code} (--publish-without {code})");
                    self.builder
                        .left_off(code, self.night.date)
                        .map_err(|e| internal("writing the snapshot")(&e))?;
                } else {
                    self.stranded.push(code.clone());
                }
                r.reasons.push(reason);
            } else if let Some(since) = self.previous.left_off.get(code) {
                // Published without on an earlier night, and not imported
                // yet: said every night, exit 3, until it is.
                // (named again, a court gone for good: no longer named)
                let again = self.night.publish_without.contains(code);
                let off = format!(
                    "; off the site since {} (published without it with --publish-without \
                     {code}): {}",
                    schemas::date::roc(*since),
                    if again {
                        format!(
                            "not named by the nights after this one (--publish-without {code} \
                             again)"
                        )
                    } else {
                        "its cases and grants come back when it is imported".to_string()
                    }
                );
                // (after the night's own reason, if the batch brought it)
                match r.reasons.last_mut() {
                    Some(last) => last.push_str(&off),
                    None => r.reasons.push(format!(
                        "absent from batch {}{off}",
                        compact(self.night.date)
                    )),
                }
                if !again {
                    self.builder
                        .left_off(code, *since)
                        .map_err(|e| internal("writing the snapshot")(&e))?;
                }
            }
        }
        Ok(r)
    }

    /// Tonight's court `i`, once a worker has sent it; the gate then lets
    /// the workers go on past it.
    fn receive(&mut self, i: usize, code: &str) -> Result<Tonight, ImportError> {
        let t = loop {
            if let Some(t) = self.pending.remove(&i) {
                break t;
            }
            let (j, t) = self.rx.recv().map_err(|_| {
                ImportError::Internal(format!("the worker importing {code} stopped"))
            })?;
            self.pending.insert(j, t);
        };
        self.consumed = self.consumed.max(i + 1);
        self.gate.advance(self.consumed);
        Ok(t)
    }

    /// Tonight's files of a court into its report, and into the snapshot
    /// when the court is in scope and nothing made them unusable.
    fn write_tonight(
        &mut self,
        r: &mut CourtReport,
        t: Tonight,
        in_scope: bool,
    ) -> Result<(), ImportError> {
        r.reasons = t.reasons;
        r.parse_ms = Some(t.ms);
        if let Some(mut import) = t.import {
            r.rejects_not_listed = import
                .stats
                .rejected
                .saturating_sub(import.rejects.len() as u64);
            r.rejects = import.rejects;
            if in_scope && r.reasons.is_empty() {
                r.reasons.extend(self.shrunk(&r.court, &import.data)?);
            }
            // (Only into a court imported tonight: one carried over whole
            // keeps all its previous cases anyway.)
            if in_scope && r.reasons.is_empty() {
                import.stats.cases_left_out_kept =
                    self.keep_left_out(&mut import.data, &import.left_out)?;
            }
            r.stats = Some(import.stats);
            if !in_scope {
                r.status = CourtStatus::OutOfScope;
            } else if r.reasons.is_empty() {
                self.builder
                    .add_court(&import.data)
                    .map_err(|e| internal("writing the snapshot")(&e))?;
                r.status = CourtStatus::Imported;
                r.as_of = Some(roc(self.night.date));
                // (only here: a court not imported grants nothing of tonight's)
                r.unmailable = import.unmailable;
            }
        } else if !in_scope {
            r.status = CourtStatus::OutOfScope;
        }
        Ok(())
    }

    /// The cases left out of a court's files tonight (`left_out`: a
    /// rejected row, or listed twice) that the previous snapshot has: the
    /// version it had is kept in tonight's snapshot, tonight's cutoff
    /// applied again, marked with the export date of that data
    /// (`CaseData::as_of`, `meta.cases_carried_over`), for the next night
    /// to compare with only. Tonight it is shown nowhere, reminded of by
    /// nobody and tells no news, as the contract has it (a night is built
    /// from its batch alone; a clerk's revocation among its rejected rows
    /// must not go on working); the next night's mail compares with it:
    /// before, the case came back as a new grant (a second approval mail,
    /// the address's bounce flag cleared, the news of the gap told as no
    /// news). Said among the night's warnings; returns how many.
    fn keep_left_out(
        &mut self,
        data: &mut CourtData,
        left_out: &[CaseKey],
    ) -> Result<u64, ImportError> {
        let Some(previous) = self
            .previous
            .snapshot
            .as_ref()
            .filter(|_| !left_out.is_empty())
        else {
            return Ok(0);
        };
        let reading = internal("reading the live snapshot");
        let Some(court) = previous
            .courts()
            .map_err(|e| reading(&e))?
            .into_iter()
            .find(|c| c.code == data.code)
        else {
            return Ok(0);
        };
        let date = self.night.date;
        let mut kept: Vec<String> = Vec::new();
        for key in left_out {
            let Some((_, mut case)) = previous
                .find_case(&data.code, key)
                .map_err(|e| reading(&e))?
            else {
                continue;
            };
            let as_of = *case.as_of.get_or_insert(court.as_of);
            if case.queryable && !within_cutoff(&case.status, case.status_date, date) {
                case.expire();
            }
            let at = data
                .cases
                .binary_search_by(|c| c.key.cmp(key))
                .expect_err("a case left out is not among the court's cases");
            data.cases.insert(at, case);
            kept.push(format!("{key} (as of {})", roc(as_of)));
        }
        if !kept.is_empty() {
            let n = kept.len();
            let shown: Vec<&str> = kept.iter().take(5).map(String::as_str).collect();
            let (s, them, come) = if n == 1 {
                ("", "it", "comes")
            } else {
                ("s", "them", "come")
            };
            self.accepted.push(format!(
                "{}: {n} case{s} left out of tonight's files (a row rejected, or listed twice): \
                 not shown tonight; the version {} had is kept for the next night to compare \
                 with (not a new grant when {them} {come} back): {}{}",
                data.code,
                previous.file.name(),
                shown.join(", "),
                if n > 5 { ", …" } else { "" }
            ));
        }
        Ok(kept.len() as u64)
    }

    /// Why tonight's data of a court is not to be taken, if it has far
    /// fewer cases or grants than the previous snapshot's
    /// (`import.shrink_share`, `import.shrink_floor`): an export whose query
    /// failed is valid to the letter of the contract, and would take the
    /// court's cases, or its followers' access, off the site overnight.
    /// `--accept-shrink` takes it, said among the night's warnings.
    fn shrunk(
        &mut self,
        code: &str,
        data: &crate::model::CourtData,
    ) -> Result<Option<String>, ImportError> {
        let Some(previous) = self
            .previous
            .snapshot
            .as_ref()
            .filter(|_| self.previous.courts.contains(code))
        else {
            return Ok(None);
        };
        let (was_cases, was_grants) = previous
            .court_size(code)
            .map_err(|e| internal("reading the live snapshot")(&e))?;
        let cases = data.cases.len() as u64;
        let grants: u64 = data.cases.iter().map(|c| c.grants.len() as u64).sum();
        let settings = &self.night.config.import;
        let lost = |now: u64, was: u64| {
            was.saturating_sub(now) >= settings.shrink_floor.max(1)
                && (was - now) as f64 > settings.shrink_share * was as f64
        };
        let mut fewer = Vec::new();
        if lost(cases, was_cases) {
            fewer.push(format!(
                "{cases} cases where the previous snapshot has {was_cases}"
            ));
        }
        if lost(grants, was_grants) {
            fewer.push(format!(
                "{grants} grants where the previous snapshot has {was_grants}"
            ));
        }
        if fewer.is_empty() {
            return Ok(None);
        }
        let what = fewer.join(", ");
        if self.night.accept_shrink.contains(code) {
            self.shrink_accepted.insert(code.to_string());
            self.accepted.push(format!(
                "{code}: {what}; imported as it is (--accept-shrink {code})"
            ));
            return Ok(None);
        }
        Ok(Some(format!(
            "{what}: more than {}% fewer, as an export that failed would give \
             (if the court has so few, import again with --accept-shrink {code})",
            settings.shrink_share * 100.0
        )))
    }

    /// The previous snapshot's data of a court, with tonight's cutoff
    /// applied again, and why it is carried over.
    fn carry_over(&mut self, r: &mut CourtReport, previous: &Checked) -> Result<(), ImportError> {
        let date = self.night.date;
        let reason = if r.reasons.is_empty() {
            r.reasons
                .push(format!("absent from batch {}", compact(date)));
            format!("absent from batch {}", compact(date))
        } else {
            format!(
                "not imported from batch {}: {}",
                compact(date),
                r.reasons.join("; ")
            )
        };
        let mut carried = previous
            .snapshot
            .as_ref()
            .expect("courts to carry come from a snapshot")
            .court_data(&r.court)
            .map_err(|e| internal("reading the live snapshot")(&e))?
            .expect("court listed by the snapshot");
        carried.carry_reason = Some(reason);
        let mut stats = CarriedStats {
            cases: carried.cases.len() as u64,
            cases_queryable: 0,
            expired_tonight: 0,
        };
        for case in &mut carried.cases {
            if case.queryable && !within_cutoff(&case.status, case.status_date, date) {
                case.expire();
                stats.expired_tonight += 1;
            }
            stats.cases_queryable += u64::from(case.queryable);
        }
        self.builder
            .add_court(&carried)
            .map_err(|e| internal("writing the snapshot")(&e))?;
        r.status = CourtStatus::CarriedOver;
        r.as_of = Some(roc(carried.as_of));
        r.carried = Some(stats);
        Ok(())
    }
}

/// Indexes the snapshot, then verifies and seals it side by side (the
/// checks in the pool, the fsync and the checksum on a thread of their
/// own), the stage `verify` lasting as long as the longer of the two. A
/// snapshot that fails either is removed.
fn build(
    builder: Builder,
    temp: &Path,
    pool: &ThreadPool,
    threads: usize,
    clock: &mut Stopwatch,
) -> Result<(Counts, Sealed), ImportError> {
    let built = (|| {
        let (counts, indexes_ms) = pool
            .install(|| builder.complete(temp, threads))
            .map_err(|e| internal("building the snapshot")(&e))?;
        pause("before-verify");
        let started = Instant::now();
        let (verified, sealed) = std::thread::scope(|scope| {
            let sealing = scope.spawn(|| Store::seal(temp));
            let verified = pool.install(|| crate::snapshot::write::verify(temp, counts));
            let sealed = sealing
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("sealing panicked")));
            (verified, sealed)
        });
        verified.map_err(|e| internal("building the snapshot")(&e))?;
        let sealed = sealed.map_err(|e| internal("sealing the snapshot")(&e))?;
        let verify_ms = started.elapsed().as_millis() as u64;
        clock.laps_ending_now([("indexes", indexes_ms), ("verify", verify_ms)]);
        Ok((counts, sealed))
    })();
    if built.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    built
}

/// Records the published night's grants by approval day in the accounts
/// database (`store::accounts::record_grants_approved`), where they stay
/// counted for `cpor-server stats` once later snapshots drop them.
fn record_grants_approved(store: &Store, published: &SnapshotFile) -> anyhow::Result<()> {
    let days =
        schemas::case::grants_by_day(crate::snapshot::read::Snapshot::open(published)?.conn())?;
    let kept_from = store.kept()?.first().map_or(published.date, |f| f.date);
    store::accounts::record_grants_approved(
        &mut store::accounts::open(&store.root)?,
        &schemas::date::compact(published.date),
        &days,
        &schemas::date::compact(kept_from),
    )?;
    Ok(())
}

/// Names the new snapshot, notes that its mail is still to be queued
/// (`notify.pending`, for a run killed before it is), and publishes it.
/// The mail of nights an earlier run published but did not queue (it died,
/// or its queueing failed) is queued first, before anything else: exactly
/// what that run would have queued. A night that cannot be queued stays
/// pending, loudly, and does not stop tonight's import.
fn finish_earlier_mail(store: &Store, config: &Config, report: &mut Report) {
    match crate::notify::catch_up(store, &config.mail, chrono::Utc::now()) {
        Ok(nights) => {
            for n in nights {
                match n.outcome {
                    crate::notify::Finished::Queued(m) => {
                        report.warnings.push(format!(
                            "queued the mail of snapshot {}, left by an earlier run: {} items",
                            n.night.to,
                            m.activation + m.approval + m.digest + m.expiry
                        ));
                        report.warnings.extend(crate::report::given_up(&m));
                    }
                    crate::notify::Finished::Failed(why) => report.warnings.push(format!(
                        "the mail of snapshot {} is still not queued: {why}",
                        n.night.to
                    )),
                    crate::notify::Finished::Lost(why) => report.warnings.push(format!(
                        "the mail of snapshot {} cannot be queued: {why}",
                        n.night.to
                    )),
                    _ => {}
                }
            }
        }
        Err(e) => report.warnings.push(format!(
            "the mail of earlier nights could not be checked: {e}"
        )),
    }
}

/// Records the night's mail as pending (durably: if the run dies from here
/// on, the next import or send queues it), publishes, and marks the night
/// published.
fn publish(
    store: &Store,
    mail: &MailSettings,
    live: Option<&SnapshotFile>,
    sealed: Sealed,
    date: NaiveDate,
) -> Result<SnapshotFile, ImportError> {
    let next = store
        .next_file(date)
        .map_err(|e| internal("naming the snapshot")(&e))?;
    crate::notify::before_publish(store, mail, live, &next, chrono::Utc::now())
        .map_err(|e| internal("pending mail")(&e))?;
    let published = store
        .publish(sealed, date)
        .map_err(|e| internal("publishing")(&e))?;
    crate::notify::after_publish(store, mail, &published);
    Ok(published)
}

/// Removes snapshots beyond the newest `keep`, but never one that a
/// night's mail still to be queued needs.
fn retain(store: &Store, keep: usize) -> Result<(), ImportError> {
    let needed: Vec<String> = crate::notify::snapshots_needed(store)
        .map_err(|e| internal("pending mail")(&e))?
        .into_iter()
        .collect();
    for gone in store
        .retain(keep, &needed)
        .map_err(|e| internal("retention")(&e))?
    {
        tracing::info!("removed old snapshot {}", gone.name());
    }
    Ok(())
}

/// The outcome of a run that published (or of a check, that would have):
/// every court imported (or out of scope), or some carried over; an error
/// if the mail was not queued.
fn conclude(report: &mut Report, published: Option<&SnapshotFile>, counts: Counts) {
    let all_imported = report
        .courts
        .iter()
        .all(|c| matches!(c.status, CourtStatus::Imported | CourtStatus::OutOfScope));
    report.outcome = if all_imported {
        Outcome::Published
    } else {
        Outcome::PublishedWithCarryOver
    };
    report.exit_code = if all_imported {
        exit::PUBLISHED
    } else {
        exit::CARRIED_OVER
    };
    report.snapshot = published.map(SnapshotFile::name);
    report.counts = Some(counts);
    if report.mail.as_ref().is_some_and(|m| m.held) {
        report.exit_code = exit::DIGESTS_HELD;
    }
    if report.mail_error.is_some() {
        report.exit_code = exit::ERROR;
    }
}

fn finish(report: &mut Report, clock: Stopwatch, path: &Path) -> Result<(), ImportError> {
    report.timings_ms = clock.timings;
    report.finished_at = chrono::Utc::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(&report).map_err(|e| internal("report")(&e))?;
    if !report.check {
        Store::keep_earlier_report(path).map_err(|e| internal("keeping the earlier report")(&e))?;
    }
    Store::write_atomically(path, &json).map_err(|e| internal("writing the report")(&e))
}

/// Reads, checks and imports one court's files.
fn import_one(night: &Night<'_>, code: &str, plan: &CourtPlan) -> Tonight {
    let started = Instant::now();
    let mut t = import_checked(night, code, plan);
    t.ms = started.elapsed().as_millis() as u64;
    t
}

/// A court's files, unless the plan already found them unusable or they
/// differ from what MANIFEST.csv says; then whatever else makes tonight's
/// import of the court unusable.
fn import_checked(night: &Night<'_>, code: &str, plan: &CourtPlan) -> Tonight {
    let unusable = |reasons| Tonight {
        import: None,
        reasons,
        ms: 0,
    };
    if !plan.problems.is_empty() {
        return unusable(plan.problems.clone());
    }
    let files = match batch::read_verified(plan) {
        Ok(files) => files,
        Err(problems) => return unusable(problems),
    };
    let settings = &night.config.import;
    let court = court::Context {
        code,
        name: contract().court(code).map_or("", |c| c.name.as_str()),
        decoder: night.decoder,
        batch_date: night.date,
        max_listed: settings.max_listed_rejects as usize,
        chunk_bytes: settings.chunk_bytes as usize,
    };
    let import = read::with_earlier(night.earlier.as_ref(), code, |earlier| {
        import_court(&court, &files, earlier)
    });
    drop(files);
    let mut reasons: Vec<String> = import.file_errors.iter().map(|e| e.to_string()).collect();
    reasons.extend(manifest_mismatches(code, plan, &import.stats));
    reasons.extend(over_reject_limit(&import.stats, settings));
    Tonight {
        import: Some(import),
        reasons,
        ms: 0,
    }
}

/// Files whose record count differs from the one MANIFEST.csv gives.
fn manifest_mismatches(code: &str, plan: &CourtPlan, stats: &CourtStats) -> Vec<String> {
    let mut reasons = Vec::new();
    for (kind, (_, listed)) in &plan.files {
        if let Some(scan) = stats.files.get(kind) {
            let records = scan.records;
            if records != listed.rows {
                // Empty lines are records (RFC 4180); an exporter may not
                // have counted them.
                // So are rows with a line break alone outside quotes, read
                // up to the next CRLF; an exporter may have counted lines.
                let mut of_them = Vec::new();
                match scan.empty_lines {
                    0 => {}
                    1 => of_them.push("1 of them an empty line".to_string()),
                    n => of_them.push(format!("{n} of them empty lines")),
                }
                match scan.line_breaks {
                    0 => {}
                    1 => {
                        of_them.push("1 of them with a line break alone outside quotes".to_string())
                    }
                    n => of_them.push(format!(
                        "{n} of them with a line break alone outside quotes"
                    )),
                }
                let empty = if of_them.is_empty() {
                    String::new()
                } else {
                    format!(" ({}, rejected)", of_them.join(", "))
                };
                reasons.push(format!(
                    "{}: {records} record{}{empty}, MANIFEST.csv (line {}) says {}",
                    kind.file_name(code),
                    if records == 1 { "" } else { "s" },
                    listed.line,
                    listed.rows
                ));
            }
        }
    }
    reasons
}

/// Why the court's rejected rows are too many, if they are.
fn over_reject_limit(st: &CourtStats, settings: &ImportConfig) -> Option<String> {
    too_many_rejects(
        st.rejected,
        st.rows_read,
        settings.reject_share,
        settings.reject_floor,
    )
    .then(|| {
        format!(
            "{} of {} rows rejected, over the limit (more than {}% and at least {})",
            st.rejected,
            st.rows_read,
            settings.reject_share * 100.0,
            settings.reject_floor
        )
    })
}
