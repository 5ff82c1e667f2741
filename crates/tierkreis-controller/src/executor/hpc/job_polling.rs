//! Following batch jobs: one thread asks each batch system about every
//! followed job with one query per poll, and decides from the job's state
//! and the node's markers whether the task succeeded, failed (the message
//! naming the job and the tail of its output and error files), is still
//! running, or, adopted from a previous run and gone, must be submitted
//! again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tierkreis_core::Loc;
use tierkreis_storage::{record_task_failure, ControllerStorage, ExecutorDebugData};

use super::batch_system::{self, BatchSystem, Commands, JobEnd, JobState};
use super::one_job_per_task::HpcOptions;
use super::script;
use crate::executor::contract::{
    BatchJobFailure, FailureKind, TaskCompletion, TaskEventSender, TaskFailure,
};

/// How many lines of a failed job's output and error files go into its
/// node's error text.
pub const JOB_FILE_TAIL_LINES: usize = 20;

/// What the executor and its poll thread share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) options: HpcOptions,
    pub(super) commands: Commands,
    pub(super) state: Mutex<Polling>,
    pub(super) wake: Condvar,
}

/// The followed jobs, under the lock.
#[derive(Debug, Default)]
pub(super) struct Polling {
    pub(super) jobs: HashMap<Loc, Tracked>,
    pub(super) stopping: bool,
}

/// A submitted (or adopted) job the poll thread follows.
pub(super) struct Tracked {
    pub(super) loc: Loc,
    pub(super) system: BatchSystem,
    pub(super) job_id: String,
    /// Adopted from a previous run and not yet seen queued or running.
    pub(super) adopted: bool,
    /// Polls that found the job ended or unknown without a marker yet (a
    /// shared file system may show the markers late).
    pub(super) settling: u32,
    /// The timeline has been told the job runs (lane `<system> job <id>`).
    pub(super) reported_running: bool,
    pub(super) script: PathBuf,
    pub(super) no_check_directory: bool,
    pub(super) output_path: PathBuf,
    pub(super) error_path: PathBuf,
    pub(super) walltime: String,
    pub(super) who: String,
    pub(super) debug: ExecutorDebugData,
    pub(super) storage: Arc<dyn ControllerStorage>,
    pub(super) events: TaskEventSender,
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked")
            .field("loc", &self.loc)
            .field("system", &self.system)
            .field("job_id", &self.job_id)
            .finish_non_exhaustive()
    }
}

/// What one poll decided for one job.
enum Decision {
    Keep,
    Complete(Result<(), TaskFailure>),
    Resubmit,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Polling> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn poll_loop(self: Arc<Self>) {
        loop {
            {
                let s = self.lock();
                if s.stopping {
                    return;
                }
                let (s, _) = self
                    .wake
                    .wait_timeout(s, self.options.poll)
                    .unwrap_or_else(|e| e.into_inner());
                if s.stopping {
                    return;
                }
                if s.jobs.is_empty() {
                    continue;
                }
            }
            self.poll_once();
        }
    }

    /// One batched query per batch system, then a decision for every job.
    fn poll_once(&self) {
        let mut ids: HashMap<BatchSystem, Vec<String>> = HashMap::new();
        for t in self.lock().jobs.values() {
            ids.entry(t.system).or_default().push(t.job_id.clone());
        }
        let mut states: HashMap<BatchSystem, HashMap<String, JobState>> = HashMap::new();
        for (system, ids) in ids {
            match system.query(&self.commands, &ids) {
                Ok(m) => {
                    states.insert(system, m);
                }
                Err(e) => tracing::warn!(error = %e, "job status query failed; trying again"),
            }
        }
        let mut completions = Vec::new();
        let mut resubmit = Vec::new();
        {
            let mut s = self.lock();
            if s.stopping {
                return;
            }
            let locs: Vec<Loc> = s.jobs.keys().cloned().collect();
            for loc in locs {
                let Some(t) = s.jobs.get_mut(&loc) else {
                    continue;
                };
                let Some(m) = states.get(&t.system) else {
                    continue;
                };
                let state = m.get(batch_system::job_key(&t.job_id));
                if matches!(state, Some(JobState::Running)) && !t.reported_running {
                    t.reported_running = true;
                    t.events
                        .task_started(&t.loc, t.system.name(), format!("job {}", t.job_id));
                }
                match decide(t, state) {
                    Decision::Keep => {}
                    Decision::Complete(r) => {
                        if let Some(t) = s.jobs.remove(&loc) {
                            completions.push((t, r));
                        }
                    }
                    Decision::Resubmit => {
                        if let Some(t) = s.jobs.remove(&loc) {
                            resubmit.push(t);
                        }
                    }
                }
            }
        }
        for (t, result) in completions {
            t.events.complete(TaskCompletion { loc: t.loc, result });
        }
        for mut t in resubmit {
            tracing::info!(loc = %t.loc, job = %t.job_id, "the previous run's job is gone; submitting again");
            match t
                .system
                .submit(&self.commands, &t.script, t.no_check_directory)
            {
                Ok(id) => {
                    // The new job is this run's own: if the scheduler does
                    // not know it, it is lost (after settling), not the
                    // previous run's job to submit once more.
                    t.job_id = id.clone();
                    t.adopted = false;
                    t.settling = 0;
                    t.reported_running = false;
                    t.debug.job_id = Some(id);
                    if let Err(e) = t.storage.write_executor_data(&t.loc, &t.debug) {
                        tracing::warn!(loc = %t.loc, error = %e, "cannot record the job id");
                    }
                    let mut s = self.lock();
                    if s.stopping {
                        drop(s);
                        let _ = t
                            .system
                            .cancel(&self.commands, std::slice::from_ref(&t.job_id));
                    } else {
                        s.jobs.insert(t.loc.clone(), t);
                    }
                }
                Err(e) => {
                    let m = format!(
                        "the {} scheduler refused the job of {} (script {}): {e}",
                        t.system.name(),
                        t.loc,
                        t.script.display()
                    );
                    fail(&t, &m);
                    t.events.complete(TaskCompletion {
                        loc: t.loc.clone(),
                        result: Err(TaskFailure::new(FailureKind::CouldNotLaunch, m)),
                    });
                }
            }
        }
    }
}

/// Decides what to do about job `t` given its state (`None`: the scheduler
/// does not know it).
fn decide(t: &mut Tracked, state: Option<&JobState>) -> Decision {
    let storage = t.storage.as_ref();
    if state.is_some_and(JobState::is_active) {
        t.adopted = false;
        t.settling = 0;
        return Decision::Keep;
    }
    if storage.is_node_finished(&t.loc) {
        return Decision::Complete(Ok(()));
    }
    let has_error = storage.node_has_error(&t.loc);
    if t.adopted && !has_error {
        // The previous run's job ended without a result (cancelled by its
        // stop, or gone): run it again.
        return Decision::Resubmit;
    }
    let job = format!("{} (batch job {} on {})", t.who, t.job_id, t.system.name());
    let (failure, summary) = match state {
        Some(JobState::Ended(JobEnd::Cancelled)) => {
            (BatchJobFailure::Cancelled, format!("{job} was cancelled"))
        }
        Some(JobState::Ended(JobEnd::Timeout)) => (
            BatchJobFailure::OutOfTime,
            format!(
                "{job} ran out of time (walltime {}) and was stopped",
                t.walltime
            ),
        ),
        Some(JobState::Ended(JobEnd::OutOfMemory)) => (
            BatchJobFailure::OutOfMemory,
            format!("{job} ran out of memory and was stopped"),
        ),
        _ if has_error => {
            let message = storage
                .read_errors(&t.loc)
                .unwrap_or_else(|e| format!("{job} failed (its error text is unreadable: {e})"));
            // The job script marks `_error` for a worker that left no
            // marker, recording its exit status beside it.
            let status_file = storage
                .node_dir(&t.loc)
                .join(script::JOB_EXIT_STATUS_FILE);
            let kind = match storage.read(&status_file) {
                Ok(bytes) => match String::from_utf8_lossy(&bytes).trim().parse::<i32>() {
                    Ok(0) | Err(_) => FailureKind::ExitedWithoutMarkers,
                    Ok(status) => FailureKind::ExitedWithStatus(status),
                },
                Err(_) => FailureKind::WorkerReportedError,
            };
            return Decision::Complete(Err(TaskFailure::new(kind, message)));
        }
        _ if t.settling < 1 => {
            // Give a shared file system one more poll to show the markers.
            t.settling += 1;
            return Decision::Keep;
        }
        Some(JobState::Ended(JobEnd::Failed(how))) => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("{job} failed ({how}) without the worker marking done or error"),
        ),
        Some(_) => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("{job} ended without the worker marking done or error"),
        ),
        None => (
            BatchJobFailure::Lost,
            format!(
                "{job} is no longer known to the scheduler, and the worker did not mark done or error"
            ),
        ),
    };
    let mut message = summary;
    for (what, path) in [("output", &t.output_path), ("error", &t.error_path)] {
        let tail = tail_lines(path, JOB_FILE_TAIL_LINES);
        if !tail.is_empty() {
            message.push_str(&format!(
                "\nlast lines of the job's {what} ({}):\n",
                path.display()
            ));
            message.push_str(&tail);
        }
    }
    fail(t, &message);
    Decision::Complete(Err(TaskFailure::new(
        FailureKind::BatchJob(failure),
        message,
    )))
}

/// The last `n` lines of the file at `path` ("" when unreadable).
pub(crate) fn tail_lines(path: &Path, n: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut out = tierkreis_storage::log_tail::last_lines(&text, n).join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Records the task's failure in its node ([`record_task_failure`]).
fn fail(t: &Tracked, message: &str) {
    if let Err(e) = record_task_failure(t.storage.as_ref(), &t.loc, message) {
        tracing::error!(loc = %t.loc, error = %e, "cannot record a job's failure");
    }
}
