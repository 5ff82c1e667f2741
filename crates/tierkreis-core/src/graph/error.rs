//! `GraphError`: what is wrong with a graph or node, and the path (`at`)
//! where; `field` and `index` build those paths.

use super::{NodeIndex, PortId};
use crate::json::JsonError;
use crate::loc::LocError;

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

pub(super) fn field(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

pub(super) fn index(at: &str, i: usize) -> String {
    format!("{at}[{i}]")
}
