//! The web transport as an HTTP/1.1 server, over real sockets: keep-alive,
//! pipelining, bodies (Content-Length, chunked, 100-continue), every limit
//! with its status, static files streamed, path services, curl; and the
//! universal transport serving RawSocket, WebSocket and HTTP on one port.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ringbar_engine::config::*;
use ringbar_protocol::codec::Serializer;
use ringbar_protocol::http::HttpLimits;
use support::{Client, TestRouter, Transport, free_port, join};

/// A file bigger than one streamed chunk (64 KiB).
const BIG_FILE_BYTES: usize = 200 * 1024 + 17;

/// A directory of files to serve, made for one test and removed when the
/// test drops it.
struct Site {
    dir: PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn site(name: &str) -> Site {
    let dir = std::env::temp_dir().join(format!("ringbar-web-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello, web\n").unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(dir.join("docs/a b.md"), "# a b").unwrap();
    let big: Vec<u8> = (0..BIG_FILE_BYTES).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), big).unwrap();
    Site { dir }
}

/// Tight limits and timeouts, so each test reaches them quickly.
fn options() -> WebOptions {
    WebOptions {
        client_timeout_ms: 1500,
        request_head_timeout_ms: 400,
        request_body_timeout_ms: 400,
        max_requests_per_connection: 5,
        limits: HttpLimits {
            max_target_bytes: 512,
            max_head_bytes: 2048,
            max_header_count: 16,
            max_body_bytes: 4096,
        },
        hsts_max_age_s: None,
        access_log: true,
    }
}

fn paths(dir: PathBuf) -> WebPaths {
    vec![
        (
            "/".into(),
            WebService::Static(StaticService {
                directory: dir.clone(),
                enable_directory_listing: false,
                mime_types: BTreeMap::new(),
                cache_timeout_s: Some(60),
                default_file: None,
            }),
        ),
        (
            "files".into(),
            WebService::Static(StaticService {
                directory: dir,
                enable_directory_listing: true,
                mime_types: BTreeMap::from([(".md".into(), "text/markdown".into())]),
                cache_timeout_s: None,
                default_file: None,
            }),
        ),
        (
            "info".into(),
            WebService::Json(JsonService {
                document: bytes::Bytes::from_static(br#"{"node":"ringbar"}"#),
                allow_cross_origin: true,
                discourage_caching: true,
            }),
        ),
        (
            "old".into(),
            WebService::Redirect {
                url: "/hello.txt".into(),
            },
        ),
        (
            "api".into(),
            WebService::Path(vec![(
                "v1".into(),
                WebService::Json(JsonService {
                    document: bytes::Bytes::from_static(b"[1]"),
                    allow_cross_origin: false,
                    discourage_caching: false,
                }),
            )]),
        ),
    ]
}

/// A router with a web transport on its own port, serving `site(name)`.
fn web_router(name: &str, io: IoBackend) -> (TestRouter, u16, Site) {
    let port = free_port();
    let site = site(name);
    let dir = site.dir.clone();
    let router = TestRouter::start_edited(1, io, |config| {
        config.transports.push(TransportConfig {
            id: "web".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            endpoint: Endpoint::Tcp {
                interface: Some("127.0.0.1".parse().unwrap()),
                port,
                backlog: 128,
                tls: None,
            },
            kind: TransportKind::Web(WebTransport {
                paths: paths(dir),
                options: options(),
            }),
        });
    });
    (router, port, site)
}

/// A response as read off the wire.
#[derive(Debug)]
struct Response {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP connection with its read buffer.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads more; false at end of stream.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads one response; `head_only` for the answer to HEAD.
    fn response(&mut self, head_only: bool) -> Response {
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            assert!(
                self.fill(),
                "connection closed before a response: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).unwrap();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
        let fields: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut response = Response {
            status,
            fields,
            body: Vec::new(),
        };
        let length: usize = match response.field("Content-Length") {
            Some(l) if !head_only && status != 304 && status >= 200 => l.parse().unwrap(),
            _ => 0,
        };
        while self.buf.len() < length {
            assert!(self.fill(), "connection closed inside a body");
        }
        response.body = self.buf.drain(..length).collect();
        response
    }

    /// Whether the server closes the connection within `within`.
    fn closed_within(&mut self, within: Duration) -> bool {
        self.stream.set_read_timeout(Some(within)).unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

#[test]
fn keep_alive_and_pipelined_requests_answered_in_order() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let (_router, port, _site) = web_router(&format!("pipeline-{io:?}"), io);
        let mut http = Http::connect(port);
        let pipelined = format!("{}{}{}", get("/info"), get("/hello.txt"), get("/api/v1"));
        http.send(pipelined.as_bytes());
        let first = http.response(false);
        assert_eq!(
            (first.status, &first.body[..]),
            (200, &br#"{"node":"ringbar"}"#[..])
        );
        assert_eq!(
            first.field("Cache-Control"),
            Some("no-store, no-cache, must-revalidate, max-age=0")
        );
        assert_eq!(first.field("Access-Control-Allow-Origin"), Some("*"));
        assert!(first.field("Date").is_some());
        let second = http.response(false);
        assert_eq!(
            (second.status, &second.body[..]),
            (200, &b"hello, web\n"[..])
        );
        assert_eq!(second.field("Cache-Control"), Some("max-age=60, public"));
        let third = http.response(false);
        assert_eq!((third.status, &third.body[..]), (200, &b"[1]"[..]));
        // The same connection serves more, one request at a time.
        http.send(get("/old").as_bytes());
        let redirect = http.response(false);
        assert_eq!(
            (redirect.status, redirect.field("Location")),
            (302, Some("/hello.txt"))
        );
        assert_eq!(redirect.field("Connection"), None);
        // The fifth request is the last this connection serves.
        http.send(get("/hello.txt").as_bytes());
        assert_eq!(http.response(false).field("Connection"), Some("close"));
        assert!(http.closed_within(Duration::from_secs(2)));
    }
}

#[test]
fn http_1_0_closes_unless_asked_and_connection_close_is_honoured() {
    let (_router, port, _site) = web_router("persistence", IoBackend::Epoll);
    let mut http = Http::connect(port);
    http.send(b"GET /info HTTP/1.0\r\n\r\n");
    assert_eq!(http.response(false).field("Connection"), Some("close"));
    assert!(http.closed_within(Duration::from_secs(2)));
    let mut http = Http::connect(port);
    http.send(b"GET /info HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(http.response(false).field("Connection"), Some("keep-alive"));
    http.send(b"GET /info HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(http.response(false).status, 200);
    assert!(http.closed_within(Duration::from_secs(2)));
}

#[test]
fn chunked_and_sized_bodies_are_read_and_the_next_request_follows() {
    let (_router, port, _site) = web_router("bodies", IoBackend::Epoll);
    let mut http = Http::connect(port);
    http.send(
        b"POST /info HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n",
    );
    http.send(get("/api/v1").as_bytes());
    let refused = http.response(false);
    assert_eq!(
        (refused.status, refused.field("Allow")),
        (405, Some("GET, HEAD"))
    );
    assert_eq!(http.response(false).body, b"[1]");
    // A body on a GET is read (and ignored) by its Content-Length.
    http.send(b"GET /api/v1 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nGET ");
    assert_eq!(http.response(false).body, b"[1]");
    http.send(get("/info").as_bytes());
    assert_eq!(http.response(false).status, 200);
}

#[test]
fn expect_100_continue_only_when_the_body_will_be_read() {
    let (_router, port, _site) = web_router("continue", IoBackend::Epoll);
    let mut http = Http::connect(port);
    http.send(
        b"GET /info HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(http.response(false).status, 100);
    http.send(b"hello");
    assert_eq!(http.response(false).status, 200);
    // A method the service refuses: the final answer at once, no 100.
    http.send(
        b"PUT /info HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let refused = http.response(false);
    assert_eq!(
        (refused.status, refused.field("Connection")),
        (405, Some("close"))
    );
    assert!(http.closed_within(Duration::from_secs(2)));
}

/// Sends `request` on a new connection; the status, after which the
/// server closes.
fn refused_with(port: u16, request: &[u8]) -> u16 {
    let mut http = Http::connect(port);
    http.send(request);
    let response = http.response(false);
    assert_eq!(response.field("Connection"), Some("close"), "{response:?}");
    assert!(response.field("Date").is_some(), "{response:?}");
    assert!(http.closed_within(Duration::from_secs(2)));
    response.status
}

#[test]
fn every_limit_answers_with_its_status() {
    let (_router, port, _site) = web_router("limits", IoBackend::Epoll);
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"POST /info HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 400),
        (b"POST /info HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n".to_vec(), 400),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        (b"POST /info HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 411),
        (b"POST /info HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n".to_vec(), 413),
        (
            format!(
                "POST /info HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n{}\r\n800\r\n{}\r\n1\r\n",
                "a".repeat(2048),
                "b".repeat(2048)
            )
            .into_bytes(),
            413,
        ),
        (format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(600)).into_bytes(), 414),
        (format!("GET / HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n", "c".repeat(3000)).into_bytes(), 431),
        (
            format!("GET / HTTP/1.1\r\nHost: t\r\n{}\r\n", "X-A: 1\r\n".repeat(20)).into_bytes(),
            431,
        ),
        (b"GET / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n".to_vec(), 417),
        (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n".to_vec(), 505),
    ];
    for (request, status) in cases {
        assert_eq!(
            refused_with(port, &request),
            status,
            "{}",
            String::from_utf8_lossy(&request[..request.len().min(120)])
        );
    }
}

#[test]
fn slow_heads_and_bodies_get_408_and_quiet_connections_are_closed() {
    let (_router, port, _site) = web_router("timeouts", IoBackend::Epoll);
    let started = Instant::now();
    assert_eq!(refused_with(port, b"GET /info HTTP/1.1\r\nHost:"), 408);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        refused_with(
            port,
            b"GET /info HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"
        ),
        408
    );
    // Between requests a connection may stay quiet for client_timeout.
    let mut http = Http::connect(port);
    http.send(get("/info").as_bytes());
    assert_eq!(http.response(false).status, 200);
    std::thread::sleep(Duration::from_millis(800));
    http.send(get("/info").as_bytes());
    assert_eq!(http.response(false).status, 200);
    let quiet = Instant::now();
    assert!(http.closed_within(Duration::from_secs(4)));
    assert!(
        quiet.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        quiet.elapsed()
    );
    // A connection that never sends a byte is closed without a word.
    let mut silent = Http::connect(port);
    assert!(silent.closed_within(Duration::from_secs(3)));
    assert!(silent.buf.is_empty());
}

#[test]
fn an_idle_keep_alive_connection_does_not_hold_up_shutdown() {
    let (mut router, port, _site) = web_router("shutdown", IoBackend::Epoll);
    let mut http = Http::connect(port);
    http.send(get("/info").as_bytes());
    assert_eq!(http.response(false).status, 200);
    let stopping = Instant::now();
    router.stop();
    // The test router allows 2 s before it cuts connections.
    assert!(
        stopping.elapsed() < Duration::from_millis(1000),
        "{:?}",
        stopping.elapsed()
    );
    assert!(http.closed_within(Duration::from_secs(1)));
}

#[test]
fn static_files_stream_list_and_stay_inside_their_directory() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let (_router, port, _site) = web_router(&format!("static-{io:?}"), io);
        let mut http = Http::connect(port);
        http.send(get("/big.bin").as_bytes());
        let big = http.response(false);
        assert_eq!(big.status, 200);
        assert_eq!(big.body.len(), BIG_FILE_BYTES);
        assert!(
            big.body
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i % 251) as u8)
        );
        http.send(b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        let head = http.response(true);
        assert_eq!(
            head.field("Content-Length"),
            Some(BIG_FILE_BYTES.to_string().as_str())
        );
        let last_modified = head.field("Last-Modified").unwrap().to_owned();
        http.send(
            format!(
                "GET /big.bin HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {last_modified}\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(http.response(false).status, 304);
        http.send(get("/").as_bytes());
        assert_eq!(http.response(false).body, b"<h1>home</h1>");
        http.send(get("/files/docs").as_bytes());
        let redirect = http.response(false);
        assert_eq!(
            (redirect.status, redirect.field("Location")),
            (301, Some("/files/docs/"))
        );
        // Five requests is this transport's limit per connection.
        let mut http = Http::connect(port);
        http.send(get("/files/docs/").as_bytes());
        let listing = String::from_utf8(http.response(false).body).unwrap();
        assert!(
            listing.contains("<a href=\"a%20b.md\">a b.md</a>"),
            "{listing}"
        );
        http.send(get("/files/docs/a%20b.md").as_bytes());
        let markdown = http.response(false);
        assert_eq!(
            (markdown.field("Content-Type"), &markdown.body[..]),
            (Some("text/markdown"), &b"# a b"[..])
        );
        http.send(get("/docs/").as_bytes());
        assert_eq!(http.response(false).status, 404, "listing is off on /");
        for escape in [
            "/../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/files/..%2f..%2fetc/passwd",
            "/files/%00",
        ] {
            let mut http = Http::connect(port);
            http.send(get(escape).as_bytes());
            let response = http.response(false);
            assert_eq!(response.status, 404, "{escape}");
        }
    }
}

#[test]
fn curl_reuses_the_connection() {
    let (_router, port, _site) = web_router("curl", IoBackend::Epoll);
    let output = std::process::Command::new("curl")
        .args(["-sv", "--max-time", "10"])
        .arg(format!("http://127.0.0.1:{port}/info"))
        .arg(format!("http://127.0.0.1:{port}/hello.txt"))
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"node\":\"ringbar\"}hello, web\n"
    );
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("Re-using existing connection"), "{log}");
}

#[test]
fn a_universal_port_serves_rawsocket_websocket_and_http() {
    for io in [IoBackend::Epoll, IoBackend::Uring] {
        let site = site(&format!("universal-{io:?}"));
        let dir = site.dir.clone();
        let mut router = TestRouter::start_edited(1, io, |config| {
            let ws_port = match config.transports[0].endpoint {
                Endpoint::Tcp { port, .. } => port,
                Endpoint::Unix { .. } => unreachable!(),
            };
            let TransportKind::WebSocket(ws) = config.transports[0].kind.clone() else {
                panic!("the test router's first transport is WebSocket")
            };
            let TransportKind::RawSocket(rs) = config.transports[1].kind.clone() else {
                panic!("the test router's second transport is RawSocket")
            };
            let mut web_paths = paths(dir);
            web_paths.insert(0, ("ws".into(), WebService::WebSocket(ws)));
            config.transports = vec![TransportConfig {
                id: "universal".into(),
                max_connections: DEFAULT_MAX_CONNECTIONS,
                endpoint: Endpoint::Tcp {
                    interface: Some("127.0.0.1".parse().unwrap()),
                    port: ws_port,
                    backlog: 128,
                    tls: None,
                },
                kind: TransportKind::Universal(UniversalTransport {
                    rawsocket: Some(rs),
                    web: WebTransport {
                        paths: web_paths,
                        options: options(),
                    },
                }),
            }];
        });
        router.rs_port = router.ws_port;
        let mut rs = Client::connect(&router, Transport::RawSocket(Serializer::Cbor));
        let mut ws = Client::connect(&router, Transport::WebSocket(Serializer::Json));
        join(&mut rs, "realm1");
        join(&mut ws, "realm1");
        let mut http = Http::connect(router.ws_port);
        http.send(get("/hello.txt").as_bytes());
        assert_eq!(http.response(false).body, b"hello, web\n");
        assert_eq!(router.sessions(), 2);
    }
}
