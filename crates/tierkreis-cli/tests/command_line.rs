//! The command line as a user meets it (issue 22): a run remembers how it
//! was started (resume, restart and the web view's Restart find its workers),
//! the hint after a failure works as printed, `--json` answers every error,
//! end times and durations of failed runs, `outputs --raw` and `logs` with
//! short locations, and what `tkr init` and `tkr --help` tell a new user.

mod common;

use std::io::{BufRead, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tierkreis_core::Value;

/// A scratch folder for runs of the worker `adder_for_tests` (a name no
/// program on PATH has).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ck(&self) -> PathBuf {
        self.path().join("ck")
    }

    /// A registry folder `name` holding worker `adder_for_tests`: its task
    /// `add` returns x + add,
    /// failing while the file `needs` (when given) does not exist.
    fn registry(&self, name: &str, add: i64, needs: Option<&Path>) -> PathBuf {
        let reg = self.path().join(name);
        std::fs::create_dir_all(reg.join("adder_for_tests")).expect("registry");
        let guard = needs
            .map(|p| {
                format!(
                    "if [ ! -e {} ]; then echo \"the file {} is missing\" >&2; exit 5; fi\n",
                    p.display(),
                    p.display()
                )
            })
            .unwrap_or_default();
        let script = reg.join("adder_for_tests/main.sh");
        std::fs::write(
            &script,
            format!(
                "{guard}x=$(cat \"$input_x_file\")\necho $((x + {add})) > \"$output_value_file\"\n"
            ),
        )
        .expect("worker");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        reg
    }

    fn graph(&self) -> PathBuf {
        write(
            self.path(),
            "graph.json",
            r#"{"nodes": [
        {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}},
        {"type": "function", "function_name": "adder_for_tests.add", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
        {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
      ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
        )
    }

    /// `tkr run --run-id ID [--registry REG] EXTRA... -f GRAPH` with
    /// [`Scratch::graph`], through [`Scratch::tkr`].
    fn run(&self, id: &str, registry: Option<&Path>, extra: &[&str]) -> Output {
        let graph = self.graph();
        let mut args = vec!["run", "--run-id", id];
        if let Some(reg) = registry {
            args.extend(["--registry", reg.to_str().expect("utf-8")]);
        }
        args.extend_from_slice(extra);
        args.extend(["-f", graph.to_str().expect("utf-8")]);
        self.tkr(&args)
    }

    /// `tkr ARGS` in a folder of its own (not where the run started).
    fn tkr(&self, args: &[&str]) -> Output {
        let elsewhere = self.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).expect("folder");
        tkr(&self.ck())
            .args(args)
            .current_dir(elsewhere)
            .output()
            .expect("run tkr")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command in backquotes in `hint` that starts with `start` (`tkr
/// restart `, `tkr resume `), as printed.
fn printed_command(hint: &str, start: &str) -> String {
    hint.split('`')
        .find(|part| part.starts_with(start))
        .unwrap_or_else(|| panic!("no `{start}...` in:\n{hint}"))
        .to_string()
}

/// Runs the words of `command` (a printed `tkr ...`) as [`Scratch::tkr`] does.
fn run_as_printed(s: &Scratch, command: &str) -> Output {
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    s.tkr(&words)
}

fn value_of_run(s: &Scratch, id: u128) -> String {
    std::fs::read_to_string(s.ck().join(run_uuid(id)).join("-/outputs/value"))
        .unwrap_or_else(|e| panic!("no output of run {id}: {e}"))
        .trim_end()
        .to_string()
}

#[test]
fn a_resume_after_a_pause_finds_the_workers_the_run_was_started_with() {
    let s = Scratch::new();
    let reg = s.registry("reg", 10, None);
    let out = s.run("1", Some(&reg), &["--break-at", "-.N1"]);
    expect_code(&out, 4);
    // No --registry: the run's own settings say where `w` is.
    let out = s.tkr(&["resume", &run_uuid(1), "-o"]);
    expect_code(&out, 0);
    assert_eq!(text(&out.stdout), "value: 11\n");
}

#[test]
fn the_restart_printed_after_a_failure_works_as_printed() {
    let s = Scratch::new();
    let fix = s.path().join("fixed");
    let reg = s.registry("reg", 10, Some(&fix));
    let out = s.run("2", Some(&reg), &[]);
    expect_code(&out, 1);
    let err = text(&out.stderr);
    let command = printed_command(&err, "tkr restart ");
    assert_eq!(
        command,
        format!("tkr restart {} -.N1", run_uuid(2)),
        "{err}"
    );
    std::fs::write(&fix, "").expect("fix the cause");
    let out = run_as_printed(&s, &command);
    expect_code(&out, 0);
    assert_eq!(value_of_run(&s, 2), "11");
}

/// A running `tkr serve`, stopped (SIGINT, then waited for) when dropped,
/// even when the test panics.
struct Served {
    child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid")),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = self.child.wait();
    }
}

/// `tkr serve ARGS` on a free port with checkpoints `ck` and the time zone
/// `tz`; returns the server and the `host:port` it serves.
fn serve(ck: &Path, tz: &str, args: &[&str]) -> (Served, String) {
    let mut child = tkr(ck)
        .env("TZ", tz)
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tkr serve");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("the serving line");
    let authority = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    (Served { child }, authority)
}

/// One HTTP request to the server at `authority`; the whole response.
fn http(authority: &str, method: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// Waits (at most a minute) for run `id` to finish; panics with its resume
/// log otherwise.
fn wait_finished(s: &Scratch, id: u128) {
    let wf = s.ck().join(run_uuid(id));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !wf.join("-/_done").exists() {
        assert!(
            Instant::now() < deadline,
            "run {id} did not finish; resume log:\n{}",
            std::fs::read_to_string(wf.join("debug/serve-resume.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_web_view_restart_runs_with_the_run_settings_or_those_given_to_serve() {
    let s = Scratch::new();
    let fix = s.path().join("fixed");
    let failing = s.registry("reg", 10, Some(&fix));
    for id in ["3", "4"] {
        let out = s.run(id, Some(&failing), &[]);
        expect_code(&out, 1);
    }
    std::fs::write(&fix, "").expect("fix the cause");
    // The run's own registry.
    let (served, authority) = serve(&s.ck(), "UTC", &[]);
    let restart = format!("/api/workflows/{}/nodes/-.N1/restart", run_uuid(3));
    let response = http(&authority, "POST", &restart);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    wait_finished(&s, 3);
    assert_eq!(value_of_run(&s, 3), "11");
    drop(served);
    // `tkr serve --registry` wins over the run's.
    let other = s.registry("other", 100, None);
    let (served, authority) = serve(
        &s.ck(),
        "UTC",
        &["--registry", other.to_str().expect("utf-8")],
    );
    let restart = format!("/api/workflows/{}/nodes/-.N1/restart", run_uuid(4));
    let response = http(&authority, "POST", &restart);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    wait_finished(&s, 4);
    assert_eq!(value_of_run(&s, 4), "101");
    drop(served);
}

/// The one JSON object on stdout of a command run with `--json`.
fn json_object(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected, got:\n{stdout}");
    let value = Value::from_bytes(lines[0].as_bytes());
    assert!(matches!(value, Value::Map(_)), "{stdout}");
    value
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    let Value::Map(m) = v else {
        panic!("not an object: {v:?}")
    };
    m.get(key).unwrap_or_else(|| panic!("no {key:?} in {v:?}"))
}

#[test]
fn json_prints_one_object_for_bad_usage_too() {
    let s = Scratch::new();
    let cycle = write(
        s.path(),
        "cycle.json",
        r#"{"nodes": [
        {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [1, "value"], "b": [1, "value"]}, "outputs": {"value": [1, 2]}},
        {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [0, "value"]}, "outputs": {"value": [0]}},
        {"type": "output", "inputs": {"value": [0, "value"]}, "outputs": {}}
      ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    );
    let graph = s.graph();
    let five = write(s.path(), "five.json", "5");
    let wrong_port = format!("nope:{}", five.display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", "--json", "-f", "/no/such/graph.json"],
        vec!["run", "--json", "-f", cycle.to_str().expect("utf-8")],
        vec![
            "run",
            "--json",
            "-f",
            graph.to_str().expect("utf-8"),
            "-i",
            &wrong_port,
        ],
        vec!["resume", "--json", "no-such-run"],
    ];
    for args in cases {
        let out = s.tkr(&args);
        expect_code(&out, 2);
        let report = json_object(&out);
        assert_eq!(field(&report, "status"), &Value::from("error"), "{args:?}");
        let Value::Str(message) = field(&report, "message") else {
            panic!("no message text for {args:?}")
        };
        assert!(
            text(&out.stderr).contains(message.as_str()),
            "{args:?}: {message}"
        );
    }
}

#[test]
fn a_failed_run_has_an_end_after_its_start_in_the_same_clock_and_a_duration() {
    let s = Scratch::new();
    let graph = s.graph();
    // No registry: the worker is not found, the run fails. A zone far from UTC
    // shows times written in two different clocks.
    let run = tkr(&s.ck())
        .env("TZ", "JST-9")
        .args(["run", "--run-id", "5", "-f"])
        .arg(&graph)
        .output()
        .expect("tkr run");
    expect_code(&run, 1);
    let out = tkr(&s.ck())
        .env("TZ", "JST-9")
        .args(["ls", "--json"])
        .output()
        .expect("tkr ls");
    expect_code(&out, 0);
    let listed = Value::from_bytes(&out.stdout);
    let Value::List(runs) = listed else {
        panic!("ls --json lists")
    };
    let run = &runs[0];
    assert_eq!(field(run, "status"), &Value::from("failed"));
    let (Value::Str(start), Value::Str(end)) = (field(run, "start_time"), field(run, "end_time"))
    else {
        panic!("start and end times expected: {run:?}")
    };
    assert!(
        !end.contains("+00:00"),
        "{end} is in another clock than {start}"
    );
    assert!(end >= start, "end {end} before start {start}");
    assert!(
        matches!(field(run, "duration"), Value::Float(d) if *d >= 0.0 && *d < 60.0),
        "{run:?}"
    );
    let table = tkr(&s.ck())
        .env("TZ", "JST-9")
        .arg("ls")
        .output()
        .expect("tkr ls");
    let table = text(&table.stdout);
    let row = table
        .lines()
        .find(|l| l.contains("failed"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(!row.trim_end().ends_with(" -"), "no duration: {row}");
    // The web view's list says the same (a server in the same zone).
    let (served, authority) = serve(&s.ck(), "JST-9", &[]);
    let response = http(&authority, "GET", "/api/workflows");
    drop(served);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        body.contains(&format!("\"end_time\":\"{end}\"")),
        "{end} not in {body}"
    );
}

#[test]
fn outputs_raw_without_a_port_writes_the_one_output_and_logs_take_a_short_location() {
    let s = Scratch::new();
    let reg = s.registry("reg", 10, None);
    let out = s.run("6", Some(&reg), &[]);
    expect_code(&out, 0);
    let out = s.tkr(&["outputs", &run_uuid(6), "--raw"]);
    expect_code(&out, 0);
    assert_eq!(text(&out.stdout), "11\n", "the stored bytes, unchanged");
    std::fs::write(
        s.ck().join(run_uuid(6)).join("-.N1/logs"),
        "a line of the task\n",
    )
    .expect("log");
    let out = s.tkr(&["logs", &run_uuid(6), "N1"]);
    expect_code(&out, 0);
    assert!(
        text(&out.stdout).contains("a line of the task"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn tkr_errors_headlines_a_missing_worker() {
    let s = Scratch::new();
    let out = s.run("7", None, &[]);
    expect_code(&out, 1);
    let out = s.tkr(&["errors", &run_uuid(7)]);
    expect_code(&out, 0);
    let listing = text(&out.stdout);
    let headline = listing
        .lines()
        .find(|l| l.starts_with("-.N1 (adder_for_tests.add): "))
        .unwrap_or_else(|| panic!("{listing}"));
    assert_eq!(
        headline, "-.N1 (adder_for_tests.add): no worker \"adder_for_tests\" found",
        "{listing}"
    );
}

#[test]
fn the_readme_installs_tkr_with_the_locked_versions() {
    let readme =
        std::fs::read_to_string(tierkreis_test_support::workspace_root().join("README.md"))
            .expect("README.md");
    let installs: Vec<&str> = readme
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo install"))
        .collect();
    assert!(
        !installs.is_empty(),
        "the README no longer says how to install"
    );
    for line in installs {
        assert!(line.contains("--locked"), "not locked: {line}");
    }
}

#[test]
fn help_points_to_a_file_a_user_can_open() {
    let out = tkr(Path::new("/nonexistent"))
        .arg("--help")
        .output()
        .expect("tkr --help");
    expect_code(&out, 0);
    let help = text(&out.stdout);
    assert!(!help.contains("module docs"), "{help}");
    let named: Vec<&str> = help
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|w| w.starts_with("docs/") || *w == "README.md")
        .collect();
    assert!(!named.is_empty(), "--help names no file to read:\n{help}");
    for file in named {
        assert!(
            tierkreis_test_support::workspace_root()
                .join(file)
                .is_file(),
            "{file} does not exist"
        );
    }
}

#[test]
fn init_says_what_python_the_project_needs_and_how_to_call_a_new_worker() {
    let s = Scratch::new();
    let project = s.path().join("project");
    std::fs::create_dir_all(&project).expect("project folder");
    let out = tkr(&s.ck())
        .env("TKR_PYTHON", "/no/such/python3")
        .args(["init", "project"])
        .current_dir(&project)
        .output()
        .expect("tkr init project");
    expect_code(&out, 0);
    let said = text(&out.stderr);
    assert!(
        said.contains("`tierkreis` package") && said.contains("/no/such/python3 cannot import it"),
        "{said}"
    );
    assert!(said.contains("pip install tierkreis==2.1.1"), "{said}");
    let out = tkr(&s.ck())
        .args(["init", "worker", "-n", "calc"])
        .current_dir(&project)
        .output()
        .expect("tkr init worker");
    expect_code(&out, 0);
    let said = text(&out.stderr);
    assert!(said.contains("from calc import your_worker_task"), "{said}");
    assert!(
        said.contains("g.task(your_worker_task(g.inputs.value))"),
        "{said}"
    );
    // The stubs it names are where it says.
    assert!(
        project.join("tkr/workers/calc/api/api.py").is_file(),
        "no stubs at tkr/workers/calc/api/api.py"
    );
}

#[test]
fn the_resume_printed_after_ctrl_c_works_as_printed() {
    let s = Scratch::new();
    let started = s.path().join("started");
    let reg = s.registry("reg", 10, None);
    // The task says it started, then takes its time.
    let script = reg.join("adder_for_tests/main.sh");
    let body = std::fs::read_to_string(&script).expect("worker");
    std::fs::write(
        &script,
        format!("touch {}\nsleep 30\n{body}", started.display()),
    )
    .expect("worker");
    let graph = s.graph();
    let elsewhere = s.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("folder");
    let child = tkr(&s.ck())
        .args(["run", "--run-id", "8", "--registry"])
        .arg(&reg)
        .arg("-f")
        .arg(&graph)
        .current_dir(&elsewhere)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tkr run");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let command = printed_command(&err, "tkr resume ");
    // The worker is quick now.
    std::fs::write(&script, body).expect("worker");
    let out = run_as_printed(&s, &command);
    expect_code(&out, 0);
    assert_eq!(value_of_run(&s, 8), "11");
}
