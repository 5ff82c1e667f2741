//! A full disk during a run, for real: the checkpoints live on a small tmpfs
//! mounted by the test, which the run's builtin outputs fill. The run must
//! stop with exit 3 and a message naming the path and the OS error, mark no
//! node failed, keep every finished task, and `tkr resume` must finish it
//! exactly once the tmpfs is remounted bigger. Mounting needs root
//! (CAP_SYS_ADMIN): where it is not permitted the trial is reported ignored,
//! and failed under CI.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use common::{expect_code, run_uuid, tkr};

fn main() {
    let trials: Vec<(&'static str, fn())> = vec![(
        "a_full_disk_stops_the_run_resumably_and_resume_finishes_it_once_space_is_back",
        a_full_disk_stops_the_run_resumably_and_resume_finishes_it_once_space_is_back,
    )];
    common::run_trials_needing(mount_unavailable(), trials);
}

/// A tmpfs mounted for one test, unmounted (lazily if busy) when dropped,
/// even when the test panics.
struct TmpfsMount {
    path: PathBuf,
}

impl TmpfsMount {
    /// Mounts a tmpfs of `size` (`mount` syntax, e.g. `2m`) at `path`.
    fn mount(path: &Path, size: &str) -> Result<TmpfsMount, String> {
        std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs at {} failed ({}): {}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(TmpfsMount {
            path: path.to_path_buf(),
        })
    }

    /// Gives the mounted tmpfs a new size, keeping its files.
    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Why a tmpfs cannot be mounted here (`None`: it can), found by mounting
/// and unmounting a tiny one.
fn mount_unavailable() -> Option<String> {
    let dir = match tempfile::Builder::new()
        .prefix("tkr-mount-probe-")
        .tempdir_in("/tmp")
    {
        Ok(d) => d,
        Err(e) => return Some(format!("no scratch folder for the mount probe: {e}")),
    };
    match TmpfsMount::mount(&dir.path().join("mnt"), "64k") {
        Ok(_mounted) => None,
        Err(e) => Some(format!("cannot mount a tmpfs (needs root): {e}")),
    }
}

/// Tasks in the graph, each writing one big output.
const TASKS: usize = 16;
/// Characters of the input string `s`; each output is `s` plus the task's
/// number, so about 16 outputs of 200 kB cannot fit in 2 MiB.
const INPUT_CHARS: usize = 200_000;

/// Input `s` (node 0) and, for each task i, a constant `"i"` (node 1 + 2i)
/// and `builtins.concat(s, "i")` (node 2 + 2i); the output node has `v<i>`.
fn concat_graph() -> String {
    let consumers: Vec<String> = (0..TASKS).map(|i| (2 + 2 * i).to_string()).collect();
    let mut nodes = vec![format!(
        r#"{{"type": "input", "name": "s", "inputs": {{}}, "outputs": {{"s": [{}]}}}}"#,
        consumers.join(", ")
    )];
    let output_node = 1 + 2 * TASKS;
    for i in 0..TASKS {
        nodes.push(format!(
            r#"{{"type": "const", "value": "{i}", "inputs": {{}}, "outputs": {{"value": [{}]}}}}"#,
            2 + 2 * i
        ));
        nodes.push(format!(
            r#"{{"type": "function", "function_name": "builtins.concat", "inputs": {{"lhs": [0, "s"], "rhs": [{}, "value"]}}, "outputs": {{"value": [{output_node}]}}}}"#,
            1 + 2 * i
        ));
    }
    let outputs: Vec<String> = (0..TASKS)
        .map(|i| format!(r#""v{i}": [{}, "value"]"#, 2 + 2 * i))
        .collect();
    nodes.push(format!(
        r#"{{"type": "output", "inputs": {{{}}}, "outputs": {{}}}}"#,
        outputs.join(", ")
    ));
    format!(
        r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": ["s"], "graph_output_idx": {output_node}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
        nodes.join(",\n")
    )
}

/// The exact bytes of task i's output (a JSON string).
fn expected_output(i: usize) -> Vec<u8> {
    format!("\"{}{i}\"", "a".repeat(INPUT_CHARS)).into_bytes()
}

/// Every `_error` file under `dir`.
fn error_markers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name() == "_error" {
                found.push(path);
            }
        }
    }
    found
}

/// A finished task's output file as it was: its inode and modification
/// time (a task run again writes a new file by rename).
#[derive(Debug, PartialEq, Eq)]
struct FileIdentity {
    inode: u64,
    modified: SystemTime,
}

fn identity(path: &Path) -> FileIdentity {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    FileIdentity {
        inode: meta.ino(),
        modified: meta.modified().expect("mtime"),
    }
}

fn a_full_disk_stops_the_run_resumably_and_resume_finishes_it_once_space_is_back() {
    let scratch = tempfile::Builder::new()
        .prefix("tkr-disk-full-")
        .tempdir_in("/tmp")
        .expect("scratch");
    let graph = scratch.path().join("graph.json");
    std::fs::write(&graph, concat_graph()).expect("graph");
    let input = scratch.path().join("s.json");
    std::fs::write(&input, format!("\"{}\"", "a".repeat(INPUT_CHARS))).expect("input");
    let mounted = TmpfsMount::mount(&scratch.path().join("checkpoints"), "2m")
        .unwrap_or_else(|e| panic!("{e}"));
    let tkr_dir = mounted.path.clone();
    let workflow = tkr_dir.join(run_uuid(1));

    let out = tkr(&tkr_dir)
        .args(["run", "--run-id", "1", "-i"])
        .arg(format!("s:{}", input.display()))
        .arg("-f")
        .arg(&graph)
        .output()
        .expect("tkr run");
    expect_code(&out, 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("No space left on device")
            && stderr.contains(&workflow.display().to_string())
            && stderr.contains("nothing marked failed")
            && stderr.contains("tkr resume"),
        "the message does not name the path, the OS error and what to do:\n{stderr}"
    );

    // Nothing is marked failed, and what finished is there, exactly.
    assert_eq!(error_markers(&workflow), Vec::<PathBuf>::new());
    assert!(!workflow.join("-/_done").exists());
    let mut finished = BTreeMap::new();
    for i in 0..TASKS {
        let node = workflow.join(format!("-.N{}", 2 + 2 * i));
        if node.join("_done").exists() {
            let output = node.join("outputs/value");
            assert_eq!(
                std::fs::read(&output).expect("finished output"),
                expected_output(i),
                "task {i}"
            );
            finished.insert(i, identity(&output));
        }
    }
    assert!(
        !finished.is_empty() && finished.len() < TASKS,
        "the disk should fill part way through the run; finished: {:?}",
        finished.keys()
    );
    let ls = tkr(&tkr_dir).args(["ls", "--json"]).output().expect("ls");
    expect_code(&ls, 0);
    let listing = tierkreis_core::json::parse(&ls.stdout).expect("ls --json");
    let runs = listing.as_list().expect("a list of runs");
    assert_eq!(runs.len(), 1, "{listing:?}");
    let run = runs[0].as_map().expect("a run object");
    assert_eq!(
        run.get("status").and_then(tierkreis_core::Value::as_str),
        Some("interrupted"),
        "{listing:?}"
    );
    assert_eq!(
        run.get("failures"),
        Some(&tierkreis_core::Value::int(0)),
        "{listing:?}"
    );

    // Space is back: resume finishes the run without running finished tasks.
    mounted.resize("64m");
    let out = tkr(&tkr_dir)
        .args(["resume", "--run-id", "1"])
        .output()
        .expect("tkr resume");
    expect_code(&out, 0);
    for (i, before) in &finished {
        let output = workflow.join(format!("-.N{}/outputs/value", 2 + 2 * i));
        assert_eq!(
            &identity(&output),
            before,
            "finished task {i} ran again on resume"
        );
    }
    for i in 0..TASKS {
        let output = workflow.join(format!("-/outputs/v{i}"));
        assert_eq!(
            std::fs::read(&output).unwrap_or_else(|e| panic!("{}: {e}", output.display())),
            expected_output(i),
            "workflow output v{i}"
        );
    }
    assert!(workflow.join("-/_done").exists());
    assert_eq!(error_markers(&workflow), Vec::<PathBuf>::new());
    drop(mounted);
}
