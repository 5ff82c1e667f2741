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

pub use crate::float_repr::python_float_repr;
use crate::value::Value;

impl Value {
    /// The reference's `ptype_from_bytes` with no annotation: the JSON value
    /// the bytes hold, or, if they are not valid UTF-8 JSON, the bytes
    /// themselves as [`Value::Bytes`]. (The reference raises instead of
    /// falling back when a `__tkr_bytes__` object holds invalid base64; here
    /// that also falls back to the raw bytes.)
    pub fn from_bytes(bytes: &[u8]) -> Value {
        match parse(bytes) {
            Ok(value) => value,
            Err(_) => Value::Bytes(bytes.to_vec()),
        }
    }

    /// The reference's `bytes_from_ptype`: a top-level `Bytes` value raw,
    /// anything else as JSON pretty-printed with an indent of 2.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Value::Bytes(bytes) => bytes.clone(),
            other => to_string_pretty(other).into_bytes(),
        }
    }
}

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

impl JsonError {
    /// Whether the text ended before its value did (an unclosed object,
    /// list, string or escape): what a JSON file reads as while it is being
    /// written, or after its writer died. Every text cut short from a
    /// complete object gives such an error, as the object's closing `}` is
    /// its last character.
    pub fn ends_early(&self) -> bool {
        matches!(
            self.kind,
            JsonErrorKind::Expected { found: None, .. }
                | JsonErrorKind::InvalidEscape { found: None }
        )
    }
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
        // A character cut off by the end of the input: the text ends early.
        Err(e) if e.error_len().is_none() => {
            return Err(make_error(
                input,
                input.len(),
                JsonErrorKind::Expected {
                    expected: "the rest of a UTF-8 character",
                    found: None,
                },
            ))
        }
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

    /// Whether the rest of the input is the start of a literal, cut short.
    fn at_cut_literal(&self) -> bool {
        let rest = &self.bytes[self.pos..];
        !rest.is_empty()
            && ["null", "true", "false", "NaN", "Infinity", "-Infinity"]
                .iter()
                .any(|lit| lit.len() > rest.len() && lit.as_bytes().starts_with(rest))
    }

    /// The input ended inside `expected`: an "ends early" error at its end.
    fn cut_short(&self, expected: &'static str) -> JsonError {
        self.err_at(
            self.bytes.len(),
            JsonErrorKind::Expected {
                expected,
                found: None,
            },
        )
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => {
                if self.eat_literal("-Infinity") {
                    Ok(Value::Float(f64::NEG_INFINITY))
                } else if self.at_cut_literal() {
                    Err(self.cut_short("the rest of a literal"))
                } else {
                    self.number()
                }
            }
            Some(b'n') if self.eat_literal("null") => Ok(Value::Null),
            Some(b't') if self.eat_literal("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat_literal("false") => Ok(Value::Bool(false)),
            Some(b'N') if self.eat_literal("NaN") => Ok(Value::Float(f64::NAN)),
            Some(b'I') if self.eat_literal("Infinity") => Ok(Value::Float(f64::INFINITY)),
            _ if self.at_cut_literal() => Err(self.cut_short("the rest of a literal")),
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
                    let rest = &self.bytes[self.pos..];
                    if rest.len() < 2 && b"\\u".starts_with(rest) {
                        return Err(self.cut_short("the rest of a \\u escape"));
                    }
                    if rest.starts_with(b"\\u") {
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
        let Some(digits) = self.bytes.get(self.pos..self.pos + 4) else {
            let rest = &self.bytes[self.pos..];
            return Err(if rest.iter().all(u8::is_ascii_hexdigit) {
                self.cut_short("the rest of a \\u escape")
            } else {
                self.err(JsonErrorKind::InvalidUnicodeEscape)
            });
        };
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
        let end = self.bytes.len();
        // A fraction or exponent with no digits yet, at the end: cut short.
        if self.bytes.get(self.pos) == Some(&b'.') && self.pos + 1 == end {
            return Err(self.cut_short("the digits of a number"));
        }
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
            if q == end {
                return Err(self.cut_short("the digits of a number"));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every text cut short from a complete object is an "ends early" error,
    /// whatever it is cut in: a string, an escape, a surrogate pair, a UTF-8
    /// character, a number or a literal. (Node definitions are written in
    /// place and rely on this to never pass for complete.)
    #[test]
    fn every_cut_short_object_ends_early() {
        let raw = r#"{"a": [1, -2.5e3, true, false, null, NaN, -Infinity, Infinity],
            "s": "quote \" back \\ tab \t \u00e9 \ud83d\ude00 café 😀",
            "o": {"nested": {}, "list": []}, "n": -0, "big": 123456789012345678901234567890}"#;
        let compact = to_string_compact(&p(raw));
        assert!(compact.contains(r"\ud83d\ude00"), "{compact}");
        for text in [raw, compact.as_str()] {
            let bytes = text.as_bytes();
            assert!(parse(bytes).is_ok());
            for cut in 0..bytes.len() {
                let err = parse(&bytes[..cut]).expect_err("a cut-short text must not parse");
                assert!(err.ends_early(), "cut at {cut} of {text:?}: {err}");
            }
        }
        // Text that is wrong before its end is not taken for one cut short.
        for bad in [
            &b"{not json"[..],
            br#"{"a": tru}"#,
            br#"{"a": "\uZZ"#,
            b"[1,]",
            b"\xff{",
            br#"["\ud83d"]"#,
        ] {
            let err = parse(bad).expect_err("invalid");
            assert!(
                !err.ends_early(),
                "{:?}: {err}",
                String::from_utf8_lossy(bad)
            );
        }
    }

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
    fn float_repr_breaks_exact_ties_to_even() {
        // 1666666666666669.25 exactly: both ...9.2 and ...9.3 read back, and
        // Python (`repr(float.fromhex("0x1.7af4c4a80aab5p+50"))`) prints .2.
        let f = f64::from_bits(0x4317_af4c_4a80_aab5);
        // Exactly 6666666666666677 / 4 (both sides are exact in f64).
        assert_eq!(f * 4.0, 6666666666666677.0);
        assert_eq!(python_float_repr(f), "1666666666666669.2");
        assert_eq!(python_float_repr(-f), "-1666666666666669.2");
    }

    #[test]
    fn float_repr_matches_python_table() {
        let mut failures = Vec::new();
        for &(bits, want) in PYTHON_REPRS {
            let f = f64::from_bits(bits);
            let got = python_float_repr(f);
            if got != want {
                failures.push(format!("{bits:#018x}: got {got}, Python {want}"));
            }
            assert_eq!(want.parse::<f64>().unwrap(), f, "table entry {bits:#018x}");
        }
        assert!(PYTHON_REPRS.len() >= 400);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    // `(f.to_bits(), repr(f))` as printed by CPython 3.11 running this script
    // (`python3 gen.py`); the first 250 entries are exact ties between two
    // shortest round-trip strings, then 100 non-ties of the same shape, then
    // 150 random bit patterns.
    //
    // import random, struct
    // from fractions import Fraction
    // def bits(f): return struct.unpack('<Q', struct.pack('<d', f))[0]
    // def is_tie(f):
    //     s = repr(abs(f)); m, _, e = s.partition('e')
    //     ip, _, fp = m.partition('.')
    //     if e == '' and fp == '0': fp = ''
    //     ds = (ip + fp).lstrip('0'); k = (int(e) if e else 0) - len(fp)
    //     D = int(ip + fp)
    //     for d in (-1, 1):
    //         C = D + d
    //         if C > 0 and float(Fraction(C) * Fraction(10) ** k) == abs(f) and \
    //            abs(Fraction(abs(f)) - D * Fraction(10) ** k) == abs(Fraction(abs(f)) - C * Fraction(10) ** k):
    //             return True
    //     return False
    // rng = random.Random(20240611)
    // cands = []
    // for _ in range(200000):
    //     den = rng.choice([2, 4, 8, 16, 32])
    //     k = rng.randrange(1, 1 << 53)
    //     f = k / den
    //     j = rng.randrange(-60, 60)
    //     f = f * 2.0 ** j if rng.random() < 0.5 else f * 10.0 ** rng.randrange(-20, 20)
    //     if rng.random() < 0.3: f = -f
    //     cands.append(f)
    // ties = [f for f in cands if is_tie(f)]
    // others = [f for f in cands if not is_tie(f)]
    // rng.shuffle(ties)
    // sel = ties[:250] + others[:100]
    // for _ in range(150):
    //     f = struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]
    //     if f == f and abs(f) != float('inf'): sel.append(f)
    // import sys
    // print(len(ties), file=sys.stderr)
    // for f in sel: print(f'(0x{bits(f):016x}, "{repr(f)}"),')
    #[rustfmt::skip]
    const PYTHON_REPRS: &[(u64, &str)] = &[
        (0x42ab523b6bddfe60, "15019999096575.188"),
        (0x4309a6f784b9c50a, "902557053958305.2"),
        (0xc2b6c310790335d0, "-25027050799925.812"),
        (0x43024d318bb03596, "643928096638642.8"),
        (0x4316c586e92e80fd, "1602408179015743.2"),
        (0x4303498264e6cfbe, "678606118115831.8"),
        (0xc3145e10dfe426fd, "-1433231525743039.2"),
        (0xc316159b014724a9, "-1554051243297066.2"),
        (0x43030784ecbeb7fa, "669536505812735.2"),
        (0x430e5636d593adbe, "1067380351595959.8"),
        (0x4318168d7a83e581, "1695049085679968.2"),
        (0xc311f65709832291, "-1263982071564452.2"),
        (0x42eace73d01671dc, "235792068817806.88"),
        (0x42e8f0a7b4614ba4, "219375078672989.12"),
        (0x42e8f2752a7cbaf4, "219437014967767.62"),
        (0x42e2e2002dc315e4, "166094999263407.12"),
        (0x430fd8b89652940a, "1120501448200833.2"),
        (0x430d8110808b36f2, "1038085275084510.2"),
        (0x428da74ce0141040, "4075548312194.0312"),
        (0xc3126e0abc156aad, "-1296885491260075.2"),
        (0x431e0eb36befa803, "2115103268530688.8"),
        (0x43051b66da919486, "742637884813968.8"),
        (0xc2b06b081bfb5df0, "-18051883596637.938"),
        (0x431a131cfdad4335, "1834841157619917.2"),
        (0x43083836f706f3c6, "852151020609144.8"),
        (0xc2d7e5fc7712ba78, "-105106202446569.88"),
        (0x42ec0d7415aa75fc, "246752861836207.88"),
        (0x42bbbb4d9312efb0, "30491274318575.688"),
        (0x43009f1e16372e2e, "584818899740101.8"),
        (0x430b6c81d4675092, "964891155163666.2"),
        (0x42e95c2ceb86bcd4, "223069450548710.62"),
        (0xc2efd012eb90f624, "-279828248692657.12"),
        (0x431282cb49b65e5d, "1302589801863063.2"),
        (0x4319358180180e85, "1773926183469985.2"),
        (0x4289213f762fa7c0, "3453823665652.9688"),
        (0x43048b7f1ec031a2, "722859703404084.2"),
        (0x42d803fff03583d8, "105621831603727.38"),
        (0xc30a3b5244e8c3ea, "-922946740492413.2"),
        (0xc2ec3a2230ba2a8c, "-248288058397012.38"),
        (0xc30addf265b2c722, "-945297819064548.2"),
        (0x42d807337ba19c08, "105676830312048.12"),
        (0x42e8fb127f5b45f4, "219733009553967.62"),
        (0x4310cf964f134cd5, "1182961026519861.2"),
        (0x42a8bed353c954a0, "13603934168234.312"),
        (0x431bf7db17de893b, "1968086185386574.8"),
        (0xc30ca38cedd511fe, "-1007640628601407.8"),
        (0x4318a5a861af93d1, "1734385513260276.2"),
        (0x43001a69e9945d5e, "566580227509163.8"),
        (0xc2e5bb353821e31c, "-191150367510296.88"),
        (0xc3115c21c7200909, "-1221593687130690.2"),
        (0x42e4484ca10a9334, "178406046586009.62"),
        (0x431fa494eb50a8b9, "2226670947019310.2"),
        (0x430c3cf2d868745e, "993539132296843.8"),
        (0x42dc4c631f71f028, "124457624389568.62"),
        (0x431c935c1e99eccf, "2010830801894195.8"),
        (0x4309e3c9d8b268c2, "910916310158616.2"),
        (0x42e31583801cee94, "167864971618164.62"),
        (0xc260e0e4b0316d00, "-579940483467.4062"),
        (0x430a96c84d9ad80e, "935517054262017.8"),
        (0xc2a45ad8ec1e1ce0, "-11190209482510.438"),
        (0x42e849f08190ad84, "213646773618028.12"),
        (0x42b66799c979ee70, "24634217560558.438"),
        (0x431d532c9c1b2e1d, "2063556346825607.2"),
        (0x42b7d2cf644a7cf0, "26194190027388.938"),
        (0xc302532ad1b8b4a6, "-644749119133332.8"),
        (0x431da6dcdf6735ab, "2086560473927018.8"),
        (0x431663da6a2f8ca5, "1575559805788969.2"),
        (0x42ed3250905843a4, "256815497658909.12"),
        (0xc2abbcffccb2cb20, "-15249279703397.562"),
        (0x4306ff38a5268e72, "809133530206670.2"),
        (0x42babe47240ce4d0, "29404539653348.812"),
        (0xc3164b23f86b0b37, "-1568766837834445.8"),
        (0x42a00481a64e17a0, "8805770536715.812"),
        (0x42e6539e41c7c01c, "196387145661952.88"),
        (0x43002326a78b6f66, "567781069254124.8"),
        (0x43105e0d104f5a91, "1151752457148068.2"),
        (0xc2e4c5de778b59b4, "-182720587913933.62"),
        (0x43086f70997cd24e, "859741105396297.8"),
        (0x4282b0456b500940, "2568536025601.1562"),
        (0xc3149b23c794805f, "-1450019377192983.8"),
        (0x42e30055fca4974c, "167137308386490.38"),
        (0x42e51f5558839dcc, "185794560269550.38"),
        (0x4307d596e2a06d36, "838596061040038.8"),
        (0x42d8df523c13ebc8, "109389745770415.12"),
        (0x42e67e34d6f019ec, "197850465534159.38"),
        (0x430c4849c9edc83a, "995097638189319.2"),
        (0x42e475888f8c3414, "179960278704544.62"),
        (0x43109ef776317ad5, "1169596326108853.2"),
        (0x43085a4b2e2508de, "856834798035227.8"),
        (0x4304db7965cfc0fa, "733851747481631.2"),
        (0x42bf8d3036a408d0, "34691259737096.812"),
        (0xc316c80e54d6bfa3, "-1603103341522920.8"),
        (0x431f7833e610707b, "2214472144133150.8"),
        (0x4308d4db8538d4d2, "873679842384538.2"),
        (0x431e904510fb02a7, "2150718903337129.8"),
        (0xc30e67964e687e26, "-1069768069943236.8"),
        (0xc318aa7233222849, "-1735701725481490.2"),
        (0x4312549d5c6bdaf1, "1289896104490684.2"),
        (0x42712f9729a7f180, "1181006076543.0938"),
        (0xc2893369984753c0, "-3463575701738.4688"),
        (0x42b5f075fa482430, "24122515671076.188"),
        (0x4308084d1bd63226, "845565839197764.8"),
        (0x42d980200014fd68, "112152333538293.62"),
        (0x4308feb0ff74b012, "879429449324034.2"),
        (0xc2a782663b76c4a0, "-12924414180194.312"),
        (0x43127f0b600aa765, "1301559103367641.2"),
        (0xc2d921a241bf14d8, "-110528987331667.38"),
        (0x431dc80207f04873, "2095671343321628.8"),
        (0xc30713706ccf6e7e, "-811912255892943.8"),
        (0x42ef10185b75a26c, "273231908678931.38"),
        (0x43112f0a62ac7069, "1209199063931930.2"),
        (0x43130ef7997682cf, "1341120287973555.8"),
        (0x4275909a5b830f80, "1481925572656.9688"),
        (0x4300256cf9e6ad2a, "568093700838821.2"),
        (0x42865a7efeeb1740, "3072241687906.9062"),
        (0x4314b0465c6ff41b, "1455828944813318.8"),
        (0x431fe3c1a378f33d, "2244036272209103.2"),
        (0xc306dfab9a02fc3e, "-804797200490375.8"),
        (0x430db2cf61eb264e, "1044922261923017.8"),
        (0x42b59b06f8cef4f0, "23755581083380.938"),
        (0x4303ad57106a09fe, "692326750830911.8"),
        (0x431e4a95904a139b, "2131563883168998.8"),
        (0x4308618663f9b97e, "857828658984751.8"),
        (0x430f7749cd75187a, "1107110392668943.2"),
        (0x4306606baa274266, "787308127512652.8"),
        (0xc2aa0911cb1a37e0, "-14313127775515.938"),
        (0x42d68b46f6da0258, "99149787392009.38"),
        (0x431d01c29e3dde15, "2041177428686725.2"),
        (0x42e8037ff90532dc, "211226487957910.88"),
        (0x431e42d571c51ecb, "2129433451382706.8"),
        (0xc2e794a9c8a354a4, "-207418168777381.12"),
        (0x43112c6fa343287b, "1208483149040158.8"),
        (0x42e6b93a20e7be04, "199878399966704.12"),
        (0x431e6bd90cffa745, "2140707317869009.2"),
        (0x43094078fde1caea, "888470352181597.2"),
        (0x42ebeb02f305f3c4, "245569445965726.12"),
        (0x42e6dbffe28e6bdc, "201073173492574.88"),
        (0xc3074af5d6dac2d6, "-819543024556122.8"),
        (0x42d8a2b000e49938, "108348066468452.88"),
        (0xc3123ca8905e6091, "-1283311063767076.2"),
        (0xc302ee25e2bfd216, "-666049508276802.8"),
        (0x42da7269336c38e8, "116314774286563.62"),
        (0xc2d20e4dd7f33098, "-79410579360962.38"),
        (0x4285c6810a1d0e40, "2992789078945.7812"),
        (0xc304c25ba6485d5e, "-730399802723243.8"),
        (0x426a789b0ffa6b00, "909540622291.3438"),
        (0x42eab4eada19b23c, "234914692779409.88"),
        (0x42e8d0d2df99f51c, "218281361067944.88"),
        (0x430dd83f40c19ba2, "1050067563197300.2"),
        (0xc31f0b8332107003, "-2184595596647424.8"),
        (0x42d83862eb8bb228, "106521827356360.62"),
        (0x43104e2f177e4439, "1147390947987726.2"),
        (0xc281a895d8352840, "-2426970769061.0312"),
        (0x42420ba6b2764200, "155009770732.51562"),
        (0xc30947aebb1d3bb6, "-889461275862902.8"),
        (0x4317cf9d3ef9b493, "1675549684428068.8"),
        (0x430a08b0ec74152a, "915988171096741.2"),
        (0x42aead6745bff520, "16865055399930.562"),
        (0x43012aa91eb98512, "603997557174434.2"),
        (0xc31f357e361b7cd5, "-2196135116988213.2"),
        (0x431cda0b76a6f5c3, "2030260529511792.8"),
        (0x4309effd0d2d2d92, "912593068074418.2"),
        (0x42b80bdc5ca5f850, "26439220766200.312"),
        (0x42ead0bb95b3d20c, "235870421360272.38"),
        (0x42d1642f658eed28, "76487958346676.62"),
        (0x4275532d54e2a980, "1465436687914.5938"),
        (0x42b425dcbec1d6d0, "22152849834454.812"),
        (0x431b621e0a5451cf, "1926926383256691.8"),
        (0x430e0971b5d56636, "1056829160991942.8"),
        (0xc2e5d42abf78be24, "-192007955531249.12"),
        (0x4285bec43812c340, "2988634997336.4062"),
        (0x42dd9cdfda25b1d8, "130238430877383.38"),
        (0xc2d5326cde59bee8, "-93225276237563.62"),
        (0x431e4e824da3254b, "2132642714143058.8"),
        (0xc31ae7bf694c8087, "-1893289671467041.8"),
        (0x42e34604a7ff434c, "169531574057498.38"),
        (0xc31550fc8d8995f5, "-1500005036877181.2"),
        (0xc2b984c458a8acd0, "-28058020522156.812"),
        (0x4303e665d42868b6, "700168697875734.8"),
        (0xc2b21e73d37e2650, "-19922001559078.312"),
        (0x42bed4034b6196d0, "33895937171862.812"),
        (0x42b8f4bbfaff7710, "27439404875639.062"),
        (0xc2dc9300973c2ff8, "-125670782726335.88"),
        (0x43146ffbde85d7f1, "1438156773750268.2"),
        (0xc2e9915aac6c3574, "-224896657613227.62"),
        (0xc2ea7b5570275b3c, "-232936133704409.88"),
        (0x42e9f7287f46be8c, "228394616370676.38"),
        (0x43121001e9bc08e3, "1271037495804472.8"),
        (0xc2a79fbff3ad17a0, "-12987443828363.812"),
        (0x42e659623223731c, "196585242827672.88"),
        (0x42e27059a7e265dc, "162189998494510.88"),
        (0x42a3e6af43c40020, "10940751929856.062"),
        (0x42ed233acee8585c, "256297181594306.88"),
        (0x42e41e4761ea729c, "176962233389972.88"),
        (0xc301d984b2b18042, "-628029820121096.2"),
        (0x42e258d02d87f35c, "161381272534938.88"),
        (0x42eb8a004984b3a4, "242236194039197.12"),
        (0x42afe06e1f8d42a0, "17524390348449.312"),
        (0xc310a92ac9c1e6f9, "-1172400216504766.2"),
        (0x431d292adbc61ff9, "2052009594292222.2"),
        (0x4241ca031063ea00, "152807284935.82812"),
        (0x431fdf9ef1777fc5, "2242899506749425.2"),
        (0x4310a99aa70bdea7, "1172520330000297.8"),
        (0xc3003cdbbfba9e1a, "-571314267444163.2"),
        (0x430f6772c411dd4a, "1104933361433513.2"),
        (0x4305b8005c834c12, "764160775317890.2"),
        (0x42a515e90eacbd60, "11591924274782.688"),
        (0x43111cc03cadd8b9, "1204171645351470.2"),
        (0x42b0484c25a45090, "17902701225040.562"),
        (0xc2ad6a5c7ff053a0, "-16171327813673.812"),
        (0x42a576a482cb8220, "11799655179713.062"),
        (0xc308111b3ffb927a, "-846776022037071.2"),
        (0x430f031ed347a1b2, "1091144400827446.2"),
        (0x43017917d0fd1992, "614777225192242.2"),
        (0x42d470a2eb3f7bb8, "89896008875502.88"),
        (0xc31356c893f73505, "-1360861008350529.2"),
        (0x4317c40f5765fa69, "1672373658549914.2"),
        (0xc31fd5c485f6ae43, "-2240191078968208.8"),
        (0x43039250fece1d5e, "688612640932779.8"),
        (0x42854c2a63dc0ec0, "2927109110657.8438"),
        (0x4303ebadd1563f4e, "700894541432809.8"),
        (0xc31f64d11c69e70f, "-2209143391418819.8"),
        (0xc316f4dcc4552533, "-1615419627882828.8"),
        (0x4318f39e4c0b399f, "1755815161810535.8"),
        (0x431ae383941110a5, "1892125914711081.2"),
        (0xc3101f052930c48f, "-1134426663432483.8"),
        (0x4281a0634b27a640, "2422569788660.7812"),
        (0xc309d33d6c09187e, "-908641897095951.8"),
        (0x430a9137aac1ce02, "934752208566720.2"),
        (0x430f3e7df355c4ba, "1099304369043607.2"),
        (0x431a98a4ea43aa87, "1871545866709665.8"),
        (0x42efd6d7d430fe64, "280060835760115.12"),
        (0x4318cedd34d7720b, "1745712227671170.8"),
        (0xc2d13bbce0341448, "-75793078210641.12"),
        (0x42b33bc9d9860d70, "21147510474253.438"),
        (0xc31399e098e7d387, "-1379303618639073.8"),
        (0x4312a03561b37c17, "1310675178413829.8"),
        (0xc306056c832bf5ba, "-774801637867191.2"),
        (0x42d330f39e0430f8, "84403866308803.88"),
        (0x4313db51087e323b, "1397291409706126.8"),
        (0x431285ed644b3445, "1303451054296337.2"),
        (0x42b3e27cdcccf7d0, "21863478381815.812"),
        (0x42d38ad912a4d7b8, "85948273169246.88"),
        (0x428b2d7ed8da0340, "3735276952384.4062"),
        (0x431cc6b1c07b30db, "2024941522177078.8"),
        (0xc2ed8ee8b099576c, "-259997011593915.38"),
        (0x431c5d602dd2bddb, "1995991753731958.8"),
        (0x430ae38e2e51d2b2, "946068649556566.2"),
        (0x42e2f38a60720cd4, "166697663434854.62"),
        (0xc30138204a9aa192, "-605848243229746.2"),
        (0xc1d8ab48d1a6e55f, "-1655513926.6077497"),
        (0x427c1544559c8f9a, "1929854147016.975"),
        (0xc269915dd4eabbe0, "-878504224597.8711"),
        (0x3ff7412c563400f8, "1.4534114234266422"),
        (0xc5d3453299868c6e, "-2.385548007412079e+28"),
        (0x4434e7ba70b2d1c4, "3.8563266395594634e+20"),
        (0xc66941285b66f0a0, "-1.6006955017296297e+31"),
        (0xc5cd3e7d82205580, "-1.8101222763704223e+28"),
        (0xc391256858432943, "-3.088771002690644e+17"),
        (0x44813aed30849305, "1.0170904083926497e+22"),
        (0x443211471dd257d6, "3.3328638993801714e+20"),
        (0xc508d139b6b81ec7, "-3.750282362048801e+24"),
        (0x3e9489fe5bfd54c1, "3.0605550803881564e-07"),
        (0x447b6b4afca95192, "8.092693752074255e+21"),
        (0x3f70d55283368a45, "0.004109690012600147"),
        (0x4513fab00286eced, "6.038357250611419e+24"),
        (0x42b62d81149e81f8, "24384694951553.97"),
        (0xbf88cf4603c16170, "-0.012114092816930294"),
        (0x408a59716221a616, "843.1803629521189"),
        (0x43234442aff5ba2b, "2711538884074773.5"),
        (0x4667c5d8c01f6ebe, "1.506782656011292e+31"),
        (0xc4d71b3c015cc480, "-4.364672601404331e+23"),
        (0x46d8a414c1d99741, "1.999110692761611e+33"),
        (0xc254dcf4ee7fe8cd, "-358425541119.6375"),
        (0xc2ed54a8a9666f5d, "-257995553059706.9"),
        (0x43a689586a435a0f, "8.119631770317638e+17"),
        (0x43436fd5bd077828, "1.0941976695205968e+16"),
        (0x446a24503eb5c661, "3.857856050003111e+21"),
        (0x40dab7d7cde7af00, "27359.371942444704"),
        (0x4052499fc961c212, "73.15037760302246"),
        (0xc6ff8187468c0d4e, "-1.022427194304083e+34"),
        (0xc5f1886ec88007a1, "-8.681891579708649e+28"),
        (0x438dac8c0803b5b7, "2.672797361430013e+17"),
        (0xc4b2c13446752ece, "-8.856658512486178e+22"),
        (0x3f42d8f2995f7a68, "0.000575178581808289"),
        (0x401e60cb9e6aca3d, "7.594526744144386"),
        (0x42f24af24c390c32, "321809631383747.1"),
        (0xc5660ad96baafb30, "-2.131808191848322e+26"),
        (0xc6e3e5b343f3f8bc, "-3.228516093216477e+33"),
        (0xc1eb0b787b89cd36, "-3629892572.3063"),
        (0x4244106ff1351afd, "172350235242.21085"),
        (0x44f8d8568bdc2c11, "1.8772404580637375e+24"),
        (0x46fd394d219ca088, "9.483676075986724e+33"),
        (0x409f42d1a9f9ba27, "2000.7047499675625"),
        (0x42b17d7d22be64bf, "19230668013156.746"),
        (0xc36fcb142de794aa, "-7.159209446373102e+16"),
        (0xbf900846dc0f0e8f, "-0.015656573468517506"),
        (0xbfb4a6cd241daf72, "-0.08067018634545578"),
        (0x45cd81f9335ab3a5, "1.826438706424645e+28"),
        (0x45705be35652414b, "3.164278735165722e+26"),
        (0xc20e6d71b6c7a7e2, "-16335648472.956974"),
        (0xc34cfcf339eb1ba0, "-1.6318841853720384e+16"),
        (0x447e26ad4e019f5c, "8.899028667593189e+21"),
        (0x44a289a1aed212e7, "4.377072555500825e+22"),
        (0xc256739ce3c5522c, "-385715769109.28394"),
        (0x3eb04445f8a5a24a, "9.695704386807605e-07"),
        (0x46cd06de7d7ed28f, "1.1774682097355882e+33"),
        (0x4044c625d9ab3d1a, "41.54803009854568"),
        (0x450c3a367fd0b528, "4.265603192432057e+24"),
        (0xc4a04d1a7e95589e, "-3.8490086073544926e+22"),
        (0xc47034e046e73b16, "-4.783328454768815e+21"),
        (0xc25863c21a4dfbb8, "-419011520823.9331"),
        (0x4093614c0445961c, "1240.3242350457067"),
        (0x45812f91002c77b0, "6.648436783536241e+26"),
        (0x44c8e75d7f30ed50, "2.3520946125452354e+23"),
        (0xc138b72491d1ffb4, "-1619748.569610578"),
        (0x4674210c13927ba0, "2.551665368234116e+31"),
        (0xc42693004857f3c3, "-2.0821045774388727e+20"),
        (0x44e2905271efab65, "7.013189490493654e+23"),
        (0x445a6de4b9d52368, "1.9501360171453828e+21"),
        (0x3eb153cfb6d53fe1, "1.0327928195615e-06"),
        (0x3f5fa097b780c5b8, "0.0019303781136951036"),
        (0x408f66a51d1d85be, "1004.8306219393196"),
        (0x4511773cefa06166, "5.278706154115667e+24"),
        (0xc1e4a05b259ca79a, "-2768427308.895459"),
        (0x3fa0c082d56f547d, "0.03271874289900099"),
        (0xc1cd9fafa397dd40, "-994008903.1864395"),
        (0xbf7f21909db266b6, "-0.007600369364036011"),
        (0x4567cc0142922032, "2.3014943885854324e+26"),
        (0x40369e355f78d296, "22.61800190639277"),
        (0x3f040ba85aeceb4a, "3.82338288233615e-05"),
        (0xc0b55be0f48ac8f6, "-5467.878731416762"),
        (0xc1668ece23f074db, "-11826801.123102596"),
        (0x43c068da6c5bdf48, "2.364870122234876e+18"),
        (0x3f45d6bd2656bc99, "0.0006664680083100671"),
        (0x45f060e29c1422d4, "8.110219471668295e+28"),
        (0xc6de487d32703d59, "-2.45686184965253e+33"),
        (0x41b294fe476826bd, "311754311.4068411"),
        (0x42d7cf705ee0e89c, "104718843741090.44"),
        (0x42c9df1121f69140, "56891711679778.5"),
        (0x44d4357f9ad320d2, "3.817368079481066e+23"),
        (0x46accff5a687eb50, "2.92191861846826e+32"),
        (0xc538f8db23570e6b, "-3.018940894197488e+25"),
        (0xc0ef2098c17e5c6a, "-63748.77361982393"),
        (0xc0561a660a81250c, "-88.41247809039868"),
        (0x453d2c7833af4cce, "3.526885022763922e+25"),
        (0x3ec765113b346f0d, "2.788876793181455e-06"),
        (0x42e83b5330a94c10, "213144622680672.5"),
        (0x3fb5c9f527a5afcc, "0.08511287897061875"),
        (0x3feaf794cfd2490a, "0.842722326184487"),
        (0x63b2082f5ee591aa, "1.74213088936238e+172"),
        (0xb0ed1a4e4b998d73, "-5.1473677624330293e-73"),
        (0x88bffdc3782d591a, "-1.550226827997302e-266"),
        (0xfeb0f1f5aa9ee44e, "-1.8156879243060693e+302"),
        (0x478eeea0279cbaa6, "5.139481856227374e+36"),
        (0x8ada3f20487ff511, "-2.1850256009312552e-256"),
        (0x218b6106a94d844a, "4.2824256927654095e-147"),
        (0xf9e36d5b2a75c5fd, "-1.377512633301983e+279"),
        (0xf3c6ce4d283d614a, "-5.102616964903328e+249"),
        (0x23319147b3f0f6dc, "3.6880090895822955e-139"),
        (0xb1e2bba896c87a7f, "-2.171397240369224e-68"),
        (0x0a2569435de2bf73, "8.703510108751492e-260"),
        (0x289dbfd38aff6625, "4.83213107330481e-113"),
        (0x319dec95698da845, "1.0839341721445415e-69"),
        (0x5ada3d41a52200a3, "4.547054033189564e+129"),
        (0x47065c516c39ad89, "1.4512870443321893e+34"),
        (0xcb576ad2946ad1fd, "-8.971717644327887e+54"),
        (0x924a1d515ef886b0, "-1.4448916536916148e-220"),
        (0x4b9fe18d171de379, "1.9543032374029493e+56"),
        (0x828494ab52fe3a69, "-1.5734583408218564e-296"),
        (0x2b6271252cb578ec, "1.0539471584745708e-99"),
        (0xf777e9b053be1b58, "-3.0842349077529803e+267"),
        (0x31550848a556096f, "4.761557218366037e-71"),
        (0x71bb353b5b9589eb, "7.086832673990329e+239"),
        (0xdc0ab9d39d3113c4, "-2.42817604022157e+135"),
        (0x89d7345470a731b0, "-2.9476394981126834e-261"),
        (0xb5329f23de1d3251, "-1.9441900403703205e-52"),
        (0x33e34fa78f3dfd08, "9.613886770389045e-59"),
        (0x8821382093772b86, "-1.6297014313079588e-269"),
        (0xfd4775572e99dcf2, "-2.9964251879509584e+295"),
        (0x3daff726da6fe222, "1.4536197615528547e-11"),
        (0xbcda87f33642c5e0, "-1.4727693992100274e-15"),
        (0xb19776178ca6e212, "-8.498318996671084e-70"),
        (0xf782ac84780ea999, "-4.817049462306936e+267"),
        (0x9c25e83004b12c2c, "-4.4286878141680875e-173"),
        (0x0554ae6595f5158a, "5.563147926010142e-283"),
        (0xd63a7e986ced6419, "-2.4306051860108226e+107"),
        (0xe40a01eaa5e4861c, "-8.040552656856746e+173"),
        (0x00e5605caae5a579, "2.4352819183909298e-304"),
        (0xde6caa331f5f1c38, "-7.158754458567865e+146"),
        (0x4360ee7e42620336, "3.812660539504069e+16"),
        (0xf270e43abe897c58, "-1.8021265322588926e+243"),
        (0xd9e47ba4a8a9ced1, "-1.0832317608248541e+125"),
        (0x23855f153682ba03, "1.4357053456241578e-137"),
        (0xe989cb6d7220e06c, "-2.468064947826156e+200"),
        (0x5166c8d93deeaebc, "1.3832145423261041e+84"),
        (0xc1734b5c72c79d94, "-20231623.173734263"),
        (0x129e772a46d5eead, "5.3940046484776446e-219"),
        (0x94c17fed9bda39fe, "-1.0645942051732228e-208"),
        (0x1d70012b5e1544fb, "6.785258011242773e-167"),
        (0x5610e6d2aa076e83, "3.876391542458744e+106"),
        (0xf48323412dcf015a, "-1.7538660238930255e+253"),
        (0xb436bd9f345718aa, "-3.6228041978326e-57"),
        (0xab4d8aa452ab25e7, "-4.2207052348454374e-100"),
        (0x9b5741ee8b1b345b, "-5.739399417844625e-177"),
        (0x2b0995e66b44bd53, "2.2846842038176247e-101"),
        (0xd612c7c67526bc38, "-4.307275712784634e+106"),
        (0x5558ebb1b8e0e049, "1.395399082249216e+103"),
        (0x97490d48f096ef39, "-1.6756889638822371e-196"),
        (0xed1ee62c975b40ce, "-4.260719740464651e+217"),
        (0xe5b7ecff1be1777f, "-9.928034537368522e+181"),
        (0x2dc41bb1426e8dc7, "3.158812902498743e-88"),
        (0xbf83c038e9f47394, "-0.00964397872899684"),
        (0xf4a8272cbdf954a0, "-8.853967412860285e+253"),
        (0xf069e5ad48e1e572, "-3.216466663446753e+233"),
        (0x2ab9c67a533a446a, "7.192589725636284e-103"),
        (0xb71c3567a99e2045, "-3.162294887923032e-43"),
        (0x9491ad98f2afd428, "-1.3443086172732627e-209"),
        (0x3f2048605c0db593, "0.0001242272974439183"),
        (0x0671c39884498be7, "1.2526389015323012e-277"),
        (0xad5f13196e68f0ba, "-3.8137037295467347e-90"),
        (0xf299cb58dcfc7925, "-1.100780347867319e+244"),
        (0x87fb5b41f23fdf29, "-3.23641375669703e-270"),
        (0x988d68cc87d82085, "-2.0627114900792063e-190"),
        (0xd2828fe80746ff51, "-2.954041813237879e+89"),
        (0x759b547b3f0c6776, "3.2828876302561533e+258"),
        (0xc515114925ca28b7, "-6.367267944366767e+24"),
        (0x5e87abbc3f7a96b4, "2.364621253026858e+147"),
        (0x3a78e1be11694450, "5.024840797635398e-27"),
        (0x3fc082f6f4d0a249, "0.1289967246423365"),
        (0x0045e7d404153d50, "2.437076543469447e-307"),
        (0x1a318cb66f1c4a97, "1.652080905495152e-182"),
        (0xedf6c8b0827feaea, "-5.147373918796537e+221"),
        (0xbf26d61c0c2b6ce2, "-0.00017422764184158503"),
        (0x4616745a2ef814fd, "4.44757215395505e+29"),
        (0x2ff91d0785abcfe4, "1.3555220068550158e-77"),
        (0x82663dffd4576277, "-4.251201937629969e-297"),
        (0x31fa4bd664a67356, "6.096135976902567e-68"),
        (0xae607d710adab609, "-2.652601758031775e-85"),
        (0xf732c1a09de6b925, "-1.511975229339393e+266"),
        (0x6207b17570754218, "1.7054985017572832e+164"),
        (0xf201614b350f8661, "-1.4486306216032672e+241"),
        (0x51f3de4e5035144b, "6.175630168972691e+86"),
        (0x06b3e6ed670b4bab, "2.2454429209277013e-276"),
        (0x1486a315ee91f9b1, "8.607022262599665e-210"),
        (0x9bc37b2ca1923bca, "-6.153569542971452e-175"),
        (0x8c5cf4211ae3938c, "-4.043957858885596e-249"),
        (0xdbb65e36714772c1, "-6.350758528445592e+133"),
        (0x7aa60cea055c40a3, "6.404176925253696e+282"),
        (0x1adf8edd7f102330, "3.04209652833671e-179"),
        (0x02271d322ae835c6, "2.7611518598755006e-298"),
        (0x6c4a670d7d8e27f6, "4.44419196904059e+213"),
        (0xe8b5b6692886b56f, "-2.535991908760454e+196"),
        (0xa310f84c28dd3978, "-8.90638805224274e-140"),
        (0xbf1ecb4025166605, "-0.0001174695874141194"),
        (0x9cae8b602d65207b, "-1.5807550640966073e-170"),
        (0x04b111ac2556b940, "4.483870339768134e-286"),
        (0xc82e8033d6bc0661, "-5.189440676780466e+39"),
        (0xb1eadb2841ea7c2b, "-3.112960886248539e-68"),
        (0x75839bbb72a702bf, "1.1776788782587174e+258"),
        (0x14f2b6c911f1db62, "9.107721777026706e-208"),
        (0xd2186940fb8ab585, "-3.035057757784884e+87"),
        (0x685d0c61ab41c22c, "5.301257670679375e+194"),
        (0xb8a8a35acf632609, "-9.267824812745158e-36"),
        (0xd64d23c989f981b9, "-5.346566175001439e+107"),
        (0x88d11b4fd934cab5, "-3.315810897106761e-266"),
        (0x46238c8cb68a2940, "7.744165503900399e+29"),
        (0x03bc0a90aee28240, "1.1239885297680353e-290"),
        (0xded643e1bb1c1096, "-7.117439050144748e+148"),
        (0x17c7746b2c1b442d, "4.016278355216708e-194"),
        (0x438599d192cd2606, "1.9456319683380858e+17"),
        (0x89db21d71d0c2aad, "-3.4465818759772914e-261"),
        (0x53285d744f7a7535, "3.970599652102152e+92"),
        (0x61f1e68d38d1fc5f, "6.442657757673753e+163"),
        (0xd4bd8d2d59f05cc5, "-1.615912032455375e+100"),
        (0x101f517027a3455f, "5.043116365645643e-231"),
        (0x6b783fb3cd2f164b, "4.982507018325983e+209"),
        (0x200e0293a889ec8f, "2.7978161814828014e-154"),
        (0xee46a3f25566a05b, "-1.6367834146421813e+223"),
        (0xfa91cc284792f8f1, "-2.5844890615229967e+282"),
        (0x7e303d73611f29e5, "6.797400222417272e+299"),
        (0x3f648a7e0d0898c5, "0.002507444565952618"),
        (0xe83d51e472e6d14a, "-1.3377026663309821e+194"),
        (0x24b02104ff785a23, "5.680791880160576e-132"),
        (0xfbb5afe0268acd48, "-8.255732873280474e+287"),
        (0x31890074ed3773a5, "4.5281626747933885e-70"),
        (0xb24da4c6822b8a3d, "-2.1990884748370044e-66"),
        (0x38a7900f14454669, "8.863313955460392e-36"),
        (0x53972d9c3a118388, "4.834791028525514e+94"),
        (0xd3bcce362825bc27, "-2.4034454759450414e+95"),
        (0x8bfc441fb7e9370b, "-6.168643243312129e-251"),
        (0xa6b84aff97b69313, "-3.674872277226096e-122"),
        (0xc0413ff699bd1829, "-34.49971315129398"),
        (0x7ab454cc9aad3e33, "1.1809729717932587e+283"),
        (0x755e3b305df9b536, "2.2696129360522352e+257"),
        (0x1700101f30478ab8, "6.715198660054354e-198"),
        (0x2e0254e7549ba918, "4.6075805133407085e-87"),
        (0x88a1c65299d6a183, "-4.3066153364355095e-267"),
        (0xfdfc437edd823c34, "-7.393737581049082e+298"),
        (0x2b0ed0c5d13040bf, "2.7516991440808132e-101"),
    ];

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
