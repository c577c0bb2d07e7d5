//! Random WAMP ids in `[1, 2^53]`, as the spec asks for global-scope ids
//! (sessions, publications, subscriptions, registrations).
//!
//! A generator is seeded by whoever makes it: the engine from the operating
//! system, a simulation from its printed seed, so a run can be replayed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringbar_protocol::id::MAX_ID;

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

    /// The next random id.
    pub fn next_id(&mut self) -> u64 {
        self.rng.random_range(1..=MAX_ID)
    }
}
