//! Conformance with the WAMP spec's byte-exact test vectors.
//!
//! The vectors are read at test time from `../shared/wamp-testvectors/`
//! beside the checkout (or `$RINGBAR_TESTVECTORS`); they are not copied into
//! the project.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Message, Payload};
use ringbar_protocol::options::{EventDetails, PublishOptions, SubscribeOptions};
use ringbar_protocol::value::{Dict, Value};
use serde_json::{Map, Value as Json, json};

fn vectors_dir() -> PathBuf {
    match std::env::var_os("RINGBAR_TESTVECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/wamp-testvectors"),
    }
}

/// Every single-message vector file, parsed.
fn vector_files() -> Vec<(PathBuf, Json)> {
    let root = vectors_dir().join("singlemessage");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "test vectors not found at {}: {e} (set RINGBAR_TESTVECTORS)",
                dir.display()
            )
        });
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, serde_json::from_str(&text).unwrap()));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        files.len() >= 20,
        "expected the spec's vectors under {}",
        root.display()
    );
    files
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::UInt(u) => json!(u),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::Bytes(b) => json!(hex::encode(b)),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Dict(d) => dict_json(d),
    }
}

fn dict_json(d: &Dict) -> Json {
    Json::Object(d.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect())
}

/// The attributes of a decoded message, named as the vectors name them.
fn attributes(m: &Message) -> Map<String, Json> {
    let mut a = Map::new();
    a.insert("message_type".into(), json!(m.message_type().code()));
    let mut put = |k: &str, v: Json| {
        a.insert(k.to_owned(), v);
    };
    let payload = |put: &mut dyn FnMut(&str, Json), p: &Payload| match p {
        Payload::Empty => {
            put("args", Json::Null);
            put("kwargs", Json::Null);
            put("payload", Json::Null);
        }
        Payload::Arguments(args) => {
            let list = codec::decode_value(args.serializer, &args.args).unwrap();
            put("args", to_json(&list));
            let kwargs = args
                .kwargs
                .as_ref()
                .map(|k| to_json(&codec::decode_value(args.serializer, k).unwrap()));
            put("kwargs", kwargs.unwrap_or(Json::Null));
            put("payload", Json::Null);
        }
        Payload::Transparent(bin) => {
            put("args", Json::Null);
            put("kwargs", Json::Null);
            put("payload", json!(hex::encode(bin)));
        }
    };
    match m {
        Message::Hello(h) => {
            put("realm", json!(h.realm.as_str()));
            put(
                "roles",
                h.details.get("roles").map(to_json).unwrap_or_default(),
            );
        }
        Message::Welcome(w) => {
            put("session_id", json!(w.session.get()));
            put(
                "roles",
                w.details.get("roles").map(to_json).unwrap_or_default(),
            );
        }
        Message::Abort(x) => {
            put("details", dict_json(&x.details));
            put("reason", json!(x.reason.as_str()));
        }
        Message::Goodbye(x) => {
            put("details", dict_json(&x.details));
            put("reason", json!(x.reason.as_str()));
        }
        Message::Challenge(c) => {
            put("method", json!(c.authmethod.as_str()));
            put("extra", dict_json(&c.extra));
        }
        Message::Authenticate(x) => {
            put("signature", json!(x.signature.as_str()));
            put("extra", dict_json(&x.extra));
        }
        Message::Error(e) => {
            put("request_type", json!(e.request_type));
            put("request_id", json!(e.request.get()));
            put("details", dict_json(&e.details));
            put("error", json!(e.error.as_str()));
            payload(&mut put, &e.payload);
        }
        Message::Publish(p) => {
            put("request_id", json!(p.request.get()));
            put("options", dict_json(&p.options));
            put("topic", json!(p.topic.as_str()));
            payload(&mut put, &p.payload);
        }
        Message::Published(p) => {
            put("request_id", json!(p.request.get()));
            put("publication_id", json!(p.publication.get()));
        }
        Message::Subscribe(s) => {
            put("request_id", json!(s.request.get()));
            put("options", dict_json(&s.options));
            put("topic", json!(s.topic.as_str()));
        }
        Message::Subscribed(s) => {
            put("request_id", json!(s.request.get()));
            put("subscription_id", json!(s.subscription.get()));
        }
        Message::Unsubscribe(u) => {
            put("request_id", json!(u.request.get()));
            put("subscription_id", json!(u.subscription.get()));
        }
        Message::Unsubscribed(u) => put("request_id", json!(u.request.get())),
        Message::Event(e) => {
            put("subscription", json!(e.subscription.get()));
            put("publication", json!(e.publication.get()));
            put("details", dict_json(&e.details));
            payload(&mut put, &e.payload);
        }
        Message::EventReceived(e) => put("publication_id", json!(e.publication.get())),
        Message::Call(c) => {
            put("request_id", json!(c.request.get()));
            put("options", dict_json(&c.options));
            put("procedure", json!(c.procedure.as_str()));
            payload(&mut put, &c.payload);
        }
        Message::Cancel(c) => {
            put("request_id", json!(c.request.get()));
            put("options", dict_json(&c.options));
        }
        Message::Interrupt(i) => {
            put("request_id", json!(i.request.get()));
            put("options", dict_json(&i.options));
        }
        Message::Result(r) => {
            put("request_id", json!(r.request.get()));
            put("details", dict_json(&r.details));
            payload(&mut put, &r.payload);
        }
        Message::Yield(y) => {
            put("request_id", json!(y.request.get()));
            put("options", dict_json(&y.options));
            payload(&mut put, &y.payload);
        }
        Message::Register(r) => {
            put("request_id", json!(r.request.get()));
            put("options", dict_json(&r.options));
            put("procedure", json!(r.procedure.as_str()));
        }
        Message::Registered(r) => {
            put("request_id", json!(r.request.get()));
            put("registration_id", json!(r.registration.get()));
        }
        Message::Unregister(u) => {
            put("request_id", json!(u.request.get()));
            put("registration_id", json!(u.registration.get()));
        }
        Message::Unregistered(u) => put("request_id", json!(u.request.get())),
        Message::Invocation(i) => {
            put("request_id", json!(i.request.get()));
            put("registration_id", json!(i.registration.get()));
            put("details", dict_json(&i.details));
            payload(&mut put, &i.payload);
        }
    }
    a
}

fn check_attributes(context: &str, m: &Message, expected: &Json) {
    let actual = attributes(m);
    for (key, want) in expected.as_object().unwrap() {
        let got = actual.get(key).unwrap_or(&Json::Null);
        // The vectors write an empty kwargs as null or {}; both mean absent.
        let empty_kwargs = key == "kwargs" && want.is_null() && got == &json!({});
        assert!(
            got == want || empty_kwargs,
            "{context}: {key} is {got}, expected {want}"
        );
    }
}

const SERIALIZERS: [(&str, Serializer); 4] = [
    ("json", Serializer::Json),
    ("msgpack", Serializer::MsgPack),
    ("cbor", Serializer::Cbor),
    ("ubjson", Serializer::Ubjson),
];

/// Whether a vector's variant is BJData, which Autobahn|Python 26.6 and
/// later writes under the name `ubjson`: a different format (little-endian,
/// other markers) that `wamp.2.ubjson` (UBJSON draft 12) does not read.
fn is_bjdata(variant: &Json) -> bool {
    variant["note"]
        .as_str()
        .is_some_and(|n| n.contains("BJData"))
}

#[test]
fn every_sample_decodes_to_its_attributes_and_reencodes() {
    let mut checked = 0;
    for (path, file) in vector_files() {
        for (i, sample) in file["samples"].as_array().unwrap().iter().enumerate() {
            let Some(serializers) = sample.get("serializers") else {
                continue;
            };
            let expected = &sample["expected_attributes"];
            for (name, serializer) in SERIALIZERS {
                for (j, variant) in serializers[name]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if is_bjdata(variant) {
                        continue;
                    }
                    let context = format!("{} sample {i} {name} #{j}", path.display());
                    let bytes = hex::decode(variant["bytes_hex"].as_str().unwrap()).unwrap();
                    let message = codec::decode(serializer, Bytes::from(bytes.clone()))
                        .unwrap_or_else(|e| panic!("{context}: {e}"));
                    check_attributes(&context, &message, expected);

                    let mut out = BytesMut::new();
                    codec::encode(serializer, &message, &mut out).unwrap();
                    let again = codec::decode(serializer, out.clone().freeze()).unwrap();
                    check_attributes(&format!("{context} re-encoded"), &again, expected);
                    // MessagePack, CBOR and UBJSON have one canonical form per
                    // vector; JSON re-encodes to the compact form.
                    let compact =
                        name != "json" || !variant["bytes"].as_str().unwrap().contains(", ");
                    if compact {
                        assert_eq!(
                            hex::encode(&out),
                            hex::encode(&bytes),
                            "{context}: bytes differ"
                        );
                    }

                    // Every other serializer carries the same attributes.
                    for (_, other) in SERIALIZERS {
                        let mut out = BytesMut::new();
                        codec::encode(other, &message, &mut out).unwrap();
                        let moved = codec::decode(other, out.freeze()).unwrap();
                        check_attributes(&format!("{context} as {other:?}"), &moved, expected);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 100, "only {checked} samples checked");
}

/// The vectors' `wmsg` samples write a binary payload as a hex string;
/// JSON carries binary as `"\u0000" + base64`.
fn wmsg_to_json(wmsg: &Json) -> String {
    let mut items = wmsg.as_array().unwrap().clone();
    let payload_at = match items[0].as_u64() {
        Some(16) => 4,
        Some(36) => 4,
        _ => usize::MAX,
    };
    if let Some(Json::String(hex_payload)) = items.get(payload_at) {
        let bin = hex::decode(hex_payload).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(bin);
        items[payload_at] = Json::String(format!("\u{0}{b64}"));
    }
    serde_json::to_string(&Json::Array(items)).unwrap()
}

#[test]
fn option_samples_are_accepted_or_refused_naming_the_key() {
    let mut checked = 0;
    for (path, file) in vector_files() {
        for (i, sample) in file["samples"].as_array().unwrap().iter().enumerate() {
            let Some(wmsg) = sample.get("wmsg") else {
                continue;
            };
            let context = format!("{} sample {i}: {}", path.display(), sample["description"]);
            let text = wmsg_to_json(wmsg);
            let message = codec::decode(Serializer::Json, Bytes::from(text))
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            let result = match &message {
                Message::Publish(p) => PublishOptions::from_dict(&p.options).map(|_| ()),
                Message::Subscribe(s) => SubscribeOptions::from_dict(&s.options).map(|_| ()),
                Message::Event(e) => EventDetails::from_dict(&e.details).map(|_| ()),
                other => panic!("{context}: no options check for {other:?}"),
            };
            match (sample.get("expected_error"), result) {
                (None, Ok(())) => {}
                (None, Err(e)) => panic!("{context}: refused: {e}"),
                (Some(want), Ok(())) => panic!("{context}: accepted, expected {want}"),
                (Some(want), Err(e)) => {
                    let key = want["contains"].as_str().unwrap();
                    assert!(
                        e.to_string().contains(key),
                        "{context}: {e} does not name {key}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} option samples checked");
}
