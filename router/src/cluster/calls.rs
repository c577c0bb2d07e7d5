//! Calls between nodes, as the cluster link keeps them: where the answers
//! to a call this node's caller made go (`outgoing`: the caller's core),
//! and where a call from another node's caller is served (`incoming`: the
//! callee's core, and the node to answer). Both are bounded: past the
//! bound the oldest entry goes (its caller, if it still waits, is told).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A call, across nodes: the caller session and the CALL's request id.
pub type CallRef = (u64, u64);

/// Calls in flight through the link, at most, each way.
pub const MAX_CALLS: usize = 100_000;

/// A call made here, served by another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The callee's node.
    pub node: String,
    /// The caller's core.
    pub caller_core: usize,
    /// The caller's core's serial of the call.
    pub serial: u64,
}

/// A call made on another node, served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The caller's node.
    pub node: String,
    /// The callee's core.
    pub callee_core: usize,
    /// The caller's core's serial of the call.
    pub serial: u64,
}

/// Entries by key, oldest first, at most `limit`.
pub struct Bounded<K, V> {
    entries: HashMap<K, V>,
    /// Keys in insertion order; some may be gone from `entries` already.
    order: VecDeque<K>,
    limit: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    /// Empty, holding at most `limit`.
    pub fn new(limit: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Keeps `value` under `key`; returns the oldest entry when that made
    /// one too many.
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        // Keys already removed are dropped from the order as they come up,
        // so it stays within twice the entries.
        if self.order.len() > 2 * self.limit {
            self.order.retain(|k| self.entries.contains_key(k));
        }
        if self.entries.len() <= self.limit {
            return None;
        }
        while let Some(oldest) = self.order.pop_front() {
            if let Some(value) = self.entries.remove(&oldest) {
                return Some((oldest, value));
            }
        }
        None
    }

    /// The entry of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Takes the entry of `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key)
    }

    /// Takes every entry `which` picks.
    pub fn take_where(&mut self, which: impl Fn(&V) -> bool) -> Vec<(K, V)> {
        let keys: Vec<K> = self
            .entries
            .iter()
            .filter(|(_, v)| which(v))
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| self.entries.remove(&k).map(|v| (k, v)))
            .collect()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_past_the_limit() {
        let mut b = Bounded::new(2);
        assert_eq!(b.insert(1, "a"), None);
        assert_eq!(b.insert(2, "b"), None);
        assert_eq!(b.insert(3, "c"), Some((1, "a")));
        assert_eq!(b.remove(&2), Some("b"));
        assert_eq!(b.insert(4, "d"), None);
        assert_eq!(b.insert(5, "e"), Some((3, "c")));
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn removed_keys_do_not_pile_up_in_the_order() {
        let mut b = Bounded::new(4);
        for n in 0..10_000 {
            b.insert(n, n);
            b.remove(&n);
        }
        assert!(b.is_empty());
        assert!(b.order.len() <= 8);
    }

    #[test]
    fn entries_are_taken_by_value() {
        let mut b = Bounded::new(10);
        for n in 0..6 {
            b.insert(n, n % 2);
        }
        let mut odd: Vec<_> = b
            .take_where(|v| *v == 1)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        odd.sort_unstable();
        assert_eq!(odd, [1, 3, 5]);
        assert_eq!(b.len(), 3);
    }
}
