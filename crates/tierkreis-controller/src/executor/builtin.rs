//! The reference's `builtins` worker, run inside the controller process
//! (no spawn) through the same storage protocol a worker process would use.

use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_storage::{ControllerStorage, ExecutorDebugData, StorageError};

use crate::builtins;
use crate::runtime::{Completion, Events, Executor, LaunchError};
use crate::scheduler::Launch;

/// Runs built-in tasks in-process, synchronously, through the same storage
/// protocol a worker process would use (inputs read, outputs written, `_done`).
#[derive(Debug, Default)]
pub struct BuiltinExecutor;

impl BuiltinExecutor {
    /// Runs one built-in task to its end; storage failures are returned, task
    /// failures are written to the node and reported as an `Err` completion.
    fn run(
        task: &Launch,
        storage: &dyn ControllerStorage,
    ) -> Result<Result<(), String>, StorageError> {
        let mut inputs: IndexMap<String, Arc<[u8]>> = IndexMap::new();
        for (port, loc, src_port) in &task.inputs {
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
                .take_while(|(p, _, _)| p != port)
                .find(|(_, l, sp)| l == loc && sp == src_port)
                .and_then(|(p, _, _)| inputs.get(p).cloned())
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
        match builtins::run(&task.function, &inputs, &task.outputs) {
            Ok(outputs) => {
                for (port, bytes) in outputs {
                    storage.write_output(&task.loc, &port, &bytes)?;
                }
                storage.mark_node_finished(&task.loc)?;
                Ok(Ok(()))
            }
            Err(e) => {
                let message = e.to_string();
                storage.write_node_errors(&task.loc, &message)?;
                storage.mark_node_error(&task.loc)?;
                Ok(Err(message))
            }
        }
    }
}

impl Executor for BuiltinExecutor {
    fn launch(
        &mut self,
        task: &Launch,
        storage: &Arc<dyn ControllerStorage>,
        done: &Events,
    ) -> Result<(), LaunchError> {
        let result = match Self::run(task, storage.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                let message = format!(
                    "storage failed while running builtins.{}: {e}",
                    task.function
                );
                // Best effort: the node's error file may be writable even if an output was not.
                let _ = storage.write_node_errors(&task.loc, &message);
                let _ = storage.mark_node_error(&task.loc);
                Err(message)
            }
        };
        done.complete(Completion {
            loc: task.loc.clone(),
            result,
        });
        Ok(())
    }
}
