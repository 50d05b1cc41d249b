//! Pause points for crash tests.
//!
//! With `CPOR_PAUSE_AT=<name>` in the environment, the process prints
//! `cpor-etl: paused at <name>` to standard error when it reaches that point
//! and waits there forever, so a test can SIGKILL it at a known moment of the
//! publish sequence. With `CPOR_PAUSE_RESUME=<path>` as well, it goes on
//! once that path exists (the fault matrix fills the disk meanwhile).
//! Without the variables this is one environment lookup.

use std::io::Write;

pub fn pause(name: &str) {
    if std::env::var_os("CPOR_PAUSE_AT").is_some_and(|v| v == name) {
        let mut err = std::io::stderr();
        let _ = writeln!(err, "cpor-etl: paused at {name}");
        let _ = err.flush();
        let resume = std::env::var_os("CPOR_PAUSE_RESUME").map(std::path::PathBuf::from);
        loop {
            match &resume {
                Some(path) if path.exists() => return,
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                None => std::thread::sleep(std::time::Duration::from_secs(3600)),
            }
        }
    }
}
