//! Graphs written in Python: `tkr run -g FILE.py:NAME` (or
//! `module.path:NAME`), like the reference's `-g`. A Python interpreter that
//! has the `tierkreis` package imports the module, turns NAME into a
//! `GraphData` and prints it as JSON, which we then read like any graph file.
//!
//! NAME may be what the builders produce today: a `GraphData`, a `Graph`, a
//! `Workflow` (what `finish_with_outputs` returns, and the reference's own
//! `tierkreis.graphs` functions), anything whose `.data` is a `GraphData`,
//! or a function of no arguments returning one of those. The reference's
//! `load_graph` refuses a `Workflow`; this loader is our own for that reason.
//! A mistake (no such module, file or name, an object of another kind, an
//! exception while importing) is one line naming the module and the object,
//! not a traceback.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// The prefix of the one line the loader writes on stderr for a user's mistake.
const MISTAKE_PREFIX: &str = "tkr-graph-load-error: ";

/// The script run by the interpreter: loads `sys.argv[1]`, prints JSON on
/// stdout, or one line starting with [`MISTAKE_PREFIX`] on stderr and exit 3.
const LOADER: &str = r#"
import importlib, importlib.util, os, sys, traceback

PREFIX = "tkr-graph-load-error: "

def fail(message):
    sys.stderr.write(PREFIX + message + "\n")
    sys.exit(3)

def where(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != "<string>"]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {last.filename}:{last.lineno})"

def describe(obj):
    kind = type(obj)
    return f"a {kind.__module__}.{kind.__qualname__}"

location = sys.argv[1]
module_name, _, name = location.rpartition(":")
if not module_name or not name:
    fail(f"-g wants FILE.py:NAME or module.path:NAME, got {location!r}")

try:
    from tierkreis.controller.data.graph import GraphData
except ImportError as exc:
    fail(f"this Python ({sys.executable}) cannot import tierkreis ({exc}); point --python or TKR_PYTHON at one that can")

if module_name.endswith(".py") or os.sep in module_name:
    if not os.path.isfile(module_name):
        fail(f"no Python file {module_name!r} (from -g {location})")
    sys.path.insert(1, os.path.dirname(os.path.abspath(module_name)))
    spec = importlib.util.spec_from_file_location("graph_module", module_name)
    module = importlib.util.module_from_spec(spec)
    sys.modules["graph_module"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        fail(f"importing {module_name} raised {type(exc).__name__}: {exc}{where(exc)}")
else:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            fail(f"no module {module_name!r} (no module named {exc.name!r}) to load {name} from")
        fail(f"importing module {module_name} raised ModuleNotFoundError: {exc}{where(exc)}")
    except BaseException as exc:
        fail(f"importing module {module_name} raised {type(exc).__name__}: {exc}{where(exc)}")

if not hasattr(module, name):
    fail(f"module {module_name} has no {name!r}")
found = getattr(module, name)

def as_graph(obj):
    if isinstance(obj, GraphData):
        return obj
    data = getattr(obj, "data", None)
    if isinstance(data, GraphData):
        return data
    return None

graph = as_graph(found)
if graph is None and callable(found) and not isinstance(found, type):
    try:
        made = found()
    except TypeError as exc:
        fail(f"module {module_name}: calling {name}() failed: TypeError: {exc}{where(exc)} (a graph function takes no arguments)")
    except BaseException as exc:
        fail(f"module {module_name}: calling {name}() raised {type(exc).__name__}: {exc}{where(exc)}")
    graph = as_graph(made)
    if graph is None:
        fail(f"module {module_name}: {name}() returned {describe(made)}, not a GraphData, Graph or Workflow")
if graph is None:
    fail(f"module {module_name}: {name} is {describe(found)}, not a GraphData, Graph or Workflow, nor a function returning one")
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
        if let Some(line) = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(MISTAKE_PREFIX))
        {
            bail!("-g {location}: {line}");
        }
        let tail = tierkreis_storage::log_tail::last_lines(&stderr, 8);
        bail!(
            "loading the graph {location} with {:?} failed ({}):\n{}",
            python,
            out.status,
            tail.join("\n")
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
