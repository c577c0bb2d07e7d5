//! Codec hot paths: decode PUBLISH, encode EVENT, transcode payloads.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringbar_benches::{PAYLOAD_SIZES, SERIALIZERS, encoded, event_for, publish};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Message, Payload};

fn decode_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_publish");
    for size in PAYLOAD_SIZES {
        for (name, serializer) in SERIALIZERS {
            let input = encoded(serializer, &publish(size));
            group.throughput(Throughput::Bytes(input.len() as u64));
            group.bench_with_input(BenchmarkId::new(name, size), &input, |b, input| {
                b.iter(|| codec::decode(serializer, black_box(input.clone())))
            });
        }
    }
    group.finish();
}

/// The same inputs through the usual full-tree decoders (serde_json, rmpv,
/// ciborium): what decoding costs when the payload becomes a value tree.
/// UBJSON has no row: Rust has no well-kept full-tree UBJSON decoder.
fn decode_publish_baseline(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_publish_baseline");
    for size in PAYLOAD_SIZES {
        for (name, serializer) in SERIALIZERS {
            let input = encoded(serializer, &publish(size));
            group.throughput(Throughput::Bytes(input.len() as u64));
            let id = BenchmarkId::new(name, size);
            match serializer {
                Serializer::Json => group.bench_with_input(id, &input, |b, input| {
                    b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(input)).ok())
                }),
                Serializer::MsgPack => group.bench_with_input(id, &input, |b, input| {
                    b.iter(|| rmpv::decode::read_value(&mut black_box(&input[..])).ok())
                }),
                Serializer::Cbor => group.bench_with_input(id, &input, |b, input| {
                    b.iter(|| {
                        ciborium::from_reader::<ciborium::Value, _>(black_box(&input[..])).ok()
                    })
                }),
                Serializer::Ubjson => continue,
            };
        }
    }
    group.finish();
}

fn encode_event(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_event");
    for size in PAYLOAD_SIZES {
        for (name, serializer) in SERIALIZERS {
            // The payload arrives in the subscriber's serializer: spliced.
            let publish = codec::decode(serializer, encoded(serializer, &publish(size)));
            let Ok(publish) = publish else { continue };
            let event = event_for(&publish);
            let mut out = BytesMut::with_capacity(2 * size + 64);
            group.bench_with_input(BenchmarkId::new(name, size), &event, |b, event| {
                b.iter(|| {
                    out.clear();
                    codec::encode(serializer, black_box(event), &mut out)
                })
            });
        }
    }
    group.finish();
}

fn transcode_payload(c: &mut Criterion) {
    let mut group = c.benchmark_group("transcode_payload");
    for size in PAYLOAD_SIZES {
        for (from_name, from) in SERIALIZERS {
            let Ok(Message::Publish(p)) = codec::decode(from, encoded(from, &publish(size))) else {
                continue;
            };
            let Payload::Arguments(args) = p.payload else {
                continue;
            };
            for (to_name, to) in SERIALIZERS {
                if from == to {
                    continue;
                }
                group.throughput(Throughput::Bytes(args.args.len() as u64));
                let id = BenchmarkId::new(format!("{from_name}_to_{to_name}"), size);
                group.bench_with_input(id, &args.args, |b, raw| {
                    b.iter(|| codec::transcode(from, to, black_box(raw)))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    decode_publish,
    decode_publish_baseline,
    encode_event,
    transcode_payload
);
criterion_main!(benches);
