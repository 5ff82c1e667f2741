//! The executor of the reference's `builtins` worker: it runs the task
//! bodies of [`crate::builtins`] inside the controller process (no spawn),
//! reading inputs and writing outputs and markers in the checkpoint as a
//! worker process would. (Not to be confused with [`crate::builtins`], which
//! holds the pure task bodies and does no I/O, nor with
//! [`super::inprocess`], which runs user-registered Rust closures.)
//!
//! Every built-in task runs synchronously on the scheduler's thread, except
//! one that waits (`tkr_sleep`): it waits on a thread of its own, so that
//! independent tasks go on meanwhile and a stop request ends the wait at
//! once, leaving the task unfinished for a resume.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use tierkreis_storage::{ControllerStorage, ExecutorDebugData, StorageError};

use crate::builtins;
use crate::executor::contract::{
    Executor, FailureKind, LaunchError, TaskCompletion, TaskEventSender, TaskFailure,
};
use crate::scheduler::ReadyTask;

/// A task's inputs by port, as the bytes of its input files.
type Inputs = IndexMap<String, Arc<[u8]>>;

/// Runs built-in tasks in-process through the same storage protocol a worker
/// process would use (inputs read, outputs written, `_done`).
#[derive(Debug, Default)]
pub struct BuiltinExecutor {
    waits: Arc<Waits>,
}

/// The tasks waiting on threads of their own, and the stop request.
#[derive(Debug, Default)]
struct Waits {
    state: Mutex<WaitState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct WaitState {
    /// Set by [`Executor::stop`]: waiting tasks end without reporting.
    stopped: bool,
    /// Tasks still waiting.
    waiting: usize,
}

impl Waits {
    fn lock(&self) -> MutexGuard<'_, WaitState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `deadline` (for ever when `None`) or a stop; true when
    /// stopped. The guard is kept, so that a stop either comes before the
    /// task reports or finds it gone.
    fn wait_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, WaitState>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, WaitState>, bool) {
        while !st.stopped {
            let Some(deadline) = deadline else {
                st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            st = self
                .wake
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let stopped = st.stopped;
        (st, stopped)
    }
}

/// Reads the task's inputs (a value read by two ports is read once).
fn read_inputs(task: &ReadyTask, storage: &dyn ControllerStorage) -> Result<Inputs, StorageError> {
    let mut inputs = Inputs::new();
    for link in &task.inputs {
        let port = &link.input_port;
        let (loc, src_port) = (&link.source.node, &link.source.port);
        if let Some((prefix, suffix)) = src_port.split_once('*') {
            // A glob input (e.g. a map's `value-*` into fold_values): every
            // matching output of that node, under its own name.
            for p in storage.read_output_ports(loc)? {
                if p.len() >= prefix.len() + suffix.len()
                    && p.starts_with(prefix)
                    && p.ends_with(suffix)
                {
                    let bytes = storage.read_output(loc, &p)?;
                    inputs.insert(p, bytes.into());
                }
            }
            continue;
        }
        // Two ports reading the same value (e.g. `itimes(x, x)`) read it once.
        if let Some(bytes) = task
            .inputs
            .iter()
            .take_while(|earlier| &earlier.input_port != port)
            .find(|earlier| earlier.source == link.source)
            .and_then(|earlier| inputs.get(&earlier.input_port).cloned())
        {
            inputs.insert(port.clone(), bytes);
            continue;
        }
        match storage.read_output(loc, src_port) {
            Ok(bytes) => {
                inputs.insert(port.clone(), bytes.into());
            }
            // A missing input may have a default; the builtin decides.
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    storage.write_executor_data(
        &task.loc,
        &ExecutorDebugData {
            executor: "builtin".to_string(),
            launch_command: format!("in-process builtins.{}", task.function),
            job_id: None,
            env: Default::default(),
            packages: Vec::new(),
        },
    )?;
    Ok(inputs)
}

/// Computes the task and writes its outputs and `_done`, or its error and
/// `_error`; storage failures are returned, task failures are `Ok(Err)`.
fn compute(
    task: &ReadyTask,
    storage: &dyn ControllerStorage,
    inputs: &Inputs,
) -> Result<Result<(), String>, StorageError> {
    match builtins::run(&task.function, inputs, &task.outputs) {
        Ok(outputs) => {
            for (port, bytes) in outputs {
                storage.write_output(&task.loc, &port, &bytes)?;
            }
            storage.mark_node_finished(&task.loc)?;
            Ok(Ok(()))
        }
        Err(e) => {
            let message = e.to_string();
            tierkreis_storage::record_task_failure(storage, &task.loc, &message)?;
            Ok(Err(message))
        }
    }
}

/// The task's completion from a step's result. A storage failure (a full
/// disk, say) is not the task's fault: nothing is marked, and the
/// [`FailureKind::ControllerStorage`] kind makes the runtime stop the run so
/// that a resume runs the task again once the storage works.
fn completion(
    task: &ReadyTask,
    result: Result<Result<(), String>, StorageError>,
) -> TaskCompletion {
    let result = match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(TaskFailure::new(FailureKind::WorkerReportedError, message)),
        Err(e) => Err(TaskFailure::new(
            FailureKind::ControllerStorage,
            format!(
                "storage failed while running builtins.{}: {e}",
                task.function
            ),
        )),
    };
    TaskCompletion {
        loc: task.loc.clone(),
        result,
    }
}

impl BuiltinExecutor {
    /// Runs `task` on a thread of its own after `delay`, unless stopped first.
    fn launch_waiting(
        &self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
        inputs: Inputs,
        delay: Duration,
    ) -> Result<(), LaunchError> {
        let deadline = Instant::now().checked_add(delay);
        let (waits, task2, storage, done) = (
            self.waits.clone(),
            task.clone(),
            storage.clone(),
            done.clone(),
        );
        self.waits.lock().waiting += 1;
        let spawned = std::thread::Builder::new()
            .name("tkr-builtin-wait".into())
            .spawn(move || {
                let (mut st, stopped) = waits.wait_until(waits.lock(), deadline);
                st.waiting -= 1;
                if stopped {
                    tracing::debug!(loc = %task2.loc, "wait stopped");
                    return;
                }
                let result = compute(&task2, storage.as_ref(), &inputs);
                done.complete(completion(&task2, result));
            });
        spawned.map(drop).map_err(|e| {
            self.waits.lock().waiting -= 1;
            LaunchError::Spawn {
                loc: task.loc.clone(),
                worker: "builtins".to_string(),
                message: format!("cannot start a thread to wait in: {e}"),
            }
        })
    }
}

/// The lane of every builtin task: they run in the controller process.
const BUILTINS_LANE_EXECUTOR: &str = "builtins";
const BUILTINS_LANE: &str = "in the controller";

impl Executor for BuiltinExecutor {
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        done.task_started(&task.loc, BUILTINS_LANE_EXECUTOR, BUILTINS_LANE);
        let inputs = match read_inputs(task, storage.as_ref()) {
            Ok(inputs) => inputs,
            Err(e) => {
                done.complete(completion(task, Err(e)));
                return Ok(());
            }
        };
        if let Some(delay) = builtins::delay(&task.function, &inputs).filter(|d| !d.is_zero()) {
            return self.launch_waiting(task, storage, done, inputs, delay);
        }
        let result = compute(task, storage.as_ref(), &inputs);
        done.complete(completion(task, result));
        Ok(())
    }

    /// Ends the waits of waiting tasks; they report nothing and stay
    /// unfinished. Returns how many were waiting.
    fn stop(&mut self) -> usize {
        let mut st = self.waits.lock();
        st.stopped = true;
        self.waits.wake.notify_all();
        st.waiting
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use indexmap::IndexMap;
    use tierkreis_core::{GraphData, Loc};
    use tierkreis_storage::{ControllerStorage, MemoryControllerStorage, MemoryFiles};

    use super::BuiltinExecutor;
    use crate::executor::test_support::run;
    use crate::runtime::{self, RunError, RunEventChannel};
    use crate::scheduler::Outcome;

    /// `tkr_sleep(seconds)` (node 1, demanded first) and, independent of it,
    /// `iadd(1, 1)` (node 3); the output waits for both.
    fn sleep_and_add(seconds: &str) -> GraphData {
        let json = format!(
            r#"{{"nodes": [
            {{"type": "const", "value": {seconds}, "inputs": {{}}, "outputs": {{"value": [1]}}}},
            {{"type": "function", "function_name": "builtins.tkr_sleep", "inputs": {{"delay_seconds": [0, "value"]}}, "outputs": {{"value": [4]}}}},
            {{"type": "const", "value": 1, "inputs": {{}}, "outputs": {{"value": [3]}}}},
            {{"type": "function", "function_name": "builtins.iadd", "inputs": {{"a": [2, "value"], "b": [2, "value"]}}, "outputs": {{"value": [4]}}}},
            {{"type": "output", "inputs": {{"slept": [1, "value"], "value": [3, "value"]}}, "outputs": {{}}}}
          ], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 4, "named_nodes": {{}}, "node_metadata": {{}}}}"#
        );
        GraphData::from_json(json.as_bytes()).unwrap()
    }

    fn memory() -> Arc<dyn ControllerStorage> {
        Arc::new(MemoryControllerStorage::new(
            MemoryFiles::new(),
            uuid::Uuid::nil(),
            None,
        ))
    }

    #[test]
    fn a_short_sleep_finishes_with_true() {
        let st = memory();
        let (outcome, value) = run(
            st.clone(),
            &sleep_and_add("0.05"),
            &mut BuiltinExecutor::default(),
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Finished);
        assert_eq!(value.as_deref(), Some(&b"2"[..]));
        assert_eq!(st.read_output(&Loc::root(), "slept").unwrap(), b"true");
    }

    #[test]
    fn a_long_sleep_holds_up_no_other_task_and_a_stop_ends_it() {
        let st = memory();
        runtime::start_workflow(st.as_ref(), &sleep_and_add("3600"), &IndexMap::new()).unwrap();
        let events = RunEventChannel::new();
        let stop = events.stop_handle();
        let watcher = {
            let st = st.clone();
            std::thread::spawn(move || {
                // While the hour-long sleep waits, the independent task runs.
                let deadline = Instant::now() + Duration::from_secs(60);
                while !st.is_node_finished(&Loc::root().n(3)) {
                    assert!(Instant::now() < deadline, "iadd never ran");
                    std::thread::sleep(Duration::from_millis(5));
                }
                stop.stop();
            })
        };
        let mut e = BuiltinExecutor::default();
        let r = runtime::run_with_events(st.clone(), false, &mut e, &mut |_| {}, events);
        watcher.join().unwrap();
        assert!(matches!(r, Err(RunError::Stopped { stopped: 1 })), "{r:?}");
        let sleep = Loc::root().n(1);
        assert!(!st.is_node_finished(&sleep) && !st.node_has_error(&sleep));
        assert!(
            !st.is_node_started(&sleep),
            "the stopped sleep is un-started"
        );
        assert_eq!(st.read_output(&Loc::root().n(3), "value").unwrap(), b"2");
    }

    #[test]
    fn a_bad_sleep_length_fails_at_once() {
        let st = memory();
        let (outcome, _) = run(
            st.clone(),
            &sleep_and_add("-1"),
            &mut BuiltinExecutor::default(),
        )
        .unwrap();
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        let text = st.read_errors(&Loc::root().n(1)).unwrap();
        assert_eq!(text, "sleep length must be non-negative");
    }
}
