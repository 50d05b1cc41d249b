//! The chunked scan against the one-pass scan: for any bytes, cutting a file
//! into chunks must not change a row, a reject, a line number or a count.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;
use crate::kinds::progress;

const PROGRESS_HEADER: &str =
    "法院代號,案件類別,年度,字別,案號,序號,登載日期,登載事項,異動時間,刪除";

/// Everything a scan gives that the import uses.
#[derive(Debug, PartialEq)]
struct Outcome {
    rows: Vec<String>,
    rejects: Vec<Reject>,
    records: u64,
    rejected: u64,
    rejected_by_field: BTreeMap<String, u64>,
    udc_mapped: u64,
    udc_unmapped: BTreeMap<String, u64>,
    swallowed: Option<FileError>,
}

impl Outcome {
    fn new(rows: Vec<String>, stats: ScanStats, rejects: Vec<Reject>) -> Outcome {
        Outcome {
            rows,
            rejects,
            records: stats.records,
            rejected: stats.rejected,
            rejected_by_field: stats.rejected_by_field,
            udc_mapped: stats.udc_mapped,
            udc_unmapped: stats.udc_unmapped,
            swallowed: stats.swallowed,
        }
    }
}

/// A progress row as text (without its arena offsets, which differ from
/// chunk to chunk), with the case it resolved to.
fn show(r: &Record<'_>, arena: &mut String) -> Result<String, FieldError> {
    let v = progress::parse(r, arena)?;
    Ok(format!(
        "{} case {} seq {} posted {} modified {} withdrawn {} text {:?}",
        r.key,
        r.case,
        v.seq,
        v.posted,
        v.modified,
        v.withdrawn,
        v.text.get(arena)
    ))
}

/// Every fifth case number is not listed: rejects from the resolver, and
/// from the key cache when the next row names the same case.
fn resolve(key: &CaseKey) -> Result<u32, FieldError> {
    if key.number.is_multiple_of(5) {
        Err(FieldError::at(4, format!("case {key} is not listed")))
    } else {
        Ok(key.number)
    }
}

fn decoder() -> Decoder {
    // One user-defined code mapped, the others left to 〓.
    Decoder::new(HashMap::from([(0xFA40, '𩸽')]))
}

fn one_pass(file: &DataFile<'_>, decoder: &Decoder, max_listed: usize) -> Outcome {
    let mut rows = Vec::new();
    let mut arena = String::new();
    let (stats, rejects) = file.for_each(decoder, Some(&resolve), max_listed, |r| {
        rows.push(show(r, &mut arena)?);
        Ok(())
    });
    Outcome::new(rows, stats, rejects)
}

fn chunked(file: &DataFile<'_>, decoder: &Decoder, max_listed: usize, size: usize) -> Outcome {
    let scan = file.par_map(size, decoder, Some(&resolve), max_listed, show);
    let rows = scan.chunks.into_iter().flat_map(|(rows, _)| rows).collect();
    Outcome::new(rows, scan.stats, scan.rejects)
}

fn progress_file(body: &str) -> Vec<u8> {
    [
        b"\xEF\xBB\xBF".as_slice(),
        PROGRESS_HEADER.as_bytes(),
        b"\r\n",
        body.as_bytes(),
    ]
    .concat()
}

/// A progress file of `body` scanned in one pass, after checking that
/// every chunk size for which the file is over 1.5 chunks gives the same.
fn every_way(body: &str) -> Outcome {
    let decoder = decoder();
    let bytes = progress_file(body);
    let file = DataFile::open(&bytes, "TPD", FileKind::Progress, &decoder).unwrap();
    let whole = one_pass(&file, &decoder, usize::MAX);
    for size in 1..=body.len() * 2 / 3 {
        assert_eq!(
            chunked(&file, &decoder, usize::MAX, size),
            whole,
            "chunk size {size}"
        );
    }
    whole
}

#[test]
fn one_stray_quote_does_not_set_aside_the_whole_court() {
    // Issue 10, item 2: a `"` inside an unquoted field is a literal to the
    // csv reader, but it used to flip the splitter's quote parity, and a
    // later quoted field with a line break was cut in two: one valid record
    // became two rejected ones, the count disagreed with MANIFEST.csv and
    // the court was carried over for the night.
    let body = concat!(
        "TPD,民事,115,訴,1,1,115/01/02,他說\"好,115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,2,115/01/02,準備程序,115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,3,115/01/02,\"第一行\r\n第二行\",115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,4,115/01/02,宣判,115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,2,1,115/01/02,\"函查\r\n\r\n急件\",115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,2,2,115/01/02,調解,115/01/02 10:00:00,N\r\n",
    );
    let bytes = progress_file(body);
    let decoder = decoder();
    let file = DataFile::open(&bytes, "TPD", FileKind::Progress, &decoder).unwrap();
    let whole = one_pass(&file, &decoder, usize::MAX);
    // (the stray quote's own row breaks RFC 4180 and is rejected alone:
    // `quoting_that_breaks_rfc_4180_is_rejected_with_its_line_and_field`)
    assert_eq!((whole.records, whole.rejected), (6, 1), "{whole:#?}");
    assert_eq!(whole.rejects[0].line, 2, "{whole:#?}");
    assert!(whole.rows[0].contains("seq 2 "), "{}", whole.rows[0]);
    // Every chunk size for which the file is over 1.5 chunks.
    for size in 1..=body.len() * 2 / 3 {
        assert_eq!(
            chunked(&file, &decoder, usize::MAX, size),
            whole,
            "chunk size {size}"
        );
    }
}

#[test]
fn a_quote_never_closed_is_named_where_it_opens() {
    // The csv reader ends a quoted field that never closes at the file's
    // end without a word: the rows after it were one field, and the count
    // alone told a court's IT nothing of where.
    let rows = concat!(
        "TPD,民事,115,訴,1,1,115/01/02,\"第一行\r\n第二行\",115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,2,115/01/02,他說\"好,115/01/02 10:00:00,N\r\n",
    );
    let open = "TPD,民事,115,訴,1,3,115/01/02,\"準備程序,115/01/02 10:00:00,N\r\n";
    let after = "TPD,民事,115,訴,1,4,115/01/02,宣判,115/01/02 10:00:00,N\r\n";
    let field = |o: &Outcome| {
        let r = o.rejects.last().unwrap();
        (r.line, r.field.clone(), r.reason.clone())
    };
    let scan = every_way;
    // Rows after it: they are swallowed, and the file cannot be used.
    // (and the literal quote's row is rejected for itself: below)
    let whole = scan(&format!("{rows}{open}{after}{after}"));
    assert_eq!((whole.records, whole.rejected), (3, 2), "{whole:#?}");
    assert_eq!(
        field(&whole),
        (
            5,
            Some("登載事項".to_string()),
            "a quoted field opens here and is never closed: lines 5–7, to the end of the \
             file, were read as this one field"
                .to_string()
        )
    );
    assert_eq!(
        whole.swallowed.as_ref().unwrap().to_string(),
        "TPD_progress.csv:5: 登載事項 opens a quoted field that is never closed: lines 5–7, \
         to the end of the file, were read as that one field, so the rows among them cannot be \
         told apart"
    );
    // In the last row, with nothing but its line end after it: that row
    // is rejected alone.
    for end in ["\r\n", ""] {
        let whole = scan(&format!("{rows}{}{end}", open.trim_end_matches("\r\n")));
        assert_eq!((whole.records, whole.rejected), (3, 2), "{whole:#?}");
        assert_eq!(
            field(&whole),
            (
                5,
                Some("登載事項".to_string()),
                "a quoted field opens here and is never closed, on the file's last line"
                    .to_string()
            )
        );
        assert_eq!(whole.swallowed, None);
    }
    // Closed quotes, doubled ones and a literal one are not taken for it
    // (the literal one's row is rejected for itself, a quote in a field
    // that is not quoted).
    let whole = scan(rows);
    assert!(whole.rejects[0].reason.contains("not quoted"), "{whole:#?}");
    assert_eq!(
        (whole.records, whole.rejected, whole.swallowed),
        (2, 1, None)
    );
}

/// The import review of the thirty-eighth session (its 4): quoting was read
/// as leniently as the csv reader reads it: text after a closing quote was
/// glued on with the quotes dropped (`"a"b` read `ab`), and a quote in a
/// field that is not quoted was kept, where the contract's RFC 4180
/// quoting makes both rows that break it, to be rejected with file, line,
/// field and reason. They are now, on the line of the offending quote;
/// well-formed quoting (doubled quotes, commas and line breaks inside) is
/// read as before, and chunks give what one pass gives.
#[test]
fn quoting_that_breaks_rfc_4180_is_rejected_with_its_line_and_field() {
    let body = concat!(
        "TPD,民事,115,訴,1,1,115/01/02,他說\"好,115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,2,115/01/02,\"第一行\r\n第二行\"x,115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,3,115/01/02,\"他說\"\"好\"\",他\r\n說\",115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,4,\"115/01/02\",宣判,115/01/02 10:00:00,N\r\n",
        "TPD,民事,115,訴,1,6,115/01/02,宣判,115/01/02 10:00:00,\"N\" \r\n",
    );
    let whole = every_way(body);
    assert_eq!((whole.records, whole.rejected), (5, 3), "{whole:#?}");
    let got: Vec<(u64, Option<&str>, &str)> = whole
        .rejects
        .iter()
        .map(|r| (r.line, r.field.as_deref(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                2,
                Some("登載事項"),
                "a double quote in a field that is not quoted: a field holding \" must be \
                 quoted, the quote doubled (\"\"; RFC 4180)"
            ),
            (
                4,
                Some("登載事項"),
                "text after the closing quote of a quoted field: a quote inside one is \
                 doubled (\"\"; RFC 4180)"
            ),
            (
                8,
                Some("刪除"),
                "text after the closing quote of a quoted field: a quote inside one is \
                 doubled (\"\"; RFC 4180)"
            ),
        ]
    );
    assert_eq!(whole.rows.len(), 2, "{whole:#?}");
    assert!(
        whole.rows[0].contains("text \"他說\\\"好\\\",他"),
        "{}",
        whole.rows[0]
    );
    assert!(whole.rows[1].contains("seq 4 "), "{}", whole.rows[1]);
}

/// The import review of the fifty-second session (its 1): a well-quoted
/// text of several lines, one of which begins with the court's code and a
/// comma (patent classes, `IPC,G06F 16/00`; a list of courts,
/// `TPD,PCD,SLD 三院`), was taken for rows a stray quote swallowed, and
/// its whole court set aside. Only a line that begins as a row does (the
/// code, a category, a year) is; this is a text, and its row is read.
#[test]
fn a_text_line_that_begins_with_the_courts_code_is_not_taken_for_a_row() {
    let row = |seq: u32, text: &str| {
        format!("TPD,民事,115,訴,1,{seq},115/01/02,{text},115/01/02 10:00:00,N\r\n")
    };
    let whole = every_way(&format!(
        "{}{}{}{}",
        row(1, "分案"),
        row(
            2,
            "\"函請說明系爭專利之分類：\r\nTPD,G06F 16/00 及 H04L 9/00\""
        ),
        row(3, "\"移送\r\nTPD,PCD,SLD 三院\r\nTPD,民事庭，115年\""),
        row(4, "宣判"),
    ));
    assert_eq!((whole.records, whole.rejected), (4, 0), "{whole:#?}");
    assert!(whole.swallowed.is_none(), "{whole:#?}");
    assert!(
        whole.rows[1].contains("TPD,G06F 16/00 及 H04L 9/00"),
        "{}",
        whole.rows[1]
    );
}

/// A stray quote closed by the next row's own quote, where that row quotes
/// its category or its year (a spreadsheet quoting every text): the line
/// end between was swallowed, and the record rejected for text after a
/// closing quote on the next row's line, the row it swallowed gone. It is
/// the stray quote's, as any other swallowing (the gap the import review
/// of the fifty-second session left).
#[test]
fn a_stray_quote_closed_by_the_next_rows_quoted_category_or_year_swallowed_it() {
    let stray = "TPD,民事,115,訴,1,2,115/01/02,\"函查,115/01/02 10:00:00,N\r\n";
    for next in [
        "TPD,\"民事\",115,訴,1,3,115/01/02,宣判,115/01/02 10:00:00,N\r\n",
        "TPD,民事,\"115\",訴,1,3,115/01/02,宣判,115/01/02 10:00:00,N\r\n",
        // (every text quoted, the court's code too: the review of the
        // session's change)
        "\"TPD\",\"民事\",115,訴,1,3,115/01/02,宣判,115/01/02 10:00:00,N\r\n",
    ] {
        let before = "TPD,民事,115,訴,1,1,115/01/02,分案,115/01/02 10:00:00,N\r\n";
        let whole = every_way(&format!("{before}{stray}{next}{before}"));
        assert_eq!(
            whole.swallowed.as_ref().map(ToString::to_string).as_deref(),
            Some(
                "TPD_progress.csv:3: 登載事項 opens a quoted field that runs to line 4: lines \
                 3–4 were read as that one field, so the rows among them cannot be told apart"
            ),
            "{next}: {whole:#?}"
        );
    }
}

/// A stray opening quote that a later row's quote closes, text after it:
/// the rows between were read as one field (the forty-fourth session). It
/// is rejected on the line where the quote opened, and the file cannot be
/// used, since the rows among those lines cannot be told apart; a quoted
/// text whose own lines hold a bad quote rejects its row alone.
#[test]
fn a_stray_quote_that_swallows_rows_is_named_where_it_opens() {
    let before = "TPD,民事,115,訴,1,1,115/01/02,分案,115/01/02 10:00:00,N\r\n";
    let stray = "TPD,民事,115,訴,1,2,115/01/02,\"函查,115/01/02 10:00:00,N\r\n";
    let swallowed = "TPD,民事,115,訴,1,3,115/01/02,宣判,115/01/02 10:00:00,N\r\n";
    let closes = "TPD,民事,115,訴,1,4,115/01/02,\"準備程序\",115/01/02 10:00:00,N\r\n";
    let whole = every_way(&format!(
        "{before}{stray}{swallowed}{swallowed}{closes}{before}"
    ));
    assert_eq!((whole.records, whole.rejected), (3, 1), "{whole:#?}");
    let r = &whole.rejects[0];
    assert_eq!(
        (r.line, r.field.as_deref(), r.reason.as_str()),
        (
            3,
            Some("登載事項"),
            "a quoted field opens here and runs over 4 lines: the rows among those lines were \
             read as this one field (a field holding \" must be quoted, the quote doubled, \"\"; \
             RFC 4180)"
        )
    );
    assert_eq!(
        whole.swallowed.as_ref().map(ToString::to_string).as_deref(),
        Some(
            "TPD_progress.csv:3: 登載事項 opens a quoted field that runs to line 6: lines 3–6 \
             were read as that one field, so the rows among them cannot be told apart"
        )
    );
    // Closed by a quote a comma follows (a text's closing quote without
    // its opening one): the record read well-formed, the rows among its
    // lines gone, and raw CSV published as one entry's text (the review of
    // the session's change). The same.
    let closes_clean = "TPD,民事,115,訴,1,4,115/01/02,準備程序\",115/01/02 10:00:00,N\r\n";
    let clean = every_way(&format!("{before}{stray}{swallowed}{closes_clean}{before}"));
    assert_eq!((clean.records, clean.rejected), (3, 1), "{clean:#?}");
    assert_eq!(
        (clean.rejects[0].line, clean.rejects[0].field.as_deref()),
        (3, Some("登載事項"))
    );
    assert!(
        clean.swallowed.as_ref().unwrap().to_string().starts_with(
            "TPD_progress.csv:3: 登載事項 opens a quoted field that runs to line 5: lines 3–5 \
             were read as that one field"
        ),
        "{clean:#?}"
    );
    // Two of them: the first is the file's error, each is rejected.
    let twice = every_way(&format!(
        "{stray}{swallowed}{closes}{before}{stray}{swallowed}{closes}"
    ));
    assert_eq!((twice.records, twice.rejected), (3, 2), "{twice:#?}");
    assert_eq!(
        twice.rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
        [2, 6]
    );
    assert!(
        twice
            .swallowed
            .as_ref()
            .unwrap()
            .to_string()
            .starts_with("TPD_progress.csv:2: 登載事項 opens a quoted field that runs to line 4"),
        "{twice:#?}"
    );
    // A quoted text of several lines, a quote in it not doubled: no row
    // among its lines, its row alone is rejected, where the quote is.
    let text =
        "TPD,民事,115,訴,1,2,115/01/02,\"第一行\r\n第二行\r\n他說\"好,115/01/02 10:00:00,N\r\n";
    let whole = every_way(&format!("{before}{text}{before}"));
    assert_eq!((whole.records, whole.rejected), (3, 1), "{whole:#?}");
    assert_eq!(whole.swallowed, None);
    assert_eq!(
        (whole.rejects[0].line, whole.rejects[0].reason.as_str()),
        (
            5,
            "text after the closing quote of a quoted field: a quote inside one is doubled \
             (\"\"; RFC 4180)"
        )
    );
}

/// The import review of the forty-second session (its 1): the csv reader
/// ends a record at CR, LF or CRLF, so a line break alone in a field not
/// quoted cut its row in two, neither of the contract's width, and the
/// count disagreed with MANIFEST.csv, setting the whole court aside. Only
/// CRLF ends a record (RFC 4180, the contract): the row is one record,
/// rejected on its own line, naming the field the line break is in; the
/// rows around it are read, in one pass and in chunks alike.
#[test]
fn a_line_break_outside_quotes_costs_its_row_alone() {
    for (brk, name) in [("\n", "LF"), ("\r", "CR")] {
        let body = format!(
            "{}{}{}{}",
            "TPD,民事,115,訴,1,1,115/01/02,準備程序,115/01/02 10:00:00,N\r\n",
            format_args!(
                "TPD,民事,115,訴,1,2,115/01/02,第一行{brk}第二行,115/01/02 10:00:00,N\r\n"
            ),
            "TPD,民事,115,訴,1,3,115/01/02,\"第一行\r\n第二行\",115/01/02 10:00:00,N\r\n",
            "TPD,民事,115,訴,1,4,115/01/02,宣判,115/01/02 10:00:00,N\r\n",
        );
        let whole = every_way(&body);
        assert_eq!(
            (whole.records, whole.rejected),
            (4, 1),
            "{name}: {whole:#?}"
        );
        assert_eq!(whole.rows.len(), 3, "{name}: {whole:#?}");
        let r = &whole.rejects[0];
        assert_eq!((r.line, r.field.as_deref()), (3, Some("登載事項")), "{r:?}");
        let lines = if name == "LF" { "; 2 lines" } else { "" };
        assert_eq!(
            r.reason,
            format!(
                "a line break ({name} alone) outside quotes: a field holding one is quoted, and \
                 only CRLF ends a row (RFC 4180){lines}, up to the next CRLF, read as this one \
                 record"
            )
        );
        assert!(whole.rows[2].contains("seq 4 "), "{}", whole.rows[2]);
    }
}

/// A line end of LF alone (a row's, or an empty line's) does not end a
/// record either: what follows it, up to the next CRLF, is the same
/// record, rejected on the line it starts on, naming the field the line
/// break falls in; and so is a last row ended by LF alone.
#[test]
fn a_row_ended_by_lf_alone_is_read_with_what_follows_it_up_to_the_crlf() {
    let row = |n: u32| format!("TPD,民事,115,訴,{n},1,115/02/03,分案,115/02/03 10:00:00,N");
    let body = format!(
        "{}\n{}\r\n{}\r\n\n{}\r\n{}\n",
        row(1),
        row(2),
        row(3),
        row(4),
        row(6)
    );
    let whole = every_way(&body);
    let got: Vec<(u64, Option<&str>)> = whole
        .rejects
        .iter()
        .map(|r| (r.line, r.field.as_deref()))
        .collect();
    assert_eq!(
        got,
        [(2, Some("刪除")), (5, Some("法院代號")), (7, Some("刪除"))],
        "{whole:#?}"
    );
    assert_eq!((whole.records, whole.rejected), (4, 3), "{whole:#?}");
    assert!(whole.rejects[0]
        .reason
        .contains("; 2 lines, up to the next CRLF"));
    assert!(whole.rejects[1]
        .reason
        .contains("; 2 lines, up to the next CRLF"));
    assert!(
        whole.rejects[2]
            .reason
            .ends_with("(RFC 4180), up to the file's end, read as this one record"),
        "{whole:#?}"
    );
    assert_eq!(whole.rows.len(), 1, "{whole:#?}");
    assert!(whole.rows[0].contains("第3號"), "{}", whole.rows[0]);
}

#[test]
fn a_bom_after_the_header_hides_no_line_break() {
    // The one-pass scan's reader starts right after the header, and a reader
    // drops a BOM at the start of its input; the first record's position
    // still pointed at the BOM, so the line break after it went uncounted and
    // the reject named line 2, where chunks (rightly) said line 3. (That
    // header ended with LF alone, which now makes the file unusable; after
    // a CRLF the reader starts at its LF. The lines must still be right.)
    let bytes = [
        b"\xEF\xBB\xBF".as_slice(),
        PROGRESS_HEADER.as_bytes(),
        b"\r\n\xEF\xBB\xBF\r\n",
        "TPD,民事,115,訴,1,1,115/02/30,準備程序,115/01/02 10:00:00,N\r\n".as_bytes(),
    ]
    .concat();
    let decoder = decoder();
    let file = DataFile::open(&bytes, "TPD", FileKind::Progress, &decoder).unwrap();
    let whole = one_pass(&file, &decoder, usize::MAX);
    // Line 2, a stray BOM and a line break, is a record of its own (a
    // reader drops the BOM and would skip the line as empty): rejected.
    let lines: Vec<u64> = whole.rejects.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3], "{whole:#?}");
    for size in 1..=10 {
        assert_eq!(
            chunked(&file, &decoder, usize::MAX, size),
            whole,
            "chunk size {size}"
        );
    }
}

#[test]
fn every_empty_line_is_a_record_rejected_on_its_own_line() {
    let row = |n: u32| format!("TPD,民事,115,訴,{n},1,115/02/03,分案,115/02/03 10:00:00,N");
    // Empty lines after the header, between rows and at the end. (Only
    // CRLF ends a line: an LF alone is text of the record it is in,
    // `a_row_ended_by_lf_alone_is_read_with_what_follows_it_up_to_the_crlf`.)
    let bytes = progress_file(&format!(
        "\r\n{}\r\n\r\n\r\n{}\r\n{}\r\n\r\n",
        row(1),
        row(2),
        row(3)
    ));
    let bytes = bytes.as_slice();
    let decoder = decoder();
    let file = DataFile::open(bytes, "TPD", FileKind::Progress, &decoder).unwrap();
    let whole = one_pass(&file, &decoder, usize::MAX);
    assert_eq!(whole.rows.len(), 3, "{whole:#?}");
    let lines: Vec<u64> = whole.rejects.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 4, 5, 8], "{whole:#?}");
    assert!(whole
        .rejects
        .iter()
        .all(|r| r.reason.contains("empty line")));
    assert_eq!((whole.records, whole.rejected), (7, 4));
    for size in 1..=40 {
        assert_eq!(
            chunked(&file, &decoder, usize::MAX, size),
            whole,
            "chunk size {size}"
        );
    }
}

#[test]
fn a_header_after_an_empty_line_is_not_the_first_line() {
    let bytes = format!("\u{FEFF}\r\n{PROGRESS_HEADER}\r\n");
    let err = DataFile::open(bytes.as_bytes(), "TPD", FileKind::Progress, &decoder())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("line 1 is empty"), "{err}");
}

/// A piece of a generated field: text (written in the file's encoding) or
/// raw bytes (written as they are, valid or not).
#[derive(Debug, Clone)]
enum Atom {
    Text(&'static str),
    Raw(&'static [u8]),
}

/// Pieces of CSV-like input: valid values of every column, stray and
/// doubled quotes, quoted fields with line breaks, bare CR and LF, a BOM in
/// the middle, CP950 bytes (standard, user-defined, invalid).
fn atom() -> impl Strategy<Value = Atom> {
    use Atom::{Raw, Text};
    prop_oneof![
        4 => prop::sample::select(vec![
            Text("TPD"),
            Text("民事"),
            Text("115"),
            Text("訴"),
            Text("1"),
            Text("5"),
            Text("7"),
            Text("115/01/02"),
            Text("115/01/02 10:00:00"),
            Text("N"),
            Text("準備程序"),
            Text(" "),
            Text("\u{3000}"),
        ]),
        3 => prop::sample::select(vec![
            Raw(b"\""),
            Raw(b"\"\""),
            Raw(b"a\"b"),
            Raw(b"\"x,y\""),
            Raw(b"\"a\r\nb\""),
            Raw(b"\"a\rb\""),
            Raw(b"\"a\nb\""),
            Raw(b"\"a\"\"b\""),
            Raw(b"\"q\"z"),
            Raw(b"\"\r\n"),
            Raw(b"\r\n"),
            Raw(b"\r"),
            Raw(b"\n"),
            Raw(b","),
            Raw(b"\xEF\xBB\xBF"),
            Raw(b"\xA5\xC1\xA8\xC6"),
            Raw(b"\xFA\x40"),
            Raw(b"\xFA\x41"),
            Raw(b"\xA4\x30"),
            Raw(b"\xFF"),
        ]),
    ]
}

/// A record: mostly a valid progress row with its text (and now and then
/// another column) replaced by generated pieces, else pieces alone; then a
/// line end of any kind, or none.
fn record() -> impl Strategy<Value = Vec<Atom>> {
    use Atom::{Raw, Text};
    let row = (
        1u32..12,
        1u32..4,
        prop::collection::vec(atom(), 0..4),
        0usize..12,
    )
        .prop_map(|(number, seq, text, replaced)| {
            let number: &'static str =
                ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"][number as usize - 1];
            let seq: &'static str = ["1", "2", "3"][seq as usize - 1];
            let fields = [
                "TPD",
                "民事",
                "115",
                "訴",
                number,
                seq,
                "115/01/02",
                "",
                "115/01/02 10:00:00",
                "N",
            ];
            let mut out = Vec::new();
            for (i, f) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(Raw(b","));
                }
                if i == 7 || i == replaced {
                    out.extend(text.iter().cloned());
                } else {
                    out.push(Text(f));
                }
            }
            out
        });
    let junk = prop::collection::vec(atom(), 0..12);
    let end = prop::sample::select(vec![
        Raw(b"\r\n"),
        Raw(b"\r\n"),
        Raw(b"\n"),
        Raw(b"\r"),
        Raw(b"\r\n\r\n"),
        Raw(b""),
    ]);
    (prop_oneof![3 => row, 1 => junk], end).prop_map(|(mut atoms, end)| {
        atoms.push(end);
        atoms
    })
}

/// A generated file, shown as a byte string when a case fails.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// A whole progress file: UTF-8 with a BOM or CP950, its header, the
/// records.
fn file() -> impl Strategy<Value = Bytes> {
    (
        any::<bool>(),
        // (a header line ended otherwise makes the file unusable:
        // `kinds::tests::a_file_whose_lines_end_in_lf_or_cr_alone_is_unusable_saying_so`)
        Just("\r\n"),
        // What a reader makes of a BOM depends on where it starts.
        prop::sample::select(vec![
            &b""[..],
            b"",
            b"",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB\xBF\r\n",
        ]),
        prop::collection::vec(record(), 0..40),
    )
        .prop_map(|(utf8, header_end, after_header, records)| {
            let encode = |s: &str| -> Vec<u8> {
                if utf8 {
                    s.as_bytes().to_vec()
                } else {
                    encoding_rs::BIG5.encode(s).0.into_owned()
                }
            };
            let mut bytes = Vec::new();
            if utf8 {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            bytes.extend(encode(PROGRESS_HEADER));
            bytes.extend_from_slice(header_end.as_bytes());
            bytes.extend_from_slice(after_header);
            for atom in records.iter().flatten() {
                match atom {
                    Atom::Text(s) => bytes.extend(encode(s)),
                    Atom::Raw(b) => bytes.extend_from_slice(b),
                }
            }
            Bytes(bytes)
        })
}

proptest! {
    #[test]
    fn chunks_of_any_size_give_what_one_pass_gives(
        bytes in file(),
        size in 1usize..64,
        max_listed in prop_oneof![Just(usize::MAX), 0usize..4],
    ) {
        let decoder = decoder();
        let file = DataFile::open(&bytes.0, "TPD", FileKind::Progress, &decoder)
            .expect("the header is valid");
        let whole = one_pass(&file, &decoder, max_listed);
        prop_assert_eq!(&chunked(&file, &decoder, max_listed, size), &whole, "chunk size {}", size);
        prop_assert_eq!(&chunked(&file, &decoder, max_listed, 1 << 30), &whole, "one big chunk");
    }
}
