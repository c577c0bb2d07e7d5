//! A core: one thread's share of the router. It owns the sessions it
//! accepted, their queues, its local view of subscriptions, and the calls
//! and invocations of its sessions; other cores
//! reach them only through mailboxes.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringbar_protocol::id::SessionId;
use ringbar_router::auth::SlowWork;
use ringbar_router::ids::IdGenerator;
use ringbar_router::local::signal::Signal;
use ringbar_router::local::testaments::Testaments;
use ringbar_router::tables::match_cache::MatchCache;
use ringbar_router::timers::Clock;
use ringbar_router::timers::{TimerId, Timers};
use std::time::Instant;

use crate::broker::LocalSubscribers;
use crate::config::{FlowControl, Limits};
use crate::dealer::calls::CoreDealer;
use crate::figures::CoreFigures;
use crate::mail::Mail;
use crate::outbound::{Outbound, QueueBudget};
use crate::peer::Peer;
use crate::realms::Realms;
use crate::session::SessionHandle;
use crate::sessions::{SessionKey, Sessions};
use crate::timeout::Timeout;
use ringbar_router::auth::Channel;
use ringbar_router::local::link::Link;
use ringbar_router::mesh::{Mailboxes, SendError};
use ringbar_router::wire::deflate::ConnectionCompressor;

/// What every core shares.
pub(crate) struct Shared {
    /// The realms, by name.
    pub(crate) realms: Realms,
    /// The cross-core mailboxes.
    pub(crate) mailboxes: Mailboxes<Mail>,
    /// Flow control for every session.
    pub(crate) flow: FlowControl,
    /// What one session may hold.
    pub(crate) limits: Limits,
    /// Session ids in use, so a new one is unique per router.
    session_ids: Mutex<HashSet<u64>>,
    /// Live figures of each core, for `ringbar status`, the metrics
    /// endpoint and tests.
    pub(crate) figures: Vec<Arc<CoreFigures>>,
    /// The I/O backend the cores run on (`io_uring` or `epoll`).
    pub(crate) io: &'static str,
    /// Failed authentication attempts per peer address, for every core.
    pub(crate) auth_failures: ringbar_router::auth::FailureLimiter,
    /// Where authentication's slow work runs, off the cores.
    pub(crate) slow_work: Arc<dyn SlowWork>,
    /// The driver's clock.
    pub(crate) clock: Arc<dyn Clock>,
}

/// What the driver gives the router: its clock, and where slow work runs.
pub(crate) struct Drivers {
    /// The time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Work too slow for a core.
    pub(crate) slow_work: Arc<dyn SlowWork>,
}

impl Drivers {
    /// The runtime's clock, and a slow-work pool running at most half as
    /// many jobs at once as there are `cores` (at least one), so routing
    /// keeps most of the CPU during a login storm.
    pub(crate) fn new(cores: usize) -> Self {
        Self {
            clock: Arc::new(crate::clock::RuntimeClock),
            slow_work: Arc::new(crate::slow_work::SlowWork::new(cores / 2)),
        }
    }
}

impl Shared {
    /// Shared state for `cores` cores.
    pub(crate) fn new(
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
            auth_failures: ringbar_router::auth::FailureLimiter::new(
                limits.max_failed_auth_addresses,
            ),
            slow_work: drivers.slow_work,
            clock: drivers.clock,
        }
    }

    /// Claims a fresh session id.
    pub(crate) fn claim_session_id(&self, ids: &mut IdGenerator) -> SessionId {
        let mut used = self.session_ids.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let id = ids.next_id();
            if used.insert(id) {
                return SessionId::new(id).unwrap_or_default();
            }
        }
    }

    /// Session ids claimed and not released: none once every session left.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn session_ids_in_use(&self) -> usize {
        self.session_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Releases a session id.
    pub(crate) fn release_session_id(&self, id: SessionId) {
        let mut used = self.session_ids.lock().unwrap_or_else(|e| e.into_inner());
        used.remove(&id.get());
    }
}

/// One core's state. Lives on its thread (`Rc`), never shared.
pub(crate) struct Core {
    /// This core's index.
    pub(crate) id: usize,
    /// What all cores share.
    pub(crate) shared: Arc<Shared>,
    /// The joined sessions on this core: their one owner.
    pub(crate) sessions: RefCell<Sessions>,
    /// Who subscribes to what on this core.
    pub(crate) local_subscribers: RefCell<LocalSubscribers>,
    /// What topics matched, per realm index (see `MatchCache`).
    pub(crate) match_caches: RefCell<ahash::AHashMap<usize, MatchCache>>,
    /// This core's calls and invocations in flight, and its callees.
    pub(crate) dealer: CoreDealer,
    /// Random ids for sessions and publications.
    pub(crate) ids: RefCell<IdGenerator>,
    /// Mail that did not fit its mailbox yet; publishers wait while any is
    /// here.
    backlog: RefCell<VecDeque<(usize, Mail)>>,
    /// Wakes the driver's backlog task when mail goes into the backlog,
    /// so it reaches its mailbox even when no connection reads on this core.
    pub(crate) backlog_added: Signal,
    /// The testaments of this core's sessions.
    pub(crate) testaments: RefCell<Testaments>,
    /// The bytes queued on this core's connections, against its limit.
    pub(crate) queue_budget: Rc<QueueBudget>,
    /// This core's live figures (its entry of `Shared::figures`).
    pub(crate) figures: Arc<CoreFigures>,
    /// This core's timers, on the clock of `origin`.
    timers: RefCell<Timers<Timeout>>,
    /// Wakes the driver's timer task when a timer earlier than all others
    /// is set.
    pub(crate) timers_changed: Signal,
    /// Where this core's clock starts: the router crate counts time in
    /// nanoseconds since it.
    origin: Instant,
    /// Open connections (for a graceful shutdown).
    connections: Cell<usize>,
    /// Raised when one closes.
    pub(crate) connections_changed: Signal,
}

impl Core {
    /// Core `id` of a router.
    pub(crate) fn new(id: usize, shared: Arc<Shared>) -> Self {
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
    pub(crate) fn add_session(
        &self,
        make: impl FnOnce(SessionKey) -> Rc<SessionHandle>,
    ) -> Option<Rc<SessionHandle>> {
        let session = self.sessions.borrow_mut().insert(make)?;
        self.figures.sessions.add(1);
        Some(session)
    }

    /// Removes a session that left.
    pub(crate) fn remove_session(&self, key: SessionKey) -> Option<Rc<SessionHandle>> {
        let removed = self.sessions.borrow_mut().remove(key);
        if removed.is_some() {
            self.figures.sessions.sub(1);
        }
        removed
    }

    /// The joined session `key` names on this core, if it is still here.
    pub(crate) fn session(&self, key: SessionKey) -> Option<Rc<SessionHandle>> {
        self.sessions.borrow().get(key).cloned()
    }

    /// Sends mail to core `to`, keeping it in the backlog if that mailbox is
    /// full (or earlier mail is still waiting, to keep the order). A core
    /// that does not exist is an error: the caller answers for the mail
    /// instead of waiting for a reply that cannot come.
    pub(crate) fn send_mail(&self, to: usize, mail: Mail) -> Result<(), NoSuchCore> {
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
    pub(crate) fn has_backlog(&self) -> bool {
        !self.backlog.borrow().is_empty()
    }

    /// The core the oldest mail of the backlog goes to, if any waits.
    pub(crate) fn backlog_front(&self) -> Option<usize> {
        self.backlog.borrow().front().map(|(to, _)| *to)
    }

    /// Moves mail from the backlog into the mailboxes until one is full;
    /// whether the backlog is empty now.
    pub(crate) fn move_backlog(&self) -> bool {
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
    pub(crate) fn link(
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
    pub(crate) fn now(&self) -> u64 {
        let elapsed = self
            .shared
            .clock
            .now()
            .saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Sets a timer that expires `after` from now with `timeout`.
    pub(crate) fn set_timer(&self, after: Duration, timeout: Timeout) -> TimerId {
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
    pub(crate) fn cancel_timer(&self, id: TimerId) {
        self.timers.borrow_mut().cancel(id);
    }

    /// Timers set and neither expired nor cancelled: none once every
    /// session left.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn pending_timers(&self) -> usize {
        self.timers.borrow().len()
    }

    /// Takes the next timer that has expired by now.
    pub(crate) fn expired_timer(&self) -> Option<Timeout> {
        let now = self.now();
        self.timers.borrow_mut().expire(now)
    }

    /// When the earliest timer expires, on the driver's clock.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let deadline = self.timers.borrow().next_deadline()?;
        Some(self.origin + Duration::from_nanos(deadline))
    }

    /// Counts a connection in; the guard counts it out when dropped.
    pub(crate) fn open_connection(self: &Rc<Self>) -> ConnectionGuard {
        self.connections.set(self.connections.get() + 1);
        ConnectionGuard { core: self.clone() }
    }

    /// Open connections.
    pub(crate) fn connections(&self) -> usize {
        self.connections.get()
    }
}

/// Mail was addressed to a core this router does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("core {0} does not exist")]
pub(crate) struct NoSuchCore(pub(crate) usize);

/// Keeps a connection counted while it lives.
pub(crate) struct ConnectionGuard {
    core: Rc<Core>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let n = self.core.connections.get().saturating_sub(1);
        self.core.connections.set(n);
        self.core.connections_changed.raise();
    }
}
