//! Links of several nodes joined by a test network that does what NATS
//! does for them (a subject to its subscribers, a request to its answerer),
//! so the link's logic is checked without a server; the interop tests
//! (`tests/interop/test_cluster.py`) run it over a real `nats-server`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{PublicationId, SessionId};
use ringbar_protocol::message::{Arguments, Payload};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};

use super::{ClaimAnswer, Link, LinkConfig, Output, Starts};
use crate::auth::{Decided, SlowWork};
use crate::core::broker::Publication;
use crate::core::config::RealmConfig;
use crate::core::mail::Mail;
use crate::core::realms::Realms;
use crate::core::seed::Seeds;
use crate::core::{Drivers, Shared};
use crate::limits::{FlowControl, Limits};
use crate::tables::match_cache::Matched;
use crate::timers::Clock;

struct TestClock;

impl Clock for TestClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

struct NoSlowWork;

impl SlowWork for NoSlowWork {
    fn start(
        &self,
        _work: Box<dyn FnOnce() -> Decided + Send>,
        done: Box<dyn FnOnce(Option<Decided>)>,
    ) {
        done(None);
    }
}

const TIMEOUT: Duration = Duration::from_secs(3);

/// One node: its router's shared parts (one core) and its link.
struct Node {
    shared: Arc<Shared>,
    link: Link,
    /// Publications its link mailed to the core.
    delivered: Vec<Arc<Publication>>,
}

fn realm(name: &str) -> RealmConfig {
    RealmConfig {
        name: name.into(),
        roles: Vec::new(),
        uri_check: UriCheck::Loose,
        event_history: Vec::new(),
        enable_meta_api: true,
    }
}

fn node(name: &str, seed: u64) -> Node {
    let realms = Realms::new(
        &[realm("realm1"), realm("local")],
        Seeds::replay(seed),
        SystemTime::now(),
    );
    let shared = Arc::new(
        Shared::new(
            realms,
            1,
            FlowControl::default(),
            Limits::default(),
            "test",
            Drivers {
                clock: Arc::new(TestClock),
                slow_work: Arc::new(NoSlowWork),
            },
        )
        .with_cluster(["realm1".to_owned()]),
    );
    let link = Link::new(
        shared.clone(),
        LinkConfig {
            node: name.into(),
            incarnation: seed,
            subject_prefix: "ringbar".into(),
            failure_timeout: TIMEOUT,
        },
    )
    .unwrap();
    Node {
        shared,
        link,
        delivered: Vec::new(),
    }
}

/// What NATS would do between the nodes.
struct Net {
    nodes: Vec<Node>,
    /// Messages published, by subject, in order.
    published: Vec<(String, Bytes)>,
    /// Drop everything published on subjects containing this.
    lose: Option<&'static str>,
    /// The registrations bucket: key to the claiming node's value.
    claims: HashMap<String, String>,
    /// Mail the links sent their cores: (node, core, mail).
    mailed: Vec<(usize, usize, Mail)>,
}

impl Net {
    fn new(names: &[&str]) -> Net {
        let nodes = names
            .iter()
            .zip(1..)
            .map(|(name, seed)| node(name, seed))
            .collect::<Vec<_>>();
        let mut net = Net {
            nodes,
            published: Vec::new(),
            lose: None,
            claims: HashMap::new(),
            mailed: Vec::new(),
        };
        for n in &mut net.nodes {
            n.link.on_connection(true);
        }
        net.settle(Instant::now());
        net
    }

    /// Carries out every output until none is left.
    fn settle(&mut self, now: Instant) {
        loop {
            let mut quiet = true;
            for from in 0..self.nodes.len() {
                while let Some(output) = self.nodes[from].link.next_output() {
                    quiet = false;
                    self.carry(from, output, now);
                }
            }
            if quiet {
                return;
            }
        }
    }

    fn carry(&mut self, from: usize, output: Output, now: Instant) {
        match output {
            Output::Publish { subject, payload } => {
                self.published.push((subject.clone(), payload.clone()));
                if self.lose.is_some_and(|l| subject.contains(l)) {
                    return;
                }
                for to in 0..self.nodes.len() {
                    let subscribed = self.nodes[to].link.subjects().contains(&subject);
                    if to != from && subscribed {
                        self.nodes[to].link.on_message(payload.clone(), now);
                    }
                }
            }
            Output::Retain { key, payload } => {
                // The bucket: every node watches it, the writer too.
                assert!(key.contains('.'));
                for n in &mut self.nodes {
                    n.link.on_retained(payload.clone(), now);
                }
            }
            Output::Claim { id, key, value } => {
                let holder = self.claims.entry(key).or_insert_with(|| value.clone());
                let answer = if *holder == value {
                    ClaimAnswer::Granted
                } else {
                    ClaimAnswer::Refused
                };
                self.nodes[from].link.on_claim_answer(id, answer);
            }
            Output::Release { key, value } => {
                if self.claims.get(&key) == Some(&value) {
                    self.claims.remove(&key);
                }
            }
            Output::ReleaseClaims { node, starts } => {
                self.claims.retain(|_, value| {
                    let (name, start) = value.split_once(' ').unwrap();
                    let start: u64 = start.parse().unwrap();
                    let of_them = match starts {
                        Starts::Only(s) => start == s,
                        Starts::AllBut(s) => start != s,
                    };
                    !(name == node && of_them)
                });
            }
            Output::Mail { to, mail } => {
                assert_eq!(to, 0, "one core per node");
                match mail {
                    Mail::Publication(p) => self.nodes[from].delivered.push(p),
                    other => self.mailed.push((from, to, other)),
                }
            }
        }
    }

    /// A core of node `at` starts (`held`) or stops holding `uri` in
    /// `realm_name`.
    fn interest(&mut self, at: usize, realm_name: &str, uri: &str, held: bool) {
        let node = &mut self.nodes[at];
        let realm = node.shared.realms.get(realm_name).unwrap();
        let pattern = UriPattern::parse(uri, MatchPolicy::Prefix, UriCheck::Loose).unwrap();
        // As the core does: its own count in the table, then the link told.
        if held {
            realm
                .subscriptions
                .subscribe(pattern.clone(), 0, SystemTime::now());
        } else if let Some(id) = realm.subscriptions.lookup(uri, MatchPolicy::Prefix) {
            realm.subscriptions.unsubscribe(id, 0);
        }
        node.link.on_mail(Mail::Interest {
            realm,
            pattern,
            held,
        });
        self.settle(Instant::now());
    }

    /// Node `at` publishes to `topic` as its core does: matched in the
    /// realm's table, mailed to the link when the link's bit is set.
    fn publish(&mut self, at: usize, realm_name: &str, topic: &str) -> bool {
        let node = &mut self.nodes[at];
        let realm = node.shared.realms.get(realm_name).unwrap();
        let matched = Matched::compute(&realm.subscriptions.snapshot(), topic);
        let link = node.shared.cluster_link(&realm);
        let to_link = link.is_some_and(|l| matched.cores & (1 << l) != 0);
        if to_link {
            let publication = Publication {
                realm,
                id: PublicationId::new(99).unwrap(),
                topic: Str::from(topic),
                payload: Payload::Arguments(Arguments {
                    serializer: Serializer::Json,
                    args: Bytes::from_static(b"[1]"),
                    kwargs: None,
                }),
                publisher: SessionId::new(5).unwrap(),
                disclosed: None,
                exclude_me: true,
                filters: None,
                passthru: None,
                subscriptions: matched.subscriptions,
                received: Instant::now(),
            };
            node.link.on_mail(Mail::Publication(Arc::new(publication)));
            self.settle(Instant::now());
        }
        to_link
    }

    fn tick(&mut self, now: Instant) {
        for n in &mut self.nodes {
            n.link.tick(now);
        }
        self.settle(now);
    }
}

#[test]
fn a_publication_reaches_the_node_that_subscribed_and_no_other() {
    let mut net = Net::new(&["a", "b", "c"]);
    net.interest(1, "realm1", "com.example.", true);
    assert!(net.publish(0, "realm1", "com.example.t"));
    let sent: Vec<&str> = net
        .published
        .iter()
        .map(|(s, _)| s.as_str())
        .filter(|s| s.contains(".events."))
        .collect();
    assert_eq!(sent, ["ringbar.events.b"], "once, to b only");
    let delivered = &net.nodes[1].delivered;
    assert_eq!(delivered.len(), 1);
    let p = &delivered[0];
    assert_eq!(p.topic.as_str(), "com.example.t");
    assert!(!p.exclude_me, "the publisher is on another node");
    assert_eq!(p.publisher.get(), 5);
    assert!(net.nodes[2].delivered.is_empty());
    assert!(!net.publish(0, "realm1", "org.other"), "nobody holds it");
}

#[test]
fn a_node_with_two_subscribers_gets_one_copy() {
    let mut net = Net::new(&["a", "b"]);
    net.interest(1, "realm1", "com.", true);
    net.interest(1, "realm1", "com.example.", true);
    assert!(net.publish(0, "realm1", "com.example.t"));
    assert_eq!(net.nodes[1].delivered.len(), 1);
}

#[test]
fn interest_ends_when_the_last_core_lets_go() {
    let mut net = Net::new(&["a", "b"]);
    net.interest(1, "realm1", "com.", true);
    net.interest(1, "realm1", "com.", true);
    net.interest(1, "realm1", "com.", false);
    assert!(net.publish(0, "realm1", "com.t"), "one core still holds it");
    net.interest(1, "realm1", "com.", false);
    assert!(!net.publish(0, "realm1", "com.t"));
    for n in &net.nodes {
        let realm = n.shared.realms.get("realm1").unwrap();
        assert!(realm.subscriptions.is_empty(), "no holder is left");
    }
}

#[test]
fn a_realm_the_cluster_does_not_share_stays_local() {
    let mut net = Net::new(&["a", "b"]);
    net.interest(1, "local", "com.", true);
    assert!(!net.publish(0, "local", "com.t"));
    assert!(net.published.iter().all(|(s, _)| !s.contains("interest")));
}

#[test]
fn a_lost_interest_change_is_recovered_from_the_next_heartbeat() {
    let mut net = Net::new(&["a", "b"]);
    net.lose = Some("interest");
    net.interest(1, "realm1", "com.", true);
    assert!(!net.publish(0, "realm1", "com.t"), "a missed it");
    net.lose = None;
    net.tick(Instant::now());
    assert!(net.publish(0, "realm1", "com.t"), "a asked b for its state");
    assert_eq!(net.nodes[1].delivered.len(), 1);
}

#[test]
fn a_node_not_heard_from_is_dropped_with_its_subscriptions() {
    let mut net = Net::new(&["a", "b"]);
    net.interest(1, "realm1", "com.", true);
    assert!(net.publish(0, "realm1", "com.t"));
    let later = Instant::now() + TIMEOUT + Duration::from_millis(1);
    // Only a ticks: b is silent.
    net.nodes[0].link.tick(later);
    net.settle(later);
    assert_eq!(net.nodes[0].link.figures().peers.get(), 0);
    assert!(!net.publish(0, "realm1", "com.t"));
    // b is heard again: a asks for its state and holds its topics again.
    net.nodes[1].link.tick(later);
    net.settle(later);
    assert!(net.publish(0, "realm1", "com.t"));
}

#[test]
fn a_leaving_node_is_dropped_at_once() {
    let mut net = Net::new(&["a", "b"]);
    net.interest(1, "realm1", "com.", true);
    net.nodes[1].link.leave();
    net.settle(Instant::now());
    assert!(!net.publish(0, "realm1", "com.t"));
}

#[test]
fn a_restarted_node_replaces_what_its_last_start_held() {
    let mut net = Net::new(&["a", "b"]);
    net.interest(1, "realm1", "com.", true);
    // b starts again (a new incarnation) holding nothing.
    net.nodes[1] = node("b", 77);
    net.nodes[1].link.on_connection(true);
    net.settle(Instant::now());
    assert!(!net.publish(0, "realm1", "com.t"));
}

#[test]
fn retained_publications_go_to_every_node_and_are_kept() {
    let mut net = Net::new(&["a", "b"]);
    let realm = net.nodes[0].shared.realms.get("realm1").unwrap();
    let publication = Publication {
        realm,
        id: PublicationId::new(3).unwrap(),
        topic: Str::from("com.kept"),
        payload: Payload::Empty,
        publisher: SessionId::new(5).unwrap(),
        disclosed: None,
        exclude_me: false,
        filters: None,
        passthru: None,
        subscriptions: Arc::new([]),
        received: Instant::now(),
    };
    net.nodes[0]
        .link
        .on_mail(Mail::Retain(Arc::new(publication)));
    net.settle(Instant::now());
    let kept = net.nodes[1]
        .shared
        .realms
        .get("realm1")
        .unwrap()
        .retained(|_| true);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].topic.as_str(), "com.kept");
}

use crate::core::dealer::calls::{Answer, CallKey, Invoke, Outcome};
use crate::core::mail::{Claim, Registered};
use crate::tables::registrations::{Callee, InvokePolicy};
use ringbar_protocol::id::{RegistrationId, RequestId};
use ringbar_protocol::value::Dict;

impl Net {
    /// A callee on core 0 of node `at` registers `uri` with `invoke` (and a
    /// claim for `single`), as the dealer does: the table, then the link.
    fn register(
        &mut self,
        at: usize,
        uri: &str,
        invoke: InvokePolicy,
        session: u64,
    ) -> RegistrationId {
        let node = &mut self.nodes[at];
        let realm = node.shared.realms.get("realm1").unwrap();
        let pattern = UriPattern::parse(uri, MatchPolicy::Exact, UriCheck::Loose).unwrap();
        let callee = Callee {
            core: 0,
            session: SessionId::new(session).unwrap(),
            forward_timeout: false,
            disclose_caller: false,
            progressive_invocations: false,
        };
        let (registration, _) = realm
            .registrations
            .register(pattern.clone(), invoke, callee, SystemTime::now())
            .unwrap();
        let claim = (invoke == InvokePolicy::Single).then_some(Claim {
            session: crate::slab::Slab::default().insert_with(|_| ()).unwrap(),
            request: RequestId::new(1).unwrap(),
            registration: registration.id,
        });
        node.link.on_mail(Mail::Registered(Box::new(Registered {
            realm,
            pattern,
            invoke,
            callee,
            held: true,
            claim,
        })));
        self.settle(Instant::now());
        registration.id
    }

    /// The callees of `uri` node `at`'s table has: (core, session).
    fn callees(&self, at: usize, uri: &str) -> Vec<(usize, u64)> {
        let realm = self.nodes[at].shared.realms.get("realm1").unwrap();
        let table = realm.registrations.snapshot();
        table
            .find(uri, MatchPolicy::Exact)
            .map(|r| {
                r.callees
                    .iter()
                    .map(|c| (c.core, c.session.get()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn claimed(&self) -> Vec<(usize, bool)> {
        self.mailed
            .iter()
            .filter_map(|(node, _, mail)| match mail {
                Mail::Claimed(c) => Some((*node, c.granted)),
                _ => None,
            })
            .collect()
    }
}

fn call_of(caller: u64) -> CallKey {
    CallKey {
        caller: SessionId::new(caller).unwrap(),
        request: RequestId::new(7).unwrap(),
    }
}

#[test]
fn a_call_reaches_a_callee_on_another_node_and_its_answer_comes_back() {
    let mut net = Net::new(&["a", "b"]);
    net.register(1, "com.proc", InvokePolicy::RoundRobin, 40);
    let link_a = net.nodes[0].shared.cluster.as_ref().unwrap().link;
    assert_eq!(
        net.callees(0, "com.proc"),
        [(link_a, 40)],
        "a holds b's callee on its link"
    );
    let registration = net.nodes[0]
        .shared
        .realms
        .get("realm1")
        .unwrap()
        .registrations
        .snapshot()
        .find("com.proc", MatchPolicy::Exact)
        .unwrap()
        .id;
    // a's caller core invokes the callee on the link.
    net.nodes[0].link.on_mail(Mail::Invoke(Box::new(Invoke {
        call: call_of(5),
        serial: 9,
        caller_core: 0,
        callee: SessionId::new(40).unwrap(),
        registration,
        details: Dict::new(),
        payload: Payload::Empty,
        continuation: false,
    })));
    net.settle(Instant::now());
    let link_b = net.nodes[1].shared.cluster.as_ref().unwrap().link;
    let Some((1, 0, Mail::Invoke(invoke))) = net.mailed.pop() else {
        panic!("b's core is asked to invoke its callee");
    };
    assert_eq!(
        (invoke.call, invoke.serial, invoke.caller_core),
        (call_of(5), 9, link_b)
    );
    // b's callee answers, progressively and then finally.
    for progress in [true, false] {
        net.nodes[1].link.on_mail(Mail::Answer(Box::new(Answer {
            call: call_of(5),
            serial: 9,
            outcome: Outcome::Result { progress },
            details: Dict::new(),
            payload: Payload::Empty,
        })));
        net.settle(Instant::now());
        let Some((0, 0, Mail::Answer(answer))) = net.mailed.pop() else {
            panic!("a's caller core gets the answer");
        };
        assert!(matches!(answer.outcome, Outcome::Result { progress: p } if p == progress));
    }
    assert!(net.nodes[0].link.outgoing.is_empty() && net.nodes[1].link.incoming.is_empty());
}

#[test]
fn a_single_registration_is_claimed_once_in_the_cluster() {
    let mut net = Net::new(&["a", "b"]);
    net.register(0, "com.one", InvokePolicy::Single, 11);
    assert_eq!(net.claimed(), [(0, true)]);
    // b registers it too before a's callee reached b's table.
    net.nodes[1]
        .shared
        .realms
        .get("realm1")
        .unwrap()
        .registrations
        .unregister(
            net.nodes[1]
                .shared
                .realms
                .get("realm1")
                .unwrap()
                .registrations
                .snapshot()
                .find("com.one", MatchPolicy::Exact)
                .unwrap()
                .id,
            SessionId::new(11).unwrap(),
        );
    net.register(1, "com.one", InvokePolicy::Single, 12);
    assert_eq!(net.claimed(), [(0, true), (1, false)], "b is refused");
}

#[test]
fn calls_to_a_node_that_is_gone_end_with_an_error() {
    let mut net = Net::new(&["a", "b"]);
    net.register(1, "com.proc", InvokePolicy::Single, 40);
    let registration = net.nodes[0]
        .shared
        .realms
        .get("realm1")
        .unwrap()
        .registrations
        .snapshot()
        .find("com.proc", MatchPolicy::Exact)
        .unwrap()
        .id;
    net.nodes[0].link.on_mail(Mail::Invoke(Box::new(Invoke {
        call: call_of(5),
        serial: 1,
        caller_core: 0,
        callee: SessionId::new(40).unwrap(),
        registration,
        details: Dict::new(),
        payload: Payload::Empty,
        continuation: false,
    })));
    net.settle(Instant::now());
    net.mailed.clear();
    let later = Instant::now() + TIMEOUT + Duration::from_millis(1);
    net.nodes[0].link.tick(later);
    net.settle(later);
    let Some((0, 0, Mail::Answer(answer))) = net.mailed.pop() else {
        panic!("the caller is answered");
    };
    assert!(
        matches!(&answer.outcome, Outcome::Error(uri) if uri.as_str() == "wamp.error.canceled")
    );
    assert!(
        net.callees(0, "com.proc").is_empty(),
        "b's callee is gone from a"
    );
    assert!(net.claims.is_empty(), "b's claim is released");
}

#[test]
fn an_answer_reaches_a_caller_node_the_callee_node_has_not_heard_of_yet() {
    let mut net = Net::new(&["a", "b"]);
    net.register(1, "com.proc", InvokePolicy::RoundRobin, 40);
    // a's first heartbeat went out before b was on NATS: b does not know
    // a yet when a's call comes.
    net.nodes[1].link.peers.remove("a");
    let registration = net.nodes[0]
        .shared
        .realms
        .get("realm1")
        .unwrap()
        .registrations
        .snapshot()
        .find("com.proc", MatchPolicy::Exact)
        .unwrap()
        .id;
    net.nodes[0].link.on_mail(Mail::Invoke(Box::new(Invoke {
        call: call_of(5),
        serial: 2,
        caller_core: 0,
        callee: SessionId::new(40).unwrap(),
        registration,
        details: Dict::new(),
        payload: Payload::Empty,
        continuation: false,
    })));
    net.settle(Instant::now());
    net.nodes[1].link.on_mail(Mail::Answer(Box::new(Answer {
        call: call_of(5),
        serial: 2,
        outcome: Outcome::Result { progress: false },
        details: Dict::new(),
        payload: Payload::Empty,
    })));
    net.settle(Instant::now());
    assert!(matches!(net.mailed.last(), Some((0, 0, Mail::Answer(_)))));
}

#[test]
fn a_state_larger_than_one_message_arrives_in_parts() {
    let mut net = Net::new(&["a", "b"]);
    net.lose = Some("interest");
    let long = "x".repeat(100);
    for n in 0..5_000 {
        net.interest(1, "realm1", &format!("com.{long}.{n}."), true);
    }
    net.lose = None;
    net.tick(Instant::now());
    let parts = net
        .published
        .iter()
        .filter(|(s, p)| s == "ringbar.state.a" && p.len() > 1024)
        .count();
    assert!(parts >= 2, "{parts} parts");
    assert!(
        net.published
            .iter()
            .all(|(_, p)| p.len() < super::wire::STATE_PART_BYTES + 4096)
    );
    let realm = net.nodes[0].shared.realms.get("realm1").unwrap();
    assert_eq!(
        realm.subscriptions.len(),
        5_000,
        "a holds every pattern of b"
    );
    assert!(net.publish(0, "realm1", &format!("com.{long}.4999.t")));
}

#[test]
fn a_session_of_one_node_is_listed_and_killed_from_another() {
    use crate::core::mail::SessionChange;
    use crate::core::realm::RealmSession;
    let mut net = Net::new(&["a", "b"]);
    let realm_b = net.nodes[1].shared.realms.get("realm1").unwrap();
    let id = SessionId::new(77).unwrap();
    let info = RealmSession {
        core: 0,
        authid: "alice".into(),
        authrole: "user".into(),
        details: ringbar_protocol::value::Value::UInt(5),
    };
    realm_b.add_session(id, info.clone());
    net.nodes[1]
        .link
        .on_mail(Mail::Session(Box::new(SessionChange {
            realm: realm_b.clone(),
            session: id,
            joined: Some(info.clone()),
        })));
    net.settle(Instant::now());
    let realm_a = net.nodes[0].shared.realms.get("realm1").unwrap();
    let listed = realm_a.session(id).expect("a lists b's session");
    let link_a = net.nodes[0].shared.cluster.as_ref().unwrap().link;
    assert_eq!(
        (listed.core, listed.authid.as_str(), &listed.details),
        (link_a, "alice", &ringbar_protocol::value::Value::UInt(5))
    );
    // wamp.session.kill on a: the meta procedure mails the link.
    net.nodes[0].link.on_mail(Mail::KillSession {
        session: id,
        reason: Str::from("wamp.close.killed"),
        message: None,
    });
    net.settle(Instant::now());
    assert!(matches!(
        net.mailed.last(),
        Some((1, 0, Mail::KillSession { session, .. })) if *session == id
    ));
    // The session leaves b: a no longer lists it.
    realm_b.remove_session(id);
    net.nodes[1]
        .link
        .on_mail(Mail::Session(Box::new(SessionChange {
            realm: realm_b,
            session: id,
            joined: None,
        })));
    net.settle(Instant::now());
    assert!(realm_a.session(id).is_none());
}

#[test]
fn a_new_session_id_is_not_one_another_node_uses() {
    use crate::core::realm::RealmSession;
    use crate::ids::IdGenerator;
    let net = Net::new(&["a"]);
    let shared = &net.nodes[0].shared;
    let taken = SessionId::new(IdGenerator::from_seed(9).next_id()).unwrap();
    // Another node's session, as the link lists it.
    shared.realms.get("realm1").unwrap().add_session(
        taken,
        RealmSession {
            core: 1,
            authid: "x".into(),
            authrole: "y".into(),
            details: ringbar_protocol::value::Value::Null,
        },
    );
    let claimed = shared.claim_session_id(&mut IdGenerator::from_seed(9));
    assert_ne!(claimed, taken);
}
