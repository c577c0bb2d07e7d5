//! Property tests: every message type round-trips through every codec, and
//! payloads survive transcoding between any two codecs.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use proptest::prelude::*;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{
    MAX_ID, PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId,
};
use ringbar_protocol::message::*;
use ringbar_protocol::str::Str;
use ringbar_protocol::value::{Dict, Value};

fn serializer() -> impl Strategy<Value = Serializer> {
    prop_oneof![
        Just(Serializer::Json),
        Just(Serializer::MsgPack),
        Just(Serializer::Cbor),
        Just(Serializer::Ubjson)
    ]
}

/// Any value every codec can carry (JSON has no NaN or infinity).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::UInt),
        (i64::MIN..0).prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,40}"
            .prop_filter("NUL marks binary in JSON", |s| !s.starts_with('\0'))
            .prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::btree_map("[a-z_]{0,10}", inner, 0..8)
                .prop_map(|m| Value::Dict(m.into_iter().collect())),
        ]
    })
}

fn dict() -> impl Strategy<Value = Dict> {
    proptest::collection::btree_map("[a-z_]{1,12}", value(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn id() -> impl Strategy<Value = u64> {
    prop_oneof![0..=MAX_ID, Just(MAX_ID), Just(0u64), 0..100u64]
}

fn text() -> impl Strategy<Value = Str> {
    "[a-z0-9_.]{0,30}|.{0,20}".prop_map(Str::from)
}

fn args() -> impl Strategy<Value = (Vec<Value>, Option<Dict>)> {
    (
        proptest::collection::vec(value(), 0..5),
        proptest::option::of(dict()),
    )
}

/// A payload of random shape, encoded in `s`.
fn payload(s: Serializer) -> impl Strategy<Value = Payload> {
    prop_oneof![
        Just(Payload::Empty),
        args().prop_map(move |(a, k)| Payload::from_values(s, &a, k.as_ref()).unwrap()),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Payload::Transparent(b.into())),
    ]
}

fn message(s: Serializer) -> impl Strategy<Value = Message> {
    let req = || id().prop_map(|v| RequestId::new(v).unwrap());
    prop_oneof![
        (text(), dict()).prop_map(|(realm, details)| Message::Hello(Hello { realm, details })),
        (id(), dict()).prop_map(|(i, details)| Message::Welcome(Welcome {
            session: SessionId::new(i).unwrap(),
            details
        })),
        (dict(), text()).prop_map(|(details, reason)| Message::Abort(Abort { details, reason })),
        (text(), dict())
            .prop_map(|(authmethod, extra)| Message::Challenge(Challenge { authmethod, extra })),
        (text(), dict()).prop_map(|(signature, extra)| Message::Authenticate(Authenticate {
            signature,
            extra
        })),
        (dict(), text())
            .prop_map(|(details, reason)| Message::Goodbye(Goodbye { details, reason })),
        (any::<u64>(), req(), dict(), text(), payload(s)).prop_map(
            |(request_type, request, details, error, payload)| Message::Error(Error {
                request_type,
                request,
                details,
                error,
                payload
            })
        ),
        (req(), dict(), text(), payload(s)).prop_map(|(request, options, topic, payload)| {
            Message::Publish(Publish {
                request,
                options,
                topic,
                payload,
            })
        }),
        (req(), id()).prop_map(|(request, p)| Message::Published(Published {
            request,
            publication: PublicationId::new(p).unwrap()
        })),
        (req(), dict(), text()).prop_map(|(request, options, topic)| Message::Subscribe(
            Subscribe {
                request,
                options,
                topic
            }
        )),
        (req(), id()).prop_map(|(request, s)| Message::Subscribed(Subscribed {
            request,
            subscription: SubscriptionId::new(s).unwrap()
        })),
        (req(), id()).prop_map(|(request, s)| Message::Unsubscribe(Unsubscribe {
            request,
            subscription: SubscriptionId::new(s).unwrap()
        })),
        (req(), proptest::option::of(dict())).prop_map(|(request, details)| Message::Unsubscribed(
            Unsubscribed { request, details }
        )),
        (id(), id(), dict(), payload(s)).prop_map(|(sub, publ, details, payload)| {
            Message::Event(Event {
                subscription: SubscriptionId::new(sub).unwrap(),
                publication: PublicationId::new(publ).unwrap(),
                details,
                payload,
            })
        }),
        (id(), dict(), payload(s)).prop_map(|(p, details, payload)| {
            Message::EventReceived(EventReceived {
                publication: PublicationId::new(p).unwrap(),
                details: Some(details),
                payload,
            })
        }),
        (req(), dict(), text(), payload(s)).prop_map(|(request, options, procedure, payload)| {
            Message::Call(Call {
                request,
                options,
                procedure,
                payload,
            })
        }),
        (req(), dict()).prop_map(|(request, options)| Message::Cancel(Cancel { request, options })),
        (req(), dict(), payload(s)).prop_map(|(request, details, payload)| {
            Message::Result(Result {
                request,
                details,
                payload,
            })
        }),
        (req(), dict(), text()).prop_map(|(request, options, procedure)| Message::Register(
            Register {
                request,
                options,
                procedure
            }
        )),
        (req(), id()).prop_map(|(request, r)| Message::Registered(Registered {
            request,
            registration: RegistrationId::new(r).unwrap()
        })),
        (req(), id()).prop_map(|(request, r)| Message::Unregister(Unregister {
            request,
            registration: RegistrationId::new(r).unwrap()
        })),
        (req(), proptest::option::of(dict())).prop_map(|(request, details)| Message::Unregistered(
            Unregistered { request, details }
        )),
        (req(), id(), dict(), payload(s)).prop_map(|(request, r, details, payload)| {
            Message::Invocation(Invocation {
                request,
                registration: RegistrationId::new(r).unwrap(),
                details,
                payload,
            })
        }),
        (req(), dict())
            .prop_map(|(request, options)| Message::Interrupt(Interrupt { request, options })),
        (req(), dict(), payload(s)).prop_map(|(request, options, payload)| {
            Message::Yield(Yield {
                request,
                options,
                payload,
            })
        }),
    ]
}

fn serializer_and_message() -> impl Strategy<Value = (Serializer, Message)> {
    serializer().prop_flat_map(|s| (Just(s), message(s)))
}

/// The decoded values of a payload, to compare payloads across codecs.
fn payload_values(p: &Payload) -> Option<(Value, Option<Value>)> {
    match p {
        Payload::Arguments(a) => Some((
            codec::decode_value(a.serializer, &a.args).unwrap(),
            a.kwargs
                .as_ref()
                .map(|k| codec::decode_value(a.serializer, k).unwrap()),
        )),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips_in_its_codec((s, m) in serializer_and_message()) {
        let mut out = BytesMut::new();
        codec::encode(s, &m, &mut out).unwrap();
        let back = codec::decode(s, out.freeze()).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn messages_move_between_codecs((s, m) in serializer_and_message(), to in serializer()) {
        let mut out = BytesMut::new();
        codec::encode(to, &m, &mut out).unwrap();
        let back = codec::decode(to, out.freeze()).unwrap();
        prop_assert_eq!(back.message_type(), m.message_type());
        let payload_of = |m: &Message| match m {
            Message::Publish(x) => Some(x.payload.clone()),
            Message::Event(x) => Some(x.payload.clone()),
            Message::Call(x) => Some(x.payload.clone()),
            Message::Result(x) => Some(x.payload.clone()),
            Message::Invocation(x) => Some(x.payload.clone()),
            Message::Yield(x) => Some(x.payload.clone()),
            Message::Error(x) => Some(x.payload.clone()),
            _ => None,
        };
        if let (Some(a), Some(b)) = (payload_of(&m), payload_of(&back)) {
            prop_assert_eq!(payload_values(&a), payload_values(&b));
            if let Payload::Transparent(bin) = a {
                prop_assert_eq!(Payload::Transparent(bin), b);
            }
        }
        let _ = s;
    }

    #[test]
    fn values_survive_transcoding(v in value(), from in serializer(), to in serializer()) {
        let mut encoded = BytesMut::new();
        codec::encode_value(from, &v, &mut encoded).unwrap();
        let moved = codec::transcode(from, to, &encoded).unwrap();
        prop_assert_eq!(codec::decode_value(to, &moved).unwrap(), v.clone());
        let back = codec::transcode(to, from, &moved).unwrap();
        prop_assert_eq!(&back[..], &encoded[..]);
    }
}

#[test]
fn extreme_integers_and_floats_transcode() {
    let v = Value::List(vec![
        Value::UInt(u64::MAX),
        Value::Int(i64::MIN),
        Value::Int(-1),
        Value::UInt(0),
        Value::Float(-0.0),
        Value::Float(f64::MAX),
        Value::Float(f64::MIN_POSITIVE),
        Value::Float(5e-324),
        Value::Float(1.0),
        Value::Bytes(vec![0, 255]),
    ]);
    for from in Serializer::ALL {
        for to in Serializer::ALL {
            let mut encoded = BytesMut::new();
            codec::encode_value(from, &v, &mut encoded).unwrap();
            let moved = codec::transcode(from, to, &encoded).unwrap();
            let back = codec::decode_value(to, &moved).unwrap();
            assert_eq!(back, v, "{from:?} -> {to:?}");
            // -0.0 == 0.0 for PartialEq: check the sign bit survives too.
            if let Value::List(items) = back {
                assert_eq!(items[4].clone(), Value::Float(-0.0));
                assert!(matches!(items[4], Value::Float(f) if f.is_sign_negative()));
            }
        }
    }
    let mut out = BytesMut::new();
    let nan = codec::encode_value(Serializer::Json, &Value::Float(f64::NAN), &mut out);
    assert_eq!(nan, Err(codec::EncodeError::NonFiniteFloat));
}

#[test]
fn malformed_messages_are_errors_naming_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("{}", "must be a list"),
        ("[]", "type code"),
        ("[999]", "unknown WAMP message type 999"),
        ("[16, 1, {}]", "PUBLISH has 3 elements"),
        (
            "[16, \"x\", {}, \"t\"]",
            "PUBLISH.Request must be an integer",
        ),
        ("[16, 9007199254740993, {}, \"t\"]", "not an id"),
        ("[16, 1, [], \"t\"]", "PUBLISH.Options must be a dictionary"),
        ("[16, 1, {}, 5]", "PUBLISH.Topic must be a string"),
        ("[16, 1, {}, \"t\", {}]", "PUBLISH.Arguments must be a list"),
        (
            "[16, 1, {}, \"t\", [], []]",
            "PUBLISH.ArgumentsKw must be a dictionary",
        ),
        ("[16, 1, {}, \"t\"", "malformed JSON"),
        ("[16, 1, {}, \"t\"] x", "malformed JSON"),
    ];
    for (text, needle) in cases {
        let err = codec::decode(Serializer::Json, bytes::Bytes::from_static(text.as_bytes()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{text}: {err:?} lacks {needle:?}");
    }
}

#[test]
fn payload_is_a_slice_of_the_input_not_a_copy() {
    let input = bytes::Bytes::from_static(br#"[16,1,{},"com.t",["hello",1],{"k":2}]"#);
    let Message::Publish(p) = codec::decode(Serializer::Json, input.clone()).unwrap() else {
        panic!("not a PUBLISH");
    };
    let Payload::Arguments(a) = p.payload else {
        panic!("no arguments");
    };
    assert_eq!(&a.args[..], br#"["hello",1]"#);
    assert_eq!(a.kwargs.as_deref(), Some(&br#"{"k":2}"#[..]));
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    assert!(range.contains(&(a.args.as_ptr() as usize)));
    assert!(range.contains(&(p.topic.as_bytes().as_ptr() as usize)));
}
