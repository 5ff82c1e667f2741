//! The bodies of the reference's builtin tasks, one match arm each, written
//! with Python's semantics from [`super::pyops`]. Arguments arrive decoded,
//! in signature order; results leave in output-port order.

use std::time::Duration;

use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive};
use rand::RngCore;
use tierkreis_core::Value;

use super::pyops::{self, Cmp, Op, PyErr, PyResult};

/// `complex(real=v[0], imag=v[1])`, as `[re, im]` floats.
pub(super) fn complex_from(v: &Value) -> PyResult<Value> {
    let (re, im) = match v {
        Value::List(l) => match (l.first(), l.get(1)) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            _ => return Err(PyErr::index_error("list index out of range")),
        },
        Value::Str(s) => {
            let mut cs = s.chars();
            match (cs.next(), cs.next()) {
                (Some(_), Some(_)) => {
                    return Err(PyErr::type_error(
                        "complex() can't take second arg if first is a string",
                    ))
                }
                _ => return Err(PyErr::index_error("string index out of range")),
            }
        }
        Value::Bytes(b) => match (b.first(), b.get(1)) {
            (Some(&a), Some(&b)) => (Value::int(i64::from(a)), Value::int(i64::from(b))),
            _ => return Err(PyErr::index_error("index out of range")),
        },
        Value::Map(m) => {
            return Err(PyErr::new(
                "KeyError",
                if m.contains_key("0") { "1" } else { "0" },
            ))
        }
        other => return Err(PyErr::not_subscriptable(other)),
    };
    let re = match &re {
        Value::Str(_) => {
            return Err(PyErr::type_error(
                "complex() can't take second arg if first is a string",
            ))
        }
        Value::Bool(_) | Value::Int(_) | Value::Float(_) => to_float(&re)?,
        other => {
            return Err(PyErr::type_error(format!(
                "complex() first argument must be a string or a number, not '{}'",
                other.type_name()
            )))
        }
    };
    let im = match &im {
        Value::Str(_) => return Err(PyErr::type_error("complex() second arg can't be a string")),
        Value::Bool(_) | Value::Int(_) | Value::Float(_) => to_float(&im)?,
        other => {
            return Err(PyErr::type_error(format!(
                "complex() second argument must be a number, not '{}'",
                other.type_name()
            )))
        }
    };
    Ok(Value::List(vec![Value::Float(re), Value::Float(im)]))
}

fn to_float(v: &Value) -> PyResult<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        other => pyops::int_to_f64(&pyops::index(other)?),
    }
}

/// The list a list-annotated parameter was coerced to; `None` (JSON `null`)
/// gets `err`.
fn list_or(v: &Value, err: impl FnOnce(&Value) -> PyErr) -> PyResult<&[Value]> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(err(other)),
    }
}

fn iterable(v: &Value) -> PyResult<&[Value]> {
    list_or(v, PyErr::not_iterable)
}

/// `a, b = value` for a value already coerced to a list.
fn unpack2(v: &Value) -> PyResult<(Value, Value)> {
    let l = list_or(v, |o| {
        PyErr::type_error(format!(
            "cannot unpack non-iterable {} object",
            o.type_name()
        ))
    })?;
    match l {
        [a, b] => Ok((a.clone(), b.clone())),
        [_, _, ..] => Err(PyErr::value_error("too many values to unpack (expected 2)")),
        short => Err(PyErr::value_error(format!(
            "not enough values to unpack (expected 2, got {})",
            short.len()
        ))),
    }
}

fn one(v: Value) -> PyResult<Vec<Value>> {
    Ok(vec![v])
}

/// Run the task `name` on its decoded arguments (signature order).
pub(super) fn call(name: &str, args: Vec<Value>) -> PyResult<Vec<Value>> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let (a, b) = (arg(0), arg(1));
    match name {
        "iadd" | "add" => one(pyops::arith(Op::Add, &a, &b)?),
        "isubtract" | "subtract" => one(pyops::arith(Op::Sub, &a, &b)?),
        "itimes" | "times" => one(pyops::arith(Op::Mul, &a, &b)?),
        "divide" => one(pyops::arith(Op::TrueDiv, &a, &b)?),
        "idivide" => one(pyops::arith(Op::FloorDiv, &a, &b)?),
        "mod" => one(pyops::arith(Op::Mod, &a, &b)?),
        "ipow" | "tkr_pow" => one(pyops::arith(Op::Pow, &a, &b)?),
        "igt" | "gt" => one(Value::Bool(pyops::compare(Cmp::Gt, &a, &b)?)),
        "lt" => one(Value::Bool(pyops::compare(Cmp::Lt, &a, &b)?)),
        "eq" | "str_eq" => one(Value::Bool(pyops::eq(&a, &b))),
        "neq" | "str_neq" => one(Value::Bool(!pyops::eq(&a, &b))),
        "conjugate" => match &a {
            Value::List(z) => match z.as_slice() {
                [re, Value::Float(im)] => one(Value::List(vec![re.clone(), Value::Float(-im)])),
                _ => Err(PyErr::attribute_error(&a, "conjugate")),
            },
            other => Err(PyErr::attribute_error(other, "conjugate")),
        },
        "tkr_abs" => one(pyops::abs(&a)?),
        "tkr_round" => one(pyops::round(&a)?),
        "neg" => one(Value::Bool(!pyops::truthy(&a))),
        "tkr_and" => one(if pyops::truthy(&a) { b } else { a }),
        "tkr_or" => one(if pyops::truthy(&a) { a } else { b }),
        "tkr_id" => one(a),
        "append" => {
            let mut v = list_or(&a, |o| PyErr::attribute_error(o, "append"))?.to_vec();
            v.push(b);
            one(Value::List(v))
        }
        "head" => {
            let v = list_or(&a, PyErr::not_subscriptable)?;
            let first = v
                .first()
                .ok_or_else(|| PyErr::index_error("list index out of range"))?;
            Ok(vec![first.clone(), Value::List(v[1..].to_vec())])
        }
        "tkr_len" => one(Value::int(pyops::len(&a)? as i64)),
        "concat" | "concat_lists" => one(pyops::arith(Op::Add, &a, &b)?),
        "tkr_zip" => {
            let (x, y) = (iterable(&a)?, iterable(&b)?);
            one(Value::List(
                x.iter()
                    .zip(y)
                    .map(|(p, q)| Value::List(vec![p.clone(), q.clone()]))
                    .collect(),
            ))
        }
        "unzip" => unzip(&a),
        "tkr_tuple" => one(Value::List(vec![a, b])),
        "untuple" => {
            let (x, y) = unpack2(&a)?;
            Ok(vec![x, y])
        }
        "mean" => one(pyops::mean(iterable(&a)?)?),
        "tkr_range" => one(Value::List(pyops::range(&a, &b, &arg(2))?)),
        "rand_int" => one(rand_int(&a, &b)?),
        "tkr_sleep" => {
            // The wait itself is the executor's (see `builtins::delay`).
            sleep_duration(&a)?;
            one(Value::Bool(true))
        }
        "tkr_encode" => match a {
            Value::Str(s) => one(Value::Bytes(s.into_bytes())),
            other => Err(PyErr::attribute_error(&other, "encode")),
        },
        "tkr_decode" => match &a {
            Value::Bytes(bytes) => one(Value::Str(pyops::decode_utf8(bytes)?)),
            other => Err(PyErr::attribute_error(other, "decode")),
        },
        "tkr_all" => one(Value::Bool(iterable(&a)?.iter().all(pyops::truthy))),
        "tkr_any" => one(Value::Bool(iterable(&a)?.iter().any(pyops::truthy))),
        "tkr_reversed" => {
            let v = list_or(&a, |o| {
                PyErr::type_error(format!("'{}' object is not reversible", o.type_name()))
            })?;
            one(Value::List(v.iter().rev().cloned().collect()))
        }
        "tkr_extend" => {
            let mut v = list_or(&a, |o| PyErr::attribute_error(o, "extend"))?.to_vec();
            v.extend_from_slice(iterable(&b)?);
            one(Value::List(v))
        }
        "tkr_str" => one(Value::Str(a.python_str())),
        "tkr_int" => one(pyops::int(&a)?),
        "sum_list" => one(pyops::sum(iterable(&a)?)?),
        "prod_list" => {
            let mut prod = Value::int(1);
            for v in iterable(&a)? {
                prod = pyops::imul(&prod, v)?;
            }
            one(prod)
        }
        "max_item" => one(pyops::extreme(iterable(&a)?, true)?),
        "min_item" => one(pyops::extreme(iterable(&a)?, false)?),
        "sort_number_list" | "sort_string_list" => one(Value::List(pyops::sorted(iterable(&a)?)?)),
        "flatten" => {
            let mut out = Vec::new();
            for sub in iterable(&a)? {
                out.extend_from_slice(iterable(sub)?);
            }
            one(Value::List(out))
        }
        "take" => {
            let v = list_or(&a, PyErr::not_subscriptable)?;
            let stop = pyops::slice_bound(&b, v.len(), v.len())?;
            one(Value::List(v[..stop].to_vec()))
        }
        "drop" => {
            let v = list_or(&a, PyErr::not_subscriptable)?;
            let start = pyops::slice_bound(&b, v.len(), 0)?;
            one(Value::List(v[start..].to_vec()))
        }
        "at" => at(&a, &b),
        // `call` is only reached for names in the spec table.
        other => Err(PyErr::new(
            "TierkreisError",
            format!("builtins: function name\n{other} not found"),
        )),
    }
}

/// `value_a, value_b = map(list, zip(*value))`.
fn unzip(value: &Value) -> PyResult<Vec<Value>> {
    let rows = list_or(value, |o| {
        PyErr::type_error(format!(
            "zip() argument after * must be an iterable, not {}",
            o.type_name()
        ))
    })?;
    let mut columns: Vec<&[Value]> = Vec::with_capacity(rows.len());
    for row in rows {
        columns.push(iterable(row)?);
    }
    let width = columns.iter().map(|c| c.len()).min().unwrap_or(0);
    let zipped: Vec<Value> = (0..width)
        .map(|i| Value::List(columns.iter().map(|c| c[i].clone()).collect()))
        .collect();
    let (x, y) = unpack2(&Value::List(zipped))?;
    Ok(vec![x, y])
}

/// `at(values, n)`: `IndexError()` (empty message) if `n >= len(values)`,
/// else `values[n]` with Python's negative indices.
fn at(values: &Value, n: &Value) -> PyResult<Vec<Value>> {
    let len = pyops::len(values)?;
    if pyops::compare(Cmp::Ge, n, &Value::int(len as i64))? {
        return Err(PyErr::index_error(""));
    }
    let v = list_or(values, PyErr::not_subscriptable)?;
    let i = match n {
        Value::Int(_) | Value::Bool(_) => pyops::index(n)?,
        other => {
            return Err(PyErr::type_error(format!(
                "list indices must be integers or slices, not {}",
                other.type_name()
            )))
        }
    };
    let i = if i.is_negative() {
        i + BigInt::from(len)
    } else {
        i
    };
    i.to_usize()
        .and_then(|i| v.get(i))
        .map(|x| vec![x.clone()])
        .ok_or_else(|| PyErr::index_error("list index out of range"))
}

/// `random.randint(a, b)`: uniform over `[a, b]`, any size of integer.
fn rand_int(a: &Value, b: &Value) -> PyResult<Value> {
    let lo = pyops::index(a)?;
    let hi = pyops::index(b)?;
    if lo > hi {
        return Err(PyErr::value_error(format!(
            "empty range in randrange({lo}, {})",
            &hi + 1
        )));
    }
    let width: BigInt = &hi - &lo + 1;
    Ok(Value::Int(lo + random_below(&width)))
}

/// A uniform random integer in `[0, width)` (`width > 0`), by rejection
/// sampling of `width.bits()` random bits.
fn random_below(width: &BigInt) -> BigInt {
    if width.is_one() {
        return BigInt::from(0);
    }
    let bits = width.bits();
    let nbytes = bits.div_ceil(8) as usize;
    let excess = (nbytes as u64) * 8 - bits;
    let mut rng = rand::rng();
    let mut buf = vec![0u8; nbytes];
    loop {
        rng.fill_bytes(&mut buf);
        // Big-endian: mask the excess high bits of the first byte.
        buf[0] &= 0xffu8 >> excess;
        let candidate = BigInt::from_bytes_be(num_bigint::Sign::Plus, &buf);
        if &candidate < width {
            return candidate;
        }
    }
}

/// The length of `time.sleep(seconds)`, with the errors Python gives for a
/// bad one; nothing waits here.
pub(super) fn sleep_duration(v: &Value) -> PyResult<Duration> {
    let seconds = match v {
        Value::Float(f) => *f,
        Value::Int(_) | Value::Bool(_) => to_float(v).unwrap_or(f64::INFINITY),
        other => return Err(PyErr::not_an_index(other)),
    };
    if seconds.is_nan() {
        return Err(PyErr::value_error("Invalid value NaN (not a number)"));
    }
    if seconds < 0.0 {
        return Err(PyErr::value_error("sleep length must be non-negative"));
    }
    // Python's limit is the platform time_t (about 9.2e18 seconds).
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|_| seconds < 9.2e18)
        .ok_or_else(|| PyErr::overflow("timestamp out of range for platform time_t"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand_int_stays_in_inclusive_range() {
        let mut seen = [false; 3];
        for _ in 0..300 {
            let v = call("rand_int", vec![Value::int(-1), Value::int(1)]).expect("rand_int");
            let Value::Int(i) = &v[0] else {
                panic!("not an int: {v:?}")
            };
            let i = i.to_i64().expect("small");
            assert!((-1..=1).contains(&i), "{i}");
            seen[(i + 1) as usize] = true;
        }
        assert_eq!(seen, [true; 3], "all three values should appear");
        assert_eq!(
            call("rand_int", vec![Value::int(5), Value::int(5)]),
            Ok(vec![Value::int(5)])
        );
        let big = Value::Int(BigInt::one() << 100u32);
        let v = call("rand_int", vec![big.clone(), big.clone()]).expect("big");
        assert_eq!(v, vec![big]);
        // Python 3.13: random.randint(5, 3) -> "empty range in randrange(5, 4)"
        assert_eq!(
            call("rand_int", vec![Value::int(5), Value::int(3)]).map_err(|e| e.message),
            Err("empty range in randrange(5, 4)".to_string())
        );
    }

    #[test]
    fn at_and_slices_follow_python() {
        let l = Value::List(vec![Value::int(1), Value::int(2), Value::int(3)]);
        assert_eq!(
            call("at", vec![l.clone(), Value::int(-3)]),
            Ok(vec![Value::int(1)])
        );
        assert_eq!(
            call("at", vec![l.clone(), Value::int(-4)]).map_err(|e| e.message),
            Err("list index out of range".to_string())
        );
        assert_eq!(
            call("take", vec![l.clone(), Value::Null]),
            Ok(vec![l.clone()])
        );
        assert_eq!(call("drop", vec![l.clone(), Value::int(-10)]), Ok(vec![l]));
    }

    #[test]
    fn unpacking_errors_match_python() {
        let l = |n: i64| Value::List((0..n).map(Value::int).collect());
        assert_eq!(
            call("untuple", vec![l(3)]).map_err(|e| e.message),
            Err("too many values to unpack (expected 2)".to_string())
        );
        assert_eq!(
            call("unzip", vec![Value::List(vec![])]).map_err(|e| e.message),
            Err("not enough values to unpack (expected 2, got 0)".to_string())
        );
    }
}
