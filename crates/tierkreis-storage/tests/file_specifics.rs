//! Properties only the on-disk storage has (inodes, temporary files, OS
//! errors) and the in-memory storage's no-copy sharing.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tierkreis_core::Loc;
use tierkreis_storage::restart::delete_node_subtree;
use tierkreis_storage::{
    ControllerStorage, FileControllerStorage, FileWorkerStorage, MemoryControllerStorage,
    MemoryFiles, StorageError, WorkerStorage,
};
use uuid::Uuid;

fn loc(s: &str) -> Loc {
    s.parse().unwrap()
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if path.is_dir() {
            all_files(&path, out);
        }
    }
}

#[test]
fn link_outputs_shares_the_inode() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), None);
    s.write_output(&loc("-.N0"), "value", b"big value").unwrap();
    s.link_outputs(&loc("-.N1.N-1"), "x", &loc("-.N0"), "value")
        .unwrap();
    let a = fs::metadata(s.output_path(&loc("-.N0"), "value")).unwrap();
    let b = fs::metadata(s.output_path(&loc("-.N1.N-1"), "x")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.nlink(), 2);
}

/// The file storage keeps a copy of the values it wrote or linked to read
/// them back without a system call; whatever it is asked, it answers as the
/// disk does (a fresh storage on the same folder has no copies).
#[test]
fn values_read_back_are_what_the_disk_holds() {
    let dir = tempfile::tempdir().unwrap();
    let id = Uuid::new_v4();
    let s = FileControllerStorage::new(dir.path(), id, None);
    let disk = || FileControllerStorage::new(dir.path(), id, None);
    let (a, b, c) = (loc("-.N0"), loc("-.N1.N-1"), loc("-.N2"));
    let same = |l: &Loc, port: &str| {
        let (cached, on_disk) = (s.read_output(l, port), disk().read_output(l, port));
        match (cached, on_disk) {
            (Ok(x), Ok(y)) => assert_eq!(x, y, "{l} {port}"),
            (Err(x), Err(y)) => assert!(x.is_not_found() && y.is_not_found(), "{x:?} {y:?}"),
            (x, y) => panic!("{l} {port}: storage says {x:?}, disk says {y:?}"),
        }
    };
    s.write_output(&a, "value", b"1").unwrap();
    s.link_outputs(&b, "x", &a, "value").unwrap();
    same(&a, "value");
    same(&b, "x");
    // Written again (a re-run): the link keeps the old value, as on disk.
    s.write_output(&a, "value", b"22").unwrap();
    same(&a, "value");
    same(&b, "x");
    assert_eq!(s.read_output(&b, "x").unwrap(), b"1");
    // Replaced by another path's value, by a plain write, by a link from a
    // file written by someone else (a worker).
    s.link_outputs(&b, "x", &a, "value").unwrap();
    same(&b, "x");
    s.write(&s.output_path(&b, "x"), b"333").unwrap();
    same(&b, "x");
    FileWorkerStorage::new(dir.path())
        .write_output(&s.output_path(&c, "value"), b"worker")
        .unwrap();
    s.link_outputs(&b, "x", &c, "value").unwrap();
    same(&b, "x");
    assert_eq!(s.read_output(&b, "x").unwrap(), b"worker");
    // Deleted.
    delete_node_subtree(&s, &a).unwrap();
    same(&a, "value");
    same(&b, "x");
}

/// The file storage walks paths from the workflow folder once it has made
/// it; deleting the folder closes it, and the next write makes a new one.
#[test]
fn writes_after_the_workflow_folder_is_deleted_make_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), None);
    s.write_output(&loc("-.N0"), "value", b"1").unwrap();
    s.mark_node_finished(&loc("-.N0")).unwrap();
    s.clean_graph_files().unwrap();
    assert!(!s.workflow_dir().exists());
    s.write_output(&loc("-.N0"), "value", b"2").unwrap();
    s.link_outputs(&loc("-.N1"), "x", &loc("-.N0"), "value")
        .unwrap();
    s.mark_node_finished(&loc("-.N1")).unwrap();
    assert_eq!(fs::read(s.output_path(&loc("-.N1"), "x")).unwrap(), b"2");
    assert!(s.done_path(&loc("-.N1")).exists());
}

#[test]
fn memory_link_outputs_shares_the_bytes() {
    let s = MemoryControllerStorage::new(MemoryFiles::new(), Uuid::new_v4(), None);
    s.write_output(&loc("-.N0"), "value", b"big value").unwrap();
    s.link_outputs(&loc("-.N1.N-1"), "x", &loc("-.N0"), "value")
        .unwrap();
    let a = s
        .files()
        .read(&s.output_path(&loc("-.N0"), "value"))
        .unwrap();
    let b = s
        .files()
        .read(&s.output_path(&loc("-.N1.N-1"), "x"))
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn no_temporary_files_are_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), Some("wf".into()));
    let w = FileWorkerStorage::new(dir.path());
    s.write_workflow_metadata().unwrap();
    for i in 0..20 {
        let l = loc("-").m(i).n(3);
        let rel = s
            .write_worker_call_args(&l, "f", &[], &["value".to_string()])
            .unwrap();
        let args = w.read_call_args(&rel).unwrap();
        w.write_output(&args.outputs["value"], b"1").unwrap();
        w.write_output(&args.outputs["value"], b"2").unwrap();
        w.write_error(&args.error_path, "e").unwrap();
        w.mark_done(&args.done_path).unwrap();
        s.write_metadata(&l).unwrap();
        s.link_outputs(&loc("-").m(i), "value", &l, "value")
            .unwrap();
        s.mark_node_finished(&l).unwrap();
    }
    s.write_workflow_completion_time().unwrap();
    s.write_debug_data("loop", &loc("-.N1")).unwrap();
    let mut files = Vec::new();
    all_files(dir.path(), &mut files);
    assert!(files.len() > 100);
    let temps: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains(".tmp."))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[test]
fn readers_never_see_a_partial_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(FileControllerStorage::new(dir.path(), Uuid::new_v4(), None));
    let n = loc("-.N0");
    let size = 1 << 20;
    s.write_output(&n, "value", &vec![b'a'; size]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, stop, n) = (Arc::clone(&s), Arc::clone(&stop), n.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let v = s.read_output(&n, "value").unwrap();
                assert_eq!(v.len(), size);
                assert!(v.iter().all(|&b| b == v[0]));
                reads += 1;
            }
            reads
        })
    };
    for i in 0..50 {
        let byte = if i % 2 == 0 { b'b' } else { b'a' };
        s.write_output(&n, "value", &vec![byte; size]).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[test]
fn not_found_is_distinct_from_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), None);
    assert!(s
        .read_output(&loc("-.N0"), "value")
        .unwrap_err()
        .is_not_found());
    // A folder where a value should be is an I/O error, not "not found".
    fs::create_dir_all(s.output_path(&loc("-.N0"), "value")).unwrap();
    let err = s.read_output(&loc("-.N0"), "value").unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err:?}");

    let w = FileWorkerStorage::new(dir.path());
    assert!(w
        .read_input(Path::new("missing"))
        .unwrap_err()
        .is_not_found());
    let err = w.read_input(&s.outputs_dir(&loc("-.N0"))).unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err:?}");
}

#[test]
fn worker_resolves_relative_paths_against_tkr_dir() {
    let dir = tempfile::tempdir().unwrap();
    let w = FileWorkerStorage::with_dir_from(Some(dir.path().as_os_str().to_owned()), None);
    w.write_output(Path::new("wf/-.N0/outputs/value"), b"5")
        .unwrap();
    assert_eq!(
        fs::read(dir.path().join("wf/-.N0/outputs/value")).unwrap(),
        b"5"
    );
    let abs = dir.path().join("elsewhere");
    w.write_output(&abs, b"6").unwrap();
    assert_eq!(w.read_input(&abs).unwrap(), b"6");
    assert_eq!(
        w.read_input(Path::new("wf/-.N0/outputs/value")).unwrap(),
        b"5"
    );
}

#[test]
fn file_glob_is_a_shell_glob() {
    let dir = tempfile::tempdir().unwrap();
    let w = FileWorkerStorage::new(dir.path());
    for name in ["0", "1", "12", "a", ".hidden"] {
        w.write_output(&Path::new("wf/-.N4/outputs").join(name), b"x")
            .unwrap();
    }
    w.write_output(Path::new("wf/-.N4/outputs/sub/2"), b"x")
        .unwrap();
    let base = dir.path().join("wf/-.N4/outputs");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let names = |v: &[&str]| {
        v.iter()
            .map(|n| base.join(n).to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sorted(w.glob("wf/-.N4/outputs/?").unwrap()),
        names(&["0", "1", "a"])
    );
    assert_eq!(
        sorted(w.glob("wf/-.N4/outputs/[0-9]*").unwrap()),
        names(&["0", "1", "12"])
    );
    // `*` matches neither hidden names nor across folders.
    assert_eq!(
        sorted(w.glob("wf/-.N4/outputs/*").unwrap()),
        names(&["0", "1", "12", "a", "sub"])
    );
    assert_eq!(w.glob("wf/-.N9/*").unwrap(), Vec::<String>::new());
    let err = w.glob("wf/[").unwrap_err();
    assert!(matches!(err, StorageError::BadGlob { .. }), "{err:?}");
}

#[test]
fn memory_glob_matches_like_the_file_glob() {
    let files = MemoryFiles::new();
    let w = tierkreis_storage::MemoryWorkerStorage::new(files);
    for name in ["0", "1", "12", "a", ".hidden", "sub/2"] {
        w.write_output(&Path::new("wf/-.N4/outputs").join(name), b"x")
            .unwrap();
    }
    let mut found = w.glob("wf/-.N4/outputs/?").unwrap();
    found.sort();
    assert_eq!(
        found,
        vec![
            "wf/-.N4/outputs/0",
            "wf/-.N4/outputs/1",
            "wf/-.N4/outputs/a"
        ]
    );
    let err = w.glob("wf/[").unwrap_err();
    assert!(matches!(err, StorageError::BadGlob { .. }), "{err:?}");
}

#[test]
fn times_are_file_modification_times() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileControllerStorage::new(dir.path(), Uuid::new_v4(), None);
    let n = loc("-.N0");
    s.write_node_def(
        &n,
        &tierkreis_core::NodeDef::new(tierkreis_core::graph::NodeKind::Output, Default::default()),
    )
    .unwrap();
    s.mark_node_finished(&n).unwrap();
    let started = s.started_time(&n).unwrap().unwrap();
    let finished = s.finished_time(&n).unwrap().unwrap();
    assert_eq!(
        started,
        fs::metadata(s.nodedef_path(&n))
            .unwrap()
            .modified()
            .unwrap()
    );
    assert_eq!(
        finished,
        fs::metadata(s.done_path(&n)).unwrap().modified().unwrap()
    );
    assert!(finished >= started);
}
