//! The generated stubs work with the real Python graph builder: a script in
//! the reference environment imports them and builds a graph calling every
//! task (single and multi-output, optional inputs left out or given).
//! `harness = false` so the test can report itself skipped (ignored) when
//! the reference environment is missing outside CI.

mod common;
use tierkreis_test_support as reference;

use std::path::Path;

const BUILD_GRAPH: &str = r#"
import json, sys
from typing import NamedTuple
from tierkreis.builder import Graph
from tierkreis.controller.data.models import TKR
import demo_stubs as s

class Ins(NamedTuple):
    subject: TKR[str]
    values: TKR[list[float]]

class Outs(NamedTuple):
    greeting: TKR[str]
    mean: TKR[float]
    stdev: TKR[float]
    misc: TKR[list[bytes]]

g = Graph(Ins, Outs)
greeting = g.task(s.greet(greeting=g.const("hello "), subject=g.inputs.subject))
stats = g.task(s.stats(values=g.inputs.values))
scaled = g.task(s.stats(values=g.inputs.values, scale=g.const(2.0)))
misc = g.task(s.misc(a=g.const(1), b=g.const(b"x"), c=g.const({"k": [1]})))
g.task(s.nothing(a=g.const(1)))
wf = g.finish_with_outputs(Outs(greeting=greeting, mean=stats.mean, stdev=scaled.stdev, misc=misc))
funcs = [[n.function_name, sorted(n.inputs)] for n in wf.data.nodes if n.type == "function"]
outs = sorted(wf.data.nodes[wf.data.output_idx()].inputs.items())
print(json.dumps({"functions": funcs, "outputs": [[k, v[1]] for k, v in outs]}))
"#;

fn builds_a_graph(run_sh: &Path) -> Result<(), String> {
    let dir = reference::reference_scratch("tkr-worker-ref-");
    let stubs = common::demo_worker().stubs().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("demo_stubs.py"), stubs).map_err(|e| e.to_string())?;
    let script = dir.path().join("build.py");
    std::fs::write(&script, BUILD_GRAPH).map_err(|e| e.to_string())?;
    let out = reference::reference_python(run_sh, dir.path(), &script, &[])?;
    let got: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("{e}: {out}"))?;
    let want = serde_json::json!({
        "functions": [
            ["demo_worker.greet", ["greeting", "subject"]],
            ["demo_worker.stats", ["values"]],
            ["demo_worker.stats", ["scale", "values"]],
            ["demo_worker.misc", ["a", "b", "c"]],
            ["demo_worker.nothing", ["a"]],
        ],
        "outputs": [["greeting", "value"], ["mean", "mean"], ["misc", "value"], ["stdev", "stdev"]],
    });
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "graph built from the stubs differs:\n got {got}\nwant {want}"
        ))
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = vec![reference::reference_trial(
        "stubs_build_a_graph_with_the_reference_builder",
        builds_a_graph,
    )];
    libtest_mimic::run(&args, trials).exit();
}
