//! Runs the `tkr-numerics-worker` binary for real on a temporary `TKR_DIR`
//! with hand-written call arguments (relative paths, as the controller
//! writes them): a trivial `square`, big integers, several outputs, an
//! optional input left out, a primitive task, a failing task, and the stubs.

use std::path::PathBuf;
use std::process::{Command, Output};

use tierkreis_core::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tkr-numerics-worker");
const NODE: &str = "wf/-.N1";

struct Node {
    tkr_dir: tempfile::TempDir,
}

impl Node {
    /// A node calling `function` with the given input ports (each at
    /// `NODE/in_<port>`) and output ports (at `NODE/outputs/<port>`).
    fn new(function: &str, inputs: &[&str], outputs: &[&str]) -> Node {
        let tkr_dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tkr_dir.path().join(NODE).join("outputs")).expect("mkdir");
        let ports = |names: &[&str], dir: &str| {
            names
                .iter()
                .map(|p| format!(r#""{p}":"{NODE}/{dir}{p}""#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let args = format!(
            r#"{{"function_name":"{function}","inputs":{{{}}},"outputs":{{{}}},"output_dir":"{NODE}/outputs","done_path":"{NODE}/_done","error_path":"{NODE}/errors","logs_path":null}}"#,
            ports(inputs, "in_"),
            ports(outputs, "outputs/"),
        );
        std::fs::write(tkr_dir.path().join(NODE).join("definition"), args).expect("write");
        Node { tkr_dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tkr_dir.path().join(NODE).join(rel)
    }

    fn input(&self, port: &str, bytes: &[u8]) -> &Node {
        std::fs::write(self.path(&format!("in_{port}")), bytes).expect("write input");
        self
    }

    fn run(&self) -> Output {
        Command::new(BIN)
            .arg(format!("{NODE}/definition"))
            .env("TKR_DIR", self.tkr_dir.path())
            .output()
            .expect("run worker")
    }

    fn output_text(&self, port: &str) -> String {
        std::fs::read_to_string(self.path(&format!("outputs/{port}"))).expect("output")
    }
}

#[test]
fn fibonacci_beyond_64_bits() {
    let node = Node::new("fibonacci", &["n"], &["value"]);
    node.input("n", b"100");
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    // F(100) = 354224848179261915075, written as a plain JSON integer.
    assert_eq!(node.output_text("value"), "354224848179261915075");
    assert!(node.path("_done").exists());
}

#[test]
fn square_reads_and_writes_an_int() {
    let node = Node::new("square", &["x"], &["value"]);
    node.input("x", b"-12");
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(node.output_text("value"), "144");
    assert!(node.path("_done").exists());
}

#[test]
fn stats_writes_each_output_port_with_the_default_input() {
    let node = Node::new("stats", &["values", "sample"], &["mean", "stdev"]);
    node.input("values", b"[2, 4, 4, 4, 5, 5, 7, 9]");
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(node.output_text("mean"), "5.0");
    assert_eq!(node.output_text("stdev"), "2.0");

    let node = Node::new("stats", &["values", "sample"], &["stdev"]);
    node.input("values", b"[1.0, 3.0]").input("sample", b"true");
    assert!(node.run().status.success());
    let stdev = Value::from_bytes(node.output_text("stdev").as_bytes());
    assert_eq!(stdev, Value::Float(2f64.sqrt()));
}

#[test]
fn primes_below_is_a_list() {
    let node = Node::new("primes_below", &["n"], &["value"]);
    node.input("n", b"12");
    assert!(node.run().status.success());
    assert_eq!(
        node.output_text("value"),
        "[\n  2,\n  3,\n  5,\n  7,\n  11\n]"
    );
}

#[test]
fn primitive_task_sums_any_ports() {
    let node = Node::new("sum_inputs", &["a", "b", "zz"], &["value"]);
    node.input("a", b"1")
        .input("b", b"2")
        .input("zz", b"100000000000000000000");
    assert!(node.run().status.success());
    assert_eq!(node.output_text("value"), "100000000000000000003");

    let node = Node::new("sum_inputs", &["a", "b"], &["value"]);
    node.input("a", b"1").input("b", br#""x""#);
    assert!(!node.run().status.success());
    assert_eq!(
        std::fs::read_to_string(node.path("errors")).expect("errors"),
        // The error text ends its line (the SDK appends it to the log).
        "sum_inputs: input `b` is a str, not a number\n"
    );
    assert!(!node.path("_done").exists());
}

#[test]
fn failing_task_writes_its_error_and_exits_non_zero() {
    let node = Node::new("stats", &["values"], &["mean", "stdev"]);
    node.input("values", b"[]");
    let out = node.run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(node.path("errors")).expect("errors"),
        "stats needs at least 1 value(s), got 0\n"
    );
    assert!(!node.path("_done").exists());
    assert!(!node.path("outputs/mean").exists());
}

#[test]
fn stubs_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("numerics_stubs.py");
    let out = Command::new(BIN)
        .arg("--stubs-path")
        .arg(&path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    expect_test::expect_file!["data/numerics_stubs.py"]
        .assert_eq(&std::fs::read_to_string(&path).expect("stubs"));
}
