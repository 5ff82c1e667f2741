//! The worker against the real Python reference: a graph built with the
//! Python builder from the stubs this binary writes, run by the reference
//! controller (tierkreis 2.1.1, `ShellExecutor`), which launches this binary
//! as `hello_world_worker` and reads back what it wrote.
//! `harness = false` so the test can report itself skipped (ignored) when
//! the reference environment is missing outside CI.

use tierkreis_test_support as reference;
use tierkreis_test_support::reference_worker::StagedWorker;

use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_tkr-hello-world-worker");

const RUN_GRAPH: &str = r#"
import json, sys
from pathlib import Path
from uuid import UUID
from tierkreis.builder import Graph
from tierkreis.controller import run_graph
from tierkreis.controller.data.models import TKR
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.storage import read_outputs

sys.path.insert(0, str(Path(__file__).parent))
import hello_stubs as s

tkr_dir, registry = sys.argv[1], sys.argv[2]
g = Graph(TKR[str], TKR[str])
out = g.task(s.greet(greeting=g.const("hello "), subject=g.inputs))
wf = g.finish_with_outputs(out)
st = ControllerFileStorage(UUID(int=7), tierkreis_directory=Path(tkr_dir))
run_graph(st, ShellExecutor(Path(registry), st.workflow_dir), wf, "world!",
          n_iterations=3000, polling_interval_seconds=0.01)
print(json.dumps(read_outputs(wf, st)))
"#;

fn reference_controller_runs_the_worker(run_sh: &Path) -> Result<(), String> {
    let staged = StagedWorker::new(
        BIN,
        "tkr-hello-world-worker",
        "hello_world_worker",
        "hello_stubs",
    )?;
    let out = staged.run_graph_script(run_sh, RUN_GRAPH)?;
    if out.trim() != r#""hello world!""# {
        return Err(format!("unexpected outputs: {out}"));
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
