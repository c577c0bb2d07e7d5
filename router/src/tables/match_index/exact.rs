//! Exact subscriptions: one hash probe per publish.
//!
//! The set is a [`PersistentMap`]: a change copies the O(log n) nodes on
//! its URI's path and shares the rest with the table publishes still read.

use std::sync::Arc;

use crate::tables::persistent::PersistentMap;
use crate::tables::subscriptions::Subscription;

/// Exact subscriptions by URI.
#[derive(Clone, Default)]
pub(crate) struct ExactIndex {
    by_uri: PersistentMap<Arc<str>, Arc<Subscription>>,
}

impl ExactIndex {
    /// How many subscriptions the index holds.
    pub(crate) fn len(&self) -> usize {
        self.by_uri.len()
    }

    /// The subscription for exactly `uri`.
    pub(crate) fn find(&self, uri: &str) -> Option<&Arc<Subscription>> {
        self.by_uri.get(uri)
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
        self.by_uri.insert(Arc::from(sub.pattern.uri()), sub)
    }

    /// Removes the subscription for `uri`.
    pub(crate) fn remove(&mut self, uri: &str) -> Option<Arc<Subscription>> {
        self.by_uri.remove(uri)
    }

    /// Calls `visit` with every subscription, in no particular order.
    pub(crate) fn for_each(&self, visit: &mut dyn FnMut(&Arc<Subscription>)) {
        for sub in self.by_uri.values() {
            visit(sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::match_index::{test_sub, uris};
    use ringbar_protocol::uri::MatchPolicy::Exact;

    #[test]
    fn insert_replace_remove() {
        let mut index = ExactIndex::default();
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
    fn a_change_leaves_the_last_version_as_it_was() {
        let mut index = ExactIndex::default();
        for n in 0..1000 {
            index.insert(test_sub(&format!("t.n{n}"), Exact, n));
        }
        let before = index.clone();
        index.insert(test_sub("t.new", Exact, 1000));
        index.remove("t.n7");
        assert!(before.find("t.new").is_none());
        assert!(before.find("t.n7").is_some());
        assert_eq!((before.len(), index.len()), (1000, 1000));
    }
}
