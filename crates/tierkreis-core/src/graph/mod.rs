//! The workflow graph model (`GraphData`, `NodeDef`), read and written as the
//! JSON the reference's pydantic models produce (`graph.json` and the per-node
//! `nodedef` files), with errors that point at the offending spot.
//!
//! Decoding is done by hand from a [`Value`] so that every type error names
//! its path (`nodes[3].value.nodes[2].inputs.a`), including the path through
//! nested graphs held by `const` nodes. Decoding checks types only;
//! [`GraphData::validate`] checks structure (references in range, exactly one
//! output node, ...).
//!
//! Rule for `const` nodes: a value that is an object with a key `nodes`
//! holding a list and a key `graph_output_idx` is a nested graph
//! ([`ConstValue::Graph`]) and must decode as one (errors are reported, not
//! swallowed); any other value is a plain [`ConstValue::Value`]. A nested
//! graph is written back with all six `GraphData` fields, as pydantic's
//! `model_dump` writes it, so a graph written by the reference round-trips
//! unchanged (a hand-made graph object that omitted optional fields gains
//! their defaults).
//!
//! Files: `nodes` (the node model and its JSON), `decoding` (JSON to typed
//! data, type errors with paths), `validation` (structure checks, cycles),
//! `error` (`GraphError` and its paths).

mod decoding;
mod error;
mod nodes;
mod validation;

use indexmap::IndexMap;
use num_bigint::BigInt;

use crate::json;
use crate::output_loc::OutputLoc;
use crate::value::Value;

pub use error::GraphError;
pub use nodes::{ConstValue, NodeDef, NodeKind, NodeMetaData, ValueRef};

/// Index of a node in [`GraphData::nodes`].
pub type NodeIndex = usize;
/// Name of an input or output port.
pub type PortId = String;

/// A workflow graph (`GraphData` in the reference).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphData {
    pub nodes: Vec<NodeDef>,
    /// Inputs whose values come from another node's output (a `Loc` and port).
    pub fixed_inputs: IndexMap<PortId, OutputLoc>,
    /// The names of the `input` nodes (a Python set, kept in file order).
    pub graph_inputs: Vec<PortId>,
    pub graph_output_idx: Option<NodeIndex>,
    /// Loop names to their node index (debug information).
    pub named_nodes: IndexMap<String, NodeIndex>,
    pub node_metadata: IndexMap<NodeIndex, NodeMetaData>,
}

impl GraphData {
    /// The function names its function nodes call, and those of the graphs
    /// held by its `const` nodes, depth first in node order, repeats kept:
    /// the one walk behind "which workers does this graph need" (the warm
    /// pre-start) and "which workers' code does a nested graph run" (the
    /// result cache's key).
    pub fn function_names(&self) -> Vec<&str> {
        fn walk<'g>(graph: &'g GraphData, found: &mut Vec<&'g str>) {
            for node in &graph.nodes {
                match &node.kind {
                    NodeKind::Function { function_name } => found.push(function_name),
                    NodeKind::Const {
                        value: ConstValue::Graph(nested),
                    } => walk(nested, found),
                    _ => {}
                }
            }
        }
        let mut found = Vec::new();
        walk(self, &mut found);
        found
    }

    /// One-line JSON (`json::to_string_compact`) of [`GraphData::to_value`]: the
    /// same JSON value as pydantic's `model_dump_json()`.
    pub fn to_json(&self) -> Vec<u8> {
        json::to_string_compact(&self.to_value()).into_bytes()
    }

    /// The JSON object with all six fields, in the reference's order.
    pub fn to_value(&self) -> Value {
        let mut m = IndexMap::new();
        let nodes = self.nodes.iter().map(NodeDef::to_value).collect();
        m.insert("nodes".to_owned(), Value::List(nodes));
        let fixed = self
            .fixed_inputs
            .iter()
            .map(|(k, source)| {
                let pair = vec![
                    Value::Str(source.node.as_str().to_owned()),
                    Value::Str(source.port.clone()),
                ];
                (k.clone(), Value::List(pair))
            })
            .collect();
        m.insert("fixed_inputs".into(), Value::Map(fixed));
        let inputs = self.graph_inputs.iter().cloned().map(Value::Str).collect();
        m.insert("graph_inputs".into(), Value::List(inputs));
        let out = self
            .graph_output_idx
            .map_or(Value::Null, |i| Value::Int(BigInt::from(i)));
        m.insert("graph_output_idx".into(), out);
        let named = self
            .named_nodes
            .iter()
            .map(|(k, i)| (k.clone(), Value::Int(BigInt::from(*i))))
            .collect();
        m.insert("named_nodes".into(), Value::Map(named));
        let meta = self
            .node_metadata
            .iter()
            .map(|(i, md)| {
                let mut mm = IndexMap::new();
                mm.insert("has_breakpoint".to_owned(), Value::Bool(md.has_breakpoint));
                mm.insert("is_hidden".to_owned(), Value::Bool(md.is_hidden));
                (i.to_string(), Value::Map(mm))
            })
            .collect();
        m.insert("node_metadata".into(), Value::Map(meta));
        Value::Map(m)
    }

    /// The names a caller may give inputs for: `graph_inputs`, plus the name
    /// of any top-level `input` node a hand-written graph left out of it, in
    /// that order, without `fixed_inputs`.
    pub fn accepted_input_names(&self) -> Vec<PortId> {
        let mut names: Vec<PortId> = Vec::new();
        let from_nodes = self.nodes.iter().filter_map(|n| match &n.kind {
            NodeKind::Input { name } => Some(name),
            _ => None,
        });
        for name in self.graph_inputs.iter().chain(from_nodes) {
            if !self.fixed_inputs.contains_key(name.as_str()) && !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// The graph inputs that neither `fixed_inputs` nor `provided` supply,
    /// in `graph_inputs` order. Providing a fixed input is an error, as in
    /// the reference; so is providing a port the graph has no input for
    /// (a typo would otherwise be ignored silently).
    pub fn remaining_inputs<I, S>(&self, provided: I) -> Result<Vec<PortId>, GraphError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let provided: Vec<S> = provided.into_iter().collect();
        let clash: Vec<PortId> = provided
            .iter()
            .filter(|p| self.fixed_inputs.contains_key(p.as_ref()))
            .map(|p| p.as_ref().to_owned())
            .collect();
        if !clash.is_empty() {
            return Err(GraphError::FixedInputProvided { ports: clash });
        }
        let accepted = self.accepted_input_names();
        let unknown: Vec<PortId> = provided
            .iter()
            .filter(|p| !accepted.iter().any(|a| a == p.as_ref()))
            .map(|p| p.as_ref().to_owned())
            .collect();
        if !unknown.is_empty() {
            return Err(GraphError::UnknownInputs { unknown, accepted });
        }
        Ok(self
            .graph_inputs
            .iter()
            .filter(|name| {
                !self.fixed_inputs.contains_key(name.as_str())
                    && !provided.iter().any(|p| p.as_ref() == name.as_str())
            })
            .cloned()
            .collect())
    }
}

/// Test JSON shared by the graph modules' tests.
#[cfg(test)]
pub(crate) mod test_json {
    use super::{GraphData, GraphError};
    use crate::json;
    use crate::value::Value;

    pub(crate) fn parse(s: &str) -> Value {
        json::parse(s.as_bytes()).expect("test JSON parses")
    }

    pub(crate) fn graph(s: &str) -> Result<GraphData, GraphError> {
        GraphData::from_value(&parse(s))
    }

    pub(crate) const OUTPUT: &str =
        r#"{"outputs":{},"inputs":{"value":[0,"value"]},"type":"output"}"#;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_json::{graph, parse};

    #[test]
    fn function_names_walks_nested_graphs_in_node_order() {
        // factorial: a function node at the top, and a nested graph (a
        // const) that calls igt, iadd and itimes.
        let bytes = include_bytes!("../../../../examples/graphs/factorial.json");
        let g = GraphData::from_json(bytes).expect("factorial decodes");
        let names = g.function_names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            vec!["builtins.iadd", "builtins.igt", "builtins.itimes"]
        );
        let outer = graph(&format!(
            r#"{{"nodes":[{{"type":"function","function_name":"w.first","inputs":{{}},"outputs":{{}}}},
                {{"type":"const","value":{},"inputs":{{}},"outputs":{{}}}},
                {{"type":"function","function_name":"w.last","inputs":{{}},"outputs":{{}}}}],
              "fixed_inputs":{{}},"graph_inputs":[],"graph_output_idx":null}}"#,
            std::str::from_utf8(bytes).expect("utf-8")
        ))
        .expect("outer decodes");
        let outer_names = outer.function_names();
        assert_eq!(outer_names.first(), Some(&"w.first"));
        assert_eq!(outer_names.last(), Some(&"w.last"));
        assert_eq!(outer_names.len(), 2 + names.len());
    }

    #[test]
    fn remaining_inputs_respects_fixed_and_provided() {
        let g = graph(
            r#"{"nodes":[],"fixed_inputs":{"b":["-.N3","value"]},"graph_inputs":["a","b","c"]}"#,
        )
        .expect("decodes");
        assert_eq!(g.fixed_inputs["b"].node.as_str(), "-.N3");
        assert_eq!(g.fixed_inputs["b"].port, "value");
        assert_eq!(
            g.to_value(),
            parse(
                r#"{"nodes":[],"fixed_inputs":{"b":["-.N3","value"]},"graph_inputs":["a","b","c"],
            "graph_output_idx":null,"named_nodes":{},"node_metadata":{}}"#
            )
        );
        assert_eq!(g.remaining_inputs(["c"]).expect("ok"), vec!["a"]);
        let err = g.remaining_inputs(["b"]).expect_err("clash");
        assert!(
            matches!(err, GraphError::FixedInputProvided { .. }),
            "{err}"
        );
        let err = g.remaining_inputs(["a", "cc"]).expect_err("typo");
        assert_eq!(
            err.to_string(),
            r#"the graph has no input port(s) "cc"; its inputs are: "a", "c""#
        );
    }
}
