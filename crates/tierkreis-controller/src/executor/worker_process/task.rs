//! A task bound for a worker process (one-shot or warm), and the record of
//! how it runs (`debug/executors/<loc>`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, ExecutorDebugData};

use super::command::{Spec, WarmKey};
use crate::executor::config::WorkerKind;
use crate::executor::contract::TaskEventSender;

/// The worker job an executor runs in, as its tasks' `debug/executors/<loc>`
/// records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedInWorkerJob {
    /// The batch system's name (`slurm`, `pbs`, `pjsub`).
    pub system: String,
    /// The batch job's id, when the job knows it.
    pub job_id: Option<String>,
    /// The compute node.
    pub host: String,
}

/// A task ready to spawn.
pub(crate) struct Job {
    pub(crate) loc: Loc,
    pub(crate) worker: String,
    pub(crate) kind: WorkerKind,
    pub(crate) spec: Spec,
    pub(crate) timeout: Option<Duration>,
    /// The configured `memory_limit` in bytes: the task's processes are
    /// stopped, and the task fails, once their resident memory passes it.
    pub(crate) memory_limit: Option<u64>,
    /// The output ports the call args declare; all must exist once `_done` does.
    pub(crate) outputs: Vec<String>,
    /// The call-args path as the worker gets it (relative to `TKR_DIR`).
    pub(crate) call_args_path: PathBuf,
    /// The warm process command that may serve this task, if any.
    pub(crate) warm: Option<Arc<WarmKey>>,
    pub(crate) storage: Arc<dyn ControllerStorage>,
    pub(crate) events: TaskEventSender,
    /// The worker job this task runs in, if any.
    pub(crate) served_in: Option<Arc<ServedInWorkerJob>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("loc", &self.loc)
            .field("worker", &self.worker)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Records how `job` runs (`debug/executors/<loc>`): one-shot, or warm with
/// the warm process's command.
pub(crate) fn write_debug_data(job: &Job) -> Result<(), tierkreis_storage::StorageError> {
    let mut data = match &job.warm {
        Some(key) => ExecutorDebugData {
            executor: format!("tierkreis-rs:{}", key.executor_name),
            launch_command: format!(
                "{} (warm: one process serves many calls)",
                key.spec.command_line()
            ),
            job_id: None,
            env: key.spec.env.clone(),
            packages: Vec::new(),
        },
        None => ExecutorDebugData {
            executor: format!("tierkreis-rs:{}", job.kind.name()),
            launch_command: job.spec.command_line(),
            job_id: None,
            env: job.spec.env.clone(),
            packages: Vec::new(),
        },
    };
    if let Some(served_in) = &job.served_in {
        let name = data
            .executor
            .trim_start_matches("tierkreis-rs:")
            .to_string();
        data.executor = format!("tierkreis-rs:{}-worker-job:{name}", served_in.system);
        data.job_id = served_in.job_id.clone();
        data.launch_command = format!(
            "{} in worker job {} on {}",
            data.launch_command,
            served_in.job_id.as_deref().unwrap_or("(no id)"),
            served_in.host
        );
    }
    job.storage.write_executor_data(&job.loc, &data)
}
