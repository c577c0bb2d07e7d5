//! Links of several nodes joined by a test network that does what NATS
//! does for them (a subject to its subscribers, a request to its answerer),
//! so the link's logic is checked without a server; the interop tests
//! (`tests/interop/test_cluster.py`) run it over a real `nats-server`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{PublicationId, SessionId};
use ringbar_protocol::message::{Arguments, Payload};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::{MatchPolicy, UriCheck, UriPattern};

use super::{Link, LinkConfig, Output};
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
        };
        for n in &mut net.nodes {
            n.link.on_connection(true);
        }
        net.settle(Instant::now());
        net
    }

    fn at(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.link.node() == name)
            .unwrap()
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
            Output::RequestState {
                node,
                subject,
                payload,
            } => {
                let to = self.at(&node);
                assert!(self.nodes[to].link.is_state_subject(&subject));
                let answer = self.nodes[to].link.on_message(payload, now);
                self.nodes[from].link.on_state_answer(&node, answer, now);
            }
            Output::Retain { key, payload } => {
                // The bucket: every node watches it, the writer too.
                assert!(key.contains('.'));
                for n in &mut self.nodes {
                    n.link.on_retained(payload.clone(), now);
                }
            }
            Output::Mail { to, mail } => {
                assert_eq!(to, 0, "one core per node");
                match mail {
                    Mail::Publication(p) => self.nodes[from].delivered.push(p),
                    _ => panic!("the link mails only publications"),
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
