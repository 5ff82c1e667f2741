//! One controller per workflow: an exclusive lock on a file in the workflow
//! folder, held for the life of the controller and released by the kernel
//! when the process dies (even by SIGKILL), so a crash never leaves a stale lock.
//! The file holds the controller's process id, so that `tkr stop` can ask it
//! to stop.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The lock file's name inside the workflow folder (the reference ignores it).
pub const LOCK_FILE: &str = ".controller.lock";

/// Why the workflow lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another controller is running workflow {} (lock {} is held); wait for it or stop it first (`tkr stop`)", dir.display(), path.display())]
    Held { dir: PathBuf, path: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while a controller runs a workflow; dropping it releases the lock.
#[derive(Debug)]
pub struct WorkflowLock {
    _file: File,
}

impl WorkflowLock {
    /// Takes the lock of the workflow in `workflow_dir` (created if needed),
    /// failing at once if another process holds it.
    pub fn acquire(workflow_dir: &Path) -> Result<WorkflowLock, LockError> {
        let path = workflow_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(workflow_dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                // The holder's process id, for `tkr stop`; written only
                // while the lock is held, so it is never another's.
                file.set_len(0).map_err(io)?;
                (&file)
                    .write_all(format!("{}\n", std::process::id()).as_bytes())
                    .map_err(io)?;
                Ok(WorkflowLock { _file: file })
            }
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                dir: workflow_dir.to_path_buf(),
                path,
            }),
            Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
    }
}

/// Whether a controller runs a workflow, from its lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// There is no lock file: no controller of ours ever ran the workflow
    /// (the Python reference does not lock).
    Absent,
    /// The lock file exists and nobody holds it.
    Free,
    /// A live process holds the lock: its process id when known.
    Held { pid: Option<u32> },
}

/// Whether a live controller holds the lock of the workflow in
/// `workflow_dir`, and which process it is.
///
/// On Linux this reads `/proc/locks` and never touches the lock itself:
/// trying the lock, even shared, could make a controller starting at that
/// instant believe another one runs. Elsewhere it falls back to trying a
/// shared lock, released at once, and to the process id in the file.
pub fn lock_state(workflow_dir: &Path) -> LockState {
    let path = workflow_dir.join(LOCK_FILE);
    let Ok(meta) = std::fs::metadata(&path) else {
        return LockState::Absent;
    };
    match std::fs::read_to_string("/proc/locks") {
        Ok(locks) => match flock_holder(&locks, meta.ino()) {
            Some(pid) => LockState::Held { pid },
            None => LockState::Free,
        },
        Err(_) => try_lock_state(&path),
    }
}

/// The holder of the `flock` on inode `ino` in the text of `/proc/locks`
/// (`Some(None)` when the line gives no usable process id). Only inodes are
/// compared: overlay file systems report the underlying device there, not
/// the one `stat` gives.
fn flock_holder(locks: &str, ino: u64) -> Option<Option<u32>> {
    let ino = ino.to_string();
    locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10027875 0 EOF"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let same = fields.get(1) == Some(&"FLOCK")
            && fields
                .get(5)
                .and_then(|id| id.rsplit(':').next())
                .is_some_and(|i| i == ino);
        same.then(|| fields.get(4).and_then(|p| p.parse().ok()))
    })
}

fn try_lock_state(path: &Path) -> LockState {
    let Ok(file) = File::open(path) else {
        return LockState::Absent;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            LockState::Free
        }
        Err(TryLockError::WouldBlock) => LockState::Held {
            pid: std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse().ok()),
        },
        Err(TryLockError::Error(_)) => LockState::Free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wf = dir.path().join("wf");
        let first = WorkflowLock::acquire(&wf).expect("first lock");
        let err = WorkflowLock::acquire(&wf).expect_err("second lock refused");
        assert!(matches!(err, LockError::Held { .. }), "{err}");
        assert!(err.to_string().contains("another controller"), "{err}");
        drop(first);
        WorkflowLock::acquire(&wf).expect("lock free again");
    }

    #[test]
    fn the_state_names_the_holder_and_follows_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wf = dir.path().join("wf");
        assert_eq!(lock_state(&wf), LockState::Absent);
        let lock = WorkflowLock::acquire(&wf).expect("lock");
        let me = Some(std::process::id());
        assert_eq!(lock_state(&wf), LockState::Held { pid: me });
        assert_eq!(
            try_lock_state(&wf.join(LOCK_FILE)),
            LockState::Held { pid: me }
        );
        let text = std::fs::read_to_string(wf.join(LOCK_FILE)).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(lock);
        assert_eq!(lock_state(&wf), LockState::Free);
        assert_eq!(try_lock_state(&wf.join(LOCK_FILE)), LockState::Free);
    }

    #[test]
    fn proc_locks_lines_are_matched_by_inode() {
        let locks = "1: POSIX  ADVISORY  WRITE 11 fe:00:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 1234 00:2b:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 99 fe:00:770 0 EOF\n";
        assert_eq!(flock_holder(locks, 77), Some(Some(1234)));
        assert_eq!(flock_holder(locks, 770), Some(Some(99)));
        assert_eq!(flock_holder(locks, 7), None);
        assert_eq!(
            flock_holder("1: FLOCK ADVISORY WRITE x 0:0:5 0 EOF", 5),
            Some(None)
        );
    }
}
