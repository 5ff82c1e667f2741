//! `tkr ls`, `show`, `logs`, `outputs`, `errors`, `trace` and `clean`, driven
//! through the real binary: on folders written by the Python reference
//! (recorded in `tests/data/python-2.1.1`, see its README) and on runs of our
//! own controller. Human output is compared with snapshots after
//! normalising durations and paths; JSON output is checked field by field.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use expect_test::{expect, Expect};
use tierkreis_core::Value;

/// A copy of the recorded reference folders (tests may delete from it),
/// every file with the same modification time (a checkout's are arbitrary),
/// so every finished node shows a duration of 0.
fn reference_copy() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/python-2.1.1/checkpoints");
    let dst = tempfile::tempdir().expect("tempdir");
    copy_dir(&src, dst.path());
    dst
}

/// Copies a recorded folder, dating every file and folder in the past (as
/// a run recorded long ago is): a folder of the reference (which takes no
/// lock) changed in the last minute would count as running.
fn copy_dir(src: &Path, dst: &Path) {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir").flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
            std::fs::File::options()
                .write(true)
                .open(&to)
                .and_then(|f| f.set_modified(when))
                .expect("set mtime");
        }
    }
    std::fs::File::open(dst)
        .and_then(|f| f.set_modified(when))
        .expect("set the folder's mtime");
}

/// `tkr ARGS` with checkpoint folder `dir`; panics unless it exits `code`.
fn tkr_in(dir: &Path, args: &[&str], code: i32) -> Output {
    let out = tkr(dir).args(args).output().expect("run tkr");
    expect_code(&out, code);
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

fn json(out: &Output) -> Value {
    tierkreis_core::json::parse(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", stdout(out)))
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.as_map()
        .and_then(|m| m.get(key))
        .unwrap_or_else(|| panic!("no {key:?} in {v:?}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    get(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key:?} is not a string in {v:?}"))
}

/// Replaces every duration word (`850µs`, `12ms`, `1.3s`, `2m03s`, `1h02m`)
/// with `<t>`, and `path` with `<dir>`.
fn normalise(text: &str, path: &Path) -> String {
    let text = text.replace(&path.display().to_string(), "<dir>");
    text.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    let (word, comma) = match w.strip_suffix(',') {
                        Some(x) => (x, ","),
                        None => (w, ""),
                    };
                    if is_duration(word) {
                        format!("<t>{comma}")
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_duration(w: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let decimal = |s: &str| match s.split_once('.') {
        Some((a, b)) => digits(a) && digits(b),
        None => digits(s),
    };
    if let Some(n) = w.strip_suffix("µs").or_else(|| w.strip_suffix("ms")) {
        return digits(n);
    }
    if let Some((m, sec)) = w.strip_suffix('s').and_then(|x| x.split_once('m')) {
        return digits(m) && digits(sec);
    }
    if let Some((h, m)) = w.strip_suffix('m').and_then(|x| x.split_once('h')) {
        return digits(h) && digits(m);
    }
    w.strip_suffix('s').is_some_and(decimal)
}

fn check(dir: &Path, args: &[&str], snapshot: Expect) {
    let out = tkr_in(dir, args, 0);
    snapshot.assert_eq(&normalise(&stdout(&out), dir));
}

/// [`check`] that also replaces dates and times of day (runs made now).
fn check_now(dir: &Path, args: &[&str], snapshot: Expect) {
    let out = normalise(&stdout(&tkr_in(dir, args, 0)), dir);
    let out = out
        .split(' ')
        .map(|w| {
            let (word, comma) = w.strip_suffix(',').map_or((w, ""), |x| (x, ","));
            let shape: String = word
                .chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect();
            match shape.as_str() {
                "9999-99-99" => format!("<date>{comma}"),
                "99:99:99" => format!("<time>{comma}"),
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    snapshot.assert_eq(&out);
}

// ---------------------------------------------------------------------------
// Folders written by the Python reference
// ---------------------------------------------------------------------------

#[test]
fn ls_lists_reference_runs_newest_first() {
    let d = reference_copy();
    check(
        d.path(),
        &["ls"],
        expect![[r#"
            ID                                    NAME          STATUS       NODES  FAILED  STARTED              DURATION
            00000000-0000-0000-0000-000000000004  -             interrupted      5       0  2026-11-25 07:08:10  -
            00000000-0000-0000-0000-000000000003  divide_fails  failed           5       1  2026-11-25 07:08:10  -
            00000000-0000-0000-0000-000000000002  doubler_map   finished        92       0  2026-11-25 06:59:36  <t>
            00000000-0000-0000-0000-000000000001  counter_loop  finished        33       0  2026-11-25 06:59:34  <t>
        "#]],
    );
    let all = json(&tkr_in(d.path(), &["ls", "--json"], 0));
    let all = all.as_list().expect("a list");
    let ids: Vec<&str> = all.iter().map(|w| s(w, "id")).collect();
    assert_eq!(
        ids,
        [4, 3, 2, 1]
            .map(run_uuid)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let statuses: Vec<&str> = all.iter().map(|w| s(w, "status")).collect();
    assert_eq!(statuses, ["interrupted", "failed", "finished", "finished"]);
    assert_eq!(get(&all[3], "name"), &Value::from("counter_loop"));
    assert_eq!(get(&all[0], "name"), &Value::Null);
    // Times as the reference wrote them in the metadata.
    assert_eq!(s(&all[3], "start_time"), "2026-11-25T06:59:34.081502");
    assert_eq!(s(&all[3], "end_time"), "2026-11-25T06:59:36.658424");
    assert_eq!(get(&all[1], "end_time"), &Value::Null);
    assert_eq!(get(&all[3], "duration"), &Value::Float(2.576922));
    assert_eq!(get(&all[1], "failures"), &Value::int(1));

    let failed = json(&tkr_in(
        d.path(),
        &["ls", "--json", "--status", "failed"],
        0,
    ));
    assert_eq!(failed.as_list().map(<[Value]>::len), Some(1));
}

#[test]
fn show_reference_loop_by_name() {
    let d = reference_copy();
    check(
        d.path(),
        &["show", "counter_loop", "--depth", "2"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000001 (counter_loop): finished, started 2026-11-25 06:59:34, took <t>
            -  graph  done <t>  value=10
            ├─ N0  const 6  done <t>  value=6
            ├─ N1  const <graph: 6 nodes>  done <t>  value=<graph: 6 nodes>
            ├─ N2  loop counter (4 iterations)  done <t>  loop_acc=10 should_continue=false
            │  ├─ L0  iteration  done <t>  loop_acc=7 should_continue=true
            │  ├─ L1  iteration  done <t>  loop_acc=8 should_continue=true
            │  ├─ L2  iteration  done <t>  loop_acc=9 should_continue=true
            │  └─ L3  iteration  done <t>  loop_acc=10 should_continue=false
            └─ N3  output  done <t>
        "#]],
    );
    // One scope, options after the location.
    check(
        d.path(),
        &["show", "counter_loop", "-.N2.L3"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000001 (counter_loop): finished, started 2026-11-25 06:59:34, took <t>
            L3  iteration  done <t>  loop_acc=10 should_continue=false
            ├─ N0  input loop_acc  done <t>  loop_acc=9
            ├─ N1  const 1  done <t>  value=1
            ├─ N2  const 10  done <t>  value=10
            ├─ N3  function builtins.iadd  done <t>  value=10
            ├─ N4  function builtins.igt  done <t>  value=false
            └─ N5  output  done <t>
        "#]],
    );
    let tree = json(&tkr_in(
        d.path(),
        &["show", "--run-id", "1", "-.N2", "--json"],
        0,
    ));
    assert_eq!(s(get(&tree, "workflow"), "name"), "counter_loop");
    let node = get(&tree, "tree");
    assert_eq!(s(node, "type"), "loop");
    assert_eq!(s(node, "status"), "done");
    let iterations = get(node, "children").as_list().expect("children");
    assert_eq!(iterations.len(), 4);
    assert_eq!(
        get(get(&iterations[2], "outputs"), "loop_acc"),
        &Value::int(9)
    );
    let body = get(&iterations[0], "children")
        .as_list()
        .expect("body nodes");
    assert_eq!(s(&body[3], "detail"), "builtins.iadd");
    assert_eq!(s(&body[3], "loc"), "-.N2.L0.N3");
}

#[test]
fn show_collapses_a_map_of_twelve_elements() {
    let d = reference_copy();
    check(
        d.path(),
        &["show", "doubler_map", "--depth", "2"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000002 (doubler_map): finished, started 2026-11-25 06:59:36, took <t>
            -  graph  done <t>  value=[6, 8, 10, 12, 14, 16, 18, 20, 22, 24, …
            ├─ N0  input value  done <t>  value=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
            ├─ N1  function builtins.unfold_values  done <t>  0=0 1=1 2=2 (+9 more)
            ├─ N2  const 6  done <t>  value=6
            ├─ N3  const <graph: 6 nodes>  done <t>  value=<graph: 6 nodes>
            ├─ N4  map (12 elements)  done <t>  value-0=6 value-1=8 value-2=10 (+9 more)
            │  ├─ M0  element  done <t>  value=6
            │  ├─ M1  element  done <t>  value=8
            │  ├─ M2  element  done <t>  value=10
            │  ├─ … 8 more elements: 8 done
            │  └─ M11  element  done <t>  value=28
            ├─ N5  function builtins.fold_values  done <t>  value=[6, 8, 10, 12, 14, 16, 18, 20, 22, 24, …
            └─ N6  output  done <t>
        "#]],
    );
    let out = stdout(&tkr_in(
        d.path(),
        &["show", "doubler_map", "--all", "--depth", "2"],
        0,
    ));
    assert_eq!(out.matches("element  done").count(), 12, "{out}");
    let tree = json(&tkr_in(d.path(), &["show", "doubler_map", "--json"], 0));
    let map = &get(get(&tree, "tree"), "children")
        .as_list()
        .expect("nodes")[4];
    let items = get(map, "children").as_list().expect("elements");
    assert_eq!(items.len(), 5);
    assert_eq!(s(&items[3], "collapsed"), "elements");
    assert_eq!(get(&items[3], "count"), &Value::int(8));
    assert_eq!(get(get(&items[3], "statuses"), "done"), &Value::int(8));
    // JSON has every output of the map.
    assert_eq!(get(map, "outputs").as_map().map(|m| m.len()), Some(12));
}

#[test]
fn failed_and_interrupted_reference_runs() {
    let d = reference_copy();
    check(
        d.path(),
        &["show", "divide_fails"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000003 (divide_fails): failed, started 2026-11-25 07:08:10
            -  graph  failed
            ├─ N0  const 1  done <t>  value=1
            ├─ N1  const 0  done <t>  value=0
            ├─ N2  function builtins.iadd  done <t>  value=1
            ├─ N3  function failer.divide  failed
            └─ N4  output  not started
        "#]],
    );
    check(
        d.path(),
        &["errors", "divide_fails"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000003 (failed): 1 failed node(s)
            -.N3 (failer.divide): failer: cannot divide by zero
                failer: cannot divide by zero
        "#]],
    );
    check(
        d.path(),
        &["show", "--run-id", "4"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000004: interrupted, started 2026-11-25 07:08:10
            -  graph  interrupted
            ├─ N0  const 1  done <t>  value=1
            ├─ N1  const "x"  done <t>  value="x"
            ├─ N2  function builtins.iadd  interrupted
            ├─ N3  function builtins.iadd  interrupted
            └─ N4  output  not started
        "#]],
    );
    let errors = json(&tkr_in(d.path(), &["errors", "--run-id", "4", "--json"], 0));
    assert_eq!(s(&errors, "status"), "interrupted");
    assert_eq!(get(&errors, "failed"), &Value::List(vec![]));
    let unfinished = get(&errors, "unfinished").as_list().expect("list");
    assert_eq!(unfinished.len(), 2);
    assert_eq!(s(&unfinished[0], "loc"), "-.N2");
    assert_eq!(s(&unfinished[0], "function"), "builtins.iadd");
    assert_eq!(
        s(&unfinished[0], "message"),
        "unsupported operand type(s) for +: 'int' and 'str'"
    );
    let ok = stdout(&tkr_in(d.path(), &["errors", "counter_loop"], 0));
    assert!(ok.contains("no failed nodes"), "{ok}");
}

/// A node with both `_done` and `_error` (a stale error beside a later
/// success): `show`, `errors` and `ls` say what the storage's node status
/// says, finished, not failed.
#[test]
fn a_node_with_done_beside_a_stale_error_is_what_storage_says() {
    use tierkreis_storage::ControllerStorage;
    let d = reference_copy();
    let st =
        tierkreis_storage::FileControllerStorage::new(d.path(), uuid::Uuid::from_u128(3), None);
    let n3 = tierkreis_core::Loc::parse("-.N3").expect("loc");
    assert!(st.node_has_error(&n3), "the recorded run failed at -.N3");
    st.mark_node_finished(&n3).expect("done");
    assert_eq!(
        tierkreis_storage::node_status(&st, &n3),
        tierkreis_storage::NodeStatus::Finished
    );
    let tree = stdout(&tkr_in(d.path(), &["show", "divide_fails"], 0));
    assert!(
        tree.contains("├─ N3  function failer.divide  done"),
        "{tree}"
    );
    let errors = json(&tkr_in(d.path(), &["errors", "divide_fails", "--json"], 0));
    assert_eq!(get(&errors, "failed"), &Value::List(vec![]));
    let all = json(&tkr_in(d.path(), &["ls", "--json"], 0));
    let run = all
        .as_list()
        .and_then(|l| l.iter().find(|w| s(w, "id") == run_uuid(3)))
        .expect("listed");
    assert_eq!(get(run, "failures"), &Value::int(0));
}

#[test]
fn logs_of_the_workflow_and_of_a_node() {
    let d = reference_copy();
    let out = stdout(&tkr_in(d.path(), &["logs", "divide_fails", "-.N3"], 0));
    assert_eq!(out, "failer: cannot divide by zero\n");
    let whole = std::fs::read_to_string(d.path().join(run_uuid(3)).join("logs")).expect("log");
    let out = stdout(&tkr_in(d.path(), &["logs", "--run-id", "3"], 0));
    assert_eq!(out, whole);
    let out = stdout(&tkr_in(
        d.path(),
        &["logs", "--run-id", "3", "--tail", "2"],
        0,
    ));
    let last: Vec<&str> = whole.trim_end().lines().rev().take(2).collect();
    assert_eq!(out, format!("{}\n{}\n", last[1], last[0]));
    let err = stderr(&tkr_in(d.path(), &["logs", "--run-id", "3", "-.N9"], 2));
    assert!(err.contains("no node -.N9"), "{err}");
}

#[test]
fn outputs_decoded_and_raw() {
    let d = reference_copy();
    let out = stdout(&tkr_in(d.path(), &["outputs", "counter_loop"], 0));
    assert_eq!(out, "{\n  \"value\": 10\n}\n");
    let out = stdout(&tkr_in(
        d.path(),
        &["outputs", "counter_loop", "-.N2.L1", "loop_acc"],
        0,
    ));
    assert_eq!(out, "8\n");
    let raw = tkr_in(d.path(), &["outputs", "--raw", "doubler_map", "value"], 0).stdout;
    let file = std::fs::read(d.path().join(run_uuid(2)).join("-/outputs/value")).expect("file");
    assert_eq!(raw, file);
    let err = stderr(&tkr_in(
        d.path(),
        &["outputs", "counter_loop", "-.N2", "nope"],
        2,
    ));
    assert!(
        err.contains("its outputs are: loop_acc, should_continue"),
        "{err}"
    );
    let err = stderr(&tkr_in(
        d.path(),
        &["outputs", "divide_fails", "-.N3", "value"],
        2,
    ));
    assert!(err.contains("it failed"), "{err}");
}

#[test]
fn trace_of_a_named_loop() {
    let d = reference_copy();
    check(
        d.path(),
        &["trace", "counter_loop", "counter"],
        expect![[r#"
            loop counter (-.N2): 4 iteration(s)
            L0  loop_acc=7  should_continue=true
            L1  loop_acc=8  should_continue=true
            L2  loop_acc=9  should_continue=true
            L3  loop_acc=10  should_continue=false
        "#]],
    );
    let t = json(&tkr_in(
        d.path(),
        &["trace", "--run-id", "1", "counter", "loop_acc", "--json"],
        0,
    ));
    assert_eq!(s(&t, "loc"), "-.N2");
    let expected: Vec<Value> = [7, 8, 9, 10].into_iter().map(Value::int).collect();
    assert_eq!(get(get(&t, "ports"), "loop_acc"), &Value::List(expected));
    assert_eq!(get(&t, "ports").as_map().map(|m| m.len()), Some(1));
    let err = stderr(&tkr_in(d.path(), &["trace", "counter_loop", "nope"], 2));
    assert!(err.contains("named loops: counter"), "{err}");
    let err = stderr(&tkr_in(
        d.path(),
        &["trace", "counter_loop", "counter", "nope"],
        2,
    ));
    assert!(
        err.contains("its ports are: loop_acc, should_continue"),
        "{err}"
    );
    let err = stderr(&tkr_in(d.path(), &["trace", "doubler_map", "-.N4"], 2));
    assert!(
        err.contains("can only read traces from loop nodes"),
        "{err}"
    );
}

#[test]
fn unknown_runs_list_the_closest_names() {
    let d = reference_copy();
    let err = stderr(&tkr_in(d.path(), &["show", "counter_lop"], 2));
    assert!(err.contains("no workflow \"counter_lop\""), "{err}");
    assert!(
        err.contains("closest: counter_loop (00000000-0000-0000-0000-000000000001)"),
        "{err}"
    );
    let err = stderr(&tkr_in(d.path(), &["show", "00000000"], 2));
    assert!(err.contains("matches 4 workflows"), "{err}");
    let err = stderr(&tkr_in(d.path(), &["show", "counter_loop", "-.N7"], 2));
    assert!(err.contains("the graph of - has no node N7"), "{err}");
    let err = stderr(&tkr_in(d.path(), &["show", "divide_fails", "-.N4"], 2));
    assert!(err.contains("node -.N4 has not started"), "{err}");
    let err = stderr(&tkr_in(d.path(), &["show", "counter_loop", "-.X1"], 2));
    assert!(err.contains("not a node location"), "{err}");
}

// ---------------------------------------------------------------------------
// Runs of our own controller
// ---------------------------------------------------------------------------

fn run_case(dir: &Path, case: &str, id: u128, name: &str) {
    let case = fixtures().join("conformance").join(case);
    let mut args: Vec<String> = [
        "run",
        "-q",
        "--run-id",
        &id.to_string(),
        "--name",
        name,
        "-f",
    ]
    .map(String::from)
    .to_vec();
    args.push(case.join("graph.json").display().to_string());
    args.extend(input_args(&case));
    let out = tkr(dir).args(&args).output().expect("run tkr");
    expect_code(&out, 0);
}

/// 1 + "x" with the builtin `iadd`: fails.
const FAILING_GRAPH: &str = r#"{"nodes": [
    {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}},
    {"type": "const", "value": "x", "inputs": {}, "outputs": {"value": [2]}},
    {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [3]}},
    {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
  ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;

#[test]
fn our_runs_finished_failed_and_running() {
    let d = tempfile::tempdir().expect("tempdir");
    run_case(d.path(), "typed_map", 1, "typed_map");
    let graph = write(d.path(), "fails.json", FAILING_GRAPH);
    let out = tkr(d.path())
        .args(["run", "-q", "--run-id", "2", "--name", "fails", "-f"])
        .arg(&graph)
        .output()
        .expect("run tkr");
    expect_code(&out, 1);

    let all = json(&tkr_in(d.path(), &["ls", "--json"], 0));
    let all = all.as_list().expect("list");
    assert_eq!(all.len(), 2);
    let by_name = |n: &str| all.iter().find(|w| s(w, "name") == n).expect("listed");
    assert_eq!(s(by_name("typed_map"), "status"), "finished");
    assert!(by_name("typed_map")
        .as_map()
        .is_some_and(|m| m["end_time"].as_str().is_some()));
    assert_eq!(s(by_name("fails"), "status"), "failed");
    assert_eq!(get(by_name("fails"), "failures"), &Value::int(1));

    // The map of 21 elements collapses; the output is the recorded one.
    check_now(
        d.path(),
        &["show", "typed_map", "--depth", "2"],
        expect![[r#"
            workflow 00000000-0000-0000-0000-000000000001 (typed_map): finished, started <date> <time>, took <t>
            -  graph  done <t>  value=[6, 8, 10, 12, 14, 16, 18, 20, 22, 24, …
            ├─ N0  input value  done <t>  value=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …
            ├─ N1  function builtins.unfold_values  done <t>  0=0 1=1 2=2 (+18 more)
            ├─ N2  const 6  done <t>  value=6
            ├─ N3  const <graph: 6 nodes>  done <t>  value=<graph: 6 nodes>
            ├─ N4  map (21 elements)  done <t>  value-0=6 value-1=8 value-2=10 (+18 more)
            │  ├─ M0  element  done <t>  value=6
            │  ├─ M1  element  done <t>  value=8
            │  ├─ M2  element  done <t>  value=10
            │  ├─ … 17 more elements: 17 done
            │  └─ M20  element  done <t>  value=46
            ├─ N5  function builtins.fold_values  done <t>  value=[6, 8, 10, 12, 14, 16, 18, 20, 22, 24, …
            └─ N6  output  done <t>
        "#]],
    );
    let expected = common::reference::expected_outputs(&fixtures().join("conformance/typed_map"));
    let got = json(&tkr_in(d.path(), &["outputs", "typed_map"], 0));
    assert_eq!(got, expected);

    let errors = json(&tkr_in(d.path(), &["errors", "fails", "--json"], 0));
    let failed = get(&errors, "failed").as_list().expect("list");
    assert_eq!(failed.len(), 1);
    assert_eq!(s(&failed[0], "loc"), "-.N2");
    assert_eq!(s(&failed[0], "function"), "builtins.iadd");
    assert!(!s(&failed[0], "message").is_empty());
    let tree = stdout(&tkr_in(d.path(), &["show", "fails"], 0));
    assert!(
        tree.contains("├─ N2  function builtins.iadd  failed"),
        "{tree}"
    );

    // While a controller holds the lock, the run is running and kept.
    let wf = d.path().join(run_uuid(1));
    let lock = tierkreis_storage::WorkflowLock::acquire(&wf).expect("lock");
    let all = json(&tkr_in(
        d.path(),
        &["ls", "--json", "--status", "running"],
        0,
    ));
    assert_eq!(
        all.as_list()
            .map(|l| l.iter().map(|w| s(w, "id").to_string()).collect::<Vec<_>>()),
        Some(vec![run_uuid(1)])
    );
    let err = stderr(&tkr_in(d.path(), &["clean", "typed_map"], 1));
    assert!(err.contains("is running"), "{err}");
    assert!(wf.is_dir());
    let out = stdout(&tkr_in(d.path(), &["clean", "--all"], 0));
    assert!(
        out.contains(&format!("removed {} (fails) [failed]", run_uuid(2))),
        "{out}"
    );
    assert!(
        out.contains("removed 1 workflow(s), skipped 1 running"),
        "{out}"
    );
    assert!(wf.is_dir() && !d.path().join(run_uuid(2)).exists());
    drop(lock);
    let out = stdout(&tkr_in(d.path(), &["clean", "typed_map"], 0));
    assert!(
        out.starts_with(&format!("removed {} (typed_map) [finished]", run_uuid(1))),
        "{out}"
    );
    assert!(!wf.exists());
    let err = stderr(&tkr_in(d.path(), &["ls"], 0));
    assert!(err.contains("no workflows"), "{err}");
}

#[test]
fn clean_removes_reference_runs() {
    let d = reference_copy();
    let out = stdout(&tkr_in(d.path(), &["clean", "divide_fails"], 0));
    assert_eq!(
        normalise(&out, d.path()),
        format!(
            "removed {} (divide_fails) [failed] <dir>/{}\n",
            run_uuid(3),
            run_uuid(3)
        )
    );
    let out = stdout(&tkr_in(
        d.path(),
        &["clean", "--all", "--status", "finished"],
        0,
    ));
    assert!(out.ends_with("removed 2 workflow(s)\n"), "{out}");
    let left: Vec<PathBuf> = std::fs::read_dir(d.path())
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(left, vec![d.path().join(run_uuid(4))]);
}

#[test]
fn every_command_has_help_with_examples() {
    let d = tempfile::tempdir().expect("tempdir");
    // Every command `tkr --help` lists, not a list kept by hand.
    let top = stdout(&tkr_in(d.path(), &["--help"], 0));
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    for expected in [
        "run", "resume", "restart", "stop", "ls", "show", "clean", "serve",
    ] {
        assert!(
            commands.contains(&expected),
            "{expected} missing from:\n{top}"
        );
    }
    for cmd in commands {
        let out = stdout(&tkr_in(d.path(), &[cmd, "--help"], 0));
        assert!(out.contains("Example"), "tkr {cmd} --help:\n{out}");
        assert!(
            out.contains(&format!("tkr {cmd}")),
            "tkr {cmd} --help:\n{out}"
        );
    }
}
