//! Routing: sends each task to one of several executors, by worker name or
//! by a glob on `worker.function` (the reference's `MultipleExecutor`).

use std::sync::Arc;

use tierkreis_core::GraphData;
use tierkreis_storage::ControllerStorage;

use crate::executor::contract::{Executor, LaunchError, TaskEventSender};
use crate::scheduler::ReadyTask;

/// Which tasks a route takes.
#[derive(Debug, Clone)]
pub enum Route {
    /// Every task of this worker.
    Worker(String),
    /// Tasks whose `worker.function` matches the glob.
    Task(glob::Pattern),
}

impl Route {
    /// A route by glob on `worker.function`.
    pub fn task(pattern: &str) -> Result<Self, glob::PatternError> {
        glob::Pattern::new(pattern).map(Route::Task)
    }

    fn matches(&self, task: &ReadyTask) -> bool {
        match self {
            Route::Worker(w) => *w == task.worker,
            Route::Task(p) => p.matches(&format!("{}.{}", task.worker, task.function)),
        }
    }
}

/// Tries its routes in order; tasks no route takes go to the fallback.
#[derive(Default)]
pub struct RouterExecutor {
    executors: Vec<Box<dyn Executor>>,
    routes: Vec<(Route, usize)>,
    fallback: Option<usize>,
}

impl std::fmt::Debug for RouterExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterExecutor")
            .field("routes", &self.routes)
            .field("fallback", &self.fallback)
            .field("executors", &self.executors.len())
            .finish()
    }
}

impl RouterExecutor {
    /// No routes: every task is an unknown worker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends the tasks `route` takes to `executor` (after earlier routes).
    pub fn route(mut self, route: Route, executor: Box<dyn Executor>) -> Self {
        self.executors.push(executor);
        self.routes.push((route, self.executors.len() - 1));
        self
    }

    /// Sends tasks no route takes to `executor`.
    pub fn fallback(mut self, executor: Box<dyn Executor>) -> Self {
        self.executors.push(executor);
        self.fallback = Some(self.executors.len() - 1);
        self
    }
}

impl Executor for RouterExecutor {
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        let target = self
            .routes
            .iter()
            .find(|(r, _)| r.matches(task))
            .map(|(_, i)| *i)
            .or(self.fallback);
        match target.and_then(|i| self.executors.get_mut(i)) {
            Some(e) => e.launch(task, storage, done),
            None => Err(LaunchError::UnknownWorker {
                loc: task.loc.clone(),
                worker: task.worker.clone(),
                function: task.function.clone(),
            }),
        }
    }

    fn stop(&mut self) -> usize {
        self.executors.iter_mut().map(|e| e.stop()).sum()
    }

    fn prepare_for_run(&mut self, graph: &GraphData, storage: &Arc<dyn ControllerStorage>) {
        for e in &mut self.executors {
            e.prepare_for_run(graph, storage);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::executor::test_support::{one_task_graph, run};
    use crate::executor::{BuiltinExecutor, InProcessExecutor};
    use crate::scheduler::Outcome;
    use tierkreis_storage::{MemoryControllerStorage, MemoryFiles};

    fn named(st: &MemoryControllerStorage, name: &'static str) -> Box<dyn Executor> {
        let mut e = InProcessExecutor::memory(st);
        for w in ["a", "b"] {
            e.register(w, move |args, ws| {
                ws.write_output(&args.outputs["value"], format!("\"{name}\"").as_bytes())
                    .map_err(|e| e.to_string())
            });
        }
        Box::new(e)
    }

    fn router(st: &MemoryControllerStorage) -> RouterExecutor {
        RouterExecutor::new()
            .route(
                Route::Worker("builtins".into()),
                Box::new(BuiltinExecutor::default()),
            )
            .route(Route::task("a.special_*").unwrap(), named(st, "by-glob"))
            .route(Route::Worker("a".into()), named(st, "by-name"))
            .fallback(named(st, "fallback"))
    }

    #[test]
    fn routes_by_glob_then_name_then_fallback() {
        for (task, expect) in [
            ("a.special_one", "by-glob"),
            ("a.plain", "by-name"),
            ("b.special_one", "fallback"),
        ] {
            let st = MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::new_v4(), None);
            let mut r = router(&st);
            let (outcome, value) =
                run(Arc::new(st.clone()), &one_task_graph(task, "1"), &mut r).unwrap();
            assert_eq!(outcome, Outcome::Finished, "{task}");
            assert_eq!(
                value.unwrap(),
                format!("\"{expect}\"").into_bytes(),
                "{task}"
            );
        }
        let st = MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::new_v4(), None);
        let mut r = router(&st);
        let (_, value) = run(
            Arc::new(st.clone()),
            &one_task_graph("builtins.iadd", "1"),
            &mut r,
        )
        .unwrap();
        // builtins.iadd needs `a` and `b`; the graph gives `x`: the builtin
        // executor took the task (and failed it), not the fallback.
        assert_eq!(value, None);
    }

    #[test]
    fn without_fallback_an_unmatched_task_is_an_unknown_worker() {
        let st = MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::new_v4(), None);
        let mut r = RouterExecutor::new().route(Route::Worker("a".into()), named(&st, "x"));
        let (outcome, _) = run(Arc::new(st.clone()), &one_task_graph("z.f", "1"), &mut r).unwrap();
        assert!(matches!(outcome, Outcome::Failed(_)));
        assert!(st
            .read_errors(&tierkreis_core::Loc::root().n(1))
            .unwrap()
            .contains("no executor knows worker \"z\""));
    }
}
