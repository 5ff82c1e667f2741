//! Runs the `tkr-numerics-worker` binary for real on a temporary `TKR_DIR`
//! with hand-written call arguments (relative paths, as the controller
//! writes them): a trivial `square`, big integers, several outputs, an
//! optional input left out, a primitive task, a failing task, and the stubs.

use std::process::Command;

use tierkreis_core::Value;
use tierkreis_test_support::worker_call::WorkerCall;

const BIN: &str = env!("CARGO_BIN_EXE_tkr-numerics-worker");
const NODE: &str = "wf/-.N1";

/// The call of `function` with `inputs` and `outputs` at [`NODE`], its
/// error text in `NODE/errors`.
fn call(function: &str, inputs: &[&str], outputs: &[&str]) -> WorkerCall {
    WorkerCall::new(BIN, NODE, function, inputs, outputs, "errors")
}

#[test]
fn fibonacci_beyond_64_bits() {
    let node = call("fibonacci", &["n"], &["value"]);
    node.input("n", b"100");
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    // F(100) = 354224848179261915075, written as a plain JSON integer.
    assert_eq!(node.output_text("value"), "354224848179261915075");
    assert!(node.path("_done").exists());
}

#[test]
fn square_reads_and_writes_an_int() {
    let node = call("square", &["x"], &["value"]);
    node.input("x", b"-12");
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(node.output_text("value"), "144");
    assert!(node.path("_done").exists());
}

#[test]
fn stats_writes_each_output_port_with_the_default_input() {
    let node = call("stats", &["values", "sample"], &["mean", "stdev"]);
    node.input("values", b"[2, 4, 4, 4, 5, 5, 7, 9]");
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(node.output_text("mean"), "5.0");
    assert_eq!(node.output_text("stdev"), "2.0");

    let node = call("stats", &["values", "sample"], &["stdev"]);
    node.input("values", b"[1.0, 3.0]").input("sample", b"true");
    assert!(node.run().status.success());
    let stdev = Value::from_bytes(node.output_text("stdev").as_bytes());
    assert_eq!(stdev, Value::Float(2f64.sqrt()));
}

#[test]
fn primes_below_is_a_list() {
    let node = call("primes_below", &["n"], &["value"]);
    node.input("n", b"12");
    assert!(node.run().status.success());
    assert_eq!(
        node.output_text("value"),
        "[\n  2,\n  3,\n  5,\n  7,\n  11\n]"
    );
}

#[test]
fn primitive_task_sums_any_ports() {
    let node = call("sum_inputs", &["a", "b", "zz"], &["value"]);
    node.input("a", b"1")
        .input("b", b"2")
        .input("zz", b"100000000000000000000");
    assert!(node.run().status.success());
    assert_eq!(node.output_text("value"), "100000000000000000003");

    let node = call("sum_inputs", &["a", "b"], &["value"]);
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
    let node = call("stats", &["values"], &["mean", "stdev"]);
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
