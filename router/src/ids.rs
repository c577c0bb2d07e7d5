//! Random WAMP ids: global-scope ids (sessions, publications) in
//! `[1, 2^53]`, as the spec asks, and router-scope ids (subscriptions,
//! registrations) in `[1, 2^31)`.
//!
//! The spec lets a router choose router-scope ids freely. They travel in
//! every EVENT and INVOCATION, so their size is paid once per delivered
//! message: below 2^31 an id is at most 10 JSON digits and 5 MessagePack or
//! CBOR bytes, against 16 and 9 for one drawn over 53 bits. Drawn at random,
//! they still reveal nothing about how many there were, and 31 bits also fit
//! the 32-bit integers of small devices.
//!
//! A generator is seeded by whoever makes it: the engine from the operating
//! system, a simulation from its printed seed, so a run can be replayed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringbar_protocol::id::MAX_ID;

/// The largest router-scope id drawn (see the module doc).
pub const MAX_ROUTER_SCOPE_ID: u64 = (1 << 31) - 1;

/// An id generator (one per core thread or per table writer: no locking).
pub struct IdGenerator {
    rng: StdRng,
}

impl IdGenerator {
    /// A generator whose ids follow from `seed`.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The next random global-scope id.
    pub fn next_id(&mut self) -> u64 {
        self.rng.random_range(1..=MAX_ID)
    }

    /// The next random router-scope id.
    fn next_router_scope_id(&mut self) -> u64 {
        self.rng.random_range(1..=MAX_ROUTER_SCOPE_ID)
    }

    /// A random router-scope id, as `make` types it, that `taken` (the
    /// live ones) does not hold: what a table gives a new entry.
    pub fn fresh_router_scope_id<I>(
        &mut self,
        make: impl Fn(u64) -> Option<I>,
        taken: impl Fn(&I) -> bool,
    ) -> I {
        loop {
            if let Some(id) = make(self.next_router_scope_id())
                && !taken(&id)
            {
                return id;
            }
        }
    }
}
