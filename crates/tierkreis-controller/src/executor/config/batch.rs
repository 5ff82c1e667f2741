//! The batch-job part of the executor configuration (`tkr.toml`): which
//! batch system, the job settings (`[workers.W.job]`, `[routes.job]`, every
//! field optional) and `[hpc]`. Plain data: `config` and `hpc` import it,
//! it imports neither.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// A batch system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchSystem {
    Slurm,
    Pbs,
    Pjsub,
}

impl BatchSystem {
    /// The configuration's name of the system.
    pub fn name(self) -> &'static str {
        match self {
            BatchSystem::Slurm => "slurm",
            BatchSystem::Pbs => "pbs",
            BatchSystem::Pjsub => "pjsub",
        }
    }
}

/// MPI settings (the reference's `MpiSpec`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MpiConfig {
    /// Number of MPI processes (ranks).
    pub proc: Option<u32>,
    /// MPI processes per node (default 1, as the reference).
    pub max_proc_per_node: Option<u32>,
    /// The launcher put before the worker command (default `mpiexec`).
    pub launcher: Option<String>,
}

/// A container to run the worker in (the reference's `ContainerSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    /// The image (a path or URL the engine understands).
    pub image: String,
    /// The engine, e.g. `apptainer`, `singularity`, `enroot`.
    pub engine: String,
    /// An explicit container name (PBS `container_name`).
    pub name: Option<String>,
    /// Extra engine arguments: PBS resources `-l KEY=VALUE`; elsewhere
    /// `--KEY VALUE` options of `ENGINE exec` (an empty value is a flag).
    #[serde(default)]
    pub extra_args: BTreeMap<String, String>,
    /// A file of variable definitions for the container.
    pub env_file: Option<String>,
}

/// `[workers.W.job]` / `[routes.job]`: a batch job's settings; unset fields
/// fall back to the less specific level, then to the defaults of [`JobSpec`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// The job's name (default `tkr-<worker>.<function>`).
    pub job_name: Option<String>,
    /// Maximum run time, `HH:MM:SS` (default: the task timeout, else `01:00:00`).
    pub walltime: Option<String>,
    /// Compute nodes (default 1).
    pub nodes: Option<u32>,
    /// Cores per node (default 1).
    pub cores_per_node: Option<u32>,
    /// Memory per node in GB (default: the scheduler's).
    pub memory_gb: Option<u32>,
    /// GPUs per node (default: none asked for).
    pub gpus_per_node: Option<u32>,
    /// Generic resources (SLURM `--gres`).
    pub gres: Option<Vec<String>>,
    /// Queue or partition.
    pub queue: Option<String>,
    /// Account or group charged.
    pub account: Option<String>,
    /// Mail address told when the job ends.
    pub mail: Option<String>,
    pub mpi: Option<MpiConfig>,
    /// Environment modules loaded before the worker (`module load`).
    pub modules: Option<Vec<String>>,
    /// Shell lines run before the worker (e.g. activating an environment).
    pub setup: Option<Vec<String>>,
    /// Variables exported in the job (on top of the worker's).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    pub container: Option<ContainerConfig>,
    /// Scheduler options without a field here: `"--qos" = "low"` becomes
    /// `#SBATCH --qos low`; an empty value is a flag (`"--exclusive" = ""`).
    #[serde(default)]
    pub extra_scheduler_args: BTreeMap<String, String>,
    /// The job's stdout file (default `<node>/job.out`).
    pub output_path: Option<PathBuf>,
    /// The job's stderr file (default `<node>/job.err`).
    pub error_path: Option<PathBuf>,
    /// Submit with `--no-check-directory` (PJSUB).
    pub no_check_directory: Option<bool>,
}

impl JobConfig {
    /// `over`'s fields win over `base`'s; maps are merged, `over`'s entries winning.
    pub fn merge(base: Option<JobConfig>, over: Option<JobConfig>) -> Option<JobConfig> {
        let (base, over) = match (base, over) {
            (None, o) => return o,
            (b, None) => return b,
            (Some(b), Some(o)) => (b, o),
        };
        let mut environment = base.environment;
        environment.extend(over.environment);
        let mut extra_scheduler_args = base.extra_scheduler_args;
        extra_scheduler_args.extend(over.extra_scheduler_args);
        Some(JobConfig {
            job_name: over.job_name.or(base.job_name),
            walltime: over.walltime.or(base.walltime),
            nodes: over.nodes.or(base.nodes),
            cores_per_node: over.cores_per_node.or(base.cores_per_node),
            memory_gb: over.memory_gb.or(base.memory_gb),
            gpus_per_node: over.gpus_per_node.or(base.gpus_per_node),
            gres: over.gres.or(base.gres),
            queue: over.queue.or(base.queue),
            account: over.account.or(base.account),
            mail: over.mail.or(base.mail),
            mpi: over.mpi.or(base.mpi),
            modules: over.modules.or(base.modules),
            setup: over.setup.or(base.setup),
            environment,
            container: over.container.or(base.container),
            extra_scheduler_args,
            output_path: over.output_path.or(base.output_path),
            error_path: over.error_path.or(base.error_path),
            no_check_directory: over.no_check_directory.or(base.no_check_directory),
        })
    }
}

/// `[hpc]`: settings shared by the batch-job executors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpcConfig {
    /// Seconds between two status queries (default 5).
    pub poll_secs: Option<f64>,
    /// Cancel the run's jobs when it is stopped, e.g. by Ctrl-C (default true).
    pub cancel_on_stop: Option<bool>,
    /// Worker jobs per worker at most, for workers without their own
    /// `max_worker_jobs` (default 4).
    pub max_worker_jobs: Option<u32>,
    /// Seconds an idle worker job is kept, and a worker job waits for a
    /// silent controller before it ends itself (default 60).
    pub worker_idle_secs: Option<f64>,
}
