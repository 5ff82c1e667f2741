//! Python 3.13 semantics of the operators and built-in functions the
//! reference's builtins use (`+`, `//`, `%`, `**`, comparisons, `sum`,
//! `sorted`, `int()`, `round()`...), applied to dynamically typed [`Value`]s,
//! with the exact messages Python raises.
//!
//! The reference never checks argument types: `iadd("a", "b")` concatenates.
//! So every builtin is written in terms of these operations, not of Rust
//! arithmetic on an expected type.
//!
//! Split by concern: [`numbers`] (float conversions, arithmetic, `int()`,
//! `round()`, `sum`, `mean`), [`comparison`] (`==`, `<` and friends),
//! [`formatting`] (`str % arg`, `bytes.decode()`) and [`collections`]
//! (sequence `+` and `*`, `len`, `max`/`min`, `sorted`, slices, `range`).
//! This module holds what they share: the Python exception type, the number
//! view of a value, and the operator dispatch ([`arith`]).

mod collections;
mod comparison;
mod formatting;
mod numbers;

use num_bigint::BigInt;
use num_traits::Zero;
use tierkreis_core::Value;

pub(crate) use collections::{extreme, len, range, slice_bound, sorted};
use collections::{seq_add, seq_mul};
pub(crate) use comparison::{compare, eq, Cmp};
pub(crate) use formatting::decode_utf8;
use formatting::format_str;
use numbers::num_arith;
pub(crate) use numbers::{abs, int, int_to_f64, mean, round, sum};

/// A Python exception: its class name and `str(exception)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyErr {
    pub exception: &'static str,
    pub message: String,
}

impl PyErr {
    pub fn new(exception: &'static str, message: impl Into<String>) -> Self {
        PyErr {
            exception,
            message: message.into(),
        }
    }
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new("TypeError", message)
    }
    pub fn value_error(message: impl Into<String>) -> Self {
        Self::new("ValueError", message)
    }
    pub fn zero_division(message: impl Into<String>) -> Self {
        Self::new("ZeroDivisionError", message)
    }
    pub fn overflow(message: impl Into<String>) -> Self {
        Self::new("OverflowError", message)
    }
    pub fn index_error(message: impl Into<String>) -> Self {
        Self::new("IndexError", message)
    }
    pub fn attribute_error(v: &Value, attr: &str) -> Self {
        Self::new(
            "AttributeError",
            format!("'{}' object has no attribute '{attr}'", v.type_name()),
        )
    }
    pub fn not_iterable(v: &Value) -> Self {
        Self::type_error(format!("'{}' object is not iterable", v.type_name()))
    }
    pub fn not_subscriptable(v: &Value) -> Self {
        Self::type_error(format!("'{}' object is not subscriptable", v.type_name()))
    }
    pub fn not_an_index(v: &Value) -> Self {
        Self::type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            v.type_name()
        ))
    }
    fn memory() -> Self {
        Self::new("MemoryError", "")
    }
}

pub(crate) type PyResult<T> = Result<T, PyErr>;

/// Largest number of elements or result bits we let a single operation
/// build; Python would raise `MemoryError` (or run out of memory) too.
const MAX_ELEMENTS: usize = 1 << 28;
const MAX_POW_BITS: u64 = 1 << 32;

/// A Python number: `bool` is an `int`.
#[derive(Debug, Clone)]
enum Num {
    Int(BigInt),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(BigInt::from(u8::from(*b)))),
        Value::Int(i) => Some(Num::Int(i.clone())),
        Value::Float(f) => Some(Num::Float(*f)),
        _ => None,
    }
}

/// Python's `operator.index(v)`: ints and bools.
pub(crate) fn index(v: &Value) -> PyResult<BigInt> {
    match v {
        Value::Bool(b) => Ok(BigInt::from(u8::from(*b))),
        Value::Int(i) => Ok(i.clone()),
        other => Err(PyErr::not_an_index(other)),
    }
}

/// Python truthiness.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => !i.is_zero(),
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
    }
}

/// The items of `for x in v` (a `str` yields characters, a `dict` its keys,
/// `bytes` its byte values).
pub(crate) fn iterate(v: &Value) -> PyResult<Vec<Value>> {
    match v {
        Value::List(l) => Ok(l.clone()),
        Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
        Value::Bytes(b) => Ok(b.iter().map(|&x| Value::int(i64::from(x))).collect()),
        Value::Map(m) => Ok(m.keys().map(|k| Value::Str(k.clone())).collect()),
        other => Err(PyErr::not_iterable(other)),
    }
}

// ---------------------------------------------------------------- arithmetic

/// A binary arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    TrueDiv,
    FloorDiv,
    Mod,
    Pow,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::TrueDiv => "/",
            Op::FloorDiv => "//",
            Op::Mod => "%",
            Op::Pow => "** or pow()",
        }
    }
}

fn unsupported(op: Op, a: &Value, b: &Value) -> PyErr {
    PyErr::type_error(format!(
        "unsupported operand type(s) for {}: '{}' and '{}'",
        op.symbol(),
        a.type_name(),
        b.type_name()
    ))
}

/// `a <op> b` with Python semantics.
pub(crate) fn arith(op: Op, a: &Value, b: &Value) -> PyResult<Value> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return num_arith(op, x, y);
    }
    match (op, a) {
        (Op::Add, _) => seq_add(a, b),
        (Op::Mul, _) => seq_mul(a, b),
        (Op::Mod, Value::Str(fmt)) => format_str(fmt, b).map(Value::Str),
        (Op::Mod, Value::Bytes(fmt)) if !fmt.contains(&b'%') => {
            if matches!(b, Value::List(_) | Value::Map(_)) {
                Ok(a.clone())
            } else {
                Err(PyErr::type_error(
                    "not all arguments converted during bytes formatting",
                ))
            }
        }
        _ => Err(unsupported(op, a, b)),
    }
}

/// `a *= b`: as `a * b`, with the in-place operator in the type error.
pub(crate) fn imul(a: &Value, b: &Value) -> PyResult<Value> {
    arith(Op::Mul, a, b).map_err(|mut e| {
        if let Some(rest) = e.message.strip_prefix("unsupported operand type(s) for *:") {
            e.message = format!("unsupported operand type(s) for *=:{rest}");
        }
        e
    })
}

#[cfg(test)]
mod tests;
