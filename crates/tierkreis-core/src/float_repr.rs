//! Python's `repr` of a float (shortest round-trip digits, ties to even),
//! shared by the JSON writer and `Value::python_repr`; a leaf module, so
//! neither of those has to import the other.

use num_bigint::BigInt;

/// Python's `repr(f)` (also `str(f)`): the shortest digits that round-trip,
/// in positional notation when the decimal exponent is in `-4..16`
/// (`1.0`, `0.0001`, `1234567890123456.0`), else scientific with a signed
/// exponent of at least two digits (`1e-05`, `1e+16`, `1.5e+300`).
/// Non-finite values are `nan`, `inf` and `-inf`.
///
/// When two shortest digit strings round-trip and the float lies exactly
/// halfway between them, the one ending in an even digit is chosen, as
/// Python's (David Gay's) `dtoa` does.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let (digits, exp) = shortest_digits(f.abs());
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        ));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

/// The shortest round-trip decimal digits of the finite, non-negative `f`
/// (no leading or trailing zeros, `"0"` for zero) and the decimal exponent
/// of the first digit, so `f` reads back from `0.DIGITS * 10^(exp + 1)`.
///
/// Rust's `{:e}` already gives shortest round-trip digits closest to `f`,
/// but on an exact tie between two such strings it may pick the odd one;
/// Python picks the even one, so ties are detected and resolved here.
fn shortest_digits(f: f64) -> (String, i32) {
    // `{:e}` gives e.g. "1.5e300", "1e-5".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if let Some(even) = even_tie_neighbour(f, &digits, exp) {
        return even;
    }
    (digits, exp)
}

/// If `f` lies exactly halfway between `digits` (odd last digit, first
/// digit at decimal exponent `exp`) and a neighbouring digit string of the
/// same length that also reads back as `f`, that even neighbour.
fn even_tie_neighbour(f: f64, digits: &str, exp: i32) -> Option<(String, i32)> {
    let last = digits.bytes().last()?;
    if last % 2 == 0 || f == 0.0 {
        return None;
    }
    // f = m * 2^q exactly.
    let bits = f.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, q) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    // The last digit has weight 10^k. A tie means 2f = (2D ± 1) * 10^k, so
    // f has a digit 5 at weight 10^(k-1) and nothing below it; that happens
    // exactly when f is an odd multiple of 2^(k-1) (f's 2-adic valuation is
    // k - 1). This cheap test rules out almost every float.
    let k = exp - (digits.len() as i32 - 1);
    if q + m.trailing_zeros() as i32 != k - 1 {
        return None;
    }
    let d: u64 = digits.parse().ok()?;
    for delta in [-1i64, 1] {
        let c = d.checked_add_signed(delta)?;
        if c == 0 {
            continue;
        }
        // Compare 2 * m * 2^q with (2d + delta) * 10^k, both sides scaled to
        // integers.
        let two_d = BigInt::from(d) * 2u32 + delta;
        let mut lhs = BigInt::from(m) << (q + 1).max(0) as usize;
        let mut rhs = two_d << (-(q + 1)).max(0) as usize;
        if k >= 0 {
            rhs *= BigInt::from(10u32).pow(k.unsigned_abs());
        } else {
            lhs *= BigInt::from(10u32).pow(k.unsigned_abs());
        }
        if lhs != rhs {
            continue;
        }
        let c_str = c.to_string();
        let c_exp = k + c_str.len() as i32 - 1;
        let c_digits = c_str.trim_end_matches('0').to_string();
        if format!("{c}e{k}").parse::<f64>().ok() == Some(f) {
            return Some((c_digits, c_exp));
        }
    }
    None
}
