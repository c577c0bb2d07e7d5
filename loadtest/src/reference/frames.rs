//! One publication's EVENT, serialized and framed at most once per
//! (transport, serializer) its subscribers use: the frame every subscriber
//! of that kind gets a copy of.

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Event, Message};

use super::link::frame_message;
use crate::target::Transport;

/// The kinds of link a frame is built for: two transports by the codec's
/// serializers.
const KINDS: usize = 2 * Serializer::ALL.len();

/// The frames of one EVENT, built on first use.
pub(crate) struct EventFrames {
    event: Message,
    /// `None`: not built yet; `Some(None)`: cannot be built (the payload
    /// does not transcode into that serializer).
    frames: [Option<Option<Bytes>>; KINDS],
}

impl EventFrames {
    /// The frames of `event`, none built yet.
    pub(crate) fn new(event: Event) -> Self {
        Self {
            event: Message::Event(event),
            frames: Default::default(),
        }
    }

    /// The whole frame for a link of `transport` and `serializer`, built
    /// the first time it is asked for; `None` when the payload cannot be
    /// carried in `serializer`.
    pub(crate) fn get(&mut self, transport: Transport, serializer: Serializer) -> Option<&[u8]> {
        let index = kind(transport, serializer);
        let slot = self.frames.get_mut(index)?;
        if slot.is_none() {
            *slot = Some(build(&self.event, transport, serializer));
        }
        slot.as_ref()?.as_deref()
    }

    /// How many frames were built: for the test of "once per kind".
    #[cfg(test)]
    fn built(&self) -> usize {
        self.frames.iter().filter(|f| f.is_some()).count()
    }
}

fn kind(transport: Transport, serializer: Serializer) -> usize {
    let s = Serializer::ALL
        .iter()
        .position(|&s| s == serializer)
        .unwrap_or(0);
    match transport {
        Transport::WebSocket => s,
        Transport::RawSocket => Serializer::ALL.len() + s,
    }
}

fn build(event: &Message, transport: Transport, serializer: Serializer) -> Option<Bytes> {
    let mut message = BytesMut::new();
    codec::encode(serializer, event, &mut message).ok()?;
    let mut frame = BytesMut::with_capacity(message.len() + 14);
    frame_message(transport, serializer, &message, &mut frame).ok()?;
    Some(frame.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbar_protocol::id::{PublicationId, SubscriptionId};
    use ringbar_protocol::message::Payload;
    use ringbar_protocol::value::{Dict, Value};
    use ringbar_protocol::websocket::{FrameHeader, OpCode};

    fn event(serializer: Serializer) -> Event {
        Event {
            subscription: SubscriptionId::new(5).unwrap(),
            publication: PublicationId::new(9).unwrap(),
            details: Dict::new(),
            payload: Payload::from_values(serializer, &[Value::from("hello")], None).unwrap(),
        }
    }

    #[test]
    fn each_kind_is_built_once_and_carries_the_event() {
        let mut frames = EventFrames::new(event(Serializer::Json));
        let first = frames
            .get(Transport::WebSocket, Serializer::Json)
            .unwrap()
            .to_vec();
        assert_eq!(
            frames.get(Transport::WebSocket, Serializer::Json).unwrap(),
            first
        );
        assert_eq!(frames.built(), 1);
        let (header, used) = FrameHeader::parse(&first).unwrap().unwrap();
        assert_eq!((header.opcode, header.mask), (OpCode::Text, None));
        let decoded = codec::decode(Serializer::Json, Bytes::copy_from_slice(&first[used..]));
        assert_eq!(decoded.unwrap(), Message::Event(event(Serializer::Json)));

        // Another serializer is transcoded once, for every link that uses it.
        let raw = frames
            .get(Transport::RawSocket, Serializer::MsgPack)
            .unwrap()
            .to_vec();
        assert_eq!(frames.built(), 2);
        let Message::Event(e) =
            codec::decode(Serializer::MsgPack, Bytes::copy_from_slice(&raw[4..])).unwrap()
        else {
            panic!("not an EVENT");
        };
        assert_eq!(e.payload, event(Serializer::MsgPack).payload);
    }
}
