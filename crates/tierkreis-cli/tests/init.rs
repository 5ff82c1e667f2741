//! `tkr init rust-worker` makes a project that `tkr run` runs straight away: its Rust
//! worker is built with cargo by the registry's `main.sh` on first use.

mod common;

use common::*;
use tierkreis_core::Value;

#[test]
fn an_initialised_project_runs_with_its_rust_worker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("hello");
    let out = tkr(tmp.path())
        .args(["init", "rust-worker"])
        .arg(&project)
        .output()
        .expect("init");
    expect_code(&out, 0);
    let out = tkr(&tmp.path().join("ck"))
        .current_dir(&project)
        // Share compiled dependencies with this workspace's build.
        .env(
            "CARGO_TARGET_DIR",
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/init-project"),
        )
        .args([
            "run",
            "-f",
            "graph.json",
            "-i",
            "inputs.json",
            "-o",
            "--json",
            "-q",
        ])
        .output()
        .expect("run");
    expect_code(&out, 0);
    let got = outputs_of_report(tierkreis_core::json::parse(&out.stdout).expect("json"));
    let want: Value =
        tierkreis_core::json::parse(br#"{"greeting": "Hello, Tierkreis!", "value": 26}"#)
            .expect("json");
    assert_eq!(got, want);

    // A second init into the same (now full) folder is refused.
    let out = tkr(tmp.path())
        .args(["init", "rust-worker"])
        .arg(&project)
        .output()
        .expect("init");
    expect_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}
