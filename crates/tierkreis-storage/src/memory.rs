//! The in-memory "file system" shared by the in-memory controller storage and
//! the in-memory worker storage, so that a controller and in-process workers
//! see the same files without touching the disk.
//!
//! Values are `Arc<[u8]>`: reading and linking never copy the bytes. Folders
//! are implied by the files below them; [`MemoryFiles::mkdir`] records an
//! empty folder so that it exists (and is listed) like on disk.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use rustc_hash::FxHashMap;

/// A folder of the in-memory tree. The store is a real tree, walked name by
/// name, so an entry costs its own name and content only: the scheduling
/// benchmarks keep millions of entries here.
#[derive(Debug, Default)]
struct Dir {
    entries: FxHashMap<Box<[u8]>, Node>,
}

#[derive(Debug)]
enum Node {
    File {
        data: Arc<[u8]>,
        modified: SystemTime,
    },
    Dir(Dir),
}

/// The names along `path`, without empty and `.` parts (`a//b/./c` is `a/b/c`).
fn names(path: &Path) -> impl Iterator<Item = &[u8]> {
    path.as_os_str()
        .as_bytes()
        .split(|&b| b == b'/')
        .filter(|n| !n.is_empty() && *n != b".")
}

/// The shared content of every empty file (markers), so touching allocates nothing.
static EMPTY: LazyLock<Arc<[u8]>> = LazyLock::new(|| Arc::from(&[][..]));

impl Dir {
    fn get(&self, path: &Path) -> Option<&Node> {
        let mut names = names(path).peekable();
        let mut dir = self;
        while let Some(name) = names.next() {
            let node = dir.entries.get(name)?;
            if names.peek().is_none() {
                return Some(node);
            }
            match node {
                Node::Dir(d) => dir = d,
                Node::File { .. } => return None,
            }
        }
        None
    }

    /// The folder `path`, created with its parents (a file in the way is
    /// replaced by a folder); the root for an empty path.
    fn dir_mut(&mut self, path: &Path) -> &mut Dir {
        let mut dir = self;
        for name in names(path) {
            // Look up before inserting: `entry` would allocate the key each time.
            if !matches!(dir.entries.get(name), Some(Node::Dir(_))) {
                dir.entries.insert(name.into(), Node::Dir(Dir::default()));
            }
            let Some(Node::Dir(d)) = dir.entries.get_mut(name) else {
                unreachable!("just made a folder")
            };
            dir = d;
        }
        dir
    }

    /// The parent folder of `path` (created) and `path`'s last name.
    fn parent_mut<'p>(&mut self, path: &'p Path) -> Option<(&mut Dir, &'p [u8])> {
        let last = names(path).last()?;
        let parent = path.parent().unwrap_or(Path::new(""));
        Some((self.dir_mut(parent), last))
    }

    fn walk_files(&self, prefix: &mut Vec<u8>, out: &mut Vec<PathBuf>, with_dirs: bool) {
        for (name, node) in &self.entries {
            let len = prefix.len();
            if !prefix.is_empty() && !prefix.ends_with(b"/") {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(name);
            match node {
                Node::File { .. } => out.push(to_path(prefix)),
                Node::Dir(d) => {
                    if with_dirs {
                        out.push(to_path(prefix));
                    }
                    d.walk_files(prefix, out, with_dirs);
                }
            }
            prefix.truncate(len);
        }
    }
}

fn to_path(k: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(k))
}

/// A cloneable handle to a shared in-memory tree of files and folders.
///
/// Clones share the same files. Paths are compared in a normal form
/// (`a//b` is `a/b`), as `Path` does. Folders exist once something was
/// written below them or they were made with [`MemoryFiles::mkdir`].
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    inner: Arc<RwLock<Dir>>,
}

impl MemoryFiles {
    /// An empty file map.
    pub fn new() -> Self {
        Self::default()
    }

    fn read_map(&self) -> RwLockReadGuard<'_, Dir> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_map(&self) -> RwLockWriteGuard<'_, Dir> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The content of the file at `path`, if there is one.
    pub fn read(&self, path: &Path) -> Option<Arc<[u8]>> {
        match self.read_map().get(path) {
            Some(Node::File { data, .. }) => Some(Arc::clone(data)),
            _ => None,
        }
    }

    /// Write (or replace) the file at `path`, creating its folders.
    pub fn write(&self, path: &Path, data: Arc<[u8]>) {
        let mut root = self.write_map();
        if let Some((dir, name)) = root.parent_mut(path) {
            let data = if data.is_empty() { EMPTY.clone() } else { data };
            dir.entries.insert(
                name.into(),
                Node::File {
                    data,
                    modified: SystemTime::now(),
                },
            );
        }
    }

    /// Create an empty file at `path`, or update the modification time of
    /// the existing one, keeping its content.
    pub fn touch(&self, path: &Path) {
        let now = SystemTime::now();
        let mut root = self.write_map();
        if let Some((dir, name)) = root.parent_mut(path) {
            match dir.entries.get_mut(name) {
                Some(Node::File { modified, .. }) => *modified = now,
                _ => {
                    dir.entries.insert(
                        name.into(),
                        Node::File {
                            data: EMPTY.clone(),
                            modified: now,
                        },
                    );
                }
            }
        }
    }

    /// Create the folder `path` and its parents.
    pub fn mkdir(&self, path: &Path) {
        self.write_map().dir_mut(path);
    }

    /// Make `dst` share the content of the file `src` (no copy); `false` if
    /// `src` is not a file.
    pub fn link(&self, src: &Path, dst: &Path) -> bool {
        let mut root = self.write_map();
        let (data, modified) = match root.get(src) {
            Some(Node::File { data, modified }) => (Arc::clone(data), *modified),
            _ => return false,
        };
        if let Some((dir, name)) = root.parent_mut(dst) {
            dir.entries
                .insert(name.into(), Node::File { data, modified });
        }
        true
    }

    /// Whether there is a file or folder at `path`.
    pub fn exists(&self, path: &Path) -> bool {
        names(path).next().is_none() || self.read_map().get(path).is_some()
    }

    /// The modification time of the file at `path`.
    pub fn modified(&self, path: &Path) -> Option<SystemTime> {
        match self.read_map().get(path) {
            Some(Node::File { modified, .. }) => Some(*modified),
            _ => None,
        }
    }

    /// The entries directly inside the folder `path`, as full paths, sorted.
    pub fn children(&self, path: &Path) -> Vec<PathBuf> {
        let root = self.read_map();
        let dir = if names(path).next().is_none() {
            &*root
        } else {
            match root.get(path) {
                Some(Node::Dir(d)) => d,
                _ => return Vec::new(),
            }
        };
        let mut names: Vec<&Box<[u8]>> = dir.entries.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|n| path.join(std::ffi::OsStr::from_bytes(n)))
            .collect()
    }

    /// Remove `path` and everything below it. Its folder stays, as on disk.
    pub fn remove_tree(&self, path: &Path) {
        let mut root = self.write_map();
        let Some(last) = names(path).last() else {
            root.entries.clear();
            return;
        };
        let parent = path.parent().unwrap_or(Path::new(""));
        let dir = if names(parent).next().is_none() {
            Some(&mut *root)
        } else {
            match root.get(parent) {
                Some(Node::Dir(_)) => Some(root.dir_mut(parent)),
                _ => None,
            }
        };
        if let Some(dir) = dir {
            dir.entries.remove(last);
        }
    }

    /// All paths (files and folders), sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        self.read_map().walk_files(&mut Vec::new(), &mut out, true);
        out.sort();
        out
    }

    /// The number of entries (files and folders).
    pub fn len(&self) -> usize {
        self.paths().len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.read_map().entries.is_empty()
    }

    /// Paths of the files matching `pattern` (shell glob: `*`, `?`, `[..]`;
    /// `*` and `?` do not match `/` nor a leading `.`, like a file system
    /// glob), sorted. Walks every file: for workers' globs, not hot paths.
    pub fn glob(&self, pattern: &glob::Pattern) -> Vec<PathBuf> {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let mut all = Vec::new();
        self.read_map().walk_files(&mut Vec::new(), &mut all, false);
        let mut out: Vec<PathBuf> = all
            .into_iter()
            .filter(|p| pattern.matches_path_with(p, options))
            .collect();
        out.sort();
        out
    }

    /// Whether `path` is a folder.
    pub fn is_dir(&self, path: &Path) -> bool {
        names(path).next().is_none() || matches!(self.read_map().get(path), Some(Node::Dir(_)))
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
