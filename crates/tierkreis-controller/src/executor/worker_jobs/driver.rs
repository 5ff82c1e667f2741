//! The worker-job executor's thread: it takes the orders of
//! [`super::WorkerJobExecutor`], and in rounds beats the heartbeat, asks
//! the batch systems about every job (one query per system per poll),
//! takes the jobs' reports, hands queued tasks out and scales each pool;
//! and on stop or at the end of the run cancels or ends every job.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::faults::{job_gone, release_held, JobGone};
use super::heartbeat::Heartbeat;
use super::mailbox;
use super::pools::{receive_reports, write_state, Phase, Pool};
use super::worker_job_executor::{Order, Queued, WorkerJobOptions, WorkerJobRoute};
use crate::executor::config::batch::BatchSystem;
use crate::executor::contract::{TaskCompletion, TaskFailure};
use crate::executor::hpc::{batch_system::job_key, Commands, JobState};

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

/// The executor's thread: owns every pool and job.
pub(super) struct Driver {
    pub(super) options: WorkerJobOptions,
    pub(super) commands: Commands,
    pub(super) pools: Vec<Pool>,
    pub(super) heartbeat: Heartbeat,
    last_query: Instant,
    /// The number in the next job folder's name (`<worker>-<n>`).
    pub(super) next_job_number: u64,
    pub(super) stopped: bool,
}

impl Driver {
    pub(super) fn new(options: WorkerJobOptions) -> Self {
        let commands = Commands {
            path: options.path.clone(),
        };
        Self {
            options,
            commands,
            pools: Vec::new(),
            heartbeat: Heartbeat::new(),
            last_query: Instant::now(),
            next_job_number: 1,
            stopped: false,
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Order>) {
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
                self.pools.push(Pool::new(route, worker, q.storage.clone()));
                self.pools.len() - 1
            }
        };
        self.pools[index].queue.push_back(q);
    }

    /// One look at everything; `true` when something is going on that
    /// deserves a fast next look.
    fn round(&mut self) -> bool {
        self.heartbeat.beat();
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
                    .map(|m| m.get(job_key(&job.job_id)));
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
            queued.events.complete(TaskCompletion {
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
        self.heartbeat.remove();
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
