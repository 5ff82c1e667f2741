//! Executors: where the tasks the scheduler decides on actually run.
//!
//! - [`BuiltinExecutor`] (`builtin_executor`): runs the reference's `builtins`
//!   worker in-process, with the task bodies of [`crate::builtins`].
//! - [`ProcessExecutor`]: external workers as processes (kinds `shell`, `uv`,
//!   `python`, `binary`, `stdio`), found by [`Discovery`], with a concurrency
//!   limit, timeouts, log capture and stopping.
//!   Workers that support it run warm: one process serves many calls
//!   ([`warm`]).
//! - [`InProcessExecutor`] (`inprocess`): Rust closures registered per worker
//!   name (embedding, tests).
//! - [`HpcExecutor`]: tasks as SLURM, PBS or PJSUB batch jobs ([`hpc`]);
//!   [`LocalOrBatchExecutor`] picks it or the processes per task.
//! - [`RouterExecutor`]: routes tasks by worker name or by glob on
//!   `worker.function`; [`DefaultExecutor`] is builtins plus, optionally,
//!   worker processes and batch jobs.
//!
//! # Finding a worker
//!
//! For a task `W.f`, the first of these that exists is used:
//!
//! 1. a `command` configured for the task (first matching `[[routes]]`
//!    entry, else `[workers.W]`);
//! 2. in each registry folder (`--registry DIR` in order, then the
//!    configuration's `registries`): `W/main.sh` (kind `shell`, run with
//!    `bash`), `W/main.py` (kind `uv` — `uv run main.py` — when
//!    `W/pyproject.toml` exists and `uv` is on `PATH`, else kind `python`
//!    with the configured interpreter, default `python3`; both run in `W/`),
//!    an executable `W/main` or `W/W` (kind `binary`);
//! 3. an executable on `PATH` named, in the reference's order, `W`, then
//!    `tkr-W` with every `_` written as `-`, then `tkr_W` with every `-`
//!    written as `_` (kind `binary`).
//!
//! A configured `kind` restricts the search to what fits that kind (`stdio`
//! accepts `main.sh`, executables in the registry and on `PATH`). When
//! nothing fits, the error lists every place searched.
//!
//! # How each kind runs
//!
//! Every process starts in a process group of its own, with the
//! controller's environment plus the reference shell executor's variables
//! (absolute paths): `checkpoints_directory`, `function_name`, `done_path`,
//! `error_path`, `output_dir`, `logs_path`, `output_<port>_file`,
//! `input_<port>_file`, `worker_call_args_file`, and `TKR_DIR` (the
//! checkpoint folder), then the configured `env`. Except for `stdio`, the
//! last argument is the call-args path relative to `TKR_DIR`, as the
//! reference's worker CLI expects. `stdio` gets the first input file on
//! stdin and its stdout becomes the first output.
//!
//! stdout and stderr are appended to the node's `logs` and to the
//! workflow's `logs` (lines prefixed with `[<loc>]`). When the process
//! ends, only that node's markers are read: `_done` means success; `_error`
//! (written by the worker) means failure with the text in `logs`. `shell`
//! and `stdio` tasks that exit with 0 are marked done by the executor, like
//! the reference; other kinds must mark done themselves. Any other end
//! (non-zero status, a signal, exit 0 without markers, a timeout) appends a
//! message with the status or signal and the last lines of stderr to the
//! node's `logs` and creates `_error`. `debug/executors/<loc>` records the
//! kind, the command line and the added environment.
//!
//! Stopping (Ctrl-C, `--task-timeout`) sends SIGTERM to the task's group,
//! waits the grace period, then sends SIGKILL. A stopped run marks nothing
//! failed, so `tkr resume` runs the stopped tasks again. A task over its
//! `memory_limit` (its group's resident memory) is killed and fails. When
//! the controller dies, its guardian kills every task's group
//! ([`guardian`]); a resume first ends a task of the dead controller still
//! running the node it is about to start ([`leftover_processes`]).
//!
//! # Configuration file
//!
//! `tkr` reads `tkr.toml` in the current folder, or the file given with
//! `--config`. Every key is optional; unknown keys are errors.
//!
//! ```toml
//! # Registry folders, searched after --registry ones; relative to this file.
//! registries = ["workers", "/opt/tierkreis/workers"]
//! python = "python3"    # interpreter for kind "python"
//! jobs = 4              # processes at once (default: number of cores; --jobs)
//! timeout_secs = 3600   # default per-task timeout (--task-timeout wins over it)
//! grace_secs = 5        # SIGTERM .. SIGKILL delay when stopping a task
//!
//! [workers.my_worker]   # settings for every task of worker `my_worker`
//! kind = "uv"           # "shell" | "uv" | "python" | "binary" | "stdio"
//! python = "python3.12"
//! timeout_secs = 60     # wins over --task-timeout
//! env = { OMP_NUM_THREADS = "1" }
//! warm = true           # one process serves many calls where possible (default; --no-warm)
//! max_calls = 500       # a fresh warm process after this many calls
//! memory_limit = "2GiB" # past this resident memory: the call fails, its process ends
//!
//! [workers.tool]
//! command = ["/opt/tool/bin/tool", "--quiet"]  # no discovery; kind defaults to "binary"
//!
//! [[routes]]            # by glob on `worker.function`; the first match wins
//! task = "my_worker.slow_*"
//! timeout_secs = 7200   # fields as in [workers.NAME], overriding them
//! ```
//!
//! # Batch jobs
//!
//! `executor = "slurm" | "pbs" | "pjsub"` in `[workers.NAME]` or a
//! `[[routes]]` entry runs those tasks as batch jobs (default `"local"`);
//! the job is described by `[workers.NAME.job]` / `[routes.job]` (merged
//! field by field, the route winning). The job runs the command discovery
//! finds, with the same environment; see [`hpc`] for tracking and resuming.
//!
//! ```toml
//! [hpc]
//! poll_secs = 5             # one batched status query per poll
//! cancel_on_stop = true     # scancel/qdel/pjdel the run's jobs on Ctrl-C
//!
//! [workers.sim]
//! executor = "slurm"
//!
//! [workers.sim.job]
//! job_name = "sim"          # default tkr-<worker>.<function>
//! walltime = "02:00:00"     # default: timeout_secs, else 01:00:00
//! nodes = 1
//! cores_per_node = 8        # default 1
//! memory_gb = 16            # default: the scheduler's
//! gpus_per_node = 1
//! gres = ["tmp:10G"]        # SLURM only
//! queue = "compute"         # partition / queue / resource group
//! account = "proj42"
//! mail = "me@example.org"
//! mpi = { proc = 16, max_proc_per_node = 8, launcher = "srun" }
//! modules = ["gcc/12"]
//! setup = ["source ~/venv/bin/activate"]
//! environment = { OMP_NUM_THREADS = "8" }
//! container = { image = "/img/sim.sif", engine = "apptainer" }
//! extra_scheduler_args = { "--qos" = "high", "--exclusive" = "" }
//! output_path = "/scratch/sim.out"   # default <node>/job.out
//! error_path = "/scratch/sim.err"    # default <node>/job.err
//!
//! [[routes]]
//! task = "sim.big_*"
//! executor = "slurm"
//! [routes.job]
//! nodes = 4
//! ```

mod builtin_executor;
pub mod config;
pub mod contract;
mod default_executor;
pub mod discovery;
mod guardian;
pub mod hpc;
pub mod inprocess;
mod leftover_processes;
pub mod local_or_batch;
pub mod process;
pub mod router;
pub mod warm;
pub mod worker_jobs;
pub(crate) mod worker_process;

pub use crate::builtins::BUILTINS_WORKER;
pub use builtin_executor::BuiltinExecutor;
pub use config::{
    ConfigError, ExecutorConfig, ExecutorKind, WorkerConfig, WorkerKind, DEFAULT_CONFIG_FILE,
};
pub use default_executor::DefaultExecutor;
pub use discovery::{Discovery, DiscoveryError, LaunchPlan, WarmSettings};
pub use hpc::{HpcExecutor, HpcOptions};
pub use inprocess::{InProcessExecutor, WorkerFn};
pub use local_or_batch::LocalOrBatchExecutor;
pub use process::{ProcessExecutor, ProcessOptions};
pub use router::{Route, RouterExecutor};

/// Graphs and runs shared by the executors' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use indexmap::IndexMap;
    use tierkreis_core::{GraphData, Loc};
    use tierkreis_storage::ControllerStorage;

    use crate::executor::contract::Executor;
    use crate::runtime::{self, RunError};
    use crate::scheduler::Outcome;

    /// `task(x = value)` returned as `value`.
    pub fn one_task_graph(task: &str, value: &str) -> GraphData {
        let json = tierkreis_test_support::graphs::one_task_graph(task, value);
        GraphData::from_json(json.as_bytes()).expect("test graph")
    }

    /// Starts and runs `graph`; returns the outcome and, if finished, the output `value`.
    pub fn run(
        storage: Arc<dyn ControllerStorage>,
        graph: &GraphData,
        executor: &mut dyn Executor,
    ) -> Result<(Outcome, Option<Vec<u8>>), RunError> {
        runtime::start_workflow(storage.as_ref(), graph, &IndexMap::new())?;
        let outcome = runtime::run(storage.clone(), false, executor, &mut |_| {})?;
        let value = storage.read_output(&Loc::root(), "value").ok();
        Ok((outcome, value))
    }
}
