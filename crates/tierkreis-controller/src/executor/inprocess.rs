//! In-process workers: Rust closures run inside the controller through the
//! worker storage protocol, for tests, embedding and fast local functions.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tierkreis_core::WorkerCallArgs;
use tierkreis_storage::{
    ControllerStorage, ExecutorDebugData, FileWorkerStorage, MemoryControllerStorage, WorkerStorage,
};

use tierkreis_storage::record_task_failure;

use crate::executor::contract::{
    Executor, FailureKind, LaunchError, TaskCompletion, TaskEventSender, TaskFailure,
};
use crate::scheduler::ReadyTask;

/// A worker function: reads inputs and writes outputs through the storage,
/// returns the error text on failure. Marking done or failed is the
/// executor's job.
pub type WorkerFn = dyn Fn(&WorkerCallArgs, &dyn WorkerStorage) -> Result<(), String> + Send + Sync;

/// Runs tasks of registered workers synchronously, in the controller process.
pub struct InProcessExecutor {
    storage: Arc<dyn WorkerStorage>,
    workers: HashMap<String, Arc<WorkerFn>>,
}

impl std::fmt::Debug for InProcessExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.workers.keys().collect();
        names.sort();
        f.debug_struct("InProcessExecutor")
            .field("workers", &names)
            .finish_non_exhaustive()
    }
}

impl InProcessExecutor {
    /// Workers that see the checkpoints through `storage`, which must match
    /// the controller's storage (see [`InProcessExecutor::file`] and
    /// [`InProcessExecutor::memory`]).
    pub fn new(storage: Arc<dyn WorkerStorage>) -> Self {
        Self {
            storage,
            workers: HashMap::new(),
        }
    }

    /// For a controller with file checkpoints in `tkr_dir`.
    pub fn file(tkr_dir: impl Into<std::path::PathBuf>) -> Self {
        Self::new(Arc::new(FileWorkerStorage::new(tkr_dir)))
    }

    /// For a controller with in-memory checkpoints.
    pub fn memory(storage: &MemoryControllerStorage) -> Self {
        Self::new(Arc::new(storage.worker_storage()))
    }

    /// Registers (or replaces) the function for every task of `worker`.
    pub fn register(
        &mut self,
        worker: &str,
        f: impl Fn(&WorkerCallArgs, &dyn WorkerStorage) -> Result<(), String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.workers.insert(worker.to_string(), Arc::new(f));
        self
    }

    /// Whether `worker` is registered.
    pub fn knows(&self, worker: &str) -> bool {
        self.workers.contains_key(worker)
    }

    fn run(
        &self,
        f: &WorkerFn,
        task: &ReadyTask,
        storage: &dyn ControllerStorage,
    ) -> Result<(), TaskFailure> {
        let storage_failed = |m: String| TaskFailure::new(FailureKind::ControllerStorage, m);
        let ws = self.storage.as_ref();
        let args = ws.read_call_args(&task.call_args_path).map_err(|e| {
            storage_failed(format!("cannot read the call args of {}: {e}", task.loc))
        })?;
        storage
            .write_executor_data(
                &task.loc,
                &ExecutorDebugData {
                    executor: "tierkreis-rs:in-process".to_string(),
                    launch_command: format!("in-process {}.{}", task.worker, task.function),
                    job_id: None,
                    env: Default::default(),
                    packages: Vec::new(),
                },
            )
            .map_err(|e| storage_failed(format!("cannot write debug data of {}: {e}", task.loc)))?;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&args, ws))).unwrap_or_else(|p| {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("worker {:?} panicked: {what}", task.worker))
        });
        match outcome {
            Ok(()) => {
                if !storage.is_node_finished(&task.loc) {
                    ws.mark_done(&args.done_path).map_err(|e| {
                        storage_failed(format!("cannot mark {} done: {e}", task.loc))
                    })?;
                }
                Ok(())
            }
            Err(message) => {
                if let Err(e) = record_task_failure(storage, &task.loc, &message) {
                    tracing::error!(loc = %task.loc, error = %e, "cannot record a task's failure");
                }
                Err(TaskFailure::new(FailureKind::WorkerReportedError, message))
            }
        }
    }
}

impl Executor for InProcessExecutor {
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        let Some(f) = self.workers.get(&task.worker).cloned() else {
            return Err(LaunchError::UnknownWorker {
                loc: task.loc.clone(),
                worker: task.worker.clone(),
                function: task.function.clone(),
            });
        };
        done.task_started(&task.loc, "in-process", "in the controller");
        let result = self.run(f.as_ref(), task, storage.as_ref());
        done.complete(TaskCompletion {
            loc: task.loc.clone(),
            result,
        });
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::executor::test_support::{one_task_graph, run};
    use crate::scheduler::Outcome;
    use tierkreis_core::Loc;
    use tierkreis_storage::MemoryFiles;

    fn executor(storage: &MemoryControllerStorage) -> InProcessExecutor {
        let mut e = InProcessExecutor::memory(storage);
        e.register("rs", |args, ws| {
            let x: i64 = String::from_utf8_lossy(
                &ws.read_input(&args.inputs["x"])
                    .map_err(|e| e.to_string())?,
            )
            .trim()
            .parse()
            .map_err(|e| format!("bad input: {e}"))?;
            match args.function_name.as_str() {
                "double" => ws
                    .write_output(&args.outputs["value"], (2 * x).to_string().as_bytes())
                    .map_err(|e| e.to_string()),
                "fail" => Err(format!("refusing {x}")),
                _ => panic!("no such function"),
            }
        });
        e
    }

    fn storage() -> MemoryControllerStorage {
        MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::new_v4(), None)
    }

    #[test]
    fn runs_a_closure_over_memory_storage_and_marks_done() {
        let st = storage();
        let mut e = executor(&st);
        assert!(e.knows("rs") && !e.knows("other"));
        let (outcome, value) = run(
            Arc::new(st.clone()),
            &one_task_graph("rs.double", "21"),
            &mut e,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Finished);
        assert_eq!(value.as_deref(), Some(&b"42"[..]));
        let loc = Loc::root().n(1);
        assert!(st.is_node_finished(&loc));
        assert_eq!(
            st.read_executor_data(&loc).unwrap().executor,
            "tierkreis-rs:in-process"
        );
    }

    #[test]
    fn errors_and_panics_fail_the_node_with_their_text() {
        for (task, text) in [
            ("rs.fail", "refusing 5"),
            ("rs.other", "panicked: no such function"),
        ] {
            let st = storage();
            let mut e = executor(&st);
            let (outcome, _) =
                run(Arc::new(st.clone()), &one_task_graph(task, "5"), &mut e).unwrap();
            let loc = Loc::root().n(1);
            assert_eq!(outcome, Outcome::Failed(vec![loc.clone()]));
            assert!(st.node_has_error(&loc));
            assert!(st.read_errors(&loc).unwrap().contains(text), "{task}");
        }
    }

    #[test]
    fn unknown_worker_is_a_launch_error() {
        let st = storage();
        let mut e = executor(&st);
        let (outcome, _) =
            run(Arc::new(st.clone()), &one_task_graph("nope.f", "5"), &mut e).unwrap();
        assert!(matches!(outcome, Outcome::Failed(_)));
        assert!(st
            .read_errors(&Loc::root().n(1))
            .unwrap()
            .contains("no executor knows worker \"nope\""));
    }
}
