//! `tkr vis`: the reference's visualizer command, served by our web view.
//! Without `--graph` it is `tkr serve`. With `--graph FILE.py:NAME` (or
//! `module.path:NAME`, or a graph JSON file) it shows that graph without any
//! run, as the reference's `tkr vis --graph` does: the graph is written as a
//! workflow that was never started into a private checkpoint folder, which
//! is served and deleted when the server stops.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use tierkreis_core::GraphData;
use tierkreis_storage::{ControllerStorage, FileControllerStorage};

use crate::cmd_serve::ServeArgs;
use crate::exit;

#[derive(Debug, Args)]
pub struct VisArgs {
    /// Accepted for the reference's command line; it has no effect here
    /// (the reference reloads its server code with it).
    #[arg(long, conflicts_with = "graph")]
    dev: bool,
    /// Show this graph without running it: FILE.py:NAME or
    /// module.path:NAME (as `tkr run -g`), or a graph JSON file.
    #[arg(long, value_name = "FILE.py:NAME")]
    graph: Option<String>,
    /// The Python interpreter for --graph (default: $TKR_PYTHON, else python3).
    #[arg(long, value_name = "PYTHON")]
    python: Option<PathBuf>,
    #[command(flatten)]
    serve: ServeArgs,
}

pub fn vis(mut args: VisArgs) -> u8 {
    if args.dev {
        eprintln!("note: --dev has no effect: there is no server code to reload");
    }
    let Some(location) = args.graph.take() else {
        return crate::cmd_serve::serve(args.serve);
    };
    let folder = std::env::temp_dir().join(format!("tkr-vis-{}", uuid::Uuid::new_v4()));
    let id = match write_unstarted(&location, args.python.as_deref(), &folder) {
        Ok(id) => id,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&folder);
            eprintln!("error: {}", crate::output::error_text(&e));
            return exit::USAGE;
        }
    };
    eprintln!("showing the graph {location}, not run, as workflow {id}");
    args.serve.checkpoints = Some(folder.clone());
    let code = crate::cmd_serve::serve_page(args.serve, &format!("#/w/{id}"));
    if let Err(e) = std::fs::remove_dir_all(&folder) {
        eprintln!("warning: cannot delete {}: {e}", folder.display());
    }
    code
}

/// Loads the graph at `location` and writes it into `folder` as a workflow
/// that was never started; returns its id.
fn write_unstarted(
    location: &str,
    python: Option<&Path>,
    folder: &Path,
) -> anyhow::Result<uuid::Uuid> {
    let bytes = if location.contains(':') && !Path::new(location).is_file() {
        crate::pygraph::load(location, &crate::pygraph::interpreter(python))?
    } else {
        std::fs::read(location).with_context(|| format!("cannot read the graph file {location}"))?
    };
    let graph = GraphData::from_json(&bytes)
        .with_context(|| format!("the graph {location} is not a valid graph"))?;
    let id = uuid::Uuid::new_v4();
    let storage = FileControllerStorage::new(
        folder,
        id,
        Some(format!("{location} (graph only, not run)")),
    );
    tierkreis_controller::runtime::start_workflow(&storage, &graph, &indexmap::IndexMap::new())
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "cannot write the graph into {}",
                storage.workflow_dir().display()
            )
        })?;
    // A released lock says no controller runs it (a folder without one reads
    // as a reference run in progress).
    tierkreis_storage::WorkflowLock::acquire(storage.workflow_dir())
        .map(drop)
        .map_err(anyhow::Error::from)
        .context("cannot write the workflow lock")?;
    Ok(id)
}
