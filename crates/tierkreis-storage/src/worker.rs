//! The worker storage protocol: the contract between the controller and the
//! workers it launches.
//!
//! The controller writes a worker call arguments file (`definition`, see
//! [`WorkerCallArgs`]) for each task, then starts a worker with the path of
//! that file. The worker, through a [`WorkerStorage`]:
//!
//! 1. reads the call arguments ([`WorkerStorage::read_call_args`]) to learn
//!    the function name and where its inputs and outputs live;
//! 2. reads each input ([`WorkerStorage::read_input`]);
//! 3. writes each output ([`WorkerStorage::write_output`]) to the path named
//!    in the call arguments;
//! 4. on success marks the task done ([`WorkerStorage::mark_done`] on
//!    `done_path`), or on failure writes the error text
//!    ([`WorkerStorage::write_error`] on `error_path`).
//!
//! Paths in the call arguments are relative to the Tierkreis directory
//! (`TKR_DIR`, by default `~/.tierkreis/checkpoints`); each method resolves
//! them with [`WorkerStorage::resolve`]. The controller polls for the done
//! marker, so outputs must be complete before `mark_done` is called: every
//! write here is atomic (the reader sees the old state or the whole value).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tierkreis_core::WorkerCallArgs;

use crate::atomic::{self, Base};
use crate::error::StorageError;
use crate::memory::MemoryFiles;

/// The name of the environment variable that holds the Tierkreis directory.
pub const TKR_DIR_KEY: &str = "TKR_DIR";

/// Storage as seen by a worker. See the module documentation for the order in
/// which a worker uses these methods.
pub trait WorkerStorage: Send + Sync {
    /// The storage location of `path`: relative paths (as written in the call
    /// arguments) are taken relative to the Tierkreis directory, absolute
    /// paths are unchanged.
    fn resolve(&self, path: &Path) -> PathBuf;

    /// Read and parse the worker call arguments at `path` (the path the
    /// worker was started with). The function name in them tells the worker
    /// which function to run.
    ///
    /// Errors: [`StorageError::NotFound`] if there is no such file,
    /// [`StorageError::BadCallArgs`] if it is not valid call arguments JSON.
    fn read_call_args(&self, path: &Path) -> Result<WorkerCallArgs, StorageError>;

    /// Read the bytes of one input (a path from the call arguments'
    /// `inputs`). Errors: [`StorageError::NotFound`] if the input was never
    /// written (e.g. an optional input without a value).
    fn read_input(&self, path: &Path) -> Result<Vec<u8>, StorageError>;

    /// Write the bytes of one output (a path from the call arguments'
    /// `outputs`, or a new file inside `output_dir` for functions with a
    /// dynamic number of outputs). The write is atomic and replaces any
    /// previous value.
    fn write_output(&self, path: &Path, value: &[u8]) -> Result<(), StorageError>;

    /// The paths matching the shell glob `pattern` (resolved like a path):
    /// `*`, `?` and `[..]` never match `/`, and do not match a leading `.`
    /// of a name. Used to collect the values of a map's elements. The order
    /// is unspecified; callers sort as they need.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, StorageError>;

    /// Mark the task finished successfully by creating the empty marker
    /// `path` (the call arguments' `done_path`). Call it only after every
    /// output is written.
    fn mark_done(&self, path: &Path) -> Result<(), StorageError>;

    /// Record that the task failed with `message`, at `path` (the call
    /// arguments' `error_path`, the node's `logs` file). The error marker
    /// `_error` itself is created by whoever launched the worker.
    fn write_error(&self, path: &Path, message: &str) -> Result<(), StorageError>;

    /// Record that the task failed with `message` after what `path` holds
    /// already (the node's log: `tkr`'s warm header, the task's output), on
    /// lines of its own: a line break before it unless the file ends with
    /// one, and one after it. What the worker prints next starts on a new
    /// line. The SDK uses this; [`WorkerStorage::write_error`] replaces the
    /// file, as the reference's does.
    fn append_error(&self, path: &Path, message: &str) -> Result<(), StorageError> {
        let mut text = match self.read_input(path) {
            Ok(before) => String::from_utf8_lossy(&before).into_owned(),
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e),
        };
        text.push_str(&error_lines(&text, message));
        self.write_error(path, &text)
    }
}

/// `message` as lines to add after `before`: a line break first unless
/// `before` is empty or ends with one, and a final line break.
pub(crate) fn error_lines(before: &str, message: &str) -> String {
    let mut text = String::with_capacity(message.len() + 2);
    if !before.is_empty() && !before.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(message);
    if !message.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Worker storage on the local file system, rooted at the Tierkreis
/// directory.
#[derive(Debug, Clone)]
pub struct FileWorkerStorage {
    tkr_dir: PathBuf,
}

impl FileWorkerStorage {
    /// Worker storage rooted at `tkr_dir`.
    pub fn new(tkr_dir: impl Into<PathBuf>) -> Self {
        Self {
            tkr_dir: tkr_dir.into(),
        }
    }

    /// Worker storage rooted at `$TKR_DIR` (made absolute against the current
    /// directory), or `~/.tierkreis/checkpoints` if it is unset or empty,
    /// like the reference.
    pub fn from_env() -> Self {
        Self::with_dir_from(std::env::var_os(TKR_DIR_KEY), home_dir())
    }

    /// The rule of [`FileWorkerStorage::from_env`], given the value of
    /// `TKR_DIR` and the home folder. Without a home folder, the default
    /// directory is relative: `.tierkreis/checkpoints`.
    pub fn with_dir_from(env_value: Option<OsString>, home: Option<PathBuf>) -> Self {
        let tkr_dir = match env_value.filter(|v| !v.is_empty()) {
            Some(value) => absolute(Path::new(&value)),
            None => home
                .unwrap_or_default()
                .join(".tierkreis")
                .join("checkpoints"),
        };
        Self { tkr_dir }
    }

    /// The Tierkreis directory relative paths are resolved against.
    pub fn tkr_dir(&self) -> &Path {
        &self.tkr_dir
    }
}

/// `$HOME`, the way Python's `Path.home()` finds it on POSIX.
pub(crate) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `path` made absolute like Python's `Path.resolve()`: symbolic links
/// resolved when the path exists, else made absolute against the current
/// directory; unchanged if even that fails.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

fn parse_call_args(path: &Path, bytes: &[u8]) -> Result<WorkerCallArgs, StorageError> {
    WorkerCallArgs::from_json(bytes).map_err(|source| StorageError::BadCallArgs {
        path: path.to_path_buf(),
        source,
    })
}

fn glob_options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    }
}

impl WorkerStorage for FileWorkerStorage {
    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.tkr_dir.join(path)
        }
    }

    fn read_call_args(&self, path: &Path) -> Result<WorkerCallArgs, StorageError> {
        let resolved = self.resolve(path);
        let bytes = atomic::read(Base::CWD, &resolved)?;
        parse_call_args(&resolved, &bytes)
    }

    fn read_input(&self, path: &Path) -> Result<Vec<u8>, StorageError> {
        atomic::read(Base::CWD, &self.resolve(path))
    }

    fn write_output(&self, path: &Path, value: &[u8]) -> Result<(), StorageError> {
        atomic::write_atomic(Base::CWD, &self.resolve(path), value)
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        let resolved = self.resolve(Path::new(pattern));
        let resolved = resolved.to_string_lossy();
        let paths =
            glob::glob_with(&resolved, glob_options()).map_err(|source| StorageError::BadGlob {
                pattern: pattern.to_string(),
                source,
            })?;
        // Like Python's glob, unreadable folders are skipped, not errors.
        Ok(paths
            .filter_map(|p| match p {
                Ok(p) => Some(p.to_string_lossy().into_owned()),
                Err(e) => {
                    tracing::debug!(error = %e, "glob skipped an unreadable path");
                    None
                }
            })
            .filter(|p| {
                !Path::new(p)
                    .file_name()
                    .is_some_and(|n| atomic::is_temp_name(&n.to_string_lossy()))
            })
            .collect())
    }

    fn mark_done(&self, path: &Path) -> Result<(), StorageError> {
        atomic::touch(Base::CWD, &self.resolve(path))
    }

    fn write_error(&self, path: &Path, message: &str) -> Result<(), StorageError> {
        atomic::write_atomic(Base::CWD, &self.resolve(path), message.as_bytes())
    }

    /// Appended in place (the log may be the worker's own stdout and stderr,
    /// which a rename would leave writing to a deleted file).
    fn append_error(&self, path: &Path, message: &str) -> Result<(), StorageError> {
        let path = self.resolve(path);
        let ends_with_newline = last_byte(&path).is_none_or(|b| b == b'\n');
        let before = if ends_with_newline { "" } else { "x" };
        atomic::append(Base::CWD, &path, error_lines(before, message).as_bytes())
    }
}

/// The last byte of the file at `path`; `None` when it is empty or missing.
fn last_byte(path: &Path) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::End(-1)).ok()?;
    let mut byte = [0u8; 1];
    file.read_exact(&mut byte).ok()?;
    Some(byte[0])
}

/// Worker storage over an in-memory file map shared with a
/// [`crate::MemoryControllerStorage`], for in-process workers.
///
/// Paths are used as given (relative to the controller's Tierkreis
/// directory, which for in-memory storage is the empty path), like the
/// reference. Unlike the reference, [`WorkerStorage::write_error`] stores the
/// message at the error path instead of raising, so the controller sees the
/// same files as with file storage.
#[derive(Debug, Clone)]
pub struct MemoryWorkerStorage {
    files: MemoryFiles,
}

impl MemoryWorkerStorage {
    /// Worker storage over `files` (a clone of the controller's handle).
    pub fn new(files: MemoryFiles) -> Self {
        Self { files }
    }

    /// The shared file map.
    pub fn files(&self) -> &MemoryFiles {
        &self.files
    }

    fn read_bytes(&self, path: &Path) -> Result<Arc<[u8]>, StorageError> {
        self.files.read(path).ok_or_else(|| StorageError::NotFound {
            path: path.to_path_buf(),
        })
    }
}

impl WorkerStorage for MemoryWorkerStorage {
    fn resolve(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }

    fn read_call_args(&self, path: &Path) -> Result<WorkerCallArgs, StorageError> {
        let bytes = self.read_bytes(path)?;
        parse_call_args(path, &bytes)
    }

    fn read_input(&self, path: &Path) -> Result<Vec<u8>, StorageError> {
        Ok(self.read_bytes(path)?.to_vec())
    }

    fn write_output(&self, path: &Path, value: &[u8]) -> Result<(), StorageError> {
        self.files.write(path, Arc::from(value));
        Ok(())
    }

    fn glob(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        let pat = glob::Pattern::new(pattern).map_err(|source| StorageError::BadGlob {
            pattern: pattern.to_string(),
            source,
        })?;
        Ok(self
            .files
            .glob(&pat)
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect())
    }

    fn mark_done(&self, path: &Path) -> Result<(), StorageError> {
        self.files.touch(path);
        Ok(())
    }

    fn write_error(&self, path: &Path, message: &str) -> Result<(), StorageError> {
        tracing::error!(path = %path.display(), "{message}");
        self.files.write(path, Arc::from(message.as_bytes()));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tkr_dir_from_env_value_is_made_absolute() {
        let s = FileWorkerStorage::with_dir_from(
            Some(OsString::from("rel/dir")),
            Some(PathBuf::from("/home/u")),
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(s.tkr_dir(), cwd.join("rel/dir"));
        let s = FileWorkerStorage::with_dir_from(Some(OsString::from("/abs")), None);
        assert_eq!(s.tkr_dir(), Path::new("/abs"));
    }

    #[test]
    fn tkr_dir_defaults_to_home_checkpoints() {
        let s = FileWorkerStorage::with_dir_from(None, Some(PathBuf::from("/home/u")));
        assert_eq!(s.tkr_dir(), Path::new("/home/u/.tierkreis/checkpoints"));
        // An empty TKR_DIR counts as unset, like the reference's truthiness test.
        let s = FileWorkerStorage::with_dir_from(Some(OsString::new()), Some(PathBuf::from("/h")));
        assert_eq!(s.tkr_dir(), Path::new("/h/.tierkreis/checkpoints"));
    }

    #[test]
    fn resolve_relative_and_absolute() {
        let s = FileWorkerStorage::new("/tkr");
        assert_eq!(
            s.resolve(Path::new("wf/-.N0/definition")),
            Path::new("/tkr/wf/-.N0/definition")
        );
        assert_eq!(
            s.resolve(Path::new("/elsewhere/x")),
            Path::new("/elsewhere/x")
        );
        let m = MemoryWorkerStorage::new(MemoryFiles::new());
        assert_eq!(m.resolve(Path::new("wf/x")), Path::new("wf/x"));
    }
}
