//! Drives the real Python reference (tierkreis 2.1.1, in the chroot made by
//! `../shared/reference/setup.sh`) from the interop tests: a scratch folder
//! under `/tmp` (the only path both sides see), a Python driver script in it,
//! and process guards that never leave a controller or worker running.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tierkreis_core::Value;

/// `run.sh` of the reference environment, which runs a command inside it
/// (found by [`tierkreis_test_support::reference_run_sh`]).
pub fn run_sh() -> PathBuf {
    tierkreis_test_support::reference_run_sh()
}

/// The reference environment's root ([`tierkreis_test_support::reference_root`]).
pub fn reference_root() -> PathBuf {
    tierkreis_test_support::reference_root()
}

/// `Ok` when the reference environment can be used, else why not
/// ([`tierkreis_test_support::reference_availability`]).
pub fn availability() -> Result<(), String> {
    tierkreis_test_support::reference_availability().map(|_| ())
}

/// The Python side of the interop tests: small commands over the reference's
/// own public functions (`run_graph`, `resume_graph`, `read_outputs`,
/// `walk_node`, `ControllerFileStorage`), each printing JSON on stdout.
pub const DRIVER_PY: &str = r#"
"""Drives the reference tierkreis 2.1.1 for the Rust interop tests."""
import json
import sys
from datetime import datetime
from pathlib import Path
from uuid import UUID

from tierkreis.controller import resume_graph, run_graph
from tierkreis.controller.data.graph import GraphData
from tierkreis.controller.data.location import Loc
from tierkreis.controller.data.types import TierkreisEncoder, ptype_from_bytes
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.data import WorkflowMetaData
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.controller.storage.walk import walk_node
from tierkreis.storage import read_outputs

POLL = 0.01


def storage(tkr_dir, run_id):
    return ControllerFileStorage(UUID(int=int(run_id)), tierkreis_directory=Path(tkr_dir))


def stored_graph(st):
    # Exactly how resume_graph reads the workflow's graph.
    return ptype_from_bytes(st.read_output(Loc().N(-1), "body"), GraphData)


def outputs_json(graph, st):
    out = read_outputs(graph, st)
    if list(graph.nodes[graph.output_idx()].inputs.keys()) == ["value"]:
        out = {"value": out}
    return json.dumps(out, cls=TierkreisEncoder)


def load_graph(path):
    with open(path) as fh:
        return GraphData(**json.load(fh))


def executor(st):
    # What tierkreis.cli.run_workflow uses without the uv executor; builtins
    # are spawned by the controller itself (controller.start.run_builtin).
    return ShellExecutor(None, st.workflow_dir)


def metadata_shape(st):
    def parse(path):
        text = path.read_bytes()
        if text == b"":
            return "<empty>"
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return "<not json>"

    def has_offset(t):
        return None if t is None else datetime.fromisoformat(t).tzinfo is not None

    shape = {}
    for label, path in [("_metadata", st.workflow_dir / "_metadata"),
                        ("-/_metadata", st.workflow_dir / "-" / "_metadata")]:
        data = parse(path)
        if not isinstance(data, dict):
            shape[label] = data
            continue
        entry = {"keys": sorted(data)}
        for key in ("start_time", "completion_time"):
            entry[key + " has a UTC offset"] = has_offset(data.get(key))
        try:
            WorkflowMetaData(**data).duration
            entry["WorkflowMetaData.duration"] = "ok"
        except Exception as e:  # what a reader of this file would hit
            entry["WorkflowMetaData.duration"] = f"{type(e).__name__}: {e}"
        entry["user_id"] = data.get("user_id")
        shape[label] = entry
    return shape


def main():
    tkr_dir, cmd, *rest = sys.argv[1:]
    if cmd == "read":
        # read ID:GRAPH...: the outputs of each workflow, with the graph as we stored it.
        for arg in rest:
            run_id, graph_file = arg.split(":", 1)
            st = storage(tkr_dir, run_id)
            graph = stored_graph(st)
            if graph != load_graph(graph_file):
                sys.exit(f"workflow {run_id}: the stored body differs from {graph_file}")
            print(outputs_json(graph, st))
    elif cmd == "run":
        # run ID GRAPH [PORT:FILE]...
        run_id, graph_file, *inputs = rest
        st = storage(tkr_dir, run_id)
        graph = load_graph(graph_file)
        ins = {}
        for arg in inputs:
            port, path = arg.split(":", 1)
            ins[port] = ptype_from_bytes(Path(path).read_bytes())
        run_graph(st, executor(st), graph, ins, polling_interval_seconds=POLL)
        print(outputs_json(graph, st))
    elif cmd == "resume":
        # resume ID SECONDS: resume_graph for at most about SECONDS.
        run_id, seconds = rest
        st = storage(tkr_dir, run_id)
        n = int(float(seconds) / POLL)
        resume_graph(st, executor(st), n_iterations=n, polling_interval_seconds=POLL)
        if not st.is_node_finished(Loc()):
            sys.exit(f"resume_graph gave up after {n} iterations: the workflow did not finish")
        print(outputs_json(stored_graph(st), st))
    elif cmd == "walk":
        # walk ID: what the controller's next step would see.
        (run_id,) = rest
        st = storage(tkr_dir, run_id)
        graph = stored_graph(st)
        r = walk_node(st, Loc(), graph.output_idx(), graph)
        print(json.dumps({
            "inputs_ready": sorted(str(x.node_location) for x in r.inputs_ready),
            "started": sorted(str(x) for x in r.started),
            "errored": sorted(str(x) for x in r.errored),
        }))
    elif cmd == "metadata":
        # metadata ID: how a reference reader sees the workflow's metadata files.
        (run_id,) = rest
        print(json.dumps(metadata_shape(storage(tkr_dir, run_id)), sort_keys=True))
    else:
        sys.exit(f"unknown command {cmd}")


main()
"#;

/// A scratch folder under `/tmp` holding the driver script and a checkpoint
/// folder (`TKR_DIR`). Dropping it kills every process still working for it
/// (Python builtin workers run in sessions of their own, so they outlive a
/// killed controller) and then removes it.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("tkr-interop-")
            .tempdir_in("/tmp")
            .expect("scratch dir under /tmp");
        std::fs::write(dir.path().join("driver.py"), DRIVER_PY).expect("write driver.py");
        Scratch { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The checkpoint folder both controllers use.
    pub fn tkr_dir(&self) -> PathBuf {
        self.dir.path().join("checkpoints")
    }

    /// The workflow folder of run `n`.
    pub fn workflow(&self, n: u128) -> PathBuf {
        self.tkr_dir().join(super::run_uuid(n))
    }

    /// Copies `file` into the scratch folder (the reference cannot see
    /// /work) as `name`, returning the copy's path.
    pub fn copy_in(&self, file: &Path, name: &str) -> PathBuf {
        let to = self.path().join(name);
        std::fs::copy(file, &to).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
        to
    }

    /// Writes `text` into the scratch folder as `name`.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let to = self.path().join(name);
        std::fs::File::create(&to)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write");
        to
    }

    /// `tkr` with this scratch's checkpoint folder.
    pub fn tkr(&self) -> Command {
        super::tkr(&self.tkr_dir())
    }

    /// `tkr` run inside the reference environment (its `python3` has
    /// `tierkreis`, and the published workers are on its `PATH`), in this
    /// scratch folder, with its checkpoint folder and the variables `env`
    /// (`NAME=value`) set; the caller adds `tkr`'s arguments.
    pub fn tkr_in_reference(&self, env: &[String]) -> Command {
        let bin = Path::new(env!("CARGO_BIN_EXE_tkr"));
        let bin_folder = bin.parent().expect("bin folder");
        tierkreis_test_support::unmount_stale_reference_bind(bin_folder)
            .unwrap_or_else(|why| panic!("{why}"));
        let mut c = Command::new("bash");
        c.arg(run_sh())
            .arg("--bind")
            .arg(bin_folder)
            .arg("--")
            .arg("/usr/bin/env")
            .arg(format!("TKR_DIR={}", self.tkr_dir().display()))
            .args(env)
            .arg("RUST_LOG=")
            .arg(bin)
            .current_dir(self.path());
        c
    }

    /// A registry `registry/` in this scratch holding the Python worker
    /// `name` whose `main.py` is `main_py`; returns the registry folder.
    pub fn python_worker_registry(&self, name: &str, main_py: &str) -> PathBuf {
        let registry = self.path().join("registry");
        let dir = registry.join(name);
        std::fs::create_dir_all(&dir).expect("registry");
        std::fs::write(dir.join("main.py"), main_py).expect("main.py");
        registry
    }

    /// The driver script with `args` in the reference environment, with this
    /// scratch's checkpoint folder as `TKR_DIR` (workers read it).
    pub fn python<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new("bash");
        c.arg(run_sh())
            .args(["--", "python"])
            .arg(self.path().join("driver.py"))
            .arg(self.tkr_dir())
            .args(args)
            .env("TKR_DIR", self.tkr_dir())
            .current_dir(self.path());
        c
    }

    /// Processes (other than this one) whose environment names this
    /// scratch's checkpoint folder as `TKR_DIR`: controllers and workers.
    pub fn processes(&self) -> Vec<u32> {
        pids_with_env(&format!("TKR_DIR={}", self.tkr_dir().display()))
    }

    /// Waits until no process works on this scratch's checkpoints (the
    /// Python builtin workers a killed controller left running); kills what
    /// is left after `limit` and panics.
    pub fn wait_for_workers(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            let left = self.processes();
            if left.is_empty() {
                return;
            }
            if start.elapsed() > limit {
                left.iter().for_each(|p| kill_pid(*p));
                panic!(
                    "processes {left:?} still worked on {} after {limit:?}",
                    self.tkr_dir().display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for pid in self.processes() {
            kill_pid(pid);
        }
    }
}

/// A child running as the leader of its own process group; dropping it (or
/// [`Group::kill`]) SIGKILLs the whole group and reaps the child.
#[derive(Debug)]
pub struct Group {
    child: Child,
    stderr: PathBuf,
}

impl Group {
    /// Spawns `cmd` in a new process group, stdout discarded and stderr kept
    /// in `stderr` (for messages when it fails).
    pub fn spawn(mut cmd: Command, stderr: PathBuf) -> Group {
        let err = std::fs::File::create(&stderr).expect("stderr file");
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn");
        Group { child, stderr }
    }

    /// `Some(status text)` once the child has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "{status}; stderr:\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            )),
            Ok(None) => None,
            Err(e) => Some(format!("cannot wait: {e}")),
        }
    }

    /// SIGINT (Ctrl-C) to the child alone.
    pub fn interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits for the child to exit (killing it and panicking after `limit`);
    /// its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if start.elapsed() > limit {
                self.kill();
                panic!("the process did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL to the whole process group, then reap the child.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.child.try_wait().map(|s| s.is_none()).unwrap_or(true) {
            self.kill();
        }
    }
}

fn kill_pid(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Every process but this one whose environment holds `entry` (`KEY=value`).
pub fn pids_with_env(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == entry.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Polls `cond` every 10 ms until it holds; panics after `limit` or if
/// `group` exits first.
pub fn wait_until(what: &str, limit: Duration, group: &mut Group, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if let Some(status) = group.exited() {
            panic!("the controller exited before {what}: {status}");
        }
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every `_done` marker under the workflow folder `wf`, with its mtime.
pub fn done_markers(wf: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(wf).expect("workflow dir").flatten() {
        if let Ok(m) = std::fs::metadata(e.path().join("_done")) {
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                m.modified().expect("mtime"),
            );
        }
    }
    out
}

/// How many tasks of `wf` have finished: folders with worker call args
/// (`definition`) and `_done`. Reads no file, so it is safe to call while a
/// controller that writes in place (the reference) is running.
pub fn finished_tasks(wf: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(wf) else {
        return 0;
    };
    dir.flatten()
        .filter(|e| e.path().join("definition").exists() && e.path().join("_done").exists())
        .count()
}

/// Started function (task) nodes of `wf`, i.e. those whose `nodedef` says
/// `"type": "function"`, as (location, finished-or-failed).
pub fn function_nodes(wf: &Path) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(wf).expect("workflow dir").flatten() {
        let p = e.path();
        let Ok(def) = std::fs::read(p.join("nodedef")) else {
            continue;
        };
        let def = tierkreis_core::json::parse(&def)
            .unwrap_or_else(|err| panic!("{}/nodedef: {err}", p.display()));
        if def
            .as_map()
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str)
            == Some("function")
        {
            let over = p.join("_done").exists() || p.join("_error").exists();
            out.insert(e.file_name().to_string_lossy().into_owned(), over);
        }
    }
    out
}

/// The output's stdout as JSON values, one per line; panics with the whole
/// output unless it exited 0.
pub fn json_lines(what: &str, out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| {
            tierkreis_core::json::parse(l)
                .unwrap_or_else(|e| panic!("{what}: not JSON: {e}: {}", String::from_utf8_lossy(l)))
        })
        .collect()
}

/// A conformance case's expected outputs, port to value, from its
/// `expected/` folder.
pub fn expected_outputs(case: &Path) -> Value {
    values_in_folder(&case.join("expected"))
}

/// Every file of `dir` parsed as a value, keyed by its name (a port) in
/// name order: a node's `outputs/`, a case's `expected/`.
pub fn values_in_folder(dir: &Path) -> Value {
    let mut ports: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    ports.sort();
    Value::Map(
        ports
            .into_iter()
            .map(|p| {
                let port = p.file_name().expect("name").to_string_lossy().into_owned();
                let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                (port, Value::from_bytes(&bytes))
            })
            .collect(),
    )
}
