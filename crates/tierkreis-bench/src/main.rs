//! `tkr-bench`: writes the benchmark graphs, times the `tkr` binary end to
//! end, measures the durable-storage floor and times the Python reference,
//! printing markdown table rows for BENCHMARKS.md.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tierkreis_bench::floor::{durable_floor, per_unit_us, small_file_create};
use tierkreis_bench::reference::ReferenceBench;
use tierkreis_bench::runner::{RunStats, TkrBench};
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
}

impl From<WorkloadArg> for Workload {
    fn from(w: WorkloadArg) -> Workload {
        match w {
            WorkloadArg::Map => Workload::MapSquareSum,
            WorkloadArg::Loop => Workload::LoopCount,
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

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write the benchmark graphs as JSON: map_square_sum_<N>.json and
    /// loop_count_<N>.json.
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
    /// Time the Python reference controller on the same workload.
    Reference {
        #[arg(long, value_delimiter = ',', default_value = "200")]
        n: Vec<u64>,
        #[arg(long, value_enum, default_value = "file")]
        storage: StorageArg,
        #[arg(long, value_enum, default_value = "map")]
        workload: WorkloadArg,
        /// The reference environment's runner.
        #[arg(long, default_value = "/work/shared/reference/run.sh")]
        run_sh: PathBuf,
        /// The reference's Python inside that environment.
        #[arg(long, default_value = "/opt/tk/bin/python")]
        python: String,
        /// Scratch folder; must be visible inside the reference root.
        #[arg(long, default_value = "/tmp")]
        work_dir: PathBuf,
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
        } => {
            let bench = TkrBench {
                tkr,
                workload: workload.into(),
                storage: storage.into(),
                repeat,
                count_entries,
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
        Cmd::Floor { n, dir, files } => floor(n, dir, files),
        Cmd::Reference {
            n,
            storage,
            workload,
            run_sh,
            python,
            work_dir,
        } => {
            let bench = ReferenceBench {
                run_sh,
                python,
                workload: workload.into(),
                storage: storage.into(),
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

fn graphs(out: &std::path::Path, ns: &[u64]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for &n in ns {
        for w in [Workload::MapSquareSum, Workload::LoopCount] {
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
