//! A role's dynamic authorizer: the router asks it before a session's
//! action is routed, the session's later messages wait behind the one
//! asked about, and its answers (allowed, refused, cached, or no answer at
//! all) decide as they say.

use std::collections::BTreeMap;

use super::auth::authenticating;
use super::*;
use crate::config::{AuthConfig, Grant, Provider, RoleConfig, Secret, TicketPrincipal};

const AUTHORIZE: &str = "com.example.authorize";

/// 2 cores; on realm1, `joe` (ticket `t`) gets the role `dyn`, which
/// [`AUTHORIZE`] decides for; anonymous sessions may do everything.
fn router() -> Sim {
    let mut setup = Setup::new(2);
    setup.realms[0].roles.push(RoleConfig {
        name: "dyn".into(),
        permissions: Vec::new(),
        authorizer: Some(AUTHORIZE.into()),
        create: false,
    });
    let joe = TicketPrincipal {
        ticket: Secret("t".into()),
        grant: Grant {
            role: "dyn".into(),
            realm: None,
        },
    };
    setup.auth = AuthConfig {
        ticket: Some(Provider::Static(BTreeMap::from([("joe".to_owned(), joe)]))),
        ..AuthConfig::default()
    };
    Sim::new(setup)
}

/// `joe`, joined on `core`.
fn joe(sim: &mut Sim, core: usize) -> ClientId {
    let c = authenticating(sim, core, "joe", "t");
    match sim.recv(c) {
        Some(Message::Welcome(w)) => {
            assert_eq!(w.details.get("authrole"), Some(&Value::from("dyn")));
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }
    c
}

/// The authorizer's next INVOCATION, with its URI and action arguments.
fn question(sim: &mut Sim, authorizer: ClientId) -> (Invocation, String, String) {
    let i = invocation(sim, authorizer);
    let Value::List(a) = args(&i.payload).0 else {
        panic!("the authorizer's arguments are not a list");
    };
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    (i.clone(), text(&a[1]), text(&a[2]))
}

fn subscribe_as(sim: &mut Sim, c: ClientId, request: u64, topic: &str) {
    sim.send(
        c,
        Message::Subscribe(Subscribe {
            request: req(request),
            options: Dict::new(),
            topic: topic.into(),
        }),
    );
}

#[test]
fn a_message_waits_for_the_authorizer_and_the_next_waits_behind_it() {
    let mut sim = router();
    let (authorizer, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    register(&mut sim, authorizer, AUTHORIZE, Dict::new());
    let (subscriber, _) = joined(&mut sim, 1, Serializer::Json, "realm1");
    subscribe(&mut sim, subscriber, "com.topic", Dict::new());
    let c = joe(&mut sim, 1);

    publish(
        &mut sim,
        c,
        "com.topic",
        dict(&[("acknowledge", Value::Bool(true))]),
        &[],
    );
    subscribe_as(&mut sim, c, 7, "com.other");
    let (asked, uri, action) = question(&mut sim, authorizer);
    assert_eq!((uri.as_str(), action.as_str()), ("com.topic", "publish"));
    // nothing else is asked, routed or answered before the decision
    assert_eq!(sim.recv(authorizer), None);
    assert_eq!(sim.recv(c), None);
    assert_eq!(sim.recv(subscriber), None);

    yield_to(
        &mut sim,
        authorizer,
        &asked,
        Dict::new(),
        &[Value::Bool(true)],
    );
    assert!(matches!(sim.recv(c), Some(Message::Published(_))));
    event(&mut sim, subscriber);
    // then the SUBSCRIBE that waited behind it is asked about and refused
    let (asked, uri, action) = question(&mut sim, authorizer);
    assert_eq!((uri.as_str(), action.as_str()), ("com.other", "subscribe"));
    let refusal = Value::Dict(dict(&[("allow", Value::Bool(false))]));
    yield_to(&mut sim, authorizer, &asked, Dict::new(), &[refusal]);
    expect_error(&mut sim, c, 7, "wamp.error.not_authorized");
}

#[test]
fn a_cached_decision_is_not_asked_again_and_a_failed_authorizer_refuses() {
    let mut sim = router();
    let (authorizer, _) = joined(&mut sim, 1, Serializer::MsgPack, "realm1");
    register(&mut sim, authorizer, AUTHORIZE, Dict::new());
    let c = joe(&mut sim, 0);

    publish(
        &mut sim,
        c,
        "com.topic",
        dict(&[("acknowledge", Value::Bool(true))]),
        &[],
    );
    let (asked, _, _) = question(&mut sim, authorizer);
    let cached = Value::Dict(dict(&[
        ("allow", Value::Bool(true)),
        ("cache", Value::Bool(true)),
    ]));
    yield_to(&mut sim, authorizer, &asked, Dict::new(), &[cached]);
    assert!(matches!(sim.recv(c), Some(Message::Published(_))));
    publish(
        &mut sim,
        c,
        "com.topic",
        dict(&[("acknowledge", Value::Bool(true))]),
        &[],
    );
    assert!(matches!(sim.recv(c), Some(Message::Published(_))));
    assert_eq!(
        sim.recv(authorizer),
        None,
        "a cached decision is asked again"
    );

    // an authorizer that answers ERROR refuses the action
    subscribe_as(&mut sim, c, 8, "com.topic");
    let (asked, _, _) = question(&mut sim, authorizer);
    let reason = payload(Serializer::MsgPack, &[Value::from("no")], None);
    invocation_error(
        &mut sim,
        authorizer,
        asked.request,
        "com.example.nope",
        reason,
    );
    expect_error(&mut sim, c, 8, "wamp.error.not_authorized");

    // with no authorizer registered, the session is refused, not stuck
    sim.hang_up(authorizer);
    subscribe_as(&mut sim, c, 9, "com.else");
    expect_error(&mut sim, c, 9, "wamp.error.not_authorized");
}
