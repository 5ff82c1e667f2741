//! Python text formatting and decoding: `str % arg` and strict UTF-8
//! `bytes.decode()`, with CPython's error messages.

use tierkreis_core::Value;

use super::*;

/// Python's `PyMapping_Check` for the right operand of `%`: anything with
/// `__getitem__` that is not a string.
fn is_mapping(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::Map(_) | Value::Bytes(_))
}

/// `fmt % arg` for a single (non-tuple) argument, as JSON values never are
/// tuples. Supports `%%`, `%s`, `%r`, `%a`, `%d`, `%i`, `%u` and `%f` /
/// `%F` with an optional precision; flags, widths, `%(key)` lookups and the
/// other conversions are reported as not supported.
pub(super) fn format_str(fmt: &str, arg: &Value) -> PyResult<String> {
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
