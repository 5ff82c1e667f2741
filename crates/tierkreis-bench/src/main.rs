//! `tkr-bench`: writes the benchmark graphs, times the `tkr` binary end to
//! end, measures the durable-storage and process-spawn floors and times the
//! Python reference, printing markdown table rows for BENCHMARKS.md.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tierkreis_bench::floor::{durable_floor, per_unit_us, small_file_create};
use tierkreis_bench::quantum::{speedup, Controller, QuantumBench, QuantumRun};
use tierkreis_bench::reference::ReferenceBench;
use tierkreis_bench::runner::{median, worker_next_to, RunStats, TkrBench};
use tierkreis_bench::slurm::{SlurmBench, SlurmMode};
use tierkreis_bench::spawn::{overhead_per_task_us, spawn_floor, SpawnReport};
use tierkreis_bench::{StorageMode, Workload};

#[derive(Debug, Parser)]
#[command(name = "tkr-bench", about = "Benchmarks for the tkr controller.")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WorkloadArg {
    /// sum_list(map(x -> itimes(x, x), tkr_range(0, N)))
    Map,
    /// a loop incrementing a counter N times
    Loop,
    /// map_square_sum with each square computed by a numerics_worker
    /// process (tkr-numerics-worker)
    #[value(name = "map_worker", alias = "map-worker")]
    MapWorker,
}

impl From<WorkloadArg> for Workload {
    fn from(w: WorkloadArg) -> Workload {
        match w {
            WorkloadArg::Map => Workload::MapSquareSum,
            WorkloadArg::Loop => Workload::LoopCount,
            WorkloadArg::MapWorker => Workload::MapWorker,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StorageArg {
    Memory,
    File,
}

impl From<StorageArg> for StorageMode {
    fn from(s: StorageArg) -> StorageMode {
        match s {
            StorageArg::Memory => StorageMode::Memory,
            StorageArg::File => StorageMode::File,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SlurmModeArg {
    /// Warm processes inside worker jobs.
    #[value(name = "worker-jobs")]
    WorkerJobs,
    /// warm = false: one batch job per task.
    #[value(name = "one-job-per-task")]
    OneJobPerTask,
    /// No batch system: local warm workers.
    #[value(name = "local-warm")]
    LocalWarm,
}

impl From<SlurmModeArg> for SlurmMode {
    fn from(m: SlurmModeArg) -> SlurmMode {
        match m {
            SlurmModeArg::WorkerJobs => SlurmMode::WorkerJobs,
            SlurmModeArg::OneJobPerTask => SlurmMode::OneJobPerTask,
            SlurmModeArg::LocalWarm => SlurmMode::LocalWarm,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ControllerArg {
    /// The Python reference's run_graph.
    Reference,
    /// tkr with warm workers (its default).
    Warm,
    /// tkr --no-warm.
    #[value(name = "no-warm")]
    NoWarm,
    /// tkr --warm-prestart: warm, a process per named worker from the start.
    #[value(name = "warm-prestart")]
    WarmPrestart,
}

impl From<ControllerArg> for Controller {
    fn from(c: ControllerArg) -> Controller {
        match c {
            ControllerArg::Reference => Controller::Reference,
            ControllerArg::Warm => Controller::TkrWarm,
            ControllerArg::NoWarm => Controller::TkrNoWarm,
            ControllerArg::WarmPrestart => Controller::TkrWarmPrestart,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write the benchmark graphs as JSON: map_square_sum_<N>.json,
    /// loop_count_<N>.json and map_worker_<N>.json.
    Graphs {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        n: Vec<u64>,
    },
    /// Time `tkr run` end to end (process start included) for each N and
    /// check its answer; prints one markdown row per N.
    Run {
        /// The tkr binary.
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        #[arg(long, value_delimiter = ',', required = true)]
        n: Vec<u64>,
        #[arg(long, value_enum, default_value = "memory")]
        storage: StorageArg,
        #[arg(long, value_enum, default_value = "map")]
        workload: WorkloadArg,
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// Count the checkpoint folder's entries after the first run (file storage).
        #[arg(long)]
        count_entries: bool,
        /// Where the temporary graph and checkpoint folders go.
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// The worker binary of map_worker (default: tkr-numerics-worker
        /// next to the tkr binary); put on tkr's PATH.
        #[arg(long, value_name = "PATH")]
        worker: Option<PathBuf>,
        /// tkr --jobs (default: tkr's own, the number of cores).
        #[arg(long)]
        jobs: Option<u64>,
    },
    /// What the OpenTelemetry export costs a run: each round runs tkr
    /// without an endpoint and with one (a receiver in this process on
    /// 127.0.0.1), the order alternating; prints the median wall and CPU
    /// times and the median of the rounds' differences.
    OtlpCost {
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, value_enum, default_value = "memory")]
        storage: StorageArg,
        #[arg(long, default_value_t = 30)]
        rounds: u32,
        /// Where the temporary graph and checkpoint folders go.
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
    /// The process-spawn floor of map_worker: run the worker binary N times
    /// directly on prepared call arguments (`square(x = i)`), `jobs` at a
    /// time, each waited for; optionally also time tkr on map_worker(N) in
    /// the same folder and report its overhead per task.
    Spawn {
        /// The worker binary (tkr-numerics-worker).
        #[arg(long, value_name = "PATH")]
        worker: PathBuf,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        /// Processes at once, one measurement each.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        jobs: Vec<usize>,
        /// Where the temporary TKR_DIR goes (default: the system temp folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Also time `tkr run` on map_worker(N) with file storage.
        #[arg(long, value_name = "PATH")]
        tkr: Option<PathBuf>,
        /// Runs of tkr (with --tkr).
        #[arg(long, default_value_t = 3)]
        repeat: u32,
    },
    /// The durable-storage floor: create exactly the reference's per-element
    /// files, folders and hard links for a map of N elements, with plain
    /// system calls, and time it.
    Floor {
        #[arg(long, default_value_t = 10_000)]
        n: u64,
        /// Where to create them (a fresh temporary folder inside it).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// How many small files the per-file micro-measure creates.
        #[arg(long, default_value_t = 10_000)]
        files: u64,
    },
    /// The result cache: map_worker(N) without the cache, with --cache on an
    /// empty cache, and with --cache again (all hits), side by side in each
    /// round, in fresh folders under --dir (use tmpfs: /dev/shm).
    Cache {
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        /// The numerics worker binary (default: next to tkr).
        #[arg(long, value_name = "PATH")]
        worker: Option<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// tkr with file storage against the durable-storage floor, side by
    /// side: rounds alternate one `tkr run` (map_square_sum(N)) and one
    /// floor run in the same folder, so both see the same machine state;
    /// prints every round and the ratio of the medians.
    Durable {
        /// The tkr binary.
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        n: u64,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Where the checkpoint folders and floor trees go.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The reference's own quantum workflow side by side:
    /// `tierkreis.graphs.simulate.compile_simulate` with Aer on N GHZ
    /// circuits (2 to 5 qubits, 100 shots each), built by the reference's
    /// Python builder, run on the same graph JSON and inputs by the
    /// reference's run_graph and by tkr (warm, --no-warm), all inside the
    /// reference environment; each answer is checked. Prints wall time and
    /// the peak of the summed RSS of all worker processes (sampled from
    /// /proc every 50 ms) per controller and N.
    Quantum {
        /// The tkr binary.
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        /// Circuit counts.
        #[arg(long, value_delimiter = ',', default_value = "3,16,100")]
        n: Vec<u64>,
        /// Controllers, in the order they run for each N.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "reference,warm,no-warm"
        )]
        controllers: Vec<ControllerArg>,
        /// tkr --jobs (default: tkr's own, the number of cores).
        #[arg(long)]
        jobs: Option<u64>,
        /// Stop the reference once its workers' summed RSS passes this many
        /// GiB (it starts every task at once); its figures are then lower
        /// bounds, marked in the table.
        #[arg(long, default_value_t = 12.0)]
        reference_memory_cap_gib: f64,
        /// Run every controller in a fresh memory cgroup limited to this
        /// many GiB and report the group's peak (physical memory of all the
        /// run's processes, shared pages once); a run the kernel kills for
        /// memory is stopped and marked. Needs the right to create cgroups.
        #[arg(long, value_name = "GIB")]
        cgroup_memory_gib: Option<f64>,
        /// The reference environment's runner.
        #[arg(long, default_value = "../shared/reference/run.sh")]
        run_sh: PathBuf,
        /// Scratch folder; /tmp is visible inside the reference root, any
        /// other folder is bound there (run.sh --bind).
        #[arg(long, value_name = "DIR", default_value = "/tmp")]
        work_dir: PathBuf,
    },
    /// `compile_simulate` with the Aer worker on the real SLURM of
    /// ../shared/slurm: worker jobs, one batch job per task, and local warm
    /// workers, side by side on the same cores; each answer checked.
    Slurm {
        /// The tkr binary.
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        /// Circuit counts.
        #[arg(long, value_delimiter = ',', default_value = "16,100")]
        n: Vec<u64>,
        /// Modes, in the order they run for each N.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "worker-jobs,one-job-per-task,local-warm"
        )]
        modes: Vec<SlurmModeArg>,
        /// Worker jobs at most (one warm process on one core each).
        #[arg(long, default_value_t = 2)]
        max_worker_jobs: u32,
        /// tkr --jobs for local processes.
        #[arg(long, default_value_t = 2)]
        jobs: u64,
        /// The reference environment's runner (shims.sh beside it).
        #[arg(long, default_value = "../shared/reference/run.sh")]
        run_sh: PathBuf,
    },
    /// The per-call cost of warm workers against one process per call:
    /// tkr on map_worker with a Rust SDK worker and a Python `tierkreis`
    /// worker, warm and --no-warm, --jobs 1; the slope between two sizes.
    Warm {
        /// The tkr binary.
        #[arg(long, value_name = "PATH")]
        tkr: PathBuf,
        /// The Rust SDK worker (default: tkr-numerics-worker next to tkr).
        #[arg(long, value_name = "PATH")]
        worker: Option<PathBuf>,
        /// Calls of the large size for warm series.
        #[arg(long, default_value_t = 1000)]
        n: u64,
        /// Calls of the large size for one-process-per-call Python (slow).
        #[arg(long, default_value_t = 100)]
        cold_python_n: u64,
        /// Calls of the small size (the slope's start).
        #[arg(long, default_value_t = 10)]
        small: u64,
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// Only the builtin baseline and the Rust SDK worker.
        #[arg(long)]
        rust_only: bool,
        /// The reference environment's runner (for the Python worker).
        #[arg(long, default_value = "../shared/reference/run.sh")]
        run_sh: PathBuf,
        /// Scratch folder (bound into the reference environment when not
        /// under /tmp), e.g. /dev/shm to leave the disk out.
        #[arg(long, default_value = "/tmp")]
        work_dir: PathBuf,
    },
    /// Time the Python reference controller on the same workload.
    Reference {
        #[arg(long, value_delimiter = ',', default_value = "200")]
        n: Vec<u64>,
        #[arg(long, value_enum, default_value = "file")]
        storage: StorageArg,
        #[arg(long, value_enum, default_value = "map")]
        workload: WorkloadArg,
        /// The reference environment's runner.
        #[arg(long, default_value = "../shared/reference/run.sh")]
        run_sh: PathBuf,
        /// The reference's Python inside that environment.
        #[arg(long, default_value = "/opt/tk/bin/python")]
        python: String,
        /// Scratch folder; /tmp is visible inside the reference root, any
        /// other folder is bound there (run.sh --bind).
        #[arg(long, default_value = "/tmp")]
        work_dir: PathBuf,
        /// The worker binary of map_worker (default: tkr-numerics-worker
        /// next to tkr-bench).
        #[arg(long, value_name = "PATH")]
        worker: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Graphs { out, n } => graphs(&out, &n),
        Cmd::Run {
            tkr,
            n,
            storage,
            workload,
            repeat,
            count_entries,
            work_dir,
            worker,
            jobs,
        } => {
            let workload: Workload = workload.into();
            let worker = match (worker, workload.worker_binary()) {
                (Some(w), _) => Some(w),
                (None, Some(name)) => Some(worker_next_to(&tkr, name)?),
                (None, None) => None,
            };
            let bench = TkrBench {
                tkr,
                workload,
                storage: storage.into(),
                repeat,
                count_entries,
                worker,
                jobs,
                otlp_endpoint: None,
            };
            let scratch = work_dir.unwrap_or_else(std::env::temp_dir);
            println!("{}", RunStats::markdown_header());
            for n in n {
                let stats = bench
                    .run(n, &scratch)
                    .with_context(|| format!("benchmark n={n} failed"))?;
                println!("{}", stats.markdown_row());
            }
            Ok(())
        }
        Cmd::OtlpCost {
            tkr,
            n,
            storage,
            rounds,
            work_dir,
        } => {
            let bench = TkrBench {
                tkr,
                workload: Workload::MapSquareSum,
                storage: storage.into(),
                repeat: 1,
                count_entries: false,
                worker: None,
                jobs: None,
                otlp_endpoint: None,
            };
            let scratch = work_dir.unwrap_or_else(std::env::temp_dir);
            let cost = tierkreis_bench::otlp_cost::measure(&bench, n, rounds, &scratch)
                .with_context(|| format!("otlp-cost n={n} failed"))?;
            println!("{}", cost.markdown());
            Ok(())
        }
        Cmd::Floor { n, dir, files } => floor(n, dir, files),
        Cmd::Cache {
            tkr,
            worker,
            n,
            rounds,
            dir,
        } => cache(tkr, worker, n, rounds, dir),
        Cmd::Durable {
            tkr,
            n,
            rounds,
            dir,
        } => durable(tkr, n, rounds, dir),
        Cmd::Spawn {
            worker,
            n,
            jobs,
            dir,
            tkr,
            repeat,
        } => spawn(&worker, n, &jobs, dir, tkr, repeat),
        Cmd::Slurm {
            tkr,
            n,
            modes,
            max_worker_jobs,
            jobs,
            run_sh,
        } => slurm(tkr, &n, &modes, max_worker_jobs, jobs, run_sh),
        Cmd::Quantum {
            tkr,
            n,
            controllers,
            jobs,
            reference_memory_cap_gib,
            cgroup_memory_gib,
            run_sh,
            work_dir,
        } => quantum(
            tkr,
            &n,
            &controllers,
            jobs,
            reference_memory_cap_gib,
            cgroup_memory_gib,
            run_sh,
            &work_dir,
        ),
        Cmd::Warm {
            tkr,
            worker,
            n,
            cold_python_n,
            small,
            repeat,
            rust_only,
            run_sh,
            work_dir,
        } => warm(
            tkr,
            worker,
            n,
            cold_python_n,
            small,
            repeat,
            rust_only,
            run_sh,
            work_dir,
        ),
        Cmd::Reference {
            n,
            storage,
            workload,
            run_sh,
            python,
            work_dir,
            worker,
        } => {
            let workload: Workload = workload.into();
            let worker = match (worker, workload.worker_binary()) {
                (Some(w), _) => Some(w),
                (None, Some(name)) => {
                    let me = std::env::current_exe().context("cannot find tkr-bench itself")?;
                    Some(worker_next_to(&me, name)?)
                }
                (None, None) => None,
            };
            if worker.is_some() && matches!(storage, StorageArg::Memory) {
                anyhow::bail!(
                    "{} needs --storage file: the reference's in-memory executor runs builtins only",
                    workload.name()
                );
            }
            // The reference runs in a scratch folder: a relative path to
            // run.sh must not be taken from there.
            let run_sh = std::fs::canonicalize(&run_sh).with_context(|| {
                format!(
                    "no reference runner at {} (run from the repository root, or give --run-sh)",
                    run_sh.display()
                )
            })?;
            let bench = ReferenceBench {
                run_sh,
                python,
                workload,
                storage: storage.into(),
                worker,
            };
            println!("| reference | workload | storage | N | process s | run_graph s | µs / element | peak RSS MiB |");
            println!("|---|---|---|---:|---:|---:|---:|---:|");
            for n in n {
                let r = bench
                    .run(n, &work_dir)
                    .with_context(|| format!("reference n={n} failed"))?;
                println!(
                    "| python 2.1.1 | {} | {} | {} | {:.3} | {:.3} | {:.1} | {:.1} |",
                    bench.workload.name(),
                    bench.storage.as_arg(),
                    n,
                    r.wall.as_secs_f64(),
                    r.run_graph.as_secs_f64(),
                    per_unit_us(r.wall, n),
                    r.max_rss_kib as f64 / 1024.0
                );
            }
            Ok(())
        }
    }
}

fn slurm(
    tkr: PathBuf,
    ns: &[u64],
    modes: &[SlurmModeArg],
    max_worker_jobs: u32,
    jobs: u64,
    run_sh: PathBuf,
) -> anyhow::Result<()> {
    let canonical = |p: &PathBuf, what: &str| {
        std::fs::canonicalize(p).with_context(|| format!("no {what} at {}", p.display()))
    };
    let bench = SlurmBench {
        run_sh: canonical(
            &run_sh,
            "reference runner (run from the repository root, or give --run-sh)",
        )?,
        tkr: canonical(&tkr, "tkr binary")?,
        max_worker_jobs,
        jobs,
    };
    let modes: Vec<SlurmMode> = modes.iter().map(|&m| m.into()).collect();
    println!(
        "| circuits | mode | wall | batch jobs | aer tasks | vs one job per task | vs local warm |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for &n in ns {
        let runs = bench
            .run(n, &modes, std::path::Path::new("/tmp"))
            .with_context(|| format!("compile_simulate on SLURM, {n} circuits"))?;
        let wall_of = |m: SlurmMode| runs.iter().find(|r| r.mode == m).map(|r| r.wall);
        for r in &runs {
            let ratio = |other: Option<std::time::Duration>| {
                other.map_or("-".to_string(), |o| format!("{:.2}x", speedup(o, r.wall)))
            };
            println!(
                "| {n} | {} | {:.1} s | {} | {} | {} | {} |",
                r.mode.name(),
                r.wall.as_secs_f64(),
                r.batch_jobs,
                r.aer_tasks,
                ratio(wall_of(SlurmMode::OneJobPerTask)),
                ratio(wall_of(SlurmMode::LocalWarm)),
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn quantum(
    tkr: PathBuf,
    ns: &[u64],
    controllers: &[ControllerArg],
    jobs: Option<u64>,
    reference_memory_cap_gib: f64,
    cgroup_memory_gib: Option<f64>,
    run_sh: PathBuf,
    work_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let canonical = |p: &PathBuf, what: &str| {
        std::fs::canonicalize(p).with_context(|| format!("no {what} at {}", p.display()))
    };
    let bench = QuantumBench {
        run_sh: canonical(
            &run_sh,
            "reference runner (run from the repository root, or give --run-sh)",
        )?,
        tkr: canonical(&tkr, "tkr binary")?,
        jobs,
        reference_memory_cap_kib: (reference_memory_cap_gib * 1024.0 * 1024.0) as u64,
        cgroup_memory_limit_bytes: cgroup_memory_gib.map(|g| (g * 1024.0 * 1024.0 * 1024.0) as u64),
    };
    let controllers: Vec<Controller> = controllers.iter().map(|&c| c.into()).collect();
    println!("| N circuits | controller | wall s | vs reference | peak worker RSS MiB (sum) | peak worker processes | controller peak RSS MiB (sampled) | cgroup peak MiB (all processes) | OOM kills |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for &n in ns {
        let runs = bench
            .run(n, &controllers, work_dir)
            .with_context(|| format!("compile_simulate with {n} circuits failed"))?;
        let reference = runs
            .iter()
            .find(|r| r.controller == Controller::Reference)
            .map(|r| (r.wall, r.stopped_at_memory_cap));
        for r in &runs {
            println!("{}", quantum_row(r, reference));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn warm(
    tkr: PathBuf,
    worker: Option<PathBuf>,
    n: u64,
    cold_python_n: u64,
    small: u64,
    repeat: u32,
    rust_only: bool,
    run_sh: PathBuf,
    work_dir: PathBuf,
) -> anyhow::Result<()> {
    use tierkreis_bench::warm::{warm_series, WarmWorker};
    let rust = match worker {
        Some(w) => w,
        None => worker_next_to(&tkr, tierkreis_bench::graphs::WORKER_BINARY)?,
    };
    let run_sh = std::path::absolute(&run_sh)?;
    let series = [
        (WarmWorker::Builtin, true, n),
        (WarmWorker::Rust(rust.clone()), true, n),
        (WarmWorker::Rust(rust), false, n),
        (
            WarmWorker::Python {
                run_sh: run_sh.clone(),
            },
            true,
            n,
        ),
        (WarmWorker::Python { run_sh }, false, cold_python_n),
    ];
    println!(
        "| worker | mode | calls (small, large) | wall s (small, large) | CPU s (small, large) | wall ms / call | CPU ms / call |"
    );
    println!("|---|---|---|---:|---:|---:|---:|");
    let count = if rust_only { 3 } else { series.len() };
    for (worker, is_warm, large) in series.into_iter().take(count) {
        let is_builtin = matches!(worker, WarmWorker::Builtin);
        let s = warm_series(&tkr, &worker, is_warm, small, large, repeat, &work_dir)
            .with_context(|| format!("{worker:?} warm={is_warm} failed"))?;
        println!(
            "| {} | {} | {}, {} | {:.3}, {:.3} | {:.3}, {:.3} | {:.3} | {:.3} |",
            s.worker,
            match (&is_builtin, s.warm) {
                (true, _) => "-",
                (false, true) => "warm",
                (false, false) => "--no-warm",
            },
            s.small.0,
            s.large.0,
            s.small.1.as_secs_f64(),
            s.large.1.as_secs_f64(),
            s.small.2.as_secs_f64(),
            s.large.2.as_secs_f64(),
            s.ms_per_call(),
            s.cpu_ms_per_call()
        );
    }
    Ok(())
}

/// One row of the quantum table; figures of a run stopped at the memory cap
/// are lower bounds (`>=`), and so is a speed-up against one.
fn quantum_row(r: &QuantumRun, reference: Option<(std::time::Duration, bool)>) -> String {
    let at_least = if r.stopped_at_memory_cap { ">= " } else { "" };
    let vs = match reference {
        Some(_) if r.controller == Controller::Reference => "1".to_owned(),
        Some((wall, capped)) => format!(
            "{}{:.1}x",
            if capped { ">= " } else { "" },
            speedup(wall, r.wall)
        ),
        None => "-".to_owned(),
    };
    let cgroup_peak = r.cgroup_peak_bytes.map_or("-".to_owned(), |b| {
        format!("{at_least}{:.0}", b as f64 / (1024.0 * 1024.0))
    });
    let oom_kills = r.cgroup_oom_kills.map_or("-".to_owned(), |k| k.to_string());
    format!(
        "| {} | {} | {at_least}{:.1} | {vs} | {at_least}{:.0} | {at_least}{} | {:.0} | {cgroup_peak} | {oom_kills} |",
        r.n,
        r.controller.name(),
        r.wall.as_secs_f64(),
        r.peak_worker_rss_kib as f64 / 1024.0,
        r.peak_worker_processes,
        r.controller_peak_rss_kib as f64 / 1024.0
    )
}
fn graphs(out: &std::path::Path, ns: &[u64]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for &n in ns {
        for w in Workload::ALL {
            let path = out.join(format!("{}_{n}.json", w.name()));
            std::fs::write(&path, w.graph(n).to_json())
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("{} (expected value: {})", path.display(), w.expected(n));
        }
    }
    Ok(())
}

fn floor(n: u64, dir: Option<PathBuf>, files: u64) -> anyhow::Result<()> {
    let parent = dir.unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("tkr-bench-floor-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot make a folder in {}", parent.display()))?;
    let report = durable_floor(&scratch.path().join("tree"), n)?;
    let c = report.per_element;
    println!("| floor | N | seconds | µs / element | entries / element (dirs + files + links) |");
    println!("|---|---:|---:|---:|---|");
    println!(
        "| map element layout | {n} | {:.3} | {:.2} | {} ({} + {} + {}) |",
        report.elapsed.as_secs_f64(),
        report.us_per_element(),
        c.total(),
        c.dirs,
        c.files,
        c.links
    );
    let d = small_file_create(&scratch.path().join("files"), files)?;
    println!(
        "| small file create (File::create + 2-byte write) | {files} | {:.3} | {:.2} per file | - |",
        d.as_secs_f64(),
        per_unit_us(d, files)
    );
    Ok(())
}

fn cache(
    tkr: PathBuf,
    worker: Option<PathBuf>,
    n: u64,
    rounds: u32,
    dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let parent = dir.unwrap_or_else(std::env::temp_dir);
    let worker = match worker {
        Some(w) => w,
        None => worker_next_to(
            &tkr,
            Workload::MapWorker.worker_binary().unwrap_or_default(),
        )?,
    };
    println!(
        "| round | N | no cache s | --cache, empty s | overhead | --no-warm, no cache s | --no-warm --cache, empty s | overhead (--no-warm) | --cache, all hits s | speed-up vs warm first | speed-up vs --no-warm first |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows: Vec<[f64; 5]> = Vec::new();
    let print_row = |label: &str, t: [f64; 5]| {
        let [plain, first, plain_cold, first_cold, second] = t;
        println!(
            "| {label} | {n} | {plain:.3} | {first:.3} | {:+.1}% | {plain_cold:.3} | {first_cold:.3} | {:+.1}% | {second:.3} | {:.1}x | {:.1}x |",
            (first / plain - 1.0) * 100.0,
            (first_cold / plain_cold - 1.0) * 100.0,
            first / second,
            first_cold / second,
        );
    };
    for round in 1..=rounds.max(1) {
        let r = tierkreis_bench::cache::cache_round(&tkr, &worker, n, &parent)
            .with_context(|| format!("cache round {round} failed"))?;
        let t = [
            r.plain.as_secs_f64(),
            r.first.as_secs_f64(),
            r.plain_one_process_per_task.as_secs_f64(),
            r.first_one_process_per_task.as_secs_f64(),
            r.second.as_secs_f64(),
        ];
        print_row(&round.to_string(), t);
        rows.push(t);
    }
    let mut medians = [0.0; 5];
    for (column, median_of_column) in medians.iter_mut().enumerate() {
        let mut values: Vec<f64> = rows.iter().map(|row| row[column]).collect();
        values.sort_by(f64::total_cmp);
        *median_of_column = values[values.len() / 2];
    }
    print_row("median", medians);
    Ok(())
}

fn durable(tkr: PathBuf, n: u64, rounds: u32, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let parent = dir.unwrap_or_else(std::env::temp_dir);
    let bench = TkrBench {
        tkr,
        workload: Workload::MapSquareSum,
        storage: StorageMode::File,
        repeat: 1,
        count_entries: false,
        worker: None,
        jobs: None,
        otlp_endpoint: None,
    };
    println!("| round | N | tkr s | floor s | tkr / floor |");
    println!("|---:|---:|---:|---:|---:|");
    let (mut tkr_walls, mut floor_walls) = (Vec::new(), Vec::new());
    for round in 1..=rounds.max(1) {
        let t = bench
            .run(n, &parent)
            .with_context(|| format!("tkr run n={n} failed"))?
            .median();
        let scratch = tempfile::Builder::new()
            .prefix("tkr-bench-floor-")
            .tempdir_in(&parent)
            .with_context(|| format!("cannot make a folder in {}", parent.display()))?;
        let f = durable_floor(&scratch.path().join("tree"), n)?.elapsed;
        drop(scratch);
        println!(
            "| {round} | {n} | {:.3} | {:.3} | {:.2} |",
            t.as_secs_f64(),
            f.as_secs_f64(),
            t.as_secs_f64() / f.as_secs_f64()
        );
        tkr_walls.push(t);
        floor_walls.push(f);
    }
    let (t, f) = (median(&tkr_walls), median(&floor_walls));
    println!(
        "| median | {n} | {:.3} | {:.3} | {:.2} |",
        t.as_secs_f64(),
        f.as_secs_f64(),
        t.as_secs_f64() / f.as_secs_f64()
    );
    Ok(())
}

fn spawn(
    worker: &std::path::Path,
    n: u64,
    jobs: &[usize],
    dir: Option<PathBuf>,
    tkr: Option<PathBuf>,
    repeat: u32,
) -> anyhow::Result<()> {
    let parent = dir.unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("tkr-bench-spawn-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot make a folder in {}", parent.display()))?;
    let tkr_dir = scratch.path().join("tkr_dir");
    println!("| spawn floor | N | processes at once | seconds | µs / spawn |");
    println!("|---|---:|---:|---:|---:|");
    let mut floors: Vec<SpawnReport> = Vec::new();
    for &j in jobs {
        let r = spawn_floor(worker, &tkr_dir, n, j)
            .with_context(|| format!("spawn floor with {j} at once failed"))?;
        println!(
            "| {} | {n} | {j} | {:.3} | {:.1} |",
            worker.display(),
            r.elapsed.as_secs_f64(),
            r.us_per_spawn()
        );
        floors.push(r);
    }
    let Some(tkr) = tkr else {
        return Ok(());
    };
    let bench = TkrBench {
        worker: Some(worker.to_path_buf()),
        tkr,
        workload: Workload::MapWorker,
        storage: StorageMode::File,
        repeat,
        count_entries: false,
        jobs: None,
        otlp_endpoint: None,
    };
    let stats = bench
        .run(n, scratch.path())
        .with_context(|| format!("tkr on map_worker n={n} failed"))?;
    println!();
    println!("{}", RunStats::markdown_header());
    println!("{}", stats.markdown_row());
    println!();
    println!("| tkr median s | floor | floor s | tkr overhead µs / task |");
    println!("|---:|---|---:|---:|");
    for f in &floors {
        println!(
            "| {:.3} | {} at once | {:.3} | {:.1} |",
            stats.median().as_secs_f64(),
            f.jobs,
            f.elapsed.as_secs_f64(),
            overhead_per_task_us(stats.median(), f.elapsed, n)
        );
    }
    Ok(())
}
