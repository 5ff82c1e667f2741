//! `tkr stop`: ask the controller running a workflow, from anywhere on the
//! machine, to stop as Ctrl-C would (workers stopped, batch jobs cancelled
//! when `[hpc] cancel_on_stop`, a run that `tkr resume` continues), and wait
//! until it has.

use std::time::{Duration, Instant};

use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tierkreis_core::Value;
use tierkreis_storage::{lock_state, ControllerStorage, FileControllerStorage, LockState};

use crate::exit;
use crate::inspect::{workflows, Folder};

pub const HELP: &str = "\
The controller gets SIGTERM, like Ctrl-C: it stops its workers (SIGTERM,
grace period, SIGKILL), cancels its batch jobs when [hpc] cancel_on_stop is
set (the default), marks the interrupted tasks as not started and exits 130.
`tkr resume RUN` continues the run later.

Exit status: 0 the controller stopped, 1 the workflow was not running,
2 bad usage (unknown run), 3 the controller did not stop within --wait.

Examples:
  tkr stop 1c0a9d2e
  tkr stop --run-id 7 --wait 120
  tkr stop my-run --json";

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    target: crate::target::RunTarget,
    #[command(flatten)]
    folder: Folder,
    /// How long to wait for the controller to exit, in seconds (0: do not wait).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    wait: f64,
    /// Machine-readable output: one JSON object.
    #[arg(long)]
    json: bool,
}

/// How often the lock is looked at while waiting for the controller.
const WAIT_STEP: Duration = Duration::from_millis(50);

pub fn run(a: &StopArgs) -> u8 {
    let dir = a.folder.dir();
    let id = match a.target.resolve(&dir) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: {}", crate::output::error_text(&e));
            return exit::USAGE;
        }
    };
    let storage = FileControllerStorage::new(&dir, id, None);
    let wf = storage.workflow_dir();
    if !wf.is_dir() {
        eprintln!("error: no workflow {id} in {}", dir.display());
        return exit::USAGE;
    }
    let report = |state: &str, pid: Option<u32>, text: String| {
        if a.json {
            let mut m = indexmap::IndexMap::new();
            m.insert("id".to_string(), Value::from(id.to_string()));
            m.insert("state".to_string(), Value::from(state));
            m.insert(
                "pid".to_string(),
                pid.map_or(Value::Null, |p| Value::int(i64::from(p))),
            );
            println!(
                "{}",
                tierkreis_core::json::to_string_compact(&Value::Map(m))
            );
        } else {
            println!("{text}");
        }
    };
    let pid = match lock_state(wf) {
        LockState::Held { pid: Some(pid) } => pid,
        LockState::Held { pid: None } => {
            eprintln!(
                "error: a process holds {} but does not say which; stop it by hand",
                wf.join(tierkreis_storage::lock::LOCK_FILE).display()
            );
            return exit::INTERNAL;
        }
        LockState::Free => {
            let status = workflows::status(&storage).as_str();
            report(
                "not_running",
                None,
                format!("workflow {id} is not running ({status})"),
            );
            return exit::FAILED;
        }
        LockState::Absent => {
            report(
                "not_running",
                None,
                format!(
                    "no tkr controller ever ran workflow {id} (no {}); a Python controller is stopped with Ctrl-C where it runs",
                    tierkreis_storage::lock::LOCK_FILE
                ),
            );
            return exit::FAILED;
        }
    };
    let Ok(raw) = i32::try_from(pid) else {
        eprintln!(
            "error: the lock of workflow {id} names process {pid}, which is not a process id"
        );
        return exit::INTERNAL;
    };
    if let Err(e) = kill(Pid::from_raw(raw), Signal::SIGTERM) {
        eprintln!("error: cannot signal the controller of workflow {id} (process {pid}): {e}");
        return exit::INTERNAL;
    }
    tracing::info!(workflow = %id, pid, "sent SIGTERM to the controller");
    let deadline = Instant::now() + Duration::from_secs_f64(a.wait.max(0.0));
    loop {
        if !matches!(lock_state(wf), LockState::Held { pid: Some(p) } if p == pid) {
            report(
                "stopped",
                Some(pid),
                format!("stopped workflow {id} (controller {pid}); `tkr resume {id}` continues it"),
            );
            return exit::OK;
        }
        if Instant::now() >= deadline {
            if a.wait <= 0.0 {
                report(
                    "stopping",
                    Some(pid),
                    format!("asked the controller of workflow {id} (process {pid}) to stop"),
                );
                return exit::OK;
            }
            eprintln!(
                "error: the controller of workflow {id} (process {pid}) still runs after {}s",
                a.wait
            );
            return exit::INTERNAL;
        }
        std::thread::sleep(WAIT_STEP);
    }
}
