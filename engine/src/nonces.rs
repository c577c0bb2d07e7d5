//! [`SeenNonces`]: replay protection for signed REST bridge requests.
//!
//! Crossbar.io checks a signed request's timestamp but not its nonce, so a
//! captured request can be sent again, unchanged, for as long as its
//! timestamp is within `timestamp_delta_limit`. ringbar remembers each
//! nonce until its request's timestamp leaves that window and refuses a
//! request whose nonce it still remembers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ahash::{AHashSet, RandomState};

/// How many nonces a service remembers unless its `max_nonces` says
/// otherwise (an estimated 16–32 bytes each, with the tables' spare room).
pub const DEFAULT_MAX_NONCES: usize = 900_000;

/// The nonces of a service's recent signed requests, at most as many as it
/// was made with. When every one is still within its window, new signed
/// requests are refused until the oldest expire: a replay is never let
/// through to make room. Clones share them: the config is copied to every
/// core, and a request replayed to another core must be refused too.
#[derive(Clone)]
pub struct SeenNonces(Arc<Mutex<Window>>);

impl std::fmt::Debug for SeenNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeenNonces")
    }
}

impl Default for SeenNonces {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_NONCES)
    }
}

/// What [`SeenNonces::record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// A nonce not seen within its window: now remembered.
    New,
    /// A nonce still remembered: the request is a replay.
    Replayed,
    /// No room: as many nonces as allowed are all within their windows.
    Full,
}

struct Window {
    /// A keyed hash of each remembered nonce. A collision (one in 2^64 per
    /// pair) refuses a fresh request, never admits a replay.
    keys: AHashSet<u64>,
    /// The same hashes by the second they may be used again (Unix
    /// seconds), so forgetting the expired ones costs only what they are.
    expiring: BTreeMap<u64, Vec<u64>>,
    /// Hashes nonces; its keys are random, so nobody can aim collisions.
    hasher: RandomState,
    /// The most nonces remembered.
    max: usize,
}

impl SeenNonces {
    /// Remembers at most `max` nonces.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Mutex::new(Window {
            keys: AHashSet::new(),
            expiring: BTreeMap::new(),
            hasher: RandomState::new(),
            max,
        })))
    }

    /// Remembers `nonce` until `expires_s`, unless it is remembered already;
    /// `now_s` is the current time (both Unix seconds).
    pub(crate) fn record(&self, nonce: i128, expires_s: u64, now_s: u64) -> Recorded {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let window = &mut *guard;
        while let Some(entry) = window.expiring.first_entry()
            && *entry.key() <= now_s
        {
            for key in entry.remove() {
                window.keys.remove(&key);
            }
        }
        let key = window.hasher.hash_one(nonce);
        if window.keys.contains(&key) {
            return Recorded::Replayed;
        }
        if window.keys.len() >= window.max {
            return Recorded::Full;
        }
        window.keys.insert(key);
        window.expiring.entry(expires_s).or_default().push(key);
        Recorded::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_until_its_window_ends() {
        let seen = SeenNonces::default();
        assert_eq!(seen.record(42, 1300, 1000), Recorded::New);
        assert_eq!(seen.record(42, 1301, 1200), Recorded::Replayed);
        assert_eq!(seen.clone().record(42, 1301, 1299), Recorded::Replayed);
        assert_eq!(seen.record(43, 1300, 1000), Recorded::New);
        assert_eq!(seen.record(42, 1700, 1300), Recorded::New);
        assert_eq!(seen.record(42, 1700, 1301), Recorded::Replayed);
    }

    #[test]
    fn a_full_window_refuses_until_nonces_expire_and_stays_bounded() {
        let seen = SeenNonces::default();
        let cap = i128::try_from(DEFAULT_MAX_NONCES).unwrap();
        for nonce in 0..cap {
            assert_eq!(seen.record(nonce, 2000, 1000), Recorded::New);
        }
        assert_eq!(seen.record(cap, 2000, 1000), Recorded::Full);
        assert_eq!(seen.record(0, 2000, 1000), Recorded::Replayed);
        assert_eq!(seen.record(cap, 3000, 2000), Recorded::New);
        let window = seen.0.lock().unwrap();
        assert_eq!((window.keys.len(), window.expiring.len()), (1, 1));
    }

    #[test]
    fn nonces_are_forgotten_second_by_second_as_they_expire() {
        let seen = SeenNonces::new(3);
        assert_eq!(seen.record(1, 1010, 1000), Recorded::New);
        assert_eq!(seen.record(2, 1011, 1000), Recorded::New);
        assert_eq!(seen.record(3, 1012, 1000), Recorded::New);
        assert_eq!(seen.record(4, 1012, 1009), Recorded::Full);
        // At 1010 the first expired: its room is free, the others are not.
        assert_eq!(seen.record(4, 1013, 1010), Recorded::New);
        assert_eq!(seen.record(2, 1013, 1010), Recorded::Replayed);
        assert_eq!(seen.record(1, 1013, 1010), Recorded::Full);
        assert_eq!(seen.record(1, 1014, 1011), Recorded::New);
        let window = seen.0.lock().unwrap();
        assert_eq!(window.keys.len(), 3);
        assert_eq!(
            window.expiring.keys().copied().collect::<Vec<_>>(),
            [1012, 1013, 1014]
        );
    }
}
