//! `tkr outputs`: a run's or a node's output values, decoded for reading
//! (pretty JSON) or raw.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Args;
use indexmap::IndexMap;
use tierkreis_core::{Loc, Value};
use tierkreis_storage::ControllerStorage;

use super::RunAndLoc;
use crate::exit;

pub const HELP: &str = "\
Values are decoded like the reference's ptype_from_bytes and printed as pretty
JSON (bytes as {\"__tkr_bytes__\": true, ...}). With PORT, only that output;
--raw writes its stored bytes unchanged to stdout (without PORT: the one output).

Examples:
  tkr outputs 1c0a9d2e
  tkr outputs --run-id 7 value
  tkr outputs my_workflow -.N4.M0 value
  tkr outputs --run-id 7 -.N2 data --raw > data.bin";

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// `RUN [LOC] [PORT]`: the workflow (UUID, unique prefix or name; omit
    /// with --run-id), a node location (default: the workflow, `-`) and an
    /// output port.
    #[arg(value_name = "RUN [LOC] [PORT]", num_args = 0.., allow_hyphen_values = true)]
    words: Vec<String>,
    #[command(flatten)]
    target: RunAndLoc,
    /// Write the port's stored bytes to stdout, undecoded (PORT may be left
    /// out when there is one output).
    #[arg(long)]
    raw: bool,
}

pub fn run(a: OutputsArgs) -> anyhow::Result<u8> {
    let a = &super::reparse(a, |a| &a.words)?;
    let (opened, pos) = a.target.open(&a.words)?;
    let st = &opened.storage;
    let loc = pos.loc.clone().unwrap_or_else(Loc::root);
    let port = match pos.rest.as_slice() {
        [] => None,
        [p] => Some(p.clone()),
        [_, extra, ..] => bail!("unexpected argument {extra:?}: give `RUN [LOC] [PORT]`"),
    };
    let ports = st
        .read_output_ports(&loc)
        .with_context(|| format!("cannot list the outputs of {loc}"))?;
    let Some(port) = port else {
        if a.raw {
            // One output: it is the one meant; among several, name them.
            match ports.as_slice() {
                [only] => return write_raw(st, &loc, only),
                [] => bail!("{loc} has no outputs yet ({})", state(st, &loc)),
                _ => bail!(
                    "{loc} has several outputs; give the PORT to write raw: {}",
                    list(&ports)
                ),
            }
        }
        if ports.is_empty() {
            bail!("{loc} has no outputs yet ({})", state(st, &loc));
        }
        let mut values = IndexMap::new();
        for p in &ports {
            let bytes = st
                .read_output(&loc, p)
                .with_context(|| format!("cannot read output {p:?} of {loc}"))?;
            values.insert(p.clone(), Value::from_bytes(&bytes));
        }
        outln!(
            "{}",
            tierkreis_core::json::to_string_pretty(&Value::Map(values))
        );
        return Ok(exit::OK);
    };
    let bytes = match st.read_output(&loc, &port) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => {
            if ports.is_empty() {
                bail!(
                    "{loc} has no output {port:?}: it has no outputs yet ({})",
                    state(st, &loc)
                );
            }
            bail!(
                "{loc} has no output {port:?}; its outputs are: {}",
                list(&ports)
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read output {port:?} of {loc}")),
    };
    if a.raw {
        std::io::stdout()
            .write_all(&bytes)
            .context("cannot write to stdout")?;
    } else {
        outln!(
            "{}",
            tierkreis_core::json::to_string_pretty(&Value::from_bytes(&bytes))
        );
    }
    Ok(exit::OK)
}

/// Writes the stored bytes of output `port` of `loc` to stdout, unchanged.
fn write_raw(st: &dyn ControllerStorage, loc: &Loc, port: &str) -> anyhow::Result<u8> {
    let bytes = st
        .read_output(loc, port)
        .with_context(|| format!("cannot read output {port:?} of {loc}"))?;
    std::io::stdout()
        .write_all(&bytes)
        .context("cannot write to stdout")?;
    Ok(exit::OK)
}

fn list(ports: &[String]) -> String {
    if ports.is_empty() {
        "none".to_string()
    } else {
        ports.join(", ")
    }
}

fn state(st: &dyn ControllerStorage, loc: &Loc) -> &'static str {
    if st.node_has_error(loc) {
        "it failed"
    } else if st.is_node_finished(loc) {
        "it finished without outputs"
    } else if st.is_node_started(loc) {
        "it has started but not finished"
    } else {
        "it has not started"
    }
}
