//! Python stubs for a worker, in the exact form of the reference's
//! `Namespace.stubs()` (before its optional `ruff` pass), so that Python
//! graph builders can `import` them and call the worker's tasks with types:
//! one `NamedTuple` per task whose fields are `TKR[...]` inputs, with an
//! `out()` static method and a `namespace` property, and one `NamedTuple`
//! per multi-output struct.

use std::collections::BTreeMap;

use crate::signature::{Outputs, Port, TaskSignature};

fn typed_arg(port: &Port) -> String {
    let default = if port.has_default {
        " | None = None "
    } else {
        ""
    };
    format!("{}: TKR[{}]{default}", port.name, port.ty)
}

fn format_model(name: &str, ports: &[Port]) -> String {
    let mut fields: Vec<String> = ports.iter().map(typed_arg).collect();
    fields.sort();
    let fields = fields.join("\n    ");
    format!("\nclass {name}(NamedTuple):\n    {fields}\n")
}

fn format_method(namespace: &str, name: &str, sig: &TaskSignature) -> String {
    let ins = sig
        .inputs
        .iter()
        .map(typed_arg)
        .collect::<Vec<_>>()
        .join("\n    ");
    let out = match &sig.outputs {
        Outputs::Value(t) => format!("TKR[{t}]"),
        Outputs::Ports { model, .. } => model.clone(),
    };
    format!(
        "class {name}(NamedTuple):\n    {ins}\n\n    @staticmethod\n    def out() -> type[{out}]:\n        return {out}\n\n    @property\n    def namespace(self) -> str:\n        return \"{namespace}\" "
    )
}

/// The stubs text of the worker `namespace` with the typed tasks `tasks`
/// (name and signature, in registration order).
pub(crate) fn render<'a>(
    namespace: &str,
    tasks: impl IntoIterator<Item = (&'a str, &'a TaskSignature)>,
) -> String {
    let mut models: BTreeMap<&str, &[Port]> = BTreeMap::new();
    let mut methods = Vec::new();
    for (name, sig) in tasks {
        if let Outputs::Ports { model, ports } = &sig.outputs {
            models.entry(model.as_str()).or_insert(ports.as_slice());
        }
        methods.push(format_method(namespace, name, sig));
    }
    let models = models
        .into_iter()
        .map(|(name, ports)| format_model(name, ports))
        .collect::<Vec<_>>()
        .join("\n\n");
    let methods = methods.join("\n\n");
    format!(
        "\"\"\"Code generated from {namespace} namespace. Please do not edit.\"\"\"

#ruff: noqa: F821
from typing import Literal, NamedTuple, Sequence, TypeVar, Generic, Protocol, Union
from types import NoneType
from tierkreis.controller.data.models import TKR, OpaqueType
from tierkreis.controller.data.types import PType, Struct, Workflow

{models}

{methods}
"
    )
}
