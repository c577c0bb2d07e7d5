//! Cache hints for fan-out: a publication goes to every subscriber's
//! session, connection and queue, each in memory of its own, and at a
//! thousand subscribers these no longer fit in the core's cache. Asking
//! for them a few subscribers ahead lets the loads overlap instead of
//! each stalling the core in turn.

/// The bytes of a cache line (x86-64's, and most others').
pub const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading the cache line holding `at`. A hint: it
/// reads nothing the program sees and cannot fault, whatever the address
/// (dangling included); a no-op on targets other than x86-64.
#[inline(always)]
pub fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 has no architectural effect and never faults;
    // SSE, which it needs, is part of x86-64's baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
