//! `embedded::run_workflow`, the one-call entry point the Python package
//! uses: new runs, refusals that lose nothing, resume, restart and stop.

use std::path::Path;

use indexmap::IndexMap;
use tierkreis_controller::embedded::{run_workflow, EngineError, EngineSettings, WorkflowStart};
use tierkreis_controller::runtime::RunEventChannel;
use tierkreis_controller::scheduler::Outcome;
use tierkreis_core::{GraphData, Loc};
use tierkreis_storage::{ControllerStorage, FileControllerStorage};
use tierkreis_test_support::graphs::iadd_chain_graph;
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
        RunEventChannel::new(),
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
        RunEventChannel::new(),
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
        RunEventChannel::new(),
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
            RunEventChannel::new(),
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
    let events = RunEventChannel::new();
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
                RunEventChannel::new(),
                &mut |_| {},
            )
            .expect("resume");
            assert_eq!(resumed.outcome, Outcome::Finished);
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
    assert_eq!(value(dir.path(), id), "24");
}

fn breakpoint_run(id: Uuid) -> WorkflowStart {
    WorkflowStart::New {
        graph: Box::new(
            GraphData::from_json(
                // 1 + 2 at -.N2, + 2 at -.N3, + 2 at -.N4; each a breakpoint.
                iadd_chain_graph(3, &[2, 3, 4]).as_bytes(),
            )
            .expect("graph"),
        ),
        inputs: IndexMap::new(),
        workflow_id: id,
        name: None,
    }
}

fn with_breakpoints(dir: &Path, only_these: bool) -> EngineSettings {
    EngineSettings {
        breakpoints: tierkreis_controller::scheduler::Breakpoints {
            from_metadata: true,
            ..Default::default()
        },
        only_these_breakpoints: only_these,
        ..settings(dir)
    }
}

#[test]
fn breakpoints_pause_a_run_and_each_resume_steps_to_the_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    let mut report = run_workflow(
        breakpoint_run(id),
        &with_breakpoints(dir.path(), true),
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect("the run");
    let mut pauses = Vec::new();
    while let Outcome::Paused(locs) = &report.outcome {
        pauses.push(locs.clone());
        assert!(
            pauses.len() <= 3,
            "more pauses than breakpoints: {pauses:?}"
        );
        // The drop-in's resume_graph(enable_breakpoints=True).
        report = run_workflow(
            WorkflowStart::Resume { workflow_id: id },
            &with_breakpoints(dir.path(), true),
            RunEventChannel::new(),
            &mut |_| {},
        )
        .expect("resume");
    }
    let root = Loc::root();
    assert_eq!(
        pauses,
        vec![vec![root.n(2)], vec![root.n(3)], vec![root.n(4)]]
    );
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(value(dir.path(), id), "7");
}

#[test]
fn a_resume_with_only_these_breakpoints_and_none_runs_past_the_pause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    let first = run_workflow(
        breakpoint_run(id),
        &with_breakpoints(dir.path(), true),
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect("the run");
    assert_eq!(first.outcome, Outcome::Paused(vec![Loc::root().n(2)]));
    // Without only_these_breakpoints (`tkr resume`), the run keeps its own.
    let kept = run_workflow(
        WorkflowStart::Resume { workflow_id: id },
        &settings(dir.path()),
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect("resume keeping the run's breakpoints");
    assert_eq!(kept.outcome, Outcome::Paused(vec![Loc::root().n(3)]));
    // The reference's resume_graph(enable_breakpoints=False): to the end.
    let past = run_workflow(
        WorkflowStart::Resume { workflow_id: id },
        &EngineSettings {
            only_these_breakpoints: true,
            ..settings(dir.path())
        },
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect("resume without breakpoints");
    assert_eq!(past.outcome, Outcome::Finished);
    assert_eq!(value(dir.path(), id), "7");
    assert!(!dir
        .path()
        .join(id.to_string())
        .join("debug/breakpoints")
        .join("-.N3")
        .exists());
}

#[test]
fn a_break_at_naming_nothing_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    let err = run_workflow(
        breakpoint_run(id),
        &EngineSettings {
            breakpoints: tierkreis_controller::scheduler::Breakpoints {
                break_at: vec!["builtins.no_such_function".to_string()],
                ..Default::default()
            },
            ..settings(dir.path())
        },
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect_err("an unknown selector");
    assert!(
        matches!(&err, EngineError::UnknownBreakpoints { selectors } if selectors == &["builtins.no_such_function".to_string()])
    );
    assert!(err.to_string().contains("builtins.no_such_function"));
    assert!(!dir.path().join(id.to_string()).exists());
}

#[test]
fn a_run_records_its_settings_and_a_resume_reuses_them_with_the_given_ones_on_top() {
    use tierkreis_controller::engine::RunSettings;
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::new_v4();
    let registry = dir.path().join("registry");
    let started = EngineSettings {
        run: RunSettings {
            registries: vec![registry.clone()],
            task_timeout: Some(30.0),
            warm_prestart: true,
            ..RunSettings::default()
        },
        ..settings(dir.path())
    };
    run_workflow(
        new_run(id, 3),
        &started,
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect("the run");
    let storage = FileControllerStorage::new(dir.path(), id, None);
    let recorded = RunSettings::read(&storage)
        .expect("readable")
        .expect("recorded");
    assert_eq!(recorded.registries, vec![registry.clone()]);
    assert_eq!(recorded.task_timeout, Some(30.0));
    assert!(recorded.warm_prestart);

    let resumed = EngineSettings {
        run: RunSettings {
            jobs: Some(1),
            ..RunSettings::default()
        },
        ..settings(dir.path())
    };
    run_workflow(
        WorkflowStart::Resume { workflow_id: id },
        &resumed,
        RunEventChannel::new(),
        &mut |_| {},
    )
    .expect("resume");
    let now = RunSettings::read(&storage)
        .expect("readable")
        .expect("recorded");
    assert_eq!(now.registries, vec![registry]);
    assert_eq!(now.task_timeout, Some(30.0));
    assert_eq!(now.jobs, Some(1));
}
