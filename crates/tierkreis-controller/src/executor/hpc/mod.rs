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
//! [`Completion`] when a job has ended: `_done` means success; otherwise a
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

pub mod batch_system;
pub mod job;
pub mod script;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, ExecutorDebugData};

pub use super::config::batch::{ContainerConfig, HpcConfig, JobConfig, MpiConfig};
pub use batch_system::{BatchSystem, BatchSystemError, Commands, JobEnd, JobState};
pub use job::{JobCommand, JobSpec};

use super::config::{ExecutorKind, WorkerKind};
use super::discovery::Discovery;
use super::process::{build_spec, ProcessExecutor};
use super::worker_jobs::{find_tkr_program, WorkerJobExecutor, WorkerJobOptions, WorkerJobRoute};
use crate::runtime::{
    BatchJobFailure, Completion, Events, Executor, FailureKind, LaunchError, TaskFailure,
};
use crate::scheduler::Launch;
use tierkreis_core::GraphData;

/// How many lines of a failed job's output and error files go into its
/// node's error text.
pub const JOB_FILE_TAIL_LINES: usize = 20;

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

#[derive(Debug)]
struct Shared {
    options: HpcOptions,
    commands: Commands,
    state: Mutex<Polling>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Polling {
    jobs: HashMap<Loc, Tracked>,
    stopping: bool,
}

/// A submitted (or adopted) job the poll thread follows.
struct Tracked {
    loc: Loc,
    system: BatchSystem,
    job_id: String,
    /// Adopted from a previous run and not yet seen queued or running.
    adopted: bool,
    /// Polls that found the job ended or unknown without a marker yet (a
    /// shared file system may show the markers late).
    settling: u32,
    /// The timeline has been told the job runs (lane `<system> job <id>`).
    reported_running: bool,
    script: PathBuf,
    no_check_directory: bool,
    output_path: PathBuf,
    error_path: PathBuf,
    walltime: String,
    who: String,
    debug: ExecutorDebugData,
    storage: Arc<dyn ControllerStorage>,
    events: Events,
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

/// Why a task could not become a job.
#[derive(Debug, thiserror::Error)]
pub enum HpcError {
    #[error("task {task:?} is configured to run locally, not as a batch job")]
    NotBatch { task: String },
    #[error(transparent)]
    Discovery(#[from] super::discovery::DiscoveryError),
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
        task: &Launch,
        storage: &Arc<dyn ControllerStorage>,
        events: &Events,
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
fn adoptable(system: BatchSystem, data: &ExecutorDebugData) -> Option<String> {
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
        task: &Launch,
        storage: &Arc<dyn ControllerStorage>,
        done: &Events,
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

/// What one poll decided for one job.
enum Decision {
    Keep,
    Complete(Result<(), TaskFailure>),
    Resubmit,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Polling> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn poll_loop(self: Arc<Self>) {
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
            t.events.complete(Completion { loc: t.loc, result });
        }
        for mut t in resubmit {
            tracing::info!(loc = %t.loc, job = %t.job_id, "the previous run's job is gone; submitting again");
            match t
                .system
                .submit(&self.commands, &t.script, t.no_check_directory)
            {
                Ok(id) => {
                    t.job_id = id.clone();
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
                    t.events.complete(Completion {
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
fn tail_lines(path: &Path, n: usize) -> String {
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

/// Appends `message` to the node's log and creates `_error`.
fn fail(t: &Tracked, message: &str) {
    let storage = t.storage.as_ref();
    let mut text = message.trim_end().to_string();
    text.push('\n');
    let r = storage
        .append(&storage.worker_logs_path(&t.loc), text.as_bytes())
        .and_then(|()| storage.mark_node_error(&t.loc));
    if let Err(e) = r {
        tracing::error!(loc = %t.loc, error = %e, "cannot record a job's failure");
    }
}

/// Local processes for tasks configured `executor = "local"` (the default);
/// for the others, worker jobs when the worker can run warm (see
/// [`super::worker_jobs`]), else one batch job per task.
#[derive(Debug)]
pub struct LocalOrBatchExecutor {
    local: ProcessExecutor,
    batch: HpcExecutor,
    /// `None` when no `tkr` program can be found for the jobs to run.
    worker_jobs: Option<WorkerJobExecutor>,
    /// Per `worker.function`: the worker-job route, or `None` for one job
    /// per task (decided once per run).
    routes: HashMap<(String, String), Option<WorkerJobRoute>>,
}

impl LocalOrBatchExecutor {
    /// Batch jobs and worker jobs set up from the local executor's
    /// discovery, its options and `[hpc]`.
    pub fn new(local: ProcessExecutor) -> Self {
        let discovery = local.discovery().clone();
        let options = HpcOptions::from_config(&discovery.config().hpc);
        Self::with_batch(local, HpcExecutor::new(discovery, options))
    }

    /// `local` and `batch` as given; worker jobs with `batch`'s options.
    pub fn with_batch(local: ProcessExecutor, batch: HpcExecutor) -> Self {
        let worker_jobs = match find_tkr_program() {
            Some(tkr_program) => Some(WorkerJobExecutor::new(WorkerJobOptions {
                poll: batch.shared.options.poll,
                cancel_on_stop: batch.shared.options.cancel_on_stop,
                grace: local.options().grace,
                task_timeout: local.options().task_timeout,
                tkr_program,
                path: batch.shared.options.path.clone(),
            })),
            None => {
                tracing::warn!(
                    "no `tkr` program found for worker jobs: batch tasks run one job each"
                );
                None
            }
        };
        Self {
            local,
            batch,
            worker_jobs,
            routes: HashMap::new(),
        }
    }

    /// The worker-job route of `task`, if worker jobs can serve it: a warm
    /// worker, and no MPI or container in its job settings.
    fn worker_job_route(
        &mut self,
        task: &Launch,
        system: BatchSystem,
        storage: &Arc<dyn ControllerStorage>,
    ) -> Option<WorkerJobRoute> {
        self.worker_jobs.as_ref()?;
        let key = (task.worker.clone(), task.function.clone());
        if let Some(route) = self.routes.get(&key) {
            return route.clone();
        }
        let config = self.local.discovery().config();
        let settings = config.settings_for(&task.worker, &task.function);
        let job = settings.job.clone();
        let route = (|| {
            if job
                .as_ref()
                .is_some_and(|j| j.mpi.is_some() || j.container.is_some())
            {
                return None;
            }
            let tkr_dir = std::path::absolute(storage.tkr_dir()).ok()?;
            let plan = self.local.can_serve_warm(
                &task.worker,
                &task.function,
                &tkr_dir,
                storage.as_ref(),
            )?;
            Some(WorkerJobRoute {
                system,
                plan,
                slots: job
                    .as_ref()
                    .and_then(|j| j.cores_per_node)
                    .unwrap_or(1)
                    .max(1) as usize,
                job,
                max_jobs: settings
                    .max_worker_jobs
                    .or(config.hpc.max_worker_jobs)
                    .unwrap_or(DEFAULT_MAX_WORKER_JOBS)
                    .max(1) as usize,
                idle: Duration::from_secs_f64(
                    settings
                        .worker_idle_secs
                        .or(config.hpc.worker_idle_secs)
                        .unwrap_or(DEFAULT_WORKER_IDLE_SECS),
                ),
            })
        })();
        self.routes.insert(key, route.clone());
        route
    }
}

/// Worker jobs per worker when neither the worker nor `[hpc]` says.
pub const DEFAULT_MAX_WORKER_JOBS: u32 = 4;

/// Idle seconds of a worker job when neither the worker nor `[hpc]` says.
pub const DEFAULT_WORKER_IDLE_SECS: f64 = 60.0;

impl Executor for LocalOrBatchExecutor {
    fn launch(
        &mut self,
        task: &Launch,
        storage: &Arc<dyn ControllerStorage>,
        done: &Events,
    ) -> Result<(), LaunchError> {
        let settings = self
            .local
            .discovery()
            .config()
            .settings_for(&task.worker, &task.function);
        match settings.executor.unwrap_or_default() {
            ExecutorKind::Local => self.local.launch(task, storage, done),
            ExecutorKind::Batch(system) => {
                match (
                    self.worker_job_route(task, system, storage),
                    &self.worker_jobs,
                ) {
                    (Some(route), Some(jobs)) => jobs.launch(task, route, storage, done),
                    _ => self.batch.launch(task, storage, done),
                }
            }
        }
    }

    fn stop(&mut self) -> usize {
        let jobs = self.worker_jobs.as_mut().map_or(0, WorkerJobExecutor::stop);
        self.local.stop() + self.batch.stop() + jobs
    }

    fn prepare_for_run(&mut self, graph: &GraphData, storage: &Arc<dyn ControllerStorage>) {
        self.local.prepare_for_run(graph, storage);
    }
}

#[cfg(test)]
mod tests;
