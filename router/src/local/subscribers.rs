//! Who subscribes to what on one core: the one owner of a core's local
//! view of subscriptions. Delivery reads it by subscription (every local
//! subscriber of a matched subscription, in one array); SUBSCRIBE,
//! UNSUBSCRIBE and a session leaving change it by session. Both indexes
//! change together, in the methods below, so they cannot drift apart.

use ahash::AHashMap;
use ringbar_protocol::id::{SessionId, SubscriptionId};

use crate::slab::Key;

/// A subscriber on this core, as delivery reaches it: what is checked for
/// every event (publisher exclusion, which frame) is kept inline, so the
/// loop over a subscription's sessions touches one array, and the session
/// only when an event goes to it.
///
/// `W` is the subscriber's wire (serializer and framing, the driver's
/// type): subscribers with the same wire share one encoded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSubscriber<W> {
    /// The subscriber's session id.
    pub session: SessionId,
    /// Its wire, which selects the shared frame it gets.
    pub wire: W,
    /// Where the session is on this core.
    pub key: Key,
}

/// A subscription of a realm: subscription ids are unique per realm only.
type RealmSubscription = (usize, SubscriptionId);

/// What a SUBSCRIBE did to this core's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The session is a subscriber now.
    Subscribed,
    /// It already was (subscribing twice changes nothing).
    AlreadySubscribed,
    /// It holds `limit` subscriptions already: refused.
    TooMany {
        /// The most subscriptions a session may hold.
        limit: usize,
    },
}

/// A core's subscribers, by subscription and by session.
#[derive(Debug)]
pub struct LocalSubscribers<W> {
    /// (realm index, subscription) → its subscribers on this core.
    by_subscription: AHashMap<RealmSubscription, Vec<LocalSubscriber<W>>>,
    /// Session → the subscriptions it holds (of its one realm).
    by_session: AHashMap<SessionId, Vec<SubscriptionId>>,
}

impl<W> Default for LocalSubscribers<W> {
    fn default() -> Self {
        Self {
            by_subscription: AHashMap::new(),
            by_session: AHashMap::new(),
        }
    }
}

impl<W> LocalSubscribers<W> {
    /// The subscribers of `subscription` of realm `realm` on this core.
    pub fn of(&self, realm: usize, subscription: SubscriptionId) -> &[LocalSubscriber<W>] {
        self.by_subscription
            .get(&(realm, subscription))
            .map_or(&[], Vec::as_slice)
    }

    /// Makes `subscriber` a subscriber of `subscription` of realm `realm`,
    /// unless it is one already or holds `limit` subscriptions.
    pub fn add(
        &mut self,
        realm: usize,
        subscription: SubscriptionId,
        subscriber: LocalSubscriber<W>,
        limit: usize,
    ) -> Added {
        let held = self.by_session.entry(subscriber.session).or_default();
        if held.contains(&subscription) {
            return Added::AlreadySubscribed;
        }
        if held.len() >= limit {
            if held.is_empty() {
                self.by_session.remove(&subscriber.session);
            }
            return Added::TooMany { limit };
        }
        held.push(subscription);
        self.by_subscription
            .entry((realm, subscription))
            .or_default()
            .push(subscriber);
        Added::Subscribed
    }

    /// Ends `session`'s subscription to `subscription` of realm `realm`;
    /// whether it held it.
    pub fn remove(
        &mut self,
        realm: usize,
        subscription: SubscriptionId,
        session: SessionId,
    ) -> bool {
        let Some(held) = self.by_session.get_mut(&session) else {
            return false;
        };
        let Some(at) = held.iter().position(|s| *s == subscription) else {
            return false;
        };
        held.swap_remove(at);
        if held.is_empty() {
            self.by_session.remove(&session);
        }
        self.forget(realm, subscription, session);
        true
    }

    /// Ends every subscription of `session` (of realm `realm`), which is
    /// leaving; returns them.
    pub fn remove_session(&mut self, realm: usize, session: SessionId) -> Vec<SubscriptionId> {
        let held = self.by_session.remove(&session).unwrap_or_default();
        for subscription in &held {
            self.forget(realm, *subscription, session);
        }
        held
    }

    /// Takes `session` out of the subscribers of one subscription.
    fn forget(&mut self, realm: usize, subscription: SubscriptionId, session: SessionId) {
        let key = (realm, subscription);
        if let Some(subscribers) = self.by_subscription.get_mut(&key) {
            subscribers.retain(|s| s.session != session);
            if subscribers.is_empty() {
                self.by_subscription.remove(&key);
            }
        }
    }

    /// Subscriptions with a subscriber on this core, and sessions holding a
    /// subscription: both 0 once every session left.
    pub fn len(&self) -> (usize, usize) {
        (self.by_subscription.len(), self.by_session.len())
    }

    /// Whether the two indexes agree: every (session, subscription) pair is
    /// in both exactly once, and no entry is empty.
    pub fn check(&self) -> Result<(), String> {
        let mut pairs = 0;
        for ((_, subscription), subscribers) in &self.by_subscription {
            if subscribers.is_empty() {
                return Err(format!("subscription {subscription}: no subscriber kept"));
            }
            for subscriber in subscribers {
                let held = self.by_session.get(&subscriber.session);
                if held.is_none_or(|held| !held.contains(subscription)) {
                    return Err(format!(
                        "session {} delivered subscription {subscription} it does not hold",
                        subscriber.session
                    ));
                }
                pairs += 1;
            }
        }
        let mut held_pairs = 0;
        for (session, held) in &self.by_session {
            if held.is_empty() {
                return Err(format!("session {session}: no subscription kept"));
            }
            held_pairs += held.len();
        }
        if pairs != held_pairs {
            return Err(format!(
                "{pairs} (subscription, subscriber) pairs delivered, {held_pairs} held"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::*;
    use crate::slab::Slab;

    const REALM: usize = 0;

    /// `n` subscribers, each with a key of its own.
    fn subscribers(n: u64) -> Vec<LocalSubscriber<()>> {
        let mut slab = Slab::default();
        (1..=n)
            .map(|id| LocalSubscriber {
                session: SessionId::new(id).unwrap(),
                wire: (),
                key: slab.insert_with(|_| ()).unwrap(),
            })
            .collect()
    }

    fn sub(n: u64) -> SubscriptionId {
        SubscriptionId::new(n).unwrap()
    }

    #[test]
    fn subscribing_twice_changes_nothing_and_the_limit_counts_subscriptions() {
        let s = subscribers(1)[0];
        let mut locals = LocalSubscribers::default();
        assert_eq!(locals.add(REALM, sub(1), s, 2), Added::Subscribed);
        assert_eq!(locals.add(REALM, sub(1), s, 2), Added::AlreadySubscribed);
        assert_eq!(locals.add(REALM, sub(2), s, 2), Added::Subscribed);
        assert_eq!(locals.add(REALM, sub(3), s, 2), Added::TooMany { limit: 2 });
        assert_eq!(locals.of(REALM, sub(1)), &[s]);
        assert!(locals.of(REALM, sub(3)).is_empty());
        assert_eq!(locals.check(), Ok(()));
    }

    #[test]
    fn a_refused_first_subscription_leaves_nothing() {
        let s = subscribers(1)[0];
        let mut locals = LocalSubscribers::default();
        assert_eq!(locals.add(REALM, sub(1), s, 0), Added::TooMany { limit: 0 });
        assert_eq!(locals.len(), (0, 0));
    }

    #[test]
    fn a_session_leaving_leaves_every_subscription_and_only_its_own() {
        let [a, b] = subscribers(2)[..] else {
            unreachable!()
        };
        let mut locals = LocalSubscribers::default();
        locals.add(REALM, sub(1), a, 10);
        locals.add(REALM, sub(2), a, 10);
        locals.add(REALM, sub(1), b, 10);
        let mut left = locals.remove_session(REALM, a.session);
        left.sort_by_key(|s| s.get());
        assert_eq!(left, [sub(1), sub(2)]);
        assert_eq!(locals.of(REALM, sub(1)), &[b]);
        assert!(locals.of(REALM, sub(2)).is_empty());
        assert!(!locals.remove(REALM, sub(1), a.session), "a left already");
        assert!(locals.remove(REALM, sub(1), b.session));
        assert_eq!(locals.len(), (0, 0));
        assert_eq!(locals.check(), Ok(()));
    }

    #[test]
    fn check_finds_indexes_that_disagree() {
        let s = subscribers(1)[0];
        let mut locals = LocalSubscribers::default();
        locals.add(REALM, sub(1), s, 10);
        locals.by_session.clear();
        assert!(locals.check().is_err());
    }

    /// One step of a random run: subscriber, subscription.
    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, u64),
        Remove(usize, u64),
        Leave(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..6usize, 1..5u64).prop_map(|(s, n)| Op::Add(s, n)),
            (0..6usize, 1..5u64).prop_map(|(s, n)| Op::Remove(s, n)),
            (0..6usize).prop_map(Op::Leave),
        ]
    }

    proptest! {
        /// The owner answers as a naive set of (session, subscription)
        /// pairs, and its indexes agree after every change.
        #[test]
        fn agrees_with_a_set_of_pairs(ops in proptest::collection::vec(op(), 0..200)) {
            let all = subscribers(6);
            let limit = 3;
            let mut locals = LocalSubscribers::default();
            let mut model: BTreeSet<(u64, u64)> = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Add(s, n) => {
                        let id = all[s].session.get();
                        let held = model.iter().filter(|(a, _)| *a == id).count();
                        let expected = if model.contains(&(id, n)) {
                            Added::AlreadySubscribed
                        } else if held >= limit {
                            Added::TooMany { limit }
                        } else {
                            model.insert((id, n));
                            Added::Subscribed
                        };
                        prop_assert_eq!(locals.add(REALM, sub(n), all[s], limit), expected);
                    }
                    Op::Remove(s, n) => {
                        let id = all[s].session.get();
                        prop_assert_eq!(locals.remove(REALM, sub(n), all[s].session), model.remove(&(id, n)));
                    }
                    Op::Leave(s) => {
                        let id = all[s].session.get();
                        let mut left: Vec<u64> = locals.remove_session(REALM, all[s].session).iter().map(|s| s.get()).collect();
                        left.sort_unstable();
                        let expected: Vec<u64> = model.iter().filter(|(a, _)| *a == id).map(|(_, n)| *n).collect();
                        model.retain(|(a, _)| *a != id);
                        prop_assert_eq!(left, expected);
                    }
                }
                prop_assert_eq!(locals.check(), Ok(()));
                let mut by_subscription: HashMap<u64, BTreeSet<u64>> = HashMap::new();
                for (s, n) in &model {
                    by_subscription.entry(*n).or_default().insert(*s);
                }
                for n in 1..5 {
                    let got: BTreeSet<u64> = locals.of(REALM, sub(n)).iter().map(|s| s.session.get()).collect();
                    prop_assert_eq!(got, by_subscription.remove(&n).unwrap_or_default());
                }
            }
        }
    }
}
