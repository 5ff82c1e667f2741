//! `tkr init rust-worker` makes a project that `tkr run` runs straight away: its Rust
//! worker is built with cargo by the registry's `main.sh` on first use, with the
//! SDK the project carries in `vendor/` (nothing points back to this clone).

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
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        said.contains("The first run compiles the worker with cargo"),
        "init does not say the first run compiles:\n{said}"
    );
    // Moved after it was made: nothing in it may depend on where it was made,
    // nor on where this clone is.
    let moved = tmp.path().join("elsewhere").join("moved-hello");
    std::fs::create_dir_all(moved.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&project, &moved).expect("move the project");
    let project = moved;
    assert!(project.join("vendor/tierkreis-worker/src/lib.rs").is_file());
    let clone = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the clone");
    let clone_path = clone.to_string_lossy().into_owned();
    let mut checked = 0;
    for file in files_under(&project) {
        let bytes = std::fs::read(&file).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&clone_path),
            "{} names the clone {clone_path}",
            file.display()
        );
        checked += 1;
    }
    assert!(checked > 10, "only {checked} files generated");
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
    let workflow_log = std::fs::read_to_string(
        tmp.path()
            .join("ck")
            .join(report_id(&out.stdout))
            .join("logs"),
    )
    .expect("the workflow log");
    assert!(
        workflow_log.contains("tkr: compiling worker"),
        "the first run does not say it compiles:\n{workflow_log}"
    );

    // A second init into the same (now full) folder is refused.
    let out = tkr(tmp.path())
        .args(["init", "rust-worker"])
        .arg(&project)
        .output()
        .expect("init");
    expect_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The `id` of the one JSON object `tkr run --json` printed.
fn report_id(stdout: &[u8]) -> String {
    match tierkreis_core::json::parse(stdout).expect("json") {
        Value::Map(fields) => match fields.get("id") {
            Some(Value::Str(id)) => id.clone(),
            other => panic!("no id: {other:?}"),
        },
        other => panic!("not an object: {other:?}"),
    }
}
