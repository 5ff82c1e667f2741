//! One controller per workflow: an exclusive lock on a file in the workflow
//! folder, held for the life of the controller and released by the kernel
//! when the process dies (even by SIGKILL), so a crash never leaves a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file's name inside the workflow folder (the reference ignores it).
pub const LOCK_FILE: &str = ".controller.lock";

/// Why the workflow lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another controller is running workflow {} (lock {} is held); wait for it or stop it first", dir.display(), path.display())]
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
            Ok(()) => Ok(WorkflowLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                dir: workflow_dir.to_path_buf(),
                path,
            }),
            Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
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
}
