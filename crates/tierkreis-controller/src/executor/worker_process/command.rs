//! A worker process's command line and environment: what to spawn for a
//! task (one-shot, or the warm command that may serve it), and the one spawn
//! helper (working directory, environment, stdio, process group, guardian).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::unistd::Pid;
use tierkreis_core::WorkerCallArgs;
use tierkreis_storage::{ControllerStorage, TKR_DIR_KEY};

use crate::executor::config::WorkerKind;
use crate::executor::discovery::LaunchPlan;

/// Everything needed to spawn one process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// Variables added to the controller's environment.
    pub env: BTreeMap<String, String>,
    /// A file given as stdin (else stdin is empty).
    pub stdin: Option<PathBuf>,
    /// A file that receives stdout (else stdout is captured into the logs).
    pub stdout: Option<PathBuf>,
    /// A pipe as stdin (for warm processes), instead of `stdin` or nothing.
    pub stdin_pipe: bool,
}

impl Spec {
    /// The command as a shell line, for debug data and messages.
    pub fn command_line(&self) -> String {
        let mut line = String::new();
        if let Some(cwd) = &self.cwd {
            let _ = write!(line, "cd {} && ", quote_for_display(cwd.as_os_str()));
        }
        line.push_str(&quote_for_display(&self.program));
        for a in &self.args {
            line.push(' ');
            line.push_str(&quote_for_display(a));
        }
        if let Some(p) = &self.stdin {
            let _ = write!(line, " < {}", quote_for_display(p.as_os_str()));
        }
        if let Some(p) = &self.stdout {
            let _ = write!(line, " > {}", quote_for_display(p.as_os_str()));
        }
        line
    }

    /// The one spawn helper: working directory, environment, stdio, and a
    /// process group of its own (so stopping reaches its children too and a
    /// Ctrl-C at the terminal reaches only the controller), registered with
    /// the controller's guardian (see [`super::guardian`]) so that it ends
    /// with the controller however the controller ends. Keep the
    /// registration until the group is ended, then drop it.
    pub fn spawn(&self) -> std::io::Result<(Child, crate::executor::guardian::GroupRegistration)> {
        let mut c = Command::new(&self.program);
        c.args(&self.args)
            .envs(&self.env)
            .process_group(0)
            .stderr(Stdio::piped());
        if let Some(cwd) = &self.cwd {
            c.current_dir(cwd);
        }
        match &self.stdin {
            Some(p) => c.stdin(std::fs::File::open(p)?),
            None if self.stdin_pipe => c.stdin(Stdio::piped()),
            None => c.stdin(Stdio::null()),
        };
        match &self.stdout {
            Some(p) => c.stdout(std::fs::File::create(p)?),
            None => c.stdout(Stdio::piped()),
        };
        let mut child = c.spawn()?;
        let Ok(pgid) = i32::try_from(child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "process id {} is out of range",
                child.id()
            )));
        };
        let registration = crate::executor::guardian::register(Pid::from_raw(pgid));
        Ok((child, registration))
    }
}

/// `word` quoted for a POSIX shell, byte for byte (`shlex`): bare when it
/// needs no quotes, so a path that is not UTF-8 stays the same path. `None`
/// for a word with a NUL byte, which no shell word (nor program argument)
/// can hold.
pub(crate) fn shell_quote(word: &std::ffi::OsStr) -> Option<std::borrow::Cow<'_, [u8]>> {
    use std::os::unix::ffi::OsStrExt;
    shlex::bytes::try_quote(word.as_bytes()).ok()
}

/// [`shell_quote`] for messages and logs: bytes that are not UTF-8 are shown
/// as U+FFFD, and a NUL byte is shown rather than refused.
pub(crate) fn quote_for_display(word: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    let quoted = shlex::bytes::Quoter::new()
        .allow_nul(true)
        .quote(word.as_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&quoted).into_owned()
}

/// The environment a worker process gets (on top of the controller's): the
/// reference shell executor's variables, with absolute paths, plus
/// `TKR_DIR` and `worker_call_args_file`.
pub fn worker_env(
    tkr_dir: &Path,
    call_args: &WorkerCallArgs,
    call_args_path: &Path,
    workflow_logs: &Path,
) -> BTreeMap<String, String> {
    let abs = |p: &Path| tkr_dir.join(p).to_string_lossy().into_owned();
    let mut env = BTreeMap::new();
    env.insert(
        "checkpoints_directory".into(),
        tkr_dir.to_string_lossy().into_owned(),
    );
    // The reference joins the function name to the checkpoint folder too.
    env.insert(
        "function_name".into(),
        abs(Path::new(&call_args.function_name)),
    );
    env.insert("done_path".into(), abs(&call_args.done_path));
    env.insert("error_path".into(), abs(&call_args.error_path));
    env.insert("output_dir".into(), abs(&call_args.output_dir));
    let logs = match &call_args.logs_path {
        Some(p) => abs(p),
        None => workflow_logs.to_string_lossy().into_owned(),
    };
    env.insert("logs_path".into(), logs);
    for (port, p) in &call_args.outputs {
        env.insert(format!("output_{port}_file"), abs(p));
    }
    for (port, p) in &call_args.inputs {
        env.insert(format!("input_{port}_file"), abs(p));
    }
    env.insert("worker_call_args_file".into(), abs(call_args_path));
    env.insert(TKR_DIR_KEY.into(), tkr_dir.to_string_lossy().into_owned());
    env
}

/// What serves a warm worker's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarmFlavour {
    /// The Python loader around a `tierkreis.worker.Worker`.
    Python,
    /// A Rust SDK binary's own serving mode.
    RustSdk,
}

/// One warm command: tasks with equal keys can share a process.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WarmKey {
    pub(crate) spec: Spec,
    pub(crate) flavour: WarmFlavour,
    /// The executor name in debug data and messages: `python-warm`,
    /// `uv-warm` or `binary-warm` (after `tierkreis-rs:`).
    pub(crate) executor_name: &'static str,
    pub(crate) worker: String,
    pub(crate) max_calls: Option<u64>,
    pub(crate) memory_limit: Option<u64>,
}

/// The process of one task: the plan's command with the task's call-args
/// path, the worker environment, and stdio files for kind `stdio`.
pub(crate) fn build_spec(
    plan: &LaunchPlan,
    tkr_dir: &Path,
    call_args: &WorkerCallArgs,
    call_args_path: &Path,
    storage: &dyn ControllerStorage,
) -> Result<Spec, String> {
    let mut env = worker_env(tkr_dir, call_args, call_args_path, &storage.logs_path());
    env.extend(plan.env.clone());
    let mut args = plan.args.clone();
    let (mut stdin, mut stdout) = (None, None);
    if plan.kind == WorkerKind::Stdio {
        let input = call_args.inputs.values().next().ok_or_else(|| {
            "a stdio worker needs an input to give on stdin, and the task has none".to_string()
        })?;
        let output = call_args.outputs.values().next().ok_or_else(|| {
            "a stdio worker needs an output for its stdout, and the task has none".to_string()
        })?;
        stdin = Some(tkr_dir.join(input));
        stdout = Some(tkr_dir.join(output));
    } else {
        // Relative to TKR_DIR, like the reference's executors.
        args.push(call_args_path.as_os_str().to_owned());
    }
    Ok(Spec {
        program: plan.program.clone(),
        args,
        cwd: plan.cwd.clone(),
        env,
        stdin,
        stdout,
        stdin_pipe: false,
    })
}
