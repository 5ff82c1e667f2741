//! The worker call arguments file (`definition`): what the controller tells a
//! worker to run and where to read inputs and write outputs, in the exact
//! JSON of the reference's pydantic `WorkerCallArgs.model_dump_json()`.
//!
//! That JSON is compact, keeps the declared field order and writes
//! `"logs_path": null` when there is no log file; reading also accepts a
//! missing `logs_path` and ignores unknown keys.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Arguments of one worker call (`WorkerCallArgs` in the reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCallArgs {
    pub function_name: String,
    /// Input port to the file holding its value.
    pub inputs: IndexMap<String, PathBuf>,
    /// Output port to the file the worker must write.
    pub outputs: IndexMap<String, PathBuf>,
    pub output_dir: PathBuf,
    /// Touched by the worker on success.
    pub done_path: PathBuf,
    /// Written by the worker on failure.
    pub error_path: PathBuf,
    #[serde(default)]
    pub logs_path: Option<PathBuf>,
}

/// Why call arguments could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CallArgsError {
    #[error("invalid worker call arguments: {source}")]
    Decode {
        #[source]
        source: serde_json::Error,
    },
    #[error("call argument `{field}` has a path that is not UTF-8: {}", .path.display())]
    NonUtf8Path { field: String, path: PathBuf },
    #[error("could not encode worker call arguments: {source}")]
    Encode {
        #[source]
        source: serde_json::Error,
    },
}

impl WorkerCallArgs {
    /// Read the reference's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<WorkerCallArgs, CallArgsError> {
        serde_json::from_slice(bytes).map_err(|source| CallArgsError::Decode { source })
    }

    /// Write compact JSON as pydantic does. Fails only on a path that is not
    /// UTF-8 (JSON cannot hold it; the reference cannot write it either).
    pub fn to_json(&self) -> Result<Vec<u8>, CallArgsError> {
        self.check_utf8()?;
        serde_json::to_vec(self).map_err(|source| CallArgsError::Encode { source })
    }

    fn check_utf8(&self) -> Result<(), CallArgsError> {
        let check = |field: String, path: &Path| -> Result<(), CallArgsError> {
            match path.to_str() {
                Some(_) => Ok(()),
                None => Err(CallArgsError::NonUtf8Path {
                    field,
                    path: path.to_path_buf(),
                }),
            }
        };
        for (port, p) in &self.inputs {
            check(format!("inputs.{port}"), p)?;
        }
        for (port, p) in &self.outputs {
            check(format!("outputs.{port}"), p)?;
        }
        check("output_dir".into(), &self.output_dir)?;
        check("done_path".into(), &self.done_path)?;
        check("error_path".into(), &self.error_path)?;
        if let Some(p) = &self.logs_path {
            check("logs_path".into(), p)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Produced by the reference: WorkerCallArgs(function_name='f',
    // inputs={'a': Path('/x/a')}, outputs={'v': Path('/y/v')}, output_dir=Path('/o'),
    // done_path=Path('/d'), error_path=Path('/e'), logs_path=None).model_dump_json()
    const REFERENCE_NO_LOGS: &str = r#"{"function_name":"f","inputs":{"a":"/x/a"},"outputs":{"v":"/y/v"},"output_dir":"/o","done_path":"/d","error_path":"/e","logs_path":null}"#;
    // Same shape with function_name='fé', no inputs, a relative output and logs_path=Path('/l').
    const REFERENCE_LOGS: &str = r#"{"function_name":"fé","inputs":{},"outputs":{"v":"rel/v"},"output_dir":"/o","done_path":"/d","error_path":"/e","logs_path":"/l"}"#;

    #[test]
    fn round_trips_reference_output_byte_for_byte() {
        for reference in [REFERENCE_NO_LOGS, REFERENCE_LOGS] {
            let args = WorkerCallArgs::from_json(reference.as_bytes()).expect("decodes");
            let written = args.to_json().expect("encodes");
            assert_eq!(String::from_utf8(written).expect("utf8"), reference);
        }
        let args = WorkerCallArgs::from_json(REFERENCE_LOGS.as_bytes()).expect("decodes");
        assert_eq!(args.function_name, "fé");
        assert_eq!(args.outputs["v"], PathBuf::from("rel/v"));
        assert_eq!(args.logs_path, Some(PathBuf::from("/l")));
    }

    #[test]
    fn missing_logs_path_and_extra_keys_accepted() {
        let json = r#"{"function_name":"f","inputs":{},"outputs":{},"output_dir":"/o","done_path":"/d","error_path":"/e","extra":1}"#;
        let args = WorkerCallArgs::from_json(json.as_bytes()).expect("decodes");
        assert_eq!(args.logs_path, None);
    }

    #[test]
    fn missing_required_field_is_reported() {
        let json =
            r#"{"function_name":"f","inputs":{},"outputs":{},"output_dir":"/o","done_path":"/d"}"#;
        let err = WorkerCallArgs::from_json(json.as_bytes()).expect_err("no error_path");
        assert!(err.to_string().contains("error_path"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_path_is_an_error_naming_the_field() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let mut args = WorkerCallArgs::from_json(REFERENCE_NO_LOGS.as_bytes()).expect("decodes");
        args.outputs
            .insert("w".into(), PathBuf::from(OsStr::from_bytes(b"/y/\xff")));
        let err = args.to_json().expect_err("not utf8");
        assert!(err.to_string().contains("outputs.w"), "{err}");
    }
}
