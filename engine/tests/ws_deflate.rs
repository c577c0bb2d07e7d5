//! permessage-deflate through the router, over real sockets: negotiation,
//! compressed events with and without context takeover (shared frames),
//! compressed client messages, and a decompression bomb.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringbar_engine::config::{IoBackend, TransportKind};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Hello, Message, Subscribe};
use ringbar_protocol::value::{Dict, Value};
use ringbar_protocol::websocket::deflate::{Compressor, DeflateConfig, DeflateParams};
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{
    FrameHeader, FrameParser, Incoming, OpCode, Role, WebSocketConfig,
};
use support::{Client, TestRouter, Transport, join, publish, req};

const MASK: [u8; 4] = [7, 7, 7, 7];

/// A router whose WebSocket transport negotiates deflate with `config`.
fn router(config: DeflateConfig) -> TestRouter {
    TestRouter::start_edited(1, IoBackend::Epoll, |router| {
        for transport in &mut router.transports {
            if let TransportKind::WebSocket(ws) = &mut transport.kind {
                ws.options.deflate = Some(config);
            }
        }
    })
}

/// A JSON WebSocket client that offers permessage-deflate, compresses what
/// it sends and records, for each message it receives, whether it came
/// compressed and how many bytes it took on the wire.
struct DeflateClient {
    stream: TcpStream,
    buf: BytesMut,
    params: Option<DeflateParams>,
    parser: FrameParser,
    compressor: Option<Compressor>,
    closed: Option<u16>,
}

impl DeflateClient {
    fn connect(router: &TestRouter) -> Self {
        let mut stream = TcpStream::connect(("127.0.0.1", router.ws_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let handshake = ClientHandshake::new("127.0.0.1", "/ws", &["wamp.2.json"], [3; 16])
            .unwrap()
            .with_deflate_offer();
        let mut out = BytesMut::new();
        handshake.write_request(&mut out);
        stream.write_all(&out).unwrap();
        let mut buf = BytesMut::new();
        let response = loop {
            read_some(&mut stream, &mut buf);
            if let Some((response, used)) = handshake
                .parse_response(&buf, &WebSocketConfig::default())
                .unwrap()
            {
                let _ = buf.split_to(used);
                break response;
            }
        };
        let params = response.deflate();
        let mut parser = FrameParser::new(Role::Client, WebSocketConfig::default());
        if let Some(params) = &params {
            parser = parser.with_deflate(params.client_decompressor());
        }
        Self {
            stream,
            buf,
            params,
            parser,
            compressor: params.as_ref().map(DeflateParams::client_compressor),
            closed: None,
        }
    }

    fn send(&mut self, message: &Message) {
        let mut payload = BytesMut::new();
        codec::encode(Serializer::Json, message, &mut payload).unwrap();
        self.send_text(&payload);
    }

    fn send_text(&mut self, payload: &[u8]) {
        let frame = self
            .compressor
            .as_mut()
            .unwrap()
            .frame(OpCode::Text, payload, Some(MASK))
            .unwrap();
        self.stream.write_all(&frame).unwrap();
    }

    /// The next message, with its whole frame as it came on the wire;
    /// `None` when the connection ends.
    fn recv_frame(&mut self) -> Option<(Message, Bytes)> {
        loop {
            let before = self.buf.clone();
            match self.parser.parse(&mut self.buf) {
                Ok(Some(Incoming::Message { payload, .. })) => {
                    let used = before.len() - self.buf.len();
                    let frame = before.freeze().slice(..used);
                    return Some((codec::decode(Serializer::Json, payload).unwrap(), frame));
                }
                Ok(Some(Incoming::Close(frame))) => {
                    self.closed = Some(frame.map_or(1005, |f| f.code.as_u16()));
                    return None;
                }
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => panic!("bad frame from the router: {e}"),
            }
            if !read_some(&mut self.stream, &mut self.buf) {
                return None;
            }
        }
    }

    fn join(&mut self) {
        let roles: Dict = [("subscriber", Value::Dict(Dict::new()))]
            .into_iter()
            .collect();
        let details: Dict = [("roles", Value::Dict(roles))].into_iter().collect();
        self.send(&Message::Hello(Hello {
            realm: "realm1".into(),
            details,
        }));
        assert!(matches!(self.recv_frame(), Some((Message::Welcome(_), _))));
    }

    fn subscribe(&mut self, topic: &str) {
        self.send(&Message::Subscribe(Subscribe {
            request: req(1),
            options: Dict::new(),
            topic: topic.into(),
        }));
        assert!(matches!(
            self.recv_frame(),
            Some((Message::Subscribed(_), _))
        ));
    }
}

fn read_some(stream: &mut TcpStream, buf: &mut BytesMut) -> bool {
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Whether a frame from the router has RSV1 set.
fn compressed(frame: &[u8]) -> bool {
    FrameHeader::parse_rsv1(frame, true).unwrap().unwrap().1
}

fn publisher(router: &TestRouter) -> Client {
    let mut publisher = Client::connect(router, Transport::RawSocket(Serializer::MsgPack));
    join(&mut publisher, "realm1");
    publisher
}

fn text(len: usize) -> Value {
    Value::from(
        "the quick brown fox jumps over the lazy dog "
            .repeat(len / 44 + 1)
            .as_str(),
    )
}

#[test]
fn events_compress_with_context_takeover() {
    let router = router(DeflateConfig::default());
    let mut sub = DeflateClient::connect(&router);
    assert_eq!(sub.params, Some(DeflateParams::default()));
    sub.join();
    sub.subscribe("com.deflate");
    let mut publisher = publisher(&router);
    let mut sizes = Vec::new();
    for _ in 0..3 {
        publish(&mut publisher, "com.deflate", Dict::new(), &[text(400)]);
        let (event, frame) = sub.recv_frame().unwrap();
        let Message::Event(event) = event else {
            panic!("not an event: {event:?}");
        };
        assert_eq!(support::event_args(&event), Value::List(vec![text(400)]));
        assert!(compressed(&frame));
        sizes.push(frame.len());
    }
    // The window holds the earlier events: later ones take a few bytes.
    assert!(sizes[0] < 200, "{sizes:?}");
    assert!(sizes[1] < sizes[0] / 2, "{sizes:?}");
}

#[test]
fn without_context_takeover_receivers_get_the_same_frame() {
    let router = router(DeflateConfig {
        no_context_takeover: true,
        ..DeflateConfig::default()
    });
    let mut subs = [
        DeflateClient::connect(&router),
        DeflateClient::connect(&router),
    ];
    for sub in &mut subs {
        assert!(sub.params.unwrap().server_no_context_takeover);
        sub.join();
        sub.subscribe("com.deflate");
    }
    let mut publisher = publisher(&router);
    for _ in 0..2 {
        publish(&mut publisher, "com.deflate", Dict::new(), &[text(400)]);
        let frames: Vec<Bytes> = subs.iter_mut().map(|s| s.recv_frame().unwrap().1).collect();
        assert!(compressed(&frames[0]));
        assert_eq!(frames[0], frames[1]);
    }
    // A short event is not worth compressing on its own.
    publish(
        &mut publisher,
        "com.deflate",
        Dict::new(),
        &[Value::from("hi")],
    );
    let (_, frame) = subs[0].recv_frame().unwrap();
    assert!(!compressed(&frame));
}

#[test]
fn no_compression_unless_configured() {
    let router = TestRouter::start(1, IoBackend::Epoll);
    let client = DeflateClient::connect(&router);
    assert_eq!(client.params, None);
}

#[test]
fn a_decompression_bomb_closes_with_1009_and_harms_no_one() {
    let router = router(DeflateConfig::default());
    let mut other = DeflateClient::connect(&router);
    other.join();
    other.subscribe("com.after");
    let mut bomber = DeflateClient::connect(&router);
    bomber.join();
    // 64 MiB of JSON text, against the transport's 1 MiB message limit.
    let mut bomb = b"[16,1,{},\"com.after\",[\"".to_vec();
    bomb.resize(64 << 20, b'a');
    bomb.extend_from_slice(b"\"]]");
    bomber.send_text(&bomb);
    while bomber.recv_frame().is_some() {}
    assert_eq!(bomber.closed, Some(1009));
    let mut publisher = publisher(&router);
    publish(&mut publisher, "com.after", Dict::new(), &[text(10)]);
    assert!(matches!(other.recv_frame(), Some((Message::Event(_), _))));
}
