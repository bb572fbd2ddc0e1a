//! The poll's progress on stderr: a bar redrawn in place on a terminal, a line every few
//! seconds otherwise (a log file gets a record, not a thousand carriage returns).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const BAR_WIDTH: usize = 30;
/// How often a line is written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    /// Invoices known to be waiting when the run started, plus any found since.
    total: u64,
    exported: u64,
    skipped: u64,
    started: Instant,
    terminal: bool,
    quiet: bool,
    last_drawn: Option<Instant>,
}

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Self {
        Self {
            total,
            exported: 0,
            skipped: 0,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            quiet,
            last_drawn: None,
        }
    }

    pub fn exported(&mut self) {
        self.exported += 1;
        self.draw(false);
    }

    /// An invoice claimed that another client had already decided, or that is gone.
    pub fn skipped(&mut self) {
        self.skipped += 1;
        self.draw(false);
    }

    /// More invoices than counted at the start (new ones arrived): the bar grows.
    pub fn at_least(&mut self, total: u64) {
        self.total = self.total.max(total);
    }

    pub fn counts(&self) -> (u64, u64) {
        (self.exported, self.skipped)
    }

    pub fn line(&self) -> String {
        let handled = self.exported + self.skipped;
        let total = self.total.max(handled);
        let filled = if total == 0 {
            BAR_WIDTH
        } else {
            (handled as usize * BAR_WIDTH) / total as usize
        };
        let rate = self.exported as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let mut line = format!(
            "[{}{}] {handled}/{total} exported {:.1}/s",
            "#".repeat(filled),
            "-".repeat(BAR_WIDTH - filled),
            rate
        );
        if self.skipped > 0 {
            line.push_str(&format!(" ({} skipped)", self.skipped));
        }
        line
    }

    /// Draws now if `force`, else when it is due.
    pub fn draw(&mut self, force: bool) {
        if self.quiet {
            return;
        }
        let due =
            self.terminal || force || self.last_drawn.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if !due {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{}", self.line());
        } else {
            let _ = writeln!(err, "{}", self.line());
        }
        let _ = err.flush();
    }

    /// A line of its own above the bar (on a terminal the bar is cleared first, and redrawn
    /// with the next step).
    pub fn note(&self, line: &str) {
        if !self.quiet {
            self.warn(line);
        }
    }

    /// [`Self::note`] even when quiet: something the user must hear of.
    pub fn warn(&self, line: &str) {
        if self.terminal && !self.quiet {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{line}");
    }

    /// Ends the bar's line on a terminal, before other output.
    pub fn finish(&mut self) {
        self.draw(true);
        if self.terminal && !self.quiet {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_what_is_handled_and_grows_with_new_work() {
        let mut progress = Progress::new(4, true);
        progress.exported();
        assert!(progress
            .line()
            .starts_with(&format!("[{}{}] 1/4", "#".repeat(7), "-".repeat(23))));
        progress.skipped();
        progress.at_least(10);
        assert!(
            progress.line().contains("2/10 exported"),
            "{}",
            progress.line()
        );
        assert!(progress.line().ends_with("(1 skipped)"));
    }
}
