//! `tkr errors`: every failed node of a run (an `_error` marker anywhere, and
//! the list the controller wrote to `-/_error`) with its function, message
//! and the tail of its log; plus, for a run that stopped, the unfinished
//! tasks that left a log (a Python builtin that raised leaves its message
//! there but no `_error` marker).

use std::collections::BTreeSet;

use anyhow::Context;
use clap::Args;
use tierkreis_core::graph::NodeKind;
use tierkreis_core::{Loc, Value};
use tierkreis_storage::{ControllerStorage, FileControllerStorage};

use super::render::{self, obj};
use super::workflows::{self, Status};
use super::RunAndLoc;
use crate::exit;

pub const HELP: &str = "\
For each failed node: its location, function, message (the line of its error
text naming the cause: a missing worker, a signal, a timeout, the exception a
traceback ends in) and the last lines of its log. `tkr logs RUN LOC` prints a whole
log. For a run that stopped (interrupted), tasks that started, did not finish
and left a log are listed too: a builtin of the Python reference that raised
writes its message there without marking the node failed.

Examples:
  tkr errors 1c0a9d2e
  tkr errors --run-id 7 --lines 30
  tkr errors my_workflow --json";

#[derive(Debug, Args)]
pub struct ErrorsArgs {
    /// `RUN`: the workflow (UUID, unique prefix or name; omit with --run-id).
    #[arg(value_name = "RUN", num_args = 0..=1)]
    words: Vec<String>,
    #[command(flatten)]
    target: RunAndLoc,
    /// How many log lines to show per node.
    #[arg(long, value_name = "N", default_value_t = 10)]
    lines: usize,
    /// Machine-readable output: {"failed": [...], "unfinished": [...]}.
    #[arg(long)]
    json: bool,
}

struct Failure {
    loc: Loc,
    function: String,
    message: String,
    tail: Vec<String>,
}

pub fn run(a: &ErrorsArgs) -> anyhow::Result<u8> {
    let (opened, _) = a.target.open(&a.words)?;
    let st = &opened.storage;
    let status = workflows::status(st);
    let (failed, unfinished) = collect(st, status, a.lines)?;
    if a.json {
        let to_json = |f: &Failure| {
            obj([
                ("loc", Value::from(f.loc.as_str())),
                ("function", Value::from(f.function.clone())),
                ("message", Value::from(f.message.clone())),
                (
                    "log_tail",
                    Value::List(f.tail.iter().map(|l| Value::from(l.as_str())).collect()),
                ),
            ])
        };
        render::print_json(&obj([
            ("id", Value::from(st.workflow_id().to_string())),
            ("status", Value::from(status.as_str())),
            ("failed", Value::List(failed.iter().map(to_json).collect())),
            (
                "unfinished",
                Value::List(unfinished.iter().map(to_json).collect()),
            ),
        ]));
        return Ok(exit::OK);
    }
    if failed.is_empty() && unfinished.is_empty() {
        outln!(
            "workflow {} ({}): no failed nodes",
            st.workflow_id(),
            status.as_str()
        );
        return Ok(exit::OK);
    }
    let print = |f: &Failure| {
        outln!("{} ({}): {}", f.loc, f.function, f.message);
        for l in &f.tail {
            outln!("    {l}");
        }
    };
    if !failed.is_empty() {
        outln!(
            "workflow {} ({}): {} failed node(s)",
            st.workflow_id(),
            status.as_str(),
            failed.len()
        );
        failed.iter().for_each(print);
    }
    if !unfinished.is_empty() {
        outln!(
            "{} task(s) started, did not finish and left a log (the run stopped; `tkr resume` retries them):",
            unfinished.len()
        );
        unfinished.iter().for_each(print);
    }
    Ok(exit::OK)
}

fn collect(
    st: &FileControllerStorage,
    status: Status,
    lines: usize,
) -> anyhow::Result<(Vec<Failure>, Vec<Failure>)> {
    let mut unfinished_locs = BTreeSet::new();
    let dir = st.workflow_dir();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the workflow folder {}", dir.display()))?;
    for e in entries.flatten() {
        let Ok(loc) = Loc::parse(&e.file_name().to_string_lossy()) else {
            continue;
        };
        if loc.is_root() {
            continue;
        }
        let p = e.path();
        if status == Status::Interrupted
            && p.join("definition").exists()
            && tierkreis_storage::node_status(st, &loc) == tierkreis_storage::NodeStatus::Started
            && std::fs::metadata(p.join("logs")).is_ok_and(|m| m.len() > 0)
        {
            unfinished_locs.insert(loc);
        }
    }
    let failed_locs = tierkreis_storage::failed_nodes(st)
        .with_context(|| format!("cannot list the workflow folder {}", dir.display()))?;
    let describe = |loc: Loc| {
        let function = match st.read_node_def(&loc) {
            Ok(def) => match def.kind {
                NodeKind::Function { function_name } => function_name,
                _ => def.type_name().to_string(),
            },
            Err(_) => "?".to_string(),
        };
        let text = st.read_errors(&loc).unwrap_or_default();
        Failure {
            message: render::cause_line(&text).to_string(),
            tail: tierkreis_storage::log_tail::last_lines(&text, lines)
                .into_iter()
                .map(str::to_string)
                .collect(),
            function,
            loc,
        }
    };
    Ok((
        failed_locs.into_iter().map(describe).collect(),
        unfinished_locs.into_iter().map(describe).collect(),
    ))
}
