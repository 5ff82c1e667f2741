//! The runner against a stand-in `tkr` script. Kept alone in its own test
//! binary: writing an executable and running it while other test threads
//! fork can fail with "text file busy".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tierkreis_bench::runner::TkrBench;
use tierkreis_bench::{BenchError, StorageMode, Workload};

fn fake_tkr(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
    let mut perm = std::fs::metadata(&p).expect("meta").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(&p, perm).expect("chmod");
    p
}

#[test]
fn runner_validates_and_measures_a_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Checks that its arguments name a readable graph and a checkpoint
    // folder, writes a file there and prints the right answer for n = 20.
    let tkr = fake_tkr(
        dir.path(),
        "good-tkr",
        r#"[ "$1" = run ] && [ -s "$3" ] && [ -d "$TKR_DIR" ] || exit 9
touch "$TKR_DIR/x"; echo '{"id":"00000000-0000-0000-0000-000000000001","name":null,"status":"finished","outputs":{"value":2470}}'"#,
    );
    let bench = TkrBench {
        tkr,
        workload: Workload::MapSquareSum,
        storage: StorageMode::File,
        repeat: 3,
        count_entries: true,
        worker: None,
        jobs: None,
        otlp_endpoint: None,
    };
    let stats = bench.run(20, dir.path()).expect("runs");
    assert_eq!(stats.walls.len(), 3);
    assert_eq!(stats.entries, Some(1));
    assert!(stats.max_rss_kib > 0);
    let row = stats.markdown_row();
    assert!(
        row.starts_with("| map_square_sum | file | 20 | 3 |"),
        "{row}"
    );

    let err = bench.run(21, dir.path()).expect_err("wrong answer for 21");
    assert!(matches!(err, BenchError::WrongResult { .. }), "{err}");

    let failing = TkrBench {
        tkr: fake_tkr(dir.path(), "bad-tkr", "echo broken >&2; exit 2"),
        ..bench
    };
    let err = failing.run(20, dir.path()).expect_err("fails");
    assert!(matches!(err, BenchError::ChildFailed { .. }), "{err}");
    assert!(err.to_string().contains("broken"), "{err}");
}
