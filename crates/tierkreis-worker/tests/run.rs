//! Running task calls in process through file storage on a temporary
//! Tierkreis directory, with call arguments written the way the controller
//! writes them (paths relative to the directory).

mod common;

use std::path::{Path, PathBuf};

use tierkreis_core::{Value, WorkerCallArgs};
use tierkreis_storage::{FileWorkerStorage, WorkerStorage};
use tierkreis_worker::{Worker, WorkerError};

struct Call {
    dir: tempfile::TempDir,
    storage: FileWorkerStorage,
}

impl Call {
    /// Call arguments for `function` at `wf/-.N0/definition`, with the given
    /// input ports (each at `wf/-.N0/in_<port>`) and output ports.
    fn new(function: &str, inputs: &[&str], outputs: &[&str]) -> Call {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileWorkerStorage::new(dir.path());
        let node = PathBuf::from("wf/-.N0");
        let args = WorkerCallArgs {
            function_name: function.to_string(),
            inputs: inputs
                .iter()
                .map(|p| (p.to_string(), node.join(format!("in_{p}"))))
                .collect(),
            outputs: outputs
                .iter()
                .map(|p| (p.to_string(), node.join("outputs").join(p)))
                .collect(),
            output_dir: node.join("outputs"),
            done_path: node.join("_done"),
            error_path: node.join("errors"),
            logs_path: None,
        };
        storage
            .write_output(
                &node.join("definition"),
                &args.to_json().expect("call args encode"),
            )
            .expect("write call args");
        Call { dir, storage }
    }

    fn input(&self, port: &str, bytes: &[u8]) -> &Call {
        self.storage
            .write_output(Path::new(&format!("wf/-.N0/in_{port}")), bytes)
            .expect("write input");
        self
    }

    fn run(&self, worker: &Worker) -> Result<(), WorkerError> {
        worker.run(&self.storage, Path::new("wf/-.N0/definition"))
    }

    fn file(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join("wf/-.N0").join(rel)).ok()
    }

    fn output(&self, port: &str) -> Option<Value> {
        self.file(&format!("outputs/{port}"))
            .map(|b| Value::from_bytes(&b))
    }

    fn done(&self) -> bool {
        self.dir.path().join("wf/-.N0/_done").exists()
    }

    fn error_text(&self) -> Option<String> {
        self.file("errors")
            .map(|b| String::from_utf8(b).expect("utf8 error text"))
    }
}

#[test]
fn single_output_is_written_and_marked_done() {
    let call = Call::new("greet", &["greeting", "subject"], &["value"]);
    call.input("greeting", br#""hello ""#)
        .input("subject", br#""world""#);
    call.run(&common::demo_worker()).expect("runs");
    assert_eq!(
        call.file("outputs/value").expect("output"),
        br#""hello world""#
    );
    assert!(call.done());
    assert_eq!(call.error_text(), None);
}

#[test]
fn multi_output_and_default_input() {
    let call = Call::new("stats", &["values", "scale"], &["mean", "stdev"]);
    // `scale` was never written: its default (1.0) is used, as in the reference.
    call.input("values", b"[1, 2, 3, 4]");
    call.run(&common::demo_worker()).expect("runs");
    assert_eq!(call.file("outputs/mean").expect("mean"), b"2.5");
    let stdev = call
        .output("stdev")
        .and_then(|v| v.as_f64())
        .expect("stdev");
    assert!((stdev - 1.25f64.sqrt()).abs() < 1e-12, "{stdev}");

    let call = Call::new("stats", &["values", "scale"], &["mean"]);
    call.input("values", b"[1.0, 3.0]").input("scale", b"10");
    call.run(&common::demo_worker()).expect("runs");
    assert_eq!(call.output("mean"), Some(Value::Float(20.0)));
}

#[test]
fn bytes_inputs_are_raw_and_bytes_outputs_nested() {
    let call = Call::new("misc", &["a", "b", "c", "d", "e"], &["value"]);
    // "12" is JSON, but a `bytes` port takes the file as it is.
    call.input("a", b"7")
        .input("b", b"12")
        .input("c", br#"{"k": [1]}"#);
    call.run(&common::demo_worker()).expect("runs");
    let text = String::from_utf8(call.file("outputs/value").expect("out")).expect("utf8");
    assert_eq!(
        text,
        "[\n  {\n    \"__tkr_bytes__\": true,\n    \"bytes\": \"MTI=\"\n  },\n  {\n    \"__tkr_bytes__\": true,\n    \"bytes\": \"Nw==\"\n  }\n]"
    );
}

#[test]
fn missing_required_input_file_names_the_port() {
    let call = Call::new("greet", &["greeting", "subject"], &["value"]);
    call.input("greeting", br#""hi""#);
    let err = call.run(&common::demo_worker()).expect_err("fails");
    // The reference's message.
    assert_eq!(
        err.to_string(),
        "Input subject not found at wf/-.N0/in_subject."
    );
    assert_eq!(
        call.error_text().as_deref(),
        Some(format!("{err}\n").as_str())
    );
    assert!(!call.done());
    assert_eq!(call.output("value"), None);
}

#[test]
fn input_port_absent_from_call_args_names_the_port() {
    let call = Call::new("greet", &["greeting"], &["value"]);
    call.input("greeting", br#""hi""#);
    let err = call.run(&common::demo_worker()).expect_err("fails");
    assert_eq!(
        err.to_string(),
        "greet: missing required input port `subject`"
    );
    assert!(call.error_text().expect("error").contains("`subject`"));
}

#[test]
fn wrong_input_type_names_the_port() {
    let call = Call::new("stats", &["values"], &["mean"]);
    call.input("values", br#"[1, "two"]"#);
    let err = call.run(&common::demo_worker()).expect_err("fails");
    assert_eq!(
        call.error_text().expect("error"),
        "stats: invalid input: at `values[1]`: invalid type: string \"two\", expected f64\n"
    );
    assert!(matches!(err, WorkerError::BadInput { .. }));
}

#[test]
fn task_error_is_written_as_its_own_message() {
    let mut w = Worker::new("w");
    w.task("fail", |_: ()| Err::<i64, _>("out of cheese"));
    let call = Call::new("fail", &[], &["value"]);
    let err = call.run(&w).expect_err("fails");
    assert_eq!(err.to_string(), "fail failed: out of cheese");
    assert_eq!(call.error_text().as_deref(), Some("out of cheese\n"));
    assert!(!call.done());
}

#[test]
fn panics_are_caught_and_reported() {
    let mut w = Worker::new("w");
    w.task("boom", |_: ()| -> Result<i64, String> {
        panic!("kaboom {}", 42)
    });
    let call = Call::new("boom", &[], &["value"]);
    let err = call.run(&w).expect_err("fails");
    assert!(matches!(err, WorkerError::Panicked { .. }));
    assert_eq!(
        call.error_text().as_deref(),
        Some("boom panicked: kaboom 42\n")
    );
    assert!(!call.done());
}

#[test]
fn the_error_text_keeps_what_the_log_held_on_lines_of_its_own() {
    let call = Call::new("nope", &[], &["value"]);
    // The node log as tkr leaves it for a warm call, and a task's output
    // cut mid-line.
    std::fs::write(
        call.dir.path().join("wf/-.N0/errors"),
        "tkr: running warm: call 3 of process 7 (worker \"demo_worker\")\nhalf a line",
    )
    .expect("log");
    call.run(&common::demo_worker()).expect_err("fails");
    assert_eq!(
        call.error_text().as_deref(),
        Some(
            "tkr: running warm: call 3 of process 7 (worker \"demo_worker\")\nhalf a line\n\
             demo_worker: function name\nnope not found\n"
        )
    );
}

#[test]
fn unknown_function_is_an_error() {
    let call = Call::new("nope", &[], &["value"]);
    call.run(&common::demo_worker()).expect_err("fails");
    assert_eq!(
        call.error_text().as_deref(),
        Some("demo_worker: function name\nnope not found\n")
    );
}

#[test]
fn requested_output_not_produced_is_an_error() {
    let call = Call::new("stats", &["values"], &["mean", "median"]);
    call.input("values", b"[1]");
    call.run(&common::demo_worker()).expect_err("fails");
    assert_eq!(
        call.error_text().as_deref(),
        Some("stats: no output port `median` (the task produced: mean, stdev)\n")
    );
    assert!(!call.done());
}

#[test]
fn primitive_task_uses_the_storage_directly() {
    let mut w = Worker::new("w");
    w.primitive_task("count_inputs", |args, storage| {
        let n = args.inputs.len() as i64;
        let path = args.outputs.get("value").ok_or("no value port")?;
        storage
            .write_output(path, &Value::int(n).to_bytes())
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    });
    let call = Call::new("count_inputs", &["x", "y"], &["value"]);
    call.run(&w).expect("runs");
    assert_eq!(call.output("value"), Some(Value::int(2)));
    assert!(call.done());

    let call = Call::new("count_inputs", &[], &[]);
    call.run(&w).expect_err("fails");
    assert_eq!(call.error_text().as_deref(), Some("no value port\n"));
}

#[test]
fn unreadable_call_args_are_an_error_without_error_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = FileWorkerStorage::new(dir.path());
    let err = common::demo_worker()
        .run(&storage, Path::new("missing/definition"))
        .expect_err("fails");
    assert!(matches!(err, WorkerError::CallArgs { .. }), "{err}");
}

#[test]
fn works_with_memory_storage() {
    use tierkreis_storage::{MemoryFiles, MemoryWorkerStorage};
    let files = MemoryFiles::new();
    let storage = MemoryWorkerStorage::new(files);
    let args = br#"{"function_name":"greet","inputs":{"greeting":"g","subject":"s"},"outputs":{"value":"o"},"output_dir":"d","done_path":"done","error_path":"err","logs_path":null}"#;
    storage.write_output(Path::new("def"), args).expect("w");
    storage.write_output(Path::new("g"), br#""a""#).expect("w");
    storage.write_output(Path::new("s"), br#""b""#).expect("w");
    common::demo_worker()
        .run(&storage, Path::new("def"))
        .expect("runs");
    assert_eq!(storage.read_input(Path::new("o")).expect("out"), br#""ab""#);
    assert!(storage.read_input(Path::new("done")).is_ok());
}
