//! Random WAMP ids in `[1, 2^53]`, as the spec asks for global-scope ids
//! (sessions, publications).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringbar_protocol::id::MAX_ID;

/// A core's id generator (one per core thread: no locking).
pub(crate) struct IdGenerator {
    rng: StdRng,
}

impl IdGenerator {
    /// A generator seeded from the operating system.
    pub(crate) fn new() -> Self {
        Self {
            rng: StdRng::from_os_rng(),
        }
    }

    /// The next random id.
    pub(crate) fn next(&mut self) -> u64 {
        self.rng.random_range(1..=MAX_ID)
    }
}
