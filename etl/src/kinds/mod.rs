//! The export's file kinds: one module per kind (its typed row and how a
//! record becomes one), and the loop they share that turns a file's bytes into
//! rows plus positioned rejects.
//!
//! Parsing never fails as a whole for a bad row: a record that breaks the
//! contract becomes a [`Reject`] naming file, line, field and reason, and the
//! loop goes on. Only a wrong header makes a whole file unusable.

pub mod applicant;
pub mod case;
pub mod progress;
pub mod prosecutor;

use std::fmt;

use schemas::{contract, FileKindSpec};
use serde::Serialize;

use crate::decode::{trim, Decoder, Encoding, UdcSeen};

/// The kinds of data file a court sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Case,
    Progress,
    Applicant,
    Prosecutor,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [
        FileKind::Case,
        FileKind::Progress,
        FileKind::Applicant,
        FileKind::Prosecutor,
    ];

    pub fn spec(self) -> &'static FileKindSpec {
        let files = &contract().files;
        match self {
            FileKind::Case => &files.case,
            FileKind::Progress => &files.progress,
            FileKind::Applicant => &files.applicant,
            FileKind::Prosecutor => &files.prosecutor,
        }
    }

    /// `TPD_progress.csv` → (`TPD`, Progress). The court code is three
    /// capital ASCII letters.
    pub fn from_file_name(name: &str) -> Option<(String, FileKind)> {
        FileKind::ALL.into_iter().find_map(|kind| {
            let court = name.strip_suffix(kind.spec().suffix.as_str())?;
            let ok = court.len() == 3 && court.bytes().all(|b| b.is_ascii_uppercase());
            ok.then(|| (court.to_string(), kind))
        })
    }

    pub fn file_name(self, court: &str) -> String {
        format!("{court}{}", self.spec().suffix)
    }
}

/// A case key within one court: category, year, word, number. Year and number
/// are integers, so leading zeros in the export do not matter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseKey {
    pub category: String,
    pub year: u32,
    pub word: String,
    pub number: u32,
}

impl fmt::Display for CaseKey {
    /// `刑事 113年度訴字第100號`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}年度{}字第{}號",
            self.category, self.year, self.word, self.number
        )
    }
}

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub file: String,
    /// Line where the record starts (the header is line 1).
    pub line: u64,
    /// The column's header name; `None` when the record as a whole is wrong.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// What a kind's parser says about a bad record: which column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub column: Option<usize>,
    pub reason: String,
}

impl FieldError {
    pub fn at(column: usize, reason: impl Into<String>) -> FieldError {
        FieldError {
            column: Some(column),
            reason: reason.into(),
        }
    }
}

/// A file that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{file}: the file is empty (no header line)")]
    Empty { file: String },
    #[error("{file}:1: header is `{found}`, the contract says `{expected}`")]
    Header {
        file: String,
        found: String,
        expected: String,
    },
}

/// What scanning one file found, besides its rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileScan {
    pub encoding: Option<Encoding>,
    /// Records after the header, well-formed or not (what MANIFEST counts).
    pub records: u64,
    pub rejected: u64,
}

/// A decoded, trimmed record handed to a kind's parser.
pub struct Record<'a> {
    pub line: u64,
    pub key: CaseKey,
    /// All columns, key included, trimmed.
    pub fields: &'a [String],
    pub udc: &'a UdcSeen,
}

/// Scans one data file of `court`: checks the header, decodes and trims every
/// record, checks the width and the case key, and hands each good record to
/// `row`. Whatever `row` or the checks refuse is sent to `reject`.
pub fn scan_file(
    bytes: &[u8],
    court: &str,
    kind: FileKind,
    decoder: &Decoder,
    mut row: impl FnMut(&Record<'_>) -> Result<(), FieldError>,
    mut reject: impl FnMut(Reject),
) -> Result<FileScan, FileError> {
    let file = kind.file_name(court);
    let columns = &kind.spec().columns;
    let (encoding, body) = Encoding::detect(bytes);
    let mut scan = FileScan {
        encoding: Some(encoding),
        ..FileScan::default()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut raw = csv::ByteRecord::new();
    let mut fields: Vec<String> = vec![String::new(); columns.len()];
    let mut buf = String::new();
    let mut udc = UdcSeen::default();

    // The header: decoded like any record, compared with the contract.
    if !reader.read_byte_record(&mut raw).unwrap_or(false) {
        return Err(FileError::Empty { file });
    }
    let found: Vec<String> = raw
        .iter()
        .map(|f| {
            let mut s = String::new();
            let mut ignore = UdcSeen::default();
            match decoder.decode(encoding, f, &mut s, &mut ignore) {
                Ok(()) => trim(&s).to_string(),
                Err(_) => String::from_utf8_lossy(f).into_owned(),
            }
        })
        .collect();
    if &found != columns {
        return Err(FileError::Header {
            file,
            found: found.join(","),
            expected: columns.join(","),
        });
    }

    let mut fail = |line: u64, column: Option<usize>, reason: String| {
        reject(Reject {
            file: file.clone(),
            line,
            field: column.map(|c| {
                columns
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("#{} (one field too many)", c + 1))
            }),
            reason,
        });
    };
    let mut lines = LineCounter::default();
    // In-memory reads cannot fail with I/O errors and byte records are never
    // UTF-8 checked, so an Err here cannot happen; treat it as end of file.
    while reader.read_byte_record(&mut raw).unwrap_or(false) {
        scan.records += 1;
        let start = raw.position().map_or(0, |p| p.byte()) as usize;
        let line = lines.line_at(body, start);
        if raw.len() != columns.len() {
            scan.rejected += 1;
            // Name the first missing column, or the first one too many.
            let column = Some(raw.len().min(columns.len()));
            fail(
                line,
                column,
                format!("expected {} fields, found {}", columns.len(), raw.len()),
            );
            continue;
        }
        udc.clear();
        let mut bad = None;
        for (i, f) in raw.iter().enumerate() {
            if let Err(e) = decoder.decode(encoding, f, &mut buf, &mut udc) {
                bad = Some(FieldError::at(i, e.to_string()));
                break;
            }
            fields[i].clear();
            fields[i].push_str(trim(&buf));
        }
        let result = match bad {
            Some(e) => Err(e),
            None => parse_key(court, &fields).and_then(|key| {
                row(&Record {
                    line,
                    key,
                    fields: &fields,
                    udc: &udc,
                })
            }),
        };
        if let Err(e) = result {
            scan.rejected += 1;
            fail(line, e.column, e.reason);
        }
    }
    Ok(scan)
}

/// Physical line numbers of records. The csv reader's own line count lags
/// behind with CRLF line ends, so lines are counted from byte offsets: the
/// line of a record is 1 + the line feeds before its first byte (a record's
/// start offset may point at the line end of the record before it).
#[derive(Default)]
struct LineCounter {
    offset: usize,
    feeds: u64,
}

impl LineCounter {
    fn line_at(&mut self, body: &[u8], start: usize) -> u64 {
        let first = body[start..]
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .map_or(body.len(), |p| start + p);
        self.feeds += body[self.offset..first]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.offset = first;
        self.feeds + 1
    }
}

/// Checks the five key columns every file starts with.
fn parse_key(court: &str, f: &[String]) -> Result<CaseKey, FieldError> {
    let limits = &contract().limits;
    if f[0] != court {
        return Err(FieldError::at(
            0,
            format!("court `{}` differs from the file's prefix `{court}`", f[0]),
        ));
    }
    if f[1].is_empty() {
        return Err(FieldError::at(1, "category is empty"));
    }
    let year = parse_int(&f[2], limits.year_digits).map_err(|r| FieldError::at(2, r))?;
    let words = f[3].chars().count();
    if words == 0 || words > limits.word_chars {
        return Err(FieldError::at(
            3,
            format!(
                "word `{}` must be 1 to {} characters",
                f[3], limits.word_chars
            ),
        ));
    }
    let number = parse_int(&f[4], limits.number_digits).map_err(|r| FieldError::at(4, r))?;
    Ok(CaseKey {
        category: f[1].clone(),
        year,
        word: f[3].clone(),
        number,
    })
}

/// A positive integer of ASCII digits, at most `max_digits` of them not
/// counting leading zeros.
pub fn parse_int(s: &str, max_digits: usize) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` is not a number"));
    }
    let significant = s.trim_start_matches('0');
    if significant.is_empty() {
        return Err(format!("`{s}` must be positive"));
    }
    if significant.len() > max_digits {
        return Err(format!("`{s}` has more than {max_digits} digits"));
    }
    Ok(significant
        .parse()
        .expect("at most 9 ASCII digits fit in u32"))
}

/// Parses a date column, naming the column on failure.
pub fn date_field(fields: &[String], column: usize) -> Result<chrono::NaiveDate, FieldError> {
    crate::date::parse_roc_date(&fields[column]).map_err(|r| FieldError::at(column, r))
}

#[cfg(test)]
mod tests;
