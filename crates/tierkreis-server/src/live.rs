//! Live updates: file-system notifications (inotify through `notify`) on the
//! folders a page is looking at, turned into server-sent events carrying the
//! new state of the nodes that changed.
//!
//! Nothing polls and nothing walks the checkpoint folder. Per workflow being
//! viewed there is one watcher: on the workflow folder itself (new node
//! folders, the log, the lock file closing when a controller exits) and on
//! the folders of the viewed scopes and their direct children (markers
//! appearing in them). A node folder created later under a viewed scope is
//! added to the watch as it appears. Changes are batched for
//! [`BATCH_WINDOW`] and broadcast as the set of changed top-level names;
//! each subscriber keeps those of its scope and reads their new state.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use tierkreis_core::Loc;
use tokio::sync::broadcast;

use crate::error::ServeError;

/// How long changes are gathered before they are sent.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// The top-level names (node folders like `-.N3`, files like `logs`) that
/// changed in a workflow folder.
pub type Change = Arc<BTreeSet<String>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The watch of one workflow folder, shared by its subscribers.
#[derive(Debug)]
pub struct WorkflowWatch {
    dir: PathBuf,
    tx: broadcast::Sender<Change>,
    watcher: Mutex<notify::RecommendedWatcher>,
    /// Viewed scopes and how many subscribers view each.
    scopes: Mutex<HashMap<Loc, usize>>,
    watched: Mutex<HashSet<PathBuf>>,
}

impl WorkflowWatch {
    /// Receives the changes of this workflow from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// Watches the folders `locs` (those that exist).
    fn watch_locs(&self, locs: impl IntoIterator<Item = Loc>) {
        for loc in locs {
            self.watch_dir(&self.dir.join(loc.as_str()));
        }
    }

    fn watch_dir(&self, path: &Path) {
        if lock(&self.watched).contains(path) || !path.is_dir() {
            return;
        }
        match lock(&self.watcher).watch(path, RecursiveMode::NonRecursive) {
            Ok(()) => {
                lock(&self.watched).insert(path.to_path_buf());
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot watch"),
        }
    }

    /// Whether a new node folder `loc` should be watched: it is a viewed
    /// scope or a direct child of one.
    fn wanted(&self, loc: &Loc) -> bool {
        let scopes = lock(&self.scopes);
        scopes.contains_key(loc) || loc.pop_last().is_some_and(|(_, p)| scopes.contains_key(&p))
    }
}

/// Registers a viewer of one scope; dropping it unregisters.
#[derive(Debug)]
pub struct ScopeGuard {
    watch: Arc<WorkflowWatch>,
    scope: Loc,
}

impl ScopeGuard {
    pub fn watch(&self) -> &Arc<WorkflowWatch> {
        &self.watch
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let mut scopes = lock(&self.watch.scopes);
        if let Some(n) = scopes.get_mut(&self.scope) {
            *n -= 1;
            if *n == 0 {
                scopes.remove(&self.scope);
            }
        }
    }
}

/// The watches of all viewed workflows (and of the checkpoint folder).
#[derive(Debug, Default)]
pub struct Watches {
    workflows: Mutex<HashMap<PathBuf, Weak<WorkflowWatch>>>,
}

impl Watches {
    /// Views the scope `scope` of the workflow in `dir`; `children` are the
    /// scope's direct children that may already exist.
    pub fn view(
        &self,
        dir: &Path,
        scope: &Loc,
        children: Vec<Loc>,
    ) -> Result<ScopeGuard, ServeError> {
        let watch = {
            let mut all = lock(&self.workflows);
            all.retain(|_, w| w.strong_count() > 0);
            match all.get(dir).and_then(Weak::upgrade) {
                Some(w) => w,
                None => {
                    let w = start_workflow_watch(dir)?;
                    all.insert(dir.to_path_buf(), Arc::downgrade(&w));
                    w
                }
            }
        };
        *lock(&watch.scopes).entry(scope.clone()).or_insert(0) += 1;
        watch.watch_locs(std::iter::once(scope.clone()).chain(children));
        Ok(ScopeGuard {
            watch,
            scope: scope.clone(),
        })
    }
}

/// Starts watching the workflow folder `dir` (non-recursively) and the
/// root's folder; events are batched on a thread of their own, which ends
/// when the watch is dropped.
fn start_workflow_watch(dir: &Path) -> Result<Arc<WorkflowWatch>, ServeError> {
    let (raw_tx, raw_rx) = mpsc::channel::<notify::Event>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let _ = raw_tx.send(ev);
        }
    })
    .map_err(|source| ServeError::Watch {
        path: dir.to_path_buf(),
        source,
    })?;
    let (tx, _) = broadcast::channel(256);
    let watch = Arc::new(WorkflowWatch {
        dir: dir.to_path_buf(),
        tx,
        watcher: Mutex::new(watcher),
        scopes: Mutex::new(HashMap::new()),
        watched: Mutex::new(HashSet::new()),
    });
    lock(&watch.watcher)
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|source| ServeError::Watch {
            path: dir.to_path_buf(),
            source,
        })?;
    lock(&watch.watched).insert(dir.to_path_buf());
    watch.watch_locs([Loc::root()]);
    let weak = Arc::downgrade(&watch);
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("tkr-serve-watch".into())
        .spawn(move || batch_loop(&dir, raw_rx, weak))
        .map_err(|source| ServeError::Thread { source })?;
    Ok(watch)
}

/// Gathers raw events for [`BATCH_WINDOW`], adds watches for new node
/// folders under viewed scopes, and broadcasts the changed names.
fn batch_loop(dir: &Path, rx: mpsc::Receiver<notify::Event>, watch: Weak<WorkflowWatch>) {
    while let Ok(first) = rx.recv() {
        let mut events = vec![first];
        let deadline = Instant::now() + BATCH_WINDOW;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(ev) => events.push(ev),
                Err(_) => break,
            }
        }
        let Some(watch) = watch.upgrade() else {
            return;
        };
        let mut names = BTreeSet::new();
        for ev in &events {
            if matches!(
                ev.kind,
                EventKind::Access(notify::event::AccessKind::Open(_))
            ) {
                continue;
            }
            for path in &ev.paths {
                let Ok(rel) = path.strip_prefix(dir) else {
                    continue;
                };
                let Some(first) = rel.components().next() else {
                    continue;
                };
                let name = first.as_os_str().to_string_lossy().into_owned();
                let top_level = rel.components().count() == 1;
                if top_level && matches!(ev.kind, EventKind::Create(_)) {
                    if let Ok(loc) = Loc::parse(&name) {
                        if watch.wanted(&loc) {
                            watch.watch_dir(path);
                        }
                    }
                }
                names.insert(name);
            }
        }
        if !names.is_empty() {
            let _ = watch.tx.send(Arc::new(names));
        }
    }
}

/// A watch on the checkpoint folder itself: a message whenever a workflow
/// folder appears or goes.
#[derive(Debug)]
pub struct DirWatch {
    _watcher: notify::RecommendedWatcher,
    tx: broadcast::Sender<()>,
}

impl DirWatch {
    /// Watches `tkr_dir` (non-recursively).
    pub fn start(tkr_dir: &Path) -> Result<DirWatch, ServeError> {
        let (tx, _) = broadcast::channel(16);
        let sender = tx.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if matches!(ev.kind, EventKind::Create(_) | EventKind::Remove(_)) {
                    let _ = sender.send(());
                }
            }
        })
        .map_err(|source| ServeError::Watch {
            path: tkr_dir.to_path_buf(),
            source,
        })?;
        watcher
            .watch(tkr_dir, RecursiveMode::NonRecursive)
            .map_err(|source| ServeError::Watch {
                path: tkr_dir.to_path_buf(),
                source,
            })?;
        Ok(DirWatch {
            _watcher: watcher,
            tx,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.tx.subscribe()
    }
}
