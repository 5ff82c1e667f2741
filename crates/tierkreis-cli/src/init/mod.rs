//! `tkr init`: new projects and workers. `project`, `worker` and `stubs` take
//! the reference's options and make the reference's layout (Python workers
//! under `tkr/workers`, graphs under `tkr/graphs`), without network access;
//! `rust-worker` makes a project with a Rust worker built on the SDK.

mod python_project;
mod rust_worker;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::exit;

/// Arguments of `tkr init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(subcommand)]
    kind: InitKind,
}

#[derive(Debug, Subcommand)]
enum InitKind {
    /// A project in the reference's layout: tkr/workers/example_worker (a
    /// Python worker), tkr/graphs/main.py (a graph calling it),
    /// workflow_inputs.json and a tkr.toml; then `tkr run -o` runs it.
    #[command(after_help = "Example:
  tkr init project && tkr run -o
The reference's tkr runs it too (tkr/graphs/main.py:graph_data is plain GraphData):
  tkr run -g tkr/graphs/main.py:graph_data --registry-path tkr/workers -o")]
    Project(ProjectArgs),
    /// A Python worker in the reference's layout: WORKERS/NAME/ with the
    /// tkr_NAME_impl/ package (impl.py, main.py, main.sh), api/ (stubs for
    /// graphs) and their pyproject.toml files.
    #[command(after_help = "Example:
  tkr init worker -n my_worker      # into the nearest tkr/workers folder")]
    Worker(WorkerArgs),
    /// Regenerates every worker's api stubs (api/api.py) from its tasks, with
    /// a Python that has `tierkreis` (--python, $TKR_PYTHON, else python3);
    /// no uv and no network needed.
    Stubs(StubsArgs),
    /// A project with a Rust worker (built with the worker SDK on first use),
    /// a graph that calls it and its inputs, that `tkr run` runs.
    #[command(after_help = "Example:
  tkr init rust-worker hello && cd hello && tkr run -f graph.json -i inputs.json -o")]
    RustWorker(rust_worker::RustWorkerArgs),
}

/// `tkr init project`: the reference's options.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The checkpoint folder you mean to use. A command cannot set its
    /// shell's environment: `tkr init project` prints the `export TKR_DIR=`
    /// line to add to your shell's profile.
    #[arg(long, value_name = "DIR")]
    default_checkpoint_directory: Option<PathBuf>,
    /// The project folder (default: the current folder).
    #[arg(long, value_name = "DIR", default_value = ".")]
    project_directory: PathBuf,
    /// The worker folder, relative to the project folder unless absolute.
    #[arg(long, value_name = "DIR", default_value = "tkr/workers")]
    worker_directory: PathBuf,
    /// The graph folder, relative to the project folder unless absolute.
    #[arg(long, value_name = "DIR", default_value = "tkr/graphs")]
    graphs_directory: PathBuf,
}

/// `tkr init worker`: the reference's options.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The worker folder (default: the nearest tkr/workers folder in the
    /// current folder or above).
    #[arg(long, value_name = "DIR")]
    worker_directory: Option<PathBuf>,
    /// A worker not written in Python: writes a TypeSpec interface
    /// (tkr_NAME_impl/NAME.tsp) instead of the Python package.
    #[arg(long)]
    external: bool,
    /// The new worker's name (`-` becomes `_`).
    #[arg(short = 'n', long = "worker-name", value_name = "NAME")]
    worker_name: String,
}

/// `tkr init stubs`: the reference's options.
#[derive(Debug, Args)]
pub struct StubsArgs {
    /// The worker folder (default: the nearest tkr/workers folder in the
    /// current folder or above).
    #[arg(long, value_name = "DIR")]
    worker_directory: Option<PathBuf>,
    /// Where to write each worker's stubs, relative to its folder.
    #[arg(long, value_name = "FILE", default_value = "./api/api.py")]
    api_file_name: PathBuf,
    /// The Python interpreter (default: $TKR_PYTHON, else python3); it must
    /// have `tierkreis`.
    #[arg(long, value_name = "PYTHON")]
    python: Option<PathBuf>,
}

/// Runs `tkr init`.
pub fn run(args: InitArgs) -> u8 {
    let result = match args.kind {
        InitKind::RustWorker(a) => return rust_worker::run(a),
        InitKind::Project(a) => python_project::project(&a),
        InitKind::Worker(a) => python_project::worker(&a),
        InitKind::Stubs(a) => python_project::stubs(&a),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {}", crate::output::error_text(&e));
            exit::USAGE
        }
    }
}
