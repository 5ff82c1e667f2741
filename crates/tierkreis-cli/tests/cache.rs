//! The result cache through the real `tkr` binary and real worker processes:
//! a shell worker that appends a line to a file on every call, so each test
//! counts exactly which tasks ran and which were reused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{expect_code, run_uuid, tkr, write};

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    ck: PathBuf,
    reg: PathBuf,
    calls: PathBuf,
}

/// `w.inc` adds one to its input `x` and logs the call.
fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let reg = root.join("reg");
    let calls = root.join("calls");
    std::fs::create_dir_all(reg.join("w")).expect("registry");
    let e = Env {
        _dir: dir,
        ck: root.join("ck"),
        reg,
        calls,
        root,
    };
    e.set_worker("");
    e
}

impl Env {
    fn set_worker(&self, extra: &str) {
        std::fs::write(
            self.reg.join("w/main.sh"),
            format!(
                "{extra}\necho \"$worker_call_args_file\" >> {}\nx=$(cat \"$input_x_file\")\necho $((x + 1)) > \"$output_value_file\"\n",
                self.calls.display()
            ),
        )
        .expect("worker");
    }

    fn calls(&self) -> usize {
        std::fs::read_to_string(&self.calls)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn run(&self, id: u128, a: i64, b: i64, extra: &[&str]) -> Output {
        self.run_graph(id, &format!("g{id}.json"), &graph(a, b), extra)
    }

    /// `tkr run -o` of `graph_json` (written to `file_name`) as run `id`,
    /// with the registry of `w` and `extra` options.
    fn run_graph(&self, id: u128, file_name: &str, graph_json: &str, extra: &[&str]) -> Output {
        let g = write(&self.root, file_name, graph_json);
        tkr(&self.ck)
            .args(["run", "--run-id", &id.to_string(), "-o", "--registry"])
            .arg(&self.reg)
            .args(extra)
            .arg("-f")
            .arg(g)
            .output()
            .expect("tkr run")
    }

    fn wf(&self, id: u128) -> PathBuf {
        self.ck.join(run_uuid(id))
    }
}

/// Two independent branches: `a = w.inc(A)` at -.N1, `b = w.inc(B)` at -.N3.
fn graph(a: i64, b: i64) -> String {
    format!(
        r#"{{"nodes": [
 {{"type": "const", "value": {a}, "inputs": {{}}, "outputs": {{"value": [1]}}}},
 {{"type": "function", "function_name": "w.inc", "inputs": {{"x": [0, "value"]}}, "outputs": {{"value": [4]}}}},
 {{"type": "const", "value": {b}, "inputs": {{}}, "outputs": {{"value": [3]}}}},
 {{"type": "function", "function_name": "w.inc", "inputs": {{"x": [2, "value"]}}, "outputs": {{"value": [4]}}}},
 {{"type": "output", "inputs": {{"a": [1, "value"], "b": [3, "value"]}}, "outputs": {{}}}}
], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 4, "named_nodes": {{}}, "node_metadata": {{}}}}"#
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output, a: i64, b: i64) {
    expect_code(out, 0);
    assert_eq!(stdout(out), format!("a: {a}\nb: {b}\n"));
}

fn tkr_out(ck: &Path, args: &[&str]) -> String {
    let out = tkr(ck).args(args).output().expect("tkr");
    expect_code(&out, 0);
    stdout(&out)
}

#[test]
fn an_edited_graph_reruns_only_the_changed_branch() {
    let e = env();
    ok(&e.run(1, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 2);
    ok(&e.run(2, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 2, "an unchanged graph ran tasks again");
    let show = tkr_out(&e.ck, &["show", &run_uuid(2)]);
    assert!(
        show.contains(&format!("cached from {} -.N1", run_uuid(1))),
        "tkr show:\n{show}"
    );
    ok(&e.run(3, 1, 20, &["--cache"]), 2, 21);
    assert_eq!(e.calls(), 3, "only the edited branch should run");
    assert!(e.wf(3).join("-.N1/cache_source").exists());
    assert!(!e.wf(3).join("-.N3/cache_source").exists());
    // Without --cache everything runs.
    ok(&e.run(4, 1, 10, &[]), 2, 11);
    assert_eq!(e.calls(), 5);
}

#[test]
fn a_changed_worker_invalidates_its_entries() {
    let e = env();
    ok(&e.run(1, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 2);
    e.set_worker("# version 2");
    ok(&e.run(2, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(
        e.calls(),
        4,
        "a changed worker script must not reuse old results"
    );
    ok(&e.run(3, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 4);
}

#[test]
fn an_entry_whose_outputs_were_deleted_is_recomputed() {
    let e = env();
    ok(&e.run(1, 1, 10, &["--cache"]), 2, 11);
    std::fs::remove_file(e.wf(1).join("-.N1/outputs/value")).expect("delete output");
    let stats = tkr_out(&e.ck, &["cache", "stats"]);
    assert!(
        stats.starts_with("2 entries, 1 intact, 1 broken"),
        "{stats}"
    );
    ok(&e.run(2, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 3, "the broken entry's task must run again");
    assert!(!e.wf(2).join("-.N1/cache_source").exists());
    assert!(e.wf(2).join("-.N3/cache_source").exists());
    // The recomputed result is cached again, from run 2.
    ok(&e.run(3, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 3);
    let stats = tkr_out(&e.ck, &["cache", "stats"]);
    assert!(
        stats.starts_with("2 entries, 2 intact, 0 broken"),
        "{stats}"
    );
}

#[test]
fn two_runs_share_one_cache_at_once() {
    let e = env();
    e.set_worker("sleep 0.3");
    let spawn = |id: u128| {
        let g = write(&e.root, &format!("g{id}.json"), &graph(1, 10));
        tkr(&e.ck)
            .args([
                "run",
                "--cache",
                "-o",
                "--run-id",
                &id.to_string(),
                "--registry",
            ])
            .arg(&e.reg)
            .arg("-f")
            .arg(g)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(1), spawn(2));
    ok(&a.wait_with_output().expect("run 1"), 2, 11);
    ok(&b.wait_with_output().expect("run 2"), 2, 11);
    let after_both = e.calls();
    assert!((2..=4).contains(&after_both), "{after_both} calls");
    ok(&e.run(3, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(
        e.calls(),
        after_both,
        "the shared cache did not serve run 3"
    );
    let stats = tkr_out(&e.ck, &["cache", "stats"]);
    assert!(stats.starts_with("2 entries, 2 intact"), "{stats}");
    let leftovers: Vec<_> = walk(&e.ck.join(".cache"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn clean_removes_a_runs_entries_and_cache_clear_removes_all() {
    let e = env();
    ok(&e.run(1, 1, 10, &["--cache"]), 2, 11);
    let ls = tkr_out(&e.ck, &["cache", "ls"]);
    assert_eq!(ls.lines().count(), 2, "{ls}");
    assert!(
        ls.lines()
            .all(|l| l.contains("w.inc") && l.contains(&run_uuid(1)) && l.ends_with("ok")),
        "{ls}"
    );
    let out = tkr_out(&e.ck, &["clean", &run_uuid(1)]);
    assert!(out.contains("removed 2 result cache entries"), "{out}");
    assert_eq!(tkr_out(&e.ck, &["cache", "ls"]), "");
    ok(&e.run(2, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 4);
    assert_eq!(
        tkr_out(&e.ck, &["cache", "clear"]),
        "removed 2 cache entries\n"
    );
    ok(&e.run(3, 1, 10, &["--cache"]), 2, 11);
    assert_eq!(e.calls(), 6);
}

#[test]
fn a_worker_can_opt_out_and_builtins_are_not_cached_by_default() {
    let e = env();
    let config = write(
        &e.root,
        "tkr.toml",
        "cache = true\n[workers.w]\ncache = false\n",
    );
    let c = config.to_str().expect("utf-8");
    ok(&e.run(1, 1, 10, &["--config", c]), 2, 11);
    ok(&e.run(2, 1, 10, &["--config", c]), 2, 11);
    assert_eq!(
        e.calls(),
        4,
        "an opted-out worker was served from the cache"
    );
    // `cache = true` in tkr.toml turns the cache on without the flag.
    let config = write(&e.root, "tkr2.toml", "cache = true\n");
    let c = config.to_str().expect("utf-8");
    ok(&e.run(3, 1, 10, &["--config", c]), 2, 11);
    ok(&e.run(4, 1, 10, &["--config", c]), 2, 11);
    assert_eq!(e.calls(), 6);

    let g = write(
        &e.root,
        "b.json",
        r#"{"nodes": [
 {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}},
 {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [0, "value"]}, "outputs": {"value": [2]}},
 {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#,
    );
    let before = tkr_out(&e.ck, &["cache", "ls"]).lines().count();
    for id in [10, 11] {
        let out = tkr(&e.ck)
            .args(["run", "--cache", "--run-id", &id.to_string(), "-f"])
            .arg(&g)
            .output()
            .expect("run");
        expect_code(&out, 0);
    }
    assert_eq!(tkr_out(&e.ck, &["cache", "ls"]).lines().count(), before);
    assert!(!e.wf(11).join("-.N1/cache_source").exists());
}

/// A map of `w.inc` over `0..n` (summed) beside an eval of `w.inc(100)`:
/// the map node is -.N5 and the eval node -.N9.
fn nested_graph(n: i64) -> String {
    let map_body = r#"{"nodes": [
  {"type": "input", "name": "value", "inputs": {}, "outputs": {"value": [1]}},
  {"type": "function", "function_name": "w.inc", "inputs": {"x": [0, "value"]}, "outputs": {"value": [2]}},
  {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
 ], "fixed_inputs": {}, "graph_inputs": ["value"], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    let eval_body = r#"{"nodes": [
  {"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}},
  {"type": "function", "function_name": "w.inc", "inputs": {"x": [0, "x"]}, "outputs": {"value": [2]}},
  {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
 ], "fixed_inputs": {}, "graph_inputs": ["x"], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    format!(
        r#"{{"nodes": [
 {{"type": "const", "value": 0, "inputs": {{}}, "outputs": {{"value": [2]}}}},
 {{"type": "const", "value": {n}, "inputs": {{}}, "outputs": {{"value": [2]}}}},
 {{"type": "function", "function_name": "builtins.tkr_range", "inputs": {{"start": [0, "value"], "stop": [1, "value"]}}, "outputs": {{"value": [4]}}}},
 {{"type": "const", "value": {map_body}, "inputs": {{}}, "outputs": {{"value": [5]}}}},
 {{"type": "function", "function_name": "builtins.unfold_values", "inputs": {{"value": [2, "value"]}}, "outputs": {{"*": [5]}}}},
 {{"type": "map", "body": [3, "value"], "inputs": {{"value": [4, "*"]}}, "outputs": {{"value-*": [6]}}}},
 {{"type": "function", "function_name": "builtins.fold_values", "inputs": {{"values_glob": [5, "value-*"]}}, "outputs": {{"value": [7]}}}},
 {{"type": "function", "function_name": "builtins.sum_list", "inputs": {{"values": [6, "value"]}}, "outputs": {{"value": [10]}}}},
 {{"type": "const", "value": 100, "inputs": {{}}, "outputs": {{"value": [9]}}}},
 {{"type": "eval", "graph": [11, "value"], "inputs": {{"x": [8, "value"]}}, "outputs": {{"value": [10]}}}},
 {{"type": "output", "inputs": {{"total": [7, "value"], "e": [9, "value"]}}, "outputs": {{}}}},
 {{"type": "const", "value": {eval_body}, "inputs": {{}}, "outputs": {{"value": [9]}}}}
], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 10, "named_nodes": {{}}, "node_metadata": {{}}}}"#
    )
}

impl Env {
    fn run_nested(&self, id: u128, n: i64, extra: &[&str]) -> Output {
        let options = [&["--cache"], extra].concat();
        self.run_graph(id, &format!("nested{id}.json"), &nested_graph(n), &options)
    }
}

/// The outputs of `nested_graph(n)`: the sum of 1..=n, and 101.
fn nested_ok(out: &Output, n: i64) {
    expect_code(out, 0);
    assert_eq!(stdout(out), format!("e: 101\ntotal: {}\n", n * (n + 1) / 2));
}

#[test]
fn an_unchanged_map_or_eval_is_reused_whole_and_a_changed_one_reuses_its_tasks() {
    let e = env();
    nested_ok(&e.run_nested(1, 3, &[]), 3);
    assert_eq!(e.calls(), 4, "3 map elements and 1 eval");

    // Unchanged: both nested graphs are reused whole, no inner node is made.
    nested_ok(&e.run_nested(2, 3, &[]), 3);
    assert_eq!(e.calls(), 4, "an unchanged nested graph ran tasks again");
    for node in ["-.N5", "-.N9"] {
        let source = std::fs::read_to_string(e.wf(2).join(node).join("cache_source"))
            .unwrap_or_else(|err| panic!("{node} of run 2 was not reused: {err}"));
        assert!(source.contains(&run_uuid(1)), "{node}: {source}");
    }
    assert!(
        !e.wf(2).join("-.N5.M0").exists(),
        "a reused map made elements"
    );
    assert!(
        !e.wf(2).join("-.N9.N1").exists(),
        "a reused eval made inner nodes"
    );
    let show = tkr_out(&e.ck, &["show", &run_uuid(2)]);
    assert!(
        show.contains(&format!("whole graph cached from {} -.N5", run_uuid(1))),
        "tkr show:\n{show}"
    );

    // One more element: the map runs again, but only the new element's task
    // runs; the eval is still reused whole.
    nested_ok(&e.run_nested(3, 4, &[]), 4);
    assert_eq!(e.calls(), 5, "only the new element should run");
    assert!(!e.wf(3).join("-.N5/cache_source").exists());
    assert!(e.wf(3).join("-.N5.M0.N1/cache_source").exists());
    assert!(!e.wf(3).join("-.N5.M3.N1/cache_source").exists());
    assert!(e.wf(3).join("-.N9/cache_source").exists());

    // A changed worker: nothing inside is reused, whole or task by task.
    e.set_worker("# version 2");
    nested_ok(&e.run_nested(4, 3, &[]), 3);
    assert_eq!(
        e.calls(),
        9,
        "a changed worker must invalidate nested graphs"
    );
    assert!(!e.wf(4).join("-.N5/cache_source").exists());
    assert!(!e.wf(4).join("-.N9/cache_source").exists());

    // An output of the map node that run 4 recorded is deleted: the entry is
    // broken, never served; the map runs again from its tasks' entries.
    std::fs::remove_file(e.wf(4).join("-.N5/outputs/value-1")).expect("delete output");
    nested_ok(&e.run_nested(5, 3, &[]), 3);
    assert_eq!(e.calls(), 9);
    assert!(!e.wf(5).join("-.N5/cache_source").exists());
    assert!(e.wf(5).join("-.N5.M1.N1/cache_source").exists());
}

#[test]
fn a_nested_graph_with_an_opted_out_worker_is_never_reused_whole() {
    let e = env();
    let config = write(&e.root, "tkr.toml", "[workers.w]\ncache = false\n");
    let c = config.to_str().expect("utf-8");
    let run = |id: u128| e.run_nested(id, 2, &["--config", c]);
    nested_ok(&run(1), 2);
    nested_ok(&run(2), 2);
    assert_eq!(e.calls(), 6, "w opted out: every call runs, in both runs");
    assert!(!e.wf(2).join("-.N5/cache_source").exists());
    assert!(!e.wf(2).join("-.N9/cache_source").exists());
}

/// `loop_acc` from 0: `w.inc` while 3 > the new value; the loop is -.N2.
fn loop_graph() -> String {
    let body = r#"{"nodes": [
  {"type": "input", "name": "loop_acc", "inputs": {}, "outputs": {"loop_acc": [1]}},
  {"type": "function", "function_name": "w.inc", "inputs": {"x": [0, "loop_acc"]}, "outputs": {"value": [3, 4]}},
  {"type": "const", "value": 3, "inputs": {}, "outputs": {"value": [3]}},
  {"type": "function", "function_name": "builtins.igt", "inputs": {"a": [2, "value"], "b": [1, "value"]}, "outputs": {"value": [4]}},
  {"type": "output", "inputs": {"loop_acc": [1, "value"], "should_continue": [3, "value"]}, "outputs": {}}
 ], "fixed_inputs": {}, "graph_inputs": ["loop_acc"], "graph_output_idx": 4, "named_nodes": {}, "node_metadata": {}}"#;
    format!(
        r#"{{"nodes": [
 {{"type": "const", "value": 0, "inputs": {{}}, "outputs": {{"value": [2]}}}},
 {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}},
 {{"type": "loop", "body": [1, "value"], "inputs": {{"loop_acc": [0, "value"]}}, "continue_port": "should_continue", "name": null, "outputs": {{"loop_acc": [3]}}}},
 {{"type": "output", "inputs": {{"value": [2, "loop_acc"]}}, "outputs": {{}}}}
], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {{}}, "node_metadata": {{}}}}"#
    )
}

#[test]
fn an_unchanged_loop_is_reused_whole() {
    let e = env();
    let run = |id: u128| e.run_graph(id, "loop.json", &loop_graph(), &["--cache"]);
    for id in [1, 2] {
        let out = run(id);
        expect_code(&out, 0);
        assert_eq!(stdout(&out), "value: 3\n");
    }
    assert_eq!(e.calls(), 3, "three iterations, run once");
    assert!(e.wf(2).join("-.N2/cache_source").exists());
    assert!(
        !e.wf(2).join("-.N2.L0").exists(),
        "a reused loop made iterations"
    );
}

#[test]
fn a_nested_graph_calling_a_random_builtin_is_never_reused_whole() {
    let e = env();
    let body = r#"{"nodes": [
  {"type": "input", "name": "x", "inputs": {}, "outputs": {"x": [1]}},
  {"type": "function", "function_name": "builtins.rand_int", "inputs": {"a": [0, "x"], "b": [0, "x"]}, "outputs": {"value": [2]}},
  {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
 ], "fixed_inputs": {}, "graph_inputs": ["x"], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    let graph = format!(
        r#"{{"nodes": [
 {{"type": "const", "value": 5, "inputs": {{}}, "outputs": {{"value": [2]}}}},
 {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [2]}}}},
 {{"type": "eval", "graph": [1, "value"], "inputs": {{"x": [0, "value"]}}, "outputs": {{"value": [3]}}}},
 {{"type": "output", "inputs": {{"value": [2, "value"]}}, "outputs": {{}}}}
], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {{}}, "node_metadata": {{}}}}"#
    );
    for id in [1, 2] {
        let out = e.run_graph(id, "random.json", &graph, &["--cache"]);
        expect_code(&out, 0);
        assert_eq!(stdout(&out), "value: 5\n");
    }
    assert!(!e.wf(2).join("-.N2/cache_source").exists());
    assert!(
        e.wf(2).join("-.N2.N1/_done").exists(),
        "the random builtin ran again"
    );
}
