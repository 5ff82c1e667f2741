//! The run's timeline in a real browser (headless Chromium over the
//! DevTools protocol): opened while the run is going, it grows live (no
//! reload) until every task of the recorded timeline has its bar; a click
//! on a bar shows the task's queue wait and running time. Saves
//! `target/artifacts/timeline.png` (and `docs/web-timeline.png` for the
//! README with `TKR_UPDATE_SCREENSHOT`).
//!
//! Skipped (reported as ignored) when Chromium is missing and `CI` is unset;
//! a failure when `CI` is set and Chromium is missing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cdp::{find_chromium, Browser};
use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use tierkreis_controller::runtime;
use tierkreis_controller::scheduler::Outcome;
use tierkreis_storage::FileControllerStorage;
use tierkreis_test_support::graphs::slow_loop_graph;
use tierkreis_test_support::waiting::wait_until;
use uuid::Uuid;

const NAME: &str = "browser_shows_the_timeline_live_and_a_task_s_timing";

fn main() {
    act_as_tkr_resume();
    let args = Arguments::from_args();
    let trial = match find_chromium() {
        Some(exe) => Trial::test(NAME, move || browser_test(&exe)),
        None if tierkreis_test_support::in_ci() => Trial::test(NAME, || {
            Err("CI is set but Chromium is missing: `apt-get install -y chromium` (or set $CHROMIUM)".into())
        }),
        None => Trial::test(NAME, || Ok(())).with_ignored_flag(true),
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}

/// Runs `graph` as workflow `id` recording its timeline, as `tkr run` does.
fn spawn_recorded_run(ck: &Path, id: Uuid, graph: String) -> std::thread::JoinHandle<Outcome> {
    let ck = ck.to_path_buf();
    std::thread::spawn(move || {
        let options = runtime::RunOptions {
            record_timeline: true,
            ..runtime::RunOptions::default()
        };
        run_graph_with_options(&ck, id, Some("timeline"), &graph, &options)
    })
}

fn browser_test(chromium: &Path) -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let ck = tmp.path();
    let id = Uuid::from_u128(31);
    let run = spawn_recorded_run(ck, id, slow_loop_graph(12, 0.25));
    let srv = start_server(ck);
    let base = format!("http://{}", srv.addr);
    let mut b = Browser::launch(chromium, 1400, 820);
    let timeline = ck.join(id.to_string()).join("debug/tkr-timeline.jsonl");
    wait_until("the run to record", Duration::from_secs(15), || {
        timeline.exists()
    });
    b.navigate(&format!("{base}/#/t/{id}"));
    let first = b.wait_for(
        "the first bars while the run is going",
        "(() => { const n = document.querySelectorAll('#timeline-svg rect.attempt').length; \
         const s = document.querySelector('#wf-chip [data-status]')?.dataset.status; \
         return n > 0 && s === 'running' ? n : null; })()",
        Duration::from_secs(15),
    );
    let first = first.as_u64().expect("a count");
    b.eval("window.__sameDocument = 'yes'");
    assert_eq!(run.join().expect("run thread"), Outcome::Finished);
    let storage = FileControllerStorage::new(ck, id, None);
    let report = tierkreis_storage::run_report::workflow_report(&storage)?;
    let tasks = report.timeline.tasks.len();
    assert_eq!(tasks, 12 * 3, "three tasks per iteration");
    b.wait_for(
        "a bar for every task once the run finished",
        &format!(
            "document.querySelectorAll('#timeline-svg rect.attempt').length === {tasks} && \
             document.querySelector('#wf-chip [data-status]')?.dataset.status === 'finished'"
        ),
        Duration::from_secs(20),
    );
    assert!(
        (first as usize) < tasks,
        "the first view ({first} bars) was taken before the run finished"
    );
    assert_eq!(
        b.eval("window.__sameDocument"),
        "yes",
        "the page reloaded instead of updating"
    );
    let shown = b.eval(
        "[...document.querySelectorAll('#timeline-svg rect.attempt')].map(r => r.dataset.loc).sort()",
    );
    let mut locs: Vec<String> = report
        .timeline
        .tasks
        .iter()
        .map(|t| t.loc.clone())
        .collect();
    locs.sort();
    assert_eq!(shown, serde_json::json!(locs));
    let lanes =
        b.eval("[...document.querySelectorAll('#timeline-svg text.lane')].map(t => t.textContent)");
    assert_eq!(lanes, serde_json::json!(["builtins in the controller"]));
    let coverage = b.eval("document.querySelector('#task-coverage').textContent");
    assert!(
        coverage
            .as_str()
            .is_some_and(|c| c.starts_with("Task coverage ")),
        "{coverage}"
    );
    // The last sleep: a wide bar; its details show its timing.
    b.click("#timeline-svg rect.attempt[data-loc='-.N4.L11.N6']", 1);
    let timing = b.wait_for(
        "the task's timing in the details",
        "document.querySelector('#node-timing')?.textContent",
        Duration::from_secs(10),
    );
    let timing = timing.as_str().unwrap_or_default().to_string();
    assert!(
        timing.contains("queue wait") && timing.contains("ran 0.2"),
        "{timing}"
    );
    save_screenshot(&b.screenshot(), "timeline.png", "web-timeline.png")?;
    Ok(())
}
