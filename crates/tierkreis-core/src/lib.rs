//! The Tierkreis data model, exactly as the Python `tierkreis` 2.1.1 package
//! writes it: locations, values and their byte encoding, graphs, and worker
//! call arguments.
//!
//! Invariant: this crate does no I/O. It turns bytes into typed data and back,
//! and says precisely what is wrong with bad input.

pub mod call_args;
mod float_repr;
pub mod graph;
pub mod json;
pub mod loc;
pub mod output_loc;
pub mod value;

pub use call_args::WorkerCallArgs;
pub use graph::{GraphData, GraphError, NodeDef, NodeIndex, PortId, ValueRef};
pub use loc::{Loc, LocError, Step};
pub use output_loc::{InputLink, OutputLoc};
pub use value::Value;
