//! The workflows of a checkpoint folder and how each stands (running,
//! finished, failed, interrupted), read from the files both implementations
//! write, so runs of the Python reference show up too. The status and the
//! listing are the storage crate's ([`tierkreis_storage::workflow_status`]),
//! the same `tkr ls` uses.

use std::path::Path;

use serde::Serialize;
use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, FileControllerStorage};
use uuid::Uuid;

pub use tierkreis_storage::workflow_status::REFERENCE_ACTIVE_SECS;
pub use tierkreis_storage::WorkflowStatus;

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
    let ids = tierkreis_storage::workflow_ids(tkr_dir).unwrap_or_else(|e| {
        tracing::warn!(dir = %tkr_dir.display(), error = %e, "cannot list the checkpoint folder");
        Vec::new()
    });
    let mut out: Vec<WorkflowSummary> = ids
        .into_iter()
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
    let errors = tierkreis_storage::failed_locations_recorded_at_end(s);
    let status = status(s);
    let end_time = tierkreis_storage::workflow_end_time(s, status);
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

/// How the workflow stands: [`tierkreis_storage::workflow_status`].
pub fn status(s: &FileControllerStorage) -> WorkflowStatus {
    tierkreis_storage::workflow_status(s)
}
