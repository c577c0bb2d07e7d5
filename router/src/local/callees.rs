//! The callees of one core: each session that registered a procedure, the
//! registrations it provides, the request ids of the INVOCATIONs it gets
//! and how many it has in flight. A callee stays until its session leaves,
//! even with no registration left: its invocations in flight keep their
//! ids, and a new registration must not start the count again and reuse
//! one.

use ahash::AHashMap;
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId};

use crate::slab::Key;

/// The largest request id (the spec's ids are below 2⁵³); a callee's
/// count starts again at 1 after it.
const MAX_REQUEST: u64 = 1 << 53;

/// A session on this core that provides procedures: what the dealer
/// reads and counts for each INVOCATION, found with one lookup.
#[derive(Debug)]
pub struct Callee {
    /// Where the session is on its core.
    key: Key,
    /// The registrations it provides.
    registrations: Vec<RegistrationId>,
    /// The next INVOCATION request id it gets.
    next_request: u64,
    /// Its invocations in flight (taken and not yet ended).
    in_flight: usize,
    /// Calls refused because it was overloaded.
    refused: u64,
}

impl Callee {
    /// Where the session is on its core.
    pub fn key(&self) -> Key {
        self.key
    }

    /// How many of its invocations are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The request id of its next INVOCATION, counted in flight until
    /// [`Callees::invocation_ended`].
    pub fn take_request(&mut self) -> Option<RequestId> {
        let request = self.next_request;
        self.next_request = if request >= MAX_REQUEST {
            1
        } else {
            request + 1
        };
        let id = RequestId::new(request)?;
        self.in_flight += 1;
        Some(id)
    }

    /// Counts a call refused because it was overloaded; returns the count
    /// (logged at powers of two, not once per call).
    pub fn refuse(&mut self) -> u64 {
        self.refused += 1;
        self.refused
    }
}

/// A core's callees, by session.
#[derive(Debug, Default)]
pub struct Callees {
    by_session: AHashMap<SessionId, Callee>,
}

impl Callees {
    /// How many registrations `session` provides.
    pub fn registrations(&self, session: SessionId) -> usize {
        self.by_session
            .get(&session)
            .map_or(0, |callee| callee.registrations.len())
    }

    /// `session` (at `key` on this core) provides `registration` now.
    pub fn add(&mut self, session: SessionId, key: Key, registration: RegistrationId) {
        self.by_session
            .entry(session)
            .or_insert(Callee {
                key,
                registrations: Vec::new(),
                next_request: 1,
                in_flight: 0,
                refused: 0,
            })
            .registrations
            .push(registration);
    }

    /// `session` no longer provides `registration`; whether it did.
    pub fn remove(&mut self, session: SessionId, registration: RegistrationId) -> bool {
        let Some(callee) = self.by_session.get_mut(&session) else {
            return false;
        };
        let Some(at) = callee.registrations.iter().position(|r| *r == registration) else {
            return false;
        };
        callee.registrations.swap_remove(at);
        true
    }

    /// Where callee `session` is on this core, if it is a callee here.
    pub fn key(&self, session: SessionId) -> Option<Key> {
        self.by_session.get(&session).map(|callee| callee.key)
    }

    /// Callee `session`, to take a request id from or refuse a call for.
    pub fn get_mut(&mut self, session: SessionId) -> Option<&mut Callee> {
        self.by_session.get_mut(&session)
    }

    /// One invocation of `session` ended (a callee that left counts
    /// nothing any more).
    pub fn invocation_ended(&mut self, session: SessionId) {
        if let Some(callee) = self.by_session.get_mut(&session) {
            callee.in_flight = callee.in_flight.saturating_sub(1);
        }
    }

    /// `session` leaves: the registrations it provided, if it was a callee.
    pub fn remove_session(&mut self, session: SessionId) -> Option<Vec<RegistrationId>> {
        self.by_session
            .remove(&session)
            .map(|callee| callee.registrations)
    }

    /// How many sessions are callees here: 0 once every session left.
    pub fn len(&self) -> usize {
        self.by_session.len()
    }

    /// Whether no session is a callee here.
    pub fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }

    /// Whether no callee lists a registration twice, and each counts the
    /// invocations in flight `in_flight` gives for it (O(n): for the
    /// simulation's checks after every step).
    pub fn check(&self, in_flight: impl Fn(SessionId) -> usize) -> Result<(), String> {
        for (session, callee) in &self.by_session {
            if callee.in_flight != in_flight(*session) {
                return Err(format!(
                    "callee {session} counts {} invocations in flight, {} are",
                    callee.in_flight,
                    in_flight(*session)
                ));
            }
            let mut seen = callee.registrations.clone();
            seen.sort_unstable_by_key(|r| r.get());
            seen.dedup();
            if seen.len() != callee.registrations.len() {
                return Err(format!("callee {session} lists a registration twice"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::Slab;

    fn ids() -> (SessionId, Key) {
        let mut slab = Slab::default();
        (
            SessionId::new(3).unwrap(),
            slab.insert_with(|_| ()).unwrap(),
        )
    }

    fn registration(n: u64) -> RegistrationId {
        RegistrationId::new(n).unwrap()
    }

    #[test]
    fn a_callee_keeps_counting_requests_after_its_last_unregister() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        callees.add(session, key, registration(1));
        assert_eq!(take(&mut callees, session), RequestId::new(1));
        assert!(callees.remove(session, registration(1)));
        assert!(!callees.remove(session, registration(1)), "removed once");
        assert_eq!(callees.registrations(session), 0);
        callees.add(session, key, registration(2));
        assert_eq!(take(&mut callees, session), RequestId::new(2));
        assert_eq!(callees.key(session), Some(key));
        assert_eq!(callees.remove_session(session), Some(vec![registration(2)]));
        assert!(callees.is_empty());
        assert_eq!(take(&mut callees, session), None);
    }

    fn take(callees: &mut Callees, session: SessionId) -> Option<RequestId> {
        callees.get_mut(session)?.take_request()
    }

    #[test]
    fn invocations_are_counted_until_they_end() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        callees.add(session, key, registration(1));
        take(&mut callees, session);
        take(&mut callees, session);
        assert_eq!(callees.get_mut(session).map(|c| c.in_flight()), Some(2));
        assert_eq!(callees.check(|_| 2), Ok(()));
        assert!(callees.check(|_| 1).is_err(), "a count off by one");
        callees.invocation_ended(session);
        assert_eq!(callees.get_mut(session).map(|c| c.in_flight()), Some(1));
        callees.invocation_ended(SessionId::new(99).unwrap());
        assert_eq!(callees.check(|_| 1), Ok(()), "another session's end");
    }

    #[test]
    fn request_ids_start_again_at_one_after_the_largest() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        callees.add(session, key, registration(1));
        if let Some(callee) = callees.by_session.get_mut(&session) {
            callee.next_request = MAX_REQUEST;
        }
        assert_eq!(take(&mut callees, session), RequestId::new(MAX_REQUEST));
        assert_eq!(take(&mut callees, session), RequestId::new(1));
    }

    #[test]
    fn refusals_are_counted_per_callee() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        assert!(callees.get_mut(session).is_none(), "not a callee");
        callees.add(session, key, registration(1));
        assert_eq!(callees.get_mut(session).map(Callee::refuse), Some(1));
        assert_eq!(callees.get_mut(session).map(Callee::refuse), Some(2));
    }

    #[test]
    fn check_finds_a_registration_listed_twice() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        callees.add(session, key, registration(1));
        assert_eq!(callees.check(|_| 0), Ok(()));
        callees.add(session, key, registration(1));
        assert!(callees.check(|_| 0).is_err());
    }
}
