//! The controller's view of one workflow's checkpoint folder: where each
//! node's definition, call arguments, outputs, markers, errors and metadata
//! live, in exactly the reference's layout, so that runs can be resumed,
//! inspected and visualised by tools that read the reference's files.
//!
//! Layout under `<tkr_dir>/<workflow_id>/`:
//!
//! | path | content |
//! |---|---|
//! | `<loc>/nodedef` | the node definition (JSON); its presence means "started" |
//! | `<loc>/definition` | worker call arguments of a function node |
//! | `<loc>/outputs/<port>` | one output value |
//! | `<loc>/_done` | empty marker: the node finished |
//! | `<loc>/_error` | marker: the node failed (for `-`: the workflow's error text) |
//! | `<loc>/logs` | a function node's error text (its call args' `error_path`) |
//! | `<loc>/_metadata` | `{"name": .., "start_time": ..}`, touched as children progress |
//! | `.N-1/outputs/<port>` | the workflow's inputs (the reference's `Loc("").N(-1)`) |
//! | `_metadata` | the workflow metadata ([`WorkflowMetaData`]) |
//! | `logs` | the workflow log |
//! | `debug/nodes` | `{name: {"loop_loc": loc}}` for named loops |
//! | `debug/executors/<loc>` | [`ExecutorDebugData`] of a launched task |
//!
//! A node's folder is named by its full location (`-.N2.L0.N1`), so nested
//! nodes are sibling folders, not subfolders.
//!
//! [`ControllerStorage`] has a few required primitives on full paths (like the
//! reference's abstract methods) and provides everything else on top of them,
//! so the file and in-memory implementations behave the same.
//!
//! Atomicity: files nothing vouches for (metadata, error text) are written
//! to a temporary file and renamed; files a later marker vouches for
//! (outputs, call arguments, executor records) and node definitions (which
//! do not parse until whole) are created in place when new
//! ([`ControllerStorage::write_fresh`]); markers are created with a plain
//! create. The file storage keeps a bounded copy of the values
//! it wrote or linked, so reading them back needs no system call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tierkreis_core::graph::{GraphError, NodeKind};
use tierkreis_core::{InputLink, Loc, NodeDef, PortId, WorkerCallArgs};
use uuid::Uuid;

use crate::error::StorageError;

mod file;
mod memory;

pub use file::FileControllerStorage;
pub use memory::MemoryControllerStorage;

/// The version written in [`WorkflowMetaData::tierkreis_version`].
pub const TIERKREIS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The workflow-level `_metadata` file (the reference's `WorkflowMetaData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowMetaData {
    pub workflow_id: String,
    pub tierkreis_version: String,
    pub user_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub completion_time: Option<String>,
    #[serde(default)]
    pub execution_count: i64,
}

/// What an executor recorded about launching one task
/// (`debug/executors/<loc>`, the reference's `ExecutorDebugData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorDebugData {
    pub executor: String,
    pub launch_command: String,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub packages: Vec<String>,
}

/// One entry of `debug/nodes` (the reference's `NodeDebugData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NodeDebugData {
    #[serde(default)]
    loop_loc: Option<String>,
}

/// Node metadata (`<loc>/_metadata`).
#[derive(Debug, Serialize)]
struct NodeMetaData<'a> {
    name: Option<&'a str>,
    start_time: String,
}

/// The checkpoint storage of one workflow, as used by the controller.
///
/// Implementors supply the identity accessors and the primitives on full
/// paths (`read` .. `modified_time`); every other method is provided and
/// defines the layout and the file formats.
pub trait ControllerStorage: Send + Sync {
    // ----- identity -----

    /// The Tierkreis directory; call-argument paths are relative to it.
    fn tkr_dir(&self) -> &Path;
    /// The workflow's id; its folder is `<tkr_dir>/<workflow_id>`.
    fn workflow_id(&self) -> Uuid;
    /// The workflow's optional name (written into metadata).
    fn name(&self) -> Option<&str>;
    /// `<tkr_dir>/<workflow_id>`.
    fn workflow_dir(&self) -> &Path;

    // ----- primitives on full paths -----

    /// The content of the file at `path`; [`StorageError::NotFound`] if none.
    fn read(&self, path: &Path) -> Result<Vec<u8>, StorageError>;
    /// Write `bytes` to `path` atomically, creating parent folders.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError>;
    /// Write `bytes` to `path`, a file that is never taken as complete
    /// while it may be cut short: a node's outputs and call arguments and an
    /// executor's record (a marker written afterwards vouches for them), and
    /// a node definition (one JSON object: a copy cut short does not parse).
    /// A new file may be written in place, with no temporary file; an
    /// existing one must be replaced as by [`ControllerStorage::write`],
    /// never changed in place (it may be hard-linked as another node's
    /// value).
    fn write_fresh(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        self.write(path, bytes)
    }
    /// Create the empty file `path`, or update its modification time keeping
    /// its content; creates parent folders.
    fn touch(&self, path: &Path) -> Result<(), StorageError>;
    /// Touch the `_metadata` of a scope when one of its nodes starts or
    /// finishes, like the reference. Only its existence is part of the
    /// layout, so an implementation may create it once and skip later
    /// touches (the file storage does: that saves four system calls a node).
    fn touch_scope_metadata(&self, path: &Path) -> Result<(), StorageError> {
        self.touch(path)
    }
    /// Append `bytes` to the file at `path` (created with its parents if
    /// missing). For logs: not atomic, a crash may cut the last line.
    fn append(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError>;
    /// Make `dst` the same file as `src` without copying; an existing `dst` is
    /// replaced. [`StorageError::NotFound`] (with `src`) if `src` is missing.
    fn link(&self, src: &Path, dst: &Path) -> Result<(), StorageError>;
    /// Create the folder `path` and its parents.
    fn mkdir(&self, path: &Path) -> Result<(), StorageError>;
    /// Whether there is a file or folder at `path`.
    fn exists(&self, path: &Path) -> bool;
    /// The entries directly inside the folder `path`, as full paths, sorted;
    /// empty if there is no folder at `path`.
    fn list_subpaths(&self, path: &Path) -> Result<Vec<PathBuf>, StorageError>;
    /// Remove the file or folder (recursively) at `path`; nothing if missing.
    fn delete_path(&self, path: &Path) -> Result<(), StorageError>;
    /// The modification time of the file at `path`, `None` if missing.
    fn modified_time(&self, path: &Path) -> Result<Option<SystemTime>, StorageError>;

    // ----- paths -----

    /// The folder of the node at `loc`: `<workflow_dir>/<loc>`.
    fn node_dir(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str()])
    }
    /// The workflow log file.
    fn logs_path(&self) -> PathBuf {
        self.workflow_dir().join("logs")
    }
    /// The workflow's debug folder.
    fn debug_path(&self) -> PathBuf {
        self.workflow_dir().join("debug")
    }
    /// `<loc>/nodedef`.
    fn nodedef_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "nodedef"])
    }
    /// `<loc>/definition`: the worker call arguments.
    fn call_args_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "definition"])
    }
    /// `<loc>/_metadata`.
    fn metadata_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "_metadata"])
    }
    /// The workflow-level `_metadata` (the reference's `Loc("")`).
    fn workflow_metadata_path(&self) -> PathBuf {
        self.workflow_dir().join("_metadata")
    }
    /// `<loc>/outputs`.
    fn outputs_dir(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "outputs"])
    }
    /// `<loc>/outputs/<port>`.
    fn output_path(&self, loc: &Loc, port: &str) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "outputs", port])
    }
    /// `<loc>/_done`.
    fn done_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "_done"])
    }
    /// `<loc>/_error`.
    fn error_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "_error"])
    }
    /// `<loc>/logs`: a function node's error text.
    fn worker_logs_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &[loc.as_str(), "logs"])
    }
    /// `debug/executors/<loc>`.
    fn executor_data_path(&self, loc: &Loc) -> PathBuf {
        path_under(self.workflow_dir(), &["debug", "executors", loc.as_str()])
    }
    /// `debug/nodes`.
    fn node_debug_path(&self) -> PathBuf {
        self.debug_path().join("nodes")
    }
    /// `.N-1/outputs/<port>`: a workflow input (the reference's
    /// `Loc("").N(-1)`, which is not a node location).
    fn workflow_input_path(&self, port: &str) -> PathBuf {
        path_under(self.workflow_dir(), &[".N-1", "outputs", port])
    }

    // ----- node state -----

    /// Delete the whole workflow folder.
    fn clean_graph_files(&self) -> Result<(), StorageError> {
        self.delete_path(self.workflow_dir())
    }

    /// Write the definition of the node at `loc`; this marks it started.
    /// Written in place when new ([`ControllerStorage::write_fresh`]), as the
    /// reference does: until it is whole it does not parse, and
    /// [`ControllerStorage::read_node_def`] takes it as not there yet.
    fn write_node_def(&self, loc: &Loc, node: &NodeDef) -> Result<(), StorageError> {
        self.write_fresh(&self.nodedef_path(loc), &node.to_json())
    }

    /// Read the definition of the node at `loc`.
    ///
    /// The definition of a node that has not finished may be being written
    /// in place, or cut short by a crashed controller (a resume writes it
    /// again): if its text ends before its JSON value does, it is
    /// [`StorageError::NotFound`], as if not written yet. Any other text
    /// that does not parse is [`StorageError::BadNodeDef`].
    fn read_node_def(&self, loc: &Loc) -> Result<NodeDef, StorageError> {
        let path = self.nodedef_path(loc);
        let bytes = self.read(&path)?;
        NodeDef::from_json(&bytes).map_err(|source| {
            let cut_short = matches!(&source, GraphError::Json(e) if e.ends_early());
            if cut_short && !self.is_node_finished(loc) {
                StorageError::NotFound { path }
            } else {
                StorageError::BadNodeDef {
                    loc: loc.to_string(),
                    source: Box::new(source),
                }
            }
        })
    }

    /// A node is started when its definition has been written.
    fn is_node_started(&self, loc: &Loc) -> bool {
        self.exists(&self.nodedef_path(loc))
    }

    /// A node is finished when its `_done` marker exists.
    fn is_node_finished(&self, loc: &Loc) -> bool {
        self.exists(&self.done_path(loc))
    }

    /// A node has failed when its `_error` marker exists (function nodes and
    /// the root only).
    fn node_has_error(&self, loc: &Loc) -> bool {
        self.exists(&self.error_path(loc))
    }

    /// Mark the node finished (`_done`) and touch its parent's `_metadata`
    /// (the workflow `_metadata` for the root) so watchers see progress.
    fn mark_node_finished(&self, loc: &Loc) -> Result<(), StorageError> {
        self.touch(&self.done_path(loc))?;
        self.touch_scope_metadata(&self.parent_metadata_path(loc))
    }

    /// Mark the node failed (`_error`).
    fn mark_node_error(&self, loc: &Loc) -> Result<(), StorageError> {
        self.touch(&self.error_path(loc))
    }

    /// The `_metadata` of the location `loc` was reached from
    /// ([`Loc::parent`]); the workflow `_metadata` for the root.
    fn parent_metadata_path(&self, loc: &Loc) -> PathBuf {
        match loc.parent() {
            Some(parent) => self.metadata_path(&parent),
            None => self.workflow_metadata_path(),
        }
    }

    /// Write the worker call arguments of the function node at `loc` and
    /// return their path relative to the Tierkreis directory (what a worker
    /// is started with). Each of `inputs` becomes the path of its source's
    /// output file. All paths inside are relative to the Tierkreis directory. Also
    /// creates the outputs folder and touches the parent's `_metadata`.
    fn write_worker_call_args(
        &self,
        loc: &Loc,
        function_name: &str,
        inputs: &[InputLink],
        outputs: &[PortId],
    ) -> Result<PathBuf, StorageError> {
        let wf = PathBuf::from(self.workflow_id().to_string());
        let rel_node = |l: &Loc| wf.join(l.as_str());
        let node = rel_node(loc);
        let args = WorkerCallArgs {
            function_name: function_name.to_string(),
            inputs: inputs
                .iter()
                .map(|link| {
                    let source = &link.source;
                    let path = rel_node(&source.node).join("outputs").join(&source.port);
                    (link.input_port.clone(), path)
                })
                .collect::<IndexMap<_, _>>(),
            outputs: outputs
                .iter()
                .map(|port| (port.clone(), node.join("outputs").join(port)))
                .collect(),
            output_dir: node.join("outputs"),
            done_path: node.join("_done"),
            error_path: node.join("logs"),
            logs_path: Some(wf.join("logs")),
        };
        let path = self.call_args_path(loc);
        let bytes = args.to_json().map_err(|source| StorageError::BadCallArgs {
            path: path.clone(),
            source,
        })?;
        self.write_fresh(&path, &bytes)?;
        self.mkdir(&self.outputs_dir(loc))?;
        self.touch_scope_metadata(&self.parent_metadata_path(loc))?;
        Ok(node.join("definition"))
    }

    /// Read the worker call arguments of the node at `loc`.
    fn read_worker_call_args(&self, loc: &Loc) -> Result<WorkerCallArgs, StorageError> {
        let path = self.call_args_path(loc);
        let bytes = self.read(&path)?;
        WorkerCallArgs::from_json(&bytes)
            .map_err(|source| StorageError::BadCallArgs { path, source })
    }

    // ----- outputs -----

    /// Make output `new_port` of `new_loc` the same value as output
    /// `old_port` of `old_loc`, without copying.
    /// [`StorageError::NotFound`] if the source output does not exist (the
    /// reference logs a warning and goes on: tasks reading it may then use a
    /// default value; the caller decides).
    fn link_outputs(
        &self,
        new_loc: &Loc,
        new_port: &str,
        old_loc: &Loc,
        old_port: &str,
    ) -> Result<(), StorageError> {
        self.link(
            &self.output_path(old_loc, old_port),
            &self.output_path(new_loc, new_port),
        )
    }

    /// Write output `port` of the node at `loc`. The node's `_done`, written
    /// after all its outputs, is what makes them complete
    /// ([`ControllerStorage::write_fresh`]).
    fn write_output(&self, loc: &Loc, port: &str, value: &[u8]) -> Result<(), StorageError> {
        self.write_fresh(&self.output_path(loc, port), value)
    }

    /// Read output `port` of the node at `loc`.
    fn read_output(&self, loc: &Loc, port: &str) -> Result<Vec<u8>, StorageError> {
        self.read(&self.output_path(loc, port))
    }

    /// Whether output `port` of the node at `loc` exists.
    fn output_exists(&self, loc: &Loc, port: &str) -> bool {
        self.exists(&self.output_path(loc, port))
    }

    /// The names of the outputs of the node at `loc`, sorted; empty if none.
    fn read_output_ports(&self, loc: &Loc) -> Result<Vec<PortId>, StorageError> {
        Ok(self
            .list_subpaths(&self.outputs_dir(loc))?
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }

    /// Write a workflow input (`.N-1/outputs/<port>`).
    fn write_workflow_input(&self, port: &str, value: &[u8]) -> Result<(), StorageError> {
        self.write(&self.workflow_input_path(port), value)
    }

    /// Read a workflow input.
    fn read_workflow_input(&self, port: &str) -> Result<Vec<u8>, StorageError> {
        self.read(&self.workflow_input_path(port))
    }

    /// Link workflow input `input_port` to output `new_port` of `new_loc`
    /// (like [`ControllerStorage::link_outputs`]).
    fn link_workflow_input(
        &self,
        new_loc: &Loc,
        new_port: &str,
        input_port: &str,
    ) -> Result<(), StorageError> {
        self.link(
            &self.workflow_input_path(input_port),
            &self.output_path(new_loc, new_port),
        )
    }

    /// Append one line to the workflow's `logs` file.
    fn append_workflow_log(&self, line: &str) -> Result<(), StorageError> {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        self.append(&self.logs_path(), text.as_bytes())
    }

    // ----- errors -----

    /// Store the error text of a node: the root's in its `_error`, a function
    /// node's in its `logs` (where its worker writes errors too).
    fn write_node_errors(&self, loc: &Loc, error_logs: &str) -> Result<(), StorageError> {
        let path = if loc.is_root() {
            self.error_path(loc)
        } else {
            self.worker_logs_path(loc)
        };
        self.write(&path, error_logs.as_bytes())
    }

    /// A failed node's error text, which is its log
    /// ([`Self::read_node_log`]: a task writes its error there, the
    /// controller writes the root's in its `_error`); the reference's name.
    fn read_errors(&self, loc: &Loc) -> Result<String, StorageError> {
        self.read_node_log(loc)
    }

    /// The node's log: its `logs` file (a task's output and error text) if
    /// present, else the text of its `_error` (the root's: the failed
    /// locations), else `""`. What the reference's `read_errors` returns and
    /// its visualizer's `/nodes/<loc>/logs` route serves. Invalid UTF-8 is
    /// replaced, the text is for people.
    fn read_node_log(&self, loc: &Loc) -> Result<String, StorageError> {
        for path in [self.worker_logs_path(loc), self.error_path(loc)] {
            match self.read(&path) {
                Ok(bytes) => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(String::new())
    }

    // ----- metadata -----

    /// Write the node's metadata: `{"name": <workflow name>, "start_time":
    /// <now, ISO 8601 UTC>}`.
    fn write_metadata(&self, loc: &Loc) -> Result<(), StorageError> {
        let path = self.metadata_path(loc);
        let meta = NodeMetaData {
            name: self.name(),
            start_time: iso_utc(SystemTime::now()),
        };
        let bytes = serde_json::to_vec(&meta).map_err(|source| StorageError::BadMetadata {
            path: path.clone(),
            source,
        })?;
        self.write(&path, &bytes)
    }

    /// Read a node's metadata as a JSON object.
    fn read_metadata(
        &self,
        loc: &Loc,
    ) -> Result<serde_json::Map<String, serde_json::Value>, StorageError> {
        let path = self.metadata_path(loc);
        let bytes = self.read(&path)?;
        serde_json::from_slice(&bytes).map_err(|source| StorageError::BadMetadata { path, source })
    }

    /// Write the workflow metadata (the reference's `write_metadata(Loc(""))`):
    /// id, version, user (`$LOGNAME`, `$USER`, `$LNAME` or `$USERNAME`, else
    /// the user database, else `"unknown"`), name, start time (now, naive ISO
    /// 8601 like the reference's `datetime.now().isoformat()`) and an
    /// execution count of 1.
    fn write_workflow_metadata(&self) -> Result<(), StorageError> {
        let meta = WorkflowMetaData {
            workflow_id: self.workflow_id().to_string(),
            tierkreis_version: TIERKREIS_VERSION.to_string(),
            user_id: user_id(),
            name: self.name().map(str::to_string),
            start_time: Some(iso_naive(SystemTime::now())),
            completion_time: None,
            execution_count: 1,
        };
        let path = self.workflow_metadata_path();
        let bytes = serde_json::to_vec(&meta).map_err(|source| StorageError::BadMetadata {
            path: path.clone(),
            source,
        })?;
        self.write(&path, &bytes)
    }

    /// Read the workflow metadata.
    fn read_workflow_metadata(&self) -> Result<WorkflowMetaData, StorageError> {
        let path = self.workflow_metadata_path();
        let bytes = self.read(&path)?;
        serde_json::from_slice(&bytes).map_err(|source| StorageError::BadMetadata { path, source })
    }

    /// Record the completion time like the reference does: the workflow
    /// metadata plus `completion_time` (now, naive ISO 8601 like Python's
    /// `datetime.now().isoformat()`), written to the root node's `-/_metadata`
    /// (the reference writes it to `Loc()`, which is `-`); the workflow-level
    /// `_metadata` keeps `completion_time: null`. Content that is not a JSON
    /// object is replaced by `{"completion_time": ..}`.
    fn write_workflow_completion_time(&self) -> Result<(), StorageError> {
        let path = self.workflow_metadata_path();
        let bytes = self.read(&path)?;
        let mut data: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(
            &bytes,
        ) {
            Ok(map) => map,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "invalid workflow metadata; writing completion time anyway");
                serde_json::Map::new()
            }
        };
        data.insert(
            "completion_time".into(),
            serde_json::Value::String(iso_naive(SystemTime::now())),
        );
        let target = self.metadata_path(&Loc::root());
        let bytes = serde_json::to_vec(&data).map_err(|source| StorageError::BadMetadata {
            path: target.clone(),
            source,
        })?;
        self.write(&target, &bytes)
    }

    /// The workflow's completion time as recorded by
    /// [`ControllerStorage::write_workflow_completion_time`], if it finished.
    fn read_workflow_completion_time(&self) -> Option<String> {
        let bytes = self.read(&self.metadata_path(&Loc::root())).ok()?;
        let data: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).ok()?;
        data.get("completion_time")?.as_str().map(str::to_string)
    }

    /// When the node was started (modification time of its `nodedef`).
    fn started_time(&self, loc: &Loc) -> Result<Option<SystemTime>, StorageError> {
        self.modified_time(&self.nodedef_path(loc))
    }

    /// When the node finished (modification time of its `_done`).
    fn finished_time(&self, loc: &Loc) -> Result<Option<SystemTime>, StorageError> {
        self.modified_time(&self.done_path(loc))
    }

    // ----- debug data -----

    /// Record in `debug/nodes` that the named loop `name` runs at `loc`.
    fn write_debug_data(&self, name: &str, loc: &Loc) -> Result<(), StorageError> {
        let path = self.node_debug_path();
        let mut data = match self.read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes)
                    .map_err(|source| StorageError::BadDebugData {
                        path: path.clone(),
                        source,
                    })?
            }
            Err(e) if e.is_not_found() => serde_json::Map::new(),
            Err(e) => return Err(e),
        };
        let entry = serde_json::json!({ "loop_loc": loc.as_str() });
        data.insert(name.to_string(), entry);
        let bytes = serde_json::to_vec(&data).map_err(|source| StorageError::BadDebugData {
            path: path.clone(),
            source,
        })?;
        self.write(&path, &bytes)
    }

    /// The location of the loop named `name`, if recorded.
    fn loc_from_node_name(&self, name: &str) -> Result<Option<Loc>, StorageError> {
        let path = self.node_debug_path();
        let bytes = match self.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut data: BTreeMap<String, NodeDebugData> =
            serde_json::from_slice(&bytes).map_err(|source| StorageError::BadDebugData {
                path: path.clone(),
                source,
            })?;
        match data.remove(name).and_then(|d| d.loop_loc) {
            None => Ok(None),
            Some(value) => match Loc::parse(&value) {
                Ok(loc) => Ok(Some(loc)),
                Err(source) => Err(StorageError::BadLoc {
                    path,
                    value,
                    source,
                }),
            },
        }
    }

    /// Write what the executor recorded when launching the task at `loc`.
    /// A crash while writing it leaves at worst an empty record, which
    /// readers take as no record: as if the crash came just before.
    fn write_executor_data(&self, loc: &Loc, data: &ExecutorDebugData) -> Result<(), StorageError> {
        let path = self.executor_data_path(loc);
        let bytes = serde_json::to_vec(data).map_err(|source| StorageError::BadDebugData {
            path: path.clone(),
            source,
        })?;
        self.write_fresh(&path, &bytes)
    }

    /// Read what the executor recorded when launching the task at `loc`.
    fn read_executor_data(&self, loc: &Loc) -> Result<ExecutorDebugData, StorageError> {
        let path = self.executor_data_path(loc);
        let bytes = self.read(&path)?;
        serde_json::from_slice(&bytes).map_err(|source| StorageError::BadDebugData { path, source })
    }

    // ----- loops -----

    /// The values of output `port` of the loop at `loc`, one per iteration
    /// started so far. [`StorageError::WrongNodeType`] if it is not a loop.
    fn read_loop_trace(&self, loc: &Loc, port: &str) -> Result<Vec<Vec<u8>>, StorageError> {
        let def = self.read_node_def(loc)?;
        if !matches!(def.kind, NodeKind::Loop { .. }) {
            return Err(StorageError::WrongNodeType {
                loc: loc.to_string(),
                expected: "loop",
                found: def.type_name().to_string(),
            });
        }
        let mut trace = Vec::new();
        let mut i = 0;
        while self.is_node_started(&loc.l(i)) {
            trace.push(self.read_output(&loc.l(i), port)?);
            i += 1;
        }
        Ok(trace)
    }

    /// The latest started iteration `<loc>.L<i>` of the loop at `loc`
    /// (`L0` if none beyond it has started).
    fn latest_loop_iteration(&self, loc: &Loc) -> Loc {
        let mut i = 0;
        while self.is_node_started(&loc.l(i + 1)) {
            i += 1;
        }
        loc.l(i)
    }
}

/// `base/part/...` built in one allocation (`join` allocates and then
/// grows a new path for each part; paths are built for every file a run
/// writes).
fn path_under(base: &Path, parts: &[&str]) -> PathBuf {
    let len = base.as_os_str().len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut path = PathBuf::with_capacity(len);
    path.push(base);
    for part in parts {
        path.push(part);
    }
    path
}

/// The user name the way Python's `getpass.getuser()` looks in the
/// environment; `"unknown"` if none is set.
fn user_id() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(|| {
            // Like Python's getpass.getuser(): the user database last.
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

pub use crate::timestamps::{iso_naive, iso_utc};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::MemoryFiles;

    #[test]
    fn memory_workflow_dir_is_relative_like_reference() {
        let id = Uuid::nil();
        let s = MemoryControllerStorage::new(MemoryFiles::new(), id, None);
        assert_eq!(s.workflow_dir(), Path::new(&id.to_string()));
        let f = FileControllerStorage::new("/tkr", id, None);
        assert_eq!(
            f.nodedef_path(&Loc::root().n(3)),
            PathBuf::from(format!("/tkr/{id}/-.N3/nodedef"))
        );
        assert_eq!(
            f.workflow_input_path("value"),
            PathBuf::from(format!("/tkr/{id}/.N-1/outputs/value"))
        );
    }
}
