//! The scan engine every file kind shares: a data file's bytes in, typed
//! rows plus positioned rejects out.
//!
//! It owns the header check ([`DataFile::open`]), the loop over csv byte
//! records (width, decode, trim, the case key and its cache from row to row,
//! the resolver that finds the key's case), the [`Reject`] of every bad
//! record with its physical line, and the counts the report needs. A big
//! file is cut into chunks at record boundaries (`split`) and its chunks are
//! parsed in parallel ([`DataFile::par_map`]); the case file, whose rows
//! depend on the rows before them, is scanned in one pass
//! ([`DataFile::for_each`]). What a kind makes of a record is the kind's
//! (`kinds::case`, `kinds::progress`, ...).

mod split;

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;

use super::{parse_key, CaseKey, FieldError, FileKind, Reject};
use crate::decode::lines::{count, LineCounter};
use crate::decode::{trim, Decoder, Encoding, UdcSeen};
use split::{Chunk, BOM};

/// A file that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{file}: the file is empty (no header line)")]
    Empty { file: String },
    #[error("{file}:1: header is `{found}`, the contract says `{expected}`{hint}")]
    Header {
        file: String,
        found: String,
        expected: String,
        /// What seems to have happened, if something does: `; the file
        /// is UTF-8 without a byte-order mark: ...`, or empty.
        hint: String,
    },
    #[error(
        "{file}:1: the header line ends with {found} alone, not CRLF as the contract says: the \
         file's lines seem to end with {found}, which only quoted text may hold, so its rows \
         cannot be told apart (write it with CRLF line ends)"
    )]
    LineEnd { file: String, found: &'static str },
    #[error(
        "{file}:{line}: {field} opens a quoted field that is never closed: lines {line}–{last}, \
         to the end of the file, were read as that one field, so the rows among them cannot \
         be told apart"
    )]
    UnclosedQuote {
        file: String,
        line: u64,
        last: u64,
        field: String,
    },
    #[error(
        "{file}:{line}: {field} opens a quoted field that runs to line {last}: lines \
         {line}–{last} were read as that one field, so the rows among them cannot be told apart"
    )]
    StrayQuote {
        file: String,
        line: u64,
        last: u64,
        field: String,
    },
}

/// What scanning one file found, besides its rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileScan {
    pub encoding: Option<Encoding>,
    /// Records after the header, well-formed or not (what MANIFEST counts).
    pub records: u64,
    pub rejected: u64,
    /// Of the records, empty lines (each a record of one empty field, as
    /// RFC 4180 reads it; rejected).
    #[serde(skip_serializing_if = "is_zero")]
    pub empty_lines: u64,
    /// Of the records, ones with a line break alone (CR or LF) outside
    /// quotes, read up to the next CRLF (rejected).
    #[serde(skip_serializing_if = "is_zero")]
    pub line_breaks: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counts a scan keeps besides the rows: what the report needs.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    pub records: u64,
    pub rejected: u64,
    /// Of the records, empty lines.
    pub empty_lines: u64,
    /// Of the records, ones with a line break alone outside quotes.
    pub line_breaks: u64,
    /// Rejects per `file field`, all of them.
    pub rejected_by_field: BTreeMap<String, u64>,
    pub udc_mapped: u64,
    /// Unmapped user-defined codes in accepted rows, with their counts.
    pub udc_unmapped: BTreeMap<String, u64>,
    /// The first quoted field that swallowed rows, when one did: the
    /// file cannot be used, since the rows among its lines cannot be told
    /// apart. A quote in the file's last record that never closes, when
    /// the field it opens holds line breaks (`FileError::UnclosedQuote`);
    /// or a quoted field, closed, with a line inside that begins as the
    /// file's rows do: a stray quote's (`FileError::StrayQuote`).
    pub swallowed: Option<FileError>,
    /// A one-pass scan's rejected records whose key reads, each with its
    /// line: the case file's, whose case is then left out whole.
    pub rejected_keys: Vec<(CaseKey, u64)>,
}

impl ScanStats {
    fn merge(&mut self, other: ScanStats) {
        self.records += other.records;
        self.rejected += other.rejected;
        self.empty_lines += other.empty_lines;
        self.line_breaks += other.line_breaks;
        for (k, v) in other.rejected_by_field {
            *self.rejected_by_field.entry(k).or_default() += v;
        }
        self.udc_mapped += other.udc_mapped;
        for (k, v) in other.udc_unmapped {
            *self.udc_unmapped.entry(k).or_default() += v;
        }
        self.swallowed = self.swallowed.take().or(other.swallowed);
        self.rejected_keys.extend(other.rejected_keys);
    }

    fn count_udc(&mut self, udc: &UdcSeen) {
        self.udc_mapped += u64::from(udc.mapped);
        for code in &udc.unmapped {
            *self.udc_unmapped.entry(code.clone()).or_default() += 1;
        }
    }
}

/// A decoded, trimmed record handed to a kind's parser.
pub struct Record<'a> {
    /// Where the record starts in the file's body.
    start: usize,
    lines: Option<&'a RefCell<LineCounter>>,
    body: &'a [u8],
    pub key: &'a CaseKey,
    /// The case the key names, when the scan was given a resolver.
    pub case: u32,
    /// All columns, key included, decoded and trimmed.
    pub fields: &'a [&'a str],
}

/// What a parallel scan gives: per chunk, in file order, its rows and its
/// state (an arena); the counts; the first rejects.
pub struct ParScan<T, S> {
    pub chunks: Vec<(Vec<T>, S)>,
    pub stats: ScanStats,
    pub rejects: Vec<Reject>,
}

impl Record<'_> {
    /// Where the record starts in its file (after any BOM): to find its
    /// line later (`crate::decode::lines::LineCounter`) when a parallel
    /// chunk's record cannot (`line`).
    pub fn offset(&self) -> usize {
        self.start
    }

    /// The physical line the record starts on (the header is line 1),
    /// counted on demand: most records never need it. Only a one-pass scan
    /// ([`DataFile::for_each`]) knows it; records of parallel chunks answer
    /// `None` (their rejects still get exact lines).
    pub fn line(&self) -> Option<u64> {
        self.lines
            .map(|l| l.borrow_mut().line_at(self.body, self.start))
    }
}

/// Finds the case a key names (`Err` rejects the row).
pub type Resolve<'a> = &'a (dyn Fn(&CaseKey) -> Result<u32, FieldError> + Sync);

/// The default chunk size (`import.chunk_bytes`): files larger than this are
/// parsed in chunks, in parallel. The size alone
/// decides the chunks, so the output never depends on the thread count (and
/// the chunks never change it either: a test compares).
pub const CHUNK: usize = 4 << 20;

/// One data file, its header checked, ready to scan.
pub struct DataFile<'a> {
    pub file: String,
    pub kind: FileKind,
    court: &'a str,
    pub encoding: Encoding,
    /// The whole file after any BOM.
    body: &'a [u8],
    /// Where the first record after the header starts in `body`.
    start: usize,
}

impl<'a> DataFile<'a> {
    /// Checks the header against the contract.
    pub fn open(
        bytes: &'a [u8],
        court: &'a str,
        kind: FileKind,
        decoder: &Decoder,
    ) -> Result<Self, FileError> {
        let file = kind.file_name(court);
        let columns = &kind.spec().columns;
        let (encoding, body) = Encoding::detect(bytes);
        // The reader would skip empty lines to the header; the contract's
        // header is the first line.
        if body.first().is_some_and(|&b| b == b'\r' || b == b'\n') {
            return Err(FileError::Header {
                file,
                found: String::new(),
                expected: columns.join(","),
                hint: "; line 1 is empty: the header must be the file's first line".into(),
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut raw = csv::ByteRecord::new();
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
            // Read as UTF-8, the header is the contract's: the file was
            // saved as UTF-8 without the BOM that would have said so.
            let utf8: Option<Vec<&str>> = raw
                .iter()
                .map(|f| std::str::from_utf8(f).ok().map(trim))
                .collect();
            let same = utf8.is_some_and(|u| u.iter().eq(columns.iter()));
            let hint = if encoding != Encoding::Utf8 && same {
                "; the file is UTF-8 without a byte-order mark: the contract wants CP950 (Big5), \
                 or UTF-8 beginning with a BOM"
            } else {
                ""
            };
            return Err(FileError::Header {
                file,
                found: found.join(","),
                expected: columns.join(","),
                hint: hint.to_string(),
            });
        }
        let start = reader.position().byte() as usize;
        // Only CRLF ends a record (the contract, RFC 4180); the reader also
        // ends one at CR or LF alone. A file written with those would have
        // every row read as one record with line breaks outside quotes, up
        // to the file's end, and the count set it aside saying nothing of
        // why: its header line's end, the one every file has, says it at
        // once. (The reader stops after a CRLF's CR; a header with no line
        // end at all is a file of no rows.)
        let found = match body[..start].last() {
            Some(b'\r') if body.get(start) == Some(&b'\n') => None,
            Some(b'\r') => Some("CR"),
            Some(b'\n') => Some("LF"),
            _ => None,
        };
        if let Some(found) = found {
            return Err(FileError::LineEnd { file, found });
        }
        Ok(DataFile {
            file,
            kind,
            court,
            encoding,
            body,
            start,
        })
    }

    /// Scans every record in order, one thread (the case file, whose rows
    /// depend on the rows before them).
    pub fn for_each(
        &self,
        decoder: &Decoder,
        resolve: Option<Resolve<'_>>,
        max_listed: usize,
        mut row: impl FnMut(&Record<'_>) -> Result<(), FieldError>,
    ) -> (ScanStats, Vec<Reject>) {
        let whole = Chunk {
            from: 0,
            to: self.body.len(),
        };
        self.scan_range(
            whole, self.start, true, decoder, resolve, max_listed, &mut row,
        )
    }

    /// The lines of the records starting at `offsets` (`Record::offset`,
    /// in file order), counted in one pass.
    pub fn lines_of(&self, offsets: &[usize]) -> Vec<u64> {
        let mut lines = LineCounter::from(0);
        offsets
            .iter()
            .map(|&at| lines.line_at(self.body, at))
            .collect()
    }

    /// Parses every record into a `T`, in chunks of about `chunk_size` bytes,
    /// in parallel; the rows come back in file order, each chunk with its own
    /// state `S` (an arena).
    pub fn par_map<T: Send, S: Default + Send>(
        &self,
        chunk_size: usize,
        decoder: &Decoder,
        resolve: Option<Resolve<'_>>,
        max_listed: usize,
        parse: impl Fn(&Record<'_>, &mut S) -> Result<T, FieldError> + Sync,
    ) -> ParScan<T, S> {
        use rayon::prelude::*;
        let cuts = split::chunks(self.body, self.start, chunk_size);
        let results: Vec<_> = cuts
            .par_iter()
            .map(|&chunk| {
                let mut state = S::default();
                let mut rows = Vec::with_capacity((chunk.to - chunk.from) / 64);
                let (stats, rejects) = self.scan_range(
                    chunk,
                    chunk.from,
                    false,
                    decoder,
                    resolve,
                    max_listed,
                    &mut |r| {
                        rows.push(parse(r, &mut state)?);
                        Ok(())
                    },
                );
                ((rows, state), stats, rejects)
            })
            .collect();
        let mut stats = ScanStats::default();
        let mut rejects = Vec::new();
        let mut chunks = Vec::with_capacity(results.len());
        // Each chunk counted lines from its own start; the line feeds before
        // it are counted only when it has rejects to place.
        let (mut feeds, mut counted_to) = (0u64, 0usize);
        for ((chunk, s, r), bounds) in results.into_iter().zip(cuts) {
            stats.merge(s);
            let room = max_listed.saturating_sub(rejects.len());
            if room > 0 && !r.is_empty() {
                feeds += count(&self.body[counted_to..bounds.from], b'\n') as u64;
                counted_to = bounds.from;
                rejects.extend(r.into_iter().take(room).map(|mut reject| {
                    reject.line += feeds;
                    reject
                }));
            }
            chunks.push(chunk);
        }
        ParScan {
            chunks,
            stats,
            rejects,
        }
    }

    /// Scans the records of `from..to`; the first starts at `first`. Line
    /// numbers count from `from` (the caller adds the lines before it);
    /// records may ask for theirs when `from` is the file's start (`whole`).
    #[allow(clippy::too_many_arguments)]
    fn scan_range(
        &self,
        Chunk { from, to }: Chunk,
        first: usize,
        whole: bool,
        decoder: &Decoder,
        resolve: Option<Resolve<'_>>,
        max_listed: usize,
        row: &mut dyn FnMut(&Record<'_>) -> Result<(), FieldError>,
    ) -> (ScanStats, Vec<Reject>) {
        let columns = &self.kind.spec().columns;
        let n = columns.len();
        let part = &self.body[first..to];
        // The reader drops a BOM at the start of its input, but the first
        // record's position still points at it: no record starts before it
        // ends (a line break after it would otherwise go uncounted).
        let records_from = first + if part.starts_with(BOM) { BOM.len() } else { 0 };
        let mut stats = ScanStats::default();
        let mut listed = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(part);
        let mut raw = csv::ByteRecord::new();
        // How a swallowed row shows inside a quoted field (`bad_quoting`).
        let row_start = [b"\r\n".as_slice(), self.court.as_bytes(), b","].concat();
        let mut bufs: Vec<String> = vec![String::new(); n];
        let mut udc = UdcSeen::default();
        let lines = RefCell::new(LineCounter::from(from));
        // The key of the previous record, raw and parsed: consecutive rows
        // of one case skip decoding and resolving it again.
        let mut last_raw: Vec<Vec<u8>> = vec![Vec::new(); 5];
        let mut last_key: Option<CachedKey> = None;

        let mut fail = |stats: &mut ScanStats, line: u64, column: Option<usize>, reason: String| {
            stats.rejected += 1;
            let field = column.map(|c| {
                columns
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("#{} (one field too many)", c + 1))
            });
            let by = format!("{} {}", self.file, field.as_deref().unwrap_or("(row)"));
            *stats.rejected_by_field.entry(by).or_default() += 1;
            if listed.len() < max_listed {
                listed.push(Reject {
                    file: self.file.clone(),
                    line,
                    field,
                    reason,
                });
            }
        };

        // Rejects a loose record (`Loose`) that ends at `end` (a CRLF's
        // CR, or the end of the input).
        let close = |stats: &mut ScanStats, fail: &mut Fail<'_>, loose: Loose, end: usize| {
            stats.records += 1;
            stats.line_breaks += 1;
            let line = lines.borrow_mut().line_of(self.body, loose.from);
            let last = lines
                .borrow_mut()
                .line_of(self.body, end.saturating_sub(1).max(loose.from));
            // (a count, not the last line's number: a chunk knows only
            // its own lines, and the rejects' lines are made the file's
            // after)
            let lines = if last > line {
                format!("; {} lines", last - line + 1)
            } else {
                String::new()
            };
            let up_to = if end < self.body.len() {
                "the next CRLF"
            } else {
                "the file's end"
            };
            let brk = if loose.brk == b'\n' { "LF" } else { "CR" };
            fail(
                stats,
                line,
                Some(loose.field),
                format!(
                    "a line break ({brk} alone) outside quotes: a field holding one is quoted, \
                     and only CRLF ends a row (RFC 4180){lines}, up to {up_to}, read as this \
                     one record"
                ),
            );
            if let (true, Some(key)) = (whole, loose.key) {
                stats.rejected_keys.push((key, line));
            }
        };
        // The line breaks the reader skips before a record (or after the
        // last), from `i` to the first other byte: a CRLF ends a record, an
        // empty one when nothing came since the last (one empty field, RFC
        // 4180: counted and rejected); a CR or LF alone is text of the
        // record it is in, which it leaves loose. Where it stopped.
        let gap = |stats: &mut ScanStats,
                   fail: &mut Fail<'_>,
                   loose: &mut Option<Loose>,
                   mut i: usize|
         -> usize {
            let body = self.body;
            let mut from = i;
            while i < to && matches!(body[i], b'\r' | b'\n') {
                if body[i] == b'\r' && i + 1 < to && body[i + 1] == b'\n' {
                    match loose.take() {
                        Some(l) => close(stats, fail, l, i),
                        None => {
                            stats.records += 1;
                            stats.empty_lines += 1;
                            let line = lines.borrow_mut().line_of(body, from);
                            fail(
                                stats,
                                line,
                                Some(1.min(n - 1)),
                                format!("an empty line: expected {n} fields"),
                            );
                        }
                    }
                    i += 2;
                    from = i;
                } else {
                    loose.get_or_insert(Loose {
                        from,
                        brk: body[i],
                        field: 0,
                        open: 0,
                        key: None,
                    });
                    i += 1;
                }
            }
            i
        };
        // Where the bytes after a record's end begin: past the LF of the
        // CRLF whose CR ended it (where the reader leaves a record's end),
        // or of the header's.
        let after_crlf = |at: usize| {
            let crlf = at > 0 && at < to && self.body[at] == b'\n' && self.body[at - 1] == b'\r';
            at + usize::from(crlf)
        };
        let mut after_last = records_from;
        let mut loose: Option<Loose> = None;

        // In-memory reads cannot fail with I/O errors and byte records are
        // never UTF-8 checked, so an Err here cannot happen: end of input.
        while reader.read_byte_record(&mut raw).unwrap_or(false) {
            let start = (first + raw.position().map_or(0, |p| p.byte()) as usize).max(records_from);
            let mut begins = after_crlf(start);
            if begins < to && matches!(self.body[begins], b'\r' | b'\n') {
                begins = gap(&mut stats, &mut fail, &mut loose, begins);
            }
            after_last = first + reader.position().byte() as usize;
            // Whether the reader ended the record at a CR or LF alone,
            // which the contract does not: it goes on up to the next CRLF.
            // (The reader stops after a CRLF's CR.)
            let alone = if after_last < to {
                !(self.body[after_last] == b'\n' && self.body[after_last - 1] == b'\r')
            } else {
                matches!(self.body[to - 1], b'\r' | b'\n')
            };
            let line = || lines.borrow_mut().line_at(self.body, start);
            // A quote left open runs to the file's end: only its last
            // record can hold one, and it is rejected for that.
            let open = if to == self.body.len() && after_last >= to {
                split::unclosed_quote(self.body, start)
            } else {
                None
            };
            if loose.is_some() || (alone && open.is_none()) {
                // A part of a loose record: the reader's record goes on
                // the field a line break alone left open.
                let l = loose.get_or_insert_with(|| Loose {
                    from: begins,
                    brk: self.body[after_last - 1],
                    field: raw.len() - 1,
                    open: 0,
                    // (a key cut by the line break is no key)
                    key: (whole && raw.len() > 5)
                        .then(|| self.key_of(&raw, decoder))
                        .flatten(),
                });
                l.open += raw.len() - 1;
                if let Some(at) = open {
                    // The quote's swallowed rows make the file unusable
                    // all the same.
                    let column = l.open;
                    self.unclosed(at, column, &mut stats);
                }
                if after_last >= to || !alone {
                    let end = if after_last < to { after_last - 1 } else { to };
                    let l = loose.take().expect("just filled");
                    close(&mut stats, &mut fail, l, end);
                }
                continue;
            }
            stats.records += 1;
            if let Some(open) = open {
                let column = raw.len() - 1;
                let reason = self.unclosed(open, column, &mut stats);
                fail(&mut stats, line(), Some(column), reason);
                continue;
            }
            // RFC 4180 quoting, which the reader does not hold to.
            if let Some((at, column, bad)) = bad_quoting(&self.body[start..after_last], &row_start)
            {
                let (at, reason) = match bad {
                    BadQuote::Swallows { open } => {
                        let mut lines = lines.borrow_mut();
                        let line = lines.line_of(self.body, start + open);
                        let last = lines.line_of(self.body, start + at - 1);
                        if stats.swallowed.is_none() {
                            stats.swallowed =
                                Some(self.stray_quote(start + open, start + at, column));
                        }
                        let reason = format!(
                            "a quoted field opens here and runs over {} lines: the rows among \
                             those lines were read as this one field ({DOUBLED})",
                            last - line + 1,
                        );
                        (line, reason)
                    }
                    _ => (
                        lines.borrow_mut().line_of(self.body, start + at),
                        bad.reason().into(),
                    ),
                };
                fail(&mut stats, at, Some(column), reason);
                if whole && raw.len() >= 5 {
                    if let Some(key) = self.key_of(&raw, decoder) {
                        stats.rejected_keys.push((key, at));
                    }
                }
                continue;
            }
            if raw.len() != n {
                // Name the first missing column, or the first one too many.
                let column = Some(raw.len().min(n));
                let at = line();
                fail(
                    &mut stats,
                    at,
                    column,
                    format!("expected {n} fields, found {}", raw.len()),
                );
                if whole && raw.len() >= 5 {
                    if let Some(key) = self.key_of(&raw, decoder) {
                        stats.rejected_keys.push((key, at));
                    }
                }
                continue;
            }
            let same_key = last_key.is_some() && (0..5).all(|i| raw[i] == last_raw[i][..]);
            if !same_key {
                last_key = None;
                for (i, slot) in last_raw.iter_mut().enumerate() {
                    slot.clear();
                    slot.extend_from_slice(&raw[i]);
                }
            }
            udc.clear();
            let mut bad = None;
            // Which fields were decoded into `bufs` (the others are ASCII,
            // the same in CP950 and UTF-8, and read from the raw bytes).
            let mut decoded = [false; 10];
            let decode_range = |range: std::ops::Range<usize>,
                                bufs: &mut Vec<String>,
                                decoded: &mut [bool; 10],
                                udc: &mut UdcSeen| {
                for i in range {
                    decoded[i] = !raw[i].is_ascii();
                    if decoded[i] {
                        if let Err(e) = decoder.decode(self.encoding, &raw[i], &mut bufs[i], udc) {
                            return Some(FieldError::at(i, e.to_string()));
                        }
                    }
                }
                None
            };
            if !same_key {
                bad = decode_range(0..5, &mut bufs, &mut decoded, &mut udc);
                if bad.is_none() {
                    let mut key_fields: [String; 5] = Default::default();
                    for (i, k) in key_fields.iter_mut().enumerate() {
                        k.push_str(ascii_or(&raw[i], &bufs[i], decoded[i]));
                    }
                    match parse_key(self.court, &key_fields) {
                        Ok(key) => {
                            let case = resolve.map_or(Ok(u32::MAX), |r| r(&key));
                            last_key = Some(CachedKey {
                                key,
                                fields: key_fields,
                                udc: udc.clone(),
                                case,
                            });
                        }
                        Err(mut e) => {
                            // Which codes made a word 〓, and what to do.
                            if e.column == Some(3) && e.reason.contains(crate::decode::GETA) {
                                e.reason += "; ";
                                e.reason += &crate::decode::unmapped_advice(&udc.unmapped);
                            }
                            bad = Some(e);
                        }
                    }
                }
            } else if let Some(CachedKey { udc: key_udc, .. }) = &last_key {
                // The key's own user-defined characters count on every row.
                udc.mapped += key_udc.mapped;
                udc.unmapped.extend(key_udc.unmapped.iter().cloned());
            }
            if bad.is_none() {
                bad = decode_range(5..n, &mut bufs, &mut decoded, &mut udc);
            }
            let result = match (bad, &last_key) {
                (Some(e), _) => Err(e),
                (None, None) => unreachable!("a good key is cached"),
                (None, Some(CachedKey { case: Err(e), .. })) => Err(e.clone()),
                (
                    None,
                    Some(CachedKey {
                        key,
                        fields: key_fields,
                        case: Ok(case),
                        ..
                    }),
                ) => {
                    let mut fields: [&str; 10] = [""; 10];
                    for (i, f) in fields.iter_mut().enumerate().take(n) {
                        *f = if i < 5 {
                            &key_fields[i]
                        } else {
                            ascii_or(&raw[i], &bufs[i], decoded[i])
                        };
                    }
                    row(&Record {
                        start,
                        lines: whole.then_some(&lines),
                        body: self.body,
                        key,
                        case: *case,
                        fields: &fields[..n],
                    })
                }
            };
            match result {
                Ok(()) => stats.count_udc(&udc),
                Err(e) => {
                    let at = line();
                    fail(&mut stats, at, e.column, e.reason);
                    if let (true, Some(cached)) = (whole, &last_key) {
                        stats.rejected_keys.push((cached.key.clone(), at));
                    }
                }
            }
        }
        gap(
            &mut stats,
            &mut fail,
            &mut loose,
            after_crlf(after_last.max(records_from)),
        );
        if let Some(l) = loose.take() {
            // (a chunk ends after a CRLF: only the file's end is here)
            close(&mut stats, &mut fail, l, to);
        }
        (stats, listed)
    }
}

/// How a record's quoting breaks RFC 4180 (`bad_quoting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadQuote {
    /// A `"` in a field that does not open with one.
    InUnquoted,
    /// Something other than a comma or the line's end after a quoted
    /// field's closing quote.
    AfterClosing,
    /// A quoted field, opening at `open`, that holds a line beginning as
    /// the file's rows do (its court's code, a category, a year:
    /// `row_like`): rows swallowed by a stray quote, however its closing
    /// quote is followed.
    Swallows { open: usize },
}

/// How a quote inside a quoted field is written.
const DOUBLED: &str = "a field holding \" must be quoted, the quote doubled, \"\"; RFC 4180";

impl BadQuote {
    fn reason(self) -> &'static str {
        match self {
            BadQuote::InUnquoted => {
                "a double quote in a field that is not quoted: a field holding \" must be \
                 quoted, the quote doubled (\"\"; RFC 4180)"
            }
            BadQuote::AfterClosing => {
                "text after the closing quote of a quoted field: a quote inside one is \
                 doubled (\"\"; RFC 4180)"
            }
            // (said with its lines by the scan)
            BadQuote::Swallows { .. } => "a quoted field that swallowed rows",
        }
    }
}

/// Where a record's quoting breaks RFC 4180, if it does: the offset in
/// `record` (its bytes as the reader bounds them, line ends around it
/// included) of the byte at fault, the
/// field's index, and how. A `"` opens a quoted field only at the field's
/// start; inside it `""` is a quote and a lone `"` closes it, and a comma
/// or the line's end must follow. The csv reader reads both other cases
/// without a word (`"a"b` as `ab`, `a"b` as it is). A quote that never
/// closes is the scan's `unclosed`, not this. Records without a `"` (most)
/// cost one `memchr`. No CP950 trail byte is a `"`, `,`, CR or LF.
/// `row_start`: a line break and the bytes every row of the file begins with
/// (`\r\nTPD,`), which a quoted field holds only if it swallowed rows.
fn bad_quoting(record: &[u8], row_start: &[u8]) -> Option<(usize, usize, BadQuote)> {
    memchr::memchr(b'"', record)?;
    let n = record.len();
    // (the reader's record can begin with the line end before it)
    let lead = record
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let (mut i, mut field) = (lead, 0);
    loop {
        if record.get(i) == Some(&b'"') {
            let open = i;
            i += 1;
            loop {
                i += memchr::memchr(b'"', &record[i..])? + 1;
                if record.get(i) != Some(&b'"') {
                    break;
                }
                i += 1;
            }
            // (a field of one line, most, costs one `memchr`)
            let text = &record[open + 1..i - 1];
            if memchr::memchr(b'\n', text).is_some()
                && (row_like(text, row_start) || quoted_row_after(text, &record[i..], row_start))
            {
                return Some((i, field, BadQuote::Swallows { open }));
            }
            if i < n && !matches!(record[i], b',' | b'\r' | b'\n') {
                return Some((i, field, BadQuote::AfterClosing));
            }
        } else {
            let end = memchr::memchr3(b',', b'\r', b'\n', &record[i..]).map_or(n, |k| i + k);
            if let Some(q) = memchr::memchr(b'"', &record[i..end]) {
                return Some((i + q, field, BadQuote::InUnquoted));
            }
            i = end;
        }
        if record.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
        field += 1;
    }
}

/// Whether a quoted field's `text` holds a line that begins as a row does:
/// `row_start` (a line break, the court's code, a comma), a category (a
/// short field), then a year (digits, spaces around allowed) and a comma.
/// A text may well hold a line beginning with the court's code and a
/// comma (`IPC,G06F 16/00 …`, a patent class; `TPD,PCD,SLD 三院`): taken
/// for swallowed rows, a valid row set its whole court aside (the import
/// review of the fifty-second session). A text that ends where a row's
/// category or year would begin was closed by that row's own quote
/// (`TPD,"民事",…`): it swallowed rows too.
fn row_like(text: &[u8], row_start: &[u8]) -> bool {
    memchr::memmem::find_iter(text, row_start).any(|at| {
        let rest = &text[at + row_start.len()..];
        if rest.is_empty() {
            return true;
        }
        let Some(comma) = rest.iter().take(25).position(|&b| b == b',') else {
            return false;
        };
        let category = &rest[..comma];
        if category.is_empty() || category.iter().any(|b| matches!(b, b'"' | b'\r' | b'\n')) {
            return false;
        }
        let rest = &rest[comma + 1..];
        if rest.is_empty() {
            return true;
        }
        let Some(end) = rest.iter().take(9).position(|&b| b == b',') else {
            return false;
        };
        let year = rest[..end].trim_ascii();
        (1..=4).contains(&year.len()) && year.iter().all(u8::is_ascii_digit)
    })
}

/// Whether a quoted field's `text`, ending with a line break, was closed by
/// the next row's quote around the court's code (`"TPD","民事",…`, every
/// text quoted): `after`, what follows its closing quote, is the rest of
/// that code and its own closing quote (the review of the fifty-third
/// session's change; `row_like` sees the rows whose code is not quoted).
fn quoted_row_after(text: &[u8], after: &[u8], row_start: &[u8]) -> bool {
    let code = row_start
        .trim_ascii_start()
        .strip_suffix(b",")
        .unwrap_or(row_start);
    text.ends_with(b"\n") && after.starts_with(code) && after[code.len()..].starts_with(b"\",")
}

/// Counts and lists a rejected record: (stats, line, column, reason).
type Fail<'a> = dyn FnMut(&mut ScanStats, u64, Option<usize>, String) + 'a;

/// A record a CR or LF alone outside quotes left open: the csv reader
/// ended a record there, the contract does not (only CRLF ends one), so the
/// reader's records up to the next CRLF are parts of this one, which is
/// rejected. Only rows that break the contract come here.
struct Loose {
    /// Where the record begins (after the CRLF before it).
    from: usize,
    /// The first line break alone (CR or LF), and the field it is in.
    brk: u8,
    field: usize,
    /// The field left open at the record's end so far (the next part of
    /// the record goes on it).
    open: usize,
    /// The record's case key, when the line break comes after it.
    key: Option<CaseKey>,
}

impl DataFile<'_> {
    /// The case key of a record's first five fields, if they read as one.
    fn key_of(&self, raw: &csv::ByteRecord, decoder: &Decoder) -> Option<CaseKey> {
        let mut fields: [String; 5] = Default::default();
        let mut udc = UdcSeen::default();
        for (i, f) in fields.iter_mut().enumerate() {
            let mut s = String::new();
            decoder
                .decode(self.encoding, &raw[i], &mut s, &mut udc)
                .ok()?;
            f.push_str(trim(&s));
        }
        parse_key(self.court, &fields).ok()
    }

    /// The file error of a stray quote at byte `open`, in the field at
    /// `column`, that swallowed rows up to its closing quote, before
    /// `close`. Lines are counted from the file's start, once a chunk at
    /// most (only its first is kept).
    fn stray_quote(&self, open: usize, close: usize, column: usize) -> FileError {
        let mut lines = LineCounter::from(0);
        FileError::StrayQuote {
            file: self.file.clone(),
            line: lines.line_of(self.body, open),
            last: lines.line_of(self.body, close - 1),
            field: self.column_name(column),
        }
    }

    /// A column's name, or `field #n` for one past the contract's.
    fn column_name(&self, column: usize) -> String {
        self.kind
            .spec()
            .columns
            .get(column)
            .cloned()
            .unwrap_or_else(|| format!("field #{}", column + 1))
    }

    /// Why the last record is rejected, its field at `column` opening a
    /// quote at byte `open` that never closes; when the field holds line
    /// breaks, `stats` also gets the file error (lines are counted from the
    /// file's start: this happens once a file at most).
    fn unclosed(&self, open: usize, column: usize, stats: &mut ScanStats) -> String {
        let line = LineCounter::from(0).line_at(self.body, open);
        let text = self.body[open..].trim_ascii_end();
        let last = line + count(text, b'\n') as u64;
        if last == line {
            return "a quoted field opens here and is never closed, on the file's last line".into();
        }
        // (the first in the file stands: a stray quote's before it)
        stats.swallowed.get_or_insert(FileError::UnclosedQuote {
            file: self.file.clone(),
            line,
            last,
            field: self.column_name(column),
        });
        format!(
            "a quoted field opens here and is never closed: lines {line}–{last}, to the end \
             of the file, were read as this one field"
        )
    }
}

/// The previous record's key, parsed, with its decoded fields, the
/// user-defined characters in them, and the case it resolved to.
struct CachedKey {
    key: CaseKey,
    fields: [String; 5],
    udc: UdcSeen,
    case: Result<u32, FieldError>,
}

/// The trimmed text of a field: the buffer it was decoded into, or, when
/// it was not decoded for being ASCII (the same in CP950 and UTF-8), its
/// raw bytes. Each field is looked at once for being ASCII (the scan's
/// `decode_range`): a national night has about 190 million.
fn ascii_or<'b>(raw: &'b [u8], buf: &'b str, decoded: bool) -> &'b str {
    if decoded {
        trim(buf)
    } else {
        trim(std::str::from_utf8(raw).expect("a field not decoded is ASCII"))
    }
}

#[cfg(test)]
mod tests;
