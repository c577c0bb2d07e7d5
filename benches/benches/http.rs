//! The HTTP/1.1 request reader: a browser's GET head, and a chunked body.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringbar_protocol::http::{BodyDecoder, BodyFraming, HttpLimits, parse_head};

/// What a browser sends for a page's asset: 13 fields, 600-odd bytes.
const BROWSER_GET: &[u8] = b"GET /static/app/main.3f9c2a.js?v=12 HTTP/1.1\r\n\
Host: router.example.com:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: http://router.example.com:8080/\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
If-Modified-Since: Sun, 06 Dec 2026 08:00:00 GMT\r\n\
Cache-Control: max-age=0\r\n\r\n";

fn parse_browser_get(c: &mut Criterion) {
    let limits = HttpLimits::default();
    let mut group = c.benchmark_group("http_parse_head");
    group.throughput(Throughput::Elements(1));
    group.bench_function("browser_get", |b| {
        b.iter(|| parse_head(black_box(BROWSER_GET), &limits))
    });
    group.finish();
}

fn decode_chunked(c: &mut Criterion) {
    let limits = HttpLimits::default();
    let mut wire = Vec::new();
    for _ in 0..16 {
        wire.extend_from_slice(b"400\r\n");
        wire.extend_from_slice(&[b'x'; 1024]);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let mut group = c.benchmark_group("http_body");
    group.throughput(Throughput::Bytes(16 * 1024));
    group.bench_function("chunked_16x1KiB", |b| {
        let mut input = BytesMut::with_capacity(wire.len());
        let mut body = BytesMut::with_capacity(16 * 1024);
        b.iter(|| {
            input.clear();
            input.extend_from_slice(&wire);
            body.clear();
            let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &limits);
            decoder.decode(black_box(&mut input), &mut body)
        })
    });
    group.finish();
}

criterion_group!(benches, parse_browser_get, decode_chunked);
criterion_main!(benches);
