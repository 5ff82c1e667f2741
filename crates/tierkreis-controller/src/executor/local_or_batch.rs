//! The executor of a run that uses batch jobs: each task goes to local
//! processes, a worker job or a batch job of its own, as its worker's
//! settings and its worker's kind say (decided once per `worker.function`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tierkreis_core::GraphData;
use tierkreis_storage::ControllerStorage;

use crate::executor::config::ExecutorKind;
use crate::executor::contract::{Executor, LaunchError, TaskEventSender};
use crate::executor::hpc::batch_system::BatchSystem;
use crate::executor::hpc::{HpcExecutor, HpcOptions};
use crate::executor::process::ProcessExecutor;
use crate::executor::worker_jobs::{
    find_tkr_program, WorkerJobExecutor, WorkerJobOptions, WorkerJobRoute,
};
use crate::scheduler::ReadyTask;

/// Local processes for tasks configured `executor = "local"` (the default);
/// for the others, worker jobs when the worker can run warm (see
/// [`crate::executor::worker_jobs`]), else one batch job per task.
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
                poll: batch.options().poll,
                cancel_on_stop: batch.options().cancel_on_stop,
                grace: local.options().grace,
                task_timeout: local.options().task_timeout,
                tkr_program,
                path: batch.options().path.clone(),
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
        task: &ReadyTask,
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
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
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
