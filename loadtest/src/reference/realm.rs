//! A realm's routing tables, the least that routes: exact-match
//! subscriptions (topic -> subscribers), registrations with one callee
//! each (procedure -> callee), and the invocations in flight. Peers are
//! named by their connection's slot.

use std::collections::HashMap;

use ringbar_protocol::id::{RegistrationId, RequestId, SubscriptionId};
use ringbar_protocol::str::Str;

/// One realm: its broker and dealer.
#[derive(Default)]
pub(crate) struct Realm {
    /// Subscriptions.
    pub(crate) broker: Broker,
    /// Registrations.
    pub(crate) dealer: Dealer,
}

/// The subscriptions of a realm, by topic and by id.
#[derive(Default)]
pub(crate) struct Broker {
    topics: HashMap<Str, Subscription>,
    topic_of: HashMap<SubscriptionId, Str>,
}

/// The subscribers of one topic.
pub(crate) struct Subscription {
    /// The id every subscriber of the topic is told.
    pub(crate) id: SubscriptionId,
    /// Their peers, in the order they subscribed.
    pub(crate) subscribers: Vec<usize>,
}

impl Broker {
    /// Adds `peer` to `topic`'s subscribers (once), creating the
    /// subscription with `new_id` if it is the first.
    pub(crate) fn subscribe(
        &mut self,
        topic: &str,
        peer: usize,
        new_id: impl FnOnce() -> SubscriptionId,
    ) -> SubscriptionId {
        let subscription = self.topics.entry(Str::from(topic)).or_insert_with(|| {
            let id = new_id();
            self.topic_of.insert(id, Str::from(topic));
            Subscription {
                id,
                subscribers: Vec::new(),
            }
        });
        if !subscription.subscribers.contains(&peer) {
            subscription.subscribers.push(peer);
        }
        subscription.id
    }

    /// Removes `peer` from subscription `id`; `false` when it was not a
    /// subscriber. The last subscriber's leaving ends the subscription.
    pub(crate) fn unsubscribe(&mut self, id: SubscriptionId, peer: usize) -> bool {
        let Some(topic) = self.topic_of.get(&id) else {
            return false;
        };
        let Some(subscription) = self.topics.get_mut(topic) else {
            return false;
        };
        let before = subscription.subscribers.len();
        subscription.subscribers.retain(|&p| p != peer);
        let removed = subscription.subscribers.len() < before;
        if subscription.subscribers.is_empty() {
            self.topics.remove(topic);
            self.topic_of.remove(&id);
        }
        removed
    }

    /// The subscription to exactly `topic`.
    pub(crate) fn subscription(&self, topic: &str) -> Option<&Subscription> {
        self.topics.get(topic)
    }
}

/// The registrations of a realm: one callee per procedure.
#[derive(Default)]
pub(crate) struct Dealer {
    procedures: HashMap<Str, Registration>,
    procedure_of: HashMap<RegistrationId, Str>,
}

/// A procedure's one callee.
#[derive(Clone, Copy)]
pub(crate) struct Registration {
    /// Its id.
    pub(crate) id: RegistrationId,
    /// The callee's peer.
    pub(crate) callee: usize,
}

impl Dealer {
    /// Registers `procedure` to `callee` with `id`; `false` (and nothing
    /// changes) when it already has a callee.
    pub(crate) fn register(&mut self, procedure: &str, callee: usize, id: RegistrationId) -> bool {
        if self.procedures.contains_key(procedure) {
            return false;
        }
        self.procedures
            .insert(Str::from(procedure), Registration { id, callee });
        self.procedure_of.insert(id, Str::from(procedure));
        true
    }

    /// Removes registration `id` if `callee` holds it.
    pub(crate) fn unregister(&mut self, id: RegistrationId, callee: usize) -> bool {
        let Some(procedure) = self.procedure_of.get(&id) else {
            return false;
        };
        if self.procedures.get(procedure).map(|r| r.callee) != Some(callee) {
            return false;
        }
        self.procedures.remove(procedure);
        self.procedure_of.remove(&id);
        true
    }

    /// The registration of exactly `procedure`.
    pub(crate) fn registration(&self, procedure: &str) -> Option<Registration> {
        self.procedures.get(procedure).copied()
    }
}

/// The calls in flight, by the INVOCATION request id the router chose: the
/// one owner of which caller waits for which callee.
#[derive(Default)]
pub(crate) struct Invocations {
    by_request: HashMap<RequestId, Invocation>,
}

/// A call the callee has not answered yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// The caller's peer.
    pub(crate) caller: usize,
    /// The caller's CALL request id, which its RESULT or ERROR names.
    pub(crate) call: RequestId,
    /// The callee's peer.
    pub(crate) callee: usize,
}

impl Invocations {
    /// Records invocation `request`.
    pub(crate) fn insert(&mut self, request: RequestId, invocation: Invocation) {
        self.by_request.insert(request, invocation);
    }

    /// Takes invocation `request` when `callee` is the one it went to.
    pub(crate) fn answer(&mut self, request: RequestId, callee: usize) -> Option<Invocation> {
        match self.by_request.get(&request) {
            Some(invocation) if invocation.callee == callee => self.by_request.remove(&request),
            _ => None,
        }
    }

    /// Forgets every invocation `peer` takes part in; returns those it was
    /// the callee of, whose callers still wait.
    pub(crate) fn on_peer_gone(&mut self, peer: usize) -> Vec<Invocation> {
        let mut orphaned = Vec::new();
        self.by_request.retain(|_, invocation| {
            if invocation.callee == peer && invocation.caller != peer {
                orphaned.push(*invocation);
            }
            invocation.callee != peer && invocation.caller != peer
        });
        orphaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(n: u64) -> SubscriptionId {
        SubscriptionId::new(n).unwrap()
    }

    #[test]
    fn a_subscription_lives_while_it_has_subscribers() {
        let mut broker = Broker::default();
        assert_eq!(broker.subscribe("t", 1, || sid(7)), sid(7));
        assert_eq!(broker.subscribe("t", 2, || sid(8)), sid(7));
        assert_eq!(broker.subscribe("t", 2, || sid(9)), sid(7));
        assert_eq!(broker.subscription("t").unwrap().subscribers, [1, 2]);
        assert!(!broker.unsubscribe(sid(7), 3));
        assert!(broker.unsubscribe(sid(7), 1));
        assert!(broker.unsubscribe(sid(7), 2));
        assert!(broker.subscription("t").is_none());
        assert_eq!(broker.subscribe("t", 1, || sid(10)), sid(10));
    }

    #[test]
    fn a_procedure_has_one_callee() {
        let mut dealer = Dealer::default();
        let (a, b) = (
            RegistrationId::new(1).unwrap(),
            RegistrationId::new(2).unwrap(),
        );
        assert!(dealer.register("p", 4, a));
        assert!(!dealer.register("p", 5, b));
        assert!(!dealer.unregister(a, 5));
        assert_eq!(dealer.registration("p").map(|r| r.callee), Some(4));
        assert!(dealer.unregister(a, 4));
        assert!(dealer.registration("p").is_none());
    }

    #[test]
    fn a_callee_leaving_orphans_its_callers_calls() {
        let mut invocations = Invocations::default();
        let r = |n| RequestId::new(n).unwrap();
        let call = |caller, callee| Invocation {
            caller,
            call: r(100),
            callee,
        };
        invocations.insert(r(1), call(1, 9));
        invocations.insert(r(2), call(2, 9));
        invocations.insert(r(3), call(9, 3));
        assert_eq!(invocations.answer(r(1), 8), None);
        assert_eq!(invocations.answer(r(1), 9), Some(call(1, 9)));
        assert_eq!(invocations.on_peer_gone(9), vec![call(2, 9)]);
        assert_eq!(invocations.answer(r(3), 3), None);
    }
}
