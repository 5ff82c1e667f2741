//! The executor `tkr run` and the embedded engine use: builtins in-process,
//! and every other worker as processes or batch jobs as configured.

use std::sync::Arc;

use tierkreis_core::GraphData;
use tierkreis_storage::ControllerStorage;

use crate::builtins::BUILTINS_WORKER;
use crate::executor::builtin_executor::BuiltinExecutor;
use crate::executor::contract::{Executor, LaunchError, TaskEventSender};
use crate::executor::local_or_batch::LocalOrBatchExecutor;
use crate::executor::process::ProcessExecutor;
use crate::executor::router::{Route, RouterExecutor};
use crate::scheduler::ReadyTask;

/// Builtins in-process; other workers as processes when configured.
#[derive(Debug)]
pub struct DefaultExecutor {
    router: RouterExecutor,
}

impl Default for DefaultExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultExecutor {
    /// Builtins only: tasks of other workers fail to launch.
    pub fn new() -> Self {
        Self {
            router: RouterExecutor::new().route(
                Route::Worker(BUILTINS_WORKER.to_string()),
                Box::new(BuiltinExecutor::default()),
            ),
        }
    }

    /// Builtins in-process, every other worker through `processes`, or as
    /// batch jobs when its configuration says so (see [`crate::executor::hpc`]).
    pub fn with_processes(processes: ProcessExecutor) -> Self {
        let rest: Box<dyn Executor> = if processes.discovery().config().uses_batch_jobs() {
            Box::new(LocalOrBatchExecutor::new(processes))
        } else {
            Box::new(processes)
        };
        Self {
            router: Self::new().router.fallback(rest),
        }
    }
}

impl Executor for DefaultExecutor {
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        self.router.launch(task, storage, done)
    }

    fn stop(&mut self) -> usize {
        self.router.stop()
    }

    fn prepare_for_run(&mut self, graph: &GraphData, storage: &Arc<dyn ControllerStorage>) {
        self.router.prepare_for_run(graph, storage);
    }
}
