//! The reference's record of a run paused at breakpoints, `debug/breakpoints/<loc>`,
//! read and written byte-compatibly, so a run paused by either implementation
//! continues under the other.
//!
//! The reference (2.1.x, `ControllerStorage.write_breakpoint`) writes one file
//! per location where the run paused, each holding the same JSON `WalkResult`
//! of the walk that found them: `inputs_ready` (the nodes that walk would have
//! started, as `NodeRunData`: location, node definition, output ports),
//! `started`, `errored` and an emptied `breakpoints`. A resume with
//! breakpoints enabled (`read_breakpoints`) reads every file, deletes the
//! folder, and starts the `inputs_ready` nodes without checking their
//! breakpoints again: that is how it continues past them.

use std::path::PathBuf;

use tierkreis_core::{Loc, Value};

use crate::{ControllerStorage, StorageError};

/// A node the run paused in front of: its location, its `nodedef` JSON bytes
/// (as the controller writes them) and its output ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedNode {
    pub loc: Loc,
    pub nodedef_json: Vec<u8>,
    pub outputs: Vec<String>,
}

/// `debug/breakpoints`: the folder of the pause record.
pub fn breakpoints_dir(storage: &dyn ControllerStorage) -> PathBuf {
    storage.debug_path().join("breakpoints")
}

/// The locations where the run is paused now (the names of the files in
/// `debug/breakpoints`), sorted; empty when it is not paused. Reads no file
/// content, so it is cheap enough for listings.
pub fn paused_locations(storage: &dyn ControllerStorage) -> Vec<Loc> {
    let Ok(entries) = storage.list_subpaths(&breakpoints_dir(storage)) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|p| p.file_name()?.to_str()?.parse::<Loc>().ok())
        .collect()
}

/// Records a pause in front of `nodes`, as the reference does: one file per
/// location, each holding the whole walk result (written by temporary file
/// and rename, so a reader never sees a partial one).
pub fn write_pause(
    storage: &dyn ControllerStorage,
    nodes: &[PausedNode],
) -> Result<(), StorageError> {
    if nodes.is_empty() {
        return Ok(());
    }
    let dir = breakpoints_dir(storage);
    let mut ready = Vec::with_capacity(nodes.len());
    for node in nodes {
        let path = storage.nodedef_path(&node.loc);
        let def = tierkreis_core::json::parse(&node.nodedef_json).map_err(|e| {
            StorageError::BadBreakpointRecord {
                path: path.clone(),
                reason: format!("the node definition to record is not JSON: {e}"),
            }
        })?;
        let mut run_data = indexmap::IndexMap::new();
        run_data.insert(
            "node_location".to_string(),
            Value::Str(node.loc.to_string()),
        );
        run_data.insert("node".to_string(), def);
        run_data.insert(
            "output_list".to_string(),
            Value::List(node.outputs.iter().cloned().map(Value::Str).collect()),
        );
        ready.push(Value::Map(run_data));
    }
    let mut walk = indexmap::IndexMap::new();
    walk.insert("inputs_ready".to_string(), Value::List(ready));
    walk.insert("started".to_string(), Value::List(Vec::new()));
    walk.insert("errored".to_string(), Value::List(Vec::new()));
    walk.insert("breakpoints".to_string(), Value::List(Vec::new()));
    let bytes = tierkreis_core::json::to_string_compact(&Value::Map(walk)).into_bytes();
    storage.mkdir(&dir)?;
    for node in nodes {
        storage.write(&dir.join(node.loc.as_str()), &bytes)?;
    }
    Ok(())
}

/// Reads and removes the pause record, as the reference's `read_breakpoints`
/// does: the locations of every `inputs_ready` node of every file (the nodes
/// that may now start past their breakpoint), deduplicated in file order.
/// Empty when the run is not paused.
pub fn take_pause(storage: &dyn ControllerStorage) -> Result<Vec<Loc>, StorageError> {
    let dir = breakpoints_dir(storage);
    let entries = match storage.list_subpaths(&dir) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut locs: Vec<Loc> = Vec::new();
    for path in &entries {
        let bytes = storage.read(path)?;
        let bad = |reason: String| StorageError::BadBreakpointRecord {
            path: path.clone(),
            reason,
        };
        let value =
            tierkreis_core::json::parse(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let ready = value
            .as_map()
            .and_then(|m| m.get("inputs_ready"))
            .and_then(Value::as_list)
            .ok_or_else(|| bad("no list \"inputs_ready\"".to_string()))?;
        for entry in ready {
            let text = entry
                .as_map()
                .and_then(|m| m.get("node_location"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad("an inputs_ready entry has no \"node_location\" string".to_string())
                })?;
            let loc: Loc = text
                .parse()
                .map_err(|e| bad(format!("node_location {text:?} is not a location: {e}")))?;
            if !locs.contains(&loc) {
                locs.push(loc);
            }
        }
    }
    storage.delete_path(&dir)?;
    Ok(locs)
}
