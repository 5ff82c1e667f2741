//! What the nested-graph nodes (`eval`, `loop`, `map`) share: the one
//! preamble each starts with (`begin_nested`: find the body graph, ask for
//! reuse), and the inputs a nested scope links.

use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_core::graph::NodeKind;
use tierkreis_core::{GraphData, InputLink, NodeDef, OutputLoc, PortId, Value, ValueRef};

use super::nested_graph_reuse::NestedGraphKind;
use super::prepared_graph::GraphInfo;
use super::{Scheduler, SchedulerError, ScopeId, StartingNode};

/// The port that carries a nested graph into its scope's inputs.
pub const BODY_PORT: &str = "body";

impl Scheduler<'_> {
    /// The preamble of every nested-graph node (`eval`, `loop`, `map`, said
    /// by `kind`): finds its body graph from `body_ref`, then asks whether
    /// the node was reused whole. `None` when the node needs nothing more:
    /// its body could not be had (the node is now failed), or it was reused
    /// (it is finished). Otherwise the body, for the node to expand.
    pub(super) fn begin_nested(
        &mut self,
        starting: &StartingNode<'_>,
        kind: NestedGraphKind,
        body_ref: &ValueRef,
    ) -> Result<Option<Arc<GraphInfo>>, SchedulerError> {
        let body = match self.body_graph(starting.scope_id, body_ref) {
            Ok(body) => body,
            Err(message) => {
                self.fail_node(starting.scope_id, starting.node_index, message)?;
                return Ok(None);
            }
        };
        if self.reused_whole(starting, kind, body_ref, &body)? {
            return Ok(None);
        }
        Ok(Some(body))
    }

    /// Finds the graph a reference in scope `scope_id` points to, without I/O
    /// when it is a constant of the enclosing graph or the scope's own body.
    /// The error is the text to fail the node with.
    fn body_graph(
        &mut self,
        scope_id: ScopeId,
        graph_ref: &ValueRef,
    ) -> Result<Arc<GraphInfo>, String> {
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

    /// The inputs of a nested-graph node's scope: the node's own inputs, its
    /// body (from `body_ref`) and the body's fixed inputs.
    pub(super) fn nested_scope_links(
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
}

/// Adds a graph's fixed inputs (absolute locations) to a scope's input links.
pub(super) fn push_fixed(links: &mut Vec<InputLink>, graph: &GraphData) {
    for (port, source) in &graph.fixed_inputs {
        links.push(InputLink::new(port.clone(), source.clone()));
    }
}

/// The eval node the reference records for a loop iteration or map element.
pub(super) fn virtual_eval(inputs: IndexMap<PortId, ValueRef>, owner: &NodeDef) -> NodeDef {
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
