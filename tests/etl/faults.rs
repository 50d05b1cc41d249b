//! Corrupted copies of the sample nights: every manifest fault, a truncated
//! file, broken quoting, a wrong court prefix, a wrong header, and the reject
//! limit. A faulty court is set aside for the night and its previous data
//! carried over; every other court imports.

use std::fs;
use std::path::Path;

use crate::util::{
    append_raw_rows, append_rows, court, damage, edit_manifest, rehash, replace_bytes, sample,
    writable, Env,
};

/// Imports night 1, then the corrupted night 2, and checks TPD was carried
/// over with the reason, the rest imported. Returns the night-2 report.
fn tpd_carried_over(corrupt: impl Fn(&Path), reason: &str) -> serde_json::Value {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let night1_tpd: Vec<String> = env
        .dump("20261123")
        .lines()
        .filter(|l| l.contains(r#""court":"TPD""#))
        .map(String::from)
        .collect();
    let batch = env.copy_night("20261124");
    corrupt(&batch);
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("TPD   CARRIED OVER"), "{}", run.stdout);
    assert!(
        run.stdout.contains(reason),
        "summary must give the reason `{reason}`:\n{}",
        run.stdout
    );
    let report = env.report("20261124");
    let tpd = court(&report, "TPD");
    assert_eq!(tpd["status"], "carried_over");
    assert_eq!(tpd["as_of"], "115/11/23");
    let reasons = tpd["reasons"].to_string();
    assert!(reasons.contains(reason), "{reasons}");
    assert_eq!(court(&report, "KSD")["status"], "imported");
    assert_eq!(court(&report, "PCD")["status"], "imported");

    // TPD's cases are night 1's, with tonight's cutoff applied: 民事 114 訴 523
    // (上訴 115/09/23) is no longer queryable, everything else unchanged.
    let night2 = env.dump("20261124");
    let tpd_now: Vec<&str> = night2
        .lines()
        .filter(|l| l.contains(r#""court":"TPD""#))
        .collect();
    assert_eq!(tpd_now.len(), night1_tpd.len());
    for (now, before) in tpd_now.iter().zip(&night1_tpd) {
        if now.contains(r#""word":"訴","number":523"#) {
            assert!(
                now.contains(r#""queryable":false"#) && now.contains(r#""entries":[]"#),
                "{now}"
            );
        } else {
            assert_eq!(now, before);
        }
    }
    report
}

/// Replaces bytes in a file and lists the new bytes truthfully in the
/// manifest (an exporter that wrote a bad file but hashed what it wrote).
fn rewrite(batch: &Path, file: &str, from: &[u8], to: &[u8]) {
    replace_bytes(&batch.join(file), from, to);
    rehash(batch, file);
}

/// A manifest line that cannot be used (a hash in upper-case hex; a
/// field too many, the trailing comma a spreadsheet may write) gives that
/// as the court's reason, not "present but not listed" (the file is
/// listed, on a line that cannot be used): an operator's walk found the
/// cause only among the warnings.
#[test]
fn a_manifest_line_that_cannot_be_used_is_the_courts_reason() {
    fn upper_hash(l: &str) -> String {
        l.to_uppercase().replacen("TPD_CASE.CSV", "TPD_case.csv", 1)
    }
    fn trailing_comma(l: &str) -> String {
        format!("{l},")
    }
    for (edit, reason) in [
        (
            upper_hash as fn(&str) -> String,
            "is not 64 lowercase hex digits",
        ),
        (trailing_comma, "expected 3 fields, found 4"),
    ] {
        let report = tpd_carried_over(
            |b| {
                let path = b.join("MANIFEST.csv");
                let text = fs::read_to_string(&path).unwrap();
                let edited: Vec<String> = text
                    .lines()
                    .map(|l| match l.starts_with("TPD_case.csv,") {
                        true => edit(l),
                        false => l.to_string(),
                    })
                    .collect();
                fs::write(&path, edited.join("\r\n") + "\r\n").unwrap();
            },
            reason,
        );
        let reasons = court(&report, "TPD")["reasons"].to_string();
        assert!(reasons.contains("MANIFEST.csv:"), "{reasons}");
        assert!(!reasons.contains("present but not listed"), "{reasons}");
    }
}

#[test]
fn a_file_listed_but_absent() {
    tpd_carried_over(
        |b| fs::remove_file(b.join("TPD_applicant.csv")).unwrap(),
        "TPD_applicant.csv is listed in MANIFEST.csv (line",
    );
}

#[test]
fn a_file_present_but_not_listed() {
    tpd_carried_over(
        |b| edit_manifest(b, "TPD_prosecutor.csv", |_, _| None),
        "TPD_prosecutor.csv is present but not listed in MANIFEST.csv",
    );
}

#[test]
fn a_required_file_missing_from_both() {
    tpd_carried_over(
        |b| {
            fs::remove_file(b.join("TPD_progress.csv")).unwrap();
            edit_manifest(b, "TPD_progress.csv", |_, _| None);
        },
        "TPD_progress.csv is missing (required)",
    );
}

#[test]
fn a_wrong_record_count() {
    tpd_carried_over(
        |b| {
            edit_manifest(b, "TPD_case.csv", |rows, sha| {
                Some(format!(
                    "TPD_case.csv,{},{sha}",
                    rows.parse::<u64>().unwrap() + 1
                ))
            })
        },
        "TPD_case.csv: 14 records, MANIFEST.csv (line",
    );
}

#[test]
fn a_changed_byte_fails_the_hash() {
    tpd_carried_over(
        |b| {
            let p = b.join("TPD_applicant.csv");
            let mut bytes = fs::read(&p).unwrap();
            let last = bytes.len() - 3;
            bytes[last] ^= 0x01;
            fs::write(p, bytes).unwrap();
        },
        "TPD_applicant.csv: SHA-256 is",
    );
}

#[test]
fn a_truncated_file() {
    tpd_carried_over(
        |b| {
            let p = b.join("TPD_progress.csv");
            let bytes = fs::read(&p).unwrap();
            fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        },
        "TPD_progress.csv: SHA-256 is",
    );
}

#[test]
fn a_truncated_file_with_a_matching_hash_fails_the_count() {
    // An exporter that hashed what it wrote but died before the end: the
    // hash matches, the record count does not.
    tpd_carried_over(
        |b| {
            let p = b.join("TPD_progress.csv");
            let bytes = fs::read(&p).unwrap();
            fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
            rehash(b, "TPD_progress.csv");
        },
        "records, MANIFEST.csv (line",
    );
}

/// An opening quote that is never closed runs to the end of the file: the
/// rows after it cannot be told apart, and the count disagrees. The
/// court's reason says where the quote opened, which the count alone left
/// a court's IT to find. Counted by a reader as lenient as ours, the
/// manifest agrees, and the rows it swallowed would have gone unseen: the
/// court is set aside all the same.
#[test]
fn broken_quoting_swallows_records_and_says_where_the_quote_opened() {
    let opened = "TPD_case.csv:2: 案件類別 opens a quoted field that is never closed: \
                  lines 2–";
    let report = tpd_carried_over(|b| rewrite(b, "TPD_case.csv", b"TPD,", b"TPD,\""), opened);
    let tpd = court(&report, "TPD");
    let reasons = tpd["reasons"].to_string();
    assert!(
        reasons.contains("TPD_case.csv: 1 record, MANIFEST.csv (line"),
        "{reasons}"
    );
    assert!(
        reasons.contains(
            ", to the end of the file, were read as that one field, \
             so the rows among them cannot be told apart"
        ),
        "{reasons}"
    );
    let first = &tpd["rejects"][0];
    assert_eq!(
        (&first["line"], &first["field"]),
        (&2.into(), &"案件類別".into())
    );
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .starts_with("a quoted field opens here and is never closed: lines 2–"),
        "{first}"
    );
    tpd_carried_over(
        |b| {
            rewrite(b, "TPD_case.csv", b"TPD,", b"TPD,\"");
            edit_manifest(b, "TPD_case.csv", |_, sha| {
                Some(format!("TPD_case.csv,1,{sha}"))
            });
        },
        opened,
    );
}

/// A stray opening quote that a later row's quote closes swallows the rows
/// between as surely as one that never closes: they were one field, then
/// text after the closing quote. The court used to import with that one
/// record rejected, named at the line where the quote closed, and the rows
/// among them silently gone when the exporter counted its rows as a
/// lenient reader does (the case's entries, its hearing, the other cases'
/// rows). Now the court is set aside, whichever count the manifest gives,
/// and the reason and the reject name the line where the quote opened.
#[test]
fn a_stray_quote_closed_rows_later_sets_the_court_aside_naming_where_it_opened() {
    // Line 5 of night 2's TPD_progress.csv: `…,函查,115/03/20 16:40:00,N`;
    // the next quote opens line 13's 登載事項 (`"準備程序：被告稱…`).
    let stray = |b: &Path| {
        rewrite(
            b,
            "TPD_progress.csv",
            b",\xa8\xe7\xacd,115/03/20 16:40",
            b",\"\xa8\xe7\xacd,115/03/20 16:40",
        )
    };
    let opened = "TPD_progress.csv:5: 登載事項 opens a quoted field that runs to line 13: \
                  lines 5–13 were read as that one field, so the rows among them cannot be told \
                  apart";
    for lenient in [false, true] {
        let report = tpd_carried_over(
            |b| {
                stray(b);
                if lenient {
                    // Counted as a reader that takes the quote as it
                    // comes: 8 rows fewer.
                    edit_manifest(b, "TPD_progress.csv", |rows, sha| {
                        let rows: u64 = rows.parse().unwrap();
                        Some(format!("TPD_progress.csv,{},{sha}", rows - 8))
                    });
                }
            },
            opened,
        );
        let tpd = court(&report, "TPD");
        let reject = tpd["rejects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"] == "TPD_progress.csv" && r["field"] == "登載事項")
            .unwrap_or_else(|| panic!("{tpd}"));
        assert_eq!(reject["line"], 5, "{reject}");
        assert_eq!(
            reject["reason"],
            "a quoted field opens here and runs over 9 lines: the rows among those lines were \
             read as this one field (a field holding \" must be quoted, the quote doubled, \"\"; \
             RFC 4180)",
            "{reject}"
        );
    }
}

/// The import review of the fifty-second session (a gap it left): a stray
/// quote whose closing quote is the next row's own, opening its quoted
/// category (`TPD,"民事",…`, as a spreadsheet quoting every text writes
/// it), swallowed the line end between them. That one record was rejected
/// for text after a closing quote, named at the next row's line, and the
/// row it swallowed gone without a word when the manifest counted as a
/// lenient reader does. It is the stray quote's, as any other swallowing.
#[test]
fn a_stray_quote_closed_by_the_next_rows_quoted_category_sets_the_court_aside() {
    let stray = |b: &Path| {
        rewrite(
            b,
            "TPD_progress.csv",
            b",\xa8\xe7\xacd,115/03/20 16:40",
            b",\"\xa8\xe7\xacd,115/03/20 16:40",
        );
        rewrite(
            b,
            "TPD_progress.csv",
            &big5("\r\nTPD,民事,115,訴,100,3,"),
            &big5("\r\nTPD,\"民事\",115,訴,100,3,"),
        );
    };
    let opened = "TPD_progress.csv:5: 登載事項 opens a quoted field that runs to line 6: \
                  lines 5–6 were read as that one field, so the rows among them cannot be told \
                  apart";
    for lenient in [false, true] {
        tpd_carried_over(
            |b| {
                stray(b);
                if lenient {
                    edit_manifest(b, "TPD_progress.csv", |rows, sha| {
                        let rows: u64 = rows.parse().unwrap();
                        Some(format!("TPD_progress.csv,{},{sha}", rows - 1))
                    });
                }
            },
            opened,
        );
    }
}

/// A quote left open in the last row alone swallows nothing but the line
/// end after it: that row is rejected, naming the field, and the court
/// imports.
#[test]
fn a_quote_left_open_in_the_last_row_rejects_that_row_alone() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let batch = env.copy_night("20261124");
    let path = batch.join("TPD_progress.csv");
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.ends_with(b"\r\n"));
    let body = &bytes[..bytes.len() - 2];
    let last = body.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let lines = body.iter().filter(|&&b| b == b'\n').count() + 1;
    // The last row's 登載事項 (its eighth field) opens a quote.
    let eighth = bytes[last..]
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b',')
        .nth(6)
        .unwrap()
        .0
        + last
        + 1;
    assert_ne!(bytes[eighth], b'"');
    bytes.insert(eighth, b'"');
    fs::write(&path, &bytes).unwrap();
    rehash(&batch, "TPD_progress.csv");
    let run = env.import(&batch, &[]);
    // 3: HLD is absent from the sample's night 2.
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261124");
    let tpd = court(&report, "TPD");
    assert_eq!(tpd["status"], "imported");
    let rejects = tpd["rejects"].as_array().unwrap();
    let reject = rejects
        .iter()
        .find(|r| r["file"] == "TPD_progress.csv" && r["line"] == lines)
        .unwrap_or_else(|| panic!("no reject of line {lines}: {rejects:#?}"));
    assert_eq!(reject["field"], "登載事項");
    assert_eq!(
        reject["reason"],
        "a quoted field opens here and is never closed, on the file's last line"
    );
}

#[test]
fn a_wrong_header_makes_the_court_unusable() {
    tpd_carried_over(
        // 檢察官帳號 → 檢察官姓名 (CP950 of 帳號 is B162 B8B9; of 姓名 A96D A657).
        |b| {
            rewrite(
                b,
                "TPD_prosecutor.csv",
                b"\xB1\x62\xB8\xB9",
                b"\xA9\x6D\xA6\x57",
            )
        },
        "TPD_prosecutor.csv:1: header is",
    );
}

#[test]
fn a_wrong_court_prefix_on_every_row_passes_the_reject_limit() {
    // The case file's rows all claim another court: every one is rejected,
    // and so is every row that names their cases.
    let report = tpd_carried_over(
        |b| {
            let p = b.join("TPD_case.csv");
            let bytes = fs::read(&p).unwrap();
            let text: Vec<u8> = bytes
                .split(|&c| c == b'\n')
                .enumerate()
                .map(|(i, line)| {
                    if i > 0 && line.starts_with(b"TPD,") {
                        [b"TPX,", &line[4..]].concat()
                    } else {
                        line.to_vec()
                    }
                })
                .collect::<Vec<_>>()
                .join(&b'\n');
            fs::write(&p, text).unwrap();
            rehash(b, "TPD_case.csv");
        },
        "rows rejected, over the limit (more than 2% and at least 10)",
    );
    let tpd = court(&report, "TPD");
    let first = &tpd["rejects"][0];
    assert_eq!(first["file"], "TPD_case.csv");
    assert_eq!(first["line"], 2);
    assert_eq!(first["field"], "法院代號");
    assert!(first["reason"]
        .as_str()
        .unwrap()
        .contains("`TPX` differs from the file's prefix `TPD`"));
    let progress = tpd["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == "TPD_progress.csv")
        .unwrap();
    assert!(
        progress["reason"]
            .as_str()
            .unwrap()
            .contains("is not in TPD_case.csv"),
        "{progress}"
    );
}

#[test]
fn the_reject_limit_is_configurable() {
    // Night 1 has 9 TPD rejects in 95 rows: under the default floor of 10,
    // over a floor of 5 (9.5% is more than 2%).
    let env = Env::new();
    let run = env.import(&sample("20261123"), &["--reject-floor", "5"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let tpd = court(&env.report("20261123"), "TPD").clone();
    assert_eq!(
        tpd["status"], "unusable",
        "no earlier data to carry over on a first load"
    );
    assert!(
        tpd["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("9 of 95 rows rejected"),
        "{tpd}"
    );
    assert!(!env.live_dump().contains(r#""court":"TPD""#));

    let env = Env::new();
    let run = env.import(
        &sample("20261123"),
        &["--reject-floor", "5", "--reject-share", "0.1"],
    );
    assert_eq!(run.code, 0, "9.5% is not more than 10%: {}", run.stdout);
}

/// The import review of the fifty-second session (its 2): `MANIFEST.csv`
/// was split on commas, not read as the CSV every file of the batch is
/// (RFC 4180, which lets any field be quoted): a manifest written with
/// every field quoted (PowerShell's `Export-Csv` does so by default)
/// published nothing, its quoted header "not the contract's", and quoted
/// file names set their courts aside. It is read as the data files are.
#[test]
fn a_manifest_with_its_fields_quoted_is_read_as_csv() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    let path = batch.join("MANIFEST.csv");
    let quoted: String = fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| {
            let fields: Vec<String> = l.split(',').map(|f| format!("\"{f}\"")).collect();
            fields.join(",") + "\r\n"
        })
        .collect();
    assert!(
        quoted.starts_with("\"file\",\"rows\",\"sha256\"\r\n"),
        "{quoted}"
    );
    fs::write(&path, quoted).unwrap();
    let run = env.import(&batch, &[]);
    let plain = Env::new();
    let want = plain.import(&sample("20261123"), &[]);
    assert_eq!(run.code, want.code, "{}{}", run.stdout, run.stderr);
    assert_eq!(env.dump("20261123"), plain.dump("20261123"));
    assert!(!run.stdout.contains("MANIFEST.csv:"), "{}", run.stdout);
}

/// The same review (its 6): `EUDC.csv` listed in the manifest, which the
/// contract keeps out of it, drew "is not a file of the export contract",
/// wrong words for the contract's own file: its line is ignored, and said
/// so.
#[test]
fn eudc_listed_in_the_manifest_is_said_as_it_is() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    let path = batch.join("MANIFEST.csv");
    let mut manifest = fs::read_to_string(&path).unwrap();
    manifest.push_str(&format!("EUDC.csv,4,{}\r\n", "0".repeat(64)));
    fs::write(&path, manifest).unwrap();
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("`EUDC.csv` is listed, but the contract keeps it out of the manifest"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("not a file of the export contract"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_bad_manifest_header_publishes_nothing() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    let batch = env.copy_night("20261124");
    fs::write(batch.join("MANIFEST.csv"), "name,count,hash\r\n").unwrap();
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("MANIFEST.csv: line 1: header is `name,count,hash`"),
        "{}",
        run.stderr
    );
    assert_eq!(env.current(), "20261123-1.sqlite");
    assert_eq!(env.report("20261124")["outcome"], "not_published");
}

/// The contract review of the forty-seventh session: a `MANIFEST.csv`
/// with no bytes (a transfer that creates the file before it writes it,
/// caught by `scripts/nightly`'s poll), or only a BOM, had no header line
/// to check: it was read as listing nothing, every court's files as "not
/// listed", and the night published with every court carried over (exit
/// 3), the courts asked to export again for our own transfer. It is a
/// manifest without the contract's header: nothing is published.
#[test]
fn an_empty_manifest_publishes_nothing() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    // (and, the review of the session's change: one whose header is written
    // and its rows not yet, with its line end or without, which lists no
    // file beside the batch's data files)
    let no_header = "MANIFEST.csv: line 1: header is ``";
    let no_file = "MANIFEST.csv: lists no file, and the batch has data files";
    for (empty, said) in [
        (&b""[..], no_header),
        (b"\xEF\xBB\xBF", no_header),
        (b"\r\n", no_header),
        (b"file,rows,sha256\r\n", no_file),
        (b"\xEF\xBB\xBFfile,rows,sha256", no_file),
    ] {
        let batch = env.copy_night("20261124");
        fs::write(batch.join("MANIFEST.csv"), empty).unwrap();
        let run = env.import(&batch, &[]);
        assert_eq!(run.code, 2, "{empty:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(said), "{empty:?}: {}", run.stderr);
        assert_eq!(env.current(), "20261123-1.sqlite");
        assert_eq!(env.report("20261124")["outcome"], "not_published");
    }
}

/// The contract: "An unusable or absent court keeps its data from the
/// previous snapshot …; the scope rules are applied to that data with
/// tonight's date." With no court importable, nothing was published (exit
/// 2), so the two-month cutoff was not applied: a case past its window
/// stayed open to its grant holders for every night the batch was
/// unusable (a review of the import, 2026-12-06). Every court is now
/// carried over and published (exit 3), its cutoff tonight's: the three
/// cases sent up or to execution on 115/09/23 close on 115/11/24, the rest
/// stay as night 1 had them.
#[test]
fn a_batch_where_no_court_imports_carries_every_court_over_with_tonights_cutoff() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    let night1 = env.live_dump();
    let batch = env.copy_night("20261124");
    for court in ["TPD", "PCD", "KSD"] {
        fs::remove_file(batch.join(format!("{court}_case.csv"))).unwrap();
    }
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "no court of batch 20261124 could be imported: every court's data is carried over"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(env.current(), "20261124-1.sqlite");
    // (HLD is absent from night 2's batch.)
    for court in ["TPD", "PCD", "KSD", "HLD"] {
        assert!(
            run.stdout.contains(&format!("{court}   CARRIED OVER")),
            "{}",
            run.stdout
        );
    }
    let now = env.live_dump();
    let (now, before): (Vec<&str>, Vec<&str>) = (now.lines().collect(), night1.lines().collect());
    assert_eq!(now.len(), before.len());
    let mut closed = Vec::new();
    for (now, before) in now.iter().zip(&before) {
        // (sent up on appeal or to execution on 115/09/23: queryable
        // through 115/11/23)
        if now.contains(r#""status_date":"115/09/23""#) {
            assert!(now.contains(r#""queryable":false"#), "{now}");
            closed.push(&now[..now.find(r#","division""#).unwrap()]);
        } else {
            assert_eq!(now, before);
        }
    }
    assert_eq!(
        closed,
        [
            r#"{"court":"HLD","category":"刑事","year":114,"word":"易","number":15"#,
            r#"{"court":"KSD","category":"民事","year":115,"word":"簡上","number":7"#,
            r#"{"court":"TPD","category":"民事","year":114,"word":"訴","number":523"#
        ]
    );
}

/// With no earlier snapshot to carry over, a night where no court imports
/// publishes nothing (exit 2), as before.
#[test]
fn a_first_batch_where_no_court_imports_publishes_nothing() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    for court in ["TPD", "PCD", "KSD", "HLD"] {
        fs::remove_file(batch.join(format!("{court}_case.csv"))).unwrap();
    }
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("no court of batch 20261123 could be imported"),
        "{}",
        run.stdout
    );
    assert!(!env.data().join("snapshots/CURRENT").exists());
    // The admin walk (F13): nothing was published, yet every court's row
    // said CARRIED OVER.
    assert!(!run.stdout.contains("CARRIED OVER"), "{}", run.stdout);
    assert!(run.stdout.contains("TPD   UNUSABLE"), "{}", run.stdout);
}

/// The admin walk (F13): a manifest line written all in capitals, file
/// name and hash. The court's reason said its file was "present but not
/// listed", which is what the runbook has the operator forward to the
/// court, and is false: it is listed, under another case. The line is
/// named, and what is wrong with it.
#[test]
fn a_manifest_line_naming_a_file_in_other_case_is_named_in_the_reason() {
    let report = tpd_carried_over(
        |b| {
            edit_manifest(b, "TPD_applicant.csv", |rows, sha| {
                Some(format!("TPD_applicant.csv,{rows},{sha}").to_uppercase())
            })
        },
        "TPD_applicant.csv is listed as `TPD_APPLICANT.CSV` (MANIFEST.csv:",
    );
    let reasons = court(&report, "TPD")["reasons"].to_string();
    assert!(
        reasons.contains("file names are case-sensitive"),
        "{reasons}"
    );
    assert!(
        reasons.contains("is not 64 lowercase hex digits"),
        "{reasons}"
    );
    assert!(!reasons.contains("present but not listed"), "{reasons}");
}

#[test]
fn user_defined_codes_decode_through_eudc_and_never_as_hkscs() {
    let env = Env::new();
    env.import(&sample("20261123"), &[]);
    let dump = env.live_dump();
    // C6A1 would be ヾ in a web Big5 decoder; EUDC.csv says 喆.
    assert!(dump.contains("吳喆"), "C6A1 through EUDC.csv");
    assert!(!dump.contains('ヾ'));
    assert!(dump.contains("𩸽"), "FB5C through EUDC.csv");
    assert!(dump.contains("陳〓之訴駁回"), "unmapped 8140 shows as 〓");
    assert!(
        !dump.chars().any(|c| ('\u{E000}'..='\u{F8FF}').contains(&c)),
        "no private-use character"
    );

    // Without EUDC.csv every user-defined code shows as 〓 and is counted.
    let batch = env.copy_night("20261123");
    fs::remove_file(batch.join("EUDC.csv")).unwrap();
    let env2 = Env::new();
    let run = env2.import(&batch, &[]);
    assert_eq!(run.code, 0);
    // Said where it shows, with why (a review of the digest's rules, the
    // forty-fifth session: the file is optional and not in the manifest,
    // and its absence went by as a count).
    assert!(
        run.stdout
            .contains("7 unmapped user-defined characters (the batch has no EUDC.csv mapping)"),
        "{}",
        run.stdout
    );
    let report = env2.report("20261123");
    let tpd = &court(&report, "TPD")["stats"];
    assert_eq!(tpd["udc_unmapped"], 7);
    assert_eq!(tpd["udc_mapped"], 0);
}

/// A review of the import against the contract (2026-12-05, its 1): a
/// user-defined code with no mapping reads as 〓, whatever the code, so two
/// cases whose 字別 held two different unmapped codes (FA41, FA42) had one
/// key: the second was rejected as "listed again", and its progress and
/// its applicant's grant went to the first case: party B shown case A's
/// division and an entry of its own case under A's. A key holding 〓
/// cannot say which case it names: every row keyed with it is rejected,
/// naming the field, and nothing of either case is published.
#[test]
fn a_case_word_with_an_unmapped_user_defined_code_names_no_case() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    let key = |code: &[u8]| [b"TPD,".as_slice(), &big5("民事,115,"), code, b",100,"].concat();
    let (a, b) = (key(b"\xFA\x41"), key(b"\xFA\x42"));
    append_raw_rows(
        &batch,
        "TPD_case.csv",
        &[
            [a.clone(), big5("甲,審理中,")].concat(),
            [b.clone(), big5("乙,審理中,")].concat(),
        ],
    );
    append_raw_rows(
        &batch,
        "TPD_progress.csv",
        &[[
            b.clone(),
            big5("1,115/03/05,乙案的判決,115/03/05 09:00:00,N"),
        ]
        .concat()],
    );
    append_raw_rows(
        &batch,
        "TPD_applicant.csv",
        &[[b, big5("原告,party.b@example.com,115/03/06,核准")].concat()],
    );
    let run = import_past_the_floor(&env, &batch);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261123");
    let rejects: Vec<_> = court(&report, "TPD")["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"].as_str().unwrap().contains("〓"))
        .collect();
    assert_eq!(rejects.len(), 4, "{:#?}", court(&report, "TPD")["rejects"]);
    assert!(rejects.iter().all(|r| r["field"] == "字別"), "{rejects:#?}");
    // The clerk is told which code to map.
    let reasons: Vec<&str> = rejects
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().all(|r| r.contains("user-defined")),
        "{reasons:#?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("(code FA41)")),
        "{reasons:#?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("(code FA42)")),
        "{reasons:#?}"
    );
    assert!(reasons.iter().all(|r| !r.contains("  ")), "{reasons:#?}");
    let dump = env.live_dump();
    assert!(!dump.contains("party.b@example.com"), "a grant published");
    assert!(!dump.contains("乙案的判決"), "an entry published");
}

/// The contract review of the forty-seventh session (its 2): a UTF-8
/// court's private-use character (U+E001) in a 字別 was rejected with "map
/// the code in EUDC.csv", and the import's summary blamed "no EUDC.csv
/// mapping"; but EUDC.csv maps CP950 codes only (the contract), and refuses
/// `E001`. The court must write the character itself: both say so.
#[test]
fn a_private_use_character_in_a_utf8_file_is_the_courts_to_write_not_eudc_csvs() {
    let env = Env::new();
    let batch = env.dir.path().join("u").join("20261123");
    crate::util::write_tpd_batch(
        &batch,
        &[(1, "審理中", "")],
        &[(
            1,
            "1,115/11/02,通知證人林\u{E002}到庭,115/11/02 09:00:00,N".into(),
        )],
        &[],
    );
    append_raw_rows(
        &batch,
        "TPD_case.csv",
        &["TPD,民事,115,\u{E001},2,忠,審理中,".as_bytes().to_vec()],
    );
    let run = env.import(&batch, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261123");
    let reasons: Vec<String> = court(&report, "TPD")["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:#?}");
    assert!(reasons[0].contains("U+E001"), "{reasons:#?}");
    assert!(reasons[0].contains("UTF-8"), "{reasons:#?}");
    assert!(
        !reasons[0].contains("map the code in EUDC.csv"),
        "{reasons:#?}"
    );
    assert!(
        run.stdout.contains("1 unmapped user-defined character (private-use characters of UTF-8 files: EUDC.csv maps CP950 codes only; the court must write the characters themselves)"),
        "{}",
        run.stdout
    );
}

/// Imports `batch` with the reject floor at 100 rows: the sample's own
/// rejects and a test's added ones stay under it.
fn import_past_the_floor(env: &Env, batch: &Path) -> crate::util::Run {
    env.import_with(batch, &[("CPOR_IMPORT_REJECT_FLOOR", "100")])
}

/// The review of the import against the contract (its 3): "a rejected
/// case row leaves its case out of the case file". A case listed twice kept
/// its first row (the file's order chose its status, its cut-off and so
/// whether it is shown), and a case whose row was rejected (a status not in
/// the contract) was imported from a later row. Now a case with a rejected
/// row is left out, every row of it in the case file rejected and named,
/// and its progress and applicant rows rejected as naming a rejected row.
#[test]
fn a_case_with_a_rejected_or_repeated_row_is_left_out_with_all_its_rows() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    let lines = fs::read(batch.join("TPD_case.csv"))
        .unwrap()
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    append_rows(
        &batch,
        "TPD_case.csv",
        &[
            "TPD,民事,115,訴,900,甲,審理中,",
            "TPD,民事,115,訴,0900,甲,上訴,115/09/01",
            "TPD,民事,115,訴,901,甲,審結,",
            "TPD,民事,115,訴,901,甲,審理中,",
        ],
    );
    // Rejected before their fields are parsed: one field too many, and a
    // byte that is not CP950 (the review of the change, its 2).
    append_raw_rows(
        &batch,
        "TPD_case.csv",
        &[
            big5("TPD,民事,115,訴,902,甲,乙,審理中,"),
            big5("TPD,民事,115,訴,902,甲,審理中,"),
            [
                big5("TPD,民事,115,訴,903,"),
                b"\xFF".to_vec(),
                big5(",審理中,"),
            ]
            .concat(),
            big5("TPD,民事,115,訴,903,甲,審理中,"),
        ],
    );
    append_rows(
        &batch,
        "TPD_progress.csv",
        &[
            "TPD,民事,115,訴,900,1,115/03/05,九百號的分案,115/03/05 09:00:00,N",
            "TPD,民事,115,訴,901,1,115/03/05,九百零一號的分案,115/03/05 09:00:00,N",
            "TPD,民事,115,訴,902,1,115/03/05,九百零二號的分案,115/03/05 09:00:00,N",
            "TPD,民事,115,訴,903,1,115/03/05,九百零三號的分案,115/03/05 09:00:00,N",
        ],
    );
    let run = import_past_the_floor(&env, &batch);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for n in ["900", "901", "902", "903"] {
        let case = env.etl(&["case", "TPD", "民事", "115", "訴", n]);
        assert_ne!(case.code, 0, "case {n} imported: {}", case.stdout);
    }
    let dump = env.live_dump();
    assert!(!dump.contains("九百"), "an entry of theirs published");
    let report = env.report("20261123");
    let rejects = court(&report, "TPD")["rejects"].as_array().unwrap().clone();
    let at = |file: &str, line: u64| {
        rejects
            .iter()
            .find(|r| r["file"] == file && r["line"] == line)
            .unwrap_or_else(|| panic!("{file}:{line} not rejected: {rejects:#?}"))
    };
    for line in lines + 1..=lines + 8 {
        at("TPD_case.csv", line);
    }
    let first = at("TPD_case.csv", lines + 1)["reason"].to_string();
    assert!(first.contains(&format!("line {}", lines + 2)), "{first}");
    let progress: Vec<_> = rejects
        .iter()
        .filter(|r| {
            let why = r["reason"].to_string();
            r["file"] == "TPD_progress.csv"
                && why.contains("was rejected")
                && ["第900號", "第901號", "第902號", "第903號"]
                    .iter()
                    .any(|n| why.contains(n))
        })
        .collect();
    assert_eq!(progress.len(), 4, "{rejects:#?}");
    let stats = &court(&report, "TPD")["stats"];
    assert_eq!(
        stats["rejected"].as_u64().unwrap() as usize,
        rejects.len(),
        "the count and the list"
    );
}

/// RFC 4180 quoting, end to end (`kinds::scan::tests::quoting_that_breaks_
/// rfc_4180_is_rejected_with_its_line_and_field`): a quote in a field that
/// is not quoted was read as it is, without a word; the row is rejected,
/// the report naming file, line, field and why, and the rest imported.
#[test]
fn a_row_whose_quoting_breaks_rfc_4180_is_rejected_with_its_line_and_field() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    let p = batch.join("TPD_progress.csv");
    let bytes = fs::read(&p).unwrap();
    // Line 2 (the first row, `…,115/03/02,分案,115/03/02 09:12:00,N`): a
    // quote at the end of its text, a field not quoted (`分案"`), which the
    // reader took as text.
    let line2 = bytes.iter().position(|&c| c == b'\n').unwrap() + 1;
    let at = line2
        + bytes[line2..]
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == b',')
            .nth(7)
            .unwrap()
            .0;
    fs::write(&p, [&bytes[..at], b"\"", &bytes[at..]].concat()).unwrap();
    crate::util::rehash(&batch, "TPD_progress.csv");
    let run = import_past_the_floor(&env, &batch);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261123");
    let tpd = court(&report, "TPD");
    assert!(tpd["reasons"].as_array().unwrap().is_empty(), "{tpd:#}");
    let bad = tpd["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == "TPD_progress.csv" && r["line"] == 2)
        .unwrap_or_else(|| panic!("line 2 not rejected: {:#}", tpd["rejects"]));
    assert_eq!(bad["field"], "登載事項", "{bad}");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .starts_with("a double quote in a field that is not quoted"),
        "{bad}"
    );
}

/// The review of the import against the contract (its 2): the csv
/// reader skipped an empty line without a word, though RFC 4180 makes it
/// a record (one empty field) and the manifest counts "every record,
/// well-formed or not". An exporter that counted it found its court
/// unusable, "2 records, MANIFEST.csv says 3", the line named nowhere. An
/// empty line is now a record, rejected with its file, line and field;
/// the manifest's count of it holds, and a count without it says so.
#[test]
fn an_empty_line_is_a_record_rejected_with_its_line() {
    let insert_empty_line = |b: &Path, counted: bool| {
        let p = b.join("TPD_progress.csv");
        let bytes = fs::read(&p).unwrap();
        // After the header and the first row: line 3.
        let at = bytes
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == b'\n')
            .nth(1)
            .unwrap()
            .0
            + 1;
        let out = [&bytes[..at], b"\r\n", &bytes[at..]].concat();
        fs::write(&p, &out).unwrap();
        let sha = crate::util::sha256_hex(&out);
        edit_manifest(b, "TPD_progress.csv", |rows, _| {
            let rows: u64 = rows.parse().unwrap();
            Some(format!(
                "TPD_progress.csv,{},{sha}",
                rows + u64::from(counted)
            ))
        });
    };
    // Counted by the manifest: the court is imported, the line rejected.
    let env = Env::new();
    let batch = env.copy_night("20261123");
    insert_empty_line(&batch, true);
    let run = import_past_the_floor(&env, &batch);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261123");
    let tpd = court(&report, "TPD");
    assert!(tpd["reasons"].as_array().unwrap().is_empty(), "{tpd:#}");
    let empty = tpd["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == "TPD_progress.csv" && r["line"] == 3)
        .unwrap_or_else(|| panic!("line 3 not rejected: {:#}", tpd["rejects"]));
    assert!(
        empty["reason"].as_str().unwrap().contains("empty line"),
        "{empty}"
    );
    // Not counted: unusable, and the reason names the empty line.
    let env = Env::new();
    let batch = env.copy_night("20261123");
    insert_empty_line(&batch, false);
    let run = import_past_the_floor(&env, &batch);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261123");
    let reasons = court(&report, "TPD")["reasons"].to_string();
    assert!(reasons.contains("1 of them an empty line"), "{reasons}");
}

/// The import review of the forty-second session (its 1): a line break
/// alone (LF or CR, not CRLF) in a text that is not quoted ended the
/// record there, as the csv reader ends one at CR, LF or CRLF: one row
/// became two, neither of the contract's width, the count disagreed with
/// MANIFEST.csv and the whole court was set aside for the night, its
/// rejects naming lines 3 and 4 "expected 10 fields". Only CRLF ends a
/// record (RFC 4180, the contract): the row is one record that breaks the
/// contract (a field holding a line break is quoted), rejected on its own
/// with its line and field, counted once, and the court imported.
#[test]
fn a_line_break_outside_quotes_costs_its_row_not_the_court() {
    // Line 2's 登載事項 (`分案`) gets a second line, not quoted; the
    // exporter counted the row once, as it wrote it (or, `lines`, twice).
    let break_line_2 = |batch: &Path, brk: &[u8], lines: bool| {
        let p = batch.join("TPD_progress.csv");
        let bytes = fs::read(&p).unwrap();
        let line2 = bytes.iter().position(|&c| c == b'\n').unwrap() + 1;
        let at = line2
            + bytes[line2..]
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b',')
                .nth(7)
                .unwrap()
                .0;
        let text = [brk, &big5("續行")[..]].concat();
        let out = [&bytes[..at], &text[..], &bytes[at..]].concat();
        fs::write(&p, &out).unwrap();
        let sha = crate::util::sha256_hex(&out);
        edit_manifest(batch, "TPD_progress.csv", |rows, _| {
            let rows: u64 = rows.parse().unwrap();
            Some(format!(
                "TPD_progress.csv,{},{sha}",
                rows + u64::from(lines)
            ))
        });
    };
    // Counted by lines: the count's reason says what the extra line was.
    let env = Env::new();
    let batch = env.copy_night("20261123");
    break_line_2(&batch, b"\n", true);
    let run = import_past_the_floor(&env, &batch);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let reasons = court(&env.report("20261123"), "TPD")["reasons"].to_string();
    assert!(
        reasons.contains("(1 of them with a line break alone outside quotes, rejected)"),
        "{reasons}"
    );
    for (brk, name) in [(&b"\n"[..], "LF"), (&b"\r"[..], "CR")] {
        let env = Env::new();
        let batch = env.copy_night("20261123");
        break_line_2(&batch, brk, false);
        let run = import_past_the_floor(&env, &batch);
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
        let report = env.report("20261123");
        let tpd = court(&report, "TPD");
        assert_eq!(tpd["status"], "imported", "{name}: {tpd:#}");
        assert!(tpd["reasons"].as_array().unwrap().is_empty(), "{tpd:#}");
        let progress: Vec<_> = tpd["rejects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["file"] == "TPD_progress.csv")
            .collect();
        let bad = progress
            .iter()
            .find(|r| r["line"] == 2)
            .unwrap_or_else(|| panic!("{name}: line 2 not rejected: {progress:#?}"));
        assert_eq!(bad["field"], "登載事項", "{bad}");
        let reason = bad["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!("a line break ({name} alone) outside quotes")),
            "{reason}"
        );
        // The LF starts a line of its own, and the message counts both;
        // a CR alone does not.
        assert_eq!(
            reason.contains("; 2 lines, up to the next CRLF"),
            name == "LF",
            "{reason}"
        );
        // The next row is read as it was (before, its line was rejected
        // too, for the rest of line 2 taken as a record).
        let next = if name == "LF" { 4 } else { 3 };
        assert!(
            !progress.iter().any(|r| r["line"] == 3 || r["line"] == next),
            "{name}: {progress:#?}"
        );
    }
}

/// The import review of the forty-second session (its 2): a file written
/// with LF (or CR) line ends was read as if they were the contract's CRLF,
/// without a word, and every reject in it named line 1 when the ends were
/// CR. The header line's end is checked: a file whose lines do not end in
/// CRLF makes its court unusable, the reason naming the file, the line end
/// found and the contract's.
#[test]
fn a_file_with_lf_or_cr_line_ends_sets_its_court_aside_saying_so() {
    for end in ["LF", "CR"] {
        let with = if end == "LF" { &b"\n"[..] } else { b"\r" };
        tpd_carried_over(
            |b| {
                let p = b.join("TPD_progress.csv");
                let bytes = fs::read(&p).unwrap();
                let mut out = Vec::with_capacity(bytes.len());
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"\r\n") {
                        out.extend_from_slice(with);
                        i += 2;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                fs::write(&p, &out).unwrap();
                rehash(b, "TPD_progress.csv");
            },
            &format!("TPD_progress.csv:1: the header line ends with {end} alone, not CRLF"),
        );
    }
}

/// The rejects listed are the first `import.max_listed_rejects` by line
/// (the review of the change, its 7): a good row rejected because its case
/// is listed again further down is listed before the later rejects the
/// scan had already listed up to the limit.
#[test]
fn the_rejects_listed_are_the_first_by_line_when_a_case_is_left_out() {
    let env = Env::new();
    let batch = env.copy_night("20261123");
    // The sample's first case (line 2), listed again at the end.
    append_rows(&batch, "TPD_case.csv", &["TPD,民事,115,訴,100,忠,審理中,"]);
    let run = env.import_with(
        &batch,
        &[
            ("CPOR_IMPORT_REJECT_FLOOR", "100"),
            ("CPOR_IMPORT_MAX_LISTED_REJECTS", "1"),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = env.report("20261123");
    let rejects = court(&report, "TPD")["rejects"].as_array().unwrap().clone();
    assert_eq!(rejects.len(), 1, "{rejects:#?}");
    assert_eq!(
        (&rejects[0]["file"], &rejects[0]["line"]),
        (&serde_json::json!("TPD_case.csv"), &serde_json::json!(2)),
        "{rejects:#?}"
    );
}

/// `text` in CP950.
fn big5(text: &str) -> Vec<u8> {
    encoding_rs::BIG5.encode(text).0.into_owned()
}

/// One character of an entry text changed in the live snapshot (請 → 講 in
/// the fault test; here 檢 → 撿): SQLite's integrity checks pass, and the
/// changed text used to be carried into the next night without a word. Now
/// every use checks the checksum recorded at publishing: `dump` and
/// `rollback` refuse it, and the next import carries nothing over from it.
#[test]
fn a_silently_changed_snapshot_is_never_dumped_rolled_back_to_or_carried_over() {
    let env = Env::new();
    let live = night_1_live_writable(&env);
    replace_bytes(&live, "檢送卷宗".as_bytes(), "撿送卷宗".as_bytes());

    let dump = env.etl(&["dump"]);
    assert_eq!(dump.code, 1, "{}", dump.stderr);
    assert!(dump.stdout.is_empty(), "no partial dump: {}", dump.stdout);
    assert!(dump.stderr.contains("DAMAGED"), "{}", dump.stderr);
    assert!(
        dump.stderr.contains("rollback"),
        "says what to do: {}",
        dump.stderr
    );

    // Night 2 has no HLD: it used to be carried over from night 1, changed
    // text and all. Now it cannot be, and the report says why (and the
    // night is published only without it, as asked).
    let run = env.import(&sample("20261124"), &["--publish-without", "HLD"]);
    assert_eq!(
        env.current(),
        "20261124-1.sqlite",
        "tonight still publishes"
    );
    assert!(run.code != 0, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("DAMAGED"), "{all}");
    let night2 = env.live_dump();
    assert!(
        !night2.contains("撿送"),
        "the damaged text was carried over"
    );
    assert!(!night2.contains(r#""court":"HLD""#), "{night2}");
    let report = env.report("20261124");
    assert!(
        report.to_string().contains("DAMAGED"),
        "the report names the damage: {report}"
    );

    let back = env.etl(&["rollback", "20261123"]);
    assert_eq!(back.code, 1, "{}", back.stderr);
    assert!(back.stderr.contains("DAMAGED"), "{}", back.stderr);
    assert_eq!(env.current(), "20261124-1.sqlite", "CURRENT unchanged");
}

/// The admin walk (session 27, F7): night 1's snapshot damaged, no other
/// kept snapshot to stand in for it, and night 2 without HLD's files. HLD
/// could be neither imported nor carried over, and night 2 was published
/// without it (exit 1): 臺灣花蓮地方法院's cases and grants left the site,
/// and when HLD came back the next night, its grants were mailed as new
/// (lee.hua's activation link a second time). Now nothing is published
/// (exit 2, the live snapshot stays), the court and the way out are named,
/// and `--publish-without HLD` publishes the night without it, saying so.
#[test]
fn a_court_that_can_be_neither_imported_nor_carried_over_stops_the_night() {
    let env = Env::new();
    let live = night_1_live_writable(&env);
    replace_bytes(&live, "檢送卷宗".as_bytes(), "撿送卷宗".as_bytes());

    let run = env.import(&sample("20261124"), &[]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 2, "{said}");
    assert_eq!(env.current(), "20261123-1.sqlite", "nothing published");
    assert!(said.contains("NOTHING PUBLISHED"), "{said}");
    assert!(
        said.contains("HLD") && said.contains("neither imported nor carried over"),
        "names the court: {said}"
    );
    assert!(
        said.contains("--publish-without HLD"),
        "names the way out: {said}"
    );
    let report = env.report("20261124");
    assert_eq!(report["outcome"], "not_published", "{report}");
    assert_eq!(report["exit_code"], 2);
    assert_eq!(court(&report, "HLD")["status"], "unusable");
    assert!(
        !env.data().join("snapshots/20261124-1.sqlite").exists(),
        "no snapshot of night 2 is left behind"
    );
    let temp_left: Vec<_> = fs::read_dir(env.data().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(temp_left.is_empty(), "{temp_left:?}");

    // The operator's choice, made knowingly: the night without HLD.
    // (Exit 1: its mail waits, as after any damaged night, for `outbox
    // rediff` or `forget`.)
    let run = env.import(&sample("20261124"), &["--publish-without", "HLD"]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{said}");
    assert!(said.contains("MAIL NOT QUEUED"), "{said}");
    assert_eq!(env.current(), "20261124-1.sqlite");
    assert!(said.contains("published without HLD"), "{said}");
    assert!(!env.live_dump().contains(r#""court":"HLD""#));

    // The admin review of the forty-fourth session (its 5): the nights
    // after knew HLD neither from their batch nor from the live snapshot,
    // and exited 0 without a word of it while it stayed off the site; a
    // monitor on exit 3 saw clean nights. Each night says it, exit 3,
    // until HLD comes usable again.
    let copy = |from: &str, night: &str| env.copy_night_as(from, night);
    for night in ["20261125", "20261126"] {
        let run = env.import(&copy("20261124", night), &[]);
        assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("HLD   UNUSABLE")
                && run.stdout.contains(&format!(
                    "absent from batch {night}; off the site since 115/11/24 (published without \
                     it with --publish-without HLD): its cases and grants come back when it is \
                     imported"
                )),
            "{}",
            run.stdout
        );
        let report = env.report(night);
        assert_eq!(court(&report, "HLD")["status"], "unusable", "{report}");
    }
    // A court gone for good (merged, closed): `--publish-without` again
    // stops the nights after naming it.
    let run = env.import(&copy("20261124", "20261127"), &["--publish-without", "HLD"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("not named by the nights after this one (--publish-without HLD again)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("not needed"), "{}", run.stdout);
    let run = env.import(&copy("20261124", "20261128"), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("HLD"), "{}", run.stdout);
    // Back in a batch, usable: imported, and no more said.
    let back = copy("20261123", "20261129");
    let run = env.import(&back, &[]);
    assert!(run.stdout.contains("HLD   imported"), "{}", run.stdout);
    assert!(!run.stdout.contains("off the site"), "{}", run.stdout);

    // A court named that did not need it is imported (or carried over) as
    // ever, and the run says the option did nothing for it.
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let run = env.import(&sample("20261124"), &["--publish-without", "TPD"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("TPD   imported"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("--publish-without TPD: not needed, TPD was imported"),
        "{}",
        run.stdout
    );
}

/// The review of session 28: the courts of a damaged live snapshot were
/// read from the damaged file itself; one too damaged to read (cut short
/// here) gave none, and a court absent tonight left the site without a
/// word. They come from the night's import report then.
#[test]
fn a_live_snapshot_too_damaged_to_read_still_names_the_courts_it_had() {
    let env = Env::new();
    let live = night_1_live_writable(&env);
    let f = fs::OpenOptions::new().write(true).open(&live).unwrap();
    f.set_len(4096).unwrap();
    drop(f);
    let run = env.import(&sample("20261124"), &[]);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 2, "{said}");
    assert!(
        said.contains("HLD: neither imported nor carried over"),
        "{said}"
    );
    assert_eq!(env.current(), "20261123-1.sqlite");
}

/// 64 bytes flipped in the middle of the file: `dump` used to print the
/// cases before the damage and then exit 1.
#[test]
fn a_structurally_damaged_snapshot_prints_no_partial_dump() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let live = env.data().join("snapshots").join(env.current());
    damage(&live);
    let dump = env.etl(&["dump"]);
    assert_eq!(dump.code, 1);
    assert!(dump.stdout.is_empty(), "{}", dump.stdout);
    assert!(dump.stderr.contains("DAMAGED"), "{}", dump.stderr);
    // The list still lists, and exits 1 for the live one, so that a
    // monitor running it sees the damage (it exited 0).
    let list = env.etl(&["snapshots"]);
    assert_eq!(list.code, 1, "{}", list.stderr);
    assert!(list.stdout.contains("DAMAGED"), "{}", list.stdout);
    assert!(
        list.stderr
            .contains("the live snapshot 20261123-1.sqlite is unusable"),
        "{}",
        list.stderr
    );
    let json = env.etl(&["snapshots", "--json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
}

/// A lock file that cannot be opened for writing (a read-only data
/// directory) used to be reported as "another run holds the lock" (exit
/// 5, "wait"); it is an error with the operating system's reason (exit 1).
#[test]
fn a_data_directory_that_cannot_be_written_is_an_error_not_a_held_lock() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let lock = env.data().join("import.lock");
    // As root, permissions do not stop a write: make the file immutable.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let protect = |on: bool| {
        if root {
            let flag = if on { "+i" } else { "-i" };
            let ok = std::process::Command::new("chattr")
                .arg(flag)
                .arg(&lock)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chattr {flag}");
        } else {
            let mut p = fs::metadata(&lock).unwrap().permissions();
            p.set_readonly(on);
            fs::set_permissions(&lock, p).unwrap();
        }
    };
    protect(true);
    let run = env.import(&sample("20261124"), &[]);
    let rollback = env.etl(&["rollback", "20261123"]);
    protect(false);
    for (what, r) in [("import", &run), ("rollback", &rollback)] {
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(
            !r.stderr.contains("another cpor-etl"),
            "{what}: not a held lock: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("Operation not permitted") || r.stderr.contains("Permission denied"),
            "{what}: the OS error: {}",
            r.stderr
        );
    }
}

/// `cpor-etl case … | head` used to panic on the closed pipe; so did
/// `outbox list | head -1` and `outbox show N | head` (a fresh-clone walk,
/// 2026-12-06: exit 101 with a backtrace) and `rollback`'s answer.
#[test]
fn commands_piped_into_a_reader_that_stops_do_not_panic() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    for args in [
        &["case", "TPD", "民事", "115", "訴", "100"][..],
        &["snapshots"][..],
        &["dump"][..],
        &["outbox", "list"][..],
        &["outbox", "show", "1"][..],
        &["outbox", "pending"][..],
        &["rollback", "20261123"][..],
        &["import", "--force", sample("20261123").to_str().unwrap()][..],
    ] {
        // The reader is gone before the first line (`| head -0`).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = env
            .command()
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// Temp files of `write_atomically` left by killed runs are removed by the
/// next import; they used to stay for ever.
#[test]
fn temp_files_of_killed_runs_are_cleaned_by_the_next_import() {
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let dead = 4_000_000; // above Linux's pid_max: no such process
    let stale = [
        env.data().join(format!(".secret.key.tmp-{dead}")),
        env.data().join(format!(".notify.pending.tmp-{dead}")),
        env.data()
            .join("reports")
            .join(format!(".20261124.json.tmp-{dead}")),
    ];
    for p in &stale {
        fs::write(p, b"half").unwrap();
    }
    assert!(env.import(&sample("20261124"), &[]).code <= 3);
    for p in &stale {
        assert!(!p.exists(), "{} is still there", p.display());
    }
}

/// A snapshot that fails its checks is never published, even though it is
/// sealed (fsynced, made read-only, hashed) while it is checked: the run
/// fails, says why, leaves the live snapshot as it was and removes the
/// file, and the next run publishes the night.
#[test]
fn a_snapshot_that_fails_its_checks_is_removed_not_published() {
    use std::io::Read;
    use std::process::Stdio;

    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let old = env.live_dump();
    let current = env.current();
    let resume = env.data().join("resume");
    let mut child = env
        .command()
        .arg("import")
        .arg(sample("20261124"))
        .env("CPOR_PAUSE_AT", "before-verify")
        .env("CPOR_PAUSE_RESUME", &resume)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = crate::util::until_paused(&mut child, "before-verify");
    // The built file, closed and not yet checked: one grant less than the
    // import wrote.
    let building: Vec<_> = fs::read_dir(env.data().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".building")
        })
        .collect();
    assert_eq!(building.len(), 1, "{building:?}");
    let conn = rusqlite::Connection::open(&building[0]).unwrap();
    let removed = conn
        .execute(
            "DELETE FROM grants WHERE (case_id, email) =
                 (SELECT case_id, email FROM grants ORDER BY case_id, email LIMIT 1)",
            [],
        )
        .unwrap();
    assert_eq!(removed, 1);
    drop(conn);
    fs::write(&resume, b"").unwrap();
    let status = child.wait().unwrap();
    let mut said = String::new();
    stderr.read_to_string(&mut said).unwrap();

    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("verification failed"), "{said}");
    assert_eq!(env.current(), current, "CURRENT must not move");
    assert_eq!(env.live_dump(), old, "the live snapshot must be as it was");
    let left: Vec<String> = fs::read_dir(env.data().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.starts_with("20261124"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    assert!(
        !resume.exists(),
        "the import, gone on, removed its resume file"
    );
    assert_eq!(env.import(&sample("20261124"), &[]).code, 3);
    crate::util::golden("dump-20261124.jsonl", &env.live_dump());
}

/// Night 1 imported; its live snapshot, made writable to be damaged.
fn night_1_live_writable(env: &Env) -> std::path::PathBuf {
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let live = env.data().join("snapshots").join(env.current());
    writable(&live);
    live
}

/// The courts are parsed while the live snapshot is checked, copying the
/// hearing lists of unchanged cases from it on the bet that it is whole.
/// A live snapshot whose lists were changed (its checksum no longer holds)
/// loses the bet: none of its lists reaches the next night, whose lists are
/// what the entries give, as after a first load.
#[test]
fn a_damaged_live_snapshot_lends_no_hearing_list_to_the_next_night() {
    let env = Env::new();
    let live = night_1_live_writable(&env);
    {
        // TPD 民事 115 訴更一 3's hearing, unchanged on night 2, in 第九法庭
        // instead of 第二法庭.
        let conn = rusqlite::Connection::open(&live).unwrap();
        let chunks: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT chunk, data FROM hearing_chunks")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let (from, to) = ("第二法庭".as_bytes(), "第九法庭".as_bytes());
        let mut changed = 0;
        for (chunk, mut data) in chunks {
            while let Some(at) = data.windows(from.len()).position(|w| w == from) {
                data[at..at + to.len()].copy_from_slice(to);
                changed += 1;
            }
            conn.execute(
                "UPDATE hearing_chunks SET data = ?2 WHERE chunk = ?1",
                rusqlite::params![chunk, data],
            )
            .unwrap();
        }
        assert!(changed > 0, "no list names 第二法庭");
    }
    // HLD, absent tonight, cannot be carried over from the damaged night.
    let run = env.import(&sample("20261124"), &["--publish-without", "HLD"]);
    assert_eq!(
        env.current(),
        "20261124-1.sqlite",
        "{}{}",
        run.stdout,
        run.stderr
    );
    let night2 = env.live_dump();
    assert!(
        !night2.contains("第九法庭"),
        "a hearing list was copied from the damaged snapshot"
    );
    // Every case's hearings are those of the night imported whole (the
    // golden dump; HLD, carried over there, is missing here).
    let hearings = |dump: &str| -> std::collections::BTreeMap<String, String> {
        dump.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|d| d.get("hearings").is_some())
            .map(|d| {
                let key = ["court", "category", "year", "word", "number"]
                    .map(|k| d[k].to_string())
                    .join(" ");
                (key, d["hearings"].to_string())
            })
            .collect()
    };
    let whole = hearings(
        &fs::read_to_string(crate::util::repo_root().join("tests/golden/dump-20261124.jsonl"))
            .unwrap(),
    );
    let got = hearings(&night2);
    assert!(got.values().any(|h| h.contains("第二法庭")), "{got:?}");
    for (case, h) in &got {
        assert_eq!(Some(h), whole.get(case), "{case}");
    }
}

/// Cuts a file to its header line and lists it truthfully (0 rows) in the
/// manifest: an export whose query found nothing, valid to the letter.
fn header_only(batch: &Path, file: &str) {
    let path = batch.join(file);
    let bytes = fs::read(&path).unwrap();
    let end = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    fs::write(&path, &bytes[..end]).unwrap();
    let sha = crate::util::sha256_hex(&bytes[..end]);
    edit_manifest(batch, file, |_, _| Some(format!("{file},0,{sha}")));
}

/// The admin walk (session 27): a court's export that came with every file
/// empty, or an empty applicant file, and a manifest to match, was
/// published with exit 0 and no warning: the court's cases, or its grants,
/// left the site overnight, and every follower lost access (and would
/// have been sent activation links again when they came back). A court
/// with far fewer cases or grants than the night before is carried over
/// instead, saying so, exit 3; `--accept-shrink TPD` publishes it.
#[test]
fn a_court_that_lost_most_of_its_cases_or_grants_overnight_is_carried_over() {
    let report = tpd_carried_over(
        |b| {
            for f in [
                "TPD_case.csv",
                "TPD_progress.csv",
                "TPD_applicant.csv",
                "TPD_prosecutor.csv",
            ] {
                if b.join(f).exists() {
                    header_only(b, f);
                }
            }
        },
        "0 cases where the previous snapshot has 11",
    );
    assert!(
        court(&report, "TPD")["reasons"]
            .to_string()
            .contains("--accept-shrink TPD"),
        "{report}"
    );
    let report = tpd_carried_over(
        |b| header_only(b, "TPD_applicant.csv"),
        "0 grants where the previous snapshot has 13",
    );
    assert_eq!(court(&report, "PCD")["status"], "imported");

    // The clerks confirm it: imported as it is.
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let batch = env.copy_night("20261124");
    header_only(&batch, "TPD_applicant.csv");
    let run = env.import(&batch, &["--accept-shrink", "TPD"]);
    // 3: HLD is absent from the sample's night 2, carried over.
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("TPD   imported"), "{}", run.stdout);
    let report = env.report("20261124");
    assert_eq!(court(&report, "TPD")["status"], "imported");
    assert!(
        report["warnings"].to_string().contains("--accept-shrink"),
        "{report}"
    );
    // A court that did not shrink is not named by the flag's note.
    assert!(!report["warnings"].to_string().contains("PCD"), "{report}");

    // The admin review of the forty-fourth session (its 6): a court code
    // in lower case, or one that names no court, was ignored without a
    // word, the court still carried over. A code is taken in either case,
    // as `case` takes it, and one the night did not need is said, as
    // `--publish-without` says it.
    let env = Env::new();
    assert_eq!(env.import(&sample("20261123"), &[]).code, 0);
    let batch = env.copy_night("20261124");
    header_only(&batch, "TPD_applicant.csv");
    // The admin review of the fifty-second session (its m12): a code that
    // names no court (a typo for TPD) was taken, the night published with
    // TPD carried over, and the summary said only "not needed". It is
    // refused before anything is read, as `case` refuses it, and for
    // `--publish-without` too.
    for flag in ["--accept-shrink", "--publish-without"] {
        let run = env.import(&batch, &["--accept-shrink", "tpd", flag, "TPX"]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains(&format!("invalid value 'TPX' for '{flag} <COURT>'"))
                && run.stderr.contains("TPX is not a court's code"),
            "{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(env.current().starts_with("20261123"), "{}", env.current());
    }
    let run = env.import(
        &batch,
        &["--accept-shrink", "tpd", "--accept-shrink", "PCD"],
    );
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("TPD   imported"), "{}", run.stdout);
    let note = "--accept-shrink PCD: not needed, PCD did not shrink";
    assert!(run.stdout.contains(note), "{note}\n{}", run.stdout);
}
