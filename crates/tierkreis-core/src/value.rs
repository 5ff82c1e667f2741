//! Tierkreis values: the data type, its accessors and Python's `str`/`repr`
//! of it. Its byte encoding (the reference's `bytes_from_ptype` and
//! `ptype_from_bytes` with no type annotation, [`Value::to_bytes`] and
//! [`Value::from_bytes`]) is implemented in [`crate::json`], which imports
//! this module and not the other way round; the encoding's tests stay here.
//!
//! Encoding: a top-level `Bytes` value is written raw; every other value is
//! JSON, pretty-printed with an indent of 2 like Python's
//! `json.dumps(v, indent=2)`, with bytes nested inside as
//! `{"__tkr_bytes__": true, "bytes": "<base64>"}`.
//! Decoding: bytes that parse as JSON are that JSON value (nested
//! `__tkr_bytes__` objects become `Bytes`, the older
//! `{"__tkr_complex__": [re, im]}` becomes the list `[re, im]`); anything else
//! is a top-level `Bytes`.

use indexmap::IndexMap;
use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// A Tierkreis value: what flows along the edges of a graph.
///
/// Integers are unbounded (like Python's `int`) and distinct from floats:
/// `Int(3)` is not `Float(3.0)`. Maps keep insertion order (like Python's
/// `dict`) but compare without regard to order. A complex number is the list
/// `[re, im]` of two floats, as the reference writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(IndexMap<String, Value>),
}

impl Value {
    /// An integer value.
    pub fn int(i: i64) -> Value {
        Value::Int(BigInt::from(i))
    }

    /// An integer value of any size.
    pub fn from_bigint(i: BigInt) -> Value {
        Value::Int(i)
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is an `Int` (a `Bool` is not an integer here).
    pub fn as_int(&self) -> Option<&BigInt> {
        match self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value as a float, like Python's `float(v)` for numbers: floats
    /// as they are, integers rounded to the nearest float. `None` for other
    /// types and for integers too large for a float (Python's
    /// `OverflowError`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => i.to_f64().filter(|f| f.is_finite()),
            _ => None,
        }
    }

    /// The string, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is a `List`.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is a `Map`.
    pub fn as_map(&self) -> Option<&IndexMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The name of the Python type of this value (`type(v).__name__`), as
    /// it appears in the reference's error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// Python's `str(v)`: a string is itself, anything else its `repr`.
    pub fn python_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.python_repr(),
        }
    }

    /// Python's `repr(v)`: `None`, `True`, `1.0`, `'a'`, `b'ab'`,
    /// `[1, 'a', True]`, `{'a': 1}`.
    ///
    /// Which non-ASCII characters Python escapes depends on its Unicode
    /// database; this knows the control, format, separator and private-use
    /// ranges and the large unassigned blocks, but not every unassigned code
    /// point (see `is_python_printable`).
    pub fn python_repr(&self) -> String {
        let mut out = String::new();
        write_repr(&mut out, self);
        out
    }
}

fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&crate::float_repr::python_float_repr(*f)),
        Value::Str(s) => write_str_repr(out, s),
        Value::Bytes(b) => write_bytes_repr(out, b),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Python picks double quotes only when the text has a `'` and no `"`.
fn repr_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double {
        '"'
    } else {
        '\''
    }
}

fn write_str_repr(out: &mut String, s: &str) {
    let quote = repr_quote(s.contains('\''), s.contains('"'));
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_python_printable(c) => out.push(c),
            c => {
                let n = u32::from(c);
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

fn write_bytes_repr(out: &mut String, b: &[u8]) {
    let quote = repr_quote(b.contains(&b'\''), b.contains(&b'"'));
    out.push('b');
    out.push(quote);
    for &byte in b {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if char::from(byte) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one character (Unicode 15.1, as in Python
/// 3.13): false for control (Cc), format (Cf), separator (Zs except space,
/// Zl, Zp) and private-use characters, noncharacters, and the unassigned
/// planes 3 (after U+323AF) to 16 except the variation selectors. Other
/// unassigned code points count as printable here.
fn is_python_printable(c: char) -> bool {
    let n = u32::from(c);
    let not_printable = matches!(n,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xe000..=0xf8ff | 0xfdd0..=0xfdef | 0xfeff | 0xfff9..=0xfffb
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0x323b0..=0xe00ff | 0xe01f0..=0x10ffff)
        || n & 0xfffe == 0xfffe;
    !not_printable
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::int(i)
    }
}

impl From<BigInt> for Value {
    fn from(i: BigInt) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::List(items)
    }
}

impl From<IndexMap<String, Value>> for Value {
    fn from(m: IndexMap<String, Value>) -> Self {
        Value::Map(m)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::json::{parse, to_string_pretty};

    fn round_trip(v: &Value) -> Value {
        Value::from_bytes(&v.to_bytes())
    }

    #[test]
    fn round_trips() {
        let two_200 = BigInt::from(2).pow(200);
        let values = [
            Value::Null,
            Value::from(true),
            Value::int(-7),
            Value::from_bigint(two_200.clone()),
            Value::from_bigint(-two_200),
            Value::from(0.1 + 0.2),
            Value::from(1e300),
            Value::from("héllo wörld 😀 \"quoted\" \\ \n"),
            Value::from(vec![
                Value::from(vec![Value::Bytes(b"\x00\xff".to_vec())]),
                Value::Map(IndexMap::new()),
            ]),
            Value::Map(IndexMap::from([
                ("z".to_string(), Value::int(1)),
                ("a".to_string(), Value::Bytes(vec![])),
            ])),
            Value::Bytes(b"plain".to_vec()),
            Value::Bytes(vec![0xff, 0xfe, 0x00]),
        ];
        for v in values {
            assert_eq!(round_trip(&v), v, "{}", v.python_repr());
        }
    }

    #[test]
    fn ints_and_floats_stay_distinct() {
        assert_eq!(Value::from_bytes(b"3"), Value::int(3));
        assert_eq!(Value::from_bytes(b"3.0"), Value::Float(3.0));
        assert_ne!(Value::from_bytes(b"3"), Value::from_bytes(b"3.0"));
        assert_eq!(Value::Float(3.0).to_bytes(), b"3.0");
        assert_eq!(Value::int(3).to_bytes(), b"3");
    }

    #[test]
    fn negative_zero_and_non_finite_survive() {
        let Value::Float(z) = round_trip(&Value::Float(-0.0)) else {
            panic!("not a float")
        };
        assert!(z == 0.0 && z.is_sign_negative());
        assert_eq!(Value::Float(-0.0).to_bytes(), b"-0.0");
        let Value::Float(n) = round_trip(&Value::Float(f64::NAN)) else {
            panic!("not a float")
        };
        assert!(n.is_nan());
        assert_eq!(
            round_trip(&Value::Float(f64::NEG_INFINITY)),
            Value::Float(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn bytes_encoding() {
        // Top level: raw, and anything that is not JSON reads back as bytes.
        assert_eq!(
            Value::Bytes(b"h\xc3\xa9llo".to_vec()).to_bytes(),
            b"h\xc3\xa9llo"
        );
        assert_eq!(
            Value::from_bytes(b"h\xc3\xa9llo"),
            Value::Bytes(b"h\xc3\xa9llo".to_vec())
        );
        assert_eq!(Value::from_bytes(b"\xff"), Value::Bytes(vec![0xff]));
        assert_eq!(Value::from_bytes(b""), Value::Bytes(vec![]));
        // Raw bytes that happen to be JSON read back as that JSON, as in the reference.
        assert_eq!(Value::from_bytes(b"12"), Value::int(12));
        // Nested: the __tkr_bytes__ object.
        let nested = Value::from(vec![Value::Bytes(b"hi".to_vec())]);
        assert_eq!(
            String::from_utf8(nested.to_bytes()).unwrap(),
            "[\n  {\n    \"__tkr_bytes__\": true,\n    \"bytes\": \"aGk=\"\n  }\n]"
        );
    }

    #[test]
    fn unicode_is_escaped_and_restored() {
        let v = Value::from("é😀");
        assert_eq!(v.to_bytes(), br#""\u00e9\ud83d\ude00""#);
        assert_eq!(round_trip(&v), v);
        // Unescaped UTF-8 input is accepted too.
        assert_eq!(Value::from_bytes("\"é😀\"".as_bytes()), v);
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert_eq!(Value::int(1).as_bool(), None);
        assert_eq!(Value::int(5).as_int(), Some(&BigInt::from(5)));
        assert_eq!(Value::from(true).as_int(), None);
        assert_eq!(Value::int(5).as_f64(), Some(5.0));
        assert_eq!(Value::from(2.5).as_f64(), Some(2.5));
        assert_eq!(Value::from_bigint(BigInt::from(10).pow(400)).as_f64(), None);
        assert_eq!(Value::from("x").as_f64(), None);
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(
            Value::from(vec![Value::Null]).as_list(),
            Some(&[Value::Null][..])
        );
        assert!(Value::Map(IndexMap::new()).as_map().is_some());
        assert_eq!(Value::Null.as_map(), None);
    }

    #[test]
    fn type_names_are_pythons() {
        let names: Vec<_> = [
            Value::Null,
            Value::from(false),
            Value::int(0),
            Value::from(0.0),
            Value::from(""),
            Value::Bytes(vec![]),
            Value::from(Vec::new()),
            Value::Map(IndexMap::new()),
        ]
        .iter()
        .map(Value::type_name)
        .collect();
        assert_eq!(
            names,
            ["NoneType", "bool", "int", "float", "str", "bytes", "list", "dict"]
        );
    }

    #[test]
    fn python_str_and_repr() {
        assert_eq!(Value::from(true).python_str(), "True");
        assert_eq!(Value::Null.python_str(), "None");
        assert_eq!(Value::from(1.0).python_str(), "1.0");
        assert_eq!(Value::from(1e16).python_str(), "1e+16");
        assert_eq!(Value::from("a'b").python_str(), "a'b");
        let list = Value::from(vec![Value::int(1), Value::from("a"), Value::from(true)]);
        assert_eq!(list.python_str(), "[1, 'a', True]");
        let map = Value::Map(IndexMap::from([("a".to_string(), Value::int(1))]));
        assert_eq!(map.python_str(), "{'a': 1}");
        assert_eq!(Value::Bytes(b"ab".to_vec()).python_str(), "b'ab'");
        assert_eq!(
            Value::Bytes(b"a'\x00\xff\n".to_vec()).python_repr(),
            r#"b"a'\x00\xff\n""#
        );
        assert_eq!(Value::Bytes(b"'\"".to_vec()).python_repr(), r#"b'\'"'"#);
        assert_eq!(Value::from("it's").python_repr(), r#""it's""#);
        assert_eq!(Value::from("'\"").python_repr(), r#"'\'"'"#);
        assert_eq!(
            Value::from("é\t\u{7f}\u{a0}\u{200b}😀\u{e000}").python_repr(),
            r"'é\t\x7f\xa0\u200b😀\ue000'"
        );
        assert_eq!(Value::from("\u{f0000}").python_repr(), r"'\U000f0000'");
        assert_eq!(Value::Map(IndexMap::new()).python_repr(), "{}");
        assert_eq!(Value::from(Vec::new()).python_repr(), "[]");
        assert_eq!(Value::from(f64::NAN).python_repr(), "nan");
    }

    /// Every input and output the reference wrote for its builtins reads
    /// back, and our writer reproduces it byte for byte.
    #[test]
    fn builtins_fixture_texts_reserialise_exactly() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/fixtures/builtins.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let mut json_texts = 0;
        for case in &cases {
            let function = case["function"].as_str().unwrap();
            for field in ["inputs", "outputs"] {
                let Some(ports) = case.get(field).and_then(|p| p.as_object()) else {
                    continue;
                };
                for (port, latin1) in ports {
                    // Bytes are shown as latin-1 text: one char per byte.
                    let bytes: Vec<u8> = latin1
                        .as_str()
                        .unwrap()
                        .chars()
                        .map(|c| u8::try_from(u32::from(c)).unwrap())
                        .collect();
                    let value = Value::from_bytes(&bytes);
                    assert_eq!(value.to_bytes(), bytes, "{function} {field} {port}");
                    match parse(&bytes) {
                        Ok(parsed) => {
                            json_texts += 1;
                            assert_eq!(
                                to_string_pretty(&parsed).as_bytes(),
                                &bytes[..],
                                "{function} {field} {port}"
                            );
                        }
                        // Only raw bytes values are not JSON.
                        Err(e) => assert!(
                            matches!(value, Value::Bytes(_)) && function.starts_with("tkr_"),
                            "{function} {field} {port}: {e}"
                        ),
                    }
                }
            }
        }
        assert!(
            json_texts > cases.len(),
            "only {json_texts} JSON texts in {} cases",
            cases.len()
        );
    }
}
