//! Temporary stand-in for the shared subscription table (being written on
//! its own branch); same API, simple locking implementation.

use std::sync::{Arc, Mutex};

use ringbar_protocol::id::SubscriptionId;
use ringbar_protocol::uri::{MatchPolicy, UriPattern};

/// A core's index.
pub type CoreId = u16;

/// Cores with at least one local subscriber.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreSet(u64);

impl CoreSet {
    /// Whether `core` is in the set.
    pub fn contains(self, core: CoreId) -> bool {
        self.0 & (1 << core) != 0
    }
    /// The cores in the set.
    pub fn iter(self) -> impl Iterator<Item = CoreId> {
        (0..64u16).filter(move |c| self.contains(*c))
    }
}

/// One (uri, policy).
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Its pattern.
    pub pattern: UriPattern,
    /// Creation order.
    pub created_seq: u64,
    /// Cores with subscribers.
    pub cores: CoreSet,
}

/// A table snapshot.
#[derive(Default)]
pub struct Table {
    subs: Vec<(Subscription, [u32; 64])>,
}

impl Table {
    /// Matching subscriptions.
    pub fn matches<'a>(&'a self, topic: &str, out: &mut Vec<&'a Subscription>) {
        out.extend(
            self.subs
                .iter()
                .map(|(s, _)| s)
                .filter(|s| s.pattern.matches(topic)),
        );
    }
}

/// The shared table.
#[derive(Default)]
pub struct Subscriptions {
    table: Mutex<Arc<Table>>,
    next: Mutex<u64>,
}

impl Subscriptions {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }
    /// The current table.
    pub fn snapshot(&self) -> Arc<Table> {
        self.table.lock().map(|t| t.clone()).unwrap_or_default()
    }
    /// Subscribes.
    pub fn subscribe(&self, pattern: UriPattern, core: CoreId) -> (Arc<Subscription>, bool) {
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let mut table = Table {
            subs: guard.subs.clone(),
        };
        let found = table.subs.iter_mut().find(|(s, _)| {
            s.pattern.uri() == pattern.uri() && s.pattern.policy() == pattern.policy()
        });
        let (sub, created) = match found {
            Some((s, counts)) => {
                counts[usize::from(core)] += 1;
                s.cores.0 |= 1 << core;
                (s.clone(), false)
            }
            None => {
                let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
                *next += 1;
                let mut counts = [0; 64];
                counts[usize::from(core)] = 1;
                let s = Subscription {
                    id: SubscriptionId::new(*next).unwrap_or_default(),
                    pattern,
                    created_seq: *next,
                    cores: CoreSet(1 << core),
                };
                table.subs.push((s.clone(), counts));
                (s, true)
            }
        };
        *guard = Arc::new(table);
        (Arc::new(sub), created)
    }
    /// Unsubscribes.
    pub fn unsubscribe(&self, id: SubscriptionId, core: CoreId) -> Option<bool> {
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let mut table = Table {
            subs: guard.subs.clone(),
        };
        let at = table.subs.iter().position(|(s, _)| s.id == id)?;
        let (s, counts) = &mut table.subs[at];
        let c = usize::from(core);
        if counts[c] == 0 {
            return None;
        }
        counts[c] -= 1;
        if counts[c] == 0 {
            s.cores.0 &= !(1 << core);
        }
        let deleted = counts.iter().all(|n| *n == 0);
        if deleted {
            table.subs.remove(at);
        }
        *guard = Arc::new(table);
        Some(deleted)
    }
    /// Looks up by uri and policy.
    pub fn lookup(&self, uri: &str, policy: MatchPolicy) -> Option<SubscriptionId> {
        let t = self.snapshot();
        t.subs
            .iter()
            .find(|(s, _)| s.pattern.uri() == uri && s.pattern.policy() == policy)
            .map(|(s, _)| s.id)
    }
}
