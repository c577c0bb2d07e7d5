//! Feeds every network-facing parser a million random and mutated inputs
//! from a fixed seed: none may panic, and none may make memory grow beyond a
//! fixed bound (a counting allocator tracks the peak of live bytes).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

mod support;

/// Inputs per parser.
const INPUTS: usize = 1_000_000;
/// The most live heap any one input may cause: far above what the parsers'
/// limits allow, far below what an unchecked length field would take.
const PEAK_BOUND_BYTES: usize = 64 << 20;
const SEED: u64 = 0x5eed_2026_1126;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A random input: pure noise, or a seed mutated by flips, insertions,
/// deletions, truncation, duplication and "interesting" bytes.
fn input(rng: &mut SmallRng, seeds: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    if seeds.is_empty() || rng.random_bool(0.25) {
        let len = rng.random_range(0..512);
        out.extend((0..len).map(|_| rng.random::<u8>()));
        return;
    }
    out.extend_from_slice(&seeds[rng.random_range(0..seeds.len())]);
    for _ in 0..rng.random_range(1..8) {
        let len = out.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] = [0x00, 0x7f, 0x80, 0xff, b'"', b'\\', b'[', b'{', 0xdd, 0xbf]
                    [rng.random_range(0..10)];
            }
            2 => {
                let i = rng.random_range(0..=len);
                out.insert(i, rng.random());
            }
            3 if len > 0 => {
                out.remove(rng.random_range(0..len));
            }
            4 if len > 0 => out.truncate(rng.random_range(0..len)),
            5 if len > 0 && len < 4096 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len);
                let piece = out[start..end].to_vec();
                let at = rng.random_range(0..=out.len());
                out.splice(at..at, piece);
            }
            _ if len >= 8 => {
                // Overwrite a length-like field with an extreme value.
                let i = rng.random_range(0..=len - 8);
                out[i..i + 8].copy_from_slice(&u64::MAX.to_be_bytes());
            }
            _ => {}
        }
    }
}

#[test]
fn a_million_inputs_per_parser_no_panic_bounded_memory() {
    let baseline = LIVE.load(Ordering::Relaxed);
    std::thread::scope(|scope| {
        for (i, (target, run)) in support::TARGETS.into_iter().enumerate() {
            scope.spawn(move || {
                let seeds = support::seeds(target);
                let mut rng = SmallRng::seed_from_u64(SEED + i as u64);
                let mut buf = Vec::new();
                for _ in 0..INPUTS {
                    input(&mut rng, &seeds, &mut buf);
                    run(&buf);
                }
            });
        }
    });
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    assert!(
        peak < PEAK_BOUND_BYTES,
        "peak live heap {peak} bytes exceeds {PEAK_BOUND_BYTES} (seed {SEED:#x})"
    );
}
