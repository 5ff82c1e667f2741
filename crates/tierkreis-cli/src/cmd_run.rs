//! `tkr run`, `tkr resume` and `tkr restart`: start or continue a workflow and
//! report how it ended.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tierkreis_controller::engine::{self, RunSettings, RunSettingsError};
use tierkreis_controller::runtime;
use tierkreis_controller::scheduler::{GraphInfo, Outcome, Progress, WaitingNode};
use tierkreis_core::{GraphData, Loc};
use tierkreis_storage::{
    ControllerStorage, FileControllerStorage, MemoryControllerStorage, WorkflowLock,
};
use uuid::Uuid;

use crate::output;
use crate::run_flags::{DEFAULT_GRAPH_FILE, DEFAULT_GRAPH_LOCATION, DEFAULT_INPUTS_FILE};
use crate::{exit, Common, RestartArgs, ResumeArgs, RunArgs, StorageKind};

/// The checkpoint folder: `--checkpoints`, else `$TKR_DIR`, else `~/.tierkreis/checkpoints`.
pub fn tkr_dir(common: &Common) -> PathBuf {
    if let Some(d) = &common.checkpoints {
        return d.clone();
    }
    tierkreis_storage::FileWorkerStorage::from_env()
        .tkr_dir()
        .to_path_buf()
}

/// Runs `f`, printing an error chain and mapping it to the usage exit code.
fn report<T>(r: anyhow::Result<T>, code: u8) -> Result<T, u8> {
    r.map_err(|e| {
        print_error(crate::output::error_text(&e));
        code
    })
}

/// The last error this command printed, for the `--json` object of a run
/// that ends before any report (bad usage or input, exit status 2).
static LAST_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Prints `error: MESSAGE` on stderr and keeps it for [`json_error_if_unreported`].
fn print_error(message: String) {
    eprintln!("error: {message}");
    if let Ok(mut last) = LAST_ERROR.lock() {
        *last = Some(message);
    }
}

/// With `--json`, a command that ends in an error before printing its
/// report still prints one JSON object: `{"id": null, "name": null,
/// "status": "error", "message": ...}`.
fn json_error_if_unreported(json: bool, code: u8) -> u8 {
    if json && code != exit::OK && !output::report_printed() {
        let message = LAST_ERROR
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .unwrap_or_else(|| "the command failed".to_string());
        output::RunReport::without_run("error")
            .with("message", message.into())
            .print();
    }
    code
}

pub fn run(args: RunArgs) -> u8 {
    let json = args.common.json;
    match run_inner(args) {
        Ok(code) | Err(code) => json_error_if_unreported(json, code),
    }
}

fn run_inner(args: RunArgs) -> Result<u8, u8> {
    let (bytes, source) = match (&args.graph, &args.graph_location) {
        (Some(path), _) => (
            report(
                std::fs::read(path)
                    .with_context(|| format!("cannot read the graph file {}", path.display())),
                exit::USAGE,
            )?,
            path.display().to_string(),
        ),
        (None, Some(location)) => {
            let python = crate::pygraph::interpreter(args.python.as_deref());
            (
                report(crate::pygraph::load(location, &python), exit::USAGE)?,
                location.clone(),
            )
        }
        (None, None) if std::path::Path::new(DEFAULT_GRAPH_FILE).is_file() => {
            let location = DEFAULT_GRAPH_LOCATION.to_string();
            let python = crate::pygraph::interpreter(args.python.as_deref());
            (
                report(crate::pygraph::load(&location, &python), exit::USAGE)?,
                location,
            )
        }
        (None, None) => {
            print_error(format!("give the graph with -f GRAPH.json or -g FILE.py:NAME (there is no {DEFAULT_GRAPH_FILE} here to default to)"));
            return Err(exit::USAGE);
        }
    };
    if let Some(n) = args.reference.n_iterations {
        eprintln!(
            "note: -n/--n-iterations {n} has no effect: this controller has no ticks to count, it waits for task completions"
        );
    }
    let graph = report(
        GraphData::from_json(&bytes)
            .with_context(|| format!("the graph {source} is not a valid graph")),
        exit::USAGE,
    )?;
    let prepared = report(
        GraphInfo::prepare(graph.clone())
            .with_context(|| format!("the graph in {source} is invalid")),
        exit::USAGE,
    )?;
    check_break_at(&prepared, &args.common)?;
    let mut inputs = report(crate::inputs::read_inputs(&args.inputs), exit::USAGE)?;
    // The reference reads ./workflow_inputs.json when no -i is given; we do
    // when the graph needs inputs, so a graph without inputs is unaffected.
    let default_inputs = std::path::Path::new(DEFAULT_INPUTS_FILE);
    if args.inputs.is_empty() && !graph.graph_inputs.is_empty() && default_inputs.is_file() {
        inputs = report(
            crate::inputs::read_inputs(&[DEFAULT_INPUTS_FILE.to_string()]),
            exit::USAGE,
        )?;
        if !args.common.quiet && !args.common.json {
            eprintln!("inputs from ./{DEFAULT_INPUTS_FILE} (no -i given)");
        }
    }
    let missing = report(
        graph
            .remaining_inputs(inputs.keys().cloned().collect::<Vec<_>>())
            .map_err(anyhow::Error::from),
        exit::USAGE,
    )?;
    if !missing.is_empty() && !args.common.quiet && !args.common.json {
        // As the reference: an input left out is not an error by itself.
        // A task reading it gets no file at that input and uses its default
        // value (an optional input, `TKR[int] | None = None`); a task
        // without one fails, naming the input.
        eprintln!(
            "note: input(s) {} not given; tasks use their default value for them, and a task without one fails (give them with -i PORT:FILE or -i INPUTS.json)",
            missing.join(", ")
        );
    }
    let id = match (args.run_id, args.id) {
        (Some(n), _) => Uuid::from_u128(n),
        (None, Some(id)) => id,
        (None, None) => Uuid::new_v4(),
    };
    let storage: Arc<dyn ControllerStorage> = match args.storage {
        StorageKind::Memory => Arc::new(MemoryControllerStorage::new(
            tierkreis_storage::MemoryFiles::new(),
            id,
            args.name.clone(),
        )),
        StorageKind::File => {
            let dir = tkr_dir(&args.common);
            let s = FileControllerStorage::new(dir, id, args.name.clone());
            if args.reference.do_clean_restart && s.workflow_dir().exists() {
                clean_restart(&s)?;
            }
            if engine::workflow_started(s.workflow_dir()) {
                print_error(format!(
                    "workflow {id} already exists in {}; use `tkr resume {id}` to continue it, or another id",
                    s.workflow_dir().parent().map(|p| p.display().to_string()).unwrap_or_default()
                ));
                return Err(exit::USAGE);
            }
            Arc::new(s)
        }
    };
    let _lock = lock(storage.as_ref(), args.storage)?;
    report(
        runtime::start_workflow(storage.as_ref(), &graph, &inputs).map_err(anyhow::Error::from),
        exit::INTERNAL,
    )?;
    let settings = crate::run_settings::from_flags(
        &args.common,
        args.reference.uv,
        args.reference.polling_interval_seconds,
        args.python.as_deref(),
    );
    if args.storage == StorageKind::File {
        report(
            settings
                .write(storage.as_ref())
                .map_err(anyhow::Error::from),
            exit::INTERNAL,
        )?;
    }
    drive(storage, false, &args.common, &settings)
}

/// For a resume or restart: the settings the run was started with (its
/// registries, configuration file, worker options), with the flags given
/// on this command line on top, recorded again.
fn use_recorded_settings(
    storage: &dyn ControllerStorage,
    common: &Common,
) -> Result<RunSettings, u8> {
    let given = crate::run_settings::from_flags(common, false, None, None);
    let settings = given.with_recorded_under(storage, common.config.is_some());
    let code = match &settings {
        Err(RunSettingsError::Write { .. } | RunSettingsError::Encode { .. }) => exit::INTERNAL,
        _ => exit::USAGE,
    };
    report(settings.map_err(anyhow::Error::from), code)
}

/// `-r/--do-clean-restart`: deletes the run's checkpoint folder, once no
/// controller holds it (the lock proves that).
fn clean_restart(storage: &FileControllerStorage) -> Result<(), u8> {
    let dir = storage.workflow_dir().to_path_buf();
    {
        let _held = report(
            WorkflowLock::acquire(&dir).map_err(anyhow::Error::from),
            exit::USAGE,
        )?;
    }
    report(
        std::fs::remove_dir_all(&dir).with_context(|| {
            format!(
                "-r/--do-clean-restart: cannot delete the run's folder {}",
                dir.display()
            )
        }),
        exit::USAGE,
    )
}

fn lock(storage: &dyn ControllerStorage, kind: StorageKind) -> Result<Option<WorkflowLock>, u8> {
    if kind == StorageKind::Memory {
        return Ok(None);
    }
    report(
        WorkflowLock::acquire(storage.workflow_dir())
            .map(Some)
            .map_err(anyhow::Error::from),
        exit::USAGE,
    )
}

fn open_existing(
    common: &Common,
    target: &crate::target::RunTarget,
) -> Result<Arc<dyn ControllerStorage>, u8> {
    let dir = tkr_dir(common);
    let id = report(target.resolve(&dir), exit::USAGE)?;
    let s = FileControllerStorage::new(dir, id, None);
    if !s.workflow_dir().is_dir() {
        print_error(format!("no workflow {id} in {}", s.tkr_dir().display()));
        return Err(exit::USAGE);
    }
    Ok(Arc::new(s))
}

pub fn resume(args: ResumeArgs) -> u8 {
    let json = args.common.json;
    let inner = move || -> Result<u8, u8> {
        let common = args.common;
        let storage = open_existing(&common, &args.target)?;
        let _lock = lock(storage.as_ref(), StorageKind::File)?;
        let settings = use_recorded_settings(storage.as_ref(), &common)?;
        drive(storage, true, &common, &settings)
    };
    match inner() {
        Ok(c) | Err(c) => json_error_if_unreported(json, c),
    }
}

pub fn restart(args: RestartArgs) -> u8 {
    let json = args.common.json;
    let inner = move || -> Result<u8, u8> {
        let common = args.common;
        let (run, loc) = match (args.run_id, &args.run_or_loc, &args.loc) {
            (Some(_), loc, None) => (None, loc),
            (None, run, Some(loc)) => (Some(run.clone()), loc),
            _ => {
                print_error("give `RUN LOC`, or `--run-id N LOC`".to_string());
                return Err(exit::USAGE);
            }
        };
        let target = crate::target::RunTarget {
            run,
            run_id: args.run_id,
        };
        let storage = open_existing(&common, &target)?;
        let _lock = lock(storage.as_ref(), StorageKind::File)?;
        let loc: Loc = match crate::inspect::location_without_root(loc) {
            Some(l) => l,
            None => report(
                loc.parse()
                    .with_context(|| format!("{loc:?} is not a location")),
                exit::USAGE,
            )?,
        };
        if !storage.is_node_started(&loc) {
            let closest = closest_task_locations(storage.as_ref(), &loc);
            if closest.is_empty() {
                print_error(format!(
                    "no node at {loc} in workflow {}",
                    storage.workflow_id()
                ));
            } else {
                print_error(format!(
                    "no node at {loc} in workflow {}; the closest task nodes are: {}",
                    storage.workflow_id(),
                    closest.join(", ")
                ));
            }
            return Err(exit::USAGE);
        }
        let invalidated = report(
            tierkreis_storage::restart::restart_task(storage.as_ref(), &loc)
                .with_context(|| format!("cannot restart {loc}")),
            exit::USAGE,
        )?;
        if !common.quiet && !common.json {
            eprintln!(
                "restarting {loc}: {} dependent node(s) invalidated",
                invalidated.len()
            );
        }
        let settings = use_recorded_settings(storage.as_ref(), &common)?;
        drive(storage, true, &common, &settings)
    };
    match inner() {
        Ok(c) | Err(c) => json_error_if_unreported(json, c),
    }
}

/// Fails, naming them, when `--break-at` selectors name nothing in `graph`.
fn check_break_at(graph: &GraphInfo, common: &Common) -> Result<(), u8> {
    let selectors = tierkreis_controller::scheduler::Breakpoints {
        break_at: common.breakpoints.break_at.clone(),
        ..Default::default()
    };
    let unknown = selectors.unknown_selectors(graph);
    if unknown.is_empty() {
        return Ok(());
    }
    print_error(format!(
        "--break-at {} names no node of the graph (give a location such as -.N3, a named node, or a function name such as builtins.iadd)",
        unknown.join(", ")
    ));
    Err(exit::USAGE)
}

/// The breakpoints of `common`'s flags; on resume, a `--break-at` that
/// names nothing in the workflow's graph is an error naming it.
fn breakpoints(
    storage: &dyn ControllerStorage,
    resume: bool,
    common: &Common,
) -> Result<tierkreis_controller::scheduler::Breakpoints, u8> {
    let breakpoints = tierkreis_controller::scheduler::Breakpoints {
        from_metadata: common.breakpoints.enabled,
        break_at: common.breakpoints.break_at.clone(),
        passed: Vec::new(),
    };
    if resume && !breakpoints.break_at.is_empty() {
        let graph = report(
            runtime::stored_graph(storage).map_err(anyhow::Error::from),
            exit::INTERNAL,
        )?;
        check_break_at(&graph, common)?;
    }
    Ok(breakpoints)
}

/// How a run ended, for [`print_end`].
enum RunEnd {
    /// The workflow finished: in `elapsed`, `started_now` nodes started by this call.
    Finished {
        elapsed: std::time::Duration,
        started_now: u64,
    },
    /// These nodes failed.
    Failed(Vec<Loc>),
    /// Paused before these nodes, at breakpoints.
    Paused(Vec<Loc>),
    /// Nothing runs and nothing can start; these nodes wait.
    Stalled(Vec<WaitingNode>),
    /// Stopped by a signal: this many running tasks stopped, none failed.
    Stopped { stopped: usize },
    /// The controller itself failed (storage, executor).
    ControllerFailed(runtime::RunError),
}

/// Runs the workflow in `storage` with `settings` (assembled as every
/// embedder assembles it) and `common`'s breakpoints, progress display and
/// telemetry, then prints how it ended.
fn drive(
    storage: Arc<dyn ControllerStorage>,
    resume: bool,
    common: &Common,
    settings: &RunSettings,
) -> Result<u8, u8> {
    let end = run_to_end(&storage, resume, common, settings)?;
    // The process ends right after reporting: let the OS reclaim an in-memory
    // store of millions of entries instead of freeing them one by one.
    let storage = std::mem::ManuallyDrop::new(storage);
    print_end(storage.as_ref(), resume, common, end)
}

/// Assembles the engine and runs the workflow until it ends; Ctrl-C and
/// SIGTERM stop it. Errors before the run starts are printed here.
fn run_to_end(
    storage: &Arc<dyn ControllerStorage>,
    resume: bool,
    common: &Common,
    settings: &RunSettings,
) -> Result<RunEnd, u8> {
    let breakpoints = breakpoints(storage.as_ref(), resume, common)?;
    let config = report(
        settings.load_config().map_err(anyhow::Error::from),
        exit::USAGE,
    )?;
    let engine::Engine {
        mut executor,
        mut options,
    } = engine::assemble_engine(storage.as_ref(), settings, config, breakpoints, resume);
    if let Some(url) = tierkreis_telemetry::endpoint(common.otlp.as_deref()) {
        let sink = report(
            tierkreis_telemetry::otlp_export(&url).map_err(anyhow::Error::from),
            exit::USAGE,
        )?;
        options.timeline_sinks.push(sink);
    }
    let events = runtime::RunEventChannel::new();
    let signals = report(stop_on_signals(events.stop_handle()), exit::INTERNAL)?;
    let start = std::time::Instant::now();
    let mut last: Option<Progress> = None;
    let mut reporter = crate::progress::Reporter::new(common.quiet || common.json);
    let outcome = runtime::run_with_options(
        storage.clone(),
        &options,
        &mut executor,
        &mut |p| {
            last = Some(p);
            reporter.update(p);
        },
        events,
    );
    reporter.finish();
    signals.close();
    drop(executor);
    Ok(match outcome {
        Ok(Outcome::Finished) => RunEnd::Finished {
            elapsed: start.elapsed(),
            started_now: last.unwrap_or_default().started,
        },
        Ok(Outcome::Failed(locs)) => RunEnd::Failed(locs),
        Ok(Outcome::Paused(locs)) => RunEnd::Paused(locs),
        Ok(Outcome::Stalled(waiting)) => RunEnd::Stalled(waiting),
        Ok(Outcome::Running) => RunEnd::Stalled(Vec::new()),
        Err(runtime::RunError::Stopped { stopped }) => RunEnd::Stopped { stopped },
        Err(e) => RunEnd::ControllerFailed(e),
    })
}

/// Prints how the run ended (text on stderr, outputs or the `--json`
/// object on stdout) and gives the exit status.
fn print_end(
    storage: &dyn ControllerStorage,
    resume: bool,
    common: &Common,
    end: RunEnd,
) -> Result<u8, u8> {
    match end {
        RunEnd::Finished {
            elapsed,
            started_now,
        } => print_finished(storage, resume, common, elapsed, started_now),
        RunEnd::Failed(locs) => Ok(print_failed(storage, common, &locs)),
        RunEnd::Paused(locs) => Ok(print_paused(storage, common, &locs)),
        RunEnd::Stalled(waiting) => Ok(print_stalled(storage, common, &waiting)),
        RunEnd::Stopped { stopped } => Err(print_stopped(storage, common, stopped)),
        RunEnd::ControllerFailed(e) => Err(print_controller_failure(storage, common, e)),
    }
}

/// A finished run: its outputs (with `-o`, `-q` or in the `--json` object)
/// and the summary line.
fn print_finished(
    storage: &dyn ControllerStorage,
    resume: bool,
    common: &Common,
    elapsed: std::time::Duration,
    started_now: u64,
) -> Result<u8, u8> {
    let id = storage.workflow_id();
    // `-q` prints nothing but the result, so it prints the outputs.
    let outputs = if common.print_outputs || common.quiet {
        match output::read_outputs(storage) {
            Ok(values) => Some(values),
            Err(e) => {
                print_error(crate::output::error_text(&e));
                return Err(exit::INTERNAL);
            }
        }
    } else {
        None
    };
    if common.json {
        let mut report = output::RunReport::new(storage, "finished");
        if let Some(values) = outputs {
            report = report.with("outputs", tierkreis_core::Value::Map(values));
        }
        report.print();
    } else if let Some(values) = &outputs {
        output::print_outputs_text(values);
    }
    if !common.quiet && !common.json {
        // The count `tkr ls` shows (every started node, scopes and
        // the root included); on resume, how many ran now as well.
        let total =
            tierkreis_storage::workflow_status::started_node_count(storage).unwrap_or_default();
        let again = if resume {
            format!(" ({started_now} run now)")
        } else {
            String::new()
        };
        eprintln!(
            "workflow {id} finished: {total} nodes{again} in {:.3}s",
            elapsed.as_secs_f64()
        );
    }
    Ok(exit::OK)
}

/// A failed run: each failure, and what to do next.
fn print_failed(storage: &dyn ControllerStorage, common: &Common, locs: &[Loc]) -> u8 {
    let errors = output::report_failures(storage, locs, common.json);
    if common.json {
        output::RunReport::new(storage, "failed")
            .with("errors", errors)
            .print();
    } else {
        eprintln!("{}", failure_hint(storage, locs));
    }
    exit::FAILED
}

/// A run paused at breakpoints: where, and how to continue.
fn print_paused(storage: &dyn ControllerStorage, common: &Common, locs: &[Loc]) -> u8 {
    let id = storage.workflow_id();
    let list: Vec<String> = locs.iter().map(ToString::to_string).collect();
    if common.json {
        use tierkreis_core::Value;
        let mut m = indexmap::IndexMap::new();
        m.insert("workflow".to_string(), Value::Str(id.to_string()));
        m.insert("status".to_string(), Value::Str("paused".to_string()));
        m.insert(
            "paused_at".to_string(),
            Value::List(list.iter().cloned().map(Value::Str).collect()),
        );
        output::print_report_line(&Value::Map(m));
    } else if !common.quiet {
        eprintln!(
            "workflow {id} paused at breakpoint {}; continue it with `tkr resume {id}`",
            list.join(", ")
        );
    }
    exit::PAUSED
}

/// A stalled run: the waiting nodes and what each waits for.
fn print_stalled(storage: &dyn ControllerStorage, common: &Common, waiting: &[WaitingNode]) -> u8 {
    let id = storage.workflow_id();
    let message = format!(
        "workflow {id} {}",
        tierkreis_controller::scheduler::stall_explanation(waiting)
    );
    eprintln!("error: {message}");
    if common.json {
        output::RunReport::new(storage, "stalled")
            .with("message", message.into())
            .with("waiting", waiting_nodes_json(waiting))
            .print();
    }
    exit::INTERNAL
}

/// A run stopped by a signal: how to continue it.
fn print_stopped(storage: &dyn ControllerStorage, common: &Common, stopped: usize) -> u8 {
    let id = storage.workflow_id();
    let message = format!(
        "workflow {id} stopped ({stopped} running task(s) stopped, none marked failed); \
         continue it with `tkr resume {id}`"
    );
    eprintln!("interrupted: {message}");
    if common.json {
        output::RunReport::new(storage, "interrupted")
            .with("message", message.into())
            .print();
    }
    exit::INTERRUPTED
}

/// The controller itself failed: its error chain.
fn print_controller_failure(
    storage: &dyn ControllerStorage,
    common: &Common,
    error: runtime::RunError,
) -> u8 {
    let message = crate::output::error_text(&anyhow::Error::from(error));
    eprintln!("error: {message}");
    if common.json {
        output::RunReport::new(storage, "error")
            .with("message", message.into())
            .print();
    }
    exit::INTERNAL
}

/// What to do after a failure, as commands that work as printed: `tkr
/// restart RUN LOC` of each failed task (it runs with the registries and
/// configuration the run recorded), else `tkr errors RUN`.
fn failure_hint(storage: &dyn ControllerStorage, failed: &[Loc]) -> String {
    let id = storage.workflow_id();
    let tasks: Vec<&Loc> = failed
        .iter()
        .filter(|loc| {
            matches!(
                storage.read_node_def(loc).map(|d| d.kind),
                Ok(tierkreis_core::graph::NodeKind::Function { .. })
            )
        })
        .collect();
    match tasks.as_slice() {
        [] => format!("workflow {id} failed; `tkr errors {id}` shows why"),
        [loc] => format!(
            "workflow {id} failed; fix the cause, then run the task again with `tkr restart {id} {loc}`"
        ),
        [first, rest @ ..] => {
            let more: Vec<String> = rest
                .iter()
                .take(4)
                .map(|loc| format!("`tkr restart {id} {loc}`"))
                .collect();
            format!(
                "workflow {id} failed; fix the cause, then run each failed task again with `tkr restart {id} {first}`, {}{}",
                more.join(", "),
                if rest.len() > 4 { ", ..." } else { "" }
            )
        }
    }
}

/// The waiting nodes of a stalled run for `--json`: `[{"loc", "node",
/// "waits_for": [{"port", "from", "from_port", "from_state"}]}]`.
fn waiting_nodes_json(waiting: &[WaitingNode]) -> tierkreis_core::Value {
    use tierkreis_core::Value;
    let text = |s: String| Value::Str(s);
    Value::List(
        waiting
            .iter()
            .map(|node| {
                let awaited = node
                    .waits_for
                    .iter()
                    .map(|input| {
                        let mut m = indexmap::IndexMap::new();
                        m.insert("port".to_string(), text(input.port.clone()));
                        m.insert("from".to_string(), text(input.source.to_string()));
                        m.insert("from_port".to_string(), text(input.source_port.clone()));
                        m.insert(
                            "from_state".to_string(),
                            text(input.source_state.to_string()),
                        );
                        Value::Map(m)
                    })
                    .collect();
                let mut m = indexmap::IndexMap::new();
                m.insert("loc".to_string(), text(node.loc.to_string()));
                m.insert("node".to_string(), text(node.description.clone()));
                m.insert("waits_for".to_string(), Value::List(awaited));
                Value::Map(m)
            })
            .collect(),
    )
}

/// Up to five locations of started task nodes whose names are nearest to
/// `wanted` (edit distance), nearest first: what the user probably meant.
fn closest_task_locations(storage: &dyn ControllerStorage, wanted: &Loc) -> Vec<String> {
    let Ok(entries) = storage.list_subpaths(storage.workflow_dir()) else {
        return Vec::new();
    };
    let mut candidates: Vec<(usize, String)> = entries
        .iter()
        .filter_map(|path| path.file_name()?.to_str())
        .filter(|name| name.starts_with("-."))
        .filter_map(|name| name.parse::<Loc>().ok())
        .filter(|loc| {
            matches!(
                storage.read_node_def(loc).map(|d| d.kind),
                Ok(tierkreis_core::graph::NodeKind::Function { .. })
            )
        })
        .map(|loc| {
            let name = loc.to_string();
            (
                tierkreis_storage::find_workflow::edit_distance(&name, wanted.as_str()),
                name,
            )
        })
        .collect();
    candidates.sort();
    candidates
        .into_iter()
        .take(5)
        .map(|(_, name)| name)
        .collect()
}

/// Turns SIGINT and SIGTERM into a stop request for the run; the returned
/// handle ends the listening thread.
fn stop_on_signals(stop: runtime::StopHandle) -> anyhow::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("cannot install the Ctrl-C handler")?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            tracing::info!(signal = sig, "stopping the run");
            stop.stop();
        }
    });
    Ok(handle)
}
