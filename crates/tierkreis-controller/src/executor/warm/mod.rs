//! Warm workers: one worker process serves many calls, so a Python worker
//! imports its libraries once per run instead of once per task.
//!
//! The storage protocol does not change (see [`tierkreis_storage::warm`]):
//! the worker reads its call args and inputs and writes its outputs, `_done`
//! or `_error` itself; its stdout and stderr go to the node's log for the
//! call. Which workers run warm, by default:
//!
//! - Python workers built on `tierkreis.worker.Worker`: registry `W/main.py`
//!   (kinds `python` and `uv`) and Python scripts on `PATH` or configured as
//!   the `command` (console scripts such as `tkr-aer-worker`, found by their
//!   `#!` line). The loader shipped in `tkr` (`loader.py`, written once
//!   beside the checkpoint folder, else in the cache folder) runs under the worker's own interpreter or uv
//!   environment, imports the script without running its `__main__` block,
//!   finds the `Worker` object and serves `Worker.run(path)` per call. A
//!   script is only tried when it has a `__name__` guard and mentions
//!   `Worker` or imports its entry point (`from pkg.main import main`),
//!   since importing runs its top level.
//! - Binaries built with the Rust SDK (`tierkreis-worker`): recognised by
//!   the protocol marker inside the executable file (read once per run).
//!
//! When the loader cannot serve (no `Worker` object, an API without
//! `run(path)`, an import that raises), the worker's tasks run one process
//! per call, and the workflow log says why. `warm = false` (per worker or
//! route in `tkr.toml`) or `--no-warm` opts out.
//!
//! Warm processes count against `jobs` with the one-shot ones; an idle one
//! is ended when another worker's task needs its slot. A process is
//! replaced after it crashes, after `max_calls` calls, after a call timed
//! out, or once its resident memory (`VmRSS` of its process group) passes
//! `memory_limit` (a call running then fails; one-shot tasks get the same
//! limit). A call ends when its process exits, even if a child the task
//! forked still holds the reply pipe. It ends when the run ends or stops
//! (stdin closes), and with the controller (the guardian,
//! [`super::guardian`], kills its group; `PR_SET_PDEATHSIG`; stdin's end).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tierkreis_storage::warm::{WarmCall, WarmReply, WARM_ENV, WARM_MARKER};
use tierkreis_storage::{ControllerStorage, TKR_DIR_KEY};

use super::config::WorkerKind;
use super::discovery::LaunchPlan;
use crate::executor::contract::{FailureKind, TaskFailure};
use crate::executor::worker_process::outcome::{fail, outputs_complete, MEMORY_CHECK_EVERY};
use crate::executor::worker_process::{Job, Spec};
pub(crate) use crate::executor::worker_process::{WarmFlavour, WarmKey};

pub mod scaling;

/// The Python loader, shipped in the binary.
const PYTHON_LOADER: &str = include_str!("loader.py");

/// How long a starting warm process may take to import its worker and answer.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(300);

/// Lines of a failed call's log quoted in its error.
const TAIL_LINES: usize = crate::executor::worker_process::STDERR_TAIL_LINES;

/// How an executable may serve warm, and its `#!` interpreter words if any.
type ProgramWarmth = (WarmFlavour, Vec<OsString>);

/// How each worker command may run warm, found once per run.
#[derive(Debug, Default)]
pub(super) struct WarmChecks {
    /// By program path: `Some((flavour, interpreter words))` when warm is possible.
    programs: Mutex<HashMap<PathBuf, Option<ProgramWarmth>>>,
    loader: OnceLock<Result<PathBuf, String>>,
}

impl WarmChecks {
    /// The warm command for `plan`, or `None` when it runs one process per call.
    pub(super) fn key(
        &self,
        plan: &LaunchPlan,
        tkr_dir: &Path,
        worker: &str,
        storage: &dyn ControllerStorage,
    ) -> Option<Arc<WarmKey>> {
        if plan.warm.enabled == Some(false) {
            return None;
        }
        let (flavour, program, args) = match plan.kind {
            WorkerKind::Shell | WorkerKind::Stdio => return None,
            WorkerKind::Python | WorkerKind::Uv => {
                let script = plan.args.last()?;
                let dir = plan.cwd.clone().unwrap_or_default();
                if !python_script_may_serve(&dir.join(script)) {
                    return None;
                }
                let loader = self.loader(tkr_dir, storage)?;
                let mut args = Vec::new();
                if plan.kind == WorkerKind::Uv {
                    // `uv run main.py` → `uv run python LOADER main.py`.
                    args.extend(plan.args[..plan.args.len() - 1].iter().cloned());
                    args.push("python".into());
                }
                args.push(loader.into_os_string());
                args.push(script.clone());
                (WarmFlavour::Python, plan.program.clone(), args)
            }
            WorkerKind::Binary => {
                if !plan.args.is_empty() {
                    return None;
                }
                let path = PathBuf::from(&plan.program);
                let found = {
                    let mut programs = self.programs.lock().unwrap_or_else(|e| e.into_inner());
                    programs
                        .entry(path.clone())
                        .or_insert_with(|| inspect_program(&path))
                        .clone()
                };
                match found? {
                    (WarmFlavour::RustSdk, _) => {
                        (WarmFlavour::RustSdk, plan.program.clone(), vec![])
                    }
                    (WarmFlavour::Python, interpreter) => {
                        let (first, rest) = interpreter.split_first()?;
                        let loader = self.loader(tkr_dir, storage)?;
                        let mut args = rest.to_vec();
                        args.push(loader.into_os_string());
                        args.push(plan.program.clone());
                        (WarmFlavour::Python, first.clone(), args)
                    }
                }
            }
        };
        let mut env = plan.env.clone();
        let dir = tkr_dir.to_string_lossy().into_owned();
        env.insert("checkpoints_directory".into(), dir.clone());
        env.insert(TKR_DIR_KEY.into(), dir);
        env.insert(WARM_ENV.into(), WARM_MARKER.into());
        Some(Arc::new(WarmKey {
            spec: Spec {
                program,
                args,
                cwd: plan.cwd.clone(),
                env,
                stdin: None,
                stdout: None,
                stdin_pipe: true,
            },
            flavour,
            executor_name: match (flavour, plan.kind) {
                (WarmFlavour::RustSdk, _) => "binary-warm",
                (WarmFlavour::Python, WorkerKind::Uv) => "uv-warm",
                (WarmFlavour::Python, _) => "python-warm",
            },
            worker: worker.to_string(),
            max_calls: plan.warm.max_calls,
            memory_limit: plan.warm.memory_limit,
        }))
    }

    /// The loader file, written once per run (see [`write_loader`]).
    fn loader(&self, tkr_dir: &Path, storage: &dyn ControllerStorage) -> Option<PathBuf> {
        let r = self.loader.get_or_init(|| {
            let r = write_loader(tkr_dir);
            if let Err(e) = &r {
                tracing::warn!(error = %e, "Python workers run one process per call");
                let _ = storage.append_workflow_log(&format!(
                    "tkr: Python workers run one process per call: {e}"
                ));
            }
            r
        });
        r.as_ref().ok().cloned()
    }
}

/// Whether importing the Python script at `path` is safe and may find a
/// `Worker`: it has a `__name__` guard, and mentions `Worker` or imports its
/// entry point from a package (a console script).
fn python_script_may_serve(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.contains("__name__")
        && (text.contains("Worker")
            || text
                .lines()
                .any(|l| l.starts_with("from ") && l.contains(" import ")))
}

/// How the executable at `path` may serve warm: a Python script (its `#!`
/// interpreter words), a Rust SDK binary (the protocol marker inside), or not.
fn inspect_program(path: &Path) -> Option<ProgramWarmth> {
    let bytes = std::fs::read(path).ok()?;
    if let Some(rest) = bytes.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?;
        let words: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        if line.contains("python") && python_script_may_serve(path) {
            return Some((WarmFlavour::Python, words));
        }
        return None;
    }
    memchr::memmem::find(&bytes, WARM_MARKER.as_bytes()).map(|_| (WarmFlavour::RustSdk, vec![]))
}

/// Writes the loader once, named by a hash of its content, through a
/// temporary file and a rename; returns its path. It goes beside the
/// checkpoint folder (`<TKR_DIR>/../tierkreis-rs/`: workers see that folder's
/// surroundings, even in a container that mounts it), else under the cache
/// folder (`$XDG_CACHE_HOME` or `~/.cache`).
fn write_loader(tkr_dir: &Path) -> Result<PathBuf, String> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    let beside = tkr_dir.parent().map(|p| p.join("tierkreis-rs"));
    let dirs: Vec<PathBuf> = beside
        .into_iter()
        .chain(cache.map(|c| c.join("tierkreis-rs")))
        .collect();
    let name = format!("warm-loader-{:016x}.py", fnv1a(PYTHON_LOADER.as_bytes()));
    let mut errors = Vec::new();
    for dir in dirs {
        let path = dir.join(&name);
        if std::fs::read(&path).is_ok_and(|b| b == PYTHON_LOADER.as_bytes()) {
            return Ok(path);
        }
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let r = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&tmp, PYTHON_LOADER))
            .and_then(|()| std::fs::rename(&tmp, &path));
        match r {
            Ok(()) => return Ok(path),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                errors.push(format!("{}: {e}", path.display()));
            }
        }
    }
    Err(format!(
        "cannot write the warm loader ({})",
        errors.join("; ")
    ))
}

/// FNV-1a, 64 bits: a stable content hash for the loader's file name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A line from a warm process's stdout, or its exit.
enum Line {
    Reply(WarmReply),
    Other(String),
    Eof,
    /// The process exited (it is not reaped yet). Its stdout may stay open
    /// for long after: a child it forked holds it.
    Exited,
}

/// How a call on a warm process ended.
pub(crate) enum CallEnd {
    /// The worker answered; `Some` when the call raised.
    Replied(Option<Raised>),
    TimedOut(f64),
    Died(std::io::Result<ExitStatus>),
    MemoryExceeded {
        rss: u64,
        limit: u64,
    },
    Protocol(String),
}

/// A call that raised past the worker's error handling.
pub(crate) struct Raised {
    message: String,
    /// The status its one-shot process would have exited with.
    exit_status: i32,
}

/// One running warm process.
pub(crate) struct WarmProcess {
    child: Child,
    pub(crate) pid: u32,
    pub(crate) pgid: Pid,
    stdin: Option<ChildStdin>,
    replies: Receiver<Line>,
    /// Dropped after the process is reaped and its group killed.
    _registration: super::guardian::GroupRegistration,
}

impl WarmProcess {
    /// Spawns the warm command and waits for its handshake; `Err` says why
    /// the worker cannot serve warm.
    /// `spawned` gets the process group at once (the pool records it, so a
    /// stop reaches a process that is still importing its worker).
    pub(crate) fn start(
        key: &WarmKey,
        storage: &Arc<dyn ControllerStorage>,
        spawned: impl FnOnce(Pid),
    ) -> Result<Self, String> {
        let (mut child, registration) = key
            .spec
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", key.spec.command_line()))?;
        let pid = child.id();
        let Ok(raw) = i32::try_from(pid) else {
            let _ = child.kill();
            return Err(format!("process id {pid} is out of range"));
        };
        let pgid = Pid::from_raw(raw);
        spawned(pgid);
        let (tx, replies) = channel();
        let exit_tx = tx.clone();
        std::thread::spawn(move || watch_exit(pgid, exit_tx));
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || read_replies(out, tx));
        }
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            let prefix = format!("[warm {} pid {pid}] ", key.worker);
            let (storage, tail) = (storage.clone(), tail.clone());
            std::thread::spawn(move || log_lines(err, storage, prefix, tail));
        }
        let mut process = WarmProcess {
            stdin: child.stdin.take(),
            child,
            pid,
            pgid,
            replies,
            _registration: registration,
        };
        let tail_text = |tail: &Mutex<VecDeque<String>>| {
            let t = tail.lock().unwrap_or_else(|e| e.into_inner());
            if t.is_empty() {
                String::new()
            } else {
                format!(
                    "; last lines of its stderr:\n{}",
                    Vec::from(t.clone()).join("\n")
                )
            }
        };
        match process.replies.recv_timeout(HANDSHAKE_TIMEOUT) {
            Ok(Line::Reply(WarmReply::Ready { .. })) => Ok(process),
            Ok(Line::Reply(WarmReply::Refused { reason })) => {
                process.end(Duration::from_secs(2));
                Err(reason)
            }
            Ok(Line::Reply(other)) => {
                process.kill();
                Err(format!(
                    "the warm process answered {other:?} before any call"
                ))
            }
            Ok(Line::Other(line)) => {
                process.kill();
                Err(format!(
                    "the warm process answered {line:?}, which is not the warm protocol"
                ))
            }
            Ok(Line::Eof | Line::Exited) | Err(RecvTimeoutError::Disconnected) => {
                let status = process.reap(Duration::from_secs(2));
                // The stderr reader may lag behind the exit a little.
                std::thread::sleep(Duration::from_millis(50));
                Err(format!(
                    "the warm process {} before answering{}",
                    describe(&status).1,
                    tail_text(&tail)
                ))
            }
            Err(RecvTimeoutError::Timeout) => {
                process.kill();
                Err(format!(
                    "the warm process did not answer within {}s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ))
            }
        }
    }

    /// Runs `job` on this process.
    pub(crate) fn call(&mut self, job: &Job, key: &WarmKey, grace: Duration) -> CallEnd {
        let log = std::path::absolute(job.storage.worker_logs_path(&job.loc))
            .unwrap_or_else(|_| job.storage.worker_logs_path(&job.loc));
        let call = WarmCall {
            call_args: job.call_args_path.clone(),
            log,
        };
        let mut line = match serde_json::to_string(&call) {
            Ok(l) => l,
            Err(e) => return CallEnd::Protocol(format!("cannot encode the call: {e}")),
        };
        line.push('\n');
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin is closed")),
        };
        if sent.is_err() {
            return CallEnd::Died(self.reap(grace));
        }
        let started = Instant::now();
        loop {
            let left = job.timeout.map(|t| t.saturating_sub(started.elapsed()));
            let step = match (left, key.memory_limit) {
                (Some(l), Some(_)) => l.min(MEMORY_CHECK_EVERY),
                (Some(l), None) => l,
                (None, Some(_)) => MEMORY_CHECK_EVERY,
                (None, None) => Duration::from_secs(3600),
            };
            match self.replies.recv_timeout(step) {
                Ok(Line::Reply(WarmReply::Finished)) => return CallEnd::Replied(None),
                Ok(Line::Reply(WarmReply::Raised {
                    message,
                    exit_status,
                })) => {
                    return CallEnd::Replied(Some(Raised {
                        message,
                        exit_status: exit_status.unwrap_or(1),
                    }))
                }
                Ok(Line::Reply(other)) => {
                    self.kill();
                    return CallEnd::Protocol(format!("{other:?}"));
                }
                Ok(Line::Other(l)) => {
                    self.kill();
                    return CallEnd::Protocol(l);
                }
                Ok(Line::Eof | Line::Exited) | Err(RecvTimeoutError::Disconnected) => {
                    return CallEnd::Died(self.reap(grace))
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let (Some(t), Some(l)) = (job.timeout, left) {
                        if l <= step {
                            self.stop(grace);
                            return CallEnd::TimedOut(t.as_secs_f64());
                        }
                    }
                    if let Some(limit) = key.memory_limit {
                        if let Some(rss) = self.rss().filter(|r| *r > limit) {
                            self.kill();
                            return CallEnd::MemoryExceeded { rss, limit };
                        }
                    }
                }
            }
        }
    }

    /// The resident memory of the process's group (a `uv run` wrapper and
    /// its Python, children a call started), as for one-shot tasks.
    pub(crate) fn rss(&self) -> Option<u64> {
        crate::executor::worker_process::outcome::group_resident_memory(self.pgid)
    }

    /// Waits for the exit, up to `grace`, then kills the group.
    fn reap(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    let _ = killpg(self.pgid, Signal::SIGKILL);
                    return Ok(s);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = killpg(self.pgid, Signal::SIGKILL);
                    return self.child.wait();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// SIGTERM to the group, the grace period, then SIGKILL.
    fn stop(&mut self, grace: Duration) {
        let _ = killpg(self.pgid, Signal::SIGTERM);
        let _ = self.reap(grace);
    }

    pub(crate) fn kill(&mut self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Closes stdin (the process exits by itself), then reaps it.
    pub(crate) fn end(&mut self, grace: Duration) {
        self.stdin = None;
        let _ = self.reap(grace);
    }
}

/// Sends [`Line::Exited`] once warm process `pid` exits, without reaping it
/// (the [`Child`] still does), so a call ends with its process even when a
/// child it forked keeps the reply pipe open.
fn watch_exit(pid: Pid, tx: Sender<Line>) {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    // Exited, or already reaped (ECHILD): either way it is gone.
    while let Err(nix::errno::Errno::EINTR) =
        waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    {}
    let _ = tx.send(Line::Exited);
}

fn read_replies(out: impl Read, tx: Sender<Line>) {
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Line::Eof);
                return;
            }
            Ok(_) => {}
        }
        let msg = match serde_json::from_str::<WarmReply>(line.trim_end()) {
            Ok(r) => Line::Reply(r),
            Err(_) => Line::Other(line.trim_end().to_string()),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// A warm process's stderr between calls: to the workflow log, keeping a tail.
fn log_lines(
    err: impl Read,
    storage: Arc<dyn ControllerStorage>,
    prefix: String,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let reader = BufReader::new(err);
    for line in reader.split(b'\n') {
        let Ok(line) = line else { break };
        let text = String::from_utf8_lossy(&line).into_owned();
        let _ = storage.append_workflow_log(&format!("{prefix}{text}"));
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(text);
    }
}

/// "exited with status 3", "was killed by signal 11 (SIGSEGV)", with the
/// kind of failure that is for the call the process was running.
fn describe(status: &std::io::Result<ExitStatus>) -> (FailureKind, String) {
    match status {
        Err(e) => (
            FailureKind::ExitedWithoutMarkers,
            format!("could not be waited for ({e})"),
        ),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => (
                FailureKind::ExitedWithStatus(code),
                format!("exited with status {code}"),
            ),
            (None, Some(sig)) => {
                let name = Signal::try_from(sig).map_or("unknown", |s| s.as_str());
                (
                    FailureKind::KilledBySignal(sig),
                    format!("was killed by signal {sig} ({name})"),
                )
            }
            (None, None) => (FailureKind::ExitedWithoutMarkers, format!("ended with {s}")),
        },
    }
}

/// The node log's length now (where this call's lines start).
pub(crate) fn log_len(job: &Job) -> u64 {
    std::fs::metadata(job.storage.worker_logs_path(&job.loc)).map_or(0, |m| m.len())
}

/// The node log from byte `from` on.
fn log_since(job: &Job, from: u64) -> String {
    let bytes = std::fs::read(job.storage.worker_logs_path(&job.loc)).unwrap_or_default();
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// What introduces the end of a call's log in a failure message.
const LOG_TAIL_HEADING: &str = "\nlast lines of its log:\n";

/// The last lines of this call's log, for an error message.
fn tail_since(job: &Job, from: u64) -> String {
    let text = log_since(job, from);
    let lines = tierkreis_storage::log_tail::last_lines(&text, TAIL_LINES);
    if lines.is_empty() {
        return String::new();
    }
    format!("{LOG_TAIL_HEADING}{}\n", lines.join("\n"))
}

/// This call's log lines, prefixed with the location, into the workflow log
/// (as the one-shot path copies them).
pub(crate) fn copy_to_workflow_log(job: &Job, from: u64) {
    let text = log_since(job, from);
    if text.is_empty() {
        return;
    }
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.lines() {
        out.push_str(&format!("[{}] {line}\n", job.loc));
    }
    let _ = job.storage.append(&job.storage.logs_path(), out.as_bytes());
}

/// How the call of `job` went, writing `_error` when the worker did not.
pub(crate) fn conclude(
    job: &Job,
    key: &WarmKey,
    pid: u32,
    end: &CallEnd,
    from: u64,
) -> Result<(), TaskFailure> {
    let storage = job.storage.as_ref();
    let loc = &job.loc;
    let who = format!("worker {:?} ({} at {loc})", job.worker, key.executor_name);
    let markers = |who: &str| {
        if storage.is_node_finished(loc) {
            Some(outputs_complete(job, who))
        } else if storage.node_has_error(loc) {
            let message = storage
                .read_errors(loc)
                .unwrap_or_else(|e| format!("{who} failed (its error text is unreadable: {e})"));
            Some(Err(TaskFailure::new(
                FailureKind::WorkerReportedError,
                message,
            )))
        } else {
            None
        }
    };
    let (kind, message) = match end {
        CallEnd::Replied(raised) => {
            if let Some(r) = markers(&who) {
                return r;
            }
            match raised {
                None => (
                    FailureKind::ExitedWithoutMarkers,
                    format!("{who} returned without marking done or error"),
                ),
                // Classified as the exit of the one-shot process it stands
                // for, so retries treat a raise the same warm or not.
                Some(Raised {
                    message,
                    exit_status: 0,
                }) => (
                    FailureKind::ExitedWithoutMarkers,
                    format!(
                        "{who} raised {message} without marking done or error{}",
                        tail_since(job, from)
                    ),
                ),
                Some(Raised {
                    message,
                    exit_status,
                }) => (
                    FailureKind::ExitedWithStatus(*exit_status),
                    format!("{who} raised {message}{}", tail_since(job, from)),
                ),
            }
        }
        CallEnd::Died(status) => {
            if let Some(r) = markers(&who) {
                return r;
            }
            let (kind, how) = describe(status);
            (
                kind,
                format!(
                    "{who}: its warm process {pid} {how} while running this task{}",
                    tail_since(job, from)
                ),
            )
        }
        CallEnd::TimedOut(secs) => (
            FailureKind::TimedOut,
            format!("{who} timed out after {secs}s and was stopped (warm process {pid})"),
        ),
        CallEnd::MemoryExceeded { rss, limit } => (
            FailureKind::MemoryLimitExceeded,
            format!(
                "{who}: its warm process {pid} grew to {} MiB, past memory_limit {} MiB, \
                 while running this task, and was stopped",
                rss >> 20,
                limit >> 20
            ),
        ),
        CallEnd::Protocol(line) => (
            FailureKind::ExitedWithoutMarkers,
            format!(
                "{who}: its warm process {pid} answered {line:?}, which is not the warm \
                 protocol; it was stopped"
            ),
        ),
    };
    // The node log holds the call's output already: not its tail again.
    let summary = message.split(LOG_TAIL_HEADING).next().unwrap_or(&message);
    fail(job, summary);
    Err(TaskFailure::new(kind, message))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_with_the_marker_is_a_rust_sdk_worker_and_scripts_are_read_by_their_shebang() {
        let t = tempfile::tempdir().unwrap();
        let sdk = t.path().join("sdk");
        let mut bytes = vec![0u8, 1, 2, 0x7f];
        bytes.extend_from_slice(WARM_MARKER.as_bytes());
        std::fs::write(&sdk, bytes).unwrap();
        assert_eq!(inspect_program(&sdk), Some((WarmFlavour::RustSdk, vec![])));
        let plain = t.path().join("plain");
        std::fs::write(&plain, [0x7fu8, b'E', b'L', b'F', 0, 0]).unwrap();
        assert_eq!(inspect_program(&plain), None);
        let console = t.path().join("tkr-x-worker");
        std::fs::write(
            &console,
            "#!/opt/tk/bin/python -s\nimport sys\nfrom x_impl.main import main\n\
             if __name__ == '__main__':\n    sys.exit(main())\n",
        )
        .unwrap();
        assert_eq!(
            inspect_program(&console),
            Some((
                WarmFlavour::Python,
                vec!["/opt/tk/bin/python".into(), "-s".into()]
            ))
        );
        // A script that does its work at import time is never imported.
        let eager = t.path().join("eager");
        std::fs::write(&eager, "#!/usr/bin/python3\nprint('work')\n").unwrap();
        assert_eq!(inspect_program(&eager), None);
        let shell = t.path().join("sh");
        std::fs::write(&shell, "#!/bin/sh\nexit 0\n").unwrap();
        assert_eq!(inspect_program(&shell), None);
    }

    #[test]
    fn the_loader_is_written_once_by_content_hash() {
        let t = tempfile::tempdir().unwrap();
        let a = write_loader(&t.path().join("checkpoints")).unwrap();
        assert_eq!(a.parent().unwrap(), t.path().join("tierkreis-rs"));
        assert_eq!(std::fs::read_to_string(&a).unwrap(), PYTHON_LOADER);
        let b = write_loader(&t.path().join("checkpoints")).unwrap();
        assert_eq!(a, b);
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("warm-loader-"));
    }
}
