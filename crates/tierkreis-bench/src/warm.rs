//! The per-call cost of warm workers against one process per call: `tkr
//! run` on `map_worker(N)` (each element a `numerics_worker.square` call)
//! with a Rust SDK worker binary and with a Python `tierkreis` worker of the
//! same name and task, warm and with `--no-warm`, one job at a time.
//!
//! The cost of one call is the slope between two sizes, `(T(N) - T(n0)) /
//! (N - n0)`, so controller start, graph loading and a warm process's start
//! (imports) drop out, and what is left is what each further call costs.
//! The same map with a builtin square (no worker at all) gives the
//! controller's own work per element; a worker call's overhead is its slope
//! minus that one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::run_measured;
use crate::graphs::Workload;
use crate::runner::{check_run, check_value, median, parse_output, path_with_first};
use crate::BenchError;

/// The Python worker: `numerics_worker.square` on the reference's `Worker`.
pub const PYTHON_SQUARE_WORKER: &str = r#"from sys import argv

from tierkreis import Worker

worker = Worker("numerics_worker")


@worker.task()
def square(x: int) -> int:
    return x * x


if __name__ == "__main__":
    worker.app(argv)
"#;

/// Which worker serves the calls.
#[derive(Debug, Clone)]
pub enum WarmWorker {
    /// No worker: the same map with the square computed by a builtin, in
    /// the controller (`map_square_sum`): the baseline whose slope is the
    /// controller's own work per element.
    Builtin,
    /// The Rust SDK binary (`tkr-numerics-worker`), put first on `PATH`.
    Rust(PathBuf),
    /// [`PYTHON_SQUARE_WORKER`] in a registry; `tkr` runs inside the
    /// reference environment (`run.sh`), whose `python3` has `tierkreis`.
    Python { run_sh: PathBuf },
}

/// One measured series.
#[derive(Debug, Clone)]
pub struct WarmSeries {
    pub worker: &'static str,
    pub warm: bool,
    /// (n, median wall time, median CPU time) for the small and the large size.
    pub small: (u64, Duration, Duration),
    pub large: (u64, Duration, Duration),
}

impl WarmSeries {
    /// Wall-clock milliseconds per further call.
    pub fn ms_per_call(&self) -> f64 {
        let dt = self.large.1.as_secs_f64() - self.small.1.as_secs_f64();
        1000.0 * dt / (self.large.0 - self.small.0) as f64
    }

    /// CPU milliseconds (controller and workers) per further call: the cost
    /// of a call whatever else runs on the machine.
    pub fn cpu_ms_per_call(&self) -> f64 {
        let dt = self.large.2.as_secs_f64() - self.small.2.as_secs_f64();
        1000.0 * dt / (self.large.0 - self.small.0) as f64
    }
}

/// Times `tkr` (`--jobs 1`, file storage) on `map_worker` of sizes `small`
/// and `large`, `repeat` times each, under `dir` (a folder outside /tmp is
/// bound into the reference environment for the Python worker).
pub fn warm_series(
    tkr: &Path,
    worker: &WarmWorker,
    warm: bool,
    small: u64,
    large: u64,
    repeat: u32,
    dir: &Path,
) -> Result<WarmSeries, BenchError> {
    let io = |p: &Path, source| BenchError::Io {
        path: p.to_path_buf(),
        source,
    };
    let scratch = tempfile::Builder::new()
        .prefix("tkr-bench-warm-")
        .tempdir_in(dir)
        .map_err(|source| io(dir, source))?;
    let base = scratch.path();
    // Python: a registry holding the worker. Rust: a bin folder with the binary.
    let reg = base.join("registry");
    let bin = base.join("bin");
    let workload = match worker {
        WarmWorker::Builtin => Workload::MapSquareSum,
        _ => Workload::MapWorker,
    };
    match worker {
        WarmWorker::Builtin => {}
        WarmWorker::Python { .. } => {
            let d = reg.join("numerics_worker");
            std::fs::create_dir_all(&d).map_err(|source| io(&d, source))?;
            std::fs::write(d.join("main.py"), PYTHON_SQUARE_WORKER)
                .map_err(|source| io(&d, source))?;
        }
        WarmWorker::Rust(path) => {
            std::fs::create_dir_all(&bin).map_err(|source| io(&bin, source))?;
            let target = std::path::absolute(path).map_err(|source| io(path, source))?;
            let link = bin.join(crate::graphs::WORKER_BINARY);
            std::os::unix::fs::symlink(&target, &link).map_err(|source| io(&link, source))?;
        }
    }
    let tkr = std::path::absolute(tkr).map_err(|source| io(tkr, source))?;
    let mut sizes = Vec::new();
    for n in [small, large] {
        let graph = base.join(format!("{}_{n}.json", workload.name()));
        std::fs::write(&graph, workload.graph(n).to_json()).map_err(|source| io(&graph, source))?;
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for r in 0..repeat.max(1) {
            let ck = base.join(format!("ck-{n}-{r}"));
            let mut args: Vec<std::ffi::OsString> = vec![
                "run".into(),
                "-f".into(),
                graph.clone().into(),
                "--run-id".into(),
                "1".into(),
                "--storage".into(),
                "file".into(),
                "--checkpoints".into(),
                ck.clone().into(),
                "--jobs".into(),
                "1".into(),
                "-o".into(),
                "--json".into(),
                "-q".into(),
            ];
            if !warm {
                args.push("--no-warm".into());
            }
            let mut cmd = match worker {
                WarmWorker::Builtin => {
                    let mut c = Command::new(&tkr);
                    c.args(&args);
                    c
                }
                WarmWorker::Rust(_) => {
                    let mut c = Command::new(&tkr);
                    c.args(&args).env("PATH", path_with_first(&bin));
                    c
                }
                WarmWorker::Python { run_sh } => {
                    args.push("--registry".into());
                    args.push(reg.clone().into());
                    let mut c = Command::new("bash");
                    c.arg(run_sh)
                        .arg("--bind")
                        .arg(tkr.parent().unwrap_or(Path::new("/")));
                    if !base.starts_with("/tmp") {
                        // E.g. /dev/shm: the reference root sees /tmp only.
                        c.arg("--bind").arg(base);
                    }
                    c.arg("--").arg(&tkr).args(&args);
                    c
                }
            };
            cmd.env("TKR_DIR", &ck).current_dir(base);
            let run = run_measured(&mut cmd, base)?;
            let program = tkr.display().to_string();
            check_run(&run, &program, workload, n)?;
            let value = parse_output(
                run.last_stdout_line(),
                &program,
                workload,
                n,
                &["outputs", "value"],
            )?;
            check_value(&value, &program, workload, n)?;
            walls.push(run.wall);
            cpus.push(run.cpu);
        }
        sizes.push((n, median(&walls), median(&cpus)));
    }
    Ok(WarmSeries {
        worker: match worker {
            WarmWorker::Builtin => "none (builtin square, map_square_sum)",
            WarmWorker::Rust(_) => "Rust SDK (tkr-numerics-worker)",
            WarmWorker::Python { .. } => "Python tierkreis Worker",
        },
        warm,
        small: sizes[0],
        large: sizes[1],
    })
}
