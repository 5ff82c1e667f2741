//! The serde bridge between Rust types and Tierkreis [`Value`]s, so that task
//! inputs and outputs can be plain `Serialize`/`Deserialize` types while the
//! files keep the reference's encoding.
//!
//! Mapping: integers of any Rust width and [`crate::BigInt`] are
//! [`Value::Int`]; floats are [`Value::Float`] (an `f64` also accepts an
//! integer value, like Python's `float` parameters); strings and chars are
//! [`Value::Str`]; byte strings (`serialize_bytes`, e.g. [`crate::Bytes`] or
//! `#[serde(with = "serde_bytes")]`) are [`Value::Bytes`]; sequences and
//! tuples are [`Value::List`]; maps and structs are [`Value::Map`]; `None`
//! and `()` are [`Value::Null`]; unit enum variants are strings and other
//! variants single-entry maps `{variant: content}` (serde's external
//! tagging).

use std::fmt::Display;

use indexmap::IndexMap;
use num_bigint::BigInt;
use num_traits::ToPrimitive;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::ser::{self, Serialize};
use tierkreis_core::Value;

/// The newtype-struct name by which [`crate::BigInt`] tells this bridge that
/// it carries an integer of any size as its decimal text.
pub(crate) const BIGINT_TOKEN: &str = "$tierkreis_worker::BigInt";

/// Why a value could not be converted to or from a Rust type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// A message from a type's own serde implementation (e.g. "invalid type:
    /// string \"a\", expected i64").
    #[error("{message}")]
    Serde { message: String },
    /// A struct field (an input port at the top level) has no value.
    #[error("missing field `{field}`")]
    MissingField { field: &'static str },
    /// An integer too large for any Rust integer type (use
    /// [`crate::BigInt`] for those).
    #[error("integer {value} does not fit in a 128-bit integer")]
    IntTooLarge { value: BigInt },
    /// A map key that is neither a string nor a number.
    #[error("map keys must be strings or numbers, not {found}")]
    BadMapKey { found: &'static str },
    /// The error happened inside a list or map; `path` says where, e.g.
    /// `values[2]` or `config.name`.
    #[error("at `{path}`: {source}")]
    At {
        path: String,
        #[source]
        source: Box<ValueError>,
    },
}

impl ValueError {
    fn at_key(self, key: &str) -> ValueError {
        self.prefixed(key.to_string())
    }

    fn at_index(self, index: usize) -> ValueError {
        self.prefixed(format!("[{index}]"))
    }

    fn prefixed(self, segment: String) -> ValueError {
        match self {
            ValueError::At { path, source } => {
                let path = if path.starts_with('[') {
                    format!("{segment}{path}")
                } else {
                    format!("{segment}.{path}")
                };
                ValueError::At { path, source }
            }
            other => ValueError::At {
                path: segment,
                source: Box::new(other),
            },
        }
    }

    /// The innermost error, without the location.
    pub fn root_cause(&self) -> &ValueError {
        match self {
            ValueError::At { source, .. } => source.root_cause(),
            other => other,
        }
    }
}

impl de::Error for ValueError {
    fn custom<T: Display>(msg: T) -> Self {
        ValueError::Serde {
            message: msg.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        ValueError::MissingField { field }
    }
}

impl ser::Error for ValueError {
    fn custom<T: Display>(msg: T) -> Self {
        ValueError::Serde {
            message: msg.to_string(),
        }
    }
}

/// Convert a value to a Rust type.
///
/// ```
/// use tierkreis_core::Value;
/// let v = Value::from(vec![Value::int(1), Value::int(2)]);
/// let xs: Vec<u8> = tierkreis_worker::from_value(&v).unwrap();
/// assert_eq!(xs, [1, 2]);
/// ```
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, ValueError> {
    T::deserialize(ValueDeserializer::new(value))
}

/// Convert a Rust value to a Tierkreis value.
///
/// ```
/// use tierkreis_core::Value;
/// let v = tierkreis_worker::to_value(&Some("hi")).unwrap();
/// assert_eq!(v, Value::from("hi"));
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

// ---------------------------------------------------------------- Deserializer

/// A serde [`de::Deserializer`] reading a borrowed [`Value`].
#[derive(Debug, Clone, Copy)]
pub struct ValueDeserializer<'de> {
    value: &'de Value,
}

impl<'de> ValueDeserializer<'de> {
    /// A deserializer of `value`.
    pub fn new(value: &'de Value) -> Self {
        Self { value }
    }
}

fn visit_int<'de, V: Visitor<'de>>(i: &BigInt, visitor: V) -> Result<V::Value, ValueError> {
    if let Some(n) = i.to_i64() {
        visitor.visit_i64(n)
    } else if let Some(n) = i.to_u64() {
        visitor.visit_u64(n)
    } else if let Some(n) = i.to_i128() {
        visitor.visit_i128(n)
    } else if let Some(n) = i.to_u128() {
        visitor.visit_u128(n)
    } else {
        Err(ValueError::IntTooLarge { value: i.clone() })
    }
}

struct ListAccess<'de> {
    items: std::slice::Iter<'de, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for ListAccess<'de> {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer::new(item))
            .map(Some)
            .map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct EntriesAccess<'de> {
    entries: indexmap::map::Iter<'de, String, Value>,
    pending: Option<(&'de str, &'de Value)>,
}

impl<'de> MapAccess<'de> for EntriesAccess<'de> {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((k, v));
        seed.deserialize(KeyDeserializer { key: k }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let Some((k, v)) = self.pending.take() else {
            return Err(de::Error::custom("map value requested before its key"));
        };
        seed.deserialize(ValueDeserializer::new(v))
            .map_err(|e| e.at_key(k))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Reads a map key: the text itself, or the number or boolean it spells
/// for maps with such keys (which [`ValueSerializer`] writes as text).
struct KeyDeserializer<'de> {
    key: &'de str,
}

macro_rules! parse_key {
    ($($method:ident $visit:ident $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.key.parse::<$t>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => Err(de::Error::invalid_value(de::Unexpected::Str(self.key), &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'de> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_borrowed_str(self.key)
    }

    parse_key! {
        deserialize_bool visit_bool bool,
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64,
        deserialize_u128 visit_u128 u128,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_enum(self.key.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct VariantRef<'de> {
    name: &'de str,
    content: &'de Value,
}

impl<'de> EnumAccess<'de> for VariantRef<'de> {
    type Error = ValueError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), ValueError> {
        let v = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.name))?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for VariantRef<'de> {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.content {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        seed.deserialize(ValueDeserializer::new(self.content))
            .map_err(|e| e.at_key(self.name))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_seq(ValueDeserializer::new(self.content), visitor)
            .map_err(|e| e.at_key(self.name))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_map(ValueDeserializer::new(self.content), visitor)
            .map_err(|e| e.at_key(self.name))
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => match i.to_i64() {
            Some(n) => de::Unexpected::Signed(n),
            None => de::Unexpected::Other("big integer"),
        },
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Str(s) => de::Unexpected::Str(s),
        Value::Bytes(b) => de::Unexpected::Bytes(b),
        Value::List(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visit_int(i, visitor),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::List(items) => {
                let mut access = ListAccess {
                    items: items.iter(),
                    index: 0,
                };
                let out = visitor.visit_seq(&mut access)?;
                let rest = access.items.len();
                if rest == 0 {
                    Ok(out)
                } else {
                    Err(de::Error::invalid_length(
                        items.len(),
                        &format!("{} elements", items.len() - rest).as_str(),
                    ))
                }
            }
            Value::Map(m) => visitor.visit_map(EntriesAccess {
                entries: m.iter(),
                pending: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.value {
            Value::Int(_) => match self.value.as_f64() {
                Some(f) => visitor.visit_f64(f),
                None => Err(de::Error::invalid_value(
                    de::Unexpected::Other("integer too large for a float"),
                    &visitor,
                )),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.value {
            // A task without inputs gets an empty map of ports.
            Value::Map(m) if m.is_empty() => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.value {
            // Bytes read as a plain `Vec<u8>`.
            Value::Bytes(b) => {
                let mut seq = de::value::SeqDeserializer::new(b.iter().copied());
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match (name, self.value) {
            (BIGINT_TOKEN, Value::Int(i)) => visitor.visit_string(i.to_string()),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(m) if m.len() == 1 => {
                let Some((name, content)) = m.iter().next() else {
                    return Err(de::Error::invalid_length(0, &"one variant"));
                };
                visitor.visit_enum(VariantRef { name, content })
            }
            other => Err(de::Error::invalid_type(
                unexpected(other),
                &"a variant name or a map with one entry",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string
        bytes byte_buf unit_struct tuple tuple_struct map struct identifier
    }
}

// ------------------------------------------------------------------ Serializer

/// A serde [`ser::Serializer`] producing a [`Value`].
#[derive(Debug, Clone, Copy)]
pub struct ValueSerializer;

fn int(i: impl Into<BigInt>) -> Result<Value, ValueError> {
    Ok(Value::Int(i.into()))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = ListBuilder;
    type SerializeTuple = ListBuilder;
    type SerializeTupleStruct = ListBuilder;
    type SerializeTupleVariant = VariantBuilder<ListBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = VariantBuilder<MapBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let inner = value.serialize(self)?;
        if name != BIGINT_TOKEN {
            return Ok(inner);
        }
        match &inner {
            Value::Str(s) => s.parse::<BigInt>().map(Value::Int).map_err(|e| {
                de::Error::custom(format!("big integer text {s:?} does not parse: {e}"))
            }),
            _ => Ok(inner),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let inner = value.serialize(self).map_err(|e| e.at_key(variant))?;
        Ok(Value::Map(IndexMap::from([(variant.to_string(), inner)])))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<ListBuilder, ValueError> {
        Ok(ListBuilder {
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<ListBuilder, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListBuilder, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<ListBuilder>, ValueError> {
        Ok(VariantBuilder {
            variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder {
            entries: IndexMap::new(),
            key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapBuilder, ValueError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<MapBuilder>, ValueError> {
        Ok(VariantBuilder {
            variant,
            inner: self.serialize_map(Some(len))?,
        })
    }
}

/// Builds a [`Value::List`].
#[derive(Debug)]
pub struct ListBuilder {
    items: Vec<Value>,
}

impl ListBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let index = self.items.len();
        let v = to_value(value).map_err(|e| e.at_index(index))?;
        self.items.push(v);
        Ok(())
    }
}

impl ser::SerializeSeq for ListBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::List(self.items))
    }
}

impl ser::SerializeTuple for ListBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::List(self.items))
    }
}

impl ser::SerializeTupleStruct for ListBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::List(self.items))
    }
}

/// Builds a [`Value::Map`].
#[derive(Debug)]
pub struct MapBuilder {
    entries: IndexMap<String, Value>,
    key: Option<String>,
}

impl MapBuilder {
    fn insert<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), ValueError> {
        let v = to_value(value).map_err(|e| e.at_key(&key))?;
        self.entries.insert(key, v);
        Ok(())
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        let key = match to_value(key)? {
            Value::Str(s) => s,
            // Like Python's json.dumps, numbers and booleans become their text.
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(ValueError::BadMapKey {
                    found: other.type_name(),
                })
            }
        };
        self.key = Some(key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let Some(key) = self.key.take() else {
            return Err(ser::Error::custom("map value serialized before its key"));
        };
        self.insert(key, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.entries))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.insert(key.to_string(), value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.entries))
    }
}

/// Builds the single-entry map `{variant: content}` of an enum variant.
#[derive(Debug)]
pub struct VariantBuilder<B> {
    variant: &'static str,
    inner: B,
}

impl<B> VariantBuilder<B> {
    fn wrap(variant: &'static str, content: Value) -> Value {
        Value::Map(IndexMap::from([(variant.to_string(), content)]))
    }
}

impl ser::SerializeTupleVariant for VariantBuilder<ListBuilder> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let variant = self.variant;
        self.inner.push(value).map_err(|e| e.at_key(variant))
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Self::wrap(self.variant, Value::List(self.inner.items)))
    }
}

impl ser::SerializeStructVariant for VariantBuilder<MapBuilder> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        let variant = self.variant;
        self.inner
            .insert(key.to_string(), value)
            .map_err(|e| e.at_key(variant))
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Self::wrap(self.variant, Value::Map(self.inner.entries)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{BigInt as TkrBigInt, Bytes};
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        name: String,
        weights: Vec<f64>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Point,
        Circle(f64),
        Rect { w: i64, h: i64 },
        Pair(i64, i64),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        b: bool,
        i: i32,
        u: u64,
        big: i128,
        f: f64,
        s: String,
        c: char,
        opt_none: Option<i64>,
        opt_some: Option<String>,
        #[serde(with = "serde_bytes")]
        raw: Vec<u8>,
        plain_bytes: Vec<u8>,
        tkr_bytes: Bytes,
        huge: TkrBigInt,
        inner: Inner,
        list: Vec<Inner>,
        map: BTreeMap<String, i64>,
        int_keys: BTreeMap<u32, bool>,
        tuple: (i64, String),
        shapes: Vec<Shape>,
        unit: (),
    }

    fn everything() -> Everything {
        Everything {
            b: true,
            i: -3,
            u: u64::MAX,
            big: -(1i128 << 100),
            f: 0.5,
            s: "héllo".into(),
            c: 'x',
            opt_none: None,
            opt_some: Some("y".into()),
            raw: vec![0, 255],
            plain_bytes: vec![1, 2],
            tkr_bytes: Bytes(b"abc".to_vec()),
            huge: TkrBigInt(num_bigint::BigInt::from(10).pow(40)),
            inner: Inner {
                name: "n".into(),
                weights: vec![1.0, 2.5],
            },
            list: vec![],
            map: BTreeMap::from([("k".into(), 1)]),
            int_keys: BTreeMap::from([(7, true)]),
            tuple: (1, "t".into()),
            shapes: vec![
                Shape::Point,
                Shape::Circle(1.5),
                Shape::Rect { w: 2, h: 3 },
                Shape::Pair(4, 5),
            ],
            unit: (),
        }
    }

    #[test]
    fn round_trips_through_value_and_bytes() {
        let e = everything();
        let v = to_value(&e).unwrap();
        // Through the file encoding too.
        let v2 = Value::from_bytes(&v.to_bytes());
        assert_eq!(v2, v);
        let back: Everything = from_value(&v2).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn encodings_match_the_reference() {
        let v = to_value(&everything()).unwrap();
        let m = v.as_map().unwrap();
        assert_eq!(m["raw"], Value::Bytes(vec![0, 255]));
        assert_eq!(m["tkr_bytes"], Value::Bytes(b"abc".to_vec()));
        assert_eq!(
            m["plain_bytes"],
            Value::from(vec![Value::int(1), Value::int(2)])
        );
        assert_eq!(m["huge"], Value::Int(num_bigint::BigInt::from(10).pow(40)));
        assert_eq!(m["u"], Value::Int(num_bigint::BigInt::from(u64::MAX)));
        assert_eq!(m["opt_none"], Value::Null);
        assert_eq!(m["unit"], Value::Null);
        assert_eq!(m["c"], Value::from("x"));
        assert_eq!(
            m["tuple"],
            Value::from(vec![Value::int(1), Value::from("t")])
        );
        assert_eq!(m["int_keys"].python_repr(), "{'7': True}");
        assert_eq!(
            m["shapes"].python_repr(),
            "['Point', {'Circle': 1.5}, {'Rect': {'w': 2, 'h': 3}}, {'Pair': [4, 5]}]"
        );
        // Struct fields keep their declaration order, like a Python dict.
        let keys: Vec<_> = m.keys().take(3).cloned().collect();
        assert_eq!(keys, ["b", "i", "u"]);
        // Nested bytes are written as the reference's __tkr_bytes__ objects.
        let text = String::from_utf8(v.to_bytes()).unwrap();
        assert!(text.contains("\"__tkr_bytes__\": true"), "{text}");
        // Top-level bytes are raw.
        assert_eq!(
            to_value(&Bytes(b"\xff".to_vec())).unwrap().to_bytes(),
            b"\xff"
        );
    }

    #[test]
    fn floats_accept_integers() {
        let f: f64 = from_value(&Value::int(3)).unwrap();
        assert_eq!(f, 3.0);
        let xs: Vec<f32> = from_value(&Value::from(vec![Value::int(1), Value::from(0.5)])).unwrap();
        assert_eq!(xs, [1.0, 0.5]);
        // But integers do not accept floats.
        assert!(from_value::<i64>(&Value::from(1.0)).is_err());
    }

    #[test]
    fn big_integers() {
        let n = num_bigint::BigInt::from(3).pow(100);
        let big: TkrBigInt = from_value(&Value::Int(n.clone())).unwrap();
        assert_eq!(big.0, n);
        let small: TkrBigInt = from_value(&Value::int(-5)).unwrap();
        assert_eq!(small.0, num_bigint::BigInt::from(-5));
        let err = from_value::<i64>(&Value::Int(n.clone())).unwrap_err();
        assert!(matches!(err, ValueError::IntTooLarge { .. }), "{err}");
        let err = from_value::<i64>(&Value::Int(num_bigint::BigInt::from(u64::MAX))).unwrap_err();
        assert!(err.to_string().contains("expected i64"), "{err}");
        assert_eq!(
            from_value::<u64>(&Value::Int(num_bigint::BigInt::from(u64::MAX))).unwrap(),
            u64::MAX
        );
    }

    #[test]
    fn errors_say_where() {
        let v = Value::Map(IndexMap::from([
            ("name".to_string(), Value::from("n")),
            (
                "weights".to_string(),
                Value::from(vec![Value::from(1.0), Value::from("x")]),
            ),
        ]));
        let err = from_value::<Inner>(&v).unwrap_err();
        assert_eq!(
            err.to_string(),
            "at `weights[1]`: invalid type: string \"x\", expected f64"
        );
        let nested = Value::from(vec![v]);
        let err = from_value::<Vec<Inner>>(&nested).unwrap_err();
        assert!(err.to_string().starts_with("at `[0].weights[1]`"), "{err}");

        let missing = Value::Map(IndexMap::from([("name".to_string(), Value::from("n"))]));
        let err = from_value::<Inner>(&missing).unwrap_err();
        assert_eq!(err, ValueError::MissingField { field: "weights" });

        let err = from_value::<(i64, i64)>(&Value::from(vec![Value::int(1); 3])).unwrap_err();
        assert!(err.to_string().contains("invalid length 3"), "{err}");
    }

    #[test]
    fn bad_map_keys_are_rejected() {
        let m = BTreeMap::from([((1, 2), 3)]);
        let err = to_value(&m).unwrap_err();
        assert_eq!(err, ValueError::BadMapKey { found: "list" });
    }

    #[test]
    fn unit_reads_null_or_no_ports() {
        from_value::<()>(&Value::Null).unwrap();
        from_value::<()>(&Value::Map(IndexMap::new())).unwrap();
        assert!(from_value::<()>(&Value::int(1)).is_err());
    }

    #[test]
    fn bytes_read_as_plain_vec_and_strings_as_enum() {
        let v: Vec<u8> = from_value(&Value::Bytes(vec![9, 8])).unwrap();
        assert_eq!(v, [9, 8]);
        let s: Shape = from_value(&Value::from("Point")).unwrap();
        assert_eq!(s, Shape::Point);
        assert!(from_value::<Shape>(&Value::from("Nope")).is_err());
        assert!(from_value::<Shape>(&Value::int(1)).is_err());
    }
}
