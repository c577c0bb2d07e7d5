//! A core's cache of what topics match in one realm's subscription table,
//! as nats-server's sublist keeps one: a publish to a topic seen since the
//! table last changed costs one hash probe instead of a walk of the three
//! indexes, and shares its result instead of building a new list.
//!
//! Entries are valid for one table version: a cache filled at another
//! [`Table::generation`] starts over (generations are unique across
//! tables, so a cache can never answer from another realm's table).
//! Topics come from peers, so the cache is bounded: once full it starts
//! over too, which keeps a publisher of ever-new topics at the cost of an
//! uncached match.

use std::sync::Arc;

use ahash::AHashMap;
use ringbar_protocol::id::SubscriptionId;
use ringbar_protocol::uri::MatchPolicy;

use super::subscriptions::{Subscription, Table};

/// Topics one cache remembers: a few hundred hot topics per realm and
/// core, at about a hundred bytes each.
pub const MATCH_CACHE_TOPICS: usize = 512;

/// What a topic matches: the subscriptions, and the cores to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The matching subscriptions in the table's matching order, each with
    /// whether it is a pattern (prefix or wildcard) subscription, which
    /// puts the topic into EVENT.Details.
    pub subscriptions: Arc<[(SubscriptionId, bool)]>,
    /// The cores with subscribers to any of them, as
    /// [`CoreSet::bits`](super::subscriptions::CoreSet::bits).
    pub cores: u64,
}

impl Matched {
    /// Matches `topic` in `table`, uncached.
    pub fn compute(table: &Table, topic: &str) -> Self {
        let mut found: Vec<&Subscription> = Vec::new();
        table.matches(topic, &mut found);
        let mut cores = 0u64;
        let subscriptions = found
            .iter()
            .map(|s| {
                cores |= s.cores.bits();
                (s.id, s.pattern.policy() != MatchPolicy::Exact)
            })
            .collect();
        Self {
            subscriptions,
            cores,
        }
    }
}

/// One core's cache for one realm.
#[derive(Debug)]
pub struct MatchCache {
    generation: u64,
    entries: AHashMap<Box<str>, Matched>,
    capacity: usize,
}

impl MatchCache {
    /// An empty cache of at most `capacity` topics.
    pub fn new(capacity: usize) -> Self {
        Self {
            generation: 0,
            entries: AHashMap::new(),
            capacity,
        }
    }

    /// What `topic` matches in `table`: remembered if `table` is the version
    /// the cache was filled from, else matched (and remembered).
    pub fn matched(&mut self, table: &Table, topic: &str) -> Matched {
        if self.generation != table.generation() {
            self.entries.clear();
            self.generation = table.generation();
        }
        if let Some(hit) = self.entries.get(topic) {
            return hit.clone();
        }
        let matched = Matched::compute(table, topic);
        if self.entries.len() >= self.capacity {
            self.entries.clear();
        }
        if self.capacity > 0 {
            self.entries.insert(topic.into(), matched.clone());
        }
        matched
    }

    /// Topics remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use ringbar_protocol::uri::{UriCheck, UriPattern};

    use super::*;
    use crate::tables::subscriptions::Subscriptions;

    fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
        UriPattern::parse(uri, policy, UriCheck::Strict).unwrap()
    }

    fn ids(m: &Matched) -> Vec<SubscriptionId> {
        m.subscriptions.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn a_change_of_the_table_is_seen_at_once() {
        let subs = Subscriptions::new(1);
        let mut cache = MatchCache::new(8);
        assert!(ids(&cache.matched(&subs.snapshot(), "a.b")).is_empty());
        let (exact, _) = subs.subscribe(
            pattern("a.b", MatchPolicy::Exact),
            1,
            SystemTime::UNIX_EPOCH,
        );
        let m = cache.matched(&subs.snapshot(), "a.b");
        assert_eq!(ids(&m), [exact.id]);
        assert_eq!(m.cores, 1 << 1);
        let (prefix, _) =
            subs.subscribe(pattern("a", MatchPolicy::Prefix), 3, SystemTime::UNIX_EPOCH);
        let m = cache.matched(&subs.snapshot(), "a.b");
        assert_eq!(ids(&m), [exact.id, prefix.id]);
        assert_eq!(m.subscriptions[1], (prefix.id, true));
        assert_eq!(m.cores, (1 << 1) | (1 << 3));
        subs.unsubscribe(exact.id, 1);
        assert_eq!(ids(&cache.matched(&subs.snapshot(), "a.b")), [prefix.id]);
    }

    #[test]
    fn a_hit_shares_the_remembered_result() {
        let subs = Subscriptions::new(1);
        subs.subscribe(
            pattern("a.b", MatchPolicy::Exact),
            0,
            SystemTime::UNIX_EPOCH,
        );
        let mut cache = MatchCache::new(8);
        let table = subs.snapshot();
        let first = cache.matched(&table, "a.b");
        let second = cache.matched(&table, "a.b");
        assert!(Arc::ptr_eq(&first.subscriptions, &second.subscriptions));
    }

    #[test]
    fn it_holds_at_most_its_capacity_and_another_tables_results_never() {
        let subs = Subscriptions::new(1);
        let other = Subscriptions::new(2);
        other.subscribe(
            pattern("t.0", MatchPolicy::Exact),
            0,
            SystemTime::UNIX_EPOCH,
        );
        let mut cache = MatchCache::new(4);
        for n in 0..100 {
            cache.matched(&subs.snapshot(), &format!("t.{n}"));
            assert!(cache.len() <= 4);
        }
        // the same topic in another realm's table is matched there
        assert_eq!(
            cache.matched(&other.snapshot(), "t.0").subscriptions.len(),
            1
        );
        assert!(
            MatchCache::new(0)
                .matched(&subs.snapshot(), "t.0")
                .subscriptions
                .is_empty()
        );
    }
}
