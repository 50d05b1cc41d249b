//! Pause points for crash tests.
//!
//! With `CPOR_PAUSE_AT=<name>` in the environment, the process prints
//! `cpor-etl: paused at <name>` to standard error when it reaches that point
//! and waits there forever, so a test can SIGKILL it at a known moment of the
//! publish sequence. With `CPOR_PAUSE_RESUME=<path>` as well, it goes on
//! once that path exists (the fault matrix fills the disk meanwhile), and
//! removes it. `CPOR_PAUSE_AT` may name several points, comma-separated
//! (`send-before-claim,send-after-mark`): the process pauses at each, the
//! first time it reaches it, so a test can interleave two processes step by
//! step, creating the path again for each (one path serves every point: they
//! must be reached one after another, by one thread or one connection). A
//! point reached again, or by other threads while it waits, goes on with
//! the first. A point in code that dry runs and catch-ups also pass
//! (`after-retell`) pauses at the first of them.
//! Without the variables this is one environment lookup.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;

/// The points this process has gone on from.
static PASSED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

pub fn pause(name: &str) {
    let Some(at) = std::env::var_os("CPOR_PAUSE_AT") else {
        return;
    };
    if !at.to_string_lossy().split(',').any(|p| p.trim() == name) {
        return;
    }
    let passed = || {
        PASSED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name)
    };
    if passed() {
        return;
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "cpor-etl: paused at {name}");
    let _ = err.flush();
    let resume = std::env::var_os("CPOR_PAUSE_RESUME").map(std::path::PathBuf::from);
    loop {
        match &resume {
            Some(_) if passed() => return,
            Some(path) if path.exists() => {
                let mut done = PASSED.lock().unwrap_or_else(|e| e.into_inner());
                if done.insert(name.to_string()) {
                    if let Err(e) = std::fs::remove_file(path) {
                        // (a later point would not wait: say so)
                        let _ = writeln!(err, "cpor-etl: {}: {e}", path.display());
                    }
                }
                return;
            }
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            None => std::thread::sleep(std::time::Duration::from_secs(3600)),
        }
    }
}
