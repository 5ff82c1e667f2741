//! Workflow inputs from the command line: `PORT:FILE` (the file's raw bytes
//! are the value, like the reference's `port:path`) or a JSON object file
//! whose entries are the inputs (each encoded as the reference encodes values).

use std::path::Path;

use anyhow::{bail, Context};
use indexmap::IndexMap;
use tierkreis_core::Value;

/// Reads every `-i` argument into port -> encoded value bytes.
/// A lone `None` means no inputs, as in the reference's `tkr run -i None`.
pub fn read_inputs(args: &[String]) -> anyhow::Result<IndexMap<String, Vec<u8>>> {
    let mut inputs = IndexMap::new();
    if matches!(args, [only] if only == "None") {
        return Ok(inputs);
    }
    for arg in args {
        if let Some((port, file)) = arg.split_once(':') {
            if port.is_empty() {
                bail!("input {arg:?}: the port name before ':' is empty");
            }
            let bytes = std::fs::read(file).with_context(|| {
                format!("cannot read the file {file:?} for input port {port:?}")
            })?;
            inputs.insert(port.to_string(), bytes);
        } else {
            for (port, value) in read_object(Path::new(arg))? {
                inputs.insert(port, value.to_bytes());
            }
        }
    }
    Ok(inputs)
}

fn read_object(path: &Path) -> anyhow::Result<IndexMap<String, Value>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the inputs file {}", path.display()))?;
    let value = tierkreis_core::json::parse(&bytes)
        .with_context(|| format!("the inputs file {} is not valid JSON", path.display()))?;
    match value {
        Value::Map(m) => Ok(m),
        other => bail!(
            "the inputs file {} must hold a JSON object (port -> value), found {}",
            path.display(),
            other.type_name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_file_is_raw_and_json_object_entries_are_encoded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = dir.path().join("raw.bin");
        std::fs::write(&raw, b"\xff\x00raw").expect("write");
        let obj = dir.path().join("inputs.json");
        std::fs::write(&obj, br#"{"a": 3, "b": [1.0, "x"]}"#).expect("write");
        let got = read_inputs(&[format!("r:{}", raw.display()), obj.display().to_string()])
            .expect("reads");
        assert_eq!(got["r"], b"\xff\x00raw".to_vec());
        assert_eq!(got["a"], b"3".to_vec());
        assert_eq!(
            Value::from_bytes(&got["b"]),
            Value::List(vec![Value::Float(1.0), Value::from("x")])
        );
    }

    #[test]
    fn non_object_inputs_file_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let obj = dir.path().join("inputs.json");
        std::fs::write(&obj, b"[1]").expect("write");
        let err = read_inputs(&[obj.display().to_string()]).expect_err("not an object");
        assert!(
            format!("{err:#}").contains("must hold a JSON object"),
            "{err:#}"
        );
    }
}
