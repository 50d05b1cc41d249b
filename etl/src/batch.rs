//! A nightly batch on disk: its manifest, which files belong to which court,
//! and the checks that decide whether a court's files can be used tonight
//! (present, listed, record count, SHA-256).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use schemas::contract;
use sha2::{Digest, Sha256};

use crate::kinds::FileKind;
use schemas::hex;

/// One row of `MANIFEST.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub rows: u64,
    pub sha256: String,
    pub line: u64,
}

/// Why the batch as a whole cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{0}: no such directory; check the batch's path")]
    NoDirectory(String),
    #[error("{0} is a file: give the batch's directory, e.g. inbox/20261124")]
    NotADirectory(String),
    #[error("{0}: no MANIFEST.csv yet, the batch is still arriving; nothing imported")]
    Incomplete(String),
    #[error("{0}: the batch directory's name must be its export date, YYYYMMDD")]
    BadName(String),
    #[error("{path}: {reason}")]
    BadManifest { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the batch directory holds, sorted out per court.
#[derive(Debug, Default)]
pub struct BatchPlan {
    pub date: Option<NaiveDate>,
    pub dir: PathBuf,
    pub courts: BTreeMap<String, CourtPlan>,
    /// Things worth a look that make no court unusable.
    pub warnings: Vec<String>,
}

/// One court's files and whatever is wrong with them before reading.
#[derive(Debug, Default)]
pub struct CourtPlan {
    pub files: BTreeMap<FileKind, (PathBuf, Listed)>,
    /// Non-empty: the court is unusable tonight.
    pub problems: Vec<String>,
}

/// Checks the batch is complete and its name a date, without touching it.
pub fn check_complete(dir: &Path) -> Result<NaiveDate, BatchError> {
    let shown = dir.display().to_string();
    if dir.is_file() {
        return Err(BatchError::NotADirectory(shown));
    }
    if !dir.is_dir() {
        return Err(BatchError::NoDirectory(shown));
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BatchError::BadName(shown.clone()))?;
    let date =
        schemas::date::parse_batch_date(name).ok_or_else(|| BatchError::BadName(shown.clone()))?;
    if !dir.join(&contract().batch.manifest).is_file() {
        return Err(BatchError::Incomplete(shown));
    }
    Ok(date)
}

/// Reads the manifest and the directory listing and pairs them up.
pub fn plan(dir: &Path) -> Result<BatchPlan, BatchError> {
    let c = contract();
    let manifest_path = dir.join(&c.batch.manifest);
    let shown = manifest_path.display().to_string();
    let bytes = fs::read(&manifest_path).map_err(|source| BatchError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut plan = BatchPlan {
        dir: dir.to_path_buf(),
        ..BatchPlan::default()
    };
    let Manifest {
        listed,
        unusable,
        lines,
    } = parse_manifest(&bytes, &shown, &mut plan)?;

    let mut present = BTreeMap::new();
    let entries = fs::read_dir(dir).map_err(|source| BatchError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| BatchError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            plan.warnings.push(format!(
                "{}: file name is not UTF-8, ignored",
                entry.path().display()
            ));
            continue;
        };
        if name == c.batch.manifest || name == c.batch.eudc {
            continue;
        }
        match FileKind::from_file_name(&name) {
            Some((court, kind)) => {
                present.insert(name, (court, kind));
            }
            None => plan.warnings.push(format!(
                "{name}: not a file of the export contract, ignored"
            )),
        }
    }

    // A manifest whose header is written and its rows not yet (the review
    // of the forty-seventh session): read as listing nothing, every court
    // was carried over, as for an empty one.
    if lines.is_empty() && !present.is_empty() {
        return Err(BatchError::BadManifest {
            path: shown,
            reason: format!(
                "lists no file, and the batch has data files ({}, ...): still being written?",
                present
                    .keys()
                    .next()
                    .map(String::as_str)
                    .unwrap_or_default()
            ),
        });
    }
    for (name, (court, kind)) in &present {
        let court_plan = plan.courts.entry(court.clone()).or_default();
        match listed.get(name) {
            Some(l) => {
                court_plan.files.insert(*kind, (dir.join(name), l.clone()));
            }
            // Listed on a line that cannot be used: that line's problem
            // is the court's reason already.
            None if unusable.contains(name.as_str()) => {}
            None => court_plan.problems.push(
                match lines
                    .iter()
                    .find(|l| l.file.eq_ignore_ascii_case(name) && !present.contains_key(&l.file))
                {
                    // What the runbook has the operator forward to the
                    // court: the line it wrote, not "not listed".
                    Some(l) => format!(
                        "{name} is listed as `{}` (MANIFEST.csv:{}): file names are case-sensitive{}",
                        l.file,
                        l.line,
                        l.problem
                            .as_ref()
                            .map(|p| format!("; and {p}"))
                            .unwrap_or_default()
                    ),
                    None => format!("{name} is present but not listed in MANIFEST.csv"),
                },
            ),
        }
    }
    for (name, l) in &listed {
        if present.contains_key(name) {
            continue;
        }
        match FileKind::from_file_name(name) {
            Some((court, _)) => plan.courts.entry(court).or_default().problems.push(format!(
                "{name} is listed in MANIFEST.csv (line {}) but absent",
                l.line
            )),
            // (`EUDC.csv` is the contract's, kept out of the manifest: read
            // all the same, its line ignored; the import review of the
            // fifty-second session: "not a file of the export contract")
            None if *name == contract().batch.eudc => plan.warnings.push(format!(
                "MANIFEST.csv:{}: `{name}` is listed, but the contract keeps it out of the \
                 manifest: its line is ignored (the file is read as ever)",
                l.line
            )),
            None => plan.warnings.push(format!(
                "MANIFEST.csv:{}: `{name}` is not a file of the export contract",
                l.line
            )),
        }
    }
    for (court, court_plan) in &mut plan.courts {
        for kind in FileKind::ALL {
            let name = kind.file_name(court);
            if kind.spec().required && !present.contains_key(&name) && !listed.contains_key(&name) {
                court_plan
                    .problems
                    .push(format!("{name} is missing (required)"));
            }
        }
    }
    Ok(plan)
}

/// What `MANIFEST.csv` says: the files it lists, those named on lines that
/// cannot be used, and every line's file name as written.
struct Manifest {
    listed: BTreeMap<String, Listed>,
    unusable: BTreeSet<String>,
    lines: Vec<ManifestLine>,
}

/// A manifest line's file name as written, and what makes the line
/// unusable, if anything.
struct ManifestLine {
    line: u64,
    file: String,
    problem: Option<String>,
}

/// Parses `MANIFEST.csv`. A wrong header or unreadable file makes the whole
/// batch unusable; a bad row makes the court of the file it names unusable.
fn parse_manifest(bytes: &[u8], shown: &str, plan: &mut BatchPlan) -> Result<Manifest, BatchError> {
    let bad = |reason: String| BatchError::BadManifest {
        path: shown.to_string(),
        reason,
    };
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| bad(format!("not UTF-8 ({e})")))?;
    // Line 1 is checked whatever follows, an empty file's too (a transfer
    // that creates the file before it writes it, caught between the two).
    let mut rows = text.lines();
    let header = rows.next().unwrap_or_default();
    let fields = manifest_fields(header);
    if fields != contract().batch.manifest_header {
        let empty = match text.trim().is_empty() {
            true => ": the file is empty (still being written?)",
            false => "",
        };
        return Err(bad(format!(
            "line 1: header is `{header}`, the contract says `file,rows,sha256`{empty}"
        )));
    }
    let mut listed = BTreeMap::new();
    let mut unusable = BTreeSet::new();
    let mut lines = Vec::new();
    for (i, line) in rows.enumerate() {
        let n = i as u64 + 2;
        if line.trim().is_empty() {
            continue;
        }
        let fields = manifest_fields(line);
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let problem = |reason: String| format!("MANIFEST.csv:{n}: {reason}");
        let court_of = |file: &str| FileKind::from_file_name(file).map(|(c, _)| c);
        let (file, row_problem) = match fields[..] {
            [file, rows, sha] => (file, listing(&mut listed, file, rows, sha, n)),
            // The line names a file of the contract first: its court is
            // told (as for a bad value), not only the batch's warnings.
            [file, ..] => (
                file,
                Some(format!("expected 3 fields, found {}", fields.len())),
            ),
            [] => continue,
        };
        if let Some(reason) = &row_problem {
            unusable.insert(file.to_string());
            match court_of(file) {
                Some(court) => plan
                    .courts
                    .entry(court)
                    .or_default()
                    .problems
                    .push(problem(reason.clone())),
                None => plan.warnings.push(problem(reason.clone())),
            }
        }
        lines.push(ManifestLine {
            line: n,
            file: file.to_string(),
            problem: row_problem,
        });
    }
    Ok(Manifest {
        listed,
        unusable,
        lines,
    })
}

/// A manifest line's fields, each trimmed, read as the CSV every file of
/// the batch is (RFC 4180: any field may be quoted, as PowerShell's
/// `Export-Csv` writes every one; the import review of the fifty-second
/// session: split on commas, a quoted header published nothing). None of
/// its fields holds a comma or a line break, so a line is a record.
fn manifest_fields(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => record.iter().map(|f| f.trim().to_string()).collect(),
        // (a line the reader refuses, such as one not UTF-8, which the
        // file is checked to be: as it is written)
        _ => line.split(',').map(|f| f.trim().to_string()).collect(),
    }
}

/// A manifest line's file, rows and hash taken into `listed`, or why not.
fn listing(
    listed: &mut BTreeMap<String, Listed>,
    file: &str,
    rows: &str,
    sha: &str,
    line: u64,
) -> Option<String> {
    match (rows.parse::<u64>(), is_sha256(sha)) {
        (Err(_), _) => Some(format!("rows `{rows}` is not a number")),
        (_, false) => Some(format!("sha256 `{sha}` is not 64 lowercase hex digits")),
        (Ok(_), true) if listed.contains_key(file) => Some(format!("{file} is listed twice")),
        (Ok(rows), true) => {
            let sha256 = sha.to_string();
            listed.insert(file.to_string(), Listed { rows, sha256, line });
            None
        }
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reads a court's files and checks each against its manifest hash. Record
/// counts are checked after scanning, when they are known.
pub fn read_verified(court: &CourtPlan) -> Result<BTreeMap<FileKind, Vec<u8>>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (kind, (path, listed)) in &court.files {
        match fs::read(path) {
            Ok(bytes) => {
                let digest = hex(&Sha256::digest(&bytes));
                if digest != listed.sha256 {
                    problems.push(format!(
                        "{}: SHA-256 is {digest}, MANIFEST.csv (line {}) says {}",
                        file_name(path),
                        listed.line,
                        listed.sha256
                    ));
                } else {
                    out.insert(*kind, bytes);
                }
            }
            Err(e) => problems.push(format!("{}: cannot read: {e}", path.display())),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
