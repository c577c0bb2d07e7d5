//! URI validation and pattern matching, as the broker does per publication.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ringbar_protocol::uri::{MatchPolicy, Uri, UriCheck, UriPattern};

const TOPIC: &str = "com.example.telemetry.sensor1.temperature";

fn uri(c: &mut Criterion) {
    let mut group = c.benchmark_group("uri");
    group.bench_function("check_strict", |b| {
        b.iter(|| Uri::check(black_box(TOPIC), UriCheck::Strict))
    });
    group.bench_function("check_loose", |b| {
        b.iter(|| Uri::check(black_box(TOPIC), UriCheck::Loose))
    });
    for (name, pattern, policy) in [
        ("match_exact", TOPIC, MatchPolicy::Exact),
        ("match_prefix", "com.example.telemetry", MatchPolicy::Prefix),
        (
            "match_wildcard",
            "com.example..sensor1.",
            MatchPolicy::Wildcard,
        ),
    ] {
        let Ok(pattern) = UriPattern::parse(pattern, policy, UriCheck::Loose) else {
            continue;
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(&pattern).matches(black_box(TOPIC)))
        });
    }
    group.finish();
}

criterion_group!(benches, uri);
criterion_main!(benches);
