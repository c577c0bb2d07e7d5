//! Testaments (WAMP spec, Testament Meta API): events a session leaves
//! with the router, published when the session goes, however it goes.
//!
//! They are kept on the session's core, in two scopes, `detached` and
//! `destroyed`; ringbar has no session resumption, so a session that goes
//! is both, and its `detached` testaments are published before its
//! `destroyed` ones, each scope in the order they were added.

use std::collections::HashMap;

use ringbar_protocol::id::SessionId;
use ringbar_protocol::message::Payload;
use ringbar_protocol::options::PublishOptions;
use ringbar_protocol::str::Str;

/// When a testament is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// When the session detaches from its transport.
    Detached,
    /// When the session is destroyed (the default).
    Destroyed,
}

impl Scope {
    /// The `scope` keyword argument: `detached`, `destroyed`, or absent.
    pub fn parse(scope: Option<&str>) -> Option<Self> {
        match scope {
            None | Some("destroyed") => Some(Scope::Destroyed),
            Some("detached") => Some(Scope::Detached),
            Some(_) => None,
        }
    }
}

/// One testament: an event ready to publish.
#[derive(Debug)]
pub struct Testament {
    /// Its topic (checked when it was added).
    pub topic: Str,
    /// Its arguments, in the session's serializer.
    pub payload: Payload,
    /// Its `publish_options`.
    pub options: PublishOptions,
}

/// The testaments of one core's sessions.
#[derive(Debug, Default)]
pub struct Testaments {
    by_session: HashMap<SessionId, [Vec<Testament>; 2]>,
}

fn slot(scope: Scope) -> usize {
    match scope {
        Scope::Detached => 0,
        Scope::Destroyed => 1,
    }
}

impl Testaments {
    /// Adds a testament; false when the session already keeps `max` of its
    /// scope (`limits.max_testaments_per_session`).
    pub fn add(
        &mut self,
        session: SessionId,
        scope: Scope,
        testament: Testament,
        max: usize,
    ) -> bool {
        let scopes = self.by_session.entry(session).or_default();
        let Some(list) = scopes.get_mut(slot(scope)) else {
            return false;
        };
        if list.len() >= max {
            return false;
        }
        list.push(testament);
        true
    }

    /// Removes the testaments of one scope; returns how many there were.
    pub fn flush(&mut self, session: SessionId, scope: Scope) -> usize {
        self.by_session
            .get_mut(&session)
            .and_then(|scopes| scopes.get_mut(slot(scope)))
            .map(|list| std::mem::take(list).len())
            .unwrap_or(0)
    }

    /// Whether no session has an entry: true once every session left.
    pub fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }

    /// Takes every testament of a session that goes, `detached` first.
    pub fn take(&mut self, session: SessionId) -> Vec<Testament> {
        self.by_session
            .remove(&session)
            .map(|scopes| scopes.into_iter().flatten().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session's most testaments per scope, in these tests.
    const MAX: usize = 4;

    fn testament(topic: &'static str) -> Testament {
        Testament {
            topic: Str::from_static(topic),
            payload: Payload::Empty,
            options: PublishOptions::from_dict(&ringbar_protocol::value::Dict::new()).unwrap(),
        }
    }

    #[test]
    fn detached_come_before_destroyed_each_in_order_and_flush_counts() {
        let id = SessionId::new(7).unwrap_or_default();
        let mut t = Testaments::default();
        assert!(t.add(id, Scope::Destroyed, testament("com.d1"), MAX));
        assert!(t.add(id, Scope::Detached, testament("com.a1"), MAX));
        assert!(t.add(id, Scope::Destroyed, testament("com.d2"), MAX));
        let topics: Vec<String> = t.take(id).iter().map(|x| x.topic.to_string()).collect();
        assert_eq!(topics, ["com.a1", "com.d1", "com.d2"]);
        assert!(t.add(id, Scope::Detached, testament("com.a2"), MAX));
        assert_eq!(t.flush(id, Scope::Detached), 1);
        assert_eq!(t.flush(id, Scope::Destroyed), 0);
    }

    #[test]
    fn a_session_keeps_a_bounded_number() {
        let id = SessionId::new(8).unwrap_or_default();
        let mut t = Testaments::default();
        for _ in 0..MAX {
            assert!(t.add(id, Scope::Destroyed, testament("com.x"), MAX));
        }
        assert!(!t.add(id, Scope::Destroyed, testament("com.x"), MAX));
        assert!(t.add(id, Scope::Detached, testament("com.x"), MAX));
    }

    #[test]
    fn scopes_parse_with_destroyed_as_the_default() {
        assert_eq!(Scope::parse(None), Some(Scope::Destroyed));
        assert_eq!(Scope::parse(Some("detached")), Some(Scope::Detached));
        assert_eq!(Scope::parse(Some("forever")), None);
    }
}
