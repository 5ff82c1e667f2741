//! `tkr logs`: the workflow's log, or one node's (`<loc>/logs`: its worker's
//! output and error text; else its `_error` text).

use anyhow::{bail, Context};
use clap::Args;
use tierkreis_storage::ControllerStorage;

use super::RunAndLoc;
use crate::exit;

pub const HELP: &str = "\
Without LOC: the workflow log (controller messages and, for the Python
controller, builtin workers' output). With LOC: the node's own log, where its
worker's output and error text go.

Examples:
  tkr logs 1c0a9d2e
  tkr logs --run-id 7 -.N3
  tkr logs my_workflow -.N4.M2.N1 --tail 20";

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// `RUN [LOC]`: the workflow (UUID, unique prefix or name; omit with
    /// --run-id) and optionally a node location (e.g. -.N3).
    #[arg(value_name = "RUN [LOC]", num_args = 0.., allow_hyphen_values = true)]
    words: Vec<String>,
    #[command(flatten)]
    target: RunAndLoc,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
}

pub fn run(a: LogsArgs) -> anyhow::Result<u8> {
    let a = &super::reparse(a, |a| &a.words)?;
    let (opened, pos) = a.target.open(&a.words)?;
    if let Some(extra) = pos.rest.first() {
        bail!("unexpected argument {extra:?}: give `RUN [LOC]` (a location starts with -)");
    }
    let st = &opened.storage;
    let text = match &pos.loc {
        None => {
            let path = st.logs_path();
            match st.read(&path) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) if e.is_not_found() => {
                    eprintln!(
                        "workflow {} has no log yet ({} does not exist)",
                        st.workflow_id(),
                        path.display()
                    );
                    return Ok(exit::OK);
                }
                Err(e) => return Err(e).context("cannot read the workflow log"),
            }
        }
        Some(loc) => {
            if !st.node_dir(loc).exists() {
                bail!(
                    "no node {loc} in workflow {} (not started?); `tkr show {}` lists its nodes",
                    st.workflow_id(),
                    st.workflow_id()
                );
            }
            let text = st
                .read_node_log(loc)
                .with_context(|| format!("cannot read the log of node {loc}"))?;
            if text.is_empty() {
                eprintln!("node {loc} has no log (it wrote no output and no error)");
                return Ok(exit::OK);
            }
            text
        }
    };
    match a.tail {
        Some(n) => {
            for line in tierkreis_storage::log_tail::last_lines(&text, n) {
                outln!("{line}");
            }
        }
        None => {
            out!("{text}");
            if !text.ends_with('\n') {
                outln!();
            }
        }
    }
    Ok(exit::OK)
}
