//! Every recorded conformance graph (written by the reference's builder)
//! decodes, validates and is written back as the same JSON value, and so is
//! every graph nested in a `const` node.

use std::path::PathBuf;

use tierkreis_core::graph::{ConstValue, NodeKind};
use tierkreis_core::{json, GraphData, NodeDef, Value};

fn conformance_graphs() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures/conformance");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("conformance fixtures dir") {
        let case = entry.expect("dir entry").path();
        let graph = case.join("graph.json");
        if graph.is_file() {
            let name = case
                .file_name()
                .expect("case name")
                .to_string_lossy()
                .into_owned();
            out.push((name, std::fs::read(&graph).expect("read graph.json")));
        }
    }
    out.sort();
    out
}

/// The JSON value at `nodes[i].value` of a graph value.
fn const_value(graph: &Value, i: usize) -> &Value {
    let Value::Map(g) = graph else {
        panic!("graph is an object")
    };
    let Value::List(nodes) = &g["nodes"] else {
        panic!("nodes is a list")
    };
    let Value::Map(node) = &nodes[i] else {
        panic!("node is an object")
    };
    &node["value"]
}

/// Checks the nested const graphs of `g` against `original`; returns how many.
fn check_nested(case: &str, path: &str, g: &GraphData, original: &Value) -> usize {
    let mut count = 0;
    for (i, node) in g.nodes.iter().enumerate() {
        if let NodeKind::Const {
            value: ConstValue::Graph(inner),
        } = &node.kind
        {
            let inner_path = format!("{path}nodes[{i}].value.");
            let inner_original = const_value(original, i);
            inner
                .validate()
                .unwrap_or_else(|e| panic!("{case} {inner_path}: {e}"));
            assert_eq!(
                &inner.to_value(),
                inner_original,
                "{case} {inner_path}: nested graph written back differently"
            );
            let reparsed = GraphData::from_value(inner_original).expect("nested decodes alone");
            assert_eq!(&reparsed, inner.as_ref());
            count += 1 + check_nested(case, &inner_path, inner, inner_original);
        }
    }
    count
}

#[test]
fn every_conformance_graph_round_trips() {
    let graphs = conformance_graphs();
    assert!(
        graphs.len() >= 20,
        "found only {} fixture graphs",
        graphs.len()
    );
    let mut nested = 0;
    for (case, bytes) in &graphs {
        let original = json::parse(bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
        let g = GraphData::from_json(bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
        g.validate().unwrap_or_else(|e| panic!("{case}: {e}"));
        g.output_node().unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(g.to_value(), original, "{case}: written back differently");

        // Compact bytes read back to the same graph.
        let again = GraphData::from_json(&g.to_json()).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(again, g, "{case}: to_json does not read back");

        // Each node as a standalone nodedef round-trips.
        for (i, node) in g.nodes.iter().enumerate() {
            let back = NodeDef::from_json(&node.to_json())
                .unwrap_or_else(|e| panic!("{case} node {i}: {e}"));
            assert_eq!(&back, node, "{case} node {i}");
        }

        nested += check_nested(case, "", &g, &original);
    }
    assert!(nested > 0, "no nested const graph found in the fixtures");
}

#[test]
fn every_graph_input_is_remaining_when_nothing_is_provided() {
    for (case, bytes) in conformance_graphs() {
        let g = GraphData::from_json(&bytes).unwrap_or_else(|e| panic!("{case}: {e}"));
        let input_nodes: Vec<&str> = g
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Input { name } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let remaining = g
            .remaining_inputs(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        // The builder adds each input node's name to graph_inputs.
        for name in &input_nodes {
            assert!(
                remaining.iter().any(|r| r == name),
                "{case}: {name} missing"
            );
        }
        assert!(
            g.remaining_inputs(&remaining).expect("ok").is_empty(),
            "{case}"
        );
    }
}
