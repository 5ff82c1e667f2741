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
//! - **Heartbeat**: the controller touches
//!   `tkr-worker-jobs/controller-<session>.alive` every second; a job that
//!   sees it older than `worker_idle_secs` ends itself, so a SIGKILLed
//!   controller leaves no allocation burning.
//! - **Faults**: one batched status query per `[hpc] poll_secs`. A job that
//!   ends while serving (cancelled, preempted, out of memory or time) has
//!   its running tasks recorded as failed attempts naming the job
//!   (`<node>/attempts/<k>`, as retries do) and queued again for another
//!   job, at most [`MAX_JOB_LOSSES`] times each; tasks it had not taken go
//!   back to the queue as they were. A task's failure that may be the job's
//!   end (a signal, an exit) is held until the next status query says
//!   whether the job still runs.
//!
//! A task that cannot be served this way (`warm = false`, `--no-warm`, MPI
//! or a container in its job settings, a worker that cannot run warm) runs
//! as one batch job per task ([`super::hpc`]).

pub mod mailbox;
pub mod scaling;
pub mod serve;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tierkreis_storage::ControllerStorage;

use super::config::batch::{BatchSystem, JobConfig};
use super::discovery::LaunchPlan;
use super::hpc::{script, Commands, JobCommand, JobEnd, JobSpec, JobState};
use super::warm::scaling::MeanDuration;
use crate::runtime::{BatchJobFailure, Completion, Events, FailureKind, TaskFailure};
use crate::scheduler::Launch;
use mailbox::{JobFolder, SubmittedRecord, TaskOrder, TaskReport, WorkerJobSpec, WORKER_JOBS_DIR};
use scaling::{decide_worker_jobs, WorkerJobsLoad};

/// How many times one task is queued again after losing its worker job.
pub const MAX_JOB_LOSSES: u32 = 3;

/// Worker jobs in a row that end without serving before the pool's tasks
/// fail (a broken job script or `tkr` missing on the compute nodes).
const MAX_FAILED_STARTS: u32 = 3;

/// Tasks handed to a job beyond its processes, so that none waits for the
/// next poll between two tasks.
const PREFETCH_PER_SLOT: usize = 1;

/// How often the controller's heartbeat file is touched.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How often a job that has not started yet is looked for.
const START_CHECK_EVERY: Duration = Duration::from_millis(200);

/// How long the jobs of a finished run have to end by themselves before
/// they are cancelled.
const END_GRACE: Duration = Duration::from_secs(2);

/// A job asked to end that is still there after this is cancelled.
const ENDING_GRACE: Duration = Duration::from_secs(30);

/// The controller's fastest and slowest look at the outboxes.
const FAST_TICK: Duration = Duration::from_millis(5);
const SLOW_TICK: Duration = Duration::from_millis(100);

/// Settings of the worker-job executor.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerJobOptions {
    /// Time between two status queries of the batch system.
    pub poll: Duration,
    /// Cancel the jobs when the run is stopped.
    pub cancel_on_stop: bool,
    /// SIGTERM .. SIGKILL for a task stopped inside a job.
    pub grace: Duration,
    /// The timeout of tasks without their own.
    pub task_timeout: Option<Duration>,
    /// The `tkr` program the job runs.
    pub tkr_program: PathBuf,
    /// `PATH` for the scheduler commands; `None` keeps the process's.
    pub path: Option<OsString>,
}

/// What a launch needs to know about a task that worker jobs can serve.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerJobRoute {
    pub system: BatchSystem,
    /// The worker's command, resolved by the controller's discovery.
    pub plan: LaunchPlan,
    pub job: Option<JobConfig>,
    /// Warm processes per job.
    pub slots: usize,
    pub max_jobs: usize,
    pub idle: Duration,
}

/// The `tkr` program for worker jobs: this process's executable when it is
/// `tkr`, else `tkr` on `PATH`, else `tkr-rs` (the name the Python wheel
/// installs it under) for an embedding process such as Python.
pub fn find_tkr_program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    if let Some(exe) = exe.filter(|e| e.file_name().is_some_and(|n| n == "tkr" || n == "tkr-rs")) {
        return Some(exe);
    }
    which::which("tkr").or_else(|_| which::which("tkr-rs")).ok()
}

/// Runs tasks on warm processes inside batch jobs (see the module docs).
#[derive(Debug)]
pub struct WorkerJobExecutor {
    orders: Sender<Order>,
    thread: Option<JoinHandle<()>>,
}

/// What the executor's thread is told.
enum Order {
    Task(Box<Queued>, Box<WorkerJobRoute>),
    /// Stop: cancel the jobs, report how many tasks were running.
    Stop(Sender<usize>),
    /// The run is over: end every job.
    End,
}

/// A task waiting for, or handed to, a worker job.
struct Queued {
    task: Launch,
    storage: Arc<dyn ControllerStorage>,
    events: Events,
    job_losses: u32,
}

impl WorkerJobExecutor {
    /// An executor whose thread starts now and ends with it.
    pub fn new(options: WorkerJobOptions) -> Self {
        let (orders, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("tkr-worker-jobs".into())
            .spawn(move || Driver::new(options).run(rx))
            .ok();
        Self { orders, thread }
    }

    /// Queues `task` for a worker job of `route`.
    pub fn launch(
        &self,
        task: &Launch,
        route: WorkerJobRoute,
        storage: &Arc<dyn ControllerStorage>,
        events: &Events,
    ) -> Result<(), crate::runtime::LaunchError> {
        let queued = Queued {
            task: task.clone(),
            storage: storage.clone(),
            events: events.clone(),
            job_losses: 0,
        };
        self.orders
            .send(Order::Task(Box::new(queued), Box::new(route)))
            .map_err(|_| crate::runtime::LaunchError::Spawn {
                loc: task.loc.clone(),
                worker: task.worker.clone(),
                message: "the worker-job executor has ended".to_string(),
            })
    }

    /// Cancels every job (when `cancel_on_stop`); nothing is marked failed.
    /// Returns how many tasks were running in them.
    pub fn stop(&mut self) -> usize {
        let (tx, rx) = channel();
        if self.orders.send(Order::Stop(tx)).is_err() {
            return 0;
        }
        rx.recv().unwrap_or(0)
    }
}

impl Drop for WorkerJobExecutor {
    /// The run is over: every job is ended.
    fn drop(&mut self) {
        let _ = self.orders.send(Order::End);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The executor's thread: owns every pool and job.
struct Driver {
    options: WorkerJobOptions,
    commands: Commands,
    pools: Vec<Pool>,
    /// `controller-<session>.alive`, once a job was submitted.
    heartbeat: Option<PathBuf>,
    session: String,
    last_heartbeat: Instant,
    last_query: Instant,
    next_job_number: u64,
    stopped: bool,
}

/// The tasks of one worker with one command and job settings, and its jobs.
struct Pool {
    route: WorkerJobRoute,
    worker: String,
    storage: Arc<dyn ControllerStorage>,
    queue: VecDeque<Queued>,
    jobs: Vec<WorkerJob>,
    task_time: MeanDuration,
    job_start: MeanDuration,
    /// Jobs in a row that ended without serving.
    failed_starts: u32,
}

/// Where a worker job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Submitted, not yet serving.
    Pending,
    /// Serving tasks.
    Serving,
    /// Asked to end (idle, or the run is over).
    Ending { since: Instant },
}

/// A task's failure held until the job's state says whose fault it was.
struct HeldFailure {
    seq: u64,
    report: TaskReport,
    /// Status queries made since the report came.
    queries_since: u32,
}

struct WorkerJob {
    folder: JobFolder,
    /// The batch system's name, for the timeline's lanes.
    system: &'static str,
    job_id: String,
    submitted: Instant,
    last_start_check: Instant,
    phase: Phase,
    /// Tasks handed to it, by sequence number.
    assigned: BTreeMap<u64, Queued>,
    held: Vec<HeldFailure>,
    next_seq: u64,
    idle_since: Instant,
}

/// Why a job is gone while it still had tasks.
struct JobGone {
    failure: BatchJobFailure,
    summary: String,
}

impl Driver {
    fn new(options: WorkerJobOptions) -> Self {
        let commands = Commands {
            path: options.path.clone(),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            options,
            commands,
            pools: Vec::new(),
            heartbeat: None,
            session: format!("{}-{nanos}", std::process::id()),
            last_heartbeat: Instant::now(),
            last_query: Instant::now(),
            next_job_number: 1,
            stopped: false,
        }
    }

    fn run(mut self, rx: Receiver<Order>) {
        let mut tick = FAST_TICK;
        loop {
            match rx.recv_timeout(tick) {
                Ok(Order::Task(q, route)) => {
                    self.enqueue(*q, *route);
                    tick = FAST_TICK;
                    // Take every order waiting before doing the rounds.
                    continue;
                }
                Ok(Order::Stop(reply)) => {
                    let running = self.stop();
                    let _ = reply.send(running);
                    continue;
                }
                Ok(Order::End) | Err(RecvTimeoutError::Disconnected) => {
                    self.end_all();
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.stopped {
                tick = SLOW_TICK;
                continue;
            }
            let active = self.round();
            tick = if active {
                FAST_TICK
            } else {
                (tick * 2).min(SLOW_TICK)
            };
        }
    }

    fn enqueue(&mut self, q: Queued, route: WorkerJobRoute) {
        if self.stopped {
            return;
        }
        if self.pools.is_empty() {
            self.cancel_earlier_controllers_jobs(q.storage.as_ref());
        }
        let worker = q.task.worker.clone();
        let index = match self
            .pools
            .iter()
            .position(|p| p.worker == worker && p.route == route)
        {
            Some(i) => i,
            None => {
                self.pools.push(Pool {
                    route,
                    worker,
                    storage: q.storage.clone(),
                    queue: VecDeque::new(),
                    jobs: Vec::new(),
                    task_time: MeanDuration::default(),
                    job_start: MeanDuration::default(),
                    failed_starts: 0,
                });
                self.pools.len() - 1
            }
        };
        self.pools[index].queue.push_back(q);
    }

    /// Before this controller hands out its first task: the worker jobs an
    /// earlier controller of this workflow left (it was killed; only one
    /// controller holds a workflow) are cancelled and waited for, so that a
    /// task of theirs still running never writes a node this run starts again.
    fn cancel_earlier_controllers_jobs(&self, storage: &dyn ControllerStorage) {
        let jobs_dir = storage.workflow_dir().join(WORKER_JOBS_DIR);
        let mut by_system: HashMap<BatchSystem, Vec<String>> = HashMap::new();
        for e in std::fs::read_dir(&jobs_dir).into_iter().flatten().flatten() {
            let folder = JobFolder::new(e.path());
            if folder.ended_path().exists() {
                continue;
            }
            let Ok(record) = mailbox::read_record::<SubmittedRecord>(&folder.submitted_path())
            else {
                continue;
            };
            let system = match record.system.as_str() {
                "slurm" => BatchSystem::Slurm,
                "pbs" => BatchSystem::Pbs,
                "pjsub" => BatchSystem::Pjsub,
                _ => continue,
            };
            by_system.entry(system).or_default().push(record.job_id);
        }
        for (system, ids) in by_system {
            let active: Vec<String> = match system.query(&self.commands, &ids) {
                Ok(states) => ids
                    .into_iter()
                    .filter(|id| {
                        states
                            .get(super::hpc::batch_system::job_key(id))
                            .is_some_and(JobState::is_active)
                    })
                    .collect(),
                Err(_) => ids,
            };
            if active.is_empty() {
                continue;
            }
            tracing::info!(jobs = ?active, "cancelling the worker jobs of an earlier controller");
            let _ = storage.append_workflow_log(&format!(
                "tkr: cancelling worker job(s) {} left by an earlier controller of this workflow",
                active.join(", ")
            ));
            if let Err(e) = system.cancel(&self.commands, &active) {
                tracing::warn!(error = %e, "cannot cancel an earlier controller's worker jobs");
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let still = system.query(&self.commands, &active).is_ok_and(|states| {
                    active.iter().any(|id| {
                        states
                            .get(super::hpc::batch_system::job_key(id))
                            .is_some_and(|s| *s == JobState::Running)
                    })
                });
                if !still {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// One look at everything; `true` when something is going on that
    /// deserves a fast next look.
    fn round(&mut self) -> bool {
        if let Some(hb) = &self.heartbeat {
            if self.last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
                touch(hb);
                self.last_heartbeat = Instant::now();
            }
        }
        let states = if self.last_query.elapsed() >= self.options.poll {
            self.last_query = Instant::now();
            Some(self.query_states())
        } else {
            None
        };
        let mut active = false;
        for i in 0..self.pools.len() {
            active |= self.pool_round(i, states.as_ref());
        }
        active
    }

    /// The scheduler's state of every live job, by system.
    fn query_states(&self) -> HashMap<BatchSystem, HashMap<String, JobState>> {
        let mut ids: HashMap<BatchSystem, Vec<String>> = HashMap::new();
        for p in &self.pools {
            for j in &p.jobs {
                ids.entry(p.route.system)
                    .or_default()
                    .push(j.job_id.clone());
            }
        }
        let mut states = HashMap::new();
        for (system, ids) in ids {
            match system.query(&self.commands, &ids) {
                Ok(m) => {
                    states.insert(system, m);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "worker job status query failed; trying again")
                }
            }
        }
        states
    }

    fn pool_round(
        &mut self,
        index: usize,
        states: Option<&HashMap<BatchSystem, HashMap<String, JobState>>>,
    ) -> bool {
        let mut active = false;
        let mut completions: Vec<(Queued, Result<(), TaskFailure>)> = Vec::new();
        let mut gone: Vec<(usize, Option<JobGone>)> = Vec::new();
        {
            let pool = &mut self.pools[index];
            let system = pool.route.system;
            for (ji, job) in pool.jobs.iter_mut().enumerate() {
                if job.phase == Phase::Pending
                    && job.last_start_check.elapsed() >= START_CHECK_EVERY
                {
                    job.last_start_check = Instant::now();
                    if job.folder.started_path().exists() {
                        job.phase = Phase::Serving;
                        job.idle_since = Instant::now();
                        pool.job_start.record(job.submitted.elapsed());
                        tracing::info!(job = %job.job_id, worker = %pool.worker, took = ?job.submitted.elapsed(), "worker job serving");
                    }
                }
                if !job.assigned.is_empty() {
                    active = true;
                    receive_reports(job, &mut pool.task_time, &mut completions);
                }
                let state = states
                    .and_then(|s| s.get(&system))
                    .map(|m| m.get(super::hpc::batch_system::job_key(&job.job_id)));
                if let Some(state) = state {
                    write_state(job, state);
                    for h in &mut job.held {
                        h.queries_since += 1;
                    }
                    match state {
                        Some(s) if s.is_active() => {
                            // Still running: held failures were the tasks' own.
                            release_held(job, &mut completions);
                        }
                        _ => {
                            // One last look at what it reported.
                            receive_reports(job, &mut pool.task_time, &mut completions);
                            let why = job_gone(job, state.cloned());
                            gone.push((ji, why));
                        }
                    }
                }
                if matches!(job.phase, Phase::Ending { since } if since.elapsed() > ENDING_GRACE) {
                    // Asked to end long ago and still there: cancel it.
                    if let Err(e) = system.cancel(&self.commands, std::slice::from_ref(&job.job_id))
                    {
                        tracing::warn!(job = %job.job_id, error = %e, "cannot cancel a worker job");
                    }
                    job.phase = Phase::Ending {
                        since: Instant::now(),
                    };
                }
            }
        }
        for (queued, result) in completions {
            queued.events.complete(Completion {
                loc: queued.task.loc.clone(),
                result,
            });
        }
        // Jobs gone: their tasks go back to the queue or fail.
        for (ji, why) in gone.into_iter().rev() {
            let job = self.pools[index].jobs.remove(ji);
            if job.folder.ended_path().exists() {
                let _ = mailbox::write_atomically(&job.folder.state_path(), b"ended");
            }
            self.job_ended(index, job, why);
            active = true;
        }
        active |= self.dispatch(index);
        self.scale(index);
        active
    }

    /// Hands queued tasks to serving jobs with room.
    fn dispatch(&mut self, index: usize) -> bool {
        let pool = &mut self.pools[index];
        let room = pool.route.slots.max(1) * (1 + PREFETCH_PER_SLOT);
        let mut any = false;
        // The emptiest job first.
        let mut order: Vec<usize> = (0..pool.jobs.len())
            .filter(|&i| pool.jobs[i].phase == Phase::Serving)
            .collect();
        order.sort_by_key(|&i| pool.jobs[i].assigned.len());
        for ji in order {
            while pool.jobs[ji].assigned.len() < room {
                let Some(q) = pool.queue.pop_front() else {
                    return any;
                };
                let job = &mut pool.jobs[ji];
                let seq = job.next_seq;
                job.next_seq += 1;
                let order = TaskOrder {
                    seq,
                    loc: q.task.loc.to_string(),
                    worker: q.task.worker.clone(),
                    function: q.task.function.clone(),
                    call_args_path: q.task.call_args_path.clone(),
                };
                match mailbox::write_record(&job.folder.order_path(seq), &order) {
                    Ok(()) => {
                        job.assigned.insert(seq, q);
                        any = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot hand a task to a worker job");
                        pool.queue.push_front(q);
                        return any;
                    }
                }
            }
        }
        any
    }

    /// Submits and ends jobs as [`scaling`] decides.
    fn scale(&mut self, index: usize) {
        let load = {
            let p = &self.pools[index];
            WorkerJobsLoad {
                queued: p.queue.len(),
                pending_jobs: p.jobs.iter().filter(|j| j.phase == Phase::Pending).count(),
                serving_jobs: p
                    .jobs
                    .iter()
                    .filter(|j| j.phase == Phase::Serving)
                    .map(|j| {
                        (j.assigned.is_empty() && j.held.is_empty()).then(|| j.idle_since.elapsed())
                    })
                    .collect(),
                slots_per_job: p.route.slots,
                max_jobs: p.route.max_jobs,
                mean_task: p.task_time.mean(),
                mean_job_start: p.job_start.mean(),
                idle: p.route.idle,
            }
        };
        let decision = decide_worker_jobs(&load);
        if !decision.end.is_empty() {
            let pool = &mut self.pools[index];
            let serving: Vec<usize> = (0..pool.jobs.len())
                .filter(|&i| pool.jobs[i].phase == Phase::Serving)
                .collect();
            for k in decision.end {
                if let Some(&ji) = serving.get(k) {
                    let job = &mut pool.jobs[ji];
                    tracing::info!(job = %job.job_id, "ending an idle worker job");
                    if let Err(e) = job.folder.request_stop() {
                        tracing::warn!(error = %e, "cannot ask a worker job to end");
                    }
                    job.phase = Phase::Ending {
                        since: Instant::now(),
                    };
                }
            }
        }
        for _ in 0..decision.submit {
            if let Err(message) = self.submit(index) {
                self.fail_queue(index, &message);
                return;
            }
        }
    }

    /// Writes a job's folder and script and submits it.
    fn submit(&mut self, index: usize) -> Result<(), String> {
        let (storage, worker, route) = {
            let p = &self.pools[index];
            (p.storage.clone(), p.worker.clone(), p.route.clone())
        };
        let workflow_dir = std::path::absolute(storage.workflow_dir())
            .map_err(|e| format!("cannot make the workflow folder absolute: {e}"))?;
        let tkr_dir = std::path::absolute(storage.tkr_dir())
            .map_err(|e| format!("cannot make the checkpoint folder absolute: {e}"))?;
        let jobs_dir = workflow_dir.join(WORKER_JOBS_DIR);
        let heartbeat = jobs_dir.join(format!("controller-{}.alive", self.session));
        std::fs::create_dir_all(&jobs_dir)
            .map_err(|e| format!("cannot make {}: {e}", jobs_dir.display()))?;
        // A folder of its own, never one an earlier controller of this
        // workflow used (a resumed run finds theirs there).
        let (number, folder) = loop {
            let number = self.next_job_number;
            self.next_job_number += 1;
            let dir = jobs_dir.join(format!("{worker}-{number}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => break (number, JobFolder::new(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot make {}: {e}", dir.display())),
            }
        };
        folder.create().map_err(|e| e.to_string())?;
        if self.heartbeat.is_none() {
            mailbox::write_atomically(&heartbeat, b"").map_err(|e| e.to_string())?;
            self.heartbeat = Some(heartbeat.clone());
        }
        let spec = WorkerJobSpec {
            tkr_dir: tkr_dir.clone(),
            workflow_id: storage.workflow_id().to_string(),
            worker: worker.clone(),
            plan: route.plan.clone(),
            slots: route.slots,
            grace_secs: self.options.grace.as_secs_f64(),
            task_timeout_secs: self.options.task_timeout.map(|d| d.as_secs_f64()),
            heartbeat,
            controller_timeout_secs: route.idle.as_secs_f64(),
            system: route.system.name().to_string(),
        };
        mailbox::write_record(&folder.spec_path(), &spec).map_err(|e| e.to_string())?;
        let job_spec = JobSpec::resolve(
            route.job.clone(),
            &format!("{worker}.worker-job"),
            None,
            folder.dir(),
            JobCommand {
                tkr_dir,
                cwd: None,
                env: BTreeMap::new(),
                command: Vec::new(),
                stdout: None,
                stdin: None,
                node_logs: folder.dir().join("job.out"),
                done: folder.dir().join("ended.json"),
                error: folder.dir().join("ended.json"),
                parent_metadata: folder.dir().join("ended.json"),
                done_on_success: false,
                who: format!("worker job {number} of {worker:?}"),
            },
        );
        let script = script::render_worker_job(
            route.system,
            &job_spec,
            &self.options.tkr_program,
            folder.dir(),
        )
        .map_err(|e| format!("the worker job script cannot be written: {e}"))?;
        mailbox::write_atomically(&folder.script_path(), &script).map_err(|e| e.to_string())?;
        let job_id = route
            .system
            .submit(
                &self.commands,
                &folder.script_path(),
                job_spec.no_check_directory,
            )
            .map_err(|e| {
                format!(
                    "the {} scheduler refused the worker job of {worker:?} (script {}): {e}",
                    route.system.name(),
                    folder.script_path().display()
                )
            })?;
        let record = SubmittedRecord {
            system: route.system.name().to_string(),
            job_id: job_id.clone(),
            worker: worker.clone(),
            at: mailbox::unix_now(),
        };
        if let Err(e) = mailbox::write_record(&folder.submitted_path(), &record) {
            tracing::warn!(error = %e, "cannot record a worker job");
        }
        let _ = storage.append_workflow_log(&format!(
            "tkr: submitted worker job {job_id} ({}) for worker {worker:?}: {} warm process(es), folder {}",
            route.system.name(),
            route.slots,
            folder.dir().display()
        ));
        tracing::info!(job = %job_id, worker = %worker, "worker job submitted");
        let now = Instant::now();
        self.pools[index].jobs.push(WorkerJob {
            folder,
            system: route.system.name(),
            job_id,
            submitted: now,
            last_start_check: now,
            phase: Phase::Pending,
            assigned: BTreeMap::new(),
            held: Vec::new(),
            next_seq: 1,
            idle_since: now,
        });
        Ok(())
    }

    /// No job can be submitted: the queued tasks fail with `message`, unless
    /// a job of the pool still runs (it will take them).
    fn fail_queue(&mut self, index: usize, message: &str) {
        let pool = &mut self.pools[index];
        if !pool.jobs.is_empty() {
            tracing::warn!(%message, "cannot submit another worker job");
            return;
        }
        for q in pool.queue.drain(..) {
            fail_node(&q, message);
            q.events.complete(Completion {
                loc: q.task.loc.clone(),
                result: Err(TaskFailure::new(FailureKind::CouldNotLaunch, message)),
            });
        }
    }

    /// A job has ended: what it reported is in; its other tasks go back to
    /// the queue (not taken), or are recorded as a failed attempt and queued
    /// again (taken, so maybe half done), or fail when lost too often.
    fn job_ended(&mut self, index: usize, mut job: WorkerJob, why: Option<JobGone>) {
        let pool = &mut self.pools[index];
        let never_served = !job.folder.started_path().exists();
        if never_served {
            pool.failed_starts += 1;
        } else {
            pool.failed_starts = 0;
        }
        // Held failures came with the job's end: not the tasks' fault.
        job.held.clear();
        let orphans = std::mem::take(&mut job.assigned);
        let Some(why) = why else {
            for q in orphans.into_values().rev() {
                pool.queue.push_front(q);
            }
            if never_served && pool.failed_starts >= MAX_FAILED_STARTS {
                let message = format!(
                    "{} worker jobs of worker {:?} in a row ended without starting to serve; the last, {} ({}), wrote:\n{}",
                    pool.failed_starts,
                    pool.worker,
                    job.job_id,
                    job.folder.dir().display(),
                    job_output_tail(&job.folder)
                );
                self.fail_queue(index, &message);
            }
            return;
        };
        let storage = pool.storage.clone();
        let mut requeue: Vec<Queued> = Vec::new();
        for (seq, mut q) in orphans {
            let order = job.folder.order_path(seq);
            if order.exists() {
                // Never taken: it goes back as it was.
                let _ = std::fs::remove_file(&order);
                requeue.push(q);
                continue;
            }
            if storage.is_node_finished(&q.task.loc) {
                q.events.complete(Completion {
                    loc: q.task.loc.clone(),
                    result: Ok(()),
                });
                continue;
            }
            let message = format!(
                "worker {:?} (at {}) was lost with its worker job {} ({}): {}",
                q.task.worker,
                q.task.loc,
                job.job_id,
                pool.route.system.name(),
                why.summary
            );
            fail_node(&q, &message);
            q.job_losses += 1;
            if q.job_losses > MAX_JOB_LOSSES {
                q.events.complete(Completion {
                    loc: q.task.loc.clone(),
                    result: Err(TaskFailure::new(
                        FailureKind::BatchJob(why.failure),
                        message,
                    )),
                });
                continue;
            }
            match crate::retry::archive_attempt(storage.as_ref(), &q.task.loc, &message) {
                Ok(k) => {
                    let _ = storage.append_workflow_log(&format!(
                        "task {} attempt {k} lost with worker job {}; running it again on another job",
                        q.task.loc, job.job_id
                    ));
                    requeue.push(q);
                }
                Err(e) => {
                    q.events.complete(Completion {
                        loc: q.task.loc.clone(),
                        result: Err(TaskFailure::new(
                            FailureKind::ControllerStorage,
                            format!("cannot record the lost attempt of {}: {e}", q.task.loc),
                        )),
                    });
                }
            }
        }
        tracing::warn!(job = %job.job_id, summary = %why.summary, requeued = requeue.len(), "worker job lost");
        let _ = storage.append_workflow_log(&format!(
            "tkr: worker job {} of worker {:?} is gone ({}); {} task(s) queued again",
            job.job_id,
            pool.worker,
            why.summary,
            requeue.len()
        ));
        for q in requeue.into_iter().rev() {
            pool.queue.push_front(q);
        }
    }

    /// Ctrl-C, `tkr stop`: every job cancelled (unless `cancel_on_stop` is
    /// off), nothing marked failed.
    fn stop(&mut self) -> usize {
        self.stopped = true;
        let mut running = 0;
        for p in &mut self.pools {
            running += p.jobs.iter().map(|j| j.assigned.len()).sum::<usize>();
            p.queue.clear();
        }
        if self.options.cancel_on_stop {
            self.cancel_all();
        } else {
            for p in &mut self.pools {
                p.jobs.clear();
            }
        }
        running
    }

    /// The run is over: every job is asked to end; those serving get a
    /// moment to end by themselves (their warm processes exit cleanly), the
    /// others (pending in the queue, or slow) are cancelled.
    fn end_all(&mut self) {
        for p in &self.pools {
            for j in &p.jobs {
                let _ = j.folder.request_stop();
            }
        }
        let deadline = Instant::now() + END_GRACE;
        while Instant::now() < deadline {
            for p in &mut self.pools {
                p.jobs.retain(|j| !j.folder.ended_path().exists());
            }
            if self
                .pools
                .iter()
                .all(|p| p.jobs.iter().all(|j| j.phase != Phase::Serving))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.cancel_all();
        if let Some(hb) = self.heartbeat.take() {
            let _ = std::fs::remove_file(hb);
        }
    }

    fn cancel_all(&mut self) {
        let mut by_system: HashMap<BatchSystem, Vec<String>> = HashMap::new();
        let why = if self.stopped {
            "cancelled: the run was stopped"
        } else {
            "cancelled: the run is over"
        };
        for p in &mut self.pools {
            for j in p.jobs.drain(..) {
                if let Err(e) = mailbox::write_atomically(&j.folder.state_path(), why.as_bytes()) {
                    tracing::debug!(error = %e, "cannot record a worker job's state");
                }
                by_system.entry(p.route.system).or_default().push(j.job_id);
            }
        }
        for (system, ids) in by_system {
            tracing::info!(jobs = ?ids, "cancelling worker jobs");
            if let Err(e) = system.cancel(&self.commands, &ids) {
                tracing::warn!(error = %e, "cannot cancel the worker jobs");
            }
        }
    }
}

/// Takes the job's reports: successes complete at once; failures that may
/// be the job's end are held until its next status.
fn receive_reports(
    job: &mut WorkerJob,
    task_time: &mut MeanDuration,
    completions: &mut Vec<(Queued, Result<(), TaskFailure>)>,
) {
    let seqs = match job.folder.list_outbox() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a worker job's outbox");
            return;
        }
    };
    for seq in seqs {
        let report: TaskReport = match mailbox::take_record(&job.folder.report_path(seq)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a worker job's report");
                continue;
            }
        };
        job.idle_since = Instant::now();
        let Some(q) = job
            .assigned
            .get(&seq)
            .filter(|q| q.task.loc.to_string() == report.loc)
        else {
            tracing::warn!(seq, loc = %report.loc, "a worker job reported a task it was not given; ignored");
            continue;
        };
        // The job's timeline: its processes in lanes named after the job.
        let lane = |l: &str| format!("{} worker job {} {l}", job.system, job.job_id);
        for (process, spawned_us, ready_us) in &report.processes_ready {
            q.events
                .process_ready_elsewhere(lane(process), *spawned_us, *ready_us);
        }
        if let Some((at_us, process)) = &report.started {
            q.events
                .task_started_elsewhere(&q.task.loc, lane(process), *at_us);
        }
        match &report.failure {
            None => {
                task_time.record(Duration::from_secs_f64(report.secs.max(0.0)));
                if let Some(q) = job.assigned.remove(&seq) {
                    completions.push((q, Ok(())));
                }
            }
            Some(f) if may_be_the_jobs_end(f.kind) => job.held.push(HeldFailure {
                seq,
                report,
                queries_since: 0,
            }),
            Some(f) => {
                if let Some(q) = job.assigned.remove(&seq) {
                    completions.push((q, Err(TaskFailure::new(f.kind, f.message.clone()))));
                }
            }
        }
    }
}

/// A failure that the job's own end could have caused (its processes are
/// signalled or exit when it is cancelled or preempted).
fn may_be_the_jobs_end(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::KilledBySignal(_)
            | FailureKind::ExitedWithStatus(_)
            | FailureKind::ExitedWithoutMarkers
            | FailureKind::CouldNotLaunch
    )
}

/// Completes the held failures of a job seen running after they came: they
/// were the tasks' own.
fn release_held(job: &mut WorkerJob, completions: &mut Vec<(Queued, Result<(), TaskFailure>)>) {
    let held = std::mem::take(&mut job.held);
    for h in held {
        if h.queries_since < 1 {
            job.held.push(h);
            continue;
        }
        if let (Some(q), Some(f)) = (job.assigned.remove(&h.seq), h.report.failure) {
            completions.push((q, Err(TaskFailure::new(f.kind, f.message))));
        }
    }
}

/// The last lines of a job's output and error files.
fn job_output_tail(folder: &JobFolder) -> String {
    let mut out = String::new();
    for name in ["job.out", "job.err"] {
        let path = folder.dir().join(name);
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            let tail = tierkreis_storage::log_tail::last_lines(&text, 10).join("\n");
            if !tail.is_empty() {
                out.push_str(&format!("{}:\n{tail}\n", path.display()));
            }
        }
    }
    out
}

/// Whether a job the scheduler no longer runs took tasks of ours with it.
fn job_gone(job: &mut WorkerJob, state: Option<JobState>) -> Option<JobGone> {
    let ended_by_itself = job.folder.ended_path().exists();
    if job.assigned.is_empty() && job.held.is_empty() {
        return None;
    }
    let id = &job.job_id;
    let (failure, summary) = match state {
        Some(JobState::Ended(JobEnd::Cancelled)) => (
            BatchJobFailure::Cancelled,
            format!("job {id} was cancelled"),
        ),
        Some(JobState::Ended(JobEnd::Timeout)) => (
            BatchJobFailure::OutOfTime,
            format!("job {id} reached its walltime"),
        ),
        Some(JobState::Ended(JobEnd::OutOfMemory)) => (
            BatchJobFailure::OutOfMemory,
            format!("job {id} ran out of memory"),
        ),
        Some(JobState::Ended(JobEnd::Failed(how))) => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("job {id} failed ({how})"),
        ),
        Some(_) if ended_by_itself => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("job {id} ended by itself"),
        ),
        Some(_) => (
            BatchJobFailure::EndedWithoutMarkers,
            format!("job {id} ended"),
        ),
        None => (
            BatchJobFailure::Lost,
            format!("job {id} is no longer known to the scheduler"),
        ),
    };
    Some(JobGone { failure, summary })
}

/// Records the scheduler's word on a job for `tkr show` and the web view.
fn write_state(job: &WorkerJob, state: Option<&JobState>) {
    let text = match state {
        Some(JobState::Queued) => "queued".to_string(),
        Some(JobState::Running) => "running".to_string(),
        Some(JobState::Ended(end)) => format!("ended: {end:?}").to_lowercase(),
        None => "unknown to the scheduler".to_string(),
    };
    let path = job.folder.state_path();
    if std::fs::read(&path).is_ok_and(|b| b == text.as_bytes()) {
        return;
    }
    if let Err(e) = mailbox::write_atomically(&path, text.as_bytes()) {
        tracing::debug!(error = %e, "cannot record a worker job's state");
    }
}

/// Appends `message` to the task's node log and creates `_error`.
fn fail_node(q: &Queued, message: &str) {
    let storage = q.storage.as_ref();
    let mut text = message.trim_end().to_string();
    text.push('\n');
    let r = storage
        .append(&storage.worker_logs_path(&q.task.loc), text.as_bytes())
        .and_then(|()| storage.mark_node_error(&q.task.loc));
    if let Err(e) = r {
        tracing::error!(loc = %q.task.loc, error = %e, "cannot record a task's failure");
    }
}

/// Sets the modification time of `path` to now (creating it if needed).
fn touch(path: &Path) {
    let r = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if let Err(e) = r {
        tracing::warn!(path = %path.display(), error = %e, "cannot touch the worker jobs' heartbeat");
    }
}
