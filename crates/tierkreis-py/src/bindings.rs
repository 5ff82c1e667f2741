//! The `#[pymodule]`: runs a workflow on an engine thread while the calling
//! thread, without the GIL, waits for progress and checks for Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use indexmap::IndexMap;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tierkreis_controller::embedded::{
    self, EngineError, EngineSettings, WorkflowReport, WorkflowStart,
};
use tierkreis_controller::engine::RunSettings;
use tierkreis_controller::executor::ExecutorConfig;
use tierkreis_controller::runtime::RunEventChannel;
use tierkreis_controller::scheduler::{Breakpoints, Outcome, Progress};
use tierkreis_core::{GraphData, Loc};
use tierkreis_storage::FileControllerStorage;
use uuid::Uuid;

create_exception!(
    _native,
    EngineFailure,
    PyException,
    "The engine could not run the workflow (bad graph, storage, lock, configuration)."
);

/// How often the waiting thread wakes up to check for Ctrl-C.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// What the engine thread tells the waiting thread.
enum EngineMessage {
    Progress(Progress),
    Done(Result<WorkflowReport, EngineError>),
}

/// An error and its causes, one line: `outer: cause: root cause`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn engine_failure(error: &dyn std::error::Error) -> PyErr {
    EngineFailure::new_err(error_chain(error))
}

fn parse_workflow_id(text: &str) -> PyResult<Uuid> {
    Uuid::parse_str(text)
        .map_err(|e| PyValueError::new_err(format!("{text:?} is not a workflow id (UUID): {e}")))
}

/// The executor configuration given as text, parsed; a file given instead
/// is loaded by the engine (which records its path with the run's settings).
fn executor_config(
    config_toml: Option<&str>,
    config_path: Option<&Path>,
) -> PyResult<Option<ExecutorConfig>> {
    match (config_toml, config_path) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "give the executor configuration as text or as a file, not both",
        )),
        (Some(text), None) => {
            let base = std::env::current_dir().unwrap_or_default();
            ExecutorConfig::parse(
                text,
                Path::new("<executor configuration from Python>"),
                &base,
            )
            .map(Some)
            .map_err(|e| engine_failure(&e))
        }
        (None, _) => Ok(None),
    }
}

/// Runs (`mode="run"`), resumes (`"resume"`) or restarts (`"restart"`, at
/// `loc`) the workflow `workflow_id` in `tkr_dir` to its end. Returns a dict
/// with `workflow_id`, `workflow_dir`, `outcome` (`"finished"`, `"failed"`,
/// `"paused"` or `"stalled"`), `failures` (`[(loc, error_text)]`),
/// `paused_at` (`[loc]`) and node counts. `warm=False` runs every task in a
/// process of its own. `breakpoints` pauses at nodes whose metadata has a
/// breakpoint, `break_at` at the named locations, nodes or functions;
/// `only_these_breakpoints` makes a resume forget the run's own breakpoints
/// (the reference's `resume_graph`). `cache` reuses results of identical
/// earlier tasks in `tkr_dir`; `retries` retries failed tasks without a
/// configured `retries` that many times. `task_timeout` (seconds) fails a
/// task without a configured timeout that runs longer; `uv` runs Python
/// workers with `uv run`; `warm_prestart` starts a warm process for each
/// worker the graph names when the run starts. These are `tkr run`'s
/// settings: a new run records them, and a resume or restart uses the
/// recorded ones with the given ones on top.
/// `progress(started, finished, running, failed)` is called as the run goes.
/// Ctrl-C stops the workers, leaves the run resumable and raises
/// `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (
    mode, tkr_dir, workflow_id, *, name=None, graph_json=None, inputs=None, loc=None,
    registries=Vec::new(), config_toml=None, config_path=None, jobs=None, progress=None,
    warm=true, breakpoints=false, break_at=Vec::new(), only_these_breakpoints=false,
    cache=false, retries=None, task_timeout=None, uv=false, warm_prestart=false
))]
#[allow(clippy::too_many_arguments)]
fn run_workflow(
    py: Python<'_>,
    mode: &str,
    tkr_dir: PathBuf,
    workflow_id: &str,
    name: Option<String>,
    graph_json: Option<Bound<'_, PyBytes>>,
    inputs: Option<Vec<(String, Bound<'_, PyBytes>)>>,
    loc: Option<&str>,
    registries: Vec<PathBuf>,
    config_toml: Option<&str>,
    config_path: Option<PathBuf>,
    jobs: Option<u64>,
    progress: Option<PyObject>,
    warm: bool,
    breakpoints: bool,
    break_at: Vec<String>,
    only_these_breakpoints: bool,
    cache: bool,
    retries: Option<u32>,
    task_timeout: Option<f64>,
    uv: bool,
    warm_prestart: bool,
) -> PyResult<PyObject> {
    let workflow_id = parse_workflow_id(workflow_id)?;
    let start = match mode {
        "run" => {
            let bytes =
                graph_json.ok_or_else(|| PyValueError::new_err("mode \"run\" needs graph_json"))?;
            let graph = GraphData::from_json(bytes.as_bytes()).map_err(|e| {
                PyValueError::new_err(format!(
                    "the graph is not a valid graph: {}",
                    error_chain(&e)
                ))
            })?;
            WorkflowStart::New {
                graph: Box::new(graph),
                inputs: inputs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(port, value)| (port, value.as_bytes().to_vec()))
                    .collect::<IndexMap<_, _>>(),
                workflow_id,
                name,
            }
        }
        "resume" => WorkflowStart::Resume { workflow_id },
        "restart" => {
            let text = loc.ok_or_else(|| PyValueError::new_err("mode \"restart\" needs loc"))?;
            let loc: Loc = text
                .parse()
                .map_err(|e| PyValueError::new_err(format!("{text:?} is not a location: {e}")))?;
            WorkflowStart::Restart { workflow_id, loc }
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "mode must be \"run\", \"resume\" or \"restart\", not {other:?}"
            )))
        }
    };
    if let Some(secs) = task_timeout.filter(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(PyValueError::new_err(format!(
            "task_timeout must be a positive number of seconds, not {secs}"
        )));
    }
    let settings = EngineSettings {
        tkr_dir,
        config: executor_config(config_toml, config_path.as_deref())?,
        run: RunSettings {
            registries,
            config: config_path,
            jobs,
            task_timeout,
            no_warm: !warm,
            warm_prestart: warm_prestart && warm,
            cache,
            retries,
            prefer_uv: uv,
            batch_poll_secs: None,
            python: None,
        },
        breakpoints: Breakpoints {
            from_metadata: breakpoints,
            break_at,
            passed: Vec::new(),
        },
        only_these_breakpoints,
    };
    let report = drive_on_engine_thread(py, start, settings, progress.as_ref())?;
    report_to_dict(py, &report)
}

/// Runs the workflow on a thread of its own; this thread waits without the
/// GIL, forwards progress to `progress` and turns Ctrl-C into a stop request.
fn drive_on_engine_thread(
    py: Python<'_>,
    start: WorkflowStart,
    settings: EngineSettings,
    progress: Option<&PyObject>,
) -> PyResult<WorkflowReport> {
    let (tx, rx) = channel::<EngineMessage>();
    let events = RunEventChannel::new();
    let stop = events.stop_handle();
    let engine = std::thread::Builder::new()
        .name("tierkreis-rs engine".to_string())
        .spawn(move || {
            let progress_tx = tx.clone();
            let result = embedded::run_workflow(start, &settings, events, &mut |p| {
                let _ = progress_tx.send(EngineMessage::Progress(p));
            });
            let _ = tx.send(EngineMessage::Done(result));
        })
        .map_err(|e| EngineFailure::new_err(format!("cannot start the engine thread: {e}")))?;
    let mut interruption: Option<PyErr> = None;
    let mut rx = rx;
    let outcome = loop {
        // The receiver moves into the GIL-free closure and back out again.
        let (message, back) = py.allow_threads(move || {
            let message = rx.recv_timeout(SIGNAL_CHECK_INTERVAL);
            (message, rx)
        });
        rx = back;
        let mut latest = None;
        let mut done = None;
        match message {
            Ok(EngineMessage::Progress(p)) => latest = Some(p),
            Ok(EngineMessage::Done(r)) => done = Some(r),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                break Err(EngineFailure::new_err(
                    "the engine thread ended without a result (it panicked)",
                ))
            }
        }
        // Only the latest counts matter: drain what queued up meanwhile.
        while done.is_none() {
            match rx.try_recv() {
                Ok(EngineMessage::Progress(p)) => latest = Some(p),
                Ok(EngineMessage::Done(r)) => done = Some(r),
                Err(_) => break,
            }
        }
        if let (Some(p), Some(callback), None) = (latest, progress, &interruption) {
            if let Err(e) = callback.call1(py, (p.started, p.finished, p.running, p.failed)) {
                stop.stop();
                interruption = Some(e);
            }
        }
        if let Some(result) = done {
            break result.map_err(|e| match e {
                EngineError::Stopped { .. } => {
                    pyo3::exceptions::PyKeyboardInterrupt::new_err(error_chain(&e))
                }
                other => engine_failure(&other),
            });
        }
        if interruption.is_none() {
            if let Err(e) = py.check_signals() {
                tracing::info!("interrupted from Python; stopping the run");
                stop.stop();
                interruption = Some(e);
            }
        }
    };
    let _ = py.allow_threads(|| engine.join());
    match interruption {
        Some(e) => Err(e),
        None => outcome,
    }
}

fn report_to_dict(py: Python<'_>, report: &WorkflowReport) -> PyResult<PyObject> {
    let dict = PyDict::new(py);
    dict.set_item("workflow_id", report.workflow_id.to_string())?;
    dict.set_item("workflow_dir", report.workflow_dir.clone())?;
    let outcome = match &report.outcome {
        Outcome::Finished => "finished",
        Outcome::Failed(_) => "failed",
        Outcome::Paused(_) => "paused",
        Outcome::Stalled(_) => "stalled",
        Outcome::Running => "running",
    };
    dict.set_item("outcome", outcome)?;
    let failures = PyList::empty(py);
    for f in &report.failures {
        failures.append((f.loc.to_string(), f.error.clone()))?;
    }
    dict.set_item("failures", failures)?;
    let paused_at = PyList::empty(py);
    if let Outcome::Paused(locs) = &report.outcome {
        for loc in locs {
            paused_at.append(loc.to_string())?;
        }
    }
    dict.set_item("paused_at", paused_at)?;
    // For `stalled`: "stalled because …", naming each waiting node and what it waits for.
    let stall_explanation = match &report.outcome {
        Outcome::Stalled(waiting) => {
            Some(tierkreis_controller::scheduler::stall_explanation(waiting))
        }
        _ => None,
    };
    dict.set_item("stall_explanation", stall_explanation)?;
    dict.set_item("started", report.progress.started)?;
    dict.set_item("finished", report.progress.finished)?;
    dict.set_item("failed", report.progress.failed)?;
    Ok(dict.into_any().unbind())
}

/// How the workflow in `workflow_dir` (`<tkr_dir>/<uuid>`) stands, by the
/// storage's one rule (`tkr ls`, `tkr show` and the web view use it too):
/// `"running"`, `"finished"`, `"failed"`, `"interrupted"`, `"not started"`
/// or `"paused"`.
#[pyfunction]
fn workflow_status(workflow_dir: PathBuf) -> PyResult<&'static str> {
    let (Some(tkr_dir), Some(name)) = (workflow_dir.parent(), workflow_dir.file_name()) else {
        return Err(PyValueError::new_err(format!(
            "{} is not a workflow folder (<checkpoints>/<workflow id>)",
            workflow_dir.display()
        )));
    };
    let workflow_id = parse_workflow_id(&name.to_string_lossy())?;
    let storage = FileControllerStorage::new(tkr_dir, workflow_id, None);
    Ok(tierkreis_storage::workflow_status(&storage).as_str())
}

/// The id of the workflow in `tkr_dir` that `run` names (a UUID, a workflow
/// name: the newest run of that name, or a unique id prefix), by `tkr`'s
/// rule; `EngineFailure` when it names none or several.
#[pyfunction]
fn find_workflow(tkr_dir: PathBuf, run: &str) -> PyResult<String> {
    tierkreis_storage::find_workflow::find_workflow(&tkr_dir, run)
        .map(|found| found.workflow_id.to_string())
        .map_err(|e| engine_failure(&e))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_workflow, m)?)?;
    m.add_function(wrap_pyfunction!(workflow_status, m)?)?;
    m.add_function(wrap_pyfunction!(find_workflow, m)?)?;
    m.add("EngineFailure", m.py().get_type::<EngineFailure>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
