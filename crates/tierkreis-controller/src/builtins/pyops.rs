//! Python 3.13 semantics of the operators and built-in functions the
//! reference's builtins use (`+`, `//`, `%`, `**`, comparisons, `sum`,
//! `sorted`, `int()`, `round()`...), applied to dynamically typed [`Value`]s,
//! with the exact messages Python raises.
//!
//! The reference never checks argument types: `iadd("a", "b")` concatenates.
//! So every builtin is written in terms of these operations, not of Rust
//! arithmetic on an expected type.

use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};
use tierkreis_core::Value;

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

// ---------------------------------------------------------------- floats

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

fn num_cmp(a: &Num, b: &Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, *y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, *x).map(Ordering::reverse),
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

/// Python's `PyMapping_Check` for the right operand of `%`: anything with
/// `__getitem__` that is not a string.
fn is_mapping(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::Map(_) | Value::Bytes(_))
}

/// `fmt % arg` for a single (non-tuple) argument, as JSON values never are
/// tuples. Supports `%%`, `%s`, `%r`, `%a`, `%d`, `%i`, `%u` and `%f` /
/// `%F` with an optional precision; flags, widths, `%(key)` lookups and the
/// other conversions are reported as not supported.
fn format_str(fmt: &str, arg: &Value) -> PyResult<String> {
    let mut out = String::with_capacity(fmt.len());
    let mut used = false;
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision: Option<usize> = None;
        if chars.get(i) == Some(&'.') {
            let start = i + 1;
            let mut end = start;
            while chars.get(end).is_some_and(char::is_ascii_digit) {
                end += 1;
            }
            let digits: String = chars[start..end].iter().collect();
            precision = Some(digits.parse().unwrap_or(0));
            i = end;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(PyErr::value_error("incomplete format"));
        };
        i += 1;
        if conv == '%' && precision.is_none() {
            out.push('%');
            continue;
        }
        let supported = "srauidfF";
        if !supported.contains(conv) || (precision.is_some() && !"fF".contains(conv)) {
            if "diouxXeEfFgGcrsab%(-+ #*0123456789.hlL".contains(conv) {
                return Err(PyErr::new(
                    "NotImplementedError",
                    format!("format '%{conv}' with flags, width or key is not supported here"),
                ));
            }
            return Err(PyErr::value_error(format!(
                "unsupported format character '{conv}' ({:#x}) at index {}",
                u32::from(conv),
                i - 1
            )));
        }
        if used {
            return Err(PyErr::type_error("not enough arguments for format string"));
        }
        used = true;
        match conv {
            's' => out.push_str(&arg.python_str()),
            'r' => out.push_str(&arg.python_repr()),
            'a' => {
                // ascii(): repr with non-ASCII characters escaped.
                for ch in arg.python_repr().chars() {
                    match u32::from(ch) {
                        c if c < 0x80 => out.push(ch),
                        c if c < 0x100 => out.push_str(&format!("\\x{c:02x}")),
                        c if c < 0x10000 => out.push_str(&format!("\\u{c:04x}")),
                        c => out.push_str(&format!("\\U{c:08x}")),
                    }
                }
            }
            'd' | 'i' | 'u' => match arg {
                Value::Int(_) | Value::Bool(_) | Value::Float(_) => {
                    let Value::Int(n) = int(arg)? else {
                        return Err(PyErr::type_error("%d format: a real number is required"));
                    };
                    out.push_str(&n.to_string());
                }
                other => {
                    return Err(PyErr::type_error(format!(
                        "%{conv} format: a real number is required, not {}",
                        other.type_name()
                    )))
                }
            },
            _ => {
                let f = match arg {
                    Value::Float(f) => *f,
                    Value::Int(_) | Value::Bool(_) => int_to_f64(&index(arg)?)?,
                    other => {
                        return Err(PyErr::type_error(format!(
                            "must be real number, not {}",
                            other.type_name()
                        )))
                    }
                };
                let p = precision.unwrap_or(6);
                if f.is_nan() {
                    out.push_str(if conv == 'F' { "NAN" } else { "nan" });
                } else if f.is_infinite() {
                    let s = if f > 0.0 { "inf" } else { "-inf" };
                    out.push_str(&if conv == 'F' {
                        s.to_uppercase()
                    } else {
                        s.to_string()
                    });
                } else {
                    out.push_str(&format!("{f:.p$}"));
                }
            }
        }
    }
    if !used && !is_mapping(arg) {
        return Err(PyErr::type_error(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

fn seq_add(a: &Value, b: &Value) -> PyResult<Value> {
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

fn seq_mul(a: &Value, b: &Value) -> PyResult<Value> {
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

fn num_arith(op: Op, a: Num, b: Num) -> PyResult<Value> {
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

// ---------------------------------------------------------------- comparison

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

// ---------------------------------------------------------------- builtins

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

/// Python's `bytes.decode()` (strict UTF-8) with its error messages.
pub(crate) fn decode_utf8(b: &[u8]) -> PyResult<String> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let pos = e.valid_up_to();
            let (len, reason) = match e.error_len() {
                None => (b.len() - pos, "unexpected end of data"),
                Some(n) => {
                    let first = b[pos];
                    let start_invalid = (0x80..=0xC1).contains(&first) || first >= 0xF5;
                    (
                        n,
                        if start_invalid {
                            "invalid start byte"
                        } else {
                            "invalid continuation byte"
                        },
                    )
                }
            };
            let what = if len == 1 {
                format!("byte 0x{:02x} in position {pos}", b[pos])
            } else {
                format!("bytes in position {pos}-{}", pos + len - 1)
            };
            Err(PyErr::new(
                "UnicodeDecodeError",
                format!("'utf-8' codec can't decode {what}: {reason}"),
            ))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> Value {
        Value::Float(x)
    }

    #[test]
    fn ratio_rounds_to_nearest_even() {
        // Values checked against Python 3.13: 1/3, 2**1100/3 overflows,
        // 1/(2**1100) underflows to 0.0, 10**30/7.
        let b = |s: &str| s.parse::<BigInt>().expect("int");
        assert_eq!(ratio_to_f64(&b("1"), &b("3")), Some(1.0 / 3.0));
        assert_eq!(ratio_to_f64(&(BigInt::one() << 1100u32), &b("3")), None);
        assert_eq!(
            ratio_to_f64(&b("1"), &(BigInt::one() << 1100u32)),
            Some(0.0)
        );
        assert_eq!(
            ratio_to_f64(&b("1000000000000000000000000000000"), &b("7")),
            Some(1.4285714285714286e29)
        );
        // 2**53 + 1 is a tie between 2**53 and 2**53 + 2: even wins.
        assert_eq!(
            ratio_to_f64(&((BigInt::one() << 53u32) + 1u8), &b("1")),
            Some(9007199254740992.0)
        );
        // Smallest subnormal and a half of it (ties to even: 0).
        assert_eq!(
            ratio_to_f64(&b("1"), &(BigInt::one() << 1074u32)),
            Some(5e-324)
        );
        assert_eq!(
            ratio_to_f64(&b("1"), &(BigInt::one() << 1075u32)),
            Some(0.0)
        );
        assert_eq!(ratio_to_f64(&b("-3"), &b("2")), Some(-1.5));
    }

    #[test]
    fn python_float_floor_and_mod() {
        // Python: -7.5 // 2 == -4.0, -7.5 % 2 == 0.5, 7.5 % -2 == -0.5, -5 // 2.0 == -3.0
        assert_eq!(arith(Op::FloorDiv, &f(-7.5), &Value::int(2)), Ok(f(-4.0)));
        assert_eq!(arith(Op::Mod, &f(-7.5), &Value::int(2)), Ok(f(0.5)));
        assert_eq!(arith(Op::Mod, &f(7.5), &Value::int(-2)), Ok(f(-0.5)));
        assert_eq!(arith(Op::FloorDiv, &Value::int(-5), &f(2.0)), Ok(f(-3.0)));
    }

    #[test]
    fn python_pow_cases() {
        // Python: (-8)**0.5 == (1.7319121124709868e-16+2.8284271247461903j)
        assert_eq!(
            arith(Op::Pow, &Value::int(-8), &f(0.5)),
            Ok(Value::List(vec![
                f(1.7319121124709868e-16),
                f(2.8284271247461903)
            ]))
        );
        assert_eq!(
            arith(Op::Pow, &Value::int(0), &Value::int(-1)).map_err(|e| e.message),
            Err("0.0 cannot be raised to a negative power".to_string())
        );
        assert_eq!(
            arith(Op::Pow, &f(10.0), &f(400.0)).map_err(|e| e.message),
            Err("(34, 'Numerical result out of range')".to_string())
        );
        assert_eq!(
            arith(Op::Pow, &Value::int(-2), &Value::int(-1)),
            Ok(f(-0.5))
        );
    }

    #[test]
    fn python_sum_is_compensated() {
        // Python 3.13: sum([0.1]*10) == 1.0, sum([1e100, 1, -1e100]) == 0.0,
        // sum([1, 0.1, 0.2, 0.3]) == 1.6, sum([True, 2]) == 3
        assert_eq!(sum(&vec![f(0.1); 10]), Ok(f(1.0)));
        assert_eq!(sum(&[f(1e100), Value::int(1), f(-1e100)]), Ok(f(0.0)));
        assert_eq!(sum(&[Value::int(1), f(0.1), f(0.2), f(0.3)]), Ok(f(1.6)));
        assert_eq!(sum(&[Value::Bool(true), Value::int(2)]), Ok(Value::int(3)));
    }

    #[test]
    fn python_mean_is_exact() {
        // Python 3.13: mean([1,2,3]) == 2, mean([0.1,0.2,0.3]) == 0.2,
        // mean([True, False]) == 0.5
        assert_eq!(
            mean(&[Value::int(1), Value::int(2), Value::int(3)]),
            Ok(Value::int(2))
        );
        assert_eq!(mean(&[f(0.1), f(0.2), f(0.3)]), Ok(f(0.2)));
        assert_eq!(mean(&[Value::Bool(true), Value::Bool(false)]), Ok(f(0.5)));
        assert_eq!(
            mean(&[Value::Str("a".into())]).map_err(|e| e.message),
            Err("can't convert type 'str' to numerator/denominator".to_string())
        );
    }

    #[test]
    fn python_comparisons_and_errors() {
        let big = Value::Int(BigInt::one() << 1100u32);
        assert_eq!(compare(Cmp::Gt, &big, &f(1e308)), Ok(true));
        assert_eq!(compare(Cmp::Lt, &Value::int(1), &f(1.5)), Ok(true));
        assert!(eq(&Value::Bool(true), &Value::int(1)));
        assert_eq!(
            compare(Cmp::Lt, &Value::Null, &Value::int(1)).map_err(|e| e.message),
            Err("'<' not supported between instances of 'NoneType' and 'int'".to_string())
        );
        assert_eq!(
            sorted(&[Value::int(1), Value::Str("a".into())]).map_err(|e| e.message),
            Err("'<' not supported between instances of 'str' and 'int'".to_string())
        );
    }

    #[test]
    fn python_utf8_errors() {
        // Messages from Python 3.13's bytes.decode().
        let m = |b: &[u8]| decode_utf8(b).map_err(|e| e.message);
        assert_eq!(
            m(b"\xe2\x82x"),
            Err(
                "'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte"
                    .into()
            )
        );
        assert_eq!(
            m(b"a\xe2"),
            Err(
                "'utf-8' codec can't decode byte 0xe2 in position 1: unexpected end of data".into()
            )
        );
        assert_eq!(
            m(b"\xed\xa0\x80"),
            Err(
                "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"
                    .into()
            )
        );
    }

    #[test]
    fn python_int_parsing() {
        assert_eq!(int(&Value::Str(" 4_2 ".into())), Ok(Value::int(42)));
        assert_eq!(
            int(&Value::Str("it's".into())).map_err(|e| e.message),
            Err("invalid literal for int() with base 10: \"it's\"".to_string())
        );
        assert_eq!(int(&f(-3.9)), Ok(Value::int(-3)));
        assert_eq!(
            int(&f(f64::INFINITY)).map_err(|e| e.message),
            Err("cannot convert float infinity to integer".to_string())
        );
    }
}
