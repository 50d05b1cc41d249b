//! The workspace's own files, for the tests that check where things live
//! (`mail/tests/one_owner.rs`, `schemas/tests/one_place.rs`; the
//! invariants of ARCHITECTURE.md). Shared by the test crates (`#[path]`),
//! each using what it needs.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace's root, from a member crate's manifest directory.
pub fn root(manifest_dir: &str) -> PathBuf {
    let mut dir = Path::new(manifest_dir);
    while !dir.join("Cargo.lock").exists() {
        dir = dir.parent().expect("the workspace's root has Cargo.lock");
    }
    dir.to_path_buf()
}

/// Every source, SQL, Python and shell file under `dir` (and the scripts
/// without a suffix), skipping `target`, `.git` and `node_modules`.
pub fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "node_modules") {
                sources(&path, out);
            }
        } else if [".rs", ".py", ".sql", ".sh"]
            .iter()
            .any(|e| name.ends_with(e))
            || path.parent().is_some_and(|p| p.ends_with("scripts"))
        {
            out.push(path);
        }
    }
}

/// What the programs are made of, without their tests: each member
/// crate's `src/` (a file named `tests.rs` left out, and every other file
/// up to its inline tests' module, `#[cfg(test)]` (or `all(test, …)`)
/// then `mod … {`, last by
/// this workspace's habit: a `#[cfg(test)]` on a single item above it, or
/// on `mod tests;` declaring a file of its own, cut most of some files,
/// the captcha's and the sign-on's, from the checks)
/// and the Python scripts of `scripts/`. With each file's path from the
/// root.
pub fn production(root: &Path) -> Vec<(PathBuf, String)> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|m| m.split(']').next())
        .expect("the workspace lists its members");
    let mut files = Vec::new();
    for member in members.split(',') {
        let member = member.trim().trim_matches('"');
        if !member.is_empty() {
            sources(&root.join(member).join("src"), &mut files);
        }
    }
    for entry in fs::read_dir(root.join("scripts")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "py") {
            files.push(entry.path());
        }
    }
    files
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
        .filter_map(|p| {
            let text = fs::read_to_string(&p).ok()?;
            let text = match test_module(&text) {
                Some(at) if p.extension().is_some_and(|e| e == "rs") => text[..at].to_string(),
                _ => text,
            };
            Some((p.strip_prefix(root).unwrap().to_path_buf(), text))
        })
        .collect()
}

/// Where a file's inline tests' module begins: the first test-only
/// attribute ([`test_cfgs`]) followed (after other attributes, spaces and
/// comments) by `mod` and a body (`mod tests {`; `mod tests;` is in a
/// file of its own).
fn test_module(text: &str) -> Option<usize> {
    test_cfgs(text)
        .into_iter()
        .find(|(_, next)| next.as_deref().is_some_and(inline_module))
        .map(|(at, _)| at)
}

/// Each attribute of `text` that compiles what follows for tests only,
/// `#[cfg(test)]` or `#[cfg(all(test, …))]` (a test module that needs a
/// feature, as `store`'s writer's: read as production before the
/// fifty-fourth session), in order: where it begins, and the line after
/// it (other attributes, blank lines and comments passed).
pub fn test_cfgs(text: &str) -> Vec<(usize, Option<String>)> {
    let mut found: Vec<(usize, Option<String>)> = Vec::new();
    for open in ["#[cfg(test)]", "#[cfg(all(test,"] {
        for (at, _) in text.match_indices(open) {
            let Some(end) = text[at..].find(']') else {
                continue;
            };
            let next = text[at + end + 1..]
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("#[") && !l.starts_with("//"))
                .map(str::to_string);
            found.push((at, next));
        }
    }
    found.sort();
    found
}

/// Whether a line opens an inline module, whatever its visibility (`mod
/// tests {`, `pub(crate) mod tests {`; the review of the fifty-third
/// session's change found files read whole, their tests with them, for a
/// `pub(crate)`).
pub fn inline_module(line: &str) -> bool {
    let rest = match line.strip_prefix("pub") {
        Some(r) if r.starts_with('(') => r.split_once(')').map_or(r, |(_, r)| r),
        Some(r) => r,
        None => line,
    };
    rest.trim_start().starts_with("mod ") && line.ends_with('{')
}

/// The words of `text`, lowercased: runs of letters, digits and `_` (SQL
/// keywords and names, whatever the spacing and case).
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every table the migrations in `dir` create (`CREATE TABLE name`), in
/// the order they do: a list kept by hand missed one (`relays`, outbox
/// migration 13, written by a test of the website's).
pub fn tables_created(dir: &Path) -> Vec<String> {
    let mut tables = Vec::new();
    let mut migrations: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    migrations.sort();
    for path in migrations {
        let words = words(&fs::read_to_string(&path).unwrap());
        for w in words.windows(3) {
            if w[0] == "create" && w[1] == "table" && !tables.contains(&w[2]) {
                tables.push(w[2].clone());
            }
        }
    }
    tables
}

/// The writes to `table` a text contains (case and spacing ignored):
/// INSERT [OR …] INTO, REPLACE INTO, UPDATE [OR …], DELETE FROM.
pub fn writes(text: &str, table: &str) -> Vec<String> {
    let words = words(text);
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
