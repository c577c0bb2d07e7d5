//! The broker: delivery across cores and serializers, match policies,
//! publisher exclusion, black- and whitelisting, publisher disclosure,
//! retained events and their budget, and refusals.

use ringbar_protocol::uri::MatchPolicy;

use super::*;

fn event_args(e: &Event) -> Value {
    args(&e.payload).0
}

fn ack() -> Dict {
    dict(&[("acknowledge", Value::Bool(true))])
}

#[test]
fn events_reach_every_serializer_on_every_core_in_order() {
    let mut sim = Sim::new(Setup::new(3));
    let subscribers: Vec<ClientId> = (0..8)
        .map(|i| {
            let serializer = Serializer::ALL[i % Serializer::ALL.len()];
            joined(&mut sim, i, serializer, "realm1").0
        })
        .collect();
    let ids: Vec<SubscriptionId> = subscribers
        .iter()
        .map(|s| subscribe(&mut sim, *s, "com.example.topic", Dict::new()))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one subscription id for one topic: {ids:?}"
    );
    let values = [
        Value::UInt(1 << 53),
        Value::Int(-7),
        Value::Float(1.5),
        Value::from("héllo"),
        Value::List(vec![Value::Null]),
    ];
    for serializer in Serializer::ALL {
        let (publisher, _) = joined(&mut sim, 0, serializer, "realm1");
        for n in 0..5u64 {
            let mut a = values.to_vec();
            a.push(Value::UInt(n));
            publish(&mut sim, publisher, "com.example.topic", Dict::new(), &a);
        }
        for s in &subscribers {
            for n in 0..5u64 {
                let mut want = values.to_vec();
                want.push(Value::UInt(n));
                let e = event(&mut sim, *s);
                assert_eq!(event_args(&e), list(&want), "{serializer:?}");
            }
        }
    }
}

#[test]
fn publications_read_together_keep_their_order_with_what_comes_between() {
    let mut sim = Sim::new(Setup::new(2));
    let (here, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let (there, _) = joined(&mut sim, 1, Serializer::MsgPack, "realm1");
    let (publisher, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    for c in [here, there, publisher] {
        subscribe(&mut sim, c, "com.t", Dict::new());
    }
    register(&mut sim, there, "com.proc", Dict::new());
    let publication = |n: u64, options: Dict| {
        Message::Publish(Publish {
            request: req(10 + n),
            options,
            topic: "com.t".into(),
            payload: payload(Serializer::Json, &[Value::UInt(n)], None),
        })
    };
    let seen = dict(&[
        ("exclude_me", Value::Bool(false)),
        ("acknowledge", Value::Bool(true)),
    ]);
    // Held deliveries (1, 2, 5; on core 1 all of them, held in its mail
    // drain) and what must not overtake them or be overtaken: a call to
    // a callee on core 1 (mail of another kind), a publication the
    // publisher sees and acknowledges, a subscription.
    sim.send_together(
        publisher,
        &[
            publication(1, Dict::new()),
            publication(2, Dict::new()),
            Message::Call(Call {
                request: req(3),
                options: Dict::new(),
                procedure: "com.proc".into(),
                payload: Payload::Empty,
            }),
            publication(3, seen),
            Message::Subscribe(Subscribe {
                request: req(4),
                options: Dict::new(),
                topic: "com.other".into(),
            }),
            publication(5, Dict::new()),
        ],
    );
    let events = |sim: &mut Sim, c: ClientId, n: usize| -> Vec<Value> {
        (0..n).map(|_| event_args(&event(sim, c))).collect()
    };
    let want = |ns: &[u64]| -> Vec<Value> { ns.iter().map(|n| list(&[Value::UInt(*n)])).collect() };
    assert_eq!(events(&mut sim, here, 4), want(&[1, 2, 3, 5]));
    assert_eq!(events(&mut sim, there, 2), want(&[1, 2]));
    assert!(matches!(sim.recv(there), Some(Message::Invocation(_))));
    assert_eq!(events(&mut sim, there, 2), want(&[3, 5]));
    assert_eq!(
        event_args(&event(&mut sim, publisher)),
        list(&[Value::UInt(3)])
    );
    assert!(matches!(sim.recv(publisher), Some(Message::Published(_))));
    assert!(matches!(sim.recv(publisher), Some(Message::Subscribed(_))));
    assert!(
        sim.recv(publisher).is_none(),
        "1, 2 and 5 exclude their publisher"
    );
}

#[test]
fn publisher_is_excluded_unless_it_asks() {
    let mut sim = Sim::new(Setup::new(1));
    let (c, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    subscribe(&mut sim, c, "com.me", Dict::new());
    publish(&mut sim, c, "com.me", Dict::new(), &[Value::UInt(1)]);
    let options = dict(&[
        ("exclude_me", Value::Bool(false)),
        ("acknowledge", Value::Bool(true)),
    ]);
    publish(&mut sim, c, "com.me", options, &[Value::UInt(2)]);
    // The first publication is not delivered to the publisher: the next
    // messages are the second's EVENT and PUBLISHED.
    assert_eq!(event_args(&event(&mut sim, c)), list(&[Value::UInt(2)]));
    assert!(matches!(sim.recv(c), Some(Message::Published(_))));
}

#[test]
fn exact_prefix_and_wildcard_subscriptions_match_their_topics() {
    let mut sim = Sim::new(Setup::new(2));
    let (exact, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let (prefix, _) = joined(&mut sim, 1, Serializer::MsgPack, "realm1");
    let (wildcard, _) = joined(&mut sim, 0, Serializer::Cbor, "realm1");
    let (publisher, _) = joined(&mut sim, 1, Serializer::Json, "realm1");
    let on_exact = subscribe(&mut sim, exact, "com.a.b", Dict::new());
    let by_prefix = dict(&[("match", Value::from(MatchPolicy::Prefix.as_str()))]);
    let on_prefix = subscribe(&mut sim, prefix, "com.a", by_prefix);
    let by_wildcard = dict(&[("match", Value::from(MatchPolicy::Wildcard.as_str()))]);
    let on_wildcard = subscribe(&mut sim, wildcard, "com..b", by_wildcard);
    for (n, topic) in ["com.a.b", "com.a.c", "com.x.b", "org.a.b"]
        .iter()
        .enumerate()
    {
        publish(
            &mut sim,
            publisher,
            topic,
            Dict::new(),
            &[Value::UInt(n as u64)],
        );
    }
    let got = |sim: &mut Sim, c: ClientId| -> Vec<(SubscriptionId, Value, Option<Value>)> {
        sim.recv_all(c)
            .into_iter()
            .map(|m| match m {
                Message::Event(e) => (
                    e.subscription,
                    event_args(&e),
                    e.details.get("topic").cloned(),
                ),
                other => panic!("expected EVENT, got {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        got(&mut sim, exact),
        vec![(on_exact, list(&[Value::UInt(0)]), None)]
    );
    // a pattern subscriber learns each event's topic
    assert_eq!(
        got(&mut sim, prefix),
        vec![
            (
                on_prefix,
                list(&[Value::UInt(0)]),
                Some(Value::from("com.a.b"))
            ),
            (
                on_prefix,
                list(&[Value::UInt(1)]),
                Some(Value::from("com.a.c"))
            ),
        ]
    );
    assert_eq!(
        got(&mut sim, wildcard),
        vec![
            (
                on_wildcard,
                list(&[Value::UInt(0)]),
                Some(Value::from("com.a.b"))
            ),
            (
                on_wildcard,
                list(&[Value::UInt(2)]),
                Some(Value::from("com.x.b"))
            ),
        ]
    );
}

#[test]
fn eligible_and_exclude_choose_subscribers_across_cores() {
    let mut sim = Sim::new(Setup::new(2));
    let subscribers: Vec<(ClientId, SessionId)> = (0..4)
        .map(|core| {
            let (c, session) = joined(&mut sim, core, Serializer::Json, "realm1");
            subscribe(&mut sim, c, "com.listed", Dict::new());
            (c, session)
        })
        .collect();
    let (publisher, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let ids = |at: &[usize]| {
        Value::List(
            at.iter()
                .map(|i| Value::UInt(subscribers[*i].1.get()))
                .collect(),
        )
    };
    publish(
        &mut sim,
        publisher,
        "com.listed",
        dict(&[("eligible", ids(&[0, 1, 3]))]),
        &[Value::UInt(1)],
    );
    publish(
        &mut sim,
        publisher,
        "com.listed",
        dict(&[("exclude", ids(&[1]))]),
        &[Value::UInt(2)],
    );
    publish(
        &mut sim,
        publisher,
        "com.listed",
        dict(&[("eligible", ids(&[0, 1])), ("exclude", ids(&[0]))]),
        &[Value::UInt(3)],
    );
    let expected: [&[u64]; 4] = [&[1, 2], &[1, 3], &[2], &[1, 2]];
    for (at, want) in expected.iter().enumerate() {
        let got: Vec<Value> = sim
            .recv_all(subscribers[at].0)
            .iter()
            .map(|m| match m {
                Message::Event(e) => event_args(e),
                other => panic!("expected EVENT, got {other:?}"),
            })
            .collect();
        let want: Vec<Value> = want.iter().map(|n| list(&[Value::UInt(*n)])).collect();
        assert_eq!(got, want, "subscriber {at}");
    }
}

#[test]
fn a_publisher_that_asks_is_disclosed() {
    let mut sim = Sim::new(Setup::new(2));
    let (subscriber, _) = joined(&mut sim, 1, Serializer::Json, "realm1");
    subscribe(&mut sim, subscriber, "com.who", Dict::new());
    let (publisher, session) = joined(&mut sim, 0, Serializer::Json, "realm1");
    publish(&mut sim, publisher, "com.who", Dict::new(), &[]);
    assert_eq!(event(&mut sim, subscriber).details.get("publisher"), None);
    publish(
        &mut sim,
        publisher,
        "com.who",
        dict(&[("disclose_me", Value::Bool(true))]),
        &[],
    );
    let e = event(&mut sim, subscriber);
    assert_eq!(
        e.details.get("publisher"),
        Some(&Value::UInt(session.get()))
    );
}

#[test]
fn a_retained_event_reaches_a_later_subscriber_that_asks() {
    let mut sim = Sim::new(Setup::new(2));
    let (publisher, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let retain = dict(&[("retain", Value::Bool(true))]);
    publish(
        &mut sim,
        publisher,
        "com.kept",
        retain.clone(),
        &[Value::UInt(1)],
    );
    publish(&mut sim, publisher, "com.kept", retain, &[Value::UInt(2)]);
    sim.drive();
    let (late, _) = joined(&mut sim, 1, Serializer::MsgPack, "realm1");
    subscribe(&mut sim, late, "com.kept", Dict::new());
    assert_eq!(sim.recv(late), None, "only a subscriber that asks");
    let (asking, _) = joined(&mut sim, 1, Serializer::MsgPack, "realm1");
    let get = dict(&[("get_retained", Value::Bool(true))]);
    subscribe(&mut sim, asking, "com.kept", get);
    let e = event(&mut sim, asking);
    assert_eq!(event_args(&e), list(&[Value::UInt(2)]));
    assert_eq!(e.details.get("retained"), Some(&Value::Bool(true)));
    assert_eq!(sim.recv(asking), None);
}

fn publish_retained(sim: &mut Sim, c: ClientId, topic: &str, text: &str) {
    let options = dict(&[
        ("retain", Value::Bool(true)),
        ("acknowledge", Value::Bool(true)),
    ]);
    publish(sim, c, topic, options, &[Value::Str(text.to_owned())]);
    assert!(matches!(sim.recv(c), Some(Message::Published(_))));
}

/// The retained events a new prefix subscriber of `com.kept.` gets.
fn retained_now(sim: &mut Sim) -> Vec<String> {
    let (c, _) = joined(sim, 0, Serializer::Json, "realm1");
    let options = dict(&[
        ("match", Value::from(MatchPolicy::Prefix.as_str())),
        ("get_retained", Value::Bool(true)),
    ]);
    subscribe(sim, c, "com.kept.", options);
    let mut got: Vec<String> = sim
        .recv_all(c)
        .iter()
        .map(|m| match m {
            Message::Event(e) => format!("{:?}", event_args(e)),
            other => panic!("expected EVENT, got {other:?}"),
        })
        .collect();
    got.sort();
    got
}

/// Retained events stay within the realm's byte budget
/// (`max_retained_bytes_per_realm`): one that does not fit is not kept
/// (and drops its topic's older one), others are unaffected.
#[test]
fn retained_events_stay_within_the_realms_byte_budget() {
    let mut setup = Setup::new(1);
    setup.limits.max_retained_bytes_per_realm = 2_500;
    let mut sim = Sim::new(setup);
    let (p, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let kb = |c: char| c.to_string().repeat(1000);
    publish_retained(&mut sim, p, "com.kept.a", &kb('a'));
    publish_retained(&mut sim, p, "com.kept.b", &kb('b'));
    // a third kilobyte does not fit
    publish_retained(&mut sim, p, "com.kept.c", &kb('c'));
    let kept = retained_now(&mut sim);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|e| !e.contains('c')));
    // replacing a kept topic's event counts only the new one
    publish_retained(&mut sim, p, "com.kept.a", "small");
    publish_retained(&mut sim, p, "com.kept.c", &kb('c'));
    let kept = retained_now(&mut sim);
    assert_eq!(kept.len(), 3, "{kept:?}");
    // an event too big for the budget drops its topic's older one
    publish_retained(&mut sim, p, "com.kept.b", &"x".repeat(3_000));
    let kept = retained_now(&mut sim);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|e| !e.contains('b') && !e.contains('x')));
}

#[test]
fn errors_for_bad_uris_and_refused_actions() {
    let mut sim = Sim::new(Setup::new(1));
    let (c, _) = joined(&mut sim, 0, Serializer::MsgPack, "restricted");
    publish(&mut sim, c, "com.forbidden", ack(), &[]);
    match sim.recv(c) {
        Some(Message::Error(e)) => assert_eq!(e.error.as_str(), "wamp.error.not_authorized"),
        other => panic!("expected ERROR, got {other:?}"),
    }
    publish(&mut sim, c, "com..bad", ack(), &[]);
    match sim.recv(c) {
        Some(Message::Error(e)) => assert_eq!(e.error.as_str(), "wamp.error.invalid_uri"),
        other => panic!("expected ERROR, got {other:?}"),
    }
    sim.send(
        c,
        Message::Subscribe(Subscribe {
            request: req(5),
            options: Dict::new(),
            topic: "com.nope".into(),
        }),
    );
    expect_error(&mut sim, c, 5, "wamp.error.not_authorized");
}

#[test]
fn unknown_realm_is_aborted_and_publish_before_hello_is_a_violation() {
    let mut sim = Sim::new(Setup::new(1));
    let c = sim.connect(0, Serializer::Cbor);
    sim.send(
        c,
        Message::Hello(Hello {
            realm: "nope".into(),
            details: Dict::new(),
        }),
    );
    assert_eq!(expect_abort(&mut sim, c).0, "wamp.error.no_such_realm");
    let c = sim.connect(0, Serializer::Json);
    publish(&mut sim, c, "com.x", Dict::new(), &[]);
    assert_eq!(expect_abort(&mut sim, c).0, "wamp.error.protocol_violation");
    // Another session is unaffected.
    joined(&mut sim, 0, Serializer::Json, "realm1");
}

/// Mail moves only when the test says: an event for a subscriber on
/// another core waits in its core's mailbox until that core takes its
/// mail, while one on the publisher's core is queued at once.
#[test]
fn an_event_for_another_core_waits_for_its_mail() {
    let mut sim = Sim::new(Setup::new(2));
    let (local, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let (remote, _) = joined(&mut sim, 1, Serializer::Json, "realm1");
    for c in [local, remote] {
        subscribe(&mut sim, c, "com.mail", Dict::new());
    }
    let (publisher, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    publish(
        &mut sim,
        publisher,
        "com.mail",
        Dict::new(),
        &[Value::UInt(1)],
    );
    sim.read(local);
    sim.read(remote);
    assert!(matches!(sim.take(local), Some(Message::Event(_))));
    assert_eq!(sim.take(remote), None);
    assert_eq!(sim.deliver(0), 0, "no mail for the publisher's own core");
    assert_eq!(sim.deliver(1), 1, "one mail for the publication");
    sim.read(remote);
    assert!(matches!(sim.take(remote), Some(Message::Event(_))));
}
