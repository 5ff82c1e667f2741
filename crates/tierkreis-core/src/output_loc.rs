//! Where a value is read from and where it goes, as absolute locations
//! (`OutputLoc`, `InputLink`): the controller and storage share them. Graph
//! JSON has them only in `fixed_inputs`; the rest is runtime wiring.

use crate::graph::PortId;
use crate::loc::Loc;

/// One output port of the node at an absolute location: where a value is
/// read from (a graph's fixed input, the source of a node's input).
///
/// In graph JSON (`fixed_inputs`) it is the pair `["-.N3", "value"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputLoc {
    /// The location of the node that writes the value.
    pub node: Loc,
    /// The output port of that node.
    pub port: PortId,
}

impl OutputLoc {
    pub fn new(node: Loc, port: impl Into<PortId>) -> Self {
        OutputLoc {
            node,
            port: port.into(),
        }
    }
}

/// One input of a node or scope: the input port it fills, and the output it
/// reads that value from. The controller links or reads each one; a task's
/// call args turn each into a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputLink {
    /// The input port of the node (or scope) being fed.
    pub input_port: PortId,
    /// Where its value comes from.
    pub source: OutputLoc,
}

impl InputLink {
    pub fn new(input_port: impl Into<PortId>, source: OutputLoc) -> Self {
        InputLink {
            input_port: input_port.into(),
            source,
        }
    }

    /// `port` fed from the output of the same name of `node` (a value passed
    /// on under its own name, e.g. a loop's inputs into its first iteration).
    pub fn same_port(port: impl Into<PortId>, node: Loc) -> Self {
        let port = port.into();
        InputLink {
            input_port: port.clone(),
            source: OutputLoc { node, port },
        }
    }
}
