//! Retries through the real `tkr` binary with real failing workers: shell
//! workers that fail their first k calls (counting in a file), kill
//! themselves, or report an error; the attempts kept in
//! `<node>/attempts/<k>/`; and a resume after a crash continuing the count.
//! Python workers on the reference's `Worker`, warm and one process per
//! call, whose first call exits, segfaults or hangs: each is retried exactly
//! when `retry_on` names that kind of failure; one whose first call raises
//! or calls `sys.exit` is retried by `--retries` alike warm and not (these need the reference
//! environment, so the runner reports them ignored without it, and failed
//! under CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::reference::{availability, Scratch};
use common::{expect_code, run_uuid, sorted_file_names, tkr, write};

fn main() {
    let local: Vec<(&'static str, fn())> = vec![
        (
            "a_task_failing_twice_succeeds_on_its_third_attempt_and_keeps_each_attempt",
            a_task_failing_twice_succeeds_on_its_third_attempt_and_keeps_each_attempt,
        ),
        (
            "when_retries_run_out_the_last_failure_is_final",
            when_retries_run_out_the_last_failure_is_final,
        ),
        (
            "a_killed_worker_is_retried_with_the_command_line_flag",
            a_killed_worker_is_retried_with_the_command_line_flag,
        ),
        (
            "a_worker_reported_error_is_retried_only_when_retry_on_names_it",
            a_worker_reported_error_is_retried_only_when_retry_on_names_it,
        ),
        (
            "a_resume_after_a_crash_continues_the_attempt_count",
            a_resume_after_a_crash_continues_the_attempt_count,
        ),
        (
            "a_bad_backoff_is_refused_naming_the_key",
            a_bad_backoff_is_refused_naming_the_key,
        ),
    ];
    let python: Vec<(&'static str, fn())> = vec![
        (
            "a_warm_python_call_that_exits_is_retried_under_retry_on_exit_only",
            a_warm_python_call_that_exits_is_retried_under_retry_on_exit_only,
        ),
        (
            "a_one_shot_python_call_that_exits_is_retried_under_retry_on_exit_only",
            a_one_shot_python_call_that_exits_is_retried_under_retry_on_exit_only,
        ),
        (
            "a_warm_python_segfault_is_retried_under_retry_on_signal_only",
            a_warm_python_segfault_is_retried_under_retry_on_signal_only,
        ),
        (
            "a_one_shot_python_segfault_is_retried_under_retry_on_signal_only",
            a_one_shot_python_segfault_is_retried_under_retry_on_signal_only,
        ),
        (
            "a_warm_python_call_past_its_timeout_is_retried_under_retry_on_timeout",
            a_warm_python_call_past_its_timeout_is_retried_under_retry_on_timeout,
        ),
        (
            "a_one_shot_python_call_past_its_timeout_is_retried_under_retry_on_timeout",
            a_one_shot_python_call_past_its_timeout_is_retried_under_retry_on_timeout,
        ),
        (
            "a_python_call_that_raises_is_retried_by_default_warm_and_one_shot_alike",
            a_python_call_that_raises_is_retried_by_default_warm_and_one_shot_alike,
        ),
        (
            "a_python_call_that_calls_sys_exit_is_retried_by_default_warm_and_one_shot_alike",
            a_python_call_that_calls_sys_exit_is_retried_by_default_warm_and_one_shot_alike,
        ),
    ];
    let missing_reference = availability().err();
    let trials = local
        .into_iter()
        .map(|(name, body)| common::trial_needing(name, body, None))
        .chain(
            python
                .into_iter()
                .map(|(name, body)| common::trial_needing(name, body, missing_reference.clone())),
        )
        .collect();
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trials).exit()
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    ck: PathBuf,
    reg: PathBuf,
    count: PathBuf,
}

/// Worker `flaky`: its call number n (1, 2, ...) is kept in a file; calls
/// up to `fail_first` fail with `fail` (a shell snippet), later ones output
/// x + 1.
fn env(fail_first: u32, fail: &str) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let reg = root.join("reg");
    let count = root.join("count");
    std::fs::create_dir_all(reg.join("flaky")).expect("registry");
    std::fs::write(
        reg.join("flaky/main.sh"),
        format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 ))\necho $n > {c}\necho \"attempt $n\" >&2\nif [ $n -le {fail_first} ]; then\n{fail}\nfi\nx=$(cat \"$input_x_file\")\necho $((x + 1)) > \"$output_value_file\"\n",
            c = count.display()
        ),
    )
    .expect("worker");
    Env {
        _dir: dir,
        ck: root.join("ck"),
        reg,
        count,
        root,
    }
}

const GRAPH: &str = r#"{"nodes": [
 {"type": "const", "value": 41, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "flaky.inc", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;

impl Env {
    fn calls(&self) -> u32 {
        std::fs::read_to_string(&self.count)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn config(&self, toml: &str) -> PathBuf {
        write(&self.root, "tkr.toml", toml)
    }

    fn cmd(&self, id: u128, config: Option<&Path>, extra: &[&str]) -> Command {
        let g = write(&self.root, "g.json", GRAPH);
        let mut c = tkr(&self.ck);
        c.args(["run", "--run-id", &id.to_string(), "-o", "--registry"])
            .arg(&self.reg)
            .args(extra);
        if let Some(config) = config {
            c.arg("--config").arg(config);
        }
        c.arg("-f").arg(g);
        c
    }

    fn run(&self, id: u128, config: Option<&Path>, extra: &[&str]) -> Output {
        self.cmd(id, config, extra).output().expect("tkr run")
    }

    fn node(&self, id: u128) -> PathBuf {
        self.ck.join(run_uuid(id)).join("-.N1")
    }
}

/// The attempts recorded for the task `node` (`attempts/<n>`), sorted.
fn attempt_numbers(node: &Path) -> Vec<String> {
    sorted_file_names(&node.join("attempts"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn a_task_failing_twice_succeeds_on_its_third_attempt_and_keeps_each_attempt() {
    let e = env(2, "exit 3");
    let config = e.config("[workers.flaky]\nretries = 3\nretry_backoff = \"10ms\"\n");
    let out = e.run(1, Some(&config), &[]);
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 42\n");
    assert_eq!(e.calls(), 3);
    let node = e.node(1);
    assert_eq!(attempt_numbers(&node), vec!["1", "2"]);
    for k in ["1", "2"] {
        let reason = read(&node.join("attempts").join(k).join("reason"));
        assert!(
            reason.contains("exited with status 3"),
            "attempt {k}: {reason}"
        );
        let logs = read(&node.join("attempts").join(k).join("logs"));
        assert!(
            logs.contains(&format!("attempt {k}")),
            "attempt {k} log: {logs}"
        );
    }
    // `_done` and `_error` mean the final outcome only.
    assert!(node.join("_done").exists());
    assert!(!node.join("_error").exists());
    assert!(read(&node.join("logs")).contains("attempt 3"));
    let show = tkr(&e.ck)
        .args(["show", &run_uuid(1)])
        .output()
        .expect("show");
    expect_code(&show, 0);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("2 failed attempts"),
        "{}",
        String::from_utf8_lossy(&show.stdout)
    );
}

fn when_retries_run_out_the_last_failure_is_final() {
    let e = env(5, "exit 1");
    let config =
        e.config("[[routes]]\ntask = \"flaky.*\"\nretries = 1\nretry_backoff = \"10ms\"\n");
    let out = e.run(1, Some(&config), &[]);
    expect_code(&out, 1);
    assert_eq!(e.calls(), 2);
    let node = e.node(1);
    assert_eq!(attempt_numbers(&node), vec!["1"]);
    assert!(node.join("_error").exists());
    assert!(read(&node.join("logs")).contains("attempt 2"));

    // A restart starts a fresh count: one more retry is allowed.
    let out = tkr(&e.ck)
        .args(["restart", "--run-id", "1", "--registry"])
        .arg(&e.reg)
        .arg("--config")
        .arg(&config)
        .arg("-.N1")
        .output()
        .expect("restart");
    expect_code(&out, 1);
    assert_eq!(e.calls(), 4);
    assert_eq!(attempt_numbers(&node), vec!["1"]);
    assert!(read(&node.join("attempts/1/logs")).contains("attempt 3"));
}

fn a_killed_worker_is_retried_with_the_command_line_flag() {
    let e = env(1, "kill -KILL $$");
    let out = e.run(1, None, &["--retries", "2"]);
    expect_code(&out, 0);
    assert_eq!(e.calls(), 2);
    let reason = read(&e.node(1).join("attempts/1/reason"));
    assert!(reason.contains("killed by signal 9"), "{reason}");
}

fn a_worker_reported_error_is_retried_only_when_retry_on_names_it() {
    let report = "echo \"bad input\" > \"$error_path\"\ntouch \"${done_path%_done}_error\"\nexit 0";
    let e = env(1, report);
    let config = e.config("[workers.flaky]\nretries = 2\nretry_backoff = \"10ms\"\n");
    let out = e.run(1, Some(&config), &[]);
    expect_code(&out, 1);
    assert_eq!(
        e.calls(),
        1,
        "an error the worker reported was retried by default"
    );
    assert!(attempt_numbers(&e.node(1)).is_empty());

    std::fs::remove_file(&e.count).expect("reset the call count");
    let config = e
        .config("[workers.flaky]\nretries = 2\nretry_backoff = \"10ms\"\nretry_on = [\"error\"]\n");
    let out = e.run(2, Some(&config), &[]);
    expect_code(&out, 0);
    assert_eq!(e.calls(), 2);
    let node = e.node(2);
    // The error text goes to the node log, which the worker's stderr is
    // copied into concurrently: "attempt 1" may land before or after it.
    let reason = read(&node.join("attempts/1/reason"));
    assert!(
        reason.lines().any(|l| l == "bad input"),
        "the worker's error text is not the reason: {reason}"
    );
    assert!(node.join("attempts/1/_error").exists());
    assert!(!node.join("_error").exists());
}

fn a_resume_after_a_crash_continues_the_attempt_count() {
    // Fails twice; one retry allowed. Killed while waiting to retry after
    // the first failure, the resumed run's attempt is the second and last.
    let e = env(2, "exit 1");
    let config = e.config("[workers.flaky]\nretries = 1\nretry_backoff = \"30s\"\n");
    let mut child = e
        .cmd(1, Some(&config), &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let node = e.node(1);
    let start = Instant::now();
    while !node.join("attempts/1/reason").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first attempt never failed"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "tkr exited before retrying"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert_eq!(e.calls(), 1);
    assert!(!node.join("_error").exists() && !node.join("_done").exists());

    let out = tkr(&e.ck)
        .args(["resume", "--run-id", "1", "--registry"])
        .arg(&e.reg)
        .arg("--config")
        .arg(&config)
        .output()
        .expect("resume");
    expect_code(&out, 1);
    assert_eq!(e.calls(), 2, "the resumed run retried beyond its one retry");
    assert_eq!(attempt_numbers(&node), vec!["1"]);
    assert!(node.join("_error").exists());
}

fn a_bad_backoff_is_refused_naming_the_key() {
    let e = env(0, "");
    let config = e.config("[workers.flaky]\nretries = 1\nretry_backoff = \"soon\"\n");
    let out = e.run(1, Some(&config), &[]);
    expect_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3")
            && err.contains("retry_backoff = \"soon\"")
            && err.contains("not a duration"),
        "{err}"
    );
}

/// How the first call of the Python worker fails.
#[derive(Clone, Copy, Debug)]
enum FirstCall {
    /// `os._exit(3)`.
    Exits,
    /// Reads address 0: SIGSEGV.
    Segfaults,
    /// Sleeps far past the task timeout.
    Hangs,
    /// Raises an exception out of the task.
    Raises,
    /// `sys.exit(3)` inside the task.
    CallsSysExit,
}

impl FirstCall {
    fn python(self) -> &'static str {
        match self {
            FirstCall::Exits => "os._exit(3)",
            FirstCall::Segfaults => "ctypes.string_at(0)",
            FirstCall::Hangs => "time.sleep(300)",
            FirstCall::Raises => "raise RuntimeError(\"first call fails\")",
            FirstCall::CallsSysExit => "sys.exit(3)",
        }
    }
}

/// The task timeout of the [`FirstCall::Hangs`] trials: long enough for a
/// one-shot Python to import `tierkreis` on a loaded machine.
const HANG_TIMEOUT_SECS: u32 = 20;

/// A Python worker `pyf` on the reference's `Worker` in a scratch
/// registry: `inc(x)` counts its calls in `count` beside it, fails its first
/// call as `first` says, and otherwise returns x + 1.
fn python_worker(first: FirstCall) -> (Scratch, PathBuf) {
    let s = Scratch::new();
    let count = s.path().join("registry/pyf/count");
    let source = format!(
        r#"import ctypes
import os
import sys
import time
from pathlib import Path
from sys import argv

from tierkreis import Worker

worker = Worker("pyf")
COUNT = Path("{count}")


@worker.task()
def inc(x: int) -> int:
    n = int(COUNT.read_text()) + 1 if COUNT.exists() else 1
    COUNT.write_text(str(n))
    print(f"attempt {{n}} in process {{os.getpid()}}", flush=True)
    if n == 1:
        {fail}
    return x + 1


if __name__ == "__main__":
    worker.app(argv)
"#,
        count = count.display(),
        fail = first.python()
    );
    let registry = s.python_worker_registry("pyf", &source);
    (s, registry)
}

/// `tkr run` of the one-task graph on `pyf.inc` inside the reference
/// environment (its `python3` has `tierkreis`), with `toml` as its
/// configuration; `extra` are more arguments (`--no-warm`).
fn run_python(s: &Scratch, reg: &Path, id: u128, toml: &str, extra: &[&str]) -> Output {
    let graph = s.write("graph.json", &GRAPH.replace("flaky.inc", "pyf.inc"));
    let config = s.write(&format!("tkr{id}.toml"), toml);
    std::fs::remove_file(reg.join("pyf/count")).ok();
    s.tkr_in_reference(&[])
        .args(["run", "--run-id", &id.to_string(), "-o", "--jobs", "1"])
        .arg("--registry")
        .arg(reg)
        .arg("--config")
        .arg(config)
        .args(extra)
        .arg("-f")
        .arg(graph)
        .output()
        .expect("tkr run in the reference environment")
}

fn python_calls(reg: &Path) -> u32 {
    std::fs::read_to_string(reg.join("pyf/count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The first call of `pyf.inc` fails as `first` says. With `retry_on`
/// naming another kind (`wrong`, when given) the failure is final after one
/// call; with `right` the second call succeeds, the attempt's reason says
/// `reason_says`, and, warm, both attempts ran in the warm executor.
fn python_failure_is_retried_by_its_kind(
    first: FirstCall,
    warm: bool,
    right: &str,
    wrong: Option<&str>,
    reason_says: &str,
) {
    let (s, reg) = python_worker(first);
    let extra: &[&str] = if warm { &[] } else { &["--no-warm"] };
    let timeout = match first {
        FirstCall::Hangs => format!("timeout_secs = {HANG_TIMEOUT_SECS}\n"),
        _ => String::new(),
    };
    let toml = |kind: &str| {
        format!(
            "grace_secs = 1\n[workers.pyf]\n{timeout}retries = 2\nretry_backoff = \"10ms\"\nretry_on = [\"{kind}\"]\n"
        )
    };
    let node_of = |id: u128| s.workflow(id).join("-.N1");
    if let Some(wrong) = wrong {
        let out = run_python(&s, &reg, 1, &toml(wrong), extra);
        expect_code(&out, 1);
        assert_eq!(
            python_calls(&reg),
            1,
            "a {first:?} failure was retried under retry_on = [{wrong:?}]"
        );
        let node = node_of(1);
        assert!(attempt_numbers(&node).is_empty());
        assert!(node.join("_error").exists());
        let logs = read(&node.join("logs"));
        assert!(logs.contains(reason_says), "{logs}");
    }
    let out = run_python(&s, &reg, 2, &toml(right), extra);
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 42\n");
    assert_eq!(python_calls(&reg), 2);
    let node = node_of(2);
    assert_eq!(attempt_numbers(&node), vec!["1"]);
    let reason = read(&node.join("attempts/1/reason"));
    assert!(reason.contains(reason_says), "{reason}");
    assert!(
        read(&node.join("attempts/1/logs")).contains("attempt 1 in process"),
        "the first attempt's log is not kept"
    );
    assert!(read(&node.join("logs")).contains("attempt 2 in process"));
    assert!(node.join("_done").exists() && !node.join("_error").exists());
    let executor = if warm {
        "\"tierkreis-rs:python-warm\""
    } else {
        "\"tierkreis-rs:python\""
    };
    for record in [
        node.join("attempts/1/executor"),
        s.workflow(2).join("debug/executors/-.N1"),
    ] {
        let text = read(&record);
        assert!(text.contains(executor), "{}: {text}", record.display());
    }
    assert_eq!(
        reason.contains("its warm process"),
        warm && !matches!(first, FirstCall::Hangs),
        "{reason}"
    );
}

fn a_warm_python_call_that_exits_is_retried_under_retry_on_exit_only() {
    python_failure_is_retried_by_its_kind(
        FirstCall::Exits,
        true,
        "exit",
        Some("signal"),
        "exited with status 3",
    );
}

fn a_one_shot_python_call_that_exits_is_retried_under_retry_on_exit_only() {
    python_failure_is_retried_by_its_kind(
        FirstCall::Exits,
        false,
        "exit",
        Some("signal"),
        "exited with status 3",
    );
}

fn a_warm_python_segfault_is_retried_under_retry_on_signal_only() {
    python_failure_is_retried_by_its_kind(
        FirstCall::Segfaults,
        true,
        "signal",
        Some("exit"),
        "was killed by signal 11 (SIGSEGV)",
    );
}

fn a_one_shot_python_segfault_is_retried_under_retry_on_signal_only() {
    python_failure_is_retried_by_its_kind(
        FirstCall::Segfaults,
        false,
        "signal",
        Some("exit"),
        "was killed by signal 11 (SIGSEGV)",
    );
}

fn a_warm_python_call_past_its_timeout_is_retried_under_retry_on_timeout() {
    python_failure_is_retried_by_its_kind(
        FirstCall::Hangs,
        true,
        "timeout",
        None,
        &format!("timed out after {HANG_TIMEOUT_SECS}s and was stopped"),
    );
}

fn a_one_shot_python_call_past_its_timeout_is_retried_under_retry_on_timeout() {
    python_failure_is_retried_by_its_kind(
        FirstCall::Hangs,
        false,
        "timeout",
        None,
        &format!("timed out after {HANG_TIMEOUT_SECS}s and was stopped"),
    );
}

/// The first call of `pyf.inc` fails as `first` says (the task's own code
/// raised or exited); `tkr run --retries 2`, with the default `retry_on`,
/// retries it, warm and with `--no-warm` alike: both modes classify it the
/// same way (as the exit of the one-shot process).
/// `reason_says` is what the attempt's reason names, warm and one-shot.
fn python_code_failure_is_retried_alike_warm_and_one_shot(
    first: FirstCall,
    reason_says: [&str; 2],
) {
    let (s, reg) = python_worker(first);
    for (id, warm, reason_says) in [(1u128, true, reason_says[0]), (2, false, reason_says[1])] {
        let mut extra = vec!["--retries", "2"];
        if !warm {
            extra.push("--no-warm");
        }
        let out = run_python(&s, &reg, id, "grace_secs = 1\n", &extra);
        let node = s.workflow(id).join("-.N1");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{first:?} warm={warm} was not retried; logs:\n{}\nstderr:\n{}",
            read(&node.join("logs")),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 42\n");
        assert_eq!(python_calls(&reg), 2, "warm={warm}");
        assert_eq!(attempt_numbers(&node), vec!["1"], "warm={warm}");
        let reason = read(&node.join("attempts/1/reason"));
        assert!(reason.contains(reason_says), "warm={warm}: {reason}");
        assert!(node.join("_done").exists() && !node.join("_error").exists());
        let executor = read(&s.workflow(id).join("debug/executors/-.N1"));
        let expected = if warm {
            "\"tierkreis-rs:python-warm\""
        } else {
            "\"tierkreis-rs:python\""
        };
        assert!(executor.contains(expected), "{executor}");
    }
}

fn a_python_call_that_raises_is_retried_by_default_warm_and_one_shot_alike() {
    python_code_failure_is_retried_alike_warm_and_one_shot(
        FirstCall::Raises,
        ["raised TierkreisWorkerError", "exited with status 1"],
    );
}

fn a_python_call_that_calls_sys_exit_is_retried_by_default_warm_and_one_shot_alike() {
    python_code_failure_is_retried_alike_warm_and_one_shot(
        FirstCall::CallsSysExit,
        ["raised SystemExit: 3", "exited with status 3"],
    );
}
