//! A `map` node: one nested scope per element of its `*` input, all at
//! once; the node finishes when every element has.

use tierkreis_core::{InputLink, NodeIndex, OutputLoc, PortId, ValueRef};

use super::nested_graph_reuse::NestedGraphKind;
use super::nested_scope::{push_fixed, virtual_eval, BODY_PORT};
use super::{Owner, Scheduler, SchedulerError, ScopeId, StartingNode, Sub, Work};

impl Scheduler<'_> {
    /// A `map` node: one nested scope per element of its `*` input (on
    /// resume, per element not yet finished).
    pub(super) fn start_map(
        &mut self,
        starting: StartingNode<'_>,
        body_ref: &ValueRef,
    ) -> Result<(), SchedulerError> {
        let Some(body) = self.begin_nested(&starting, NestedGraphKind::Map, body_ref)? else {
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
        let Some(mapped_source) = input_links
            .iter()
            .find(|link| link.source.port == "*")
            .map(|link| link.source.node.clone())
        else {
            return self.fail_node(
                scope_id,
                node_index,
                format!("map node {loc} has no input whose port is \"*\" to map over"),
            );
        };
        let ports = self.storage.read_output_ports(&mapped_source)?;
        let mut elements = Vec::with_capacity(ports.len());
        for port in ports {
            let element_index = port
                .rsplit('-')
                .next()
                .and_then(|index| index.parse::<u64>().ok());
            match element_index {
                Some(element_index) => elements.push((element_index, port)),
                None => {
                    return self.fail_node(
                        scope_id,
                        node_index,
                        format!(
                            "map node {loc}: output {port:?} of {mapped_source} has no element index (expected a name ending in -<number>)"
                        ),
                    )
                }
            }
        }
        if elements.is_empty() {
            self.storage.mark_node_finished(&loc)?;
            self.work.push_back(Work::Finished(scope_id, node_index));
            return Ok(());
        }
        let body_source = self.resolve(scope_id, body_ref);
        let element_nodedef = virtual_eval(node.inputs.clone(), node).to_json();
        let mut remaining = 0;
        let mut scopes_to_make = Vec::new();
        for (element_index, element_port) in &elements {
            let element_loc = loc.m(*element_index);
            if already_started && self.storage.is_node_finished(&element_loc) {
                continue;
            }
            remaining += 1;
            let element_restored = already_started && self.storage.is_node_started(&element_loc);
            let mut links = vec![InputLink::new(BODY_PORT, body_source.clone())];
            for link in &input_links {
                let mut source = link.source.clone();
                if source.port == "*" {
                    source.port = element_port.clone();
                }
                links.push(InputLink::new(link.input_port.clone(), source));
            }
            push_fixed(&mut links, &body.data);
            self.link_all(&element_loc.n(-1), &links)?;
            let nodedef_path = self.storage.nodedef_path(&element_loc);
            self.storage.write_fresh(&nodedef_path, &element_nodedef)?;
            scopes_to_make.push((element_loc, element_restored));
        }
        self.scope_mut(scope_id).nodes[node_index].sub = Sub::Map {
            remaining,
            elems: elements,
            body: body.clone(),
        };
        if remaining == 0 {
            self.finish_map(scope_id, node_index)?;
        }
        for (element_loc, element_restored) in scopes_to_make {
            self.new_scope(
                element_loc,
                body.clone(),
                Owner::MapElem {
                    scope: scope_id,
                    node: node_index,
                },
                element_restored,
            )?;
        }
        Ok(())
    }

    /// Every element of map node `node_index` finished: links each
    /// element's outputs as `<output>-<element port>` and finishes the node.
    pub(super) fn finish_map(
        &mut self,
        scope_id: ScopeId,
        node_index: NodeIndex,
    ) -> Result<(), SchedulerError> {
        let loc = self.scope(scope_id).loc.n(node_index as i64);
        let Sub::Map { elems, body, .. } = std::mem::replace(
            &mut self.scope_mut(scope_id).nodes[node_index].sub,
            Sub::None,
        ) else {
            return Ok(());
        };
        let body_outputs: Vec<PortId> = body.node(body.output_idx).inputs.keys().cloned().collect();
        for (element_index, element_port) in &elems {
            let element_loc = loc.m(*element_index);
            let links: Vec<InputLink> = body_outputs
                .iter()
                .map(|output| {
                    InputLink::new(
                        format!("{output}-{element_port}"),
                        OutputLoc::new(element_loc.clone(), output.clone()),
                    )
                })
                .collect();
            self.link_all(&loc, &links)?;
        }
        self.storage.mark_node_finished(&loc)?;
        self.work.push_back(Work::Finished(scope_id, node_index));
        Ok(())
    }
}
