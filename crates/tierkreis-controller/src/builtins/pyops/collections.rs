//! Python sequences and iterables: `+` and `*` on sequences, `len`,
//! `max`/`min`, `sorted` (in CPython's comparison order), slice bounds and
//! `range`.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};
use tierkreis_core::Value;

use super::*;

pub(super) fn seq_add(a: &Value, b: &Value) -> PyResult<Value> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Str(format!("{x}{y}"))),
        (Value::List(x), Value::List(y)) => {
            Ok(Value::List(x.iter().chain(y.iter()).cloned().collect()))
        }
        (Value::Bytes(x), Value::Bytes(y)) => {
            Ok(Value::Bytes(x.iter().chain(y.iter()).copied().collect()))
        }
        (Value::Str(_), other) => Err(PyErr::type_error(format!(
            "can only concatenate str (not \"{}\") to str",
            other.type_name()
        ))),
        (Value::List(_), other) => Err(PyErr::type_error(format!(
            "can only concatenate list (not \"{}\") to list",
            other.type_name()
        ))),
        (Value::Bytes(_), other) => Err(PyErr::type_error(format!(
            "can't concat {} to bytes",
            other.type_name()
        ))),
        _ => Err(unsupported(Op::Add, a, b)),
    }
}

fn is_sequence(v: &Value) -> bool {
    matches!(v, Value::Str(_) | Value::List(_) | Value::Bytes(_))
}

pub(super) fn seq_mul(a: &Value, b: &Value) -> PyResult<Value> {
    let (seq, count) = match (is_sequence(a), is_sequence(b)) {
        (true, _) => (a, b),
        (false, true) => (b, a),
        (false, false) => return Err(unsupported(Op::Mul, a, b)),
    };
    let n = match count {
        Value::Int(_) | Value::Bool(_) => index(count)?,
        other => {
            return Err(PyErr::type_error(format!(
                "can't multiply sequence by non-int of type '{}'",
                other.type_name()
            )))
        }
    };
    let times = if n.is_negative() {
        0
    } else {
        n.to_usize()
            .ok_or_else(|| PyErr::overflow("cannot fit 'int' into an index-sized integer"))?
    };
    let len = match seq {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        _ => 0,
    };
    if len
        .checked_mul(times)
        .is_none_or(|total| total > isize::MAX as usize)
    {
        return Err(match seq {
            Value::Str(_) => PyErr::overflow("repeated string is too long"),
            Value::Bytes(_) => PyErr::overflow("repeated bytes are too long"),
            _ => PyErr::memory(),
        });
    }
    if len.saturating_mul(times) > MAX_ELEMENTS {
        return Err(PyErr::memory());
    }
    Ok(match seq {
        Value::Str(s) => Value::Str(s.repeat(times)),
        Value::Bytes(b) => Value::Bytes(b.repeat(times)),
        Value::List(l) => Value::List((0..times).flat_map(|_| l.iter().cloned()).collect()),
        other => other.clone(),
    })
}

/// `len(v)`.
pub(crate) fn len(v: &Value) -> PyResult<usize> {
    match v {
        Value::Str(s) => Ok(s.chars().count()),
        Value::Bytes(b) => Ok(b.len()),
        Value::List(l) => Ok(l.len()),
        Value::Map(m) => Ok(m.len()),
        other => Err(PyErr::type_error(format!(
            "object of type '{}' has no len()",
            other.type_name()
        ))),
    }
}

/// `max(items)` (`is_max`) or `min(items)`: the first extreme item.
pub(crate) fn extreme(items: &[Value], is_max: bool) -> PyResult<Value> {
    let name = if is_max { "max" } else { "min" };
    let op = if is_max { Cmp::Gt } else { Cmp::Lt };
    let mut it = items.iter();
    let Some(first) = it.next() else {
        return Err(PyErr::value_error(format!(
            "{name}() iterable argument is empty"
        )));
    };
    let mut best = first;
    for item in it {
        if compare(op, item, best)? {
            best = item;
        }
    }
    Ok(best.clone())
}

/// `sorted(items)`: stable, using only `<`, in the order CPython 3.13's
/// timsort compares for lists shorter than 64 (an initial run, then binary
/// insertion), so inconsistent orders (NaN) and type errors come out the
/// same there. Longer lists are sorted the same way (the result only differs
/// from CPython's merges for inconsistent orders).
pub(crate) fn sorted(items: &[Value]) -> PyResult<Vec<Value>> {
    let mut v: Vec<Value> = items.to_vec();
    let n = v.len();
    if n < 2 {
        return Ok(v);
    }
    let lt = |a: &Value, b: &Value| compare(Cmp::Lt, a, b);
    let run = count_run(&mut v, &lt)?;
    // binarysort
    for start in run..n {
        let pivot = v[start].clone();
        let (mut l, mut r) = (0, start);
        while l < r {
            let p = l + ((r - l) >> 1);
            if lt(&pivot, &v[p])? {
                r = p;
            } else {
                l = p + 1;
            }
        }
        v[l..=start].rotate_right(1);
    }
    Ok(v)
}

/// CPython 3.13's `count_run`: the length of the initial run of `v`, made
/// ascending in place (descending runs are reversed, keeping equal
/// elements stable).
fn count_run(v: &mut [Value], lt: &impl Fn(&Value, &Value) -> PyResult<bool>) -> PyResult<usize> {
    let total = v.len();
    let mut n = 1;
    while n < total {
        if lt(&v[n], &v[n - 1])? {
            break;
        }
        n += 1;
    }
    if n == total {
        return Ok(n);
    }
    if n > 1 {
        if lt(&v[0], &v[n - 1])? {
            return Ok(n);
        }
        v[..n].reverse();
    }
    n += 1;
    let mut neq = 0;
    let reverse_last_neq = |v: &mut [Value], n: usize, neq: &mut usize| {
        if *neq > 0 {
            let k = *neq + 1;
            v[n - k..n].reverse();
            *neq = 0;
        }
    };
    while n < total {
        if lt(&v[n], &v[n - 1])? {
            reverse_last_neq(v, n, &mut neq);
        } else if lt(&v[n - 1], &v[n])? {
            break;
        } else {
            neq += 1;
        }
        n += 1;
    }
    reverse_last_neq(v, n, &mut neq);
    v[..n].reverse();
    while n < total {
        if lt(&v[n], &v[n - 1])? {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Python's `list[start:stop]` bounds for an index value that is an int
/// or `None` (`None` gives `default`).
pub(crate) fn slice_bound(n: &Value, len: usize, default: usize) -> PyResult<usize> {
    let i = match n {
        Value::Null => return Ok(default),
        Value::Int(_) | Value::Bool(_) => index(n)?,
        _ => {
            return Err(PyErr::type_error(
                "slice indices must be integers or None or have an __index__ method",
            ))
        }
    };
    let len_big = BigInt::from(len);
    let adjusted = if i.is_negative() { i + &len_big } else { i };
    Ok(if adjusted.is_negative() {
        0
    } else if adjusted > len_big {
        len
    } else {
        adjusted.to_usize().unwrap_or(len)
    })
}

/// Python's `range(start, stop, step)` as a list.
pub(crate) fn range(start: &Value, stop: &Value, step: &Value) -> PyResult<Vec<Value>> {
    let start = index(start)?;
    let stop = index(stop)?;
    let step = index(step)?;
    if step.is_zero() {
        return Err(PyErr::value_error("range() arg 3 must not be zero"));
    }
    let span = if step.is_positive() {
        &stop - &start
    } else {
        &start - &stop
    };
    let step_abs = step.abs();
    let count = if span.is_positive() {
        (span + &step_abs - 1u8) / &step_abs
    } else {
        BigInt::zero()
    };
    let count = count
        .to_usize()
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(PyErr::memory)?;
    let mut out = Vec::with_capacity(count);
    let mut x = start;
    for _ in 0..count {
        out.push(Value::Int(x.clone()));
        x += &step;
    }
    Ok(out)
}
