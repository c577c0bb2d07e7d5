//! The live progress line (elapsed time and what the scenario reports so
//! far), on stderr and only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// One run's progress line.
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Shows an empty line with a spinner and the elapsed time.
    pub(crate) fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
            bar.set_style(style);
        }
        Self { bar }
    }

    /// Replaces the line's text.
    pub(crate) fn update(&self, message: String) {
        self.bar.set_message(message);
        self.bar.tick();
    }

    /// Prints a line above the progress line (kept when it is cleared).
    pub(crate) fn println(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
