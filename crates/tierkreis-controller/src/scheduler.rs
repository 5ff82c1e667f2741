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
use tierkreis_core::{GraphData, Loc, NodeDef, NodeIndex, PortId, Value, ValueRef};
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
        let (output_idx, _) = data.output_node()?;
        let n = data.nodes.len();
        let mut consumers: Vec<Vec<NodeIndex>> = vec![Vec::new(); n];
        let mut const_graphs = Vec::with_capacity(n);
        for (idx, node) in data.nodes.iter().enumerate() {
            for (_, vref) in node.in_edges() {
                if let Ok(src) = usize::try_from(vref.node) {
                    if src < n && !consumers[src].contains(&idx) {
                        consumers[src].push(idx);
                    }
                }
            }
            const_graphs.push(match &node.kind {
                NodeKind::Const {
                    value: ConstValue::Graph(g),
                } => Some(GraphInfo::prepare((**g).clone())?),
                _ => None,
            });
        }
        let nodedefs = data.nodes.iter().map(NodeDef::to_json).collect();
        let required = data
            .nodes
            .iter()
            .map(|node| {
                let refs: Vec<&ValueRef> = match &node.kind {
                    NodeKind::IfElse { pred, .. } => vec![pred],
                    _ => node.in_edges().map(|(_, r)| r).collect(),
                };
                refs.into_iter()
                    .filter_map(|r| usize::try_from(r.node).ok())
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

    fn node(&self, idx: NodeIndex) -> &NodeDef {
        &self.data.nodes[idx]
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
    /// Each input port and the (location, port) of the value it reads.
    pub inputs: Vec<(PortId, Loc, PortId)>,
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
    /// Nothing runs and nothing can: the graph waits on values that will never come.
    Stalled,
    /// The run reached breakpoints: these nodes have their inputs and wait
    /// to start; nothing else runs. A resume continues past them.
    Paused(Vec<Loc>),
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

    /// Whether node `n` of `graph` at `loc` is a breakpoint (ignoring `passed`).
    fn hits(&self, graph: &GraphInfo, n: NodeIndex, loc: &Loc) -> bool {
        if self.from_metadata
            && graph
                .data
                .node_metadata
                .get(&n)
                .is_some_and(|m| m.has_breakpoint)
        {
            return true;
        }
        self.break_at
            .iter()
            .any(|sel| selector_matches(sel, graph, n, loc))
    }

    /// The `break_at` selectors that name nothing in `graph` or the graphs
    /// it holds as constants: a location that does not parse, or a name that
    /// is neither a named node nor a function of any of them.
    pub fn unknown_selectors(&self, graph: &GraphInfo) -> Vec<String> {
        self.break_at
            .iter()
            .filter(|sel| {
                if sel.starts_with('-') {
                    sel.parse::<Loc>().is_err()
                } else {
                    !names_anywhere(graph, sel)
                }
            })
            .cloned()
            .collect()
    }
}

fn selector_matches(sel: &str, graph: &GraphInfo, n: NodeIndex, loc: &Loc) -> bool {
    if sel.starts_with('-') {
        return loc.as_str() == sel;
    }
    if graph.data.named_nodes.get(sel) == Some(&n) {
        return true;
    }
    match &graph.node(n).kind {
        NodeKind::Function { function_name } => {
            function_name == sel
                || function_name
                    .rsplit_once('.')
                    .is_some_and(|(_, f)| f == sel)
        }
        _ => false,
    }
}

fn names_anywhere(graph: &GraphInfo, sel: &str) -> bool {
    (0..graph.data.nodes.len()).any(|n| selector_matches(sel, graph, n, &Loc::root()))
        || graph
            .const_graphs
            .iter()
            .flatten()
            .any(|g| names_anywhere(g, sel))
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

/// The scheduling core for one workflow.
pub struct Scheduler<'s> {
    storage: &'s dyn ControllerStorage,
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
}

impl std::fmt::Debug for Scheduler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("scopes", &self.scopes.len())
            .field("running", &self.running.len())
            .field("failed", &self.failed)
            .field("root_done", &self.root_done)
            .finish()
    }
}

/// What went wrong with a node, as the text written to its error file.
type NodeFailure = String;

impl<'s> Scheduler<'s> {
    /// A scheduler for the workflow in `storage`, whose top-level graph is `graph`.
    ///
    /// The top-level inputs and body must already be at `-.N-1` (see
    /// `runtime::start_workflow`). With `resume`, node states are read from the
    /// checkpoint, so finished nodes are not run again.
    pub fn new(
        storage: &'s dyn ControllerStorage,
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
        storage: &'s dyn ControllerStorage,
        graph: Arc<GraphInfo>,
        resume: bool,
        breakpoints: Breakpoints,
    ) -> Result<Self, SchedulerError> {
        let mut s = Scheduler {
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
        };
        let root = Loc::root();
        if resume && storage.is_node_finished(&root) {
            s.root_done = true;
            return Ok(s);
        }
        s.new_scope(root, graph, Owner::Root, resume)?;
        s.run_work()?;
        Ok(s)
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
            Outcome::Paused(self.paused.iter().map(|p| p.loc.clone()).collect())
        } else {
            Outcome::Stalled
        }
    }

    /// The nodes the run paused in front of, with what the pause record needs.
    pub fn paused_nodes(&self) -> &[tierkreis_storage::breakpoints::PausedNode] {
        &self.paused
    }

    /// Whether node `n` of scope `s` must not start now: it is a breakpoint
    /// not yet passed (it is then recorded), or the run is pausing. A node
    /// already started (a resumed nested scope) is never held.
    fn held_at_breakpoint(&mut self, s: ScopeId, n: NodeIndex) -> bool {
        if !self.breakpoints.enabled() && self.paused.is_empty() {
            return false;
        }
        let scope = self.scope(s);
        let loc = scope.loc.n(n as i64);
        if scope.restored && self.storage.is_node_started(&loc) {
            return false;
        }
        let graph = scope.graph.clone();
        let breakpoint =
            self.breakpoints.hits(&graph, n, &loc) && !self.breakpoints.passed.contains(&loc);
        if !breakpoint && self.paused.is_empty() {
            return false;
        }
        self.scope_mut(s).nodes[n].status = Status::Waiting;
        if breakpoint && !self.paused.iter().any(|p| p.loc == loc) {
            tracing::info!(%loc, "paused at a breakpoint");
            let node = graph.node(n);
            self.paused
                .push(tierkreis_storage::breakpoints::PausedNode {
                    loc,
                    nodedef_json: graph.nodedefs[n].clone(),
                    outputs: node.outputs.keys().cloned().collect(),
                });
        }
        true
    }

    /// The task at `loc` finished: its outputs and `_done` are written.
    pub fn task_finished(&mut self, loc: &Loc) -> Result<(), SchedulerError> {
        let (s, n) = self
            .running
            .remove(loc)
            .ok_or_else(|| SchedulerError::UnknownTask { loc: loc.clone() })?;
        self.work.push_back(Work::Finished(s, n));
        self.run_work()
    }

    /// The task at `loc` failed; its error text and `_error` are written.
    pub fn task_failed(&mut self, loc: &Loc) -> Result<(), SchedulerError> {
        let (s, n) = self
            .running
            .remove(loc)
            .ok_or_else(|| SchedulerError::UnknownTask { loc: loc.clone() })?;
        self.set_failed(s, n);
        Ok(())
    }

    fn set_failed(&mut self, s: ScopeId, n: NodeIndex) {
        if let Some(scope) = self.scopes[s].as_mut() {
            scope.nodes[n].status = Status::Failed;
            self.failed.push(scope.loc.n(n as i64));
        }
    }

    fn scope(&self, s: ScopeId) -> &Scope {
        self.scopes[s].as_ref().expect("live scope id")
    }

    fn scope_mut(&mut self, s: ScopeId) -> &mut Scope {
        self.scopes[s].as_mut().expect("live scope id")
    }

    fn new_scope(
        &mut self,
        loc: Loc,
        graph: Arc<GraphInfo>,
        owner: Owner,
        restored: bool,
    ) -> Result<ScopeId, SchedulerError> {
        let n = graph.data.nodes.len();
        let mut nodes = Vec::with_capacity(n);
        for idx in 0..n {
            let status = if restored {
                let nl = loc.n(idx as i64);
                if self.storage.is_node_finished(&nl) {
                    Status::Done
                } else if self.storage.node_has_error(&nl) {
                    self.failed.push(nl);
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
        let id = match self.free_scopes.pop() {
            Some(id) => {
                self.scopes[id] = Some(scope);
                id
            }
            None => {
                self.scopes.push(Some(scope));
                self.scopes.len() - 1
            }
        };
        self.work.push_back(if scope_finished {
            Work::ScopeDone(id)
        } else {
            Work::Demand(id, output_idx)
        });
        Ok(id)
    }

    fn run_work(&mut self) -> Result<(), SchedulerError> {
        while let Some(w) = self.work.pop_front() {
            match w {
                Work::Demand(s, n) => self.demand(s, n)?,
                Work::Finished(s, n) => self.finished(s, n)?,
                Work::ScopeDone(s) => self.scope_done(s)?,
            }
        }
        Ok(())
    }

    fn demand(&mut self, s: ScopeId, n: NodeIndex) -> Result<(), SchedulerError> {
        let Some(scope) = self.scopes[s].as_ref() else {
            return Ok(());
        };
        if scope.nodes[n].status != Status::Idle {
            return Ok(());
        }
        let graph = scope.graph.clone();
        let mut ready = true;
        for &dep in &graph.required[n] {
            match scope.nodes[dep].status {
                Status::Done => {}
                Status::Failed => return Ok(()),
                _ => {
                    ready = false;
                    self.work.push_back(Work::Demand(s, dep));
                }
            }
        }
        if ready {
            self.start(s, n)
        } else {
            self.scope_mut(s).nodes[n].status = Status::Waiting;
            Ok(())
        }
    }

    fn finished(&mut self, s: ScopeId, n: NodeIndex) -> Result<(), SchedulerError> {
        let Some(scope) = self.scopes[s].as_mut() else {
            return Ok(());
        };
        scope.nodes[n].status = Status::Done;
        self.progress.finished += 1;
        let graph = scope.graph.clone();
        for &c in &graph.consumers[n] {
            let scope = self.scope(s);
            match (&scope.nodes[c].status, &scope.nodes[c].sub) {
                (Status::Waiting, _) => {
                    let all_done = graph.required[c]
                        .iter()
                        .all(|&d| scope.nodes[d].status == Status::Done);
                    if all_done {
                        self.start(s, c)?;
                    }
                }
                (Status::Started, Sub::Branch(branch)) if branch.node == n as i64 => {
                    let branch = branch.clone();
                    self.complete_ifelse(s, c, &branch)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn fail_node(
        &mut self,
        s: ScopeId,
        n: NodeIndex,
        message: NodeFailure,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(s).loc.n(n as i64);
        tracing::warn!(%loc, %message, "node failed");
        self.storage.write_node_errors(&loc, &message)?;
        self.storage.mark_node_error(&loc)?;
        self.set_failed(s, n);
        Ok(())
    }

    /// Resolves a reference in scope `s` to the (location, port) it reads.
    fn resolve(&self, s: ScopeId, r: &ValueRef) -> (Loc, PortId) {
        (self.scope(s).loc.n(r.node), r.port.clone())
    }

    /// Links each (port <- location, port) into `dst`'s outputs. A missing
    /// source is tolerated like the reference does (a task may have a default).
    fn link_all(&self, dst: &Loc, links: &[(PortId, Loc, PortId)]) -> Result<(), SchedulerError> {
        for (port, src, src_port) in links {
            match self.storage.link_outputs(dst, port, src, src_port) {
                Ok(()) => {}
                Err(StorageError::NotFound { path }) => {
                    tracing::warn!(%dst, %port, path = %path.display(), "input value not found; a task may use its default");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Finds the graph a reference in scope `s` points to, without I/O when it
    /// is a constant of the enclosing graph or the scope's own body.
    fn body_graph(&mut self, s: ScopeId, r: &ValueRef) -> Result<Arc<GraphInfo>, NodeFailure> {
        let scope = self.scope(s);
        if let Ok(idx) = usize::try_from(r.node) {
            if let Some(Some(g)) = scope.graph.const_graphs.get(idx) {
                return Ok(g.clone());
            }
        } else if r.port == BODY_PORT {
            // A scope's own `body` input is the graph it runs.
            return Ok(scope.graph.clone());
        }
        let (loc, port) = self.resolve(s, r);
        let bytes = self
            .storage
            .read_output(&loc, &port)
            .map_err(|e| format!("cannot read graph at {loc} port {port}: {e}"))?;
        if let Some(g) = self.graph_cache.get(&bytes) {
            return Ok(g.clone());
        }
        let value = Value::from_bytes(&bytes);
        let data = GraphData::from_value(&value)
            .map_err(|e| format!("value at {loc} port {port} is not a graph: {e}"))?;
        let info = GraphInfo::prepare(data)
            .map_err(|e| format!("graph at {loc} port {port} is invalid: {e}"))?;
        self.graph_cache.insert(bytes, info.clone());
        Ok(info)
    }

    fn read_value(&self, s: ScopeId, r: &ValueRef) -> Result<Vec<u8>, NodeFailure> {
        let (loc, port) = self.resolve(s, r);
        self.storage
            .read_output(&loc, &port)
            .map_err(|e| format!("cannot read {loc} port {port}: {e}"))
    }

    fn start(&mut self, s: ScopeId, n: NodeIndex) -> Result<(), SchedulerError> {
        let scope = self.scope(s);
        let graph = scope.graph.clone();
        let node = graph.node(n);
        if !self.failed.is_empty() && matches!(node.kind, NodeKind::Function { .. }) {
            // After a failure no new task is launched; the node stays ready for a resume.
            self.scope_mut(s).nodes[n].status = Status::Waiting;
            return Ok(());
        }
        if self.held_at_breakpoint(s, n) {
            return Ok(());
        }
        let scope = self.scope(s);
        let loc = scope.loc.n(n as i64);
        let restored = scope.restored;
        self.scope_mut(s).nodes[n].status = Status::Started;
        self.progress.started += 1;
        // On resume, a started nested node is re-entered: its checkpoint stays.
        let already_started = restored && self.storage.is_node_started(&loc);
        // Created in place when new (it is one JSON object, so a copy cut
        // short never parses as complete); written again on resume, by
        // rename, since a controller killed while writing it (ours or the
        // reference's) may have left it cut short.
        let path = self.storage.nodedef_path(&loc);
        self.storage.write_fresh(&path, &graph.nodedefs[n])?;
        let ins: Vec<(PortId, Loc, PortId)> = node
            .inputs
            .iter()
            .map(|(k, r)| {
                let (l, p) = self.resolve(s, r);
                (k.clone(), l, p)
            })
            .collect();
        match &node.kind {
            NodeKind::Function { function_name } => {
                let (worker, function) = match function_name.rsplit_once('.') {
                    Some((w, f)) => (w.to_string(), f.to_string()),
                    None => (String::new(), function_name.clone()),
                };
                let outputs: Vec<PortId> = node.outputs.keys().cloned().collect();
                let call_args_path = self
                    .storage
                    .write_worker_call_args(&loc, &function, &ins, &outputs)?;
                self.running.insert(loc.clone(), (s, n));
                self.launches.push(Launch {
                    loc,
                    worker,
                    function,
                    inputs: ins,
                    outputs,
                    call_args_path,
                });
            }
            NodeKind::Input { name } => {
                let src = self.scope(s).loc.n(-1);
                self.link_all(&loc, &[(name.clone(), src, name.clone())])?;
                self.storage.mark_node_finished(&loc)?;
                self.work.push_back(Work::Finished(s, n));
            }
            NodeKind::Const { value } => {
                let bytes = match value {
                    ConstValue::Value(v) => v.to_bytes(),
                    ConstValue::Graph(g) => {
                        tierkreis_core::json::to_string_pretty(&g.to_value()).into_bytes()
                    }
                };
                self.storage.write_output(&loc, "value", &bytes)?;
                self.storage.mark_node_finished(&loc)?;
                self.work.push_back(Work::Finished(s, n));
            }
            NodeKind::Output => {
                self.storage.mark_node_finished(&loc)?;
                let scope_loc = self.scope(s).loc.clone();
                self.link_all(&scope_loc, &ins)?;
                self.storage.mark_node_finished(&scope_loc)?;
                self.scope_mut(s).nodes[n].status = Status::Done;
                self.work.push_back(Work::ScopeDone(s));
            }
            NodeKind::Eval { graph: gref } => {
                let body = match self.body_graph(s, gref) {
                    Ok(b) => b,
                    Err(msg) => return self.fail_node(s, n, msg),
                };
                let mut links = ins;
                let (bl, bp) = self.resolve(s, gref);
                links.push((BODY_PORT.to_string(), bl, bp));
                push_fixed(&mut links, &body.data);
                self.link_all(&loc.n(-1), &links)?;
                self.scope_mut(s).nodes[n].sub = Sub::Eval;
                self.new_scope(
                    loc,
                    body,
                    Owner::Eval { scope: s, node: n },
                    already_started,
                )?;
            }
            NodeKind::Loop {
                body: bref, name, ..
            } => {
                let body = match self.body_graph(s, bref) {
                    Ok(b) => b,
                    Err(msg) => return self.fail_node(s, n, msg),
                };
                let mut links = ins.clone();
                let (bl, bp) = self.resolve(s, bref);
                links.push((BODY_PORT.to_string(), bl, bp));
                let inner = loc.n(-1);
                let mut iter = 0;
                self.link_all(&inner, &links)?;
                if already_started {
                    iter = u64::try_from(self.storage.latest_loop_iteration(&loc).peek_index())
                        .unwrap_or(0);
                } else if let Some(name) = name {
                    self.storage.write_debug_data(name, &loc)?;
                }
                self.scope_mut(s).nodes[n].sub = Sub::Loop;
                let iter_loc = loc.l(iter);
                let iter_restored = already_started && self.storage.is_node_started(&iter_loc);
                // Links are idempotent: a restored iteration gets them again, in
                // case the controller died between its nodedef and its inputs.
                let iter_links = if iter == 0 {
                    // Iteration 0 reads every loop input from the loop's own inputs.
                    let mut first: Vec<(PortId, Loc, PortId)> = links
                        .iter()
                        .map(|(k, _, _)| (k.clone(), inner.clone(), k.clone()))
                        .collect();
                    push_fixed(&mut first, &body.data);
                    first
                } else {
                    later_iteration_links(node, &loc.l(iter - 1), &body)
                };
                self.start_iteration(&iter_loc, node, &iter_links)?;
                self.new_scope(
                    iter_loc,
                    body,
                    Owner::LoopIter {
                        scope: s,
                        node: n,
                        iter,
                    },
                    iter_restored,
                )?;
            }
            NodeKind::Map { body: bref } => {
                let body = match self.body_graph(s, bref) {
                    Ok(b) => b,
                    Err(msg) => return self.fail_node(s, n, msg),
                };
                let Some((_, star_src, _)) = ins.iter().find(|(_, _, p)| p == "*").cloned() else {
                    return self.fail_node(
                        s,
                        n,
                        format!("map node {loc} has no input whose port is \"*\" to map over"),
                    );
                };
                let ports = self.storage.read_output_ports(&star_src)?;
                let mut elems = Vec::with_capacity(ports.len());
                for p in ports {
                    let idx = p.rsplit('-').next().and_then(|i| i.parse::<u64>().ok());
                    match idx {
                        Some(i) => elems.push((i, p)),
                        None => {
                            return self.fail_node(
                                s,
                                n,
                                format!(
                                    "map node {loc}: output {p:?} of {star_src} has no element index (expected a name ending in -<number>)"
                                ),
                            )
                        }
                    }
                }
                if elems.is_empty() {
                    self.storage.mark_node_finished(&loc)?;
                    self.work.push_back(Work::Finished(s, n));
                    return Ok(());
                }
                let (bl, bp) = self.resolve(s, bref);
                let elem_def = virtual_eval(node.inputs.clone(), node).to_json();
                let mut remaining = 0;
                let mut scopes_to_make = Vec::new();
                for (i, p) in &elems {
                    let el = loc.m(*i);
                    if already_started && self.storage.is_node_finished(&el) {
                        continue;
                    }
                    remaining += 1;
                    let el_restored = already_started && self.storage.is_node_started(&el);
                    let mut links = vec![(BODY_PORT.to_string(), bl.clone(), bp.clone())];
                    for (k, l, port) in &ins {
                        let port = if port == "*" { p.clone() } else { port.clone() };
                        links.push((k.clone(), l.clone(), port));
                    }
                    push_fixed(&mut links, &body.data);
                    self.link_all(&el.n(-1), &links)?;
                    let path = self.storage.nodedef_path(&el);
                    self.storage.write_fresh(&path, &elem_def)?;
                    scopes_to_make.push((el, el_restored));
                }
                self.scope_mut(s).nodes[n].sub = Sub::Map {
                    remaining,
                    elems,
                    body: body.clone(),
                };
                if remaining == 0 {
                    self.finish_map(s, n)?;
                }
                for (el, el_restored) in scopes_to_make {
                    self.new_scope(
                        el,
                        body.clone(),
                        Owner::MapElem { scope: s, node: n },
                        el_restored,
                    )?;
                }
            }
            NodeKind::IfElse {
                pred,
                if_true,
                if_false,
            } => {
                let pv = match self.read_value(s, pred) {
                    Ok(v) => v,
                    Err(msg) => return self.fail_node(s, n, msg),
                };
                let branch = if pv == b"true" { if_true } else { if_false }.clone();
                let bnode = usize::try_from(branch.node).ok();
                let branch_done = match bnode {
                    Some(b) => self.scope(s).nodes[b].status == Status::Done,
                    None => true,
                };
                if branch_done {
                    self.complete_ifelse(s, n, &branch)?;
                } else if let Some(b) = bnode {
                    self.scope_mut(s).nodes[n].sub = Sub::Branch(branch);
                    self.work.push_back(Work::Demand(s, b));
                }
            }
            NodeKind::EagerIfElse {
                pred,
                if_true,
                if_false,
            } => {
                let pv = match self.read_value(s, pred) {
                    Ok(v) => v,
                    Err(msg) => return self.fail_node(s, n, msg),
                };
                let branch = if pv == b"true" { if_true } else { if_false }.clone();
                self.complete_ifelse(s, n, &branch)?;
            }
        }
        Ok(())
    }

    /// Links a loop iteration's inputs, then writes its virtual eval node: a
    /// node counts as started only once its inputs are in place. On resume
    /// both are done again (idempotent, and repairs a cut-short nodedef).
    fn start_iteration(
        &self,
        iter_loc: &Loc,
        loop_node: &NodeDef,
        links: &[(PortId, Loc, PortId)],
    ) -> Result<(), SchedulerError> {
        self.link_all(&iter_loc.n(-1), links)?;
        let inputs: IndexMap<PortId, ValueRef> = links
            .iter()
            .map(|(k, _, _)| (k.clone(), ValueRef::new(-1, k.clone())))
            .collect();
        self.storage
            .write_node_def(iter_loc, &virtual_eval(inputs, loop_node))?;
        Ok(())
    }

    fn complete_ifelse(
        &mut self,
        s: ScopeId,
        n: NodeIndex,
        branch: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(s).loc.n(n as i64);
        let (bl, bp) = self.resolve(s, branch);
        self.link_all(&loc, &[("value".to_string(), bl, bp)])?;
        self.storage.mark_node_finished(&loc)?;
        self.scope_mut(s).nodes[n].sub = Sub::None;
        self.work.push_back(Work::Finished(s, n));
        Ok(())
    }

    fn scope_done(&mut self, id: ScopeId) -> Result<(), SchedulerError> {
        let Some(scope) = self.scopes[id].take() else {
            return Ok(());
        };
        self.free_scopes.push(id);
        match scope.owner {
            Owner::Root => {
                self.root_done = true;
            }
            Owner::Eval { scope: ps, node } => {
                self.work.push_back(Work::Finished(ps, node));
            }
            Owner::MapElem { scope: ps, node } => {
                let Some(parent) = self.scopes[ps].as_mut() else {
                    return Ok(());
                };
                if let Sub::Map { remaining, .. } = &mut parent.nodes[node].sub {
                    *remaining -= 1;
                    if *remaining == 0 {
                        self.finish_map(ps, node)?;
                    }
                }
            }
            Owner::LoopIter {
                scope: ps,
                node,
                iter,
            } => self.next_iteration(ps, node, iter, &scope)?,
        }
        Ok(())
    }

    fn finish_map(&mut self, s: ScopeId, n: NodeIndex) -> Result<(), SchedulerError> {
        let loc = self.scope(s).loc.n(n as i64);
        let Sub::Map { elems, body, .. } =
            std::mem::replace(&mut self.scope_mut(s).nodes[n].sub, Sub::None)
        else {
            return Ok(());
        };
        let outs: Vec<PortId> = body.node(body.output_idx).inputs.keys().cloned().collect();
        for (i, p) in &elems {
            let el = loc.m(*i);
            let links: Vec<(PortId, Loc, PortId)> = outs
                .iter()
                .map(|o| (format!("{o}-{p}"), el.clone(), o.clone()))
                .collect();
            self.link_all(&loc, &links)?;
        }
        self.storage.mark_node_finished(&loc)?;
        self.work.push_back(Work::Finished(s, n));
        Ok(())
    }

    fn next_iteration(
        &mut self,
        s: ScopeId,
        n: NodeIndex,
        iter: u64,
        done: &Scope,
    ) -> Result<(), SchedulerError> {
        let Some(parent) = self.scopes[s].as_ref() else {
            return Ok(());
        };
        let loop_loc = parent.loc.n(n as i64);
        let loop_node = parent.graph.node(n).clone();
        let NodeKind::Loop { continue_port, .. } = &loop_node.kind else {
            return Ok(());
        };
        let iter_loc = &done.loc;
        let body = done.graph.clone();
        let outs = &body.node(body.output_idx).inputs;
        let cont = match self.storage.read_output(iter_loc, continue_port) {
            Ok(b) => Value::from_bytes(&b),
            Err(e) => {
                return self.fail_node(
                    s,
                    n,
                    format!("loop {loop_loc}: cannot read continue port {continue_port:?} of iteration {iter_loc}: {e}"),
                )
            }
        };
        if cont == Value::Bool(false) {
            let links: Vec<(PortId, Loc, PortId)> = outs
                .keys()
                .map(|k| (k.clone(), iter_loc.clone(), k.clone()))
                .collect();
            self.link_all(&loop_loc, &links)?;
            self.storage.mark_node_finished(&loop_loc)?;
            self.work.push_back(Work::Finished(s, n));
            return Ok(());
        }
        let links = later_iteration_links(&loop_node, iter_loc, &body);
        let next = iter + 1;
        let next_loc = loop_loc.l(next);
        self.start_iteration(&next_loc, &loop_node, &links)?;
        self.new_scope(
            next_loc,
            body,
            Owner::LoopIter {
                scope: s,
                node: n,
                iter: next,
            },
            false,
        )?;
        Ok(())
    }
}

/// The inputs of the loop iteration after `prev` (the reference's `walk_loop`):
/// each body output, and every other loop input carried over from `prev`.
fn later_iteration_links(
    loop_node: &NodeDef,
    prev: &Loc,
    body: &GraphInfo,
) -> Vec<(PortId, Loc, PortId)> {
    let inner = prev.n(-1);
    let mut links: IndexMap<PortId, (Loc, PortId)> = loop_node
        .inputs
        .keys()
        .map(|k| (k.clone(), (inner.clone(), k.clone())))
        .collect();
    for (k, r) in &body.node(body.output_idx).inputs {
        links.insert(k.clone(), (prev.n(r.node), r.port.clone()));
    }
    links.insert(BODY_PORT.to_string(), (inner, BODY_PORT.to_string()));
    let mut links: Vec<(PortId, Loc, PortId)> =
        links.into_iter().map(|(k, (l, p))| (k, l, p)).collect();
    push_fixed(&mut links, &body.data);
    links
}

/// Adds a graph's fixed inputs (absolute locations) to a scope's input links.
fn push_fixed(links: &mut Vec<(PortId, Loc, PortId)>, g: &GraphData) {
    for (k, (l, p)) in &g.fixed_inputs {
        links.push((k.clone(), l.clone(), p.clone()));
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
        let g = GraphData::from_json(graph.as_bytes()).expect("graph");
        let inputs = inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        start_workflow(storage, &g, &inputs).expect("start");
        GraphInfo::prepare(g).expect("prepare")
    }

    /// Completes a launched task the way a worker would: outputs, then `_done`.
    fn complete(s: &mut Scheduler<'_>, st: &dyn ControllerStorage, l: &Launch, value: &str) {
        for port in &l.outputs {
            st.write_output(&l.loc, port, value.as_bytes())
                .expect("write");
        }
        st.mark_node_finished(&l.loc).expect("done");
        s.task_finished(&l.loc).expect("finished");
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

    #[test]
    fn a_task_is_launched_once_its_inputs_exist_and_its_output_finishes_the_run() {
        let st = storage();
        let g = graph(
            &[
                r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#
                    .to_string(),
                func("w.double", r#"{"a": [0, "x"]}"#, "[2]"),
                r#"{"type": "output", "inputs": {"out": [1, "value"]}, "outputs": {}}"#.to_string(),
            ],
            2,
            r#"["x"]"#,
        );
        let info = setup(&st, &g, &[("x", "21")]);
        let mut s = Scheduler::new(&st, info, false).expect("new");
        let launches = s.take_launches();
        assert_eq!(launches.len(), 1);
        let l = &launches[0];
        assert_eq!((l.worker.as_str(), l.function.as_str()), ("w", "double"));
        assert_eq!(l.loc.as_str(), "-.N1");
        assert_eq!(
            l.inputs,
            vec![("a".to_string(), Loc::root().n(0), "x".to_string())]
        );
        assert_eq!(
            st.read_output(&Loc::root().n(0), "x")
                .expect("input linked"),
            b"21"
        );
        assert_eq!(s.outcome(), Outcome::Running);
        complete(&mut s, &st, l, "42");
        assert_eq!(s.outcome(), Outcome::Finished);
        assert_eq!(st.read_output(&Loc::root(), "out").expect("output"), b"42");
        assert!(st.is_node_finished(&Loc::root()));
    }

    #[test]
    fn lazy_ifelse_runs_only_the_chosen_branch() {
        let st = storage();
        let g = graph(
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
        let info = setup(&st, &g, &[]);
        let mut s = Scheduler::new(&st, info, false).expect("new");
        let launches = s.take_launches();
        let names: Vec<&str> = launches.iter().map(|l| l.function.as_str()).collect();
        assert_eq!(names, ["no"]);
        complete(&mut s, &st, &launches[0], "\"b\"");
        assert_eq!(s.outcome(), Outcome::Finished);
        assert!(
            !st.is_node_started(&Loc::root().n(1)),
            "the other branch never starts"
        );
        assert_eq!(
            st.read_output(&Loc::root(), "value").expect("out"),
            b"\"b\""
        );
    }

    #[test]
    fn eager_ifelse_runs_both_branches() {
        let st = storage();
        let g = graph(
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
        let info = setup(&st, &g, &[]);
        let mut s = Scheduler::new(&st, info, false).expect("new");
        let launches = s.take_launches();
        assert_eq!(launches.len(), 2, "independent tasks are launched together");
        complete(&mut s, &st, &launches[0], "1");
        assert_eq!(s.outcome(), Outcome::Running);
        complete(&mut s, &st, &launches[1], "2");
        assert_eq!(s.outcome(), Outcome::Finished);
        assert_eq!(st.read_output(&Loc::root(), "value").expect("out"), b"1");
    }

    #[test]
    fn after_a_failure_nothing_new_is_launched_and_the_run_fails_once_idle() {
        let st = storage();
        let g = graph(
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
        let info = setup(&st, &g, &[]);
        let mut s = Scheduler::new(&st, info, false).expect("new");
        let launches = s.take_launches();
        let names: Vec<&str> = launches.iter().map(|l| l.function.as_str()).collect();
        assert_eq!(names, ["c", "a"]);
        s.task_failed(&launches[1].loc).expect("failed");
        assert_eq!(s.outcome(), Outcome::Running, "c still runs");
        complete(&mut s, &st, &launches[0], "3");
        assert!(s.take_launches().is_empty());
        assert_eq!(s.outcome(), Outcome::Failed(vec![Loc::root().n(1)]));
    }

    #[test]
    fn a_map_launches_every_element_at_once_and_names_outputs_by_element() {
        let st = storage();
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
        let g = graph(
            &[
                format!(r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#),
                r#"{"type": "function", "function_name": "w.unfold", "inputs": {}, "outputs": {"*": [2]}}"#.to_string(),
                r#"{"type": "map", "body": [0, "value"], "inputs": {"x": [1, "*"]}, "outputs": {"value-*": [3]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"v": [2, "value-0"]}, "outputs": {}}"#.to_string(),
            ],
            3,
            "[]",
        );
        let info = setup(&st, &g, &[]);
        let mut s = Scheduler::new(&st, info, false).expect("new");
        let unfold = s.take_launches();
        assert_eq!(unfold.len(), 1);
        for i in 0..3 {
            st.write_output(&unfold[0].loc, &i.to_string(), i.to_string().as_bytes())
                .expect("w");
        }
        st.mark_node_finished(&unfold[0].loc).expect("done");
        s.task_finished(&unfold[0].loc).expect("finished");
        let elems = s.take_launches();
        let locs: Vec<&str> = elems.iter().map(|l| l.loc.as_str()).collect();
        assert_eq!(locs, ["-.N2.M0.N1", "-.N2.M1.N1", "-.N2.M2.N1"]);
        for l in &elems {
            let x = st
                .read_output(&l.inputs[0].1, &l.inputs[0].2)
                .expect("element input");
            let x: i64 = String::from_utf8(x).expect("utf8").parse().expect("int");
            complete(&mut s, &st, l, &(x * x).to_string());
        }
        assert_eq!(s.outcome(), Outcome::Finished);
        let map = Loc::root().n(2);
        assert_eq!(
            st.read_output_ports(&map).expect("ports"),
            ["value-0", "value-1", "value-2"]
        );
        assert_eq!(st.read_output(&map, "value-2").expect("v"), b"4");
    }

    #[test]
    fn a_loop_carries_values_and_stops_when_continue_is_false() {
        let st = storage();
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
        let g = graph(
            &[
                r#"{"type": "const", "value": 0, "inputs": {}, "outputs": {"value": [2]}}"#.to_string(),
                format!(r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#),
                r#"{"type": "loop", "body": [1, "value"], "inputs": {"i": [0, "value"]}, "continue_port": "go", "name": null, "outputs": {"i": [3]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [2, "i"]}, "outputs": {}}"#.to_string(),
            ],
            3,
            "[]",
        );
        let info = setup(&st, &g, &[]);
        let mut s = Scheduler::new(&st, info, false).expect("new");
        for iter in 0..3u64 {
            let step = s.take_launches();
            assert_eq!(step.len(), 1);
            assert_eq!(step[0].loc, Loc::root().n(2).l(iter).n(1));
            complete(&mut s, &st, &step[0], &(iter + 1).to_string());
            let more = s.take_launches();
            complete(
                &mut s,
                &st,
                &more[0],
                if iter < 2 { "true" } else { "false" },
            );
        }
        assert_eq!(s.outcome(), Outcome::Finished);
        assert_eq!(st.read_output(&Loc::root(), "value").expect("out"), b"3");
        assert!(!st.is_node_started(&Loc::root().n(2).l(3)));
    }

    #[test]
    fn resume_launches_only_unfinished_tasks() {
        let st = storage();
        let g = graph(
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
        let info = setup(&st, &g, &[]);
        {
            let mut s = Scheduler::new(&st, info.clone(), false).expect("new");
            let a = s.take_launches();
            complete(&mut s, &st, &a[0], "5");
            assert_eq!(s.take_launches()[0].function, "b");
            // The controller dies here, with b running.
        }
        let mut s = Scheduler::new(&st, info, true).expect("resume");
        let launches = s.take_launches();
        let names: Vec<&str> = launches.iter().map(|l| l.function.as_str()).collect();
        assert_eq!(names, ["b"]);
        complete(&mut s, &st, &launches[0], "6");
        assert_eq!(s.outcome(), Outcome::Finished);
    }

    #[test]
    fn a_body_that_is_not_a_graph_fails_the_eval_node_with_its_location() {
        let st = storage();
        let g = graph(
            &[
                r#"{"type": "const", "value": 7, "inputs": {}, "outputs": {"value": [1]}}"#.to_string(),
                r#"{"type": "eval", "graph": [0, "value"], "inputs": {}, "outputs": {"value": [2]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#.to_string(),
            ],
            2,
            "[]",
        );
        let info = setup(&st, &g, &[]);
        let s = Scheduler::new(&st, info, false).expect("new");
        assert_eq!(s.outcome(), Outcome::Failed(vec![Loc::root().n(1)]));
        let text = st.read_errors(&Loc::root().n(1)).expect("error text");
        assert!(
            text.contains("-.N0") && text.contains("not a graph"),
            "{text}"
        );
    }
}
