//! Python comparisons of values: `==` (with container items compared by
//! identity first, as for decoded NaNs) and the ordering operators, with
//! CPython's `TypeError` for unordered types.

use std::cmp::Ordering;

use tierkreis_core::Value;

use super::numbers::num_cmp;
use super::*;

/// A rich comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Gt,
    Ge,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
    /// Whether the operator holds for this ordering (`None`: unordered,
    /// as with NaN, where every ordering comparison is false).
    fn holds(self, o: Option<Ordering>) -> bool {
        match (self, o) {
            (_, None) => false,
            (Cmp::Lt, Some(o)) => o == Ordering::Less,
            (Cmp::Gt, Some(o)) => o == Ordering::Greater,
            (Cmp::Ge, Some(o)) => o != Ordering::Less,
        }
    }
}

/// `a == b`.
pub(crate) fn eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return num_cmp(&x, &y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| item_eq(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| item_eq(v, w)))
        }
        _ => false,
    }
}

/// `==` between items of containers. Python compares items with an
/// identity shortcut, and its `json` module decodes every `NaN` to the same
/// float object, so NaN items of decoded values are equal to each other
/// (`[NaN] == [NaN]` is true while `NaN == NaN` is false).
fn item_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) if x.is_nan() && y.is_nan() => true,
        _ => eq(a, b),
    }
}

/// `a <op> b`, raising Python's `TypeError` for unordered types.
pub(crate) fn compare(op: Cmp, a: &Value, b: &Value) -> PyResult<bool> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Ok(op.holds(num_cmp(&x, &y)));
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(op.holds(Some(x.cmp(y)))),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(op.holds(Some(x.cmp(y)))),
        (Value::List(x), Value::List(y)) => match x.iter().zip(y).position(|(p, q)| !eq(p, q)) {
            Some(i) => compare(op, &x[i], &y[i]),
            None => Ok(op.holds(Some(x.len().cmp(&y.len())))),
        },
        _ => Err(PyErr::type_error(format!(
            "'{}' not supported between instances of '{}' and '{}'",
            op.symbol(),
            a.type_name(),
            b.type_name()
        ))),
    }
}
