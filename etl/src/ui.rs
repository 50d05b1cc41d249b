//! Progress bars on a terminal, nothing otherwise (cron's mail stays clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Ui {
    enabled: bool,
}

impl Ui {
    pub fn new() -> Ui {
        Ui {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn bar(&self, stage: &str, len: u64, template: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(stage.to_string());
        bar
    }

    /// A bar counting bytes (reading and decoding files).
    pub fn bytes_bar(&self, stage: &str, len: u64) -> ProgressBar {
        self.bar(
            stage,
            len,
            "{prefix:>9} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
    }

    /// A bar counting items (cases written).
    pub fn count_bar(&self, stage: &str, len: u64) -> ProgressBar {
        self.bar(
            stage,
            len,
            "{prefix:>9} [{bar:40}] {human_pos}/{human_len} cases eta {eta}",
        )
    }
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new()
    }
}
