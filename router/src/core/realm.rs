//! A realm: the routing namespace sessions join, shared by every core.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::tables::registrations::Registrations;
use crate::tables::subscriptions::{NO_CORE, Subscriptions};
use crate::tables::{PersistentMap, PersistentSet};
use ringbar_protocol::id::{SessionId, SubscriptionId};
use ringbar_protocol::uri::{UriCheck, UriPattern};
use ringbar_protocol::value::Value;

use crate::authorize::Role;
use crate::core::broker::Publication;
use crate::core::config::RealmConfig;
use crate::core::seed::Seeds;
use crate::core::session::Identity;
use crate::limits::Limits;

/// A realm's retained events, one per topic, within a byte budget.
#[derive(Default)]
struct Retained {
    /// The event of each topic, and the bytes it is counted for.
    by_topic: PersistentMap<String, (Arc<Publication>, usize)>,
    /// The sum of those bytes.
    bytes: usize,
}

/// One realm's shared state.
pub struct Realm {
    /// Position in the router's realm list: keys per-core tables, since
    /// subscription ids are unique per realm only.
    pub index: usize,
    /// The realm's URI.
    pub name: String,
    /// How topic URIs are checked.
    pub uri_check: UriCheck,
    /// Whether the meta API is offered here (procedures and events).
    pub meta_api: bool,
    roles: HashMap<String, Arc<Role>>,
    /// The broker's subscription table.
    pub subscriptions: Subscriptions,
    /// The dealer's registration table.
    pub registrations: Registrations,
    retained: Mutex<Retained>,
    /// The joined sessions of every core, for the session meta API (changed
    /// on join and leave only).
    sessions: Mutex<PersistentMap<SessionId, RealmSession>>,
    /// The sessions of each subscription, on every core, for
    /// `wamp.subscription.list_subscribers` (changed on subscribe and
    /// unsubscribe only, never by a publish).
    subscribers: Mutex<HashMap<SubscriptionId, PersistentSet<SessionId>>>,
    /// The event histories of the store's `event-history` entries, by the
    /// subscription each holds (fixed at start; empty for most realms).
    history: HashMap<SubscriptionId, Mutex<History>>,
}

/// The latest events of one `event-history` entry, oldest first.
pub struct History {
    limit: usize,
    events: VecDeque<HistoryEvent>,
}

/// One event in a history.
pub struct HistoryEvent {
    /// When it was published, in ns since the Unix epoch.
    pub time_ns: u64,
    /// The publication.
    pub publication: Arc<Publication>,
    /// Who published it.
    pub publisher: Identity,
}

/// A joined session as the realm's meta API sees it.
#[derive(Clone)]
pub struct RealmSession {
    /// The core it lives on (where a kill is sent).
    pub core: usize,
    /// Its authid.
    pub authid: String,
    /// Its authrole.
    pub authrole: String,
    /// Its `SessionDetails`, as `wamp.session.get` returns them.
    pub details: Value,
}

impl Realm {
    /// The realm of `config`, at `index`, made at `now` (wall clock); its
    /// tables' ids follow from `seeds`.
    pub fn new(index: usize, config: &RealmConfig, seeds: &Seeds, now: SystemTime) -> Self {
        let subscriptions = Subscriptions::new(seeds.next());
        let mut history = HashMap::new();
        for entry in &config.event_history {
            match UriPattern::parse(&entry.uri, entry.match_policy, UriCheck::Loose) {
                // The store holds the subscription for the realm's life,
                // counted on no core: it never receives mail.
                Ok(pattern) => {
                    let (subscription, _) = subscriptions.subscribe(pattern, NO_CORE, now);
                    history.insert(
                        subscription.id,
                        Mutex::new(History {
                            limit: entry.limit,
                            events: VecDeque::new(),
                        }),
                    );
                }
                Err(e) => {
                    tracing::warn!(realm = %config.name, uri = %entry.uri, error = %e, "event history entry ignored")
                }
            }
        }
        Self {
            index,
            name: config.name.clone(),
            uri_check: config.uri_check,
            meta_api: config.enable_meta_api,
            roles: config
                .roles
                .iter()
                .map(|r| (r.name.clone(), Arc::new(Role::new(r))))
                .collect(),
            subscriptions,
            history,
            registrations: Registrations::new(seeds.next()),
            retained: Mutex::new(Retained::default()),
            sessions: Mutex::default(),
            subscribers: Mutex::new(HashMap::new()),
        }
    }

    /// The role named `name`, if the realm defines it.
    pub fn role(&self, name: &str) -> Option<Arc<Role>> {
        self.roles.get(name).cloned()
    }

    /// Keeps a copy of `publication` as its topic's retained event, while
    /// the realm's retained events stay within `limits`
    /// (`max_retained_bytes_per_realm`, counting topics and payloads, and
    /// `max_retained_topics_per_realm`). The copy owns its bytes, so
    /// the read buffer the PUBLISH arrived in is not kept alive by it. An
    /// event that does not fit also drops the topic's older one: a stale
    /// event must not pass for the latest.
    pub fn retain(&self, publication: &Publication, limits: &Limits) {
        let topic = publication.topic.as_str();
        let size = publication.retained_bytes();
        let mut retained = lock(&self.retained);
        let previous = retained
            .by_topic
            .remove(topic)
            .map_or(0, |(_, bytes)| bytes);
        retained.bytes -= previous;
        let fits = retained.bytes + size <= limits.max_retained_bytes_per_realm;
        let room = previous > 0 || retained.by_topic.len() < limits.max_retained_topics_per_realm;
        if fits && room {
            retained
                .by_topic
                .insert(topic.to_owned(), (Arc::new(publication.detached()), size));
            retained.bytes += size;
        } else {
            tracing::debug!(realm = %self.name, topic, size, "retained event not kept: the realm's retained events are at their limit");
        }
    }

    /// Drops the retained events and the event histories: their
    /// publications hold this realm, so without this a realm no longer
    /// used would keep itself alive through them.
    pub fn forget_events(&self) {
        *lock(&self.retained) = Retained::default();
        for history in self.history.values() {
            lock(history).events.clear();
        }
    }

    /// The retained events whose topics `matches` accepts: scanned outside
    /// the lock, on a version of the table cloned under it in O(1).
    pub fn retained(&self, matches: impl Fn(&str) -> bool) -> Vec<Arc<Publication>> {
        let by_topic = lock(&self.retained).by_topic.clone();
        let mut found: Vec<_> = by_topic
            .iter()
            .filter(|(topic, _)| matches(topic))
            .map(|(_, (p, _))| p.clone())
            .collect();
        // Deterministic order: by topic.
        found.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
        found
    }

    /// Whether session `id` is in the realm's list (of this node or, in a
    /// shared realm, of another).
    pub fn has_session(&self, id: SessionId) -> bool {
        lock(&self.sessions).contains_key(&id)
    }

    /// Records a joined session.
    pub fn add_session(&self, id: SessionId, session: RealmSession) {
        lock(&self.sessions).insert(id, session);
    }

    /// Forgets a session that left.
    pub fn remove_session(&self, id: SessionId) {
        lock(&self.sessions).remove(&id);
    }

    /// The sessions `keep` accepts, with their ids: scanned outside the
    /// lock, on a version cloned under it in O(1).
    pub fn sessions(&self, keep: impl Fn(&RealmSession) -> bool) -> Vec<(SessionId, RealmSession)> {
        let sessions = lock(&self.sessions).clone();
        sessions
            .iter()
            .filter(|(_, s)| keep(s))
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    /// The session `id`, if joined.
    pub fn session(&self, id: SessionId) -> Option<RealmSession> {
        lock(&self.sessions).get(&id).cloned()
    }

    /// Records `session` as a subscriber of `subscription`.
    pub fn add_subscriber(&self, subscription: SubscriptionId, session: SessionId) {
        lock(&self.subscribers)
            .entry(subscription)
            .or_default()
            .insert(session);
    }

    /// Forgets `session` as a subscriber of `subscription`, in O(log n).
    pub fn remove_subscriber(&self, subscription: SubscriptionId, session: SessionId) {
        let mut subscribers = lock(&self.subscribers);
        if let Some(set) = subscribers.get_mut(&subscription) {
            set.remove(&session);
            if set.is_empty() {
                subscribers.remove(&subscription);
            }
        }
    }

    /// The subscribers of `subscription`, on every core.
    pub fn subscribers(&self, subscription: SubscriptionId) -> Vec<SessionId> {
        let set = lock(&self.subscribers).get(&subscription).cloned();
        set.map(|set| set.into_iter().collect()).unwrap_or_default()
    }

    /// Keeps `publication`, published at `now` (wall clock), in the
    /// histories of the subscriptions it matched, if any has one.
    pub fn record_history(
        &self,
        publication: &Arc<Publication>,
        publisher: &Identity,
        now: SystemTime,
    ) {
        if self.history.is_empty() {
            return;
        }
        for (subscription, _) in publication.subscriptions.iter() {
            if let Some(history) = self.history.get(subscription) {
                let mut history = lock(history);
                if history.events.len() >= history.limit {
                    history.events.pop_front();
                }
                if history.limit > 0 {
                    history.events.push_back(HistoryEvent {
                        time_ns: unix_ns(now),
                        publication: publication.clone(),
                        publisher: publisher.clone(),
                    });
                }
            }
        }
    }

    /// The latest `limit` events of `subscription`'s history, newest first;
    /// `None` when it keeps none.
    pub fn history<T>(
        &self,
        subscription: SubscriptionId,
        limit: usize,
        each: impl Fn(&HistoryEvent) -> T,
    ) -> Option<Vec<T>> {
        let history = lock(self.history.get(&subscription)?);
        Some(history.events.iter().rev().take(limit).map(each).collect())
    }
}

/// `time` in ns since the Unix epoch.
fn unix_ns(time: SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn realm() -> Realm {
        Realm::new(
            0,
            &RealmConfig {
                name: "realm1".into(),
                roles: Vec::new(),
                uri_check: UriCheck::Loose,
                event_history: Vec::new(),
                enable_meta_api: true,
            },
            &Seeds::Os,
            SystemTime::now(),
        )
    }

    /// The session meta API scans every session of the realm: other cores
    /// joining and leaving must not wait for the scan (before, it ran
    /// under the realm's lock).
    #[test]
    fn a_session_scan_holds_no_lock() {
        let realm = realm();
        for n in 1..=3u64 {
            let id = SessionId::new(n).unwrap();
            let session = RealmSession {
                core: 0,
                authid: format!("user{n}"),
                authrole: "anonymous".into(),
                details: Value::Null,
            };
            realm.add_session(id, session);
        }
        let scanned = Cell::new(0);
        let kept = realm.sessions(|_| {
            scanned.set(scanned.get() + 1);
            realm.sessions.try_lock().is_ok()
        });
        assert_eq!(scanned.get(), 3);
        assert_eq!(kept.len(), 3, "the scan ran under the sessions lock");
    }
}
