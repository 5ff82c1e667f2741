//! The result cache's store: which finished task node already holds the
//! outputs for a cache key, kept under `<tkr_dir>/.cache/` so that every run
//! in the checkpoint folder can reuse every other's results.
//!
//! One small JSON file per key, `entries/<first two hex digits>/<key>.json`,
//! written to a unique temporary name and renamed into place: any number of
//! controllers can read and write the store at once without a lock (a rename
//! is atomic, and two runs that compute the same key write equivalent
//! entries, the last one winning), and a crash leaves at worst a temporary
//! file, never a partial entry. An entry points at the outputs of the node
//! that computed them (`<run>/<loc>/outputs/<port>`) and records each output's
//! size and SHA-256, so an entry whose outputs were deleted or replaced is
//! detected ([`ResultCacheStore::verify`]) and never served.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tierkreis_core::Loc;

/// The cache folder's name inside the checkpoint folder.
pub const CACHE_DIR: &str = ".cache";

/// `<node>/<this>`: where a reused node says which node its outputs came
/// from (JSON: `run`, `loc`, `key`).
pub const CACHE_SOURCE_FILE: &str = "cache_source";

/// The (run, location) a reused node's outputs came from, from its
/// `cache_source`; `None` for a node that ran.
pub fn cache_source(storage: &dyn crate::ControllerStorage, loc: &Loc) -> Option<(String, String)> {
    let bytes = storage
        .read(&storage.node_dir(loc).join(CACHE_SOURCE_FILE))
        .ok()?;
    let v = tierkreis_core::json::parse(&bytes).ok()?;
    let m = v.as_map()?;
    Some((
        m.get("run")?.as_str()?.to_string(),
        m.get("loc")?.as_str()?.to_string(),
    ))
}

/// One output of a cached node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedOutput {
    pub port: String,
    pub size: u64,
    /// SHA-256 of the output's bytes, lowercase hex.
    pub sha256: String,
    /// The file's identity when it was recorded (device, inode, modification
    /// time in ns), which lets [`ResultCacheStore::verify`] trust an
    /// unchanged file without reading it, as `make` and `ccache` do;
    /// anything else is checked by its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_stamp: Option<FileStamp>,
}

/// Device, inode and modification time (ns since the epoch) of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i128,
}

impl FileStamp {
    /// The stamp of `metadata`.
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
        }
    }
}

/// What a key maps to: the node whose outputs are the task's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheEntry {
    pub key: String,
    /// `worker.function`.
    pub task: String,
    /// The workflow (UUID) holding the outputs.
    pub run: String,
    /// The node holding them.
    pub loc: String,
    pub outputs: Vec<CachedOutput>,
    /// When the entry was written (ISO 8601, UTC).
    pub created: String,
}

/// Why an entry cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokenEntry {
    #[error("the source node {run}/{loc} is no longer finished")]
    SourceNotFinished { run: String, loc: String },
    #[error("output {port:?} of {run}/{loc} is missing")]
    OutputMissing {
        run: String,
        loc: String,
        port: String,
    },
    #[error("output {port:?} of {run}/{loc} changed since it was cached")]
    OutputChanged {
        run: String,
        loc: String,
        port: String,
    },
    #[error("the entry names the location {loc:?}, which is not a location")]
    BadLocation { loc: String },
}

/// Errors of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{op} {} failed: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the cache entry {} is not valid: {source}", path.display())]
    BadEntry {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_path_buf();
    move |source| CacheError::Io { op, path, source }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The store under `<tkr_dir>/.cache`.
#[derive(Debug, Clone)]
pub struct ResultCacheStore {
    tkr_dir: PathBuf,
    dir: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ResultCacheStore {
    /// The store of the checkpoint folder `tkr_dir` (nothing is created yet).
    pub fn new(tkr_dir: impl Into<PathBuf>) -> Self {
        let tkr_dir = tkr_dir.into();
        let dir = tkr_dir.join(CACHE_DIR);
        Self { tkr_dir, dir }
    }

    /// The checkpoint folder whose runs the entries point into.
    pub fn tkr_dir(&self) -> &Path {
        &self.tkr_dir
    }

    /// `<tkr_dir>/.cache`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entries_dir(&self) -> PathBuf {
        self.dir.join("entries")
    }

    /// Where the entry for `key` lives.
    pub fn entry_path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("__");
        self.entries_dir().join(shard).join(format!("{key}.json"))
    }

    /// The entry for `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<CacheEntry>, CacheError> {
        let path = self.entry_path(key);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| CacheError::BadEntry { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Writes `entry` (temporary file, then rename over any older one).
    pub fn put(&self, entry: &CacheEntry) -> Result<(), CacheError> {
        let path = self.entry_path(&entry.key);
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        let tmp = parent.join(format!(
            ".tmp-{}-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
            entry.key
        ));
        let bytes = serde_json::to_vec(entry).map_err(|source| CacheError::BadEntry {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("rename", &path)(e)
        })
    }

    /// Removes the entry for `key` (nothing if missing).
    pub fn remove(&self, key: &str) -> Result<(), CacheError> {
        let path = self.entry_path(key);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path)(e)),
            _ => Ok(()),
        }
    }

    /// The file of output `port` of the entry's source node.
    pub fn output_source(&self, entry: &CacheEntry, port: &str) -> PathBuf {
        self.tkr_dir
            .join(&entry.run)
            .join(&entry.loc)
            .join("outputs")
            .join(port)
    }

    /// Whether `entry` can be served: its source node is still finished and
    /// every output has the recorded size and SHA-256 (a file whose stamp
    /// and size are those recorded is taken as unchanged without reading it).
    pub fn verify(&self, entry: &CacheEntry) -> Result<(), BrokenEntry> {
        if Loc::parse(&entry.loc).is_err() || entry.loc.contains('/') || entry.run.contains('/') {
            return Err(BrokenEntry::BadLocation {
                loc: entry.loc.clone(),
            });
        }
        let node = self.tkr_dir.join(&entry.run).join(&entry.loc);
        if !node.join("_done").exists() {
            return Err(BrokenEntry::SourceNotFinished {
                run: entry.run.clone(),
                loc: entry.loc.clone(),
            });
        }
        for out in &entry.outputs {
            let path = self.output_source(entry, &out.port);
            let what = || (entry.run.clone(), entry.loc.clone(), out.port.clone());
            if let (Some(stamp), Ok(metadata)) = (out.file_stamp, std::fs::metadata(&path)) {
                if metadata.len() == out.size && FileStamp::of(&metadata) == stamp {
                    continue;
                }
            }
            let Ok(bytes) = std::fs::read(&path) else {
                let (run, loc, port) = what();
                return Err(BrokenEntry::OutputMissing { run, loc, port });
            };
            if bytes.len() as u64 != out.size || sha256_hex(&bytes) != out.sha256 {
                let (run, loc, port) = what();
                return Err(BrokenEntry::OutputChanged { run, loc, port });
            }
        }
        Ok(())
    }

    /// Every entry file, parsed (entries that do not parse are returned as errors).
    pub fn entries(&self) -> Result<Vec<Result<CacheEntry, CacheError>>, CacheError> {
        let root = self.entries_dir();
        let shards = match std::fs::read_dir(&root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &root)(e)),
        };
        let mut paths = Vec::new();
        for shard in shards.flatten() {
            let dir = shard.path();
            let files = std::fs::read_dir(&dir).map_err(io("list", &dir))?;
            paths.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            );
        }
        paths.sort();
        Ok(paths
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).map_err(io("read", &path))?;
                serde_json::from_slice(&bytes)
                    .map_err(|source| CacheError::BadEntry { path, source })
            })
            .collect())
    }

    /// Removes every entry whose outputs live in workflow `run`; returns how many.
    pub fn remove_run(&self, run: &str) -> Result<usize, CacheError> {
        let mut n = 0;
        for entry in self.entries()?.into_iter().flatten() {
            if entry.run == run {
                self.remove(&entry.key)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes the whole store; returns how many entries it held.
    pub fn clear(&self) -> Result<usize, CacheError> {
        let n = self.entries()?.len();
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &self.dir)(e)),
            _ => Ok(n),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(run: &str, key: &str) -> CacheEntry {
        CacheEntry {
            key: key.to_string(),
            task: "w.f".to_string(),
            run: run.to_string(),
            loc: "-.N2".to_string(),
            outputs: vec![CachedOutput {
                port: "value".to_string(),
                size: 1,
                sha256: sha256_hex(b"7"),
                file_stamp: None,
            }],
            created: String::new(),
        }
    }

    #[test]
    fn an_entry_is_served_only_while_its_outputs_are_intact() {
        let d = tempfile::tempdir().unwrap();
        let store = ResultCacheStore::new(d.path());
        let e = entry("r1", "abcd");
        store.put(&e).unwrap();
        assert_eq!(store.get("abcd").unwrap(), Some(e.clone()));
        let node = d.path().join("r1/-.N2");
        assert_eq!(
            store.verify(&e),
            Err(BrokenEntry::SourceNotFinished {
                run: "r1".into(),
                loc: "-.N2".into()
            })
        );
        std::fs::create_dir_all(node.join("outputs")).unwrap();
        std::fs::write(node.join("_done"), b"").unwrap();
        assert!(matches!(
            store.verify(&e),
            Err(BrokenEntry::OutputMissing { .. })
        ));
        std::fs::write(node.join("outputs/value"), b"8").unwrap();
        assert!(matches!(
            store.verify(&e),
            Err(BrokenEntry::OutputChanged { .. })
        ));
        std::fs::write(node.join("outputs/value"), b"7").unwrap();
        assert_eq!(store.verify(&e), Ok(()));
    }

    #[test]
    fn a_stamped_output_is_trusted_while_unchanged_and_checked_by_hash_otherwise() {
        let d = tempfile::tempdir().unwrap();
        let store = ResultCacheStore::new(d.path());
        let node = d.path().join("r1/-.N2");
        std::fs::create_dir_all(node.join("outputs")).unwrap();
        std::fs::write(node.join("_done"), b"").unwrap();
        let output = node.join("outputs/value");
        std::fs::write(&output, b"7").unwrap();
        let mut e = entry("r1", "abcd");
        e.outputs[0].file_stamp = Some(FileStamp::of(&std::fs::metadata(&output).unwrap()));
        assert_eq!(store.verify(&e), Ok(()));
        // Replaced by another file of the same size and other bytes: a new
        // stamp, so the hash decides.
        std::fs::remove_file(&output).unwrap();
        std::fs::write(&output, b"8").unwrap();
        assert!(matches!(
            store.verify(&e),
            Err(BrokenEntry::OutputChanged { .. })
        ));
        // Copied back with the same bytes (a new inode): the hash vouches.
        std::fs::remove_file(&output).unwrap();
        std::fs::write(&output, b"7").unwrap();
        assert_eq!(store.verify(&e), Ok(()));
    }

    #[test]
    fn removing_a_run_removes_only_its_entries() {
        let d = tempfile::tempdir().unwrap();
        let store = ResultCacheStore::new(d.path());
        store.put(&entry("r1", "aa01")).unwrap();
        store.put(&entry("r1", "bb02")).unwrap();
        store.put(&entry("r2", "cc03")).unwrap();
        assert_eq!(store.remove_run("r1").unwrap(), 2);
        let left: Vec<String> = store
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.unwrap().key)
            .collect();
        assert_eq!(left, vec!["cc03"]);
        assert_eq!(store.clear().unwrap(), 1);
        assert!(store.entries().unwrap().is_empty());
    }
}
