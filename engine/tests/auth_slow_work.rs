//! Slow authentication work runs off the router cores: a ticket checked
//! against a (slow) password hash neither stalls the core's other sessions
//! nor runs more than the pool's few at once; and a client that hangs up
//! on a CHALLENGE made a failed attempt. On both I/O backends.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringbar_engine::config::{
    AuthConfig, Authenticator, Grant, IoBackend, Provider, Secret, TicketPrincipal, TransportKind,
};
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};
use support::*;

const T: Transport = Transport::RawSocket(Serializer::Json);
/// Logins at once.
const STORM: usize = 6;
/// What one ticket check costs (an argon2 hash takes about this).
const HASH_TIME: Duration = Duration::from_millis(100);

/// Tickets checked "against a hash": slowly, noting the thread and how
/// many checks run at once.
#[derive(Debug, Default)]
struct SlowHash {
    running: AtomicUsize,
    most: AtomicUsize,
    done: AtomicUsize,
    threads: Mutex<Vec<String>>,
}

impl Authenticator<TicketPrincipal> for SlowHash {
    fn principal(
        &self,
        _realm: &str,
        authid: Option<&str>,
        _credential: Option<&[u8]>,
    ) -> Option<(String, TicketPrincipal)> {
        let principal = TicketPrincipal {
            ticket: Secret(String::new()),
            grant: Grant {
                role: "anonymous".into(),
                realm: None,
            },
        };
        Some((authid?.to_owned(), principal))
    }

    fn verify_ticket(&self, _realm: &str, _authid: &str, ticket: &str) -> Option<bool> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        self.threads.lock().unwrap().push(thread);
        std::thread::sleep(HASH_TIME);
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
        Some(ticket == "right")
    }
}

/// A one-core router whose transports admit anonymous sessions, and
/// `ticket` checked by `hash`.
fn router(io: IoBackend, hash: &Arc<SlowHash>) -> TestRouter {
    let auth = Arc::new(AuthConfig {
        ticket: Some(Provider::Dynamic(hash.clone())),
        ..AuthConfig::default()
    });
    TestRouter::start_edited(1, io, |config| {
        for transport in &mut config.transports {
            match &mut transport.kind {
                TransportKind::RawSocket(rs) => rs.auth = auth.clone(),
                TransportKind::WebSocket(ws) => ws.auth = auth.clone(),
                _ => {}
            }
        }
    })
}

/// A client that sent HELLO (ticket, `authid`), and the router's answer.
fn hello(router: &TestRouter, authid: &str) -> (Client, Option<Message>) {
    let mut c = Client::connect(router, T);
    let details: Dict = [
        ("authmethods", Value::List(vec![Value::from("ticket")])),
        ("authid", Value::from(authid)),
    ]
    .into_iter()
    .collect();
    c.send(&Message::Hello(Hello {
        realm: "realm1".into(),
        details,
    }));
    let answer = c.recv();
    (c, answer)
}

/// A client that sent HELLO (ticket, `authid`) and got its CHALLENGE.
fn challenged(router: &TestRouter, authid: &str) -> Client {
    match hello(router, authid) {
        (c, Some(Message::Challenge(ch))) if ch.authmethod.as_str() == "ticket" => c,
        (_, other) => panic!("expected a ticket CHALLENGE, got {other:?}"),
    }
}

fn a_login_storm_leaves_the_core_free(io: IoBackend) {
    let hash = Arc::new(SlowHash::default());
    let router = router(io, &hash);
    let mut other = Client::connect(&router, T);
    join(&mut other, "realm1");

    let mut storm: Vec<Client> = (0..STORM)
        .map(|i| {
            let mut c = challenged(&router, &format!("user{i}"));
            c.send(&Message::Authenticate(Authenticate {
                signature: "right".into(),
                extra: Dict::new(),
            }));
            c
        })
        .collect();
    other.send(&Message::Call(Call {
        request: req(1),
        options: Dict::new(),
        procedure: "wamp.session.count".into(),
        payload: Payload::from_values(other.serializer(), &[], None).unwrap(),
    }));
    match other.recv() {
        Some(Message::Result(_)) => {}
        got => panic!("expected RESULT, got {got:?}"),
    }
    let done_at_result = hash.done.load(Ordering::SeqCst);
    assert!(
        done_at_result < STORM,
        "the core answered another session only after all {STORM} password checks"
    );

    for c in &mut storm {
        match c.recv() {
            Some(Message::Welcome(_)) => {}
            got => panic!("expected WELCOME, got {got:?}"),
        }
    }
    let threads = hash.threads.lock().unwrap().clone();
    assert!(
        threads.iter().all(|t| !t.starts_with("ringbar-core")),
        "tickets were checked on a router core: {threads:?}"
    );
    assert_eq!(
        hash.most.load(Ordering::SeqCst),
        1,
        "a one-core router runs one slow check at a time"
    );
}

#[test]
fn a_login_storm_leaves_the_core_free_epoll() {
    a_login_storm_leaves_the_core_free(IoBackend::Epoll);
}

#[test]
fn a_login_storm_leaves_the_core_free_uring() {
    a_login_storm_leaves_the_core_free(IoBackend::Uring);
}

fn hanging_up_on_a_challenge_is_a_failed_attempt(io: IoBackend) {
    let hash = Arc::new(SlowHash::default());
    let router = router(io, &hash);
    // The limiter allows a burst of 20 failures per address: hang up on
    // challenges until the router refuses to send one.
    let mut challenges = 0;
    let refusal = loop {
        match hello(&router, &format!("guess{challenges}")) {
            (_, Some(Message::Challenge(_))) if challenges < 30 => challenges += 1,
            (_, other) => break other,
        }
        // The hang-up is counted when the router sees it.
        std::thread::sleep(Duration::from_millis(10));
    };
    match refusal {
        Some(Message::Abort(a)) => assert!(
            format!("{:?}", a.details).contains("too many failed authentication attempts"),
            "{a:?}"
        ),
        got => panic!("expected ABORT after {challenges} hang-ups, got {got:?}"),
    }
    assert!(challenges >= 20, "refused after only {challenges} hang-ups");
    assert_eq!(hash.done.load(Ordering::SeqCst), 0, "no ticket was checked");
}

#[test]
fn hanging_up_on_a_challenge_is_a_failed_attempt_epoll() {
    hanging_up_on_a_challenge_is_a_failed_attempt(IoBackend::Epoll);
}

#[test]
fn hanging_up_on_a_challenge_is_a_failed_attempt_uring() {
    hanging_up_on_a_challenge_is_a_failed_attempt(IoBackend::Uring);
}
