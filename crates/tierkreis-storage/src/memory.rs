//! The in-memory "file system" shared by the in-memory controller storage and
//! the in-memory worker storage, so that a controller and in-process workers
//! see the same files without touching the disk.
//!
//! Values are `Arc<[u8]>`: reading and linking never copy the bytes. Folders
//! are implied by the files below them; [`MemoryFiles::mkdir`] records an
//! empty folder so that it exists (and is listed) like on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

/// One entry of the in-memory file map.
#[derive(Debug, Clone)]
pub enum MemoryEntry {
    /// A file: its content and when it was last written or touched.
    File {
        data: Arc<[u8]>,
        modified: SystemTime,
    },
    /// An explicitly created (possibly empty) folder.
    Dir,
}

/// A cloneable handle to a shared map from path to file content.
///
/// Clones share the same files. Paths are compared component-wise
/// (`a//b` is `a/b`), as `Path` does.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    inner: Arc<RwLock<BTreeMap<PathBuf, MemoryEntry>>>,
}

impl MemoryFiles {
    /// An empty file map.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave the map half-updated (every
    // update is a single insert or remove), so a poisoned lock is still usable.
    fn read_map(&self) -> RwLockReadGuard<'_, BTreeMap<PathBuf, MemoryEntry>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_map(&self) -> RwLockWriteGuard<'_, BTreeMap<PathBuf, MemoryEntry>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The content of the file at `path`, if it is a file.
    pub fn read(&self, path: &Path) -> Option<Arc<[u8]>> {
        match self.read_map().get(path) {
            Some(MemoryEntry::File { data, .. }) => Some(Arc::clone(data)),
            _ => None,
        }
    }

    /// Store `data` at `path` (replacing any previous entry).
    pub fn write(&self, path: &Path, data: Arc<[u8]>) {
        let entry = MemoryEntry::File {
            data,
            modified: SystemTime::now(),
        };
        self.write_map().insert(path.to_path_buf(), entry);
    }

    /// Create an empty file at `path`, or update the modification time of an
    /// existing file, keeping its content (like `touch`).
    pub fn touch(&self, path: &Path) {
        let now = SystemTime::now();
        let mut map = self.write_map();
        match map.get_mut(path) {
            Some(MemoryEntry::File { modified, .. }) => *modified = now,
            _ => {
                map.insert(
                    path.to_path_buf(),
                    MemoryEntry::File {
                        data: Arc::from(&[][..]),
                        modified: now,
                    },
                );
            }
        }
    }

    /// Record the folder `path` (no-op if anything exists there already).
    pub fn mkdir(&self, path: &Path) {
        self.write_map()
            .entry(path.to_path_buf())
            .or_insert(MemoryEntry::Dir);
    }

    /// Make `dst` the same file as `src` (sharing content and modification
    /// time, like a hard link). Returns `false` if `src` is not a file.
    pub fn link(&self, src: &Path, dst: &Path) -> bool {
        let mut map = self.write_map();
        match map.get(src) {
            Some(entry @ MemoryEntry::File { .. }) => {
                let entry = entry.clone();
                map.insert(dst.to_path_buf(), entry);
                true
            }
            _ => false,
        }
    }

    /// Whether `path` is a file, a recorded folder, or a folder implied by
    /// entries below it.
    pub fn exists(&self, path: &Path) -> bool {
        let map = self.read_map();
        map.contains_key(path) || Self::below(&map, path).next().is_some()
    }

    /// The modification time of the file at `path`.
    pub fn modified(&self, path: &Path) -> Option<SystemTime> {
        match self.read_map().get(path) {
            Some(MemoryEntry::File { modified, .. }) => Some(*modified),
            _ => None,
        }
    }

    /// Entries strictly below `path`. They are contiguous in the map because
    /// `PathBuf` orders component-wise.
    fn below<'a>(
        map: &'a BTreeMap<PathBuf, MemoryEntry>,
        path: &'a Path,
    ) -> impl Iterator<Item = (&'a PathBuf, &'a MemoryEntry)> + 'a {
        map.range::<Path, _>((Bound::Excluded(path), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(path))
    }

    /// The immediate children of the folder `path` (files and folders),
    /// sorted. Empty if `path` does not exist.
    pub fn children(&self, path: &Path) -> Vec<PathBuf> {
        let map = self.read_map();
        let depth = path.components().count();
        let names: BTreeSet<PathBuf> = Self::below(&map, path)
            .filter_map(|(k, _)| k.components().nth(depth))
            .map(|c| path.join(c))
            .collect();
        names.into_iter().collect()
    }

    /// Remove the entry at `path` and everything below it. The folder that
    /// held it stays, even if now empty, as on disk.
    pub fn remove_tree(&self, path: &Path) {
        let mut map = self.write_map();
        let doomed: Vec<PathBuf> = Self::below(&map, path).map(|(k, _)| k.clone()).collect();
        let existed = map.remove(path).is_some() || !doomed.is_empty();
        for key in doomed {
            map.remove(&key);
        }
        if let Some(parent) = path
            .parent()
            .filter(|p| existed && !p.as_os_str().is_empty())
        {
            if !map.contains_key(parent) && Self::below(&map, parent).next().is_none() {
                map.insert(parent.to_path_buf(), MemoryEntry::Dir);
            }
        }
    }

    /// All paths (files and recorded folders), sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.read_map().keys().cloned().collect()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.read_map().len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.read_map().is_empty()
    }

    /// Paths of the entries matching `pattern` (shell glob: `*`, `?`, `[..]`;
    /// `*` and `?` do not match `/` nor a leading `.`, like a file system
    /// glob), sorted.
    pub fn glob(&self, pattern: &glob::Pattern) -> Vec<PathBuf> {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        self.read_map()
            .keys()
            .filter(|k| pattern.matches_path_with(k, options))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn write_read_link_share_bytes() {
        let files = MemoryFiles::new();
        files.write(Path::new("w/-.N0/outputs/value"), Arc::from(&b"42"[..]));
        assert!(files.link(
            Path::new("w/-.N0/outputs/value"),
            Path::new("w/-.N1/outputs/x")
        ));
        let a = files.read(Path::new("w/-.N0/outputs/value")).unwrap();
        let b = files.read(Path::new("w/-.N1/outputs/x")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!files.link(Path::new("w/missing"), Path::new("w/y")));
    }

    #[test]
    fn folders_are_implied_and_listed() {
        let files = MemoryFiles::new();
        files.touch(Path::new("w/-.N0/_done"));
        files.write(Path::new("w/-.N0/outputs/a"), Arc::from(&b""[..]));
        files.write(Path::new("w/-.N0.N1/nodedef"), Arc::from(&b""[..]));
        files.mkdir(Path::new("w/-.N2/outputs"));
        assert!(files.exists(Path::new("w/-.N0")));
        assert!(files.exists(Path::new("w/-.N2/outputs")));
        assert!(!files.exists(Path::new("w/-.N3")));
        assert_eq!(
            files.children(Path::new("w")),
            vec![
                PathBuf::from("w/-.N0"),
                PathBuf::from("w/-.N0.N1"),
                PathBuf::from("w/-.N2")
            ]
        );
        assert_eq!(
            files.children(Path::new("w/-.N0")),
            vec![
                PathBuf::from("w/-.N0/_done"),
                PathBuf::from("w/-.N0/outputs")
            ]
        );
        files.remove_tree(Path::new("w/-.N0"));
        assert_eq!(
            files.children(Path::new("w")),
            vec![PathBuf::from("w/-.N0.N1"), PathBuf::from("w/-.N2")]
        );
        // Removing the last file of a folder keeps the folder, as on disk.
        files.remove_tree(Path::new("w/-.N0.N1/nodedef"));
        assert!(files.exists(Path::new("w/-.N0.N1")));
        assert_eq!(
            files.children(Path::new("w/-.N0.N1")),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn touch_keeps_content() {
        let files = MemoryFiles::new();
        files.write(Path::new("m"), Arc::from(&b"x"[..]));
        files.touch(Path::new("m"));
        assert_eq!(&*files.read(Path::new("m")).unwrap(), b"x");
    }

    #[test]
    fn glob_does_not_cross_separators() {
        let files = MemoryFiles::new();
        for p in [
            "w/-.N3/outputs/0",
            "w/-.N3/outputs/1",
            "w/-.N3/outputs/sub/2",
            "w/-.N4/outputs/0",
        ] {
            files.touch(Path::new(p));
        }
        let pat = glob::Pattern::new("w/-.N3/outputs/*").unwrap();
        assert_eq!(
            files.glob(&pat),
            vec![
                PathBuf::from("w/-.N3/outputs/0"),
                PathBuf::from("w/-.N3/outputs/1")
            ]
        );
        let pat = glob::Pattern::new("w/-.N[34]/outputs/?").unwrap();
        assert_eq!(files.glob(&pat).len(), 3);
    }
}
