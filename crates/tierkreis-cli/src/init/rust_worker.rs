//! `tkr init rust-worker [DIR]`: a new project that `tkr run` runs straight
//! away: a Rust worker (built with the SDK on first use), a graph that calls
//! it, an inputs file and a `tkr.toml` that points at the worker.
//!
//! The SDK is not published to a registry, so the project carries its own
//! copy: `vendor/` holds the sources of `tierkreis-worker` and the crates it
//! needs, embedded in `tkr` when it was built (see `build.rs`). The project
//! so builds wherever it is moved, with no path back to the clone that built
//! `tkr`, and its `Cargo.lock` pins the versions `tkr` was built and tested with.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use crate::exit;

/// Arguments of `tkr init rust-worker`.
#[derive(Debug, Args)]
pub struct RustWorkerArgs {
    /// Where to create the project (default: the current folder, which must be empty).
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The worker's name (default: derived from the folder name).
    #[arg(long)]
    worker: Option<String>,
}

mod vendored {
    //! The SDK crates' files, embedded by `build.rs`.
    include!(concat!(env!("OUT_DIR"), "/vendored_sdk.rs"));
}

/// The folder of a project that holds the vendored SDK crates.
const VENDOR_DIR: &str = "vendor";

/// The lock file of the workspace `tkr` was built in: the worker's own
/// lock starts from it, so it builds with the versions `tkr` was tested with
/// (cargo drops the entries the worker does not use).
const WORKSPACE_LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"));

/// The vendored SDK, as (path in the project, content).
pub fn vendored_sdk_files() -> impl Iterator<Item = (String, &'static [u8])> {
    vendored::VENDORED_SDK_FILES
        .iter()
        .map(|(relative, content)| (format!("{VENDOR_DIR}/{relative}"), *content))
}

/// A Rust identifier-like worker name from a folder name.
fn worker_name(dir: &Path, given: Option<&str>) -> anyhow::Result<String> {
    let raw = match given {
        Some(w) => w.to_string(),
        None => {
            let abs = std::path::absolute(dir).context("cannot resolve the project folder")?;
            let base = abs
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "my".to_string());
            format!("{base}_worker")
        }
    };
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches('_').to_string();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("{raw:?} does not make a worker name: use --worker NAME (letters, digits, _)");
    }
    Ok(name)
}

/// The files of a new project, as (relative path, content), without the
/// vendored SDK ([`vendored_sdk_files`]). The worker depends on the SDK at
/// `sdk`, a path relative to the worker's folder.
pub fn files(worker: &str, sdk: &str) -> Vec<(String, String)> {
    let bin = format!("tkr-{}", worker.replace('_', "-"));
    vec![
        (
            "tkr.toml".into(),
            "# Where `tkr run` finds workers: a task W.f runs workers/W.\nregistries = [\"workers\"]\n".into(),
        ),
        ("graph.json".into(), graph(worker)),
        ("inputs.json".into(), "{\"name\": \"Tierkreis\", \"n\": 5}\n".into()),
        (
            format!("workers/{worker}/Cargo.toml"),
            format!(
                r#"[package]
name = "{worker}"
version = "0.1.0"
edition = "2021"

[[bin]]
name = "{bin}"
path = "src/main.rs"

[dependencies]
tierkreis-worker = {{ path = "{sdk}" }}
schemars = "1"
serde = {{ version = "1", features = ["derive"] }}

# A workspace of its own, so that an enclosing workspace does not claim it.
[workspace]
"#
            ),
        ),
        (format!("workers/{worker}/Cargo.lock"), WORKSPACE_LOCK.to_string()),
        (
            format!("workers/{worker}/src/main.rs"),
            format!(
                r#"//! The `{worker}` worker: the tasks the graph calls.

use schemars::JsonSchema;
use serde::Deserialize;
use tierkreis_worker::Worker;

#[derive(Deserialize, JsonSchema)]
struct Greet {{
    name: String,
}}

#[derive(Deserialize, JsonSchema)]
struct Square {{
    n: i64,
}}

fn main() -> std::process::ExitCode {{
    let mut worker = Worker::new("{worker}");
    worker.task("greet", |i: Greet| Ok::<_, String>(format!("Hello, {{}}!", i.name)));
    worker.task("square", |i: Square| {{
        i.n.checked_mul(i.n).ok_or_else(|| format!("{{}} squared does not fit in 64 bits", i.n))
    }});
    // `<call-args path>` runs a task; `--stubs-path FILE` writes Python stubs.
    worker.run_main()
}}
"#
            ),
        ),
        (
            format!("workers/{worker}/main.sh"),
            format!(
                r#"#!/usr/bin/env bash
# Run by tkr for each task of {worker}: builds the worker once, then runs it
# on the task's call args (worker_call_args_file).
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
if [ ! -e "$here/.tkr-built" ]; then
    # The first run compiles: say so on the terminal running tkr (if any)
    # and in the task's log.
    notice="tkr: compiling worker {worker} with cargo (first run only: a minute or so)"
    {{ echo "$notice" > /dev/tty; }} 2>/dev/null || true
    echo "$notice" >&2
    cargo build --quiet --release --manifest-path "$here/Cargo.toml"
    touch "$here/.tkr-built"
fi
exec cargo run --quiet --release --manifest-path "$here/Cargo.toml" -- "$worker_call_args_file"
"#
            ),
        ),
        (
            "README.md".into(),
            format!(
                "# A Tierkreis project\n\nRun it:\n\n```sh\ntkr run -f graph.json -i inputs.json -o\n```\n\n\
                 The graph calls `{worker}.greet` and `{worker}.square` (in `workers/{worker}/src/main.rs`)\n\
                 and the builtin `builtins.iadd`. The worker is compiled with cargo on the first run (a minute or so; the run says so).\n\n\
                 `{VENDOR_DIR}/` holds the Tierkreis worker SDK (`tierkreis-worker` and the crates it\n\
                 needs), copied from the `tkr` that made this project, so the project builds anywhere.\n"
            ),
        ),
    ]
}

/// greeting = W.greet(name); value = iadd(W.square(n), 1).
fn graph(worker: &str) -> String {
    format!(
        r#"{{"nodes": [
  {{"type": "input", "name": "name", "inputs": {{}}, "outputs": {{"name": [2]}}}},
  {{"type": "input", "name": "n", "inputs": {{}}, "outputs": {{"n": [3]}}}},
  {{"type": "function", "function_name": "{worker}.greet", "inputs": {{"name": [0, "name"]}}, "outputs": {{"value": [6]}}}},
  {{"type": "function", "function_name": "{worker}.square", "inputs": {{"n": [1, "n"]}}, "outputs": {{"value": [5]}}}},
  {{"type": "const", "value": 1, "inputs": {{}}, "outputs": {{"value": [5]}}}},
  {{"type": "function", "function_name": "builtins.iadd", "inputs": {{"a": [3, "value"], "b": [4, "value"]}}, "outputs": {{"value": [6]}}}},
  {{"type": "output", "inputs": {{"greeting": [2, "value"], "value": [5, "value"]}}, "outputs": {{}}}}
], "fixed_inputs": {{}}, "graph_inputs": ["name", "n"], "graph_output_idx": 6, "named_nodes": {{}}, "node_metadata": {{}}}}
"#
    )
}

/// Runs `tkr init rust-worker`.
pub fn run(args: RustWorkerArgs) -> u8 {
    match init(&args) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {}", crate::output::error_text(&e));
            exit::USAGE
        }
    }
}

fn init(args: &RustWorkerArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
        if entries.next().is_some() {
            bail!("{} is not empty; give a new or empty folder", dir.display());
        }
    }
    let worker = worker_name(dir, args.worker.as_deref())?;
    let sdk = format!("../../{VENDOR_DIR}/{}", vendored::VENDORED_SDK_CRATES[0]);
    let project_files = files(&worker, &sdk)
        .into_iter()
        .map(|(rel, text)| (rel, text.into_bytes()))
        .chain(vendored_sdk_files().map(|(rel, content)| (rel, content.to_vec())));
    for (rel, text) in project_files {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        if rel.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot make {} executable", path.display()))?;
        }
    }
    eprintln!(
        "created a Tierkreis project in {} with worker {worker}; run it with:\n  cd {} && tkr run -f graph.json -i inputs.json -o\n\
         The first run compiles the worker with cargo (a minute or so, fetching crates); to compile it now:\n  \
         cargo build --release --manifest-path {}",
        dir.display(),
        dir.display(),
        dir.join("workers").join(&worker).join("Cargo.toml").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names_come_from_the_folder_and_are_checked() {
        assert_eq!(
            worker_name(Path::new("/x/My-Project"), None).expect("name"),
            "my_project_worker"
        );
        assert_eq!(
            worker_name(Path::new("."), Some("calc")).expect("name"),
            "calc"
        );
        assert!(worker_name(Path::new("."), Some("9lives")).is_err());
    }

    #[test]
    fn the_vendored_sdk_stands_alone() {
        assert_eq!(vendored::VENDORED_SDK_CRATES[0], "tierkreis-worker");
        let files: Vec<(String, &[u8])> = vendored_sdk_files().collect();
        for crate_name in ["tierkreis-worker", "tierkreis-core", "tierkreis-storage"] {
            for file in ["Cargo.toml", "src/lib.rs"] {
                let wanted = format!("vendor/{crate_name}/{file}");
                assert!(
                    files.iter().any(|(path, _)| *path == wanted),
                    "{wanted} missing"
                );
            }
        }
        for (path, content) in &files {
            if !path.ends_with("/Cargo.toml") {
                continue;
            }
            let text = std::str::from_utf8(content).expect("UTF-8");
            // Nothing inherited from a workspace, no test parts whose files are not there.
            for absent in [
                "workspace = true",
                "dev-dependencies",
                "[[test]]",
                "crates/",
            ] {
                assert!(!text.contains(absent), "{path} has {absent:?}:\n{text}");
            }
            assert!(text.contains("version = \"0.1.0\""), "{path}:\n{text}");
        }
        let worker_manifest = files
            .iter()
            .find(|(path, _)| path == "vendor/tierkreis-worker/Cargo.toml")
            .map(|(_, content)| String::from_utf8_lossy(content))
            .expect("present");
        assert!(
            worker_manifest.contains("path = \"../tierkreis-core\""),
            "{worker_manifest}"
        );
        assert!(
            worker_manifest.contains("path = \"../tierkreis-storage\""),
            "{worker_manifest}"
        );
        // The features the SDK adds to a workspace dependency are kept.
        assert!(worker_manifest.contains("\"process\""), "{worker_manifest}");
    }

    #[test]
    fn the_generated_graph_is_valid() {
        let g = tierkreis_core::GraphData::from_json(graph("w").as_bytes()).expect("parses");
        g.validate().expect("valid");
        assert_eq!(g.graph_inputs, ["name", "n"]);
    }

    #[test]
    fn the_generated_files_are_stable() {
        let listing: Vec<String> = files("demo", "../../vendor/tierkreis-worker")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        expect_test::expect![[r#"
            [
                "tkr.toml",
                "graph.json",
                "inputs.json",
                "workers/demo/Cargo.toml",
                "workers/demo/Cargo.lock",
                "workers/demo/src/main.rs",
                "workers/demo/main.sh",
                "README.md",
            ]
        "#]]
        .assert_debug_eq(&listing);
        let cargo = &files("demo", "../../vendor/tierkreis-worker")[3].1;
        expect_test::expect![[r#"
            [package]
            name = "demo"
            version = "0.1.0"
            edition = "2021"

            [[bin]]
            name = "tkr-demo"
            path = "src/main.rs"

            [dependencies]
            tierkreis-worker = { path = "../../vendor/tierkreis-worker" }
            schemars = "1"
            serde = { version = "1", features = ["derive"] }

            # A workspace of its own, so that an enclosing workspace does not claim it.
            [workspace]
        "#]]
        .assert_eq(cargo);
    }
}
