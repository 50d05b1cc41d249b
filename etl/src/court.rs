//! One court's import: its verified files in, its part of the snapshot plus
//! statistics and rejects out.
//!
//! The case file is read first, because every other file's rows must name a
//! case it lists. Progress rows are collapsed to their standing versions,
//! grants to each (case, address) pair's last row, and the scope rules decide
//! which cases keep entries, grants, prosecutors and hearings (read from all
//! of a case's existing entries, `hearings`). Each step is a function below,
//! in the order `import_court` calls them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::decode::Decoder;
use crate::hearings;
use crate::kinds::progress::Version;
use crate::kinds::scan::{DataFile, FileError, FileScan, ParScan, Record, Resolve, ScanStats};
use crate::kinds::{applicant, case, progress, prosecutor, CaseKey, FieldError, FileKind, Reject};
use crate::model::{CaseData, CourtData, EntryData, GrantData, HearingList};
use crate::rules::{collapse_versions, existing_newest_first, scope, Scope};
use schemas::hearing_list::Hearing;

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
    /// Cases left out of tonight's files (a rejected row, or listed twice)
    /// whose previous version is kept for the next night's comparison
    /// only (`CaseData::as_of`).
    pub cases_left_out_kept: u64,
    pub entries_kept: u64,
    /// Hearings the queryable cases' entries schedule (rows of the
    /// `hearings` table), and how many of them the rules were unsure about.
    pub hearings: u64,
    pub hearings_uncertain: u64,
    /// Queryable cases whose hearings were copied from the live snapshot,
    /// their key and entries unchanged since (`Earlier`), not read again.
    pub hearing_lists_reused: u64,
    /// Hearings of the cases worked out again whose UID or SEQUENCE was
    /// kept from the live snapshot's lists for the calendars they were
    /// sent to (`hearings::carry_on`): entries the court revised or
    /// withdrew.
    pub hearings_carried_on: u64,
    /// Hearings taking place (scheduled, or uncertain) in the live
    /// snapshot's lists that the cases
    /// worked out again tonight no longer have (their announcing entry
    /// withdrawn): the night's digests cancel them in the calendars that
    /// took them (`notify::corrected`).
    pub hearings_withdrawn: u64,
    pub grants_active: u64,
    pub grants_revoked: u64,
    /// Standing grants to an address no mail can reach (`mail::mailable`).
    pub grants_unmailable: u64,
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
                empty_lines: scan.empty_lines,
                line_breaks: scan.line_breaks,
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

/// What importing a court needs besides its files: which court, the
/// night, and how its files are read.
pub struct Context<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub decoder: &'a Decoder,
    pub batch_date: NaiveDate,
    /// How many rejects are listed (all of them are counted).
    pub max_listed: usize,
    /// Files larger than this are parsed in chunks of about this size.
    pub chunk_bytes: usize,
}

/// What importing one court gave.
#[derive(Debug)]
pub struct CourtImport {
    pub data: CourtData,
    pub stats: CourtStats,
    /// The first `max_listed` rejects, in file order (case, progress,
    /// applicant, prosecutor).
    pub rejects: Vec<Reject>,
    /// The first `max_listed` standing grants to an address no mail can
    /// reach (all are counted: `CourtStats::grants_unmailable`).
    pub unmailable: Vec<Reject>,
    /// A file that could not be used at all (wrong header): the court is
    /// unusable tonight.
    pub file_errors: Vec<FileError>,
    /// The cases left out whole (a rejected row whose key reads, or listed
    /// twice), in key order: the import keeps the previous snapshot's
    /// version of each it had (`import::Writer::keep_left_out`), for the next night's comparison only.
    pub left_out: Vec<CaseKey>,
}

/// The court's hearing lists in the live snapshot, by what they were worked
/// out from: lets a night copy the list of a case whose key and entries
/// did not change instead of reading its entries again (most cases, most
/// nights). Implemented over the snapshot in `snapshot::read`.
pub trait Earlier {
    /// The list the live snapshot holds for the case whose entries have
    /// `digest` (`hearings::Extractor::digest`), and how many of its hearings
    /// are uncertain; `None`: not there, or not to be trusted (then the case
    /// is worked out). Asked in the court's key order.
    fn list(&mut self, digest: u64) -> Option<(HearingList, u32)>;

    /// The list the live snapshot holds for the case `key`, whose entries
    /// changed (no [`Earlier::list`] for them), for tonight's list to carry
    /// on from (`hearings::carry_on`); `None`: none, or not to be read.
    /// Asked in the court's key order, mixed with [`Earlier::list`].
    fn previous(&mut self, key: &CaseKey) -> Option<Vec<Hearing>>;
}

/// Imports one court from its files' bytes (already checked against the
/// manifest), copying from `earlier` the hearing lists of cases that did
/// not change.
pub fn import_court(
    court: &Context<'_>,
    files: &BTreeMap<FileKind, Vec<u8>>,
    earlier: Option<&mut dyn Earlier>,
) -> CourtImport {
    let mut tally = Tally::default();
    let cases = Cases::read(court, open(court, files, FileKind::Case), &mut tally);
    let mut left_out: Vec<CaseKey> = cases.rejected.keys().cloned().collect();
    left_out.sort_unstable();
    let others = scan_others(court, files, &cases);
    // Taken in file order: the rejects are listed in it.
    let n = cases.rows.len();
    let progress = ProgressRows::index(tally.take(others.progress), n);
    let applicants = tally.take(others.applicants);
    let (grants, unmailable) = standing_grants(applicants, n, &mut tally.stats);
    let unmailable = unmailable_listed(court, files, unmailable);
    let prosecutors = assignments(tally.take(others.prosecutors), n);
    tally.rejects.truncate(court.max_listed);
    let out = assemble(
        court,
        &cases,
        &progress,
        grants,
        prosecutors,
        earlier,
        &mut tally.stats,
    );
    CourtImport {
        data: CourtData {
            code: court.code.to_string(),
            name: court.name.to_string(),
            as_of: court.batch_date,
            carry_reason: None,
            cases: out,
        },
        stats: tally.stats,
        rejects: tally.rejects,
        unmailable,
        file_errors: tally.file_errors,
        left_out,
    }
}

/// The first `max_listed` standing grants whose address no mail can reach
/// (`applicant::ApplicantRow::unmailable`), in file order, each named by
/// its file, line and field, as a reject is: the clerk corrects the
/// address, and the next night mails it. Their grants stand.
fn unmailable_listed(
    court: &Context<'_>,
    files: &BTreeMap<FileKind, Vec<u8>>,
    mut found: Vec<(usize, String)>,
) -> Vec<Reject> {
    let Some(Ok(file)) = open(court, files, FileKind::Applicant).filter(|_| !found.is_empty())
    else {
        return Vec::new();
    };
    found.sort_unstable();
    found.truncate(court.max_listed);
    let offsets: Vec<usize> = found.iter().map(|(at, _)| *at).collect();
    let field = FileKind::Applicant.spec().columns[6].clone();
    found
        .into_iter()
        .zip(file.lines_of(&offsets))
        .map(|((_, why), line)| Reject {
            file: file.file.clone(),
            line,
            field: Some(field.clone()),
            reason: format!("{why}; the grant stands, but no mail reaches it: ask the court to correct the address"),
        })
        .collect()
}

/// What the court's files gave besides rows, in file order: counts,
/// rejects, files that could not be used.
#[derive(Default)]
struct Tally {
    stats: CourtStats,
    rejects: Vec<Reject>,
    file_errors: Vec<FileError>,
}

impl Tally {
    /// Counts a file's scan; a quote that swallowed rows (never closed,
    /// or stray) makes the file unusable, since they cannot be told apart.
    fn add_file(&mut self, file: &DataFile<'_>, mut scan: ScanStats) {
        if let Some(e) = scan.swallowed.take() {
            self.file_errors.push(e);
        }
        self.stats.add_file(file, scan);
    }

    /// Takes what a file's parallel scan gave into the court's counts and
    /// rejects, and hands back its chunks; a file that could not be read at
    /// all becomes a file error.
    fn take<T, S>(&mut self, scanned: Result<Scanned<'_, T, S>, FileError>) -> Vec<(Vec<T>, S)> {
        match scanned {
            Ok(Some((file, scan))) => {
                self.add_file(&file, scan.stats);
                self.rejects.extend(scan.rejects);
                scan.chunks
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                self.file_errors.push(e);
                Vec::new()
            }
        }
    }
}

/// A file of the court's with its header checked, if the court sent it.
fn open<'a>(
    court: &Context<'a>,
    files: &'a BTreeMap<FileKind, Vec<u8>>,
    kind: FileKind,
) -> Option<Result<DataFile<'a>, FileError>> {
    files
        .get(&kind)
        .map(|bytes| DataFile::open(bytes, court.code, kind, court.decoder))
}

/// The case file's rows, in file order, and where each case is.
struct Cases {
    rows: Vec<(CaseKey, case::CaseRow)>,
    /// A case's place in `rows`, and the line it is listed on.
    index: FxHashMap<CaseKey, (u32, u64)>,
    /// Cases whose row was rejected (its key read, another field not), and
    /// the row's line: what a row naming one is told.
    rejected: FxHashMap<CaseKey, u64>,
    /// The case file's name, for rows that name a case it does not list.
    file: String,
}

impl Cases {
    /// Reads the case file in one pass, on one thread: every other row
    /// must name a case listed here. A case with a rejected row, or listed
    /// twice, is left out (the contract: "a rejected case row leaves its
    /// case out"), its other row in the case file rejected too, so the
    /// file's order never chooses between two rows of one case.
    fn read(
        court: &Context<'_>,
        file: Option<Result<DataFile<'_>, FileError>>,
        tally: &mut Tally,
    ) -> Cases {
        let mut rows: Vec<(CaseKey, case::CaseRow)> = Vec::new();
        let mut index: FxHashMap<CaseKey, (u32, u64)> = FxHashMap::default();
        let mut rejected: FxHashMap<CaseKey, u64> = FxHashMap::default();
        match file {
            Some(Ok(file)) => {
                let (mut scan, mut listed) =
                    file.for_each(court.decoder, None, court.max_listed, |r| {
                        let row = case::parse(r)?;
                        let line = r.line().expect("the case file is scanned in one pass");
                        if let Some(&(_, first)) = index.get(r.key) {
                            return Err(FieldError::at(
                                4,
                                format!(
                                    "case {} is listed again (first on line {first}); one row \
                                     per case, so the case is left out",
                                    r.key
                                ),
                            ));
                        }
                        index.insert(r.key.clone(), (rows.len() as u32, line));
                        rows.push((r.key.clone(), row));
                        Ok(())
                    });
                // Every rejected row whose key reads (a field of the wrong
                // form, bytes not valid in the encoding, a field too many,
                // a repeat): its case is left out.
                for (key, line) in std::mem::take(&mut scan.rejected_keys) {
                    rejected.entry(key).or_insert(line);
                }
                // A row that read well of a case with another row rejected:
                // rejected in turn, and the case left out.
                if rejected.keys().any(|key| index.contains_key(key)) {
                    let field = FileKind::Case.spec().columns[4].clone();
                    let mut kept = Vec::with_capacity(rows.len());
                    for (key, row) in rows.drain(..) {
                        let Some(&other) = rejected.get(&key) else {
                            kept.push((key, row));
                            continue;
                        };
                        let (_, line) = index.remove(&key).expect("indexed");
                        scan.rejected += 1;
                        *scan
                            .rejected_by_field
                            .entry(format!("{} {field}", file.file))
                            .or_default() += 1;
                        listed.push(Reject {
                            file: file.file.clone(),
                            line,
                            field: Some(field.clone()),
                            reason: format!(
                                "case {key} is listed again (rejected on line {other}); one row \
                                 per case, so the case is left out"
                            ),
                        });
                    }
                    // The first `max_listed` by line, these among them.
                    listed.sort_by_key(|r| r.line);
                    listed.truncate(court.max_listed);
                    for (i, (key, _)) in kept.iter().enumerate() {
                        index.get_mut(key).expect("indexed").0 = i as u32;
                    }
                    rows = kept;
                }
                tally.add_file(&file, scan);
                tally.rejects.extend(listed);
            }
            Some(Err(e)) => tally.file_errors.push(e),
            None => {}
        }
        Cases {
            rows,
            index,
            rejected,
            file: FileKind::Case.file_name(court.code),
        }
    }

    /// The case a row's key names. Named by its 案號 column: the key as a
    /// whole names no case.
    fn resolve(&self, key: &CaseKey) -> Result<u32, FieldError> {
        self.index.get(key).map(|&(i, _)| i).ok_or_else(|| {
            let why = match self.rejected.get(key) {
                Some(line) => format!(": its row (line {line}) was rejected"),
                None => String::new(),
            };
            FieldError::at(4, format!("case {key} is not in {}{why}", self.file))
        })
    }
}

/// A file and what its parallel scan gave, if the court sent it.
type Scanned<'a, T, S> = Option<(DataFile<'a>, ParScan<T, S>)>;

/// What scanning a file gave, or why it could not be used.
type ScanResult<'a, T, S> = Result<Scanned<'a, T, S>, FileError>;

/// The files read after the case file, each row with the case it names.
struct Others<'a> {
    progress: ScanResult<'a, (u32, Version), String>,
    applicants: ScanResult<'a, (u32, applicant::ApplicantRow), ()>,
    prosecutors: ScanResult<'a, (u32, String), ()>,
}

/// Scans the progress, applicant and prosecutor files at once, each in
/// parallel chunks; a row naming a case the case file does not list is
/// rejected.
fn scan_others<'a>(
    court: &Context<'a>,
    files: &'a BTreeMap<FileKind, Vec<u8>>,
    cases: &Cases,
) -> Others<'a> {
    let resolve = |key: &CaseKey| cases.resolve(key);
    let (progress, (applicants, prosecutors)) = rayon::join(
        || {
            scan_chunks(
                court,
                files,
                FileKind::Progress,
                &resolve,
                |r, arena: &mut String| progress::parse(r, arena).map(|v| (r.case, v)),
            )
        },
        || {
            rayon::join(
                || {
                    scan_chunks(
                        court,
                        files,
                        FileKind::Applicant,
                        &resolve,
                        |r, _: &mut ()| applicant::parse(r).map(|a| (r.case, a)),
                    )
                },
                || {
                    scan_chunks(
                        court,
                        files,
                        FileKind::Prosecutor,
                        &resolve,
                        |r, _: &mut ()| prosecutor::parse(r).map(|a| (r.case, a)),
                    )
                },
            )
        },
    );
    Others {
        progress,
        applicants,
        prosecutors,
    }
}

/// Parses one of the court's files, if it sent it and its header is right,
/// in chunks, in parallel.
fn scan_chunks<'a, T: Send, S: Default + Send>(
    court: &Context<'a>,
    files: &'a BTreeMap<FileKind, Vec<u8>>,
    kind: FileKind,
    resolve: Resolve<'_>,
    parse: impl Fn(&Record<'_>, &mut S) -> Result<T, FieldError> + Sync,
) -> ScanResult<'a, T, S> {
    let Some(file) = open(court, files, kind).transpose()? else {
        return Ok(None);
    };
    let scan = file.par_map(
        court.chunk_bytes,
        court.decoder,
        Some(resolve),
        court.max_listed,
        parse,
    );
    Ok(Some((file, scan)))
}

/// Consecutive progress rows of one case within one chunk.
#[derive(Debug, Clone, Copy)]
struct Run {
    chunk: u32,
    start: u32,
    end: u32,
}

/// Progress rows, chunk by chunk in file order, with where each case's rows
/// are. Rows of one case mostly come as one run; a case whose rows are
/// spread over several runs has the later ones listed in `more_runs`.
struct ProgressRows {
    chunks: Vec<Vec<(u32, Version)>>,
    /// Each chunk's texts.
    arenas: Vec<String>,
    runs: Vec<Run>,
    /// Per case, its first run (`u32::MAX`: the case has no rows).
    first_run: Vec<u32>,
    more_runs: FxHashMap<u32, Vec<u32>>,
}

impl ProgressRows {
    fn index(scanned: Vec<(Vec<(u32, Version)>, String)>, cases: usize) -> ProgressRows {
        let mut p = ProgressRows {
            chunks: Vec::new(),
            arenas: Vec::new(),
            runs: Vec::new(),
            first_run: vec![u32::MAX; cases],
            more_runs: FxHashMap::default(),
        };
        for (chunk, (rows, arena)) in scanned.into_iter().enumerate() {
            let mut start = 0;
            while start < rows.len() {
                let case = rows[start].0;
                let end = start + rows[start..].iter().take_while(|(c, _)| *c == case).count();
                let id = p.runs.len() as u32;
                p.runs.push(Run {
                    chunk: chunk as u32,
                    start: start as u32,
                    end: end as u32,
                });
                if p.first_run[case as usize] == u32::MAX {
                    p.first_run[case as usize] = id;
                } else {
                    p.more_runs.entry(case).or_default().push(id);
                }
                start = end;
            }
            p.chunks.push(rows);
            p.arenas.push(arena);
        }
        p
    }

    /// One case's standing versions, each with its chunk, into `standing`
    /// (a buffer reused from case to case).
    fn standing(&self, case: usize, stats: &mut CourtStats, standing: &mut Vec<(u32, Version)>) {
        standing.clear();
        let first = self.first_run[case];
        if first == u32::MAX {
            return;
        }
        let more = self
            .more_runs
            .get(&(case as u32))
            .map_or(&[][..], Vec::as_slice);
        for &id in std::iter::once(&first).chain(more) {
            let run = self.runs[id as usize];
            let rows = &self.chunks[run.chunk as usize][run.start as usize..run.end as usize];
            standing.extend(rows.iter().map(|&(_, v)| (run.chunk, v)));
        }
        stats.versions_collapsed += collapse_versions(standing, |(_, v)| v);
        stats.withdrawn += standing.iter().filter(|(_, v)| v.withdrawn).count() as u64;
    }

    fn entry(&self, chunk: u32, v: Version) -> EntryData {
        EntryData {
            seq: v.seq,
            posted: v.posted,
            text: self.text(chunk, v).to_string(),
            modified: v.modified,
        }
    }

    fn text(&self, chunk: u32, v: Version) -> &str {
        v.text.get(&self.arenas[chunk as usize])
    }
}

/// Each case's grants: each (case, address) pair's last row stands, and a
/// standing row that is not an approval revokes.
/// Also the standing grants' addresses no mail can reach: where each row
/// starts, and why.
fn standing_grants(
    chunks: Vec<(Vec<(u32, applicant::ApplicantRow)>, ())>,
    cases: usize,
    stats: &mut CourtStats,
) -> (Vec<Vec<GrantData>>, Vec<(usize, String)>) {
    let mut case_grants: Vec<Vec<GrantData>> = vec![Vec::new(); cases];
    let mut last: FxHashMap<(u32, String), applicant::ApplicantRow> = FxHashMap::default();
    for (rows, ()) in chunks {
        for (case, row) in rows {
            last.insert((case, row.email.clone()), row);
        }
    }
    let mut unmailable = Vec::new();
    for ((case, email), row) in last {
        if row.approved {
            if let Some(u) = row.unmailable {
                stats.grants_unmailable += 1;
                unmailable.push(*u);
            }
            case_grants[case as usize].push(GrantData {
                email,
                role: row.role,
                approved: row.decided,
            });
        } else {
            stats.grants_revoked += 1;
        }
    }
    (case_grants, unmailable)
}

/// Each case's prosecutors, as listed.
fn assignments(chunks: Vec<(Vec<(u32, String)>, ())>, cases: usize) -> Vec<Vec<String>> {
    let mut case_prosecutors: Vec<Vec<String>> = vec![Vec::new(); cases];
    for (rows, ()) in chunks {
        for (case, account) in rows {
            case_prosecutors[case as usize].push(account);
        }
    }
    case_prosecutors
}

/// The court's cases in key order, each with what the scope rules let it
/// keep: a queryable case its latest three entries, grants, prosecutors
/// and hearings; a case past the cutoff nothing but its key and status; a
/// case out of scope is left out.
fn assemble(
    court: &Context<'_>,
    cases: &Cases,
    progress: &ProgressRows,
    mut case_grants: Vec<Vec<GrantData>>,
    mut case_prosecutors: Vec<Vec<String>>,
    mut earlier: Option<&mut dyn Earlier>,
    stats: &mut CourtStats,
) -> Vec<CaseData> {
    let cases = &cases.rows;
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_unstable_by(|&a, &b| cases[a].0.cmp(&cases[b].0));
    // One case's standing versions, in a buffer reused from case to case;
    // its hearings worked out with buffers reused too.
    let mut standing: Vec<(u32, Version)> = Vec::new();
    let mut extractor = hearings::Extractor::default();
    let mut out = Vec::with_capacity(cases.len());
    for i in order {
        let (key, row) = &cases[i];
        stats.cases += 1;
        progress.standing(i, stats, &mut standing);
        let mut data = CaseData {
            key: key.clone(),
            division: row.division.clone(),
            status: row.status.clone(),
            status_date: row.status_date,
            queryable: true,
            entries: Vec::new(),
            grants: Vec::new(),
            prosecutors: Vec::new(),
            hearings: HearingList::default(),
            extracted: None,
            hearings_corrected: false,
            as_of: None,
        };
        match scope(
            court.code,
            &key.category,
            &row.status,
            row.status_date,
            court.batch_date,
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
                existing_newest_first(&mut standing, |(_, v)| v);
                if hearings::EXTRACTED {
                    let entries = || {
                        standing.iter().rev().map(|&(chunk, v)| hearings::Entry {
                            seq: v.seq,
                            posted: v.posted,
                            text: progress.text(chunk, v),
                        })
                    };
                    let digest = extractor.digest(key, entries());
                    let copied = earlier.as_mut().and_then(|e| e.list(digest));
                    stats.hearing_lists_reused += u64::from(copied.is_some());
                    let (list, uncertain) = match copied {
                        Some(copied) => copied,
                        None => {
                            let previous = earlier.as_mut().and_then(|e| e.previous(key));
                            // What calendars took from the live list
                            // matters from tonight on.
                            let from = court.batch_date.and_hms_opt(0, 0, 0).expect("midnight");
                            let packed =
                                extractor.pack(entries(), previous.as_deref().map(|p| (p, from)));
                            stats.hearings_carried_on += u64::from(packed.carried.carried);
                            stats.hearings_withdrawn += u64::from(packed.carried.dropped);
                            data.hearings_corrected = packed.corrected;
                            (packed.list, packed.uncertain)
                        }
                    };
                    data.hearings = list;
                    data.extracted = Some(digest);
                    stats.hearings += data.hearings.len() as u64;
                    stats.hearings_uncertain += u64::from(uncertain);
                }
                standing.truncate(3);
                data.entries = standing
                    .iter()
                    .map(|&(chunk, v)| progress.entry(chunk, v))
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
    out
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
