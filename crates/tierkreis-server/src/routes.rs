//! The HTTP routes: the reference visualizer's `/api/workflows` API (list,
//! scope graph, a node's inputs, outputs, logs and errors, restart), plus a
//! node's details in one call, workflow status, server-sent events, and the
//! page itself.
//!
//! Every workflow id, location and port from a URL is validated before any
//! path is built from it (a UUID, a [`tierkreis_core::Loc`], a port name
//! without `/` or `..`), so a request can only read inside its workflow
//! folder; malformed ones get `400` with a JSON `{"error": ...}`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tierkreis_core::{Loc, Step, Value};
use tierkreis_storage::{ControllerStorage, FileControllerStorage, LockError, WorkflowLock};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::error::ApiError;
use crate::live::{DirWatch, ScopeGuard, Watches};
use crate::pictures;
use crate::view::{self, Errored};
use crate::workflows::{self, WorkflowStatus};

/// The page, shipped inside the binary.
pub const INDEX_HTML: &str = include_str!("../page/index.html");

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub tkr_dir: PathBuf,
    pub tkr_exe: PathBuf,
    /// Added to every `tkr resume` started ([`crate::ServerConfig::resume_args`]).
    pub resume_args: Vec<std::ffi::OsString>,
    pub watches: Watches,
    pub dir_watch: DirWatch,
}

type App = State<Arc<AppState>>;

/// All routes over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/api/events", get(list_events))
        .route("/api/workflows", get(list))
        .route("/api/workflows/", get(list))
        .route("/api/workflows/{id}", get(workflow))
        .route("/api/workflows/{id}/logs", get(workflow_logs))
        .route("/api/workflows/{id}/worker_jobs", get(worker_jobs))
        .route("/api/workflows/{id}/events", get(workflow_events))
        .route("/api/workflows/{id}/nodes/{loc}", get(scope_graph))
        .route("/api/workflows/{id}/nodes/{loc}/info", get(node_info))
        .route("/api/workflows/{id}/timeline", get(timeline))
        .route("/api/workflows/{id}/nodes/{loc}/timing", get(node_timing))
        .route("/api/workflows/{id}/nodes/{loc}/outputs", get(outputs))
        .route(
            "/api/workflows/{id}/nodes/{loc}/outputs/{port}",
            get(output),
        )
        .route(
            "/api/workflows/{id}/nodes/{loc}/outputs/{port}/picture",
            get(output_picture),
        )
        .route("/api/workflows/{id}/nodes/{loc}/inputs/{port}", get(input))
        .route(
            "/api/workflows/{id}/nodes/{loc}/inputs/{port}/picture",
            get(input_picture),
        )
        .route("/api/workflows/{id}/nodes/{loc}/trace", get(loop_trace))
        .route("/api/workflows/{id}/nodes/{loc}/logs", get(node_logs))
        .route("/api/workflows/{id}/nodes/{loc}/errors", get(node_errors))
        .route("/api/workflows/{id}/nodes/{loc}/restart", post(restart))
        .route("/api/workflows/{id}/continue", post(continue_paused))
        .fallback(not_found)
        .with_state(state)
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn not_found() -> Response {
    let body = serde_json::json!({ "error": "no such route" });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Task {
            reason: e.to_string(),
        })?
}

fn parse_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::BadWorkflowId {
        value: s.to_string(),
    })
}

/// The storage of an existing workflow.
fn open(state: &AppState, id: &str) -> Result<FileControllerStorage, ApiError> {
    let id = parse_id(id)?;
    let s = workflows::storage(&state.tkr_dir, id);
    if !s.workflow_dir().is_dir() {
        return Err(ApiError::WorkflowNotFound {
            id,
            dir: state.tkr_dir.clone(),
        });
    }
    Ok(s)
}

async fn list(State(app): App) -> Result<Json<Vec<workflows::WorkflowSummary>>, ApiError> {
    blocking(move || Ok(workflows::list(&app.tkr_dir)))
        .await
        .map(Json)
}

async fn workflow(
    State(app): App,
    Path(id): Path<String>,
) -> Result<Json<workflows::WorkflowSummary>, ApiError> {
    blocking(move || Ok(workflows::summary(&open(&app, &id)?)))
        .await
        .map(Json)
}

async fn workflow_logs(State(app): App, Path(id): Path<String>) -> Result<String, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        match s.read(&s.logs_path()) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.is_not_found() => Err(ApiError::NoLogs {
                id: s.workflow_id(),
            }),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// Paging of loops and maps.
#[derive(Debug, Deserialize)]
struct PageQuery {
    offset: Option<String>,
    limit: Option<String>,
    status: Option<String>,
}

fn parse_count(name: &'static str, v: Option<String>, default: usize) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ApiError::BadQuery {
            name,
            value: v,
            reason: "not a non-negative integer",
        }),
    }
}

async fn scope_graph(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Json<view::ScopeGraph>, ApiError> {
    let offset = parse_count("offset", q.offset, 0)?;
    let limit = parse_count("limit", q.limit, view::DEFAULT_PAGE)?;
    let status = match q.status.filter(|v| !v.is_empty() && v != "all") {
        None => None,
        Some(v) => Some(
            view::VisualizerNodeStatus::parse(&v).ok_or(ApiError::BadQuery {
                name: "status",
                value: v,
                reason: "not one of: Not started, Started, Error, Finished",
            })?,
        ),
    };
    let page = view::Page {
        offset,
        limit,
        status,
    };
    blocking(move || {
        let s = open(&app, &id)?;
        let loc = view::parse_loc(&loc)?;
        view::scope_graph(&s, &loc, page)
    })
    .await
    .map(Json)
}

/// The run's worker jobs (batch jobs holding warm workers): id, node, state.
async fn worker_jobs(
    State(app): App,
    Path(id): Path<String>,
) -> Result<Json<Vec<tierkreis_storage::worker_jobs::WorkerJobSummary>>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        Ok(tierkreis_storage::worker_jobs::worker_jobs(
            s.workflow_dir(),
        ))
    })
    .await
    .map(Json)
}

async fn node_info(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<Json<view::NodeInfo>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        view::node_info(&s, &view::parse_loc(&loc)?)
    })
    .await
    .map(Json)
}

/// The run's report (`tkr report --json`): timeline, lanes, start-ups,
/// per-function statistics and summary.
async fn timeline(
    State(app): App,
    Path(id): Path<String>,
) -> Result<Json<tierkreis_storage::run_report::RunReport>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        tierkreis_storage::run_report::workflow_report(&s).map_err(|source| ApiError::Timeline {
            id: s.workflow_id(),
            source,
        })
    })
    .await
    .map(Json)
}

/// One task's attempts from the timeline, with its queue wait and running
/// time in seconds (`null` for a node the timeline does not list).
#[derive(Debug, Serialize)]
struct NodeTiming {
    task: Option<tierkreis_storage::timeline::TaskRecord>,
    queue_wait_s: Option<f64>,
    duration_s: Option<f64>,
}

async fn node_timing(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<Json<NodeTiming>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        let loc = view::parse_loc(&loc)?.to_string();
        let timeline = tierkreis_storage::timeline::read_run_timeline(&s).map_err(|source| {
            ApiError::Timeline {
                id: s.workflow_id(),
                source,
            }
        })?;
        let task = timeline.tasks.into_iter().find(|t| t.loc == loc);
        let last = task.as_ref().and_then(|t| t.attempts.last());
        Ok(NodeTiming {
            queue_wait_s: last.map(|a| a.started_us.saturating_sub(a.queued_us) as f64 / 1e6),
            duration_s: last.and_then(|a| {
                a.finished_us
                    .map(|f| f.saturating_sub(a.started_us) as f64 / 1e6)
            }),
            task,
        })
    })
    .await
    .map(Json)
}

async fn outputs(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        let loc = view::parse_loc(&loc)?;
        let mut out = BTreeMap::new();
        for port in s.read_output_ports(&loc)? {
            if let Some(v) = view::short_output(&s, &loc, &port, view::DETAIL_LEN) {
                out.insert(port, v);
            }
        }
        Ok(out)
    })
    .await
    .map(Json)
}

/// A stored value as the response: JSON as it is stored, other bytes raw.
fn value_response(bytes: Vec<u8>) -> Response {
    let ctype = match Value::from_bytes(&bytes) {
        Value::Bytes(_) => "application/octet-stream",
        _ => "application/json",
    };
    ([(header::CONTENT_TYPE, ctype)], bytes).into_response()
}

async fn output(
    State(app): App,
    Path((id, loc, port)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        Ok(value_response(read_output(&s, &loc, &port)?))
    })
    .await
}

async fn input(
    State(app): App,
    Path((id, loc, port)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        Ok(value_response(read_input(&s, &loc, &port)?))
    })
    .await
}

/// The bytes of input `port` of the node at `loc` (a location from a URL).
fn read_input(s: &FileControllerStorage, loc: &str, port: &str) -> Result<Vec<u8>, ApiError> {
    let loc = view::parse_loc(loc)?;
    view::check_port(port)?;
    let no_value = || ApiError::NoValue {
        loc: loc.to_string(),
        port: port.to_string(),
    };
    // Where the input comes from: the scope inputs of the root, an
    // iteration or an element; else the node's input edge.
    let (src, src_port) = match loc.pop_last() {
        Some((Step::N(_), scope)) => {
            let def = s.read_node_def(&loc)?;
            let r = def
                .in_edges()
                .find(|(p, _)| *p == port)
                .map(|(_, r)| r.clone())
                .ok_or_else(no_value)?;
            (scope.n(r.node), r.port)
        }
        _ => (loc.n(-1), port.to_string()),
    };
    match s.read_output(&src, &src_port) {
        Ok(b) => Ok(b),
        Err(e) if e.is_not_found() => Err(no_value()),
        Err(e) => Err(e.into()),
    }
}

/// The bytes of output `port` of the node at `loc` (a location from a URL).
fn read_output(s: &FileControllerStorage, loc: &str, port: &str) -> Result<Vec<u8>, ApiError> {
    let loc = view::parse_loc(loc)?;
    view::check_port(port)?;
    match s.read_output(&loc, port) {
        Ok(b) => Ok(b),
        Err(e) if e.is_not_found() => Err(ApiError::NoValue {
            loc: loc.to_string(),
            port: port.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

// ----- pictures of values -----

/// `GET .../nodes/{loc}/outputs/{port}/picture`: what the page draws for
/// the value (`{"kind": "histogram" | "circuit" | "plot" | "list" | "json", ..}`).
async fn output_picture(
    State(app): App,
    Path((id, loc, port)): Path<(String, String, String)>,
) -> Result<Json<pictures::Picture>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        Ok(pictures::picture_of_bytes(&read_output(&s, &loc, &port)?))
    })
    .await
    .map(Json)
}

/// `GET .../nodes/{loc}/inputs/{port}/picture`: as for an output.
async fn input_picture(
    State(app): App,
    Path((id, loc, port)): Path<(String, String, String)>,
) -> Result<Json<pictures::Picture>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        Ok(pictures::picture_of_bytes(&read_input(&s, &loc, &port)?))
    })
    .await
    .map(Json)
}

/// `GET .../nodes/{loc}/trace`: a loop's outputs per iteration as a plot
/// (what `tkr trace` prints).
async fn loop_trace(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<Json<pictures::Trace>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        pictures::loop_trace(&s, &view::parse_loc(&loc)?)
    })
    .await
    .map(Json)
}

/// `/nodes/<loc>/logs`: the node's log (`read_node_log`: its `logs`, else
/// its `_error` text), as the reference visualizer's route returns it.
async fn node_logs(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<String, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        Ok(s.read_node_log(&view::parse_loc(&loc)?)?)
    })
    .await
}

/// `/nodes/<loc>/errors`: a node's error text, 404 unless it has `_error`,
/// as the reference visualizer's route.
async fn node_errors(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<String, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        let loc = view::parse_loc(&loc)?;
        if !s.node_has_error(&loc) {
            return Err(ApiError::NoErrors {
                loc: loc.to_string(),
            });
        }
        Ok(s.read_errors(&loc)?)
    })
    .await
}

/// The answer to a restart.
#[derive(Debug, Serialize)]
struct Restarted {
    loc: String,
    /// Locations deleted because they depend on the task.
    invalidated: Vec<String>,
    /// The process id of the `tkr resume` started for the workflow.
    resume_pid: u32,
}

async fn restart(
    State(app): App,
    Path((id, loc)): Path<(String, String)>,
) -> Result<Json<Restarted>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        let loc = view::parse_loc(&loc)?;
        let id = s.workflow_id();
        let def = s.read_node_def(&loc).map_err(|e| {
            if e.is_not_found() {
                ApiError::NodeNotStarted {
                    id,
                    loc: loc.to_string(),
                }
            } else {
                e.into()
            }
        })?;
        if !matches!(def.kind, tierkreis_core::graph::NodeKind::Function { .. }) {
            return Err(ApiError::NotATask {
                loc: loc.to_string(),
                node_type: def.type_name().to_string(),
            });
        }
        if workflows::status(&s) == WorkflowStatus::Running {
            return Err(ApiError::Running { id });
        }
        // Hold the controller lock while invalidating, so no controller
        // starts on a half-restarted folder.
        let lock = WorkflowLock::acquire(s.workflow_dir()).map_err(|source| match source {
            LockError::Held { .. } => ApiError::Running { id },
            source => ApiError::Lock { id, source },
        })?;
        let invalidated = tierkreis_storage::restart::restart_task(&s, &loc)?;
        drop(lock);
        let resume_pid = spawn_resume(&app, &s)?;
        Ok(Restarted {
            loc: loc.to_string(),
            invalidated: invalidated.iter().map(Loc::to_string).collect(),
            resume_pid,
        })
    })
    .await
    .map(Json)
}

/// The answer to a continue: where the run was paused, and the resume.
#[derive(Debug, Serialize)]
struct Continued {
    /// The breakpoints the run continues past.
    paused_at: Vec<String>,
    /// The process id of the `tkr resume` started for the workflow.
    resume_pid: u32,
}

/// Continues a run paused at breakpoints: `tkr resume` goes past them and
/// stops at the next one.
async fn continue_paused(
    State(app): App,
    Path(id): Path<String>,
) -> Result<Json<Continued>, ApiError> {
    blocking(move || {
        let s = open(&app, &id)?;
        let id = s.workflow_id();
        match workflows::status(&s) {
            WorkflowStatus::Paused => {}
            WorkflowStatus::Running => return Err(ApiError::Running { id }),
            status => return Err(ApiError::NotPaused { id, status }),
        }
        let paused_at = tierkreis_storage::breakpoints::paused_locations(&s)
            .iter()
            .map(Loc::to_string)
            .collect();
        let resume_pid = spawn_resume(&app, &s)?;
        Ok(Continued {
            paused_at,
            resume_pid,
        })
    })
    .await
    .map(Json)
}

/// Starts `<tkr> resume --checkpoints DIR -q [RESUME_ARGS] ID` (which runs
/// the tasks with the settings the run recorded) in its own process group
/// (so it outlives the server and its Ctrl-C), its stderr appended to
/// `debug/serve-resume.log` in the workflow folder; a thread reaps it.
fn spawn_resume(app: &AppState, s: &FileControllerStorage) -> Result<u32, ApiError> {
    let (exe, tkr_dir) = (&app.tkr_exe, &app.tkr_dir);
    let id = s.workflow_id();
    let spawn_err = |source| ApiError::Spawn {
        exe: exe.to_path_buf(),
        id,
        source,
    };
    let log_path = s.debug_path().join("serve-resume.log");
    fs::create_dir_all(s.debug_path()).map_err(spawn_err)?;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(spawn_err)?;
    let mut child = Command::new(exe)
        .arg("resume")
        .arg("--checkpoints")
        .arg(tkr_dir)
        .arg("-q")
        .args(&app.resume_args)
        .arg(id.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(spawn_err)?;
    let pid = child.id();
    tracing::info!(%id, pid, "started tkr resume");
    std::thread::spawn(move || {
        let status = child.wait();
        tracing::info!(%id, pid, ?status, "tkr resume ended");
    });
    Ok(pid)
}

/// Which scope a page views.
#[derive(Debug, Deserialize)]
struct EventsQuery {
    scope: Option<String>,
}

/// The events sent on `rx` as a server-sent event stream.
fn stream_of(rx: mpsc::Receiver<Event>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event("resync").data("{}"))
}

/// `GET /api/workflows/{id}/events?scope=LOC`: a `hello` event, then a
/// `nodes` event (`{"nodes": [NodeState..]}`) whenever direct children of
/// the scope (or the scope itself) change, a `workflow` event (the summary)
/// when the workflow's own files change, and `resync` if events were lost.
async fn workflow_events(
    State(app): App,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let scope = view::parse_loc(q.scope.as_deref().unwrap_or("-"))?;
    let (s, guard) = {
        let app = app.clone();
        let scope = scope.clone();
        blocking(move || {
            let s = open(&app, &id)?;
            let children = view::scope_children(&s, &scope);
            let guard = app
                .watches
                .view(s.workflow_dir(), &scope, children)
                .map_err(|source| ApiError::Watch {
                    id: s.workflow_id(),
                    source,
                })?;
            Ok((s, guard))
        })
        .await?
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(forward_changes(guard, s, scope, tx));
    Ok(stream_of(rx))
}

/// What a batch of changed names means for one scope's viewer.
struct ScopeUpdate {
    nodes: Vec<view::NodeState>,
    workflow: Option<workflows::WorkflowSummary>,
}

fn scope_update(s: &FileControllerStorage, scope: &Loc, names: &[String]) -> ScopeUpdate {
    let depth = scope.steps().len();
    let mut changed = std::collections::BTreeSet::new();
    let mut workflow_changed = false;
    for name in names {
        let Ok(loc) = Loc::parse(name) else {
            workflow_changed = true;
            continue;
        };
        if loc.is_root() {
            workflow_changed = true;
        }
        if &loc == scope {
            changed.insert(loc);
        } else if loc.as_str().starts_with(&format!("{}.", scope.as_str())) {
            // The direct child of the scope that holds `loc`.
            if let Some(child) = loc.partial_locs().into_iter().nth(depth) {
                changed.insert(child);
            }
        }
    }
    let errored = Errored::read(s);
    ScopeUpdate {
        nodes: changed
            .iter()
            .map(|l| view::node_state(s, l, &errored))
            .collect(),
        workflow: workflow_changed.then(|| workflows::summary(s)),
    }
}

async fn forward_changes(
    guard: ScopeGuard,
    s: FileControllerStorage,
    scope: Loc,
    tx: mpsc::Sender<Event>,
) {
    let mut rx = guard.watch().subscribe();
    let hello = serde_json::json!({ "scope": scope.as_str() });
    if tx.send(json_event("hello", &hello)).await.is_err() {
        return;
    }
    let s = Arc::new(s);
    loop {
        let names = match rx.recv().await {
            Ok(names) => names,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if tx
                    .send(Event::default().event("resync").data("{}"))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let names: Vec<String> = names.iter().cloned().collect();
        let (st, sc) = (s.clone(), scope.clone());
        let Ok(update) = tokio::task::spawn_blocking(move || scope_update(&st, &sc, &names)).await
        else {
            return;
        };
        if !update.nodes.is_empty() {
            let data = serde_json::json!({ "nodes": update.nodes });
            if tx.send(json_event("nodes", &data)).await.is_err() {
                return;
            }
        }
        if let Some(w) = update.workflow {
            if tx.send(json_event("workflow", &w)).await.is_err() {
                return;
            }
        }
    }
}

/// `GET /api/events`: a `hello` event, then `workflows` whenever a workflow
/// folder appears in or leaves the checkpoint folder.
async fn list_events(State(app): App) -> Response {
    let mut changes = app.dir_watch.subscribe();
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        if tx
            .send(Event::default().event("hello").data("{}"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            match changes.recv().await {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if tx
                        .send(Event::default().event("workflows").data("{}"))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    stream_of(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_map_to_the_direct_children_of_the_viewed_scope() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = workflows::storage(dir.path(), Uuid::nil());
        let scope = Loc::parse("-.N3").expect("loc");
        let names: Vec<String> = ["-.N3.M2.N1", "-.N3.M10", "-.N4", "-.N3", "logs"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let u = scope_update(&s, &scope, &names);
        let ids: Vec<&str> = u.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["-.N3", "-.N3.M10", "-.N3.M2"]);
        assert!(u.workflow.is_some(), "a top-level file changed");
        let u = scope_update(&s, &scope, &["-.N30".to_string()]);
        assert!(u.nodes.is_empty() && u.workflow.is_none());
    }
}
