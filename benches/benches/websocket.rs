//! WebSocket hot paths: frame parsing (with unmasking), frame encoding, and
//! the unmasking loop alone.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringbar_benches::PAYLOAD_SIZES;
use ringbar_protocol::websocket::{
    FrameHeader, FrameParser, OpCode, Role, WebSocketConfig, apply_mask, encode_frame,
};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn parse_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_parse_frame");
    for size in PAYLOAD_SIZES {
        let mut frame = BytesMut::new();
        encode_frame(
            true,
            OpCode::Binary,
            Some(MASK),
            &vec![b'x'; size],
            &mut frame,
        );
        let frame = frame.freeze();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("masked_binary", size),
            &frame,
            |b, frame| {
                let mut parser = FrameParser::new(Role::Server, WebSocketConfig::default());
                let mut buf = BytesMut::with_capacity(frame.len());
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(frame);
                    parser.parse(black_box(&mut buf))
                })
            },
        );
    }
    group.finish();
}

fn encode_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_encode");
    for size in PAYLOAD_SIZES {
        // What a server does per outgoing frame: the header alone, to be
        // followed by the shared payload buffer in a vectored write.
        let header = FrameHeader {
            fin: true,
            opcode: OpCode::Text,
            mask: None,
            payload_len: size as u64,
        };
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("header", size), &header, |b, h| {
            b.iter(|| black_box(h).encode())
        });
        let payload = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("whole_frame", size), &payload, |b, p| {
            let mut out = BytesMut::with_capacity(size + 16);
            b.iter(|| {
                out.clear();
                encode_frame(true, OpCode::Text, None, black_box(p), &mut out);
            })
        });
    }
    group.finish();
}

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_unmask");
    for size in [64, 4096, 65536] {
        let mut buf = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("word_at_a_time", size), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), MASK, 0))
        });
        // Baseline: the byte loop RFC 6455 section 5.3 describes.
        group.bench_function(BenchmarkId::new("byte_loop", size), |b| {
            b.iter(|| {
                for (i, byte) in black_box(&mut buf).iter_mut().enumerate() {
                    *byte ^= MASK[i % 4];
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse_frame, encode_header, unmask);
criterion_main!(benches);
