//! What asks a run to stop: systemd's SIGTERM, Ctrl-C's SIGINT, a closed
//! terminal's SIGHUP. The first sets a flag the command watches (`send`
//! finishes the messages its relay has and starts none) and runs its
//! answer (`on_signal`: what `send` is waiting for, or whether `import`
//! published); a second one ends the process at once, as a kill would. A
//! signal the run was started with ignored (`nohup`'s SIGHUP, a background
//! job's SIGINT) stays ignored.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Stop {
    /// Set by the first signal.
    pub flag: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl Stop {
    const SIGNALS: [(i32, &'static str); 3] = [
        (signal_hook::consts::SIGTERM, "SIGTERM"),
        (signal_hook::consts::SIGINT, "SIGINT"),
        (signal_hook::consts::SIGHUP, "SIGHUP"),
    ];

    pub fn install() -> std::io::Result<Stop> {
        let stop = Stop {
            flag: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicUsize::new(0)),
        };
        let ignored = ignored_at_start();
        for (signal, _) in Self::SIGNALS {
            if ignored & (1u64 << (signal - 1)) != 0 {
                continue;
            }
            // Registered first, so it sees the flag of an earlier signal.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                128 + signal,
                Arc::clone(&stop.flag),
            )?;
            signal_hook::flag::register_usize(signal, Arc::clone(&stop.signal), signal as usize)?;
            signal_hook::flag::register(signal, Arc::clone(&stop.flag))?;
        }
        Ok(stop)
    }

    /// Runs `answer` once, on a thread of its own (polling), when the first
    /// signal comes: with the signal's name and the exit status that says
    /// so.
    pub fn on_signal(&self, answer: impl FnOnce(&'static str, i32) + Send + 'static) {
        let (flag, signal) = (Arc::clone(&self.flag), Arc::clone(&self.signal));
        std::thread::spawn(move || loop {
            if flag.load(Ordering::SeqCst) {
                let (name, code) =
                    Self::named(signal.load(Ordering::SeqCst) as i32).unwrap_or(("a signal", 128));
                answer(name, code);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        });
    }

    /// The signal that asked to stop: its name and the exit status that
    /// says so (128 + its number, as a shell reports it).
    pub fn received(&self) -> Option<(&'static str, i32)> {
        Self::named(self.signal.load(Ordering::SeqCst) as i32)
    }

    fn named(n: i32) -> Option<(&'static str, i32)> {
        Self::SIGNALS
            .iter()
            .find(|(s, _)| *s == n)
            .map(|(s, name)| (*name, 128 + s))
    }
}

/// The signals this process was started with ignored, as a mask (bit
/// `n - 1` for signal `n`): Linux's `SigIgn` in /proc/self/status, read
/// before any handler is installed (no `sigaction` without `unsafe`). None,
/// if it cannot be read.
fn ignored_at_start() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        })
        .unwrap_or(0)
}
