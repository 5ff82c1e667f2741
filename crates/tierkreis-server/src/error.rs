//! The errors of the web server: those that stop it from starting
//! ([`ServeError`]) and those one API request answers with ([`ApiError`]),
//! each mapped to an HTTP status and a JSON body `{"error": "..."}` that says
//! what was wrong with which workflow, location or port.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tierkreis_core::LocError;
use tierkreis_storage::{LockError, StorageError};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the bound address of the listener: {source}")]
    LocalAddr {
        #[source]
        source: io::Error,
    },
    #[error("cannot create the checkpoint folder {}: {source}", path.display())]
    CheckpointDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot start a thread of the server: {source}")]
    Thread {
        #[source]
        source: io::Error,
    },
    #[error("cannot start the async runtime: {source}")]
    Runtime {
        #[source]
        source: io::Error,
    },
    #[error("the server failed: {source}")]
    Serve {
        #[source]
        source: io::Error,
    },
}

/// Why an API request failed; each variant names what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{value:?} is not a workflow id (a UUID like 00000000-0000-0000-0000-000000000007)")]
    BadWorkflowId { value: String },
    #[error("bad location in the URL: {source}")]
    BadLoc {
        #[source]
        source: LocError,
    },
    #[error("bad port name {port:?} in the URL: {reason}")]
    BadPort { port: String, reason: &'static str },
    #[error("bad query parameter {name}={value:?}: {reason}")]
    BadQuery {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("no workflow {id} in {}", dir.display())]
    WorkflowNotFound { id: uuid::Uuid, dir: PathBuf },
    #[error("node {loc} of workflow {id} has not started (no node definition)")]
    NodeNotStarted { id: uuid::Uuid, loc: String },
    #[error("node {loc} is a {node_type} node: only eval, loop and map nodes (and the root, loop iterations and map elements) have a graph")]
    NoGraph { loc: String, node_type: String },
    #[error("node {loc} has no input or output port {port:?} with a value")]
    NoValue { loc: String, port: String },
    #[error("node {loc} has no errors")]
    NoErrors { loc: String },
    #[error("the workflow log of {id} does not exist yet")]
    NoLogs { id: uuid::Uuid },
    #[error("workflow {id} is running (its controller holds the lock); wait for it to stop before restarting a task")]
    Running { id: uuid::Uuid },
    #[error("workflow {id} is not paused at a breakpoint (it is {status:?})")]
    NotPaused {
        id: uuid::Uuid,
        status: crate::workflows::WorkflowStatus,
    },
    #[error("node {loc} is a {node_type} node: only loop nodes have a trace")]
    NotALoop { loc: String, node_type: String },
    #[error("node {loc} is a {node_type} node: only task (function) nodes can be restarted")]
    NotATask { loc: String, node_type: String },
    #[error("cannot lock workflow {id}: {source}")]
    Lock {
        id: uuid::Uuid,
        #[source]
        source: LockError,
    },
    #[error("storage error: {source}")]
    Storage {
        #[source]
        source: StorageError,
    },
    #[error("cannot start `{} resume` for workflow {id}: {source}", exe.display())]
    Spawn {
        exe: PathBuf,
        id: uuid::Uuid,
        #[source]
        source: io::Error,
    },
    #[error("cannot watch workflow {id} for changes: {source}")]
    Watch {
        id: uuid::Uuid,
        #[source]
        source: ServeError,
    },
    #[error("a background task of the server failed: {reason}")]
    Task { reason: String },
    #[error("cannot read the timeline of workflow {id}: {source}")]
    Timeline {
        id: uuid::Uuid,
        #[source]
        source: tierkreis_storage::timeline::TimelineError,
    },
}

impl From<StorageError> for ApiError {
    fn from(source: StorageError) -> Self {
        ApiError::Storage { source }
    }
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadWorkflowId { .. }
            | ApiError::BadLoc { .. }
            | ApiError::BadPort { .. }
            | ApiError::BadQuery { .. }
            | ApiError::NoGraph { .. }
            | ApiError::NotATask { .. }
            | ApiError::NotALoop { .. } => StatusCode::BAD_REQUEST,
            ApiError::WorkflowNotFound { .. }
            | ApiError::NodeNotStarted { .. }
            | ApiError::NoValue { .. }
            | ApiError::NoErrors { .. }
            | ApiError::NoLogs { .. } => StatusCode::NOT_FOUND,
            ApiError::Running { .. } => StatusCode::CONFLICT,
            ApiError::NotPaused { .. } => StatusCode::CONFLICT,
            ApiError::Lock { source, .. } => match source {
                LockError::Held { .. } => StatusCode::CONFLICT,
                LockError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Storage { source } if source.is_not_found() => StatusCode::NOT_FOUND,
            ApiError::Storage { .. }
            | ApiError::Spawn { .. }
            | ApiError::Watch { .. }
            | ApiError::Task { .. }
            | ApiError::Timeline { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = serde_json::json!({ "error": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}
