//! A router on free loopback ports and a small blocking WAMP client built
//! on `ringbar-protocol`, for the engine's behaviour tests.

// Test support: a failure is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringbar_engine::config::*;
use ringbar_engine::{Router, ShutdownHandle, StartError};
use ringbar_protocol::codec::batch::Subprotocol;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::{RequestId, SubscriptionId};
use ringbar_protocol::message::*;
use ringbar_protocol::rawsocket::{self, HandshakeRequest, MaxMessageLength};
use ringbar_protocol::uri::{MatchPolicy, UriCheck};
use ringbar_protocol::value::{Dict, Value};
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{
    FrameParser, Incoming, OpCode, Role, WebSocketConfig, encode_frame,
};

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two free ports that differ: both are held while the second is picked
/// (one after the other, the kernel may hand out the same port twice).
fn free_port_pair() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

/// A TCP endpoint on 127.0.0.1.
fn loopback(port: u16) -> Endpoint {
    Endpoint::Tcp {
        interface: Some("127.0.0.1".parse().unwrap()),
        port,
        backlog: 1024,
        tls: None,
    }
}

/// A running router with a WebSocket and a RawSocket transport.
pub struct TestRouter {
    pub config: RouterConfig,
    pub ws_port: u16,
    pub rs_port: u16,
    shutdown: ShutdownHandle,
    router: Option<Router>,
}

impl TestRouter {
    pub fn start(cores: usize, io: IoBackend) -> Self {
        Self::start_with(cores, io, FlowControl::default())
    }

    pub fn start_with(cores: usize, io: IoBackend, flow: FlowControl) -> Self {
        Self::start_edited(cores, io, |config| config.flow = flow)
    }

    /// Starts the router of [`TestRouter::start`] after `edit` changed its
    /// config (TLS on a transport, other authentication, ...).
    pub fn start_edited(cores: usize, io: IoBackend, edit: impl FnOnce(&mut RouterConfig)) -> Self {
        let (mut ws_port, mut rs_port) = free_port_pair();
        let all = Permission {
            uri: String::new(),
            match_policy: MatchPolicy::Prefix,
            allow: Allow {
                publish: true,
                subscribe: true,
                call: true,
                register: true,
                list: None,
            },
            disclose: Disclose::default(),
            cache: true,
        };
        let limited = vec![Permission {
            uri: "com.allowed.".into(),
            match_policy: MatchPolicy::Prefix,
            allow: Allow {
                publish: true,
                subscribe: true,
                ..Allow::default()
            },
            disclose: Disclose::default(),
            cache: true,
        }];
        let auth = std::sync::Arc::new(AuthConfig::default());
        let serializers = Serializer::ALL.to_vec();
        let mut config = RouterConfig {
            cores,
            io,
            realms: vec![
                RealmConfig {
                    name: "realm1".into(),
                    roles: vec![RoleConfig {
                        name: "anonymous".into(),
                        permissions: vec![all],
                        authorizer: None,
                        create: false,
                    }],
                    uri_check: UriCheck::Loose,
                    event_history: vec![EventHistory {
                        uri: "com.history.".into(),
                        match_policy: MatchPolicy::Prefix,
                        limit: 3,
                    }],
                    enable_meta_api: true,
                },
                RealmConfig {
                    name: "restricted".into(),
                    roles: vec![RoleConfig {
                        name: "anonymous".into(),
                        permissions: limited,
                        authorizer: None,
                        create: false,
                    }],
                    uri_check: UriCheck::Loose,
                    event_history: Vec::new(),
                    enable_meta_api: true,
                },
            ],
            transports: vec![
                TransportConfig {
                    id: "ws".into(),
                    endpoint: loopback(ws_port),
                    kind: TransportKind::WebSocket(WebSocketTransport {
                        serializers: serializers.clone(),
                        options: WebSocketOptions {
                            max_message_bytes: 1 << 20,
                            ..WebSocketOptions::default()
                        },
                        auth: auth.clone(),
                    }),
                    max_connections: DEFAULT_MAX_CONNECTIONS,
                },
                TransportConfig {
                    id: "rs".into(),
                    endpoint: loopback(rs_port),
                    kind: TransportKind::RawSocket(RawSocketTransport {
                        serializers,
                        max_message_bytes: 1 << 20,
                        auth,
                    }),
                    max_connections: DEFAULT_MAX_CONNECTIONS,
                },
            ],
            flow: FlowControl::default(),
            limits: Limits::default(),
            shutdown_timeout_ms: 2000,
            cluster: None,
        };
        edit(&mut config);
        let mut retries = 5;
        let router = loop {
            match Router::start(config.clone()) {
                Ok(router) => break router,
                // Another process took a port between `free_port` and the
                // bind: pick new ones.
                Err(StartError::Bind { .. }) if retries > 0 => {
                    retries -= 1;
                    let (ws, rs) = free_port_pair();
                    for transport in &mut config.transports {
                        if let Endpoint::Tcp { port, .. } = &mut transport.endpoint {
                            if *port == ws_port {
                                *port = ws;
                            } else if *port == rs_port {
                                *port = rs;
                            }
                        }
                    }
                    (ws_port, rs_port) = (ws, rs);
                }
                Err(error) => panic!("the test router cannot start: {error}"),
            }
        };
        Self {
            config,
            ws_port,
            rs_port,
            shutdown: router.shutdown_handle(),
            router: Some(router),
        }
    }

    /// Joined sessions on all cores.
    pub fn sessions(&self) -> usize {
        self.router
            .as_ref()
            .map(|r| r.stats().sessions_per_core().iter().sum())
            .unwrap_or(0)
    }

    /// Joined sessions on each core.
    pub fn sessions_per_core(&self) -> Vec<usize> {
        self.router
            .as_ref()
            .map(|r| r.stats().sessions_per_core())
            .unwrap_or_default()
    }

    /// The router's live figures.
    pub fn stats(&self) -> ringbar_engine::Stats {
        self.router.as_ref().expect("the router runs").stats()
    }

    /// Stops the router and waits for it.
    pub fn stop(&mut self) {
        self.shutdown.shutdown();
        if let Some(r) = self.router.take() {
            r.join();
        }
    }
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How a test client is framed.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    WebSocket(Serializer),
    /// The batched subprotocol of the serializer (`wamp.2.json.batched`).
    WebSocketBatched(Serializer),
    RawSocket(Serializer),
}

/// A blocking WAMP client.
pub struct Client {
    stream: TcpStream,
    transport: Transport,
    buf: BytesMut,
    ws: FrameParser,
    rs: rawsocket::FrameParser,
    /// Messages of a received batch not yet returned by `recv`.
    batch: VecDeque<Bytes>,
    pub closed: Option<u16>,
}

impl Client {
    pub fn connect(router: &TestRouter, transport: Transport) -> Self {
        Self::connect_with(router, transport, MaxMessageLength::MAX)
    }

    /// Connects; a RawSocket client announces `max` as the longest message
    /// it accepts.
    pub fn connect_with(router: &TestRouter, transport: Transport, max: MaxMessageLength) -> Self {
        let port = match transport {
            Transport::WebSocket(_) | Transport::WebSocketBatched(_) => router.ws_port,
            Transport::RawSocket(_) => router.rs_port,
        };
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = BytesMut::new();
        match transport {
            Transport::WebSocket(serializer) | Transport::WebSocketBatched(serializer) => {
                let batched = matches!(transport, Transport::WebSocketBatched(_));
                let name = Subprotocol {
                    serializer,
                    batched,
                }
                .name();
                let hs = ClientHandshake::new("127.0.0.1", "/ws", &[name], [9; 16]).unwrap();
                let mut out = BytesMut::new();
                hs.write_request(&mut out);
                stream.write_all(&out).unwrap();
                loop {
                    read_more(&mut stream, &mut buf);
                    if let Some((_, used)) = hs
                        .parse_response(&buf, &WebSocketConfig::default())
                        .unwrap()
                    {
                        let _ = buf.split_to(used);
                        break;
                    }
                }
            }
            Transport::RawSocket(s) => {
                let hello = HandshakeRequest {
                    serializer: s,
                    max_message_length: max,
                };
                stream.write_all(&hello.to_bytes()).unwrap();
                while buf.len() < 4 {
                    read_more(&mut stream, &mut buf);
                }
                let reply = buf.split_to(4);
                hello
                    .complete([reply[0], reply[1], reply[2], reply[3]])
                    .unwrap();
            }
        }
        Self {
            stream,
            transport,
            buf,
            ws: FrameParser::new(Role::Client, WebSocketConfig::default()),
            rs: rawsocket::FrameParser::new(MaxMessageLength::MAX),
            batch: VecDeque::new(),
            closed: None,
        }
    }

    pub fn serializer(&self) -> Serializer {
        match self.transport {
            Transport::WebSocket(s) | Transport::WebSocketBatched(s) | Transport::RawSocket(s) => s,
        }
    }

    /// Sends raw message bytes (already encoded).
    pub fn send_raw(&mut self, payload: &[u8]) {
        let out = self.frame(payload);
        self.stream.write_all(&out).unwrap();
    }

    /// `m` encoded and framed as this client sends it.
    pub fn framed(&self, m: &Message) -> BytesMut {
        self.frame(&self.encode(&[m]))
    }

    /// Writes `bytes` until they are all sent or the router takes nothing
    /// for `stall`; returns how many it took.
    pub fn write_until_stalled(&mut self, bytes: &[u8], stall: Duration) -> usize {
        self.stream.set_write_timeout(Some(stall)).unwrap();
        let mut sent = 0;
        while sent < bytes.len() {
            match self.stream.write(&bytes[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.stream.set_write_timeout(None).unwrap();
        sent
    }

    /// `payload` (an encoded message) in this client's framing.
    fn frame(&self, payload: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        match self.transport {
            Transport::WebSocket(s) | Transport::WebSocketBatched(s) => {
                let op = if s.is_text() {
                    OpCode::Text
                } else {
                    OpCode::Binary
                };
                encode_frame(true, op, Some([1, 2, 3, 4]), payload, &mut out);
            }
            Transport::RawSocket(_) => {
                rawsocket::FrameEncoder::new(MaxMessageLength::MAX)
                    .encode(rawsocket::FrameType::Message, payload, &mut out)
                    .unwrap();
            }
        }
        out
    }

    /// Sends `m` a few bytes at a time, with pauses, so the router reads
    /// each frame in several pieces.
    pub fn send_split(&mut self, m: &Message) {
        let out = self.framed(m);
        for piece in out.chunks(3) {
            self.stream.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn send(&mut self, m: &Message) {
        let out = self.encode(&[m]);
        self.send_raw(&out);
    }

    /// Sends `messages` in one WebSocket message (a batched client).
    pub fn send_batch(&mut self, messages: &[&Message]) {
        let out = self.encode(messages);
        self.send_raw(&out);
    }

    /// `messages` as one transport message: encoded, batched when the
    /// transport is.
    fn encode(&self, messages: &[&Message]) -> BytesMut {
        let mut out = BytesMut::new();
        for m in messages {
            match self.transport {
                Transport::WebSocketBatched(s) => {
                    codec::batch::encode_batched(s, m, &mut out).unwrap()
                }
                _ => codec::encode(self.serializer(), m, &mut out).unwrap(),
            }
        }
        out
    }

    /// Sends raw bytes on the socket.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a masked WebSocket Close frame with `code`.
    pub fn send_ws_close(&mut self, code: u16) {
        let mut out = BytesMut::new();
        encode_frame(
            true,
            OpCode::Close,
            Some([5, 6, 7, 8]),
            &code.to_be_bytes(),
            &mut out,
        );
        self.stream.write_all(&out).unwrap();
    }

    /// Whether the router ends the connection within `within` (anything
    /// else that arrives is discarded).
    pub fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        let mut chunk = [0u8; 65536];
        let ended = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break false;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut chunk) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break false;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        ended
    }

    /// Waits up to `timeout` for each read (5 s by default).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    /// The next WAMP message, `None` when the connection ends.
    pub fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(message) = self.batch.pop_front() {
                return Some(codec::decode(self.serializer(), message).unwrap());
            }
            match self.transport {
                Transport::WebSocket(s) | Transport::WebSocketBatched(s) => {
                    match self.ws.parse(&mut self.buf) {
                        Ok(Some(Incoming::Message { payload, .. })) => {
                            if matches!(self.transport, Transport::WebSocket(_)) {
                                return Some(codec::decode(s, payload).unwrap());
                            }
                            for message in codec::batch::split_batch(s, payload) {
                                self.batch.push_back(message.unwrap());
                            }
                            continue;
                        }
                        Ok(Some(Incoming::Close(frame))) => {
                            self.closed = Some(frame.map(|f| f.code.as_u16()).unwrap_or(1005));
                            return None;
                        }
                        Ok(Some(_)) => continue,
                        Ok(None) => {}
                        Err(e) => panic!("bad frame from router: {e}"),
                    }
                }
                Transport::RawSocket(s) => match self.rs.parse(&mut self.buf) {
                    Ok(Some(rawsocket::Frame::Message(payload))) => {
                        return Some(codec::decode(s, payload).unwrap());
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => panic!("bad frame from router: {e}"),
                },
            }
            if !read_more(&mut self.stream, &mut self.buf) {
                return None;
            }
        }
    }
}

fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> bool {
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            // A signal (io_uring cores in this process raise some) is not
            // the end of the connection.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

/// Raw bytes helper.
pub fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// This process's resident memory, in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

pub fn req(n: u64) -> RequestId {
    RequestId::new(n).unwrap()
}

pub fn join(c: &mut Client, realm: &str) -> u64 {
    let roles: Dict = [
        ("subscriber", Value::Dict(Dict::new())),
        ("publisher", Value::Dict(Dict::new())),
    ]
    .into_iter()
    .collect();
    join_as(c, realm, roles)
}

/// Joins `realm` announcing `roles` (`HELLO.Details.roles`).
pub fn join_as(c: &mut Client, realm: &str, roles: Dict) -> u64 {
    let details: Dict = [("roles", Value::Dict(roles))].into_iter().collect();
    c.send(&Message::Hello(Hello {
        realm: realm.into(),
        details,
    }));
    match c.recv() {
        Some(Message::Welcome(w)) => w.session.get(),
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

pub fn subscribe(c: &mut Client, topic: &str, options: Dict) -> SubscriptionId {
    c.send(&Message::Subscribe(Subscribe {
        request: req(1),
        options,
        topic: topic.into(),
    }));
    match c.recv() {
        Some(Message::Subscribed(s)) => s.subscription,
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
}

pub fn publish(c: &mut Client, topic: &str, options: Dict, args: &[Value]) {
    let payload = Payload::from_values(c.serializer(), args, None).unwrap();
    c.send(&Message::Publish(Publish {
        request: req(2),
        options,
        topic: topic.into(),
        payload,
    }));
}

pub fn event_args(e: &Event) -> Value {
    match &e.payload {
        Payload::Arguments(a) => {
            ringbar_protocol::codec::decode_value(a.serializer, &a.args).unwrap()
        }
        other => panic!("no arguments: {other:?}"),
    }
}
