//! Drives real cores the way their transports do, without a transport: a
//! client's message goes to its session's `SessionDriver`, what the session
//! queues is read from its connection's outbound queue, and mail between
//! cores is delivered when the script says so. Time is tokio's paused
//! clock, moved by the script.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId, SubscriptionId};
use ringbar_protocol::message::{
    Abort, Call, Cancel, Error, Goodbye, Hello, Message, MessageType, Payload, Publish, Register,
    Subscribe, Unregister, Unsubscribe, Yield,
};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::{MatchPolicy, UriCheck};
use ringbar_protocol::value::{Dict, Value};

use super::client::{Client, Seen, concat};
use super::invariants;
use super::script::{self, MetaProcedure, REALMS, SLOTS, Setup, Step};
use crate::config::{
    Allow, AuthConfig, Disclose, FlowControl, Limits, Permission, RealmConfig, RoleConfig,
    SlowConsumerPolicy,
};
use crate::core::{Core, Shared};
use crate::deflate::Compression;
use crate::realms::Realms;
use crate::runtime::io::{Peer, Stream};
use crate::session::{Flow, SessionDriver};
use crate::transport::Connection;
use crate::wire::{Framing, Wire};

/// Rounds of "deliver all mail, read all queues" before the router must be
/// quiet: each round moves a message one hop (call, invoke, answer, ...).
const QUIET_ROUNDS: usize = 16;

/// One client connection and the session on it.
struct Connected {
    conn: Rc<Connection>,
    driver: SessionDriver,
    client: Client,
}

/// The cores, their shared state, and the client connections.
pub(crate) struct Harness {
    shared: Arc<Shared>,
    cores: Vec<Rc<Core>>,
    auth: Arc<AuthConfig>,
    slots: [Option<Connected>; SLOTS],
    /// Connections made so far (picks the next one's serializer).
    made: usize,
    /// Connections whose session ended: nothing may hold them after the
    /// scenario.
    ended: Vec<Rc<Connection>>,
    /// Every subscription a client held, for the realm's subscriber lists.
    subscriptions: HashSet<SubscriptionId>,
    /// What the clients that ended read.
    seen: Seen,
}

impl Harness {
    /// Cores and realms as `setup` says, and no client yet.
    pub(crate) fn new(setup: Setup) -> Self {
        let flow = FlowControl {
            max_queued_bytes: if setup.small_queues { 2048 } else { 1 << 20 },
            max_core_queued_bytes: if setup.small_queues { 6144 } else { 4 << 20 },
            slow_consumer: if setup.disconnect_slow {
                SlowConsumerPolicy::Disconnect
            } else {
                SlowConsumerPolicy::Drop
            },
        };
        let limits = Limits {
            max_subscriptions_per_session: 4,
            max_registrations_per_session: 4,
            max_retained_bytes_per_realm: 4096,
            ..Limits::default()
        };
        let shared = Arc::new(Shared::new(
            Realms::new(&realms()),
            setup.cores,
            flow,
            limits,
            "epoll",
        ));
        let cores = (0..setup.cores)
            .map(|id| Rc::new(Core::new(id, shared.clone())))
            .collect();
        Self {
            shared,
            cores,
            auth: Arc::new(AuthConfig::default()),
            slots: Default::default(),
            made: 0,
            ended: Vec::new(),
            subscriptions: HashSet::new(),
            seen: Seen::new(),
        }
    }

    /// Runs one step, then lets the sessions whose connection closes end
    /// (as their transport would) and checks every core.
    pub(crate) async fn run(&mut self, step: Step) {
        match step {
            Step::Hello {
                slot,
                realm,
                features,
            } => self.send(slot, |_| hello(realm, features)).await,
            Step::Subscribe {
                slot,
                topic,
                policy,
                get_retained,
            } => {
                self.send(slot, |c| {
                    let mut options = match_option(policy);
                    if get_retained {
                        options.insert("get_retained", true);
                    }
                    Message::Subscribe(Subscribe {
                        request: c.request(MessageType::Subscribe),
                        options,
                        topic: Str::from(topic),
                    })
                })
                .await
            }
            Step::Unsubscribe { slot, pick } => {
                self.send(slot, |c| {
                    let subscription = choose(&c.subscriptions, pick, SubscriptionId::new);
                    c.unsubscribing(subscription);
                    Message::Unsubscribe(Unsubscribe {
                        request: c.request(MessageType::Unsubscribe),
                        subscription,
                    })
                })
                .await
            }
            Step::Publish { slot, topic, flags } => {
                let other = self.session_in(usize::from(flags >> script::publish::SLOT_SHIFT));
                self.send(slot, |c| publish(c, topic, flags, other)).await
            }
            Step::Register {
                slot,
                procedure,
                policy,
                invoke,
            } => {
                self.send(slot, |c| {
                    let mut options = match_option(policy);
                    if let Some(invoke) = invoke {
                        options.insert("invoke", invoke);
                    }
                    Message::Register(Register {
                        request: c.request(MessageType::Register),
                        options,
                        procedure: Str::from(procedure),
                    })
                })
                .await
            }
            Step::Unregister { slot, pick } => {
                self.send(slot, |c| {
                    let registration = choose(&c.registrations, pick, RegistrationId::new);
                    c.unregistering(registration);
                    Message::Unregister(Unregister {
                        request: c.request(MessageType::Unregister),
                        registration,
                    })
                })
                .await
            }
            Step::Call {
                slot,
                procedure,
                flags,
            } => {
                if flags & (script::call::SAME_REQUEST | script::call::ANSWERED_REQUEST) != 0 {
                    // Which calls are in flight is known only once the
                    // answers queued so far are read.
                    self.read(slot).await;
                }
                self.send(slot, |c| call(c, procedure, flags)).await
            }
            Step::Yield {
                slot,
                pick,
                progress,
            } => {
                self.send(slot, |c| {
                    let request = invocation(c, pick, !progress);
                    let options: Dict = if progress {
                        [("progress", Value::Bool(true))].into_iter().collect()
                    } else {
                        Dict::new()
                    };
                    Message::Yield(Yield {
                        request,
                        options,
                        payload: arguments(c.serializer, request.get()),
                    })
                })
                .await
            }
            Step::Error {
                slot,
                pick,
                wrong_type,
            } => {
                self.send(slot, |c| {
                    let request = invocation(c, pick, true);
                    let kind = if wrong_type {
                        MessageType::Subscribe
                    } else {
                        MessageType::Invocation
                    };
                    Message::Error(Error {
                        request_type: kind.code(),
                        request,
                        details: Dict::new(),
                        error: Str::from("com.error.fuzzed"),
                        payload: arguments(c.serializer, request.get()),
                    })
                })
                .await
            }
            Step::Cancel { slot, pick, mode } => {
                self.send(slot, |c| {
                    let request = choose(&c.calls(), pick, RequestId::new);
                    let options: Dict =
                        mode.map(|m| ("mode", Value::from(m))).into_iter().collect();
                    Message::Cancel(Cancel { request, options })
                })
                .await
            }
            Step::Goodbye { slot } => {
                self.send(slot, |_| {
                    Message::Goodbye(Goodbye {
                        details: Dict::new(),
                        reason: Str::from("wamp.close.close_realm"),
                    })
                })
                .await
            }
            Step::Abort { slot } => {
                self.send(slot, |_| {
                    Message::Abort(Abort {
                        details: Dict::new(),
                        reason: Str::from("com.fuzzed.abort"),
                    })
                })
                .await
            }
            Step::Disconnect { slot } => self.hang_up(slot).await,
            Step::Read { slot } => self.read(slot).await,
            Step::Deliver { core } => {
                self.deliver(core % self.cores.len());
            }
            Step::Advance { by } => self.advance(by).await,
            Step::Meta {
                slot,
                procedure,
                target,
            } => {
                let target_session = self.session_in(usize::from(target));
                self.send(slot, |c| meta(c, procedure, target, target_session))
                    .await
            }
        }
        // Tasks the step spawned (call timers) start now, before time
        // moves, as they would on a running core.
        run_ready_tasks().await;
        self.reap().await;
        for core in &self.cores {
            invariants::check_core(core);
        }
    }

    /// Ends the scenario: the router settles, callees answer what they
    /// hold, every call of a session still there must then have its
    /// answer; then every session leaves, and every table must be empty.
    /// Returns what the clients read.
    pub(crate) async fn finish(mut self) -> Seen {
        self.settle().await;
        for _ in 0..QUIET_ROUNDS {
            let mut answered = false;
            for slot in 0..SLOTS {
                let pending = match &mut self.slots[slot] {
                    Some(c) => std::mem::take(&mut c.client.invocations),
                    None => continue,
                };
                for request in pending {
                    answered = true;
                    self.send(slot, |c| {
                        Message::Yield(Yield {
                            request,
                            options: Dict::new(),
                            payload: arguments(c.serializer, request.get()),
                        })
                    })
                    .await;
                }
            }
            self.settle().await;
            if !answered {
                break;
            }
        }
        for c in self.slots.iter().flatten() {
            let unanswered = c.client.unanswered();
            assert!(
                unanswered.is_empty(),
                "slot {}: requests never answered (type, request id): {unanswered:?}",
                c.client.slot
            );
        }
        for slot in 0..SLOTS {
            if slot % 2 == 0 && self.slots[slot].is_some() {
                self.run(Step::Goodbye { slot }).await;
            }
            self.hang_up(slot).await;
        }
        // Timers that are left (call timeouts, join deadlines) run out.
        self.advance(Duration::from_secs(3600)).await;
        self.settle().await;
        invariants::check_empty(&self.shared, &self.cores, &self.subscriptions);
        for conn in &self.ended {
            assert_eq!(
                Rc::strong_count(conn),
                1,
                "a connection is still held after its session ended"
            );
        }
        self.seen
    }

    /// The realms, held weakly: nothing may keep them once the router is
    /// gone.
    pub(crate) fn realms(&self) -> Vec<std::sync::Weak<crate::realm::Realm>> {
        REALMS
            .iter()
            .filter_map(|name| self.shared.realms.get(name))
            .map(|realm| Arc::downgrade(&realm))
            .collect()
    }

    /// Sends a message from the client in `slot` (connecting it first when
    /// the slot is empty) and handles it as its transport does.
    async fn send(&mut self, slot: usize, make: impl FnOnce(&mut Client) -> Message) {
        if self.slots[slot].is_none() {
            self.connect(slot);
        }
        let Some(c) = &mut self.slots[slot] else {
            return;
        };
        let message = make(&mut c.client);
        let mut frame = BytesMut::new();
        let encoded = codec::encode(c.client.serializer, &message, &mut frame);
        assert!(
            encoded.is_ok(),
            "the harness made a message it cannot encode: {message:?}"
        );
        let mut flow = c.driver.on_message(frame.freeze());
        if flow == Flow::Continue {
            flow = c.driver.settle().await;
        }
        if flow != Flow::Continue {
            self.hang_up(slot).await;
        }
    }

    /// A new connection in `slot`, on core `slot % cores`.
    fn connect(&mut self, slot: usize) {
        let Some(core) = self.cores.get(slot % self.cores.len()).cloned() else {
            return;
        };
        // The stream is never read nor written: the harness takes frames
        // from the outbound queue. It only has to exist.
        let Ok((stream, _peer)) = std::os::unix::net::UnixStream::pair() else {
            return;
        };
        let Ok(stream) = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(stream))
        else {
            return;
        };
        let conn = Connection::new(Stream::Unix(stream), Peer::Unix, &core);
        let serializer = Serializer::ALL[self.made % Serializer::ALL.len()];
        self.made += 1;
        let wire = Wire {
            serializer,
            framing: Framing::RawSocket,
            batched: false,
            compression: Compression::Off,
        };
        let driver = SessionDriver::new(core, conn.clone(), wire, self.auth.clone());
        self.slots[slot] = Some(Connected {
            conn,
            driver,
            client: Client::new(slot, serializer),
        });
    }

    /// The connection in `slot` ends, as when its reader stops: the session
    /// leaves and the client reads what was queued before the end.
    async fn hang_up(&mut self, slot: usize) {
        let Some(mut c) = self.slots[slot].take() else {
            return;
        };
        c.driver.on_close();
        c.conn.outbound.close();
        c.client.read(drain(&c.conn).await);
        self.subscriptions.extend(c.client.subscribed());
        for (name, n) in c.client.seen {
            *self.seen.entry(name).or_default() += n;
        }
        self.ended.push(c.conn);
    }

    /// The client in `slot` reads everything queued for it.
    async fn read(&mut self, slot: usize) {
        if let Some(c) = &mut self.slots[slot] {
            let bytes = drain(&c.conn).await;
            c.client.read(bytes);
        }
    }

    /// Ends the sessions whose connection is closing (a GOODBYE or kill
    /// was sent, or the slow-consumer policy or a deadline cut it).
    async fn reap(&mut self) {
        for slot in 0..SLOTS {
            let closing = self.slots[slot]
                .as_ref()
                .is_some_and(|c| c.conn.outbound.is_closing());
            if closing {
                self.hang_up(slot).await;
            }
        }
    }

    /// Core `core` handles its mail; returns how many it had.
    /// Moves the paused clock by `by`, serves every core's timers that ran
    /// out (as each core's timer task would) and lets other tasks run.
    async fn advance(&self, by: Duration) {
        tokio::time::advance(by).await;
        for core in &self.cores {
            crate::runtime::expire_timers(core);
        }
        run_ready_tasks().await;
    }

    fn deliver(&self, core: usize) -> usize {
        let Some(core) = self.cores.get(core) else {
            return 0;
        };
        let delivered = RefCell::new(0);
        self.shared.mailboxes.drain(core.id, |mail| {
            *delivered.borrow_mut() += 1;
            crate::runtime::handle_mail(core, mail);
        });
        delivered.into_inner()
    }

    /// Delivers mail and reads every queue until no mail is left.
    async fn settle(&mut self) {
        for _ in 0..QUIET_ROUNDS {
            let delivered: usize = (0..self.cores.len()).map(|core| self.deliver(core)).sum();
            for slot in 0..SLOTS {
                self.read(slot).await;
            }
            self.reap().await;
            if delivered == 0 {
                return;
            }
        }
    }

    /// The session id of the client in `slot`, once it joined.
    fn session_in(&self, slot: usize) -> Option<SessionId> {
        self.slots[slot % SLOTS]
            .as_ref()
            .and_then(|c| c.client.session)
    }
}

/// Takes every frame queued on `conn`.
async fn drain(conn: &Connection) -> Bytes {
    let mut batches = Vec::new();
    while conn.outbound.queued_bytes() > 0 {
        match conn.outbound.next_batch().await {
            Some(batch) => batches.extend(batch),
            None => break,
        }
    }
    concat(&batches)
}

/// Lets the core's other tasks (timers) run what they can.
async fn run_ready_tasks() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// The realms: `realm1` allows everything but `com.deny`; `restricted`
/// allows publishing and subscribing under `com.a` only.
fn realms() -> Vec<RealmConfig> {
    let permission = |uri: &str, match_policy, allow| Permission {
        uri: uri.to_owned(),
        match_policy,
        allow,
        disclose: Disclose::default(),
        cache: true,
    };
    let all = Allow {
        publish: true,
        subscribe: true,
        call: true,
        register: true,
        list: None,
    };
    let pubsub = Allow {
        publish: true,
        subscribe: true,
        ..Allow::default()
    };
    let role = |permissions| RoleConfig {
        name: "anonymous".into(),
        permissions,
        authorizer: None,
        create: false,
    };
    let realm = |name: &str, permissions| RealmConfig {
        name: name.to_owned(),
        roles: vec![role(permissions)],
        uri_check: UriCheck::Loose,
        event_history: Vec::new(),
        enable_meta_api: true,
    };
    vec![
        realm(
            REALMS[0],
            vec![
                permission("", MatchPolicy::Prefix, all),
                permission("com.deny", MatchPolicy::Exact, Allow::default()),
            ],
        ),
        realm(
            REALMS[1],
            vec![permission("com.a", MatchPolicy::Prefix, pubsub)],
        ),
    ]
}

/// HELLO to `REALMS[realm]` announcing the `script::hello` features.
fn hello(realm: usize, features: u8) -> Message {
    let feature = |bit: u8| Value::Bool(features & bit != 0);
    let role = |entries: Vec<(&'static str, Value)>| {
        let features: Dict = entries.into_iter().collect();
        Value::Dict([("features", Value::Dict(features))].into_iter().collect())
    };
    let roles: Dict = [
        (
            "caller",
            role(vec![(
                "progressive_call_invocations",
                feature(script::hello::CALLER_PROGRESSIVE),
            )]),
        ),
        (
            "callee",
            role(vec![
                ("call_canceling", feature(script::hello::CALL_CANCELING)),
                (
                    "progressive_call_invocations",
                    feature(script::hello::CALLEE_PROGRESSIVE),
                ),
            ]),
        ),
        ("publisher", role(Vec::new())),
        ("subscriber", role(Vec::new())),
    ]
    .into_iter()
    .collect();
    Message::Hello(Hello {
        realm: Str::from(REALMS[realm % REALMS.len()]),
        details: [("roles", Value::Dict(roles))].into_iter().collect(),
    })
}

/// PUBLISH with the `script::publish` flags; `other` is the session that
/// `eligible` or `exclude` names.
fn publish(c: &mut Client, topic: &'static str, flags: u8, other: Option<SessionId>) -> Message {
    use script::publish::{ACKNOWLEDGE, ELIGIBLE, EXCLUDE, INCLUDE_ME, RETAIN};
    let acknowledge = flags & ACKNOWLEDGE != 0;
    let request = if acknowledge {
        c.request(MessageType::Publish)
    } else {
        c.unanswered_request()
    };
    let other = Value::List(vec![Value::UInt(other.map_or(1, SessionId::get))]);
    let mut options = Dict::new();
    for (bit, key, value) in [
        (ACKNOWLEDGE, "acknowledge", Value::Bool(true)),
        (INCLUDE_ME, "exclude_me", Value::Bool(false)),
        (RETAIN, "retain", Value::Bool(true)),
        (ELIGIBLE, "eligible", other.clone()),
        (EXCLUDE, "exclude", other),
    ] {
        if flags & bit != 0 {
            options.insert(key, value);
        }
    }
    Message::Publish(Publish {
        request,
        options,
        topic: Str::from(topic),
        payload: arguments(c.serializer, request.get()),
    })
}

/// CALL with the `script::call` flags: a new call (with a fresh id, or
/// the id of the call answered last), or one with the request id of a call
/// in flight.
fn call(c: &mut Client, procedure: &'static str, flags: u8) -> Message {
    use script::call::{
        ANSWERED_REQUEST, DISCLOSE_ME, LONG_TIMEOUT, PROGRESS, RECEIVE_PROGRESS, SAME_REQUEST,
        SHORT_TIMEOUT,
    };
    let in_flight = c.calls();
    let request = match (in_flight.first(), c.last_answered_call) {
        (Some(first), _) if flags & SAME_REQUEST != 0 => *first,
        (_, Some(answered)) if flags & ANSWERED_REQUEST != 0 && !in_flight.contains(&answered) => {
            c.expect(MessageType::Call, answered);
            answered
        }
        _ => c.request(MessageType::Call),
    };
    let mut options = Dict::new();
    for (bit, key, value) in [
        (RECEIVE_PROGRESS, "receive_progress", Value::Bool(true)),
        (PROGRESS, "progress", Value::Bool(true)),
        (SHORT_TIMEOUT, "timeout", Value::UInt(10)),
        (LONG_TIMEOUT, "timeout", Value::UInt(1000)),
        (DISCLOSE_ME, "disclose_me", Value::Bool(true)),
    ] {
        if flags & bit != 0 {
            options.insert(key, value);
        }
    }
    Message::Call(Call {
        request,
        options,
        procedure: Str::from(procedure),
        payload: arguments(c.serializer, request.get()),
    })
}

/// CALL of a meta procedure; `target` names the slot whose session a kill
/// is for (`target_session`), or the topic of a testament.
fn meta(
    c: &mut Client,
    procedure: MetaProcedure,
    target: u8,
    target_session: Option<SessionId>,
) -> Message {
    let (name, args) = match procedure {
        MetaProcedure::Kill => (
            "wamp.session.kill",
            vec![Value::UInt(
                target_session.map_or(u64::from(target) + 1, SessionId::get),
            )],
        ),
        MetaProcedure::KillAll => ("wamp.session.kill_all", Vec::new()),
        MetaProcedure::AddTestament => {
            let topic = ["com.a", "com.b", "wamp.fuzzed"][usize::from(target) % 3];
            (
                "wamp.session.add_testament",
                vec![Value::from(topic), Value::List(vec![Value::UInt(7)])],
            )
        }
        MetaProcedure::FlushTestaments => ("wamp.session.flush_testaments", Vec::new()),
        MetaProcedure::Count => ("wamp.session.count", Vec::new()),
    };
    Message::Call(Call {
        request: c.request(MessageType::Call),
        options: Dict::new(),
        procedure: Str::from(name),
        payload: Payload::from_values(c.serializer, &args, None).unwrap_or_default(),
    })
}

/// `{"match": policy}`, or no option.
fn match_option(policy: Option<&'static str>) -> Dict {
    policy
        .map(|p| ("match", Value::from(p)))
        .into_iter()
        .collect()
}

/// One of the `known` ids (most picks), or one the router never gave.
fn choose<T: Copy + Default>(known: &[T], pick: u8, made: fn(u64) -> Option<T>) -> T {
    if !known.is_empty() && pick < 224 {
        known[usize::from(pick) % known.len()]
    } else {
        made(u64::from(pick) + 1).unwrap_or_default()
    }
}

/// The request id of an INVOCATION the client got (forgotten when
/// `answering` ends it), or one it never got.
fn invocation(c: &mut Client, pick: u8, answering: bool) -> RequestId {
    let request = choose(&c.invocations, pick, RequestId::new);
    if answering {
        c.invocations.retain(|r| *r != request);
    }
    request
}

/// A small positional argument.
fn arguments(serializer: Serializer, n: u64) -> Payload {
    Payload::from_values(serializer, &[Value::UInt(n)], None).unwrap_or_default()
}
