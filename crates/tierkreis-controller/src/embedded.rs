//! One call that starts, resumes or restarts a workflow and drives it to its
//! end, for programs that embed the engine (the Python package) instead of
//! going through the `tkr` command line.
//!
//! It does what `tkr run` / `tkr resume` / `tkr restart` do between parsing
//! their flags and printing: open the file storage, take the workflow's lock,
//! write a new workflow's inputs or invalidate a restarted task, record the
//! run's settings (or reuse the recorded ones), build the engine as
//! [`crate::engine::assemble_engine`] does for `tkr run`, and run until the workflow finishes, fails, stalls or is
//! stopped through the [`RunEventChannel`]'s stop handle, or pauses at a
//! breakpoint.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_core::{GraphData, Loc, PortId};
use tierkreis_storage::{
    ControllerStorage, FileControllerStorage, LockError, StorageError, WorkflowLock,
};
use uuid::Uuid;

use crate::engine::{assemble_engine, workflow_started, Engine, RunSettings, RunSettingsError};
use crate::executor::{ConfigError, ExecutorConfig};
use crate::runtime::{self, RunError, RunEventChannel};
use crate::scheduler::{Breakpoints, GraphInfo, Outcome, PrepareError, Progress};

/// How a call begins.
#[derive(Debug, Clone)]
pub enum WorkflowStart {
    /// A new workflow `workflow_id` running `graph` on `inputs` (encoded values).
    New {
        graph: Box<GraphData>,
        inputs: IndexMap<PortId, Vec<u8>>,
        workflow_id: Uuid,
        name: Option<String>,
    },
    /// Continue an existing workflow (after a crash, a stop or a failure
    /// whose cause was fixed).
    Resume { workflow_id: Uuid },
    /// Re-run the task at `loc` and what depends on it, then continue.
    Restart { workflow_id: Uuid, loc: Loc },
}

impl WorkflowStart {
    /// The workflow this call is about.
    pub fn workflow_id(&self) -> Uuid {
        match self {
            WorkflowStart::New { workflow_id, .. }
            | WorkflowStart::Resume { workflow_id }
            | WorkflowStart::Restart { workflow_id, .. } => *workflow_id,
        }
    }
}

/// Where checkpoints live, how workers run and where the run pauses.
#[derive(Debug, Clone, Default)]
pub struct EngineSettings {
    /// The checkpoint folder (the workflow lives in `tkr_dir/<uuid>`).
    pub tkr_dir: PathBuf,
    /// How tasks run, as `tkr run`'s flags say it. A new run records them
    /// (paths made absolute); a resume or restart uses the recorded ones
    /// with these on top ([`RunSettings::overridden_by`]), as `tkr resume`
    /// does.
    pub run: RunSettings,
    /// The executor configuration given as parsed (the Python package's
    /// configuration text); `None` loads the file `run.config` names, else
    /// `./tkr.toml` when it exists.
    pub config: Option<ExecutorConfig>,
    /// Where to pause: `from_metadata` is the reference's
    /// `enable_breakpoints`, `break_at` is `tkr run --break-at`.
    pub breakpoints: Breakpoints,
    /// On resume, only [`EngineSettings::breakpoints`] count, as in the
    /// reference's `resume_graph(enable_breakpoints=...)`: the breakpoints
    /// the run was started with are forgotten, and without breakpoints a
    /// pause record is dropped and the run goes on past it. When `false`
    /// (as `tkr resume`), a resume keeps the run's own breakpoints.
    pub only_these_breakpoints: bool,
}

/// A failed node and its error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFailure {
    pub loc: Loc,
    pub error: String,
}

/// How a call ended, when the engine itself did not fail.
#[derive(Debug, Clone)]
pub struct WorkflowReport {
    pub workflow_id: Uuid,
    pub workflow_dir: PathBuf,
    /// `Finished`, `Failed`, `Paused` or `Stalled` (never `Running`).
    pub outcome: Outcome,
    /// Counts at the end of this call.
    pub progress: Progress,
    /// For `Failed`: each failed node with its error text.
    pub failures: Vec<NodeFailure>,
}

/// Why a call could not run the workflow to an outcome.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the graph is invalid")]
    InvalidGraph(#[from] PrepareError),
    #[error("break at {}: names no node of the graph (give a location such as -.N3, a named node, or a function name such as builtins.iadd)", .selectors.join(", "))]
    UnknownBreakpoints { selectors: Vec<String> },
    #[error("cannot forget the breakpoints of workflow {workflow_id}")]
    ForgetBreakpoints {
        workflow_id: Uuid,
        #[source]
        source: Box<StorageError>,
    },
    #[error("workflow {workflow_id} already exists in {}; resume it, clean it up, or use another id", .tkr_dir.display())]
    AlreadyExists { workflow_id: Uuid, tkr_dir: PathBuf },
    #[error("no workflow {workflow_id} in {}", .tkr_dir.display())]
    NoSuchWorkflow { workflow_id: Uuid, tkr_dir: PathBuf },
    #[error("cannot lock workflow {workflow_id}")]
    Lock {
        workflow_id: Uuid,
        #[source]
        source: LockError,
    },
    #[error("cannot use the settings of workflow {workflow_id}")]
    RunSettings {
        workflow_id: Uuid,
        #[source]
        source: RunSettingsError,
    },
    #[error("the executor configuration is invalid")]
    Config {
        #[source]
        source: ConfigError,
    },
    #[error("cannot restart {loc}")]
    Restart {
        loc: Loc,
        #[source]
        source: Box<StorageError>,
    },
    #[error("workflow {workflow_id} stopped: {stopped} running task(s) stopped, none marked failed; it can be resumed")]
    Stopped { workflow_id: Uuid, stopped: usize },
    #[error("running workflow {workflow_id} failed")]
    Run {
        workflow_id: Uuid,
        #[source]
        source: Box<RunError>,
    },
}

/// Starts, resumes or restarts a workflow in `settings.tkr_dir` and runs it
/// until it finishes, fails or stalls. `on_progress` sees every batch of
/// events; a stop through `events`' stop handle stops running workers and
/// returns [`EngineError::Stopped`] with the run left resumable.
pub fn run_workflow(
    start: WorkflowStart,
    settings: &EngineSettings,
    events: RunEventChannel,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<WorkflowReport, EngineError> {
    let workflow_id = start.workflow_id();
    let run_error = |source: RunError| EngineError::Run {
        workflow_id,
        source: Box::new(source),
    };
    let (name, new) = match &start {
        WorkflowStart::New { name, graph, .. } => {
            let prepared = GraphInfo::prepare(GraphData::clone(graph))?;
            check_breakpoints(&settings.breakpoints, &prepared)?;
            (name.clone(), true)
        }
        _ => (None, false),
    };
    let file_storage = FileControllerStorage::new(settings.tkr_dir.clone(), workflow_id, name);
    let started = workflow_started(file_storage.workflow_dir());
    let exists = file_storage.workflow_dir().exists();
    if new && started {
        return Err(EngineError::AlreadyExists {
            workflow_id,
            tkr_dir: settings.tkr_dir.clone(),
        });
    }
    if !new && !exists {
        return Err(EngineError::NoSuchWorkflow {
            workflow_id,
            tkr_dir: settings.tkr_dir.clone(),
        });
    }
    let workflow_dir = file_storage.workflow_dir().to_path_buf();
    let storage: Arc<dyn ControllerStorage> = Arc::new(file_storage);
    let _lock = WorkflowLock::acquire(&workflow_dir).map_err(|source| EngineError::Lock {
        workflow_id,
        source,
    })?;
    match &start {
        WorkflowStart::New { graph, inputs, .. } => {
            runtime::start_workflow(storage.as_ref(), graph, inputs).map_err(run_error)?;
        }
        WorkflowStart::Restart { loc, .. } => {
            let invalidated = tierkreis_storage::restart::restart_task(storage.as_ref(), loc)
                .map_err(|source| EngineError::Restart {
                    loc: loc.clone(),
                    source: Box::new(source),
                })?;
            tracing::info!(%loc, invalidated = invalidated.len(), "restarting task");
        }
        WorkflowStart::Resume { .. } => {}
    }
    if !new {
        if !settings.breakpoints.break_at.is_empty() {
            let graph = runtime::stored_graph(storage.as_ref()).map_err(run_error)?;
            check_breakpoints(&settings.breakpoints, &graph)?;
        }
        if settings.only_these_breakpoints {
            forget_saved_breakpoints(storage.as_ref(), &settings.breakpoints).map_err(
                |source| EngineError::ForgetBreakpoints {
                    workflow_id,
                    source: Box::new(source),
                },
            )?;
        }
    }
    let run_settings =
        recorded_run_settings(storage.as_ref(), settings, new).map_err(|source| {
            EngineError::RunSettings {
                workflow_id,
                source,
            }
        })?;
    let config = match &settings.config {
        Some(config) => config.clone(),
        None => run_settings
            .load_config()
            .map_err(|source| EngineError::Config { source })?,
    };
    let Engine {
        mut executor,
        options,
    } = assemble_engine(
        storage.as_ref(),
        &run_settings,
        config,
        settings.breakpoints.clone(),
        !new,
    );
    let mut last = Progress::default();
    let outcome = runtime::run_with_options(
        storage.clone(),
        &options,
        &mut executor,
        &mut |p| {
            last = p;
            on_progress(p);
        },
        events,
    );
    drop(executor);
    let outcome = match outcome {
        Ok(o) => o,
        Err(RunError::Stopped { stopped }) => {
            return Err(EngineError::Stopped {
                workflow_id,
                stopped,
            })
        }
        Err(e) => return Err(run_error(e)),
    };
    let failures = match &outcome {
        Outcome::Failed(locs) => locs
            .iter()
            .map(|loc| NodeFailure {
                loc: loc.clone(),
                error: storage.read_errors(loc).unwrap_or_default(),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(WorkflowReport {
        workflow_id,
        workflow_dir,
        outcome,
        progress: last,
        failures,
    })
}

/// The settings this call runs with, recorded in the run's folder: for a new
/// run, the given ones; else the recorded ones with the given ones on top.
fn recorded_run_settings(
    storage: &dyn ControllerStorage,
    settings: &EngineSettings,
    new: bool,
) -> Result<RunSettings, RunSettingsError> {
    let given = settings.run.clone().with_absolute_paths();
    if new {
        given.write(storage)?;
        Ok(given)
    } else {
        given.with_recorded_under(storage, settings.run.config.is_some())
    }
}

/// Fails, naming them, when `break_at` selectors name nothing in `graph`.
fn check_breakpoints(breakpoints: &Breakpoints, graph: &GraphInfo) -> Result<(), EngineError> {
    let selectors = breakpoints.unknown_selectors(graph);
    if selectors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::UnknownBreakpoints { selectors })
    }
}

/// Removes the breakpoint settings a run was started with, so that only
/// `now` counts on this resume; without breakpoints now, also the pause
/// record (the run goes on past the paused nodes, as the reference's
/// `resume_graph(enable_breakpoints=False)` does).
fn forget_saved_breakpoints(
    storage: &dyn ControllerStorage,
    now: &Breakpoints,
) -> Result<(), StorageError> {
    let saved = storage.debug_path().join(runtime::BREAKPOINT_SETTINGS_FILE);
    match storage.delete_path(&saved) {
        Err(e) if !e.is_not_found() => return Err(e),
        _ => {}
    }
    if !now.enabled() {
        tierkreis_storage::breakpoints::take_pause(storage)?;
    }
    Ok(())
}
