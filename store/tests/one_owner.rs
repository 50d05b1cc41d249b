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
