//! Worker jobs: warm worker processes inside batch jobs, so that tasks routed
//! to SLURM, PBS or PJSUB run as fast as warm tasks on a laptop instead of
//! paying a job's queue and the worker's import each.
//!
//! A task routed to a batch system whose worker can run warm (a Python
//! `Worker`, a Rust SDK binary: the same test as for local warm workers) is
//! queued for its **pool**: the tasks of one worker with the same resolved
//! command and job settings. A pool submits **worker jobs** (`job.sh` runs
//! `tkr worker-job DIR`, see [`serve`]), each holding one warm process per
//! core of its job (`[workers.W.job] cores_per_node`, default 1), and hands
//! them tasks through files in the job's folder ([`mailbox`]): the shared
//! file system is the one channel a compute node always has. The worker
//! protocol's files do not change: the warm process reads the task's call
//! args and writes its outputs and markers, so the reference can resume a
//! run that `tkr` started.
//!
//! - **Scaling** ([`scaling`]): a worker with queued tasks and no job gets
//!   one; more while the queue would wait longer than a job takes to start,
//!   up to `max_worker_jobs`; a job idle for `worker_idle_secs` is asked to
//!   end. All are ended when the run ends or stops (`scancel`/`qdel`/`pjdel`).
//! - **Heartbeat** (`heartbeat.rs`): the controller touches
//!   `tkr-worker-jobs/controller-<session>.alive` every second; a job that
//!   sees it older than `worker_idle_secs` ends itself, so a SIGKILLed
//!   controller leaves no allocation burning.
//! - **Faults** (`faults.rs`): one batched status query per
//!   `[hpc] poll_secs`. A job that ends while serving (cancelled,
//!   preempted, out of memory or time) has its running tasks recorded as
//!   failed attempts naming the job (`<node>/attempts/<k>`, as retries do)
//!   and queued again for another job, at most [`MAX_JOB_LOSSES`] times
//!   each; tasks it had not taken go back to the queue as they were. A
//!   task's failure that may be the job's end (a signal, an exit) is held
//!   until the next status query says whether the job still runs.
//!
//! A task that cannot be served this way (`warm = false`, `--no-warm`, MPI
//! or a container in its job settings, a worker that cannot run warm) runs
//! as one batch job per task ([`super::hpc`]).
//!
//! The files: `worker_job_executor.rs` (the settings, a task's route and
//! the handle the router holds), `driver.rs` (the thread and its rounds),
//! `pools.rs` (queues, handing out tasks, submitting and ending jobs),
//! `faults.rs`, `heartbeat.rs`, [`scaling`], [`mailbox`] (the files between
//! controller and job) and [`serve`] (the inside of a job).

mod driver;
mod faults;
mod heartbeat;
pub mod mailbox;
mod pools;
pub mod scaling;
pub mod serve;
mod worker_job_executor;

pub use faults::MAX_JOB_LOSSES;
pub use worker_job_executor::{
    find_tkr_program, WorkerJobExecutor, WorkerJobOptions, WorkerJobRoute,
};
