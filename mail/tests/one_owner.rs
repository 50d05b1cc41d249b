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
use workspace::{sources, tables_created, writes};

/// Tests that write a table to damage it, as a machine's restart or
/// another build would (a claim from another boot, a row this code did not
/// write), and what `recover` then does: (file, table).
/// And a flag a `send` recorded and could not yet write to the accounts
/// database (busy, or the run stopped between the two), which a retry in
/// bulk must honour.
const DAMAGED_BY: &[(&str, &str)] = &[
    ("mail/tests/withdraw.rs", "claims"),
    ("tests/etl/mail.rs", "flags_to_write"),
];

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
    let tables = tables_created(&migrations);
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
