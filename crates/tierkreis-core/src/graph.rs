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

use indexmap::IndexMap;
use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::json::{self, JsonError};
use crate::loc::{Loc, LocError};
use crate::value::Value;

/// Index of a node in [`GraphData::nodes`].
pub type NodeIndex = usize;
/// Name of an input or output port.
pub type PortId = String;
/// One output port of the node at an absolute location: where a value is
/// read from (a graph's fixed input, the source of a node's input).
///
/// In graph JSON (`fixed_inputs`) it is the pair `["-.N3", "value"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputLoc {
    /// The location of the node that writes the value.
    pub node: Loc,
    /// The output port of that node.
    pub port: PortId,
}

impl OutputLoc {
    pub fn new(node: Loc, port: impl Into<PortId>) -> Self {
        OutputLoc {
            node,
            port: port.into(),
        }
    }
}

/// One input of a node or scope: the input port it fills, and the output it
/// reads that value from. The controller links or reads each one; a task's
/// call args turn each into a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputLink {
    /// The input port of the node (or scope) being fed.
    pub input_port: PortId,
    /// Where its value comes from.
    pub source: OutputLoc,
}

impl InputLink {
    pub fn new(input_port: impl Into<PortId>, source: OutputLoc) -> Self {
        InputLink {
            input_port: input_port.into(),
            source,
        }
    }

    /// `port` fed from the output of the same name of `node` (a value passed
    /// on under its own name, e.g. a loop's inputs into its first iteration).
    pub fn same_port(port: impl Into<PortId>, node: Loc) -> Self {
        let port = port.into();
        InputLink {
            input_port: port.clone(),
            source: OutputLoc { node, port },
        }
    }
}

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

    fn from_value(v: &Value, at: &str) -> Result<ValueRef, GraphError> {
        let items = match v {
            Value::List(items) if items.len() == 2 => items,
            Value::List(_) => {
                return Err(wrong_type(
                    at,
                    "[node, port] pair",
                    "list of another length",
                ))
            }
            other => return Err(wrong_type(at, "[node, port] pair", type_name(other))),
        };
        let node_at = index(at, 0);
        let node = match &items[0] {
            Value::Int(i) => i.to_i64().ok_or_else(|| GraphError::BadIndex {
                at: node_at.clone(),
                found: i.to_string(),
            })?,
            other => return Err(wrong_type(&node_at, "integer", type_name(other))),
        };
        let port = as_str(&items[1], &index(at, 1))?.to_owned();
        Ok(ValueRef { node, port })
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

    fn from_value(v: &Value, at: &str) -> Result<ConstValue, GraphError> {
        match v {
            Value::Map(m)
                if matches!(m.get("nodes"), Some(Value::List(_)))
                    && m.contains_key("graph_output_idx") =>
            {
                Ok(ConstValue::Graph(Box::new(GraphData::from_value_at(
                    v, at,
                )?)))
            }
            other => Ok(ConstValue::Value(other.clone())),
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
    fn kind_refs(&self) -> Vec<(&'static str, &ValueRef)> {
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

    /// Decode a node from its JSON object (a `nodedef` file's content).
    pub fn from_value(v: &Value) -> Result<NodeDef, GraphError> {
        Self::from_value_at(v, "")
    }

    /// One-line JSON (`json::to_string_compact`) of the same value as the
    /// reference's `NodeDefModel(root=node).model_dump_json()`, with the same
    /// key order; whitespace and `\uXXXX` escaping differ from pydantic's.
    pub fn to_json(&self) -> Vec<u8> {
        json::to_string_compact(&self.to_value()).into_bytes()
    }

    /// Read a `nodedef` file's bytes.
    pub fn from_json(bytes: &[u8]) -> Result<NodeDef, GraphError> {
        let v = json::parse(bytes)?;
        Self::from_value(&v)
    }

    fn from_value_at(v: &Value, at: &str) -> Result<NodeDef, GraphError> {
        let m = as_map(v, at)?;
        let type_at = field(at, "type");
        let ty = as_str(required(m, at, "type")?, &type_at)?;
        if !NODE_TYPES.contains(&ty) {
            return Err(GraphError::UnknownNodeType {
                at: type_at,
                found: ty.to_owned(),
            });
        }
        // Fields with a default in the reference's dataclasses are optional.
        let inputs_optional = matches!(ty, "const" | "ifelse" | "eifelse" | "input");
        let inputs = match m.get("inputs") {
            None if inputs_optional => IndexMap::new(),
            None => {
                return Err(GraphError::MissingField {
                    at: at.to_owned(),
                    field: "inputs",
                })
            }
            Some(iv) => {
                let inputs_at = field(at, "inputs");
                let mut inputs = IndexMap::new();
                for (port, r) in as_map(iv, &inputs_at)? {
                    let r = ValueRef::from_value(r, &field(&inputs_at, port))?;
                    inputs.insert(port.clone(), r);
                }
                inputs
            }
        };
        let outputs = match m.get("outputs") {
            None => IndexMap::new(),
            Some(ov) => decode_outputs(ov, &field(at, "outputs"))?,
        };
        let get_ref = |name: &'static str| -> Result<ValueRef, GraphError> {
            ValueRef::from_value(required(m, at, name)?, &field(at, name))
        };
        let get_str = |name: &'static str| -> Result<String, GraphError> {
            Ok(as_str(required(m, at, name)?, &field(at, name))?.to_owned())
        };
        let kind = match ty {
            "function" => NodeKind::Function {
                function_name: get_str("function_name")?,
            },
            "eval" => NodeKind::Eval {
                graph: get_ref("graph")?,
            },
            "loop" => {
                let name = match m.get("name") {
                    None | Some(Value::Null) => None,
                    Some(n) => Some(as_str(n, &field(at, "name"))?.to_owned()),
                };
                NodeKind::Loop {
                    body: get_ref("body")?,
                    continue_port: get_str("continue_port")?,
                    name,
                }
            }
            "map" => NodeKind::Map {
                body: get_ref("body")?,
            },
            "const" => NodeKind::Const {
                value: ConstValue::from_value(required(m, at, "value")?, &field(at, "value"))?,
            },
            "ifelse" => NodeKind::IfElse {
                pred: get_ref("pred")?,
                if_true: get_ref("if_true")?,
                if_false: get_ref("if_false")?,
            },
            "eifelse" => NodeKind::EagerIfElse {
                pred: get_ref("pred")?,
                if_true: get_ref("if_true")?,
                if_false: get_ref("if_false")?,
            },
            "input" => NodeKind::Input {
                name: get_str("name")?,
            },
            "output" => NodeKind::Output,
            other => {
                return Err(GraphError::UnknownNodeType {
                    at: type_at,
                    found: other.to_owned(),
                })
            }
        };
        Ok(NodeDef {
            kind,
            inputs,
            outputs,
        })
    }
}

/// The JSON `type` of every node kind.
const NODE_TYPES: [&str; 9] = [
    "function", "eval", "loop", "map", "const", "ifelse", "eifelse", "input", "output",
];

/// `outputs`: port -> list of consumer indices, or the older port -> single
/// index (normalised to a one-element list).
fn decode_outputs(v: &Value, at: &str) -> Result<IndexMap<PortId, Vec<NodeIndex>>, GraphError> {
    let mut out = IndexMap::new();
    for (port, idxs) in as_map(v, at)? {
        let port_at = field(at, port);
        let list = match idxs {
            Value::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| as_index(item, &index(&port_at, i)))
                .collect::<Result<Vec<_>, _>>()?,
            Value::Int(_) => vec![as_index(idxs, &port_at)?],
            other => {
                return Err(wrong_type(
                    &port_at,
                    "list of node indices",
                    type_name(other),
                ))
            }
        };
        out.insert(port.clone(), list);
    }
    Ok(out)
}

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
    /// Parse `graph.json` bytes (types only; call [`GraphData::validate`] too).
    pub fn from_json(bytes: &[u8]) -> Result<GraphData, GraphError> {
        let v = json::parse(bytes)?;
        Self::from_value(&v)
    }

    /// One-line JSON (`json::to_string_compact`) of [`GraphData::to_value`]: the
    /// same JSON value as pydantic's `model_dump_json()`.
    pub fn to_json(&self) -> Vec<u8> {
        json::to_string_compact(&self.to_value()).into_bytes()
    }

    /// Decode from a JSON value. Every field is optional, as in the reference.
    pub fn from_value(v: &Value) -> Result<GraphData, GraphError> {
        Self::from_value_at(v, "")
    }

    fn from_value_at(v: &Value, at: &str) -> Result<GraphData, GraphError> {
        let m = as_map(v, at)?;
        let mut g = GraphData::default();
        if let Some(nv) = m.get("nodes") {
            let nodes_at = field(at, "nodes");
            for (i, n) in as_list(nv, &nodes_at)?.iter().enumerate() {
                g.nodes
                    .push(NodeDef::from_value_at(n, &index(&nodes_at, i))?);
            }
        }
        if let Some(fv) = m.get("fixed_inputs") {
            let fixed_at = field(at, "fixed_inputs");
            for (port, loc) in as_map(fv, &fixed_at)? {
                let loc_at = field(&fixed_at, port);
                let pair = match loc {
                    Value::List(items) if items.len() == 2 => items,
                    other => return Err(wrong_type(&loc_at, "[loc, port] pair", type_name(other))),
                };
                let l_at = index(&loc_at, 0);
                let l_str = as_str(&pair[0], &l_at)?;
                let l = Loc::parse(l_str).map_err(|source| GraphError::BadLoc {
                    at: l_at,
                    found: l_str.to_owned(),
                    source,
                })?;
                let p = as_str(&pair[1], &index(&loc_at, 1))?.to_owned();
                g.fixed_inputs.insert(port.clone(), OutputLoc::new(l, p));
            }
        }
        if let Some(iv) = m.get("graph_inputs") {
            let inputs_at = field(at, "graph_inputs");
            for (i, name) in as_list(iv, &inputs_at)?.iter().enumerate() {
                let name = as_str(name, &index(&inputs_at, i))?;
                if !g.graph_inputs.iter().any(|n| n == name) {
                    g.graph_inputs.push(name.to_owned());
                }
            }
        }
        match m.get("graph_output_idx") {
            None | Some(Value::Null) => {}
            Some(idx) => g.graph_output_idx = Some(as_index(idx, &field(at, "graph_output_idx"))?),
        }
        if let Some(nv) = m.get("named_nodes") {
            let named_at = field(at, "named_nodes");
            for (name, idx) in as_map(nv, &named_at)? {
                g.named_nodes
                    .insert(name.clone(), as_index(idx, &field(&named_at, name))?);
            }
        }
        if let Some(mv) = m.get("node_metadata") {
            let meta_at = field(at, "node_metadata");
            for (key, md) in as_map(mv, &meta_at)? {
                let md_at = field(&meta_at, key);
                let idx: NodeIndex = key.parse().map_err(|_| GraphError::BadIndex {
                    at: md_at.clone(),
                    found: format!("{key:?}"),
                })?;
                let mm = as_map(md, &md_at)?;
                let flag = |name: &'static str| -> Result<bool, GraphError> {
                    match mm.get(name) {
                        None => Ok(false),
                        Some(Value::Bool(b)) => Ok(*b),
                        Some(other) => Err(wrong_type(
                            &field(&md_at, name),
                            "boolean",
                            type_name(other),
                        )),
                    }
                };
                let meta = NodeMetaData {
                    has_breakpoint: flag("has_breakpoint")?,
                    is_hidden: flag("is_hidden")?,
                };
                g.node_metadata.insert(idx, meta);
            }
        }
        Ok(g)
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

/// What is wrong with a graph or node, and where. `at` is a path like
/// `nodes[3].value.nodes[2].inputs.a` (`<root>` for the top level).
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("graph is not valid JSON: {0}")]
    Json(#[from] JsonError),
    #[error("at {}: expected {expected}, found {found}", at_or_root(.at))]
    WrongType {
        at: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("at {}: missing field `{field}`", at_or_root(.at))]
    MissingField { at: String, field: &'static str },
    #[error("at {}: unknown node type {found:?}", at_or_root(.at))]
    UnknownNodeType { at: String, found: String },
    #[error("at {}: {found} is not a valid node index", at_or_root(.at))]
    BadIndex { at: String, found: String },
    #[error(
        "at {}: node {node} field `{port_field}` refers to node {target}, but the graph has {len} nodes",
        at_or_root(.at)
    )]
    DanglingRef {
        at: String,
        node: NodeIndex,
        port_field: String,
        target: i64,
        len: usize,
    },
    #[error(
        "at {}: node {node} output `{port}` lists consumer node {target}, but the graph has {len} nodes",
        at_or_root(.at)
    )]
    DanglingOutput {
        at: String,
        node: NodeIndex,
        port: PortId,
        target: NodeIndex,
        len: usize,
    },
    #[error("at {}: the graph has no output node", at_or_root(.at))]
    MissingOutputNode { at: String },
    #[error(
        "at {}: the graph has more than one output node (nodes {first} and {second})",
        at_or_root(.at)
    )]
    DuplicateOutputNode {
        at: String,
        first: NodeIndex,
        second: NodeIndex,
    },
    #[error("at {}: graph_output_idx is not set", at_or_root(.at))]
    OutputIdxUnset { at: String },
    #[error(
        "at {}: graph_output_idx is {idx} but node {idx} is a {found_type} node, not output",
        at_or_root(.at)
    )]
    OutputIdxNotOutput {
        at: String,
        idx: NodeIndex,
        found_type: &'static str,
    },
    #[error(
        "at {}: node index {index} is out of range (the graph has {len} nodes)",
        at_or_root(.at)
    )]
    IndexOutOfRange {
        at: String,
        index: NodeIndex,
        len: usize,
    },
    #[error("at {}: loop node {node} has an empty continue_port", at_or_root(.at))]
    EmptyContinuePort { at: String, node: NodeIndex },
    #[error("at {}: {source}", at_or_root(.at))]
    BadLoc {
        at: String,
        found: String,
        #[source]
        source: LocError,
    },
    #[error(
        "at {}: the graph has a cycle, so these nodes would wait for each other forever: {described}",
        at_or_root(.at)
    )]
    Cycle {
        at: String,
        nodes: Vec<NodeIndex>,
        described: String,
    },
    #[error("fixed inputs {ports:?} must not also be provided")]
    FixedInputProvided { ports: Vec<PortId> },
    #[error(
        "the graph has no input port(s) {}; its inputs are: {}",
        quoted_list(.unknown),
        if .accepted.is_empty() { "(none)".to_owned() } else { quoted_list(.accepted) }
    )]
    UnknownInputs {
        unknown: Vec<PortId>,
        accepted: Vec<PortId>,
    },
}

/// `"a", "b"`: names quoted so an empty or odd name is visible.
fn quoted_list(names: &[PortId]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn at_or_root(at: &str) -> &str {
    if at.is_empty() {
        "<root>"
    } else {
        at
    }
}

fn field(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn index(at: &str, i: usize) -> String {
    format!("{at}[{i}]")
}

fn wrong_type(at: &str, expected: &'static str, found: &'static str) -> GraphError {
    GraphError::WrongType {
        at: at.to_owned(),
        expected,
        found,
    }
}

/// The JSON name of a value's type, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(_) => "float",
        Value::Str(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "list",
        Value::Map(_) => "object",
    }
}

fn required<'a>(
    m: &'a IndexMap<String, Value>,
    at: &str,
    name: &'static str,
) -> Result<&'a Value, GraphError> {
    m.get(name).ok_or_else(|| GraphError::MissingField {
        at: at.to_owned(),
        field: name,
    })
}

fn as_map<'a>(v: &'a Value, at: &str) -> Result<&'a IndexMap<String, Value>, GraphError> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(wrong_type(at, "object", type_name(other))),
    }
}

fn as_list<'a>(v: &'a Value, at: &str) -> Result<&'a [Value], GraphError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(wrong_type(at, "list", type_name(other))),
    }
}

fn as_str<'a>(v: &'a Value, at: &str) -> Result<&'a str, GraphError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type(at, "string", type_name(other))),
    }
}

fn as_index(v: &Value, at: &str) -> Result<NodeIndex, GraphError> {
    match v {
        Value::Int(i) => i.to_usize().ok_or_else(|| GraphError::BadIndex {
            at: at.to_owned(),
            found: i.to_string(),
        }),
        other => Err(wrong_type(at, "node index (integer)", type_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Value {
        json::parse(s.as_bytes()).expect("test JSON parses")
    }

    fn graph(s: &str) -> Result<GraphData, GraphError> {
        GraphData::from_value(&parse(s))
    }

    const OUTPUT: &str = r#"{"outputs":{},"inputs":{"value":[0,"value"]},"type":"output"}"#;

    #[test]
    fn decodes_factorial_eval_that_lists_itself() {
        let g = graph(
            r#"{"nodes":[{"outputs":{"value":[1]},"value":1,"inputs":{},"type":"const"},
            {"outputs":{"body":[1],"value":[2]},"graph":[-1,"body"],"inputs":{"value":[0,"value"]},"type":"eval"},
            {"outputs":{},"inputs":{"value":[1,"value"]},"type":"output"}],
            "graph_output_idx":2}"#,
        )
        .expect("decodes");
        g.validate().expect("valid");
        let eval = &g.nodes[1];
        assert_eq!(eval.outputs["body"], vec![1]);
        let edges: Vec<_> = eval.in_edges().collect();
        assert_eq!(
            edges,
            vec![
                ("value", &ValueRef::new(0, "value")),
                ("body", &ValueRef::new(-1, "body"))
            ]
        );
        assert_eq!(g.output_node().expect("output").0, 2);
    }

    #[test]
    fn old_single_index_outputs_form_is_normalised() {
        let g = graph(&format!(
            r#"{{"nodes":[{{"outputs":{{"value":1}},"value":5,"type":"const"}},{OUTPUT}],"graph_output_idx":1}}"#
        ))
        .expect("decodes");
        assert_eq!(g.nodes[0].outputs["value"], vec![1]);
        let written = g.to_value();
        let Value::Map(m) = &written else {
            panic!("graph is an object")
        };
        let Value::List(nodes) = &m["nodes"] else {
            panic!("nodes is a list")
        };
        assert_eq!(
            nodes[0],
            parse(r#"{"outputs":{"value":[1]},"value":5,"inputs":{},"type":"const"}"#)
        );
    }

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
    fn wrong_type_names_node_and_field() {
        let err = graph(
            r#"{"nodes":[{"outputs":{},"value":5,"type":"const"},
            {"outputs":{},"function_name":3,"inputs":{},"type":"function"}]}"#,
        )
        .expect_err("wrong type");
        assert!(
            matches!(&err, GraphError::WrongType { at, expected: "string", found: "integer" } if at == "nodes[1].function_name"),
            "{err}"
        );
        assert!(err.to_string().contains("nodes[1].function_name"));

        let err = graph(r#"{"nodes":[{"outputs":{},"inputs":{"a":[0]},"type":"output"}]}"#)
            .expect_err("short ref");
        assert!(err.to_string().contains("nodes[0].inputs.a"), "{err}");

        let err = graph(r#"{"nodes":[{"outputs":{},"inputs":{"a":["x","p"]},"type":"output"}]}"#)
            .expect_err("string index");
        assert!(err.to_string().contains("nodes[0].inputs.a[0]"), "{err}");
    }

    #[test]
    fn wrong_type_in_nested_graph() {
        let err = graph(r#"{"nodes":[{"outputs":{},"value":{"nodes":[{"type":"input","name":false}],"graph_output_idx":null},"type":"const"}]}"#)
            .expect_err("wrong type");
        assert!(
            err.to_string().contains("nodes[0].value.nodes[0].name"),
            "{err}"
        );
    }

    #[test]
    fn unknown_node_type() {
        let err = graph(r#"{"nodes":[{"outputs":{},"inputs":{},"type":"output"},{"outputs":{},"type":"teleport"}]}"#)
            .expect_err("unknown");
        assert!(matches!(&err, GraphError::UnknownNodeType { found, .. } if found == "teleport"));
        let msg = err.to_string();
        assert!(msg.contains("nodes[1].type"), "{msg}");
        assert!(msg.contains("teleport"), "{msg}");
    }

    #[test]
    fn missing_field_names_node_and_field() {
        let err =
            graph(r#"{"nodes":[{"outputs":{},"inputs":{},"continue_port":"c","type":"loop"}]}"#)
                .expect_err("missing body");
        assert!(
            matches!(&err, GraphError::MissingField { at, field: "body" } if at == "nodes[0]"),
            "{err}"
        );
        assert!(err.to_string().contains("nodes[0]"));
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
    fn const_object_without_graph_keys_is_a_value() {
        let v = parse(r#"{"outputs":{},"value":{"nodes":5,"graph_output_idx":0},"type":"const"}"#);
        let node = NodeDef::from_value(&v).expect("decodes");
        assert!(matches!(
            node.kind,
            NodeKind::Const {
                value: ConstValue::Value(_)
            }
        ));
        assert_eq!(
            node.to_value(),
            parse(
                r#"{"outputs":{},"value":{"nodes":5,"graph_output_idx":0},"inputs":{},"type":"const"}"#
            )
        );
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

    #[test]
    fn bad_fixed_input_loc() {
        let err = graph(r#"{"fixed_inputs":{"b":["-.X3","value"]}}"#).expect_err("bad loc");
        assert!(matches!(err, GraphError::BadLoc { .. }), "{err}");
        assert!(err.to_string().contains("fixed_inputs.b[0]"), "{err}");
    }

    #[test]
    fn invalid_json_is_reported() {
        let err = GraphData::from_json(b"{nodes").expect_err("bad json");
        assert!(matches!(err, GraphError::Json(_)), "{err}");
    }
}
