//! Seeds for the router's id generators. A real router draws them from the
//! operating system (ids no peer can guess); a simulation draws them from
//! its one printed seed, so that a run can be replayed. The router crate
//! draws ids from seeded generators and never reads the OS.

use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Where the id generators' seeds come from; cheap to clone, shared by the
/// realms (their subscription and registration tables) and the cores
/// (session and publication ids).
#[derive(Clone)]
pub enum Seeds {
    /// The operating system's randomness.
    Os,
    /// A sequence that follows from one number.
    Replay(Arc<Mutex<StdRng>>),
}

impl Seeds {
    /// Seeds that follow from `seed`: the same seed, the same ids.
    pub fn replay(seed: u64) -> Self {
        Self::Replay(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    /// The next seed.
    pub fn next(&self) -> u64 {
        match self {
            Self::Os => StdRng::from_os_rng().next_u64(),
            Self::Replay(rng) => rng.lock().unwrap_or_else(|e| e.into_inner()).next_u64(),
        }
    }
}
