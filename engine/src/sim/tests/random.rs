//! A seeded random test of many sessions (50, on 2 to 4 cores, in two
//! realms) joining, subscribing, publishing, registering, calling,
//! answering, cancelling, killing each other and leaving, in rounds: in a
//! round, sessions act in a random order and the router is not driven;
//! then it is, time may pass, and what every client read is checked:
//!
//! - every CALL is answered exactly once (a final RESULT or an ERROR), and
//!   once callees answered everything, no call of a session still there
//!   is left unanswered;
//! - every event reaches each subscriber whose subscription held through
//!   the round exactly once, no one else (no other realm, not the
//!   publisher), and in each publisher's order;
//! - each core's tables agree after every round; once every session left,
//!   every table is empty: subscriptions, registrations, calls,
//!   invocations, session ids, and no connection is held.
//!
//! The seeds: a fixed set, and one random seed, printed; a failed run
//! prints its seed, and `RINGBAR_SIM_SEED=<n>` runs that seed alone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::sim::invariants;

/// The seed to replay, alone.
const SEED_VARIABLE: &str = "RINGBAR_SIM_SEED";
/// Seeds every run checks.
const FIXED_SEEDS: [u64; 3] = [1, 2, 3];

const ACTORS: usize = 50;
const ROUNDS: usize = 100;
const ACTIONS_PER_ROUND: usize = 40;
const REALMS: [&str; 2] = ["realm1", "realm2"];
/// Exact topics; [`PREFIX`] is a prefix pattern matching every one.
const TOPICS: [&str; 3] = ["com.t.a", "com.t.b", "com.t.c"];
const PREFIX: usize = TOPICS.len();
/// Procedures: shared round-robin, shared random, and `single`.
const PROCEDURES: [(&str, &str); 3] = [
    ("com.p.rr", "roundrobin"),
    ("com.p.random", "random"),
    ("com.p.single", "single"),
];
const CANCEL_MODES: [&str; 3] = ["skip", "kill", "killnowait"];

#[test]
fn many_sessions_keep_the_invariants() {
    let seeds: Vec<u64> = match std::env::var(SEED_VARIABLE) {
        Ok(seed) => vec![seed.parse().expect("RINGBAR_SIM_SEED is a number")],
        Err(_) => {
            let mut seeds = FIXED_SEEDS.to_vec();
            seeds.push(StdRng::from_os_rng().random());
            seeds
        }
    };
    for seed in seeds {
        let _report = Report(seed);
        eprintln!("simulation seed {seed}");
        World::new(seed).run();
    }
}

/// The seed replays the run: every client reads the same messages (ids,
/// payloads, order); another seed makes another run.
#[test]
fn a_seed_replays_its_run() {
    let run = World::new(5).run();
    assert_eq!(World::new(5).run(), run);
    assert_ne!(World::new(6).run(), run);
}

/// Says which seed failed, and how to replay it.
struct Report(u64);

impl Drop for Report {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "simulation seed {0} failed: replay it with {SEED_VARIABLE}={0} cargo test -p ringbar-engine many_sessions",
                self.0
            );
        }
    }
}

/// One client and its session, as the client knows it.
#[derive(Default)]
struct Actor {
    client: Option<ClientId>,
    realm: usize,
    /// Counts the sessions this actor had (events name it).
    incarnation: u64,
    joined: bool,
    /// Its session id, once WELCOME came.
    session: Option<SessionId>,
    next_request: u64,
    /// pattern -> its subscription, once SUBSCRIBED came.
    subscribed: BTreeMap<usize, SubscriptionId>,
    /// SUBSCRIBE requests not answered, by request id.
    subscribing: BTreeMap<u64, usize>,
    /// Every subscription this session held, and its pattern.
    ids: HashMap<SubscriptionId, usize>,
    /// procedure -> its registration, once REGISTERED came.
    registered: BTreeMap<usize, RegistrationId>,
    registering: BTreeMap<u64, usize>,
    /// UNSUBSCRIBE and UNREGISTER requests not answered.
    releasing: BTreeSet<u64>,
    /// CALLs not answered.
    calls: BTreeSet<u64>,
    /// INVOCATIONs not answered.
    invocations: Vec<RequestId>,
    /// Events published so far by this session.
    published: u64,
    /// The last event read per (subscription, publisher, its incarnation).
    last_event: HashMap<(SubscriptionId, usize, u64), u64>,
}

impl Actor {
    fn request(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }
}

/// A publication of a round, and who must and may get it.
struct Published {
    publisher: usize,
    incarnation: u64,
    seq: u64,
    realm: usize,
    topic: usize,
}

/// The router, the actors, and what the current round did.
struct World {
    rng: StdRng,
    sim: Sim,
    actors: Vec<Actor>,
    /// (actor, pattern) whose subscription changed in this round, or
    /// actors that joined or left (every pattern).
    unstable: HashSet<(usize, Option<usize>)>,
    published: Vec<Published>,
    /// (receiver, pattern, publisher, incarnation, seq) read this round.
    delivered: HashMap<(usize, usize, usize, u64, u64), usize>,
    /// What the run checked, so that a run that checks nothing shows.
    checked: Checked,
    /// Every message every client read, in order: the same seed must
    /// give the same transcript.
    transcript: DefaultHasher,
}

/// What a run checked.
#[derive(Debug, Default)]
struct Checked {
    /// Events that had to arrive exactly once, and did.
    events: usize,
    /// CALLs answered.
    answers: usize,
    /// Sessions the router closed (killed).
    closed: usize,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut setup = Setup::new(rng.random_range(2..=4));
        setup.seed = rng.random();
        setup.realms.truncate(1);
        setup.realms[0].event_history.clear();
        let mut realm2 = setup.realms[0].clone();
        realm2.name = REALMS[1].into();
        setup.realms.push(realm2);
        Self {
            rng,
            sim: Sim::new(setup),
            actors: (0..ACTORS).map(|_| Actor::default()).collect(),
            unstable: HashSet::new(),
            published: Vec::new(),
            delivered: HashMap::new(),
            checked: Checked::default(),
            transcript: DefaultHasher::new(),
        }
    }

    /// Runs the rounds and the end; returns the run's transcript digest.
    fn run(mut self) -> u64 {
        for _ in 0..ROUNDS {
            for _ in 0..ACTIONS_PER_ROUND {
                let actor = self.rng.random_range(0..ACTORS);
                self.act(actor);
            }
            if self.rng.random_bool(0.3) {
                let by = Duration::from_millis(self.rng.random_range(0..200));
                self.sim.advance(by);
            }
            self.end_round();
        }
        self.finish()
    }

    /// One random thing `a` does.
    fn act(&mut self, a: usize) {
        let Some(client) = self.actors[a].client else {
            self.join(a);
            return;
        };
        if !self.actors[a].joined || !self.sim.is_open(client) {
            return;
        }
        match self.rng.random_range(0..100) {
            0..3 => self.leave(a, client),
            3..13 => self.subscribe(a, client),
            13..18 => self.unsubscribe(a, client),
            18..38 => self.publish(a, client),
            38..45 => self.register(a, client),
            45..48 => self.unregister(a, client),
            48..70 => self.call(a, client),
            70..92 => self.answer(a, client),
            92..98 => self.cancel(a, client),
            _ => self.kill(a, client),
        }
    }

    fn join(&mut self, a: usize) {
        let core = self.rng.random_range(0..4);
        let serializer = Serializer::ALL[self.rng.random_range(0..Serializer::ALL.len())];
        let realm = self.rng.random_range(0..REALMS.len());
        let client = self.sim.connect(core, serializer);
        let actor = &mut self.actors[a];
        *actor = Actor {
            client: Some(client),
            realm,
            incarnation: actor.incarnation + 1,
            ..Actor::default()
        };
        self.unstable.insert((a, None));
        self.sim.send(
            client,
            Message::Hello(Hello {
                realm: REALMS[realm].into(),
                details: dict(&[("roles", Value::Dict(roles()))]),
            }),
        );
    }

    fn leave(&mut self, a: usize, client: ClientId) {
        self.unstable.insert((a, None));
        if self.rng.random_bool(0.5) {
            self.sim.send(
                client,
                Message::Goodbye(Goodbye {
                    details: Dict::new(),
                    reason: "wamp.close.close_realm".into(),
                }),
            );
        } else {
            self.sim.hang_up(client);
        }
        // What the session was owed goes with it.
        self.actors[a].client = None;
    }

    fn subscribe(&mut self, a: usize, client: ClientId) {
        let pattern = self.rng.random_range(0..=PREFIX);
        let actor = &mut self.actors[a];
        if actor.subscribed.contains_key(&pattern)
            || actor.subscribing.values().any(|p| *p == pattern)
        {
            return;
        }
        let request = actor.request();
        actor.subscribing.insert(request, pattern);
        self.unstable.insert((a, Some(pattern)));
        let (topic, options) = if pattern == PREFIX {
            ("com.t", dict(&[("match", Value::from("prefix"))]))
        } else {
            (TOPICS[pattern], Dict::new())
        };
        self.sim.send(
            client,
            Message::Subscribe(Subscribe {
                request: req(request),
                options,
                topic: topic.into(),
            }),
        );
    }

    fn unsubscribe(&mut self, a: usize, client: ClientId) {
        let actor = &mut self.actors[a];
        let Some((&pattern, &subscription)) = pick(&mut self.rng, &actor.subscribed) else {
            return;
        };
        actor.subscribed.remove(&pattern);
        let request = actor.request();
        actor.releasing.insert(request);
        self.unstable.insert((a, Some(pattern)));
        self.sim.send(
            client,
            Message::Unsubscribe(Unsubscribe {
                request: req(request),
                subscription,
            }),
        );
    }

    fn publish(&mut self, a: usize, client: ClientId) {
        let topic = self.rng.random_range(0..TOPICS.len());
        let actor = &mut self.actors[a];
        actor.published += 1;
        let request = actor.request();
        self.published.push(Published {
            publisher: a,
            incarnation: actor.incarnation,
            seq: actor.published,
            realm: actor.realm,
            topic,
        });
        let values = [
            Value::UInt(a as u64),
            Value::UInt(actor.incarnation),
            Value::UInt(actor.published),
        ];
        let serializer = self.sim.serializer(client);
        self.sim.send(
            client,
            Message::Publish(Publish {
                request: req(request),
                options: Dict::new(),
                topic: TOPICS[topic].into(),
                payload: payload(serializer, &values, None),
            }),
        );
    }

    fn register(&mut self, a: usize, client: ClientId) {
        let procedure = self.rng.random_range(0..PROCEDURES.len());
        let actor = &mut self.actors[a];
        if actor.registered.contains_key(&procedure)
            || actor.registering.values().any(|p| *p == procedure)
        {
            return;
        }
        let request = actor.request();
        actor.registering.insert(request, procedure);
        let (uri, invoke) = PROCEDURES[procedure];
        self.sim.send(
            client,
            Message::Register(Register {
                request: req(request),
                options: dict(&[("invoke", Value::from(invoke))]),
                procedure: uri.into(),
            }),
        );
    }

    fn unregister(&mut self, a: usize, client: ClientId) {
        let actor = &mut self.actors[a];
        let Some((&procedure, &registration)) = pick(&mut self.rng, &actor.registered) else {
            return;
        };
        actor.registered.remove(&procedure);
        let request = actor.request();
        actor.releasing.insert(request);
        self.sim.send(
            client,
            Message::Unregister(Unregister {
                request: req(request),
                registration,
            }),
        );
    }

    fn call(&mut self, a: usize, client: ClientId) {
        let procedure = self.rng.random_range(0..PROCEDURES.len());
        let options = if self.rng.random_bool(0.3) {
            dict(&[("timeout", Value::UInt(self.rng.random_range(1..300)))])
        } else {
            Dict::new()
        };
        let actor = &mut self.actors[a];
        let request = actor.request();
        actor.calls.insert(request);
        let serializer = self.sim.serializer(client);
        self.sim.send(
            client,
            Message::Call(Call {
                request: req(request),
                options,
                procedure: PROCEDURES[procedure].0.into(),
                payload: payload(serializer, &[Value::UInt(request)], None),
            }),
        );
    }

    /// YIELD or ERROR for an invocation the actor holds.
    fn answer(&mut self, a: usize, client: ClientId) {
        let actor = &mut self.actors[a];
        if actor.invocations.is_empty() {
            return;
        }
        let at = self.rng.random_range(0..actor.invocations.len());
        let request = actor.invocations.swap_remove(at);
        let message = if self.rng.random_bool(0.8) {
            Message::Yield(Yield {
                request,
                options: Dict::new(),
                payload: Payload::Empty,
            })
        } else {
            Message::Error(Error {
                request_type: MessageType::Invocation.code(),
                request,
                details: Dict::new(),
                error: "com.error.refused".into(),
                payload: Payload::Empty,
            })
        };
        self.sim.send(client, message);
    }

    /// `wamp.session.kill` of another session of the realm, on any core.
    fn kill(&mut self, a: usize, client: ClientId) {
        let target = self.rng.random_range(0..ACTORS);
        let Some(session) = self.actors[target].session else {
            return;
        };
        if target == a || self.actors[target].realm != self.actors[a].realm {
            return;
        }
        self.unstable.insert((target, None));
        let actor = &mut self.actors[a];
        let request = actor.request();
        actor.calls.insert(request);
        let serializer = self.sim.serializer(client);
        self.sim.send(
            client,
            Message::Call(Call {
                request: req(request),
                options: Dict::new(),
                procedure: "wamp.session.kill".into(),
                payload: payload(serializer, &[Value::UInt(session.get())], None),
            }),
        );
    }

    fn cancel(&mut self, a: usize, client: ClientId) {
        let mode = CANCEL_MODES[self.rng.random_range(0..CANCEL_MODES.len())];
        let calls = &self.actors[a].calls;
        if calls.is_empty() {
            return;
        }
        let Some(&request) = calls.iter().nth(self.rng.random_range(0..calls.len())) else {
            return;
        };
        self.sim.send(
            client,
            Message::Cancel(Cancel {
                request: req(request),
                options: dict(&[("mode", Value::from(mode))]),
            }),
        );
    }

    /// Drives the router, reads every client, and checks the round.
    fn end_round(&mut self) {
        self.sim.drive();
        for a in 0..ACTORS {
            let Some(client) = self.actors[a].client else {
                continue;
            };
            for message in self.sim.recv_all(client) {
                self.read(a, message);
            }
            if !self.sim.is_open(client) {
                self.checked.closed += 1;
                self.unstable.insert((a, None));
                self.actors[a].client = None;
            }
        }
        self.check_deliveries();
        for core in self.sim.cores() {
            invariants::check_core(core);
        }
        self.unstable.clear();
        self.published.clear();
        self.delivered.clear();
    }

    /// What actor `a` learns from `message`, checking it.
    fn read(&mut self, a: usize, message: Message) {
        a.hash(&mut self.transcript);
        match &message {
            // An anonymous authid is drawn from the OS, not the seed.
            Message::Welcome(w) => w.session.get().hash(&mut self.transcript),
            other => format!("{other:?}").hash(&mut self.transcript),
        }
        let actor = &mut self.actors[a];
        match message {
            Message::Welcome(w) => {
                assert!(!actor.joined, "actor {a}: a second WELCOME");
                actor.joined = true;
                actor.session = Some(w.session);
            }
            Message::Subscribed(s) => {
                let pattern = actor
                    .subscribing
                    .remove(&s.request.get())
                    .unwrap_or_else(|| panic!("actor {a}: SUBSCRIBED for no SUBSCRIBE: {s:?}"));
                actor.subscribed.insert(pattern, s.subscription);
                actor.ids.insert(s.subscription, pattern);
            }
            Message::Registered(r) => {
                let procedure = actor
                    .registering
                    .remove(&r.request.get())
                    .unwrap_or_else(|| panic!("actor {a}: REGISTERED for no REGISTER: {r:?}"));
                actor.registered.insert(procedure, r.registration);
            }
            Message::Unsubscribed(u) => released(a, actor, u.request),
            Message::Unregistered(u) => released(a, actor, u.request),
            Message::Result(r) => {
                assert!(r.details.get("progress").is_none(), "actor {a}: {r:?}");
                answered(a, actor, r.request);
                self.checked.answers += 1;
            }
            Message::Error(e) => match MessageType::from_code(e.request_type) {
                Some(MessageType::Call) => {
                    answered(a, actor, e.request);
                    self.checked.answers += 1;
                }
                Some(MessageType::Register) => {
                    assert_eq!(
                        e.error.as_str(),
                        "wamp.error.procedure_already_exists",
                        "actor {a}"
                    );
                    assert!(
                        actor.registering.remove(&e.request.get()).is_some(),
                        "actor {a}: an ERROR for no REGISTER: {e:?}"
                    );
                }
                Some(MessageType::Unregister | MessageType::Unsubscribe) => {
                    released(a, actor, e.request)
                }
                _ => panic!("actor {a}: an unexpected ERROR: {e:?}"),
            },
            Message::Invocation(i) => actor.invocations.push(i.request),
            Message::Interrupt(_) | Message::Goodbye(_) => {}
            Message::Event(e) => {
                let pattern = *actor.ids.get(&e.subscription).unwrap_or_else(|| {
                    panic!("actor {a}: an EVENT of a subscription it never held")
                });
                let Value::List(values) = args(&e.payload).0 else {
                    panic!("actor {a}: an EVENT without its arguments");
                };
                let n = |i: usize| match values.get(i) {
                    Some(Value::UInt(n)) => *n,
                    other => panic!("actor {a}: an EVENT argument {i}: {other:?}"),
                };
                let (publisher, incarnation, seq) = (n(0) as usize, n(1), n(2));
                let last = actor
                    .last_event
                    .entry((e.subscription, publisher, incarnation))
                    .or_default();
                assert!(
                    seq > *last,
                    "actor {a}: event {seq} of publisher {publisher} after {last}: out of order or twice"
                );
                *last = seq;
                *self
                    .delivered
                    .entry((a, pattern, publisher, incarnation, seq))
                    .or_default() += 1;
            }
            other => panic!("actor {a}: a message a router does not send here: {other:?}"),
        }
    }

    /// Every publication of the round reached exactly the subscribers it
    /// had to, and maybe those whose subscriptions changed meanwhile.
    fn check_deliveries(&mut self) {
        let mut publications = HashMap::new();
        for p in &self.published {
            publications.insert((p.publisher, p.incarnation, p.seq), p);
            for (a, actor) in self.actors.iter().enumerate() {
                if a == p.publisher
                    || actor.realm != p.realm
                    || actor.client.is_none()
                    || self.unstable.contains(&(a, None))
                {
                    continue;
                }
                for &pattern in actor.subscribed.keys() {
                    if !matches(pattern, p.topic) || self.unstable.contains(&(a, Some(pattern))) {
                        continue;
                    }
                    let got = self
                        .delivered
                        .get(&(a, pattern, p.publisher, p.incarnation, p.seq))
                        .copied()
                        .unwrap_or(0);
                    assert_eq!(
                        got, 1,
                        "actor {a} (pattern {pattern}) got event {} of publisher {} {got} times",
                        p.seq, p.publisher
                    );
                    self.checked.events += 1;
                }
            }
        }
        for (&(a, pattern, publisher, incarnation, seq), &n) in &self.delivered {
            assert_eq!(n, 1, "actor {a} got event {seq} of {publisher} {n} times");
            let p = publications
                .get(&(publisher, incarnation, seq))
                .unwrap_or_else(|| {
                    panic!("actor {a} got event {seq} of {publisher} from another round")
                });
            assert_ne!(a, p.publisher, "a publisher got its own event");
            assert_eq!(self.actors[a].realm, p.realm, "an event crossed realms");
            assert!(
                matches(pattern, p.topic),
                "an event its pattern does not match"
            );
        }
    }

    /// Callees answer everything; every call of a session still there has
    /// its answer; then everyone leaves, and nothing is left.
    fn finish(mut self) -> u64 {
        for _ in 0..16 {
            let mut answered = false;
            for a in 0..ACTORS {
                let Some(client) = self.actors[a].client else {
                    continue;
                };
                while !self.actors[a].invocations.is_empty() {
                    answered = true;
                    self.answer(a, client);
                }
            }
            self.sim.advance(Duration::from_secs(1));
            self.end_round();
            if !answered {
                break;
            }
        }
        for (a, actor) in self.actors.iter().enumerate() {
            if actor.client.is_some() {
                assert!(
                    actor.calls.is_empty(),
                    "actor {a}: calls never answered: {:?}",
                    actor.calls
                );
                assert!(
                    actor.subscribing.is_empty()
                        && actor.registering.is_empty()
                        && actor.releasing.is_empty(),
                    "actor {a}: requests never answered"
                );
            }
        }
        for a in 0..ACTORS {
            if let Some(client) = self.actors[a].client {
                self.leave(a, client);
            }
        }
        self.sim.drive();
        self.sim.advance(Duration::from_secs(3600));
        self.sim.drive();
        invariants::check_empty(self.sim.shared(), self.sim.cores(), &HashSet::new());
        let held = self.sim.held_after_the_end();
        assert!(
            held.is_empty(),
            "connections held after their session ended: {held:?}"
        );
        assert!(
            self.checked.events > 100 && self.checked.answers > 100 && self.checked.closed > 0,
            "the run checked too little: {:?}",
            self.checked
        );
        eprintln!("checked {:?}", self.checked);
        self.transcript.finish()
    }
}

fn answered(a: usize, actor: &mut Actor, request: RequestId) {
    assert!(
        actor.calls.remove(&request.get()),
        "actor {a}: an answer to CALL {request} that was not awaited (answered twice?)"
    );
}

fn released(a: usize, actor: &mut Actor, request: RequestId) {
    assert!(
        actor.releasing.remove(&request.get()),
        "actor {a}: an answer to {request} that was not awaited"
    );
}

/// Whether `pattern` matches topic `topic`.
fn matches(pattern: usize, topic: usize) -> bool {
    pattern == PREFIX || pattern == topic
}

/// A random entry of `map`.
fn pick<'a, K, V>(rng: &mut StdRng, map: &'a BTreeMap<K, V>) -> Option<(&'a K, &'a V)> {
    if map.is_empty() {
        return None;
    }
    map.iter().nth(rng.random_range(0..map.len()))
}
