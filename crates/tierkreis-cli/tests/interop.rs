//! Interop with the real Python reference (tierkreis 2.1.1): each side reads,
//! resumes and finishes checkpoint folders the other one wrote.
//!
//! Trials are reported ignored when the reference environment is missing and
//! `CI` is unset; with `CI` set they fail instead, saying what is missing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::reference::*;
use common::{expect_code, fixtures, input_args, outputs_of_report, run_uuid};
use tierkreis_core::Value;
use tierkreis_test_support::graphs::{slow_loop_graph, DIVIDE_BY_ZERO_GRAPH};

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        ("python_reads_our_outputs", python_reads_our_outputs),
        (
            "we_resume_a_run_the_python_controller_started::loop",
            we_resume_python_loop,
        ),
        (
            "we_resume_a_run_the_python_controller_started::map",
            we_resume_python_map,
        ),
        (
            "python_resumes_a_run_we_started",
            python_resumes_a_run_we_started,
        ),
        (
            "our_workflow_metadata_reads_like_the_references",
            our_workflow_metadata_reads_like_the_references,
        ),
        (
            "tkr_run_loads_a_python_graph_with_g",
            tkr_run_loads_a_python_graph_with_g,
        ),
        (
            "ls_and_the_web_api_agree_on_every_status",
            ls_and_the_web_api_agree_on_every_status,
        ),
        (
            "python_tierkreis_worker_runs_under_tkr::plain_interpreter",
            python_worker_plain_interpreter,
        ),
        (
            "python_tierkreis_worker_runs_under_tkr::uv",
            python_worker_uv,
        ),
        (
            "an_optional_input_left_out_runs_as_under_the_reference",
            an_optional_input_left_out_runs_as_under_the_reference,
        ),
    ];
    common::run_trials_needing(availability().err(), trials);
}

fn case(name: &str) -> std::path::PathBuf {
    fixtures().join("conformance").join(name)
}

/// `tkr run -g FILE.py:NAME` with the reference's Python as the loader: the
/// graph object in a Python file runs like its JSON.
fn tkr_run_loads_a_python_graph_with_g() {
    let s = Scratch::new();
    let c = case("typed_map");
    let json = s.copy_in(&c.join("graph.json"), "graph.json");
    let py = s.write(
        "graphs.py",
        &format!(
            "import json\nfrom tierkreis.controller.data.graph import GraphData\n\n\ndef workflow():\n    return GraphData(**json.load(open({:?})))\n",
            json.display().to_string()
        ),
    );
    let wrapper = s.write(
        "python.sh",
        &format!(
            "#!/bin/sh\nexec bash {} -- /opt/tk/bin/python \"$@\"\n",
            run_sh().display()
        ),
    );
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let got = tkr_outputs(
        "tkr run -g",
        s.tkr()
            .current_dir(s.path())
            .args(["run", "--storage", "memory", "--python"])
            .arg(&wrapper)
            .arg("-g")
            .arg(format!("{}:workflow", py.display()))
            .args(input_args(&c)),
    );
    assert_eq!(got, expected_outputs(&c));

    // A port the Python graph does not have is refused, named, before running.
    let typo = s.write("typo.json", "1");
    let out = s
        .tkr()
        .current_dir(s.path())
        .args(["run", "--storage", "memory", "--python"])
        .arg(&wrapper)
        .arg("-g")
        .arg(format!("{}:workflow", py.display()))
        .args(input_args(&c))
        .arg("-i")
        .arg(format!("no_such_port:{}", typo.display()))
        .output()
        .expect("run tkr");
    expect_code(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"no input port(s) "no_such_port"; its inputs are: "#),
        "{stderr}"
    );
}

/// `tkr run` of conformance `case` as workflow `id`, to completion.
fn tkr_run_case(s: &Scratch, case: &Path, id: u128) {
    let out = s
        .tkr()
        .args(["run", "-q", "--run-id", &id.to_string(), "-f"])
        .arg(case.join("graph.json"))
        .args(input_args(case))
        .output()
        .expect("run tkr");
    expect_code(&out, 0);
}

/// `tkr ... -o --json` printed `{port: value}`.
fn tkr_outputs(what: &str, cmd: &mut std::process::Command) -> Value {
    let out = cmd.args(["-o", "--json", "-q"]).output().expect("run tkr");
    outputs_of_report(
        json_lines(what, &out)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{what}: no output")),
    )
}

fn python_reads_our_outputs() {
    let s = Scratch::new();
    let names = [
        "typed_map",
        "simple_map",
        "loop_multiple_acc",
        "typed_eval",
        "factorial_5_bytes_input",
        "simple_eagerifelse",
    ];
    let mut args = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id = i as u128 + 1;
        tkr_run_case(&s, &case(name), id);
        let graph = s.copy_in(&case(name).join("graph.json"), &format!("{name}.json"));
        args.push(format!("{id}:{}", graph.display()));
    }
    let mut cmd = s.python(std::iter::once("read".to_string()).chain(args));
    let got = json_lines("python read_outputs", &cmd.output().expect("python"));
    assert_eq!(got.len(), names.len());
    for (name, got) in names.iter().zip(got) {
        assert_eq!(
            got,
            expected_outputs(&case(name)),
            "{name}: read_outputs in the reference"
        );
    }
}

/// Starts the reference controller on conformance `name`, SIGKILLs it once
/// `kill_after` of its tasks have finished, lets its detached builtin
/// workers finish, then resumes with `tkr resume` and checks the outputs and
/// that nothing the reference finished was run again.
fn we_resume_a_python_run(name: &str, kill_after: usize) {
    let s = Scratch::new();
    let case = case(name);
    let graph = s.copy_in(&case.join("graph.json"), "graph.json");
    let mut inputs = Vec::new();
    for e in std::fs::read_dir(case.join("inputs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let port = e.file_name().to_string_lossy().into_owned();
        let copy = s.copy_in(&e.path(), &format!("input-{port}"));
        inputs.push(format!("{port}:{}", copy.display()));
    }
    let id = 21;
    let wf = s.workflow(id);
    let mut cmd = s.python([
        "run".to_string(),
        id.to_string(),
        graph.display().to_string(),
    ]);
    cmd.args(&inputs);
    let mut python = Group::spawn(cmd, s.path().join("python.stderr"));
    wait_until(
        &format!("{kill_after} tasks finished"),
        Duration::from_secs(60),
        &mut python,
        || finished_tasks(&wf) >= kill_after,
    );
    python.kill();
    s.wait_for_workers(Duration::from_secs(30));
    assert!(
        !wf.join("-/_done").exists(),
        "the reference finished before it was killed"
    );
    let before = done_markers(&wf);

    let got = tkr_outputs(
        "tkr resume",
        s.tkr().args(["resume", "--run-id", &id.to_string()]),
    );
    assert_eq!(
        got,
        expected_outputs(&case),
        "{name}: outputs after resuming the reference's run"
    );
    let after = done_markers(&wf);
    for (loc, t) in &before {
        assert_eq!(
            after.get(loc),
            Some(t),
            "{loc}, finished by the reference, was run again"
        );
    }
    assert!(after.len() > before.len(), "the resume finished nothing");
    // Every task finished.
    let unfinished: Vec<String> = function_nodes(&wf)
        .into_iter()
        .filter(|(_, d)| !d)
        .map(|(l, _)| l)
        .collect();
    assert!(
        unfinished.is_empty(),
        "tasks left unfinished: {unfinished:?}"
    );
}

fn we_resume_python_loop() {
    // simple_loop: 4 iterations of two tasks each.
    we_resume_a_python_run("simple_loop", 3);
}

fn we_resume_python_map() {
    // simple_map: an unfold, 21 elements of two tasks each, a fold.
    we_resume_a_python_run("simple_map", 3);
}

/// Our controller runs builtins in-process, so SIGKILL ends the tasks it had
/// started too; the reference's resume never re-launches a started task (its
/// builtins are detached processes that outlive the controller), so it would
/// wait for them for ever. The trial first checks the reference sees exactly
/// those tasks as in flight, then marks them not started the way the
/// reference's `restart_task` does (deleting `nodedef`; `restart_task` itself
/// cannot be used on an unfinished run: it reads the `nodedef` of every
/// downstream node), and lets `resume_graph` finish the run.
fn python_resumes_a_run_we_started() {
    let s = Scratch::new();
    let graph = s.write("slow.json", &slow_loop_graph(5, 1.0));
    let want = tkr_outputs(
        "tkr run in memory",
        s.tkr()
            .args(["run", "--storage", "memory", "-f"])
            .arg(&graph),
    );
    let id = 31;
    let wf = s.workflow(id);
    let mut cmd = s.tkr();
    cmd.args(["run", "-q", "--run-id", &id.to_string(), "-f"])
        .arg(&graph);
    let mut ours = Group::spawn(cmd, s.path().join("tkr.stderr"));
    // Killed while iteration 2 sleeps: its other nodes take microseconds,
    // the sleep a second. Killed at a random point instead (say right after
    // iteration 1), the controller may be between an input node's nodedef
    // and its `_done`, and the reference's walk never finishes a started
    // input node (`walk_node`: `case "input"` returns nothing to do), for
    // its own runs as for ours; `tkr resume` does.
    wait_until(
        "iteration 2's sleep started",
        Duration::from_secs(60),
        &mut ours,
        || wf.join("-.N4.L2.N6/nodedef").exists(),
    );
    std::thread::sleep(Duration::from_millis(100));
    ours.kill();
    assert!(
        !wf.join("-/_done").exists(),
        "our run finished before it was killed"
    );
    let in_flight: BTreeSet<String> = function_nodes(&wf)
        .into_iter()
        .filter(|(_, done)| !done)
        .map(|(l, _)| l)
        .collect();
    assert!(
        in_flight.contains("-.N4.L2.N6"),
        "the sleep of iteration 2 was not in flight: {in_flight:?}"
    );

    let walk = json_lines(
        "python walk_node",
        &s.python(["walk", &id.to_string()])
            .output()
            .expect("python"),
    );
    let started: BTreeSet<String> = walk[0]
        .as_map()
        .and_then(|m| m.get("started"))
        .and_then(Value::as_list)
        .expect("started")
        .iter()
        .map(|v| v.as_str().expect("loc").to_string())
        .collect();
    assert_eq!(
        started, in_flight,
        "tasks the reference sees as running vs. tasks we left unfinished"
    );

    for loc in &in_flight {
        std::fs::remove_file(wf.join(loc).join("nodedef")).expect("un-start task");
    }
    let before = done_markers(&wf);
    let out = s
        .python(["resume", &id.to_string(), "40"])
        .output()
        .expect("python");
    let got = json_lines("python resume_graph", &out);
    assert_eq!(
        got,
        vec![want.clone()],
        "outputs after the reference resumed our run"
    );
    let after = done_markers(&wf);
    for (loc, t) in &before {
        assert_eq!(
            after.get(loc),
            Some(t),
            "{loc}, finished by us, was run again by the reference"
        );
    }
    // And we read the run the reference finished.
    let again = tkr_outputs(
        "tkr resume",
        s.tkr().args(["resume", "--run-id", &id.to_string()]),
    );
    assert_eq!(again, want);
    assert_eq!(
        done_markers(&wf),
        after,
        "tkr resume of a finished run changed it"
    );
}

/// The workflow metadata files as a reference reader sees them, for the
/// same case run by the reference and by us.
fn our_workflow_metadata_reads_like_the_references() {
    let s = Scratch::new();
    let case = case("simple_eval");
    let graph = s.copy_in(&case.join("graph.json"), "graph.json");
    let out = s
        .python(["run", "1", &graph.display().to_string()])
        .output()
        .expect("python");
    json_lines("python run_graph", &out);
    // The reference runs with an empty environment (`env -i` in run.sh).
    let mut ours = s.tkr();
    for var in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        ours.env_remove(var);
    }
    let out = ours
        .args(["run", "-q", "--run-id", "2", "-f"])
        .arg(case.join("graph.json"))
        .output()
        .expect("tkr");
    expect_code(&out, 0);
    let shapes = json_lines(
        "python metadata",
        &s.python(["metadata", "1"]).output().expect("python"),
    )
    .into_iter()
    .chain(json_lines(
        "python metadata",
        &s.python(["metadata", "2"]).output().expect("python"),
    ))
    .collect::<Vec<_>>();
    let (reference, ours) = (&shapes[0], &shapes[1]);
    let mut differences = Vec::new();
    for (file, want) in reference.as_map().expect("reference shape") {
        let got = ours.as_map().and_then(|m| m.get(file));
        match (want.as_map(), got.and_then(Value::as_map)) {
            (Some(want), Some(got)) => {
                for (field, w) in want {
                    let g = got.get(field);
                    if g != Some(w) {
                        differences
                            .push(format!("{file} {field}: ours {g:?}, the reference's {w:?}"));
                    }
                }
            }
            _ if got == Some(want) => {}
            _ => differences.push(format!("{file}: ours {got:?}, the reference's {want:?}")),
        }
    }
    assert!(
        differences.is_empty(),
        "workflow metadata as the reference reads it differs (ours: workflow {}):\n{}",
        run_uuid(2),
        differences.join("\n")
    );
}

/// The reference's hello-world worker, written with the Python `tierkreis`
/// package.
const HELLO_WORKER_PY: &str = r#"from sys import argv

from tierkreis import Worker

worker = Worker("hello_world_worker")


@worker.task()
def greet(greeting: str, subject: str) -> str:
    return greeting + subject


if __name__ == "__main__":
    worker.app(argv)
"#;

/// `hello_world_worker.greet` on a constant greeting (node 0) and the graph
/// input `subject` (node 1); the task is node 2, its `value` the output.
const HELLO_GRAPH: &str = r#"{"nodes": [
  {"type": "const", "value": "Hello ", "inputs": {}, "outputs": {"value": [2]}},
  {"type": "input", "name": "subject", "inputs": {}, "outputs": {"subject": [2]}},
  {"type": "function", "function_name": "hello_world_worker.greet",
   "inputs": {"greeting": [0, "value"], "subject": [1, "subject"]}, "outputs": {"value": [3]}},
  {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": ["subject"], "graph_output_idx": 3,
   "named_nodes": {}, "node_metadata": {}}"#;

/// Writes an executable script `name` into the scratch folder.
fn executable(s: &Scratch, name: &str, text: &str) -> std::path::PathBuf {
    let path = s.write(name, text);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    path
}

/// A registry folder in the scratch holding `hello_world_worker/main.py`
/// (and `pyproject.toml` when given); returns the registry.
fn hello_registry(s: &Scratch, pyproject: Option<&str>) -> std::path::PathBuf {
    let reg = s.path().join("registry");
    let dir = reg.join("hello_world_worker");
    std::fs::create_dir_all(&dir).expect("registry folder");
    std::fs::write(dir.join("main.py"), HELLO_WORKER_PY).expect("main.py");
    if let Some(text) = pyproject {
        std::fs::write(dir.join("pyproject.toml"), text).expect("pyproject.toml");
    }
    reg
}

/// Runs [`HELLO_GRAPH`] with `tkr run OPTIONS` (`cmd` is `tkr`) as workflow 1
/// and checks what the Python worker did: the output is `greeting +
/// subject`, the task's node is done, and its log has the worker's own
/// "running" line; returns the node's debug record of how it was started.
fn run_hello(s: &Scratch, mut cmd: std::process::Command, options: &[&std::ffi::OsStr]) -> String {
    let graph = s.write("hello.json", HELLO_GRAPH);
    let inputs = s.write("inputs.json", r#"{"subject": "world"}"#);
    let got = tkr_outputs(
        "tkr run hello_world_worker.greet",
        cmd.current_dir(s.path())
            .args(["run", "--run-id", "1"])
            .args(options)
            .arg("-f")
            .arg(&graph)
            .arg("-i")
            .arg(&inputs),
    );
    let expected = Value::Map(
        [(
            "value".to_string(),
            Value::from("Hello ".to_string() + "world"),
        )]
        .into_iter()
        .collect(),
    );
    let wf = s.workflow(1);
    let logs = std::fs::read_to_string(wf.join("-.N2/logs")).unwrap_or_default();
    assert_eq!(got, expected, "node logs:\n{logs}");
    assert!(
        wf.join("-.N2/_done").is_file(),
        "no -.N2/_done; logs:\n{logs}"
    );
    assert!(!wf.join("-.N2/_error").exists(), "{logs}");
    assert!(
        logs.contains("running: greet in hello_world_worker"),
        "the Python worker did not log its run:\n{logs}"
    );
    std::fs::read_to_string(wf.join("debug/executors/-.N2")).unwrap_or_default()
}

/// A `tierkreis` worker in a registry folder, without `pyproject.toml`, runs
/// with the interpreter configured in `tkr.toml` (the reference's Python,
/// through a wrapper).
fn python_worker_plain_interpreter() {
    let s = Scratch::new();
    let reg = hello_registry(&s, None);
    let wrapper = executable(
        &s,
        "python.sh",
        &format!(
            "#!/bin/sh\nexec bash {} -- /opt/tk/bin/python \"$@\"\n",
            run_sh().display()
        ),
    );
    let config = s.write(
        "tkr.toml",
        &format!(
            "[workers.hello_world_worker]\npython = {:?}\n",
            wrapper.display().to_string()
        ),
    );
    let options = [
        "--config".as_ref(),
        config.as_os_str(),
        "--registry".as_ref(),
        reg.as_os_str(),
    ];
    let debug = run_hello(&s, s.tkr(), &options);
    assert!(
        debug.contains("\"tierkreis-rs:python-warm\""),
        "not run as kind python (warm):\n{debug}"
    );
}

/// The same worker with a `pyproject.toml` runs with `uv run main.py` when
/// `uv` is on `PATH`. The `uv` found is a shim for the reference's uv, told
/// to use the reference's environment (which has `tierkreis`) as the
/// project's, offline and without syncing it.
fn python_worker_uv() {
    let s = Scratch::new();
    let reg = hello_registry(
        &s,
        Some("[project]\nname = \"hello-world-worker\"\nversion = \"0.1.0\"\nrequires-python = \">=3.12\"\ndependencies = []\n"),
    );
    let bin = s.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    executable(
        &s,
        "bin/uv",
        &format!(
            "#!/bin/sh\nexec bash {} -- /usr/bin/env UV_OFFLINE=1 UV_NO_SYNC=1 \
             UV_PROJECT_ENVIRONMENT=/opt/tk UV_CACHE_DIR={} /opt/tk/bin/uv \"$@\"\n",
            run_sh().display(),
            s.path().join("uv-cache").display()
        ),
    );
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let mut cmd = s.tkr();
    cmd.env("PATH", path);
    // No `python` is configured; the debug record below says uv ran it.
    let debug = run_hello(&s, cmd, &["--registry".as_ref(), reg.as_os_str()]);
    assert!(
        debug.contains("\"tierkreis-rs:uv-warm\""),
        "not run as kind uv (warm):\n{debug}"
    );
}

/// `tkr ls` and `tkr serve`'s API read one status function, so they agree
/// on the same folders: a finished, a failed, a running, an interrupted run
/// of ours, and a run the reference made.
fn ls_and_the_web_api_agree_on_every_status() {
    use std::io::{Read, Write};
    let s = Scratch::new();
    tkr_run_case(&s, &case("simple_eval"), 1);
    let divide = s.write("divide.json", DIVIDE_BY_ZERO_GRAPH);
    let out = s
        .tkr()
        .args(["run", "-q", "--run-id", "2", "-f"])
        .arg(&divide)
        .output()
        .expect("tkr");
    expect_code(&out, 1);
    let slow = s.write("slow.json", &slow_loop_graph(100_000, 0.05));
    // Interrupted: killed once an iteration is done.
    let mut killed = Group::spawn(
        {
            let mut c = s.tkr();
            c.args(["run", "-q", "--run-id", "3", "-f"]).arg(&slow);
            c
        },
        s.path().join("killed.err"),
    );
    let first = s.workflow(3).join("-.N4.L1/_done");
    wait_until(
        "run 3 to loop",
        Duration::from_secs(60),
        &mut killed,
        || first.exists(),
    );
    killed.kill();
    // Running: left running while both are asked.
    let mut running = Group::spawn(
        {
            let mut c = s.tkr();
            c.args(["run", "-q", "--run-id", "4", "-f"]).arg(&slow);
            c
        },
        s.path().join("running.err"),
    );
    let first = s.workflow(4).join("-.N4.L1/_done");
    wait_until(
        "run 4 to loop",
        Duration::from_secs(60),
        &mut running,
        || first.exists(),
    );
    // Made by the reference, to the end.
    let graph = s.copy_in(&case("simple_eval").join("graph.json"), "ref.json");
    let out = s
        .python(["run", "5", &graph.display().to_string()])
        .output()
        .expect("python");
    json_lines("python run_graph", &out);

    let want: Vec<(String, &str)> = vec![
        (run_uuid(1), "finished"),
        (run_uuid(2), "failed"),
        (run_uuid(3), "interrupted"),
        (run_uuid(4), "running"),
        (run_uuid(5), "finished"),
    ];
    let statuses = |list: &Value| -> Vec<(String, String)> {
        let Value::List(items) = list else {
            panic!("a list expected: {list:?}")
        };
        let mut got: Vec<(String, String)> = items
            .iter()
            .map(|w| {
                let Value::Map(m) = w else { panic!("{w:?}") };
                let text = |k: &str| match m.get(k) {
                    Some(Value::Str(t)) => t.clone(),
                    other => panic!("{k}: {other:?}"),
                };
                (text("id"), text("status"))
            })
            .collect();
        got.sort();
        got
    };
    let want: Vec<(String, String)> = want
        .into_iter()
        .map(|(id, st)| (id, st.to_owned()))
        .collect();
    let out = s.tkr().args(["ls", "--json"]).output().expect("ls");
    expect_code(&out, 0);
    let ls = tierkreis_core::json::parse(&out.stdout).expect("tkr ls --json");
    assert_eq!(statuses(&ls), want, "tkr ls");

    let serve_err = s.path().join("serve.err");
    let mut server = Group::spawn(
        {
            let mut c = s.tkr();
            c.args(["serve", "--port", "0"]);
            c
        },
        serve_err.clone(),
    );
    let mut port = 0u16;
    wait_until(
        "tkr serve to listen",
        Duration::from_secs(30),
        &mut server,
        || {
            let text = std::fs::read_to_string(&serve_err).unwrap_or_default();
            if let Some(p) = text
                .split("http://127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .and_then(|p| p.parse().ok())
            {
                port = p;
            }
            port != 0
        },
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET /api/workflows/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let api = tierkreis_core::json::parse(&response[split + 4..]).expect("API JSON");
    assert_eq!(statuses(&api), want, "the web API");
    server.kill();
    running.kill();
}

/// Builds, with the reference's own builder, the pattern of upstream's
/// `examples/defaults.py`: a workflow input declared optional
/// (`TKR[int] | None = None`) passed to a task whose parameter has a
/// default (`builtins.tkr_range`'s `step`); writes the graph JSON to argv[1].
const OPTIONAL_INPUT_GRAPH_PY: &str = r#"
import sys
from typing import NamedTuple

from tierkreis.builder import Graph
from tierkreis.builtins.stubs import tkr_range
from tierkreis.controller.data.models import TKR


class Inputs(NamedTuple):
    start: TKR[int]
    stop: TKR[int]
    step: TKR[int] | None = None


class Outputs(NamedTuple):
    value: TKR[list[int]]


g = Graph(Inputs, Outputs)
r = g.task(tkr_range(start=g.inputs.start, stop=g.inputs.stop, step=g.inputs.step))
workflow = g.finish_with_outputs(Outputs(value=r))
with open(sys.argv[1], "w") as fh:
    fh.write(workflow.data.model_dump_json())
"#;

/// An optional input left out: the reference runs the graph, the task
/// using its default; `tkr run` does the same (it refused before running).
/// A required input left out fails under both, at the task, naming it.
fn an_optional_input_left_out_runs_as_under_the_reference() {
    let s = Scratch::new();
    let build = s.write("build_graph.py", OPTIONAL_INPUT_GRAPH_PY);
    let graph = s.path().join("graph.json");
    let out = std::process::Command::new("bash")
        .arg(run_sh())
        .args(["--", "/opt/tk/bin/python"])
        .arg(&build)
        .arg(&graph)
        .current_dir(s.path())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "the reference's builder failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = s.write("start.bin", "2");
    let stop = s.write("stop.bin", "7");
    let port = |name: &str, file: &Path| format!("{name}:{}", file.display());

    let reference = s
        .python([
            "run".to_string(),
            "1".to_string(),
            graph.display().to_string(),
            port("start", &start),
            port("stop", &stop),
        ])
        .output()
        .expect("python");
    let expected = json_lines("the reference's run_graph", &reference)
        .pop()
        .expect("the reference's outputs");
    assert_eq!(
        expected,
        Value::Map(
            [(
                "value".to_string(),
                Value::List((2..7).map(Value::int).collect())
            )]
            .into_iter()
            .collect()
        )
    );
    let got = tkr_outputs(
        "tkr run without the optional input",
        s.tkr()
            .args(["run", "--run-id", "2", "-f"])
            .arg(&graph)
            .arg("-i")
            .arg(port("start", &start))
            .arg("-i")
            .arg(port("stop", &stop)),
    );
    assert_eq!(got, expected);

    // `stop` has no default: the reference's task fails, and so does ours.
    let reference = s
        .python([
            "run".to_string(),
            "3".to_string(),
            graph.display().to_string(),
            port("start", &start),
        ])
        .output()
        .expect("python");
    assert!(
        !reference.status.success(),
        "the reference ran without stop"
    );
    let reference_log =
        std::fs::read_to_string(s.workflow(3).join("-.N3/logs")).unwrap_or_default();
    assert!(reference_log.contains("stop"), "{reference_log}");
    let out = s
        .tkr()
        .args(["run", "--run-id", "4", "-f"])
        .arg(&graph)
        .arg("-i")
        .arg(port("start", &start))
        .output()
        .expect("tkr");
    expect_code(&out, 1);
    let error = std::fs::read_to_string(s.workflow(4).join("-.N3/logs")).unwrap_or_default();
    assert!(
        error.contains("'stop'"),
        "the error does not name stop: {error}"
    );
}
