//! What a new user trips on (issue 13): each test drives the real `tkr`
//! binary the way a first-time user would and checks the message they get.

mod common;

use common::*;
use tierkreis_test_support::graphs::DIVIDE_BY_ZERO_GRAPH;

/// The repository's example graphs.
fn example(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/graphs")
        .join(name)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_misspelt_input_port_beside_a_correct_one_is_refused_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let five = write(tmp.path(), "five.json", "5");
    let out = tkr(&tmp.path().join("ck"))
        .args(["run", "-f"])
        .arg(example("factorial.json"))
        .arg("-i")
        .arg(format!("value:{}", five.display()))
        .arg("-i")
        .arg(format!("valeu:{}", five.display()))
        .output()
        .expect("run tkr");
    expect_code(&out, 2);
    let err = stderr_of(&out);
    assert!(err.contains(r#"no input port(s) "valeu""#), "{err}");
    assert!(err.contains(r#"its inputs are: "value""#), "{err}");
    assert!(
        !tmp.path().join("ck").exists()
            || std::fs::read_dir(tmp.path().join("ck"))
                .expect("ck")
                .count()
                == 0,
        "nothing may be started"
    );
}

#[test]
fn a_misspelt_input_port_alone_is_named_not_reported_as_missing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let five = write(tmp.path(), "five.json", "5");
    let out = tkr(&tmp.path().join("ck"))
        .args(["run", "-f"])
        .arg(example("factorial.json"))
        .arg("-i")
        .arg(format!("vlaue:{}", five.display()))
        .output()
        .expect("run tkr");
    expect_code(&out, 2);
    let err = stderr_of(&out);
    assert!(err.contains(r#""vlaue""#), "{err}");
    assert!(err.contains(r#"its inputs are: "value""#), "{err}");
}

#[test]
fn an_unknown_entry_in_an_inputs_file_is_refused_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inputs = write(tmp.path(), "inputs.json", r#"{"value": 5, "extra": 1}"#);
    let out = tkr(&tmp.path().join("ck"))
        .args(["run", "-f"])
        .arg(example("factorial.json"))
        .arg("-i")
        .arg(&inputs)
        .output()
        .expect("run tkr");
    expect_code(&out, 2);
    let err = stderr_of(&out);
    assert!(err.contains(r#"no input port(s) "extra""#), "{err}");
    assert!(err.contains(r#"its inputs are: "value""#), "{err}");
}

/// N1 = iadd(1, N2) and N2 = iadd(N1, 1): each waits for the other.
const CYCLIC_GRAPH: &str = r#"{"nodes": [
  {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1, 2]}},
  {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [2, "value"]}, "outputs": {"value": [2, 3]}},
  {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [1, "value"], "b": [0, "value"]}, "outputs": {"value": [1]}},
  {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#;

#[test]
fn a_cyclic_graph_is_refused_before_running_naming_the_nodes_on_the_cycle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph = write(tmp.path(), "cyclic.json", CYCLIC_GRAPH);
    let ck = tmp.path().join("ck");
    let out = tkr(&ck)
        .args(["run", "--run-id", "3", "-f"])
        .arg(&graph)
        .output()
        .expect("run tkr");
    expect_code(&out, 2);
    let err = stderr_of(&out);
    assert!(err.contains("cycle"), "{err}");
    assert!(
        err.contains(
            "node 1 (function builtins.iadd) reads node 2 (function builtins.iadd), which reads node 1"
        ),
        "{err}"
    );
    assert!(
        !ck.join(run_uuid(3)).exists(),
        "a refused graph must leave no run behind"
    );
}

fn factorial(ck: &std::path::Path, id: &str, extra: &[&str]) -> std::process::Output {
    tkr(ck)
        .args(["run", "--run-id", id, "--name", "fact", "-f"])
        .arg(example("factorial.json"))
        .arg("-i")
        .arg(example("factorial_inputs.json"))
        .args(extra)
        .output()
        .expect("run tkr")
}

#[test]
fn json_without_outputs_prints_one_object_with_id_name_and_status() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = factorial(&tmp.path().join("ck"), "11", &["--json"]);
    expect_code(&out, 0);
    let v = tierkreis_core::json::parse(&out.stdout).expect("one JSON object");
    assert_eq!(
        tierkreis_core::json::to_string_compact(&v),
        format!(
            r#"{{"id": "{}", "name": "fact", "status": "finished"}}"#,
            run_uuid(11)
        )
    );
}

#[test]
fn json_with_outputs_nests_them_and_a_failure_still_names_the_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ck = tmp.path().join("ck");
    let out = factorial(&ck, "12", &["--json", "-o"]);
    expect_code(&out, 0);
    let v = tierkreis_core::json::parse(&out.stdout).expect("one JSON object");
    assert_eq!(
        outputs_of_report(v),
        tierkreis_core::json::parse(br#"{"value": 120}"#).expect("json")
    );

    let graph = write(tmp.path(), "div.json", DIVIDE_BY_ZERO_GRAPH);
    let out = tkr(&ck)
        .args(["run", "--run-id", "13", "--json", "-f"])
        .arg(&graph)
        .output()
        .expect("run tkr");
    expect_code(&out, 1);
    let v = tierkreis_core::json::parse(&out.stdout).expect("one JSON object");
    let text = tierkreis_core::json::to_string_compact(&v);
    assert!(
        text.starts_with(&format!(
            r#"{{"id": "{}", "name": null, "status": "failed", "errors": [{{"loc": "-.N2", "function": "builtins.idivide""#,
            run_uuid(13)
        )),
        "{text}"
    );
}

#[test]
fn quiet_prints_the_outputs_and_nothing_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = factorial(&tmp.path().join("ck"), "14", &["-q"]);
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 120\n");
    assert_eq!(stderr_of(&out), "");
}

/// Every task node under `wf` (those with a call-args `definition`), with
/// that file's modification time.
fn task_definitions(wf: &std::path::Path) -> Vec<(String, std::time::SystemTime)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(wf).expect("workflow dir").flatten() {
        let def = e.path().join("definition");
        if let Ok(m) = std::fs::metadata(&def) {
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                m.modified().expect("mtime"),
            ));
        }
    }
    out.sort();
    out
}

/// Restarting `-.N5.N6` (the multiplication one level down) of the
/// factorial runs that task and the one task that reads its result again,
/// and nothing else: the README's "exactly what depends on it". Every
/// task's call-args file is dated to 1970 first, so a task that ran again
/// is one whose file is newer, without any clock race.
#[test]
fn restarting_a_task_of_the_factorial_runs_again_only_the_tasks_that_depend_on_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ck = tmp.path().join("ck");
    let out = factorial(&ck, "21", &["-q"]);
    expect_code(&out, 0);
    let wf = ck.join(run_uuid(21));
    let epoch = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1);
    let before = task_definitions(&wf);
    // igt and iadd on 5 levels, itimes on the 4 that recurse.
    assert_eq!(before.len(), 13, "{before:?}");
    for (name, _) in &before {
        std::fs::File::options()
            .write(true)
            .open(wf.join(name).join("definition"))
            .expect("open definition")
            .set_modified(epoch)
            .expect("date it");
    }
    // Options after RUN and LOC are accepted.
    let out = tkr(&ck)
        .args(["restart", &run_uuid(21), "-.N5.N6", "-o"])
        .output()
        .expect("restart");
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 120\n");
    let ran_again: Vec<String> = task_definitions(&wf)
        .into_iter()
        .filter(|(_, t)| *t != epoch)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(ran_again, vec!["-.N5.N6", "-.N6"]);
}

#[test]
fn restarting_a_location_with_no_node_names_it_and_the_closest_tasks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ck = tmp.path().join("ck");
    expect_code(&factorial(&ck, "22", &["-q"]), 0);
    let out = tkr(&ck)
        .args(["restart", "--run-id", "22", "-.N5.N99"])
        .output()
        .expect("restart");
    expect_code(&out, 2);
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!(
            "error: no node at -.N5.N99 in workflow {}; the closest task nodes are: -.N5.N2, ",
            run_uuid(22)
        )),
        "{err}"
    );
    assert!(!err.contains(&ck.display().to_string()), "{err}");
}

#[test]
fn clean_without_a_run_says_to_name_one_or_give_all() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tkr(&tmp.path().join("ck"))
        .arg("clean")
        .output()
        .expect("clean");
    expect_code(&out, 2);
    let err = stderr_of(&out);
    assert!(err.contains("--all"), "{err}");
    assert!(err.contains("--run-id N"), "{err}");
}

#[test]
fn debug_logs_into_a_pipe_have_no_colour_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph = write(tmp.path(), "div.json", DIVIDE_BY_ZERO_GRAPH);
    let out = tkr(&tmp.path().join("ck"))
        .env("RUST_LOG", "debug")
        .args(["run", "--storage", "memory", "-q", "-f"])
        .arg(&graph)
        .output()
        .expect("run tkr");
    expect_code(&out, 1);
    let err = stderr_of(&out);
    assert!(err.contains("DEBUG"), "debug logs expected: {err}");
    assert!(!err.contains('\u{1b}'), "ANSI escape in a pipe: {err:?}");
}

#[test]
fn run_reports_the_same_node_count_as_ls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ck = tmp.path().join("ck");
    let out = factorial(&ck, "31", &[]);
    expect_code(&out, 0);
    let err = stderr_of(&out);
    let said: usize = err
        .split("finished: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no node count in {err:?}"));
    let out = tkr(&ck).args(["ls", "--json"]).output().expect("ls");
    expect_code(&out, 0);
    let listed = tierkreis_core::json::parse(&out.stdout).expect("json");
    let text = tierkreis_core::json::to_string_compact(&listed);
    assert!(
        text.contains(&format!(r#""nodes": {said},"#)),
        "{said} vs {text}"
    );
    assert_eq!(said, 43, "{err}");
}

/// `tkr serve --host localhost` (a host name, not only an IP) serves the
/// page to requests naming that host, and Ctrl-C stops it cleanly (exit 0).
#[test]
fn serve_accepts_a_host_name_and_stops_on_ctrl_c() {
    use std::io::{BufRead, Read, Write};
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = tkr(&tmp.path().join("ck"))
        .args(["serve", "--host", "localhost", "--port", "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tkr serve");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("the serving line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://localhost:"))
        .unwrap_or_else(|| panic!("no http://localhost: URL in {line:?}"))
        .to_owned();
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let port: u16 = authority
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET /api/workflows/ HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{status:?}");
}
