//! The one error type of this crate, so that callers can tell a missing entry
//! (often expected: a node that has not run yet) from a real I/O failure or
//! from a file whose content is malformed.

use std::io;
use std::path::PathBuf;

use tierkreis_core::call_args::CallArgsError;
use tierkreis_core::{GraphError, LocError};

/// Everything that can go wrong when reading or writing Tierkreis storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The entry does not exist: a missing input, output, node definition or
    /// marker. Its own kind because callers often expect it (a node that has
    /// not run yet, an optional input without a value).
    #[error("storage entry not found: {}", path.display())]
    NotFound { path: PathBuf },

    /// An operating system call failed for another reason than a missing entry.
    #[error("{op} {} failed: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The worker call arguments (`definition` file) are not valid, or
    /// cannot be written (a path that is not UTF-8).
    #[error("worker call arguments at {}: {source}", path.display())]
    BadCallArgs {
        path: PathBuf,
        #[source]
        source: CallArgsError,
    },

    /// A node definition (`nodedef` file) is not valid.
    #[error("invalid node definition at location {loc}: {source}")]
    BadNodeDef {
        loc: String,
        #[source]
        source: Box<GraphError>,
    },

    /// A `_metadata` file is not valid JSON of the expected shape.
    #[error("invalid metadata in {}: {source}", path.display())]
    BadMetadata {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A debug data file (`debug/nodes`, `debug/executors/<loc>`) is not
    /// valid JSON of the expected shape.
    #[error("invalid debug data in {}: {source}", path.display())]
    BadDebugData {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A stored location string (e.g. a loop location in `debug/nodes`) does
    /// not parse.
    #[error("invalid location {value:?} in {}: {source}", path.display())]
    BadLoc {
        path: PathBuf,
        value: String,
        #[source]
        source: LocError,
    },

    /// A glob pattern given to a worker storage is malformed.
    #[error("invalid glob pattern {pattern:?}: {source}")]
    BadGlob {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },

    /// An operation needs a node of a given type but found another
    /// (e.g. loop traces of a non-loop node, restarting a non-function node).
    #[error("node at {loc} is a {found:?} node, expected a {expected:?} node")]
    WrongNodeType {
        loc: String,
        expected: &'static str,
        found: String,
    },

    /// A pause record (`debug/breakpoints/<loc>`) is not the reference's
    /// JSON walk result.
    #[error("invalid breakpoint record {}: {reason}", path.display())]
    BadBreakpointRecord { path: PathBuf, reason: String },
}

impl StorageError {
    /// Whether this is the "entry not found" kind.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }

    /// Map an `io::Error` to `NotFound` when the OS says so, `Io` otherwise.
    pub(crate) fn from_io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.kind() == io::ErrorKind::NotFound {
            StorageError::NotFound { path }
        } else {
            StorageError::Io { op, path, source }
        }
    }
}
