//! When a worker job fails its tasks: a job lost while serving (cancelled,
//! preempted, out of memory or time) has its taken tasks recorded as failed
//! attempts naming the job and queued again for another job, at most
//! [`MAX_JOB_LOSSES`] times each; a task's failure that may be the job's own
//! end is held until the job's next status; jobs that never start serving
//! fail the pool's queue after [`MAX_FAILED_STARTS`] in a row; and the jobs
//! an earlier, killed controller of the workflow left are cancelled first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tierkreis_storage::{record_task_failure, ControllerStorage};

use super::driver::Driver;
use super::mailbox::{self, JobFolder, SubmittedRecord, TaskReport, WORKER_JOBS_DIR};
use super::pools::WorkerJob;
use super::worker_job_executor::Queued;
use crate::executor::config::batch::BatchSystem;
use crate::executor::contract::{BatchJobFailure, FailureKind, TaskCompletion, TaskFailure};
use crate::executor::hpc::{batch_system::job_key, tail_lines, JobEnd, JobState};

/// How many times one task is queued again after losing its worker job.
pub const MAX_JOB_LOSSES: u32 = 3;

/// Worker jobs in a row that end without serving before the pool's tasks
/// fail (a broken job script or `tkr` missing on the compute nodes).
const MAX_FAILED_STARTS: u32 = 3;

/// A task's failure held until the job's state says whose fault it was.
pub(super) struct HeldFailure {
    pub(super) seq: u64,
    pub(super) report: TaskReport,
    /// Status queries made since the report came.
    pub(super) queries_since: u32,
}

/// Why a job is gone while it still had tasks.
pub(super) struct JobGone {
    failure: BatchJobFailure,
    summary: String,
}

impl Driver {
    /// Before this controller hands out its first task: the worker jobs an
    /// earlier controller of this workflow left (it was killed; only one
    /// controller holds a workflow) are cancelled and waited for, so that a
    /// task of theirs still running never writes a node this run starts again.
    pub(super) fn cancel_earlier_controllers_jobs(&self, storage: &dyn ControllerStorage) {
        let jobs_dir = storage.workflow_dir().join(WORKER_JOBS_DIR);
        let mut by_system: HashMap<BatchSystem, Vec<String>> = HashMap::new();
        for e in std::fs::read_dir(&jobs_dir).into_iter().flatten().flatten() {
            let folder = JobFolder::new(e.path());
            if folder.ended_path().exists() {
                continue;
            }
            let Ok(record) = mailbox::read_record::<SubmittedRecord>(&folder.submitted_path())
            else {
                continue;
            };
            let system = match record.system.as_str() {
                "slurm" => BatchSystem::Slurm,
                "pbs" => BatchSystem::Pbs,
                "pjsub" => BatchSystem::Pjsub,
                _ => continue,
            };
            by_system.entry(system).or_default().push(record.job_id);
        }
        for (system, ids) in by_system {
            let active: Vec<String> = match system.query(&self.commands, &ids) {
                Ok(states) => ids
                    .into_iter()
                    .filter(|id| states.get(job_key(id)).is_some_and(JobState::is_active))
                    .collect(),
                Err(_) => ids,
            };
            if active.is_empty() {
                continue;
            }
            tracing::info!(jobs = ?active, "cancelling the worker jobs of an earlier controller");
            let _ = storage.append_workflow_log(&format!(
                "tkr: cancelling worker job(s) {} left by an earlier controller of this workflow",
                active.join(", ")
            ));
            if let Err(e) = system.cancel(&self.commands, &active) {
                tracing::warn!(error = %e, "cannot cancel an earlier controller's worker jobs");
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let still = system.query(&self.commands, &active).is_ok_and(|states| {
                    active.iter().any(|id| {
                        states
                            .get(job_key(id))
                            .is_some_and(|s| *s == JobState::Running)
                    })
                });
                if !still {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// No job can be submitted: the queued tasks fail with `message`, unless
    /// a job of the pool still runs (it will take them).
    pub(super) fn fail_queue(&mut self, index: usize, message: &str) {
        let pool = &mut self.pools[index];
        if !pool.jobs.is_empty() {
            tracing::warn!(%message, "cannot submit another worker job");
            return;
        }
        for q in pool.queue.drain(..) {
            fail_node(&q, message);
            q.events.complete(TaskCompletion {
                loc: q.task.loc.clone(),
                result: Err(TaskFailure::new(FailureKind::CouldNotLaunch, message)),
            });
        }
    }

    /// A job has ended: what it reported is in; its other tasks go back to
    /// the queue (not taken), or are recorded as a failed attempt and queued
    /// again (taken, so maybe half done), or fail when lost too often.
    pub(super) fn job_ended(&mut self, index: usize, mut job: WorkerJob, why: Option<JobGone>) {
        let pool = &mut self.pools[index];
        let never_served = !job.folder.started_path().exists();
        if never_served {
            pool.failed_starts += 1;
        } else {
            pool.failed_starts = 0;
        }
        // Held failures came with the job's end: not the tasks' fault.
        job.held.clear();
        let orphans = std::mem::take(&mut job.assigned);
        let Some(why) = why else {
            for q in orphans.into_values().rev() {
                pool.queue.push_front(q);
            }
            if never_served && pool.failed_starts >= MAX_FAILED_STARTS {
                let message = format!(
                    "{} worker jobs of worker {:?} in a row ended without starting to serve; the last, {} ({}), wrote:\n{}",
                    pool.failed_starts,
                    pool.worker,
                    job.job_id,
                    job.folder.dir().display(),
                    job_output_tail(&job.folder)
                );
                self.fail_queue(index, &message);
            }
            return;
        };
        let storage = pool.storage.clone();
        let mut requeue: Vec<Queued> = Vec::new();
        for (seq, mut q) in orphans {
            let order = job.folder.order_path(seq);
            if order.exists() {
                // Never taken: it goes back as it was.
                let _ = std::fs::remove_file(&order);
                requeue.push(q);
                continue;
            }
            if storage.is_node_finished(&q.task.loc) {
                q.events.complete(TaskCompletion {
                    loc: q.task.loc.clone(),
                    result: Ok(()),
                });
                continue;
            }
            let message = format!(
                "worker {:?} (at {}) was lost with its worker job {} ({}): {}",
                q.task.worker,
                q.task.loc,
                job.job_id,
                pool.route.system.name(),
                why.summary
            );
            fail_node(&q, &message);
            q.job_losses += 1;
            if q.job_losses > MAX_JOB_LOSSES {
                q.events.complete(TaskCompletion {
                    loc: q.task.loc.clone(),
                    result: Err(TaskFailure::new(
                        FailureKind::BatchJob(why.failure),
                        message,
                    )),
                });
                continue;
            }
            match crate::retry::archive_attempt(storage.as_ref(), &q.task.loc, &message) {
                Ok(k) => {
                    let _ = storage.append_workflow_log(&format!(
                        "task {} attempt {k} lost with worker job {}; running it again on another job",
                        q.task.loc, job.job_id
                    ));
                    requeue.push(q);
                }
                Err(e) => {
                    q.events.complete(TaskCompletion {
                        loc: q.task.loc.clone(),
                        result: Err(TaskFailure::new(
                            FailureKind::ControllerStorage,
                            format!("cannot record the lost attempt of {}: {e}", q.task.loc),
                        )),
                    });
                }
            }
        }
        tracing::warn!(job = %job.job_id, summary = %why.summary, requeued = requeue.len(), "worker job lost");
        let _ = storage.append_workflow_log(&format!(
            "tkr: worker job {} of worker {:?} is gone ({}); {} task(s) queued again",
            job.job_id,
            pool.worker,
            why.summary,
            requeue.len()
        ));
        for q in requeue.into_iter().rev() {
            pool.queue.push_front(q);
        }
    }
}

/// A failure that the job's own end could have caused (its processes are
/// signalled or exit when it is cancelled or preempted).
pub(super) fn may_be_the_jobs_end(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::KilledBySignal(_)
            | FailureKind::ExitedWithStatus(_)
            | FailureKind::ExitedWithoutMarkers
            | FailureKind::CouldNotLaunch
    )
}

/// Completes the held failures of a job seen running after they came: they
/// were the tasks' own.
pub(super) fn release_held(
    job: &mut WorkerJob,
    completions: &mut Vec<(Queued, Result<(), TaskFailure>)>,
) {
    let held = std::mem::take(&mut job.held);
    for h in held {
        if h.queries_since < 1 {
            job.held.push(h);
            continue;
        }
        if let (Some(q), Some(f)) = (job.assigned.remove(&h.seq), h.report.failure) {
            completions.push((q, Err(TaskFailure::new(f.kind, f.message))));
        }
    }
}

/// The last lines of a job's output and error files.
fn job_output_tail(folder: &JobFolder) -> String {
    let mut out = String::new();
    for name in ["job.out", "job.err"] {
        let path = folder.dir().join(name);
        let tail = tail_lines(&path, 10);
        if !tail.is_empty() {
            out.push_str(&format!("{}:\n{tail}", path.display()));
        }
    }
    out
}

/// Whether a job the scheduler no longer runs took tasks of ours with it.
pub(super) fn job_gone(job: &mut WorkerJob, state: Option<JobState>) -> Option<JobGone> {
    let ended_by_itself = job.folder.ended_path().exists();
    if job.assigned.is_empty() && job.held.is_empty() {
        return None;
    }
    let id = &job.job_id;
    let (failure, summary) = match state {
        Some(JobState::Ended(JobEnd::Cancelled)) => (
            BatchJobFailure::Cancelled,
            format!("job {id} was cancelled"),
        ),
        Some(JobState::Ended(JobEnd::Timeout)) => (
            BatchJobFailure::OutOfTime,
            format!("job {id} reached its walltime"),
        ),
        Some(JobState::Ended(JobEnd::OutOfMemory)) => (
            BatchJobFailure::OutOfMemory,
            format!("job {id} ran out of memory"),
        ),
        Some(JobState::Ended(JobEnd::Failed(how))) => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("job {id} failed ({how})"),
        ),
        Some(_) if ended_by_itself => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("job {id} ended by itself"),
        ),
        Some(_) => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("job {id} ended"),
        ),
        None => (
            BatchJobFailure::Lost,
            format!("job {id} is no longer known to the scheduler"),
        ),
    };
    Some(JobGone { failure, summary })
}

/// Records the task's failure in its node ([`record_task_failure`]).
fn fail_node(q: &Queued, message: &str) {
    if let Err(e) = record_task_failure(q.storage.as_ref(), &q.task.loc, message) {
        tracing::error!(loc = %q.task.loc, error = %e, "cannot record a task's failure");
    }
}
