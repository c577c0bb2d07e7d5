//! The callees of one core: each session that registered a procedure, the
//! registrations it provides, and the request ids of the INVOCATIONs it
//! gets. A callee stays until its session leaves, even with no
//! registration left: its invocations in flight keep their ids, and a new
//! registration must not start the count again and reuse one.

use ahash::AHashMap;
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId};

use crate::slab::Key;

/// The largest request id (the spec's ids are below 2⁵³); a callee's
/// count starts again at 1 after it.
const MAX_REQUEST: u64 = 1 << 53;

/// A session on this core that provides procedures.
#[derive(Debug)]
struct Callee {
    /// Where the session is on its core.
    key: Key,
    /// The registrations it provides.
    registrations: Vec<RegistrationId>,
    /// The next INVOCATION request id it gets.
    next_request: u64,
    /// Calls refused because it was overloaded.
    refused: u64,
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

    /// The request id of the next INVOCATION to `session`.
    pub fn next_request(&mut self, session: SessionId) -> Option<RequestId> {
        let callee = self.by_session.get_mut(&session)?;
        let request = callee.next_request;
        callee.next_request = if request >= MAX_REQUEST {
            1
        } else {
            request + 1
        };
        RequestId::new(request)
    }

    /// Counts a call refused because `session` was overloaded; returns the
    /// count (logged at powers of two, not once per call).
    pub fn refuse(&mut self, session: SessionId) -> u64 {
        self.by_session.get_mut(&session).map_or(0, |callee| {
            callee.refused += 1;
            callee.refused
        })
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

    /// Whether no callee lists a registration twice.
    pub fn check(&self) -> Result<(), String> {
        for (session, callee) in &self.by_session {
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
        assert_eq!(callees.next_request(session), RequestId::new(1));
        assert!(callees.remove(session, registration(1)));
        assert!(!callees.remove(session, registration(1)), "removed once");
        assert_eq!(callees.registrations(session), 0);
        callees.add(session, key, registration(2));
        assert_eq!(callees.next_request(session), RequestId::new(2));
        assert_eq!(callees.key(session), Some(key));
        assert_eq!(callees.remove_session(session), Some(vec![registration(2)]));
        assert!(callees.is_empty());
        assert_eq!(callees.next_request(session), None);
    }

    #[test]
    fn request_ids_start_again_at_one_after_the_largest() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        callees.add(session, key, registration(1));
        if let Some(callee) = callees.by_session.get_mut(&session) {
            callee.next_request = MAX_REQUEST;
        }
        assert_eq!(callees.next_request(session), RequestId::new(MAX_REQUEST));
        assert_eq!(callees.next_request(session), RequestId::new(1));
    }

    #[test]
    fn refusals_are_counted_per_callee() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        assert_eq!(callees.refuse(session), 0, "not a callee");
        callees.add(session, key, registration(1));
        assert_eq!(callees.refuse(session), 1);
        assert_eq!(callees.refuse(session), 2);
    }

    #[test]
    fn check_finds_a_registration_listed_twice() {
        let (session, key) = ids();
        let mut callees = Callees::default();
        callees.add(session, key, registration(1));
        assert_eq!(callees.check(), Ok(()));
        callees.add(session, key, registration(1));
        assert!(callees.check().is_err());
    }
}
