//! `tkr`: run, resume, restart and inspect Tierkreis workflows.
//!
//! `main` only parses arguments and maps the result to an exit code; each
//! command lives in its own module.

/// The allocator of `tkr`: mimalloc (its v2, whose arenas are committed
/// as they are used; v3's eager commit adds about 25 MB to a small run).
/// The controller's threads hand memory to each other all run long
/// (timeline lines, encoded spans, task records), and glibc's malloc then
/// makes the freeing thread take the allocating thread's arena lock: with
/// mimalloc a 1,000-task run in memory takes 12% to 23% less time and the
/// OpenTelemetry export a third to a half less CPU; runs on files are
/// unchanged within noise (BENCHMARKS.md, "The allocator").
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd_cache;
mod cmd_report;
mod cmd_run;
mod cmd_serve;
mod cmd_stop;
mod cmd_vis;
mod cmd_worker_job;
mod init;
mod inputs;
mod inspect;
mod output;
mod progress;
mod pygraph;
mod run_flags;
mod run_settings;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, documented in `--help`.
pub mod exit {
    /// The workflow finished (or the command succeeded).
    pub const OK: u8 = 0;
    /// The workflow failed: at least one node has an error.
    pub const FAILED: u8 = 1;
    /// Bad usage or bad input (graph, inputs, run id).
    pub const USAGE: u8 = 2;
    /// The workflow stalled, or the controller itself failed (storage, executor).
    pub const INTERNAL: u8 = 3;
    /// Interrupted (Ctrl-C, SIGTERM): workers were stopped, the run can be resumed.
    pub const INTERRUPTED: u8 = 130;
    /// Paused at a breakpoint (`--breakpoints`, `--break-at`): the running
    /// tasks finished, `tkr resume` continues past it.
    pub const PAUSED: u8 = 4;
}

const AFTER_HELP: &str = "\
Exit status: 0 the workflow finished, 1 a node failed, 2 bad usage or input,
3 the workflow stalled or the controller failed (e.g. storage),
4 paused at a breakpoint (`tkr resume` continues past it),
130 interrupted by Ctrl-C or SIGTERM (workers stopped; `tkr resume` continues).

Workers: builtins run in-process; a task W.f of another worker runs W found in
--registry folders (W/main.sh, W/main.py, W/main), else `W`, `tkr-W` or `tkr_W`
on PATH. ./tkr.toml (or --config) configures registries, kinds, commands,
timeouts and routes: see docs/configuration.md in the tierkreis-rs repository
(and README.md there, section A tour of tkr). A run records its registries, config
file and worker options; `tkr resume` and `tkr restart` reuse them.

Checkpoints go to $TKR_DIR/<workflow id>/ (default ~/.tierkreis/checkpoints),
in the layout of the Python tierkreis 2.1.1 package. RUST_LOG filters logs.";

#[derive(Debug, Parser)]
#[command(name = "tkr", version, about = "Run and inspect Tierkreis workflows", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workflow graph to completion, checkpointing every node.
    #[command(after_help = "Examples:
  tkr run -f graph.json -i value:input.json -o
  tkr run -f graph.json -i inputs.json --run-id 7 --json -o
  tkr run -f graph.json -i inputs.json --storage memory -o
  tkr run -g graphs/main.py:workflow -i inputs.json -o
The reference's spellings work too:
  tkr run -g examples/hello_world/hello_world_graph.py:hello_graph -i value:in.json --uv --registry-path workers -o
  tkr run --from-file graph.json --input-files n:n.bin factorial:graph.bin --print-output -r --run-id 7")]
    Run(RunArgs),
    /// Continue an interrupted run from its checkpoint folder.
    #[command(after_help = "Examples:
  tkr resume --run-id 7
  tkr resume 1c0a...-uuid -o")]
    Resume(ResumeArgs),
    /// Restart a task node: invalidate it and what depends on it, then resume.
    #[command(after_help = "Example:
  tkr restart --run-id 7 -.N3.M2.N1
  tkr restart 1c0a9d2e -.N3.M2.N1 -o
Options may come before or after RUN and LOC.")]
    Restart(RestartArgs),
    /// Stop the controller running a workflow, as Ctrl-C would; `tkr resume` continues it.
    #[command(after_help = cmd_stop::HELP)]
    Stop(cmd_stop::StopArgs),
    #[command(flatten)]
    Inspect(inspect::Command),
    /// Create a project or worker: `project`, `worker`, `stubs` (the reference's), or `rust-worker`.
    #[command(after_help = "Example:
  tkr init project && tkr run -o
  tkr init worker -n my_worker
  tkr init rust-worker hello && cd hello && tkr run -f graph.json -i inputs.json -o")]
    Init(init::InitArgs),
    /// Where a run's time went: a self-contained HTML report (or --json).
    #[command(after_help = cmd_report::HELP)]
    Report(cmd_report::ReportArgs),
    /// Manage the result cache (`tkr run --cache`): list, clear, statistics.
    #[command(after_help = cmd_cache::HELP)]
    Cache(cmd_cache::CacheArgs),
    /// Serve a live web view of the workflows (JSON API and page).
    #[command(after_help = "Examples:
  tkr serve                      # http://127.0.0.1:8000/
  tkr serve --port 0 --checkpoints ./ck
  tkr serve --host 0.0.0.0 --port 8080   # reachable from other machines")]
    Serve(cmd_serve::ServeArgs),
    /// The reference's visualizer command: `tkr serve`, or with --graph a
    /// graph shown without any run.
    #[command(after_help = "Examples:
  tkr vis                                   # as tkr serve
  tkr vis --graph graphs/main.py:workflow   # a graph, not run
  tkr vis --graph tierkreis.graphs.simulate.compile_simulate:compile_simulate --port 0")]
    Vis(cmd_vis::VisArgs),
    /// Serve tasks inside a worker job (run by the job's batch script).
    #[command(hide = true)]
    WorkerJob(cmd_worker_job::WorkerJobArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StorageKind {
    /// Checkpoints in files, in the reference's layout.
    File,
    /// Everything in memory: nothing is written (for tests and benchmarks).
    Memory,
}

#[derive(Debug, Args)]
struct Common {
    /// The checkpoint folder (default: $TKR_DIR, else ~/.tierkreis/checkpoints).
    #[arg(long, value_name = "DIR")]
    checkpoints: Option<PathBuf>,
    /// Print the workflow's outputs when it finishes.
    #[arg(short = 'o', long = "outputs", visible_alias = "print-output")]
    print_outputs: bool,
    /// Machine-readable output: one JSON object on stdout, whatever happens
    /// (`id`, `name`, `status`, and `outputs` with -o or -q, `errors` when
    /// nodes failed, `message` when it stalled or stopped).
    #[arg(long)]
    json: bool,
    /// Print nothing but the result: the outputs (`port: value` lines, or
    /// the --json object); no progress and no summary.
    #[arg(short, long)]
    quiet: bool,
    /// A registry folder of workers (holding W/main.sh, W/main.py or W/main
    /// for worker W); repeatable, searched in order before the config's.
    #[arg(long = "registry", visible_alias = "registry-path", value_name = "DIR")]
    registries: Vec<PathBuf>,
    /// The executor configuration file (default: ./tkr.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How many worker processes may run at once (default: the config's
    /// `jobs`, else the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Stop a task that runs longer than SECS seconds and fail it (a
    /// worker's own configured timeout wins).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    task_timeout: Option<f64>,
    /// Run every task in a process of its own, never in a warm worker
    /// process that serves many calls (see `warm` in tkr.toml).
    #[arg(long)]
    no_warm: bool,
    /// Start a warm process for each worker the graph names as soon as the
    /// run starts (while free job slots last), not when its first task is
    /// ready. Pays only when every such worker is called: a worker named in
    /// an untaken branch costs its import for nothing.
    #[arg(long, conflicts_with = "no_warm")]
    warm_prestart: bool,
    #[command(flatten)]
    breakpoints: BreakpointArgs,
    /// Reuse the results of tasks already run with the same function, worker
    /// and input bytes, in any run in the checkpoint folder (also `cache =
    /// true` in tkr.toml; opt a worker out with `cache = false`).
    #[arg(long)]
    cache: bool,
    /// Run a failed task again up to N times (on exit, signal or timeout;
    /// a worker's or route's `retries`, `retry_backoff` and `retry_on` in
    /// tkr.toml win). Failed attempts are kept in <node>/attempts/<k>/.
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// Export the run as OpenTelemetry traces and metrics (OTLP over HTTP,
    /// protobuf) to the collector at URL (http://host:4318; also
    /// $OTEL_EXPORTER_OTLP_ENDPOINT). Without either, nothing is sent.
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
}

/// Where the run pauses (exit status 4); `tkr resume` continues past the
/// pause and stops at the next breakpoint.
#[derive(Debug, Args)]
struct BreakpointArgs {
    /// Pause before a node whose metadata has `has_breakpoint` (the
    /// reference's `enable_breakpoints`), once its inputs are ready; the
    /// tasks already running finish first.
    #[arg(long = "breakpoints")]
    enabled: bool,
    /// Also pause before this node: a location (-.N3.M0.N2) or a name (a
    /// named node, or a function such as builtins.iadd or iadd). Repeatable.
    #[arg(
        long = "break-at",
        value_name = "LOC_OR_NODE_NAME",
        allow_hyphen_values = true
    )]
    break_at: Vec<String>,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The workflow graph, as JSON written by the Python builder (or the
    /// older format with single-index outputs). Without -f and -g: the
    /// reference's default ./tkr/graphs/main.py:workflow.
    #[arg(
        short = 'f',
        long = "graph",
        visible_alias = "from-file",
        value_name = "GRAPH.json"
    )]
    graph: Option<PathBuf>,
    /// The workflow graph from Python: FILE.py:NAME or module.path:NAME (a
    /// GraphData, a Graph, a Workflow, anything whose `.data` is a
    /// GraphData, or a function returning one), loaded by a Python that has
    /// `tierkreis`.
    #[arg(
        short = 'g',
        long = "graph-location",
        value_name = "FILE.py:NAME",
        conflicts_with = "graph"
    )]
    graph_location: Option<String>,
    /// The Python interpreter for -g (default: $TKR_PYTHON, else python3).
    #[arg(long, value_name = "PYTHON")]
    python: Option<PathBuf>,
    /// Inputs: PORT:FILE (the file's raw bytes are the value), or a JSON
    /// object file whose entries are the inputs; several may follow one -i
    /// (`-i a:a.bin b:b.bin`), and -i may be repeated. `-i None`: no inputs.
    /// Without -i, ./workflow_inputs.json is read if the graph needs inputs.
    #[arg(
        short = 'i',
        long = "input",
        visible_alias = "input-files",
        value_name = "PORT:FILE|INPUTS.json",
        num_args = 1..,
        action = clap::ArgAction::Append
    )]
    inputs: Vec<String>,
    /// Use the workflow id whose integer value is N (like the reference).
    #[arg(long, value_name = "N", conflicts_with = "id")]
    run_id: Option<u128>,
    /// Use this workflow id.
    #[arg(long, value_name = "UUID")]
    id: Option<uuid::Uuid>,
    /// A name for the workflow.
    #[arg(long)]
    name: Option<String>,
    /// Where checkpoints live.
    #[arg(long, value_enum, default_value_t = StorageKind::File)]
    storage: StorageKind,
    #[command(flatten)]
    reference: run_flags::ReferenceRunFlags,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct ResumeArgs {
    #[command(flatten)]
    target: target::RunTarget,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct RestartArgs {
    /// The workflow whose id is the UUID with integer value N.
    #[arg(long, value_name = "N")]
    run_id: Option<u128>,
    /// The workflow (UUID, unique prefix or name); with --run-id, leave it
    /// out and give only LOC.
    #[arg(value_name = "RUN", required = true, allow_hyphen_values = true)]
    run_or_loc: String,
    /// The location of the task node to restart, e.g. -.N3.M2.N1. One
    /// positional per argument (not a list), so options after it still
    /// parse as options.
    #[arg(value_name = "LOC", allow_hyphen_values = true)]
    loc: Option<String>,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `tkr run -l LEVEL` / `-v` (the reference's flags) override RUST_LOG.
    let flag_filter = match &cli.command {
        Command::Run(a) => a.reference.log_filter(),
        _ => None,
    };
    tracing_subscriber::fmt()
        .with_env_filter(match flag_filter {
            Some(level) => tracing_subscriber::EnvFilter::new(level),
            None => tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        })
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into a pipe or file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let code = match cli.command {
        Command::Run(a) => cmd_run::run(a),
        Command::Resume(a) => cmd_run::resume(a),
        Command::Restart(a) => cmd_run::restart(a),
        Command::Stop(a) => cmd_stop::run(&a),
        Command::Inspect(c) => inspect::run(c),
        Command::Init(a) => init::run(a),
        Command::Serve(a) => cmd_serve::serve(a),
        Command::Vis(a) => cmd_vis::vis(a),
        Command::Cache(a) => cmd_cache::run(&a),
        Command::WorkerJob(a) => cmd_worker_job::run(&a),
        Command::Report(a) => cmd_report::run(&a),
    };
    ExitCode::from(code)
}
