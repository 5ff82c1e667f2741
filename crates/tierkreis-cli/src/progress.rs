//! Progress of a running workflow on stderr: a live bar on a terminal, a plain
//! line every few seconds otherwise, nothing with `-q` or `--json`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tierkreis_controller::scheduler::Progress;

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Reports progress updates from the runtime.
#[derive(Debug)]
pub enum Reporter {
    Silent,
    Bar(ProgressBar),
    Plain { start: Instant, last: Instant },
}

impl Reporter {
    /// A reporter suited to stderr: a bar on a terminal, plain lines
    /// otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Reporter {
        if quiet {
            return Reporter::Silent;
        }
        let now = Instant::now();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            Reporter::Bar(bar)
        } else {
            Reporter::Plain {
                start: now,
                last: now,
            }
        }
    }

    /// Records a new state of the run.
    pub fn update(&mut self, p: Progress) {
        match self {
            Reporter::Silent => {}
            Reporter::Bar(bar) => bar.set_message(summary(p)),
            Reporter::Plain { start, last } => {
                if last.elapsed() >= PLAIN_EVERY {
                    *last = Instant::now();
                    eprintln!("[{:.0}s] {}", start.elapsed().as_secs_f64(), summary(p));
                }
            }
        }
    }

    /// Removes the bar before the final report.
    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `finished 12 · running 2 · failed 0` style counts.
pub fn summary(p: Progress) -> String {
    format!(
        "nodes finished {}, running tasks {}, failed {}",
        p.finished, p.running, p.failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_every_count() {
        let p = Progress {
            started: 5,
            finished: 3,
            running: 2,
            failed: 1,
        };
        assert_eq!(summary(p), "nodes finished 3, running tasks 2, failed 1");
    }
}
