//! `embedded::run_workflow`, the one-call entry point the Python package
//! uses: new runs, refusals that lose nothing, resume, restart and stop.

use std::path::Path;

use indexmap::IndexMap;
use tierkreis_controller::embedded::{run_workflow, EngineError, EngineSettings, WorkflowStart};
use tierkreis_controller::runtime::EventChannel;
use tierkreis_controller::scheduler::Outcome;
use tierkreis_core::{GraphData, Loc};
use tierkreis_storage::{ControllerStorage, FileControllerStorage};
use uuid::Uuid;

fn factorial() -> GraphData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/graphs/factorial.json");
    let bytes = std::fs::read(&path).expect("the example graph");
    GraphData::from_json(&bytes).expect("a valid graph")
}

fn new_run(id: Uuid, n: u32) -> WorkflowStart {
    let mut inputs = IndexMap::new();
    inputs.insert("value".to_string(), n.to_string().into_bytes());
    WorkflowStart::New {
        graph: Box::new(factorial()),
        inputs,
        workflow_id: id,
        name: Some("factorial".to_string()),
    }
}

fn settings(dir: &Path) -> EngineSettings {
    EngineSettings {
        tkr_dir: dir.to_path_buf(),
        ..EngineSettings::default()
    }
}

fn value(dir: &Path, id: Uuid) -> String {
    let storage = FileControllerStorage::new(dir, id, None);
    let bytes = storage
        .read_output(&Loc::root(), "value")
        .expect("an output");
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn a_new_run_finishes_and_a_second_start_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    let report = run_workflow(
        new_run(id, 5),
        &settings(dir.path()),
        EventChannel::new(),
        &mut |_| {},
    )
    .expect("the run");
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.workflow_dir, dir.path().join(id.to_string()));
    assert!(report.progress.finished > 0);
    assert_eq!(value(dir.path(), id), "120");

    let again = run_workflow(
        new_run(id, 6),
        &settings(dir.path()),
        EventChannel::new(),
        &mut |_| {},
    );
    assert!(
        matches!(again, Err(EngineError::AlreadyExists { workflow_id, .. }) if workflow_id == id)
    );
    // Nothing already done was lost.
    assert_eq!(value(dir.path(), id), "120");

    let resumed = run_workflow(
        WorkflowStart::Resume { workflow_id: id },
        &settings(dir.path()),
        EventChannel::new(),
        &mut |_| {},
    )
    .expect("resume of a finished run");
    assert_eq!(resumed.outcome, Outcome::Finished);
}

#[test]
fn resume_and_restart_of_a_missing_run_name_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    for start in [
        WorkflowStart::Resume { workflow_id: id },
        WorkflowStart::Restart {
            workflow_id: id,
            loc: Loc::root().n(2),
        },
    ] {
        let err = run_workflow(
            start,
            &settings(dir.path()),
            EventChannel::new(),
            &mut |_| {},
        )
        .expect_err("no such run");
        assert!(
            matches!(err, EngineError::NoSuchWorkflow { workflow_id, .. } if workflow_id == id)
        );
        assert!(err.to_string().contains(&id.to_string()));
    }
}

#[test]
fn a_stop_before_the_first_event_leaves_the_run_resumable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    let events = EventChannel::new();
    events.stop_handle().stop();
    let stopped = run_workflow(new_run(id, 4), &settings(dir.path()), events, &mut |_| {});
    // Builtins finish in-process before the runtime waits for an event, so
    // the run either finished at once or was stopped; a stopped one resumes.
    match stopped {
        Ok(report) => assert_eq!(report.outcome, Outcome::Finished),
        Err(EngineError::Stopped { workflow_id, .. }) => {
            assert_eq!(workflow_id, id);
            let resumed = run_workflow(
                WorkflowStart::Resume { workflow_id: id },
                &settings(dir.path()),
                EventChannel::new(),
                &mut |_| {},
            )
            .expect("resume");
            assert_eq!(resumed.outcome, Outcome::Finished);
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
    assert_eq!(value(dir.path(), id), "24");
}
