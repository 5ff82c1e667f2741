//! A worker binary of this workspace run by the Python reference controller
//! (its `ShellExecutor`): the binary, its stubs and a registry launcher
//! staged under `/tmp` where the reference sees them, and a `run_graph`
//! script run there.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{reference_python, reference_scratch};

/// A scratch folder under `/tmp` holding the worker binary, its stubs
/// `<stubs_module>.py` (written by `--stubs-path`), and `registry/<worker>/
/// main.sh`, which runs the binary.
#[derive(Debug)]
pub struct StagedWorker {
    scratch: tempfile::TempDir,
}

impl StagedWorker {
    /// Stages the binary `bin` (copied in as `exe_name`, since the reference
    /// cannot see the build folder) as the worker `worker`.
    pub fn new(
        bin: &str,
        exe_name: &str,
        worker: &str,
        stubs_module: &str,
    ) -> Result<Self, String> {
        let scratch = reference_scratch("tkr-worker-ref-");
        let root = scratch.path();
        let exe = root.join(exe_name);
        std::fs::copy(bin, &exe).map_err(|e| format!("copy {bin}: {e}"))?;
        let stubs = Command::new(&exe)
            .arg("--stubs-path")
            .arg(root.join(format!("{stubs_module}.py")))
            .status()
            .map_err(|e| format!("run {}: {e}", exe.display()))?;
        if !stubs.success() {
            return Err(format!("--stubs-path failed: {stubs}"));
        }
        let launcher_dir = root.join("registry").join(worker);
        std::fs::create_dir_all(&launcher_dir).map_err(|e| e.to_string())?;
        let launcher = launcher_dir.join("main.sh");
        std::fs::write(
            &launcher,
            format!("#!/bin/bash\nexec {} \"$@\"\n", exe.display()),
        )
        .map_err(|e| e.to_string())?;
        std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        Ok(StagedWorker { scratch })
    }

    /// The scratch folder.
    pub fn path(&self) -> &Path {
        self.scratch.path()
    }

    /// The registry holding the worker.
    pub fn registry(&self) -> PathBuf {
        self.path().join("registry")
    }

    /// Writes `script` as `run_graph.py` beside the stubs and runs it with the
    /// reference's Python (through `run_sh`) as `run_graph.py CHECKPOINTS
    /// REGISTRY`; returns its stdout.
    pub fn run_graph_script(&self, run_sh: &Path, script: &str) -> Result<String, String> {
        let path = self.path().join("run_graph.py");
        std::fs::write(&path, script).map_err(|e| e.to_string())?;
        reference_python(
            run_sh,
            self.path(),
            &path,
            &[
                &self.path().join("checkpoints").to_string_lossy(),
                &self.registry().to_string_lossy(),
            ],
        )
    }
}
