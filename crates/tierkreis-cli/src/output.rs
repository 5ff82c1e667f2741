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

/// The top-level outputs, port to decoded value.
pub fn read_outputs(storage: &dyn ControllerStorage) -> anyhow::Result<IndexMap<String, Value>> {
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
    Ok(values)
}

/// Prints outputs for people: one `port: value` line each.
pub fn print_outputs_text(values: &IndexMap<String, Value>) {
    for (port, v) in values {
        println!("{port}: {}", tierkreis_core::json::to_string_compact(v));
    }
}

/// The one JSON object `run`, `resume` and `restart` print with `--json`,
/// whatever happened: `id`, `name`, `status` (`finished`, `failed`,
/// `stalled`, `interrupted` or `error`), then what that status comes with
/// (`outputs` when asked for, `errors`, `message`).
#[derive(Debug)]
pub struct RunReport {
    fields: IndexMap<String, Value>,
}

impl RunReport {
    /// A report for the workflow in `storage` that ended with `status`.
    pub fn new(storage: &dyn ControllerStorage, status: &str) -> RunReport {
        let name = storage
            .name()
            .map(str::to_owned)
            .or_else(|| storage.read_workflow_metadata().ok().and_then(|m| m.name));
        let mut fields = IndexMap::new();
        fields.insert(
            "id".to_owned(),
            Value::from(storage.workflow_id().to_string()),
        );
        fields.insert("name".to_owned(), name.map_or(Value::Null, Value::from));
        fields.insert("status".to_owned(), Value::from(status));
        RunReport { fields }
    }

    /// A report of a command that ended before it had a run: `id` and
    /// `name` are null.
    pub fn without_run(status: &str) -> RunReport {
        let mut fields = IndexMap::new();
        fields.insert("id".to_owned(), Value::Null);
        fields.insert("name".to_owned(), Value::Null);
        fields.insert("status".to_owned(), Value::from(status));
        RunReport { fields }
    }

    /// Adds `key: value` after what is there.
    pub fn with(mut self, key: &str, value: Value) -> RunReport {
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// Prints the object on one line of stdout.
    pub fn print(self) {
        print_report_line(&Value::Map(self.fields));
    }
}

/// Whether this process printed its `--json` report already.
static REPORT_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints the `--json` report `value` on one line of stdout, once.
pub fn print_report_line(value: &Value) {
    REPORT_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
    println!("{}", tierkreis_core::json::to_string_compact(value));
}

/// Whether [`print_report_line`] ran.
pub fn report_printed() -> bool {
    REPORT_PRINTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Each failed node: location, function and error text, printed to stderr
/// for people, and returned as JSON objects for a [`RunReport`].
pub fn report_failures(storage: &dyn ControllerStorage, locs: &[Loc], json: bool) -> Value {
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
        if !json {
            eprintln!(
                "error: node {loc} ({function}) failed: {}",
                message.trim_end()
            );
        }
        let mut m = IndexMap::new();
        m.insert("loc".to_string(), Value::from(loc.to_string()));
        m.insert("function".to_string(), Value::from(function));
        m.insert(
            "error".to_string(),
            Value::from(message.trim_end().to_string()),
        );
        items.push(Value::Map(m));
    }
    Value::List(items)
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
