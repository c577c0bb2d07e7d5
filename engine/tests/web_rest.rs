//! The REST bridge's path services over real sockets: an HTTP publish
//! reaches a WAMP subscriber, an HTTP call a WAMP callee and back, a role's
//! permissions apply, pipelined requests are answered in order without
//! waiting on a slow call, and a signed request replayed to another
//! connection (and core) is refused.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use ringbar_engine::config::*;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::*;
use ringbar_protocol::value::{Dict, Value};
use support::{Client, TestRouter, Transport, event_args, free_port, join, req, subscribe};

fn rest(realm: &str, options: RestOptions) -> RestService {
    RestService {
        realm: realm.into(),
        role: "anonymous".into(),
        options,
        call_timeout_ms: 2_000,
    }
}

fn signed() -> RestOptions {
    RestOptions {
        signing: Some(RestSigning {
            key: "bazapp".into(),
            secret: "foobar".into(),
            seen: SeenNonces::default(),
        }),
        timestamp_delta_limit_s: DEFAULT_TIMESTAMP_DELTA_LIMIT_S,
        ..RestOptions::default()
    }
}

/// A router of `cores` cores with REST services on a web transport.
fn rest_router(cores: usize, io: IoBackend) -> (TestRouter, u16) {
    let port = free_port();
    let router = TestRouter::start_edited(cores, io, |config| {
        config.transports.push(TransportConfig {
            id: "rest".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            endpoint: Endpoint::Tcp {
                interface: Some("127.0.0.1".parse().unwrap()),
                port,
                backlog: 128,
                tls: None,
            },
            kind: TransportKind::Web(WebTransport {
                paths: vec![
                    (
                        "publish".into(),
                        WebService::Publisher(rest("realm1", RestOptions::default())),
                    ),
                    (
                        "signed".into(),
                        WebService::Publisher(rest("realm1", signed())),
                    ),
                    (
                        "denied".into(),
                        WebService::Publisher(rest("restricted", RestOptions::default())),
                    ),
                    (
                        "call".into(),
                        WebService::Caller(rest("realm1", RestOptions::default())),
                    ),
                ],
                options: WebOptions::default(),
            }),
        });
    });
    (router, port)
}

/// POSTs `body` to `target`; the status and the body of the response.
fn post(port: u16, target: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {target} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

#[test]
fn an_http_publish_reaches_a_subscriber_and_permissions_apply() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let (router, port) = rest_router(2, io);
        let mut sub = Client::connect(&router, Transport::WebSocket(Serializer::MsgPack));
        join(&mut sub, "realm1");
        subscribe(&mut sub, "com.rest.a", Dict::new());
        let (status, body) = post(
            port,
            "/publish",
            r#"{"topic": "com.rest.a", "args": ["hi", 2], "kwargs": {"k": true}}"#,
        );
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with(r#"{"id":"#), "{body}");
        match sub.recv() {
            Some(Message::Event(e)) => {
                assert_eq!(
                    event_args(&e),
                    Value::List(vec!["hi".into(), Value::UInt(2)])
                );
                assert!(body.contains(&e.publication.get().to_string()));
            }
            other => panic!("expected EVENT, got {other:?}"),
        }
        let (status, body) = post(port, "/denied", r#"{"topic": "com.other"}"#);
        assert_eq!(status, 200);
        assert!(body.contains("wamp.error.not_authorized"), "{body}");
        let (status, body) = post(port, "/publish", r#"{"args": []}"#);
        assert_eq!(status, 400);
        assert!(body.contains("missing key 'topic'"), "{body}");
    }
}

#[test]
fn an_http_call_reaches_a_callee_and_returns_its_result() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let (router, port) = rest_router(2, io);
        let mut callee = Client::connect(&router, Transport::RawSocket(Serializer::Cbor));
        join(&mut callee, "realm1");
        callee.send(&Message::Register(Register {
            request: req(1),
            options: Dict::new(),
            procedure: "com.rest.add".into(),
        }));
        assert!(matches!(callee.recv(), Some(Message::Registered(_))));
        let caller = std::thread::spawn(move || {
            post(
                port,
                "/call",
                r#"{"procedure": "com.rest.add", "args": [20, 22]}"#,
            )
        });
        let invocation = match callee.recv() {
            Some(Message::Invocation(i)) => i,
            other => panic!("expected INVOCATION, got {other:?}"),
        };
        let payload = Payload::from_values(Serializer::Cbor, &[Value::UInt(42)], None).unwrap();
        callee.send(&Message::Yield(Yield {
            request: invocation.request,
            options: Dict::new(),
            payload,
        }));
        assert_eq!(caller.join().unwrap(), (200, r#"{"args":[42]}"#.to_owned()));
        // Nobody answers: the service's timeout ends the request.
        let caller = std::thread::spawn(move || {
            post(
                port,
                "/call",
                r#"{"procedure": "com.rest.add", "timeout": 100}"#,
            )
        });
        assert!(matches!(callee.recv(), Some(Message::Invocation(_))));
        let (status, body) = caller.join().unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("wamp.error."), "{body}");
    }
}

/// A POST of `body` to `target` that keeps the connection open.
fn keep_alive_post(target: &str, body: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads the next response on a kept-alive connection: its status and body.
fn next_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String) {
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    while buf.len() < end + length {
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8(buf[end..end + length].to_vec()).unwrap();
    buf.drain(..end + length);
    (head[9..12].parse().unwrap(), body)
}

#[test]
fn pipelined_answers_keep_their_order_and_none_waits_for_a_slow_call() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let (router, port) = rest_router(1, io);
        let mut callee = Client::connect(&router, Transport::RawSocket(Serializer::Json));
        join(&mut callee, "realm1");
        callee.send(&Message::Register(Register {
            request: req(1),
            options: Dict::new(),
            procedure: "com.rest.slow".into(),
        }));
        assert!(matches!(callee.recv(), Some(Message::Registered(_))));
        let publish = keep_alive_post("/publish", r#"{"topic": "com.rest.p"}"#);
        let call = keep_alive_post("/call", r#"{"procedure": "com.rest.slow"}"#);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // Two publishes, a call, a publish: one write, as a pipelining
        // client sends them.
        stream
            .write_all(format!("{publish}{publish}{call}{publish}").as_bytes())
            .unwrap();
        let mut buf = Vec::new();
        // The answers held back while the call was read come before the
        // callee has answered it.
        for _ in 0..2 {
            let (status, body) = next_response(&mut stream, &mut buf);
            assert_eq!(status, 200, "{body}");
            assert!(body.starts_with(r#"{"id":"#), "{body}");
        }
        let invocation = match callee.recv() {
            Some(Message::Invocation(i)) => i,
            other => panic!("expected INVOCATION, got {other:?}"),
        };
        let payload = Payload::from_values(Serializer::Json, &[Value::UInt(7)], None).unwrap();
        callee.send(&Message::Yield(Yield {
            request: invocation.request,
            options: Dict::new(),
            payload,
        }));
        assert_eq!(
            next_response(&mut stream, &mut buf),
            (200, r#"{"args":[7]}"#.to_owned())
        );
        let (status, body) = next_response(&mut stream, &mut buf);
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with(r#"{"id":"#), "{body}");
    }
}

/// Now as Crossbar.io's signed requests write it.
fn timestamp() -> String {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let seconds = since.as_secs();
    let (days, in_day) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60,
        since.subsec_millis()
    )
}

fn sign(timestamp: &str, nonce: u64, body: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"foobar").unwrap();
    for part in ["bazapp", timestamp, "1", &nonce.to_string(), body] {
        mac.update(part.as_bytes());
    }
    let signature = base64::engine::general_purpose::URL_SAFE.encode(mac.finalize().into_bytes());
    format!(
        "/signed?key=bazapp&timestamp={timestamp}&seq=1&nonce={nonce}&signature={}",
        signature.replace('=', "%3D")
    )
}

#[test]
fn a_signed_request_is_taken_once_on_any_core() {
    let (_router, port) = rest_router(2, IoBackend::Epoll);
    let body = r#"{"topic": "com.rest.signed"}"#;
    let target = sign(&timestamp(), 42, body);
    assert_eq!(post(port, &target, body).0, 200);
    // New connections spread over both cores; each is refused.
    for _ in 0..6 {
        let (status, answer) = post(port, &target, body);
        assert_eq!(status, 401, "{answer}");
        assert!(answer.contains("nonce '42'"), "{answer}");
    }
    assert_eq!(post(port, &sign(&timestamp(), 43, body), body).0, 200);
    let other_body = r#"{"topic": "com.rest.other"}"#;
    assert_eq!(post(port, &sign(&timestamp(), 44, body), other_body).0, 401);
}
