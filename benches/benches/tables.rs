//! The realm tables under churn: making and removing many subscriptions and
//! registrations (each change publishes a new table while publishes and
//! calls read the old one without a lock), and what a publish's match costs
//! while another thread churns the table.

// criterion_group! generates an undocumented public function; a bench
// whose fixed inputs fail to parse or register is a broken bench.
#![allow(missing_docs, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ringbar_protocol::id::SessionId;
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};
use ringbar_router::tables::registrations::{Callee, InvokePolicy, Registrations};
use ringbar_router::tables::subscriptions::Subscriptions;

/// The creation time the tables record (any fixed time will do).
const T0: std::time::SystemTime = std::time::SystemTime::UNIX_EPOCH;

/// Table sizes churned: every entry made, then every entry removed.
const SIZES: [usize; 2] = [10_000, 100_000];

fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
    UriPattern::parse(uri, policy, UriCheck::Loose).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn exact(i: usize) -> UriPattern {
    pattern(&format!("com.example.topic.{i}"), MatchPolicy::Exact)
}

fn wildcard(i: usize) -> UriPattern {
    pattern(&format!("com.example.{i}..reading"), MatchPolicy::Wildcard)
}

fn callee(i: usize) -> Callee {
    Callee {
        core: 0,
        session: SessionId::new(i as u64 + 1).unwrap_or_default(),
        forward_timeout: false,
        disclose_caller: false,
        progressive_invocations: false,
    }
}

/// Makes `n` subscriptions from `make`, then removes them all.
fn churn_subscriptions(n: usize, make: fn(usize) -> UriPattern) {
    let subs = Subscriptions::new(1);
    let ids: Vec<_> = (0..n)
        .map(|i| subs.subscribe(make(i), 0, T0).0.id)
        .collect();
    for id in ids {
        subs.unsubscribe(id, 0);
    }
    assert!(subs.is_empty());
}

/// Registers `n` procedures, then unregisters them all.
fn churn_registrations(n: usize) {
    let regs = Registrations::new(1);
    let ids: Vec<_> = (0..n)
        .map(|i| {
            let (reg, _) = regs
                .register(exact(i), InvokePolicy::Single, callee(i), T0)
                .unwrap_or_else(|e| panic!("{e:?}"));
            (reg.id, callee(i).session)
        })
        .collect();
    for (id, session) in ids {
        regs.unregister(id, session);
    }
    assert!(regs.snapshot().is_empty());
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("table_churn");
    group.sample_size(10);
    for n in SIZES {
        group.bench_function(format!("subscriptions_exact/{n}"), |b| {
            b.iter(|| churn_subscriptions(n, exact))
        });
        group.bench_function(format!("subscriptions_wildcard/{n}"), |b| {
            b.iter(|| churn_subscriptions(n, wildcard))
        });
        group.bench_function(format!("registrations/{n}"), |b| {
            b.iter(|| churn_registrations(n))
        });
    }
    group.finish();
}

/// A publish's match in a table of 100,000 exact and 10,000 wildcard
/// subscriptions, quiet and while another thread subscribes and
/// unsubscribes as fast as it can.
fn publish_during_churn(c: &mut Criterion) {
    let subs = Arc::new(Subscriptions::new(1));
    for i in 0..100_000 {
        subs.subscribe(exact(i), 0, T0);
    }
    for i in 0..10_000 {
        subs.subscribe(wildcard(i), 0, T0);
    }
    let topic = "com.example.4242.reading";
    let mut group = c.benchmark_group("publish_match");
    let bench = |name: &str, group: &mut criterion::BenchmarkGroup<'_, _>| {
        group.bench_function(name, |b| {
            b.iter(|| {
                let table = subs.snapshot();
                let mut matched = Vec::with_capacity(4);
                table.matches(black_box(topic), &mut matched);
                black_box(matched.len())
            })
        });
    };
    bench("quiet", &mut group);
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let (subs, stop) = (subs.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut changes = 0u64;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (sub, _) = subs.subscribe(exact(200_000 + i % 1000), 0, T0);
                subs.unsubscribe(sub.id, 0);
                changes += 2;
                i += 1;
            }
            (changes, started.elapsed())
        })
    };
    bench("during_churn", &mut group);
    stop.store(true, Ordering::Relaxed);
    if let Ok((changes, took)) = churner.join() {
        let per_second = changes as f64 / took.max(Duration::from_millis(1)).as_secs_f64();
        println!("churn beside the publishes: {per_second:.0} table changes/s");
    }
    group.finish();
}

criterion_group!(benches, churn, publish_during_churn);
criterion_main!(benches);
