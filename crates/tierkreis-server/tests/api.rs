//! The JSON API and event stream of the server over real checkpoint folders:
//! finished, failed, running and interrupted runs, a map of 1,000 elements,
//! restarts, malformed URLs (400, never a read outside the workflow folder),
//! and the access checks (Host, Origin, token).
//!
//! Most tests hand requests to the server's routes and access checks
//! directly (`tower::ServiceExt::oneshot`, see `common::RouterServer`): no
//! socket or port is needed to check what the API answers. The live event
//! streams of a running run and the page are tested against the real server
//! on a loopback port.
//!
//! `harness = false`: this binary also stands in for `tkr resume`, which the
//! server starts after a restart.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{json, Value};
use tierkreis_controller::scheduler::Outcome;
use tierkreis_test_support::graphs::{slow_loop_graph, DIVIDE_BY_ZERO_GRAPH};
use tierkreis_test_support::waiting::wait_until;
use uuid::Uuid;

fn main() {
    act_as_tkr_resume();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test("finished_run_list_graph_values", finished_run),
        Trial::test("failed_run_errors_and_restart", failed_run),
        Trial::test("running_run_status_events_and_conflict", running_run),
        Trial::test("map_of_1000_elements_is_paged_and_counted", big_map),
        Trial::test("failed_map_element_is_found_by_status", failed_map),
        Trial::test("malformed_urls_are_400_with_a_message", path_safety),
        Trial::test("the_page_is_served_over_a_real_socket", page),
        Trial::test("runs_written_by_the_python_reference", python_runs),
        Trial::test("paused_run_shows_its_breakpoint_and_continues", paused_run),
        Trial::test("a_cached_task_names_the_run_it_came_from", cached_task),
        Trial::test(
            "cross_site_restart_is_403_and_own_origin_works",
            cross_site_restart,
        ),
        Trial::test("foreign_host_is_421", foreign_host),
        Trial::test("non_loopback_needs_the_token", token_required),
        Trial::test("a_retried_task_lists_its_failed_attempts", retried_task),
        Trial::test(
            "pictures_of_values_and_a_named_loops_trace",
            pictures_and_trace,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}

fn wf(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn find<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array()
        .expect("array")
        .iter()
        .find(|v| v[key] == json!(id))
        .unwrap_or_else(|| panic!("no {key}={id} in {list}"))
}

fn typed_map_input() -> Vec<u8> {
    std::fs::read(fixtures().join("conformance/typed_map_simple/inputs/value")).expect("input")
}

fn finished_run() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let out = run_graph(
        tmp.path(),
        wf(1),
        &map_graph(),
        &[("value", typed_map_input())],
    );
    assert_eq!(out, Outcome::Finished);
    let srv = start_router(tmp.path());
    let id = wf(1).to_string();

    let list = srv.get("/api/workflows").json();
    let w = find(&list, "id", &id);
    assert_eq!(w["status"], "finished");
    assert_eq!(w["id_int"], "1");
    assert_eq!(w["name"], "test 1");
    assert!(
        w["start_time"].is_string() && w["end_time"].is_string(),
        "{w}"
    );

    // The root scope: every node of the graph, finished, edges with values.
    let g = srv.get(&format!("/api/workflows/{id}/nodes/-")).json();
    assert_eq!(g["scope_type"], "eval");
    let nodes = g["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 6);
    assert!(nodes.iter().all(|n| n["status"] == "Finished"), "{g}");
    let map = find(&g["nodes"], "id", "-.N3");
    assert_eq!(
        (map["node_type"].as_str(), map["expandable"].as_bool()),
        (Some("map"), Some(true))
    );
    assert_eq!(
        find(&g["nodes"], "id", "-.N2")["function_name"],
        "builtins.unfold_values"
    );
    let expected = std::fs::read(fixtures().join("conformance/typed_map_simple/expected/value"))?;
    let into_output = g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["to_node"] == "-.N5")
        .expect("edge into the output");
    assert_eq!(into_output["from_node"], "-.N4");
    assert_eq!(
        into_output["value"],
        json!(tierkreis_server::view::render(
            &expected,
            tierkreis_server::view::SHORT_LEN
        ))
    );

    // The map scope, paged.
    let m = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N3?offset=3&limit=5"))
        .json();
    let input: Vec<i64> = serde_json::from_slice(&typed_map_input())?;
    assert_eq!(m["scope_type"], "map");
    assert_eq!(m["total"], json!(input.len()));
    assert_eq!(m["counts"]["finished"], json!(input.len()));
    let ids: Vec<&str> = m["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["-.N3.M3", "-.N3.M4", "-.N3.M5", "-.N3.M6", "-.N3.M7"]);

    // One task's inputs and outputs: element 2 times the const 2.
    let info = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N3.M2.N2/info"))
        .json();
    assert_eq!(info["function_name"], "builtins.itimes");
    assert_eq!(
        find(&info["inputs"], "port", "b")["value"],
        json!(input[2].to_string())
    );
    assert_eq!(find(&info["inputs"], "port", "a")["value"], "2");
    assert_eq!(
        find(&info["outputs"], "port", "value")["value"],
        json!((input[2] * 2).to_string())
    );
    assert_eq!(info["error"], Value::Null);
    assert_eq!(info["restartable"], false);
    let b = srv.get(&format!("/api/workflows/{id}/nodes/-.N3.M2.N2/inputs/b"));
    assert_eq!((b.status, b.json()), (200, json!(input[2])));
    let out = srv.get(&format!("/api/workflows/{id}/nodes/-/outputs/value"));
    assert_eq!(out.status, 200);
    assert_eq!(out.json(), serde_json::from_slice::<Value>(&expected)?);
    let outs = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N3.M2.N2/outputs"))
        .json();
    assert_eq!(outs["value"], json!((input[2] * 2).to_string()));
    let none = srv.get(&format!("/api/workflows/{id}/nodes/-.N3.M2.N2/errors"));
    assert_eq!(none.status, 404, "{}", none.text());
    let logs = srv.get(&format!("/api/workflows/{id}/logs"));
    assert_eq!(logs.status, 200);
    assert!(logs.text().contains("started"), "{}", logs.text());
    // A function node has no graph.
    let r = srv.get(&format!("/api/workflows/{id}/nodes/-.N2"));
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .expect("msg")
            .contains("function node"),
        "{}",
        r.text()
    );
    Ok(())
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn failed_run() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    assert!(matches!(
        run_graph(tmp.path(), wf(5), DIVIDE_BY_ZERO_GRAPH, &[]),
        Outcome::Failed(_)
    ));
    let srv = start_router(tmp.path());
    let id = wf(5).to_string();
    let w = srv.get(&format!("/api/workflows/{id}")).json();
    assert_eq!(w["status"], "failed");
    assert_eq!(w["errors"], json!(["-.N2"]));
    assert!(w["end_time"].is_string());

    let g = srv.get(&format!("/api/workflows/{id}/nodes/-")).json();
    assert_eq!(find(&g["nodes"], "id", "-.N2")["status"], "Error");
    assert_eq!(find(&g["nodes"], "id", "-.N0")["status"], "Finished");
    assert_eq!(g["counts"]["error"], 1);
    // The builtin's message (as the reference writes it, see builtins.json).
    let msg = "integer division or modulo by zero";
    let errors = srv.get(&format!("/api/workflows/{id}/nodes/-.N2/errors"));
    assert_eq!((errors.status, errors.text().as_str()), (200, msg));
    assert_eq!(
        srv.get(&format!("/api/workflows/{id}/nodes/-.N2/logs"))
            .text(),
        msg
    );
    let info = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N2/info"))
        .json();
    assert_eq!(
        (info["error"].as_str(), info["restartable"].as_bool()),
        (Some(msg), Some(true))
    );
    assert_eq!(find(&info["inputs"], "port", "b")["value"], "0");

    // Only tasks restart; a node that never started is not found.
    let r = srv.post(&format!("/api/workflows/{id}/nodes/-.N0/restart"));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = srv.post(&format!("/api/workflows/{id}/nodes/-.N7/restart"));
    assert_eq!(r.status, 404, "{}", r.text());

    // Restart the failed task: invalidated, then resumed by `tkr resume`
    // (this binary), which runs it again; it fails again the same way.
    let wf_dir = tmp.path().join(&id);
    let before = mtime(&wf_dir.join("-.N2/_error")).expect("_error");
    std::thread::sleep(Duration::from_millis(20));
    let r = srv.post(&format!("/api/workflows/{id}/nodes/-.N2/restart"));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["loc"], "-.N2");
    assert!(
        body["invalidated"]
            .as_array()
            .expect("list")
            .contains(&json!("-.N3")),
        "{body}"
    );
    assert!(body["resume_pid"].as_u64().expect("pid") > 0);
    wait_until(
        "the restarted task to fail again",
        Duration::from_secs(30),
        || {
            mtime(&wf_dir.join("-.N2/_error")).is_some_and(|t| t > before)
                && wf_dir.join("-/_error").exists()
        },
    );
    wait_until(
        "the resumed controller to exit",
        Duration::from_secs(30),
        || srv.get(&format!("/api/workflows/{id}")).json()["status"] == "failed",
    );
    Ok(())
}

fn running_run() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let srv = start_server(tmp.path());
    let id = wf(9).to_string();
    let mut list_events = Sse::open(srv.addr, "/api/events");
    assert_eq!(list_events.next_event().0, "hello");
    let run = spawn_graph(tmp.path(), wf(9), slow_loop_graph(25, 0.12), vec![]);
    // The new workflow folder is announced.
    assert_eq!(list_events.next_event().0, "workflows");
    let wf_dir = tmp.path().join(&id);
    wait_until("the loop to start", Duration::from_secs(30), || {
        wf_dir.join("-.N4.L0/nodedef").exists()
    });
    let w = srv.get(&format!("/api/workflows/{id}")).json();
    assert_eq!(w["status"], "running", "{w}");
    assert_eq!(w["end_time"], Value::Null);

    // Live: iterations of the loop finish, pushed as they do.
    let mut ev = Sse::open(srv.addr, &format!("/api/workflows/{id}/events?scope=-.N4"));
    let (name, data) = ev.next_event();
    assert_eq!(
        (name.as_str(), data.as_str()),
        ("hello", r#"{"scope":"-.N4"}"#)
    );
    let mut finished_iteration = None;
    while finished_iteration.is_none() {
        let (name, data) = ev.next_event();
        if name != "nodes" {
            continue;
        }
        let v: Value = serde_json::from_str(&data)?;
        finished_iteration = v["nodes"].as_array().expect("nodes").iter().find_map(|n| {
            let loc = n["id"].as_str()?;
            (loc.starts_with("-.N4.L") && n["status"] == "Finished").then(|| loc.to_string())
        });
    }
    let it = finished_iteration.expect("an iteration");
    assert!(
        wf_dir.join(&it).join("_done").exists(),
        "{it} reported finished without _done"
    );
    let g = srv.get(&format!("/api/workflows/{id}/nodes/-.N4")).json();
    assert_eq!(g["scope_type"], "loop");
    assert!(find(&g["nodes"], "id", &it)["status"] == "Finished");

    // No restart while the controller runs.
    let r = srv.post(&format!("/api/workflows/{id}/nodes/-.N4.L0.N4/restart"));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.json()["error"].as_str().expect("msg").contains("running"));

    // The end of the run reaches the root's watchers as a workflow event.
    let mut root = Sse::open(srv.addr, &format!("/api/workflows/{id}/events?scope=-"));
    assert_eq!(root.next_event().0, "hello");
    assert_eq!(run.join().expect("run thread"), Outcome::Finished);
    loop {
        let (name, data) = root.next_event();
        if name == "workflow" && serde_json::from_str::<Value>(&data)?["status"] == "finished" {
            break;
        }
    }

    // A run whose controller went away unfinished is interrupted.
    let other = wf(10);
    let storage = tierkreis_server::workflows::storage(tmp.path(), other);
    let lock = tierkreis_storage::WorkflowLock::acquire(&tmp.path().join(other.to_string()))?;
    tierkreis_controller::runtime::start_workflow(
        &storage,
        &tierkreis_core::GraphData::from_json(DIVIDE_BY_ZERO_GRAPH.as_bytes())?,
        &Default::default(),
    )?;
    assert_eq!(
        srv.get(&format!("/api/workflows/{other}")).json()["status"],
        "running"
    );
    drop(lock);
    // No node was started yet: the workflow is only written (as `tkr vis
    // --graph` shows a graph).
    assert_eq!(
        srv.get(&format!("/api/workflows/{other}")).json()["status"],
        "not started"
    );
    // Once a node has started (its nodedef written), it is interrupted.
    let started = tmp.path().join(other.to_string()).join("-.N0");
    std::fs::create_dir_all(&started)?;
    std::fs::write(started.join("nodedef"), "{}")?;
    assert_eq!(
        srv.get(&format!("/api/workflows/{other}")).json()["status"],
        "interrupted"
    );
    Ok(())
}

fn big_map() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let out = run_graph(
        tmp.path(),
        wf(2),
        &map_graph(),
        &[("value", int_list(0..1000))],
    );
    assert_eq!(out, Outcome::Finished);
    let srv = start_router(tmp.path());
    let id = wf(2).to_string();
    let m = srv.get(&format!("/api/workflows/{id}/nodes/-.N3")).json();
    assert_eq!(m["total"], 1000);
    assert_eq!(m["counts"]["finished"], 1000);
    assert_eq!(
        m["nodes"].as_array().expect("nodes").len(),
        tierkreis_server::view::DEFAULT_PAGE
    );
    let m = srv
        .get(&format!(
            "/api/workflows/{id}/nodes/-.N3?offset=900&limit=500"
        ))
        .json();
    let nodes = m["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 100);
    // Numeric order: M900 .. M999, not string order.
    assert_eq!(
        (nodes[0]["id"].as_str(), nodes[99]["id"].as_str()),
        (Some("-.N3.M900"), Some("-.N3.M999"))
    );
    let e = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N3?status=Error"))
        .json();
    assert_eq!(
        (&e["nodes"], &e["matching"], &e["total"]),
        (&json!([]), &json!(0), &json!(1000))
    );
    Ok(())
}

fn failed_map() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let out = run_graph(
        tmp.path(),
        wf(3),
        &divide_map_graph(),
        &[("value", int_list([1, 2, 0, 4]))],
    );
    assert!(matches!(out, Outcome::Failed(_)), "{out:?}");
    let srv = start_router(tmp.path());
    let id = wf(3).to_string();
    let root = srv.get(&format!("/api/workflows/{id}/nodes/-")).json();
    assert_eq!(find(&root["nodes"], "id", "-.N3")["status"], "Error");
    let m = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N3?status=error"))
        .json();
    assert_eq!(
        (&m["counts"]["error"], &m["matching"], &m["total"]),
        (&json!(1), &json!(1), &json!(4))
    );
    let ids: Vec<&str> = m["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["-.N3.M2"]);
    let el = srv
        .get(&format!("/api/workflows/{id}/nodes/-.N3.M2"))
        .json();
    assert_eq!(find(&el["nodes"], "id", "-.N3.M2.N2")["status"], "Error");
    let err = srv.get(&format!("/api/workflows/{id}/nodes/-.N3.M2.N2/errors"));
    assert_eq!(err.text(), "integer division or modulo by zero");
    Ok(())
}

fn path_safety() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    assert!(matches!(
        run_graph(tmp.path(), wf(4), DIVIDE_BY_ZERO_GRAPH, &[]),
        Outcome::Failed(_)
    ));
    // A secret beside the checkpoint folder that no URL may reach.
    let ck = tmp.path().join("ck");
    std::fs::rename(tmp.path().join(wf(4).to_string()), {
        std::fs::create_dir(&ck)?;
        ck.join(wf(4).to_string())
    })?;
    std::fs::write(tmp.path().join("secret"), "do not serve")?;
    let srv = start_router(&ck);
    let id = wf(4).to_string();
    let cases: &[(&str, &str)] = &[
        ("/api/workflows/not-a-uuid", "not a workflow id"),
        (
            "/api/workflows/..%2F..%2Fsecret/nodes/-",
            "not a workflow id",
        ),
        (
            "/api/workflows/{id}/nodes/..%2F..%2Fsecret",
            "invalid location",
        ),
        ("/api/workflows/{id}/nodes/..", "invalid location"),
        ("/api/workflows/{id}/nodes/N2", "invalid location"),
        ("/api/workflows/{id}/nodes/-.N-5/info", "invalid location"),
        (
            "/api/workflows/{id}/nodes/-.N2%2F..%2F..%2F..%2Fsecret/logs",
            "invalid location",
        ),
        ("/api/workflows/{id}/nodes/-.N02/errors", "invalid location"),
        ("/api/workflows/{id}/nodes/-.N2/outputs/..", "bad port name"),
        (
            "/api/workflows/{id}/nodes/-.N2/outputs/%2E%2E",
            "bad port name",
        ),
        (
            "/api/workflows/{id}/nodes/-.N2/outputs/..%2F..%2F..%2Fsecret",
            "bad port name",
        ),
        (
            "/api/workflows/{id}/nodes/-.N2/inputs/a%2F..%2F..",
            "bad port name",
        ),
        ("/api/workflows/{id}/nodes/-.N2/inputs/%00", "bad port name"),
        ("/api/workflows/{id}/nodes/-?offset=-1", "offset"),
        ("/api/workflows/{id}/nodes/-?status=bogus", "status"),
        (
            "/api/workflows/{id}/events?scope=..%2Fsecret",
            "invalid location",
        ),
    ];
    for (path, needle) in cases {
        let path = path.replace("{id}", &id);
        let r = srv.get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(
            r.content_type.starts_with("application/json"),
            "{path}: {}",
            r.content_type
        );
        let msg = r.json()["error"]
            .as_str()
            .expect("error message")
            .to_string();
        assert!(msg.contains(needle), "{path}: {msg}");
        assert!(!r.text().contains("do not serve"));
    }
    let r = srv.post(&format!(
        "/api/workflows/{id}/nodes/-.N2%2F..%2F-.N0/restart"
    ));
    assert_eq!(r.status, 400, "{}", r.text());
    // Unknown workflows and values are 404, also as JSON.
    let r = srv.get(&format!("/api/workflows/{}/nodes/-", wf(77)));
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]
        .as_str()
        .expect("msg")
        .contains("no workflow"));
    let r = srv.get(&format!("/api/workflows/{id}/nodes/-.N2/outputs/nope"));
    assert_eq!(r.status, 404);
    Ok(())
}

/// Over a real connection to the real server: the page and the API are
/// served to the server's own host, and a foreign `Host` is refused there
/// too (the other access tests hand requests to the routes directly).
fn page() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let srv = start_server(tmp.path());
    let foreign = format!("evil.example:{}", srv.addr.port());
    let r = srv.request_with("GET", "/", &[("Host", &foreign)]);
    assert_eq!(r.status, 421, "{}", r.text());
    let r = srv.get("/");
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert_eq!(r.text(), tierkreis_server::routes::INDEX_HTML);
    assert_eq!(srv.get("/api/workflows").json(), json!([]));
    Ok(())
}

/// Checkpoint folders written by the Python reference (recorded once; see
/// crates/tierkreis-cli/tests/data/python-2.1.1/README.md) are served too.
fn python_runs() -> Result<(), Failed> {
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tierkreis-cli/tests/data/python-2.1.1/checkpoints");
    let tmp = tempfile::tempdir()?;
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(&recorded)
        .arg(tmp.path().join("ck"))
        .status()?;
    assert!(copy.success());
    let srv = start_router(&tmp.path().join("ck"));
    let list = srv.get("/api/workflows").json();
    let loop_id = wf(1).to_string();
    let failed_id = wf(3).to_string();
    assert_eq!(find(&list, "id", &loop_id)["status"], "finished");
    assert_eq!(find(&list, "id", &failed_id)["status"], "failed");
    // The named loop's scope: its iterations, all finished.
    let root = srv.get(&format!("/api/workflows/{loop_id}/nodes/-")).json();
    let lp = root["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node_type"] == json!("loop"))
        .unwrap_or_else(|| panic!("no loop node in {root}"));
    assert_eq!(lp["status"], "Finished");
    let iters = srv
        .get(&format!("/api/workflows/{loop_id}/nodes/-.N2"))
        .json();
    assert_eq!(iters["total"], json!(4), "{iters}");
    let out = srv.get(&format!("/api/workflows/{loop_id}/nodes/-/outputs/value"));
    assert_eq!(out.text().trim(), "10");
    // The failed external worker's node and its error text.
    let errs = srv
        .get(&format!("/api/workflows/{failed_id}/nodes/-.N3/info"))
        .json();
    assert_eq!(errs["status"], "Error", "{errs}");
    Ok(())
}

/// A run paused at -.N2 (`has_breakpoint`, breakpoints on): the API says
/// paused and where; `continue` starts `tkr resume` (this binary), which goes
/// past -.N2 and pauses at -.N3; a run that is not paused cannot continue.
fn paused_run() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let id = wf(77);
    let out = run_to_first_breakpoint(tmp.path(), id);
    assert_eq!(out, Outcome::Paused(vec!["-.N2".parse().expect("loc")]));
    let srv = start_router(tmp.path());
    let w = srv.get(&format!("/api/workflows/{id}")).json();
    assert_eq!(
        (&w["status"], &w["paused_at"]),
        (&json!("paused"), &json!(["-.N2"]))
    );
    let listed = srv.get("/api/workflows").json();
    assert_eq!(find(&listed, "id", &id.to_string())["status"], "paused");

    let r = srv.post(&format!("/api/workflows/{id}/continue"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["paused_at"], json!(["-.N2"]));
    wait_until(
        "the resume to pause at -.N3",
        Duration::from_secs(30),
        || srv.get(&format!("/api/workflows/{id}")).json()["paused_at"] == json!(["-.N3"]),
    );
    assert!(tmp.path().join(id.to_string()).join("-.N2/_done").exists());

    // A finished run is not paused.
    let done = wf(78);
    assert_eq!(
        run_graph(
            tmp.path(),
            done,
            &map_graph(),
            &[("value", typed_map_input())]
        ),
        Outcome::Finished
    );
    let r = srv.post(&format!("/api/workflows/{done}/continue"));
    assert_eq!(r.status, 409, "{}", r.text());
    Ok(())
}

/// A task reused from the result cache says so in its node info, naming the
/// run and node its outputs came from.
fn cached_task() -> Result<(), Failed> {
    use std::sync::Arc;
    use tierkreis_controller::cache::ResultCache;
    use tierkreis_controller::executor::DefaultExecutor;
    use tierkreis_controller::runtime;
    use tierkreis_storage::FileControllerStorage;
    let tmp = tempfile::tempdir()?;
    let graph = r#"{"nodes": [
 {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    let graph = tierkreis_core::GraphData::from_json(graph.as_bytes()).expect("graph");
    // Builtins are cached here (the CLI leaves them out unless configured).
    let cache = Arc::new(ResultCache::new(tmp.path(), |_, _| {
        Some("test".to_string())
    }));
    for n in [81, 82] {
        let storage = FileControllerStorage::new(tmp.path(), wf(n), None);
        runtime::start_workflow(&storage, &graph, &Default::default()).expect("start");
        let options = runtime::RunOptions {
            cache: Some(cache.clone()),
            ..runtime::RunOptions::default()
        };
        let out = runtime::run_with_options(
            Arc::new(storage),
            &options,
            &mut DefaultExecutor::new(),
            &mut |_| {},
            runtime::RunEventChannel::new(),
        )
        .expect("run");
        assert_eq!(out, Outcome::Finished);
    }
    let srv = start_router(tmp.path());
    let first = srv
        .get(&format!("/api/workflows/{}/nodes/-.N1/info", wf(81)))
        .json();
    assert_eq!(first["cached_from"], Value::Null);
    let second = srv
        .get(&format!("/api/workflows/{}/nodes/-.N1/info", wf(82)))
        .json();
    assert_eq!(
        second["cached_from"],
        json!({"run": wf(81).to_string(), "loc": "-.N1"})
    );
    assert_eq!(second["status"], "Finished");
    Ok(())
}

/// A page on another site may not restart tasks (`Origin`, or failing that
/// `Referer`, not this server: 403 with a message, nothing restarted); the
/// server's own page may.
fn cross_site_restart() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    assert!(matches!(
        run_graph(tmp.path(), wf(41), DIVIDE_BY_ZERO_GRAPH, &[]),
        Outcome::Failed(_)
    ));
    let srv = start_router(tmp.path());
    let path = format!("/api/workflows/{}/nodes/-.N2/restart", wf(41));
    let error_marker = tmp.path().join(wf(41).to_string()).join("-.N2/_error");
    for header in [
        ("Origin", "http://evil.example"),
        ("Origin", "null"),
        ("Referer", "http://evil.example/page.html"),
    ] {
        let r = srv.request_with("POST", &path, &[header]);
        assert_eq!(r.status, 403, "{header:?}: {}", r.text());
        let message = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains(header.0) && message.contains(header.1),
            "{message}"
        );
        assert!(error_marker.exists(), "{header:?} restarted the task");
    }
    // Another port of this host is another origin.
    let other_port = format!("http://127.0.0.1:{}", srv.addr.port().wrapping_add(1));
    let r = srv.request_with("POST", &path, &[("Origin", &other_port)]);
    assert_eq!(r.status, 403, "{}", r.text());
    // Reading stays open to any origin's simple GET (the Host check guards it).
    let own = format!("http://{}", srv.addr);
    let r = srv.request_with(
        "GET",
        "/api/workflows/",
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The page's own origin restarts.
    let r = srv.request_with("POST", &path, &[("Origin", &own)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let wf_dir = tmp.path().join(wf(41).to_string());
    wait_until(
        "the resume started by the restart to end",
        Duration::from_secs(30),
        || wf_dir.join("-/_error").exists() && wf_dir.join("-.N2/_error").exists(),
    );
    Ok(())
}

/// A request whose `Host` is not this server (DNS rebinding) gets 421 with a
/// message; loopback names with the bound port are served.
fn foreign_host() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let srv = start_router(tmp.path());
    let port = srv.addr.port();
    for host in [
        format!("evil.example:{port}"),
        format!("localhost:{}", port.wrapping_add(1)),
    ] {
        let r = srv.request_with("GET", "/api/workflows/", &[("Host", &host)]);
        assert_eq!(r.status, 421, "{host}: {}", r.text());
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap_or_default()
                .contains(&host),
            "{}",
            r.text()
        );
        let r = srv.request_with("GET", "/", &[("Host", &host)]);
        assert_eq!(r.status, 421, "{host}: {}", r.text());
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("LOCALHOST:{port}"),
    ] {
        let r = srv.request_with("GET", "/api/workflows/", &[("Host", &host)]);
        assert_eq!(r.status, 200, "{host}: {}", r.text());
    }
    Ok(())
}

/// Bound to every address, the API and page need the server's token: 401
/// without it; `?token=` (which also sets a same-site cookie for the page's
/// own calls), the cookie, or `Authorization: Bearer` let a request in.
fn token_required() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    let srv = start_router_at(tmp.path(), &format!("0.0.0.0:{ROUTER_PORT}"));
    let token = srv.token.clone().expect("a token for a non-loopback bind");
    let r = srv.get("/api/workflows/");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("token"));
    let r = srv.get("/api/workflows/?token=wrong");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = srv.get(&format!("/?token={token}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = format!("tkr_token={token}");
    assert!(
        r.head.contains(&cookie) && r.head.contains("SameSite=Strict"),
        "{}",
        r.head
    );
    let r = srv.request_with("GET", "/api/workflows/", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let bearer = format!("Bearer {token}");
    let r = srv.request_with("GET", "/api/workflows/", &[("Authorization", &bearer)]);
    assert_eq!(r.status, 200, "{}", r.text());
    // Any host name is accepted then: the token is what protects it.
    let host = format!("some-machine.example:{}", srv.addr.port());
    let r = srv.request_with(
        "GET",
        &format!("/api/workflows/?token={token}"),
        &[("Host", &host)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    Ok(())
}

/// A task that reports an error on its first call and is retried (policy:
/// one retry on `error`): its node info lists the failed attempt.
fn retried_task() -> Result<(), Failed> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tierkreis_controller::executor::InProcessExecutor;
    use tierkreis_controller::retry::{RetryOn, RetryPolicy};
    use tierkreis_controller::runtime;
    use tierkreis_storage::FileControllerStorage;
    let tmp = tempfile::tempdir()?;
    let graph = r#"{"nodes": [
 {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "flaky.f", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    let graph = tierkreis_core::GraphData::from_json(graph.as_bytes()).expect("graph");
    let calls = Arc::new(AtomicUsize::new(0));
    let mut exec = InProcessExecutor::file(tmp.path());
    let seen = calls.clone();
    exec.register("flaky", move |args, ws| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err("transient failure".to_string());
        }
        ws.write_output(&args.outputs["value"], b"7")
            .map_err(|e| e.to_string())
    });
    let storage = FileControllerStorage::new(tmp.path(), wf(91), None);
    runtime::start_workflow(&storage, &graph, &Default::default()).expect("start");
    let policy = |_: &str, _: &str| RetryPolicy {
        retries: 1,
        backoff: Duration::from_millis(1),
        retry_on: vec![RetryOn::Error],
    };
    let options = runtime::RunOptions {
        retries: Some(Arc::new(policy)),
        ..runtime::RunOptions::default()
    };
    let out = runtime::run_with_options(
        Arc::new(storage),
        &options,
        &mut exec,
        &mut |_| {},
        runtime::RunEventChannel::new(),
    )
    .expect("run");
    assert_eq!(out, Outcome::Finished);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let srv = start_router(tmp.path());
    let info = srv
        .get(&format!("/api/workflows/{}/nodes/-.N1/info", wf(91)))
        .json();
    assert_eq!(
        info["attempts"],
        json!([{"number": 1, "reason": "transient failure"}])
    );
    assert_eq!(info["status"], "Finished");
    assert_eq!(info["error"], Value::Null);
    Ok(())
}

/// The pictures of values: a named loop's trace (what `tkr trace` prints)
/// as a plot, a list of numbers as a plot, a number as JSON; the trace of a
/// node that is not a loop is 400, a value that does not exist 404.
fn pictures_and_trace() -> Result<(), Failed> {
    let tmp = tempfile::tempdir()?;
    assert_eq!(
        run_graph(tmp.path(), wf(41), &slow_loop_graph(5, 0.0), &[]),
        Outcome::Finished
    );
    assert_eq!(
        run_graph(
            tmp.path(),
            wf(42),
            &map_graph(),
            &[("value", typed_map_input())]
        ),
        Outcome::Finished
    );
    let srv = start_router(tmp.path());
    let (looped, mapped) = (wf(41).to_string(), wf(42).to_string());

    // The loop named "counter" (-.N4): `i` counts 1..=5 over 5 iterations;
    // `should_continue` (booleans) is not plotted; `slept` neither.
    let trace = srv.get(&format!("/api/workflows/{looped}/nodes/-.N4/trace"));
    assert_eq!(trace.status, 200, "{}", trace.text());
    let trace = trace.json();
    assert_eq!(trace["iterations"], json!(5));
    assert_eq!(trace["truncated"], json!(false));
    assert_eq!(
        trace["plot"]["series"],
        json!([{"name": "i", "points": [1.0, 2.0, 3.0, 4.0, 5.0]}])
    );
    assert_eq!(trace["other_ports"], json!(["should_continue", "slept"]));
    let not_a_loop = srv.get(&format!("/api/workflows/{looped}/nodes/-.N0/trace"));
    assert_eq!(not_a_loop.status, 400);
    assert!(not_a_loop.text().contains("only loop nodes have a trace"));

    // The map's doubled list is a plot; one element's number is JSON.
    let list = srv
        .get(&format!(
            "/api/workflows/{mapped}/nodes/-/outputs/value/picture"
        ))
        .json();
    assert_eq!(list["kind"], json!("plot"), "{list}");
    let want: Vec<f64> = tierkreis_core::json::parse(&typed_map_input())
        .expect("input")
        .as_list()
        .expect("a list")
        .iter()
        .map(|v| 2.0 * v.as_f64().expect("a number"))
        .collect();
    assert_eq!(list["series"][0]["points"], json!(want));
    let input = srv
        .get(&format!(
            "/api/workflows/{mapped}/nodes/-.N3.M0/inputs/value/picture"
        ))
        .json();
    assert_eq!(input, json!({"kind": "json"}));
    let missing = srv.get(&format!(
        "/api/workflows/{mapped}/nodes/-/outputs/nothing/picture"
    ));
    assert_eq!(missing.status, 404);
    Ok(())
}
