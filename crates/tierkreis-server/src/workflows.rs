//! The workflows of a checkpoint folder and how each stands (running,
//! finished, failed, interrupted), read from the files both implementations
//! write, so runs of the Python reference show up too.
//!
//! Whether a controller is running is read without taking its lock: the
//! lock file's inode is looked up in `/proc/locks` (taking the lock to test it
//! would make a controller starting at that instant fail). A run of the
//! reference has no lock file; it counts as running while its folder saw
//! activity in the last [`REFERENCE_ACTIVE_SECS`] seconds.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tierkreis_core::Loc;
use tierkreis_storage::controller::iso_utc;
use tierkreis_storage::{lock_state, ControllerStorage, FileControllerStorage, LockState};
use uuid::Uuid;

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
    /// `-/_error` exists: a node failed.
    Failed,
    /// Neither finished nor failed, and no controller runs it: `tkr resume`
    /// continues it.
    Interrupted,
    /// Paused at breakpoints (`debug/breakpoints/<loc>`, by either
    /// implementation); `POST /api/workflows/{id}/continue` resumes it.
    Paused,
}

/// One workflow as the list shows it (the reference's `WorkflowDisplay`
/// plus status and end time).
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowSummary {
    pub id: String,
    /// The UUID as an integer (what `--run-id` takes), as a decimal string
    /// because JavaScript numbers cannot hold 128 bits.
    pub id_int: String,
    pub name: Option<String>,
    pub status: WorkflowStatus,
    pub start_time: Option<String>,
    /// The completion time, or when the failure was recorded.
    pub end_time: Option<String>,
    /// Locations of failed nodes, as the root's `_error` lists them.
    pub errors: Vec<String>,
    /// Where a paused run waits (empty unless the status is paused).
    pub paused_at: Vec<String>,
}

/// The storage of workflow `id` under `tkr_dir`.
pub fn storage(tkr_dir: &Path, id: Uuid) -> FileControllerStorage {
    FileControllerStorage::new(tkr_dir, id, None)
}

/// Every workflow folder (named by a UUID) in `tkr_dir`, sorted by start
/// time, newest first. A missing `tkr_dir` has none.
pub fn list(tkr_dir: &Path) -> Vec<WorkflowSummary> {
    let Ok(entries) = fs::read_dir(tkr_dir) else {
        return Vec::new();
    };
    let mut out: Vec<WorkflowSummary> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Uuid::parse_str(&e.file_name().to_string_lossy()).ok())
        .map(|id| summary(&storage(tkr_dir, id)))
        .collect();
    out.sort_by(|a, b| {
        b.start_time
            .cmp(&a.start_time)
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// The summary of one workflow (which must exist).
pub fn summary(s: &FileControllerStorage) -> WorkflowSummary {
    let meta = s.read_workflow_metadata().ok();
    let errors = root_errors(s);
    let status = status(s);
    let end_time = s.read_workflow_completion_time().or_else(|| {
        (status == WorkflowStatus::Failed)
            .then(|| s.modified_time(&s.error_path(&Loc::root())).ok().flatten())
            .flatten()
            .map(iso_utc)
    });
    let id = s.workflow_id();
    let paused_at = if status == WorkflowStatus::Paused {
        tierkreis_storage::breakpoints::paused_locations(s)
            .iter()
            .map(Loc::to_string)
            .collect()
    } else {
        Vec::new()
    };
    WorkflowSummary {
        id: id.to_string(),
        id_int: id.as_u128().to_string(),
        name: meta.as_ref().and_then(|m| m.name.clone()),
        status,
        start_time: meta.and_then(|m| m.start_time),
        end_time,
        errors,
        paused_at,
    }
}

/// The failed locations the root's `_error` lists (one per line).
pub fn root_errors(s: &FileControllerStorage) -> Vec<String> {
    let root = Loc::root();
    if !s.node_has_error(&root) {
        return Vec::new();
    }
    let text = s.read_errors(&root).unwrap_or_default();
    let mut errors: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    errors.sort();
    errors.dedup();
    errors
}

/// How the workflow stands; see the module docs for "running".
pub fn status(s: &FileControllerStorage) -> WorkflowStatus {
    let root = Loc::root();
    if s.is_node_finished(&root) {
        return WorkflowStatus::Finished;
    }
    let lock = lock_state(s.workflow_dir());
    if !matches!(lock, LockState::Held { .. })
        && !s.node_has_error(&root)
        && !tierkreis_storage::breakpoints::paused_locations(s).is_empty()
    {
        return WorkflowStatus::Paused;
    }
    match lock {
        LockState::Held { .. } => return WorkflowStatus::Running,
        LockState::Free => {}
        LockState::Absent => {
            // No lock file: a run of the reference.
            if !s.node_has_error(&root) && recently_active(s) {
                return WorkflowStatus::Running;
            }
        }
    }
    if s.node_has_error(&root) {
        WorkflowStatus::Failed
    } else {
        WorkflowStatus::Interrupted
    }
}

/// Whether the workflow folder, its log, or the root's metadata changed in
/// the last [`REFERENCE_ACTIVE_SECS`] seconds.
fn recently_active(s: &FileControllerStorage) -> bool {
    let dir = s.workflow_dir();
    let paths: [PathBuf; 4] = [
        dir.to_path_buf(),
        s.logs_path(),
        s.workflow_metadata_path(),
        s.metadata_path(&Loc::root()),
    ];
    let now = SystemTime::now();
    paths.iter().any(|p| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok().or(Some(Duration::ZERO)))
            .is_some_and(|age| age < Duration::from_secs(REFERENCE_ACTIVE_SECS))
    })
}
