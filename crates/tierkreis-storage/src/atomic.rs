//! Crash-safe file primitives for the checkpoint folder: readers (the
//! controller, other workers, a visualiser) must never see a half-written
//! value, and a node's outputs are shared by hard links instead of copies.
//!
//! [`write_atomic`] writes to a hidden temporary file in the same folder
//! (`.<name>.tmp.<pid>.<counter>`) and renames it over the target, which is
//! atomic on POSIX file systems. [`write_fresh`] creates a new file in place
//! (for files never taken as complete while they may be cut short) and
//! replaces an existing one as [`write_atomic`] does. There is no `fsync`:
//! this protects against concurrent readers and crashed processes, not
//! against power loss.
//!
//! Every operation takes a [`Base`]: an open folder that paths below it are
//! walked from (`openat`, `mkdirat`, `linkat`, `renameat`), so that the
//! kernel does not walk the whole path from `/` on each of the dozens of
//! calls a node costs. Errors always name the whole path.
//!
//! To keep the number of system calls low, parent folders are only created
//! when an operation fails with "not found", then the operation is retried
//! once.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::error::StorageError;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This process's id, asked of the kernel once (it is a system call each time).
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// A fresh temporary path next to `path`: `.<name>.tmp.<pid>.<counter>`.
/// Unique within this process (counter) and across processes (pid).
fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp.{}.{n}", pid()))
}

/// Whether `name` is one of the temporary names made by this module; listings
/// of storage folders skip them.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp.")
}

/// Where the path walk of an operation starts: an open folder for the paths
/// below it, the working directory for every other path.
#[derive(Debug, Clone, Copy)]
pub struct Base<'a> {
    fd: BorrowedFd<'a>,
    /// The bytes of the folder `fd` is open on; `None` for no folder.
    dir: Option<&'a [u8]>,
}

impl Base<'static> {
    /// No open folder: every path is walked as it is (from the working
    /// directory if relative).
    pub const CWD: Base<'static> = Base {
        fd: rustix::fs::CWD,
        dir: None,
    };
}

impl<'a> Base<'a> {
    /// Paths below `dir` are walked from `fd`, which must be open on `dir`.
    pub fn new(fd: BorrowedFd<'a>, dir: &'a Path) -> Self {
        Base {
            fd,
            dir: Some(dir.as_os_str().as_bytes()),
        }
    }

    /// The folder and the path for a `*at` call on `path`.
    fn split<'p>(&self, path: &'p Path) -> (BorrowedFd<'a>, &'p Path) {
        if let Some(dir) = self.dir {
            if let Some([b'/', rest @ ..]) = path.as_os_str().as_bytes().strip_prefix(dir) {
                if !rest.is_empty() {
                    return (self.fd, Path::new(OsStr::from_bytes(rest)));
                }
            }
        }
        (rustix::fs::CWD, path)
    }

    fn open(&self, path: &Path, flags: OFlags) -> io::Result<File> {
        let (fd, rel) = self.split(path);
        let owned: OwnedFd =
            rustix::fs::openat(fd, rel, flags | OFlags::CLOEXEC, Mode::from_raw_mode(0o666))?;
        Ok(File::from(owned))
    }

    fn create_new(&self, path: &Path) -> io::Result<File> {
        self.open(path, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL)
    }

    fn mkdir_one(&self, path: &Path) -> io::Result<()> {
        let (fd, rel) = self.split(path);
        Ok(rustix::fs::mkdirat(fd, rel, Mode::from_raw_mode(0o777))?)
    }

    fn link(&self, src: &Path, dst: &Path) -> io::Result<()> {
        let (sfd, srel) = self.split(src);
        let (dfd, drel) = self.split(dst);
        Ok(rustix::fs::linkat(sfd, srel, dfd, drel, AtFlags::empty())?)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (ffd, frel) = self.split(from);
        let (tfd, trel) = self.split(to);
        Ok(rustix::fs::renameat(ffd, frel, tfd, trel)?)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (fd, rel) = self.split(path);
        Ok(rustix::fs::unlinkat(fd, rel, AtFlags::empty())?)
    }

    /// The device and inode of the file at `path`.
    fn identity(&self, path: &Path) -> io::Result<(u64, u64)> {
        let (fd, rel) = self.split(path);
        let st = rustix::fs::statat(fd, rel, AtFlags::empty())?;
        Ok((st.st_dev, st.st_ino))
    }
}

/// Open the folder `dir` for use as a [`Base`] (`O_PATH`: for walking from
/// only, not for reading).
pub fn open_base(dir: &Path) -> Result<OwnedFd, StorageError> {
    rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| StorageError::from_io("open folder", dir, e.into()))
}

/// What a write or link at a path found there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Nothing: the file is new.
    Created,
    /// A file, now replaced (or, for a link, already the same file).
    Replaced,
}

/// Create the folder `dir` and its missing parents.
fn mkdir_all(base: Base<'_>, dir: &Path) -> io::Result<()> {
    match base.mkdir_one(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => mkdir_all(base, parent)?,
                _ => return Err(e),
            }
            match base.mkdir_one(dir) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            }
        }
        Err(e) => Err(e),
    }
}

/// Create the parent folder of `path` (and its parents).
fn create_parent(base: Base<'_>, path: &Path) -> Result<(), StorageError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            mkdir_all(base, parent).map_err(|source| StorageError::Io {
                op: "create directory",
                path: parent.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Run `op` on `path`; if it fails with "not found", create the parent folder
/// of `path` and run it once more.
fn with_parent_retry<T>(
    base: Base<'_>,
    path: &Path,
    mut op: impl FnMut() -> io::Result<T>,
) -> Result<io::Result<T>, StorageError> {
    match op() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_parent(base, path)?;
            Ok(op())
        }
        other => Ok(other),
    }
}

/// Write `bytes` to `path` atomically: to a temporary file in the same
/// folder, then renamed over `path`. Parent folders are created as needed.
pub fn write_atomic(base: Base<'_>, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = temp_path_for(path);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC;
    let mut file = with_parent_retry(base, &tmp, || base.open(&tmp, flags))?.map_err(|source| {
        StorageError::Io {
            op: "create",
            path: tmp.clone(),
            source,
        }
    })?;
    let written = file.write_all(bytes);
    drop(file);
    if let Err(source) = written {
        let _ = base.remove_file(&tmp);
        return Err(StorageError::Io {
            op: "write",
            path: tmp,
            source,
        });
    }
    if let Err(source) = base.rename(&tmp, path) {
        let _ = base.remove_file(&tmp);
        return Err(StorageError::Io {
            op: "rename",
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// Write `bytes` to `path`, a file that is never taken as complete while it
/// may be cut short (a node's outputs before its `_done`, call arguments
/// before the task is launched, an executor's record before the task can
/// finish, a node definition, which does not parse until whole).
///
/// A new file is created exclusively (`O_EXCL`) and written in place, with
/// no temporary file. If `path` already exists (a re-run after a crash, a
/// restart), it is replaced as [`write_atomic`] does: a file that is
/// hard-linked elsewhere (an output whose consumers share it) is never
/// changed in place. A failed write removes the new file. Parent folders
/// are created as needed. Says whether a file was there.
pub fn write_fresh(base: Base<'_>, path: &Path, bytes: &[u8]) -> Result<Placed, StorageError> {
    let created = with_parent_retry(base, path, || base.create_new(path))?;
    let mut file = match created {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return write_atomic(base, path, bytes).map(|()| Placed::Replaced)
        }
        Err(source) => {
            return Err(StorageError::Io {
                op: "create",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if let Err(source) = file.write_all(bytes) {
        drop(file);
        let _ = base.remove_file(path);
        return Err(StorageError::Io {
            op: "write",
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(Placed::Created)
}

/// Append `bytes` to the file at `path`, creating it (and its parents) if
/// missing. Used for logs, where a cut last line is acceptable.
pub fn append(base: Base<'_>, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND;
    let mut file = with_parent_retry(base, path, || base.open(path, flags))?
        .map_err(|e| StorageError::from_io("open for append", path, e))?;
    file.write_all(bytes)
        .map_err(|e| StorageError::from_io("append", path, e))
}

/// Create an empty marker file at `path`, or update its modification time if
/// it exists (like `touch`; an existing file keeps its content). Parent
/// folders are created as needed. An empty file cannot be half-written, so no
/// temporary file is used.
pub fn touch(base: Base<'_>, path: &Path) -> Result<(), StorageError> {
    let created = with_parent_retry(base, path, || base.create_new(path))?;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let file = base
                .open(path, OFlags::WRONLY)
                .map_err(|source| StorageError::Io {
                    op: "open",
                    path: path.to_path_buf(),
                    source,
                })?;
            file.set_modified(SystemTime::now())
                .map_err(|source| StorageError::Io {
                    op: "set modification time of",
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(source) => Err(StorageError::Io {
            op: "create",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether a failed hard link should fall back to a copy: the file system
/// cannot link across devices, does not support links, or the inode has too
/// many links.
fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EXDEV) | Some(libc::EPERM) | Some(libc::EMLINK) | Some(libc::ENOTSUP)
    )
}

/// Make `dst` a hard link to `src` (the same file, no copy).
///
/// - Parent folders of `dst` are created as needed.
/// - A missing `src` is [`StorageError::NotFound`] (with the path of `src`).
/// - If `dst` exists and is already the same file, nothing happens; if it is
///   another file, it is replaced atomically (link to a temporary name, then
///   rename).
/// - If the file system refuses hard links (`EXDEV`, `EPERM`, `EMLINK`,
///   `ENOTSUP`), `src` is copied to a temporary file and renamed to `dst`.
///
/// Says whether `dst` was there before.
pub fn link_or_copy(base: Base<'_>, src: &Path, dst: &Path) -> Result<Placed, StorageError> {
    let linked = match base.link(src, dst) {
        // Either `src` or the parent of `dst` is missing: create the parent
        // and retry once; a second "not found" means `src` is missing.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_parent(base, dst)?;
            base.link(src, dst)
        }
        other => other,
    };
    match linked {
        Ok(()) => Ok(Placed::Created),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StorageError::NotFound {
            path: src.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            replace_with_link(base, src, dst).map(|()| Placed::Replaced)
        }
        // A copy may have replaced a file that was there.
        Err(e) if link_unsupported(&e) => copy_atomic(src, dst).map(|()| Placed::Replaced),
        Err(source) => Err(StorageError::Io {
            op: "hard link to",
            path: dst.to_path_buf(),
            source,
        }),
    }
}

/// `dst` exists: keep it if it is already `src`, else replace it by a link
/// to `src` atomically.
fn replace_with_link(base: Base<'_>, src: &Path, dst: &Path) -> Result<(), StorageError> {
    let src_id = base
        .identity(src)
        .map_err(|e| StorageError::from_io("stat", src, e))?;
    if base.identity(dst).is_ok_and(|dst_id| dst_id == src_id) {
        return Ok(());
    }
    let tmp = temp_path_for(dst);
    match base.link(src, &tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StorageError::NotFound {
                path: src.to_path_buf(),
            });
        }
        Err(e) if link_unsupported(&e) => return copy_atomic(src, dst),
        Err(source) => {
            return Err(StorageError::Io {
                op: "hard link to",
                path: tmp,
                source,
            })
        }
    }
    if let Err(source) = base.rename(&tmp, dst) {
        let _ = base.remove_file(&tmp);
        return Err(StorageError::Io {
            op: "rename",
            path: dst.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// Copy `src` to `dst` through a temporary file and a rename (where links
/// are refused: rare, so by whole paths).
fn copy_atomic(src: &Path, dst: &Path) -> Result<(), StorageError> {
    let tmp = temp_path_for(dst);
    if let Err(e) = std::fs::copy(src, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(StorageError::from_io("copy", src, e));
    }
    if let Err(source) = std::fs::rename(&tmp, dst) {
        let _ = std::fs::remove_file(&tmp);
        return Err(StorageError::Io {
            op: "rename",
            path: dst.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// Create the folder `path`; if its parent is missing, create all parents.
/// An existing folder is fine.
pub fn mkdir(base: Base<'_>, path: &Path) -> Result<(), StorageError> {
    mkdir_all(base, path).map_err(|source| StorageError::Io {
        op: "create directory",
        path: path.to_path_buf(),
        source,
    })
}

/// Read the whole file at `path`; a missing file is
/// [`StorageError::NotFound`].
pub fn read(base: Base<'_>, path: &Path) -> Result<Vec<u8>, StorageError> {
    use std::io::Read;
    let file = base
        .open(path, OFlags::RDONLY)
        .map_err(|e| StorageError::from_io("read", path, e))?;
    let mut buf = Vec::with_capacity(512);
    // Values are small: read through `Take`, which skips the `stat` and
    // `lseek` that `File::read_to_end` makes for a size hint.
    file.take(u64::MAX)
        .read_to_end(&mut buf)
        .map_err(|e| StorageError::from_io("read", path, e))?;
    Ok(buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_atomic_creates_parents_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/value");
        write_atomic(Base::CWD, &path, b"one").unwrap();
        write_atomic(Base::CWD, &path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(names(&dir.path().join("a/b")), vec!["value".to_string()]);
    }

    #[test]
    fn write_atomic_replaces_without_changing_linked_copies() {
        // Atomic replacement creates a new inode, so an earlier hard link
        // keeps the old value: links share values, not future writes.
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        write_atomic(Base::CWD, &a, b"old").unwrap();
        link_or_copy(Base::CWD, &a, &b).unwrap();
        write_atomic(Base::CWD, &a, b"new").unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"old");
    }

    #[test]
    fn write_fresh_creates_in_place_then_replaces_without_changing_links() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("n/outputs/value");
        assert_eq!(
            write_fresh(Base::CWD, &a, b"first").unwrap(),
            Placed::Created
        );
        assert_eq!(fs::read(&a).unwrap(), b"first");
        let b = dir.path().join("m/outputs/value");
        assert_eq!(link_or_copy(Base::CWD, &a, &b).unwrap(), Placed::Created);
        assert_eq!(link_or_copy(Base::CWD, &a, &b).unwrap(), Placed::Replaced);
        // A re-run writes the output again: the consumer's link keeps the
        // value it was given, and no temporary file is left behind.
        assert_eq!(
            write_fresh(Base::CWD, &a, b"second, longer").unwrap(),
            Placed::Replaced
        );
        assert_eq!(fs::read(&a).unwrap(), b"second, longer");
        assert_eq!(fs::read(&b).unwrap(), b"first");
        assert_eq!(
            names(&dir.path().join("n/outputs")),
            vec!["value".to_string()]
        );
    }

    #[test]
    fn touch_keeps_content_and_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/_done");
        touch(Base::CWD, &path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        write_atomic(Base::CWD, &path, b"kept").unwrap();
        touch(Base::CWD, &path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"kept");
    }

    #[test]
    fn link_shares_the_inode() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("n1/outputs/value");
        let dst = dir.path().join("n2/outputs/value");
        write_atomic(Base::CWD, &src, b"42").unwrap();
        link_or_copy(Base::CWD, &src, &dst).unwrap();
        let (s, d) = (fs::metadata(&src).unwrap(), fs::metadata(&dst).unwrap());
        assert_eq!(s.ino(), d.ino());
        assert_eq!(s.nlink(), 2);
        // Linking again is a no-op.
        link_or_copy(Base::CWD, &src, &dst).unwrap();
        assert_eq!(fs::metadata(&dst).unwrap().ino(), s.ino());
    }

    #[test]
    fn link_replaces_a_different_destination() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        write_atomic(Base::CWD, &src, b"new").unwrap();
        write_atomic(Base::CWD, &dst, b"old").unwrap();
        link_or_copy(Base::CWD, &src, &dst).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&src).unwrap().ino(),
            fs::metadata(&dst).unwrap().ino()
        );
        assert_eq!(
            names(dir.path()),
            vec!["dst".to_string(), "src".to_string()]
        );
    }

    #[test]
    fn link_missing_source_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("missing");
        let err = link_or_copy(Base::CWD, &src, &dir.path().join("d/dst")).unwrap_err();
        match err {
            StorageError::NotFound { path } => assert_eq!(path, src),
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    #[test]
    fn copy_fallback_is_atomic_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let dst = dir.path().join("dst");
        write_atomic(Base::CWD, &src, b"payload").unwrap();
        copy_atomic(&src, &dst).unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"payload");
        assert_ne!(
            fs::metadata(&src).unwrap().ino(),
            fs::metadata(&dst).unwrap().ino()
        );
        assert_eq!(
            names(dir.path()),
            vec!["dst".to_string(), "src".to_string()]
        );
    }

    #[test]
    fn read_missing_is_not_found_and_directory_is_io() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(Base::CWD, &dir.path().join("nope"))
            .unwrap_err()
            .is_not_found());
        let err = read(Base::CWD, dir.path()).unwrap_err();
        assert!(matches!(err, StorageError::Io { .. }), "{err:?}");
    }

    #[test]
    fn a_base_walks_from_its_folder_and_errors_name_whole_paths() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let wf = dir.path().join("wf");
        fs::create_dir(&wf).unwrap();
        let fd = open_base(&wf).unwrap();
        let base = Base::new(fd.as_fd(), &wf);
        // Moved away, the folder is still where the base walks from: the
        // path given is only used below the base's folder name.
        let moved = dir.path().join("moved");
        fs::rename(&wf, &moved).unwrap();
        write_fresh(base, &wf.join("-.N0/outputs/value"), b"1").unwrap();
        link_or_copy(
            base,
            &wf.join("-.N0/outputs/value"),
            &wf.join("-.N1/outputs/x"),
        )
        .unwrap();
        touch(base, &wf.join("-.N1/_done")).unwrap();
        assert_eq!(fs::read(moved.join("-.N1/outputs/x")).unwrap(), b"1");
        assert_eq!(read(base, &wf.join("-.N1/outputs/x")).unwrap(), b"1");
        assert!(moved.join("-.N1/_done").exists() && !wf.exists());
        // Paths elsewhere are walked as they are.
        let other = dir.path().join("other/value");
        write_atomic(base, &other, b"2").unwrap();
        assert_eq!(fs::read(&other).unwrap(), b"2");
        // A failure names the whole path, not the one below the base.
        let err = write_fresh(base, &wf.join("-.N1/_done/x"), b"3").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&*wf.join("-.N1/_done").to_string_lossy()),
            "{text}"
        );
    }

    #[test]
    fn temp_names_are_recognised() {
        let t = temp_path_for(Path::new("/x/value"));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(is_temp_name(&name), "{name}");
        assert!(!is_temp_name("value"));
        assert!(!is_temp_name(".N-1"));
    }
}
