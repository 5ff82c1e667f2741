//! Task signatures: the input and output ports of a typed task and their
//! Python types, read from the Rust types' JSON Schemas (`schemars`). They
//! drive the stubs and tell the runner which inputs are optional and which
//! are read as raw bytes.

use std::fmt;

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value as Json};

use crate::types::TKR_TYPE_KEYWORD;

/// A Python type as written in stubs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyType {
    Int,
    Float,
    Str,
    Bool,
    Bytes,
    NoneType,
    List(Box<PyType>),
    /// `dict[str, T]`.
    Dict(Box<PyType>),
    Union(Vec<PyType>),
    /// Anything the stubs cannot say more precisely: `PType`.
    Any,
}

impl fmt::Display for PyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyType::Int => f.write_str("int"),
            PyType::Float => f.write_str("float"),
            PyType::Str => f.write_str("str"),
            PyType::Bool => f.write_str("bool"),
            PyType::Bytes => f.write_str("bytes"),
            PyType::NoneType => f.write_str("NoneType"),
            PyType::List(t) => write!(f, "list[{t}]"),
            PyType::Dict(t) => write!(f, "dict[str, {t}]"),
            PyType::Union(ts) => {
                f.write_str("Union[")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("]")
            }
            PyType::Any => f.write_str("PType"),
        }
    }
}

/// One port of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub ty: PyType,
    /// An input that may be left out (a `#[serde(default)]` or `Option`
    /// field): a missing input file means "use the default".
    pub has_default: bool,
}

/// What a task returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outputs {
    /// One value on the port `value`.
    Value(PyType),
    /// Several named ports: the fields of the struct `model`.
    Ports { model: String, ports: Vec<Port> },
}

/// The ports of a typed task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSignature {
    /// In declaration order.
    pub inputs: Vec<Port>,
    pub outputs: Outputs,
}

impl TaskSignature {
    /// The input port `name`, if declared.
    pub fn input(&self, name: &str) -> Option<&Port> {
        self.inputs.iter().find(|p| p.name == name)
    }
}

/// Why a Rust type cannot be the inputs or outputs of a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Inputs must be a struct with named fields (one per port), or `()`.
    #[error("the inputs of a task must be a struct with named fields, but {type_name} is not")]
    InputsNotAStruct { type_name: &'static str },
    /// Outputs of a multi-output task must be a struct with named fields.
    #[error("the outputs of a multi-output task must be a struct with named fields, but {type_name} is not")]
    OutputsNotAStruct { type_name: &'static str },
}

/// The signature of a task taking `I` and returning `O` on one port
/// (`multi == false`) or on one port per field of `O`.
pub(crate) fn signature_of<I, O>(multi: bool) -> Result<TaskSignature, SignatureError>
where
    I: DeserializeOwned + JsonSchema,
    O: JsonSchema,
{
    let inputs = match struct_ports::<I>(declared_fields::<I>()) {
        Some(ports) => ports,
        None => {
            return Err(SignatureError::InputsNotAStruct {
                type_name: std::any::type_name::<I>(),
            })
        }
    };
    let outputs = if multi {
        let schema = root_schema::<O>();
        let model = schema
            .get("title")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| short_type_name::<O>());
        match struct_ports::<O>(None) {
            Some(ports) if !ports.is_empty() => Outputs::Ports {
                model,
                // Every declared output field is always written.
                ports: ports
                    .into_iter()
                    .map(|p| Port {
                        has_default: false,
                        ..p
                    })
                    .collect(),
            },
            _ => {
                return Err(SignatureError::OutputsNotAStruct {
                    type_name: std::any::type_name::<O>(),
                })
            }
        }
    } else {
        let schema = root_schema::<O>();
        Outputs::Value(py_type(&schema, defs(&schema), 0))
    };
    Ok(TaskSignature { inputs, outputs })
}

fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

fn root_schema<T: JsonSchema>() -> Json {
    SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value()
}

fn defs(root: &Json) -> Option<&Map<String, Json>> {
    root.get("$defs").and_then(Json::as_object)
}

/// The ports of a struct type `T`, or `None` if it is not a struct (`()`
/// gives no ports). `order` is the declared field order, if known; fields
/// not in it follow in the schema's (alphabetical) order.
fn struct_ports<T: JsonSchema>(order: Option<&'static [&'static str]>) -> Option<Vec<Port>> {
    let root = root_schema::<T>();
    let defs = defs(&root);
    if root.get("type").and_then(Json::as_str) == Some("null") {
        return Some(Vec::new());
    }
    let props = root.get("properties").and_then(Json::as_object)?;
    let required: Vec<&str> = root
        .get("required")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<&str> = order
        .unwrap_or(&[])
        .iter()
        .copied()
        .filter(|n| props.contains_key(*n))
        .collect();
    for name in props.keys() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    Some(
        names
            .into_iter()
            .map(|name| Port {
                name: name.to_string(),
                ty: py_type(&props[name], defs, 0),
                has_default: !required.contains(&name),
            })
            .collect(),
    )
}

/// The Python type of a JSON Schema.
fn py_type(schema: &Json, defs: Option<&Map<String, Json>>, depth: usize) -> PyType {
    if depth > 32 {
        return PyType::Any;
    }
    let Some(obj) = schema.as_object() else {
        return PyType::Any;
    };
    if let Some(r) = obj.get("$ref").and_then(Json::as_str) {
        let target = r
            .strip_prefix("#/$defs/")
            .and_then(|name| defs.and_then(|d| d.get(name)));
        return match target {
            Some(t) => py_type(t, defs, depth + 1),
            None => PyType::Any,
        };
    }
    if obj.get(TKR_TYPE_KEYWORD).and_then(Json::as_str) == Some("bytes") {
        return PyType::Bytes;
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = obj.get(key).and_then(Json::as_array) {
            return union(alts.iter().map(|a| py_type(a, defs, depth + 1)));
        }
    }
    match obj.get("type") {
        Some(Json::String(t)) => simple_type(t, obj, defs, depth),
        Some(Json::Array(ts)) => union(
            ts.iter()
                .filter_map(Json::as_str)
                .map(|t| simple_type(t, obj, defs, depth)),
        ),
        _ => PyType::Any,
    }
}

fn simple_type(
    t: &str,
    obj: &Map<String, Json>,
    defs: Option<&Map<String, Json>>,
    depth: usize,
) -> PyType {
    match t {
        "integer" => PyType::Int,
        "number" => PyType::Float,
        "string" => PyType::Str,
        "boolean" => PyType::Bool,
        "null" => PyType::NoneType,
        "array" => match obj.get("items") {
            Some(items @ Json::Object(_)) => {
                PyType::List(Box::new(py_type(items, defs, depth + 1)))
            }
            _ => PyType::List(Box::new(PyType::Any)),
        },
        "object" => match obj.get("additionalProperties") {
            Some(values @ Json::Object(_)) if !obj.contains_key("properties") => {
                PyType::Dict(Box::new(py_type(values, defs, depth + 1)))
            }
            _ => PyType::Dict(Box::new(PyType::Any)),
        },
        _ => PyType::Any,
    }
}

fn union(types: impl Iterator<Item = PyType>) -> PyType {
    let mut out: Vec<PyType> = Vec::new();
    for t in types {
        let parts = match t {
            PyType::Union(ts) => ts,
            other => vec![other],
        };
        for p in parts {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    if out.contains(&PyType::Any) {
        return PyType::Any;
    }
    match out.len() {
        1 => out.pop().unwrap_or(PyType::Any),
        _ => PyType::Union(out),
    }
}

/// The declared field names of a struct, from its `Deserialize` impl (which
/// names them in declaration order, with serde renames applied).
fn declared_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    match T::deserialize(FieldProbe) {
        Err(Probe::Fields(fields)) => Some(fields),
        _ => None,
    }
}

struct FieldProbe;

#[derive(Debug)]
enum Probe {
    Fields(&'static [&'static str]),
    NotAStruct,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for Probe {}

impl de::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe::NotAStruct
    }
}

impl<'de> de::Deserializer<'de> for FieldProbe {
    type Error = Probe;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probe> {
        Err(Probe::NotAStruct)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probe> {
        Err(Probe::Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{BigInt, Bytes};
    use serde::{Deserialize, Serialize};
    use std::collections::HashMap;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Ins {
        zeta: i64,
        alpha: Vec<f64>,
        #[serde(default)]
        scale: f64,
        maybe: Option<u32>,
        #[serde(rename = "renamed")]
        orig: String,
        table: HashMap<String, Vec<bool>>,
        raw: Bytes,
        big: BigInt,
        nested: Option<Vec<Option<String>>>,
        anything: serde_json::Value,
        inner: Inner,
    }

    #[derive(Deserialize, Serialize, JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        x: i32,
    }

    #[derive(Serialize, JsonSchema)]
    #[allow(dead_code)]
    struct Outs {
        b: f64,
        a: Vec<Bytes>,
    }

    fn ports(sig: &TaskSignature) -> Vec<String> {
        sig.inputs
            .iter()
            .map(|p| {
                format!(
                    "{}: {}{}",
                    p.name,
                    p.ty,
                    if p.has_default { " = default" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn inputs_keep_declaration_order_and_types() {
        let sig = signature_of::<Ins, i64>(false).unwrap();
        assert_eq!(
            ports(&sig),
            [
                "zeta: int",
                "alpha: list[float]",
                "scale: float = default",
                "maybe: Union[int, NoneType] = default",
                "renamed: str",
                "table: dict[str, list[bool]]",
                "raw: bytes",
                "big: int",
                "nested: Union[list[Union[str, NoneType]], NoneType] = default",
                "anything: PType",
                "inner: dict[str, PType]",
            ]
        );
        assert_eq!(sig.outputs, Outputs::Value(PyType::Int));
        assert!(sig.input("raw").is_some());
        assert!(sig.input("orig").is_none());
    }

    #[test]
    fn multi_outputs_are_struct_fields() {
        let sig = signature_of::<(), Outs>(true).unwrap();
        assert!(sig.inputs.is_empty());
        let Outputs::Ports { model, ports } = sig.outputs else {
            panic!("not ports")
        };
        assert_eq!(model, "Outs");
        let names: Vec<_> = ports
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        assert_eq!(names, ["a: list[bytes]", "b: float"]);
    }

    #[test]
    fn non_structs_are_rejected() {
        assert_eq!(
            signature_of::<i64, i64>(false),
            Err(SignatureError::InputsNotAStruct { type_name: "i64" })
        );
        assert!(matches!(
            signature_of::<(), Vec<i64>>(true),
            Err(SignatureError::OutputsNotAStruct { .. })
        ));
        // Single outputs may be anything, including nothing.
        let sig = signature_of::<(), ()>(false).unwrap();
        assert_eq!(sig.outputs, Outputs::Value(PyType::NoneType));
    }
}
