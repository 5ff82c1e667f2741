//! The worker against the real Python reference: a graph built with the
//! Python builder from this binary's stubs (a big integer, a multi-output
//! task with its optional input left out, a list) run by the reference
//! controller (tierkreis 2.1.1, `ShellExecutor`), which launches this binary
//! as `numerics_worker`. `harness = false` so the test can report itself
//! skipped (ignored) when the reference environment is missing outside CI.

use tierkreis_test_support as reference;
use tierkreis_test_support::reference_worker::StagedWorker;

use std::path::Path;

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

fn reference_controller_runs_the_worker(run_sh: &Path) -> Result<(), String> {
    let staged = StagedWorker::new(
        BIN,
        "tkr-numerics-worker",
        "numerics_worker",
        "numerics_stubs",
    )?;
    let out = staged.run_graph_script(run_sh, RUN_GRAPH)?;
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
