//! The meta API: off or on per realm (`enable_meta_api`); sessions counted,
//! listed, read and killed across cores; subscriptions and registrations
//! looked up; meta events.

use super::*;

const T: Serializer = Serializer::Json;

/// `procedure(args)`'s answer.
fn meta_call(sim: &mut Sim, c: ClientId, procedure: &str, a: &[Value]) -> Message {
    call(sim, c, 7, procedure, Dict::new(), a);
    sim.recv(c).expect("an answer to the CALL")
}

/// `procedure(args)`'s one result.
fn meta_result(sim: &mut Sim, c: ClientId, procedure: &str, a: &[Value]) -> Value {
    match meta_call(sim, c, procedure, a) {
        Message::Result(r) => match args(&r.payload).0 {
            Value::List(mut results) if results.len() == 1 => results.remove(0),
            other => panic!("{procedure}: expected one result, got {other:?}"),
        },
        other => panic!("{procedure}: expected RESULT, got {other:?}"),
    }
}

/// realm1 with the meta API off, `meta` (a copy of it) with it on.
fn off_and_on() -> Sim {
    let mut setup = Setup::new(1);
    let mut meta = setup.realms[0].clone();
    meta.name = "meta".into();
    setup.realms[0].enable_meta_api = false;
    setup.realms.push(meta);
    Sim::new(setup)
}

/// A watcher's subscriptions to `wamp.session.on_join` and `com.sentinel`,
/// and the first EVENT it gets after another session joins `realm` and
/// publishes to `com.sentinel`: the `on_join` meta event when the realm
/// publishes them, else the sentinel's.
fn first_after_join(sim: &mut Sim, realm: &str) -> (SubscriptionId, SubscriptionId, Event) {
    let (watcher, _) = joined(sim, 0, T, realm);
    let on_join = subscribe(sim, watcher, "wamp.session.on_join", Dict::new());
    let sentinel = subscribe(sim, watcher, "com.sentinel", Dict::new());
    let (other, _) = joined(sim, 0, T, realm);
    publish(sim, other, "com.sentinel", Dict::new(), &[Value::UInt(1)]);
    (on_join, sentinel, event(sim, watcher))
}

/// Off, the router neither answers the realm's `wamp.*` procedures (a CALL
/// gets `wamp.error.no_such_procedure`, as from Crossbar.io, which then
/// registers none) nor publishes meta events; on (the default), it does
/// both.
#[test]
fn the_meta_api_is_off_or_on_per_realm() {
    let mut sim = off_and_on();

    let (_, sentinel, event) = first_after_join(&mut sim, "realm1");
    assert_eq!(event.subscription, sentinel, "no on_join when off");
    let (c, _) = joined(&mut sim, 0, T, "realm1");
    match meta_call(&mut sim, c, "wamp.session.count", &[]) {
        Message::Error(e) => assert_eq!(e.error.as_str(), "wamp.error.no_such_procedure"),
        other => panic!("expected ERROR, got {other:?}"),
    }

    let (on_join, _, event) = first_after_join(&mut sim, "meta");
    assert_eq!(event.subscription, on_join, "on_join when on");
    let (c, _) = joined(&mut sim, 0, T, "meta");
    match meta_call(&mut sim, c, "wamp.session.count", &[]) {
        Message::Result(r) => assert_eq!(r.request.get(), 7),
        other => panic!("expected RESULT, got {other:?}"),
    }
}

#[test]
fn sessions_on_every_core_are_counted_listed_read_and_killed() {
    let mut sim = Sim::new(Setup::new(2));
    let (watcher, watcher_session) = joined(&mut sim, 0, T, "realm1");
    subscribe(&mut sim, watcher, "wamp.session.on_leave", Dict::new());
    let others: Vec<(ClientId, SessionId)> = (0..3)
        .map(|core| joined(&mut sim, core, T, "realm1"))
        .collect();
    // a session of another realm is not counted
    joined(&mut sim, 1, T, "restricted");
    let mut ids: Vec<u64> = others.iter().map(|(_, s)| s.get()).collect();
    ids.push(watcher_session.get());
    ids.sort_unstable();
    assert_eq!(
        meta_result(&mut sim, watcher, "wamp.session.count", &[]),
        Value::UInt(4)
    );
    assert_eq!(
        meta_result(&mut sim, watcher, "wamp.session.list", &[]),
        Value::List(ids.iter().map(|id| Value::UInt(*id)).collect())
    );
    let (victim, victim_session) = others[1];
    let details = meta_result(
        &mut sim,
        watcher,
        "wamp.session.get",
        &[Value::UInt(victim_session.get())],
    );
    assert_eq!(
        details.as_dict().and_then(|d| d.get("session")),
        Some(&Value::UInt(victim_session.get()))
    );

    // kill the session on core 1: it gets GOODBYE, its connection ends,
    // and the others hear it left
    match meta_call(
        &mut sim,
        watcher,
        "wamp.session.kill",
        &[Value::UInt(victim_session.get())],
    ) {
        Message::Result(_) => {}
        other => panic!("expected RESULT, got {other:?}"),
    }
    match sim.recv(victim) {
        Some(Message::Goodbye(g)) => assert_eq!(g.reason.as_str(), "wamp.close.normal"),
        other => panic!("expected GOODBYE, got {other:?}"),
    }
    sim.drive();
    assert!(!sim.is_open(victim));
    let left = event(&mut sim, watcher);
    assert_eq!(
        args(&left.payload)
            .0
            .as_list()
            .and_then(|a| a.first().cloned()),
        Some(Value::UInt(victim_session.get()))
    );
    assert_eq!(
        meta_result(&mut sim, watcher, "wamp.session.count", &[]),
        Value::UInt(3)
    );
    match meta_call(
        &mut sim,
        watcher,
        "wamp.session.get",
        &[Value::UInt(victim_session.get())],
    ) {
        Message::Error(e) => assert_eq!(e.error.as_str(), "wamp.error.no_such_session"),
        other => panic!("expected ERROR, got {other:?}"),
    }
}

/// The watcher's `on_subscribe` / `on_register` event says (session, id);
/// `lookup` finds the id by its URI (and nothing for another); `listing`
/// names the session.
fn announced_and_found(
    sim: &mut Sim,
    watcher: ClientId,
    (session, id): (SessionId, u64),
    lookup: &str,
    listing: &str,
) {
    let e = event(sim, watcher);
    let ids = |ids: &[u64]| list(&ids.iter().map(|n| Value::UInt(*n)).collect::<Vec<_>>());
    assert_eq!(args(&e.payload).0, ids(&[session.get(), id]));
    let found = |sim: &mut Sim, uri: &str| meta_result(sim, watcher, lookup, &[Value::from(uri)]);
    assert_eq!(found(sim, "com.looked.up"), Value::UInt(id));
    assert_eq!(found(sim, "com.nothing"), Value::Null);
    assert_eq!(
        meta_result(sim, watcher, listing, &[Value::UInt(id)]),
        ids(&[session.get()])
    );
}

#[test]
fn subscriptions_and_registrations_are_looked_up_and_announced() {
    let mut sim = Sim::new(Setup::new(2));
    let (watcher, _) = joined(&mut sim, 0, T, "realm1");
    for meta_event in [
        "wamp.subscription.on_subscribe",
        "wamp.registration.on_register",
    ] {
        subscribe(&mut sim, watcher, meta_event, Dict::new());
    }
    let (subscriber, session) = joined(&mut sim, 1, T, "realm1");
    let subscription = subscribe(&mut sim, subscriber, "com.looked.up", Dict::new());
    announced_and_found(
        &mut sim,
        watcher,
        (session, subscription.get()),
        "wamp.subscription.lookup",
        "wamp.subscription.list_subscribers",
    );
    let (callee, session) = joined(&mut sim, 1, T, "realm1");
    let registration = register(&mut sim, callee, "com.looked.up", Dict::new());
    announced_and_found(
        &mut sim,
        watcher,
        (session, registration.get()),
        "wamp.registration.lookup",
        "wamp.registration.list_callees",
    );
}
