//! One WebSocket connection to a router, carrying WAMP messages in JSON:
//! the TCP connect (and TLS for `wss://`), the opening handshake, masked
//! frames out, whole messages in (Pings answered).

use bytes::BytesMut;
use ringbar_protocol::codec;
use ringbar_protocol::message::Message;
use ringbar_protocol::websocket::handshake::ClientHandshake;
use ringbar_protocol::websocket::{
    CloseCode, FrameParser, Incoming as Frame, OpCode, Role, WebSocketConfig, encode_close_payload,
    encode_frame,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connection::{SERIALIZER, decode, flush, random, read_more, write_all};
use crate::error::Error;
use crate::tls::{self, TlsRoots};
use crate::url::Url;

/// The largest HTTP response head accepted during the upgrade.
const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;

/// A byte stream to a router: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// An open WebSocket connection speaking WAMP (`wamp.2.json`).
pub(crate) struct WebSocket {
    stream: Box<dyn Stream>,
    /// The `tls-exporter` channel binding, on TLS 1.3.
    tls_exporter: Option<[u8; 32]>,
    parser: FrameParser,
    /// Bytes read and not yet parsed.
    input: BytesMut,
    /// Frames queued (messages and Pongs), written by the next flush.
    output: BytesMut,
    /// The payload being encoded (kept to reuse its memory).
    payload: BytesMut,
    /// Where it goes, for error messages.
    authority: String,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("authority", &self.authority)
            .field("tls", &self.tls_exporter.is_some())
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// Connects to `url` and completes the WebSocket opening handshake; a
    /// `wss://` router's certificate must chain to `roots`, else to the
    /// system's roots.
    pub(crate) async fn open(url: &Url, roots: Option<&TlsRoots>) -> Result<Self, Error> {
        let authority = url.authority();
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
        let mut connection = WebSocket {
            stream,
            tls_exporter,
            parser: FrameParser::new(Role::Client, WebSocketConfig::default()),
            input: BytesMut::with_capacity(4096),
            output: BytesMut::new(),
            payload: BytesMut::new(),
            authority,
        };
        connection.upgrade(url).await?;
        Ok(connection)
    }

    /// The connection's `tls-exporter` channel binding (RFC 9266).
    pub(crate) fn tls_exporter(&self) -> Option<[u8; 32]> {
        self.tls_exporter
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

    /// Queues `message` behind what is queued; [`WebSocket::flush`]
    /// writes it.
    pub(crate) fn queue(&mut self, message: &Message) -> Result<(), Error> {
        self.payload.clear();
        codec::encode(SERIALIZER, message, &mut self.payload)
            .map_err(|e| Error::Protocol(format!("cannot encode {message:?}: {e}")))?;
        encode_frame(
            true,
            OpCode::Text,
            Some(random::<4>()?),
            &self.payload,
            &mut self.output,
        );
        Ok(())
    }

    /// The bytes queued and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.output.len()
    }

    /// Writes everything queued, in order, with as few system calls as
    /// the stream takes.
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        flush(&mut self.stream, &mut self.output, &self.authority).await
    }

    /// The next WAMP message. Cancel-safe: a message is never lost when
    /// the future is dropped (bytes read stay in the buffer).
    pub(crate) async fn receive(&mut self) -> Result<Message, Error> {
        loop {
            let frame = self
                .parser
                .parse(&mut self.input)
                .map_err(|e| Error::Protocol(format!("from {}: {e}", self.authority)))?;
            match frame {
                Some(Frame::Message { payload, .. }) => return decode(payload, &self.authority),
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
    pub(crate) async fn close(mut self) -> Result<(), Error> {
        let mut payload = BytesMut::new();
        encode_close_payload(CloseCode::NORMAL_CLOSURE, "", &mut payload);
        encode_frame(
            true,
            OpCode::Close,
            Some(random::<4>()?),
            &payload,
            &mut self.output,
        );
        self.flush().await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }

    async fn read_more(&mut self) -> Result<usize, Error> {
        read_more(&mut self.stream, &mut self.input, &self.authority).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        write_all(&mut self.stream, bytes, &self.authority).await
    }
}
