//! The page in a real browser (headless Chromium over the DevTools
//! protocol): find a workflow in the list, open its graph, watch a node go
//! from running to finished while the run progresses (pushed, no reload),
//! open a map and one of its elements, click the failed task to read its
//! error, restart it, and save a screenshot to `target/artifacts/web.png`
//! (copied to `docs/web-view.png` for the README).
//!
//! Skipped (reported as ignored) when Chromium is missing and `CI` is unset;
//! a failure when `CI` is set and Chromium is missing.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::cdp::{find_chromium, Browser};
use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use tierkreis_controller::scheduler::Outcome;
use uuid::Uuid;

fn main() {
    act_as_tkr_resume();
    let args = Arguments::from_args();
    let in_ci = tierkreis_test_support::in_ci();
    let chromium = find_chromium();
    let trial = match chromium {
        Some(exe) => Trial::test(
            "browser_follows_a_run_and_restarts_a_failed_task",
            move || browser_test(&exe),
        ),
        None if in_ci => Trial::test("browser_follows_a_run_and_restarts_a_failed_task", || {
            Err("CI is set but Chromium is missing: `apt-get install -y chromium` (or set $CHROMIUM)".into())
        }),
        None => Trial::test(
            "browser_follows_a_run_and_restarts_a_failed_task",
            || Ok(()),
        )
        .with_ignored_flag(true),
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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
    save_screenshot(&b.screenshot())?;

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
    use std::sync::Arc;
    use tierkreis_controller::executor::DefaultExecutor;
    use tierkreis_controller::runtime;
    use tierkreis_controller::scheduler::Breakpoints;
    use tierkreis_storage::FileControllerStorage;
    let graph = r#"{"nodes": [
 {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}},
 {"type": "const", "value": 2, "inputs": {}, "outputs": {"value": [2, 3]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [3]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [2, "value"], "b": [1, "value"]}, "outputs": {"value": [4]}},
 {"type": "output", "inputs": {"value": [3, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 4, "named_nodes": {},
 "node_metadata": {"2": {"has_breakpoint": true}, "3": {"has_breakpoint": true}}}"#;
    let id = Uuid::from_u128(21);
    let graph = tierkreis_core::GraphData::from_json(graph.as_bytes()).expect("graph");
    let storage = FileControllerStorage::new(ck, id, None);
    runtime::start_workflow(&storage, &graph, &Default::default()).expect("start");
    let options = runtime::RunOptions {
        breakpoints: Breakpoints {
            from_metadata: true,
            ..Breakpoints::default()
        },
        ..runtime::RunOptions::default()
    };
    let out = runtime::run_with_options(
        Arc::new(storage),
        &options,
        &mut DefaultExecutor::new(),
        &mut |_| {},
        runtime::EventChannel::new(),
    )
    .expect("run");
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

/// Writes the PNG to `target/artifacts/web.png`, and to `docs/web-view.png`
/// (the README's picture) when `TKR_UPDATE_SCREENSHOT` is set.
fn save_screenshot(png: &[u8]) -> Result<(), Failed> {
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let root = workspace_root();
    let artifacts = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    std::fs::write(artifacts.join("web.png"), png)?;
    if std::env::var_os("TKR_UPDATE_SCREENSHOT").is_some() {
        std::fs::create_dir_all(root.join("docs"))?;
        std::fs::write(root.join("docs/web-view.png"), png)?;
    }
    Ok(())
}
