//! Times the Python reference controller on the same graphs as `tkr`, run the
//! way the reference's CLI runs them (`python/ref_bench.py`, started through
//! the reference environment's `run.sh`), and checks its answer too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::run_measured;
use crate::runner::{check_run, check_value, parse_output};
use crate::{BenchError, StorageMode, Workload};

/// The driver script run inside the reference environment.
pub const REF_BENCH_PY: &str = include_str!("../python/ref_bench.py");

/// How to reach the reference.
#[derive(Debug, Clone)]
pub struct ReferenceBench {
    /// `run.sh` of the reference environment (runs a command in its root).
    pub run_sh: PathBuf,
    /// The reference's Python, as seen inside that root.
    pub python: String,
    pub workload: Workload,
    pub storage: StorageMode,
    /// The workload's worker binary (see [`Workload::worker_binary`]). It is
    /// copied into the scratch folder, which the reference root sees, and
    /// that copy's folder is put first on the controller's `PATH`, where the
    /// reference's `ShellExecutor` (no registry) finds `tkr-<worker>`.
    pub worker: Option<PathBuf>,
}

/// One reference run.
#[derive(Debug, Clone)]
pub struct ReferenceRun {
    pub n: u64,
    /// Whole process, interpreter start and imports included.
    pub wall: Duration,
    /// `run_graph` alone, as timed inside Python.
    pub run_graph: Duration,
    /// Peak RSS of the controller process (not of the per-task `python
    /// main.py` processes file storage starts), KiB.
    pub max_rss_kib: u64,
}

impl ReferenceBench {
    /// Runs size `n` once in a fresh folder under `scratch`. `/tmp` is
    /// visible inside the reference root; any other folder is bound there
    /// at the same path (`run.sh --bind`).
    pub fn run(&self, n: u64, scratch: &Path) -> Result<ReferenceRun, BenchError> {
        let io = |p: &Path, source| BenchError::Io {
            path: p.to_path_buf(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("tkr-bench-ref-")
            .tempdir_in(scratch)
            .map_err(|e| io(scratch, e))?;
        let script = dir.path().join("ref_bench.py");
        std::fs::write(&script, REF_BENCH_PY).map_err(|e| io(&script, e))?;
        let graph = dir.path().join("graph.json");
        std::fs::write(&graph, self.workload.graph(n).to_json()).map_err(|e| io(&graph, e))?;
        let ck = dir.path().join("checkpoints");
        std::fs::create_dir(&ck).map_err(|e| io(&ck, e))?;
        let mut cmd = Command::new("bash");
        cmd.arg(&self.run_sh);
        if !scratch.starts_with("/tmp") {
            // run.sh shows only /tmp and the folders it is asked to bind.
            cmd.arg("--bind").arg(scratch);
        }
        cmd.arg("--")
            .arg(&self.python)
            .arg(&script)
            .arg(&graph)
            .arg(self.storage.as_arg())
            .current_dir(dir.path())
            .env("TKR_DIR", &ck);
        if let (Some(worker), Some(name)) = (&self.worker, self.workload.worker_binary()) {
            let bin = dir.path().join("bin");
            std::fs::create_dir(&bin).map_err(|e| io(&bin, e))?;
            let copy = bin.join(name);
            std::fs::copy(worker, &copy).map_err(|e| io(worker, e))?;
            cmd.arg(&bin);
        }
        let run = run_measured(&mut cmd, dir.path())?;
        let program = "reference controller".to_owned();
        check_run(&run, &program, self.workload, n)?;
        let line = run.last_stdout_line();
        let value = parse_output(line, &program, self.workload, n, &["outputs", "value"])?;
        check_value(&value, &program, self.workload, n)?;
        let secs = parse_output(line, &program, self.workload, n, &["seconds"])?;
        let run_graph = secs
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| BenchError::BadOutput {
                program: program.clone(),
                workload: self.workload.name(),
                n,
                reason: "\"seconds\" is not a non-negative number".to_owned(),
                line: line.to_owned(),
            })?;
        Ok(ReferenceRun {
            n,
            wall: run.wall,
            run_graph,
            max_rss_kib: run.max_rss_kib,
        })
    }
}
