//! The scheduling core: decides which node runs next, event by event.
//!
//! It keeps the state of every live scope (the top-level graph, each eval, each
//! loop iteration, each map element) in memory, so each event costs work
//! proportional to what changed: a finished node wakes only its own consumers,
//! never a walk of the whole graph. Semantics follow the reference's
//! `walk.py`/`start.py`: evaluation is demand-driven from each scope's output
//! node, `ifelse` is lazy (only the chosen branch runs), `eifelse` eager.
//!
//! Invariant: the core does no I/O of its own. Checkpoints go through the
//! [`ControllerStorage`] trait; tasks for workers are put in an outbox
//! ([`Scheduler::take_launches`]) for the runtime to hand to executors, and
//! their completions come back through [`Scheduler::task_finished`] and
//! [`Scheduler::task_failed`].

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_core::graph::{ConstValue, NodeKind};
use tierkreis_core::{
    GraphData, InputLink, Loc, NodeDef, NodeIndex, OutputLoc, PortId, Value, ValueRef,
};
use tierkreis_storage::{ControllerStorage, StorageError};

/// The port that carries a nested graph into its scope's inputs.
pub const BODY_PORT: &str = "body";

/// A graph ready to be scheduled: the data plus what the core derives from it once.
#[derive(Debug)]
pub struct GraphInfo {
    /// The graph itself.
    pub data: GraphData,
    /// The index of its output node.
    pub output_idx: NodeIndex,
    /// For each node, the nodes of the same graph that read one of its outputs.
    consumers: Vec<Vec<NodeIndex>>,
    /// For each `const` node whose value is a graph, that graph, prepared.
    const_graphs: Vec<Option<Arc<GraphInfo>>>,
    /// Each node's `nodedef` file content, serialised once for every scope.
    nodedefs: Vec<Vec<u8>>,
    /// For each node, the nodes of the same graph that must be done before
    /// it can start (a lazy if-else needs only its predicate).
    required: Vec<Vec<NodeIndex>>,
}

/// Why a graph can't be scheduled.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Graph(#[from] tierkreis_core::GraphError),
}

impl GraphInfo {
    /// Validates `data` and derives what scheduling needs (consumers, nested graphs).
    pub fn prepare(data: GraphData) -> Result<Arc<GraphInfo>, PrepareError> {
        data.validate()?;
        Self::derive(data)
    }

    /// What scheduling needs from `data`, which must be valid: only tests
    /// call it directly, to schedule graphs validation would reject.
    fn derive(data: GraphData) -> Result<Arc<GraphInfo>, PrepareError> {
        let (output_idx, _) = data.output_node()?;
        let node_count = data.nodes.len();
        let mut consumers: Vec<Vec<NodeIndex>> = vec![Vec::new(); node_count];
        let mut const_graphs = Vec::with_capacity(node_count);
        for (node_index, node) in data.nodes.iter().enumerate() {
            for (_, value_ref) in node.in_edges() {
                if let Some(source) = value_ref.node_index() {
                    if source < node_count && !consumers[source].contains(&node_index) {
                        consumers[source].push(node_index);
                    }
                }
            }
            const_graphs.push(match &node.kind {
                NodeKind::Const {
                    value: ConstValue::Graph(const_graph),
                } => Some(GraphInfo::prepare((**const_graph).clone())?),
                _ => None,
            });
        }
        let nodedefs = data.nodes.iter().map(NodeDef::to_json).collect();
        let required = data
            .nodes
            .iter()
            .map(|node| {
                let references: Vec<&ValueRef> = match &node.kind {
                    NodeKind::IfElse { pred, .. } => vec![pred],
                    _ => node.in_edges().map(|(_, value_ref)| value_ref).collect(),
                };
                references
                    .into_iter()
                    .filter_map(ValueRef::node_index)
                    .collect()
            })
            .collect();
        Ok(Arc::new(GraphInfo {
            data,
            output_idx,
            consumers,
            const_graphs,
            nodedefs,
            required,
        }))
    }

    fn node(&self, node_index: NodeIndex) -> &NodeDef {
        &self.data.nodes[node_index]
    }
}

/// A task for a worker, ready to be launched: its call args are written.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// Where the task's node lives.
    pub loc: Loc,
    /// The worker, e.g. `builtins` for `builtins.iadd`.
    pub worker: String,
    /// The function within the worker, e.g. `iadd`.
    pub function: String,
    /// Each input port and the output it reads.
    pub inputs: Vec<InputLink>,
    /// The output ports the graph uses.
    pub outputs: Vec<PortId>,
    /// The call-args file, relative to the checkpoint directory.
    pub call_args_path: std::path::PathBuf,
}

/// How a run ended, or that it has not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Work remains or tasks are still running.
    Running,
    /// The top-level graph produced its outputs.
    Finished,
    /// Some nodes failed; no task is running any more.
    Failed(Vec<Loc>),
    /// Nothing runs and nothing can: the graph waits on values that will
    /// never come. Each waiting node, with what it waits for.
    Stalled(Vec<WaitingNode>),
    /// The run reached breakpoints: these nodes have their inputs and wait
    /// to start; nothing else runs. A resume continues past them.
    Paused(Vec<Loc>),
}

/// A node a stalled run waits at: it is needed, and some of the nodes whose
/// outputs it reads are not done (see [`Scheduler::waiting_nodes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingNode {
    /// Where the node is.
    pub loc: Loc,
    /// What it is: its type, with the function or input name (`function w.f`).
    pub description: String,
    /// Each input it waits for. Empty for a node whose inputs are all there
    /// but that was held back (it would run on a resume).
    pub waits_for: Vec<AwaitedInput>,
}

/// One input a waiting node lacks: the output of another node in its graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitedInput {
    /// The waiting node's input port.
    pub port: PortId,
    /// The node whose output it reads.
    pub source: Loc,
    /// That node's output port.
    pub source_port: PortId,
    /// Where that node stands.
    pub source_state: AwaitedSourceState,
}

/// Where the node a waiting node reads from stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwaitedSourceState {
    /// Nothing has asked for it yet.
    NotNeeded,
    /// It waits for inputs itself.
    Waiting,
    /// It started (a task, or a nested graph) and has not finished.
    Started,
    /// It failed.
    Failed,
}

impl std::fmt::Display for AwaitedSourceState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            AwaitedSourceState::NotNeeded => "not needed yet",
            AwaitedSourceState::Waiting => "itself waiting",
            AwaitedSourceState::Started => "started, not finished",
            AwaitedSourceState::Failed => "failed",
        })
    }
}

impl std::fmt::Display for WaitingNode {
    /// `-.N2 (function w.f) waits for a from -.N3 port value (itself waiting)`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} ({})", self.loc, self.description)?;
        if self.waits_for.is_empty() {
            return formatter.write_str(" has its inputs but was held back");
        }
        formatter.write_str(" waits for ")?;
        for (position, awaited) in self.waits_for.iter().enumerate() {
            if position > 0 {
                formatter.write_str(", ")?;
            }
            write!(
                formatter,
                "input {:?} from {} port {:?} ({})",
                awaited.port, awaited.source, awaited.source_port, awaited.source_state
            )?;
        }
        Ok(())
    }
}

/// "stalled because …": one line per waiting node, for messages and logs.
pub fn stall_explanation(waiting: &[WaitingNode]) -> String {
    if waiting.is_empty() {
        return "stalled, though no node waits for an input (nothing needed is left to start)"
            .to_string();
    }
    let mut text = format!(
        "stalled because {} node(s) wait for values that will never come:",
        waiting.len()
    );
    for node in waiting {
        text.push_str("\n  - ");
        text.push_str(&node.to_string());
    }
    text
}

/// Where a run pauses before starting a node (the reference's
/// `enable_breakpoints`, plus nodes chosen on the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breakpoints {
    /// Pause at nodes whose metadata has `has_breakpoint` (the reference's
    /// `enable_breakpoints`).
    pub from_metadata: bool,
    /// Also pause at these nodes: a location (`-.N3.M0.N2`, starting with a
    /// dash), or a name: a `named_nodes` entry of the node's graph, or a
    /// function (`worker.function`, or just `function`).
    pub break_at: Vec<String>,
    /// Nodes that may start past their breakpoint (the pause a resume
    /// continues from).
    pub passed: Vec<Loc>,
}

impl Breakpoints {
    /// Whether any breakpoint can stop the run.
    pub fn enabled(&self) -> bool {
        self.from_metadata || !self.break_at.is_empty()
    }

    /// Whether node `node_index` of `graph` at `loc` is a breakpoint (ignoring `passed`).
    fn hits(&self, graph: &GraphInfo, node_index: NodeIndex, loc: &Loc) -> bool {
        if self.from_metadata
            && graph
                .data
                .node_metadata
                .get(&node_index)
                .is_some_and(|metadata| metadata.has_breakpoint)
        {
            return true;
        }
        self.break_at
            .iter()
            .any(|selector| selector_matches(selector, graph, node_index, loc))
    }

    /// The `break_at` selectors that name nothing in `graph` or the graphs
    /// it holds as constants: a location that does not parse, or a name that
    /// is neither a named node nor a function of any of them.
    pub fn unknown_selectors(&self, graph: &GraphInfo) -> Vec<String> {
        self.break_at
            .iter()
            .filter(|selector| {
                if selector.starts_with('-') {
                    selector.parse::<Loc>().is_err()
                } else {
                    !names_anywhere(graph, selector)
                }
            })
            .cloned()
            .collect()
    }
}

fn selector_matches(selector: &str, graph: &GraphInfo, node_index: NodeIndex, loc: &Loc) -> bool {
    if selector.starts_with('-') {
        return loc.as_str() == selector;
    }
    if graph.data.named_nodes.get(selector) == Some(&node_index) {
        return true;
    }
    match &graph.node(node_index).kind {
        NodeKind::Function { function_name } => {
            function_name == selector
                || function_name
                    .rsplit_once('.')
                    .is_some_and(|(_, function)| function == selector)
        }
        _ => false,
    }
}

fn names_anywhere(graph: &GraphInfo, selector: &str) -> bool {
    (0..graph.data.nodes.len())
        .any(|node_index| selector_matches(selector, graph, node_index, &Loc::root()))
        || graph
            .const_graphs
            .iter()
            .flatten()
            .any(|const_graph| names_anywhere(const_graph, selector))
}

/// Errors that stop the controller itself (as opposed to a node failing).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("checkpoint storage failed")]
    Storage(#[from] StorageError),
    #[error("task completion reported for {loc}, which is not a running task")]
    UnknownTask { loc: Loc },
}

type ScopeId = usize;

/// Who a scope belongs to, and so what happens when its output node runs.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Root,
    Eval {
        scope: ScopeId,
        node: NodeIndex,
    },
    LoopIter {
        scope: ScopeId,
        node: NodeIndex,
        iter: u64,
    },
    MapElem {
        scope: ScopeId,
        node: NodeIndex,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Not (yet) needed by anything.
    Idle,
    /// Needed; waiting for inputs.
    Waiting,
    /// Started: a task runs, or a nested scope is live.
    Started,
    Done,
    Failed,
}

#[derive(Debug)]
enum Sub {
    None,
    Eval,
    Loop,
    Map {
        remaining: usize,
        elems: Vec<(u64, PortId)>,
        body: Arc<GraphInfo>,
    },
    /// A lazy if-else that has read its predicate and waits for this branch.
    Branch(ValueRef),
}

#[derive(Debug)]
struct NodeState {
    status: Status,
    sub: Sub,
}

#[derive(Debug)]
struct Scope {
    loc: Loc,
    graph: Arc<GraphInfo>,
    nodes: Vec<NodeState>,
    owner: Owner,
    /// Created from an existing checkpoint: node states are read from storage.
    restored: bool,
}

#[derive(Debug)]
enum Work {
    Demand(ScopeId, NodeIndex),
    Finished(ScopeId, NodeIndex),
    ScopeDone(ScopeId),
}

/// Counters for progress reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Nodes started in this run.
    pub started: u64,
    /// Nodes finished in this run.
    pub finished: u64,
    /// Tasks running now.
    pub running: u64,
    /// Nodes failed.
    pub failed: u64,
}

/// Which kind of node holding a nested graph is asked about in
/// [`NestedGraphReuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestedGraphKind {
    Eval,
    Map,
    /// A loop, which runs its body again while output `continue_port` is true.
    Loop {
        continue_port: PortId,
    },
}

impl NestedGraphKind {
    /// The node type's name in graph JSON.
    pub fn name(&self) -> &'static str {
        match self {
            NestedGraphKind::Eval => "eval",
            NestedGraphKind::Map => "map",
            NestedGraphKind::Loop { .. } => "loop",
        }
    }
}

/// What [`NestedGraphReuse::reuse`] did with a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestedGraphReuseOutcome {
    /// Its outputs and `_done` are written: the node is finished.
    Reused,
    /// Not reused; tell [`NestedGraphReuse::finished`] with `key` once it is.
    Miss { key: String },
    /// Not reusable (something inside is not cached).
    NotEligible,
}

/// Reuse of a whole nested graph (an `eval`, `map` or `loop` node) from earlier
/// results, asked before the scheduler expands the node: the result cache
/// (`crate::cache`) implements it, behind this trait so the core keeps its
/// effects at the edge and its tests can use a fake.
pub trait NestedGraphReuse: Send {
    /// Before the `kind` node at `loc`, whose inputs (its body and fixed
    /// inputs among them) are `links`, is expanded.
    fn reuse(
        &self,
        loc: &Loc,
        kind: &NestedGraphKind,
        links: &[InputLink],
        storage: &dyn ControllerStorage,
    ) -> Result<NestedGraphReuseOutcome, StorageError>;
    /// The `kind` node at `loc`, a miss under `key`, has finished in this run.
    fn finished(&self, key: String, loc: &Loc, kind: NestedGraphKind);
}

/// The scheduling core for one workflow.
pub struct Scheduler<'storage> {
    storage: &'storage dyn ControllerStorage,
    scopes: Vec<Option<Scope>>,
    free_scopes: Vec<ScopeId>,
    work: VecDeque<Work>,
    running: HashMap<Loc, (ScopeId, NodeIndex)>,
    launches: Vec<Launch>,
    failed: Vec<Loc>,
    root_done: bool,
    progress: Progress,
    graph_cache: HashMap<Vec<u8>, Arc<GraphInfo>>,
    breakpoints: Breakpoints,
    /// The nodes the run paused in front of (in the order they were reached).
    paused: Vec<tierkreis_storage::breakpoints::PausedNode>,
    /// Asked before an `eval`, `map` or `loop` node is expanded (the result cache).
    nested_graph_reuse: Option<Box<dyn NestedGraphReuse>>,
    /// Nested-graph nodes that missed, by (scope, node), with their location
    /// and key, until they finish.
    nested_graph_misses: HashMap<(ScopeId, NodeIndex), (Loc, String, NestedGraphKind)>,
}

impl std::fmt::Debug for Scheduler<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Scheduler")
            .field("scopes", &self.scopes.len())
            .field("running", &self.running.len())
            .field("failed", &self.failed)
            .field("root_done", &self.root_done)
            .finish()
    }
}

/// What went wrong with a node, as the text written to its error file.
type NodeFailure = String;

/// What every `start_*` method needs to know about the node it starts.
struct StartingNode<'graph> {
    scope_id: ScopeId,
    node_index: NodeIndex,
    node: &'graph NodeDef,
    loc: Loc,
    /// Resuming a node that had started: its nested scopes are restored.
    already_started: bool,
    /// The node's inputs, resolved to the locations they read.
    input_links: Vec<InputLink>,
}

/// The two if-else kinds: `ifelse` waits for its predicate only and then
/// runs the chosen branch; `eifelse` waits for both branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfElseMode {
    Lazy,
    Eager,
}

impl<'storage> Scheduler<'storage> {
    /// A scheduler for the workflow in `storage`, whose top-level graph is `graph`.
    ///
    /// The top-level inputs and body must already be at `-.N-1` (see
    /// `runtime::start_workflow`). With `resume`, node states are read from the
    /// checkpoint, so finished nodes are not run again.
    pub fn new(
        storage: &'storage dyn ControllerStorage,
        graph: Arc<GraphInfo>,
        resume: bool,
    ) -> Result<Self, SchedulerError> {
        Self::with_breakpoints(storage, graph, resume, Breakpoints::default())
    }

    /// [`Scheduler::new`] that pauses at `breakpoints`: a node that is a
    /// breakpoint, and not in `breakpoints.passed`, is not started once its
    /// inputs are ready; from then on nothing new starts, and once the
    /// running tasks end the outcome is [`Outcome::Paused`].
    pub fn with_breakpoints(
        storage: &'storage dyn ControllerStorage,
        graph: Arc<GraphInfo>,
        resume: bool,
        breakpoints: Breakpoints,
    ) -> Result<Self, SchedulerError> {
        Self::with_nested_graph_reuse(storage, graph, resume, breakpoints, None)
    }

    /// [`Scheduler::with_breakpoints`] that asks `nested_graph_reuse` before
    /// expanding each `eval`, `map` or `loop` node that starts afresh (never while
    /// breakpoints are on: a reused graph would skip them).
    pub fn with_nested_graph_reuse(
        storage: &'storage dyn ControllerStorage,
        graph: Arc<GraphInfo>,
        resume: bool,
        breakpoints: Breakpoints,
        nested_graph_reuse: Option<Box<dyn NestedGraphReuse>>,
    ) -> Result<Self, SchedulerError> {
        let nested_graph_reuse = nested_graph_reuse.filter(|_| !breakpoints.enabled());
        let mut scheduler = Scheduler {
            storage,
            scopes: Vec::new(),
            free_scopes: Vec::new(),
            work: VecDeque::new(),
            running: HashMap::default(),
            launches: Vec::new(),
            failed: Vec::new(),
            root_done: false,
            progress: Progress::default(),
            graph_cache: HashMap::default(),
            breakpoints,
            paused: Vec::new(),
            nested_graph_reuse,
            nested_graph_misses: HashMap::default(),
        };
        let root = Loc::root();
        if resume && storage.is_node_finished(&root) {
            scheduler.root_done = true;
            return Ok(scheduler);
        }
        scheduler.new_scope(root, graph, Owner::Root, resume)?;
        scheduler.run_work()?;
        Ok(scheduler)
    }

    /// Tasks decided since the last call, for the runtime to launch.
    pub fn take_launches(&mut self) -> Vec<Launch> {
        std::mem::take(&mut self.launches)
    }

    /// The tasks launched and not yet reported finished or failed.
    pub fn running_tasks(&self) -> impl Iterator<Item = &Loc> {
        self.running.keys()
    }

    /// Progress counters.
    pub fn progress(&self) -> Progress {
        Progress {
            running: self.running.len() as u64,
            failed: self.failed.len() as u64,
            ..self.progress
        }
    }

    /// Where the run stands.
    pub fn outcome(&self) -> Outcome {
        if self.root_done {
            Outcome::Finished
        } else if !self.running.is_empty() || !self.launches.is_empty() {
            Outcome::Running
        } else if !self.failed.is_empty() {
            Outcome::Failed(self.failed.clone())
        } else if !self.paused.is_empty() {
            Outcome::Paused(
                self.paused
                    .iter()
                    .map(|paused| paused.loc.clone())
                    .collect(),
            )
        } else {
            Outcome::Stalled(self.waiting_nodes())
        }
    }

    /// The nodes that are needed but cannot start, in every live scope, each
    /// with the inputs it lacks: what a stalled run waits for. A node waits
    /// for the inputs it needs before starting (a lazy `ifelse` only for its
    /// predicate); a lazy `ifelse` that has chosen a branch waits for it.
    pub fn waiting_nodes(&self) -> Vec<WaitingNode> {
        let mut waiting = Vec::new();
        for scope in self.scopes.iter().flatten() {
            let graph = &scope.graph;
            for (node_index, state) in scope.nodes.iter().enumerate() {
                let node = graph.node(node_index);
                let is_awaited: Box<dyn Fn(&ValueRef) -> bool> = match (&state.status, &state.sub) {
                    (Status::Waiting, _) => Box::new(|value_ref: &ValueRef| {
                        value_ref.node_index().is_some_and(|source| {
                            graph.required[node_index].contains(&source)
                                && scope.nodes[source].status != Status::Done
                        })
                    }),
                    (Status::Started, Sub::Branch(branch)) => {
                        let branch = branch.clone();
                        Box::new(move |value_ref: &ValueRef| *value_ref == branch)
                    }
                    _ => continue,
                };
                let waits_for = node
                    .in_edges()
                    .filter(|(_, value_ref)| is_awaited(value_ref))
                    .map(|(port, value_ref)| {
                        let source_state = value_ref
                            .node_index()
                            .and_then(|source| scope.nodes.get(source))
                            .map_or(AwaitedSourceState::NotNeeded, |source| {
                                match source.status {
                                    Status::Idle | Status::Done => AwaitedSourceState::NotNeeded,
                                    Status::Waiting => AwaitedSourceState::Waiting,
                                    Status::Started => AwaitedSourceState::Started,
                                    Status::Failed => AwaitedSourceState::Failed,
                                }
                            });
                        AwaitedInput {
                            port: port.to_string(),
                            source: scope.loc.n(value_ref.node),
                            source_port: value_ref.port.clone(),
                            source_state,
                        }
                    })
                    .collect();
                waiting.push(WaitingNode {
                    loc: scope.loc.n(node_index as i64),
                    description: describe(node),
                    waits_for,
                });
            }
        }
        waiting
    }

    /// The nodes the run paused in front of, with what the pause record needs.
    pub fn paused_nodes(&self) -> &[tierkreis_storage::breakpoints::PausedNode] {
        &self.paused
    }

    /// Whether node `node_index` of scope `scope_id` must not start now: it
    /// is a breakpoint not yet passed (it is then recorded), or the run is
    /// pausing. A node already started (a resumed nested scope) is never held.
    fn held_at_breakpoint(&mut self, scope_id: ScopeId, node_index: NodeIndex) -> bool {
        if !self.breakpoints.enabled() && self.paused.is_empty() {
            return false;
        }
        let scope = self.scope(scope_id);
        let loc = scope.loc.n(node_index as i64);
        if scope.restored && self.storage.is_node_started(&loc) {
            return false;
        }
        let graph = scope.graph.clone();
        let breakpoint = self.breakpoints.hits(&graph, node_index, &loc)
            && !self.breakpoints.passed.contains(&loc);
        if !breakpoint && self.paused.is_empty() {
            return false;
        }
        self.scope_mut(scope_id).nodes[node_index].status = Status::Waiting;
        if breakpoint && !self.paused.iter().any(|paused| paused.loc == loc) {
            tracing::info!(%loc, "paused at a breakpoint");
            let node = graph.node(node_index);
            self.paused
                .push(tierkreis_storage::breakpoints::PausedNode {
                    loc,
                    nodedef_json: graph.nodedefs[node_index].clone(),
                    outputs: node.outputs.keys().cloned().collect(),
                });
        }
        true
    }

    /// The task at `loc` finished: its outputs and `_done` are written.
    pub fn task_finished(&mut self, loc: &Loc) -> Result<(), SchedulerError> {
        let (scope_id, node_index) = self
            .running
            .remove(loc)
            .ok_or_else(|| SchedulerError::UnknownTask { loc: loc.clone() })?;
        self.work.push_back(Work::Finished(scope_id, node_index));
        self.run_work()
    }

    /// The task at `loc` failed; its error text and `_error` are written.
    pub fn task_failed(&mut self, loc: &Loc) -> Result<(), SchedulerError> {
        let (scope_id, node_index) = self
            .running
            .remove(loc)
            .ok_or_else(|| SchedulerError::UnknownTask { loc: loc.clone() })?;
        self.set_failed(scope_id, node_index);
        Ok(())
    }

    fn set_failed(&mut self, scope_id: ScopeId, node_index: NodeIndex) {
        if let Some(scope) = self.scopes[scope_id].as_mut() {
            scope.nodes[node_index].status = Status::Failed;
            self.failed.push(scope.loc.n(node_index as i64));
        }
    }

    fn scope(&self, scope_id: ScopeId) -> &Scope {
        self.scopes[scope_id].as_ref().expect("live scope id")
    }

    fn scope_mut(&mut self, scope_id: ScopeId) -> &mut Scope {
        self.scopes[scope_id].as_mut().expect("live scope id")
    }

    fn new_scope(
        &mut self,
        loc: Loc,
        graph: Arc<GraphInfo>,
        owner: Owner,
        restored: bool,
    ) -> Result<ScopeId, SchedulerError> {
        let node_count = graph.data.nodes.len();
        let mut nodes = Vec::with_capacity(node_count);
        for node_index in 0..node_count {
            let status = if restored {
                let node_loc = loc.n(node_index as i64);
                if self.storage.is_node_finished(&node_loc) {
                    Status::Done
                } else if self.storage.node_has_error(&node_loc) {
                    self.failed.push(node_loc);
                    Status::Failed
                } else {
                    Status::Idle
                }
            } else {
                Status::Idle
            };
            nodes.push(NodeState {
                status,
                sub: Sub::None,
            });
        }
        let output_idx = graph.output_idx;
        // A restored scope whose own `_done` exists only needs its completion
        // handled; one without it runs its output node again (idempotent), in
        // case the controller died between marking the output node and the scope.
        let scope_finished = restored && self.storage.is_node_finished(&loc);
        if restored && !scope_finished {
            nodes[output_idx].status = Status::Idle;
        }
        let scope = Scope {
            loc,
            graph,
            nodes,
            owner,
            restored,
        };
        let scope_id = match self.free_scopes.pop() {
            Some(free_id) => {
                self.scopes[free_id] = Some(scope);
                free_id
            }
            None => {
                self.scopes.push(Some(scope));
                self.scopes.len() - 1
            }
        };
        self.work.push_back(if scope_finished {
            Work::ScopeDone(scope_id)
        } else {
            Work::Demand(scope_id, output_idx)
        });
        Ok(scope_id)
    }

    fn run_work(&mut self) -> Result<(), SchedulerError> {
        while let Some(work) = self.work.pop_front() {
            match work {
                Work::Demand(scope_id, node_index) => self.demand(scope_id, node_index)?,
                Work::Finished(scope_id, node_index) => self.finished(scope_id, node_index)?,
                Work::ScopeDone(scope_id) => self.scope_done(scope_id)?,
            }
        }
        Ok(())
    }

    fn demand(&mut self, scope_id: ScopeId, node_index: NodeIndex) -> Result<(), SchedulerError> {
        let Some(scope) = self.scopes[scope_id].as_ref() else {
            return Ok(());
        };
        if scope.nodes[node_index].status != Status::Idle {
            return Ok(());
        }
        let graph = scope.graph.clone();
        let mut ready = true;
        for &dependency in &graph.required[node_index] {
            match scope.nodes[dependency].status {
                Status::Done => {}
                Status::Failed => return Ok(()),
                _ => {
                    ready = false;
                    self.work.push_back(Work::Demand(scope_id, dependency));
                }
            }
        }
        if ready {
            self.start(scope_id, node_index)
        } else {
            self.scope_mut(scope_id).nodes[node_index].status = Status::Waiting;
            Ok(())
        }
    }

    fn finished(&mut self, scope_id: ScopeId, node_index: NodeIndex) -> Result<(), SchedulerError> {
        let Some(scope) = self.scopes[scope_id].as_mut() else {
            return Ok(());
        };
        scope.nodes[node_index].status = Status::Done;
        self.progress.finished += 1;
        let graph = scope.graph.clone();
        if let Some((loc, key, kind)) = self.nested_graph_misses.remove(&(scope_id, node_index)) {
            if let Some(reuse) = &self.nested_graph_reuse {
                reuse.finished(key, &loc, kind);
            }
        }
        for &consumer in &graph.consumers[node_index] {
            let scope = self.scope(scope_id);
            match (&scope.nodes[consumer].status, &scope.nodes[consumer].sub) {
                (Status::Waiting, _) => {
                    let all_done = graph.required[consumer]
                        .iter()
                        .all(|&dependency| scope.nodes[dependency].status == Status::Done);
                    if all_done {
                        self.start(scope_id, consumer)?;
                    }
                }
                (Status::Started, Sub::Branch(branch)) if branch.node == node_index as i64 => {
                    let branch = branch.clone();
                    self.complete_ifelse(scope_id, consumer, &branch)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn fail_node(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
        message: NodeFailure,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(scope_id).loc.n(node_index as i64);
        tracing::warn!(%loc, %message, "node failed");
        self.storage.write_node_errors(&loc, &message)?;
        self.storage.mark_node_error(&loc)?;
        self.set_failed(scope_id, node_index);
        Ok(())
    }

    /// Resolves a reference in scope `scope_id` to the output it reads.
    fn resolve(&self, scope_id: ScopeId, value_ref: &ValueRef) -> OutputLoc {
        OutputLoc::new(
            self.scope(scope_id).loc.n(value_ref.node),
            value_ref.port.clone(),
        )
    }

    /// Links each link's source output into `destination`'s outputs, as its
    /// input port. A missing source is tolerated like the reference does (a
    /// task may have a default).
    fn link_all(&self, destination: &Loc, links: &[InputLink]) -> Result<(), SchedulerError> {
        for InputLink { input_port, source } in links {
            match self
                .storage
                .link_outputs(destination, input_port, &source.node, &source.port)
            {
                Ok(()) => {}
                Err(StorageError::NotFound { path }) => {
                    tracing::warn!(%destination, port = %input_port, path = %path.display(), "input value not found; a task may use its default");
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Finds the graph a reference in scope `scope_id` points to, without I/O
    /// when it is a constant of the enclosing graph or the scope's own body.
    fn body_graph(
        &mut self,
        scope_id: ScopeId,
        graph_ref: &ValueRef,
    ) -> Result<Arc<GraphInfo>, NodeFailure> {
        let scope = self.scope(scope_id);
        if let Some(node_index) = graph_ref.node_index() {
            if let Some(Some(const_graph)) = scope.graph.const_graphs.get(node_index) {
                return Ok(const_graph.clone());
            }
        } else if graph_ref.port == BODY_PORT {
            // A scope's own `body` input is the graph it runs.
            return Ok(scope.graph.clone());
        }
        let OutputLoc { node: loc, port } = self.resolve(scope_id, graph_ref);
        let bytes = self
            .storage
            .read_output(&loc, &port)
            .map_err(|error| format!("cannot read graph at {loc} port {port}: {error}"))?;
        if let Some(cached) = self.graph_cache.get(&bytes) {
            return Ok(cached.clone());
        }
        let value = Value::from_bytes(&bytes);
        let data = GraphData::from_value(&value)
            .map_err(|error| format!("value at {loc} port {port} is not a graph: {error}"))?;
        let info = GraphInfo::prepare(data)
            .map_err(|error| format!("graph at {loc} port {port} is invalid: {error}"))?;
        self.graph_cache.insert(bytes, info.clone());
        Ok(info)
    }

    /// Reads the value a reference in scope `scope_id` points to.
    fn read_value(&self, scope_id: ScopeId, value_ref: &ValueRef) -> Result<Value, NodeFailure> {
        let OutputLoc { node: loc, port } = self.resolve(scope_id, value_ref);
        self.storage
            .read_output(&loc, &port)
            .map(|bytes| Value::from_bytes(&bytes))
            .map_err(|error| format!("cannot read {loc} port {port}: {error}"))
    }

    /// Starts a node whose required inputs are done: writes its nodedef, then
    /// does what its kind says (one method per kind below).
    fn start(&mut self, scope_id: ScopeId, node_index: NodeIndex) -> Result<(), SchedulerError> {
        let scope = self.scope(scope_id);
        let graph = scope.graph.clone();
        let node = graph.node(node_index);
        if !self.failed.is_empty() && matches!(node.kind, NodeKind::Function { .. }) {
            // After a failure no new task is launched; the node stays ready for a resume.
            self.scope_mut(scope_id).nodes[node_index].status = Status::Waiting;
            return Ok(());
        }
        if self.held_at_breakpoint(scope_id, node_index) {
            return Ok(());
        }
        let scope = self.scope(scope_id);
        let loc = scope.loc.n(node_index as i64);
        let restored = scope.restored;
        self.scope_mut(scope_id).nodes[node_index].status = Status::Started;
        self.progress.started += 1;
        // Created in place when new (it is one JSON object, so a copy cut
        // short never parses as complete); written again on resume, by
        // rename, since a controller killed while writing it (ours or the
        // reference's) may have left it cut short.
        // On resume, a started nested node is re-entered: its checkpoint stays.
        // (Asked before the nodedef below is written, which makes it started.)
        let already_started = restored && self.storage.is_node_started(&loc);
        let nodedef_path = self.storage.nodedef_path(&loc);
        self.storage
            .write_fresh(&nodedef_path, &graph.nodedefs[node_index])?;
        let input_links: Vec<InputLink> = node
            .inputs
            .iter()
            .map(|(port, value_ref)| {
                InputLink::new(port.clone(), self.resolve(scope_id, value_ref))
            })
            .collect();
        let starting = StartingNode {
            scope_id,
            node_index,
            node,
            already_started,
            loc,
            input_links,
        };
        match &node.kind {
            NodeKind::Function { function_name } => self.start_function(starting, function_name),
            NodeKind::Input { name } => self.start_input(starting, name),
            NodeKind::Const { value } => self.start_const(starting, value),
            NodeKind::Output => self.start_output(starting),
            NodeKind::Eval { graph: graph_ref } => self.start_eval(starting, graph_ref),
            NodeKind::Loop {
                body: body_ref,
                name,
                continue_port,
            } => self.start_loop(starting, body_ref, name.as_deref(), continue_port),
            NodeKind::Map { body: body_ref } => self.start_map(starting, body_ref),
            NodeKind::IfElse {
                pred,
                if_true,
                if_false,
            } => self.start_if_else(starting, IfElseMode::Lazy, pred, if_true, if_false),
            NodeKind::EagerIfElse {
                pred,
                if_true,
                if_false,
            } => self.start_if_else(starting, IfElseMode::Eager, pred, if_true, if_false),
        }
    }

    /// A `function` node: writes the call args and puts the task in the outbox.
    fn start_function(
        &mut self,
        starting: StartingNode<'_>,
        function_name: &str,
    ) -> Result<(), SchedulerError> {
        let (worker, function) = match function_name.rsplit_once('.') {
            Some((worker, function)) => (worker.to_string(), function.to_string()),
            None => (String::new(), function_name.to_string()),
        };
        let outputs: Vec<PortId> = starting.node.outputs.keys().cloned().collect();
        let call_args_path = self.storage.write_worker_call_args(
            &starting.loc,
            &function,
            &starting.input_links,
            &outputs,
        )?;
        self.running.insert(
            starting.loc.clone(),
            (starting.scope_id, starting.node_index),
        );
        self.launches.push(Launch {
            loc: starting.loc,
            worker,
            function,
            inputs: starting.input_links,
            outputs,
            call_args_path,
        });
        Ok(())
    }

    /// An `input` node: links the scope's input port `name` and is done.
    fn start_input(
        &mut self,
        starting: StartingNode<'_>,
        name: &str,
    ) -> Result<(), SchedulerError> {
        let scope_inputs = self.scope(starting.scope_id).loc.n(-1);
        self.link_all(&starting.loc, &[InputLink::same_port(name, scope_inputs)])?;
        self.storage.mark_node_finished(&starting.loc)?;
        self.work
            .push_back(Work::Finished(starting.scope_id, starting.node_index));
        Ok(())
    }

    /// A `const` node: writes its value (a graph as its JSON) and is done.
    fn start_const(
        &mut self,
        starting: StartingNode<'_>,
        value: &ConstValue,
    ) -> Result<(), SchedulerError> {
        let bytes = match value {
            ConstValue::Value(value) => value.to_bytes(),
            ConstValue::Graph(const_graph) => {
                tierkreis_core::json::to_string_pretty(&const_graph.to_value()).into_bytes()
            }
        };
        self.storage.write_output(&starting.loc, "value", &bytes)?;
        self.storage.mark_node_finished(&starting.loc)?;
        self.work
            .push_back(Work::Finished(starting.scope_id, starting.node_index));
        Ok(())
    }

    /// The `output` node: links its inputs as the scope's outputs, which
    /// finishes the scope.
    fn start_output(&mut self, starting: StartingNode<'_>) -> Result<(), SchedulerError> {
        self.storage.mark_node_finished(&starting.loc)?;
        let scope_loc = self.scope(starting.scope_id).loc.clone();
        self.link_all(&scope_loc, &starting.input_links)?;
        self.storage.mark_node_finished(&scope_loc)?;
        self.scope_mut(starting.scope_id).nodes[starting.node_index].status = Status::Done;
        self.work.push_back(Work::ScopeDone(starting.scope_id));
        Ok(())
    }

    /// An `eval` node: runs its graph in a nested scope.
    fn start_eval(
        &mut self,
        starting: StartingNode<'_>,
        graph_ref: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let body = match self.body_graph(starting.scope_id, graph_ref) {
            Ok(body) => body,
            Err(message) => return self.fail_node(starting.scope_id, starting.node_index, message),
        };
        if self.reused_whole(&starting, NestedGraphKind::Eval, graph_ref, &body)? {
            return Ok(());
        }
        let StartingNode {
            scope_id,
            node_index,
            loc,
            already_started,
            input_links,
            ..
        } = starting;
        let links = self.nested_scope_links(scope_id, input_links, graph_ref, &body);
        self.link_all(&loc.n(-1), &links)?;
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::Eval;
        self.new_scope(
            loc,
            body,
            Owner::Eval {
                scope: scope_id,
                node: node_index,
            },
            already_started,
        )?;
        Ok(())
    }

    /// A `loop` node: starts its first iteration (or, on resume, the latest
    /// one); each finished iteration starts the next (`next_iteration`).
    fn start_loop(
        &mut self,
        starting: StartingNode<'_>,
        body_ref: &ValueRef,
        debug_name: Option<&str>,
        continue_port: &PortId,
    ) -> Result<(), SchedulerError> {
        let body = match self.body_graph(starting.scope_id, body_ref) {
            Ok(body) => body,
            Err(message) => return self.fail_node(starting.scope_id, starting.node_index, message),
        };
        let kind = NestedGraphKind::Loop {
            continue_port: continue_port.clone(),
        };
        if self.reused_whole(&starting, kind, body_ref, &body)? {
            return Ok(());
        }
        let StartingNode {
            scope_id,
            node_index,
            node,
            loc,
            already_started,
            input_links,
        } = starting;
        let mut links = input_links;
        links.push(InputLink::new(BODY_PORT, self.resolve(scope_id, body_ref)));
        let loop_inputs = loc.n(-1);
        let mut iteration = 0;
        self.link_all(&loop_inputs, &links)?;
        if already_started {
            iteration =
                u64::try_from(self.storage.latest_loop_iteration(&loc).peek_index()).unwrap_or(0);
        } else if let Some(debug_name) = debug_name {
            self.storage.write_debug_data(debug_name, &loc)?;
        }
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::Loop;
        let iteration_loc = loc.l(iteration);
        let iteration_restored = already_started && self.storage.is_node_started(&iteration_loc);
        // Links are idempotent: a restored iteration gets them again, in
        // case the controller died between its nodedef and its inputs.
        let iteration_links = if iteration == 0 {
            // Iteration 0 reads every loop input from the loop's own inputs.
            let mut first: Vec<InputLink> = links
                .iter()
                .map(|link| InputLink::same_port(link.input_port.clone(), loop_inputs.clone()))
                .collect();
            push_fixed(&mut first, &body.data);
            first
        } else {
            later_iteration_links(node, &loc.l(iteration - 1), &body)
        };
        self.start_iteration(&iteration_loc, node, &iteration_links)?;
        self.new_scope(
            iteration_loc,
            body,
            Owner::LoopIter {
                scope: scope_id,
                node: node_index,
                iter: iteration,
            },
            iteration_restored,
        )?;
        Ok(())
    }

    /// A `map` node: one nested scope per element of its `*` input (on
    /// resume, per element not yet finished).
    fn start_map(
        &mut self,
        starting: StartingNode<'_>,
        body_ref: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let body = match self.body_graph(starting.scope_id, body_ref) {
            Ok(body) => body,
            Err(message) => return self.fail_node(starting.scope_id, starting.node_index, message),
        };
        if self.reused_whole(&starting, NestedGraphKind::Map, body_ref, &body)? {
            return Ok(());
        }
        let StartingNode {
            scope_id,
            node_index,
            node,
            loc,
            already_started,
            input_links,
        } = starting;
        let Some(mapped_source) = input_links
            .iter()
            .find(|link| link.source.port == "*")
            .map(|link| link.source.node.clone())
        else {
            return self.fail_node(
                scope_id,
                node_index,
                format!("map node {loc} has no input whose port is \"*\" to map over"),
            );
        };
        let ports = self.storage.read_output_ports(&mapped_source)?;
        let mut elements = Vec::with_capacity(ports.len());
        for port in ports {
            let element_index = port
                .rsplit('-')
                .next()
                .and_then(|index| index.parse::<u64>().ok());
            match element_index {
                Some(element_index) => elements.push((element_index, port)),
                None => {
                    return self.fail_node(
                        scope_id,
                        node_index,
                        format!(
                            "map node {loc}: output {port:?} of {mapped_source} has no element index (expected a name ending in -<number>)"
                        ),
                    )
                }
            }
        }
        if elements.is_empty() {
            self.storage.mark_node_finished(&loc)?;
            self.work.push_back(Work::Finished(scope_id, node_index));
            return Ok(());
        }
        let body_source = self.resolve(scope_id, body_ref);
        let element_nodedef = virtual_eval(node.inputs.clone(), node).to_json();
        let mut remaining = 0;
        let mut scopes_to_make = Vec::new();
        for (element_index, element_port) in &elements {
            let element_loc = loc.m(*element_index);
            if already_started && self.storage.is_node_finished(&element_loc) {
                continue;
            }
            remaining += 1;
            let element_restored = already_started && self.storage.is_node_started(&element_loc);
            let mut links = vec![InputLink::new(BODY_PORT, body_source.clone())];
            for link in &input_links {
                let mut source = link.source.clone();
                if source.port == "*" {
                    source.port = element_port.clone();
                }
                links.push(InputLink::new(link.input_port.clone(), source));
            }
            push_fixed(&mut links, &body.data);
            self.link_all(&element_loc.n(-1), &links)?;
            let nodedef_path = self.storage.nodedef_path(&element_loc);
            self.storage.write_fresh(&nodedef_path, &element_nodedef)?;
            scopes_to_make.push((element_loc, element_restored));
        }
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::Map {
            remaining,
            elems: elements,
            body: body.clone(),
        };
        if remaining == 0 {
            self.finish_map(scope_id, node_index)?;
        }
        for (element_loc, element_restored) in scopes_to_make {
            self.new_scope(
                element_loc,
                body.clone(),
                Owner::MapElem {
                    scope: scope_id,
                    node: node_index,
                },
                element_restored,
            )?;
        }
        Ok(())
    }

    /// The inputs of a nested-graph node's scope: the node's own inputs, its
    /// body (from `body_ref`) and the body's fixed inputs.
    fn nested_scope_links(
        &self,
        scope_id: ScopeId,
        input_links: Vec<InputLink>,
        body_ref: &ValueRef,
        body: &GraphInfo,
    ) -> Vec<InputLink> {
        let mut links = input_links;
        links.push(InputLink::new(BODY_PORT, self.resolve(scope_id, body_ref)));
        push_fixed(&mut links, &body.data);
        links
    }

    /// Whether the nested-graph node `starting` (running `body` from
    /// `body_ref`) was reused whole, and so is finished. Asked only of a node
    /// starting afresh while reuse is on; on a miss its key is kept until
    /// the node finishes.
    fn reused_whole(
        &mut self,
        starting: &StartingNode<'_>,
        kind: NestedGraphKind,
        body_ref: &ValueRef,
        body: &GraphInfo,
    ) -> Result<bool, SchedulerError> {
        let Some(reuse) = self
            .nested_graph_reuse
            .as_ref()
            .filter(|_| !starting.already_started)
        else {
            return Ok(false);
        };
        let (scope_id, node_index, loc) = (starting.scope_id, starting.node_index, &starting.loc);
        let links = self.nested_scope_links(scope_id, starting.input_links.clone(), body_ref, body);
        match reuse.reuse(loc, &kind, &links, self.storage)? {
            NestedGraphReuseOutcome::Reused => {
                self.work.push_back(Work::Finished(scope_id, node_index));
                Ok(true)
            }
            NestedGraphReuseOutcome::Miss { key } => {
                self.nested_graph_misses
                    .insert((scope_id, node_index), (loc.clone(), key, kind));
                Ok(false)
            }
            NestedGraphReuseOutcome::NotEligible => Ok(false),
        }
    }

    /// An `ifelse` or `eifelse` node, whose predicate is done: a lazy one
    /// demands the chosen branch and finishes once it is done; an eager one
    /// (whose branches are both done) finishes now.
    fn start_if_else(
        &mut self,
        starting: StartingNode<'_>,
        mode: IfElseMode,
        pred: &ValueRef,
        if_true: &ValueRef,
        if_false: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let StartingNode {
            scope_id,
            node_index,
            ..
        } = starting;
        let condition = match self.read_value(scope_id, pred) {
            Ok(condition) => condition,
            Err(message) => return self.fail_node(scope_id, node_index, message),
        };
        // Like the reference, only `true` chooses the true branch; any other
        // value (`false`, but also `1` or a string) chooses the false one.
        let branch = if condition == Value::Bool(true) {
            if_true
        } else {
            if_false
        };
        let branch_node = branch.node_index();
        let branch_done = match (mode, branch_node) {
            (IfElseMode::Eager, _) | (IfElseMode::Lazy, None) => true,
            (IfElseMode::Lazy, Some(branch_node)) => {
                self.scope(scope_id).nodes[branch_node].status == Status::Done
            }
        };
        if branch_done {
            self.complete_ifelse(scope_id, node_index, branch)?;
        } else if let Some(branch_node) = branch_node {
            self.scope_mut(scope_id).nodes[node_index].sub = Sub::Branch(branch.clone());
            self.work.push_back(Work::Demand(scope_id, branch_node));
        }
        Ok(())
    }

    /// Links a loop iteration's inputs, then writes its virtual eval node: a
    /// node counts as started only once its inputs are in place. On resume
    /// both are done again (idempotent, and repairs a cut-short nodedef).
    fn start_iteration(
        &self,
        iteration_loc: &Loc,
        loop_node: &NodeDef,
        links: &[InputLink],
    ) -> Result<(), SchedulerError> {
        self.link_all(&iteration_loc.n(-1), links)?;
        let inputs: IndexMap<PortId, ValueRef> = links
            .iter()
            .map(|link| {
                let port = &link.input_port;
                (port.clone(), ValueRef::new(-1, port.clone()))
            })
            .collect();
        self.storage
            .write_node_def(iteration_loc, &virtual_eval(inputs, loop_node))?;
        Ok(())
    }

    fn complete_ifelse(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
        branch: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(scope_id).loc.n(node_index as i64);
        let branch_source = self.resolve(scope_id, branch);
        self.link_all(&loc, &[InputLink::new("value", branch_source)])?;
        self.storage.mark_node_finished(&loc)?;
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::None;
        self.work.push_back(Work::Finished(scope_id, node_index));
        Ok(())
    }

    fn scope_done(&mut self, scope_id: ScopeId) -> Result<(), SchedulerError> {
        let Some(scope) = self.scopes[scope_id].take() else {
            return Ok(());
        };
        self.free_scopes.push(scope_id);
        match scope.owner {
            Owner::Root => {
                self.root_done = true;
            }
            Owner::Eval {
                scope: parent_id,
                node,
            } => {
                self.work.push_back(Work::Finished(parent_id, node));
            }
            Owner::MapElem {
                scope: parent_id,
                node,
            } => {
                let Some(parent) = self.scopes[parent_id].as_mut() else {
                    return Ok(());
                };
                if let Sub::Map { remaining, .. } = &mut parent.nodes[node].sub {
                    *remaining -= 1;
                    if *remaining == 0 {
                        self.finish_map(parent_id, node)?;
                    }
                }
            }
            Owner::LoopIter {
                scope: parent_id,
                node,
                iter,
            } => self.next_iteration(parent_id, node, iter, &scope)?,
        }
        Ok(())
    }

    fn finish_map(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(scope_id).loc.n(node_index as i64);
        let Sub::Map { elems, body, .. } = std::mem::replace(
            &mut self.scope_mut(scope_id).nodes[node_index].sub,
            Sub::None,
        ) else {
            return Ok(());
        };
        let body_outputs: Vec<PortId> = body.node(body.output_idx).inputs.keys().cloned().collect();
        for (element_index, element_port) in &elems {
            let element_loc = loc.m(*element_index);
            let links: Vec<InputLink> = body_outputs
                .iter()
                .map(|output| {
                    InputLink::new(
                        format!("{output}-{element_port}"),
                        OutputLoc::new(element_loc.clone(), output.clone()),
                    )
                })
                .collect();
            self.link_all(&loc, &links)?;
        }
        self.storage.mark_node_finished(&loc)?;
        self.work.push_back(Work::Finished(scope_id, node_index));
        Ok(())
    }

    fn next_iteration(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
        iteration: u64,
        done: &Scope,
    ) -> Result<(), SchedulerError> {
        let Some(parent) = self.scopes[scope_id].as_ref() else {
            return Ok(());
        };
        let loop_loc = parent.loc.n(node_index as i64);
        let loop_node = parent.graph.node(node_index).clone();
        let NodeKind::Loop { continue_port, .. } = &loop_node.kind else {
            return Ok(());
        };
        let iteration_loc = &done.loc;
        let body = done.graph.clone();
        let body_outputs = &body.node(body.output_idx).inputs;
        let continue_value = match self.storage.read_output(iteration_loc, continue_port) {
            Ok(bytes) => Value::from_bytes(&bytes),
            Err(error) => {
                return self.fail_node(
                    scope_id,
                    node_index,
                    format!("loop {loop_loc}: cannot read continue port {continue_port:?} of iteration {iteration_loc}: {error}"),
                )
            }
        };
        if continue_value == Value::Bool(false) {
            let links: Vec<InputLink> = body_outputs
                .keys()
                .map(|port| InputLink::same_port(port.clone(), iteration_loc.clone()))
                .collect();
            self.link_all(&loop_loc, &links)?;
            self.storage.mark_node_finished(&loop_loc)?;
            self.work.push_back(Work::Finished(scope_id, node_index));
            return Ok(());
        }
        let links = later_iteration_links(&loop_node, iteration_loc, &body);
        let next = iteration + 1;
        let next_loc = loop_loc.l(next);
        self.start_iteration(&next_loc, &loop_node, &links)?;
        self.new_scope(
            next_loc,
            body,
            Owner::LoopIter {
                scope: scope_id,
                node: node_index,
                iter: next,
            },
            false,
        )?;
        Ok(())
    }
}

/// A node's type, with its function or input name: `function w.f`, `input x`, `eval`.
fn describe(node: &NodeDef) -> String {
    match &node.kind {
        NodeKind::Function { function_name } => format!("function {function_name}"),
        NodeKind::Input { name } => format!("input {name}"),
        _ => node.type_name().to_string(),
    }
}

/// The inputs of the loop iteration after `previous` (the reference's `walk_loop`):
/// each body output, and every other loop input carried over from `previous`.
fn later_iteration_links(loop_node: &NodeDef, previous: &Loc, body: &GraphInfo) -> Vec<InputLink> {
    let previous_inputs = previous.n(-1);
    let mut links: IndexMap<PortId, OutputLoc> = loop_node
        .inputs
        .keys()
        .map(|port| {
            (
                port.clone(),
                OutputLoc::new(previous_inputs.clone(), port.clone()),
            )
        })
        .collect();
    for (port, value_ref) in &body.node(body.output_idx).inputs {
        links.insert(
            port.clone(),
            OutputLoc::new(previous.n(value_ref.node), value_ref.port.clone()),
        );
    }
    links.insert(
        BODY_PORT.to_string(),
        OutputLoc::new(previous_inputs, BODY_PORT),
    );
    let mut links: Vec<InputLink> = links
        .into_iter()
        .map(|(port, source)| InputLink::new(port, source))
        .collect();
    push_fixed(&mut links, &body.data);
    links
}

/// Adds a graph's fixed inputs (absolute locations) to a scope's input links.
fn push_fixed(links: &mut Vec<InputLink>, graph: &GraphData) {
    for (port, source) in &graph.fixed_inputs {
        links.push(InputLink::new(port.clone(), source.clone()));
    }
}

/// The eval node the reference records for a loop iteration or map element.
fn virtual_eval(inputs: IndexMap<PortId, ValueRef>, owner: &NodeDef) -> NodeDef {
    NodeDef {
        kind: NodeKind::Eval {
            graph: ValueRef {
                node: -1,
                port: BODY_PORT.to_string(),
            },
        },
        inputs,
        outputs: owner.outputs.clone(),
    }
}

#[cfg(test)]
mod tests {
    //! The core against in-memory storage, with tasks completed by hand: what
    //! it launches, when, and what it writes.

    use super::*;
    use crate::runtime::start_workflow;
    use tierkreis_storage::{MemoryControllerStorage, MemoryFiles};

    fn storage() -> MemoryControllerStorage {
        MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::from_u128(1), None)
    }

    fn setup(
        storage: &MemoryControllerStorage,
        graph: &str,
        inputs: &[(&str, &str)],
    ) -> Arc<GraphInfo> {
        let graph_data = GraphData::from_json(graph.as_bytes()).expect("graph");
        let inputs = inputs
            .iter()
            .map(|(port, value)| (port.to_string(), value.as_bytes().to_vec()))
            .collect();
        start_workflow(storage, &graph_data, &inputs).expect("start");
        GraphInfo::prepare(graph_data).expect("prepare")
    }

    /// Completes a launched task the way a worker would: outputs, then `_done`.
    fn complete(
        scheduler: &mut Scheduler<'_>,
        store: &dyn ControllerStorage,
        launch: &Launch,
        value: &str,
    ) {
        for port in &launch.outputs {
            store
                .write_output(&launch.loc, port, value.as_bytes())
                .expect("write");
        }
        store.mark_node_finished(&launch.loc).expect("done");
        scheduler.task_finished(&launch.loc).expect("finished");
    }

    fn func(name: &str, inputs: &str, consumers: &str) -> String {
        format!(
            r#"{{"type": "function", "function_name": "{name}", "inputs": {inputs}, "outputs": {{"value": {consumers}}}}}"#
        )
    }

    fn graph(nodes: &[String], output_idx: usize, inputs: &str) -> String {
        format!(
            r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": {inputs}, "graph_output_idx": {output_idx}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
            nodes.join(",")
        )
    }

    const CONST_1: &str =
        r#"{"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}}"#;

    /// Starts `graph_json` without validating it (validation rejects the
    /// graphs that could stall, so this is the only way to make one).
    fn start_unvalidated<'storage>(
        store: &'storage MemoryControllerStorage,
        graph_json: &str,
    ) -> Scheduler<'storage> {
        let graph_data = GraphData::from_json(graph_json.as_bytes()).expect("graph");
        assert!(
            graph_data.validate().is_err(),
            "the graph should be invalid"
        );
        start_workflow(store, &graph_data, &IndexMap::new()).expect("start");
        let info = GraphInfo::derive(graph_data).expect("derive");
        Scheduler::new(store, info, false).expect("new")
    }

    #[test]
    fn a_stalled_run_names_each_waiting_node_and_the_inputs_it_waits_for() {
        let store = storage();
        // N0 and N1 read each other: neither can start, nor can the output.
        let graph_json = graph(
            &[
                func("w.a", r#"{"x": [1, "value"]}"#, "[1, 2]"),
                func("w.b", r#"{"y": [0, "value"]}"#, "[0]"),
                r#"{"type": "output", "inputs": {"out": [0, "value"]}, "outputs": {}}"#.to_string(),
            ],
            2,
            "[]",
        );
        let scheduler = start_unvalidated(&store, &graph_json);
        assert!(scheduler.launches.is_empty() && scheduler.running.is_empty());
        let Outcome::Stalled(waiting) = scheduler.outcome() else {
            panic!("not stalled: {:?}", scheduler.outcome());
        };
        let root = Loc::root();
        let awaited = |port: &str, source: i64| AwaitedInput {
            port: port.to_string(),
            source: root.n(source),
            source_port: "value".to_string(),
            source_state: AwaitedSourceState::Waiting,
        };
        assert_eq!(
            waiting,
            vec![
                WaitingNode {
                    loc: root.n(0),
                    description: "function w.a".to_string(),
                    waits_for: vec![awaited("x", 1)],
                },
                WaitingNode {
                    loc: root.n(1),
                    description: "function w.b".to_string(),
                    waits_for: vec![awaited("y", 0)],
                },
                WaitingNode {
                    loc: root.n(2),
                    description: "output".to_string(),
                    waits_for: vec![awaited("out", 0)],
                },
            ]
        );
        expect_test::expect![[r#"
            stalled because 3 node(s) wait for values that will never come:
              - -.N0 (function w.a) waits for input "x" from -.N1 port "value" (itself waiting)
              - -.N1 (function w.b) waits for input "y" from -.N0 port "value" (itself waiting)
              - -.N2 (output) waits for input "out" from -.N0 port "value" (itself waiting)"#]]
        .assert_eq(&stall_explanation(&waiting));
    }

    #[test]
    fn a_lazy_ifelse_waiting_for_its_chosen_branch_says_so() {
        let store = storage();
        // The predicate is true; the true branch (N2) reads N3, which reads N2.
        let graph_json = graph(
            &[
                r#"{"type": "const", "value": true, "inputs": {}, "outputs": {"value": [1]}}"#
                    .to_string(),
                r#"{"type": "ifelse", "pred": [0, "value"], "if_true": [2, "value"], "if_false": [0, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
                func("w.t", r#"{"x": [3, "value"]}"#, "[1, 3]"),
                func("w.u", r#"{"y": [2, "value"]}"#, "[2]"),
                r#"{"type": "output", "inputs": {"out": [1, "value"]}, "outputs": {}}"#.to_string(),
            ],
            4,
            "[]",
        );
        let scheduler = start_unvalidated(&store, &graph_json);
        let Outcome::Stalled(waiting) = scheduler.outcome() else {
            panic!("not stalled: {:?}", scheduler.outcome());
        };
        let text = stall_explanation(&waiting);
        // The ifelse has started (its predicate was read) and waits for the branch.
        assert!(
            text.contains(
                r#"-.N1 (ifelse) waits for input "if_true" from -.N2 port "value" (itself waiting)"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"-.N2 (function w.t) waits for input "x" from -.N3 port "value""#),
            "{text}"
        );
        assert!(
            text.contains(r#"-.N4 (output) waits for input "out" from -.N1 port "value" (started, not finished)"#),
            "{text}"
        );
    }

    #[test]
    fn a_task_is_launched_once_its_inputs_exist_and_its_output_finishes_the_run() {
        let store = storage();
        let graph_json = graph(
            &[
                r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#
                    .to_string(),
                func("w.double", r#"{"a": [0, "x"]}"#, "[2]"),
                r#"{"type": "output", "inputs": {"out": [1, "value"]}, "outputs": {}}"#.to_string(),
            ],
            2,
            r#"["x"]"#,
        );
        let info = setup(&store, &graph_json, &[("x", "21")]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        let launches = scheduler.take_launches();
        assert_eq!(launches.len(), 1);
        let launch = &launches[0];
        assert_eq!(
            (launch.worker.as_str(), launch.function.as_str()),
            ("w", "double")
        );
        assert_eq!(launch.loc.as_str(), "-.N1");
        assert_eq!(
            launch.inputs,
            vec![InputLink::new("a", OutputLoc::new(Loc::root().n(0), "x"))]
        );
        assert_eq!(
            store
                .read_output(&Loc::root().n(0), "x")
                .expect("input linked"),
            b"21"
        );
        assert_eq!(scheduler.outcome(), Outcome::Running);
        complete(&mut scheduler, &store, launch, "42");
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        assert_eq!(
            store.read_output(&Loc::root(), "out").expect("output"),
            b"42"
        );
        assert!(store.is_node_finished(&Loc::root()));
    }

    /// A recording fake of the result cache for nested graphs: reuses
    /// (writing `value` = 7 and `_done`, as the cache would) or misses.
    struct FakeNestedGraphReuse {
        reuse: bool,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl NestedGraphReuse for FakeNestedGraphReuse {
        fn reuse(
            &self,
            loc: &Loc,
            kind: &NestedGraphKind,
            links: &[InputLink],
            storage: &dyn ControllerStorage,
        ) -> Result<NestedGraphReuseOutcome, StorageError> {
            let mut ports: Vec<&str> = links.iter().map(|link| link.input_port.as_str()).collect();
            ports.sort_unstable();
            self.log.lock().expect("log").push(format!(
                "ask {loc} {} {}",
                kind.name(),
                ports.join(",")
            ));
            if !self.reuse {
                return Ok(NestedGraphReuseOutcome::Miss { key: "k1".into() });
            }
            storage.write_output(loc, "value", b"7")?;
            storage.mark_node_finished(loc)?;
            Ok(NestedGraphReuseOutcome::Reused)
        }

        fn finished(&self, key: String, loc: &Loc, kind: NestedGraphKind) {
            self.log
                .lock()
                .expect("log")
                .push(format!("finished {loc} {} {key}", kind.name()));
        }
    }

    /// `eval(body, x = 1)` where the body is `w.inc(x)`: the eval is -.N2.
    fn eval_graph() -> String {
        let body = graph(
            &[
                r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#
                    .to_string(),
                func("w.inc", r#"{"x": [0, "x"]}"#, "[2]"),
                r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#
                    .to_string(),
            ],
            2,
            r#"["x"]"#,
        );
        graph(
            &[
                r#"{"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}}"#
                    .to_string(),
                format!(
                    r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#
                ),
                r#"{"type": "eval", "graph": [1, "value"], "inputs": {"x": [0, "value"]}, "outputs": {"value": [3]}}"#
                    .to_string(),
                r#"{"type": "output", "inputs": {"out": [2, "value"]}, "outputs": {}}"#.to_string(),
            ],
            3,
            "[]",
        )
    }

    type ReuseLog = Arc<std::sync::Mutex<Vec<String>>>;

    /// A scheduler over `eval_graph()` in `store` asking a fake that reuses
    /// (or misses), with `breakpoints`; and the fake's log.
    fn scheduler_with_fake_reuse(
        store: &MemoryControllerStorage,
        reuse: bool,
        breakpoints: Breakpoints,
    ) -> (Scheduler<'_>, ReuseLog) {
        let info = setup(store, &eval_graph(), &[]);
        let log: ReuseLog = Arc::default();
        let fake = FakeNestedGraphReuse {
            reuse,
            log: log.clone(),
        };
        let scheduler = Scheduler::with_nested_graph_reuse(
            store,
            info,
            false,
            breakpoints,
            Some(Box::new(fake)),
        )
        .expect("new");
        (scheduler, log)
    }

    #[test]
    fn a_reused_nested_graph_finishes_its_node_without_running_inside() {
        let store = storage();
        let (mut scheduler, log) = scheduler_with_fake_reuse(&store, true, Breakpoints::default());
        assert!(
            scheduler.take_launches().is_empty(),
            "a reused eval ran its body"
        );
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        assert_eq!(
            store.read_output(&Loc::root(), "out").expect("output"),
            b"7"
        );
        assert_eq!(*log.lock().expect("log"), ["ask -.N2 eval body,x"]);
        assert!(!store.is_node_started(&Loc::root().n(2).n(1)));
    }

    #[test]
    fn a_missed_nested_graph_runs_and_is_reported_finished_with_its_key() {
        let store = storage();
        let (mut scheduler, log) = scheduler_with_fake_reuse(&store, false, Breakpoints::default());
        let launches = scheduler.take_launches();
        assert_eq!(launches.len(), 1);
        assert_eq!(launches[0].loc.as_str(), "-.N2.N1");
        assert_eq!(*log.lock().expect("log"), ["ask -.N2 eval body,x"]);
        complete(&mut scheduler, &store, &launches[0], "2");
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        assert_eq!(
            store.read_output(&Loc::root(), "out").expect("output"),
            b"2"
        );
        assert_eq!(
            *log.lock().expect("log"),
            ["ask -.N2 eval body,x", "finished -.N2 eval k1"]
        );
    }

    #[test]
    fn nested_graphs_are_not_reused_while_breakpoints_are_on() {
        let store = storage();
        let breakpoints = Breakpoints {
            break_at: vec!["-.N9".to_string()],
            ..Breakpoints::default()
        };
        let (mut scheduler, log) = scheduler_with_fake_reuse(&store, true, breakpoints);
        assert_eq!(scheduler.take_launches().len(), 1, "the body must run");
        assert!(log.lock().expect("log").is_empty());
    }

    #[test]
    fn lazy_ifelse_runs_only_the_chosen_branch() {
        let store = storage();
        let graph_json = graph(
            &[
                r#"{"type": "const", "value": false, "inputs": {}, "outputs": {"value": [3]}}"#.to_string(),
                func("w.yes", "{}", "[3]"),
                func("w.no", "{}", "[3]"),
                r#"{"type": "ifelse", "pred": [0, "value"], "if_true": [1, "value"], "if_false": [2, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}"#.to_string(),
            ],
            4,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        let launches = scheduler.take_launches();
        let names: Vec<&str> = launches
            .iter()
            .map(|launch| launch.function.as_str())
            .collect();
        assert_eq!(names, ["no"]);
        complete(&mut scheduler, &store, &launches[0], "\"b\"");
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        assert!(
            !store.is_node_started(&Loc::root().n(1)),
            "the other branch never starts"
        );
        assert_eq!(
            store.read_output(&Loc::root(), "value").expect("out"),
            b"\"b\""
        );
    }

    #[test]
    fn an_ifelse_predicate_other_than_true_chooses_the_false_branch_like_the_reference() {
        for predicate in ["1", "\"true\"", "null"] {
            let store = storage();
            let graph_json = graph(
                &[
                    format!(r#"{{"type": "const", "value": {predicate}, "inputs": {{}}, "outputs": {{"value": [3]}}}}"#),
                    func("w.yes", "{}", "[3]"),
                    func("w.no", "{}", "[3]"),
                    r#"{"type": "ifelse", "pred": [0, "value"], "if_true": [1, "value"], "if_false": [2, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
                    r#"{"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}"#.to_string(),
                ],
                4,
                "[]",
            );
            let info = setup(&store, &graph_json, &[]);
            let mut scheduler = Scheduler::new(&store, info, false).expect("new");
            let names: Vec<String> = scheduler
                .take_launches()
                .into_iter()
                .map(|launch| launch.function)
                .collect();
            assert_eq!(names, ["no"], "predicate {predicate}");
        }
    }

    #[test]
    fn eager_ifelse_runs_both_branches() {
        let store = storage();
        let graph_json = graph(
            &[
                r#"{"type": "const", "value": true, "inputs": {}, "outputs": {"value": [3]}}"#.to_string(),
                func("w.yes", "{}", "[3]"),
                func("w.no", "{}", "[3]"),
                r#"{"type": "eifelse", "pred": [0, "value"], "if_true": [1, "value"], "if_false": [2, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}"#.to_string(),
            ],
            4,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        let launches = scheduler.take_launches();
        assert_eq!(launches.len(), 2, "independent tasks are launched together");
        complete(&mut scheduler, &store, &launches[0], "1");
        assert_eq!(scheduler.outcome(), Outcome::Running);
        complete(&mut scheduler, &store, &launches[1], "2");
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        assert_eq!(store.read_output(&Loc::root(), "value").expect("out"), b"1");
    }

    #[test]
    fn after_a_failure_nothing_new_is_launched_and_the_run_fails_once_idle() {
        let store = storage();
        let graph_json = graph(
            &[
                CONST_1.to_string(),
                func("w.a", r#"{"x": [0, "value"]}"#, "[2]"),
                func("w.b", r#"{"x": [1, "value"]}"#, "[4]"),
                func("w.c", "{}", "[4]"),
                r#"{"type": "output", "inputs": {"b": [2, "value"], "c": [3, "value"]}, "outputs": {}}"#.to_string(),
            ],
            4,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        let launches = scheduler.take_launches();
        let names: Vec<&str> = launches
            .iter()
            .map(|launch| launch.function.as_str())
            .collect();
        assert_eq!(names, ["c", "a"]);
        scheduler.task_failed(&launches[1].loc).expect("failed");
        assert_eq!(scheduler.outcome(), Outcome::Running, "c still runs");
        complete(&mut scheduler, &store, &launches[0], "3");
        assert!(scheduler.take_launches().is_empty());
        assert_eq!(scheduler.outcome(), Outcome::Failed(vec![Loc::root().n(1)]));
    }

    #[test]
    fn a_map_launches_every_element_at_once_and_names_outputs_by_element() {
        let store = storage();
        let body = graph(
            &[
                r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#
                    .to_string(),
                func("w.sq", r#"{"a": [0, "x"]}"#, "[2]"),
                r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#
                    .to_string(),
            ],
            2,
            r#"["x"]"#,
        );
        let graph_json = graph(
            &[
                format!(r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#),
                r#"{"type": "function", "function_name": "w.unfold", "inputs": {}, "outputs": {"*": [2]}}"#.to_string(),
                r#"{"type": "map", "body": [0, "value"], "inputs": {"x": [1, "*"]}, "outputs": {"value-*": [3]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"v": [2, "value-0"]}, "outputs": {}}"#.to_string(),
            ],
            3,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        let unfold = scheduler.take_launches();
        assert_eq!(unfold.len(), 1);
        for element in 0..3 {
            store
                .write_output(
                    &unfold[0].loc,
                    &element.to_string(),
                    element.to_string().as_bytes(),
                )
                .expect("w");
        }
        store.mark_node_finished(&unfold[0].loc).expect("done");
        scheduler.task_finished(&unfold[0].loc).expect("finished");
        let elems = scheduler.take_launches();
        let locs: Vec<&str> = elems.iter().map(|launch| launch.loc.as_str()).collect();
        assert_eq!(locs, ["-.N2.M0.N1", "-.N2.M1.N1", "-.N2.M2.N1"]);
        for launch in &elems {
            let element = store
                .read_output(&launch.inputs[0].source.node, &launch.inputs[0].source.port)
                .expect("element input");
            let element: i64 = String::from_utf8(element)
                .expect("utf8")
                .parse()
                .expect("int");
            complete(
                &mut scheduler,
                &store,
                launch,
                &(element * element).to_string(),
            );
        }
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        let map = Loc::root().n(2);
        assert_eq!(
            store.read_output_ports(&map).expect("ports"),
            ["value-0", "value-1", "value-2"]
        );
        assert_eq!(store.read_output(&map, "value-2").expect("v"), b"4");
    }

    #[test]
    fn a_loop_carries_values_and_stops_when_continue_is_false() {
        let store = storage();
        let body = graph(
            &[
                r#"{"type": "input", "name": "i", "inputs": {}, "outputs": {"i": [1]}}"#.to_string(),
                func("w.step", r#"{"i": [0, "i"]}"#, "[2]"),
                func("w.more", r#"{"i": [1, "value"]}"#, "[3]"),
                r#"{"type": "output", "inputs": {"i": [1, "value"], "go": [2, "value"]}, "outputs": {}}"#.to_string(),
            ],
            3,
            r#"["i"]"#,
        );
        let graph_json = graph(
            &[
                r#"{"type": "const", "value": 0, "inputs": {}, "outputs": {"value": [2]}}"#.to_string(),
                format!(r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#),
                r#"{"type": "loop", "body": [1, "value"], "inputs": {"i": [0, "value"]}, "continue_port": "go", "name": null, "outputs": {"i": [3]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [2, "i"]}, "outputs": {}}"#.to_string(),
            ],
            3,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        for iter in 0..3u64 {
            let step = scheduler.take_launches();
            assert_eq!(step.len(), 1);
            assert_eq!(step[0].loc, Loc::root().n(2).l(iter).n(1));
            complete(&mut scheduler, &store, &step[0], &(iter + 1).to_string());
            let more = scheduler.take_launches();
            complete(
                &mut scheduler,
                &store,
                &more[0],
                if iter < 2 { "true" } else { "false" },
            );
        }
        assert_eq!(scheduler.outcome(), Outcome::Finished);
        assert_eq!(store.read_output(&Loc::root(), "value").expect("out"), b"3");
        assert!(!store.is_node_started(&Loc::root().n(2).l(3)));
    }

    #[test]
    fn resume_launches_only_unfinished_tasks() {
        let store = storage();
        let graph_json = graph(
            &[
                CONST_1.to_string(),
                func("w.a", r#"{"x": [0, "value"]}"#, "[2]"),
                func("w.b", r#"{"x": [1, "value"]}"#, "[3]"),
                r#"{"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}"#
                    .to_string(),
            ],
            3,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        {
            let mut scheduler = Scheduler::new(&store, info.clone(), false).expect("new");
            let first = scheduler.take_launches();
            complete(&mut scheduler, &store, &first[0], "5");
            assert_eq!(scheduler.take_launches()[0].function, "b");
            // The controller dies here, with b running.
        }
        let mut scheduler = Scheduler::new(&store, info, true).expect("resume");
        let launches = scheduler.take_launches();
        let names: Vec<&str> = launches
            .iter()
            .map(|launch| launch.function.as_str())
            .collect();
        assert_eq!(names, ["b"]);
        complete(&mut scheduler, &store, &launches[0], "6");
        assert_eq!(scheduler.outcome(), Outcome::Finished);
    }

    #[test]
    fn a_body_that_is_not_a_graph_fails_the_eval_node_with_its_location() {
        let store = storage();
        let graph_json = graph(
            &[
                r#"{"type": "const", "value": 7, "inputs": {}, "outputs": {"value": [1]}}"#.to_string(),
                r#"{"type": "eval", "graph": [0, "value"], "inputs": {}, "outputs": {"value": [2]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#.to_string(),
            ],
            2,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let scheduler = Scheduler::new(&store, info, false).expect("new");
        assert_eq!(scheduler.outcome(), Outcome::Failed(vec![Loc::root().n(1)]));
        let text = store.read_errors(&Loc::root().n(1)).expect("error text");
        assert!(
            text.contains("-.N0") && text.contains("not a graph"),
            "{text}"
        );
    }
}
