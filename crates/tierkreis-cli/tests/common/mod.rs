//! Shared helpers for the integration tests that drive the real `tkr` binary.
#![allow(dead_code)]

pub mod quantum;
pub mod reference;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The fixtures recorded from the reference.
pub fn fixtures() -> PathBuf {
    tierkreis_test_support::fixtures_dir()
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

/// The `outputs` of the one JSON object `tkr run|resume|restart --json -o`
/// prints (`{"id", "name", "status", "outputs"}`), checking it finished.
pub fn outputs_of_report(report: tierkreis_core::Value) -> tierkreis_core::Value {
    let tierkreis_core::Value::Map(mut fields) = report else {
        panic!("--json prints an object, got {report:?}")
    };
    assert_eq!(
        fields.get("status"),
        Some(&tierkreis_core::Value::from("finished")),
        "{fields:?}"
    );
    fields
        .shift_remove("outputs")
        .unwrap_or_else(|| panic!("no outputs in {fields:?}"))
}

/// The names of the files in `dir`, sorted; none when `dir` is missing.
pub fn sorted_file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The locations of workflow `wf` recorded as breakpoints hit
/// (`debug/breakpoints`), sorted.
pub fn recorded_breakpoints(wf: &Path) -> Vec<String> {
    sorted_file_names(&wf.join("debug/breakpoints"))
}

/// Writes `json` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, json: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, json).expect("write file");
    p
}

/// Runs `trials` with libtest-mimic as tests that need something from
/// outside (the reference environment, SLURM): when `missing` says it is
/// absent, each trial is reported ignored (skipped), or failed under CI
/// ([`tierkreis_test_support::in_ci`]), where `.ci/run` installs it. A
/// panicking trial fails.
pub fn run_trials_needing(missing: Option<String>, trials: Vec<(&'static str, fn())>) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    let trials = trials
        .into_iter()
        .map(|(name, body)| trial_needing(name, body, missing.clone()))
        .collect();
    libtest_mimic::run(&args, trials).exit()
}

/// One trial of [`run_trials_needing`]: `body`, or, when `missing` says what
/// it needs is absent, ignored (failed under CI).
pub fn trial_needing(
    name: &'static str,
    body: fn(),
    missing: Option<String>,
) -> libtest_mimic::Trial {
    use libtest_mimic::{Failed, Trial};
    let skip = missing.is_some() && !tierkreis_test_support::in_ci();
    Trial::test(name, move || {
        if let Some(why) = missing {
            return Err(Failed::from(why));
        }
        std::panic::catch_unwind(body).map_err(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".to_string());
            Failed::from(msg)
        })
    })
    .with_ignored_flag(skip)
}

/// `Ok` when a SLURM controller answers `sinfo`, else why not.
pub fn slurm_availability() -> Result<(), String> {
    let out = Command::new("timeout")
        .args(["10", "sinfo", "-h"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "SLURM does not answer (`sinfo -h`: {}; {}): run `bash ../shared/slurm/start.sh`",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "SLURM is not installed (`sinfo`: {e}): run `bash ../shared/slurm/start.sh`"
        )),
    }
}

/// `target/debug` (or wherever `tkr` was built).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_tkr"))
        .parent()
        .expect("tkr has a folder")
        .to_path_buf()
}

/// The Rust hello world worker next to `tkr`, built if missing.
pub fn hello_worker() -> PathBuf {
    let exe = bin_dir().join("tkr-hello-world-worker");
    if !exe.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "hello_world_worker"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build -p hello_world_worker failed");
    }
    assert!(exe.exists(), "{} is missing", exe.display());
    exe
}
