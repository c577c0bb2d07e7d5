//! The one place where every bound on what a peer can make the router hold
//! or wait for lives, each default explained.
//!
//! The node fills these from the `ringbar.limits` and `ringbar.flow`
//! objects of its config file (docs/CONFIG.md); the fields without a
//! config key keep their defaults. Constants elsewhere that size buffers
//! for speed or pace logging bound nothing a peer controls, and say so
//! where they are.

/// Bounds on what peers may make the router hold or wait for, so that no
/// peer can grow a realm's tables, a core's queues or the router's memory
/// (and every core's work on them) without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Subscriptions one session may hold at once
    /// (`ringbar.error.too_many_subscriptions` past it).
    ///
    /// Default 10,000: room for a large dashboard (each subscription costs
    /// a few hundred bytes), far below what would hurt the router.
    pub max_subscriptions_per_session: usize,
    /// Registrations one session may hold at once
    /// (`ringbar.error.too_many_registrations` past it).
    ///
    /// Default 10,000: room for a large service, as for subscriptions.
    pub max_registrations_per_session: usize,
    /// Bytes of retained events (topics and payloads) one realm keeps.
    ///
    /// Default 64 MiB: the last event of many thousand topics of a few KiB
    /// each, a small share of a router's memory.
    pub max_retained_bytes_per_realm: usize,
    /// Topics one realm keeps a retained event of; past it a new topic's
    /// retained event is not kept.
    ///
    /// Default 100,000: bounds the map's own overhead (per topic, beyond
    /// the bytes counted above), which tiny events would otherwise grow.
    pub max_retained_topics_per_realm: usize,
    /// Realms sessions may create from the realm template; past it,
    /// joining a realm that does not exist is refused.
    ///
    /// Default 1,000: each realm has its own tables and meta state; far
    /// more than the per-tenant realms a deployment creates.
    pub max_created_realms: usize,
    /// Testaments one session may keep per scope.
    ///
    /// Default 64: a testament is a whole event held until the session
    /// leaves; clients set one or two.
    pub max_testaments_per_session: usize,
    /// Calls one caller may have in flight; past it a CALL fails with
    /// `wamp.error.unavailable`.
    ///
    /// Default 1,024: far above what a client pipelines, while each call
    /// in flight holds a timer and its state on two cores.
    pub max_calls_per_caller: usize,
    /// Invocations one callee may have in flight; past it (or when its
    /// outbound queue is full) a call to it fails with
    /// `wamp.error.unavailable`.
    ///
    /// Default 4,096: a few callers' worth of pipelined calls; a callee
    /// that falls further behind gets errors, not an ever longer queue.
    pub max_invocations_per_callee: usize,
    /// Decisions one session caches (per URI); the cache starts over when
    /// full.
    ///
    /// Default 1,024: more URIs than a session uses in its hot path, so
    /// the publish path matches permissions once per topic; a session
    /// cycling through more costs a bounded map.
    pub max_cached_decisions_per_session: usize,
    /// Peer addresses the failed-authentication limiter tracks; when full,
    /// a new address is not tracked.
    ///
    /// Default 65,536: a few MiB; a flood of addresses cannot grow it, and
    /// cannot lock clients out either.
    pub max_failed_auth_addresses: usize,
    /// Mails one (sender, receiver) pair of cores queues; past it the
    /// sender keeps mail in its backlog and holds back its publishers.
    ///
    /// Default 65,536: a burst of fan-out to another core fits, while the
    /// memory it may hold stays bounded.
    pub mailbox_capacity: usize,
    /// Connections open at once on all transports together, so that no mix
    /// of transports can take every file descriptor of the process.
    ///
    /// Default 1,000,000: above the 10,000-subscriber fan-outs users run,
    /// below the file descriptors a tuned process gets.
    pub max_connections: usize,
    /// How long a client has to finish the TLS handshake, or to send its
    /// RawSocket handshake, in ms.
    ///
    /// Default 10 s: a slow mobile link needs a few round trips; a peer
    /// that sends nothing must not hold its connection.
    pub handshake_timeout_ms: u64,
    /// How long a connection may take from the end of its transport
    /// handshake to WELCOME (HELLO and authentication), in ms.
    ///
    /// Default 15 s: past the 10 s a dynamic authenticator may take, whose
    /// ABORT says more than a closed connection.
    pub join_timeout_ms: u64,
    /// How long the router waits for a dynamic authenticator's answer, in
    /// ms; then the session is refused.
    ///
    /// Default 10 s: an authenticator that looks a user up in a database
    /// answers in far less; the client waits no longer than this.
    pub authenticator_timeout_ms: u64,
    /// How long the router waits for a dynamic authorizer's answer, in ms;
    /// then the action is denied.
    ///
    /// Default 10 s, as for authenticators.
    pub authorizer_timeout_ms: u64,
    /// The longest `timeout` a call through the REST bridge's caller
    /// service may ask for, in ms.
    ///
    /// Default one day: no HTTP client waits longer, and each such call
    /// holds its connection and its call state until then.
    pub max_rest_call_timeout_ms: u64,
    /// A WAMP connection with no bytes either way for this long is closed,
    /// in ms; 0 never closes one for idling.
    ///
    /// Default 0, as Crossbar.io: WebSocket pings (when configured) find
    /// dead peers, and idle clients are normal.
    pub idle_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_subscriptions_per_session: 10_000,
            max_registrations_per_session: 10_000,
            max_retained_bytes_per_realm: 64 << 20,
            max_retained_topics_per_realm: 100_000,
            max_created_realms: 1_000,
            max_testaments_per_session: 64,
            max_calls_per_caller: 1_024,
            max_invocations_per_callee: 4_096,
            max_cached_decisions_per_session: 1_024,
            max_failed_auth_addresses: 65_536,
            mailbox_capacity: 65_536,
            max_connections: 1_000_000,
            handshake_timeout_ms: 10_000,
            join_timeout_ms: 15_000,
            authenticator_timeout_ms: 10_000,
            authorizer_timeout_ms: 10_000,
            max_rest_call_timeout_ms: 24 * 60 * 60 * 1_000,
            idle_timeout_ms: 0,
        }
    }
}

/// Per-session flow control: how many bytes the router queues for slow
/// readers, and what it does when a subscriber cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowControl {
    /// The most bytes queued for one session before the slow-consumer
    /// policy applies (and calls to it, as a callee, fail).
    ///
    /// Default 4 MiB: seconds of events at the rates a client reads, so a
    /// short stall loses nothing; a dead reader holds no more.
    pub max_queued_bytes: usize,
    /// The most bytes queued for all sessions of one core together. Past
    /// it, an event goes only to sessions whose queue is under their fair
    /// share of it: many slow consumers cannot add up to unbounded memory.
    ///
    /// Default 256 MiB: 64 sessions at their full queue, a fraction of a
    /// server's memory per core.
    pub max_core_queued_bytes: usize,
    /// What happens to a subscriber past `max_queued_bytes`.
    ///
    /// Default [`SlowConsumerPolicy::Drop`]: the session lives on and
    /// misses events (counted), as a client on a bad link expects.
    pub slow_consumer: SlowConsumerPolicy,
}

impl Default for FlowControl {
    fn default() -> Self {
        Self {
            max_queued_bytes: 4 << 20,
            max_core_queued_bytes: 256 << 20,
            slow_consumer: SlowConsumerPolicy::Drop,
        }
    }
}

/// What happens when a subscriber cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumerPolicy {
    /// Drop events for it (counted), keep the session.
    #[default]
    Drop,
    /// Close its connection.
    Disconnect,
}
