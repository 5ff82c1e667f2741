//! A JSON reader and writer for the dialect Python's `json` module speaks,
//! producing and consuming [`Value`].
//!
//! Why not `serde_json`: Python integers are unbounded and distinct from
//! floats, and Python reads and writes `NaN`, `Infinity` and `-Infinity`.
//! `serde_json` rejects the non-finite literals and only keeps integers
//! beyond 64 bits with its `arbitrary_precision` feature, which (being a
//! Cargo feature) turns on workspace-wide and breaks serde's tagged and
//! untagged enums everywhere else. So values go through this module, and
//! `serde_json` is only used for plain, schema-shaped files.
//!
//! Reading follows `json.loads(bytes, cls=TierkreisDecoder)` of the reference:
//! objects with both keys `__tkr_bytes__` and `bytes` become
//! [`Value::Bytes`] (base64-decoded) and the older
//! `{"__tkr_complex__": [re, im]}` becomes the list `[re, im]` of floats.
//! Writing follows `json.dumps(v, cls=TierkreisEncoder)` with the default
//! `ensure_ascii=True`, byte for byte.
//!
//! Known differences from Python: input must be UTF-8 (Python also sniffs
//! UTF-16/32); a `\uXXXX` escape of a lone surrogate is an error because a
//! Rust `String` cannot hold it; nesting deeper than [`MAX_DEPTH`] is an
//! error (Python raises `RecursionError` near 1000); base64 in `bytes` fields
//! must be well padded after dropping non-alphabet characters.

use base64::Engine;
use indexmap::IndexMap;
use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::value::Value;

/// Deepest nesting of lists and objects [`parse`] accepts.
pub const MAX_DEPTH: usize = 512;

/// Where and why a JSON text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at line {line} column {column} (byte {offset}): {kind}")]
pub struct JsonError {
    /// Byte offset into the input where the problem was found.
    pub offset: usize,
    /// 1-based line number of `offset`.
    pub line: usize,
    /// 1-based column (in characters) of `offset` within its line.
    pub column: usize,
    /// What went wrong.
    pub kind: JsonErrorKind,
}

/// The kinds of problem [`parse`] reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonErrorKind {
    #[error("expected {expected}, found {}", describe_found(.found))]
    Expected {
        expected: &'static str,
        /// The character found instead, `None` at the end of the input.
        found: Option<char>,
    },
    #[error("extra data after the JSON value, starting with {found:?}")]
    TrailingData { found: char },
    #[error("input is not valid UTF-8")]
    InvalidUtf8,
    #[error("control character {byte:#04x} inside a string (must be escaped)")]
    ControlCharacterInString { byte: u8 },
    #[error("invalid escape in string: \\{}", describe_found(.found))]
    InvalidEscape { found: Option<char> },
    #[error("invalid \\uXXXX escape (expected four hex digits)")]
    InvalidUnicodeEscape,
    #[error("\\u{code_unit:04x} is a lone surrogate, which this reader cannot represent")]
    LoneSurrogate { code_unit: u16 },
    #[error("nesting deeper than {limit} lists/objects")]
    TooDeep { limit: usize },
    #[error("field \"bytes\" of a __tkr_bytes__ object: {reason}")]
    InvalidTkrBytes { reason: String },
}

fn describe_found(found: &Option<char>) -> String {
    match found {
        Some(c) => format!("{c:?}"),
        None => "end of input".to_string(),
    }
}

/// Parse one JSON value (Python dialect) from UTF-8 bytes; see the module doc.
///
/// Numbers with `.`, `e` or `E` are [`Value::Float`], others [`Value::Int`]
/// of any size. Object keys keep their order; of duplicate keys the last
/// value wins (at the first key's position, like a Python `dict`).
/// Whitespace may surround the value, anything else after it is an error.
/// A leading UTF-8 byte order mark is skipped, as `json.loads(bytes)` does.
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let text = match std::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) => {
            return Err(make_error(
                input,
                e.valid_up_to(),
                JsonErrorKind::InvalidUtf8,
            ))
        }
    };
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut p = Parser {
        text,
        bytes: input,
        pos: start,
        depth: 0,
    };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if let Some(c) = p.peek_char() {
        return Err(p.err(JsonErrorKind::TrailingData { found: c }));
    }
    Ok(v)
}

fn make_error(input: &[u8], offset: usize, kind: JsonErrorKind) -> JsonError {
    let before = &input[..offset.min(input.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // Count characters: every byte that is not a UTF-8 continuation byte.
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    JsonError {
        offset,
        line,
        column,
        kind,
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, kind: JsonErrorKind) -> JsonError {
        make_error(self.bytes, self.pos, kind)
    }

    fn err_at(&self, offset: usize, kind: JsonErrorKind) -> JsonError {
        make_error(self.bytes, offset, kind)
    }

    fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn expected(&self, expected: &'static str) -> JsonError {
        self.err(JsonErrorKind::Expected {
            expected,
            found: self.peek_char(),
        })
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, lit: &str) -> bool {
        if self.bytes[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => {
                if self.eat_literal("-Infinity") {
                    Ok(Value::Float(f64::NEG_INFINITY))
                } else {
                    self.number()
                }
            }
            Some(b'n') if self.eat_literal("null") => Ok(Value::Null),
            Some(b't') if self.eat_literal("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat_literal("false") => Ok(Value::Bool(false)),
            Some(b'N') if self.eat_literal("NaN") => Ok(Value::Float(f64::NAN)),
            Some(b'I') if self.eat_literal("Infinity") => Ok(Value::Float(f64::INFINITY)),
            _ => Err(self.expected("a value")),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(JsonErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("',' or ']'")),
            }
        }
        self.depth -= 1;
        Ok(Value::List(items))
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        self.enter()?;
        self.pos += 1; // '{'
        let mut map = IndexMap::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Map(map));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.expected("a property name in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.expected("':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value()?;
            map.insert(key, v);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("',' or '}'")),
            }
        }
        self.depth -= 1;
        object_hook(map)
            .map_err(|reason| self.err_at(start, JsonErrorKind::InvalidTkrBytes { reason }))
    }

    /// Reads a string starting at the opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Delimiters are ASCII, so this slice is on char boundaries.
            out.push_str(&self.text[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(&byte) => {
                    return Err(self.err(JsonErrorKind::ControlCharacterInString { byte }))
                }
                None => return Err(self.expected("'\"' closing the string")),
            }
        }
    }

    /// Reads the escape after a backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let c = match self.bytes.get(self.pos) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let esc_start = self.pos - 1;
                self.pos += 1;
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low one.
                    if self.bytes[self.pos..].starts_with(b"\\u") {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00)
                        } else {
                            self.pos = save;
                            return Err(self.err_at(
                                esc_start,
                                JsonErrorKind::LoneSurrogate { code_unit: hi },
                            ));
                        }
                    } else {
                        return Err(
                            self.err_at(esc_start, JsonErrorKind::LoneSurrogate { code_unit: hi })
                        );
                    }
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(
                        self.err_at(esc_start, JsonErrorKind::LoneSurrogate { code_unit: hi })
                    );
                } else {
                    u32::from(hi)
                };
                match char::from_u32(code) {
                    Some(ch) => out.push(ch),
                    None => return Err(self.err_at(esc_start, JsonErrorKind::InvalidUnicodeEscape)),
                }
                return Ok(());
            }
            _ => {
                return Err(self.err(JsonErrorKind::InvalidEscape {
                    found: self.peek_char(),
                }))
            }
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err(JsonErrorKind::InvalidUnicodeEscape))?;
        let mut v: u16 = 0;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.err(JsonErrorKind::InvalidUnicodeEscape))?;
            v = (v << 4) | n as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.expected("a digit")),
        }
        let mut is_float = false;
        if self.bytes.get(self.pos) == Some(&b'.')
            && self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            is_float = true;
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            let mut q = self.pos + 1;
            if let Some(b'+' | b'-') = self.bytes.get(q) {
                q += 1;
            }
            if self.bytes.get(q).is_some_and(u8::is_ascii_digit) {
                is_float = true;
                self.pos = q;
                self.digits();
            }
        }
        let lit = &self.text[start..self.pos];
        if is_float {
            // The grammar above is a subset of what `f64::from_str` accepts.
            lit.parse::<f64>().map(Value::Float).map_err(|_| {
                self.err_at(
                    start,
                    JsonErrorKind::Expected {
                        expected: "a number",
                        found: lit.chars().next(),
                    },
                )
            })
        } else if let Ok(i) = lit.parse::<i64>() {
            Ok(Value::Int(BigInt::from(i)))
        } else {
            lit.parse::<BigInt>().map(Value::Int).map_err(|_| {
                self.err_at(
                    start,
                    JsonErrorKind::Expected {
                        expected: "a number",
                        found: lit.chars().next(),
                    },
                )
            })
        }
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }
}

/// The reference's `TierkreisDecoder._object_hook`, plus the older complex form.
fn object_hook(map: IndexMap<String, Value>) -> Result<Value, String> {
    if map.contains_key("__tkr_bytes__") {
        if let Some(field) = map.get("bytes") {
            let Value::Str(b64) = field else {
                return Err(format!(
                    "expected a base64 string, found {}",
                    field.type_name()
                ));
            };
            return decode_base64_lenient(b64).map(Value::Bytes);
        }
    }
    if map.len() == 1 {
        if let Some(Value::List(parts)) = map.get("__tkr_complex__") {
            if let [re, im] = parts.as_slice() {
                if let (Some(re), Some(im)) = (complex_part(re), complex_part(im)) {
                    return Ok(Value::List(vec![Value::Float(re), Value::Float(im)]));
                }
            }
        }
    }
    Ok(Value::Map(map))
}

fn complex_part(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => i.to_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Python's `b64decode(s)` (non-validating): characters outside the base64
/// alphabet are dropped before decoding; padding must then be correct.
fn decode_base64_lenient(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Python's `json.dumps(v, cls=TierkreisEncoder, indent=2)`, byte for byte.
///
/// A top-level [`Value::Bytes`] is written as the `__tkr_bytes__` object, as
/// `json.dumps` would; [`Value::to_bytes`] writes it raw instead.
pub fn to_string_pretty(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, Some(0));
    out
}

/// Python's `json.dumps(v, cls=TierkreisEncoder)`: one line, separators
/// `", "` and `": "`.
pub fn to_string_compact(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, None);
    out
}

const INDENT: &str = "  ";

/// `level` is `Some(depth)` when pretty-printing, `None` for compact output.
fn write_value(out: &mut String, v: &Value, level: Option<usize>) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(s) => write_json_string(out, s),
        Value::Bytes(b) => {
            let encoded = Value::Str(base64::engine::general_purpose::STANDARD.encode(b));
            let fields = [("__tkr_bytes__", &Value::Bool(true)), ("bytes", &encoded)];
            write_object(out, fields.into_iter(), level);
        }
        Value::List(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                separator(out, i, level.map(|l| l + 1));
                write_value(out, item, level.map(|l| l + 1));
            }
            closing(out, level);
            out.push(']');
        }
        Value::Map(m) => write_object(out, m.iter().map(|(k, v)| (k.as_str(), v)), level),
    }
}

fn write_object<'v>(
    out: &mut String,
    fields: impl ExactSizeIterator<Item = (&'v str, &'v Value)>,
    level: Option<usize>,
) {
    if fields.len() == 0 {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        separator(out, i, level.map(|l| l + 1));
        write_json_string(out, k);
        out.push_str(": ");
        write_value(out, v, level.map(|l| l + 1));
    }
    closing(out, level);
    out.push('}');
}

/// What goes before item `i` (after its comma): newline and indent, or a
/// space in compact mode (but not before the first item).
fn separator(out: &mut String, i: usize, inner_level: Option<usize>) {
    match inner_level {
        Some(l) => {
            out.push('\n');
            for _ in 0..l {
                out.push_str(INDENT);
            }
        }
        None if i > 0 => out.push(' '),
        None => {}
    }
}

fn closing(out: &mut String, level: Option<usize>) {
    if let Some(l) = level {
        out.push('\n');
        for _ in 0..l {
            out.push_str(INDENT);
        }
    }
}

/// A JSON string literal with `ensure_ascii=True` escaping.
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f == f64::INFINITY {
        "Infinity".to_string()
    } else if f == f64::NEG_INFINITY {
        "-Infinity".to_string()
    } else {
        python_float_repr(f)
    }
}

/// Python's `repr(f)` (also `str(f)`): the shortest digits that round-trip,
/// in positional notation when the decimal exponent is in `-4..16`
/// (`1.0`, `0.0001`, `1234567890123456.0`), else scientific with a signed
/// exponent of at least two digits (`1e-05`, `1e+16`, `1.5e+300`).
/// Non-finite values are `nan`, `inf` and `-inf`.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "-1.5e300", "1e-5".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap()
    }

    fn int(i: i64) -> Value {
        Value::Int(BigInt::from(i))
    }

    #[test]
    fn scalars() {
        assert_eq!(p("null"), Value::Null);
        assert_eq!(p(" true "), Value::Bool(true));
        assert_eq!(p("\n\tfalse\r"), Value::Bool(false));
        assert_eq!(p("3"), int(3));
        assert_eq!(p("-0"), int(0));
        assert_eq!(p("3.0"), Value::Float(3.0));
        assert_eq!(p("1e2"), Value::Float(100.0));
        assert_eq!(p("1E-2"), Value::Float(0.01));
        assert_eq!(p("-2.5e+3"), Value::Float(-2500.0));
        assert_eq!(p("1e400"), Value::Float(f64::INFINITY));
        assert!(matches!(p("NaN"), Value::Float(f) if f.is_nan()));
        assert_eq!(p("Infinity"), Value::Float(f64::INFINITY));
        assert_eq!(p("-Infinity"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(p("-0.0"), Value::Float(f) if f == 0.0 && f.is_sign_negative()));
    }

    #[test]
    fn big_ints() {
        let big = "1606938044258990275541962092341162602522202993782792835301376"; // 2**200
        assert_eq!(p(big), Value::Int(BigInt::from(2).pow(200)));
        assert_eq!(p(&format!("-{big}")), Value::Int(-BigInt::from(2).pow(200)));
        assert_eq!(to_string_pretty(&p(big)), big);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            p(r#""a\"b\\c\/d\b\f\n\r\t""#),
            Value::Str("a\"b\\c/d\u{8}\u{c}\n\r\t".into())
        );
        assert_eq!(p(r#""\u00e9\u00E9""#), Value::Str("éé".into()));
        assert_eq!(p(r#""\ud83d\ude00""#), Value::Str("😀".into()));
        assert_eq!(p("\"héllo 😀\""), Value::Str("héllo 😀".into()));
    }

    #[test]
    fn objects_keep_order_and_last_duplicate_wins() {
        let v = p(r#"{"b": 1, "a": 2, "b": 3}"#);
        let Value::Map(m) = v else {
            panic!("not a map")
        };
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["b", "a"]);
        assert_eq!(m["b"], int(3));
        assert_eq!(to_string_compact(&Value::Map(m)), r#"{"b": 3, "a": 2}"#);
    }

    #[test]
    fn object_hooks() {
        assert_eq!(
            p(r#"{"__tkr_bytes__": true, "bytes": "aGk="}"#),
            Value::Bytes(b"hi".to_vec())
        );
        assert_eq!(
            p(r#"[{"bytes": "", "__tkr_bytes__": false}]"#),
            Value::List(vec![Value::Bytes(vec![])])
        );
        assert_eq!(
            p(r#"{"__tkr_complex__": [1, 2.5]}"#),
            Value::List(vec![Value::Float(1.0), Value::Float(2.5)])
        );
        // Only one of the two keys: stays a map.
        assert!(matches!(p(r#"{"__tkr_bytes__": true}"#), Value::Map(_)));
        let e = parse(br#"[{"__tkr_bytes__": true, "bytes": 3}]"#).unwrap_err();
        assert!(matches!(e.kind, JsonErrorKind::InvalidTkrBytes { .. }));
        assert_eq!(e.offset, 1);
        let e = parse(br#"{"__tkr_bytes__": true, "bytes": "abc"}"#).unwrap_err();
        assert!(
            matches!(e.kind, JsonErrorKind::InvalidTkrBytes { .. }),
            "{e}"
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = parse(b"[1,\n 2,]").unwrap_err();
        assert_eq!((e.offset, e.line, e.column), (7, 2, 4));
        assert!(matches!(
            e.kind,
            JsonErrorKind::Expected {
                expected: "a value",
                found: Some(']')
            }
        ));
        let e = parse(b"").unwrap_err();
        assert!(matches!(
            e.kind,
            JsonErrorKind::Expected { found: None, .. }
        ));
        let e = parse(b"1 2").unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::TrailingData { found: '2' });
        assert_eq!(e.offset, 2);
        let e = parse(b"\"\xff\"").unwrap_err();
        assert_eq!((e.kind, e.offset), (JsonErrorKind::InvalidUtf8, 1));
        let e = parse("\"é\u{1}\"".as_bytes()).unwrap_err();
        assert_eq!((e.offset, e.column), (3, 3));
        assert!(e.to_string().contains("line 1 column 3"), "{e}");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for bad in [
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "1e+",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "{\"a\" 1}",
            "nul",
            "True",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "-NaN",
            "[",
            "{",
            "{\"a\":",
            "'a'",
            "\"\t\"",
            "[] x",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn depth_limit_is_an_error() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = "[".repeat(100_000);
        let e = parse(deep.as_bytes()).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::TooDeep { limit: MAX_DEPTH });
        let deep = "{\"a\":".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse(deep.as_bytes()).unwrap_err().kind,
            JsonErrorKind::TooDeep { .. }
        ));
    }

    #[test]
    fn bom_is_skipped() {
        assert_eq!(parse(b"\xef\xbb\xbf 1").unwrap(), int(1));
    }

    #[test]
    fn float_repr_matches_python() {
        // Python's documented repr of these floats.
        let cases = [
            (1.0, "1.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5e300, "1.5e+300"),
            (1234567890123456.0, "1234567890123456.0"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (100.0, "100.0"),
            (-2.5, "-2.5"),
            (0.000123, "0.000123"),
            (1.23e-5, "1.23e-05"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(f), want, "repr of {f:e}");
        }
    }

    #[test]
    fn writer_matches_python_layout() {
        let v = p(r#"{"a": [1, 2.0, {"b": null}], "c": {}, "d": [], "e": "é😀\u007f\""}"#);
        let want = "{\n  \"a\": [\n    1,\n    2.0,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"e\": \"\\u00e9\\ud83d\\ude00\\u007f\\\"\"\n}";
        assert_eq!(to_string_pretty(&v), want);
        assert_eq!(
            to_string_compact(&v),
            r#"{"a": [1, 2.0, {"b": null}], "c": {}, "d": [], "e": "\u00e9\ud83d\ude00\u007f\""}"#
        );
        assert_eq!(
            to_string_compact(&p("[NaN, Infinity, -Infinity]")),
            "[NaN, Infinity, -Infinity]"
        );
        assert_eq!(
            to_string_pretty(&Value::List(vec![Value::Bytes(b"hi".to_vec())])),
            "[\n  {\n    \"__tkr_bytes__\": true,\n    \"bytes\": \"aGk=\"\n  }\n]"
        );
        assert_eq!(
            to_string_compact(&Value::Bytes(vec![0xff])),
            r#"{"__tkr_bytes__": true, "bytes": "/w=="}"#
        );
    }

    #[test]
    fn all_control_characters_round_trip() {
        let s: String = (0u32..0x80)
            .chain([0xe9, 0xffff, 0x10ffff])
            .filter_map(char::from_u32)
            .collect();
        let v = Value::Str(s);
        let text = to_string_pretty(&v);
        assert!(text.is_ascii());
        assert_eq!(parse(text.as_bytes()).unwrap(), v);
    }
}
