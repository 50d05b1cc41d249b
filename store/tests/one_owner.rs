//! The accounts database has one owner: no program but `store` writes its
//! tables (`store::accounts`, its `shared` and `prosecutors` parts, and
//! `store::hearings`), except the website's sessions, which the website's
//! session modules own (ARCHITECTURE.md, "Invariants"). The import wrote
//! activation tokens with SQL of its own until 2026-12-06. Tests may seed
//! and damage rows as they need: only the programs are checked.

#[path = "../../tests/support/sources.rs"]
mod workspace;
use workspace::{production, tables_created, writes};

/// Tables a module of the website owns, besides `store`, whose record
/// writer notes when a session was last seen.
const OWNED_ELSEWHERE: &[(&str, &str)] = &[
    ("sessions", "query-server/src/sessions.rs"),
    (
        "prosecutor_sessions",
        "query-server/src/prosecutors/sessions.rs",
    ),
];

#[test]
fn only_store_writes_the_accounts_database() {
    let root = workspace::root(env!("CARGO_MANIFEST_DIR"));
    let tables = tables_created(&root.join("schemas/accounts"));
    for t in ["accounts", "tokens", "flagged_addresses", "sessions"] {
        assert!(tables.iter().any(|n| n == t), "{t} in {tables:?}");
    }
    let files = production(&root);
    assert!(
        files
            .iter()
            .any(|(p, t)| p.starts_with("store/src") && !writes(t, "tokens").is_empty()),
        "store writes tokens: is the check looking?"
    );
    let mut offenders = Vec::new();
    for (path, text) in &files {
        if path.starts_with("store/src") {
            continue;
        }
        for table in &tables {
            if OWNED_ELSEWHERE.contains(&(table.as_str(), path.to_str().unwrap_or(""))) {
                continue;
            }
            for w in writes(text, table) {
                offenders.push(format!("{}: {w}", path.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the accounts database written outside store (and the sessions' modules):\n{}",
        offenders.join("\n")
    );
}

/// An account is made in one place, `store::accounts::create_or_get`
/// (ARCHITECTURE.md, "Invariants": the architecture review of the
/// fifty-third session found it stated, not checked): no program inserts
/// into `accounts` elsewhere, `store` included.
#[test]
fn an_account_is_made_in_one_place() {
    let root = workspace::root(env!("CARGO_MANIFEST_DIR"));
    let makes: Vec<(String, usize)> = production(&root)
        .iter()
        .map(|(path, text)| {
            let inserts = writes(text, "accounts")
                .iter()
                .filter(|w| w.starts_with("insert") || w.starts_with("replace"))
                .count();
            (path.display().to_string(), inserts)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(makes, [("store/src/accounts.rs".to_string(), 1)]);
    let accounts = std::fs::read_to_string(root.join("store/src/accounts.rs")).unwrap();
    let made = accounts.find("INSERT OR IGNORE INTO accounts").unwrap();
    let function = accounts[..made].rfind("pub fn ").unwrap();
    assert!(
        accounts[function..].starts_with("pub fn create_or_get("),
        "accounts are made outside create_or_get"
    );
}
