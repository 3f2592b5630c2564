//! A progress bar per stage on standard error, drawn only on a terminal:
//! redirected output (CI, scripts) gets the stage's closing line alone.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Bar {
    label: &'static str,
    total: usize,
    terminal: bool,
    started: Instant,
    drawn: Instant,
}

const WIDTH: usize = 30;

impl Bar {
    pub fn new(label: &'static str, total: usize) -> Bar {
        let now = Instant::now();
        Bar { label, total, terminal: std::io::stderr().is_terminal(), started: now, drawn: now }
    }

    /// For a stage that learns its size once it has started.
    pub fn set_total(&mut self, total: usize) {
        self.total = total;
    }

    /// Redraws at most ten times a second.
    pub fn set(&mut self, done: usize) {
        if !self.terminal || (self.drawn.elapsed() < Duration::from_millis(100) && done < self.total) {
            return;
        }
        self.drawn = Instant::now();
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH).min(WIDTH);
        let percent = (done * 100).checked_div(self.total).unwrap_or(100).min(100);
        eprint!(
            "\r  {:<9} [{}{}] {:>3}%  {done}/{}  {:.0} s ",
            self.label,
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            percent,
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar and prints the stage's line with its wall time.
    pub fn finish(self, what: &str) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if self.terminal {
            eprint!("\r{:<90}\r", "");
        }
        println!("  {:<9} {what} ({seconds:.1} s)", self.label);
        seconds
    }
}
