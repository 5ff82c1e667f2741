//! `tkr` against a real SLURM (`bash ../shared/slurm/start.sh`): tasks run as
//! one batch job each (`warm = false`; worker jobs are `worker_jobs.rs`), a
//! killed controller's jobs are followed by `tkr resume` instead of being
//! submitted again, and a cancelled job fails its node.
//!
//! Trials are reported ignored when `sinfo` does not answer and `CI` is
//! unset; with `CI` set they fail instead, saying what is missing.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::reference::run_sh;
use common::{expect_code, hello_worker, run_uuid, tkr};
use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, FileControllerStorage};
use tierkreis_test_support::graphs::{graph_of_nodes, TaskMap};
use tierkreis_test_support::waiting::wait_until;

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        (
            "a_map_of_rust_and_python_tasks_runs_as_jobs_and_resumes_without_resubmitting",
            map_as_jobs_killed_and_resumed,
        ),
        (
            "a_job_cancelled_with_scancel_fails_its_node",
            cancelled_job_fails_its_node,
        ),
        (
            "tkr_stop_cancels_the_runs_jobs",
            tkr_stop_cancels_the_runs_jobs,
        ),
        (
            "run_p_sets_the_batch_job_polling_interval",
            run_p_sets_the_batch_job_polling_interval,
        ),
        (
            "a_failed_job_is_retried_as_a_new_job_and_the_old_id_is_kept",
            failed_job_is_retried_as_a_new_job,
        ),
    ];
    let missing = common::slurm_availability()
        .and_then(|()| common::reference::availability())
        .err();
    common::run_trials_needing(missing, trials);
}

fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A worker written with the reference's Python `tierkreis` package:
/// `pyshout.shout(text) -> TEXT!`. It runs with the reference's Python
/// through [`python_wrapper`].
const PYSHOUT: &str = r#"from sys import argv

from tierkreis import Worker

worker = Worker("pyshout")


@worker.task()
def shout(text: str) -> str:
    return text.upper() + "!"


if __name__ == "__main__":
    worker.app(argv)
"#;

/// The interpreter `tkr.toml` gives `pyshout`: it prints the SLURM job id it
/// runs in (to the node's log), then runs the reference's Python inside the
/// reference environment (`run.sh` passes `TKR_DIR` and keeps the working
/// folder, which is under `/tmp`).
fn python_wrapper() -> String {
    format!(
        "#!/bin/sh\necho \"SLURM_JOB_ID=${{SLURM_JOB_ID:-none}}\"\nexec bash {} -- /opt/tk/bin/python \"$@\"\n",
        run_sh().display()
    )
}

/// A scratch folder under `/tmp` (jobs run on this host and see it), with
/// an `sbatch` on `bin/` that logs each call before running the real one.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tkr-slurm-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let real = which("sbatch");
        script(
            &dir.path().join("bin/sbatch"),
            &format!(
                "#!/bin/sh\necho \"$@\" >> {}\nexec {} \"$@\"\n",
                dir.path().join("sbatch.log").display(),
                real.display()
            ),
        );
        script(&dir.path().join("reg/pyshout/main.py"), PYSHOUT);
        script(&dir.path().join("python.sh"), &python_wrapper());
        Scratch { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ck(&self) -> PathBuf {
        self.path().join("ck")
    }

    fn tkr(&self) -> Command {
        let mut c = tkr(&self.ck());
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.path().join("bin")];
        dirs.extend(std::env::split_paths(&path));
        c.env("PATH", std::env::join_paths(dirs).expect("PATH"))
            .current_dir(self.path());
        c
    }

    fn sbatch_calls(&self) -> usize {
        std::fs::read_to_string(self.path().join("sbatch.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn storage(&self, id: u128) -> FileControllerStorage {
        FileControllerStorage::new(self.ck(), uuid::Uuid::from_u128(id), None)
    }
}

fn which(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// The job ids recorded in `debug/executors/<loc>`, by location.
fn recorded_jobs(st: &FileControllerStorage) -> BTreeMap<String, String> {
    let dir = st.debug_path().join("executors");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(loc) = name.parse::<Loc>() else {
            continue;
        };
        if let Some(id) = st.read_executor_data(&loc).ok().and_then(|d| d.job_id) {
            out.insert(name, id);
        }
    }
    out
}

/// `squeue`'s states of `ids` (finished jobs stay listed for `MinJobAge`).
fn squeue(ids: &[&String]) -> BTreeMap<String, String> {
    let list: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-o", "%i %T", "-j", &list.join(",")])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once(' ')?;
            Some((id.to_string(), state.to_string()))
        })
        .collect()
}

fn json_str(s: &str) -> String {
    format!("\"{s}\"")
}

fn subjects() -> Vec<String> {
    (0..20).map(|i| format!("s{i}")).collect()
}

fn words() -> Vec<String> {
    ["one", "two", "three", "four", "five"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// 20 `hello_world_worker.greet` tasks (the map `-.N3`) and 5
/// `pyshout.shout` tasks (the map `-.N8`).
fn graph() -> String {
    let quoted = |v: Vec<String>| v.iter().map(|s| json_str(s)).collect::<Vec<_>>();
    let (subjects, words) = (quoted(subjects()), quoted(words()));
    let greet = TaskMap {
        function: "hello_world_worker.greet",
        element_port: "subject",
        elements: &subjects,
        constants: &[("greeting", r#""hello ""#)],
    };
    let shout = TaskMap {
        function: "pyshout.shout",
        element_port: "text",
        elements: &words,
        constants: &[],
    };
    let mut nodes = greet.nodes(0, 10);
    nodes.extend(shout.nodes(5, 10));
    graph_of_nodes(nodes, &[("greetings", 4), ("shouts", 9)])
}

fn config(s: &Scratch, hello: &Path, setup: &str) -> PathBuf {
    let text = format!(
        r#"registries = ["reg"]

[hpc]
poll_secs = 0.3

[workers.hello_world_worker]
executor = "slurm"
warm = false
command = ["{}"]

[workers.hello_world_worker.job]
queue = "debug"
walltime = "00:05:00"
setup = ["{setup}"]

[workers.pyshout]
executor = "slurm"
warm = false
python = "{python}"

[workers.pyshout.job]
job_name = "tkr-pyshout"
setup = ["{setup}"]
"#,
        hello.display(),
        python = s.path().join("python.sh").display()
    );
    let p = s.path().join("tkr.toml");
    std::fs::write(&p, text).expect("write config");
    p
}

fn map_as_jobs_killed_and_resumed() {
    let hello = hello_worker();
    let s = Scratch::new();
    let cfg = config(&s, &hello, "sleep 1");
    let g = s.path().join("graph.json");
    std::fs::write(&g, graph()).expect("write graph");
    let id = 9001;
    let st = s.storage(id);

    let mut child = s
        .tkr()
        .args(["run", "-q", "--run-id", &id.to_string(), "-f"])
        .arg(&g)
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tkr");
    wait_until("25 recorded job ids", Duration::from_secs(60), || {
        recorded_jobs(&st).len() == 25
    });
    child.kill().expect("SIGKILL tkr");
    let _ = child.wait();
    let before = recorded_jobs(&st);
    assert_eq!(s.sbatch_calls(), 25);
    let ids: Vec<&String> = before.values().collect();
    let states = squeue(&ids);
    assert_eq!(states.len(), 25, "every job is known to SLURM: {states:?}");
    // Lose one job that has not started while no controller watches.
    let (lost_loc, lost_id) = before
        .iter()
        .rev()
        .find(|(_, id)| states.get(*id).is_some_and(|s| s == "PENDING"))
        .map(|(l, id)| (l.clone(), id.clone()))
        .expect("a pending job (each job takes over a second, two at a time)");
    let st_cancel = Command::new("scancel")
        .arg(&lost_id)
        .status()
        .expect("scancel");
    assert!(st_cancel.success());

    let out = s
        .tkr()
        .args(["resume", "-q", "--run-id", &id.to_string(), "--config"])
        .arg(&cfg)
        .output()
        .expect("tkr resume");
    expect_code(&out, 0);
    // Only the lost job was submitted again.
    assert_eq!(s.sbatch_calls(), 26);
    let after = recorded_jobs(&st);
    assert_eq!(after.len(), 25);
    for (loc, job) in &before {
        if *loc == lost_loc {
            assert_ne!(&after[loc], job, "{loc} was not resubmitted");
        } else {
            assert_eq!(&after[loc], job, "{loc} was resubmitted");
        }
    }
    let ids: Vec<&String> = after.values().collect();
    let states = squeue(&ids);
    assert_eq!(states.len(), 25, "{states:?}");
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");

    let root = Loc::root();
    let greetings =
        String::from_utf8(st.read_output(&root, "greetings").expect("greetings")).expect("utf-8");
    let want: Vec<String> = subjects()
        .iter()
        .map(|s| json_str(&format!("hello {s}")))
        .collect();
    assert_eq!(
        greetings.split_whitespace().collect::<String>(),
        format!("[{}]", want.join(",")).replace(' ', "")
    );
    let shouts =
        String::from_utf8(st.read_output(&root, "shouts").expect("shouts")).expect("utf-8");
    let want: Vec<String> = words()
        .iter()
        .map(|w| json_str(&format!("{}!", w.to_uppercase())))
        .collect();
    assert_eq!(
        shouts.split_whitespace().collect::<String>(),
        format!("[{}]", want.join(","))
    );
    // The Python tasks ran inside the recorded jobs.
    let py: Vec<(&String, &String)> = after
        .iter()
        .filter(|(l, _)| l.starts_with("-.N8."))
        .collect();
    assert_eq!(py.len(), 5, "{after:?}");
    for (loc, job) in py {
        let loc: Loc = loc.parse().expect("loc");
        let log = std::fs::read_to_string(st.worker_logs_path(&loc)).expect("node log");
        assert!(log.contains(&format!("SLURM_JOB_ID={job}")), "{loc}: {log}");
    }
}

/// Starts `tkr run` of `graph` (one task, sent to SLURM) as workflow `id`
/// and waits until its job runs; returns the controller (its output piped)
/// and the job id.
fn run_until_its_job_runs(
    s: &Scratch,
    cfg: &Path,
    id: u128,
    graph: &str,
) -> (std::process::Child, String) {
    let g = s.path().join("graph.json");
    std::fs::write(&g, graph).expect("write graph");
    let st = s.storage(id);
    let child = s
        .tkr()
        .args(["run", "--run-id", &id.to_string(), "-f"])
        .arg(&g)
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tkr");
    let mut job = String::new();
    wait_until(
        "the job id",
        Duration::from_secs(30),
        || match recorded_jobs(&st).into_values().next() {
            Some(j) => {
                job = j;
                true
            }
            None => false,
        },
    );
    // The trials share a two-slot node: this job may queue behind the map's.
    wait_until("the job to run", Duration::from_secs(180), || {
        squeue(&[&job]).get(&job).is_some_and(|s| s == "RUNNING")
    });
    (child, job)
}

fn cancelled_job_fails_its_node() {
    let hello = hello_worker();
    let s = Scratch::new();
    let cfg = config(&s, &hello, "sleep 120");
    let id = 9002;
    let st = s.storage(id);
    let (child, job) = run_until_its_job_runs(
        &s,
        &cfg,
        id,
        r#"{"nodes": [
            {"type": "const", "value": "loud", "inputs": {}, "outputs": {"value": [1]}},
            {"type": "function", "function_name": "pyshout.shout", "inputs": {"text": [0, "value"]}, "outputs": {"value": [2]}},
            {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
        ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    );
    let st_cancel = Command::new("scancel").arg(&job).status().expect("scancel");
    assert!(st_cancel.success());
    let out = child.wait_with_output().expect("wait tkr");
    expect_code(&out, 1);
    let loc = Loc::root().n(1);
    assert!(st.node_has_error(&loc));
    let text = st.read_errors(&loc).expect("errors");
    assert!(
        text.contains(&format!(
            "worker \"pyshout\" (python at -.N1) (batch job {job} on slurm) was cancelled"
        )),
        "{text}"
    );
    // SLURM's own words from the job's error file.
    assert!(text.contains("CANCELLED"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was cancelled"), "{err}");
}

/// `tkr stop` from another process: the controller cancels its running job
/// (`[hpc] cancel_on_stop` is on by default), exits 130, and leaves a run
/// that is interrupted, not failed.
fn tkr_stop_cancels_the_runs_jobs() {
    let hello = hello_worker();
    let s = Scratch::new();
    let cfg = config(&s, &hello, "sleep 120");
    let id = 9003;
    let st = s.storage(id);
    let (child, job) = run_until_its_job_runs(
        &s,
        &cfg,
        id,
        r#"{"nodes": [
            {"type": "const", "value": "world", "inputs": {}, "outputs": {"value": [2]}},
            {"type": "const", "value": "hello ", "inputs": {}, "outputs": {"value": [2]}},
            {"type": "function", "function_name": "hello_world_worker.greet", "inputs": {"subject": [0, "value"], "greeting": [1, "value"]}, "outputs": {"value": [3]}},
            {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}
        ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {}}"#,
    );
    let out = s
        .tkr()
        .args(["stop", &run_uuid(id), "--json"])
        .output()
        .expect("tkr stop");
    expect_code(&out, 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("\"state\": \"stopped\""), "{said}");
    let run = child.wait_with_output().expect("wait tkr");
    expect_code(&run, 130);
    wait_until(
        "SLURM to record the cancellation",
        Duration::from_secs(30),
        || squeue(&[&job]).get(&job).is_some_and(|s| s == "CANCELLED"),
    );
    let loc = Loc::root().n(2);
    assert!(!st.node_has_error(&loc), "{:?}", st.read_errors(&loc));
    assert!(!st.node_has_error(&Loc::root()));
    let out = s.tkr().args(["ls", "--json"]).output().expect("tkr ls");
    expect_code(&out, 0);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("\"status\": \"interrupted\""), "{listed}");
}

/// `tkr run -p SECS` (the reference's `--polling-interval-seconds`) is the
/// time between two job status queries, over `[hpc] poll_secs`: with the
/// configuration's hour between queries, the job's end is seen (and the run
/// finishes) only because `-p 0.3` applies. Without it the run would wait an
/// hour; `timeout` ends it after 5 minutes and the trial fails.
fn run_p_sets_the_batch_job_polling_interval() {
    let hello = hello_worker();
    let s = Scratch::new();
    let cfg = config(&s, &hello, "sleep 1");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(&cfg, text.replace("poll_secs = 0.3", "poll_secs = 3600")).expect("config");
    let g = s.path().join("graph.json");
    std::fs::write(
        &g,
        r#"{"nodes": [
            {"type": "const", "value": "loud", "inputs": {}, "outputs": {"value": [1]}},
            {"type": "function", "function_name": "pyshout.shout", "inputs": {"text": [0, "value"]}, "outputs": {"value": [2]}},
            {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
        ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    )
    .expect("write graph");
    let tkr = s.tkr();
    let mut timed = Command::new("timeout");
    timed
        .args(["300"])
        .arg(tkr.get_program())
        .args(tkr.get_args())
        .envs(tkr.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .args(["run", "--run-id", "9004", "-o", "-p", "0.3", "-f"])
        .arg(&g)
        .arg("--config")
        .arg(&cfg);
    if let Some(dir) = tkr.get_current_dir() {
        timed.current_dir(dir);
    }
    let out = timed.output().expect("run tkr");
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: \"LOUD!\"\n");
}

/// Retries on SLURM: a shell worker whose first call exits 2 runs as a
/// batch job; with `retries = 1` the task is submitted again as a new job,
/// which succeeds. The first job's record (its id) is kept in
/// `attempts/1/executor`, the new one in `debug/executors/<loc>`.
fn failed_job_is_retried_as_a_new_job() {
    let s = Scratch::new();
    let count = s.path().join("count");
    script(
        &s.path().join("reg/flaky/main.sh"),
        &format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 ))\necho $n > {c}\n[ $n -le 1 ] && exit 2\nx=$(cat \"$input_x_file\")\necho $((x + 1)) > \"$output_value_file\"\n",
            c = count.display()
        ),
    );
    let cfg = s.path().join("tkr.toml");
    std::fs::write(
        &cfg,
        r#"registries = ["reg"]

[hpc]
poll_secs = 0.3

[workers.flaky]
executor = "slurm"
retries = 1
retry_backoff = "10ms"

[workers.flaky.job]
queue = "debug"
walltime = "00:05:00"
"#,
    )
    .expect("config");
    let graph = s.path().join("g.json");
    std::fs::write(
        &graph,
        r#"{"nodes": [
 {"type": "const", "value": 41, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "flaky.inc", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    )
    .expect("graph");
    let id = 9004;
    let out = s
        .tkr()
        .args(["run", "-o", "--run-id", &id.to_string(), "--config"])
        .arg(&cfg)
        .arg("-f")
        .arg(&graph)
        .current_dir(s.path())
        .output()
        .expect("tkr run");
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 42\n");
    assert_eq!(std::fs::read_to_string(&count).expect("count").trim(), "2");
    let st = s.storage(id);
    let new_job = recorded_jobs(&st)
        .remove("-.N1")
        .expect("the new job's record");
    let node = st.node_dir(&Loc::root().n(1));
    let old = tierkreis_core::json::parse(
        &std::fs::read(node.join("attempts/1/executor")).expect("the old job's record"),
    )
    .expect("executor record");
    let old_job = old
        .as_map()
        .and_then(|m| m.get("job_id"))
        .and_then(tierkreis_core::Value::as_str)
        .expect("old job id")
        .to_string();
    assert_ne!(old_job, new_job, "the retry was not submitted as a new job");
    let reason = std::fs::read_to_string(node.join("attempts/1/reason")).expect("reason");
    assert!(reason.contains(&format!("batch job {old_job}")), "{reason}");
    // The report shows both attempts, in order; a job seen running by a
    // poll has its own lane (a short job may end between two polls).
    let out = s
        .tkr()
        .args(["report", "--json", "--run-id", &id.to_string()])
        .output()
        .expect("tkr report");
    expect_code(&out, 0);
    let report = tierkreis_core::json::parse(&out.stdout).expect("report JSON");
    let get = |v: &tierkreis_core::Value, k: &str| {
        v.as_map()
            .and_then(|m| m.get(k))
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {v:?}"))
    };
    let tasks = get(&get(&report, "timeline"), "tasks");
    let task = tasks
        .as_list()
        .expect("tasks")
        .iter()
        .find(|t| get(t, "loc").as_str() == Some("-.N1"))
        .cloned()
        .expect("the flaky task in the report");
    let attempts = get(&task, "attempts");
    let attempts = attempts.as_list().expect("attempts");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(get(&attempts[0], "outcome").as_str(), Some("failed"));
    assert_eq!(get(&attempts[1], "outcome").as_str(), Some("done"));
    for (attempt, job) in attempts.iter().zip([&old_job, &new_job]) {
        if let Some(lane) = get(attempt, "lane").as_str() {
            assert_eq!(lane, format!("slurm job {job}"));
        }
    }
    assert_eq!(
        get(&get(&report, "summary"), "retries")
            .as_int()
            .map(|r| r.to_string()),
        Some("1".to_string())
    );
}
