//! What a core's dealer has in flight, each with one owner whose methods
//! keep its indexes in step: [`Calls`], the calls of its callers with each
//! caller's count, and [`Invocations`], the invocations of its callees
//! with the call each serves.

use std::collections::hash_map::Entry;

use ahash::AHashMap;
use ringbar_protocol::id::{RequestId, SessionId};
use ringbar_protocol::value::Dict;

/// A call, router-wide: the caller session and its CALL request id, and a
/// serial that tells a call from a later one reusing the request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallKey {
    /// The calling session.
    pub caller: SessionId,
    /// The CALL's request id.
    pub request: RequestId,
}

/// An invocation as the callee's core tracks it.
#[derive(Debug)]
pub struct PendingInvocation {
    /// The call it serves.
    pub call: CallKey,
    /// Its serial.
    pub serial: u64,
    /// The caller's core, where answers go.
    pub caller_core: usize,
    /// The callee announced `call_canceling`.
    pub interruptible: bool,
    /// A `kill` cancel was passed on: the caller's core waits for the
    /// callee's answer.
    pub killed: bool,
    /// While the caller sends progressive CALLs: the first INVOCATION's
    /// details, which every later part repeats (only `progress` changes).
    pub progressive_details: Option<Dict>,
}

/// The calls in flight on one core, by (caller, request). `P` is what the
/// driver keeps of a call (who waits for its answer, its timer, ...).
#[derive(Debug)]
pub struct Calls<P> {
    by_key: AHashMap<CallKey, P>,
    /// Calls in flight per caller; a caller with none has no entry.
    per_caller: AHashMap<SessionId, usize>,
}

impl<P> Default for Calls<P> {
    fn default() -> Self {
        Self {
            by_key: AHashMap::new(),
            per_caller: AHashMap::new(),
        }
    }
}

impl<P> Calls<P> {
    /// Tracks a new call (its key is not in flight: the caller checks).
    pub fn insert(&mut self, key: CallKey, pending: P) {
        if self.by_key.insert(key, pending).is_none() {
            *self.per_caller.entry(key.caller).or_default() += 1;
        }
    }

    /// Stops tracking call `key`; it, if it was in flight.
    pub fn remove(&mut self, key: &CallKey) -> Option<P> {
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
    pub fn get(&self, key: &CallKey) -> Option<&P> {
        self.by_key.get(key)
    }

    /// Call `key`, to change, if in flight.
    pub fn get_mut(&mut self, key: &CallKey) -> Option<&mut P> {
        self.by_key.get_mut(key)
    }

    /// Whether call `key` is in flight.
    pub fn contains(&self, key: &CallKey) -> bool {
        self.by_key.contains_key(key)
    }

    /// How many calls `caller` has in flight.
    pub fn in_flight(&self, caller: SessionId) -> usize {
        self.per_caller.get(&caller).copied().unwrap_or(0)
    }

    /// The keys of `caller`'s calls, in request order (not the map's,
    /// which is seeded at random: the same input gives the same messages).
    pub fn of_caller(&self, caller: SessionId) -> Vec<CallKey> {
        if self.in_flight(caller) == 0 {
            return Vec::new();
        }
        in_request_order(&self.by_key, |k| k.caller == caller, |k| k.request)
    }

    /// How many calls are in flight.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no call is in flight.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Checks that the counts agree with the calls (O(n): for the
    /// simulation's checks after every step, not for the hot path).
    pub fn check(&self) -> Result<(), String> {
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

/// An invocation's key: the callee and the INVOCATION's request id.
pub type InvocationKey = (SessionId, RequestId);

/// The invocations in flight on one core. How many each callee has is
/// the callee's own count (`Callees`), which the invocation's one lookup
/// of its callee reads and bumps anyway.
#[derive(Debug, Default)]
pub struct Invocations {
    by_key: AHashMap<InvocationKey, PendingInvocation>,
    /// The invocation serving each call (for cancels and progressive
    /// calls); a call id used again after a `skip` cancel maps to the
    /// newer invocation.
    by_call: AHashMap<CallKey, InvocationKey>,
}

impl Invocations {
    /// Tracks a new invocation (its key is fresh: the callee's request
    /// counter made it).
    pub fn insert(&mut self, key: InvocationKey, pending: PendingInvocation) {
        self.by_call.insert(pending.call, key);
        self.by_key.insert(key, pending);
    }

    /// Stops tracking invocation `key`; it, if it was in flight.
    pub fn remove(&mut self, key: &InvocationKey) -> Option<PendingInvocation> {
        let invocation = self.by_key.remove(key)?;
        if let Entry::Occupied(serving) = self.by_call.entry(invocation.call)
            && serving.get() == key
        {
            serving.remove();
        }
        Some(invocation)
    }

    /// The invocation serving `call`, if one is in flight.
    pub fn of_call(&self, call: &CallKey) -> Option<InvocationKey> {
        self.by_call.get(call).copied()
    }

    /// Invocation `key`, if in flight.
    pub fn get(&self, key: &InvocationKey) -> Option<&PendingInvocation> {
        self.by_key.get(key)
    }

    /// Invocation `key`, to change, if in flight.
    pub fn get_mut(&mut self, key: &InvocationKey) -> Option<&mut PendingInvocation> {
        self.by_key.get_mut(key)
    }

    /// The keys of `callee`'s invocations, in request order (not the
    /// map's: the same input gives the same messages). O(n): for a callee
    /// that leaves.
    pub fn of_callee(&self, callee: SessionId) -> Vec<InvocationKey> {
        in_request_order(&self.by_key, |k| k.0 == callee, |k| k.1)
    }

    /// How many invocations each callee has in flight (O(n): for checks).
    pub fn count_per_callee(&self) -> AHashMap<SessionId, usize> {
        let mut counted: AHashMap<SessionId, usize> = AHashMap::new();
        for key in self.by_key.keys() {
            *counted.entry(key.0).or_default() += 1;
        }
        counted
    }

    /// How many invocations are in flight, and how many calls map to one.
    pub fn len(&self) -> (usize, usize) {
        (self.by_key.len(), self.by_call.len())
    }

    /// Checks the call index against the invocations (O(n): for the
    /// simulation's checks after every step).
    pub fn check(&self) -> Result<(), String> {
        for (call, key) in &self.by_call {
            if self.by_key.get(key).map(|i| i.call) != Some(*call) {
                return Err("the invocation of a call is not one in flight for it".to_owned());
            }
        }
        Ok(())
    }
}

/// The keys of `map` that `select` picks, ordered by their request id.
fn in_request_order<K: Copy, V>(
    map: &AHashMap<K, V>,
    select: impl Fn(&K) -> bool,
    request: impl Fn(&K) -> RequestId,
) -> Vec<K> {
    let mut keys: Vec<K> = map.keys().filter(|k| select(k)).copied().collect();
    keys.sort_unstable_by_key(|k| request(k));
    keys
}

#[cfg(test)]
mod tests {
    use ringbar_protocol::id::RequestId;

    use super::*;

    fn key(caller: u64, request: u64) -> CallKey {
        CallKey {
            caller: SessionId::new(caller).unwrap(),
            request: RequestId::new(request).unwrap(),
        }
    }

    /// What a driver keeps of a call, in these tests: its serial.
    fn pending(serial: u64) -> u64 {
        serial
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
        assert_eq!(calls.remove(&key(1, 3)), Some(1));
        assert!(calls.remove(&key(1, 3)).is_none(), "removed once");
        assert_eq!(calls.in_flight(SessionId::new(1).unwrap()), 1);
        calls.remove(&key(1, 2));
        assert_eq!(calls.in_flight(SessionId::new(1).unwrap()), 0);
        assert!(calls.of_caller(SessionId::new(1).unwrap()).is_empty());
        assert!(calls.per_caller.get(&SessionId::new(1).unwrap()).is_none());
        assert_eq!(calls.len(), 1);
        assert!(calls.check().is_ok());
    }

    fn invocation(call: CallKey) -> PendingInvocation {
        PendingInvocation {
            call,
            serial: 1,
            caller_core: 0,
            interruptible: true,
            killed: false,
            progressive_details: None,
        }
    }

    #[test]
    fn an_invocation_is_found_by_its_call_until_it_ends() {
        let mut invocations = Invocations::default();
        let callee = SessionId::new(5).unwrap();
        let first = (callee, RequestId::new(1).unwrap());
        let second = (callee, RequestId::new(2).unwrap());
        invocations.insert(first, invocation(key(1, 7)));
        assert_eq!(invocations.of_call(&key(1, 7)), Some(first));
        // the caller's request id used again after a `skip` cancel: the
        // call maps to the newer invocation, which the old one's end keeps
        invocations.insert(second, invocation(key(1, 7)));
        assert_eq!(invocations.of_callee(callee), [first, second]);
        assert!(invocations.remove(&first).is_some());
        assert_eq!(invocations.of_call(&key(1, 7)), Some(second));
        assert_eq!(invocations.count_per_callee().get(&callee), Some(&1));
        assert!(invocations.check().is_ok());
        assert!(invocations.remove(&second).is_some());
        assert_eq!(invocations.of_call(&key(1, 7)), None);
        assert_eq!(invocations.len(), (0, 0));
        assert!(invocations.count_per_callee().is_empty());
    }

    #[test]
    fn a_count_without_its_call_fails_the_check() {
        let mut calls = Calls::<u64>::default();
        calls.per_caller.insert(SessionId::new(7).unwrap(), 1);
        assert!(calls.check().is_err());
    }
}
