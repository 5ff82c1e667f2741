//! Embeds the worker SDK in `tkr`, so that `tkr init rust-worker` can write a
//! project that builds wherever it is, with no path back to this clone.
//!
//! It takes the SDK crate `tierkreis-worker` and, transitively, every crate of
//! this workspace it depends on by path; for each it embeds the `src/` tree
//! and a `Cargo.toml` rewritten to stand alone: `x.workspace = true` fields
//! and dependencies become the workspace's concrete values (versions,
//! features, lints), and dependencies on other vendored crates point to
//! `../<crate>`. Test-only parts (dev-dependencies, test targets) are left out:
//! their files are not vendored. The generated `$OUT_DIR/vendored_sdk.rs`
//! lists every file as (path under `vendor/`, bytes).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// The crate a generated worker depends on; its path dependencies follow.
const SDK_CRATE: &str = "tierkreis-worker";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace_root = manifest_dir.join("../..");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let root_manifest_path = workspace_root.join("Cargo.toml");
    println!("cargo:rerun-if-changed={}", root_manifest_path.display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace_root.join("Cargo.lock").display()
    );
    let root_manifest = read_toml(&root_manifest_path);
    let workspace = root_manifest
        .get("workspace")
        .and_then(Value::as_table)
        .expect("the root Cargo.toml has [workspace]");

    let crate_dirs = workspace_crate_dirs(workspace, &workspace_root);
    let mut vendored: Vec<String> = Vec::new();
    let mut pending = vec![SDK_CRATE.to_string()];
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    while let Some(crate_name) = pending.pop() {
        if vendored.contains(&crate_name) {
            continue;
        }
        let crate_dir = crate_dirs
            .get(&crate_name)
            .unwrap_or_else(|| panic!("{crate_name} is not a path dependency of the workspace"))
            .clone();
        let manifest_path = crate_dir.join("Cargo.toml");
        println!("cargo:rerun-if-changed={}", manifest_path.display());
        let manifest = read_toml(&manifest_path);
        let (standalone, path_dependencies) =
            standalone_manifest(&crate_name, &manifest, workspace, &crate_dirs);
        let written = out_dir.join("vendor").join(&crate_name).join("Cargo.toml");
        std::fs::create_dir_all(written.parent().expect("has a parent"))
            .expect("create OUT_DIR/vendor");
        std::fs::write(&written, standalone).expect("write the vendored Cargo.toml");
        files.push((format!("{crate_name}/Cargo.toml"), written));
        let src = crate_dir.join("src");
        println!("cargo:rerun-if-changed={}", src.display());
        let mut sources = Vec::new();
        walk(&src, &mut sources);
        sources.sort();
        for source in sources {
            let relative = source.strip_prefix(&crate_dir).expect("under the crate");
            files.push((
                format!("{crate_name}/{}", relative.display()),
                source.clone(),
            ));
            println!("cargo:rerun-if-changed={}", source.display());
        }
        vendored.push(crate_name);
        pending.extend(path_dependencies);
    }

    let mut table = String::from(
        "/// Every vendored SDK file: (path under `vendor/`, content).\n\
         pub const VENDORED_SDK_FILES: &[(&str, &[u8])] = &[\n",
    );
    for (relative, source) in &files {
        let absolute = std::path::absolute(source).expect("absolute path");
        let _ = writeln!(
            table,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        );
    }
    table.push_str("];\n");
    let _ = writeln!(
        table,
        "/// The vendored crates, the SDK first.\npub const VENDORED_SDK_CRATES: &[&str] = &{vendored:?};"
    );
    std::fs::write(out_dir.join("vendored_sdk.rs"), table).expect("write vendored_sdk.rs");
}

fn read_toml(path: &Path) -> Table {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Every `.rs` (and other) file under `dir`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Name -> folder of the workspace dependencies given by path.
fn workspace_crate_dirs(workspace: &Table, root: &Path) -> BTreeMap<String, PathBuf> {
    let mut dirs = BTreeMap::new();
    if let Some(dependencies) = workspace.get("dependencies").and_then(Value::as_table) {
        for (name, spec) in dependencies {
            if let Some(path) = spec.get("path").and_then(Value::as_str) {
                dirs.insert(name.clone(), root.join(path));
            }
        }
    }
    dirs
}

/// `manifest` with workspace inheritance resolved and test parts dropped,
/// as TOML text, and the vendored crates it depends on.
fn standalone_manifest(
    crate_name: &str,
    manifest: &Table,
    workspace: &Table,
    crate_dirs: &BTreeMap<String, PathBuf>,
) -> (String, Vec<String>) {
    let mut out = Table::new();
    let mut path_dependencies = Vec::new();
    let workspace_package = workspace.get("package").and_then(Value::as_table);
    let workspace_dependencies = workspace.get("dependencies").and_then(Value::as_table);
    for (section, value) in manifest {
        match section.as_str() {
            "package" => {
                let mut package = Table::new();
                for (key, field) in value.as_table().expect("[package] is a table") {
                    let field = if inherits(field) {
                        workspace_package
                            .and_then(|p| p.get(key))
                            .unwrap_or_else(|| {
                                panic!("{crate_name}: package.{key} is not in [workspace.package]")
                            })
                            .clone()
                    } else {
                        field.clone()
                    };
                    package.insert(key.clone(), field);
                }
                out.insert(section.clone(), Value::Table(package));
            }
            "dependencies" | "build-dependencies" => {
                let dependencies = resolve_dependencies(
                    value.as_table().expect("dependencies are a table"),
                    workspace_dependencies,
                    crate_dirs,
                    &mut path_dependencies,
                );
                out.insert(section.clone(), Value::Table(dependencies));
            }
            "lints" => {
                let lints = if inherits(value) {
                    workspace
                        .get("lints")
                        .cloned()
                        .unwrap_or(Value::Table(Table::new()))
                } else {
                    value.clone()
                };
                out.insert(section.clone(), lints);
            }
            // Their files are not vendored.
            "dev-dependencies" | "test" | "bench" | "example" => {}
            "target" => panic!("{crate_name}: [target.*] sections are not vendored yet"),
            _ => {
                out.insert(section.clone(), value.clone());
            }
        }
    }
    let header = format!(
        "# {crate_name}, vendored by `tkr init rust-worker`: the Tierkreis worker SDK\n\
         # (or a crate it needs), with the versions and settings of the tkr that made it.\n\n"
    );
    // `[package]` first, as people write it; the rest in name order.
    let mut package_first = Table::new();
    if let Some(package) = out.remove("package") {
        package_first.insert("package".into(), package);
    }
    let text = header
        + &toml::to_string(&package_first).expect("TOML")
        + "\n"
        + &toml::to_string(&out).expect("TOML");
    (text, path_dependencies)
}

/// Whether a field is `{ workspace = true }`.
fn inherits(field: &Value) -> bool {
    field
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// A dependency given as a bare version, as a table.
fn version_table(version: &str) -> Table {
    let mut table = Table::new();
    table.insert("version".into(), Value::String(version.to_string()));
    table
}

/// Dependencies with `workspace = true` replaced by the workspace's entry
/// (the member's `features` added, its `optional` kept), and dependencies on
/// crates of this workspace pointing at `../<crate>`, where they are vendored.
fn resolve_dependencies(
    dependencies: &Table,
    workspace_dependencies: Option<&Table>,
    crate_dirs: &BTreeMap<String, PathBuf>,
    path_dependencies: &mut Vec<String>,
) -> Table {
    let mut resolved = Table::new();
    for (name, spec) in dependencies {
        let mut spec: Table = if inherits(spec) {
            let mut base = match workspace_dependencies.and_then(|d| d.get(name)) {
                Some(Value::String(version)) => version_table(version),
                Some(Value::Table(t)) => t.clone(),
                _ => panic!("dependency {name} is not in [workspace.dependencies]"),
            };
            for (key, value) in spec.as_table().expect("a table") {
                match key.as_str() {
                    "workspace" => {}
                    "features" => {
                        let mut features = base
                            .get("features")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        for feature in value.as_array().expect("features are a list") {
                            if !features.contains(feature) {
                                features.push(feature.clone());
                            }
                        }
                        base.insert("features".into(), Value::Array(features));
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
            base
        } else {
            match spec {
                Value::String(version) => version_table(version),
                Value::Table(t) => t.clone(),
                _ => panic!("dependency {name} is neither a version nor a table"),
            }
        };
        if spec.contains_key("path") {
            // A crate of this workspace: vendored beside this one.
            let package = spec
                .get("package")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_string();
            assert!(
                crate_dirs.contains_key(&package),
                "path dependency {package} is not in [workspace.dependencies]; add it there to vendor it"
            );
            spec.insert("path".into(), Value::String(format!("../{package}")));
            path_dependencies.push(package);
        }
        resolved.insert(name.clone(), Value::Table(spec));
    }
    resolved
}
