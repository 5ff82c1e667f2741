//! Warm workers for real: `tkr` runs inside the reference environment (its
//! Python has `tierkreis` 2.1.1) with Python workers written with the
//! reference's `Worker`, and with this workspace's Rust SDK example worker.
//! Each test proves what ran where from the worker's own process ids, the
//! node markers and logs, and `/proc`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::expect_code;
use common::reference::*;
use tierkreis_test_support::graphs::graph_of_nodes;

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        (
            "python_warm_serves_many_calls_in_one_process_like_no_warm",
            python_warm_serves_many_calls_in_one_process_like_no_warm,
        ),
        (
            "a_call_that_exits_fails_its_node_only_and_restart_finishes",
            a_call_that_exits_fails_its_node_only_and_restart_finishes,
        ),
        (
            "a_segfault_fails_its_node_naming_the_signal",
            a_segfault_fails_its_node_naming_the_signal,
        ),
        (
            "a_call_past_its_timeout_is_stopped_and_the_next_call_gets_a_new_process",
            a_call_past_its_timeout_is_stopped_and_the_next_call_gets_a_new_process,
        ),
        (
            "max_calls_replaces_the_process",
            max_calls_replaces_the_process,
        ),
        (
            "memory_limit_stops_the_growing_call_and_replaces_the_process",
            memory_limit_stops_the_growing_call_and_replaces_the_process,
        ),
        (
            "a_worker_raising_on_import_falls_back_and_fails_clearly",
            a_worker_raising_on_import_falls_back_and_fails_clearly,
        ),
        (
            "an_older_worker_api_without_run_falls_back_to_one_process_per_call",
            an_older_worker_api_without_run_falls_back_to_one_process_per_call,
        ),
        (
            "a_console_script_on_path_is_served_warm_through_its_entry_point",
            a_console_script_on_path_is_served_warm_through_its_entry_point,
        ),
        (
            "an_idle_warm_process_makes_room_for_another_worker",
            an_idle_warm_process_makes_room_for_another_worker,
        ),
        (
            "a_worker_with_slow_calls_gets_a_second_process_with_two_jobs",
            a_worker_with_slow_calls_gets_a_second_process_with_two_jobs,
        ),
        (
            "a_worker_with_short_calls_keeps_one_process_with_two_jobs",
            a_worker_with_short_calls_keeps_one_process_with_two_jobs,
        ),
        (
            "warm_prestart_starts_named_workers_within_jobs_and_ends_unused_ones",
            warm_prestart_starts_named_workers_within_jobs_and_ends_unused_ones,
        ),
        (
            "rust_sdk_worker_serves_many_calls_in_one_process",
            rust_sdk_worker_serves_many_calls_in_one_process,
        ),
        (
            "no_warm_process_outlives_tkr_stop",
            no_warm_process_outlives_tkr_stop,
        ),
        (
            "no_warm_process_outlives_ctrl_c",
            no_warm_process_outlives_ctrl_c,
        ),
        (
            "no_warm_process_outlives_a_killed_controller",
            no_warm_process_outlives_a_killed_controller,
        ),
        (
            "no_process_outlives_a_killed_controller_whose_warm_task_spawned_a_child",
            no_process_outlives_a_killed_controller_whose_warm_task_spawned_a_child,
        ),
        (
            "a_crash_after_a_fork_is_reported_at_once_warm_and_one_shot",
            a_crash_after_a_fork_is_reported_at_once_warm_and_one_shot,
        ),
        (
            "memory_limit_fails_a_growing_task_warm_and_one_shot_alike",
            memory_limit_fails_a_growing_task_warm_and_one_shot_alike,
        ),
    ];
    common::run_trials_needing(availability().err(), trials);
}

/// A Python worker `pyw` on the reference's `Worker`: `pid` returns its
/// process id, `double` doubles, `exit` ends the process with status 3 for
/// x = 0, `segv` reads address 0, `sleep` sleeps x seconds, `hog` holds 400
/// MB and sleeps, `mark` writes its pid into the file named by
/// `$WARM_PID_DIR/<x>` and sleeps x seconds, `fork_then_segv` forks a child
/// that sleeps x seconds (`forked.<pid>`), notes the time (`crash-time`) and
/// segfaults, `spawn_sleep` starts `sleep x` (`<pid>.worker`,
/// `<sleep pid>.sleep`) and waits for it.
const PY_WORKER: &str = r#"import ctypes
import os
import time
from pathlib import Path
from sys import argv

from tierkreis import Worker

worker = Worker("pyw")
HELD = []


@worker.task()
def pid(x: int) -> int:
    print(f"pid task {x} in {os.getpid()}")
    return os.getpid()


@worker.task()
def double(x: int) -> int:
    return 2 * x


@worker.task()
def pid_once_another_worker_imported(x: int) -> int:
    # Waits (at most a minute) until some worker left `import.<pid>` in the
    # pid folder, so a run cannot end before a pre-started process imported.
    folder = Path(os.environ["WARM_PID_DIR"])
    for _ in range(600):
        if any(p.name.startswith("import.") for p in folder.glob("import.*")):
            break
        time.sleep(0.1)
    return os.getpid()


@worker.task()
def exit(x: int) -> int:
    if x == 0:
        print("about to exit", flush=True)
        os._exit(3)
    return os.getpid()


@worker.task()
def segv(x: int) -> int:
    ctypes.string_at(0)
    return x


@worker.task()
def sleep(x: int) -> int:
    time.sleep(x)
    return os.getpid()


@worker.task()
def hog(x: int) -> int:
    HELD.append(b"x" * (400 * 1024 * 1024))
    time.sleep(30)
    return os.getpid()


@worker.task()
def fork_then_segv(x: int) -> int:
    d = Path(os.environ["WARM_PID_DIR"])
    child = os.fork()
    if child == 0:
        time.sleep(x)
        os._exit(0)
    (d / f"forked.{child}").write_text("")
    (d / "crash-time").write_text(repr(time.time()))
    ctypes.string_at(0)
    return x


@worker.task()
def spawn_sleep(x: int) -> int:
    import subprocess

    d = Path(os.environ["WARM_PID_DIR"])
    p = subprocess.Popen(["sleep", str(x)])
    (d / f"{os.getpid()}.worker").write_text("")
    (d / f"{p.pid}.sleep").write_text("")
    p.wait()
    return os.getpid()


@worker.task()
def mark(x: int) -> int:
    d = Path(os.environ["WARM_PID_DIR"])
    (d / f"{os.getpid()}.{x}").write_text("")
    time.sleep(x)
    return os.getpid()


if __name__ == "__main__":
    worker.app(argv)
"#;

/// One task node per `(function, x)`: node `2i` is the constant `x`, node
/// `2i + 1` the task `worker.function(x)`; the output node has `v<i>`.
fn tasks_graph(worker: &str, calls: &[(&str, i64)]) -> String {
    let calls: Vec<(&str, &str, i64)> = calls.iter().map(|(f, x)| (worker, *f, *x)).collect();
    tasks_graph_on(&calls)
}

/// [`tasks_graph`] with each task's own worker: `(worker, function, x)`.
fn tasks_graph_on(calls: &[(&str, &str, i64)]) -> String {
    let n = calls.len();
    let mut nodes = Vec::new();
    for (i, (worker, function, x)) in calls.iter().enumerate() {
        nodes.push(format!(
            r#"{{"type": "const", "value": {x}, "inputs": {{}}, "outputs": {{"value": [{}]}}}}"#,
            2 * i + 1
        ));
        nodes.push(format!(
            r#"{{"type": "function", "function_name": "{worker}.{function}", "inputs": {{"x": [{}, "value"]}}, "outputs": {{"value": [{}]}}}}"#,
            2 * i,
            2 * n
        ));
    }
    let names: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    let outputs: Vec<(&str, usize)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), 2 * i + 1))
        .collect();
    graph_of_nodes(nodes, &outputs)
}

/// The location of task `i` of [`tasks_graph`].
fn task_loc(i: usize) -> String {
    format!("-.N{}", 2 * i + 1)
}

/// A scratch with the Python worker in `registry/pyw/main.py`, and a folder
/// `pids/` for `WARM_PID_DIR`.
fn scratch_with(worker_py: &str) -> (Scratch, PathBuf) {
    let s = Scratch::new();
    let reg = s.python_worker_registry("pyw", worker_py);
    std::fs::create_dir_all(s.path().join("pids")).expect("pids");
    (s, reg)
}

/// `tkr ARGS` run inside the reference environment (its `python3` has
/// `tierkreis`), in the scratch folder, with its checkpoints and
/// `WARM_PID_DIR` its `pids/`.
fn tkr_in_reference(s: &Scratch, args: &[&str]) -> Command {
    let mut c = s.tkr_in_reference(&[format!("WARM_PID_DIR={}", s.path().join("pids").display())]);
    c.args(args);
    c
}

/// `tkr run --run-id ID --registry REG EXTRA... -f graph<ID>.json` of
/// `graph` inside the reference environment ([`tkr_in_reference`]).
fn run_command(s: &Scratch, reg: &Path, graph: &str, id: u32, extra: &[&str]) -> Command {
    let g = s.write(&format!("graph{id}.json"), graph);
    let id = id.to_string();
    let mut args = vec![
        "run",
        "--run-id",
        &id,
        "--registry",
        reg.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    args.push("-f");
    args.push(g.to_str().expect("utf-8"));
    tkr_in_reference(s, &args)
}

fn run_graph(s: &Scratch, reg: &Path, graph: &str, id: u32, extra: &[&str]) -> Output {
    run_command(s, reg, graph, id, extra).output().expect("tkr")
}

fn output_of(wf: &Path, loc: &str) -> String {
    std::fs::read_to_string(wf.join(loc).join("outputs/value"))
        .unwrap_or_else(|e| panic!("no output of {loc}: {e}\nlogs:\n{}", logs(wf, loc)))
}

fn logs(wf: &Path, loc: &str) -> String {
    std::fs::read_to_string(wf.join(loc).join("logs")).unwrap_or_default()
}

fn executor_of(wf: &Path, loc: &str) -> String {
    std::fs::read_to_string(wf.join("debug/executors").join(loc)).unwrap_or_default()
}

fn done(wf: &Path, loc: &str) -> bool {
    wf.join(loc).join("_done").exists()
}

fn errored(wf: &Path, loc: &str) -> bool {
    wf.join(loc).join("_error").exists()
}

fn python_warm_serves_many_calls_in_one_process_like_no_warm() {
    let (s, reg) = scratch_with(PY_WORKER);
    let mut calls = Vec::new();
    for i in 0..12 {
        calls.push(("pid", i));
        calls.push(("double", i));
    }
    let graph = tasks_graph("pyw", &calls);
    let warm = run_graph(&s, &reg, &graph, 1, &["--jobs", "1"]);
    expect_code(&warm, 0);
    let cold = run_graph(&s, &reg, &graph, 2, &["--jobs", "1", "--no-warm"]);
    expect_code(&cold, 0);
    let (w, c) = (s.workflow(1), s.workflow(2));
    let mut warm_pids = BTreeSet::new();
    let mut cold_pids = BTreeSet::new();
    for (i, (function, _)) in calls.iter().enumerate() {
        let loc = task_loc(i);
        if *function == "pid" {
            warm_pids.insert(output_of(&w, &loc));
            cold_pids.insert(output_of(&c, &loc));
            assert!(
                logs(&w, &loc).contains(&format!("pid task {} in", i / 2)),
                "the task's own output is not in its log:\n{}",
                logs(&w, &loc)
            );
            assert!(logs(&w, &loc).contains("tkr: running warm: call"));
        } else {
            assert_eq!(output_of(&w, &loc), output_of(&c, &loc), "{loc}");
        }
        assert!(
            executor_of(&w, &loc).contains("\"tierkreis-rs:python-warm\""),
            "{}",
            executor_of(&w, &loc)
        );
        assert!(
            executor_of(&c, &loc).contains("\"tierkreis-rs:python\""),
            "{}",
            executor_of(&c, &loc)
        );
    }
    assert_eq!(warm_pids.len(), 1, "warm calls ran in {warm_pids:?}");
    assert_eq!(cold_pids.len(), 12, "one-shot calls ran in {cold_pids:?}");
    // The workflow log has each call's lines under its location, as one-shot.
    let wlog = std::fs::read_to_string(w.join("logs")).expect("workflow log");
    assert!(
        wlog.contains(&format!("[{}] pid task 0 in", task_loc(0))),
        "{wlog}"
    );
}

fn a_call_that_exits_fails_its_node_only_and_restart_finishes() {
    let (s, reg) = scratch_with(PY_WORKER);
    let graph = tasks_graph("pyw", &[("exit", 1), ("exit", 0), ("exit", 2)]);
    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "1"]);
    assert_ne!(out.status.code(), Some(0), "the run should fail");
    let wf = s.workflow(1);
    let bad = task_loc(1);
    assert!(errored(&wf, &bad) && !done(&wf, &bad));
    let text = logs(&wf, &bad);
    assert!(
        text.contains(&format!("worker \"pyw\" (python-warm at {bad})"))
            && text.contains("exited with status 3 while running this task")
            && text.contains("about to exit"),
        "{text}"
    );
    assert!(done(&wf, &task_loc(0)), "{}", logs(&wf, &task_loc(0)));
    // The fixed worker finishes the run: restart re-runs the failed task.
    let fixed = PY_WORKER.replace("os._exit(3)", "return 7");
    std::fs::write(reg.join("pyw/main.py"), fixed).expect("fix");
    let out = tkr_in_reference(
        &s,
        &[
            "restart",
            "--run-id",
            "1",
            "--registry",
            reg.to_str().expect("utf-8"),
            &bad,
        ],
    )
    .output()
    .expect("restart");
    expect_code(&out, 0);
    assert_eq!(output_of(&wf, &bad), "7");
    assert!(done(&wf, &task_loc(2)));
}

fn a_segfault_fails_its_node_naming_the_signal() {
    let (s, reg) = scratch_with(PY_WORKER);
    let graph = tasks_graph("pyw", &[("pid", 1), ("segv", 1), ("pid", 2)]);
    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "1"]);
    assert_ne!(out.status.code(), Some(0));
    let wf = s.workflow(1);
    let bad = task_loc(1);
    let text = logs(&wf, &bad);
    assert!(
        text.contains(&format!("(python-warm at {bad})"))
            && text.contains("killed by signal 11 (SIGSEGV)")
            && text.contains("Segmentation fault"),
        "{text}"
    );
    assert!(errored(&wf, &bad));
    // The other calls ran, in two processes: before and after the crash.
    let a = output_of(&wf, &task_loc(0));
    let b = output_of(&wf, &task_loc(2));
    assert_ne!(a, b);
}

fn a_call_past_its_timeout_is_stopped_and_the_next_call_gets_a_new_process() {
    let (s, reg) = scratch_with(PY_WORKER);
    let config = s.write(
        "tkr.toml",
        "[[routes]]\ntask = \"pyw.sleep\"\ntimeout_secs = 1\n",
    );
    let graph = tasks_graph("pyw", &[("pid", 1), ("sleep", 60), ("pid", 2)]);
    let started = Instant::now();
    let out = run_graph(
        &s,
        &reg,
        &graph,
        1,
        &["--jobs", "1", "--config", config.to_str().expect("utf-8")],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the sleep was not stopped"
    );
    let wf = s.workflow(1);
    let bad = task_loc(1);
    let text = logs(&wf, &bad);
    assert!(
        text.contains(&format!(
            "worker \"pyw\" (python-warm at {bad}) timed out after 1s"
        )),
        "{text}"
    );
    assert_ne!(output_of(&wf, &task_loc(0)), output_of(&wf, &task_loc(2)));
}

fn max_calls_replaces_the_process() {
    let (s, reg) = scratch_with(PY_WORKER);
    let config = s.write("tkr.toml", "[workers.pyw]\nmax_calls = 2\n");
    let calls: Vec<(&str, i64)> = (0..5).map(|i| ("pid", i)).collect();
    let graph = tasks_graph("pyw", &calls);
    let out = run_graph(
        &s,
        &reg,
        &graph,
        1,
        &["--jobs", "1", "--config", config.to_str().expect("utf-8")],
    );
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let pids: Vec<String> = (0..5).map(|i| output_of(&wf, &task_loc(i))).collect();
    // Nodes start in order with one job: two calls per process.
    let mut sorted: Vec<(String, usize)> = Vec::new();
    for p in &pids {
        match sorted.iter_mut().find(|(q, _)| q == p) {
            Some((_, n)) => *n += 1,
            None => sorted.push((p.clone(), 1)),
        }
    }
    let counts: Vec<usize> = sorted.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, vec![2, 2, 1], "pids {pids:?}");
    let wlog = std::fs::read_to_string(wf.join("logs")).expect("log");
    assert!(
        wlog.contains("replaced after 2 calls (max_calls)"),
        "{wlog}"
    );
}

fn memory_limit_stops_the_growing_call_and_replaces_the_process() {
    let (s, reg) = scratch_with(PY_WORKER);
    let config = s.write("tkr.toml", "[workers.pyw]\nmemory_limit = \"300MiB\"\n");
    let graph = tasks_graph("pyw", &[("pid", 1), ("hog", 1), ("pid", 2)]);
    let out = run_graph(
        &s,
        &reg,
        &graph,
        1,
        &["--jobs", "1", "--config", config.to_str().expect("utf-8")],
    );
    assert_ne!(out.status.code(), Some(0));
    let wf = s.workflow(1);
    let bad = task_loc(1);
    let text = logs(&wf, &bad);
    assert!(
        text.contains(&format!("(python-warm at {bad})"))
            && text.contains("past memory_limit 300 MiB"),
        "{text}"
    );
    assert!(errored(&wf, &bad));
    assert_ne!(output_of(&wf, &task_loc(0)), output_of(&wf, &task_loc(2)));
}

fn a_worker_raising_on_import_falls_back_and_fails_clearly() {
    let broken = PY_WORKER.replace(
        "worker = Worker(\"pyw\")",
        "raise RuntimeError(\"broken at import\")\nworker = Worker(\"pyw\")",
    );
    let (s, reg) = scratch_with(&broken);
    let graph = tasks_graph("pyw", &[("pid", 1), ("pid", 2)]);
    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "1"]);
    assert_ne!(out.status.code(), Some(0));
    let wf = s.workflow(1);
    let wlog = std::fs::read_to_string(wf.join("logs")).expect("log");
    assert!(
        wlog.contains("tkr: worker \"pyw\" cannot run warm (importing main.py raised RuntimeError: broken at import); running one process per call"),
        "{wlog}"
    );
    for i in 0..2 {
        let loc = task_loc(i);
        let text = logs(&wf, &loc);
        assert!(errored(&wf, &loc), "{text}");
        assert!(
            text.contains("RuntimeError: broken at import")
                && text.contains("exited with status 1"),
            "{text}"
        );
        assert!(executor_of(&wf, &loc).contains("\"tierkreis-rs:python\""));
    }
}

/// A worker object of an older or different API: a `Worker` without
/// `run(path)`, whose command line writes the output itself.
const OLD_API_WORKER: &str = r#"import json
import os
import sys
from pathlib import Path


class Worker:
    def __init__(self, name):
        self.name = name
        self.functions = {}

    def app(self, argv):
        tkr = Path(os.environ["TKR_DIR"])
        args = json.loads((tkr / argv[1]).read_text())
        x = json.loads((tkr / args["inputs"]["x"]).read_text())
        (tkr / args["outputs"]["value"]).write_text(json.dumps(x + 1))
        (tkr / args["done_path"]).touch()


worker = Worker("pyw")

if __name__ == "__main__":
    worker.app(sys.argv)
"#;

fn an_older_worker_api_without_run_falls_back_to_one_process_per_call() {
    let (s, reg) = scratch_with(OLD_API_WORKER);
    let graph = tasks_graph("pyw", &[("inc", 1), ("inc", 41)]);
    let out = run_graph(&s, &reg, &graph, 1, &[]);
    expect_code(&out, 0);
    let wf = s.workflow(1);
    assert_eq!(output_of(&wf, &task_loc(0)), "2");
    assert_eq!(output_of(&wf, &task_loc(1)), "42");
    let wlog = std::fs::read_to_string(wf.join("logs")).expect("log");
    assert!(
        wlog.contains("has no run(call_args_path) method (an older or different tierkreis API"),
        "{wlog}"
    );
    assert!(executor_of(&wf, &task_loc(0)).contains("\"tierkreis-rs:python\""));
}

/// A console script like the published workers' (`tkr-aer-worker`): a
/// Python script on `PATH` importing its entry point from a package.
fn a_console_script_on_path_is_served_warm_through_its_entry_point() {
    let s = Scratch::new();
    let pkg = s.path().join("pkgs/pyw_impl");
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(pkg.join("__init__.py"), "").expect("init");
    let module = PY_WORKER.replace(
        "if __name__ == \"__main__\":\n    worker.app(argv)",
        "def main():\n    worker.app(argv)",
    );
    std::fs::write(pkg.join("main.py"), module).expect("main.py");
    let bin = s.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let script = bin.join("tkr-pyw");
    std::fs::write(
        &script,
        "#!/opt/tk/bin/python\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n\
         from pyw_impl.main import main\nif __name__ == '__main__':\n\
         \x20   sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n\
         \x20   sys.exit(main())\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let calls: Vec<(&str, i64)> = (0..6).map(|i| ("pid", i)).collect();
    let g = s.write("graph.json", &tasks_graph("pyw", &calls));
    let path = format!(
        "PATH={}:/opt/tk/bin:/usr/local/bin:/usr/bin:/bin",
        bin.display()
    );
    let pythonpath = format!("PYTHONPATH={}", s.path().join("pkgs").display());
    // The script's folder and package on the paths, as an install would have them.
    let out = s
        .tkr_in_reference(&[path, pythonpath])
        .args(["run", "--run-id", "1", "--jobs", "1", "-f"])
        .arg(&g)
        .output()
        .expect("tkr");
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let pids: BTreeSet<String> = (0..6).map(|i| output_of(&wf, &task_loc(i))).collect();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let debug = executor_of(&wf, &task_loc(0));
    assert!(
        debug.contains("\"tierkreis-rs:python-warm\"") && debug.contains("tkr-pyw"),
        "{debug}"
    );
}

/// With one job, worker `pyw`'s idle warm process is ended when `pyv` has
/// a task waiting, and `pyw` gets a new one afterwards: no worker keeps a
/// slot it does not use (else this run would never finish).
fn an_idle_warm_process_makes_room_for_another_worker() {
    let (s, reg) = scratch_with(PY_WORKER);
    add_second_worker_pyv(&reg);
    let mut graph = tasks_graph("pyw", &[("pid", 1), ("pid", 2), ("pid", 3)]);
    // The middle task is pyv's.
    graph = graph.replacen("\"pyw.pid\"", "\"pyw.PID\"", 1);
    graph = graph.replacen("\"pyw.pid\"", "\"pyv.pid\"", 1);
    graph = graph.replacen("\"pyw.PID\"", "\"pyw.pid\"", 1);
    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "1"]);
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let pids: Vec<String> = (0..3).map(|i| output_of(&wf, &task_loc(i))).collect();
    let distinct: BTreeSet<&String> = pids.iter().collect();
    assert_eq!(distinct.len(), 3, "{pids:?}");
}

/// A second worker `pyv` in the registry: the same code as `pyw`.
fn add_second_worker_pyv(reg: &Path) {
    let other = reg.join("pyv");
    std::fs::create_dir_all(&other).expect("pyv");
    std::fs::write(
        other.join("main.py"),
        PY_WORKER.replace("Worker(\"pyw\")", "Worker(\"pyv\")"),
    )
    .expect("pyv main.py");
}

/// Four calls of 5 s each with two jobs: the queue's wait passes the
/// worker's start-up while the first call runs, so a second warm process
/// serves part of them (and never more than `--jobs`).
fn a_worker_with_slow_calls_gets_a_second_process_with_two_jobs() {
    let (s, reg) = scratch_with(PY_WORKER);
    let calls = [("sleep", 5), ("sleep", 5), ("sleep", 5), ("sleep", 5)];
    let graph = tasks_graph("pyw", &calls);
    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "2"]);
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let pids: BTreeSet<String> = (0..calls.len())
        .map(|i| output_of(&wf, &task_loc(i)))
        .collect();
    assert_eq!(pids.len(), 2, "slow calls ran in {pids:?}");
    for i in 0..calls.len() {
        assert!(executor_of(&wf, &task_loc(i)).contains("\"tierkreis-rs:python-warm\""));
    }
}

/// Sixteen calls of a few milliseconds with two jobs: waiting for the one
/// warm process is cheaper than importing another, so one process serves all.
fn a_worker_with_short_calls_keeps_one_process_with_two_jobs() {
    let (s, reg) = scratch_with(PY_WORKER);
    let calls: Vec<(&str, i64)> = (0..16).map(|i| ("pid", i)).collect();
    let graph = tasks_graph("pyw", &calls);
    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "2"]);
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let pids: BTreeSet<String> = (0..calls.len())
        .map(|i| output_of(&wf, &task_loc(i)))
        .collect();
    assert_eq!(pids.len(), 1, "short calls ran in {pids:?}");
    // Only one warm process of pyw was ever started.
    let wlog = std::fs::read_to_string(wf.join("logs")).expect("workflow log");
    assert!(!wlog.contains("cannot run warm"), "{wlog}");
}

/// `--warm-prestart`: worker `pyv`, named only in a nested graph that never
/// runs, gets a warm process when the run starts (its import leaves
/// `import.<pid>` in the pid folder), which is gone when `tkr` exits; with
/// `--jobs 1` the one slot goes to `pyw`, named first, and `pyv` never starts.
fn warm_prestart_starts_named_workers_within_jobs_and_ends_unused_ones() {
    let (s, reg) = scratch_with(PY_WORKER);
    let other = reg.join("pyv");
    std::fs::create_dir_all(&other).expect("pyv");
    std::fs::write(
        other.join("main.py"),
        PY_WORKER.replace(
            "worker = Worker(\"pyw\")",
            "worker = Worker(\"pyv\")\n\
             (Path(os.environ[\"WARM_PID_DIR\"]) / f\"import.{os.getpid()}\").write_text(\"\")",
        ),
    )
    .expect("pyv main.py");
    let unused = r#"{"nodes": [
        {"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}},
        {"type": "function", "function_name": "pyv.pid", "inputs": {"x": [0, "x"]}, "outputs": {"value": [2]}},
        {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
      ], "fixed_inputs": {}, "graph_inputs": ["x"], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    let calls = [("pid", 1), ("pid", 2)];
    let n = calls.len();
    // A const node holding the graph, after the output node, read by nothing.
    let graph = tasks_graph("pyw", &calls).replacen(
        "}], \"fixed_inputs\"",
        &format!(
            "}},\n{{\"type\": \"const\", \"value\": {unused}, \"inputs\": {{}}, \"outputs\": {{}}}}], \"fixed_inputs\""
        ),
        1,
    );
    assert!(graph.contains("pyv.pid"), "{graph}");
    let imports = |s: &Scratch| -> Vec<u32> {
        std::fs::read_dir(s.path().join("pids"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("import.")?
                            .parse::<u32>()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    let out = run_graph(&s, &reg, &graph, 1, &["--jobs", "1", "--warm-prestart"]);
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let pids: BTreeSet<String> = (0..n).map(|i| output_of(&wf, &task_loc(i))).collect();
    assert_eq!(pids.len(), 1, "pyw ran in {pids:?}");
    assert!(imports(&s).is_empty(), "pyv started with --jobs 1");

    // Run 2's tasks wait for pyv's import (bounded), so the run cannot end
    // before a pre-started process had time to import.
    let waiting = graph.replace("pyw.pid", "pyw.pid_once_another_worker_imported");
    let out = run_graph(&s, &reg, &waiting, 2, &["--jobs", "2", "--warm-prestart"]);
    expect_code(&out, 0);
    let started = imports(&s);
    assert_eq!(started.len(), 1, "pyv pre-started processes: {started:?}");
    expect_gone(&started, "the end of the run");
    let wf = s.workflow(2);
    for i in 0..n {
        assert!(done(&wf, &task_loc(i)));
        assert!(executor_of(&wf, &task_loc(i)).contains("\"tierkreis-rs:python-warm\""));
    }
}

/// `tkr-hello-world-worker` (built with the SDK, unchanged) on `PATH`.
fn rust_sdk_worker_serves_many_calls_in_one_process() {
    let s = Scratch::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_tkr"));
    let worker = bin.with_file_name("tkr-hello-world-worker");
    assert!(
        worker.is_file(),
        "{} is missing: cargo build -p hello_world_worker",
        worker.display()
    );
    let mut nodes = vec![
        r#"{"type": "const", "value": "Hi ", "inputs": {}, "outputs": {}}"#.to_string(),
        r#"{"type": "const", "value": "you", "inputs": {}, "outputs": {}}"#.to_string(),
    ];
    let n = 20;
    for _ in 0..n {
        nodes.push(format!(
            r#"{{"type": "function", "function_name": "hello_world_worker.greet", "inputs": {{"greeting": [0, "value"], "subject": [1, "value"]}}, "outputs": {{"value": [{}]}}}}"#,
            n + 2
        ));
    }
    let inputs: Vec<String> = (0..n)
        .map(|i| format!(r#""v{i}": [{}, "value"]"#, i + 2))
        .collect();
    nodes.push(format!(
        r#"{{"type": "output", "inputs": {{{}}}, "outputs": {{}}}}"#,
        inputs.join(", ")
    ));
    let graph = format!(
        r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": {}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
        nodes.join(",\n"),
        n + 2
    );
    let g = s.write("graph.json", &graph);
    let path = std::env::join_paths(
        std::iter::once(worker.parent().expect("dir").to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .expect("PATH");
    let out = s
        .tkr()
        .env("PATH", path)
        .current_dir(s.path())
        .args(["run", "--run-id", "1", "--jobs", "1", "-f"])
        .arg(&g)
        .output()
        .expect("tkr");
    expect_code(&out, 0);
    let wf = s.workflow(1);
    let mut pids = BTreeSet::new();
    for i in 0..n {
        let loc = format!("-.N{}", i + 2);
        assert_eq!(output_of(&wf, &loc), "\"Hi you\"");
        let text = logs(&wf, &loc);
        let line = text
            .lines()
            .find(|l| l.starts_with("tkr: running warm: call"))
            .unwrap_or_else(|| panic!("{loc} did not run warm:\n{text}"));
        pids.insert(line.split(" of process ").nth(1).map(str::to_string));
        assert!(executor_of(&wf, &loc).contains("\"tierkreis-rs:binary-warm\""));
    }
    assert_eq!(pids.len(), 1, "{pids:?}");
}

/// Starts a run whose two warm processes are up (`pyw`'s idle after
/// `mark(0)`, `pyv`'s busy in `mark(600)`, jobs 2), returns the controller
/// and their pids. (Two workers: one worker would not get a second process
/// while its first is starting.)
fn start_with_warm_processes(s: &Scratch, reg: &Path) -> (Group, Vec<u32>) {
    add_second_worker_pyv(reg);
    let graph = tasks_graph_on(&[("pyw", "mark", 0), ("pyv", "mark", 600)]);
    let cmd = run_command(s, reg, &graph, 1, &["--jobs", "2"]);
    let mut group = Group::spawn(cmd, s.path().join("tkr.stderr"));
    let pids_dir = s.path().join("pids");
    let mut pids = Vec::new();
    wait_until(
        "both warm processes started",
        Duration::from_secs(60),
        &mut group,
        || {
            pids = std::fs::read_dir(&pids_dir)
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| {
                            e.file_name()
                                .to_str()?
                                .split('.')
                                .next()?
                                .parse::<u32>()
                                .ok()
                        })
                        .collect()
                })
                .unwrap_or_default();
            pids.len() == 2 && done(&s.workflow(1), &task_loc(0))
        },
    );
    (group, pids)
}

fn alive(pid: u32) -> bool {
    // A zombie has no more memory map: count it as gone.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|t| {
            !t.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// Waits (bounded) for every pid to disappear.
fn expect_gone(pids: &[u32], after: &str) {
    let start = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "warm processes {:?} still alive 30s after {after}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The controller's pid: the process named `tkr` working on the scratch.
fn controller_pid(s: &Scratch) -> u32 {
    s.processes()
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "tkr")
        })
        .expect("the tkr controller")
}

fn no_warm_process_outlives_tkr_stop() {
    let (s, reg) = scratch_with(PY_WORKER);
    let (mut group, pids) = start_with_warm_processes(&s, &reg);
    let out = tkr_in_reference(&s, &["stop", "--run-id", "1"])
        .output()
        .expect("tkr stop");
    expect_code(&out, 0);
    expect_gone(&pids, "tkr stop");
    // tkr exits within 30 s after stop.
    group.wait_exit(Duration::from_secs(30));
}

fn no_warm_process_outlives_ctrl_c() {
    let (s, reg) = scratch_with(PY_WORKER);
    let (mut group, pids) = start_with_warm_processes(&s, &reg);
    let pid = controller_pid(&s);
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    expect_gone(&pids, "SIGINT to the controller");
    // tkr exits within 30 s after SIGINT.
    group.wait_exit(Duration::from_secs(30));
}

fn no_warm_process_outlives_a_killed_controller() {
    let (s, reg) = scratch_with(PY_WORKER);
    let (_group, pids) = start_with_warm_processes(&s, &reg);
    let pid = controller_pid(&s);
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    expect_gone(&pids, "SIGKILL to the controller");
}

/// The pids named by files `<pid>.<suffix>` in the scratch's pid folder.
fn pids_with_suffix(s: &Scratch, suffix: &str) -> Vec<u32> {
    std::fs::read_dir(s.path().join("pids"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_string();
                    let (pid, rest) = name.split_once('.')?;
                    (rest == suffix).then(|| pid.parse().ok()).flatten()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn no_process_outlives_a_killed_controller_whose_warm_task_spawned_a_child() {
    let (s, reg) = scratch_with(PY_WORKER);
    let graph = tasks_graph("pyw", &[("spawn_sleep", 88)]);
    let cmd = run_command(&s, &reg, &graph, 1, &[]);
    let mut group = Group::spawn(cmd, s.path().join("tkr.stderr"));
    wait_until(
        "the warm task started its sleep",
        Duration::from_secs(60),
        &mut group,
        || !pids_with_suffix(&s, "sleep").is_empty(),
    );
    let mut pids = pids_with_suffix(&s, "worker");
    pids.extend(pids_with_suffix(&s, "sleep"));
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(
        executor_of(&s.workflow(1), &task_loc(0)).contains("python-warm"),
        "the task is not served warm"
    );
    let pid = controller_pid(&s);
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    expect_gone(&pids, "SIGKILL to the controller");
    // Nothing else of the run is left either (its guardian included).
    let start = Instant::now();
    loop {
        let left: Vec<u32> = s.processes().into_iter().filter(|p| alive(*p)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "processes {left:?} still work on the run 30s after SIGKILL to the controller"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Seconds since the epoch of `path`'s modification time.
fn mtime_secs(path: &Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn a_crash_after_a_fork_is_reported_at_once_warm_and_one_shot() {
    let (s, reg) = scratch_with(PY_WORKER);
    // The forked child would sleep two minutes, holding the worker's pipes.
    let graph = tasks_graph("pyw", &[("fork_then_segv", 120)]);
    for (id, extra, executor) in [
        (1u32, &[][..], "python-warm"),
        (2, &["--no-warm"][..], "python"),
    ] {
        let pids = s.path().join("pids");
        std::fs::remove_dir_all(&pids).expect("clear pids");
        std::fs::create_dir_all(&pids).expect("pids");
        let started = Instant::now();
        let out = run_graph(&s, &reg, &graph, id, extra);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{executor}: the run should fail"
        );
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{executor}: the run waited for the forked child"
        );
        let wf = s.workflow(u128::from(id));
        let loc = task_loc(0);
        let text = logs(&wf, &loc);
        assert!(
            text.contains(&format!("({executor} at {loc})"))
                && text.contains("killed by signal 11 (SIGSEGV)"),
            "{text}"
        );
        let crashed: f64 = std::fs::read_to_string(pids.join("crash-time"))
            .expect("crash time")
            .trim()
            .parse()
            .expect("a time");
        let reported = mtime_secs(&wf.join(&loc).join("_error"));
        assert!(
            reported - crashed < 5.0,
            "{executor}: the crash was reported {:.1}s after it happened",
            reported - crashed
        );
        let forked = std::fs::read_dir(&pids)
            .expect("pids")
            .flatten()
            .find_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("forked.")?
                    .parse::<u32>()
                    .ok()
            })
            .expect("the forked child's pid");
        expect_gone(&[forked], "the crash of its parent's task");
    }
}

fn memory_limit_fails_a_growing_task_warm_and_one_shot_alike() {
    let (s, reg) = scratch_with(PY_WORKER);
    let config = s.write("tkr.toml", "[workers.pyw]\nmemory_limit = \"300MiB\"\n");
    let config = config.to_str().expect("utf-8");
    // `hog` holds 400 MB, then sleeps 30 s and would succeed.
    let graph = tasks_graph("pyw", &[("hog", 1)]);
    for (id, extra, executor) in [
        (1u32, vec!["--config", config], "python-warm"),
        (2, vec!["--config", config, "--no-warm"], "python"),
    ] {
        let started = Instant::now();
        let out = run_graph(&s, &reg, &graph, id, &extra);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{executor}: the run should fail"
        );
        let wf = s.workflow(u128::from(id));
        let loc = task_loc(0);
        let text = logs(&wf, &loc);
        assert!(
            text.contains(&format!("({executor} at {loc})"))
                && text.contains("past memory_limit 300 MiB"),
            "{text}"
        );
        assert!(errored(&wf, &loc) && !done(&wf, &loc));
        assert!(
            started.elapsed() < Duration::from_secs(28),
            "{executor}: the task was not stopped before its sleep ended"
        );
    }
}
