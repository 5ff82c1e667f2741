//! Real quantum workloads: the reference's own quantum graphs, built with its
//! Python builder, run under `tkr` with the published workers
//! (`tkr-aer-worker`, `tkr-pytket-worker`, `tkr-qulacs-worker` from the
//! `*-impl` packages, which `.ci/run` installs into the reference
//! environment), with their outputs checked for correctness.
//!
//! `tkr` runs inside the reference root (through `run.sh`), where those
//! workers are on `PATH`. Each case runs in both modes: the default (warm
//! workers) and `--no-warm` (one process per call).
//!
//! Trials are reported ignored when the reference environment or its quantum
//! workers are missing and `CI` is unset; with `CI` set they fail instead.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::quantum::{int, write_quantum_graphs_py, Case, GhzCircuits};
use common::reference::{availability, json_lines, reference_root, run_sh, Scratch};
use tierkreis_core::Value;

/// The published workers' console scripts the trials need inside the
/// reference root.
const QUANTUM_WORKERS: [&str; 3] = ["tkr-aer-worker", "tkr-pytket-worker", "tkr-qulacs-worker"];

fn main() {
    let trials: Vec<(&'static str, fn(), Mode)> = vec![
        (
            "compile_simulate::aer::warm",
            || ghz("aer", Mode::Warm),
            Mode::Warm,
        ),
        (
            "compile_simulate::aer::no_warm",
            || ghz("aer", Mode::NoWarm),
            Mode::NoWarm,
        ),
        (
            "compile_simulate::qulacs::warm",
            || ghz("qulacs", Mode::Warm),
            Mode::Warm,
        ),
        (
            "compile_simulate::qulacs::no_warm",
            || ghz("qulacs", Mode::NoWarm),
            Mode::NoWarm,
        ),
        (
            "hamiltonian_sweep_equals_the_reference::warm",
            || hamiltonian_sweep(Mode::Warm),
            Mode::Warm,
        ),
        (
            "hamiltonian_sweep_equals_the_reference::no_warm",
            || hamiltonian_sweep(Mode::NoWarm),
            Mode::NoWarm,
        ),
        (
            "report_of_compile_simulate_16_circuits::warm",
            report_of_compile_simulate_16_circuits,
            Mode::Warm,
        ),
        (
            "report_of_a_reference_run_says_what_is_missing",
            report_of_a_reference_run,
            Mode::NoWarm,
        ),
    ];
    let missing = missing();
    let warm = tkr_has_warm_workers();
    let trials = trials
        .into_iter()
        .map(|(name, body, mode)| {
            let trial = common::trial_needing(name, body, missing.clone());
            if mode == Mode::Warm && !warm {
                // Explicit gate while warm workers (`--no-warm`, issue 14)
                // are not in this `tkr`: the warm trials cannot assert that
                // tasks ran warm, so they are reported ignored, not passed.
                eprintln!("{name}: ignored: this tkr has no warm workers (no --no-warm flag)");
                trial.with_ignored_flag(true)
            } else {
                trial
            }
        })
        .collect();
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit()
}

/// Whether this `tkr` has warm workers, i.e. `tkr run` takes `--no-warm`.
fn tkr_has_warm_workers() -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_tkr"))
        .args(["run", "--help"])
        .output()
        .expect("tkr run --help");
    String::from_utf8_lossy(&out.stdout).contains("--no-warm")
}

/// Why the trials cannot run here, if they cannot.
fn missing() -> Option<String> {
    if let Err(why) = availability() {
        return Some(why);
    }
    let bin = reference_root().join("opt/tk/bin");
    let absent: Vec<&str> = QUANTUM_WORKERS
        .into_iter()
        .filter(|w| !bin.join(w).exists())
        .collect();
    (!absent.is_empty()).then(|| {
        format!(
            "the reference environment lacks the quantum workers {absent:?} (in {}): run `TKR_REF_EXTRAS=\"tkr-aer-worker-impl tkr-pytket-worker-impl tkr-qulacs-worker-impl qiskit-aer\" bash ../shared/reference/setup.sh`",
            bin.display()
        )
    })
}

/// How `tkr` runs the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The default: warm worker processes serving many calls.
    Warm,
    /// `--no-warm`: one process per call.
    NoWarm,
}

impl Mode {
    /// `tkr run` options for this mode. Without warm workers in this `tkr`,
    /// one process per call is all it does, so `NoWarm` needs no flag.
    fn options(self) -> &'static [&'static str] {
        match self {
            Mode::Warm => &[],
            Mode::NoWarm if tkr_has_warm_workers() => &["--no-warm"],
            Mode::NoWarm => &[],
        }
    }

    /// The executor every worker task records in `debug/executors/<loc>`.
    fn worker_executor(self) -> &'static str {
        match self {
            Mode::Warm => "tierkreis-rs:python-warm",
            Mode::NoWarm => "tierkreis-rs:binary",
        }
    }
}

/// Checks that every worker task (every task not run by the in-process
/// builtins) of workflow `wf` ran the way `mode` says, as its
/// `debug/executors/<loc>` record tells, and that there was at least one.
fn assert_tasks_ran(wf: &Path, mode: Mode) {
    let mut workers = 0;
    for e in std::fs::read_dir(wf.join("debug/executors"))
        .expect("debug/executors folder")
        .flatten()
    {
        let text = std::fs::read(e.path()).expect("executor record");
        let record = tierkreis_core::json::parse(&text)
            .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        let executor = record
            .as_map()
            .and_then(|m| m.get("executor"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{}: no executor", e.path().display()));
        if executor == "builtin" {
            continue;
        }
        workers += 1;
        assert_eq!(
            executor,
            mode.worker_executor(),
            "task {} ({mode:?})",
            e.file_name().to_string_lossy()
        );
    }
    assert!(workers > 0, "no worker task ran");
}

/// A scratch folder holding the builder script.
fn scratch() -> Scratch {
    let s = Scratch::new();
    write_quantum_graphs_py(s.path());
    s
}

/// `tkr run` of `case` as workflow `id`, inside the reference root (where the
/// published workers are on `PATH`), in `mode`; returns `{port: value}` as
/// `tkr run -o --json` prints it, and panics with the node logs of every
/// failed task if the run fails.
fn tkr_run_in_reference_root(s: &Scratch, case: &Case, id: u128, mode: Mode) -> Value {
    let out = s
        .tkr_in_reference(&[])
        .args(["run", "-q", "-o", "--json", "--run-id", &id.to_string()])
        .args(mode.options())
        .arg("-f")
        .arg(case.graph())
        .args(case.input_args())
        .output()
        .expect("run tkr in the reference root");
    if !out.status.success() {
        panic!(
            "tkr run ({mode:?}) failed: {}\nstderr:\n{}\nlogs of failed tasks:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            failed_task_logs(&s.workflow(id))
        );
    }
    // `--json` prints one object: id, name, status and (with -o) outputs.
    let report = json_lines("tkr run", &out)
        .into_iter()
        .next()
        .expect("tkr run printed no JSON object");
    report
        .as_map()
        .and_then(|m| m.get("outputs"))
        .cloned()
        .unwrap_or_else(|| panic!("tkr run --json -o printed no outputs: {report:?}"))
}

/// The `logs` of every node of `wf` with an `_error` marker.
fn failed_task_logs(wf: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(wf).into_iter().flatten().flatten() {
        if e.path().join("_error").exists() {
            let logs = std::fs::read_to_string(e.path().join("logs")).unwrap_or_default();
            text.push_str(&format!("== {}\n{logs}\n", e.file_name().to_string_lossy()));
        }
    }
    text
}

/// Checks that no task of workflow `wf` failed and that none is left
/// unfinished.
fn assert_every_task_finished(wf: &Path) {
    let unfinished: Vec<String> = common::reference::function_nodes(wf)
        .into_iter()
        .filter(|(_, over)| !over)
        .map(|(loc, _)| loc)
        .collect();
    assert!(unfinished.is_empty(), "unfinished tasks: {unfinished:?}");
    let failed = failed_task_logs(wf);
    assert!(failed.is_empty(), "failed tasks:\n{failed}");
}

/// GHZ circuit sizes and shot counts of the `compile_simulate` trials.
const GHZ_SIZES: [usize; 3] = [2, 3, 5];
const GHZ_SHOTS: [u64; 3] = [10, 25, 40];

/// `tierkreis.graphs.simulate.compile_simulate` on three GHZ circuits with
/// `simulator`: each result has the circuit's width, exactly the requested
/// number of shots, and only all-zeros or all-ones outcomes.
fn ghz(simulator: &str, mode: Mode) {
    let s = scratch();
    let circuits = GhzCircuits {
        sizes: &GHZ_SIZES,
        shots: &GHZ_SHOTS,
    };
    let case = circuits.case(s.path(), simulator);
    let id = 1;
    tkr_run_in_reference_root(&s, &case, id, mode);
    let wf = s.workflow(id);
    assert_every_task_finished(&wf);
    assert_tasks_ran(&wf, mode);

    // The results as the reference decodes them (pytket's BackendResult).
    let value_file = wf.join("-/outputs/value");
    let results = circuits.check_results(s.path(), &value_file, &format!("{simulator}, {mode:?}"));
    assert_pictures_match(&value_file, &results, simulator);
}

/// The web view's pictures of the results (`tierkreis_server::pictures`,
/// what `tkr serve` answers for `.../picture`): one histogram per circuit
/// with exactly pytket's counts and width.
fn assert_pictures_match(value_file: &Path, pytket: &[Value], simulator: &str) {
    use tierkreis_server::pictures::{picture_of_bytes, Picture};
    let bytes = std::fs::read(value_file).expect("the output value");
    let Picture::List { items, total } = picture_of_bytes(&bytes) else {
        panic!("{simulator}: the results are not drawn as a list of histograms");
    };
    assert_eq!((items.len(), total), (pytket.len(), pytket.len()));
    for (i, (item, want)) in items.iter().zip(pytket).enumerate() {
        let Picture::Histogram(h) = item else {
            panic!("{simulator}: result {i} is not a histogram: {item:?}");
        };
        let want = want.as_map().expect("result object");
        assert_eq!(
            Some(h.width as i64),
            want.get("n_qubits").and_then(int),
            "{simulator}: result {i}: width"
        );
        let want_counts: Vec<(String, i64)> = want
            .get("counts")
            .and_then(Value::as_map)
            .expect("counts")
            .iter()
            .map(|(k, n)| (k.clone(), int(n).expect("count")))
            .collect();
        let mut got: Vec<(String, i64)> = h
            .outcomes
            .iter()
            .map(|o| (o.bits.clone(), o.count as i64))
            .collect();
        got.sort();
        let mut want_counts = want_counts;
        want_counts.sort();
        assert_eq!(got, want_counts, "{simulator}: result {i}: counts");
    }
}

/// Seed and shots of the Hamiltonian sweep.
const SWEEP_SEED: &str = "1234";
const SWEEP_SHOTS: &str = "200";

/// The sweep's energies as computed by the reference controller
/// (`run_graph`, file storage, its shell executor), once per test process.
fn reference_energies() -> &'static Value {
    static ENERGIES: OnceLock<Value> = OnceLock::new();
    ENERGIES.get_or_init(|| {
        let s = scratch();
        let case = Case::build(s.path(), "sweep", &["hamiltonian", SWEEP_SEED, SWEEP_SHOTS]);
        let mut args = vec!["run".to_string(), "1".to_string()];
        args.push(case.graph().display().to_string());
        args.extend(case.inputs());
        let out = s.python(args).output().expect("python run_graph");
        json_lines("reference run_graph", &out)
            .into_iter()
            .next()
            .expect("the reference printed no outputs")
    })
}

/// The Hamiltonian sweep (a map over parameter sets, a map over Pauli
/// strings with seeded Aer shots, a weighted fold) gives exactly the
/// reference controller's energies.
fn hamiltonian_sweep(mode: Mode) {
    let want = reference_energies();
    let s = scratch();
    let case = Case::build(s.path(), "sweep", &["hamiltonian", SWEEP_SEED, SWEEP_SHOTS]);
    let id = 2;
    let got = tkr_run_in_reference_root(&s, &case, id, mode);
    assert_every_task_finished(&s.workflow(id));
    assert_tasks_ran(&s.workflow(id), mode);
    let energies = want
        .as_map()
        .and_then(|m| m.get("value"))
        .and_then(Value::as_list)
        .expect("the reference's energies");
    assert_eq!(energies.len(), 2, "one energy per parameter set");
    assert!(
        energies.iter().all(|e| e.as_f64().is_some()),
        "energies are numbers: {energies:?}"
    );
    assert_eq!(
        &got, want,
        "energies under tkr ({mode:?}) vs the reference's"
    );
}

/// `tkr report RUN --json` (and the HTML with `-o`) of workflow `id` in `s`.
fn tkr_report(s: &Scratch, id: u128, html: &Path) -> Value {
    let out = s
        .tkr()
        .args(["report", "--json", "--run-id", &id.to_string()])
        .output()
        .expect("tkr report --json");
    let report = json_lines("tkr report --json", &out)
        .into_iter()
        .next()
        .expect("tkr report printed no JSON");
    let out = s
        .tkr()
        .args(["report", "--run-id", &id.to_string(), "-o"])
        .arg(html)
        .output()
        .expect("tkr report -o");
    assert!(out.status.success(), "tkr report -o: {out:?}");
    report
}

fn field<'v>(v: &'v Value, key: &str) -> &'v Value {
    v.as_map()
        .and_then(|m| m.get(key))
        .unwrap_or_else(|| panic!("no {key:?} in {v:?}"))
}

fn micros(v: &Value) -> Option<i64> {
    int(v)
}

/// The report lists every function node of `wf` exactly once, each attempt
/// with queued <= started <= finished; returns loc -> (function, lane).
fn assert_every_task_once_in_order(
    report: &Value,
    wf: &Path,
) -> Vec<(String, String, Option<String>)> {
    let timeline = field(report, "timeline");
    let tasks = field(timeline, "tasks").as_list().expect("tasks list");
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    for t in tasks {
        let loc = field(t, "loc").as_str().expect("loc").to_string();
        assert!(seen.insert(loc.clone()), "task {loc} listed twice");
        let attempts = field(t, "attempts").as_list().expect("attempts");
        assert_eq!(attempts.len(), 1, "{loc}: one attempt");
        let a = &attempts[0];
        let q = micros(field(a, "queued_us")).expect("queued");
        let st = micros(field(a, "started_us")).expect("started");
        let f = micros(field(a, "finished_us")).unwrap_or_else(|| panic!("{loc}: not finished"));
        assert!(
            q <= st && st <= f,
            "{loc}: queued {q} started {st} finished {f}"
        );
        let lane = field(a, "lane").as_str().map(str::to_string);
        rows.push((
            loc,
            field(t, "function").as_str().expect("fn").to_string(),
            lane,
        ));
    }
    let nodes: std::collections::BTreeSet<String> =
        common::reference::function_nodes(wf).into_keys().collect();
    assert_eq!(
        seen, nodes,
        "the report's tasks are the run's function nodes"
    );
    rows
}

/// The HTML report: self-contained (no address of any other host, nothing
/// loaded from anywhere) and naming every task.
fn assert_html_is_self_contained(html: &Path, locs: &[String]) {
    let text = std::fs::read_to_string(html).expect("report HTML");
    for forbidden in ["://", "src=", "href=", "url(", "@import", "<script"] {
        assert!(
            !text.contains(forbidden),
            "the HTML report contains {forbidden:?}"
        );
    }
    for loc in locs {
        assert!(
            text.contains(&format!(">{loc} ")),
            "the HTML names no task {loc}"
        );
    }
}

/// `tkr report` of the reference's `compile_simulate` on 16 circuits, warm:
/// every task once, times in order, one lane per warm process that served
/// tasks (each task in the lane of the process its own log names), each
/// process's start-up, and an HTML file that refers to no other host.
fn report_of_compile_simulate_16_circuits() {
    let s = scratch();
    let sizes: Vec<String> = (0..16).map(|i| (2 + i % 4).to_string()).collect();
    let shots: Vec<String> = (0..16).map(|_| "10".to_string()).collect();
    let case = Case::build(
        s.path(),
        "ghz16",
        &["ghz", "aer", &sizes.join(","), &shots.join(",")],
    );
    let id = 3;
    tkr_run_in_reference_root(&s, &case, id, Mode::Warm);
    let wf = s.workflow(id);
    assert_every_task_finished(&wf);
    let html = s.path().join("report.html");
    let report = tkr_report(&s, id, &html);
    let rows = assert_every_task_once_in_order(&report, &wf);
    // The process each worker task ran in, as its own log says.
    let mut served_by = std::collections::BTreeSet::new();
    let mut worker_tasks = 0;
    for (loc, function, lane) in &rows {
        let lane = lane.clone().unwrap_or_else(|| panic!("{loc}: no lane"));
        if function.starts_with("builtins.") {
            assert_eq!(lane, "builtins in the controller", "{loc}");
            continue;
        }
        worker_tasks += 1;
        let log = std::fs::read_to_string(wf.join(loc).join("logs")).expect("node log");
        let pid = log
            .lines()
            .find_map(|l| l.split(" of process ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{loc}: the log names no warm process:\n{log}"));
        assert_eq!(lane, format!("python-warm process {pid}"), "{loc}");
        served_by.insert(lane);
    }
    assert!(
        worker_tasks >= 16 * 2,
        "compile and simulate per circuit: {worker_tasks}"
    );
    let lanes: std::collections::BTreeSet<String> = field(&report, "lanes")
        .as_list()
        .expect("lanes")
        .iter()
        .map(|l| field(l, "lane").as_str().expect("lane").to_string())
        .filter(|l| l != "builtins in the controller")
        .collect();
    assert_eq!(lanes, served_by, "one lane per process that served tasks");
    let startups: std::collections::BTreeSet<String> = field(&report, "process_startups")
        .as_list()
        .expect("startups")
        .iter()
        .map(|p| {
            let secs = field(p, "startup_s").as_f64().expect("seconds");
            assert!(secs > 0.0, "a start-up takes time: {p:?}");
            field(p, "lane").as_str().expect("lane").to_string()
        })
        .collect();
    assert_eq!(startups, served_by, "a start-up per warm process");
    let summary = field(&report, "summary");
    let coverage = field(summary, "task_coverage").as_f64().expect("coverage");
    assert!(
        coverage > 0.0 && coverage <= 1.0,
        "task coverage {coverage}"
    );
    let locs: Vec<String> = rows.into_iter().map(|(l, _, _)| l).collect();
    assert_html_is_self_contained(&html, &locs);
}

/// A run made by the reference has no timeline of ours: its report comes
/// from the node files, lists every task in order, and says the lanes are missing.
fn report_of_a_reference_run() {
    let s = scratch();
    let case = Case::build(s.path(), "ghz", &["ghz", "aer", "2,3", "10,10"]);
    let out = Command::new("bash")
        .arg(run_sh())
        .args(["--", "python3"])
        .arg(s.path().join("quantum_graphs.py"))
        .arg("reference")
        .arg(&case.dir)
        .current_dir(s.path())
        .env("TKR_DIR", s.tkr_dir())
        .output()
        .expect("the reference's run_graph");
    json_lines("quantum_graphs.py reference", &out);
    let wf = s.workflow(1);
    assert!(!wf.join("debug/tkr-timeline.jsonl").exists());
    let html = s.path().join("report.html");
    let report = tkr_report(&s, 1, &html);
    let rows = assert_every_task_once_in_order(&report, &wf);
    assert!(
        rows.iter().all(|(_, _, lane)| lane.is_none()),
        "no lanes are known"
    );
    assert_eq!(
        field(field(&report, "timeline"), "source").as_str(),
        Some("node_files")
    );
    let missing = field(field(&report, "timeline"), "missing")
        .as_list()
        .expect("missing");
    assert!(
        missing
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains("process lanes"))),
        "the report says the lanes are missing: {missing:?}"
    );
    let text = std::fs::read_to_string(&html).expect("html");
    assert!(
        text.contains("process lanes"),
        "the HTML says what is missing"
    );
    let locs: Vec<String> = rows.into_iter().map(|(l, _, _)| l).collect();
    assert_html_is_self_contained(&html, &locs);
}
