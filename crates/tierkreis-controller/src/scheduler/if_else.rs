//! The `ifelse` (lazy) and `eifelse` (eager) nodes.

use tierkreis_core::{InputLink, NodeIndex, Value, ValueRef};

use super::{Scheduler, SchedulerError, ScopeId, StartingNode, Status, Sub, Work};

/// The two if-else kinds: `ifelse` waits for its predicate only and then
/// runs the chosen branch; `eifelse` waits for both branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IfElseMode {
    Lazy,
    Eager,
}

impl Scheduler<'_> {
    /// An `ifelse` or `eifelse` node, whose predicate is done: a lazy one
    /// demands the chosen branch and finishes once it is done; an eager one
    /// (whose branches are both done) finishes now.
    pub(super) fn start_if_else(
        &mut self,
        starting: StartingNode<'_>,
        mode: IfElseMode,
        pred: &ValueRef,
        if_true: &ValueRef,
        if_false: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let StartingNode {
            scope_id,
            node_index,
            ..
        } = starting;
        let condition = match self.read_value(scope_id, pred) {
            Ok(condition) => condition,
            Err(message) => return self.fail_node(scope_id, node_index, message),
        };
        // Like the reference, only `true` chooses the true branch; any other
        // value (`false`, but also `1` or a string) chooses the false one.
        let branch = if condition == Value::Bool(true) {
            if_true
        } else {
            if_false
        };
        let branch_node = branch.node_index();
        let branch_done = match (mode, branch_node) {
            (IfElseMode::Eager, _) | (IfElseMode::Lazy, None) => true,
            (IfElseMode::Lazy, Some(branch_node)) => {
                self.scope(scope_id).nodes[branch_node].status == Status::Done
            }
        };
        if branch_done {
            self.complete_ifelse(scope_id, node_index, branch)?;
        } else if let Some(branch_node) = branch_node {
            self.scope_mut(scope_id).nodes[node_index].sub = Sub::Branch(branch.clone());
            self.work.push_back(Work::Demand(scope_id, branch_node));
        }
        Ok(())
    }

    /// Finishes an if-else node with the value of its chosen `branch`.
    pub(super) fn complete_ifelse(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
        branch: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(scope_id).loc.n(node_index as i64);
        let branch_source = self.resolve(scope_id, branch);
        self.link_all(&loc, &[InputLink::new("value", branch_source)])?;
        self.storage.mark_node_finished(&loc)?;
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::None;
        self.work.push_back(Work::Finished(scope_id, node_index));
        Ok(())
    }
}
