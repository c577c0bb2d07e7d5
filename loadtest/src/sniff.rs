//! The WAMP message type of an encoded message, read from its first bytes
//! without decoding the rest: how a receiver tells an EVENT or RESULT
//! (counted on the fast path) from anything else (decoded in full).

use ringbar_protocol::codec::Serializer;

/// The message type code (the first element of the message array), or
/// `None` when the bytes do not start like a WAMP message.
pub(crate) fn message_type(serializer: Serializer, message: &[u8]) -> Option<u64> {
    match serializer {
        Serializer::Json => json(message),
        Serializer::MsgPack => msgpack(message),
        Serializer::Cbor => cbor(message),
        Serializer::Ubjson => ubjson(message),
    }
}

fn json(message: &[u8]) -> Option<u64> {
    let mut bytes = message.iter().copied().skip_while(u8::is_ascii_whitespace);
    if bytes.next()? != b'[' {
        return None;
    }
    let mut bytes = bytes.skip_while(u8::is_ascii_whitespace).peekable();
    let mut value: u64 = 0;
    let mut digits = 0;
    while let Some(d) = bytes.next_if(u8::is_ascii_digit) {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        digits += 1;
    }
    (digits > 0).then_some(value)
}

fn msgpack(message: &[u8]) -> Option<u64> {
    let (&head, rest) = message.split_first()?;
    let rest = match head {
        0x91..=0x9f => rest,
        0xdc => rest.get(2..)?,
        0xdd => rest.get(4..)?,
        _ => return None,
    };
    match *rest.first()? {
        v @ 0x00..=0x7f => Some(u64::from(v)),
        0xcc => rest.get(1).map(|&v| u64::from(v)),
        _ => None,
    }
}

fn cbor(message: &[u8]) -> Option<u64> {
    let (&head, rest) = message.split_first()?;
    let rest = match head {
        0x81..=0x97 | 0x9f => rest,
        0x98 => rest.get(1..)?,
        0x99 => rest.get(2..)?,
        _ => return None,
    };
    match *rest.first()? {
        v @ 0x00..=0x17 => Some(u64::from(v)),
        0x18 => rest.get(1).map(|&v| u64::from(v)),
        _ => None,
    }
}

fn ubjson(message: &[u8]) -> Option<u64> {
    match message {
        [b'[', b'U', code, ..] => Some(u64::from(*code)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use ringbar_protocol::codec;
    use ringbar_protocol::id::{PublicationId, RequestId, SubscriptionId};
    use ringbar_protocol::message::{Event, Message, Payload, Published, Result};
    use ringbar_protocol::value::{Dict, Value};

    fn encoded(serializer: Serializer, message: &Message) -> Bytes {
        let mut out = BytesMut::new();
        codec::encode(serializer, message, &mut out).unwrap();
        out.freeze()
    }

    #[test]
    fn reads_the_type_of_real_messages_in_every_serializer() {
        for serializer in Serializer::ALL {
            let payload = Payload::from_values(serializer, &[Value::from("x")], None).unwrap();
            let event = Message::Event(Event {
                subscription: SubscriptionId::new(1 << 50).unwrap(),
                publication: PublicationId::new(7).unwrap(),
                details: Dict::new(),
                payload: payload.clone(),
            });
            let result = Message::Result(Result {
                request: RequestId::new(3).unwrap(),
                details: Dict::new(),
                payload,
            });
            let published = Message::Published(Published {
                request: RequestId::new(3).unwrap(),
                publication: PublicationId::new(9).unwrap(),
            });
            assert_eq!(
                message_type(serializer, &encoded(serializer, &event)),
                Some(36)
            );
            assert_eq!(
                message_type(serializer, &encoded(serializer, &result)),
                Some(50)
            );
            assert_eq!(
                message_type(serializer, &encoded(serializer, &published)),
                Some(17)
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_message() {
        assert_eq!(message_type(Serializer::Json, b" [ 36 ,1]"), Some(36));
        assert_eq!(message_type(Serializer::Json, b"{\"a\":1}"), None);
        assert_eq!(message_type(Serializer::Json, b"[\"x\"]"), None);
        assert_eq!(
            message_type(Serializer::Json, b"[99999999999999999999999]"),
            None
        );
        assert_eq!(message_type(Serializer::MsgPack, &[0x80]), None);
        assert_eq!(message_type(Serializer::MsgPack, &[0x95]), None);
        assert_eq!(
            message_type(Serializer::MsgPack, &[0xdc, 0, 5, 0xcc, 200]),
            Some(200)
        );
        assert_eq!(message_type(Serializer::Cbor, &[0xa1]), None);
        assert_eq!(message_type(Serializer::Cbor, &[0x85, 0x18]), None);
        assert_eq!(message_type(Serializer::Cbor, &[]), None);
    }
}
