//! `tkr trace`: a named loop's outputs at each iteration (the reference's
//! `loc_from_node_name` + `read_loop_trace`).

use anyhow::{bail, Context};
use clap::Args;
use indexmap::IndexMap;
use tierkreis_core::{Loc, Value};
use tierkreis_storage::ControllerStorage;

use super::render::{self, obj};
use super::RunAndLoc;
use crate::exit;

pub const HELP: &str = "\
LOOP is the name given to the loop in the graph (recorded in debug/nodes when
it runs), or its location (e.g. -.N2). Without PORT, every output port of the
loop body. An iteration that has not produced a port yet shows `-` (null in JSON).

Examples:
  tkr trace --run-id 7 counter
  tkr trace my_workflow counter loop_acc
  tkr trace 1c0a9d2e -.N2 --json";

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// `RUN LOOP [PORT]`: the workflow (UUID, unique prefix or name; omit
    /// with --run-id), the loop's name or location, and an output port.
    #[arg(value_name = "RUN LOOP [PORT]", num_args = 1.., required = true, allow_hyphen_values = true)]
    words: Vec<String>,
    #[command(flatten)]
    target: RunAndLoc,
    /// Machine-readable output: {"loop", "loc", "ports": {port: [value per iteration]}}.
    #[arg(long)]
    json: bool,
}

pub fn run(a: TraceArgs) -> anyhow::Result<u8> {
    let a = &super::reparse(a, |a| &a.words)?;
    let (opened, pos) = a.target.open(&a.words)?;
    let st = &opened.storage;
    let mut rest = pos.rest.iter();
    let (name, loc) = match &pos.loc {
        Some(loc) => (loc.to_string(), loc.clone()),
        None => {
            let Some(name) = rest.next() else {
                bail!("name the loop: `tkr trace RUN LOOP [PORT]`");
            };
            (name.clone(), find_loop(st, name)?)
        }
    };
    let port = rest.next().cloned();
    if let Some(extra) = rest.next() {
        bail!("unexpected argument {extra:?}: give `RUN LOOP [PORT]`");
    }
    // Checks the node is a loop, with the reference's message otherwise.
    let def = st
        .read_node_def(&loc)
        .with_context(|| format!("cannot read the loop node {loc} (has it started?)"))?;
    if !matches!(def.kind, tierkreis_core::graph::NodeKind::Loop { .. }) {
        bail!(
            "{loc} is a {} node: can only read traces from loop nodes",
            def.type_name()
        );
    }
    let mut iterations = Vec::new();
    while st.is_node_started(&loc.l(iterations.len() as u64)) {
        iterations.push(loc.l(iterations.len() as u64));
    }
    let ports = match port {
        Some(p) => vec![p],
        None => {
            let mut ports = Vec::new();
            for it in &iterations {
                for p in st.read_output_ports(it).unwrap_or_default() {
                    if !ports.contains(&p) {
                        ports.push(p);
                    }
                }
            }
            ports
        }
    };
    let mut table: IndexMap<String, Vec<Option<Value>>> = IndexMap::new();
    for p in &ports {
        let col = iterations
            .iter()
            .map(|it| st.read_output(it, p).ok().map(|b| Value::from_bytes(&b)))
            .collect::<Vec<_>>();
        if !iterations.is_empty() && col.iter().all(Option::is_none) {
            let known = st.read_output_ports(&iterations[0]).unwrap_or_default();
            bail!(
                "loop {name} ({loc}) has no output {p:?}; its ports are: {}",
                known.join(", ")
            );
        }
        table.insert(p.clone(), col);
    }
    if a.json {
        let ports = table
            .iter()
            .map(|(p, col)| {
                let vals = col
                    .iter()
                    .map(|v| v.clone().unwrap_or(Value::Null))
                    .collect();
                (p.clone(), Value::List(vals))
            })
            .collect::<IndexMap<_, _>>();
        render::print_json(&obj([
            ("loop", Value::from(name.as_str())),
            ("loc", Value::from(loc.as_str())),
            ("iterations", Value::int(iterations.len() as i64)),
            ("ports", Value::Map(ports)),
        ]));
        return Ok(exit::OK);
    }
    outln!("loop {name} ({loc}): {} iteration(s)", iterations.len());
    for (i, it) in iterations.iter().enumerate() {
        let cells: Vec<String> = table
            .iter()
            .map(|(p, col)| {
                let v = col[i]
                    .as_ref()
                    .map_or("-".to_string(), |v| render::value_short(v, 60));
                format!("{p}={v}")
            })
            .collect();
        let label = it.last_step().to_string();
        outln!("{label}  {}", cells.join("  "));
    }
    Ok(exit::OK)
}

/// The location of the loop named `name`, or an error listing the names known.
fn find_loop(st: &dyn ControllerStorage, name: &str) -> anyhow::Result<Loc> {
    if let Some(loc) = st
        .loc_from_node_name(name)
        .context("cannot read the loop names (debug/nodes)")?
    {
        return Ok(loc);
    }
    let known: Vec<String> = st
        .read(&st.node_debug_path())
        .ok()
        .and_then(|b| tierkreis_core::json::parse(&b).ok())
        .and_then(|v| v.as_map().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    if known.is_empty() {
        bail!("no loop named {name:?} in this workflow: it has no named loops that have run (give the loop's location instead, e.g. -.N2)");
    }
    bail!(
        "no loop named {name:?} in this workflow; named loops: {}",
        known.join(", ")
    )
}
