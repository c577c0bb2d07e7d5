//! The calls of a core's callers, with the count of each caller's calls:
//! one owner, so the two cannot drift apart (they were two maps kept in
//! step by hand in three files).

use ahash::AHashMap;
use ringbar_protocol::id::SessionId;

use super::calls::{CallKey, PendingCall};

/// The calls in flight on one core, by (caller, request).
#[derive(Default)]
pub(crate) struct Calls {
    by_key: AHashMap<CallKey, PendingCall>,
    /// Calls in flight per caller; a caller with none has no entry.
    per_caller: AHashMap<SessionId, usize>,
}

impl Calls {
    /// Tracks a new call (its key is not in flight: the caller checks).
    pub(crate) fn insert(&mut self, key: CallKey, pending: PendingCall) {
        if self.by_key.insert(key, pending).is_none() {
            *self.per_caller.entry(key.caller).or_default() += 1;
        }
    }

    /// Stops tracking call `key`; it, if it was in flight.
    pub(crate) fn remove(&mut self, key: &CallKey) -> Option<PendingCall> {
        let pending = self.by_key.remove(key)?;
        if let Some(n) = self.per_caller.get_mut(&key.caller) {
            *n -= 1;
            if *n == 0 {
                self.per_caller.remove(&key.caller);
            }
        }
        Some(pending)
    }

    /// Call `key`, if in flight.
    pub(crate) fn get(&self, key: &CallKey) -> Option<&PendingCall> {
        self.by_key.get(key)
    }

    /// Call `key`, to change, if in flight.
    pub(crate) fn get_mut(&mut self, key: &CallKey) -> Option<&mut PendingCall> {
        self.by_key.get_mut(key)
    }

    /// Whether call `key` is in flight.
    pub(crate) fn contains(&self, key: &CallKey) -> bool {
        self.by_key.contains_key(key)
    }

    /// How many calls `caller` has in flight.
    pub(crate) fn in_flight(&self, caller: SessionId) -> usize {
        self.per_caller.get(&caller).copied().unwrap_or(0)
    }

    /// The keys of `caller`'s calls, in request order (not the map's,
    /// which is seeded at random: the same input gives the same messages).
    pub(crate) fn of_caller(&self, caller: SessionId) -> Vec<CallKey> {
        if self.in_flight(caller) == 0 {
            return Vec::new();
        }
        let mut keys: Vec<CallKey> = self
            .by_key
            .keys()
            .filter(|k| k.caller == caller)
            .copied()
            .collect();
        keys.sort_unstable_by_key(|k| k.request);
        keys
    }

    /// How many calls are in flight.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Checks that the counts agree with the calls (O(n): for the
    /// simulation's checks after every step, not for the hot path).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut counted: AHashMap<SessionId, usize> = AHashMap::new();
        for key in self.by_key.keys() {
            *counted.entry(key.caller).or_default() += 1;
        }
        if counted == self.per_caller {
            Ok(())
        } else {
            Err(format!(
                "calls counted per caller != calls in flight ({} callers counted, {} with calls)",
                self.per_caller.len(),
                counted.len()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use ringbar_protocol::id::{RegistrationId, RequestId};

    use super::*;
    use crate::dealer::calls::Caller;

    fn key(caller: u64, request: u64) -> CallKey {
        CallKey {
            caller: SessionId::new(caller).unwrap(),
            request: RequestId::new(request).unwrap(),
        }
    }

    fn pending(serial: u64) -> PendingCall {
        PendingCall {
            caller: Caller::Router(None),
            serial,
            callee_core: 0,
            callee: SessionId::new(99).unwrap(),
            registration: RegistrationId::new(1).unwrap(),
            timer: None,
            receive_progress: false,
            progressive: false,
        }
    }

    #[test]
    fn counts_follow_the_calls() {
        let mut calls = Calls::default();
        calls.insert(key(1, 3), pending(1));
        calls.insert(key(1, 2), pending(2));
        calls.insert(key(2, 1), pending(3));
        assert_eq!(calls.in_flight(SessionId::new(1).unwrap()), 2);
        assert_eq!(
            calls.of_caller(SessionId::new(1).unwrap()),
            [key(1, 2), key(1, 3)]
        );
        assert!(calls.check().is_ok());
        assert_eq!(calls.remove(&key(1, 3)).map(|p| p.serial), Some(1));
        assert!(calls.remove(&key(1, 3)).is_none(), "removed once");
        assert_eq!(calls.in_flight(SessionId::new(1).unwrap()), 1);
        calls.remove(&key(1, 2));
        assert_eq!(calls.in_flight(SessionId::new(1).unwrap()), 0);
        assert!(calls.of_caller(SessionId::new(1).unwrap()).is_empty());
        assert!(calls.per_caller.get(&SessionId::new(1).unwrap()).is_none());
        assert_eq!(calls.len(), 1);
        assert!(calls.check().is_ok());
    }

    #[test]
    fn a_count_without_its_call_fails_the_check() {
        let mut calls = Calls::default();
        calls.per_caller.insert(SessionId::new(7).unwrap(), 1);
        assert!(calls.check().is_err());
    }
}
