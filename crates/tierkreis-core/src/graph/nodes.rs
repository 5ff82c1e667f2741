//! The nodes of a graph (`NodeDef`, `NodeKind`, `ValueRef`, `ConstValue`,
//! `NodeMetaData`) and how they are written back as the reference's JSON.

use indexmap::IndexMap;
use num_bigint::BigInt;

use super::{NodeIndex, PortId};
use crate::graph::GraphData;
use crate::json;
use crate::value::Value;

/// A reference to an output port of a node: JSON `[node_index, "port"]`.
///
/// Node `-1` means the inputs of the enclosing scope (the graph's own
/// inputs), e.g. `"graph": [-1, "body"]` is the graph's `body` input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueRef {
    pub node: i64,
    pub port: PortId,
}

impl ValueRef {
    /// The node index that stands for the enclosing scope's inputs.
    pub const SCOPE_INPUTS: i64 = -1;

    pub fn new(node: i64, port: impl Into<PortId>) -> Self {
        ValueRef {
            node,
            port: port.into(),
        }
    }

    /// Whether this refers to the enclosing scope's inputs (node `-1`).
    pub fn is_scope_input(&self) -> bool {
        self.node == Self::SCOPE_INPUTS
    }

    /// The referenced node as an index, `None` for a negative node.
    pub fn node_index(&self) -> Option<NodeIndex> {
        usize::try_from(self.node).ok()
    }

    /// The JSON form `[node, "port"]`.
    pub fn to_value(&self) -> Value {
        Value::List(vec![
            Value::Int(BigInt::from(self.node)),
            Value::Str(self.port.clone()),
        ])
    }
}

/// Per-node metadata (`NodeMetaData` in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeMetaData {
    pub has_breakpoint: bool,
    pub is_hidden: bool,
}

/// The value of a `const` node: a nested graph or any other value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstValue {
    Graph(Box<GraphData>),
    Value(Value),
}

impl ConstValue {
    /// The JSON value, exactly as it was read.
    pub fn to_value(&self) -> Value {
        match self {
            ConstValue::Graph(g) => g.to_value(),
            ConstValue::Value(v) => v.clone(),
        }
    }
}

/// What a node does, with the fields particular to its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `function`: a task run by a worker.
    Function { function_name: String },
    /// `eval`: run the graph found at `graph`.
    Eval { graph: ValueRef },
    /// `loop`: run `body` until its `continue_port` output is false.
    Loop {
        body: ValueRef,
        continue_port: PortId,
        name: Option<String>,
    },
    /// `map`: run `body` once per element of the `*` input.
    Map { body: ValueRef },
    /// `const`: a constant value or graph.
    Const { value: ConstValue },
    /// `ifelse`: lazily evaluate one branch.
    IfElse {
        pred: ValueRef,
        if_true: ValueRef,
        if_false: ValueRef,
    },
    /// `eifelse`: forward one of two already computed values.
    EagerIfElse {
        pred: ValueRef,
        if_true: ValueRef,
        if_false: ValueRef,
    },
    /// `input`: the graph input `name`.
    Input { name: String },
    /// `output`: the graph's outputs.
    Output,
}

/// One node: its kind, its input edges and the consumers of its outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDef {
    pub kind: NodeKind,
    pub inputs: IndexMap<PortId, ValueRef>,
    /// Out-port to the indices of the nodes that consume it.
    pub outputs: IndexMap<PortId, Vec<NodeIndex>>,
}

impl NodeDef {
    /// A node with no outputs recorded.
    pub fn new(kind: NodeKind, inputs: IndexMap<PortId, ValueRef>) -> Self {
        NodeDef {
            kind,
            inputs,
            outputs: IndexMap::new(),
        }
    }

    /// The JSON `type` of the node.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Function { .. } => "function",
            NodeKind::Eval { .. } => "eval",
            NodeKind::Loop { .. } => "loop",
            NodeKind::Map { .. } => "map",
            NodeKind::Const { .. } => "const",
            NodeKind::IfElse { .. } => "ifelse",
            NodeKind::EagerIfElse { .. } => "eifelse",
            NodeKind::Input { .. } => "input",
            NodeKind::Output => "output",
        }
    }

    /// The references held in the kind's own fields, named by JSON field.
    pub(super) fn kind_refs(&self) -> Vec<(&'static str, &ValueRef)> {
        match &self.kind {
            NodeKind::Eval { graph } => vec![("graph", graph)],
            NodeKind::Loop { body, .. } | NodeKind::Map { body } => vec![("body", body)],
            NodeKind::IfElse {
                pred,
                if_true,
                if_false,
            }
            | NodeKind::EagerIfElse {
                pred,
                if_true,
                if_false,
            } => vec![("pred", pred), ("if_true", if_true), ("if_false", if_false)],
            NodeKind::Function { .. }
            | NodeKind::Const { .. }
            | NodeKind::Input { .. }
            | NodeKind::Output => Vec::new(),
        }
    }

    /// The incoming edges, like the reference's `in_edges`: the `inputs`
    /// plus `body` (eval's `graph`, loop's and map's `body`) or `pred`,
    /// `if_true`, `if_false` (ifelse, eifelse). A special edge replaces an
    /// input of the same name in place, as a Python dict update does.
    pub fn in_edges(&self) -> impl Iterator<Item = (&str, &ValueRef)> + '_ {
        let special: Vec<(&'static str, &ValueRef)> = self
            .kind_refs()
            .into_iter()
            .map(|(field, r)| (if field == "graph" { "body" } else { field }, r))
            .collect();
        let mut edges: Vec<(&str, &ValueRef)> = self
            .inputs
            .iter()
            .map(|(k, v)| {
                let replaced = special.iter().find(|(name, _)| *name == k.as_str());
                (k.as_str(), replaced.map_or(v, |(_, r)| *r))
            })
            .collect();
        for (name, r) in &special {
            if !self.inputs.contains_key(*name) {
                edges.push((name, r));
            }
        }
        edges.into_iter()
    }

    /// The JSON object, keys in the reference's order (`outputs`, the kind's
    /// fields, `inputs`, `type`, and a loop's `name` last).
    pub fn to_value(&self) -> Value {
        let mut m = IndexMap::new();
        let outputs = self
            .outputs
            .iter()
            .map(|(port, idxs)| {
                let list = idxs.iter().map(|i| Value::Int(BigInt::from(*i))).collect();
                (port.clone(), Value::List(list))
            })
            .collect();
        m.insert("outputs".to_owned(), Value::Map(outputs));
        match &self.kind {
            NodeKind::Function { function_name } => {
                m.insert("function_name".into(), Value::Str(function_name.clone()));
            }
            NodeKind::Eval { graph } => {
                m.insert("graph".into(), graph.to_value());
            }
            NodeKind::Loop { body, .. } | NodeKind::Map { body } => {
                m.insert("body".into(), body.to_value());
            }
            NodeKind::Const { value } => {
                m.insert("value".into(), value.to_value());
            }
            NodeKind::IfElse {
                pred,
                if_true,
                if_false,
            }
            | NodeKind::EagerIfElse {
                pred,
                if_true,
                if_false,
            } => {
                m.insert("pred".into(), pred.to_value());
                m.insert("if_true".into(), if_true.to_value());
                m.insert("if_false".into(), if_false.to_value());
            }
            NodeKind::Input { name } => {
                m.insert("name".into(), Value::Str(name.clone()));
            }
            NodeKind::Output => {}
        }
        let inputs = self
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_value()))
            .collect();
        m.insert("inputs".into(), Value::Map(inputs));
        if let NodeKind::Loop { continue_port, .. } = &self.kind {
            m.insert("continue_port".into(), Value::Str(continue_port.clone()));
        }
        m.insert("type".into(), Value::Str(self.type_name().to_owned()));
        if let NodeKind::Loop { name, .. } = &self.kind {
            let name = name.as_ref().map_or(Value::Null, |n| Value::Str(n.clone()));
            m.insert("name".into(), name);
        }
        Value::Map(m)
    }

    /// One-line JSON (`json::to_string_compact`) of the same value as the
    /// reference's `NodeDefModel(root=node).model_dump_json()`, with the same
    /// key order; whitespace and `\uXXXX` escaping differ from pydantic's.
    pub fn to_json(&self) -> Vec<u8> {
        json::to_string_compact(&self.to_value()).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_json::parse;

    #[test]
    fn nodedef_json_matches_reference_pydantic_output() {
        // Produced by the reference:
        // NodeDefModel(root=Loop((1,'body'),{'a':(0,'value')},'c',name='x')).model_dump_json()
        let reference = r#"{"outputs":{},"body":[1,"body"],"inputs":{"a":[0,"value"]},"continue_port":"c","type":"loop","name":"x"}"#;
        let node = NodeDef::from_json(reference.as_bytes()).expect("decodes");
        assert_eq!(
            node.kind,
            NodeKind::Loop {
                body: ValueRef::new(1, "body"),
                continue_port: "c".into(),
                name: Some("x".into())
            }
        );
        assert_eq!(node.to_value(), parse(reference));
        let again = NodeDef::from_json(&node.to_json()).expect("reads back");
        assert_eq!(again, node);

        // NodeDefModel(root=Func('f',{'a':(0,'value')})).model_dump_json()
        let reference =
            r#"{"outputs":{},"function_name":"f","inputs":{"a":[0,"value"]},"type":"function"}"#;
        let node = NodeDef::from_json(reference.as_bytes()).expect("decodes");
        assert_eq!(node.to_value(), parse(reference));

        // Reference outputs for ifelse, input and output nodes.
        for reference in [
            r#"{"outputs":{},"pred":[1,"a"],"if_true":[2,"b"],"if_false":[3,"c"],"inputs":{},"type":"eifelse"}"#,
            r#"{"outputs":{},"name":"a","inputs":{},"type":"input"}"#,
            r#"{"outputs":{},"inputs":{},"type":"output"}"#,
            r#"{"outputs":{},"graph":[1,"a"],"inputs":{},"type":"eval"}"#,
            r#"{"outputs":{},"body":[1,"a"],"inputs":{},"type":"map"}"#,
        ] {
            let node = NodeDef::from_json(reference.as_bytes()).expect("decodes");
            assert_eq!(node.to_value(), parse(reference));
        }
    }

    #[test]
    fn nodedef_with_const_graph_round_trips() {
        // NodeDefModel(root=Const(g)).model_dump_json() for a one-input graph.
        let reference = r#"{"outputs":{},"value":{"nodes":[{"outputs":{"a":[1]},"name":"a","inputs":{},"type":"input"},{"outputs":{},"inputs":{"o":[0,"a"]},"type":"output"}],"fixed_inputs":{},"graph_inputs":["a"],"graph_output_idx":1,"named_nodes":{},"node_metadata":{}},"inputs":{},"type":"const"}"#;
        let node = NodeDef::from_json(reference.as_bytes()).expect("decodes");
        let NodeKind::Const {
            value: ConstValue::Graph(g),
        } = &node.kind
        else {
            panic!("const graph expected, got {:?}", node.kind)
        };
        g.validate().expect("valid");
        assert_eq!(
            g.remaining_inputs(Vec::<String>::new()).expect("ok"),
            vec!["a"]
        );
        assert_eq!(node.to_value(), parse(reference));
    }

    #[test]
    fn in_edges_for_ifelse_and_input_override() {
        let node = NodeDef::from_value(&parse(
            r#"{"pred":[1,"a"],"if_true":[2,"b"],"if_false":[3,"c"],"inputs":{"pred":[9,"z"],"x":[4,"d"]},"type":"ifelse"}"#,
        ))
        .expect("decodes");
        let edges: Vec<_> = node.in_edges().map(|(k, r)| (k, r.node)).collect();
        assert_eq!(
            edges,
            vec![("pred", 1), ("x", 4), ("if_true", 2), ("if_false", 3)]
        );
        assert_eq!(node.type_name(), "ifelse");
    }
}
