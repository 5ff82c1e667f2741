//! Resolved batch job specifications: the specification a job script is
//! generated from (the configuration's [`JobConfig`] with defaults filled
//! in, like the reference's `JobSpec`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::executor::config::batch::{ContainerConfig, JobConfig, MpiConfig};

/// The worker command a job runs, in the checkpoint folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCommand {
    /// The checkpoint folder (`TKR_DIR`); the job starts there.
    pub tkr_dir: PathBuf,
    /// The worker's own folder, if it runs in one.
    pub cwd: Option<PathBuf>,
    /// The worker's environment (the local executors' variables).
    pub env: BTreeMap<String, String>,
    /// The command line, already quoted for the shell (bytes: its paths
    /// need not be UTF-8).
    pub command: Vec<u8>,
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
