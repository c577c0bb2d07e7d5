//! A WAMP client over WebSocket on tokio, built on `ringbar-protocol`: what
//! the load generator's publishers and subscribers speak.

use std::io;

use bytes::{Bytes, BytesMut};
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::{Hello, Message};
use ringbar_protocol::value::{Dict, Value};
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{
    FrameParser, Incoming, OpCode, Role, WebSocketConfig, encode_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a router listens.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) realm: String,
    pub(crate) serializer: Serializer,
}

impl Target {
    /// Parses `ws://host:port/path`.
    pub(crate) fn parse(url: &str, realm: &str, serializer: Serializer) -> Result<Self, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("{url}: only ws:// URLs are supported"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| format!("{url}: the URL needs a port"))?;
        let port = port
            .parse()
            .map_err(|_| format!("{url}: '{port}' is not a port"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
            path: format!("/{path}"),
            realm: realm.to_owned(),
            serializer,
        })
    }
}

/// One joined WAMP session.
pub(crate) struct Session {
    stream: TcpStream,
    parser: FrameParser,
    buf: BytesMut,
    serializer: Serializer,
    out: BytesMut,
}

impl Session {
    /// Connects, opens the WebSocket and joins the realm.
    pub(crate) async fn join(target: &Target, nonce: [u8; 16]) -> io::Result<Self> {
        let mut stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
        stream.set_nodelay(true)?;
        let handshake = ClientHandshake::new(
            &format!("{}:{}", target.host, target.port),
            &target.path,
            &[target.serializer.subprotocol()],
            nonce,
        )
        .map_err(io::Error::other)?;
        let mut out = BytesMut::new();
        handshake.write_request(&mut out);
        stream.write_all(&out).await?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        loop {
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if let Some((_, used)) = handshake
                .parse_response(&buf, &WebSocketConfig::default())
                .map_err(io::Error::other)?
            {
                let _ = buf.split_to(used);
                break;
            }
        }
        let mut session = Self {
            stream,
            parser: FrameParser::new(Role::Client, WebSocketConfig::default()),
            buf,
            serializer: target.serializer,
            out: BytesMut::new(),
        };
        let roles: Dict = [
            ("publisher", Value::Dict(Dict::new())),
            ("subscriber", Value::Dict(Dict::new())),
        ]
        .into_iter()
        .collect();
        let details: Dict = [("roles", Value::Dict(roles))].into_iter().collect();
        session.queue(&Message::Hello(Hello {
            realm: target.realm.as_str().into(),
            details,
        }))?;
        session.flush().await?;
        match session.recv().await? {
            Some(Message::Welcome(_)) => Ok(session),
            other => Err(io::Error::other(format!("expected WELCOME, got {other:?}"))),
        }
    }

    /// The session's serializer.
    pub(crate) fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// Queues a message (sent by [`Session::flush`]).
    pub(crate) fn queue(&mut self, message: &Message) -> io::Result<()> {
        let mut encoded = BytesMut::new();
        codec::encode(self.serializer, message, &mut encoded).map_err(io::Error::other)?;
        let opcode = if self.serializer.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        encode_frame(
            true,
            opcode,
            Some([0x5a, 0x17, 0xc3, 0x99]),
            &encoded,
            &mut self.out,
        );
        Ok(())
    }

    /// Bytes queued and not yet sent.
    pub(crate) fn queued(&self) -> usize {
        self.out.len()
    }

    /// Sends everything queued.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        let out = self.out.split();
        self.stream.write_all(&out).await
    }

    /// The next message's raw bytes (`None` at the end of the connection).
    pub(crate) async fn recv_raw(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            match self.parser.parse(&mut self.buf).map_err(io::Error::other)? {
                Some(Incoming::Message { payload, .. }) => return Ok(Some(payload)),
                Some(Incoming::Close(_)) => return Ok(None),
                Some(_) => continue,
                None => {}
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// The next message.
    pub(crate) async fn recv(&mut self) -> io::Result<Option<Message>> {
        match self.recv_raw().await? {
            Some(raw) => codec::decode(self.serializer, raw)
                .map(Some)
                .map_err(io::Error::other),
            None => Ok(None),
        }
    }
}
