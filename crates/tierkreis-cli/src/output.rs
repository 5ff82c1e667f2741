//! Printing a workflow's outputs and failures, for people or as JSON.

use anyhow::Context;
use indexmap::IndexMap;
use tierkreis_core::{Loc, Value};
use tierkreis_storage::ControllerStorage;

/// An error and its causes on one line, `a: b: c`, leaving out a cause
/// whose text its parent already shows (the storage and controller errors
/// name their source in their own message, so anyhow's `{:#}` would print
/// "No space left on device" twice).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut chain = e.chain();
    let mut text = chain.next().map(ToString::to_string).unwrap_or_default();
    for cause in chain {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod error_text_tests {
    use super::error_text;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::from_raw_os_error(28);
        let storage = tierkreis_storage::StorageError::Io {
            op: "hard link to",
            path: "/ck/wf/-.N5/outputs/value".into(),
            source: io,
        };
        let e = anyhow::Error::from(storage).context("checkpoint storage failed");
        let text = error_text(&e);
        assert_eq!(text.matches("os error 28").count(), 1, "{text}");
        assert!(
            text.starts_with(
                "checkpoint storage failed: hard link to /ck/wf/-.N5/outputs/value failed: "
            ),
            "{text}"
        );
        // A cause that adds something is kept.
        let e = anyhow::anyhow!("disk full").context("writing -.N3");
        assert_eq!(error_text(&e), "writing -.N3: disk full");
    }
}
