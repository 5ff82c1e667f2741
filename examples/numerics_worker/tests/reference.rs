//! The worker against the real Python reference: a graph built with the
//! Python builder from this binary's stubs (a big integer, a multi-output
//! task with its optional input left out, a list) run by the reference
//! controller (tierkreis 2.1.1, `ShellExecutor`), which launches this binary
//! as `numerics_worker`. `harness = false` so the test can report itself
//! skipped (ignored) when the reference environment is missing outside CI.

use tierkreis_test_support as reference;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tkr-numerics-worker");

const RUN_GRAPH: &str = r#"
import json, sys
from pathlib import Path
from typing import NamedTuple
from uuid import UUID
from tierkreis.builder import Graph
from tierkreis.controller import run_graph
from tierkreis.controller.data.models import TKR
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.storage import read_outputs

sys.path.insert(0, str(Path(__file__).parent))
import numerics_stubs as s

class Outs(NamedTuple):
    fib: TKR[int]
    mean: TKR[float]
    stdev: TKR[float]
    primes: TKR[list[int]]

tkr_dir, registry = sys.argv[1], sys.argv[2]
g = Graph(TKR[int], Outs)
fib = g.task(s.fibonacci(n=g.inputs))
st_ = g.task(s.stats(values=g.const([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])))
primes = g.task(s.primes_below(n=g.const(20)))
wf = g.finish_with_outputs(Outs(fib=fib, mean=st_.mean, stdev=st_.stdev, primes=primes))
st = ControllerFileStorage(UUID(int=8), tierkreis_directory=Path(tkr_dir))
run_graph(st, ShellExecutor(Path(registry), st.workflow_dir), wf, 100,
          n_iterations=3000, polling_interval_seconds=0.01)
print(json.dumps(read_outputs(wf, st), sort_keys=True))
"#;

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

fn reference_controller_runs_the_worker(run_sh: &Path) -> Result<(), String> {
    let dir = reference::reference_scratch("tkr-worker-ref-");
    let root = dir.path();
    let bin = root.join("tkr-numerics-worker");
    std::fs::copy(BIN, &bin).map_err(e)?;
    let stubs = Command::new(&bin)
        .arg("--stubs-path")
        .arg(root.join("numerics_stubs.py"))
        .status()
        .map_err(e)?;
    if !stubs.success() {
        return Err(format!("--stubs-path failed: {stubs}"));
    }
    let launcher_dir = root.join("registry/numerics_worker");
    std::fs::create_dir_all(&launcher_dir).map_err(e)?;
    let launcher = launcher_dir.join("main.sh");
    std::fs::write(
        &launcher,
        format!("#!/bin/bash\nexec {} \"$@\"\n", bin.display()),
    )
    .map_err(e)?;
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).map_err(e)?;
    let script = root.join("run_graph.py");
    std::fs::write(&script, RUN_GRAPH).map_err(e)?;
    let out = reference::reference_python(
        run_sh,
        root,
        &script,
        &[
            &root.join("checkpoints").to_string_lossy(),
            &root.join("registry").to_string_lossy(),
        ],
    )?;
    let want = r#"{"fib": 354224848179261915075, "mean": 5.0, "primes": [2, 3, 5, 7, 11, 13, 17, 19], "stdev": 2.0}"#;
    if out.trim() != want {
        return Err(format!(
            "unexpected outputs:\n got {}\nwant {want}",
            out.trim()
        ));
    }
    Ok(())
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = vec![reference::reference_trial(
        "reference_controller_runs_the_worker",
        reference_controller_runs_the_worker,
    )];
    libtest_mimic::run(&args, trials).exit();
}
