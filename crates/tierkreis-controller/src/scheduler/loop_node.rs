//! A `loop` node: one nested scope per iteration, each started when the
//! previous one finishes with its continue port true.

use indexmap::IndexMap;
use tierkreis_core::graph::NodeKind;
use tierkreis_core::{InputLink, Loc, NodeDef, NodeIndex, OutputLoc, PortId, Value, ValueRef};

use super::nested_graph_reuse::NestedGraphKind;
use super::nested_scope::{push_fixed, virtual_eval, BODY_PORT};
use super::prepared_graph::GraphInfo;
use super::{Owner, Scheduler, SchedulerError, Scope, ScopeId, StartingNode, Sub, Work};

impl Scheduler<'_> {
    /// A `loop` node: starts its first iteration (or, on resume, the latest
    /// one); each finished iteration starts the next (`next_iteration`).
    pub(super) fn start_loop(
        &mut self,
        starting: StartingNode<'_>,
        body_ref: &ValueRef,
        debug_name: Option<&str>,
        continue_port: &PortId,
    ) -> Result<(), SchedulerError> {
        let kind = NestedGraphKind::Loop {
            continue_port: continue_port.clone(),
        };
        let Some(body) = self.begin_nested(&starting, kind, body_ref)? else {
            return Ok(());
        };
        let StartingNode {
            scope_id,
            node_index,
            node,
            loc,
            already_started,
            input_links,
        } = starting;
        let mut links = input_links;
        links.push(InputLink::new(BODY_PORT, self.resolve(scope_id, body_ref)));
        let loop_inputs = loc.n(-1);
        let mut iteration = 0;
        self.link_all(&loop_inputs, &links)?;
        if already_started {
            iteration =
                u64::try_from(self.storage.latest_loop_iteration(&loc).peek_index()).unwrap_or(0);
        } else if let Some(debug_name) = debug_name {
            self.storage.write_debug_data(debug_name, &loc)?;
        }
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::Loop;
        let iteration_loc = loc.l(iteration);
        let iteration_restored = already_started && self.storage.is_node_started(&iteration_loc);
        // Links are idempotent: a restored iteration gets them again, in
        // case the controller died between its nodedef and its inputs.
        let iteration_links = if iteration == 0 {
            // Iteration 0 reads every loop input from the loop's own inputs.
            let mut first: Vec<InputLink> = links
                .iter()
                .map(|link| InputLink::same_port(link.input_port.clone(), loop_inputs.clone()))
                .collect();
            push_fixed(&mut first, &body.data);
            first
        } else {
            later_iteration_links(node, &loc.l(iteration - 1), &body)
        };
        self.start_iteration(&iteration_loc, node, &iteration_links)?;
        self.new_scope(
            iteration_loc,
            body,
            Owner::LoopIter {
                scope: scope_id,
                node: node_index,
                iter: iteration,
            },
            iteration_restored,
        )?;
        Ok(())
    }

    /// Links a loop iteration's inputs, then writes its virtual eval node: a
    /// node counts as started only once its inputs are in place. On resume
    /// both are done again (idempotent, and repairs a cut-short nodedef).
    fn start_iteration(
        &self,
        iteration_loc: &Loc,
        loop_node: &NodeDef,
        links: &[InputLink],
    ) -> Result<(), SchedulerError> {
        self.link_all(&iteration_loc.n(-1), links)?;
        let inputs: IndexMap<PortId, ValueRef> = links
            .iter()
            .map(|link| {
                let port = &link.input_port;
                (port.clone(), ValueRef::new(-1, port.clone()))
            })
            .collect();
        self.storage
            .write_node_def(iteration_loc, &virtual_eval(inputs, loop_node))?;
        Ok(())
    }

    /// Iteration `iteration` (the scope `done`) of the loop node `node_index`
    /// finished: if its continue port is false the loop takes its outputs
    /// and is done, otherwise the next iteration starts.
    pub(super) fn next_iteration(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
        iteration: u64,
        done: &Scope,
    ) -> Result<(), SchedulerError> {
        let Some(parent) = self.scopes[scope_id].as_ref() else {
            return Ok(());
        };
        let loop_loc = parent.loc.n(node_index as i64);
        let loop_node = parent.graph.node(node_index).clone();
        let NodeKind::Loop { continue_port, .. } = &loop_node.kind else {
            return Ok(());
        };
        let iteration_loc = &done.loc;
        let body = done.graph.clone();
        let body_outputs = &body.node(body.output_idx).inputs;
        let continue_value = match self.storage.read_output(iteration_loc, continue_port) {
            Ok(bytes) => Value::from_bytes(&bytes),
            Err(error) => {
                return self.fail_node(
                    scope_id,
                    node_index,
                    format!("loop {loop_loc}: cannot read continue port {continue_port:?} of iteration {iteration_loc}: {error}"),
                )
            }
        };
        if continue_value == Value::Bool(false) {
            let links: Vec<InputLink> = body_outputs
                .keys()
                .map(|port| InputLink::same_port(port.clone(), iteration_loc.clone()))
                .collect();
            self.link_all(&loop_loc, &links)?;
            self.storage.mark_node_finished(&loop_loc)?;
            self.work.push_back(Work::Finished(scope_id, node_index));
            return Ok(());
        }
        let links = later_iteration_links(&loop_node, iteration_loc, &body);
        let next = iteration + 1;
        let next_loc = loop_loc.l(next);
        self.start_iteration(&next_loc, &loop_node, &links)?;
        self.new_scope(
            next_loc,
            body,
            Owner::LoopIter {
                scope: scope_id,
                node: node_index,
                iter: next,
            },
            false,
        )?;
        Ok(())
    }
}

/// The inputs of the loop iteration after `previous` (the reference's `walk_loop`):
/// each body output, and every other loop input carried over from `previous`.
fn later_iteration_links(loop_node: &NodeDef, previous: &Loc, body: &GraphInfo) -> Vec<InputLink> {
    let previous_inputs = previous.n(-1);
    let mut links: IndexMap<PortId, OutputLoc> = loop_node
        .inputs
        .keys()
        .map(|port| {
            (
                port.clone(),
                OutputLoc::new(previous_inputs.clone(), port.clone()),
            )
        })
        .collect();
    for (port, value_ref) in &body.node(body.output_idx).inputs {
        links.insert(
            port.clone(),
            OutputLoc::new(previous.n(value_ref.node), value_ref.port.clone()),
        );
    }
    links.insert(
        BODY_PORT.to_string(),
        OutputLoc::new(previous_inputs, BODY_PORT),
    );
    let mut links: Vec<InputLink> = links
        .into_iter()
        .map(|(port, source)| InputLink::new(port, source))
        .collect();
    push_fixed(&mut links, &body.data);
    links
}
