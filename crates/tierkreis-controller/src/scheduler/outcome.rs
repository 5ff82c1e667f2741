//! How a run stands, for the runtime and the people watching it: the
//! outcome, the progress counters, and, for a stalled run, which nodes wait
//! for which inputs (`Scheduler::waiting_nodes`, `stall_explanation`).

use tierkreis_core::graph::NodeKind;
use tierkreis_core::{Loc, NodeDef, PortId, ValueRef};

use super::{Scheduler, Status, Sub};

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

impl Scheduler<'_> {
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
}

/// A node's type, with its function or input name: `function w.f`, `input x`, `eval`.
fn describe(node: &NodeDef) -> String {
    match &node.kind {
        NodeKind::Function { function_name } => format!("function {function_name}"),
        NodeKind::Input { name } => format!("input {name}"),
        _ => node.type_name().to_string(),
    }
}
