//! A folder bound into the reference root, deleted and made again at the
//! same path (CI clones afresh where its last clone was), must be seen
//! live inside once [`unmount_stale_reference_bind`] has run: CI once
//! failed because `run.sh` kept the old, deleted folder's mount.

use std::path::Path;
use std::process::Command;

use libtest_mimic::Arguments;
use tierkreis_test_support::{reference_trial, unmount_stale_reference_bind, workspace_root};

fn main() {
    let trials = vec![reference_trial(
        "a_folder_made_again_where_a_bound_one_was_is_seen_live_inside",
        a_folder_made_again_where_a_bound_one_was_is_seen_live_inside,
    )];
    libtest_mimic::run(&Arguments::from_args(), trials).exit()
}

/// `cat FILE` inside the reference root with `dir` bound; its stdout.
fn cat_inside(run_sh: &Path, dir: &Path, file: &str) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(run_sh)
        .arg("--bind")
        .arg(dir)
        .args(["--", "cat"])
        .arg(dir.join(file))
        .output()
        .map_err(|e| format!("could not start run.sh: {e}"))?;
    if !out.stderr.is_empty() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn a_folder_made_again_where_a_bound_one_was_is_seen_live_inside(
    run_sh: &Path,
) -> Result<(), String> {
    // Outside /tmp, which run.sh shows whole: only a bound folder can go stale.
    let parent = tempfile::tempdir_in(workspace_root().join("target"))
        .map_err(|e| format!("scratch folder in target/: {e}"))?;
    let parent_path = parent.path().canonicalize().map_err(|e| e.to_string())?;
    let dir = parent_path.join("bound");
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("which"), "first").map_err(|e| e.to_string())?;
    let first = cat_inside(run_sh, &dir, "which")?;
    if first != "first" {
        return Err(format!("the bound folder is not seen inside: {first:?}"));
    }

    std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("which"), "second").map_err(|e| e.to_string())?;
    let stale = cat_inside(run_sh, &dir, "which")?;
    if !stale.is_empty() {
        // run.sh has learnt to rebind by itself: the repair is a no-op then.
        eprintln!("run.sh already shows the new folder: {stale:?}");
    }

    unmount_stale_reference_bind(&dir)?;
    let live = cat_inside(run_sh, &dir, "which")?;
    let inside = tierkreis_test_support::reference_root()
        .join(dir.strip_prefix("/").map_err(|e| e.to_string())?);
    // Leave no mount behind in the reference root.
    let _ = Command::new("umount").arg("-l").arg(&inside).status();
    if live == "second" {
        Ok(())
    } else {
        Err(format!(
            "after the repair the folder made again is still not seen inside: {live:?}"
        ))
    }
}
