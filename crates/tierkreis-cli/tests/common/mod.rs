//! Shared helpers for the integration tests that drive the real `tkr` binary.
#![allow(dead_code)]

pub mod reference;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fixtures recorded from the reference.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures")
}

/// A `tkr` command with its checkpoint folder set to `tkr_dir`.
pub fn tkr(tkr_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tkr"));
    c.env("TKR_DIR", tkr_dir).env_remove("RUST_LOG");
    c
}

/// The UUID whose integer value is `n`, as text.
pub fn run_uuid(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

/// Arguments `-i port:file` for every file in a case's `inputs/`.
pub fn input_args(case: &Path) -> Vec<String> {
    let mut args = Vec::new();
    if let Ok(entries) = std::fs::read_dir(case.join("inputs")) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let port = f
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            args.push("-i".to_string());
            args.push(format!("{port}:{}", f.display()));
        }
    }
    args
}

/// Panics with the command's output if it did not exit with `code`.
pub fn expect_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `json` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, json: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, json).expect("write file");
    p
}
