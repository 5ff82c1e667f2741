//! Newtypes for the two Python types serde and JSON Schema have no direct
//! word for: `bytes` ([`Bytes`]) and unbounded `int` ([`BigInt`]). Use them
//! as input or output types so that values keep the reference's encoding and
//! stubs say `bytes` and `int`.

use std::borrow::Cow;
use std::fmt;

use num_traits::ToPrimitive;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::bridge::BIGINT_TOKEN;

/// The JSON Schema keyword by which [`Bytes`] marks itself, so stubs say
/// `bytes` and top-level inputs are read raw.
pub(crate) const TKR_TYPE_KEYWORD: &str = "x-tierkreis-type";

/// A Python `bytes` value: written raw as a whole output, as a
/// `__tkr_bytes__` object when nested.
///
/// ```
/// use tierkreis_worker::{to_value, Bytes};
/// assert_eq!(to_value(&Bytes(b"hi".to_vec())).unwrap().to_bytes(), b"hi");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Self {
        Bytes(b)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("bytes")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(Bytes(out))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

impl JsonSchema for Bytes {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Bytes".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "contentEncoding": "base64",
            TKR_TYPE_KEYWORD: "bytes",
        })
    }
}

/// A Python `int` of any size.
///
/// ```
/// use tierkreis_worker::{from_value, BigInt};
/// use tierkreis_core::Value;
/// let big = num_bigint::BigInt::from(2).pow(100);
/// let n: BigInt = from_value(&Value::Int(big.clone())).unwrap();
/// assert_eq!(n.0, big);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BigInt(pub num_bigint::BigInt);

impl From<num_bigint::BigInt> for BigInt {
    fn from(i: num_bigint::BigInt) -> Self {
        BigInt(i)
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for BigInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.to_i64() {
            Some(n) => s.serialize_i64(n),
            // Other serializers (e.g. serde_json) see the decimal text.
            None => s.serialize_newtype_struct(BIGINT_TOKEN, &self.0.to_string()),
        }
    }
}

struct BigIntVisitor;

impl<'de> Visitor<'de> for BigIntVisitor {
    type Value = BigInt;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<BigInt, E> {
        Ok(BigInt(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<BigInt, E> {
        Ok(BigInt(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<BigInt, E> {
        Ok(BigInt(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<BigInt, E> {
        Ok(BigInt(v.into()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<BigInt, E> {
        v.parse()
            .map(BigInt)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<BigInt, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BigInt, D::Error> {
        d.deserialize_newtype_struct(BIGINT_TOKEN, BigIntVisitor)
    }
}

impl JsonSchema for BigInt {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "BigInt".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer" })
    }
}
