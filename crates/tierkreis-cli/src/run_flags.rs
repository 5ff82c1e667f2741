//! The flags of the reference's `tkr run` (Python tierkreis 2.1.1) that our
//! own spellings do not already cover, so that a command line written for the
//! reference runs unchanged: `-l/--loglevel`, `-v/--verbose`,
//! `-n/--n-iterations`, `-p/--polling-interval-seconds`,
//! `-r/--do-clean-restart` and `--uv`.

use clap::Args;

/// The reference's default graph when neither `-f` nor `-g` is given: the
/// `workflow` function of the graph file `tkr init project` writes.
pub const DEFAULT_GRAPH_LOCATION: &str = "./tkr/graphs/main.py:workflow";
/// The file of [`DEFAULT_GRAPH_LOCATION`].
pub const DEFAULT_GRAPH_FILE: &str = "tkr/graphs/main.py";
/// The reference's default inputs file when no `-i` is given.
pub const DEFAULT_INPUTS_FILE: &str = "workflow_inputs.json";

#[derive(Debug, Args)]
pub struct ReferenceRunFlags {
    /// Log level: CRITICAL, FATAL, ERROR, WARN, WARNING, INFO, DEBUG or
    /// NOTSET (the reference's names; any case). Sets the log filter,
    /// overriding RUST_LOG.
    #[arg(short = 'l', long = "loglevel", value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<LogLevel>,
    /// Log at DEBUG level (as `-l DEBUG`).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// The reference's cap on controller ticks. Accepted and ignored, with a
    /// notice: this controller has no ticks, it waits for task completions.
    #[arg(short = 'n', long = "n-iterations", value_name = "N")]
    pub n_iterations: Option<u64>,
    /// Seconds between two status queries of batch jobs (SLURM, PBS, PJSUB),
    /// overriding the configuration's `[hpc] poll_secs`. It affects only the
    /// polling of batch jobs: local tasks report their end without polling.
    #[arg(short = 'p', long = "polling-interval-seconds", value_name = "SECS", value_parser = crate::parse_seconds)]
    pub polling_interval_seconds: Option<f64>,
    /// Delete the run's checkpoint folder first, if it exists (with
    /// --run-id or --id), and start the run afresh.
    #[arg(short = 'r', long = "do-clean-restart")]
    pub do_clean_restart: bool,
    /// Run Python workers (a registry's `W/main.py` or
    /// `W/tkr_W_impl/main.py`) with `uv run main.py`, as the reference's
    /// `--uv` does, unless tkr.toml sets their kind. Needs `uv` on PATH.
    #[arg(long = "uv")]
    pub uv: bool,
}

/// A log level by the reference's (Python `logging`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn filter_directive(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" | "FATAL" | "ERROR" => Ok(LogLevel::Error),
        "WARN" | "WARNING" => Ok(LogLevel::Warn),
        "INFO" => Ok(LogLevel::Info),
        "DEBUG" => Ok(LogLevel::Debug),
        "NOTSET" | "TRACE" => Ok(LogLevel::Trace),
        _ => Err(format!(
            "{s:?} is not a log level; use one of CRITICAL, FATAL, ERROR, WARN, WARNING, INFO, DEBUG, NOTSET"
        )),
    }
}

impl ReferenceRunFlags {
    /// The log filter these flags ask for, if any: `-v` wins over `-l`.
    pub fn log_filter(&self) -> Option<&'static str> {
        if self.verbose {
            return Some(LogLevel::Debug.filter_directive());
        }
        self.log_level.map(LogLevel::filter_directive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_level_names_map_onto_tracing_levels() {
        assert_eq!(parse_log_level("WARNING"), Ok(LogLevel::Warn));
        assert_eq!(parse_log_level("critical"), Ok(LogLevel::Error));
        assert_eq!(parse_log_level("NOTSET"), Ok(LogLevel::Trace));
        let err = parse_log_level("LOUD").expect_err("not a level");
        assert!(err.contains("\"LOUD\"") && err.contains("DEBUG"), "{err}");
    }
}
