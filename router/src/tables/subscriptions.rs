//! A realm's subscription table, shared by every core thread.
//!
//! One [`Subscription`] per (topic or pattern, match policy), shared by every
//! session that subscribes it, on any core. Publishes read the table without
//! a lock: [`Subscriptions::snapshot`] loads the current immutable [`Table`]
//! from an `ArcSwap`. Changes take a mutex, build the next table and swap it
//! in; subscribe and unsubscribe never block a publish.
//!
//! The writer keeps a subscriber count per (subscription, core); a table only
//! says which cores have subscribers ([`CoreSet`]). So a subscribe that only
//! raises a count on a core already in the set, and an unsubscribe that does
//! not bring one to zero, publish nothing. A new table is published only when
//! a subscription is created or deleted or a core joins or leaves its set.
//!
//! Cost of publishing a table: a [`Table`] is three `Arc`s, one per index;
//! a change copies the changed index's top level and, inside it, only what
//! changes: the O(log n) nodes on one key's path in the exact index's
//! persistent map, or the nodes on one path of the prefix tree (each with
//! its list of at most 256 children) or of the wildcard trie (each with a
//! persistent map of children). The other indexes are shared with the
//! previous table. A plain count change costs one hash probe under the
//! mutex and allocates nothing.
//!
//! The indexes, so that a publish never scans every pattern:
//! - exact: one hash probe (`ahash`, randomly keyed against flooding);
//! - prefix: a byte radix tree walked once along the topic, collecting every
//!   pattern that is a prefix of it, in `O(topic length)`;
//! - wildcard: per component count, a trie over components with a slot for
//!   the empty (any) component, as nats-server's sublist. The topic is split
//!   into a stack array of up to 32 components; a topic with more can only
//!   match a pattern with more, and those few are kept in a list checked one
//!   by one.
//!
//! Matching allocates nothing but the growth of the caller's buffer. There
//! is no shared result cache: each core keeps its own
//! ([`MatchCache`](super::match_cache::MatchCache)), valid while
//! [`Table::generation`] is unchanged. Generations come from one counter
//! for every table of the process, so no two table versions share one.
//!
//! Matching order, the same on every core ([`Table::matches`]): the exact
//! subscription, then prefix subscriptions longest first, then wildcard
//! subscriptions oldest first. Ties cannot arise within exact and prefix (one
//! subscription per URI); wildcards are ordered by `created_seq`.
//!
//! Ids are router-scope ids, random in `[1, 2^31)` ([`crate::ids`] says why
//! not over 53 bits), drawn from a generator seeded by the table's maker (the
//! engine seeds it from the operating system) and checked against the live
//! subscriptions: they reveal nothing about how many subscriptions the realm
//! had, and an id from before a restart is unlikely to name a new
//! subscription.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use ahash::RandomState;
use arc_swap::ArcSwap;
use ringbar_protocol::id::SubscriptionId;
use ringbar_protocol::uri::{MatchPolicy, UriPattern};

pub use super::core_set::{CoreId, CoreSet, CoreSetIter, MAX_CORES};
use super::match_index::{ExactIndex, PrefixIndex, WildcardIndex};
use crate::ids::IdGenerator;

/// The core of a subscriber that lives on no core (see
/// [`Subscriptions::subscribe`]).
pub const NO_CORE: CoreId = CoreId::MAX;

/// One (topic or pattern, match policy), shared by all its subscribers.
///
/// A table holds it behind an `Arc`; when its core set changes, the next
/// table holds a new one with the same id, pattern and `created_seq`.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// The id, unique in the realm while the subscription exists.
    pub id: SubscriptionId,
    /// The topic or pattern, with its match policy.
    pub pattern: UriPattern,
    /// Creation order in the realm: ties in matching order are broken by it.
    pub created_seq: u64,
    /// When it was created (`created` in the subscription meta API).
    pub created: SystemTime,
    /// The cores with at least one subscriber.
    pub cores: CoreSet,
}

/// An immutable view of a realm's subscriptions, as a publish sees them.
#[derive(Clone)]
pub struct Table {
    generation: u64,
    exact: Arc<ExactIndex>,
    prefix: Arc<PrefixIndex>,
    wildcard: Arc<WildcardIndex>,
}

/// What [`Subscriptions::snapshot`] returns: the current table, held for the
/// length of one publish (hold an `Arc<Table>` for longer).
pub type Snapshot = arc_swap::Guard<Arc<Table>>;

/// A realm's subscriptions: lock-free snapshots for publishes, one writer at
/// a time for subscribe and unsubscribe.
pub struct Subscriptions {
    table: ArcSwap<Table>,
    writer: Mutex<Writer>,
}

/// The last generation given to a table version, for every table of the
/// process.
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// A generation no table version had before.
fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1
}

impl Table {
    fn empty() -> Self {
        Self {
            generation: next_generation(),
            exact: Arc::default(),
            prefix: Arc::default(),
            wildcard: Arc::default(),
        }
    }

    /// Appends every subscription that matches `topic` to `out` (which the
    /// caller clears), in the module's deterministic order: exact, then
    /// prefix longest first, then wildcard oldest first. Allocates nothing
    /// but the growth of `out`.
    pub fn matches<'a>(&'a self, topic: &str, out: &mut Vec<&'a Subscription>) {
        self.exact.matches(topic, out);
        self.prefix.matches(topic, out);
        self.wildcard.matches(topic, out);
    }

    /// The subscription of exactly (`uri`, `policy`), if there is one.
    pub fn find(&self, uri: &str, policy: MatchPolicy) -> Option<&Arc<Subscription>> {
        match policy {
            MatchPolicy::Exact => self.exact.find(uri),
            MatchPolicy::Prefix => self.prefix.find(uri),
            MatchPolicy::Wildcard => self.wildcard.find(uri),
        }
    }

    /// How many subscriptions the table holds.
    pub fn len(&self) -> usize {
        self.exact.len() + self.prefix.len() + self.wildcard.len()
    }

    /// Whether the table holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// New with every published change, and unique among all tables: a
    /// per-core cache of match results is valid while the generation it
    /// was filled at is current.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds `sub`, or replaces the subscription of its pattern.
    fn put(&mut self, sub: Arc<Subscription>) {
        match sub.pattern.policy() {
            MatchPolicy::Exact => Arc::make_mut(&mut self.exact).insert(sub),
            MatchPolicy::Prefix => Arc::make_mut(&mut self.prefix).insert(sub),
            MatchPolicy::Wildcard => Arc::make_mut(&mut self.wildcard).insert(sub),
        };
    }

    /// Removes the subscription of `pattern`; copies nothing if absent.
    fn remove(&mut self, pattern: &UriPattern) -> Option<Arc<Subscription>> {
        let uri = pattern.uri();
        self.find(uri, pattern.policy())?;
        match pattern.policy() {
            MatchPolicy::Exact => Arc::make_mut(&mut self.exact).remove(uri),
            MatchPolicy::Prefix => Arc::make_mut(&mut self.prefix).remove(uri),
            MatchPolicy::Wildcard => Arc::make_mut(&mut self.wildcard).remove(uri),
        }
    }

    /// Calls `visit` with every subscription of every index.
    fn for_each(&self, visit: &mut dyn FnMut(&Arc<Subscription>)) {
        self.exact.for_each(visit);
        self.prefix.for_each(visit);
        self.wildcard.for_each(visit);
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("generation", &self.generation)
            .field("exact", &self.exact.len())
            .field("prefix", &self.prefix.len())
            .field("wildcard", &self.wildcard.len())
            .finish()
    }
}

impl Subscriptions {
    /// An empty table whose ids follow from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            table: ArcSwap::from_pointee(Table::empty()),
            writer: Mutex::new(Writer {
                entries: HashMap::default(),
                ids: IdGenerator::from_seed(seed),
                next_seq: 0,
            }),
        }
    }

    /// The current table, read without a lock (what a publish uses).
    pub fn snapshot(&self) -> Snapshot {
        self.table.load()
    }

    /// A session on `core` subscribes `pattern`: joins the subscription of
    /// that (uri, policy), or creates it with a fresh id. Returns the
    /// subscription as it now is and whether it was created (for the
    /// `wamp.subscription.on_create` meta event).
    ///
    /// Counts one more subscriber on `core`; every call must be matched by
    /// one [`unsubscribe`](Self::unsubscribe) from the same core. `core`
    /// is below [`MAX_CORES`], as the router's cores are, or
    /// [`NO_CORE`]: a holder that lives on no core (a realm's event
    /// store), counted but never in a core set, so it receives no mail.
    /// `now` becomes the subscription's `created` time if it is new.
    pub fn subscribe(
        &self,
        pattern: UriPattern,
        core: CoreId,
        now: SystemTime,
    ) -> (Arc<Subscription>, bool) {
        debug_assert!(
            usize::from(core) < MAX_CORES || core == NO_CORE,
            "core {core} out of range"
        );
        let mut writer = self.lock();
        let current = self.table.load_full();
        let (sub, created) = match current.find(pattern.uri(), pattern.policy()) {
            Some(existing) => (self.join(&mut writer, &current, existing, core), false),
            None => (self.create(&mut writer, &current, pattern, core, now), true),
        };
        self.check(&writer, sub.id);
        (sub, created)
    }

    /// A session on `core` leaves subscription `id` (UNSUBSCRIBE, or the
    /// session is gone). Returns whether the subscription was deleted (it
    /// had no other subscriber on any core), or `None` when `id` is unknown
    /// or has no subscriber on `core`.
    pub fn unsubscribe(&self, id: SubscriptionId, core: CoreId) -> Option<bool> {
        let mut writer = self.lock();
        let entry = writer.entries.get_mut(&id)?;
        let at = entry.counts.iter().position(|&(c, _)| c == core)?;
        let count = &mut entry.counts[at].1;
        debug_assert!(*count > 0, "zero count kept for core {core}");
        *count = count.saturating_sub(1);
        if *count > 0 {
            return Some(false);
        }
        entry.counts.swap_remove(at);
        let current = self.table.load_full();
        let deleted = entry.counts.is_empty();
        if deleted {
            let pattern = entry.sub.pattern.clone();
            writer.entries.remove(&id);
            self.store(&current, |table| {
                table.remove(&pattern);
            });
        } else {
            let updated = entry.sub.with_cores(entry.sub.cores.without(core));
            if updated.cores != entry.sub.cores {
                let updated = Arc::new(updated);
                entry.sub = Arc::clone(&updated);
                self.store(&current, |table| table.put(updated));
            }
        }
        self.check(&writer, id);
        Some(deleted)
    }

    /// The subscription with id `id`.
    pub fn get(&self, id: SubscriptionId) -> Option<Arc<Subscription>> {
        self.lock().entries.get(&id).map(|e| Arc::clone(&e.sub))
    }

    /// Every subscription of the realm (`wamp.subscription.list`), read
    /// from the current table: the writers' lock is not held for the scan.
    pub fn all(&self) -> Vec<Arc<Subscription>> {
        let table = self.snapshot();
        let mut all = Vec::with_capacity(table.len());
        table.for_each(&mut |sub| all.push(Arc::clone(sub)));
        all
    }

    /// The id of the subscription of exactly (`uri`, `policy`), read from
    /// the current table without a lock (`wamp.subscription.lookup`).
    pub fn lookup(&self, uri: &str, policy: MatchPolicy) -> Option<SubscriptionId> {
        self.snapshot().find(uri, policy).map(|s| s.id)
    }

    /// How many sessions, on all cores, are subscribed to `id`
    /// (`wamp.subscription.count_subscribers`).
    pub fn subscriber_count(&self, id: SubscriptionId) -> Option<u64> {
        let writer = self.lock();
        let entry = writer.entries.get(&id)?;
        Some(entry.counts.iter().map(|&(_, n)| n).sum())
    }

    /// How many subscribers core `core` counts for `id` (0 when none).
    pub fn count_on(&self, id: SubscriptionId, core: CoreId) -> u64 {
        let writer = self.lock();
        writer.entries.get(&id).map_or(0, |entry| {
            entry
                .counts
                .iter()
                .filter(|&&(c, _)| c == core)
                .map(|&(_, n)| n)
                .sum()
        })
    }

    /// How many subscriptions the realm has.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether the realm has no subscription.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One more subscriber on `core` for an existing subscription; a new
    /// table only when `core` joins its core set.
    fn join(
        &self,
        writer: &mut Writer,
        current: &Table,
        existing: &Arc<Subscription>,
        core: CoreId,
    ) -> Arc<Subscription> {
        debug_assert!(
            writer.entries.contains_key(&existing.id),
            "table and writer disagree on subscription {}",
            existing.id
        );
        let entry = writer.entries.entry(existing.id).or_insert_with(|| Entry {
            sub: Arc::clone(existing),
            counts: Vec::new(),
        });
        match entry.counts.iter_mut().find(|(c, _)| *c == core) {
            Some((_, count)) => *count += 1,
            None => entry.counts.push((core, 1)),
        }
        let cores = entry.sub.cores.with(core);
        if cores == entry.sub.cores {
            return Arc::clone(&entry.sub);
        }
        let updated = Arc::new(entry.sub.with_cores(cores));
        entry.sub = Arc::clone(&updated);
        self.store(current, |table| table.put(Arc::clone(&updated)));
        updated
    }

    /// A new subscription with one subscriber on `core`.
    fn create(
        &self,
        writer: &mut Writer,
        current: &Table,
        pattern: UriPattern,
        core: CoreId,
        now: SystemTime,
    ) -> Arc<Subscription> {
        let id = writer.fresh_id();
        let created_seq = writer.next_seq;
        writer.next_seq += 1;
        let sub = Arc::new(Subscription {
            id,
            pattern,
            created_seq,
            created: now,
            cores: CoreSet::EMPTY.with(core),
        });
        writer.entries.insert(
            id,
            Entry {
                sub: Arc::clone(&sub),
                counts: vec![(core, 1)],
            },
        );
        self.store(current, |table| table.put(Arc::clone(&sub)));
        sub
    }

    /// Publishes `current` changed by `change` as the next table.
    fn store(&self, current: &Table, change: impl FnOnce(&mut Table)) {
        let mut next = current.clone();
        change(&mut next);
        next.generation = next_generation();
        self.table.store(Arc::new(next));
    }

    /// The writer; a panic in another writer (which could only be a bug)
    /// does not stop the realm: the state is consistent between calls, as
    /// a table is published whole.
    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Debug builds: checks the invariants around subscription `touched`,
    /// and the whole table while it is small enough to keep tests fast.
    fn check(&self, writer: &Writer, touched: SubscriptionId) {
        if !cfg!(debug_assertions) {
            return;
        }
        let table = self.table.load();
        debug_assert_eq!(table.len(), writer.entries.len(), "index sizes");
        if writer.entries.len() > FULL_CHECK_MAX {
            if let Some(entry) = writer.entries.get(&touched) {
                entry.check(&table);
            }
            return;
        }
        for entry in writer.entries.values() {
            entry.check(&table);
        }
        let mut seen = 0;
        table.for_each(&mut |sub| {
            seen += 1;
            let entry = writer.entries.get(&sub.id);
            debug_assert!(
                entry.is_some_and(|e| Arc::ptr_eq(&e.sub, sub)),
                "table holds a subscription the writer does not"
            );
        });
        debug_assert_eq!(seen, writer.entries.len(), "a subscription in two indexes");
    }
}

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriptions")
            .field("table", &*self.snapshot())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    fn with_cores(&self, cores: CoreSet) -> Self {
        Self {
            cores,
            ..self.clone()
        }
    }
}

/// Up to this many subscriptions, debug builds check the whole table after
/// every change; past it, only the subscription changed, so the checks stay
/// cheap in big tests. A debug-build cost bound, not a bound on peers.
const FULL_CHECK_MAX: usize = 1024;

/// The writer's side: subscriber counts, and the state of id and sequence.
struct Writer {
    entries: HashMap<SubscriptionId, Entry, RandomState>,
    ids: IdGenerator,
    next_seq: u64,
}

/// A live subscription: the `Arc` the current table holds, and its
/// subscriber count per core (only non-zero counts are kept).
struct Entry {
    sub: Arc<Subscription>,
    counts: Vec<(CoreId, u64)>,
}

impl Writer {
    /// A random router-scope id that no live subscription has.
    fn fresh_id(&mut self) -> SubscriptionId {
        self.ids
            .fresh_router_scope_id(SubscriptionId::new, |id| self.entries.contains_key(id))
    }
}

impl Entry {
    /// Counts positive, one per core, a core in the set iff it has a count,
    /// and the table's subscription for the pattern is this one.
    fn check(&self, table: &Table) {
        debug_assert!(!self.counts.is_empty(), "live subscription, no subscriber");
        let mut mask = 0u64;
        for &(core, count) in &self.counts {
            debug_assert!(count > 0, "zero count kept");
            let bit = CoreSet::EMPTY.with(core).bits();
            debug_assert!(mask & bit == 0, "core {core} counted twice");
            mask |= bit;
        }
        debug_assert_eq!(self.sub.cores.bits(), mask, "core set and counts differ");
        let found = table.find(self.sub.pattern.uri(), self.sub.pattern.policy());
        debug_assert!(
            found.is_some_and(|s| Arc::ptr_eq(s, &self.sub)),
            "subscription {} missing from its index",
            self.sub.id
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;
    use ringbar_protocol::uri::UriCheck;

    fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
        UriPattern::parse(uri, policy, UriCheck::Strict).unwrap()
    }

    #[test]
    fn a_poisoned_writer_is_recovered() {
        let subs = Arc::new(Subscriptions::new(1));
        let (a, _) = subs.subscribe(pattern("com.a", MatchPolicy::Exact), 0, T0);
        let poisoner = Arc::clone(&subs);
        let result = std::thread::spawn(move || {
            let _guard = poisoner.writer.lock();
            panic!("poison the writer");
        })
        .join();
        assert!(result.is_err() && subs.writer.is_poisoned());
        let (b, created) = subs.subscribe(pattern("com.a", MatchPolicy::Exact), 1, T0);
        assert!(!created && a.id == b.id);
        assert_eq!(subs.unsubscribe(a.id, 0), Some(false));
        assert_eq!(subs.unsubscribe(a.id, 1), Some(true));
        assert!(subs.get(a.id).is_none());
    }

    #[test]
    fn counts_are_kept_per_core_only_while_positive() {
        let subs = Subscriptions::new(1);
        let (sub, _) = subs.subscribe(pattern("com", MatchPolicy::Prefix), 2, T0);
        subs.subscribe(pattern("com", MatchPolicy::Prefix), 2, T0);
        subs.subscribe(pattern("com", MatchPolicy::Prefix), 5, T0);
        subs.unsubscribe(sub.id, 5);
        let writer = subs.lock();
        assert_eq!(writer.entries[&sub.id].counts, [(2, 2)]);
    }
}
