//! Retries of failed tasks, decided by the runtime on a failed completion so
//! they work the same for every executor (one-shot processes, warm workers,
//! batch jobs, which are submitted again).
//!
//! A failed attempt's traces move to `<node>/attempts/<k>/` (k from 1): its
//! `logs`, a `reason` (the failure message), `_error` if it wrote one and the
//! executor record `executor` (e.g. the old batch job id from
//! `debug/executors/<loc>`). Then the node's markers and partial outputs are
//! cleared and the task launched again after a backoff, so `_done` and
//! `_error` in the node folder always mean the final outcome. The attempt
//! count is the number of `attempts/<k>` folders, so a resume after a crash
//! continues it.
//!
//! Which failures are retried is decided by the typed
//! [`FailureKind`] each executor sets on its completion
//! ([`retry_on_entry`]), never by the message text.

use std::time::Duration;

use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, StorageError};

pub use crate::executor::config::RetryOn;
use crate::executor::contract::{BatchJobFailure, FailureKind};

pub use tierkreis_storage::attempts::{
    attempts, attempts_dir, failed_attempts, Attempt, ATTEMPTS_DIR,
};

/// The longest wait between attempts, unless the configured backoff itself
/// is longer.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// How a task is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub retries: u32,
    /// The wait before the first retry, doubled for each later one up to
    /// [`BACKOFF_CAP`] (or the backoff itself if longer).
    pub backoff: Duration,
    /// Which failures are retried.
    pub retry_on: Vec<RetryOn>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 0,
            backoff: Duration::from_secs(1),
            retry_on: DEFAULT_RETRY_ON.to_vec(),
        }
    }
}

/// Retried unless configured otherwise: not `error`, which a worker reports
/// itself and is usually not transient.
pub const DEFAULT_RETRY_ON: [RetryOn; 3] = [RetryOn::Exit, RetryOn::Signal, RetryOn::Timeout];

impl RetryPolicy {
    /// The wait before retry `k` (1 for the first retry).
    pub fn delay(&self, k: u32) -> Duration {
        let cap = BACKOFF_CAP.max(self.backoff);
        let factor = 2u32.saturating_pow(k.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(cap)
    }
}

/// How the runtime finds a task's retry policy: from its worker and function.
pub type RetryPolicyFn = dyn Fn(&str, &str) -> RetryPolicy + Send + Sync;

/// Which `retry_on` entry covers a failure of `kind`; `None` for a storage
/// failure of the controller, which is never retried (the run stops).
pub fn retry_on_entry(kind: FailureKind) -> Option<RetryOn> {
    Some(match kind {
        FailureKind::WorkerReportedError
        | FailureKind::DeclaredOutputsMissing
        | FailureKind::CouldNotLaunch => RetryOn::Error,
        FailureKind::ExitedWithStatus(_)
        | FailureKind::ExitedWithoutMarkers
        | FailureKind::BatchJob(BatchJobFailure::EndedWithoutMarkers | BatchJobFailure::Lost) => {
            RetryOn::Exit
        }
        FailureKind::KilledBySignal(_)
        | FailureKind::MemoryLimitExceeded
        | FailureKind::BatchJob(BatchJobFailure::OutOfMemory | BatchJobFailure::Cancelled) => {
            RetryOn::Signal
        }
        FailureKind::TimedOut | FailureKind::BatchJob(BatchJobFailure::OutOfTime) => {
            RetryOn::Timeout
        }
        FailureKind::ControllerStorage => return None,
    })
}

/// Moves the traces of the failed attempt of `loc` into `attempts/<k>` (k =
/// the next number), clears its markers and partial outputs, and returns k.
pub fn archive_attempt(
    storage: &dyn ControllerStorage,
    loc: &Loc,
    message: &str,
) -> Result<u32, StorageError> {
    let k = failed_attempts(storage, loc) + 1;
    let dir = attempts_dir(storage, loc).join(k.to_string());
    storage.mkdir(&dir)?;
    let logs = storage.worker_logs_path(loc);
    match storage.read(&logs) {
        Ok(bytes) => storage.write(&dir.join("logs"), &bytes)?,
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    match storage.read(&storage.executor_data_path(loc)) {
        Ok(bytes) => storage.write(&dir.join("executor"), &bytes)?,
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    if storage.node_has_error(loc) {
        storage.write(&dir.join("_error"), b"")?;
    }
    storage.write(&dir.join("reason"), message.as_bytes())?;
    // A batch executor that finds the old job's record would follow that
    // job instead of submitting a new one; its id is kept above.
    storage.delete_path(&storage.executor_data_path(loc))?;
    // The markers last: until they go, the node still reads as failed.
    // Partial outputs go; the folder stays (the worker writes into it).
    for output in storage.list_subpaths(&storage.outputs_dir(loc))? {
        storage.delete_path(&output)?;
    }
    storage.delete_path(&logs)?;
    storage.delete_path(&storage.error_path(loc))?;
    Ok(k)
}

/// Each task's retry policy: its worker's or route's `retries`,
/// `retry_backoff` and `retry_on` in `config`, else `default_retries`
/// (`--retries`); `None` when nothing asks for retries. The one recipe for
/// `tkr run` and the embedded engine.
pub fn configured_policies(
    config: &crate::executor::ExecutorConfig,
    default_retries: u32,
) -> Option<std::sync::Arc<RetryPolicyFn>> {
    let configured = config
        .workers
        .values()
        .any(|w| w.retries.is_some_and(|n| n > 0))
        || config
            .routes
            .iter()
            .any(|r| r.settings.retries.is_some_and(|n| n > 0));
    if !configured && default_retries == 0 {
        return None;
    }
    let config = config.clone();
    Some(std::sync::Arc::new(move |worker: &str, function: &str| {
        let s = config.settings_for(worker, function);
        let defaults = RetryPolicy::default();
        RetryPolicy {
            retries: s.retries.unwrap_or(default_retries),
            backoff: s.retry_backoff.map_or(defaults.backoff, |b| b.0),
            retry_on: s.retry_on.unwrap_or(defaults.retry_on),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_kind_is_covered_by_its_retry_on_entry() {
        let cases = [
            (FailureKind::WorkerReportedError, Some(RetryOn::Error)),
            (FailureKind::DeclaredOutputsMissing, Some(RetryOn::Error)),
            (FailureKind::CouldNotLaunch, Some(RetryOn::Error)),
            (FailureKind::ExitedWithStatus(3), Some(RetryOn::Exit)),
            (FailureKind::ExitedWithoutMarkers, Some(RetryOn::Exit)),
            (FailureKind::KilledBySignal(9), Some(RetryOn::Signal)),
            (FailureKind::MemoryLimitExceeded, Some(RetryOn::Signal)),
            (FailureKind::TimedOut, Some(RetryOn::Timeout)),
            (
                FailureKind::BatchJob(BatchJobFailure::OutOfTime),
                Some(RetryOn::Timeout),
            ),
            (
                FailureKind::BatchJob(BatchJobFailure::OutOfMemory),
                Some(RetryOn::Signal),
            ),
            (
                FailureKind::BatchJob(BatchJobFailure::Cancelled),
                Some(RetryOn::Signal),
            ),
            (
                FailureKind::BatchJob(BatchJobFailure::EndedWithoutMarkers),
                Some(RetryOn::Exit),
            ),
            (
                FailureKind::BatchJob(BatchJobFailure::Lost),
                Some(RetryOn::Exit),
            ),
            (FailureKind::ControllerStorage, None),
        ];
        for (kind, expected) in cases {
            assert_eq!(retry_on_entry(kind), expected, "{kind:?}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            retries: 10,
            backoff: Duration::from_secs(1),
            retry_on: DEFAULT_RETRY_ON.to_vec(),
        };
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(3), Duration::from_secs(4));
        assert_eq!(p.delay(10), BACKOFF_CAP);
    }
}
