//! One behavioural suite for `ControllerStorage`, run against both the file
//! and the in-memory implementation, so that they cannot drift apart.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use tierkreis_core::graph::NodeKind;
use tierkreis_core::{InputLink, Loc, NodeDef, OutputLoc, ValueRef, WorkerCallArgs};
use tierkreis_storage::restart::{delete_node_subtree, restart_task};
use tierkreis_storage::{
    ControllerStorage, ExecutorDebugData, FileControllerStorage, MemoryControllerStorage,
    MemoryFiles, StorageError, WorkerStorage, WorkflowMetaData,
};
use uuid::Uuid;

fn loc(s: &str) -> Loc {
    s.parse().unwrap()
}

fn node(kind: NodeKind, outputs: &[(&str, &[usize])]) -> NodeDef {
    let mut def = NodeDef::new(kind, IndexMap::new());
    for (port, targets) in outputs {
        def.outputs.insert(port.to_string(), targets.to_vec());
    }
    def
}

fn function(name: &str, outputs: &[(&str, &[usize])]) -> NodeDef {
    node(
        NodeKind::Function {
            function_name: name.to_string(),
        },
        outputs,
    )
}

fn eval(outputs: &[(&str, &[usize])]) -> NodeDef {
    node(
        NodeKind::Eval {
            graph: ValueRef::new(-1, "body"),
        },
        outputs,
    )
}

fn output_node() -> NodeDef {
    node(NodeKind::Output, &[])
}

fn loop_node(outputs: &[(&str, &[usize])]) -> NodeDef {
    node(
        NodeKind::Loop {
            body: ValueRef::new(0, "body"),
            continue_port: "should_continue".into(),
            name: None,
        },
        outputs,
    )
}

/// Paths under the workflow folder, relative to it, for comparing layouts.
fn tree<S: ControllerStorage + ?Sized>(s: &S) -> Vec<String> {
    fn walk<S: ControllerStorage + ?Sized>(s: &S, dir: &Path, base: &Path, out: &mut Vec<String>) {
        for p in s.list_subpaths(dir).unwrap() {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            walk(s, &p, base, out);
        }
    }
    let mut out = Vec::new();
    walk(s, s.workflow_dir(), s.workflow_dir(), &mut out);
    out.sort();
    out
}

// ----------------------------------------------------------------------------
// The suite
// ----------------------------------------------------------------------------

fn nodes_start_and_finish<S: ControllerStorage + ?Sized>(s: &S) {
    let n3 = loc("-.N3");
    assert!(!s.is_node_started(&n3));
    assert!(s.read_node_def(&n3).unwrap_err().is_not_found());
    assert_eq!(s.started_time(&n3).unwrap(), None);

    let def = function("builtins.iadd", &[("value", &[4])]);
    s.write_node_def(&n3, &def).unwrap();
    assert!(s.is_node_started(&n3));
    assert_eq!(s.read_node_def(&n3).unwrap(), def);
    assert!(s.started_time(&n3).unwrap().is_some());

    assert!(!s.is_node_finished(&n3));
    assert_eq!(s.finished_time(&n3).unwrap(), None);
    s.mark_node_finished(&n3).unwrap();
    assert!(s.is_node_finished(&n3));
    assert!(s.finished_time(&n3).unwrap().is_some());
    // The parent's metadata is touched (the reference's progress signal).
    assert!(s.exists(&s.metadata_path(&Loc::root())));

    assert!(!s.node_has_error(&n3));
    s.mark_node_error(&n3).unwrap();
    assert!(s.node_has_error(&n3));

    // Finishing the root touches the workflow-level _metadata.
    s.mark_node_finished(&Loc::root()).unwrap();
    assert!(s.exists(&s.workflow_metadata_path()));
}

fn bad_nodedef_is_reported<S: ControllerStorage + ?Sized>(s: &S) {
    let n1 = loc("-.N1");
    s.write(&s.nodedef_path(&n1), b"{not json").unwrap();
    match s.read_node_def(&n1).unwrap_err() {
        StorageError::BadNodeDef { loc, .. } => assert_eq!(loc, "-.N1"),
        other => panic!("expected BadNodeDef, got {other:?}"),
    }
}

/// A node definition cut short (being written in place, or left by a killed
/// controller) reads as not written yet while its node is unfinished, and
/// as bad once the node claims to be finished; writing it again mends it.
fn cut_short_nodedef_is_not_there_yet<S: ControllerStorage + ?Sized>(s: &S) {
    let n2 = loc("-.N2");
    let def = function("builtins.iadd", &[("value", &[4])]);
    let whole = def.to_json();
    for cut in [1, whole.len() / 2, whole.len() - 1] {
        s.write(&s.nodedef_path(&n2), &whole[..cut]).unwrap();
        assert!(s.is_node_started(&n2));
        let err = s.read_node_def(&n2).unwrap_err();
        assert!(err.is_not_found(), "cut at {cut}: {err:?}");
    }
    s.write_node_def(&n2, &def).unwrap();
    assert_eq!(s.read_node_def(&n2).unwrap(), def);
    s.write(&s.nodedef_path(&n2), &whole[..whole.len() - 1])
        .unwrap();
    s.mark_node_finished(&n2).unwrap();
    match s.read_node_def(&n2).unwrap_err() {
        StorageError::BadNodeDef { loc, .. } => assert_eq!(loc, "-.N2"),
        other => panic!("expected BadNodeDef, got {other:?}"),
    }
}

fn outputs_and_links<S: ControllerStorage + ?Sized>(s: &S) {
    let a = loc("-.N0");
    let b = loc("-.N1");
    assert!(s.read_output(&a, "value").unwrap_err().is_not_found());
    assert_eq!(s.read_output_ports(&a).unwrap(), Vec::<String>::new());
    s.write_output(&a, "value", b"42").unwrap();
    s.write_output(&a, "b", b"1").unwrap();
    s.write_output(&a, "a", b"2").unwrap();
    assert_eq!(s.read_output(&a, "value").unwrap(), b"42");
    assert!(s.output_exists(&a, "value"));
    assert!(!s.output_exists(&a, "nope"));
    assert_eq!(s.read_output_ports(&a).unwrap(), vec!["a", "b", "value"]);

    s.link_outputs(&b, "x", &a, "value").unwrap();
    assert_eq!(s.read_output(&b, "x").unwrap(), b"42");
    // Linking again (e.g. on resume) is fine.
    s.link_outputs(&b, "x", &a, "value").unwrap();
    // Linking over a different existing value replaces it.
    s.link_outputs(&b, "x", &a, "a").unwrap();
    assert_eq!(s.read_output(&b, "x").unwrap(), b"2");

    let err = s.link_outputs(&b, "y", &a, "missing").unwrap_err();
    match err {
        StorageError::NotFound { path } => assert_eq!(path, s.output_path(&a, "missing")),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!s.output_exists(&b, "y"));
}

fn workflow_inputs<S: ControllerStorage + ?Sized>(s: &S) {
    s.write_workflow_input("value", b"7").unwrap();
    assert_eq!(s.read_workflow_input("value").unwrap(), b"7");
    s.link_workflow_input(&loc("-.N-1"), "value", "value")
        .unwrap();
    assert_eq!(s.read_output(&loc("-.N-1"), "value").unwrap(), b"7");
    assert!(s.read_workflow_input("nope").unwrap_err().is_not_found());
}

fn worker_call_args_round_trip<S: ControllerStorage + ?Sized, W: WorkerStorage>(s: &S, worker: &W) {
    let task = loc("-.N2.L0.N3");
    let inputs = vec![
        InputLink::new("a", OutputLoc::new(loc("-.N2.L0.N-1"), "value")),
        InputLink::new("b", OutputLoc::new(loc("-.N2.L0.N1"), "out")),
    ];
    let outputs = vec!["value".to_string(), "other".to_string()];
    let rel = s
        .write_worker_call_args(&task, "builtins.iadd", &inputs, &outputs)
        .unwrap();
    let id = s.workflow_id().to_string();
    let wf = PathBuf::from(&id);
    assert_eq!(rel, wf.join("-.N2.L0.N3/definition"));

    let args = s.read_worker_call_args(&task).unwrap();
    let expected = WorkerCallArgs {
        function_name: "builtins.iadd".into(),
        inputs: [
            ("a".to_string(), wf.join("-.N2.L0.N-1/outputs/value")),
            ("b".to_string(), wf.join("-.N2.L0.N1/outputs/out")),
        ]
        .into_iter()
        .collect(),
        outputs: [
            ("value".to_string(), wf.join("-.N2.L0.N3/outputs/value")),
            ("other".to_string(), wf.join("-.N2.L0.N3/outputs/other")),
        ]
        .into_iter()
        .collect(),
        output_dir: wf.join("-.N2.L0.N3/outputs"),
        done_path: wf.join("-.N2.L0.N3/_done"),
        error_path: wf.join("-.N2.L0.N3/logs"),
        logs_path: Some(wf.join("logs")),
    };
    assert_eq!(args, expected);
    // The reference's exact JSON shape (pydantic model_dump_json).
    let raw = String::from_utf8(s.read(&s.call_args_path(&task)).unwrap()).unwrap();
    assert_eq!(
        raw,
        format!(
            concat!(
                r#"{{"function_name":"builtins.iadd","inputs":{{"a":"{id}/-.N2.L0.N-1/outputs/value","b":"{id}/-.N2.L0.N1/outputs/out"}},"#,
                r#""outputs":{{"value":"{id}/-.N2.L0.N3/outputs/value","other":"{id}/-.N2.L0.N3/outputs/other"}},"#,
                r#""output_dir":"{id}/-.N2.L0.N3/outputs","done_path":"{id}/-.N2.L0.N3/_done","error_path":"{id}/-.N2.L0.N3/logs","logs_path":"{id}/logs"}}"#
            ),
            id = id
        )
    );
    // The outputs folder exists, and the parent (-.N2.L0) metadata was touched.
    assert!(s.exists(&s.outputs_dir(&task)));
    assert!(s.exists(&s.metadata_path(&loc("-.N2.L0"))));

    // A worker on the same storage runs the task through the call args.
    s.write_output(&loc("-.N2.L0.N-1"), "value", b"1").unwrap();
    s.write_output(&loc("-.N2.L0.N1"), "out", b"2").unwrap();
    let wargs = worker.read_call_args(&rel).unwrap();
    assert_eq!(wargs, expected);
    let a = worker.read_input(&wargs.inputs["a"]).unwrap();
    let b = worker.read_input(&wargs.inputs["b"]).unwrap();
    assert_eq!((a.as_slice(), b.as_slice()), (&b"1"[..], &b"2"[..]));
    worker.write_output(&wargs.outputs["value"], b"3").unwrap();
    worker
        .write_output(&wargs.output_dir.join("other"), b"4")
        .unwrap();
    assert!(!s.is_node_finished(&task));
    worker.mark_done(&wargs.done_path).unwrap();
    assert!(s.is_node_finished(&task));
    assert_eq!(s.read_output(&task, "value").unwrap(), b"3");
    assert_eq!(s.read_output_ports(&task).unwrap(), vec!["other", "value"]);

    // Globbing the outputs, as fold_values does.
    let mut found = worker.glob(&format!("{id}/-.N2.L0.N3/outputs/*")).unwrap();
    found.sort();
    let expected_glob: Vec<String> = ["other", "value"]
        .iter()
        .map(|p| {
            worker
                .resolve(&wf.join("-.N2.L0.N3/outputs").join(p))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(found, expected_glob);

    // Errors written by the worker are the node's error text.
    worker.write_error(&wargs.error_path, "boom").unwrap();
    assert_eq!(s.read_errors(&task).unwrap(), "boom");

    // A missing input is NotFound, distinct from other failures.
    assert!(worker
        .read_input(Path::new("nope/x"))
        .unwrap_err()
        .is_not_found());
    assert!(worker
        .read_call_args(Path::new("nope/definition"))
        .unwrap_err()
        .is_not_found());
    s.write(&s.call_args_path(&loc("-.N9")), b"[]").unwrap();
    let bad = worker
        .read_call_args(&wf.join("-.N9/definition"))
        .unwrap_err();
    assert!(matches!(bad, StorageError::BadCallArgs { .. }), "{bad:?}");
}

fn errors<S: ControllerStorage + ?Sized>(s: &S) {
    let task = loc("-.N4");
    assert_eq!(s.read_errors(&task).unwrap(), "");
    s.mark_node_error(&task).unwrap();
    assert_eq!(s.read_errors(&task).unwrap(), "");
    s.write_node_errors(&task, "task failed").unwrap();
    assert_eq!(s.read_errors(&task).unwrap(), "task failed");
    assert_eq!(s.read(&s.worker_logs_path(&task)).unwrap(), b"task failed");

    // The root's error text goes to its `_error`.
    let root = Loc::root();
    s.write_node_errors(&root, "workflow failed").unwrap();
    assert_eq!(s.read(&s.error_path(&root)).unwrap(), b"workflow failed");
    assert!(s.node_has_error(&root));
    assert_eq!(s.read_errors(&root).unwrap(), "workflow failed");
}

fn metadata<S: ControllerStorage + ?Sized>(s: &S) {
    assert!(s.read_workflow_metadata().unwrap_err().is_not_found());
    s.write_workflow_metadata().unwrap();
    let meta = s.read_workflow_metadata().unwrap();
    assert_eq!(meta.workflow_id, s.workflow_id().to_string());
    assert_eq!(meta.name.as_deref(), s.name());
    assert_eq!(meta.execution_count, 1);
    assert!(meta.start_time.is_some());
    assert_eq!(meta.completion_time, None);
    assert!(
        !meta.start_time.as_deref().unwrap().contains('+'),
        "naive, like the reference"
    );
    assert_eq!(s.read_workflow_completion_time(), None);
    s.write_workflow_completion_time().unwrap();
    // Like the reference: the workflow _metadata keeps completion_time null,
    // and -/_metadata holds the metadata with the completion time.
    assert_eq!(s.read_workflow_metadata().unwrap().completion_time, None);
    let done: WorkflowMetaData =
        serde_json::from_slice(&s.read(&s.metadata_path(&Loc::root())).unwrap()).unwrap();
    assert!(done.completion_time.is_some());
    assert_eq!(done.start_time, meta.start_time);
    assert_eq!(done.workflow_id, meta.workflow_id);
    assert_eq!(s.read_workflow_completion_time(), done.completion_time);

    let n = loc("-.N1");
    s.write_metadata(&n).unwrap();
    let m = s.read_metadata(&n).unwrap();
    assert_eq!(m["name"], serde_json::json!(s.name()));
    assert!(m["start_time"].as_str().unwrap().ends_with("+00:00"));
}

fn completion_time_over_empty_marker<S: ControllerStorage + ?Sized>(s: &S) {
    // The root finishing touches the workflow _metadata: with no metadata
    // written, it is an empty file, and the reference still records the
    // completion time.
    s.mark_node_finished(&Loc::root()).unwrap();
    s.write_workflow_completion_time().unwrap();
    let raw: serde_json::Value =
        serde_json::from_slice(&s.read(&s.metadata_path(&Loc::root())).unwrap()).unwrap();
    assert!(raw["completion_time"].is_string());
}

fn debug_data<S: ControllerStorage + ?Sized>(s: &S) {
    assert_eq!(s.loc_from_node_name("my_loop").unwrap(), None);
    s.write_debug_data("my_loop", &loc("-.N2")).unwrap();
    s.write_debug_data("other", &loc("-.N5.N1")).unwrap();
    assert_eq!(s.loc_from_node_name("my_loop").unwrap(), Some(loc("-.N2")));
    assert_eq!(s.loc_from_node_name("other").unwrap(), Some(loc("-.N5.N1")));
    assert_eq!(s.loc_from_node_name("unknown").unwrap(), None);
    let raw: serde_json::Value =
        serde_json::from_slice(&s.read(&s.node_debug_path()).unwrap()).unwrap();
    assert_eq!(raw["my_loop"], serde_json::json!({"loop_loc": "-.N2"}));

    let data = ExecutorDebugData {
        executor: "UvExecutor".into(),
        launch_command: "uv run main.py".into(),
        job_id: None,
        env: [("TKR_DIR".to_string(), "/x".to_string())]
            .into_iter()
            .collect(),
        packages: vec![],
    };
    s.write_executor_data(&loc("-.N3"), &data).unwrap();
    assert_eq!(s.read_executor_data(&loc("-.N3")).unwrap(), data);
    assert!(s.exists(&s.workflow_dir().join("debug/executors/-.N3")));
}

fn loops<S: ControllerStorage + ?Sized>(s: &S) {
    let l = loc("-.N2");
    s.write_node_def(&l, &loop_node(&[])).unwrap();
    assert_eq!(s.latest_loop_iteration(&l), loc("-.N2.L0"));
    assert_eq!(s.read_loop_trace(&l, "acc").unwrap(), Vec::<Vec<u8>>::new());
    for i in 0..3u64 {
        s.write_node_def(&l.l(i), &eval(&[])).unwrap();
        s.write_output(&l.l(i), "acc", i.to_string().as_bytes())
            .unwrap();
    }
    assert_eq!(s.latest_loop_iteration(&l), loc("-.N2.L2"));
    assert_eq!(
        s.read_loop_trace(&l, "acc").unwrap(),
        vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]
    );

    s.write_node_def(&loc("-.N3"), &function("f", &[])).unwrap();
    match s.read_loop_trace(&loc("-.N3"), "acc").unwrap_err() {
        StorageError::WrongNodeType {
            expected, found, ..
        } => assert_eq!((expected, found.as_str()), ("loop", "function")),
        other => panic!("expected WrongNodeType, got {other:?}"),
    }
}

fn delete_node_subtree_removes_node_and_descendants<S: ControllerStorage + ?Sized>(s: &S) {
    for l in ["-.N3", "-.N3.N0", "-.N3.N-1", "-.N3.L0.N1", "-.N30", "-.N4"] {
        s.write_node_def(&loc(l), &function("f", &[])).unwrap();
        s.write_output(&loc(l), "value", b"1").unwrap();
    }
    delete_node_subtree(s, &loc("-.N3")).unwrap();
    for l in ["-.N3", "-.N3.N0", "-.N3.N-1", "-.N3.L0.N1"] {
        assert!(!s.exists(&s.node_dir(&loc(l))), "{l} should be deleted");
    }
    for l in ["-.N30", "-.N4"] {
        assert!(s.is_node_started(&loc(l)), "{l} should remain");
    }
    // Deleting what is not there is fine.
    delete_node_subtree(s, &loc("-.N99")).unwrap();
}

/// A checkpoint tree by hand:
/// `-` (eval) with N0 (input) -> N1 (function, the task) -> N2 (function)
/// and N3 (eval with children) -> N4 (output). Restarting N1 deletes N2, N3
/// (and its children) and N4, keeps N0, and un-finishes `-` and N1.
fn restart_task_in_a_graph<S: ControllerStorage + ?Sized>(s: &S) {
    let root = Loc::root();
    s.write_node_def(&root, &eval(&[])).unwrap();
    s.write_node_def(
        &loc("-.N0"),
        &node(NodeKind::Input { name: "x".into() }, &[("x", &[1])]),
    )
    .unwrap();
    s.write_node_def(&loc("-.N1"), &function("f", &[("value", &[2, 3])]))
        .unwrap();
    s.write_node_def(&loc("-.N2"), &function("g", &[("value", &[4])]))
        .unwrap();
    s.write_node_def(&loc("-.N3"), &eval(&[("value", &[4])]))
        .unwrap();
    s.write_node_def(&loc("-.N3.N0"), &function("h", &[]))
        .unwrap();
    s.write_output(&loc("-.N3.N-1"), "body", b"{}").unwrap();
    s.write_node_def(&loc("-.N4"), &output_node()).unwrap();
    for l in ["-", "-.N0", "-.N1", "-.N2", "-.N3", "-.N3.N0", "-.N4"] {
        s.write_output(&loc(l), "value", b"1").unwrap();
        s.mark_node_finished(&loc(l)).unwrap();
    }
    s.mark_node_error(&loc("-.N1")).unwrap();
    s.write_node_errors(&loc("-.N1"), "failed once").unwrap();
    s.write_metadata(&loc("-.N1")).unwrap();

    let deps = restart_task(s, &loc("-.N1")).unwrap();
    assert_eq!(deps, vec![loc("-.N2"), loc("-.N3"), loc("-.N4")]);
    for l in ["-.N2", "-.N3", "-.N3.N0", "-.N3.N-1", "-.N4"] {
        assert!(!s.exists(&s.node_dir(&loc(l))), "{l} should be deleted");
    }
    // N0 is untouched.
    assert!(s.is_node_finished(&loc("-.N0")));
    assert_eq!(s.read_output(&loc("-.N0"), "value").unwrap(), b"1");
    // The root is partially invalidated: started, not finished, no outputs.
    assert!(s.is_node_started(&root));
    assert!(!s.is_node_finished(&root));
    assert_eq!(s.read_output_ports(&root).unwrap(), Vec::<String>::new());
    // The task is not started, not finished, has no outputs and no error.
    let n1 = loc("-.N1");
    assert!(!s.is_node_started(&n1));
    assert!(!s.is_node_finished(&n1));
    assert!(!s.node_has_error(&n1));
    assert_eq!(s.read_errors(&n1).unwrap(), "");
    assert_eq!(s.read_output_ports(&n1).unwrap(), Vec::<String>::new());
    // Its metadata stays.
    assert!(s.read_metadata(&n1).is_ok());

    // Only function nodes can be restarted.
    match restart_task(s, &root).unwrap_err() {
        StorageError::WrongNodeType {
            expected, found, ..
        } => assert_eq!((expected, found.as_str()), ("function", "eval")),
        other => panic!("expected WrongNodeType, got {other:?}"),
    }
    assert!(restart_task(s, &loc("-.N77")).unwrap_err().is_not_found());
}

/// Restarting a task inside loop iteration L1 of loop N5 deletes the later
/// iterations, the iteration's output node, and the loop's consumer N6.
fn restart_task_in_a_loop<S: ControllerStorage + ?Sized>(s: &S) {
    s.write_node_def(&Loc::root(), &eval(&[])).unwrap();
    s.write_node_def(&loc("-.N5"), &loop_node(&[("value", &[6])]))
        .unwrap();
    s.write_node_def(&loc("-.N6"), &function("consumer", &[]))
        .unwrap();
    for i in 0..3 {
        let it = loc("-.N5").l(i);
        s.write_node_def(&it, &eval(&[])).unwrap();
        s.write_node_def(&it.n(0), &function("step", &[("value", &[1])]))
            .unwrap();
        s.write_node_def(&it.n(1), &output_node()).unwrap();
        s.write_output(&it.n(0), "value", b"1").unwrap();
        s.mark_node_finished(&it.n(0)).unwrap();
        s.mark_node_finished(&it).unwrap();
    }
    s.mark_node_finished(&loc("-.N5")).unwrap();

    let deps = restart_task(s, &loc("-.N5.L1.N0")).unwrap();
    assert_eq!(deps, vec![loc("-.N5.L1.N1"), loc("-.N5.L2"), loc("-.N6")]);
    assert!(!s.exists(&s.node_dir(&loc("-.N5.L2"))));
    assert!(!s.exists(&s.node_dir(&loc("-.N5.L2.N0"))));
    assert!(!s.exists(&s.node_dir(&loc("-.N6"))));
    assert!(!s.is_node_started(&loc("-.N5.L1.N0")));
    assert!(!s.is_node_finished(&loc("-.N5.L1")));
    assert!(!s.is_node_finished(&loc("-.N5")));
    assert!(s.is_node_started(&loc("-.N5.L1")));
    // Iteration 0 is untouched.
    assert!(s.is_node_finished(&loc("-.N5.L0")));
    assert!(s.is_node_finished(&loc("-.N5.L0.N0")));
    assert_eq!(s.latest_loop_iteration(&loc("-.N5")), loc("-.N5.L1"));
}

fn layout_matches_reference_names<S: ControllerStorage + ?Sized>(s: &S) {
    let n = loc("-.N2");
    s.write_node_def(&n, &function("f", &[])).unwrap();
    s.write_worker_call_args(&n, "f", &[], &["value".to_string()])
        .unwrap();
    s.write_output(&n, "value", b"1").unwrap();
    s.mark_node_finished(&n).unwrap();
    s.write_metadata(&Loc::root()).unwrap();
    s.write_workflow_input("body", b"{}").unwrap();
    s.write_workflow_metadata().unwrap();
    s.write_executor_data(
        &n,
        &ExecutorDebugData {
            executor: "e".into(),
            launch_command: "c".into(),
            job_id: Some("1".into()),
            env: Default::default(),
            packages: vec!["p".into()],
        },
    )
    .unwrap();
    assert_eq!(
        tree(s),
        vec![
            "-",
            "-.N2",
            "-.N2/_done",
            "-.N2/definition",
            "-.N2/nodedef",
            "-.N2/outputs",
            "-.N2/outputs/value",
            "-/_metadata",
            ".N-1",
            ".N-1/outputs",
            ".N-1/outputs/body",
            "_metadata",
            "debug",
            "debug/executors",
            "debug/executors/-.N2",
        ]
    );
}

// ----------------------------------------------------------------------------
// Running the suite against both implementations
// ----------------------------------------------------------------------------

type Case = fn(&dyn ControllerStorage);

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        const CASES: &[(&str, Case)] = &[$((stringify!($name), |s| $name(s))),*];
    };
}

cases!(
    nodes_start_and_finish,
    bad_nodedef_is_reported,
    cut_short_nodedef_is_not_there_yet,
    outputs_and_links,
    workflow_inputs,
    errors,
    metadata,
    completion_time_over_empty_marker,
    debug_data,
    loops,
    delete_node_subtree_removes_node_and_descendants,
    restart_task_in_a_graph,
    restart_task_in_a_loop,
    layout_matches_reference_names,
);

fn name() -> Option<String> {
    Some("suite".to_string())
}

#[test]
fn suite_on_file_storage() {
    for (case, run) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), name());
        eprintln!("file: {case}");
        run(&s);
    }
}

#[test]
fn suite_on_memory_storage() {
    for (case, run) in CASES {
        let s = MemoryControllerStorage::new(MemoryFiles::new(), Uuid::new_v4(), name());
        eprintln!("memory: {case}");
        run(&s);
    }
}

#[test]
fn worker_protocol_on_file_storage() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), None);
    let worker = tierkreis_storage::FileWorkerStorage::new(dir.path());
    worker_call_args_round_trip(&s, &worker);
}

#[test]
fn worker_protocol_on_memory_storage() {
    let s = MemoryControllerStorage::new(MemoryFiles::new(), Uuid::new_v4(), None);
    let worker = s.worker_storage();
    worker_call_args_round_trip(&s, &worker);
}

#[test]
fn the_two_storages_lay_out_the_same_tree() {
    // Run the same sequence on both and compare every path.
    let dir = tempfile::tempdir().unwrap();
    let id = Uuid::new_v4();
    let file = FileControllerStorage::new(dir.path(), id, name());
    let mem = MemoryControllerStorage::new(MemoryFiles::new(), id, name());
    for s in [&file as &dyn ControllerStorage, &mem] {
        restart_task_in_a_graph(s);
        restart_task_in_a_loop(s);
        delete_node_subtree_removes_node_and_descendants(s);
        debug_data(s);
    }
    assert!(tree(&file).len() > 20);
    assert_eq!(tree(&file), tree(&mem));
}
