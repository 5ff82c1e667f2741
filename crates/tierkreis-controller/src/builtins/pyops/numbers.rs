//! Python numbers: exact int/float conversions and comparisons, the
//! arithmetic operators on numbers, `abs`, `round`, `int()`, `sum` and
//! `statistics.mean`, with CPython 3.13's results and messages.

use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};
use tierkreis_core::Value;

use super::*;

/// `a / b` of integers, correctly rounded to the nearest float (ties to
/// even), as Python's `int.__truediv__` and `float(Fraction)` do.
/// `None` if the result is too large for a float. `den` must not be zero.
pub(crate) fn ratio_to_f64(num: &BigInt, den: &BigInt) -> Option<f64> {
    let negative = (num.sign() == Sign::Minus) != (den.sign() == Sign::Minus);
    let a = num.abs();
    let d = den.abs();
    if a.is_zero() {
        return Some(if negative { -0.0 } else { 0.0 });
    }
    // Scale so that the integer quotient has at least 55 significant bits.
    let shift: i64 = d.bits() as i64 - a.bits() as i64 + 55;
    let (n, dd) = if shift >= 0 {
        (a << (shift as u64), d)
    } else {
        (a, d << ((-shift) as u64))
    };
    let (mut q, r) = n.div_rem(&dd);
    // value = (q + r/dd) * 2^-shift, and q has 55 or 56 bits.
    let qbits = q.bits() as i64;
    let exponent = qbits - 1 - shift; // value in [2^exponent, 2^(exponent+1))
    if exponent > 1023 {
        return None;
    }
    let keep = if exponent >= -1022 {
        53
    } else {
        53 - (-1022 - exponent)
    };
    let extra = qbits - keep; // always > 0: qbits >= 55 and keep <= 53
    let mask = (BigInt::one() << (extra as u64)) - 1;
    let low = &q & &mask;
    q >>= extra as u64;
    let half = BigInt::one() << ((extra - 1) as u64);
    let round_up = match low.cmp(&half) {
        Ordering::Greater => true,
        Ordering::Equal => !r.is_zero() || q.is_odd(),
        Ordering::Less => false,
    };
    if round_up {
        q += 1;
    }
    let mut x = q.to_f64()?; // at most 2^53: exact
    let mut e = extra - shift;
    while e > 0 {
        let step = e.min(1000);
        x *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = e.max(-1000);
        x *= 2f64.powi(step as i32);
        e -= step;
    }
    if x.is_infinite() {
        return None;
    }
    Some(if negative { -x } else { x })
}

/// `float(i)`.
pub(crate) fn int_to_f64(i: &BigInt) -> PyResult<f64> {
    ratio_to_f64(i, &BigInt::one())
        .ok_or_else(|| PyErr::overflow("int too large to convert to float"))
}

/// The exact value of a finite float as `mantissa * 2^exponent`.
pub(crate) fn float_parts(f: f64) -> (BigInt, i64) {
    let bits = f.to_bits();
    let sign = if bits >> 63 == 1 { -1 } else { 1 };
    let exp_field = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mantissa, exponent) = if exp_field == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    (BigInt::from(mantissa) * sign, exponent)
}

/// Exact comparison of an integer with a float (`None` if the float is NaN).
fn cmp_int_float(i: &BigInt, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let fl = f.floor();
    let (m, e) = float_parts(fl);
    let fi = if e >= 0 {
        m << (e as u64)
    } else {
        m >> ((-e) as u64)
    };
    match i.cmp(&fi) {
        Ordering::Equal if f > fl => Some(Ordering::Less),
        other => Some(other),
    }
}

pub(super) fn num_cmp(a: &Num, b: &Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, *y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, *x).map(Ordering::reverse),
    }
}

pub(super) fn num_arith(op: Op, a: Num, b: Num) -> PyResult<Value> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_arith(op, x, y),
        (x, y) => {
            let fx = match x {
                Num::Int(i) => int_to_f64(&i)?,
                Num::Float(f) => f,
            };
            let fy = match y {
                Num::Int(i) => int_to_f64(&i)?,
                Num::Float(f) => f,
            };
            float_arith(op, fx, fy)
        }
    }
}

fn int_arith(op: Op, x: BigInt, y: BigInt) -> PyResult<Value> {
    Ok(match op {
        Op::Add => Value::Int(x + y),
        Op::Sub => Value::Int(x - y),
        Op::Mul => Value::Int(x * y),
        Op::TrueDiv => {
            if y.is_zero() {
                return Err(PyErr::zero_division("division by zero"));
            }
            let q = ratio_to_f64(&x, &y)
                .ok_or_else(|| PyErr::overflow("integer division result too large for a float"))?;
            Value::Float(q)
        }
        Op::FloorDiv => {
            if y.is_zero() {
                return Err(PyErr::zero_division("integer division or modulo by zero"));
            }
            Value::Int(x.div_floor(&y))
        }
        Op::Mod => {
            if y.is_zero() {
                return Err(PyErr::zero_division("integer modulo by zero"));
            }
            Value::Int(x.mod_floor(&y))
        }
        Op::Pow => return int_pow(x, y),
    })
}

fn int_pow(x: BigInt, y: BigInt) -> PyResult<Value> {
    if y.is_negative() {
        return float_pow(int_to_f64(&x)?, int_to_f64(&y)?);
    }
    if x.is_zero() {
        return Ok(Value::int(i64::from(y.is_zero())));
    }
    if x.is_one() {
        return Ok(Value::int(1));
    }
    if x == BigInt::from(-1) {
        return Ok(Value::int(if y.is_odd() { -1 } else { 1 }));
    }
    let exp = y.to_u32().ok_or_else(PyErr::memory)?;
    if x.bits().saturating_mul(u64::from(exp)) > MAX_POW_BITS {
        return Err(PyErr::memory());
    }
    Ok(Value::Int(x.pow(exp)))
}

fn float_arith(op: Op, x: f64, y: f64) -> PyResult<Value> {
    Ok(Value::Float(match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::TrueDiv => {
            if y == 0.0 {
                return Err(PyErr::zero_division("float division by zero"));
            }
            x / y
        }
        Op::FloorDiv => {
            if y == 0.0 {
                return Err(PyErr::zero_division("float floor division by zero"));
            }
            float_floordiv(x, y)
        }
        Op::Mod => {
            if y == 0.0 {
                return Err(PyErr::zero_division("float modulo by zero"));
            }
            float_mod(x, y)
        }
        Op::Pow => return float_pow(x, y),
    }))
}

/// CPython's `float_rem`.
fn float_mod(x: f64, y: f64) -> f64 {
    let m = x % y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m + y
        } else {
            m
        }
    } else {
        0.0f64.copysign(y)
    }
}

/// CPython's `float_floor_div` (via `_float_div_mod`).
fn float_floordiv(x: f64, y: f64) -> f64 {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let _ = m;
    if div != 0.0 {
        let mut fd = div.floor();
        if div - fd > 0.5 {
            fd += 1.0;
        }
        fd
    } else {
        0.0f64.copysign(x / y)
    }
}

fn is_odd_integer(f: f64) -> bool {
    f.is_finite() && f.fract() == 0.0 && (f / 2.0).fract() != 0.0
}

fn range_error() -> PyErr {
    PyErr::overflow("(34, 'Numerical result out of range')")
}

/// CPython's `float_pow`; a negative base with a fractional exponent gives
/// a complex number, returned as the list `[re, im]` the reference writes.
fn float_pow(iv: f64, iw: f64) -> PyResult<Value> {
    if iw == 0.0 {
        return Ok(Value::Float(1.0));
    }
    if iv.is_nan() {
        return Ok(Value::Float(iv));
    }
    if iw.is_nan() {
        return Ok(Value::Float(if iv == 1.0 { 1.0 } else { iw }));
    }
    if iw.is_infinite() {
        let a = iv.abs();
        return Ok(Value::Float(if a == 1.0 {
            1.0
        } else if (iw > 0.0) == (a > 1.0) {
            iw.abs()
        } else {
            0.0
        }));
    }
    if iv.is_infinite() {
        let odd = is_odd_integer(iw);
        return Ok(Value::Float(if iw > 0.0 {
            if odd {
                iv
            } else {
                iv.abs()
            }
        } else if odd {
            0.0f64.copysign(iv)
        } else {
            0.0
        }));
    }
    if iv == 0.0 {
        if iw < 0.0 {
            return Err(PyErr::zero_division(
                "0.0 cannot be raised to a negative power",
            ));
        }
        return Ok(Value::Float(if is_odd_integer(iw) { iv } else { 0.0 }));
    }
    let mut base = iv;
    let mut negate = false;
    if iv < 0.0 {
        if iw != iw.floor() {
            return complex_pow(iv, iw);
        }
        base = -iv;
        negate = is_odd_integer(iw);
    }
    if base == 1.0 {
        return Ok(Value::Float(if negate { -1.0 } else { 1.0 }));
    }
    let r = base.powf(iw);
    if r.is_infinite() {
        return Err(range_error());
    }
    Ok(Value::Float(if negate { -r } else { r }))
}

/// CPython's `_Py_c_pow` for a real base and a real, non-integral exponent.
fn complex_pow(re: f64, w: f64) -> PyResult<Value> {
    let vabs = re.abs();
    let len = vabs.powf(w);
    let phase = 0.0f64.atan2(re) * w;
    let (r, i) = (len * phase.cos(), len * phase.sin());
    if r.is_infinite() || i.is_infinite() {
        return Err(PyErr::overflow("complex exponentiation"));
    }
    Ok(Value::List(vec![Value::Float(r), Value::Float(i)]))
}

/// `abs(v)`.
pub(crate) fn abs(v: &Value) -> PyResult<Value> {
    match num(v) {
        Some(Num::Int(i)) => Ok(Value::Int(i.abs())),
        Some(Num::Float(f)) => Ok(Value::Float(f.abs())),
        None => Err(PyErr::type_error(format!(
            "bad operand type for abs(): '{}'",
            v.type_name()
        ))),
    }
}

/// The integer of a finite float (truncated towards zero), or Python's
/// errors for `int(inf)` / `int(nan)`.
fn float_to_int(f: f64) -> PyResult<BigInt> {
    if f.is_nan() {
        return Err(PyErr::value_error("cannot convert float NaN to integer"));
    }
    if f.is_infinite() {
        return Err(PyErr::overflow("cannot convert float infinity to integer"));
    }
    let (m, e) = float_parts(f.trunc());
    Ok(if e >= 0 {
        m << (e as u64)
    } else {
        // trunc() is integral, so the shifted-out bits are zero.
        let neg = m.is_negative();
        let r = m.abs() >> ((-e) as u64);
        if neg {
            -r
        } else {
            r
        }
    })
}

/// `round(v)` with no digits: ties to even, result an `int`.
pub(crate) fn round(v: &Value) -> PyResult<Value> {
    match num(v) {
        Some(Num::Int(i)) => Ok(Value::Int(i)),
        Some(Num::Float(f)) => Ok(Value::Int(float_to_int(f.round_ties_even())?)),
        None => Err(PyErr::type_error(format!(
            "type {} doesn't define __round__ method",
            v.type_name()
        ))),
    }
}

/// `int(v)`.
pub(crate) fn int(v: &Value) -> PyResult<Value> {
    match v {
        Value::Bool(_) | Value::Int(_) => Ok(Value::Int(index(v)?)),
        Value::Float(f) => Ok(Value::Int(float_to_int(*f)?)),
        Value::Str(s) => parse_int_literal(s).map(Value::Int).ok_or_else(|| {
            PyErr::value_error(format!(
                "invalid literal for int() with base 10: {}",
                v.python_repr()
            ))
        }),
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .filter(|s| s.is_ascii())
            .and_then(parse_int_literal)
            .map(Value::Int)
            .ok_or_else(|| {
                PyErr::value_error(format!(
                    "invalid literal for int() with base 10: {}",
                    v.python_repr()
                ))
            }),
        other => Err(PyErr::type_error(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

/// A base-10 Python integer literal as `int(str)` accepts it: surrounding
/// whitespace, an optional sign, decimal digits (any Unicode decimal digit)
/// with single underscores between them.
fn parse_int_literal(s: &str) -> Option<BigInt> {
    let t = s.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(10).or_else(|| unicode_decimal(c))?;
        digits.push(char::from(b'0' + d as u8));
    }
    let n = BigInt::parse_bytes(digits.as_bytes(), 10)?;
    Some(if negative { -n } else { n })
}

/// The value of a non-ASCII Unicode decimal digit from the common blocks
/// whose digits are contiguous runs starting at a multiple of 16 (+0).
fn unicode_decimal(c: char) -> Option<u32> {
    const ZEROS: [u32; 8] = [
        0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE, 0x07C0,
    ];
    let cp = u32::from(c);
    ZEROS
        .iter()
        .find(|&&z| (z..z + 10).contains(&cp))
        .map(|z| cp - z)
}

/// `sum(items)` with start `0`, following CPython 3.13's fast paths: exact
/// machine-int addition, then Neumaier-compensated float addition, then
/// generic `+`.
pub(crate) fn sum(items: &[Value]) -> PyResult<Value> {
    let mut it = items.iter();
    // Integer fast path (CPython keeps a C long).
    let mut i_result: i64 = 0;
    let mut result: Value = loop {
        let Some(item) = it.next() else {
            return Ok(Value::int(i_result));
        };
        let small = match item {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Int(i) => i.to_i64(),
            _ => None,
        };
        if let Some(b) = small {
            if let Some(s) = i_result.checked_add(b) {
                i_result = s;
                continue;
            }
        }
        break arith(Op::Add, &Value::int(i_result), item)?;
    };
    // Float fast path.
    if let Value::Float(start) = result {
        let mut f = start;
        let mut c = 0.0f64;
        loop {
            let Some(item) = it.next() else {
                if c != 0.0 && c.is_finite() {
                    f += c;
                }
                return Ok(Value::Float(f));
            };
            match item {
                Value::Float(x) => {
                    let x = *x;
                    let t = f + x;
                    if f.abs() >= x.abs() {
                        c += (f - t) + x;
                    } else {
                        c += (x - t) + f;
                    }
                    f = t;
                    continue;
                }
                Value::Bool(b) => {
                    f += f64::from(u8::from(*b));
                    continue;
                }
                Value::Int(i) => {
                    if let Some(v) = i.to_i64() {
                        f += v as f64;
                        continue;
                    }
                }
                _ => {}
            }
            // CPython's float path rebuilds the float without the
            // compensation before falling back to generic addition.
            result = arith(Op::Add, &Value::Float(f), item)?;
            break;
        }
    }
    for item in it {
        result = arith(Op::Add, &result, item)?;
    }
    Ok(result)
}

/// `statistics.mean(items)`: the exact mean, an `int` if all items are
/// integers and it is whole, else a correctly rounded `float`.
pub(crate) fn mean(items: &[Value]) -> PyResult<Value> {
    // `_sum` (3.13): exact ratios first (non-numbers fail there), then
    // the result type: float if any item is a float, else int.
    let mut is_float = false;
    let mut non_finite: Option<f64> = None;
    let mut terms: Vec<(BigInt, i64)> = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Bool(_) | Value::Int(_) => terms.push((index(item)?, 0)),
            Value::Float(f) => {
                is_float = true;
                if f.is_finite() {
                    terms.push(float_parts(*f));
                } else {
                    non_finite = Some(non_finite.map_or(*f, |acc| acc + f));
                }
            }
            other => {
                return Err(PyErr::type_error(format!(
                    "can't convert type '{}' to numerator/denominator",
                    other.type_name()
                )))
            }
        }
    }
    if items.is_empty() {
        return Err(PyErr::new(
            "StatisticsError",
            "mean requires at least one data point",
        ));
    }
    if let Some(total) = non_finite {
        return Ok(Value::Float(total / items.len() as f64));
    }
    let min_exp = terms.iter().map(|t| t.1).min().unwrap_or(0).min(0);
    let mut total = BigInt::zero();
    for (m, e) in terms {
        total += m << ((e - min_exp) as u64);
    }
    // mean = total / (n * 2^-min_exp)
    let den = BigInt::from(items.len()) << ((-min_exp) as u64);
    if !is_float && (&total % &den).is_zero() {
        return Ok(Value::Int(total / den));
    }
    ratio_to_f64(&total, &den)
        .map(Value::Float)
        .ok_or_else(|| PyErr::overflow("integer division result too large for a float"))
}
