//! `compile_simulate` with the Aer worker on a real SLURM, side by side:
//! worker jobs (warm processes inside a few batch jobs), one batch job per
//! task (`warm = false`), and local warm workers, all on the same machine's
//! cores. Each answer is checked, and the batch jobs each run used are
//! counted.
//!
//! `tkr` runs on the host (SLURM jobs run there, outside the reference's
//! root), reaching the reference's Python and its published workers through
//! the host commands of `shared/reference/shims.sh`; the graph and inputs
//! are built by the reference's own builder inside the reference
//! environment (`python/quantum_graphs.py`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::child::run_measured;
use crate::quantum::{check_exit, check_ghz_results, circuit_sizes, input_args, io, SHOTS};
use crate::BenchError;

/// How the Aer tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlurmMode {
    /// Worker jobs: warm processes in at most `max_worker_jobs` jobs.
    WorkerJobs,
    /// `warm = false`: one batch job per task.
    OneJobPerTask,
    /// No batch system: local warm workers.
    LocalWarm,
}

impl SlurmMode {
    /// The name in the results table.
    pub fn name(self) -> &'static str {
        match self {
            SlurmMode::WorkerJobs => "tkr, worker jobs on SLURM",
            SlurmMode::OneJobPerTask => "tkr, one SLURM job per task",
            SlurmMode::LocalWarm => "tkr, local warm workers",
        }
    }
}

/// Where things are.
#[derive(Debug, Clone)]
pub struct SlurmBench {
    /// `run.sh` of the reference environment (`shims.sh` is beside it).
    pub run_sh: PathBuf,
    /// The `tkr` binary.
    pub tkr: PathBuf,
    /// Worker jobs at most (each one warm process on one core).
    pub max_worker_jobs: u32,
    /// `tkr --jobs` for the local processes.
    pub jobs: u64,
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct SlurmRun {
    pub mode: SlurmMode,
    pub n: u64,
    pub wall: Duration,
    /// Batch jobs the run submitted.
    pub batch_jobs: usize,
    /// Aer tasks that ran.
    pub aer_tasks: usize,
}

impl SlurmBench {
    /// Builds the `n`-circuit case under `scratch` (below `/tmp`) and runs
    /// it in each of `modes`, checking every answer.
    pub fn run(
        &self,
        n: u64,
        modes: &[SlurmMode],
        scratch: &Path,
    ) -> Result<Vec<SlurmRun>, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("tkr-bench-slurm-")
            .tempdir_in(scratch)
            .map_err(|e| io(scratch, e))?;
        let shims = dir.path().join("shims");
        let shims_sh = self.run_sh.with_file_name("shims.sh");
        let mut make_shims = Command::new("bash");
        make_shims.arg(&shims_sh).arg(&shims);
        let made = run_measured(&mut make_shims, dir.path())?;
        check_exit(&made, "shims.sh", n)?;
        let script = dir.path().join("quantum_graphs.py");
        std::fs::write(&script, crate::quantum::QUANTUM_GRAPHS_PY).map_err(|e| io(&script, e))?;
        let case = dir.path().join("case");
        let sizes = circuit_sizes(n);
        let join = |v: Vec<String>| v.join(",");
        let mut build = Command::new("bash");
        build
            .arg(&self.run_sh)
            .args(["--", "python3"])
            .arg(&script)
            .arg("ghz")
            .arg(&case)
            .arg("aer")
            .arg(join(sizes.iter().map(u64::to_string).collect()))
            .arg(join(vec![SHOTS.to_string(); sizes.len()]))
            .current_dir(dir.path());
        let built = run_measured(&mut build, dir.path())?;
        check_exit(&built, "quantum_graphs.py ghz", n)?;
        let inputs = input_args(&case)?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![shims.clone()];
        dirs.extend(std::env::split_paths(&path));
        let path = std::env::join_paths(dirs).map_err(|e| {
            io(
                &shims,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            )
        })?;

        let mut runs = Vec::new();
        for (i, &mode) in modes.iter().enumerate() {
            wait_for_empty_queue();
            let ck = dir.path().join(format!("checkpoints-{i}"));
            std::fs::create_dir(&ck).map_err(|e| io(&ck, e))?;
            let config = dir.path().join(format!("tkr-{i}.toml"));
            let text = match mode {
                SlurmMode::WorkerJobs | SlurmMode::OneJobPerTask => format!(
                    "[hpc]\npoll_secs = 1\n\n[workers.aer_worker]\nexecutor = \"slurm\"\nwarm = {}\nmax_worker_jobs = {}\n[workers.aer_worker.job]\ncores_per_node = 1\n",
                    mode == SlurmMode::WorkerJobs,
                    self.max_worker_jobs
                ),
                SlurmMode::LocalWarm => String::new(),
            };
            std::fs::write(&config, text).map_err(|e| io(&config, e))?;
            let mut cmd = Command::new(&self.tkr);
            cmd.args([
                "run",
                "-q",
                "--run-id",
                "1",
                "--jobs",
                &self.jobs.to_string(),
            ])
            .arg("--config")
            .arg(&config)
            .arg("-f")
            .arg(case.join("graph.json"))
            .env("TKR_DIR", &ck)
            .env("PATH", &path)
            .env_remove("RUST_LOG")
            .current_dir(dir.path());
            for input in &inputs {
                cmd.arg("-i").arg(input);
            }
            let start = Instant::now();
            let run = run_measured(&mut cmd, dir.path())?;
            let wall = start.elapsed();
            check_exit(&run, mode.name(), n)?;
            check_ghz_results(&ck, &sizes, mode.name(), n)?;
            let wf = ck.join("00000000-0000-0000-0000-000000000001");
            let (aer_tasks, task_jobs) = aer_task_jobs(&wf);
            let worker_jobs = std::fs::read_dir(wf.join("tkr-worker-jobs"))
                .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
                .unwrap_or(0);
            runs.push(SlurmRun {
                mode,
                n,
                wall,
                batch_jobs: if mode == SlurmMode::WorkerJobs {
                    worker_jobs
                } else {
                    task_jobs
                },
                aer_tasks,
            });
        }
        wait_for_empty_queue();
        Ok(runs)
    }
}

/// The Aer tasks of workflow `wf`, and how many distinct batch jobs their
/// executor records name.
fn aer_task_jobs(wf: &Path) -> (usize, usize) {
    let mut tasks = 0;
    let mut jobs = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(wf.join("debug/executors"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        // Aer tasks: not builtins, and not the pytket worker's (which runs
        // locally in every mode); a batch job's record names its script,
        // not the worker.
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("\"builtin\"") || text.contains("pytket") {
            continue;
        }
        tasks += 1;
        if let Ok(v) = tierkreis_core::json::parse(&bytes) {
            if let Some(id) = v
                .as_map()
                .and_then(|m| m.get("job_id"))
                .and_then(tierkreis_core::Value::as_str)
            {
                jobs.insert(id.to_string());
            }
        }
    }
    (tasks, jobs.len())
}

/// Waits (at most a minute) until SLURM runs nothing, so that one mode's
/// jobs never take the cores of the next.
fn wait_for_empty_queue() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i"])
            .stderr(Stdio::null())
            .output();
        match out {
            Ok(o) if o.stdout.iter().all(u8::is_ascii_whitespace) => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(250)),
            Err(_) => return,
        }
    }
}
