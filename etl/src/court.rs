//! One court's import: its verified files in, its part of the snapshot plus
//! statistics and rejects out.
//!
//! The case file is read first, because every other file's rows must name a
//! case it lists. Progress rows are collapsed to their standing versions,
//! grants to each (case, address) pair's last row, and the scope rules decide
//! which cases keep entries, grants and prosecutors.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::decode::Decoder;
use crate::kinds::progress::Version;
use crate::kinds::scan::{DataFile, FileScan, ParScan, ScanStats};
use crate::kinds::{applicant, case, progress, prosecutor, CaseKey, FieldError, FileKind, Reject};
use crate::model::{CaseData, CourtData, EntryData, GrantData};
use crate::rules::{collapse_versions, latest_three, scope, Scope};

/// Counts the report gives for an imported court.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CourtStats {
    pub files: BTreeMap<FileKind, FileScan>,
    pub rows_read: u64,
    pub rejected: u64,
    /// Rejects per file and field (`TPD_progress.csv 登載日期`), complete
    /// even when the list of rejects is cut short.
    pub rejected_by_field: BTreeMap<String, u64>,
    pub versions_collapsed: u64,
    pub withdrawn: u64,
    pub cases: u64,
    pub cases_queryable: u64,
    pub cases_past_cutoff: u64,
    pub cases_out_of_scope_court: u64,
    pub cases_out_of_scope_category: u64,
    pub entries_kept: u64,
    pub grants_active: u64,
    pub grants_revoked: u64,
    pub prosecutor_assignments: u64,
    pub udc_mapped: u64,
    pub udc_unmapped: u64,
    /// Unmapped user-defined codes and how often each was met: what a clerk
    /// should add to EUDC.csv.
    pub udc_unmapped_codes: BTreeMap<String, u64>,
}

impl CourtStats {
    fn add_file(&mut self, file: &DataFile<'_>, scan: ScanStats) {
        self.files.insert(
            file.kind,
            FileScan {
                encoding: Some(file.encoding),
                records: scan.records,
                rejected: scan.rejected,
            },
        );
        self.rows_read += scan.records;
        self.rejected += scan.rejected;
        for (k, v) in scan.rejected_by_field {
            *self.rejected_by_field.entry(k).or_default() += v;
        }
        self.udc_mapped += scan.udc_mapped;
        for (k, v) in scan.udc_unmapped {
            self.udc_unmapped += v;
            *self.udc_unmapped_codes.entry(k).or_default() += v;
        }
    }
}

/// Takes what a file's parallel scan gave into the court's counts and
/// rejects; a file that could not be read at all becomes a file error.
fn accept<T, S>(
    scanned: Result<Scanned<'_, T, S>, String>,
    stats: &mut CourtStats,
    rejects: &mut Vec<Reject>,
    file_errors: &mut Vec<String>,
) -> Vec<(Vec<T>, S)> {
    match scanned {
        Ok(Some((file, scan))) => {
            stats.add_file(&file, scan.stats);
            rejects.extend(scan.rejects);
            scan.chunks
        }
        Ok(None) => Vec::new(),
        Err(e) => {
            file_errors.push(e);
            Vec::new()
        }
    }
}

/// Consecutive progress rows of one case within one chunk.
#[derive(Debug, Clone, Copy)]
struct Run {
    chunk: u32,
    start: u32,
    end: u32,
}

/// What importing one court gave.
#[derive(Debug)]
pub struct CourtImport {
    pub data: CourtData,
    pub stats: CourtStats,
    /// The first `max_listed` rejects, in file order (case, progress,
    /// applicant, prosecutor).
    pub rejects: Vec<Reject>,
    /// A file that could not be used at all (wrong header): the court is
    /// unusable tonight.
    pub file_errors: Vec<String>,
}

/// A file and what its parallel scan gave, if the court sent it.
type Scanned<'a, T, S> = Option<(DataFile<'a>, ParScan<T, S>)>;

/// Imports one court from its files' bytes (already checked against the
/// manifest).
pub fn import_court(
    code: &str,
    name: &str,
    files: &BTreeMap<FileKind, Vec<u8>>,
    decoder: &Decoder,
    batch_date: NaiveDate,
    max_listed: usize,
    chunk_bytes: usize,
) -> CourtImport {
    let mut stats = CourtStats::default();
    let mut rejects: Vec<Reject> = Vec::new();
    let mut file_errors = Vec::new();
    let open = |kind: FileKind| -> Option<Result<DataFile<'_>, String>> {
        files
            .get(&kind)
            .map(|bytes| DataFile::open(bytes, code, kind, decoder).map_err(|e| e.to_string()))
    };

    // Cases first, one thread: every other row must name a case listed here,
    // and a case listed twice is rejected the second time.
    let mut cases: Vec<(CaseKey, case::CaseRow)> = Vec::new();
    let mut index: FxHashMap<CaseKey, (u32, u64)> = FxHashMap::default();
    match open(FileKind::Case) {
        Some(Ok(file)) => {
            let (scan, listed) = file.for_each(decoder, None, max_listed, |r| {
                let row = case::parse(r)?;
                if let Some((_, first)) = index.get(r.key) {
                    return Err(FieldError::at(
                        4,
                        format!(
                            "case {} is listed again (first on line {first}); one row per case",
                            r.key
                        ),
                    ));
                }
                let line = r.line().expect("the case file is scanned in one pass");
                index.insert(r.key.clone(), (cases.len() as u32, line));
                cases.push((r.key.clone(), row));
                Ok(())
            });
            stats.add_file(&file, scan);
            rejects.extend(listed);
        }
        Some(Err(e)) => file_errors.push(e),
        None => {}
    }

    let case_file = FileKind::Case.file_name(code);
    // Named by its 案號 column: the key as a whole names no case.
    let resolve = |key: &CaseKey| {
        index
            .get(key)
            .map(|&(i, _)| i)
            .ok_or_else(|| FieldError::at(4, format!("case {key} is not in {case_file}")))
    };
    fn par<'a, T: Send, S: Default + Send>(
        file: Option<Result<DataFile<'a>, String>>,
        decoder: &Decoder,
        resolve: &(dyn Fn(&CaseKey) -> Result<u32, FieldError> + Sync),
        (max_listed, chunk_bytes): (usize, usize),
        parse: impl Fn(&crate::kinds::scan::Record<'_>, &mut S) -> Result<T, FieldError> + Sync,
    ) -> Result<Scanned<'a, T, S>, String> {
        match file {
            None => Ok(None),
            Some(Err(e)) => Err(e),
            Some(Ok(file)) => {
                let scan = file.par_map(chunk_bytes, decoder, Some(resolve), max_listed, parse);
                Ok(Some((file, scan)))
            }
        }
    }

    let (progress_scan, (applicant_scan, prosecutor_scan)) = rayon::join(
        || {
            par(
                open(FileKind::Progress),
                decoder,
                &resolve,
                (max_listed, chunk_bytes),
                |r, arena: &mut String| progress::parse(r, arena).map(|v| (r.case, v)),
            )
        },
        || {
            rayon::join(
                || {
                    par(
                        open(FileKind::Applicant),
                        decoder,
                        &resolve,
                        (max_listed, chunk_bytes),
                        |r, _: &mut ()| applicant::parse(r).map(|a| (r.case, a)),
                    )
                },
                || {
                    par(
                        open(FileKind::Prosecutor),
                        decoder,
                        &resolve,
                        (max_listed, chunk_bytes),
                        |r, _: &mut ()| prosecutor::parse(r).map(|a| (r.case, a)),
                    )
                },
            )
        },
    );

    // Progress rows, chunk by chunk in file order. Rows of one case mostly
    // come as one run; a case whose rows are spread over several runs has
    // the later ones listed in `more_runs`.
    let mut progress: Vec<Vec<(u32, Version)>> = Vec::new();
    let mut arenas: Vec<String> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut first_run: Vec<u32> = vec![u32::MAX; cases.len()];
    let mut more_runs: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let chunks = accept(progress_scan, &mut stats, &mut rejects, &mut file_errors);
    for (chunk, (rows, arena)) in chunks.into_iter().enumerate() {
        let mut start = 0;
        while start < rows.len() {
            let case = rows[start].0;
            let end = start + rows[start..].iter().take_while(|(c, _)| *c == case).count();
            let id = runs.len() as u32;
            runs.push(Run {
                chunk: chunk as u32,
                start: start as u32,
                end: end as u32,
            });
            if first_run[case as usize] == u32::MAX {
                first_run[case as usize] = id;
            } else {
                more_runs.entry(case).or_default().push(id);
            }
            start = end;
        }
        progress.push(rows);
        arenas.push(arena);
    }
    // One case's standing versions, in a buffer reused from case to case.
    let mut standing: Vec<(u32, Version)> = Vec::new();
    let gather = |case: usize, stats: &mut CourtStats, standing: &mut Vec<(u32, Version)>| {
        standing.clear();
        let first = first_run[case];
        if first == u32::MAX {
            return;
        }
        let more = more_runs.get(&(case as u32)).map_or(&[][..], Vec::as_slice);
        for &id in std::iter::once(&first).chain(more) {
            let run = runs[id as usize];
            let rows = &progress[run.chunk as usize][run.start as usize..run.end as usize];
            standing.extend(rows.iter().map(|&(_, v)| (run.chunk, v)));
        }
        stats.versions_collapsed += collapse_versions(standing, |(_, v)| v);
        stats.withdrawn += standing.iter().filter(|(_, v)| v.withdrawn).count() as u64;
    };

    // Each (case, address) pair's last row stands.
    let mut case_grants: Vec<Vec<GrantData>> = vec![Vec::new(); cases.len()];
    let chunks = accept(applicant_scan, &mut stats, &mut rejects, &mut file_errors);
    let mut last: FxHashMap<(u32, String), applicant::ApplicantRow> = FxHashMap::default();
    for (rows, ()) in chunks {
        for (case, row) in rows {
            last.insert((case, row.email.clone()), row);
        }
    }
    for ((case, email), row) in last {
        if row.approved {
            case_grants[case as usize].push(GrantData {
                email,
                role: row.role,
                approved: row.decided,
            });
        } else {
            stats.grants_revoked += 1;
        }
    }

    let mut case_prosecutors: Vec<Vec<String>> = vec![Vec::new(); cases.len()];
    let chunks = accept(prosecutor_scan, &mut stats, &mut rejects, &mut file_errors);
    for (rows, ()) in chunks {
        for (case, account) in rows {
            case_prosecutors[case as usize].push(account);
        }
    }
    rejects.truncate(max_listed);

    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_unstable_by(|&a, &b| cases[a].0.cmp(&cases[b].0));
    let mut out = Vec::with_capacity(cases.len());
    for i in order {
        let (key, row) = &cases[i];
        stats.cases += 1;
        gather(i, &mut stats, &mut standing);
        let mut data = CaseData {
            key: key.clone(),
            division: row.division.clone(),
            status: row.status.clone(),
            status_date: row.status_date,
            queryable: true,
            entries: Vec::new(),
            grants: Vec::new(),
            prosecutors: Vec::new(),
        };
        match scope(
            code,
            &key.category,
            &row.status,
            row.status_date,
            batch_date,
        ) {
            Scope::CourtOutOfScope => {
                stats.cases_out_of_scope_court += 1;
                continue;
            }
            Scope::CategoryOutOfScope => {
                stats.cases_out_of_scope_category += 1;
                continue;
            }
            Scope::PastCutoff => {
                stats.cases_past_cutoff += 1;
                data.expire();
            }
            Scope::Queryable => {
                stats.cases_queryable += 1;
                latest_three(&mut standing, |(_, v)| v);
                data.entries = standing
                    .iter()
                    .map(|&(chunk, v)| EntryData {
                        seq: v.seq,
                        posted: v.posted,
                        text: v.text.get(&arenas[chunk as usize]).to_string(),
                        modified: v.modified,
                    })
                    .collect();
                data.grants = std::mem::take(&mut case_grants[i]);
                data.grants.sort_unstable_by(|a, b| a.email.cmp(&b.email));
                data.prosecutors = std::mem::take(&mut case_prosecutors[i]);
                data.prosecutors.sort_unstable();
                data.prosecutors.dedup();
                stats.entries_kept += data.entries.len() as u64;
                stats.grants_active += data.grants.len() as u64;
                stats.prosecutor_assignments += data.prosecutors.len() as u64;
            }
        }
        out.push(data);
    }

    CourtImport {
        data: CourtData {
            code: code.to_string(),
            name: name.to_string(),
            as_of: batch_date,
            carry_reason: None,
            cases: out,
        },
        stats,
        rejects,
        file_errors,
    }
}

/// The contract's limit: a court whose rejected rows are more than `share`
/// of all its data rows and at least `floor` rows is unusable tonight.
pub fn too_many_rejects(rejected: u64, rows: u64, share: f64, floor: u64) -> bool {
    rejected >= floor && (rejected as f64) > share * rows as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_limit_needs_both_share_and_floor() {
        assert!(!too_many_rejects(9, 100, 0.02, 10)); // 9% but under the floor
        assert!(too_many_rejects(10, 100, 0.02, 10));
        assert!(!too_many_rejects(10, 500, 0.02, 10)); // exactly 2% is not more
        assert!(too_many_rejects(11, 500, 0.02, 10));
        assert!(!too_many_rejects(0, 0, 0.02, 0));
    }
}
