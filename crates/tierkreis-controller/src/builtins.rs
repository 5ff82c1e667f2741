//! The reference's built-in tasks (`builtins.*` function nodes), run
//! in-process instead of in a Python worker, with the same results.
//!
//! Inputs arrive as the bytes of the node's input files and outputs leave as
//! the bytes of its output files, decoded and encoded as the reference's
//! `Worker` does: an input whose parameter is annotated `bytes` is taken
//! raw, every other one is JSON; a list-, sequence- or tuple-annotated one
//! is turned into a list by iterating it; a `complex` one is read from
//! `[re, im]`. Outputs are written with `bytes_from_ptype` (top-level bytes
//! raw, anything else JSON with an indent of 2), one per requested port.
//!
//! The task bodies apply Python's own semantics ([`pyops`]), because the
//! reference never checks types: `iadd` adds whatever it is given, and the
//! error text the controller records is Python's `str(exception)`.

/// The worker name of the built-in tasks.
pub const BUILTINS_WORKER: &str = "builtins";

mod pyops;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tierkreis_core::json::{JsonError, JsonErrorKind};
use tierkreis_core::Value;

use pyops::{PyErr, PyResult};

/// Why a builtin call failed. `to_string()` is exactly the text the
/// reference writes to the node's error file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuiltinError {
    /// No builtin has this name (the reference worker's message).
    #[error("builtins: function name\n{name} not found")]
    UnknownFunction { name: String },
    /// Required inputs were not given (Python's `TypeError` for the call).
    #[error("{}", missing_message(.function, .ports, *.keyword_only))]
    MissingInputs {
        function: String,
        ports: Vec<String>,
        keyword_only: bool,
    },
    /// An input the task has no parameter for (the reference fails looking
    /// the parameter up: `KeyError`).
    #[error("'{port}'")]
    UnexpectedInput { function: String, port: String },
    /// A primitive task (`fold_values`, `unfold_values`) found no input it
    /// needs (`KeyError`).
    #[error("'{port}'")]
    MissingPrimitiveInput { function: String, port: String },
    /// An output port the task does not produce was requested (`KeyError`).
    #[error("'{port}'")]
    UnknownOutput { function: String, port: String },
    /// A JSON-annotated input is not JSON. The text follows Python's
    /// `JSONDecodeError` for the common cases ("Expecting value: line 1
    /// column 1 (char 0)"); rarer ones keep the Rust reader's description.
    #[error("{message}")]
    InvalidJson {
        function: String,
        port: String,
        message: String,
    },
    /// The task raised a Python exception; `message` is `str(exception)`.
    #[error("{message}")]
    Python {
        function: String,
        exception: &'static str,
        message: String,
    },
}

fn missing_message(function: &str, ports: &[String], keyword_only: bool) -> String {
    let quoted: Vec<String> = ports.iter().map(|p| format!("'{p}'")).collect();
    let list = match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    };
    let kind = if keyword_only {
        "keyword-only"
    } else {
        "positional"
    };
    let plural = if ports.len() == 1 { "" } else { "s" };
    format!(
        "{function}() missing {} required {kind} argument{plural}: {list}",
        ports.len()
    )
}

/// How the reference decodes an input, from its parameter annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ann {
    /// JSON, used as it is (`int`, `float`, `str`, `bool`, type variables).
    Json,
    /// Raw bytes (`bytes`).
    Bytes,
    /// JSON turned into a list by iteration (`list[T]`, `Sequence[T]`,
    /// `tuple[U, V]`).
    List,
    /// A list whose items are each turned into lists (`list[list[T]]`,
    /// `list[tuple[U, V]]`).
    ListOfLists,
    /// `complex`: `complex(real=v[0], imag=v[1])`.
    Complex,
}

#[derive(Debug)]
struct Param {
    name: &'static str,
    ann: Ann,
    default: Option<i64>,
}

const fn p(name: &'static str, ann: Ann) -> Param {
    Param {
        name,
        ann,
        default: None,
    }
}

/// The signature of a builtin task.
#[derive(Debug)]
struct Spec {
    name: &'static str,
    params: &'static [Param],
    keyword_only: bool,
    outputs: &'static [&'static str],
}

const VALUE: &[&str] = &["value"];

const fn task(name: &'static str, params: &'static [Param]) -> Spec {
    Spec {
        name,
        params,
        keyword_only: false,
        outputs: VALUE,
    }
}

const fn kw_task(name: &'static str, params: &'static [Param]) -> Spec {
    Spec {
        name,
        params,
        keyword_only: true,
        outputs: VALUE,
    }
}

use Ann::{Bytes, Complex, Json, List, ListOfLists};

const AB: &[Param] = &[p("a", Json), p("b", Json)];
const A: &[Param] = &[p("a", Json)];
const VALUES_LIST: &[Param] = &[p("values", List)];
const VALUES_N: &[Param] = &[p("values", List), p("n", Json)];

/// Every task of the reference's `tierkreis/builtins/main.py` declared with
/// `@worker.task()`, with its parameters and output ports.
static SPECS: &[Spec] = &[
    task("iadd", AB),
    task("add", AB),
    task("isubtract", AB),
    task("subtract", AB),
    task("itimes", AB),
    task("times", AB),
    task("divide", AB),
    task("idivide", AB),
    task("igt", AB),
    task("gt", AB),
    task("lt", AB),
    task("conjugate", &[p("z", Complex)]),
    task("eq", AB),
    task("neq", AB),
    task("ipow", AB),
    task("tkr_pow", AB),
    task("tkr_abs", A),
    task("tkr_round", A),
    kw_task("neg", A),
    kw_task("tkr_and", AB),
    kw_task("tkr_or", AB),
    task("tkr_id", &[p("value", Json)]),
    task("append", &[p("v", List), p("a", Json)]),
    Spec {
        name: "head",
        params: &[p("v", List)],
        keyword_only: false,
        outputs: &["head", "rest"],
    },
    task("tkr_len", &[p("v", List)]),
    task("str_eq", AB),
    task("str_neq", AB),
    task("concat", &[p("lhs", Json), p("rhs", Json)]),
    task("tkr_zip", &[p("a", List), p("b", List)]),
    Spec {
        name: "unzip",
        params: &[p("value", ListOfLists)],
        keyword_only: false,
        outputs: &["a", "b"],
    },
    task("tkr_tuple", AB),
    Spec {
        name: "untuple",
        params: &[p("value", List)],
        keyword_only: false,
        outputs: &["a", "b"],
    },
    task("mean", VALUES_LIST),
    task("mod", AB),
    task(
        "tkr_range",
        &[
            p("start", Json),
            p("stop", Json),
            Param {
                name: "step",
                ann: Json,
                default: Some(1),
            },
        ],
    ),
    task("rand_int", AB),
    task("tkr_sleep", &[p("delay_seconds", Json)]),
    task("tkr_encode", &[p("string", Json)]),
    task("tkr_decode", &[p("value_bytes", Bytes)]),
    task("tkr_all", VALUES_LIST),
    task("tkr_any", VALUES_LIST),
    task("tkr_reversed", VALUES_LIST),
    task("tkr_extend", &[p("first", List), p("second", List)]),
    task("concat_lists", &[p("first", List), p("second", List)]),
    kw_task("tkr_str", &[p("value", Json)]),
    kw_task("tkr_int", &[p("value", Json)]),
    task("sum_list", VALUES_LIST),
    task("prod_list", VALUES_LIST),
    task("max_item", VALUES_LIST),
    task("min_item", VALUES_LIST),
    task("sort_number_list", VALUES_LIST),
    task("sort_string_list", VALUES_LIST),
    task("flatten", &[p("values", ListOfLists)]),
    task("take", VALUES_N),
    task("drop", VALUES_N),
    task("at", VALUES_N),
];

/// The primitive tasks, which read and write storage paths themselves.
const PRIMITIVES: &[&str] = &["fold_values", "unfold_values"];

fn strip(function: &str) -> &str {
    function.strip_prefix("builtins.").unwrap_or(function)
}

/// Whether `function` (with or without the `builtins.` prefix) is a builtin.
pub fn is_builtin(function: &str) -> bool {
    let name = strip(function);
    PRIMITIVES.contains(&name) || SPECS.iter().any(|s| s.name == name)
}

/// A call of a builtin: the function name (with or without `builtins.`),
/// the input files' bytes by port, and the output ports the graph reads.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinCall<'a> {
    pub function: &'a str,
    pub inputs: &'a IndexMap<String, Arc<[u8]>>,
    pub output_ports: &'a [String],
}

impl BuiltinCall<'_> {
    /// Run the call; see [`run`].
    pub fn run(&self) -> Result<Vec<(String, Vec<u8>)>, BuiltinError> {
        run(self.function, self.inputs, self.output_ports)
    }
}

/// Run builtin `function` on `inputs` (input port -> file bytes) and return
/// the output files to write, `(port, bytes)`.
///
/// For ordinary tasks, exactly the ports in `output_ports` are returned, in
/// that order, as the reference writes only the outputs the controller asks
/// for (an unknown port is an error, as in the reference). The primitive
/// tasks follow their own rules:
/// - `unfold_values` reads input `value` and returns one output per element,
///   named `0`, `1`, ... (all of them, whatever `output_ports` says);
/// - `fold_values` treats every input as an element, named `<prefix>-<N>`
///   (`value-0`, `value-1`, ...), orders them by the number `N` and returns
///   the list as output `value`.
///
/// `run` never blocks: `tkr_sleep` checks its input and returns `true` at
/// once; the executor waits [`delay`] first, off the scheduler's thread.
pub fn run(
    function: &str,
    inputs: &IndexMap<String, Arc<[u8]>>,
    output_ports: &[String],
) -> Result<Vec<(String, Vec<u8>)>, BuiltinError> {
    let name = strip(function);
    match name {
        "fold_values" => return fold_values(inputs),
        "unfold_values" => return unfold_values(inputs),
        _ => {}
    }
    let spec =
        SPECS
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| BuiltinError::UnknownFunction {
                name: name.to_string(),
            })?;
    let args = load_args(spec, inputs)?;
    let results = tasks::call(spec.name, args).map_err(|e| python_error(spec.name, e))?;
    output_ports
        .iter()
        .map(|port| {
            let i = spec.outputs.iter().position(|o| o == port).ok_or_else(|| {
                BuiltinError::UnknownOutput {
                    function: spec.name.to_string(),
                    port: port.clone(),
                }
            })?;
            let v = results.get(i).ok_or_else(|| BuiltinError::UnknownOutput {
                function: spec.name.to_string(),
                port: port.clone(),
            })?;
            Ok((port.clone(), v.to_bytes()))
        })
        .collect()
}

/// How long the built-in task `function` waits before it returns: the
/// length of a `tkr_sleep` whose input is valid, `None` for every other task
/// (and for a bad length, which [`run`] reports at once).
pub fn delay(function: &str, inputs: &IndexMap<String, Arc<[u8]>>) -> Option<Duration> {
    if strip(function) != "tkr_sleep" {
        return None;
    }
    let spec = SPECS.iter().find(|s| s.name == "tkr_sleep")?;
    let args = load_args(spec, inputs).ok()?;
    tasks::sleep_duration(args.first()?).ok()
}

fn python_error(function: &str, e: PyErr) -> BuiltinError {
    BuiltinError::Python {
        function: function.to_string(),
        exception: e.exception,
        message: e.message,
    }
}

/// The reference's `Worker._load_args` plus the call's argument binding:
/// decode each input by its parameter's annotation (in input order), then
/// fill defaults and report missing parameters. The result has one value
/// per parameter, in signature order.
fn load_args(
    spec: &Spec,
    inputs: &IndexMap<String, Arc<[u8]>>,
) -> Result<Vec<Value>, BuiltinError> {
    let mut decoded: Vec<Option<Value>> = vec![None; spec.params.len()];
    for (port, bytes) in inputs {
        let i = spec
            .params
            .iter()
            .position(|p| p.name == port)
            .ok_or_else(|| BuiltinError::UnexpectedInput {
                function: spec.name.to_string(),
                port: port.clone(),
            })?;
        let param = &spec.params[i];
        decoded[i] = Some(decode(spec.name, param, bytes)?);
    }
    let missing: Vec<String> = spec
        .params
        .iter()
        .zip(&decoded)
        .filter(|(p, v)| v.is_none() && p.default.is_none())
        .map(|(p, _)| p.name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(BuiltinError::MissingInputs {
            function: spec.name.to_string(),
            ports: missing,
            keyword_only: spec.keyword_only,
        });
    }
    Ok(spec
        .params
        .iter()
        .zip(decoded)
        .map(|(p, v)| v.unwrap_or_else(|| Value::int(p.default.unwrap_or(0))))
        .collect())
}

/// `ptype_from_bytes(bytes, annotation)` for one parameter.
fn decode(function: &str, param: &Param, bytes: &[u8]) -> Result<Value, BuiltinError> {
    if param.ann == Ann::Bytes {
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    let json = tierkreis_core::json::parse(bytes).map_err(|e| match e.kind {
        JsonErrorKind::InvalidUtf8 => match pyops::decode_utf8(bytes) {
            Err(py) => python_error(function, py),
            Ok(_) => invalid_json(function, param.name, bytes, &e),
        },
        _ => invalid_json(function, param.name, bytes, &e),
    })?;
    coerce(param.ann, json).map_err(|e| python_error(function, e))
}

fn invalid_json(function: &str, port: &str, bytes: &[u8], e: &JsonError) -> BuiltinError {
    let what = match &e.kind {
        JsonErrorKind::Expected { expected, .. } => match *expected {
            "a value" | "a number" => "Expecting value".to_string(),
            "':'" => "Expecting ':' delimiter".to_string(),
            other => format!("Expecting {other}"),
        },
        JsonErrorKind::TrailingData { .. } => "Extra data".to_string(),
        JsonErrorKind::ControlCharacterInString { .. } => {
            "Invalid control character at".to_string()
        }
        other => other.to_string(),
    };
    let before = &bytes[..e.offset.min(bytes.len())];
    let chars = before.iter().filter(|&&b| b & 0xC0 != 0x80).count();
    BuiltinError::InvalidJson {
        function: function.to_string(),
        port: port.to_string(),
        message: format!("{what}: line {} column {} (char {chars})", e.line, e.column),
    }
}

/// `coerce_from_annotation` for the annotations the builtins use. `None`
/// stays `None` whatever the annotation.
fn coerce(ann: Ann, v: Value) -> PyResult<Value> {
    if v == Value::Null {
        return Ok(v);
    }
    match ann {
        Ann::Json | Ann::Bytes => Ok(v),
        Ann::List => Ok(Value::List(pyops::iterate(&v)?)),
        Ann::ListOfLists => Ok(Value::List(
            pyops::iterate(&v)?
                .into_iter()
                .map(|x| coerce(Ann::List, x))
                .collect::<PyResult<_>>()?,
        )),
        Ann::Complex => tasks::complex_from(&v),
    }
}

/// The reference's `fold_values`: the inputs' values as one list, ordered by
/// the integer after the last `-` of each input name.
fn fold_values(
    inputs: &IndexMap<String, Arc<[u8]>>,
) -> Result<Vec<(String, Vec<u8>)>, BuiltinError> {
    let mut items: Vec<(num_bigint::BigInt, Value)> = Vec::with_capacity(inputs.len());
    for (port, bytes) in inputs {
        let suffix = port.rsplit('-').next().unwrap_or(port);
        let index = pyops::int(&Value::Str(suffix.to_string()))
            .map_err(|e| python_error("fold_values", e))?;
        let index = match index {
            Value::Int(i) => i,
            other => {
                return Err(python_error(
                    "fold_values",
                    PyErr::value_error(format!(
                        "invalid literal for int() with base 10: {}",
                        other.python_repr()
                    )),
                ))
            }
        };
        items.push((index, Value::from_bytes(bytes)));
    }
    // Python's list.sort is stable, as is sort_by.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let list = Value::List(items.into_iter().map(|(_, v)| v).collect());
    Ok(vec![("value".to_string(), list.to_bytes())])
}

/// The reference's `unfold_values`: each element of the input `value` (any
/// sequence: a list, the characters of a string, the byte values of bytes)
/// as output `0`, `1`, ...
fn unfold_values(
    inputs: &IndexMap<String, Arc<[u8]>>,
) -> Result<Vec<(String, Vec<u8>)>, BuiltinError> {
    let bytes = inputs
        .get("value")
        .ok_or_else(|| BuiltinError::MissingPrimitiveInput {
            function: "unfold_values".to_string(),
            port: "value".to_string(),
        })?;
    let value = Value::from_bytes(bytes);
    let items = match &value {
        Value::List(_) | Value::Str(_) | Value::Bytes(_) => {
            pyops::iterate(&value).map_err(|e| python_error("unfold_values", e))?
        }
        other => {
            return Err(python_error(
                "unfold_values",
                PyErr::new(
                    "TierkreisWorkerError",
                    format!("Expected list found {}", other.python_str()),
                ),
            ))
        }
    };
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), v.to_bytes()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> IndexMap<String, Arc<[u8]>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Arc::from(v.as_bytes())))
            .collect()
    }

    fn ports(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_reference_task_is_known() {
        // The task names of tierkreis/builtins/main.py (2.1.1).
        for name in [
            "iadd",
            "add",
            "isubtract",
            "subtract",
            "itimes",
            "times",
            "divide",
            "idivide",
            "igt",
            "gt",
            "lt",
            "conjugate",
            "eq",
            "neq",
            "ipow",
            "tkr_pow",
            "tkr_abs",
            "tkr_round",
            "neg",
            "tkr_and",
            "tkr_or",
            "tkr_id",
            "append",
            "head",
            "tkr_len",
            "str_eq",
            "str_neq",
            "fold_values",
            "unfold_values",
            "concat",
            "tkr_zip",
            "unzip",
            "tkr_tuple",
            "untuple",
            "mean",
            "mod",
            "tkr_range",
            "rand_int",
            "tkr_sleep",
            "tkr_encode",
            "tkr_decode",
            "tkr_all",
            "tkr_any",
            "tkr_reversed",
            "tkr_extend",
            "concat_lists",
            "tkr_str",
            "tkr_int",
            "sum_list",
            "prod_list",
            "max_item",
            "min_item",
            "sort_number_list",
            "sort_string_list",
            "flatten",
            "take",
            "drop",
            "at",
        ] {
            assert!(is_builtin(name), "{name}");
            assert!(is_builtin(&format!("builtins.{name}")), "{name}");
        }
        assert!(!is_builtin("nope"));
        assert_eq!(
            run("nope", &inputs(&[]), &ports(&["value"])).map_err(|e| e.to_string()),
            Err("builtins: function name\nnope not found".to_string())
        );
    }

    #[test]
    fn only_a_valid_tkr_sleep_has_a_delay_and_run_does_not_wait() {
        let ins = |v: &str| inputs(&[("delay_seconds", v)]);
        assert_eq!(
            delay("builtins.tkr_sleep", &ins("2.5")),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(delay("tkr_sleep", &ins("3")), Some(Duration::from_secs(3)));
        assert_eq!(delay("tkr_sleep", &ins("-1")), None);
        assert_eq!(delay("tkr_sleep", &ins("\"x\"")), None);
        assert_eq!(delay("iadd", &ins("3")), None);
        // An hour's sleep returns at once: waiting is the executor's job.
        let out = run("tkr_sleep", &ins("3600"), &ports(&["value"])).expect("sleep");
        assert_eq!(out, vec![("value".to_string(), b"true".to_vec())]);
        let err = run("tkr_sleep", &ins("-1"), &ports(&["value"])).map_err(|e| e.to_string());
        assert_eq!(err, Err("sleep length must be non-negative".to_string()));
    }

    #[test]
    fn missing_inputs_use_python_call_errors() {
        let err = run("iadd", &inputs(&[]), &ports(&["value"])).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("iadd() missing 2 required positional arguments: 'a' and 'b'".to_string())
        );
        let err = run("neg", &inputs(&[]), &ports(&["value"])).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("neg() missing 1 required keyword-only argument: 'a'".to_string())
        );
    }

    #[test]
    fn range_step_defaults_to_one() {
        let out = run(
            "tkr_range",
            &inputs(&[("start", "2"), ("stop", "4")]),
            &ports(&["value"]),
        );
        assert_eq!(
            out,
            Ok(vec![("value".to_string(), b"[\n  2,\n  3\n]".to_vec())])
        );
    }

    #[test]
    fn unknown_output_port_is_a_key_error() {
        let out = run(
            "iadd",
            &inputs(&[("a", "1"), ("b", "2")]),
            &ports(&["nope"]),
        );
        assert_eq!(out.map_err(|e| e.to_string()), Err("'nope'".to_string()));
    }

    #[test]
    fn only_requested_outputs_are_written() {
        let out = run("head", &inputs(&[("v", "[1, 2]")]), &ports(&["rest"]));
        assert_eq!(out, Ok(vec![("rest".to_string(), b"[\n  2\n]".to_vec())]));
    }

    #[test]
    fn invalid_json_input_reads_like_python() {
        let out = run(
            "iadd",
            &inputs(&[("a", "x"), ("b", "2")]),
            &ports(&["value"]),
        );
        assert_eq!(
            out.map_err(|e| e.to_string()),
            Err("Expecting value: line 1 column 1 (char 0)".to_string())
        );
    }
}
