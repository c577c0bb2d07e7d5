//! The metrics endpoint of a running node (`ringbar.metrics`): a WAMP
//! client's session and publication show in the Prometheus text, other
//! paths and methods are refused, a busy port stops the start.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::rawsocket::{HandshakeRequest, MaxMessageLength};
use serde_json::{Value, json};
use support::{
    Scratch, UNIX_CONFIG, free_port, signal, spawn, stderr_of, wait_exit, wait_for_file,
};

const STARTUP: Duration = Duration::from_secs(20);
const SHUTDOWN: Duration = Duration::from_secs(20);

/// [`UNIX_CONFIG`] with the metrics endpoint on 127.0.0.1:`port`.
fn config(port: u16) -> String {
    UNIX_CONFIG.replace(
        r#""ringbar": {"#,
        &format!(
            r#""ringbar": {{"metrics": {{"endpoint": {{"type": "tcp", "interface": "127.0.0.1", "port": {port}}}}}, "#
        ),
    )
}

/// Sends `request` to 127.0.0.1:`port`; the status and the body.
fn http(port: u16, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, head.to_owned(), body.to_owned())
}

fn scrape(port: u16) -> String {
    let (status, head, body) = http(port, "GET /metrics HTTP/1.1\r\nHost: ringbar\r\n\r\n");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    body
}

/// The series of an exposition by `name{labels}`, checking that every line
/// is a comment or `name{labels} value` with a number.
fn series(text: &str) -> HashMap<String, f64> {
    let mut found = HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ringbar_") || line.starts_with("# TYPE ringbar_") {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a series: {line:?}"));
        let name_end = key.find('{').unwrap_or(key.len());
        let name = &key[..name_end];
        assert!(
            name.starts_with("ringbar_")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "bad name in {line:?}"
        );
        let labels = &key[name_end..];
        if !labels.is_empty() {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("bad labels in {line:?}"));
            for pair in inner.split(',') {
                let (label, quoted) = pair.split_once('=').unwrap();
                assert!(label.bytes().all(|b| b.is_ascii_lowercase()), "{line:?}");
                assert!(
                    quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'),
                    "{line:?}"
                );
            }
        }
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        assert!(
            found.insert(key.to_owned(), value).is_none(),
            "twice: {line:?}"
        );
    }
    found
}

/// A WAMP client on RawSocket with JSON, just enough for this test.
struct Client(UnixStream);

impl Client {
    fn connect(path: &std::path::Path) -> Self {
        let mut stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let hello = HandshakeRequest {
            serializer: Serializer::Json,
            max_message_length: MaxMessageLength::MAX,
        };
        stream.write_all(&hello.to_bytes()).unwrap();
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).unwrap();
        hello.complete(reply).unwrap();
        Client(stream)
    }

    fn send(&mut self, message: Value) {
        let payload = message.to_string().into_bytes();
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        self.0.write_all(&[0, len[1], len[2], len[3]]).unwrap();
        self.0.write_all(&payload).unwrap();
    }

    fn recv(&mut self) -> Value {
        let mut prefix = [0u8; 4];
        self.0.read_exact(&mut prefix).unwrap();
        assert_eq!(prefix[0], 0, "a WAMP message frame");
        let len = u32::from_be_bytes([0, prefix[1], prefix[2], prefix[3]]) as usize;
        let mut payload = vec![0u8; len];
        self.0.read_exact(&mut payload).unwrap();
        serde_json::from_slice(&payload).unwrap()
    }
}

#[test]
fn a_scrape_shows_what_a_client_did_and_other_requests_are_refused() {
    let port = free_port();
    let dir = Scratch::new("metrics").with_config(&config(port));
    let mut child = spawn(&["start", dir.arg(), "--io", "epoll"]);
    let router = dir.path.join("router.sock");
    assert!(
        wait_for_file(&router, &mut child, STARTUP),
        "no router.sock: {}",
        stderr_of(child)
    );
    // The endpoint is bound before the router starts and served right after.
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "metrics port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = series(&scrape(port));
    assert_eq!(before["ringbar_sessions{core=\"0\"}"], 0.0);
    assert_eq!(
        before["ringbar_messages_in_total{core=\"0\",type=\"PUBLISH\"}"],
        0.0
    );

    let mut client = Client::connect(&router);
    client.send(json!([1, "realm1", {"roles": {"publisher": {}, "subscriber": {}}}]));
    assert_eq!(client.recv()[0], 2, "WELCOME");
    client.send(json!([32, 1, {}, "com.metrics"]));
    assert_eq!(client.recv()[0], 33, "SUBSCRIBED");
    client.send(json!([16, 2, {"acknowledge": true, "exclude_me": false}, "com.metrics", [1]]));
    let mut answers = [client.recv()[0].clone(), client.recv()[0].clone()];
    answers.sort_by_key(|v| v.as_u64());
    assert_eq!(answers, [json!(17), json!(36)], "PUBLISHED and EVENT");

    let text = scrape(port);
    let after = series(&text);
    for (key, value) in [
        ("ringbar_sessions{core=\"0\"}", 1.0),
        ("ringbar_messages_in_total{core=\"0\",type=\"HELLO\"}", 1.0),
        (
            "ringbar_messages_in_total{core=\"0\",type=\"SUBSCRIBE\"}",
            1.0,
        ),
        (
            "ringbar_messages_in_total{core=\"0\",type=\"PUBLISH\"}",
            1.0,
        ),
        (
            "ringbar_messages_out_total{core=\"0\",type=\"WELCOME\"}",
            1.0,
        ),
        ("ringbar_messages_out_total{core=\"0\",type=\"EVENT\"}", 1.0),
        (
            "ringbar_messages_out_total{core=\"0\",type=\"PUBLISHED\"}",
            1.0,
        ),
        ("ringbar_publish_to_event_seconds_count{core=\"0\"}", 1.0),
        (
            "ringbar_publish_to_event_seconds_bucket{core=\"0\",le=\"+Inf\"}",
            1.0,
        ),
        (
            "ringbar_events_dropped_total{core=\"0\",reason=\"session_queue_full\"}",
            0.0,
        ),
        ("ringbar_slow_consumer_disconnects_total{core=\"0\"}", 0.0),
    ] {
        assert_eq!(after.get(key), Some(&value), "{key} in:\n{text}");
    }
    assert!(after["ringbar_bytes_in_total{core=\"0\"}"] > 0.0);
    assert!(after["ringbar_bytes_out_total{core=\"0\"}"] > 0.0);
    assert!(after["ringbar_publish_to_event_seconds_sum{core=\"0\"}"] > 0.0);
    assert!(text.contains("# TYPE ringbar_publish_to_event_seconds histogram\n"));
    assert!(text.contains("# TYPE ringbar_messages_in_total counter\n"));

    let (status, _, body) = http(port, "GET /other HTTP/1.1\r\nHost: ringbar\r\n\r\n");
    assert_eq!(status, 404);
    assert!(body.contains("/metrics"), "{body}");
    let (status, head, _) = http(port, "POST /metrics HTTP/1.1\r\nHost: ringbar\r\n\r\n");
    assert_eq!(status, 405);
    assert!(head.contains("\r\nAllow: GET"), "{head}");
    let (status, _, _) = http(port, "hello\r\n\r\n");
    assert_eq!(status, 400);

    drop(client);
    signal(&child, "TERM");
    let status = wait_exit(&mut child, SHUTDOWN);
    let stderr = stderr_of(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Serving metrics on http://127.0.0.1:{port}/metrics."
        )),
        "{stderr}"
    );
}

#[test]
fn a_busy_metrics_port_stops_the_start_with_the_fix() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let dir = Scratch::new("metrics-busy").with_config(&config(port));
    let output = support::run(&["start", dir.arg(), "--loglevel", "none"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        support::text(&output.stderr),
        format!(
            "ringbar: cannot start: metrics endpoint: cannot listen on 127.0.0.1:{port}: Address already in use (os error 98) (set ringbar.metrics.endpoint.port to a free port, or remove ringbar.metrics)\n"
        )
    );
    assert!(!dir.path.join("node.pid").exists());
}
