//! `tkr init rust-worker [DIR]`: a new project that `tkr run` runs straight
//! away: a Rust worker (built with the SDK on first use), a graph that calls
//! it, an inputs file and a `tkr.toml` that points at the worker.

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

/// Where the worker SDK's sources are: the project's worker depends on them
/// by path (the SDK is not published to a registry yet).
fn sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tierkreis-worker")
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

/// The files of a new project, as (relative path, content).
pub fn files(worker: &str, sdk: &Path) -> Vec<(String, String)> {
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

[workspace]
"#,
                sdk = sdk.display()
            ),
        ),
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
exec cargo run --quiet --release --manifest-path "$here/Cargo.toml" -- "$worker_call_args_file"
"#
            ),
        ),
        (
            "README.md".into(),
            format!(
                "# A Tierkreis project\n\nRun it:\n\n```sh\ntkr run -f graph.json -i inputs.json -o\n```\n\n\
                 The graph calls `{worker}.greet` and `{worker}.square` (in `workers/{worker}/src/main.rs`)\n\
                 and the builtin `builtins.iadd`. The worker is built with cargo on first use.\n"
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
    for (rel, text) in files(&worker, &sdk_path()) {
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
        "created a Tierkreis project in {} with worker {worker}; run it with:\n  cd {} && tkr run -f graph.json -i inputs.json -o",
        dir.display(),
        dir.display()
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
    fn the_generated_graph_is_valid() {
        let g = tierkreis_core::GraphData::from_json(graph("w").as_bytes()).expect("parses");
        g.validate().expect("valid");
        assert_eq!(g.graph_inputs, ["name", "n"]);
    }

    #[test]
    fn the_generated_files_are_stable() {
        let listing: Vec<String> = files("demo", Path::new("/sdk"))
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        expect_test::expect![[r#"
            [
                "tkr.toml",
                "graph.json",
                "inputs.json",
                "workers/demo/Cargo.toml",
                "workers/demo/src/main.rs",
                "workers/demo/main.sh",
                "README.md",
            ]
        "#]]
        .assert_debug_eq(&listing);
        let cargo = &files("demo", Path::new("/sdk"))[3].1;
        expect_test::expect![[r#"
            [package]
            name = "demo"
            version = "0.1.0"
            edition = "2021"

            [[bin]]
            name = "tkr-demo"
            path = "src/main.rs"

            [dependencies]
            tierkreis-worker = { path = "/sdk" }
            schemars = "1"
            serde = { version = "1", features = ["derive"] }

            [workspace]
        "#]]
        .assert_eq(cargo);
    }
}
