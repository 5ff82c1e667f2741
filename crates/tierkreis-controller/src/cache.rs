//! The result cache: a task whose function, worker and input bytes match a
//! task already finished (in this run or any other in the checkpoint folder)
//! is not run again; its node gets the earlier node's outputs by hard link.
//!
//! The key is SHA-256 over the function name, the worker's identity (how it
//! is launched, with the content hash of its executable, script or Python
//! package files: see [`worker_identity`]) and the exact bytes of every input
//! by port. The store is `tierkreis_storage::result_cache` under
//! `<tkr_dir>/.cache`. A reused node holds `cache_source` (JSON: the run,
//! location and key it came from), which `tkr show` and the web view report.
//!
//! A whole nested graph is reused the same way: before an `eval`, `map` or
//! `loop` node is expanded, its key (its kind, the bytes of every input, the body
//! graph among them, and the identity of every worker function the body
//! names, at any depth) is looked up, and on a hit the node gets the earlier
//! node's outputs without any of its inner nodes being created. Builtins
//! count as deterministic inside a nested graph (unless `cache = false`
//! says otherwise), but for [`NON_DETERMINISTIC_BUILTINS`]; a body naming a function whose worker opted out, or
//! that cannot be resolved, is never reused whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tierkreis_core::{InputLink, Loc, Value};
use tierkreis_storage::result_cache::{
    hex, sha256_hex, CacheEntry, CacheError, CachedOutput, ResultCacheStore,
};
use tierkreis_storage::{ControllerStorage, StorageError};

use crate::executor::LaunchPlan;
use crate::scheduler::{NestedGraphKind, NestedGraphReuse, NestedGraphReuseOutcome, ReadyTask};

pub use tierkreis_storage::result_cache::{cache_source, CACHE_SOURCE_FILE};

/// Bumped when the key's recipe changes, so old entries stop matching.
const KEY_VERSION: &str = "tkr-cache-1";

/// A worker's identity for the cache key, or `None` when the task must not
/// be cached (opted out, or its worker cannot be resolved).
pub type IdentityFn = dyn Fn(&str, &str) -> Option<String> + Send + Sync;

/// The result cache of one run.
pub struct ResultCache {
    store: ResultCacheStore,
    identity: Box<IdentityFn>,
    /// `worker.function` -> identity, computed once per run.
    identities: Mutex<HashMap<String, Option<String>>>,
    /// The identity of a function inside a nested graph reused whole;
    /// without it, nested graphs are not reused.
    nested_identity: Option<Box<IdentityFn>>,
    /// `worker.function` -> identity inside nested graphs, once per run.
    nested_identities: Mutex<HashMap<String, Option<String>>>,
}

/// A finished piece of work to write into the cache (off the scheduling
/// path: see `runtime`'s recorder).
#[derive(Debug, Clone)]
pub enum Recording {
    /// A task that missed under `key` and finished.
    Task { key: String, task: ReadyTask },
    /// An `eval`, `map` or `loop` node that missed under `key` and finished.
    NestedGraph {
        key: String,
        loc: Loc,
        kind: NestedGraphKind,
    },
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("dir", &self.store.dir())
            .finish()
    }
}

/// What the cache did for a task about to launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reuse {
    /// The outputs were linked in and the node marked done.
    Hit { run: String, loc: String },
    /// Not in the cache (or the entry was broken and dropped): run the task
    /// and record it under `key` if it finishes.
    Miss { key: String },
    /// The task is not cached.
    NotEligible,
}

/// Errors of the cache (a storage failure while linking, or the store).
#[derive(Debug, thiserror::Error)]
pub enum ResultCacheError {
    #[error("result cache store")]
    Store(#[from] CacheError),
    #[error("checkpoint storage failed while using the result cache")]
    Storage(#[from] StorageError),
}

impl ResultCache {
    /// A cache in `<tkr_dir>/.cache`; `identity(worker, function)` gives the
    /// worker identity of a task, or `None` to leave it uncached.
    pub fn new(
        tkr_dir: impl Into<PathBuf>,
        identity: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            store: ResultCacheStore::new(tkr_dir),
            identity: Box::new(identity),
            identities: Mutex::new(HashMap::new()),
            nested_identity: None,
            nested_identities: Mutex::new(HashMap::new()),
        }
    }

    /// Also reuses whole nested graphs, with `identity(worker, function)`
    /// giving the identity of each function a body names (`None`: the body
    /// is not reused whole).
    pub fn with_nested_graphs(
        mut self,
        identity: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.nested_identity = Some(Box::new(identity));
        self
    }

    fn nested_identity_of(&self, function_name: &str) -> Option<String> {
        let identity = self.nested_identity.as_ref()?;
        let (worker, function) = function_name.rsplit_once('.')?;
        let mut memo = self
            .nested_identities
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        memo.entry(function_name.to_string())
            .or_insert_with(|| identity(worker, function))
            .clone()
    }

    /// The key of the nested-graph node `kind` whose inputs are `links`, or
    /// `None` when it is not reused whole.
    pub fn nested_graph_key(
        &self,
        kind: &NestedGraphKind,
        links: &[InputLink],
        storage: &dyn ControllerStorage,
    ) -> Option<String> {
        self.nested_identity.as_ref()?;
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(KEY_VERSION.as_bytes());
        field(b"nested graph");
        field(kind.name().as_bytes());
        if let NestedGraphKind::Loop { continue_port } = kind {
            field(continue_port.as_bytes());
        }
        let mut sorted: Vec<&InputLink> = links.iter().collect();
        sorted.sort_by(|a, b| a.input_port.cmp(&b.input_port));
        let mut functions = std::collections::BTreeSet::new();
        for InputLink { input_port, source } in sorted {
            field(input_port.as_bytes());
            if source.port == "*" {
                // A map's elements: every output of the source, by name.
                let mut ports = storage.read_output_ports(&source.node).ok()?;
                ports.sort();
                field(b"*");
                for element in ports {
                    let bytes = storage.read_output(&source.node, &element).ok()?;
                    if holds_a_graph(&bytes) {
                        return None;
                    }
                    field(element.as_bytes());
                    field(&bytes);
                }
                continue;
            }
            match storage.read_output(&source.node, &source.port) {
                Ok(bytes) => {
                    if holds_a_graph(&bytes) {
                        functions_named(&bytes, &mut functions)?;
                    }
                    field(b"=");
                    field(&bytes);
                }
                Err(e) if e.is_not_found() => field(b"missing"),
                Err(_) => return None,
            }
        }
        for function_name in functions {
            let identity = self.nested_identity_of(&function_name)?;
            field(function_name.as_bytes());
            field(identity.as_bytes());
        }
        Some(hex(&h.finalize()))
    }

    /// Reuses the earlier outputs of a whole nested graph, if there are
    /// sound ones (see [`ResultCache::try_reuse`], the same for a task).
    pub fn try_reuse_nested_graph(
        &self,
        loc: &Loc,
        kind: &NestedGraphKind,
        links: &[InputLink],
        storage: &dyn ControllerStorage,
    ) -> Result<Reuse, ResultCacheError> {
        let Some(key) = self.nested_graph_key(kind, links, storage) else {
            return Ok(Reuse::NotEligible);
        };
        self.reuse_entry(key, loc, storage)
    }

    /// Records the finished nested-graph node at `loc` (all its outputs) under `key`.
    pub fn record_nested_graph(
        &self,
        key: &str,
        loc: &Loc,
        kind: &NestedGraphKind,
        storage: &dyn ControllerStorage,
    ) -> Result<(), ResultCacheError> {
        let ports = storage.read_output_ports(loc)?;
        self.put_entry(
            key,
            &format!("({} node)", kind.name()),
            loc,
            &ports,
            storage,
        )
    }

    /// Writes `recording` into the cache.
    pub fn record_finished(
        &self,
        recording: &Recording,
        storage: &dyn ControllerStorage,
    ) -> Result<(), ResultCacheError> {
        match recording {
            Recording::Task { key, task } => self.record(key, task, storage),
            Recording::NestedGraph { key, loc, kind } => {
                self.record_nested_graph(key, loc, kind, storage)
            }
        }
    }

    fn identity_of(&self, task: &ReadyTask) -> Option<String> {
        let name = format!("{}.{}", task.worker, task.function);
        let mut memo = self
            .identities
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        memo.entry(name)
            .or_insert_with(|| (self.identity)(&task.worker, &task.function))
            .clone()
    }

    /// The key of `task`, or `None` when it is not cached.
    pub fn key(&self, task: &ReadyTask, storage: &dyn ControllerStorage) -> Option<String> {
        let identity = self.identity_of(task)?;
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(KEY_VERSION.as_bytes());
        field(task.worker.as_bytes());
        field(task.function.as_bytes());
        field(identity.as_bytes());
        let mut inputs: Vec<&InputLink> = task.inputs.iter().collect();
        inputs.sort_by(|a, b| a.input_port.cmp(&b.input_port));
        for link in inputs {
            field(link.input_port.as_bytes());
            match storage.read_output(&link.source.node, &link.source.port) {
                Ok(bytes) => {
                    field(b"=");
                    field(&bytes);
                }
                Err(e) if e.is_not_found() => field(b"missing"),
                // Unreadable: do not cache rather than guess.
                Err(_) => return None,
            }
        }
        for port in &task.outputs {
            field(b"out");
            field(port.as_bytes());
        }
        Some(hex(&h.finalize()))
    }

    /// Reuses a cached result for `task` if there is a sound one.
    pub fn try_reuse(
        &self,
        task: &ReadyTask,
        storage: &dyn ControllerStorage,
    ) -> Result<Reuse, ResultCacheError> {
        let Some(key) = self.key(task, storage) else {
            return Ok(Reuse::NotEligible);
        };
        self.reuse_entry(key, &task.loc, storage)
    }

    /// Serves the entry under `key` to the node at `loc` if it is sound.
    fn reuse_entry(
        &self,
        key: String,
        loc: &Loc,
        storage: &dyn ControllerStorage,
    ) -> Result<Reuse, ResultCacheError> {
        let entry = match self.store.get(&key) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(Reuse::Miss { key }),
            Err(e) => {
                tracing::warn!(%key, error = %e, "dropping an unreadable cache entry");
                self.store.remove(&key)?;
                return Ok(Reuse::Miss { key });
            }
        };
        if entry.run == storage.workflow_id().to_string() && entry.loc == loc.as_str() {
            // The node itself (a resume after a crash between the entry and _done).
            return Ok(Reuse::Miss { key });
        }
        if let Err(broken) = self.store.verify(&entry) {
            tracing::info!(%key, %loc, %broken, "cache entry broken; recomputing");
            self.store.remove(&key)?;
            return Ok(Reuse::Miss { key });
        }
        for out in &entry.outputs {
            let src = self.store.output_source(&entry, &out.port);
            storage.link(&src, &storage.output_path(loc, &out.port))?;
        }
        let source = cache_source_json(&entry);
        // Vouched for by the `_done` written next, like an output.
        storage.write_fresh(
            &storage.node_dir(loc).join(CACHE_SOURCE_FILE),
            source.as_bytes(),
        )?;
        storage.mark_node_finished(loc)?;
        Ok(Reuse::Hit {
            run: entry.run,
            loc: entry.loc,
        })
    }

    /// Records the finished `task` (its outputs and `_done` written) under `key`.
    pub fn record(
        &self,
        key: &str,
        task: &ReadyTask,
        storage: &dyn ControllerStorage,
    ) -> Result<(), ResultCacheError> {
        // The declared outputs: the run has checked that each was written.
        let task_name = format!("{}.{}", task.worker, task.function);
        self.put_entry(key, &task_name, &task.loc, &task.outputs, storage)
    }

    /// Writes the entry `key` -> outputs `ports` of the node at `loc`.
    fn put_entry(
        &self,
        key: &str,
        task_name: &str,
        loc: &Loc,
        ports: &[String],
        storage: &dyn ControllerStorage,
    ) -> Result<(), ResultCacheError> {
        let mut outputs = Vec::with_capacity(ports.len());
        for port in ports {
            let path = storage.output_path(loc, port);
            let bytes = storage.read(&path)?;
            // Taken after the read: a file changed in between fails the
            // hash check later, never passes it.
            let recorded = self
                .store
                .tkr_dir()
                .join(storage.workflow_id().to_string())
                .join(loc.as_str())
                .join("outputs")
                .join(port);
            let file_stamp = std::fs::metadata(recorded)
                .ok()
                .map(|m| tierkreis_storage::result_cache::FileStamp::of(&m));
            outputs.push(CachedOutput {
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                port: port.clone(),
                file_stamp,
            });
        }
        let entry = CacheEntry {
            key: key.to_string(),
            task: task_name.to_string(),
            run: storage.workflow_id().to_string(),
            loc: loc.to_string(),
            outputs,
            created: tierkreis_storage::controller::iso_utc(std::time::SystemTime::now()),
        };
        self.store.put(&entry)?;
        Ok(())
    }
}

/// Whether a value's bytes hold a graph (the marker of graph JSON), at its
/// top level or anywhere inside.
fn holds_a_graph(bytes: &[u8]) -> bool {
    const MARKER: &[u8] = b"\"graph_output_idx\"";
    bytes.windows(MARKER.len()).any(|w| w == MARKER)
}

/// Adds to `functions` every function the graph in `bytes` names, in it and
/// in the graphs of its `const` nodes; `None` when `bytes` holds a graph
/// other than at its top level (inside a list, say), whose functions this
/// does not find, so its node must not be reused whole.
fn functions_named(bytes: &[u8], functions: &mut std::collections::BTreeSet<String>) -> Option<()> {
    let value = Value::from_bytes(bytes);
    let graph = tierkreis_core::GraphData::from_value(&value).ok()?;
    functions.extend(graph.function_names().into_iter().map(String::from));
    Some(())
}

/// The result cache as the scheduler sees it for nested graphs: lookups
/// happen in place; a miss that finishes goes to the run's recorder.
#[derive(Debug)]
pub struct NestedGraphCache {
    pub cache: std::sync::Arc<ResultCache>,
    pub recorder: std::sync::mpsc::Sender<Recording>,
}

impl NestedGraphReuse for NestedGraphCache {
    fn reuse(
        &self,
        loc: &Loc,
        kind: &NestedGraphKind,
        links: &[InputLink],
        storage: &dyn ControllerStorage,
    ) -> Result<NestedGraphReuseOutcome, StorageError> {
        match self.cache.try_reuse_nested_graph(loc, kind, links, storage) {
            Ok(Reuse::Hit { run, loc: from }) => {
                tracing::debug!(%loc, from_run = %run, %from, "reused a whole nested graph");
                Ok(NestedGraphReuseOutcome::Reused)
            }
            Ok(Reuse::Miss { key }) => Ok(NestedGraphReuseOutcome::Miss { key }),
            Ok(Reuse::NotEligible) => Ok(NestedGraphReuseOutcome::NotEligible),
            Err(ResultCacheError::Storage(e)) => Err(e),
            Err(ResultCacheError::Store(e)) => {
                tracing::warn!(%loc, error = %e, "result cache unusable for a nested graph; running it");
                Ok(NestedGraphReuseOutcome::NotEligible)
            }
        }
    }

    fn finished(&self, key: String, loc: &Loc, kind: NestedGraphKind) {
        // The recorder lives as long as the run's scheduler.
        let _ = self.recorder.send(Recording::NestedGraph {
            key,
            loc: loc.clone(),
            kind,
        });
    }
}

fn cache_source_json(entry: &CacheEntry) -> String {
    let mut m = indexmap::IndexMap::new();
    m.insert("run".to_string(), Value::Str(entry.run.clone()));
    m.insert("loc".to_string(), Value::Str(entry.loc.clone()));
    m.insert("key".to_string(), Value::Str(entry.key.clone()));
    tierkreis_core::json::to_string_compact(&Value::Map(m))
}

/// A worker's identity for cache keys: its kind, program, arguments, working
/// folder and configured environment, plus the SHA-256 of every file among
/// them (the executable found on `PATH` or given, a script argument such as
/// `main.sh`, and a Python worker's `main.py`, `pyproject.toml` and
/// `uv.lock`), so rebuilding or editing the worker changes every key.
///
/// With `memo`, content hashes are remembered in that folder keyed by each
/// file's path, device, inode, size and modification time (as `make` and
/// `ccache` trust them), so a large executable is hashed again only when it
/// changed, not on every run.
pub fn worker_identity(
    plan: &LaunchPlan,
    path: Option<&std::ffi::OsStr>,
    memo: Option<&Path>,
) -> String {
    let mut parts = vec![
        format!("kind={}", plan.kind.name()),
        format!("program={}", plan.program.to_string_lossy()),
    ];
    for a in &plan.args {
        parts.push(format!("arg={}", a.to_string_lossy()));
    }
    if let Some(cwd) = &plan.cwd {
        parts.push(format!("cwd={}", cwd.display()));
    }
    for (k, v) in &plan.env {
        parts.push(format!("env={k}={v}"));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let program = Path::new(&plan.program);
    if program.components().count() > 1 {
        files.push(program.to_path_buf());
    } else if let Some(found) = on_path(&plan.program, path) {
        files.push(found);
    }
    let base = plan.cwd.clone().unwrap_or_default();
    for a in &plan.args {
        let p = base.join(a);
        if p.is_file() {
            files.push(p);
        }
    }
    if let Some(cwd) = &plan.cwd {
        for name in ["main.py", "pyproject.toml", "uv.lock"] {
            let p = cwd.join(name);
            if p.is_file() && !files.contains(&p) {
                files.push(p);
            }
        }
    }
    for f in files {
        match file_hash(&f, memo) {
            Ok(h) => parts.push(format!("file={}:{h}", f.display())),
            Err(e) => parts.push(format!("file={}:unreadable:{e}", f.display())),
        }
    }
    parts.join("\n")
}

/// Builtins whose result is not a function of their inputs: never part of a
/// nested graph reused whole, unless their `cache = true` asks for it.
pub const NON_DETERMINISTIC_BUILTINS: &[&str] = &["rand_int"];

/// `.cache/<this>`: remembered content hashes of worker files.
pub const FILE_HASHES_DIR: &str = "file-hashes";

/// SHA-256 of the file `f`, remembered in `memo` under its stat identity.
fn file_hash(f: &Path, memo: Option<&Path>) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let Some(memo) = memo else {
        return Ok(sha256_hex(&std::fs::read(f)?));
    };
    let m = std::fs::metadata(f)?;
    let stamp = format!(
        "{}\n{}\n{}\n{}\n{}.{}",
        f.display(),
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    );
    let entry = memo.join(sha256_hex(stamp.as_bytes()));
    if let Ok(h) = std::fs::read_to_string(&entry) {
        if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(h);
        }
    }
    let h = sha256_hex(&std::fs::read(f)?);
    // Best effort: a memo that cannot be written only costs a rehash.
    let tmp = memo.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        sha256_hex(stamp.as_bytes())
    ));
    if std::fs::create_dir_all(memo).is_ok() && std::fs::write(&tmp, &h).is_ok() {
        let _ = std::fs::rename(&tmp, &entry);
    }
    Ok(h)
}

fn on_path(name: &std::ffi::OsStr, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let path = path
        .map(std::ffi::OsStr::to_os_string)
        .or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The cache a run uses when its configuration or `--cache` asks for one:
/// entries in `tkr_dir`, workers identified through discovery in `config`
/// and `registries`. Builtins are left out unless `[workers.builtins]` says
/// `cache = true`; a worker or route with `cache = false` is left out. The
/// one recipe for `tkr run --cache` and the embedded engine.
pub fn configured_cache(
    tkr_dir: &Path,
    config: &crate::executor::ExecutorConfig,
    registries: &[PathBuf],
) -> ResultCache {
    let discovery = crate::executor::Discovery::new(config.clone(), registries.to_vec());
    let config = config.clone();
    let memo = tkr_dir
        .join(tierkreis_storage::result_cache::CACHE_DIR)
        .join(FILE_HASHES_DIR);
    let identity = move |worker: &str, function: &str, in_nested_graph: bool| {
        let wanted = config.settings_for(worker, function).cache;
        if worker == "builtins" {
            // Deterministic (but for the random ones), and cheaper to run
            // than to look up on their own; inside a nested graph reused
            // whole they cost nothing.
            let cached = if in_nested_graph && !NON_DETERMINISTIC_BUILTINS.contains(&function) {
                wanted != Some(false)
            } else {
                wanted == Some(true)
            };
            return cached
                .then(|| format!("builtins of tierkreis-rs {}", env!("CARGO_PKG_VERSION")));
        }
        if wanted == Some(false) {
            return None;
        }
        let plan = discovery.resolve(worker, function).ok()?;
        Some(worker_identity(&plan, None, Some(&memo)))
    };
    let identity = std::sync::Arc::new(identity);
    let nested = std::sync::Arc::clone(&identity);
    ResultCache::new(tkr_dir, move |worker, function| {
        identity(worker, function, false)
    })
    .with_nested_graphs(move |worker, function| nested(worker, function, true))
}
