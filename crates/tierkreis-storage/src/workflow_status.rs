//! How a workflow and its nodes stand, decided in one place for every
//! reader (`tkr ls`/`show`/`clean` and `tkr serve`), so the command line and
//! the web view never disagree about the same folder.
//!
//! A workflow is *running* while a live controller holds its
//! `.controller.lock` (read without taking the lock, see [`lock_state`]),
//! whatever its markers say (a resume or restart is under way, and `tkr
//! clean` must leave it alone). Otherwise it is *finished* when `-/_done`
//! exists; *failed* when `-/_error` exists; *running* too when it has no
//! lock file at all (a run of the Python reference, which takes no lock) and
//! its folder changed in the last [`REFERENCE_ACTIVE_SECS`] seconds; else
//! *interrupted* (crash, Ctrl-C, stop): `tkr resume` continues it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tierkreis_core::Loc;
use uuid::Uuid;

use crate::lock::{lock_state, LockState};
use crate::ControllerStorage;

/// A run without a lock file (the reference's) counts as running while its
/// folder changed this recently.
pub const REFERENCE_ACTIVE_SECS: u64 = 60;

/// How a workflow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    /// A controller is working on it.
    Running,
    /// `-/_done` exists.
    Finished,
    /// `-/_error` exists: a node failed, and no controller runs it.
    Failed,
    /// Neither finished nor failed, and no controller runs it: `tkr resume`
    /// continues it.
    Interrupted,
    /// Written but no node of it ever started, e.g. a graph shown by
    /// `tkr vis --graph`; `tkr resume` would run it.
    #[serde(rename = "not started")]
    NotStarted,
    /// Paused at breakpoints (`debug/breakpoints/<loc>`, as the reference
    /// records it, by either implementation); `tkr resume` continues past them.
    Paused,
}

impl WorkflowStatus {
    /// The word every output uses.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Running => "running",
            WorkflowStatus::Finished => "finished",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::Interrupted => "interrupted",
            WorkflowStatus::NotStarted => "not started",
            WorkflowStatus::Paused => "paused",
        }
    }
}

/// How the workflow in `storage` stands (see the module docs).
pub fn workflow_status(storage: &dyn ControllerStorage) -> WorkflowStatus {
    let root = Loc::root();
    let lock = lock_state(storage.workflow_dir());
    if matches!(lock, LockState::Held { .. }) {
        return WorkflowStatus::Running;
    }
    if storage.is_node_finished(&root) {
        return WorkflowStatus::Finished;
    }
    if storage.node_has_error(&root) {
        return WorkflowStatus::Failed;
    }
    if !crate::breakpoints::paused_locations(storage).is_empty() {
        return WorkflowStatus::Paused;
    }
    if lock == LockState::Absent && reference_run_recently_active(storage) {
        return WorkflowStatus::Running;
    }
    // No node has started: a graph only written (`tkr vis --graph` shows
    // one), or a controller stopped before starting anything.
    if !any_top_level_node_started(storage) {
        return WorkflowStatus::NotStarted;
    }
    WorkflowStatus::Interrupted
}

/// When the run in `storage` (whose status is `status`) ended, in the naive
/// local time its `start_time` is written in (Python's
/// `datetime.now().isoformat()`), so the two compare and subtract: the
/// `completion_time` of a finished run; for a failed run (which has none,
/// as in the reference), the time its root's `_error` was written, unless
/// that comes before the start (a copied folder keeps no true times); else
/// `None`.
pub fn workflow_end_time(
    storage: &dyn ControllerStorage,
    status: WorkflowStatus,
) -> Option<String> {
    if let Some(end) = storage.read_workflow_completion_time() {
        return Some(end);
    }
    if status != WorkflowStatus::Failed {
        return None;
    }
    let failed_at = storage
        .modified_time(&storage.error_path(&Loc::root()))
        .ok()
        .flatten()?;
    let end = crate::timestamps::iso_naive(failed_at);
    let start = storage
        .read_workflow_metadata()
        .ok()
        .and_then(|m| m.start_time)
        .and_then(|t| crate::timestamps::naive_iso_seconds(&t));
    match (start, crate::timestamps::naive_iso_seconds(&end)) {
        (Some(start), Some(end_secs)) if end_secs < start => None,
        _ => Some(end),
    }
}

/// Whether a node of the top-level graph (`-.N0`, `-.N1`, ...) has a
/// `nodedef`, which a controller writes when it starts the node.
fn any_top_level_node_started(storage: &dyn ControllerStorage) -> bool {
    let Ok(entries) = std::fs::read_dir(storage.workflow_dir()) else {
        return true;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.strip_prefix("-.N")
            .is_some_and(|i| i.parse::<u64>().is_ok())
            && e.path().join("nodedef").is_file()
    })
}

/// Whether the workflow folder, its log, its metadata or the root's
/// metadata changed in the last [`REFERENCE_ACTIVE_SECS`] seconds.
fn reference_run_recently_active(storage: &dyn ControllerStorage) -> bool {
    let paths = [
        storage.workflow_dir().to_path_buf(),
        storage.logs_path(),
        storage.workflow_metadata_path(),
        storage.metadata_path(&Loc::root()),
    ];
    let now = SystemTime::now();
    paths.iter().any(|p| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            // A time in the future (clock skew) counts as just now.
            .map(|t| now.duration_since(t).unwrap_or(Duration::ZERO))
            .is_some_and(|age| age < Duration::from_secs(REFERENCE_ACTIVE_SECS))
    })
}

/// The ids of every workflow in the checkpoint folder `tkr_dir`: its
/// sub-folders named by a UUID, sorted. A missing `tkr_dir` has none.
pub fn workflow_ids(tkr_dir: &Path) -> std::io::Result<Vec<Uuid>> {
    let entries = match std::fs::read_dir(tkr_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Ok(id) = Uuid::parse_str(&entry.file_name().to_string_lossy()) {
            if entry.path().is_dir() {
                ids.push(id);
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// How many nodes of the workflow have started (have a `nodedef`),
/// counting every scope: loop iterations, map elements and the nodes inside
/// them, and the root. `tkr ls` and the end of `tkr run` both report this.
pub fn started_node_count(storage: &dyn ControllerStorage) -> Result<usize, crate::StorageError> {
    let mut count = 0;
    for path in storage.list_subpaths(storage.workflow_dir())? {
        let is_node = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('-'));
        if is_node && storage.exists(&path.join("nodedef")) {
            count += 1;
        }
    }
    Ok(count)
}

/// How one node stands, from its own markers only (callers add what they
/// know beyond that, e.g. whether the controller is alive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    /// No `nodedef` yet.
    NotStarted,
    /// Its `nodedef` is written, it is neither finished nor failed.
    Started,
    /// `_done` exists (even beside a stale `_error` a restart left).
    Finished,
    /// `_error` exists and `_done` does not.
    Failed,
}

/// How the node at `loc` stands (see [`NodeStatus`]).
pub fn node_status(storage: &dyn ControllerStorage, loc: &Loc) -> NodeStatus {
    if storage.is_node_finished(loc) {
        NodeStatus::Finished
    } else if storage.node_has_error(loc) {
        NodeStatus::Failed
    } else if storage.is_node_started(loc) {
        NodeStatus::Started
    } else {
        NodeStatus::NotStarted
    }
}

/// The failed nodes of the run in `storage`, sorted: every node location
/// below the root whose [`node_status`] is [`NodeStatus::Failed`] (an
/// `_error` marker and no `_done`). `tkr show`, `tkr errors`, `tkr ls` and
/// the web view all find failed nodes here.
pub fn failed_nodes(storage: &dyn ControllerStorage) -> Result<Vec<Loc>, crate::StorageError> {
    let listed = storage.list_subpaths(storage.workflow_dir())?;
    let locs: Vec<Loc> = listed
        .iter()
        .filter_map(|path| path.file_name()?.to_str())
        .filter_map(|name| Loc::parse(name).ok())
        .collect();
    Ok(failed_nodes_among(storage, &locs))
}

/// [`failed_nodes`] for a caller that has listed the run's node folders
/// already (`tkr show` walks them for its tree): the same rule, without a
/// second listing.
pub fn failed_nodes_among(storage: &dyn ControllerStorage, locs: &[Loc]) -> Vec<Loc> {
    let mut failed: Vec<Loc> = locs
        .iter()
        // `node_has_error` first: one check for the many nodes without it.
        .filter(|loc| {
            !loc.is_root()
                && storage.node_has_error(loc)
                && node_status(storage, loc) == NodeStatus::Failed
        })
        .cloned()
        .collect();
    failed.sort();
    failed
}

/// The failed locations the root's `_error` text lists, one a line, sorted
/// and without repeats: what a failed run recorded when it ended (both
/// implementations write it; the reference visualizer's `errors`). Empty
/// while the root has no `_error`.
pub fn failed_locations_recorded_at_end(storage: &dyn ControllerStorage) -> Vec<String> {
    let root = Loc::root();
    if !storage.node_has_error(&root) {
        return Vec::new();
    }
    let text = storage.read_errors(&root).unwrap_or_default();
    let mut locations: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    locations.sort();
    locations.dedup();
    locations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileControllerStorage, WorkflowLock};

    #[test]
    fn status_follows_lock_then_done_then_error_then_activity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = FileControllerStorage::new(dir.path(), Uuid::from_u128(1), None);
        st.write_workflow_metadata().expect("metadata");
        // No lock file and just written: a reference run at work.
        assert_eq!(workflow_status(&st), WorkflowStatus::Running);
        let lock = WorkflowLock::acquire(st.workflow_dir()).expect("lock");
        assert_eq!(workflow_status(&st), WorkflowStatus::Running);
        st.mark_node_finished(&Loc::root()).expect("done");
        assert_eq!(workflow_status(&st), WorkflowStatus::Running);
        drop(lock);
        assert_eq!(workflow_status(&st), WorkflowStatus::Finished);
        std::fs::remove_file(st.done_path(&Loc::root())).expect("undone");
        st.mark_node_error(&Loc::root()).expect("error");
        assert_eq!(workflow_status(&st), WorkflowStatus::Failed);

        let st = FileControllerStorage::new(dir.path(), Uuid::from_u128(2), None);
        st.write_workflow_metadata().expect("metadata");
        drop(WorkflowLock::acquire(st.workflow_dir()).expect("lock"));
        assert_eq!(workflow_status(&st), WorkflowStatus::NotStarted);
        let first = st.workflow_dir().join("-.N0");
        std::fs::create_dir_all(&first).expect("node folder");
        std::fs::write(first.join("nodedef"), "{}").expect("nodedef");
        assert_eq!(workflow_status(&st), WorkflowStatus::Interrupted);
        assert_eq!(
            workflow_ids(dir.path()).expect("ids"),
            vec![Uuid::from_u128(1), Uuid::from_u128(2)]
        );
        assert!(workflow_ids(&dir.path().join("missing"))
            .expect("none")
            .is_empty());
    }

    #[test]
    fn node_status_prefers_done_over_a_stale_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = FileControllerStorage::new(dir.path(), Uuid::from_u128(1), None);
        let loc: Loc = "-.N1".parse().expect("loc");
        assert_eq!(node_status(&st, &loc), NodeStatus::NotStarted);
        st.mark_node_error(&loc).expect("error");
        assert_eq!(node_status(&st, &loc), NodeStatus::Failed);
        st.mark_node_finished(&loc).expect("done");
        assert_eq!(node_status(&st, &loc), NodeStatus::Finished);
    }

    #[test]
    fn failed_nodes_are_those_whose_status_is_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = FileControllerStorage::new(dir.path(), Uuid::from_u128(1), None);
        let loc = |s: &str| -> Loc { s.parse().expect("loc") };
        st.mark_node_error(&loc("-.N1")).expect("error");
        st.mark_node_error(&loc("-.N2.M0.N1")).expect("error");
        // A stale `_error` beside `_done` is not a failure.
        st.mark_node_error(&loc("-.N3")).expect("error");
        st.mark_node_finished(&loc("-.N3")).expect("done");
        // The root's `_error` is the run's, not a node's.
        st.write_node_errors(&Loc::root(), "-.N1\n-.N1\n")
            .expect("root");
        st.mark_node_error(&Loc::root()).expect("root");
        assert_eq!(
            failed_nodes(&st).expect("failed"),
            vec![loc("-.N1"), loc("-.N2.M0.N1")]
        );
        assert_eq!(failed_locations_recorded_at_end(&st), vec!["-.N1"]);
    }
}
