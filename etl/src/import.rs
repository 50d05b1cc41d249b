//! `cpor-etl import`: one nightly batch in, one published snapshot out.
//!
//! Stages: check the batch is complete → lock → plan (manifest against the
//! directory) → per court, in parallel: read and hash, decode and apply the
//! rules → carry over courts that are absent or unusable → build the snapshot
//! in a temp file and verify it → publish → retention → report.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use rayon::prelude::*;
use schemas::contract;

use crate::batch::{self, BatchError, CourtPlan};
use crate::config::Config;
use crate::court::{import_court, too_many_rejects, CourtImport};
use crate::date::{compact, roc};
use crate::decode::{load_eudc, Decoder};
use crate::failpoint::pause;
use crate::kinds::FileKind;
use crate::model::CourtData;
use crate::report::{CarriedStats, CourtReport, CourtStatus, Outcome, Report, Timing};
use crate::rules::within_cutoff;
use crate::snapshot::read::Snapshot;
use crate::snapshot::store::Store;
use crate::snapshot::write;
use crate::ui::Ui;

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
    code: String,
    import: Option<CourtImport>,
    reasons: Vec<String>,
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

    // Tonight's courts, in parallel; results come back in court order.
    let total_bytes: u64 = plan
        .courts
        .values()
        .flat_map(|c| c.files.values())
        .filter_map(|(p, _)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ui.bytes_bar("courts", total_bytes);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| internal("thread pool")(&e))?;
    let courts: Vec<(&String, &CourtPlan)> = plan.courts.iter().collect();
    let tonight: Vec<Tonight> = pool.install(|| {
        courts
            .par_iter()
            .map(|(code, court_plan)| {
                let t = import_one(code, court_plan, &decoder, date, config);
                bar.inc(
                    court_plan
                        .files
                        .values()
                        .filter_map(|(p, _)| std::fs::metadata(p).ok())
                        .map(|m| m.len())
                        .sum(),
                );
                t
            })
            .collect()
    });
    bar.finish_and_clear();
    clock.lap("read, decode, rules");
    pause("after-parse");

    // Carry over what tonight did not bring.
    let previous = match &live {
        Some(l) => Some(Snapshot::open(l).map_err(|e| internal("opening the live snapshot")(&e))?),
        None => None,
    };
    let mut data: BTreeMap<String, CourtData> = BTreeMap::new();
    let mut reports: BTreeMap<String, CourtReport> = BTreeMap::new();
    for t in tonight {
        let name = contract().court(&t.code).map(|c| c.name.clone());
        let in_scope = contract().court(&t.code).is_some_and(|c| c.fact_finding);
        let mut r = CourtReport {
            court: t.code.clone(),
            name,
            status: CourtStatus::Unusable,
            reasons: t.reasons.clone(),
            as_of: None,
            stats: None,
            rejects: Vec::new(),
            rejects_not_listed: 0,
            carried: None,
        };
        if let Some(import) = t.import {
            r.rejects_not_listed = import
                .stats
                .rejected
                .saturating_sub(import.rejects.len() as u64);
            r.rejects = import.rejects;
            r.stats = Some(import.stats);
            if !in_scope {
                r.status = CourtStatus::OutOfScope;
            } else if t.reasons.is_empty() {
                r.status = CourtStatus::Imported;
                r.as_of = Some(roc(date));
                data.insert(t.code.clone(), import.data);
            }
        } else if !in_scope {
            r.status = CourtStatus::OutOfScope;
        }
        reports.insert(t.code, r);
    }
    if let Some(prev) = &previous {
        let prev_courts = prev
            .courts()
            .map_err(|e| internal("reading the live snapshot")(&e))?;
        for court in prev_courts {
            if data.contains_key(&court.code) {
                continue;
            }
            let reason = match reports.get(&court.code) {
                Some(r) => format!(
                    "not imported from batch {}: {}",
                    compact(date),
                    r.reasons.join("; ")
                ),
                None => format!("absent from batch {}", compact(date)),
            };
            let mut carried = prev
                .court_data(&court.code)
                .map_err(|e| internal("reading the live snapshot")(&e))?
                .expect("court listed by the snapshot");
            carried.carry_reason = Some(reason.clone());
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
            let r = reports
                .entry(court.code.clone())
                .or_insert_with(|| CourtReport {
                    court: court.code.clone(),
                    name: Some(court.name.clone()),
                    status: CourtStatus::CarriedOver,
                    reasons: vec![format!("absent from batch {}", compact(date))],
                    as_of: None,
                    stats: None,
                    rejects: Vec::new(),
                    rejects_not_listed: 0,
                    carried: None,
                });
            r.status = CourtStatus::CarriedOver;
            r.as_of = Some(roc(carried.as_of));
            r.carried = Some(stats);
            data.insert(court.code.clone(), carried);
        }
    }
    drop(previous);
    report.courts = reports.into_values().collect();
    clock.lap("carry over");

    let imported = report
        .courts
        .iter()
        .any(|c| c.status == CourtStatus::Imported);
    if !imported {
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

    let courts: Vec<CourtData> = data.into_values().collect();
    let temp = store.temp_path(date);
    let counts_expected = write::Counts::expected(&courts);
    let bar = ui.count_bar("snapshot", counts_expected.cases);
    let built = write::build(&temp, date, &courts, &|n| bar.inc(n));
    bar.finish_and_clear();
    drop(courts);
    let counts = match built {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(internal("building the snapshot")(&e));
        }
    };
    clock.lap("write and verify snapshot");
    pause("before-publish");
    let published = store
        .publish(&temp, date)
        .map_err(|e| internal("publishing")(&e))?;
    clock.lap("publish");
    pause("after-publish");
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
    finish(&mut report, clock, &report_path)?;
    Ok(ImportRun {
        report,
        report_path,
    })
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
    let mut reasons = plan.problems.clone();
    if !reasons.is_empty() {
        return Tonight {
            code: code.to_string(),
            import: None,
            reasons,
        };
    }
    let files = match batch::read_verified(plan) {
        Ok(files) => files,
        Err(problems) => {
            return Tonight {
                code: code.to_string(),
                import: None,
                reasons: problems,
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
        code: code.to_string(),
        import: Some(import),
        reasons,
    }
}
