//! Reuse of a whole nested graph from earlier results: the trait the
//! result cache implements, and the scheduler's question to it before it
//! expands an `eval`, `map` or `loop` node.

use tierkreis_core::{InputLink, Loc, PortId, ValueRef};
use tierkreis_storage::{ControllerStorage, StorageError};

use super::prepared_graph::GraphInfo;
use super::{Scheduler, SchedulerError, StartingNode, Work};

/// Which kind of node holding a nested graph is asked about in
/// [`NestedGraphReuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestedGraphKind {
    Eval,
    Map,
    /// A loop, which runs its body again while output `continue_port` is true.
    Loop {
        continue_port: PortId,
    },
}

impl NestedGraphKind {
    /// The node type's name in graph JSON.
    pub fn name(&self) -> &'static str {
        match self {
            NestedGraphKind::Eval => "eval",
            NestedGraphKind::Map => "map",
            NestedGraphKind::Loop { .. } => "loop",
        }
    }
}

/// What [`NestedGraphReuse::reuse`] did with a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestedGraphReuseOutcome {
    /// Its outputs and `_done` are written: the node is finished.
    Reused,
    /// Not reused; tell [`NestedGraphReuse::finished`] with `key` once it is.
    Miss { key: String },
    /// Not reusable (something inside is not cached).
    NotEligible,
}

/// Reuse of a whole nested graph (an `eval`, `map` or `loop` node) from earlier
/// results, asked before the scheduler expands the node: the result cache
/// (`crate::cache`) implements it, behind this trait so the core keeps its
/// effects at the edge and its tests can use a fake.
pub trait NestedGraphReuse: Send {
    /// Before the `kind` node at `loc`, whose inputs (its body and fixed
    /// inputs among them) are `links`, is expanded.
    fn reuse(
        &self,
        loc: &Loc,
        kind: &NestedGraphKind,
        links: &[InputLink],
        storage: &dyn ControllerStorage,
    ) -> Result<NestedGraphReuseOutcome, StorageError>;
    /// The `kind` node at `loc`, a miss under `key`, has finished in this run.
    fn finished(&self, key: String, loc: &Loc, kind: NestedGraphKind);
}

impl Scheduler<'_> {
    /// Whether the nested-graph node `starting` (running `body` from
    /// `body_ref`) was reused whole, and so is finished. Asked only of a node
    /// starting afresh while reuse is on; on a miss its key is kept until
    /// the node finishes.
    pub(super) fn reused_whole(
        &mut self,
        starting: &StartingNode<'_>,
        kind: NestedGraphKind,
        body_ref: &ValueRef,
        body: &GraphInfo,
    ) -> Result<bool, SchedulerError> {
        let Some(reuse) = self
            .nested_graph_reuse
            .as_ref()
            .filter(|_| !starting.already_started)
        else {
            return Ok(false);
        };
        let (scope_id, node_index, loc) = (starting.scope_id, starting.node_index, &starting.loc);
        let links = self.nested_scope_links(scope_id, starting.input_links.clone(), body_ref, body);
        match reuse.reuse(loc, &kind, &links, self.storage)? {
            NestedGraphReuseOutcome::Reused => {
                self.work.push_back(Work::Finished(scope_id, node_index));
                Ok(true)
            }
            NestedGraphReuseOutcome::Miss { key } => {
                self.nested_graph_misses
                    .insert((scope_id, node_index), (loc.clone(), key, kind));
                Ok(false)
            }
            NestedGraphReuseOutcome::NotEligible => Ok(false),
        }
    }
}
