//! Runs a script on a simulated router ([`crate::sim`]): a step's client
//! message goes to its session, mail between cores is delivered and time
//! moves when the script says so, and what the clients read is checked.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId, SubscriptionId};
use ringbar_protocol::message::{
    Abort, Call, Cancel, Error, Goodbye, Hello, Message, MessageType, Payload, Publish, Register,
    Subscribe, Unregister, Unsubscribe, Yield,
};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::MatchPolicy;
use ringbar_protocol::value::{Dict, Value};

use super::client::{Client, Seen};
use super::script::{self, MetaProcedure, REALMS, SLOTS, Setup, Step};
use crate::config::{Allow, FlowControl, Limits, RealmConfig, SlowConsumerPolicy};
use crate::sim::setup::{anonymous_realm, everything, permission, pubsub};
use crate::sim::{self, ClientId, Sim, invariants};

/// Rounds of "answer every invocation, let the router settle" before every
/// call must have its answer.
const QUIET_ROUNDS: usize = 16;

/// One client connection and what its client knows.
struct Connected {
    id: ClientId,
    client: Client,
}

/// The simulated router and the client connections of the slots.
pub(crate) struct Harness {
    sim: Sim,
    slots: [Option<Connected>; SLOTS],
    /// Connections made so far (picks the next one's serializer).
    made: usize,
    /// Every subscription a client held, for the realm's subscriber lists.
    subscriptions: HashSet<SubscriptionId>,
    /// What the clients that ended read.
    seen: Seen,
}

impl Harness {
    /// Cores and realms as `setup` says, and no client yet.
    pub(crate) fn new(setup: Setup) -> Self {
        let mut router = sim::Setup::new(setup.cores);
        router.realms = realms();
        router.flow = FlowControl {
            max_queued_bytes: if setup.small_queues { 2048 } else { 1 << 20 },
            max_core_queued_bytes: if setup.small_queues { 6144 } else { 4 << 20 },
            slow_consumer: if setup.disconnect_slow {
                SlowConsumerPolicy::Disconnect
            } else {
                SlowConsumerPolicy::Drop
            },
        };
        router.limits = Limits {
            max_subscriptions_per_session: 4,
            max_registrations_per_session: 4,
            max_retained_bytes_per_realm: 4096,
            ..Limits::default()
        };
        Self {
            sim: Sim::new(router),
            slots: Default::default(),
            made: 0,
            subscriptions: HashSet::new(),
            seen: Seen::new(),
        }
    }

    /// Runs one step, then lets the sessions whose connection closed end
    /// (as their transport would) and checks every core.
    pub(crate) fn run(&mut self, step: Step) {
        match step {
            Step::Hello {
                slot,
                realm,
                features,
            } => self.send(slot, |_| hello(realm, features)),
            Step::Subscribe {
                slot,
                topic,
                policy,
                get_retained,
            } => self.send(slot, |c| {
                let mut options = match_option(policy);
                if get_retained {
                    options.insert("get_retained", true);
                }
                Message::Subscribe(Subscribe {
                    request: c.request(MessageType::Subscribe),
                    options,
                    topic: Str::from(topic),
                })
            }),
            Step::Unsubscribe { slot, pick } => self.send(slot, |c| {
                let subscription = choose(&c.subscriptions, pick, SubscriptionId::new);
                c.unsubscribing(subscription);
                Message::Unsubscribe(Unsubscribe {
                    request: c.request(MessageType::Unsubscribe),
                    subscription,
                })
            }),
            Step::Publish { slot, topic, flags } => {
                let other = self.session_in(usize::from(flags >> script::publish::SLOT_SHIFT));
                self.send(slot, |c| publish(c, topic, flags, other))
            }
            Step::Register {
                slot,
                procedure,
                policy,
                invoke,
            } => self.send(slot, |c| {
                let mut options = match_option(policy);
                if let Some(invoke) = invoke {
                    options.insert("invoke", invoke);
                }
                Message::Register(Register {
                    request: c.request(MessageType::Register),
                    options,
                    procedure: Str::from(procedure),
                })
            }),
            Step::Unregister { slot, pick } => self.send(slot, |c| {
                let registration = choose(&c.registrations, pick, RegistrationId::new);
                c.unregistering(registration);
                Message::Unregister(Unregister {
                    request: c.request(MessageType::Unregister),
                    registration,
                })
            }),
            Step::Call {
                slot,
                procedure,
                flags,
            } => {
                if flags & (script::call::SAME_REQUEST | script::call::ANSWERED_REQUEST) != 0 {
                    // Which calls are in flight is known only once the
                    // answers queued so far are read.
                    self.read(slot);
                }
                self.send(slot, |c| call(c, procedure, flags))
            }
            Step::Yield {
                slot,
                pick,
                progress,
            } => self.send(slot, |c| {
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
            }),
            Step::Error {
                slot,
                pick,
                wrong_type,
            } => self.send(slot, |c| {
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
            }),
            Step::Cancel { slot, pick, mode } => self.send(slot, |c| {
                let request = choose(&c.calls(), pick, RequestId::new);
                let options: Dict = mode.map(|m| ("mode", Value::from(m))).into_iter().collect();
                Message::Cancel(Cancel { request, options })
            }),
            Step::Goodbye { slot } => self.send(slot, |_| {
                Message::Goodbye(Goodbye {
                    details: Dict::new(),
                    reason: Str::from("wamp.close.close_realm"),
                })
            }),
            Step::Abort { slot } => self.send(slot, |_| {
                Message::Abort(Abort {
                    details: Dict::new(),
                    reason: Str::from("com.fuzzed.abort"),
                })
            }),
            Step::Disconnect { slot } => self.hang_up(slot),
            Step::Read { slot } => self.read(slot),
            Step::Deliver { core } => {
                self.sim.deliver(core % self.sim.cores().len());
            }
            Step::Advance { by } => self.sim.advance(by),
            Step::Meta {
                slot,
                procedure,
                target,
            } => {
                let target_session = self.session_in(usize::from(target));
                self.send(slot, |c| meta(c, procedure, target, target_session))
            }
        }
        self.reap();
        for core in self.sim.cores() {
            invariants::check_core(core);
        }
    }

    /// Ends the scenario: the router settles, callees answer what they
    /// hold, every call of a session still there must then have its
    /// answer; then every session leaves, and every table must be empty.
    /// Returns what the clients read.
    pub(crate) fn finish(mut self) -> Seen {
        self.settle();
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
                    });
                }
            }
            self.settle();
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
                self.run(Step::Goodbye { slot });
            }
            self.hang_up(slot);
        }
        // Timers that are left (call timeouts, join deadlines) run out.
        self.sim.advance(Duration::from_secs(3600));
        self.settle();
        invariants::check_empty(self.sim.shared(), self.sim.cores(), &self.subscriptions);
        let held = self.sim.held_after_the_end();
        assert!(
            held.is_empty(),
            "connections still held after their session ended: {held:?}"
        );
        self.seen
    }

    /// The realms, held weakly: nothing may keep them once the router is
    /// gone.
    pub(crate) fn realms(&self) -> Vec<std::sync::Weak<ringbar_router::core::realm::Realm>> {
        REALMS
            .iter()
            .filter_map(|name| self.sim.shared().realms.get(name))
            .map(|realm| Arc::downgrade(&realm))
            .collect()
    }

    /// Sends a message from the client in `slot` (connecting it first when
    /// the slot is empty).
    fn send(&mut self, slot: usize, make: impl FnOnce(&mut Client) -> Message) {
        if self.slots[slot].is_none() {
            self.connect(slot);
        }
        let Some(c) = &mut self.slots[slot] else {
            return;
        };
        let message = make(&mut c.client);
        self.sim.send(c.id, message);
    }

    /// A new connection in `slot`, on core `slot % cores`.
    fn connect(&mut self, slot: usize) {
        let serializer = Serializer::ALL[self.made % Serializer::ALL.len()];
        self.made += 1;
        let id = self.sim.connect(slot, serializer);
        self.slots[slot] = Some(Connected {
            id,
            client: Client::new(slot, serializer),
        });
    }

    /// The connection in `slot` ends, as when its reader stops: the session
    /// leaves and the client reads what was queued before the end.
    fn hang_up(&mut self, slot: usize) {
        let Some(c) = &self.slots[slot] else {
            return;
        };
        self.sim.hang_up(c.id);
        self.read(slot);
        let Some(c) = self.slots[slot].take() else {
            return;
        };
        self.subscriptions.extend(c.client.subscribed());
        for (name, n) in c.client.seen {
            *self.seen.entry(name).or_default() += n;
        }
    }

    /// The client in `slot` reads everything queued for it.
    fn read(&mut self, slot: usize) {
        if let Some(c) = &mut self.slots[slot] {
            self.sim.read(c.id);
            while let Some(message) = self.sim.take(c.id) {
                c.client.on_message(message);
            }
        }
    }

    /// Ends the slots whose connection the router closed (a GOODBYE or
    /// kill was sent, or the slow-consumer policy or a deadline cut it).
    fn reap(&mut self) {
        for slot in 0..SLOTS {
            let closed = self.slots[slot]
                .as_ref()
                .is_some_and(|c| !self.sim.is_open(c.id));
            if closed {
                self.hang_up(slot);
            }
        }
    }

    /// Lets the router go quiet, every client reading.
    fn settle(&mut self) {
        self.sim.drive();
        for slot in 0..SLOTS {
            self.read(slot);
        }
        self.reap();
    }

    /// The session id of the client in `slot`, once it joined.
    fn session_in(&self, slot: usize) -> Option<SessionId> {
        self.slots[slot % SLOTS]
            .as_ref()
            .and_then(|c| c.client.session)
    }
}

/// The realms: `realm1` allows everything but `com.deny`; `restricted`
/// allows publishing and subscribing under `com.a` only.
fn realms() -> Vec<RealmConfig> {
    vec![
        anonymous_realm(
            REALMS[0],
            vec![
                permission("", MatchPolicy::Prefix, everything()),
                permission("com.deny", MatchPolicy::Exact, Allow::default()),
            ],
        ),
        anonymous_realm(
            REALMS[1],
            vec![permission("com.a", MatchPolicy::Prefix, pubsub())],
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
