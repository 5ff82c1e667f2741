//! The error text a user reads (issue 22): a failed task's node log keeps
//! `tkr`'s `running warm` header and the task's output when the worker
//! writes its error, the error text and what follows are on lines of their
//! own, the traceback is there once, and `tkr errors` headlines the cause.
//! Python workers on the reference's `Worker` (inside the reference
//! environment) and the Rust SDK's example worker, both warm and one-shot.

mod common;

use std::path::{Path, PathBuf};

use common::expect_code;
use common::reference::*;
use tierkreis_test_support::graphs::one_task_graph;

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        (
            "a_python_task_that_raises_keeps_its_log_and_is_headlined_by_its_exception",
            a_python_task_that_raises_keeps_its_log_and_is_headlined_by_its_exception,
        ),
        (
            "a_warm_segfault_is_headlined_by_its_signal",
            a_warm_segfault_is_headlined_by_its_signal,
        ),
        (
            "a_rust_sdk_task_error_keeps_the_header_and_ends_its_line",
            a_rust_sdk_task_error_keeps_the_header_and_ends_its_line,
        ),
    ];
    common::run_trials_needing(availability().err(), trials);
}

/// A worker `pyw` on the reference's `Worker`: `boom` prints a line, then
/// raises; `segv` reads address 0.
const PY_WORKER: &str = r#"import ctypes
from sys import argv

from tierkreis import Worker

worker = Worker("pyw")


@worker.task()
def boom(x: int) -> int:
    print("before boom", flush=True)
    raise ValueError(f"boom on element {x}")


@worker.task()
def segv(x: int) -> int:
    ctypes.string_at(0)
    return x


if __name__ == "__main__":
    worker.app(argv)
"#;

/// A scratch with `pyw` in `registry/pyw/main.py`.
fn scratch() -> (Scratch, PathBuf) {
    let s = Scratch::new();
    let reg = s.python_worker_registry("pyw", PY_WORKER);
    (s, reg)
}

/// Runs `function` as run `id` with the registry and `extra` options; it
/// must fail.
fn run_failing(s: &Scratch, reg: &Path, function: &str, id: u32, extra: &[&str]) {
    let graph = s.write(&format!("graph{id}.json"), &one_task_graph(function, "3"));
    let id = id.to_string();
    let mut args = vec!["run", "--run-id", &id, "--registry"];
    args.push(reg.to_str().expect("utf-8"));
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-f", graph.to_str().expect("utf-8")]);
    let out = s.tkr_in_reference(&[]).args(&args).output().expect("tkr");
    expect_code(&out, 1);
}

fn node_log(s: &Scratch, id: u128) -> String {
    std::fs::read_to_string(s.workflow(id).join("-.N1/logs")).expect("the node's log")
}

/// The message `tkr errors` gives the failed node `-.N1`.
fn headline(s: &Scratch, id: u128) -> String {
    let out = s
        .tkr()
        .args(["errors", "--run-id", &id.to_string()])
        .output()
        .expect("tkr errors");
    expect_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("-.N1 ("))
        .unwrap_or_else(|| panic!("no -.N1 in tkr errors:\n{text}"));
    line.split_once("): ")
        .map(|(_, message)| message.to_string())
        .unwrap_or_else(|| panic!("{line}"))
}

fn a_python_task_that_raises_keeps_its_log_and_is_headlined_by_its_exception() {
    let (s, reg) = scratch();
    run_failing(&s, &reg, "pyw.boom", 1, &[]);
    let warm = node_log(&s, 1);
    assert!(
        warm.starts_with("tkr: running warm: call 1 of process "),
        "the header is gone:\n{warm}"
    );
    assert!(warm.contains("before boom\n"), "{warm}");
    assert!(
        warm.contains("\nboom on element 3\n"),
        "the error text is not on a line of its own:\n{warm}"
    );
    assert_eq!(
        warm.matches("Traceback (most recent call last):").count(),
        1,
        "{warm}"
    );
    assert_eq!(headline(&s, 1), "ValueError: boom on element 3");

    // One-shot, the reference's own `Worker` rewrites the log ("w+") while
    // our pump appends the process's stderr to it: the order of the two is
    // the processes' race, so only the content and the headline are checked.
    run_failing(&s, &reg, "pyw.boom", 2, &["--no-warm"]);
    let one_shot = node_log(&s, 2);
    assert!(
        one_shot.contains("boom on element 3"),
        "the error text is lost:\n{one_shot}"
    );
    assert_eq!(headline(&s, 2), "ValueError: boom on element 3");
}

fn a_warm_segfault_is_headlined_by_its_signal() {
    let (s, reg) = scratch();
    run_failing(&s, &reg, "pyw.segv", 1, &[]);
    let message = headline(&s, 1);
    assert!(
        message.contains("killed by signal 11 (SIGSEGV)"),
        "{message}\nlog:\n{}",
        node_log(&s, 1)
    );
}

/// The SDK's example worker given a number where it wants text: its error
/// keeps the warm header, and the worker's next line starts a line.
fn a_rust_sdk_task_error_keeps_the_header_and_ends_its_line() {
    let s = Scratch::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_tkr"));
    let worker = bin.with_file_name("tkr-hello-world-worker");
    assert!(
        worker.is_file(),
        "{} is missing: cargo build -p hello_world_worker",
        worker.display()
    );
    let graph = s.write(
        "graph.json",
        r#"{"nodes": [
        {"type": "const", "value": 5, "inputs": {}, "outputs": {"value": [2]}},
        {"type": "const", "value": "you", "inputs": {}, "outputs": {"value": [2]}},
        {"type": "function", "function_name": "hello_world_worker.greet", "inputs": {"greeting": [0, "value"], "subject": [1, "value"]}, "outputs": {"value": [3]}},
        {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
      ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#,
    );
    // The worker is found on PATH as `tkr-hello-world-worker`.
    let path = format!(
        "{}:/usr/bin:/bin",
        worker.parent().expect("folder").display()
    );
    for (id, extra) in [(1u128, None), (2, Some("--no-warm"))] {
        let out = s
            .tkr()
            .env("PATH", &path)
            .args(["run", "--run-id", &id.to_string(), "-f"])
            .arg(&graph)
            .args(extra)
            .output()
            .expect("tkr run");
        expect_code(&out, 1);
        let log = std::fs::read_to_string(s.workflow(id).join("-.N2/logs")).expect("log");
        if extra.is_none() {
            assert!(
                log.starts_with("tkr: running warm: call 1 of process "),
                "the header is gone:\n{log}"
            );
        }
        assert!(
            log.lines()
                .any(|l| l.starts_with("Worker hello_world_worker encountered")),
            "the worker's report runs into the error text:\n{log}"
        );
        assert!(log.contains("invalid input"), "{log}");
    }
}
