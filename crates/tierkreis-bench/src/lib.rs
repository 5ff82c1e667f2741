//! Benchmarks for the `tkr` controller: graph generators for the benchmark
//! workloads, an end-to-end runner that times the `tkr` binary as a child
//! process (and checks its answer), the durable-storage floor, the
//! process-spawn floor of a worker binary, and a runner for the Python
//! reference controller on the same graphs; and the reference's own quantum
//! workflow under both controllers, side by side.

pub mod cache;
pub mod cgroup;
pub mod child;
pub mod floor;
pub mod graphs;
pub mod otlp_cost;
pub mod quantum;
pub mod reference;
pub mod runner;
pub mod slurm;
pub mod spawn;
pub mod warm;

use std::path::PathBuf;

pub use graphs::Workload;

/// Where checkpoints go during a run (passed to `tkr --storage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMode {
    Memory,
    File,
}

impl StorageMode {
    /// The name `tkr --storage` and `python/ref_bench.py` take.
    pub fn as_arg(self) -> &'static str {
        match self {
            StorageMode::Memory => "memory",
            StorageMode::File => "file",
        }
    }
}

/// Everything that can go wrong while benchmarking, with the file, program
/// or workload it concerns.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot wait for {program} (pid {pid}): {source}")]
    Wait {
        program: String,
        pid: u32,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}) on {workload} n={n}; stderr ends:\n{stderr}")]
    ChildFailed {
        program: String,
        workload: &'static str,
        n: u64,
        status: String,
        stderr: String,
    },
    #[error("{program} printed no usable result for {workload} n={n} ({reason}); last stdout line: {line:?}")]
    BadOutput {
        program: String,
        workload: &'static str,
        n: u64,
        reason: String,
        line: String,
    },
    #[error("worker binary {} not found: {hint}", path.display())]
    MissingWorker { path: PathBuf, hint: &'static str },
    #[error("{worker} failed ({status}) on the spawn-floor call {index}; stderr ends:\n{stderr}")]
    WorkerFailed {
        worker: String,
        index: u64,
        status: String,
        stderr: String,
    },
    #[error("{worker} wrote {found:?} for the spawn-floor call {index}, expected {expected}")]
    WorkerWrongOutput {
        worker: String,
        index: u64,
        expected: String,
        found: String,
    },
    #[error("{program} sent no spans to the OTLP receiver at {url} ({workload} n={n}, with the endpoint set)")]
    NoSpansExported {
        program: String,
        workload: &'static str,
        n: u64,
        url: String,
    },
    #[error("{program} computed a wrong {workload} n={n}: expected {expected}, got {found}")]
    WrongResult {
        program: String,
        workload: &'static str,
        n: u64,
        expected: String,
        found: String,
    },
}
