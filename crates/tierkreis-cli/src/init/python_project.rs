//! `tkr init project|worker|stubs`: the reference's project layout, made
//! without network access (the reference's own `tkr init` calls `uv run` and
//! `uv add`, which need a package index). A worker is
//! `tkr/workers/<name>/` with the `tkr_<name>_impl/` package (its tasks), the
//! `api/` package (stubs that graphs import) and their `pyproject.toml`
//! files, plus a `main.sh` launcher so that both our `tkr run` and the
//! reference's shell executor run it with any Python that has `tierkreis`,
//! without installing anything.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use super::{ProjectArgs, StubsArgs, WorkerArgs};

/// The worker `tkr init project` makes, as in the reference.
const EXAMPLE_WORKER: &str = "example_worker";

/// `tkr init project`.
pub fn project(args: &ProjectArgs) -> anyhow::Result<()> {
    let project_dir = &args.project_directory;
    let tkr = project_dir.join("tkr");
    if tkr.exists() && !tkr.is_dir() {
        bail!("{} exists and is not a folder", tkr.display());
    }
    let worker_dir = project_dir.join(&args.worker_directory);
    let graphs_dir = project_dir.join(&args.graphs_directory);
    create_dir(&worker_dir)?;
    create_dir(&graphs_dir)?;
    let mut kept = Vec::new();
    if worker_dir.join(EXAMPLE_WORKER).exists() {
        kept.push(worker_dir.join(EXAMPLE_WORKER));
    } else {
        make_worker(EXAMPLE_WORKER, &worker_dir, false)?;
    }
    let workers_from_graphs = relative_path(&absolute(&graphs_dir)?, &absolute(&worker_dir)?);
    let registry = relative_path(&absolute(project_dir)?, &absolute(&worker_dir)?);
    let files = [
        (
            graphs_dir.join("main.py"),
            default_graph(EXAMPLE_WORKER, &workers_from_graphs),
        ),
        (
            project_dir.join(crate::run_flags::DEFAULT_INPUTS_FILE),
            "{ \"value\": 1 }\n".to_string(),
        ),
        (
            project_dir.join(tierkreis_controller::executor::DEFAULT_CONFIG_FILE),
            format!(
                "# Where `tkr run` finds workers (the reference's --registry-path).\nregistries = [{:?}]\n",
                registry.display().to_string()
            ),
        ),
    ];
    for (path, text) in files {
        if path.exists() {
            kept.push(path);
        } else {
            write(&path, &text)?;
        }
    }
    eprintln!("created a Tierkreis project in {}", project_dir.display());
    for path in kept {
        eprintln!("  kept the existing {}", path.display());
    }
    eprintln!(
        "run its graph with:\n  tkr run -o\n(the graph is {}/main.py:workflow, the inputs {}; the reference's tkr runs\n  tkr run -g {}/main.py:graph_data --registry-path {} -o)",
        graphs_dir.display(),
        crate::run_flags::DEFAULT_INPUTS_FILE,
        graphs_dir.display(),
        worker_dir.display()
    );
    eprintln!("{}", python_requirement(None));
    if let Some(dir) = &args.default_checkpoint_directory {
        eprintln!(
            "to keep checkpoints in {0}, add to your shell's profile:\n  export TKR_DIR={0}",
            dir.display()
        );
    }
    Ok(())
}

/// What the project needs from Python, and whether the interpreter `tkr
/// run` will use (`--python`, `$TKR_PYTHON`, else `python3`) has it.
fn python_requirement(python: Option<&Path>) -> String {
    let interpreter = crate::pygraph::interpreter(python);
    let has_tierkreis = Command::new(&interpreter)
        .args(["-c", "import tierkreis"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let needs = "the graph (tkr/graphs/main.py) and the worker (main.py) run with a Python that has the `tierkreis` package (2.1.1)";
    if has_tierkreis {
        format!("{needs}: {} has it", interpreter.display())
    } else {
        format!(
            "note: {needs}, and {} cannot import it: `{} -m pip install tierkreis==2.1.1` (in a virtual environment), or point --python / $TKR_PYTHON at a Python that has it",
            interpreter.display(),
            interpreter.display()
        )
    }
}

/// `tkr init worker`.
pub fn worker(args: &WorkerArgs) -> anyhow::Result<()> {
    let name = worker_name(&args.worker_name)?;
    let dir = match &args.worker_directory {
        Some(d) => {
            create_dir(d)?;
            d.clone()
        }
        None => find_worker_dir()?,
    };
    if dir.join(&name).exists() {
        bail!(
            "worker {name} already exists in {}; choose another name or remove it",
            dir.display()
        );
    }
    make_worker(&name, &dir, args.external)?;
    eprintln!("created worker {name} in {}", dir.join(&name).display());
    if args.external {
        eprintln!("write its interface in tkr_{name}_impl/{name}.tsp, then `tkr init stubs` writes api/api.py");
    } else {
        eprintln!("its tasks are in tkr_{name}_impl/impl.py; after changing them, `tkr init stubs` updates api/api.py");
    }
    eprintln!("{}", how_to_call(&name, &dir));
    Ok(())
}

/// How a graph calls the tasks of worker `name` (in the registry `dir`).
fn how_to_call(name: &str, dir: &Path) -> String {
    format!(
        "call it from a graph (as tkr/graphs/main.py calls the example worker) with its stubs ({stubs}):\n\
         \x20 from {name} import your_worker_task   # with {dir} on sys.path\n\
         \x20 out = g.task(your_worker_task(g.inputs.value))\n\
         `tkr run` finds the worker in the registry {dir} (the project's tkr.toml, or --registry {dir})",
        stubs = dir.join(name).join("api").join("api.py").display(),
        dir = dir.display(),
    )
}

/// `tkr init stubs`.
pub fn stubs(args: &StubsArgs) -> anyhow::Result<()> {
    let dir = match &args.worker_directory {
        Some(d) => d.clone(),
        None => find_worker_dir()?,
    };
    let python = crate::pygraph::interpreter(args.python.as_deref());
    let mut workers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list the worker folder {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    workers.sort();
    let mut failures = Vec::new();
    let mut written = 0;
    for worker in workers {
        let Some(name) = worker.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let package = worker.join(format!("tkr_{name}_impl"));
        let idl = package.join(format!("{name}.tsp"));
        let command = if idl.is_file() {
            let mut c = Command::new(&python);
            c.args(["-c", IDL_STUBS]).arg(&idl).arg(&args.api_file_name);
            c
        } else if package.join("main.py").is_file() {
            let mut c = Command::new(&python);
            c.arg(Path::new(&format!("tkr_{name}_impl")).join("main.py"))
                .arg("--stubs-path")
                .arg(&args.api_file_name)
                .env("PYTHONPATH", python_path_with(&absolute(&worker)?));
            c
        } else {
            continue;
        };
        match run_in(command, &worker) {
            Ok(()) => {
                written += 1;
                eprintln!("wrote {}", worker.join(&args.api_file_name).display());
            }
            Err(e) => failures.push(format!("worker {name}: {e}")),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    if written == 0 {
        bail!(
            "no workers in {} (a worker is NAME/tkr_NAME_impl/main.py or NAME/tkr_NAME_impl/NAME.tsp)",
            dir.display()
        );
    }
    Ok(())
}

/// Writes stubs from a TypeSpec file with the reference's own code generator.
const IDL_STUBS: &str = "import sys\nfrom pathlib import Path\nfrom tierkreis.namespace import Namespace\nNamespace.from_spec_file(Path(sys.argv[1])).write_stubs(Path(sys.argv[2]))\n";

fn run_in(mut command: Command, cwd: &Path) -> anyhow::Result<()> {
    let out = command.current_dir(cwd).output().with_context(|| {
        format!(
            "cannot run {:?}; set --python or TKR_PYTHON",
            command.get_program()
        )
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!(
            "{:?} failed ({}): {last}",
            command.get_program(),
            out.status
        );
    }
    Ok(())
}

/// `$PYTHONPATH` with `first` in front.
fn python_path_with(first: &Path) -> std::ffi::OsString {
    let mut paths = vec![first.to_path_buf()];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| first.as_os_str().to_owned())
}

/// The reference's worker name rule (`-` becomes `_`), checked to be a
/// Python identifier so that `tkr_NAME_impl` can be imported.
fn worker_name(raw: &str) -> anyhow::Result<String> {
    let name = raw.replace('-', "_");
    let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !ok {
        bail!("{raw:?} is not a worker name: use letters, digits, _ and -, starting with a letter");
    }
    Ok(name)
}

/// The nearest `tkr/workers` folder in the current folder or above (or the
/// current folder itself if it is one).
fn find_worker_dir() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    if cwd.ends_with("tkr/workers") {
        return Ok(cwd);
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join("tkr").join("workers");
        if candidate.is_dir() {
            return Ok(candidate);
        }
    }
    bail!(
        "no tkr/workers folder in {} or above; give --worker-directory DIR or run `tkr init project` first",
        cwd.display()
    )
}

/// Makes worker `name` in `dir` (the reference's layout).
fn make_worker(name: &str, dir: &Path, external: bool) -> anyhow::Result<()> {
    let base = dir.join(name);
    let package = base.join(format!("tkr_{name}_impl"));
    let api = base.join("api");
    create_dir(&package)?;
    create_dir(&api)?;
    write(&base.join("README.md"), &worker_readme(name))?;
    write(&base.join("pyproject.toml"), &worker_pyproject(name))?;
    write(
        &base.join("__init__.py"),
        "from .api.api import *  # noqa: F403\n",
    )?;
    write(&api.join("pyproject.toml"), &api_pyproject(name))?;
    write(
        &api.join("README.md"),
        &format!("# {name} worker API\n\nStubs of the worker's tasks, for building graphs. Generated: `tkr init stubs` rewrites `api.py`.\n"),
    )?;
    if external {
        write(&package.join(format!("{name}.tsp")), &external_idl(name))?;
        return Ok(());
    }
    write(
        &package.join("__init__.py"),
        "from .impl import worker\n\n__all__ = [\"worker\"]\n",
    )?;
    write(&package.join("impl.py"), &worker_impl(name))?;
    write(&package.join("main.py"), &worker_main(name))?;
    write(&package.join("main.sh"), WORKER_LAUNCHER)?;
    {
        use std::os::unix::fs::PermissionsExt;
        let launcher = package.join("main.sh");
        std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", launcher.display()))?;
    }
    write(&api.join("api.py"), &template_stubs(name))?;
    Ok(())
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    let abs =
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    // Drop `.` and fold `..`, so that relative paths between two folders are short.
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The path from folder `from` to `to` (both absolute and normalised).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    rel
}

/// Runs the worker without installing it: its folder on `PYTHONPATH` (so
/// `main.py` imports `tkr_NAME_impl`), with `$TKR_PYTHON` or `python3`.
/// The reference's shell executor runs `main.sh`; so does our `tkr run`.
const WORKER_LAUNCHER: &str = r#"#!/usr/bin/env bash
# Runs this worker without installing it: the worker's folder goes on
# PYTHONPATH and $TKR_PYTHON (else python3, which must have tierkreis) runs
# main.py. Both tkr implementations run this file (the reference's without --uv).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$(dirname "$here")${PYTHONPATH:+:$PYTHONPATH}"
exec "${TKR_PYTHON:-python3}" "$here/main.py" "$@"
"#;

fn worker_impl(name: &str) -> String {
    format!(
        r#""""The tasks of worker {name}: each `@worker.task()` is one task that graphs call."""
from tierkreis import Worker

worker = Worker("{name}")


@worker.task()
def your_worker_task(value: int) -> int:
    return value
"#
    )
}

fn worker_main(name: &str) -> String {
    format!(
        r#"# Generated by `tkr init worker`: the worker's entry point; edit impl.py instead.
from sys import argv

from tkr_{name}_impl import worker


def main() -> None:
    worker.app(argv)


if __name__ == "__main__":
    main()
"#
    )
}

/// The stubs of the template's one task, as `tkr init stubs` writes them
/// (written directly, so that `tkr init worker` needs no Python).
fn template_stubs(name: &str) -> String {
    format!(
        r#""""Stubs of worker {name}'s tasks, for building graphs. Regenerate with `tkr init stubs`."""
from typing import NamedTuple

from tierkreis.controller.data.models import TKR


class your_worker_task(NamedTuple):
    value: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "{name}"
"#
    )
}

fn worker_pyproject(name: &str) -> String {
    let dashed = name.replace('_', "-");
    format!(
        r#"[project]
name = "tkr-{dashed}-impl"
version = "0.1.0"
description = "The implementation of Tierkreis worker {name}."
readme = "README.md"
requires-python = ">=3.12"
dependencies = ["tierkreis", "tkr-{dashed}"]

[tool.uv.workspace]
members = ["api"]

[tool.uv.sources]
tkr-{dashed} = {{ workspace = true }}

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project.scripts]
tkr-{dashed} = "tkr_{name}_impl.main:main"
"#
    )
}

fn api_pyproject(name: &str) -> String {
    let dashed = name.replace('_', "-");
    format!(
        r#"[project]
name = "tkr-{dashed}"
version = "0.1.0"
description = "The API (task stubs) of Tierkreis worker {name}."
readme = "README.md"
requires-python = ">=3.12"
dependencies = ["tierkreis"]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel.force-include]
"api.py" = "{name}.py"
"#
    )
}

fn external_idl(name: &str) -> String {
    format!(
        "model YourModel {{\n    value: int\n}}\n\ninterface {name} {{\n    your_function(value: int): YourModel;\n}}\n"
    )
}

fn worker_readme(name: &str) -> String {
    format!(
        r#"# Worker {name}

```
{name}/
├── api/                 stubs graphs import (`from {name} import ...`); `tkr init stubs` writes api.py
│   └── pyproject.toml   the package tkr-{dashed}
├── tkr_{name}_impl/
│   ├── impl.py          the tasks: edit these
│   ├── main.py          the entry point (generated)
│   └── main.sh          runs main.py without installing (used by `tkr run`)
└── pyproject.toml       the package tkr-{dashed}-impl, script tkr-{dashed}
```

`tkr run --registry-path <this folder's parent>` runs its tasks with any
Python that has `tierkreis` (`$TKR_PYTHON`, else `python3`); `--uv` runs
`uv run main.py` instead, which installs the project first.
"#,
        dashed = name.replace('_', "-")
    )
}

fn default_graph(worker: &str, workers_from_graphs: &Path) -> String {
    format!(
        r#""""The project's graph: it calls the task of worker {worker}.

Run it from the project folder with `tkr run -o` (the default graph is
./tkr/graphs/main.py:workflow and the default inputs ./workflow_inputs.json).
The reference's `tkr run -g` loads plain graphs only: use `graph_data`.
"""
import sys
from pathlib import Path
from typing import NamedTuple

from tierkreis.builder import Graph
from tierkreis.models import TKR, Workflow

try:
    from {worker} import your_worker_task
except ImportError:
    # The worker's api package is not installed: import it from its folder.
    sys.path.insert(0, str((Path(__file__).resolve().parent / "{rel}").resolve()))
    from {worker} import your_worker_task


class GraphInputs(NamedTuple):
    value: TKR[int]


class GraphOutputs(NamedTuple):
    value: TKR[int]


def workflow() -> Workflow[GraphInputs, GraphOutputs]:
    g = Graph(GraphInputs, GraphOutputs)
    out = g.task(your_worker_task(g.inputs.value))
    return g.finish_with_outputs(GraphOutputs(value=out))


def graph_data():
    """The same graph as plain GraphData (what the reference's `tkr run -g` loads)."""
    return workflow().data
"#,
        rel = workers_from_graphs.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names_follow_the_reference_and_must_be_identifiers() {
        assert_eq!(worker_name("my-worker").expect("ok"), "my_worker");
        assert!(worker_name("9lives").is_err());
        assert!(worker_name("a.b").is_err());
    }

    #[test]
    fn relative_paths_between_folders() {
        assert_eq!(
            relative_path(Path::new("/p/tkr/graphs"), Path::new("/p/tkr/workers")),
            PathBuf::from("../workers")
        );
        assert_eq!(
            relative_path(Path::new("/p"), Path::new("/p/tkr/workers")),
            PathBuf::from("tkr/workers")
        );
        assert_eq!(
            relative_path(Path::new("/p"), Path::new("/p")),
            PathBuf::from(".")
        );
    }
}

#[cfg(test)]
mod how_to_call_tests {
    #[test]
    fn names_the_import_the_task_call_and_the_registry() {
        let text = super::how_to_call("calc", std::path::Path::new("/p/tkr/workers"));
        assert!(text.contains("from calc import your_worker_task"), "{text}");
        assert!(text.contains("g.task(your_worker_task("), "{text}");
        assert!(text.contains("--registry /p/tkr/workers"), "{text}");
    }
}
