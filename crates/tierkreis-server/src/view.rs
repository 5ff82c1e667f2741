//! What the page shows of a workflow, read from its checkpoint folder: the
//! graph of one scope (an eval body, a loop's iterations, a map's elements)
//! with node states and edge values, and one node's inputs, outputs, logs
//! and error. Shapes follow the reference visualizer's `PyGraph`, `PyNode`
//! and `PyEdge`, with paging and status counts for big loops and maps.

use std::fs;

use serde::Serialize;
use tierkreis_core::graph::NodeKind;
use tierkreis_core::{GraphData, Loc, NodeDef, Step, Value};
use tierkreis_storage::controller::iso_utc;
use tierkreis_storage::{ControllerStorage, FileControllerStorage, StorageError};

use crate::error::ApiError;

/// Edge labels and node values are cut to this many characters.
pub const SHORT_LEN: usize = 60;
/// Values in a node's details are cut to this many characters.
pub const DETAIL_LEN: usize = 4000;
/// Values bigger than this are not read for a rendering, only sized.
const MAX_RENDER_BYTES: u64 = 1 << 20;
/// How many loop iterations or map elements one page holds by default.
pub const DEFAULT_PAGE: usize = 200;

/// A node's state in the reference visualizer's words: storage's
/// [`tierkreis_storage::NodeStatus`], with a started scope that has a failed
/// node inside shown as `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VisualizerNodeStatus {
    #[serde(rename = "Not started")]
    NotStarted,
    Started,
    Error,
    Finished,
}

/// One node of a scope's graph.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// The node's location (also its id).
    pub id: String,
    /// The last step's index: `k` of `N<k>`, `i` of `L<i>`/`M<i>`.
    pub index: i64,
    pub node_type: String,
    /// The task's function name; the type for other nodes; `L<i>`/`M<i>`
    /// for iterations and elements.
    pub function_name: String,
    pub status: VisualizerNodeStatus,
    pub started_time: Option<String>,
    pub finished_time: Option<String>,
    pub outputs: Vec<String>,
    /// A const's value, an input's name, an output's single value.
    pub value: Option<String>,
    /// Whether the node has a graph of its own to open (eval, loop, map,
    /// iterations and elements).
    pub expandable: bool,
}

/// One edge of a scope's graph, with the value that went along it.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeView {
    pub from_node: String,
    pub from_port: String,
    pub to_node: String,
    pub to_port: String,
    pub value: Option<String>,
    /// An ifelse branch that was not (or not yet) chosen.
    pub conditional: bool,
}

/// How many nodes of a scope are in each state.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StatusCounts {
    pub not_started: usize,
    pub started: usize,
    pub error: usize,
    pub finished: usize,
}

impl StatusCounts {
    fn add(&mut self, s: VisualizerNodeStatus) {
        match s {
            VisualizerNodeStatus::NotStarted => self.not_started += 1,
            VisualizerNodeStatus::Started => self.started += 1,
            VisualizerNodeStatus::Error => self.error += 1,
            VisualizerNodeStatus::Finished => self.finished += 1,
        }
    }
}

/// The graph of one scope.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeGraph {
    pub loc: String,
    /// `eval`, `loop` or `map`.
    pub scope_type: &'static str,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    /// Number of nodes in the scope (iterations, elements), all pages.
    pub total: usize,
    /// How many of them match the status filter (all pages).
    pub matching: usize,
    pub offset: usize,
    pub limit: usize,
    /// States of all nodes of the scope, all pages.
    pub counts: StatusCounts,
}

/// A node's state and times: what a live update carries.
#[derive(Debug, Clone, Serialize)]
pub struct NodeState {
    pub id: String,
    pub status: VisualizerNodeStatus,
    pub started_time: Option<String>,
    pub finished_time: Option<String>,
}

/// A port's value in a node's details.
#[derive(Debug, Clone, Serialize)]
pub struct PortValue {
    pub port: String,
    /// Where the value comes from (`loc` and port), for inputs.
    pub from_node: Option<String>,
    pub from_port: Option<String>,
    /// The value, rendered and cut to [`DETAIL_LEN`]; `None` if absent.
    pub value: Option<String>,
    pub bytes: Option<u64>,
}

/// Everything about one node, for the details panel.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    pub id: String,
    pub node_type: String,
    pub function_name: String,
    pub status: VisualizerNodeStatus,
    pub started_time: Option<String>,
    pub finished_time: Option<String>,
    pub inputs: Vec<PortValue>,
    pub outputs: Vec<PortValue>,
    /// The error text if the node failed.
    pub error: Option<String>,
    /// The node's log (`read_node_log`: `logs`, else `_error`'s text), as the
    /// reference's `/logs` route returns it.
    pub logs: String,
    pub expandable: bool,
    /// A failed task: the page offers to restart it.
    pub restartable: bool,
    /// A task reused from the result cache: the run and node its outputs
    /// came from (`{"run": .., "loc": ..}`).
    pub cached_from: Option<CachedFrom>,
    /// A retried task's failed attempts (`<node>/attempts/<k>`), in order.
    pub attempts: Vec<FailedAttempt>,
    /// How a task ran (`debug/executors/<loc>`): the executor, the batch
    /// job it ran in, and the command (which names a worker job's node).
    pub ran_with: Option<RanWith>,
}

/// A task's executor record, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RanWith {
    pub executor: String,
    pub job_id: Option<String>,
    pub launch_command: String,
}

/// One failed attempt of a retried task.
#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    pub number: u32,
    pub reason: String,
}

/// Where a cached task's outputs came from.
#[derive(Debug, Clone, Serialize)]
pub struct CachedFrom {
    pub run: String,
    pub loc: String,
}

/// Checks a port name from a URL: not empty, not `.` or `..`, no `/`, `\`
/// or NUL, so it names a file inside an `outputs` folder and nothing else.
pub fn check_port(port: &str) -> Result<(), ApiError> {
    let reason = if port.is_empty() {
        Some("it is empty")
    } else if port == "." || port == ".." {
        Some("it is . or ..")
    } else if port.contains(['/', '\\', '\0']) {
        Some("it contains / or \\ or NUL")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ApiError::BadPort {
            port: port.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Parses a location from a URL.
pub fn parse_loc(s: &str) -> Result<Loc, ApiError> {
    Loc::parse(s).map_err(|source| ApiError::BadLoc { source })
}

/// The failed nodes of a run ([`tierkreis_storage::failed_nodes`]).
#[derive(Debug)]
pub struct Errored(Vec<String>);

impl Errored {
    pub fn read(s: &FileControllerStorage) -> Errored {
        let failed = tierkreis_storage::failed_nodes(s).unwrap_or_else(|e| {
            tracing::warn!(run = %s.workflow_id(), error = %e, "cannot list the failed nodes");
            Vec::new()
        });
        Errored(failed.iter().map(|loc| loc.as_str().to_string()).collect())
    }

    /// Whether `loc` or a location inside it failed.
    fn covers(&self, loc: &Loc) -> bool {
        let l = loc.as_str();
        self.0
            .iter()
            .any(|e| e == l || (e.starts_with(l) && e.as_bytes().get(l.len()) == Some(&b'.')))
    }
}

/// The state of the node at `loc`.
pub fn node_status(
    s: &FileControllerStorage,
    loc: &Loc,
    errored: &Errored,
) -> VisualizerNodeStatus {
    match tierkreis_storage::node_status(s, loc) {
        tierkreis_storage::NodeStatus::Finished => VisualizerNodeStatus::Finished,
        tierkreis_storage::NodeStatus::Failed => VisualizerNodeStatus::Error,
        tierkreis_storage::NodeStatus::Started if errored.covers(loc) => {
            VisualizerNodeStatus::Error
        }
        tierkreis_storage::NodeStatus::Started => VisualizerNodeStatus::Started,
        tierkreis_storage::NodeStatus::NotStarted => VisualizerNodeStatus::NotStarted,
    }
}

/// The state and times of the node at `loc`.
pub fn node_state(s: &FileControllerStorage, loc: &Loc, errored: &Errored) -> NodeState {
    NodeState {
        id: loc.to_string(),
        status: node_status(s, loc, errored),
        started_time: time(s.started_time(loc)),
        finished_time: time(s.finished_time(loc)),
    }
}

fn time(t: Result<Option<std::time::SystemTime>, StorageError>) -> Option<String> {
    t.ok().flatten().map(iso_utc)
}

/// Reads the node definition at `loc`; a missing one is "not started".
fn read_def(s: &FileControllerStorage, loc: &Loc) -> Result<NodeDef, ApiError> {
    s.read_node_def(loc).map_err(|e| {
        if e.is_not_found() {
            ApiError::NodeNotStarted {
                id: s.workflow_id(),
                loc: loc.to_string(),
            }
        } else {
            ApiError::Storage { source: e }
        }
    })
}

/// Whether a node of this kind has a graph of its own.
fn kind_expandable(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Eval { .. } | NodeKind::Loop { .. } | NodeKind::Map { .. }
    )
}

/// The body graph of an eval-like scope (`<loc>.N-1/outputs/body`).
fn eval_body(s: &FileControllerStorage, loc: &Loc) -> Result<GraphData, ApiError> {
    let inputs = loc.n(-1);
    let bytes = s.read_output(&inputs, "body")?;
    GraphData::from_json(&bytes).map_err(|source| ApiError::Storage {
        source: StorageError::BadNodeDef {
            loc: format!("{inputs} (output body)"),
            source: Box::new(source),
        },
    })
}

/// Which iterations or elements of a loop or map to show.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
    /// Only those in this state (counted after filtering, before paging).
    pub status: Option<VisualizerNodeStatus>,
}

impl VisualizerNodeStatus {
    /// Parses the names the API uses (`Not started`, `Started`, `Error`,
    /// `Finished`, case-insensitive; `not_started` too).
    pub fn parse(s: &str) -> Option<VisualizerNodeStatus> {
        match s.to_ascii_lowercase().replace('_', " ").as_str() {
            "not started" => Some(VisualizerNodeStatus::NotStarted),
            "started" => Some(VisualizerNodeStatus::Started),
            "error" => Some(VisualizerNodeStatus::Error),
            "finished" => Some(VisualizerNodeStatus::Finished),
            _ => None,
        }
    }
}

/// The graph of the scope at `loc`; loops and maps are paged by `page`.
pub fn scope_graph(
    s: &FileControllerStorage,
    loc: &Loc,
    page: Page,
) -> Result<ScopeGraph, ApiError> {
    let def = read_def(s, loc)?;
    let errored = Errored::read(s);
    match &def.kind {
        NodeKind::Eval { .. } => eval_scope(s, loc, &errored),
        NodeKind::Loop { .. } => {
            let children = loop_children(s, loc);
            Ok(paged_scope(s, loc, "loop", &children, page, &errored))
        }
        NodeKind::Map { .. } => {
            let children = map_children(s, loc, &def)?;
            Ok(paged_scope(s, loc, "map", &children, page, &errored))
        }
        _ => Err(ApiError::NoGraph {
            loc: loc.to_string(),
            node_type: def.type_name().to_string(),
        }),
    }
}

/// The locations of the direct children of the scope at `loc` (nodes of an
/// eval body, iterations, elements), for watching; empty if it has none.
pub fn scope_children(s: &FileControllerStorage, loc: &Loc) -> Vec<Loc> {
    let Ok(def) = s.read_node_def(loc) else {
        return Vec::new();
    };
    match &def.kind {
        NodeKind::Eval { .. } => eval_body(s, loc)
            .map(|g| (0..g.nodes.len()).map(|i| loc.n(i as i64)).collect())
            .unwrap_or_default(),
        NodeKind::Loop { .. } => loop_children(s, loc),
        NodeKind::Map { .. } => map_children(s, loc, &def).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn eval_scope(
    s: &FileControllerStorage,
    loc: &Loc,
    errored: &Errored,
) -> Result<ScopeGraph, ApiError> {
    let graph = eval_body(s, loc)?;
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    let mut edges = Vec::new();
    let mut counts = StatusCounts::default();
    for (i, node) in graph.nodes.iter().enumerate() {
        let at = loc.n(i as i64);
        let state = node_state(s, &at, errored);
        counts.add(state.status);
        let (name, value) = match &node.kind {
            NodeKind::Function { function_name } => (function_name.clone(), None),
            NodeKind::Const { .. } => (
                "const".to_string(),
                short_output(s, &at, "value", SHORT_LEN),
            ),
            NodeKind::Input { name } => ("input".to_string(), Some(name.clone())),
            NodeKind::Output => {
                let value = match node.inputs.values().collect::<Vec<_>>().as_slice() {
                    [r] => short_output(s, &loc.n(r.node), &r.port, SHORT_LEN),
                    _ => None,
                };
                ("output".to_string(), value)
            }
            _ => (node.type_name().to_string(), None),
        };
        nodes.push(NodeView {
            id: at.to_string(),
            index: i as i64,
            node_type: node.type_name().to_string(),
            function_name: name,
            status: state.status,
            started_time: state.started_time,
            finished_time: state.finished_time,
            outputs: node.outputs.keys().cloned().collect(),
            value,
            expandable: kind_expandable(&node.kind),
        });
        let chosen = match &node.kind {
            NodeKind::IfElse { pred, .. } => Some(
                s.read_output(&loc.n(pred.node), &pred.port)
                    .ok()
                    .and_then(|b| Value::from_bytes(&b).as_bool()),
            ),
            _ => None,
        };
        for (port, r) in node.in_edges() {
            let from = loc.n(r.node);
            let conditional = match (chosen, port) {
                (Some(c), "if_true") => c != Some(true),
                (Some(c), "if_false") => c != Some(false),
                _ => false,
            };
            edges.push(EdgeView {
                value: short_output(s, &from, &r.port, SHORT_LEN),
                from_node: from.to_string(),
                from_port: r.port.clone(),
                to_node: at.to_string(),
                to_port: port.to_string(),
                conditional,
            });
        }
    }
    let total = nodes.len();
    Ok(ScopeGraph {
        loc: loc.to_string(),
        scope_type: "eval",
        nodes,
        edges,
        total,
        matching: total,
        offset: 0,
        limit: total,
        counts,
    })
}

/// The started iterations `L0..Li` of the loop at `loc`.
fn loop_children(s: &FileControllerStorage, loc: &Loc) -> Vec<Loc> {
    let mut out = Vec::new();
    let mut i = 0;
    while s.is_node_started(&loc.l(i)) {
        out.push(loc.l(i));
        i += 1;
    }
    if out.is_empty() {
        out.push(loc.l(0));
    }
    out
}

/// The elements `M<i>` of the map at `loc`: one per output port of the
/// node feeding its `*` input, sorted by index.
fn map_children(s: &FileControllerStorage, loc: &Loc, def: &NodeDef) -> Result<Vec<Loc>, ApiError> {
    let Some((_, scope)) = loc.pop_last() else {
        return Ok(Vec::new());
    };
    let Some(src) = def.inputs.values().find(|r| r.port == "*") else {
        return Ok(Vec::new());
    };
    let mut idx: Vec<u64> = s
        .read_output_ports(&scope.n(src.node))?
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    idx.sort_unstable();
    Ok(idx.into_iter().map(|i| loc.m(i)).collect())
}

fn paged_scope(
    s: &FileControllerStorage,
    loc: &Loc,
    scope_type: &'static str,
    all: &[Loc],
    page: Page,
    errored: &Errored,
) -> ScopeGraph {
    let Page {
        offset,
        limit,
        status,
    } = page;
    let mut counts = StatusCounts::default();
    let mut children = Vec::with_capacity(all.len());
    let mut states = Vec::with_capacity(all.len());
    for c in all {
        let st = node_status(s, c, errored);
        counts.add(st);
        if status.is_none() || status == Some(st) {
            children.push(c.clone());
            states.push(st);
        }
    }
    let end = offset.saturating_add(limit).min(children.len());
    let start = offset.min(end);
    let outputs: Vec<String> = children
        .first()
        .and_then(|c| s.read_node_def(c).ok())
        .map(|d| d.outputs.keys().cloned().collect())
        .unwrap_or_default();
    let mut nodes = Vec::with_capacity(end - start);
    let mut edges = Vec::new();
    for (c, st) in children[start..end].iter().zip(&states[start..end]) {
        nodes.push(NodeView {
            id: c.to_string(),
            index: c.peek_index(),
            node_type: "eval".to_string(),
            function_name: c.last_step().to_string(),
            status: *st,
            started_time: time(s.started_time(c)),
            finished_time: time(s.finished_time(c)),
            outputs: outputs.clone(),
            value: None,
            expandable: true,
        });
        if let Step::L(i) = c.last_step() {
            if s.is_node_started(&loc.l(i + 1)) {
                for port in &outputs {
                    edges.push(EdgeView {
                        from_node: c.to_string(),
                        from_port: port.clone(),
                        to_node: loc.l(i + 1).to_string(),
                        to_port: port.clone(),
                        value: short_output(s, c, port, SHORT_LEN),
                        conditional: false,
                    });
                }
            }
        }
    }
    ScopeGraph {
        loc: loc.to_string(),
        scope_type,
        nodes,
        edges,
        total: all.len(),
        matching: children.len(),
        offset: start,
        limit,
        counts,
    }
}

/// Details of the node at `loc`.
pub fn node_info(s: &FileControllerStorage, loc: &Loc) -> Result<NodeInfo, ApiError> {
    let def = read_def(s, loc)?;
    let errored = Errored::read(s);
    let state = node_state(s, loc, &errored);
    let eval_like = !matches!(loc.last_step(), Step::N(_));
    let inputs = if eval_like {
        // The root, an iteration or an element: its scope inputs.
        let inputs = loc.n(-1);
        s.read_output_ports(&inputs)?
            .into_iter()
            .filter(|p| p != "body")
            .map(|p| port_value(s, &inputs, &p, p.clone(), true))
            .collect()
    } else {
        let scope = loc.pop_last().map(|(_, l)| l).unwrap_or_else(Loc::root);
        def.in_edges()
            .filter(|(port, _)| *port != "body")
            .map(|(port, r)| port_value(s, &scope.n(r.node), &r.port, port.to_string(), true))
            .collect()
    };
    let outputs = s
        .read_output_ports(loc)?
        .into_iter()
        .map(|p| port_value(s, loc, &p, p.clone(), false))
        .collect();
    let logs = s.read_node_log(loc)?;
    let has_error = s.node_has_error(loc) || state.status == VisualizerNodeStatus::Error;
    let error = has_error.then(|| {
        if logs.is_empty() && !loc.is_root() {
            "failed inside (see the nested nodes)".to_string()
        } else {
            logs.clone()
        }
    });
    let is_task = matches!(def.kind, NodeKind::Function { .. });
    let function_name = match &def.kind {
        NodeKind::Function { function_name } => function_name.clone(),
        _ if eval_like => loc.last_step().to_string(),
        _ => def.type_name().to_string(),
    };
    Ok(NodeInfo {
        id: loc.to_string(),
        node_type: def.type_name().to_string(),
        function_name,
        status: state.status,
        started_time: state.started_time,
        finished_time: state.finished_time,
        inputs,
        outputs,
        restartable: is_task && s.node_has_error(loc),
        cached_from: if is_task || matches!(def.kind, NodeKind::Eval { .. } | NodeKind::Map { .. })
        {
            tierkreis_storage::result_cache::cache_source(s, loc)
                .map(|(run, loc)| CachedFrom { run, loc })
        } else {
            None
        },
        ran_with: if is_task {
            s.read_executor_data(loc).ok().map(|d| RanWith {
                executor: d.executor,
                job_id: d.job_id,
                launch_command: d.launch_command,
            })
        } else {
            None
        },
        attempts: if is_task {
            tierkreis_storage::attempts::attempts(s, loc)
                .into_iter()
                .map(|a| FailedAttempt {
                    number: a.number,
                    reason: a.reason,
                })
                .collect()
        } else {
            Vec::new()
        },
        error,
        logs,
        expandable: kind_expandable(&def.kind),
    })
}

fn port_value(
    s: &FileControllerStorage,
    loc: &Loc,
    port: &str,
    name: String,
    input: bool,
) -> PortValue {
    let path = s.output_path(loc, port);
    PortValue {
        port: name,
        from_node: input.then(|| loc.to_string()),
        from_port: input.then(|| port.to_string()),
        value: short_output(s, loc, port, DETAIL_LEN),
        bytes: fs::metadata(path).ok().map(|m| m.len()),
    }
}

/// The value of output `port` of `loc` rendered and cut to `max` characters;
/// `None` if there is none.
pub fn short_output(
    s: &FileControllerStorage,
    loc: &Loc,
    port: &str,
    max: usize,
) -> Option<String> {
    let path = s.output_path(loc, port);
    let len = fs::metadata(&path).ok()?.len();
    if len > MAX_RENDER_BYTES {
        return Some(format!("<{len} bytes>"));
    }
    let bytes = s.read(&path).ok()?;
    Some(render(&bytes, max))
}

/// A value for people: compact JSON, `<graph>` for a graph, bytes as their
/// size, cut to `max` characters with an ellipsis.
pub fn render(bytes: &[u8], max: usize) -> String {
    let text = match Value::from_bytes(bytes) {
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
        Value::Map(m) if m.contains_key("nodes") && m.contains_key("graph_output_idx") => {
            "<graph>".to_string()
        }
        v => tierkreis_core::json::to_string_compact(&v),
    };
    cut(&text, max)
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((i, _)) => format!("{}…", &text[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_that_leave_the_outputs_folder_are_refused() {
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "a\0b"] {
            assert!(check_port(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["value", "value-*", "*", "0", "a.b", "..."] {
            assert!(check_port(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn values_render_compact_and_cut() {
        assert_eq!(render(b"[1, 2,\n 3]", 60), "[1, 2, 3]");
        assert_eq!(render(b"\xff\x00", 60), "<2 bytes>");
        assert_eq!(render(b"\"abcdef\"", 3), "\"ab…");
        assert_eq!(
            render(br#"{"nodes": [], "graph_output_idx": 0}"#, 60),
            "<graph>"
        );
    }

    #[test]
    fn errored_covers_the_location_and_what_is_inside_it_only() {
        let e = Errored(vec!["-.N3.M2.N1".to_string()]);
        for yes in ["-", "-.N3", "-.N3.M2", "-.N3.M2.N1"] {
            assert!(e.covers(&Loc::parse(yes).expect("loc")), "{yes}");
        }
        for no in ["-.N30", "-.N3.M20", "-.N3.M2.N1.L0", "-.N1"] {
            assert!(!e.covers(&Loc::parse(no).expect("loc")), "{no}");
        }
    }
}
