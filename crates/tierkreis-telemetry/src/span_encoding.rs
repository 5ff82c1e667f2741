//! Each span of the export written straight into OTLP protobuf bytes when
//! it ends: the `opentelemetry.proto.trace.v1.Span` message (field numbers
//! and wire types of the `opentelemetry-proto` crate's `Span`, `KeyValue`,
//! `AnyValue` and `Status`), in one pass and one buffer. It exists because
//! building `opentelemetry-proto`'s message structs (a `String` per
//! attribute key and value) and letting `prost` encode them (which measures
//! every nested message again at each level) cost the 2,001 spans of a
//! 1,000-task run more CPU than the run may spend on its export; the
//! request around the spans (resource and scope) is still encoded from the
//! crate's messages by `prost`. Tests decode the bytes with `prost`.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::encoding::{encoded_len_varint, WireType};
use prost::Message as _;

/// One span's encoded `Span` message (without its own tag and length).
#[derive(Debug, Clone, Default)]
pub(crate) struct EncodedSpan(Vec<u8>);

impl EncodedSpan {
    /// The message's bytes.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// `SPAN_KIND_INTERNAL`.
const SPAN_KIND_INTERNAL: u64 = 1;

/// Sampled (trace flags 01), and "the parent's remoteness is known" (bit
/// 8: `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`) with a local parent: what
/// the SDK's tracer set for the same spans.
const SPAN_FLAGS: u32 = 0x101;

/// A varint (the same bytes as `prost::encoding::encode_varint`, without
/// its generic buffer: most values here are below 128, one byte).
fn encode_varint(mut value: u64, buf: &mut Vec<u8>) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// A field's key (tag and wire type).
fn encode_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    encode_varint(u64::from((tag << 3) | wire_type as u32), buf);
}

/// A length-delimited field's key and length, without its body.
fn put_length_prefix(buf: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

/// The length of a length-delimited field with a one-byte key.
fn field_len(body: usize) -> usize {
    1 + encoded_len_varint(body as u64) + body
}

/// Writes one span: its ids, name, kind and times first, then its
/// attributes, then [`SpanWriter::finish`].
#[derive(Debug)]
pub(crate) struct SpanWriter {
    buf: Vec<u8>,
}

impl SpanWriter {
    pub(crate) fn new(
        trace_id: &[u8; 16],
        span_id: &[u8; 8],
        parent_span_id: Option<&[u8; 8]>,
        name: &str,
        (start_ns, end_ns): (u64, u64),
    ) -> SpanWriter {
        let mut buf = Vec::with_capacity(320);
        put_bytes(&mut buf, 1, trace_id);
        put_bytes(&mut buf, 2, span_id);
        if let Some(parent) = parent_span_id {
            put_bytes(&mut buf, 4, parent);
        }
        put_bytes(&mut buf, 5, name.as_bytes());
        encode_key(6, WireType::Varint, &mut buf);
        encode_varint(SPAN_KIND_INTERNAL, &mut buf);
        encode_key(7, WireType::SixtyFourBit, &mut buf);
        buf.extend_from_slice(&start_ns.to_le_bytes());
        encode_key(8, WireType::SixtyFourBit, &mut buf);
        buf.extend_from_slice(&end_ns.to_le_bytes());
        SpanWriter { buf }
    }

    /// An attribute (`KeyValue`, field 9) whose `AnyValue` body is
    /// `value_len` bytes written by `value`.
    fn attribute(&mut self, key: &str, value_len: usize, value: impl FnOnce(&mut Vec<u8>)) {
        let key_value_len = field_len(key.len()) + field_len(value_len);
        encode_key(9, WireType::LengthDelimited, &mut self.buf);
        encode_varint(key_value_len as u64, &mut self.buf);
        put_bytes(&mut self.buf, 1, key.as_bytes());
        encode_key(2, WireType::LengthDelimited, &mut self.buf);
        encode_varint(value_len as u64, &mut self.buf);
        value(&mut self.buf);
    }

    /// A string attribute (`AnyValue.string_value`).
    pub(crate) fn text(&mut self, key: &str, value: &str) {
        self.attribute(key, field_len(value.len()), |buf| {
            put_bytes(buf, 1, value.as_bytes())
        });
    }

    /// An integer attribute (`AnyValue.int_value`).
    pub(crate) fn integer(&mut self, key: &str, value: i64) {
        let len = 1 + encoded_len_varint(value as u64);
        self.attribute(key, len, |buf| {
            encode_key(3, WireType::Varint, buf);
            encode_varint(value as u64, buf);
        });
    }

    /// A floating-point attribute (`AnyValue.double_value`).
    pub(crate) fn float(&mut self, key: &str, value: f64) {
        self.attribute(key, 9, |buf| {
            encode_key(4, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&value.to_le_bytes());
        });
    }

    /// The span with an unset status and its flags.
    pub(crate) fn finish(mut self) -> EncodedSpan {
        put_bytes(&mut self.buf, 15, &[]);
        encode_key(16, WireType::ThirtyTwoBit, &mut self.buf);
        self.buf.extend_from_slice(&SPAN_FLAGS.to_le_bytes());
        EncodedSpan(self.buf)
    }
}

/// An `ExportTraceServiceRequest` of `spans` under one resource and scope,
/// written in one pass: the nested messages' lengths are known before
/// their bodies, so each span's bytes are copied once.
pub(crate) fn trace_request(
    resource: &Resource,
    resource_schema_url: &str,
    scope: &InstrumentationScope,
    spans: &[EncodedSpan],
) -> Vec<u8> {
    // ScopeSpans: scope (1), spans (2).
    let scope_len = scope.encoded_len();
    let scope_spans_len =
        field_len(scope_len) + spans.iter().map(|s| field_len(s.0.len())).sum::<usize>();
    // ResourceSpans: resource (1), scope_spans (2), schema_url (3).
    let resource_len = resource.encoded_len();
    let schema_len = if resource_schema_url.is_empty() {
        0
    } else {
        field_len(resource_schema_url.len())
    };
    let resource_spans_len = field_len(resource_len) + field_len(scope_spans_len) + schema_len;
    // ExportTraceServiceRequest: resource_spans (1).
    let mut request = Vec::with_capacity(field_len(resource_spans_len));
    put_length_prefix(&mut request, 1, resource_spans_len);
    put_length_prefix(&mut request, 1, resource_len);
    resource.encode_raw(&mut request);
    put_length_prefix(&mut request, 2, scope_spans_len);
    put_length_prefix(&mut request, 1, scope_len);
    scope.encode_raw(&mut request);
    for span in spans {
        put_bytes(&mut request, 2, &span.0);
    }
    if !resource_schema_url.is_empty() {
        put_bytes(&mut request, 3, resource_schema_url.as_bytes());
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{span, Span, SpanFlags, Status};

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    #[test]
    fn a_written_span_decodes_as_the_message_prost_would_have_built() {
        let mut writer = SpanWriter::new(
            &[7; 16],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            Some(&[9; 8]),
            "attempt 1",
            (1_000, 2_000_000_000_000_000_000),
        );
        writer.text("tierkreis.loc", "-.N3");
        writer.integer("tierkreis.attempt", 2);
        writer.integer("negative", -5);
        writer.float("tierkreis.queue_wait_s", 0.25);
        writer.text("long", &"x".repeat(300));
        let encoded = writer.finish();
        let expected = Span {
            trace_id: vec![7; 16],
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            parent_span_id: vec![9; 8],
            flags: 1 | SpanFlags::ContextHasIsRemoteMask as u32,
            name: "attempt 1".to_string(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000_000_000_000_000_000,
            attributes: vec![
                kv(
                    "tierkreis.loc",
                    any_value::Value::StringValue("-.N3".into()),
                ),
                kv("tierkreis.attempt", any_value::Value::IntValue(2)),
                kv("negative", any_value::Value::IntValue(-5)),
                kv(
                    "tierkreis.queue_wait_s",
                    any_value::Value::DoubleValue(0.25),
                ),
                kv("long", any_value::Value::StringValue("x".repeat(300))),
            ],
            status: Some(Status::default()),
            ..Default::default()
        };
        assert_eq!(Span::decode(encoded.bytes()).expect("a Span"), expected);
        // Byte for byte what prost writes for the same message.
        assert_eq!(encoded.bytes(), expected.encode_to_vec().as_slice());

        let root = SpanWriter::new(&[7; 16], &[4; 8], None, "tierkreis run", (1, 2)).finish();
        let resource = Resource {
            attributes: vec![kv(
                "service.name",
                any_value::Value::StringValue("tierkreis-rs".into()),
            )],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "tierkreis-rs".to_string(),
            ..Default::default()
        };
        let request = ExportTraceServiceRequest::decode(
            trace_request(&resource, "https://schema", &scope, &[encoded, root]).as_slice(),
        )
        .expect("a request");
        let [resource_spans] = request.resource_spans.as_slice() else {
            panic!("one resource: {request:?}");
        };
        assert_eq!(resource_spans.resource.as_ref(), Some(&resource));
        assert_eq!(resource_spans.schema_url, "https://schema");
        let [scope_spans] = resource_spans.scope_spans.as_slice() else {
            panic!("one scope: {request:?}");
        };
        assert_eq!(scope_spans.scope.as_ref(), Some(&scope));
        assert_eq!(scope_spans.spans.len(), 2);
        assert_eq!(scope_spans.spans[0], expected);
        assert!(scope_spans.spans[1].parent_span_id.is_empty());
    }
}
