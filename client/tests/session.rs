//! The client against a real ringbar router started in-process on free
//! loopback ports: joining (anonymous, cryptosign, ticket, refused), RPC
//! and PubSub between two sessions, errors by URI, leaving.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../engine/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ringbar_client::{Credentials, Dict, Error, Incoming, Publication, Session, Url, Value};
use ringbar_engine::config::{
    AuthConfig, CryptosignPrincipal, Endpoint, Grant, IoBackend, Provider, Secret, TicketPrincipal,
    TransportKind,
};
use support::TestRouter;

fn url(router: &TestRouter) -> Url {
    Url::parse(&format!("ws://127.0.0.1:{}/ws", router.ws_port)).unwrap()
}

fn grant() -> Grant {
    Grant {
        role: "anonymous".into(),
        realm: Some("realm1".into()),
    }
}

/// The test router with cryptosign for `key` as "alice" and the ticket
/// "secret" for "bob", besides anonymous.
fn router_with_auth(key: &SigningKey) -> TestRouter {
    let public = key.verifying_key().to_bytes();
    TestRouter::start_edited(1, IoBackend::Epoll, move |config| {
        for transport in &mut config.transports {
            if let TransportKind::WebSocket(ws) = &mut transport.kind {
                let auth = AuthConfig {
                    cryptosign: Some(Provider::Static(BTreeMap::from([(
                        "alice".to_owned(),
                        CryptosignPrincipal {
                            authorized_keys: vec![public],
                            grant: grant(),
                        },
                    )]))),
                    ticket: Some(Provider::Static(BTreeMap::from([(
                        "bob".to_owned(),
                        TicketPrincipal {
                            ticket: Secret("secret".into()),
                            grant: grant(),
                        },
                    )]))),
                    ..AuthConfig::anonymous("anonymous")
                };
                ws.auth = Arc::new(auth);
            }
        }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn rpc_and_pubsub_between_two_sessions() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let url = url(&router);
    runtime().block_on(async {
        let mut callee = Session::join(&url, "realm1", &Credentials::Anonymous)
            .await
            .unwrap();
        let mut caller = Session::join(&url, "realm1", &Credentials::Anonymous)
            .await
            .unwrap();
        assert_ne!(callee.id(), caller.id());
        callee
            .register("com.example.add", Dict::new())
            .await
            .unwrap();
        callee
            .subscribe("com.example.topic", Dict::new())
            .await
            .unwrap();

        let serve = async {
            for _ in 0..2 {
                let Incoming::Invocation(invocation) = callee.next().await.unwrap() else {
                    panic!("expected an invocation");
                };
                let sum: u64 = invocation.args.iter().filter_map(Value::as_u64).sum();
                if sum == 0 {
                    callee
                        .yield_error(
                            invocation.request,
                            "com.example.error.zero",
                            "nothing to add",
                        )
                        .await
                        .unwrap();
                } else {
                    callee
                        .yield_result(invocation.request, vec![Value::from(sum)], Dict::new())
                        .await
                        .unwrap();
                }
            }
            let Incoming::Event(event) = callee.next().await.unwrap() else {
                panic!("expected an event");
            };
            event
        };
        let ask = async {
            let result = caller
                .call(
                    "com.example.add",
                    vec![Value::from(2u64), Value::from(3u64)],
                    Dict::new(),
                )
                .await
                .unwrap();
            assert_eq!(result.args, vec![Value::from(5u64)]);
            let error = caller
                .call("com.example.add", Vec::new(), Dict::new())
                .await
                .unwrap_err();
            assert_eq!(error.uri(), Some("com.example.error.zero"));
            assert!(error.to_string().contains("nothing to add"), "{error}");
            let kwargs: Dict = [("n", Value::from(7u64))].into_iter().collect();
            caller
                .publish(
                    "com.example.topic",
                    vec![Value::from("hi")],
                    kwargs,
                    Dict::new(),
                )
                .await
                .unwrap();
        };
        let (event, ()) = tokio::join!(serve, ask);
        assert_eq!(event.args, vec![Value::from("hi")]);
        assert_eq!(event.kwargs.get("n"), Some(&Value::from(7u64)));

        let missing = caller
            .call("com.example.none", Vec::new(), Dict::new())
            .await
            .unwrap_err();
        assert_eq!(
            missing.uri(),
            Some("wamp.error.no_such_procedure"),
            "{missing}"
        );
        caller.leave().await.unwrap();
        callee.leave().await.unwrap();
    });
}

#[test]
fn cryptosign_and_ticket_join_and_wrong_credentials_are_refused() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let router = router_with_auth(&key);
    let url = url(&router);
    runtime().block_on(async {
        let alice = Credentials::Cryptosign {
            authid: Some("alice".into()),
            key: key.clone(),
        };
        let session = Session::join(&url, "realm1", &alice).await.unwrap();
        assert_eq!(session.authid(), "alice");
        assert_eq!(session.authrole(), "anonymous");
        session.leave().await.unwrap();

        let bob = Credentials::Ticket {
            authid: "bob".into(),
            ticket: "secret".into(),
        };
        let session = Session::join(&url, "realm1", &bob).await.unwrap();
        assert_eq!(session.authid(), "bob");
        session.leave().await.unwrap();

        let wrong_key = Credentials::Cryptosign {
            authid: Some("alice".into()),
            key: SigningKey::from_bytes(&[8; 32]),
        };
        let wrong_ticket = Credentials::Ticket {
            authid: "bob".into(),
            ticket: "guess".into(),
        };
        for credentials in [wrong_key, wrong_ticket] {
            let error = Session::join(&url, "realm1", &credentials).await.unwrap_err();
            assert!(
                matches!(&error, Error::Refused { reason, .. } if reason.starts_with("wamp.error.")),
                "{error}"
            );
        }
    });
}

#[test]
fn unreachable_routers_and_wrong_paths_are_named() {
    let port = support::free_port();
    let url = Url::parse(&format!("ws://127.0.0.1:{port}/ws")).unwrap();
    let error = runtime()
        .block_on(Session::join(&url, "realm1", &Credentials::Anonymous))
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!("cannot connect to ws://127.0.0.1:{port}/ws")),
        "{text}"
    );
}

#[test]
fn rawsocket_over_unix_and_tcp_carries_rpc() {
    let socket = std::env::temp_dir().join(format!("ringbar-client-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let unix = socket.clone();
    let router = TestRouter::start_edited(1, IoBackend::Epoll, move |config| {
        let mut transport = config.transports[1].clone();
        transport.id = "unix".into();
        transport.endpoint = Endpoint::Unix { path: unix };
        config.transports.push(transport);
    });
    let over_unix = Url::rawsocket_unix(&socket);
    let over_tcp = Url::rawsocket("127.0.0.1", router.rs_port);
    runtime().block_on(async {
        let mut callee = Session::join(&over_unix, "realm1", &Credentials::Anonymous)
            .await
            .unwrap();
        callee
            .register("com.example.echo", Dict::new())
            .await
            .unwrap();
        let mut caller = Session::join(&over_tcp, "realm1", &Credentials::Anonymous)
            .await
            .unwrap();
        let serve = async {
            let Incoming::Invocation(invocation) = callee.next().await.unwrap() else {
                panic!("expected an invocation");
            };
            callee
                .yield_result(invocation.request, invocation.args, Dict::new())
                .await
                .unwrap();
        };
        let call = caller.call("com.example.echo", vec![Value::from("hi")], Dict::new());
        let ((), result) = tokio::join!(serve, call);
        assert_eq!(result.unwrap().args, vec![Value::from("hi")]);
        caller.leave().await.unwrap();
        callee.leave().await.unwrap();
    });
    let _ = std::fs::remove_file(&socket);
}

#[test]
fn a_rawsocket_unix_path_without_a_router_is_named() {
    let socket =
        std::env::temp_dir().join(format!("ringbar-client-none-{}.sock", std::process::id()));
    let url = Url::rawsocket_unix(&socket);
    let error = runtime()
        .block_on(Session::join(&url, "realm1", &Credentials::Anonymous))
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!("cannot connect to rs+unix://{}", socket.display())),
        "{text}"
    );
}

/// `publish_all` over each transport: thousands of publications (more
/// than one write's worth) reach a subscriber in order, and each gets its
/// own outcome: one the router refuses (a bad URI) fails alone, the rest
/// are acknowledged, among them one whose arguments were JSON text.
#[test]
fn publish_all_delivers_in_order_with_one_outcome_each() {
    const COUNT: u64 = 3000;
    let router = TestRouter::start(1, IoBackend::Epoll);
    let publishers = [url(&router), Url::rawsocket("127.0.0.1", router.rs_port)];
    runtime().block_on(async {
        let mut subscriber = Session::join(&url(&router), "realm1", &Credentials::Anonymous)
            .await
            .unwrap();
        subscriber
            .subscribe("com.example.batch", Dict::new())
            .await
            .unwrap();
        for publisher_url in &publishers {
            let mut publisher = Session::join(publisher_url, "realm1", &Credentials::Anonymous)
                .await
                .unwrap();
            let padding = "x".repeat(200);
            let publications = (0..COUNT)
                .map(|i| {
                    let topic = match i {
                        7 => "com..bad".to_owned(),
                        _ => "com.example.batch".to_owned(),
                    };
                    match i {
                        5 => Publication::from_json(
                            topic,
                            Some(&format!("[5, \"{padding}\"]")),
                            Some("{\"from\": \"json\"}"),
                            Dict::new(),
                        ),
                        _ => Publication::new(
                            topic,
                            &[Value::from(i), Value::from(padding.as_str())],
                            &Dict::new(),
                            Dict::new(),
                        ),
                    }
                    .unwrap()
                })
                .collect();
            let receive = async {
                let mut seen = Vec::new();
                while seen.len() < (COUNT - 1) as usize {
                    let Incoming::Event(event) = subscriber.next().await.unwrap() else {
                        panic!("expected an event");
                    };
                    let i = event.args[0].as_u64().unwrap();
                    assert_eq!(event.args[1].as_str(), Some(padding.as_str()));
                    assert_eq!(event.kwargs.get("from").is_some(), i == 5, "{i}");
                    seen.push(i);
                }
                seen
            };
            let (outcomes, seen) = tokio::join!(publisher.publish_all(publications), receive);
            let outcomes = outcomes.unwrap();
            assert_eq!(outcomes.len(), COUNT as usize);
            for (i, outcome) in outcomes.iter().enumerate() {
                match i {
                    7 => assert_eq!(
                        outcome.as_ref().unwrap_err().uri(),
                        Some("wamp.error.invalid_uri")
                    ),
                    _ => assert!(outcome.is_ok(), "{i}: {outcome:?}"),
                }
            }
            let expected: Vec<u64> = (0..COUNT).filter(|&i| i != 7).collect();
            assert_eq!(seen, expected, "over {publisher_url}");
            publisher.leave().await.unwrap();
        }
        subscriber.leave().await.unwrap();
    });
}

#[test]
fn queued_answers_go_out_together_at_the_flush() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let url = url(&router);
    runtime().block_on(async {
        let join = || Session::join(&url, "realm1", &Credentials::Anonymous);
        let mut callee = join().await.unwrap();
        callee
            .register("com.example.double", Dict::new())
            .await
            .unwrap();
        let mut callers = [join().await.unwrap(), join().await.unwrap()];
        let serve = async {
            let mut invocations = Vec::new();
            while invocations.len() < 2 {
                let Incoming::Invocation(invocation) = callee.next().await.unwrap() else {
                    panic!("expected an invocation");
                };
                invocations.push(invocation);
            }
            for invocation in invocations {
                match invocation.args.first().and_then(Value::as_u64) {
                    Some(n) => callee.queue_yield_result(
                        invocation.request,
                        vec![Value::from(2 * n)],
                        Dict::new(),
                    ),
                    None => callee.queue_yield_error_with(
                        invocation.request,
                        "com.example.error.nan",
                        vec![Value::from("not a number")],
                        Dict::new(),
                    ),
                }
                .unwrap();
            }
            // Both answers wait in the session until the flush.
            assert!(callee.queued_bytes() > 0);
            callee.flush().await.unwrap();
            assert_eq!(callee.queued_bytes(), 0);
        };
        let [first, second] = &mut callers;
        // Answers that never left the queue would leave the calls waiting:
        // a failure, not a hang.
        let (number, text, ()) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            tokio::join!(
                first.call("com.example.double", vec![Value::from(21u64)], Dict::new()),
                second.call("com.example.double", vec![Value::from("x")], Dict::new()),
                serve
            )
        })
        .await
        .expect("the queued answers reached the callers");
        assert_eq!(number.unwrap().args, vec![Value::from(42u64)]);
        let error = text.unwrap_err();
        assert_eq!(error.uri(), Some("com.example.error.nan"), "{error}");
    });
}
