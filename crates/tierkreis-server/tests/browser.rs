//! The page in a real browser (headless Chromium over the DevTools
//! protocol): find a workflow in the list, open its graph, watch a node go
//! from running to finished while the run progresses (pushed, no reload),
//! open a map and one of its elements, click the failed task to read its
//! error, restart it, and save a screenshot to `target/artifacts/web.png`
//! (copied to `docs/web-view.png` for the README). Pictures of values: real
//! outputs of the published quantum workers drawn as histograms, circuits
//! and plots, and a loop's trace as a plot (screenshots
//! `docs/web-view-quantum.png` and `docs/web-view-trace.png`).
//!
//! Skipped (reported as ignored) when Chromium is missing and `CI` is unset;
//! a failure when `CI` is set and Chromium is missing.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::cdp::{find_chromium, Browser};
use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use tierkreis_controller::scheduler::Outcome;
use tierkreis_test_support::graphs::slow_loop_graph;
use tierkreis_test_support::waiting::wait_until;
use uuid::Uuid;

/// A test driving a browser: the path of Chromium.
type BrowserTest = fn(&Path) -> Result<(), Failed>;

fn main() {
    act_as_tkr_resume();
    let args = Arguments::from_args();
    let in_ci = tierkreis_test_support::in_ci();
    let chromium = find_chromium();
    let tests: [(&str, BrowserTest); 2] = [
        (
            "browser_follows_a_run_and_restarts_a_failed_task",
            browser_test,
        ),
        (
            "browser_draws_quantum_results_circuits_and_traces",
            pictures_test,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, body)| match chromium.clone() {
            Some(exe) => Trial::test(name, move || body(&exe)),
            None if in_ci => Trial::test(name, || {
                Err("CI is set but Chromium is missing: `apt-get install -y chromium` (or set $CHROMIUM)".into())
            }),
            None => Trial::test(name, || Ok(())).with_ignored_flag(true),
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn browser_test(chromium: &Path) -> Result<(), Failed> {
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let ck = tmp.path();
    let failed = Uuid::from_u128(3);
    let out = run_graph(
        ck,
        failed,
        &divide_map_graph(),
        &[("value", int_list([4, 2, 0, 6, 3, 1, 12]))],
    );
    assert!(matches!(out, Outcome::Failed(_)), "{out:?}");
    let srv = start_server(ck);
    let base = format!("http://{}", srv.addr);

    let mut b = Browser::launch(chromium, 1400, 820);
    b.navigate(&format!("{base}/"));
    b.wait_for(
        "the workflow list",
        "document.querySelector('#workflows') !== null",
        Duration::from_secs(15),
    );

    // A run that progresses while we watch; its row appears live.
    let running = Uuid::from_u128(9);
    let run = spawn_graph(ck, running, slow_loop_graph(14, 0.3), vec![]);
    let row = format!("tr[data-id='{running}']");
    b.wait_for(
        "the running workflow's row",
        &format!("document.querySelector(\"{row}\") !== null"),
        Duration::from_secs(15),
    );
    b.click(&row, 1);
    b.wait_for(
        "the loop node running",
        "document.querySelector('[data-loc=\"-.N4\"]')?.dataset.status === 'Started'",
        Duration::from_secs(15),
    );
    b.eval("window.__sameDocument = 'yes'");
    b.wait_for(
        "the loop node finished",
        "document.querySelector('[data-loc=\"-.N4\"]')?.dataset.status === 'Finished'",
        Duration::from_secs(30),
    );
    assert_eq!(
        b.eval("window.__sameDocument"),
        "yes",
        "the page reloaded instead of updating"
    );
    b.wait_for(
        "the workflow status to turn finished",
        "document.querySelector('#wf-chip [data-status]')?.dataset.status === 'finished'",
        Duration::from_secs(10),
    );
    // The edge into the output shows the final value.
    b.wait_for(
        "the output edge value",
        "[...document.querySelectorAll('.elabel')].some(l => l.textContent.includes('value = 14'))",
        Duration::from_secs(10),
    );
    assert_eq!(run.join().expect("run thread"), Outcome::Finished);

    // The failed run: the map is red; open it, then the failed element.
    b.click("a[href='#/']", 1);
    b.click(&format!("tr[data-id='{failed}']"), 1);
    b.wait_for(
        "the failed map",
        "document.querySelector('[data-loc=\"-.N3\"]')?.dataset.status === 'Error'",
        Duration::from_secs(10),
    );
    b.click("[data-open='-.N3']", 1);
    b.wait_for(
        "the element tiles",
        "document.querySelectorAll('.tile').length === 7",
        Duration::from_secs(10),
    );
    let red = b.eval(
        "[...document.querySelectorAll('.tile[data-status=\"Error\"]')].map(t => t.dataset.loc)",
    );
    assert_eq!(red, serde_json::json!(["-.N3.M2"]));
    b.click(".tile[data-loc='-.N3.M2']", 2);
    b.wait_for(
        "the element's graph",
        "document.querySelector('[data-loc=\"-.N3.M2.N2\"]')?.dataset.status === 'Error'",
        Duration::from_secs(10),
    );
    b.click("[data-loc='-.N3.M2.N2']", 1);
    let msg = b.wait_for(
        "the error text",
        "document.querySelector('#error-text')?.textContent",
        Duration::from_secs(10),
    );
    assert_eq!(msg, "integer division or modulo by zero");
    b.wait_for(
        "the restart button",
        "document.querySelector('#restart') !== null",
        Duration::from_secs(5),
    );
    save_screenshot(&b.screenshot(), "web.png", "web-view.png")?;

    // Restart: the task is invalidated and `tkr resume` (this binary) runs
    // it again; it fails again the same way, later.
    let err = ck.join(failed.to_string()).join("-.N3.M2.N2/_error");
    let before = std::fs::metadata(&err)?.modified()?;
    std::thread::sleep(Duration::from_millis(20));
    b.click("#restart", 1);
    b.wait_for(
        "the restart to be acknowledged",
        "document.body.dataset.restarted === '-.N3.M2.N2'",
        Duration::from_secs(10),
    );
    wait_until("the task to run again", Duration::from_secs(30), || {
        std::fs::metadata(&err)
            .and_then(|m| m.modified())
            .is_ok_and(|t: SystemTime| t > before)
    });
    b.wait_for(
        "the re-run failure shown live",
        "document.querySelector('[data-loc=\"-.N3.M2.N2\"]')?.dataset.status === 'Error' && \
         document.querySelector('#wf-chip [data-status]')?.dataset.status === 'failed'",
        Duration::from_secs(20),
    );
    paused_run_continues_from_the_page(&mut b, ck, &base);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the browser test took {:?}",
        started.elapsed()
    );
    Ok(())
}

/// A run paused at breakpoint -.N2: the page outlines the node and offers
/// "Continue", which resumes the run (this binary as `tkr resume`) up to the
/// next breakpoint, -.N3.
fn paused_run_continues_from_the_page(b: &mut Browser, ck: &Path, base: &str) {
    let id = Uuid::from_u128(21);
    let out = run_to_first_breakpoint(ck, id);
    assert!(matches!(out, Outcome::Paused(_)), "{out:?}");
    b.navigate(&format!("{base}/#/w/{id}"));
    b.wait_for(
        "the Continue button and the paused node outlined",
        "document.querySelector('#continue') !== null && \
         document.querySelector('[data-loc=\"-.N2\"]')?.classList.contains('paused') === true",
        Duration::from_secs(15),
    );
    b.click("#continue", 1);
    b.wait_for(
        "the continue to be acknowledged",
        "document.body.dataset.continued === '-.N2'",
        Duration::from_secs(10),
    );
    let next = ck.join(id.to_string()).join("debug/breakpoints/-.N3");
    wait_until("the run to pause at -.N3", Duration::from_secs(30), || {
        next.exists()
    });
}

/// A real output of the published quantum workers, recorded in
/// `testdata/pictures` (its README says from which run and node).
fn recorded(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/pictures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Pictures of values: a workflow whose inputs are the published workers'
/// outputs (compile_simulate's BackendResults, a compiled GHZ circuit, the
/// Hamiltonian sweep's optimised ansatz and energies) shows them on its
/// output node as histograms, drawn circuits and a plot, and a plain string
/// as JSON; the sweep's fold (the reference's `fold_graph`, a loop) run over
/// the sweep's real expectation values shows its trace as a line plot.
fn pictures_test(chromium: &Path) -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let ck = tmp.path();
    let values = Uuid::from_u128(31);
    let graph = r#"{"nodes": [
 {"type": "input", "name": "results", "inputs": {}, "outputs": {"results": [5]}},
 {"type": "input", "name": "ghz5", "inputs": {}, "outputs": {"ghz5": [5]}},
 {"type": "input", "name": "ansatz", "inputs": {}, "outputs": {"ansatz": [5]}},
 {"type": "input", "name": "energies", "inputs": {}, "outputs": {"energies": [5]}},
 {"type": "input", "name": "simulator_name", "inputs": {}, "outputs": {"simulator_name": [5]}},
 {"type": "output", "inputs": {"results": [0, "results"], "ghz5": [1, "ghz5"], "ansatz": [2, "ansatz"],
   "energies": [3, "energies"], "simulator_name": [4, "simulator_name"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": ["results", "ghz5", "ansatz", "energies", "simulator_name"],
 "graph_output_idx": 5, "named_nodes": {}, "node_metadata": {}}"#;
    let out = run_graph(
        ck,
        values,
        graph,
        &[
            ("results", recorded("ghz_results.json")),
            ("ghz5", recorded("ghz5_compiled.json")),
            ("ansatz", recorded("ansatz_optimised.json")),
            ("energies", recorded("sweep_energies.json")),
            ("simulator_name", b"\"aer\"".to_vec()),
        ],
    );
    assert_eq!(out, Outcome::Finished);
    let fold = Uuid::from_u128(32);
    let fold_graph = String::from_utf8(recorded("fold_graph.json"))?;
    let out = run_graph(
        ck,
        fold,
        &fold_graph,
        &[
            ("initial", b"0.0".to_vec()),
            ("values", recorded("fold_values.json")),
        ],
    );
    assert_eq!(out, Outcome::Finished);

    let srv = start_server(ck);
    let base = format!("http://{}", srv.addr);
    let mut b = Browser::launch(chromium, 1400, 1250);
    b.navigate(&format!("{base}/#/w/{values}"));
    // Once the page follows the run (its first reload done), open the
    // output node's details.
    b.wait_for(
        "the page to be live",
        "document.querySelector('#live.on') !== null && document.querySelector(\"[data-loc='-.N5']\") !== null",
        Duration::from_secs(15),
    );
    b.click("[data-loc='-.N5']", 1);
    let picture = |port: &str, kind: &str| {
        format!("document.querySelector(\"#details td[data-picture='inputs/{port}'] .picture[data-kind='{kind}']\")")
    };
    b.wait_for(
        "the pictures of the output node's inputs",
        &format!(
            "{} !== null && {} !== null && {} !== null",
            picture("results", "list"),
            picture("ghz5", "circuit"),
            picture("energies", "plot")
        ),
        Duration::from_secs(15),
    );
    // compile_simulate's 3 results: one histogram each, with pytket's counts
    // (as pytket_answers.json records them) and the register's width.
    let bars = b.eval(&format!(
        "[...{}.querySelectorAll('svg.histogram')].map(h => [...h.querySelectorAll('rect[data-bits]')].map(r => r.dataset.bits + '=' + r.dataset.count))",
        picture("results", "list")
    ));
    assert_eq!(
        bars,
        serde_json::json!([
            ["00=8", "11=2"],
            ["000=10", "111=15"],
            ["00000=18", "11111=22"]
        ])
    );
    let caption = b.eval(&format!("{}.textContent", picture("results", "list")));
    let caption = caption.as_str().unwrap_or_default();
    assert!(
        caption.contains("40 shots · 5-bit register (c[0] c[1] c[2] c[3] c[4])"),
        "{caption}"
    );
    // The compiled GHZ circuit: 5 qubit wires and 5 bit wires, its 10 gates
    // drawn (4 CX, 5 measurements, a TK1 box), pytket's depth and counts.
    let ghz = b.eval(&format!(
        "(() => {{ const p = {}; return [p.querySelector('.caption').textContent, \
           p.querySelectorAll('line.wire').length, p.querySelectorAll('g.gate-group').length, \
           p.querySelectorAll('g[data-gate=CX]').length, p.querySelectorAll('g[data-gate=Measure]').length, \
           [...p.querySelectorAll('g[data-gate=TK1] text')].map(t => t.textContent)]; }})()",
        picture("ghz5", "circuit")
    ));
    assert_eq!(
        ghz,
        serde_json::json!([
            "5 qubits · 5 bits · 10 gates · depth 6 · CX 4, Measure 5, TK1 1",
            5,
            10,
            4,
            5,
            ["TK1(0.5, 0.5, 0.5)"]
        ])
    );
    let ansatz = b.eval(&format!(
        "{}.querySelector('.caption').textContent",
        picture("ansatz", "circuit")
    ));
    assert_eq!(
        ansatz,
        "4 qubits · 3 bits · 24 gates · depth 19 · CX 12, Measure 3, TK1 9"
    );
    // The sweep's energies: a line through both points.
    let energies = b.eval(&format!(
        "[...{}.querySelectorAll('circle title')].map(t => t.textContent)",
        picture("energies", "plot")
    ));
    assert_eq!(
        energies,
        serde_json::json!([
            "value[0] = -0.029000000000000026",
            "value[1] = -0.06400000000000006"
        ])
    );
    // A string has no picture: its JSON is shown as before.
    let plain = b.eval(
        "(() => { const td = document.querySelector(\"#details td[data-picture='inputs/simulator_name']\"); \
           return [td.querySelector('.picture') === null, td.querySelector('pre.value').textContent]; })()",
    );
    assert_eq!(plain, serde_json::json!([true, "\"aer\""]));
    save_screenshot(&b.screenshot(), "web-pictures.png", "web-view-quantum.png")?;

    // The fold's loop: its trace, what `tkr trace` prints, as a plot of the
    // accumulated energy per iteration, in the loop's view.
    let loop_loc = "-.N4";
    b.navigate(&format!("{base}/#/w/{fold}/{loop_loc}"));
    // One read of the drawn plot: its points and its caption together (a
    // live update may redraw the plot between two separate reads).
    let drawn = b.wait_for(
        "the loop's trace plot",
        "(() => { const plot = document.querySelector('.trace-plot'); \
           if (!plot || !plot.querySelector(\"[data-series='accum'] path.line\")) return null; \
           const caption = plot.querySelector('.caption'); if (!caption) return null; \
           return [[...plot.querySelectorAll(\"[data-series='accum'] circle title\")].map(t => t.textContent), \
                   caption.textContent]; })()",
        Duration::from_secs(15),
    );
    let accum = drawn[0].clone();
    assert_eq!(
        accum,
        serde_json::json!([
            "accum[0] = -0.008000000000000007",
            "accum[1] = 0.007000000000000006",
            "accum[2] = -0.029000000000000026",
            "accum[3] = -0.029000000000000026"
        ]),
        "the trace of the fold over the sweep's expectations"
    );
    let other = drawn[1].clone();
    // The loop node's details in its parent's graph plot the same trace.
    b.navigate(&format!("{base}/#/w/{fold}"));
    b.wait_for(
        "the fold's graph",
        &format!("document.querySelector(\"[data-loc='{loop_loc}']\") !== null && document.querySelector('#live.on') !== null"),
        Duration::from_secs(15),
    );
    b.click(&format!("[data-loc='{loop_loc}']"), 1);
    b.wait_for(
        "the trace in the loop node's details",
        "document.querySelectorAll(\"#details .trace-plot [data-series='accum'] circle\").length === 4",
        Duration::from_secs(15),
    );
    b.navigate(&format!("{base}/#/w/{fold}/{loop_loc}"));
    b.wait_for(
        "the loop's view again",
        "document.querySelector(\".trace-plot [data-series='accum']\") !== null",
        Duration::from_secs(15),
    );
    assert_eq!(
        other,
        "loop -.N4: 4 iteration(s) · not plotted: should_continue, values"
    );
    b.click(&format!("[data-loc='{loop_loc}.L3']"), 1);
    b.wait_for(
        "the iteration's details",
        "document.querySelector('#details.open h2')?.textContent === '-.N4.L3'",
        Duration::from_secs(10),
    );
    save_screenshot(&b.screenshot(), "web-trace.png", "web-view-trace.png")?;
    Ok(())
}
