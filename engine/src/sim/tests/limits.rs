//! What one session may hold: past `max_subscriptions_per_session` and
//! `max_registrations_per_session` a SUBSCRIBE or REGISTER gets an ERROR
//! naming the limit, the session goes on, and others are not affected.

use super::*;

fn subscribe_n(sim: &mut Sim, c: ClientId, n: u64) -> Message {
    sim.send(
        c,
        Message::Subscribe(Subscribe {
            request: req(n),
            options: Dict::new(),
            topic: format!("com.limits.t{n}").into(),
        }),
    );
    sim.recv(c).unwrap()
}

fn register_n(sim: &mut Sim, c: ClientId, n: u64) -> Message {
    sim.send(
        c,
        Message::Register(Register {
            request: req(n),
            options: Dict::new(),
            procedure: format!("com.limits.p{n}").into(),
        }),
    );
    sim.recv(c).unwrap()
}

fn error_uri(m: &Message, of: MessageType) -> String {
    match m {
        Message::Error(e) if e.request_type == of.code() => e.error.as_str().to_owned(),
        other => panic!("expected an ERROR for {of:?}, got {other:?}"),
    }
}

#[test]
fn subscriptions_and_registrations_stop_at_the_limits() {
    let mut setup = Setup::new(1);
    setup.limits.max_subscriptions_per_session = 3;
    setup.limits.max_registrations_per_session = 2;
    let mut sim = Sim::new(setup);
    let (c, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    for n in 1..=3 {
        assert!(matches!(
            subscribe_n(&mut sim, c, n),
            Message::Subscribed(_)
        ));
    }
    // the same topic again is the same subscription: still allowed
    assert!(matches!(
        subscribe_n(&mut sim, c, 1),
        Message::Subscribed(_)
    ));
    assert_eq!(
        error_uri(&subscribe_n(&mut sim, c, 4), MessageType::Subscribe),
        "ringbar.error.too_many_subscriptions"
    );
    for n in 1..=2 {
        assert!(matches!(register_n(&mut sim, c, n), Message::Registered(_)));
    }
    assert_eq!(
        error_uri(&register_n(&mut sim, c, 3), MessageType::Register),
        "ringbar.error.too_many_registrations"
    );
    // another session has its own allowance
    let (other, _) = joined(&mut sim, 0, Serializer::Json, "realm1");
    assert!(matches!(
        subscribe_n(&mut sim, other, 4),
        Message::Subscribed(_)
    ));
    assert!(matches!(
        register_n(&mut sim, other, 3),
        Message::Registered(_)
    ));
}
