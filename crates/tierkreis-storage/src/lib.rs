//! Tierkreis storage: the worker storage protocol (how a worker reads its
//! call arguments and inputs and publishes its outputs) and the controller's
//! checkpoint layout of a workflow, both on the local file system and in
//! memory, compatible with the files of Python `tierkreis` 2.1.1.
//!
//! - [`WorkerStorage`] ([`FileWorkerStorage`], [`MemoryWorkerStorage`]): the
//!   contract between controller and workers.
//! - [`ControllerStorage`] ([`FileControllerStorage`],
//!   [`MemoryControllerStorage`]): node definitions, outputs, markers,
//!   errors, metadata and debug data of one workflow.
//! - [`MemoryFiles`]: the file map shared by the in-memory controller and
//!   in-process workers.
//! - [`atomic`]: crash-safe writes, markers and hard links on disk.
//! - [`warm`]: the lines a warm worker process and the controller exchange.
//! - [`timestamps`]: time stamps in the text Python's `isoformat()` gives.
//! - [`timeline`]: when each task was queued, started and finished, and where
//!   ([`run_report`]: the report's numbers from it).
//! - [`workflow_status`]: how a workflow and its nodes stand, for every reader
//!   ([`failed_nodes`] among them); [`find_workflow`]: which workflow a
//!   UUID, prefix or name means.
//! - [`restart`]: restarting a task, its dependents, deleting a subtree.
//! - [`log_tail`]: the last lines of a log, for every reader.
//! - [`task_failure`]: recording a task's failure (its text, then `_error`),
//!   the one way for every executor.
//!
//! Every operation returns [`StorageError`]; a missing entry is always
//! [`StorageError::NotFound`].

pub mod atomic;
pub mod attempts;
pub mod breakpoints;
pub mod controller;
pub mod error;
pub mod find_workflow;
pub mod lock;
pub mod log_tail;
pub mod memory;
pub mod restart;
pub mod result_cache;
pub mod run_report;
pub mod task_failure;
pub mod timeline;
pub mod timestamps;
mod value_cache;
pub mod warm;
pub mod worker;
pub mod worker_jobs;
pub mod workflow_status;

pub use controller::{
    ControllerStorage, ExecutorDebugData, FileControllerStorage, MemoryControllerStorage,
    WorkflowMetaData, TIERKREIS_VERSION,
};
pub use error::StorageError;
pub use lock::{lock_state, LockError, LockState, WorkflowLock};
pub use memory::MemoryFiles;
pub use task_failure::record_task_failure;
pub use worker::{FileWorkerStorage, MemoryWorkerStorage, WorkerStorage, TKR_DIR_KEY};
pub use workflow_status::{
    failed_locations_recorded_at_end, failed_nodes, node_status, workflow_end_time, workflow_ids,
    workflow_status, NodeStatus, WorkflowStatus,
};
