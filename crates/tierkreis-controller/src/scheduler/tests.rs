//! The core against in-memory storage, with tasks completed by hand: what
//! it launches, when, and what it writes.

use std::sync::Arc;

use indexmap::IndexMap;
use tierkreis_core::{GraphData, InputLink, Loc, OutputLoc};
use tierkreis_storage::{ControllerStorage, MemoryControllerStorage, MemoryFiles, StorageError};

use super::{
    stall_explanation, AwaitedInput, AwaitedSourceState, Breakpoints, GraphInfo, NestedGraphKind,
    NestedGraphReuse, NestedGraphReuseOutcome, Outcome, ReadyTask, Scheduler, WaitingNode,
};
use crate::runtime::start_workflow;

fn storage() -> MemoryControllerStorage {
    MemoryControllerStorage::new(MemoryFiles::new(), uuid::Uuid::from_u128(1), None)
}

fn setup(
    storage: &MemoryControllerStorage,
    graph: &str,
    inputs: &[(&str, &str)],
) -> Arc<GraphInfo> {
    let graph_data = GraphData::from_json(graph.as_bytes()).expect("graph");
    let inputs = inputs
        .iter()
        .map(|(port, value)| (port.to_string(), value.as_bytes().to_vec()))
        .collect();
    start_workflow(storage, &graph_data, &inputs).expect("start");
    GraphInfo::prepare(graph_data).expect("prepare")
}

/// Completes a launched task the way a worker would: outputs, then `_done`.
fn complete(
    scheduler: &mut Scheduler<'_>,
    store: &dyn ControllerStorage,
    launch: &ReadyTask,
    value: &str,
) {
    for port in &launch.outputs {
        store
            .write_output(&launch.loc, port, value.as_bytes())
            .expect("write");
    }
    store.mark_node_finished(&launch.loc).expect("done");
    scheduler.task_finished(&launch.loc).expect("finished");
}

fn func(name: &str, inputs: &str, consumers: &str) -> String {
    format!(
        r#"{{"type": "function", "function_name": "{name}", "inputs": {inputs}, "outputs": {{"value": {consumers}}}}}"#
    )
}

fn graph(nodes: &[String], output_idx: usize, inputs: &str) -> String {
    format!(
        r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": {inputs}, "graph_output_idx": {output_idx}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
        nodes.join(",")
    )
}

const CONST_1: &str = r#"{"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}}"#;

/// Starts `graph_json` without validating it (validation rejects the
/// graphs that could stall, so this is the only way to make one).
fn start_unvalidated<'storage>(
    store: &'storage MemoryControllerStorage,
    graph_json: &str,
) -> Scheduler<'storage> {
    let graph_data = GraphData::from_json(graph_json.as_bytes()).expect("graph");
    assert!(
        graph_data.validate().is_err(),
        "the graph should be invalid"
    );
    start_workflow(store, &graph_data, &IndexMap::new()).expect("start");
    let info = GraphInfo::derive(graph_data).expect("derive");
    Scheduler::new(store, info, false).expect("new")
}

#[test]
fn a_stalled_run_names_each_waiting_node_and_the_inputs_it_waits_for() {
    let store = storage();
    // N0 and N1 read each other: neither can start, nor can the output.
    let graph_json = graph(
        &[
            func("w.a", r#"{"x": [1, "value"]}"#, "[1, 2]"),
            func("w.b", r#"{"y": [0, "value"]}"#, "[0]"),
            r#"{"type": "output", "inputs": {"out": [0, "value"]}, "outputs": {}}"#.to_string(),
        ],
        2,
        "[]",
    );
    let scheduler = start_unvalidated(&store, &graph_json);
    assert!(scheduler.launches.is_empty() && scheduler.running.is_empty());
    let Outcome::Stalled(waiting) = scheduler.outcome() else {
        panic!("not stalled: {:?}", scheduler.outcome());
    };
    let root = Loc::root();
    let awaited = |port: &str, source: i64| AwaitedInput {
        port: port.to_string(),
        source: root.n(source),
        source_port: "value".to_string(),
        source_state: AwaitedSourceState::Waiting,
    };
    assert_eq!(
        waiting,
        vec![
            WaitingNode {
                loc: root.n(0),
                description: "function w.a".to_string(),
                waits_for: vec![awaited("x", 1)],
            },
            WaitingNode {
                loc: root.n(1),
                description: "function w.b".to_string(),
                waits_for: vec![awaited("y", 0)],
            },
            WaitingNode {
                loc: root.n(2),
                description: "output".to_string(),
                waits_for: vec![awaited("out", 0)],
            },
        ]
    );
    expect_test::expect![[r#"
        stalled because 3 node(s) wait for values that will never come:
          - -.N0 (function w.a) waits for input "x" from -.N1 port "value" (itself waiting)
          - -.N1 (function w.b) waits for input "y" from -.N0 port "value" (itself waiting)
          - -.N2 (output) waits for input "out" from -.N0 port "value" (itself waiting)"#]]
    .assert_eq(&stall_explanation(&waiting));
}

#[test]
fn a_lazy_ifelse_waiting_for_its_chosen_branch_says_so() {
    let store = storage();
    // The predicate is true; the true branch (N2) reads N3, which reads N2.
    let graph_json = graph(
        &[
            r#"{"type": "const", "value": true, "inputs": {}, "outputs": {"value": [1]}}"#
                .to_string(),
            r#"{"type": "ifelse", "pred": [0, "value"], "if_true": [2, "value"], "if_false": [0, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
            func("w.t", r#"{"x": [3, "value"]}"#, "[1, 3]"),
            func("w.u", r#"{"y": [2, "value"]}"#, "[2]"),
            r#"{"type": "output", "inputs": {"out": [1, "value"]}, "outputs": {}}"#.to_string(),
        ],
        4,
        "[]",
    );
    let scheduler = start_unvalidated(&store, &graph_json);
    let Outcome::Stalled(waiting) = scheduler.outcome() else {
        panic!("not stalled: {:?}", scheduler.outcome());
    };
    let text = stall_explanation(&waiting);
    // The ifelse has started (its predicate was read) and waits for the branch.
    assert!(
        text.contains(
            r#"-.N1 (ifelse) waits for input "if_true" from -.N2 port "value" (itself waiting)"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"-.N2 (function w.t) waits for input "x" from -.N3 port "value""#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"-.N4 (output) waits for input "out" from -.N1 port "value" (started, not finished)"#
        ),
        "{text}"
    );
}

#[test]
fn a_task_is_launched_once_its_inputs_exist_and_its_output_finishes_the_run() {
    let store = storage();
    let graph_json = graph(
        &[
            r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#.to_string(),
            func("w.double", r#"{"a": [0, "x"]}"#, "[2]"),
            r#"{"type": "output", "inputs": {"out": [1, "value"]}, "outputs": {}}"#.to_string(),
        ],
        2,
        r#"["x"]"#,
    );
    let info = setup(&store, &graph_json, &[("x", "21")]);
    let mut scheduler = Scheduler::new(&store, info, false).expect("new");
    let launches = scheduler.take_launches();
    assert_eq!(launches.len(), 1);
    let launch = &launches[0];
    assert_eq!(
        (launch.worker.as_str(), launch.function.as_str()),
        ("w", "double")
    );
    assert_eq!(launch.loc.as_str(), "-.N1");
    assert_eq!(
        launch.inputs,
        vec![InputLink::new("a", OutputLoc::new(Loc::root().n(0), "x"))]
    );
    assert_eq!(
        store
            .read_output(&Loc::root().n(0), "x")
            .expect("input linked"),
        b"21"
    );
    assert_eq!(scheduler.outcome(), Outcome::Running);
    complete(&mut scheduler, &store, launch, "42");
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    assert_eq!(
        store.read_output(&Loc::root(), "out").expect("output"),
        b"42"
    );
    assert!(store.is_node_finished(&Loc::root()));
}

/// A recording fake of the result cache for nested graphs: reuses
/// (writing `value` = 7 and `_done`, as the cache would) or misses.
struct FakeNestedGraphReuse {
    reuse: bool,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl NestedGraphReuse for FakeNestedGraphReuse {
    fn reuse(
        &self,
        loc: &Loc,
        kind: &NestedGraphKind,
        links: &[InputLink],
        storage: &dyn ControllerStorage,
    ) -> Result<NestedGraphReuseOutcome, StorageError> {
        let mut ports: Vec<&str> = links.iter().map(|link| link.input_port.as_str()).collect();
        ports.sort_unstable();
        self.log.lock().expect("log").push(format!(
            "ask {loc} {} {}",
            kind.name(),
            ports.join(",")
        ));
        if !self.reuse {
            return Ok(NestedGraphReuseOutcome::Miss { key: "k1".into() });
        }
        storage.write_output(loc, "value", b"7")?;
        storage.mark_node_finished(loc)?;
        Ok(NestedGraphReuseOutcome::Reused)
    }

    fn finished(&self, key: String, loc: &Loc, kind: NestedGraphKind) {
        self.log
            .lock()
            .expect("log")
            .push(format!("finished {loc} {} {key}", kind.name()));
    }
}

/// `eval(body, x = 1)` where the body is `w.inc(x)`: the eval is -.N2.
fn eval_graph() -> String {
    let body = graph(
        &[
            r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#.to_string(),
            func("w.inc", r#"{"x": [0, "x"]}"#, "[2]"),
            r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#.to_string(),
        ],
        2,
        r#"["x"]"#,
    );
    graph(
        &[
            r#"{"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}}"#
                .to_string(),
            format!(
                r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#
            ),
            r#"{"type": "eval", "graph": [1, "value"], "inputs": {"x": [0, "value"]}, "outputs": {"value": [3]}}"#
                .to_string(),
            r#"{"type": "output", "inputs": {"out": [2, "value"]}, "outputs": {}}"#.to_string(),
        ],
        3,
        "[]",
    )
}

type ReuseLog = Arc<std::sync::Mutex<Vec<String>>>;

/// A scheduler over `eval_graph()` in `store` asking a fake that reuses
/// (or misses), with `breakpoints`; and the fake's log.
fn scheduler_with_fake_reuse(
    store: &MemoryControllerStorage,
    reuse: bool,
    breakpoints: Breakpoints,
) -> (Scheduler<'_>, ReuseLog) {
    let info = setup(store, &eval_graph(), &[]);
    let log: ReuseLog = Arc::default();
    let fake = FakeNestedGraphReuse {
        reuse,
        log: log.clone(),
    };
    let scheduler =
        Scheduler::with_nested_graph_reuse(store, info, false, breakpoints, Some(Box::new(fake)))
            .expect("new");
    (scheduler, log)
}

#[test]
fn a_reused_nested_graph_finishes_its_node_without_running_inside() {
    let store = storage();
    let (mut scheduler, log) = scheduler_with_fake_reuse(&store, true, Breakpoints::default());
    assert!(
        scheduler.take_launches().is_empty(),
        "a reused eval ran its body"
    );
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    assert_eq!(
        store.read_output(&Loc::root(), "out").expect("output"),
        b"7"
    );
    assert_eq!(*log.lock().expect("log"), ["ask -.N2 eval body,x"]);
    assert!(!store.is_node_started(&Loc::root().n(2).n(1)));
}

#[test]
fn a_missed_nested_graph_runs_and_is_reported_finished_with_its_key() {
    let store = storage();
    let (mut scheduler, log) = scheduler_with_fake_reuse(&store, false, Breakpoints::default());
    let launches = scheduler.take_launches();
    assert_eq!(launches.len(), 1);
    assert_eq!(launches[0].loc.as_str(), "-.N2.N1");
    assert_eq!(*log.lock().expect("log"), ["ask -.N2 eval body,x"]);
    complete(&mut scheduler, &store, &launches[0], "2");
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    assert_eq!(
        store.read_output(&Loc::root(), "out").expect("output"),
        b"2"
    );
    assert_eq!(
        *log.lock().expect("log"),
        ["ask -.N2 eval body,x", "finished -.N2 eval k1"]
    );
}

#[test]
fn nested_graphs_are_not_reused_while_breakpoints_are_on() {
    let store = storage();
    let breakpoints = Breakpoints {
        break_at: vec!["-.N9".to_string()],
        ..Breakpoints::default()
    };
    let (mut scheduler, log) = scheduler_with_fake_reuse(&store, true, breakpoints);
    assert_eq!(scheduler.take_launches().len(), 1, "the body must run");
    assert!(log.lock().expect("log").is_empty());
}

#[test]
fn lazy_ifelse_runs_only_the_chosen_branch() {
    let store = storage();
    let graph_json = graph(
        &[
            r#"{"type": "const", "value": false, "inputs": {}, "outputs": {"value": [3]}}"#.to_string(),
            func("w.yes", "{}", "[3]"),
            func("w.no", "{}", "[3]"),
            r#"{"type": "ifelse", "pred": [0, "value"], "if_true": [1, "value"], "if_false": [2, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
            r#"{"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}"#.to_string(),
        ],
        4,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    let mut scheduler = Scheduler::new(&store, info, false).expect("new");
    let launches = scheduler.take_launches();
    let names: Vec<&str> = launches
        .iter()
        .map(|launch| launch.function.as_str())
        .collect();
    assert_eq!(names, ["no"]);
    complete(&mut scheduler, &store, &launches[0], "\"b\"");
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    assert!(
        !store.is_node_started(&Loc::root().n(1)),
        "the other branch never starts"
    );
    assert_eq!(
        store.read_output(&Loc::root(), "value").expect("out"),
        b"\"b\""
    );
}

#[test]
fn an_ifelse_predicate_other_than_true_chooses_the_false_branch_like_the_reference() {
    for predicate in ["1", "\"true\"", "null"] {
        let store = storage();
        let graph_json = graph(
            &[
                format!(r#"{{"type": "const", "value": {predicate}, "inputs": {{}}, "outputs": {{"value": [3]}}}}"#),
                func("w.yes", "{}", "[3]"),
                func("w.no", "{}", "[3]"),
                r#"{"type": "ifelse", "pred": [0, "value"], "if_true": [1, "value"], "if_false": [2, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
                r#"{"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}"#.to_string(),
            ],
            4,
            "[]",
        );
        let info = setup(&store, &graph_json, &[]);
        let mut scheduler = Scheduler::new(&store, info, false).expect("new");
        let names: Vec<String> = scheduler
            .take_launches()
            .into_iter()
            .map(|launch| launch.function)
            .collect();
        assert_eq!(names, ["no"], "predicate {predicate}");
    }
}

#[test]
fn eager_ifelse_runs_both_branches() {
    let store = storage();
    let graph_json = graph(
        &[
            r#"{"type": "const", "value": true, "inputs": {}, "outputs": {"value": [3]}}"#.to_string(),
            func("w.yes", "{}", "[3]"),
            func("w.no", "{}", "[3]"),
            r#"{"type": "eifelse", "pred": [0, "value"], "if_true": [1, "value"], "if_false": [2, "value"], "inputs": {}, "outputs": {"value": [4]}}"#.to_string(),
            r#"{"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}"#.to_string(),
        ],
        4,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    let mut scheduler = Scheduler::new(&store, info, false).expect("new");
    let launches = scheduler.take_launches();
    assert_eq!(launches.len(), 2, "independent tasks are launched together");
    complete(&mut scheduler, &store, &launches[0], "1");
    assert_eq!(scheduler.outcome(), Outcome::Running);
    complete(&mut scheduler, &store, &launches[1], "2");
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    assert_eq!(store.read_output(&Loc::root(), "value").expect("out"), b"1");
}

#[test]
fn after_a_failure_nothing_new_is_launched_and_the_run_fails_once_idle() {
    let store = storage();
    let graph_json = graph(
        &[
            CONST_1.to_string(),
            func("w.a", r#"{"x": [0, "value"]}"#, "[2]"),
            func("w.b", r#"{"x": [1, "value"]}"#, "[4]"),
            func("w.c", "{}", "[4]"),
            r#"{"type": "output", "inputs": {"b": [2, "value"], "c": [3, "value"]}, "outputs": {}}"#.to_string(),
        ],
        4,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    let mut scheduler = Scheduler::new(&store, info, false).expect("new");
    let launches = scheduler.take_launches();
    let names: Vec<&str> = launches
        .iter()
        .map(|launch| launch.function.as_str())
        .collect();
    assert_eq!(names, ["c", "a"]);
    scheduler.task_failed(&launches[1].loc).expect("failed");
    assert_eq!(scheduler.outcome(), Outcome::Running, "c still runs");
    complete(&mut scheduler, &store, &launches[0], "3");
    assert!(scheduler.take_launches().is_empty());
    assert_eq!(scheduler.outcome(), Outcome::Failed(vec![Loc::root().n(1)]));
}

#[test]
fn a_map_launches_every_element_at_once_and_names_outputs_by_element() {
    let store = storage();
    let body = graph(
        &[
            r#"{"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}}"#.to_string(),
            func("w.sq", r#"{"a": [0, "x"]}"#, "[2]"),
            r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#.to_string(),
        ],
        2,
        r#"["x"]"#,
    );
    let graph_json = graph(
        &[
            format!(r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#),
            r#"{"type": "function", "function_name": "w.unfold", "inputs": {}, "outputs": {"*": [2]}}"#.to_string(),
            r#"{"type": "map", "body": [0, "value"], "inputs": {"x": [1, "*"]}, "outputs": {"value-*": [3]}}"#.to_string(),
            r#"{"type": "output", "inputs": {"v": [2, "value-0"]}, "outputs": {}}"#.to_string(),
        ],
        3,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    let mut scheduler = Scheduler::new(&store, info, false).expect("new");
    let unfold = scheduler.take_launches();
    assert_eq!(unfold.len(), 1);
    for element in 0..3 {
        store
            .write_output(
                &unfold[0].loc,
                &element.to_string(),
                element.to_string().as_bytes(),
            )
            .expect("w");
    }
    store.mark_node_finished(&unfold[0].loc).expect("done");
    scheduler.task_finished(&unfold[0].loc).expect("finished");
    let elems = scheduler.take_launches();
    let locs: Vec<&str> = elems.iter().map(|launch| launch.loc.as_str()).collect();
    assert_eq!(locs, ["-.N2.M0.N1", "-.N2.M1.N1", "-.N2.M2.N1"]);
    for launch in &elems {
        let element = store
            .read_output(&launch.inputs[0].source.node, &launch.inputs[0].source.port)
            .expect("element input");
        let element: i64 = String::from_utf8(element)
            .expect("utf8")
            .parse()
            .expect("int");
        complete(
            &mut scheduler,
            &store,
            launch,
            &(element * element).to_string(),
        );
    }
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    let map = Loc::root().n(2);
    assert_eq!(
        store.read_output_ports(&map).expect("ports"),
        ["value-0", "value-1", "value-2"]
    );
    assert_eq!(store.read_output(&map, "value-2").expect("v"), b"4");
}

#[test]
fn a_loop_carries_values_and_stops_when_continue_is_false() {
    let store = storage();
    let body = graph(
        &[
            r#"{"type": "input", "name": "i", "inputs": {}, "outputs": {"i": [1]}}"#.to_string(),
            func("w.step", r#"{"i": [0, "i"]}"#, "[2]"),
            func("w.more", r#"{"i": [1, "value"]}"#, "[3]"),
            r#"{"type": "output", "inputs": {"i": [1, "value"], "go": [2, "value"]}, "outputs": {}}"#.to_string(),
        ],
        3,
        r#"["i"]"#,
    );
    let graph_json = graph(
        &[
            r#"{"type": "const", "value": 0, "inputs": {}, "outputs": {"value": [2]}}"#.to_string(),
            format!(r#"{{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}}"#),
            r#"{"type": "loop", "body": [1, "value"], "inputs": {"i": [0, "value"]}, "continue_port": "go", "name": null, "outputs": {"i": [3]}}"#.to_string(),
            r#"{"type": "output", "inputs": {"value": [2, "i"]}, "outputs": {}}"#.to_string(),
        ],
        3,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    let mut scheduler = Scheduler::new(&store, info, false).expect("new");
    for iter in 0..3u64 {
        let step = scheduler.take_launches();
        assert_eq!(step.len(), 1);
        assert_eq!(step[0].loc, Loc::root().n(2).l(iter).n(1));
        complete(&mut scheduler, &store, &step[0], &(iter + 1).to_string());
        let more = scheduler.take_launches();
        complete(
            &mut scheduler,
            &store,
            &more[0],
            if iter < 2 { "true" } else { "false" },
        );
    }
    assert_eq!(scheduler.outcome(), Outcome::Finished);
    assert_eq!(store.read_output(&Loc::root(), "value").expect("out"), b"3");
    assert!(!store.is_node_started(&Loc::root().n(2).l(3)));
}

#[test]
fn resume_launches_only_unfinished_tasks() {
    let store = storage();
    let graph_json = graph(
        &[
            CONST_1.to_string(),
            func("w.a", r#"{"x": [0, "value"]}"#, "[2]"),
            func("w.b", r#"{"x": [1, "value"]}"#, "[3]"),
            r#"{"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}}"#.to_string(),
        ],
        3,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    {
        let mut scheduler = Scheduler::new(&store, info.clone(), false).expect("new");
        let first = scheduler.take_launches();
        complete(&mut scheduler, &store, &first[0], "5");
        assert_eq!(scheduler.take_launches()[0].function, "b");
        // The controller dies here, with b running.
    }
    let mut scheduler = Scheduler::new(&store, info, true).expect("resume");
    let launches = scheduler.take_launches();
    let names: Vec<&str> = launches
        .iter()
        .map(|launch| launch.function.as_str())
        .collect();
    assert_eq!(names, ["b"]);
    complete(&mut scheduler, &store, &launches[0], "6");
    assert_eq!(scheduler.outcome(), Outcome::Finished);
}

#[test]
fn a_body_that_is_not_a_graph_fails_the_eval_node_with_its_location() {
    let store = storage();
    let graph_json = graph(
        &[
            r#"{"type": "const", "value": 7, "inputs": {}, "outputs": {"value": [1]}}"#.to_string(),
            r#"{"type": "eval", "graph": [0, "value"], "inputs": {}, "outputs": {"value": [2]}}"#
                .to_string(),
            r#"{"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}"#.to_string(),
        ],
        2,
        "[]",
    );
    let info = setup(&store, &graph_json, &[]);
    let scheduler = Scheduler::new(&store, info, false).expect("new");
    assert_eq!(scheduler.outcome(), Outcome::Failed(vec![Loc::root().n(1)]));
    let text = store.read_errors(&Loc::root().n(1)).expect("error text");
    assert!(
        text.contains("-.N0") && text.contains("not a graph"),
        "{text}"
    );
}
