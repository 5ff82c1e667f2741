//! The benchmark workflows, built node by node the way the reference's Python
//! builder (`tierkreis.builder.Graph`) lays them out, so that `tkr` and the
//! reference run exactly the same graph.
//!
//! `python/build_ref.py` in this crate builds the same graphs with the
//! reference builder; the tests compare against its output.

use indexmap::IndexMap;
use num_bigint::BigInt;
use tierkreis_core::graph::{ConstValue, NodeKind, NodeMetaData};
use tierkreis_core::{GraphData, NodeDef, NodeIndex, Value, ValueRef};

/// A benchmark workload: a graph family parameterised by its size `n`, and
/// the value its `value` output must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `sum_list(map(x -> itimes(x, x), tkr_range(0, n)))`.
    MapSquareSum,
    /// A loop that adds 1 to a counter until it reaches `n`.
    LoopCount,
    /// `sum_list(map(x -> numerics_worker.square(x), tkr_range(0, n)))`:
    /// map_square_sum with each element's square computed by an external
    /// worker process ([`WORKER_BINARY`]).
    MapWorker,
}

/// The worker `map_worker` calls once per element.
pub const WORKER_TASK: &str = "numerics_worker.square";

/// The executable `tkr` (and the reference) find for [`WORKER_TASK`] on
/// `PATH` (`tkr-W` with `_` written as `-`), built by
/// `cargo build --release -p numerics_worker`.
pub const WORKER_BINARY: &str = "tkr-numerics-worker";

impl Workload {
    /// A short name, used in file names and tables.
    pub fn name(self) -> &'static str {
        match self {
            Workload::MapSquareSum => "map_square_sum",
            Workload::LoopCount => "loop_count",
            Workload::MapWorker => "map_worker",
        }
    }

    /// The workflow graph for size `n`.
    pub fn graph(self, n: u64) -> GraphData {
        match self {
            Workload::MapSquareSum => map_square_sum(n),
            Workload::LoopCount => loop_count(n),
            Workload::MapWorker => map_worker(n),
        }
    }

    /// The expected `value` output for size `n`.
    pub fn expected(self, n: u64) -> u128 {
        match self {
            Workload::MapSquareSum | Workload::MapWorker => sum_of_squares_below(n),
            Workload::LoopCount => loop_count_result(n),
        }
    }

    /// The external worker executable the workload needs on `PATH`, if any
    /// (the others use builtins only).
    pub fn worker_binary(self) -> Option<&'static str> {
        match self {
            Workload::MapWorker => Some(WORKER_BINARY),
            Workload::MapSquareSum | Workload::LoopCount => None,
        }
    }

    /// Every workload, for `tkr-bench graphs`.
    pub const ALL: [Workload; 3] = [
        Workload::MapSquareSum,
        Workload::LoopCount,
        Workload::MapWorker,
    ];
}

/// `0² + 1² + ... + (n-1)²`, in closed form: `(n-1) n (2n-1) / 6`.
pub fn sum_of_squares_below(n: u64) -> u128 {
    let n = u128::from(n);
    if n == 0 {
        return 0;
    }
    (n - 1) * n * (2 * n - 1) / 6
}

/// What [`loop_count`] returns: the body runs at least once (the reference's
/// loop checks `should_continue` after each iteration), so the counter ends
/// at `max(n, 1)`.
pub fn loop_count_result(n: u64) -> u128 {
    u128::from(n.max(1))
}

/// Adds nodes and records each edge in the source node's `outputs`, in the
/// order the Python builder does (one entry per incoming edge, duplicates
/// kept), plus the builder's `node_metadata` entries.
#[derive(Debug, Default)]
struct Builder {
    g: GraphData,
}

impl Builder {
    fn add(&mut self, kind: NodeKind, inputs: &[(&str, ValueRef)]) -> NodeIndex {
        let idx = self.g.nodes.len();
        let inputs: IndexMap<String, ValueRef> = inputs
            .iter()
            .map(|(port, r)| ((*port).to_owned(), r.clone()))
            .collect();
        let node = NodeDef::new(kind, inputs);
        let edges: Vec<ValueRef> = node.in_edges().map(|(_, r)| r.clone()).collect();
        self.g.nodes.push(node);
        for r in edges {
            if let Some(src) = r.node_index() {
                if let Some(src_node) = self.g.nodes.get_mut(src) {
                    src_node.outputs.entry(r.port).or_default().push(idx);
                }
            }
        }
        idx
    }

    fn constant(&mut self, value: ConstValue) -> ValueRef {
        ValueRef::new(node_ref(self.add(NodeKind::Const { value }, &[])), "value")
    }

    fn int(&mut self, i: u64) -> ValueRef {
        self.constant(ConstValue::Value(Value::from_bigint(BigInt::from(i))))
    }

    fn input(&mut self, name: &str) -> ValueRef {
        let idx = self.add(
            NodeKind::Input {
                name: name.to_owned(),
            },
            &[],
        );
        self.g.graph_inputs.push(name.to_owned());
        self.g.node_metadata.insert(idx, NodeMetaData::default());
        ValueRef::new(node_ref(idx), name)
    }

    fn func(&mut self, name: &str, inputs: &[(&str, ValueRef)], hidden: bool) -> NodeIndex {
        let idx = self.add(
            NodeKind::Function {
                function_name: name.to_owned(),
            },
            inputs,
        );
        if hidden {
            let meta = NodeMetaData {
                has_breakpoint: false,
                is_hidden: true,
            };
            self.g.node_metadata.insert(idx, meta);
        }
        idx
    }

    fn output(mut self, inputs: &[(&str, ValueRef)]) -> GraphData {
        let idx = self.add(NodeKind::Output, inputs);
        self.g.graph_output_idx = Some(idx);
        self.g.node_metadata.insert(idx, NodeMetaData::default());
        self.g
    }

    fn port(&self, idx: NodeIndex, port: &str) -> ValueRef {
        ValueRef::new(node_ref(idx), port)
    }
}

/// A node index as the `node` of a [`ValueRef`] (a graph never holds more
/// than `i64::MAX` nodes).
fn node_ref(idx: NodeIndex) -> i64 {
    i64::try_from(idx).unwrap_or(i64::MAX)
}

/// The map body: `value -> itimes(value, value)`.
pub(crate) fn square_body() -> GraphData {
    let mut b = Builder::default();
    let x = b.input("value");
    let sq = b.func("builtins.itimes", &[("a", x.clone()), ("b", x)], false);
    let out = b.port(sq, "value");
    b.output(&[("value", out)])
}

/// The map body of `map_worker`: `value -> numerics_worker.square(x = value)`.
pub(crate) fn worker_square_body() -> GraphData {
    let mut b = Builder::default();
    let x = b.input("value");
    let sq = b.func(WORKER_TASK, &[("x", x)], false);
    let out = b.port(sq, "value");
    b.output(&[("value", out)])
}

/// `sum_list(map(square_body, tkr_range(0, n)))`, laid out as the Python
/// builder's `g.map(workflow, g.task(tkr_range(...)))` does: the body const,
/// then a hidden `unfold_values`, the `map` node, a hidden `fold_values`.
pub fn map_square_sum(n: u64) -> GraphData {
    map_sum(n, square_body())
}

/// [`map_square_sum`] with the body [`worker_square_body`]: each element is
/// squared by a `numerics_worker` process.
pub fn map_worker(n: u64) -> GraphData {
    map_sum(n, worker_square_body())
}

/// `sum_list(map(body, tkr_range(0, n)))`.
fn map_sum(n: u64, body: GraphData) -> GraphData {
    let mut b = Builder::default();
    let start = b.int(0);
    let stop = b.int(n);
    let range = b.func(
        "builtins.tkr_range",
        &[("start", start), ("stop", stop)],
        false,
    );
    let body = b.constant(ConstValue::Graph(Box::new(body)));
    let range_out = b.port(range, "value");
    let unfold = b.func("builtins.unfold_values", &[("value", range_out)], true);
    let each = b.port(unfold, "*");
    let map = b.add(NodeKind::Map { body }, &[("value", each)]);
    let mapped = b.port(map, "value-*");
    let fold = b.func("builtins.fold_values", &[("values_glob", mapped)], true);
    let list = b.port(fold, "value");
    let sum = b.func("builtins.sum_list", &[("values", list)], false);
    let total = b.port(sum, "value");
    b.output(&[("value", total)])
}

/// The loop body: `counter + 1`, continue while `n > counter + 1`.
fn count_body(n: u64) -> GraphData {
    let mut b = Builder::default();
    let counter = b.input("counter");
    let one = b.int(1);
    let next = b.func("builtins.iadd", &[("a", counter), ("b", one)], false);
    let limit = b.int(n);
    let next_out = b.port(next, "value");
    let cont = b.func(
        "builtins.igt",
        &[("a", limit), ("b", next_out.clone())],
        false,
    );
    let cont_out = b.port(cont, "value");
    b.output(&[("counter", next_out), ("should_continue", cont_out)])
}

/// A loop from `counter = 0` running [`count_body`] `n` times (at least once),
/// as the Python builder's `g.loop(workflow, LoopIn(counter=g.const(0)))`.
pub fn loop_count(n: u64) -> GraphData {
    let mut b = Builder::default();
    let zero = b.int(0);
    let body = b.constant(ConstValue::Graph(Box::new(count_body(n))));
    let lp = b.add(
        NodeKind::Loop {
            body,
            continue_port: "should_continue".to_owned(),
            name: None,
        },
        &[("counter", zero)],
    );
    let counter = b.port(lp, "counter");
    b.output(&[("value", counter)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tierkreis_core::json;

    fn reference(name: &str) -> Value {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).expect("reference graph present");
        json::parse(&bytes).expect("reference graph is JSON")
    }

    /// `tests/data/reference_*_5.json` were written by the reference builder
    /// (`python/build_ref.py map 5` / `loop 5`, `GraphData.model_dump_json()`).
    #[test]
    fn map_graph_equals_reference_builder_output() {
        let g = map_square_sum(5);
        assert_eq!(g.to_value(), reference("reference_map_square_sum_5.json"));
        let back = GraphData::from_json(&g.to_json()).expect("parses");
        back.validate().expect("valid");
        assert_eq!(back, g);
    }

    #[test]
    fn loop_graph_equals_reference_builder_output() {
        let g = loop_count(5);
        assert_eq!(g.to_value(), reference("reference_loop_count_5.json"));
        let back = GraphData::from_json(&g.to_json()).expect("parses");
        back.validate().expect("valid");
        assert_eq!(back, g);
    }

    /// `tests/data/reference_map_worker_5.json` is `python/build_ref.py
    /// worker 5`: the reference builder with a `numerics_worker.square` stub.
    #[test]
    fn map_worker_graph_equals_reference_builder_output() {
        let g = map_worker(5);
        assert_eq!(g.to_value(), reference("reference_map_worker_5.json"));
        let back = GraphData::from_json(&g.to_json()).expect("parses");
        back.validate().expect("valid");
        assert_eq!(back, g);
    }

    /// The body is one task of the external worker, on the element.
    #[test]
    fn map_worker_body_calls_the_worker_once() {
        let body = worker_square_body();
        body.validate().expect("valid body");
        let tasks: Vec<&str> = body
            .nodes
            .iter()
            .filter_map(|node| match &node.kind {
                NodeKind::Function { function_name } => Some(function_name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(tasks, [WORKER_TASK]);
        assert_eq!(Workload::MapWorker.worker_binary(), Some(WORKER_BINARY));
        assert_eq!(Workload::MapWorker.expected(20), 2470);
        let text = String::from_utf8(map_worker(7).to_json()).expect("utf-8");
        assert!(text.contains("\"numerics_worker.square\""), "{text}");
        assert!(!text.contains("builtins.itimes"), "{text}");
    }

    #[test]
    fn large_graphs_validate_and_carry_n() {
        for n in [0, 1, 100_000, u64::MAX] {
            for w in Workload::ALL {
                let g = GraphData::from_json(&w.graph(n).to_json()).expect("parses");
                g.validate().expect("valid");
                let text = String::from_utf8(g.to_json()).expect("utf-8");
                assert!(text.contains(&n.to_string()), "{} {n}", w.name());
            }
        }
    }

    #[test]
    fn closed_forms() {
        // Direct sums, not the formula under test.
        for n in [0u64, 1, 2, 5, 20, 1000] {
            let direct: u128 = (0..u128::from(n)).map(|i| i * i).sum();
            assert_eq!(sum_of_squares_below(n), direct, "n={n}");
        }
        // The reference's map fixture run (tests/data/reference_map20_tree.txt)
        // printed 2470 for n = 20.
        assert_eq!(sum_of_squares_below(20), 2470);
        // The reference controller ran build_ref.py's `loop 0` / `loop 7`
        // graphs to 1 and 7 (the body runs before the first check).
        assert_eq!(loop_count_result(0), 1);
        assert_eq!(loop_count_result(7), 7);
    }
}
