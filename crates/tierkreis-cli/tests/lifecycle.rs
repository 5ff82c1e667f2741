//! Failure, crash, resume, restart and locking, driven through the real `tkr`
//! binary on real checkpoint folders.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use tierkreis_core::Value;
use tierkreis_test_support::graphs::{slow_loop_graph, DIVIDE_BY_ZERO_GRAPH};

/// Every `_done` marker under `wf`, with its modification time.
fn done_markers(wf: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(wf).expect("workflow dir").flatten() {
        let done = e.path().join("_done");
        if let Ok(m) = std::fs::metadata(&done) {
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                m.modified().expect("mtime"),
            );
        }
    }
    out
}

fn wait_for(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_failing_node_fails_the_workflow_and_names_node_function_and_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph = write(tmp.path(), "div.json", DIVIDE_BY_ZERO_GRAPH);
    let ck = tmp.path().join("ck");
    let out = tkr(&ck)
        .args(["run", "--run-id", "5", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    expect_code(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("-.N2"), "{stderr}");
    assert!(stderr.contains("builtins.idivide"), "{stderr}");
    assert!(
        stderr.contains("integer division or modulo by zero"),
        "{stderr}"
    );
    let wf = ck.join(run_uuid(5));
    assert!(wf.join("-.N2/_error").exists());
    assert_eq!(
        std::fs::read_to_string(wf.join("-.N2/logs")).expect("error text"),
        "integer division or modulo by zero"
    );
    assert_eq!(
        std::fs::read_to_string(wf.join("-/_error")).expect("root errors"),
        "-.N2"
    );
    assert!(!wf.join("-/_done").exists());

    // --json gives the same facts to scripts.
    let out = tkr(&ck)
        .args(["resume", "--run-id", "5", "--json"])
        .output()
        .expect("resume");
    expect_code(&out, 1);
    let v = tierkreis_core::json::parse(&out.stdout).expect("json");
    let text = tierkreis_core::json::to_string_compact(&v);
    assert!(
        text.contains(r#""loc": "-.N2""#) && text.contains("integer division"),
        "{text}"
    );
}

#[test]
fn sigkill_mid_run_then_resume_gives_the_outputs_without_rerunning_finished_nodes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph = write(tmp.path(), "loop.json", &slow_loop_graph(8, 0.15));
    let ck = tmp.path().join("ck");
    let mut child = tkr(&ck)
        .args(["run", "--run-id", "9", "-q", "-f"])
        .arg(&graph)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let wf = ck.join(run_uuid(9));
    wait_for(&wf.join("-.N4.L2/_done"), Duration::from_secs(60));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(
        !wf.join("-/_done").exists(),
        "the run finished before it was killed"
    );
    let before = done_markers(&wf);
    assert!(before.contains_key("-.N4.L0.N4"), "{before:?}");

    let out = tkr(&ck)
        .args(["resume", "--run-id", "9", "-o", "--json"])
        .output()
        .expect("resume");
    expect_code(&out, 0);
    let v = outputs_of_report(tierkreis_core::json::parse(&out.stdout).expect("json"));
    assert_eq!(
        v,
        Value::Map([("value".to_string(), Value::int(8))].into_iter().collect())
    );
    let after = done_markers(&wf);
    for (loc, t) in &before {
        assert_eq!(after.get(loc), Some(t), "{loc} was run again");
    }
    assert!(after.len() > before.len());
    // The named loop is recorded for tracing, and every iteration ran once.
    let debug = std::fs::read_to_string(wf.join("debug/nodes")).expect("debug/nodes");
    assert!(
        debug.contains("counter") && debug.contains("-.N4"),
        "{debug}"
    );
    assert!(wf.join("-.N4.L7/_done").exists() && !wf.join("-.N4.L8").exists());
}

#[test]
fn a_second_controller_on_the_same_workflow_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph = write(tmp.path(), "loop.json", &slow_loop_graph(20, 0.1));
    let ck = tmp.path().join("ck");
    let mut child = tkr(&ck)
        .args(["run", "--run-id", "3", "-q", "-f"])
        .arg(&graph)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let wf = ck.join(run_uuid(3));
    wait_for(&wf.join("-.N4.L0/nodedef"), Duration::from_secs(60));
    let out = tkr(&ck)
        .args(["resume", "--run-id", "3"])
        .output()
        .expect("resume");
    child.kill().expect("kill");
    child.wait().expect("reap");
    expect_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("another controller"));
}

#[test]
fn restart_reruns_exactly_the_task_and_what_depends_on_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let case = fixtures().join("conformance/typed_map_simple");
    let ck = tmp.path().join("ck");
    let out = tkr(&ck)
        .args(["run", "--run-id", "4", "-q", "-f"])
        .arg(case.join("graph.json"))
        .args(input_args(&case))
        .output()
        .expect("run");
    expect_code(&out, 0);
    let wf = ck.join(run_uuid(4));
    let before = done_markers(&wf);
    std::thread::sleep(Duration::from_millis(20)); // distinct mtimes for re-run markers
    let out = tkr(&ck)
        .args(["restart", "-o", "--json", "--run-id", "4", "-.N3.M2.N2"])
        .output()
        .expect("restart");
    expect_code(&out, 0);
    let after = done_markers(&wf);
    let rerun: Vec<&String> = before
        .keys()
        .filter(|k| after.get(*k) != before.get(*k))
        .collect();
    // The task, its element's output node, the element, the map, the fold and
    // the top-level output and scope; nothing in the other elements.
    for must in [
        "-.N3.M2.N2",
        "-.N3.M2.N3",
        "-.N3.M2",
        "-.N3",
        "-.N4",
        "-.N5",
        "-",
    ] {
        assert!(
            rerun.iter().any(|k| k.as_str() == must),
            "{must} not re-run; re-run: {rerun:?}"
        );
    }
    for k in &rerun {
        assert!(
            !k.starts_with("-.N3.M0") && !k.starts_with("-.N3.M1.") && k.as_str() != "-.N2",
            "{k} re-run needlessly"
        );
    }
    let v = outputs_of_report(tierkreis_core::json::parse(&out.stdout).expect("json"));
    let want = Value::from_bytes(&std::fs::read(case.join("expected/value")).expect("expected"));
    assert_eq!(
        v,
        Value::Map([("value".to_string(), want)].into_iter().collect())
    );
}

/// `tkr stop` from another process stops the controller as Ctrl-C does: it
/// exits 130, the run is interrupted (not failed), a second stop says it is
/// not running, and `tkr resume` finishes it.
#[test]
fn tkr_stop_stops_the_controller_and_resume_finishes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph = write(tmp.path(), "loop.json", &slow_loop_graph(12, 0.1));
    let ck = tmp.path().join("ck");
    let child = tkr(&ck)
        .args(["run", "--run-id", "4", "-q", "-f"])
        .arg(&graph)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let wf = ck.join(run_uuid(4));
    wait_for(&wf.join("-.N4.L1/_done"), Duration::from_secs(60));
    let out = tkr(&ck)
        .args(["stop", "--run-id", "4", "--json"])
        .output()
        .expect("stop");
    expect_code(&out, 0);
    let v = tierkreis_core::json::parse(&out.stdout).expect("json");
    let field = |k: &str| match &v {
        Value::Map(m) => m.get(k).cloned(),
        _ => None,
    };
    assert_eq!(field("state"), Some(Value::from("stopped")), "{v:?}");
    assert_eq!(field("pid"), Some(Value::int(i64::from(pid))), "{v:?}");
    let run = child.wait_with_output().expect("reap");
    expect_code(&run, 130);
    assert!(!wf.join("-/_done").exists() && !wf.join("-/_error").exists());

    let again = tkr(&ck)
        .args(["stop", "--run-id", "4"])
        .output()
        .expect("stop again");
    expect_code(&again, 1);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("is not running (interrupted)"), "{said}");

    let out = tkr(&ck)
        .args(["resume", "--run-id", "4", "-o", "--json"])
        .output()
        .expect("resume");
    expect_code(&out, 0);
    let v = outputs_of_report(tierkreis_core::json::parse(&out.stdout).expect("json"));
    assert_eq!(
        v,
        Value::Map(
            [("value".to_string(), Value::int(12))]
                .into_iter()
                .collect()
        )
    );
}

/// `slow.run`: checks that no earlier call of the node still runs (else
/// records the overlap in `$CALLS_DIR/overlaps`), appends its pid to
/// `$CALLS_DIR/pids`; its first call starts a `sleep 300` child (pid in
/// `grandchild`) and waits for it; later calls output 7 at once.
const SLOW_ONCE_MAIN_SH: &str = r#"#!/usr/bin/env bash
calls="$CALLS_DIR"
for p in $(cat "$calls/pids" 2>/dev/null); do
  if [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
    echo "$$ started while $p still ran" >> "$calls/overlaps"
  fi
done
echo $$ >> "$calls/pids"
if [ "$(wc -l < "$calls/pids")" -eq 1 ]; then
  sleep 300 &
  echo $! > "$calls/grandchild.tmp"
  mv "$calls/grandchild.tmp" "$calls/grandchild"
  wait
fi
echo 7 > "$output_value_file"
"#;

/// A run of `slow.run(1)` whose first call (and that call's `sleep` child)
/// runs: its scratch folder, the controller, and the two worker pids.
struct KilledRun {
    tmp: tempfile::TempDir,
    controller: std::process::Child,
    worker_pids: Vec<u32>,
}

impl KilledRun {
    fn ck(&self) -> std::path::PathBuf {
        self.tmp.path().join("ck")
    }
    fn calls(&self) -> std::path::PathBuf {
        self.tmp.path().join("calls")
    }
}

fn start_slow_once_run() -> KilledRun {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let main = tmp.path().join("reg/slow/main.sh");
    std::fs::create_dir_all(main.parent().expect("worker dir")).expect("registry");
    std::fs::write(&main, SLOW_ONCE_MAIN_SH).expect("main.sh");
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let calls = tmp.path().join("calls");
    std::fs::create_dir_all(&calls).expect("calls");
    let graph = write(
        tmp.path(),
        "slow.json",
        r#"{"nodes": [
          {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}},
          {"type": "function", "function_name": "slow.run", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
          {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
        ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    );
    let controller = tkr(&tmp.path().join("ck"))
        .args(["run", "--run-id", "4", "-q", "--registry"])
        .arg(tmp.path().join("reg"))
        .arg("-f")
        .arg(&graph)
        .env("CALLS_DIR", &calls)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for(&calls.join("grandchild"), Duration::from_secs(60));
    let read_pid = |name: &str| -> u32 {
        std::fs::read_to_string(calls.join(name))
            .expect("pid file")
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("a pid")
    };
    let worker_pids = vec![read_pid("pids"), read_pid("grandchild")];
    assert!(worker_pids.iter().all(|p| process_alive(*p)));
    KilledRun {
        tmp,
        controller,
        worker_pids,
    }
}

/// Whether `pid` runs (a zombie counts as gone).
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|t| {
            !t.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// The pids of `parent`'s children named `name` (from `/proc`).
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            ppid == Some(parent) && comm.trim() == name
        })
        .collect()
}

#[test]
fn no_worker_process_or_its_child_outlives_a_sigkilled_controller() {
    let mut run = start_slow_once_run();
    run.controller.kill().expect("SIGKILL");
    run.controller.wait().expect("reap");
    let start = Instant::now();
    while run.worker_pids.iter().any(|p| process_alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "worker processes {:?} still run 10 s after the controller was SIGKILLed",
            run.worker_pids
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_resume_ends_a_task_the_killed_controller_left_running_before_running_it_again() {
    let mut run = start_slow_once_run();
    // The guardian dies first (as if the whole session were killed): the
    // killed controller's worker is left running.
    let guardians = children_named(run.controller.id(), "tkr-guardian");
    assert_eq!(
        guardians.len(),
        1,
        "the controller's guardian: {guardians:?}"
    );
    for guardian in guardians {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &guardian.to_string()])
            .status();
    }
    run.controller.kill().expect("SIGKILL");
    run.controller.wait().expect("reap");
    assert!(
        run.worker_pids.iter().all(|p| process_alive(*p)),
        "the worker should still run for this test"
    );
    let out = tkr(&run.ck())
        .args(["resume", "--run-id", "4", "-o", "--json", "--registry"])
        .arg(run.tmp.path().join("reg"))
        .env("CALLS_DIR", run.calls())
        .output()
        .expect("resume");
    expect_code(&out, 0);
    let v = outputs_of_report(tierkreis_core::json::parse(&out.stdout).expect("json"));
    assert_eq!(
        v,
        Value::Map([("value".to_string(), Value::int(7))].into_iter().collect())
    );
    let overlaps = std::fs::read_to_string(run.calls().join("overlaps")).unwrap_or_default();
    assert!(
        overlaps.is_empty(),
        "one node ran twice at once: {overlaps}"
    );
    let pids = std::fs::read_to_string(run.calls().join("pids")).expect("pids");
    assert_eq!(pids.lines().count(), 2, "{pids}");
    assert!(run.worker_pids.iter().all(|p| !process_alive(*p)));
    let log = std::fs::read_to_string(run.ck().join(run_uuid(4)).join("logs")).unwrap_or_default();
    assert!(
        log.contains("left running at -.N1 by an earlier controller"),
        "{log}"
    );
}
