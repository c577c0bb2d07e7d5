//! The request-reply steps of setting a session up (subscribe, register,
//! leave), and the pre-encoded PUBLISH a publisher stamps in place.

use std::io;

use bytes::BytesMut;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{RegistrationId, RequestId, SubscriptionId};
use ringbar_protocol::message::{
    Arguments, Goodbye, Message, Payload, Publish, Register, Subscribe, Unsubscribe,
};
use ringbar_protocol::value::{Dict, Value};

use crate::conn::{Conn, unexpected};
use crate::stamp::Stamp;

/// Subscribes to `topic` and waits for SUBSCRIBED (events may follow it).
pub(crate) async fn subscribe(conn: &mut Conn, topic: &str) -> io::Result<SubscriptionId> {
    conn.queue(&Message::Subscribe(Subscribe {
        request: request(1),
        options: Dict::new(),
        topic: topic.into(),
    }))?;
    match conn.next_message().await? {
        Message::Subscribed(s) => Ok(s.subscription),
        other => Err(unexpected("SUBSCRIBED", &other)),
    }
}

/// Unsubscribes and waits for UNSUBSCRIBED, skipping the events before it.
pub(crate) async fn unsubscribe(conn: &mut Conn, subscription: SubscriptionId) -> io::Result<()> {
    conn.queue(&Message::Unsubscribe(Unsubscribe {
        request: request(2),
        subscription,
    }))?;
    loop {
        match conn.next_message().await? {
            Message::Unsubscribed(_) => return Ok(()),
            Message::Event(_) => {}
            other => return Err(unexpected("UNSUBSCRIBED", &other)),
        }
    }
}

/// Registers `procedure` (shared round-robin when `shared`) and waits for
/// REGISTERED.
pub(crate) async fn register(
    conn: &mut Conn,
    procedure: &str,
    shared: bool,
) -> io::Result<RegistrationId> {
    let mut options = Dict::new();
    if shared {
        options.insert("invoke", "roundrobin");
    }
    conn.queue(&Message::Register(Register {
        request: request(1),
        options,
        procedure: procedure.into(),
    }))?;
    match conn.next_message().await? {
        Message::Registered(r) => Ok(r.registration),
        other => Err(unexpected("REGISTERED", &other)),
    }
}

/// Says GOODBYE and waits for the router's, skipping events before it.
pub(crate) async fn leave(conn: &mut Conn) -> io::Result<()> {
    conn.queue(&Message::Goodbye(Goodbye {
        details: Dict::new(),
        reason: "wamp.close.close_realm".into(),
    }))?;
    loop {
        match conn.next_message().await? {
            Message::Goodbye(_) => return Ok(()),
            Message::Event(_) => {}
            other => return Err(unexpected("GOODBYE", &other)),
        }
    }
}

/// The payload of one string argument carrying `stamp`, `payload_bytes` long.
fn stamped_payload(
    serializer: Serializer,
    stamp: Stamp,
    payload_bytes: usize,
) -> io::Result<Payload> {
    Payload::from_values(
        serializer,
        &[Value::from(stamp.to_payload(payload_bytes))],
        None,
    )
    .map_err(io::Error::other)
}

/// The arguments of a stamped payload, encoded once; each call rewrites
/// the stamp in place, so a call costs a copy, not an encoding.
pub(crate) struct StampedArgs {
    serializer: Serializer,
    args: Vec<u8>,
    stamp_at: usize,
}

impl StampedArgs {
    /// Encodes the arguments for a payload of `payload_bytes`.
    pub(crate) fn new(serializer: Serializer, payload_bytes: usize) -> io::Result<Self> {
        let zero = Stamp {
            source: 0,
            seq: 0,
            sent_ns: 0,
        };
        let Payload::Arguments(arguments) = stamped_payload(serializer, zero, payload_bytes)?
        else {
            return Err(io::Error::other("a stamped payload without arguments"));
        };
        let (_, stamp_at) = Stamp::find(&arguments.args)
            .ok_or_else(|| io::Error::other("the encoded arguments lost their stamp"))?;
        Ok(Self {
            serializer,
            args: arguments.args.to_vec(),
            stamp_at,
        })
    }

    /// A payload carrying `stamp`.
    pub(crate) fn payload(&mut self, stamp: Stamp) -> Payload {
        stamp.overwrite(&mut self.args, self.stamp_at);
        Payload::Arguments(Arguments {
            serializer: self.serializer,
            args: bytes::Bytes::copy_from_slice(&self.args),
            kwargs: None,
        })
    }
}

/// A PUBLISH encoded once, whose stamp is rewritten for each publication:
/// a publication costs a copy, not an encoding.
pub(crate) struct PublishTemplate {
    message: Vec<u8>,
    stamp_at: usize,
}

impl PublishTemplate {
    /// Encodes a PUBLISH to `topic` with a payload of `payload_bytes`.
    pub(crate) fn new(
        serializer: Serializer,
        topic: &str,
        payload_bytes: usize,
    ) -> io::Result<Self> {
        let zero = Stamp {
            source: 0,
            seq: 0,
            sent_ns: 0,
        };
        let mut out = BytesMut::new();
        codec::encode(
            serializer,
            &Message::Publish(Publish {
                request: request(1),
                options: Dict::new(),
                topic: topic.into(),
                payload: stamped_payload(serializer, zero, payload_bytes)?,
            }),
            &mut out,
        )
        .map_err(io::Error::other)?;
        let (_, stamp_at) = Stamp::find(&out)
            .ok_or_else(|| io::Error::other("the encoded PUBLISH lost its stamp"))?;
        Ok(Self {
            message: out.to_vec(),
            stamp_at,
        })
    }

    /// The message, carrying `stamp`.
    pub(crate) fn stamped(&mut self, stamp: Stamp) -> &[u8] {
        stamp.overwrite(&mut self.message, self.stamp_at);
        &self.message
    }
}

/// A request id (every value used here is far below the 2^53 bound).
pub(crate) fn request(id: u64) -> RequestId {
    RequestId::new(id % ringbar_protocol::id::MAX_ID).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_template_decodes_as_the_publish_it_stands_for() {
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            let mut template = PublishTemplate::new(serializer, "com.example.t", 64).unwrap();
            let stamp = Stamp {
                source: 3,
                seq: 99,
                sent_ns: 12345,
            };
            let bytes = bytes::Bytes::copy_from_slice(template.stamped(stamp));
            let Message::Publish(p) = codec::decode(serializer, bytes).unwrap() else {
                panic!("not a PUBLISH");
            };
            assert_eq!(p.topic.as_str(), "com.example.t");
            let Payload::Arguments(a) = p.payload else {
                panic!("no arguments");
            };
            let args = codec::decode_value(serializer, &a.args).unwrap();
            let s = args.as_list().unwrap()[0].as_str().unwrap().to_owned();
            assert_eq!(s.len(), 64);
            assert_eq!(Stamp::find(s.as_bytes()).unwrap().0, stamp);
        }
    }

    #[test]
    fn stamped_args_carry_each_stamp() {
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            let mut args = StampedArgs::new(serializer, 50).unwrap();
            for seq in [1, 2, u64::MAX] {
                let stamp = Stamp {
                    source: 9,
                    seq,
                    sent_ns: seq / 2,
                };
                let Payload::Arguments(a) = args.payload(stamp) else {
                    panic!("no arguments");
                };
                let value = codec::decode_value(serializer, &a.args).unwrap();
                let s = value.as_list().unwrap()[0].as_str().unwrap().to_owned();
                assert_eq!((s.len(), Stamp::find(s.as_bytes()).unwrap().0), (50, stamp));
            }
        }
    }
}
