//! The process executor's pool: the concurrency limit shared by one-shot
//! processes and warm processes, the queue of waiting tasks, and each
//! warm process's record.

use std::collections::{HashMap, VecDeque};
use std::process::Child;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tierkreis_core::Loc;
use tierkreis_storage::ControllerStorage;

use super::ProcessOptions;
use crate::executor::contract::{FailureKind, TaskCompletion, TaskFailure};
use crate::executor::warm::WarmKey;
use crate::executor::worker_process::outcome::{conclude, fail, wait};
use crate::executor::worker_process::output_pump::pump;
use crate::executor::worker_process::{write_debug_data, Job, STDERR_TAIL_LINES};

/// How often queued warm tasks are reconsidered for another warm process
/// (see [`Pool::dispatch`]).
const WARM_SCALING_TICK: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) options: ProcessOptions,
    pub(crate) state: Mutex<State>,
    pub(crate) changed: Condvar,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Running one-shot tasks and their process group ids.
    pub(crate) running: HashMap<Loc, Pid>,
    /// Tasks waiting for a free slot.
    pub(crate) queue: VecDeque<Job>,
    /// Set once by [`ProcessExecutor::stop`]: nothing is started or reported any more.
    pub(crate) stopping: bool,
    /// Every warm process (starting, busy or idle), by its id; each counts
    /// against `jobs` like a one-shot task.
    pub(crate) warm: HashMap<u64, WarmSlot>,
    pub(crate) next_warm_id: u64,
    /// Warm commands that cannot serve warm, with the reason: their tasks run
    /// one process per call.
    pub(crate) warm_refused: HashMap<Arc<crate::executor::warm::WarmKey>, String>,
    /// Start-up and call times observed per warm command, for
    /// [`crate::executor::warm::scaling::decide_warm_scaling`].
    pub(crate) warm_timings:
        HashMap<Arc<crate::executor::warm::WarmKey>, crate::executor::warm::scaling::WarmTimings>,
}

/// The pool's record of one warm process.
#[derive(Debug)]
pub(crate) struct WarmSlot {
    pub(crate) key: Arc<WarmKey>,
    /// Its process group, once spawned.
    pub(crate) pgid: Option<Pid>,
    /// Waiting for a call.
    pub(crate) idle: bool,
    /// Past its handshake (not starting any more).
    pub(crate) ready: bool,
    /// When its current call was handed to it, while busy.
    pub(crate) call_started: Option<Instant>,
    pub(crate) orders: Sender<Order>,
}

/// What the pool tells a warm process's thread.
pub(crate) enum Order {
    Call(Box<Job>),
    End,
}

impl Pool {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking supervisor must not stop the others; the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spawns `job` (the caller holds the lock and checked the limit).
    pub(super) fn start(
        self: &Arc<Self>,
        state: &mut State,
        job: Job,
    ) -> Result<(), Box<(Job, String)>> {
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
        crate::executor::leftover_processes::record_task_group(
            job.storage.as_ref(),
            &job.loc,
            pgid,
        );
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
            job.events.complete(TaskCompletion {
                loc: job.loc,
                result,
            });
        }
    }

    /// Processes of any kind counting against `jobs`.
    pub(super) fn used(state: &State) -> usize {
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
    /// for which [`crate::executor::warm::scaling::decide_warm_scaling`] says another
    /// process pays gets one (an extra process never ends another worker's
    /// idle one, and never goes before a worker that has no process).
    pub(crate) fn dispatch(self: &Arc<Self>, state: &mut State) {
        use crate::executor::warm::scaling::{decide_warm_scaling, WarmScaling};
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
            let mut considered: Vec<Arc<crate::executor::warm::WarmKey>> = Vec::new();
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
                        let _ = slot.orders.send(Order::End);
                    }
                }
                None => break,
            }
        }
    }

    /// What [`crate::executor::warm::scaling::decide_warm_scaling`] needs to know
    /// about warm command `key` now.
    fn warm_load(
        &self,
        state: &State,
        key: &Arc<crate::executor::warm::WarmKey>,
        now: Instant,
    ) -> crate::executor::warm::scaling::WarmWorkerLoad {
        let mut load = crate::executor::warm::scaling::WarmWorkerLoad {
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
    fn usable_warm_key(
        &self,
        state: &State,
        job: &Job,
    ) -> Option<Arc<crate::executor::warm::WarmKey>> {
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
            if let Err(back) = slot.orders.send(Order::Call(Box::new(job))) {
                // Its thread is gone: forget the slot, retry the task.
                state.warm.remove(&id);
                if let Order::Call(job) = back.0 {
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
                    next.events.complete(TaskCompletion {
                        loc: next.loc.clone(),
                        result: Err(TaskFailure::new(FailureKind::CouldNotLaunch, message)),
                    });
                }
            }
        }
    }

    /// Starts a warm process of `key` (the caller checked that a slot is
    /// free) that serves `first`, or waits idle for a call once started.
    pub(super) fn start_warm(
        self: &Arc<Self>,
        state: &mut State,
        key: Arc<crate::executor::warm::WarmKey>,
        first: Option<Job>,
        storage: Arc<dyn ControllerStorage>,
    ) {
        let id = state.next_warm_id;
        state.next_warm_id += 1;
        let (tx, rx) = channel();
        state.warm.insert(
            id,
            WarmSlot {
                key: key.clone(),
                pgid: None,
                idle: false,
                ready: false,
                call_started: None,
                orders: tx,
            },
        );
        let pool = self.clone();
        std::thread::spawn(move || super::warm_slots::serve(pool, id, key, first, storage, rx));
    }

    /// Re-runs [`Self::dispatch`] every [`WARM_SCALING_TICK`] while tasks
    /// wait, since a long call's running time is evidence for another warm
    /// process before any call ends. Ends with the pool.
    pub(super) fn spawn_scaling_ticker(pool: &Arc<Self>) {
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
    pub(crate) fn wait_idle<'a>(
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
    pub(super) fn stop_all(&self) -> usize {
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
            let _ = slot.orders.send(Order::End);
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
    pub(super) fn end_idle_warm(&self) {
        let mut state = self.lock();
        if state.warm.is_empty() {
            return;
        }
        for slot in state.warm.values() {
            let _ = slot.orders.send(Order::End);
        }
        state = self.wait_idle(state, self.options.grace + Duration::from_secs(1));
        for pgid in state.warm.values().filter_map(|s| s.pgid) {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}
