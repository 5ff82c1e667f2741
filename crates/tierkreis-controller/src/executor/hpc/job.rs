//! Batch job specifications: what `tkr.toml` may say about a job
//! (`[workers.W.job]`, `[routes.job]`, every field optional) and the resolved
//! specification a job script is generated from (defaults filled in, like the
//! reference's `JobSpec`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
}

/// The worker command a job runs, in the checkpoint folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCommand {
    /// The checkpoint folder (`TKR_DIR`); the job starts there.
    pub tkr_dir: PathBuf,
    /// The worker's own folder, if it runs in one.
    pub cwd: Option<PathBuf>,
    /// The worker's environment (the local executors' variables).
    pub env: BTreeMap<String, String>,
    /// The command line, already quoted for the shell.
    pub command: String,
    /// Where the worker's stdout goes instead of the node log (kind `stdio`).
    pub stdout: Option<PathBuf>,
    /// Where the worker's stdin comes from (kind `stdio`).
    pub stdin: Option<PathBuf>,
    /// The node's log file, which receives the worker's output and errors.
    pub node_logs: PathBuf,
    /// The node's `_done` marker.
    pub done: PathBuf,
    /// The node's `_error` marker.
    pub error: PathBuf,
    /// Touched with `_done` so watchers see progress.
    pub parent_metadata: PathBuf,
    /// Whether exit status 0 marks the task done (kinds `shell` and `stdio`).
    pub done_on_success: bool,
    /// Names the task in messages: `worker "w" (binary at -.N3)`.
    pub who: String,
}

/// A resolved job specification: everything a job script needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub job_name: String,
    pub walltime: String,
    pub nodes: u32,
    pub cores_per_node: Option<u32>,
    pub memory_gb: Option<u32>,
    pub gpus_per_node: Option<u32>,
    pub gres: Vec<String>,
    pub queue: Option<String>,
    pub account: Option<String>,
    pub mail: Option<String>,
    pub mpi: Option<MpiConfig>,
    pub modules: Vec<String>,
    pub setup: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub container: Option<ContainerConfig>,
    pub extra_scheduler_args: BTreeMap<String, String>,
    pub output_path: PathBuf,
    pub error_path: PathBuf,
    pub no_check_directory: bool,
    pub command: JobCommand,
}

/// The default walltime, as the reference's.
pub const DEFAULT_WALLTIME: &str = "01:00:00";

impl JobSpec {
    /// Fills in the defaults: the name from the task, the walltime from the
    /// task timeout, the output files in the node folder `node_dir`.
    pub fn resolve(
        config: Option<JobConfig>,
        task: &str,
        timeout: Option<Duration>,
        node_dir: &std::path::Path,
        command: JobCommand,
    ) -> Self {
        let c = config.unwrap_or_default();
        let job_name = c.job_name.unwrap_or_else(|| {
            let name: String = format!("tkr-{task}")
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || "-_.".contains(ch) {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect();
            name
        });
        let walltime = c
            .walltime
            .or_else(|| timeout.map(walltime_of))
            .unwrap_or_else(|| DEFAULT_WALLTIME.to_string());
        JobSpec {
            job_name,
            walltime,
            nodes: c.nodes.unwrap_or(1),
            cores_per_node: Some(c.cores_per_node.unwrap_or(1)),
            memory_gb: c.memory_gb,
            gpus_per_node: c.gpus_per_node,
            gres: c.gres.unwrap_or_default(),
            queue: c.queue,
            account: c.account,
            mail: c.mail,
            mpi: c.mpi,
            modules: c.modules.unwrap_or_default(),
            setup: c.setup.unwrap_or_default(),
            environment: c.environment,
            container: c.container,
            extra_scheduler_args: c.extra_scheduler_args,
            output_path: c.output_path.unwrap_or_else(|| node_dir.join("job.out")),
            error_path: c.error_path.unwrap_or_else(|| node_dir.join("job.err")),
            no_check_directory: c.no_check_directory.unwrap_or(false),
            command,
        }
    }
}

/// `d` as `HH:MM:SS`, rounded up to whole seconds (at least one).
pub fn walltime_of(d: Duration) -> String {
    let mut secs = d.as_secs();
    if d.subsec_nanos() > 0 || secs == 0 {
        secs += 1;
    }
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn walltime_rounds_up() {
        assert_eq!(walltime_of(Duration::from_secs(3600)), "01:00:00");
        assert_eq!(walltime_of(Duration::from_millis(61_500)), "00:01:02");
        assert_eq!(walltime_of(Duration::ZERO), "00:00:01");
        assert_eq!(walltime_of(Duration::from_secs(100 * 3600)), "100:00:00");
    }

    #[test]
    fn merge_is_field_by_field_and_maps_merge() {
        let base: JobConfig = toml::from_str(
            "queue = \"a\"\nnodes = 2\nenvironment = { X = \"1\", Y = \"2\" }\n\
             extra_scheduler_args = { \"--qos\" = \"low\" }",
        )
        .unwrap();
        let over: JobConfig =
            toml::from_str("nodes = 4\nenvironment = { Y = \"3\" }\nmodules = [\"gcc\"]").unwrap();
        let m = JobConfig::merge(Some(base.clone()), Some(over.clone())).unwrap();
        assert_eq!(m.queue.as_deref(), Some("a"));
        assert_eq!(m.nodes, Some(4));
        assert_eq!(m.environment["X"], "1");
        assert_eq!(m.environment["Y"], "3");
        assert_eq!(m.extra_scheduler_args["--qos"], "low");
        assert_eq!(m.modules, Some(vec!["gcc".to_string()]));
        assert_eq!(JobConfig::merge(None, Some(over.clone())), Some(over));
        assert_eq!(JobConfig::merge(Some(base.clone()), None), Some(base));
        assert!(toml::from_str::<JobConfig>("bogus = 1").is_err());
    }
}
