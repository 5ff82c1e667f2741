//! Restarting a task (`tkr restart`, the web view's Restart): which nodes
//! depend on a node, deleting a node's subtree, and resetting a task so the
//! controller runs it again, as the reference's `restart_task` does.

use std::collections::BTreeSet;

use tierkreis_core::graph::NodeKind;
use tierkreis_core::{Loc, Step};

use crate::error::StorageError;
use crate::ControllerStorage;

/// Delete the node at `loc`: its folder and the folders of every
/// location below it (`<loc>.…`, e.g. loop iterations, map elements,
/// nested graph nodes), which live beside it. The reference moves
/// deleted entries to `/tmp/<uid>/tierkreis/archive`; we remove them.
pub fn delete_node_subtree<S: ControllerStorage + ?Sized>(
    storage: &S,
    loc: &Loc,
) -> Result<(), StorageError> {
    storage.delete_path(&storage.node_dir(loc))?;
    let prefix = format!("{}.", loc.as_str());
    for sub in storage.list_subpaths(storage.workflow_dir())? {
        if sub
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        {
            storage.delete_path(&sub)?;
        }
    }
    Ok(())
}

/// The nodes fully invalidated when the node at `loc` is invalidated
/// (the reference's `dependents`): the consumers of its outputs and
/// theirs, transitively; through an output node, the dependents of the
/// enclosing node; for a map element, the dependents of the map; for a
/// loop iteration, the later iterations and the dependents of the loop.
/// The enclosing locations themselves are only partially invalidated and
/// not included. A consumer that has not started (no `nodedef`) has no
/// dependents of its own.
pub fn dependents<S: ControllerStorage + ?Sized>(
    storage: &S,
    loc: &Loc,
) -> Result<BTreeSet<Loc>, StorageError> {
    let mut found = BTreeSet::new();
    collect_dependents(storage, loc, &mut found)?;
    Ok(found)
}

/// Restart the function node at `loc` and return the locations deleted
/// because they depend on it (sorted). Like the reference: dependents
/// are deleted; every enclosing location (and `loc` itself) loses its
/// `_done` and `outputs/`; `loc` loses its `nodedef`, so the controller
/// starts it again. Additionally (the reference leaves them, so a failed
/// task would still look failed) the `_error` markers of those locations
/// and the error text (`logs`) of `loc` are removed, and so are its
/// failed attempts (`attempts/`) and `cache_source`.
/// [`StorageError::WrongNodeType`] if `loc` is not a function node.
pub fn restart_task<S: ControllerStorage + ?Sized>(
    storage: &S,
    loc: &Loc,
) -> Result<Vec<Loc>, StorageError> {
    let def = storage.read_node_def(loc)?;
    if !matches!(def.kind, NodeKind::Function { .. }) {
        return Err(StorageError::WrongNodeType {
            loc: loc.to_string(),
            expected: "function",
            found: def.type_name().to_string(),
        });
    }
    let deps = dependents(storage, loc)?;
    for dep in &deps {
        delete_node_subtree(storage, dep)?;
    }
    for partial in loc.partial_locs() {
        storage.delete_path(&storage.done_path(&partial))?;
        storage.delete_path(&storage.outputs_dir(&partial))?;
        storage.delete_path(&storage.error_path(&partial))?;
    }
    storage.delete_path(&storage.worker_logs_path(loc))?;
    // A restarted task starts a fresh retry count and is no longer a
    // cache hit (ours; the reference has neither).
    storage.delete_path(&storage.node_dir(loc).join(crate::attempts::ATTEMPTS_DIR))?;
    storage.delete_path(
        &storage
            .node_dir(loc)
            .join(crate::result_cache::CACHE_SOURCE_FILE),
    )?;
    storage.delete_path(&storage.nodedef_path(loc))?;
    Ok(deps.into_iter().collect())
}

/// The recursion of [`dependents`]; `found` doubles as the
/// visited set so shared consumers are explored once.
fn collect_dependents<S: ControllerStorage + ?Sized>(
    storage: &S,
    loc: &Loc,
    found: &mut BTreeSet<Loc>,
) -> Result<(), StorageError> {
    let Some((step, parent)) = loc.pop_last() else {
        return Ok(());
    };
    match step {
        Step::Root => {}
        Step::N(_) => {
            let def = match storage.read_node_def(loc) {
                Ok(def) => def,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            };
            if matches!(def.kind, NodeKind::Output) {
                collect_dependents(storage, &parent, found)?;
            }
            for targets in def.outputs.values() {
                for &target in targets {
                    let dep = parent.n(i64::try_from(target).unwrap_or(i64::MAX));
                    // The Python builder lists a recursive eval as a consumer
                    // of its own `body` (it reads the scope's body, not its
                    // own output): taken literally, restarting any task inside
                    // it would delete the whole eval and run it all again.
                    if &dep == loc {
                        continue;
                    }
                    if found.insert(dep.clone()) {
                        collect_dependents(storage, &dep, found)?;
                    }
                }
            }
        }
        Step::M(_) => collect_dependents(storage, &parent, found)?,
        Step::L(idx) => {
            let latest = storage.latest_loop_iteration(&parent).peek_index();
            let latest = u64::try_from(latest).unwrap_or(0);
            for i in idx + 1..=latest {
                found.insert(parent.l(i));
            }
            collect_dependents(storage, &parent, found)?;
        }
    }
    Ok(())
}
