//! Graphs written in Python: `tkr run -g FILE.py:NAME` (or `module:NAME`),
//! like the reference's `-g`. A Python interpreter that has the `tierkreis`
//! package loads the graph with the reference's own `load_graph` and prints
//! it as JSON, which we then read like any graph file.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// The script run by the interpreter: the reference's loader, JSON on stdout.
const LOADER: &str = r#"
import sys
from tierkreis.cli.run import load_graph
graph = load_graph(sys.argv[1])
sys.stdout.write(graph.model_dump_json())
"#;

/// The interpreter to use: `--python`, else `$TKR_PYTHON`, else `python3`.
pub fn interpreter(flag: Option<&Path>) -> std::ffi::OsString {
    flag.map(|p| p.as_os_str().to_owned())
        .or_else(|| std::env::var_os("TKR_PYTHON"))
        .unwrap_or_else(|| "python3".into())
}

/// Loads the graph at `location` (`FILE.py:NAME` or `module:NAME`) as JSON bytes.
pub fn load(location: &str, python: &std::ffi::OsStr) -> anyhow::Result<Vec<u8>> {
    if !location.contains(':') {
        bail!("-g wants FILE.py:NAME or module:NAME (the object or function that makes the graph), got {location:?}");
    }
    let out = Command::new(python)
        .args(["-c", LOADER, location])
        .output()
        .with_context(|| {
            format!(
                "cannot run the Python interpreter {:?} to load {location}; set --python or TKR_PYTHON",
                python
            )
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No module named 'tierkreis'") {
            bail!(
                "the Python interpreter {:?} cannot import tierkreis; point --python or TKR_PYTHON at one that can",
                python
            );
        }
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        bail!(
            "loading the graph {location} with {:?} failed ({}):\n{}",
            python,
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_without_a_colon_is_refused_before_running_python() {
        let err =
            load("graph.py", std::ffi::OsStr::new("/nonexistent/python")).expect_err("no colon");
        assert!(err.to_string().contains("FILE.py:NAME"), "{err}");
    }

    #[test]
    fn a_missing_interpreter_is_named() {
        let err = load("g.py:g", std::ffi::OsStr::new("/nonexistent/python")).expect_err("missing");
        assert!(
            format!("{err:#}").contains("/nonexistent/python"),
            "{err:#}"
        );
    }
}
