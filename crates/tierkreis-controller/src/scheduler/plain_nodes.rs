//! The node kinds that take no decision and open no scope: `function` (a
//! task for the outbox), `input`, `const` and `output`.

use tierkreis_core::graph::ConstValue;
use tierkreis_core::{InputLink, PortId};

use super::{ReadyTask, Scheduler, SchedulerError, StartingNode, Status, Work};

impl Scheduler<'_> {
    /// A `function` node: writes the call args and puts the task in the outbox.
    pub(super) fn start_function(
        &mut self,
        starting: StartingNode<'_>,
        function_name: &str,
    ) -> Result<(), SchedulerError> {
        let (worker, function) = match function_name.rsplit_once('.') {
            Some((worker, function)) => (worker.to_string(), function.to_string()),
            None => (String::new(), function_name.to_string()),
        };
        let outputs: Vec<PortId> = starting.node.outputs.keys().cloned().collect();
        let call_args_path = self.storage.write_worker_call_args(
            &starting.loc,
            &function,
            &starting.input_links,
            &outputs,
        )?;
        self.running.insert(
            starting.loc.clone(),
            (starting.scope_id, starting.node_index),
        );
        self.launches.push(ReadyTask {
            loc: starting.loc,
            worker,
            function,
            inputs: starting.input_links,
            outputs,
            call_args_path,
        });
        Ok(())
    }

    /// An `input` node: links the scope's input port `name` and is done.
    pub(super) fn start_input(
        &mut self,
        starting: StartingNode<'_>,
        name: &str,
    ) -> Result<(), SchedulerError> {
        let scope_inputs = self.scope(starting.scope_id).loc.n(-1);
        self.link_all(&starting.loc, &[InputLink::same_port(name, scope_inputs)])?;
        self.storage.mark_node_finished(&starting.loc)?;
        self.work
            .push_back(Work::Finished(starting.scope_id, starting.node_index));
        Ok(())
    }

    /// A `const` node: writes its value (a graph as its JSON) and is done.
    pub(super) fn start_const(
        &mut self,
        starting: StartingNode<'_>,
        value: &ConstValue,
    ) -> Result<(), SchedulerError> {
        let bytes = match value {
            ConstValue::Value(value) => value.to_bytes(),
            ConstValue::Graph(const_graph) => {
                tierkreis_core::json::to_string_pretty(&const_graph.to_value()).into_bytes()
            }
        };
        self.storage.write_output(&starting.loc, "value", &bytes)?;
        self.storage.mark_node_finished(&starting.loc)?;
        self.work
            .push_back(Work::Finished(starting.scope_id, starting.node_index));
        Ok(())
    }

    /// The `output` node: links its inputs as the scope's outputs, which
    /// finishes the scope.
    pub(super) fn start_output(
        &mut self,
        starting: StartingNode<'_>,
    ) -> Result<(), SchedulerError> {
        self.storage.mark_node_finished(&starting.loc)?;
        let scope_loc = self.scope(starting.scope_id).loc.clone();
        self.link_all(&scope_loc, &starting.input_links)?;
        self.storage.mark_node_finished(&scope_loc)?;
        self.scope_mut(starting.scope_id).nodes[starting.node_index].status = Status::Done;
        self.work.push_back(Work::ScopeDone(starting.scope_id));
        Ok(())
    }
}
