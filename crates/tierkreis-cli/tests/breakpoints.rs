//! Breakpoints through the real `tkr` binary: `--breakpoints` (the graph's
//! `has_breakpoint` metadata) and `--break-at`, the pause record in the
//! reference's layout, `tkr resume` stepping from one breakpoint to the next,
//! and `tkr ls`/`tkr show` reporting the pause.

mod common;

use std::path::Path;

use common::{expect_code, recorded_breakpoints, run_uuid, tkr, write};
use tierkreis_core::Value;
use tierkreis_test_support::graphs::iadd_chain_graph;

/// Exit status of a run paused at a breakpoint.
const PAUSED: i32 = 4;

fn workflow(ck: &Path, n: u128) -> std::path::PathBuf {
    ck.join(run_uuid(n))
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn metadata_breakpoints_pause_in_the_reference_layout_and_resume_steps_to_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = dir.path().join("ck");
    let graph = write(dir.path(), "g.json", &iadd_chain_graph(2, &[2, 3]));
    let wf = workflow(&ck, 1);

    let out = tkr(&ck)
        .args(["run", "--run-id", "1", "--breakpoints", "-o", "-f"])
        .arg(&graph)
        .output()
        .expect("tkr run");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&wf), vec!["-.N2"]);
    assert!(
        !wf.join("-.N2/nodedef").exists(),
        "-.N2 started despite its breakpoint"
    );
    // The record is the reference's WalkResult JSON.
    let rec = tierkreis_core::json::parse(
        &std::fs::read(wf.join("debug/breakpoints/-.N2")).expect("record"),
    )
    .expect("record is JSON");
    let ready = rec
        .as_map()
        .and_then(|m| m.get("inputs_ready"))
        .and_then(Value::as_list)
        .expect("inputs_ready");
    assert_eq!(ready.len(), 1);
    let entry = ready[0].as_map().expect("NodeRunData");
    assert_eq!(
        entry.get("node_location").and_then(Value::as_str),
        Some("-.N2")
    );
    assert_eq!(
        entry
            .get("node")
            .and_then(Value::as_map)
            .and_then(|m| m.get("function_name"))
            .and_then(Value::as_str),
        Some("builtins.iadd")
    );
    assert_eq!(
        entry.get("output_list"),
        Some(&Value::List(vec![Value::Str("value".into())]))
    );
    for key in ["started", "errored", "breakpoints"] {
        assert_eq!(
            rec.as_map().and_then(|m| m.get(key)),
            Some(&Value::List(vec![])),
            "{key}"
        );
    }

    let ls = tkr(&ck).args(["ls", "--json"]).output().expect("tkr ls");
    expect_code(&ls, 0);
    let ls = tierkreis_core::json::parse(&ls.stdout).expect("ls json");
    let w = &ls.as_list().expect("list")[0];
    assert_eq!(
        w.as_map()
            .and_then(|m| m.get("status"))
            .and_then(Value::as_str),
        Some("paused")
    );
    assert_eq!(
        w.as_map().and_then(|m| m.get("paused_at")),
        Some(&Value::List(vec![Value::Str("-.N2".into())]))
    );
    let show = tkr(&ck)
        .args(["show", &run_uuid(1)])
        .output()
        .expect("tkr show");
    expect_code(&show, 0);
    assert!(
        stdout(&show)
            .lines()
            .next()
            .is_some_and(|l| l.contains("paused") && l.contains("-.N2")),
        "tkr show:\n{}",
        stdout(&show)
    );

    // Resume (no flag needed): past -.N2, paused at -.N3.
    let out = tkr(&ck)
        .args(["resume", "--run-id", "1", "-o"])
        .output()
        .expect("tkr resume");
    expect_code(&out, PAUSED);
    assert!(wf.join("-.N2/_done").exists());
    assert_eq!(
        std::fs::read(wf.join("-.N2/outputs/value")).expect("value"),
        b"3"
    );
    assert_eq!(recorded_breakpoints(&wf), vec!["-.N3"]);

    let out = tkr(&ck)
        .args(["resume", "--run-id", "1", "-o"])
        .output()
        .expect("tkr resume");
    expect_code(&out, 0);
    assert_eq!(stdout(&out).trim(), "value: 5");
    assert!(recorded_breakpoints(&wf).is_empty());
    assert!(!wf.join("debug/breakpoints").exists());
}

#[test]
fn without_the_flag_breakpoint_metadata_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = dir.path().join("ck");
    let graph = write(dir.path(), "g.json", &iadd_chain_graph(2, &[2, 3]));
    let out = tkr(&ck)
        .args(["run", "--run-id", "2", "-o", "-f"])
        .arg(&graph)
        .output()
        .expect("tkr run");
    expect_code(&out, 0);
    assert_eq!(stdout(&out).trim(), "value: 5");
    assert!(recorded_breakpoints(&workflow(&ck, 2)).is_empty());
}

#[test]
fn break_at_pauses_at_a_location_and_at_a_function_name_and_is_kept_for_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = dir.path().join("ck");
    let graph = write(dir.path(), "g.json", &iadd_chain_graph(2, &[]));

    let out = tkr(&ck)
        .args(["run", "--run-id", "3", "--break-at", "-.N3", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&workflow(&ck, 3)), vec!["-.N3"]);
    assert!(workflow(&ck, 3).join("-.N2/_done").exists());

    // A function name matches both iadd nodes: the resume stops at the second.
    let out = tkr(&ck)
        .args(["run", "--run-id", "4", "--break-at", "iadd", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&workflow(&ck, 4)), vec!["-.N2"]);
    let out = tkr(&ck)
        .args(["resume", "--run-id", "4"])
        .output()
        .expect("resume");
    expect_code(&out, PAUSED);
    assert_eq!(recorded_breakpoints(&workflow(&ck, 4)), vec!["-.N3"]);
    let out = tkr(&ck)
        .args(["resume", "--run-id", "4", "-o"])
        .output()
        .expect("resume");
    expect_code(&out, 0);
    assert_eq!(stdout(&out).trim(), "value: 5");
}

#[test]
fn a_break_at_naming_nothing_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = dir.path().join("ck");
    let graph = write(dir.path(), "g.json", &iadd_chain_graph(2, &[]));
    let out = tkr(&ck)
        .args(["run", "--run-id", "5", "--break-at", "no_such_task", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    expect_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_task"));
    assert!(
        !workflow(&ck, 5).exists(),
        "a refused run left a workflow folder"
    );
}

#[test]
fn tasks_already_running_finish_before_the_controller_exits_paused() {
    // -.N1 sleeps 0.1 s, then -.N2 (a breakpoint) is ready; -.N4 sleeps 1 s
    // from the start. The sleeps run in the controller's process, so -.N4's
    // `_done` proves the controller waited for it before exiting.
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = dir.path().join("ck");
    let graph = write(
        dir.path(),
        "g.json",
        r#"{"nodes": [
 {"type": "const", "value": 0.1, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "builtins.tkr_sleep", "inputs": {"delay_seconds": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "function", "function_name": "builtins.neg", "inputs": {"a": [1, "value"]}, "outputs": {"value": [5]}},
 {"type": "const", "value": 1.0, "inputs": {}, "outputs": {"value": [4]}},
 {"type": "function", "function_name": "builtins.tkr_sleep", "inputs": {"delay_seconds": [3, "value"]}, "outputs": {"value": [5]}},
 {"type": "output", "inputs": {"value": [2, "value"], "slept": [4, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 5, "named_nodes": {},
 "node_metadata": {"2": {"has_breakpoint": true}}}"#,
    );
    let out = tkr(&ck)
        .args(["run", "--run-id", "6", "--breakpoints", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    expect_code(&out, PAUSED);
    let wf = workflow(&ck, 6);
    assert_eq!(recorded_breakpoints(&wf), vec!["-.N2"]);
    assert!(
        wf.join("-.N4/_done").exists(),
        "the running sleep did not finish before the pause"
    );
    assert!(!wf.join("-.N2/nodedef").exists());
    let out = tkr(&ck)
        .args(["resume", "--run-id", "6", "-o"])
        .output()
        .expect("resume");
    expect_code(&out, 0);
    assert!(stdout(&out).contains("value: false"), "{}", stdout(&out));
}
