//! Progress bars on a terminal, nothing otherwise (cron's mail stays clean).

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Ui {
    bars: Option<MultiProgress>,
}

impl Ui {
    pub fn new() -> Ui {
        Ui {
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
        }
    }

    fn bar(&self, stage: &str, len: u64, template: &str) -> ProgressBar {
        let Some(bars) = &self.bars else {
            return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        };
        let bar = bars.add(ProgressBar::new(len));
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

    /// A bar counting items (`unit`: what they are).
    pub fn count_bar(&self, stage: &str, len: u64, unit: &str) -> ProgressBar {
        let template = format!("{{prefix:>9}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit}");
        self.bar(stage, len, &template)
    }
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new()
    }
}
