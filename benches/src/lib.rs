//! Inputs shared by ringbar's criterion benchmarks (see `benches/`).

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{PublicationId, RequestId, SubscriptionId};
use ringbar_protocol::message::{Event, Message, Payload, Publish};
use ringbar_protocol::value::{Dict, Value};

/// The payload sizes the benchmarks report: a typical small event and a
/// page-sized one.
pub const PAYLOAD_SIZES: [usize; 2] = [64, 4096];

/// The serializers, by name, for benchmark ids.
pub const SERIALIZERS: [(&str, Serializer); 4] = [
    ("json", Serializer::Json),
    ("msgpack", Serializer::MsgPack),
    ("cbor", Serializer::Cbor),
    ("ubjson", Serializer::Ubjson),
];

/// A PUBLISH whose `Arguments` is one string of `payload_bytes` characters,
/// as a dashboard or telemetry client sends it.
pub fn publish(payload_bytes: usize) -> Message {
    let args = [Value::Str("x".repeat(payload_bytes))];
    Message::Publish(Publish {
        request: RequestId::new(8_374_632).unwrap_or_default(),
        options: Dict::new(),
        topic: "com.example.telemetry.sensor1".into(),
        payload: Payload::from_values(Serializer::Json, &args, None).unwrap_or_default(),
    })
}

/// `message` encoded in `serializer`.
pub fn encoded(serializer: Serializer, message: &Message) -> Bytes {
    let mut out = BytesMut::new();
    codec::encode(serializer, message, &mut out).unwrap_or_default();
    out.freeze()
}

/// The EVENT a broker sends for `publish` (decoded in the subscriber's own
/// serializer, so its payload is spliced, not transcoded).
pub fn event_for(publish: &Message) -> Message {
    let payload = match publish {
        Message::Publish(p) => p.payload.clone(),
        _ => Payload::Empty,
    };
    Message::Event(Event {
        subscription: SubscriptionId::new(5_512_315_355).unwrap_or_default(),
        publication: PublicationId::new(4_429_313_566_123).unwrap_or_default(),
        details: Dict::new(),
        payload,
    })
}
