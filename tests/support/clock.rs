//! A process's wall clock set for a test: Debian's libfaketime preloaded
//! into the binary itself (not through the `faketime` wrapper, whose death
//! by a test's kill would leave the binary running).

use std::path::PathBuf;
use std::process::Command;

/// Debian's libfaketime (`faketime` depends on it; scripts/setup-test-deps
/// installs it), under `/usr/lib/<multiarch>/faketime/`.
fn libfaketime() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path().join("faketime/libfaketime.so.1");
            p.exists().then_some(p)
        })
        .next()
        .expect("libfaketime: run scripts/setup-test-deps (Debian's faketime)")
}

/// Sets `cmd`'s clock with libfaketime's `FAKETIME`: `@2026-11-25 01:00:00`
/// starts there (UTC) and runs on, `-400d` runs that many days behind.
pub fn set(cmd: &mut Command, faketime: &str) {
    cmd.env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", faketime)
        .env("TZ", "UTC");
}
