//! Exact subscriptions: one hash probe per publish.
//!
//! The set is split into [`SHARDS`] shards, each behind its own `Arc`, so a
//! change clones one shard (about `len / 64` entries) rather than the whole
//! set. The shard is chosen with a hasher seeded apart from the shards' own:
//! with one seed, every key in a shard would share the top hash bits that
//! `hashbrown` keeps as control bytes, and probes would compare more keys.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use ahash::RandomState;

use crate::broker::subscriptions::Subscription;

/// log2 of the shard count.
const SHARD_BITS: u32 = 6;
/// How many shards: a change clones one of them.
const SHARDS: usize = 1 << SHARD_BITS;

/// Exact subscriptions by URI.
#[derive(Clone)]
pub(crate) struct ExactIndex {
    pick: RandomState,
    shards: Vec<Arc<Shard>>,
    len: usize,
}

type Shard = HashSet<ByUri, RandomState>;

impl ExactIndex {
    /// An empty index.
    pub(crate) fn new() -> Self {
        Self {
            pick: RandomState::new(),
            shards: (0..SHARDS).map(|_| Arc::new(Shard::default())).collect(),
            len: 0,
        }
    }

    /// How many subscriptions the index holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The subscription for exactly `uri`.
    pub(crate) fn find(&self, uri: &str) -> Option<&Arc<Subscription>> {
        self.shards[self.shard_of(uri)]
            .get(uri)
            .map(|entry| &entry.0)
    }

    /// Appends the subscription equal to `topic`, if any.
    pub(crate) fn matches<'a>(&'a self, topic: &str, out: &mut Vec<&'a Subscription>) {
        if let Some(sub) = self.find(topic) {
            out.push(sub);
        }
    }

    /// Adds `sub`, or replaces the subscription with its URI; returns the
    /// one replaced.
    pub(crate) fn insert(&mut self, sub: Arc<Subscription>) -> Option<Arc<Subscription>> {
        let at = self.shard_of(sub.pattern.uri());
        let shard = Arc::make_mut(&mut self.shards[at]);
        let old = shard.replace(ByUri(sub)).map(|old| old.0);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the subscription for `uri`; clones its shard only when it is
    /// there.
    pub(crate) fn remove(&mut self, uri: &str) -> Option<Arc<Subscription>> {
        self.find(uri)?;
        let at = self.shard_of(uri);
        let shard = Arc::make_mut(&mut self.shards[at]);
        let old = shard.take(uri).map(|old| old.0);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Calls `visit` with every subscription, in no particular order.
    pub(crate) fn for_each(&self, visit: &mut dyn FnMut(&Arc<Subscription>)) {
        for shard in &self.shards {
            for entry in shard.iter() {
                visit(&entry.0);
            }
        }
    }

    fn shard_of(&self, uri: &str) -> usize {
        // The top bits: independent of the shard's own hasher (see above).
        (self.pick.hash_one(uri) >> (u64::BITS - SHARD_BITS)) as usize
    }
}

/// A subscription keyed by its URI, so the set is probed with a `&str` and
/// the URI is not stored twice.
#[derive(Clone)]
struct ByUri(Arc<Subscription>);

impl Borrow<str> for ByUri {
    fn borrow(&self) -> &str {
        self.0.pattern.uri()
    }
}

impl Hash for ByUri {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash as the borrowed `str` does.
        self.0.pattern.uri().hash(state);
    }
}

impl PartialEq for ByUri {
    fn eq(&self, other: &Self) -> bool {
        self.0.pattern.uri() == other.0.pattern.uri()
    }
}

impl Eq for ByUri {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::match_index::{test_sub, uris};
    use ringbar_protocol::uri::MatchPolicy::Exact;

    #[test]
    fn insert_replace_remove() {
        let mut index = ExactIndex::new();
        assert!(index.insert(test_sub("com.a", Exact, 0)).is_none());
        assert!(index.insert(test_sub("com.b", Exact, 1)).is_none());
        let old = index.insert(test_sub("com.a", Exact, 2));
        assert_eq!(old.map(|s| s.created_seq), Some(0));
        assert_eq!(index.len(), 2);
        let mut out = Vec::new();
        index.matches("com.a", &mut out);
        assert_eq!(uris(&out), ["com.a"]);
        assert_eq!(out[0].created_seq, 2);
        assert!(index.remove("com.c").is_none());
        assert!(index.remove("com.a").is_some());
        assert!(index.find("com.a").is_none());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn a_change_copies_one_shard() {
        let mut index = ExactIndex::new();
        for n in 0..1000 {
            index.insert(test_sub(&format!("t.n{n}"), Exact, n));
        }
        let before = index.clone();
        index.insert(test_sub("t.new", Exact, 1000));
        let copied = before
            .shards
            .iter()
            .zip(&index.shards)
            .filter(|(a, b)| !Arc::ptr_eq(a, b))
            .count();
        assert_eq!(copied, 1);
        assert!(before.find("t.new").is_none());
        assert_eq!(before.len(), 1000);
        // Every shard gets some of a thousand keys.
        assert!(index.shards.iter().all(|s| !s.is_empty()));
    }
}
