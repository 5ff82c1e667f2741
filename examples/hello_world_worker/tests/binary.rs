//! Runs the `tkr-hello-world-worker` binary for real, the way a controller
//! does: call arguments with paths relative to `TKR_DIR`, the binary started
//! with the call arguments' path.

use std::path::Path;
use std::process::Command;

use tierkreis_test_support::worker_call::WorkerCall;

const BIN: &str = env!("CARGO_BIN_EXE_tkr-hello-world-worker");

const NODE: &str = "0193b2d6-0000-0000-0000-000000000001/-.N3";

/// A Tierkreis directory with one node's call of `function` (inputs
/// `greeting` and `subject`, output `value`, the error text in `NODE/logs`),
/// written by hand as the controller writes it.
fn call(function: &str) -> WorkerCall {
    WorkerCall::new(
        BIN,
        NODE,
        function,
        &["greeting", "subject"],
        &["value"],
        "logs",
    )
}

#[test]
fn greets_and_marks_done() {
    let node = call("greet");
    node.input("greeting", br#""hello ""#)
        .input("subject", br#""world!""#);
    let out = node.run();
    assert!(out.status.success(), "{out:?}");
    // The reference's encoding: JSON text of the string.
    assert_eq!(
        std::fs::read(node.path("outputs/value")).expect("output"),
        br#""hello world!""#
    );
    assert!(node.path("_done").exists());
    assert!(!node.path("logs").exists());
}

#[test]
fn missing_input_fails_with_error_file_naming_the_port() {
    let node = call("greet");
    node.input("greeting", br#""hello ""#);
    let out = node.run();
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(node.path("logs")).expect("error file"),
        // The error text ends its line (the SDK appends it to the log).
        format!("Input subject not found at {NODE}/in_subject.\n")
    );
    assert!(!node.path("_done").exists());
    assert!(!node.path("outputs/value").exists());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Input subject not found"), "{stderr}");
}

#[test]
fn wrong_input_type_fails() {
    let node = call("greet");
    node.input("greeting", b"1").input("subject", br#""x""#);
    let out = node.run();
    assert!(!out.status.success());
    let text = std::fs::read_to_string(node.path("logs")).expect("error file");
    assert!(
        text.contains("at `greeting`: invalid type: integer `1`, expected a string"),
        "{text}"
    );
}

#[test]
fn unknown_function_fails() {
    let node = call("shout");
    node.input("greeting", br#""a""#)
        .input("subject", br#""b""#);
    let out = node.run();
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(node.path("logs")).expect("error file"),
        "hello_world_worker: function name\nshout not found\n"
    );
}

#[test]
fn missing_call_args_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .arg("nowhere/definition")
        .env("TKR_DIR", dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nowhere/definition"), "{stderr}");
}

#[test]
fn no_arguments_prints_usage_and_succeeds() {
    let out = Command::new(BIN).output().expect("run");
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("No arguments provided to invoke worker hello_world_worker"),
        "{stderr}"
    );
    assert!(stderr.contains("--stubs-path FILE"), "{stderr}");
}

#[test]
fn stubs_are_the_references() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stubs/hello_world_worker.py");
    let out = Command::new(BIN)
        .arg("--stubs-path")
        .arg(&path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    // What the reference writes for the same worker in Python
    // (tests/data/hello_ref.py).
    assert_eq!(
        std::fs::read_to_string(&path).expect("stubs"),
        include_str!("data/hello_stubs.py")
    );
    let missing = Command::new(BIN).arg("--stubs-path").output().expect("run");
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn relative_paths_resolve_against_tkr_dir_not_cwd() {
    let node = call("greet");
    node.input("greeting", br#""a""#)
        .input("subject", br#""b""#);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .arg(Path::new(NODE).join("definition"))
        .env("TKR_DIR", node.tkr_dir())
        .current_dir(elsewhere.path())
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    assert!(node.path("_done").exists());
}
