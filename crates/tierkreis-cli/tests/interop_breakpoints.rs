//! Issue 12 across implementations, with the real Python reference
//! (tierkreis 2.1.1): a run paused at breakpoints by either controller
//! (`enable_breakpoints=True`) continues under the other, past the recorded
//! breakpoint and on to the next; and the reference reads runs whose tasks
//! were retried or reused from the result cache as usual.
//!
//! Trials are reported ignored when the reference environment is missing and
//! `CI` is unset; with `CI` set they fail instead, saying what is missing.

mod common;

use std::process::Command;

use common::reference::*;
use common::{expect_code, recorded_breakpoints, run_uuid};
use tierkreis_core::Value;
use tierkreis_test_support::graphs::iadd_chain_graph;

/// Exit status of `tkr` when a run paused at a breakpoint.
const PAUSED: i32 = 4;

/// The reference's `run_graph`/`resume_graph` with breakpoints enabled; each
/// prints one JSON object: the workflow's outputs once finished, else where
/// it paused.
const BREAKPOINT_DRIVER_PY: &str = r#"
import json, os, sys
from pathlib import Path
from uuid import UUID

from tierkreis.controller import resume_graph, run_graph
from tierkreis.controller.data.graph import GraphData
from tierkreis.controller.data.location import Loc
from tierkreis.controller.data.types import TierkreisEncoder, ptype_from_bytes
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.storage import read_outputs

POLL = 0.01


def report(st):
    if st.is_node_finished(Loc()):
        graph = ptype_from_bytes(st.read_output(Loc().N(-1), "body"), GraphData)
        print(json.dumps({"outputs": read_outputs(graph, st)}, cls=TierkreisEncoder))
        return
    bp = st.workflow_dir / "debug" / "breakpoints"
    paused = sorted(os.listdir(bp)) if bp.exists() else []
    if not paused:
        sys.exit("neither finished nor paused")
    print(json.dumps({"paused_at": paused}))


tkr_dir, cmd, run_id, *rest = sys.argv[1:]
st = ControllerFileStorage(UUID(int=int(run_id)), tierkreis_directory=Path(tkr_dir))
ex = ShellExecutor(None, st.workflow_dir)
if cmd == "run":
    with open(rest[0]) as fh:
        graph = GraphData(**json.load(fh))
    run_graph(st, ex, graph, {}, polling_interval_seconds=POLL, enable_breakpoints=True)
elif cmd == "resume":
    resume_graph(st, ex, n_iterations=4000, polling_interval_seconds=POLL, enable_breakpoints=True)
report(st)
"#;

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        (
            "python_continues_a_run_we_paused_and_pauses_at_the_next_breakpoint",
            python_continues_a_run_we_paused,
        ),
        (
            "we_continue_a_run_python_paused_and_pause_at_the_next_breakpoint",
            we_continue_a_run_python_paused,
        ),
        (
            "python_reads_runs_with_retried_and_cached_tasks",
            python_reads_retried_and_cached,
        ),
    ];
    common::run_trials_needing(availability().err(), trials);
}

/// 1 + 2 at -.N2, + 2 at -.N3, + 2 at -.N4; each a breakpoint.
fn chain() -> String {
    iadd_chain_graph(3, &[2, 3, 4])
}

fn python(s: &Scratch, args: &[&str]) -> Value {
    let mut c = Command::new("bash");
    c.arg(run_sh())
        .args(["--", "python"])
        .arg(s.path().join("bp_driver.py"))
        .arg(s.tkr_dir())
        .args(args)
        .env("TKR_DIR", s.tkr_dir())
        .current_dir(s.path());
    let out = c.output().expect("python");
    let mut lines = json_lines(&format!("python {args:?}"), &out);
    s.wait_for_workers(std::time::Duration::from_secs(30));
    lines.pop().expect("one JSON line")
}

fn paused_at(v: &[&str]) -> Value {
    let mut m = indexmap::IndexMap::new();
    m.insert(
        "paused_at".to_string(),
        Value::List(v.iter().map(|s| Value::Str((*s).to_string())).collect()),
    );
    Value::Map(m)
}

fn python_continues_a_run_we_paused() {
    let s = Scratch::new();
    s.write("bp_driver.py", BREAKPOINT_DRIVER_PY);
    let graph = s.write("chain.json", &chain());
    let wf = s.workflow(41);
    let out = s
        .tkr()
        .args(["run", "--run-id", "41", "--breakpoints", "-f"])
        .arg(&graph)
        .output()
        .expect("tkr run");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&wf), vec!["-.N2"]);

    // The reference reads our record, starts -.N2 past its breakpoint and
    // pauses at -.N3.
    assert_eq!(python(&s, &["resume", "41"]), paused_at(&["-.N3"]));
    assert_eq!(
        std::fs::read(wf.join("-.N2/outputs/value")).expect("-.N2 value"),
        b"3"
    );
    assert!(!wf.join("-.N3/nodedef").exists());

    // We read the reference's record: past -.N3, paused at -.N4.
    let out = s
        .tkr()
        .args(["resume", "--run-id", "41"])
        .output()
        .expect("tkr resume");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&wf), vec!["-.N4"]);

    // And the reference finishes it.
    let done = python(&s, &["resume", "41"]);
    assert_eq!(
        done.as_map().and_then(|m| m.get("outputs")),
        Some(&Value::Int(7.into())),
        "{done:?}"
    );
}

fn we_continue_a_run_python_paused() {
    let s = Scratch::new();
    s.write("bp_driver.py", BREAKPOINT_DRIVER_PY);
    let graph = s.write("chain.json", &chain());
    let wf = s.workflow(42);
    let id = run_uuid(42);

    assert_eq!(
        python(&s, &["run", "42", graph.to_str().expect("utf-8 path")]),
        paused_at(&["-.N2"])
    );
    let show = s.tkr().args(["show", &id]).output().expect("tkr show");
    expect_code(&show, 0);
    let head = String::from_utf8_lossy(&show.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        head.contains("paused") && head.contains("-.N2"),
        "tkr show: {head}"
    );

    // No flag: a reference pause record turns the reference's breakpoints on.
    let out = s
        .tkr()
        .args(["resume", "--run-id", "42"])
        .output()
        .expect("tkr resume");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&wf), vec!["-.N3"]);
    assert_eq!(
        std::fs::read(wf.join("-.N2/outputs/value")).expect("-.N2 value"),
        b"3"
    );

    assert_eq!(python(&s, &["resume", "42"]), paused_at(&["-.N4"]));
    let out = s
        .tkr()
        .args(["resume", "--run-id", "42", "-o"])
        .output()
        .expect("tkr resume");
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "value: 7");
}

/// A task that fails once (retried, its attempt kept in `attempts/1`) and
/// the same graph again with every task reused from the cache: the
/// reference's `read_outputs` reads both workflows as usual.
fn python_reads_retried_and_cached() {
    let s = Scratch::new();
    let reg = s.path().join("reg");
    std::fs::create_dir_all(reg.join("flaky")).expect("registry");
    let count = s.path().join("count");
    std::fs::write(
        reg.join("flaky/main.sh"),
        format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 ))\necho $n > {c}\n[ $n -le 1 ] && exit 1\nx=$(cat \"$input_x_file\")\necho $((x + 1)) > \"$output_value_file\"\n",
            c = count.display()
        ),
    )
    .expect("worker");
    let graph = s.write(
        "flaky.json",
        r#"{"nodes": [
 {"type": "const", "value": 41, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "flaky.inc", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    );
    for id in ["51", "52"] {
        let out = s
            .tkr()
            .args([
                "run",
                "--retries",
                "2",
                "--cache",
                "--run-id",
                id,
                "--registry",
            ])
            .arg(&reg)
            .arg("-f")
            .arg(&graph)
            .output()
            .expect("tkr run");
        expect_code(&out, 0);
    }
    assert!(s.workflow(51).join("-.N1/attempts/1/reason").exists());
    assert!(s.workflow(52).join("-.N1/cache_source").exists());
    assert_eq!(std::fs::read_to_string(&count).expect("count").trim(), "2");
    let g = graph.to_str().expect("utf-8 path");
    let out = s
        .python(["read", &format!("51:{g}"), &format!("52:{g}")])
        .output()
        .expect("python");
    let got = json_lines("python read_outputs", &out);
    let mut want = indexmap::IndexMap::new();
    want.insert("value".to_string(), Value::Int(42.into()));
    assert_eq!(got, vec![Value::Map(want.clone()), Value::Map(want)]);
}
