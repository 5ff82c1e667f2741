//! Runs Python scripts in the reference environment (Python `tierkreis`
//! 2.1.1 in the chroot made by `shared/reference/setup.sh`) for the tests
//! that check generated stubs and workers against the real Python side.
//! Shared by this crate's and the example workers' tests (`#[path]`).
//!
//! Availability: without the environment the tests are reported as ignored
//! (skipped), unless `CI=true`, where its absence is a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Present once the reference environment is installed: `.ready` in
/// `$TKR_REF` (as `run.sh` reads it), by default `/opt/tierkreis-ref`.
pub fn ready_marker() -> PathBuf {
    let root = std::env::var_os("TKR_REF")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/opt/tierkreis-ref".into());
    PathBuf::from(root).join(".ready")
}

/// How the reference tests should behave here.
#[derive(Debug)]
pub enum Availability {
    Ready {
        run_sh: PathBuf,
    },
    /// Skip: not installed and not in CI.
    Skip(String),
    /// Fail: not installed in CI.
    Fail(String),
}

/// `run.sh` of the reference environment: `shared/` beside the repository
/// (as CI lays it out), else `/work/shared`.
fn run_sh() -> Option<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/run.sh");
    [beside, PathBuf::from("/work/shared/reference/run.sh")]
        .into_iter()
        .find(|p| p.exists())
}

pub fn availability() -> Availability {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let marker = ready_marker();
    let why = match (marker.exists(), run_sh()) {
        (true, Some(run_sh)) => return Availability::Ready { run_sh },
        (false, _) => format!(
            "the reference environment is missing ({} does not exist)",
            marker.display()
        ),
        (true, None) => "shared/reference/run.sh is missing".to_string(),
    };
    if in_ci {
        Availability::Fail(format!("{why}, but CI=true requires it"))
    } else {
        Availability::Skip(why)
    }
}

/// A scratch folder under `/tmp`, the only place both sides see.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tkr-worker-ref-")
        .tempdir_in("/tmp")
        .expect("scratch folder in /tmp")
}

/// Run `/opt/tk/bin/python script args...` in the reference environment,
/// in `dir` (under `/tmp`). Returns stdout, or an error with both streams.
pub fn python(run_sh: &Path, dir: &Path, script: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(run_sh)
        .arg("--")
        .arg("/opt/tk/bin/python")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .env_remove("TKR_DIR")
        .output()
        .map_err(|e| format!("could not start {}: {e}", run_sh.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "python exited with {}\n--- stdout\n{stdout}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A libtest-mimic trial that needs the reference environment: ignored
/// (skipped) without it, failed in CI without it.
pub fn trial(
    name: &str,
    f: impl FnOnce(&Path) -> Result<(), String> + Send + 'static,
) -> libtest_mimic::Trial {
    match availability() {
        Availability::Ready { run_sh } => {
            libtest_mimic::Trial::test(name, move || f(&run_sh).map_err(Into::into))
        }
        Availability::Skip(why) => {
            eprintln!("skipping {name}: {why}");
            libtest_mimic::Trial::test(name, || Ok(())).with_ignored_flag(true)
        }
        Availability::Fail(why) => libtest_mimic::Trial::test(name, move || Err(why.into())),
    }
}
