//! The opening handshake: both sides, round trip, and every refusal.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use ringbar_protocol::websocket::WebSocketConfig;
use ringbar_protocol::websocket::handshake::{
    ClientHandshake, HandshakeError, Request, accept_key, negotiate_subprotocol, parse_request,
    write_accept, write_error_response, write_rejection,
};

const WAMP: [&str; 3] = ["wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"];

/// The RFC 6455 §1.2 sample request, with WAMP subprotocols.
const SAMPLE: &str = "GET /ws?realm=realm1 HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: keep-alive, Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: wamp.2.cbor, wamp.2.json\r\n\
    Sec-WebSocket-Protocol: wamp.2.msgpack\r\n\
    Sec-WebSocket-Version: 13\r\n\
    X-Custom: yes\r\n\
    \r\n";

fn parse(text: &str) -> Result<Option<(Request, usize)>, HandshakeError> {
    parse_request(text.as_bytes(), &WebSocketConfig::default())
}

fn refusal(text: &str) -> Option<HandshakeError> {
    parse(text).err()
}

/// `SAMPLE` with the line starting with `prefix` replaced (or removed when
/// `line` is empty).
fn sample_with(prefix: &str, line: &str) -> String {
    SAMPLE
        .split_inclusive("\r\n")
        .map(|l| {
            if l.starts_with(prefix) {
                if line.is_empty() {
                    String::new()
                } else {
                    format!("{line}\r\n")
                }
            } else {
                l.to_owned()
            }
        })
        .collect()
}

#[test]
fn rfc_accept_key_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn server_reads_sample_request() {
    let mut input = SAMPLE.as_bytes().to_vec();
    input.extend_from_slice(b"\x81\x85frame");
    for cut in 0..SAMPLE.len() {
        assert_eq!(
            parse_request(&input[..cut], &WebSocketConfig::default()),
            Ok(None)
        );
    }
    let (request, len) = parse_request(&input, &WebSocketConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(len, SAMPLE.len(), "frame bytes after the head stay unread");
    assert_eq!(request.target(), "/ws?realm=realm1");
    assert_eq!(request.path(), "/ws");
    assert_eq!(request.query(), Some("realm=realm1"));
    assert_eq!(request.host(), "server.example.com");
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        request.protocols(),
        ["wamp.2.cbor", "wamp.2.json", "wamp.2.msgpack"]
    );
    assert_eq!(request.header("x-custom"), Some("yes"));
    assert_eq!(request.headers().len(), 9);

    let chosen = negotiate_subprotocol(request.protocols(), &WAMP);
    assert_eq!(chosen, Some("wamp.2.cbor"));
    let mut out = BytesMut::new();
    write_accept(&request, chosen, &mut out);
    assert_eq!(
        &out[..],
        b"HTTP/1.1 101 Switching Protocols\r\n\
          Upgrade: websocket\r\n\
          Connection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
          Sec-WebSocket-Protocol: wamp.2.cbor\r\n\
          \r\n"
    );
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let text = SAMPLE
        .replace("Upgrade: websocket", "UPGRADE: WebSocket")
        .replace("Connection: keep-alive, Upgrade", "connection: UPGRADE");
    assert!(parse(&text).unwrap().is_some());
}

#[test]
fn round_trip_client_to_server_to_client() {
    let config = WebSocketConfig::default();
    let client = ClientHandshake::new(
        "127.0.0.1:8080",
        "/ws",
        &["wamp.2.msgpack", "wamp.2.json"],
        *b"the sample nonce",
    )
    .unwrap();
    assert_eq!(client.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    let mut wire = BytesMut::new();
    client.write_request(&mut wire);

    let (request, len) = parse_request(&wire, &config).unwrap().unwrap();
    assert_eq!(len, wire.len());
    assert_eq!(request.path(), "/ws");
    assert_eq!(request.host(), "127.0.0.1:8080");
    let chosen = negotiate_subprotocol(request.protocols(), &["wamp.2.json", "wamp.2.msgpack"]);
    assert_eq!(chosen, Some("wamp.2.msgpack"));

    let mut answer = BytesMut::new();
    write_accept(&request, chosen, &mut answer);
    let head_len = answer.len();
    answer.extend_from_slice(b"\x82\x00");
    for cut in 0..head_len {
        assert_eq!(client.parse_response(&answer[..cut], &config), Ok(None));
    }
    let (response, len) = client.parse_response(&answer, &config).unwrap().unwrap();
    assert_eq!(len, head_len);
    assert_eq!(response.protocol(), Some("wamp.2.msgpack"));
}

#[test]
fn client_checks_the_response() {
    let config = WebSocketConfig::default();
    let client = ClientHandshake::new("h", "/ws", &["wamp.2.json"], *b"the sample nonce").unwrap();
    let good = "HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n";
    let parse = |text: &str| client.parse_response(text.as_bytes(), &config);
    assert!(parse(good).unwrap().is_some());
    let without_protocol = good.replace("Sec-WebSocket-Protocol: wamp.2.json\r\n", "");
    assert_eq!(
        parse(&without_protocol).unwrap().unwrap().0.protocol(),
        None
    );

    let cases = [
        (
            good.replace("101 Switching Protocols", "403 Forbidden"),
            HandshakeError::UnexpectedStatus(403),
        ),
        (
            good.replace("HTTP/1.1 101", "HTTP/1.0 101"),
            HandshakeError::MalformedStatusLine,
        ),
        (
            good.replace("Upgrade: websocket", "Upgrade: h2c"),
            HandshakeError::NotWebSocketUpgrade,
        ),
        (
            good.replace("Connection: Upgrade", "Connection: close"),
            HandshakeError::ConnectionNotUpgrade,
        ),
        (good.replace("xOo=", "xOp="), HandshakeError::AcceptMismatch),
        (
            good.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
            HandshakeError::MissingHeader("Sec-WebSocket-Accept"),
        ),
        (
            good.replace("wamp.2.json", "wamp.2.cbor"),
            HandshakeError::UnofferedProtocol("wamp.2.cbor".into()),
        ),
        (
            good.replace(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            ),
            HandshakeError::UnofferedExtension,
        ),
    ];
    for (text, error) in cases {
        assert_eq!(parse(&text), Err(error.clone()), "{text}");
        if !matches!(error, HandshakeError::MissingHeader(_)) {
            assert!(matches!(error.status(), 400 | 502), "{error}");
        }
    }
    assert_eq!(HandshakeError::UnexpectedStatus(403).status(), 502);
    assert_eq!(HandshakeError::AcceptMismatch.status(), 502);
}

#[test]
fn each_refusal_has_its_status() {
    let cases: Vec<(String, HandshakeError, u16)> = vec![
        (
            SAMPLE.replace("GET /ws", "POST /ws"),
            HandshakeError::MethodNotGet,
            405,
        ),
        (
            SAMPLE.replace("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost"),
            HandshakeError::UnsupportedHttpVersion,
            400,
        ),
        (
            SAMPLE.replace("GET /ws?realm=realm1", "GET ws"),
            HandshakeError::InvalidRequestTarget,
            400,
        ),
        (
            SAMPLE.replace("GET /ws?realm=realm1 HTTP/1.1", "GET"),
            HandshakeError::MalformedRequestLine,
            400,
        ),
        (
            sample_with("Host:", ""),
            HandshakeError::MissingHeader("Host"),
            400,
        ),
        (
            sample_with("Host:", "Host: a\r\nHost: b"),
            HandshakeError::DuplicateHeader("Host"),
            400,
        ),
        (
            sample_with("Upgrade:", ""),
            HandshakeError::NotWebSocketUpgrade,
            400,
        ),
        (
            sample_with("Upgrade:", "Upgrade: h2c"),
            HandshakeError::NotWebSocketUpgrade,
            400,
        ),
        (
            sample_with("Connection:", "Connection: keep-alive"),
            HandshakeError::ConnectionNotUpgrade,
            400,
        ),
        (
            sample_with("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8"),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            sample_with("Sec-WebSocket-Version:", ""),
            HandshakeError::MissingHeader("Sec-WebSocket-Version"),
            400,
        ),
        (
            sample_with("Sec-WebSocket-Key:", ""),
            HandshakeError::MissingHeader("Sec-WebSocket-Key"),
            400,
        ),
        (
            sample_with("Sec-WebSocket-Key:", "Sec-WebSocket-Key: c2hvcnQ="),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            sample_with("X-Custom:", "X-Custom : yes"),
            HandshakeError::MalformedHeader,
            400,
        ),
        (
            sample_with("X-Custom:", "X-Custom: \x01"),
            HandshakeError::InvalidHeaderText,
            400,
        ),
    ];
    for (text, error, status) in cases {
        assert_eq!(refusal(&text), Some(error.clone()), "{text}");
        assert_eq!(error.status(), status, "{error}");
    }
}

#[test]
fn header_limits() {
    let tight = WebSocketConfig {
        max_header_bytes: SAMPLE.len() - 1,
        ..WebSocketConfig::default()
    };
    let error = parse_request(SAMPLE.as_bytes(), &tight).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::HeaderTooLarge {
            max_bytes: SAMPLE.len() - 1
        }
    );
    assert_eq!(error.status(), 431);

    // A peer that never ends its head is cut off at the limit.
    let endless = vec![b'a'; tight.max_header_bytes];
    assert!(parse_request(&endless, &tight).is_err());
    assert_eq!(
        parse_request(&endless[..endless.len() - 1], &tight),
        Ok(None)
    );

    let few = WebSocketConfig {
        max_header_count: 8,
        ..WebSocketConfig::default()
    };
    let error = parse_request(SAMPLE.as_bytes(), &few).unwrap_err();
    assert_eq!(error, HandshakeError::TooManyHeaders { max_count: 8 });
    assert_eq!(error.status(), 431);
}

fn response_text(write: impl FnOnce(&mut BytesMut)) -> String {
    let mut out = BytesMut::new();
    write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks the head ends the way every refusal must, and `Content-Length`
/// is the body's length.
fn check_refusal(text: &str, status_line: &str) -> Option<String> {
    assert!(text.starts_with(status_line), "{text}");
    let (head, body) = text.split_once("\r\n\r\n")?;
    assert!(head.contains("\r\nConnection: close"), "{text}");
    let length = format!("\r\nContent-Length: {}", body.len());
    assert!(head.contains(&length), "{text}");
    assert_eq!(body.matches('\n').count(), 1, "one-line body: {body:?}");
    Some(head.to_owned())
}

#[test]
fn refusal_responses() {
    let text = response_text(|out| write_rejection(&HandshakeError::UnsupportedVersion, out));
    let head = check_refusal(&text, "HTTP/1.1 426 Upgrade Required\r\n").unwrap();
    assert!(head.contains("\r\nSec-WebSocket-Version: 13\r\n"));

    let text = response_text(|out| {
        write_rejection(&HandshakeError::MissingHeader("Sec-WebSocket-Key"), out)
    });
    check_refusal(&text, "HTTP/1.1 400 Bad Request\r\n").unwrap();
    assert!(text.ends_with("\r\n\r\nmissing header Sec-WebSocket-Key\n"));

    let text = response_text(|out| write_rejection(&HandshakeError::MethodNotGet, out));
    let head = check_refusal(&text, "HTTP/1.1 405 Method Not Allowed\r\n").unwrap();
    assert!(head.contains("\r\nAllow: GET"));

    let text = response_text(|out| write_error_response(404, "no such path /x", out));
    check_refusal(&text, "HTTP/1.1 404 Not Found\r\n").unwrap();
    assert!(text.ends_with("\r\n\r\nno such path /x\n"));
}
