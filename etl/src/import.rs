//! `cpor-etl import`: one nightly batch in, one published snapshot out.
//!
//! Stages: check the batch is complete → lock → plan (manifest against the
//! directory) → per court, in parallel: read and hash, decode and apply the
//! rules → carry over courts that are absent or unusable → build the snapshot
//! in a temp file and verify it → publish → retention → report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use indicatif::ProgressBar;
use schemas::contract;

use crate::batch::{self, BatchError, CourtPlan};
use crate::config::Config;
use crate::court::{import_court, too_many_rejects, CourtImport};
use crate::decode::{load_eudc, Decoder};
use crate::kinds::FileKind;
use crate::report::{CarriedStats, CourtReport, CourtStatus, Outcome, Report, Timing};
use crate::rules::within_cutoff;
use crate::snapshot::read::{CourtRow, Snapshot};
use crate::snapshot::write::Builder;
use crate::ui::Ui;
use schemas::date::{compact, roc};
use store::failpoint::pause;
use store::layout::Store;

/// Exit codes of `cpor-etl import` (also in `--help` and the README).
pub mod exit {
    pub const PUBLISHED: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const NOT_PUBLISHED: i32 = 2;
    pub const CARRIED_OVER: i32 = 3;
    pub const LOCKED: i32 = 5;
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub batch_dir: PathBuf,
    pub force: bool,
}

/// Why an import stopped before publishing, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("{0}")]
    Locked(String),
    #[error("batch {batch} is older than the live snapshot {live}; nothing imported (use --force to import it anyway)")]
    Older { batch: String, live: String },
    #[error("{0}")]
    Internal(String),
}

impl ImportError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ImportError::Batch(
                BatchError::Incomplete(_) | BatchError::BadName(_) | BatchError::BadManifest { .. },
            ) => exit::NOT_PUBLISHED,
            ImportError::Locked(_) => exit::LOCKED,
            ImportError::Batch(BatchError::Io { .. })
            | ImportError::Older { .. }
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
    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.timings.push(Timing {
            stage,
            ms: (now - self.last).as_millis() as u64,
        });
        self.last = now;
    }
}

pub fn run(
    config: &Config,
    opts: &ImportOptions,
    threads: usize,
) -> Result<ImportRun, ImportError> {
    let started_at = chrono::Utc::now();
    let mut clock = Stopwatch {
        last: Instant::now(),
        timings: Vec::new(),
    };
    // Nothing is touched until the batch is known to be complete.
    let date = batch::check_complete(&opts.batch_dir)?;
    let store = Store::new(&config.data_dir);
    store
        .create_dirs()
        .map_err(|e| internal("data directory")(&e))?;
    let _lock = store.lock().map_err(ImportError::Locked)?;
    pause("after-lock");
    for stale in store
        .clean_stale()
        .map_err(|e| internal("cleaning stale files")(&e))?
    {
        tracing::warn!("removed {} left by an interrupted run", stale.display());
    }
    let live = store.live().map_err(|e| internal("reading CURRENT")(&e))?;
    if let Some(live) = &live {
        if date < live.date && !opts.force {
            return Err(ImportError::Older {
                batch: compact(date),
                live: live.name(),
            });
        }
    }

    let ui = Ui::new();
    let mut report = Report {
        batch: compact(date),
        batch_dir: opts.batch_dir.display().to_string(),
        started_at: started_at.to_rfc3339(),
        finished_at: String::new(),
        outcome: Outcome::NotPublished,
        exit_code: exit::NOT_PUBLISHED,
        message: None,
        snapshot: None,
        counts: None,
        previous: live.as_ref().map(|l| l.name()),
        threads,
        courts: Vec::new(),
        eudc_mappings: 0,
        mail: None,
        mail_error: None,
        warnings: Vec::new(),
        timings_ms: Vec::new(),
    };
    let report_path = store.reports_dir().join(format!("{}.json", compact(date)));

    let plan = match batch::plan(&opts.batch_dir) {
        Ok(plan) => plan,
        Err(e) => {
            report.message = Some(e.to_string());
            finish(&mut report, clock, &report_path)?;
            return Err(e.into());
        }
    };
    report.warnings.extend(plan.warnings.iter().cloned());
    let (eudc, eudc_errors) = load_eudc(&opts.batch_dir.join(&contract().batch.eudc))
        .map_err(|e| internal("EUDC.csv")(&e))?;
    report.eudc_mappings = eudc.len();
    for e in eudc_errors {
        report
            .warnings
            .push(format!("EUDC.csv:{}: {}", e.line, e.reason));
    }
    let decoder = Decoder::new(eudc);
    clock.lap("plan");

    // Tonight's courts are parsed by `threads` workers, in code order, while
    // this thread writes each court into the snapshot as soon as it and every
    // court before it are done. A court that did not come, or came unusable,
    // is carried over from the previous snapshot at its place in the order.
    let previous = match &live {
        Some(l) => Some(Snapshot::open(l).map_err(|e| internal("opening the live snapshot")(&e))?),
        None => None,
    };
    let prev_courts: BTreeMap<String, CourtRow> = match &previous {
        Some(p) => p
            .courts()
            .map_err(|e| internal("reading the live snapshot")(&e))?
            .into_iter()
            .map(|c| (c.code.clone(), c))
            .collect(),
        None => BTreeMap::new(),
    };
    let courts: Vec<(&String, &CourtPlan)> = plan.courts.iter().collect();
    let order: BTreeSet<&String> = plan.courts.keys().chain(prev_courts.keys()).collect();
    let total_bytes: u64 = courts.iter().map(|(_, p)| plan_bytes(p)).sum();
    let read_bar = ui.bytes_bar("read", total_bytes);
    let write_bar = ui.count_bar("write", order.len() as u64, "courts");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| internal("thread pool")(&e))?;
    let temp = store.temp_path(date);
    let mut builder =
        Builder::create(&temp, date).map_err(|e| internal("creating the snapshot")(&e))?;
    // Measured on the national batch: 4 courts per worker keeps both cores
    // busy; a wider window only adds memory.
    let gate = Gate::new(threads * 4);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Tonight)>();
    let mut reports: Vec<CourtReport> = Vec::new();
    let written: Result<(), ImportError> = std::thread::scope(|scope| {
        // Court workers are plain threads, not rayon jobs: they block on the
        // gate, and a rayon thread waiting inside one court's chunks could
        // otherwise steal a worker loop, block in it, and never finish the
        // court the writer waits for. Only the parse itself, which never
        // blocks, runs in the pool.
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, gate, courts, decoder, read_bar, pool) =
                (&next, &gate, &courts, &decoder, &read_bar, &pool);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= courts.len() || !gate.wait_for(i) {
                    break;
                }
                let (code, court_plan) = courts[i];
                let t = pool.install(|| import_one(code, court_plan, decoder, date, config));
                read_bar.inc(plan_bytes(court_plan));
                if tx.send((i, t)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let result = write_courts(
            &order,
            &courts,
            &rx,
            &gate,
            &prev_courts,
            previous.as_ref(),
            date,
            &mut builder,
            &mut reports,
            &write_bar,
        );
        // Whatever happened, let the workers go.
        gate.abort();
        drop(rx);
        result
    });
    read_bar.finish_and_clear();
    write_bar.finish_and_clear();
    drop(previous);
    report.courts = reports;
    if let Err(e) = written {
        drop(builder);
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    clock.lap("courts: read, decode, rules, write");
    tracing::debug!("inserting rows took {} ms", builder.insert_ms);
    pause("after-parse");

    let imported = report
        .courts
        .iter()
        .any(|c| c.status == CourtStatus::Imported);
    if !imported {
        drop(builder);
        let _ = std::fs::remove_file(&temp);
        report.message = Some(format!(
            "no court of batch {} could be imported; the live snapshot stays as it is",
            compact(date)
        ));
        finish(&mut report, clock, &report_path)?;
        return Ok(ImportRun {
            report,
            report_path,
        });
    }

    let verified = pool.install(|| builder.finish(&temp, threads));
    let counts = match verified {
        Ok((counts, times)) => {
            clock.timings.push(Timing {
                stage: "indexes",
                ms: times.indexes_ms,
            });
            clock.timings.push(Timing {
                stage: "verify",
                ms: times.verify_ms,
            });
            clock.last = Instant::now();
            counts
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(internal("building the snapshot")(&e));
        }
    };
    pause("before-publish");
    let next = store
        .next_file(date)
        .map_err(|e| internal("naming the snapshot")(&e))?;
    crate::notify::before_publish(
        &store,
        &config.mail,
        live.as_ref(),
        &next,
        chrono::Utc::now(),
    )
    .map_err(|e| internal("pending mail")(&e))?;
    let published = store
        .publish(&temp, date)
        .map_err(|e| internal("publishing")(&e))?;
    clock.lap("publish");
    pause("after-publish");
    let queued = if config.mail.enabled {
        crate::notify::notify(
            &store,
            &config.mail,
            live.as_ref(),
            &published,
            chrono::Utc::now(),
        )
    } else {
        Ok(crate::notify::queue::QueueSummary {
            no_digests: Some("mail is disabled (mail.enabled = false): nothing queued".into()),
            ..Default::default()
        })
    };
    match queued {
        Ok(mail) => report.mail = Some(mail),
        Err(e) => {
            report.mail_error = Some(format!(
                "snapshot {} is published, but its mail was not queued: {e}; the next import or send finishes it",
                published.name()
            ));
        }
    }
    clock.lap("diff and queue mail");
    for gone in store
        .retain(config.import.keep_snapshots as usize)
        .map_err(|e| internal("retention")(&e))?
    {
        tracing::info!("removed old snapshot {}", gone.name());
    }
    clock.lap("retention");

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
    report.snapshot = Some(published.name());
    report.counts = Some(counts);
    if report.mail_error.is_some() {
        report.exit_code = exit::ERROR;
    }
    finish(&mut report, clock, &report_path)?;
    Ok(ImportRun {
        report,
        report_path,
    })
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
#[allow(clippy::too_many_arguments)]
fn write_courts(
    order: &BTreeSet<&String>,
    courts: &[(&String, &CourtPlan)],
    rx: &mpsc::Receiver<(usize, Tonight)>,
    gate: &Gate,
    prev_courts: &BTreeMap<String, CourtRow>,
    previous: Option<&Snapshot>,
    date: NaiveDate,
    builder: &mut Builder,
    reports: &mut Vec<CourtReport>,
    bar: &ProgressBar,
) -> Result<(), ImportError> {
    let mut pending: BTreeMap<usize, Tonight> = BTreeMap::new();
    let mut consumed = 0;
    for &code in order {
        bar.inc(1);
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
            carried: None,
        };
        if let Some(i) = courts.iter().position(|(c, _)| *c == code) {
            let t = loop {
                if let Some(t) = pending.remove(&i) {
                    break t;
                }
                let (j, t) = rx.recv().map_err(|_| {
                    ImportError::Internal(format!("the worker importing {code} stopped"))
                })?;
                pending.insert(j, t);
            };
            consumed = consumed.max(i + 1);
            gate.advance(consumed);
            r.reasons = t.reasons;
            r.parse_ms = Some(t.ms);
            if let Some(import) = t.import {
                r.rejects_not_listed = import
                    .stats
                    .rejected
                    .saturating_sub(import.rejects.len() as u64);
                r.rejects = import.rejects;
                r.stats = Some(import.stats);
                if !in_scope {
                    r.status = CourtStatus::OutOfScope;
                } else if r.reasons.is_empty() {
                    builder
                        .add_court(&import.data)
                        .map_err(|e| internal("writing the snapshot")(&e))?;
                    r.status = CourtStatus::Imported;
                    r.as_of = Some(roc(date));
                }
            } else if !in_scope {
                r.status = CourtStatus::OutOfScope;
            }
        }
        if matches!(r.status, CourtStatus::Unusable) && prev_courts.contains_key(code.as_str()) {
            let prev = previous.expect("courts come from the previous snapshot");
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
            let mut carried = prev
                .court_data(code)
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
            builder
                .add_court(&carried)
                .map_err(|e| internal("writing the snapshot")(&e))?;
            r.status = CourtStatus::CarriedOver;
            r.as_of = Some(roc(carried.as_of));
            r.carried = Some(stats);
        }
        reports.push(r);
    }
    Ok(())
}

fn finish(report: &mut Report, clock: Stopwatch, path: &Path) -> Result<(), ImportError> {
    report.timings_ms = clock.timings;
    report.finished_at = chrono::Utc::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(&report).map_err(|e| internal("report")(&e))?;
    Store::write_atomically(path, &json).map_err(|e| internal("writing the report")(&e))
}

/// Reads, checks and imports one court's files.
fn import_one(
    code: &str,
    plan: &CourtPlan,
    decoder: &Decoder,
    date: NaiveDate,
    config: &Config,
) -> Tonight {
    let started = Instant::now();
    let mut t = import_checked(code, plan, decoder, date, config);
    t.ms = started.elapsed().as_millis() as u64;
    t
}

fn import_checked(
    code: &str,
    plan: &CourtPlan,
    decoder: &Decoder,
    date: NaiveDate,
    config: &Config,
) -> Tonight {
    let mut reasons = plan.problems.clone();
    if !reasons.is_empty() {
        return Tonight {
            import: None,
            reasons,
            ms: 0,
        };
    }
    let files = match batch::read_verified(plan) {
        Ok(files) => files,
        Err(problems) => {
            return Tonight {
                import: None,
                reasons: problems,
                ms: 0,
            }
        }
    };
    let name = contract().court(code).map_or("", |c| c.name.as_str());
    let import = import_court(
        code,
        name,
        &files,
        decoder,
        date,
        config.import.max_listed_rejects as usize,
        config.import.chunk_bytes as usize,
    );
    drop(files);
    reasons.extend(import.file_errors.iter().cloned());
    let counted: HashMap<FileKind, u64> = import
        .stats
        .files
        .iter()
        .map(|(k, s)| (*k, s.records))
        .collect();
    for (kind, (_, listed)) in &plan.files {
        if let Some(&records) = counted.get(kind) {
            if records != listed.rows {
                reasons.push(format!(
                    "{}: {records} records, MANIFEST.csv (line {}) says {}",
                    kind.file_name(code),
                    listed.line,
                    listed.rows
                ));
            }
        }
    }
    let st = &import.stats;
    if too_many_rejects(
        st.rejected,
        st.rows_read,
        config.import.reject_share,
        config.import.reject_floor,
    ) {
        reasons.push(format!(
            "{} of {} rows rejected, over the limit (more than {}% and at least {})",
            st.rejected,
            st.rows_read,
            config.import.reject_share * 100.0,
            config.import.reject_floor
        ));
    }
    Tonight {
        import: Some(import),
        reasons,
        ms: 0,
    }
}
