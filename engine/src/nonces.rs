//! [`SeenNonces`]: replay protection for signed REST bridge requests.
//!
//! Crossbar.io checks a signed request's timestamp but not its nonce, so a
//! captured request can be sent again, unchanged, for as long as its
//! timestamp is within `timestamp_delta_limit`. ringbar remembers each
//! nonce until its request's timestamp leaves that window and refuses a
//! request whose nonce it still remembers.

use std::sync::{Arc, Mutex};

use ahash::{AHashMap, RandomState};

/// The most nonces one service remembers (about 16 bytes each, so at most
/// some 30 MiB). When every one is still within its window, new signed
/// requests are refused until the oldest expire: a replay is never let
/// through to make room. A service that takes more than this many signed
/// requests per `timestamp_delta_limit` needs a shorter limit.
pub(crate) const MAX_SEEN_NONCES: usize = 900_000;

/// The nonces of a service's recent signed requests. Clones share them: the
/// config is copied to every core, and a request replayed to another core
/// must be refused too.
#[derive(Clone, Default)]
pub struct SeenNonces(Arc<Mutex<Window>>);

impl std::fmt::Debug for SeenNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeenNonces")
    }
}

/// What [`SeenNonces::record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// A nonce not seen within its window: now remembered.
    New,
    /// A nonce still remembered: the request is a replay.
    Replayed,
    /// No room: [`MAX_SEEN_NONCES`] nonces are all within their windows.
    Full,
}

#[derive(Default)]
struct Window {
    /// A keyed hash of each nonce, to when it may be used again (Unix
    /// seconds). A collision (one in 2^64 per pair) refuses a fresh
    /// request, never admits a replay.
    expiries: AHashMap<u64, u64>,
    /// Hashes nonces; its keys are random, so nobody can aim collisions.
    hasher: RandomState,
    /// When pruning can next free anything (the earliest expiry left after
    /// the last prune), so a full window is not scanned on every request.
    prune_at_s: u64,
}

impl SeenNonces {
    /// Remembers `nonce` until `expires_s`, unless it is remembered already;
    /// `now_s` is the current time (both Unix seconds).
    pub(crate) fn record(&self, nonce: i128, expires_s: u64, now_s: u64) -> Recorded {
        let mut window = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = window.hasher.hash_one(nonce);
        if window
            .expiries
            .get(&key)
            .is_some_and(|&until| until > now_s)
        {
            return Recorded::Replayed;
        }
        if window.expiries.len() >= MAX_SEEN_NONCES && now_s >= window.prune_at_s {
            window.expiries.retain(|_, until| *until > now_s);
            window.prune_at_s = window.expiries.values().copied().min().unwrap_or(0);
        }
        if window.expiries.len() >= MAX_SEEN_NONCES && !window.expiries.contains_key(&key) {
            return Recorded::Full;
        }
        window.expiries.insert(key, expires_s);
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
        let cap = i128::try_from(MAX_SEEN_NONCES).unwrap();
        for nonce in 0..cap {
            assert_eq!(seen.record(nonce, 2000, 1000), Recorded::New);
        }
        assert_eq!(seen.record(cap, 2000, 1000), Recorded::Full);
        assert_eq!(seen.record(0, 2000, 1000), Recorded::Replayed);
        assert_eq!(seen.record(cap, 3000, 2000), Recorded::New);
        let window = seen.0.lock().unwrap();
        assert_eq!(window.expiries.len(), 1);
    }
}
