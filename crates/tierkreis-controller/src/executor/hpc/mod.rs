//! Tasks as batch jobs on a cluster (SLURM, PBS, PJSUB), the counterpart of
//! the reference's HPC executors, tracked so that a run survives its
//! controller.
//!
//! A task whose settings say `executor = "slurm" | "pbs" | "pjsub"` gets a
//! job script in its node folder (`<node>/job.sh`, see [`script`]) that runs
//! the worker command the local discovery would run, with the same
//! environment, in the checkpoint folder, and writes the node's markers the
//! way the local executors do. The script is submitted (`sbatch --parsable`,
//! `qsub`, `pjsub`) and the job id recorded in `debug/executors/<loc>`
//! (`ExecutorDebugData.job_id`, as the reference does).
//!
//! One poll thread asks the scheduler about every pending job with one
//! batched query per poll ([`BatchSystem::query`]) and reports a
//! [`TaskCompletion`] when a job has ended: `_done` means success; otherwise a
//! cancelled, timed-out or out-of-memory job, or a job that ended without the
//! worker marking done or error, fails its node with a message naming the job
//! and the last lines of its output and error files.
//!
//! Resuming: when a task is launched and `debug/executors/<loc>` holds a job
//! id of the same batch system, the job is adopted instead of submitted. If the
//! first query shows it queued or running, it is followed; if the scheduler no
//! longer knows it, or it ended without marking the node (e.g. cancelled when
//! the previous run was stopped), the script is submitted again.
//!
//! Stopping the run (Ctrl-C) cancels the pending jobs (`scancel`, `qdel`,
//! `pjdel`) unless `[hpc] cancel_on_stop = false`; a killed controller leaves
//! them running, and `tkr resume` follows them.
//!
//! The files: `one_job_per_task.rs` ([`HpcExecutor`], submitting and
//! adopting), `job_polling.rs` (the poll thread and what a job's end means
//! for its node), [`script`], [`job`] and [`batch_system`]. The executor
//! of a run with batch tasks, which picks local processes, worker jobs or
//! this one per task, is [`crate::executor::local_or_batch`].

pub mod batch_system;
pub mod job;
mod job_polling;
mod one_job_per_task;
pub mod script;

pub use super::config::batch::{ContainerConfig, HpcConfig, JobConfig, MpiConfig};
pub use batch_system::{BatchSystem, BatchSystemError, Commands, JobEnd, JobState};
pub use job::{JobCommand, JobSpec};
pub(crate) use job_polling::tail_lines;
pub use job_polling::JOB_FILE_TAIL_LINES;
pub use one_job_per_task::{HpcError, HpcExecutor, HpcOptions};

#[cfg(test)]
mod tests;
