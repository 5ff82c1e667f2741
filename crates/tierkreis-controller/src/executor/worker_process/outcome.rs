//! How a worker process's task ended: waiting with a timeout and memory
//! limit, then reading the node's markers, and recording a failure the
//! process did not report itself.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::task::Job;
use crate::executor::contract::{FailureKind, TaskFailure};

/// How often the resident memory of a task's processes is read when it has
/// a `memory_limit` (one-shot and warm alike).
pub(crate) const MEMORY_CHECK_EVERY: Duration = Duration::from_millis(100);

/// How many lines of a failed task's stderr go into its error text.
pub const STDERR_TAIL_LINES: usize = 20;

/// Why a one-shot process ended, beyond its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessEnd {
    /// It exited by itself.
    Exited,
    /// Its timeout struck and its group was stopped.
    TimedOut,
    /// Its group's resident memory passed the limit and it was killed.
    OverMemoryLimit { rss: u64, limit: u64 },
}

/// Waits for `child`, stopping its group after `timeout` or once the
/// group's resident memory passes `memory_limit`. Returns the exit status
/// and why the process ended.
pub(crate) fn wait(
    mut child: Child,
    timeout: Option<Duration>,
    memory_limit: Option<u64>,
    pgid: Pid,
    grace: Duration,
) -> (std::io::Result<ExitStatus>, ProcessEnd) {
    if timeout.is_none() && memory_limit.is_none() {
        return (child.wait(), ProcessEnd::Exited);
    }
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let gone = || std::io::Error::other("the process waiter ended without a status");
    let started = Instant::now();
    loop {
        let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
        let step = match (left, memory_limit) {
            (Some(l), Some(_)) => l.min(MEMORY_CHECK_EVERY),
            (Some(l), None) => l,
            (None, _) => MEMORY_CHECK_EVERY,
        };
        match rx.recv_timeout(step) {
            Ok(status) => return (status, ProcessEnd::Exited),
            Err(RecvTimeoutError::Disconnected) => return (Err(gone()), ProcessEnd::Exited),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if left.is_some_and(|l| l <= step) {
            let _ = killpg(pgid, Signal::SIGTERM);
            let status = match rx.recv_timeout(grace) {
                Ok(s) => s,
                Err(_) => {
                    let _ = killpg(pgid, Signal::SIGKILL);
                    rx.recv().unwrap_or_else(|_| Err(gone()))
                }
            };
            return (status, ProcessEnd::TimedOut);
        }
        if let Some(limit) = memory_limit {
            if let Some(rss) = group_resident_memory(pgid).filter(|r| *r > limit) {
                let _ = killpg(pgid, Signal::SIGKILL);
                let status = rx.recv().unwrap_or_else(|_| Err(gone()));
                return (status, ProcessEnd::OverMemoryLimit { rss, limit });
            }
        }
    }
}

/// The resident memory (`VmRSS`) of every process in group `pgid`, summed
/// (a `uv run` wrapper and the Python it starts, or a task's own children);
/// `None` when no process of the group is left.
pub(crate) fn group_resident_memory(pgid: Pid) -> Option<u64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name in parentheses: state, ppid, pgrp, ...
        let group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<i32>().ok());
        if group != Some(pgid.as_raw()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        total = Some(total.unwrap_or(0) + kb * 1024);
    }
    total
}

/// Decides how a finished process's task ended, writing the error text and
/// `_error` when the process did not.
pub(crate) fn conclude(
    job: &Job,
    status: std::io::Result<ExitStatus>,
    end: ProcessEnd,
    tail: &VecDeque<String>,
) -> Result<(), TaskFailure> {
    let storage = job.storage.as_ref();
    let loc = &job.loc;
    let who = format!("worker {:?} ({} at {loc})", job.worker, job.kind.name());
    if storage.is_node_finished(loc) {
        return outputs_complete(job, &who);
    }
    let (kind, summary) = if end == ProcessEnd::TimedOut {
        let secs = job.timeout.map_or(0.0, |t| t.as_secs_f64());
        (
            FailureKind::TimedOut,
            format!("{who} timed out after {secs}s and was stopped"),
        )
    } else if let ProcessEnd::OverMemoryLimit { rss, limit } = end {
        (
            FailureKind::MemoryLimitExceeded,
            format!(
                "{who} grew to {} MiB resident, past memory_limit {} MiB, and was stopped",
                rss >> 20,
                limit >> 20
            ),
        )
    } else if storage.node_has_error(loc) {
        restore_lost_stderr(job, tail);
        let message = storage
            .read_errors(loc)
            .unwrap_or_else(|e| format!("{who} failed (its error text is unreadable: {e})"));
        return Err(TaskFailure::new(FailureKind::WorkerReportedError, message));
    } else {
        match status {
            Err(e) => (
                FailureKind::ExitedWithoutMarkers,
                format!("{who}: waiting for the process failed: {e}"),
            ),
            Ok(s) if s.success() => {
                if job.kind.done_on_success() {
                    if let Some(m) = missing_outputs_message(job, &who) {
                        fail(job, &m);
                        return Err(TaskFailure::new(FailureKind::DeclaredOutputsMissing, m));
                    }
                    // Not the task's fault (e.g. a full disk): nothing is
                    // marked, the run stops and a resume runs it again.
                    return storage.mark_node_finished(loc).map_err(|e| {
                        TaskFailure::new(
                            FailureKind::ControllerStorage,
                            format!("{who} succeeded but its _done cannot be written: {e}"),
                        )
                    });
                }
                (
                    FailureKind::ExitedWithoutMarkers,
                    format!("{who} exited without marking done or error"),
                )
            }
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => (
                    FailureKind::ExitedWithStatus(code),
                    format!("{who} exited with status {code}"),
                ),
                (None, Some(sig)) => {
                    let name = Signal::try_from(sig).map_or("unknown", |s| s.as_str());
                    (
                        FailureKind::KilledBySignal(sig),
                        format!("{who} was killed by signal {sig} ({name})"),
                    )
                }
                (None, None) => (
                    FailureKind::ExitedWithoutMarkers,
                    format!("{who} ended with {s}"),
                ),
            },
        }
    };
    let mut message = summary;
    // The node log holds the process's output already: only the summary
    // goes there, not its tail a second time.
    fail(job, &message);
    if !tail.is_empty() {
        message.push_str("\nlast lines of stderr:\n");
        for l in tail {
            message.push_str(l);
            message.push('\n');
        }
    }
    Err(TaskFailure::new(kind, message))
}

/// Heading of the stderr lines put back by [`restore_lost_stderr`].
const RESTORED_STDERR_HEADING: &str =
    "tkr: the worker rewrote this log as it failed; the last lines of its stderr:";

/// The reference's `Worker` writes its error text over the node log ("w+")
/// while the process's output is still being appended to it, so what the
/// process printed before (the traceback that names the exception) can be
/// lost, depending on which came first. When the log no longer holds the
/// last line of the process's stderr, that stderr's last lines go back at
/// its end, under a heading, so `tkr errors` and the web view still find
/// the exception.
fn restore_lost_stderr(job: &Job, tail: &VecDeque<String>) {
    let Some(last) = tail.iter().rev().find(|l| !l.trim().is_empty()) else {
        return;
    };
    let storage = job.storage.as_ref();
    let log = storage.worker_logs_path(&job.loc);
    let text = match storage.read(&log) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    if text.contains(last.as_str()) {
        return;
    }
    let mut restored = String::new();
    if !text.is_empty() && !text.ends_with('\n') {
        restored.push('\n');
    }
    restored.push_str(RESTORED_STDERR_HEADING);
    restored.push('\n');
    for line in tail {
        restored.push_str(line);
        restored.push('\n');
    }
    if let Err(e) = storage.append(&log, restored.as_bytes()) {
        tracing::warn!(loc = %job.loc, error = %e, "cannot put a failed task's stderr back in its log");
    }
}

/// The failure message when a declared output of `job` is missing, naming
/// the ports and the worker; `None` when every declared output exists.
pub(crate) fn missing_outputs_message(job: &Job, who: &str) -> Option<String> {
    let missing: Vec<String> = job
        .outputs
        .iter()
        .filter(|port| !job.storage.output_exists(&job.loc, port))
        .map(|port| format!("{port:?}"))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{who} finished without writing its declared output(s) {} (expected in {})",
        missing.join(", "),
        job.storage.outputs_dir(&job.loc).display()
    ))
}

/// For a task whose `_done` exists: `Ok` when every declared output exists;
/// otherwise takes `_done` back (so no controller trusts the node), records
/// the failure naming the missing ports, and returns it.
pub(crate) fn outputs_complete(job: &Job, who: &str) -> Result<(), TaskFailure> {
    let Some(message) = missing_outputs_message(job, who) else {
        return Ok(());
    };
    let storage = job.storage.as_ref();
    if let Err(e) = storage.delete_path(&storage.done_path(&job.loc)) {
        tracing::error!(loc = %job.loc, error = %e, "cannot remove _done of a task with missing outputs");
    }
    fail(job, &message);
    Err(TaskFailure::new(
        FailureKind::DeclaredOutputsMissing,
        message,
    ))
}

/// Records `job`'s failure with `message` (see
/// [`tierkreis_storage::record_task_failure`]); a storage error is logged.
pub(crate) fn fail(job: &Job, message: &str) {
    if let Err(e) = tierkreis_storage::record_task_failure(job.storage.as_ref(), &job.loc, message)
    {
        tracing::error!(loc = %job.loc, error = %e, "cannot record a task's failure");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use tierkreis_core::Loc;
    use tierkreis_storage::{ControllerStorage, MemoryControllerStorage, MemoryFiles};
    use uuid::Uuid;

    use super::*;
    use crate::executor::config::WorkerKind;
    use crate::executor::contract::RunEventChannel;
    use crate::executor::worker_process::Spec;

    fn job(storage: Arc<dyn ControllerStorage>) -> Job {
        Job {
            loc: Loc::root().n(1),
            worker: "pyw".to_string(),
            kind: WorkerKind::Python,
            spec: Spec {
                program: "python3".into(),
                args: Vec::new(),
                cwd: None,
                env: Default::default(),
                stdin: None,
                stdout: None,
                stdin_pipe: false,
            },
            timeout: None,
            memory_limit: None,
            outputs: Vec::new(),
            call_args_path: "call_args".into(),
            warm: None,
            storage,
            events: RunEventChannel::new().events.clone(),
            served_in: None,
        }
    }

    fn stderr_tail() -> VecDeque<String> {
        [
            "before boom",
            "Traceback (most recent call last):",
            "  File \"main.py\", line 9, in boom",
            "ValueError: boom on element 3",
        ]
        .iter()
        .map(|l| l.to_string())
        .collect()
    }

    #[test]
    fn stderr_lost_to_the_workers_rewrite_goes_back_in_the_log() {
        let storage: Arc<dyn ControllerStorage> = Arc::new(MemoryControllerStorage::new(
            MemoryFiles::default(),
            Uuid::nil(),
            None,
        ));
        let job = job(storage.clone());
        let log = storage.worker_logs_path(&job.loc);
        // The worker's "w+" came after the traceback was pumped: only its
        // error text and a later line are left.
        storage.write(&log, b"boom on element 3").unwrap();
        restore_lost_stderr(&job, &stderr_tail());
        let text = String::from_utf8(storage.read(&log).unwrap()).unwrap();
        assert!(text.starts_with("boom on element 3\n"), "{text}");
        assert!(text.contains(RESTORED_STDERR_HEADING), "{text}");
        assert!(text.ends_with("ValueError: boom on element 3\n"), "{text}");
        // A log that kept the process's output is left alone.
        let kept = "before boom\nTraceback (most recent call last):\n  File \"main.py\", line 9, in boom\nValueError: boom on element 3\nboom on element 3";
        storage.write(&log, kept.as_bytes()).unwrap();
        restore_lost_stderr(&job, &stderr_tail());
        assert_eq!(
            String::from_utf8(storage.read(&log).unwrap()).unwrap(),
            kept
        );
    }
}
