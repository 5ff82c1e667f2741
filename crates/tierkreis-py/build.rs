//! Builds the `tkr` CLI for the wheel, so that every way of building the
//! wheel (`pip install`, `pip wheel`, `maturin build`, `maturin develop`, an
//! sdist built by pip) ships a `tkr-rs` compiled from the same sources, with
//! the same Cargo profile, target and linker as the extension module.
//!
//! Only when the `python` feature is on (maturin turns it on): a plain
//! `cargo build --workspace` does nothing here. The CLI is built by a nested
//! `cargo build -p tierkreis-cli --bin tkr` in its own target folder,
//! `<target dir>/tierkreis-py-cli` (the outer build holds the lock of its own
//! profile folder), and copied (temp file, then rename) to
//! `wheel-data/scripts/tkr-rs`, which maturin packs as the script `tkr-rs`.
//! The script runs on every build (cargo's own freshness check decides what
//! the nested build recompiles), so the copy is never a stale one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if std::env::var_os("CARGO_FEATURE_PYTHON").is_none() {
        println!("cargo:rerun-if-changed=build.rs");
        return;
    }
    // Cargo would rerun this script only when this package's files change;
    // the CLI's sources are elsewhere. A path that never exists makes cargo
    // run it on every build of the wheel.
    println!("cargo:rerun-if-changed=build.rs-always-runs");
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace_root = manifest_dir.join("../..");
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let target = env("TARGET").to_string_lossy().into_owned();
    let layout = OuterLayout::from_out_dir(&out_dir, &target);
    let cli_target_dir = layout.target_root.join("tierkreis-py-cli");

    let mut cargo = Command::new(env("CARGO"));
    cargo
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace_root.join("Cargo.toml"))
        .args(["-p", "tierkreis-cli", "--bin", "tkr"])
        .args(["--profile", &layout.profile])
        .arg("--target-dir")
        .arg(&cli_target_dir);
    if layout.explicit_target {
        // maturin passes `--target` for zig and cross builds; the linker it
        // sets for that target (environment) then applies to the CLI too.
        cargo.args(["--target", &target]);
    }
    // What cargo sets for this build script only describes this package:
    // the nested cargo must not see it (it would leak into the CLI's own
    // build scripts). The rest (linker, CC, RUSTFLAGS, jobserver) is kept.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if is_build_script_variable(&name) {
            cargo.env_remove(name.as_ref());
        }
    }
    let status = cargo.status().unwrap_or_else(|e| {
        panic!("cannot start cargo to build the tkr CLI for the wheel: {e}\n(command: {cargo:?})")
    });
    assert!(
        status.success(),
        "building the tkr CLI for the wheel failed ({status}); command: {cargo:?}"
    );

    let mut built = cli_target_dir.clone();
    if layout.explicit_target {
        built.push(&target);
    }
    built.push(&layout.profile_dir);
    built.push("tkr");
    let scripts = pyproject_dir(&manifest_dir, &workspace_root)
        .join("wheel-data")
        .join("scripts");
    std::fs::create_dir_all(&scripts)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", scripts.display()));
    let destination = scripts.join("tkr-rs");
    let temporary = scripts.join(".tkr-rs.partial");
    std::fs::copy(&built, &temporary).unwrap_or_else(|e| {
        panic!(
            "cannot copy {} to {}: {e}",
            built.display(),
            temporary.display()
        )
    });
    strip_symbols(&temporary);
    std::fs::rename(&temporary, &destination).unwrap_or_else(|e| {
        panic!(
            "cannot rename {} to {}: {e}",
            temporary.display(),
            destination.display()
        )
    });
}

/// The folder of the pyproject.toml maturin builds from, whose `data =
/// "wheel-data"` is relative to it: beside this crate's Cargo.toml in a
/// clone, at the workspace root in an unpacked sdist (maturin moves the file
/// there and leaves `data` as written; pyproject.toml's sdist `include`
/// brings the folder along).
fn pyproject_dir(manifest_dir: &Path, workspace_root: &Path) -> PathBuf {
    if manifest_dir.join("pyproject.toml").is_file() {
        manifest_dir.to_path_buf()
    } else {
        workspace_root.to_path_buf()
    }
}

/// Where the outer build puts its artifacts, read from `OUT_DIR`, which is
/// `<root>[/<target>]/<profile dir>/build/<package>-<hash>/out`.
struct OuterLayout {
    target_root: PathBuf,
    /// The Cargo profile name (`dev` for the `debug` folder).
    profile: String,
    profile_dir: String,
    explicit_target: bool,
}

impl OuterLayout {
    fn from_out_dir(out_dir: &Path, target: &str) -> OuterLayout {
        let profile_path = out_dir
            .ancestors()
            .nth(3)
            .unwrap_or_else(|| panic!("unexpected OUT_DIR {}", out_dir.display()));
        let profile_dir = file_name(profile_path);
        let above = profile_path
            .parent()
            .unwrap_or_else(|| panic!("unexpected OUT_DIR {}", out_dir.display()));
        let explicit_target = file_name(above) == target;
        let target_root = if explicit_target {
            above
                .parent()
                .unwrap_or_else(|| panic!("unexpected OUT_DIR {}", out_dir.display()))
        } else {
            above
        };
        let profile = match profile_dir.as_str() {
            "debug" => "dev".to_string(),
            other => other.to_string(),
        };
        OuterLayout {
            target_root: target_root.to_path_buf(),
            profile,
            profile_dir,
            explicit_target,
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn env(name: &str) -> OsString {
    std::env::var_os(name).unwrap_or_else(|| panic!("cargo sets {name} for build scripts"))
}

/// Variables cargo sets for this build script about this package.
fn is_build_script_variable(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_CRATE_NAME",
    ];
    const PREFIXES: &[&str] = &["CARGO_FEATURE_", "CARGO_CFG_", "CARGO_PKG_", "DEP_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The wheel needs no symbols (the release profile keeps line tables for
/// profiling, the dev one full debug info): strip the copy when `strip` is
/// installed, else ship it as built.
fn strip_symbols(binary: &Path) {
    match Command::new("strip").arg(binary).status() {
        Ok(status) if status.success() => {}
        Ok(status) => println!(
            "cargo:warning=strip {} failed ({status}); the wheel's tkr-rs keeps its symbols",
            binary.display()
        ),
        Err(e) => println!("cargo:warning=no strip ({e}); the wheel's tkr-rs keeps its symbols"),
    }
}
