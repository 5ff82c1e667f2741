//! Robustness under crashes: the controller SIGKILLed at random moments
//! while a map of external (shell) tasks runs, then resumed, again and
//! again. The outputs must be exact, and no task whose `_done` exists may
//! ever be started again (each start checks and records it).
//!
//! CI runs a few trials; `TKR_KILL_TRIALS=N` runs more (as a soak).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use tierkreis_core::Value;

/// `counter.double`: records its start (and whether its node was already
/// done, which must never happen), sleeps a little, writes 2 * value by
/// rename. The shell executor marks it done when it exits 0.
const COUNTER_MAIN_SH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
node="$(dirname "$done_path")"
if [ -e "$done_path" ]; then
  echo "$(basename "$node")" >> "$CALLS_DIR/started_after_done"
fi
echo "$(basename "$node")" >> "$CALLS_DIR/starts"
sleep 0.02
value="$(cat "$input_value_file")"
tmp="$output_value_file.tmp.$$"
echo "$((value * 2))" > "$tmp"
mv "$tmp" "$output_value_file"
"#;

/// A map of `counter.double` over the input list, folded back into a list.
fn map_graph() -> String {
    let body = r#"{"nodes": [
        {"type": "input", "name": "value", "inputs": {}, "outputs": {"value": [1]}},
        {"type": "function", "function_name": "counter.double", "inputs": {"value": [0, "value"]}, "outputs": {"value": [2]}},
        {"type": "output", "inputs": {"value": [1, "value"]}, "outputs": {}}
      ], "fixed_inputs": {}, "graph_inputs": ["value"], "graph_output_idx": 2, "named_nodes": {}, "node_metadata": {}}"#;
    format!(
        r#"{{"nodes": [
        {{"type": "input", "name": "value", "inputs": {{}}, "outputs": {{"value": [2]}}}},
        {{"type": "const", "value": {body}, "inputs": {{}}, "outputs": {{"value": [3]}}}},
        {{"type": "function", "function_name": "builtins.unfold_values", "inputs": {{"value": [0, "value"]}}, "outputs": {{"*": [3]}}}},
        {{"type": "map", "body": [1, "value"], "inputs": {{"value": [2, "*"]}}, "outputs": {{"value-*": [4]}}}},
        {{"type": "function", "function_name": "builtins.fold_values", "inputs": {{"values_glob": [3, "value-*"]}}, "outputs": {{"value": [5]}}}},
        {{"type": "output", "inputs": {{"value": [4, "value"]}}, "outputs": {{}}}}
      ], "fixed_inputs": {{}}, "graph_inputs": ["value"], "graph_output_idx": 5, "named_nodes": {{}}, "node_metadata": {{}}}}"#
    )
}

/// A small deterministic generator (xorshift64*), so a failing trial can be
/// replayed from its printed seed.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// How many task starts the worker has recorded.
fn count_starts(calls: &Path) -> usize {
    std::fs::read_to_string(calls.join("starts"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn one_trial(seed: u64) -> usize {
    const ELEMENTS: i64 = 12;
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    std::fs::create_dir_all(registry.join("counter")).expect("registry");
    std::fs::write(registry.join("counter/main.sh"), COUNTER_MAIN_SH).expect("main.sh");
    let calls = tmp.path().join("calls");
    std::fs::create_dir_all(&calls).expect("calls dir");
    let graph = write(tmp.path(), "map.json", &map_graph());
    let list: Vec<String> = (1..=ELEMENTS).map(|i| i.to_string()).collect();
    let input = write(tmp.path(), "value.json", &format!("[{}]", list.join(", ")));
    let ck = tmp.path().join("ck");
    let controller = |first: bool| -> Command {
        let mut c = tkr(&ck);
        if first {
            c.args(["run", "--run-id", "1", "-f"])
                .arg(&graph)
                .arg("-i")
                .arg(format!("value:{}", input.display()));
        } else {
            c.args(["resume", "--run-id", "1"]);
        }
        c.args(["-q", "--jobs", "3", "--registry"])
            .arg(&registry)
            .env("CALLS_DIR", &calls)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("controller.err")).expect("stderr file"));
        c
    };
    let mut random = Xorshift(seed.max(1));
    let mut kills = 0;
    let mut lock_still_held = 0;
    let mut first = true;
    // A worker forked by the killed controller holds a copy of the lock's
    // descriptor until it execs (microseconds, more on a loaded machine):
    // a resume in that instant is refused with exit 2 and a clear message,
    // and is simply started again, as a user would.
    let refused_as_locked = |code: Option<i32>| {
        code == Some(2)
            && std::fs::read_to_string(tmp.path().join("controller.err"))
                .is_ok_and(|e| e.contains("another controller is running"))
    };
    let finished = loop {
        let mut child = controller(first).spawn().expect("start tkr");
        if kills >= 40 {
            // Enough: let the last one finish.
            let code = child.wait().expect("wait").code();
            if refused_as_locked(code) && lock_still_held < 100 {
                lock_still_held += 1;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            break code;
        }
        // Kill once this controller has started 1 to 3 more tasks, plus a
        // random few milliseconds: always in the middle of the map, at a
        // different point of a task's life each time.
        let target = count_starts(&calls) + 1 + (random.next() % 3) as usize;
        let exited = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status.code());
            }
            if count_starts(&calls) >= target {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if let Some(code) = exited {
            if !first && refused_as_locked(code) && lock_still_held < 100 {
                lock_still_held += 1;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            break code;
        }
        first = false;
        std::thread::sleep(Duration::from_millis(random.next() % 40));
        child.kill().expect("SIGKILL the controller");
        child.wait().expect("reap");
        kills += 1;
    };
    assert_eq!(
        finished,
        Some(0),
        "seed {seed}: the last run did not finish after {kills} kills: {}",
        std::fs::read_to_string(tmp.path().join("controller.err")).unwrap_or_default()
    );
    let wf = ck.join(run_uuid(1));
    let value = Value::from_bytes(&std::fs::read(wf.join("-/outputs/value")).expect("output"));
    let want = Value::List((1..=ELEMENTS).map(|i| Value::int(2 * i)).collect());
    assert_eq!(value, want, "seed {seed}: outputs");
    let again = std::fs::read_to_string(calls.join("started_after_done")).unwrap_or_default();
    assert!(
        again.is_empty(),
        "seed {seed}: finished tasks started again after {kills} kills: {again}"
    );
    let starts = std::fs::read_to_string(calls.join("starts")).expect("starts");
    for i in 0..ELEMENTS {
        let node = format!("-.N3.M{i}.N1");
        assert!(
            starts.lines().any(|l| l == node),
            "seed {seed}: {node} never ran: {starts}"
        );
    }
    kills
}

#[test]
fn killing_the_controller_at_random_moments_loses_nothing_and_reruns_no_finished_task() {
    let trials: u64 = std::env::var("TKR_KILL_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let mut total_kills = 0;
    for trial in 0..trials {
        let seed = 0x9e37_79b9_7f4a_7c15 ^ (trial + 1);
        total_kills += one_trial(seed);
    }
    eprintln!("{trials} trials, {total_kills} kills, all right");
    assert!(
        total_kills > 0 || trials == 0,
        "no controller was ever killed: the trials tested nothing"
    );
}
