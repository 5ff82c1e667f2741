//! [`FileControllerStorage`]: a workflow's checkpoint folder on the local
//! file system (durable writes through `atomic`, a bounded copy of the
//! values it wrote in `value_cache`).

use std::borrow::Cow;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use tierkreis_core::Loc;
use uuid::Uuid;

use super::ControllerStorage;
use crate::atomic::{self, Base};
use crate::error::StorageError;
use crate::value_cache::ValueCache;

/// The checkpoint folder of one workflow on the local file system.
#[derive(Debug)]
pub struct FileControllerStorage {
    tkr_dir: PathBuf,
    workflow_id: Uuid,
    name: Option<String>,
    workflow_dir: PathBuf,
    /// Folders (and scope `_metadata` files) this storage made or found, so
    /// that a write into a new node folder costs one `mkdir` instead of a
    /// failed `open`, a `mkdir` and a retry. Cleared on every delete. Keyed
    /// by the path's bytes below the workflow folder ([`Self::rel_key`]):
    /// hashing a `Path` walks its components, which cost more than the rest
    /// of a lookup, and a map of 100,000 elements makes a million folders.
    known_dirs: std::sync::Mutex<rustc_hash::FxHashSet<Box<[u8]>>>,
    /// The outputs this storage wrote or linked, so reading them back (a
    /// builtin's inputs, the values a map folds) needs no system call.
    /// Only this storage writes them while it holds the workflow: workers
    /// write their own outputs, which are never in here. Cleared on every
    /// delete.
    values: std::sync::Mutex<ValueCache>,
    /// The workflow folder, open once this storage has made or found it:
    /// paths below it are walked from there instead of from `/` (tens of
    /// calls a node). Closed on every delete, reopened by the next write.
    base: std::sync::RwLock<Option<OwnedFd>>,
}

/// The most bytes of values (keys and bookkeeping included) a
/// [`FileControllerStorage`] keeps in memory to read back.
const VALUE_CACHE_BUDGET: usize = 64 << 20;

impl Clone for FileControllerStorage {
    fn clone(&self) -> Self {
        Self::new(self.tkr_dir.clone(), self.workflow_id, self.name.clone())
    }
}

impl FileControllerStorage {
    /// Storage for workflow `workflow_id` under `tkr_dir`. Nothing is
    /// created until something is written.
    pub fn new(tkr_dir: impl Into<PathBuf>, workflow_id: Uuid, name: Option<String>) -> Self {
        let tkr_dir = tkr_dir.into();
        let workflow_dir = tkr_dir.join(workflow_id.to_string());
        Self {
            tkr_dir,
            workflow_id,
            name,
            workflow_dir,
            known_dirs: Default::default(),
            values: std::sync::Mutex::new(ValueCache::new(VALUE_CACHE_BUDGET)),
            base: std::sync::RwLock::new(None),
        }
    }

    fn values(&self) -> std::sync::MutexGuard<'_, ValueCache> {
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key of `path` in the sets of known folders and values: its bytes
    /// below the workflow folder, which never start with `/`. A path
    /// elsewhere (the workflow folder itself, its parents) is keyed by its
    /// whole bytes after a NUL byte, which no path holds, so the two kinds
    /// never meet (with a relative `tkr_dir`, a parent named `debug` would
    /// otherwise pass for the workflow's `debug` folder).
    fn rel_key<'p>(&self, path: &'p Path) -> Cow<'p, [u8]> {
        let bytes = path.as_os_str().as_bytes();
        let dir = self.workflow_dir.as_os_str().as_bytes();
        match bytes.strip_prefix(dir) {
            Some([b'/', rest @ ..]) if !rest.is_empty() => Cow::Borrowed(rest),
            _ => Cow::Owned([&[0u8][..], bytes].concat()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, rustc_hash::FxHashSet<Box<[u8]>>> {
        self.known_dirs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes sure the folder `dir` exists, creating missing ancestors
    /// top-down, one `mkdir` each, and remembers it.
    fn ensure_dir(&self, dir: &Path) -> Result<(), StorageError> {
        if dir.as_os_str().is_empty() || self.known().contains(&*self.rel_key(dir)) {
            return Ok(());
        }
        // An unknown parent is made first (top-down), so that a new nested
        // folder costs one mkdir each instead of a failed one and a retry.
        if let Some(parent) = dir.parent() {
            if !parent.as_os_str().is_empty() && !self.known().contains(&*self.rel_key(parent)) {
                self.ensure_dir(parent)?;
            }
        }
        // Made with its parents if one was deleted behind our back.
        self.with_base(|base| atomic::mkdir(base, dir))?;
        if dir.as_os_str() == self.workflow_dir.as_os_str() {
            self.open_base()?;
        }
        self.known().insert((*self.rel_key(dir)).into());
        Ok(())
    }

    /// Opens the workflow folder, which exists, to walk paths below it from
    /// there ([`atomic::Base`]).
    fn open_base(&self) -> Result<(), StorageError> {
        let fd = atomic::open_base(&self.workflow_dir)?;
        *self.base_fd() = Some(fd);
        Ok(())
    }

    fn base_fd(&self) -> std::sync::RwLockWriteGuard<'_, Option<OwnedFd>> {
        self.base
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `op` with the workflow folder as the base of its paths once it
    /// is open, else with whole paths.
    fn with_base<T>(&self, op: impl FnOnce(Base<'_>) -> T) -> T {
        let fd = self
            .base
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match fd.as_ref() {
            Some(fd) => op(Base::new(fd.as_fd(), &self.workflow_dir)),
            None => op(Base::CWD),
        }
    }

    fn ensure_parent(&self, path: &Path) -> Result<(), StorageError> {
        match path.parent() {
            Some(parent) => self.ensure_dir(parent),
            None => Ok(()),
        }
    }

    /// The reference's default Tierkreis directory, `~/.tierkreis/checkpoints`.
    pub fn default_tkr_dir() -> PathBuf {
        crate::worker::home_dir()
            .unwrap_or_default()
            .join(".tierkreis")
            .join("checkpoints")
    }
}

impl ControllerStorage for FileControllerStorage {
    fn tkr_dir(&self) -> &Path {
        &self.tkr_dir
    }
    fn workflow_id(&self) -> Uuid {
        self.workflow_id
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn workflow_dir(&self) -> &Path {
        &self.workflow_dir
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>, StorageError> {
        if let Some(value) = self.values().get(&self.rel_key(path)) {
            return Ok(value.to_vec());
        }
        self.with_base(|base| atomic::read(base, path))
    }
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        self.values().remove(&self.rel_key(path));
        self.ensure_parent(path)?;
        self.with_base(|base| atomic::write_atomic(base, path, bytes))
    }
    fn write_fresh(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        self.ensure_parent(path)?;
        // Only a file that was there can have a copy in memory.
        let placed = self.with_base(|base| atomic::write_fresh(base, path, bytes))?;
        if placed == atomic::Placed::Replaced {
            self.values().remove(&self.rel_key(path));
        }
        Ok(())
    }
    fn write_output(&self, loc: &Loc, port: &str, value: &[u8]) -> Result<(), StorageError> {
        let path = self.output_path(loc, port);
        self.write_fresh(&path, value)?;
        self.values().insert(&self.rel_key(&path), Arc::from(value));
        Ok(())
    }
    fn touch(&self, path: &Path) -> Result<(), StorageError> {
        self.ensure_parent(path)?;
        self.with_base(|base| atomic::touch(base, path))
    }
    fn touch_scope_metadata(&self, path: &Path) -> Result<(), StorageError> {
        if self.known().contains(&*self.rel_key(path)) {
            return Ok(());
        }
        self.touch(path)?;
        self.known().insert((*self.rel_key(path)).into());
        Ok(())
    }
    fn append(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        self.values().remove(&self.rel_key(path));
        self.ensure_parent(path)?;
        self.with_base(|base| atomic::append(base, path, bytes))
    }
    fn link(&self, src: &Path, dst: &Path) -> Result<(), StorageError> {
        self.ensure_parent(dst)?;
        let placed = self.with_base(|base| atomic::link_or_copy(base, src, dst));
        let mut values = self.values();
        match placed {
            Ok(atomic::Placed::Created) => values.link_new(&self.rel_key(src), &self.rel_key(dst)),
            Ok(atomic::Placed::Replaced) => values.link(&self.rel_key(src), &self.rel_key(dst)),
            // A failed replacement may have left either file there.
            Err(e) => {
                values.remove(&self.rel_key(dst));
                return Err(e);
            }
        }
        Ok(())
    }
    fn mkdir(&self, path: &Path) -> Result<(), StorageError> {
        self.ensure_dir(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn list_subpaths(&self, path: &Path) -> Result<Vec<PathBuf>, StorageError> {
        let entries = match fs::read_dir(path) {
            Ok(entries) => entries,
            // No folder there, or a file (which has no entries, as in memory).
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                return Ok(Vec::new())
            }
            Err(source) => {
                return Err(StorageError::Io {
                    op: "list",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| StorageError::Io {
                op: "list",
                path: path.to_path_buf(),
                source,
            })?;
            if !atomic::is_temp_name(&entry.file_name().to_string_lossy()) {
                out.push(entry.path());
            }
        }
        // Entries of one folder share their parent, so byte order is the
        // order of `Path`'s comparison, without walking components.
        out.sort_unstable_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
        Ok(out)
    }
    fn delete_path(&self, path: &Path) -> Result<(), StorageError> {
        self.known().clear();
        self.values().clear();
        *self.base_fd() = None;
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            // Not a file: a folder (EISDIR on Linux, EPERM elsewhere).
            Err(file_err) => match fs::remove_dir_all(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(_) => Err(StorageError::Io {
                    op: "delete",
                    path: path.to_path_buf(),
                    source: file_err,
                }),
            },
        }
    }
    fn modified_time(&self, path: &Path) -> Result<Option<SystemTime>, StorageError> {
        match fs::metadata(path) {
            Ok(meta) => meta
                .modified()
                .map(Some)
                .map_err(|source| StorageError::Io {
                    op: "stat",
                    path: path.to_path_buf(),
                    source,
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StorageError::Io {
                op: "stat",
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}
