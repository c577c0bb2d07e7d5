//! Authentication that needs no TLS socket: static tickets, WAMP-CRA
//! (plain and salted secrets, checked off the core), and the
//! router's own calls to a dynamic authenticator (a callee on another
//! core, one that leaves mid-call, one that never answers while other
//! sessions join).

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::config::{
    AuthConfig, AuthenticatorProcedure, Grant, Pbkdf2Params, Provider, Secret, TicketPrincipal,
    WampCraPrincipal,
};

const PROCEDURE: &str = "com.example.authenticate";
const CLIENT: Serializer = Serializer::Json;
const AUTHENTICATOR: Serializer = Serializer::MsgPack;

/// 2 cores admitting anonymous sessions and `ticket` by `ticket`.
fn router(ticket: Provider<TicketPrincipal>) -> Sim {
    let mut setup = Setup::new(2);
    setup.auth = AuthConfig {
        ticket: Some(ticket),
        ..AuthConfig::default()
    };
    Sim::new(setup)
}

/// 2 cores whose tickets the dynamic authenticator [`PROCEDURE`] checks.
fn dynamic() -> Sim {
    router(Provider::Procedure(AuthenticatorProcedure {
        procedure: PROCEDURE.into(),
        realm: None,
    }))
}

/// An anonymous session on core 0 that registered [`PROCEDURE`].
fn authenticator(sim: &mut Sim) -> ClientId {
    let (c, _) = joined(sim, 0, AUTHENTICATOR, "realm1");
    register(sim, c, PROCEDURE, Dict::new());
    c
}

/// A client on `core` that sent HELLO (ticket, `authid`), got its
/// CHALLENGE and sent AUTHENTICATE with `ticket`.
pub(super) fn authenticating(sim: &mut Sim, core: usize, authid: &str, ticket: &str) -> ClientId {
    let c = sim.connect(core, CLIENT);
    sim.send(c, hello_as("ticket", authid));
    match sim.recv(c) {
        Some(Message::Challenge(ch)) => assert_eq!(ch.authmethod.as_str(), "ticket"),
        other => panic!("expected CHALLENGE, got {other:?}"),
    }
    sim.send(
        c,
        Message::Authenticate(Authenticate {
            signature: ticket.into(),
            extra: Dict::new(),
        }),
    );
    c
}

/// The INVOCATION the authenticator gets, and its arguments.
fn authenticator_invocation(sim: &mut Sim, c: ClientId) -> (Invocation, Vec<Value>) {
    let i = invocation(sim, c);
    match args(&i.payload).0 {
        Value::List(list) => (i, list),
        other => panic!("arguments are not a list: {other:?}"),
    }
}

#[test]
fn a_static_ticket_admits_with_its_role_and_a_wrong_one_fails() {
    let principal = TicketPrincipal {
        ticket: Secret("the-ticket".into()),
        grant: Grant {
            role: "anonymous".into(),
            realm: None,
        },
    };
    let mut sim = router(Provider::Static(BTreeMap::from([(
        "joe".to_owned(),
        principal,
    )])));
    let c = authenticating(&mut sim, 1, "joe", "the-ticket");
    match sim.recv(c) {
        Some(Message::Welcome(w)) => {
            assert_eq!(w.details.get("authid"), Some(&Value::from("joe")));
            assert_eq!(w.details.get("authmethod"), Some(&Value::from("ticket")));
            assert_eq!(w.details.get("authrole"), Some(&Value::from("anonymous")));
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }
    let c = authenticating(&mut sim, 0, "joe", "a-guess");
    let wrong = expect_abort(&mut sim, c);
    assert_eq!(wrong.0, "wamp.error.authentication_failed");
    // an unknown authid fails the same way: nothing tells which are known
    let c = authenticating(&mut sim, 0, "nobody", "the-ticket");
    assert_eq!(expect_abort(&mut sim, c), wrong);
}

#[test]
fn the_authenticator_on_another_core_admits_and_refuses() {
    let mut sim = dynamic();
    let auth = authenticator(&mut sim);
    let c = authenticating(&mut sim, 1, "joe", "the-ticket");
    let (call, a) = authenticator_invocation(&mut sim, auth);
    assert_eq!(a[0], Value::from("realm1"));
    assert_eq!(a[1], Value::from("joe"));
    let details = a[2].as_dict().unwrap();
    assert_eq!(details.get("ticket"), Some(&Value::from("the-ticket")));
    yield_to(
        &mut sim,
        auth,
        &call,
        Dict::new(),
        &[Value::from("anonymous")],
    );
    match sim.recv(c) {
        Some(Message::Welcome(w)) => {
            assert_eq!(w.details.get("authprovider"), Some(&Value::from("dynamic")));
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }

    // an ERROR refuses with its URI
    let c = authenticating(&mut sim, 1, "mallory", "the-ticket");
    let (call, _) = authenticator_invocation(&mut sim, auth);
    let reason = payload(AUTHENTICATOR, &[Value::from("bad ticket")], None);
    invocation_error(
        &mut sim,
        auth,
        call.request,
        "com.example.invalid_ticket",
        reason,
    );
    assert_eq!(
        expect_abort(&mut sim, c),
        (
            "com.example.invalid_ticket".to_owned(),
            "bad ticket".to_owned()
        )
    );
}

#[test]
fn an_authenticator_on_a_realm_that_does_not_exist_refuses_the_session() {
    let mut sim = router(Provider::Procedure(AuthenticatorProcedure {
        procedure: PROCEDURE.into(),
        realm: Some("nowhere".into()),
    }));
    let c = authenticating(&mut sim, 1, "joe", "the-ticket");
    let (reason, message) = expect_abort(&mut sim, c);
    assert_eq!(reason, "wamp.error.not_authorized");
    assert!(message.contains("'nowhere' does not exist"), "{message}");
}

#[test]
fn an_authenticator_that_leaves_mid_call_refuses_the_session() {
    let mut sim = dynamic();
    let auth = authenticator(&mut sim);
    let c = authenticating(&mut sim, 1, "joe", "the-ticket");
    authenticator_invocation(&mut sim, auth);
    sim.hang_up(auth);
    let (reason, message) = expect_abort(&mut sim, c);
    assert_eq!(reason, "wamp.error.not_authorized");
    assert!(message.contains("left before it answered"), "{message}");
    // with nobody registered, the refusal says so
    let c = authenticating(&mut sim, 0, "joe", "the-ticket");
    let (reason, message) = expect_abort(&mut sim, c);
    assert_eq!(reason, "wamp.error.not_authorized");
    assert!(message.contains("is not registered"), "{message}");
}

#[test]
fn an_authenticator_that_never_answers_times_out_while_others_join() {
    let mut sim = dynamic();
    let auth = authenticator(&mut sim);
    let waiting = authenticating(&mut sim, 1, "joe", "the-ticket");
    authenticator_invocation(&mut sim, auth);
    // other sessions, on both cores, join meanwhile
    for core in 0..4 {
        joined(&mut sim, core, CLIENT, "realm1");
    }
    let timeout = Duration::from_millis(sim.shared().limits.authenticator_timeout_ms);
    sim.advance(timeout - Duration::from_millis(1));
    assert_eq!(sim.recv(waiting), None, "not a millisecond early");
    sim.advance(Duration::from_millis(1));
    let (reason, message) = expect_abort(&mut sim, waiting);
    assert_eq!(reason, "wamp.error.not_authorized");
    assert!(message.contains("did not answer in time"), "{message}");
    // the callee hears that the call ended
    interrupt(&mut sim, auth);
}

/// A client that asked for WAMP-CRA as `authid` and got a challenge: the
/// challenge, and the salt parameters when the secret is salted.
fn challenged(sim: &mut Sim, c: ClientId, authid: &str) -> (String, Option<(String, u32, u32)>) {
    sim.send(c, hello_as("wampcra", authid));
    let Some(Message::Challenge(ch)) = sim.recv(c) else {
        panic!("expected CHALLENGE");
    };
    assert_eq!(ch.authmethod.as_str(), "wampcra");
    let text = |key: &str| ch.extra.get(key).and_then(Value::as_str).map(str::to_owned);
    let number = |key: &str| match ch.extra.get(key) {
        Some(Value::UInt(n)) => *n as u32,
        other => panic!("{key}: {other:?}"),
    };
    let salt = text("salt").map(|salt| (salt, number("iterations"), number("keylen")));
    (text("challenge").unwrap(), salt)
}

/// The WAMP-CRA signature of `challenge` with `secret`, as a client makes
/// it (Autobahn's `derive_key` and `compute_wcs`).
fn wampcra_signature(secret: &str, salt: Option<(String, u32, u32)>, challenge: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let base64 = base64::engine::general_purpose::STANDARD;
    let key = match salt {
        Some((salt, iterations, keylen)) => {
            let mut derived = vec![0u8; keylen as usize];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                secret.as_bytes(),
                salt.as_bytes(),
                iterations,
                &mut derived,
            );
            base64.encode(derived)
        }
        None => secret.to_owned(),
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(challenge.as_bytes());
    base64.encode(mac.finalize().into_bytes())
}

#[test]
fn wampcra_admits_the_right_signature_plain_or_salted_and_fails_a_wrong_one() {
    let grant = || Grant {
        role: "anonymous".into(),
        realm: None,
    };
    let salt = Pbkdf2Params {
        salt: "pepper".into(),
        iterations: 100,
        keylen: 32,
    };
    let principals = BTreeMap::from([
        (
            "plain".to_owned(),
            WampCraPrincipal::new(&Secret("s3cret".into()), None, grant()),
        ),
        (
            "salted".to_owned(),
            WampCraPrincipal::new(&Secret("s3cret".into()), Some(salt), grant()),
        ),
    ]);
    let mut setup = Setup::new(2);
    setup.auth = AuthConfig {
        wampcra: Some(Provider::Static(principals)),
        ..AuthConfig::default()
    };
    let mut sim = Sim::new(setup);
    for (core, authid) in ["plain", "salted"].into_iter().enumerate() {
        let c = sim.connect(core, CLIENT);
        let (challenge, salt) = challenged(&mut sim, c, authid);
        assert_eq!(salt.is_some(), authid == "salted");
        let signature = wampcra_signature("s3cret", salt, &challenge);
        sim.send(
            c,
            Message::Authenticate(Authenticate {
                signature: signature.as_str().into(),
                extra: Dict::new(),
            }),
        );
        match sim.recv(c) {
            Some(Message::Welcome(w)) => {
                assert_eq!(w.details.get("authid"), Some(&Value::from(authid)));
                assert_eq!(w.details.get("authmethod"), Some(&Value::from("wampcra")));
            }
            other => panic!("{authid}: expected WELCOME, got {other:?}"),
        }

        let c = sim.connect(core, CLIENT);
        let (challenge, salt) = challenged(&mut sim, c, authid);
        let wrong = wampcra_signature("guess", salt, &challenge);
        sim.send(
            c,
            Message::Authenticate(Authenticate {
                signature: wrong.as_str().into(),
                extra: Dict::new(),
            }),
        );
        assert_eq!(
            expect_abort(&mut sim, c).0,
            "wamp.error.authentication_failed",
            "{authid}"
        );
    }
}
