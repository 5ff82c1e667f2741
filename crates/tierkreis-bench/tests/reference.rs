//! Runs the Python reference controller through `ReferenceBench` on a tiny
//! loop. Reported as ignored (skipped) when the reference environment is not
//! installed, and failed when it is missing under CI, where `.ci/run`
//! installs it.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use tierkreis_bench::reference::ReferenceBench;
use tierkreis_bench::{StorageMode, Workload};

fn run_sh() -> PathBuf {
    tierkreis_test_support::reference_run_sh()
}

fn available() -> bool {
    tierkreis_test_support::reference_availability().is_ok()
}

fn reference_runs_a_small_loop_in_memory() -> Result<(), Failed> {
    if !available() {
        return Err(
            "the reference environment is missing under CI (run ../shared/reference/setup.sh)"
                .into(),
        );
    }
    let bench = ReferenceBench {
        run_sh: run_sh(),
        python: "/opt/tk/bin/python".to_owned(),
        workload: Workload::LoopCount,
        storage: StorageMode::Memory,
        worker: None,
    };
    let run = bench
        .run(3, Path::new("/tmp"))
        .map_err(|e| format!("reference run failed: {e}"))?;
    if run.n != 3 || run.wall < run.run_graph || run.max_rss_kib == 0 {
        return Err(format!("unexpected measurement: {run:?}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let skip = !available() && !tierkreis_test_support::in_ci();
    let trials = vec![Trial::test(
        "reference_runs_a_small_loop_in_memory",
        reference_runs_a_small_loop_in_memory,
    )
    .with_ignored_flag(skip)];
    libtest_mimic::run(&args, trials).exit();
}
