//! Breakpoints: which nodes a run pauses in front of (from graph metadata
//! or selectors given on the command line), and the scheduler's check
//! before it starts a node.

use tierkreis_core::graph::NodeKind;
use tierkreis_core::{Loc, NodeIndex};

use super::prepared_graph::GraphInfo;
use super::{Scheduler, ScopeId, Status};

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

impl Scheduler<'_> {
    /// Whether node `node_index` of scope `scope_id` must not start now: it
    /// is a breakpoint not yet passed (it is then recorded), or the run is
    /// pausing. A node already started (a resumed nested scope) is never held.
    pub(super) fn held_at_breakpoint(&mut self, scope_id: ScopeId, node_index: NodeIndex) -> bool {
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
}
