//! A core: one thread's share of the router. It owns the sessions it
//! accepted, their queues, its local view of subscriptions, and the calls
//! and invocations of its sessions; other cores
//! reach them only through mailboxes.

pub mod authorizer;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod dealer;
pub mod inputs;
pub mod mail;
pub mod meta;
pub mod realm;
pub mod realms;
pub mod seed;
pub mod session;
pub mod sessions;
pub mod timeout;

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::SlowWork;
use crate::ids::IdGenerator;
use crate::local::signal::Signal;
use crate::local::testaments::Testaments;
use crate::tables::match_cache::MatchCache;
use crate::timers::Clock;
use crate::timers::{TimerId, Timers};
use ringbar_protocol::id::SessionId;
use std::time::Instant;

use crate::auth::Channel;
use crate::core::broker::LocalSubscribers;
use crate::core::cluster::ClusterPort;
use crate::core::dealer::calls::CoreDealer;
use crate::core::mail::Mail;
use crate::core::realms::Realms;
use crate::core::session::SessionHandle;
use crate::core::sessions::{SessionKey, Sessions};
use crate::core::timeout::Timeout;
use crate::limits::{FlowControl, Limits};
use crate::local::figures::CoreFigures;
use crate::local::link::Link;
use crate::local::outbound::{Outbound, QueueBudget};
use crate::local::peer::Peer;
use crate::mesh::{Mailboxes, SendError};
use crate::wire::deflate::ConnectionCompressor;

/// What every core shares.
pub struct Shared {
    /// The realms, by name.
    pub realms: Realms,
    /// The cross-core mailboxes.
    pub mailboxes: Mailboxes<Mail>,
    /// Flow control for every session.
    pub flow: FlowControl,
    /// What one session may hold.
    pub limits: Limits,
    /// Session ids in use, so a new one is unique per router.
    session_ids: Mutex<HashSet<u64>>,
    /// Live figures of each core, for `ringbar status`, the metrics
    /// endpoint and tests.
    pub figures: Vec<Arc<CoreFigures>>,
    /// The I/O backend the cores run on (`io_uring` or `epoll`).
    pub io: &'static str,
    /// Failed authentication attempts per peer address, for every core.
    pub auth_failures: crate::auth::FailureLimiter,
    /// Where authentication's slow work runs, off the cores.
    pub slow_work: Arc<dyn SlowWork>,
    /// The driver's clock.
    pub clock: Arc<dyn Clock>,
    /// The cluster link, when realms are shared with other nodes.
    pub cluster: Option<ClusterPort>,
}

/// What the driver gives the router: its clock, and where slow work runs.
pub struct Drivers {
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Work too slow for a core.
    pub slow_work: Arc<dyn SlowWork>,
}

impl Shared {
    /// Shared state for `cores` cores.
    pub fn new(
        realms: Realms,
        cores: usize,
        flow: FlowControl,
        limits: Limits,
        io: &'static str,
        drivers: Drivers,
    ) -> Self {
        Self {
            realms,
            mailboxes: Mailboxes::new(cores, limits.mailbox_capacity),
            flow,
            limits,
            session_ids: Mutex::new(HashSet::new()),
            figures: (0..cores).map(|_| Arc::new(CoreFigures::new())).collect(),
            io,
            auth_failures: crate::auth::FailureLimiter::new(limits.max_failed_auth_addresses),
            slow_work: drivers.slow_work,
            clock: drivers.clock,
            cluster: None,
        }
    }

    /// These shared parts with a cluster link sharing `realms`: the link
    /// gets the mailbox after the last core's.
    pub fn with_cluster(mut self, realms: impl IntoIterator<Item = String>) -> Self {
        let link = self.figures.len();
        self.mailboxes = Mailboxes::new(link + 1, self.limits.mailbox_capacity);
        self.cluster = Some(ClusterPort {
            link,
            realms: realms.into_iter().collect(),
            figures: Arc::default(),
        });
        self
    }

    /// The cluster link's mailbox when `realm` is shared with other nodes.
    pub fn cluster_link(&self, realm: &realm::Realm) -> Option<usize> {
        self.cluster.as_ref().and_then(|c| c.link_for(realm))
    }

    /// Claims a fresh session id: unique on this router and, in a
    /// cluster, among the other nodes' sessions this node knows of.
    pub fn claim_session_id(&self, ids: &mut IdGenerator) -> SessionId {
        let mut used = self.session_ids.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let id = SessionId::new(ids.next_id()).unwrap_or_default();
            if !self.elsewhere(id) && used.insert(id.get()) {
                return id;
            }
        }
    }

    /// Whether another node of the cluster has a session `id`.
    fn elsewhere(&self, id: SessionId) -> bool {
        self.cluster.as_ref().is_some_and(|cluster| {
            cluster
                .realms
                .iter()
                .filter_map(|name| self.realms.get(name))
                .any(|realm| realm.has_session(id))
        })
    }

    /// Session ids claimed and not released: none once every session left.
    pub fn session_ids_in_use(&self) -> usize {
        self.session_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Releases a session id.
    pub fn release_session_id(&self, id: SessionId) {
        let mut used = self.session_ids.lock().unwrap_or_else(|e| e.into_inner());
        used.remove(&id.get());
    }
}

/// One core's state. Lives on its thread (`Rc`), never shared.
pub struct Core {
    /// This core's index.
    pub id: usize,
    /// What all cores share.
    pub shared: Arc<Shared>,
    /// The joined sessions on this core: their one owner.
    pub sessions: RefCell<Sessions>,
    /// Who subscribes to what on this core.
    pub local_subscribers: RefCell<LocalSubscribers>,
    /// What topics matched, per realm index (see `MatchCache`).
    pub match_caches: RefCell<ahash::AHashMap<usize, MatchCache>>,
    /// This core's calls and invocations in flight, and its callees.
    pub dealer: CoreDealer,
    /// Random ids for sessions and publications.
    pub ids: RefCell<IdGenerator>,
    /// Local deliveries held back while a reader hands over publications
    /// that arrived together.
    pub held: broker::Held,
    /// Mail that did not fit its mailbox yet; publishers wait while any is
    /// here.
    backlog: RefCell<VecDeque<(usize, Mail)>>,
    /// Wakes the driver's backlog task when mail goes into the backlog,
    /// so it reaches its mailbox even when no connection reads on this core.
    pub backlog_added: Signal,
    /// The testaments of this core's sessions.
    pub testaments: RefCell<Testaments>,
    /// The bytes queued on this core's connections, against its limit.
    pub queue_budget: Rc<QueueBudget>,
    /// This core's live figures (its entry of `Shared::figures`).
    pub figures: Arc<CoreFigures>,
    /// This core's timers, on the clock of `origin`.
    timers: RefCell<Timers<Timeout>>,
    /// Wakes the driver's timer task when a timer earlier than all others
    /// is set.
    pub timers_changed: Signal,
    /// Where this core's clock starts: the router crate counts time in
    /// nanoseconds since it.
    origin: Instant,
    /// Open connections (for a graceful shutdown).
    connections: Cell<usize>,
    /// Raised when one closes.
    pub connections_changed: Signal,
}

impl Core {
    /// Core `id` of a router.
    pub fn new(id: usize, shared: Arc<Shared>) -> Self {
        // Every core has its entry (made for `cores` cores); the fallback
        // only keeps this free of a panic path.
        let figures = shared
            .figures
            .get(id)
            .cloned()
            .unwrap_or_else(|| Arc::new(CoreFigures::new()));
        let queue_budget = Rc::new(QueueBudget::new(
            shared.flow.max_core_queued_bytes,
            figures.clone(),
        ));
        let ids = IdGenerator::from_seed(shared.realms.seeds().next());
        let origin = shared.clock.now();
        Self {
            id,
            shared,
            sessions: RefCell::new(Sessions::default()),
            local_subscribers: RefCell::new(LocalSubscribers::default()),
            match_caches: RefCell::new(ahash::AHashMap::new()),
            dealer: CoreDealer::default(),
            ids: RefCell::new(ids),
            held: broker::Held::default(),
            backlog: RefCell::new(VecDeque::new()),
            backlog_added: Signal::default(),
            testaments: RefCell::new(Testaments::default()),
            queue_budget,
            figures,
            timers: RefCell::new(Timers::default()),
            timers_changed: Signal::default(),
            origin,
            connections: Cell::new(0),
            connections_changed: Signal::default(),
        }
    }

    /// Adds the joined session `make` builds from its key; `None` when the
    /// core cannot hold one more.
    pub fn add_session(
        &self,
        make: impl FnOnce(SessionKey) -> Rc<SessionHandle>,
    ) -> Option<Rc<SessionHandle>> {
        let session = self.sessions.borrow_mut().insert(make)?;
        self.figures.sessions.add(1);
        Some(session)
    }

    /// Removes a session that left.
    pub fn remove_session(&self, key: SessionKey) -> Option<Rc<SessionHandle>> {
        let removed = self.sessions.borrow_mut().remove(key);
        if removed.is_some() {
            self.figures.sessions.sub(1);
        }
        removed
    }

    /// The joined session `key` names on this core, if it is still here.
    pub fn session(&self, key: SessionKey) -> Option<Rc<SessionHandle>> {
        self.sessions.borrow().get(key).cloned()
    }

    /// Sends mail to core `to`, keeping it in the backlog if that mailbox is
    /// full (or earlier mail is still waiting, to keep the order). A core
    /// that does not exist is an error: the caller answers for the mail
    /// instead of waiting for a reply that cannot come.
    pub fn send_mail(&self, to: usize, mail: Mail) -> Result<(), NoSuchCore> {
        if to >= self.shared.mailboxes.cores() {
            return Err(NoSuchCore(to));
        }
        let mut backlog = self.backlog.borrow_mut();
        if backlog.is_empty() {
            match self.shared.mailboxes.send(self.id, to, mail) {
                Ok(()) => {}
                Err(SendError::Full(mail)) => {
                    backlog.push_back((to, mail));
                    self.backlog_added.raise();
                }
                Err(SendError::NoSuchCore(_)) => return Err(NoSuchCore(to)),
            }
        } else {
            backlog.push_back((to, mail));
        }
        Ok(())
    }

    /// Whether mail is waiting for room in a mailbox.
    pub fn has_backlog(&self) -> bool {
        !self.backlog.borrow().is_empty()
    }

    /// The core the oldest mail of the backlog goes to, if any waits.
    pub fn backlog_front(&self) -> Option<usize> {
        self.backlog.borrow().front().map(|(to, _)| *to)
    }

    /// Moves mail from the backlog into the mailboxes until one is full;
    /// whether the backlog is empty now.
    pub fn move_backlog(&self) -> bool {
        let mut backlog = self.backlog.borrow_mut();
        while let Some((to, mail)) = backlog.pop_front() {
            match self.shared.mailboxes.send(self.id, to, mail) {
                Ok(()) => {}
                Err(SendError::Full(mail)) => {
                    backlog.push_front((to, mail));
                    return false;
                }
                // `send_mail` let in only cores that exist.
                Err(SendError::NoSuchCore(_)) => {
                    tracing::error!(core = self.id, to, "mail to an unknown core dropped");
                }
            }
        }
        true
    }

    /// The link of a new connection from `peer`, with an empty queue under
    /// the core's flow control.
    pub fn link(
        &self,
        peer: Peer,
        channel: Channel,
        compressor: Option<ConnectionCompressor>,
    ) -> Link {
        let outbound = Outbound::new(self.shared.flow.max_queued_bytes, self.queue_budget.clone());
        Link::new(
            peer,
            channel,
            outbound,
            self.figures.clone(),
            compressor,
            self.now(),
        )
    }

    /// Now, on this core's timer clock.
    pub fn now(&self) -> u64 {
        let elapsed = self
            .shared
            .clock
            .now()
            .saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Sets a timer that expires `after` from now with `timeout`.
    pub fn set_timer(&self, after: Duration, timeout: Timeout) -> TimerId {
        let after = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
        let deadline = self.now().saturating_add(after);
        let mut timers = self.timers.borrow_mut();
        let earliest = timers.next_deadline().is_none_or(|next| deadline < next);
        let id = timers.insert(deadline, timeout);
        if earliest {
            self.timers_changed.raise();
        }
        id
    }

    /// Stops a timer (its owner is done before it expired).
    pub fn cancel_timer(&self, id: TimerId) {
        self.timers.borrow_mut().cancel(id);
    }

    /// Timers set and neither expired nor cancelled: none once every
    /// session left.
    pub fn pending_timers(&self) -> usize {
        self.timers.borrow().len()
    }

    /// Takes the next timer that has expired by now.
    pub fn expired_timer(&self) -> Option<Timeout> {
        let now = self.now();
        self.timers.borrow_mut().expire(now)
    }

    /// When the earliest timer expires, on the driver's clock.
    pub fn next_deadline(&self) -> Option<Instant> {
        let deadline = self.timers.borrow().next_deadline()?;
        Some(self.origin + Duration::from_nanos(deadline))
    }

    /// Counts a connection in; the guard counts it out when dropped.
    pub fn open_connection(self: &Rc<Self>) -> ConnectionGuard {
        self.connections.set(self.connections.get() + 1);
        ConnectionGuard { core: self.clone() }
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.connections.get()
    }
}

/// Mail was addressed to a core this router does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("core {0} does not exist")]
pub struct NoSuchCore(pub usize);

/// Keeps a connection counted while it lives.
pub struct ConnectionGuard {
    core: Rc<Core>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let n = self.core.connections.get().saturating_sub(1);
        self.core.connections.set(n);
        self.core.connections_changed.raise();
    }
}
