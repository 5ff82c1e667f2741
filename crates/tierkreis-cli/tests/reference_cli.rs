//! The reference's command line works unchanged with our `tkr` (issue 15):
//! the reference's own end-to-end CLI cases with the same argument lists,
//! each of its `tkr run` flags for its effect, `-g` with the reference's own
//! graph library, `tkr init project|worker|stubs` and `tkr vis --graph`.
//!
//! Our `tkr` runs inside the reference environment (copied into the scratch
//! folder under /tmp, which both sides see) whenever Python with `tierkreis`
//! is needed; the reference's `tkr` runs there too. The reference's
//! controller ignores `TKR_DIR` (it writes to `~/.tierkreis/checkpoints`, in
//! its root) while its workers read it, so it runs without `TKR_DIR` and its
//! workflow folders are read from its root and removed afterwards.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::reference::*;
use common::*;
use tierkreis_core::Value;

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        (
            "reference_end_to_end_cli_cases::simple_eval_cli",
            simple_eval_cli,
        ),
        (
            "reference_end_to_end_cli_cases::factorial_cli",
            factorial_cli,
        ),
        (
            "older_single_index_graph_runs_here_though_the_reference_refuses_it",
            older_single_index_graph,
        ),
        (
            "run_flags::from_file_and_print_output",
            from_file_and_print_output,
        ),
        ("run_flags::input_files_forms", input_files_forms),
        ("run_flags::loglevel_and_verbose", loglevel_and_verbose),
        (
            "run_flags::n_iterations_is_a_noticed_no_op",
            n_iterations_notice,
        ),
        ("run_flags::do_clean_restart", do_clean_restart),
        ("run_flags::registry_path_and_uv", registry_path_and_uv),
        (
            "graph_location::loads_the_references_compile_simulate_workflow",
            loads_compile_simulate,
        ),
        (
            "graph_location::a_mistake_is_one_line_naming_module_and_object",
            graph_mistakes,
        ),
        (
            "init::project_and_worker_run_under_both_controllers",
            init_project_and_worker,
        ),
        ("init::stubs_are_regenerated_offline", init_stubs),
        ("vis::graph_is_shown_without_a_run", vis_graph),
        ("vis::dev_is_accepted_and_serves", vis_dev),
    ];
    common::run_trials_needing(availability().err(), trials);
}

// ---------------------------------------------------------------- helpers

/// Our `tkr`, copied into the scratch folder so the reference root sees it.
fn our_tkr_in(s: &Scratch) -> PathBuf {
    let to = s.path().join("tkr");
    if !to.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_tkr"), &to).expect("copy tkr");
    }
    to
}

/// Our `tkr ARGS` inside the reference root, in `cwd`, with the scratch's
/// checkpoint folder and `extra_path` (if any) first on PATH.
fn ours_inside(s: &Scratch, cwd: &Path, extra_path: Option<&Path>) -> Command {
    let tkr = our_tkr_in(s);
    let prefix = extra_path.map_or(String::new(), |p| format!("{}:", p.display()));
    let mut c = Command::new("bash");
    c.arg(run_sh())
        .args(["--", "bash", "-c"])
        .arg(format!("PATH={prefix}$PATH exec {} \"$@\"", tkr.display()))
        .arg("tkr")
        .env("TKR_DIR", s.tkr_dir())
        .current_dir(cwd);
    c
}

/// The reference's `tkr ARGS` in `cwd`, with `cwd` on PYTHONPATH (as pytest
/// had the upstream repository) and no TKR_DIR (see the module docs).
fn reference_tkr(cwd: &Path) -> Command {
    let mut c = Command::new("bash");
    c.arg(run_sh())
        .args([
            "--",
            "bash",
            "-c",
            "PYTHONPATH=\"$PWD\" exec tkr \"$@\"",
            "tkr",
        ])
        .env_remove("TKR_DIR")
        .current_dir(cwd);
    c
}

/// A run id nobody else uses, and the guard that removes the reference's
/// workflow folder for it.
struct ReferenceRun {
    id: u128,
}

impl ReferenceRun {
    fn new() -> ReferenceRun {
        ReferenceRun {
            id: u128::from(uuid::Uuid::new_v4().as_u128() as u32) + 1_000_000,
        }
    }
    fn folder(&self) -> PathBuf {
        reference_root()
            .join("root/.tierkreis/checkpoints")
            .join(run_uuid(self.id))
    }
}

impl Drop for ReferenceRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.folder());
    }
}

fn output(what: &str, cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The top-level outputs in workflow folder `wf`, parsed.
fn outputs_in(wf: &Path) -> Value {
    values_in_folder(&wf.join("-/outputs"))
}

fn value(json: &str) -> Value {
    tierkreis_core::json::parse(json.as_bytes()).expect("json")
}

/// The upstream CLI test's fixed arguments (tierkreis/tests/cli/test_tkr.py).
fn upstream_default_args(run_id: u128) -> Vec<String> {
    let id = run_id.to_string();
    [
        "run",
        "--run-id",
        &id,
        "-v",
        "-o",
        "-n",
        "500",
        "-p",
        "0.02",
        "-r",
        "--name",
        "test_name",
        "--uv",
        "--registry-path",
        "tests/controller/sample_graphdata",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The upstream's `tests.controller.sample_graphdata:factorial`, written for
/// this test: factorial(n) by a graph that evaluates itself.
const SAMPLE_GRAPHDATA_PY: &str = r#"from tierkreis.controller.data.graph import GraphData


def factorial() -> GraphData:
    g = GraphData()
    n = g.input("n")
    fac = g.input("factorial")
    more = g.func("builtins.igt", {"a": n, "b": g.const(1)})("value")
    n_less = g.func("builtins.iadd", {"a": n, "b": g.const(-1)})("value")
    below = g.eval(fac, {"n": n_less, "factorial": fac})("factorial_output")
    product = g.func("builtins.itimes", {"a": n, "b": below})("value")
    out = g.if_else(more, product, g.const(1))("value")
    g.output({"factorial_output": out})
    return g
"#;

/// The upstream test layout in the scratch: `tests/controller/
/// sample_graphdata.py`, `tierkreis/tests/cli/data/{sample_graph,n,
/// factorial}` and the `workflow_inputs.json` the reference reads by default.
fn upstream_layout(s: &Scratch) {
    let p = s.path();
    std::fs::create_dir_all(p.join("tests/controller")).expect("mkdir");
    std::fs::create_dir_all(p.join("tierkreis/tests/cli/data")).expect("mkdir");
    s.write("tests/__init__.py", "");
    s.write("tests/controller/__init__.py", "");
    s.write("tests/controller/sample_graphdata.py", SAMPLE_GRAPHDATA_PY);
    s.copy_in(
        &fixtures().join("conformance/simple_eval/graph.json"),
        "tierkreis/tests/cli/data/sample_graph",
    );
    s.write("tierkreis/tests/cli/data/n", "5");
    s.write("workflow_inputs.json", "{}");
    // The graph as a value: the input `factorial` of the factorial graph.
    let mut py = Command::new("bash");
    py.arg(run_sh())
        .args(["--", "python", "-c"])
        .arg("from tests.controller.sample_graphdata import factorial\nopen('tierkreis/tests/cli/data/factorial', 'w').write(factorial().model_dump_json())")
        .current_dir(p);
    output("write the factorial graph", &mut py);
}

/// Runs one upstream end-to-end case under both `tkr`s and compares the
/// workflows' outputs with each other and with the upstream's expectation.
///
/// The reference gets `-n 100000` instead of the upstream's `-n 500`: its
/// controller sleeps `-p` seconds per tick, and on a loaded machine 500
/// ticks of 0.02 s end the factorial run before it finishes ("Output
/// factorial_output not found"). Our controller has no ticks (`-n` is a
/// noticed no-op), so ours gets the upstream list unchanged.
fn upstream_case(extra: &[&str], expected: &str) {
    let s = Scratch::new();
    upstream_layout(&s);
    let run = ReferenceRun::new();
    let mut ours_args = upstream_default_args(run.id);
    ours_args.extend(extra.iter().map(|a| a.to_string()));
    let out = output("our tkr", ours_inside(&s, s.path(), None).args(&ours_args));
    let ours = outputs_in(&s.workflow(run.id));
    assert_eq!(ours, value(expected), "ours");
    // -o printed each output; --name is recorded; -n said it does nothing.
    for (port, v) in match &ours {
        Value::Map(m) => m.clone(),
        _ => unreachable!(),
    } {
        let line = format!("{port}: {}", tierkreis_core::json::to_string_compact(&v));
        assert!(
            stdout(&out).contains(&line),
            "no {line:?} in\n{}",
            stdout(&out)
        );
    }
    let metadata = std::fs::read_to_string(s.workflow(run.id).join("_metadata")).expect("metadata");
    assert!(metadata.contains("test_name"), "{metadata}");
    assert!(
        stderr(&out).contains("-n/--n-iterations 500 has no effect"),
        "{}",
        stderr(&out)
    );

    let mut reference_args = ours_args.clone();
    let n = reference_args
        .iter()
        .position(|a| a == "500")
        .expect("-n 500");
    reference_args[n] = "100000".into();
    output(
        "reference tkr",
        reference_tkr(s.path()).args(&reference_args),
    );
    assert_eq!(outputs_in(&run.folder()), ours, "reference and ours differ");
}

fn simple_eval_cli() {
    upstream_case(
        &["-f", "tierkreis/tests/cli/data/sample_graph"],
        r#"{"simple_eval_output": 12}"#,
    );
}

fn factorial_cli() {
    upstream_case(
        &[
            "-g",
            "tests.controller.sample_graphdata:factorial",
            "-i",
            "n:tierkreis/tests/cli/data/n",
            "factorial:tierkreis/tests/cli/data/factorial",
        ],
        r#"{"factorial_output": 120}"#,
    );
}

/// The simple_eval graph with every single-consumer output written as a
/// bare index (`"value": 3`), the older form.
fn older_form(graph: &mut Value) {
    let Value::Map(g) = graph else { return };
    let Some(Value::List(nodes)) = g.get_mut("nodes") else {
        return;
    };
    for node in nodes {
        let Value::Map(n) = node else { continue };
        if let Some(Value::Map(outputs)) = n.get_mut("outputs") {
            for v in outputs.values_mut() {
                if let Value::List(l) = v {
                    if l.len() == 1 {
                        *v = l[0].clone();
                    }
                }
            }
        }
        if let Some(inner @ Value::Map(_)) = n.get_mut("value") {
            older_form(inner);
        }
    }
}

fn older_single_index_graph() {
    let s = Scratch::new();
    let mut graph = tierkreis_core::json::parse(
        &std::fs::read(fixtures().join("conformance/simple_eval/graph.json")).expect("graph"),
    )
    .expect("json");
    older_form(&mut graph);
    let text = tierkreis_core::json::to_string_compact(&graph);
    assert!(
        text.contains("\"value\":4") || text.contains("\"value\": 4"),
        "{text}"
    );
    let file = s.write("old_graph.json", &text);
    let out = output(
        "our tkr, older graph",
        s.tkr()
            .args(["run", "-o", "--run-id", "3", "-f"])
            .arg(&file),
    );
    assert_eq!(stdout(&out), "simple_eval_output: 12\n");
    let run = ReferenceRun::new();
    s.write("workflow_inputs.json", "{}");
    let out = reference_tkr(s.path())
        .args(["run", "--run-id", &run.id.to_string(), "-f"])
        .arg(&file)
        .output()
        .expect("reference");
    assert!(
        !out.status.success(),
        "the reference accepted the older form"
    );
    assert!(stderr(&out).contains("valid list"), "{}", stderr(&out));
}

// ---------------------------------------------------------------- run flags

const FAILING_GRAPH: &str = r#"{"nodes": [
 {"type": "const", "value": "x", "inputs": {}, "outputs": {"value": [2]}},
 {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [3]}},
 {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;

/// `a + b` of two inputs.
const ADD_GRAPH: &str = r#"{"nodes": [
 {"type": "input", "name": "a", "inputs": {}, "outputs": {"a": [2]}},
 {"type": "input", "name": "b", "inputs": {}, "outputs": {"b": [2]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "a"], "b": [1, "b"]}, "outputs": {"value": [3]}},
 {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": ["a", "b"], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;

fn from_file_and_print_output() {
    let s = Scratch::new();
    let graph = fixtures().join("conformance/simple_eval/graph.json");
    let out = output(
        "--from-file --print-output",
        s.tkr()
            .args(["run", "--run-id", "4", "--print-output", "--from-file"])
            .arg(&graph),
    );
    assert_eq!(stdout(&out), "simple_eval_output: 12\n");
    // Without -o/--print-output nothing is printed on stdout.
    let out = output(
        "no -o",
        s.tkr().args(["run", "--run-id", "5", "-f"]).arg(&graph),
    );
    assert_eq!(stdout(&out), "");
}

fn input_files_forms() {
    let s = Scratch::new();
    let graph = s.write("add.json", ADD_GRAPH);
    let a = s.write("a", "2");
    let b = s.write("b", "40");
    // Several PORT:FILE after one -i, as the reference takes them.
    let out = output(
        "-i a:A b:B",
        s.tkr()
            .args(["run", "-o", "--storage", "memory", "-f"])
            .arg(&graph)
            .arg("-i")
            .arg(format!("a:{}", a.display()))
            .arg(format!("b:{}", b.display())),
    );
    assert_eq!(stdout(&out), "value: 42\n");
    // --input-files with one JSON file.
    let inputs = s.write("inputs.json", r#"{"a": 1, "b": 2}"#);
    let out = output(
        "--input-files X.json",
        s.tkr()
            .args(["run", "-o", "--storage", "memory", "-f"])
            .arg(&graph)
            .arg("--input-files")
            .arg(&inputs),
    );
    assert_eq!(stdout(&out), "value: 3\n");
    // Repeating -i still works.
    let out = output(
        "-i a:A -i b:B",
        s.tkr()
            .args(["run", "-o", "--storage", "memory", "-f"])
            .arg(&graph)
            .arg("-i")
            .arg(format!("a:{}", a.display()))
            .arg("-i")
            .arg(format!("b:{}", b.display())),
    );
    assert_eq!(stdout(&out), "value: 42\n");
    // Without -i, ./workflow_inputs.json (the reference's default) is read.
    s.write("workflow_inputs.json", r#"{"a": 10, "b": 5}"#);
    let out = output(
        "default inputs",
        s.tkr()
            .current_dir(s.path())
            .args(["run", "-o", "--storage", "memory", "-f", "add.json"]),
    );
    assert_eq!(stdout(&out), "value: 15\n");
    // `-i None` gives no inputs: a graph without inputs runs.
    let out = output(
        "-i None",
        s.tkr()
            .current_dir(s.path())
            .args(["run", "-o", "--storage", "memory", "-i", "None", "-f"])
            .arg(fixtures().join("conformance/simple_eval/graph.json")),
    );
    assert_eq!(stdout(&out), "simple_eval_output: 12\n");
}

fn loglevel_and_verbose() {
    let s = Scratch::new();
    let graph = s.write("fail.json", FAILING_GRAPH);
    let run = |flags: &[&str], rust_log: Option<&str>| -> String {
        let mut c = s.tkr();
        if let Some(l) = rust_log {
            c.env("RUST_LOG", l);
        }
        let out = c
            .args(["run", "--storage", "memory", "-f"])
            .arg(&graph)
            .args(flags)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        stderr(&out)
    };
    // The runtime logs a failed task at DEBUG level.
    let debug_line = "task failed";
    assert!(run(&["-v"], None).contains(debug_line));
    assert!(run(&["--verbose"], None).contains(debug_line));
    assert!(run(&["-l", "DEBUG"], None).contains(debug_line));
    assert!(run(&["--loglevel", "NOTSET"], None).contains(debug_line));
    assert!(!run(&["-l", "WARNING"], None).contains(debug_line));
    assert!(!run(&[], None).contains(debug_line));
    // The flag wins over RUST_LOG.
    assert!(run(&[], Some("debug")).contains(debug_line));
    assert!(!run(&["-l", "ERROR"], Some("debug")).contains(debug_line));
    // An unknown level names the accepted ones.
    let out = s
        .tkr()
        .args(["run", "-l", "LOUD", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("WARNING"), "{}", stderr(&out));
}

fn n_iterations_notice() {
    let s = Scratch::new();
    let out = output(
        "-n 1",
        s.tkr()
            .args(["run", "-o", "--storage", "memory", "-n", "1", "-f"])
            .arg(fixtures().join("conformance/simple_loop/graph.json")),
    );
    // Not a cap: the loop runs to the end, and the notice says so.
    assert_eq!(stdout(&out), "value: 10\n");
    assert!(
        stderr(&out).contains("-n/--n-iterations 1 has no effect"),
        "{}",
        stderr(&out)
    );
}

fn do_clean_restart() {
    let s = Scratch::new();
    let graph = fixtures().join("conformance/simple_eval/graph.json");
    output(
        "first",
        s.tkr().args(["run", "--run-id", "9", "-f"]).arg(&graph),
    );
    let stale = s.workflow(9).join("stale-file");
    std::fs::write(&stale, "left from before").expect("write");
    // Without -r the existing run is refused and kept.
    let out = s
        .tkr()
        .args(["run", "--run-id", "9", "-f"])
        .arg(&graph)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert!(stale.exists());
    // With -r (and --do-clean-restart) the folder is cleared and the run starts afresh.
    for flag in ["-r", "--do-clean-restart"] {
        std::fs::write(&stale, "left from before").expect("write");
        let out = output(
            flag,
            s.tkr()
                .args(["run", "-o", "--run-id", "9", flag, "-f"])
                .arg(&graph),
        );
        assert_eq!(stdout(&out), "simple_eval_output: 12\n");
        assert!(!stale.exists(), "{flag} kept the old folder's files");
    }
}

/// A project from `tkr init project` in the scratch; returns its folder.
fn init_project(s: &Scratch) -> PathBuf {
    let project = s.path().join("project");
    std::fs::create_dir_all(&project).expect("mkdir");
    output(
        "tkr init project",
        s.tkr().current_dir(&project).args(["init", "project"]),
    );
    project
}

/// `--registry-path` finds a worker, and `--uv` runs the Python worker with
/// `uv run` (a shim for the reference's uv, offline, using the reference's
/// environment), where it runs through its `main.sh` otherwise.
fn registry_path_and_uv() {
    let s = Scratch::new();
    let project = init_project(&s);
    // Run from tkr/ (no tkr.toml there), so only --registry-path finds the worker.
    let cwd = project.join("tkr");
    let inputs = s.write("value", "7");
    let args = |id: &str| -> Vec<String> {
        vec![
            "run".into(),
            "-o".into(),
            "--run-id".into(),
            id.into(),
            "-g".into(),
            "graphs/main.py:workflow".into(),
            "-i".into(),
            format!("value:{}", inputs.display()),
        ]
    };
    let out = ours_inside(&s, &cwd, None)
        .args(args("20"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no worker \"example_worker\""),
        "{}",
        stderr(&out)
    );
    let out = output(
        "--registry-path",
        ours_inside(&s, &cwd, None)
            .args(args("21"))
            .args(["--registry-path", "workers"]),
    );
    assert_eq!(stdout(&out), "value: 7\n");
    let debug = |id: u128| {
        std::fs::read_to_string(s.workflow(id).join("debug/executors/-.N1")).expect("debug record")
    };
    assert!(debug(21).contains("main.sh"), "{}", debug(21));

    let bin = s.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let uv = s.write(
        "bin/uv",
        &format!(
            "#!/bin/sh\nexec env UV_OFFLINE=1 UV_NO_SYNC=1 UV_PROJECT_ENVIRONMENT=/opt/tk UV_CACHE_DIR={} /opt/tk/bin/uv \"$@\"\n",
            s.path().join("uv-cache").display()
        ),
    );
    std::fs::set_permissions(&uv, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = output(
        "--uv",
        ours_inside(&s, &cwd, Some(&bin)).args(args("22")).args([
            "--registry-path",
            "workers",
            "--uv",
        ]),
    );
    assert_eq!(stdout(&out), "value: 7\n");
    // Run by uv: one-shot (`uv`) or served by a warm process (`uv-warm`).
    assert!(
        debug(22).contains("\"tierkreis-rs:uv\"") || debug(22).contains("\"tierkreis-rs:uv-warm\""),
        "{}",
        debug(22)
    );
}

// ---------------------------------------------------------------- -g

fn loads_compile_simulate() {
    let s = Scratch::new();
    let mut write = Command::new("bash");
    write
        .arg(run_sh())
        .args(["--", "python", "-c"])
        .arg(
            "import json\nfrom pytket import Circuit\nc = Circuit(2).H(0).CX(0, 1).measure_all()\n\
             json.dump({'simulator_name': 'aer', 'circuits': [c.to_dict()], 'n_shots': [20], \
             'compilation_optimisation_level': 0}, open('sim.json', 'w'))",
        )
        .current_dir(s.path());
    output("write the circuit", &mut write);
    let out = ours_inside(&s, s.path(), None)
        .args([
            "run",
            "--run-id",
            "30",
            "-g",
            "tierkreis.graphs.simulate.compile_simulate:compile_simulate",
            "-i",
            "sim.json",
            "-o",
            "--json",
            "-q",
        ])
        .output()
        .expect("run");
    let aer = reference_root().join("opt/tk/bin/tkr-aer-worker");
    if aer.exists() {
        // With the published quantum workers it runs to the end.
        expect_code(&out, 0);
        let got = tierkreis_core::json::parse(&out.stdout).expect("json");
        let Value::Map(m) = got else {
            panic!("not a map")
        };
        let Some(Value::Map(outputs)) = m.get("outputs") else {
            panic!("no outputs: {}", stdout(&out))
        };
        let Some(Value::List(results)) = outputs.get("value") else {
            panic!("no value list: {}", stdout(&out))
        };
        assert_eq!(results.len(), 1);
        let text = tierkreis_core::json::to_string_compact(&results[0]);
        assert!(text.contains("\"shots\""), "{text}");
    } else {
        // Without them the graph still loaded and ran up to the aer task,
        // which fails naming the missing worker.
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stdout(&out).contains("aer_worker"), "{}", stdout(&out));
    }
    // The loaded graph has the Workflow's inputs.
    let metadata = s.workflow(30).join("-.N-1/outputs");
    let mut ports: Vec<String> = std::fs::read_dir(&metadata)
        .expect("inputs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ports.sort();
    assert_eq!(
        ports,
        [
            "body",
            "circuits",
            "compilation_optimisation_level",
            "n_shots",
            "simulator_name"
        ]
    );
}

fn graph_mistakes() {
    let s = Scratch::new();
    s.write(
        "mistakes.py",
        "x = 5\n\ndef needs(a):\n    return a\n\ndef gives_int():\n    return 3\n",
    );
    s.write("boom.py", "raise RuntimeError('oops')\n");
    let cases: [(&str, &[&str]); 7] = [
        (
            "mistakes.py:x",
            &[
                "mistakes.py",
                "x is a builtins.int",
                "not a GraphData, Graph or Workflow",
            ],
        ),
        (
            "mistakes.py:needs",
            &[
                "mistakes.py",
                "calling needs() failed",
                "takes no arguments",
            ],
        ),
        (
            "mistakes.py:gives_int",
            &["mistakes.py", "gives_int() returned a builtins.int"],
        ),
        (
            "mistakes.py:nothing",
            &["module mistakes.py has no 'nothing'"],
        ),
        (
            "boom.py:x",
            &["importing boom.py raised RuntimeError: oops", "boom.py:1"],
        ),
        ("no_such.module:g", &["no module 'no_such.module'"]),
        (
            "tierkreis.graphs.fold:fold_graph",
            &["tierkreis.graphs.fold", "calling fold_graph() failed"],
        ),
    ];
    for (location, wanted) in cases {
        let out = ours_inside(&s, s.path(), None)
            .args(["run", "--storage", "memory", "-i", "None", "-g", location])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{location}: {}", stderr(&out));
        let text = stderr(&out);
        assert_eq!(text.lines().count(), 1, "{location}: not one line:\n{text}");
        assert!(!text.contains("Traceback"), "{text}");
        assert!(
            text.starts_with(&format!("error: -g {location}: ")),
            "{text}"
        );
        for w in wanted {
            assert!(text.contains(w), "{location}: no {w:?} in {text}");
        }
    }
}

// ---------------------------------------------------------------- init

fn init_project_and_worker() {
    let s = Scratch::new();
    let project = init_project(&s);
    for file in [
        "tkr/graphs/main.py",
        "workflow_inputs.json",
        "tkr/workers/example_worker/pyproject.toml",
        "tkr/workers/example_worker/api/pyproject.toml",
        "tkr/workers/example_worker/api/api.py",
        "tkr/workers/example_worker/tkr_example_worker_impl/impl.py",
        "tkr/workers/example_worker/tkr_example_worker_impl/main.py",
    ] {
        assert!(project.join(file).is_file(), "no {file}");
    }
    // The project's own graph runs with the reference's defaults: no -g, no -i.
    let out = output(
        "tkr run -o",
        ours_inside(&s, &project, None).args(["run", "-o", "--run-id", "40"]),
    );
    assert_eq!(stdout(&out), "value: 1\n");

    // A new worker, found from inside the project, with a task of its own.
    output(
        "tkr init worker -n W",
        s.tkr().current_dir(project.join("tkr/graphs")).args([
            "init",
            "worker",
            "-n",
            "tenfold-plus",
        ]),
    );
    let worker = project.join("tkr/workers/tenfold_plus");
    let impl_py = worker.join("tkr_tenfold_plus_impl/impl.py");
    let text = std::fs::read_to_string(&impl_py).expect("impl.py");
    std::fs::write(
        &impl_py,
        text.replace("return value\n", "return value * 10 + 1\n"),
    )
    .expect("write");
    s.write(
        "project/tkr/graphs/tenfold.py",
        "import sys\nfrom pathlib import Path\n\nfrom tierkreis.builder import Graph\nfrom tierkreis.models import TKR\n\n\
         sys.path.insert(0, str(Path(__file__).resolve().parent.parent / \"workers\"))\n\
         from tenfold_plus import your_worker_task  # noqa: E402\n\n\n\
         def graph_data():\n    g = Graph(TKR[int], TKR[int])\n    return g.finish_with_outputs(g.task(your_worker_task(g.inputs))).data\n",
    );
    s.write("project/four", "4");
    let args = |id: u128| -> Vec<String> {
        [
            "run",
            "-g",
            "tkr/graphs/tenfold.py:graph_data",
            "-i",
            "value:four",
            "--registry-path",
            "tkr/workers",
            "-o",
            "--run-id",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([id.to_string()])
        .collect()
    };
    let out = output("ours", ours_inside(&s, &project, None).args(args(41)));
    assert_eq!(stdout(&out), "value: 41\n");
    assert_eq!(outputs_in(&s.workflow(41)), value(r#"{"value": 41}"#));

    let run = ReferenceRun::new();
    let out = output("reference", reference_tkr(&project).args(args(run.id)));
    assert_eq!(stdout(&out), "value: 41\n");
    assert_eq!(outputs_in(&run.folder()), value(r#"{"value": 41}"#));
    let logs = std::fs::read_to_string(run.folder().join("-.N1/logs")).unwrap_or_default();
    assert!(!run.folder().join("-.N1/_error").exists(), "{logs}");

    // The project's example graph runs under the reference too.
    let run = ReferenceRun::new();
    let out = output(
        "reference, project graph",
        reference_tkr(&project).args([
            "run",
            "-g",
            "tkr/graphs/main.py:graph_data",
            "--registry-path",
            "tkr/workers",
            "-o",
            "--run-id",
            &run.id.to_string(),
        ]),
    );
    assert_eq!(stdout(&out), "value: 1\n");

    // A second worker of the same name is refused; the first is kept.
    let out = s
        .tkr()
        .current_dir(&project)
        .args(["init", "worker", "-n", "tenfold_plus"])
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&impl_py)
        .expect("kept")
        .contains("* 10 + 1"));
}

fn init_stubs() {
    let s = Scratch::new();
    let project = init_project(&s);
    output(
        "init worker --external",
        s.tkr()
            .current_dir(&project)
            .args(["init", "worker", "-n", "outside", "--external"]),
    );
    let impl_py = project.join("tkr/workers/example_worker/tkr_example_worker_impl/impl.py");
    let mut text = std::fs::read_to_string(&impl_py).expect("impl.py");
    text.push_str("\n\n@worker.task()\ndef shout(text: str) -> str:\n    return text.upper()\n");
    std::fs::write(&impl_py, text).expect("write");
    // No network and no uv: the reference's Python generates them.
    output(
        "tkr init stubs",
        ours_inside(&s, &project, None).args(["init", "stubs"]),
    );
    let api = std::fs::read_to_string(project.join("tkr/workers/example_worker/api/api.py"))
        .expect("api");
    assert!(api.contains("class shout(NamedTuple)"), "{api}");
    assert!(api.contains("class your_worker_task(NamedTuple)"), "{api}");
    let outside =
        std::fs::read_to_string(project.join("tkr/workers/outside/api/api.py")).expect("api");
    assert!(
        outside.contains("class your_function(NamedTuple)"),
        "{outside}"
    );
    // Without a Python that has tierkreis, the error names the interpreter.
    let out = s
        .tkr()
        .current_dir(&project)
        .args(["init", "stubs", "--python", "/nonexistent/python"])
        .output()
        .expect("stubs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/python"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------- vis

/// `GET path` from `addr`, the body.
fn http_get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{path}: {head}"
    );
    body.to_string()
}

/// Starts `cmd` (a `tkr vis ...`) and waits for its "serving DIR on
/// http://ADDR/PAGE" line; returns the group, DIR, ADDR and PAGE.
fn start_vis(s: &Scratch, cmd: Command) -> (Group, PathBuf, String, String) {
    let err = s.path().join(format!("vis-{}.err", uuid::Uuid::new_v4()));
    let mut group = Group::spawn(cmd, err.clone());
    let mut found = None;
    wait_until(
        "the server to start",
        std::time::Duration::from_secs(60),
        &mut group,
        || {
            let text = std::fs::read_to_string(&err).unwrap_or_default();
            found = text.lines().find_map(|l| {
                let rest = l.strip_prefix("serving ")?;
                let (dir, url) = rest.split_once(" on http://")?;
                Some((dir.to_string(), url.to_string()))
            });
            found.is_some()
        },
    );
    let (dir, url) = found.expect("serving line");
    let url = url.trim_end_matches(" (Ctrl-C to stop)");
    let (addr, page) = url.split_once('/').expect("address/page");
    (
        group,
        PathBuf::from(dir),
        addr.to_string(),
        page.to_string(),
    )
}

fn vis_graph() {
    let s = Scratch::new();
    let mut cmd = ours_inside(&s, s.path(), None);
    cmd.args([
        "vis",
        "--graph",
        "tierkreis.graphs.simulate.compile_simulate:compile_simulate",
        "--port",
        "0",
    ]);
    let (mut group, folder, addr, page) = start_vis(&s, cmd);
    let id = page
        .strip_prefix("#/w/")
        .expect("workflow page")
        .to_string();
    let summary = http_get(&addr, &format!("/api/workflows/{id}"));
    assert!(summary.contains("\"status\":\"not started\""), "{summary}");
    assert!(
        summary.contains("compile_simulate (graph only, not run)"),
        "{summary}"
    );
    let scope = http_get(&addr, &format!("/api/workflows/{id}/nodes/-"));
    for port in ["simulator_name", "circuits", "n_shots"] {
        assert!(scope.contains(port), "no input {port} in {scope}");
    }
    assert!(scope.contains("\"node_type\":\"map\""), "{scope}");
    assert!(!scope.contains("\"Finished\""), "{scope}");
    assert!(http_get(&addr, "/").contains("<html"));
    // The graph lives in a private folder that Ctrl-C removes.
    assert!(folder.join(&id).is_dir(), "{}", folder.display());
    group.interrupt();
    assert_eq!(group.wait_exit(std::time::Duration::from_secs(60)), Some(0));
    assert!(!folder.exists(), "{} left behind", folder.display());
}

fn vis_dev() {
    let s = Scratch::new();
    let mut cmd = s.tkr();
    cmd.args(["vis", "--dev", "--port", "0", "--checkpoints"])
        .arg(s.tkr_dir());
    let (_group, _folder, addr, page) = start_vis(&s, cmd);
    assert_eq!(page, "");
    assert_eq!(http_get(&addr, "/api/workflows"), "[]");
    // --dev and --graph together are refused, as by the reference.
    let out = s
        .tkr()
        .args(["vis", "--dev", "--graph", "g.py:g"])
        .output()
        .expect("vis");
    assert_eq!(out.status.code(), Some(2));
}
