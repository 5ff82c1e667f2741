//! Graph and node JSON to typed data. Checks types only, and every error
//! names its path (`nodes[3].value.nodes[2].inputs.a`).

use indexmap::IndexMap;
use num_traits::ToPrimitive;

use super::error::{field, index};
use super::{
    ConstValue, GraphData, GraphError, NodeDef, NodeIndex, NodeKind, NodeMetaData, PortId, ValueRef,
};
use crate::json;
use crate::loc::Loc;
use crate::output_loc::OutputLoc;
use crate::value::Value;

impl ValueRef {
    pub(super) fn from_value(v: &Value, at: &str) -> Result<ValueRef, GraphError> {
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

impl ConstValue {
    pub(super) fn from_value(v: &Value, at: &str) -> Result<ConstValue, GraphError> {
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

impl NodeDef {
    /// Decode a node from its JSON object (a `nodedef` file's content).
    pub fn from_value(v: &Value) -> Result<NodeDef, GraphError> {
        Self::from_value_at(v, "")
    }

    /// Read a `nodedef` file's bytes.
    pub fn from_json(bytes: &[u8]) -> Result<NodeDef, GraphError> {
        let v = json::parse(bytes)?;
        Self::from_value(&v)
    }

    pub(super) fn from_value_at(v: &Value, at: &str) -> Result<NodeDef, GraphError> {
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

impl GraphData {
    /// Parse `graph.json` bytes (types only; call [`GraphData::validate`] too).
    pub fn from_json(bytes: &[u8]) -> Result<GraphData, GraphError> {
        let v = json::parse(bytes)?;
        Self::from_value(&v)
    }

    /// Decode from a JSON value. Every field is optional, as in the reference.
    pub fn from_value(v: &Value) -> Result<GraphData, GraphError> {
        Self::from_value_at(v, "")
    }

    pub(super) fn from_value_at(v: &Value, at: &str) -> Result<GraphData, GraphError> {
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
    use crate::graph::test_json::{graph, parse, OUTPUT};

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
