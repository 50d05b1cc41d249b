//! The outbox has one owner: no file of the workspace but those of
//! `mail/src/outbox/` writes its tables (ARCHITECTURE.md; `../shared/STYLE.md` habit
//! 14). Migrations in `schemas/outbox/` create and rebuild them, and are the
//! one other place allowed to. (The tests' `tests/support/disk.rs` damages
//! a stored message as a failing disk would, changing bytes of the file,
//! not through SQL: it plays the disk, not a writer.)

use std::fs;
use std::path::Path;

#[path = "../../tests/support/sources.rs"]
mod workspace;
use workspace::sources;

/// Every table the outbox's migrations create (`CREATE TABLE name`): a
/// list kept by hand missed one (`relays`, migration 13, written by a test
/// of the website's).
fn tables(root: &Path) -> Vec<String> {
    let mut tables = Vec::new();
    let mut migrations: Vec<_> = fs::read_dir(root.join("schemas/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    migrations.sort();
    for path in migrations {
        let words = workspace::words(&fs::read_to_string(&path).unwrap());
        for w in words.windows(3) {
            if w[0] == "create" && w[1] == "table" && !tables.contains(&w[2]) {
                tables.push(w[2].clone());
            }
        }
    }
    tables
}

/// Tests that write a table to damage it, as a machine's restart or
/// another build would (a claim from another boot, a row this code did not
/// write), and what `recover` then does: (file, table).
const DAMAGED_BY: &[(&str, &str)] = &[("mail/tests/withdraw.rs", "claims")];

/// The writes to `table` a text contains (case and spacing ignored):
/// INSERT [OR …] INTO, REPLACE INTO, UPDATE [OR …], DELETE FROM.
fn writes(text: &str, table: &str) -> Vec<String> {
    let words = workspace::words(text);
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let at = |k: usize| words.get(i + k).map(String::as_str);
        let hit = match w.as_str() {
            // INSERT INTO t, INSERT OR IGNORE INTO t
            "insert" => {
                (at(1) == Some("into") && at(2) == Some(table))
                    || (at(1) == Some("or") && at(3) == Some("into") && at(4) == Some(table))
            }
            // REPLACE INTO t (but not INSERT OR REPLACE INTO t, counted above)
            "replace" => {
                (i == 0 || words[i - 1] != "or") && at(1) == Some("into") && at(2) == Some(table)
            }
            "update" => at(1) == Some(table) || (at(1) == Some("or") && at(3) == Some(table)),
            "delete" => at(1) == Some("from") && at(2) == Some(table),
            _ => false,
        };
        if hit {
            let end = (i + 5).min(words.len());
            found.push(words[i..end].join(" "));
        }
    }
    found
}

#[test]
fn the_check_finds_every_form_of_write() {
    for (text, want) in [
        ("INSERT INTO items (night) VALUES (1)", 1),
        ("INSERT OR IGNORE INTO\n   items (night)", 1),
        ("insert or replace into items(x)", 1),
        ("REPLACE INTO items VALUES (1)", 1),
        ("UPDATE items SET state = 'queued'", 1),
        ("UPDATE OR ROLLBACK items SET x = 1", 1),
        ("DELETE FROM items WHERE id = 1", 1),
        ("SELECT id FROM items WHERE state = 'queued'", 0),
        ("INSERT INTO items_v2 SELECT * FROM items", 0),
        ("UPDATE accounts SET digests = 0", 0),
        ("// update the items list", 0),
    ] {
        assert_eq!(writes(text, "items").len(), want, "{text}");
    }
}

#[test]
fn only_the_outbox_module_writes_the_outbox_tables() {
    let root = &workspace::root(env!("CARGO_MANIFEST_DIR"));
    let owner = root.join("mail/src/outbox");
    let migrations = root.join("schemas/outbox");
    let this = Path::new(file!()).file_name().unwrap().to_owned();
    let mut files = Vec::new();
    sources(root, &mut files);
    assert!(files.len() > 50, "the workspace's sources were found");
    let tables = tables(root);
    for t in ["items", "relays", "claims", "flags_to_write"] {
        assert!(tables.iter().any(|n| n == t), "{t} in {tables:?}");
    }
    let mut offenders = Vec::new();
    for path in files {
        if path.starts_with(&owner)
            || path.starts_with(&migrations)
            || path.file_name() == Some(&this)
        {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for table in &tables {
            if DAMAGED_BY.contains(&(
                path.strip_prefix(root).unwrap().to_str().unwrap_or(""),
                table.as_str(),
            )) {
                continue;
            }
            for w in writes(&text, table) {
                offenders.push(format!(
                    "{}: {w}",
                    path.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "outbox tables written outside mail/src/outbox/:\n{}",
        offenders.join("\n")
    );
}
