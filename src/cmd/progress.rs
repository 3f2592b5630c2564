//! A progress bar per stage, and a spinner for a long query, on standard
//! error and drawn only on a terminal:
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

/// "running … 3 s" on standard error while a query runs, once it has taken
/// longer than half a second, and only on a terminal; cleared when dropped.
pub struct Spinner {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    pub fn start(label: String) -> Spinner {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut drawn = false;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let elapsed = started.elapsed();
                    if elapsed >= Duration::from_millis(500) {
                        let dots = ".".repeat(1 + (elapsed.as_millis() / 300 % 3) as usize);
                        eprint!("\r  {label} {dots:<3} {:.0} s ", elapsed.as_secs_f64());
                        let _ = std::io::stderr().flush();
                        drawn = true;
                    }
                }
                if drawn {
                    eprint!("\r{:<90}\r", "");
                }
            })
        });
        Spinner { stop, thread }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
