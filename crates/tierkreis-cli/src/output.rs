//! Printing a workflow's outputs and failures, for people or as JSON.

use anyhow::Context;
use indexmap::IndexMap;
use tierkreis_core::{Loc, Value};
use tierkreis_storage::ControllerStorage;

/// Prints the top-level outputs: one `port: value` line each, or one JSON object.
pub fn print_outputs(storage: &dyn ControllerStorage, json: bool) -> anyhow::Result<()> {
    let root = Loc::root();
    let mut values = IndexMap::new();
    for port in storage
        .read_output_ports(&root)
        .context("cannot list the workflow's outputs")?
    {
        let bytes = storage
            .read_output(&root, &port)
            .with_context(|| format!("cannot read output {port:?}"))?;
        values.insert(port, Value::from_bytes(&bytes));
    }
    if json {
        println!(
            "{}",
            tierkreis_core::json::to_string_compact(&Value::Map(values))
        );
    } else {
        for (port, v) in values {
            println!("{port}: {}", tierkreis_core::json::to_string_compact(&v));
        }
    }
    Ok(())
}

/// Prints each failed node: location, function and error text.
pub fn print_failures(storage: &dyn ControllerStorage, locs: &[Loc], json: bool) {
    let mut items = Vec::new();
    for loc in locs {
        let function = match storage.read_node_def(loc) {
            Ok(def) => match def.kind {
                tierkreis_core::graph::NodeKind::Function { function_name } => function_name,
                _ => def.type_name().to_string(),
            },
            Err(_) => String::from("?"),
        };
        let message = storage.read_errors(loc).unwrap_or_default();
        if json {
            let mut m = IndexMap::new();
            m.insert("loc".to_string(), Value::from(loc.to_string()));
            m.insert("function".to_string(), Value::from(function));
            m.insert(
                "error".to_string(),
                Value::from(message.trim_end().to_string()),
            );
            items.push(Value::Map(m));
        } else {
            eprintln!(
                "error: node {loc} ({function}) failed: {}",
                message.trim_end()
            );
        }
    }
    if json {
        let mut m = IndexMap::new();
        m.insert("status".to_string(), Value::from("failed"));
        m.insert("errors".to_string(), Value::List(items));
        println!(
            "{}",
            tierkreis_core::json::to_string_compact(&Value::Map(m))
        );
    }
}
