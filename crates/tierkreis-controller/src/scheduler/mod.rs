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
//! [`Scheduler::task_failed`]. It imports neither the runtime nor the
//! executors nor the result cache (its tests excepted).
//!
//! One file per concept: `prepared_graph` (a graph plus what scheduling
//! derives from it once), `outcome` (how a run stands, and why a stalled run
//! waits), `breakpoints`, `nested_graph_reuse` (the trait the result cache
//! implements), `nested_scope` (what `eval`, `loop` and `map` share, their
//! one `begin_nested` preamble among it), one file per node kind that needs
//! more than a few lines (`eval_node`, `loop_node`, `map_node`, `if_else`),
//! the kinds that take no decision (`plain_nodes`: function, input, const,
//! output), and here the state machine itself: scopes, node states and the four
//! transitions (`demand`, `start`, `finished`, `scope_done`).

mod breakpoints;
mod eval_node;
mod if_else;
mod loop_node;
mod map_node;
mod nested_graph_reuse;
mod nested_scope;
mod outcome;
mod plain_nodes;
mod prepared_graph;

pub use breakpoints::Breakpoints;
pub use nested_graph_reuse::{NestedGraphKind, NestedGraphReuse, NestedGraphReuseOutcome};
pub use nested_scope::BODY_PORT;
pub use outcome::{
    stall_explanation, AwaitedInput, AwaitedSourceState, Outcome, Progress, WaitingNode,
};
pub use prepared_graph::{GraphInfo, PrepareError};

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use tierkreis_core::graph::NodeKind;
use tierkreis_core::{InputLink, Loc, NodeDef, NodeIndex, OutputLoc, PortId, Value, ValueRef};
use tierkreis_storage::{ControllerStorage, StorageError};

use if_else::IfElseMode;

/// A task for a worker, ready to be launched: its call args are written.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyTask {
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

/// The scheduling core for one workflow.
pub struct Scheduler<'storage> {
    storage: &'storage dyn ControllerStorage,
    scopes: Vec<Option<Scope>>,
    free_scopes: Vec<ScopeId>,
    work: VecDeque<Work>,
    running: HashMap<Loc, (ScopeId, NodeIndex)>,
    launches: Vec<ReadyTask>,
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
    pub fn take_launches(&mut self) -> Vec<ReadyTask> {
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

    /// The nodes the run paused in front of, with what the pause record needs.
    pub fn paused_nodes(&self) -> &[tierkreis_storage::breakpoints::PausedNode] {
        &self.paused
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

    /// Fails node `node_index` of scope `scope_id` with `message`, the text
    /// written to its error file (a node's own failure, not the controller's:
    /// the run goes on until nothing else runs).
    fn fail_node(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
        message: String,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(scope_id).loc.n(node_index as i64);
        tracing::warn!(%loc, %message, "node failed");
        tierkreis_storage::record_task_failure(self.storage, &loc, &message)?;
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

    /// Reads the value a reference in scope `scope_id` points to; the error
    /// is the text to fail the reading node with ([`Scheduler::fail_node`]).
    fn read_value(&self, scope_id: ScopeId, value_ref: &ValueRef) -> Result<Value, String> {
        let OutputLoc { node: loc, port } = self.resolve(scope_id, value_ref);
        self.storage
            .read_output(&loc, &port)
            .map(|bytes| Value::from_bytes(&bytes))
            .map_err(|error| format!("cannot read {loc} port {port}: {error}"))
    }

    /// Starts a node whose required inputs are done: writes its nodedef, then
    /// does what its kind says (one `start_*` method per kind, in the file
    /// of that kind: `plain_nodes`, `eval_node`, `loop_node`, `map_node`,
    /// `if_else`).
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

    /// Scope `scope_id` produced its outputs: it is dropped, and its owner
    /// (the run, an eval, a loop iteration or a map element) moves on.
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
}

#[cfg(test)]
mod tests;
