//! The batch-job executor against fake `sbatch`/`squeue`/`scancel`,
//! `qsub`/`qstat`/`qdel` and `pjsub`/`pjstat`/`pjdel` on a temporary `PATH`
//! (`tierkreis_test_support::fake_batch`): they print what the real commands
//! print and run each job script in the background.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, FileControllerStorage};

use super::one_job_per_task::adoptable;
use super::*;
use crate::executor::test_support::one_task_graph;
use crate::executor::{Discovery, ExecutorConfig, LocalOrBatchExecutor, ProcessExecutor};
use crate::runtime::{self, RunError, RunEventChannel};
use crate::scheduler::Outcome;

struct Fake {
    _t: tempfile::TempDir,
    state: PathBuf,
    bin: PathBuf,
    reg: PathBuf,
    tkr: PathBuf,
}

fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Fake {
    fn new(system: BatchSystem) -> Self {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&state).unwrap();
        tierkreis_test_support::fake_batch::install(system.name(), &bin, &state).unwrap();
        let reg = t.path().join("reg");
        let tkr = t.path().join("tkr");
        Fake {
            state,
            bin,
            reg,
            tkr,
            _t: t,
        }
    }

    fn path(&self) -> std::ffi::OsString {
        format!("{}:/usr/bin:/bin", self.bin.display()).into()
    }

    fn executor(&self, system: BatchSystem, job: &str, cancel_on_stop: bool) -> HpcExecutor {
        let text = format!(
            "[workers.w]\nexecutor = \"{}\"\n[workers.w.job]\n{job}\n",
            system.name()
        );
        let config = ExecutorConfig::parse(&text, Path::new("tkr.toml"), &self.reg).unwrap();
        let discovery = Discovery::new(config, vec![self.reg.clone()]).with_path(Some(self.path()));
        HpcExecutor::new(
            discovery,
            HpcOptions {
                poll: Duration::from_millis(50),
                cancel_on_stop,
                path: Some(self.path()),
            },
        )
    }

    fn storage(&self) -> Arc<dyn ControllerStorage> {
        Arc::new(FileControllerStorage::new(
            self.tkr.clone(),
            uuid::Uuid::from_u128(7),
            None,
        ))
    }

    fn calls(&self, kind: &str) -> usize {
        tierkreis_test_support::fake_batch::calls(&self.state, kind)
    }

    /// Waits until the fake job `id` runs. Acting on a job before its
    /// background shell has written `R` would race with that write: a state
    /// set earlier (`C`, `T`) would be overwritten and the job would look
    /// running for ever.
    fn wait_running(&self, id: &str) {
        let n = id.split('.').next().unwrap();
        let path = self.state.join(format!("{n}.state"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(&path).unwrap_or_default().trim() != "R" {
            assert!(Instant::now() < deadline, "job {id} never ran");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits until the job id of the task at `loc` is recorded.
fn wait_job_id(st: &Arc<dyn ControllerStorage>, loc: &Loc) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(id) = st.read_executor_data(loc).ok().and_then(|d| d.job_id) {
            return id;
        }
        assert!(Instant::now() < deadline, "no job id recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the workflow `w.f(x = 41)` in `st`: the task is [`node`].
fn start_one_task(st: &Arc<dyn ControllerStorage>) {
    runtime::start_workflow(
        st.as_ref(),
        &one_task_graph("w.f", "41"),
        &Default::default(),
    )
    .unwrap();
}

/// A shell worker `w` whose task copies input `x` to output `value`.
fn copy_worker(reg: &Path, extra: &str) {
    script(
        &reg.join("w/main.sh"),
        &format!("{extra}\ncp \"$input_x_file\" \"$output_value_file\"\n"),
    );
}

fn run_one(fake: &Fake, e: &mut HpcExecutor) -> (Outcome, Arc<dyn ControllerStorage>) {
    let st = fake.storage();
    start_one_task(&st);
    let outcome = runtime::run(st.clone(), false, e, &mut |_| {}).unwrap();
    (outcome, st)
}

fn node() -> Loc {
    Loc::root().n(1)
}

#[test]
fn each_batch_system_runs_a_task_as_a_job() {
    for (system, id) in [
        (BatchSystem::Slurm, "101"),
        (BatchSystem::Pbs, "101.fakepbs"),
        (BatchSystem::Pjsub, "101"),
    ] {
        let fake = Fake::new(system);
        copy_worker(&fake.reg, "echo to the node log");
        let mut e = fake.executor(system, "queue = \"q1\"", true);
        let (outcome, st) = run_one(&fake, &mut e);
        assert_eq!(
            outcome,
            Outcome::Finished,
            "{system:?}: {:?}",
            st.read_errors(&node())
        );
        assert_eq!(st.read_output(&Loc::root(), "value").unwrap(), b"41");
        let debug = st.read_executor_data(&node()).unwrap();
        assert_eq!(debug.job_id.as_deref(), Some(id), "{system:?}");
        assert_eq!(
            debug.executor,
            format!("tierkreis-rs:{}:shell", system.name())
        );
        assert!(
            debug.launch_command.ends_with("/-.N1/job.sh"),
            "{}",
            debug.launch_command
        );
        assert_eq!(fake.calls("submit"), 1, "{system:?}");
        assert!(fake.calls("query") >= 1, "{system:?}");
        let script = std::fs::read_to_string(st.node_dir(&node()).join("job.sh")).unwrap();
        assert!(script.contains("q1"), "{script}");
        let logs = std::fs::read_to_string(st.worker_logs_path(&node())).unwrap();
        assert_eq!(logs, "to the node log\n");
        assert_eq!(e.pending(), 0);
    }
}

#[test]
fn a_refused_submission_fails_the_node_with_the_schedulers_words() {
    for system in [BatchSystem::Slurm, BatchSystem::Pbs, BatchSystem::Pjsub] {
        let fake = Fake::new(system);
        copy_worker(&fake.reg, "");
        std::fs::write(
            fake.state.join("refuse"),
            "invalid partition name specified",
        )
        .unwrap();
        let mut e = fake.executor(system, "", true);
        let (outcome, st) = run_one(&fake, &mut e);
        assert!(matches!(outcome, Outcome::Failed(_)), "{system:?}");
        let text = st.read_errors(&node()).unwrap();
        assert!(
            text.contains("refused the job") && text.contains("invalid partition name specified"),
            "{system:?}: {text}"
        );
    }
}

/// Runs the one-task workflow while `act(fake, job id)` does something to the job.
fn run_with(
    system: BatchSystem,
    worker: &str,
    job: &str,
    act: impl FnOnce(&Fake, &str) + Send + 'static,
) -> String {
    let fake = Arc::new(Fake::new(system));
    copy_worker(&fake.reg, worker);
    let mut e = fake.executor(system, job, true);
    let st = fake.storage();
    start_one_task(&st);
    let (f, s) = (fake.clone(), st.clone());
    let actor = std::thread::spawn(move || {
        let id = wait_job_id(&s, &node());
        act(&f, &id);
    });
    let outcome = runtime::run(st.clone(), false, &mut e, &mut |_| {}).unwrap();
    actor.join().unwrap();
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    assert!(st.node_has_error(&node()));
    st.read_errors(&node()).unwrap()
}

#[test]
fn a_cancelled_job_fails_its_node_clearly() {
    for (system, cancel) in [
        (BatchSystem::Slurm, "scancel"),
        (BatchSystem::Pbs, "qdel"),
        (BatchSystem::Pjsub, "pjdel"),
    ] {
        let text = run_with(system, "sleep 30", "", move |f, id| {
            f.wait_running(id);
            let st = std::process::Command::new(f.bin.join(cancel))
                .arg(id)
                .status()
                .unwrap();
            assert!(st.success());
        });
        assert!(text.contains("(batch job 101"), "{system:?}: {text}");
        assert!(text.contains("was cancelled"), "{system:?}: {text}");
    }
}

#[test]
fn a_job_out_of_time_says_so_with_its_walltime() {
    for system in [BatchSystem::Slurm, BatchSystem::Pbs] {
        let text = run_with(system, "sleep 30", "walltime = \"00:00:09\"", |f, id| {
            f.wait_running(id);
            let n = id.split('.').next().unwrap();
            tierkreis_test_support::fake_batch::set_state(&f.state, id, "T").unwrap();
            let pid = std::fs::read_to_string(f.state.join(format!("{n}.pid"))).unwrap();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", pid.trim())])
                .status();
        });
        assert!(
            text.contains("ran out of time (walltime 00:00:09)"),
            "{system:?}: {text}"
        );
    }
}

#[test]
fn a_job_that_dies_without_markers_reports_its_files_tails() {
    // The worker kills the job script: nothing writes a marker.
    let text = run_with(
        BatchSystem::Slurm,
        "kill -9 $PPID",
        "setup = [\"echo preparing the node >&2\", \"echo hello from the job\"]",
        |_, _| {},
    );
    assert!(
        text.contains("without the worker marking done or error"),
        "{text}"
    );
    assert!(text.contains("failed (FAILED)"), "{text}");
    assert!(text.contains("preparing the node"), "{text}");
    assert!(text.contains("hello from the job"), "{text}");
}

#[test]
fn a_worker_error_is_the_nodes_error() {
    let text = run_with(
        BatchSystem::Pbs,
        "echo bad input >&2; exit 4",
        "",
        |_, _| {},
    );
    assert!(text.starts_with("bad input\n"), "{text}");
    assert!(
        text.contains("worker \"w\" (shell at -.N1) exited with status 4 (batch job 101"),
        "{text}"
    );
}

#[test]
fn a_resumed_run_follows_its_jobs_and_resubmits_only_lost_ones() {
    for lose in [false, true] {
        let fake = Fake::new(BatchSystem::Slurm);
        copy_worker(&fake.reg, "");
        std::fs::write(fake.state.join("hold"), "").unwrap();
        let st = fake.storage();
        start_one_task(&st);
        // First run: submits, then stops without cancelling (like a killed controller).
        let mut e = fake.executor(BatchSystem::Slurm, "", false);
        let events = RunEventChannel::new();
        let stop = events.stop_handle();
        let s = st.clone();
        let stopper = std::thread::spawn(move || {
            wait_job_id(&s, &node());
            stop.stop();
        });
        let r = runtime::run_with_events(st.clone(), false, &mut e, &mut |_| {}, events);
        stopper.join().unwrap();
        assert!(matches!(r, Err(RunError::Stopped { stopped: 1 })), "{r:?}");
        assert_eq!(fake.calls("cancel"), 0);
        drop(e);
        if lose {
            // The job vanished while no controller watched.
            let pid = std::fs::read_to_string(fake.state.join("101.pid")).unwrap();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", pid.trim())])
                .status();
            for f in ["101.state", "101.pid"] {
                std::fs::remove_file(fake.state.join(f)).unwrap();
            }
        }
        std::fs::remove_file(fake.state.join("hold")).unwrap();
        let mut e = fake.executor(BatchSystem::Slurm, "", false);
        let outcome = runtime::run(st.clone(), true, &mut e, &mut |_| {}).unwrap();
        assert_eq!(outcome, Outcome::Finished, "lose={lose}");
        assert_eq!(st.read_output(&Loc::root(), "value").unwrap(), b"41");
        let expect = if lose { 2 } else { 1 };
        assert_eq!(fake.calls("submit"), expect, "lose={lose}");
        let id = st.read_executor_data(&node()).unwrap().job_id.unwrap();
        assert_eq!(id, if lose { "102" } else { "101" });
    }
}

#[test]
fn stopping_cancels_pending_jobs_in_one_command() {
    let fake = Fake::new(BatchSystem::Pbs);
    copy_worker(&fake.reg, "sleep 30");
    let st = fake.storage();
    start_one_task(&st);
    let mut e = fake.executor(BatchSystem::Pbs, "", true);
    let events = RunEventChannel::new();
    let stop = events.stop_handle();
    let s = st.clone();
    let stopper = std::thread::spawn(move || {
        wait_job_id(&s, &node());
        stop.stop();
    });
    let r = runtime::run_with_events(st.clone(), false, &mut e, &mut |_| {}, events);
    stopper.join().unwrap();
    assert!(matches!(r, Err(RunError::Stopped { stopped: 1 })), "{r:?}");
    let calls = std::fs::read_to_string(fake.state.join("calls")).unwrap();
    assert!(calls.contains("cancel 101.fakepbs"), "{calls}");
    assert!(!st.node_has_error(&node()) && !st.is_node_finished(&node()));
}

#[test]
fn local_tasks_stay_local() {
    let fake = Fake::new(BatchSystem::Slurm);
    copy_worker(&fake.reg, "");
    let config = ExecutorConfig::parse(
        "[workers.other]\nexecutor = \"slurm\"\n",
        Path::new("tkr.toml"),
        &fake.reg,
    )
    .unwrap();
    assert!(config.uses_batch_jobs());
    let discovery = Discovery::new(config, vec![fake.reg.clone()]);
    let mut e = LocalOrBatchExecutor::new(ProcessExecutor::new(discovery, Default::default()));
    let st = fake.storage();
    start_one_task(&st);
    let outcome = runtime::run(st.clone(), false, &mut e, &mut |_| {}).unwrap();
    assert_eq!(outcome, Outcome::Finished);
    assert_eq!(fake.calls("submit"), 0);
    assert!(st
        .read_executor_data(&node())
        .unwrap()
        .executor
        .starts_with("tierkreis-rs:shell"));
}

#[test]
fn per_task_routes_override_the_workers_job() {
    let text = r#"
[workers.w]
executor = "slurm"
[workers.w.job]
queue = "small"
walltime = "00:10:00"
[[routes]]
task = "w.big_*"
executor = "pbs"
[routes.job]
queue = "large"
nodes = 4
"#;
    let c = ExecutorConfig::parse(text, Path::new("tkr.toml"), Path::new("/")).unwrap();
    let s = c.settings_for("w", "big_one");
    assert_eq!(
        s.executor,
        Some(crate::executor::ExecutorKind::Batch(BatchSystem::Pbs))
    );
    let job = s.job.unwrap();
    assert_eq!(job.queue.as_deref(), Some("large"));
    assert_eq!(job.walltime.as_deref(), Some("00:10:00"));
    assert_eq!(job.nodes, Some(4));
    let s = c.settings_for("w", "small");
    assert_eq!(
        s.executor,
        Some(crate::executor::ExecutorKind::Batch(BatchSystem::Slurm))
    );
    assert_eq!(s.job.unwrap().queue.as_deref(), Some("small"));
    assert!(!ExecutorConfig::default().uses_batch_jobs());
    let e =
        ExecutorConfig::parse("[hpc]\npoll_secs = -1", Path::new("x"), Path::new("/")).unwrap_err();
    assert!(e.to_string().contains("hpc.poll_secs"), "{e}");
}

#[test]
fn jobs_of_the_same_system_are_adopted_ours_or_the_references() {
    let data = |executor: &str, job_id: Option<&str>| tierkreis_storage::ExecutorDebugData {
        executor: executor.to_string(),
        launch_command: String::new(),
        job_id: job_id.map(str::to_string),
        env: Default::default(),
        packages: Vec::new(),
    };
    let slurm = BatchSystem::Slurm;
    assert_eq!(
        adoptable(slurm, &data("tierkreis-rs:slurm:binary", Some("12"))).as_deref(),
        Some("12")
    );
    assert_eq!(
        adoptable(
            slurm,
            &data(
                "<class 'tierkreis.controller.executor.hpc.slurm.SLURMExecutor'>",
                Some("13")
            )
        )
        .as_deref(),
        Some("13")
    );
    assert_eq!(
        adoptable(slurm, &data("tierkreis-rs:pbs:binary", Some("12"))),
        None
    );
    assert_eq!(adoptable(slurm, &data("tierkreis-rs:shell", None)), None);
    assert_eq!(
        adoptable(slurm, &data("tierkreis-rs:slurm:shell", None)),
        None
    );
    assert_eq!(
        adoptable(
            BatchSystem::Pbs,
            &data("<class 'x.pbs.PBSExecutor'>", Some("7"))
        )
        .as_deref(),
        Some("7")
    );
}
