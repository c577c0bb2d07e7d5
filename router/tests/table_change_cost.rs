//! One REGISTER or SUBSCRIBE in a big realm costs O(log n): the writer
//! publishes a new table that shares all but the changed path with the
//! last, so the memory it allocates does not grow with the table. Counted
//! with an allocator that tallies this thread's allocations (a change
//! copying the table, as before, allocated hundreds of KiB here).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ringbar_protocol::id::SessionId;
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};
use ringbar_router::tables::registrations::{Callee, InvokePolicy, Registrations};
use ringbar_router::tables::subscriptions::Subscriptions;

/// The creation time the tables record (any fixed time will do).
const T0: std::time::SystemTime = std::time::SystemTime::UNIX_EPOCH;

/// Tallies the bytes each thread allocates.
struct Tally;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged.
unsafe impl GlobalAlloc for Tally {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get() + layout.size()));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static TALLY: Tally = Tally;

/// Bytes this thread allocates while `f` runs.
fn allocated_by(f: impl FnOnce()) -> usize {
    let before = ALLOCATED.with(Cell::get);
    f();
    ALLOCATED.with(Cell::get) - before
}

/// What one change may allocate, whatever the table's size.
const CHANGE_BOUND: usize = 32 << 10;

fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
    UriPattern::parse(uri, policy, UriCheck::Loose).unwrap()
}

fn callee(session: u64) -> Callee {
    Callee {
        core: 0,
        session: SessionId::new(session).unwrap(),
        forward_timeout: false,
        disclose_caller: false,
        progressive_invocations: false,
    }
}

fn assert_bounded(what: &str, bytes: usize) {
    println!("{what}: {bytes} bytes allocated");
    assert!(
        bytes < CHANGE_BOUND,
        "{what} allocated {bytes} bytes (bound {CHANGE_BOUND}): it copies the table"
    );
}

#[test]
fn a_registration_in_a_big_realm_allocates_little() {
    let regs = Registrations::new(1);
    for i in 0..20_000u64 {
        let uri = format!("com.example.procedure.{i}");
        regs.register(
            pattern(&uri, MatchPolicy::Exact),
            InvokePolicy::Single,
            callee(i + 1),
            T0,
        )
        .unwrap();
    }
    let new = pattern("com.example.new", MatchPolicy::Exact);
    let mut id = None;
    let bytes = allocated_by(|| {
        id = Some(
            regs.register(new, InvokePolicy::Single, callee(99_999), T0)
                .unwrap()
                .0
                .id,
        );
    });
    assert_bounded("REGISTER beside 20,000 registrations", bytes);
    let bytes = allocated_by(|| {
        regs.unregister(id.unwrap(), callee(99_999).session);
    });
    assert_bounded("UNREGISTER beside 20,000 registrations", bytes);
}

#[test]
fn an_exact_subscription_in_a_big_realm_allocates_little() {
    let subs = Subscriptions::new(1);
    for i in 0..200_000 {
        subs.subscribe(
            pattern(&format!("com.example.topic.{i}"), MatchPolicy::Exact),
            0,
            T0,
        );
    }
    let new = pattern("com.example.new", MatchPolicy::Exact);
    let mut id = None;
    let bytes = allocated_by(|| id = Some(subs.subscribe(new, 0, T0).0.id));
    assert_bounded("SUBSCRIBE beside 200,000 exact subscriptions", bytes);
    let bytes = allocated_by(|| {
        subs.unsubscribe(id.unwrap(), 0);
    });
    assert_bounded("UNSUBSCRIBE beside 200,000 exact subscriptions", bytes);
}

#[test]
fn a_wildcard_subscription_beside_many_siblings_allocates_little() {
    let subs = Subscriptions::new(1);
    for i in 0..5_000 {
        subs.subscribe(
            pattern(&format!("com.{i}..reading"), MatchPolicy::Wildcard),
            0,
            T0,
        );
    }
    let new = pattern("com.new..reading", MatchPolicy::Wildcard);
    let mut id = None;
    let bytes = allocated_by(|| id = Some(subs.subscribe(new, 0, T0).0.id));
    assert_bounded("SUBSCRIBE beside 5,000 sibling wildcard patterns", bytes);
    let bytes = allocated_by(|| {
        subs.unsubscribe(id.unwrap(), 0);
    });
    assert_bounded("UNSUBSCRIBE beside 5,000 sibling wildcard patterns", bytes);
}
