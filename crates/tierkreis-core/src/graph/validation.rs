//! Structure checks of a decoded graph: references in range, exactly one
//! output node, no cycle; errors name the node and field.

use super::error::{field, index};
use super::{ConstValue, GraphData, GraphError, NodeDef, NodeIndex, NodeKind, ValueRef};

impl GraphData {
    /// Check the structure, recursing into graphs held by `const` nodes:
    /// every reference is `-1` or a node index in range, every `outputs`
    /// consumer is in range, there is exactly one `output` node and
    /// `graph_output_idx` points at it, `named_nodes` and `node_metadata`
    /// indices are in range, and a loop's `continue_port` is not empty.
    pub fn validate(&self) -> Result<(), GraphError> {
        self.validate_at("")
    }

    fn validate_at(&self, at: &str) -> Result<(), GraphError> {
        let len = self.nodes.len();
        let nodes_at = field(at, "nodes");
        let mut output_nodes = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let node_at = index(&nodes_at, i);
            let refs = node
                .inputs
                .iter()
                .map(|(port, r)| (format!("inputs.{port}"), r))
                .chain(
                    node.kind_refs()
                        .into_iter()
                        .map(|(name, r)| (name.to_owned(), r)),
                );
            for (port_field, r) in refs {
                let in_range = r.is_scope_input() || r.node_index().is_some_and(|t| t < len);
                if !in_range {
                    return Err(GraphError::DanglingRef {
                        at: field(&node_at, &port_field),
                        node: i,
                        port_field,
                        target: r.node,
                        len,
                    });
                }
            }
            for (port, consumers) in &node.outputs {
                if let Some(&target) = consumers.iter().find(|&&c| c >= len) {
                    return Err(GraphError::DanglingOutput {
                        at: field(&field(&node_at, "outputs"), port),
                        node: i,
                        port: port.clone(),
                        target,
                        len,
                    });
                }
            }
            match &node.kind {
                NodeKind::Loop { continue_port, .. } if continue_port.is_empty() => {
                    return Err(GraphError::EmptyContinuePort {
                        at: field(&node_at, "continue_port"),
                        node: i,
                    });
                }
                NodeKind::Const {
                    value: ConstValue::Graph(g),
                } => g.validate_at(&field(&node_at, "value"))?,
                NodeKind::Output => output_nodes.push(i),
                _ => {}
            }
        }
        match output_nodes.as_slice() {
            [] => return Err(GraphError::MissingOutputNode { at: at.to_owned() }),
            [_] => {}
            [first, second, ..] => {
                return Err(GraphError::DuplicateOutputNode {
                    at: nodes_at,
                    first: *first,
                    second: *second,
                })
            }
        }
        self.output_node_at(at)?;
        for (name, &idx) in &self.named_nodes {
            if idx >= len {
                return Err(GraphError::IndexOutOfRange {
                    at: field(&field(at, "named_nodes"), name),
                    index: idx,
                    len,
                });
            }
        }
        for &idx in self.node_metadata.keys() {
            if idx >= len {
                return Err(GraphError::IndexOutOfRange {
                    at: field(&field(at, "node_metadata"), &idx.to_string()),
                    index: idx,
                    len,
                });
            }
        }
        if let Some(cycle) = self.find_cycle() {
            return Err(GraphError::Cycle {
                at: nodes_at,
                described: self.describe_cycle(&cycle),
                nodes: cycle,
            });
        }
        Ok(())
    }

    /// A cycle of nodes each of which reads (through `inputs` or the kind's
    /// own references) the next one's output, if there is one: such nodes
    /// wait for each other forever. Returned as the nodes in reading order,
    /// from the cycle's lowest index; references must already be in range.
    pub fn find_cycle(&self) -> Option<Vec<NodeIndex>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Visit {
            Unseen,
            OnPath,
            Finished,
        }
        let len = self.nodes.len();
        let dependencies: Vec<Vec<NodeIndex>> = self
            .nodes
            .iter()
            .map(|node| {
                node.inputs
                    .values()
                    .chain(node.kind_refs().into_iter().map(|(_, r)| r))
                    .filter_map(ValueRef::node_index)
                    .filter(|&d| d < len)
                    .collect()
            })
            .collect();
        let mut visit = vec![Visit::Unseen; len];
        for start in 0..len {
            if visit[start] != Visit::Unseen {
                continue;
            }
            // Iterative depth-first search: the path and, for each node on
            // it, how many of its dependencies were already followed.
            let mut path: Vec<(NodeIndex, usize)> = vec![(start, 0)];
            visit[start] = Visit::OnPath;
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                if let Some(&dep) = dependencies[node].get(*next) {
                    *next += 1;
                    match visit[dep] {
                        Visit::Unseen => {
                            visit[dep] = Visit::OnPath;
                            path.push((dep, 0));
                        }
                        Visit::OnPath => {
                            let from = path.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                            let mut cycle: Vec<NodeIndex> =
                                path[from..].iter().map(|&(n, _)| n).collect();
                            let lowest = cycle
                                .iter()
                                .enumerate()
                                .min_by_key(|&(_, n)| *n)
                                .map_or(0, |(i, _)| i);
                            cycle.rotate_left(lowest);
                            return Some(cycle);
                        }
                        Visit::Finished => {}
                    }
                } else {
                    visit[node] = Visit::Finished;
                    path.pop();
                }
            }
        }
        None
    }

    /// `node 2 (function builtins.iadd) reads node 3 (eval), which reads node 2`.
    fn describe_cycle(&self, cycle: &[NodeIndex]) -> String {
        let name = |i: NodeIndex| match self.nodes.get(i) {
            Some(NodeDef {
                kind: NodeKind::Function { function_name },
                ..
            }) => format!("node {i} (function {function_name})"),
            Some(NodeDef {
                kind:
                    NodeKind::Loop {
                        name: Some(loop_name),
                        ..
                    },
                ..
            }) => format!("node {i} (loop {loop_name:?})"),
            Some(node) => format!("node {i} ({})", node.type_name()),
            None => format!("node {i}"),
        };
        let mut text = name(cycle[0]);
        for (k, &i) in cycle.iter().enumerate().skip(1) {
            text.push_str(if k == 1 { " reads " } else { ", which reads " });
            text.push_str(&name(i));
        }
        let back = if cycle.len() == 1 {
            " reads "
        } else {
            ", which reads "
        };
        text.push_str(back);
        text.push_str(&format!("node {}", cycle[0]));
        if cycle.len() == 1 {
            text.push_str(" (itself)");
        }
        text
    }

    /// The output node, found through `graph_output_idx` (the reference's
    /// `output_idx`).
    pub fn output_node(&self) -> Result<(NodeIndex, &NodeDef), GraphError> {
        self.output_node_at("")
    }

    fn output_node_at(&self, at: &str) -> Result<(NodeIndex, &NodeDef), GraphError> {
        let idx_at = field(at, "graph_output_idx");
        let Some(idx) = self.graph_output_idx else {
            return Err(GraphError::OutputIdxUnset { at: idx_at });
        };
        let Some(node) = self.nodes.get(idx) else {
            return Err(GraphError::IndexOutOfRange {
                at: idx_at,
                index: idx,
                len: self.nodes.len(),
            });
        };
        if node.kind != NodeKind::Output {
            return Err(GraphError::OutputIdxNotOutput {
                at: idx_at,
                idx,
                found_type: node.type_name(),
            });
        }
        Ok((idx, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_json::{graph, OUTPUT};
    use crate::graph::NodeMetaData;

    #[test]
    fn dangling_ref_names_node_and_field() {
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{}},"value":5,"type":"const"}},
            {{"outputs":{{}},"function_name":"f","inputs":{{"a":[7,"value"]}},"type":"function"}},
            {OUTPUT}],"graph_output_idx":2}}"#
        ))
        .expect("decodes");
        let err = g.validate().expect_err("dangling");
        assert!(matches!(
            &err,
            GraphError::DanglingRef { node: 1, target: 7, len: 3, port_field, .. } if port_field == "inputs.a"
        ));
        let msg = err.to_string();
        assert!(msg.contains("nodes[1].inputs.a"), "{msg}");
        assert!(msg.contains("node 1"), "{msg}");
        assert!(msg.contains("node 7"), "{msg}");
    }

    #[test]
    fn dangling_ref_in_nested_graph_has_full_path() {
        let inner = format!(
            r#"{{"nodes":[{{"outputs":{{}},"pred":[0,"a"],"if_true":[-2,"b"],"if_false":[0,"c"],"type":"ifelse"}},{OUTPUT}],
            "graph_output_idx":1}}"#
        );
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{}},"value":{inner},"type":"const"}},
            {{"outputs":{{}},"inputs":{{}},"type":"output"}}],"graph_output_idx":1}}"#
        ))
        .expect("decodes");
        assert!(matches!(
            &g.nodes[0].kind,
            NodeKind::Const {
                value: ConstValue::Graph(_)
            }
        ));
        let msg = g.validate().expect_err("dangling").to_string();
        assert!(msg.contains("nodes[0].value.nodes[0].if_true"), "{msg}");
        assert!(msg.contains("node -2"), "{msg}");
    }

    #[test]
    fn dangling_output_consumer() {
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{"value":[1,9]}},"value":5,"type":"const"}},{OUTPUT}],"graph_output_idx":1}}"#
        ))
        .expect("decodes");
        let msg = g.validate().expect_err("dangling").to_string();
        assert!(msg.contains("nodes[0].outputs.value"), "{msg}");
        assert!(msg.contains("node 9"), "{msg}");
    }

    #[test]
    fn missing_output_node() {
        let g =
            graph(r#"{"nodes":[{"outputs":{},"value":5,"type":"const"}],"graph_output_idx":null}"#)
                .expect("decodes");
        let err = g.validate().expect_err("no output");
        assert!(matches!(err, GraphError::MissingOutputNode { .. }), "{err}");
        assert!(err.to_string().contains("no output node"));
        let err = g.output_node().expect_err("unset");
        assert!(matches!(err, GraphError::OutputIdxUnset { .. }), "{err}");
    }

    #[test]
    fn duplicate_output_node() {
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{}},"value":5,"type":"const"}},{OUTPUT},{OUTPUT}],"graph_output_idx":1}}"#
        ))
        .expect("decodes");
        let err = g.validate().expect_err("two outputs");
        assert!(
            matches!(
                err,
                GraphError::DuplicateOutputNode {
                    first: 1,
                    second: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("nodes 1 and 2"));
    }

    #[test]
    fn output_idx_pointing_elsewhere() {
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{}},"value":5,"type":"const"}},{OUTPUT}],"graph_output_idx":0}}"#
        ))
        .expect("decodes");
        let err = g.validate().expect_err("wrong idx");
        assert!(
            matches!(
                err,
                GraphError::OutputIdxNotOutput {
                    idx: 0,
                    found_type: "const",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("graph_output_idx"));
    }

    #[test]
    fn empty_continue_port_is_invalid() {
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{}},"body":[-1,"b"],"inputs":{{}},"continue_port":"","type":"loop"}},{OUTPUT}],"graph_output_idx":1}}"#
        ))
        .expect("decodes");
        let err = g.validate().expect_err("empty port");
        assert!(
            matches!(err, GraphError::EmptyContinuePort { node: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn metadata_and_named_nodes_indices_checked() {
        let g = graph(&format!(
            r#"{{"nodes":[{OUTPUT}],"graph_output_idx":0,"node_metadata":{{"4":{{"is_hidden":true}}}}}}"#
        ))
        .expect("decodes");
        assert_eq!(
            g.node_metadata[&4],
            NodeMetaData {
                has_breakpoint: false,
                is_hidden: true
            }
        );
        let msg = g.validate().expect_err("out of range").to_string();
        assert!(msg.contains("node_metadata.4"), "{msg}");

        let g = graph(&format!(
            r#"{{"nodes":[{OUTPUT}],"graph_output_idx":0,"named_nodes":{{"l":3}}}}"#
        ))
        .expect("decodes");
        let msg = g.validate().expect_err("out of range").to_string();
        assert!(msg.contains("named_nodes.l"), "{msg}");

        let err = graph(r#"{"node_metadata":{"x":{}}}"#).expect_err("bad key");
        assert!(matches!(err, GraphError::BadIndex { .. }), "{err}");
    }

    #[test]
    fn a_cycle_is_rejected_naming_its_nodes() {
        // N1 = iadd(N0, N2), N2 = iadd(N1, N0): each waits for the other.
        let g = graph(
            r#"{"nodes":[
              {"type":"const","value":1,"inputs":{},"outputs":{"value":[1,2]}},
              {"type":"function","function_name":"builtins.iadd","inputs":{"a":[0,"value"],"b":[2,"value"]},"outputs":{"value":[2,3]}},
              {"type":"function","function_name":"builtins.iadd","inputs":{"a":[1,"value"],"b":[0,"value"]},"outputs":{"value":[1]}},
              {"type":"output","inputs":{"value":[1,"value"]},"outputs":{}}
            ],"graph_output_idx":3}"#,
        )
        .expect("decodes");
        let err = g.validate().expect_err("cycle");
        assert!(
            matches!(&err, GraphError::Cycle { nodes, .. } if nodes == &vec![1, 2]),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "at nodes: the graph has a cycle, so these nodes would wait for each other forever: \
             node 1 (function builtins.iadd) reads node 2 (function builtins.iadd), which reads node 1"
        );
    }

    #[test]
    fn a_cycle_in_a_nested_body_or_through_a_kind_reference_is_rejected() {
        // The body's ifelse N1 takes its predicate from itself.
        let body = r#"{"nodes":[
              {"type":"input","name":"x","inputs":{},"outputs":{"x":[1,2]}},
              {"type":"ifelse","pred":[1,"value"],"if_true":[0,"x"],"if_false":[0,"x"],"inputs":{},"outputs":{"value":[1,2]}},
              {"type":"output","inputs":{"value":[1,"value"]},"outputs":{}}
            ],"graph_inputs":["x"],"graph_output_idx":2}"#;
        let g = graph(&format!(
            r#"{{"nodes":[
              {{"type":"const","value":{body},"inputs":{{}},"outputs":{{"value":[2]}}}},
              {{"type":"const","value":1,"inputs":{{}},"outputs":{{"value":[2]}}}},
              {{"type":"eval","graph":[0,"value"],"inputs":{{"x":[1,"value"]}},"outputs":{{"value":[3]}}}},
              {{"type":"output","inputs":{{"value":[2,"value"]}},"outputs":{{}}}}
            ],"graph_output_idx":3}}"#
        ))
        .expect("decodes");
        let err = g.validate().expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "at nodes[0].value.nodes: the graph has a cycle, so these nodes would wait for each other forever: \
             node 1 (ifelse) reads node 1 (itself)"
        );
    }
}
