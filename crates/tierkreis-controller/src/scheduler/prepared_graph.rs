//! The prepared graph: a graph's data plus what scheduling derives from it
//! once (consumers, required inputs, nested constant graphs, serialised
//! nodedefs), so no event has to walk the whole graph again.

use std::sync::Arc;

use tierkreis_core::graph::{ConstValue, NodeKind};
use tierkreis_core::{GraphData, NodeDef, NodeIndex, ValueRef};

/// A graph ready to be scheduled: the data plus what the core derives from it once.
#[derive(Debug)]
pub struct GraphInfo {
    /// The graph itself.
    pub data: GraphData,
    /// The index of its output node.
    pub output_idx: NodeIndex,
    /// For each node, the nodes of the same graph that read one of its outputs.
    pub(super) consumers: Vec<Vec<NodeIndex>>,
    /// For each `const` node whose value is a graph, that graph, prepared.
    pub(super) const_graphs: Vec<Option<Arc<GraphInfo>>>,
    /// Each node's `nodedef` file content, serialised once for every scope.
    pub(super) nodedefs: Vec<Vec<u8>>,
    /// For each node, the nodes of the same graph that must be done before
    /// it can start (a lazy if-else needs only its predicate).
    pub(super) required: Vec<Vec<NodeIndex>>,
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
    pub(super) fn derive(data: GraphData) -> Result<Arc<GraphInfo>, PrepareError> {
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

    pub(super) fn node(&self, node_index: NodeIndex) -> &NodeDef {
        &self.data.nodes[node_index]
    }
}
