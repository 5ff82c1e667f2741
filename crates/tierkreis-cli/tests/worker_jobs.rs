//! Worker jobs on a real SLURM (`bash ../shared/slurm/start.sh`): warm
//! worker processes inside batch jobs serve many tasks each. The reference's
//! own `compile_simulate` gives right results with worker jobs and with
//! `warm = false`; a worker job cancelled while it serves loses nothing; a
//! SIGKILLed controller's jobs end themselves and `tkr resume` finishes the
//! run; Ctrl-C cancels the jobs.
//!
//! SLURM jobs run on this host, outside the reference's root: the
//! reference's Python and its published workers reach them through the host
//! commands of `shared/reference/shims.sh`. Trials are reported ignored
//! when SLURM or the reference environment is missing and `CI` is unset;
//! under CI they fail instead.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::quantum::{write_quantum_graphs_py, GhzCircuits};
use common::reference::{function_nodes, run_sh, Group};
use common::{run_uuid, tkr};
use tierkreis_core::Value;
use tierkreis_test_support::graphs::TaskMap;

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![
        (
            "compile_simulate_with_aer_on_slurm_is_right_with_worker_jobs_and_with_one_job_per_task",
            compile_simulate_on_slurm,
        ),
        (
            "a_worker_job_cancelled_while_it_serves_loses_nothing",
            cancelled_worker_job_loses_nothing,
        ),
        (
            "a_sigkilled_controller_leaves_no_job_after_the_idle_time_and_resume_finishes",
            sigkilled_controller_leaves_no_job,
        ),
        ("ctrl_c_cancels_the_worker_jobs", ctrl_c_cancels_the_worker_jobs),
    ];
    let missing = common::slurm_availability()
        .and_then(|()| common::reference::availability())
        .and_then(|()| quantum_workers_availability())
        .err();
    common::run_trials_needing(missing, trials);
}

/// `Ok` when the reference environment has the published quantum workers.
fn quantum_workers_availability() -> Result<(), String> {
    let bin = common::reference::reference_root().join("opt/tk/bin");
    if bin.join("tkr-aer-worker").exists() {
        Ok(())
    } else {
        Err(format!(
            "the reference environment lacks tkr-aer-worker (in {}): run `TKR_REF_EXTRAS=\"tkr-aer-worker-impl tkr-pytket-worker-impl tkr-qulacs-worker-impl qiskit-aer\" bash ../shared/reference/setup.sh`",
            bin.display()
        ))
    }
}

/// A worker built on the reference's `Worker`: `napper.nap(x) -> 2x` after a
/// nap, long enough to catch a task while it runs.
fn napper_py(python: &Path) -> String {
    format!(
        r#"#!{}
import time
from sys import argv

from tierkreis import Worker

worker = Worker("napper")


@worker.task()
def nap(x: int) -> int:
    time.sleep(1.5)
    return 2 * x


if __name__ == "__main__":
    worker.app(argv)
"#,
        python.display()
    )
}

/// A scratch folder under `/tmp` (SLURM jobs run on this host and see it)
/// with the shims of the reference's Python and workers in `shims/`.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tkr-worker-jobs-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let shims_sh = run_sh().with_file_name("shims.sh");
        let st = Command::new("bash")
            .arg(&shims_sh)
            .arg(dir.path().join("shims"))
            .stdout(Stdio::null())
            .status()
            .expect("run shims.sh");
        assert!(st.success(), "{} failed", shims_sh.display());
        let s = Scratch { dir };
        let napper = s.path().join("reg/napper/main.py");
        std::fs::create_dir_all(napper.parent().expect("folder")).expect("mkdir");
        std::fs::write(&napper, napper_py(&s.shims().join("python"))).expect("write");
        std::fs::set_permissions(&napper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        write_quantum_graphs_py(s.path());
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn shims(&self) -> PathBuf {
        self.path().join("shims")
    }

    fn ck(&self) -> PathBuf {
        self.path().join("ck")
    }

    fn workflow(&self, id: u128) -> PathBuf {
        self.ck().join(run_uuid(id))
    }

    /// `tkr` with the shims first on `PATH`, in the scratch folder.
    fn tkr(&self) -> Command {
        let mut c = tkr(&self.ck());
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.shims()];
        dirs.extend(std::env::split_paths(&path));
        c.env("PATH", std::env::join_paths(dirs).expect("PATH"))
            .env_remove("RUST_LOG")
            .current_dir(self.path());
        c
    }

    /// Writes `tkr.toml`.
    fn config(&self, text: &str) -> PathBuf {
        let p = self.path().join("tkr.toml");
        std::fs::write(&p, text).expect("write tkr.toml");
        p
    }
}

/// The SLURM job ids of the worker jobs of workflow `wf`.
fn worker_job_ids(wf: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(wf.join("tkr-worker-jobs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(bytes) = std::fs::read(e.path().join("submitted.json")) {
            let v = tierkreis_core::json::parse(&bytes).expect("submitted.json");
            let id = v
                .as_map()
                .and_then(|m| m.get("job_id"))
                .and_then(Value::as_str)
                .expect("job_id")
                .to_string();
            ids.push(id);
        }
    }
    ids.sort();
    ids
}

/// The worker-job folders of workflow `wf`.
fn worker_job_dirs(wf: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(wf.join("tkr-worker-jobs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Which of `ids` SLURM still has queued or running.
fn active_jobs(ids: &[String]) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    let out = Command::new("squeue")
        .args(["-h", "-o", "%i %T", "-j", &ids.join(",")])
        .stderr(Stdio::null())
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?.to_string();
            let state = w.next()?;
            (state != "COMPLETING" && state != "COMPLETED" && state != "CANCELLED").then_some(id)
        })
        .collect()
}

/// Waits until none of `ids` is active in SLURM; panics after `limit`.
fn wait_jobs_gone(ids: &[String], limit: Duration, what: &str) {
    let start = Instant::now();
    loop {
        let left = active_jobs(ids);
        if left.is_empty() {
            return;
        }
        if start.elapsed() > limit {
            let _ = Command::new("scancel").args(&left).status();
            panic!("{what}: jobs {left:?} still active after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The executor records of the tasks of `worker` in workflow `wf`:
/// `(location, executor, job id)`.
fn task_records(wf: &Path, worker_function: &str) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for (loc, _) in function_nodes(wf) {
        let def = std::fs::read(wf.join(&loc).join("nodedef")).unwrap_or_default();
        if !String::from_utf8_lossy(&def).contains(worker_function) {
            continue;
        }
        let Ok(bytes) = std::fs::read(wf.join("debug/executors").join(&loc)) else {
            continue;
        };
        let v = tierkreis_core::json::parse(&bytes).expect("executor record");
        let m = v.as_map().expect("object");
        let executor = m
            .get("executor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let job = m.get("job_id").and_then(Value::as_str).map(str::to_string);
        out.push((loc, executor, job));
    }
    out
}

/// Runs `tkr run` to its end; panics with its stderr unless it succeeds.
fn run_to_end(mut cmd: Command, what: &str) {
    let out = cmd.output().expect("run tkr");
    assert!(
        out.status.success(),
        "{what}: {}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn compile_simulate_on_slurm() {
    let s = Scratch::new();
    let circuits = GhzCircuits {
        sizes: &[2, 3, 4, 5, 3, 2],
        shots: &[10, 20, 30, 40, 50, 60],
    };
    let case = circuits.case(s.path(), "aer");
    for (id, warm) in [(1u128, true), (2, false)] {
        let config = s.config(&format!(
            "[hpc]\npoll_secs = 1\nworker_idle_secs = 30\n\n[workers.aer_worker]\nexecutor = \"slurm\"\nwarm = {warm}\nmax_worker_jobs = 2\n[workers.aer_worker.job]\ncores_per_node = 1\n"
        ));
        let mut cmd = s.tkr();
        cmd.args(["run", "-q", "--run-id", &id.to_string(), "--config"])
            .arg(&config)
            .arg("-f")
            .arg(case.graph())
            .args(case.input_args());
        let what = if warm { "worker jobs" } else { "warm = false" };
        run_to_end(cmd, what);
        let wf = s.workflow(id);
        circuits.check_results(s.path(), &wf.join("-/outputs/value"), what);
        let records = task_records(&wf, "aer_worker.");
        // compile_simulate calls Aer twice per circuit (compile, then run).
        assert_eq!(
            records.len(),
            2 * circuits.sizes.len(),
            "{what}: two aer tasks per circuit"
        );
        let jobs = worker_job_ids(&wf);
        if warm {
            for (loc, executor, job) in &records {
                assert_eq!(
                    executor, "tierkreis-rs:slurm-worker-job:python-warm",
                    "{what}: {loc}"
                );
                let job = job.as_ref().expect("the task names its worker job");
                assert!(
                    jobs.contains(job),
                    "{what}: {loc} ran in job {job}, not one of {jobs:?}"
                );
            }
            assert!(
                !jobs.is_empty() && jobs.len() <= 2,
                "{what}: {} worker jobs for {} tasks, max_worker_jobs = 2",
                jobs.len(),
                records.len()
            );
            // Every worker job ends with the run.
            wait_jobs_gone(&jobs, Duration::from_secs(20), what);
        } else {
            assert!(
                jobs.is_empty(),
                "{what}: worker jobs {jobs:?} were submitted"
            );
            let mut ids: Vec<&String> = records
                .iter()
                .map(|(loc, executor, job)| {
                    assert_eq!(executor, "tierkreis-rs:slurm:binary", "{what}: {loc}");
                    job.as_ref().expect("job id")
                })
                .collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), records.len(), "{what}: one job per task");
        }
    }
}

/// A map of `n` `napper.nap` tasks over 1..=n (the map `-.N3`, each task
/// `-.N3.M<i>.N1`); the output is the list of `2x`.
fn napper_graph(n: usize) -> String {
    let elements: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    TaskMap {
        function: "napper.nap",
        element_port: "x",
        elements: &elements,
        constants: &[],
    }
    .graph()
}

/// `tkr.toml` for the napper: one worker job of one process at most.
fn napper_config(s: &Scratch, idle_secs: u32) -> PathBuf {
    s.config(&format!(
        "[hpc]\npoll_secs = 1\n\n[workers.napper]\nexecutor = \"slurm\"\npython = \"{}\"\nmax_worker_jobs = 1\nworker_idle_secs = {idle_secs}\n",
        s.shims().join("python").display()
    ))
}

/// `tkr run` of the napper graph as workflow `id`, in the background.
fn start_napper(s: &Scratch, id: u128, n: usize, config: &Path) -> Group {
    let graph = s.path().join("napper.json");
    std::fs::write(&graph, napper_graph(n)).expect("write graph");
    let mut cmd = s.tkr();
    cmd.args(["run", "--run-id", &id.to_string(), "--registry"])
        .arg(s.path().join("reg"))
        .arg("--config")
        .arg(config)
        .arg("-f")
        .arg(&graph);
    Group::spawn(cmd, s.path().join(format!("run-{id}.stderr")))
}

/// The `napper.nap` nodes of `wf` that are done: `-.N3.M<i>.N1` (the map
/// is node 3, the task node 1 of its body), found by name while the run
/// writes its nodes.
fn naps_done(wf: &Path) -> usize {
    std::fs::read_dir(wf)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("-.N3.M") && name.ends_with(".N1")
        })
        .filter(|e| e.path().join("_done").exists())
        .count()
}

/// The top-level output of `wf`, which must be `[2, 4, ..., 2n]`.
fn check_napper_output(wf: &Path, n: usize, what: &str) {
    let bytes = std::fs::read(wf.join("-/outputs/value"))
        .unwrap_or_else(|e| panic!("{what}: no output: {e}"));
    let v = tierkreis_core::json::parse(&bytes).expect("output JSON");
    let got: Vec<i64> = v
        .as_list()
        .expect("a list")
        .iter()
        .map(|x| {
            x.as_int()
                .and_then(|i| i64::try_from(i.clone()).ok())
                .expect("int")
        })
        .collect();
    let want: Vec<i64> = (1..=n as i64).map(|x| 2 * x).collect();
    assert_eq!(got, want, "{what}");
}

/// Waits until `cond` holds; panics after `limit` or when the run ends.
fn wait_for(what: &str, limit: Duration, run: &mut Group, mut cond: impl FnMut() -> bool) {
    common::reference::wait_until(what, limit, run, &mut cond);
}

fn cancelled_worker_job_loses_nothing() {
    let s = Scratch::new();
    let n = 6;
    let config = napper_config(&s, 60);
    let mut run = start_napper(&s, 3, n, &config);
    let wf = s.workflow(3);
    wait_for(
        "a nap done in the worker job",
        Duration::from_secs(120),
        &mut run,
        || naps_done(&wf) >= 1,
    );
    let first = worker_job_ids(&wf);
    assert_eq!(first.len(), 1, "one worker job serves: {first:?}");
    // Cancel it while it serves the next nap.
    let st = Command::new("scancel")
        .arg(&first[0])
        .status()
        .expect("scancel");
    assert!(st.success());
    let code = run.wait_exit(Duration::from_secs(180));
    assert_eq!(code, Some(0), "the run finishes: {:?}", run.exited());
    check_napper_output(&wf, n, "after the cancelled worker job");
    let jobs = worker_job_ids(&wf);
    assert!(jobs.len() >= 2, "a new worker job was submitted: {jobs:?}");
    // The task the cancelled job was running is recorded as a failed attempt
    // naming the job, then ran again.
    let attempts: Vec<String> = function_nodes(&wf)
        .into_keys()
        .filter_map(|loc| std::fs::read_to_string(wf.join(&loc).join("attempts/1/reason")).ok())
        .collect();
    assert_eq!(
        attempts.len(),
        1,
        "one task was lost with the job: {attempts:?}"
    );
    assert!(
        attempts[0].contains(&first[0]) && attempts[0].contains("cancelled"),
        "the attempt names the cancelled job: {}",
        attempts[0]
    );
    wait_jobs_gone(&jobs, Duration::from_secs(20), "after the run");
}

fn sigkilled_controller_leaves_no_job() {
    let s = Scratch::new();
    let n = 6;
    let idle = 4;
    let config = napper_config(&s, idle);
    let mut run = start_napper(&s, 4, n, &config);
    let wf = s.workflow(4);
    wait_for(
        "a nap done in the worker job",
        Duration::from_secs(120),
        &mut run,
        || naps_done(&wf) >= 1,
    );
    run.kill();
    let jobs = worker_job_ids(&wf);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    // Nobody cancels it: it hears no controller and ends itself.
    wait_jobs_gone(
        &jobs,
        Duration::from_secs(u64::from(idle) + 30),
        "after the controller was SIGKILLed",
    );
    let dir = &worker_job_dirs(&wf)[0];
    let ended = std::fs::read_to_string(dir.join("ended.json")).expect("ended.json");
    assert!(ended.contains("silent"), "{ended}");
    // Resume finishes the run.
    let mut cmd = s.tkr();
    cmd.args(["resume", &run_uuid(4), "--registry"])
        .arg(s.path().join("reg"))
        .arg("--config")
        .arg(&config);
    run_to_end(cmd, "tkr resume");
    check_napper_output(&wf, n, "after resume");
    wait_jobs_gone(
        &worker_job_ids(&wf),
        Duration::from_secs(20),
        "after resume",
    );
}

fn ctrl_c_cancels_the_worker_jobs() {
    let s = Scratch::new();
    // A long idle time: only the cancel can end the job soon.
    let config = napper_config(&s, 300);
    let mut run = start_napper(&s, 5, 6, &config);
    let wf = s.workflow(5);
    wait_for(
        "the worker job serving",
        Duration::from_secs(120),
        &mut run,
        || {
            worker_job_dirs(&wf)
                .iter()
                .any(|d| d.join("started.json").exists())
        },
    );
    let jobs = worker_job_ids(&wf);
    run.interrupt();
    let code = run.wait_exit(Duration::from_secs(60));
    assert_ne!(code, Some(0), "a stopped run does not succeed");
    wait_jobs_gone(&jobs, Duration::from_secs(15), "after Ctrl-C");
}
