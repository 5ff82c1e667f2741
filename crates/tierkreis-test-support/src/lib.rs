//! The one place the workspace's tests decide "are we in CI?" and "where is
//! the Python reference environment?", and how a test needing something
//! from outside (the reference, SLURM, Chromium) reports itself when that is
//! missing: ignored (skipped) on a developer's machine, failed under CI,
//! where `.ci/run` installs everything.
//!
//! A dev-dependency only; nothing here is used by a shipped binary.

pub mod fake_batch;
pub mod graphs;
pub mod reference_worker;
pub mod waiting;
pub mod worker_call;

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Failed, Trial};

/// Whether the tests run under CI: `CI` is set to anything but empty, `0`
/// or `false` (any case). `.ci/run` runs with `CI=true`.
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(value: Option<&str>) -> bool {
    match value {
        None => false,
        Some(v) => {
            let v = v.trim();
            !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
        }
    }
}

/// The repository's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixtures recorded from the reference (`testdata/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("testdata/fixtures")
}

/// The shared folder of fixtures and environments: `$TKR_SHARED` when set,
/// else `../shared` beside the repository (as CI lays it out). No fixed
/// machine path counts: a clone without either has no shared folder, and
/// the tests needing it say so.
pub fn shared_dir() -> PathBuf {
    shared_dir_from(std::env::var_os("TKR_SHARED").as_deref(), &workspace_root())
}

/// [`shared_dir`] for the variable's value `variable` and the repository
/// root `root`.
fn shared_dir_from(variable: Option<&std::ffi::OsStr>, root: &Path) -> PathBuf {
    match variable.filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => root.join("../shared"),
    }
}

/// `run.sh` of the reference environment: runs a command inside it.
pub fn reference_run_sh() -> PathBuf {
    shared_dir().join("reference/run.sh")
}

/// The reference environment's root: `$TKR_REF` (as `run.sh` reads it),
/// else `/opt/tierkreis-ref`.
pub fn reference_root() -> PathBuf {
    std::env::var_os("TKR_REF")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/opt/tierkreis-ref"), PathBuf::from)
}

/// Makes `dir` ready to be bound into the reference root by `run.sh --bind`.
///
/// `run.sh` mounts a bound folder once and keeps the mount. When the folder
/// is deleted and made again at the same path (a fresh clone where the last
/// one was, as CI does), that mount still shows the deleted folder, empty,
/// and `run.sh` sees a mount already there: the command inside finds
/// nothing. Such a stale mount (inside the root, on another inode than
/// `dir`) is unmounted here, so `run.sh` binds the live folder. One caller
/// at a time in this process; a live or missing mount is left as it is.
pub fn unmount_stale_reference_bind(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let inside = reference_root().join(dir.strip_prefix("/").unwrap_or(dir));
    let (Ok(host), Ok(bound)) = (std::fs::metadata(dir), std::fs::metadata(&inside)) else {
        return Ok(());
    };
    if (host.dev(), host.ino()) == (bound.dev(), bound.ino()) {
        return Ok(());
    }
    let is_mount = Command::new("mountpoint")
        .arg("-q")
        .arg(&inside)
        .status()
        .map_err(|e| format!("could not run mountpoint on {}: {e}", inside.display()))?
        .success();
    if !is_mount {
        return Ok(());
    }
    let out = Command::new("umount")
        .arg("-l")
        .arg(&inside)
        .output()
        .map_err(|e| format!("could not run umount on {}: {e}", inside.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the reference root's mount {} shows a deleted folder, not {}, and umount failed: {}",
            inside.display(),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `Ok(run.sh)` when the reference environment can be used (its `.ready`
/// marker and `run.sh` exist), else why not.
pub fn reference_availability() -> Result<PathBuf, String> {
    let ready = reference_root().join(".ready");
    if !ready.exists() {
        return Err(format!(
            "the reference environment is missing ({} does not exist): run `bash ../shared/reference/setup.sh`",
            ready.display()
        ));
    }
    let run_sh = reference_run_sh();
    if !run_sh.exists() {
        return Err(format!(
            "the reference environment's runner {} does not exist",
            run_sh.display()
        ));
    }
    Ok(run_sh)
}

/// `trials` as they should run here: when `missing` says what they need is
/// absent, each is ignored (skipped), or under CI failed with that reason.
pub fn trials_needing(missing: Option<String>, trials: Vec<Trial>) -> Vec<Trial> {
    let Some(why) = missing else {
        return trials;
    };
    let in_ci = in_ci();
    trials
        .into_iter()
        .map(|trial| {
            let name = trial.name().to_owned();
            if in_ci {
                let why = format!("{why} (CI requires it)");
                Trial::test(name, move || Err(Failed::from(why)))
            } else {
                eprintln!("skipping {name}: {why}");
                Trial::test(name, || Ok(())).with_ignored_flag(true)
            }
        })
        .collect()
}

/// A scratch folder under `/tmp`, the only place both our side and the
/// reference environment see.
pub fn reference_scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("scratch folder in /tmp")
}

/// Runs `/opt/tk/bin/python script args...` in the reference environment
/// (through `run_sh`), in `dir` (under `/tmp`). Returns stdout, or an error
/// with both streams.
pub fn reference_python(
    run_sh: &Path,
    dir: &Path,
    script: &Path,
    args: &[&str],
) -> Result<String, String> {
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

/// A trial needing the reference environment: `f` gets `run.sh`; skipped
/// or failed as [`trials_needing`] says when the environment is missing.
pub fn reference_trial(
    name: &str,
    f: impl FnOnce(&Path) -> Result<(), String> + Send + 'static,
) -> Trial {
    match reference_availability() {
        Ok(run_sh) => Trial::test(name, move || f(&run_sh).map_err(Into::into)),
        Err(why) => trials_needing(Some(why), vec![Trial::test(name, || Ok(()))])
            .pop()
            .expect("one trial"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_folder_is_the_variable_or_beside_the_clone_never_a_fixed_path() {
        let clone = tempfile::tempdir().expect("tempdir");
        let root = clone.path().join("repo");
        // No `../shared` beside this clone: the answer stays beside it.
        assert_eq!(shared_dir_from(None, &root), root.join("../shared"));
        assert_eq!(
            shared_dir_from(Some(std::ffi::OsStr::new("")), &root),
            root.join("../shared")
        );
        assert_eq!(
            shared_dir_from(Some(std::ffi::OsStr::new("/elsewhere/shared")), &root),
            PathBuf::from("/elsewhere/shared")
        );
    }

    #[test]
    fn ci_means_set_and_not_empty_zero_or_false() {
        for (value, ci) in [
            (None, false),
            (Some(""), false),
            (Some("0"), false),
            (Some("false"), false),
            (Some("FALSE"), false),
            (Some("true"), true),
            (Some("1"), true),
            (Some("yes"), true),
        ] {
            assert_eq!(ci_value_means_ci(value), ci, "{value:?}");
        }
    }
}
