//! `tkr clean`: delete workflow folders, never one a live controller holds.

use anyhow::{bail, Context};
use clap::Args;

use super::workflows::{self, Status, Summary};
use super::Folder;
use crate::exit;

pub const HELP: &str = "\
Prints each folder removed. A workflow whose controller is running (its
.controller.lock is held) is refused; stop it first with `tkr stop RUN`.

Examples:
  tkr clean 1c0a9d2e
  tkr clean --run-id 7
  tkr clean --all --checkpoints /tmp/checkpoints
  tkr clean --all --status finished";

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// The workflow (UUID, unique prefix or name).
    #[arg(value_name = "RUN", conflicts_with = "all")]
    run: Option<String>,
    /// The workflow whose id is the UUID with integer value N.
    #[arg(long, value_name = "N", conflicts_with = "all")]
    run_id: Option<u128>,
    /// Every workflow in the checkpoint folder (running ones are skipped).
    #[arg(long)]
    all: bool,
    /// With --all: only workflows with this status.
    #[arg(long, value_name = "STATUS", requires = "all", value_parser = ["finished", "failed", "interrupted", "paused"])]
    status: Option<String>,
    #[command(flatten)]
    folder: Folder,
}

pub fn run(a: &CleanArgs) -> anyhow::Result<u8> {
    let dir = a.folder.dir();
    if a.all {
        let all = if dir.exists() {
            workflows::list(&dir)
                .with_context(|| format!("cannot list the checkpoint folder {}", dir.display()))?
        } else {
            Vec::new()
        };
        let mut removed = 0;
        let mut skipped = 0;
        for w in all {
            if a.status.as_deref().is_some_and(|s| s != w.status.as_str()) {
                continue;
            }
            if w.status == Status::Running {
                eprintln!("skipped {} (running)", describe(&w));
                skipped += 1;
                continue;
            }
            remove(&w)?;
            removed += 1;
        }
        outln!(
            "removed {removed} workflow(s){}",
            if skipped > 0 {
                format!(", skipped {skipped} running")
            } else {
                String::new()
            }
        );
        return Ok(exit::OK);
    }
    if a.run.is_none() && a.run_id.is_none() {
        eprintln!(
            "error: name the workflow to delete (RUN: a UUID, a unique prefix or a name; or --run-id N), \
             or give --all to delete every workflow in {} that is not running",
            dir.display()
        );
        return Ok(exit::USAGE);
    }
    let id = crate::target::resolve(a.run.as_deref(), a.run_id, &dir)?;
    let w = workflows::summarise(&dir, id);
    if !w.dir.is_dir() {
        bail!("no workflow {id} in {}", dir.display());
    }
    if w.status == Status::Running {
        eprintln!(
            "error: workflow {} is running (its controller holds {}); stop it first with `tkr stop {}`",
            describe(&w),
            w.dir.join(tierkreis_storage::lock::LOCK_FILE).display(),
            w.id
        );
        return Ok(exit::FAILED);
    }
    remove(&w)?;
    Ok(exit::OK)
}

fn describe(w: &Summary) -> String {
    match &w.name {
        Some(n) => format!("{} ({n})", w.id),
        None => w.id.to_string(),
    }
}

fn remove(w: &Summary) -> anyhow::Result<()> {
    std::fs::remove_dir_all(&w.dir)
        .with_context(|| format!("cannot remove {}", w.dir.display()))?;
    outln!(
        "removed {} [{}] {}",
        describe(w),
        w.status.as_str(),
        w.dir.display()
    );
    if let Some(tkr_dir) = w.dir.parent() {
        let store = tierkreis_storage::result_cache::ResultCacheStore::new(tkr_dir);
        let n = store
            .remove_run(&w.id.to_string())
            .with_context(|| format!("cannot remove the result cache entries of {}", w.id))?;
        if n > 0 {
            outln!(
                "removed {n} result cache entr{} of {}",
                if n == 1 { "y" } else { "ies" },
                w.id
            );
        }
    }
    Ok(())
}
