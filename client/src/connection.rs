//! One WebSocket connection to a router, carrying WAMP messages in JSON:
//! the TCP connect (and TLS for `wss://`), the opening handshake, masked
//! frames out, whole messages in (Pings answered).

use std::time::Duration;

use bytes::BytesMut;
use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::message::Message;
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{
    CloseCode, FrameParser, Incoming as Frame, OpCode, Role, WebSocketConfig, encode_close_payload,
    encode_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::Error;
use crate::tls::{self, TlsRoots};
use crate::url::Url;

/// How long connecting and the opening handshake may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest HTTP response head accepted during the upgrade.
const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;
/// The serializer spoken: JSON is offered by every router.
const SERIALIZER: Serializer = Serializer::Json;

/// A byte stream to a router: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// An open WebSocket connection speaking WAMP (`wamp.2.json`).
pub struct Connection {
    stream: Box<dyn Stream>,
    /// The `tls-exporter` channel binding, on TLS 1.3.
    tls_exporter: Option<[u8; 32]>,
    parser: FrameParser,
    /// Bytes read and not yet parsed.
    input: BytesMut,
    /// Frames queued (Pongs) and sent with the next message.
    output: BytesMut,
    /// Where it goes, for error messages.
    authority: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("authority", &self.authority)
            .field("tls", &self.tls_exporter.is_some())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `url` and completes the WebSocket opening handshake; a
    /// `wss://` router's certificate must chain to the system's roots.
    pub async fn open(url: &Url) -> Result<Self, Error> {
        Self::open_with(url, None).await
    }

    /// [`Connection::open`], a `wss://` router's certificate chaining to
    /// `roots` when given.
    pub async fn open_with(url: &Url, roots: Option<&TlsRoots>) -> Result<Self, Error> {
        let authority = url.authority();
        tokio::time::timeout(OPEN_TIMEOUT, Self::open_now(url, roots, authority.clone()))
            .await
            .map_err(|_| Error::Timeout(format!("connecting to {url}")))?
    }

    /// The connection's `tls-exporter` channel binding (RFC 9266): on
    /// `wss://` with TLS 1.3, else `None`.
    pub fn tls_exporter(&self) -> Option<[u8; 32]> {
        self.tls_exporter
    }

    async fn open_now(
        url: &Url,
        roots: Option<&TlsRoots>,
        authority: String,
    ) -> Result<Self, Error> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|source| Error::Io {
                what: format!("cannot connect to {url}"),
                source,
            })?;
        // Requests are small and answered at once: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let (stream, tls_exporter): (Box<dyn Stream>, _) = if url.tls {
            let system;
            let roots = match roots {
                Some(roots) => roots,
                None => {
                    system = TlsRoots::system()?;
                    &system
                }
            };
            let stream = roots.connect(&url.host, tcp).await?;
            let exporter = tls::tls_exporter(&stream);
            (Box::new(stream), exporter)
        } else {
            (Box::new(tcp), None)
        };
        let mut connection = Connection {
            stream,
            tls_exporter,
            parser: FrameParser::new(Role::Client, WebSocketConfig::default()),
            input: BytesMut::with_capacity(4096),
            output: BytesMut::new(),
            authority,
        };
        connection.upgrade(url).await?;
        Ok(connection)
    }

    /// The HTTP upgrade; bytes after the response stay in `input`.
    async fn upgrade(&mut self, url: &Url) -> Result<(), Error> {
        let handshake = ClientHandshake::new(
            &self.authority,
            &url.path,
            &[SERIALIZER.subprotocol()],
            random::<16>()?,
        )
        .map_err(|e| Error::Protocol(format!("WebSocket upgrade request for {url}: {e}")))?;
        let mut request = BytesMut::new();
        handshake.write_request(&mut request);
        self.write(&request).await?;
        loop {
            let parsed = handshake
                .parse_response(&self.input, &WebSocketConfig::default())
                .map_err(|e| Error::Protocol(format!("WebSocket upgrade at {url}: {e}")))?;
            if let Some((_, used)) = parsed {
                let _ = self.input.split_to(used);
                return Ok(());
            }
            if self.input.len() > MAX_RESPONSE_HEAD_BYTES {
                return Err(Error::Protocol(format!(
                    "the WebSocket upgrade response of {url} exceeds {MAX_RESPONSE_HEAD_BYTES} bytes"
                )));
            }
            if self.read_more().await? == 0 {
                return Err(Error::Protocol(format!(
                    "{url} closed the connection during the WebSocket upgrade (is {} its WebSocket path?)",
                    url.path
                )));
            }
        }
    }

    /// Sends `message` (and any queued Pong).
    pub async fn send(&mut self, message: &Message) -> Result<(), Error> {
        let mut payload = BytesMut::new();
        codec::encode(SERIALIZER, message, &mut payload)
            .map_err(|e| Error::Protocol(format!("cannot encode {message:?}: {e}")))?;
        encode_frame(
            true,
            OpCode::Text,
            Some(random::<4>()?),
            &payload,
            &mut self.output,
        );
        let out = self.output.split();
        self.write(&out).await
    }

    /// The next WAMP message. Cancel-safe: a message is never lost when
    /// the future is dropped (bytes read stay in the buffer).
    pub async fn receive(&mut self) -> Result<Message, Error> {
        loop {
            let frame = self
                .parser
                .parse(&mut self.input)
                .map_err(|e| Error::Protocol(format!("from {}: {e}", self.authority)))?;
            match frame {
                Some(Frame::Message { payload, .. }) => {
                    return codec::decode(SERIALIZER, payload).map_err(|e| {
                        Error::Protocol(format!("undecodable message from {}: {e}", self.authority))
                    });
                }
                Some(Frame::Ping(data)) => {
                    encode_frame(
                        true,
                        OpCode::Pong,
                        Some(random::<4>()?),
                        &data,
                        &mut self.output,
                    );
                }
                Some(Frame::Pong(_)) => {}
                Some(Frame::Close(close)) => {
                    return Err(Error::Closed(close.map(|c| {
                        format!("WebSocket close {} {}", c.code.as_u16(), c.reason)
                    })));
                }
                None => {
                    if self.read_more().await? == 0 {
                        return Err(Error::Closed(None));
                    }
                }
            }
        }
    }

    /// Sends a WebSocket Close (1000) and shuts the connection down.
    pub async fn close(mut self) -> Result<(), Error> {
        let mut payload = BytesMut::new();
        encode_close_payload(CloseCode::NORMAL_CLOSURE, "", &mut payload);
        encode_frame(
            true,
            OpCode::Close,
            Some(random::<4>()?),
            &payload,
            &mut self.output,
        );
        let out = self.output.split();
        self.write(&out).await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }

    async fn read_more(&mut self) -> Result<usize, Error> {
        self.input.reserve(4096);
        self.stream
            .read_buf(&mut self.input)
            .await
            .map_err(|source| Error::Io {
                what: format!("reading from {}", self.authority),
                source,
            })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|source| Error::Io {
                what: format!("writing to {}", self.authority),
                source,
            })
    }
}

/// `N` random bytes from the operating system (WebSocket key and masks).
fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Io {
        what: "reading random bytes".to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(bytes)
}
