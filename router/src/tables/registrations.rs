//! A realm's registration table, shared by every core thread.
//!
//! One [`Registration`] per (procedure or pattern, match policy), with its
//! invocation policy and its callees as (core, session). Calls read the
//! table without a lock: [`Registrations::snapshot`] loads the current
//! immutable [`Table`] from an `ArcSwap`. REGISTER and UNREGISTER take a
//! mutex, build the next table and swap it in; they never block a call.
//!
//! A change costs O(log n): the table's maps are persistent
//! ([`PersistentMap`], ordered ones `imbl::OrdMap`), so the next table
//! shares every node but those on the changed key's path with the last.
//!
//! Which registration a call reaches (the spec's rule, so every core picks
//! the same one): the exact registration; else the longest matching prefix
//! registration; else among matching wildcard registrations the one with
//! the most concrete components, then the one whose first wildcard comes
//! latest, then the oldest. Exact is one hash probe; prefix is one probe
//! per distinct prefix length; wildcard registrations are checked in that
//! order, the first match winning.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use ahash::RandomState;
use arc_swap::ArcSwap;
use imbl::OrdMap;
use ringbar_protocol::id::{RegistrationId, SessionId};
use ringbar_protocol::uri::{MatchPolicy, UriPattern};

use super::persistent::PersistentMap;
use crate::ids::IdGenerator;

/// How a call picks one of a shared registration's callees
/// (`REGISTER.Options.invoke`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvokePolicy {
    /// One callee only: a second REGISTER fails.
    Single,
    /// Each callee in turn.
    RoundRobin,
    /// A callee at random.
    Random,
    /// The callee that registered first.
    First,
    /// The callee that registered last.
    Last,
}

impl InvokePolicy {
    /// The policy named `name` as in `REGISTER.Options.invoke`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "single" => Self::Single,
            "roundrobin" => Self::RoundRobin,
            "random" => Self::Random,
            "first" => Self::First,
            "last" => Self::Last,
            _ => return None,
        })
    }

    /// The name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::RoundRobin => "roundrobin",
            Self::Random => "random",
            Self::First => "first",
            Self::Last => "last",
        }
    }
}

/// One session providing a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callee {
    /// The core the session lives on.
    pub core: usize,
    /// The session.
    pub session: SessionId,
    /// It registered with `forward_timeout`: it enforces call timeouts.
    pub forward_timeout: bool,
    /// It registered with `disclose_caller`: it learns who calls.
    pub disclose_caller: bool,
    /// It takes progressive call invocations.
    pub progressive_invocations: bool,
}

/// One (procedure or pattern, match policy) and its callees, in
/// registration order.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The id, unique in the realm while the registration exists.
    pub id: RegistrationId,
    /// The procedure or pattern, with its match policy.
    pub pattern: UriPattern,
    /// How a call picks a callee.
    pub invoke: InvokePolicy,
    /// Creation order in the realm (ties among wildcards).
    pub created_seq: u64,
    /// When it was created (`created` in the registration meta API).
    pub created: SystemTime,
    /// The callees, oldest first; never empty in a table.
    pub callees: Vec<Callee>,
    /// The round-robin cursor, shared by every version of the registration.
    cursor: Arc<AtomicUsize>,
}

impl Registration {
    /// The callee a call goes to; `random` draws from `rand`.
    pub fn pick(&self, rand: impl FnOnce() -> u64) -> Option<&Callee> {
        let n = self.callees.len();
        if n == 0 {
            return None;
        }
        let at = match self.invoke {
            InvokePolicy::Single | InvokePolicy::First => 0,
            InvokePolicy::Last => n - 1,
            InvokePolicy::RoundRobin => self.cursor.fetch_add(1, Ordering::Relaxed) % n,
            InvokePolicy::Random => (rand() % n as u64) as usize,
        };
        self.callees.get(at)
    }
}

/// An immutable view of a realm's registrations, as a call sees it.
#[derive(Clone, Default)]
pub struct Table {
    exact: PersistentMap<Arc<str>, Arc<Registration>>,
    prefix: PersistentMap<Arc<str>, Arc<Registration>>,
    /// How many prefix patterns have each length (tried longest first).
    prefix_lengths: OrdMap<usize, usize>,
    /// In matching order (see the module doc).
    wildcard: OrdMap<WildcardRank, Arc<Registration>>,
    /// The rank of each wildcard pattern, to find it by URI.
    wildcard_ranks: PersistentMap<Arc<str>, WildcardRank>,
}

impl Table {
    /// The registration a call to `procedure` reaches.
    pub fn best_match(&self, procedure: &str) -> Option<&Arc<Registration>> {
        if let Some(r) = self.exact.get(procedure) {
            return Some(r);
        }
        for &len in self.prefix_lengths.keys().rev() {
            if let Some(r) = procedure.get(..len).and_then(|p| self.prefix.get(p)) {
                return Some(r);
            }
        }
        self.wildcard
            .values()
            .find(|r| r.pattern.matches(procedure))
    }

    /// The registration of exactly (`uri`, `policy`).
    pub fn find(&self, uri: &str, policy: MatchPolicy) -> Option<&Arc<Registration>> {
        match policy {
            MatchPolicy::Exact => self.exact.get(uri),
            MatchPolicy::Prefix => self.prefix.get(uri),
            MatchPolicy::Wildcard => self
                .wildcard_ranks
                .get(uri)
                .and_then(|rank| self.wildcard.get(rank)),
        }
    }

    /// Every registration, exact first, then prefix, then wildcard (what
    /// `wamp.registration.list` reports).
    pub fn list(&self) -> impl Iterator<Item = &Arc<Registration>> {
        self.exact
            .values()
            .chain(self.prefix.values())
            .chain(self.wildcard.values())
    }

    /// How many registrations the table holds.
    pub fn len(&self) -> usize {
        self.exact.len() + self.prefix.len() + self.wildcard.len()
    }

    /// Whether the table holds no registration.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put(&mut self, reg: Arc<Registration>) {
        let uri: Arc<str> = Arc::from(reg.pattern.uri());
        match reg.pattern.policy() {
            MatchPolicy::Exact => {
                self.exact.insert(uri, reg);
            }
            MatchPolicy::Prefix => {
                let len = uri.len();
                if self.prefix.insert(uri, reg).is_none() {
                    *self.prefix_lengths.entry(len).or_default() += 1;
                }
            }
            MatchPolicy::Wildcard => {
                let rank = wildcard_rank(&reg);
                self.wildcard_ranks.insert(uri, rank);
                self.wildcard.insert(rank, reg);
            }
        }
    }

    fn remove(&mut self, reg: &Registration) {
        let uri = reg.pattern.uri();
        match reg.pattern.policy() {
            MatchPolicy::Exact => {
                self.exact.remove(uri);
            }
            MatchPolicy::Prefix => {
                if self.prefix.remove(uri).is_some() {
                    let len = uri.len();
                    match self.prefix_lengths.get(&len) {
                        Some(&n) if n > 1 => {
                            self.prefix_lengths.insert(len, n - 1);
                        }
                        _ => {
                            self.prefix_lengths.remove(&len);
                        }
                    }
                }
            }
            MatchPolicy::Wildcard => {
                if let Some(rank) = self.wildcard_ranks.remove(uri) {
                    self.wildcard.remove(&rank);
                }
            }
        }
    }
}

/// Where a wildcard registration sorts: more concrete components first,
/// then a later first wildcard, then older.
type WildcardRank = (usize, usize, u64);

/// The rank of a wildcard registration.
fn wildcard_rank(reg: &Registration) -> WildcardRank {
    let components: Vec<&str> = reg.pattern.uri().split('.').collect();
    let empty = components.iter().filter(|c| c.is_empty()).count();
    let first_empty = components
        .iter()
        .position(|c| c.is_empty())
        .unwrap_or(components.len());
    (empty, usize::MAX - first_empty, reg.created_seq)
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("exact", &self.exact.len())
            .field("prefix", &self.prefix.len())
            .field("wildcard", &self.wildcard.len())
            .finish()
    }
}

/// Why a REGISTER is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// The procedure has a `single` registration, or the session already
    /// provides it.
    AlreadyExists,
    /// The procedure is registered with another invocation policy.
    PolicyMismatch(InvokePolicy),
}

/// A realm's registrations: lock-free snapshots for calls, one writer at a
/// time for REGISTER and UNREGISTER.
pub struct Registrations {
    table: ArcSwap<Table>,
    writer: Mutex<Writer>,
}

struct Writer {
    by_id: HashMap<RegistrationId, Arc<Registration>, RandomState>,
    ids: IdGenerator,
    next_seq: u64,
}

impl Registrations {
    /// An empty table whose ids follow from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            table: ArcSwap::from_pointee(Table::default()),
            writer: Mutex::new(Writer {
                by_id: HashMap::default(),
                ids: IdGenerator::from_seed(seed),
                next_seq: 0,
            }),
        }
    }

    /// The current table, read without a lock (what a call uses).
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Table>> {
        self.table.load()
    }

    /// `callee` registers `pattern` with `invoke`: joins the registration of
    /// that (uri, policy) when both share it with the same policy, or
    /// creates it (`created` at `now`). Returns the registration and
    /// whether it was created.
    pub fn register(
        &self,
        pattern: UriPattern,
        invoke: InvokePolicy,
        callee: Callee,
        now: SystemTime,
    ) -> Result<(Arc<Registration>, bool), RegisterError> {
        let mut writer = self.lock();
        let current = self.table.load_full();
        let (reg, created) = match current.find(pattern.uri(), pattern.policy()) {
            Some(existing) => {
                if existing.invoke == InvokePolicy::Single
                    || existing.callees.iter().any(|c| c.session == callee.session)
                {
                    return Err(RegisterError::AlreadyExists);
                }
                if existing.invoke != invoke {
                    return Err(RegisterError::PolicyMismatch(existing.invoke));
                }
                let mut next = Registration::clone(existing);
                next.callees.push(callee);
                (Arc::new(next), false)
            }
            None => {
                let id = writer.fresh_id();
                let created_seq = writer.next_seq;
                writer.next_seq += 1;
                let reg = Registration {
                    id,
                    pattern,
                    invoke,
                    created_seq,
                    created: now,
                    callees: vec![callee],
                    cursor: Arc::default(),
                };
                (Arc::new(reg), true)
            }
        };
        writer.by_id.insert(reg.id, Arc::clone(&reg));
        self.store(&current, |t| t.put(Arc::clone(&reg)));
        Ok((reg, created))
    }

    /// `session` leaves registration `id` (UNREGISTER, or the session is
    /// gone). Returns whether the registration was deleted (no callee
    /// left), or `None` when `session` does not provide `id`.
    pub fn unregister(&self, id: RegistrationId, session: SessionId) -> Option<bool> {
        let mut writer = self.lock();
        let existing = writer.by_id.get(&id)?;
        let at = existing.callees.iter().position(|c| c.session == session)?;
        let current = self.table.load_full();
        let mut next = Registration::clone(existing);
        next.callees.remove(at);
        if next.callees.is_empty() {
            writer.by_id.remove(&id);
            self.store(&current, |t| t.remove(&next));
            return Some(true);
        }
        let next = Arc::new(next);
        writer.by_id.insert(id, Arc::clone(&next));
        self.store(&current, |t| t.put(next));
        Some(false)
    }

    /// Every registration of the realm (`wamp.registration.list`), read
    /// from the current table: the writers' lock is not held for the scan.
    pub fn all(&self) -> Vec<Arc<Registration>> {
        self.snapshot().list().cloned().collect()
    }

    /// The registration with id `id` (`wamp.registration.get`).
    pub fn get(&self, id: RegistrationId) -> Option<Arc<Registration>> {
        self.lock().by_id.get(&id).cloned()
    }

    fn store(&self, current: &Table, change: impl FnOnce(&mut Table)) {
        let mut next = current.clone();
        change(&mut next);
        self.table.store(Arc::new(next));
    }

    /// The writer; a panic in another writer (only a bug) does not stop the
    /// realm, as a table is published whole.
    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Writer {
    /// A random router-scope id that no live registration has.
    fn fresh_id(&mut self) -> RegistrationId {
        self.ids
            .fresh_router_scope_id(RegistrationId::new, |id| self.by_id.contains_key(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;
    use ringbar_protocol::uri::UriCheck;

    fn pattern(uri: &str, policy: MatchPolicy) -> UriPattern {
        UriPattern::parse(uri, policy, UriCheck::Loose).unwrap()
    }

    fn callee(session: u64) -> Callee {
        Callee {
            core: 0,
            session: SessionId::new(session).unwrap(),
            forward_timeout: false,
            disclose_caller: false,
            progressive_invocations: false,
        }
    }

    fn uri_of(regs: &Registrations, procedure: &str) -> Option<String> {
        regs.snapshot()
            .best_match(procedure)
            .map(|r| r.pattern.uri().to_owned())
    }

    #[test]
    fn ids_are_router_scope_ids() {
        let regs = Registrations::new(1);
        for p in 0..500 {
            let procedure = pattern(&format!("com.p{p}"), MatchPolicy::Exact);
            let (reg, created) = regs
                .register(procedure, InvokePolicy::Single, callee(1), T0)
                .unwrap();
            assert!(created);
            assert!(
                reg.id.get() <= crate::ids::MAX_ROUTER_SCOPE_ID,
                "{}",
                reg.id
            );
        }
    }

    #[test]
    fn exact_beats_longest_prefix_beats_wildcard() {
        let regs = Registrations::new(1);
        for (uri, policy, s) in [
            ("com.a.b.c", MatchPolicy::Exact, 1),
            ("com.a", MatchPolicy::Prefix, 2),
            ("com.a.b", MatchPolicy::Prefix, 3),
            ("com..b.c", MatchPolicy::Wildcard, 4),
            ("com.x..", MatchPolicy::Wildcard, 5),
            ("com.x.y.", MatchPolicy::Wildcard, 6),
        ] {
            regs.register(pattern(uri, policy), InvokePolicy::Single, callee(s), T0)
                .unwrap();
        }
        assert_eq!(uri_of(&regs, "com.a.b.c").as_deref(), Some("com.a.b.c"));
        assert_eq!(uri_of(&regs, "com.a.b.d").as_deref(), Some("com.a.b"));
        assert_eq!(uri_of(&regs, "com.ab").as_deref(), Some("com.a"));
        assert_eq!(uri_of(&regs, "com.z.b.c").as_deref(), Some("com..b.c"));
        assert_eq!(uri_of(&regs, "com.x.y.z").as_deref(), Some("com.x.y."));
        assert_eq!(uri_of(&regs, "com.x.q.z").as_deref(), Some("com.x.."));
        assert_eq!(uri_of(&regs, "org.a"), None);
        let mut listed: Vec<_> = regs
            .snapshot()
            .list()
            .map(|r| r.pattern.uri().to_owned())
            .collect();
        listed.sort();
        assert_eq!(listed.len(), 6);
        assert_eq!(listed[0], "com..b.c");
    }

    #[test]
    fn single_refuses_a_second_callee_and_policies_must_agree() {
        let regs = Registrations::new(1);
        let p = || pattern("com.p", MatchPolicy::Exact);
        regs.register(p(), InvokePolicy::Single, callee(1), T0)
            .unwrap();
        assert_eq!(
            regs.register(p(), InvokePolicy::Single, callee(2), T0)
                .unwrap_err(),
            RegisterError::AlreadyExists
        );
        let q = || pattern("com.q", MatchPolicy::Exact);
        regs.register(q(), InvokePolicy::RoundRobin, callee(1), T0)
            .unwrap();
        assert_eq!(
            regs.register(q(), InvokePolicy::Random, callee(2), T0)
                .unwrap_err(),
            RegisterError::PolicyMismatch(InvokePolicy::RoundRobin)
        );
        assert_eq!(
            regs.register(q(), InvokePolicy::RoundRobin, callee(1), T0)
                .unwrap_err(),
            RegisterError::AlreadyExists
        );
        let (reg, created) = regs
            .register(q(), InvokePolicy::RoundRobin, callee(2), T0)
            .unwrap();
        assert!(!created);
        assert_eq!(reg.callees.len(), 2);
    }

    #[test]
    fn policies_pick_callees() {
        let regs = Registrations::new(1);
        for (policy, name) in [
            (InvokePolicy::RoundRobin, "rr."),
            (InvokePolicy::First, "first."),
            (InvokePolicy::Last, "last."),
            (InvokePolicy::Random, "random."),
        ] {
            let uri = format!("{name}p");
            for s in 1..=3 {
                regs.register(pattern(&uri, MatchPolicy::Exact), policy, callee(s), T0)
                    .unwrap();
            }
        }
        let table = regs.snapshot();
        let picks = |uri: &str, rand: u64| -> Vec<u64> {
            let reg = table.best_match(uri).unwrap();
            (0..4)
                .map(|_| reg.pick(|| rand).unwrap().session.get())
                .collect()
        };
        assert_eq!(picks("rr.p", 0), [1, 2, 3, 1]);
        assert_eq!(picks("first.p", 0), [1, 1, 1, 1]);
        assert_eq!(picks("last.p", 0), [3, 3, 3, 3]);
        assert_eq!(picks("random.p", 4), [2, 2, 2, 2]);
    }

    #[test]
    fn unregister_keeps_the_id_until_the_last_callee_leaves() {
        let regs = Registrations::new(1);
        let p = || pattern("com.", MatchPolicy::Prefix);
        let (reg, _) = regs
            .register(p(), InvokePolicy::First, callee(1), T0)
            .unwrap();
        regs.register(p(), InvokePolicy::First, callee(2), T0)
            .unwrap();
        assert_eq!(regs.unregister(reg.id, SessionId::new(9).unwrap()), None);
        assert_eq!(
            regs.unregister(reg.id, SessionId::new(1).unwrap()),
            Some(false)
        );
        let now = regs.snapshot().best_match("com.x").cloned().unwrap();
        assert_eq!(now.id, reg.id);
        assert_eq!(now.callees, [callee(2)]);
        assert_eq!(
            regs.unregister(reg.id, SessionId::new(2).unwrap()),
            Some(true)
        );
        assert!(regs.snapshot().best_match("com.x").is_none());
        assert!(regs.get(reg.id).is_none());
        assert_eq!(regs.snapshot().len(), 0);
    }
}
