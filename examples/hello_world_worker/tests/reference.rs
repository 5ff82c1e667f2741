//! The worker against the real Python reference: a graph built with the
//! Python builder from the stubs this binary writes, run by the reference
//! controller (tierkreis 2.1.1, `ShellExecutor`), which launches this binary
//! as `hello_world_worker` and reads back what it wrote.
//! `harness = false` so the test can report itself skipped (ignored) when
//! the reference environment is missing outside CI.

use tierkreis_test_support as reference;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

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

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

fn reference_controller_runs_the_worker(run_sh: &Path) -> Result<(), String> {
    let dir = reference::reference_scratch("tkr-worker-ref-");
    let root = dir.path();
    // The binary must be visible inside the reference root: copy it under /tmp.
    let bin = root.join("tkr-hello-world-worker");
    std::fs::copy(BIN, &bin).map_err(e)?;
    let stubs = Command::new(&bin)
        .arg("--stubs-path")
        .arg(root.join("hello_stubs.py"))
        .status()
        .map_err(e)?;
    if !stubs.success() {
        return Err(format!("--stubs-path failed: {stubs}"));
    }
    let launcher_dir = root.join("registry/hello_world_worker");
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
    let tkr_dir = root.join("checkpoints");
    let registry = root.join("registry");
    let out = reference::reference_python(
        run_sh,
        root,
        &script,
        &[&tkr_dir.to_string_lossy(), &registry.to_string_lossy()],
    )?;
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
