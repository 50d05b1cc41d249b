//! One court's import: its verified files in, its part of the snapshot plus
//! statistics and rejects out.
//!
//! The case file is read first, because every other file's rows must name a
//! case it lists. Progress rows are collapsed to their standing versions,
//! grants to each (case, address) pair's last row, and the scope rules decide
//! which cases keep entries, grants and prosecutors.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use crate::decode::{Decoder, UdcSeen};
use crate::kinds::{
    self, applicant, case, progress, prosecutor, CaseKey, FieldError, FileKind, FileScan, Reject,
};
use crate::model::{CaseData, CourtData, EntryData, GrantData};
use crate::rules::{latest_three, scope, Scope, Versions};

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
    fn count_udc(&mut self, udc: &UdcSeen) {
        self.udc_mapped += u64::from(udc.mapped);
        self.udc_unmapped += udc.unmapped.len() as u64;
        for code in &udc.unmapped {
            *self.udc_unmapped_codes.entry(code.clone()).or_default() += 1;
        }
    }
}

/// What importing one court gave.
#[derive(Debug)]
pub struct CourtImport {
    pub data: CourtData,
    pub stats: CourtStats,
    /// The first `max_listed` rejects, in file order.
    pub rejects: Vec<Reject>,
    /// A file that could not be used at all (wrong header): the court is
    /// unusable tonight.
    pub file_errors: Vec<String>,
}

/// Collects rejects: all of them counted, the first `max_listed` kept.
struct Rejects<'a> {
    stats: &'a mut CourtStats,
    listed: &'a mut Vec<Reject>,
    max_listed: usize,
}

impl Rejects<'_> {
    fn push(&mut self, r: Reject) {
        self.stats.rejected += 1;
        let field = r.field.as_deref().unwrap_or("(row)");
        *self
            .stats
            .rejected_by_field
            .entry(format!("{} {field}", r.file))
            .or_default() += 1;
        if self.listed.len() < self.max_listed {
            self.listed.push(r);
        }
    }
}

/// Imports one court from its files' bytes (already checked against the
/// manifest). `files` must hold the required kinds.
pub fn import_court(
    code: &str,
    name: &str,
    files: &BTreeMap<FileKind, Vec<u8>>,
    decoder: &Decoder,
    batch_date: NaiveDate,
    max_listed: usize,
) -> CourtImport {
    let mut stats = CourtStats::default();
    let mut listed = Vec::new();
    let mut file_errors = Vec::new();
    let mut rejects = Rejects {
        stats: &mut stats,
        listed: &mut listed,
        max_listed,
    };
    let mut scans = BTreeMap::new();
    let empty = Vec::new();
    let bytes = |kind| files.get(&kind).unwrap_or(&empty);

    // Cases, in file order; `index` finds them by key.
    let mut cases: Vec<(CaseKey, case::CaseRow)> = Vec::new();
    let mut index: HashMap<CaseKey, (u32, u64)> = HashMap::new();
    let mut udc_counts = CourtStats::default();
    let mut scan =
        |kind: FileKind,
         rejects: &mut Rejects<'_>,
         row: &mut dyn FnMut(&kinds::Record<'_>) -> Result<(), FieldError>| {
            if !files.contains_key(&kind) {
                return;
            }
            match kinds::scan_file(bytes(kind), code, kind, decoder, row, |r| rejects.push(r)) {
                Ok(s) => {
                    scans.insert(kind, s);
                }
                Err(e) => file_errors.push(e.to_string()),
            }
        };

    scan(FileKind::Case, &mut rejects, &mut |r| {
        let row = case::parse(r)?;
        if let Some((_, first)) = index.get(&r.key) {
            return Err(FieldError::at(
                4,
                format!(
                    "case {} is listed again (first on line {first}); one row per case",
                    r.key
                ),
            ));
        }
        index.insert(r.key.clone(), (cases.len() as u32, r.line));
        cases.push((r.key.clone(), row));
        udc_counts.count_udc(r.udc);
        Ok(())
    });

    let case_file = FileKind::Case.file_name(code);
    let find = |key: &CaseKey| {
        // Named by its 案號 column: the key as a whole names no case.
        index
            .get(key)
            .map(|&(i, _)| i)
            .ok_or_else(|| FieldError::at(4, format!("case {key} is not in {case_file}")))
    };

    let mut versions: Versions<(u32, u32)> = Versions::default();
    scan(FileKind::Progress, &mut rejects, &mut |r| {
        let case = find(&r.key)?;
        let row = progress::parse(r)?;
        versions.add((case, row.seq), row);
        udc_counts.count_udc(r.udc);
        Ok(())
    });

    // Each (case, address) pair's last row stands.
    let mut grants: HashMap<(u32, String), applicant::ApplicantRow> = HashMap::new();
    scan(FileKind::Applicant, &mut rejects, &mut |r| {
        let case = find(&r.key)?;
        let row = applicant::parse(r)?;
        udc_counts.count_udc(r.udc);
        grants.insert((case, row.email.clone()), row);
        Ok(())
    });

    let mut prosecutors: BTreeSet<(u32, String)> = BTreeSet::new();
    scan(FileKind::Prosecutor, &mut rejects, &mut |r| {
        let case = find(&r.key)?;
        let account = prosecutor::parse(r)?;
        prosecutors.insert((case, account));
        Ok(())
    });

    stats.files = scans;
    stats.rows_read = stats.files.values().map(|s| s.records).sum();
    stats.udc_mapped = udc_counts.udc_mapped;
    stats.udc_unmapped = udc_counts.udc_unmapped;
    stats.udc_unmapped_codes = udc_counts.udc_unmapped_codes;
    stats.versions_collapsed = versions.collapsed;

    // Standing entries, grouped by case.
    let mut entries: Vec<Vec<progress::ProgressRow>> = vec![Vec::new(); cases.len()];
    for ((case, _), row) in versions.into_winners() {
        if row.withdrawn {
            stats.withdrawn += 1;
        }
        entries[case as usize].push(row);
    }
    let mut case_grants: Vec<Vec<GrantData>> = vec![Vec::new(); cases.len()];
    for ((case, email), row) in grants {
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
    for (case, account) in prosecutors {
        case_prosecutors[case as usize].push(account);
    }

    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_unstable_by(|&a, &b| cases[a].0.cmp(&cases[b].0));
    let mut out = Vec::with_capacity(cases.len());
    for i in order {
        let (key, row) = &cases[i];
        stats.cases += 1;
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
                let mut standing = std::mem::take(&mut entries[i]);
                latest_three(&mut standing);
                data.entries = standing
                    .into_iter()
                    .map(|e| EntryData {
                        seq: e.seq,
                        posted: e.posted,
                        text: e.text,
                        modified: e.modified,
                    })
                    .collect();
                data.grants = std::mem::take(&mut case_grants[i]);
                data.grants.sort_unstable_by(|a, b| a.email.cmp(&b.email));
                data.prosecutors = std::mem::take(&mut case_prosecutors[i]);
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
        rejects: listed,
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
