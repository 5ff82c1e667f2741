//! The runtime: drives the scheduling core against real executors.
//!
//! It writes a new workflow's inputs, hands the core's tasks to an
//! [`Executor`], and feeds completions back until the workflow finishes, fails
//! or stalls. Completions arrive on a channel, so waiting for tasks costs no
//! polling and no walk of the checkpoint folder. The same channel carries a
//! stop request ([`StopHandle`], e.g. from Ctrl-C): the runtime then asks the
//! executor to stop its tasks and returns [`RunError::Stopped`] without
//! marking anything failed, so the run can be resumed.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_core::{GraphData, Loc, NodeDef, PortId, ValueRef};
use tierkreis_storage::timeline::{AttemptOutcome, TimelineEvent};
use tierkreis_storage::{ControllerStorage, StorageError};

pub use crate::executor::contract::{
    BatchJobFailure, Executor, FailureKind, LaunchError, RunEvent, RunEventChannel, StopHandle,
    TaskCompletion, TaskEventSender, TaskFailure,
};
pub use crate::retry::RetryPolicyFn;
use crate::scheduler::{
    Breakpoints, GraphInfo, Outcome, PrepareError, Progress, ReadyTask, Scheduler, SchedulerError,
    BODY_PORT,
};

/// Errors that stop a run (node failures are an [`Outcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("checkpoint storage failed")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    #[error("the workflow graph is invalid")]
    Graph(#[from] PrepareError),
    #[error("the workflow's graph in the checkpoint ({loc} port body) is not a valid graph")]
    StoredGraph {
        loc: Loc,
        #[source]
        source: Box<tierkreis_core::GraphError>,
    },
    #[error("every executor hung up while {running} tasks were still running")]
    ExecutorsGone { running: u64 },
    #[error(transparent)]
    Cache(#[from] crate::cache::ResultCacheError),
    #[error("the run was stopped ({stopped} running task(s) stopped); it can be resumed")]
    Stopped { stopped: usize },
    /// The controller could not write a task's checkpoint files (a full
    /// disk, say). The run stopped; that task and the running ones are left
    /// not started, nothing is marked failed, so a resume runs them again.
    #[error(
        "checkpoint storage failed for task {loc}: {message}\n\
         the run stopped with nothing marked failed; `tkr resume` continues it once the storage works again"
    )]
    TaskStorage { loc: Loc, message: String },
}

/// Writes a new workflow into `storage`: metadata, inputs, the graph as the
/// top-level `body`, and the top-level eval node, exactly as the reference does.
pub fn start_workflow(
    storage: &dyn ControllerStorage,
    graph: &GraphData,
    inputs: &IndexMap<PortId, Vec<u8>>,
) -> Result<(), RunError> {
    storage.write_workflow_metadata()?;
    storage.append_workflow_log(&format!(
        "tierkreis-rs {}: workflow {} started",
        env!("CARGO_PKG_VERSION"),
        storage.workflow_id()
    ))?;
    let body = tierkreis_core::json::to_string_pretty(&graph.to_value()).into_bytes();
    for (port, value) in inputs {
        storage.write_workflow_input(port, value)?;
    }
    storage.write_workflow_input(BODY_PORT, &body)?;
    let root = Loc::root();
    let eval = NodeDef {
        kind: tierkreis_core::graph::NodeKind::Eval {
            graph: ValueRef {
                node: -1,
                port: BODY_PORT.to_string(),
            },
        },
        inputs: inputs
            .keys()
            .filter(|k| k.as_str() != BODY_PORT)
            .map(|k| {
                (
                    k.clone(),
                    ValueRef {
                        node: -1,
                        port: k.clone(),
                    },
                )
            })
            .collect(),
        outputs: IndexMap::new(),
    };
    storage.write_node_def(&root, &eval)?;
    for port in inputs.keys().map(String::as_str).chain([BODY_PORT]) {
        storage.link_workflow_input(&root.n(-1), port, port)?;
    }
    Ok(())
}

/// Reads the top-level graph of the workflow in `storage`.
pub fn stored_graph(storage: &dyn ControllerStorage) -> Result<Arc<GraphInfo>, RunError> {
    let loc = Loc::root().n(-1);
    let bytes = storage.read_output(&loc, BODY_PORT)?;
    let value = tierkreis_core::Value::from_bytes(&bytes);
    let data = GraphData::from_value(&value).map_err(|source| RunError::StoredGraph {
        loc,
        source: Box::new(source),
    })?;
    Ok(GraphInfo::prepare(data)?)
}

/// Runs (or, with `resume`, continues) the workflow in `storage` until it
/// finishes, fails or stalls. `on_progress` is called after every batch of events.
pub fn run(
    storage: Arc<dyn ControllerStorage>,
    resume: bool,
    executor: &mut dyn Executor,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, RunError> {
    run_with_events(
        storage,
        resume,
        executor,
        on_progress,
        RunEventChannel::new(),
    )
}

/// [`run`] on a channel created beforehand, so that a [`StopHandle`] taken
/// from it can stop the run ([`RunError::Stopped`]; nothing is marked failed,
/// and the workflow log records the stop).
pub fn run_with_events(
    storage: Arc<dyn ControllerStorage>,
    resume: bool,
    executor: &mut dyn Executor,
    on_progress: &mut dyn FnMut(Progress),
    events: RunEventChannel,
) -> Result<Outcome, RunError> {
    let options = RunOptions {
        resume,
        ..RunOptions::default()
    };
    run_with_options(storage, &options, executor, on_progress, events)
}

/// How a run goes beyond the defaults.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Continue the workflow from its checkpoint instead of starting it.
    pub resume: bool,
    /// Where to pause. On resume these add to the breakpoints the run was
    /// started with (kept in [`BREAKPOINT_SETTINGS_FILE`]); a resume of a
    /// paused run continues past the nodes it paused at.
    pub breakpoints: Breakpoints,
    /// Reuse earlier results of identical tasks (`--cache`).
    pub cache: Option<Arc<crate::cache::ResultCache>>,
    /// The retry policy of each task (`worker`, `function`); `None`: no retries.
    pub retries: Option<Arc<RetryPolicyFn>>,
    /// Record the run's timeline (`debug/tkr-timeline.jsonl`, see
    /// [`crate::timeline`]); on in `tkr run`.
    pub record_timeline: bool,
    /// Where the timeline's lines go besides the file (the OpenTelemetry
    /// export); only while `record_timeline` is on. With in-memory
    /// storage and no sink the timeline is not recorded at all.
    pub timeline_sinks: Vec<Arc<dyn crate::timeline::TimelineSink>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("resume", &self.resume)
            .field("breakpoints", &self.breakpoints)
            .field("cache", &self.cache)
            .field("retries", &self.retries.is_some())
            .field("record_timeline", &self.record_timeline)
            .field("timeline_sinks", &self.timeline_sinks)
            .finish()
    }
}

/// `debug/<this>`: the breakpoints a run was started with (JSON:
/// `{"from_metadata": bool, "break_at": [..]}`), so that a resume stops at
/// the next one without repeating the flags. The reference ignores it.
pub const BREAKPOINT_SETTINGS_FILE: &str = "tkr-breakpoints.json";

/// The breakpoints in effect for this run: `asked`, plus on resume those the
/// run was started with; on resume, a pause record (ours or the
/// reference's) is read and removed, its nodes passed, and metadata
/// breakpoints enabled (the reference pauses only with them on).
fn effective_breakpoints(
    storage: &dyn ControllerStorage,
    options: &RunOptions,
) -> Result<Breakpoints, RunError> {
    let settings = storage.debug_path().join(BREAKPOINT_SETTINGS_FILE);
    let mut bp = options.breakpoints.clone();
    if options.resume {
        if let Ok(bytes) = storage.read(&settings) {
            let v = tierkreis_core::json::parse(&bytes).unwrap_or(tierkreis_core::Value::Null);
            if let Some(m) = v.as_map() {
                if m.get("from_metadata") == Some(&tierkreis_core::Value::Bool(true)) {
                    bp.from_metadata = true;
                }
                for sel in m
                    .get("break_at")
                    .and_then(tierkreis_core::Value::as_list)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(tierkreis_core::Value::as_str)
                {
                    if !bp.break_at.iter().any(|b| b == sel) {
                        bp.break_at.push(sel.to_string());
                    }
                }
            }
        }
        let paused_here = !tierkreis_storage::breakpoints::paused_locations(storage).is_empty();
        if paused_here && !storage.exists(&settings) {
            bp.from_metadata = true;
        }
        if bp.enabled() || paused_here {
            for loc in tierkreis_storage::breakpoints::take_pause(storage)? {
                if !bp.passed.contains(&loc) {
                    bp.passed.push(loc);
                }
            }
        }
    }
    if bp.enabled() {
        let mut m = IndexMap::new();
        m.insert(
            "from_metadata".to_string(),
            tierkreis_core::Value::Bool(bp.from_metadata),
        );
        m.insert(
            "break_at".to_string(),
            tierkreis_core::Value::List(
                bp.break_at
                    .iter()
                    .cloned()
                    .map(tierkreis_core::Value::Str)
                    .collect(),
            ),
        );
        let bytes = tierkreis_core::json::to_string_compact(&tierkreis_core::Value::Map(m));
        storage.write(&settings, bytes.as_bytes())?;
    }
    Ok(bp)
}

/// [`run_with_events`] with [`RunOptions`].
pub fn run_with_options(
    storage: Arc<dyn ControllerStorage>,
    options: &RunOptions,
    executor: &mut dyn Executor,
    on_progress: &mut dyn FnMut(Progress),
    mut events: RunEventChannel,
) -> Result<Outcome, RunError> {
    let graph = stored_graph(storage.as_ref())?;
    let breakpoints = effective_breakpoints(storage.as_ref(), options)?;
    if !options.resume {
        executor.prepare_for_run(&graph.data, &storage);
    }
    // Recording finished work in the cache (reading and hashing outputs,
    // writing entries) is off the scheduling path: a recorder thread does
    // it, and the run returns only once it has written every entry (the
    // scope joins it after the senders below are dropped). An entry lost to
    // a crash only costs a miss later.
    std::thread::scope(|threads| {
        // The timeline recorder: the senders (in `events`, cloned by the
        // executors) may outlive the run, so it ends on an explicit message.
        // A timeline nobody can read is not recorded: a run whose storage
        // has no folder on disk (in memory) and no sink to hand it to.
        // The file is written only where it can be read: on disk.
        let on_disk = storage.workflow_dir().is_dir();
        let readable = on_disk || !options.timeline_sinks.is_empty();
        let timeline = (options.record_timeline && readable).then(|| {
            let (sender, queue) = crate::timeline::recorder_channel();
            let storage = Arc::clone(&storage);
            let sinks = options.timeline_sinks.clone();
            threads
                .spawn(move || crate::timeline::record_until_end(queue, storage, on_disk, sinks));
            sender.send(TimelineEvent::RunStarted {
                resume: options.resume,
            });
            sender
        });
        events.events.timeline = timeline.clone();
        let result = run_in_scope(
            threads,
            &storage,
            options,
            executor,
            on_progress,
            &events,
            graph,
            breakpoints,
        );
        if let Some(timeline) = &timeline {
            timeline.send(TimelineEvent::RunEnded {
                outcome: match &result {
                    Ok(outcome) => outcome_word(outcome).to_string(),
                    Err(e) => format!("error: {e}"),
                },
            });
            timeline.end();
        }
        result
    })
}

/// The word for `outcome` in the timeline.
fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Finished => "finished",
        Outcome::Failed(_) => "failed",
        Outcome::Stalled(_) => "stalled",
        Outcome::Paused(_) => "paused",
        Outcome::Running => "running",
    }
}

/// The body of [`run_with_options`] inside its thread scope.
#[allow(clippy::too_many_arguments)]
fn run_in_scope<'scope>(
    threads: &'scope std::thread::Scope<'scope, '_>,
    storage: &Arc<dyn ControllerStorage>,
    options: &'scope RunOptions,
    executor: &mut dyn Executor,
    on_progress: &mut dyn FnMut(Progress),
    events: &RunEventChannel,
    graph: Arc<GraphInfo>,
    breakpoints: Breakpoints,
) -> Result<Outcome, RunError> {
    {
        let recorder = options.cache.as_ref().map(|cache| {
            let (to_recorder, queue) = std::sync::mpsc::channel::<crate::cache::Recording>();
            let storage = Arc::clone(storage);
            let cache = Arc::clone(cache);
            threads.spawn(move || {
                for recording in queue {
                    if let Err(e) = cache.record_finished(&recording, storage.as_ref()) {
                        tracing::warn!(error = %e, ?recording, "could not record a result in the cache");
                    }
                }
            });
            to_recorder
        });
        let nested_graph_reuse = options.cache.as_ref().zip(recorder.as_ref()).map(
            |(cache, recorder)| -> Box<dyn crate::scheduler::NestedGraphReuse> {
                Box::new(crate::cache::NestedGraphCache {
                    cache: Arc::clone(cache),
                    recorder: recorder.clone(),
                })
            },
        );
        let sched = Scheduler::with_nested_graph_reuse(
            storage.as_ref(),
            graph,
            options.resume,
            breakpoints,
            nested_graph_reuse,
        )?;
        let cache = options.cache.as_deref().zip(recorder.as_ref());
        drive_and_conclude(
            sched,
            storage,
            options,
            executor,
            on_progress,
            events,
            cache,
        )
    }
}

/// Drives `sched` to its outcome and writes what the outcome says into the
/// workflow's checkpoint (completion time, errors, pause, log).
fn drive_and_conclude(
    mut sched: Scheduler<'_>,
    storage: &Arc<dyn ControllerStorage>,
    options: &RunOptions,
    executor: &mut dyn Executor,
    on_progress: &mut dyn FnMut(Progress),
    events: &RunEventChannel,
    cache: Option<(
        &crate::cache::ResultCache,
        &std::sync::mpsc::Sender<crate::cache::Recording>,
    )>,
) -> Result<Outcome, RunError> {
    let storage = storage.clone();
    let outcome = match drive(
        &mut sched,
        &storage,
        executor,
        events,
        on_progress,
        cache,
        options.retries.as_deref(),
    ) {
        Err(RunError::Stopped { stopped }) => {
            storage.append_workflow_log(&format!(
                "run stopped: {stopped} running task(s) stopped; resume to continue"
            ))?;
            return Err(RunError::Stopped { stopped });
        }
        Err(e @ (RunError::Storage(_) | RunError::TaskStorage { .. })) => {
            // The checkpoint cannot be written (a full disk, say): stop the
            // running tasks and leave them, unmarked, for a resume. Best
            // effort: the storage that failed may fail again here.
            let stopped = executor.stop();
            if let Err(unstart) = unstart_interrupted(&sched, storage.as_ref()) {
                tracing::warn!(error = %unstart, "cannot mark the interrupted tasks not started");
            }
            let _ = storage.append_workflow_log(&format!(
                "run stopped on a storage failure ({stopped} running task(s) stopped): {e}"
            ));
            return Err(e);
        }
        other => other?,
    };
    match &outcome {
        Outcome::Finished => {
            storage.write_workflow_completion_time()?;
            storage.append_workflow_log("workflow finished")?;
        }
        Outcome::Failed(locs) => {
            let root = Loc::root();
            let list: Vec<String> = locs.iter().map(ToString::to_string).collect();
            storage.write_node_errors(&root, &list.join("\n"))?;
            for loc in locs {
                let text = storage.read_errors(loc).unwrap_or_default();
                storage.append_workflow_log(&format!("node {loc} failed: {}", text.trim_end()))?;
            }
            storage.append_workflow_log("workflow failed")?;
        }
        Outcome::Stalled(waiting) => storage.append_workflow_log(&format!(
            "workflow {}",
            crate::scheduler::stall_explanation(waiting)
        ))?,
        Outcome::Paused(locs) => {
            tierkreis_storage::breakpoints::write_pause(storage.as_ref(), sched.paused_nodes())?;
            let list: Vec<String> = locs.iter().map(ToString::to_string).collect();
            storage.append_workflow_log(&format!(
                "workflow paused at breakpoint(s) {}; resume to continue",
                list.join(", ")
            ))?;
        }
        Outcome::Running => {}
    }
    Ok(outcome)
}

/// The scheduling loop: launches what the scheduler decides (or serves it
/// from `cache`, whose finished misses go to the channel of its recorder),
/// and feeds completions back until the run is over.
fn drive(
    sched: &mut Scheduler<'_>,
    storage: &Arc<dyn ControllerStorage>,
    executor: &mut dyn Executor,
    events: &RunEventChannel,
    on_progress: &mut dyn FnMut(Progress),
    cache: Option<(
        &crate::cache::ResultCache,
        &std::sync::mpsc::Sender<crate::cache::Recording>,
    )>,
    retries: Option<&RetryPolicyFn>,
) -> Result<Outcome, RunError> {
    let stop = |executor: &mut dyn Executor| RunError::Stopped {
        stopped: executor.stop(),
    };
    // Tasks launched on a cache miss: recorded under their key once done.
    let mut to_record: HashMap<Loc, (String, ReadyTask)> = HashMap::new();
    // Launched tasks, kept while retries are on (to launch them again), and
    // the ones waiting for their backoff.
    let mut launched: HashMap<Loc, ReadyTask> = HashMap::new();
    let mut backing_off: HashMap<Loc, ReadyTask> = HashMap::new();
    loop {
        // A cache hit finishes its node at once, which may make more tasks
        // ready: take launches until there are none.
        loop {
            let tasks = sched.take_launches();
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                if let Some((cache, _)) = cache {
                    match cache.try_reuse(&task, storage.as_ref())? {
                        crate::cache::Reuse::Hit { run, loc } => {
                            tracing::debug!(task = %task.loc, from_run = %run, from = %loc, "reused a cached result");
                            if let Some(timeline) = &events.events.timeline {
                                timeline.send(TimelineEvent::CacheHit {
                                    loc: task.loc.to_string(),
                                    function: format!("{}.{}", task.worker, task.function),
                                    from_run: format!("{run} {loc}"),
                                });
                            }
                            sched.task_finished(&task.loc)?;
                            continue;
                        }
                        crate::cache::Reuse::Miss { key } => {
                            to_record.insert(task.loc.clone(), (key, task.clone()));
                        }
                        crate::cache::Reuse::NotEligible => {}
                    }
                }
                if retries.is_some() {
                    launched.insert(task.loc.clone(), task.clone());
                }
                launch_one(sched, storage, executor, events, task)?;
            }
        }
        on_progress(sched.progress());
        match sched.outcome() {
            Outcome::Running => {}
            other => return Ok(other),
        }
        // The channel's own sender lives in `events`, so `recv` cannot fail
        // while we hold it; executors that lose a task would hang here, which
        // is what a stop request is for.
        let first = events.rx.recv().map_err(|_| RunError::ExecutorsGone {
            running: sched.progress().running,
        })?;
        let mut stopped = false;
        let mut storage_failure: Option<(Loc, String)> = None;
        let mut next = Some(first);
        while let Some(event) = next {
            match event {
                RunEvent::TaskCompletion(TaskCompletion {
                    loc,
                    result:
                        Err(TaskFailure {
                            kind: FailureKind::ControllerStorage,
                            message,
                        }),
                }) => {
                    // Not the task's failure: the node stays running (and
                    // is un-started below) instead of failed. The first one
                    // is the run's error; the others go to the debug log.
                    tracing::debug!(%loc, %message, "checkpoint storage failed");
                    storage_failure.get_or_insert((loc, message));
                }
                RunEvent::TaskCompletion(c) => {
                    let retry = match (retries, &c.result, launched.get(&c.loc)) {
                        (Some(policy_of), Err(failure), Some(task)) => {
                            retry_after(policy_of, task, failure, storage.as_ref())?
                        }
                        _ => None,
                    };
                    if let Some(delay) = retry {
                        if let Some(task) = launched.get(&c.loc) {
                            backing_off.insert(c.loc.clone(), task.clone());
                        }
                        let tx = events.events.tx.clone();
                        let loc = c.loc.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(delay);
                            let _ = tx.send(RunEvent::RetryDue(loc));
                        });
                    } else {
                        launched.remove(&c.loc);
                        let pending = to_record.remove(&c.loc);
                        if let (Some((_, recorder)), Some((key, task)), Ok(())) =
                            (cache, pending, &c.result)
                        {
                            // The recorder lives until the run returns.
                            let _ = recorder.send(crate::cache::Recording::Task { key, task });
                        }
                        apply(sched, c)?;
                    }
                }
                RunEvent::Stop => stopped = true,
                RunEvent::RetryDue(loc) => {
                    if let Some(task) = backing_off.remove(&loc) {
                        launch_one(sched, storage, executor, events, task)?;
                    }
                }
            }
            next = events.rx.try_recv().ok();
        }
        if let Some((loc, message)) = storage_failure {
            return Err(RunError::TaskStorage { loc, message });
        }
        if stopped {
            let err = stop(executor);
            unstart_interrupted(sched, storage.as_ref())?;
            return Err(err);
        }
    }
}

/// Whether the failed `task` is retried, by its policy and the kind of
/// `failure`; if so its attempt is archived and markers cleared (see
/// [`crate::retry`]), and the wait before launching it again is returned.
fn retry_after(
    policy_of: &RetryPolicyFn,
    task: &ReadyTask,
    failure: &TaskFailure,
    storage: &dyn ControllerStorage,
) -> Result<Option<std::time::Duration>, RunError> {
    let policy = policy_of(&task.worker, &task.function);
    if policy.retries == 0 {
        return Ok(None);
    }
    let Some(kind) = crate::retry::retry_on_entry(failure.kind) else {
        return Ok(None);
    };
    if !policy.retry_on.contains(&kind) {
        return Ok(None);
    }
    let reason = failure.message.as_str();
    let done = crate::retry::failed_attempts(storage, &task.loc);
    if done >= policy.retries {
        return Ok(None);
    }
    let k = crate::retry::archive_attempt(storage, &task.loc, reason)?;
    let delay = policy.delay(k);
    tracing::info!(loc = %task.loc, attempt = k, ?kind, failure = ?failure.kind, ?delay, "task failed; retrying");
    storage.append_workflow_log(&format!(
        "task {} attempt {k} failed ({kind:?}); retry {k} of {} in {:.3}s",
        task.loc,
        policy.retries,
        delay.as_secs_f64()
    ))?;
    Ok(Some(delay))
}

/// Hands one task to the executor; a task that cannot start fails its node.
fn launch_one(
    sched: &mut Scheduler<'_>,
    storage: &Arc<dyn ControllerStorage>,
    executor: &mut dyn Executor,
    events: &RunEventChannel,
    task: ReadyTask,
) -> Result<(), RunError> {
    if let Some(timeline) = &events.events.timeline {
        timeline.send(TimelineEvent::Queued {
            loc: task.loc.to_string(),
            function: format!("{}.{}", task.worker, task.function),
        });
    }
    if let Err(e) = executor.launch(&task, storage, &events.events) {
        if let LaunchError::Storage { loc, source } = e {
            return Err(RunError::TaskStorage {
                loc,
                message: source.to_string(),
            });
        }
        let message = e.to_string();
        if let Some(timeline) = &events.events.timeline {
            timeline.send(TimelineEvent::Finished {
                loc: task.loc.to_string(),
                outcome: AttemptOutcome::Failed,
                failure: Some("CouldNotLaunch".to_string()),
            });
        }
        tracing::warn!(loc = %task.loc, %message, "task could not start");
        tierkreis_storage::record_task_failure(storage.as_ref(), &task.loc, &message)?;
        sched.task_failed(&task.loc)?;
    }
    Ok(())
}

/// After a stop, marks the tasks that were running and left no marker as not
/// started (their `nodedef` removed, as the reference's `restart_task` does), so
/// that any controller, ours or the reference's, runs them again on resume.
/// The reference's resume waits forever for a started task without markers.
fn unstart_interrupted(
    sched: &Scheduler<'_>,
    storage: &dyn ControllerStorage,
) -> Result<(), RunError> {
    for loc in sched.running_tasks() {
        if !storage.is_node_finished(loc) && !storage.node_has_error(loc) {
            storage.delete_path(&storage.nodedef_path(loc))?;
        }
    }
    Ok(())
}

fn apply(sched: &mut Scheduler<'_>, c: TaskCompletion) -> Result<(), RunError> {
    match c.result {
        Ok(()) => sched.task_finished(&c.loc)?,
        Err(failure) => {
            tracing::debug!(loc = %c.loc, reason = %failure.message, kind = ?failure.kind, "task failed");
            sched.task_failed(&c.loc)?;
        }
    }
    Ok(())
}
