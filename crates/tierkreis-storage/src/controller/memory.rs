//! [`MemoryControllerStorage`]: a workflow's checkpoint folder in a
//! [`MemoryFiles`] map, for embedding and tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;

use super::ControllerStorage;
use crate::error::StorageError;
use crate::memory::MemoryFiles;
use crate::worker::MemoryWorkerStorage;

/// The checkpoint folder of one workflow in a [`MemoryFiles`] map, shared
/// with [`MemoryWorkerStorage`]s for in-process workers.
///
/// Like the reference, the Tierkreis directory is the empty path, so every
/// key is `<workflow_id>/...` and the relative paths in call arguments are
/// the keys themselves. Values are shared `Arc<[u8]>`: linking never copies.
#[derive(Debug, Clone)]
pub struct MemoryControllerStorage {
    files: MemoryFiles,
    tkr_dir: PathBuf,
    workflow_id: Uuid,
    name: Option<String>,
    workflow_dir: PathBuf,
}

impl MemoryControllerStorage {
    /// Storage for workflow `workflow_id` in `files`.
    pub fn new(files: MemoryFiles, workflow_id: Uuid, name: Option<String>) -> Self {
        let tkr_dir = PathBuf::new();
        let workflow_dir = tkr_dir.join(workflow_id.to_string());
        Self {
            files,
            tkr_dir,
            workflow_id,
            name,
            workflow_dir,
        }
    }

    /// The shared file map.
    pub fn files(&self) -> &MemoryFiles {
        &self.files
    }

    /// A worker storage over the same files.
    pub fn worker_storage(&self) -> MemoryWorkerStorage {
        MemoryWorkerStorage::new(self.files.clone())
    }
}

impl ControllerStorage for MemoryControllerStorage {
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
        self.files
            .read(path)
            .map(|b| b.to_vec())
            .ok_or_else(|| StorageError::NotFound {
                path: path.to_path_buf(),
            })
    }
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        self.files.write(path, Arc::from(bytes));
        Ok(())
    }
    fn touch(&self, path: &Path) -> Result<(), StorageError> {
        self.files.touch(path);
        Ok(())
    }
    fn append(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        let mut data = self
            .files
            .read(path)
            .map(|b| b.to_vec())
            .unwrap_or_default();
        data.extend_from_slice(bytes);
        self.files.write(path, Arc::from(data));
        Ok(())
    }
    fn link(&self, src: &Path, dst: &Path) -> Result<(), StorageError> {
        if self.files.link(src, dst) {
            Ok(())
        } else {
            Err(StorageError::NotFound {
                path: src.to_path_buf(),
            })
        }
    }
    fn mkdir(&self, path: &Path) -> Result<(), StorageError> {
        self.files.mkdir(path);
        Ok(())
    }
    fn exists(&self, path: &Path) -> bool {
        self.files.exists(path)
    }
    fn list_subpaths(&self, path: &Path) -> Result<Vec<PathBuf>, StorageError> {
        Ok(self.files.children(path))
    }
    fn delete_path(&self, path: &Path) -> Result<(), StorageError> {
        self.files.remove_tree(path);
        Ok(())
    }
    fn modified_time(&self, path: &Path) -> Result<Option<SystemTime>, StorageError> {
        Ok(self.files.modified(path))
    }
}
