//! The worker-job executor as the router sees it: its settings, the route
//! of a task that worker jobs can serve, and the handle that sends tasks to
//! its thread (`driver.rs`) and stops or ends it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tierkreis_storage::ControllerStorage;

use super::driver::Driver;
use crate::executor::config::batch::{BatchSystem, JobConfig};
use crate::executor::contract::{LaunchError, TaskEventSender};
use crate::executor::discovery::LaunchPlan;
use crate::scheduler::ReadyTask;

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
pub(super) enum Order {
    Task(Box<Queued>, Box<WorkerJobRoute>),
    /// Stop: cancel the jobs, report how many tasks were running.
    Stop(Sender<usize>),
    /// The run is over: end every job.
    End,
}

/// A task waiting for, or handed to, a worker job.
pub(super) struct Queued {
    pub(super) task: ReadyTask,
    pub(super) storage: Arc<dyn ControllerStorage>,
    pub(super) events: TaskEventSender,
    /// Worker jobs lost while it ran in them.
    pub(super) job_losses: u32,
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
        task: &ReadyTask,
        route: WorkerJobRoute,
        storage: &Arc<dyn ControllerStorage>,
        events: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        let queued = Queued {
            task: task.clone(),
            storage: storage.clone(),
            events: events.clone(),
            job_losses: 0,
        };
        self.orders
            .send(Order::Task(Box::new(queued), Box::new(route)))
            .map_err(|_| LaunchError::Spawn {
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
