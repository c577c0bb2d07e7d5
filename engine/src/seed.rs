//! Seeds for the router's id generators, from the operating system: the
//! router crate draws ids from seeded generators and never reads the OS.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// A seed no peer can guess.
pub(crate) fn from_os() -> u64 {
    StdRng::from_os_rng().next_u64()
}
