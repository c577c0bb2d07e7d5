//! What one session may hold, and how long it may take to join: past
//! `max_subscriptions_per_session` and `max_registrations_per_session` a
//! SUBSCRIBE or REGISTER gets an ERROR naming the limit, the session goes
//! on, and others are not affected; past `join_timeout_ms` a connection
//! whose session did not join is closed.

use std::time::Duration;

use super::*;
use crate::config::Provider;

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

/// A connection whose session did not join in `join_timeout_ms` (no HELLO,
/// or a CHALLENGE never answered) is closed then, not a millisecond
/// earlier; one that joined stays.
#[test]
fn the_join_deadline_closes_sessions_that_did_not_join_and_no_other() {
    let mut setup = Setup::new(2);
    setup.limits.join_timeout_ms = 300;
    setup.auth.ticket = Some(Provider::Static(Default::default()));
    let mut sim = Sim::new(setup);
    let silent = sim.connect(0, Serializer::Json);
    let challenged = sim.connect(1, Serializer::Json);
    sim.send(challenged, hello_as("ticket", "joe"));
    assert!(matches!(sim.recv(challenged), Some(Message::Challenge(_))));
    let (joined, _) = joined(&mut sim, 1, Serializer::Json, "realm1");
    sim.advance(Duration::from_millis(299));
    sim.drive();
    assert!(sim.is_open(silent) && sim.is_open(challenged));
    sim.advance(Duration::from_millis(1));
    sim.drive();
    assert!(
        !sim.is_open(silent),
        "a connection without HELLO stayed open"
    );
    assert!(
        !sim.is_open(challenged),
        "an unanswered CHALLENGE stayed open"
    );
    sim.advance(Duration::from_secs(60));
    sim.drive();
    assert!(sim.is_open(joined), "a joined session was closed");
}
