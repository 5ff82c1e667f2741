//! Worker processes: one spawn helper, a concurrency limit, per-task
//! timeouts and memory limits, log capture, and stopping (SIGTERM to the
//! task's process group, a grace period, then SIGKILL).
//!
//! Each started process gets a supervisor thread that blocks on its exit (no
//! polling), then reads the markers of that node only (`_done`, `_error`),
//! writes the error text and `_error` when the process failed without saying
//! so, reports the [`Completion`], and starts the next queued task.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tierkreis_core::graph::{ConstValue, NodeKind};
use tierkreis_core::{GraphData, Loc, WorkerCallArgs};
use tierkreis_storage::{ControllerStorage, ExecutorDebugData, TKR_DIR_KEY};

use super::config::WorkerKind;
use super::discovery::{Discovery, LaunchPlan};
use crate::runtime::{Completion, Events, Executor, FailureKind, LaunchError, TaskFailure};
use crate::scheduler::Launch;

/// How often queued warm tasks are reconsidered for another warm process
/// (see [`Pool::dispatch`]).
const WARM_SCALING_TICK: Duration = Duration::from_millis(200);

/// How often the resident memory of a task's processes is read when it has
/// a `memory_limit` (one-shot and warm alike).
pub(super) const MEMORY_CHECK_EVERY: Duration = Duration::from_millis(100);

/// How many lines of a failed task's stderr go into its error text.
pub const STDERR_TAIL_LINES: usize = 20;

/// Limits for worker processes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOptions {
    /// Processes running at once; more tasks wait in a queue.
    pub jobs: usize,
    /// The timeout of tasks without their own configured timeout.
    pub task_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping a task.
    pub grace: Duration,
    /// Keep workers that support it warm: one process serves many calls
    /// (see [`crate::executor::warm`]); `false` is `--no-warm`.
    pub warm: bool,
    /// When a fresh run starts, start a warm process for each worker its
    /// graph names (while free slots last), so imports overlap the first
    /// nodes (`--warm-prestart`). Off by default: a graph names workers it
    /// may never call (both branches of an `ifelse`, as `compile_simulate`
    /// does for Aer and Qulacs), and on a small machine their imports slow
    /// the ones that matter (measured in BENCHMARKS.md).
    pub prestart_warm: bool,
}

impl Default for ProcessOptions {
    /// As many jobs as cores, no timeout, 5 seconds of grace.
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            task_timeout: None,
            grace: Duration::from_secs(5),
            warm: true,
            prestart_warm: false,
        }
    }
}

/// Runs tasks of external workers as processes (see [`crate::executor`]).
#[derive(Debug)]
pub struct ProcessExecutor {
    discovery: Discovery,
    pool: Arc<Pool>,
    /// What each worker command allows when warm, found once per run.
    warm_checks: super::warm::WarmChecks,
    /// Set when this executor runs inside a worker job (see
    /// [`super::worker_jobs`]): its tasks' debug data name the job.
    served_in: Option<Arc<ServedInWorkerJob>>,
}

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

#[derive(Debug)]
pub(super) struct Pool {
    pub(super) options: ProcessOptions,
    state: Mutex<State>,
    pub(super) changed: Condvar,
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// Running one-shot tasks and their process group ids.
    running: HashMap<Loc, Pid>,
    /// Tasks waiting for a free slot.
    pub(super) queue: VecDeque<Job>,
    /// Set once by [`ProcessExecutor::stop`]: nothing is started or reported any more.
    pub(super) stopping: bool,
    /// Every warm process (starting, busy or idle), by its id; each counts
    /// against `jobs` like a one-shot task.
    pub(super) warm: HashMap<u64, super::warm::WarmSlot>,
    next_warm_id: u64,
    /// Warm commands that cannot serve warm, with the reason: their tasks run
    /// one process per call.
    pub(super) warm_refused: HashMap<Arc<super::warm::WarmKey>, String>,
    /// Start-up and call times observed per warm command, for
    /// [`super::warm::scaling::decide_warm_scaling`].
    pub(super) warm_timings: HashMap<Arc<super::warm::WarmKey>, super::warm::scaling::WarmTimings>,
}

/// A task ready to spawn.
pub(super) struct Job {
    pub(super) loc: Loc,
    pub(super) worker: String,
    pub(super) kind: WorkerKind,
    pub(super) spec: Spec,
    pub(super) timeout: Option<Duration>,
    /// The configured `memory_limit` in bytes: the task's processes are
    /// stopped, and the task fails, once their resident memory passes it.
    pub(super) memory_limit: Option<u64>,
    /// The output ports the call args declare; all must exist once `_done` does.
    pub(super) outputs: Vec<String>,
    /// The call-args path as the worker gets it (relative to `TKR_DIR`).
    pub(super) call_args_path: PathBuf,
    /// The warm process command that may serve this task, if any.
    pub(super) warm: Option<Arc<super::warm::WarmKey>>,
    pub(super) storage: Arc<dyn ControllerStorage>,
    pub(super) events: Events,
    /// The worker job this task runs in, if any.
    pub(super) served_in: Option<Arc<ServedInWorkerJob>>,
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

/// Everything needed to spawn one process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// Variables added to the controller's environment.
    pub env: BTreeMap<String, String>,
    /// A file given as stdin (else stdin is empty).
    pub stdin: Option<PathBuf>,
    /// A file that receives stdout (else stdout is captured into the logs).
    pub stdout: Option<PathBuf>,
    /// A pipe as stdin (for warm processes), instead of `stdin` or nothing.
    pub stdin_pipe: bool,
}

impl Spec {
    /// The command as a shell line, for debug data and messages.
    pub fn command_line(&self) -> String {
        let mut line = String::new();
        if let Some(cwd) = &self.cwd {
            let _ = write!(line, "cd {} && ", quote_for_display(cwd.as_os_str()));
        }
        line.push_str(&quote_for_display(&self.program));
        for a in &self.args {
            line.push(' ');
            line.push_str(&quote_for_display(a));
        }
        if let Some(p) = &self.stdin {
            let _ = write!(line, " < {}", quote_for_display(p.as_os_str()));
        }
        if let Some(p) = &self.stdout {
            let _ = write!(line, " > {}", quote_for_display(p.as_os_str()));
        }
        line
    }

    /// The one spawn helper: working directory, environment, stdio, and a
    /// process group of its own (so stopping reaches its children too and a
    /// Ctrl-C at the terminal reaches only the controller), registered with
    /// the controller's guardian (see [`super::guardian`]) so that it ends
    /// with the controller however the controller ends. Keep the
    /// registration until the group is ended, then drop it.
    pub fn spawn(&self) -> std::io::Result<(Child, super::guardian::GroupRegistration)> {
        let mut c = Command::new(&self.program);
        c.args(&self.args)
            .envs(&self.env)
            .process_group(0)
            .stderr(Stdio::piped());
        if let Some(cwd) = &self.cwd {
            c.current_dir(cwd);
        }
        match &self.stdin {
            Some(p) => c.stdin(std::fs::File::open(p)?),
            None if self.stdin_pipe => c.stdin(Stdio::piped()),
            None => c.stdin(Stdio::null()),
        };
        match &self.stdout {
            Some(p) => c.stdout(std::fs::File::create(p)?),
            None => c.stdout(Stdio::piped()),
        };
        let mut child = c.spawn()?;
        let Ok(pgid) = i32::try_from(child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "process id {} is out of range",
                child.id()
            )));
        };
        let registration = super::guardian::register(Pid::from_raw(pgid));
        Ok((child, registration))
    }
}

/// `word` quoted for a POSIX shell, byte for byte (`shlex`): bare when it
/// needs no quotes, so a path that is not UTF-8 stays the same path. `None`
/// for a word with a NUL byte, which no shell word (nor program argument)
/// can hold.
pub(crate) fn shell_quote(word: &std::ffi::OsStr) -> Option<std::borrow::Cow<'_, [u8]>> {
    use std::os::unix::ffi::OsStrExt;
    shlex::bytes::try_quote(word.as_bytes()).ok()
}

/// [`shell_quote`] for messages and logs: bytes that are not UTF-8 are shown
/// as U+FFFD, and a NUL byte is shown rather than refused.
pub(crate) fn quote_for_display(word: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    let quoted = shlex::bytes::Quoter::new()
        .allow_nul(true)
        .quote(word.as_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&quoted).into_owned()
}

/// The environment a worker process gets (on top of the controller's): the
/// reference shell executor's variables, with absolute paths, plus
/// `TKR_DIR` and `worker_call_args_file`.
pub fn worker_env(
    tkr_dir: &Path,
    call_args: &WorkerCallArgs,
    call_args_path: &Path,
    workflow_logs: &Path,
) -> BTreeMap<String, String> {
    let abs = |p: &Path| tkr_dir.join(p).to_string_lossy().into_owned();
    let mut env = BTreeMap::new();
    env.insert(
        "checkpoints_directory".into(),
        tkr_dir.to_string_lossy().into_owned(),
    );
    // The reference joins the function name to the checkpoint folder too.
    env.insert(
        "function_name".into(),
        abs(Path::new(&call_args.function_name)),
    );
    env.insert("done_path".into(), abs(&call_args.done_path));
    env.insert("error_path".into(), abs(&call_args.error_path));
    env.insert("output_dir".into(), abs(&call_args.output_dir));
    let logs = match &call_args.logs_path {
        Some(p) => abs(p),
        None => workflow_logs.to_string_lossy().into_owned(),
    };
    env.insert("logs_path".into(), logs);
    for (port, p) in &call_args.outputs {
        env.insert(format!("output_{port}_file"), abs(p));
    }
    for (port, p) in &call_args.inputs {
        env.insert(format!("input_{port}_file"), abs(p));
    }
    env.insert("worker_call_args_file".into(), abs(call_args_path));
    env.insert(TKR_DIR_KEY.into(), tkr_dir.to_string_lossy().into_owned());
    env
}

impl ProcessExecutor {
    /// An executor finding workers with `discovery`.
    pub fn new(discovery: Discovery, options: ProcessOptions) -> Self {
        let options = ProcessOptions {
            jobs: options.jobs.max(1),
            ..options
        };
        let warm = options.warm;
        let pool = Arc::new(Pool {
            options,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        if warm {
            Pool::spawn_scaling_ticker(&pool);
        }
        Self {
            discovery,
            pool,
            warm_checks: Default::default(),
            served_in: None,
        }
    }

    /// Records in each task's debug data that it ran in `job`.
    pub fn serving_in_worker_job(mut self, job: ServedInWorkerJob) -> Self {
        self.served_in = Some(Arc::new(job));
        self
    }

    /// Whether a task of `worker.function` would run warm here: its plan
    /// resolves and its command can serve many calls.
    pub(super) fn can_serve_warm(
        &self,
        worker: &str,
        function: &str,
        tkr_dir: &Path,
        storage: &dyn ControllerStorage,
    ) -> Option<LaunchPlan> {
        if !self.pool.options.warm {
            return None;
        }
        let plan = self.discovery.resolve(worker, function).ok()?;
        self.warm_checks.key(&plan, tkr_dir, worker, storage)?;
        Some(plan)
    }

    /// The options this executor was made with.
    pub fn options(&self) -> &ProcessOptions {
        &self.pool.options
    }

    /// How workers are found.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// How many processes run now.
    pub fn running(&self) -> usize {
        self.pool.lock().running.len()
    }

    fn job(
        &self,
        task: &Launch,
        storage: &Arc<dyn ControllerStorage>,
        events: &Events,
    ) -> Result<Job, LaunchError> {
        let spawn_error = |message: String| LaunchError::Spawn {
            loc: task.loc.clone(),
            worker: task.worker.clone(),
            message,
        };
        let storage_error = |source| LaunchError::Storage {
            loc: task.loc.clone(),
            source: Box::new(source),
        };
        let plan = self
            .discovery
            .resolve(&task.worker, &task.function)
            .map_err(|e| spawn_error(e.to_string()))?;
        if !storage.workflow_dir().is_dir() {
            return Err(spawn_error(format!(
                "worker processes need checkpoints on disk, and the workflow folder {} is not one \
                 (in-memory storage?)",
                storage.workflow_dir().display()
            )));
        }
        let tkr_dir = std::path::absolute(storage.tkr_dir()).map_err(|e| {
            spawn_error(format!(
                "cannot make {} absolute: {e}",
                storage.tkr_dir().display()
            ))
        })?;
        let call_args = storage
            .read_worker_call_args(&task.loc)
            .map_err(storage_error)?;
        let spec = build_spec(
            &plan,
            &tkr_dir,
            &call_args,
            &task.call_args_path,
            storage.as_ref(),
        )
        .map_err(spawn_error)?;
        let warm = if self.pool.options.warm {
            self.warm_checks
                .key(&plan, &tkr_dir, &task.worker, storage.as_ref())
        } else {
            None
        }
        .filter(|key| !self.pool.lock().warm_refused.contains_key(key));
        let job = Job {
            loc: task.loc.clone(),
            worker: task.worker.clone(),
            kind: plan.kind,
            spec,
            timeout: plan.timeout.or(self.pool.options.task_timeout),
            memory_limit: plan.warm.memory_limit,
            outputs: call_args.outputs.keys().cloned().collect(),
            call_args_path: task.call_args_path.clone(),
            warm,
            storage: storage.clone(),
            events: events.clone(),
            served_in: self.served_in.clone(),
        };
        write_debug_data(&job).map_err(storage_error)?;
        Ok(job)
    }
}

/// Records how `job` runs (`debug/executors/<loc>`): one-shot, or warm with
/// the warm process's command.
pub(super) fn write_debug_data(job: &Job) -> Result<(), tierkreis_storage::StorageError> {
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

/// The process of one task: the plan's command with the task's call-args
/// path, the worker environment, and stdio files for kind `stdio`.
pub(crate) fn build_spec(
    plan: &LaunchPlan,
    tkr_dir: &Path,
    call_args: &WorkerCallArgs,
    call_args_path: &Path,
    storage: &dyn ControllerStorage,
) -> Result<Spec, String> {
    let mut env = worker_env(tkr_dir, call_args, call_args_path, &storage.logs_path());
    env.extend(plan.env.clone());
    let mut args = plan.args.clone();
    let (mut stdin, mut stdout) = (None, None);
    if plan.kind == WorkerKind::Stdio {
        let input = call_args.inputs.values().next().ok_or_else(|| {
            "a stdio worker needs an input to give on stdin, and the task has none".to_string()
        })?;
        let output = call_args.outputs.values().next().ok_or_else(|| {
            "a stdio worker needs an output for its stdout, and the task has none".to_string()
        })?;
        stdin = Some(tkr_dir.join(input));
        stdout = Some(tkr_dir.join(output));
    } else {
        // Relative to TKR_DIR, like the reference's executors.
        args.push(call_args_path.as_os_str().to_owned());
    }
    Ok(Spec {
        program: plan.program.clone(),
        args,
        cwd: plan.cwd.clone(),
        env,
        stdin,
        stdout,
        stdin_pipe: false,
    })
}

impl Pool {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking supervisor must not stop the others; the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spawns `job` (the caller holds the lock and checked the limit).
    fn start(self: &Arc<Self>, state: &mut State, job: Job) -> Result<(), Box<(Job, String)>> {
        let (mut child, registration) = match job.spec.spawn() {
            Ok(spawned) => spawned,
            Err(e) => {
                let m = format!("cannot run `{}`: {e}", job.spec.command_line());
                return Err(Box::new((job, m)));
            }
        };
        let Ok(raw) = i32::try_from(child.id()) else {
            let _ = child.kill();
            let m = format!("process id {} is out of range", child.id());
            return Err(Box::new((job, m)));
        };
        let pgid = Pid::from_raw(raw);
        state.running.insert(job.loc.clone(), pgid);
        tracing::debug!(loc = %job.loc, pid = raw, command = %job.spec.command_line(), "started");
        job.events
            .task_started(&job.loc, job.kind.name(), format!("process {raw}"));
        let node_log = job.storage.worker_logs_path(&job.loc);
        let readers = [
            child.stdout.take().map(|s| pump(s, &job, &node_log, 0)),
            child
                .stderr
                .take()
                .map(|s| pump(s, &job, &node_log, STDERR_TAIL_LINES)),
        ];
        let pool = self.clone();
        std::thread::spawn(move || {
            pool.supervise(job, child, pgid, readers);
            // The group is ended: the guardian forgets it.
            drop(registration);
        });
        Ok(())
    }

    /// Waits for the process of `job`, concludes, reports, starts queued jobs.
    fn supervise(
        self: Arc<Self>,
        job: Job,
        child: Child,
        pgid: Pid,
        readers: [Option<JoinHandle<VecDeque<String>>>; 2],
    ) {
        super::leftover_processes::record_task_group(job.storage.as_ref(), &job.loc, pgid);
        let (status, end) = wait(
            child,
            job.timeout,
            job.memory_limit,
            pgid,
            self.options.grace,
        );
        // Whatever the task left behind in its group ends with it.
        let _ = killpg(pgid, Signal::SIGKILL);
        let [out, err] = readers;
        if let Some(h) = out {
            let _ = h.join();
        }
        let tail = err.and_then(|h| h.join().ok()).unwrap_or_default();
        let stopping = self.lock().stopping;
        let result = if stopping {
            None
        } else {
            Some(conclude(&job, status, end, &tail))
        };
        let mut state = self.lock();
        state.running.remove(&job.loc);
        self.changed.notify_all();
        self.dispatch(&mut state);
        drop(state);
        if let Some(result) = result {
            job.events.complete(Completion {
                loc: job.loc,
                result,
            });
        }
    }

    /// Processes of any kind counting against `jobs`.
    fn used(state: &State) -> usize {
        state.running.len() + state.warm.len()
    }

    /// Starts queued tasks while there is room, first come first served,
    /// repeated until nothing changes. In queue order:
    ///
    /// - a warm task whose command has an idle process goes to it;
    /// - a warm task whose command has processes, none idle, waits for them
    ///   and does not hold up the tasks behind it;
    /// - any other task (one-shot, or a warm command without a process)
    ///   starts a process if a slot is free; else an idle warm process is
    ///   ended to make room (no worker keeps a slot it does not use); else it
    ///   waits, and so does every task behind it that needs a new process.
    ///
    /// When nothing else can move and a slot is free, the first warm command
    /// for which [`super::warm::scaling::decide_warm_scaling`] says another
    /// process pays gets one (an extra process never ends another worker's
    /// idle one, and never goes before a worker that has no process).
    pub(super) fn dispatch(self: &Arc<Self>, state: &mut State) {
        use super::warm::scaling::{decide_warm_scaling, WarmScaling};
        enum Step {
            Give(u64, usize),
            Start(usize),
            End(u64),
        }
        while !state.stopping && !state.queue.is_empty() {
            let now = Instant::now();
            let free = Self::used(state) < self.options.jobs;
            let mut step = None;
            let mut extra = None;
            let mut considered: Vec<Arc<super::warm::WarmKey>> = Vec::new();
            for (index, job) in state.queue.iter().enumerate() {
                let key = self.usable_warm_key(state, job);
                if let Some(key) = &key {
                    let idle = state
                        .warm
                        .iter()
                        .find(|(_, s)| s.idle && s.key == *key)
                        .map(|(id, _)| *id);
                    if let Some(id) = idle {
                        step = Some(Step::Give(id, index));
                        break;
                    }
                    if state.warm.values().any(|s| s.key == *key) {
                        if free && extra.is_none() && !considered.contains(key) {
                            let load = self.warm_load(state, key, now);
                            let decision = decide_warm_scaling(&load);
                            tracing::trace!(worker = %key.worker, ?load, ?decision, "warm scaling");
                            if decision == WarmScaling::StartExtraProcess {
                                extra = Some(index);
                            }
                            considered.push(key.clone());
                        }
                        continue;
                    }
                }
                if free {
                    step = Some(Step::Start(index));
                } else {
                    step = state
                        .warm
                        .iter()
                        .find(|(_, s)| s.idle)
                        .map(|(id, _)| Step::End(*id));
                }
                break;
            }
            match step.or(extra.map(Step::Start)) {
                Some(Step::Give(id, index)) => self.give_to_idle_warm(state, id, index),
                Some(Step::Start(index)) => self.start_at(state, index),
                Some(Step::End(id)) => {
                    if let Some(slot) = state.warm.remove(&id) {
                        let _ = slot.orders.send(super::warm::Order::End);
                    }
                }
                None => break,
            }
        }
    }

    /// What [`super::warm::scaling::decide_warm_scaling`] needs to know
    /// about warm command `key` now.
    fn warm_load(
        &self,
        state: &State,
        key: &Arc<super::warm::WarmKey>,
        now: Instant,
    ) -> super::warm::scaling::WarmWorkerLoad {
        let mut load = super::warm::scaling::WarmWorkerLoad {
            queued: state
                .queue
                .iter()
                .filter(|j| j.warm.as_ref() == Some(key))
                .count(),
            ..Default::default()
        };
        for slot in state.warm.values().filter(|s| s.key == *key) {
            if !slot.ready {
                load.starting += 1;
            } else if slot.idle {
                load.idle += 1;
            } else {
                load.busy += 1;
                let running = slot.call_started.map(|t| now.duration_since(t));
                load.longest_running_call = load.longest_running_call.max(running);
            }
        }
        if let Some(t) = state.warm_timings.get(key) {
            load.mean_call = t.mean_call();
            load.mean_start = t.start.mean();
        }
        load
    }

    /// The warm command that may serve `job` now (not refused), if any.
    fn usable_warm_key(&self, state: &State, job: &Job) -> Option<Arc<super::warm::WarmKey>> {
        job.warm
            .clone()
            .filter(|k| !state.warm_refused.contains_key(k))
    }

    /// Hands queued task `index` to idle warm process `id`.
    fn give_to_idle_warm(&self, state: &mut State, id: u64, index: usize) {
        let Some(job) = state.queue.remove(index) else {
            return;
        };
        if let Some(slot) = state.warm.get_mut(&id) {
            slot.idle = false;
            slot.call_started = Some(Instant::now());
            if let Err(back) = slot.orders.send(super::warm::Order::Call(Box::new(job))) {
                // Its thread is gone: forget the slot, retry the task.
                state.warm.remove(&id);
                if let super::warm::Order::Call(job) = back.0 {
                    state.queue.insert(index, *job);
                }
            }
        }
    }

    /// Takes queued task `index` and starts a process for it: a new warm
    /// process of its command, or a one-shot process (the caller checked
    /// that a slot is free).
    fn start_at(self: &Arc<Self>, state: &mut State, index: usize) {
        let Some(mut job) = state.queue.remove(index) else {
            return;
        };
        match self.usable_warm_key(state, &job) {
            Some(key) => {
                let storage = job.storage.clone();
                self.start_warm(state, key, Some(job), storage);
            }
            None => {
                if job.warm.take().is_some() {
                    // Its warm command was refused since it was queued.
                    if let Err(e) = write_debug_data(&job) {
                        tracing::warn!(loc = %job.loc, error = %e, "cannot rewrite debug data");
                    }
                }
                if let Err(failed) = self.start(state, job) {
                    let (next, message) = *failed;
                    fail(&next, &message);
                    next.events.complete(Completion {
                        loc: next.loc.clone(),
                        result: Err(TaskFailure::new(FailureKind::CouldNotLaunch, message)),
                    });
                }
            }
        }
    }

    /// Starts a warm process of `key` (the caller checked that a slot is
    /// free) that serves `first`, or waits idle for a call once started.
    fn start_warm(
        self: &Arc<Self>,
        state: &mut State,
        key: Arc<super::warm::WarmKey>,
        first: Option<Job>,
        storage: Arc<dyn ControllerStorage>,
    ) {
        let id = state.next_warm_id;
        state.next_warm_id += 1;
        let (tx, rx) = channel();
        state.warm.insert(
            id,
            super::warm::WarmSlot {
                key: key.clone(),
                pgid: None,
                idle: false,
                ready: false,
                call_started: None,
                orders: tx,
            },
        );
        let pool = self.clone();
        std::thread::spawn(move || super::warm::serve(pool, id, key, first, storage, rx));
    }

    /// Re-runs [`Self::dispatch`] every [`WARM_SCALING_TICK`] while tasks
    /// wait, since a long call's running time is evidence for another warm
    /// process before any call ends. Ends with the pool.
    fn spawn_scaling_ticker(pool: &Arc<Self>) {
        let weak = Arc::downgrade(pool);
        std::thread::spawn(move || loop {
            std::thread::sleep(WARM_SCALING_TICK);
            let Some(pool) = weak.upgrade() else {
                return;
            };
            let mut state = pool.lock();
            if state.stopping {
                return;
            }
            if !state.queue.is_empty() && !state.warm.is_empty() {
                pool.dispatch(&mut state);
            }
        });
    }

    /// Waits up to `limit` for every running process to be reaped; returns
    /// the state either way (callers check `running`).
    pub(super) fn wait_idle<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        limit: Duration,
    ) -> MutexGuard<'a, State> {
        let deadline = Instant::now() + limit;
        while !state.running.is_empty() || !state.warm.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        state
    }

    /// Stops every process: SIGTERM, the grace period, then SIGKILL. Busy
    /// and idle warm processes alike; their calls are not marked failed.
    fn stop_all(&self) -> usize {
        let mut state = self.lock();
        state.stopping = true;
        state.queue.clear();
        let n = state.running.len() + state.warm.values().filter(|s| !s.idle).count();
        for pgid in state.running.values() {
            let _ = killpg(*pgid, Signal::SIGTERM);
        }
        for slot in state.warm.values() {
            if let Some(pgid) = slot.pgid {
                let _ = killpg(pgid, Signal::SIGTERM);
            }
            let _ = slot.orders.send(super::warm::Order::End);
        }
        state = self.wait_idle(state, self.options.grace);
        for pgid in state.running.values() {
            let _ = killpg(*pgid, Signal::SIGKILL);
        }
        for pgid in state.warm.values().filter_map(|s| s.pgid) {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        // SIGKILL cannot be ignored; the wait is bounded only against a
        // process that escaped its group but holds the log pipes open.
        state = self.wait_idle(state, Duration::from_secs(10));
        if !state.running.is_empty() || !state.warm.is_empty() {
            tracing::warn!(
                left = state.running.len() + state.warm.len(),
                "worker processes did not end"
            );
        }
        n
    }

    /// Ends the idle warm processes (the run is over): stdin closes, they
    /// exit; any still there after the grace period is killed.
    fn end_idle_warm(&self) {
        let mut state = self.lock();
        if state.warm.is_empty() {
            return;
        }
        for slot in state.warm.values() {
            let _ = slot.orders.send(super::warm::Order::End);
        }
        state = self.wait_idle(state, self.options.grace + Duration::from_secs(1));
        for pgid in state.warm.values().filter_map(|s| s.pgid) {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Why a one-shot process ended, beyond its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProcessEnd {
    /// It exited by itself.
    Exited,
    /// Its timeout struck and its group was stopped.
    TimedOut,
    /// Its group's resident memory passed the limit and it was killed.
    OverMemoryLimit { rss: u64, limit: u64 },
}

/// Waits for `child`, stopping its group after `timeout` or once the
/// group's resident memory passes `memory_limit`. Returns the exit status
/// and why the process ended.
fn wait(
    mut child: Child,
    timeout: Option<Duration>,
    memory_limit: Option<u64>,
    pgid: Pid,
    grace: Duration,
) -> (std::io::Result<ExitStatus>, ProcessEnd) {
    if timeout.is_none() && memory_limit.is_none() {
        return (child.wait(), ProcessEnd::Exited);
    }
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let gone = || std::io::Error::other("the process waiter ended without a status");
    let started = Instant::now();
    loop {
        let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
        let step = match (left, memory_limit) {
            (Some(l), Some(_)) => l.min(MEMORY_CHECK_EVERY),
            (Some(l), None) => l,
            (None, _) => MEMORY_CHECK_EVERY,
        };
        match rx.recv_timeout(step) {
            Ok(status) => return (status, ProcessEnd::Exited),
            Err(RecvTimeoutError::Disconnected) => return (Err(gone()), ProcessEnd::Exited),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if left.is_some_and(|l| l <= step) {
            let _ = killpg(pgid, Signal::SIGTERM);
            let status = match rx.recv_timeout(grace) {
                Ok(s) => s,
                Err(_) => {
                    let _ = killpg(pgid, Signal::SIGKILL);
                    rx.recv().unwrap_or_else(|_| Err(gone()))
                }
            };
            return (status, ProcessEnd::TimedOut);
        }
        if let Some(limit) = memory_limit {
            if let Some(rss) = group_resident_memory(pgid).filter(|r| *r > limit) {
                let _ = killpg(pgid, Signal::SIGKILL);
                let status = rx.recv().unwrap_or_else(|_| Err(gone()));
                return (status, ProcessEnd::OverMemoryLimit { rss, limit });
            }
        }
    }
}

/// The resident memory (`VmRSS`) of every process in group `pgid`, summed
/// (a `uv run` wrapper and the Python it starts, or a task's own children);
/// `None` when no process of the group is left.
pub(super) fn group_resident_memory(pgid: Pid) -> Option<u64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name in parentheses: state, ppid, pgrp, ...
        let group = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<i32>().ok());
        if group != Some(pgid.as_raw()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        total = Some(total.unwrap_or(0) + kb * 1024);
    }
    total
}

/// Whether the file at `path` ends without a line break (never true for a
/// missing or empty file, or in-memory storage).
fn log_ends_mid_line(path: &Path) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// Copies a process stream, line by line, to the node's log file and to the
/// workflow log (prefixed with the location); returns the last `keep` lines.
pub(super) fn pump(
    stream: impl Read + Send + 'static,
    job: &Job,
    node_log: &Path,
    keep: usize,
) -> JoinHandle<VecDeque<String>> {
    let storage = job.storage.clone();
    let node_log = node_log.to_path_buf();
    let workflow_log = storage.logs_path();
    let prefix = format!("[{}] ", job.loc);
    std::thread::spawn(move || {
        let mut tail = VecDeque::new();
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut warned = false;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            if log_ends_mid_line(&node_log) {
                // The worker wrote the log itself (the reference's
                // `write_error` replaces it with text and no line break).
                line.insert(0, b'\n');
            }
            let mut prefixed = prefix.clone().into_bytes();
            prefixed.extend_from_slice(&line);
            let r = storage
                .append(&node_log, &line)
                .and_then(|()| storage.append(&workflow_log, &prefixed));
            if let Err(e) = r {
                if !warned {
                    tracing::warn!(log = %node_log.display(), error = %e, "cannot write worker output");
                    warned = true;
                }
            }
            if keep > 0 {
                if tail.len() == keep {
                    tail.pop_front();
                }
                tail.push_back(String::from_utf8_lossy(&line).trim_end().to_string());
            }
        }
        tail
    })
}

/// Decides how a finished process's task ended, writing the error text and
/// `_error` when the process did not.
pub(super) fn conclude(
    job: &Job,
    status: std::io::Result<ExitStatus>,
    end: ProcessEnd,
    tail: &VecDeque<String>,
) -> Result<(), TaskFailure> {
    let storage = job.storage.as_ref();
    let loc = &job.loc;
    let who = format!("worker {:?} ({} at {loc})", job.worker, job.kind.name());
    if storage.is_node_finished(loc) {
        return outputs_complete(job, &who);
    }
    let (kind, summary) = if end == ProcessEnd::TimedOut {
        let secs = job.timeout.map_or(0.0, |t| t.as_secs_f64());
        (
            FailureKind::TimedOut,
            format!("{who} timed out after {secs}s and was stopped"),
        )
    } else if let ProcessEnd::OverMemoryLimit { rss, limit } = end {
        (
            FailureKind::MemoryLimitExceeded,
            format!(
                "{who} grew to {} MiB resident, past memory_limit {} MiB, and was stopped",
                rss >> 20,
                limit >> 20
            ),
        )
    } else if storage.node_has_error(loc) {
        let message = storage
            .read_errors(loc)
            .unwrap_or_else(|e| format!("{who} failed (its error text is unreadable: {e})"));
        return Err(TaskFailure::new(FailureKind::WorkerReportedError, message));
    } else {
        match status {
            Err(e) => (
                FailureKind::ExitedWithoutMarkers,
                format!("{who}: waiting for the process failed: {e}"),
            ),
            Ok(s) if s.success() => {
                if job.kind.done_on_success() {
                    if let Some(m) = missing_outputs_message(job, &who) {
                        fail(job, &m);
                        return Err(TaskFailure::new(FailureKind::DeclaredOutputsMissing, m));
                    }
                    // Not the task's fault (e.g. a full disk): nothing is
                    // marked, the run stops and a resume runs it again.
                    return storage.mark_node_finished(loc).map_err(|e| {
                        TaskFailure::new(
                            FailureKind::ControllerStorage,
                            format!("{who} succeeded but its _done cannot be written: {e}"),
                        )
                    });
                }
                (
                    FailureKind::ExitedWithoutMarkers,
                    format!("{who} exited without marking done or error"),
                )
            }
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => (
                    FailureKind::ExitedWithStatus(code),
                    format!("{who} exited with status {code}"),
                ),
                (None, Some(sig)) => {
                    let name = Signal::try_from(sig).map_or("unknown", |s| s.as_str());
                    (
                        FailureKind::KilledBySignal(sig),
                        format!("{who} was killed by signal {sig} ({name})"),
                    )
                }
                (None, None) => (
                    FailureKind::ExitedWithoutMarkers,
                    format!("{who} ended with {s}"),
                ),
            },
        }
    };
    let mut message = summary;
    // The node log holds the process's output already: only the summary
    // goes there, not its tail a second time.
    fail(job, &message);
    if !tail.is_empty() {
        message.push_str("\nlast lines of stderr:\n");
        for l in tail {
            message.push_str(l);
            message.push('\n');
        }
    }
    Err(TaskFailure::new(kind, message))
}

/// The failure message when a declared output of `job` is missing, naming
/// the ports and the worker; `None` when every declared output exists.
fn missing_outputs_message(job: &Job, who: &str) -> Option<String> {
    let missing: Vec<String> = job
        .outputs
        .iter()
        .filter(|port| !job.storage.output_exists(&job.loc, port))
        .map(|port| format!("{port:?}"))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{who} finished without writing its declared output(s) {} (expected in {})",
        missing.join(", "),
        job.storage.outputs_dir(&job.loc).display()
    ))
}

/// For a task whose `_done` exists: `Ok` when every declared output exists;
/// otherwise takes `_done` back (so no controller trusts the node), records
/// the failure naming the missing ports, and returns it.
pub(super) fn outputs_complete(job: &Job, who: &str) -> Result<(), TaskFailure> {
    let Some(message) = missing_outputs_message(job, who) else {
        return Ok(());
    };
    let storage = job.storage.as_ref();
    if let Err(e) = storage.delete_path(&storage.done_path(&job.loc)) {
        tracing::error!(loc = %job.loc, error = %e, "cannot remove _done of a task with missing outputs");
    }
    fail(job, &message);
    Err(TaskFailure::new(
        FailureKind::DeclaredOutputsMissing,
        message,
    ))
}

/// Appends `message` to the node's log (keeping what the worker wrote), on
/// lines of its own, and creates `_error`.
pub(super) fn fail(job: &Job, message: &str) {
    let storage = job.storage.as_ref();
    let log = storage.worker_logs_path(&job.loc);
    // The worker's error text may end without a line break.
    let mid_line = storage
        .read(&log)
        .is_ok_and(|bytes| bytes.last().is_some_and(|b| *b != b'\n'));
    let mut text = if mid_line {
        "\n".to_string()
    } else {
        String::new()
    };
    text.push_str(message.trim_end());
    text.push('\n');
    let r = storage
        .append(&log, text.as_bytes())
        .and_then(|()| storage.mark_node_error(&job.loc));
    if let Err(e) = r {
        tracing::error!(loc = %job.loc, error = %e, "cannot record a task's failure");
    }
}

impl Executor for ProcessExecutor {
    fn launch(
        &mut self,
        task: &Launch,
        storage: &Arc<dyn ControllerStorage>,
        done: &Events,
    ) -> Result<(), LaunchError> {
        let spawn_error = |message: String| LaunchError::Spawn {
            loc: task.loc.clone(),
            worker: task.worker.clone(),
            message,
        };
        // A task of a killed controller still running this node ends first.
        super::leftover_processes::end_leftover_task_group(storage.as_ref(), &task.loc);
        let job = self.job(task, storage, done)?;
        let mut state = self.pool.lock();
        if state.stopping {
            return Err(spawn_error("the executor is stopping".to_string()));
        }
        if job.warm.is_none()
            && state.queue.is_empty()
            && Pool::used(&state) < self.pool.options.jobs
        {
            self.pool
                .start(&mut state, job)
                .map_err(|failed| spawn_error(failed.1))?;
        } else {
            state.queue.push_back(job);
            self.pool.dispatch(&mut state);
        }
        Ok(())
    }

    fn stop(&mut self) -> usize {
        self.pool.stop_all()
    }

    fn prepare_for_run(&mut self, graph: &GraphData, storage: &Arc<dyn ControllerStorage>) {
        if !self.pool.options.prestart_warm {
            return;
        }
        self.prestart_warm(&workers_called_by(graph), 1, storage);
    }
}

impl ProcessExecutor {
    /// Starts up to `processes_each` warm processes for each of `workers` (a
    /// worker and one of its functions) that can run warm, while free slots
    /// last, so imports happen before the first task arrives.
    pub fn prestart_warm(
        &mut self,
        workers: &[(String, String)],
        processes_each: usize,
        storage: &Arc<dyn ControllerStorage>,
    ) {
        if !self.pool.options.warm {
            return;
        }
        if !storage.workflow_dir().is_dir() {
            return;
        }
        let Ok(tkr_dir) = std::path::absolute(storage.tkr_dir()) else {
            return;
        };
        for (worker, function) in workers {
            let Ok(plan) = self.discovery.resolve(worker, function) else {
                // Its task will fail with the discovery error when it runs.
                continue;
            };
            let Some(key) = self
                .warm_checks
                .key(&plan, &tkr_dir, worker, storage.as_ref())
            else {
                continue;
            };
            let mut state = self.pool.lock();
            if state.stopping || Pool::used(&state) >= self.pool.options.jobs {
                break;
            }
            if state.warm_refused.contains_key(&key) {
                continue;
            }
            let running = state.warm.values().filter(|s| s.key == key).count();
            for _ in running..processes_each {
                if Pool::used(&state) >= self.pool.options.jobs {
                    break;
                }
                tracing::debug!(worker = %worker, "pre-starting a warm process");
                self.pool
                    .start_warm(&mut state, key.clone(), None, storage.clone());
            }
        }
    }
}

/// The workers that the function nodes of `graph` and of the graphs nested in
/// its constants call, each once with one of its functions, in node order
/// (builtins left out).
fn workers_called_by(graph: &GraphData) -> Vec<(String, String)> {
    fn walk(graph: &GraphData, found: &mut Vec<(String, String)>) {
        for node in &graph.nodes {
            match &node.kind {
                NodeKind::Function { function_name } => {
                    if let Some((worker, function)) = function_name.rsplit_once('.') {
                        if worker != super::BUILTINS_WORKER
                            && !found.iter().any(|(w, _)| w == worker)
                        {
                            found.push((worker.to_string(), function.to_string()));
                        }
                    }
                }
                NodeKind::Const {
                    value: ConstValue::Graph(nested),
                } => walk(nested, found),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    walk(graph, &mut found);
    found
}

impl Drop for ProcessExecutor {
    /// No worker outlives its executor.
    fn drop(&mut self) {
        let busy = {
            let s = self.pool.lock();
            !s.running.is_empty() || !s.queue.is_empty() || s.warm.values().any(|w| !w.idle)
        };
        if busy {
            self.pool.stop_all();
        } else {
            self.pool.end_idle_warm();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::executor::test_support::{one_task_graph, run};
    use crate::executor::ExecutorConfig;
    use crate::runtime::{EventChannel, RunError};
    use std::os::unix::fs::PermissionsExt;
    use tierkreis_core::Loc;
    use tierkreis_storage::{FileControllerStorage, MemoryControllerStorage, MemoryFiles};

    fn executor(reg: &Path, grace: Duration) -> ProcessExecutor {
        let discovery = Discovery::new(ExecutorConfig::default(), vec![reg.to_path_buf()]);
        ProcessExecutor::new(
            discovery,
            ProcessOptions {
                jobs: 2,
                task_timeout: None,
                grace,
                warm: true,
                prestart_warm: true,
            },
        )
    }

    #[test]
    fn workers_called_are_found_in_nested_graphs_once_each_without_builtins() {
        let body = r#"{"nodes": [
            {"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}},
            {"type": "function", "function_name": "tkr-aer-worker.submit", "inputs": {"c": [0, "x"]}, "outputs": {"value": [2]}},
            {"type": "function", "function_name": "pytket_worker.compile", "inputs": {"c": [1, "value"]}, "outputs": {"value": [3]}},
            {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
          ], "fixed_inputs": {}, "graph_inputs": ["x"], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;
        let json = format!(
            r#"{{"nodes": [
            {{"type": "function", "function_name": "pytket_worker.compile", "inputs": {{}}, "outputs": {{"value": [2]}}}},
            {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}},
            {{"type": "function", "function_name": "builtins.iadd", "inputs": {{"a": [0, "value"], "b": [1, "value"]}}, "outputs": {{"value": [3]}}}},
            {{"type": "output", "inputs": {{"value": [2, "value"]}}, "outputs": {{}}}}
          ], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {{}}, "node_metadata": {{}}}}"#
        );
        let graph = GraphData::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            workers_called_by(&graph),
            vec![
                ("pytket_worker".to_string(), "compile".to_string()),
                ("tkr-aer-worker".to_string(), "submit".to_string()),
            ]
        );
    }

    fn shell_worker(reg: &Path, name: &str, body: &str) {
        let p = reg.join(name).join("main.sh");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn memory_storage_cannot_run_processes() {
        let t = tempfile::tempdir().unwrap();
        shell_worker(t.path(), "w", "exit 0");
        let st = MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::new_v4(), None);
        let mut e = executor(t.path(), Duration::from_secs(1));
        let (outcome, _) = run(Arc::new(st.clone()), &one_task_graph("w.f", "1"), &mut e).unwrap();
        assert!(matches!(outcome, crate::scheduler::Outcome::Failed(_)));
        let text = st.read_errors(&Loc::root().n(1)).unwrap();
        assert!(text.contains("need checkpoints on disk"), "{text}");
    }

    #[test]
    fn stop_terminates_the_group_and_marks_nothing() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        let flag = t.path().join("started");
        // Ignores SIGTERM: only the SIGKILL after the grace period ends it.
        shell_worker(
            &reg,
            "w",
            &format!(
                "trap '' TERM\ntouch {}\nwhile :; do sleep 0.05; done\n",
                flag.display()
            ),
        );
        let st: Arc<dyn ControllerStorage> = Arc::new(FileControllerStorage::new(
            t.path().join("ck"),
            uuid::Uuid::new_v4(),
            None,
        ));
        runtime_start(&st);
        let mut e = executor(&reg, Duration::from_millis(200));
        let events = EventChannel::new();
        let stop = events.stop_handle();
        let waiter = std::thread::spawn(move || {
            while !flag.exists() {
                std::thread::sleep(Duration::from_millis(10));
            }
            stop.stop();
        });
        let r = crate::runtime::run_with_events(st.clone(), false, &mut e, &mut |_| {}, events);
        waiter.join().unwrap();
        assert!(matches!(r, Err(RunError::Stopped { stopped: 1 })), "{r:?}");
        assert_eq!(e.running(), 0);
        let loc = Loc::root().n(1);
        assert!(!st.node_has_error(&loc) && !st.is_node_finished(&loc));
        let log = String::from_utf8(st.read(&st.logs_path()).unwrap()).unwrap();
        assert!(
            log.contains("run stopped: 1 running task(s) stopped"),
            "{log}"
        );
    }

    fn file_storage(dir: &Path) -> Arc<dyn ControllerStorage> {
        Arc::new(FileControllerStorage::new(
            dir.join("ck"),
            uuid::Uuid::new_v4(),
            None,
        ))
    }

    #[test]
    fn done_without_a_declared_output_fails_the_node_naming_port_and_worker() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        // Marks itself done (as a Python worker would) but writes no output.
        shell_worker(&reg, "lazy", "touch \"$done_path\"\n");
        // Exits 0, so the executor would mark it done, but writes no output.
        shell_worker(&reg, "quiet", "exit 0\n");
        // Writes its output: the check lets it through.
        shell_worker(&reg, "good", "printf 5 > \"$output_value_file\"\n");
        for (worker, ok) in [("lazy", false), ("quiet", false), ("good", true)] {
            let st = file_storage(&t.path().join(worker));
            let mut e = executor(&reg, Duration::from_secs(1));
            let graph = one_task_graph(&format!("{worker}.f"), "1");
            let (outcome, value) = run(st.clone(), &graph, &mut e).unwrap();
            let loc = Loc::root().n(1);
            if ok {
                assert_eq!(value.as_deref(), Some(&b"5"[..]), "{outcome:?}");
                continue;
            }
            assert!(
                matches!(outcome, crate::scheduler::Outcome::Failed(_)),
                "{worker}: {outcome:?}"
            );
            assert!(st.node_has_error(&loc) && !st.is_node_finished(&loc));
            let text = st.read_errors(&loc).unwrap();
            assert!(
                text.contains(&format!("worker \"{worker}\""))
                    && text.contains("declared output(s) \"value\""),
                "{text}"
            );
        }
    }

    fn runtime_start(st: &Arc<dyn ControllerStorage>) {
        crate::runtime::start_workflow(
            st.as_ref(),
            &one_task_graph("w.f", "1"),
            &Default::default(),
        )
        .unwrap();
    }

    #[test]
    fn quoting_and_command_line() {
        let spec = Spec {
            program: "bash".into(),
            args: vec!["/a b/main.sh".into(), "x/y".into(), "it's".into()],
            cwd: Some("/w".into()),
            env: BTreeMap::new(),
            stdin: Some("/in".into()),
            stdout: None,
            stdin_pipe: false,
        };
        assert_eq!(
            spec.command_line(),
            r#"cd /w && bash '/a b/main.sh' x/y "it's" < /in"#
        );
    }

    #[test]
    fn shell_quoting_keeps_every_byte_of_a_path_that_is_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        for word in [
            &b"/data/caf\xe9 \xff$x/`y`/it's"[..],
            b"plain/path",
            b"",
            b"\xc3",
        ] {
            let quoted = shell_quote(std::ffi::OsStr::from_bytes(word)).expect("no NUL");
            // The shell reads the quoted word back as exactly the same bytes.
            let mut script = b"printf %s ".to_vec();
            script.extend_from_slice(&quoted);
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(std::ffi::OsStr::from_bytes(&script))
                .output()
                .expect("sh");
            assert_eq!(
                out.stdout,
                word,
                "quoted as {:?}",
                String::from_utf8_lossy(&quoted)
            );
        }
        assert!(shell_quote(std::ffi::OsStr::from_bytes(b"a\0b")).is_none());
        // Messages show such bytes as U+FFFD, never fail.
        assert_eq!(
            quote_for_display(std::ffi::OsStr::from_bytes(b"caf\xe9")),
            "'caf\u{fffd}'"
        );
    }

    #[test]
    fn env_has_the_reference_shell_variables_with_absolute_paths() {
        let args = WorkerCallArgs {
            function_name: "f".into(),
            inputs: [("a".to_string(), PathBuf::from("wf/-.N0/outputs/value"))]
                .into_iter()
                .collect(),
            outputs: [("value".to_string(), PathBuf::from("wf/-.N1/outputs/value"))]
                .into_iter()
                .collect(),
            output_dir: "wf/-.N1/outputs".into(),
            done_path: "wf/-.N1/_done".into(),
            error_path: "wf/-.N1/logs".into(),
            logs_path: Some("wf/logs".into()),
        };
        let env = worker_env(
            Path::new("/tkr"),
            &args,
            Path::new("wf/-.N1/definition"),
            Path::new("/unused"),
        );
        let expect = [
            ("checkpoints_directory", "/tkr"),
            ("function_name", "/tkr/f"),
            ("done_path", "/tkr/wf/-.N1/_done"),
            ("error_path", "/tkr/wf/-.N1/logs"),
            ("output_dir", "/tkr/wf/-.N1/outputs"),
            ("logs_path", "/tkr/wf/logs"),
            ("output_value_file", "/tkr/wf/-.N1/outputs/value"),
            ("input_a_file", "/tkr/wf/-.N0/outputs/value"),
            ("worker_call_args_file", "/tkr/wf/-.N1/definition"),
            ("TKR_DIR", "/tkr"),
        ];
        for (k, v) in expect {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert_eq!(env.len(), expect.len());
    }

    #[test]
    fn spawn_puts_the_child_in_its_own_process_group_with_cwd_env_and_stdio() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let input = t.path().join("in");
        std::fs::write(&input, "from stdin").unwrap();
        // Field 5 of /proc/PID/stat is the process group id.
        let script = r#"read -r _ _ _ _ pgrp _ < /proc/$$/stat; echo "$pgrp $$ $X $(pwd)"; cat"#;
        let spec = Spec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: Some(t.path().to_path_buf()),
            env: [("X".to_string(), "x1".to_string())].into_iter().collect(),
            stdin: Some(input),
            stdout: Some(out.clone()),
            stdin_pipe: false,
        };
        let (mut child, _registration) = spec.spawn().unwrap();
        assert!(child.wait().unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        let pid = child.id().to_string();
        let cwd = std::fs::canonicalize(t.path()).unwrap();
        assert_eq!(
            text,
            format!("{pid} {pid} x1 {}\nfrom stdin", cwd.display())
        );
    }
}
