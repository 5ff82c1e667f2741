//! External workers through the real `tkr` binary: shell, Python, binary and
//! stdin/stdout workers as real processes, their failures, timeouts, the
//! concurrency limit, discovery errors, and Ctrl-C followed by resume.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tierkreis_test_support::graphs::one_task_graph;

/// A graph of four independent `task` nodes, outputs `a`..`d`.
fn four_tasks_graph(task: &str) -> String {
    let f = |_| {
        format!(
            r#"{{"type": "function", "function_name": "{task}", "inputs": {{"x": [0, "value"]}}, "outputs": {{"value": [5]}}}}"#
        )
    };
    let fs: Vec<String> = (0..4).map(f).collect();
    format!(
        r#"{{"nodes": [
        {{"type": "const", "value": 1, "inputs": {{}}, "outputs": {{"value": [1, 2, 3, 4]}}}},
        {},
        {{"type": "output", "inputs": {{"a": [1, "value"], "b": [2, "value"], "c": [3, "value"], "d": [4, "value"]}}, "outputs": {{}}}}
      ], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 5, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
        fs.join(",\n")
    )
}

/// Writes an executable file.
fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    ck: PathBuf,
    reg: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_path_buf();
    Env {
        ck: root.join("ck"),
        reg: root.join("reg"),
        root,
        _tmp: tmp,
    }
}

impl Env {
    /// `tkr run` of `graph` as run `id`, with the registry, in the temp folder
    /// (so no stray `tkr.toml` is read).
    fn run(&self, id: u128, graph: &str, extra: &[&str]) -> Output {
        let g = write(&self.root, &format!("graph{id}.json"), graph);
        self.cmd(id, &g, extra).output().expect("run tkr")
    }

    fn cmd(&self, id: u128, graph: &Path, extra: &[&str]) -> Command {
        let mut c = tkr(&self.ck);
        c.current_dir(&self.root)
            .args(["run", "-o", "--run-id", &id.to_string(), "--registry"])
            .arg(&self.reg)
            .args(extra)
            .arg("-f")
            .arg(graph);
        c
    }

    fn wf(&self, id: u128) -> PathBuf {
        self.ck.join(run_uuid(id))
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn shell_worker_gets_the_reference_environment_and_its_output_is_logged() {
    let e = env();
    script(
        &e.reg.join("adder/main.sh"),
        r#"set -e
for v in "$TKR_DIR" "$checkpoints_directory" "$output_dir"; do test -d "$v"; done
test -f "$worker_call_args_file"
test -f "$TKR_DIR/$1"
case "$done_path" in /*/-.N1/_done) ;; *) exit 8 ;; esac
case "$error_path" in /*/-.N1/logs) ;; *) exit 9 ;; esac
test -f "$logs_path"
x=$(cat "$input_x_file")
echo $((x + 1)) > "$output_value_file"
echo "hello from stdout"
echo "note on stderr" >&2
"#,
    );
    let out = e.run(1, &one_task_graph("adder.add_one", "41"), &[]);
    expect_code(&out, 0);
    assert_eq!(stdout(&out), "value: 42\n");
    let wf = e.wf(1);
    assert!(wf.join("-.N1/_done").exists());
    let node_log = read(&wf.join("-.N1/logs"));
    assert!(
        node_log.contains("hello from stdout\n") && node_log.contains("note on stderr\n"),
        "{node_log}"
    );
    let wf_log = read(&wf.join("logs"));
    assert!(wf_log.contains("[-.N1] hello from stdout"), "{wf_log}");
    let debug = read(&wf.join("debug/executors/-.N1"));
    assert!(
        debug.contains("tierkreis-rs:shell") && debug.contains("main.sh"),
        "{debug}"
    );
}

#[test]
fn python_worker_with_only_the_stdlib_runs_in_its_folder_and_reports_errors() {
    let e = env();
    script(
        &e.reg.join("pyw/main.py"),
        r#"import json, os, sys
from pathlib import Path
tkr = Path(os.environ["TKR_DIR"])
args = json.loads((tkr / sys.argv[1]).read_text())
print("cwd", os.getcwd())
if args["function_name"] != "double":
    (tkr / args["error_path"]).write_text("no function " + args["function_name"])
    sys.exit(1)
x = json.loads((tkr / args["inputs"]["x"]).read_text())
(tkr / args["outputs"]["value"]).write_text(json.dumps(x * 2))
(tkr / args["done_path"]).touch()
"#,
    );
    let out = e.run(2, &one_task_graph("pyw.double", "21"), &[]);
    expect_code(&out, 0);
    assert_eq!(stdout(&out), "value: 42\n");
    let log = read(&e.wf(2).join("-.N1/logs"));
    let dir = std::fs::canonicalize(e.reg.join("pyw")).expect("canonical");
    assert!(log.contains(&format!("cwd {}", dir.display())), "{log}");
    assert!(read(&e.wf(2).join("debug/executors/-.N1")).contains("tierkreis-rs:python"));

    let out = e.run(3, &one_task_graph("pyw.triple", "1"), &[]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("no function triple") && err.contains("exited with status 1"),
        "{err}"
    );
    assert!(e.wf(3).join("-.N1/_error").exists());
}

#[test]
fn binary_on_path_gets_the_call_args_path_and_marks_done_itself() {
    let e = env();
    let bin = e.root.join("bin");
    script(
        &bin.join("tkr-foo"),
        r#"#!/bin/sh
test -f "$TKR_DIR/$1" || exit 7
cat "$input_x_file" > "$output_value_file"
touch "$done_path"
"#,
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let g = write(&e.root, "g.json", &one_task_graph("foo.echo", r#""hi""#));
    let out = e.cmd(4, &g, &[]).env("PATH", path).output().expect("tkr");
    expect_code(&out, 0);
    assert_eq!(stdout(&out), "value: \"hi\"\n");
    let debug = read(&e.wf(4).join("debug/executors/-.N1"));
    assert!(
        debug.contains("tierkreis-rs:binary") && debug.contains("tkr-foo"),
        "{debug}"
    );
}

#[test]
fn binary_that_exits_zero_without_marking_done_fails() {
    let e = env();
    script(&e.reg.join("lazy/main"), "#!/bin/sh\nexit 0\n");
    let out = e.run(5, &one_task_graph("lazy.f", "1"), &[]);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("exited without marking done or error"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stdio_worker_reads_the_input_on_stdin_and_writes_the_output_on_stdout() {
    let e = env();
    script(
        &e.reg.join("upper/main.sh"),
        "tr a-z A-Z\necho 'to stderr' >&2\n",
    );
    let config = write(&e.root, "exec.toml", "[workers.upper]\nkind = \"stdio\"\n");
    let out = e.run(
        6,
        &one_task_graph("upper.shout", r#""abc""#),
        &["--config", config.to_str().expect("utf8")],
    );
    expect_code(&out, 0);
    assert_eq!(stdout(&out), "value: \"ABC\"\n");
    assert!(read(&e.wf(6).join("-.N1/logs")).contains("to stderr"));
}

#[test]
fn nonzero_exit_without_markers_reports_status_and_stderr_tail() {
    let e = env();
    script(
        &e.reg.join("bad/main.sh"),
        "for i in $(seq 1 30); do echo \"line $i\" >&2; done\necho 'bad thing happened' >&2\nexit 3\n",
    );
    let out = e.run(7, &one_task_graph("bad.f", "1"), &[]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("-.N1") && err.contains("bad.f"), "{err}");
    assert!(err.contains("exited with status 3"), "{err}");
    assert!(err.contains("bad thing happened"), "{err}");
    let wf = e.wf(7);
    assert!(wf.join("-.N1/_error").exists() && !wf.join("-.N1/_done").exists());
    // The log holds the output once, then the controller's summary.
    let log = read(&wf.join("-.N1/logs"));
    assert_eq!(log.matches("line 30\n").count(), 1, "{log}");
    let summary = log.lines().last().unwrap_or_default();
    assert!(summary.contains("exited with status 3"), "{log}");
}

#[test]
fn worker_killed_by_a_signal_is_reported_with_the_signal() {
    let e = env();
    script(
        &e.reg.join("dies/main.sh"),
        "echo dying >&2\nkill -KILL $$\n",
    );
    let out = e.run(8, &one_task_graph("dies.f", "1"), &[]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("killed by signal 9 (SIGKILL)") && err.contains("dying"),
        "{err}"
    );
    assert!(e.wf(8).join("-.N1/_error").exists());
}

#[test]
fn a_task_over_its_timeout_is_stopped_and_fails() {
    let e = env();
    let pidfile = e.root.join("sleep.pid");
    script(
        &e.reg.join("slow/main.sh"),
        &format!("sleep 60 &\necho $! > {}\nwait\n", pidfile.display()),
    );
    let out = e.run(
        9,
        &one_task_graph("slow.f", "1"),
        &["--task-timeout", "0.5"],
    );
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("timed out after 0.5s"), "{err}");
    assert!(e.wf(9).join("-.N1/_error").exists());
    let pid = read(&pidfile);
    assert!(
        !alive(pid.trim()),
        "the worker's child {pid} outlived the timeout"
    );
}

#[test]
fn the_jobs_limit_bounds_concurrent_workers() {
    let e = env();
    let shared = e.root.join("shared");
    std::fs::create_dir_all(shared.join("running")).expect("mkdir");
    script(
        &e.reg.join("nap/main.sh"),
        r#"touch "$SHARED/running/$$"
ls "$SHARED/running" | wc -l >> "$SHARED/counts"
sleep 1
rm "$SHARED/running/$$"
echo 1 > "$output_value_file"
"#,
    );
    let g = write(&e.root, "g.json", &four_tasks_graph("nap.f"));
    let out = e
        .cmd(10, &g, &["--jobs", "2"])
        .env("SHARED", &shared)
        .output()
        .expect("tkr");
    expect_code(&out, 0);
    let counts: Vec<u32> = read(&shared.join("counts"))
        .lines()
        .map(|l| l.trim().parse().expect("count"))
        .collect();
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert_eq!(counts.iter().max(), Some(&2), "{counts:?}");
}

#[test]
fn an_unknown_worker_fails_naming_every_place_searched() {
    let e = env();
    let reg2 = e.root.join("reg2");
    let config = write(
        &e.root,
        "tkr.toml",
        &format!("registries = [{:?}]\n", reg2.display().to_string()),
    );
    let out = e.run(11, &one_task_graph("ghost.f", "1"), &[]);
    expect_code(&out, 1);
    let err = stderr(&out);
    for p in [
        e.reg.join("ghost/main.sh"),
        e.reg.join("ghost/main.py"),
        e.reg.join("ghost/main"),
        e.reg.join("ghost/ghost"),
        reg2.join("ghost/main.sh"),
    ] {
        assert!(
            err.contains(&p.display().to_string()),
            "{} missing in {err}",
            p.display()
        );
    }
    assert!(err.contains("tkr-ghost") && err.contains("PATH"), "{err}");
    drop(config);
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z")
        }
    }
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn interrupt_then_resume(signal: &str, id: u128) {
    let e = env();
    let shared = e.root.join("shared");
    std::fs::create_dir_all(&shared).expect("mkdir");
    script(
        &e.reg.join("slow/main.sh"),
        r#"echo $$ > "$SHARED/pid.tmp"; mv "$SHARED/pid.tmp" "$SHARED/pid"
if [ ! -e "$SHARED/resumed" ]; then
  touch "$SHARED/resumed"
  sleep 60 &
  echo $! > "$SHARED/sleep.tmp"; mv "$SHARED/sleep.tmp" "$SHARED/sleep.pid"
  wait
fi
echo '"finished"' > "$output_value_file"
"#,
    );
    let g = write(&e.root, "g.json", &one_task_graph("slow.f", "1"));
    let child = e
        .cmd(id, &g, &[])
        .env("SHARED", &shared)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tkr");
    wait_for(&shared.join("sleep.pid"));
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait tkr");
    expect_code(&out, 130);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("tkr resume {}", run_uuid(id))),
        "{err}"
    );
    for f in ["pid", "sleep.pid"] {
        let pid = read(&shared.join(f));
        assert!(
            !alive(pid.trim()),
            "worker process {pid} ({f}) survived the interrupt"
        );
    }
    let wf = e.wf(id);
    assert!(!wf.join("-.N1/_error").exists() && !wf.join("-.N1/_done").exists());
    assert!(!wf.join("-/_error").exists());
    // The interrupted task is marked not started, so that any controller
    // (the reference's too) runs it again on resume.
    assert!(!wf.join("-.N1/nodedef").exists());

    let out = tkr(&e.ck)
        .current_dir(&e.root)
        .env("SHARED", &shared)
        .args(["resume", "-o", "--registry"])
        .arg(&e.reg)
        .arg(run_uuid(id))
        .output()
        .expect("resume");
    expect_code(&out, 0);
    assert_eq!(stdout(&out), "value: \"finished\"\n");
}

#[test]
fn ctrl_c_stops_workers_exits_130_and_resume_finishes() {
    interrupt_then_resume("-INT", 12);
}

#[test]
fn sigterm_stops_workers_exits_130_and_resume_finishes() {
    interrupt_then_resume("-TERM", 13);
}
