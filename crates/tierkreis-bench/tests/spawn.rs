//! The spawn floor and the runner's worker hand-over against stand-in
//! workers written as shell scripts. Kept in its own test binary: writing
//! an executable and running it while other test threads fork can fail
//! with "text file busy".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tierkreis_bench::runner::TkrBench;
use tierkreis_bench::spawn::{check_calls, prepare_calls, run_calls, spawn_floor};
use tierkreis_bench::{BenchError, StorageMode, Workload};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
    let mut perm = std::fs::metadata(&p).expect("meta").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(&p, perm).expect("chmod");
    p
}

/// Squares `x` beside the call-args file given as a path relative to
/// `TKR_DIR`, as the real worker would (via the call args' paths).
const SQUARE: &str = r#"d="$TKR_DIR/$(dirname "$1")"; x=$(cat "$d/x")
echo $((x * x)) > "$d/outputs/value" && touch "$d/_done""#;

#[test]
fn spawn_floor_runs_checks_and_reports_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = script(dir.path(), "square-worker", SQUARE);
    let tkr_dir = dir.path().join("tkr_dir");
    for jobs in [1, 2] {
        let r = spawn_floor(&good, &tkr_dir, 7, jobs).expect("floor runs");
        assert_eq!((r.n, r.jobs), (7, jobs));
        assert!(r.us_per_spawn() > 0.0);
    }

    // A worker writing the wrong answer is caught by the check.
    let wrong = script(
        dir.path(),
        "wrong-worker",
        r#"d="$TKR_DIR/$(dirname "$1")"; echo 5 > "$d/outputs/value"; touch "$d/_done""#,
    );
    let calls = prepare_calls(&tkr_dir, "wrong", 3).expect("prepared");
    run_calls(&wrong, &tkr_dir, &calls, 2).expect("exits 0");
    let err = check_calls(&wrong, &tkr_dir, "wrong", 3).expect_err("wrong squares");
    assert!(matches!(err, BenchError::WorkerWrongOutput { .. }), "{err}");

    // A failing worker stops the batch with its stderr.
    let failing = script(
        dir.path(),
        "failing-worker",
        "echo no-such-task >&2; exit 4",
    );
    let calls = prepare_calls(&tkr_dir, "fail", 4).expect("prepared");
    let err = run_calls(&failing, &tkr_dir, &calls, 2).expect_err("fails");
    assert!(matches!(err, BenchError::WorkerFailed { .. }), "{err}");
    assert!(err.to_string().contains("no-such-task"), "{err}");
}

#[test]
fn runner_puts_the_worker_on_path_under_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = script(dir.path(), "some-build-of-the-worker", "exit 0");
    // Answers only if `tkr-numerics-worker` is found on PATH and links to
    // the given binary, and --jobs is passed through.
    let tkr = script(
        dir.path(),
        "fake-tkr",
        &format!(
            r#"w=$(command -v tkr-numerics-worker) || exit 7
[ "$(readlink "$w")" = "{}" ] || exit 8
case "$*" in *"--jobs 2"*) ;; *) exit 9 ;; esac
echo '{{"id":"00000000-0000-0000-0000-000000000001","name":null,"status":"finished","outputs":{{"value":2470}}}}'"#,
            worker.display()
        ),
    );
    let bench = TkrBench {
        tkr,
        workload: Workload::MapWorker,
        storage: StorageMode::File,
        repeat: 1,
        count_entries: false,
        worker: Some(worker),
        jobs: Some(2),
        otlp_endpoint: None,
    };
    let stats = bench.run(20, dir.path()).expect("runs");
    assert!(stats
        .markdown_row()
        .starts_with("| map_worker | file | 20 | 1 |"));
}
