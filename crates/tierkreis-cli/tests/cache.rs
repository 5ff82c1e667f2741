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
        let g = write(&self.root, &format!("g{id}.json"), &graph(a, b));
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
