//! An `eval` node: runs its graph in one nested scope.

use tierkreis_core::ValueRef;

use super::nested_graph_reuse::NestedGraphKind;
use super::{Owner, Scheduler, SchedulerError, StartingNode, Sub};

impl Scheduler<'_> {
    /// An `eval` node: runs its graph in a nested scope.
    pub(super) fn start_eval(
        &mut self,
        starting: StartingNode<'_>,
        graph_ref: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let Some(body) = self.begin_nested(&starting, NestedGraphKind::Eval, graph_ref)? else {
            return Ok(());
        };
        let StartingNode {
            scope_id,
            node_index,
            loc,
            already_started,
            input_links,
            ..
        } = starting;
        let links = self.nested_scope_links(scope_id, input_links, graph_ref, &body);
        self.link_all(&loc.n(-1), &links)?;
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::Eval;
        self.new_scope(
            loc,
            body,
            Owner::Eval {
                scope: scope_id,
                node: node_index,
            },
            already_started,
        )?;
        Ok(())
    }
}
