//! What a workflow folder says about its run as a whole: name, status (from
//! the markers and the controller lock), start and end times, node and
//! failure counts. Shared by `tkr ls`, `show`, `clean` and the resolution of
//! workflow names.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tierkreis_storage::{ControllerStorage, FileControllerStorage};
use uuid::Uuid;

use super::render;

/// How a workflow stands: the storage crate's one definition, shared with
/// `tkr serve`.
pub use tierkreis_storage::WorkflowStatus as Status;

/// The status of the workflow stored in `storage` (see
/// [`tierkreis_storage::workflow_status`]).
pub fn status(storage: &dyn ControllerStorage) -> Status {
    tierkreis_storage::workflow_status(storage)
}

/// One workflow folder, summarised.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: Uuid,
    pub dir: PathBuf,
    pub name: Option<String>,
    pub status: Status,
    /// Naive ISO 8601, from the metadata, else the folder's mtime (UTC).
    pub start_time: String,
    /// Naive ISO 8601 end time, when finished or failed.
    pub end_time: Option<String>,
    /// Seconds the run took (finished or failed), or has been running so
    /// far; `None` when not known (interrupted).
    pub duration: Option<f64>,
    /// Folders with a `nodedef`: nodes started.
    pub nodes: usize,
    /// Failed nodes ([`tierkreis_storage::failed_nodes`]).
    pub failures: usize,
    /// For sorting: seconds of the start time.
    sort_key: f64,
}

/// Summarises the workflow folder `dir` (named by `id`).
pub fn summarise(tkr_dir: &Path, id: Uuid) -> Summary {
    let storage = FileControllerStorage::new(tkr_dir, id, None);
    let dir = storage.workflow_dir().to_path_buf();
    let meta = storage.read_workflow_metadata().ok();
    let name = meta.as_ref().and_then(|m| m.name.clone());
    let status = status(&storage);
    let folder_time = std::fs::metadata(&dir).and_then(|m| m.modified()).ok();
    let start_time = meta
        .as_ref()
        .and_then(|m| m.start_time.clone())
        .or_else(|| folder_time.map(tierkreis_storage::controller::iso_naive))
        .unwrap_or_default();
    let end_time = tierkreis_storage::workflow_end_time(&storage, status);
    let start_secs = render::parse_naive_iso(&start_time);
    let duration = match (&end_time, status) {
        (Some(end), _) => match (start_secs, render::parse_naive_iso(end)) {
            (Some(s), Some(e)) if e >= s => Some(((e - s) * 1e6).round() / 1e6),
            _ => None,
        },
        // The workflow `_metadata` is written when the run starts and only
        // touched again when it finishes, so its mtime is the start instant.
        (None, Status::Running) => std::fs::metadata(storage.workflow_metadata_path())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d| d.as_secs_f64()),
        (None, _) => None,
    };
    let nodes = tierkreis_storage::workflow_status::started_node_count(&storage).unwrap_or(0);
    let failures = tierkreis_storage::failed_nodes(&storage).map_or(0, |f| f.len());
    Summary {
        id,
        dir,
        name,
        status,
        start_time,
        end_time,
        duration,
        nodes,
        failures,
        sort_key: start_secs.unwrap_or(0.0),
    }
}

/// The ids of every workflow folder (named by a UUID) in `tkr_dir`.
pub fn ids(tkr_dir: &Path) -> std::io::Result<Vec<Uuid>> {
    tierkreis_storage::workflow_ids(tkr_dir)
}

/// Every workflow in `tkr_dir`, newest first (by start time, then id).
pub fn list(tkr_dir: &Path) -> std::io::Result<Vec<Summary>> {
    let mut all: Vec<Summary> = ids(tkr_dir)?
        .into_iter()
        .map(|id| summarise(tkr_dir, id))
        .collect();
    all.sort_by(|a, b| {
        b.sort_key
            .total_cmp(&a.sort_key)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tierkreis_core::Loc;

    #[test]
    fn summary_names_and_counts_failures_without_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = Uuid::from_u128(1);
        let st = FileControllerStorage::new(dir.path(), id, Some("n".into()));
        st.write_workflow_metadata().expect("metadata");
        drop(tierkreis_storage::WorkflowLock::acquire(st.workflow_dir()).expect("lock"));
        assert_eq!(status(&st), Status::NotStarted, "no node started yet");
        let first = st.workflow_dir().join("-.N0");
        std::fs::create_dir_all(&first).expect("node folder");
        std::fs::write(first.join("nodedef"), "{}").expect("nodedef");
        assert_eq!(status(&st), Status::Interrupted);
        st.mark_node_error(&Loc::root()).expect("error");
        assert_eq!(status(&st), Status::Failed);
        let s = summarise(dir.path(), id);
        assert_eq!(s.name.as_deref(), Some("n"));
        assert_eq!(s.failures, 0, "the root's _error is not a node failure");
    }
}
