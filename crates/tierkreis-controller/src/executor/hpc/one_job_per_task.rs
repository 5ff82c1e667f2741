//! One batch job per task: [`HpcExecutor`] writes a task's job script,
//! submits it (or adopts the job a previous run submitted) and hands it to
//! the poll thread (`job_polling.rs`); stopping cancels the jobs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, ExecutorDebugData};

use super::batch_system::{BatchSystem, BatchSystemError, Commands};
use super::job::{JobCommand, JobSpec};
use super::job_polling::{Polling, Shared, Tracked};
use super::script;
use crate::executor::config::batch::HpcConfig;
use crate::executor::config::{ExecutorKind, WorkerKind};
use crate::executor::contract::{Executor, LaunchError, TaskEventSender};
use crate::executor::discovery::Discovery;
use crate::executor::worker_process::build_spec;
use crate::scheduler::ReadyTask;

/// Options of the batch-job executor.
#[derive(Debug, Clone, PartialEq)]
pub struct HpcOptions {
    /// Time between two status queries.
    pub poll: Duration,
    /// Cancel pending jobs when the run is stopped.
    pub cancel_on_stop: bool,
    /// `PATH` for the scheduler commands; `None` keeps the process's.
    pub path: Option<std::ffi::OsString>,
}

impl Default for HpcOptions {
    /// Polls every 5 seconds, cancels on stop.
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(5),
            cancel_on_stop: true,
            path: None,
        }
    }
}

impl HpcOptions {
    /// The options `[hpc]` sets.
    pub fn from_config(c: &HpcConfig) -> Self {
        let d = Self::default();
        Self {
            poll: c.poll_secs.map_or(d.poll, Duration::from_secs_f64),
            cancel_on_stop: c.cancel_on_stop.unwrap_or(d.cancel_on_stop),
            path: None,
        }
    }
}

/// Runs tasks as batch jobs (see the module documentation).
#[derive(Debug)]
pub struct HpcExecutor {
    discovery: Discovery,
    shared: Arc<Shared>,
    poller: Option<JoinHandle<()>>,
}

/// Why a task could not become a job.
#[derive(Debug, thiserror::Error)]
pub enum HpcError {
    #[error("task {task:?} is configured to run locally, not as a batch job")]
    NotBatch { task: String },
    #[error(transparent)]
    Discovery(#[from] crate::executor::discovery::DiscoveryError),
    #[error(
        "batch jobs need checkpoints on disk, and the workflow folder {} is not one (in-memory storage?)",
        .0.display()
    )]
    NotOnDisk(PathBuf),
    #[error("cannot make {} absolute", .path.display())]
    Absolute {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint storage failed at {loc}")]
    Storage {
        loc: Loc,
        #[source]
        source: Box<tierkreis_storage::StorageError>,
    },
    #[error("the job script of the task at {loc} cannot be written")]
    Unquotable {
        loc: Loc,
        #[source]
        source: script::UnquotableWord,
    },
    #[error("the task at {loc} cannot run as a stdio worker: {message}")]
    Stdio { loc: Loc, message: String },
    #[error("the {} scheduler refused the job of {loc} (script {}): {source}", .system.name(), .script.display())]
    Submit {
        loc: Loc,
        system: BatchSystem,
        script: PathBuf,
        #[source]
        source: BatchSystemError,
    },
    #[error("no batch job is followed at {0}")]
    NoJob(Loc),
    #[error("cancelling job {job_id} of {loc} failed")]
    Cancel {
        loc: Loc,
        job_id: String,
        #[source]
        source: BatchSystemError,
    },
}

impl HpcExecutor {
    /// An executor finding workers with `discovery` (whose configuration
    /// says which tasks run on which batch system, with which job settings).
    pub fn new(discovery: Discovery, options: HpcOptions) -> Self {
        let commands = Commands {
            path: options.path.clone(),
        };
        Self {
            discovery,
            shared: Arc::new(Shared {
                options,
                commands,
                state: Mutex::new(Polling::default()),
                wake: Condvar::new(),
            }),
            poller: None,
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &HpcOptions {
        &self.shared.options
    }

    /// How many jobs are followed now.
    pub fn pending(&self) -> usize {
        self.shared.lock().jobs.len()
    }

    /// The job id followed for the task at `loc`.
    pub fn job_id(&self, loc: &Loc) -> Option<String> {
        self.shared.lock().jobs.get(loc).map(|t| t.job_id.clone())
    }

    /// Cancels the job of the task at `loc`; the next poll fails its node
    /// with a message saying it was cancelled.
    pub fn cancel(&self, loc: &Loc) -> Result<(), HpcError> {
        let (system, job_id) = {
            let s = self.shared.lock();
            let t = s
                .jobs
                .get(loc)
                .ok_or_else(|| HpcError::NoJob(loc.clone()))?;
            (t.system, t.job_id.clone())
        };
        system
            .cancel(&self.shared.commands, std::slice::from_ref(&job_id))
            .map_err(|source| HpcError::Cancel {
                loc: loc.clone(),
                job_id,
                source,
            })
    }

    /// Writes the job script of `task` and submits it, or adopts the job a
    /// previous run submitted.
    fn submit_or_adopt(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        events: &TaskEventSender,
    ) -> Result<(), HpcError> {
        let config = self.discovery.config();
        let settings = config.settings_for(&task.worker, &task.function);
        let name = format!("{}.{}", task.worker, task.function);
        let system = match settings.executor.unwrap_or_default() {
            ExecutorKind::Local => return Err(HpcError::NotBatch { task: name }),
            ExecutorKind::Batch(system) => system,
        };
        let plan = self.discovery.resolve(&task.worker, &task.function)?;
        if !storage.workflow_dir().is_dir() {
            return Err(HpcError::NotOnDisk(storage.workflow_dir().to_path_buf()));
        }
        let abs = |p: &Path| {
            std::path::absolute(p).map_err(|source| HpcError::Absolute {
                path: p.to_path_buf(),
                source,
            })
        };
        let st_err = |source| HpcError::Storage {
            loc: task.loc.clone(),
            source: Box::new(source),
        };
        let tkr_dir = abs(storage.tkr_dir())?;
        let call_args = storage.read_worker_call_args(&task.loc).map_err(st_err)?;
        let spec = build_spec(
            &plan,
            &tkr_dir,
            &call_args,
            &task.call_args_path,
            storage.as_ref(),
        )
        .map_err(|message| HpcError::Stdio {
            loc: task.loc.clone(),
            message,
        })?;
        let unquotable = |source: script::UnquotableWord| HpcError::Unquotable {
            loc: task.loc.clone(),
            source,
        };
        let mut command = script::q(&spec.program).map_err(unquotable)?;
        for a in &spec.args {
            command.push(b' ');
            command.extend_from_slice(&script::q(a).map_err(unquotable)?);
        }
        let who = format!(
            "worker {:?} ({} at {})",
            task.worker,
            plan.kind.name(),
            task.loc
        );
        let node_dir = abs(&storage.node_dir(&task.loc))?;
        let job = JobSpec::resolve(
            settings.job.clone(),
            &name,
            plan.timeout,
            &node_dir,
            JobCommand {
                tkr_dir: tkr_dir.clone(),
                cwd: spec.cwd.clone(),
                env: spec.env.clone(),
                command,
                stdout: spec.stdout.clone(),
                stdin: spec.stdin.clone(),
                node_logs: abs(&storage.worker_logs_path(&task.loc))?,
                done: abs(&storage.done_path(&task.loc))?,
                error: abs(&storage.error_path(&task.loc))?,
                parent_metadata: abs(&storage.parent_metadata_path(&task.loc))?,
                done_on_success: plan.kind.done_on_success(),
                who: who.clone(),
            },
        );
        let script = node_dir.join("job.sh");
        storage
            .write(&script, &script::render(system, &job).map_err(unquotable)?)
            .map_err(st_err)?;
        let (program, args) = system.submit_command(&script, job.no_check_directory);
        let mut debug = ExecutorDebugData {
            executor: executor_name(system, plan.kind),
            launch_command: format!("{program} {}", args.join(" ")),
            job_id: None,
            env: spec.env.clone(),
            packages: Vec::new(),
        };
        let previous = storage
            .read_executor_data(&task.loc)
            .ok()
            .and_then(|d| adoptable(system, &d));
        let adopted = previous.is_some();
        let job_id = match previous {
            Some(id) => {
                tracing::info!(loc = %task.loc, job = %id, "following the job a previous run submitted");
                id
            }
            None => {
                // A status left by an earlier attempt's job must not
                // classify this one.
                storage
                    .delete_path(&node_dir.join(script::JOB_EXIT_STATUS_FILE))
                    .map_err(st_err)?;
                let id = system
                    .submit(&self.shared.commands, &script, job.no_check_directory)
                    .map_err(|source| HpcError::Submit {
                        loc: task.loc.clone(),
                        system,
                        script: script.clone(),
                        source,
                    })?;
                debug.job_id = Some(id.clone());
                storage
                    .write_executor_data(&task.loc, &debug)
                    .map_err(st_err)?;
                tracing::debug!(loc = %task.loc, job = %id, "submitted");
                id
            }
        };
        let tracked = Tracked {
            loc: task.loc.clone(),
            system,
            job_id,
            adopted,
            settling: 0,
            reported_running: false,
            script,
            no_check_directory: job.no_check_directory,
            output_path: job.output_path,
            error_path: job.error_path,
            walltime: job.walltime,
            who,
            debug,
            storage: storage.clone(),
            events: events.clone(),
        };
        self.shared.lock().jobs.insert(task.loc.clone(), tracked);
        self.start_poller();
        Ok(())
    }

    fn start_poller(&mut self) {
        if self.poller.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let shared = self.shared.clone();
        self.poller = Some(std::thread::spawn(move || shared.poll_loop()));
    }

    fn end_poller(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.poller.take() {
            let _ = h.join();
        }
    }
}

/// `tierkreis-rs:slurm:binary`: what `debug/executors/<loc>` records.
fn executor_name(system: BatchSystem, kind: WorkerKind) -> String {
    format!("{}{}", executor_prefix(system), kind.name())
}

fn executor_prefix(system: BatchSystem) -> String {
    format!("tierkreis-rs:{}:", system.name())
}

/// The job id in a previous launch's debug data, if that launch submitted a
/// job to `system`: ours (`tierkreis-rs:slurm:...`) or the reference's
/// (`<class '...slurm.SLURMExecutor'>`).
pub(super) fn adoptable(system: BatchSystem, data: &ExecutorDebugData) -> Option<String> {
    let reference_class = match system {
        BatchSystem::Slurm => "SLURMExecutor",
        BatchSystem::Pbs => "PBSExecutor",
        BatchSystem::Pjsub => "PJSUBExecutor",
    };
    let ours = data.executor.starts_with(&executor_prefix(system));
    let reference = data.executor.contains(reference_class);
    if ours || reference {
        data.job_id.clone().filter(|id| !id.trim().is_empty())
    } else {
        None
    }
}

impl Executor for HpcExecutor {
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        if self.shared.lock().stopping {
            return Err(LaunchError::Spawn {
                loc: task.loc.clone(),
                worker: task.worker.clone(),
                message: "the executor is stopping".to_string(),
            });
        }
        self.submit_or_adopt(task, storage, done)
            .map_err(|e| match e {
                HpcError::Storage { loc, source } => LaunchError::Storage { loc, source },
                e => LaunchError::Spawn {
                    loc: task.loc.clone(),
                    worker: task.worker.clone(),
                    message: error_chain(&e),
                },
            })
    }

    /// Cancels every pending job (unless `cancel_on_stop` is off); nothing
    /// is marked failed.
    fn stop(&mut self) -> usize {
        let jobs: Vec<Tracked> = {
            let mut s = self.shared.lock();
            s.stopping = true;
            s.jobs.drain().map(|(_, t)| t).collect()
        };
        self.end_poller();
        if self.shared.options.cancel_on_stop {
            let mut by_system: HashMap<BatchSystem, Vec<String>> = HashMap::new();
            for t in &jobs {
                by_system
                    .entry(t.system)
                    .or_default()
                    .push(t.job_id.clone());
            }
            for (system, ids) in by_system {
                if let Err(e) = system.cancel(&self.shared.commands, &ids) {
                    tracing::warn!(error = %e, "cannot cancel the run's jobs");
                }
            }
        }
        jobs.len()
    }
}

impl Drop for HpcExecutor {
    /// The poll thread ends with its executor; jobs keep running.
    fn drop(&mut self) {
        self.end_poller();
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut m = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        m.push_str(": ");
        m.push_str(&s.to_string());
        source = s.source();
    }
    m
}
