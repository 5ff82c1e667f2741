//! `tkr ls`: the workflows of a checkpoint folder, newest first.

use anyhow::Context;
use clap::Args;
use tierkreis_core::Value;

use super::render::{self, obj, opt_f64, opt_str};
use super::workflows::{self, Summary};
use super::Folder;
use crate::exit;

pub const HELP: &str = "\
Status: running (a live controller holds the workflow's .controller.lock),
finished (-/_done), failed (-/_error), interrupted (none of these; `tkr resume`
continues it). Runs of the Python controller take no lock, so a live one shows
as interrupted.

Examples:
  tkr ls
  tkr ls --checkpoints /tmp/checkpoints --json
  tkr ls --status failed";

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    folder: Folder,
    /// Machine-readable output: a JSON list of objects (id, name, status,
    /// start_time, end_time, duration, nodes, failures).
    #[arg(long)]
    json: bool,
    /// Only workflows with this status.
    #[arg(long, value_name = "STATUS", value_parser = ["running", "finished", "failed", "interrupted", "paused"])]
    status: Option<String>,
}

pub fn run(a: &LsArgs) -> anyhow::Result<u8> {
    let dir = a.folder.dir();
    let mut all = if dir.exists() {
        workflows::list(&dir)
            .with_context(|| format!("cannot list the checkpoint folder {}", dir.display()))?
    } else {
        Vec::new()
    };
    if let Some(s) = &a.status {
        all.retain(|w| w.status.as_str() == s);
    }
    if a.json {
        render::print_json(&Value::List(all.iter().map(to_json).collect()));
        return Ok(exit::OK);
    }
    if all.is_empty() {
        eprintln!("no workflows in {}", dir.display());
        return Ok(exit::OK);
    }
    out!("{}", table(&all));
    Ok(exit::OK)
}

/// One workflow as JSON.
pub fn to_json(w: &Summary) -> Value {
    obj([
        ("id", Value::from(w.id.to_string())),
        ("name", opt_str(w.name.as_deref())),
        ("status", Value::from(w.status.as_str())),
        ("start_time", Value::from(w.start_time.clone())),
        ("end_time", opt_str(w.end_time.as_deref())),
        ("duration", opt_f64(w.duration)),
        ("nodes", Value::int(w.nodes as i64)),
        ("failures", Value::int(w.failures as i64)),
        ("path", Value::from(w.dir.display().to_string())),
        (
            "paused_at",
            Value::List(paused_at(w).into_iter().map(Value::from).collect()),
        ),
    ])
}

/// The locations a paused workflow waits at (`debug/breakpoints/<loc>`).
fn paused_at(w: &Summary) -> Vec<String> {
    if w.status != super::workflows::Status::Paused {
        return Vec::new();
    }
    let Some(tkr_dir) = w.dir.parent() else {
        return Vec::new();
    };
    let st = tierkreis_storage::FileControllerStorage::new(tkr_dir, w.id, None);
    tierkreis_storage::breakpoints::paused_locations(&st)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The table for people; variable-width columns (times) come last.
fn table(all: &[Summary]) -> String {
    let name_w = all
        .iter()
        .map(|w| w.name.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<36}  {:<name_w$}  {:<11}  {:>5}  {:>6}  {:<19}  DURATION\n",
        "ID", "NAME", "STATUS", "NODES", "FAILED", "STARTED"
    );
    for w in all {
        out.push_str(&format!(
            "{:<36}  {:<name_w$}  {:<11}  {:>5}  {:>6}  {:<19}  {}\n",
            w.id,
            w.name.as_deref().unwrap_or("-"),
            w.status.as_str(),
            w.nodes,
            w.failures,
            render::short_time(&w.start_time),
            w.duration.map_or_else(|| "-".to_string(), render::duration),
        ));
    }
    out
}
