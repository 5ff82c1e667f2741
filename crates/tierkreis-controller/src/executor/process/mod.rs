//! Worker processes: one spawn helper, a concurrency limit, per-task
//! timeouts and memory limits, log capture, and stopping (SIGTERM to the
//! task's process group, a grace period, then SIGKILL).
//!
//! Each started process gets a supervisor thread that blocks on its exit (no
//! polling), then reads the markers of that node only (`_done`, `_error`),
//! writes the error text and `_error` when the process failed without saying
//! so, reports the [`TaskCompletion`], and starts the next queued task.

mod pool;
mod warm_slots;

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tierkreis_core::GraphData;
use tierkreis_storage::ControllerStorage;

use crate::executor::contract::{Executor, LaunchError, TaskEventSender};
use crate::executor::discovery::{Discovery, LaunchPlan};
use crate::executor::worker_process::{build_spec, write_debug_data, Job, ServedInWorkerJob};
use crate::scheduler::ReadyTask;
use pool::{Pool, State};

/// Limits for worker processes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOptions {
    /// Processes running at once; more tasks wait in a queue.
    pub jobs: usize,
    /// The timeout of tasks without their own configured timeout.
    pub task_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping a task.
    pub grace: Duration,
    /// Keep workers that support it warm: one process serves many calls
    /// (see [`crate::executor::warm`]); `false` is `--no-warm`.
    pub warm: bool,
    /// When a fresh run starts, start a warm process for each worker its
    /// graph names (while free slots last), so imports overlap the first
    /// nodes (`--warm-prestart`). Off by default: a graph names workers it
    /// may never call (both branches of an `ifelse`, as `compile_simulate`
    /// does for Aer and Qulacs), and on a small machine their imports slow
    /// the ones that matter (measured in BENCHMARKS.md).
    pub prestart_warm: bool,
}

impl Default for ProcessOptions {
    /// As many jobs as cores, no timeout, 5 seconds of grace.
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            task_timeout: None,
            grace: Duration::from_secs(5),
            warm: true,
            prestart_warm: false,
        }
    }
}

/// Runs tasks of external workers as processes (see [`crate::executor`]).
#[derive(Debug)]
pub struct ProcessExecutor {
    discovery: Discovery,
    pool: Arc<Pool>,
    /// What each worker command allows when warm, found once per run.
    warm_checks: super::warm::WarmChecks,
    /// Set when this executor runs inside a worker job (see
    /// [`super::worker_jobs`]): its tasks' debug data name the job.
    served_in: Option<Arc<ServedInWorkerJob>>,
}

impl ProcessExecutor {
    /// An executor finding workers with `discovery`.
    pub fn new(discovery: Discovery, options: ProcessOptions) -> Self {
        let options = ProcessOptions {
            jobs: options.jobs.max(1),
            ..options
        };
        let warm = options.warm;
        let pool = Arc::new(Pool {
            options,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        if warm {
            Pool::spawn_scaling_ticker(&pool);
        }
        Self {
            discovery,
            pool,
            warm_checks: Default::default(),
            served_in: None,
        }
    }

    /// Records in each task's debug data that it ran in `job`.
    pub fn serving_in_worker_job(mut self, job: ServedInWorkerJob) -> Self {
        self.served_in = Some(Arc::new(job));
        self
    }

    /// Whether a task of `worker.function` would run warm here: its plan
    /// resolves and its command can serve many calls.
    pub(super) fn can_serve_warm(
        &self,
        worker: &str,
        function: &str,
        tkr_dir: &Path,
        storage: &dyn ControllerStorage,
    ) -> Option<LaunchPlan> {
        if !self.pool.options.warm {
            return None;
        }
        let plan = self.discovery.resolve(worker, function).ok()?;
        self.warm_checks.key(&plan, tkr_dir, worker, storage)?;
        Some(plan)
    }

    /// The options this executor was made with.
    pub fn options(&self) -> &ProcessOptions {
        &self.pool.options
    }

    /// How workers are found.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// How many processes run now.
    pub fn running(&self) -> usize {
        self.pool.lock().running.len()
    }

    fn job(
        &self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        events: &TaskEventSender,
    ) -> Result<Job, LaunchError> {
        let spawn_error = |message: String| LaunchError::Spawn {
            loc: task.loc.clone(),
            worker: task.worker.clone(),
            message,
        };
        let storage_error = |source| LaunchError::Storage {
            loc: task.loc.clone(),
            source: Box::new(source),
        };
        let plan = self
            .discovery
            .resolve(&task.worker, &task.function)
            .map_err(|e| spawn_error(e.to_string()))?;
        if !storage.workflow_dir().is_dir() {
            return Err(spawn_error(format!(
                "worker processes need checkpoints on disk, and the workflow folder {} is not one \
                 (in-memory storage?)",
                storage.workflow_dir().display()
            )));
        }
        let tkr_dir = std::path::absolute(storage.tkr_dir()).map_err(|e| {
            spawn_error(format!(
                "cannot make {} absolute: {e}",
                storage.tkr_dir().display()
            ))
        })?;
        let call_args = storage
            .read_worker_call_args(&task.loc)
            .map_err(storage_error)?;
        let spec = build_spec(
            &plan,
            &tkr_dir,
            &call_args,
            &task.call_args_path,
            storage.as_ref(),
        )
        .map_err(spawn_error)?;
        let warm = if self.pool.options.warm {
            self.warm_checks
                .key(&plan, &tkr_dir, &task.worker, storage.as_ref())
        } else {
            None
        }
        .filter(|key| !self.pool.lock().warm_refused.contains_key(key));
        let job = Job {
            loc: task.loc.clone(),
            worker: task.worker.clone(),
            kind: plan.kind,
            spec,
            timeout: plan.timeout.or(self.pool.options.task_timeout),
            memory_limit: plan.warm.memory_limit,
            outputs: call_args.outputs.keys().cloned().collect(),
            call_args_path: task.call_args_path.clone(),
            warm,
            storage: storage.clone(),
            events: events.clone(),
            served_in: self.served_in.clone(),
        };
        write_debug_data(&job).map_err(storage_error)?;
        Ok(job)
    }
}

impl Executor for ProcessExecutor {
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError> {
        let spawn_error = |message: String| LaunchError::Spawn {
            loc: task.loc.clone(),
            worker: task.worker.clone(),
            message,
        };
        // A task of a killed controller still running this node ends first.
        super::leftover_processes::end_leftover_task_group(storage.as_ref(), &task.loc);
        let job = self.job(task, storage, done)?;
        let mut state = self.pool.lock();
        if state.stopping {
            return Err(spawn_error("the executor is stopping".to_string()));
        }
        if job.warm.is_none()
            && state.queue.is_empty()
            && Pool::used(&state) < self.pool.options.jobs
        {
            self.pool
                .start(&mut state, job)
                .map_err(|failed| spawn_error(failed.1))?;
        } else {
            state.queue.push_back(job);
            self.pool.dispatch(&mut state);
        }
        Ok(())
    }

    fn stop(&mut self) -> usize {
        self.pool.stop_all()
    }

    fn prepare_for_run(&mut self, graph: &GraphData, storage: &Arc<dyn ControllerStorage>) {
        if !self.pool.options.prestart_warm {
            return;
        }
        self.prestart_warm(&workers_called_by(graph), 1, storage);
    }
}

impl ProcessExecutor {
    /// Starts up to `processes_each` warm processes for each of `workers` (a
    /// worker and one of its functions) that can run warm, while free slots
    /// last, so imports happen before the first task arrives.
    pub fn prestart_warm(
        &mut self,
        workers: &[(String, String)],
        processes_each: usize,
        storage: &Arc<dyn ControllerStorage>,
    ) {
        if !self.pool.options.warm {
            return;
        }
        if !storage.workflow_dir().is_dir() {
            return;
        }
        let Ok(tkr_dir) = std::path::absolute(storage.tkr_dir()) else {
            return;
        };
        for (worker, function) in workers {
            let Ok(plan) = self.discovery.resolve(worker, function) else {
                // Its task will fail with the discovery error when it runs.
                continue;
            };
            let Some(key) = self
                .warm_checks
                .key(&plan, &tkr_dir, worker, storage.as_ref())
            else {
                continue;
            };
            let mut state = self.pool.lock();
            if state.stopping || Pool::used(&state) >= self.pool.options.jobs {
                break;
            }
            if state.warm_refused.contains_key(&key) {
                continue;
            }
            let running = state.warm.values().filter(|s| s.key == key).count();
            for _ in running..processes_each {
                if Pool::used(&state) >= self.pool.options.jobs {
                    break;
                }
                tracing::debug!(worker = %worker, "pre-starting a warm process");
                self.pool
                    .start_warm(&mut state, key.clone(), None, storage.clone());
            }
        }
    }
}

/// The workers that the function nodes of `graph` and of the graphs nested in
/// its constants call, each once with one of its functions, in node order
/// (builtins left out).
fn workers_called_by(graph: &GraphData) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for name in graph.function_names() {
        if let Some((worker, function)) = name.rsplit_once('.') {
            if worker != crate::builtins::BUILTINS_WORKER && !found.iter().any(|(w, _)| w == worker)
            {
                found.push((worker.to_string(), function.to_string()));
            }
        }
    }
    found
}

impl Drop for ProcessExecutor {
    /// No worker outlives its executor.
    fn drop(&mut self) {
        let busy = {
            let s = self.pool.lock();
            !s.running.is_empty() || !s.queue.is_empty() || s.warm.values().any(|w| !w.idle)
        };
        if busy {
            self.pool.stop_all();
        } else {
            self.pool.end_idle_warm();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::executor::worker_process::command::worker_env;
    use crate::executor::worker_process::Spec;
    use crate::executor::worker_process::{quote_for_display, shell_quote};
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use tierkreis_core::WorkerCallArgs;

    use crate::executor::test_support::{one_task_graph, run};
    use crate::executor::ExecutorConfig;
    use crate::runtime::{RunError, RunEventChannel};
    use std::os::unix::fs::PermissionsExt;
    use tierkreis_core::Loc;
    use tierkreis_storage::{FileControllerStorage, MemoryControllerStorage, MemoryFiles};

    fn executor(reg: &Path, grace: Duration) -> ProcessExecutor {
        let discovery = Discovery::new(ExecutorConfig::default(), vec![reg.to_path_buf()]);
        ProcessExecutor::new(
            discovery,
            ProcessOptions {
                jobs: 2,
                task_timeout: None,
                grace,
                warm: true,
                prestart_warm: true,
            },
        )
    }

    #[test]
    fn workers_called_are_found_in_nested_graphs_once_each_without_builtins() {
        let body = r#"{"nodes": [
            {"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}},
            {"type": "function", "function_name": "tkr-aer-worker.submit", "inputs": {"c": [0, "x"]}, "outputs": {"value": [2]}},
            {"type": "function", "function_name": "pytket_worker.compile", "inputs": {"c": [1, "value"]}, "outputs": {"value": [3]}},
            {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
          ], "fixed_inputs": {}, "graph_inputs": ["x"], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;
        let json = format!(
            r#"{{"nodes": [
            {{"type": "function", "function_name": "pytket_worker.compile", "inputs": {{}}, "outputs": {{"value": [2]}}}},
            {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}},
            {{"type": "function", "function_name": "builtins.iadd", "inputs": {{"a": [0, "value"], "b": [1, "value"]}}, "outputs": {{"value": [3]}}}},
            {{"type": "output", "inputs": {{"value": [2, "value"]}}, "outputs": {{}}}}
          ], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {{}}, "node_metadata": {{}}}}"#
        );
        let graph = GraphData::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            workers_called_by(&graph),
            vec![
                ("pytket_worker".to_string(), "compile".to_string()),
                ("tkr-aer-worker".to_string(), "submit".to_string()),
            ]
        );
    }

    fn shell_worker(reg: &Path, name: &str, body: &str) {
        let p = reg.join(name).join("main.sh");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn memory_storage_cannot_run_processes() {
        let t = tempfile::tempdir().unwrap();
        shell_worker(t.path(), "w", "exit 0");
        let st = MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::new_v4(), None);
        let mut e = executor(t.path(), Duration::from_secs(1));
        let (outcome, _) = run(Arc::new(st.clone()), &one_task_graph("w.f", "1"), &mut e).unwrap();
        assert!(matches!(outcome, crate::scheduler::Outcome::Failed(_)));
        let text = st.read_errors(&Loc::root().n(1)).unwrap();
        assert!(text.contains("need checkpoints on disk"), "{text}");
    }

    #[test]
    fn stop_terminates_the_group_and_marks_nothing() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        let flag = t.path().join("started");
        // Ignores SIGTERM: only the SIGKILL after the grace period ends it.
        shell_worker(
            &reg,
            "w",
            &format!(
                "trap '' TERM\ntouch {}\nwhile :; do sleep 0.05; done\n",
                flag.display()
            ),
        );
        let st: Arc<dyn ControllerStorage> = Arc::new(FileControllerStorage::new(
            t.path().join("ck"),
            uuid::Uuid::new_v4(),
            None,
        ));
        runtime_start(&st);
        let mut e = executor(&reg, Duration::from_millis(200));
        let events = RunEventChannel::new();
        let stop = events.stop_handle();
        let waiter = std::thread::spawn(move || {
            while !flag.exists() {
                std::thread::sleep(Duration::from_millis(10));
            }
            stop.stop();
        });
        let r = crate::runtime::run_with_events(st.clone(), false, &mut e, &mut |_| {}, events);
        waiter.join().unwrap();
        assert!(matches!(r, Err(RunError::Stopped { stopped: 1 })), "{r:?}");
        assert_eq!(e.running(), 0);
        let loc = Loc::root().n(1);
        assert!(!st.node_has_error(&loc) && !st.is_node_finished(&loc));
        let log = String::from_utf8(st.read(&st.logs_path()).unwrap()).unwrap();
        assert!(
            log.contains("run stopped: 1 running task(s) stopped"),
            "{log}"
        );
    }

    fn file_storage(dir: &Path) -> Arc<dyn ControllerStorage> {
        Arc::new(FileControllerStorage::new(
            dir.join("ck"),
            uuid::Uuid::new_v4(),
            None,
        ))
    }

    #[test]
    fn done_without_a_declared_output_fails_the_node_naming_port_and_worker() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        // Marks itself done (as a Python worker would) but writes no output.
        shell_worker(&reg, "lazy", "touch \"$done_path\"\n");
        // Exits 0, so the executor would mark it done, but writes no output.
        shell_worker(&reg, "quiet", "exit 0\n");
        // Writes its output: the check lets it through.
        shell_worker(&reg, "good", "printf 5 > \"$output_value_file\"\n");
        for (worker, ok) in [("lazy", false), ("quiet", false), ("good", true)] {
            let st = file_storage(&t.path().join(worker));
            let mut e = executor(&reg, Duration::from_secs(1));
            let graph = one_task_graph(&format!("{worker}.f"), "1");
            let (outcome, value) = run(st.clone(), &graph, &mut e).unwrap();
            let loc = Loc::root().n(1);
            if ok {
                assert_eq!(value.as_deref(), Some(&b"5"[..]), "{outcome:?}");
                continue;
            }
            assert!(
                matches!(outcome, crate::scheduler::Outcome::Failed(_)),
                "{worker}: {outcome:?}"
            );
            assert!(st.node_has_error(&loc) && !st.is_node_finished(&loc));
            let text = st.read_errors(&loc).unwrap();
            assert!(
                text.contains(&format!("worker \"{worker}\""))
                    && text.contains("declared output(s) \"value\""),
                "{text}"
            );
        }
    }

    fn runtime_start(st: &Arc<dyn ControllerStorage>) {
        crate::runtime::start_workflow(
            st.as_ref(),
            &one_task_graph("w.f", "1"),
            &Default::default(),
        )
        .unwrap();
    }

    #[test]
    fn quoting_and_command_line() {
        let spec = Spec {
            program: "bash".into(),
            args: vec!["/a b/main.sh".into(), "x/y".into(), "it's".into()],
            cwd: Some("/w".into()),
            env: BTreeMap::new(),
            stdin: Some("/in".into()),
            stdout: None,
            stdin_pipe: false,
        };
        assert_eq!(
            spec.command_line(),
            r#"cd /w && bash '/a b/main.sh' x/y "it's" < /in"#
        );
    }

    #[test]
    fn shell_quoting_keeps_every_byte_of_a_path_that_is_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        for word in [
            &b"/data/caf\xe9 \xff$x/`y`/it's"[..],
            b"plain/path",
            b"",
            b"\xc3",
        ] {
            let quoted = shell_quote(std::ffi::OsStr::from_bytes(word)).expect("no NUL");
            // The shell reads the quoted word back as exactly the same bytes.
            let mut script = b"printf %s ".to_vec();
            script.extend_from_slice(&quoted);
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(std::ffi::OsStr::from_bytes(&script))
                .output()
                .expect("sh");
            assert_eq!(
                out.stdout,
                word,
                "quoted as {:?}",
                String::from_utf8_lossy(&quoted)
            );
        }
        assert!(shell_quote(std::ffi::OsStr::from_bytes(b"a\0b")).is_none());
        // Messages show such bytes as U+FFFD, never fail.
        assert_eq!(
            quote_for_display(std::ffi::OsStr::from_bytes(b"caf\xe9")),
            "'caf\u{fffd}'"
        );
    }

    #[test]
    fn env_has_the_reference_shell_variables_with_absolute_paths() {
        let args = WorkerCallArgs {
            function_name: "f".into(),
            inputs: [("a".to_string(), PathBuf::from("wf/-.N0/outputs/value"))]
                .into_iter()
                .collect(),
            outputs: [("value".to_string(), PathBuf::from("wf/-.N1/outputs/value"))]
                .into_iter()
                .collect(),
            output_dir: "wf/-.N1/outputs".into(),
            done_path: "wf/-.N1/_done".into(),
            error_path: "wf/-.N1/logs".into(),
            logs_path: Some("wf/logs".into()),
        };
        let env = worker_env(
            Path::new("/tkr"),
            &args,
            Path::new("wf/-.N1/definition"),
            Path::new("/unused"),
        );
        let expect = [
            ("checkpoints_directory", "/tkr"),
            ("function_name", "/tkr/f"),
            ("done_path", "/tkr/wf/-.N1/_done"),
            ("error_path", "/tkr/wf/-.N1/logs"),
            ("output_dir", "/tkr/wf/-.N1/outputs"),
            ("logs_path", "/tkr/wf/logs"),
            ("output_value_file", "/tkr/wf/-.N1/outputs/value"),
            ("input_a_file", "/tkr/wf/-.N0/outputs/value"),
            ("worker_call_args_file", "/tkr/wf/-.N1/definition"),
            ("TKR_DIR", "/tkr"),
        ];
        for (k, v) in expect {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert_eq!(env.len(), expect.len());
    }

    #[test]
    fn spawn_puts_the_child_in_its_own_process_group_with_cwd_env_and_stdio() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let input = t.path().join("in");
        std::fs::write(&input, "from stdin").unwrap();
        // Field 5 of /proc/PID/stat is the process group id.
        let script = r#"read -r _ _ _ _ pgrp _ < /proc/$$/stat; echo "$pgrp $$ $X $(pwd)"; cat"#;
        let spec = Spec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: Some(t.path().to_path_buf()),
            env: [("X".to_string(), "x1".to_string())].into_iter().collect(),
            stdin: Some(input),
            stdout: Some(out.clone()),
            stdin_pipe: false,
        };
        let (mut child, _registration) = spec.spawn().unwrap();
        assert!(child.wait().unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        let pid = child.id().to_string();
        let cwd = std::fs::canonicalize(t.path()).unwrap();
        assert_eq!(
            text,
            format!("{pid} {pid} x1 {}\nfrom stdin", cwd.display())
        );
    }
}
